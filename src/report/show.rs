//! `show`: everything stored about one address or network, for the person deciding
//! what to do about it. When it failed and how often (per day), with which usernames,
//! mechanisms and services, server faults apart, and every block that touched it.
//!
//! Everything counts up to the report's moment (now, or `--as-of`), like `top --period
//! all`: failures stored with a later time are left out.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use chrono::{DateTime, Days, NaiveDate, Utc};
use comfy_table::CellAlignment;
use ipnet::IpNet;
use serde::Serialize;

use crate::report::{BlockView, Stamp, new_table, printable};
use crate::store::LabelCount;
use crate::store::ReportStore;
use crate::store::{BlockTarget, Pardon};

/// How many days `per_day` covers: the last 30 UTC dates, the report's date included.
pub const DAYS: u64 = 30;

/// How many usernames, mechanisms and services a table shows; JSON has them all.
const TABLE_ROWS: usize = 20;

/// Width of the longest bar in the per-day table.
const BAR_WIDTH: i64 = 40;

/// A forgiven network (a pardon): failures inside it up to `until` no longer count.
#[derive(Debug, Clone, Serialize)]
pub struct ForgivenView {
    pub network: IpNet,
    /// RFC 3339 UTC in output.
    pub until: Stamp,
}

impl ForgivenView {
    /// The pardon for output.
    pub fn new(pardon: &Pardon) -> ForgivenView {
        ForgivenView {
            network: pardon.network,
            until: Stamp(pardon.until),
        }
    }
}

/// Everything about one address or network, as `show --format json` prints it.
#[derive(Debug, Serialize)]
pub struct ShowReport {
    /// The address asked for (set when a single address was asked for) ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// ... or the network (set otherwise), in canonical CIDR notation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<IpNet>,
    /// The moment the report counts up to (RFC 3339 UTC in output).
    pub as_of: Stamp,
    /// Whether any failure or server fault of it is stored.
    pub seen: bool,
    /// Addresses inside with counted failures (0 or 1 for an address).
    pub addresses: i64,
    /// Counted failures, all stored time up to `as_of`.
    pub failures: i64,
    /// First and last counted failure (RFC 3339 UTC in output); null without any.
    pub first_seen: Option<Stamp>,
    pub last_seen: Option<Stamp>,
    /// In a cluster: counted failures per host (they add up to `failures`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts: Option<super::HostCounts>,
    /// Server-side faults (`Connection lost to authentication server`, ...): stored,
    /// never counted against the client.
    pub server_faults: i64,
    /// `Invalid authentication mechanism` failures, all stored time up to `as_of`:
    /// counted toward blocks only with `[policy] count_invalid_mechanism`.
    pub invalid_mechanism: i64,
    /// Counted failures on each of the last [`DAYS`] UTC dates, oldest first, days
    /// without failures included.
    pub per_day: Vec<DayCount>,
    /// Counted failures per username tried, most first; `username` null for failures
    /// logged without one (kept apart from any username, since the text is the
    /// attacker's).
    pub usernames: Vec<UsernameCount>,
    /// Counted failures per SASL mechanism (case-folded), most first.
    pub mechanisms: Vec<MechanismCount>,
    /// Counted failures per smtpd service that logged them, most first.
    pub services: Vec<ServiceCount>,
    /// Every block of any target, active or ended, that covers it or lies inside it,
    /// newest first, with the connections it made Postfix refuse from here.
    pub blocks: Vec<ShownBlock>,
    /// Connections Postfix refused from here because of a map entry, and how many of
    /// them no saslguard block explains (see `report`'s block efficacy).
    pub refused: i64,
    pub refused_unattributed: i64,
    /// Per target: whether a block in force now covers all of it.
    pub blocked_now: BlockedNow,
    /// Forgiven networks sharing an address with it (`unblock`, `unblock --forgive`):
    /// failures inside them up to `until` no longer count toward blocks.
    pub forgiven: Vec<ForgivenView>,
}

/// A block in `show`, with its share of the refused connections.
#[derive(Debug, Serialize)]
pub struct ShownBlock {
    #[serde(flatten)]
    pub block: BlockView,
    /// Connections from the address or network shown that Postfix refused because of
    /// this block's map entry (0 for firewall blocks: Postfix never sees them).
    pub refused: i64,
}

/// Counted failures on one UTC date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayCount {
    /// `YYYY-MM-DD` in output.
    #[serde(serialize_with = "super::time::serialize_date")]
    pub date: NaiveDate,
    pub failures: i64,
}

/// Counted failures with one username (`None`: logged without one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsernameCount {
    pub username: Option<String>,
    pub failures: i64,
}

/// Counted failures with one mechanism.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MechanismCount {
    pub mechanism: String,
    pub failures: i64,
}

/// Counted failures logged by one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceCount {
    pub service: String,
    pub failures: i64,
}

/// Whether a block in force covers the whole address or network, per target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BlockedNow {
    pub postfix: bool,
    pub firewall: bool,
}

