//! `saslguard-gen`: writes a realistic, seeded Postfix mail log and a JSON "truth" file
//! that says exactly which lines must count as SASL authentication failures.
//!
//! The generator is the independent source of truth for saslguard's tests and benchmark:
//! it shares no code with the saslguard parser. Every line is one of
//!
//! * an **AuthFailed** line (`--failure-share` of the lines): smtpd's
//!   `warning: CLIENT: SASL MECH authentication failed: REASON[, sasl_username=USER]` in
//!   every shape Postfix writes (services `postfix/smtpd`, `postfix/submission/smtpd`,
//!   `postfix/smtps/smtpd`, `postfix/submissions/smtpd`, `postfix-out/smtpd`; verified
//!   hostnames or `unknown`; `:port` suffixes; upper- and lower-case mechanisms; empty
//!   reasons, `(reason unavailable)`, `(unavailable)` users; hostile usernames holding
//!   `[6.6.6.6]` or `authentication failed:` text). Each counts once for its real client in
//!   the truth's `failures`;
//! * a **server fault** (`Connection lost to authentication server`, ...), counted
//!   separately in `server_faults`, never in `failures`;
//! * a **decoy**: well-formed lines that look like failures but must not count (look-alike
//!   text from `postfix/cleanup`, `postfix/smtp` and a local `logger` tagged `root`,
//!   `unknown[unknown]` clients, `authentication aborted`, attacker text inside a reject);
//! * **garbage**: binary junk (never NUL), truncated lines, impossible timestamps or addresses on
//!   failure-shaped lines, and a few very long lines. None of them may count;
//! * ordinary traffic: smtpd connect/disconnect (`auth=0/1`), `lost connection after AUTH`,
//!   `NOQUEUE: reject`, TLS, cleanup, qmgr, smtp/lmtp deliveries, postscreen, anvil and
//!   Dovecot lines.
//!
//! Addresses that appear only in decoys, hostile usernames and garbage (`6.6.6.6`,
//! `7.7.7.7`, `2001:db8:6666::6`) never belong to a real client, so a parser that counts
//! any of them shows up as a mismatch against the truth.
//!
//! The output is deterministic for a given seed, end time, time zone (year-less stamps are
//! written in the local zone, or in UTC with [`Options::in_utc`]) and set of flags.
//!
//! A library and a binary: saslguard's tests call [`write`] in their own process (a test
//! cannot set `TZ` for itself without racing the others, hence [`Zone`]); the benchmark
//! scripts run the binary (`cargo build --release -p saslguard-gen`). It is a workspace
//! member that is not published and not a binary of the saslguard package, so
//! `cargo install` never puts it on a mail server. It depends on nothing of saslguard.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, FixedOffset, Local, SecondsFormat, Utc};
use clap::{Parser, ValueEnum};
use serde::Serialize;

/// Share of lines that are server-side faults (not counted against the client).
const FAULT_RATE: f64 = 0.002;
/// Share of lines that are decoys (look-alike text that must not count).
const DECOY_RATE: f64 = 0.0015;
/// Share of lines that are garbage (junk, truncated, impossible stamps or addresses).
const GARBAGE_RATE: f64 = 0.0005;
/// Share of AuthFailed lines whose username (or mechanism) is hostile text.
const HOSTILE_RATE: f64 = 0.003;
/// Share of AuthFailed lines that come from a legitimate client (a user's typo).
const LEGIT_FAILURE_RATE: f64 = 0.002;
/// Zipf exponent of the attackers' activity.
const ZIPF_S: f64 = 1.1;
/// The number of legitimate clients (mail servers, users' phones and laptops).
const LEGIT_CLIENTS: usize = 1500;

/// What to generate: the flags of `saslguard-gen` but the output paths (see [`write`]).
#[derive(clap::Args, Debug, Clone)]
pub struct Options {
    /// Exact number of lines to write.
    #[arg(long)]
    pub lines: u64,
    /// Seed of the pseudo-random generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Time of the last line, RFC 3339 (default: now, truncated to the second). The file's
    /// modification time is set to it.
    #[arg(long, value_parser = parse_end)]
    pub end: Option<DateTime<Utc>>,
    /// Time covered by the log, ending at --end (e.g. 7d, 36h, 30d).
    #[arg(long, default_value = "7d", value_parser = parse_span)]
    pub span: Duration,
    /// Number of distinct attacker addresses (Zipf-distributed activity).
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..))]
    pub attackers: u32,
    /// Timestamp format: traditional syslog, RFC 3339, or a mix of all formats per line.
    #[arg(long, value_enum, default_value_t = Format::Syslog)]
    pub format: Format,
    /// Share of lines that are SASL authentication failures counted against the client.
    #[arg(long, default_value_t = 0.2, value_parser = parse_share)]
    pub failure_share: f64,
    /// Host name written in every line's header.
    #[arg(long, default_value = "mx1")]
    pub host: String,
    /// The zone of the local-time stamps: the process's (`TZ`) on the command line.
    #[arg(skip)]
    pub zone: Zone,
}

/// The zone year-less and local RFC 3339 stamps are written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Zone {
    /// The process's local zone (`TZ`), as a syslog daemon writes them.
    #[default]
    Local,
    /// UTC, whatever `TZ` says: for callers that share their process with others.
    Utc,
}

impl Zone {
    /// `utc` as a local time in this zone.
    fn local(self, utc: DateTime<Utc>) -> DateTime<FixedOffset> {
        match self {
            Zone::Local => utc.with_timezone(&Local).fixed_offset(),
            Zone::Utc => utc.fixed_offset(),
        }
    }
}

/// Parses [`Options`] from flags alone (no program name, no `--out`/`--truth`).
#[derive(Parser)]
#[command(no_binary_name = true)]
struct FlagsOnly {
    #[command(flatten)]
    options: Options,
}

impl Options {
    /// The options the command-line `flags` give (`["--lines", "1000", ...]`), as
    /// `saslguard-gen` parses them; an error says which flag is wrong.
    pub fn from_flags<I, T>(flags: I) -> Result<Options, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        FlagsOnly::try_parse_from(flags).map(|f| f.options)
    }

    /// The same options with local stamps in UTC instead of the process's zone.
    pub fn in_utc(mut self) -> Options {
        self.zone = Zone::Utc;
        self
    }
}

/// Parses `--end`: RFC 3339, converted to UTC.
fn parse_end(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("not an RFC 3339 time ({e}); e.g. 2026-11-27T12:00:00Z"))
}

/// Parses `--span`: a human duration such as `7d`, `36h`, `1d 12h`; must be positive.
fn parse_span(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d.is_zero() {
        return Err("the span must be positive".into());
    }
    Ok(d)
}

/// Parses `--failure-share`: a fraction between 0 and 0.99.
fn parse_share(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if !(0.0..=0.99).contains(&v) {
        return Err("must be between 0 and 0.99".into());
    }
    Ok(v)
}

/// The timestamp format of the whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `Nov  7 03:36:21` (space-padded day, no year), local time zone.
    Syslog,
    /// `2026-11-27T03:36:21.123456+00:00` (rsyslog high precision), local time zone.
    Iso,
    /// Per line: syslog, zero-padded syslog, RFC 3339, `+0900` offsets, RFC 5424.
    Mixed,
}

/// The timestamp style of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    /// `Nov  7 03:36:21`, local zone.
    Syslog = 0,
    /// `Nov 07 03:36:21` (Postfix `maillog_file`, `journalctl -o short`), local zone.
    SyslogZero = 1,
    /// `2026-11-07T03:36:21.123456+01:00`, local zone.
    Iso = 2,
    /// `2026-11-07T11:36:21+0900` (`journalctl -o short-iso` before systemd 255), +09:00.
    Compact = 3,
    /// `<22>1 2026-11-07T02:36:21.123456Z host app pid - - msg`, UTC.
    Rfc5424 = 4,
}

/// All line styles, for `--format mixed`.
const STYLES: [Style; 5] = [
    Style::Syslog,
    Style::SyslogZero,
    Style::Iso,
    Style::Compact,
    Style::Rfc5424,
];

// ---------------------------------------------------------------------------------------
// Pseudo-random numbers
// ---------------------------------------------------------------------------------------

/// xoshiro256** seeded through splitmix64: small, fast and reproducible everywhere.
struct Rng {
    /// The generator state.
    s: [u64; 4],
}

