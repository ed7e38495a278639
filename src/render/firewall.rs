//! What the three firewall backends share beyond rendering: finding and removing what
//! saslguard created in a backend, or under a name, that the config no longer uses.
//! Without it, switching from iptables to nftables (or to `none`, or renaming
//! `[firewall] name`) would leave the old chain, sets or table dropping traffic that
//! no block stands for any more.

use super::Target;
use super::ipset::Ipset;
use super::iptables::Iptables;
use super::nftables::Nftables;
use crate::config::{Backend, FirewallConfig};

/// A firewall backend: a [`Target`] that can also tell whether any of saslguard's
/// objects exist under its name and remove them all.
pub trait Firewall: Target {
    /// Whether anything saslguard creates in this backend under this name exists (a
    /// table, a set, a chain, a rule or jump of saslguard's).
    fn present(&self) -> anyhow::Result<bool>;

    /// Removes everything saslguard creates in this backend under this name, and
    /// nothing else. What is not there is skipped, so removing twice is no error.
    fn teardown(&self) -> anyhow::Result<()>;
}

/// The backend the config renders to, or `None` for `backend = "none"`.
pub fn configured(config: &FirewallConfig) -> Option<Box<dyn Firewall>> {
    Some(match config.backend {
        Backend::Nftables => Box::new(Nftables::new(config)),
        Backend::Ipset => Box::new(Ipset::new(config)),
        Backend::Iptables => Box::new(Iptables::new(config)),
        Backend::None => return None,
    })
}

/// The backend named `backend` (a [`Target::name`]: `nftables`, `ipset`, `iptables`)
/// under `name`, with the rest of `config`; `None` for an unknown backend name.
pub fn by_name(backend: &str, name: &str, config: &FirewallConfig) -> Option<Box<dyn Firewall>> {
    let backend = match backend {
        "nftables" => Backend::Nftables,
        "ipset" => Backend::Ipset,
        "iptables" => Backend::Iptables,
        _ => return None,
    };
    configured(&FirewallConfig {
        backend,
        name: name.to_string(),
        ..config.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_are_found_by_their_target_name() {
        let config = FirewallConfig::default();
        for backend in ["nftables", "ipset", "iptables"] {
            let target = by_name(backend, "other", &config).expect("a backend");
            assert_eq!(target.name(), backend);
        }
        assert!(by_name("pf", "other", &config).is_none());
        let none = FirewallConfig {
            backend: Backend::None,
            ..config
        };
        assert!(configured(&none).is_none());
    }
}
