//! `render` (write the map and the firewall from the database) and `status` (what is
//! active, the last run, and drift between the database and what is rendered).

use std::io::Write;

use anyhow::bail;

use ipnet::IpNet;
use serde::Serialize;

use crate::cli::{RenderArgs, StatusArgs, SummaryFormat};
use crate::commands::Context;
use crate::enforce::{self, RenderMode, Rendered};
use crate::report::format_time;
use crate::store::{BlockTarget, ReportStore};

/// Runs `render`.
pub fn render(ctx: &Context, args: &RenderArgs) -> anyhow::Result<()> {
    let _lock = ctx.lock()?;
    let store = ctx.open_store()?;
    let allow = enforce::allowlist(&store, &ctx.config)?;
    let mode = if args.dry_run {
        RenderMode::DryRun
    } else {
        RenderMode::Always
    };
    let rendered = enforce::render_all(&store, &ctx.config, &allow, ctx.clock.unix(), mode)?;
    print_rendered(&rendered, args)?;
    enforce::render_failure(&rendered)
}

/// Writes what `render` did (or would do) to stdout.
fn print_rendered(rendered: &[Rendered], args: &RenderArgs) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match args.format {
        SummaryFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(rendered)?)?,
        SummaryFormat::Text => {
            for place in rendered {
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
        None if place.error.is_some() => "FAILED".to_string(),
        None => "unchanged".to_string(),
        Some(diff) if diff.is_empty() => "no change".to_string(),
        Some(diff) => format!(
            "{}{} added, {} removed",
            if dry_run { "would be: " } else { "" },
            diff.added.len(),
            diff.removed.len()
        ),
    };
    // A dry run's entries are wanted, not there; a failed place's count is not known
    // (it is not there either), so none is printed.
    let entries = match (&place.error, dry_run) {
        (Some(_), _) => String::new(),
        (None, true) => format!("{} wanted entries, ", place.entries),
        (None, false) => format!("{} entries, ", place.entries),
    };
    let mut line = format!(
        "{} ({} blocks): {entries}{change}",
        place.place,
        place.target.as_str(),
    );
    if !place.unrenderable.is_empty() {
        line.push_str(&format!(
            "; {} left out (cannot be held there){}",
            place.unrenderable.len(),
            sample(&place.unrenderable)
        ));
    }
    if let Some(since) = &place.reload_owed_since {
        line.push_str(&format!("; reload owed since {since}"));
    }
    line
}

#[derive(Debug, Serialize)]
struct LastRun {
    started_at: String,
    ended_at: Option<String>,
    status: String,
    /// Journal entries it counted as untrusted (not used).
    untrusted: i64,
}

/// One place as `status` shows it: the comparison with the database, and how many
/// entries the place holds now.
#[derive(Debug, Serialize)]
struct PlaceView {
    #[serde(flatten)]
    status: enforce::PlaceStatus,
    /// Entries read back from the place; `None` when it could not be read.
    rendered_entries: Option<usize>,
}

impl PlaceView {
    /// The counts come from the place as read back: the wanted entries it does not
    /// miss, plus those it holds that are not wanted.
    fn new(status: enforce::PlaceStatus) -> PlaceView {
        let rendered_entries = status.error.is_none().then(|| {
            status.wanted_entries.saturating_sub(status.missing.len()) + status.unexpected.len()
        });
        PlaceView {
            status,
            rendered_entries,
        }
    }

    /// `postfix blocks: 12 active, 11 wanted entries, 11 rendered at postfix: in sync`.
    fn line(&self) -> String {
        let p = &self.status;
        let rendered = self
            .rendered_entries
            .map_or("an unknown number".to_string(), |n| n.to_string());
        format!(
            "{} blocks: {} active, {} wanted entries, {rendered} rendered at {}: {}",
            p.target.as_str(),
            p.active_blocks,
            p.wanted_entries,
            p.place,
            place_state(p)
        )
    }
}

#[derive(Debug, Serialize)]
struct Status {
    places: Vec<PlaceView>,
    /// Targets with active blocks but nowhere to render them (`backend = "none"`).
    unrendered: Vec<(BlockTarget, usize)>,
    last_run: Option<LastRun>,
    /// This host's side of the shared store, with `[cluster]` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<crate::store::sqlite::outbox::ContactState>,
}

