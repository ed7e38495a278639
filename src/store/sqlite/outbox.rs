//! The local side of `[cluster]`: the local database is the outbox of the events this
//! host ships, and the mirror of the blocks the cluster decided.
//!
//! Its tables exist only on a host with `[cluster]` (created by [`SqliteStore::cluster_setup`],
//! idempotent), so a host alone keeps exactly the schema it had.
//!
//! - `cluster_outbox`: per log stream, the byte offset before which its events were
//!   all shipped. Events of one stream are stored in offset order, so everything after the
//!   marker and up to the stream's `read_offset` is the backlog. The marker moves only
//!   after PostgreSQL acknowledged a shipment: a crash between the two commits ships the
//!   same events again, which the cluster stores once.
//! - `cluster_blocks`: which local block mirrors which cluster block.
//! - `cluster_allowlist`: the cluster's allowlist as this host last copied it, which
//!   tells an entry the cluster removed (copied, then gone there) from one this host
//!   holds alone (never copied: added while `[cluster]` was not configured).
//! - `cluster_contact`: how the last attempt of a run (or `ingest`) to reach the cluster
//!   went, when it last shipped, and when any command last reached it (one row), for
//!   `status` and `metrics`.

use std::net::IpAddr;

use ipnet::IpNet;
use rusqlite::{OptionalExtension, params};

use super::{SqliteStore as Store, address};
use crate::model::EventKind;
use crate::store::{OFFSET_BITS, Result};

/// An event waiting in the outbox, as the cluster stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEvent {
    /// The event's id (stream id << 40 | byte offset).
    pub id: i64,
    pub ts: i64,
    pub address: IpAddr,
    pub kind: EventKind,
    pub mechanism: String,
    pub username: Option<String>,
    pub service: String,
}

/// Where a shipped batch ends: (stream id, the offset before which all its events were
/// shipped), for [`SqliteStore::outbox_shipped`].
pub type Marker = (i64, i64);

/// A stream with events not shipped yet: (stream id, shipped offset, read offset).
type Pending = (i64, i64, i64);

