//! Aggregation: when `aggregate_min` networks of one IPv6 /48 (or IPv4 /24) are blocked,
//! the whole /48 (/24) is blocked, and the map holds the aggregate instead of its members.

use crate::common;

use std::fs;

use common::{Env, failures};

const AS_OF: &str = "2026-11-27T01:00:00Z";

fn env_with_policy() -> Env {
    let env = Env::new();
    fs::write(
        &env.config,
        format!(
            "logs = [{:?}]\n[postfix]\nmap = {:?}\nreload_command = []\n[firewall]\nbackend = \"none\"\n\
             [policy]\naggregate_min = 3\n\
             [[policy.tier]]\ntarget = \"postfix\"\nthreshold = 2\nwindow = \"7d\"\nduration = \"1d\"\n",
            env.path("maillog").to_str().unwrap(),
            env.path("access").to_str().unwrap()
        ),
    )
    .unwrap();
    env
}

#[test]
fn three_blocked_64s_in_one_48_block_the_48() {
    let env = env_with_policy();
    let log = env.path("maillog");
    let mut text = String::new();
    for (i, ip) in [
        "2001:db8:1:1::1",
        "2001:db8:1:2::1",
        "2001:db8:1:3::1",
        "2001:db8:2:1::1",
        "198.51.100.1",
        "198.51.100.2",
        "203.0.113.1",
    ]
    .iter()
    .enumerate()
    {
        text.push_str(&failures(60 * i as i64, 2, ip));
    }
    fs::write(&log, text).unwrap();
    env.run_ok(&["run", "--as-of", AS_OF]);

    let blocks = env.json(&["blocks", "--format", "json", "--as-of", AS_OF]);
    let mut networks: Vec<&str> = blocks
        .as_array()
        .expect("blocks")
        .iter()
        .map(|b| b["network"].as_str().expect("network"))
        .collect();
    networks.sort();
    assert_eq!(
        networks,
        [
            "198.51.100.1/32",
            "198.51.100.2/32",
            "2001:db8:1:1::/64",
            "2001:db8:1:2::/64",
            "2001:db8:1:3::/64",
            "2001:db8:1::/48",
            "2001:db8:2:1::/64",
            "203.0.113.1/32",
        ],
        "two /32s in 198.51.100.0/24 are too few; three /64s in 2001:db8:1::/48 are enough"
    );
    let aggregate = blocks
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["network"] == "2001:db8:1::/48")
        .unwrap();
    assert_eq!(
        aggregate["reason"],
        "3 blocked networks inside 2001:db8:1::/48"
    );
    assert_eq!(
        aggregate["expires_at"], "2026-11-28T01:00:00Z",
        "its members' expiry"
    );

    let map = fs::read_to_string(env.path("access")).unwrap();
    let keys: Vec<&str> = map
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "198.51.100.1",
            "198.51.100.2",
            "203.0.113.1",
            "2001:db8:1::/48",
            "2001:db8:2:1::/64"
        ],
        "the /48 stands for its /64s"
    );
}
