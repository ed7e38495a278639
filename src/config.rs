//! Settings: typed, with documented defaults. The default file is embedded in the binary
//! (`src/default-config.toml`); unknown keys are rejected.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

/// The commented default configuration, as shipped.
pub const DEFAULT_CONFIG: &str = include_str!("default-config.toml");

/// Where the configuration is read from when neither `--config` nor `SASLGUARD_CONFIG`
/// names a file.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/saslguard/saslguard.toml";

/// Where the database lives when neither `--db` nor `SASLGUARD_DB` names one.
pub const DEFAULT_DB_PATH: &str = "/var/lib/saslguard/saslguard.db";

/// All settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Log files `ingest` reads when no path is given.
    #[serde(default = "default_logs")]
    pub logs: Vec<PathBuf>,
    /// The database, unless `--db` or `SASLGUARD_DB` names one.
    #[serde(default = "default_database")]
    pub database: PathBuf,
    /// Events and run records older than this are deleted (`prune`, and `run` once a
    /// day); `permanent` keeps them forever.
    #[serde(default = "default_retention")]
    pub retention: Span,
    /// Ended blocks older than this are deleted; unset: `retention`.
    #[serde(default)]
    pub block_retention: Option<Span>,
    /// Time zone name for year-less syslog stamps; `None` uses `TZ` or the system zone.
    #[serde(default)]
    pub timezone: Option<String>,
    /// What makes up a network in rankings.
    #[serde(default)]
    pub networks: Networks,
    /// The Postfix access map saslguard renders.
    #[serde(default)]
    pub postfix: PostfixConfig,
    /// The firewall saslguard renders.
    #[serde(default)]
    pub firewall: FirewallConfig,
    /// When failures become blocks.
    #[serde(default)]
    pub policy: PolicyConfig,
    /// Networks never blocked.
    #[serde(default)]
    pub allow: AllowConfig,
    /// The systemd journal as a source.
    #[serde(default)]
    pub journal: JournalConfig,
    /// The shared store of several hosts; absent: this host alone.
    #[serde(default)]
    pub cluster: Option<ClusterConfig>,
}

/// `[journal]`: read Postfix's messages from the systemd journal (Debian 12 and later
/// run no syslog daemon unless installed), resuming after the stored cursor.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JournalConfig {
    /// Read the journal (in addition to `logs`) when `ingest` or `run` get no paths.
    pub enabled: bool,
    /// Only messages with these SYSLOG_IDENTIFIERs (`journalctl -t`); empty: all.
    pub identifiers: Vec<String>,
    /// Only messages of these units (`journalctl -u`); empty: all.
    pub units: Vec<String>,
    /// The journalctl program.
    pub command: String,
    /// A journal entry is used only when journald's own fields, which the sender cannot
    /// set, show Postfix's smtpd: `_COMM` one of these (empty: not checked) ...
    pub trusted_commands: Vec<String>,
    /// ... `_EXE` one of these paths (empty: not checked) ...
    pub trusted_executables: Vec<String>,
    /// ... `_UID` the uid of one of these users, names or numbers (empty: not
    /// checked) ...
    pub trusted_users: Vec<String>,
    /// ... and `_SYSTEMD_UNIT` matching one of these patterns (`*` matches anything;
    /// empty: not checked). Entries failing any check are counted as untrusted, never
    /// used. At least one of the four must be checked.
    pub trusted_units: Vec<String>,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            enabled: false,
            identifiers: vec![
                "postfix/smtpd".to_string(),
                "postfix/submission/smtpd".to_string(),
                "postfix/smtps/smtpd".to_string(),
                "postfix/submissions/smtpd".to_string(),
            ],
            units: Vec::new(),
            command: "journalctl".to_string(),
            trusted_commands: vec!["smtpd".to_string()],
            trusted_executables: vec![
                "/usr/lib/postfix/sbin/smtpd".to_string(),
                "/usr/libexec/postfix/smtpd".to_string(),
                "/usr/lib/postfix/bin/smtpd".to_string(),
            ],
            trusted_users: vec!["postfix".to_string()],
            trusted_units: vec![
                "postfix.service".to_string(),
                "postfix@*.service".to_string(),
            ],
        }
    }
}

