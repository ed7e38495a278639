//! `report --format html`: the [`Summary`] as one self-contained HTML page, to mail to
//! someone or keep next to the logs.
//!
//! The page fetches nothing and runs nothing: CSS is inline, the charts are inline SVG,
//! there is no `<script>`, and a Content-Security-Policy of `default-src 'none'` keeps it
//! that way even if something slipped through. Usernames, block reasons and every other
//! text that comes from the database are HTML-escaped (attackers choose usernames), and
//! control, bidirectional and invisible characters in them are shown as escapes such as
//! `\u{1b}` or `\u{202e}`, so the page shows what was logged and cannot be made to lie.
//!
//! Every number the charts draw is also on the page as text, and the key cells have
//! stable `id`s (`current-failures`, `efficacy-rejected`, `blocks-postfix-created`, ...)
//! and rows `data-` attributes (`data-ip`, `data-failures`), so tests and scripts can read
//! the page without parsing the charts.

use std::fmt::{self, Write as _};

use chrono::DateTime;

use crate::report::summary::{BlockInPeriod, ChartUnit, Summary, change};
use crate::store::BlockTarget;

/// The smallest drawn size of a non-zero bar or span, in the chart's units: a single
/// failure next to a million still shows.
const MIN_VISIBLE: f64 = 1.0;

/// The block timeline draws at most this many spans; the table below lists them all.
const TIMELINE_MAX: usize = 100;

/// The failures chart, in SVG user units (scaled to the page width).
const CHART_WIDTH: f64 = 1000.0;
const CHART_HEIGHT: f64 = 220.0;
const CHART_LEFT: f64 = 56.0;
const CHART_RIGHT: f64 = 12.0;
const CHART_TOP: f64 = 14.0;
const CHART_BOTTOM: f64 = 28.0;

/// The block timeline, in SVG user units.
const TIMELINE_WIDTH: f64 = 1000.0;
/// The network labels' column: wide enough for the longest label shown, within bounds.
const TIMELINE_LEFT_MIN: f64 = 120.0;
const TIMELINE_LEFT_MAX: f64 = 400.0;
/// Rough width of one character of the timeline's monospace labels, in chart units.
const MONO_CHAR_WIDTH: f64 = 8.0;
const TIMELINE_RIGHT: f64 = 16.0;
const TIMELINE_AXIS: f64 = 26.0;
const TIMELINE_ROW: f64 = 24.0;
const TIMELINE_BAR: f64 = 14.0;

const STYLE: &str = r#"
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 2rem auto; max-width: 1100px; padding: 0 1.5rem; color: #1f2328; background: #fff;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Liberation Sans", sans-serif;
  font-size: 15px; line-height: 1.45; }