/// Builds the report of `network` (a host network for one address) up to `now`.
pub fn build(store: &dyn ReportStore, network: &IpNet, now: i64) -> anyhow::Result<ShowReport> {
    let totals = store.range_totals(network, now)?;
    let [usernames, mechanisms, services] = store.range_label_counts(network, now)?;
    let refusals = super::efficacy::attribute(store, i64::MIN, now, Some(network))?;
    let invalid_mechanism = store.kind_total(
        crate::parse::EventKind::InvalidMechanism,
        i64::MIN,
        now,
        Some(network),
    )?;
    let single = network.prefix_len() == network.max_prefix_len();
    Ok(ShowReport {
        ip: single.then(|| network.addr()),
        network: (!single).then_some(*network),
        as_of: Stamp(now),
        seen: totals.failures > 0 || totals.server_faults > 0 || invalid_mechanism > 0,
        addresses: totals.addresses,
        failures: totals.failures,
        first_seen: totals.first_seen.map(Stamp),
        last_seen: totals.last_seen.map(Stamp),
        hosts: super::hosts_of(
            store,
            network,
            crate::parse::EventKind::AuthFailed,
            None,
            now,
        )?,
        server_faults: totals.server_faults,
        invalid_mechanism,
        per_day: per_day(store, network, now)?,
        usernames: usernames
            .into_iter()
            .map(|c| UsernameCount {
                username: c.text,
                failures: c.failures,
            })
            .collect(),
        mechanisms: label_counts(mechanisms, |mechanism, failures| MechanismCount {
            mechanism,
            failures,
        }),
        services: label_counts(services, |service, failures| ServiceCount {
            service,
            failures,
        }),
        blocks: shown_blocks(store, network, now, &refusals.per_block)?,
        refused: refusals.total,
        refused_unattributed: refusals.unattributed,
        blocked_now: BlockedNow {
            postfix: store.is_covered(network, BlockTarget::Postfix, now)?,
            firewall: store.is_covered(network, BlockTarget::Firewall, now)?,
        },
        forgiven: store
            .pardons_overlapping(network)?
            .iter()
            .map(ForgivenView::new)
            .collect(),
    })
}

/// Counted failures on each of the last [`DAYS`] UTC dates up to `now`, zeros included.
fn per_day(store: &dyn ReportStore, network: &IpNet, now: i64) -> anyhow::Result<Vec<DayCount>> {
    let today = DateTime::<Utc>::from_timestamp(now, 0)
        .unwrap_or_default()
        .date_naive();
    let first_day = today.checked_sub_days(Days::new(DAYS - 1)).unwrap_or(today);
    let from = first_day
        .and_time(chrono::NaiveTime::MIN)
        .and_utc()
        .timestamp();
    let mut per_day: Vec<DayCount> = first_day
        .iter_days()
        .take(DAYS as usize)
        .map(|date| DayCount { date, failures: 0 })
        .collect();
    for (day_start, failures) in store.range_failures_per_day(network, from, now)? {
        let index = usize::try_from((day_start - from) / 86_400).unwrap_or(usize::MAX);
        if let Some(day) = per_day.get_mut(index) {
            day.failures = failures;
        }
    }
    Ok(per_day)
}

/// Mechanism or service counts (`make` builds one from its text and failures); a text
/// the store lacks (only usernames can) reads as empty.
fn label_counts<T>(counts: Vec<LabelCount>, make: impl Fn(String, i64) -> T) -> Vec<T> {
    counts
        .into_iter()
        .map(|c| make(c.text.unwrap_or_default(), c.failures))
        .collect()
}

/// Every block that covers `network` or lies inside it, newest first, with the
/// connections it refused (`per_block`).
fn shown_blocks(
    store: &dyn ReportStore,
    network: &IpNet,
    now: i64,
    per_block: &HashMap<i64, i64>,
) -> anyhow::Result<Vec<ShownBlock>> {
    Ok(store
        .blocks_overlapping(network)?
        .iter()
        .map(|b| ShownBlock {
            block: BlockView::new(b, now),
            refused: per_block.get(&b.id).copied().unwrap_or(0),
        })
        .collect())
}

impl ShowReport {
    /// The address or network the report is about.
    pub fn subject(&self) -> String {
        match (self.ip, self.network) {
            (Some(ip), _) => ip.to_string(),
            (None, Some(network)) => network.to_string(),
            (None, None) => String::new(),
        }
    }
}

/// The report as sections for people: a summary, the days, the texts tried (the first
/// [`TABLE_ROWS`] of each), the blocks. Attacker-chosen text is shown with control
/// characters escaped.
pub fn to_table(report: &ShowReport) -> String {
    if !report.seen {
        return unseen_text(report);
    }
    let mut out = String::new();
    for (key, value) in &summary_lines(report) {
        let _ = writeln!(out, "{key:<14} {value}");
    }
    let _ = write!(out, "\n{}\n", days_table(report));
    for (heading, counts) in text_counts(report) {
        out.push('\n');
        out.push_str(&counts_table(heading, &counts));
    }
    out.push('\n');
    if report.blocks.is_empty() {
        out.push_str("no blocks\n");
    } else {
        out.push_str(&blocks_table(report));
    }
    out
}