impl JournalConfig {
    /// The uids of `trusted_users`: numbers as given, names looked up in `passwd` (the
    /// text of /etc/passwd). An unknown name is an error naming it, never a silent
    /// "nobody is trusted" or "everybody is".
    pub fn trusted_uids(&self, passwd: &str) -> anyhow::Result<Vec<u32>> {
        self.trusted_users
            .iter()
            .map(|user| {
                if let Ok(uid) = user.parse::<u32>() {
                    return Ok(uid);
                }
                passwd
                    .lines()
                    .filter_map(|line| {
                        let mut fields = line.split(':');
                        let name = fields.next()?;
                        let uid = fields.nth(1)?;
                        (name == user).then(|| uid.parse::<u32>().ok()).flatten()
                    })
                    .next()
                    .with_context(|| {
                        format!("journal.trusted_users: no user {user:?} in /etc/passwd")
                    })
            })
            .collect()
    }
}

/// A length of time in the config: `7d`, `30d`, `12h`, or `permanent` where allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// A number of seconds.
    Seconds(i64),
    /// No end.
    Permanent,
}

impl std::fmt::Display for Span {
    /// As people write it in the config: `permanent`, `7d`, `12h`, `15m`, `90s`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Span::Permanent => f.write_str("permanent"),
            Span::Seconds(s) if s > 0 && s % 86400 == 0 => write!(f, "{}d", s / 86400),
            Span::Seconds(s) if s > 0 && s % 3600 == 0 => write!(f, "{}h", s / 3600),
            Span::Seconds(s) if s > 0 && s % 60 == 0 => write!(f, "{}m", s / 60),
            Span::Seconds(s) => write!(f, "{s}s"),
        }
    }
}

impl Span {
    /// Parses `permanent` or a duration like `7d`.
    pub fn parse(text: &str) -> Result<Span, String> {
        if text.trim().eq_ignore_ascii_case("permanent") {
            return Ok(Span::Permanent);
        }
        let duration = crate::cli::parse_length(text)?;
        let seconds =
            i64::try_from(duration.as_secs()).map_err(|_| format!("{text:?} is too long"))?;
        Ok(Span::Seconds(seconds))
    }

    /// The seconds, or `None` when permanent.
    pub fn seconds(self) -> Option<i64> {
        match self {
            Span::Seconds(s) => Some(s),
            Span::Permanent => None,
        }
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Span::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// `[policy]`: tiers, escalation and aggregation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// A repeat offender's block lasts this many times longer per earlier block.
    pub escalation: f64,
    /// The longest a policy block lasts (`permanent`: no limit).
    pub max_duration: Span,
    /// IPv6 offenders are counted and blocked per network of this length (one attacker
    /// owns a whole /64); 128 counts single addresses.
    pub ipv6_prefix: u8,
    /// When this many addresses of one network are blocked, block the network instead;
    /// 0 disables.
    pub aggregate_min: usize,
    pub aggregate_ipv4_prefix: u8,
    pub aggregate_ipv6_prefix: u8,
    /// Thresholds, each with its own window, target and duration.
    #[serde(rename = "tier")]
    pub tiers: Vec<Tier>,
    /// Count `Invalid authentication mechanism` failures toward the tiers. Off by
    /// default: legitimate clients (dma) try an unoffered mechanism once per connection
    /// before succeeding with another; they are stored and reported either way.
    pub count_invalid_mechanism: bool,
}

/// One policy tier: `threshold` failures within `window` block for `duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub target: crate::model::BlockTarget,
    pub threshold: u64,
    pub window: Span,
    pub duration: Span,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            escalation: 2.0,
            max_duration: Span::Seconds(365 * 86400),
            ipv6_prefix: 64,
            aggregate_min: 0,
            aggregate_ipv4_prefix: 24,
            aggregate_ipv6_prefix: 48,
            tiers: vec![
                Tier {
                    target: crate::model::BlockTarget::Postfix,
                    threshold: 50,
                    window: Span::Seconds(7 * 86400),
                    duration: Span::Seconds(7 * 86400),
                },
                Tier {
                    target: crate::model::BlockTarget::Firewall,
                    threshold: 800,
                    window: Span::Seconds(7 * 86400),
                    duration: Span::Seconds(30 * 86400),
                },
            ],
            count_invalid_mechanism: false,
        }
    }
}

