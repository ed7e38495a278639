//! `saslguard doctor`: what admins get wrong, checked one by one, each with a verdict and
//! the fix. Reads Postfix's configuration through `postconf` (never parses main.cf
//! itself), the firewall through its own tools, and the database with
//! `PRAGMA integrity_check`.

use std::path::Path;

use serde::Serialize;

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

mod cluster;
mod logs;
mod postfix;

pub use postfix::{
    PostfixSettings, SmtpdService, Value, judge_postfix, parse_services, read_postfix,
};

use crate::config::{Backend, Config, MapType};
use crate::store::BlockTarget;

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

/// One finding: what was checked, the verdict, what was seen, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub check: &'static str,
    pub verdict: Verdict,
    pub message: String,
    /// What to do; `None` on a pass.
    pub fix: Option<String>,
    /// The fix as a command to run (program first), when it is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
}

impl Finding {
    fn pass(check: &'static str, message: impl Into<String>) -> Finding {
        Finding {
            check,
            verdict: Verdict::Pass,
            message: message.into(),
            fix: None,
            command: None,
        }
    }

    fn warn(check: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding {
            check,
            verdict: Verdict::Warn,
            message: message.into(),
            fix: Some(fix.into()),
            command: None,
        }
    }

    fn fail(check: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding {
            check,
            verdict: Verdict::Fail,
            message: message.into(),
            fix: Some(fix.into()),
            command: None,
        }
    }
}

/// Runs every check; `now` (unix seconds) decides which blocks are active.
pub fn examine(config: &Config, db_path: &Path, now: i64) -> Vec<Finding> {
    let mut findings = Vec::new();
    findings.extend(logs::check_logs(config));
    findings.push(check_database(db_path));
    findings.extend(postfix::check_postfix(config));
    findings.extend(check_map_capacity(config, db_path, now));
    findings.extend(check_allowlist(config, db_path));
    findings.extend(cluster::check_cluster(config));
    let db_exists = db_path.exists();
    if db_exists {
        findings.extend(check_rendered(config, db_path, now));
    }
    // With a database, the comparison above judges the firewall's rules (both
    // families, as `status` does); before the first run only the probe can.
    if !db_exists || config.firewall.backend == Backend::NONE {
        findings.push(check_firewall(config));
    }
    findings
}

/// What is rendered at each place against what the database wants: the comparison
/// `status` makes (entries, rules and settings, every address family).
fn check_rendered(config: &Config, db_path: &Path, now: i64) -> Vec<Finding> {
    let compared = || -> anyhow::Result<_> {
        let store = crate::store::SqliteStore::open_read_only(db_path)?;
        let allow = crate::enforce::allowlist(&store, config)?;
        Ok(crate::enforce::drift(&store, config, &allow, now)?.0)
    };
    let places = match compared() {
        Ok(places) => places,
        Err(e) => {
            return vec![Finding::fail(
                "rendered",
                format!("cannot compare what is rendered with the database: {e:#}"),
                "see the database check",
            )];
        }
    };
    places.iter().map(judge_rendered).collect()
}

/// One place's comparison as a finding.
fn judge_rendered(p: &crate::enforce::PlaceStatus) -> Finding {
    let place = p.place;
    if let Some(e) = &p.error {
        return Finding::fail(
            "rendered",
            format!("{place}: cannot read what is rendered: {e}"),
            "run doctor as root with the backend's tools installed (firewall), or check \
             [postfix] map (the map)",
        );
    }
    if !p.missing.is_empty() || !p.unexpected.is_empty() || p.settings_differ {
        let what = if p.missing.is_empty() && p.unexpected.is_empty() {
            "the entries match, but rules or settings differ".to_string()
        } else {
            format!(
                "{} wanted entries missing, {} unexpected",
                p.missing.len(),
                p.unexpected.len()
            )
        };
        return Finding::warn(
            "rendered",
            format!("{place}: not what the database wants: {what}"),
            "`saslguard run` (or `saslguard render`) repairs it; if it comes back, another \
             tool changes the map or flushes the firewall",
        );
    }
    Finding::pass(
        "rendered",
        format!(
            "{place}: {} entries, as the database wants ({} active {} blocks)",
            p.wanted_entries,
            p.active_blocks,
            p.target.as_str()
        ),
    )
}

