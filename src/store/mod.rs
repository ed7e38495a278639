//! The store: one SQLite file holding every event, log stream position and run.
//!
//! Connection setup (WAL, busy timeout), schema migrations from `migrations/*.sql`
//! (tracked with `PRAGMA user_version`) and every named query live here; the rest of
//! the code never writes SQL.

pub mod address;
pub mod blocks;
pub mod kinds;
pub mod outbox;
pub mod period;
pub mod places;
pub mod postgres;
pub mod reports;
pub mod retention;
pub mod rollup;

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OptionalExtension, Statement, params};

/// The schema, one file per version; `PRAGMA user_version` says how many have run.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/001_events.sql"),
    include_str!("../../migrations/002_blocks.sql"),
    include_str!("../../migrations/003_run_duration.sql"),
    include_str!("../../migrations/004_state.sql"),
    include_str!("../../migrations/005_journal_cursor.sql"),
    include_str!("../../migrations/006_rollups.sql"),
    include_str!("../../migrations/007_address_families.sql"),
    include_str!("../../migrations/008_places.sql"),
    include_str!("../../migrations/009_untrusted.sql"),
    include_str!("../../migrations/010_rollups_by_day.sql"),
    include_str!("../../migrations/011_postfix_maps.sql"),
];

/// Bits of an event id that hold the byte offset; the stream id sits above them.
const OFFSET_BITS: u32 = 40;

/// Errors a caller may act on; everything else is reported with context.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database was written by a newer saslguard: refuse rather than misread it.
    #[error(
        "database {path} has schema version {found}, newer than this saslguard understands \
         (up to {supported}); upgrade saslguard"
    )]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    /// A reading command found a database not yet upgraded to this version's schema.
    #[error(
        "database {path} has schema version {found}, older than this saslguard's \
         ({supported}); run `saslguard run` (or `ingest`) once as its owner to upgrade it"
    )]
    SchemaTooOld {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    /// A reader without write access to the directory found no `-wal`/`-shm` files
    /// beside the database (saslguard's writers keep them; an older version did not).
    #[error(
        "cannot read database {path}: in WAL mode a reader needs its -wal and -shm files, \
         which are missing, and this user cannot create them in its directory; run \
         `saslguard run` once as the database's owner (it keeps them from then on)"
    )]
    ReaderCannotOpen { path: PathBuf },
    /// The file could not be opened or set up as a saslguard database.
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    /// The database file could not be created private, or made private.
    #[error("cannot create or restrict the permissions of database {path}: {source}")]
    Permissions {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A query failed.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

impl StoreError {
    /// Whether the database (or its directory) is read-only for this process.
    pub fn is_read_only(&self) -> bool {
        let sqlite = match self {
            StoreError::Open { source, .. } | StoreError::Sqlite(source) => source,
            StoreError::ReaderCannotOpen { .. } => return true,
            _ => return false,
        };
        matches!(
            sqlite.sqlite_error_code(),
            Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::CannotOpen)
        )
    }
}

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An open saslguard database.
pub struct Store {
    conn: Connection,
}

/// A log stream: one file's content across renames and compression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// Row id; also the high bits of its events' ids.
    pub id: i64,
    /// Bytes already ingested (always the end of a complete line).
    pub read_offset: u64,
}

/// What was at a configured log path the last time it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceState {
    pub device: u64,
    pub inode: u64,
    /// The stream the file at the path held; `None` while it had no complete first line.
    pub stream_id: Option<i64>,
    pub offset: u64,
    pub size: u64,
    /// The file's modification time then (unix seconds): files rotated after it may
    /// hold lines not read yet.
    pub mtime: i64,
    /// When this was recorded (unix seconds).
    pub updated_at: i64,
}

/// Counters of one run, stored in `runs` as it goes so a killed run still shows its work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RunCounters {
    /// Complete lines read.
    pub lines: u64,
    /// Bytes read (complete lines only).
    pub bytes: u64,
    /// Events stored for the first time.
    pub events: u64,
    /// Events that were already stored (the same bytes read again).
    pub duplicates: u64,
    /// Lines that were garbage or failure lines that could not be used: counted and
    /// skipped.
    pub unparsed: u64,
    /// Failure lines whose writer was not proven to be Postfix's smtpd (journal entries
    /// from another program or user): counted and skipped.
    pub untrusted: u64,
}

