//! The `nftables` firewall target: a table of saslguard's own, `inet NAME`, with two
//! interval sets (`v4`, `v6`) and one input chain dropping their members' traffic.
//!
//! Every render is one `nft -f -` transaction that declares the table, deletes it and
//! declares it again in full (`table inet NAME {}` / `delete table inet NAME` /
//! `table inet NAME { ... }`): atomic (the kernel applies all of it or nothing, packets
//! never see a half-written set), idempotent, and it works whether or not the table
//! existed. Nothing outside the table is touched.
//!
//! The sets have `flags interval, timeout`: networks of any prefix length, and per
//! element a `timeout` of the remaining block time, so the kernel lifts expired blocks
//! even when saslguard stops running; permanent blocks have no timeout. (Verified with
//! nft 1.0.6 on Linux 6.x: intervals and timeouts combine. nft rejects timeouts from
//! 100000000s up, so timeouts are capped at [`MAX_TIMEOUT_SECS`]; such an entry drops
//! out of the kernel after 1000 days and the next render puts it back.)
//!
//! Each element also carries `comment "until=UNIX"` (its `expires_at`), so whether the
//! kernel holds what is wanted can be decided without a clock and despite the remaining
//! times shrinking: same networks with the same ends is in sync, and a changed end (a
//! block extended) re-renders. The rules carry a comment naming the rendered layout and
//! ports, so a changed `firewall.ports` re-renders too.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;

use anyhow::{Context, bail};
use ipnet::IpNet;
use serde_json::Value;

use super::base::{Exec, Family, check_name, digest, normalized_ports, port_list};
use super::{Backend, Firewall, Probe};
use crate::config::FirewallConfig;
use crate::render::{Diff, Entry, Target};

/// Longest element timeout rendered, in seconds (1000 days): nft 1.0.6 refuses
/// `timeout 100000000s` ("value too large").
pub const MAX_TIMEOUT_SECS: i64 = 1000 * 86_400;

/// Version of the rendered layout, in the rule comments: a new layout re-renders.
const LAYOUT: &str = "saslguard/1";

/// Renders blocks into the nftables table `inet NAME`.
#[derive(Debug, Clone)]
pub struct Nftables {
    name: String,
    ports: Vec<u16>,
    exec: Exec,
    nft: String,
}

/// saslguard's table as the kernel holds it.
#[derive(Debug, Default, PartialEq, Eq)]
struct Table {
    /// Each set element with its comment.
    elements: BTreeMap<IpNet, Option<String>>,
    /// Whether sets `v4` and `v6` exist with the right type and flags.
    sets_ok: bool,
    /// Every chain: (name, type, hook, priority, policy) as `nft -j` lists them.
    chains: Vec<Value>,
    /// Every rule, in order: (chain, comment, expressions) as `nft -j` lists them.
    rules: Vec<(String, String, Value)>,
}

impl Nftables {
    /// A target for the table `inet config.name`, dropping TCP to `config.ports`
    /// (everything when empty) from blocked networks, using `nft` from `PATH`.
    pub fn new(config: &FirewallConfig) -> Self {
        Nftables {
            name: config.name.clone(),
            ports: normalized_ports(&config.ports),
            exec: Exec::default(),
            nft: "nft".to_string(),
        }
    }

    /// Runs every command as `PREFIX... nft ARGS...`, for example behind
    /// `["ip", "netns", "exec", "NS"]` to act inside a network namespace (tests).
    pub fn with_prefix<I, S>(mut self, prefix: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.exec = Exec::new(prefix);
        self
    }

    /// Uses this program instead of `nft`.
    pub fn with_nft(mut self, program: &str) -> Self {
        self.nft = program.to_string();
        self
    }

