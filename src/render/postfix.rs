//! The Postfix target: blocked networks become an access map for
//! `check_client_access` (cidr, texthash, hash or lmdb).
//!
//! The map is always rewritten whole from the wanted set, never appended to, and only
//! when its bytes would change, so an unchanged set costs one file read: no write, no
//! postmap, no reload. The text carries no timestamp for the same reason.
//!
//! Key syntax per table type (checked against Postfix 3.7 `postmap` and `smtpd`):
//! - `cidr:` takes `1.2.3.4`, `1.2.3.0/24`, `2001:db8::1` and `2001:db8::/64`.
//! - `texthash:`, `hash:` and `lmdb:` are exact-match tables. smtpd looks up the
//!   client address as text, then drops its last `.octet` (IPv4) or `:pair` (IPv6)
//!   again and again. So whole addresses and IPv4 `/8`, `/16`, `/24` prefixes written
//!   as `1`, `1.2`, `1.2.3` work; IPv6 networks and other prefix lengths cannot be
//!   expressed and are refused (use `cidr`). IPv6 addresses are written in the
//!   compressed form smtpd uses (glibc `inet_ntop`): `2001:db8::1`, `::1.2.3.4`.
//!
//! hash and lmdb maps are compiled beside a temporary copy of the source and renamed
//! into place (`MAP.db` / `MAP.lmdb` first, then `MAP`), so smtpd never opens a
//! half-built database.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use ipnet::{IpNet, Ipv4Net};

use super::atomic;
use super::command;
use super::{Diff, Entry, Target};
use crate::config::{MapType, PostfixConfig};

/// The Postfix access map saslguard owns, described by `[postfix]` in the config.
#[derive(Debug, Clone)]
pub struct PostfixMap {
    config: PostfixConfig,
}

impl PostfixMap {
    /// A target writing the map `config.map` of type `config.map_type`.
    pub fn new(config: &PostfixConfig) -> Self {
        PostfixMap {
            config: config.clone(),
        }
    }

    /// The map's source file (the one saslguard writes and reads back).
    pub fn path(&self) -> &Path {
        &self.config.map
    }

    /// The file postmap builds from the source (`MAP.db` for hash, `MAP.lmdb` for
    /// lmdb), which is what smtpd actually reads; `None` for cidr and texthash.
    pub fn compiled_path(&self) -> Option<PathBuf> {
        compiled_suffix(self.config.map_type).map(|suffix| with_suffix(&self.config.map, suffix))
    }

    /// The text the map should hold for `wanted`.
    fn render(&self, wanted: &[Entry]) -> anyhow::Result<String> {
        render_text(self.config.map_type, &self.config.reject_text, wanted)
    }

    /// The map's source bytes, `None` when the file does not exist.
    fn read_source(&self) -> anyhow::Result<Option<Vec<u8>>> {
        match std::fs::read(&self.config.map) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| {
                format!("cannot read the Postfix map {}", self.config.map.display())
            }),
        }
    }

    /// Whether the compiled map exists and is not older than its source (a source
    /// edited after the last postmap run needs a rebuild). Always true for the table
    /// types that have no compiled file.
    fn compiled_is_current(&self) -> bool {
        let Some(compiled) = self.compiled_path() else {
            return true;
        };
        let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified());
        match (modified(&compiled), modified(&self.config.map)) {
            (Ok(compiled), Ok(source)) => compiled >= source,
            _ => false,
        }
    }

    /// Builds MAP.db / MAP.lmdb from `text` with postmap and moves both into place:
    /// the source goes to a temporary file beside the map, `postmap TYPE:TMP` compiles
    /// it to TMP.db, TMP.db is renamed to MAP.db, then TMP to MAP. Any failure
    /// removes the temporary files and leaves the old map and database as they were.
    fn compile_and_install(&self, text: &str) -> anyhow::Result<()> {
        let map = &self.config.map;
        let suffix = compiled_suffix(self.config.map_type).expect("a compiled map type");
        let mut source = atomic::temp_file_beside(map)?;
        std::io::Write::write_all(&mut source, text.as_bytes())
            .and_then(|()| source.as_file().sync_all())
            .with_context(|| format!("cannot write {}", source.path().display()))?;
        let compiled_temp = RemoveOnDrop(with_suffix(source.path(), suffix));

        let postmap = &self.config.postmap_command;
        let mut table = OsString::from(format!("{}:", type_name(self.config.map_type)));
        table.push(source.path());
        command::run(postmap, &[&table], None).map_err(|e| {
            anyhow!(
                "cannot compile the Postfix map {} with {postmap} (postfix.postmap_command); \
                 the old map is unchanged: {e:#}",
                map.display()
            )
        })?;
        File::open(&compiled_temp.0)
            .and_then(|f| f.sync_all())
            .with_context(|| {
                format!(
                    "{postmap} did not leave a readable {}",
                    compiled_temp.0.display()
                )
            })?;

        let compiled = with_suffix(map, suffix);
        std::fs::rename(&compiled_temp.0, &compiled).with_context(|| {
            format!(
                "cannot rename {} to {}",
                compiled_temp.0.display(),
                compiled.display()
            )
        })?;
        source
            .persist(map)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot rename a temporary file to {}", map.display()))?;
        atomic::sync_dir(&atomic::parent_dir(map))
    }

    /// Runs `reload_command` (if configured) after the map changed.
    fn reload(&self) -> anyhow::Result<()> {
        let Some((program, args)) = self.config.reload_command.split_first() else {
            return Ok(());
        };
        command::run(program, args, None).map_err(|e| {
            anyhow!(
                "the Postfix map {} was updated, but the reload command \
                 (postfix.reload_command) failed: {e:#}",
                self.config.map.display()
            )
        })?;
        Ok(())
    }
}

