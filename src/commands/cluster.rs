//! `saslguard cluster status`: the shared store of several hosts as it stands, and
//! this host's side of it (its outbox).

use std::io::Write;

use anyhow::bail;
use serde::Serialize;

use crate::cli::{ClusterAction, ClusterArgs, SummaryFormat};
use crate::cluster::ClusterStatus;
use crate::commands::Context;
use crate::report::{format_time, new_table};
use crate::store::sqlite::outbox::ContactState;

/// What `cluster status --format json` prints.
#[derive(Debug, Serialize)]
struct View {
    /// The cluster as read now; `None` when it could not be reached.
    cluster: Option<ClusterStatus>,
    /// This host's side: its recorded contact and its backlog (`None`: no local
    /// database yet).
    local: Option<ContactState>,
    /// Why the cluster could not be read.
    error: Option<String>,
}

/// Runs `cluster`.
pub fn run(ctx: &Context, args: &ClusterArgs) -> anyhow::Result<()> {
    let ClusterAction::Status(status) = &args.action;
    if ctx.config.cluster.is_none() {
        bail!("no [cluster] in the config: this host keeps its own defence alone");
    }
    let local = if ctx.db_path.exists() {
        Some(ctx.open_existing_store()?.cluster_contact()?)
    } else {
        None
    };
    let (cluster, error) = match crate::cluster::status(&ctx.config, ctx.clock.unix()) {
        Ok(cluster) => (cluster, None),
        Err(e) => (None, Some(format!("{e:#}"))),
    };
    let view = View {
        cluster,
        local,
        error,
    };
    let mut out = std::io::stdout().lock();
    match status.format {
        SummaryFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&view)?)?,
        SummaryFormat::Text => write_text(&mut out, &view)?,
    }
    drop(out);
    if let Some(error) = view.error {
        bail!("{error}");
    }
    Ok(())
}

fn write_text(out: &mut impl Write, view: &View) -> anyhow::Result<()> {
    if let Some(cluster) = &view.cluster {
        write_cluster(out, cluster)?;
    }
    if let Some(local) = &view.local {
        let when = |at: Option<i64>| at.map_or("never".to_string(), format_time);
        writeln!(
            out,
            "this host: {} events waiting in the local outbox; last shipment {}, last \
             contact {}",
            local.backlog,
            when(local.last_shipped),
            when(local.last_contact)
        )?;
        if let Some(error) = &local.last_error {
            writeln!(
                out,
                "this host's last attempt ({}) failed: {}",
                local.error_at.map_or("-".to_string(), format_time),
                crate::report::printable(error)
            )?;
        }
    }
    Ok(())
}

fn write_cluster(out: &mut impl Write, cluster: &ClusterStatus) -> anyhow::Result<()> {
    writeln!(
        out,
        "cluster {} (schema version {}), this host: {}",
        cluster.url, cluster.schema_version, cluster.host
    )?;
    if cluster.schema_version == 0 {
        writeln!(
            out,
            "not set up yet: the first run of a host creates its tables"
        )?;
        return Ok(());
    }
    let mut hosts = new_table(
        [
            "host",
            "last contact",
            "events shipped",
            "backlog",
            "version",
        ]
        .map(String::from)
        .to_vec(),
    );
    for h in &cluster.hosts {
        hosts.add_row(vec![
            crate::report::printable(&h.name),
            format_time(h.last_contact),
            h.events_shipped.to_string(),
            h.backlog.to_string(),
            h.version.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    writeln!(out, "{hosts}")?;
    if cluster.active_blocks.is_empty() {
        writeln!(out, "no active blocks in the cluster")?;
        return Ok(());
    }
    writeln!(
        out,
        "{} active blocks in the cluster:",
        cluster.active_blocks.len()
    )?;
    let mut blocks = new_table(
        [
            "network",
            "target",
            "origin",
            "decided on",
            "created",
            "expires",
            "reason",
        ]
        .map(String::from)
        .to_vec(),
    );
    for b in &cluster.active_blocks {
        blocks.add_row(vec![
            b.network.clone(),
            b.target.clone(),
            b.origin.clone(),
            crate::report::printable(&b.origin_host),
            format_time(b.created_at),
            b.expires_at.map_or("never".to_string(), format_time),
            crate::report::printable(&b.reason),
        ]);
    }
    writeln!(out, "{blocks}")?;
    Ok(())
}