/// What `saslguard metrics` reads from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreMetrics {
    pub failures: i64,
    pub server_faults: i64,
    pub unparsed_lines: i64,
    /// The latest run: started (unix seconds), duration in seconds (if it finished),
    /// whether it succeeded, and the journal entries it counted as untrusted.
    pub last_run: Option<(i64, Option<f64>, bool, i64)>,
}

/// How offenders are grouped in a ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// One row per address.
    Address,
    /// One row per network: IPv4 addresses cut to `v4_prefix` bits, IPv6 to `v6_prefix`.
    Network { v4_prefix: u8, v6_prefix: u8 },
}

/// One row of a ranking over a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RankedOffender {
    /// The address key, or the masked network key (see [`address`]).
    pub key: address::Key,
    /// Counted failures inside the period.
    pub failures: i64,
    /// First and last failure inside the period (unix seconds), when asked for.
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
    /// `RANK() OVER (ORDER BY failures DESC)`: ties share a rank.
    pub rank: i64,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    ///
    /// The database holds attackers' usernames (often mistyped passwords) and the first
    /// line of every log read, so a new file is created mode 0600 whatever the umask, and
    /// an existing one loses any permission for "other" users. SQLite gives the `-wal`
    /// and `-shm` files the database file's mode and owner, so an admin who wants a
    /// reader group sets it on the database file (`chgrp` and mode 0640) and the rest
    /// follows.
    pub fn open(path: &Path) -> Result<Store> {
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        restrict_database_file(path).map_err(|e| StoreError::Permissions {
            path: path.to_path_buf(),
            source: e,
        })?;
        let conn = Connection::open(path).map_err(open_err)?;
        configure(&conn).map_err(open_err)?;
        let mut store = Store { conn };
        store.migrate(path)?;
        Ok(store)
    }

    /// Opens an existing database for reading only: for the commands that only report
    /// (`top`, `show`, `report`, `blocks`, `status`, `metrics`), so any user allowed to
    /// read the file can run them, and they can never change it. Nothing is created or
    /// migrated: a database of an older schema is an error saying how to upgrade it.
    pub fn open_read_only(path: &Path) -> Result<Store> {
        use rusqlite::OpenFlags;
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
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
        Ok(Store { conn })
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

    /// Commits the open transaction after `result`, or rolls it back; returns `result`.
    pub(crate) fn end_transaction<T, E: From<rusqlite::Error>>(
        &self,
        result: std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        match result {
            Ok(value) => {
                self.conn.execute_batch("COMMIT")?;
                Ok(value)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// The schema version of this database.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))?)
    }

    /// The stream whose first line is `fingerprint`, if it was seen before.
    pub fn stream_by_fingerprint(&self, fingerprint: &[u8]) -> Result<Option<Stream>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, read_offset FROM streams WHERE fingerprint = ?1",
                [fingerprint],
                stream_from_row,
            )
            .optional()?)
    }

    /// The stream with this id.
    pub fn stream(&self, id: i64) -> Result<Option<Stream>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, read_offset FROM streams WHERE id = ?1",
                [id],
                stream_from_row,
            )
            .optional()?)
    }

    /// The fingerprint (first line) of a stream.
    pub fn stream_fingerprint(&self, id: i64) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .query_row(
                "SELECT fingerprint FROM streams WHERE id = ?1",
                [id],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// The journal cursor stored with a stream.
    pub fn stream_cursor(&self, id: i64) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT cursor FROM streams WHERE id = ?1", [id], |row| {
                row.get(0)
            })
            .optional()?
            .flatten())
    }

    /// Finds the stream for `fingerprint`, recording a new one (read from offset 0) if
    /// it was never seen.
    pub fn stream_for(&self, fingerprint: &[u8], path: &Path, now: i64) -> Result<Stream> {
        if let Some(stream) = self.stream_by_fingerprint(fingerprint)? {
            return Ok(stream);
        }
        self.conn.execute(
            "INSERT INTO streams (fingerprint, read_offset, first_path, created_at)
             VALUES (?1, 0, ?2, ?3)",
            params![fingerprint, path.to_string_lossy(), now],
        )?;
        Ok(Stream {
            id: self.conn.last_insert_rowid(),
            read_offset: 0,
        })
    }

    /// What was at `path` the last time it was read.
    pub fn source(&self, path: &Path) -> Result<Option<SourceState>> {
        Ok(self
            .conn
            .query_row(
                "SELECT device, inode, stream_id, \"offset\", size, mtime, updated_at
                 FROM sources WHERE path = ?1",
                [path.to_string_lossy()],
                |row| {
                    Ok(SourceState {
                        device: row.get::<_, i64>(0)? as u64,
                        inode: row.get::<_, i64>(1)? as u64,
                        stream_id: row.get(2)?,
                        offset: row.get::<_, i64>(3)? as u64,
                        size: row.get::<_, i64>(4)? as u64,
                        mtime: row.get(5)?,
                        updated_at: row.get(6)?,
                    })
                },
            )
            .optional()?)
    }

    /// Records what is at `path` now (outside any event batch).
    pub fn save_source(&self, path: &Path, state: &SourceState) -> Result<()> {
        save_source(&self.conn, path, state)
    }

    /// Starts a run of `command`; its row says `running` until [`Store::finish_run`].
    pub fn begin_run(&self, command: &str, now: i64) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO runs (command, started_at) VALUES (?1, ?2)",
            params![command, now],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Ends a run with its outcome and wall-clock duration, and its final counters when
    /// known. `None` (an ingest that failed part way) keeps the counters each committed
    /// batch already stored, so the record still shows the work that was kept.
    pub fn finish_run(
        &self,
        run_id: i64,
        now: i64,
        counters: Option<&RunCounters>,
        error: Option<&str>,
        duration: std::time::Duration,
    ) -> Result<()> {
        let count = |pick: fn(&RunCounters) -> u64| counters.map(|c| pick(c) as i64);
        self.conn.execute(
            "UPDATE runs SET ended_at = ?2, status = ?3, error = ?4,
                             lines = COALESCE(?5, lines), bytes = COALESCE(?6, bytes),
                             events = COALESCE(?7, events), unparsed = COALESCE(?8, unparsed),
                             duration = ?9, untrusted = COALESCE(?10, untrusted)
             WHERE id = ?1",
            params![
                run_id,
                now,
                if error.is_some() { "failed" } else { "ok" },
                error,
                count(|c| c.lines),
                count(|c| c.bytes),
                count(|c| c.events),
                count(|c| c.unparsed),
                duration.as_secs_f64(),
                count(|c| c.untrusted),
            ],
        )?;
        Ok(())
    }

    /// Figures for monitoring: events stored per kind, unparsed lines over all runs,
    /// and the latest `run` (or, failing that, `ingest`).
    pub fn metrics(&self) -> Result<StoreMetrics> {
        let (failures, faults) = self.conn.query_row(
            "SELECT TOTAL(events) FILTER (WHERE kind = 0), TOTAL(events) FILTER (WHERE kind = 1)
             FROM hour_totals",
            [],
            |row| Ok((row.get::<_, f64>(0)? as i64, row.get::<_, f64>(1)? as i64)),
        )?;
        let unparsed = self
            .conn
            .query_row("SELECT TOTAL(unparsed) FROM runs", [], |row| {
                row.get::<_, f64>(0)
            })?;
        let last_run = self
            .conn
            .query_row(
                "SELECT started_at, duration, status = 'ok', untrusted FROM runs
                 WHERE command = 'run' OR NOT EXISTS (SELECT 1 FROM runs WHERE command = 'run')
                 ORDER BY id DESC LIMIT 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .optional()?;
        Ok(StoreMetrics {
            failures,
            server_faults: faults,
            unparsed_lines: unparsed as i64,
            last_run,
        })
    }

    /// A writer that stores events and progress in batched transactions.
    pub fn event_writer(&self, run_id: i64) -> Result<EventWriter<'_>> {
        Ok(EventWriter {
            conn: &self.conn,
            insert: self.conn.prepare(INSERT_EVENT)?,
            run_id,
            in_transaction: false,
            offered: 0,
            stored: 0,
            committed: (0, 0),
            rollups: rollup::Rollups::default(),
        })
    }

    /// Offenders inside `(since, until]` ranked by counted failures, with ties sharing
    /// a rank; `since = None` means from the beginning. First and last seen are left
    /// `None`: [`Store::first_and_last`] finds them for the rows shown, one seek each.
    pub fn rank_offenders(
        &self,
        since: Option<i64>,
        until: i64,
        grouping: Grouping,
    ) -> Result<Vec<RankedOffender>> {
        self.rank_with(&RANKINGS[ranking_index(grouping)], since, until, grouping)
    }

    /// Like [`Store::rank_offenders`], for the events of `kind`.
    pub fn rank_offenders_of_kind(
        &self,
        kind: crate::parse::EventKind,
        since: Option<i64>,
        until: i64,
        grouping: Grouping,
    ) -> Result<Vec<RankedOffender>> {
        if kind == crate::parse::EventKind::AuthFailed {
            return self.rank_offenders(since, until, grouping);
        }
        let by_network = matches!(grouping, Grouping::Network { .. });
        self.rank_with(
            &ranking_sql(kind.code(), by_network),
            since,
            until,
            grouping,
        )
    }

    /// Runs a ranking query built by [`ranking_sql`].
    fn rank_with(
        &self,
        sql: &str,
        since: Option<i64>,
        until: i64,
        grouping: Grouping,
    ) -> Result<Vec<RankedOffender>> {
        let split = rollup::Split::new(since.unwrap_or(i64::MIN), until);
        let mut stmt = self.conn.prepare_cached(sql)?;
        if let Grouping::Network {
            v4_prefix,
            v6_prefix,
        } = grouping
        {
            rollup::bind(&mut stmt, ":v4_prefix", &v4_prefix)?;
            rollup::bind(&mut stmt, ":v6_prefix", &v6_prefix)?;
        }
        split.bind(&mut stmt, "")?;
        let rows = stmt.raw_query();
        let rows = rows.mapped(|row| {
            let key: Vec<u8> = row.get(0)?;
            Ok(RankedOffender {
                key: address::key_of(&key).unwrap_or([0; address::KEY_LEN]),
                failures: row.get(1)?,
                first_seen: None,
                last_seen: None,
                rank: row.get(2)?,
            })
        });
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
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
    conn.pragma_update(None, "cache_size", -32768)?;
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

fn stream_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Stream> {
    Ok(Stream {
        id: row.get(0)?,
        read_offset: row.get::<_, i64>(1)? as u64,
    })
}

fn save_source(conn: &Connection, path: &Path, state: &SourceState) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO sources (path, device, inode, stream_id, \"offset\", size, mtime, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (path) DO UPDATE SET device = ?2, inode = ?3, stream_id = ?4,
             \"offset\" = ?5, size = ?6, mtime = ?7, updated_at = ?8",
    )?
    .execute(params![
        path.to_string_lossy(),
        state.device as i64,
        state.inode as i64,
        state.stream_id,
        state.offset as i64,
        state.size as i64,
        state.mtime,
        state.updated_at,
    ])?;
    Ok(())
}

