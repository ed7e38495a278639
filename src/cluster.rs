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
const SHIP_BATCH: usize = 200_000;

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
    let Some(settings) = &config.cluster else {
        return Ok(None);
    };
    store.cluster_setup()?;
    let outcome = sync_with(config, settings, store, now, decide);
    // What `status` and `metrics` say about the cluster: recorded either way.
    match &outcome {
        Ok(_) => store.record_cluster_shipped(now)?,
        Err(e) => store.record_cluster_failure(now, &format!("{e:#}"))?,
    }
    outcome.map(Some)
}

/// [`sync`] once the cluster tables exist locally.
fn sync_with(
    config: &Config,
    settings: &crate::config::ClusterConfig,
    store: &crate::store::SqliteStore,
    now: i64,
    decide: bool,
) -> anyhow::Result<Synced> {
    use crate::store::postgres::{Cluster, SharedStore};
    let host = settings.host_name()?;
    let mut cluster = Cluster::connect(&settings.settings()?, &host, now)?;
    // Before evaluating: an entry this host holds alone counts in the cluster too.
    reconcile_allowlist(&mut cluster, store, None, now)?;
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
    Ok(synced)
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

/// The allowlist in force on the cluster: the config's networks and loopback, and the
/// entries stored in the cluster by any host.
fn cluster_allowlist(
    db: &mut impl crate::store::postgres::SharedStore,
    config: &Config,
) -> anyhow::Result<crate::policy::Allowlist> {
    let stored = db.allowlist()?.into_iter().map(|entry| entry.network);
    Ok(crate::policy::Allowlist::new(&config.allow, stored))
}

/// Expires and ends allowlisted blocks in the cluster, then decides over all hosts with
/// [`crate::enforce::decide`] (every tier, then network aggregation), the function a
/// host alone decides with; returns the blocks created, as `NETWORK (target)`.
fn evaluate(
    guard: &mut crate::store::postgres::PolicyGuard<'_>,
    config: &Config,
    now: i64,
) -> anyhow::Result<Vec<String>> {
    use crate::model::EndReason;
    use crate::store::postgres::SharedStore;
    guard.expire_blocks(now)?;
    let allow = cluster_allowlist(guard, config)?;
    for network in allow.networks() {
        guard.end_blocks(network, true, now, EndReason::Allowlisted)?;
    }
    // Read before counting: events shipped meanwhile change it, so the next run counts.
    let events = guard.watermark_events()?;
    let before = guard.watermark_blocks(now)?;
    let signature = crate::enforce::watermark::signature_of(config, &allow, &events, &before);
    if guard
        .policy_watermark()?
        .is_some_and(|(recorded, at)| recorded == signature && now >= at)
    {
        return Ok(Vec::new());
    }
    let created = crate::enforce::decide(&mut Shared(guard), config, &allow, now)?;
    record_watermark(guard, config, &allow, &events, now)?;
    Ok(created
        .iter()
        .map(|b| format!("{} ({})", b.network, b.target))
        .collect())
}

/// Records what the evaluation at `now` depended on (`events` read before it counted,
/// the blocks in force after it), unless a countable event lies after `now` (a later
/// window would count it: the next run evaluates). The rule is the local watermark's
/// ([`crate::enforce::watermark`]), over all hosts.
fn record_watermark(
    guard: &mut crate::store::postgres::PolicyGuard<'_>,
    config: &Config,
    allow: &crate::policy::Allowlist,
    events: &(i64, i64),
    now: i64,
) -> anyhow::Result<()> {
    if guard.countable_after(now)? {
        guard.set_policy_watermark(None)?;
        return Ok(());
    }
    let after = guard.watermark_blocks(now)?;
    let signature = crate::enforce::watermark::signature_of(config, allow, events, &after);
    guard.set_policy_watermark(Some((signature, now)))?;
    Ok(())
}

/// The cluster's store as the policy decides over it: a transaction holding the policy
/// lock, counts over all hosts.
struct Shared<'g, 'a>(&'g mut crate::store::postgres::PolicyGuard<'a>);

/// The kinds that count toward the tiers.
fn counted_kinds(invalid_mechanism: bool) -> &'static [crate::model::EventKind] {
    use crate::model::EventKind;
    if invalid_mechanism {
        &[EventKind::AuthFailed, EventKind::InvalidMechanism]
    } else {
        &[EventKind::AuthFailed]
    }
}

