//! `top`: offenders (addresses or networks), or the usernames, mechanisms and services
//! they failed with, ranked by counted failures over one or more periods ending at the
//! same moment, one row each with a count and a rank per period.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::fmt::Write as _;

use comfy_table::{CellAlignment, Row};
use serde::Serialize;

use crate::parse::EventKind;
use crate::report::{Stamp, new_table, printable};
use crate::store::LabelKind;
use crate::store::{Grouping, ReportStore};

/// A period ending at the reference moment: the last N seconds, or everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Period {
    /// Every stored event.
    All,
    /// The `seconds` before the reference moment; `label` is how the user wrote it.
    Last { label: String, seconds: i64 },
}

impl Period {
    /// Parses `all` or a duration like `15m`, `24h`, `7d`.
    pub fn parse(text: &str) -> Result<Period, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("all") {
            return Ok(Period::All);
        }
        let duration = crate::cli::parse_length(text)?;
        let seconds = i64::try_from(duration.as_secs()).map_err(|_| "period too long")?;
        Ok(Period::Last {
            label: text.to_string(),
            seconds,
        })
    }

    /// How the period is named in output.
    pub fn label(&self) -> &str {
        match self {
            Period::All => "all",
            Period::Last { label, .. } => label,
        }
    }

    /// The exclusive start of the period ending at `until`; `None` for `all`.
    pub fn since(&self, until: i64) -> Option<i64> {
        match self {
            Period::All => None,
            Period::Last { seconds, .. } => Some(until.saturating_sub(*seconds)),
        }
    }
}

/// The count and rank of one offender in one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeriodCount {
    pub period: String,
    pub failures: i64,
    /// `None` when the offender has no failures in this period.
    pub rank: Option<i64>,
}

/// What a ranking ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// Offenders: single addresses or networks.
    Offenders(Grouping),
    /// The texts of the failures: usernames, mechanisms or services.
    Labels(LabelKind),
}

impl Subject {
    /// The name of the ranked column in tables.
    pub fn heading(self) -> &'static str {
        match self {
            Subject::Offenders(Grouping::Address) => "address",
            Subject::Offenders(Grouping::Network { .. }) => "network",
            Subject::Labels(LabelKind::Username) => "user",
            Subject::Labels(LabelKind::Mechanism) => "mechanism",
            Subject::Labels(LabelKind::Service) => "service",
        }
    }

    /// The name of the ranked field in JSON and CSV.
    pub fn field(self) -> &'static str {
        match self {
            Subject::Offenders(Grouping::Address) => "ip",
            other => other.heading(),
        }
    }
}

/// One offender (an address or a network), or one username, mechanism or service,
/// across the requested periods. Exactly one of `ip`, `network`, `user`, `mechanism`,
/// `service` is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopRow {
    /// Rank in the first period (ties share a rank); `None` if absent from it.
    pub rank: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mechanism: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Failures in the first period.
    pub failures: i64,
    /// First and last failure inside the first period (RFC 3339 UTC in output); `None`
    /// for a row with no failure in it (listed for a later period).
    pub first_seen: Option<Stamp>,
    pub last_seen: Option<Stamp>,
    /// Count and rank for each period, in the order asked.
    pub periods: Vec<PeriodCount>,
    /// In a cluster: the first period's count per host (they add up to `failures`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts: Option<super::HostCounts>,
}

impl TopRow {
    /// What the row ranks: the address, network or text.
    pub fn subject(&self) -> &str {
        [
            &self.ip,
            &self.network,
            &self.user,
            &self.mechanism,
            &self.service,
        ]
        .into_iter()
        .find_map(|who| who.as_deref())
        .unwrap_or("")
    }
}

/// How rows are told apart while periods are merged: an address or network key, or a
/// text (texts are unique in the store).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Key {
    Address(ipnet::IpNet),
    Label(String),
}

