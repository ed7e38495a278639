//! Retention: the event table must not grow forever. Events and run records older than
//! `retention`, and ended blocks older than `block_retention` (default: the same), are
//! deleted by `saslguard prune` and, once a day, by `saslguard run`.

use std::time::Duration;

use serde::Serialize;

use crate::config::Config;
use crate::store::{BlockStore, SqliteStore};

/// What a prune deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub events: u64,
    pub runs: usize,
    pub blocks: usize,
    /// What the same cutoffs deleted in the cluster's shared store (`[cluster]` only;
    /// `None` also when it could not be reached: the next prune does it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<crate::store::postgres::Pruned>,
    /// Why the cluster's part could not be done (`[cluster]` only): this host's part
    /// was, the cluster's waits for the next prune of any host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_error: Option<String>,
}

/// `state` key: when `run` last pruned (unix seconds).
const LAST_PRUNE: &str = "last_prune";
/// How often `run` prunes on its own.
const PRUNE_EVERY: i64 = 86400;

/// The moments before which history goes: events and run records, and ended blocks
/// (unix seconds; `None`: kept forever).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    pub events_before: Option<i64>,
    pub blocks_before: Option<i64>,
}

impl Cutoffs {
    /// The cutoffs as of `now`: `older_than` for everything when given, otherwise the
    /// configured `retention` and `block_retention`.
    pub fn new(config: &Config, now: i64, older_than: Option<Duration>) -> Cutoffs {
        let cutoff = |seconds: Option<i64>| seconds.map(|s| now.saturating_sub(s));
        let forced = older_than.map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        Cutoffs {
            events_before: cutoff(forced.or(config.retention.seconds())),
            blocks_before: cutoff(
                forced.or(config.block_retention.unwrap_or(config.retention).seconds()),
            ),
        }
    }
}

impl Cutoffs {
    /// Runs `history` (events, then run records) on the events' cutoff and `blocks` on
    /// the blocks' cutoff, where there is one, and adds up what they report: the one
    /// walk both pruning and counting what pruning would do take.
    fn measure(
        self,
        history: impl FnOnce(i64) -> anyhow::Result<(u64, usize)>,
        blocks: impl FnOnce(i64) -> anyhow::Result<usize>,
    ) -> anyhow::Result<Pruned> {
        let mut pruned = Pruned::default();
        if let Some(before) = self.events_before {
            (pruned.events, pruned.runs) = history(before)?;
        }
        if let Some(before) = self.blocks_before {
            pruned.blocks = blocks(before)?;
        }
        Ok(pruned)
    }
}

/// Deletes what is older than `older_than` (all kinds), or than the configured
/// retentions when `None`, as of `now`.
pub fn prune(
    store: &SqliteStore,
    config: &Config,
    now: i64,
    older_than: Option<Duration>,
) -> anyhow::Result<Pruned> {
    let cutoffs = Cutoffs::new(config, now, older_than);
    let mut pruned = cutoffs.measure(
        |before| Ok((store.prune_events(before)?, store.prune_runs(before)?)),
        |before| Ok(store.prune_blocks(before)?),
    )?;
    if pruned.events > 0 {
        store.prune_unreferenced()?;
    }
    // The same retention in the cluster, under its policy lock; unreachable, said in
    // `cluster_error` (every host prunes daily, so another one, or this one tomorrow,
    // does it).
    match crate::cluster::prune(config, cutoffs.events_before, cutoffs.blocks_before, now) {
        Ok(shared) => pruned.cluster = shared,
        Err(e) => pruned.cluster_error = Some(format!("{e:#}")),
    }
    store.set_state(LAST_PRUNE, now)?;
    Ok(pruned)
}

/// What [`prune`] with the same arguments would delete, here and (with `[cluster]`)
/// in the cluster; deletes nothing anywhere.
pub fn would_prune(
    store: &SqliteStore,
    config: &Config,
    now: i64,
    older_than: Option<Duration>,
) -> anyhow::Result<Pruned> {
    let cutoffs = Cutoffs::new(config, now, older_than);
    let mut would = cutoffs.measure(
        |before| {
            Ok((
                store.count_events_before(before)?,
                store.count_runs_before(before)?,
            ))
        },
        |before| Ok(store.count_blocks_ended_before(before)?),
    )?;
    match crate::cluster::would_prune(config, cutoffs.events_before, cutoffs.blocks_before) {
        Ok(shared) => would.cluster = shared,
        Err(e) => would.cluster_error = Some(format!("{e:#}")),
    }
    Ok(would)
}

/// Prunes when the last prune is a day old or more (the first run of a day does it).
pub fn prune_if_due(
    store: &SqliteStore,
    config: &Config,
    now: i64,
) -> anyhow::Result<Option<Pruned>> {
    match store.state(LAST_PRUNE)? {
        Some(last) if now.saturating_sub(last) < PRUNE_EVERY && last <= now => Ok(None),
        _ => {
            let pruned = prune(store, config, now, None)?;
            if let Some(e) = &pruned.cluster_error {
                crate::ui::warn(format!("not pruned in the cluster: {e}"));
            }
            Ok(Some(pruned))
        }
    }
}
