//! Enforcement over the store: the steps of `saslguard run` after ingest. Expire blocks
//! whose time is over, end blocks an allowlist entry now covers, turn counted failures
//! into blocks (the decisions themselves are in [`crate::policy`]), and render the
//! active blocks to the Postfix map and the firewall.

use std::collections::{BTreeSet, HashMap, HashSet, hash_map};

use anyhow::{Context, bail};
use ipnet::IpNet;

use crate::config::{Config, MapType};
use crate::policy::{self, Allowlist};
use crate::render::firewall::{self, Firewall};
use crate::render::{self, Diff, Entry, Target};
use crate::store::BlockStore;
use crate::store::{Block, BlockTarget, EndReason, NewBlock, Origin};
use crate::store::{FirewallPlace, PostfixMapPlace};

/// The allowlist in force: the config's networks, loopback (unless switched off) and the
/// stored entries.
pub fn allowlist(store: &dyn BlockStore, config: &Config) -> anyhow::Result<Allowlist> {
    let stored = store.allowlist()?.into_iter().map(|entry| entry.network);
    Ok(Allowlist::new(&config.allow, stored))
}

/// Ends every active block that would block an allowlisted address; returns the
/// blocks ended. Nothing is pardoned: an allowlisted address is never blocked while
/// its entry stands, and once the entry is gone its failures count as before (an entry
/// leaves nothing behind that outlives it, a typo in the config included).
pub fn end_allowlisted(
    store: &dyn BlockStore,
    allow: &Allowlist,
    now: i64,
) -> anyhow::Result<Vec<Block>> {
    let mut ended = Vec::new();
    for allowed in allow.networks() {
        ended.extend(store.end_blocks(allowed, true, now, EndReason::Allowlisted)?);
    }
    Ok(ended)
}

/// The store the policy and blocks by hand decide over: this host's ([`Local`]) or
/// the cluster's (`cluster::Shared`, a transaction holding the policy lock). The rules
/// themselves are decided once, in [`decide`], [`aggregate`] and [`record_manual`],
/// whichever store holds the counts and the blocks.
pub trait Decisions {
    /// Blocks in force at `now`.
    fn active(&mut self, now: i64) -> anyhow::Result<Vec<Block>>;
    /// The block of exactly `network` at `target` in force at `now` lasting longest.
    fn active_of(
        &mut self,
        network: &IpNet,
        target: BlockTarget,
        now: i64,
    ) -> anyhow::Result<Option<Block>>;
    /// What counts toward the tiers per address in `(since, until]`: failed
    /// authentications, with `invalid_mechanism` those failures too; pardons applied.
    fn per_address(
        &mut self,
        invalid_mechanism: bool,
        since: i64,
        until: i64,
    ) -> anyhow::Result<Vec<(std::net::IpAddr, i64)>>;
    /// The same count over all addresses inside `network`.
    fn countable(
        &mut self,
        network: &IpNet,
        invalid_mechanism: bool,
        since: i64,
        until: i64,
    ) -> anyhow::Result<i64>;
    /// How many blocks of `target` ever covered `network` and when the latest began.
    fn history(
        &mut self,
        network: &IpNet,
        target: BlockTarget,
    ) -> anyhow::Result<(i64, Option<i64>)>;
    /// Records a block; returns its id.
    fn insert(&mut self, block: &NewBlock) -> anyhow::Result<i64>;
    /// Moves an active block's expiry and notes why in its reason.
    fn extend(&mut self, id: i64, expires_at: Option<i64>, note: &str) -> anyhow::Result<bool>;
    /// Words after the window in a policy block's reason (" over all hosts").
    fn scope(&self) -> &'static str {
        ""
    }
}

/// This host's store as the policy decides over it.
pub struct Local<'a>(pub &'a dyn BlockStore);

impl Decisions for Local<'_> {
    fn active(&mut self, now: i64) -> anyhow::Result<Vec<Block>> {
        Ok(self.0.active_blocks(None, now)?)
    }
    fn active_of(
        &mut self,
        network: &IpNet,
        target: BlockTarget,
        now: i64,
    ) -> anyhow::Result<Option<Block>> {
        Ok(self.0.active_block_of(network, target, now)?)
    }
    fn per_address(
        &mut self,
        invalid_mechanism: bool,
        since: i64,
        until: i64,
    ) -> anyhow::Result<Vec<(std::net::IpAddr, i64)>> {
        countable_per_address(self.0, invalid_mechanism, since, until)
    }
    fn countable(
        &mut self,
        network: &IpNet,
        invalid_mechanism: bool,
        since: i64,
        until: i64,
    ) -> anyhow::Result<i64> {
        let mut failures = self.0.countable_failures(network, since, until)?;
        if invalid_mechanism {
            failures += self.0.countable_of_kind(
                network,
                crate::parse::EventKind::InvalidMechanism,
                since,
                until,
            )?;
        }
        Ok(failures)
    }
    fn history(
        &mut self,
        network: &IpNet,
        target: BlockTarget,
    ) -> anyhow::Result<(i64, Option<i64>)> {
        Ok(self.0.block_history(network, target)?)
    }
    fn insert(&mut self, block: &NewBlock) -> anyhow::Result<i64> {
        Ok(self.0.insert_block(block)?)
    }
    fn extend(&mut self, id: i64, expires_at: Option<i64>, note: &str) -> anyhow::Result<bool> {
        Ok(self.0.extend_block(id, expires_at, note)?)
    }
}

/// Applies every policy tier at `now` to this host's store and records the new blocks;
/// returns them.
pub fn apply_policy(
    store: &dyn BlockStore,
    config: &Config,
    allow: &Allowlist,
    now: i64,
) -> anyhow::Result<Vec<NewBlock>> {
    if watermark::unchanged(store, config, allow, now)? {
        return Ok(Vec::new());
    }
    let created = decide(&mut Local(store), config, allow, now)?;
    watermark::record(store, config, allow, now)?;
    Ok(created)
}

