//! The Postfix map renderer against the real `postmap` (Debian packages `postfix` and
//! `postfix-lmdb`): every table type is written, looked up with `postmap -q`,
//! re-rendered without any change, and emptied.
//!
//! postmap needs a `main.cf`. So that these tests neither depend on nor touch the
//! machine's Postfix configuration, each runs postmap through a two-line wrapper
//! (`exec postmap -c DIR "$@"`) with an empty `main.cf` in its own directory.
//!
//! Without postmap the tests are skipped (listed at the end of `tests/run.sh`), except
//! in CI, where they fail.

use crate::need;
use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use ipnet::IpNet;
use saslguard::config::{MapType, PostfixConfig};
use saslguard::render::command::run_status;
use saslguard::render::postfix::PostfixMap;
use saslguard::render::{Entry, Target};

const REJECT: &str = "554 5.7.1 saslguard test block";

/// A scratch directory with a private Postfix config directory, a postmap wrapper
/// using it, and a map whose reload command creates `reloaded`.
struct Rig {
    dir: tempfile::TempDir,
    conf: PathBuf,
    config: PostfixConfig,
}

impl Rig {
    /// `None` (after printing why) when postmap or the table type is not available and
    /// this is not CI; under CI that is a failure.
    fn new(map_type: MapType) -> Option<Rig> {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("postfix-conf");
        std::fs::create_dir(&conf).unwrap();
        // Postfix waits until a just-written main.cf is two seconds old (it might be
        // mid-edit); an old mtime spares every postmap run that wait.
        let main_cf = std::fs::File::create(conf.join("main.cf")).unwrap();
        main_cf
            .set_modified(SystemTime::now() - Duration::from_secs(3600))
            .unwrap();
        let wrapper = dir.path().join("postmap-wrapper");
        install_script(
            &wrapper,
            &format!("#!/bin/sh\nexec postmap -c '{}' \"$@\"\n", conf.display()),
        );
        let config = PostfixConfig {
            map: dir.path().join("saslguard_access"),
            map_type,
            reject_text: REJECT.to_string(),
            reload_command: vec![
                "mkdir".to_string(),
                dir.path().join("reloaded").display().to_string(),
            ],
            postmap_command: wrapper.display().to_string(),
            max_entries: 1000,
            ..PostfixConfig::default()
        };
        let rig = Rig { dir, conf, config };
        rig.check_postmap().then_some(rig)
    }

    fn target(&self) -> PostfixMap {
        PostfixMap::new(&self.config)
    }

    fn table(&self) -> String {
        format!(
            "{}:{}",
            type_name(self.config.map_type),
            self.config.map.display()
        )
    }

    /// `postmap -q KEY TYPE:MAP`: the value, or `None` when the key is not found.
    fn query(&self, key: &str) -> Option<String> {
        let conf = self.conf.display().to_string();
        let table = self.table();
        let (found, out) = run_status("postmap", &["-c", &conf, "-q", key, &table], None).unwrap();
        if found {
            Some(out.stdout.trim_end().to_string())
        } else {
            assert!(
                out.stderr.is_empty(),
                "postmap -q {key} {table}: {}",
                out.stderr
            );
            None
        }
    }

    /// Whether the reload ran since the last call (and forgets that it did).
    fn reloaded(&self) -> bool {
        std::fs::remove_dir(self.dir.path().join("reloaded")).is_ok()
    }

    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name != "postfix-conf" && name != "postmap-wrapper")
            .collect();
        names.sort();
        names
    }

    /// Whether postmap can build and query this table type; skips or fails if not.
    fn check_postmap(&self) -> bool {
        let probe = self.dir.path().join("probe");
        std::fs::write(&probe, "1.2.3.4 REJECT\n").unwrap();
        let table = format!("{}:{}", type_name(self.config.map_type), probe.display());
        let conf = self.conf.display().to_string();
        let result = match self.config.map_type {
            MapType::Hash | MapType::Lmdb => {
                run_status(&self.config.postmap_command, &[&table], None)
            }
            MapType::Cidr | MapType::Texthash => {
                run_status("postmap", &["-c", &conf, "-q", "1.2.3.4", &table], None)
            }
        };
        let why = match result {
            Ok((true, _)) => {
                for leftover in ["probe", "probe.db", "probe.lmdb"] {
                    let _ = std::fs::remove_file(self.dir.path().join(leftover));
                }
                return true;
            }
            Ok((false, out)) => format!("postmap cannot handle {table}: {}", out.stderr.trim()),
            Err(e) => format!("{e:#}"),
        };
        let why = format!(
            "{why} (install the Debian packages postfix and postfix-lmdb to run these tests)"
        );
        need::met("the map rendering tests", Some(&why))
    }
}