/// One row per statement: a multi-row `VALUES` list makes SQLite keep a statement
/// journal of every page it touches, which measured slower than single rows.
const INSERT_EVENT: &str = "INSERT OR IGNORE INTO events
    (address_id, kind, ts, id, mechanism_id, username_id, service_id)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// Events per address in a split period (bound by [`rollup::Split::bind`], no prefix):
/// the period's rows of the rollups (see [`rollup::period_rows`]) of the events of kind
/// `kind` (its code) summed per
/// address, then one key lookup per address that had any for its bytes. Nothing outside
/// the period is read.
fn events_per_address_sql(kind: i64) -> String {
    format!(
        "SELECT a.ip, c.failures
         FROM (SELECT address_id, SUM(n) AS failures FROM ({rows})
               GROUP BY address_id HAVING SUM(n) > 0) AS c
         CROSS JOIN addresses AS a ON a.id = c.address_id",
        rows = rollup::period_rows(&kind.to_string(), "")
    )
}

/// Counted failures per address in the period: what the policy needs.
pub(crate) static FAILURES_PER_ADDRESS: LazyLock<String> =
    LazyLock::new(|| events_per_address_sql(crate::parse::EventKind::AuthFailed.code()));

/// Rankings of counted failures by address and by network, indexed by
/// [`ranking_index`].
pub(crate) static RANKINGS: LazyLock<[String; 2]> = LazyLock::new(|| {
    let failed = crate::parse::EventKind::AuthFailed.code();
    [ranking_sql(failed, false), ranking_sql(failed, true)]
});