impl crate::enforce::Decisions for Shared<'_, '_> {
    fn active(&mut self, now: i64) -> anyhow::Result<Vec<crate::store::Block>> {
        use crate::store::postgres::SharedStore;
        Ok(self
            .0
            .active_blocks(None, now)?
            .into_iter()
            .map(|b| b.block)
            .collect())
    }
    fn active_of(
        &mut self,
        network: &ipnet::IpNet,
        target: crate::model::BlockTarget,
        now: i64,
    ) -> anyhow::Result<Option<crate::store::Block>> {
        use crate::store::postgres::SharedStore;
        Ok(self
            .0
            .active_block_of(network, target, now)?
            .map(|b| b.block))
    }
    fn per_address(
        &mut self,
        invalid_mechanism: bool,
        since: i64,
        until: i64,
    ) -> anyhow::Result<Vec<(std::net::IpAddr, i64)>> {
        use crate::store::postgres::SharedStore;
        let kinds = counted_kinds(invalid_mechanism);
        Ok(self.0.failures_per_address(kinds, since, until)?)
    }
    fn countable(
        &mut self,
        network: &ipnet::IpNet,
        invalid_mechanism: bool,
        since: i64,
        until: i64,
    ) -> anyhow::Result<i64> {
        use crate::store::postgres::SharedStore;
        let kinds = counted_kinds(invalid_mechanism);
        Ok(self.0.countable_failures(network, kinds, since, until)?)
    }
    fn history(
        &mut self,
        network: &ipnet::IpNet,
        target: crate::model::BlockTarget,
    ) -> anyhow::Result<(i64, Option<i64>)> {
        use crate::store::postgres::SharedStore;
        Ok(self.0.block_history(network, target)?)
    }
    fn insert(&mut self, block: &crate::store::NewBlock) -> anyhow::Result<i64> {
        use crate::store::postgres::SharedStore;
        Ok(self.0.insert_block(block)?)
    }
    fn extend(&mut self, id: i64, expires_at: Option<i64>, note: &str) -> anyhow::Result<bool> {
        use crate::store::postgres::SharedStore;
        Ok(self.0.extend_block(id, expires_at, note)?)
    }
    fn scope(&self) -> &'static str {
        " over all hosts"
    }
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
            // Extended in the cluster (by hand, or a longer block by hand on another
            // host): the local copy follows.
            if let Some((local, expires)) = store.mirror_in_force(shared.block.id, now)?
                && expires != shared.block.expires_at
            {
                store.set_mirror_expiry(local, shared.block.expires_at)?;
            }
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
    store: &crate::store::SqliteStore,
    network: &ipnet::IpNet,
    forgive: bool,
    now: i64,
) -> anyhow::Result<usize> {
    use crate::store::postgres::SharedStore;
    let Some(settings) = &config.cluster else {
        return Ok(0);
    };
    let mut cluster = connect_for_change(settings, store, None, now)?;
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
    if let Err(e) = reached_by_hand(&mut cluster, store, now) {
        crate::ui::warn(format!(
            "unblocked in the cluster, but not recorded here: {e:#}"
        ));
    }
    for block in &ended {
        crate::ui::info(format!(
            "unblocked {} ({}) on every host (decided on {})",
            block.block.network, block.block.target, block.origin_host
        ));
    }
    Ok(ended.len())
}

