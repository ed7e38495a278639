//! The firewall renderers against the real kernel, each test in its own network
//! namespace: a rendered block really drops TCP from the blocked sources (and only to
//! the configured ports), unblocking restores it, rendering again changes nothing,
//! `current()` reads back what was rendered, and a missing program or a refused
//! render leaves the previous state in place.
//!
//! Needs root, `ip`, `nft`, `ipset`, `iptables`, `ip6tables`, `iptables-restore`,
//! `ip6tables-restore` and `python3`; skipped without them, failed without them when
//! `CI=true`. The ipset and iptables scenarios also run with the `-legacy` iptables
//! programs when those are installed (Debian ships both variants).
//!
//! Every backend also takes 10,000 entries in every run (`render_10k_*`: exact kernel
//! contents after a render, an unchanged render and a removal). Benchmark (100,000 entries
//! into each backend, timings only):
//! `cargo test --release --test firewall -- --ignored --nocapture`.

use crate::common_netns;

use std::collections::BTreeSet;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use common_netns::Netns;
use ipnet::IpNet;
use saslguard::config::FirewallConfig;
use saslguard::render::firewall::ipset::Ipset;
use saslguard::render::firewall::iptables::Iptables;
use saslguard::render::firewall::nftables::Nftables;
use saslguard::render::{Entry, Target};
use serde_json::Value;

/// saslguard's name in the tests (table, sets, chain).
const NAME: &str = "sgtest";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn config(ports: &[u16]) -> FirewallConfig {
    FirewallConfig {
        ports: ports.to_vec(),
        name: NAME.to_string(),
        ..FirewallConfig::default()
    }
}

fn entry(net: &str, expires_at: Option<i64>) -> Entry {
    Entry {
        network: net.parse().expect("network"),
        expires_at,
    }
}

fn nets(entries: &[Entry]) -> BTreeSet<IpNet> {
    entries.iter().map(|e| e.network).collect()
}

/// The wanted blocks: the two test clients, plus networks nobody connects from, some
/// with an end and some permanent, sorted like the caller sorts them.
fn blocks(now: i64) -> Vec<Entry> {
    let mut entries = vec![
        entry("127.0.0.2/32", Some(now + 3600)),
        entry("10.99.0.0/16", None),
        entry("fd00:5a51::2/128", Some(now + 7200)),
        entry("2001:db8::/32", None),
    ];
    entries.sort();
    entries
}

/// The connections every test probes, in this order.
const PROBES: &[(&str, &str, u16)] = &[
    ("127.0.0.2", "127.0.0.1", 25),
    ("127.0.0.3", "127.0.0.1", 25),
    ("127.0.0.2", "127.0.0.1", 2525),
    ("fd00:5a51::2", "fd00:5a51::1", 25),
    ("fd00:5a51::3", "fd00:5a51::1", 25),
    ("fd00:5a51::2", "fd00:5a51::1", 2525),
];

/// With 127.0.0.2 and fd00:5a51::2 blocked on port 25 only.
const BLOCKED_ON_25: [bool; 6] = [false, true, true, false, true, true];
/// With them blocked on all ports.
const BLOCKED_ON_ALL: [bool; 6] = [false, true, false, false, true, false];
const NONE_BLOCKED: [bool; 6] = [true; 6];

/// What a backend-specific counter reports: (rules, elements) saslguard has rendered.
type Counter<'a> = &'a dyn Fn(&Netns) -> (usize, usize);

/// One iptables variant's programs.
struct Tools {
    iptables: &'static str,
    ip6tables: &'static str,
    iptables_restore: &'static str,
    ip6tables_restore: &'static str,
}

/// What `iptables` is on this machine (on Debian 12: the nf_tables variant).
const DEFAULT_TOOLS: Tools = Tools {
    iptables: "iptables",
    ip6tables: "ip6tables",
    iptables_restore: "iptables-restore",
    ip6tables_restore: "ip6tables-restore",
};

/// The legacy (x_tables) variant, shipped alongside by Debian's iptables package.
const LEGACY_TOOLS: Tools = Tools {
    iptables: "iptables-legacy",
    ip6tables: "ip6tables-legacy",
    iptables_restore: "iptables-legacy-restore",
    ip6tables_restore: "ip6tables-legacy-restore",
};

impl Tools {
    fn both(&self) -> [&'static str; 2] {
        [self.iptables, self.ip6tables]
    }

    /// Whether this variant is installed; the legacy one is optional (skipped, also
    /// under CI, when missing).
    fn available(&self, test: &str) -> bool {
        let found = [
            self.iptables,
            self.ip6tables,
            self.iptables_restore,
            self.ip6tables_restore,
        ]
        .iter()
        .all(|tool| common_netns::have(tool));
        if !found {
            eprintln!("{test}: skipped: {} not installed", self.iptables);
        }
        found
    }
}