/// The ranking of the events of kind `kind` (its code) by address or by network.
fn ranking_sql(kind: i64, by_network: bool) -> String {
    if by_network {
        format!(
            "SELECT net, failures, RANK() OVER (ORDER BY failures DESC) AS rank
             FROM (SELECT network_key(ip, :v4_prefix, :v6_prefix) AS net,
                          SUM(failures) AS failures
                   FROM ({}) GROUP BY net)
             ORDER BY rank, net",
            events_per_address_sql(kind)
        )
    } else {
        format!(
            "SELECT ip, failures, RANK() OVER (ORDER BY failures DESC) AS rank
             FROM ({}) ORDER BY rank, ip",
            events_per_address_sql(kind)
        )
    }
}

fn ranking_index(grouping: Grouping) -> usize {
    usize::from(matches!(grouping, Grouping::Network { .. }))
}

/// Where ingest stands after a batch: committed together with the batch's events.
#[derive(Debug, Clone)]
pub struct Progress<'p> {
    /// The stream being read and the end of its last complete line read.
    pub stream_id: i64,
    pub stream_offset: u64,
    /// The configured path being read, when the stream is the file at that path.
    pub source: Option<(&'p Path, SourceState)>,
    /// For the journal: the cursor of the last entry read.
    pub cursor: Option<&'p str>,
    /// The run's counters so far.
    pub counters: RunCounters,
}

