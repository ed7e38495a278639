//! Enforcement over the store: the steps of `saslguard run` after ingest. Expire blocks
//! whose time is over, end blocks an allowlist entry now covers, turn counted failures
//! into blocks (the decisions themselves are in [`crate::policy`]), and render the
//! active blocks to the Postfix map and the firewall.

use std::collections::BTreeSet;

use anyhow::bail;
use ipnet::IpNet;

use crate::config::{Backend, Config};
use crate::policy::{self, Allowlist};
use crate::render::{self, Diff, Entry, Target};
use crate::store::Store;
use crate::store::blocks::{Block, BlockTarget, EndReason, NewBlock, Origin};

/// The allowlist in force: the config's networks, loopback (unless switched off) and the
/// stored entries.
pub fn allowlist(store: &Store, config: &Config) -> anyhow::Result<Allowlist> {
    let stored = store.allowlist()?.into_iter().map(|entry| entry.network);
    Ok(Allowlist::new(&config.allow, stored))
}

/// Ends every active block that would block an allowlisted address, pardoning the
/// failures behind it; returns the blocks ended.
pub fn end_allowlisted(store: &Store, allow: &Allowlist, now: i64) -> anyhow::Result<Vec<Block>> {
    let mut ended = Vec::new();
    for allowed in allow.networks() {
        let blocks = store.end_blocks(allowed, true, now, EndReason::Allowlisted)?;
        if !blocks.is_empty() {
            store.add_pardon(allowed, now)?;
        }
        ended.extend(blocks);
    }
    Ok(ended)
}

/// Applies every policy tier at `now` and records the new blocks; returns them.
pub fn apply_policy(
    store: &Store,
    config: &Config,
    allow: &Allowlist,
    now: i64,
) -> anyhow::Result<Vec<NewBlock>> {
    let policy = &config.policy;
    // Blocks made by this run: the store knows the older ones (`Store::is_covered`).
    let mut active: Vec<(IpNet, BlockTarget, Option<i64>)> = Vec::new();
    let covered = |active: &[(IpNet, BlockTarget, Option<i64>)], net: &IpNet, target| {
        active
            .iter()
            .any(|(blocked, t, _)| *t == target && blocked.contains(net))
    };
    let mut created = Vec::new();
    for (index, tier) in policy.tiers.iter().enumerate() {
        let Some(window) = tier.window.seconds() else {
            continue;
        };
        let since = now.saturating_sub(window);
        let counts = countable_per_address(store, policy, since, now)?;
        for (unit, _) in policy::units_over(counts, policy.ipv6_prefix, tier.threshold) {
            if allow.overlapping(&unit).is_some()
                || covered(&active, &unit, tier.target)
                || store.is_covered(&unit, tier.target, now)?
            {
                continue;
            }
            // Failures behind an earlier block of this target never count twice.
            let (earlier, last_created) = store.block_history(&unit, tier.target)?;
            let count_since = since.max(last_created.unwrap_or(i64::MIN));
            let mut failures = store.countable_failures(&unit, count_since, now)?;
            if policy.count_invalid_mechanism {
                failures += store.countable_of_kind(
                    &unit,
                    crate::parse::EventKind::InvalidMechanism,
                    count_since,
                    now,
                )?;
            }
            if failures < 0 || (failures as u64) < tier.threshold {
                continue;
            }
            let expires_at = policy::block_seconds(tier.duration, earlier, policy).map(|s| now + s);
            let block = NewBlock {
                network: unit,
                target: tier.target,
                origin: Origin::Policy,
                reason: format!(
                    "{failures} failed authentications in {} (tier {}: {} in {})",
                    human(window),
                    index + 1,
                    tier.threshold,
                    human(window)
                ),
                failures: Some(failures),
                window_seconds: Some(window),
                created_at: now,
                expires_at,
            };
            store.insert_block(&block)?;
            active.push((unit, tier.target, expires_at));
            created.push(block);
        }
    }
    if policy.aggregate_min > 0 {
        aggregate(store, policy, allow, now, &mut active, &mut created)?;
    }
    Ok(created)
}