impl Store {
    /// Creates the outbox and mirror tables and the index the outbox reads by, if
    /// missing.
    pub fn cluster_setup(&self) -> Result<()> {
        let copied_before = self.has_table("cluster_allowlist")?;
        self.conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS cluster_outbox (
                 stream_id      INTEGER PRIMARY KEY,  -- streams.id
                 shipped_offset INTEGER NOT NULL      -- events before it were shipped
             );
             CREATE TABLE IF NOT EXISTS cluster_blocks (
                 cluster_id INTEGER PRIMARY KEY,      -- blocks.id in the cluster
                 local_id   INTEGER NOT NULL UNIQUE   -- blocks.id here
             );
             CREATE TABLE IF NOT EXISTS cluster_contact (
                 id           INTEGER PRIMARY KEY CHECK (id = 1),
                 last_attempt INTEGER,           -- unix seconds: a run's last attempt
                 last_contact INTEGER,           -- the last command that reached it
                 last_error   TEXT,              -- NULL: the last attempt got through
                 error_at     INTEGER,
                 last_shipped INTEGER            -- the last run that shipped the outbox
             );
             CREATE TABLE IF NOT EXISTS cluster_allowlist (
                 network TEXT PRIMARY KEY        -- as the cluster's allowlist held it
             );
             CREATE INDEX IF NOT EXISTS cluster_events_by_id ON events (id);",
        )?;
        // A host that reached the cluster before this table was kept had made its list
        // the cluster's: every entry it holds was copied.
        if !copied_before && self.cluster_contacted()? {
            self.conn.execute(
                "INSERT OR IGNORE INTO cluster_allowlist (network) SELECT network FROM allowlist",
                [],
            )?;
        }
        // A table made before `last_shipped` (when only runs made contact, so each
        // contact shipped, and `last_attempt` was required): made again, its row kept.
        if !self.has_column("cluster_contact", "last_shipped")? {
            // One transaction of its own, unless the caller's holds it.
            let own = self.conn.is_autocommit();
            if own {
                self.conn.execute_batch("BEGIN IMMEDIATE")?;
            }
            let remade = self.conn.execute_batch(
                "ALTER TABLE cluster_contact RENAME TO cluster_contact_before;
                 CREATE TABLE cluster_contact (
                     id           INTEGER PRIMARY KEY CHECK (id = 1),
                     last_attempt INTEGER,
                     last_contact INTEGER,
                     last_error   TEXT,
                     error_at     INTEGER,
                     last_shipped INTEGER
                 );
                 INSERT INTO cluster_contact
                     SELECT id, last_attempt, last_contact, last_error, error_at, last_contact
                     FROM cluster_contact_before;
                 DROP TABLE cluster_contact_before;",
            );
            if own {
                self.conn
                    .execute_batch(if remade.is_ok() { "COMMIT" } else { "ROLLBACK" })?;
            }
            remade?;
        }
        Ok(())
    }

    /// Whether `table` exists.
    fn has_table(&self, table: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
            )?
            .query_row([table], |row| row.get(0))?)
    }

    /// The cluster's allowlist as this host last copied it.
    pub fn cluster_allowlist_copied(&self) -> Result<Vec<IpNet>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT network FROM cluster_allowlist ORDER BY network")?;
        let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            if let Ok(network) = row?.parse() {
                out.push(network);
            }
        }
        Ok(out)
    }

    /// Records `networks` as the cluster's allowlist this host copied.
    pub fn set_cluster_allowlist_copied(&self, networks: &[IpNet]) -> Result<()> {
        self.conn.execute("DELETE FROM cluster_allowlist", [])?;
        let mut insert = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO cluster_allowlist (network) VALUES (?1)")?;
        for network in networks {
            insert.execute([network.to_string()])?;
        }
        Ok(())
    }

    /// Whether `table` has `column`.
    fn has_column(&self, table: &str, column: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)")?
            .query_row([table, column], |row| row.get(0))?)
    }

    /// Streams holding events not shipped yet.
    fn pending_streams(&self) -> Result<Vec<Pending>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.id, COALESCE(o.shipped_offset, 0), s.read_offset FROM streams AS s
             LEFT JOIN cluster_outbox AS o ON o.stream_id = s.id
             WHERE s.read_offset > COALESCE(o.shipped_offset, 0) ORDER BY s.id",
        )?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// How many events wait in the outbox.
    pub fn outbox_backlog(&self) -> Result<u64> {
        let mut total = 0u64;
        for (stream, shipped, read) in self.pending_streams()? {
            let n: i64 = self
                .conn
                .prepare_cached("SELECT COUNT(*) FROM events WHERE id >= ?1 AND id < ?2")?
                .query_row(
                    params![id_of(stream, shipped), id_of(stream, read)],
                    |row| row.get(0),
                )?;
            total += n.max(0) as u64;
        }
        Ok(total)
    }

    /// The next at most `limit` events waiting in the outbox, in stream and offset
    /// order, with the marker to record once they are shipped: (stream, offset).
    pub fn outbox_batch(&self, limit: usize) -> Result<Option<(Vec<OutgoingEvent>, Marker)>> {
        let Some((stream, shipped, read)) = self.pending_streams()?.into_iter().next() else {
            return Ok(None);
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT e.id, e.ts, a.ip, e.kind, m.text, u.text, s.text
             FROM events AS e
             JOIN addresses AS a ON a.id = e.address_id
             JOIN labels AS m ON m.id = e.mechanism_id
             LEFT JOIN labels AS u ON u.id = e.username_id
             JOIN labels AS s ON s.id = e.service_id
             WHERE e.id >= ?1 AND e.id < ?2 ORDER BY e.id LIMIT ?3",
        )?;
        let rows = stmt.query_map(
            params![id_of(stream, shipped), id_of(stream, read), limit as i64],
            |row| {
                let key: Vec<u8> = row.get(2)?;
                let kind: i64 = row.get(3)?;
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    address::from_key(&key),
                    EventKind::from_code(kind),
                    row.get::<_, String>(4)?,
                    row.get::<_, Option<String>>(5)?,
                    row.get::<_, String>(6)?,
                ))
            },
        )?;
        let (mut events, mut fetched, mut last_id) = (Vec::new(), 0, None);
        for row in rows {
            let (id, ts, address, kind, mechanism, username, service) = row?;
            fetched += 1;
            last_id = Some(id);
            // A row no event can be (an unknown kind or address bytes) is not shipped.
            if let (Some(address), Some(kind)) = (address, kind) {
                events.push(OutgoingEvent {
                    id,
                    ts,
                    address,
                    kind,
                    mechanism,
                    username,
                    service,
                });
            }
        }
        let offset = match last_id {
            Some(id) if fetched == limit => (id & crate::store::MAX_STREAM_OFFSET as i64) + 1,
            _ => read,
        };
        Ok(Some((events, (stream, offset))))
    }

    /// Records that the events of `stream` before `offset` were shipped.
    pub fn outbox_shipped(&self, (stream, offset): Marker) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO cluster_outbox (stream_id, shipped_offset) VALUES (?1, ?2)
                 ON CONFLICT (stream_id) DO UPDATE
                 SET shipped_offset = MAX(shipped_offset, excluded.shipped_offset)",
            )?
            .execute(params![stream, offset])?;
        Ok(())
    }

    /// The cluster blocks mirrored here whose local copy is still in force at `now`:
    /// (cluster id, network).
    pub fn mirrored_in_force(&self, now: i64) -> Result<Vec<(i64, IpNet)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.cluster_id, b.network FROM cluster_blocks AS c
             JOIN blocks AS b ON b.id = c.local_id
             WHERE b.ended_at IS NULL AND (b.expires_at IS NULL OR b.expires_at > ?1)",
        )?;
        let rows = stmt.query_map([now], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, network) = row?;
            if let Ok(network) = network.parse() {
                out.push((id, network));
            }
        }
        Ok(out)
    }

    /// Whether cluster block `cluster_id` was ever mirrored here.
    pub fn is_mirrored(&self, cluster_id: i64) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM cluster_blocks WHERE cluster_id = ?1)")?
            .query_row([cluster_id], |row| row.get(0))?)
    }

    /// Records that local block `local_id` mirrors cluster block `cluster_id`.
    pub fn record_mirror(&self, cluster_id: i64, local_id: i64) -> Result<()> {
        self.conn
            .prepare_cached("INSERT INTO cluster_blocks (cluster_id, local_id) VALUES (?1, ?2)")?
            .execute(params![cluster_id, local_id])?;
        Ok(())
    }

    /// Ends the local copy of cluster block `cluster_id` at `at` for `reason`.
    pub fn end_mirror(
        &self,
        cluster_id: i64,
        at: i64,
        reason: crate::model::EndReason,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE blocks SET ended_at = ?2, end_reason = ?3
                 WHERE id = (SELECT local_id FROM cluster_blocks WHERE cluster_id = ?1)
                   AND ended_at IS NULL",
            )?
            .execute(params![cluster_id, at, reason.name()])?;
        Ok(())
    }
}