/// One ranked entry of one period, whatever the subject.
struct Ranked {
    key: Key,
    failures: i64,
    first_seen: i64,
    last_seen: i64,
    rank: i64,
}

/// Ranks `subject` over `periods` ending at `until`, sorted by rank in the first
/// period, then the next; `limit` 0 keeps every row. With `only_new`, only rows whose
/// first counted failure ever lies inside the first period remain, ranked among
/// themselves (`limit` applies after).
pub fn rank(
    store: &dyn ReportStore,
    periods: &[Period],
    until: i64,
    subject: Subject,
    limit: usize,
    only_new: bool,
) -> anyhow::Result<Vec<TopRow>> {
    rank_kind(
        store,
        periods,
        until,
        subject,
        EventKind::AuthFailed,
        limit,
        only_new,
    )
}

/// [`rank`] by the events of `kind` (`top --kind`); other kinds than
/// [`EventKind::AuthFailed`] rank offenders only, and not `only_new`.
pub fn rank_kind(
    store: &dyn ReportStore,
    periods: &[Period],
    until: i64,
    subject: Subject,
    kind: EventKind,
    limit: usize,
    only_new: bool,
) -> anyhow::Result<Vec<TopRow>> {
    let mut entries = merge_periods(store, periods, until, subject, kind)?;
    if only_new {
        keep_new(store, &mut entries, periods, until, subject)?;
    }
    let mut sorted = sorted_by_rank(entries, limit);
    if let (Subject::Offenders(_), Some(first)) = (subject, periods.first()) {
        // First and last seen of the rows shown: a few seeks each, rather than for every
        // offender of the period.
        for (key, entry) in &mut sorted {
            if let (Key::Address(network), Some(_)) = (&*key, entry.counts[0]) {
                entry.seen = store.first_and_last(network, kind, first.since(until), until)?;
                entry.hosts = super::hosts_of(store, network, kind, first.since(until), until)?;
            }
        }
    }
    Ok(sorted
        .into_iter()
        .map(|(key, entry)| to_row(key, &entry, periods, subject))
        .collect())
}

/// Every subject ranked in any of `periods`, with its count and rank in each.
fn merge_periods(
    store: &dyn ReportStore,
    periods: &[Period],
    until: i64,
    subject: Subject,
    kind: EventKind,
) -> anyhow::Result<HashMap<Key, Entry>> {
    let mut entries: HashMap<Key, Entry> = HashMap::default();
    let sinces: Vec<Option<i64>> = periods.iter().map(|p| p.since(until)).collect();
    for (index, ranking) in ranked_in(store, &sinces, until, subject, kind)?
        .into_iter()
        .enumerate()
    {
        // First and last seen are those of the first period, the one rows rank by.
        let times = index == 0;
        for ranked in ranking {
            let entry = entries.entry(ranked.key).or_insert_with(|| Entry {
                counts: vec![None; periods.len()],
                seen: None,
                hosts: None,
            });
            entry.counts[index] = Some((ranked.failures, ranked.rank));
            if times {
                entry.seen = Some((ranked.first_seen, ranked.last_seen));
            }
        }
    }
    Ok(entries)
}

/// `--new`: keeps the entries of the first period whose first counted failure ever lies
/// inside it, ranked among themselves.
fn keep_new(
    store: &dyn ReportStore,
    entries: &mut HashMap<Key, Entry>,
    periods: &[Period],
    until: i64,
    subject: Subject,
) -> anyhow::Result<()> {
    entries.retain(|_, entry| entry.counts[0].is_some());
    if let Some(since) = periods.first().and_then(|p| p.since(until)) {
        let mut seen_before = HashSet::default();
        for key in entries.keys() {
            if failed_by(store, key, since, subject)? {
                seen_before.insert(key.clone());
            }
        }
        entries.retain(|key, _| !seen_before.contains(key));
    }
    rerank(entries, periods.len());
    Ok(())
}