/// The scenario every backend goes through. `make(config)` builds the target acting in
/// the namespace, `make_missing(config)` the same with one program missing (its name
/// contains `missing`).
fn scenario<T: Target>(
    ns: &mut Netns,
    make: impl Fn(&FirewallConfig) -> T,
    make_missing: impl Fn(&FirewallConfig) -> T,
    missing: &str,
    count: Counter,
) {
    ns.listen(&[25, 2525]);
    let target = make(&config(&[25, 465, 587]));
    let now = now();
    let wanted = blocks(now);

    // Nothing rendered yet.
    assert!(target.current().expect("current").is_empty());
    assert!(target.in_sync(&[]).expect("in_sync"));
    assert_eq!(ns.probe(PROBES), NONE_BLOCKED, "before any render");

    // A missing program: a clear error, and nothing created.
    let err = make_missing(&config(&[25, 465, 587]))
        .apply(&wanted, now)
        .expect_err("a missing program must fail");
    assert!(format!("{err:#}").contains(missing), "{err:#}");
    assert!(target.current().expect("current").is_empty());
    assert_eq!(count(ns), (0, 0), "a failed render created something");

    // Block: the two clients lose port 25, keep 2525; the others keep everything.
    let diff = target.apply(&wanted, now).expect("apply");
    assert_eq!(diff.added, nets(&wanted).into_iter().collect::<Vec<_>>());
    assert!(diff.removed.is_empty());
    assert_eq!(target.current().expect("current"), nets(&wanted));
    assert!(target.in_sync(&wanted).expect("in_sync"));
    assert!(!target.in_sync(&wanted[1..]).expect("in_sync"));
    assert_eq!(ns.probe(PROBES), BLOCKED_ON_25, "blocked on port 25");
    let counts = count(ns);
    assert_eq!(counts.1, wanted.len(), "elements: {counts:?}");

    // Rendering the same again changes nothing, three times over.
    for round in 0..3 {
        let diff = target.apply(&wanted, now + round).expect("apply again");
        assert!(diff.is_empty(), "{diff:?}");
        assert_eq!(count(ns), counts, "round {round}");
    }

    // A missing program while blocks are in place: they stay.
    let err = make_missing(&config(&[25, 465, 587]))
        .apply(&[], now)
        .expect_err("a missing program must fail");
    assert!(format!("{err:#}").contains(missing), "{err:#}");
    assert_eq!(target.current().expect("current"), nets(&wanted));
    assert_eq!(count(ns), counts);

    // Other ports configured: the same networks, now blocked on every port, with the
    // old rules replaced rather than joined.
    let everything = make(&config(&[]));
    assert!(!everything.in_sync(&wanted).expect("in_sync"));
    let diff = everything
        .apply(&wanted, now)
        .expect("apply with all ports");
    assert!(diff.is_empty(), "same networks: {diff:?}");
    assert!(everything.in_sync(&wanted).expect("in_sync"));
    assert_eq!(count(ns), counts);
    assert_eq!(ns.probe(PROBES), BLOCKED_ON_ALL, "blocked on all ports");

    // Unblock everything.
    let diff = everything.apply(&[], now).expect("apply empty");
    assert!(diff.added.is_empty());
    assert_eq!(diff.removed, nets(&wanted).into_iter().collect::<Vec<_>>());
    assert!(everything.current().expect("current").is_empty());
    assert!(everything.in_sync(&[]).expect("in_sync"));
    assert!(everything.apply(&[], now).expect("apply empty").is_empty());
    assert_eq!(count(ns).1, 0);
    assert_eq!(ns.probe(PROBES), NONE_BLOCKED, "after unblocking");
}

// ------------------------------------------------------------------ nftables

/// (rules, elements) in saslguard's table, from `nft -j list ruleset`.
fn nft_count(ns: &Netns) -> (usize, usize) {
    let json: Value =
        serde_json::from_str(&ns.run(&["nft", "-j", "list", "ruleset"])).expect("nft JSON");
    let mut counts = (0, 0);
    for object in json["nftables"].as_array().expect("nftables array") {
        if object["rule"]["table"] == NAME {
            counts.0 += 1;
        }
        if object["set"]["table"] == NAME {
            counts.1 += object["set"]["elem"].as_array().map_or(0, Vec::len);
        }
    }
    counts
}

/// The elements of a set as nft lists them (with timeouts and comments).
fn nft_elements(ns: &Netns, set: &str) -> Vec<Value> {
    let json: Value =
        serde_json::from_str(&ns.run(&["nft", "-j", "list", "set", "inet", NAME, set]))
            .expect("nft JSON");
    json["nftables"]
        .as_array()
        .expect("nftables array")
        .iter()
        .find_map(|o| o["set"]["elem"].as_array().cloned())
        .unwrap_or_default()
}

