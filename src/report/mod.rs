//! What people read: rankings built from the store alone. Reports never touch log
//! files or the firewall.

pub mod top;

pub use top::{Period, TopRow};

use chrono::{DateTime, SecondsFormat, Utc};

/// A stored Unix time as RFC 3339 UTC (`2026-11-27T12:00:00Z`).
pub fn format_time(unix: i64) -> String {
    DateTime::<Utc>::from_timestamp(unix, 0)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| unix.to_string())
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
