//! Named queries for the reports people read: everything about one address or network
//! (`show`), and rankings of the texts attackers tried (`top --by user|mechanism|service`,
//! `top --new`).
//!
//! Every query walks `addresses` as the outer loop and seeks into the primary key of
//! `events` (address_id, kind, ts) per address, like [`super::FAILURES_PER_ADDRESS`]: a
//! period or a network costs what lies inside it, not the whole history. `CROSS JOIN`
//! pins that order; left to itself the planner may scan all of `events` instead.

use std::collections::HashSet;
use std::sync::LazyLock;

use ipnet::IpNet;
use rusqlite::params;

use super::blocks::{Block, key_range};
use super::{Result, Store};

/// Which text of an event a report groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LabelKind {
    /// `sasl_username=`, when Postfix logged it.
    Username,
    /// The SASL mechanism, as the client wrote it (`LOGIN` and `login` stay apart).
    Mechanism,
    /// The process tag of the smtpd that logged it (`postfix/submission/smtpd`).
    Service,
}

impl LabelKind {
    /// The column of `events` that refers to the text. Only these fixed names ever
    /// reach SQL.
    fn column(self) -> &'static str {
        match self {
            LabelKind::Username => "username_id",
            LabelKind::Mechanism => "mechanism_id",
            LabelKind::Service => "service_id",
        }
    }
}

/// One text (a username, mechanism or service) ranked over a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RankedLabel {
    /// The text as logged.
    pub text: String,
    /// Counted failures with it inside the period.
    pub failures: i64,
    /// Distinct addresses that failed with it inside the period.
    pub addresses: i64,
    /// First and last failure with it inside the period (unix seconds).
    pub first_seen: i64,
    pub last_seen: i64,
    /// `RANK() OVER (ORDER BY failures DESC)`: ties share a rank.
    pub rank: i64,
}

/// The totals of one address or network up to a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RangeTotals {
    /// Addresses inside with at least one counted failure.
    pub addresses: i64,
    /// Counted failures (kind 0).
    pub failures: i64,
    /// First and last counted failure (unix seconds); `None` without any.
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
    /// Server-side faults (kind 1): recorded, never counted against the client.
    pub server_faults: i64,
}

/// How many counted failures carried one text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelCount {
    /// The text; `None` for failures logged without one (only usernames can be missing).
    pub text: Option<String>,
    pub failures: i64,
}

/// Counted failures of the addresses in the key range `?3..=?4` up to `?2` (and after
/// `?1`): per address, a `COUNT(*)` over one primary-key range and one seek each for the
/// first and last, so even the busiest address costs little.
const RANGE_TOTALS: &str = "
    SELECT COUNT(*), TOTAL(failures), MIN(first_seen), MAX(last_seen)
    FROM (SELECT (SELECT COUNT(*) FROM events e
                  WHERE e.address_id = a.id AND e.kind = 0 AND e.ts > ?1 AND e.ts <= ?2)
                     AS failures,
                 (SELECT MIN(e.ts) FROM events e
                  WHERE e.address_id = a.id AND e.kind = 0 AND e.ts > ?1 AND e.ts <= ?2)
                     AS first_seen,
                 (SELECT MAX(e.ts) FROM events e
                  WHERE e.address_id = a.id AND e.kind = 0 AND e.ts > ?1 AND e.ts <= ?2)
                     AS last_seen
          FROM addresses AS a
          WHERE a.ip BETWEEN ?3 AND ?4)
    WHERE failures > 0";

/// Server-side faults of the addresses in the key range `?1..=?2` up to `?3`.
const RANGE_FAULTS: &str = "
    SELECT COUNT(*) FROM addresses AS a CROSS JOIN events AS e ON e.address_id = a.id
    WHERE a.ip BETWEEN ?1 AND ?2 AND e.kind = 1 AND e.ts <= ?3";

/// Counted failures of the addresses in the key range `?1..=?2` per UTC day, from the
/// midnight `?3` up to `?4`: the day is the offset from `?3` in whole days.
const RANGE_PER_DAY: &str = "
    SELECT (e.ts - ?3) / 86400 AS day, COUNT(*)
    FROM addresses AS a CROSS JOIN events AS e ON e.address_id = a.id
    WHERE a.ip BETWEEN ?1 AND ?2 AND e.kind = 0 AND e.ts >= ?3 AND e.ts <= ?4
    GROUP BY day
    ORDER BY day";

/// Counted failures of the addresses in the key range `?1..=?2` up to `?3`, per text
/// of one kind (`{column}`), most first; grouped by id, the texts joined afterwards.
fn range_per_label_sql(kind: LabelKind) -> String {
    let column = kind.column();
    format!(
        "SELECT l.text, c.failures
         FROM (SELECT e.{column} AS label_id, COUNT(*) AS failures
               FROM addresses AS a CROSS JOIN events AS e ON e.address_id = a.id
               WHERE a.ip BETWEEN ?1 AND ?2 AND e.kind = 0 AND e.ts <= ?3
               GROUP BY e.{column}) AS c
         LEFT JOIN labels AS l ON l.id = c.label_id
         ORDER BY c.failures DESC, l.text IS NULL, l.text"
    )
}