impl Rng {
    /// A generator whose whole stream is determined by `seed`.
    fn new(seed: u64) -> Self {
        let mut sm = seed;
        let mut next = || {
            sm = sm.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = sm;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng {
            s: [next(), next(), next(), next()],
        }
    }

    /// The next 64 random bits.
    fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// A number in `0..n` (`n > 0`), by multiply-shift.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// A uniform float in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One element of a non-empty slice, uniformly.
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// One value of a weighted table `(weight, value)`.
    fn weighted<T: Copy>(&mut self, table: &[(u32, T)]) -> T {
        let total: u32 = table.iter().map(|(w, _)| w).sum();
        let mut r = self.below(u64::from(total)) as u32;
        for &(w, v) in table {
            if r < w {
                return v;
            }
            r -= w;
        }
        table[table.len() - 1].1
    }
}

/// A Zipf(s) distribution over ranks `0..k`, sampled by binary search in its CDF.
struct Zipf {
    /// Cumulative probabilities, the last one 1.0.
    cdf: Vec<f64>,
}

impl Zipf {
    /// The distribution over `k >= 1` ranks with exponent `s`.
    fn new(k: usize, s: f64) -> Self {
        let mut cdf = Vec::with_capacity(k);
        let mut sum = 0.0;
        for rank in 1..=k {
            sum += (rank as f64).powf(-s);
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        Zipf { cdf }
    }

    /// One rank (0 is the most active).
    fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
}

// ---------------------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------------------

/// A client host as smtpd logs it.
struct Client {
    /// The address in `IpAddr`'s Display form (the truth's key).
    addr: String,
    /// A verified hostname, logged instead of `unknown` most of the time.
    name: Option<String>,
}

/// Which pool a client was drawn from, and its index there.
#[derive(Debug, Clone, Copy)]
enum Who {
    /// An attacker, by Zipf rank.
    Attacker(usize),
    /// A legitimate client.
    Legit(usize),
}

/// Addresses that never belong to a real client: they appear only inside decoys, hostile
/// usernames and garbage.
const POISON: [&str; 3] = ["6.6.6.6", "7.7.7.7", "2001:db8:6666::6"];

/// Words for made-up host and domain names.
const WORDS: [&str; 16] = [
    "acme",
    "globex",
    "initech",
    "umbrella",
    "hooli",
    "vandelay",
    "contoso",
    "fabrikam",
    "northwind",
    "tailspin",
    "wayne",
    "stark",
    "cyberdyne",
    "soylent",
    "tyrell",
    "wonka",
];

/// Whether a /24 is unsuitable for a made-up public client (private, reserved, multicast,
/// documentation, or the poison /8s).
fn excluded_v4(a: u8, b: u8, c: u8) -> bool {
    matches!(a, 0 | 6 | 7 | 10 | 127)
        || a >= 224
        || (a == 100 && (64..128).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
}

/// A random public IPv4 /24, as its first three octets.
fn random_v4_net(rng: &mut Rng) -> [u8; 3] {
    loop {
        let a = rng.range(1, 223) as u8;
        let b = rng.below(256) as u8;
        let c = rng.below(256) as u8;
        if !excluded_v4(a, b, c) {
            return [a, b, c];
        }
    }
}

/// A random IPv6 /64: the documentation prefix `2001:db8::/32` or a global-looking one.
fn random_v6_net(rng: &mut Rng) -> [u16; 4] {
    if rng.chance(0.4) {
        let mut g2 = rng.below(0x10000) as u16;
        if g2 == 0x6666 {
            g2 = 0x6667;
        }
        // Small site numbers compress well (`2001:db8:0:12::5`), as real ones often do.
        let g3 = if rng.chance(0.5) {
            rng.below(0x100) as u16
        } else {
            rng.below(0x10000) as u16
        };
        [0x2001, 0x0db8, g2, g3]
    } else {
        let first = *rng.pick(&[
            0x2400u16, 0x2401, 0x2403, 0x2600, 0x2601, 0x2604, 0x2607, 0x2800, 0x2804, 0x2a00,
            0x2a01, 0x2a02, 0x2a03, 0x2a05, 0x2c0f,
        ]);
        [
            first,
            rng.range(1, 0xffff) as u16,
            rng.below(0x10000) as u16,
            rng.below(0x10000) as u16,
        ]
    }
}

/// A random IPv6 interface identifier: small (`::1f`), split (`::12:3456`) or full.
fn random_iid(rng: &mut Rng) -> [u16; 4] {
    match rng.below(10) {
        0..=4 => [0, 0, 0, rng.range(1, 0xff) as u16],
        5 | 6 => [0, 0, rng.range(1, 0xffff) as u16, rng.below(0x10000) as u16],
        7 => [
            rng.range(1, 0xffff) as u16,
            0,
            0,
            rng.range(1, 0xffff) as u16,
        ],
        _ => [
            rng.range(1, 0xffff) as u16,
            rng.below(0x10000) as u16,
            rng.below(0x10000) as u16,
            rng.range(1, 0xffff) as u16,
        ],
    }
}

/// Builds an IPv6 address from a /64 and an interface identifier.
fn v6(net: [u16; 4], iid: [u16; 4]) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(
        net[0], net[1], net[2], net[3], iid[0], iid[1], iid[2], iid[3],
    ))
}

/// A made-up verified hostname for `addr`.
fn hostname(rng: &mut Rng, addr: IpAddr, legit: bool) -> String {
    let word = *rng.pick(&WORDS);
    let n = rng.range(1, 999);
    if legit {
        return match rng.below(4) {
            0 => format!("mail.{word}.example"),
            1 => format!("smtp{n}.{word}.example"),
            2 => format!("mx{}.{word}.test", n % 10),
            _ => format!("out-{n}.mailer.{word}.example"),
        };
    }
    match (rng.below(5), addr) {
        // A reversed address inside the name: the address must come from the brackets.
        (0, IpAddr::V4(a)) => {
            let o = a.octets();
            format!(
                "static.{}.{}.{}.{}.clients.hosting.example",
                o[3], o[2], o[1], o[0]
            )
        }
        (1, IpAddr::V4(a)) => {
            let o = a.octets();
            format!(
                "ip-{}-{}-{}-{}.compute.cloud.example",
                o[0], o[1], o[2], o[3]
            )
        }
        (0 | 1, IpAddr::V6(_)) => format!("static.{:x}.clients.hosting.example", rng.next_u64()),
        (2, _) => format!("vps{n}.{word}.example"),
        (3, _) => format!("mail.{word}{n}.test"),
        _ => format!("{n}.{word}.net.example"),
    }
}

/// Makes `k` attackers: 15% IPv6, IPv4 from varied /24s with some /24s (and /64s) shared
/// by several attackers; about a fifth with a verified hostname.
fn make_attackers(rng: &mut Rng, k: usize, used: &mut HashSet<IpAddr>) -> Vec<Client> {
    let clusters4: Vec<[u8; 3]> = (0..k.div_ceil(50)).map(|_| random_v4_net(rng)).collect();
    let clusters6: Vec<[u16; 4]> = (0..k.div_ceil(300)).map(|_| random_v6_net(rng)).collect();
    let mut out = Vec::with_capacity(k);
    while out.len() < k {
        let addr = if rng.chance(0.15) {
            let net = if rng.chance(0.3) {
                *rng.pick(&clusters6)
            } else {
                random_v6_net(rng)
            };
            v6(net, random_iid(rng))
        } else {
            let net = if rng.chance(0.3) {
                *rng.pick(&clusters4)
            } else {
                random_v4_net(rng)
            };
            IpAddr::V4(Ipv4Addr::new(
                net[0],
                net[1],
                net[2],
                rng.range(1, 254) as u8,
            ))
        };
        if !used.insert(addr) {
            continue;
        }
        let name = rng.chance(0.2).then(|| hostname(rng, addr, false));
        out.push(Client {
            addr: addr.to_string(),
            name,
        });
    }
    out
}

/// Makes the legitimate clients: other mail servers and users' devices.
fn make_legit(rng: &mut Rng, n: usize, used: &mut HashSet<IpAddr>) -> Vec<Client> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let addr = if rng.chance(0.25) {
            v6(random_v6_net(rng), random_iid(rng))
        } else {
            let net = random_v4_net(rng);
            IpAddr::V4(Ipv4Addr::new(
                net[0],
                net[1],
                net[2],
                rng.range(1, 254) as u8,
            ))
        };
        if !used.insert(addr) {
            continue;
        }
        let name = rng.chance(0.7).then(|| hostname(rng, addr, true));
        out.push(Client {
            addr: addr.to_string(),
            name,
        });
    }
    out
}

// ---------------------------------------------------------------------------------------
// Programs and timestamps
// ---------------------------------------------------------------------------------------

/// A program that writes to the mail log, i.e. a syslog tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prog {
    /// `postfix/smtpd` (port 25).
    Smtpd = 0,
    /// `postfix/submission/smtpd` (port 587).
    Submission,
    /// `postfix/smtps/smtpd` (port 465, older name).
    Smtps,
    /// `postfix/submissions/smtpd` (port 465).
    Submissions,
    /// `postfix-out/smtpd` (a second Postfix instance).
    OutSmtpd,
    /// `postfix/cleanup`.
    Cleanup,
    /// `postfix/qmgr`.
    Qmgr,
    /// `postfix/smtp` (outbound delivery).
    Smtp,
    /// `postfix/lmtp` (delivery to Dovecot).
    Lmtp,
    /// `postfix/postscreen`.
    Postscreen,
    /// `postfix/anvil`.
    Anvil,
    /// `dovecot` (no pid).
    Dovecot,
    /// A local `logger` run by root: tag `root`, no pid.
    Logger,
}

/// Number of [`Prog`] variants.
const PROGS: usize = 13;

