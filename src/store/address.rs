//! How addresses are stored: 16 bytes, IPv4 as IPv4-mapped IPv6, so that byte order is
//! address order and every network (a /24, a /64) is one contiguous range of the index.

use std::net::{IpAddr, Ipv6Addr};

/// The 16-byte key of an address: IPv6 as is, IPv4 as `::ffff:a.b.c.d`.
pub fn to_key(addr: IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// The address behind a stored key; `None` when the stored value is not 16 bytes.
pub fn from_key(key: &[u8]) -> Option<IpAddr> {
    let octets: [u8; 16] = key.try_into().ok()?;
    Some(IpAddr::V6(Ipv6Addr::from(octets)).to_canonical())
}

/// Whether a key holds an IPv4 address.
pub fn key_is_v4(key: &[u8; 16]) -> bool {
    key[..12] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]
}

/// The key with every bit past the network prefix cleared: IPv4 keys keep `v4_prefix`
/// bits of the address, IPv6 keys `v6_prefix` bits.
pub fn network_key(key: &[u8; 16], v4_prefix: u8, v6_prefix: u8) -> [u8; 16] {
    let keep_bits = if key_is_v4(key) {
        96 + u32::from(v4_prefix.min(32))
    } else {
        u32::from(v6_prefix.min(128))
    };
    let value = u128::from_be_bytes(*key);
    let mask = if keep_bits == 0 {
        0
    } else {
        u128::MAX << (128 - keep_bits)
    };
    (value & mask).to_be_bytes()
}

/// The network in CIDR notation for a masked key (`203.0.113.0/24`, `2001:db8::/64`).
pub fn network_label(key: &[u8; 16], v4_prefix: u8, v6_prefix: u8) -> String {
    match IpAddr::V6(Ipv6Addr::from(*key)).to_canonical() {
        IpAddr::V4(v4) => format!("{v4}/{}", v4_prefix.min(32)),
        v6 => format!("{v6}/{}", v6_prefix.min(128)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn ipv4_network_masks_host_bits() {
        let key = to_key("203.0.113.77".parse().unwrap());
        let net = network_key(&key, 24, 64);
        assert_eq!(network_label(&net, 24, 64), "203.0.113.0/24");
        let net20 = network_key(&key, 20, 64);
        assert_eq!(network_label(&net20, 20, 64), "203.0.112.0/20");
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
    fn a_stored_value_of_the_wrong_length_is_no_address() {
        assert_eq!(from_key(&[1, 2, 3]), None);
    }
}
