//! `block`, `unblock`, `expire` and `blocks`: blocks by hand, and the list of them.

use std::io::Write;

use anyhow::{Context as _, bail};
use ipnet::IpNet;

use crate::cli::{BlockArgs, BlocksArgs, TableFormat, UnblockArgs};
use crate::commands::{Context, ManualBlocks};
use crate::enforce;
use crate::policy::{self, Allowlist, Refusal};
pub use crate::report::BlockView;
use crate::report::show::ForgivenView;
use crate::report::{csv, format_time, new_table};
use crate::store::{BlockStore, BlockTarget, EndReason};

/// Runs `block`.
pub fn block(ctx: &Context, args: &BlockArgs) -> anyhow::Result<()> {
    let network = args.network;
    policy::blockable(&network, &Allowlist::default())?;
    let _lock = ctx.lock()?;
    let store = ctx.open_store()?;
    let now = ctx.clock.unix();
    let ManualBlocks {
        targets,
        expires_at,
    } = ctx.manual.context("block without its targets resolved")?;
    // The same checks and records, over the cluster's blocks and allowlist with
    // [cluster], else over this host's.
    let decide = |d: &mut dyn enforce::Decisions, allow: &Allowlist| {
        policy::blockable(&network, allow)?;
        targets
            .iter()
            .map(|&target| {
                enforce::record_manual(d, network, target, expires_at, &args.reason, now)
            })
            .collect::<anyhow::Result<Vec<_>>>()
    };
    let (outcomes, everywhere) = match crate::cluster::by_hand(&ctx.config, &store, now, decide)? {
        Some(outcomes) => (outcomes, " on every host"),
        None => {
            let allow = enforce::allowlist(&store, &ctx.config)?;
            let tx = store.transaction()?;
            let outcomes = decide(&mut enforce::Local(&store), &allow)?;
            tx.commit()?;
            (outcomes, "")
        }
    };
    let until = |expires: Option<i64>| {
        expires.map_or("permanently".to_string(), |t| {
            format!("until {}", format_time(t))
        })
    };
    for (target, outcome) in targets.iter().zip(outcomes) {
        let target = target.as_str();
        crate::ui::info(match outcome {
            enforce::ManualBlock::Created => format!(
                "blocked {network} ({target}){everywhere} {}; `saslguard render` or the next \
                 run applies it",
                until(expires_at)
            ),
            enforce::ManualBlock::Extended(before) => format!(
                "{network} ({target}) was blocked {}; now {}{everywhere}; `saslguard render` \
                 or the next run applies it",
                until(before),
                until(expires_at)
            ),
            enforce::ManualBlock::AlreadyLonger(existing) => format!(
                "{network} ({target}) is already blocked {}: nothing changed",
                until(existing)
            ),
        });
    }
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

/// Runs `unblock`: ends the active blocks inside the network and forgives the failures
/// behind them (with `--forgive`, every failure inside the network up to now). Nothing
/// to end and nothing asked to forgive is an error that changes nothing.
pub fn unblock(ctx: &Context, args: &UnblockArgs) -> anyhow::Result<()> {
    let network = args.network;
    // Wider than `block` would accept (whatever the allowlist): only with --force.
    if let Err(refusal @ Refusal::TooWide { .. }) =
        policy::blockable(&network, &Allowlist::default())
        && !args.force
    {
        bail!(
            "not unblocking {network}: `block` would refuse it ({}); add --force to unblock \
             (and with --forgive, forgive) everything inside it",
            refusal.reason()
        );
    }
    let _lock = ctx.lock()?;
    let store = ctx.open_store()?;
    let now = ctx.clock.unix();
    // With [cluster]: unblocked (and forgiven) on every host first; the local copies
    // end below, and the other hosts' at their next run.
    let shared = crate::cluster::unblock(&ctx.config, &store, &network, args.forgive, now)?;
    let tx = store.transaction()?;
    let ended = {
        let ended = store.end_blocks(&network, false, now, EndReason::Unblocked)?;
        // The failures behind each ended block no longer count; with --forgive, every
        // failure inside the network.
        let mut forgiven: Vec<IpNet> = ended.iter().map(|b| b.network).collect();
        if args.forgive {
            forgiven = vec![network];
        }
        forgiven.sort();
        forgiven.dedup();
        for net in &forgiven {
            store.add_pardon(net, now)?;
        }
        ended
    };
    tx.commit()?;
    for block in &ended {
        crate::ui::info(format!(
            "unblocked {} ({})",
            block.network,
            block.target.as_str()
        ));
    }
    if args.forgive {
        crate::ui::info(format!(
            "forgave every failure inside {network} up to {}",
            format_time(now)
        ));
    }
    let still = store
        .active_blocks(None, now)?
        .into_iter()
        .filter(|b| b.network.contains(&network) && b.network != network);
    for block in still {
        crate::ui::warn(format!(
            "{network} is still inside the active block of {} ({}); unblock that network, \
             or `saslguard allow add {network}`",
            block.network,
            block.target.as_str()
        ));
    }
    if ended.is_empty() && shared == 0 && !args.forgive {
        bail!(
            "no active block in {network}: nothing changed (`saslguard unblock --forgive \
             {network}` forgives its failures without a block)"
        );
    }
    Ok(())
}

/// Runs `expire`.
pub fn expire(ctx: &Context) -> anyhow::Result<()> {
    let _lock = ctx.lock()?;
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
    let store = ctx.open_report_store()?;
    let now = ctx.clock.unix();
    let forgiven: Vec<ForgivenView> = store.pardons()?.iter().map(ForgivenView::new).collect();
    if args.forgiven {
        return list_forgiven(&forgiven, args.format);
    }
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
                    "{},{},{},{},{},{},{},{}",
                    v.network,
                    v.target,
                    v.origin,
                    v.created_at,
                    v.expires_at.map(|t| t.to_string()).unwrap_or_default(),
                    v.ended_at.map(|t| t.to_string()).unwrap_or_default(),
                    v.end_reason.map(|r| r.to_string()).unwrap_or_default(),
                    csv::cell(&v.reason)
                )?;
            }
        }
        TableFormat::Table if views.is_empty() => {
            writeln!(out, "no blocks")?;
            write_forgiven_section(&mut out, &forgiven)?;
        }
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
                cells.push(crate::report::printable(&v.reason));
                table.add_row(cells);
            }
            writeln!(out, "{table}")?;
            write_forgiven_section(&mut out, &forgiven)?;
        }
    }
    Ok(())
}

