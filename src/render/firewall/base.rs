//! What every firewall backend shares: running programs (behind an optional prefix,
//! for network namespaces), the address families and the set names made from them,
//! checking the configured name, the port list, reading networks back, and the stable
//! digest of what a backend lists (see [`crate::render::digest`]).

use anyhow::bail;
use ipnet::IpNet;

use crate::render::Entry;
use crate::render::command::{self, Output};

pub(crate) use crate::render::digest;

/// `-m multiport` takes at most this many ports.
pub(crate) const MULTIPORT_MAX: usize = 15;

/// How long iptables commands wait for the xtables lock held by another program
/// (fail2ban, docker, a firewall script) before failing, in seconds.
pub(crate) const LOCK_WAIT_SECS: &str = "10";

/// Runs external programs through [`command::run`], optionally behind a fixed prefix
/// (`ip netns exec NS`), so tests can act inside a network namespace.
#[derive(Debug, Clone, Default)]
pub(crate) struct Exec {
    prefix: Vec<String>,
}

impl Exec {
    /// Runs every program as `PREFIX... PROGRAM ARGS...`; an empty prefix runs it as is.
    pub(crate) fn new<I, S>(prefix: I) -> Exec
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Exec {
            prefix: prefix.into_iter().map(Into::into).collect(),
        }
    }

    /// [`command::run`] behind the prefix.
    pub(crate) fn run<S: AsRef<str>>(
        &self,
        program: &str,
        args: &[S],
        stdin: Option<&[u8]>,
    ) -> anyhow::Result<Output> {
        let (program, args) = self.argv(program, args);
        command::run(program, &args, stdin)
    }

    /// [`command::run_status`] behind the prefix.
    pub(crate) fn run_status<S: AsRef<str>>(
        &self,
        program: &str,
        args: &[S],
        stdin: Option<&[u8]>,
    ) -> anyhow::Result<(bool, Output)> {
        let (program, args) = self.argv(program, args);
        command::run_status(program, &args, stdin)
    }

    fn argv<'a, S: AsRef<str>>(
        &'a self,
        program: &'a str,
        args: &'a [S],
    ) -> (&'a str, Vec<&'a str>) {
        let mut argv: Vec<&str> = Vec::with_capacity(self.prefix.len() + args.len());
        let first = match self.prefix.split_first() {
            Some((first, rest)) => {
                argv.extend(rest.iter().map(String::as_str));
                argv.push(program);
                first.as_str()
            }
            None => program,
        };
        argv.extend(args.iter().map(AsRef::as_ref));
        (first, argv)
    }
}

/// An address family: every firewall object saslguard renders exists once per family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    V4,
    V6,
}

impl Family {
    pub(crate) const ALL: [Family; 2] = [Family::V4, Family::V6];

    pub(crate) fn of(net: &IpNet) -> Family {
        match net {
            IpNet::V4(_) => Family::V4,
            IpNet::V6(_) => Family::V6,
        }
    }

    /// `v4` or `v6`: the suffix of saslguard's set names.
    pub(crate) fn suffix(self) -> &'static str {
        match self {
            Family::V4 => "v4",
            Family::V6 => "v6",
        }
    }

    /// The networks of `wanted` in this family, sorted.
    pub(crate) fn networks(self, wanted: &[Entry]) -> Vec<IpNet> {
        let mut nets: Vec<IpNet> = wanted
            .iter()
            .map(|e| e.network)
            .filter(|n| Family::of(n) == self)
            .collect();
        nets.sort_unstable();
        nets
    }
}

/// The name of saslguard's object of one family: `NAME-v4`, `NAME-v6` (ipset sets;
/// nftables names its sets by the suffix alone, inside its own table).
pub(crate) fn set_name(name: &str, family: Family) -> String {
    format!("{name}-{}", family.suffix())
}

/// Names not allowed for `firewall.name`: iptables' built-in chains and targets.
const RESERVED_NAMES: &[&str] = &[
    "INPUT",
    "OUTPUT",
    "FORWARD",
    "PREROUTING",
    "POSTROUTING",
    "ACCEPT",
    "DROP",
    "REJECT",
    "RETURN",
    "QUEUE",
    "LOG",
];

/// Longest `firewall.name`: ipset names are at most 31 bytes and saslguard appends
/// `-v4-tmp`; iptables chain names are at most 28.
pub(crate) const NAME_MAX: usize = 24;

/// Checks `firewall.name`, which becomes an nftables table, ipset set names and an
/// iptables chain: letters, digits, `_` and `-`, starting with a letter, at most
/// [`NAME_MAX`] bytes, and not an iptables built-in chain or target.
pub fn check_name(name: &str) -> anyhow::Result<()> {
    let valid = name.len() <= NAME_MAX
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        bail!(
            "firewall.name {name:?} is invalid: use 1 to {NAME_MAX} letters, digits, '_' and '-', \
             starting with a letter"
        );
    }
    if RESERVED_NAMES.contains(&name) {
        bail!("firewall.name {name:?} is an iptables built-in chain or target; choose another");
    }
    Ok(())
}

/// Refuses more ports than one `-m multiport` match takes.
pub(crate) fn check_multiport(ports: &[u16]) -> anyhow::Result<()> {
    if ports.len() > MULTIPORT_MAX {
        bail!(
            "firewall.ports lists {} ports; iptables' multiport match takes at most {MULTIPORT_MAX}",
            ports.len()
        );
    }
    Ok(())
}

/// The configured ports sorted and without duplicates, so the rendered rules (and the
/// text compared with what is rendered) do not depend on how the list was written.
pub(crate) fn normalized_ports(ports: &[u16]) -> Vec<u16> {
    let mut ports = ports.to_vec();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// `25,465,587`.
pub(crate) fn port_list(ports: &[u16]) -> String {
    let text: Vec<String> = ports.iter().map(u16::to_string).collect();
    text.join(",")
}

/// A network as firewall tools print it: `1.2.3.0/24`, or a bare address for a host.
pub(crate) fn parse_net(text: &str) -> Option<IpNet> {
    let text = text.trim_matches('"');
    match text.parse::<IpNet>() {
        Ok(net) => Some(net.trunc()),
        Err(_) => text.parse::<std::net::IpAddr>().ok().map(IpNet::from),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("saslguard").is_ok());
        assert!(check_name("sg_2-x").is_ok());
        for bad in ["", "INPUT", "-x", "a b", "a;b", "x".repeat(25).as_str()] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_prefix_goes_first() {
        let exec = Exec::new(["ip", "netns", "exec", "ns"]);
        assert_eq!(
            exec.argv("nft", &["-f", "-"]),
            ("ip", vec!["netns", "exec", "ns", "nft", "-f", "-"])
        );
        assert_eq!(Exec::default().argv("nft", &["-f"]), ("nft", vec!["-f"]));
    }

    #[test]
    fn set_names_carry_the_family() {
        assert_eq!(set_name("saslguard", Family::V4), "saslguard-v4");
        assert_eq!(set_name("sg", Family::V6), "sg-v6");
    }
}
