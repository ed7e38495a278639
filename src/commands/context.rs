//! The command line and the configuration resolved once, before any command runs, into
//! one typed value (ripgrep's `LowArgs` -> `HiArgs`, fd's `construct_config`): `Cli` is
//! what was typed, [`Context`] what it means with the config file applied. Commands read
//! their paths, journal, lock wait, expiry, targets and time zone from here and resolve
//! nothing themselves.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::bail;

use crate::cli::{Cli, Command, ImportSource, TargetChoice};
use crate::clock::{Clock, Zone};
use crate::config::Config;
use crate::ingest::{Input, Options, TrustSettings};
use crate::model::BlockTarget;
use crate::store::SqliteStore;

/// How long commands other than `ingest` and `run` wait for the database lock.
pub const LOCK_WAIT: Duration = Duration::from_secs(60);

/// What every command gets: the global options, the configuration and this command's
/// own options resolved against both.
pub struct Context {
    /// The configuration file (or the built-in defaults), checked.
    pub config: Config,
    /// The database: `--db`/`SASLGUARD_DB`, else the config's `database`.
    pub db_path: PathBuf,
    /// "Now": `--as-of` or the system clock.
    pub clock: Clock,
    /// The zone of log stamps without an offset: `timezone`, else `TZ`, else the system's.
    pub zone: Zone,
    /// How long to wait for another saslguard holding the database lock: `--wait` of
    /// `ingest` and `run`, else [`LOCK_WAIT`].
    pub wait: Duration,
    /// What this command reads from the logs: `Some` for `ingest` and a `run` that is
    /// not a dry run.
    pub reading: Option<Reading>,
    /// How this command's blocks by hand are recorded: `Some` for `block` and `import`.
    pub manual: Option<ManualBlocks>,
    /// Whether a report reads only this host's database (`--local` of `top`, `show`,
    /// `report` and `blocks`) although `[cluster]` is configured.
    pub local: bool,
}

/// The logs a command reads and how their lines are taken.
pub struct Reading {
    /// Files to read (`-` is stdin): the command line's, else the config's `logs`.
    pub paths: Vec<PathBuf>,
    /// Whether the journal is read too: when configured and no path was given.
    pub journal: bool,
    /// Read named files from their first byte again (`ingest --from-start`).
    pub from_start: bool,
    /// The text after `Client host rejected: ` that marks saslguard's own blocks.
    pub reject_marker: String,
    /// The `[journal]` trust rule with its users resolved.
    pub trust: TrustSettings,
}

/// Blocks by hand (`block`, `import`): where they go and when they end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManualBlocks {
    /// The targets chosen, or the command's default.
    pub targets: &'static [BlockTarget],
    /// Unix seconds the blocks end at (from the clock and `--for`); `None` when
    /// `--permanent`.
    pub expires_at: Option<i64>,
}

impl Context {
    /// Loads the configuration and resolves the global options, the time zone and the
    /// options of `cli`'s command against it.
    pub fn from_cli(cli: &Cli) -> anyhow::Result<Context> {
        let config = Config::load(cli.config.as_deref())?;
        let zone = Zone::resolve(config.timezone.as_deref())?;
        let clock = Clock::new(cli.as_of);
        Ok(Context {
            db_path: cli.db.clone().unwrap_or_else(|| config.database.clone()),
            wait: match &cli.command {
                Command::Ingest(args) => args.wait,
                Command::Run(args) => args.wait,
                _ => LOCK_WAIT,
            },
            reading: Reading::resolve(&cli.command, &config),
            manual: ManualBlocks::resolve(&cli.command, clock.unix()),
            local: match &cli.command {
                Command::Top(args) => args.local,
                Command::Show(args) => args.local,
                Command::Report(args) => args.local,
                Command::Blocks(args) => args.local,
                _ => false,
            },
            zone,
            clock,
            config,
        })
    }

    /// The ingest options of [`Context::reading`] (none read: no journal, no marker).
    pub fn ingest_options<'a>(&'a self, reading: &'a Reading) -> Options<'a> {
        Options {
            from_start: reading.from_start,
            progress: Options::progress_if_terminal(),
            reject_marker: Some(&reading.reject_marker),
            trust: reading.trust.trust(),
            zone: &self.zone,
        }
    }

