//! The firewall through the real binary, for every backend, inside a network namespace
//! this test creates: after `saslguard run`, a blocked source cannot connect while
//! another can (IPv4 and IPv6); repeated runs keep rule and element counts constant;
//! after `unblock` and `run` the source connects again. Needs root, `ip`, `nft`,
//! `ipset`, `iptables` and python3; skips with a reason otherwise, fails under CI=true.

use crate::common;
use crate::common_netns;

use std::fs;

use common::{Env, append, failures};
use common_netns::Netns;
use serde_json::Value;

/// A namespace with a listener on port 25 and a saslguard config for `backend`.
fn setup(test: &str, backend: &str) -> Option<(Netns, Env)> {
    let mut ns = Netns::new(test)?;
    ns.listen(&[25]);
    let env = Env::new();
    let log = env.path("maillog");
    fs::write(&log, "").unwrap();
    fs::write(
        &env.config,
        format!(
            "logs = [{log:?}]\n\
             [postfix]\nmap = {map:?}\nreload_command = []\n\
             [firewall]\nbackend = \"{backend}\"\nname = \"sgtest\"\n\
             [policy]\nipv6_prefix = 128\n\
             [[policy.tier]]\ntarget = \"firewall\"\nthreshold = 3\nwindow = \"1d\"\nduration = \"1d\"\n\
             [allow]\nloopback = false\n",
            log = log.to_str().unwrap(),
            map = env.path("access").to_str().unwrap(),
        ),
    )
    .unwrap();
    Some((ns, env))
}

/// Runs saslguard inside the namespace, so its firewall commands act there.
fn saslguard(ns: &Netns, env: &Env, args: &[&str]) -> String {
    let binary = env!("CARGO_BIN_EXE_saslguard");
    let db = env.db.to_str().unwrap();
    let config = env.config.to_str().unwrap();
    let mut argv = vec![binary, "--db", db, "--config", config];
    argv.extend_from_slice(args);
    let (ok, stdout, stderr) = ns.try_run(&argv);
    assert!(ok, "saslguard {args:?} failed: {stderr}");
    stdout
}

/// [127.0.0.2, 127.0.0.3, fd00:5a51::2, fd00:5a51::3] -> port 25: which connect.
fn probe(ns: &Netns) -> Vec<bool> {
    ns.probe(&[
        ("127.0.0.2", "127.0.0.1", 25),
        ("127.0.0.3", "127.0.0.1", 25),
        ("fd00:5a51::2", "fd00:5a51::1", 25),
        ("fd00:5a51::3", "fd00:5a51::1", 25),
    ])
}

/// (saslguard's rules, saslguard's elements or per-network rules) in the namespace.
fn counts(ns: &Netns, backend: &str) -> (usize, usize) {
    match backend {
        "nftables" => {
            let json: Value =
                serde_json::from_str(&ns.run(&["nft", "-j", "list", "ruleset"])).unwrap();
            let items = json["nftables"].as_array().unwrap();
            let ours = |item: &Value, kind: &str| item[kind]["table"] == "sgtest";
            let rules = items.iter().filter(|i| ours(i, "rule")).count();
            let elements = items
                .iter()
                .filter(|i| ours(i, "set"))
                .map(|i| i["set"]["elem"].as_array().map_or(0, Vec::len))
                .sum();
            (rules, elements)
        }
        "ipset" => {
            let sets = ns.run(&["ipset", "list", "-t"]);
            let elements = sets
                .lines()
                .filter_map(|l| l.strip_prefix("Number of entries: "))
                .map(|n| n.trim().parse::<usize>().unwrap())
                .sum();
            let rules = ["iptables", "ip6tables"]
                .iter()
                .map(|tool| {
                    ns.run(&[tool, "-S", "INPUT"])
                        .matches("match-set sgtest")
                        .count()
                })
                .sum();
            (rules, elements)
        }
        _ => {
            let mut rules = 0;
            let mut per_network = 0;
            for tool in ["iptables", "ip6tables"] {
                let text = ns.run(&[tool, "-S"]);
                rules += text.lines().filter(|l| *l == "-A INPUT -j sgtest").count();
                per_network += text.lines().filter(|l| l.starts_with("-A sgtest ")).count();
            }
            (rules, per_network)
        }
    }
}

