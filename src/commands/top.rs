//! `saslguard top`: offenders, or the usernames, mechanisms and services they tried,
//! ranked over periods.

use std::io::Write;

use crate::cli::{TableFormat, TopArgs, TopBy};
use crate::commands::Context;
use crate::report::top::{self, Period, Subject};
use crate::store::Grouping;
use crate::store::LabelKind;

/// Runs `top`.
pub fn run(ctx: &Context, args: &TopArgs) -> anyhow::Result<()> {
    let store = ctx.open_report_store()?;
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
        store.as_ref(),
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
            let when = |period: Option<&Period>| match period {
                Some(Period::Last { label, .. }) => format!("in the last {label}"),
                Some(Period::All) | None => "ever".to_string(),
            };
            if args.new {
                writeln!(
                    out,
                    "no {} failed for the first time {}",
                    subject.heading(),
                    when(args.period.first())
                )?;
            } else {
                // Rows come from any period, so none means none in the longest.
                let longest = args
                    .period
                    .iter()
                    .max_by_key(|p| p.since(0).map_or(i64::MAX, |since| -since));
                writeln!(out, "no failed authentications {}", when(longest))?;
            }
        }
        TableFormat::Table => writeln!(out, "{}", top::to_table(&rows, &args.period, subject))?,
    }
    Ok(())
}
