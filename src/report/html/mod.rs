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
//!
//! Parts: this module assembles the page; [`sections`] writes one section each;
//! [`chart`] draws the SVG; [`escape`] makes database text safe; the CSS is
//! `style.css`, embedded.

mod chart;
mod escape;
mod sections;

use std::fmt::{self, Write as _};

use crate::report::summary::Summary;
use escape::Esc;

/// The page's style sheet, inlined in `<style>` (the page fetches nothing).
const STYLE: &str = include_str!("style.css");

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

/// The whole page: the head, the sections in order, the footer.
fn write_page(out: &mut String, s: &Summary) -> fmt::Result {
    write_head(out, s)?;
    writeln!(out, "<body>")?;
    sections::write_header(out, s)?;
    sections::write_totals(out, s)?;
    sections::write_failures_over_time(out, s)?;
    sections::write_top_addresses(out, s)?;
    sections::write_top_usernames(out, s)?;
    sections::write_blocks(out, s)?;
    sections::write_efficacy(out, s)?;
    writeln!(
        out,
        "<footer>saslguard {} &middot; server faults are never counted as failures \
         &middot; all times UTC</footer>",
        Esc(env!("CARGO_PKG_VERSION"))
    )?;
    writeln!(out, "</body>")?;
    writeln!(out, "</html>")
}

/// The doctype and `<head>`: charset, the Content-Security-Policy, the title, the CSS.
fn write_head(out: &mut String, s: &Summary) -> fmt::Result {
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
        Esc(&s.until.to_string())
    )?;
    // The style sheet starts on its own line, as it always has.
    writeln!(out, "<style>\n{STYLE}</style>")?;
    writeln!(out, "</head>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::summary::{
        BlockInPeriod, Blocks, Efficacy, HourCount, TopAddress, TopUsername, Totals,
    };
    use crate::report::{BlockView, Stamp};
    use crate::store::{BlockTarget, Origin};

    /// 2026-11-27T12:00:00Z.
    const NOON: i64 = 1_795_780_800;
    /// 2026-11-28T07:00:00Z and a week later: a block's creation and expiry.
    const WEEK_START: i64 = NOON + 19 * 3600;
    const WEEK_END: i64 = WEEK_START + 7 * 86_400;

    fn summary() -> Summary {
        let view = |id: i64, network: &str, target: BlockTarget, reason: &str| BlockView {
            id,
            network: network.parse().expect("a network"),
            target,
            origin: Origin::Manual,
            reason: reason.to_string(),
            failures: None,
            window_seconds: None,
            created_at: Stamp(WEEK_START),
            expires_at: Some(Stamp(WEEK_END)),
            ended_at: None,
            end_reason: None,
            active: true,
        };
        Summary {
            period: "24h".to_string(),
            period_seconds: 86_400,
            since: Stamp(NOON),
            until: Stamp(NOON + 86_400),
            previous_since: Stamp(NOON - 86_400),
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
                    hour: Stamp(NOON + h * 3600),
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
                ip: "203.0.113.7".parse().expect("an address"),
                failures: 12,
                hosts: None,
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
                    ends_at: Some(Stamp(WEEK_END)),
                    rejected: 4,
                },
                BlockInPeriod {
                    block: view(2, "198.51.100.0/24", BlockTarget::Firewall, "x"),
                    ends_at: Some(Stamp(WEEK_END)),
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