#[test]
fn nftables_blocks_unblocks_and_stays_single() {
    let Some(mut ns) = Netns::new("nftables_blocks_unblocks_and_stays_single") else {
        return;
    };
    let prefix = ns.prefix();
    scenario(
        &mut ns,
        |c| Nftables::new(c).with_prefix(prefix.clone()),
        |c| {
            Nftables::new(c)
                .with_prefix(prefix.clone())
                .with_nft("saslguard-no-such-nft")
        },
        "saslguard-no-such-nft",
        &nft_count,
    );
    // The table is still there, empty, with its two rules.
    assert_eq!(nft_count(&ns), (2, 0));
}

/// The element of `set` for `address` as nft lists it (`{"elem": {...}}` for a timed
/// one, the bare address for a permanent one), if present.
fn nft_element(ns: &Netns, set: &str, address: &str) -> Option<Value> {
    nft_elements(ns, set)
        .into_iter()
        .find(|e| e == address || e["elem"]["val"] == address)
}

/// A timed element's `timeout` is exactly the block's remaining time at render, its
/// `comment` the block's end, and the kernel's `expires` counts down from the timeout
/// (within `slack` seconds of it: the time since the render).
fn assert_timed(ns: &Netns, set: &str, address: &str, timeout: i64, until: i64, slack: i64) {
    let element = nft_element(ns, set, address).unwrap_or_else(|| panic!("{address} missing"));
    let elem = &element["elem"];
    assert_eq!(elem["timeout"], timeout, "{element}");
    assert_eq!(elem["comment"], format!("until={until}"), "{element}");
    let expires = elem["expires"].as_i64().expect("expires");
    assert!(
        (timeout - slack..=timeout).contains(&expires),
        "{address}: expires {expires}, timeout {timeout}: {element}"
    );
}

#[test]
fn nftables_timeouts_are_the_remaining_block_time() {
    let Some(ns) = Netns::new("nftables_timeouts_are_the_remaining_block_time") else {
        return;
    };
    let target = Nftables::new(&config(&[25])).with_prefix(ns.prefix());
    let now = now();
    let mut wanted = vec![
        entry("127.0.0.9/32", Some(now + 3600)),
        entry("127.0.0.10/32", None),
        entry("127.0.0.11/32", Some(now + 1800)),
        entry("fd00:5a51::9/128", Some(now + 600)),
    ];
    target.apply(&wanted, now).expect("apply");
    // Timeouts long enough that nothing expires while the test looks (a minute of slack
    // for a busy machine between render and listing).
    assert_timed(&ns, "v4", "127.0.0.9", 3600, now + 3600, 60);
    assert_timed(&ns, "v4", "127.0.0.11", 1800, now + 1800, 60);
    assert_timed(&ns, "v6", "fd00:5a51::9", 600, now + 600, 60);
    assert_eq!(
        nft_element(&ns, "v4", "127.0.0.10"),
        Some(Value::from("127.0.0.10")),
        "permanent: no timeout"
    );

    // Extending one block (same networks) re-renders with the new timeout.
    wanted[2].expires_at = Some(now + 5400);
    assert!(!target.in_sync(&wanted).expect("in_sync"));
    let diff = target.apply(&wanted, now).expect("apply extended");
    assert!(diff.is_empty(), "{diff:?}");
    assert!(target.in_sync(&wanted).expect("in_sync"));
    assert_timed(&ns, "v4", "127.0.0.11", 5400, now + 5400, 60);

    // A clock we control: an hour later the database says the blocks of 127.0.0.9 and
    // fd00:5a51::9 ended, so the render at that time takes them out, and the remaining
    // timeout is what is left of the other block then.
    let later = now + 3600;
    let left: Vec<Entry> = wanted
        .iter()
        .filter(|e| e.expires_at.is_none_or(|t| t > later))
        .cloned()
        .collect();
    let diff = target.apply(&left, later).expect("apply an hour later");
    assert!(diff.added.is_empty(), "{diff:?}");
    assert_eq!(
        diff.removed,
        ["127.0.0.9/32", "fd00:5a51::9/128"].map(|n| n.parse::<IpNet>().unwrap())
    );
    assert_eq!(nft_element(&ns, "v4", "127.0.0.9"), None);
    assert!(nft_elements(&ns, "v6").is_empty());
    assert_timed(&ns, "v4", "127.0.0.11", 1800, now + 5400, 60);
    assert!(target.in_sync(&left).expect("in_sync"));
}

