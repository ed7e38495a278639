//! How addresses are stored: 17 bytes, a family tag then the address, so that the two
//! families are disjoint key ranges and, inside a family, byte order is address order:
//! every network (a /24, a /64) is one contiguous range of the index, and no range of
//! one family ever holds a key of the other.
//!
//! IPv4 keys are `4` followed by the IPv4-mapped form `::ffff:a.b.c.d` (so migration 007
//! only had to prefix the 16-byte keys of before); IPv6 keys are `6` followed by the
//! address. IPv4-mapped IPv6 addresses are IPv4 (see [`crate::network`]).

use std::net::{IpAddr, Ipv6Addr};

use ipnet::IpNet;

/// A stored address key (see the module documentation).
pub type Key = [u8; KEY_LEN];

/// The length of a stored key.
pub const KEY_LEN: usize = 17;

/// The tag of IPv4 keys.
const V4: u8 = 4;
/// The tag of IPv6 keys.
const V6: u8 = 6;

/// The key of an address; IPv4-mapped IPv6 is keyed as the IPv4 address it is.
pub fn to_key(addr: IpAddr) -> Key {
    family_key(addr.to_canonical())
}

/// The key of an address in its own family as written (no normalisation): for the
/// ends of a range, whose family is the network's (the last address of `::/80` is
/// `::ffff:255.255.255.255`, and still IPv6 there).
fn family_key(addr: IpAddr) -> Key {
    let (tag, octets) = match addr {
        IpAddr::V4(v4) => (V4, v4.to_ipv6_mapped().octets()),
        IpAddr::V6(v6) => (V6, v6.octets()),
    };
    let mut key = [0; KEY_LEN];
    key[0] = tag;
    key[1..].copy_from_slice(&octets);
    key
}

/// The address behind a stored key; `None` when the stored value is no key.
pub fn from_key(key: &[u8]) -> Option<IpAddr> {
    let key: &Key = key.try_into().ok()?;
    let octets: [u8; 16] = key[1..].try_into().ok()?;
    let v6 = Ipv6Addr::from(octets);
    match key[0] {
        V4 => v6.to_ipv4_mapped().map(IpAddr::V4),
        V6 => Some(IpAddr::V6(v6)),
        _ => None,
    }
}

/// A stored value as a key; `None` when it is not one (the wrong length).
pub fn key_of(value: &[u8]) -> Option<Key> {
    value.try_into().ok()
}

/// Whether a key holds an IPv4 address.
pub fn key_is_v4(key: &Key) -> bool {
    key[0] == V4
}

/// The first and last key of a network: the network is exactly the keys in between,
/// all of its own family. IPv4-mapped IPv6 networks are the IPv4 networks they are.
pub fn key_range(network: &IpNet) -> (Key, Key) {
    let network = crate::network::canonical(*network);
    (
        family_key(network.network()),
        family_key(network.broadcast()),
    )
}

/// The key with every bit past the network prefix cleared: IPv4 keys keep `v4_prefix`
/// bits of the address, IPv6 keys `v6_prefix` bits. The tag stays.
pub fn network_key(key: &Key, v4_prefix: u8, v6_prefix: u8) -> Key {
    let keep_bits = if key_is_v4(key) {
        96 + u32::from(v4_prefix.min(32))
    } else {
        u32::from(v6_prefix.min(128))
    };
    let mut octets = [0; 16];
    octets.copy_from_slice(&key[1..]);
    let value = u128::from_be_bytes(octets);
    let mask = if keep_bits == 0 {
        0
    } else {
        u128::MAX << (128 - keep_bits)
    };
    let mut out = *key;
    out[1..].copy_from_slice(&(value & mask).to_be_bytes());
    out
}

/// The network in CIDR notation for a masked key (`203.0.113.0/24`, `2001:db8::/64`).
pub fn network_label(key: &Key, v4_prefix: u8, v6_prefix: u8) -> String {
    match from_key(key) {
        Some(IpAddr::V4(v4)) => format!("{v4}/{}", v4_prefix.min(32)),
        Some(v6) => format!("{v6}/{}", v6_prefix.min(128)),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> IpNet {
        text.parse().unwrap()
    }

    #[test]
    fn ipv4_round_trips_as_ipv4() {
        let addr: IpAddr = "203.0.113.7".parse().unwrap();
        assert_eq!(from_key(&to_key(addr)), Some(addr));
        assert!(key_is_v4(&to_key(addr)));
    }

    #[test]
    fn ipv6_round_trips() {
        let addr: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(from_key(&to_key(addr)), Some(addr));
        assert!(!key_is_v4(&to_key(addr)));
    }

    #[test]
    fn ipv4_mapped_ipv6_is_keyed_as_ipv4() {
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        let v4: IpAddr = "203.0.113.7".parse().unwrap();
        assert_eq!(to_key(mapped), to_key(v4));
        assert_eq!(
            key_range(&net("::ffff:203.0.113.0/120")),
            key_range(&net("203.0.113.0/24"))
        );
    }

    #[test]
    fn no_ipv6_range_holds_an_ipv4_key_and_the_reverse() {
        let v4 = [
            to_key("0.0.0.0".parse().unwrap()),
            to_key("255.255.255.255".parse().unwrap()),
        ];
        for wide in ["::/0", "::/64", "::fffe:0:0/95", "::/96", "::ffff:0:0/95"] {
            let (first, last) = key_range(&net(wide));
            assert!(v4.iter().all(|k| *k < first || *k > last), "{wide}");
        }
        let (first, last) = key_range(&net("::/80"));
        assert_eq!(
            (first[0], last[0]),
            (V6, V6),
            "its last address looks IPv4-mapped"
        );
        let (first, last) = key_range(&net("0.0.0.0/0"));
        for v6 in ["::", "::1", "::fffe:ffff:ffff", "::1:0:0:0", "ffff::1"] {
            let key = to_key(v6.parse().unwrap());
            assert!(key < first || key > last, "{v6}");
        }
    }

    #[test]
    fn ipv4_network_masks_host_bits() {
        let key = to_key("203.0.113.77".parse().unwrap());
        let net = network_key(&key, 24, 64);
        assert_eq!(network_label(&net, 24, 64), "203.0.113.0/24");
        let net20 = network_key(&key, 20, 64);
        assert_eq!(network_label(&net20, 20, 64), "203.0.112.0/20");
        assert_eq!(network_label(&network_key(&key, 0, 64), 0, 64), "0.0.0.0/0");
    }

    #[test]
    fn ipv6_network_masks_host_bits() {
        let key = to_key("2001:db8:1:2:3:4:5:6".parse().unwrap());
        let net = network_key(&key, 24, 64);
        assert_eq!(network_label(&net, 24, 64), "2001:db8:1:2::/64");
        assert_eq!(network_label(&network_key(&key, 24, 0), 24, 0), "::/0");
    }

    #[test]
    fn keys_order_like_addresses() {
        let a = to_key("10.0.0.255".parse().unwrap());
        let b = to_key("10.0.1.0".parse().unwrap());
        assert!(a < b);
    }

    #[test]
    fn a_stored_value_of_the_wrong_length_or_tag_is_no_address() {
        assert_eq!(from_key(&[1, 2, 3]), None);
        assert_eq!(from_key(&[0; 16]), None);
        let mut key = to_key("::1".parse().unwrap());
        key[0] = 5;
        assert_eq!(from_key(&key), None);
    }
}
