//! `block`, `unblock`, `expire` and `blocks`: blocks by hand, and the list of them.

use std::io::Write;

use anyhow::bail;
use ipnet::IpNet;

use crate::cli::{BlockArgs, BlocksArgs, TableFormat, TargetChoice, UnblockArgs};
use crate::commands::{Context, LOCK_WAIT};
use crate::enforce;
pub use crate::report::BlockView;
use crate::report::{format_time, new_table};
use crate::store::blocks::{BlockTarget, NewBlock, Origin};

/// The shortest prefixes a block may have: anything wider is almost surely a mistake.
const MIN_IPV4_PREFIX: u8 = 8;
const MIN_IPV6_PREFIX: u8 = 16;

/// Runs `block`.
pub fn block(ctx: &Context, args: &BlockArgs) -> anyhow::Result<()> {
    let network = args.network;
    let too_wide = match network {
        IpNet::V4(v4) => v4.prefix_len() < MIN_IPV4_PREFIX,
        IpNet::V6(v6) => v6.prefix_len() < MIN_IPV6_PREFIX,
    };
    if too_wide {
        bail!(
            "refusing to block {network}: wider than /{MIN_IPV4_PREFIX} (IPv4) or /{MIN_IPV6_PREFIX} (IPv6)"
        );
    }
    let _lock = ctx.lock(LOCK_WAIT)?;
    let store = ctx.open_store()?;
    let allow = enforce::allowlist(&store, &ctx.config)?;
    if let Some(allowed) = allow.overlapping(&network) {
        bail!("refusing to block {network}: it overlaps the allowlisted {allowed}");
    }
    let now = ctx.clock.unix();
    let expires_at = if args.permanent {
        None
    } else {
        Some(now + i64::try_from(args.duration.as_secs()).unwrap_or(i64::MAX / 2))
    };
    let targets: &[BlockTarget] = match args.target {
        TargetChoice::Postfix => &[BlockTarget::Postfix],
        TargetChoice::Firewall => &[BlockTarget::Firewall],
        TargetChoice::Both => &BlockTarget::ALL,
    };
    store.atomically(|store| {
        for &target in targets {
            store.insert_block(&NewBlock {
                network,
                target,
                origin: Origin::Manual,
                reason: args.reason.clone(),
                failures: None,
                window_seconds: None,
                created_at: now,
                expires_at,
            })?;
        }
        Ok(())
    })?;
    let until = expires_at.map_or("permanently".to_string(), |t| {
        format!("until {}", format_time(t))
    });
    let names: Vec<&str> = targets.iter().map(|t| t.as_str()).collect();
    crate::ui::info(format!(
        "blocked {network} ({}) {until}; `saslguard render` or the next run applies it",
        names.join(", ")
    ));
    if targets.contains(&BlockTarget::Postfix)
        && let Some(why) = crate::render::postfix::cannot_hold(ctx.config.postfix.map_type, network)
    {
        crate::ui::warn(format!(
            "{why}; the block is recorded, but the Postfix map cannot hold it: `render` and \
             `run` will name it and fail until it ends"
        ));
    }
    Ok(())
}

/// Runs `unblock`.
pub fn unblock(ctx: &Context, args: &UnblockArgs) -> anyhow::Result<()> {
    let _lock = ctx.lock(LOCK_WAIT)?;
    let store = ctx.open_store()?;
    let now = ctx.clock.unix();
    let network = args.network;
    let ended = store.atomically(|store| {
        let ended = store.end_blocks(
            &network,
            false,
            now,
            crate::store::blocks::EndReason::Unblocked,
        )?;
        store.add_pardon(&network, now)?;
        Ok(ended)
    })?;
    for block in &ended {
        crate::ui::info(format!(
            "unblocked {} ({})",
            block.network,
            block.target.as_str()
        ));
    }
    if ended.is_empty() {
        crate::ui::info(format!("no active block equals or lies inside {network}"));
    }
    let still = store
        .active_blocks(None, now)?
        .into_iter()
        .filter(|b| b.network.contains(&network));
    for block in still {
        crate::ui::warn(format!(
            "{network} is still inside the active block of {} ({}); unblock that network, \
             or `saslguard allow add {network}`",
            block.network,
            block.target.as_str()
        ));
    }
    Ok(())
}

/// Runs `expire`.
pub fn expire(ctx: &Context) -> anyhow::Result<()> {
    let _lock = ctx.lock(LOCK_WAIT)?;
    let store = ctx.open_store()?;
    let ended = store.expire_blocks(ctx.clock.unix())?;
    for block in &ended {
        crate::ui::note(format!(
            "expired {} ({})",
            block.network,
            block.target.as_str()
        ));
    }
    crate::ui::info(format!("expired {} blocks", ended.len()));
    Ok(())
}

/// Runs `blocks`.
pub fn list(ctx: &Context, args: &BlocksArgs) -> anyhow::Result<()> {
    let store = ctx.open_existing_store()?;
    let now = ctx.clock.unix();
    let blocks = if args.all {
        store.all_blocks()?
    } else {
        let mut active = store.active_blocks(None, now)?;
        active.sort_by_key(|b| (b.network, b.target, b.id));
        active
    };
    let views: Vec<BlockView> = blocks.iter().map(|b| BlockView::new(b, now)).collect();
    let mut out = std::io::stdout().lock();
    match args.format {
        TableFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&views)?)?,
        TableFormat::Csv => {
            writeln!(
                out,
                "network,target,origin,created_at,expires_at,ended_at,end_reason,reason"
            )?;
            for v in &views {
                writeln!(
                    out,
                    "{},{},{},{},{},{},{},\"{}\"",
                    v.network,
                    v.target.as_str(),
                    if v.origin == Origin::Manual {
                        "manual"
                    } else {
                        "policy"
                    },
                    v.created_at,
                    v.expires_at.as_deref().unwrap_or(""),
                    v.ended_at.as_deref().unwrap_or(""),
                    v.end_reason
                        .map(|r| format!("{r:?}").to_lowercase())
                        .unwrap_or_default(),
                    v.reason.replace('"', "\"\"")
                )?;
            }
        }
        TableFormat::Table if views.is_empty() => writeln!(out, "no blocks")?,
        TableFormat::Table => {
            let mut table = new_table(
                [
                    "network", "target", "origin", "created", "expires", "ended", "reason",
                ]
                .map(String::from)
                .to_vec(),
            );
            for v in &views {
                let mut cells = v.cells();
                cells.push(v.reason.clone());
                table.add_row(cells);
            }
            writeln!(out, "{table}")?;
        }
    }
    Ok(())
}

/// Runs `prune`: deletes old events, run records and ended blocks.
pub fn prune(ctx: &Context, args: &crate::cli::PruneArgs) -> anyhow::Result<()> {
    let _lock = ctx.lock(LOCK_WAIT)?;
    let store = ctx.open_store()?;
    let pruned = crate::retention::prune(&store, &ctx.config, ctx.clock.unix(), args.older_than)?;
    crate::ui::info(format!(
        "deleted {} events, {} run records and {} ended blocks",
        pruned.events, pruned.runs, pruned.blocks
    ));
    Ok(())
}
