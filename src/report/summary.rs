//! `report`: a summary of one period (ending now, or at `--as-of`) against the period of
//! the same length before it: failures, addresses, networks and server faults, failures
//! per hour, the top addresses and usernames, and the blocks created, ended and in force.
//!
//! Periods are `(since, until]`, like `top --period`: a failure at exactly `until`
//! counts, one at exactly `since` belongs to the previous period.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::net::IpAddr;

use comfy_table::CellAlignment;
use serde::Serialize;

use crate::config::Networks;
use crate::parse::EventKind;
use crate::report::{BlockView, Stamp, new_table, printable};
use crate::store::BlockTarget;
use crate::store::LabelKind;
use crate::store::{AddressPeriods, BlockCounts};
use crate::store::{Grouping, ReportStore};

/// How many addresses and usernames the top lists hold.
pub const TOP: usize = 10;

/// Width of the longest bar in the table's chart.
const BAR_WIDTH: i64 = 40;

/// Periods longer than this are charted per day (or week, or month) in the table and the
/// HTML page.
pub(crate) const HOURLY_CHART_MAX: i64 = 48 * 3600;

/// Charts spanning more than this are drawn per week, and more than [`WEEKLY_CHART_MAX`]
/// per month, so that no chart has more than about a hundred bars.
const DAILY_CHART_MAX: i64 = 92 * 86_400;
const WEEKLY_CHART_MAX: i64 = 730 * 86_400;

/// Periods up to this long list every hour in `per_hour` and chart from their start;
/// longer ones (`--period 10000000d`) list only the hours with failures and chart from
/// the first failure in them, so memory and output follow the stored data, not the
/// length asked for.
pub(crate) const FULL_CHART_MAX: i64 = 400 * 86_400;

/// The summary, as `report --format json` prints it.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// The period as written (`7d`).
    pub period: String,
    /// Its length in seconds.
    pub period_seconds: i64,
    /// The period: after `since`, up to and including `until` (RFC 3339 UTC in output).
    pub since: Stamp,
    pub until: Stamp,
    /// The previous period: after `previous_since`, up to and including `since`.
    pub previous_since: Stamp,
    /// Totals of this period.
    pub current: Totals,
    /// Totals of the previous period.
    pub previous: Totals,
    /// Counted failures per UTC clock hour of this period, oldest first, hours without
    /// failures included (for periods over 400 days only the hours with failures). The
    /// first and last hours may be partial.
    pub per_hour: Vec<HourCount>,
    /// The failures chart of the table and the HTML page: per hour for periods up to
    /// 48 hours, per day up to 92 days, per week up to two years, per month beyond.
    pub chart: Chart,
    /// The [`TOP`] addresses with the most counted failures in this period.
    pub top_addresses: Vec<TopAddress>,
    /// The [`TOP`] usernames most tried in this period (failures without one left out).
    pub top_usernames: Vec<TopUsername>,
    /// Blocks per target: created and ended in this period, in force at its end.
    pub blocks: Blocks,
    /// Every block in force at some moment of this period, oldest first: the block
    /// timeline, and each block's share of the rejected connections. A block that ended
    /// shortly before the period is listed too when its map entry, not yet rewritten,
    /// refused connections in it.
    pub block_timeline: Vec<BlockInPeriod>,
    /// Connections Postfix refused because of a saslguard block.
    pub efficacy: Efficacy,
}

/// A block in force during the period, with the connections it made Postfix refuse.
#[derive(Debug, Serialize)]
pub struct BlockInPeriod {
    #[serde(flatten)]
    pub block: BlockView,
    /// When it stopped (or will stop) being in force: the earlier of its end and its
    /// expiry (RFC 3339 UTC in output); `None` while permanent.
    pub ends_at: Option<Stamp>,
    /// Postfix `NOQUEUE: reject` lines inside the period attributed to this block (the
    /// newest postfix block covering the client when the line was logged). Always 0 for
    /// firewall blocks: their packets never reach Postfix.
    pub rejected: i64,
}

