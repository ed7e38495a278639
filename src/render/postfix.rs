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
//!   client address as text, then drops its last `.octet` (IPv4) or `:component`
//!   (IPv6) again and again (`check_addr_access`). So whole addresses and IPv4 `/8`,
//!   `/16`, `/24` prefixes written as `1`, `1.2`, `1.2.3` work. IPv6 text is
//!   compressed (glibc `inet_ntop`: the first longest run of two or more zero groups
//!   becomes `::`), so an IPv6 prefix of N/16 whole groups (/32 ... /112) is matched
//!   by its groups written out (`2001:db8:1:2` for `2001:db8:1:2::/64`) whenever no
//!   zero run inside it is compressed; when the prefix ends in one or two zero groups,
//!   addresses whose text compresses that run (`2001:db8::5`) are matched by the
//!   groups before it and a colon (`2001:db8:` for `2001:db8::/64`), a lookup only
//!   such addresses make (hash and lmdb only: Postfix warns about a key ending in `:`
//!   each time it reads the source, which for texthash is every smtpd process). A
//!   prefix starting with a zero group, holding a run of two or
//!   more zero groups before its end, ending in three or more, of a length that is no
//!   multiple of 16, or a /16 (whose key `20` would also match IPv4 `20.x.x.x`) cannot
//!   be expressed: [`cannot_hold`] says why, and it is left out and reported, never
//!   rendered wrongly. IPv6 addresses are written in the compressed form smtpd uses:
//!   `2001:db8::1`, `::1.2.3.4`.
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
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

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

    /// Whether the compiled map (hash, lmdb) holds exactly the keys of `text`, as
    /// `postmap -s TYPE:MAP` lists them: a key deleted or added inside the compiled
    /// file (`postmap -d`, `postmap -i`) leaves the source and its age alone, so only
    /// this sees it. It runs postmap, so callers ask only when the text already matches
    /// and the compiled file is not older than it. Always true for cidr and texthash.
    /// Runs the configured postmap on `args`, with `-c DIR` first when
    /// `postfix.config_directory` names Postfix's configuration (a second instance, or a
    /// private test directory): postmap reads main.cf from there.
    fn postmap(&self, args: &[OsString]) -> anyhow::Result<command::Output> {
        let mut all: Vec<OsString> = Vec::with_capacity(args.len() + 2);
        if let Some(dir) = &self.config.config_directory {
            all.push("-c".into());
            all.push(dir.into());
        }
        all.extend(args.iter().cloned());
        command::run(&self.config.postmap_command, &all, None)
    }

    fn compiled_holds(&self, text: &str) -> anyhow::Result<bool> {
        if compiled_suffix(self.config.map_type).is_none() {
            return Ok(true);
        }
        let postmap = &self.config.postmap_command;
        let mut table = OsString::from(format!("{}:", self.config.map_type.as_str()));
        table.push(&self.config.map);
        let listed = self.postmap(&[OsString::from("-s"), table]).map_err(|e| {
            anyhow!(
                "cannot list the compiled Postfix map {} with {postmap} \
                 (postfix.postmap_command): {e:#}",
                self.config.map.display()
            )
        })?;
        Ok(text_keys(&listed.stdout) == text_keys(text))
    }

    /// The source matches `text` and the compiled file (hash, lmdb) is current and
    /// holds the same keys.
    fn holds(&self, text: &str) -> anyhow::Result<bool> {
        Ok(self.read_source()?.as_deref() == Some(text.as_bytes())
            && self.compiled_is_current()
            && self.compiled_holds(text)?)
    }

    /// Builds MAP.db / MAP.lmdb from `text` with postmap and moves both into place:
    /// the source goes to a temporary file beside the map, `postmap TYPE:TMP` compiles
    /// it to TMP.db, TMP.db is renamed to MAP.db, then TMP to MAP. Any failure
    /// removes the temporary files and leaves the old map and database as they were.
    fn compile_and_install(&self, text: &str) -> anyhow::Result<()> {
        self.compile(text, true)
    }

    /// Compiles `text` into MAP.db / MAP.lmdb as [`Self::compile_and_install`] does;
    /// the source is moved into place only with `install_source` (otherwise MAP is left
    /// as it is and only the compiled file is replaced).
    fn compile(&self, text: &str, install_source: bool) -> anyhow::Result<()> {
        let map = &self.config.map;
        let suffix = compiled_suffix(self.config.map_type).expect("a compiled map type");
        let mut source = atomic::temp_file_beside(map)?;
        std::io::Write::write_all(&mut source, text.as_bytes())
            .and_then(|()| source.as_file().sync_all())
            .with_context(|| format!("cannot write {}", source.path().display()))?;
        let compiled_temp = RemoveOnDrop(with_suffix(source.path(), suffix));

        let postmap = &self.config.postmap_command;
        let mut table = OsString::from(format!("{}:", self.config.map_type.as_str()));
        table.push(source.path());
        self.postmap(&[table]).map_err(|e| {
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
        if install_source {
            source
                .persist(map)
                .map_err(|e| e.error)
                .with_context(|| format!("cannot rename a temporary file to {}", map.display()))?;
        }
        atomic::sync_dir(&atomic::parent_dir(map))
    }

    /// The compiled file (hash, lmdb) when it exists.
    fn existing_compiled(&self) -> Option<PathBuf> {
        self.compiled_path().filter(|path| path.exists())
    }

    /// The networks a map saslguard no longer renders to (another `[postfix] map` or
    /// `map_type` before) still holds: those its source lists, unless `shares_source`
    /// (the configured map now owns that file), and those its compiled file holds
    /// (`postmap -s`). Empty once [`Self::empty_former`] ran.
    pub fn former_entries(&self, shares_source: bool) -> anyhow::Result<BTreeSet<IpNet>> {
        let mut networks = BTreeSet::new();
        if !shares_source && let Some(bytes) = self.read_source()? {
            networks.extend(parse_text(&String::from_utf8_lossy(&bytes), false)?);
        }
        if self.existing_compiled().is_some() {
            let postmap = &self.config.postmap_command;
            let mut table = OsString::from(format!("{}:", self.config.map_type.as_str()));
            table.push(&self.config.map);
            let listed = self.postmap(&[OsString::from("-s"), table]).map_err(|e| {
                anyhow!(
                    "cannot list the former Postfix map {} with {postmap}: {e:#}",
                    self.config.map.display()
                )
            })?;
            networks.extend(parse_text(&listed.stdout, false)?);
        }
        Ok(networks)
    }

    /// Empties a map saslguard no longer renders to, so no client stays rejected by
    /// it: its source (unless `shares_source`, or it is gone) becomes the header only,
    /// and its compiled file (hash, lmdb; when it exists) is rebuilt from that header.
    /// Nothing is deleted and no file is created.
    pub fn empty_former(&self, shares_source: bool) -> anyhow::Result<()> {
        let text = self.render(&[])?;
        let rewrite_source = !shares_source && self.read_source()?.is_some();
        match (self.existing_compiled(), rewrite_source) {
            (Some(_), install_source) => self.compile(&text, install_source),
            (None, true) => atomic::write_atomically(&self.config.map, text.as_bytes())
                .with_context(|| {
                    format!("cannot write the Postfix map {}", self.config.map.display())
                }),
            (None, false) => Ok(()),
        }
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
    /// hash and lmdb, the compiled file is up to date and holds the same keys.
    fn in_sync(&self, wanted: &[Entry]) -> anyhow::Result<bool> {
        // A set that cannot be rendered is never in sync; apply reports why.
        let Ok(text) = self.render(wanted) else {
            return Ok(false);
        };
        self.holds(&text)
    }

    /// The map file's (and compiled file's) device, inode, size and modification time,
    /// plus the settings that shape the text (type, path, reject text): any edit,
    /// replacement, deletion or config change gives a different token.
    fn state_token(&self) -> anyhow::Result<Option<String>> {
        // Tab-separated text of its own (not Rust's `Debug` output): the config refuses
        // blanks in the map path and anything but printable ASCII in the reject text.
        let mut token = format!(
            "{}\t{}\t{}",
            self.config.map_type.as_str(),
            self.config.map.display(),
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
    /// from `wanted` or its compiled file is missing or stale. An unchanged map is left
    /// alone: no write, no postmap. The caller runs [`Target::reload`] after a change.
    /// `now` is unused: Postfix maps have no per-entry timeouts.
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
        if self.holds(&text)? {
            return Ok(Diff::default());
        }
        let old = self.read_source()?;
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
        Ok(Diff::between(&before, &after))
    }

    fn cannot_hold(&self, network: IpNet) -> Option<String> {
        cannot_hold(self.config.map_type, network)
    }

    /// True when a `reload_command` is configured.
    fn reloads(&self) -> bool {
        !self.config.reload_command.is_empty()
    }

    /// Runs `reload_command` (if configured) after the map changed.
    fn reload(&self) -> anyhow::Result<()> {
        let Some((program, args)) = self.config.reload_command.split_first() else {
            return Ok(());
        };
        command::run(program, args, None).map_err(|e| {
            anyhow!(
                "the Postfix map {} was updated, but the reload command \
                 (postfix.reload_command) failed, so Postfix may still use the old map: {e:#}",
                self.config.map.display()
            )
        })?;
        Ok(())
    }
}

/// The full text of the map for `entries`, in the order given: a header saying the
/// file is generated, then one `KEY<TAB>REJECT_TEXT` line per key of each entry.
///
/// Pure and deterministic (no timestamp), so equal sets give equal bytes and an
/// unchanged map is never rewritten. Fails for a network the table type cannot
/// express ([`cannot_hold`]) and for a reject text that is no reject action
/// ([`check_reject_text`]).
pub fn render_text(
    map_type: MapType,
    reject_text: &str,
    entries: &[Entry],
) -> anyhow::Result<String> {
    check_reject_text(reject_text).map_err(|why| anyhow!("postfix.reject_text: {why}"))?;
    let action = reject_text.trim();
    let type_name = map_type.as_str();
    let mut text = format!(
        "# Postfix access map ({type_name} table), generated by saslguard from its database.\n\
         # Do not edit: every change is overwritten the next time saslguard renders.\n\
         # Block and unblock with saslguard instead.\n"
    );
    for entry in entries {
        for key in keys(map_type, entry.network).map_err(|why| anyhow!("{why}"))? {
            text.push_str(&key);
            text.push('\t');
            text.push_str(action);
            text.push('\n');
        }
    }
    Ok(text)
}

/// Why a map of `map_type` cannot hold `network`, or `None` when it can. The one rule
/// for what each table type expresses: rendering, `status`, `doctor` and
/// `config check` all ask it.
pub fn cannot_hold(map_type: MapType, network: IpNet) -> Option<String> {
    keys(map_type, network).err()
}

/// The lookup keys for `network` in a table of `map_type` (see the module docs): one,
/// or for an IPv6 prefix ending in zero groups two (its groups written out, then the
/// form its compressed addresses look up). The first key is the one read back.
fn keys(map_type: MapType, network: IpNet) -> Result<Vec<String>, String> {
    let network = network.trunc();
    match (map_type, network) {
        (_, IpNet::V4(net)) if net.prefix_len() == 32 => Ok(vec![net.addr().to_string()]),
        (_, IpNet::V6(net)) if net.prefix_len() == 128 => Ok(vec![ipv6_key(net.addr())]),
        (MapType::Cidr, IpNet::V4(net)) => Ok(vec![net.to_string()]),
        (MapType::Cidr, IpNet::V6(net)) => Ok(vec![format!("{}/{}", net.addr(), net.prefix_len())]),
        (_, IpNet::V4(net)) if matches!(net.prefix_len(), 8 | 16 | 24) => {
            let octets = net.addr().octets();
            let kept = usize::from(net.prefix_len() / 8);
            Ok(vec![
                octets[..kept]
                    .iter()
                    .map(u8::to_string)
                    .collect::<Vec<_>>()
                    .join("."),
            ])
        }
        (_, IpNet::V6(net)) => ipv6_prefix_keys(map_type, net).map_err(|why| {
            format!(
                "a {} map cannot hold {network}: {why}; set map_type = \"cidr\" in \
                 [postfix] to block networks of any size",
                map_type.as_str()
            )
        }),
        (_, network) => Err(format!(
            "a {} map cannot hold {network}: it holds IPv4 addresses and /8, /16 and /24 \
             networks only; set map_type = \"cidr\" in [postfix] to block networks of any size",
            map_type.as_str()
        )),
    }
}

/// The exact-match keys of an IPv6 prefix (module docs), or why there are none.
fn ipv6_prefix_keys(map_type: MapType, net: Ipv6Net) -> Result<Vec<String>, String> {
    let len = net.prefix_len();
    if !len.is_multiple_of(16) || !(32..=112).contains(&len) {
        return Err(
            "its IPv6 networks must be /32, /48, /64, /80, /96 or /112 (whole groups)".into(),
        );
    }
    let segments = net.addr().segments();
    let groups = &segments[..usize::from(len / 16)];
    if groups[0] == 0 {
        return Err("an IPv6 network starting with a zero group cannot be matched".into());
    }
    let trailing_zeros = groups.iter().rev().take_while(|g| **g == 0).count();
    let before_zeros = &groups[..groups.len() - trailing_zeros];
    if before_zeros.windows(2).any(|pair| pair == [0, 0]) {
        return Err(
            "smtpd may compress its run of zero groups into \"::\", which no key can match".into(),
        );
    }
    if trailing_zeros > 2 {
        return Err("it ends in more than two zero groups, which no key can match".into());
    }
    // The second key ends in ':', which Postfix takes for an alias-file line and warns
    // about whenever it reads the source: once per postmap run for hash and lmdb
    // (saslguard's own), but in every smtpd process opening a texthash table.
    if trailing_zeros > 0 && map_type == MapType::Texthash {
        return Err(
            "it ends in a zero group, so it needs a key ending in ':' that would make every \
             smtpd process log a warning reading a texthash table (hash and lmdb can hold it)"
                .into(),
        );
    }
    let written = |groups: &[u16]| {
        groups
            .iter()
            .map(|g| format!("{g:x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    let mut keys = vec![written(groups)];
    if trailing_zeros > 0 {
        keys.push(format!("{}:", written(before_zeros)));
    }
    Ok(keys)
}

/// Whether `text` is a Postfix access action that refuses the client, or why not.
///
/// Per access(5): `4NN text` and `5NN text` (text required: an all-numerical result
/// means OK; an RFC 3463 enhanced status code after it must be of the same class),
/// `REJECT [text]`, `DEFER [text]` and `DEFER_IF_PERMIT [text]` (which refuses whatever
/// the later restrictions say); and `auth` alone, the value for the map used as
/// `smtpd_discard_ehlo_keyword_address_maps`. Everything else is refused: OK, DUNNO, PERMIT,
/// permit_*, other numbers, and `DEFER_IF_REJECT`, which lets the client through when
/// the later restrictions permit it. Text must be printable ASCII (no line break,
/// tab, `\r` or other control character), at most 400 characters.
pub fn check_reject_text(text: &str) -> Result<(), String> {
    const EXAMPLES: &str = "use e.g. \"554 5.7.1 Too many failed authentication attempts\", \
                            \"421 4.7.0 Go away\" or \"REJECT text\"";
    if let Some(c) = text.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(format!(
            "{text:?} holds {c:?}: only printable ASCII text can go into the map; {EXAMPLES}"
        ));
    }
    let action = text.trim();
    if action.len() > 400 {
        return Err(format!("{text:?} is longer than 400 characters"));
    }
    let mut words = action.split_whitespace();
    let Some(first) = words.next() else {
        return Err(format!(
            "it is empty: the map needs a reject action; {EXAMPLES}"
        ));
    };
    let rest: Vec<&str> = words.collect();
    if first.len() == 3 && first.bytes().all(|b| b.is_ascii_digit()) {
        let class = first.as_bytes()[0];
        if class != b'4' && class != b'5' {
            return Err(format!(
                "{text:?} is no reject action: only 4NN and 5NN codes refuse a client; \
                 {EXAMPLES}"
            ));
        }
        let Some(next) = rest.first() else {
            return Err(format!(
                "{text:?} is no reject action: an all-numerical result means OK to Postfix \
                 (access(5)); add a text after the code"
            ));
        };
        let enhanced = next.split('.').count() == 3
            && next
                .split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if enhanced && next.as_bytes()[0] != class {
            return Err(format!(
                "{text:?}: the enhanced status code {next} must be of the class of {first}"
            ));
        }
        return Ok(());
    }
    match first.to_ascii_uppercase().as_str() {
        "REJECT" | "DEFER" | "DEFER_IF_PERMIT" => Ok(()),
        // The map as smtpd_discard_ehlo_keyword_address_maps (README: hide AUTH from
        // blocked clients): the value is the keyword to hide. Used by mistake in
        // check_client_access it is an unknown restriction, which smtpd answers with
        // 451 4.3.5: it refuses, never permits.
        "AUTH" if rest.is_empty() => Ok(()),
        "DEFER_IF_REJECT" => Err(format!(
            "{text:?} does not block: DEFER_IF_REJECT lets the client through when a later \
             restriction permits it; {EXAMPLES}"
        )),
        _ => Err(format!(
            "{text:?} is no reject action (a blocked client would not be refused, or might \
             skip the later restrictions); {EXAMPLES}"
        )),
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
        if is_compressed_companion(key) {
            continue;
        }
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

/// The keys of a map's lines (`KEY<whitespace>VALUE`), comments, blank lines and
/// continuation lines skipped: what `postmap -s` lists back from a compiled map.
fn text_keys(text: &str) -> BTreeSet<&str> {
    text.lines()
        .filter(|line| !line.starts_with(|c: char| c.is_whitespace() || c == '#'))
        .filter_map(|line| line.split_whitespace().next())
        .collect()
}

/// Whether `key` is the second key of an IPv6 prefix ending in zero groups
/// (`2001:db8:` beside `2001:db8:0:0`), which stands for the same network as the first
/// and so is not read back on its own.
fn is_compressed_companion(key: &str) -> bool {
    key.strip_suffix(':')
        .is_some_and(|groups| !groups.contains("::") && parse_ipv6_groups(groups).is_some())
}

/// One key back into a network: `1.2.3.4`, `1.2.3.0/24`, `2001:db8::/64`, `2001:db8::1`,
/// an octet-truncated IPv4 prefix (`1.2.3` is 1.2.3.0/24, `1` is 1.0.0.0/8) or IPv6
/// groups written out (`2001:db8:1:2` is 2001:db8:1:2::/64).
fn parse_key(key: &str) -> Option<IpNet> {
    if let Ok(network) = key.parse::<IpNet>() {
        return Some(network.trunc());
    }
    if let Ok(addr) = key.parse::<IpAddr>() {
        return Some(IpNet::from(addr));
    }
    if key.contains(':') {
        return parse_ipv6_groups(key);
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

/// Two to seven IPv6 groups written out (`2001:db8:0:5`) as the network of those
/// groups (2001:db8:0:5::/64).
fn parse_ipv6_groups(text: &str) -> Option<IpNet> {
    let parts: Vec<&str> = text.split(':').collect();
    if !(2..=7).contains(&parts.len()) {
        return None;
    }
    let mut segments = [0u16; 8];
    for (segment, part) in segments.iter_mut().zip(&parts) {
        if part.is_empty() || part.len() > 4 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        *segment = u16::from_str_radix(part, 16).ok()?;
    }
    let prefix_len = u8::try_from(parts.len() * 16).ok()?;
    Ipv6Net::new(Ipv6Addr::from(segments), prefix_len)
        .ok()
        .map(IpNet::V6)
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

    /// What `render_one` does: apply, then reload when the map was not in sync.
    fn apply_and_reload(target: &PostfixMap, wanted: &[Entry], now: i64) -> anyhow::Result<Diff> {
        let owed = !target.in_sync(wanted)?;
        let diff = target.apply(wanted, now)?;
        if owed {
            target.reload()?;
        }
        Ok(diff)
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
            for network in [
                "10.0.0.0/20",
                "10.1.2.0/25",
                "0.0.0.0/0",
                "2001:db8:1:20::/60",
                "2001:db8::/16",
                "2001::/16",
                "::/64",
                "0:1:2:3::/64",
                "2001:0:0:5::/64",
                "2001:db8:0:0:0::/80",
                "2001:db8::/0",
            ] {
                let network: IpNet = network.parse().unwrap();
                let network = network.trunc();
                let why = cannot_hold(map_type, network).expect("refused");
                assert!(why.contains(&network.to_string()), "{why}");
                assert!(why.contains("map_type = \"cidr\""), "{why}");
                let err = render_text(
                    map_type,
                    "REJECT",
                    &[Entry {
                        network,
                        expires_at: None,
                    }],
                )
                .unwrap_err();
                assert_eq!(format!("{err}"), why);
            }
        }
        for network in ["10.0.0.0/20", "2001:db8:1:20::/60", "::/64", "0.0.0.0/0"] {
            assert_eq!(cannot_hold(MapType::Cidr, network.parse().unwrap()), None);
        }
    }

    #[test]
    fn ipv6_prefixes_of_whole_groups_have_the_keys_smtpd_looks_up() {
        for (network, expected) in [
            ("2001:db8:1:2::/64", &["2001:db8:1:2"][..]),
            ("2001:db8::/32", &["2001:db8"]),
            ("2001:db8::/48", &["2001:db8:0", "2001:db8:"]),
            ("2001:db8::/64", &["2001:db8:0:0", "2001:db8:"]),
            ("2001:0:5::/48", &["2001:0:5"]),
            ("2001:0:5:0::/64", &["2001:0:5:0", "2001:0:5:"]),
            ("2001:DB8:A:BCDE::/64", &["2001:db8:a:bcde"]),
            (
                "2a01:4f8:c0c:1234:5:6:7::/112",
                &["2a01:4f8:c0c:1234:5:6:7"],
            ),
            (
                "2a01:4f8:c0c:1234:5::/96",
                &["2a01:4f8:c0c:1234:5:0", "2a01:4f8:c0c:1234:5:"],
            ),
        ] {
            let net: IpNet = network.parse().unwrap();
            assert_eq!(keys(MapType::Hash, net).unwrap(), expected, "{network}");
            // The first key reads back as the network; the second is not read at all.
            assert_eq!(parse_key(expected[0]), Some(net.trunc()), "{network}");
            for companion in &expected[1..] {
                assert!(is_compressed_companion(companion), "{companion}");
            }
        }
        assert!(cannot_hold(MapType::Texthash, "2001:db8::/64".parse().unwrap()).is_some());
        assert!(cannot_hold(MapType::Texthash, "2001:db8:7:0::/64".parse().unwrap()).is_some());
        assert_eq!(
            cannot_hold(MapType::Texthash, "2001:db8:0:7::/64".parse().unwrap()),
            None
        );
        let text = render_text(
            MapType::Lmdb,
            "REJECT",
            &entries(&["192.0.2.1/32", "2001:db8::/64", "2001:db8:1:2::/64"]),
        )
        .unwrap();
        assert_eq!(
            body(&text),
            [
                "192.0.2.1\tREJECT",
                "2001:db8:0:0\tREJECT",
                "2001:db8:\tREJECT",
                "2001:db8:1:2\tREJECT"
            ]
        );
        assert_eq!(
            parse_text(&text, true).unwrap(),
            set(&["192.0.2.1/32", "2001:db8::/64", "2001:db8:1:2::/64"])
        );
    }

    #[test]
    fn reject_actions_are_accepted_and_everything_else_is_refused() {
        for good in [
            "REJECT",
            "REJECT go away",
            "reject go away",
            "  REJECT padded  ",
            "DEFER",
            "DEFER try later",
            "DEFER_IF_PERMIT slow down",
            "554 5.7.1 Too many failed authentication attempts",
            "554 Too many",
            "421 4.7.0 Go away",
            "521 5.7.1 Go away",
            "450 try later",
            "auth",
        ] {
            assert_eq!(check_reject_text(good), Ok(()), "{good:?}");
            assert!(render_text(MapType::Cidr, good, &[]).is_ok(), "{good:?}");
        }
        for bad in [
            "",
            "   ",
            "OK",
            "ok",
            "DUNNO",
            "PERMIT",
            "permit_sasl_authenticated",
            "554",
            "554 ",
            "250 2.0.0 fine",
            "354 go ahead",
            "55 x",
            "5541 x",
            "554 4.7.1 class mismatch",
            "421 5.7.1 class mismatch",
            "DEFER_IF_REJECT x",
            "HOLD",
            "DISCARD",
            "WARN x",
            "REDIRECT a@b",
            "auth silent-discard",
            "REJECT a\nb",
            "REJECT\ra",
            "REJECT \0",
            "REJECT a\tb",
            "REJECT caf\u{e9}",
        ] {
            let why = check_reject_text(bad).expect_err(bad);
            let err = render_text(MapType::Cidr, bad, &[]).unwrap_err();
            assert_eq!(format!("{err}"), format!("postfix.reject_text: {why}"));
        }
        assert!(check_reject_text(&format!("554 {}", "x".repeat(400))).is_err());
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
            let diff = apply_and_reload(&target, &wanted, 0).unwrap();
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
            assert!(!apply_and_reload(&target, &wanted, 0).unwrap().is_empty());
            assert!(rig.reloaded(), "reload after the first write");
            let before = std::fs::metadata(target.path()).unwrap();
            let bytes = std::fs::read(target.path()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));

            assert_eq!(
                apply_and_reload(&target, &wanted, 1).unwrap(),
                Diff::default()
            );
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
        let diff = apply_and_reload(&target, &entries(&["1.2.3.4/32"]), 0).unwrap();
        assert_eq!(diff.added, [set(&["1.2.3.4/32"]).pop_first().unwrap()]);
        assert!(rig.reloaded());
        let diff = apply_and_reload(&target, &entries(&["5.6.7.0/24"]), 0).unwrap();
        assert_eq!(diff.added, ["5.6.7.0/24".parse::<IpNet>().unwrap()]);
        assert_eq!(diff.removed, ["1.2.3.4/32".parse::<IpNet>().unwrap()]);
        assert!(rig.reloaded());
        let diff = apply_and_reload(&target, &[], 0).unwrap();
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
        apply_and_reload(&rig.target(), &wanted, 0).unwrap();
        assert!(rig.reloaded());
        rig.config.reject_text = "421 4.7.0 Go away".to_string();
        let target = rig.target();
        assert!(!target.in_sync(&wanted).unwrap());
        assert_eq!(
            apply_and_reload(&target, &wanted, 0).unwrap(),
            Diff::default()
        );
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
        apply_and_reload(&rig.target(), &entries(&["1.2.3.4/32"]), 0).unwrap();
        assert!(!rig.reloaded());
    }

    #[test]
    fn a_failing_reload_is_an_error_with_its_stderr() {
        let mut rig = Rig::new(MapType::Cidr);
        rig.config.reload_command = vec![
            "mkdir".to_string(),
            rig.dir.path().join("no/such/dir").display().to_string(),
        ];
        let err = apply_and_reload(&rig.target(), &entries(&["1.2.3.4/32"]), 0).unwrap_err();
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
        let err = apply_and_reload(&target, &entries(&["5.6.7.8/32"]), 0).unwrap_err();
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
        let diff = apply_and_reload(&target, &entries(&["1.2.3.4/32"]), 0).unwrap();
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
