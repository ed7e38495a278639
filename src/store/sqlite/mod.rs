//! The SQLite backend: one file holding every event, log stream position, run and
//! block, the embedded default.
//!
//! Connection setup (WAL, busy timeout), schema migrations from
//! `migrations/sqlite/*.sql` (tracked with `PRAGMA user_version`), transactions
//! ([`Transaction`]) and all of its SQL live here: [`events`] implements
//! [`crate::store::EventStore`], [`blocks`] [`crate::store::BlockStore`], [`reports`]
//! [`crate::store::ReportStore`]; [`retention`] is maintenance only this type offers.
//! Addresses are stored as family-tagged keys ([`address`]) that never leave this
//! module.

pub mod address;
pub mod blocks;
pub mod events;
pub mod outbox;
mod period;
pub mod reports;
pub mod retention;
pub mod rollup;
mod sums;
#[cfg(test)]
mod upgrade_tests;

use std::path::{Path, PathBuf};

use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, TransactionBehavior};

pub use events::EventWriter;

use crate::model::EventKind;
use crate::store::{Result, StoreError};

/// The stored code of counted failures, for SQL text.
const FAILED: i64 = EventKind::AuthFailed as i64;

/// The stored code of server faults, for SQL text.
const FAULT: i64 = EventKind::ServerFault as i64;

/// Kinds as an SQL list of their stored codes (`0, 1`): SQL names kinds only through
/// this and the two constants above, never as bare numbers.
fn kinds_sql(kinds: &[EventKind]) -> String {
    kinds
        .iter()
        .map(|kind| kind.code().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The schema, one file per version; `PRAGMA user_version` says how many have run.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/sqlite/001_events.sql"),
    include_str!("../../../migrations/sqlite/002_blocks.sql"),
    include_str!("../../../migrations/sqlite/003_run_duration.sql"),
    include_str!("../../../migrations/sqlite/004_state.sql"),
    include_str!("../../../migrations/sqlite/005_journal_cursor.sql"),
    include_str!("../../../migrations/sqlite/006_rollups.sql"),
    include_str!("../../../migrations/sqlite/007_address_families.sql"),
    include_str!("../../../migrations/sqlite/008_places.sql"),
    include_str!("../../../migrations/sqlite/009_untrusted.sql"),
    include_str!("../../../migrations/sqlite/010_rollups_by_day.sql"),
    include_str!("../../../migrations/sqlite/011_postfix_maps.sql"),
    include_str!("../../../migrations/sqlite/012_compact_hours.sql"),
    include_str!("../../../migrations/sqlite/013_address_weeks.sql"),
];

/// An open SQLite saslguard database.
pub struct SqliteStore {
    conn: Connection,
}

/// A transaction on a [`SqliteStore`]: everything the store does while it is open is
/// part of it. It is rolled back when dropped (on an early return, an error or a panic
/// unwinding) unless [`Transaction::commit`] was called.
pub struct Transaction<'c> {
    inner: rusqlite::Transaction<'c>,
}

impl<'c> Transaction<'c> {
    /// Begins a write transaction on `conn`, taking the write lock at once (`BEGIN
    /// IMMEDIATE`) so it never fails half way for another writer.
    fn begin(conn: &'c Connection) -> Result<Transaction<'c>> {
        Ok(Transaction {
            inner: rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?,
        })
    }

    /// Keeps everything done in the transaction.
    pub fn commit(self) -> Result<()> {
        Ok(self.inner.commit()?)
    }

    /// Undoes everything done in the transaction (what dropping it does, with the error
    /// reported).
    pub fn rollback(self) -> Result<()> {
        Ok(self.inner.rollback()?)
    }
}

impl From<rusqlite::Error> for StoreError {
    /// A SQLite error as the backend-neutral kind a caller acts on: busy, read-only, or
    /// any other.
    fn from(error: rusqlite::Error) -> StoreError {
        match error.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::Busy(Box::new(error))
            }
            Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::CannotOpen) => {
                StoreError::ReadOnly(Box::new(error))
            }
            _ => StoreError::Backend(Box::new(error)),
        }
    }
}

