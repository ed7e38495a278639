//! The `ipset` firewall target: two sets, `NAME-v4` (`hash:net family inet`) and
//! `NAME-v6` (`hash:net family inet6`), each matched by one DROP rule at the top of
//! INPUT in iptables and ip6tables.
//!
//! The sets are rewritten by one `ipset restore` that fills temporary sets
//! (`NAME-v4-tmp`, `NAME-v6-tmp`) and only then swaps them with the live ones and
//! destroys them: packets see the old set or the new one, never a half-filled one, and
//! a failing `add` leaves the live sets untouched. Missing live sets are created (empty)
//! in the same run.
//!
//! The rules carry `-m comment --comment NAME`, so saslguard recognises its own rules:
//! a rule of saslguard's for the same set but other ports (after `firewall.ports`
//! changed) is removed, a missing one is added with `-C` before `-I`. Rules without
//! that comment are never touched. Entries carry no timeouts here.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use anyhow::{Context, bail};
use ipnet::IpNet;

use super::base::{
    Exec, Family, LOCK_WAIT_SECS, check_multiport, check_name, digest, normalized_ports, parse_net,
    port_list, set_name,
};
use super::{Backend, Firewall, Probe};
use crate::config::FirewallConfig;
use crate::render::{Diff, Entry, Target};

/// Renders blocks into ipset sets matched by one iptables/ip6tables rule per family.
#[derive(Debug, Clone)]
pub struct Ipset {
    name: String,
    ports: Vec<u16>,
    max_entries: usize,
    exec: Exec,
    ipset: String,
    iptables: String,
    ip6tables: String,
}

/// One set as `ipset list -t` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SetHeader {
    kind: String,
    family: String,
    entries: usize,
}

/// saslguard's INPUT rules of one family, as `iptables -S INPUT` shows them.
#[derive(Debug, Default)]
struct Rules {
    /// How many copies of the wanted rule there are.
    wanted: usize,
    /// saslguard's other rules for this set (other ports), as arguments for `-D INPUT`.
    stale: Vec<Vec<String>>,
}

impl SetHeader {
    /// The header as stable text for the state token (`hash:net inet 3`): a format of
    /// its own, not Rust's `Debug` output, so the token reads the same across versions.
    fn stable_text(&self) -> String {
        format!("{} {} {}", self.kind, self.family, self.entries)
    }
}

impl Rules {
    fn ok(&self) -> bool {
        self.wanted == 1 && self.stale.is_empty()
    }
}

impl Ipset {
    /// A target for the sets `config.name`-v4 and -v6, dropping TCP to `config.ports`
    /// (everything when empty) from their members, using `ipset`, `iptables` and
    /// `ip6tables` from `PATH`.
    pub fn new(config: &FirewallConfig) -> Self {
        Ipset {
            name: config.name.clone(),
            ports: normalized_ports(&config.ports),
            max_entries: config.max_entries,
            exec: Exec::default(),
            ipset: "ipset".to_string(),
            iptables: "iptables".to_string(),
            ip6tables: "ip6tables".to_string(),
        }
    }

    /// Runs every command as `PREFIX... PROGRAM ARGS...`, for example behind
    /// `["ip", "netns", "exec", "NS"]` to act inside a network namespace (tests).
    pub fn with_prefix<I, S>(mut self, prefix: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.exec = Exec::new(prefix);
        self
    }

    /// Uses these programs instead of `ipset`, `iptables` and `ip6tables`.
    pub fn with_programs(mut self, ipset: &str, iptables: &str, ip6tables: &str) -> Self {
        self.ipset = ipset.to_string();
        self.iptables = iptables.to_string();
        self.ip6tables = ip6tables.to_string();
        self
    }

    /// The live set of a family: `NAME-v4` or `NAME-v6`.
    fn live(&self, family: Family) -> String {
        set_name(&self.name, family)
    }

    /// The set a family's new members are built in before the swap.
    fn temp(&self, family: Family) -> String {
        format!("{}-tmp", set_name(&self.name, family))
    }

    fn tool(&self, family: Family) -> &str {
        match family {
            Family::V4 => &self.iptables,
            Family::V6 => &self.ip6tables,
        }
    }

    /// The INPUT rule (after `-A INPUT`/`-C INPUT`/`-I INPUT`) for a family's set.
    fn rule(&self, family: Family) -> Vec<String> {
        let mut rule: Vec<String> = Vec::new();
        if !self.ports.is_empty() {
            for arg in ["-p", "tcp", "-m", "multiport", "--dports"] {
                rule.push(arg.to_string());
            }
            rule.push(port_list(&self.ports));
        }
        for arg in ["-m", "set", "--match-set"] {
            rule.push(arg.to_string());
        }
        rule.push(self.live(family));
        for arg in ["src", "-m", "comment", "--comment"] {
            rule.push(arg.to_string());
        }
        rule.push(self.name.clone());
        rule.push("-j".to_string());
        rule.push("DROP".to_string());
        rule
    }

