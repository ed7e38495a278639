//! A private Postfix and Dovecot for end-to-end tests: real smtpd, real SASL through
//! Dovecot, real log lines written by Postfix itself, and swaks as the client.
//!
//! Everything lives in one temporary directory per rig: Postfix's configuration,
//! queue and data directories, the log (`maillog_file` through the `postlog` service,
//! so no syslog daemon is needed), Dovecot's standalone configuration, base directory
//! and passwd-file, and the access map saslguard renders. The machine's own Postfix
//! and Dovecot instances are never touched. Dropping the rig stops both (also when the
//! test panics, printing the end of the logs first) and removes that directory.
//!
//! Needs root and the Debian packages `postfix` (`postfix`, `postmap`), `dovecot-core`
//! (`dovecot`) and `swaks`. Without them a rig is not started: under `CI=true` that is
//! a panic (CI must fail, not skip), otherwise the test prints why and skips.
//!
//! Setting `SASLGUARD_KEEP_RIG=1` keeps the directory for inspection (its path is
//! printed); the services are still stopped.
#![allow(dead_code)]

pub(crate) use crate::need;
use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// The one mailbox user Dovecot knows.
pub const USER: &str = "alice";
/// Alice's password.
pub const PASSWORD: &str = "correct-horse";
/// A password that always fails.
pub const WRONG_PASSWORD: &str = "Tr0ub4dor&3";
/// At most this many swaks processes run at once per [`Rig::swaks_all`] call.
pub const MAX_PARALLEL: usize = 8;

/// What one swaks session saw.
#[derive(Debug, Clone)]
pub struct SmtpResult {
    /// The server answered AUTH with 235.
    pub authenticated: bool,
    /// The first 4xx or 5xx reply code of the session (banner, EHLO, XCLIENT or AUTH).
    pub first_error: Option<u16>,
    /// swaks' exit status (0 only when everything asked for succeeded).
    pub exit_code: Option<i32>,
    /// swaks' transcript (stdout, then stderr), for assertion messages.
    pub transcript: String,
}

/// One AUTH attempt for [`Rig::swaks_all`].
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The local address swaks connects from (any 127.x.y.z is a distinct client).
    pub source: String,
    /// The client address claimed through XCLIENT, if any.
    pub xclient_addr: Option<String>,
    /// `LOGIN` or `PLAIN`.
    pub mechanism: &'static str,
    /// The SASL username.
    pub user: String,
    /// The SASL password.
    pub password: String,
}

impl Attempt {
    /// A wrong-password attempt for alice from `source`.
    pub fn wrong(source: &str, mechanism: &'static str) -> Attempt {
        Attempt {
            source: source.to_string(),
            xclient_addr: None,
            mechanism,
            user: USER.to_string(),
            password: WRONG_PASSWORD.to_string(),
        }
    }

    /// A correct login as alice from `source`.
    pub fn correct(source: &str, mechanism: &'static str) -> Attempt {
        Attempt {
            password: PASSWORD.to_string(),
            ..Attempt::wrong(source, mechanism)
        }
    }

    /// The same attempt, claiming to come from `addr` through XCLIENT.
    pub fn via_xclient(mut self, addr: &str) -> Attempt {
        self.xclient_addr = Some(addr.to_string());
        self
    }

    /// The same attempt with another username.
    pub fn with_user(mut self, user: &str) -> Attempt {
        self.user = user.to_string();
        self
    }
}

/// Absolute paths of the programs the rig runs (found in PATH or the sbin directories,
/// which a non-login root shell may lack in PATH).
#[derive(Debug, Clone)]
struct Programs {
    postfix: PathBuf,
    postmap: PathBuf,
    dovecot: PathBuf,
    swaks: PathBuf,
}

/// A running private Postfix + Dovecot; see the module documentation.
pub struct Rig {
    dir: tempfile::TempDir,
    name: String,
    map_type: String,
    port: u16,
    programs: Programs,
    postfix_pid: Option<u32>,
    dovecot_pid: Option<u32>,
}

