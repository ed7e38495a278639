//! Invariant 6, as a property over random networks: an IPv6 range never covers an IPv4
//! address and an IPv4 range never an IPv6 one, in Rust (the allowlist) and in SQL (a
//! real SQLite store: failures counted, `show`'s totals, coverage, block history,
//! pardons, ending blocks, the allowlist ending blocks). An IPv6 network inside
//! ::ffff:0:0/96 is IPv4 written as IPv4-mapped IPv6, and is taken as that IPv4 network.

use crate::common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use common::{Env, append, failures};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::prelude::*;
use saslguard::config::{AllowConfig, Config};
use saslguard::enforce;
use saslguard::policy::Allowlist;
use saslguard::store::SqliteStore as Store;
use saslguard::store::{BlockStore, BlockTarget, EndReason, NewBlock, Origin, ReportStore};

/// Runs `work` in a transaction that is rolled back whatever happens, also on an error
/// or a failed assertion: each case leaves the shared store as it found it.
fn without_saving<T>(
    store: &Store,
    work: impl FnOnce(&Store) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let _undone = store.transaction()?;
    work(store)
}

/// Addresses with failures in the store: IPv4 ones whose old keys lay inside IPv6 ranges
/// (::/64, ::/0, ::fffe:0:0/95 all held ::ffff:0:0/96), and IPv6 ones around them.
const ADDRESSES: [&str; 10] = [
    "0.0.0.1",
    "10.1.2.3",
    "127.0.0.1",
    "203.0.113.7",
    "255.255.255.254",
    "::1",
    "::fffe:1:2",
    "::1:0:0:0",
    "2001:db8::1",
    "ffff::1",
];

/// Networks that mixed the families before the fix, tried on every run.
const FIXED: [&str; 9] = [
    "::/0",
    "::/64",
    // Its last address, ::ffff:255.255.255.255, looks IPv4-mapped: still IPv6 here.
    "::/80",
    "::ffff:0:0/96",
    "::fffe:0:0/95",
    "::/96",
    "0.0.0.0/0",
    "::ffff:203.0.113.0/120",
    "::ffff:0:0/95",
];

/// Failures of address number `i` in the store: distinct, so sums tell sets apart.
fn failures_of(i: usize) -> i64 {
    1 << i
}

fn addresses() -> Vec<IpAddr> {
    ADDRESSES.iter().map(|a| a.parse().unwrap()).collect()
}

/// The network as meant: IPv4-mapped IPv6 is IPv4.
fn meant(network: IpNet) -> IpNet {
    match network {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.network().to_ipv4_mapped() {
            Some(v4) => IpNet::V4(Ipv4Net::new(v4, v6.prefix_len() - 96).unwrap()),
            None => network,
        },
        _ => network,
    }
}

/// Whether `network` (as meant) holds `addr`: never across families.
fn holds(network: IpNet, addr: IpAddr) -> bool {
    meant(network).contains(&addr)
}

fn host(addr: IpAddr) -> IpNet {
    IpNet::from(addr)
}

/// One store for every case, with the failures of [`ADDRESSES`] ingested by the binary
/// and a permanent postfix block of each address; every case works inside a
/// transaction that is rolled back.
fn store() -> &'static (Env, std::sync::Mutex<Store>) {
    static STORE: OnceLock<(Env, std::sync::Mutex<Store>)> = OnceLock::new();
    STORE.get_or_init(|| {
        let env = Env::new();
        std::fs::write(&env.config, "[allow]\nloopback = false\n").unwrap();
        let log = env.path("maillog");
        for (i, addr) in ADDRESSES.iter().enumerate() {
            append(&log, &failures(i as i64 * 100, failures_of(i), addr));
        }
        env.ingest(&[&log]);
        let store = Store::open(&env.db).unwrap();
        for addr in addresses() {
            store
                .insert_block(&NewBlock {
                    network: host(addr),
                    target: BlockTarget::Postfix,
                    origin: Origin::Manual,
                    reason: "test".into(),
                    failures: None,
                    window_seconds: None,
                    created_at: 0,
                    expires_at: None,
                })
                .unwrap();
        }
        (env, std::sync::Mutex::new(store))
    })
}

/// `assert_eq!` that fails the case with an error instead of a panic, so the
/// transaction is rolled back and the next case (or the shrinking) starts clean.
macro_rules! same {
    ($left:expr, $right:expr, $($msg:tt)+) => {{
        let (left, right) = (&$left, &$right);
        anyhow::ensure!(left == right, "{}: {:?} != {:?}", format!($($msg)+), left, right);
    }};
}

const NOW: i64 = 4_000_000_000;