/// What counts toward the tiers per address in `(since, until]`: failed
/// authentications, plus `Invalid authentication mechanism` failures when
/// `[policy] count_invalid_mechanism` says so.
fn countable_per_address(
    store: &Store,
    policy: &crate::config::PolicyConfig,
    since: i64,
    until: i64,
) -> anyhow::Result<Vec<(std::net::IpAddr, i64)>> {
    let mut counts = store.failures_per_address(since, until)?;
    if policy.count_invalid_mechanism {
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

/// Blocks whole networks that hold enough blocked networks (see [`policy::aggregates`]).
fn aggregate(
    store: &Store,
    policy: &crate::config::PolicyConfig,
    allow: &Allowlist,
    now: i64,
    active: &mut Vec<(IpNet, BlockTarget, Option<i64>)>,
    created: &mut Vec<NewBlock>,
) -> anyhow::Result<()> {
    active.clear();
    active.extend(
        store
            .active_blocks(None, now)?
            .into_iter()
            .map(|b| (b.network, b.target, b.expires_at)),
    );
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
            if covered(active, &outer, target) {
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
            store.insert_block(&block)?;
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
    store: &Store,
    target: BlockTarget,
    allow: &Allowlist,
    now: i64,
) -> anyhow::Result<Vec<Entry>> {
    let entries = store
        .active_blocks(Some(target), now)?
        .into_iter()
        .filter(|block| allow.overlapping(&block.network).is_none())
        .map(|block| Entry {
            network: block.network.trunc(),
            expires_at: block.expires_at,
        });
    Ok(collapse(entries))
}

/// Sorts entries, merges equal networks (the latest expiry wins; permanent beats any)
/// and drops networks inside another entry.
pub fn collapse(entries: impl IntoIterator<Item = Entry>) -> Vec<Entry> {
    let mut entries: Vec<Entry> = entries.into_iter().collect();
    entries.sort_by_key(|e| e.network);
    let mut kept: Vec<Entry> = Vec::with_capacity(entries.len());
    for entry in entries {
        match kept.last_mut() {
            Some(last) if last.network == entry.network => {
                last.expires_at = match (last.expires_at, entry.expires_at) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                };
            }
            Some(last) if last.network.contains(&entry.network) => {}
            _ => kept.push(entry),
        }
    }
    kept
}

/// Where blocks of each target are rendered, per the config.
pub fn places(config: &Config) -> Vec<(BlockTarget, Box<dyn Target>)> {
    let mut places: Vec<(BlockTarget, Box<dyn Target>)> = vec![(
        BlockTarget::Postfix,
        Box::new(render::postfix::PostfixMap::new(&config.postfix)),
    )];
    let firewall = &config.firewall;
    let backend: Option<Box<dyn Target>> = match firewall.backend {
        Backend::Nftables => Some(Box::new(render::nftables::Nftables::new(firewall))),
        Backend::Ipset => Some(Box::new(render::ipset::Ipset::new(firewall))),
        Backend::Iptables => Some(Box::new(render::iptables::Iptables::new(firewall))),
        Backend::None => None,
    };
    if let Some(backend) = backend {
        places.push((BlockTarget::Firewall, backend));
    }
    places
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
    pub in_sync: bool,
    /// Reading the rendered state failed.
    pub error: Option<String>,
}

/// Targets with active blocks and nowhere to render them (`backend = "none"`), with
/// how many.
pub type Unrendered = Vec<(BlockTarget, usize)>;

/// Compares every place with the database (full reads, for `status` and `metrics`);
/// also returns the targets with active blocks and no place.
pub fn drift(
    store: &Store,
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
            let wanted = wanted_entries(store, target, allow, now)?;
            let wanted_set: BTreeSet<IpNet> = wanted.iter().map(|e| e.network).collect();
            // Entries first; then the place's own check, which also sees missing rules
            // or changed settings (a flushed INPUT chain leaves ipset's sets intact).
            let (diff, error) = match place.current() {
                Ok(current) => (Diff::between(&current, &wanted_set), None),
                Err(e) => (Diff::default(), Some(format!("{e:#}"))),
            };
            let (settled, error) = match (error, diff.is_empty()) {
                (None, true) => match place.in_sync(&wanted) {
                    Ok(settled) => (settled, None),
                    Err(e) => (false, Some(format!("{e:#}"))),
                },
                (error, _) => (false, error),
            };
            statuses.push(PlaceStatus {
                target,
                place: place.name(),
                active_blocks: active,
                wanted_entries: wanted.len(),
                in_sync: settled,
                missing: diff.added,
                unexpected: diff.removed,
                error,
            });
        }
        if !rendered_somewhere && active > 0 {
            unrendered.push((target, active));
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
    /// What changed (or, in a dry run, would change); `None` when skipped.
    pub diff: Option<Diff>,
}

/// Renders the active blocks to every place. Every place is attempted; the first
/// failure is returned after the others were tried.
pub fn render_all(
    store: &Store,
    config: &Config,
    allow: &Allowlist,
    now: i64,
    mode: RenderMode,
) -> anyhow::Result<Vec<Rendered>> {
    let mut done = Vec::new();
    let mut failures = Vec::new();
    for (target, place) in places(config) {
        match render_one(store, config, allow, now, mode, target, place.as_ref()) {
            Ok(rendered) => done.push(rendered),
            Err(e) => failures.push(format!("{}: {e:#}", place.name())),
        }
    }
    if !failures.is_empty() {
        bail!("rendering failed: {}", failures.join("; "));
    }
    Ok(done)
}

fn render_one(
    store: &Store,
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
        fnv(&format!("{:?}", allow.networks()))
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
        });
    }
    let wanted = wanted_entries(store, target, allow, now)?;
    let limit = match target {
        BlockTarget::Postfix => config.postfix.max_entries,
        BlockTarget::Firewall => config.firewall.max_entries,
    };
    if wanted.len() > limit {
        bail!(
            "refusing to render {} entries, more than max_entries = {limit}: a safety valve \
             against locking out the world; check the policy and the blocks, or raise the limit",
            wanted.len()
        );
    }
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
            let diff = place.apply(&wanted, now)?;
            let token = place.state_token()?;
            store.save_render(
                place.name(),
                &signature,
                token.as_deref(),
                wanted.len(),
                now,
            )?;
            Some(diff)
        }
    };
    Ok(Rendered {
        place: place.name(),
        target,
        entries: wanted.len(),
        diff,
    })
}

/// A stable 64-bit FNV-1a hash, as hex.
fn fnv(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// A window as people write it in the config: `7d`, `12h`, `15m`, `90s`.
fn human(seconds: i64) -> String {
    match seconds {
        s if s > 0 && s % 86400 == 0 => format!("{}d", s / 86400),
        s if s > 0 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(net: &str, expires_at: Option<i64>) -> Entry {
        Entry::parse(net, expires_at)
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
                entry("198.51.100.0/24", Some(5)),
                entry("203.0.113.7/32", Some(20)),
                entry("2001:db8::/64", None),
            ]
        );
    }
}