#[test]
fn nftables_kernel_lifts_a_timed_block_on_its_own() {
    let Some(ns) = Netns::new("nftables_kernel_lifts_a_timed_block_on_its_own") else {
        return;
    };
    let target = Nftables::new(&config(&[25])).with_prefix(ns.prefix());
    // Five seconds: long enough to observe the element once after the render, short
    // enough to wait for. No assertion depends on how fast this machine is, except
    // seeing the element within those five seconds.
    const TIMEOUT: i64 = 5;
    let now = now();
    let start = std::time::Instant::now();
    let wanted = [
        entry("127.0.0.10/32", None),
        entry("127.0.0.12/32", Some(now + TIMEOUT)),
        entry("127.0.0.13/32", Some(now + 3600)),
    ];
    target.apply(&wanted, now).expect("apply");
    let seen = nft_element(&ns, "v4", "127.0.0.12");
    let looked = start.elapsed();
    let seen = seen.unwrap_or_else(|| {
        panic!("127.0.0.12 not in the set {looked:?} after a render with a {TIMEOUT}s timeout")
    });
    assert_eq!(seen["elem"]["timeout"], TIMEOUT, "{seen}");
    assert!(seen["elem"]["expires"].as_i64().expect("expires") <= TIMEOUT);

    // The kernel drops it on its own, not before its timeout (a second of rounding) and
    // within half a minute after; the others stay, and saslguard sees the same.
    let deadline = start + std::time::Duration::from_secs(TIMEOUT as u64 + 30);
    while nft_element(&ns, "v4", "127.0.0.12").is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the kernel kept 127.0.0.12 for {:?}",
            start.elapsed()
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    let gone = start.elapsed();
    assert!(
        gone.as_secs_f64() >= (TIMEOUT - 1) as f64,
        "127.0.0.12 gone after {gone:?}, before its {TIMEOUT}s timeout"
    );
    let left: Vec<String> = target
        .current()
        .expect("current")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(left, ["127.0.0.10/32", "127.0.0.13/32"]);
    assert_timed(&ns, "v4", "127.0.0.13", 3600, now + 3600, 60);
}

#[test]
fn nftables_refusal_keeps_the_previous_table() {
    let Some(ns) = Netns::new("nftables_refusal_keeps_the_previous_table") else {
        return;
    };
    let target = Nftables::new(&config(&[25])).with_prefix(ns.prefix());
    let now = now();
    let before = [entry("192.0.2.1/32", None)];
    target.apply(&before, now).expect("apply");
    // Overlapping networks (the caller collapses them; here it did not) are refused by
    // nft as a whole: its message comes back and the old table stays.
    let overlapping = [entry("10.0.0.0/8", None), entry("10.1.0.0/16", None)];
    let err = target
        .apply(&overlapping, now)
        .expect_err("nft refuses overlaps");
    let text = format!("{err:#}");
    assert!(text.contains("interval"), "{text}");
    assert_eq!(target.current().expect("current"), nets(&before));
    assert_eq!(nft_count(&ns), (2, 1));
}

// ------------------------------------------------------------------ ipset

/// (saslguard rules in INPUT, entries in the live sets).
fn ipset_count(ns: &Netns, tools: &Tools) -> (usize, usize) {
    let mut rules = 0;
    for tool in tools.both() {
        rules += ns
            .run(&[tool, "-S", "INPUT"])
            .lines()
            .filter(|l| l.contains(&format!("--comment {NAME}")))
            .count();
    }
    let listing = ns.run(&["ipset", "list", "-t"]);
    let mut entries = 0;
    let mut ours = false;
    for line in listing.lines() {
        if let Some(name) = line.strip_prefix("Name: ") {
            ours = name == format!("{NAME}-v4") || name == format!("{NAME}-v6");
        } else if let Some(n) = line.strip_prefix("Number of entries: ")
            && ours
        {
            entries += n.trim().parse::<usize>().expect("count");
        }
    }
    (rules, entries)
}

/// Rules nobody but the administrator made: saslguard must leave them alone.
fn add_foreign_rules(ns: &Netns, tools: &Tools) {
    for tool in tools.both() {
        ns.run(&[
            tool, "-A", "INPUT", "-p", "tcp", "--dport", "9", "-j", "ACCEPT",
        ]);
    }
}

fn assert_foreign_rules_intact(ns: &Netns, tools: &Tools) {
    for tool in tools.both() {
        let listing = ns.run(&[tool, "-S", "INPUT"]);
        let n = listing
            .lines()
            .filter(|l| *l == "-A INPUT -p tcp -m tcp --dport 9 -j ACCEPT")
            .count();
        assert_eq!(n, 1, "{tool}: {listing}");
    }
}