impl Target for PostfixMap {
    fn name(&self) -> &'static str {
        "postfix"
    }

    /// Reads the networks back from the map's source file. A missing file is an empty
    /// map; a line whose key is not an address or network is an error naming it.
    fn current(&self) -> anyhow::Result<BTreeSet<IpNet>> {
        let Some(bytes) = self.read_source()? else {
            return Ok(BTreeSet::new());
        };
        let text = String::from_utf8_lossy(&bytes);
        parse_text(&text, true)
            .with_context(|| format!("cannot read the Postfix map {}", self.config.map.display()))
    }

    /// True when the map's source holds exactly the text `apply` would write and, for
    /// hash and lmdb, the compiled file is up to date.
    fn in_sync(&self, wanted: &[Entry]) -> anyhow::Result<bool> {
        // A set that cannot be rendered is never in sync; apply reports why.
        let Ok(text) = self.render(wanted) else {
            return Ok(false);
        };
        Ok(self.read_source()?.as_deref() == Some(text.as_bytes()) && self.compiled_is_current())
    }

    /// The map file's (and compiled file's) device, inode, size and modification time,
    /// plus the settings that shape the text (type, path, reject text): any edit,
    /// replacement, deletion or config change gives a different token.
    fn state_token(&self) -> anyhow::Result<Option<String>> {
        let mut token = format!(
            "{} {:?} {:?}",
            type_name(self.config.map_type),
            self.config.map,
            self.config.reject_text
        );
        let files = std::iter::once(self.config.map.clone()).chain(self.compiled_path());
        for path in files {
            let stamp = match std::fs::metadata(&path) {
                Ok(m) => format!(
                    "{}:{}:{}:{}.{:09}",
                    m.dev(),
                    m.ino(),
                    m.size(),
                    m.mtime(),
                    m.mtime_nsec()
                ),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => "absent".to_string(),
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot stat {}", path.display()));
                }
            };
            token.push(' ');
            token.push_str(&stamp);
        }
        Ok(Some(token))
    }

    /// Writes (cidr, texthash) or compiles (hash, lmdb) the map when its text differs
    /// from `wanted` or its compiled file is missing or stale, then runs
    /// `reload_command`. An unchanged map is left alone: no write, no postmap, no
    /// reload. `now` is unused: Postfix maps have no per-entry timeouts.
    fn apply(&self, wanted: &[Entry], _now: i64) -> anyhow::Result<Diff> {
        let map = &self.config.map;
        let text = self.render(wanted)?;
        let dir = atomic::parent_dir(map);
        if !dir.is_dir() {
            bail!(
                "directory {} does not exist (needed for the Postfix map {}); nothing was written",
                dir.display(),
                map.display()
            );
        }
        let old = self.read_source()?;
        if old.as_deref() == Some(text.as_bytes()) && self.compiled_is_current() {
            return Ok(Diff::default());
        }
        // What was there before; a hand-edited line that no longer parses does not stop
        // the rewrite that removes it.
        let before = match &old {
            Some(bytes) => parse_text(&String::from_utf8_lossy(bytes), false)?,
            None => BTreeSet::new(),
        };
        let after: BTreeSet<IpNet> = wanted.iter().map(|e| e.network.trunc()).collect();

        match self.config.map_type {
            MapType::Cidr | MapType::Texthash => {
                atomic::write_atomically(map, text.as_bytes())
                    .with_context(|| format!("cannot write the Postfix map {}", map.display()))?;
            }
            MapType::Hash | MapType::Lmdb => self.compile_and_install(&text)?,
        }
        self.reload()?;
        Ok(Diff::between(&before, &after))
    }
}