/// The entries by rank in the first period, then the next, then by key; only the first
/// `limit` (0: all). Choosing those first keeps a ranking of many addresses from
/// sorting all of them to show ten.
fn sorted_by_rank(entries: HashMap<Key, Entry>, limit: usize) -> Vec<(Key, Entry)> {
    let ranks = |e: &Entry| -> Vec<i64> {
        e.counts
            .iter()
            .map(|c| c.map_or(i64::MAX, |(_, rank)| rank))
            .collect()
    };
    let mut sorted: Vec<(Vec<i64>, Key, Entry)> = entries
        .into_iter()
        .map(|(key, entry)| (ranks(&entry), key, entry))
        .collect();
    let order = |(ranks_a, key_a, _): &(Vec<i64>, Key, Entry),
                 (ranks_b, key_b, _): &(Vec<i64>, Key, Entry)| {
        ranks_a.cmp(ranks_b).then_with(|| key_a.cmp(key_b))
    };
    if limit > 0 && limit < sorted.len() {
        sorted.select_nth_unstable_by(limit - 1, order);
        sorted.truncate(limit);
    }
    sorted.sort_unstable_by(order);
    sorted
        .into_iter()
        .map(|(_, key, entry)| (key, entry))
        .collect()
}

/// The row of one ranked subject.
fn to_row(key: Key, entry: &Entry, periods: &[Period], subject: Subject) -> TopRow {
    let periods: Vec<PeriodCount> = periods
        .iter()
        .zip(&entry.counts)
        .map(|(period, count)| PeriodCount {
            period: period.label().to_string(),
            failures: count.map_or(0, |(failures, _)| failures),
            rank: count.map(|(_, rank)| rank),
        })
        .collect();
    let mut row = TopRow {
        rank: periods.first().and_then(|p| p.rank),
        ip: None,
        network: None,
        user: None,
        mechanism: None,
        service: None,
        failures: periods.first().map_or(0, |p| p.failures),
        first_seen: entry.seen.map(|(first, _)| Stamp(first)),
        last_seen: entry.seen.map(|(_, last)| Stamp(last)),
        periods,
        hosts: entry.hosts.clone(),
    };
    match (subject, key) {
        (Subject::Offenders(Grouping::Address), Key::Address(network)) => {
            row.ip = Some(network.addr().to_string());
        }
        (Subject::Offenders(Grouping::Network { .. }), Key::Address(network)) => {
            row.network = Some(network.to_string());
        }
        (Subject::Labels(LabelKind::Username), Key::Label(text)) => row.user = Some(text),
        (Subject::Labels(LabelKind::Mechanism), Key::Label(text)) => row.mechanism = Some(text),
        (Subject::Labels(LabelKind::Service), Key::Label(text)) => row.service = Some(text),
        // Keys always match their subject: they were made from it.
        _ => {}
    }
    row
}

/// One ranked subject across the periods being merged.
struct Entry {
    /// (failures, rank) per period; `None` where it has no failure.
    counts: Vec<Option<(i64, i64)>>,
    /// First and last failure in the first period.
    seen: Option<(i64, i64)>,
    /// In a cluster: the first period's count per host.
    hosts: Option<super::HostCounts>,
}

/// Ranks the remaining entries among themselves in every period (`RANK()`: ties share
/// a rank, the next rank skips), after `--new` left only some of them.
fn rerank(entries: &mut HashMap<Key, Entry>, periods: usize) {
    for index in 0..periods {
        let mut failures: Vec<i64> = entries
            .values()
            .filter_map(|e| e.counts[index].map(|(n, _)| n))
            .collect();
        failures.sort_unstable_by(|a, b| b.cmp(a));
        for entry in entries.values_mut() {
            if let Some((n, rank)) = &mut entry.counts[index] {
                *rank = failures.partition_point(|more| more > n) as i64 + 1;
            }
        }
    }
}