/// Block efficacy: `NOQUEUE: reject: ... Client host rejected: <reject_text>` lines,
/// which Postfix logs for every connection a saslguard map entry refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Efficacy {
    /// Refused connections in this period.
    pub rejected: i64,
    /// Refused connections in the previous period.
    pub previous_rejected: i64,
    /// Refused connections in this period from addresses no postfix block covered at
    /// the time (a map entry left over from before saslguard, or written by hand).
    pub unattributed: i64,
}

/// The totals of one period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Counted failures.
    pub failures: i64,
    /// Distinct addresses with a counted failure.
    pub addresses: i64,
    /// Distinct networks (IPv4 /24, IPv6 /64 unless configured) with a counted failure.
    pub networks: i64,
    /// Server-side faults: the authentication backend failing, never the client's fault.
    pub server_faults: i64,
    /// `Invalid authentication mechanism` failures: stored apart, counted toward blocks
    /// only with `[policy] count_invalid_mechanism`.
    pub invalid_mechanism: i64,
}

/// Counted failures in one UTC hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HourCount {
    /// Start of the hour (RFC 3339 UTC in output).
    pub hour: Stamp,
    pub failures: i64,
}

/// The unit of a chart's bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChartUnit {
    Hour,
    Day,
    /// ISO weeks, Monday to Sunday (UTC).
    Week,
    Month,
}

impl ChartUnit {
    /// The unit's name in text.
    pub fn as_str(self) -> &'static str {
        match self {
            ChartUnit::Hour => "hour",
            ChartUnit::Day => "day",
            ChartUnit::Week => "week",
            ChartUnit::Month => "month",
        }
    }

    /// The unit for a chart spanning `seconds`.
    fn for_span(seconds: i64) -> ChartUnit {
        match seconds {
            s if s <= HOURLY_CHART_MAX => ChartUnit::Hour,
            s if s <= DAILY_CHART_MAX => ChartUnit::Day,
            s if s <= WEEKLY_CHART_MAX => ChartUnit::Week,
            _ => ChartUnit::Month,
        }
    }

    /// The start (unix seconds, UTC) of the bar holding `ts`.
    fn start_of(self, ts: i64) -> i64 {
        use chrono::{Datelike, NaiveDate};
        let day = ts.div_euclid(86_400) * 86_400;
        match self {
            ChartUnit::Hour => ts.div_euclid(3600) * 3600,
            ChartUnit::Day => day,
            // 1970-01-01 was a Thursday: Mondays are 4 days after a multiple of 7 days.
            ChartUnit::Week => day - (ts.div_euclid(86_400) - 4).rem_euclid(7) * 86_400,
            ChartUnit::Month => chrono::DateTime::from_timestamp(ts, 0)
                .and_then(|t| NaiveDate::from_ymd_opt(t.year(), t.month(), 1))
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map_or(day, |t| t.and_utc().timestamp()),
        }
    }

    /// The start of the bar after the one starting at `start`.
    fn next(self, start: i64) -> i64 {
        match self {
            ChartUnit::Hour => start + 3600,
            ChartUnit::Day => start + 86_400,
            ChartUnit::Week => start + 7 * 86_400,
            // Day 32 of a month lies in the next one.
            ChartUnit::Month => self.start_of(start + 32 * 86_400),
        }
    }
}

/// Counted failures per bar: every bar from the first to the last, zeros included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chart {
    pub unit: ChartUnit,
    pub bars: Vec<ChartBar>,
}

/// One bar of a chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChartBar {
    /// The start of the bar (hour, day, Monday, first of the month), RFC 3339 UTC in
    /// output.
    pub start: Stamp,
    pub failures: i64,
}