/// Writes an executable script without this process ever holding it open for writing
/// (a child process writes it), so exec'ing it cannot fail with "Text file busy" while
/// parallel tests fork.
fn install_script(path: &Path, text: &str) {
    let mut child = Command::new("sh")
        .args(["-c", "cat > \"$1\" && chmod 755 \"$1\"", "sh"])
        .arg(path)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

/// What saslguard's `render_one` does with a place that reloads: apply, then reload
/// when the map was not in sync before (a reload owed).
fn apply_and_reload(
    target: &PostfixMap,
    wanted: &[Entry],
    now: i64,
) -> anyhow::Result<saslguard::render::Diff> {
    let owed = !target.in_sync(wanted)?;
    let diff = target.apply(wanted, now)?;
    if owed {
        target.reload()?;
    }
    Ok(diff)
}

fn type_name(map_type: MapType) -> &'static str {
    match map_type {
        MapType::Cidr => "cidr",
        MapType::Texthash => "texthash",
        MapType::Hash => "hash",
        MapType::Lmdb => "lmdb",
    }
}

fn entries(networks: &[&str]) -> Vec<Entry> {
    networks
        .iter()
        .map(|n| Entry {
            network: n.parse().unwrap(),
            expires_at: Some(2_000_000_000),
        })
        .collect()
}

fn networks(entries: &[Entry]) -> BTreeSet<IpNet> {
    entries.iter().map(|e| e.network).collect()
}

/// Bytes, mtime and inode of a file: all three stay put when it is not rewritten.
fn snapshot(path: &Path) -> (Vec<u8>, SystemTime, u64) {
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (
        std::fs::read(path).unwrap(),
        meta.modified().unwrap(),
        meta.ino(),
    )
}

/// The whole life of one map: write, look up, re-render unchanged, empty.
fn round_trip(map_type: MapType) {
    let Some(rig) = Rig::new(map_type) else {
        return;
    };
    let target = rig.target();
    let mut set = vec!["1.2.3.4/32", "5.6.7.0/24", "9.8.0.0/16", "2001:db8::1/128"];
    if map_type == MapType::Cidr {
        set.push("2001:db8:1::/64");
    } else {
        set.push("2001:db8:5:6::/64");
    }
    // A key ending in ':' (for a prefix ending in zero groups): hash and lmdb only.
    let compressed_companion = matches!(map_type, MapType::Hash | MapType::Lmdb);
    if compressed_companion {
        set.push("2001:db8:7::/64");
    }
    let wanted = entries(&set);

    let diff = apply_and_reload(&target, &wanted, 1_900_000_000).unwrap();
    assert_eq!(
        diff.added,
        networks(&wanted).into_iter().collect::<Vec<_>>()
    );
    assert!(diff.removed.is_empty());
    assert!(rig.reloaded(), "a change reloads");
    assert_eq!(target.current().unwrap(), networks(&wanted));
    assert!(target.in_sync(&wanted).unwrap());

    // Blocked keys give the reject text, others nothing.
    assert_eq!(rig.query("1.2.3.4").as_deref(), Some(REJECT));
    assert_eq!(rig.query("2001:db8::1").as_deref(), Some(REJECT));
    assert_eq!(rig.query("1.2.3.5"), None);
    assert_eq!(rig.query("9.9.9.9"), None);
    assert_eq!(rig.query("2001:db8::2"), None);
    if map_type == MapType::Cidr {
        assert_eq!(rig.query("5.6.7.77").as_deref(), Some(REJECT));
        assert_eq!(rig.query("9.8.200.1").as_deref(), Some(REJECT));
        assert_eq!(rig.query("2001:db8:1::99").as_deref(), Some(REJECT));
        assert_eq!(rig.query("2001:db8:2::1"), None);
    } else {
        // smtpd itself drops the last octets of the client address (1.2.3.77, then
        // 1.2.3, 1.2, 1); postmap -q looks up exactly the key given.
        assert_eq!(rig.query("5.6.7").as_deref(), Some(REJECT));
        assert_eq!(rig.query("9.8").as_deref(), Some(REJECT));
        assert_eq!(rig.query("5.6"), None);
        // IPv6 the same way, by `:component` (e2e_postfix proves it with smtpd).
        assert_eq!(rig.query("2001:db8:5:6").as_deref(), Some(REJECT));
        if compressed_companion {
            for key in ["2001:db8:7:0", "2001:db8:7:"] {
                assert_eq!(rig.query(key).as_deref(), Some(REJECT), "{key}");
            }
        }
        for key in ["2001:db8:5", "2001:db8:5:", "2001:db8:7", "2001:db8"] {
            assert_eq!(rig.query(key), None, "{key}");
        }
    }

    let compiled = target.compiled_path();
    let expected_files = |with_reloaded: bool| {
        let mut files = vec!["saslguard_access".to_string()];
        if let Some(compiled) = &compiled {
            files.push(compiled.file_name().unwrap().to_string_lossy().into_owned());
        }
        if with_reloaded {
            files.push("reloaded".to_string());
        }
        files.sort();
        files
    };
    assert_eq!(
        rig.files(),
        expected_files(false),
        "no temporary files left"
    );

    // Re-rendering the same set touches nothing: same bytes, mtimes, inodes; no reload.
    let source_before = snapshot(target.path());
    let compiled_before = compiled.as_deref().map(snapshot);
    let token_before = target.state_token().unwrap();
    assert!(token_before.is_some());
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        apply_and_reload(&target, &wanted, 1_900_000_100)
            .unwrap()
            .is_empty()
    );
    assert_eq!(target.state_token().unwrap(), token_before);
    assert_eq!(snapshot(target.path()), source_before);
    assert_eq!(compiled.as_deref().map(snapshot), compiled_before);
    assert!(!rig.reloaded(), "no change, no reload");

    // The empty set removes every key.
    let diff = apply_and_reload(&target, &[], 1_900_000_200).unwrap();
    assert_eq!(
        diff.removed,
        networks(&wanted).into_iter().collect::<Vec<_>>()
    );
    assert!(diff.added.is_empty());
    assert!(rig.reloaded());
    for key in ["1.2.3.4", "2001:db8::1", "5.6.7.77", "5.6.7"] {
        assert_eq!(rig.query(key), None, "{key} after emptying");
    }
    assert!(target.current().unwrap().is_empty());
    assert_ne!(target.state_token().unwrap(), token_before);
    if let Some(compiled) = &compiled {
        assert_ne!(
            Some(snapshot(compiled)),
            compiled_before,
            "database rebuilt"
        );
    }
    assert_eq!(rig.files(), expected_files(false));
}