/// The full text of the map for `entries`, in the order given: a header saying the
/// file is generated, then one `KEY<TAB>REJECT_TEXT` line per entry.
///
/// Pure and deterministic (no timestamp), so equal sets give equal bytes and an
/// unchanged map is never rewritten. Fails for a network the table type cannot
/// express (see the module docs) and for a reject text that would break the table
/// syntax (empty, or holding a line break).
pub fn render_text(
    map_type: MapType,
    reject_text: &str,
    entries: &[Entry],
) -> anyhow::Result<String> {
    let action = reject_text.trim();
    if action.is_empty() {
        bail!("postfix.reject_text is empty: the access map needs an action such as \"REJECT\"");
    }
    if action.chars().any(|c| c.is_control()) {
        bail!("postfix.reject_text {reject_text:?} holds a line break or control character");
    }
    let type_name = type_name(map_type);
    let mut text = format!(
        "# Postfix access map ({type_name} table), generated by saslguard from its database.\n\
         # Do not edit: every change is overwritten the next time saslguard renders.\n\
         # Block and unblock with saslguard instead.\n"
    );
    for entry in entries {
        text.push_str(&render_key(map_type, entry.network)?);
        text.push('\t');
        text.push_str(action);
        text.push('\n');
    }
    Ok(text)
}

/// The lookup key for `network` in a table of `map_type`.
fn render_key(map_type: MapType, network: IpNet) -> anyhow::Result<String> {
    let network = network.trunc();
    match (map_type, network) {
        (_, IpNet::V4(net)) if net.prefix_len() == 32 => Ok(net.addr().to_string()),
        (_, IpNet::V6(net)) if net.prefix_len() == 128 => Ok(ipv6_key(net.addr())),
        (MapType::Cidr, IpNet::V4(net)) => Ok(net.to_string()),
        (MapType::Cidr, IpNet::V6(net)) => Ok(format!("{}/{}", net.addr(), net.prefix_len())),
        (_, IpNet::V4(net)) if matches!(net.prefix_len(), 8 | 16 | 24) => {
            let octets = net.addr().octets();
            let kept = usize::from(net.prefix_len() / 8);
            Ok(octets[..kept]
                .iter()
                .map(u8::to_string)
                .collect::<Vec<_>>()
                .join("."))
        }
        (_, network) => bail!(
            "cannot block {network} in a {} map: its keys are whole addresses or \
             IPv4 /8, /16 and /24 prefixes (and whole IPv6 addresses only); \
             set map_type = \"cidr\" in [postfix] to block networks of any size",
            type_name(map_type)
        ),
    }
}

/// An IPv6 address as smtpd writes it and so looks it up: glibc `inet_ntop` form.
/// That is Rust's form (RFC 5952) except for IPv4-compatible addresses (`::1.2.3.4`,
/// which Rust writes as `::102:304`).
fn ipv6_key(addr: Ipv6Addr) -> String {
    let segments = addr.segments();
    if segments[..6] == [0; 6] && segments[6] != 0 {
        let [.., a, b, c, d] = addr.octets();
        format!("::{a}.{b}.{c}.{d}")
    } else {
        addr.to_string()
    }
}

/// The networks listed in a map's text. Comment lines (`#`), blank lines and
/// continuation lines (starting with whitespace) are skipped. With `strict`, a key
/// that is no address or network is an error naming its line; otherwise it is skipped.
fn parse_text(text: &str, strict: bool) -> anyhow::Result<BTreeSet<IpNet>> {
    let mut networks = BTreeSet::new();
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.len() != line.len() {
            continue;
        }
        let key = line.split_whitespace().next().unwrap_or_default();
        match parse_key(key) {
            Some(network) => {
                networks.insert(network);
            }
            None if strict => bail!(
                "line {}: {key:?} is not an address or network (was the file edited by hand?)",
                number + 1
            ),
            None => {}
        }
    }
    Ok(networks)
}

