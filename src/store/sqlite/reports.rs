//! SQLite's [`ReportStore`]: the reports people read: everything about one address or network
//! (`show`), and rankings of the texts attackers tried (`top --by user|mechanism|service`,
//! `top --new`).
//!
//! Periods are read from the rollups (see [`super::rollup`]): whole days and hours from
//! the rollup tables, partial hours from `events`. Queries about addresses walk
//! `addresses` as the outer loop and seek into `address_days` and `events` per address;
//! `CROSS JOIN` pins that order, since left to itself the planner may scan a whole table.

use std::net::IpAddr;
use std::sync::LazyLock;

use ipnet::IpNet;
use rusqlite::{OptionalExtension, params};

use super::blocks::key_range;
use super::rollup::{self, Split, bind_split};
use super::{FAILED, FAULT, SqliteStore, address, period, sums};
use crate::model::{BlockTarget, EventKind};
use crate::store::{
    AddressPeriods, Block, BlockCounts, Grouping, LabelCount, LabelKind, LastRun, RangeTotals,
    RankedLabel, RankedOffender, ReportStore, Result, StoreMetrics,
};

/// The column of `events` that refers to a text of `kind`. Only these fixed names ever
/// reach SQL.
fn label_column(kind: LabelKind) -> &'static str {
    match kind {
        LabelKind::Username => "username_id",
        LabelKind::Mechanism => "mechanism_id",
        LabelKind::Service => "service_id",
    }
}

/// Counted failures and server faults of the addresses in the key range
/// `:first..=:last` inside a split period, with the first and last failure.
static RANGE_TOTALS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH counted AS MATERIALIZED (
             SELECT a.id AS id, {failures} AS failures, {faults} AS faults
             FROM addresses AS a WHERE a.ip BETWEEN :first AND :last)
         SELECT COUNT(*) FILTER (WHERE c.failures > 0), TOTAL(c.failures),
                MIN({first}) FILTER (WHERE c.failures > 0),
                MAX({last}) FILTER (WHERE c.failures > 0),
                TOTAL(c.faults)
         FROM counted AS c",
        failures = rollup::address_events(EventKind::AuthFailed, ""),
        faults = rollup::address_events(EventKind::ServerFault, ""),
        first = rollup::address_first(EventKind::AuthFailed, "", "c.id"),
        last = rollup::address_last(EventKind::AuthFailed, "", "c.id"),
    )
});

/// Counted failures of the addresses in the key range `:first..=:last` per UTC day of
/// a split period starting at the midnight `:midnight`: the day is the offset from it
/// in whole days. Whole days and hours from `address_days`, partial hours from `events`.
static RANGE_PER_DAY: LazyLock<String> = LazyLock::new(|| {
    let partial = |piece: &str| {
        format!(
            "SELECT (e.ts - :midnight) / 86400 AS day, 1 AS n
             FROM addresses AS a CROSS JOIN events AS e ON e.address_id = a.id
             WHERE a.ip BETWEEN :first AND :last AND e.kind = {FAILED}
               AND e.ts BETWEEN :{piece}_from AND :{piece}_to"
        )
    };
    format!(
        "SELECT day, SUM(n) FROM (
             SELECT r.day - :midnight / 86400 AS day, {rollup} AS n
             FROM addresses AS a
             CROSS JOIN address_days AS r INDEXED BY address_days_by_address
                 ON r.address_id = a.id
             WHERE a.ip BETWEEN :first AND :last AND r.kind = {FAILED}
               AND r.day BETWEEN :span_from AND :span_to
             UNION ALL {head} UNION ALL {tail})
         GROUP BY day HAVING SUM(n) > 0 ORDER BY day",
        rollup = rollup::day_row_events(""),
        head = partial("head"),
        tail = partial("tail"),
    )
});