impl SqliteStore {
    /// Begins a transaction: everything this store does until it is committed is kept
    /// together, or (dropped uncommitted) not at all. For dry runs, drop it.
    pub fn transaction(&self) -> Result<Transaction<'_>> {
        Transaction::begin(&self.conn)
    }

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    ///
    /// The database holds attackers' usernames (often mistyped passwords) and the first
    /// line of every log read, so a new file is created mode 0600 whatever the umask, and
    /// an existing one loses any permission for "other" users. SQLite gives the `-wal`
    /// and `-shm` files the database file's mode and owner, so an admin who wants a
    /// reader group sets it on the database file (`chgrp` and mode 0640) and the rest
    /// follows.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let open_err = |source: rusqlite::Error| StoreError::Open {
            path: path.to_path_buf(),
            source: Box::new(source.into()),
        };
        restrict_database_file(path).map_err(|e| StoreError::Permissions {
            path: path.to_path_buf(),
            source: e,
        })?;
        let conn = Connection::open(path).map_err(open_err)?;
        configure(&conn).map_err(open_err)?;
        let mut store = SqliteStore { conn };
        store.migrate(path)?;
        Ok(store)
    }

    /// Opens an existing database for reading only: for the commands that only report
    /// (`top`, `show`, `report`, `blocks`, `status`, `metrics`), so any user allowed to
    /// read the file can run them, and they can never change it. Nothing is created or
    /// migrated: a database of an older schema is an error saying how to upgrade it.
    pub fn open_read_only(path: &Path) -> Result<SqliteStore> {
        use rusqlite::OpenFlags;
        let open_err = |source: rusqlite::Error| StoreError::Open {
            path: path.to_path_buf(),
            source: Box::new(source.into()),
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let reader_err = |e: rusqlite::Error| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::ReadOnly) => StoreError::ReaderCannotOpen {
                path: path.to_path_buf(),
            },
            _ => open_err(e),
        };
        let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
        configure_reader(&conn).map_err(reader_err)?;
        let found: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(reader_err)?;
        let supported = MIGRATIONS.len() as i64;
        if found > supported {
            return Err(StoreError::SchemaTooNew {
                path: path.to_path_buf(),
                found,
                supported,
            });
        }
        if found < supported {
            return Err(StoreError::SchemaTooOld {
                path: path.to_path_buf(),
                found,
                supported,
            });
        }
        Ok(SqliteStore { conn })
    }

    fn migrate(&mut self, path: &Path) -> Result<()> {
        let supported = MIGRATIONS.len() as i64;
        let found: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if found > supported {
            return Err(StoreError::SchemaTooNew {
                path: path.to_path_buf(),
                found,
                supported,
            });
        }
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", index as i64 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// The plan SQLite's bundled planner chooses for `sql`, one detail per line, for
    /// tests that prove a query uses an index. Parameters stay unbound: the plan is
    /// chosen when the statement is prepared.
    #[cfg(test)]
    pub(crate) fn query_plan(&self, sql: &str) -> String {
        let mut stmt = self
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("prepare EXPLAIN");
        let mut rows = stmt.raw_query();
        let mut details = Vec::new();
        while let Some(row) = rows.next().expect("plan row") {
            details.push(row.get::<_, String>(3).expect("plan detail"));
        }
        details.join("\n")
    }

    /// The lines of a query plan that read all of one of `tables` (given by their
    /// aliases in the query): `SCAN t`, also through an index (`SCAN t USING COVERING
    /// INDEX ...` reads the whole index, which grows with the table just the same).
    #[cfg(test)]
    pub(crate) fn full_scans<'a>(plan: &'a str, tables: &[&str]) -> Vec<&'a str> {
        plan.lines()
            .map(str::trim)
            .filter(|line| {
                tables.iter().any(|table| {
                    line.strip_prefix("SCAN ")
                        .and_then(|rest| rest.strip_prefix(table))
                        .is_some_and(|after| after.is_empty() || after.starts_with(' '))
                })
            })
            .collect()
    }

    /// The schema version of this database.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))?)
    }
}