fn ipset_scenario(test: &str, tools: &Tools) {
    let Some(mut ns) = Netns::new(test) else {
        return;
    };
    if !tools.available(test) {
        return;
    }
    add_foreign_rules(&ns, tools);
    let prefix = ns.prefix();
    scenario(
        &mut ns,
        |c| {
            Ipset::new(c).with_prefix(prefix.clone()).with_programs(
                "ipset",
                tools.iptables,
                tools.ip6tables,
            )
        },
        |c| {
            Ipset::new(c).with_prefix(prefix.clone()).with_programs(
                "saslguard-no-such-ipset",
                tools.iptables,
                tools.ip6tables,
            )
        },
        "saslguard-no-such-ipset",
        &|ns| ipset_count(ns, tools),
    );
    assert_eq!(ipset_count(&ns, tools), (2, 0));
    assert_foreign_rules_intact(&ns, tools);
    // No temporary set is left behind.
    let names = ns.run(&["ipset", "list", "-n"]);
    assert!(!names.contains("-tmp"), "{names}");
}

#[test]
fn ipset_blocks_unblocks_and_stays_single() {
    ipset_scenario("ipset_blocks_unblocks_and_stays_single", &DEFAULT_TOOLS);
}

#[test]
fn ipset_with_legacy_iptables() {
    ipset_scenario("ipset_with_legacy_iptables", &LEGACY_TOOLS);
}

#[test]
fn ipset_refusals_keep_the_previous_sets() {
    let Some(ns) = Netns::new("ipset_refusals_keep_the_previous_sets") else {
        return;
    };
    let target = Ipset::new(&config(&[25])).with_prefix(ns.prefix());
    let before = [entry("192.0.2.1/32", None), entry("2001:db8::1/128", None)];
    target.apply(&before, now()).expect("apply");
    let after = [entry("192.0.2.2/32", None)];

    // hash:net cannot hold /0: refused before anything runs.
    let err = target
        .apply(&[entry("0.0.0.0/0", None)], now())
        .expect_err("/0");
    assert!(format!("{err:#}").contains("/0"), "{err:#}");

    // `ipset restore` failing (here: a leftover temporary set that someone's rule uses,
    // so it cannot be destroyed) brings back ipset's message and leaves the live sets.
    let temp = format!("{NAME}-v4-tmp");
    ns.run(&["ipset", "create", &temp, "hash:net"]);
    ns.run(&[
        "iptables",
        "-A",
        "INPUT",
        "-m",
        "set",
        "--match-set",
        &temp,
        "src",
        "-j",
        "LOG",
    ]);
    let err = target.apply(&after, now()).expect_err("restore fails");
    assert!(format!("{err:#}").contains("in use"), "{err:#}");
    assert_eq!(target.current().expect("current"), nets(&before));
    assert_eq!(ipset_count(&ns, &DEFAULT_TOOLS), (2, 2));
    ns.run(&[
        "iptables",
        "-D",
        "INPUT",
        "-m",
        "set",
        "--match-set",
        &temp,
        "src",
        "-j",
        "LOG",
    ]);
    // Once the leftover is free, the next render removes it and goes through.
    target.apply(&after, now()).expect("apply");
    assert_eq!(target.current().expect("current"), nets(&after));
    assert!(!ns.run(&["ipset", "list", "-n"]).contains("-tmp"));

    // A set of another type under saslguard's name is reported, not replaced.
    let other = format!("{NAME}x");
    ns.run(&["ipset", "create", &format!("{other}-v4"), "hash:ip"]);
    let foreign = Ipset::new(&FirewallConfig {
        name: other.clone(),
        ..config(&[25])
    })
    .with_prefix(ns.prefix());
    let err = foreign.apply(&before, now()).expect_err("a foreign set");
    assert!(format!("{err:#}").contains("hash:ip"), "{err:#}");
    let names = ns.run(&["ipset", "list", "-n"]);
    assert!(!names.contains(&format!("{other}-v6")), "{names}");
}

// ------------------------------------------------------------------ iptables

/// (saslguard's chains and the jumps to them, the DROP rules in them), over both
/// families.
fn iptables_count(ns: &Netns, tools: &Tools) -> (usize, usize) {
    let mut counts = (0, 0);
    for tool in tools.both() {
        for line in ns.run(&[tool, "-S"]).lines() {
            if line == format!("-A INPUT -j {NAME}") || line == format!("-N {NAME}") {
                counts.0 += 1;
            } else if line.starts_with(&format!("-A {NAME} ")) {
                counts.1 += 1;
            }
        }
    }
    counts
}