    /// Takes the database lock for a command that changes the store, waiting up to
    /// [`Context::wait`] for another saslguard (and saying so on stderr).
    pub fn lock(&self) -> anyhow::Result<crate::lock::DbLock> {
        if let Some(parent) = self.db_path.parent()
            && !parent.as_os_str().is_empty()
            && !parent.exists()
        {
            bail!("the database directory {} does not exist", parent.display());
        }
        crate::lock::acquire(&self.db_path, self.wait, |holder| {
            crate::ui::warn(format!(
                "waiting for {} to finish with {}",
                holder.map_or("another saslguard".into(), |pid| format!(
                    "saslguard pid {pid}"
                )),
                self.db_path.display()
            ))
        })
    }

    /// Opens the logs of [`Context::reading`] (none when it is `None`), then takes the
    /// database lock and opens the store. Every log is opened before the database is
    /// touched: an unreadable log, or a missing one never read before, is an error
    /// naming it, and the store stays as it was.
    pub fn open_for_ingest(
        &self,
    ) -> anyhow::Result<(Vec<Input>, crate::lock::DbLock, SqliteStore)> {
        let (paths, journal) = self
            .reading
            .as_ref()
            .map_or((&[][..], false), |r| (&r.paths[..], r.journal));
        let mut inputs = Input::open_all(paths)?;
        if journal {
            let journal = crate::source::journal::Journal::new(self.config.journal.clone());
            inputs.push(Input::Read(Box::new(journal)));
        }
        if Input::any_missing(&inputs) && !self.db_path.exists() {
            Input::check_missing(&inputs, None)?;
        }
        let lock = self.lock()?;
        let store = self.open_store()?;
        Input::check_missing(&inputs, Some(&store))?;
        Ok((inputs, lock, store))
    }

    /// Opens the database for a command that changes it, creating it if needed.
    pub fn open_store(&self) -> anyhow::Result<SqliteStore> {
        Ok(SqliteStore::open(&self.db_path)?)
    }

    /// Opens an existing database read-only for a command that only reads it, so any
    /// user allowed to read the file can run it.
    pub fn open_existing_store(&self) -> anyhow::Result<SqliteStore> {
        if !Path::new(&self.db_path).exists() {
            bail!(
                "no database at {} (run `saslguard ingest` first, or pass --db)",
                self.db_path.display()
            );
        }
        match SqliteStore::open_read_only(&self.db_path) {
            // A database from before an upgrade: whoever may write it upgrades it now
            // (in one transaction per step, like any writer); others are told how.
            Err(too_old @ crate::store::StoreError::SchemaTooOld { .. }) => {
                match SqliteStore::open(&self.db_path) {
                    Ok(store) => Ok(store),
                    // Not ours to write: say how to upgrade it.
                    Err(crate::store::StoreError::Permissions { .. }) => Err(too_old.into()),
                    Err(e) if e.is_read_only() => Err(too_old.into()),
                    Err(e) => Err(e.into()),
                }
            }
            opened => Ok(opened?),
        }
    }
}

impl Context {
    /// Opens what the reports read: with `[cluster]` (and no `--local`) the cluster's
    /// shared store, every host's events and the cluster's blocks, beside this host's
    /// database; else this host's database alone. An unreachable cluster is an error
    /// that suggests `--local`, never a silent fall back to this host's part.
    pub fn open_report_store(&self) -> anyhow::Result<Box<dyn crate::store::ReportStore>> {
        let local = self.open_existing_store()?;
        let Some(cluster) = self.config.cluster.as_ref().filter(|_| !self.local) else {
            return Ok(Box::new(local));
        };
        let host = cluster.host_name()?;
        match crate::store::postgres::ClusterReports::open(&cluster.settings()?, &host, local) {
            Ok(store) => Ok(Box::new(store)),
            Err(e) if e.is_unreachable() => Err(anyhow::anyhow!(
                "{e}\nreports read the cluster when [cluster] is configured; pass --local \
                 to report this host's own database only"
            )),
            Err(e) => Err(e.into()),
        }
    }
}