/// Connection settings: WAL so readers never block the ingest, a busy timeout so two
/// writers wait instead of failing, and the SQL functions the queries use.
/// Mode of a database file saslguard creates: only its owner (root) reads it.
pub const DATABASE_MODE: u32 = 0o600;

/// Creates the database file at `path` with [`DATABASE_MODE`] if it does not exist;
/// otherwise takes every permission for "other" users away from it (its owner's and
/// group's stay as the admin set them, the owner always keeping read and write) and gives
/// an existing `-wal` and `-shm` file the same mode, owner and group, so readers in the
/// database's group can open them and a file left read-only cannot stop the writer.
/// Modes are set explicitly, so the umask cannot widen them.
fn restrict_database_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(DATABASE_MODE)
        .open(path);
    match created {
        Ok(file) => return file.set_permissions(std::fs::Permissions::from_mode(DATABASE_MODE)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let database = std::fs::metadata(path)?;
    let mode = (database.mode() & 0o7770) | 0o600;
    for file in [
        path.to_path_buf(),
        with_suffix(path, "-wal"),
        with_suffix(path, "-shm"),
    ] {
        let meta = match std::fs::metadata(&file) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if (meta.uid(), meta.gid()) != (database.uid(), database.gid()) {
            // Only root may give a file away; anyone else keeps what is there.
            let _ = std::os::unix::fs::chown(&file, Some(database.uid()), Some(database.gid()));
        }
        if meta.mode() & 0o7777 != mode {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode))?;
        }
    }
    Ok(())
}

/// `path` with `suffix` appended to its file name (`state.db` -> `state.db-wal`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The settings of a read-only connection: those of [`configure`] that change nothing
/// in the file.
fn configure_reader(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.pragma_update(None, "cache_size", -4096)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    register_functions(conn)
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    // Larger pages make the bulk inserts of a first ingest cheaper; this only takes
    // effect on a new, empty database.
    conn.pragma_update(None, "page_size", 16384)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // Keep the -wal and -shm files when the last writer closes: a reader without write
    // access to the directory (a person in the database's group) can open a WAL
    // database read-only only while they exist. They get the database file's mode.
    conn.file_control(None::<&str>, rusqlite::FileControl::PersistWal(&mut 1))?;
    // NORMAL in WAL mode: a crash of the process loses nothing committed; only a power
    // loss can lose the last transactions, never corrupt the file.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // 16 MiB of page cache keeps the ingest fast and its memory bounded.
    conn.pragma_update(None, "cache_size", -32768)?;
    // Statement journals and sort files in memory, not in scratch files on disk.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    register_functions(conn)
}

/// The SQL functions saslguard's queries and migrations call.
fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    rollup::register_functions(conn)?;
    conn.create_scalar_function(
        "network_key",
        3,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let key: Vec<u8> = ctx.get(0)?;
            let v4: i64 = ctx.get(1)?;
            let v6: i64 = ctx.get(2)?;
            let Some(key) = address::key_of(&key) else {
                return Ok(key);
            };
            let clamp = |bits: i64, max: i64| bits.clamp(0, max) as u8;
            Ok(address::network_key(&key, clamp(v4, 32), clamp(v6, 128)).to_vec())
        },
    )?;
    // For migration 007: a stored CIDR text as saslguard keeps it (IPv4-mapped IPv6 as
    // IPv4, see `crate::network::canonical`); text that is no network stays as it is.
    conn.create_scalar_function(
        "canonical_network",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let text: String = ctx.get(0)?;
            Ok(match text.parse::<ipnet::IpNet>() {
                Ok(network) => crate::network::canonical(network).to_string(),
                Err(_) => text,
            })
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod plan_tests {
    use super::SqliteStore as Store;

    #[test]
    fn a_full_scan_through_an_index_is_a_full_scan() {
        let plan = "SEARCH a USING INDEX x (ip>?)\nSCAN e USING COVERING INDEX k\nSCAN h\n\
                    SCAN events_extra\nSEARCH e USING PRIMARY KEY (address_id=?)";
        assert_eq!(
            Store::full_scans(plan, &["e", "h"]),
            ["SCAN e USING COVERING INDEX k", "SCAN h"]
        );
        assert!(Store::full_scans(plan, &["r"]).is_empty());
    }
}