impl Rig {
    /// Starts a rig for the test `test_name` whose smtpd checks clients against an
    /// access map of `map_type` (`"cidr"`, `"hash"`, `"lmdb"` or `"texthash"`) at
    /// [`Rig::map_path`], initially empty. `None` (the skip recorded, see `tests/need`) when the machine cannot
    /// run it; panics where everything must run (CI) or when starting fails.
    pub fn start(test_name: &str, map_type: &str) -> Option<Rig> {
        assert!(
            matches!(map_type, "cidr" | "hash" | "lmdb" | "texthash"),
            "map_type must be cidr, hash, lmdb or texthash, not {map_type}"
        );
        let programs = match prerequisites() {
            Ok(programs) => programs,
            Err(reason) => {
                let why = format!(
                    "{reason} (apt-get install postfix postfix-lmdb dovecot-core swaks, as root)"
                );
                need::met(test_name, Some(&why));
                return None;
            }
        };
        let dir = tempfile::Builder::new()
            .prefix(&format!("saslguard-rig-{test_name}-"))
            .tempdir()
            .expect("rig tempdir");
        // Dovecot's auth process (user dovecot) reads the passwd-file inside it.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod rig");
        let port = free_port();
        let mut rig = Rig {
            dir,
            name: format!("sgrig{port}"),
            map_type: map_type.to_string(),
            port,
            programs,
            postfix_pid: None,
            dovecot_pid: None,
        };
        rig.write_files();
        rig.start_postfix();
        rig.start_dovecot();
        rig.wait_until_ready();
        Some(rig)
    }

    /// The rig's directory (saslguard's config and database may go here too).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Postfix's configuration directory (main.cf, master.cf): `postfix -c` and
    /// `MAIL_CONFIG` take it.
    pub fn config_dir(&self) -> PathBuf {
        self.dir().join("postfix")
    }

    /// The log Postfix writes (`maillog_file`).
    pub fn log_path(&self) -> PathBuf {
        self.dir().join("maillog")
    }

    /// The access map smtpd checks every client against (`check_client_access`).
    pub fn map_path(&self) -> PathBuf {
        self.dir().join("saslguard_access")
    }

    /// `"cidr"`, `"hash"`, `"lmdb"` or `"texthash"`.
    pub fn map_type(&self) -> &str {
        &self.map_type
    }

    /// The TCP port smtpd listens on at 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The absolute path of `postmap`, for saslguard's `postmap_command`.
    pub fn postmap_program(&self) -> &Path {
        &self.programs.postmap
    }

    /// `postfix -c CONFIG_DIR reload`, with postfix's absolute path.
    pub fn reload_command(&self) -> Vec<String> {
        vec![
            self.programs.postfix.display().to_string(),
            "-c".to_string(),
            self.config_dir().display().to_string(),
            "reload".to_string(),
        ]
    }

    /// Runs [`Rig::reload_command`]; panics unless it succeeds. Postfix re-reads its
    /// configuration and maps, and postlogd reopens the log file.
    pub fn reload(&self) {
        let command = self.reload_command();
        let output = Command::new(&command[0])
            .args(&command[1..])
            .env("TZ", "UTC")
            .output()
            .expect("run postfix reload");
        assert!(
            output.status.success(),
            "postfix reload failed: {}",
            describe(&output)
        );
    }

    /// `postfix -c CONFIG_DIR logrotate`: renames the log to
    /// `maillog.YYYYMMDD-HHMMSS`, reloads (postlogd reopens the name), and a second
    /// later gzips the renamed file. Panics unless it succeeds.
    pub fn logrotate(&self) {
        let output = Command::new(&self.programs.postfix)
            .arg("-c")
            .arg(self.config_dir())
            .arg("logrotate")
            .env("TZ", "UTC")
            .output()
            .expect("run postfix logrotate");
        assert!(
            output.status.success(),
            "postfix logrotate failed: {}",
            describe(&output)
        );
    }