/// The texts of every counted failure of the addresses in the key range `?1..=?2` up
/// to `?3`: one primary-key range per address, counted in Rust for all three kinds in
/// one pass (a GROUP BY per kind would sort the rows three times).
static RANGE_LABELS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "    SELECT COALESCE(e.username_id, 0), e.mechanism_id, e.service_id
    FROM addresses AS a CROSS JOIN events AS e ON e.address_id = a.id
    WHERE a.ip BETWEEN ?1 AND ?2 AND e.kind = {FAILED} AND e.ts <= ?3"
    )
});

/// Texts of one kind ranked by counted failures inside a split period: whole hours
/// from `label_hours`, partial ones from the events of the addresses active then.
/// Failures without the text (no `sasl_username=`) are left out.
fn rank_labels_sql(kind: LabelKind) -> String {
    let column = label_column(kind);
    let dimension = kind.dimension();
    let partial = |piece: &str| {
        rollup::partial_hour_events(
            EventKind::AuthFailed,
            piece,
            &format!("e.{column}, 1, e.ts, e.ts"),
        )
    };
    format!(
        "SELECT l.text, c.failures, c.first_seen, c.last_seen,
                RANK() OVER (ORDER BY c.failures DESC) AS rank
         FROM (SELECT label_id, SUM(n) AS failures,
                      MIN(first_ts) AS first_seen, MAX(last_ts) AS last_seen
               FROM (SELECT lh.label_id AS label_id, lh.failures AS n,
                            lh.first_ts AS first_ts, lh.last_ts AS last_ts
                     FROM label_hours AS lh
                     WHERE lh.dimension = {dimension}
                       AND lh.hour BETWEEN :hour_from AND :hour_to
                     UNION ALL {head}
                     UNION ALL {tail})
               GROUP BY label_id) AS c
         JOIN labels AS l ON l.id = c.label_id
         ORDER BY rank, l.text",
        head = partial("head"),
        tail = partial("tail"),
    )
}

/// Whether a text of one kind (`?1`, `label_hours.dimension`) carried a counted failure
/// at or before `?4` (whose hour is `?3`): one seek into `label_hours_by_label` for the
/// text's earliest hour (an hour's `first_ts` is its first failure, so the hour of `?4`
/// answers exactly).
const LABEL_FAILED_BY: &str = "
    SELECT EXISTS (SELECT 1 FROM labels AS l CROSS JOIN label_hours AS lh
                   WHERE l.text = ?2 AND lh.dimension = ?1 AND lh.label_id = l.id
                     AND lh.hour <= ?3 AND lh.first_ts <= ?4)";

/// The first and last counted failure in `(?3, ?4]` of the addresses in the key range
/// `?1..=?2`: two seeks per address of the range (into the primary key of `events`,
/// which holds an address's failures in time order).
const RANGE_FIRST_LAST: &str = "
    SELECT MIN((SELECT MIN(e.ts) FROM events AS e
                WHERE e.address_id = a.id AND e.kind = ?5 AND e.ts > ?3 AND e.ts <= ?4)),
           MAX((SELECT MAX(e.ts) FROM events AS e
                WHERE e.address_id = a.id AND e.kind = ?5 AND e.ts > ?3 AND e.ts <= ?4))
    FROM addresses AS a WHERE a.ip BETWEEN ?1 AND ?2";

/// Whether an address in the key range `?1..=?2` had a counted failure at or before
/// `?3`: one seek per address of the range.
static RANGE_FAILED_BY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "    SELECT EXISTS (SELECT 1 FROM addresses AS a CROSS JOIN events AS e ON e.address_id = a.id
                   WHERE a.ip BETWEEN ?1 AND ?2 AND e.kind = {FAILED} AND e.ts <= ?3)"
    )
});

/// The SQL of each label query, built once per kind.
static RANK_LABELS: LazyLock<[String; 3]> = LazyLock::new(|| per_kind(rank_labels_sql));

fn per_kind(build: fn(LabelKind) -> String) -> [String; 3] {
    [
        build(LabelKind::Username),
        build(LabelKind::Mechanism),
        build(LabelKind::Service),
    ]
}

fn kind_index(kind: LabelKind) -> usize {
    kind.dimension()
}