/// How this host's last attempts to reach the cluster went, as recorded locally.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct ContactState {
    /// When a run or ingest last tried (unix seconds); `None`: never.
    pub last_attempt: Option<i64>,
    /// When any command last reached it: a run, or a change by hand (`block`,
    /// `unblock`, `allow`, `import`), which ships nothing.
    pub last_contact: Option<i64>,
    /// When a run or ingest last got through and shipped the outbox (every event stored
    /// before then is in the cluster).
    pub last_shipped: Option<i64>,
    /// Why the last attempt of a run or ingest failed; `None` when it got through (a
    /// change by hand since does not clear it: it ships nothing).
    pub last_error: Option<String>,
    /// When that failure happened.
    pub error_at: Option<i64>,
    /// Events waiting in the local outbox (all events before the first shipment).
    pub backlog: u64,
}

impl Store {
    /// Records that a run or ingest reached the cluster at `now` and shipped the outbox.
    pub fn record_cluster_shipped(&self, now: i64) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO cluster_contact (id, last_attempt, last_contact, last_shipped)
                 VALUES (1, ?1, ?1, ?1)
                 ON CONFLICT (id) DO UPDATE SET last_attempt = ?1, last_contact = ?1,
                     last_shipped = ?1, last_error = NULL, error_at = NULL",
            )?
            .execute([now])?;
        Ok(())
    }

    /// Records that a change by hand reached the cluster at `now`: a contact, not a
    /// shipment (a run's failure stays what `status` reports until a run gets through).
    pub fn record_cluster_reached(&self, now: i64) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO cluster_contact (id, last_contact) VALUES (1, ?1)
                 ON CONFLICT (id) DO UPDATE SET last_contact = MAX(COALESCE(last_contact, ?1), ?1)",
            )?
            .execute([now])?;
        Ok(())
    }

    /// Records that the attempt at `now` failed, and why.
    pub fn record_cluster_failure(&self, now: i64, error: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO cluster_contact (id, last_attempt, last_error, error_at)
                 VALUES (1, ?1, ?2, ?1)
                 ON CONFLICT (id) DO UPDATE SET last_attempt = ?1, last_error = ?2, error_at = ?1",
            )?
            .execute(params![now, error])?;
        Ok(())
    }

    /// Whether this host ever reached the cluster (after [`Store::cluster_setup`]).
    pub fn cluster_contacted(&self) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM cluster_contact WHERE last_contact IS NOT NULL)",
            )?
            .query_row([], |row| row.get(0))?)
    }

    /// The recorded contact and the backlog; works on a read-only store and before the
    /// cluster tables exist (never tried: everything stored is backlog).
    pub fn cluster_contact(&self) -> Result<ContactState> {
        let exists = |table: &str| -> Result<bool> {
            Ok(self
                .conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
                )?
                .query_row([table], |row| row.get(0))?)
        };
        if !exists("cluster_contact")? || !exists("cluster_outbox")? {
            let all: i64 = self
                .conn
                .query_row("SELECT COUNT(*) FROM events", [], |row| row.get(0))?;
            return Ok(ContactState {
                backlog: all.max(0) as u64,
                ..ContactState::default()
            });
        }
        // Read-only, a table made before `last_shipped`: its contacts were shipments.
        let shipped = match self.has_column("cluster_contact", "last_shipped")? {
            true => "last_shipped",
            false => "last_contact",
        };
        let mut state = self
            .conn
            .query_row(
                &format!(
                    "SELECT last_attempt, last_contact, last_error, error_at, {shipped}
                     FROM cluster_contact"
                ),
                [],
                |row| {
                    Ok(ContactState {
                        last_attempt: row.get(0)?,
                        last_contact: row.get(1)?,
                        last_error: row.get(2)?,
                        error_at: row.get(3)?,
                        last_shipped: row.get(4)?,
                        backlog: 0,
                    })
                },
            )
            .optional()?
            .unwrap_or_default();
        state.backlog = self.outbox_backlog()?;
        Ok(state)
    }

    /// The local copy of cluster block `cluster_id` still in force at `now`: (local id,
    /// its expiry).
    pub fn mirror_in_force(&self, cluster_id: i64, now: i64) -> Result<Option<(i64, Option<i64>)>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT b.id, b.expires_at FROM cluster_blocks AS c JOIN blocks AS b ON b.id = c.local_id
                 WHERE c.cluster_id = ?1 AND b.ended_at IS NULL
                   AND (b.expires_at IS NULL OR b.expires_at > ?2)",
            )?
            .query_row(params![cluster_id, now], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?)
    }

    /// Gives local block `local_id` the expiry its cluster block has now.
    pub fn set_mirror_expiry(&self, local_id: i64, expires_at: Option<i64>) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE blocks SET expires_at = ?2 WHERE id = ?1 AND ended_at IS NULL")?
            .execute(params![local_id, expires_at])?;
        Ok(())
    }
}