/// Runs `status`.
pub fn status(ctx: &Context, args: &StatusArgs) -> anyhow::Result<()> {
    let store = ctx.open_existing_store()?;
    let allow = enforce::allowlist(&store, &ctx.config)?;
    let now = ctx.clock.unix();
    let mut status = Status {
        places: Vec::new(),
        unrendered: Vec::new(),
        last_run: store.last_run("run")?.map(|run| LastRun {
            started_at: format_time(run.started_at),
            ended_at: run.ended_at.map(format_time),
            status: run.status,
            untrusted: run.untrusted,
        }),
        cluster: None,
    };
    if ctx.config.cluster.is_some() {
        status.cluster = Some(store.cluster_contact()?);
    }
    let (places, unrendered) = enforce::drift(&store, &ctx.config, &allow, now)?;
    status.places = places.into_iter().map(PlaceView::new).collect();
    status.unrendered = unrendered;
    let mut out = std::io::stdout().lock();
    match args.format {
        SummaryFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&status)?)?,
        SummaryFormat::Text => {
            for place in &status.places {
                writeln!(out, "{}", place.line())?;
            }
            for (target, active) in &status.unrendered {
                writeln!(
                    out,
                    "{} blocks: {active} active, not rendered (firewall backend = \"none\")",
                    target.as_str()
                )?;
            }
            match &status.last_run {
                Some(run) if run.ended_at.is_none() => {
                    let why = match crate::lock::holder(&ctx.db_path) {
                        crate::lock::Holder::Nobody => {
                            "did not finish: no saslguard holds the lock, so it was killed or \
                             crashed; the next run resumes"
                                .to_string()
                        }
                        crate::lock::Holder::Process(Some(pid)) => {
                            format!("still running (pid {pid})")
                        }
                        crate::lock::Holder::Process(None) => "still running".to_string(),
                        crate::lock::Holder::Unknown => "did not finish".to_string(),
                    };
                    writeln!(out, "last run: {} .. ({why})", run.started_at)?
                }
                Some(run) => writeln!(
                    out,
                    "last run: {} .. {}, {}{}",
                    run.started_at,
                    run.ended_at.as_deref().unwrap_or_default(),
                    run.status,
                    if run.untrusted > 0 {
                        format!(
                            ", {} untrusted journal entries not used: check [journal] \
                             trusted_*",
                            run.untrusted
                        )
                    } else {
                        String::new()
                    }
                )?,
                None => writeln!(out, "last run: never")?,
            }
            if let Some(cluster) = &status.cluster {
                write_cluster(&mut out, cluster)?;
            }
        }
    }
    drop(out);

    // For monitoring: the exit status says whether everything is in force.
    let behind: Vec<&str> = status
        .places
        .iter()
        .filter(|p| !p.status.in_sync)
        .map(|p| p.status.place)
        .collect();
    let unreachable = status.cluster.as_ref().and_then(|c| c.last_error.as_ref());
    match (behind.is_empty(), unreachable) {
        (true, None) => {}
        (false, None) => bail!("not in sync: {} (see above)", behind.join(", ")),
        (in_sync, Some(error)) => bail!(
            "{}the last run could not reach the cluster's shared store: {}",
            if in_sync {
                String::new()
            } else {
                format!("not in sync: {}; ", behind.join(", "))
            },
            crate::ui::shown(error)
        ),
    }
    Ok(())
}