/// What the policy will make that the configured map type cannot hold, one sentence
/// each (empty for `cidr`): the IPv6 unit (`policy.ipv6_prefix`, when a tier blocks in
/// the map) and the aggregation prefixes (when aggregation is on). `config check`
/// and `doctor` both say it.
pub fn map_type_conflicts(config: &Config) -> Vec<String> {
    let map_type = config.postfix.map_type;
    if map_type == MapType::Cidr {
        return Vec::new();
    }
    let policy = &config.policy;
    let name = map_type.as_str();
    let fix = "set map_type = \"cidr\" in [postfix] to hold networks of any size";
    let mut prefixes: Vec<(&str, IpNet)> = Vec::new();
    let v6 = |len: u8| {
        IpNet::V6(
            Ipv6Net::new(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 3, 4, 5, 6), len)
                .unwrap_or_default()
                .trunc(),
        )
    };
    let v4 = |len: u8| {
        IpNet::V4(
            Ipv4Net::new(Ipv4Addr::new(192, 0, 2, 1), len)
                .unwrap_or_default()
                .trunc(),
        )
    };
    if policy
        .tiers
        .iter()
        .any(|t| t.target == BlockTarget::Postfix)
    {
        prefixes.push(("policy.ipv6_prefix", v6(policy.ipv6_prefix)));
    }
    if policy.aggregate_min > 0 {
        prefixes.push((
            "policy.aggregate_ipv4_prefix",
            v4(policy.aggregate_ipv4_prefix),
        ));
        prefixes.push((
            "policy.aggregate_ipv6_prefix",
            v6(policy.aggregate_ipv6_prefix),
        ));
    }
    let mut conflicts = Vec::new();
    for (setting, example) in prefixes {
        let len = example.prefix_len();
        if crate::render::postfix::cannot_hold(map_type, example).is_some() {
            conflicts.push(format!(
                "{setting} = {len}: a {name} map cannot hold /{len} networks, so every such \
                 block is left out of the map (and reported); {fix}"
            ));
        } else if example.addr().is_ipv6() && len < 128 {
            let (held, not_held): (Vec<IpNet>, Vec<IpNet>) = ipv6_samples(len)
                .into_iter()
                .partition(|net| crate::render::postfix::cannot_hold(map_type, *net).is_none());
            let list = |nets: &[IpNet]| {
                nets.iter()
                    .map(IpNet::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            conflicts.push(format!(
                "{setting} = {len}: a {name} map holds only some IPv6 /{len} networks \
                 (e.g. {} but not {}); the others are left out of the map (and reported); \
                 {fix}",
                list(&held),
                list(&not_held)
            ));
        }
    }
    conflicts
}

/// IPv6 networks of length `len` (a multiple of 16, 32..=112) in the shapes that
/// decide whether an exact-match map holds them: no zero group, ending in a zero
/// group, and (when there is room) a run of zero groups inside.
fn ipv6_samples(len: u8) -> Vec<IpNet> {
    let groups = usize::from(len / 16);
    let mut shapes = vec![
        [0x2001, 0xdb8, 1, 2, 3, 4, 5, 6],
        [0x2001, 0xdb8, 1, 2, 3, 4, 5, 6],
    ];
    shapes[1][groups - 1] = 0;
    if groups >= 4 {
        shapes.push([0x2001, 0, 0, 5, 6, 7, 8, 9]);
    }
    shapes
        .into_iter()
        .filter_map(|s| Ipv6Net::new(Ipv6Addr::from(s), len).ok())
        .map(|net| IpNet::V6(net.trunc()))
        .collect()
}

/// The map type against the policy ([`map_type_conflicts`]), and what is active now:
/// blocks the map cannot hold, and a reload still owed.
fn check_map_capacity(config: &Config, db_path: &Path, now: i64) -> Vec<Finding> {
    let mut findings: Vec<Finding> = map_type_conflicts(config)
        .into_iter()
        .map(|conflict| {
            Finding::warn(
                "map capacity",
                conflict,
                "set [postfix] map_type = \"cidr\" (then `saslguard run`), or change the policy",
            )
        })
        .collect();
    if !db_path.exists() {
        return findings;
    }
    let read_active = || -> anyhow::Result<_> {
        let store = crate::store::SqliteStore::open_read_only(db_path)?;
        let allow = crate::enforce::allowlist(&store, config)?;
        let map = crate::render::postfix::PostfixMap::new(&config.postfix);
        let wanted = crate::enforce::wanted_at(&store, BlockTarget::Postfix, &map, &allow, now)?;
        let owed = crate::enforce::reload_owed_since(&store, "postfix")?;
        Ok((wanted.unrenderable, owed))
    };
    let active = read_active();
    match active {
        Ok((unrenderable, owed)) => {
            if !unrenderable.is_empty() {
                let named: Vec<String> = unrenderable
                    .iter()
                    .take(10)
                    .map(|(net, _)| net.to_string())
                    .collect();
                findings.push(Finding::fail(
                    "map capacity",
                    format!(
                        "{} active block(s) cannot be held by the {} map and are not enforced: {}{}",
                        unrenderable.len(),
                        config.postfix.map_type.as_str(),
                        named.join(", "),
                        if unrenderable.len() > 10 { ", ..." } else { "" }
                    ),
                    "set [postfix] map_type = \"cidr\" and run `saslguard run`, or unblock them",
                ));
            }
            if let Some(since) = owed {
                findings.push(Finding::fail(
                    "map reload",
                    format!(
                        "the Postfix map changed at {} but its reload has not succeeded since: \
                         Postfix may still use the old map",
                        crate::report::format_time(since)
                    ),
                    "check [postfix] reload_command (try it by hand); every `saslguard run` retries it",
                ));
            }
        }
        Err(e) => findings.push(Finding::fail(
            "map capacity",
            format!("cannot read the active blocks: {e:#}"),
            "see the database check",
        )),
    }
    findings
}

/// A configuration that cannot be loaded, as a finding: `doctor` says so (also in
/// JSON) instead of running checks that need it.
pub fn config_failure(message: String) -> Finding {
    Finding::fail(
        "config",
        message,
        "fix the configuration (`saslguard config check` lists every error with its line); \
         the other checks need it",
    )
}

/// The widest allowlist entry that is not a mistake: an IPv4 /8, an IPv6 /32 (a large
/// provider's whole allocation). Anything wider exempts far more than anyone trusts.
const WIDEST_ALLOWED_IPV4: u8 = 8;
/// See [`WIDEST_ALLOWED_IPV4`].
const WIDEST_ALLOWED_IPV6: u8 = 32;

/// Allowlist entries wider than an IPv4 /8 or an IPv6 /32 (`0.0.0.0/0` turns blocking
/// off for a whole family), from the config and from `allow add`.
fn check_allowlist(config: &Config, db_path: &Path) -> Vec<Finding> {
    let mut entries: Vec<(IpNet, &str)> = config
        .allow
        .networks
        .iter()
        .map(|net| (*net, "[allow] networks in the config"))
        .collect();
    if db_path.exists() {
        let stored = crate::store::SqliteStore::open_read_only(db_path)
            .and_then(|s| crate::store::BlockStore::allowlist(&s));
        match stored {
            Ok(stored) => entries.extend(
                stored
                    .into_iter()
                    .map(|entry| (entry.network, "`saslguard allow remove`")),
            ),
            Err(e) => {
                return vec![Finding::fail(
                    "allowlist",
                    format!("cannot read the stored allowlist: {e}"),
                    "see the database check",
                )];
            }
        }
    }
    let wide: Vec<Finding> = entries
        .iter()
        .filter_map(|(net, remedy)| {
            let (widest, family) = match net {
                IpNet::V4(_) => (WIDEST_ALLOWED_IPV4, "IPv4"),
                IpNet::V6(_) => (WIDEST_ALLOWED_IPV6, "IPv6"),
            };
            (net.prefix_len() < widest).then(|| {
                let what = if net.prefix_len() == 0 {
                    format!("no {family} address is ever blocked")
                } else {
                    "none of its addresses is ever blocked".to_string()
                };
                Finding::warn(
                    "allowlist",
                    format!("{net} is allowlisted, wider than a /{widest}: {what}"),
                    format!("narrow it to the networks you trust ({remedy})"),
                )
            })
        })
        .collect();
    if wide.is_empty() {
        vec![Finding::pass(
            "allowlist",
            format!(
                "no entry is wider than /{WIDEST_ALLOWED_IPV4} (IPv4) or \
                 /{WIDEST_ALLOWED_IPV6} (IPv6) ({} entries{})",
                entries.len(),
                if config.allow.loopback {
                    ", and loopback"
                } else {
                    ""
                }
            ),
        )]
    } else {
        wide
    }
}

fn check_database(db_path: &Path) -> Finding {
    if !db_path.exists() {
        return Finding::warn(
            "database",
            format!("{} does not exist yet", db_path.display()),
            "the first `saslguard run` creates it (its directory must exist and be writable)",
        );
    }
    let result =
        rusqlite::Connection::open_with_flags(db_path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .and_then(|conn| {
                conn.query_row("PRAGMA integrity_check", [], |row| row.get::<_, String>(0))
            });
    match result {
        Ok(verdict) if verdict == "ok" => Finding::pass(
            "database",
            format!(
                "{} opens and passes PRAGMA integrity_check",
                db_path.display()
            ),
        ),
        Ok(verdict) => Finding::fail(
            "database",
            format!(
                "{} fails PRAGMA integrity_check: {verdict}",
                db_path.display()
            ),
            "restore it from a backup, or move it away: the next run starts a new one",
        ),
        Err(e) => Finding::fail(
            "database",
            format!("cannot open {}: {e}", db_path.display()),
            "check the path (--db, SASLGUARD_DB or database = in the config) and permissions",
        ),
    }
}

fn check_firewall(config: &Config) -> Finding {
    use crate::render::firewall::{self, Probe};
    let Some(backend) = firewall::configured(&config.firewall) else {
        return Finding::warn(
            "firewall",
            "no firewall backend (backend = \"none\"): firewall-tier blocks are only recorded",
            format!(
                "set [firewall] backend to {} to drop the worst offenders",
                Backend::choices().trim_end_matches(" or none")
            ),
        );
    };
    let name = config.firewall.name.as_str();
    match backend.probe() {
        Probe::Unavailable { error, packages } => Finding::fail(
            "firewall",
            error,
            format!(
                "install {} (Debian: apt-get install {packages})",
                backend.name()
            ),
        ),
        Probe::Hooked => Finding::pass(
            "firewall",
            format!("saslguard's {name} rules are hooked into input"),
        ),
        Probe::NotHooked => Finding::warn(
            "firewall",
            format!("saslguard's {name} rules are not in place (yet)"),
            "run `saslguard run` (as root): it renders them; if they vanish again, \
             another tool flushes the firewall",
        ),
    }
}