impl Prog {
    /// The syslog tag without the pid.
    fn name(self) -> &'static str {
        match self {
            Prog::Smtpd => "postfix/smtpd",
            Prog::Submission => "postfix/submission/smtpd",
            Prog::Smtps => "postfix/smtps/smtpd",
            Prog::Submissions => "postfix/submissions/smtpd",
            Prog::OutSmtpd => "postfix-out/smtpd",
            Prog::Cleanup => "postfix/cleanup",
            Prog::Qmgr => "postfix/qmgr",
            Prog::Smtp => "postfix/smtp",
            Prog::Lmtp => "postfix/lmtp",
            Prog::Postscreen => "postfix/postscreen",
            Prog::Anvil => "postfix/anvil",
            Prog::Dovecot => "dovecot",
            Prog::Logger => "root",
        }
    }

    /// Whether the tag carries `[pid]`.
    fn has_pid(self) -> bool {
        !matches!(self, Prog::Dovecot | Prog::Logger)
    }
}

/// Services that log SASL failures, weighted.
const SMTPD_SERVICES: [(u32, Prog); 5] = [
    (60, Prog::Smtpd),
    (25, Prog::Submission),
    (10, Prog::Smtps),
    (3, Prog::Submissions),
    (2, Prog::OutSmtpd),
];

/// Renders and caches the per-second part of each timestamp style: lines are far more
/// frequent than seconds, so each text is built once per second at most.
struct Clock {
    /// The zone of the local-time styles.
    zone: Zone,
    /// The +09:00 zone of the `Compact` style.
    jst: FixedOffset,
    /// Per style: the second it was rendered for, the text up to the seconds, and what
    /// follows the microseconds (an offset, `Z`, or nothing).
    cache: [(i64, String, String); 5],
}

impl Clock {
    /// An empty cache, local stamps in `zone`.
    fn new(zone: Zone) -> Self {
        Clock {
            zone,
            jst: FixedOffset::east_opt(9 * 3600).expect("valid offset"),
            cache: std::array::from_fn(|_| (i64::MIN, String::new(), String::new())),
        }
    }

    /// The (head, tail) texts of `style` at Unix second `sec`.
    fn get(&mut self, style: Style, sec: i64) -> (&str, &str) {
        let (jst, zone) = (self.jst, self.zone);
        let slot = &mut self.cache[style as usize];
        if slot.0 != sec {
            let utc = DateTime::<Utc>::from_timestamp(sec, 0).expect("time in range");
            let (head, tail) = match style {
                Style::Syslog => (
                    zone.local(utc).format("%b %e %H:%M:%S").to_string(),
                    String::new(),
                ),
                Style::SyslogZero => (
                    zone.local(utc).format("%b %d %H:%M:%S").to_string(),
                    String::new(),
                ),
                Style::Iso => {
                    let t = zone.local(utc);
                    (
                        t.format("%Y-%m-%dT%H:%M:%S").to_string(),
                        t.format("%:z").to_string(),
                    )
                }
                Style::Compact => (
                    utc.with_timezone(&jst)
                        .format("%Y-%m-%dT%H:%M:%S%z")
                        .to_string(),
                    String::new(),
                ),
                Style::Rfc5424 => (utc.format("%Y-%m-%dT%H:%M:%S").to_string(), "Z".into()),
            };
            *slot = (sec, head, tail);
        }
        (&slot.1, &slot.2)
    }
}

/// Appends the decimal form of `n`.
fn push_u64(buf: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Appends `n` zero-padded to `width` digits.
fn push_padded(buf: &mut Vec<u8>, n: u64, width: usize) {
    let start = buf.len();
    push_u64(buf, n);
    let len = buf.len() - start;
    if len < width {
        buf.splice(start..start, std::iter::repeat_n(b'0', width - len));
    }
}

/// Appends `n / 100` as a decimal with two places (`0.42`).
fn push_centi(buf: &mut Vec<u8>, n: u64) {
    push_u64(buf, n / 100);
    buf.push(b'.');
    push_padded(buf, n % 100, 2);
}

/// Appends `n` as `len` upper-case hex digits (a short Postfix queue id).
fn push_hex(buf: &mut Vec<u8>, n: u64, len: usize) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for i in (0..len).rev() {
        buf.push(HEX[((n >> (4 * i)) & 15) as usize]);
    }
}

// ---------------------------------------------------------------------------------------
// Line vocabulary
// ---------------------------------------------------------------------------------------

/// Usernames brute-forcers try.
const ATTACK_USERS: [&str; 24] = [
    "admin",
    "info",
    "test",
    "user",
    "sales",
    "support",
    "webmaster",
    "postmaster",
    "office",
    "contact",
    "mail",
    "root",
    "administrator",
    "noreply",
    "billing",
    "marketing",
    "hr",
    "abuse",
    "guest",
    "scanner",
    "test1",
    "backup",
    "alice",
    "newsletter",
];

/// The server's real mailboxes (local parts of `@example.com`).
const MAILBOXES: [&str; 12] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "oscar",
];

/// Hostile usernames: bracketed addresses and failure text that must not be mistaken for
/// the client or for a second failure.
const HOSTILE_USERS: [&str; 8] = [
    "admin[6.6.6.6]",
    "unknown[6.6.6.6]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
    "x, sasl_username=root[7.7.7.7]",
    "[2001:db8:6666::6]:25",
    "test authentication failed: [7.7.7.7]",
    "warning: unknown[6.6.6.6]:",
    "info@example.com]: [7.7.7.7]",
    "john smith, sales",
];

/// Reasons of a counted failure; `""` means the line ends in `failed:`, `" "` in `failed: `.
const REASONS: [(u32, &str); 8] = [
    (52, "UGFzc3dvcmQ6"),
    (20, "authentication failure"),
    (6, ""),
    (2, " "),
    (5, "Password:"),
    (5, "VXNlcm5hbWU6"),
    (3, "Invalid base64 data in continued response"),
    (4, "(reason unavailable)"),
];

/// Reasons of server-side faults (never counted against the client).
const FAULT_REASONS: [(u32, &str); 7] = [
    (50, "Connection lost to authentication server"),
    (10, "Can't connect to authentication server"),
    (10, "Authentication backend error"),
    (10, "generic failure"),
    (10, "remote authentication server unavailable"),
    (5, "transient failure (e.g., weak key)"),
    (5, "no memory available"),
];

/// SASL mechanisms as clients send them.
const MECHS: [(u32, &str); 6] = [
    (60, "LOGIN"),
    (30, "PLAIN"),
    (4, "login"),
    (3, "plain"),
    (2, "CRAM-MD5"),
    (1, "Login"),
];

/// TLS cipher descriptions for `TLS connection established` lines.
const TLS: [&str; 3] = [
    "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256",
    "TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)",
    "TLSv1.3 with cipher TLS_CHACHA20_POLY1305_SHA256 (256/256 bits) key-exchange X25519 server-signature ECDSA (P-256) server-digest SHA256",
];

/// Ordinary traffic, by kind.
#[derive(Debug, Clone, Copy)]
enum Normal {
    /// `connect from CLIENT`.
    Connect,
    /// `disconnect from CLIENT ehlo=1 auth=0/1 quit=1 commands=2/3`.
    DisconnectAttacker,
    /// `disconnect from CLIENT ehlo=2 starttls=1 ... commands=8`.
    DisconnectLegit,
    /// `lost connection after AUTH from CLIENT`, sometimes `NOQUEUE: `-prefixed.
    LostAfterAuth,
    /// `too many errors after AUTH from CLIENT` / `timeout after AUTH from CLIENT`.
    ErrorsAfterAuth,
    /// `NOQUEUE: reject: RCPT from ...`.
    RejectRcpt,
    /// `NOQUEUE: reject: CONNECT from ...` (a working block).
    RejectConnect,
    /// `Anonymous TLS connection established from ...`.
    Tls,
    /// `QUEUEID: client=...`.
    ClientQueued,
    /// cleanup `message-id=<...>`.
    MessageId,
    /// qmgr `from=<...>, size=..., nrcpt=1 (queue active)`.
    QmgrFrom,
    /// smtp `to=<...>, relay=..., status=sent (...)`.
    SmtpSent,
    /// lmtp `to=<...>, relay=...[private/dovecot-lmtp], status=sent (...)`.
    LmtpSent,
    /// qmgr `removed`.
    Removed,
    /// dovecot `imap-login: Login: ...`.
    DovecotLogin,
    /// dovecot `imap-login: Disconnected ... (auth failed, ...)` / `auth: ... unknown user`.
    DovecotFail,
    /// postscreen `CONNECT from [ADDR]:PORT to [...]:25` / `PASS OLD`.
    Postscreen,
    /// anvil statistics (with a syslog-looking stamp inside the message).
    Anvil,
    /// smtpd warnings that are not SASL failures.
    SmtpdWarning,
}