/// One key back into a network: `1.2.3.4`, `1.2.3.0/24`, `2001:db8::/64`, `2001:db8::1`,
/// or an octet-truncated IPv4 prefix (`1.2.3` is 1.2.3.0/24, `1` is 1.0.0.0/8).
fn parse_key(key: &str) -> Option<IpNet> {
    if let Ok(network) = key.parse::<IpNet>() {
        return Some(network.trunc());
    }
    if let Ok(addr) = key.parse::<IpAddr>() {
        return Some(IpNet::from(addr));
    }
    let parts: Vec<&str> = key.split('.').collect();
    if !(1..=3).contains(&parts.len()) {
        return None;
    }
    let mut octets = [0u8; 4];
    for (octet, part) in octets.iter_mut().zip(&parts) {
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *octet = part.parse().ok()?;
    }
    let prefix_len = u8::try_from(parts.len() * 8).ok()?;
    Ipv4Net::new(Ipv4Addr::from(octets), prefix_len)
        .ok()
        .map(IpNet::V4)
}

/// The table type as Postfix spells it before the colon.
fn type_name(map_type: MapType) -> &'static str {
    match map_type {
        MapType::Cidr => "cidr",
        MapType::Texthash => "texthash",
        MapType::Hash => "hash",
        MapType::Lmdb => "lmdb",
    }
}

/// What postmap appends to the source name for the compiled file.
fn compiled_suffix(map_type: MapType) -> Option<&'static str> {
    match map_type {
        MapType::Hash => Some(".db"),
        MapType::Lmdb => Some(".lmdb"),
        MapType::Cidr | MapType::Texthash => None,
    }
}

