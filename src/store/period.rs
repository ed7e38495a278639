//! Named queries for `report`: a summary of one period against the period before it.
//!
//! Event queries walk `addresses` as the outer loop and seek into the primary key of
//! `events` (address_id, kind, ts) per address, like [`super::FAILURES_PER_ADDRESS`]:
//! the cost is what lies inside the two periods, not the whole history. Blocks are few
//! and are read in one pass.

use rusqlite::params;

use super::blocks::BlockTarget;
use super::{Result, Store};

/// Counted failures and server faults of one address in the current period
/// `(since, until]` and in the previous one `(previous_since, since]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressPeriods {
    /// The address key (see [`super::address`]).
    pub key: [u8; 16],
    /// Counted failures (kind 0) in the current period.
    pub failures: i64,
    /// Server faults (kind 1) in the current period.
    pub server_faults: i64,
    /// Counted failures in the previous period.
    pub previous_failures: i64,
    /// Server faults in the previous period.
    pub previous_server_faults: i64,
}

/// How many blocks of one target were created and ended inside a period, and how many
/// were in force at its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct BlockCounts {
    /// Blocks created inside the period.
    pub created: i64,
    /// Blocks whose end (unblocked, allowlisted, or their expiry, whichever came first)
    /// lies inside the period.
    pub ended: i64,
    /// Blocks created by the end of the period and not ended or expired then.
    pub active: i64,
}

/// Per address: counted failures and faults in `(?2, ?3]` (current) and `(?1, ?2]`
/// (previous), four primary-key ranges each. Addresses with nothing in either period
/// are left out.
const ADDRESS_PERIODS: &str = "
    SELECT ip, failures, faults, previous_failures, previous_faults
    FROM (SELECT a.ip AS ip,
                 (SELECT COUNT(*) FROM events e
                  WHERE e.address_id = a.id AND e.kind = 0 AND e.ts > ?2 AND e.ts <= ?3)
                     AS failures,
                 (SELECT COUNT(*) FROM events e
                  WHERE e.address_id = a.id AND e.kind = 1 AND e.ts > ?2 AND e.ts <= ?3)
                     AS faults,
                 (SELECT COUNT(*) FROM events e
                  WHERE e.address_id = a.id AND e.kind = 0 AND e.ts > ?1 AND e.ts <= ?2)
                     AS previous_failures,
                 (SELECT COUNT(*) FROM events e
                  WHERE e.address_id = a.id AND e.kind = 1 AND e.ts > ?1 AND e.ts <= ?2)
                     AS previous_faults
          FROM addresses AS a)
    WHERE failures + faults + previous_failures + previous_faults > 0";

/// Counted failures in `(?1, ?2]` per UTC clock hour (`ts / 3600`): reads every counted
/// failure of the period, one primary-key range per address.
const FAILURES_PER_HOUR: &str = "
    SELECT e.ts / 3600 AS hour, COUNT(*)
    FROM addresses AS a CROSS JOIN events AS e ON e.address_id = a.id
    WHERE e.kind = 0 AND e.ts > ?1 AND e.ts <= ?2
    GROUP BY hour
    ORDER BY hour";

/// Per target: blocks created in `(?1, ?2]`, ended in it, and in force at `?2`. A
/// block's end is the earlier of `ended_at` and `expires_at` (an expired block not yet
/// ended by `expire` is over all the same).
const BLOCKS_IN_PERIOD: &str = "
    SELECT target,
           TOTAL(created_at > ?1 AND created_at <= ?2),
           TOTAL(end_at IS NOT NULL AND end_at > ?1 AND end_at <= ?2),
           TOTAL(created_at <= ?2 AND (end_at IS NULL OR end_at > ?2))
    FROM (SELECT target, created_at,
                 CASE WHEN ended_at IS NULL THEN expires_at
                      WHEN expires_at IS NULL THEN ended_at
                      ELSE MIN(ended_at, expires_at) END AS end_at
          FROM blocks)
    GROUP BY target";

impl Store {
    /// Every address with a counted failure or server fault in `(since, until]` or in
    /// `(previous_since, since]`, with its counts in each.
    pub fn address_periods(
        &self,
        previous_since: i64,
        since: i64,
        until: i64,
    ) -> Result<Vec<AddressPeriods>> {
        let mut stmt = self.conn.prepare_cached(ADDRESS_PERIODS)?;
        let rows = stmt.query_map(params![previous_since, since, until], |row| {
            Ok((
                row.get::<_, Vec<u8>>(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (key, failures, server_faults, previous_failures, previous_server_faults) = row?;
            let Ok(key) = <[u8; 16]>::try_from(key.as_slice()) else {
                continue;
            };
            out.push(AddressPeriods {
                key,
                failures,
                server_faults,
                previous_failures,
                previous_server_faults,
            });
        }
        Ok(out)
    }

    /// Counted failures in `(since, until]` per UTC hour: (start of the hour in unix
    /// seconds, failures), oldest first, hours without failures left out.
    pub fn failures_per_hour(&self, since: i64, until: i64) -> Result<Vec<(i64, i64)>> {
        let mut stmt = self.conn.prepare_cached(FAILURES_PER_HOUR)?;
        let rows = stmt.query_map(params![since, until], |row| {
            Ok((row.get::<_, i64>(0)? * 3600, row.get(1)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Blocks created and ended in `(since, until]` and in force at `until`, per target
    /// (both targets always present, in [`BlockTarget::ALL`] order).
    pub fn blocks_in_period(
        &self,
        since: i64,
        until: i64,
    ) -> Result<Vec<(BlockTarget, BlockCounts)>> {
        let mut counts: Vec<(BlockTarget, BlockCounts)> = BlockTarget::ALL
            .iter()
            .map(|&t| (t, BlockCounts::default()))
            .collect();
        let mut stmt = self.conn.prepare_cached(BLOCKS_IN_PERIOD)?;
        let rows = stmt.query_map(params![since, until], |row| {
            Ok((
                row.get::<_, String>(0)?,
                BlockCounts {
                    created: row.get::<_, f64>(1)? as i64,
                    ended: row.get::<_, f64>(2)? as i64,
                    active: row.get::<_, f64>(3)? as i64,
                },
            ))
        })?;
        for row in rows {
            let (target, c) = row?;
            if let Some(entry) = counts.iter_mut().find(|(t, _)| t.as_str() == target) {
                entry.1 = c;
            }
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(store: &Store, sql: &str) -> String {
        store.query_plan(sql)
    }

    /// The event queries seek events by address and kind; neither scans the table.
    #[test]
    fn event_queries_seek_events_by_address() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("plans.db")).unwrap();
        for (name, sql) in [
            ("address periods", ADDRESS_PERIODS),
            ("failures per hour", FAILURES_PER_HOUR),
        ] {
            let plan = plan(&store, sql);
            println!("-- {name}\n{plan}\n");
            assert!(
                plan.contains("USING PRIMARY KEY (address_id=? AND kind=?"),
                "{name} does not seek events by address and kind:\n{plan}"
            );
            assert!(!plan.contains("SCAN e"), "{name} scans events:\n{plan}");
        }
    }
}
