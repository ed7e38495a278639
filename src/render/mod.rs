//! Rendering: the active blocks in the database become the Postfix access map and the
//! firewall state. Never appended to: each target is rewritten to equal the wanted set,
//! atomically and idempotently, so expired and unblocked entries disappear.
//!
//! One file per target behind one small trait: `postfix.rs`, and one module per
//! firewall backend under `firewall/` (see [`firewall`]). External commands run without a shell,
//! through [`command::run`], which captures stderr for the error message.

pub mod atomic;
pub mod command;
pub mod firewall;
pub mod postfix;

use std::collections::BTreeSet;

use ipnet::IpNet;

/// One network to render (a host is a /32 or /128), with when its block ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Entry {
    /// Always in canonical form (host bits cleared: `IpNet::trunc`).
    pub network: IpNet,
    /// Unix seconds; `None` for a permanent block.
    pub expires_at: Option<i64>,
}

impl Entry {
    /// An entry for `network` (text, e.g. `203.0.113.0/24`), for tests.
    #[cfg(test)]
    pub(crate) fn parse(network: &str, expires_at: Option<i64>) -> Entry {
        Entry {
            network: network.parse().expect("a CIDR network"),
            expires_at,
        }
    }
}

/// What rendering changed (or, for a dry run, would change).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Diff {
    /// Networks rendered now that were not before.
    pub added: Vec<IpNet>,
    /// Networks rendered before that are not any more.
    pub removed: Vec<IpNet>,
}

impl Diff {
    /// The difference between what is rendered (`current`) and what should be (`wanted`).
    pub fn between(current: &BTreeSet<IpNet>, wanted: &BTreeSet<IpNet>) -> Diff {
        Diff {
            added: wanted.difference(current).copied().collect(),
            removed: current.difference(wanted).copied().collect(),
        }
    }

    /// Nothing differs.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// A place blocks are rendered to: the Postfix map, or one firewall backend.
///
/// `wanted` is always sorted, free of duplicates and of networks covered by another
/// entry, validated, and never contains an allowlisted address: renderers write it as is.
pub trait Target {
    /// Short name for messages and status: `postfix`, `nftables`, `ipset`, `iptables`.
    fn name(&self) -> &'static str;

    /// The networks rendered now, read back from the map file or the kernel. Used by
    /// `status` (drift) and `render --dry-run`. Empty when nothing was rendered yet.
    fn current(&self) -> anyhow::Result<BTreeSet<IpNet>>;

    /// Cheaply tells whether what is rendered still equals `wanted`, so `run` can skip
    /// rendering when nothing changed. May return false when unsure (render then runs).
    fn in_sync(&self, wanted: &[Entry]) -> anyhow::Result<bool> {
        let wanted: BTreeSet<IpNet> = wanted.iter().map(|e| e.network).collect();
        Ok(self.current()? == wanted)
    }

    /// A cheap token of the rendered state (a map file's inode, size and modification
    /// time): when it equals the token taken right after the last render and the blocks
    /// did not change, `run` skips this place without reading the blocks. `None` when
    /// no such token is cheap, so `in_sync` decides.
    fn state_token(&self) -> anyhow::Result<Option<String>> {
        Ok(None)
    }

    /// Makes the rendered state equal `wanted` (at time `now`, unix seconds, for
    /// remaining-time timeouts) in one atomic step and returns what changed. Applying
    /// the same `wanted` twice changes nothing the second time: no rewrite, no second
    /// rule or element. On failure nothing is half-applied and the error carries the
    /// failing command's stderr. A place that [`Target::reloads`] is reloaded by the
    /// caller afterwards, not here.
    fn apply(&self, wanted: &[Entry], now: i64) -> anyhow::Result<Diff>;

    /// Why this place cannot hold `network` (a Postfix hash map and an IPv6 /60), or
    /// `None` when it can. Such networks are left out of `wanted`, so the others are
    /// still rendered, and reported by `render`, `run` and `status`.
    fn cannot_hold(&self, _network: IpNet) -> Option<String> {
        None
    }

    /// Whether what `apply` writes takes effect only after [`Target::reload`] (the
    /// Postfix map with a `reload_command`). The caller records that a reload is owed
    /// before a change and clears it only once `reload` succeeded, so a failed or
    /// interrupted reload is retried by the next run.
    fn reloads(&self) -> bool {
        false
    }

    /// Makes the running service take up what `apply` wrote; the error carries the
    /// command's stderr.
    fn reload(&self) -> anyhow::Result<()> {
        Ok(())
    }
}

/// A stable 64-bit FNV-1a hash of `text`, as hex: for state tokens and render
/// signatures, which must read the same across runs and versions.
pub(crate) fn digest(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}