/// The table of an address or network with nothing stored: says so, with its
/// pardons and blocks.
fn unseen_text(report: &ShowReport) -> String {
    let mut out = format!(
        "{}: no failed authentications or server faults stored up to {}\n",
        report.subject(),
        report.as_of
    );
    for f in &report.forgiven {
        let _ = writeln!(out, "forgiven: {} up to {}", f.network, f.until);
    }
    if !report.blocks.is_empty() {
        out.push('\n');
        out.push_str(&blocks_table(report));
    }
    out
}

/// The summary at the top: what, as of when, the counts, whether blocked now, refusals
/// and pardons.
fn summary_lines(report: &ShowReport) -> Vec<(&'static str, String)> {
    let mut summary: Vec<(&str, String)> = Vec::new();
    if report.ip.is_some() {
        summary.push(("address", report.subject()));
    } else {
        summary.push(("network", report.subject()));
        summary.push(("addresses", report.addresses.to_string()));
    }
    summary.push(("as of", report.as_of.to_string()));
    let seen = match (report.first_seen, report.last_seen) {
        (Some(first), Some(last)) => format!(" (first {first}, last {last})"),
        _ => String::new(),
    };
    summary.push(("failures", format!("{}{seen}", report.failures)));
    summary.push((
        "server faults",
        format!("{} (never counted)", report.server_faults),
    ));
    summary.push((
        "invalid mechanism",
        format!(
            "{} (counted only with [policy] count_invalid_mechanism)",
            report.invalid_mechanism
        ),
    ));
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    summary.push((
        "blocked now",
        format!(
            "postfix: {}, firewall: {}",
            yes_no(report.blocked_now.postfix),
            yes_no(report.blocked_now.firewall)
        ),
    ));
    if report.refused > 0 {
        summary.push((
            "refused",
            format!(
                "{} connections by Postfix's map ({} not from a saslguard block)",
                report.refused, report.refused_unattributed
            ),
        ));
    }
    for f in &report.forgiven {
        summary.push(("forgiven", format!("{} up to {}", f.network, f.until)));
    }
    summary
}

/// Failures per day with a bar each.
fn days_table(report: &ShowReport) -> comfy_table::Table {
    let max = report.per_day.iter().map(|d| d.failures).max().unwrap_or(0);
    let mut days = new_table(vec!["date (UTC)".into(), "failures".into(), String::new()]);
    for day in &report.per_day {
        let width = if max > 0 && day.failures > 0 {
            (day.failures * BAR_WIDTH + max - 1) / max
        } else {
            0
        };
        days.add_row(vec![
            day.date.format("%Y-%m-%d").to_string(),
            day.failures.to_string(),
            "█".repeat(usize::try_from(width).unwrap_or(0)),
        ]);
    }
    right_align(&mut days, 1);
    days
}

/// The usernames, mechanisms and services tried, as printable text and counts.
fn text_counts(report: &ShowReport) -> [(&'static str, Vec<(String, i64)>); 3] {
    let usernames = report
        .usernames
        .iter()
        .map(|u| {
            (
                u.username
                    .as_deref()
                    .map_or("(none)".to_string(), printable),
                u.failures,
            )
        })
        .collect();
    let mechanisms = report
        .mechanisms
        .iter()
        .map(|m| (printable(&m.mechanism), m.failures))
        .collect();
    let services = report
        .services
        .iter()
        .map(|s| (printable(&s.service), s.failures))
        .collect();
    [
        ("username", usernames),
        ("mechanism", mechanisms),
        ("service", services),
    ]
}

/// A two-column table of texts and counts, cut at [`TABLE_ROWS`] with a note.
fn counts_table(heading: &str, counts: &[(String, i64)]) -> String {
    let mut table = new_table(vec![heading.to_string(), "failures".to_string()]);
    for (text, failures) in counts.iter().take(TABLE_ROWS) {
        table.add_row(vec![text.clone(), failures.to_string()]);
    }
    right_align(&mut table, 1);
    let mut out = format!("{table}\n");
    if counts.len() > TABLE_ROWS {
        let _ = writeln!(
            out,
            " ... and {} more {heading}s (--format json lists all)",
            counts.len() - TABLE_ROWS
        );
    }
    out
}

/// The blocks as `blocks` shows them, with whether each is in force.
fn blocks_table(report: &ShowReport) -> String {
    let mut table = new_table(
        [
            "block", "target", "origin", "created", "expires", "ended", "active", "refused",
            "reason",
        ]
        .map(String::from)
        .to_vec(),
    );
    for shown in &report.blocks {
        let v = &shown.block;
        let mut cells = v.cells();
        cells.push(if v.active { "yes" } else { "no" }.to_string());
        cells.push(shown.refused.to_string());
        cells.push(printable(&v.reason));
        table.add_row(cells);
    }
    format!("{table}\n")
}

fn right_align(table: &mut comfy_table::Table, column: usize) {
    if let Some(column) = table.column_mut(column) {
        column.set_cell_alignment(CellAlignment::Right);
    }
}