/// The mix of ordinary traffic.
const NORMAL_MIX: [(u32, Normal); 19] = [
    (210, Normal::Connect),
    (120, Normal::DisconnectAttacker),
    (30, Normal::DisconnectLegit),
    (50, Normal::LostAfterAuth),
    (10, Normal::ErrorsAfterAuth),
    (25, Normal::RejectRcpt),
    (8, Normal::RejectConnect),
    (12, Normal::Tls),
    (30, Normal::ClientQueued),
    (30, Normal::MessageId),
    (30, Normal::QmgrFrom),
    (22, Normal::SmtpSent),
    (8, Normal::LmtpSent),
    (40, Normal::Removed),
    (15, Normal::DovecotLogin),
    (6, Normal::DovecotFail),
    (40, Normal::Postscreen),
    (2, Normal::Anvil),
    (8, Normal::SmtpdWarning),
];

/// Decoys, by kind: none may count.
#[derive(Debug, Clone, Copy)]
enum Decoy {
    /// cleanup header_checks WARN quoting failure text.
    Cleanup,
    /// `root: warning: unknown[6.6.6.6]: SASL LOGIN authentication failed: ...`.
    Logger,
    /// smtpd failure with `unknown[unknown]`: no address to count.
    UnknownUnknown,
    /// smtpd `SASL LOGIN authentication aborted`.
    Aborted,
    /// Outbound `postfix/smtp` client: `SASL authentication failed; server ... said: 535 ...`.
    SmtpClient,
    /// smtpd reject quoting attacker-chosen failure text in addresses and HELO.
    RejectText,
}

/// Decoys are written in this order, round robin, so even a small file has every kind.
const DECOY_CYCLE: [Decoy; 6] = [
    Decoy::Cleanup,
    Decoy::Logger,
    Decoy::Aborted,
    Decoy::UnknownUnknown,
    Decoy::SmtpClient,
    Decoy::RejectText,
];

/// Garbage kinds.
#[derive(Debug, Clone, Copy)]
enum Garbage {
    /// Random bytes: invalid UTF-8, control bytes, `\r`; never a newline or a NUL.
    Junk,
    /// A failure line cut inside the client's address.
    CutAddress,
    /// An ordinary line cut anywhere.
    CutNormal,
    /// A well-formed failure line with an impossible timestamp.
    BadStamp,
    /// A failure line whose address is not an address.
    BadAddress,
    /// A very long line of printable junk.
    Long,
}

/// Garbage is written in this order, round robin, so even a small file has every kind.
const GARBAGE_CYCLE: [Garbage; 10] = [
    Garbage::Junk,
    Garbage::CutAddress,
    Garbage::BadStamp,
    Garbage::CutNormal,
    Garbage::BadAddress,
    Garbage::Long,
    Garbage::Junk,
    Garbage::CutAddress,
    Garbage::CutNormal,
    Garbage::BadAddress,
];

/// Every how many AuthFailed lines one ends in `\r\n` (still counted).
const CRLF_EVERY: u64 = 2000;

// ---------------------------------------------------------------------------------------
// The generator
// ---------------------------------------------------------------------------------------

/// The kind of the line being written, chosen first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineKind {
    /// A counted SASL failure.
    Failure,
    /// A server-side fault.
    Fault,
    /// A look-alike that must not count.
    Decoy,
    /// Junk or an invalid line.
    Garbage,
    /// Ordinary traffic.
    Normal,
}

/// Tag of a line: which program wrote it and at what severity.
#[derive(Debug, Clone, Copy)]
struct Tag {
    /// The program (syslog tag).
    prog: Prog,
    /// Warning severity (RFC 5424 PRI 20) rather than info (22).
    warn: bool,
}

/// Per-client counters and line-kind totals: what the truth file reports.
#[derive(Default)]
struct Tally {
    /// AuthFailed lines per attacker rank.
    fail_attacker: Vec<u64>,
    /// AuthFailed lines per legitimate client.
    fail_legit: Vec<u64>,
    /// Server faults per attacker rank.
    fault_attacker: Vec<u64>,
    /// Server faults per legitimate client.
    fault_legit: Vec<u64>,
    /// Garbage lines written.
    garbage: u64,
    /// Decoy lines written.
    decoys: u64,
    /// AuthFailed lines with a hostile username or mechanism.
    hostile: u64,
    /// AuthFailed lines written.
    failures: u64,
    /// AuthFailed lines ending in `\r`.
    crlf: u64,
    /// Time (Unix seconds) of the first and last AuthFailed line.
    failure_span: Option<(i64, i64)>,
}

/// The whole generator state.
struct Gen {
    /// The random stream.
    rng: Rng,
    /// Host name in the headers.
    host: String,
    /// The file's timestamp format.
    format: Format,
    /// Share of AuthFailed lines.
    failure_share: f64,
    /// Attackers, by Zipf rank.
    attackers: Vec<Client>,
    /// Legitimate clients.
    legit: Vec<Client>,
    /// Attacker activity.
    zipf: Zipf,
    /// A few live pids per program; one is replaced now and then.
    pids: [[u32; 4]; PROGS],
    /// Recent queue ids, so cleanup/qmgr/smtp lines refer to the same messages.
    qids: [u64; 8],
    /// Timestamp text cache.
    clock: Clock,
    /// What the truth file will say.
    tally: Tally,
    /// The line being built (with its newline).
    line: Vec<u8>,
    /// The message part being built (after the header).
    msg: Vec<u8>,
}

impl Gen {
    /// A generator with its client pools made from `seed`.
    fn new(args: &Options) -> Self {
        let mut rng = Rng::new(args.seed);
        let mut used: HashSet<IpAddr> = POISON.iter().map(|p| p.parse().unwrap()).collect();
        let k = args.attackers as usize;
        let attackers = make_attackers(&mut rng, k, &mut used);
        let legit = make_legit(&mut rng, LEGIT_CLIENTS, &mut used);
        let pids = std::array::from_fn(|_| std::array::from_fn(|_| rng.range(300, 99_999) as u32));
        let qids = std::array::from_fn(|_| rng.next_u64());
        let tally = Tally {
            fail_attacker: vec![0; k],
            fail_legit: vec![0; LEGIT_CLIENTS],
            fault_attacker: vec![0; k],
            fault_legit: vec![0; LEGIT_CLIENTS],
            ..Tally::default()
        };
        Gen {
            rng,
            host: args.host.clone(),
            format: args.format,
            failure_share: args.failure_share,
            zipf: Zipf::new(k, ZIPF_S),
            attackers,
            legit,
            pids,
            qids,
            clock: Clock::new(args.zone),
            tally,
            line: Vec::with_capacity(1024),
            msg: Vec::with_capacity(1024),
        }
    }

    /// Builds the line at time `t_us` (Unix microseconds) into `self.line`, newline included.
    fn emit(&mut self, t_us: i64) {
        self.line.clear();
        let mut m = std::mem::take(&mut self.msg);
        m.clear();
        let r = self.rng.unit();
        let fs = self.failure_share;
        let kind = if r < fs {
            LineKind::Failure
        } else if r < fs + FAULT_RATE {
            LineKind::Fault
        } else if r < fs + FAULT_RATE + DECOY_RATE {
            LineKind::Decoy
        } else if r < fs + FAULT_RATE + DECOY_RATE + GARBAGE_RATE {
            LineKind::Garbage
        } else {
            LineKind::Normal
        };
        match kind {
            LineKind::Garbage => {
                self.garbage(t_us, &mut m);
                self.tally.garbage += 1;
            }
            _ => {
                let tag = match kind {
                    LineKind::Failure => self.failure(t_us, &mut m),
                    LineKind::Fault => self.fault(&mut m),
                    LineKind::Decoy => {
                        let tag = self.decoy(&mut m);
                        self.tally.decoys += 1;
                        tag
                    }
                    _ => self.normal(t_us, &mut m),
                };
                self.header(t_us, tag);
                self.line.extend_from_slice(&m);
            }
        }
        let failures = self.tally.failures;
        if kind == LineKind::Failure && failures % CRLF_EVERY == CRLF_EVERY / 2 {
            self.line.push(b'\r');
            self.tally.crlf += 1;
        }
        self.line.push(b'\n');
        self.msg = m;
    }

    /// A pid of `prog`, from a small pool that slowly turns over.
    fn pid(&mut self, prog: Prog) -> u32 {
        let pool = &mut self.pids[prog as usize];
        let i = self.rng.below(4) as usize;
        if self.rng.chance(0.0005) {
            pool[i] = self.rng.range(300, 99_999) as u32;
        }
        pool[i]
    }

    /// The timestamp style of this line.
    fn style(&mut self) -> Style {
        match self.format {
            Format::Syslog => Style::Syslog,
            Format::Iso => Style::Iso,
            Format::Mixed => *self.rng.pick(&STYLES),
        }
    }

