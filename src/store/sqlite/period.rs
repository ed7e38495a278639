//! Named queries for `report`: a summary of one period against the period before it.
//!
//! Event queries read the rows of the two periods from the rollups keyed by day first
//! (see [`rollup::period_rows`]), like [`super::FAILURES_PER_ADDRESS`]: the cost is what
//! lies inside the two periods, not the whole history. Blocks are few and are read in
//! one pass.

use std::sync::LazyLock;

use super::{FAILED, FAULT, rollup};
use crate::model::EventKind;
use crate::store::Grouping;

/// Per address: counted failures and faults in the current period (split bound with
/// prefix `c_`) and in the previous one (prefix `p_`), from the rows of the two periods
/// in the rollups (see [`rollup::period_rows`]) summed per address. Addresses with
/// nothing in either period are never read.
pub(super) static ADDRESS_PERIODS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT a.ip, c.failures, c.faults, c.previous_failures, c.previous_faults
         FROM (SELECT address_id,
                      TOTAL(n) FILTER (WHERE current AND kind = {FAILED}) AS failures,
                      TOTAL(n) FILTER (WHERE current AND kind = {FAULT}) AS faults,
                      TOTAL(n) FILTER (WHERE NOT current AND kind = {FAILED})
                          AS previous_failures,
                      TOTAL(n) FILTER (WHERE NOT current AND kind = {FAULT})
                          AS previous_faults
               FROM (SELECT 1 AS current, * FROM ({current})
                     UNION ALL SELECT 0, * FROM ({previous}))
               GROUP BY address_id HAVING SUM(n) > 0) AS c
         CROSS JOIN addresses AS a ON a.id = c.address_id",
        current = rollup::period_rows(&[EventKind::AuthFailed, EventKind::ServerFault], "c_"),
        previous = rollup::period_rows(&[EventKind::AuthFailed, EventKind::ServerFault], "p_"),
    )
});

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

/// Events per address in a split period (bound by [`rollup::bind_split`], no prefix):
/// the period's rows of the rollups (see [`rollup::period_rows`]) of the events of kind
/// `kind` (its code) summed per
/// address, then one key lookup per address that had any for its bytes. Nothing outside
/// the period is read.
fn events_per_address_sql(kind: EventKind) -> String {
    format!(
        "SELECT a.ip, c.failures
         FROM (SELECT address_id, SUM(n) AS failures FROM ({rows})
               GROUP BY address_id HAVING SUM(n) > 0) AS c
         CROSS JOIN addresses AS a ON a.id = c.address_id",
        rows = rollup::period_rows(&[kind], "")
    )
}

/// Events per address in the period, per kind (indexed by its code): what the policy
/// reads first.
pub(super) static PER_ADDRESS: LazyLock<[String; EventKind::ALL.len()]> =
    LazyLock::new(|| EventKind::ALL.map(events_per_address_sql));

/// Rankings of the events of each kind (indexed by its code) by address and by network
/// (indexed by [`ranking_index`]).
pub(super) static RANKINGS: LazyLock<[[String; 2]; EventKind::ALL.len()]> = LazyLock::new(|| {
    EventKind::ALL.map(|kind| [ranking_sql(kind, false), ranking_sql(kind, true)])
});

/// The ranking of the events of kind `kind` (its code) by address or by network.
fn ranking_sql(kind: EventKind, by_network: bool) -> String {
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

pub(super) fn ranking_index(grouping: Grouping) -> usize {
    usize::from(matches!(grouping, Grouping::Network { .. }))
}

#[cfg(test)]
mod tests {
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
            ("address periods".into(), ADDRESS_PERIODS.clone()),
            ("failures per hour".into(), FAILURES_PER_HOUR.clone()),
        ];
        for kind in EventKind::ALL {
            let code = kind.code() as usize;
            queries.push((format!("{kind} per address"), PER_ADDRESS[code].clone()));
            for (index, sql) in RANKINGS[code].iter().enumerate() {
                let by = ["addresses", "networks"][index];
                queries.push((format!("{kind} ranking by {by}"), sql.clone()));
            }
            queries.push((
                format!("{kind} in a range"),
                EVENTS_PER_ADDRESS[code].clone(),
            ));
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