/// `[allow]`: networks never blocked, besides those added with `saslguard allow add`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AllowConfig {
    /// Written like the command line's networks and normalised the same way
    /// ([`crate::network::parse_network`]): IPv4-mapped IPv6 is IPv4, and host bits set
    /// (`10.0.0.0/0`, `192.0.2.1/24`) are an error saying what was probably meant.
    #[serde(deserialize_with = "allow_networks")]
    pub networks: Vec<ipnet::IpNet>,
    /// Allow 127.0.0.0/8 and ::1.
    pub loopback: bool,
}

impl Default for AllowConfig {
    fn default() -> Self {
        AllowConfig {
            networks: Vec::new(),
            loopback: true,
        }
    }
}

/// `[allow] networks`, each parsed by [`crate::network::parse_network`]; an error names
/// the key and the value (the file and line are added by the caller).
fn allow_networks<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<ipnet::IpNet>, D::Error> {
    let texts = Vec::<String>::deserialize(deserializer)?;
    texts
        .iter()
        .map(|text| {
            crate::network::parse_network(text)
                .map_err(|e| serde::de::Error::custom(format!("allow.networks: {e}")))
        })
        .collect()
}

/// Lookup table types saslguard can render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MapType {
    /// `cidr:`: networks as `1.2.3.0/24`; no postmap; re-read on `postfix reload`.
    Cidr,
    /// `texthash:`: whole addresses and octet-truncated prefixes; no postmap.
    Texthash,
    /// `hash:`: like texthash, compiled with postmap into `MAP.db`.
    Hash,
    /// `lmdb:`: like texthash, compiled with postmap into `MAP.lmdb`.
    Lmdb,
}

impl MapType {
    /// The name as written in the config (`map_type = "cidr"`), which is also the table
    /// type as Postfix spells it before the colon (`cidr:/etc/postfix/...`).
    pub fn as_str(self) -> &'static str {
        match self {
            MapType::Cidr => "cidr",
            MapType::Texthash => "texthash",
            MapType::Hash => "hash",
            MapType::Lmdb => "lmdb",
        }
    }
}

/// `[postfix]`: the access map.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostfixConfig {
    /// The map's source file (for hash and lmdb, postmap writes MAP.db or MAP.lmdb).
    pub map: PathBuf,
    pub map_type: MapType,
    /// The action written for each blocked network.
    pub reject_text: String,
    /// Run after the map changed; empty disables.
    pub reload_command: Vec<String>,
    /// The postmap program (hash and lmdb maps).
    pub postmap_command: String,
    /// Postfix's configuration directory, for `doctor` (`postconf -c DIR`); unset means
    /// Postfix's default (/etc/postfix).
    pub config_directory: Option<PathBuf>,
    /// Safety valve: beyond this many entries, additions are held back (removals still
    /// apply) and the run fails naming them (`enforce::within_max_entries`).
    pub max_entries: usize,
}

impl Default for PostfixConfig {
    fn default() -> Self {
        PostfixConfig {
            map: PathBuf::from("/etc/postfix/saslguard_access"),
            map_type: MapType::Cidr,
            reject_text: "554 5.7.1 Too many failed authentication attempts".to_string(),
            reload_command: vec!["postfix".to_string(), "reload".to_string()],
            postmap_command: "postmap".to_string(),
            config_directory: None,
            max_entries: 100_000,
        }
    }
}

/// The firewall backend the config renders to: a name registered in
/// [`crate::render::firewall::BACKENDS`] (`nftables`, `ipset`, `iptables`), or `none`
/// (firewall-tier blocks are recorded but not rendered). The config knows no backend
/// itself: a new one is accepted here once it is registered there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backend(Option<&'static str>);

impl Backend {
    /// `backend = "none"`.
    pub const NONE: Backend = Backend(None);

    /// The backend written `name` in the config (`none`, or a registered backend);
    /// `None` for a name nothing registered.
    pub fn named(name: &str) -> Option<Backend> {
        if name == "none" {
            return Some(Backend::NONE);
        }
        crate::render::firewall::registered(name).map(|backend| Backend(Some(backend.name)))
    }

