//! When failures become blocks: pure decisions over counts, earlier blocks and the
//! allowlist, so every rule is unit-tested without a database. `enforce` feeds it from
//! the store and records what it decides.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::config::{AllowConfig, PolicyConfig, Span};

/// Networks that are never blocked: the config's, the stored ones, and loopback unless
/// `loopback = false`.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    networks: Vec<IpNet>,
}

impl Allowlist {
    /// The allowlist from the config plus stored entries, every network normalised
    /// (IPv4-mapped IPv6 is IPv4: see [`crate::network::canonical`]).
    pub fn new(config: &AllowConfig, stored: impl IntoIterator<Item = IpNet>) -> Allowlist {
        let mut networks: Vec<IpNet> = config.networks.clone();
        if config.loopback {
            networks.push(IpNet::V4(Ipv4Net::new_assert(
                Ipv4Addr::new(127, 0, 0, 0),
                8,
            )));
            networks.push(IpNet::V6(Ipv6Net::new_assert(Ipv6Addr::LOCALHOST, 128)));
        }
        networks.extend(stored);
        for network in &mut networks {
            *network = crate::network::canonical(*network).trunc();
        }
        Allowlist { networks }
    }

    /// The allowlisted network sharing an address with `network`, if any: blocking
    /// `network` would block an allowlisted address. Networks of different families
    /// never share an address.
    pub fn overlapping(&self, network: &IpNet) -> Option<&IpNet> {
        let network = crate::network::canonical(*network);
        self.networks
            .iter()
            .find(|allowed| allowed.contains(&network) || network.contains(*allowed))
    }

    /// Every network on the list.
    pub fn networks(&self) -> &[IpNet] {
        &self.networks
    }
}

/// The shortest IPv4 prefix a block may have: anything wider is almost surely a mistake.
pub const MIN_IPV4_PREFIX: u8 = 8;
/// The shortest IPv6 prefix a block may have.
pub const MIN_IPV6_PREFIX: u8 = 16;

/// Why a network may not be blocked; its text says so in full
/// (`refusing to block 0.0.0.0/0: wider than ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Wider than [`MIN_IPV4_PREFIX`] or [`MIN_IPV6_PREFIX`].
    TooWide { network: IpNet },
    /// It holds an allowlisted address (loopback included unless switched off).
    Allowlisted { network: IpNet, allowed: IpNet },
}

impl Refusal {
    /// The network refused.
    pub fn network(&self) -> IpNet {
        match self {
            Refusal::TooWide { network } | Refusal::Allowlisted { network, .. } => *network,
        }
    }