impl Chart {
    /// The chart of the failures `per_hour` ((start of the hour, failures), oldest
    /// first) from `from` to `until` (inclusive times), in the unit their span calls for.
    /// Holds one bar per unit of the span: about a hundred at most, however long.
    pub fn of_hours(per_hour: &[(i64, i64)], from: i64, until: i64) -> Chart {
        let unit = ChartUnit::for_span(until - from + 1);
        let mut bars: Vec<(i64, i64)> = Vec::new();
        let mut start = unit.start_of(from);
        let last = unit.start_of(until);
        let mut hours = per_hour.iter().peekable();
        while start <= last {
            let end = unit.next(start);
            let mut failures = 0;
            while let Some(&&(hour, n)) = hours.peek() {
                if hour >= end {
                    break;
                }
                if hour >= start {
                    failures += n;
                }
                hours.next();
            }
            bars.push((start, failures));
            start = end;
        }
        Chart {
            unit,
            bars: bars
                .into_iter()
                .map(|(start, failures)| ChartBar {
                    start: Stamp(start),
                    failures,
                })
                .collect(),
        }
    }
}

/// One of the top addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopAddress {
    /// Ties share a rank.
    pub rank: i64,
    pub ip: IpAddr,
    pub failures: i64,
    /// In a cluster: the period's failures per host (they add up to `failures`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts: Option<super::HostCounts>,
}

/// One of the top usernames.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopUsername {
    /// Ties share a rank.
    pub rank: i64,
    pub username: String,
    pub failures: i64,
}

/// Block counts per target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Blocks {
    pub postfix: BlockCounts,
    pub firewall: BlockCounts,
}

/// The bounds of a report: the period `(since, until]` and the one before it,
/// `(previous_since, since]`, in Unix seconds.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    previous_since: i64,
    since: i64,
    until: i64,
}

/// Builds the summary of the `seconds` before `until` (`label` names the period).
pub fn build(
    store: &dyn ReportStore,
    networks: Networks,
    label: &str,
    seconds: i64,
    until: i64,
) -> anyhow::Result<Summary> {
    let since = until.saturating_sub(seconds);
    let at = Bounds {
        previous_since: since.saturating_sub(seconds),
        since,
        until,
    };
    let rows = store.address_periods(at.previous_since, at.since, at.until)?;
    let (current, previous) = period_totals(store, &rows, networks, at)?;
    let counts = store.failures_per_hour(since, until)?;
    let (per_hour, chart) = hourly_and_chart(&counts, since, until);
    let refused = super::efficacy::attribute(store, since, until, None)?;
    let efficacy = Efficacy {
        rejected: refused.total,
        previous_rejected: previous_rejected(store, at)?,
        unattributed: refused.unattributed,
    };
    Ok(Summary {
        period: label.to_string(),
        period_seconds: seconds,
        since: Stamp(since),
        until: Stamp(until),
        previous_since: Stamp(at.previous_since),
        current,
        previous,
        per_hour,
        chart,
        top_addresses: with_hosts(store, top_addresses(&rows), at)?,
        top_usernames: top_usernames(store, at)?,
        blocks: block_counts(store, at)?,
        block_timeline: block_timeline(store, at, &refused.per_block)?,
        efficacy,
    })
}

/// The totals of this period and the previous one.
fn period_totals(
    store: &dyn ReportStore,
    rows: &[AddressPeriods],
    networks: Networks,
    at: Bounds,
) -> anyhow::Result<(Totals, Totals)> {
    let invalid = EventKind::InvalidMechanism;
    let current = Totals {
        invalid_mechanism: store.kind_total(invalid, at.since, at.until, None)?,
        ..totals_of(rows, networks, |r| r.failures, |r| r.server_faults)
    };
    let previous = Totals {
        invalid_mechanism: store.kind_total(invalid, at.previous_since, at.since, None)?,
        ..totals_of(
            rows,
            networks,
            |r| r.previous_failures,
            |r| r.previous_server_faults,
        )
    };
    Ok((current, previous))
}