/// An event ready to store: its texts and address already resolved to ids (see
/// [`EventWriter::address_id`] and [`EventWriter::label_id`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRow {
    pub address_id: i64,
    pub kind: i64,
    /// Unix seconds, UTC.
    pub ts: i64,
    /// The position: see [`event_id`].
    pub id: i64,
    pub mechanism_id: i64,
    pub username_id: Option<i64>,
    pub service_id: i64,
}

/// The id of the event read at `offset` of stream `stream_id`: its position, so the same
/// line read twice has the same id.
pub fn event_id(stream_id: i64, offset: u64) -> i64 {
    (stream_id << OFFSET_BITS) | (offset & MAX_STREAM_OFFSET) as i64
}

/// Stores events and progress in transactions: each batch of events commits together
/// with the stream offset after them, so a crash loses nothing and repeats nothing.
///
/// Addresses and texts are stored once (tables `addresses` and `labels`) and events
/// refer to them by id, which keeps rows small and a first ingest of millions of events
/// fast.
pub struct EventWriter<'c> {
    conn: &'c Connection,
    insert: Statement<'c>,
    run_id: i64,
    in_transaction: bool,
    /// Events handed to [`EventWriter::insert`] and events actually new, since creation.
    offered: u64,
    stored: u64,
    /// `offered` and `stored` at the last commit.
    committed: (u64, u64),
    /// What the open batch's new events add to the rollups.
    rollups: rollup::Rollups,
}

