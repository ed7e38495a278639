//! The firewall backends: one module each (`nftables`, `ipset`, `iptables`), what they
//! share in [`base`], and the [`Firewall`] trait they implement beyond rendering
//! ([`Target`]): finding and removing what saslguard created in a backend, or under a
//! name, that the config no longer uses (without it, switching from iptables to
//! nftables, to `none`, or renaming `[firewall] name` would leave the old chain, sets
//! or table dropping traffic that no block stands for any more), and a probe for
//! `doctor`.
//!
//! Adding a backend: its module here, implementing [`Target`], [`Firewall`] and
//! [`Backend`], and one line in [`BACKENDS`]. The config's `backend` name, `status`,
//! `run`'s clean-up of former places and `doctor` all go through that list.

pub(crate) mod base;
pub mod ipset;
pub mod iptables;
pub mod nftables;

use super::Target;
use crate::config::FirewallConfig;

/// Every firewall backend, by the name the config's `backend` takes: adding one is its
/// module and one line here.
pub const BACKENDS: &[Registered] = &[
    Registered::of::<nftables::Nftables>(),
    Registered::of::<ipset::Ipset>(),
    Registered::of::<iptables::Iptables>(),
];

/// A firewall backend: a [`Target`] that can also tell whether any of saslguard's
/// objects exist under its name, remove them all, and probe the machine for doctor.
pub trait Firewall: Target {
    /// Whether anything saslguard creates in this backend under this name exists (a
    /// table, a set, a chain, a rule or jump of saslguard's).
    fn present(&self) -> anyhow::Result<bool>;

    /// Removes everything saslguard creates in this backend under this name, and
    /// nothing else. What is not there is skipped, so removing twice is no error.
    fn teardown(&self) -> anyhow::Result<()>;

    /// Whether the backend's tool runs and saslguard's rules are hooked into the input
    /// path: what `doctor` can say before the first run.
    fn probe(&self) -> Probe;
}

/// How a backend is made from the config: what [`BACKENDS`] lists.
pub trait Backend: Firewall + Sized + 'static {
    /// The name in the config (`backend = "nftables"`), equal to [`Target::name`].
    const NAME: &'static str;

    /// The backend for `config` (its name, ports and programs).
    fn new(config: &FirewallConfig) -> Self;
}

/// One entry of [`BACKENDS`]: a backend's name and constructor.
#[derive(Clone, Copy)]
pub struct Registered {
    /// The name in the config and in status.
    pub name: &'static str,
    build: fn(&FirewallConfig) -> Box<dyn Firewall>,
}

impl Registered {
    /// The entry of backend `B`.
    pub const fn of<B: Backend>() -> Registered {
        Registered {
            name: B::NAME,
            build: build::<B>,
        }
    }
}

fn build<B: Backend>(config: &FirewallConfig) -> Box<dyn Firewall> {
    Box::new(B::new(config))
}

/// The registered backend called `name`.
pub fn registered(name: &str) -> Option<&'static Registered> {
    BACKENDS.iter().find(|backend| backend.name == name)
}

/// What a backend's [`Firewall::probe`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// saslguard's rules are in place and hooked into input.
    Hooked,
    /// The tool runs, but saslguard's rules are not in place (yet).
    NotHooked,
    /// The tool could not run: the error, and the Debian packages that provide it.
    Unavailable {
        error: String,
        packages: &'static str,
    },
}

impl Probe {
    /// The probe's finding from running a listing: `Unavailable` when it could not
    /// run, else whether it succeeded and `hooked` holds for its output.
    pub(crate) fn from_listing(
        listing: anyhow::Result<(bool, super::command::Output)>,
        packages: &'static str,
        hooked: impl FnOnce(&str) -> bool,
    ) -> Probe {
        match listing {
            Err(e) => Probe::Unavailable {
                error: format!("{e:#}"),
                packages,
            },
            Ok((true, out)) if hooked(&out.stdout) => Probe::Hooked,
            Ok(_) => Probe::NotHooked,
        }
    }
}

/// The backend the config renders to, or `None` for `backend = "none"`.
pub fn configured(config: &FirewallConfig) -> Option<Box<dyn Firewall>> {
    let backend = registered(config.backend.name()?)?;
    Some((backend.build)(config))
}

/// The backend named `backend` (a [`Target::name`]: `nftables`, `ipset`, `iptables`)
/// under `name`, with the rest of `config`; `None` for an unknown backend name.
pub fn by_name(backend: &str, name: &str, config: &FirewallConfig) -> Option<Box<dyn Firewall>> {
    let backend = registered(backend)?;
    Some((backend.build)(&FirewallConfig {
        name: name.to_string(),
        ..config.clone()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Backend as Configured;

    #[test]
    fn backends_are_found_by_their_target_name() {
        let config = FirewallConfig::default();
        for backend in ["nftables", "ipset", "iptables"] {
            let target = by_name(backend, "other", &config).expect("a backend");
            assert_eq!(target.name(), backend);
        }
        assert!(by_name("pf", "other", &config).is_none());
        let none = FirewallConfig {
            backend: Configured::NONE,
            ..config
        };
        assert!(configured(&none).is_none());
    }

    #[test]
    fn every_registered_backend_is_built_under_its_name_and_the_config_takes_it() {
        for backend in BACKENDS {
            let config = FirewallConfig {
                backend: Configured::named(backend.name).expect("a config name"),
                ..FirewallConfig::default()
            };
            let built = configured(&config).expect("a backend");
            assert_eq!(built.name(), backend.name);
        }
        let mut names: Vec<&str> = BACKENDS.iter().map(|b| b.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), BACKENDS.len(), "one entry per name");
    }
}