/// Connects for a change by hand: the change is decided in the cluster or not at all,
/// so an unreachable cluster is an error saying that nothing changed (a decision by
/// hand never silently stays on one host).
///
/// Connected, the allowlist is reconciled first ([`reconcile_allowlist`]), so the
/// change is decided with every entry this host holds (but `removing`, which
/// `allow remove` is taking away).
fn connect_for_change(
    settings: &crate::config::ClusterConfig,
    store: &crate::store::SqliteStore,
    removing: Option<&ipnet::IpNet>,
    now: i64,
) -> anyhow::Result<crate::store::postgres::Cluster> {
    let host = settings.host_name()?;
    store.cluster_setup()?;
    let mut cluster = crate::store::postgres::Cluster::connect(&settings.settings()?, &host, now)
        .map_err(|e| {
        anyhow::anyhow!(
            "{e}: nothing changed, on this host or any other (with [cluster], blocks and \
                 the allowlist are decided in the cluster; try again once it is reachable)"
        )
    })?;
    reconcile_allowlist(&mut cluster, store, removing, now)?;
    Ok(cluster)
}

/// A change by hand decided in the cluster (`block`, `import`): `decide` runs over the
/// cluster's blocks under the policy lock with the cluster's allowlist, is committed
/// there, and the cluster's blocks are then mirrored here so this host renders them at
/// once. `Ok(None)` without `[cluster]`: the caller decides locally.
pub fn by_hand<T>(
    config: &Config,
    store: &crate::store::SqliteStore,
    now: i64,
    decide: impl FnOnce(
        &mut dyn crate::enforce::Decisions,
        &crate::policy::Allowlist,
    ) -> anyhow::Result<T>,
) -> anyhow::Result<Option<T>> {
    let Some(settings) = &config.cluster else {
        return Ok(None);
    };
    let mut cluster = connect_for_change(settings, store, None, now)?;
    let decided = {
        let mut guard = cluster.lock_policy()?;
        let allow = cluster_allowlist(&mut guard, config)?;
        let decided = decide(&mut Shared(&mut guard), &allow)?;
        guard.commit()?;
        decided
    };
    mirror_now(&mut cluster, store, now);
    Ok(Some(decided))
}

/// After a change by hand committed in the cluster: copies its blocks and allowlist
/// here. A failure is a warning, not an error: the change stands on every host, and
/// this host's next run mirrors it.
fn mirror_now(
    cluster: &mut crate::store::postgres::Cluster,
    store: &crate::store::SqliteStore,
    now: i64,
) {
    use crate::store::postgres::SharedStore;
    let mirrored = (|| -> anyhow::Result<()> {
        let active = cluster.active_blocks(None, now)?;
        mirror(cluster, store, &active, now)?;
        reconcile_allowlist(cluster, store, None, now)?;
        reached_by_hand(cluster, store, now)
    })();
    if let Err(e) = mirrored {
        crate::ui::warn(format!(
            "decided in the cluster, but not yet copied to this host ({e:#}): the next run does it"
        ));
    }
}

/// After a change by hand reached the cluster: a contact, recorded here and there with
/// the backlog this host holds, but no shipment (a change by hand ships nothing: a run's
/// failure to reach the cluster stays what `status` says until a run gets through, and
/// `cluster status` shows the backlog still waiting).
fn reached_by_hand(
    cluster: &mut crate::store::postgres::Cluster,
    store: &crate::store::SqliteStore,
    now: i64,
) -> anyhow::Result<()> {
    cluster.report_contact(store.outbox_backlog()?, now)?;
    store.record_cluster_reached(now)?;
    Ok(())
}

