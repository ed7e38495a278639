//! `saslguard report`: a summary of a period against the period before it.

use std::io::Write;

use crate::cli::{ReportArgs, ReportFormat};
use crate::commands::Context;
use crate::report::Period;
use crate::report::summary;

/// Runs `report`: builds the summary up to now (or `--as-of`) and prints it, or writes
/// it atomically to `--output` (mode 0600: it holds attacker-chosen usernames).
pub fn run(ctx: &Context, args: &ReportArgs) -> anyhow::Result<()> {
    let Period::Last { label, seconds } = &args.period else {
        anyhow::bail!("report needs a period with a length, like 24h, 7d or 30d");
    };
    let store = ctx.open_report_store()?;
    let report = summary::build(
        store.as_ref(),
        ctx.config.networks,
        label,
        *seconds,
        ctx.clock.unix(),
    )?;
    let text = match args.format {
        ReportFormat::Json => format!("{}\n", serde_json::to_string_pretty(&report)?),
        ReportFormat::Table => summary::to_table(&report),
        ReportFormat::Html => crate::report::html::to_html(&report),
    };
    match &args.output {
        Some(path) => crate::render::atomic::write_atomically_with_mode(
            path,
            text.as_bytes(),
            crate::render::atomic::PRIVATE_MODE,
        ),
        None => {
            std::io::stdout().lock().write_all(text.as_bytes())?;
            Ok(())
        }
    }
}