    fn check(&self, wanted: &[Entry]) -> anyhow::Result<()> {
        check_name(&self.name)?;
        check_multiport(&self.ports)?;
        if let Some(e) = wanted.iter().find(|e| e.network.prefix_len() == 0) {
            bail!(
                "ipset: {} cannot be blocked: hash:net sets cannot hold a /0 network",
                e.network
            );
        }
        Ok(())
    }

    /// All sets' headers from `ipset list -t` (one call; naming a missing set would fail).
    fn headers(&self) -> anyhow::Result<BTreeMap<String, SetHeader>> {
        let out = self
            .exec
            .run(&self.ipset, &["list", "-t"], None)
            .context("ipset: cannot list the sets")?;
        Ok(parse_headers(&out.stdout))
    }

    /// Fails when a live set exists but is not what saslguard creates (a swap would fail).
    fn check_headers(&self, headers: &BTreeMap<String, SetHeader>) -> anyhow::Result<()> {
        for family in Family::ALL {
            let name = self.live(family);
            let want = ipset_family(family);
            if let Some(h) = headers.get(&name)
                && (h.kind != "hash:net" || h.family != want)
            {
                bail!(
                    "ipset: set {name} exists as {} family {}, not hash:net family {want}; \
                     destroy it or choose another firewall.name",
                    h.kind,
                    h.family
                );
            }
        }
        Ok(())
    }

    /// The members of a live set (none when it does not exist).
    fn members(
        &self,
        headers: &BTreeMap<String, SetHeader>,
        family: Family,
    ) -> anyhow::Result<BTreeSet<IpNet>> {
        let name = self.live(family);
        if headers.get(&name).is_none_or(|h| h.entries == 0) {
            return Ok(BTreeSet::new());
        }
        let out = self
            .exec
            .run(&self.ipset, &["save", name.as_str()], None)
            .with_context(|| format!("ipset: cannot read set {name}"))?;
        Ok(parse_members(&out.stdout, &name))
    }

    /// saslguard's INPUT rules for a family's set.
    fn rules(&self, family: Family) -> anyhow::Result<Rules> {
        let tool = self.tool(family);
        let out = self
            .exec
            .run(tool, &["-w", LOCK_WAIT_SECS, "-S", "INPUT"], None)
            .with_context(|| format!("ipset: cannot list {tool} INPUT"))?;
        Ok(parse_rules(
            &out.stdout,
            &self.live(family),
            &self.name,
            &self.rule(family),
        ))
    }

    /// The `ipset restore` input: fill temporary sets, then swap them in and destroy them.
    pub fn restore_script(&self, wanted: &[Entry]) -> String {
        self.script(&BTreeMap::new(), wanted)
    }

    fn script(&self, headers: &BTreeMap<String, SetHeader>, wanted: &[Entry]) -> String {
        let mut script = String::with_capacity(256 + wanted.len() * 48);
        for family in Family::ALL {
            let (live, temp) = (self.live(family), self.temp(family));
            let nets = family.networks(wanted);
            let maxelem = self.max_entries.max(nets.len()).max(65536);
            let hashsize = nets.len().max(1024).next_power_of_two();
            let family = ipset_family(family);
            if headers.contains_key(&temp) {
                // Left over from an interrupted run.
                let _ = writeln!(script, "destroy {temp}");
            }
            if !headers.contains_key(&live) {
                let _ = writeln!(
                    script,
                    "create {live} hash:net family {family} maxelem {maxelem}"
                );
            }
            let _ = writeln!(
                script,
                "create {temp} hash:net family {family} hashsize {hashsize} maxelem {maxelem}"
            );
            for net in nets {
                let _ = writeln!(script, "add {temp} {net}");
            }
        }
        for family in Family::ALL {
            let _ = writeln!(script, "swap {} {}", self.temp(family), self.live(family));
        }
        for family in Family::ALL {
            let _ = writeln!(script, "destroy {}", self.temp(family));
        }
        script
    }