/// The totals of one period from the rows, picking its `failures` and `faults`
/// (invalid mechanisms are counted apart).
fn totals_of(
    rows: &[AddressPeriods],
    networks: Networks,
    failures: fn(&AddressPeriods) -> i64,
    faults: fn(&AddressPeriods) -> i64,
) -> Totals {
    let failing: Vec<std::net::IpAddr> = rows
        .iter()
        .filter(|r| failures(r) > 0)
        .map(|r| r.address)
        .collect();
    let grouping = Grouping::Network {
        v4_prefix: networks.ipv4_prefix,
        v6_prefix: networks.ipv6_prefix,
    };
    let nets: HashSet<ipnet::IpNet> = failing
        .iter()
        .map(|&addr| grouping.network_of(addr))
        .collect();
    Totals {
        failures: rows.iter().map(failures).sum(),
        addresses: failing.len() as i64,
        networks: nets.len() as i64,
        server_faults: rows.iter().map(faults).sum(),
        invalid_mechanism: 0,
    }
}

/// The [`TOP`] addresses with the most failures in this period; ties share a rank.
fn top_addresses(rows: &[AddressPeriods]) -> Vec<TopAddress> {
    let mut failing: Vec<&AddressPeriods> = rows.iter().filter(|r| r.failures > 0).collect();
    failing.sort_by(|a, b| b.failures.cmp(&a.failures).then(a.address.cmp(&b.address)));
    let named = failing.iter().map(|r| (r.address, r.failures));
    let mut top: Vec<TopAddress> = Vec::new();
    for (index, (ip, failures)) in named.enumerate().take(TOP) {
        let rank = match top.last() {
            Some(last) if last.failures == failures => last.rank,
            _ => index as i64 + 1,
        };
        top.push(TopAddress {
            rank,
            ip,
            failures,
            hosts: None,
        });
    }
    top
}

/// The top addresses with their failures per host, in a cluster.
fn with_hosts(
    store: &dyn ReportStore,
    mut top: Vec<TopAddress>,
    at: Bounds,
) -> anyhow::Result<Vec<TopAddress>> {
    for address in &mut top {
        let network = ipnet::IpNet::from(address.ip);
        let failed = crate::parse::EventKind::AuthFailed;
        address.hosts = super::hosts_of(store, &network, failed, Some(at.since), at.until)?;
    }
    Ok(top)
}

/// The [`TOP`] usernames tried most in this period.
fn top_usernames(store: &dyn ReportStore, at: Bounds) -> anyhow::Result<Vec<TopUsername>> {
    Ok(store
        .rank_labels(Some(at.since), at.until, LabelKind::Username)?
        .into_iter()
        .take(TOP)
        .map(|l| TopUsername {
            rank: l.rank,
            username: l.text,
            failures: l.failures,
        })
        .collect())
}

/// Blocks created, ended and in force per target.
fn block_counts(store: &dyn ReportStore, at: Bounds) -> anyhow::Result<Blocks> {
    let mut blocks = Blocks::default();
    for (target, counts) in store.blocks_in_period(at.since, at.until)? {
        match target {
            BlockTarget::Postfix => blocks.postfix = counts,
            BlockTarget::Firewall => blocks.firewall = counts,
        }
    }
    Ok(blocks)
}

/// Connections refused in the previous period (attributed or not).
fn previous_rejected(store: &dyn ReportStore, at: Bounds) -> anyhow::Result<i64> {
    Ok(store
        .events_per_address(EventKind::Rejected, at.previous_since, at.since, None)?
        .iter()
        .map(|(_, n)| n)
        .sum())
}

