//! `saslguard doctor`: what admins get wrong, checked one by one, each with a verdict and
//! the fix. Reads Postfix's configuration through `postconf` (never parses main.cf
//! itself), the firewall through its own tools, and the database with
//! `PRAGMA integrity_check`.

use std::path::Path;

use serde::Serialize;

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::config::{Backend, Config, MapType};
use crate::render::command;
use crate::store::blocks::BlockTarget;

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
}

impl Finding {
    fn pass(check: &'static str, message: impl Into<String>) -> Finding {
        Finding {
            check,
            verdict: Verdict::Pass,
            message: message.into(),
            fix: None,
        }
    }

    fn warn(check: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding {
            check,
            verdict: Verdict::Warn,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }

    fn fail(check: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding {
            check,
            verdict: Verdict::Fail,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }
}

/// Runs every check; `now` (unix seconds) decides which blocks are active.
pub fn examine(config: &Config, db_path: &Path, now: i64) -> Vec<Finding> {
    let mut findings = Vec::new();
    findings.extend(check_logs(config));
    findings.push(check_database(db_path));
    findings.extend(check_postfix(config));
    findings.extend(check_map_capacity(config, db_path, now));
    findings.push(check_firewall(config));
    findings
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
        let store = crate::store::Store::open(db_path)?;
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

fn check_logs(config: &Config) -> Vec<Finding> {
    if config.logs.is_empty() {
        return vec![Finding::fail(
            "logs",
            "no log is configured",
            "set logs = [\"/var/log/mail.log\"] (or Postfix's maillog_file) in the config",
        )];
    }
    config
        .logs
        .iter()
        .map(|log| match std::fs::File::open(log) {
            Ok(_) => Finding::pass("logs", format!("{} is readable", log.display())),
            Err(e) => Finding::fail(
                "logs",
                format!("cannot read {}: {e}", log.display()),
                "point logs = [...] at the file Postfix writes (syslog's mail log or \
                 Postfix's maillog_file), and run saslguard as a user that can read it",
            ),
        })
        .collect()
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

/// Postfix's settings as `postconf` reports them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PostfixSettings {
    /// `postconf -m`: supported lookup table types.
    pub map_types: Vec<String>,
    /// Global values of the parameters doctor reads.
    pub smtpd_client_restrictions: String,
    pub smtpd_discard_ehlo_keyword_address_maps: String,
    pub smtpd_delay_reject: String,
    pub smtpd_sasl_auth_enable: String,
    /// smtpd services from `postconf -M`, each with its `-o` overrides (`postconf -P`).
    pub services: Vec<SmtpdService>,
}

/// One smtpd service from master.cf.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SmtpdService {
    /// `smtp/inet`, `submission/inet`, ...
    pub name: String,
    /// `-o name=value` overrides.
    pub overrides: Vec<(String, String)>,
}

impl SmtpdService {
    fn setting<'a>(&'a self, name: &str, global: &'a str) -> &'a str {
        self.overrides
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map_or(global, |(_, v)| v.as_str())
    }
}

/// Parses `postconf -M` (one service per line: name type private unpriv chroot wakeup
/// maxproc command args...) into the smtpd services, and `postconf -P`
/// (`service/type/parameter = value`) into their overrides.
pub fn parse_services(master: &str, overrides: &str) -> Vec<SmtpdService> {
    let mut services: Vec<SmtpdService> = master
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.len() >= 8 && fields[7] == "smtpd").then(|| SmtpdService {
                name: format!("{}/{}", fields[0], fields[1]),
                overrides: Vec::new(),
            })
        })
        .collect();
    for line in overrides.lines() {
        let Some((key, value)) = line.split_once(" = ").or_else(|| line.split_once('=')) else {
            continue;
        };
        let key = key.trim();
        let Some((service, parameter)) = key.rsplit_once('/') else {
            continue;
        };
        if let Some(s) = services.iter_mut().find(|s| s.name == service) {
            s.overrides
                .push((parameter.to_string(), value.trim().to_string()));
        }
    }
    services
}

fn postconf(config: &Config, args: &[&str]) -> anyhow::Result<String> {
    let mut argv: Vec<String> = Vec::new();
    if let Some(dir) = &config.postfix.config_directory {
        argv.push("-c".into());
        argv.push(dir.to_string_lossy().into_owned());
    }
    argv.extend(args.iter().map(|a| a.to_string()));
    Ok(command::run("postconf", &argv, None)?.stdout)
}