    fn restore(
        &self,
        headers: &BTreeMap<String, SetHeader>,
        wanted: &[Entry],
    ) -> anyhow::Result<()> {
        let script = self.script(headers, wanted);
        if let Err(err) = self
            .exec
            .run(&self.ipset, &["restore"], Some(script.as_bytes()))
        {
            // The live sets were not swapped; drop the half-filled temporary ones.
            for family in Family::ALL {
                let _ = self.exec.run_status(
                    &self.ipset,
                    &["destroy", self.temp(family).as_str()],
                    None,
                );
            }
            return Err(err.context("ipset: the sets were left as they were"));
        }
        Ok(())
    }

    /// Leaves exactly one saslguard rule per family: removes stale and duplicate ones,
    /// inserts a missing one at the top of INPUT (`-C` before `-I`).
    fn ensure_rule(&self, family: Family, rules: &Rules) -> anyhow::Result<()> {
        let tool = self.tool(family);
        let wanted = self.rule(family);
        let mut deletes: Vec<&Vec<String>> = rules.stale.iter().collect();
        for _ in 1..rules.wanted {
            deletes.push(&wanted);
        }
        for rule in deletes {
            let args = [
                vec![
                    "-w".to_string(),
                    LOCK_WAIT_SECS.to_string(),
                    "-D".to_string(),
                ],
                vec!["INPUT".to_string()],
                rule.clone(),
            ]
            .concat();
            self.exec
                .run(tool, &args, None)
                .with_context(|| format!("ipset: cannot remove an old {tool} rule"))?;
        }
        if rules.wanted == 0 {
            let with = |op: &str| {
                let mut args = vec![
                    "-w".to_string(),
                    LOCK_WAIT_SECS.to_string(),
                    op.to_string(),
                    "INPUT".to_string(),
                ];
                args.extend(wanted.iter().cloned());
                args
            };
            let (present, _) = self.exec.run_status(tool, &with("-C"), None)?;
            if !present {
                self.exec
                    .run(tool, &with("-I"), None)
                    .with_context(|| format!("ipset: cannot add the {tool} rule"))?;
            }
        }
        Ok(())
    }
}

fn ipset_family(family: Family) -> &'static str {
    match family {
        Family::V4 => "inet",
        Family::V6 => "inet6",
    }
}

fn parse_headers(listing: &str) -> BTreeMap<String, SetHeader> {
    let mut sets = BTreeMap::new();
    let mut current: Option<(String, SetHeader)> = None;
    for line in listing.lines() {
        if let Some(name) = line.strip_prefix("Name: ") {
            if let Some((name, header)) = current.take() {
                sets.insert(name, header);
            }
            let header = SetHeader {
                kind: String::new(),
                family: String::new(),
                entries: 0,
            };
            current = Some((name.trim().to_string(), header));
        } else if let Some((_, header)) = current.as_mut() {
            if let Some(kind) = line.strip_prefix("Type: ") {
                header.kind = kind.trim().to_string();
            } else if let Some(fields) = line.strip_prefix("Header: ") {
                let mut words = fields.split_whitespace();
                while let Some(word) = words.next() {
                    if word == "family" {
                        header.family = words.next().unwrap_or_default().to_string();
                    }
                }
            } else if let Some(n) = line.strip_prefix("Number of entries: ") {
                header.entries = n.trim().parse().unwrap_or(0);
            }
        }
    }
    if let Some((name, header)) = current {
        sets.insert(name, header);
    }
    sets
}

fn parse_members(save: &str, set: &str) -> BTreeSet<IpNet> {
    save.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some("add"), Some(name), Some(net)) if name == set => parse_net(net),
                _ => None,
            }
        })
        .collect()
}

fn parse_rules(listing: &str, set: &str, marker: &str, wanted: &[String]) -> Rules {
    let mut rules = Rules::default();
    for line in listing.lines() {
        let Some(rule) = line.trim_end().strip_prefix("-A INPUT ") else {
            continue;
        };
        let words: Vec<String> = rule
            .split_whitespace()
            .map(|w| w.trim_matches('"').to_string())
            .collect();
        let has = |key: &str, value: &str| words.windows(2).any(|w| w[0] == key && w[1] == value);
        if !(has("--match-set", set) && has("--comment", marker)) {
            continue;
        }
        if words == wanted {
            rules.wanted += 1;
        } else {
            rules.stale.push(words);
        }
    }
    rules
}

impl Target for Ipset {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn current(&self) -> anyhow::Result<BTreeSet<IpNet>> {
        check_name(&self.name)?;
        let headers = self.headers()?;
        let mut nets = self.members(&headers, Family::V4)?;
        nets.extend(self.members(&headers, Family::V6)?);
        Ok(nets)
    }