    /// The registered backend's name; `None` for `none`.
    pub fn name(self) -> Option<&'static str> {
        self.0
    }

    /// The name as written in the config (`backend = "nftables"`).
    pub fn as_str(self) -> &'static str {
        self.0.unwrap_or("none")
    }

    /// Every name the config takes, for messages: `nftables, ipset, iptables or none`.
    pub fn choices() -> String {
        let names: Vec<&str> = crate::render::firewall::BACKENDS
            .iter()
            .map(|backend| backend.name)
            .collect();
        format!("{} or none", names.join(", "))
    }
}

impl<'de> Deserialize<'de> for Backend {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Backend::named(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown firewall backend {name:?}: use {}",
                Backend::choices()
            ))
        })
    }
}

impl serde::Serialize for Backend {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// `[firewall]`: the firewall backend.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FirewallConfig {
    pub backend: Backend,
    /// TCP ports to drop for blocked networks; empty drops all their traffic.
    pub ports: Vec<u16>,
    /// Name of saslguard's nftables table, ipset sets (NAME-v4, NAME-v6) and iptables
    /// chain. saslguard never touches anything else.
    pub name: String,
    /// Safety valve: beyond this many entries, additions are held back (removals still
    /// apply) and the run fails naming them (`enforce::within_max_entries`).
    pub max_entries: usize,
}

impl Default for FirewallConfig {
    fn default() -> Self {
        FirewallConfig {
            backend: Backend(Some("nftables")),
            ports: vec![25, 465, 587],
            name: "saslguard".to_string(),
            max_entries: 100_000,
        }
    }
}

/// Prefix lengths that group addresses into networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Networks {
    #[serde(default = "default_ipv4_prefix")]
    pub ipv4_prefix: u8,
    #[serde(default = "default_ipv6_prefix")]
    pub ipv6_prefix: u8,
}

fn default_logs() -> Vec<PathBuf> {
    vec![PathBuf::from("/var/log/maillog")]
}

fn default_retention() -> Span {
    Span::Seconds(400 * 86400)
}

fn default_database() -> PathBuf {
    PathBuf::from(DEFAULT_DB_PATH)
}

fn default_ipv4_prefix() -> u8 {
    24
}

fn default_ipv6_prefix() -> u8 {
    64
}

impl Default for Networks {
    fn default() -> Self {
        Networks {
            ipv4_prefix: default_ipv4_prefix(),
            ipv6_prefix: default_ipv6_prefix(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            logs: default_logs(),
            database: default_database(),
            retention: default_retention(),
            block_retention: None,
            timezone: None,
            networks: Networks::default(),
            postfix: PostfixConfig::default(),
            firewall: FirewallConfig::default(),
            policy: PolicyConfig::default(),
            allow: AllowConfig::default(),
            journal: JournalConfig::default(),
            cluster: None,
        }
    }
}

impl Config {
    /// Parses configuration text; `origin` names it in errors and anchors relative paths.
    pub fn parse(text: &str, origin: &Path) -> anyhow::Result<Config> {
        let mut config: Config = toml::from_str(text)
            .map_err(|e| anyhow::anyhow!("{}: {}", origin.display(), e.to_string().trim_end()))?;
        config.validate(origin)?;
        let base = origin.parent().unwrap_or(Path::new(""));
        let paths = config
            .logs
            .iter_mut()
            .filter(|log| log.as_os_str() != "-")
            .chain([&mut config.database, &mut config.postfix.map]);
        for path in paths {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        }
        Ok(config)
    }

