//! TODO: nftables target (being written).
