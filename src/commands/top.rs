//! `saslguard top`: offenders, or the usernames, mechanisms and services they tried,
//! ranked over periods.

use std::io::Write;

use crate::cli::{TableFormat, TopArgs, TopBy};
use crate::commands::Context;
use crate::report::top::{self, Subject};
use crate::store::Grouping;
use crate::store::reports::LabelKind;

/// Runs `top`.
pub fn run(ctx: &Context, args: &TopArgs) -> anyhow::Result<()> {
    let store = ctx.open_existing_store()?;
    let subject = match args.by {
        TopBy::Ip => Subject::Offenders(Grouping::Address),
        TopBy::Net => Subject::Offenders(Grouping::Network {
            v4_prefix: ctx.config.networks.ipv4_prefix,
            v6_prefix: ctx.config.networks.ipv6_prefix,
        }),
        TopBy::User => Subject::Labels(LabelKind::Username),
        TopBy::Mechanism => Subject::Labels(LabelKind::Mechanism),
        TopBy::Service => Subject::Labels(LabelKind::Service),
    };
    let kind = args.kind.event_kind();
    if kind != crate::parse::EventKind::AuthFailed {
        if !matches!(subject, Subject::Offenders(_)) {
            anyhow::bail!("--kind applies to --by ip and --by net only");
        }
        if args.new {
            anyhow::bail!("--new applies to --kind auth-failed only");
        }
    }
    let rows = top::rank_kind(
        &store,
        &args.period,
        ctx.clock.unix(),
        subject,
        kind,
        args.limit,
        args.new,
    )?;
    let mut out = std::io::stdout().lock();
    match args.format {
        TableFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?,
        TableFormat::Csv => write!(out, "{}", top::to_csv(&rows, &args.period, subject))?,
        TableFormat::Table if rows.is_empty() => {
            let first = args.period.first().map_or("period", |p| p.label());
            if args.new {
                writeln!(
                    out,
                    "no {} failed for the first time in the last {first}",
                    subject.heading()
                )?;
            } else {
                writeln!(
                    out,
                    "no failed authentications in the last {}",
                    args.period.last().map_or("period", |p| p.label())
                )?;
            }
        }
        TableFormat::Table => writeln!(out, "{}", top::to_table(&rows, &args.period, subject))?,
    }
    Ok(())
}
