//! `allow add|remove|list`: networks that are never blocked.

use std::io::Write;

use anyhow::bail;
use serde::Serialize;

use crate::cli::{AllowAction, AllowArgs, TableFormat};
use crate::commands::Context;
use crate::report::{format_time, new_table};
use crate::store::{BlockStore, EndReason};

/// One allowlist entry as listed.
#[derive(Debug, Serialize)]
struct AllowView {
    network: String,
    /// `config`, `loopback` or `manual`.
    source: &'static str,
    comment: Option<String>,
    created_at: Option<String>,
}

/// Runs `allow`.
pub fn run(ctx: &Context, args: &AllowArgs) -> anyhow::Result<()> {
    match &args.action {
        AllowAction::Add {
            network,
            comment,
            force,
        } => {
            // As wide as `block` would refuse: one typo would end every block.
            if let Err(refusal @ crate::policy::Refusal::TooWide { .. }) =
                crate::policy::blockable(network, &crate::policy::Allowlist::default())
                && !force
            {
                anyhow::bail!(
                    "not allowing {network}: {}; it would end every block inside it and \
                     never block there again: add --force if that is meant",
                    refusal.reason()
                );
            }
            let _lock = ctx.lock()?;
            let store = ctx.open_store()?;
            let now = ctx.clock.unix();
            // With [cluster]: added there first (refused, changing nothing, when it
            // cannot be reached), then mirrored here.
            let shared =
                crate::cluster::allow_add(&ctx.config, &store, network, comment.as_deref(), now)?;
            // No pardon: the entry protects while it stands, and leaves nothing behind.
            let tx = store.transaction()?;
            let added = store.allowlist_add(network, comment.as_deref(), now)?;
            let ended: Vec<String> = store
                .end_blocks(network, true, now, EndReason::Allowlisted)?
                .iter()
                .map(|b| format!("{} ({})", b.network, b.target.as_str()))
                .collect();
            tx.commit()?;
            let (added, ended, everywhere) = match shared {
                Some((added, ended)) => (added, ended, " on every host"),
                None => (added, ended, ""),
            };
            if added {
                crate::ui::info(format!("allowed {network}{everywhere}"));
            } else {
                crate::ui::info(format!("{network} was already allowed"));
            }
            for block in &ended {
                crate::ui::info(format!(
                    "ended the block of {block}{everywhere}: allowlisted"
                ));
            }
            if !ended.is_empty() {
                crate::ui::info(
                    "`saslguard render` or the next run takes them out of the map and firewall",
                );
            }
        }
        AllowAction::Remove { network } => {
            let _lock = ctx.lock()?;
            let store = ctx.open_store()?;
            let shared =
                crate::cluster::allow_remove(&ctx.config, &store, network, ctx.clock.unix())?;
            let removed = store.allowlist_remove(network)?;
            if !shared.unwrap_or(removed) {
                if ctx.config.allow.networks.iter().any(|n| n == network) {
                    bail!("{network} is allowed by the config file; remove it there");
                }
                bail!("{network} is not on the allowlist (`saslguard allow list` shows it)");
            }
            crate::ui::info(format!(
                "removed {network} from the allowlist: its failures count again from the next run"
            ));
        }
        AllowAction::List { format } => list(ctx, *format)?,
    }
    Ok(())
}

fn list(ctx: &Context, format: TableFormat) -> anyhow::Result<()> {
    let mut views: Vec<AllowView> = Vec::new();
    for network in &ctx.config.allow.networks {
        views.push(AllowView {
            network: network.to_string(),
            source: "config",
            comment: None,
            created_at: None,
        });
    }
    if ctx.config.allow.loopback {
        for network in ["127.0.0.0/8", "::1/128"] {
            views.push(AllowView {
                network: network.to_string(),
                source: "loopback",
                comment: None,
                created_at: None,
            });
        }
    }
    if ctx.db_path.exists() {
        for entry in ctx.open_existing_store()?.allowlist()? {
            views.push(AllowView {
                network: entry.network.to_string(),
                source: "manual",
                comment: entry.comment,
                created_at: Some(format_time(entry.created_at)),
            });
        }
    }
    let mut out = std::io::stdout().lock();
    match format {
        TableFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&views)?)?,
        TableFormat::Csv => {
            writeln!(out, "network,source,created_at,comment")?;
            for v in &views {
                writeln!(
                    out,
                    "{},{},{},{}",
                    v.network,
                    v.source,
                    v.created_at.as_deref().unwrap_or(""),
                    crate::report::csv::cell(v.comment.as_deref().unwrap_or(""))
                )?;
            }
        }
        TableFormat::Table => {
            let mut table = new_table(
                ["network", "source", "added", "comment"]
                    .map(String::from)
                    .to_vec(),
            );
            for v in &views {
                table.add_row(vec![
                    v.network.clone(),
                    v.source.to_string(),
                    v.created_at.clone().unwrap_or_else(|| "-".into()),
                    crate::report::printable(v.comment.as_deref().unwrap_or_default()),
                ]);
            }
            writeln!(out, "{table}")?;
        }
    }
    Ok(())
}