    /// One swaks session from `source`: EHLO, XCLIENT ADDR=`xclient_addr` if given,
    /// AUTH `mechanism` as `user`/`password`, QUIT. An IPv6 `xclient_addr` is sent with
    /// the `IPV6:` prefix Postfix requires.
    pub fn swaks_auth(
        &self,
        source: &str,
        user: &str,
        password: &str,
        mechanism: &str,
        xclient_addr: Option<&str>,
    ) -> SmtpResult {
        let mut command = Command::new(&self.programs.swaks);
        command.args([
            "--server",
            "127.0.0.1",
            "--port",
            &self.port.to_string(),
            "--local-interface",
            source,
            "--timeout",
            "15",
            "--auth",
            mechanism,
            "--auth-user",
            user,
            "--auth-password",
            password,
            "--quit-after",
            "AUTH",
        ]);
        if let Some(addr) = xclient_addr {
            command.arg("--xclient-addr").arg(xclient_value(addr));
        }
        let output = command.output().expect("run swaks");
        parse_swaks(&output)
    }

    /// [`Rig::swaks_auth`] for one [`Attempt`].
    pub fn attempt(&self, attempt: &Attempt) -> SmtpResult {
        self.swaks_auth(
            &attempt.source,
            &attempt.user,
            &attempt.password,
            attempt.mechanism,
            attempt.xclient_addr.as_deref(),
        )
    }