/// Applies every policy tier at `now` (then network aggregation) over `store` and
/// records the new blocks; returns them. The one function both a host alone and the
/// cluster's evaluation decide with.
pub fn decide(
    store: &mut dyn Decisions,
    config: &Config,
    allow: &Allowlist,
    now: i64,
) -> anyhow::Result<Vec<NewBlock>> {
    let policy = &config.policy;
    let mut coverage = Coverage::of(&store.active(now)?);
    let mut created = Vec::new();
    let invalid = policy.count_invalid_mechanism;
    // Tiers often share a window (the defaults both count 7 days): counted once each.
    let mut counted: HashMap<i64, Vec<(std::net::IpAddr, i64)>> = HashMap::new();
    for (index, tier) in policy.tiers.iter().enumerate() {
        let Some(window) = tier.window.seconds() else {
            continue;
        };
        let since = now.saturating_sub(window);
        let counts = match counted.entry(window) {
            hash_map::Entry::Occupied(known) => known.get().clone(),
            hash_map::Entry::Vacant(slot) => {
                slot.insert(store.per_address(invalid, since, now)?).clone()
            }
        };
        for (unit, _) in policy::units_over(counts, policy.ipv6_prefix, tier.threshold) {
            if policy::blockable(&unit, allow).is_err() || coverage.covers(tier.target, &unit) {
                continue;
            }
            // Failures behind an earlier block of this target never count twice.
            let (earlier, last_created) = store.history(&unit, tier.target)?;
            let count_since = since.max(last_created.unwrap_or(i64::MIN));
            let failures = store.countable(&unit, invalid, count_since, now)?;
            if failures < 0 || (failures as u64) < tier.threshold {
                continue;
            }
            let expires_at = policy::block_seconds(tier.duration, earlier, policy).map(|s| now + s);
            let block = NewBlock {
                network: unit,
                target: tier.target,
                origin: Origin::Policy,
                reason: format!(
                    "{failures} failed authentications in {}{} (tier {}: {} in {})",
                    human(window),
                    store.scope(),
                    index + 1,
                    tier.threshold,
                    human(window)
                ),
                failures: Some(failures),
                window_seconds: Some(window),
                created_at: now,
                expires_at,
            };
            store.insert(&block)?;
            coverage.add(tier.target, unit);
            created.push(block);
        }
    }
    if policy.aggregate_min > 0 {
        aggregate(store, policy, allow, now, &mut created)?;
    }
    Ok(created)
}

/// The policy's watermark: what an evaluation of the tiers depended on, recorded after
/// it, so that a `run` with nothing new skips counting the windows again (the counts
/// of a 7-day window were most of its cost).
///
/// With no new events, the counts of a window ending later are never larger: events
/// only leave it, none enter, as long as none lies after the time of the last
/// evaluation (checked when recording). Pardons and retention only lower them. What
/// else decides (the blocks in force, which escalation and coverage read, the stored
/// and configured allowlist, the policy's settings, this program's version) is in the
/// signature; a block that expires or ends changes it. So an unchanged signature and
/// a time not before the last evaluation's mean no tier can block anything new.
pub mod watermark {
    use std::hash::{DefaultHasher, Hash, Hasher};

    use crate::config::Config;
    use crate::model::EventKind;
    use crate::policy::Allowlist;
    use crate::store::{BlockStore, BlockTarget, EVENTS_STORED};

    /// State key: the signature of the last evaluation (absent: evaluate).
    const SIGNATURE: &str = "policy_signature";
    /// State key: the time of the last evaluation.
    const EVALUATED_AT: &str = "policy_evaluated_at";

    /// The signature of what an evaluation at `now` depends on besides the counts;
    /// `None` when the store does not say whether events were stored since (then every
    /// run evaluates).
    fn signature(
        store: &dyn BlockStore,
        config: &Config,
        allow: &Allowlist,
        now: i64,
    ) -> anyhow::Result<Option<i64>> {
        let Some(events) = store.state(EVENTS_STORED)? else {
            return Ok(None);
        };
        let mut blocks = Vec::new();
        for target in BlockTarget::ALL {
            blocks.push(store.active_signature(target, now)?);
        }
        Ok(Some(signature_of(config, allow, &events, &blocks)))
    }

    /// The signature of an evaluation by `config`'s policy (this program's version, the
    /// policy's settings, the allowlist) over a store whose events and blocks in force
    /// `events` and `blocks` stand for: the one rule a host alone and the cluster
    /// (`crate::cluster`, with its record in PostgreSQL) skip an evaluation by.
    pub fn signature_of(
        config: &Config,
        allow: &Allowlist,
        events: &impl Hash,
        blocks: &impl Hash,
    ) -> i64 {
        let mut hasher = DefaultHasher::new();
        env!("CARGO_PKG_VERSION").hash(&mut hasher);
        format!("{:?}", config.policy).hash(&mut hasher);
        allow.networks().hash(&mut hasher);
        events.hash(&mut hasher);
        blocks.hash(&mut hasher);
        hasher.finish() as i64
    }

    /// Whether nothing the tiers depend on changed since the last evaluation and `now`
    /// is not before it: the evaluation would block nothing new.
    pub fn unchanged(
        store: &dyn BlockStore,
        config: &Config,
        allow: &Allowlist,
        now: i64,
    ) -> anyhow::Result<bool> {
        let (Some(recorded), Some(at)) = (store.state(SIGNATURE)?, store.state(EVALUATED_AT)?)
        else {
            return Ok(false);
        };
        Ok(now >= at && signature(store, config, allow, now)? == Some(recorded))
    }

    /// Records the signature after an evaluation at `now`, unless some countable event
    /// lies after `now` (a later window would count it: the next run evaluates).
    pub fn record(
        store: &dyn BlockStore,
        config: &Config,
        allow: &Allowlist,
        now: i64,
    ) -> anyhow::Result<()> {
        store.clear_state(SIGNATURE)?;
        for kind in [EventKind::AuthFailed, EventKind::InvalidMechanism] {
            if !store.kind_per_address(kind, now, i64::MAX)?.is_empty() {
                return Ok(());
            }
        }
        if let Some(signature) = signature(store, config, allow, now)? {
            store.set_state(SIGNATURE, signature)?;
            store.set_state(EVALUATED_AT, now)?;
        }
        Ok(())
    }
}

/// The networks blocked at each target at one moment, to tell whether a block in force
/// already covers a network: a lookup per prefix length of the network instead of a
/// query per candidate (which scanned the block history, so a run cost the square of
/// the blocks).
pub struct Coverage {
    blocked: HashSet<(BlockTarget, IpNet)>,
}

impl Coverage {
    /// The blocks in force at `now`.
    pub fn in_force(store: &dyn BlockStore, now: i64) -> anyhow::Result<Coverage> {
        Ok(Coverage::of(&store.active_blocks(None, now)?))
    }

    /// The networks of `blocks` (those in force).
    pub fn of(blocks: &[Block]) -> Coverage {
        let blocked = blocks
            .iter()
            .map(|block| (block.target, block.network.trunc()))
            .collect();
        Coverage { blocked }
    }

