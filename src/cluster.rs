//! Several hosts, one defence (`[cluster]`): what the commands do with the shared store
//! of [`crate::store::postgres`]. With no `[cluster]` in the config nothing here runs and
//! a host behaves exactly as alone.

use std::path::Path;

use crate::config::Config;

/// Warnings about where the cluster's password is kept, for `config check` and
/// `doctor`: a url holding a password in a config file every user may read, or a
/// `password_file` others may read (the connection refuses that one).
pub fn config_warnings(config: &Config, path: &Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let Some(cluster) = &config.cluster else {
        return Vec::new();
    };
    let mode = |file: &Path| {
        std::fs::metadata(file)
            .ok()
            .map(|meta| meta.permissions().mode() & 0o777)
    };
    let mut warnings = Vec::new();
    if crate::store::postgres::url_has_password(&cluster.url)
        && let Some(mode) = mode(path).filter(|mode| mode & 0o004 != 0)
    {
        warnings.push(format!(
            "{}: [cluster] url holds a password and the file is readable by every user \
             (mode {mode:04o}): move the password to password_file (mode 0600) or \
             ~/.pgpass, or chmod o-r {}",
            path.display(),
            path.display()
        ));
    }
    if let Some(file) = &cluster.password_file
        && let Some(mode) = mode(file).filter(|mode| mode & 0o077 != 0)
    {
        warnings.push(format!(
            "{}: [cluster] password_file {} is readable by others (mode {mode:04o}): saslguard \
             refuses it until you chmod 600 it",
            path.display(),
            file.display()
        ));
    }
    warnings
}

/// Events shipped per transaction: large enough for COPY to pay, small enough that a
/// host's first shipment makes progress it keeps if interrupted.
const SHIP_BATCH: usize = 50_000;

/// What the cluster part of a run did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Synced {
    /// This host's name in the cluster.
    pub host: String,
    /// Events stored in the cluster for the first time.
    pub shipped: u64,
    /// Events still waiting in the local outbox.
    pub backlog: u64,
    /// Whether this host evaluated the policy (another host may hold the lock).
    pub evaluated: bool,
    /// New cluster blocks decided here, as `NETWORK (target)`.
    pub blocks_created: Vec<String>,
    /// Cluster blocks copied into the local store, and local copies ended.
    pub mirrored: usize,
    pub unmirrored: usize,
}

/// The whole cluster step of `run` (`decide`) or `ingest`: ship the outbox, evaluate
/// the policy over all hosts when this host gets the lock, and mirror the cluster's
/// blocks into the local store. `Ok(None)` without `[cluster]`.
pub fn sync(
    config: &Config,
    store: &crate::store::SqliteStore,
    now: i64,
    decide: bool,
) -> anyhow::Result<Option<Synced>> {
    use crate::store::postgres::{Cluster, SharedStore};
    let Some(settings) = &config.cluster else {
        return Ok(None);
    };
    store.cluster_setup()?;
    let host = settings.host_name()?;
    let mut cluster = Cluster::connect(&settings.settings()?, &host, now)?;
    let mut synced = Synced {
        host,
        ..Synced::default()
    };
    synced.shipped = ship(&mut cluster, store, now)?;
    synced.backlog = store.outbox_backlog()?;
    cluster.report_contact(synced.backlog, now)?;
    if decide {
        if let Some(mut guard) = cluster.try_lock_policy()? {
            synced.blocks_created = evaluate(&mut guard, config, now)?;
            guard.commit()?;
            synced.evaluated = true;
        }
        let active = cluster.active_blocks(None, now)?;
        (synced.mirrored, synced.unmirrored) = mirror(&mut cluster, store, &active, now)?;
    }
    Ok(Some(synced))
}

/// Ships the outbox in batches; each batch's marker is recorded locally only after the
/// cluster committed it. Returns the events stored for the first time.
fn ship(
    cluster: &mut crate::store::postgres::Cluster,
    store: &crate::store::SqliteStore,
    now: i64,
) -> anyhow::Result<u64> {
    use crate::store::postgres::ClusterEvent;
    let mut stored = 0;
    while let Some((batch, marker)) = store.outbox_batch(SHIP_BATCH)? {
        let events: Vec<ClusterEvent> = batch
            .into_iter()
            .map(|e| ClusterEvent {
                event_id: e.id,
                ts: e.ts,
                address: e.address,
                kind: e.kind,
                mechanism: e.mechanism,
                username: e.username,
                service: e.service,
            })
            .collect();
        stored += cluster.ship(&events, 0, now)?.stored;
        store.outbox_shipped(marker)?;
    }
    Ok(stored)
}