header { border-bottom: 2px solid #1f2328; padding-bottom: .8rem; margin-bottom: 1rem; }
h1 { font-size: 1.6rem; margin: 0 0 .4rem; }
h2 { font-size: 1.15rem; margin: 2.2rem 0 .7rem; padding-bottom: .3rem; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 1rem; margin: 1.2rem 0 .5rem; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: .15rem 1rem; margin: 0; }
dl.meta dt { color: #57606a; }
dl.meta dd { margin: 0; }
table { border-collapse: collapse; font-size: .92rem; margin: .3rem 0; }
th, td { padding: .3rem .75rem; text-align: left; vertical-align: top; border-bottom: 1px solid #eaeef2; }
th { font-weight: 600; color: #57606a; border-bottom: 1px solid #d0d7de; white-space: nowrap; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.mono, time { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: .88em; }
td.mono { overflow-wrap: anywhere; }
td.network { overflow-wrap: normal; }
#block-list th, #block-list td { padding: .3rem .5rem; }
time, td.nowrap { white-space: nowrap; }
td.reason { min-width: 8rem; }
.tag { font-size: .8em; color: #57606a; border: 1px solid #d0d7de; border-radius: 3px; padding: 0 .3em; }
.scroll { overflow-x: auto; }
table.wide { width: 100%; }
td.barcell { width: 40%; min-width: 8rem; }
.up { color: #b42318; }
.down { color: #1a7f37; }
.note { color: #57606a; font-size: .88rem; margin: .3rem 0; }
.callout { border-left: 4px solid #d0d7de; background: #f6f8fa; padding: .6rem .9rem; margin: 1rem 0 0; }
.callout.warn { border-left-color: #bf8700; background: #fff8c5; }
.callout p { margin: .2rem 0; }
.empty { color: #57606a; font-style: italic; }
svg { display: block; max-width: 100%; height: auto; }
svg.chart { width: 100%; }
svg text { font-size: 12px; fill: #57606a; }
svg .axis { stroke: #8c959f; stroke-width: 1; }
svg .grid { stroke: #d8dee4; stroke-width: 1; stroke-dasharray: 3 3; }
svg .row { fill: #f6f8fa; }
rect.bar { fill: #c9473b; }
svg.hbar { display: block; width: 100%; height: 12px; }
.hbar rect { fill: #c9473b; }
.hbar.users rect { fill: #8250df; }
.hbar.rejected rect { fill: #2f6fde; }
.span.postfix, .swatch.postfix { fill: #2f6fde; background: #2f6fde; }
.span.firewall, .swatch.firewall { fill: #d97706; background: #d97706; }
.swatch { display: inline-block; width: .8em; height: .8em; border-radius: 2px; vertical-align: -.05em; }
.ctl { background: #fff1c2; color: #6a4b00; border-radius: 2px; }
.buckets { display: grid; grid-template-columns: repeat(auto-fill, minmax(11.5rem, 1fr)); gap: 0 1.2rem;
  list-style: none; padding: 0; margin: .4rem 0; font-size: .85rem; }
.buckets li { display: flex; justify-content: space-between; border-bottom: 1px dotted #d8dee4; }
.buckets li.zero { color: #8c959f; }
details > summary { cursor: pointer; color: #57606a; font-size: .9rem; margin-top: .5rem; }
footer { margin-top: 2.5rem; padding-top: .6rem; border-top: 1px solid #d0d7de; color: #57606a; font-size: .85rem; }
@media print {
  body { margin: 0; max-width: none; padding: 0; font-size: 11pt; }
  * { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
  section { break-inside: avoid; }
  h2 { break-after: avoid; }
  details > summary { display: none; }
  .scroll { overflow: visible; }
}
"#;

/// Renders the summary as one self-contained HTML page (no scripts, nothing fetched).
///
/// This is what `report --format html` writes: the header with the period, the totals
/// against the previous period, failures over time, the top addresses and usernames,
/// the blocks with their timeline, and how many connections the blocks refused.
pub fn to_html(summary: &Summary) -> String {
    let mut out = String::with_capacity(32 * 1024);
    // Writing to a String cannot fail.
    let _ = write_page(&mut out, summary);
    out
}

fn write_page(out: &mut String, s: &Summary) -> fmt::Result {
    writeln!(out, "<!DOCTYPE html>")?;
    writeln!(out, "<html lang=\"en\">")?;
    writeln!(out, "<head>")?;
    writeln!(out, "<meta charset=\"utf-8\">")?;
    writeln!(
        out,
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
    )?;
    writeln!(
        out,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    )?;
    writeln!(out, "<meta name=\"referrer\" content=\"no-referrer\">")?;
    writeln!(
        out,
        "<title>saslguard report: {} until {}</title>",
        Esc(&s.period),
        Esc(&s.until)
    )?;
    writeln!(out, "<style>{STYLE}</style>")?;
    writeln!(out, "</head>")?;
    writeln!(out, "<body>")?;
    write_header(out, s)?;
    write_totals(out, s)?;
    write_failures_chart(out, s)?;
    write_top_addresses(out, s)?;
    write_top_usernames(out, s)?;
    write_blocks(out, s)?;
    write_efficacy(out, s)?;
    writeln!(
        out,
        "<footer>saslguard {} &middot; server faults are never counted as failures \
         &middot; all times UTC</footer>",
        Esc(env!("CARGO_PKG_VERSION"))
    )?;
    writeln!(out, "</body>")?;
    writeln!(out, "</html>")
}

fn write_header(out: &mut String, s: &Summary) -> fmt::Result {
    writeln!(out, "<header>")?;
    writeln!(
        out,
        "<h1>saslguard report: the last <span id=\"period\">{}</span></h1>",
        Esc(&s.period)
    )?;
    writeln!(out, "<dl class=\"meta\">")?;
    writeln!(
        out,
        "<dt>Period (UTC)</dt><dd>after <time id=\"since\" datetime=\"{0}\">{0}</time> \
         up to <time id=\"until\" datetime=\"{1}\">{1}</time></dd>",
        Esc(&s.since),
        Esc(&s.until)
    )?;
    writeln!(
        out,
        "<dt>Compared with</dt><dd>after <time id=\"previous-since\" datetime=\"{0}\">{0}</time> \
         up to <time datetime=\"{1}\">{1}</time></dd>",
        Esc(&s.previous_since),
        Esc(&s.since)
    )?;
    // The report is made as of the end of its period (now, or --as-of).
    writeln!(
        out,
        "<dt>Generated at</dt><dd><time id=\"generated-at\" datetime=\"{0}\">{0}</time> \
         (the end of the period)</dd>",
        Esc(&s.until)
    )?;
    writeln!(out, "</dl>")?;
    writeln!(out, "</header>")
}

fn write_totals(out: &mut String, s: &Summary) -> fmt::Result {
    let (c, p) = (&s.current, &s.previous);
    writeln!(out, "<section id=\"totals\">")?;
    writeln!(out, "<h2>Totals against the previous period</h2>")?;
    writeln!(out, "<table>")?;
    writeln!(
        out,
        "<thead><tr><th></th><th class=\"num\">this period</th><th class=\"num\">previous</th>\
         <th class=\"num\">change</th></tr></thead>"
    )?;
    writeln!(out, "<tbody>")?;
    for (key, name, now, before) in [
        ("failures", "Failures", c.failures, p.failures),
        ("addresses", "Addresses", c.addresses, p.addresses),
        ("networks", "Networks", c.networks, p.networks),
    ] {
        writeln!(
            out,
            "<tr><th scope=\"row\">{name}</th><td class=\"num\" id=\"current-{key}\">{now}</td>\
             <td class=\"num\" id=\"previous-{key}\">{before}</td>\
             <td class=\"num {class}\" id=\"change-{key}\">{change}</td></tr>",
            class = change_class(now, before),
            change = Esc(&change(now, before)),
        )?;
    }
    writeln!(out, "</tbody></table>")?;
    writeln!(
        out,
        "<p class=\"note\">Failures are counted SASL authentication failures; addresses and \
         networks are the distinct clients (and their networks) with at least one.</p>"
    )?;

    let warn = if c.server_faults > 0 { " warn" } else { "" };
    writeln!(
        out,
        "<div class=\"callout{warn}\" id=\"server-faults\">\
         <p><strong>Server faults: <span id=\"current-server-faults\">{}</span></strong> \
         (previous period <span id=\"previous-server-faults\">{}</span>, change \
         <span id=\"change-server-faults\">{}</span>)</p>\
         <p>A server fault (such as <em>Connection lost to authentication server</em>) means \
         the authentication backend is broken, not that a client is attacking: they never \
         count against a client. Check the SASL backend (Dovecot auth, saslauthd) when this \
         is not 0.</p></div>",
        c.server_faults,
        p.server_faults,
        Esc(&change(c.server_faults, p.server_faults)),
    )?;
    writeln!(out, "</section>")
}

/// One bar of the failures chart: an hour, or a day, week or month for long periods.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Bucket {
    /// The start as stored (`2026-11-27T15:00:00Z`), or the day (`2026-11-27`, also the
    /// Monday of a week), or the month (`2026-11`).
    key: String,
    /// For people (`2026-11-27 15:00`, `2026-11-27`).
    label: String,
    failures: i64,
}

/// The chart's bars: per hour, or per UTC day, week or month for long periods (see
/// [`Summary::chart`]).
fn buckets(s: &Summary) -> Vec<Bucket> {
    s.chart
        .bars
        .iter()
        .map(|bar| {
            let start = &bar.start;
            let (key, label) = match s.chart.unit {
                ChartUnit::Hour => (
                    start.clone(),
                    start.get(..16).unwrap_or(start).replacen('T', " ", 1),
                ),
                ChartUnit::Day | ChartUnit::Week => {
                    let day = start.get(..10).unwrap_or(start).to_string();
                    (day.clone(), day)
                }
                ChartUnit::Month => {
                    let month = start.get(..7).unwrap_or(start).to_string();
                    (month.clone(), month)
                }
            };
            Bucket {
                key,
                label,
                failures: bar.failures,
            }
        })
        .collect()
}

/// The drawn length of `value` on a scale where `max` fills `full`: 0 for nothing (and
/// for an empty scale), at least [`MIN_VISIBLE`] (or `full`, if smaller) for anything,
/// never more than `full`, never NaN.
fn scaled(value: i64, max: i64, full: f64) -> f64 {
    if value <= 0 || max <= 0 || full.is_nan() || full <= 0.0 {
        return 0.0;
    }
    let ratio = (value as f64 / max as f64).min(1.0);
    (ratio * full).max(MIN_VISIBLE.min(full))
}

/// Where bar `index` of `count` goes in a plot `width` wide starting at `left`: its x and
/// width. Slots are equal; bars leave a gap of a fifth of a slot (at most 6 units), none
/// when slots are too narrow for one.
fn bar_slot(index: usize, count: usize, left: f64, width: f64) -> (f64, f64) {
    if count == 0 {
        return (left, 0.0);
    }
    let slot = width / count as f64;
    let gap = if slot >= 4.0 {
        (slot * 0.2).min(6.0)
    } else {
        0.0
    };
    (left + slot * index as f64 + gap / 2.0, slot - gap)
}

fn write_failures_chart(out: &mut String, s: &Summary) -> fmt::Result {
    let bars = buckets(s);
    let daily = s.chart.unit != ChartUnit::Hour;
    let unit = s.chart.unit.as_str();
    let max = bars.iter().map(|b| b.failures).max().unwrap_or(0);
    let total: i64 = bars.iter().map(|b| b.failures).sum();

    writeln!(out, "<section id=\"over-time\">")?;
    writeln!(out, "<h2>Failures per {unit} (UTC)</h2>")?;
    let Some((first, last)) = bars.first().zip(bars.last()) else {
        writeln!(out, "<p class=\"empty\">No {unit}s in this period.</p>")?;
        return writeln!(out, "</section>");
    };
    writeln!(
        out,
        "<p class=\"note\"><span id=\"chart-total\">{total}</span> failures in \
         <span id=\"chart-buckets\">{}</span> {unit}s; the busiest {unit} had \
         <span id=\"chart-max\">{max}</span>.</p>",
        bars.len()
    )?;

    let plot_w = CHART_WIDTH - CHART_LEFT - CHART_RIGHT;
    let plot_h = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM;
    let base = CHART_TOP + plot_h;
    writeln!(
        out,
        "<svg id=\"failures-chart\" class=\"chart\" viewBox=\"0 0 {CHART_WIDTH} {CHART_HEIGHT}\" width=\"{CHART_WIDTH}\" \
         height=\"{CHART_HEIGHT}\" role=\"img\" aria-label=\"Failures per {unit}\">"
    )?;
    // The y axis: 0 and the maximum, with a grid line at the maximum.
    writeln!(
        out,
        "<line class=\"grid\" x1=\"{CHART_LEFT}\" y1=\"{CHART_TOP}\" x2=\"{x2}\" y2=\"{CHART_TOP}\"/>\
         <text x=\"{lx:.1}\" y=\"{ty:.1}\" text-anchor=\"end\" id=\"chart-y-max\">{max}</text>\
         <text x=\"{lx:.1}\" y=\"{by:.1}\" text-anchor=\"end\">0</text>",
        x2 = CHART_WIDTH - CHART_RIGHT,
        lx = CHART_LEFT - 8.0,
        ty = CHART_TOP + 4.0,
        by = base + 4.0,
    )?;
    for (index, bar) in bars.iter().enumerate() {
        let (x, w) = bar_slot(index, bars.len(), CHART_LEFT, plot_w);
        let h = scaled(bar.failures, max, plot_h);
        writeln!(
            out,
            "<rect class=\"bar\" data-bucket=\"{key}\" data-failures=\"{n}\" x=\"{x:.2}\" \
             y=\"{y:.2}\" width=\"{w:.2}\" height=\"{h:.2}\"><title>{label} UTC: {n} failures</title></rect>",
            key = Esc(&bar.key),
            label = Esc(&bar.label),
            n = bar.failures,
            y = base - h,
        )?;
    }
    writeln!(
        out,
        "<line class=\"axis\" x1=\"{CHART_LEFT}\" y1=\"{base}\" x2=\"{x2}\" y2=\"{base}\"/>",
        x2 = CHART_WIDTH - CHART_RIGHT
    )?;
    let label_y = base + 18.0;
    writeln!(
        out,
        "<text x=\"{CHART_LEFT}\" y=\"{label_y}\" id=\"chart-first\">{}</text>",
        Esc(&first.label)
    )?;
    if bars.len() > 1 {
        writeln!(
            out,
            "<text x=\"{x}\" y=\"{label_y}\" text-anchor=\"end\" id=\"chart-last\">{}</text>",
            Esc(&last.label),
            x = CHART_WIDTH - CHART_RIGHT,
        )?;
    }
    for index in tick_indices(&bars, daily, plot_w) {
        let (x, w) = bar_slot(index, bars.len(), CHART_LEFT, plot_w);
        let Some(bar) = bars.get(index) else { continue };
        let x = x + w / 2.0;
        writeln!(
            out,
            "<line class=\"axis\" x1=\"{x:.2}\" y1=\"{base}\" x2=\"{x:.2}\" y2=\"{y2}\"/>\
             <text x=\"{x:.2}\" y=\"{label_y}\" text-anchor=\"middle\">{label}</text>",
            y2 = base + 4.0,
            label = Esc(tick_label(bar)),
        )?;
    }
    writeln!(out, "</svg>")?;

    writeln!(
        out,
        "<details open><summary>Failures per {unit} as numbers</summary>"
    )?;
    writeln!(out, "<ul class=\"buckets\" id=\"buckets\">")?;
    for bar in &bars {
        writeln!(
            out,
            "<li{zero} data-bucket=\"{key}\"><span class=\"mono\">{label}</span><span class=\"num\">{n}</span></li>",
            zero = if bar.failures == 0 {
                " class=\"zero\""
            } else {
                ""
            },
            key = Esc(&bar.key),
            label = Esc(&bar.label),
            n = bar.failures,
        )?;
    }
    writeln!(out, "</ul></details>")?;
    writeln!(out, "</section>")
}

/// Rough width of one character of the charts' 12px labels, in chart units.
const CHAR_WIDTH: f64 = 7.0;

/// The label of bar `bar` between the first and the last: the time without the year.
fn tick_label(bar: &Bucket) -> &str {
    bar.label.get(5..).unwrap_or(&bar.label)
}

/// The bars between the first and the last that get a label under the axis (`plot` is
/// the plot's width): every 6th (or 12th, for two days) clock hour, or about every eighth
/// day; none that would run into the first and last labels, which are always there.
fn tick_indices(bars: &[Bucket], daily: bool, plot: f64) -> Vec<usize> {
    let (Some(first), Some(last)) = (bars.first(), bars.last()) else {
        return Vec::new();
    };
    let count = bars.len();
    let step = if daily {
        count.div_ceil(8)
    } else if count <= 30 {
        6
    } else {
        12
    };
    let wanted = |index: usize, bar: &Bucket| {
        if daily {
            index.is_multiple_of(step)
        } else {
            bar.key
                .get(11..13)
                .and_then(|h| h.parse::<usize>().ok())
                .is_some_and(|hour| hour.is_multiple_of(step))
        }
    };
    // The first label starts at the plot's left edge, the last ends at its right one.
    let left_end = first.label.chars().count() as f64 * CHAR_WIDTH;
    let right_start = plot - last.label.chars().count() as f64 * CHAR_WIDTH;
    bars.iter()
        .enumerate()
        .filter(|(index, bar)| *index > 0 && *index + 1 < count && wanted(*index, bar))
        .filter(|(index, bar)| {
            let (x, w) = bar_slot(*index, count, 0.0, plot);
            let half = tick_label(bar).chars().count() as f64 * CHAR_WIDTH / 2.0 + CHAR_WIDTH;
            x + w / 2.0 - half >= left_end && x + w / 2.0 + half <= right_start
        })
        .map(|(index, _)| index)
        .collect()
}

/// A table cell holding one horizontal bar, `value` of `max` of the cell's width.
fn write_hbar(out: &mut String, class: &str, value: i64, max: i64) -> fmt::Result {
    write!(
        out,
        "<td class=\"barcell\"><svg class=\"hbar {class}\" viewBox=\"0 0 100 10\" \
         preserveAspectRatio=\"none\" aria-hidden=\"true\"><rect x=\"0\" y=\"0\" width=\"{w:.2}\" \
         height=\"10\"/></svg></td>",
        w = scaled(value, max, 100.0),
    )
}

fn write_top_addresses(out: &mut String, s: &Summary) -> fmt::Result {
    writeln!(out, "<section id=\"top-addresses\">")?;
    writeln!(out, "<h2>Top offenders</h2>")?;
    if s.top_addresses.is_empty() {
        writeln!(out, "<p class=\"empty\">No failures in this period.</p>")?;
        return writeln!(out, "</section>");
    }
    let max = s
        .top_addresses
        .iter()
        .map(|a| a.failures)
        .max()
        .unwrap_or(0);
    writeln!(
        out,
        "<table class=\"wide\"><thead><tr><th class=\"num\">rank</th><th>address</th>\
         <th class=\"num\">failures</th><th></th></tr></thead><tbody>"
    )?;
    for a in &s.top_addresses {
        write!(
            out,
            "<tr data-rank=\"{rank}\" data-ip=\"{ip}\" data-failures=\"{n}\"><td class=\"num\">{rank}</td>\
             <td class=\"mono\">{ip}</td><td class=\"num\">{n}</td>",
            rank = a.rank,
            ip = Esc(&a.ip),
            n = a.failures,
        )?;
        write_hbar(out, "addresses", a.failures, max)?;
        writeln!(out, "</tr>")?;
    }
    writeln!(out, "</tbody></table>")?;
    writeln!(
        out,
        "<p class=\"note\">The addresses with the most counted failures in this period (ties share \
         a rank). <code>saslguard show ADDRESS</code> tells everything about one.</p>"
    )?;
    writeln!(out, "</section>")
}

fn write_top_usernames(out: &mut String, s: &Summary) -> fmt::Result {
    writeln!(out, "<section id=\"top-usernames\">")?;
    writeln!(out, "<h2>Targeted accounts</h2>")?;
    if s.top_usernames.is_empty() {
        writeln!(
            out,
            "<p class=\"empty\">No failure with a username in this period.</p>"
        )?;
        return writeln!(out, "</section>");
    }
    let max = s
        .top_usernames
        .iter()
        .map(|u| u.failures)
        .max()
        .unwrap_or(0);
    writeln!(
        out,
        "<table class=\"wide\"><thead><tr><th class=\"num\">rank</th><th>username</th>\
         <th class=\"num\">failures</th><th></th></tr></thead><tbody>"
    )?;
    for u in &s.top_usernames {
        write!(
            out,
            "<tr data-rank=\"{rank}\" data-username=\"{name}\" data-failures=\"{n}\">\
             <td class=\"num\">{rank}</td><td class=\"mono\">{shown}</td><td class=\"num\">{n}</td>",
            rank = u.rank,
            name = Esc(&u.username),
            shown = Shown(&u.username),
            n = u.failures,
        )?;
        write_hbar(out, "users", u.failures, max)?;
        writeln!(out, "</tr>")?;
    }
    writeln!(out, "</tbody></table>")?;
    writeln!(
        out,
        "<p class=\"note\">The usernames tried most: the accounts to warn, or to make change \
         their password. They are what clients sent, shown escaped; control and invisible \
         characters appear <span class=\"ctl\">highlighted</span> as <code>\\u{{...}}</code>.</p>"
    )?;
    writeln!(out, "</section>")
}

/// A stored time (RFC 3339, or a bare Unix time where it could not be formatted) as Unix
/// seconds.
fn unix(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp())
        .or_else(|| text.parse().ok())
}

/// The x of moment `t` on an axis from `since` (at `left`) to `until` (at `left +
/// width`), clamped to the axis.
fn time_x(t: i64, since: i64, until: i64, left: f64, width: f64) -> f64 {
    if until <= since {
        return left;
    }
    let t = t.clamp(since, until);
    left + (t - since) as f64 / (until - since) as f64 * width
}

/// A block's span on the timeline, clipped to the period: x and width, at least
/// [`MIN_VISIBLE`] wide; None when it lies wholly outside `since..=until`.
fn span_x(
    created: i64,
    end: Option<i64>,
    since: i64,
    until: i64,
    left: f64,
    width: f64,
) -> Option<(f64, f64)> {
    let start = created.max(since);
    let stop = end.unwrap_or(until).min(until);
    if start > until || stop < since || stop < start {
        return None;
    }
    let x0 = time_x(start, since, until, left, width);
    let x1 = time_x(stop, since, until, left, width);
    let w = (x1 - x0).max(MIN_VISIBLE);
    // Keep a minimum-width span at the right edge inside the axis.
    let x0 = x0.min(left + width - w).max(left);
    Some((x0, w))
}

/// What became of a block, for people: how it ended, or that it is in force.
fn block_status(b: &BlockInPeriod, until: i64) -> String {
    if let Some(reason) = b.block.end_reason {
        return reason.to_string();
    }
    if b.block.active {
        return "in force".to_string();
    }
    match b.block.expires_at.as_deref().and_then(unix) {
        Some(at) if at <= until => "expired".to_string(),
        _ => "ended".to_string(),
    }
}

fn write_blocks(out: &mut String, s: &Summary) -> fmt::Result {
    writeln!(out, "<section id=\"blocks\">")?;
    writeln!(out, "<h2>Blocks</h2>")?;
    writeln!(
        out,
        "<table id=\"blocks-counts\"><thead><tr><th>target</th><th class=\"num\">created</th>\
         <th class=\"num\">ended</th><th class=\"num\">active at end</th></tr></thead><tbody>"
    )?;
    for (target, counts) in [
        (BlockTarget::Postfix, s.blocks.postfix),
        (BlockTarget::Firewall, s.blocks.firewall),
    ] {
        let t = target.as_str();
        writeln!(
            out,
            "<tr><th scope=\"row\"><span class=\"swatch {t}\"></span> {t}</th>\
             <td class=\"num\" id=\"blocks-{t}-created\">{}</td>\
             <td class=\"num\" id=\"blocks-{t}-ended\">{}</td>\
             <td class=\"num\" id=\"blocks-{t}-active\">{}</td></tr>",
            counts.created, counts.ended, counts.active
        )?;
    }
    writeln!(out, "</tbody></table>")?;

    writeln!(out, "<h3>Block timeline</h3>")?;
    if s.block_timeline.is_empty() {
        writeln!(
            out,
            "<p class=\"empty\" id=\"timeline-empty\">No block was in force during this period.</p>"
        )?;
        return writeln!(out, "</section>");
    }
    write_timeline(out, s)?;

    writeln!(
        out,
        "<div class=\"scroll\"><table class=\"wide\" id=\"block-list\"><thead><tr><th>network</th>\
         <th>target</th><th>origin and reason</th><th>created</th><th>ends / ended</th>\
         <th>status</th><th class=\"num\">rejected</th></tr></thead><tbody>"
    )?;
    let until = unix(&s.until).unwrap_or(i64::MAX);
    for b in &s.block_timeline {
        let v = &b.block;
        let t = v.target.as_str();
        let end = match (&v.ended_at, &v.expires_at) {
            (Some(at), _) | (None, Some(at)) => format!("<time>{}</time>", Esc(at)),
            (None, None) => "permanent".to_string(),
        };
        writeln!(
            out,
            "<tr id=\"block-{id}\" data-network=\"{net}\" data-target=\"{t}\" data-rejected=\"{rej}\">\
             <td class=\"mono network\">{net_shown}</td><td class=\"nowrap\"><span class=\"swatch {t}\"></span> {t}</td>\
             <td class=\"reason\"><span class=\"tag\">{origin}</span> {reason}</td>\
             <td><time>{created}</time></td><td>{end}</td>\
             <td class=\"nowrap\">{status}</td><td class=\"num\">{rej}</td></tr>",
            id = v.id,
            net = Esc(&v.network),
            net_shown = Network(&v.network),
            origin = v.origin,
            reason = Shown(&v.reason),
            created = Esc(&v.created_at),
            status = Esc(&block_status(b, until)),
            rej = b.rejected,
        )?;
    }
    writeln!(out, "</tbody></table></div>")?;
    writeln!(out, "</section>")
}

fn write_timeline(out: &mut String, s: &Summary) -> fmt::Result {
    let (Some(since), Some(until)) = (unix(&s.since), unix(&s.until)) else {
        return writeln!(
            out,
            "<p class=\"empty\">The period's times cannot be read; the blocks are listed below.</p>"
        );
    };
    let shown = &s.block_timeline[..s.block_timeline.len().min(TIMELINE_MAX)];
    let longest = shown
        .iter()
        .map(|b| b.block.network.chars().count())
        .max()
        .unwrap_or(0);
    let left =
        (longest as f64 * MONO_CHAR_WIDTH + 20.0).clamp(TIMELINE_LEFT_MIN, TIMELINE_LEFT_MAX);
    let plot_w = TIMELINE_WIDTH - left - TIMELINE_RIGHT;
    let height = TIMELINE_AXIS + TIMELINE_ROW * shown.len() as f64 + 6.0;
    writeln!(
        out,
        "<p class=\"note\">Each block in force at some moment of the period, from its creation \
         to its end or expiry, cut to the period: <span class=\"swatch postfix\"></span> postfix \
         map, <span class=\"swatch firewall\"></span> firewall.</p>"
    )?;
    writeln!(
        out,
        "<svg id=\"block-timeline\" class=\"chart\" viewBox=\"0 0 {TIMELINE_WIDTH} {height}\" width=\"{TIMELINE_WIDTH}\" \
         height=\"{height}\" role=\"img\" aria-label=\"Block timeline\">"
    )?;
    // Zebra rows, then grid lines at each quarter of the period, labelled at the top.
    for index in 0..shown.len() {
        if index.is_multiple_of(2) {
            writeln!(
                out,
                "<rect class=\"row\" x=\"0\" y=\"{y:.1}\" width=\"{TIMELINE_WIDTH}\" height=\"{TIMELINE_ROW}\"/>",
                y = TIMELINE_AXIS + TIMELINE_ROW * index as f64,
            )?;
        }
    }
    for quarter in 0..=4_i64 {
        let t = since + (until - since) * quarter / 4;
        let x = time_x(t, since, until, left, plot_w);
        let anchor = match quarter {
            0 => "start",
            4 => "end",
            _ => "middle",
        };
        let label = crate::report::format_time(t);
        let label = label.get(5..16).unwrap_or(&label).replacen('T', " ", 1);
        writeln!(
            out,
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{y1}\" x2=\"{x:.1}\" y2=\"{height}\"/>\
             <text x=\"{x:.1}\" y=\"{ty}\" text-anchor=\"{anchor}\">{label}</text>",
            y1 = TIMELINE_AXIS - 6.0,
            ty = TIMELINE_AXIS - 10.0,
            label = Esc(&label),
        )?;
    }
    for (index, b) in shown.iter().enumerate() {
        let v = &b.block;
        let t = v.target.as_str();
        let row_y = TIMELINE_AXIS + TIMELINE_ROW * index as f64;
        writeln!(
            out,
            "<text x=\"{x}\" y=\"{y:.1}\" text-anchor=\"end\" class=\"mono\">{net}</text>",
            x = left - 10.0,
            y = row_y + TIMELINE_ROW / 2.0 + 4.0,
            net = Esc(&v.network),
        )?;
        let created = unix(&v.created_at).unwrap_or(since);
        if let Some((x, w)) = span_x(
            created,
            b.ends_at.as_deref().and_then(unix),
            since,
            until,
            left,
            plot_w,
        ) {
            writeln!(
                out,
                "<rect class=\"span {t}\" data-block-id=\"{id}\" x=\"{x:.2}\" y=\"{y:.1}\" \
                 width=\"{w:.2}\" height=\"{TIMELINE_BAR}\" rx=\"2\"><title>{net} ({t}): {created} .. {end}, \
                 {rej} rejected</title></rect>",
                id = v.id,
                y = row_y + (TIMELINE_ROW - TIMELINE_BAR) / 2.0,
                net = Esc(&v.network),
                created = Esc(&v.created_at),
                end = Esc(v
                    .ended_at
                    .as_deref()
                    .or(v.expires_at.as_deref())
                    .unwrap_or("permanent")),
                rej = b.rejected,
            )?;
        }
    }
    writeln!(out, "</svg>")?;
    if s.block_timeline.len() > shown.len() {
        writeln!(
            out,
            "<p class=\"note\">The chart shows the first {} of {} blocks; the table lists them all.</p>",
            shown.len(),
            s.block_timeline.len()
        )?;
    }
    Ok(())
}

fn write_efficacy(out: &mut String, s: &Summary) -> fmt::Result {
    let e = &s.efficacy;
    writeln!(out, "<section id=\"efficacy\">")?;
    writeln!(out, "<h2>Block efficacy</h2>")?;
    writeln!(
        out,
        "<table><thead><tr><th></th><th class=\"num\">this period</th><th class=\"num\">previous</th>\
         <th class=\"num\">change</th></tr></thead><tbody>"
    )?;
    writeln!(
        out,
        "<tr><th scope=\"row\">Connections refused by a block</th>\
         <td class=\"num\" id=\"efficacy-rejected\">{}</td>\
         <td class=\"num\" id=\"efficacy-previous-rejected\">{}</td>\
         <td class=\"num\" id=\"efficacy-change\">{}</td></tr>",
        e.rejected,
        e.previous_rejected,
        Esc(&change(e.rejected, e.previous_rejected)),
    )?;
    writeln!(
        out,
        "<tr><th scope=\"row\">of these, from no saslguard block</th>\
         <td class=\"num\" id=\"efficacy-unattributed\">{}</td><td></td><td></td></tr>",
        e.unattributed
    )?;
    writeln!(out, "</tbody></table>")?;
    writeln!(
        out,
        "<p class=\"note\">Postfix logs <code>NOQUEUE: reject</code> for each connection a map entry \
         refused. Unattributed ones came from addresses no postfix block covered at the time (an \
         entry from before saslguard, or written by hand). Firewall blocks drop packets before \
         Postfix sees them, so they are never counted here.</p>"
    )?;

    let postfix: Vec<&BlockInPeriod> = {
        let mut list: Vec<&BlockInPeriod> = s
            .block_timeline
            .iter()
            .filter(|b| b.block.target == BlockTarget::Postfix)
            .collect();
        list.sort_by(|a, b| {
            b.rejected
                .cmp(&a.rejected)
                .then(a.block.id.cmp(&b.block.id))
        });
        list
    };
    writeln!(out, "<h3>Per postfix block</h3>")?;
    if postfix.is_empty() {
        writeln!(
            out,
            "<p class=\"empty\">No postfix block was in force during this period.</p>"
        )?;
        return writeln!(out, "</section>");
    }
    let max = postfix.iter().map(|b| b.rejected).max().unwrap_or(0);
    writeln!(
        out,
        "<table class=\"wide\" id=\"efficacy-blocks\"><thead><tr><th>network</th><th>created</th>\
         <th class=\"num\">rejected</th><th class=\"num\">share</th><th></th></tr></thead><tbody>"
    )?;
    for b in postfix {
        let share = if e.rejected > 0 {
            format!("{:.0}%", b.rejected as f64 * 100.0 / e.rejected as f64)
        } else {
            "-".to_string()
        };
        write!(
            out,
            "<tr data-block-id=\"{id}\" data-rejected=\"{rej}\"><td class=\"mono\">{net}</td>\
             <td><time>{created}</time></td><td class=\"num\" id=\"efficacy-block-{id}\">{rej}</td>\
             <td class=\"num\">{share}</td>",
            id = b.block.id,
            rej = b.rejected,
            net = Esc(&b.block.network),
            created = Esc(&b.block.created_at),
        )?;
        write_hbar(out, "rejected", b.rejected, max)?;
        writeln!(out, "</tr>")?;
    }
    writeln!(out, "</tbody></table>")?;
    writeln!(out, "</section>")
}

/// More is worse for everything the totals count: rises in red, falls in green.
fn change_class(now: i64, before: i64) -> &'static str {
    match now.cmp(&before) {
        std::cmp::Ordering::Greater => "up",
        std::cmp::Ordering::Less => "down",
        std::cmp::Ordering::Equal => "",
    }
}

use crate::sanitize::{escape as hidden_escape, is_hidden};

/// Text made safe for HTML element content and attribute values: `& < > " '` as
/// entities, hidden characters (see [`is_hidden`]) as visible escapes.
struct Esc<'a>(&'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '&' => f.write_str("&amp;")?,
                '<' => f.write_str("&lt;")?,
                '>' => f.write_str("&gt;")?,
                '"' => f.write_str("&quot;")?,
                '\'' => f.write_str("&#39;")?,
                c if is_hidden(c) => f.write_str(&hidden_escape(c))?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// Like [`Esc`], for element content only: hidden characters are also highlighted, so
/// an escape the client sent (the text `\u{1b}`) differs from a real control character.
struct Shown<'a>(&'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(is_hidden) {
            let (before, after) = rest.split_at(at);
            write!(f, "{}", Esc(before))?;
            let mut chars = after.chars();
            if let Some(c) = chars.next() {
                write!(
                    f,
                    "<span class=\"ctl\" title=\"hidden character\">{}</span>",
                    hidden_escape(c)
                )?;
            }
            rest = chars.as_str();
        }
        write!(f, "{}", Esc(rest))
    }
}

/// A network for a table cell: escaped, and breakable after the colons of IPv6 and before
/// the prefix length, so a long IPv6 network wraps instead of widening the table.
struct Network<'a>(&'a str);

impl fmt::Display for Network<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut part = String::new();
        for c in self.0.chars() {
            if c == '/' && !part.is_empty() {
                write!(f, "{}<wbr>", Esc(&part))?;
                part.clear();
            }
            part.push(c);
            if c == ':' {
                write!(f, "{}<wbr>", Esc(&part))?;
                part.clear();
            }
        }
        write!(f, "{}", Esc(&part))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::BlockView;
    use crate::report::summary::{Blocks, Efficacy, HourCount, TopAddress, TopUsername, Totals};
    use crate::store::Origin;

    fn esc(text: &str) -> String {
        Esc(text).to_string()
    }

    #[test]
    fn markup_and_quotes_are_escaped() {
        assert_eq!(
            esc("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(
            esc("\"><img src=x onerror='a'>&amp;"),
            "&quot;&gt;&lt;img src=x onerror=&#39;a&#39;&gt;&amp;amp;"
        );
        assert_eq!(esc("jörg@example.com"), "jörg@example.com");
    }

    #[test]
    fn hidden_characters_become_visible_escapes() {
        assert_eq!(esc("a\u{1b}[2Jb\n\0"), "a\\u{1b}[2Jb\\u{a}\\u{0}");
        assert_eq!(esc("gnp\u{202e}exe"), "gnp\\u{202e}exe");
        assert_eq!(esc("ad\u{200b}min\u{feff}"), "ad\\u{200b}min\\u{feff}");
        assert_eq!(esc("\u{85}\u{ffff}"), "\\u{85}\\u{ffff}");
        // In content they are marked, so a client typing `\u{1b}` looks different.
        assert_eq!(
            Shown("<x>\u{1b}\\u{1b}").to_string(),
            "&lt;x&gt;<span class=\"ctl\" title=\"hidden character\">\\u{1b}</span>\\u{1b}"
        );
        assert_eq!(Shown("").to_string(), "");
        assert_eq!(
            Shown("\u{7}").to_string(),
            "<span class=\"ctl\" title=\"hidden character\">\\u{7}</span>"
        );
    }

    #[test]
    fn networks_break_only_at_colons_and_the_prefix() {
        assert_eq!(Network("192.0.2.0/24").to_string(), "192.0.2.0<wbr>/24");
        assert_eq!(
            Network("2001:db8::/64").to_string(),
            "2001:<wbr>db8:<wbr>:<wbr>/64"
        );
        assert_eq!(Network("<x>").to_string(), "&lt;x&gt;");
    }

    #[test]
    fn scaling_handles_zero_one_and_huge() {
        // Nothing to draw: no bar, and no NaN from 0/0.
        assert_eq!(scaled(0, 0, 100.0), 0.0);
        assert_eq!(scaled(5, 0, 100.0), 0.0);
        assert_eq!(scaled(0, 5, 100.0), 0.0);
        assert_eq!(scaled(-3, 5, 100.0), 0.0);
        // The maximum fills the scale; half is half.
        assert_eq!(scaled(7, 7, 178.0), 178.0);
        assert_eq!(scaled(50, 100, 100.0), 50.0);
        // One failure next to a huge value still shows, and a huge value stays finite.
        assert_eq!(scaled(1, i64::MAX, 178.0), MIN_VISIBLE);
        assert_eq!(scaled(i64::MAX, i64::MAX, 178.0), 178.0);
        assert!(scaled(i64::MAX - 1, i64::MAX, 178.0).is_finite());
        // Never past the scale, even for a value over the stated maximum.
        assert_eq!(scaled(10, 5, 100.0), 100.0);
        // A scale smaller than the minimum visible size is not overrun.
        assert_eq!(scaled(1, 10, 0.5), 0.5);
        assert_eq!(scaled(1, 10, 0.0), 0.0);
    }

    #[test]
    fn bar_slots_fill_the_plot() {
        // One hour: one bar across the plot, less its gap.
        let (x, w) = bar_slot(0, 1, 10.0, 100.0);
        assert!(
            (x - 13.0).abs() < 1e-9 && (w - 94.0).abs() < 1e-9,
            "{x} {w}"
        );
        // Equal slots, the last ending at the plot's right edge (less half a gap).
        let (x, w) = bar_slot(24, 25, 0.0, 1000.0);
        assert!((x + w + 3.0 - 1000.0).abs() < 1e-9, "{x} {w}");
        // Narrow slots: no gap.
        let (x, w) = bar_slot(365, 366, 0.0, 732.0);
        assert!(
            (x - 730.0).abs() < 1e-9 && (w - 2.0).abs() < 1e-9,
            "{x} {w}"
        );
        assert_eq!(bar_slot(0, 0, 5.0, 100.0), (5.0, 0.0));
    }

    #[test]
    fn ticks_fall_on_round_hours_away_from_the_ends() {
        let hours = |count: i64| -> Vec<Bucket> {
            (0..count)
                .map(|h| {
                    let key = crate::report::format_time(1_795_780_800 + h * 3600);
                    let label = key.get(..16).unwrap_or(&key).replacen('T', " ", 1);
                    Bucket {
                        key,
                        label,
                        failures: 0,
                    }
                })
                .collect()
        };
        let plot = CHART_WIDTH - CHART_LEFT - CHART_RIGHT;
        // 24h from 12:00: 18:00, 00:00, 06:00 (12:00 is first and last).
        assert_eq!(tick_indices(&hours(25), false, plot), [6, 12, 18]);
        // Too short for anything between the first and last label.
        assert!(tick_indices(&hours(2), false, plot).is_empty());
        assert!(tick_indices(&hours(1), false, plot).is_empty());
        assert!(tick_indices(&[], false, plot).is_empty());
        // 48h: every 12 hours.
        assert_eq!(tick_indices(&hours(49), false, plot), [12, 24, 36]);
        // 31 days: every 4th, but not the one that would touch the last label.
        let days: Vec<Bucket> = (1..=31)
            .map(|d| Bucket {
                key: format!("2026-12-{d:02}"),
                label: format!("2026-12-{d:02}"),
                failures: 0,
            })
            .collect();
        assert_eq!(tick_indices(&days, true, plot), [4, 8, 12, 16, 20, 24]);
    }

    #[test]
    fn spans_are_clipped_to_the_period() {
        let (since, until) = (1000, 2000);
        // Wholly inside.
        assert_eq!(
            span_x(1250, Some(1500), since, until, 0.0, 100.0),
            Some((25.0, 25.0))
        );
        // From before the period, permanent: the whole axis.
        assert_eq!(
            span_x(0, None, since, until, 0.0, 100.0),
            Some((0.0, 100.0))
        );
        // Ends after the period: cut at its end.
        assert_eq!(
            span_x(1900, Some(9000), since, until, 10.0, 100.0),
            Some((100.0, 10.0))
        );
        // Created at the very end: a minimum-width span kept inside the axis.
        assert_eq!(
            span_x(2000, None, since, until, 0.0, 100.0),
            Some((99.0, 1.0))
        );
        // Outside the period.
        assert_eq!(span_x(2500, None, since, until, 0.0, 100.0), None);
        assert_eq!(span_x(0, Some(500), since, until, 0.0, 100.0), None);
        // An empty period does not divide by zero.
        assert_eq!(time_x(5, 7, 7, 3.0, 100.0), 3.0);
    }

    fn summary() -> Summary {
        let view = |id: i64, network: &str, target: BlockTarget, reason: &str| BlockView {
            id,
            network: network.to_string(),
            target,
            origin: Origin::Manual,
            reason: reason.to_string(),
            failures: None,
            window_seconds: None,
            created_at: "2026-11-28T07:00:00Z".to_string(),
            expires_at: Some("2026-12-05T07:00:00Z".to_string()),
            ended_at: None,
            end_reason: None,
            active: true,
        };
        Summary {
            period: "24h".to_string(),
            period_seconds: 86_400,
            since: "2026-11-27T12:00:00Z".to_string(),
            until: "2026-11-28T12:00:00Z".to_string(),
            previous_since: "2026-11-26T12:00:00Z".to_string(),
            current: Totals {
                failures: 12,
                addresses: 2,
                networks: 2,
                server_faults: 1,
                invalid_mechanism: 0,
            },
            previous: Totals::default(),
            per_hour: (0..25)
                .map(|h| HourCount {
                    hour: crate::report::format_time(1_795_780_800 + h * 3600),
                    failures: if h == 3 { 12 } else { 0 },
                })
                .collect(),
            chart: crate::report::summary::Chart::of_hours(
                &[(1_795_780_800 + 3 * 3600, 12)],
                1_795_780_801,
                1_795_780_800 + 86_400,
            ),
            top_addresses: vec![TopAddress {
                rank: 1,
                ip: "203.0.113.7".to_string(),
                failures: 12,
            }],
            top_usernames: vec![TopUsername {
                rank: 1,
                username: "<script>alert(\"x\")</script>\u{1b}".to_string(),
                failures: 12,
            }],
            blocks: Blocks::default(),
            block_timeline: vec![
                BlockInPeriod {
                    block: view(1, "203.0.113.7/32", BlockTarget::Postfix, "<b>hand</b>"),
                    ends_at: Some("2026-12-05T07:00:00Z".to_string()),
                    rejected: 4,
                },
                BlockInPeriod {
                    block: view(2, "198.51.100.0/24", BlockTarget::Firewall, "x"),
                    ends_at: Some("2026-12-05T07:00:00Z".to_string()),
                    rejected: 0,
                },
            ],
            efficacy: Efficacy {
                rejected: 5,
                previous_rejected: 0,
                unattributed: 1,
            },
        }
    }

    #[test]
    fn page_is_self_contained_and_escaped() {
        let page = to_html(&summary());
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("default-src 'none'; style-src 'unsafe-inline'"));
        let lower = page.to_lowercase();
        for banned in [
            "<script", "http://", "https://", "<img", "<link", "url(", "@import",
        ] {
            assert!(!lower.contains(banned), "{banned} in the page");
        }
        assert!(page.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
        assert!(page.contains("&lt;b&gt;hand&lt;/b&gt;"));
        assert!(page.contains("<td class=\"num\" id=\"current-failures\">12</td>"));
        assert!(page.contains("id=\"change-failures\">new<"));
        assert!(page.contains("id=\"efficacy-rejected\">5<"));
        assert!(page.contains("id=\"efficacy-unattributed\">1<"));
        assert!(page.contains("id=\"efficacy-block-1\">4<"));
        assert!(page.contains("data-ip=\"203.0.113.7\" data-failures=\"12\""));
        assert_eq!(page.matches("<rect class=\"bar\"").count(), 25);
        assert_eq!(page.matches("<rect class=\"span postfix\"").count(), 1);
        assert_eq!(page.matches("<rect class=\"span firewall\"").count(), 1);
        assert!(!page.contains("NaN") && !page.contains("=\"inf") && !page.contains("=\"-inf"));
    }

    #[test]
    fn an_empty_period_renders() {
        let mut s = summary();
        s.current = Totals::default();
        s.per_hour.iter_mut().for_each(|h| h.failures = 0);
        s.chart.bars.iter_mut().for_each(|b| b.failures = 0);
        s.top_addresses.clear();
        s.top_usernames.clear();
        s.block_timeline.clear();
        s.efficacy = Efficacy::default();
        let page = to_html(&s);
        assert!(page.contains("id=\"chart-max\">0<"));
        assert!(page.contains("height=\"0.00\""));
        assert!(page.contains("No failures in this period."));
        assert!(page.contains("No block was in force during this period."));
        assert!(!page.contains("NaN"));
        // A long period is charted per day.
        s.period = "3d".into();
        s.period_seconds = 3 * 86_400;
        s.chart =
            crate::report::summary::Chart::of_hours(&[], 1_795_780_801, 1_795_780_800 + 3 * 86_400);
        let page = to_html(&s);
        assert!(page.contains("Failures per day (UTC)"));
        // 2026-11-27 12:00 to 2026-11-30 12:00 touches four days.
        assert_eq!(page.matches("<rect class=\"bar\"").count(), 4);
    }
}