/// Blocks sharing any address with the key range `?1..=?2`, newest first. Blocks are
/// CIDR networks, so sharing an address means covering the range or lying inside it.
static BLOCKS_OVERLAPPING: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT {} FROM blocks WHERE net_first <= ?2 AND net_last >= ?1
         ORDER BY created_at DESC, id DESC",
        super::blocks::BLOCK_COLUMNS
    )
});

impl ReportStore for SqliteStore {
    fn rank_offenders(
        &self,
        kind: EventKind,
        since: Option<i64>,
        until: i64,
        grouping: Grouping,
    ) -> Result<Vec<RankedOffender>> {
        let mut rankings = self.rank_with(kind, &[since], until, grouping)?;
        Ok(rankings.pop().unwrap_or_default())
    }

    fn rank_offenders_over(
        &self,
        kind: EventKind,
        sinces: &[Option<i64>],
        until: i64,
        grouping: Grouping,
    ) -> Result<Vec<Vec<RankedOffender>>> {
        self.rank_with(kind, sinces, until, grouping)
    }

    /// The first and last event of `kind` inside `network` in `(since, until]`
    /// (`since = None`: from the beginning); `None` without any. For the rows a ranking
    /// shows: two seeks per address of the network.
    fn first_and_last(
        &self,
        network: &IpNet,
        kind: crate::model::EventKind,
        since: Option<i64>,
        until: i64,
    ) -> Result<Option<(i64, i64)>> {
        let (first, last) = key_range(network);
        let since = since.unwrap_or(i64::MIN);
        let (min, max): (Option<i64>, Option<i64>) =
            self.conn.prepare_cached(RANGE_FIRST_LAST)?.query_row(
                params![&first[..], &last[..], since, until, kind.code()],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
        Ok(min.zip(max))
    }

    /// Whether some address inside `network` had a counted failure at or before `at`:
    /// whoever had none failed for the first time after `at` (for `top --new`). One seek
    /// per address of the network, whatever the history.
    fn failed_by(&self, network: &IpNet, at: i64) -> Result<bool> {
        let (first, last) = key_range(network);
        Ok(self
            .conn
            .prepare_cached(&RANGE_FAILED_BY)?
            .query_row(params![&first[..], &last[..], at], |row| row.get(0))?)
    }

    /// Usernames, mechanisms or services ranked by counted failures inside
    /// `(since, until]` (`since = None`: from the beginning), ties sharing a rank, each
    /// with its first and last failure in the period.
    fn rank_labels(
        &self,
        since: Option<i64>,
        until: i64,
        kind: LabelKind,
    ) -> Result<Vec<RankedLabel>> {
        let mut stmt = self.conn.prepare_cached(&RANK_LABELS[kind_index(kind)])?;
        bind_split(&Split::new(since.unwrap_or(i64::MIN), until), &mut stmt, "")?;
        let rows = stmt.raw_query().mapped(|row| {
            Ok(RankedLabel {
                text: row.get(0)?,
                failures: row.get(1)?,
                first_seen: row.get(2)?,
                last_seen: row.get(3)?,
                rank: row.get(4)?,
            })
        });
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Whether a counted failure at or before `at` carried the text `text` of one kind
    /// (for `top --new --by user|mechanism|service`). One seek.
    fn label_failed_by(&self, kind: LabelKind, text: &str, at: i64) -> Result<bool> {
        Ok(self.conn.prepare_cached(LABEL_FAILED_BY)?.query_row(
            params![kind.dimension() as i64, text, rollup::hour_of(at), at],
            |row| row.get(0),
        )?)
    }

    /// Counted failures and server faults of every address inside `network` up to
    /// `until`, with the first and last failure.
    fn range_totals(&self, network: &IpNet, until: i64) -> Result<RangeTotals> {
        let (first, last) = key_range(network);
        let mut stmt = self.conn.prepare_cached(&RANGE_TOTALS)?;
        bind_split(&Split::new(i64::MIN, until), &mut stmt, "")?;
        rollup::bind(&mut stmt, ":first", &&first[..])?;
        rollup::bind(&mut stmt, ":last", &&last[..])?;
        let mut rows = stmt.raw_query();
        let Some(row) = rows.next()? else {
            return Ok(RangeTotals::default());
        };
        Ok(RangeTotals {
            addresses: row.get(0)?,
            failures: row.get::<_, f64>(1)? as i64,
            first_seen: row.get(2)?,
            last_seen: row.get(3)?,
            server_faults: row.get::<_, f64>(4)? as i64,
        })
    }

    /// Counted failures of the addresses inside `network` per UTC day from the midnight
    /// `from` up to `until`: (start of the day, failures), oldest first, days without
    /// failures left out.
    fn range_failures_per_day(
        &self,
        network: &IpNet,
        from: i64,
        until: i64,
    ) -> Result<Vec<(i64, i64)>> {
        let (first, last) = key_range(network);
        let mut stmt = self.conn.prepare_cached(&RANGE_PER_DAY)?;
        bind_split(&Split::new(from - 1, until), &mut stmt, "")?;
        rollup::bind(&mut stmt, ":first", &&first[..])?;
        rollup::bind(&mut stmt, ":last", &&last[..])?;
        rollup::bind(&mut stmt, ":midnight", &from)?;
        let rows = stmt
            .raw_query()
            .mapped(|row| Ok((from + row.get::<_, i64>(0)? * 86_400, row.get(1)?)));
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Counted failures of the addresses inside `network` up to `until` per username,
    /// mechanism and service (in that order), each most first (ties by text; failures
    /// without a username last among their tie). Reads the failures themselves: what
    /// `show` lists is one address's or network's history, not the whole table's.
    fn range_label_counts(&self, network: &IpNet, until: i64) -> Result<[Vec<LabelCount>; 3]> {
        let (first, last) = key_range(network);
        let mut counts: [rustc_hash::FxHashMap<i64, i64>; 3] = Default::default();
        let mut stmt = self.conn.prepare_cached(&RANGE_LABELS)?;
        let mut rows = stmt.query(params![&first[..], &last[..], until])?;
        while let Some(row) = rows.next()? {
            for (index, count) in counts.iter_mut().enumerate() {
                *count.entry(row.get(index)?).or_insert(0) += 1;
            }
        }
        let mut text_of = self
            .conn
            .prepare_cached("SELECT text FROM labels WHERE id = ?1")?;
        let mut out: [Vec<LabelCount>; 3] = Default::default();
        for (list, count) in out.iter_mut().zip(counts) {
            for (id, failures) in count {
                let text = if id == 0 {
                    None
                } else {
                    text_of.query_row([id], |row| row.get(0)).optional()?
                };
                list.push(LabelCount { text, failures });
            }
            list.sort_by(|a, b| {
                b.failures
                    .cmp(&a.failures)
                    .then(a.text.is_none().cmp(&b.text.is_none()))
                    .then(a.text.cmp(&b.text))
            });
        }
        Ok(out)
    }

    /// Every block, active or ended, of any target, that covers `network` or lies inside
    /// it, newest first.
    fn blocks_overlapping(&self, network: &IpNet) -> Result<Vec<Block>> {
        let (first, last) = key_range(network);
        let mut stmt = self.conn.prepare_cached(&BLOCKS_OVERLAPPING)?;
        let rows = stmt.query_map(
            params![&first[..], &last[..]],
            super::blocks::block_from_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every block, of any target, in force at some moment of `(since, until]`, oldest
    /// first.
    fn blocks_during(&self, since: i64, until: i64) -> Result<Vec<Block>> {
        let mut stmt = self.conn.prepare_cached(&period::BLOCKS_DURING)?;
        let rows = stmt.query_map(params![since, until], super::blocks::block_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Blocks created and ended in `(since, until]` and in force at `until`, per target
    /// (both targets always present, in [`BlockTarget::ALL`] order).
    fn blocks_in_period(&self, since: i64, until: i64) -> Result<Vec<(BlockTarget, BlockCounts)>> {
        let mut stmt = self.conn.prepare_cached(period::BLOCKS_IN_PERIOD)?;
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
        let rows = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(crate::store::counts_per_target(rows))
    }

    /// Every address with a counted failure or server fault in `(since, until]` or in
    /// `(previous_since, since]`, with its counts in each.
    fn address_periods(
        &self,
        previous_since: i64,
        since: i64,
        until: i64,
    ) -> Result<Vec<AddressPeriods>> {
        let current = Split::new(since, until);
        let previous = Split::new(previous_since, since);
        let columns = [
            (EventKind::AuthFailed, current),
            (EventKind::ServerFault, current),
            (EventKind::AuthFailed, previous),
            (EventKind::ServerFault, previous),
        ]
        .map(|(kind, split)| sums::Column { kind, split });
        let sums = sums::period_sums(&self.conn, &columns)?;
        let mut out = Vec::with_capacity(sums.len());
        for (key, counts) in sums::with_keys(&self.conn, &sums)? {
            let (
                Some(address),
                &[
                    failures,
                    server_faults,
                    previous_failures,
                    previous_server_faults,
                ],
            ) = (address::from_key(&key), counts)
            else {
                continue;
            };
            out.push(AddressPeriods {
                address,
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
    fn failures_per_hour(&self, since: i64, until: i64) -> Result<Vec<(i64, i64)>> {
        let mut stmt = self.conn.prepare_cached(&period::FAILURES_PER_HOUR)?;
        bind_split(&Split::new(since, until), &mut stmt, "")?;
        let rows = stmt
            .raw_query()
            .mapped(|row| Ok((row.get::<_, i64>(0)? * rollup::HOUR, row.get(1)?)));
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn events_per_address(
        &self,
        kind: EventKind,
        since: i64,
        until: i64,
        within: Option<&IpNet>,
    ) -> Result<Vec<(IpAddr, i64)>> {
        let everything = (
            [0; super::address::KEY_LEN],
            [0xff; super::address::KEY_LEN],
        );
        let (first, last) = within.map_or(everything, super::blocks::key_range);
        let mut stmt = self
            .conn
            .prepare_cached(&period::EVENTS_PER_ADDRESS[kind.code() as usize])?;
        bind_split(&Split::new(since, until), &mut stmt, "")?;
        rollup::bind(&mut stmt, ":first", &&first[..])?;
        rollup::bind(&mut stmt, ":last", &&last[..])?;
        let rows = stmt
            .raw_query()
            .mapped(|row| Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, i64>(1)?)));
        let mut out = Vec::new();
        for row in rows {
            let (key, n) = row?;
            if let Some(addr) = address::from_key(&key) {
                out.push((addr, n));
            }
        }
        Ok(out)
    }

    fn events_of_address(
        &self,
        addr: IpAddr,
        kind: EventKind,
        since: i64,
        until: i64,
    ) -> Result<i64> {
        let mut stmt = self
            .conn
            .prepare_cached(&period::EVENTS_OF_ADDRESS[kind.code() as usize])?;
        bind_split(&Split::new(since, until), &mut stmt, "")?;
        rollup::bind(&mut stmt, ":ip", &&address::to_key(addr)[..])?;
        let mut rows = stmt.raw_query();
        Ok(match rows.next()? {
            Some(row) => row.get(0)?,
            None => 0,
        })
    }

    /// Figures for monitoring: events stored per kind, unparsed lines over all runs,
    /// and the latest `run` (or, failing that, `ingest`).
    fn metrics(&self) -> Result<StoreMetrics> {
        let (failures, faults) = self.conn.query_row(
            &format!(
                "SELECT TOTAL(events) FILTER (WHERE kind = {FAILED}),
                        TOTAL(events) FILTER (WHERE kind = {FAULT})
                 FROM hour_totals"
            ),
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

    /// The latest run of `command`.
    fn last_run(&self, command: &str) -> Result<Option<LastRun>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT started_at, ended_at, status, untrusted FROM runs WHERE command = ?1
                 ORDER BY id DESC LIMIT 1",
            )?
            .query_row([command], |row| {
                Ok(LastRun {
                    started_at: row.get(0)?,
                    ended_at: row.get(1)?,
                    status: row.get(2)?,
                    untrusted: row.get(3)?,
                })
            })
            .optional()?)
    }
}

impl SqliteStore {
    /// Ranks the addresses (or networks) by their events of `kind` in each period
    /// `(since, until]` of `sinces`: the periods' rollup rows read in one pass and summed
    /// in memory ([`sums`]), ranked as `RANK()` does.
    fn rank_with(
        &self,
        kind: EventKind,
        sinces: &[Option<i64>],
        until: i64,
        grouping: Grouping,
    ) -> Result<Vec<Vec<RankedOffender>>> {
        let columns: Vec<sums::Column> = sinces
            .iter()
            .map(|since| sums::Column {
                kind,
                split: rollup::Split::new(since.unwrap_or(i64::MIN), until),
            })
            .collect();
        let sums = sums::period_sums(&self.conn, &columns)?;
        let keyed = sums::with_keys(&self.conn, &sums)?;
        let network = match grouping {
            Grouping::Address => None,
            Grouping::Network {
                v4_prefix,
                v6_prefix,
            } => Some((v4_prefix.min(32), v6_prefix.min(128))),
        };
        let mut rankings = Vec::with_capacity(columns.len());
        for column in 0..columns.len() {
            let rows = keyed.iter().map(|(key, counts)| (*key, counts[column]));
            let mut out = Vec::new();
            for (key, failures, rank) in sums::ranked(rows, network) {
                // A stored value that is no address key is left out, never shown as one.
                if let Some(addr) = address::from_key(&key) {
                    out.push(RankedOffender {
                        network: grouping.network_of(addr),
                        failures,
                        first_seen: None,
                        last_seen: None,
                        rank,
                    });
                }
            }
            rankings.push(out);
        }
        Ok(rankings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore as Store;

    /// Every report query reaches events and rollups through an index, never by scanning
    /// a table: short periods and small networks stay cheap however long the history.
    #[test]
    fn no_query_scans_events_or_rollups() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("plans.db")).unwrap();
        let mut queries: Vec<(String, String)> = vec![
            ("range totals".into(), RANGE_TOTALS.clone()),
            ("range per day".into(), RANGE_PER_DAY.clone()),
            ("range labels".into(), RANGE_LABELS.clone()),
            ("range failed by".into(), RANGE_FAILED_BY.clone()),
            ("range first and last".into(), RANGE_FIRST_LAST.into()),
            ("label failed by".into(), LABEL_FAILED_BY.into()),
        ];
        for kind in [
            LabelKind::Username,
            LabelKind::Mechanism,
            LabelKind::Service,
        ] {
            queries.push((format!("rank {kind:?}"), rank_labels_sql(kind)));
        }
        for (name, sql) in &queries {
            let plan = store.query_plan(sql);
            println!("-- {name}\n{plan}\n");
            let scans = Store::full_scans(&plan, &["e", "h", "r", "al", "lh", "a", "l"]);
            assert!(scans.is_empty(), "{name} scans {scans:?}:\n{plan}");
        }
        for name in ["range totals", "range per day"] {
            let (_, sql) = queries.iter().find(|(n, _)| n == name).unwrap();
            let plan = store.query_plan(sql);
            assert!(
                plan.contains("USING COVERING INDEX sqlite_autoindex_addresses_1 (ip>? AND ip<?)"),
                "{name} does not take the network as an address range:\n{plan}"
            );
            assert!(
                plan.contains(
                    "r USING INDEX address_days_by_address (address_id=? AND kind=? AND day>? AND day<?)"
                ),
                "{name} does not read whole days from address_days:\n{plan}"
            );
        }
        let plan = store.query_plan(&rank_labels_sql(LabelKind::Username));
        assert!(
            plan.contains("h USING PRIMARY KEY (kind=? AND day=?)"),
            "partial hours do not start from the addresses active then:\n{plan}"
        );
        let plan = store.query_plan(&BLOCKS_OVERLAPPING);
        println!("-- blocks overlapping\n{plan}");
        assert!(plan.contains("USING INDEX blocks_range"), "{plan}");
    }
}