fn network() -> impl Strategy<Value = IpNet> {
    let fixed: Vec<IpNet> = FIXED.iter().map(|n| n.parse().unwrap()).collect();
    let around = |addr: IpAddr, bits: u8| -> IpNet {
        match addr {
            IpAddr::V4(v4) => IpNet::V4(Ipv4Net::new(v4, bits % 33).unwrap().trunc()),
            IpAddr::V6(v6) => IpNet::V6(Ipv6Net::new(v6, bits % 129).unwrap().trunc()),
        }
    };
    prop_oneof![
        prop::sample::select(fixed),
        (any::<u32>(), 0u8..=32)
            .prop_map(|(a, p)| IpNet::V4(Ipv4Net::new(Ipv4Addr::from(a), p).unwrap().trunc())),
        (any::<u128>(), 0u8..=128)
            .prop_map(|(a, p)| IpNet::V6(Ipv6Net::new(Ipv6Addr::from(a), p).unwrap().trunc())),
        // IPv6 networks around and inside the mapped range.
        (any::<u32>(), 64u8..=128).prop_map(|(low, p)| {
            let addr = Ipv6Addr::from(0xffff_0000_0000u128 | u128::from(low));
            IpNet::V6(Ipv6Net::new(addr, p).unwrap().trunc())
        }),
        // Networks around the stored addresses, of their own family.
        (prop::sample::select(addresses()), any::<u8>()).prop_map(move |(a, b)| around(a, b)),
        // The same as IPv4-mapped IPv6.
        (prop::sample::select(addresses()), 0u8..=32).prop_map(|(a, p)| match a {
            IpAddr::V4(v4) => IpNet::V6(Ipv6Net::new(v4.to_ipv6_mapped(), 96 + p).unwrap().trunc()),
            v6 => IpNet::from(v6),
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn no_range_of_one_family_covers_an_address_of_the_other(network in network()) {
        let (_env, store) = store();
        let store = store.lock().unwrap_or_else(|e| e.into_inner());
        let addrs = addresses();
        let inside: Vec<usize> = (0..addrs.len()).filter(|&i| holds(network, addrs[i])).collect();
        let expected_failures: i64 = inside.iter().map(|&i| failures_of(i)).sum();
        let expected_hosts: Vec<IpNet> = inside.iter().map(|&i| host(addrs[i])).collect();

        // Rust: the allowlist.
        let allow = Allowlist::new(
            &AllowConfig { networks: vec![meant(network)], loopback: false },
            [],
        );
        for (i, addr) in addrs.iter().enumerate() {
            prop_assert_eq!(
                allow.overlapping(&host(*addr)).is_some(),
                inside.contains(&i),
                "allowlist {} and {}", network, addr
            );
        }

        without_saving(&store, |store| {
            // Counting and `show`.
            same!(store.countable_failures(&network, 0, NOW)?, expected_failures, "count {network}");
            let totals = store.range_totals(&network, NOW)?;
            same!(totals.failures, expected_failures, "show {network}");
            same!(totals.addresses, inside.len() as i64, "show {network}");
            let [_, mechanisms, _] = store.range_label_counts(&network, NOW)?;
            let labelled: i64 = mechanisms.iter().map(|m| m.failures).sum();
            same!(labelled, expected_failures, "show's mechanisms of {network}");
            let per_day: i64 = store
                .range_failures_per_day(&network, 0, NOW)?
                .iter()
                .map(|(_, n)| n)
                .sum();
            same!(per_day, expected_failures, "show's days of {network}");
            let mut shown: Vec<IpNet> = store
                .blocks_overlapping(&network)?
                .into_iter()
                .map(|b| b.network)
                .collect();
            shown.sort();
            let mut hosts = expected_hosts.clone();
            hosts.sort();
            same!(shown, hosts, "blocks shown for {network}");

            // Coverage and history.
            store.insert_block(&NewBlock {
                network,
                target: BlockTarget::Firewall,
                origin: Origin::Manual,
                reason: "test".into(),
                failures: None,
                window_seconds: None,
                created_at: 1,
                expires_at: None,
            })?;
            for (i, addr) in addrs.iter().enumerate() {
                let covered = store.is_covered(&host(*addr), BlockTarget::Firewall, NOW)?;
                same!(covered, inside.contains(&i), "{network} covers {addr}");
                let (earlier, _) = store.block_history(&host(*addr), BlockTarget::Firewall)?;
                same!(earlier, i64::from(inside.contains(&i)), "history of {addr} under {network}");
            }

            // Pardons.
            store.add_pardon(&network, NOW)?;
            for (i, addr) in addrs.iter().enumerate() {
                let left = store.countable_failures(&host(*addr), 0, NOW)?;
                let expected = if inside.contains(&i) { 0 } else { failures_of(i) };
                same!(left, expected, "pardon of {network}, failures of {addr}");
            }

            // Ending blocks: the allowlist's way (overlapping), then unblock's (inside).
            store.allowlist_add(&network, None, 1)?;
            let mut config = Config::default();
            config.allow.loopback = false;
            let allow = enforce::allowlist(store, &config)?;
            let mut ended: Vec<IpNet> = enforce::end_allowlisted(store, &allow, NOW)?
                .into_iter()
                .filter(|b| b.target == BlockTarget::Postfix)
                .map(|b| b.network)
                .collect();
            ended.sort();
            same!(ended, hosts, "the allowlisted {network} ends");
            Ok(())
        }).map_err(|e| TestCaseError::fail(format!("{e:#}")))?;

        without_saving(&store, |store| {
            let mut ended: Vec<IpNet> = store
                .end_blocks(&network, false, NOW, EndReason::Unblocked)?
                .into_iter()
                .map(|b| b.network)
                .collect();
            ended.sort();
            let mut hosts = expected_hosts.clone();
            hosts.sort();
            same!(ended, hosts, "unblock {network}");
            Ok(())
        }).map_err(|e| TestCaseError::fail(format!("{e:#}")))?;
    }
}
