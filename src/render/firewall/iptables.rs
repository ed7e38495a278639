//! The `iptables` firewall target: a chain of saslguard's own, `NAME`, in the filter
//! table of both iptables and ip6tables, holding one DROP rule per blocked network and
//! reached by one `-A INPUT -j NAME` jump per family.
//!
//! Each family's chain is rewritten in one `iptables-restore --noflush` transaction
//! (`:NAME - [0:0]`, `-F NAME`, the rules, `COMMIT`), so packets see either the old or
//! the new chain, never a half-written one. When the IPv6 transaction fails after the
//! IPv4 one succeeded, the IPv4 chain is restored to the rules it had before. The jump
//! is added with `-C` before `-I`, so it exists once; saslguard touches nothing but its
//! chain and that jump.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use anyhow::Context;
use ipnet::IpNet;

use super::base::{
    Exec, Family, LOCK_WAIT_SECS, check_multiport, check_name, normalized_ports, parse_net,
    port_list,
};
use super::{Backend, Firewall, Probe};
use crate::config::FirewallConfig;
use crate::render::{Diff, Entry, Target};

/// Renders blocks as a chain of DROP rules in iptables and ip6tables.
///
/// Suited to hosts that manage their firewall with iptables and cannot use ipset; every
/// packet walks the chain, so prefer `nftables` or `ipset` for many thousands of entries.
#[derive(Debug, Clone)]
pub struct Iptables {
    name: String,
    ports: Vec<u16>,
    exec: Exec,
    iptables: String,
    ip6tables: String,
    iptables_restore: String,
    ip6tables_restore: String,
}