    /// Runs every attempt, [`MAX_PARALLEL`] at a time; results in the attempts' order.
    pub fn swaks_all(&self, attempts: &[Attempt]) -> Vec<SmtpResult> {
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<SmtpResult>>> = Mutex::new(vec![None; attempts.len()]);
        std::thread::scope(|scope| {
            for _ in 0..MAX_PARALLEL.min(attempts.len()) {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(attempt) = attempts.get(i) else {
                            break;
                        };
                        let result = self.attempt(attempt);
                        results.lock().unwrap()[i] = Some(result);
                    }
                });
            }
        });
        results
            .into_inner()
            .unwrap()
            .into_iter()
            .map(|r| r.expect("every attempt ran"))
            .collect()
    }

    /// Repeats `attempt` until `done` holds for its result or `timeout` passes, and
    /// returns the last result. For checks right after a map change: `postfix reload`
    /// returns before every old smtpd process has gone. Only use it with attempts that
    /// log no failure (correct passwords), so retries change no count.
    pub fn attempt_until(
        &self,
        attempt: &Attempt,
        timeout: Duration,
        done: impl Fn(&SmtpResult) -> bool,
    ) -> SmtpResult {
        assert_eq!(
            attempt.password, PASSWORD,
            "retried attempts must not log failures"
        );
        let deadline = Instant::now() + timeout;
        for tries in 1.. {
            let result = self.attempt(attempt);
            if done(&result) || Instant::now() >= deadline {
                if tries > 1 {
                    eprintln!("rig {}: {attempt:?} took {tries} tries", self.name);
                }
                return result;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        unreachable!("the loop returns")
    }

    /// The log files, oldest first: every rotated sibling (`maillog.1`, ...) by
    /// modification time, then `maillog`.
    pub fn log_files(&self) -> Vec<PathBuf> {
        let current = self.log_path();
        let mut files: Vec<(bool, SystemTime, PathBuf)> = fs::read_dir(self.dir())
            .expect("read rig dir")
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.file_name().to_string_lossy().starts_with("maillog"))
            .map(|entry| {
                let modified = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                (entry.path() == current, modified, entry.path())
            })
            .collect();
        files.sort();
        files.into_iter().map(|(_, _, path)| path).collect()
    }

    /// Every line of every log file (see [`Rig::log_files`]; `.gz` ones decompressed).
    pub fn log_lines(&self) -> Vec<String> {
        self.log_files()
            .iter()
            .flat_map(|file| {
                let mut bytes = fs::read(file).unwrap_or_default();
                if file.extension().is_some_and(|e| e == "gz") {
                    let mut plain = Vec::new();
                    // A file gzip is still writing is incomplete: take what decodes.
                    let _ = flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_end(&mut plain);
                    bytes = plain;
                }
                String::from_utf8_lossy(&bytes)
                    .lines()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Waits until at least `count` log lines satisfy `predicate` or `timeout` passes
    /// (Postfix logs asynchronously, through postlogd); returns how many there are.
    pub fn wait_for_log_lines(
        &self,
        predicate: impl Fn(&str) -> bool,
        count: usize,
        timeout: Duration,
    ) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self.log_lines().iter().filter(|l| predicate(l)).count();
            if found >= count || Instant::now() >= deadline {
                return found;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the logs hold `count` SASL failure lines of smtpd (see
    /// [`is_sasl_failure`]); returns how many there are.
    pub fn wait_for_failures(&self, count: usize, timeout: Duration) -> usize {
        self.wait_for_log_lines(|line| is_sasl_failure(line).is_some(), count, timeout)
    }

    /// SASL failure lines per client address, counted from the logs independently of
    /// saslguard.
    pub fn logged_failures(&self) -> BTreeMap<String, i64> {
        let mut counts = BTreeMap::new();
        for line in self.log_lines() {
            if let Some(client) = is_sasl_failure(&line) {
                *counts.entry(client).or_insert(0) += 1;
            }
        }
        counts
    }

    /// The last `n` lines of the logs, for messages.
    pub fn log_tail(&self, n: usize) -> String {
        let lines = self.log_lines();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Dovecot's configuration, passwd-file, base and state directories, and log.
    fn dovecot_dir(&self) -> PathBuf {
        self.dir().join("dovecot")
    }

    /// Postfix's queue_directory (the auth socket is `private/auth` in it).
    fn queue_dir(&self) -> PathBuf {
        self.dir().join("queue")
    }

    /// Writes Postfix's and Dovecot's configuration, the passwd-file and the empty map.
    fn write_files(&self) {
        let root = self.dir();
        let (uid, gid) = user_ids("postfix");
        for sub in [
            "postfix",
            "queue",
            "data",
            "dovecot",
            "dovecot/base",
            "dovecot/state",
        ] {
            fs::create_dir_all(root.join(sub)).expect("mkdir");
        }
        // master(8) takes its lock in data_directory as the mail owner.
        std::os::unix::fs::chown(root.join("data"), Some(uid), Some(gid)).expect("chown data");

        let main_cf = format!(
            "# A private Postfix for saslguard's end-to-end tests.\n\
             compatibility_level = 3.6\n\
             queue_directory = {queue}\n\
             data_directory = {root}/data\n\
             mail_owner = postfix\n\
             setgid_group = postdrop\n\
             myhostname = rig.test\n\
             mydomain = rig.test\n\
             myorigin = rig.test\n\
             mydestination =\n\
             relayhost =\n\
             alias_maps =\n\
             alias_database =\n\
             local_recipient_maps =\n\
             inet_interfaces = 127.0.0.1\n\
             # IPv6 clients through XCLIENT need IPv6 enabled in smtpd (with ipv4 only,\n\
             # XCLIENT ADDR=IPV6:... is refused with 501 Bad ADDR syntax).\n\
             inet_protocols = all\n\
             maillog_file = {root}/maillog\n\
             maillog_file_prefixes = {root}\n\
             smtpd_peername_lookup = no\n\
             smtpd_sasl_auth_enable = yes\n\
             smtpd_sasl_type = dovecot\n\
             smtpd_sasl_path = private/auth\n\
             smtpd_tls_security_level = none\n\
             smtpd_tls_auth_only = no\n\
             smtpd_authorized_xclient_hosts = 127.0.0.0/8\n\
             smtpd_delay_reject = no\n\
             smtpd_client_restrictions = check_client_access {map_type}:{map}\n\
             smtpd_relay_restrictions = reject\n\
             smtpd_recipient_restrictions = reject\n",
            queue = self.queue_dir().display(),
            root = root.display(),
            map_type = self.map_type,
            map = self.map_path().display(),
        );
        // No chroot: the daemons see the rig's absolute paths as they are.
        let master_cf = format!(
            "127.0.0.1:{port} inet n - n - - smtpd\n\
             pickup     unix  n - n 60    1 pickup\n\
             cleanup    unix  n - n -     0 cleanup\n\
             qmgr       unix  n - n 300   1 qmgr\n\
             rewrite    unix  - - n -     - trivial-rewrite\n\
             bounce     unix  - - n -     0 bounce\n\
             defer      unix  - - n -     0 bounce\n\
             trace      unix  - - n -     0 bounce\n\
             verify     unix  - - n -     1 verify\n\
             flush      unix  n - n 1000? 0 flush\n\
             proxymap   unix  - - n -     - proxymap\n\
             proxywrite unix  - - n -     1 proxymap\n\
             showq      unix  n - n -     - showq\n\
             error      unix  - - n -     - error\n\
             retry      unix  - - n -     - error\n\
             discard    unix  - - n -     - discard\n\
             anvil      unix  - - n -     1 anvil\n\
             scache     unix  - - n -     1 scache\n\
             postlog    unix-dgram n - n - 1 postlogd\n",
            port = self.port
        );
        let config_dir = self.config_dir();
        fs::write(config_dir.join("master.cf"), master_cf).expect("master.cf");
        let main_cf_path = config_dir.join("main.cf");
        fs::write(&main_cf_path, main_cf).expect("main.cf");
        // Postfix programs poll for ~2 s while main.cf is younger than a second.
        fs::File::options()
            .write(true)
            .open(&main_cf_path)
            .expect("open main.cf")
            .set_modified(SystemTime::now() - Duration::from_secs(3600))
            .expect("backdate main.cf");

        let dovecot = self.dovecot_dir();
        fs::write(
            dovecot.join("passwd"),
            format!("{USER}:{{PLAIN}}{PASSWORD}::::::\n"),
        )
        .expect("passwd-file");
        // Standalone: Debian's stock config adds a PAM passdb that stalls failures.
        // auth_failure_delay = 0 still answers failures on a 0.5 s tick; the anvil
        // listener with mode 0 disables the per-IP auth penalty (2 s, 4 s, ... 15 s).
        let dovecot_conf = format!(
            "protocols =\n\
             ssl = no\n\
             instance_name = {name}\n\
             base_dir = {dovecot}/base\n\
             state_dir = {dovecot}/state\n\
             log_path = {dovecot}/dovecot.log\n\
             disable_plaintext_auth = no\n\
             auth_mechanisms = plain login\n\
             auth_failure_delay = 0\n\
             passdb {{\n  driver = passwd-file\n  args = {dovecot}/passwd\n}}\n\
             userdb {{\n  driver = passwd-file\n  args = {dovecot}/passwd\n}}\n\
             service auth {{\n  unix_listener {queue}/private/auth {{\n    mode = 0660\n    \
             user = postfix\n    group = postfix\n  }}\n}}\n\
             service anvil {{\n  unix_listener anvil-auth-penalty {{\n    mode = 0\n  }}\n}}\n",
            name = self.name,
            dovecot = dovecot.display(),
            queue = self.queue_dir().display(),
        );
        fs::write(dovecot.join("dovecot.conf"), dovecot_conf).expect("dovecot.conf");

        fs::write(self.map_path(), "").expect("empty map");
        if matches!(self.map_type.as_str(), "hash" | "lmdb") {
            let output = Command::new(&self.programs.postmap)
                .arg("-c")
                .arg(&config_dir)
                .arg(format!("{}:{}", self.map_type, self.map_path().display()))
                .output()
                .expect("run postmap");
            assert!(output.status.success(), "postmap: {}", describe(&output));
        }
    }

    /// `postfix -c DIR start` (in UTC, so its year-less stamps are UTC) and the master's pid.
    fn start_postfix(&mut self) {
        let mut command = Command::new(&self.programs.postfix);
        command
            .arg("-c")
            .arg(self.config_dir())
            .arg("start")
            .env("TZ", "UTC");
        let (ok, said) = run_daemonizing(command, &self.dir().join("postfix-start.out"));
        assert!(ok, "postfix start failed: {said}\n{}", self.log_tail(20));
        let pid = fs::read_to_string(self.queue_dir().join("pid/master.pid"))
            .expect("master.pid")
            .trim()
            .parse()
            .expect("master pid");
        self.postfix_pid = Some(pid);
    }

    /// `dovecot -c FILE` (it daemonizes) and its master's pid; after Postfix, which
    /// creates the queue's `private` directory the auth socket goes into.
    fn start_dovecot(&mut self) {
        let dovecot = self.dovecot_dir();
        let mut command = Command::new(&self.programs.dovecot);
        command.arg("-c").arg(dovecot.join("dovecot.conf"));
        let (ok, said) = run_daemonizing(command, &dovecot.join("start.out"));
        assert!(
            ok,
            "dovecot failed: {said}\n{}",
            fs::read_to_string(dovecot.join("dovecot.log")).unwrap_or_default()
        );
        let pid_file = dovecot.join("base/master.pid");
        let socket = self.queue_dir().join("private/auth");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // Known as soon as written, so that Drop stops it even if the socket never
            // shows up.
            if self.dovecot_pid.is_none() {
                self.dovecot_pid = fs::read_to_string(&pid_file)
                    .ok()
                    .and_then(|text| text.trim().parse().ok());
            }
            if self.dovecot_pid.is_some() && socket.exists() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "dovecot did not create {} and {}: {}",
                pid_file.display(),
                socket.display(),
                fs::read_to_string(dovecot.join("dovecot.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// One EHLO from 127.0.0.1: smtpd answers and offers AUTH through Dovecot.
    fn wait_until_ready(&self) {
        let output = Command::new(&self.programs.swaks)
            .args(["--server", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--local-interface", "127.0.0.1", "--timeout", "15"])
            .args(["--quit-after", "EHLO"])
            .output()
            .expect("run swaks");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            text.contains("AUTH PLAIN LOGIN"),
            "smtpd does not offer AUTH: {}\n{}",
            describe(&output),
            self.log_tail(20)
        );
    }

    /// Stops Postfix, then Dovecot (whose auth process lives while smtpd holds a
    /// connection), then kills whatever of their process groups is left.
    fn stop(&mut self) {
        if let Some(pid) = self.postfix_pid.take() {
            let _ = Command::new(&self.programs.postfix)
                .arg("-c")
                .arg(self.config_dir())
                .arg("stop")
                .output();
            self.end_group(pid);
        }
        if let Some(pid) = self.dovecot_pid.take() {
            self.signal(&[pid], "TERM");
            self.end_group(pid);
        }
    }

    /// Waits up to 5 s for the process group `pgid` (a master and its children) to end,
    /// then kills what is left of it by pid.
    fn end_group(&self, pgid: u32) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = group_members(pgid);
            if left.is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                eprintln!("rig {}: killing leftover processes {left:?}", self.name);
                self.signal(&left, "KILL");
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `signal` (`TERM`, `KILL`) to `pids` with the shell's `kill` builtin (the
    /// tests have no libc binding, and a minimal system may lack procps' kill).
    fn signal(&self, pids: &[u32], signal: &str) {
        let _ = Command::new("sh")
            .args(["-c", "kill -s \"$0\" \"$@\"", signal])
            .args(pids.iter().map(u32::to_string))
            .output();
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let dovecot_log =
                fs::read_to_string(self.dovecot_dir().join("dovecot.log")).unwrap_or_default();
            let _ = writeln!(
                std::io::stderr(),
                "rig {} at {} (port {}): last log lines:\n{}\ndovecot.log:\n{}",
                self.name,
                self.dir().display(),
                self.port,
                self.log_tail(40),
                dovecot_log
            );
        }
        self.stop();
        if std::env::var_os("SASLGUARD_KEEP_RIG").is_some() {
            self.dir.disable_cleanup(true);
            eprintln!("rig {}: kept {}", self.name, self.dir.path().display());
        }
    }
}

/// The client address of an smtpd SASL failure line
/// (`postfix/smtpd[pid]: warning: unknown[ADDR]: SASL MECH authentication failed: ...`).
pub fn is_sasl_failure(line: &str) -> Option<String> {
    let (_, rest) = line.split_once("/smtpd[")?;
    let (_, rest) = rest.split_once("]: warning: ")?;
    let (client, rest) = rest.split_once(": SASL ")?;
    if !rest.contains(" authentication failed") {
        return None;
    }
    let open = client.find('[')?;
    let close = client.rfind(']')?;
    Some(client[open + 1..close].to_string())
}

/// The XCLIENT ADDR value: Postfix wants IPv6 addresses as `IPV6:addr`.
fn xclient_value(addr: &str) -> String {
    if addr.contains(':') && !addr.to_ascii_uppercase().starts_with("IPV6:") {
        format!("IPV6:{addr}")
    } else {
        addr.to_string()
    }
}

/// Reads swaks' transcript: server lines start with `<- ` (`<~ ` under TLS) or, when
/// swaks did not expect the reply, `<** ` (`<~* `).
fn parse_swaks(output: &Output) -> SmtpResult {
    let transcript = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let mut authenticated = false;
    let mut first_error = None;
    for line in transcript.lines() {
        let Some(reply) = ["<- ", "<~ ", "<** ", "<~* "]
            .iter()
            .find_map(|prefix| line.strip_prefix(prefix))
        else {
            continue;
        };
        let Some(code) = reply
            .trim_start()
            .get(..3)
            .and_then(|c| c.parse::<u16>().ok())
        else {
            continue;
        };
        if code == 235 {
            authenticated = true;
        }
        if code >= 400 && first_error.is_none() {
            first_error = Some(code);
        }
    }
    SmtpResult {
        authenticated,
        first_error,
        exit_code: output.status.code(),
        transcript,
    }
}

/// Whether the rig can run here: root and the programs; `Err` says what is missing.
fn prerequisites() -> Result<Programs, String> {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("");
    if euid != "0" {
        return Err("the Postfix rig needs root".to_string());
    }
    let find = |name: &str, package: &str| {
        find_program(name).ok_or_else(|| format!("{name} is not installed (package {package})"))
    };
    let programs = Programs {
        postfix: find("postfix", "postfix")?,
        postmap: find("postmap", "postfix")?,
        dovecot: find("dovecot", "dovecot-core")?,
        swaks: find("swaks", "swaks")?,
    };
    if user_ids_opt("postfix").is_none() {
        return Err("there is no postfix user (package postfix)".to_string());
    }
    Ok(programs)
}

/// `name` in PATH or in the usual sbin/bin directories.
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(
            ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
                .iter()
                .map(PathBuf::from),
        )
        .map(|dir| dir.join(name))
        .find(|candidate| {
            fs::metadata(candidate)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// A user's uid and primary gid from /etc/passwd; panics if it is missing.
fn user_ids(user: &str) -> (u32, u32) {
    user_ids_opt(user).unwrap_or_else(|| panic!("no user {user} in /etc/passwd"))
}

/// A user's uid and primary gid from /etc/passwd, if it exists.
fn user_ids_opt(user: &str) -> Option<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() > 3 && fields[0] == user)
            .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
            .flatten()
    })
}

/// Ports handed out by this process, so parallel rigs never try the same one.
static PORTS_TRIED: AtomicUsize = AtomicUsize::new(0);

/// A TCP port free on 127.0.0.1, outside the kernel's ephemeral range so that no
/// client socket of a parallel test takes it before Postfix binds it.
fn free_port() -> u16 {
    let (low, high) = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| {
            let mut parts = text.split_whitespace().map(|p| p.parse::<u32>().ok());
            Some((parts.next()??, parts.next()??))
        })
        .unwrap_or((32768, 60999));
    let (first, count) = (20000u32, 10000u32);
    let offset = std::process::id() % 500 * 20;
    for _ in 0..count {
        let n = PORTS_TRIED.fetch_add(1, Ordering::SeqCst) as u32;
        let port = first + (offset + n) % count;
        if (low..=high).contains(&port) {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port as u16)).is_ok() {
            return port as u16;
        }
    }
    panic!("no free port in {first}..{}", first + count);
}

/// The live (non-zombie) processes in process group `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
            let Some((_, rest)) = stat.rsplit_once(')') else {
                return false;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            fields.len() > 2 && fields[0] != "Z" && fields[2] == pgid.to_string()
        })
        .collect()
}

/// Runs a command that leaves a daemon behind, with stdout and stderr going to the file
/// `out` rather than pipes: the daemon may keep them open (Dovecot does), and reading a
/// pipe to its end would then wait for the daemon to exit. Returns whether it exited 0
/// and what it printed.
fn run_daemonizing(mut command: Command, out: &Path) -> (bool, String) {
    let file = fs::File::create(out).expect("create output file");
    let status = command
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("dup output file"))
        .stderr(file)
        .status()
        .expect("start daemon");
    let said = fs::read_to_string(out).unwrap_or_default();
    (status.success(), format!("{status}: {}", said.trim()))
}

/// A finished command's status and output, for messages.
fn describe(output: &Output) -> String {
    format!(
        "{}; stdout: {}; stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout).trim(),
        String::from_utf8_lossy(&output.stderr).trim()
    )
}