    /// Every error in configuration text, each with its line: after an error at a line,
    /// that line is set aside and the rest checked again, so one typo does not hide the
    /// next. Empty when the text is a valid configuration.
    pub fn check_all(text: &str, origin: &Path) -> Vec<String> {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        // (line, message): shown in line order, errors without a line last.
        let mut errors: Vec<(usize, String)> = Vec::new();
        for _ in 0..=lines.len() {
            let current = lines.join("\n");
            match toml::from_str::<Config>(&current) {
                Ok(config) => {
                    if let Err(e) = config.validate(origin) {
                        errors.push((usize::MAX, format!("{e:#}")));
                    }
                    break;
                }
                Err(e) => {
                    let line = e.span().map(|span| {
                        current[..span.start.min(current.len())]
                            .matches('\n')
                            .count()
                    });
                    let message = e.message().trim_end().to_string();
                    match line {
                        Some(line) if line < lines.len() && !lines[line].starts_with(SET_ASIDE) => {
                            // A table's header is blamed for a key it lacks: when that key
                            // was set aside here for an error already reported, the
                            // complaint is ours, not the file's.
                            let ours = is_header(&lines[line])
                                && lines[line..]
                                    .iter()
                                    .skip(1)
                                    .take_while(|l| !is_header(l))
                                    .any(|l| l.starts_with(SET_ASIDE));
                            if !ours {
                                errors.push((
                                    line,
                                    format!(
                                        "{}:{}: {message}: {}",
                                        origin.display(),
                                        line + 1,
                                        lines[line].trim()
                                    ),
                                ));
                            }
                            set_aside(&mut lines, line);
                        }
                        _ => {
                            errors.push((usize::MAX, format!("{}: {message}", origin.display())));
                            break;
                        }
                    }
                }
            }
        }
        errors.sort_by_key(|(line, _)| *line);
        errors.into_iter().map(|(_, message)| message).collect()
    }
}

/// The marker `check_all` puts before the lines it sets aside.
const SET_ASIDE: &str = "#saslguard-check# ";

/// Whether a line opens a table (`[postfix]`) or an array entry (`[[policy.tier]]`).
fn is_header(line: &str) -> bool {
    line.trim_start().starts_with('[')
}

/// Sets aside a line with an error for the next pass: a key alone (its table reports
/// the next error of its own), or a table header with its whole table (without the
/// header its keys would land at the top level and report bogus errors).
fn set_aside(lines: &mut [String], line: usize) {
    let end = if is_header(&lines[line]) {
        (line + 1..lines.len())
            .find(|&i| is_header(&lines[i]))
            .unwrap_or(lines.len())
    } else {
        line + 1
    };
    for text in &mut lines[line..end] {
        if !text.starts_with(SET_ASIDE) {
            *text = format!("{SET_ASIDE}{text}");
        }
    }
}

impl Config {
    /// Reads the configuration: `path` when given (it must exist), otherwise the default
    /// file if present, otherwise the built-in defaults.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let (path, required) = match path {
            Some(path) => (path, true),
            None => (Path::new(DEFAULT_CONFIG_PATH), false),
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&text, path),
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Config::default())
            }
            Err(e) => Err(e).with_context(|| format!("cannot read config {}", path.display())),
        }
    }

    fn validate(&self, origin: &Path) -> anyhow::Result<()> {
        if let Some(cluster) = &self.cluster {
            cluster
                .validate()
                .map_err(|e| anyhow::anyhow!("{}: {e}", origin.display()))?;
        }
        let n = self.networks;
        if !(1..=32).contains(&n.ipv4_prefix) {
            bail!(
                "{}: networks.ipv4_prefix must be 1..=32, not {}",
                origin.display(),
                n.ipv4_prefix
            );
        }
        if !(1..=128).contains(&n.ipv6_prefix) {
            bail!(
                "{}: networks.ipv6_prefix must be 1..=128, not {}",
                origin.display(),
                n.ipv6_prefix
            );
        }
        let p = &self.policy;
        if !(p.escalation.is_finite() && p.escalation >= 1.0) {
            bail!(
                "{}: policy.escalation must be at least 1.0, not {}",
                origin.display(),
                p.escalation
            );
        }
        // Never wider than a block may be (`policy::blockable`), or every unit or
        // aggregate of that family would be refused.
        use crate::policy::{MIN_IPV4_PREFIX, MIN_IPV6_PREFIX};
        for (name, value, min, max) in [
            ("policy.ipv6_prefix", p.ipv6_prefix, MIN_IPV6_PREFIX, 128),
            (
                "policy.aggregate_ipv4_prefix",
                p.aggregate_ipv4_prefix,
                MIN_IPV4_PREFIX,
                32,
            ),
            (
                "policy.aggregate_ipv6_prefix",
                p.aggregate_ipv6_prefix,
                MIN_IPV6_PREFIX,
                128,
            ),
        ] {
            if !(min..=max).contains(&value) {
                bail!(
                    "{}: {name} must be {min}..={max}, not {value}",
                    origin.display()
                );
            }
        }
        for (index, tier) in p.tiers.iter().enumerate() {
            if tier.threshold == 0 {
                bail!(
                    "{}: policy.tier {} has threshold 0",
                    origin.display(),
                    index + 1
                );
            }
            if let Some(max) = p.max_duration.seconds()
                && tier.duration.seconds().is_none_or(|d| d > max)
            {
                bail!(
                    "{}: policy.tier {}: duration {} is longer than policy.max_duration ({}), \
                     which caps every policy block; shorten the tier or raise max_duration",
                    origin.display(),
                    index + 1,
                    tier.duration,
                    p.max_duration
                );
            }
            if tier.window.seconds().is_some_and(|w| w > 10 * 366 * 86400) {
                bail!(
                    "{}: policy.tier {}: window {} is longer than 10 years",
                    origin.display(),
                    index + 1,
                    tier.window
                );
            }
            if tier.window == Span::Permanent {
                bail!(
                    "{}: policy.tier {}: window cannot be permanent",
                    origin.display(),
                    index + 1
                );
            }
        }
        let postfix = &self.postfix;
        if postfix
            .reload_command
            .first()
            .is_some_and(|p| p.trim().is_empty())
            || postfix.postmap_command.trim().is_empty()
        {
            bail!(
                "{}: postfix.reload_command and postfix.postmap_command need a program name \
                 (reload_command = [] disables the reload)",
                origin.display()
            );
        }
        // Commands run without a shell: "postfix reload" as one word is no program.
        if let Some(program) = postfix.reload_command.first()
            && program.trim().contains(char::is_whitespace)
        {
            let words: Vec<&str> = program.split_whitespace().collect();
            bail!(
                "{}: postfix.reload_command = [{program:?}] names a program with a space in \
                 it (commands run without a shell); did you mean {words:?}?",
                origin.display()
            );
        }
        if postfix.map.as_os_str().is_empty() {
            bail!(
                "{}: postfix.map is empty: name the map file",
                origin.display()
            );
        }
        // main.cf names the map in a restriction list, which Postfix splits on blanks
        // and commas: such a path could never be referenced.
        if postfix
            .map
            .to_string_lossy()
            .contains(|c: char| c.is_whitespace() || c == ',')
        {
            bail!(
                "{}: postfix.map = {:?} holds a blank or comma, which Postfix's restriction \
                 lists cannot name; choose a path without them",
                origin.display(),
                postfix.map
            );
        }
        for (name, value) in [
            ("postfix.max_entries", postfix.max_entries),
            ("firewall.max_entries", self.firewall.max_entries),
        ] {
            if value == 0 {
                bail!(
                    "{}: {name} = 0 would hold back every block (the safety valve); \
                     give the most entries you expect, like 100000",
                    origin.display()
                );
            }
        }
        if let Err(why) = crate::render::postfix::check_reject_text(&self.postfix.reject_text) {
            bail!(
                "{}: postfix.reject_text = {:?} is refused: {why}",
                origin.display(),
                self.postfix.reject_text
            );
        }
        self.validate_retention(origin)?;
        // The name becomes a table, sets and a chain: refused here, before any run
        // records it or removes what the previous name had in force.
        crate::render::firewall::base::check_name(&self.firewall.name)
            .with_context(|| origin.display().to_string())?;
        let j = &self.journal;
        if j.trusted_commands.is_empty()
            && j.trusted_executables.is_empty()
            && j.trusted_users.is_empty()
            && j.trusted_units.is_empty()
        {
            bail!(
                "{}: journal: at least one of trusted_commands, trusted_executables, \
                 trusted_users and trusted_units must be set, or any local user could \
                 get any address blocked (logger -t postfix/smtpd ...)",
                origin.display()
            );
        }
        if j.enabled {
            // A name that does not resolve would leave no journal entry trusted: every
            // failure counted as untrusted and none blocked, without an error.
            let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
            j.trusted_uids(&passwd)
                .with_context(|| origin.display().to_string())?;
        }
        if let Some(zone) = &self.timezone {
            validate_zone(zone).with_context(|| format!("{}: timezone", origin.display()))?;
        }
        Ok(())
    }
}

