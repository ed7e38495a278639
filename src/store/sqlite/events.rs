//! SQLite's [`EventStore`] and [`StreamStore`]: log streams, what was at each configured path, runs, and
//! the [`EventWriter`] that stores events and rollups in batched transactions.

use std::net::IpAddr;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Statement, params};

use super::{SqliteStore, Transaction, address, rollup};
use crate::store::{
    EventRow, EventSink, EventStore, Progress, Result, RunCounters, SourceState, Stream,
    StreamStore,
};

impl EventStore for SqliteStore {
    type Sink<'s> = EventWriter<'s>;

    /// A writer that stores events and progress in batched transactions.
    fn event_writer(&self, run_id: i64) -> Result<EventWriter<'_>> {
        EventWriter::new(&self.conn, run_id)
    }
}

impl StreamStore for SqliteStore {
    /// The stream whose first line is `fingerprint`, if it was seen before.
    fn stream_by_fingerprint(&self, fingerprint: &[u8]) -> Result<Option<Stream>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, read_offset FROM streams WHERE fingerprint = ?1",
                [fingerprint],
                stream_from_row,
            )
            .optional()?)
    }

    /// The fingerprint (first line) of a stream.
    fn stream_fingerprint(&self, id: i64) -> Result<Option<Vec<u8>>> {
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
    fn stream_cursor(&self, id: i64) -> Result<Option<String>> {
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
    fn stream_for(&self, fingerprint: &[u8], path: &Path, now: i64) -> Result<Stream> {
        if let Some(stream) = self.stream_by_fingerprint(fingerprint)? {
            return Ok(stream);
        }
        let id = self.conn.query_row(
            "INSERT INTO streams (fingerprint, read_offset, first_path, created_at)
             VALUES (?1, 0, ?2, ?3) RETURNING id",
            params![fingerprint, path.to_string_lossy(), now],
            |row| row.get(0),
        )?;
        Ok(Stream { id, read_offset: 0 })
    }

    /// What was at `path` the last time it was read.
    fn source(&self, path: &Path) -> Result<Option<SourceState>> {
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
    fn save_source(&self, path: &Path, state: &SourceState) -> Result<()> {
        save_source(&self.conn, path, state)
    }

    /// Starts a run of `command`; its row says `running` until [`Store::finish_run`].
    fn begin_run(&self, command: &str, now: i64) -> Result<i64> {
        Ok(self.conn.query_row(
            "INSERT INTO runs (command, started_at) VALUES (?1, ?2) RETURNING id",
            params![command, now],
            |row| row.get(0),
        )?)
    }

    /// Ends a run with its outcome and wall-clock duration, and its final counters when
    /// known. `None` (an ingest that failed part way) keeps the counters each committed
    /// batch already stored, so the record still shows the work that was kept.
    fn finish_run(
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

    /// Adds block counters to a run's record.
    fn record_run_blocks(
        &self,
        run_id: i64,
        created: usize,
        ended: usize,
        rendered: Option<usize>,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE runs SET blocks_created = ?2, blocks_ended = ?3, entries_rendered = ?4
                 WHERE id = ?1",
            )?
            .execute(params![
                run_id,
                created as i64,
                ended as i64,
                rendered.map(|n| n as i64)
            ])?;
        Ok(())
    }
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
const INSERT_EVENT: &str = "INSERT INTO events
    (address_id, kind, ts, id, mechanism_id, username_id, service_id)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING";

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
    /// The open batch; dropping it (with the writer, or on an error) rolls it back.
    batch: Option<Transaction<'c>>,
    /// Events handed to [`EventSink::insert`] and events actually new, since creation.
    offered: u64,
    stored: u64,
    /// `offered` and `stored` at the last commit.
    committed: (u64, u64),
    /// What the open batch's new events add to the rollups.
    rollups: rollup::Rollups,
}

impl<'c> EventWriter<'c> {
    /// A writer on `conn` counting into the run `run_id`; no transaction is open until
    /// the first write.
    fn new(conn: &'c Connection, run_id: i64) -> Result<EventWriter<'c>> {
        Ok(EventWriter {
            conn,
            insert: conn.prepare(INSERT_EVENT)?,
            run_id,
            batch: None,
            offered: 0,
            stored: 0,
            committed: (0, 0),
            rollups: rollup::Rollups::default(),
        })
    }

    /// The id in `select`'s table of `value`, inserted with `insert` (which returns the
    /// new id) when absent.
    fn id_of(&self, select: &str, insert: &str, value: impl rusqlite::ToSql) -> Result<i64> {
        let existing = self
            .conn
            .prepare_cached(select)?
            .query_row([&value], |row| row.get(0))
            .optional()?;
        match existing {
            Some(id) => Ok(id),
            None => Ok(self
                .conn
                .prepare_cached(insert)?
                .query_row([&value], |row| row.get(0))?),
        }
    }

    /// Opens the batch's transaction if none is open.
    fn begin(&mut self) -> Result<()> {
        if self.batch.is_none() {
            self.batch = Some(Transaction::begin(self.conn)?);
        }
        Ok(())
    }

    /// Records where ingest stands, inside the open batch.
    fn save_progress(&self, progress: &Progress<'_>) -> Result<()> {
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
        Ok(())
    }
}

impl EventSink for EventWriter<'_> {
    fn insert(&mut self, row: &EventRow) -> Result<bool> {
        self.begin()?;
        let s = &mut self.insert;
        s.raw_bind_parameter(1, row.address_id)?;
        s.raw_bind_parameter(2, row.kind.code())?;
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

    fn count(&mut self, row: &EventRow) {
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

    fn count_all(
        &mut self,
        counted: rollup::Rollups,
        address: impl Fn(i64) -> i64,
        label: impl Fn(i64) -> i64,
    ) {
        self.rollups.merge(counted, address, label);
    }

    fn commit(&mut self, progress: &mut Progress<'_>) -> Result<()> {
        self.begin()?;
        progress.counters.events = self.stored;
        progress.counters.duplicates = self.offered - self.stored;
        rollup::flush(&mut self.rollups, self.conn)?;
        let new = self.stored - self.committed.1;
        if new > 0 {
            // The policy's watermark: events were stored (see [`crate::store::EVENTS_STORED`]).
            self.conn
                .prepare_cached(
                    "INSERT INTO state (key, value) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = value + ?2",
                )?
                .execute(rusqlite::params![crate::store::EVENTS_STORED, new as i64])?;
        }
        self.save_progress(progress)?;
        if let Some(batch) = self.batch.take() {
            batch.commit()?;
        }
        self.committed = (self.offered, self.stored);
        Ok(())
    }

    fn rollback(&mut self) -> Result<()> {
        if let Some(batch) = self.batch.take() {
            batch.rollback()?;
        }
        (self.offered, self.stored) = self.committed;
        self.rollups = rollup::Rollups::default();
        Ok(())
    }

    fn address_id(&mut self, addr: IpAddr) -> Result<i64> {
        self.begin()?;
        self.id_of(
            "SELECT id FROM addresses WHERE ip = ?1",
            "INSERT INTO addresses (ip) VALUES (?1) RETURNING id",
            &address::to_key(addr)[..],
        )
    }

    fn label_id(&mut self, text: &str) -> Result<i64> {
        self.begin()?;
        self.id_of(
            "SELECT id FROM labels WHERE text = ?1",
            "INSERT INTO labels (text) VALUES (?1) RETURNING id",
            text,
        )
    }
}
