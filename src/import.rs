//! Reading the classic script's state, to switch to saslguard: Postfix access files
//! (`1.2.3.4 REJECT`, octet-truncated `1.2.3 REJECT`) and `iptables-save` output
//! (`-A INPUT -s 1.2.3.4/32 -j DROP`). Pure parsing; `commands::import` records blocks.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};

/// What a line of the input became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A network to block, with the line it came from.
    Block { network: IpNet, line: usize },
    /// Something that is not a block (another action, another chain, not an address):
    /// left alone, with why.
    Left {
        line: usize,
        text: String,
        why: String,
    },
}

/// Parses a Postfix access file. Comments and blank lines are skipped; keys are whole
/// addresses, octet-truncated IPv4 prefixes (`1.2.3` = 1.2.3.0/24) or CIDR networks;
/// only rejecting actions (`REJECT`, `4xx`, `5xx`, `DISCARD`) are blocks.
pub fn reject_client(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut words = trimmed.split_whitespace();
        let (Some(key), action) = (words.next(), words.next().unwrap_or("")) else {
            continue;
        };
        let left = |why: &str| Line::Left {
            line,
            text: trimmed.to_string(),
            why: why.to_string(),
        };
        let rejects = action.eq_ignore_ascii_case("REJECT")
            || action.eq_ignore_ascii_case("DISCARD")
            || action.starts_with('4')
            || action.starts_with('5');
        if !rejects {
            out.push(left(&format!("action {action:?} does not reject")));
            continue;
        }
        match access_key(key) {
            Ok(network) => out.push(Line::Block { network, line }),
            Err(why) => out.push(left(&why)),
        }
    }
    out
}

/// An access-map key as a network: `1.2.3.4`, `1.2.3` (a /24), `1.2` (/16), `1` (/8),
/// `2001:db8::1`, or CIDR `1.2.3.0/24`; addresses and CIDR networks are read like the
/// command line's ([`crate::network::parse_network`]: IPv4-mapped IPv6 is IPv4, host
/// bits are refused). The error says why the key is no network.
fn access_key(key: &str) -> Result<IpNet, String> {
    let key = key.trim_start_matches('[').trim_end_matches(']');
    if let Some(network) = group_prefix(key) {
        return Ok(network);
    }
    if key.contains(['/', ':']) || key.parse::<IpAddr>().is_ok() {
        return crate::network::parse_network(key);
    }
    octet_prefix(key).ok_or_else(|| "not an address, network or octet-truncated prefix".into())
}

/// A group-truncated IPv6 prefix, as hash access maps hold them (`2001:db8:1:2` =
/// 2001:db8:1:2::/64): one to seven whole groups, none left out with `::`.
fn group_prefix(key: &str) -> Option<IpNet> {
    let groups: Vec<u16> = key
        .split(':')
        .map(|g| {
            (1..=4)
                .contains(&g.len())
                .then(|| u16::from_str_radix(g, 16).ok())
                .flatten()
        })
        .collect::<Option<Vec<u16>>>()?;
    if !(2..=7).contains(&groups.len()) {
        return None;
    }
    let mut full = [0u16; 8];
    full[..groups.len()].copy_from_slice(&groups);
    ipnet::Ipv6Net::new(std::net::Ipv6Addr::from(full), 16 * groups.len() as u8)
        .ok()
        .map(IpNet::V6)
}

/// An octet-truncated IPv4 prefix (`1.2.3` = 1.2.3.0/24) as a network.
fn octet_prefix(key: &str) -> Option<IpNet> {
    let octets: Vec<u8> = key
        .split('.')
        .map(|o| o.parse::<u8>().ok())
        .collect::<Option<Vec<u8>>>()?;
    if octets.is_empty()
        || octets.len() > 3
        || key.split('.').any(|o| o.len() > 1 && o.starts_with('0'))
    {
        return None;
    }
    let mut full = [0u8; 4];
    full[..octets.len()].copy_from_slice(&octets);
    Ipv4Net::new(Ipv4Addr::from(full), 8 * octets.len() as u8)
        .ok()
        .map(IpNet::V4)
}