/// The rankings of `subject` from the store, one per period `(since, until]` of
/// `sinces`. Offenders come without first and last seen (`i64::MAX` and `i64::MIN`):
/// [`rank`] looks them up for the rows it shows.
fn ranked_in(
    store: &dyn ReportStore,
    sinces: &[Option<i64>],
    until: i64,
    subject: Subject,
    kind: EventKind,
) -> anyhow::Result<Vec<Vec<Ranked>>> {
    if kind != EventKind::AuthFailed && !matches!(subject, Subject::Offenders(_)) {
        anyhow::bail!("only addresses and networks are ranked by {}", kind.name());
    }
    let offender = |o: crate::store::RankedOffender| Ranked {
        key: Key::Address(o.network),
        failures: o.failures,
        first_seen: i64::MAX,
        last_seen: i64::MIN,
        rank: o.rank,
    };
    let label = |l: crate::store::RankedLabel| Ranked {
        key: Key::Label(l.text),
        failures: l.failures,
        first_seen: l.first_seen,
        last_seen: l.last_seen,
        rank: l.rank,
    };
    Ok(match subject {
        Subject::Offenders(grouping) => store
            .rank_offenders_over(kind, sinces, until, grouping)?
            .into_iter()
            .map(|ranking| ranking.into_iter().map(offender).collect())
            .collect(),
        Subject::Labels(kind) => sinces
            .iter()
            .map(|since| {
                Ok(store
                    .rank_labels(*since, until, kind)?
                    .into_iter()
                    .map(label)
                    .collect())
            })
            .collect::<anyhow::Result<_>>()?,
    })
}

/// Whether `key` (an address, network or text of `subject`) had a counted failure at or
/// before `at`: then it is not new after it. One seek per candidate, so `--new` costs
/// what the period ranks, not the history.
fn failed_by(
    store: &dyn ReportStore,
    key: &Key,
    at: i64,
    subject: Subject,
) -> anyhow::Result<bool> {
    Ok(match (subject, key) {
        (Subject::Offenders(_), Key::Address(network)) => store.failed_by(network, at)?,
        (Subject::Labels(kind), Key::Label(text)) => store.label_failed_by(kind, text, at)?,
        // Keys always match their subject: they were made from it.
        _ => false,
    })
}

/// A time for a table or CSV cell: RFC 3339, or nothing.
fn stamp_or_blank(at: Option<Stamp>) -> String {
    at.map(|t| t.to_string()).unwrap_or_default()
}

