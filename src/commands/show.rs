//! `saslguard show ADDR|CIDR`: everything stored about one address or network.

use std::io::Write;

use crate::cli::{ShowArgs, ShowFormat};
use crate::commands::Context;
use crate::report::show;

/// Runs `show`. An address never seen is no error: the table says so, the JSON has
/// zeros (`seen: false`).
pub fn run(ctx: &Context, args: &ShowArgs) -> anyhow::Result<()> {
    let store = ctx.open_report_store()?;
    let report = show::build(store.as_ref(), &args.network, ctx.clock.unix())?;
    let mut out = std::io::stdout().lock();
    match args.format {
        ShowFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
        ShowFormat::Table => write!(out, "{}", show::to_table(&report))?,
    }
    Ok(())
}
