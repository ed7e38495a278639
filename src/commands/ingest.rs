//! `saslguard ingest [PATH...]`: read new log lines into the store.

use std::io::Write;
use std::time::Instant;

use anyhow::Context as _;
use serde::Serialize;

use crate::cli::{IngestArgs, SummaryFormat};
use crate::commands::Context;
use crate::ingest;
use crate::store::{RunCounters, StreamStore};
use crate::ui;

/// The one-line summary, also printed as JSON.
#[derive(Debug, Serialize)]
struct Summary {
    #[serde(flatten)]
    counters: RunCounters,
    seconds: f64,
}

/// Runs `ingest`.
pub fn run(ctx: &Context, args: &IngestArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let reading = ctx
        .reading
        .as_ref()
        .context("ingest without its logs resolved")?;
    let (inputs, _lock, store) = ctx.open_for_ingest()?;
    let run_id = store.begin_run("ingest", ctx.clock.unix())?;
    let options = ctx.ingest_options(reading);
    let result = ingest::ingest(&store, run_id, inputs, ctx.clock.now(), options);
    // A failed source fails the run, after everything else was read and the summary
    // printed.
    let error = match &result {
        Ok(ingested) => ingested.result().err(),
        Err(e) => Some(anyhow::anyhow!("{e:#}")),
    }
    .map(|e| format!("{e:#}"));
    store
        .finish_run(
            run_id,
            ctx.clock.unix(),
            result.as_ref().ok().map(|ingested| &ingested.counters),
            error.as_deref(),
            started.elapsed(),
        )
        .context("recording the run")?;
    let ingested = result?;
    let counters = ingested.counters;
    let summary = Summary {
        counters,
        seconds: started.elapsed().as_secs_f64(),
    };
    ingest::warn_untrusted(&counters);
    let mut out = std::io::stdout().lock();
    match args.format {
        SummaryFormat::Json => writeln!(out, "{}", serde_json::to_string(&summary)?)?,
        SummaryFormat::Text if ui::verbosity() >= 0 => writeln!(
            out,
            "ingest: {} lines, {} new events, {} already stored, {} unparsed, {} untrusted, \
             {} in {:.2} s",
            counters.lines,
            counters.events,
            counters.duplicates,
            counters.unparsed,
            counters.untrusted,
            human_bytes(counters.bytes),
            summary.seconds
        )?,
        SummaryFormat::Text => {}
    }
    // With [cluster]: ship what was just committed locally (the outbox keeps it when
    // the shared store cannot be reached, and the exit status says so).
    crate::cluster::sync(&ctx.config, &store, ctx.clock.unix(), false)
        .context("the cluster's shared store")?;
    ingested.result()
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = "B";
    for u in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    format!("{value:.1} {unit}")
}
