//! Named queries for retention: deleting old events, runs and pardons in bounded
//! batches, so the database stays bounded without long locks.

use rusqlite::{OptionalExtension, params};

use super::{Result, Store, rollup};
use crate::parse::EventKind;

/// Every event kind as an SQL list (`0, 1, 2, 3`): retention prunes them all, and a new
/// kind is pruned without anyone remembering to add it here.
fn all_kinds() -> String {
    EventKind::ALL
        .iter()
        .map(|kind| kind.code().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Addresses whose old events are deleted per transaction: each one is two index-range
/// deletes, so a transaction stays short and readers and writers are never held long.
const ADDRESSES_PER_BATCH: usize = 500;

impl Store {
    /// Deletes events before the UTC day `before` (unix seconds) lies in, and what the
    /// rollups count of them, address by address in short transactions; returns how many
    /// events went. Whole days only, so the daily and hourly rollups lose exactly what
    /// `events` loses.
    pub fn prune_events(&self, before: i64) -> Result<u64> {
        let before_day = rollup::day_of(before);
        let before = before_day * rollup::DAY;
        let before_hour = rollup::hour_of(before);
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let totals = (|| -> Result<()> {
            self.conn
                .prepare_cached(&format!(
                    "DELETE FROM hour_totals WHERE kind IN ({}) AND hour < ?1",
                    all_kinds()
                ))?
                .execute([before_hour])?;
            self.conn
                .prepare_cached(
                    "DELETE FROM label_hours WHERE dimension IN (0, 1, 2) AND hour < ?1",
                )?
                .execute([before_hour])?;
            Ok(())
        })();
        self.end_transaction(totals)?;

        let ids: Vec<i64> = self
            .conn
            .prepare_cached("SELECT id FROM addresses ORDER BY id")?
            .query_map([], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut deleted = 0u64;
        for chunk in ids.chunks(ADDRESSES_PER_BATCH) {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            let result = (|| -> Result<u64> {
                let mut n = 0u64;
                for &id in chunk {
                    self.conn
                        .prepare_cached(&format!(
                            "DELETE FROM address_days
                             WHERE address_id = ?1 AND kind IN ({}) AND day < ?2",
                            all_kinds()
                        ))?
                        .execute(params![id, before_day])?;
                    n += self
                        .conn
                        .prepare_cached(&format!(
                            "DELETE FROM events
                             WHERE address_id = ?1 AND kind IN ({}) AND ts < ?2",
                            all_kinds()
                        ))?
                        .execute(params![id, before])? as u64;
                }
                Ok(n)
            })();
            deleted += self.end_transaction(result)?;
        }
        Ok(deleted)
    }

    /// Deletes addresses and texts no event refers to any more (after `prune_events`),
    /// so attacker-chosen usernames do not pile up forever.
    pub fn prune_unreferenced(&self) -> Result<()> {
        self.conn.execute_batch(
            "BEGIN IMMEDIATE;
             DELETE FROM addresses
              WHERE NOT EXISTS (SELECT 1 FROM events WHERE events.address_id = addresses.id);
             DELETE FROM labels
              WHERE id NOT IN (SELECT mechanism_id FROM events
                               UNION SELECT username_id FROM events WHERE username_id IS NOT NULL
                               UNION SELECT service_id FROM events);
             COMMIT;",
        )?;
        Ok(())
    }

    /// Deletes the records of runs that started before `before`; returns how many.
    pub fn prune_runs(&self, before: i64) -> Result<usize> {
        Ok(self
            .conn
            .prepare_cached("DELETE FROM runs WHERE started_at < ?1 AND status != 'running'")?
            .execute([before])?)
    }

    /// How many events [`Store::prune_events`] with the same `before` would delete.
    pub fn count_events_before(&self, before: i64) -> Result<u64> {
        let total: f64 = self
            .conn
            .prepare_cached("SELECT TOTAL(events) FROM address_days WHERE day < ?1")?
            .query_row([rollup::day_of(before)], |row| row.get(0))?;
        Ok(total as u64)
    }

    /// How many run records [`Store::prune_runs`] with the same `before` would delete.
    pub fn count_runs_before(&self, before: i64) -> Result<usize> {
        let count: i64 = self
            .conn
            .prepare_cached(
                "SELECT COUNT(*) FROM runs WHERE started_at < ?1 AND status != 'running'",
            )?
            .query_row([before], |row| row.get(0))?;
        Ok(count as usize)
    }

    /// How many blocks `prune_blocks` with the same `before` would delete.
    pub fn count_blocks_ended_before(&self, before: i64) -> Result<usize> {
        let count: i64 = self
            .conn
            .prepare_cached(
                "SELECT COUNT(*) FROM blocks WHERE ended_at IS NOT NULL AND ended_at < ?1",
            )?
            .query_row([before], |row| row.get(0))?;
        Ok(count as usize)
    }

    /// A named value kept between runs.
    pub fn state(&self, key: &str) -> Result<Option<i64>> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM state WHERE key = ?1")?
            .query_row([key], |row| row.get(0))
            .optional()?)
    }

    /// Forgets a named value kept between runs (nothing happens when it is not set).
    pub fn clear_state(&self, key: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM state WHERE key = ?1")?
            .execute([key])?;
        Ok(())
    }

    /// Sets a named value kept between runs.
    pub fn set_state(&self, key: &str, value: i64) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO state (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = ?2",
            )?
            .execute(params![key, value])?;
        Ok(())
    }
}
