//! One file per subcommand: each opens what it needs and calls the modules below it.
//! No SQL and no parsing here.

pub mod allow;
pub mod blocks;
pub mod doctor;
pub mod import;
pub mod ingest;
pub mod meta;
pub mod metrics;
pub mod render;
pub mod report;
pub mod run;
pub mod show;
pub mod top;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::cli::Cli;
use crate::clock::Clock;
use crate::config::{self, Config};
use crate::ingest::Input;
use crate::store::SqliteStore;

/// What every command gets: the global options resolved.
pub struct Context {
    pub config: Config,
    pub db_path: PathBuf,
    pub clock: Clock,
}

impl Context {
    /// Loads the configuration and resolves the database path and the clock. A
    /// configured time zone becomes the zone of year-less log stamps.
    pub fn from_cli(cli: &Cli) -> anyhow::Result<Context> {
        let config = Config::load(cli.config.as_deref())?;
        if let Some(zone) = &config.timezone {
            // SAFETY: called from main before any thread exists, so nothing reads the
            // environment concurrently.
            unsafe { std::env::set_var("TZ", zone) };
        } else if let Ok(zone) = std::env::var("TZ")
            && !zone.is_empty()
        {
            config::validate_zone(&zone).context("the TZ environment variable")?;
        }
        Ok(Context {
            db_path: cli.db.clone().unwrap_or_else(|| config.database.clone()),
            clock: Clock::new(cli.as_of),
            config,
        })
    }

    /// Takes the database lock for a command that changes the store, waiting up to
    /// `wait` for another saslguard (and saying so on stderr).
    pub fn lock(&self, wait: std::time::Duration) -> anyhow::Result<crate::lock::DbLock> {
        if let Some(parent) = self.db_path.parent()
            && !parent.as_os_str().is_empty()
            && !parent.exists()
        {
            bail!("the database directory {} does not exist", parent.display());
        }
        crate::lock::acquire(&self.db_path, wait, |holder| {
            crate::ui::warn(format!(
                "waiting for {} to finish with {}",
                holder.map_or("another saslguard".into(), |pid| format!(
                    "saslguard pid {pid}"
                )),
                self.db_path.display()
            ))
        })
    }

    /// Opens the logs to ingest (`paths`, plus the journal when `journal`), then takes
    /// the database lock and opens the store. Every log is opened before the database
    /// is touched: an unreadable log, or a missing one never read before, is an error
    /// naming it, and the store stays as it was.
    pub fn open_for_ingest(
        &self,
        paths: &[PathBuf],
        journal: bool,
        wait: std::time::Duration,
    ) -> anyhow::Result<(Vec<Input>, crate::lock::DbLock, SqliteStore)> {
        let mut inputs = Input::open_all(paths)?;
        if journal {
            let journal = crate::source::journal::Journal::new(self.config.journal.clone());
            inputs.push(Input::Read(Box::new(journal)));
        }
        if Input::any_missing(&inputs) && !self.db_path.exists() {
            Input::check_missing(&inputs, None)?;
        }
        let lock = self.lock(wait)?;
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

/// How long commands other than `ingest` and `run` wait for the database lock.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);