    /// Records a block made now.
    pub fn add(&mut self, target: BlockTarget, network: IpNet) {
        self.blocked.insert((target, network.trunc()));
    }

    /// Whether a block of `target` covers all of `network`: `network` itself or one of
    /// its supernets (of its own family) is blocked.
    pub fn covers(&self, target: BlockTarget, network: &IpNet) -> bool {
        let mut candidate = Some(network.trunc());
        while let Some(net) = candidate {
            if self.blocked.contains(&(target, net)) {
                return true;
            }
            candidate = net.supernet();
        }
        false
    }
}

/// What counts toward the tiers per address in `(since, until]`: failed
/// authentications, plus `Invalid authentication mechanism` failures when
/// `[policy] count_invalid_mechanism` says so.
fn countable_per_address(
    store: &dyn BlockStore,
    invalid_mechanism: bool,
    since: i64,
    until: i64,
) -> anyhow::Result<Vec<(std::net::IpAddr, i64)>> {
    let mut counts = store.failures_per_address(since, until)?;
    if invalid_mechanism {
        let extra =
            store.kind_per_address(crate::parse::EventKind::InvalidMechanism, since, until)?;
        let mut merged: std::collections::BTreeMap<std::net::IpAddr, i64> =
            counts.into_iter().collect();
        for (addr, n) in extra {
            *merged.entry(addr).or_default() += n;
        }
        counts = merged.into_iter().collect();
    }
    Ok(counts)
}

/// What `block` did for one target.
pub enum ManualBlock {
    /// A new block was recorded.
    Created,
    /// The active block of the same network got the later expiry (it had this one).
    Extended(Option<i64>),
    /// An active block of the same network already lasts at least as long (until this).
    AlreadyLonger(Option<i64>),
}

/// Records a block by hand (`block`, `import`) of `network` at `target` until
/// `expires_at`, unless an active block of the same network and target already does: then that one is extended when the new
/// expiry is later, and left alone otherwise. One network never has two active blocks
/// at one target.
pub fn record_manual_block(
    store: &dyn BlockStore,
    network: IpNet,
    target: BlockTarget,
    expires_at: Option<i64>,
    reason: &str,
    now: i64,
) -> anyhow::Result<ManualBlock> {
    record_manual(&mut Local(store), network, target, expires_at, reason, now)
}

/// [`record_manual_block`] over any store the decisions are made in (this host's, or
/// the cluster's under the policy lock).
pub fn record_manual(
    store: &mut dyn Decisions,
    network: IpNet,
    target: BlockTarget,
    expires_at: Option<i64>,
    reason: &str,
    now: i64,
) -> anyhow::Result<ManualBlock> {
    let ends = |expires: Option<i64>| expires.unwrap_or(i64::MAX);
    let existing = store.active_of(&network, target, now)?;
    match existing {
        Some(block) if ends(block.expires_at) >= ends(expires_at) => {
            Ok(ManualBlock::AlreadyLonger(block.expires_at))
        }
        Some(block) => {
            let note = format!(
                " (extended by hand at {}: {reason})",
                crate::report::format_time(now)
            );
            store.extend(block.id, expires_at, &note)?;
            Ok(ManualBlock::Extended(block.expires_at))
        }
        None => {
            store.insert(&NewBlock {
                network,
                target,
                origin: Origin::Manual,
                reason: reason.to_string(),
                failures: None,
                window_seconds: None,
                created_at: now,
                expires_at,
            })?;
            Ok(ManualBlock::Created)
        }
    }
}

/// When a block by hand made at `now` for `duration` ends: `None` when permanent. The
/// command line caps `duration` at ten years, so the sum cannot overflow.
pub fn manual_expiry(now: i64, duration: std::time::Duration, permanent: bool) -> Option<i64> {
    (!permanent).then(|| now.saturating_add(i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)))
}

/// Blocks whole networks that hold enough blocked networks (see [`policy::aggregates`]).
fn aggregate(
    store: &mut dyn Decisions,
    policy: &crate::config::PolicyConfig,
    allow: &Allowlist,
    now: i64,
    created: &mut Vec<NewBlock>,
) -> anyhow::Result<()> {
    // Every block in force, those this run made included.
    let mut active: Vec<(IpNet, BlockTarget, Option<i64>)> = store
        .active(now)?
        .into_iter()
        .map(|b| (b.network, b.target, b.expires_at))
        .collect();
    let covered = |active: &[(IpNet, BlockTarget, Option<i64>)], net: &IpNet, target| {
        active
            .iter()
            .any(|(blocked, t, _)| *t == target && blocked.contains(net))
    };
    for target in BlockTarget::ALL {
        let blocked: Vec<IpNet> = active
            .iter()
            .filter(|(_, t, _)| *t == target)
            .map(|(net, _, _)| *net)
            .collect();
        for (outer, members) in policy::aggregates(&blocked, policy, allow) {
            if covered(&active, &outer, target) {
                continue;
            }
            let inside = active
                .iter()
                .filter(|(net, t, _)| *t == target && outer.contains(net));
            let expires_at = inside
                .map(|(_, _, end)| *end)
                .try_fold(i64::MIN, |latest, end| end.map(|e| latest.max(e)));
            let block = NewBlock {
                network: outer,
                target,
                origin: Origin::Policy,
                reason: format!("{members} blocked networks inside {outer}"),
                failures: None,
                window_seconds: None,
                created_at: now,
                expires_at,
            };
            store.insert(&block)?;
            active.push((outer, target, expires_at));
            created.push(block);
        }
    }
    Ok(())
}

/// The entries to render for `target` at `now`: its active blocks, never one holding an
/// allowlisted address, duplicates merged (the latest expiry wins) and networks covered
/// by another entry left out.
pub fn wanted_entries(
    store: &dyn BlockStore,
    target: BlockTarget,
    allow: &Allowlist,
    now: i64,
) -> anyhow::Result<Vec<Entry>> {
    Ok(collapse(active_entries(store, target, allow, now)?))
}

/// The active blocks of `target` at `now` as entries, leaving out every one holding an
/// allowlisted address; not collapsed.
fn active_entries(
    store: &dyn BlockStore,
    target: BlockTarget,
    allow: &Allowlist,
    now: i64,
) -> anyhow::Result<Vec<Entry>> {
    Ok(store
        .active_blocks(Some(target), now)?
        .into_iter()
        .filter(|block| allow.overlapping(&block.network).is_none())
        .map(|block| Entry {
            network: block.network.trunc(),
            expires_at: block.expires_at,
        })
        .collect())
}