fn scenario(test: &str, backend: &str) {
    let Some((ns, env)) = setup(test, backend) else {
        return;
    };
    assert_eq!(probe(&ns), [true, true, true, true], "before any block");
    let log = env.path("maillog");
    append(
        &log,
        &(failures(0, 5, "127.0.0.2") + &failures(0, 5, "fd00:5a51::2")),
    );
    let as_of = "2026-11-27T01:00:00Z";
    saslguard(&ns, &env, &["run", "--as-of", as_of]);
    assert_eq!(
        probe(&ns),
        [false, true, false, true],
        "{backend}: after run"
    );
    let after_first = counts(&ns, backend);
    assert_eq!(
        after_first.1, 2,
        "{backend}: one element per blocked address"
    );
    for _ in 0..2 {
        saslguard(&ns, &env, &["run", "--as-of", as_of]);
        saslguard(&ns, &env, &["render", "--as-of", as_of]);
        assert_eq!(counts(&ns, backend), after_first, "{backend}: counts drift");
    }
    // Someone flushes the firewall: status sees it, run repairs it.
    let flush: &[&[&str]] = match backend {
        "nftables" => &[&["nft", "flush", "ruleset"]],
        _ => &[&["iptables", "-F"], &["ip6tables", "-F"]],
    };
    for command in flush {
        ns.run(command);
    }
    // Not in sync: status says so in its exit status too.
    let (ok, stdout, stderr) = ns.try_run(&[
        env!("CARGO_BIN_EXE_saslguard"),
        "--db",
        env.db.to_str().unwrap(),
        "--config",
        env.config.to_str().unwrap(),
        "status",
        "--format",
        "json",
        "--as-of",
        as_of,
    ]);
    assert!(!ok && stderr.contains("not in sync"), "{backend}: {stderr}");
    let status: Value = serde_json::from_str(&stdout).unwrap();
    let firewall = status["places"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["target"] == "firewall")
        .unwrap()
        .clone();
    // ipset's sets survive a flush of the rules, but their rules do not.
    assert_eq!(firewall["in_sync"], false, "{backend}: {firewall}");
    saslguard(&ns, &env, &["run", "--as-of", as_of]);
    assert_eq!(
        probe(&ns),
        [false, true, false, true],
        "{backend}: after repair"
    );
    assert_eq!(
        counts(&ns, backend),
        after_first,
        "{backend}: repaired counts"
    );
    // Unblock both and run: they connect again.
    saslguard(&ns, &env, &["unblock", "127.0.0.2", "--as-of", as_of]);
    saslguard(&ns, &env, &["unblock", "fd00:5a51::2", "--as-of", as_of]);
    saslguard(&ns, &env, &["run", "--as-of", as_of]);
    assert_eq!(
        probe(&ns),
        [true, true, true, true],
        "{backend}: after unblock"
    );
    assert_eq!(counts(&ns, backend).1, 0, "{backend}: no elements left");
}

#[test]
fn nftables_run_blocks_and_unblock_lets_them_back() {
    scenario("nftables_run_blocks_and_unblock_lets_them_back", "nftables");
}

#[test]
fn ipset_run_blocks_and_unblock_lets_them_back() {
    scenario("ipset_run_blocks_and_unblock_lets_them_back", "ipset");
}

#[test]
fn iptables_run_blocks_and_unblock_lets_them_back() {
    scenario("iptables_run_blocks_and_unblock_lets_them_back", "iptables");
}

#[test]
fn a_missing_firewall_binary_is_a_clear_error_and_the_database_is_kept() {
    let env = Env::new();
    fs::write(
        &env.config,
        format!(
            "[postfix]\nmap = {:?}\nreload_command = []\n[firewall]\nbackend = \"nftables\"\n",
            env.path("access").to_str().unwrap()
        ),
    )
    .unwrap();
    env.cmd()
        .args(["block", "203.0.113.7", "--target", "firewall"])
        .assert()
        .success();
    let output = env
        .cmd()
        .env("PATH", env.path("empty-path"))
        .arg("render")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("nft") && stderr.contains("not found"),
        "{stderr}"
    );
    assert_eq!(
        env.sql_count("SELECT count(*) FROM renders WHERE place = 'nftables'"),
        0
    );
    assert_eq!(
        env.sql_count("SELECT count(*) FROM blocks WHERE ended_at IS NULL"),
        1
    );
}