/// `status`'s cluster lines: the last shipment and the backlog, the last contact (a
/// change by hand reaches the cluster but ships nothing), and, after a run failed to
/// reach it, what this host does until the next run gets through.
fn write_cluster(
    out: &mut impl Write,
    c: &crate::store::sqlite::outbox::ContactState,
) -> anyhow::Result<()> {
    let when = |at: Option<i64>| at.map_or("never".to_string(), format_time);
    writeln!(
        out,
        "cluster: last shipment {}, {} events waiting in the local outbox; last contact {}",
        when(c.last_shipped),
        c.backlog,
        when(c.last_contact)
    )?;
    if let Some(error) = &c.last_error {
        let reached_since = c
            .last_contact
            .filter(|contact| c.error_at.is_some_and(|failed| *contact > failed));
        let since = match reached_since {
            Some(contact) => format!(
                " (reached since, at {}, by a change by hand, which ships nothing)",
                format_time(contact)
            ),
            None => String::new(),
        };
        writeln!(
            out,
            "cluster: UNREACHABLE at the last attempt of a run ({}): {}{since}; meanwhile \
             this host applies its own policy to its own events and keeps every block it \
             knows until it expires; the next run that reaches it ships the backlog and \
             mirrors the cluster's blocks",
            c.error_at.map_or("-".to_string(), format_time),
            crate::ui::shown(error)
        )?;
    } else if c.last_attempt.is_none() {
        writeln!(
            out,
            "cluster: no run reached it yet; the next run ships the backlog and mirrors the \
             cluster's blocks"
        )?;
    }
    Ok(())
}

/// What `status` says about one place: every problem, each with whether `run`
/// repairs it; "in sync" only when there is none.
fn place_state(p: &enforce::PlaceStatus) -> String {
    let mut problems = Vec::new();
    // Held back by the safety valve: missing, but `run` will not add them.
    let missing: Vec<IpNet> = p
        .missing
        .iter()
        .filter(|net| !p.held_back.contains(net))
        .copied()
        .collect();
    match &p.error {
        Some(e) => problems.push(format!("cannot read: {e}")),
        None if p.left_over.is_some() && p.target == BlockTarget::Postfix => {
            problems.push(format!(
                "DRIFT: left over from an earlier [postfix] map or map_type ({:?}), {} \
                 entries{} still rejected there; `saslguard run` repairs it (empties it)",
                p.left_over.as_deref().unwrap_or_default(),
                p.unexpected.len(),
                sample(&p.unexpected)
            ))
        }
        None if p.left_over.is_some() => problems.push(format!(
            "DRIFT: left over from an earlier [firewall] backend or name ({:?}), {} entries{} \
             still dropped there; `saslguard run` repairs it (removes them)",
            p.left_over.as_deref().unwrap_or_default(),
            p.unexpected.len(),
            sample(&p.unexpected)
        )),
        None if !missing.is_empty() || !p.unexpected.is_empty() => problems.push(format!(
            "DRIFT: {} missing{}, {} unexpected{}; `saslguard run` repairs it",
            missing.len(),
            sample(&missing),
            p.unexpected.len(),
            sample(&p.unexpected)
        )),
        None if p.settings_differ => problems.push(
            "DRIFT: the entries match, but rules or settings differ; `saslguard run` repairs it"
                .to_string(),
        ),
        None => {}
    }
    if !p.held_back.is_empty() {
        problems.push(format!(
            "OVER max_entries: {} wanted entries held back{}: check the policy and the \
             blocks, or raise the limit; `saslguard run` applies every other change",
            p.held_back.len(),
            sample(&p.held_back)
        ));
    }
    if let Some(since) = &p.reload_owed_since {
        problems.push(format!(
            "NOT IN FORCE: reload owed since {since} (the reload command failed or was \
             interrupted, so the running service may still use the old state); \
             `saslguard run` retries it"
        ));
    }
    if !p.unrenderable.is_empty() {
        let why = p.why_unrenderable.first().map_or("", String::as_str);
        problems.push(format!(
            "CONFLICT: {} active block(s) cannot be held there and are not enforced{}: {why}; \
             `saslguard run` cannot render them: change the setting or unblock them",
            p.unrenderable.len(),
            sample(&p.unrenderable)
        ));
    }
    if problems.is_empty() {
        "in sync".to_string()
    } else {
        problems.join("; ")
    }
}

fn sample(networks: &[IpNet]) -> String {
    if networks.is_empty() {
        return String::new();
    }
    let shown: Vec<String> = networks.iter().take(3).map(IpNet::to_string).collect();
    let more = if networks.len() > 3 { ", ..." } else { "" };
    format!(" ({}{more})", shown.join(", "))
}
