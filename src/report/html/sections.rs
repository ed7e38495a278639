//! The page's sections, one function each, in page order: header, totals, failures over
//! time, top addresses, top usernames, blocks, block efficacy. Numbers and times come
//! from the [`Summary`] typed; they become text here, and database text goes through
//! [`super::escape`].

use std::fmt::{self, Write as _};

use super::chart::{self, TIMELINE_MAX};
use super::escape::{Esc, Network, Shown};
use crate::report::summary::{BlockInPeriod, Summary, change};
use crate::store::BlockTarget;

/// The title, the period and what it is compared with.
pub(super) fn write_header(out: &mut String, s: &Summary) -> fmt::Result {
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
        Esc(&s.since.to_string()),
        Esc(&s.until.to_string())
    )?;
    writeln!(
        out,
        "<dt>Compared with</dt><dd>after <time id=\"previous-since\" datetime=\"{0}\">{0}</time> \
         up to <time datetime=\"{1}\">{1}</time></dd>",
        Esc(&s.previous_since.to_string()),
        Esc(&s.since.to_string())
    )?;
    // The report is made as of the end of its period (now, or --as-of).
    writeln!(
        out,
        "<dt>Generated at</dt><dd><time id=\"generated-at\" datetime=\"{0}\">{0}</time> \
         (the end of the period)</dd>",
        Esc(&s.until.to_string())
    )?;
    writeln!(out, "</dl>")?;
    writeln!(out, "</header>")
}

/// Failures, addresses and networks against the previous period, and server faults.
pub(super) fn write_totals(out: &mut String, s: &Summary) -> fmt::Result {
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

/// Failures per hour (or day, week, month): a note with the figures, the chart, and
/// every bar as a number.
pub(super) fn write_failures_over_time(out: &mut String, s: &Summary) -> fmt::Result {
    let bars = chart::buckets(s);
    let unit = s.chart.unit.as_str();
    let max = bars.iter().map(|b| b.failures).max().unwrap_or(0);
    let total: i64 = bars.iter().map(|b| b.failures).sum();

    writeln!(out, "<section id=\"over-time\">")?;
    writeln!(out, "<h2>Failures per {unit} (UTC)</h2>")?;
    if bars.is_empty() {
        writeln!(out, "<p class=\"empty\">No {unit}s in this period.</p>")?;
        return writeln!(out, "</section>");
    }
    writeln!(
        out,
        "<p class=\"note\"><span id=\"chart-total\">{total}</span> failures in \
         <span id=\"chart-buckets\">{}</span> {unit}s; the busiest {unit} had \
         <span id=\"chart-max\">{max}</span>.</p>",
        bars.len()
    )?;
    chart::write_failures_chart(out, &bars, max)?;
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
            key = Esc(&bar.key()),
            label = Esc(&bar.label()),
            n = bar.failures,
        )?;
    }
    writeln!(out, "</ul></details>")?;
    writeln!(out, "</section>")
}