/// Texts of one kind ranked by counted failures inside `(?1, ?2]`, with the distinct
/// addresses that used each: the per-address seek pattern of
/// [`super::FAILURES_PER_ADDRESS`], grouped by the text's id instead of the address.
/// Events without the text (no `sasl_username=`) are left out.
fn rank_labels_sql(kind: LabelKind) -> String {
    let column = kind.column();
    format!(
        "SELECT l.text, c.failures, c.addresses, c.first_seen, c.last_seen,
                RANK() OVER (ORDER BY c.failures DESC) AS rank
         FROM (SELECT e.{column} AS label_id, COUNT(*) AS failures,
                      COUNT(DISTINCT e.address_id) AS addresses,
                      MIN(e.ts) AS first_seen, MAX(e.ts) AS last_seen
               FROM addresses AS a CROSS JOIN events AS e ON e.address_id = a.id
               WHERE e.kind = 0 AND e.ts > ?1 AND e.ts <= ?2 AND e.{column} IS NOT NULL
               GROUP BY e.{column}) AS c
         JOIN labels AS l ON l.id = c.label_id
         ORDER BY rank, l.text"
    )
}

/// Texts of one kind that some counted failure at or before `?1` carried: one range of
/// the primary key per address, the ids collected once each.
fn labels_failing_by_sql(kind: LabelKind) -> String {
    let column = kind.column();
    format!(
        "SELECT l.text FROM labels AS l
         WHERE l.id IN (SELECT e.{column}
                        FROM addresses AS a CROSS JOIN events AS e ON e.address_id = a.id
                        WHERE e.kind = 0 AND e.ts <= ?1 AND e.{column} IS NOT NULL)"
    )
}

/// Addresses with a counted failure at or before `?1`: one seek per address.
const ADDRESSES_FAILING_BY: &str = "
    SELECT a.ip FROM addresses AS a
    WHERE EXISTS (SELECT 1 FROM events AS e WHERE e.address_id = a.id AND e.kind = 0 AND e.ts <= ?1)";

/// The SQL of each label query, built once per kind.
static RANK_LABELS: LazyLock<[String; 3]> = LazyLock::new(|| per_kind(rank_labels_sql));
static RANGE_PER_LABEL: LazyLock<[String; 3]> = LazyLock::new(|| per_kind(range_per_label_sql));
static LABELS_FAILING_BY: LazyLock<[String; 3]> = LazyLock::new(|| per_kind(labels_failing_by_sql));

fn per_kind(build: fn(LabelKind) -> String) -> [String; 3] {
    [
        build(LabelKind::Username),
        build(LabelKind::Mechanism),
        build(LabelKind::Service),
    ]
}