/// `path` with `suffix` appended to its file name (`map` -> `map.db`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// A file removed when this goes out of scope (postmap's output for a temporary
/// source, which is renamed away on success).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER_LINES: usize = 3;

    fn entries(networks: &[&str]) -> Vec<Entry> {
        networks
            .iter()
            .map(|n| Entry {
                network: n.parse().unwrap(),
                expires_at: None,
            })
            .collect()
    }

    fn set(networks: &[&str]) -> BTreeSet<IpNet> {
        networks.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn body(text: &str) -> Vec<&str> {
        text.lines().skip(HEADER_LINES).collect()
    }

    /// A map in a fresh directory whose reload command creates `reloaded` (with
    /// `mkdir`, so a second run in one apply would fail).
    struct Rig {
        dir: tempfile::TempDir,
        config: PostfixConfig,
    }

    impl Rig {
        fn new(map_type: MapType) -> Rig {
            let dir = tempfile::tempdir().unwrap();
            let config = PostfixConfig {
                map: dir.path().join("saslguard_access"),
                map_type,
                reject_text: "554 5.7.1 Too many failed authentication attempts".to_string(),
                reload_command: vec![
                    "mkdir".to_string(),
                    dir.path().join("reloaded").display().to_string(),
                ],
                postmap_command: "postmap".to_string(),
                max_entries: 10,
                ..PostfixConfig::default()
            };
            Rig { dir, config }
        }

        fn target(&self) -> PostfixMap {
            PostfixMap::new(&self.config)
        }

        /// Whether the reload ran since the last call (and forgets that it did).
        fn reloaded(&self) -> bool {
            std::fs::remove_dir(self.dir.path().join("reloaded")).is_ok()
        }

        fn files(&self) -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        }
    }

    #[test]
    fn cidr_text_is_exact() {
        let text = render_text(
            MapType::Cidr,
            "REJECT go away",
            &entries(&[
                "1.2.3.4/32",
                "5.6.7.0/24",
                "2001:db8::1/128",
                "2001:db8:1::/64",
            ]),
        )
        .unwrap();
        assert_eq!(
            text,
            "# Postfix access map (cidr table), generated by saslguard from its database.\n\
             # Do not edit: every change is overwritten the next time saslguard renders.\n\
             # Block and unblock with saslguard instead.\n\
             1.2.3.4\tREJECT go away\n\
             5.6.7.0/24\tREJECT go away\n\
             2001:db8::1\tREJECT go away\n\
             2001:db8:1::/64\tREJECT go away\n"
        );
    }

    #[test]
    fn texthash_text_uses_octet_truncated_prefixes_and_compressed_ipv6() {
        let text = render_text(
            MapType::Texthash,
            "554 5.7.1 no",
            &entries(&[
                "1.2.3.4/32",
                "5.6.7.0/24",
                "9.8.0.0/16",
                "10.0.0.0/8",
                "2001:db8:0:0:0:0:0:1/128",
                "::1.2.3.4/128",
                "::ffff:1.2.3.4/128",
            ]),
        )
        .unwrap();
        assert!(text.starts_with("# Postfix access map (texthash table), generated by"));
        assert_eq!(
            body(&text),
            [
                "1.2.3.4\t554 5.7.1 no",
                "5.6.7\t554 5.7.1 no",
                "9.8\t554 5.7.1 no",
                "10\t554 5.7.1 no",
                "2001:db8::1\t554 5.7.1 no",
                "::1.2.3.4\t554 5.7.1 no",
                "::ffff:1.2.3.4\t554 5.7.1 no",
            ]
        );
    }

    #[test]
    fn the_header_has_no_timestamp_and_an_empty_set_is_only_the_header() {
        let a = render_text(MapType::Hash, "REJECT", &[]).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let b = render_text(MapType::Hash, "REJECT", &[]).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.lines().count(), HEADER_LINES);
        assert!(a.lines().all(|l| l.starts_with('#')));
        assert!(a.contains("saslguard") && a.contains("Do not edit"));
    }

    #[test]
    fn exact_match_tables_refuse_networks_they_cannot_express() {
        for map_type in [MapType::Texthash, MapType::Hash, MapType::Lmdb] {
            for network in ["10.0.0.0/20", "2001:db8::/64", "10.1.2.0/25", "0.0.0.0/0"] {
                let err = render_text(map_type, "REJECT", &entries(&[network])).unwrap_err();
                let text = format!("{err}");
                assert!(text.contains(network), "{text}");
                assert!(text.contains("map_type = \"cidr\""), "{text}");
            }
        }
        assert!(render_text(MapType::Cidr, "REJECT", &entries(&["10.0.0.0/20"])).is_ok());
    }

    #[test]
    fn a_reject_text_that_breaks_the_table_is_refused() {
        for bad in ["", "   ", "REJECT a\nb", "REJECT\ra", "REJECT \0"] {
            assert!(render_text(MapType::Cidr, bad, &[]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn keys_parse_back() {
        let text = "# comment\n\n   \n1.2.3.4 REJECT\n1.2.3\tREJECT\n1.2 x\n10 x\n\
                    5.6.7.0/24 x\n2001:db8::1 x\n2001:db8::/64 x\n  continued text\n";
        assert_eq!(
            parse_text(text, true).unwrap(),
            set(&[
                "1.2.3.4/32",
                "1.2.3.0/24",
                "1.2.0.0/16",
                "10.0.0.0/8",
                "5.6.7.0/24",
                "2001:db8::1/128",
                "2001:db8::/64",
            ])
        );
        let err = parse_text("1.2.3.4 x\nbogus x\n", true).unwrap_err();
        assert!(format!("{err}").contains("line 2"), "{err}");
        assert_eq!(
            parse_text("bogus x\n1.2.3.4 x\n", false).unwrap(),
            set(&["1.2.3.4/32"])
        );
        for bad in ["1.2.3.4.5", "1..2", "256.1", "+1.2", "", "1.2.3.4/33"] {
            assert_eq!(parse_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn ipv6_keys_match_glibc_inet_ntop() {
        for (addr, key) in [
            ("2001:0db8:0:0:0:0:0:1", "2001:db8::1"),
            ("2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"),
            ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
            ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),
            ("::1", "::1"),
            ("::", "::"),
            ("::102:304", "::1.2.3.4"),
            ("::ffff:102:304", "::ffff:1.2.3.4"),
            ("::ffff:0:102:304", "::ffff:0:102:304"),
            ("FE80::ABCD", "fe80::abcd"),
        ] {
            assert_eq!(ipv6_key(addr.parse().unwrap()), key, "{addr}");
        }
    }

    #[test]
    fn current_reads_back_what_apply_wrote() {
        for (map_type, wanted) in [
            (
                MapType::Cidr,
                entries(&[
                    "1.2.3.4/32",
                    "5.6.7.0/24",
                    "2001:db8::1/128",
                    "2001:db8:1::/64",
                ]),
            ),
            (
                MapType::Texthash,
                entries(&["1.2.3.4/32", "5.6.7.0/24", "9.0.0.0/8", "::1.2.3.4/128"]),
            ),
        ] {
            let rig = Rig::new(map_type);
            let target = rig.target();
            assert_eq!(target.name(), "postfix");
            assert!(
                target.current().unwrap().is_empty(),
                "missing file is empty"
            );
            assert!(!target.in_sync(&wanted).unwrap());
            let diff = target.apply(&wanted, 0).unwrap();
            let networks: BTreeSet<IpNet> = wanted.iter().map(|e| e.network).collect();
            assert_eq!(diff.added, networks.iter().copied().collect::<Vec<_>>());
            assert!(diff.removed.is_empty());
            assert_eq!(target.current().unwrap(), networks);
            assert!(target.in_sync(&wanted).unwrap());
            assert!(!target.in_sync(&wanted[1..]).unwrap());
        }
    }

    #[test]
    fn a_second_apply_changes_nothing_and_does_not_reload() {
        for map_type in [MapType::Cidr, MapType::Texthash] {
            let rig = Rig::new(map_type);
            let target = rig.target();
            let wanted = entries(&["1.2.3.4/32", "5.6.7.0/24"]);
            assert!(!target.apply(&wanted, 0).unwrap().is_empty());
            assert!(rig.reloaded(), "reload after the first write");
            let before = std::fs::metadata(target.path()).unwrap();
            let bytes = std::fs::read(target.path()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));

            assert_eq!(target.apply(&wanted, 1).unwrap(), Diff::default());
            let after = std::fs::metadata(target.path()).unwrap();
            assert_eq!(std::fs::read(target.path()).unwrap(), bytes);
            assert_eq!(after.modified().unwrap(), before.modified().unwrap());
            assert_eq!(after.ino(), before.ino(), "not replaced");
            assert!(!rig.reloaded(), "no reload without a change");
            assert_eq!(rig.files(), ["saslguard_access"]);
        }
    }

    #[test]
    fn each_change_reloads_exactly_once() {
        let rig = Rig::new(MapType::Cidr);
        let target = rig.target();
        // mkdir fails when run twice, so a double reload would be an error here.
        let diff = target.apply(&entries(&["1.2.3.4/32"]), 0).unwrap();
        assert_eq!(diff.added, [set(&["1.2.3.4/32"]).pop_first().unwrap()]);
        assert!(rig.reloaded());
        let diff = target.apply(&entries(&["5.6.7.0/24"]), 0).unwrap();
        assert_eq!(diff.added, ["5.6.7.0/24".parse::<IpNet>().unwrap()]);
        assert_eq!(diff.removed, ["1.2.3.4/32".parse::<IpNet>().unwrap()]);
        assert!(rig.reloaded());
        let diff = target.apply(&[], 0).unwrap();
        assert_eq!(diff.removed, ["5.6.7.0/24".parse::<IpNet>().unwrap()]);
        assert!(rig.reloaded());
        assert!(target.current().unwrap().is_empty());
        assert_eq!(
            std::fs::read_to_string(target.path()).unwrap(),
            render_text(MapType::Cidr, &rig.config.reject_text, &[]).unwrap()
        );
    }

    #[test]
    fn a_new_reject_text_rewrites_and_reloads_with_an_empty_diff() {
        let mut rig = Rig::new(MapType::Cidr);
        let wanted = entries(&["1.2.3.4/32"]);
        rig.target().apply(&wanted, 0).unwrap();
        assert!(rig.reloaded());
        rig.config.reject_text = "421 4.7.0 Go away".to_string();
        let target = rig.target();
        assert!(!target.in_sync(&wanted).unwrap());
        assert_eq!(target.apply(&wanted, 0).unwrap(), Diff::default());
        assert!(rig.reloaded());
        assert!(
            std::fs::read_to_string(target.path())
                .unwrap()
                .contains("1.2.3.4\t421 4.7.0 Go away\n")
        );
    }

    #[test]
    fn the_state_token_changes_with_the_file_and_the_settings() {
        let mut rig = Rig::new(MapType::Hash);
        let token = |rig: &Rig| rig.target().state_token().unwrap().unwrap();
        let missing = token(&rig);
        assert_eq!(token(&rig), missing, "stable");
        std::fs::write(&rig.config.map, "1.2.3.4 REJECT\n").unwrap();
        let written = token(&rig);
        assert_ne!(written, missing);
        std::fs::write(rig.dir.path().join("saslguard_access.db"), "x").unwrap();
        let compiled = token(&rig);
        assert_ne!(compiled, written);
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&rig.config.map, "1.2.3.5 REJECT\n").unwrap();
        let edited = token(&rig);
        assert_ne!(edited, compiled);
        rig.config.reject_text = "REJECT other".to_string();
        assert_ne!(token(&rig), edited);
    }

    #[test]
    fn an_empty_reload_command_is_not_run() {
        let mut rig = Rig::new(MapType::Cidr);
        rig.config.reload_command.clear();
        rig.target().apply(&entries(&["1.2.3.4/32"]), 0).unwrap();
        assert!(!rig.reloaded());
    }

    #[test]
    fn a_failing_reload_is_an_error_with_its_stderr() {
        let mut rig = Rig::new(MapType::Cidr);
        rig.config.reload_command = vec![
            "mkdir".to_string(),
            rig.dir.path().join("no/such/dir").display().to_string(),
        ];
        let err = rig
            .target()
            .apply(&entries(&["1.2.3.4/32"]), 0)
            .unwrap_err();
        let text = format!("{err}");
        assert!(text.contains("reload"), "{text}");
        assert!(text.contains("failed: mkdir:"), "stderr in {text}");
    }

    #[test]
    fn a_missing_directory_is_named_and_nothing_happens() {
        for map_type in [MapType::Cidr, MapType::Hash] {
            let mut rig = Rig::new(map_type);
            let missing = rig.dir.path().join("no-such-dir");
            rig.config.map = missing.join("saslguard_access");
            let err = rig
                .target()
                .apply(&entries(&["1.2.3.4/32"]), 0)
                .unwrap_err();
            let text = format!("{err}");
            assert!(text.contains(&missing.display().to_string()), "{text}");
            assert!(text.contains("does not exist"), "{text}");
            assert!(!missing.exists());
            assert!(!rig.reloaded());
        }
    }

    #[test]
    fn a_missing_postmap_leaves_the_old_map_alone() {
        let mut rig = Rig::new(MapType::Hash);
        rig.config.postmap_command = "saslguard-no-such-postmap".to_string();
        let target = rig.target();
        let compiled = target.compiled_path().unwrap();
        assert_eq!(compiled, rig.dir.path().join("saslguard_access.db"));
        std::fs::write(target.path(), "1.2.3.4 REJECT\n").unwrap();
        std::fs::write(&compiled, "old database").unwrap();
        let err = target.apply(&entries(&["5.6.7.8/32"]), 0).unwrap_err();
        let text = format!("{err}");
        assert!(text.contains("saslguard-no-such-postmap"), "{text}");
        assert!(text.contains("not found"), "{text}");
        assert_eq!(std::fs::read(target.path()).unwrap(), b"1.2.3.4 REJECT\n");
        assert_eq!(std::fs::read(&compiled).unwrap(), b"old database");
        assert!(!rig.reloaded());
        assert_eq!(rig.files(), ["saslguard_access", "saslguard_access.db"]);
    }

    #[test]
    fn a_hand_edited_map_is_replaced() {
        let rig = Rig::new(MapType::Cidr);
        let target = rig.target();
        std::fs::write(target.path(), "garbage here\n9.9.9.9 OK\n").unwrap();
        assert!(target.current().is_err());
        let diff = target.apply(&entries(&["1.2.3.4/32"]), 0).unwrap();
        assert_eq!(diff.removed, ["9.9.9.9/32".parse::<IpNet>().unwrap()]);
        assert_eq!(target.current().unwrap(), set(&["1.2.3.4/32"]));
    }

    #[test]
    fn compiled_paths() {
        let mut config = PostfixConfig {
            map: PathBuf::from("/etc/postfix/m"),
            ..PostfixConfig::default()
        };
        for (map_type, compiled) in [
            (MapType::Cidr, None),
            (MapType::Texthash, None),
            (MapType::Hash, Some("/etc/postfix/m.db")),
            (MapType::Lmdb, Some("/etc/postfix/m.lmdb")),
        ] {
            config.map_type = map_type;
            assert_eq!(
                PostfixMap::new(&config).compiled_path(),
                compiled.map(PathBuf::from)
            );
        }
    }
}