/// The blocks in force during the period, and any that ended just before it whose map
/// entry still refused connections in it (until the next run rewrote the map), oldest
/// first, each with the connections it refused (`per_block`).
fn block_timeline(
    store: &dyn ReportStore,
    at: Bounds,
    per_block: &HashMap<i64, i64>,
) -> anyhow::Result<Vec<BlockInPeriod>> {
    let mut in_period = store.blocks_during(at.since, at.until)?;
    let listed: HashSet<i64> = in_period.iter().map(|b| b.id).collect();
    if per_block.keys().any(|id| !listed.contains(id)) {
        in_period.extend(
            store
                .all_blocks()?
                .into_iter()
                .filter(|b| per_block.contains_key(&b.id) && !listed.contains(&b.id)),
        );
        in_period.sort_by_key(|b| (b.created_at, b.id));
    }
    Ok(in_period
        .iter()
        .map(|block| BlockInPeriod {
            block: BlockView::new(block, at.until),
            ends_at: block.end().map(Stamp),
            rejected: per_block.get(&block.id).copied().unwrap_or(0),
        })
        .collect())
}

/// `per_hour` and the chart of `(since, until]` from its failures per hour (sparse,
/// oldest first). A period up to [`FULL_CHART_MAX`] lists every hour and charts from
/// its start; a longer one lists the hours with failures and charts from the first of
/// them, so nothing here grows with the length asked for.
fn hourly_and_chart(counts: &[(i64, i64)], since: i64, until: i64) -> (Vec<HourCount>, Chart) {
    let hour = |(start, failures): (i64, i64)| HourCount {
        hour: Stamp(start),
        failures,
    };
    let from = since.saturating_add(1);
    if until.saturating_sub(since) <= FULL_CHART_MAX {
        let first_hour = from.div_euclid(3600) * 3600;
        let last_hour = until.div_euclid(3600) * 3600;
        let by_hour: std::collections::HashMap<i64, i64> = counts.iter().copied().collect();
        let per_hour = (first_hour..=last_hour)
            .step_by(3600)
            .map(|h| hour((h, by_hour.get(&h).copied().unwrap_or(0))))
            .collect();
        (per_hour, Chart::of_hours(counts, from, until))
    } else {
        let chart_from = counts.first().map_or(until, |&(h, _)| h.max(from));
        let per_hour = counts.iter().copied().map(hour).collect();
        (per_hour, Chart::of_hours(counts, chart_from, until))
    }
}

/// The summary for people: totals against the previous period, a bar chart (per hour,
/// or per day for periods over 48 hours), the top lists and the blocks.
pub fn to_table(summary: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "report for {} ({} .. {}), compared with {} .. {}\n",
        summary.period, summary.since, summary.until, summary.previous_since, summary.since
    );
    let _ = writeln!(out, "{}", totals_table(summary));
    let faults = summary.current.server_faults;
    if faults > 0 {
        let _ = writeln!(
            out,
            "\n{faults} server faults: the authentication backend failed (never counted against clients)"
        );
    }
    for table in [
        chart_table(&summary.chart),
        top_addresses_table(summary),
        top_usernames_table(summary),
        blocks_table(summary),
    ] {
        let _ = write!(out, "\n{table}\n");
    }
    out.push_str(&efficacy_text(summary));
    out
}

/// Totals of this period against the previous one, with the change.
fn totals_table(summary: &Summary) -> comfy_table::Table {
    let mut totals = new_table(vec![
        String::new(),
        "this period".into(),
        "previous".into(),
        "change".into(),
    ]);
    let (c, p) = (&summary.current, &summary.previous);
    for (name, now, before) in [
        ("failures", c.failures, p.failures),
        ("addresses", c.addresses, p.addresses),
        ("networks", c.networks, p.networks),
        ("server faults", c.server_faults, p.server_faults),
        (
            "invalid mechanism",
            c.invalid_mechanism,
            p.invalid_mechanism,
        ),
    ] {
        totals.add_row(vec![
            name.to_string(),
            now.to_string(),
            before.to_string(),
            change(now, before),
        ]);
    }
    right_align(&mut totals, &[1, 2, 3]);
    totals
}