/// After the blocks table: the forgiven networks, when there are any.
fn write_forgiven_section(out: &mut impl Write, forgiven: &[ForgivenView]) -> anyhow::Result<()> {
    if forgiven.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "\nforgiven (failures inside up to the time shown no longer count):"
    )?;
    writeln!(out, "{}", forgiven_table(forgiven))?;
    Ok(())
}

fn forgiven_table(forgiven: &[ForgivenView]) -> comfy_table::Table {
    let mut table = new_table(vec!["network".to_string(), "forgiven up to".to_string()]);
    for f in forgiven {
        table.add_row(vec![f.network.to_string(), f.until.to_string()]);
    }
    table
}

/// `blocks --forgiven`: every pardon, in the asked format.
fn list_forgiven(forgiven: &[ForgivenView], format: TableFormat) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        TableFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(forgiven)?)?,
        TableFormat::Csv => {
            writeln!(out, "network,until")?;
            for f in forgiven {
                writeln!(out, "{},{}", f.network, f.until)?;
            }
        }
        TableFormat::Table if forgiven.is_empty() => writeln!(out, "nothing forgiven")?,
        TableFormat::Table => writeln!(out, "{}", forgiven_table(forgiven))?,
    }
    Ok(())
}

/// Runs `prune`: deletes old events, run records and ended blocks.
pub fn prune(ctx: &Context, args: &crate::cli::PruneArgs) -> anyhow::Result<()> {
    let _lock = ctx.lock()?;
    let store = ctx.open_store()?;
    let now = ctx.clock.unix();
    if args.dry_run {
        let would = crate::retention::would_prune(&store, &ctx.config, now, args.older_than)?;
        println!(
            "prune --dry-run (nothing deleted): would delete {}",
            what_goes(&would)
        );
        return cluster_outcome(&would, "cannot say what would go in the cluster");
    }
    if let Some(older_than) = args.older_than
        && older_than < MIN_PRUNE_AGE
        && !args.force
    {
        let would = crate::retention::would_prune(&store, &ctx.config, now, args.older_than)?;
        bail!(
            "refusing to prune history younger than one day (--older-than {}): that would \
             delete {}, including recent failures the policy still counts; pass --force to \
             do it anyway, or --dry-run to see what goes",
            humantime::format_duration(older_than),
            what_goes(&would)
        );
    }
    let pruned = crate::retention::prune(&store, &ctx.config, now, args.older_than)?;
    crate::ui::info(format!("deleted {}", what_goes(&pruned)));
    cluster_outcome(
        &pruned,
        "this host's history was pruned, the cluster's was not (the next prune of any \
         host does it)",
    )
}

/// What a prune deletes (or would): this host's events, run records and ended blocks,
/// and with `[cluster]` what goes in the cluster.
fn what_goes(pruned: &crate::retention::Pruned) -> String {
    let mut text = format!(
        "{} events, {} run records and {} ended blocks on this host",
        pruned.events, pruned.runs, pruned.blocks
    );
    if let Some(shared) = &pruned.cluster {
        text.push_str(&format!(
            "; in the cluster, {} events, {} ended blocks and {} pardons",
            shared.events, shared.blocks, shared.pardons
        ));
    }
    text
}

/// Fails, saying `what`, when the cluster's part of a prune could not be done.
fn cluster_outcome(pruned: &crate::retention::Pruned, what: &str) -> anyhow::Result<()> {
    match &pruned.cluster_error {
        Some(error) => bail!("{what}: {error}"),
        None => Ok(()),
    }
}

/// The youngest history `prune --older-than` deletes without `--force`: anything
/// shorter would delete the failures the policy's windows are counting now.
const MIN_PRUNE_AGE: std::time::Duration = std::time::Duration::from_secs(86400);
