//! `top`: offenders ranked by counted failures over one or more periods ending at the
//! same moment, one row per offender with a count and a rank per period.

use std::collections::HashMap;
use std::fmt::Write as _;

use comfy_table::{CellAlignment, Row};
use serde::Serialize;

use crate::report::{format_time, new_table};
use crate::store::{Grouping, Store, address};

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
        let duration = crate::cli::parse_duration(text)?;
        let seconds = i64::try_from(duration.as_secs()).map_err(|_| "period too long")?;
        if seconds == 0 {
            return Err(format!("period {text:?} is empty"));
        }
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

/// One offender (an address or a network) across the requested periods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopRow {
    /// Rank in the first period (ties share a rank); `None` if absent from it.
    pub rank: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Failures in the first period.
    pub failures: i64,
    /// First and last failure inside the longest period, RFC 3339 UTC.
    pub first_seen: String,
    pub last_seen: String,
    /// Count and rank for each period, in the order asked.
    pub periods: Vec<PeriodCount>,
}

/// Ranks offenders over `periods` ending at `until`, sorted by rank in the first
/// period, then the next; `limit` 0 keeps every row.
pub fn rank(
    store: &Store,
    periods: &[Period],
    until: i64,
    grouping: Grouping,
    limit: usize,
) -> anyhow::Result<Vec<TopRow>> {
    struct Entry {
        counts: Vec<Option<(i64, i64)>>,
        first: i64,
        last: i64,
    }
    let mut entries: HashMap<[u8; 16], Entry> = HashMap::new();
    for (index, period) in periods.iter().enumerate() {
        for offender in store.rank_offenders(period.since(until), until, grouping)? {
            let entry = entries.entry(offender.key).or_insert_with(|| Entry {
                counts: vec![None; periods.len()],
                first: offender.first_seen,
                last: offender.last_seen,
            });
            entry.counts[index] = Some((offender.failures, offender.rank));
            entry.first = entry.first.min(offender.first_seen);
            entry.last = entry.last.max(offender.last_seen);
        }
    }
    let mut sorted: Vec<([u8; 16], Entry)> = entries.into_iter().collect();
    sorted.sort_by(|(key_a, a), (key_b, b)| {
        let ranks = |e: &Entry| -> Vec<i64> {
            e.counts
                .iter()
                .map(|c| c.map_or(i64::MAX, |(_, rank)| rank))
                .collect()
        };
        ranks(a).cmp(&ranks(b)).then(key_a.cmp(key_b))
    });
    if limit > 0 {
        sorted.truncate(limit);
    }
    Ok(sorted
        .into_iter()
        .map(|(key, entry)| {
            let (ip, network) = match grouping {
                Grouping::Address => (address::from_key(&key).map(|a| a.to_string()), None),
                Grouping::Network {
                    v4_prefix,
                    v6_prefix,
                } => (
                    None,
                    Some(address::network_label(&key, v4_prefix, v6_prefix)),
                ),
            };
            let periods: Vec<PeriodCount> = periods
                .iter()
                .zip(&entry.counts)
                .map(|(period, count)| PeriodCount {
                    period: period.label().to_string(),
                    failures: count.map_or(0, |(failures, _)| failures),
                    rank: count.map(|(_, rank)| rank),
                })
                .collect();
            TopRow {
                rank: periods[0].rank,
                failures: periods[0].failures,
                ip,
                network,
                first_seen: format_time(entry.first),
                last_seen: format_time(entry.last),
                periods,
            }
        })
        .collect())
}

/// The rows as a table for people.
pub fn to_table(rows: &[TopRow], periods: &[Period], by_network: bool) -> String {
    let mut header = vec![
        "rank".to_string(),
        if by_network { "network" } else { "address" }.to_string(),
    ];
    if periods.len() == 1 {
        header.push(format!("failures ({})", periods[0].label()));
    } else {
        header.extend(periods.iter().map(|p| format!("{} (rank)", p.label())));
    }
    header.extend(["first seen".to_string(), "last seen".to_string()]);
    let mut table = new_table(header);
    for row in rows {
        let mut cells: Vec<String> = vec![
            row.rank.map_or("-".to_string(), |r| r.to_string()),
            row.ip
                .clone()
                .or_else(|| row.network.clone())
                .unwrap_or_default(),
        ];
        if periods.len() == 1 {
            cells.push(row.failures.to_string());
        } else {
            cells.extend(row.periods.iter().map(|p| match p.rank {
                Some(rank) => format!("{} ({rank})", p.failures),
                None => "0".to_string(),
            }));
        }
        cells.push(row.first_seen.clone());
        cells.push(row.last_seen.clone());
        table.add_row(Row::from(cells));
    }
    for index in 2..2 + periods.len().max(1) {
        if let Some(column) = table.column_mut(index) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    table.to_string()
}

/// The rows as CSV with a header; with several periods, a failures and rank column each.
pub fn to_csv(rows: &[TopRow], periods: &[Period], by_network: bool) -> String {
    let mut out = String::new();
    out.push_str(if by_network {
        "rank,network,failures,first_seen,last_seen"
    } else {
        "rank,ip,failures,first_seen,last_seen"
    });
    if periods.len() > 1 {
        for p in periods {
            let _ = write!(out, ",failures_{0},rank_{0}", p.label());
        }
    }
    out.push('\n');
    for row in rows {
        let who = row.ip.as_deref().or(row.network.as_deref()).unwrap_or("");
        let rank = row.rank.map(|r| r.to_string()).unwrap_or_default();
        let _ = write!(
            out,
            "{rank},{who},{},{},{}",
            row.failures, row.first_seen, row.last_seen
        );
        if periods.len() > 1 {
            for p in &row.periods {
                let rank = p.rank.map(|r| r.to_string()).unwrap_or_default();
                let _ = write!(out, ",{},{rank}", p.failures);
            }
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
}