/// Makes this host's allowlist and the cluster's one list, so a run that cannot reach
/// the cluster still never blocks an allowlisted network, and no entry vanishes
/// silently:
/// - an entry of the cluster's this host lacks is copied here;
/// - an entry this host copied before that the cluster no longer has was removed there
///   (`allow remove` on any host): it goes here too;
/// - an entry this host holds that it never copied was added here alone (before the
///   host joined, or while `[cluster]` was not in its config; with `[cluster]`,
///   `allow add` is refused when the cluster cannot be reached): it goes up to the
///   cluster, said on stderr, so every host allows it.
///
/// `removing` (of `allow remove`) is never sent up. Returns the entries sent up.
fn reconcile_allowlist(
    cluster: &mut crate::store::postgres::Cluster,
    store: &crate::store::SqliteStore,
    removing: Option<&ipnet::IpNet>,
    now: i64,
) -> anyhow::Result<Vec<ipnet::IpNet>> {
    use crate::store::BlockStore;
    use crate::store::postgres::SharedStore;
    let local = store.allowlist()?;
    let copied = store.cluster_allowlist_copied()?;
    let mut shared = cluster.allowlist()?;
    let mut sent = Vec::new();
    for entry in &local {
        let alone = !copied.contains(&entry.network)
            && !shared.iter().any(|s| s.network == entry.network)
            && removing != Some(&entry.network);
        if alone {
            cluster.allowlist_add(&entry.network, entry.comment.as_deref(), now)?;
            sent.push(entry.network);
        }
    }
    if !sent.is_empty() {
        shared = cluster.allowlist()?;
    }
    let added: Vec<&crate::store::AllowEntry> = shared
        .iter()
        .filter(|entry| !local.iter().any(|l| l.network == entry.network))
        .collect();
    let removed: Vec<&crate::store::AllowEntry> = local
        .iter()
        .filter(|entry| copied.contains(&entry.network))
        .filter(|entry| !shared.iter().any(|s| s.network == entry.network))
        .collect();
    let mut networks: Vec<ipnet::IpNet> = shared.iter().map(|entry| entry.network).collect();
    networks.sort();
    let mut before = copied;
    before.sort();
    // Nothing to write (most runs): no local transaction.
    if sent.is_empty() && added.is_empty() && removed.is_empty() && networks == before {
        return Ok(sent);
    }
    let tx = store.transaction()?;
    for entry in added {
        store.allowlist_add(&entry.network, entry.comment.as_deref(), entry.created_at)?;
    }
    for entry in removed {
        store.allowlist_remove(&entry.network)?;
    }
    store.set_cluster_allowlist_copied(&networks)?;
    tx.commit()?;
    for network in &sent {
        crate::ui::warn(format!(
            "allowlist: {network} was allowed on this host alone (added before it joined \
             the cluster, or while [cluster] was not configured): added to the cluster's \
             allowlist, so every host allows it (`saslguard allow remove {network}` undoes it)"
        ));
    }
    Ok(sent)
}

/// `allow add` on the cluster: the entry is added and the blocks overlapping it end on
/// every host. `Ok(None)` without `[cluster]`; else whether the entry is new, and the
/// cluster blocks ended (as `NETWORK (target)`).
pub fn allow_add(
    config: &Config,
    store: &crate::store::SqliteStore,
    network: &ipnet::IpNet,
    comment: Option<&str>,
    now: i64,
) -> anyhow::Result<Option<(bool, Vec<String>)>> {
    use crate::store::postgres::SharedStore;
    let Some(settings) = &config.cluster else {
        return Ok(None);
    };
    let mut cluster = connect_for_change(settings, store, None, now)?;
    let (added, ended) = {
        let mut guard = cluster.lock_policy()?;
        let added = guard.allowlist_add(network, comment, now)?;
        let ended = guard.end_blocks(network, true, now, crate::model::EndReason::Allowlisted)?;
        guard.commit()?;
        (added, ended)
    };
    mirror_now(&mut cluster, store, now);
    let ended = ended
        .iter()
        .map(|b| format!("{} ({})", b.block.network, b.block.target))
        .collect();
    Ok(Some((added, ended)))
}

/// `allow remove` on the cluster (and here). `Ok(None)` without `[cluster]`; else
/// whether there was an entry, in the cluster or on this host alone.
pub fn allow_remove(
    config: &Config,
    store: &crate::store::SqliteStore,
    network: &ipnet::IpNet,
    now: i64,
) -> anyhow::Result<Option<bool>> {
    use crate::store::postgres::SharedStore;
    let Some(settings) = &config.cluster else {
        return Ok(None);
    };
    let mut cluster = connect_for_change(settings, store, Some(network), now)?;
    let removed = {
        let mut guard = cluster.lock_policy()?;
        let removed = guard.allowlist_remove(network)?;
        guard.commit()?;
        removed
    };
    // Here too before copying, or an entry this host held alone would be sent up.
    let removed_here = {
        use crate::store::BlockStore;
        store.allowlist_remove(network)?
    };
    mirror_now(&mut cluster, store, now);
    Ok(Some(removed || removed_here))
}