    /// The `nft -f -` script that makes the table hold exactly `wanted`, with timeouts
    /// counted from `now` (unix seconds).
    pub fn script(&self, wanted: &[Entry], now: i64) -> String {
        let name = &self.name;
        let mut script = String::with_capacity(1024 + wanted.len() * 64);
        let _ = write!(
            script,
            "table inet {name} {{}}\ndelete table inet {name}\ntable inet {name} {{\n"
        );
        for (family, kind) in [(Family::V4, "ipv4_addr"), (Family::V6, "ipv6_addr")] {
            let _ = write!(
                script,
                "\tset {} {{\n\t\ttype {kind}\n\t\tflags interval, timeout\n",
                family.suffix()
            );
            let mut first = true;
            for entry in wanted.iter().filter(|e| Family::of(&e.network) == family) {
                script.push_str(if first {
                    "\t\telements = {\n\t\t\t"
                } else {
                    ",\n\t\t\t"
                });
                first = false;
                let _ = write!(script, "{}", entry.network);
                if let Some(until) = entry.expires_at {
                    let timeout = until.saturating_sub(now).clamp(1, MAX_TIMEOUT_SECS);
                    let _ = write!(script, " timeout {timeout}s comment \"until={until}\"");
                }
            }
            if !first {
                script.push_str("\n\t\t}\n");
            }
            script.push_str("\t}\n");
        }
        let _ = writeln!(
            script,
            "\tchain input {{\n\t\ttype filter hook input priority -10; policy accept;"
        );
        for (family, match_) in [(Family::V4, "ip"), (Family::V6, "ip6")] {
            let set = family.suffix();
            let ports = if self.ports.is_empty() {
                String::new()
            } else {
                let list: Vec<String> = self.ports.iter().map(u16::to_string).collect();
                format!("tcp dport {{ {} }} ", list.join(", "))
            };
            let comment = self.rule_comment(family);
            let _ = writeln!(
                script,
                "\t\t{match_} saddr @{set} {ports}drop comment \"{comment}\""
            );
        }
        script.push_str("\t}\n}\n");
        script
    }

    /// `saslguard/1 v4 tcp dport 25,465,587` or `saslguard/1 v6 all`.
    fn rule_comment(&self, family: Family) -> String {
        let what = if self.ports.is_empty() {
            "all".to_string()
        } else {
            format!("tcp dport {}", port_list(&self.ports))
        };
        format!("{LAYOUT} {} {what}", family.suffix())
    }

    /// The table as `nft -j list table` prints it, or `None` when it does not exist.
    fn listing(&self) -> anyhow::Result<Option<String>> {
        let name = self.name.as_str();
        let (ok, out) = self
            .exec
            .run_status(&self.nft, &["-j", "list", "table", "inet", name], None)
            .with_context(|| format!("nftables: cannot read table inet {name}"))?;
        if ok {
            return Ok(Some(out.stdout));
        }
        // Tell a missing table from a failure without matching nft's error texts.
        let tables = self
            .exec
            .run(&self.nft, &["-j", "list", "tables"], None)
            .context("nftables: cannot list the tables")?;
        if !lists_table(&tables.stdout, name)? {
            return Ok(None);
        }
        bail!(
            "nftables: {} -j list table inet {name} failed: {}",
            self.nft,
            out.stderr.trim()
        );
    }

    /// The table, or `None` when it does not exist.
    fn read(&self) -> anyhow::Result<Option<Table>> {
        let name = self.name.as_str();
        match self.listing()? {
            None => Ok(None),
            Some(json) => parse_table(&json, name)
                .map(Some)
                .with_context(|| format!("nftables: cannot read table inet {name}")),
        }
    }

    /// The one chain saslguard renders, as `nft -j` lists it (without its handle).
    fn wanted_chain(&self) -> Value {
        serde_json::json!({
            "family": "inet", "table": self.name, "name": "input",
            "type": "filter", "hook": "input", "prio": -10, "policy": "accept"
        })
    }