fn iptables_scenario(test: &str, tools: &Tools) {
    let Some(mut ns) = Netns::new(test) else {
        return;
    };
    if !tools.available(test) {
        return;
    }
    add_foreign_rules(&ns, tools);
    let prefix = ns.prefix();
    scenario(
        &mut ns,
        |c| {
            Iptables::new(c).with_prefix(prefix.clone()).with_programs(
                tools.iptables,
                tools.ip6tables,
                tools.iptables_restore,
                tools.ip6tables_restore,
            )
        },
        // The IPv6 transaction fails after the IPv4 one succeeded: IPv4 is rolled back
        // (to no chain at all the first time).
        |c| {
            Iptables::new(c).with_prefix(prefix.clone()).with_programs(
                tools.iptables,
                tools.ip6tables,
                tools.iptables_restore,
                "saslguard-no-such-ip6tables-restore",
            )
        },
        "saslguard-no-such-ip6tables-restore",
        &|ns| iptables_count(ns, tools),
    );
    // Both chains stay, empty, jumped to once.
    assert_eq!(iptables_count(&ns, tools), (4, 0));
    assert_foreign_rules_intact(&ns, tools);
}

#[test]
fn iptables_blocks_unblocks_and_stays_single() {
    iptables_scenario("iptables_blocks_unblocks_and_stays_single", &DEFAULT_TOOLS);
}

#[test]
fn iptables_legacy_blocks_unblocks_and_stays_single() {
    iptables_scenario(
        "iptables_legacy_blocks_unblocks_and_stays_single",
        &LEGACY_TOOLS,
    );
}

// ------------------------------------------------------------------ everywhere

/// Without a prefix, the first command already fails, so nothing runs on this host.
#[test]
fn a_missing_program_is_named_before_anything_runs() {
    let wanted = [entry("192.0.2.1/32", None)];
    let targets: Vec<(Box<dyn Target>, &str)> = vec![
        (
            Box::new(Nftables::new(&config(&[25])).with_nft("saslguard-no-such-nft")),
            "saslguard-no-such-nft",
        ),
        (
            Box::new(Ipset::new(&config(&[25])).with_programs(
                "saslguard-no-such-ipset",
                "saslguard-no-such-iptables",
                "saslguard-no-such-ip6tables",
            )),
            "saslguard-no-such-ipset",
        ),
        (
            Box::new(Iptables::new(&config(&[25])).with_programs(
                "saslguard-no-such-iptables",
                "saslguard-no-such-ip6tables",
                "saslguard-no-such-iptables-restore",
                "saslguard-no-such-ip6tables-restore",
            )),
            "saslguard-no-such-iptables",
        ),
    ];
    for (target, program) in targets {
        for result in [
            target.apply(&wanted, 0).map(|_| ()),
            target.current().map(|_| ()),
            target.in_sync(&wanted).map(|_| ()),
        ] {
            let text = format!("{:#}", result.expect_err("must fail"));
            assert!(text.contains(&format!("{program} not found")), "{text}");
        }
    }
}

// ------------------------------------------------------------------ benchmark

/// `n` canonical, collapsed, sorted entries (`n` a multiple of 10): v4 hosts (half) and
/// /24s (a tenth), v6 hosts (three tenths) and /64s (a tenth), half of them with an end.
fn many_entries(now: i64, n: usize) -> Vec<Entry> {
    let mut state: u64 = 0x5a51_6a2d;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        state >> 33
    };
    let mut nets: BTreeSet<IpNet> = BTreeSet::new();
    // For 100,000: 50,000 v4 hosts in 11.0.0.0/8, 10,000 /24s in 12.0.0.0/8.
    while nets.len() < n / 2 {
        let host = 0x0b00_0000 | (next() as u32 & 0x00ff_ffff);
        nets.insert(IpNet::from(std::net::IpAddr::from(
            std::net::Ipv4Addr::from(host),
        )));
    }
    while nets.len() < n * 6 / 10 {
        let net = 0x0c00_0000 | (next() as u32 & 0x00ff_ff00);
        nets.insert(IpNet::new(std::net::Ipv4Addr::from(net).into(), 24).expect("net"));
    }
    // 30,000 v6 hosts in 2001:db8:1::/48, 10,000 /64s in 2001:db8:2::/48.
    while nets.len() < n * 9 / 10 {
        let host =
            (0x2001_0db8_0001_u128 << 80) | u128::from(next()) << 16 | u128::from(next() & 0xffff);
        nets.insert(IpNet::from(std::net::IpAddr::from(
            std::net::Ipv6Addr::from(host),
        )));
    }
    while nets.len() < n {
        let net = (0x2001_0db8_0002_u128 << 80) | u128::from(next() & 0xffff) << 64;
        nets.insert(IpNet::new(std::net::Ipv6Addr::from(net).into(), 64).expect("net"));
    }
    nets.into_iter()
        .enumerate()
        .map(|(i, network)| Entry {
            network,
            expires_at: (i % 2 == 0).then_some(now + 3600 + i as i64),
        })
        .collect()
}

