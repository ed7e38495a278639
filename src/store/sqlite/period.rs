//! Named queries for `report`: a summary of one period against the period before it.
//!
//! Event queries read the rows of the two periods from the rollups keyed by day first
//! (see [`rollup::period_rows`]), like [`super::FAILURES_PER_ADDRESS`]: the cost is what
//! lies inside the two periods, not the whole history. Blocks are few and are read in
//! one pass.

use std::sync::LazyLock;

use super::{FAILED, rollup};
use crate::model::EventKind;

/// Counted failures in a split period per UTC clock hour: whole hours from
/// `hour_totals`, partial ones from the events of the addresses active then.
pub(super) static FAILURES_PER_HOUR: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT hour, SUM(n) FROM (
             SELECT hour, events AS n FROM hour_totals
             WHERE kind = {FAILED} AND hour BETWEEN :hour_from AND :hour_to
             UNION ALL {}
             UNION ALL {})
         GROUP BY hour ORDER BY hour",
        rollup::partial_hour_events(EventKind::AuthFailed, "head", ":head_hour AS hour, 1 AS n"),
        rollup::partial_hour_events(EventKind::AuthFailed, "tail", ":tail_hour AS hour, 1 AS n"),
    )
});

/// Events of one kind per address in the key range `:first..=:last` inside a split
/// period, addresses without any left out: the period's rows of that kind in the
/// rollups summed per address (see [`rollup::period_rows`]), then the key range.
pub(super) static EVENTS_PER_ADDRESS: LazyLock<[String; EventKind::ALL.len()]> =
    LazyLock::new(|| {
        EventKind::ALL.map(|kind| {
            format!(
                "SELECT a.ip, c.n
             FROM (SELECT address_id, SUM(n) AS n FROM ({rows})
                   GROUP BY address_id HAVING SUM(n) > 0) AS c
             CROSS JOIN addresses AS a ON a.id = c.address_id
             WHERE a.ip BETWEEN :first AND :last",
                rows = rollup::period_rows(&[kind], "")
            )
        })
    });

/// Events of one kind of one address (its key `:ip`) inside a split period.
pub(super) static EVENTS_OF_ADDRESS: LazyLock<[String; EventKind::ALL.len()]> =
    LazyLock::new(|| {
        EventKind::ALL.map(|kind| {
            format!(
                "SELECT {} FROM addresses AS a WHERE a.ip = :ip",
                rollup::address_events(kind, "")
            )
        })
    });

/// Per target: blocks created in `(?1, ?2]`, ended in it, and in force at `?2`. A
/// block's end is the earlier of `ended_at` and `expires_at` (an expired block not yet
/// ended by `expire` is over all the same).
pub(super) const BLOCKS_IN_PERIOD: &str = "
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
pub(super) static BLOCKS_DURING: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {} FROM blocks
         WHERE created_at <= ?2
           AND (ended_at IS NULL OR ended_at > ?1) AND (expires_at IS NULL OR expires_at > ?1)
         ORDER BY created_at, id",
        super::blocks::BLOCK_COLUMNS
    )
});

#[cfg(test)]
mod tests {
    use super::super::sums;
    use super::*;
    use crate::store::SqliteStore as Store;

    /// The event queries read rollups and events through their keys; none scans a table
    /// whose size grows with the history, `addresses` included: a period reads the rows
    /// of its days, whatever came before.
    #[test]
    fn event_queries_use_rollups_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("plans.db")).unwrap();
        let mut queries: Vec<(String, String)> = vec![
            ("failures per hour".into(), FAILURES_PER_HOUR.clone()),
            ("day rows".into(), sums::DAY_ROWS.into()),
            ("week rows".into(), sums::WEEK_ROWS.into()),
            ("events in a range".into(), sums::EVENTS_IN_RANGE.into()),
            ("address keys".into(), sums::ADDRESS_KEYS.into()),
            (
                "address keys in a range".into(),
                sums::ADDRESS_KEYS_IN_RANGE.into(),
            ),
        ];
        for kind in EventKind::ALL {
            let code = kind.code() as usize;
            queries.push((
                format!("{kind} in a range"),
                EVENTS_PER_ADDRESS[code].clone(),
            ));
        }
        for (name, sql) in &queries {
            let plan = store.query_plan(sql);
            println!("-- {name}\n{plan}\n");
            let scans = Store::full_scans(
                &plan,
                &[
                    "e",
                    "h",
                    "r",
                    "a",
                    "hour_totals",
                    "events",
                    "address_days",
                    "address_weeks",
                ],
            );
            assert!(scans.is_empty(), "{name} scans {scans:?}:\n{plan}");
        }
        for (sql, wanted) in [
            (
                sums::DAY_ROWS,
                "address_days USING PRIMARY KEY (kind=? AND day>? AND day<?)",
            ),
            (
                sums::EVENTS_IN_RANGE,
                "events USING PRIMARY KEY (address_id=? AND kind=? AND ts>? AND ts<?)",
            ),
            (sums::ADDRESS_KEYS, "a USING INTEGER PRIMARY KEY (rowid=?)"),
            (
                sums::ADDRESS_KEYS_IN_RANGE,
                "a USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)",
            ),
        ] {
            let plan = store.query_plan(sql);
            assert!(
                plan.contains(wanted),
                "{sql}: not read as {wanted}:\n{plan}"
            );
        }
        let plan = store.query_plan(&FAILURES_PER_HOUR);
        assert!(
            plan.contains("hour_totals USING PRIMARY KEY (kind=? AND hour>? AND hour<?)"),
            "{plan}"
        );
    }
}
