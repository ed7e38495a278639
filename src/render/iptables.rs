//! TODO: iptables target (being written).