fn bench<T: Target>(backend: &str, target: &T, wanted: &[Entry], now: i64) {
    let time = |what: &str, f: &mut dyn FnMut()| {
        let start = Instant::now();
        f();
        println!(
            "{backend:9} {what:28} {:8.3} s",
            start.elapsed().as_secs_f64()
        );
    };
    time("apply 100k (fresh)", &mut || {
        let diff = target.apply(wanted, now).expect("apply");
        assert_eq!(diff.added.len(), wanted.len());
    });
    time("in_sync (true)", &mut || {
        assert!(target.in_sync(wanted).expect("in_sync"));
    });
    time("current", &mut || {
        assert_eq!(target.current().expect("current").len(), wanted.len());
    });
    time("state_token (run's check)", &mut || {
        target.state_token().expect("token");
    });
    time("apply again (no change)", &mut || {
        assert!(target.apply(wanted, now).expect("apply").is_empty());
    });
    let changed: Vec<Entry> = wanted[1000..].to_vec();
    time("apply minus 1,000", &mut || {
        assert_eq!(
            target.apply(&changed, now).expect("apply").removed.len(),
            1000
        );
    });
    let thousand: Vec<Entry> = wanted[..1000].to_vec();
    time("apply 1,000", &mut || {
        target.apply(&thousand, now).expect("apply");
    });
    time("state_token at 1,000", &mut || {
        target.state_token().expect("token");
    });
    time("apply empty", &mut || {
        assert_eq!(
            target.apply(&[], now).expect("apply").removed.len(),
            thousand.len()
        );
    });
}

#[test]
#[ignore = "benchmark: cargo test --test firewall -- --ignored --nocapture"]
fn render_100k_entries_into_each_backend() {
    let now = now();
    let wanted = many_entries(now, 100_000);
    assert_eq!(wanted.len(), 100_000);
    let config = config(&[25, 465, 587]);
    {
        let Some(ns) = Netns::new("render_100k_entries_into_each_backend") else {
            return;
        };
        bench(
            "nftables",
            &Nftables::new(&config).with_prefix(ns.prefix()),
            &wanted,
            now,
        );
    }
    {
        let Some(ns) = Netns::new("render_100k_entries_into_each_backend") else {
            return;
        };
        bench(
            "ipset",
            &Ipset::new(&config).with_prefix(ns.prefix()),
            &wanted,
            now,
        );
    }
    {
        let Some(ns) = Netns::new("render_100k_entries_into_each_backend") else {
            return;
        };
        bench(
            "iptables",
            &Iptables::new(&config).with_prefix(ns.prefix()),
            &wanted,
            now,
        );
    }
}

// ------------------------------------------------------------------ large, in CI

/// Entries per backend in the large test that runs everywhere (the benchmark above takes
/// 100,000 by hand).
const LARGE: usize = 10_000;

/// What the kernel holds, read without saslguard: each network with the end it carries
/// (`Some(until)` from an nftables element's comment; `None` for a permanent one and for
/// backends that keep no ends).
type Held = std::collections::BTreeMap<IpNet, Option<i64>>;

/// A network as the firewall tools print it: a host without its `/32` or `/128`.
fn parse_listed(text: &str) -> IpNet {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .unwrap_or_else(|_| panic!("not a network: {text}"))
}

/// saslguard's nftables sets, from `nft -j list set`.
fn nft_held(ns: &Netns) -> Held {
    let network = |value: &Value| match value {
        Value::String(host) => parse_listed(host),
        _ => parse_listed(&format!(
            "{}/{}",
            value["prefix"]["addr"].as_str().expect("prefix address"),
            value["prefix"]["len"]
        )),
    };
    let mut held = Held::new();
    for set in ["v4", "v6"] {
        for element in nft_elements(ns, set) {
            let (net, until) = match element.get("elem") {
                Some(elem) => {
                    let until = elem["comment"].as_str().map(|c| {
                        c.strip_prefix("until=")
                            .and_then(|t| t.parse().ok())
                            .unwrap_or_else(|| panic!("comment {c}"))
                    });
                    assert_eq!(
                        elem["timeout"].is_number(),
                        until.is_some(),
                        "a timeout exactly with an end: {element}"
                    );
                    (network(&elem["val"]), until)
                }
                None => (network(&element), None),
            };
            assert!(held.insert(net, until).is_none(), "{net} twice");
        }
    }
    held
}