    /// Why, without the network: `wider than /8 (IPv4) or /16 (IPv6), ...`.
    pub fn reason(&self) -> String {
        match self {
            Refusal::TooWide { .. } => format!(
                "wider than /{MIN_IPV4_PREFIX} (IPv4) or /{MIN_IPV6_PREFIX} (IPv6), almost \
                 surely a mistake"
            ),
            Refusal::Allowlisted { allowed, .. } => {
                format!("it overlaps the allowlisted {allowed}")
            }
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refusing to block {}: {}", self.network(), self.reason())
    }
}

impl std::error::Error for Refusal {}

/// Whether `network` may be blocked: the one rule `block`, `import` and the policy
/// (tiers and aggregation) all apply. Not wider than /8 (IPv4) or /16 (IPv6), and no
/// allowlisted address inside. IPv4-mapped IPv6 is judged as the IPv4 network it is.
pub fn blockable(network: &IpNet, allow: &Allowlist) -> Result<(), Refusal> {
    let network = crate::network::canonical(*network);
    let too_wide = match network {
        IpNet::V4(v4) => v4.prefix_len() < MIN_IPV4_PREFIX,
        IpNet::V6(v6) => v6.prefix_len() < MIN_IPV6_PREFIX,
    };
    if too_wide {
        return Err(Refusal::TooWide { network });
    }
    match allow.overlapping(&network) {
        Some(allowed) => Err(Refusal::Allowlisted {
            network,
            allowed: *allowed,
        }),
        None => Ok(()),
    }
}

/// The unit failures are counted and blocked by: an IPv4 address, or the IPv6 network
/// of `ipv6_prefix` bits around an IPv6 address.
pub fn counting_unit(addr: IpAddr, ipv6_prefix: u8) -> IpNet {
    match addr {
        IpAddr::V4(v4) => IpNet::V4(Ipv4Net::new_assert(v4, 32)),
        IpAddr::V6(v6) => IpNet::V6(Ipv6Net::new_assert(v6, ipv6_prefix.min(128)).trunc()),
    }
}

/// Sums per-address counts into counting units, keeping units at or over `threshold`.
pub fn units_over(
    counts: impl IntoIterator<Item = (IpAddr, i64)>,
    ipv6_prefix: u8,
    threshold: u64,
) -> Vec<(IpNet, i64)> {
    let mut units: BTreeMap<IpNet, i64> = BTreeMap::new();
    for (addr, failures) in counts {
        *units.entry(counting_unit(addr, ipv6_prefix)).or_default() += failures;
    }
    units
        .into_iter()
        .filter(|(_, failures)| *failures >= 0 && *failures as u64 >= threshold)
        .collect()
}

/// How long a new block lasts: the tier's duration, times `escalation` for each earlier
/// block of the same network and target, capped at `max_duration` (the config refuses a
/// tier longer than it). `None` is permanent.
pub fn block_seconds(duration: Span, earlier_blocks: i64, policy: &PolicyConfig) -> Option<i64> {
    let base = duration.seconds()?;
    let factor = policy.escalation.powi(earlier_blocks.clamp(0, 64) as i32);
    let escalated = (base as f64 * factor).min(i64::MAX as f64 / 2.0) as i64;
    match policy.max_duration.seconds() {
        Some(max) => Some(escalated.min(max)),
        None => Some(escalated),
    }
}

/// Networks to block as a whole: every aggregate network (IPv4 `/aggregate_ipv4_prefix`,
/// IPv6 `/aggregate_ipv6_prefix`) holding at least `aggregate_min` distinct blocked
/// networks, unless [`blockable`] refuses it. Returns each with how many it holds.
pub fn aggregates(
    blocked: &[IpNet],
    policy: &PolicyConfig,
    allow: &Allowlist,
) -> Vec<(IpNet, usize)> {
    if policy.aggregate_min == 0 {
        return Vec::new();
    }
    let mut members: BTreeMap<IpNet, usize> = BTreeMap::new();
    for network in blocked {
        let outer = match network {
            IpNet::V4(v4) if v4.prefix_len() > policy.aggregate_ipv4_prefix => {
                IpNet::V4(Ipv4Net::new_assert(v4.network(), policy.aggregate_ipv4_prefix).trunc())
            }
            IpNet::V6(v6) if v6.prefix_len() > policy.aggregate_ipv6_prefix => {
                IpNet::V6(Ipv6Net::new_assert(v6.network(), policy.aggregate_ipv6_prefix).trunc())
            }
            _ => continue,
        };
        *members.entry(outer).or_default() += 1;
    }
    members
        .into_iter()
        .filter(|(outer, n)| *n >= policy.aggregate_min && blockable(outer, allow).is_ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> IpNet {
        text.parse().unwrap()
    }

    fn policy() -> PolicyConfig {
        PolicyConfig::default()
    }

    #[test]
    fn loopback_is_allowed_unless_switched_off() {
        let on = Allowlist::new(&AllowConfig::default(), []);
        assert!(on.overlapping(&net("127.0.0.2/32")).is_some());
        assert!(on.overlapping(&net("::1/128")).is_some());
        let off = Allowlist::new(
            &AllowConfig {
                networks: vec![],
                loopback: false,
            },
            [],
        );
        assert!(off.overlapping(&net("127.0.0.2/32")).is_none());
    }

    #[test]
    fn a_network_holding_an_allowed_address_overlaps_the_allowlist() {
        let allow = Allowlist::new(
            &AllowConfig {
                networks: vec![net("192.0.2.5/32")],
                loopback: false,
            },
            [net("198.51.100.0/24")],
        );
        assert!(
            allow.overlapping(&net("192.0.2.0/24")).is_some(),
            "contains an allowed host"
        );
        assert!(
            allow.overlapping(&net("198.51.100.7/32")).is_some(),
            "inside an allowed net"
        );
        assert!(allow.overlapping(&net("192.0.2.6/32")).is_none());
    }

    #[test]
    fn an_allowlist_entry_written_as_mapped_ipv6_protects_the_ipv4_address() {
        let allow = Allowlist::new(
            &AllowConfig {
                networks: vec![net("::ffff:203.0.113.7/128")],
                loopback: false,
            },
            [net("::ffff:198.51.100.0/120")],
        );
        assert_eq!(
            allow.overlapping(&net("203.0.113.7/32")),
            Some(&net("203.0.113.7/32"))
        );
        assert_eq!(
            allow.overlapping(&net("203.0.113.0/24")),
            Some(&net("203.0.113.7/32"))
        );
        assert_eq!(
            allow.overlapping(&net("198.51.100.9/32")),
            Some(&net("198.51.100.0/24"))
        );
        assert_eq!(
            allow.overlapping(&net("::ffff:198.51.100.9/128")),
            Some(&net("198.51.100.0/24"))
        );
    }

    #[test]
    fn families_never_overlap() {
        let allow = Allowlist::new(&AllowConfig::default(), [net("10.0.0.0/8")]);
        for v6 in ["::/0", "::/64", "::fffe:0:0/95", "::ffff:0:0/95", "::/96"] {
            let network = net(v6);
            assert_eq!(
                allow.overlapping(&network),
                Some(&net("::1/128")).filter(|one| network.contains(*one)),
                "{v6}"
            );
        }
        assert_eq!(allow.overlapping(&net("::fffe:0:0/95")), None);
        assert_eq!(
            allow.overlapping(&net("0.0.0.0/0")),
            Some(&net("127.0.0.0/8"))
        );
    }

    #[test]
    fn one_rule_decides_what_may_be_blocked() {
        let allow = Allowlist::new(
            &AllowConfig {
                networks: vec![net("192.0.2.5/32")],
                loopback: true,
            },
            [],
        );
        let refused = |text: &str| blockable(&net(text), &allow).map_err(|r| r.to_string());
        assert_eq!(refused("203.0.113.7/32"), Ok(()));
        assert_eq!(refused("10.0.0.0/8"), Ok(()), "as wide as it may be");
        assert_eq!(refused("2001:db8::/16"), Ok(()));
        assert_eq!(
            refused("::fffe:0:0/95"),
            Ok(()),
            "IPv6, holding no IPv4 address"
        );
        for wide in [
            "0.0.0.0/0",
            "128.0.0.0/1",
            "10.0.0.0/7",
            "::/0",
            "2000::/3",
            "::ffff:0:0/96",
        ] {
            let text = refused(wide).unwrap_err();
            assert!(
                text.contains("wider than /8 (IPv4) or /16 (IPv6)"),
                "{wide}: {text}"
            );
        }
        assert_eq!(
            refused("::ffff:0:0/96").unwrap_err(),
            "refusing to block 0.0.0.0/0: wider than /8 (IPv4) or /16 (IPv6), almost surely a \
             mistake",
            "IPv4-mapped IPv6 is judged as IPv4"
        );
        assert_eq!(
            refused("192.0.2.0/24"),
            Err("refusing to block 192.0.2.0/24: it overlaps the allowlisted 192.0.2.5/32".into())
        );
        assert_eq!(
            refused("::ffff:127.0.0.9/128"),
            Err("refusing to block 127.0.0.9/32: it overlaps the allowlisted 127.0.0.0/8".into())
        );
        assert_eq!(
            refused("::/64"),
            Err("refusing to block ::/64: it overlaps the allowlisted ::1/128".into())
        );
    }

    #[test]
    fn ipv6_is_counted_per_configured_prefix() {
        let units = units_over(
            [
                ("2001:db8:1:2::5".parse().unwrap(), 30),
                ("2001:db8:1:2:ffff::9".parse().unwrap(), 30),
                ("2001:db8:1:3::1".parse().unwrap(), 49),
                ("203.0.113.7".parse().unwrap(), 50),
                ("203.0.113.8".parse().unwrap(), 49),
            ],
            64,
            50,
        );
        assert_eq!(
            units,
            vec![(net("203.0.113.7/32"), 50), (net("2001:db8:1:2::/64"), 60)]
        );
        let per_address = units_over([("2001:db8:1:2::5".parse().unwrap(), 60)], 128, 50);
        assert_eq!(per_address, vec![(net("2001:db8:1:2::5/128"), 60)]);
    }

    #[test]
    fn repeat_offenders_get_longer_blocks_up_to_the_maximum() {
        let p = policy();
        let week = Span::Seconds(7 * 86400);
        assert_eq!(block_seconds(week, 0, &p), Some(7 * 86400));
        assert_eq!(block_seconds(week, 1, &p), Some(14 * 86400));
        assert_eq!(block_seconds(week, 3, &p), Some(56 * 86400));
        assert_eq!(block_seconds(week, 10, &p), Some(365 * 86400), "capped");
        assert_eq!(block_seconds(Span::Permanent, 0, &p), None);
        let unlimited = PolicyConfig {
            max_duration: Span::Permanent,
            ..policy()
        };
        assert_eq!(block_seconds(week, 10, &unlimited), Some(7 * 86400 * 1024));
    }

    #[test]
    fn enough_blocked_addresses_in_a_network_block_the_network() {
        let p = PolicyConfig {
            aggregate_min: 3,
            ..policy()
        };
        let allow = Allowlist::new(
            &AllowConfig {
                networks: vec![net("198.51.100.200/32")],
                loopback: false,
            },
            [],
        );
        let blocked = [
            net("203.0.113.1/32"),
            net("203.0.113.2/32"),
            net("203.0.113.3/32"),
            net("198.51.100.1/32"),
            net("198.51.100.2/32"),
            net("198.51.100.3/32"),
            net("192.0.2.1/32"),
            net("192.0.2.2/32"),
        ];
        assert_eq!(
            aggregates(&blocked, &p, &allow),
            vec![(net("203.0.113.0/24"), 3)],
            "198.51.100.0/24 holds an allowed address; 192.0.2.0/24 has too few"
        );
        assert!(
            aggregates(&blocked, &policy(), &allow).is_empty(),
            "off by default"
        );
    }
}
