//! The `saslguard` binary: parse the command line, dispatch, map errors to exit codes
//! (0 ok, 1 error, 2 usage). A closed stdout (`saslguard top | head`) is not an error.

use std::process::ExitCode;

use clap::Parser;

use saslguard::cli::{Cli, Command};
use saslguard::commands::{self, Context};
use saslguard::ui;

fn main() -> ExitCode {
    let cli = Cli::parse();
    ui::set_verbosity(if cli.quiet {
        -1
    } else {
        cli.verbose.min(10) as i8
    });
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("saslguard: error: {}", ui::shown(format!("{err:#}")));
            ExitCode::from(1)
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    // These need no configuration: they describe saslguard itself, or check a config.
    match &cli.command {
        Command::Completions(args) => return commands::meta::completions(args),
        Command::Man(args) => return commands::meta::man(args),
        Command::Config(args) => return commands::meta::config(cli, args),
        // Loads the configuration itself: a broken one is a finding it reports.
        Command::Doctor(args) => return commands::doctor::run(cli, args),
        _ => {}
    }
    let ctx = Context::from_cli(cli)?;
    if let Some(as_of) = cli.as_of
        && cli.command.writes()
    {
        ui::warn(format!(
            "--as-of {}: this command changes the real database (and map and firewall) \
             as if now were then",
            as_of.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
    }
    dispatch(cli, &ctx).map_err(|err| name_the_database(err, &ctx))
}

/// A database error deep inside a command ("attempt to write a readonly database")
/// says which file it is about.
fn name_the_database(err: anyhow::Error, ctx: &Context) -> anyhow::Error {
    use saslguard::store::StoreError;
    let from_sqlite = err.chain().any(|cause| {
        cause.downcast_ref::<rusqlite::Error>().is_some()
            || cause
                .downcast_ref::<StoreError>()
                .is_some_and(|e| !e.names_database())
    });
    let named = err.chain().any(|cause| {
        cause
            .downcast_ref::<StoreError>()
            .is_some_and(StoreError::names_database)
    });
    if from_sqlite && !named {
        err.context(format!("database {}", ctx.db_path.display()))
    } else {
        err
    }
}

fn dispatch(cli: &Cli, ctx: &Context) -> anyhow::Result<()> {
    match &cli.command {
        Command::Ingest(args) => commands::ingest::run(ctx, args),
        Command::Top(args) => commands::top::run(ctx, args),
        Command::Show(args) => commands::show::run(ctx, args),
        Command::Report(args) => commands::report::run(ctx, args),
        Command::Run(args) => commands::run::run(ctx, args),
        Command::Block(args) => commands::blocks::block(ctx, args),
        Command::Unblock(args) => commands::blocks::unblock(ctx, args),
        Command::Expire => commands::blocks::expire(ctx),
        Command::Blocks(args) => commands::blocks::list(ctx, args),
        Command::Allow(args) => commands::allow::run(ctx, args),
        Command::Render(args) => commands::render::render(ctx, args),
        Command::Status(args) => commands::render::status(ctx, args),
        Command::Prune(args) => commands::blocks::prune(ctx, args),
        Command::Metrics => commands::metrics::run(ctx),
        Command::Import(args) => commands::import::run(ctx, args),
        Command::Cluster(args) => commands::cluster::run(ctx, args),
        Command::Completions(_) | Command::Man(_) | Command::Config(_) | Command::Doctor(_) => {
            Ok(())
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