/// saslguard's live ipsets, from `ipset list`.
fn ipset_held(ns: &Netns) -> Held {
    let mut held = Held::new();
    for set in ["v4", "v6"] {
        let listing = ns.run(&["ipset", "list", &format!("{NAME}-{set}")]);
        let members = listing
            .split_once("Members:\n")
            .unwrap_or_else(|| panic!("no members in {listing}"))
            .1;
        for line in members.lines().filter(|l| !l.is_empty()) {
            let net = parse_listed(line.split(' ').next().expect("member"));
            assert!(held.insert(net, None).is_none(), "{net} twice");
        }
    }
    held
}

/// The DROP rules in saslguard's iptables and ip6tables chains, from `-S`, each exactly
/// the configured ports' rule.
fn iptables_held(ns: &Netns) -> Held {
    let mut held = Held::new();
    for tool in DEFAULT_TOOLS.both() {
        for rule in ns.run(&[tool, "-S", NAME]).lines() {
            if rule == format!("-N {NAME}") {
                continue;
            }
            let rest = rule
                .strip_prefix(&format!("-A {NAME} -s "))
                .unwrap_or_else(|| panic!("{tool}: {rule}"));
            let (net, action) = rest.split_once(' ').expect("rule");
            assert_eq!(
                action, "-p tcp -m multiport --dports 25,465,587 -j DROP",
                "{rule}"
            );
            let net = parse_listed(net);
            assert!(held.insert(net, None).is_none(), "{net} twice");
        }
    }
    held
}

/// What `held` must be for `wanted`: every network, with its end where the backend
/// keeps ends.
fn expected_held(wanted: &[Entry], keeps_ends: bool) -> Held {
    wanted
        .iter()
        .map(|e| (e.network, e.expires_at.filter(|_| keeps_ends)))
        .collect()
}

/// 10,000 entries into one backend: the kernel holds exactly them after the render,
/// still after an unchanged render, exactly the rest after some are removed, and
/// nothing after all are.
fn render_large<T: Target>(backend: &str, target: &T, held: &dyn Fn() -> Held, keeps_ends: bool) {
    let now = now();
    let wanted = many_entries(now, LARGE);
    assert_eq!(wanted.len(), LARGE);
    let start = Instant::now();

    let diff = target.apply(&wanted, now).expect("apply");
    assert_eq!(diff.added, nets(&wanted).into_iter().collect::<Vec<_>>());
    assert!(diff.removed.is_empty());
    assert_eq!(
        held(),
        expected_held(&wanted, keeps_ends),
        "{backend}: render"
    );
    assert!(target.in_sync(&wanted).expect("in_sync"), "{backend}");

    let diff = target.apply(&wanted, now).expect("apply unchanged");
    assert!(diff.is_empty(), "{backend}: {diff:?}");
    assert_eq!(
        held(),
        expected_held(&wanted, keeps_ends),
        "{backend}: unchanged"
    );

    // Every seventh entry goes, from both families, hosts and networks.
    let (gone, kept): (Vec<_>, Vec<_>) = wanted
        .iter()
        .cloned()
        .enumerate()
        .partition(|(i, _)| i % 7 == 0);
    let gone: Vec<Entry> = gone.into_iter().map(|(_, e)| e).collect();
    let kept: Vec<Entry> = kept.into_iter().map(|(_, e)| e).collect();
    let diff = target.apply(&kept, now).expect("apply minus some");
    assert!(diff.added.is_empty(), "{backend}: {:?}", diff.added);
    assert_eq!(diff.removed, nets(&gone).into_iter().collect::<Vec<_>>());
    assert_eq!(
        held(),
        expected_held(&kept, keeps_ends),
        "{backend}: removed"
    );

    let diff = target.apply(&[], now).expect("apply empty");
    assert_eq!(diff.removed.len(), kept.len());
    assert_eq!(held(), Held::new(), "{backend}: emptied");
    println!("{backend}: {LARGE} entries in {:?}", start.elapsed());
}

#[test]
fn render_10k_entries_into_nftables() {
    let Some(ns) = Netns::new("render_10k_entries_into_nftables") else {
        return;
    };
    let target = Nftables::new(&config(&[25, 465, 587])).with_prefix(ns.prefix());
    render_large("nftables", &target, &|| nft_held(&ns), true);
}

#[test]
fn render_10k_entries_into_ipset() {
    let Some(ns) = Netns::new("render_10k_entries_into_ipset") else {
        return;
    };
    let target = Ipset::new(&config(&[25, 465, 587])).with_prefix(ns.prefix());
    render_large("ipset", &target, &|| ipset_held(&ns), false);
}

#[test]
fn render_10k_entries_into_iptables() {
    let Some(ns) = Netns::new("render_10k_entries_into_iptables") else {
        return;
    };
    let target = Iptables::new(&config(&[25, 465, 587])).with_prefix(ns.prefix());
    render_large("iptables", &target, &|| iptables_held(&ns), false);
}