    /// The expressions of a family's rule as `nft -j` lists them: `ip saddr @v4`,
    /// `tcp dport { PORTS }` (a bare number for one port) unless all ports, `drop`.
    fn wanted_expr(&self, family: Family) -> Value {
        let protocol = match family {
            Family::V4 => "ip",
            Family::V6 => "ip6",
        };
        let mut expr = vec![serde_json::json!({"match": {"op": "==",
            "left": {"payload": {"protocol": protocol, "field": "saddr"}},
            "right": format!("@{}", family.suffix())}})];
        let ports = match self.ports.as_slice() {
            [] => None,
            [port] => Some(serde_json::json!(port)),
            ports => Some(serde_json::json!({ "set": ports })),
        };
        if let Some(ports) = ports {
            expr.push(serde_json::json!({"match": {"op": "==",
                "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                "right": ports}}));
        }
        expr.push(serde_json::json!({"drop": null}));
        Value::Array(expr)
    }

    /// Whether `table` (the kernel's) holds exactly `wanted` in the current layout: the
    /// sets, the one chain with its hook, exactly saslguard's rules (what they match and
    /// do, not only their comments), and every element with its end.
    fn satisfied(&self, table: Option<&Table>, wanted: &[Entry]) -> bool {
        let Some(table) = table else {
            return wanted.is_empty();
        };
        let rules: Vec<(String, String, Value)> = Family::ALL
            .iter()
            .map(|f| {
                (
                    "input".to_string(),
                    self.rule_comment(*f),
                    self.wanted_expr(*f),
                )
            })
            .collect();
        table.sets_ok
            && table.chains == [self.wanted_chain()]
            && table.rules == rules
            && table.elements.len() == wanted.len()
            && wanted.iter().all(|e| {
                table.elements.get(&e.network) == Some(&e.expires_at.map(|t| format!("until={t}")))
            })
    }
}

impl Target for Nftables {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn current(&self) -> anyhow::Result<BTreeSet<IpNet>> {
        check_name(&self.name)?;
        Ok(self
            .read()?
            .map(|t| t.elements.into_keys().collect())
            .unwrap_or_default())
    }

    fn in_sync(&self, wanted: &[Entry]) -> anyhow::Result<bool> {
        check_name(&self.name)?;
        Ok(self.satisfied(self.read()?.as_ref(), wanted))
    }

    /// A digest of the whole table as the kernel lists it (sets, every element with its
    /// comment, chain, rules), leaving out only what changes by itself (each element's
    /// `expires`, the time left), after the settings that shape the rules (layout, name,
    /// ports). Any change to saslguard's table (a flushed set, one element deleted or
    /// added, flushed or edited rules, a deleted chain or table) or to the ports gives
    /// another token, so `run` looks closer and repairs it.
    ///
    /// It costs one full listing: nft reads every element of the table for any listing
    /// (about 1 s at 100,000 elements, a few ms at 1,000); a cheaper probe (`nft --check`)
    /// cannot see single elements.
    fn state_token(&self) -> anyhow::Result<Option<String>> {
        check_name(&self.name)?;
        let settings = format!(
            "{LAYOUT} inet {} {}",
            self.name,
            self.rule_comment(Family::V4)
        );
        let digest = match self.listing()? {
            None => "absent".to_string(),
            Some(json) => digest(&without_expires(&json)),
        };
        Ok(Some(format!("{settings}: {digest}")))
    }

    /// Rewrites the table unless it already holds `wanted` with the same ends. A change
    /// of ends only (a block extended) rewrites too, with an empty [`Diff`].
    fn apply(&self, wanted: &[Entry], now: i64) -> anyhow::Result<Diff> {
        check_name(&self.name)?;
        let table = self.read()?;
        if self.satisfied(table.as_ref(), wanted) {
            return Ok(Diff::default());
        }
        let current: BTreeSet<IpNet> = table
            .map(|t| t.elements.into_keys().collect())
            .unwrap_or_default();
        let script = self.script(wanted, now);
        self.exec
            .run(&self.nft, &["-f", "-"], Some(script.as_bytes()))
            .with_context(|| format!("nftables: table inet {} was left as it was", self.name))?;
        let wanted: BTreeSet<IpNet> = wanted.iter().map(|e| e.network).collect();
        Ok(Diff::between(&current, &wanted))
    }
}

/// `nft -j` output without the `"expires": N` of each element (the time left, which
/// shrinks by itself): a plain scan, as parsing the JSON of 100,000 elements costs more
/// than nft's listing itself. A comment cannot fake the key: its quotes are escaped.
fn without_expires(json: &str) -> String {
    const KEY: &str = "\"expires\":";
    let mut out = String::with_capacity(json.len());
    let mut rest = json;
    while let Some(at) = rest.find(KEY) {
        out.push_str(&rest[..at]);
        rest = rest[at + KEY.len()..]
            .trim_start_matches([' ', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    }
    out.push_str(rest);
    out
}

impl Firewall for Nftables {
    /// Lists the `input` chain of saslguard's table: hooked when it declares `hook input`.
    fn probe(&self) -> Probe {
        let listing = self.exec.run_status(
            &self.nft,
            &["list", "chain", "inet", &self.name, "input"],
            None,
        );
        Probe::from_listing(listing, "nftables", |out| out.contains("hook input"))
    }

    /// Whether the table `inet NAME` exists.
    fn present(&self) -> anyhow::Result<bool> {
        check_name(&self.name)?;
        let tables = self
            .exec
            .run(&self.nft, &["-j", "list", "tables"], None)
            .context("nftables: cannot list the tables")?;
        lists_table(&tables.stdout, &self.name)
    }

    /// Deletes the table `inet NAME` (its sets, chain and rules with it).
    fn teardown(&self) -> anyhow::Result<()> {
        if self.present()? {
            let name = self.name.as_str();
            self.exec
                .run(&self.nft, &["delete", "table", "inet", name], None)
                .with_context(|| format!("nftables: cannot delete table inet {name}"))?;
        }
        Ok(())
    }
}

/// Removes `key` from every object inside `value`.
fn drop_key(value: &mut Value, key: &str) {
    match value {
        Value::Object(map) => {
            map.remove(key);
            map.values_mut().for_each(|v| drop_key(v, key));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| drop_key(v, key)),
        _ => {}
    }
}

/// The objects of `nft -j` output.
fn objects(json: &str) -> anyhow::Result<Vec<Value>> {
    let mut value: Value = serde_json::from_str(json).context("nft printed invalid JSON")?;
    match value.get_mut("nftables").map(Value::take) {
        Some(Value::Array(objects)) => Ok(objects),
        _ => bail!("nft printed JSON without an \"nftables\" array"),
    }
}

fn lists_table(json: &str, name: &str) -> anyhow::Result<bool> {
    Ok(objects(json)?.iter().any(|o| {
        o.get("table").is_some_and(|t| {
            t.get("family").and_then(Value::as_str) == Some("inet")
                && t.get("name").and_then(Value::as_str) == Some(name)
        })
    }))
}

fn parse_table(json: &str, name: &str) -> anyhow::Result<Table> {
    let mut table = Table::default();
    let mut sets = 0;
    for object in objects(json)? {
        if let Some(set) = object.get("set") {
            let kind = set.get("type").and_then(Value::as_str);
            let (set_name, expected) = match set.get("name").and_then(Value::as_str) {
                Some("v4") => ("v4", "ipv4_addr"),
                Some("v6") => ("v6", "ipv6_addr"),
                _ => continue,
            };
            let flags: Vec<&str> = set
                .get("flags")
                .and_then(Value::as_array)
                .map(|f| f.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if kind == Some(expected) && flags.contains(&"interval") && flags.contains(&"timeout") {
                sets += 1;
            }
            for elem in set
                .get("elem")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                parse_element(elem, &mut table.elements).with_context(|| {
                    format!("unexpected element {elem} in set inet {name} {set_name}")
                })?;
            }
        } else if let Some(chain) = object.get("chain") {
            let mut chain = chain.clone();
            drop_key(&mut chain, "handle");
            table.chains.push(chain);
        } else if let Some(rule) = object.get("rule") {
            let text = |key: &str| rule.get(key).and_then(Value::as_str).unwrap_or_default();
            table.rules.push((
                text("chain").to_string(),
                text("comment").to_string(),
                rule.get("expr").cloned().unwrap_or(Value::Null),
            ));
        }
    }
    table.sets_ok = sets == 2;
    Ok(table)
}

/// One element of a set listing: `"1.2.3.4"`, `{"prefix": ...}`, `{"range": ...}`, or
/// `{"elem": {"val": ..., "timeout": ..., "comment": ...}}`.
fn parse_element(elem: &Value, out: &mut BTreeMap<IpNet, Option<String>>) -> anyhow::Result<()> {
    let (value, comment) = match elem.get("elem") {
        Some(inner) => (
            inner.get("val").unwrap_or(&Value::Null),
            inner
                .get("comment")
                .and_then(Value::as_str)
                .map(str::to_string),
        ),
        None => (elem, None),
    };
    for net in networks(value)? {
        out.insert(net, comment.clone());
    }
    Ok(())
}

fn networks(value: &Value) -> anyhow::Result<Vec<IpNet>> {
    let addr = |v: &Value| -> anyhow::Result<IpAddr> {
        let text = v.as_str().context("not an address")?;
        text.parse()
            .with_context(|| format!("{text:?} is not an address"))
    };
    if value.is_string() {
        return Ok(vec![IpNet::from(addr(value)?)]);
    }
    if let Some(prefix) = value.get("prefix") {
        let len = prefix
            .get("len")
            .and_then(Value::as_u64)
            .and_then(|n| u8::try_from(n).ok())
            .context("bad prefix length")?;
        let net = IpNet::new(addr(prefix.get("addr").unwrap_or(&Value::Null))?, len)?;
        return Ok(vec![net.trunc()]);
    }
    if let Some([low, high]) = value
        .get("range")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        return range_networks(addr(low)?, addr(high)?);
    }
    bail!("not an address, prefix or range")
}

/// The fewest networks covering `low..=high` (ranges appear only if someone else added
/// one to saslguard's set; saslguard itself renders prefixes).
fn range_networks(low: IpAddr, high: IpAddr) -> anyhow::Result<Vec<IpNet>> {
    let (low, high, bits) = match (low, high) {
        (IpAddr::V4(l), IpAddr::V4(h)) => (u128::from(u32::from(l)), u128::from(u32::from(h)), 32),
        (IpAddr::V6(l), IpAddr::V6(h)) => (u128::from(l), u128::from(h), 128),
        _ => bail!("range mixes address families"),
    };
    let to_net = |start: u128, len: u32| -> anyhow::Result<IpNet> {
        let addr = if bits == 32 {
            IpAddr::from(std::net::Ipv4Addr::from(u32::try_from(start)?))
        } else {
            IpAddr::from(std::net::Ipv6Addr::from(start))
        };
        Ok(IpNet::new(addr, u8::try_from(len)?)?)
    };
    // The last address of the block of 2^k addresses starting at aligned `start`.
    let block_end = |start: u128, k: u32| {
        if k >= 128 {
            u128::MAX
        } else {
            start | ((1u128 << k) - 1)
        }
    };
    let mut nets = Vec::new();
    let mut start = low;
    while start <= high {
        // The largest aligned block at `start` that ends within the range.
        let mut k = start.trailing_zeros().min(bits);
        while k > 0 && block_end(start, k) > high {
            k -= 1;
        }
        nets.push(to_net(start, bits - k)?);
        let end = block_end(start, k);
        if end >= high {
            break;
        }
        start = end + 1;
    }
    Ok(nets)
}

impl Backend for Nftables {
    const NAME: &'static str = "nftables";

    fn new(config: &FirewallConfig) -> Self {
        Nftables::new(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(net: &str, expires_at: Option<i64>) -> Entry {
        Entry::parse(net, expires_at)
    }

    #[test]
    fn the_script_recreates_the_table_with_remaining_timeouts() {
        let target = Nftables::new(&FirewallConfig::default());
        let script = target.script(
            &[
                entry("192.0.2.0/24", Some(1_000_600)),
                entry("198.51.100.7/32", None),
                entry("2001:db8::/32", Some(999_000)),
            ],
            1_000_000,
        );
        assert_eq!(
            script,
            "table inet saslguard {}\ndelete table inet saslguard\ntable inet saslguard {\n\
             \tset v4 {\n\t\ttype ipv4_addr\n\t\tflags interval, timeout\n\t\telements = {\n\
             \t\t\t192.0.2.0/24 timeout 600s comment \"until=1000600\",\n\
             \t\t\t198.51.100.7/32\n\t\t}\n\t}\n\
             \tset v6 {\n\t\ttype ipv6_addr\n\t\tflags interval, timeout\n\t\telements = {\n\
             \t\t\t2001:db8::/32 timeout 1s comment \"until=999000\"\n\t\t}\n\t}\n\
             \tchain input {\n\t\ttype filter hook input priority -10; policy accept;\n\
             \t\tip saddr @v4 tcp dport { 25, 465, 587 } drop comment \"saslguard/1 v4 tcp dport 25,465,587\"\n\
             \t\tip6 saddr @v6 tcp dport { 25, 465, 587 } drop comment \"saslguard/1 v6 tcp dport 25,465,587\"\n\
             \t}\n}\n"
        );
        let all = Nftables::new(&FirewallConfig {
            ports: vec![],
            ..FirewallConfig::default()
        });
        let script = all.script(&[], 0);
        assert!(!script.contains("elements"), "{script}");
        assert!(script.contains("\t\tip saddr @v4 drop comment \"saslguard/1 v4 all\"\n"));
    }

    #[test]
    fn listings_are_read_back() {
        let json = r#"{"nftables": [{"metainfo": {"version": "1.0.6"}},
            {"table": {"family": "inet", "name": "sg", "handle": 2}},
            {"set": {"family": "inet", "name": "v4", "table": "sg", "type": "ipv4_addr",
              "flags": ["interval", "timeout"], "elem": [
                {"prefix": {"addr": "10.0.0.0", "len": 8}},
                {"elem": {"val": "127.0.0.2", "timeout": 100, "expires": 99, "comment": "until=7"}},
                {"elem": {"val": {"prefix": {"addr": "192.168.1.0", "len": 24}}, "timeout": 5}},
                "203.0.113.9",
                {"range": ["198.51.100.1", "198.51.100.6"]}]}},
            {"set": {"family": "inet", "name": "v6", "table": "sg", "type": "ipv6_addr",
              "flags": ["interval", "timeout"]}},
            {"chain": {"family": "inet", "table": "sg", "name": "input"}},
            {"rule": {"family": "inet", "table": "sg", "chain": "input", "comment": "x"}}]}"#;
        let table = parse_table(json, "sg").unwrap();
        assert!(table.sets_ok);
        assert_eq!(table.rules.len(), 1);
        assert_eq!(
            (table.rules[0].0.as_str(), table.rules[0].1.as_str()),
            ("input", "x")
        );
        assert_eq!(table.chains.len(), 1);
        let nets: Vec<String> = table.elements.keys().map(ToString::to_string).collect();
        assert_eq!(
            nets,
            [
                "10.0.0.0/8",
                "127.0.0.2/32",
                "192.168.1.0/24",
                "198.51.100.1/32",
                "198.51.100.2/31",
                "198.51.100.4/31",
                "198.51.100.6/32",
                "203.0.113.9/32"
            ]
        );
        assert_eq!(
            table.elements[&"127.0.0.2/32".parse().unwrap()],
            Some("until=7".to_string())
        );
        assert!(lists_table(json, "sg").unwrap());
        assert!(!lists_table(json, "other").unwrap());
    }

    #[test]
    fn the_token_ignores_only_the_time_left() {
        let a = r#"{"elem": {"val": "192.0.2.1", "timeout": 600, "expires": 599, "comment": "until=7"}}"#;
        let b = r#"{"elem": {"val": "192.0.2.1", "timeout": 600, "expires": 12, "comment": "until=7"}}"#;
        let c = r#"{"elem": {"val": "192.0.2.2", "timeout": 600, "expires": 12, "comment": "until=7"}}"#;
        assert_eq!(without_expires(a), without_expires(b));
        assert_ne!(without_expires(b), without_expires(c));
        assert_eq!(
            without_expires(a),
            r#"{"elem": {"val": "192.0.2.1", "timeout": 600, , "comment": "until=7"}}"#
        );
    }

    #[test]
    fn whole_ranges_become_one_network() {
        let all6 = range_networks(
            "::".parse().unwrap(),
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap(),
        )
        .unwrap();
        assert_eq!(all6, ["::/0".parse::<IpNet>().unwrap()]);
        let all4 = range_networks(
            "0.0.0.0".parse().unwrap(),
            "255.255.255.255".parse().unwrap(),
        )
        .unwrap();
        assert_eq!(all4, ["0.0.0.0/0".parse::<IpNet>().unwrap()]);
        let top = range_networks(
            "255.255.255.254".parse().unwrap(),
            "255.255.255.255".parse().unwrap(),
        )
        .unwrap();
        assert_eq!(top, ["255.255.255.254/31".parse::<IpNet>().unwrap()]);
    }
}