/// What `place` gets of the blocks of `target`, and what it cannot take.
#[derive(Debug, Clone, Default)]
pub struct PlaceWanted {
    /// The entries to render there: [`wanted_entries`] without those the place cannot
    /// hold (so a network inside one it cannot hold is still rendered on its own).
    pub entries: Vec<Entry>,
    /// Active networks the place cannot hold and no rendered entry covers, each with
    /// why ([`Target::cannot_hold`]): not enforced there, and reported.
    pub unrenderable: Vec<(IpNet, String)>,
}

/// Splits the blocks of `target` into what `place` can hold and what it cannot (a
/// Postfix hash map and an IPv6 /60): one entry it cannot hold never stops the others.
pub fn wanted_at(
    store: &dyn BlockStore,
    target: BlockTarget,
    place: &dyn Target,
    allow: &Allowlist,
    now: i64,
) -> anyhow::Result<PlaceWanted> {
    let mut held = Vec::new();
    let mut unheld = Vec::new();
    for entry in active_entries(store, target, allow, now)? {
        match place.cannot_hold(entry.network) {
            None => held.push(entry),
            Some(_) => unheld.push(entry),
        }
    }
    let entries = collapse(held);
    let unrenderable = collapse(unheld)
        .into_iter()
        .filter(|e| !entries.iter().any(|held| held.network.contains(&e.network)))
        .filter_map(|e| place.cannot_hold(e.network).map(|why| (e.network, why)))
        .collect();
    Ok(PlaceWanted {
        entries,
        unrenderable,
    })
}

/// The `state` key recording since when `place` owes a reload.
fn reload_owed_key(place: &str) -> String {
    format!("reload_owed_since:{place}")
}

/// Since when (unix seconds) `place` owes a reload: a change was written and its
/// reload has not succeeded yet. `None` when nothing is owed.
pub fn reload_owed_since(store: &dyn BlockStore, place: &str) -> anyhow::Result<Option<i64>> {
    Ok(store.state(&reload_owed_key(place))?)
}

/// Records, before a change is written, that `place` owes a reload.
fn owe_reload(store: &dyn BlockStore, place: &str, now: i64) -> anyhow::Result<()> {
    Ok(store.set_state(&reload_owed_key(place), now)?)
}

/// Runs the reload `place` owes, if any, and forgets the debt only once it succeeded.
fn settle_reload(store: &dyn BlockStore, place: &dyn Target) -> anyhow::Result<()> {
    let Some(since) = reload_owed_since(store, place.name())? else {
        return Ok(());
    };
    place.reload().map_err(|e| {
        e.context(format!(
            "a reload is owed since {} and is retried by every run until it succeeds",
            crate::report::format_time(since)
        ))
    })?;
    store.clear_state(&reload_owed_key(place.name()))?;
    Ok(())
}

/// Sorts entries, merges equal networks and drops networks inside another entry. The
/// entry kept stands for every entry merged into it or dropped inside it, so its end is
/// the latest of theirs (permanent beats any): an element never lapses while a block
/// it stands for is in force. (When the outer block ends in the database, the active
/// blocks' signature changes and the next run renders the inner ones on their own.)
pub fn collapse(entries: impl IntoIterator<Item = Entry>) -> Vec<Entry> {
    let mut entries: Vec<Entry> = entries.into_iter().collect();
    entries.sort_by_key(|e| e.network);
    let mut kept: Vec<Entry> = Vec::with_capacity(entries.len());
    for entry in entries {
        match kept.last_mut() {
            // Sorted, so an entry inside any kept one is inside the last kept one.
            Some(last) if last.network.contains(&entry.network) => {
                last.expires_at = later_end(last.expires_at, entry.expires_at);
            }
            _ => kept.push(entry),
        }
    }
    kept
}

/// The later of two block ends, `None` (permanent) being later than any.
fn later_end(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        _ => None,
    }
}

/// Where blocks of each target are rendered, per the config.
pub fn places(config: &Config) -> Vec<(BlockTarget, Box<dyn Target>)> {
    let mut places: Vec<(BlockTarget, Box<dyn Target>)> = vec![(
        BlockTarget::Postfix,
        Box::new(render::postfix::PostfixMap::new(&config.postfix)),
    )];
    if let Some(backend) = firewall::configured(&config.firewall) {
        places.push((BlockTarget::Firewall, backend));
    }
    places
}

/// The firewall backend and name the config renders to; `None` for `backend = "none"`.
fn configured_place(config: &Config) -> Option<FirewallPlace> {
    firewall::configured(&config.firewall).map(|backend| FirewallPlace {
        backend: backend.name().to_string(),
        name: config.firewall.name.clone(),
    })
}

/// The recorded firewall places other than the configured one: where saslguard
/// created objects under a backend or name the config no longer uses.
fn former_places(store: &dyn BlockStore, config: &Config) -> anyhow::Result<Vec<FirewallPlace>> {
    let current = configured_place(config);
    Ok(store
        .firewall_places()?
        .into_iter()
        .filter(|place| Some(place) != current.as_ref())
        .collect())
}

/// The backend of a former place, to look at or remove what saslguard left there.
fn former_backend(place: &FirewallPlace, config: &Config) -> anyhow::Result<Box<dyn Firewall>> {
    firewall::by_name(&place.backend, &place.name, &config.firewall).with_context(|| {
        format!(
            "unknown firewall backend {:?} recorded for name {:?}",
            place.backend, place.name
        )
    })
}

/// Records the configured firewall place, before anything is created there (a
/// cheap read when it is known already).
fn record_configured_place(
    store: &dyn BlockStore,
    config: &Config,
    now: i64,
) -> anyhow::Result<()> {
    if let Some(place) = configured_place(config)
        && !store.firewall_places()?.contains(&place)
    {
        store.record_firewall_place(&place, now)?;
    }
    Ok(())
}

/// The backend name of a recorded place, as the `'static` name places report.
fn former_name(place: &FirewallPlace) -> &'static str {
    firewall::registered(&place.backend).map_or("firewall", |backend| backend.name)
}

