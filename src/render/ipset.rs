//! TODO: ipset target (being written).