    /// The settings that shape the rules (name, ports), then per family: the live
    /// set's header (type, family, entry count), a digest of its members (sorted, from
    /// `ipset save`) and saslguard's INPUT rules for it, as `iptables -S INPUT` lists
    /// them. A flushed, destroyed, emptied or edited set (one member swapped for another
    /// included) or a missing, extra or changed rule gives another token.
    ///
    /// It costs `ipset list -t`, `ipset save` of each non-empty set and `iptables -S
    /// INPUT` per family: about 0.9 s at 100,000 entries, 25 ms at 1,000 (the
    /// benchmark in tests/firewall.rs).
    fn state_token(&self) -> anyhow::Result<Option<String>> {
        check_name(&self.name)?;
        let headers = self.headers()?;
        let mut token = format!("{} {}", self.name, port_list(&self.ports));
        for family in Family::ALL {
            let header = headers.get(&self.live(family));
            let members = self.members(&headers, family)?;
            let members: Vec<String> = members.iter().map(IpNet::to_string).collect();
            let tool = self.tool(family);
            let out = self
                .exec
                .run(tool, &["-w", LOCK_WAIT_SECS, "-S", "INPUT"], None)
                .with_context(|| format!("ipset: cannot list {tool} INPUT"))?;
            let marker = format!("--match-set {} ", self.live(family));
            let rules: Vec<&str> = out.stdout.lines().filter(|l| l.contains(&marker)).collect();
            let header = header.map_or("absent".to_string(), SetHeader::stable_text);
            let _ = write!(
                token,
                "; {} {header} {} {}",
                family.suffix(),
                digest(&members.join(",")),
                digest(&rules.join("\n"))
            );
        }
        Ok(Some(token))
    }