    /// Appends the header (timestamp, host, tag) for a line at `t_us`.
    fn header(&mut self, t_us: i64, tag: Tag) {
        let style = self.style();
        let pid = tag.prog.has_pid().then(|| self.pid(tag.prog));
        let sec = t_us.div_euclid(1_000_000);
        let micros = t_us.rem_euclid(1_000_000) as u64;
        let line = &mut self.line;
        let (head, tail) = self.clock.get(style, sec);
        if style == Style::Rfc5424 {
            let pri: u64 = match (tag.prog, tag.warn) {
                (Prog::Logger, _) => 13,
                (_, true) => 20,
                (_, false) => 22,
            };
            line.push(b'<');
            push_u64(line, pri);
            line.extend_from_slice(b">1 ");
        }
        line.extend_from_slice(head.as_bytes());
        if matches!(style, Style::Iso | Style::Rfc5424) {
            line.push(b'.');
            push_padded(line, micros, 6);
            line.extend_from_slice(tail.as_bytes());
        }
        line.push(b' ');
        line.extend_from_slice(self.host.as_bytes());
        line.push(b' ');
        line.extend_from_slice(tag.prog.name().as_bytes());
        if style == Style::Rfc5424 {
            line.push(b' ');
            match pid {
                Some(p) => push_u64(line, u64::from(p)),
                None => line.push(b'-'),
            }
            line.extend_from_slice(b" - - ");
        } else {
            if let Some(p) = pid {
                line.push(b'[');
                push_u64(line, u64::from(p));
                line.push(b']');
            }
            line.extend_from_slice(b": ");
        }
    }

    /// An attacker by Zipf rank.
    fn attacker(&mut self) -> Who {
        Who::Attacker(self.zipf.sample(&mut self.rng))
    }

    /// A legitimate client, uniformly.
    fn legit(&mut self) -> Who {
        Who::Legit(self.rng.below(self.legit.len() as u64) as usize)
    }

    /// The client record of `who`.
    fn client(&self, who: Who) -> &Client {
        match who {
            Who::Attacker(i) => &self.attackers[i],
            Who::Legit(i) => &self.legit[i],
        }
    }

    /// Appends `name[addr]` (sometimes `unknown` despite a name, sometimes with `:port`).
    fn push_client(&mut self, m: &mut Vec<u8>, who: Who, port_share: f64) {
        let use_name = self.rng.chance(0.9);
        let port = self
            .rng
            .chance(port_share)
            .then(|| self.rng.range(1024, 65535));
        let c = self.client(who);
        match (&c.name, use_name) {
            (Some(n), true) => m.extend_from_slice(n.as_bytes()),
            _ => m.extend_from_slice(b"unknown"),
        }
        m.push(b'[');
        m.extend_from_slice(c.addr.as_bytes());
        m.push(b']');
        if let Some(p) = port {
            m.push(b':');
            push_u64(m, p);
        }
    }

    /// Appends the address of `who` alone.
    fn push_addr(&self, m: &mut Vec<u8>, who: Who) {
        m.extend_from_slice(self.client(who).addr.as_bytes());
    }

    /// Appends a random mailbox at one of our domains.
    fn push_mailbox(&mut self, m: &mut Vec<u8>) {
        m.extend_from_slice(self.rng.pick(&MAILBOXES).as_bytes());
        m.extend_from_slice(b"@example.com");
    }

    /// Appends a random outside address (`user@word.example`).
    fn push_outside(&mut self, m: &mut Vec<u8>) {
        let u = *self.rng.pick(&ATTACK_USERS);
        let w = *self.rng.pick(&WORDS);
        m.extend_from_slice(u.as_bytes());
        m.push(b'@');
        m.extend_from_slice(w.as_bytes());
        m.extend_from_slice(b".example");
    }

    /// Appends a queue id: a new one (remembered) or a recent one.
    fn push_qid(&mut self, m: &mut Vec<u8>, fresh: bool) {
        let i = self.rng.below(self.qids.len() as u64) as usize;
        if fresh {
            self.qids[i] = self.rng.next_u64();
        }
        push_hex(m, self.qids[i], 10);
    }

    /// Writes a counted SASL failure and tallies it.
    fn failure(&mut self, t_us: i64, m: &mut Vec<u8>) -> Tag {
        let who = if self.rng.chance(LEGIT_FAILURE_RATE) {
            self.legit()
        } else {
            self.attacker()
        };
        let prog = self.rng.weighted(&SMTPD_SERVICES);
        m.extend_from_slice(b"warning: ");
        self.push_client(m, who, 0.1);
        m.extend_from_slice(b": SASL ");
        let hostile = self.rng.chance(HOSTILE_RATE);
        // Round robin over the hostile usernames, then a hostile mechanism.
        let hostile_pick = (self.tally.hostile % (HOSTILE_USERS.len() as u64 + 1)) as usize;
        let hostile_mech = hostile && hostile_pick == HOSTILE_USERS.len();
        if hostile_mech {
            m.extend_from_slice(b"LOGIN[6.6.6.6]");
        } else {
            m.extend_from_slice(self.rng.weighted(&MECHS).as_bytes());
        }
        m.extend_from_slice(b" authentication failed:");
        // Postfix 3.9 and the 3.5.22/3.6.12/3.7.8/3.8.3 backports add the username and
        // never leave the reason empty.
        let with_user = hostile || self.rng.chance(0.45);
        let mut reason = self.rng.weighted(&REASONS);
        if with_user && reason.trim().is_empty() {
            reason = "(reason unavailable)";
        }
        if !reason.is_empty() {
            m.push(b' ');
            m.extend_from_slice(reason.trim_start().as_bytes());
        }
        if with_user {
            m.extend_from_slice(b", sasl_username=");
            if hostile && !hostile_mech {
                m.extend_from_slice(HOSTILE_USERS[hostile_pick].as_bytes());
            } else if matches!(who, Who::Legit(_)) {
                self.push_mailbox(m);
            } else if self.rng.chance(0.05) {
                m.extend_from_slice(b"(unavailable)");
            } else {
                let u = *self.rng.pick(&ATTACK_USERS);
                m.extend_from_slice(u.as_bytes());
                if self.rng.chance(0.4) {
                    m.extend_from_slice(b"@example.com");
                }
            }
        }
        if hostile {
            self.tally.hostile += 1;
        }
        self.tally.failures += 1;
        match who {
            Who::Attacker(i) => self.tally.fail_attacker[i] += 1,
            Who::Legit(i) => self.tally.fail_legit[i] += 1,
        }
        let sec = t_us.div_euclid(1_000_000);
        self.tally.failure_span = Some(match self.tally.failure_span {
            None => (sec, sec),
            Some((first, _)) => (first, sec),
        });
        Tag { prog, warn: true }
    }

    /// Writes a server-side fault and tallies it.
    fn fault(&mut self, m: &mut Vec<u8>) -> Tag {
        let who = if self.rng.chance(0.5) {
            self.legit()
        } else {
            self.attacker()
        };
        let prog = self.rng.weighted(&SMTPD_SERVICES);
        m.extend_from_slice(b"warning: ");
        self.push_client(m, who, 0.1);
        m.extend_from_slice(b": SASL ");
        m.extend_from_slice(self.rng.weighted(&MECHS).as_bytes());
        m.extend_from_slice(b" authentication failed: ");
        m.extend_from_slice(self.rng.weighted(&FAULT_REASONS).as_bytes());
        if self.rng.chance(0.45) {
            m.extend_from_slice(b", sasl_username=");
            self.push_mailbox(m);
        }
        match who {
            Who::Attacker(i) => self.tally.fault_attacker[i] += 1,
            Who::Legit(i) => self.tally.fault_legit[i] += 1,
        }
        Tag { prog, warn: true }
    }

    /// Writes a decoy: failure-like text that must not count.
    fn decoy(&mut self, m: &mut Vec<u8>) -> Tag {
        match DECOY_CYCLE[(self.tally.decoys % DECOY_CYCLE.len() as u64) as usize] {
            Decoy::Cleanup => {
                self.push_qid(m, false);
                m.extend_from_slice(
                    b": warning: header Subject: warning: unknown[6.6.6.6]: SASL LOGIN \
                      authentication failed: UGFzc3dvcmQ6 from unknown[7.7.7.7]; from=<",
                );
                self.push_outside(m);
                m.extend_from_slice(b"> to=<");
                self.push_mailbox(m);
                m.extend_from_slice(b"> proto=ESMTP helo=<[6.6.6.6]>");
                Tag {
                    prog: Prog::Cleanup,
                    warn: true,
                }
            }
            Decoy::Logger => {
                m.extend_from_slice(
                    b"warning: unknown[6.6.6.6]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
                );
                if self.rng.chance(0.5) {
                    m.extend_from_slice(b", sasl_username=admin");
                }
                Tag {
                    prog: Prog::Logger,
                    warn: true,
                }
            }
            Decoy::UnknownUnknown => {
                let prog = self.rng.weighted(&SMTPD_SERVICES);
                m.extend_from_slice(
                    b"warning: unknown[unknown]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
                );
                Tag { prog, warn: true }
            }
            Decoy::Aborted => {
                let prog = self.rng.weighted(&SMTPD_SERVICES);
                let who = self.attacker();
                m.extend_from_slice(b"warning: ");
                self.push_client(m, who, 0.1);
                m.extend_from_slice(b": SASL LOGIN authentication aborted");
                Tag { prog, warn: true }
            }
            Decoy::SmtpClient => {
                self.push_qid(m, false);
                m.extend_from_slice(
                    b": SASL authentication failed; server relay.isp.example[203.0.113.25] said: \
                      535 5.7.8 Error: authentication failed: authentication failure",
                );
                Tag {
                    prog: Prog::Smtp,
                    warn: false,
                }
            }
            Decoy::RejectText => {
                let who = self.attacker();
                m.extend_from_slice(b"NOQUEUE: reject: RCPT from ");
                self.push_client(m, who, 0.0);
                m.extend_from_slice(
                    b": 554 5.7.1 <warning@[6.6.6.6]>: Relay access denied; \
                      from=<SASL.LOGIN.authentication.failed@[7.7.7.7]> to=<warning@[6.6.6.6]> \
                      proto=ESMTP helo=<unknown[6.6.6.6]: SASL LOGIN authentication failed:>",
                );
                Tag {
                    prog: Prog::Smtpd,
                    warn: false,
                }
            }
        }
    }

