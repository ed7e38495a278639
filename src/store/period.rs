//! Named queries for `report`: a summary of one period against the period before it.
//!
//! Event queries read the rows of the two periods from the rollups keyed by day first
//! (see [`rollup::period_rows`]), like [`super::FAILURES_PER_ADDRESS`]: the cost is what
//! lies inside the two periods, not the whole history. Blocks are few and are read in
//! one pass.

use std::sync::LazyLock;

use rusqlite::params;

use super::blocks::BlockTarget;
use super::rollup::{self, Split};
use super::{Result, Store};
use crate::parse::EventKind;

/// Counted failures and server faults of one address in the current period
/// `(since, until]` and in the previous one `(previous_since, since]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressPeriods {
    /// The address key (see [`super::address`]).
    pub key: super::address::Key,
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

/// Per address: counted failures and faults in the current period (split bound with
/// prefix `c_`) and in the previous one (prefix `p_`), from the rows of the two periods
/// in the rollups (see [`rollup::period_rows`]) summed per address. Addresses with
/// nothing in either period are never read.
static ADDRESS_PERIODS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT a.ip, c.failures, c.faults, c.previous_failures, c.previous_faults
         FROM (SELECT address_id,
                      TOTAL(n) FILTER (WHERE current AND kind = 0) AS failures,
                      TOTAL(n) FILTER (WHERE current AND kind = 1) AS faults,
                      TOTAL(n) FILTER (WHERE NOT current AND kind = 0) AS previous_failures,
                      TOTAL(n) FILTER (WHERE NOT current AND kind = 1) AS previous_faults
               FROM (SELECT 1 AS current, * FROM ({current})
                     UNION ALL SELECT 0, * FROM ({previous}))
               GROUP BY address_id HAVING SUM(n) > 0) AS c
         CROSS JOIN addresses AS a ON a.id = c.address_id",
        current = rollup::period_rows("0, 1", "c_"),
        previous = rollup::period_rows("0, 1", "p_"),
    )
});

/// Counted failures in a split period per UTC clock hour: whole hours from
/// `hour_totals`, partial ones from the events of the addresses active then.
static FAILURES_PER_HOUR: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT hour, SUM(n) FROM (
             SELECT hour, events AS n FROM hour_totals
             WHERE kind = 0 AND hour BETWEEN :hour_from AND :hour_to
             UNION ALL {}
             UNION ALL {})
         GROUP BY hour ORDER BY hour",
        rollup::partial_hour_events(0, "head", ":head_hour AS hour, 1 AS n"),
        rollup::partial_hour_events(0, "tail", ":tail_hour AS hour, 1 AS n"),
    )
});

/// Events of one kind per address in the key range `:first..=:last` inside a split
/// period, addresses without any left out: the period's rows of that kind in the
/// rollups summed per address (see [`rollup::period_rows`]), then the key range.
static EVENTS_PER_ADDRESS: LazyLock<[String; EventKind::ALL.len()]> = LazyLock::new(|| {
    EventKind::ALL.map(|kind| {
        let kind = kind.code();
        format!(
            "SELECT a.id, a.ip, c.n
             FROM (SELECT address_id, SUM(n) AS n FROM ({rows})
                   GROUP BY address_id HAVING SUM(n) > 0) AS c
             CROSS JOIN addresses AS a ON a.id = c.address_id
             WHERE a.ip BETWEEN :first AND :last",
            rows = rollup::period_rows(&kind.to_string(), "")
        )
    })
});

/// Events of one kind of one address (`:id`) inside a split period.
static EVENTS_OF_ADDRESS: LazyLock<[String; EventKind::ALL.len()]> = LazyLock::new(|| {
    EventKind::ALL.map(|kind| {
        let kind = kind.code();
        format!(
            "SELECT {} FROM addresses AS a WHERE a.id = :id",
            rollup::address_events(kind, "")
        )
    })
});

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

/// Blocks in force at some moment of `(?1, ?2]`: created by its end, not over by its
/// start (the end being the earlier of `ended_at` and `expires_at`), oldest first.
static BLOCKS_DURING: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {} FROM blocks
         WHERE created_at <= ?2
           AND (ended_at IS NULL OR ended_at > ?1) AND (expires_at IS NULL OR expires_at > ?1)
         ORDER BY created_at, id",
        super::blocks::BLOCK_COLUMNS
    )
});