/// The top addresses, each with a bar.
pub(super) fn write_top_addresses(out: &mut String, s: &Summary) -> fmt::Result {
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
    // In a cluster, a column of failures per host; a single host's page is unchanged.
    let cluster = s.top_addresses.iter().any(|a| a.hosts.is_some());
    writeln!(
        out,
        "<table class=\"wide\"><thead><tr><th class=\"num\">rank</th><th>address</th>\
         <th class=\"num\">failures</th>{}<th></th></tr></thead><tbody>",
        if cluster { "<th>hosts</th>" } else { "" }
    )?;
    for a in &s.top_addresses {
        write!(
            out,
            "<tr data-rank=\"{rank}\" data-ip=\"{ip}\" data-failures=\"{n}\"><td class=\"num\">{rank}</td>\
             <td class=\"mono\">{ip}</td><td class=\"num\">{n}</td>",
            rank = a.rank,
            ip = Esc(&a.ip.to_string()),
            n = a.failures,
        )?;
        if cluster {
            write_hosts_cell(out, a.hosts.as_ref())?;
        }
        chart::write_hbar(out, "addresses", a.failures, max)?;
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

/// A cell listing failures per host (`mx1 4, mx2 4`), each as a `data-host` span.
fn write_hosts_cell(out: &mut String, hosts: Option<&crate::report::HostCounts>) -> fmt::Result {
    write!(out, "<td class=\"hosts\">")?;
    for (index, (host, n)) in hosts.into_iter().flatten().enumerate() {
        if index > 0 {
            write!(out, ", ")?;
        }
        write!(
            out,
            "<span data-host=\"{host}\" data-failures=\"{n}\">{host} {n}</span>",
            host = Esc(host)
        )?;
    }
    write!(out, "</td>")
}

/// The usernames tried most, each with a bar, hidden characters highlighted.
pub(super) fn write_top_usernames(out: &mut String, s: &Summary) -> fmt::Result {
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
        chart::write_hbar(out, "users", u.failures, max)?;
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

/// What became of a block, for people: how it ended, or that it is in force.
fn block_status(b: &BlockInPeriod, until: i64) -> String {
    if let Some(reason) = b.block.end_reason {
        return reason.to_string();
    }
    if b.block.active {
        return "in force".to_string();
    }
    match b.block.expires_at {
        Some(at) if at.unix() <= until => "expired".to_string(),
        _ => "ended".to_string(),
    }
}

/// Blocks: counts per target, the timeline, and every block of the period listed.
pub(super) fn write_blocks(out: &mut String, s: &Summary) -> fmt::Result {
    writeln!(out, "<section id=\"blocks\">")?;
    writeln!(out, "<h2>Blocks</h2>")?;
    write_block_counts(out, s)?;
    writeln!(out, "<h3>Block timeline</h3>")?;
    if s.block_timeline.is_empty() {
        writeln!(
            out,
            "<p class=\"empty\" id=\"timeline-empty\">No block was in force during this period.</p>"
        )?;
        return writeln!(out, "</section>");
    }
    write_timeline(out, s)?;
    write_block_list(out, s)?;
    writeln!(out, "</section>")
}

/// Blocks created, ended and in force per target.
fn write_block_counts(out: &mut String, s: &Summary) -> fmt::Result {
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
    writeln!(out, "</tbody></table>")
}

/// The timeline's note, the chart of the first [`TIMELINE_MAX`] blocks, and a note
/// when there are more.
fn write_timeline(out: &mut String, s: &Summary) -> fmt::Result {
    let shown = &s.block_timeline[..s.block_timeline.len().min(TIMELINE_MAX)];
    writeln!(
        out,
        "<p class=\"note\">Each block in force at some moment of the period, from its creation \
         to its end or expiry, cut to the period: <span class=\"swatch postfix\"></span> postfix \
         map, <span class=\"swatch firewall\"></span> firewall.</p>"
    )?;
    chart::write_timeline(out, shown, s.since, s.until)?;
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

/// Every block of the period: network, target, origin and reason, times, status and
/// the connections it refused.
fn write_block_list(out: &mut String, s: &Summary) -> fmt::Result {
    writeln!(
        out,
        "<div class=\"scroll\"><table class=\"wide\" id=\"block-list\"><thead><tr><th>network</th>\
         <th>target</th><th>origin and reason</th><th>created</th><th>ends / ended</th>\
         <th>status</th><th class=\"num\">rejected</th></tr></thead><tbody>"
    )?;
    let until = s.until.unix();
    for b in &s.block_timeline {
        let v = &b.block;
        let t = v.target.as_str();
        let net = v.network.to_string();
        let end = match v.ended_at.or(v.expires_at) {
            Some(at) => format!("<time>{}</time>", Esc(&at.to_string())),
            None => "permanent".to_string(),
        };
        writeln!(
            out,
            "<tr id=\"block-{id}\" data-network=\"{net}\" data-target=\"{t}\" data-rejected=\"{rej}\">\
             <td class=\"mono network\">{net_shown}</td><td class=\"nowrap\"><span class=\"swatch {t}\"></span> {t}</td>\
             <td class=\"reason\"><span class=\"tag\">{origin}</span> {reason}</td>\
             <td><time>{created}</time></td><td>{end}</td>\
             <td class=\"nowrap\">{status}</td><td class=\"num\">{rej}</td></tr>",
            id = v.id,
            net = Esc(&net),
            net_shown = Network(&net),
            origin = v.origin,
            reason = Shown(&v.reason),
            created = Esc(&v.created_at.to_string()),
            status = Esc(&block_status(b, until)),
            rej = b.rejected,
        )?;
    }
    writeln!(out, "</tbody></table></div>")
}

/// Block efficacy: connections refused this period and before, and per postfix block.
pub(super) fn write_efficacy(out: &mut String, s: &Summary) -> fmt::Result {
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
    write_per_postfix_block(out, s)?;
    writeln!(out, "</section>")
}

/// The postfix blocks of the period, most refusals first, with their share.
fn write_per_postfix_block(out: &mut String, s: &Summary) -> fmt::Result {
    let e = &s.efficacy;
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
        return writeln!(
            out,
            "<p class=\"empty\">No postfix block was in force during this period.</p>"
        );
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
            net = Esc(&b.block.network.to_string()),
            created = Esc(&b.block.created_at.to_string()),
        )?;
        chart::write_hbar(out, "rejected", b.rejected, max)?;
        writeln!(out, "</tr>")?;
    }
    writeln!(out, "</tbody></table>")
}

/// More is worse for everything the totals count: rises in red, falls in green.
fn change_class(now: i64, before: i64) -> &'static str {
    match now.cmp(&before) {
        std::cmp::Ordering::Greater => "up",
        std::cmp::Ordering::Less => "down",
        std::cmp::Ordering::Equal => "",
    }
}
