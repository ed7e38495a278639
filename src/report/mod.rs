//! What people read: rankings and per-address reports built from the store alone.
//! Reports never touch log files or the firewall.

pub mod csv;
pub mod efficacy;
pub mod html;
pub mod show;
pub mod summary;
pub mod time;
pub mod top;

pub use show::ShowReport;
pub use time::Stamp;
pub use top::{Period, Subject, TopRow};

use ipnet::IpNet;
use serde::Serialize;

use crate::store::{Block, BlockTarget, EndReason, Origin};

/// Counts per host by host name, in a cluster's reports (`"hosts": {"mx1": 4}`); a
/// single host's reports have none, so their output stays as it was.
pub type HostCounts = std::collections::BTreeMap<String, i64>;

/// The per-host counts of events of `kind` inside `network` in `(since, until]` when
/// the store holds several hosts' events (`None` otherwise).
pub fn hosts_of(
    store: &dyn crate::store::ReportStore,
    network: &IpNet,
    kind: crate::model::EventKind,
    since: Option<i64>,
    until: i64,
) -> anyhow::Result<Option<HostCounts>> {
    Ok(store
        .hosts_of(network, kind, since, until)?
        .map(|hosts| hosts.into_iter().collect()))
}

/// A stored Unix time as RFC 3339 UTC (`2026-11-27T12:00:00Z`).
/// Reports keep a [`Stamp`] until they render; this is for other commands' output.
pub fn format_time(unix: i64) -> String {
    Stamp(unix).to_string()
}

/// Attacker-chosen text (usernames, mechanisms, reasons) made safe for a terminal, as
/// an owned string for table cells: [`crate::sanitize::for_terminal`], the one rule for
/// every text from a log that reaches a person.
pub fn printable(text: &str) -> String {
    crate::sanitize::for_terminal(text).into_owned()
}

/// Tables in every command: a header underlined, no other lines, like `ps` or `ss`.
const TABLE_STYLE: comfy_table::TableStyle = comfy_table::TableStyle::new()
    .header_separator(comfy_table::LineStyle::none().fill('─').junction(' '));

/// A table styled the same way in every command.
pub fn new_table(header: Vec<String>) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table
        .load_style(TABLE_STYLE)
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
        .set_header(header);
    table
}

/// A block as `blocks --format json` and `show` print it. Shared by both commands so a
/// block reads the same everywhere.
#[derive(Debug, Serialize)]
pub struct BlockView {
    pub id: i64,
    pub network: IpNet,
    pub target: BlockTarget,
    pub origin: Origin,
    pub reason: String,
    pub failures: Option<i64>,
    pub window_seconds: Option<i64>,
    pub created_at: Stamp,
    pub expires_at: Option<Stamp>,
    pub ended_at: Option<Stamp>,
    pub end_reason: Option<EndReason>,
    /// Whether the block is in force at the moment the report was made.
    pub active: bool,
}

impl BlockView {
    /// The table cells every block listing starts with: network, target, origin,
    /// created, expires, ended (with why).
    pub fn cells(&self) -> Vec<String> {
        let ended = match (self.ended_at, self.end_reason) {
            (Some(at), Some(why)) => format!("{at} ({why})"),
            _ => "-".to_string(),
        };
        vec![
            self.network.to_string(),
            self.target.as_str().to_string(),
            self.origin.to_string(),
            self.created_at.to_string(),
            self.expires_at
                .map_or_else(|| "permanent".into(), |t| t.to_string()),
            ended,
        ]
    }

    /// The block for output; its times stay Unix seconds until written.
    pub fn new(block: &Block, now: i64) -> BlockView {
        BlockView {
            id: block.id,
            network: block.network,
            target: block.target,
            origin: block.origin,
            reason: block.reason.clone(),
            failures: block.failures,
            window_seconds: block.window_seconds,
            created_at: Stamp(block.created_at),
            expires_at: block.expires_at.map(Stamp),
            ended_at: block.ended_at.map(Stamp),
            end_reason: block.end_reason,
            active: block.is_active(now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_escapes_hidden_characters_as_the_one_rule_does() {
        assert_eq!(printable("alice@example.com"), "alice@example.com");
        assert_eq!(printable("jörg"), "jörg");
        assert_eq!(printable("a\u{1b}[2Jb\n"), "a\\u{1b}[2Jb\\u{a}");
        assert_eq!(printable("DOMAIN\\user"), "DOMAIN\\\\user");
        assert_eq!(printable("abc\u{202e}gpj.exe"), "abc\\u{202e}gpj.exe");
        assert_eq!(printable("ad\u{200b}min"), "ad\\u{200b}min");
    }
}