/// The chart as a table of bars: per hour, or per UTC day, week or month for long
/// periods.
fn chart_table(chart: &Chart) -> comfy_table::Table {
    let unit = chart.unit;
    let heading = match unit {
        ChartUnit::Week => "week from (UTC)".to_string(),
        other => format!("{} (UTC)", other.as_str()),
    };
    let max = chart.bars.iter().map(|bar| bar.failures).max().unwrap_or(0);
    let mut table = new_table(vec![heading, "failures".into(), String::new()]);
    for bar in &chart.bars {
        let when = match unit {
            ChartUnit::Hour => bar.start.to_string(),
            ChartUnit::Day | ChartUnit::Week => bar.start.date(),
            ChartUnit::Month => bar.start.month(),
        };
        let width = if max > 0 && bar.failures > 0 {
            (bar.failures * BAR_WIDTH + max - 1) / max
        } else {
            0
        };
        table.add_row(vec![
            when,
            bar.failures.to_string(),
            "█".repeat(usize::try_from(width).unwrap_or(0)),
        ]);
    }
    right_align(&mut table, &[1]);
    table
}

/// The top addresses.
fn top_addresses_table(summary: &Summary) -> comfy_table::Table {
    let mut table = new_table(vec!["rank".into(), "address".into(), "failures".into()]);
    for a in &summary.top_addresses {
        table.add_row(vec![
            a.rank.to_string(),
            a.ip.to_string(),
            a.failures.to_string(),
        ]);
    }
    right_align(&mut table, &[2]);
    table
}

/// The top usernames, shown with hidden characters escaped.
fn top_usernames_table(summary: &Summary) -> comfy_table::Table {
    let mut table = new_table(vec!["rank".into(), "username".into(), "failures".into()]);
    for u in &summary.top_usernames {
        table.add_row(vec![
            u.rank.to_string(),
            printable(&u.username),
            u.failures.to_string(),
        ]);
    }
    right_align(&mut table, &[2]);
    table
}

/// Blocks created, ended and in force per target.
fn blocks_table(summary: &Summary) -> comfy_table::Table {
    let mut table = new_table(vec![
        "blocks".into(),
        "created".into(),
        "ended".into(),
        "active at end".into(),
    ]);
    for (target, b) in [
        ("postfix", summary.blocks.postfix),
        ("firewall", summary.blocks.firewall),
    ] {
        table.add_row(vec![
            target.to_string(),
            b.created.to_string(),
            b.ended.to_string(),
            b.active.to_string(),
        ]);
    }
    right_align(&mut table, &[1, 2, 3]);
    table
}

/// The connections refused because of a block, and the blocks that refused any, most
/// first.
fn efficacy_text(summary: &Summary) -> String {
    let e = &summary.efficacy;
    let mut out = format!(
        "\nconnections Postfix refused because of a block: {} (previous period: {}, \
         change: {}); refused by no saslguard block: {}\n",
        e.rejected,
        e.previous_rejected,
        change(e.rejected, e.previous_rejected),
        e.unattributed
    );
    let mut refusing: Vec<&BlockInPeriod> = summary
        .block_timeline
        .iter()
        .filter(|b| b.rejected > 0)
        .collect();
    if refusing.is_empty() {
        return out;
    }
    refusing.sort_by(|a, b| {
        b.rejected
            .cmp(&a.rejected)
            .then(a.block.id.cmp(&b.block.id))
    });
    let mut table = new_table(vec![
        "block".into(),
        "network".into(),
        "created".into(),
        "refused".into(),
    ]);
    for b in refusing {
        table.add_row(vec![
            b.block.id.to_string(),
            b.block.network.to_string(),
            b.block.created_at.to_string(),
            b.rejected.to_string(),
        ]);
    }
    right_align(&mut table, &[3]);
    let _ = write!(out, "\n{table}\n");
    out
}