/// Retention in the cluster: events, ended blocks and pardons older than the cutoffs,
/// deleted under the policy lock (never in the middle of another host's evaluation).
/// `Ok(None)` without `[cluster]`.
pub fn prune(
    config: &Config,
    events_before: Option<i64>,
    blocks_before: Option<i64>,
    now: i64,
) -> anyhow::Result<Option<crate::store::postgres::Pruned>> {
    use crate::store::postgres::SharedStore;
    let Some(settings) = &config.cluster else {
        return Ok(None);
    };
    let host = settings.host_name()?;
    let mut cluster = crate::store::postgres::Cluster::connect(&settings.settings()?, &host, now)?;
    let mut guard = cluster.lock_policy()?;
    let pruned = guard.prune(events_before, blocks_before)?;
    guard.commit()?;
    Ok(Some(pruned))
}

/// What [`prune`] with the same cutoffs would delete in the cluster, read without
/// recording a contact, taking a lock or setting the schema up (a database no host set
/// up holds nothing). `Ok(None)` without `[cluster]`.
pub fn would_prune(
    config: &Config,
    events_before: Option<i64>,
    blocks_before: Option<i64>,
) -> anyhow::Result<Option<crate::store::postgres::Pruned>> {
    use crate::store::postgres::{Pruned, Reader, SharedStore};
    let Some(settings) = &config.cluster else {
        return Ok(None);
    };
    let mut reader = Reader::open(&settings.settings()?, &settings.host_name()?)?;
    if reader.schema_version() == 0 {
        return Ok(Some(Pruned::default()));
    }
    Ok(Some(reader.would_prune(events_before, blocks_before)?))
}

/// What `cluster status` shows.
#[derive(Debug, serde::Serialize)]
pub struct ClusterStatus {
    /// This host's name in the cluster.
    pub host: String,
    /// The url, without a password.
    pub url: String,
    /// The schema version found in the database (0: not set up yet).
    pub schema_version: i64,
    /// Every host with its last contact, events shipped and backlog it reported.
    pub hosts: Vec<crate::store::postgres::HostStatus>,
    /// The cluster's blocks in force now.
    pub active_blocks: Vec<ActiveBlock>,
}

/// One block in force in the cluster, as `cluster status` lists it.
#[derive(Debug, serde::Serialize)]
pub struct ActiveBlock {
    pub network: String,
    pub target: String,
    pub origin: String,
    /// The host that decided it.
    pub origin_host: String,
    pub created_at: i64,
    /// `None`: permanent.
    pub expires_at: Option<i64>,
    pub reason: String,
}

/// Reads the cluster for `cluster status`, without recording a contact.
pub fn status(config: &Config, now: i64) -> anyhow::Result<Option<ClusterStatus>> {
    use crate::store::postgres::{Reader, SharedStore};
    let Some(settings) = &config.cluster else {
        return Ok(None);
    };
    let host = settings.host_name()?;
    let pg = settings.settings()?;
    let mut reader = Reader::open(&pg, &host)?;
    let mut status = ClusterStatus {
        host,
        url: pg.shown().to_string(),
        schema_version: reader.schema_version(),
        hosts: Vec::new(),
        active_blocks: Vec::new(),
    };
    if status.schema_version == 0 {
        return Ok(Some(status));
    }
    status.hosts = reader.hosts()?;
    status.active_blocks = reader
        .active_blocks(None, now)?
        .into_iter()
        .map(|b| ActiveBlock {
            network: b.block.network.to_string(),
            target: b.block.target.to_string(),
            origin: b.block.origin.to_string(),
            origin_host: b.origin_host,
            created_at: b.block.created_at,
            expires_at: b.block.expires_at,
            reason: b.block.reason,
        })
        .collect();
    Ok(Some(status))
}