#[test]
fn cidr_map_round_trip() {
    round_trip(MapType::Cidr);
}

#[test]
fn texthash_map_round_trip() {
    round_trip(MapType::Texthash);
}

#[test]
fn hash_map_round_trip() {
    round_trip(MapType::Hash);
}

#[test]
fn lmdb_map_round_trip() {
    round_trip(MapType::Lmdb);
}

#[test]
fn a_deleted_database_is_rebuilt() {
    let Some(rig) = Rig::new(MapType::Hash) else {
        return;
    };
    let target = rig.target();
    let wanted = entries(&["1.2.3.4/32"]);
    apply_and_reload(&target, &wanted, 0).unwrap();
    assert!(rig.reloaded());
    std::fs::remove_file(target.compiled_path().unwrap()).unwrap();
    assert!(!target.in_sync(&wanted).unwrap());
    assert!(
        apply_and_reload(&target, &wanted, 0).unwrap().is_empty(),
        "same networks"
    );
    assert!(rig.reloaded(), "rebuilt, so reloaded");
    assert_eq!(rig.query("1.2.3.4").as_deref(), Some(REJECT));
}

#[test]
fn a_missing_postmap_leaves_the_old_map_and_database_untouched() {
    for map_type in [MapType::Hash, MapType::Lmdb] {
        let Some(mut rig) = Rig::new(map_type) else {
            return;
        };
        let old = entries(&["1.2.3.4/32"]);
        apply_and_reload(&rig.target(), &old, 0).unwrap();
        assert!(rig.reloaded());
        let compiled = rig.target().compiled_path().unwrap();
        let source_before = snapshot(&rig.config.map);
        let compiled_before = snapshot(&compiled);
        let files_before = rig.files();

        rig.config.postmap_command = "saslguard-no-such-postmap".to_string();
        let err = apply_and_reload(&rig.target(), &entries(&["5.6.7.8/32"]), 0).unwrap_err();
        let text = format!("{err}");
        assert!(text.contains("saslguard-no-such-postmap"), "{text}");
        assert!(text.contains("not found"), "{text}");

        assert_eq!(snapshot(&rig.config.map), source_before);
        assert_eq!(snapshot(&compiled), compiled_before);
        assert_eq!(rig.files(), files_before, "no temporary files left");
        assert!(!rig.reloaded());
        assert_eq!(rig.query("1.2.3.4").as_deref(), Some(REJECT));
        assert_eq!(rig.query("5.6.7.8"), None);
    }
}
