//! `render` (write the map and the firewall from the database) and `status` (what is
//! active, the last run, and drift between the database and what is rendered).

use std::collections::BTreeSet;
use std::io::Write;

use ipnet::IpNet;
use serde::Serialize;

use crate::cli::{RenderArgs, StatusArgs, SummaryFormat};
use crate::commands::{Context, LOCK_WAIT};
use crate::enforce::{self, RenderMode, Rendered};
use crate::render::Diff;
use crate::report::format_time;
use crate::store::blocks::BlockTarget;

/// Runs `render`.
pub fn render(ctx: &Context, args: &RenderArgs) -> anyhow::Result<()> {
    let _lock = ctx.lock(LOCK_WAIT)?;
    let store = ctx.open_store()?;
    let allow = enforce::allowlist(&store, &ctx.config)?;
    let mode = if args.dry_run {
        RenderMode::DryRun
    } else {
        RenderMode::Always
    };
    let rendered = enforce::render_all(&store, &ctx.config, &allow, ctx.clock.unix(), mode)?;
    let mut out = std::io::stdout().lock();
    match args.format {
        SummaryFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&rendered)?)?,
        SummaryFormat::Text => {
            for place in &rendered {
                writeln!(out, "{}", describe(place, args.dry_run))?;
                if args.dry_run
                    && let Some(diff) = &place.diff
                {
                    for net in &diff.added {
                        writeln!(out, "  + {net}")?;
                    }
                    for net in &diff.removed {
                        writeln!(out, "  - {net}")?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// One line about what rendering did (or would do) at a place.
pub fn describe(place: &Rendered, dry_run: bool) -> String {
    let change = match &place.diff {
        None => "unchanged".to_string(),
        Some(diff) if diff.is_empty() => "no change".to_string(),
        Some(diff) => format!(
            "{}{} added, {} removed",
            if dry_run { "would be: " } else { "" },
            diff.added.len(),
            diff.removed.len()
        ),
    };
    format!(
        "{} ({} blocks): {} entries, {change}",
        place.place,
        place.target.as_str(),
        place.entries
    )
}

/// Drift at one place, as `status` reports it.
#[derive(Debug, Serialize)]
struct PlaceStatus {
    target: BlockTarget,
    place: &'static str,
    active_blocks: usize,
    wanted_entries: usize,
    /// In the database, missing from the map or firewall.
    missing: Vec<IpNet>,
    /// In the map or firewall, not in the database.
    unexpected: Vec<IpNet>,
    in_sync: bool,
    /// Reading the rendered state failed.
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct LastRun {
    started_at: String,
    ended_at: Option<String>,
    status: String,
}

#[derive(Debug, Serialize)]
struct Status {
    places: Vec<PlaceStatus>,
    /// Targets with active blocks but nowhere to render them (`backend = "none"`).
    unrendered: Vec<(BlockTarget, usize)>,
    last_run: Option<LastRun>,
}

/// Runs `status`.
pub fn status(ctx: &Context, args: &StatusArgs) -> anyhow::Result<()> {
    let store = ctx.open_existing_store()?;
    let allow = enforce::allowlist(&store, &ctx.config)?;
    let now = ctx.clock.unix();
    let places = enforce::places(&ctx.config);
    let mut status = Status {
        places: Vec::new(),
        unrendered: Vec::new(),
        last_run: store
            .last_run("run")?
            .map(|(started, ended, status)| LastRun {
                started_at: format_time(started),
                ended_at: ended.map(format_time),
                status,
            }),
    };
    for target in BlockTarget::ALL {
        let active = store.active_blocks(Some(target), now)?.len();
        let mut rendered_somewhere = false;
        for (_, place) in places.iter().filter(|(t, _)| *t == target) {
            rendered_somewhere = true;
            let wanted = enforce::wanted_entries(&store, target, &allow, now)?;
            let wanted_set: BTreeSet<IpNet> = wanted.iter().map(|e| e.network).collect();
            // Entries first; then the place's own check, which also sees missing rules
            // or changed settings (a flushed INPUT chain leaves ipset's sets intact).
            let (diff, error) = match place.current() {
                Ok(current) => (Diff::between(&current, &wanted_set), None),
                Err(e) => (Diff::default(), Some(format!("{e:#}"))),
            };
            let (settled, error) = match (error, diff.is_empty()) {
                (None, true) => match place.in_sync(&wanted) {
                    Ok(settled) => (settled, None),
                    Err(e) => (false, Some(format!("{e:#}"))),
                },
                (error, _) => (false, error),
            };
            status.places.push(PlaceStatus {
                target,
                place: place.name(),
                active_blocks: active,
                wanted_entries: wanted.len(),
                in_sync: settled,
                missing: diff.added,
                unexpected: diff.removed,
                error,
            });
        }
        if !rendered_somewhere && active > 0 {
            status.unrendered.push((target, active));
        }
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        SummaryFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&status)?)?,
        SummaryFormat::Text => {
            for p in &status.places {
                let state = match &p.error {
                    Some(e) => format!("cannot read: {e}"),
                    None if p.in_sync => "in sync".to_string(),
                    None if p.missing.is_empty() && p.unexpected.is_empty() => {
                        "DRIFT: the entries match, but rules or settings differ; \
                         `saslguard run` repairs it"
                            .to_string()
                    }
                    None => format!(
                        "DRIFT: {} missing{}, {} unexpected{}; `saslguard run` repairs it",
                        p.missing.len(),
                        sample(&p.missing),
                        p.unexpected.len(),
                        sample(&p.unexpected)
                    ),
                };
                writeln!(
                    out,
                    "{} blocks: {} active, {} entries at {}: {state}",
                    p.target.as_str(),
                    p.active_blocks,
                    p.wanted_entries,
                    p.place
                )?;
            }
            for (target, active) in &status.unrendered {
                writeln!(
                    out,
                    "{} blocks: {active} active, not rendered (firewall backend = \"none\")",
                    target.as_str()
                )?;
            }
            match &status.last_run {
                Some(run) => writeln!(
                    out,
                    "last run: {} .. {}, {}",
                    run.started_at,
                    run.ended_at.as_deref().unwrap_or("(did not finish)"),
                    run.status
                )?,
                None => writeln!(out, "last run: never")?,
            }
        }
    }
    Ok(())
}

fn sample(networks: &[IpNet]) -> String {
    if networks.is_empty() {
        return String::new();
    }
    let shown: Vec<String> = networks.iter().take(3).map(IpNet::to_string).collect();
    let more = if networks.len() > 3 { ", ..." } else { "" };
    format!(" ({}{more})", shown.join(", "))
}