    fn in_sync(&self, wanted: &[Entry]) -> anyhow::Result<bool> {
        self.check(wanted)?;
        let headers = self.headers()?;
        // Cheap first: the entry counts.
        for family in Family::ALL {
            let count = headers.get(&self.live(family)).map_or(0, |h| h.entries);
            if count != family.networks(wanted).len() {
                return Ok(false);
            }
        }
        if wanted.is_empty() {
            return Ok(true);
        }
        if self.check_headers(&headers).is_err() {
            return Ok(false);
        }
        for family in Family::ALL {
            let members = self.members(&headers, family)?;
            if !members.iter().copied().eq(family.networks(wanted)) || !self.rules(family)?.ok() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn apply(&self, wanted: &[Entry], _now: i64) -> anyhow::Result<Diff> {
        self.check(wanted)?;
        // Everything is read first: a missing program or a foreign set of the same name
        // stops us before any change.
        let headers = self.headers()?;
        self.check_headers(&headers)?;
        let mut current = self.members(&headers, Family::V4)?;
        current.extend(self.members(&headers, Family::V6)?);
        let rules = [self.rules(Family::V4)?, self.rules(Family::V6)?];

        let wanted_nets: BTreeSet<IpNet> = wanted.iter().map(|e| e.network).collect();
        let contents_ok = current == wanted_nets;
        if contents_ok && (wanted.is_empty() || rules.iter().all(Rules::ok)) {
            return Ok(Diff::default());
        }
        let sets_exist = Family::ALL
            .iter()
            .all(|f| headers.contains_key(&self.live(*f)));
        if !contents_ok || !sets_exist {
            self.restore(&headers, wanted)?;
        }
        for (family, rules) in Family::ALL.into_iter().zip(&rules) {
            if !rules.ok() {
                self.ensure_rule(family, rules)?;
            }
        }
        Ok(Diff::between(&current, &wanted_nets))
    }
}

impl Ipset {
    /// saslguard's INPUT rules for a family's set, whatever their ports, as arguments
    /// for `-D INPUT`.
    fn own_rules(&self, family: Family) -> anyhow::Result<Vec<Vec<String>>> {
        let rules = self.rules(family)?;
        let mut own = rules.stale;
        own.extend(std::iter::repeat_n(self.rule(family), rules.wanted));
        Ok(own)
    }

    /// saslguard's sets that exist: live and temporary, both families.
    fn own_sets(&self, headers: &BTreeMap<String, SetHeader>) -> Vec<String> {
        Family::ALL
            .iter()
            .flat_map(|f| [self.live(*f), self.temp(*f)])
            .filter(|set| headers.contains_key(set))
            .collect()
    }
}

impl Firewall for Ipset {
    /// Lists INPUT: hooked when a rule matches the IPv4 set.
    fn probe(&self) -> Probe {
        let listing = self.exec.run_status(&self.iptables, &["-S", "INPUT"], None);
        let set = format!("--match-set {}", self.live(Family::V4));
        Probe::from_listing(listing, "iptables ipset", |out| out.contains(&set))
    }

    /// Whether a set `NAME-v4`/`NAME-v6` (or a temporary one) or a rule of saslguard's
    /// matching them exists.
    fn present(&self) -> anyhow::Result<bool> {
        check_name(&self.name)?;
        if !self.own_sets(&self.headers()?).is_empty() {
            return Ok(true);
        }
        for family in Family::ALL {
            if !self.own_rules(family)?.is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Removes saslguard's INPUT rules for its sets (the ones marked with its comment,
    /// whatever their ports), then destroys the sets.
    fn teardown(&self) -> anyhow::Result<()> {
        check_name(&self.name)?;
        for family in Family::ALL {
            let tool = self.tool(family);
            for rule in self.own_rules(family)? {
                let args = [
                    vec![
                        "-w".to_string(),
                        LOCK_WAIT_SECS.to_string(),
                        "-D".to_string(),
                        "INPUT".to_string(),
                    ],
                    rule,
                ]
                .concat();
                self.exec
                    .run(tool, &args, None)
                    .with_context(|| format!("ipset: cannot remove a {tool} rule"))?;
            }
        }
        for set in self.own_sets(&self.headers()?) {
            self.exec
                .run(&self.ipset, &["destroy", set.as_str()], None)
                .with_context(|| format!("ipset: cannot destroy set {set}"))?;
        }
        Ok(())
    }
}

impl Backend for Ipset {
    const NAME: &'static str = "ipset";

    fn new(config: &FirewallConfig) -> Self {
        Ipset::new(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(net: &str) -> Entry {
        Entry::parse(net, None)
    }

    #[test]
    fn the_script_fills_temporary_sets_before_swapping() {
        let target = Ipset::new(&FirewallConfig::default());
        let script = target.restore_script(&[entry("192.0.2.0/24"), entry("2001:db8::1/128")]);
        let lines: Vec<&str> = script.lines().collect();
        assert_eq!(
            lines,
            [
                "create saslguard-v4 hash:net family inet maxelem 100000",
                "create saslguard-v4-tmp hash:net family inet hashsize 1024 maxelem 100000",
                "add saslguard-v4-tmp 192.0.2.0/24",
                "create saslguard-v6 hash:net family inet6 maxelem 100000",
                "create saslguard-v6-tmp hash:net family inet6 hashsize 1024 maxelem 100000",
                "add saslguard-v6-tmp 2001:db8::1/128",
                "swap saslguard-v4-tmp saslguard-v4",
                "swap saslguard-v6-tmp saslguard-v6",
                "destroy saslguard-v4-tmp",
                "destroy saslguard-v6-tmp",
            ]
        );
    }

    #[test]
    fn headers_and_members_are_read_back() {
        let listing = "Name: saslguard-v4\nType: hash:net\nRevision: 7\n\
                       Header: family inet hashsize 1024 maxelem 65536 bucketsize 12\n\
                       Size in memory: 456\nReferences: 1\nNumber of entries: 2\n\n\
                       Name: other\nType: hash:ip\nHeader: family inet6 hashsize 64\n\
                       Number of entries: 0\n";
        let headers = parse_headers(listing);
        assert_eq!(
            headers["saslguard-v4"],
            SetHeader {
                kind: "hash:net".into(),
                family: "inet".into(),
                entries: 2
            }
        );
        assert_eq!(headers["other"].family, "inet6");
        let save = "create saslguard-v4 hash:net family inet\nadd saslguard-v4 192.0.2.0/24\n\
                    add saslguard-v4 198.51.100.7\nadd other 203.0.113.1\n";
        let members: Vec<String> = parse_members(save, "saslguard-v4")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(members, ["192.0.2.0/24", "198.51.100.7/32"]);
    }

    #[test]
    fn only_marked_rules_are_saslguards() {
        let target = Ipset::new(&FirewallConfig::default());
        let wanted = target.rule(Family::V4);
        let listing = "-P INPUT ACCEPT\n\
            -A INPUT -p tcp -m multiport --dports 25,465,587 -m set --match-set saslguard-v4 src -m comment --comment saslguard -j DROP\n\
            -A INPUT -p tcp -m multiport --dports 25 -m set --match-set saslguard-v4 src -m comment --comment saslguard -j DROP\n\
            -A INPUT -m set --match-set saslguard-v4 src -j LOG\n";
        let rules = parse_rules(listing, "saslguard-v4", "saslguard", &wanted);
        assert_eq!(rules.wanted, 1);
        assert_eq!(rules.stale.len(), 1);
        assert_eq!(rules.stale[0][5], "25");
    }
}