/// Reads the settings doctor needs from `postconf`.
pub fn read_postfix(config: &Config) -> anyhow::Result<PostfixSettings> {
    let values = postconf(
        config,
        &[
            "-h",
            "smtpd_client_restrictions",
            "smtpd_discard_ehlo_keyword_address_maps",
            "smtpd_delay_reject",
            "smtpd_sasl_auth_enable",
        ],
    )?;
    let mut lines = values.lines().map(str::trim).map(String::from);
    let mut next = || lines.next().unwrap_or_default();
    Ok(PostfixSettings {
        smtpd_client_restrictions: next(),
        smtpd_discard_ehlo_keyword_address_maps: next(),
        smtpd_delay_reject: next(),
        smtpd_sasl_auth_enable: next(),
        map_types: postconf(config, &["-m"])?
            .lines()
            .map(|l| l.trim().to_string())
            .collect(),
        services: parse_services(&postconf(config, &["-M"])?, &postconf(config, &["-P"])?),
    })
}

/// Splits a Postfix list value (commas and/or white space) into its words.
fn words(value: &str) -> Vec<&str> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Whether `restrictions` holds `check_client_access MAP`.
fn checks_map(restrictions: &str, map: &str) -> bool {
    words(restrictions)
        .windows(2)
        .any(|pair| pair[0] == "check_client_access" && pair[1] == map)
}

/// The Postfix checks over already-read settings: pure, so they are unit-tested.
pub fn judge_postfix(config: &Config, settings: &PostfixSettings) -> Vec<Finding> {
    let mut findings = Vec::new();
    let map_type = config.postfix.map_type.as_str();
    let map = format!("{map_type}:{}", config.postfix.map.display());
    if settings.map_types.iter().any(|t| t == map_type) {
        findings.push(Finding::pass(
            "map type",
            format!("Postfix supports {map_type} tables"),
        ));
    } else {
        findings.push(Finding::fail(
            "map type",
            format!("this Postfix does not support {map_type} tables (postconf -m)"),
            match config.postfix.map_type {
                MapType::Lmdb => "apt-get install postfix-lmdb, or set map_type = \"cidr\"",
                _ => "set [postfix] map_type to one that `postconf -m` lists, e.g. \"cidr\"",
            },
        ));
    }
    let hides_auth =
        words(&settings.smtpd_discard_ehlo_keyword_address_maps).contains(&map.as_str());
    let checked = checks_map(&settings.smtpd_client_restrictions, &map);
    if checked || hides_auth {
        findings.push(Finding::pass(
            "map in use",
            if checked {
                format!("smtpd_client_restrictions checks {map}")
            } else {
                format!("smtpd_discard_ehlo_keyword_address_maps hides AUTH from {map}")
            },
        ));
    } else {
        findings.push(Finding::fail(
            "map in use",
            format!("no check_client_access {map} in smtpd_client_restrictions: blocks are not enforced"),
            format!("postconf -e 'smtpd_client_restrictions = check_client_access {map}' (before any permit), then postfix reload"),
        ));
    }
    for service in &settings.services {
        let restrictions = service.setting(
            "smtpd_client_restrictions",
            &settings.smtpd_client_restrictions,
        );
        let auth = service.setting("smtpd_sasl_auth_enable", &settings.smtpd_sasl_auth_enable);
        if auth != "yes" {
            continue;
        }
        if checked && !checks_map(restrictions, &map) && !hides_auth {
            findings.push(Finding::fail(
                "map in use",
                format!(
                    "{} overrides smtpd_client_restrictions without {map}",
                    service.name
                ),
                format!(
                    "add check_client_access {map} to its -o smtpd_client_restrictions in master.cf"
                ),
            ));
        }
        let delay = service.setting("smtpd_delay_reject", &settings.smtpd_delay_reject);
        if hides_auth {
            continue;
        }
        if delay == "no" {
            findings.push(Finding::pass(
                "smtpd_delay_reject",
                format!(
                    "{} offers AUTH and rejects blocked clients at once (smtpd_delay_reject = no)",
                    service.name
                ),
            ));
        } else {
            findings.push(Finding::warn(
                "smtpd_delay_reject",
                format!(
                    "{} offers AUTH with smtpd_delay_reject = {delay}: a blocked client can still try AUTH \
                     (restrictions wait for RCPT TO)",
                    service.name
                ),
                format!(
                    "postconf -e smtpd_delay_reject=no (or -o smtpd_delay_reject=no for {} in master.cf), \
                     or list the map in smtpd_discard_ehlo_keyword_address_maps with value auth",
                    service.name
                ),
            ));
        }
    }
    findings
}

fn check_postfix(config: &Config) -> Vec<Finding> {
    match read_postfix(config) {
        Ok(settings) => judge_postfix(config, &settings),
        Err(e) => vec![Finding::fail(
            "postfix",
            format!("cannot read Postfix's settings: {e:#}"),
            "install Postfix, or set [postfix] config_directory to its configuration directory",
        )],
    }
}

