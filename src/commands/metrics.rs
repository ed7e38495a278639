//! `saslguard metrics`: Prometheus text format for a node_exporter textfile collector
//! (`saslguard metrics > /var/lib/node_exporter/textfile/saslguard.prom.tmp && mv ...`).

use std::fmt::Write as _;
use std::io::Write;

use crate::commands::Context;
use crate::enforce::{self, PlaceStatus};
use crate::store::{BlockStore, BlockTarget, ReportStore};
use crate::store::{SqliteStore as Store, StoreMetrics};

/// Samples of one metric: the label set (`{kind="auth_failed"}`, or empty) and value.
type Samples = Vec<(String, f64)>;

/// The exposition text being written: one `# HELP`/`# TYPE` block per metric.
#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    /// Adds metric `saslguard_NAME` of `kind` (gauge) with its `help` and samples.
    fn metric(&mut self, name: &str, kind: &str, help: &str, samples: &[(String, f64)]) {
        let _ = writeln!(self.text, "# HELP saslguard_{name} {help}");
        let _ = writeln!(self.text, "# TYPE saslguard_{name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(self.text, "saslguard_{name}{labels} {value}");
        }
    }

    /// Adds a gauge with one unlabelled sample.
    fn gauge(&mut self, name: &str, help: &str, value: f64) {
        self.metric(name, "gauge", help, &[(String::new(), value)]);
    }
}

/// Runs `metrics`. A figure that cannot be read fails the command (nothing is printed,
/// so `metrics > f.tmp && mv` keeps the previous file); it never becomes a 0.
pub fn run(ctx: &Context) -> anyhow::Result<()> {
    let store = ctx.open_existing_store()?;
    let now = ctx.clock.unix();
    let figures = store.metrics()?;
    let mut out = Exposition::default();
    event_metrics(&mut out, &figures);
    active_block_metrics(&mut out, &store, now)?;
    if let Some(last_run) = figures.last_run {
        last_run_metrics(&mut out, last_run);
    }
    let allow = enforce::allowlist(&store, &ctx.config)?;
    let (places, _) = enforce::drift(&store, &ctx.config, &allow, now)?;
    place_metrics(&mut out, &places);
    if ctx.config.cluster.is_some() {
        cluster_metrics(&mut out, &store.cluster_contact()?);
    }
    std::io::stdout().lock().write_all(out.text.as_bytes())?;
    Ok(())
}

/// Events stored by kind, and unparsed lines.
fn event_metrics(out: &mut Exposition, figures: &StoreMetrics) {
    out.metric(
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
    out.gauge(
        "unparsed_lines",
        "Log lines counted as unparsed over all runs still recorded.",
        figures.unparsed_lines as f64,
    );
}

/// Blocks in force per target.
fn active_block_metrics(out: &mut Exposition, store: &Store, now: i64) -> anyhow::Result<()> {
    let mut active: Samples = Vec::new();
    for target in BlockTarget::ALL {
        let n = store.active_blocks(Some(target), now)?.len();
        active.push((format!("{{target=\"{}\"}}", target.as_str()), n as f64));
    }
    out.metric(
        "active_blocks",
        "gauge",
        "Blocks in force, by target.",
        &active,
    );
    Ok(())
}

/// The latest run: when it started, how long it took, whether it succeeded, and the
/// journal entries it did not trust.
fn last_run_metrics(
    out: &mut Exposition,
    (started, duration, ok, untrusted): (i64, Option<f64>, bool, i64),
) {
    out.gauge(
        "last_run_timestamp_seconds",
        "When the latest run started (unix seconds).",
        started as f64,
    );
    if let Some(seconds) = duration {
        out.gauge(
            "last_run_duration_seconds",
            "How long the latest run took.",
            seconds,
        );
    }
    out.gauge(
        "last_run_success",
        "1 when the latest run succeeded.",
        if ok { 1.0 } else { 0.0 },
    );
    out.gauge(
        "last_run_untrusted_entries",
        "Journal entries the latest run counted as untrusted and did not use \
         (above 0: check [journal] trusted_*).",
        untrusted as f64,
    );
}

/// The shared store (`[cluster]`): this host's backlog, last contact and whether the
/// last attempt got through.
fn cluster_metrics(out: &mut Exposition, c: &crate::store::sqlite::outbox::ContactState) {
    out.gauge(
        "cluster_backlog_events",
        "Events waiting in the local outbox to be shipped to the cluster.",
        c.backlog as f64,
    );
    if let Some(contact) = c.last_contact {
        out.gauge(
            "cluster_last_contact_timestamp_seconds",
            "When a command of this host last reached the cluster (unix seconds; a change \
             by hand too, which ships nothing).",
            contact as f64,
        );
    }
    if let Some(shipped) = c.last_shipped {
        out.gauge(
            "cluster_last_shipment_timestamp_seconds",
            "When a run of this host last reached the cluster and shipped its outbox \
             (unix seconds).",
            shipped as f64,
        );
    }
    if let Some(attempt) = c.last_attempt {
        out.gauge(
            "cluster_last_attempt_timestamp_seconds",
            "When this host last tried to reach the cluster (unix seconds).",
            attempt as f64,
        );
    }
    out.gauge(
        "cluster_reachable",
        "1 when the last attempt of a run reached the cluster (0 also before the first).",
        if c.last_attempt.is_some() && c.last_error.is_none() {
            1.0
        } else {
            0.0
        },
    );
}

/// Per place (map or firewall): drift, whether it could be read, an owed reload, and
/// the entries it cannot hold.
fn place_metrics(out: &mut Exposition, places: &[PlaceStatus]) {
    let flag = |on: bool| if on { 1.0 } else { 0.0 };
    let mut drift: Samples = Vec::new();
    let mut errors: Samples = Vec::new();
    let mut reload_owed: Samples = Vec::new();
    let mut unrenderable: Samples = Vec::new();
    for p in places {
        let place = place_labels(p);
        errors.push((format!("{{{place}}}"), flag(p.error.is_some())));
        reload_owed.push((format!("{{{place}}}"), flag(p.reload_owed_since.is_some())));
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
            flag(p.settings_differ),
        ));
    }
    out.metric(
        "drift_entries",
        "gauge",
        "Differences between the database and what is rendered (settings: 1 when rules or settings differ); absent for a place whose rendered state could not be read.",
        &drift,
    );
    out.metric(
        "drift_check_failed",
        "gauge",
        "1 when the rendered state could not be read.",
        &errors,
    );
    out.metric(
        "reload_owed",
        "gauge",
        "1 while a change was written but its reload has not succeeded (every run retries it).",
        &reload_owed,
    );
    out.metric(
        "unrenderable_entries",
        "gauge",
        "Active blocks the place cannot hold (e.g. an IPv6 /60 in a hash map): not enforced there.",
        &unrenderable,
    );
}

/// A place's labels: its name, and for a backend or name no longer configured, that
/// name in its own series.
fn place_labels(p: &PlaceStatus) -> String {
    match &p.left_over {
        Some(name) => format!("place=\"{}\",left_over=\"{name}\"", p.place),
        None => format!("place=\"{}\"", p.place),
    }
}