impl Config {
    /// `retention` and `block_retention` must keep at least a day: a shorter one (a typo
    /// like `1m`) would delete the failures the policy is counting, once a day and
    /// without a word.
    fn validate_retention(&self, origin: &Path) -> anyhow::Result<()> {
        for (name, span) in [
            ("retention", Some(self.retention)),
            ("block_retention", self.block_retention),
        ] {
            if let Some(seconds) = span.and_then(Span::seconds)
                && seconds < 86400
            {
                bail!(
                    "{}: {name} = {} is shorter than one day: it would delete the failures \
                     the policy is counting",
                    origin.display(),
                    humantime::format_duration(std::time::Duration::from_secs(seconds as u64))
                );
            }
        }
        Ok(())
    }
}

/// Checks that a time zone name names a zone on this system (see
/// [`crate::clock::Zone::named`]), since the C library would silently fall back to UTC
/// for an unknown one.
pub fn validate_zone(zone: &str) -> anyhow::Result<()> {
    crate::clock::Zone::named(zone).map(drop)
}

/// `[cluster]`: several hosts sharing one defence on PostgreSQL (see the README's
/// "Several hosts"). The password never sits here in a file others may read: it comes
/// from `password_file`, or from libpq's `PGPASSFILE` / `~/.pgpass`.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// `postgresql://user@host:port/database?sslmode=verify-full`.
    pub url: String,
    /// This host's name in the cluster; unset: the system's host name.
    #[serde(default)]
    pub host: Option<String>,
    /// How long a run waits for the database before going on alone.
    #[serde(
        default = "default_connect_timeout",
        deserialize_with = "deserialize_timeout"
    )]
    pub connect_timeout: std::time::Duration,
    /// A file (mode 0600) whose first line is the password.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