impl EventWriter<'_> {
    /// Adds one event to the open batch, unless the same line was stored before; true
    /// when it was new. The caller counts each new event into the rollups, with
    /// [`EventWriter::count`] or, for many at once, [`EventWriter::count_all`].
    pub fn insert(&mut self, row: &EventRow) -> Result<bool> {
        self.begin()?;
        let s = &mut self.insert;
        s.raw_bind_parameter(1, row.address_id)?;
        s.raw_bind_parameter(2, row.kind)?;
        s.raw_bind_parameter(3, row.ts)?;
        s.raw_bind_parameter(4, row.id)?;
        s.raw_bind_parameter(5, row.mechanism_id)?;
        s.raw_bind_parameter(6, row.username_id)?;
        s.raw_bind_parameter(7, row.service_id)?;
        let stored = s.raw_execute()?;
        self.stored += stored as u64;
        self.offered += 1;
        Ok(stored > 0)
    }

    /// Counts one event [`EventWriter::insert`] stored into the batch's rollups.
    pub fn count(&mut self, row: &EventRow) {
        self.rollups.add(
            row.address_id,
            row.kind,
            row.ts,
            [
                row.username_id.unwrap_or(0),
                row.mechanism_id,
                row.service_id,
            ],
        );
    }

    /// Counts events that were all stored, already rolled up by the caller under its
    /// own numbering (`address` and `label` map it to the store's ids).
    pub fn count_all(
        &mut self,
        counted: rollup::Rollups,
        address: impl Fn(i64) -> i64,
        label: impl Fn(i64) -> i64,
    ) {
        self.rollups.merge(counted, address, label);
    }

    /// Records `progress` and commits it with every event added since the last commit.
    /// Fills in `progress.counters.events` and `.duplicates` from what was stored.
    pub fn commit(&mut self, progress: &mut Progress<'_>) -> Result<()> {
        self.begin()?;
        progress.counters.events = self.stored;
        progress.counters.duplicates = self.offered - self.stored;
        self.rollups.flush(self.conn)?;
        self.conn
            .prepare_cached("UPDATE streams SET read_offset = ?2 WHERE id = ?1")?
            .execute(params![progress.stream_id, progress.stream_offset as i64])?;
        if let Some((path, state)) = &progress.source {
            save_source(self.conn, path, state)?;
        }
        if let Some(cursor) = progress.cursor {
            self.conn
                .prepare_cached("UPDATE streams SET cursor = ?2 WHERE id = ?1")?
                .execute(params![progress.stream_id, cursor])?;
        }
        let c = progress.counters;
        self.conn
            .prepare_cached(
                "UPDATE runs SET lines = ?2, bytes = ?3, events = ?4, unparsed = ?5,
                                 untrusted = ?6 WHERE id = ?1",
            )?
            .execute(params![
                self.run_id,
                c.lines as i64,
                c.bytes as i64,
                c.events as i64,
                c.unparsed as i64,
                c.untrusted as i64
            ])?;
        self.conn.execute_batch("COMMIT")?;
        self.in_transaction = false;
        self.committed = (self.offered, self.stored);
        Ok(())
    }

    /// Drops every event added since the last commit (a source failed mid-batch: its
    /// events are read again, with its position, next run).
    pub fn rollback(&mut self) -> Result<()> {
        if self.in_transaction {
            self.in_transaction = false;
            self.conn.execute_batch("ROLLBACK")?;
        }
        (self.offered, self.stored) = self.committed;
        self.rollups = rollup::Rollups::default();
        Ok(())
    }

    /// The id of an address (its key, see [`address`]), recorded if new. Part of the
    /// open batch.
    pub fn address_id(&mut self, key: &address::Key) -> Result<i64> {
        self.begin()?;
        self.id_of(
            "SELECT id FROM addresses WHERE ip = ?1",
            "INSERT INTO addresses (ip) VALUES (?1)",
            &key[..],
        )
    }

    /// The id of a mechanism, username or service text, recorded if new. Part of the
    /// open batch.
    pub fn label_id(&mut self, text: &str) -> Result<i64> {
        self.begin()?;
        self.id_of(
            "SELECT id FROM labels WHERE text = ?1",
            "INSERT INTO labels (text) VALUES (?1)",
            text,
        )
    }

    fn id_of(&self, select: &str, insert: &str, value: impl rusqlite::ToSql) -> Result<i64> {
        let existing = self
            .conn
            .prepare_cached(select)?
            .query_row([&value], |row| row.get(0))
            .optional()?;
        match existing {
            Some(id) => Ok(id),
            None => {
                self.conn.prepare_cached(insert)?.execute([&value])?;
                Ok(self.conn.last_insert_rowid())
            }
        }
    }

    fn begin(&mut self) -> Result<()> {
        if !self.in_transaction {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            self.in_transaction = true;
        }
        Ok(())
    }
}

impl Drop for EventWriter<'_> {
    /// An uncommitted batch is rolled back: its events will be read again next run.
    fn drop(&mut self) {
        if self.in_transaction {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// The largest byte offset an event id can hold (1 TiB per stream).
pub const MAX_STREAM_OFFSET: u64 = (1 << OFFSET_BITS) - 1;

#[cfg(test)]
mod plan_tests {
    use super::Store;

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
