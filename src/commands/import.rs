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
    let allow = enforce::allowlist(&store, &ctx.config)?;
    // One transaction: all of the file is recorded, or (on an error) none of it.
    let tx = store.transaction()?;
    let (taken, left, refused) = {
        let store = &store;
        // Loaded once: a query per line would scan the block history each time.
        let mut coverage = enforce::Coverage::in_force(store, now)?;
        let mut taken = Vec::new();
        let mut left = Vec::new();
        let mut refused = Vec::new();
        for line in &lines {
            match line {
                Line::Left { line, text, why } => left.push(format!("line {line}: {text} ({why})")),
                Line::Block { network, line } => {
                    // The checks of `block`: a block the file asks for and saslguard
                    // will not make is refused, and the exit status says so.
                    if let Err(refusal) = policy::blockable(network, &allow) {
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
                        enforce::record_manual_block(
                            store, *network, target, expires_at, &reason, now,
                        )?;
                        coverage.add(target, *network);
                        taken.push(format!("{network} ({})", target.as_str()));
                    }
                }
            }
        }
        (taken, left, refused)
    };
    tx.commit()?;
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
