//! Named queries for retention: deleting old events, runs and pardons in bounded
//! batches, so the database stays bounded without long locks.

use rusqlite::params;

use super::{SqliteStore, rollup};
use crate::model::EventKind;
use crate::store::{LabelKind, Result};

/// Every event kind as an SQL list (`0, 1, 2, 3`): retention prunes them all, and a new
/// kind is pruned without anyone remembering to add it here.
fn all_kinds() -> String {
    super::kinds_sql(&EventKind::ALL)
}

/// Every text dimension of the rollups as an SQL list (`0, 1, 2`).
fn all_dimensions() -> String {
    LabelKind::ALL
        .iter()
        .map(|kind| kind.dimension().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Addresses whose old events are deleted per transaction: each one is two index-range
/// deletes, so a transaction stays short and readers and writers are never held long.
const ADDRESSES_PER_BATCH: usize = 500;

impl SqliteStore {
    /// Deletes events before the UTC day `before` (unix seconds) lies in, and what the
    /// rollups count of them, address by address in short transactions; returns how many
    /// events went. Whole days only, so the daily and hourly rollups lose exactly what
    /// `events` loses.
    pub fn prune_events(&self, before: i64) -> Result<u64> {
        let before_day = rollup::day_of(before);
        let before = before_day * rollup::DAY;
        let tx = self.transaction()?;
        self.conn
            .prepare_cached(&format!(
                "DELETE FROM hour_totals WHERE kind IN ({}) AND hour < ?1",
                all_kinds()
            ))?
            .execute([rollup::hour_of(before)])?;
        self.conn
            .prepare_cached(&format!(
                "DELETE FROM label_hours WHERE dimension IN ({}) AND hour < ?1",
                all_dimensions()
            ))?
            .execute([rollup::hour_of(before)])?;
        self.prune_weeks(before_day)?;
        tx.commit()?;
        let ids: Vec<i64> = self
            .conn
            .prepare_cached("SELECT id FROM addresses ORDER BY id")?
            .query_map([], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut deleted = 0u64;
        for chunk in ids.chunks(ADDRESSES_PER_BATCH) {
            let tx = self.transaction()?;
            deleted += self.prune_addresses(chunk, before_day)?;
            tx.commit()?;
        }
        Ok(deleted)
    }

    /// Deletes the events of the addresses `ids` before the UTC day `before_day`, with
    /// their daily rollups; returns how many events went.
    fn prune_addresses(&self, ids: &[i64], before_day: i64) -> Result<u64> {
        let mut deleted = 0u64;
        for &id in ids {
            self.conn
                .prepare_cached(&format!(
                    "DELETE FROM address_days
                     WHERE address_id = ?1 AND kind IN ({}) AND day < ?2",
                    all_kinds()
                ))?
                .execute(params![id, before_day])?;
            deleted += self
                .conn
                .prepare_cached(&format!(
                    "DELETE FROM events
                     WHERE address_id = ?1 AND kind IN ({}) AND ts < ?2",
                    all_kinds()
                ))?
                .execute(params![id, before_day * rollup::DAY])? as u64;
        }
        Ok(deleted)
    }

    /// Deletes addresses and texts no event refers to any more (after `prune_events`),
    /// so attacker-chosen usernames do not pile up forever.
    /// Deletes the weeks of `address_weeks` before the one `before_day` lies in, and
    /// recounts that week from the days of it that stay (all of them when it starts
    /// on `before_day`).
    fn prune_weeks(&self, before_day: i64) -> Result<()> {
        let week = rollup::week_of_day(before_day);
        self.conn
            .prepare_cached(&format!(
                "DELETE FROM address_weeks WHERE kind IN ({}) AND week <= ?1",
                all_kinds()
            ))?
            .execute([week])?;
        for kind in EventKind::ALL {
            self.conn
                .prepare_cached(
                    "INSERT INTO address_weeks (kind, week, address_id, events)
                     SELECT kind, ?1, address_id, SUM(events) FROM address_days
                     WHERE kind = ?2 AND day BETWEEN ?3 AND ?4
                     GROUP BY address_id",
                )?
                .execute(params![week, kind.code(), before_day, week * 7 + 6])?;
        }
        Ok(())
    }

    pub fn prune_unreferenced(&self) -> Result<()> {
        let tx = self.transaction()?;
        self.conn.execute_batch(
            "DELETE FROM addresses
              WHERE NOT EXISTS (SELECT 1 FROM events WHERE events.address_id = addresses.id);
             DELETE FROM labels
              WHERE id NOT IN (SELECT mechanism_id FROM events
                               UNION SELECT username_id FROM events WHERE username_id IS NOT NULL
                               UNION SELECT service_id FROM events);",
        )?;
        tx.commit()
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
}