/// Removes what saslguard created in every former firewall place (another backend or
/// another name; nothing else there is touched) and forgets each once it is gone: one
/// [`Rendered`] each, with the error when removal failed (the place stays recorded and
/// is tried again on the next run).
fn remove_leftovers(store: &dyn BlockStore, config: &Config) -> anyhow::Result<Vec<Rendered>> {
    let mut done = Vec::new();
    for place in former_places(store, config)? {
        let teardown = former_backend(&place, config).and_then(|backend| {
            let left = backend.current()?;
            backend.teardown()?;
            Ok((backend.name(), left))
        });
        let rendered = |name, diff, error| Rendered {
            place: name,
            target: BlockTarget::Firewall,
            entries: 0,
            diff,
            unrenderable: Vec::new(),
            why_unrenderable: Vec::new(),
            reload_owed_since: None,
            error,
        };
        match teardown {
            Ok((name, left)) => {
                store.forget_firewall_place(&place)?;
                let diff = Diff {
                    added: Vec::new(),
                    removed: left.into_iter().collect(),
                };
                done.push(rendered(name, Some(diff), None));
            }
            Err(e) => done.push(rendered(
                former_name(&place),
                None,
                Some(format!(
                    "{} (name {:?}, no longer configured) could not be removed: {e:#}",
                    place.backend, place.name
                )),
            )),
        }
    }
    Ok(done)
}

/// The Postfix map the config renders to, as the store records it.
fn configured_map(config: &Config) -> PostfixMapPlace {
    PostfixMapPlace {
        map_type: config.postfix.map_type.as_str().to_string(),
        path: config.postfix.map.clone(),
    }
}

/// Records the configured Postfix map before it is first written (a cheap read when it
/// is known already).
fn record_configured_map(store: &dyn BlockStore, config: &Config, now: i64) -> anyhow::Result<()> {
    let map = configured_map(config);
    if !store.postfix_map_places()?.contains(&map) {
        store.record_postfix_map_place(&map, now)?;
    }
    Ok(())
}

/// The recorded Postfix maps other than the configured one (an earlier `[postfix] map`
/// or `map_type`), each as a target with whether the configured map now owns its
/// source file (same path, another type: only its compiled file is the old map's).
fn former_maps(
    store: &dyn BlockStore,
    config: &Config,
) -> anyhow::Result<Vec<(PostfixMapPlace, render::postfix::PostfixMap, bool)>> {
    let current = configured_map(config);
    let mut maps = Vec::new();
    for place in store.postfix_map_places()? {
        if place == current {
            continue;
        }
        let map_type = [
            MapType::Cidr,
            MapType::Texthash,
            MapType::Hash,
            MapType::Lmdb,
        ]
        .into_iter()
        .find(|t| t.as_str() == place.map_type)
        .with_context(|| {
            format!(
                "unknown map type {:?} recorded for the Postfix map {}",
                place.map_type,
                place.path.display()
            )
        })?;
        let mut postfix = config.postfix.clone();
        postfix.map = place.path.clone();
        postfix.map_type = map_type;
        let shares_source = place.path == config.postfix.map;
        maps.push((
            place,
            render::postfix::PostfixMap::new(&postfix),
            shares_source,
        ));
    }
    Ok(maps)
}

/// Empties every former Postfix map (see [`render::postfix::PostfixMap::empty_former`])
/// and forgets it once it is empty; Postfix is reloaded after (a failed reload is owed
/// like any other). One [`Rendered`] per map that held entries or failed.
fn empty_former_maps(
    store: &dyn BlockStore,
    config: &Config,
    now: i64,
) -> anyhow::Result<Vec<Rendered>> {
    let mut done = Vec::new();
    for (place, map, shares_source) in former_maps(store, config)? {
        let emptied = map.former_entries(shares_source).and_then(|left| {
            map.empty_former(shares_source)?;
            Ok(left)
        });
        let (diff, error) = match emptied {
            Ok(left) => {
                store.forget_postfix_map_place(&place)?;
                if left.is_empty() {
                    continue;
                }
                if map.reloads() && reload_owed_since(store, map.name())?.is_none() {
                    owe_reload(store, map.name(), now)?;
                }
                let error = settle_reload(store, &map).err().map(|e| format!("{e:#}"));
                let diff = Diff {
                    added: Vec::new(),
                    removed: left.into_iter().collect(),
                };
                (Some(diff), error)
            }
            Err(e) => (
                None,
                Some(format!(
                    "the former Postfix map {}:{} (no longer configured) could not be \
                     emptied: {e:#}",
                    place.map_type,
                    place.path.display()
                )),
            ),
        };
        done.push(Rendered {
            place: map.name(),
            target: BlockTarget::Postfix,
            entries: 0,
            diff,
            unrenderable: Vec::new(),
            why_unrenderable: Vec::new(),
            reload_owed_since: reload_owed_since(store, map.name())?
                .map(crate::report::format_time),
            error,
        });
    }
    Ok(done)
}

/// What `status` says about former Postfix maps that still hold entries: drift that
/// `run` repairs by emptying them.
fn former_map_statuses(
    store: &dyn BlockStore,
    config: &Config,
    active_blocks: usize,
) -> anyhow::Result<Vec<PlaceStatus>> {
    let mut statuses = Vec::new();
    for (place, map, shares_source) in former_maps(store, config)? {
        let (unexpected, error) = match map.former_entries(shares_source) {
            Ok(left) if left.is_empty() => continue,
            Ok(left) => (left.into_iter().collect(), None),
            Err(e) => (Vec::new(), Some(format!("{e:#}"))),
        };
        statuses.push(PlaceStatus {
            target: BlockTarget::Postfix,
            place: map.name(),
            active_blocks,
            wanted_entries: 0,
            missing: Vec::new(),
            unexpected,
            settings_differ: false,
            unrenderable: Vec::new(),
            why_unrenderable: Vec::new(),
            reload_owed_since: None,
            held_back: Vec::new(),
            in_sync: false,
            error,
            left_over: Some(format!("{}:{}", place.map_type, place.path.display())),
        });
    }
    Ok(statuses)
}

/// What `status` says about former firewall places that still hold saslguard's
/// objects: drift that `run` repairs by removing them.
fn leftover_statuses(
    store: &dyn BlockStore,
    config: &Config,
    active_blocks: usize,
) -> anyhow::Result<Vec<PlaceStatus>> {
    let mut statuses = Vec::new();
    for place in former_places(store, config)? {
        let backend = former_backend(&place, config)?;
        let (unexpected, error) = match backend.present() {
            Ok(false) => continue,
            Ok(true) => match backend.current() {
                Ok(nets) => (nets.into_iter().collect(), None),
                Err(e) => (Vec::new(), Some(format!("{e:#}"))),
            },
            Err(e) => (Vec::new(), Some(format!("{e:#}"))),
        };
        statuses.push(PlaceStatus {
            target: BlockTarget::Firewall,
            place: backend.name(),
            active_blocks,
            wanted_entries: 0,
            missing: Vec::new(),
            unexpected,
            settings_differ: false,
            unrenderable: Vec::new(),
            why_unrenderable: Vec::new(),
            reload_owed_since: None,
            held_back: Vec::new(),
            in_sync: false,
            error,
            left_over: Some(place.name),
        });
    }
    Ok(statuses)
}