/// The change from `before` to `now`: `+12 (+50%)`, `-3 (-20%)`, `0`, or `new`; the
/// same wording in the table and the HTML page.
pub(crate) fn change(now: i64, before: i64) -> String {
    let diff = now.saturating_sub(before);
    if before == 0 {
        return if now == 0 { "0".into() } else { "new".into() };
    }
    let percent = diff as f64 * 100.0 / before as f64;
    format!("{diff:+} ({percent:+.0}%)")
}

fn right_align(table: &mut comfy_table::Table, columns: &[usize]) {
    for &index in columns {
        if let Some(column) = table.column_mut(index) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-27T12:00:00Z, a Friday.
    const NOON: i64 = 1_795_780_800;

    #[test]
    fn charts_choose_hours_days_weeks_or_months_by_span() {
        let unit = |seconds: i64| Chart::of_hours(&[], NOON - seconds + 1, NOON).unit;
        assert_eq!(unit(48 * 3600), ChartUnit::Hour);
        assert_eq!(unit(48 * 3600 + 1), ChartUnit::Day);
        assert_eq!(unit(92 * 86_400), ChartUnit::Day);
        assert_eq!(unit(93 * 86_400), ChartUnit::Week);
        assert_eq!(unit(730 * 86_400), ChartUnit::Week);
        assert_eq!(unit(731 * 86_400), ChartUnit::Month);
    }

    #[test]
    fn chart_bars_sum_the_hours_inside_them() {
        // 400 days to NOON: weeks from Monday 2025-10-20 to Monday 2026-11-23.
        let hours = [
            (NOON - 400 * 86_400 + 3600, 2),
            (NOON - 3 * 86_400, 5),
            (NOON, 7),
        ];
        let chart = Chart::of_hours(&hours, NOON - 400 * 86_400 + 1, NOON);
        assert_eq!(chart.unit, ChartUnit::Week);
        assert_eq!(
            chart.bars.first().unwrap().start.to_string(),
            "2025-10-20T00:00:00Z"
        );
        assert_eq!(
            chart.bars.last().unwrap().start.to_string(),
            "2026-11-23T00:00:00Z"
        );
        assert_eq!(chart.bars.len(), 58);
        assert_eq!(chart.bars.last().unwrap().failures, 12);
        assert_eq!(chart.bars.iter().map(|b| b.failures).sum::<i64>(), 14);
        // However long the period, the chart starts at its first failure.
        let (per_hour, chart) = hourly_and_chart(&hours, i64::MIN / 2, NOON);
        assert_eq!(per_hour.len(), 3);
        assert_eq!(chart.unit, ChartUnit::Week);
        assert_eq!(
            chart.bars.first().unwrap().start.to_string(),
            "2025-10-20T00:00:00Z"
        );
        assert_eq!(chart.bars.len(), 58);
        // Months beyond two years: from the first failure's month.
        let old = [(NOON - 1000 * 86_400, 1), (NOON, 7)];
        let (_, chart) = hourly_and_chart(&old, i64::MIN / 2, NOON);
        assert_eq!(chart.unit, ChartUnit::Month);
        assert_eq!(
            chart.bars.first().unwrap().start.to_string(),
            "2024-03-01T00:00:00Z"
        );
        assert_eq!(chart.bars.len(), 33);
        assert_eq!(chart.bars.iter().map(|b| b.failures).sum::<i64>(), 8);
        let (_, chart) = hourly_and_chart(&hours, i64::MIN / 2, NOON);
        assert_eq!(chart.bars.iter().map(|b| b.failures).sum::<i64>(), 14);
        // Nothing at all: one bar, the last.
        let (per_hour, chart) = hourly_and_chart(&[], i64::MIN / 2, NOON);
        assert!(per_hour.is_empty());
        assert_eq!(chart.bars.len(), 1);
    }

    #[test]
    fn change_reads_well() {
        assert_eq!(change(0, 0), "0");
        assert_eq!(change(5, 0), "new");
        assert_eq!(change(15, 10), "+5 (+50%)");
        assert_eq!(change(5, 10), "-5 (-50%)");
    }
}