/// The id of the event at `offset` of `stream`.
fn id_of(stream: i64, offset: i64) -> i64 {
    (stream << OFFSET_BITS) | offset
}

#[cfg(test)]
mod tests {
    use crate::store::BlockStore;
    use crate::store::SqliteStore as Store;

    /// A host that reached the cluster with the tables of before (a contact was always a
    /// run's shipment; no record of the allowlist copied) keeps what it knew: its
    /// contact as its last shipment, and its allowlist as the one it copied (so none of
    /// its entries is sent up as if held alone).
    #[test]
    fn tables_made_before_keep_their_contact_and_allowlist() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("old.db")).unwrap();
        let net: ipnet::IpNet = "192.0.2.0/24".parse().unwrap();
        store.allowlist_add(&net, None, 100).unwrap();
        store
            .conn
            .execute_batch(
                "CREATE TABLE cluster_contact (
                     id           INTEGER PRIMARY KEY CHECK (id = 1),
                     last_attempt INTEGER NOT NULL,
                     last_contact INTEGER,
                     last_error   TEXT,
                     error_at     INTEGER
                 );
                 INSERT INTO cluster_contact VALUES (1, 300, 200, 'down', 300);",
            )
            .unwrap();
        store.cluster_setup().unwrap();
        store.cluster_setup().unwrap();
        let state = store.cluster_contact().unwrap();
        assert_eq!(
            (state.last_attempt, state.last_contact, state.last_shipped),
            (Some(300), Some(200), Some(200))
        );
        assert_eq!(state.last_error.as_deref(), Some("down"));
        assert_eq!(store.cluster_allowlist_copied().unwrap(), [net]);
        // A change by hand: a contact, the run's failure still said.
        store.record_cluster_reached(400).unwrap();
        let state = store.cluster_contact().unwrap();
        assert_eq!(
            (state.last_contact, state.last_shipped),
            (Some(400), Some(200))
        );
        assert_eq!(state.last_error.as_deref(), Some("down"));
        store.record_cluster_shipped(500).unwrap();
        let state = store.cluster_contact().unwrap();
        assert_eq!(
            (state.last_contact, state.last_shipped),
            (Some(500), Some(500))
        );
        assert_eq!(state.last_error, None);
    }

    /// A host new to the cluster copied nothing yet: every entry it holds is its own.
    #[test]
    fn a_new_host_copied_no_allowlist() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("new.db")).unwrap();
        let net: ipnet::IpNet = "192.0.2.0/24".parse().unwrap();
        store.allowlist_add(&net, None, 100).unwrap();
        store.cluster_setup().unwrap();
        assert!(store.cluster_allowlist_copied().unwrap().is_empty());
        store.record_cluster_reached(400).unwrap();
        let state = store.cluster_contact().unwrap();
        assert_eq!(
            (state.last_attempt, state.last_contact, state.last_shipped),
            (None, Some(400), None)
        );
    }
}