/// Parses `iptables-save` (or `ip6tables-save`) output: rules in the INPUT chain of the
/// filter table that drop (or reject) one source network and match nothing else.
pub fn iptables_save(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let mut table = "";
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if let Some(name) = trimmed.strip_prefix('*') {
            table = if name == "filter" { "filter" } else { "other" };
            continue;
        }
        if !trimmed.starts_with("-A ") {
            continue;
        }
        let words: Vec<&str> = trimmed.split_whitespace().collect();
        let left = |why: &str| Line::Left {
            line,
            text: trimmed.to_string(),
            why: why.to_string(),
        };
        if table != "filter" || words.get(1) != Some(&"INPUT") {
            out.push(left("not in the filter table's INPUT chain"));
            continue;
        }
        let mut source = None;
        let mut target = None;
        let mut other = false;
        let mut i = 2;
        while i < words.len() {
            match (words[i], words.get(i + 1)) {
                ("-s", Some(value)) => {
                    source = Some(*value);
                    i += 2;
                }
                ("-j", Some(value)) => {
                    target = Some(*value);
                    i += 2;
                }
                // iptables-save writes every REJECT with the answer it sends: part of
                // the target, not a condition on the traffic.
                ("--reject-with", Some(_)) if target == Some("REJECT") => {
                    i += 2;
                }
                _ => {
                    other = true;
                    i += 1;
                }
            }
        }
        match (source, target, other) {
            (Some(source), Some("DROP" | "REJECT"), false) => match access_key(source) {
                Ok(network) => out.push(Line::Block { network, line }),
                Err(why) => out.push(left(&format!("the source is no network: {why}"))),
            },
            (_, Some("DROP" | "REJECT"), true) => out.push(left(
                "matches more than a source address (ports, interfaces, ...)",
            )),
            _ => out.push(left("not a DROP or REJECT of one source")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .filter_map(|l| match l {
                Line::Block { network, .. } => Some(network.to_string()),
                Line::Left { .. } => None,
            })
            .collect()
    }

    #[test]
    fn access_files_become_networks_and_the_rest_is_left() {
        let lines = reject_client(
            "# the classic script's output\n\
             1.2.3.4 REJECT\n\
             1.2.3   REJECT too many failures\n\
             10 554 go away\n\
             2001:db8::7 REJECT\n\
             2001:db8:1:2 REJECT\n\
             198.51.100.0/24 REJECT\n\
             192.0.2.1 OK\n\
             mail.example.com REJECT\n\
             \n",
        );
        assert_eq!(
            blocks(&lines),
            [
                "1.2.3.4/32",
                "1.2.3.0/24",
                "10.0.0.0/8",
                "2001:db8::7/128",
                "2001:db8:1:2::/64",
                "198.51.100.0/24"
            ]
        );
        let left: Vec<usize> = lines
            .iter()
            .filter_map(|l| match l {
                Line::Left { line, .. } => Some(*line),
                Line::Block { .. } => None,
            })
            .collect();
        assert_eq!(left, [8, 9]);
    }

    #[test]
    fn keys_are_read_like_the_command_line() {
        let lines = reject_client(
            "::ffff:0:0/96 REJECT\n\
             ::ffff:198.51.100.7 REJECT\n\
             [::ffff:192.0.2.0]/120 REJECT\n\
             ::ffff:192.0.2.0/120 REJECT\n\
             203.0.113.7/24 REJECT\n",
        );
        assert_eq!(
            blocks(&lines),
            ["0.0.0.0/0", "198.51.100.7/32", "192.0.2.0/24"]
        );
        assert_eq!(
            lines[4],
            Line::Left {
                line: 5,
                text: "203.0.113.7/24 REJECT".into(),
                why: "203.0.113.7/24 has host bits set; did you mean 203.0.113.0/24?".into(),
            }
        );
        assert!(
            matches!(&lines[2], Line::Left { why, .. } if why.contains("not an IP address")),
            "{:?}",
            lines[2]
        );
    }

    #[test]
    fn iptables_save_drops_of_one_source_in_input_become_networks() {
        let lines = iptables_save(
            "# Generated by iptables-save\n\
             *nat\n-A PREROUTING -s 9.9.9.9/32 -j DROP\nCOMMIT\n\
             *filter\n:INPUT ACCEPT [0:0]\n\
             -A INPUT -s 1.2.3.4/32 -j DROP\n\
             -A INPUT -s 5.6.7.0/24 -j REJECT\n\
             -A INPUT -s 5.6.8.0/24 -j REJECT --reject-with icmp-port-unreachable\n\
             -A INPUT -s 8.8.8.8/32 -p tcp -m tcp --dport 22 -j DROP\n\
             -A INPUT -s 7.7.7.7/32 -j ACCEPT\n\
             -A FORWARD -s 6.6.6.6/32 -j DROP\n\
             COMMIT\n",
        );
        assert_eq!(blocks(&lines), ["1.2.3.4/32", "5.6.7.0/24", "5.6.8.0/24"]);
        assert_eq!(lines.len(), 7, "every rule is either taken or left");
    }
}