/// Expires and ends allowlisted blocks in the cluster, then applies every tier over the
/// failures of all hosts; returns the blocks created, as `NETWORK (target)`.
fn evaluate(
    guard: &mut crate::store::postgres::PolicyGuard<'_>,
    config: &Config,
    now: i64,
) -> anyhow::Result<Vec<String>> {
    use crate::model::{EndReason, EventKind, Origin};
    use crate::store::postgres::{NewBlock, SharedStore};
    let policy = &config.policy;
    guard.expire_blocks(now)?;
    let stored = guard.allowlist()?.into_iter().map(|entry| entry.network);
    let allow = crate::policy::Allowlist::new(&config.allow, stored);
    for network in allow.networks() {
        guard.end_blocks(network, true, now, EndReason::Allowlisted)?;
    }
    let kinds: &[EventKind] = if policy.count_invalid_mechanism {
        &[EventKind::AuthFailed, EventKind::InvalidMechanism]
    } else {
        &[EventKind::AuthFailed]
    };
    let mut active: Vec<_> = guard
        .active_blocks(None, now)?
        .into_iter()
        .map(|b| (b.block.target, b.block.network))
        .collect();
    let mut created = Vec::new();
    for (index, tier) in policy.tiers.iter().enumerate() {
        let Some(window) = tier.window.seconds() else {
            continue;
        };
        let since = now.saturating_sub(window);
        let counts = guard.failures_per_address(kinds, since, now)?;
        for (unit, _) in crate::policy::units_over(counts, policy.ipv6_prefix, tier.threshold) {
            let covered = active
                .iter()
                .any(|(target, net)| *target == tier.target && net.contains(&unit));
            if covered || crate::policy::blockable(&unit, &allow).is_err() {
                continue;
            }
            let (earlier, last_created) = guard.block_history(&unit, tier.target)?;
            let count_since = since.max(last_created.unwrap_or(i64::MIN));
            let failures = guard.countable_failures(&unit, kinds, count_since, now)?;
            if failures < 0 || (failures as u64) < tier.threshold {
                continue;
            }
            let span = crate::config::Span::Seconds(window);
            let block = NewBlock {
                network: unit,
                target: tier.target,
                origin: Origin::Policy,
                reason: format!(
                    "{failures} failed authentications in {span} over all hosts \
                     (tier {}: {} in {span})",
                    index + 1,
                    tier.threshold
                ),
                failures: Some(failures),
                window_seconds: Some(window),
                created_at: now,
                expires_at: crate::policy::block_seconds(tier.duration, earlier, policy)
                    .map(|s| now + s),
            };
            guard.insert_block(&block)?;
            active.push((tier.target, unit));
            created.push(format!("{unit} ({})", tier.target));
        }
    }
    Ok(created)
}

/// Copies the cluster's active blocks into the local store (once each) and ends the
/// local copies of blocks the cluster ended, as it ended them; one local transaction.
/// Returns (copied, ended).
fn mirror(
    cluster: &mut crate::store::postgres::Cluster,
    store: &crate::store::SqliteStore,
    active: &[crate::store::postgres::ClusterBlock],
    now: i64,
) -> anyhow::Result<(usize, usize)> {
    use crate::store::BlockStore;
    use crate::store::postgres::{NewBlock, SharedStore};
    let in_cluster: std::collections::HashSet<i64> = active.iter().map(|b| b.block.id).collect();
    // What the cluster says of the local copies it no longer has in force, read before
    // the local transaction so it holds no lock while waiting on the network.
    let mut gone = Vec::new();
    for (id, _) in store.mirrored_in_force(now)? {
        if !in_cluster.contains(&id) {
            gone.push((id, cluster.block(id)?));
        }
    }
    let tx = store.transaction()?;
    let mut copied = 0;
    for shared in active {
        if store.is_mirrored(shared.block.id)? {
            continue;
        }
        let b = &shared.block;
        let local = store.insert_block(&NewBlock {
            network: b.network,
            target: b.target,
            origin: b.origin,
            reason: format!("{} (decided on {})", b.reason, shared.origin_host),
            failures: b.failures,
            window_seconds: b.window_seconds,
            created_at: b.created_at,
            expires_at: b.expires_at,
        })?;
        store.record_mirror(b.id, local)?;
        copied += 1;
    }
    let mut ended = 0;
    for (id, shared) in &gone {
        let (at, reason) = match shared {
            Some(s) => match (s.block.ended_at, s.block.end_reason) {
                (Some(at), Some(reason)) => (at, reason),
                // Expired in the cluster: the local copy expires by itself.
                _ => continue,
            },
            // Pruned from the cluster: no longer in force anywhere.
            None => (now, crate::model::EndReason::Unblocked),
        };
        store.end_mirror(*id, at, reason)?;
        ended += 1;
    }
    tx.commit()?;
    Ok((copied, ended))
}

/// `unblock` on the cluster (with `[cluster]`; 0 without): ends the blocks in force
/// inside `network` and pardons the failures behind them (with `forgive`, every
/// failure inside it) on every host, waiting for an evaluation in progress. Returns how
/// many cluster blocks ended.
pub fn unblock(
    config: &Config,
    network: &ipnet::IpNet,
    forgive: bool,
    now: i64,
) -> anyhow::Result<usize> {
    use crate::store::postgres::{Cluster, SharedStore};
    let Some(settings) = &config.cluster else {
        return Ok(0);
    };
    let host = settings.host_name()?;
    let mut cluster = Cluster::connect(&settings.settings()?, &host, now)
        .map_err(|e| anyhow::anyhow!("{e}: nothing changed"))?;
    let mut guard = cluster.lock_policy()?;
    let ended = guard.end_blocks(network, false, now, crate::model::EndReason::Unblocked)?;
    let mut forgiven: Vec<ipnet::IpNet> = ended.iter().map(|b| b.block.network).collect();
    if forgive {
        forgiven = vec![*network];
    }
    forgiven.sort();
    forgiven.dedup();
    for net in &forgiven {
        guard.add_pardon(net, now)?;
    }
    guard.commit()?;
    for block in &ended {
        crate::ui::info(format!(
            "unblocked {} ({}) on every host (decided on {})",
            block.block.network, block.block.target, block.origin_host
        ));
    }
    Ok(ended.len())
}