/// Drift at one place: what the database wants there against what is there.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PlaceStatus {
    pub target: BlockTarget,
    pub place: &'static str,
    pub active_blocks: usize,
    pub wanted_entries: usize,
    /// In the database, missing from the map or firewall.
    pub missing: Vec<IpNet>,
    /// In the map or firewall, not in the database.
    pub unexpected: Vec<IpNet>,
    /// The entries match, but rules or settings differ (`run` rewrites them).
    pub settings_differ: bool,
    /// Active blocks this place cannot hold (see [`wanted_at`]): not enforced here, and
    /// `run` cannot change that.
    pub unrenderable: Vec<IpNet>,
    /// Why, per network of `unrenderable`.
    #[serde(skip)]
    pub why_unrenderable: Vec<String>,
    /// When a change was written whose reload has not succeeded since (`run` retries).
    pub reload_owed_since: Option<String>,
    /// Missing and held back by the `max_entries` safety valve: `run` does not add
    /// them (see [`within_max_entries`]); it applies every other change.
    pub held_back: Vec<IpNet>,
    /// Everything active is rendered, in force, and nothing else is.
    pub in_sync: bool,
    /// Reading the rendered state failed.
    pub error: Option<String>,
    /// For a backend or name the config no longer uses but where saslguard's objects
    /// remain: the name they were created under (`run` removes them).
    pub left_over: Option<String>,
}

/// Targets with active blocks and nowhere to render them (`backend = "none"`), with
/// how many.
pub type Unrendered = Vec<(BlockTarget, usize)>;

/// Compares every place with the database (full reads, for `status` and `metrics`);
/// also returns the targets with active blocks and no place.
pub fn drift(
    store: &dyn BlockStore,
    config: &Config,
    allow: &Allowlist,
    now: i64,
) -> anyhow::Result<(Vec<PlaceStatus>, Unrendered)> {
    let places = places(config);
    let mut statuses = Vec::new();
    let mut unrendered = Vec::new();
    for target in BlockTarget::ALL {
        let active = store.active_blocks(Some(target), now)?.len();
        let mut rendered_somewhere = false;
        for (_, place) in places.iter().filter(|(t, _)| *t == target) {
            rendered_somewhere = true;
            let wanted = wanted_at(store, target, place.as_ref(), allow, now)?;
            let wanted_set: BTreeSet<IpNet> = wanted.entries.iter().map(|e| e.network).collect();
            // Entries first; then the place's own check, which also sees missing rules
            // or changed settings (a flushed INPUT chain leaves ipset's sets intact).
            let limit = max_entries(config, target);
            let (diff, held_back, error) = match place.current() {
                Ok(current) => (
                    Diff::between(&current, &wanted_set),
                    within_max_entries(wanted.entries.clone(), &current, limit).1,
                    None,
                ),
                Err(e) => (Diff::default(), Vec::new(), Some(format!("{e:#}"))),
            };
            let (settled, error) = match (error, diff.is_empty()) {
                (None, true) => match place.in_sync(&wanted.entries) {
                    Ok(settled) => (settled, None),
                    Err(e) => (false, Some(format!("{e:#}"))),
                },
                (error, _) => (false, error),
            };
            let owed = reload_owed_since(store, place.name())?;
            let (unrenderable, why_unrenderable): (Vec<IpNet>, Vec<String>) =
                wanted.unrenderable.into_iter().unzip();
            statuses.push(PlaceStatus {
                target,
                place: place.name(),
                active_blocks: active,
                wanted_entries: wanted.entries.len(),
                settings_differ: error.is_none() && diff.is_empty() && !settled,
                in_sync: settled
                    && owed.is_none()
                    && unrenderable.is_empty()
                    && held_back.is_empty(),
                missing: diff.added,
                unexpected: diff.removed,
                unrenderable,
                why_unrenderable,
                reload_owed_since: owed.map(crate::report::format_time),
                held_back,
                error,
                left_over: None,
            });
        }
        if !rendered_somewhere && active > 0 {
            unrendered.push((target, active));
        }
        if target == BlockTarget::Firewall {
            statuses.extend(leftover_statuses(store, config, active)?);
        } else {
            statuses.extend(former_map_statuses(store, config, active)?);
        }
    }
    Ok((statuses, unrendered))
}

/// How `render` treats each place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderMode {
    /// Make every place equal the wanted state (a no-op where it already is).
    Always,
    /// Skip places whose wanted state did not change since the last render and which
    /// are still in sync (a cheap check): the common cron run.
    WhenChanged,
    /// Compute the differences only; change nothing.
    DryRun,
}

/// What rendering did at one place.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Rendered {
    pub place: &'static str,
    pub target: BlockTarget,
    /// Entries wanted there.
    pub entries: usize,
    /// What changed (or, in a dry run, would change); `None` when skipped or failed.
    pub diff: Option<Diff>,
    /// Active blocks this place cannot hold (see [`wanted_at`]): left out, so every
    /// other entry was rendered; the run fails naming them.
    pub unrenderable: Vec<IpNet>,
    /// Why, per network of `unrenderable`.
    #[serde(skip)]
    pub why_unrenderable: Vec<String>,
    /// When a reload is owed since (it failed, now or before), as RFC 3339.
    pub reload_owed_since: Option<String>,
    /// Why rendering or reloading this place failed.
    pub error: Option<String>,
}

impl Rendered {
    /// Whether this place is rendered in full and in force.
    pub fn is_ok(&self) -> bool {
        self.error.is_none() && self.unrenderable.is_empty()
    }
}