fn kind_index(kind: LabelKind) -> usize {
    match kind {
        LabelKind::Username => 0,
        LabelKind::Mechanism => 1,
        LabelKind::Service => 2,
    }
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

impl Store {
    /// Usernames, mechanisms or services ranked by counted failures inside
    /// `(since, until]` (`since = None`: from the beginning), ties sharing a rank, each
    /// with the number of distinct addresses that failed with it.
    pub fn rank_labels(
        &self,
        since: Option<i64>,
        until: i64,
        kind: LabelKind,
    ) -> Result<Vec<RankedLabel>> {
        let mut stmt = self.conn.prepare_cached(&RANK_LABELS[kind_index(kind)])?;
        let rows = stmt.query_map(params![since.unwrap_or(i64::MIN), until], |row| {
            Ok(RankedLabel {
                text: row.get(0)?,
                failures: row.get(1)?,
                addresses: row.get(2)?,
                first_seen: row.get(3)?,
                last_seen: row.get(4)?,
                rank: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The 16-byte keys of the addresses that failed at or before `at`: whoever is not
    /// among them failed for the first time after `at` (for `top --new`).
    pub fn addresses_failing_by(&self, at: i64) -> Result<HashSet<[u8; 16]>> {
        let mut stmt = self.conn.prepare_cached(ADDRESSES_FAILING_BY)?;
        let rows = stmt.query_map([at], |row| row.get::<_, Vec<u8>>(0))?;
        let mut keys = HashSet::new();
        for key in rows {
            if let Ok(key) = <[u8; 16]>::try_from(key?.as_slice()) {
                keys.insert(key);
            }
        }
        Ok(keys)
    }

    /// The texts of one kind that a counted failure at or before `at` carried (for
    /// `top --new --by user|mechanism|service`). Reads every event up to `at`: texts
    /// have no index of their own.
    pub fn labels_failing_by(&self, at: i64, kind: LabelKind) -> Result<HashSet<String>> {
        let mut stmt = self
            .conn
            .prepare_cached(&LABELS_FAILING_BY[kind_index(kind)])?;
        let rows = stmt.query_map([at], |row| row.get::<_, String>(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Counted failures and server faults of every address inside `network` up to
    /// `until`, with the first and last failure.
    pub fn range_totals(&self, network: &IpNet, until: i64) -> Result<RangeTotals> {
        let (first, last) = key_range(network);
        let (addresses, failures, first_seen, last_seen) = self
            .conn
            .prepare_cached(RANGE_TOTALS)?
            .query_row(params![i64::MIN, until, &first[..], &last[..]], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, f64>(1)?,
                    row.get(2)?,
                    row.get(3)?,
                ))
            })?;
        let server_faults = self
            .conn
            .prepare_cached(RANGE_FAULTS)?
            .query_row(params![&first[..], &last[..], until], |row| row.get(0))?;
        Ok(RangeTotals {
            addresses,
            failures: failures as i64,
            first_seen,
            last_seen,
            server_faults,
        })
    }

    /// Counted failures of the addresses inside `network` per UTC day from the midnight
    /// `from` up to `until`: (start of the day, failures), oldest first, days without
    /// failures left out.
    pub fn range_failures_per_day(
        &self,
        network: &IpNet,
        from: i64,
        until: i64,
    ) -> Result<Vec<(i64, i64)>> {
        let (first, last) = key_range(network);
        let mut stmt = self.conn.prepare_cached(RANGE_PER_DAY)?;
        let rows = stmt.query_map(params![&first[..], &last[..], from, until], |row| {
            Ok((from + row.get::<_, i64>(0)? * 86_400, row.get(1)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Counted failures of the addresses inside `network` up to `until` per username,
    /// mechanism or service, most first (ties by text; failures without a username last
    /// among their tie).
    pub fn range_label_counts(
        &self,
        network: &IpNet,
        until: i64,
        kind: LabelKind,
    ) -> Result<Vec<LabelCount>> {
        let (first, last) = key_range(network);
        let mut stmt = self
            .conn
            .prepare_cached(&RANGE_PER_LABEL[kind_index(kind)])?;
        let rows = stmt.query_map(params![&first[..], &last[..], until], |row| {
            Ok(LabelCount {
                text: row.get(0)?,
                failures: row.get(1)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every block, active or ended, of any target, that covers `network` or lies inside
    /// it, newest first.
    pub fn blocks_overlapping(&self, network: &IpNet) -> Result<Vec<Block>> {
        let (first, last) = key_range(network);
        let mut stmt = self.conn.prepare_cached(&BLOCKS_OVERLAPPING)?;
        let rows = stmt.query_map(
            params![&first[..], &last[..]],
            super::blocks::block_from_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(store: &Store, sql: &str) -> String {
        store.query_plan(sql)
    }

    /// Every report query reaches events through their primary key, per address, and
    /// never scans the table: short periods and small networks stay cheap however long
    /// the history.
    #[test]
    fn every_query_seeks_events_by_address() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("plans.db")).unwrap();
        let mut queries: Vec<(String, String)> = vec![
            ("range totals".into(), RANGE_TOTALS.into()),
            ("range faults".into(), RANGE_FAULTS.into()),
            ("range per day".into(), RANGE_PER_DAY.into()),
            ("addresses failing by".into(), ADDRESSES_FAILING_BY.into()),
        ];
        for kind in [
            LabelKind::Username,
            LabelKind::Mechanism,
            LabelKind::Service,
        ] {
            queries.push((format!("rank {kind:?}"), rank_labels_sql(kind)));
            queries.push((format!("range per {kind:?}"), range_per_label_sql(kind)));
            queries.push((format!("{kind:?} failing by"), labels_failing_by_sql(kind)));
        }
        for (name, sql) in &queries {
            let plan = plan(&store, sql);
            println!("-- {name}\n{plan}\n");
            assert!(
                plan.contains("USING PRIMARY KEY (address_id=? AND kind=?"),
                "{name} does not seek events by address and kind:\n{plan}"
            );
            assert!(!plan.contains("SCAN e"), "{name} scans events:\n{plan}");
        }
        for name in ["range totals", "range faults", "range per day"] {
            let (_, sql) = queries.iter().find(|(n, _)| n == name).unwrap();
            let plan = plan(&store, sql);
            assert!(
                plan.contains("USING COVERING INDEX sqlite_autoindex_addresses_1 (ip>? AND ip<?)"),
                "{name} does not take the network as an address range:\n{plan}"
            );
        }
        let plan = plan(&store, &BLOCKS_OVERLAPPING);
        println!("-- blocks overlapping\n{plan}");
        assert!(plan.contains("USING INDEX blocks_range"), "{plan}");
    }
}
