//! `saslguard metrics`: Prometheus text format for a node_exporter textfile collector
//! (`saslguard metrics > /var/lib/node_exporter/textfile/saslguard.prom.tmp && mv ...`).

use std::fmt::Write as _;
use std::io::Write;

use crate::commands::Context;
use crate::enforce;
use crate::store::{BlockStore, BlockTarget, ReportStore};

/// Runs `metrics`.
pub fn run(ctx: &Context) -> anyhow::Result<()> {
    let store = ctx.open_existing_store()?;
    let now = ctx.clock.unix();
    let figures = store.metrics()?;
    let mut text = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
        let _ = writeln!(text, "# HELP saslguard_{name} {help}");
        let _ = writeln!(text, "# TYPE saslguard_{name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(text, "saslguard_{name}{labels} {value}");
        }
    };
    metric(
        "events",
        "gauge",
        "Events stored, by kind (auth_failed counts toward blocks; server_fault never does).",
        &[
            ("{kind=\"auth_failed\"}".into(), figures.failures as f64),
            (
                "{kind=\"server_fault\"}".into(),
                figures.server_faults as f64,
            ),
        ],
    );
    metric(
        "unparsed_lines",
        "gauge",
        "Log lines counted as unparsed over all runs still recorded.",
        &[(String::new(), figures.unparsed_lines as f64)],
    );
    // A figure that cannot be read fails the command (nothing is printed, so
    // `metrics > f.tmp && mv` keeps the previous file); it never becomes a 0.
    let mut active: Vec<(String, f64)> = Vec::new();
    for target in BlockTarget::ALL {
        let n = store.active_blocks(Some(target), now)?.len();
        active.push((format!("{{target=\"{}\"}}", target.as_str()), n as f64));
    }
    metric(
        "active_blocks",
        "gauge",
        "Blocks in force, by target.",
        &active,
    );
    if let Some((started, duration, ok, untrusted)) = figures.last_run {
        metric(
            "last_run_timestamp_seconds",
            "gauge",
            "When the latest run started (unix seconds).",
            &[(String::new(), started as f64)],
        );
        if let Some(seconds) = duration {
            metric(
                "last_run_duration_seconds",
                "gauge",
                "How long the latest run took.",
                &[(String::new(), seconds)],
            );
        }
        metric(
            "last_run_success",
            "gauge",
            "1 when the latest run succeeded.",
            &[(String::new(), if ok { 1.0 } else { 0.0 })],
        );
        metric(
            "last_run_untrusted_entries",
            "gauge",
            "Journal entries the latest run counted as untrusted and did not use \
             (above 0: check [journal] trusted_*).",
            &[(String::new(), untrusted as f64)],
        );
    }
    let allow = enforce::allowlist(&store, &ctx.config)?;
    let (places, _) = enforce::drift(&store, &ctx.config, &allow, now)?;
    let mut drift = Vec::new();
    let mut errors = Vec::new();
    let mut reload_owed = Vec::new();
    let mut unrenderable = Vec::new();
    for p in &places {
        // A backend or name no longer configured gets its own series.
        let place = match &p.left_over {
            Some(name) => format!("place=\"{}\",left_over=\"{name}\"", p.place),
            None => format!("place=\"{}\"", p.place),
        };
        errors.push((
            format!("{{{place}}}"),
            if p.error.is_some() { 1.0 } else { 0.0 },
        ));
        reload_owed.push((
            format!("{{{place}}}"),
            if p.reload_owed_since.is_some() {
                1.0
            } else {
                0.0
            },
        ));
        unrenderable.push((format!("{{{place}}}"), p.unrenderable.len() as f64));
        // What could not be read has no drift figure (drift_check_failed says so).
        if p.error.is_some() {
            continue;
        }
        drift.push((
            format!("{{{place},kind=\"missing\"}}"),
            p.missing.len() as f64,
        ));
        drift.push((
            format!("{{{place},kind=\"unexpected\"}}"),
            p.unexpected.len() as f64,
        ));
        drift.push((
            format!("{{{place},kind=\"settings\"}}"),
            if p.settings_differ { 1.0 } else { 0.0 },
        ));
    }
    metric(
        "drift_entries",
        "gauge",
        "Differences between the database and what is rendered (settings: 1 when rules or settings differ); absent for a place whose rendered state could not be read.",
        &drift,
    );
    metric(
        "drift_check_failed",
        "gauge",
        "1 when the rendered state could not be read.",
        &errors,
    );
    metric(
        "reload_owed",
        "gauge",
        "1 while a change was written but its reload has not succeeded (every run retries it).",
        &reload_owed,
    );
    metric(
        "unrenderable_entries",
        "gauge",
        "Active blocks the place cannot hold (e.g. an IPv6 /60 in a hash map): not enforced there.",
        &unrenderable,
    );
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    Ok(())
}