    /// Writes a garbage line straight into `self.line` (without the newline).
    fn garbage(&mut self, t_us: i64, m: &mut Vec<u8>) {
        let kind = GARBAGE_CYCLE[(self.tally.garbage % GARBAGE_CYCLE.len() as u64) as usize];
        match kind {
            Garbage::Junk => {
                let n = self.rng.range(1, 200);
                for _ in 0..n {
                    // No NUL: rsyslog and Postfix escape it, and one NUL makes GNU grep
                    // stop at its first match ("binary file matches"), which would cut
                    // the benchmark's classic pipeline short.
                    let mut b = self.rng.below(256) as u8;
                    if b == b'\n' || b == 0 {
                        b = 0xFF;
                    }
                    self.line.push(b);
                }
            }
            // Cut before the `]`: no address, nothing to count.
            Garbage::CutAddress => {
                let who = self.attacker();
                let tag = Tag {
                    prog: Prog::Smtpd,
                    warn: true,
                };
                self.header(t_us, tag);
                self.line.extend_from_slice(b"warning: unknown[");
                let addr = self.client(who).addr.clone();
                let cut = self.rng.range(0, addr.len() as u64 - 1) as usize;
                self.line.extend_from_slice(&addr.as_bytes()[..cut]);
            }
            // Ordinary lines hold no failure text, so a cut one cannot count either.
            Garbage::CutNormal => {
                let tag = self.normal(t_us, m);
                self.header(t_us, tag);
                self.line.extend_from_slice(m);
                let cut = self.rng.range(1, self.line.len() as u64 - 1) as usize;
                self.line.truncate(cut);
            }
            Garbage::BadStamp => {
                let stamp: &[u8] = match self.rng.below(3) {
                    0 => b"Nov 27 25:61:99",
                    1 => b"Zzz 27 03:36:21",
                    _ => b"2026-13-45T03:36:21.000000+00:00",
                };
                self.line.extend_from_slice(stamp);
                self.line.push(b' ');
                self.line.extend_from_slice(self.host.as_bytes());
                self.line.extend_from_slice(
                    b" postfix/smtpd[4242]: warning: unknown[6.6.6.6]: SASL LOGIN \
                      authentication failed: UGFzc3dvcmQ6",
                );
            }
            Garbage::BadAddress => {
                let bad = *self.rng.pick(&[
                    "300.6.6.6",
                    "6.6.6",
                    "2001:db8:6666::g",
                    "",
                    "6.6.6.6.6",
                    "IPv6:2001:db8:6666::6",
                ]);
                self.header(
                    t_us,
                    Tag {
                        prog: Prog::Smtpd,
                        warn: true,
                    },
                );
                self.line.extend_from_slice(b"warning: unknown[");
                self.line.extend_from_slice(bad.as_bytes());
                self.line
                    .extend_from_slice(b"]: SASL LOGIN authentication failed: UGFzc3dvcmQ6");
            }
            Garbage::Long => {
                let n = self.rng.range(5_000, 20_000);
                for _ in 0..n {
                    self.line.push(b' ' + self.rng.below(95) as u8);
                }
            }
        }
    }