/// Renders the active blocks to every place. Every place is attempted whatever happens
/// at the others; what failed is in each [`Rendered`] (see [`render_failure`]). Only
/// a failure to read the database is an error here.
pub fn render_all(
    store: &dyn BlockStore,
    config: &Config,
    allow: &Allowlist,
    now: i64,
    mode: RenderMode,
) -> anyhow::Result<Vec<Rendered>> {
    let mut done = Vec::new();
    if mode != RenderMode::DryRun {
        record_configured_place(store, config, now)?;
        record_configured_map(store, config, now)?;
    }
    for (target, place) in places(config) {
        let mut rendered = render_one(store, config, allow, now, mode, target, place.as_ref())
            .unwrap_or_else(|e| Rendered {
                place: place.name(),
                target,
                entries: 0,
                diff: None,
                unrenderable: Vec::new(),
                why_unrenderable: Vec::new(),
                reload_owed_since: None,
                error: Some(format!("{e:#}")),
            });
        if mode != RenderMode::DryRun
            && let Err(e) = settle_reload(store, place.as_ref())
        {
            let e = format!("{e:#}");
            rendered.error = Some(match rendered.error.take() {
                Some(first) => format!("{first}; {e}"),
                None => e,
            });
        }
        rendered.reload_owed_since =
            reload_owed_since(store, place.name())?.map(crate::report::format_time);
        done.push(rendered);
    }
    // After the configured place is rendered, so no block goes unenforced in between;
    // not at all while it failed, so the old rules keep protecting until the new ones do.
    let firewall_in_place = done
        .iter()
        .filter(|r| r.target == BlockTarget::Firewall)
        .all(|r| r.error.is_none());
    if mode != RenderMode::DryRun && firewall_in_place {
        done.extend(remove_leftovers(store, config)?);
        done.extend(empty_former_maps(store, config, now)?);
    }
    Ok(done)
}

/// The error that rendering as a whole failed, naming each place that failed and each
/// network a place could not hold; `Ok` when every place is rendered in full.
pub fn render_failure(rendered: &[Rendered]) -> anyhow::Result<()> {
    let mut failures = Vec::new();
    for place in rendered {
        if let Some(e) = &place.error {
            failures.push(format!("{}: {e}", place.place));
        }
        if !place.unrenderable.is_empty() {
            let shown: Vec<&str> = place
                .why_unrenderable
                .iter()
                .take(5)
                .map(String::as_str)
                .collect();
            let more = match place.unrenderable.len() {
                n if n > 5 => format!(" (and {} more)", n - 5),
                _ => String::new(),
            };
            failures.push(format!(
                "{}: {} active block(s) left out, all other entries rendered: {}{more}",
                place.place,
                place.unrenderable.len(),
                shown.join("; ")
            ));
        }
    }
    if !failures.is_empty() {
        bail!("rendering failed: {}", failures.join("; "));
    }
    Ok(())
}

fn render_one(
    store: &dyn BlockStore,
    config: &Config,
    allow: &Allowlist,
    now: i64,
    mode: RenderMode,
    target: BlockTarget,
    place: &dyn Target,
) -> anyhow::Result<Rendered> {
    // The signature covers the stored blocks and allowlist; the config's allowlist is
    // part of the digest too, so editing it re-renders.
    let signature = format!(
        "{}/{}",
        store.active_signature(target, now)?,
        render::digest(&allowlist_text(allow))
    );
    if mode == RenderMode::WhenChanged
        && let Some((digest, Some(token))) = store.last_render(place.name())?
        && digest == signature
        && place.state_token()?.as_deref() == Some(token.as_str())
    {
        return Ok(Rendered {
            place: place.name(),
            target,
            entries: store.render_entries(place.name())?,
            diff: None,
            unrenderable: Vec::new(),
            why_unrenderable: Vec::new(),
            reload_owed_since: None,
            error: None,
        });
    }
    let PlaceWanted {
        entries: wanted,
        unrenderable,
    } = wanted_at(store, target, place, allow, now)?;
    let limit = max_entries(config, target);
    let (wanted, held_back) = if wanted.len() > limit {
        within_max_entries(wanted, &place.current()?, limit)
    } else {
        (wanted, Vec::new())
    };
    // With networks left out or held back, the render is never recorded as complete,
    // so every run looks again (and reports them) instead of skipping this place.
    let digest = if unrenderable.is_empty() && held_back.is_empty() {
        signature.clone()
    } else {
        format!("{signature}/incomplete")
    };
    let diff = match mode {
        RenderMode::DryRun => {
            let wanted_set: BTreeSet<IpNet> = wanted.iter().map(|e| e.network).collect();
            Some(Diff::between(&place.current()?, &wanted_set))
        }
        RenderMode::WhenChanged
            if store.last_render(place.name())?.map(|(d, _)| d).as_deref()
                == Some(signature.as_str())
                && place.in_sync(&wanted)? =>
        {
            None
        }
        RenderMode::WhenChanged | RenderMode::Always => {
            // Owed before the change is written: a reload that fails, or a run killed
            // in between, leaves the debt for the next run. A failed apply wrote
            // nothing, so it owes nothing new.
            let newly_owed = place.reloads()
                && reload_owed_since(store, place.name())?.is_none()
                && !place.in_sync(&wanted)?;
            if newly_owed {
                owe_reload(store, place.name(), now)?;
            }
            let diff = match place.apply(&wanted, now) {
                Ok(diff) => diff,
                Err(e) if newly_owed => {
                    store.clear_state(&reload_owed_key(place.name()))?;
                    return Err(e);
                }
                Err(e) => return Err(e),
            };
            let token = place.state_token()?;
            store.save_render(place.name(), &digest, token.as_deref(), wanted.len(), now)?;
            Some(diff)
        }
    };
    if !held_back.is_empty() {
        bail!(
            "{} new {} held back by the safety valve {}.max_entries = {limit} ({}); {} \
             check the policy and the blocks, or raise the limit",
            held_back.len(),
            if held_back.len() == 1 {
                "entry"
            } else {
                "entries"
            },
            target.as_str(),
            first_few(&held_back),
            if mode == RenderMode::DryRun {
                "removals and the entries within the limit would be applied;"
            } else {
                "removals and the entries within the limit were applied;"
            },
        );
    }
    let (unrenderable, why_unrenderable) = unrenderable.into_iter().unzip();
    Ok(Rendered {
        place: place.name(),
        target,
        entries: wanted.len(),
        diff,
        unrenderable,
        why_unrenderable,
        reload_owed_since: None,
        error: None,
    })
}

/// The `max_entries` safety valve of `target`'s places.
pub fn max_entries(config: &Config, target: BlockTarget) -> usize {
    match target {
        BlockTarget::Postfix => config.postfix.max_entries,
        BlockTarget::Firewall => config.firewall.max_entries,
    }
}

