//! Addresses and networks as they enter saslguard, from the command line, the config,
//! stored rows and imported files: one parser and one normalisation, so the same text
//! means the same network everywhere.
//!
//! IPv4-mapped IPv6 (`::ffff:203.0.113.7`, any network inside `::ffff:0:0/96`) is the
//! IPv4 address or network it stands for: Postfix logs and looks up such clients as
//! plain IPv4, and the firewall sees IPv4 packets.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};

/// The network as saslguard keeps it: an IPv6 network inside `::ffff:0:0/96` becomes
/// the IPv4 network it maps (host bits kept as written); anything else is unchanged.
pub fn canonical(network: IpNet) -> IpNet {
    if let IpNet::V6(v6) = network
        && v6.prefix_len() >= 96
        && let Some(v4) = v6.addr().to_ipv4_mapped()
        && let Ok(mapped) = Ipv4Net::new(v4, v6.prefix_len() - 96)
    {
        return IpNet::V4(mapped);
    }
    network
}

/// Parses an address (a host network) or a CIDR network with no host bits set, both
/// normalised by [`canonical`]. The error names the text and, for host bits, the network
/// probably meant.
pub fn parse_network(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Ok(IpNet::from(addr.to_canonical()));
    }
    let network: IpNet = text
        .parse()
        .map(canonical)
        .map_err(|_| format!("{text:?} is not an IP address or CIDR network"))?;
    if network.trunc() != network {
        return Err(format!(
            "{text} has host bits set; did you mean {}?",
            network.trunc()
        ));
    }
    Ok(network)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> IpNet {
        text.parse().unwrap()
    }

    #[test]
    fn mapped_networks_and_addresses_are_ipv4() {
        assert_eq!(
            parse_network("::ffff:203.0.113.7/128"),
            Ok(net("203.0.113.7/32"))
        );
        assert_eq!(
            parse_network("::ffff:203.0.113.7"),
            Ok(net("203.0.113.7/32"))
        );
        assert_eq!(parse_network("::ffff:0:0/96"), Ok(net("0.0.0.0/0")));
        assert_eq!(
            parse_network("::ffff:198.51.100.0/120"),
            Ok(net("198.51.100.0/24"))
        );
        assert_eq!(
            canonical(net("::ffff:0:0/95")),
            net("::ffff:0:0/95"),
            "wider: IPv6"
        );
        assert_eq!(canonical(net("::fffe:0:0/95")), net("::fffe:0:0/95"));
        assert_eq!(canonical(net("::/64")), net("::/64"));
    }

    #[test]
    fn host_bits_are_an_error_saying_what_was_meant() {
        assert_eq!(
            parse_network("192.0.2.1/24"),
            Err("192.0.2.1/24 has host bits set; did you mean 192.0.2.0/24?".to_string())
        );
        assert_eq!(
            parse_network("::ffff:192.0.2.1/120"),
            Err("::ffff:192.0.2.1/120 has host bits set; did you mean 192.0.2.0/24?".to_string())
        );
        assert!(
            parse_network("10.0.0.0/0")
                .unwrap_err()
                .contains("did you mean 0.0.0.0/0")
        );
        assert!(
            parse_network("not-an-address")
                .unwrap_err()
                .contains("not-an-address")
        );
    }
}