impl Iptables {
    /// A target for the chain `config.name`, dropping TCP to `config.ports` (everything
    /// when empty) from blocked networks, using the programs `iptables`, `ip6tables`,
    /// `iptables-restore` and `ip6tables-restore` from `PATH`.
    pub fn new(config: &FirewallConfig) -> Self {
        Iptables {
            name: config.name.clone(),
            ports: normalized_ports(&config.ports),
            exec: Exec::default(),
            iptables: "iptables".to_string(),
            ip6tables: "ip6tables".to_string(),
            iptables_restore: "iptables-restore".to_string(),
            ip6tables_restore: "ip6tables-restore".to_string(),
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

    /// Uses these programs instead of `iptables`, `ip6tables`, `iptables-restore` and
    /// `ip6tables-restore` (for example the `-legacy` variants, or a missing name in tests).
    pub fn with_programs(
        mut self,
        iptables: &str,
        ip6tables: &str,
        iptables_restore: &str,
        ip6tables_restore: &str,
    ) -> Self {
        self.iptables = iptables.to_string();
        self.ip6tables = ip6tables.to_string();
        self.iptables_restore = iptables_restore.to_string();
        self.ip6tables_restore = ip6tables_restore.to_string();
        self
    }

    /// The `iptables-restore --noflush` input that makes chain NAME hold exactly the
    /// rules for `nets` (all of one family).
    pub fn restore_script(&self, nets: &[IpNet]) -> String {
        let rest = self.rule_rest();
        let mut script = String::with_capacity(64 + nets.len() * (rest.len() + 48));
        self.script_head(&mut script);
        for net in nets {
            let _ = writeln!(script, "-A {} -s {net} {rest}", self.name);
        }
        script.push_str("COMMIT\n");
        script
    }

    fn script_head(&self, script: &mut String) {
        let _ = write!(script, "*filter\n:{0} - [0:0]\n-F {0}\n", self.name);
    }

    /// What follows `-s NET` in each rule, as `iptables -S` prints it.
    fn rule_rest(&self) -> String {
        if self.ports.is_empty() {
            "-j DROP".to_string()
        } else {
            format!(
                "-p tcp -m multiport --dports {} -j DROP",
                port_list(&self.ports)
            )
        }
    }

    fn tool(&self, family: Family) -> &str {
        match family {
            Family::V4 => &self.iptables,
            Family::V6 => &self.ip6tables,
        }
    }

    fn restore_tool(&self, family: Family) -> &str {
        match family {
            Family::V4 => &self.iptables_restore,
            Family::V6 => &self.ip6tables_restore,
        }
    }

    fn check(&self) -> anyhow::Result<()> {
        check_name(&self.name)?;
        check_multiport(&self.ports)
    }

    /// Reads chain NAME and the jumps to it from the whole filter table (`-S` of a missing
    /// chain fails with texts that differ between iptables variants).
    fn read(&self, family: Family) -> anyhow::Result<ChainState> {
        let tool = self.tool(family);
        let out = self
            .exec
            .run(tool, &["-w", LOCK_WAIT_SECS, "-S"], None)
            .with_context(|| format!("iptables: cannot list the {tool} filter table"))?;
        Ok(ChainState::parse(&out.stdout, &self.name))
    }

    /// Whether the chain holds exactly the rules for `nets` and, if there are any, is
    /// jumped to exactly once from INPUT.
    fn satisfied(&self, state: &ChainState, nets: &[IpNet]) -> bool {
        let rest = self.rule_rest();
        let mut rendered: Vec<IpNet> = Vec::with_capacity(state.rules.len());
        for rule in &state.rules {
            match rule {
                Some((net, r)) if *r == rest => rendered.push(*net),
                _ => return false,
            }
        }
        rendered.sort_unstable();
        rendered == nets && (nets.is_empty() || state.jumps == 1)
    }

    fn restore(&self, family: Family, script: &str) -> anyhow::Result<()> {
        let tool = self.restore_tool(family);
        self.exec
            .run(
                tool,
                &["-w", LOCK_WAIT_SECS, "--noflush"],
                Some(script.as_bytes()),
            )
            .with_context(|| format!("iptables: {tool} could not rewrite chain {}", self.name))?;
        Ok(())
    }

    /// Puts a family's chain back as `before` was: its old rules, or no chain at all.
    fn roll_back(&self, family: Family, before: &ChainState) -> anyhow::Result<()> {
        let mut script = String::new();
        self.script_head(&mut script);
        for line in &before.lines {
            script.push_str(line);
            script.push('\n');
        }
        script.push_str("COMMIT\n");
        self.restore(family, &script)?;
        if !before.exists {
            let tool = self.tool(family);
            self.exec
                .run(
                    tool,
                    &["-w", LOCK_WAIT_SECS, "-X", self.name.as_str()],
                    None,
                )
                .with_context(|| format!("iptables: cannot delete chain {}", self.name))?;
        }
        Ok(())
    }

    /// Makes INPUT jump to the chain exactly once: extra copies of saslguard's jump are
    /// removed, a missing one is inserted first in INPUT (checked with `-C` before `-I`).
    fn ensure_jump(&self, family: Family, jumps: usize) -> anyhow::Result<()> {
        let tool = self.tool(family);
        let spec = ["INPUT", "-j", self.name.as_str()];
        for _ in 1..jumps {
            let args = [&["-w", LOCK_WAIT_SECS, "-D"][..], &spec[..]].concat();
            self.exec.run(tool, &args, None).with_context(|| {
                format!("iptables: cannot remove a duplicate jump to {}", self.name)
            })?;
        }
        if jumps == 0 {
            let check = [&["-w", LOCK_WAIT_SECS, "-C"][..], &spec[..]].concat();
            let (present, _) = self.exec.run_status(tool, &check, None)?;
            if !present {
                let insert = [&["-w", LOCK_WAIT_SECS, "-I"][..], &spec[..]].concat();
                self.exec
                    .run(tool, &insert, None)
                    .with_context(|| format!("iptables: cannot add the jump to {}", self.name))?;
            }
        }
        Ok(())
    }
}

/// Chain NAME as `iptables -S` shows it.
#[derive(Debug, Default)]
struct ChainState {
    /// Whether the chain exists (`-N NAME`).
    exists: bool,
    /// Each `-A NAME` line verbatim, for rolling back.
    lines: Vec<String>,
    /// Each rule as (source network, what follows it); `None` for a rule not of the form
    /// `-A NAME -s NET ...` (not saslguard's: the next render removes it).
    rules: Vec<Option<(IpNet, String)>>,
    /// How many `-A INPUT -j NAME` rules there are.
    jumps: usize,
}

impl ChainState {
    fn parse(listing: &str, name: &str) -> ChainState {
        let mut state = ChainState::default();
        let new_chain = format!("-N {name}");
        let append = format!("-A {name} ");
        let jump = format!("-A INPUT -j {name}");
        for line in listing.lines().map(str::trim_end) {
            if line == new_chain {
                state.exists = true;
            } else if line == jump {
                state.jumps += 1;
            } else if let Some(rule) = line.strip_prefix(&append) {
                state.lines.push(line.to_string());
                state.rules.push(
                    rule.strip_prefix("-s ")
                        .and_then(|r| r.split_once(' '))
                        .and_then(|(net, rest)| Some((parse_net(net)?, rest.to_string()))),
                );
            }
        }
        state
    }

    fn networks(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.rules.iter().flatten().map(|(net, _)| *net)
    }
}

impl Target for Iptables {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn current(&self) -> anyhow::Result<BTreeSet<IpNet>> {
        check_name(&self.name)?;
        let mut nets = BTreeSet::new();
        for family in Family::ALL {
            nets.extend(self.read(family)?.networks());
        }
        Ok(nets)
    }

    fn in_sync(&self, wanted: &[Entry]) -> anyhow::Result<bool> {
        self.check()?;
        for family in Family::ALL {
            let state = self.read(family)?;
            if !self.satisfied(&state, &family.networks(wanted)) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn apply(&self, wanted: &[Entry], _now: i64) -> anyhow::Result<Diff> {
        self.check()?;
        // Read both families first: a missing or failing program stops us before any change.
        let states = [self.read(Family::V4)?, self.read(Family::V6)?];
        let current: BTreeSet<IpNet> = states.iter().flat_map(ChainState::networks).collect();
        let nets = [Family::V4.networks(wanted), Family::V6.networks(wanted)];
        if (0..2).all(|i| self.satisfied(&states[i], &nets[i])) {
            return Ok(Diff::default());
        }

        let rest = self.rule_rest();
        let content_ok = |i: usize| {
            let mut rendered: Vec<IpNet> = states[i].networks().collect();
            rendered.sort_unstable();
            states[i]
                .rules
                .iter()
                .all(|r| matches!(r, Some((_, x)) if *x == rest))
                && rendered == nets[i]
        };
        let rewrite_v4 = !content_ok(0);
        if rewrite_v4 {
            self.restore(Family::V4, &self.restore_script(&nets[0]))?;
        }
        if !content_ok(1)
            && let Err(err) = self.restore(Family::V6, &self.restore_script(&nets[1]))
        {
            if rewrite_v4 {
                if let Err(undo) = self.roll_back(Family::V4, &states[0]) {
                    return Err(err.context(format!(
                        "and restoring the previous IPv4 chain failed too: {undo:#}"
                    )));
                }
                return Err(err.context("the IPv4 chain was restored to its previous rules"));
            }
            return Err(err);
        }
        for (i, family) in Family::ALL.into_iter().enumerate() {
            if !nets[i].is_empty() || states[i].jumps > 1 {
                self.ensure_jump(family, states[i].jumps)?;
            }
        }
        let wanted: BTreeSet<IpNet> = wanted.iter().map(|e| e.network).collect();
        Ok(Diff::between(&current, &wanted))
    }
}

impl Firewall for Iptables {
    /// Checks for the jump from INPUT to saslguard's chain.
    fn probe(&self) -> Probe {
        let listing =
            self.exec
                .run_status(&self.iptables, &["-C", "INPUT", "-j", &self.name], None);
        Probe::from_listing(listing, "iptables ipset", |_| true)
    }

    /// Whether chain NAME, or a jump to it from INPUT, exists in either family.
    fn present(&self) -> anyhow::Result<bool> {
        check_name(&self.name)?;
        for family in Family::ALL {
            let state = self.read(family)?;
            if state.exists || state.jumps > 0 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Per family: removes every `-A INPUT -j NAME` jump, then flushes and deletes
    /// chain NAME.
    fn teardown(&self) -> anyhow::Result<()> {
        check_name(&self.name)?;
        let name = self.name.as_str();
        for family in Family::ALL {
            let tool = self.tool(family);
            let state = self.read(family)?;
            let mut steps: Vec<Vec<&str>> = vec![vec!["-D", "INPUT", "-j", name]; state.jumps];
            if state.exists {
                steps.push(vec!["-F", name]);
                steps.push(vec!["-X", name]);
            }
            for step in steps {
                let args = [&["-w", LOCK_WAIT_SECS][..], &step].concat();
                self.exec
                    .run(tool, &args, None)
                    .with_context(|| format!("iptables: cannot remove chain {name} from {tool}"))?;
            }
        }
        Ok(())
    }
}

impl Backend for Iptables {
    const NAME: &'static str = "iptables";

    fn new(config: &FirewallConfig) -> Self {
        Iptables::new(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(net: &str) -> Entry {
        Entry::parse(net, None)
    }

    #[test]
    fn the_restore_script_rewrites_only_the_own_chain() {
        let target = Iptables::new(&FirewallConfig::default());
        let nets = Family::V4.networks(&[entry("192.0.2.0/24"), entry("2001:db8::/32")]);
        assert_eq!(
            target.restore_script(&nets),
            "*filter\n:saslguard - [0:0]\n-F saslguard\n\
             -A saslguard -s 192.0.2.0/24 -p tcp -m multiport --dports 25,465,587 -j DROP\n\
             COMMIT\n"
        );
        let all = Iptables::new(&FirewallConfig {
            ports: vec![],
            ..FirewallConfig::default()
        });
        assert!(
            all.restore_script(&nets)
                .contains("-A saslguard -s 192.0.2.0/24 -j DROP\n")
        );
    }

    #[test]
    fn listings_are_read_back() {
        let listing = "-P INPUT ACCEPT\n-N saslguard\n-N other\n-A INPUT -j saslguard\n\
                       -A INPUT -s 10.0.0.0/8 -j saslguard\n\
                       -A saslguard -s 192.0.2.1/32 -j DROP\n-A saslguard -p udp -j DROP\n\
                       -A other -s 198.51.100.0/24 -j DROP\n";
        let state = ChainState::parse(listing, "saslguard");
        assert!(state.exists);
        assert_eq!(state.jumps, 1);
        assert_eq!(state.lines.len(), 2);
        assert_eq!(
            state.rules[0],
            Some(("192.0.2.1/32".parse().unwrap(), "-j DROP".to_string()))
        );
        assert_eq!(state.rules[1], None);
    }
}
