//! Commands about saslguard itself: `completions`, `man`, `config default|check`. They
//! come from the same definitions the program runs on (the clap command line, the
//! embedded default config), so help, completions, man page and config never disagree.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ConfigAction, ConfigArgs, ManArgs};
use crate::config::{self, Config};

/// Runs `completions SHELL`.
pub fn completions(args: &CompletionsArgs) -> anyhow::Result<()> {
    let mut command = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut command, "saslguard", &mut out);
    out.flush()?;
    Ok(())
}

/// Runs `man`: the page for saslguard, with its subcommands listed.
pub fn man(args: &ManArgs) -> anyhow::Result<()> {
    if let Some(dir) = &args.dir {
        return clap_mangen::generate_to(Cli::command(), dir)
            .with_context(|| format!("cannot write the man pages to {}", dir.display()));
    }
    let mut page = Vec::new();
    // As generate_to does: no `help` subcommand, which has no page of its own.
    clap_mangen::Man::new(Cli::command().disable_help_subcommand(true)).render(&mut page)?;
    let mut out = std::io::stdout().lock();
    out.write_all(&page)?;
    out.flush()?;
    Ok(())
}

/// Runs `config default` and `config check`.
pub fn config(cli: &Cli, args: &ConfigArgs) -> anyhow::Result<()> {
    match &args.action {
        ConfigAction::Default => {
            let mut out = std::io::stdout().lock();
            out.write_all(config::DEFAULT_CONFIG.as_bytes())?;
            out.flush()?;
            Ok(())
        }
        ConfigAction::Check { path } => {
            let path = path
                .clone()
                .or_else(|| cli.config.clone())
                .unwrap_or_else(|| PathBuf::from(config::DEFAULT_CONFIG_PATH));
            let text = std::fs::read_to_string(&path)
                .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
            let errors = Config::check_all(&text, &path);
            if !errors.is_empty() {
                for error in &errors {
                    eprintln!("{}", crate::ui::shown(error));
                }
                anyhow::bail!("{}: {} error(s)", path.display(), errors.len());
            }
            let config = Config::load(Some(&path))?;
            crate::ui::info(format!(
                "{}: ok ({} logs, {} policy tiers, map {} ({}), firewall {})",
                path.display(),
                config.logs.len(),
                config.policy.tiers.len(),
                config.postfix.map.display(),
                config.postfix.map_type.as_str(),
                config.firewall.backend.as_str()
            ));
            for conflict in crate::doctor::map_type_conflicts(&config) {
                crate::ui::warn(format!("{}: {conflict}", path.display()));
            }
            for warning in crate::cluster::config_warnings(&config, &path) {
                crate::ui::warn(warning);
            }
            Ok(())
        }
    }
}