/// A row's counts per host in one cell, `mx1:4 mx2:4 sub:4` (host names hold no blank),
/// or nothing for a row without them; the caller sanitizes it for its output.
fn hosts_cell(hosts: Option<&super::HostCounts>) -> String {
    hosts.map_or_else(String::new, |hosts| {
        hosts
            .iter()
            .map(|(host, n)| format!("{host}:{n}"))
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// The rows as a table for people. Texts are shown with control characters escaped.
/// Rows read from a cluster get a last column, `hosts`: the first period's count per
/// host.
pub fn to_table(rows: &[TopRow], periods: &[Period], subject: Subject) -> String {
    let mut header = vec!["rank".to_string(), subject.heading().to_string()];
    if periods.len() == 1 {
        header.push(format!("failures ({})", periods[0].label()));
    } else {
        header.extend(periods.iter().map(|p| format!("{} (rank)", p.label())));
    }
    header.extend(["first seen".to_string(), "last seen".to_string()]);
    let per_host = rows.iter().any(|row| row.hosts.is_some());
    if per_host {
        header.push("hosts".to_string());
    }
    let mut table = new_table(header);
    for row in rows {
        let mut cells: Vec<String> = vec![
            row.rank.map_or("-".to_string(), |r| r.to_string()),
            printable(row.subject()),
        ];
        if periods.len() == 1 {
            cells.push(row.failures.to_string());
        } else {
            cells.extend(row.periods.iter().map(|p| match p.rank {
                Some(rank) => format!("{} ({rank})", p.failures),
                None => "0".to_string(),
            }));
        }
        cells.push(stamp_or_blank(row.first_seen));
        cells.push(stamp_or_blank(row.last_seen));
        if per_host {
            cells.push(printable(&hosts_cell(row.hosts.as_ref())));
        }
        table.add_row(Row::from(cells));
    }
    let numeric = periods.len().max(1);
    for index in 2..2 + numeric {
        if let Some(column) = table.column_mut(index) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    table.to_string()
}

/// The rows as CSV with a header; with several periods, a failures and rank column each;
/// read from a cluster, a last `hosts` column (`mx1:4 mx2:4`).
/// Usernames, mechanisms and services (attacker-chosen text) go through [`super::csv::cell`].
pub fn to_csv(rows: &[TopRow], periods: &[Period], subject: Subject) -> String {
    let mut out = String::new();
    let _ = write!(out, "rank,{},failures", subject.field());
    out.push_str(",first_seen,last_seen");
    if periods.len() > 1 {
        for p in periods {
            let _ = write!(out, ",failures_{0},rank_{0}", p.label());
        }
    }
    let per_host = rows.iter().any(|row| row.hosts.is_some());
    if per_host {
        out.push_str(",hosts");
    }
    out.push('\n');
    for row in rows {
        let rank = row.rank.map(|r| r.to_string()).unwrap_or_default();
        let _ = write!(
            out,
            "{rank},{},{}",
            super::csv::cell(row.subject()),
            row.failures
        );
        let _ = write!(
            out,
            ",{},{}",
            stamp_or_blank(row.first_seen),
            stamp_or_blank(row.last_seen)
        );
        if periods.len() > 1 {
            for p in &row.periods {
                let rank = p.rank.map(|r| r.to_string()).unwrap_or_default();
                let _ = write!(out, ",{},{rank}", p.failures);
            }
        }
        if per_host {
            let hosts = hosts_cell(row.hosts.as_ref());
            let _ = write!(out, ",{}", super::csv::cell(&hosts));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_durations_and_all() {
        assert_eq!(Period::parse("all"), Ok(Period::All));
        assert_eq!(
            Period::parse("7d"),
            Ok(Period::Last {
                label: "7d".into(),
                seconds: 7 * 86400
            })
        );
        assert_eq!(Period::parse("15m").unwrap().since(1000), Some(100));
        assert!(Period::parse("7 parsecs").is_err());
        assert!(Period::parse("0s").is_err());
    }

    #[test]
    fn the_hosts_column_goes_through_the_sanitizer() {
        let row = |ip: &str, hosts: Option<&[(&str, i64)]>| TopRow {
            rank: Some(1),
            ip: Some(ip.into()),
            network: None,
            user: None,
            mechanism: None,
            service: None,
            failures: 5,
            first_seen: None,
            last_seen: None,
            periods: Vec::new(),
            hosts: hosts.map(|h| h.iter().map(|(n, c)| (n.to_string(), *c)).collect()),
        };
        let rows = [
            row("192.0.2.1", Some(&[("=evil", 2), ("mx2", 3)])),
            row("192.0.2.2", None),
        ];
        let periods = [Period::All];
        let subject = Subject::Offenders(crate::store::Grouping::Address);
        let csv = to_csv(&rows, &periods, subject);
        assert_eq!(
            csv,
            "rank,ip,failures,first_seen,last_seen,hosts\n\
             1,192.0.2.1,5,,,\"'=evil:2 mx2:3\"\n\
             1,192.0.2.2,5,,,\n"
        );
        let escaped = to_table(
            &[row("192.0.2.1", Some(&[("a\u{1b}[2J", 1)]))],
            &periods,
            subject,
        );
        assert!(escaped.contains("a\\u{1b}[2J:1"), "{escaped}");
        assert!(!to_csv(&rows[1..], &periods, subject).contains("hosts"));
    }
}