fn check_firewall(config: &Config) -> Finding {
    let name = config.firewall.name.as_str();
    let (program, probe): (&str, Vec<String>) = match config.firewall.backend {
        Backend::None => {
            return Finding::warn(
                "firewall",
                "no firewall backend (backend = \"none\"): firewall-tier blocks are only recorded",
                "set [firewall] backend to nftables, ipset or iptables to drop the worst offenders",
            );
        }
        Backend::Nftables => (
            "nft",
            vec![
                "list".into(),
                "chain".into(),
                "inet".into(),
                name.into(),
                "input".into(),
            ],
        ),
        Backend::Ipset => ("iptables", vec!["-S".into(), "INPUT".into()]),
        Backend::Iptables => (
            "iptables",
            vec!["-C".into(), "INPUT".into(), "-j".into(), name.into()],
        ),
    };
    match command::run_status(program, &probe, None) {
        Err(e) => Finding::fail(
            "firewall",
            format!("{e:#}"),
            format!(
                "install {program} (Debian: apt-get install {})",
                match program {
                    "nft" => "nftables",
                    _ => "iptables ipset",
                }
            ),
        ),
        Ok((ok, out)) => {
            let hooked = ok
                && match config.firewall.backend {
                    Backend::Ipset => out.stdout.contains(&format!("--match-set {name}-v4")),
                    Backend::Nftables => out.stdout.contains("hook input"),
                    _ => true,
                };
            if hooked {
                Finding::pass(
                    "firewall",
                    format!("saslguard's {name} rules are hooked into input"),
                )
            } else {
                Finding::warn(
                    "firewall",
                    format!("saslguard's {name} rules are not in place (yet)"),
                    "run `saslguard run` (as root): it renders them; if they vanish again, \
                     another tool flushes the firewall",
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: &str = "\
smtp       inet  n       -       y       -       -       smtpd
pickup     unix  n       -       y       60      1       pickup
submission inet  n       -       y       -       -       smtpd -o syslog_name=postfix/submission -o smtpd_sasl_auth_enable=yes -o smtpd_delay_reject=no
smtps      inet  n       -       y       -       -       smtpd -o smtpd_sasl_auth_enable=yes
";
    const OVERRIDES: &str = "\
submission/inet/syslog_name = postfix/submission
submission/inet/smtpd_sasl_auth_enable = yes
submission/inet/smtpd_delay_reject = no
smtps/inet/smtpd_sasl_auth_enable = yes
";

    fn settings(restrictions: &str, delay: &str) -> PostfixSettings {
        PostfixSettings {
            map_types: vec!["cidr".into(), "hash".into(), "texthash".into()],
            smtpd_client_restrictions: restrictions.into(),
            smtpd_discard_ehlo_keyword_address_maps: String::new(),
            smtpd_delay_reject: delay.into(),
            smtpd_sasl_auth_enable: "no".into(),
            services: parse_services(MASTER, OVERRIDES),
        }
    }

    #[test]
    fn services_and_their_overrides_are_read() {
        let services = parse_services(MASTER, OVERRIDES);
        let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["smtp/inet", "submission/inet", "smtps/inet"]);
        assert_eq!(services[1].setting("smtpd_delay_reject", "yes"), "no");
        assert_eq!(services[2].setting("smtpd_delay_reject", "yes"), "yes");
    }

    #[test]
    fn a_good_setup_passes_and_the_delay_reject_trap_is_named() {
        let config = Config::default();
        let good = settings(
            "permit_mynetworks, check_client_access cidr:/etc/postfix/saslguard_access",
            "no",
        );
        let findings = judge_postfix(&config, &good);
        assert!(
            findings.iter().all(|f| f.verdict == Verdict::Pass),
            "{findings:#?}"
        );
        let trap = judge_postfix(
            &config,
            &settings(
                "check_client_access cidr:/etc/postfix/saslguard_access",
                "yes",
            ),
        );
        let warned: Vec<&Finding> = trap.iter().filter(|f| f.verdict == Verdict::Warn).collect();
        assert_eq!(warned.len(), 1, "{trap:#?}");
        assert!(warned[0].message.contains("smtps/inet"), "{warned:?}");
    }

    #[test]
    fn a_missing_map_reference_and_an_unsupported_type_fail() {
        let mut config = Config::default();
        let findings = judge_postfix(&config, &settings("permit_mynetworks", "no"));
        assert!(
            findings
                .iter()
                .any(|f| f.check == "map in use" && f.verdict == Verdict::Fail)
        );
        config.postfix.map_type = MapType::Lmdb;
        let findings = judge_postfix(&config, &settings("", "no"));
        let failed = findings.iter().find(|f| f.check == "map type").unwrap();
        assert_eq!(failed.verdict, Verdict::Fail);
        assert!(failed.fix.as_deref().unwrap().contains("postfix-lmdb"));
    }

    #[test]
    fn hiding_auth_through_the_discard_map_satisfies_both_checks() {
        let config = Config::default();
        let mut hidden = settings("permit", "yes");
        hidden.smtpd_discard_ehlo_keyword_address_maps =
            "cidr:/etc/postfix/saslguard_access".into();
        let findings = judge_postfix(&config, &hidden);
        assert!(
            findings.iter().all(|f| f.verdict == Verdict::Pass),
            "{findings:#?}"
        );
    }
}