impl Store {
    /// Every block, of any target, in force at some moment of `(since, until]`, oldest
    /// first.
    pub fn blocks_during(&self, since: i64, until: i64) -> Result<Vec<super::blocks::Block>> {
        let mut stmt = self.conn.prepare_cached(&BLOCKS_DURING)?;
        let rows = stmt.query_map(params![since, until], super::blocks::block_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every address with a counted failure or server fault in `(since, until]` or in
    /// `(previous_since, since]`, with its counts in each.
    pub fn address_periods(
        &self,
        previous_since: i64,
        since: i64,
        until: i64,
    ) -> Result<Vec<AddressPeriods>> {
        let mut stmt = self.conn.prepare_cached(&ADDRESS_PERIODS)?;
        Split::new(since, until).bind(&mut stmt, "c_")?;
        Split::new(previous_since, since).bind(&mut stmt, "p_")?;
        let count = |row: &rusqlite::Row<'_>, index: usize| -> rusqlite::Result<i64> {
            Ok(row.get::<_, f64>(index)? as i64)
        };
        let rows = stmt.raw_query().mapped(|row| {
            Ok((
                row.get::<_, Vec<u8>>(0)?,
                count(row, 1)?,
                count(row, 2)?,
                count(row, 3)?,
                count(row, 4)?,
            ))
        });
        let mut out = Vec::new();
        for row in rows {
            let (key, failures, server_faults, previous_failures, previous_server_faults) = row?;
            let Some(key) = super::address::key_of(&key) else {
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
        let mut stmt = self.conn.prepare_cached(&FAILURES_PER_HOUR)?;
        Split::new(since, until).bind(&mut stmt, "")?;
        let rows = stmt
            .raw_query()
            .mapped(|row| Ok((row.get::<_, i64>(0)? * rollup::HOUR, row.get(1)?)));
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every address (inside `within`, if given) with events of `kind` in
    /// `(since, until]`: (address id, address key, events).
    pub fn events_per_address(
        &self,
        kind: EventKind,
        since: i64,
        until: i64,
        within: Option<&ipnet::IpNet>,
    ) -> Result<Vec<(i64, super::address::Key, i64)>> {
        let everything = (
            [0; super::address::KEY_LEN],
            [0xff; super::address::KEY_LEN],
        );
        let (first, last) = within.map_or(everything, super::blocks::key_range);
        let mut stmt = self
            .conn
            .prepare_cached(&EVENTS_PER_ADDRESS[kind.code() as usize])?;
        Split::new(since, until).bind(&mut stmt, "")?;
        rollup::bind(&mut stmt, ":first", &&first[..])?;
        rollup::bind(&mut stmt, ":last", &&last[..])?;
        let rows = stmt.raw_query().mapped(|row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, Vec<u8>>(1)?,
                row.get::<_, i64>(2)?,
            ))
        });
        let mut out = Vec::new();
        for row in rows {
            let (id, key, n) = row?;
            if let Some(key) = super::address::key_of(&key) {
                out.push((id, key, n));
            }
        }
        Ok(out)
    }

    /// Events of `kind` of the address with id `address_id` in `(since, until]`.
    pub fn events_of_address(
        &self,
        address_id: i64,
        kind: EventKind,
        since: i64,
        until: i64,
    ) -> Result<i64> {
        let mut stmt = self
            .conn
            .prepare_cached(&EVENTS_OF_ADDRESS[kind.code() as usize])?;
        Split::new(since, until).bind(&mut stmt, "")?;
        rollup::bind(&mut stmt, ":id", &address_id)?;
        let mut rows = stmt.raw_query();
        Ok(match rows.next()? {
            Some(row) => row.get(0)?,
            None => 0,
        })
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

    /// The event queries read rollups and events through their keys; none scans a table
    /// whose size grows with the history, `addresses` included: a period reads the rows
    /// of its days, whatever came before.
    #[test]
    fn event_queries_use_rollups_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("plans.db")).unwrap();
        let mut queries = vec![
            ("address periods", ADDRESS_PERIODS.clone()),
            ("failures per hour", FAILURES_PER_HOUR.clone()),
            (
                "failures per address",
                super::super::FAILURES_PER_ADDRESS.clone(),
            ),
        ];
        for (index, sql) in super::super::RANKINGS.iter().enumerate() {
            queries.push((["ranking", "networks"][index], sql.clone()));
        }
        for (kind, sql) in EventKind::ALL.iter().zip(EVENTS_PER_ADDRESS.iter()) {
            queries.push((kind.name(), sql.clone()));
        }
        for (name, sql) in &queries {
            let plan = store.query_plan(sql);
            println!("-- {name}\n{plan}\n");
            let scans = Store::full_scans(&plan, &["e", "h", "r", "a", "hour_totals"]);
            assert!(scans.is_empty(), "{name} scans {scans:?}:\n{plan}");
        }
        for (name, sql) in &queries[..1] {
            let plan = store.query_plan(sql);
            assert!(
                plan.contains("r USING PRIMARY KEY (kind=? AND day>? AND day<?)"),
                "{name} does not read the period's days as one range:\n{plan}"
            );
            assert!(
                plan.contains("a USING INTEGER PRIMARY KEY (rowid=?)"),
                "{name} does not look addresses up by id:\n{plan}"
            );
        }
        let plan = store.query_plan(&FAILURES_PER_HOUR);
        assert!(
            plan.contains("hour_totals USING PRIMARY KEY (kind=? AND hour>? AND hour<?)"),
            "{plan}"
        );
    }
}