/// The safety valve against locking out the world, decided here for every place: of
/// `wanted` (collapsed, sorted), what is rendered now (`rendered`) and still wanted
/// stays, every removal happens, and only the additions beyond `limit` entries are
/// held back. Additions are admitted in address order (IPv4 before IPv6, lower
/// addresses first), so the same ones are held back run after run. A rendered network
/// inside a held-back addition stays rendered (its block is still in force). Returns
/// the entries to render and the networks held back.
pub fn within_max_entries(
    wanted: Vec<Entry>,
    rendered: &BTreeSet<IpNet>,
    limit: usize,
) -> (Vec<Entry>, Vec<IpNet>) {
    if wanted.len() <= limit {
        return (wanted, Vec::new());
    }
    let (mut kept, additions): (Vec<Entry>, Vec<Entry>) = wanted
        .into_iter()
        .partition(|e| rendered.contains(&e.network));
    let room = limit.saturating_sub(kept.len()).min(additions.len());
    let (admitted, held) = additions.split_at(room);
    for outer in held {
        kept.extend(
            rendered
                .range(outer.network..)
                .take_while(|net| outer.network.contains(*net))
                .map(|net| Entry {
                    network: *net,
                    expires_at: outer.expires_at,
                }),
        );
    }
    kept.extend_from_slice(admitted);
    (collapse(kept), held.iter().map(|e| e.network).collect())
}

/// Up to five networks, and how many more: `a, b, c and 4 more`.
fn first_few(networks: &[IpNet]) -> String {
    let shown: Vec<String> = networks.iter().take(5).map(IpNet::to_string).collect();
    match networks.len().saturating_sub(5) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

/// The allowlist in force as stable text (CIDR networks, one per line, sorted), for the
/// render signature: a format of its own, not Rust's `Debug` output.
fn allowlist_text(allow: &Allowlist) -> String {
    let mut networks: Vec<String> = allow.networks().iter().map(IpNet::to_string).collect();
    networks.sort();
    networks.join("\n")
}

/// A window as people write it in the config: `7d`, `12h`, `15m`, `90s`.
fn human(seconds: i64) -> String {
    crate::config::Span::Seconds(seconds).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(net: &str, expires_at: Option<i64>) -> Entry {
        Entry::parse(net, expires_at)
    }

    #[test]
    fn coverage_finds_a_block_of_the_network_or_a_supernet_of_its_family_and_target() {
        let mut coverage = Coverage {
            blocked: HashSet::new(),
        };
        let net = |text: &str| -> IpNet { text.parse().unwrap() };
        coverage.add(BlockTarget::Postfix, net("198.51.100.0/24"));
        coverage.add(BlockTarget::Firewall, net("::/64"));
        assert!(coverage.covers(BlockTarget::Postfix, &net("198.51.100.7/32")));
        assert!(coverage.covers(BlockTarget::Postfix, &net("198.51.100.0/24")));
        assert!(!coverage.covers(BlockTarget::Postfix, &net("198.51.0.0/16")));
        assert!(!coverage.covers(BlockTarget::Firewall, &net("198.51.100.7/32")));
        assert!(coverage.covers(BlockTarget::Firewall, &net("::1/128")));
        assert!(
            !coverage.covers(BlockTarget::Firewall, &net("0.0.0.1/32")),
            "no IPv6 network covers an IPv4 address"
        );
    }

    #[test]
    fn collapse_merges_equal_networks_and_drops_covered_ones() {
        let collapsed = collapse([
            entry("203.0.113.7/32", Some(10)),
            entry("198.51.100.0/24", Some(5)),
            entry("198.51.100.9/32", Some(50)),
            entry("203.0.113.7/32", Some(20)),
            entry("2001:db8::/64", None),
            entry("2001:db8::5/128", Some(1)),
            entry("10.0.0.0/8", Some(1)),
            entry("10.1.0.0/16", Some(1)),
            entry("10.200.0.1/32", Some(1)),
            entry("11.0.0.1/32", None),
            entry("11.0.0.1/32", Some(3)),
        ]);
        assert_eq!(
            collapsed,
            vec![
                entry("10.0.0.0/8", Some(1)),
                entry("11.0.0.1/32", None),
                entry("198.51.100.0/24", Some(50)),
                entry("203.0.113.7/32", Some(20)),
                entry("2001:db8::/64", None),
            ]
        );
    }

    #[test]
    fn the_valve_holds_back_only_additions_beyond_the_limit() {
        let rendered: BTreeSet<IpNet> = ["192.0.2.1/32", "192.0.2.2/32", "198.51.100.7/32"]
            .iter()
            .map(|n| n.parse().unwrap())
            .collect();
        // 192.0.2.1 was unblocked (a removal), 192.0.2.2 stays, 198.51.100.0/24 (new,
        // holding the rendered 198.51.100.7) and three hosts are additions.
        let wanted = collapse([
            entry("192.0.2.2/32", Some(9)),
            entry("192.0.2.3/32", None),
            entry("192.0.2.4/32", None),
            entry("198.51.100.0/24", Some(50)),
            entry("2001:db8::1/128", None),
        ]);
        let (render, held) = within_max_entries(wanted.clone(), &rendered, 3);
        assert_eq!(
            render,
            vec![
                entry("192.0.2.2/32", Some(9)),
                entry("192.0.2.3/32", None),
                entry("192.0.2.4/32", None),
                entry("198.51.100.7/32", Some(50)),
            ]
        );
        let held: Vec<String> = held.iter().map(ToString::to_string).collect();
        assert_eq!(held, ["198.51.100.0/24", "2001:db8::1/128"]);
        // Within the limit, nothing changes.
        assert_eq!(
            within_max_entries(wanted.clone(), &rendered, 5),
            (wanted, vec![])
        );
        assert_eq!(
            first_few(&held.iter().map(|n| n.parse().unwrap()).collect::<Vec<_>>()),
            "198.51.100.0/24, 2001:db8::1/128"
        );
    }

    #[test]
    fn collapse_gives_the_outer_entry_the_latest_end_of_what_it_covers() {
        // An inner block that ends later (or never) stretches the outer entry's end:
        // the element never lapses while a block it stands for is in force.
        let collapsed = collapse([
            entry("198.51.100.0/24", Some(3_600)),
            entry("198.51.100.9/32", Some(86_400)),
            entry("198.51.100.10/32", Some(10)),
            entry("10.0.0.0/8", Some(5)),
            entry("10.1.0.0/16", None),
            entry("10.1.2.3/32", Some(7)),
            entry("2001:db8::/32", None),
            entry("2001:db8::1/128", Some(1)),
        ]);
        assert_eq!(
            collapsed,
            vec![
                entry("10.0.0.0/8", None),
                entry("198.51.100.0/24", Some(86_400)),
                entry("2001:db8::/32", None),
            ]
        );
    }
}