    /// Writes an ordinary line.
    fn normal(&mut self, t_us: i64, m: &mut Vec<u8>) -> Tag {
        let info = |prog| Tag { prog, warn: false };
        match self.rng.weighted(&NORMAL_MIX) {
            Normal::Connect => {
                let who = if self.rng.chance(0.55) {
                    self.attacker()
                } else {
                    self.legit()
                };
                let prog = self.rng.weighted(&SMTPD_SERVICES[..3]);
                m.extend_from_slice(b"connect from ");
                self.push_client(m, who, 0.05);
                info(prog)
            }
            Normal::DisconnectAttacker => {
                let who = self.attacker();
                let prog = self.rng.weighted(&SMTPD_SERVICES[..3]);
                m.extend_from_slice(b"disconnect from ");
                self.push_client(m, who, 0.05);
                let n = self.rng.weighted(&[(70, 1u64), (20, 2), (10, 3)]);
                m.extend_from_slice(b" ehlo=1 auth=0/");
                push_u64(m, n);
                if self.rng.chance(0.6) {
                    m.extend_from_slice(b" quit=1 commands=2/");
                    push_u64(m, n + 2);
                } else {
                    m.extend_from_slice(b" commands=1/");
                    push_u64(m, n + 1);
                }
                info(prog)
            }
            Normal::DisconnectLegit => {
                let who = self.legit();
                let prog = self.rng.weighted(&SMTPD_SERVICES[..3]);
                m.extend_from_slice(b"disconnect from ");
                self.push_client(m, who, 0.05);
                if prog == Prog::Smtpd {
                    m.extend_from_slice(
                        b" ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7",
                    );
                } else {
                    m.extend_from_slice(
                        b" ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=8",
                    );
                }
                info(prog)
            }
            Normal::LostAfterAuth => {
                let who = self.attacker();
                let prog = self.rng.weighted(&SMTPD_SERVICES[..3]);
                if self.rng.chance(0.3) {
                    m.extend_from_slice(b"NOQUEUE: ");
                }
                m.extend_from_slice(b"lost connection after AUTH from ");
                self.push_client(m, who, 0.05);
                info(prog)
            }
            Normal::ErrorsAfterAuth => {
                let who = self.attacker();
                let prog = self.rng.weighted(&SMTPD_SERVICES[..3]);
                if self.rng.chance(0.5) {
                    m.extend_from_slice(b"too many errors after AUTH from ");
                    self.push_client(m, who, 0.05);
                    info(prog)
                } else if self.rng.chance(0.5) {
                    m.extend_from_slice(b"timeout after AUTH from ");
                    self.push_client(m, who, 0.05);
                    info(prog)
                } else {
                    m.extend_from_slice(b"warning: AUTH command rate limit exceeded: 6 from ");
                    self.push_client(m, who, 0.0);
                    m.extend_from_slice(b" for service smtp");
                    Tag { prog, warn: true }
                }
            }
            Normal::RejectRcpt => {
                let who = self.attacker();
                m.extend_from_slice(b"NOQUEUE: reject: RCPT from ");
                self.push_client(m, who, 0.0);
                let mut rcpt = Vec::with_capacity(48);
                self.push_outside(&mut rcpt);
                if self.rng.chance(0.5) {
                    m.extend_from_slice(b": 554 5.7.1 <");
                    m.extend_from_slice(&rcpt);
                    m.extend_from_slice(b">: Relay access denied");
                } else {
                    m.extend_from_slice(
                        b": 450 4.7.1 Client host rejected: cannot find your hostname, [",
                    );
                    self.push_addr(m, who);
                    m.push(b']');
                }
                m.extend_from_slice(b"; from=<");
                self.push_outside(m);
                m.extend_from_slice(b"> to=<");
                m.extend_from_slice(&rcpt);
                m.extend_from_slice(b"> proto=ESMTP helo=<WIN-");
                push_hex(m, self.rng.next_u64(), 8);
                m.push(b'>');
                info(Prog::Smtpd)
            }
            Normal::RejectConnect => {
                let who = self.attacker();
                let prog = self.rng.weighted(&SMTPD_SERVICES[..3]);
                m.extend_from_slice(b"NOQUEUE: reject: CONNECT from unknown[");
                self.push_addr(m, who);
                m.extend_from_slice(b"]: 554 5.7.1 <unknown[");
                self.push_addr(m, who);
                m.extend_from_slice(
                    b"]>: Client host rejected: SMTP AUTH brute force (saslguard); proto=SMTP",
                );
                info(prog)
            }
            Normal::Tls => {
                let who = if self.rng.chance(0.5) {
                    self.attacker()
                } else {
                    self.legit()
                };
                let prog = self.rng.weighted(&SMTPD_SERVICES[..3]);
                m.extend_from_slice(b"Anonymous TLS connection established from ");
                self.push_client(m, who, 0.0);
                m.extend_from_slice(b": ");
                m.extend_from_slice(self.rng.pick(&TLS).as_bytes());
                info(prog)
            }
            Normal::ClientQueued => {
                let who = self.legit();
                let prog = self.rng.weighted(&SMTPD_SERVICES[..2]);
                self.push_qid(m, true);
                m.extend_from_slice(b": client=");
                self.push_client(m, who, 0.0);
                if prog == Prog::Submission {
                    m.extend_from_slice(b", sasl_method=PLAIN, sasl_username=");
                    self.push_mailbox(m);
                }
                info(prog)
            }
            Normal::MessageId => {
                self.push_qid(m, false);
                m.extend_from_slice(b": message-id=<");
                push_u64(m, 20_260_000_000_000 + self.rng.below(1_000_000_000));
                m.push(b'.');
                push_hex(m, self.rng.next_u64(), 16);
                m.push(b'@');
                m.extend_from_slice(self.rng.pick(&WORDS).as_bytes());
                m.extend_from_slice(b".example>");
                info(Prog::Cleanup)
            }
            Normal::QmgrFrom => {
                self.push_qid(m, false);
                m.extend_from_slice(b": from=<");
                if self.rng.chance(0.5) {
                    self.push_mailbox(m);
                } else {
                    self.push_outside(m);
                }
                m.extend_from_slice(b">, size=");
                push_u64(m, self.rng.range(800, 250_000));
                m.extend_from_slice(b", nrcpt=1 (queue active)");
                info(Prog::Qmgr)
            }
            Normal::SmtpSent => {
                self.push_qid(m, false);
                m.extend_from_slice(b": to=<");
                self.push_outside(m);
                let w = *self.rng.pick(&WORDS);
                m.extend_from_slice(b">, relay=mx.");
                m.extend_from_slice(w.as_bytes());
                m.extend_from_slice(b".example[203.0.113.");
                push_u64(m, self.rng.range(1, 254));
                m.extend_from_slice(b"]:25, delay=");
                let d = [
                    self.rng.below(20),
                    self.rng.below(5),
                    self.rng.below(60),
                    self.rng.below(90),
                ];
                push_centi(m, d.iter().sum());
                m.extend_from_slice(b", delays=");
                for (i, x) in d.iter().enumerate() {
                    if i > 0 {
                        m.push(b'/');
                    }
                    push_centi(m, *x);
                }
                m.extend_from_slice(b", dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as ");
                push_hex(m, self.rng.next_u64(), 10);
                m.push(b')');
                info(Prog::Smtp)
            }
            Normal::LmtpSent => {
                self.push_qid(m, false);
                m.extend_from_slice(b": to=<");
                let mut rcpt = Vec::with_capacity(32);
                self.push_mailbox(&mut rcpt);
                m.extend_from_slice(&rcpt);
                m.extend_from_slice(
                    b">, relay=mx1.example.com[private/dovecot-lmtp], delay=0.12, \
                      delays=0.06/0.01/0.01/0.04, dsn=2.0.0, status=sent (250 2.0.0 <",
                );
                m.extend_from_slice(&rcpt);
                m.extend_from_slice(b"> ");
                push_hex(m, self.rng.next_u64(), 16);
                m.extend_from_slice(b" Saved)");
                info(Prog::Lmtp)
            }
            Normal::Removed => {
                self.push_qid(m, false);
                m.extend_from_slice(b": removed");
                info(Prog::Qmgr)
            }
            Normal::DovecotLogin => {
                let who = self.legit();
                m.extend_from_slice(b"imap-login: Login: user=<");
                self.push_mailbox(m);
                m.extend_from_slice(b">, method=PLAIN, rip=");
                self.push_addr(m, who);
                m.extend_from_slice(b", lip=192.0.2.10, mpid=");
                push_u64(m, self.rng.range(1000, 999_999));
                m.extend_from_slice(b", TLS, session=<");
                push_hex(m, self.rng.next_u64(), 16);
                m.push(b'>');
                info(Prog::Dovecot)
            }
            Normal::DovecotFail => {
                let who = self.attacker();
                let user = *self.rng.pick(&ATTACK_USERS);
                if self.rng.chance(0.5) {
                    m.extend_from_slice(
                        b"imap-login: Disconnected: Connection closed (auth failed, 1 attempts in 2 secs): user=<",
                    );
                    m.extend_from_slice(user.as_bytes());
                    m.extend_from_slice(b">, method=PLAIN, rip=");
                    self.push_addr(m, who);
                    m.extend_from_slice(b", lip=192.0.2.10, TLS, session=<");
                    push_hex(m, self.rng.next_u64(), 16);
                    m.push(b'>');
                } else {
                    m.extend_from_slice(b"auth: passwd-file(");
                    m.extend_from_slice(user.as_bytes());
                    m.push(b',');
                    self.push_addr(m, who);
                    m.extend_from_slice(b"): unknown user");
                }
                info(Prog::Dovecot)
            }
            Normal::Postscreen => {
                let who = if self.rng.chance(0.5) {
                    self.attacker()
                } else {
                    self.legit()
                };
                let port = self.rng.range(1024, 65535);
                match self.rng.below(3) {
                    0 => m.extend_from_slice(b"CONNECT from "),
                    1 => m.extend_from_slice(b"PASS OLD "),
                    _ => m.extend_from_slice(b"DNSBL rank 3 for "),
                }
                m.push(b'[');
                self.push_addr(m, who);
                m.extend_from_slice(b"]:");
                push_u64(m, port);
                if m.starts_with(b"CONNECT") {
                    m.extend_from_slice(b" to [192.0.2.10]:25");
                }
                info(Prog::Postscreen)
            }
            Normal::Anvil => {
                let who = self.attacker();
                m.extend_from_slice(b"statistics: max connection rate ");
                push_u64(m, self.rng.range(2, 40));
                m.extend_from_slice(b"/60s for (smtp:");
                self.push_addr(m, who);
                m.extend_from_slice(b") at ");
                let (head, _) = self.clock.get(Style::Syslog, t_us.div_euclid(1_000_000));
                m.extend_from_slice(head.as_bytes());
                info(Prog::Anvil)
            }
            Normal::SmtpdWarning => {
                let who = self.attacker();
                let prog = self.rng.weighted(&SMTPD_SERVICES[..3]);
                if self.rng.chance(0.6) {
                    m.extend_from_slice(b"warning: hostname ");
                    let w = *self.rng.pick(&WORDS);
                    m.extend_from_slice(b"host-");
                    push_u64(m, self.rng.range(1, 9999));
                    m.push(b'.');
                    m.extend_from_slice(w.as_bytes());
                    m.extend_from_slice(b".example does not resolve to address ");
                    self.push_addr(m, who);
                    m.extend_from_slice(b": Name or service not known");
                } else {
                    m.extend_from_slice(b"warning: non-SMTP command from ");
                    self.push_client(m, who, 0.0);
                    m.extend_from_slice(b": GET / HTTP/1.1");
                }
                Tag { prog, warn: true }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Truth and main
// ---------------------------------------------------------------------------------------

/// How the file was made (informational).
#[derive(Serialize, Debug, Clone)]
pub struct Meta {
    /// `--seed`.
    pub seed: u64,
    /// `--format`.
    pub format: String,
    /// `--attackers`.
    pub attackers: u32,
    /// `--failure-share`.
    pub failure_share: f64,
    /// `--span` in seconds.
    pub span_seconds: f64,
    /// `--end` as RFC 3339 UTC.
    pub end: String,
}

/// The truth file: what a correct ingest of the log must find.
#[derive(Serialize, Debug, Clone)]
pub struct Truth {
    /// Lines written (exactly `--lines`).
    pub lines: u64,
    /// AuthFailed lines (the sum of `failures`).
    pub failures_total: u64,
    /// Server-side fault lines (the sum of `server_faults`).
    pub server_faults_total: u64,
    /// Junk, truncated lines and failure-shaped lines with impossible stamps or addresses:
    /// never counted (a parser reports them as unparsed, or as irrelevant when they lost
    /// their failure text).
    pub garbage_lines: u64,
    /// AuthFailed lines per client address (`IpAddr` Display form).
    pub failures: BTreeMap<String, u64>,
    /// Server-side faults per client address.
    pub server_faults: BTreeMap<String, u64>,
    /// Time of the first line, RFC 3339 UTC, truncated to the second.
    pub first_time: String,
    /// Time of the last line, RFC 3339 UTC, truncated to the second.
    pub last_time: String,
    /// Time of the first AuthFailed line (seconds), if any.
    pub first_failure_time: Option<String>,
    /// Time of the last AuthFailed line (seconds), if any.
    pub last_failure_time: Option<String>,
    /// Well-formed look-alike lines that must not count (informational).
    pub decoy_lines: u64,
    /// AuthFailed lines with hostile usernames or mechanisms (included in `failures`).
    pub hostile_lines: u64,
    /// AuthFailed lines ending in `\r\n` (included in `failures`).
    pub crlf_lines: u64,
    /// The generator's settings.
    pub generator: Meta,
}

/// RFC 3339 UTC text of Unix second `sec`.
fn rfc3339(sec: i64) -> String {
    DateTime::<Utc>::from_timestamp(sec, 0)
        .expect("time in range")
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Merges per-pool counters into an address-keyed map, dropping zeros.
fn by_addr(g: &Gen, attackers: &[u64], legit: &[u64]) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (c, &n) in g.attackers.iter().zip(attackers) {
        if n > 0 {
            out.insert(c.addr.clone(), n);
        }
    }
    for (c, &n) in g.legit.iter().zip(legit) {
        if n > 0 {
            out.insert(c.addr.clone(), n);
        }
    }
    out
}

/// What [`write`] made: the truth it wrote, and the size and time of the log.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The truth file's content.
    pub truth: Truth,
    /// Bytes written to the log.
    pub bytes: u64,
    /// Time spent writing the log.
    pub elapsed: Duration,
}

/// Writes the log `out` (then sets its mtime to `--end`) and the JSON truth file `truth`
/// that `options` describe.
pub fn write(options: &Options, out: &Path, truth: &Path) -> Result<Generated> {
    let args = options;
    let end = args.end.unwrap_or_else(|| {
        DateTime::<Utc>::from_timestamp(Utc::now().timestamp(), 0).expect("now is in range")
    });
    let end_us = end.timestamp_micros();
    let span_us = i64::try_from(args.span.as_micros()).context("--span is too long")?;
    let start_us = end_us
        .checked_sub(span_us)
        .context("--span reaches too far back")?;
    if start_us < 0 {
        bail!("the span must start after 1970");
    }
    let n = args.lines;

    let started = Instant::now();
    let mut g = Gen::new(args);
    let (bytes, file) = write_log(&mut g, out, start_us, end_us, n)?;
    // The mtime tells a reader which year the year-less stamps belong to. Only for
    // regular files: never touch /dev/null or a pipe.
    if file.metadata().is_ok_and(|m| m.is_file()) {
        let mtime = SystemTime::UNIX_EPOCH + Duration::from_micros(end_us as u64);
        file.set_modified(mtime)
            .with_context(|| format!("setting the mtime of {}", out.display()))?;
    }
    drop(file);
    let elapsed = started.elapsed();

    let failures = by_addr(&g, &g.tally.fail_attacker, &g.tally.fail_legit);
    let server_faults = by_addr(&g, &g.tally.fault_attacker, &g.tally.fault_legit);
    let first_us = if n > 1 { start_us } else { end_us };
    let record = Truth {
        lines: n,
        failures_total: failures.values().sum(),
        server_faults_total: server_faults.values().sum(),
        garbage_lines: g.tally.garbage,
        first_time: rfc3339(first_us.div_euclid(1_000_000)),
        last_time: rfc3339(end_us.div_euclid(1_000_000)),
        first_failure_time: g.tally.failure_span.map(|(f, _)| rfc3339(f)),
        last_failure_time: g.tally.failure_span.map(|(_, l)| rfc3339(l)),
        decoy_lines: g.tally.decoys,
        hostile_lines: g.tally.hostile,
        crlf_lines: g.tally.crlf,
        generator: Meta {
            seed: args.seed,
            format: format!("{:?}", args.format).to_lowercase(),
            attackers: args.attackers,
            failure_share: args.failure_share,
            span_seconds: args.span.as_secs_f64(),
            end: end.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        },
        failures,
        server_faults,
    };
    write_truth(&record, truth)?;
    Ok(Generated {
        truth: record,
        bytes,
        elapsed,
    })
}

/// Writes `n` lines evenly spread from `start_us` to `end_us` into `out`: the bytes
/// written and the file, flushed.
fn write_log(g: &mut Gen, out: &Path, start_us: i64, end_us: i64, n: u64) -> Result<(u64, File)> {
    let span_us = end_us - start_us;
    let file = File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut w = BufWriter::with_capacity(8 << 20, file);
    let mut bytes: u64 = 0;
    for i in 0..n {
        // Evenly spread, monotonically non-decreasing; the last line is at --end exactly.
        let t_us = if n > 1 {
            start_us + (i128::from(span_us) * i128::from(i) / i128::from(n - 1)) as i64
        } else {
            end_us
        };
        g.emit(t_us);
        bytes += g.line.len() as u64;
        w.write_all(&g.line)
            .with_context(|| format!("writing {}", out.display()))?;
    }
    let file = w
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("writing {}", out.display()))?;
    Ok((bytes, file))
}

/// Writes `truth` as pretty JSON to `path`.
fn write_truth(truth: &Truth, path: &Path) -> Result<()> {
    let tf = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut tw = BufWriter::new(tf);
    serde_json::to_writer_pretty(&mut tw, truth)?;
    tw.write_all(b"\n")?;
    tw.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Options for an in-memory run.
    fn args(extra: &[&str]) -> Options {
        let mut v = vec![
            "--lines",
            "1",
            "--end",
            "2026-11-27T12:00:00Z",
            "--attackers",
            "50",
        ];
        v.extend_from_slice(extra);
        Options::from_flags(v).expect("flags")
    }

    /// Generates `n` lines into memory.
    fn run(a: &Options, n: u64) -> (Gen, Vec<u8>) {
        let mut g = Gen::new(a);
        let mut out = Vec::new();
        for i in 0..n {
            g.emit(1_790_000_000_000_000 + i as i64 * 1_234_567);
            out.extend_from_slice(&g.line);
        }
        (g, out)
    }

    #[test]
    fn rng_is_reproducible() {
        let (mut a, mut b) = (Rng::new(42), Rng::new(42));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }

    #[test]
    fn number_formatting() {
        let mut b = Vec::new();
        push_padded(&mut b, 42, 6);
        b.push(b' ');
        push_centi(&mut b, 1205);
        b.push(b' ');
        push_hex(&mut b, 0xABC, 4);
        assert_eq!(b, b"000042 12.05 0ABC");
    }

    #[test]
    fn exact_line_count_and_consistent_tally() {
        for format in ["syslog", "iso", "mixed"] {
            let a = args(&["--format", format]);
            let (g, out) = run(&a, 20_000);
            assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 20_000);
            assert_eq!(out.last(), Some(&b'\n'));
            let counted: u64 =
                g.tally.fail_attacker.iter().sum::<u64>() + g.tally.fail_legit.iter().sum::<u64>();
            let faults: u64 = g.tally.fault_attacker.iter().sum::<u64>()
                + g.tally.fault_legit.iter().sum::<u64>();
            assert!(counted > 3_000, "{format}: {counted}");
            assert_eq!(counted, g.tally.failures, "{format}: per-client tally");
            // Read back independently: the lines of Postfix's shape (an smtpd tag, a
            // client whose address the standard parser takes, a well-formed stamp) are
            // exactly the failures and faults the truth tallies; decoys, garbage and
            // hostile texts inside them add or hide none.
            assert_eq!(
                real_failure_lines(&out),
                counted + faults,
                "{format}: failure-shaped lines"
            );
        }
    }

    /// Lines with smtpd's failure shape: `.../smtpd[PID]: warning: NAME[ADDR]: SASL `
    /// with ADDR a valid address, a stamp that is not one of the garbage ones, and
    /// ` authentication failed:` after the mechanism.
    fn real_failure_lines(out: &[u8]) -> u64 {
        // Traditional or RFC 3339 stamps with `TAG[PID]: `, or RFC 5424 with `TAG PID - - `.
        let shape = regex::Regex::new(
            r"^(?:<\d+>1 (?P<stamp5424>\S+) \S+ \S*/smtpd \d+ - - |(?P<stamp>\S+ +\S+ \S+|\S+) \S+ \S*/smtpd\[\d+\]: )warning: [^\s\[]+\[(?P<addr>[^\]]*)\](:\d+)?: SASL ",
        )
        .unwrap();
        let bad_stamps = ["25:61:99", "Zzz ", "2026-13-45"];
        String::from_utf8_lossy(out)
            .lines()
            .filter(|line| {
                let Some(caps) = shape.captures(line) else {
                    return false;
                };
                let rest = &line[caps.get(0).unwrap().end()..];
                let stamp = caps
                    .name("stamp")
                    .or(caps.name("stamp5424"))
                    .map_or("", |m| m.as_str());
                caps["addr"].parse::<IpAddr>().is_ok()
                    && !bad_stamps.iter().any(|bad| stamp.contains(bad))
                    && rest.contains(" authentication failed:")
            })
            .count() as u64
    }

    #[test]
    fn same_seed_same_output() {
        let a = args(&["--format", "mixed", "--seed", "9"]);
        assert_eq!(run(&a, 3_000).1, run(&a, 3_000).1);
        let b = args(&["--format", "mixed", "--seed", "10"]);
        assert_ne!(run(&a, 3_000).1, run(&b, 3_000).1);
    }

    #[test]
    fn zipf_favours_low_ranks() {
        let z = Zipf::new(100, ZIPF_S);
        let mut rng = Rng::new(3);
        let mut hits = [0u32; 100];
        for _ in 0..100_000 {
            hits[z.sample(&mut rng)] += 1;
        }
        assert!(hits[0] > hits[1] && hits[1] > hits[9] && hits[9] > hits[99]);
    }
}
