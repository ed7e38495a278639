//! `saslguard top`: offenders ranked over periods.

use std::io::Write;

use crate::cli::{TableFormat, TopArgs, TopBy};
use crate::commands::Context;
use crate::report::top;
use crate::store::Grouping;

/// Runs `top`.
pub fn run(ctx: &Context, args: &TopArgs) -> anyhow::Result<()> {
    let store = ctx.open_existing_store()?;
    let grouping = match args.by {
        TopBy::Ip => Grouping::Address,
        TopBy::Net => Grouping::Network {
            v4_prefix: ctx.config.networks.ipv4_prefix,
            v6_prefix: ctx.config.networks.ipv6_prefix,
        },
    };
    let rows = top::rank(&store, &args.period, ctx.clock.unix(), grouping, args.limit)?;
    let by_network = args.by == TopBy::Net;
    let mut out = std::io::stdout().lock();
    match args.format {
        TableFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?,
        TableFormat::Csv => write!(out, "{}", top::to_csv(&rows, &args.period, by_network))?,
        TableFormat::Table if rows.is_empty() => writeln!(
            out,
            "no failed authentications in the last {}",
            args.period.last().map_or("period", |p| p.label())
        )?,
        TableFormat::Table => writeln!(out, "{}", top::to_table(&rows, &args.period, by_network))?,
    }
    Ok(())
}