impl Reading {
    /// What `ingest` reads (its paths, else the config's logs and journal) and what a
    /// `run` reads (the config's; nothing on a dry run); `None` for other commands.
    fn resolve(command: &Command, config: &Config) -> Option<Reading> {
        let (paths, journal, from_start) = match command {
            Command::Ingest(args) if args.paths.is_empty() => {
                (config.logs.clone(), config.journal.enabled, args.from_start)
            }
            Command::Ingest(args) => (args.paths.clone(), false, args.from_start),
            Command::Run(args) if !args.dry_run => {
                (config.logs.clone(), config.journal.enabled, false)
            }
            _ => return None,
        };
        Some(Reading {
            paths,
            journal,
            from_start,
            reject_marker: crate::parse::message::reject_marker(&config.postfix.reject_text),
            trust: TrustSettings::from_config(&config.journal),
        })
    }
}

impl ManualBlocks {
    /// The targets and end of `block` (both targets by default) and `import`
    /// (`reject-client`: the Postfix map, `iptables`: the firewall, by default) at `now`.
    fn resolve(command: &Command, now: i64) -> Option<ManualBlocks> {
        let (targets, duration, permanent) = match command {
            Command::Block(args) => (args.target.targets(), args.duration, args.permanent),
            Command::Import(args) => {
                let (block, default) = match &args.source {
                    ImportSource::RejectClient { block, .. } => (block, TargetChoice::Postfix),
                    ImportSource::Iptables { block, .. } => (block, TargetChoice::Firewall),
                };
                let targets = block.target.unwrap_or(default).targets();
                (targets, block.duration, block.permanent)
            }
            _ => return None,
        };
        Some(ManualBlocks {
            targets,
            expires_at: crate::enforce::manual_expiry(now, duration, permanent),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn command(args: &[&str]) -> Command {
        let mut argv = vec!["saslguard"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).unwrap().command
    }

    fn config() -> Config {
        let mut config = Config {
            logs: vec![PathBuf::from("/var/log/mail.log")],
            ..Config::default()
        };
        config.journal.enabled = true;
        config
    }

    #[test]
    fn ingest_reads_its_paths_or_else_the_configured_logs_and_journal() {
        let named =
            Reading::resolve(&command(&["ingest", "a.log", "--from-start"]), &config()).unwrap();
        assert_eq!(named.paths, [PathBuf::from("a.log")]);
        assert!(!named.journal);
        assert!(named.from_start);
        let configured = Reading::resolve(&command(&["ingest"]), &config()).unwrap();
        assert_eq!(configured.paths, config().logs);
        assert!(configured.journal);
        assert_eq!(
            configured.reject_marker,
            "Too many failed authentication attempts"
        );
    }

    #[test]
    fn run_reads_the_configured_logs_and_a_dry_run_reads_nothing() {
        let run = Reading::resolve(&command(&["run"]), &config()).unwrap();
        assert_eq!(run.paths, config().logs);
        assert!(run.journal && !run.from_start);
        assert!(Reading::resolve(&command(&["run", "--dry-run"]), &config()).is_none());
        assert!(Reading::resolve(&command(&["top"]), &config()).is_none());
    }

    #[test]
    fn manual_blocks_take_the_commands_default_targets_and_end_after_their_length() {
        let now = 1_000_000;
        let block = ManualBlocks::resolve(&command(&["block", "192.0.2.1"]), now).unwrap();
        assert_eq!(block.targets, BlockTarget::ALL);
        assert_eq!(block.expires_at, Some(now + 7 * 86400));
        let forever = command(&["block", "192.0.2.1", "--permanent", "--target", "postfix"]);
        let forever = ManualBlocks::resolve(&forever, now).unwrap();
        assert_eq!(forever.targets, [BlockTarget::Postfix]);
        assert_eq!(forever.expires_at, None);
        let saved = ManualBlocks::resolve(&command(&["import", "iptables", "x"]), now).unwrap();
        assert_eq!(saved.targets, [BlockTarget::Firewall]);
        assert_eq!(saved.expires_at, Some(now + 30 * 86400));
        let access = command(&["import", "reject-client", "x", "--for", "1d"]);
        let access = ManualBlocks::resolve(&access, now).unwrap();
        assert_eq!(access.targets, [BlockTarget::Postfix]);
        assert_eq!(access.expires_at, Some(now + 86400));
        assert!(ManualBlocks::resolve(&command(&["expire"]), now).is_none());
    }
}