impl std::fmt::Debug for ClusterConfig {
    /// Never shows a password written in the url.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("url", &crate::store::postgres::redact(&self.url))
            .field("host", &self.host)
            .field("connect_timeout", &self.connect_timeout)
            .field("password_file", &self.password_file)
            .finish()
    }
}

/// The longest `connect_timeout`: a run must not hang on an unreachable database.
pub const MAX_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

fn default_connect_timeout() -> std::time::Duration {
    std::time::Duration::from_secs(5)
}

fn deserialize_timeout<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<std::time::Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    crate::cli::parse_length(&text).map_err(serde::de::Error::custom)
}

impl ClusterConfig {
    /// The url (sslmode included), the host name and the timeout, checked.
    fn validate(&self) -> anyhow::Result<()> {
        crate::store::postgres::check_url(&self.url)
            .map_err(|e| anyhow::anyhow!("cluster.url: {e}"))?;
        if let Some(host) = &self.host {
            crate::store::postgres::check_host_name(host)?;
        }
        if self.connect_timeout > MAX_CONNECT_TIMEOUT {
            bail!(
                "cluster.connect_timeout must be at most {}s",
                MAX_CONNECT_TIMEOUT.as_secs()
            );
        }
        Ok(())
    }

    /// This host's name in the cluster: `host`, or else the system's host name.
    pub fn host_name(&self) -> anyhow::Result<String> {
        if let Some(host) = &self.host {
            return Ok(host.clone());
        }
        let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::fs::read_to_string("/etc/hostname"))
            .context("cannot read the system's host name; set [cluster] host")?;
        let name = name.trim().to_string();
        crate::store::postgres::check_host_name(&name)?;
        Ok(name)
    }

    /// The connection settings for the shared store.
    pub fn settings(&self) -> anyhow::Result<crate::store::postgres::Settings> {
        Ok(crate::store::postgres::Settings::new(
            &self.url,
            self.connect_timeout,
            self.password_file.clone(),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_default_file_equals_the_built_in_defaults() {
        let parsed = Config::parse(DEFAULT_CONFIG, Path::new("/etc/saslguard/x.toml")).unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn names_printed_for_people_are_the_names_the_config_takes() {
        for map_type in [
            MapType::Cidr,
            MapType::Texthash,
            MapType::Hash,
            MapType::Lmdb,
        ] {
            let text = format!("[postfix]\nmap_type = \"{}\"\n", map_type.as_str());
            let parsed = Config::parse(&text, Path::new("/tmp/c.toml")).unwrap();
            assert_eq!(parsed.postfix.map_type, map_type);
        }
        let registered = crate::render::firewall::BACKENDS.iter().map(|b| b.name);
        for name in registered.chain(["none"]) {
            let backend = Backend::named(name).expect("a backend the config takes");
            let text = format!("[firewall]\nbackend = \"{}\"\n", backend.as_str());
            let parsed = Config::parse(&text, Path::new("/tmp/c.toml")).unwrap();
            assert_eq!(parsed.firewall.backend, backend);
        }
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_file() {
        let err = Config::parse("logz = []\n", Path::new("/tmp/c.toml")).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("/tmp/c.toml"), "{text}");
        assert!(text.contains("logz"), "{text}");
    }

    #[test]
    fn relative_logs_are_relative_to_the_config_file() {
        let config = Config::parse(
            "logs = [\"maillog\", \"/abs/log\"]",
            Path::new("/etc/sg/c.toml"),
        )
        .unwrap();
        assert_eq!(
            config.logs,
            [PathBuf::from("/etc/sg/maillog"), PathBuf::from("/abs/log")]
        );
    }

    #[test]
    fn allow_networks_are_read_like_the_command_line() {
        let config = Config::parse(
            "[allow]\nnetworks = [\"::ffff:203.0.113.7/128\", \"::ffff:198.51.100.9\", \"2001:db8::/32\"]\n",
            Path::new("/etc/sg/c.toml"),
        )
        .unwrap();
        let nets: Vec<String> = config
            .allow
            .networks
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(nets, ["203.0.113.7/32", "198.51.100.9/32", "2001:db8::/32"]);
        for (value, meant) in [
            ("10.0.0.0/0", "0.0.0.0/0"),
            ("192.0.2.1/24", "192.0.2.0/24"),
        ] {
            let text = format!("[allow]\nnetworks = [\"{value}\"]\n");
            let err = format!(
                "{:#}",
                Config::parse(&text, Path::new("/etc/sg/c.toml")).unwrap_err()
            );
            assert!(
                err.contains("/etc/sg/c.toml")
                    && err.contains(&format!("allow.networks: {value} has host bits set"))
                    && err.contains(&format!("did you mean {meant}?")),
                "{err}"
            );
            let all = Config::check_all(&text, Path::new("/etc/sg/c.toml"));
            assert_eq!(all.len(), 1, "{all:?}");
            assert!(
                all[0].starts_with("/etc/sg/c.toml:2: allow.networks"),
                "{all:?}"
            );
        }
    }

    #[test]
    fn postfix_commands_need_a_program() {
        let err = Config::parse("[postfix]\nreload_command = [\"\"]", Path::new("c.toml"));
        assert!(format!("{:#}", err.unwrap_err()).contains("postfix.reload_command"));
        assert!(Config::parse("[postfix]\npostmap_command = \" \"", Path::new("c")).is_err());
        assert!(Config::parse("[postfix]\nreload_command = []", Path::new("c")).is_ok());
    }

    #[test]
    fn the_journal_trust_rule_cannot_be_emptied() {
        let text = "[journal]\ntrusted_commands = []\ntrusted_executables = []\n\
                    trusted_users = []\ntrusted_units = []\n";
        let err = Config::parse(text, Path::new("/tmp/c.toml")).unwrap_err();
        assert!(format!("{err:#}").contains("trusted_commands"), "{err:#}");
        let one = "[journal]\ntrusted_executables = []\ntrusted_users = []\ntrusted_units = []\n";
        assert!(Config::parse(one, Path::new("/tmp/c.toml")).is_ok());
    }

    #[test]
    fn trusted_users_resolve_by_name_or_number() {
        let journal = JournalConfig {
            trusted_users: vec!["postfix".into(), "4242".into()],
            ..JournalConfig::default()
        };
        let passwd =
            "root:x:0:0::/root:/bin/sh\npostfix:x:107:114::/var/spool/postfix:/usr/sbin/nologin\n";
        assert_eq!(journal.trusted_uids(passwd).unwrap(), [107, 4242]);
        let err = journal
            .trusted_uids("root:x:0:0::/root:/bin/sh\n")
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("no user \"postfix\""),
            "{err:#}"
        );
    }

    #[test]
    fn prefix_lengths_are_checked() {
        assert!(Config::parse("[networks]\nipv4_prefix = 33", Path::new("c")).is_err());
        assert!(Config::parse("[networks]\nipv6_prefix = 0", Path::new("c")).is_err());
    }
}
