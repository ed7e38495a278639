//! `saslguard import reject-client FILE` and `saslguard import iptables [FILE]`: turn
//! the classic script's state into manual blocks, saying what was taken and what was
//! left. Nothing in the old files or the firewall is changed or deleted.

use std::io::Write;

use anyhow::{Context as _, bail};

use crate::cli::{ImportArgs, ImportSource};
use crate::commands::{Context, ManualBlocks};
use crate::enforce;
use crate::import::{self, Line};
use crate::policy;
use crate::render::command;

/// Runs `import`.
pub fn run(ctx: &Context, args: &ImportArgs) -> anyhow::Result<()> {
    let (origin, lines) = match &args.source {
        ImportSource::RejectClient { file, .. } => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            (file.display().to_string(), import::reject_client(&text))
        }
        ImportSource::Iptables { file, .. } => {
            let text = match file {
                Some(file) => std::fs::read_to_string(file)
                    .with_context(|| format!("cannot read {}", file.display()))?,
                None => {
                    let mut text = command::run::<&str>("iptables-save", &[], None)?.stdout;
                    text.push_str(&command::run::<&str>("ip6tables-save", &[], None)?.stdout);
                    text
                }
            };
            let origin = file
                .as_ref()
                .map_or("iptables-save".to_string(), |f| f.display().to_string());
            (origin, import::iptables_save(&text))
        }
    };
    let _lock = ctx.lock()?;
    let store = ctx.open_store()?;
    let now = ctx.clock.unix();
    let ManualBlocks {
        targets,
        expires_at,
    } = ctx.manual.context("import without its targets resolved")?;
    let decide = |d: &mut dyn enforce::Decisions, allow: &policy::Allowlist| {
        take(d, allow, &lines, &origin, targets, expires_at, now)
    };
    // With [cluster] decided there (all of it, or nothing when it cannot be reached),
    // else here; in one transaction either way: all of the file, or (on an error) none.
    let (taken, left, refused) = match crate::cluster::by_hand(&ctx.config, &store, now, decide)? {
        Some(outcome) => outcome,
        None => {
            let allow = enforce::allowlist(&store, &ctx.config)?;
            let tx = store.transaction()?;
            let outcome = decide(&mut enforce::Local(&store), &allow)?;
            tx.commit()?;
            outcome
        }
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "took {} blocks from {origin}:", taken.len())?;
    for t in &taken {
        writeln!(out, "  + {t}")?;
    }
    writeln!(out, "left {} lines alone:", left.len())?;
    for l in &left {
        writeln!(out, "  - {l}")?;
    }
    drop(out);
    if !taken.is_empty() {
        crate::ui::info("`saslguard render` or the next run applies them");
    }
    if !refused.is_empty() {
        bail!(
            "refused {} lines of {origin} (the rest was imported):\n  {}",
            refused.len(),
            refused.join("\n  ")
        );
    }
    Ok(())
}

/// What one import took (`NETWORK (target)`), left alone and refused, in file order.
type Outcome = (Vec<String>, Vec<String>, Vec<String>);

/// Records the blocks of `lines` in `store` through the checks of `block`: a line
/// `block` would refuse is refused, a network a block in force covers is left.
fn take(
    store: &mut dyn enforce::Decisions,
    allow: &policy::Allowlist,
    lines: &[Line],
    origin: &str,
    targets: &[crate::store::BlockTarget],
    expires_at: Option<i64>,
    now: i64,
) -> anyhow::Result<Outcome> {
    // Loaded once: a query per line would scan the block history each time.
    let mut coverage = enforce::Coverage::of(&store.active(now)?);
    let (mut taken, mut left, mut refused) = (Vec::new(), Vec::new(), Vec::new());
    for line in lines {
        match line {
            Line::Left { line, text, why } => left.push(format!("line {line}: {text} ({why})")),
            Line::Block { network, line } => {
                // The checks of `block`: a block the file asks for and saslguard will
                // not make is refused, and the exit status says so.
                if let Err(refusal) = policy::blockable(network, allow) {
                    refused.push(format!("{origin}:{line}: {refusal}"));
                    continue;
                }
                for &target in targets {
                    // A block in force of the network or one around it: left.
                    if coverage.covers(target, network) {
                        left.push(format!(
                            "line {line}: {network} ({} block already active)",
                            target.as_str()
                        ));
                        continue;
                    }
                    let reason = format!("imported from {origin} line {line}");
                    enforce::record_manual(store, *network, target, expires_at, &reason, now)?;
                    coverage.add(target, *network);
                    taken.push(format!("{network} ({})", target.as_str()));
                }
            }
        }
    }
    Ok((taken, left, refused))
}
