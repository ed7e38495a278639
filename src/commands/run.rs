//! `saslguard run`: the cron/timer entry point. Ingest, expire, apply the policy, render,
//! in that order, under the database lock.

use std::io::Write;
use std::time::Instant;

use anyhow::Context as _;
use serde::Serialize;

use crate::cli::{RunArgs, SummaryFormat};
use crate::commands::Context;
use crate::commands::render::describe;
use crate::enforce::{self, RenderMode, Rendered};
use crate::ingest;
use crate::report::format_time;
use crate::store::{BlockStore, RunCounters, StreamStore};
use crate::ui;

/// What a run did.
#[derive(Debug, Default, Serialize)]
struct RunSummary {
    dry_run: bool,
    ingest: RunCounters,
    /// New blocks, as `NETWORK (target)`.
    blocks_created: Vec<String>,
    /// Blocks ended (expired or allowlisted), as `NETWORK (target): why`.
    blocks_ended: Vec<String>,
    rendered: Vec<Rendered>,
    /// What the daily prune deleted, when it ran.
    pruned: Option<crate::retention::Pruned>,
    /// The shared store's part, with `[cluster]` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<crate::cluster::Synced>,
    seconds: f64,
}

/// Runs `run`.
pub fn run(ctx: &Context, args: &RunArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    // A dry run reads no logs (its `reading` is `None`).
    let (inputs, _lock, store) = ctx.open_for_ingest()?;
    let now = ctx.clock.unix();
    let mut summary = RunSummary {
        dry_run: args.dry_run,
        ..RunSummary::default()
    };
    if let (false, Some(reading)) = (args.dry_run, &ctx.reading) {
        let run_id = store.begin_run("run", now)?;
        let options = ctx.ingest_options(reading);
        // A failed log source is reported; expiry, policy and render still run, and
        // then the run fails. Only an ingest that finished knows its final counters; a
        // failed one leaves those its committed batches stored.
        let mut counted = None;
        let result =
            ingest::ingest(&store, run_id, inputs, ctx.clock.now(), options).and_then(|ingested| {
                counted = Some(ingested.counters);
                summary.ingest = ingested.counters;
                // With [cluster], the cluster decides; unreachable, this host goes on
                // alone (its last known blocks stay) and the run fails after rendering.
                let shared = crate::cluster::sync(&ctx.config, &store, now, true);
                let local_policy = !matches!(shared, Ok(Some(_)));
                if let Ok(synced) = &shared {
                    summary.cluster = synced.clone();
                }
                steps(
                    ctx,
                    &store,
                    now,
                    RenderMode::WhenChanged,
                    &mut summary,
                    local_policy,
                )?;
                shared.context("the cluster's shared store")?;
                ingested.result()
            });
        let error = result.as_ref().err().map(|e| format!("{e:#}"));
        store
            .finish_run(
                run_id,
                now,
                counted.as_ref(),
                error.as_deref(),
                started.elapsed(),
            )
            .context("recording the run")?;
        let rendered: usize = summary.rendered.iter().map(|r| r.entries).sum();
        store.record_run_blocks(
            run_id,
            summary.blocks_created.len(),
            summary.blocks_ended.len(),
            (!summary.rendered.is_empty()).then_some(rendered),
        )?;
        if result.is_err() && summary.rendered.is_empty() {
            return result;
        }
        // Rendering was reached: say what was done, then fail if anything did not.
        summary.seconds = started.elapsed().as_secs_f64();
        print(&summary, args.format)?;
        return result;
    }
    // Nothing a dry run does is kept: its transaction is rolled back, also on an error.
    let dry = store.transaction()?;
    steps(ctx, &store, now, RenderMode::DryRun, &mut summary, true)?;
    dry.rollback()?;
    summary.seconds = started.elapsed().as_secs_f64();
    print(&summary, args.format)?;
    enforce::render_failure(&summary.rendered)
}

/// Expire, end allowlisted blocks, apply the policy (one transaction), then render.
fn steps(
    ctx: &Context,
    store: &crate::store::SqliteStore,
    now: i64,
    mode: RenderMode,
    summary: &mut RunSummary,
    local_policy: bool,
) -> anyhow::Result<()> {
    let allow = enforce::allowlist(store, &ctx.config)?;
    // A dry run is inside a transaction already, which it rolls back.
    let decided = match mode {
        RenderMode::DryRun => None,
        _ => Some(store.transaction()?),
    };
    let expired = store.expire_blocks(now)?;
    let allowlisted = enforce::end_allowlisted(store, &allow, now)?;
    let created = if local_policy {
        enforce::apply_policy(store, &ctx.config, &allow, now)?
    } else {
        Vec::new()
    };
    if let Some(decided) = decided {
        decided.commit()?;
    }
    for block in expired.iter().chain(&allowlisted) {
        summary.blocks_ended.push(format!(
            "{} ({}): {}",
            block.network,
            block.target.as_str(),
            block.end_reason.map_or("ended".into(), |r| r.to_string())
        ));
    }
    for block in &created {
        let until = block.expires_at.map_or("permanently".into(), |t| {
            format!("until {}", format_time(t))
        });
        summary.blocks_created.push(format!(
            "{} ({}) {until}: {}",
            block.network,
            block.target.as_str(),
            block.reason
        ));
    }
    summary.rendered = enforce::render_all(store, &ctx.config, &allow, now, mode)?;
    if mode != RenderMode::DryRun {
        summary.pruned = crate::retention::prune_if_due(store, &ctx.config, now)?;
        // After every other change was applied: fail, naming what was not.
        enforce::render_failure(&summary.rendered)?;
    }
    Ok(())
}

fn print(summary: &RunSummary, format: SummaryFormat) -> anyhow::Result<()> {
    ingest::warn_untrusted(&summary.ingest);
    let mut out = std::io::stdout().lock();
    match format {
        SummaryFormat::Json => writeln!(out, "{}", serde_json::to_string(summary)?)?,
        SummaryFormat::Text => {
            for line in &summary.blocks_created {
                ui::note(format!("new block: {line}"));
            }
            for line in &summary.blocks_ended {
                ui::note(format!("ended: {line}"));
            }
            if summary.dry_run {
                writeln!(out, "run --dry-run (logs not read, nothing changed):")?;
                for line in &summary.blocks_created {
                    writeln!(out, "  would block {line}")?;
                }
                for line in &summary.blocks_ended {
                    writeln!(out, "  would end {line}")?;
                }
                for place in &summary.rendered {
                    writeln!(out, "  {}", describe(place, true))?;
                }
            } else if ui::verbosity() >= 0 {
                let places: Vec<String> = summary
                    .rendered
                    .iter()
                    .map(|p| {
                        let change = match &p.diff {
                            None if p.error.is_some() => return format!("{} FAILED", p.place),
                            None => "unchanged".to_string(),
                            Some(d) => format!("+{} -{}", d.added.len(), d.removed.len()),
                        };
                        format!("{} {} ({change})", p.place, p.entries)
                    })
                    .collect();
                // Untrusted journal entries were read but not used: said when there are any.
                let untrusted = match summary.ingest.untrusted {
                    0 => String::new(),
                    n => format!(", {n} untrusted journal entries"),
                };
                writeln!(
                    out,
                    "run: {} new events{untrusted}, {} new blocks, {} ended blocks, \
                     rendered: {} in {:.2} s",
                    summary.ingest.events,
                    summary.blocks_created.len(),
                    summary.blocks_ended.len(),
                    if places.is_empty() {
                        "nothing".to_string()
                    } else {
                        places.join(", ")
                    },
                    summary.seconds
                )?;
            }
        }
    }
    Ok(())
}
