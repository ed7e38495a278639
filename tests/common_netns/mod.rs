//! Helpers for the firewall tests: a throw-away network namespace (deleted on drop, even
//! when the test panics), a TCP listener inside it, and connection probes from chosen
//! source addresses. Only `tests/firewall.rs` uses them.
#![allow(dead_code)]

use crate::need;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// How long a probe waits for a connection: a dropped SYN shows as this timeout, an
/// allowed connection on loopback takes well under a millisecond.
pub const CONNECT_TIMEOUT_SECS: f64 = 0.5;

/// Programs the firewall tests need on `PATH`.
const TOOLS: &[&str] = &[
    "ip",
    "nft",
    "ipset",
    "iptables",
    "ip6tables",
    "iptables-restore",
    "ip6tables-restore",
];

/// Whether the firewall tests can run here: root, and the tools on `PATH`. When they
/// cannot, records the skip and returns false, or panics where everything must run
/// (CI), where skipping would hide that nothing was tested.
pub fn ready(test: &str) -> bool {
    let mut reasons = Vec::new();
    if !need::is_root() {
        reasons.push("not running as root".to_string());
    }
    let missing: Vec<&str> = TOOLS
        .iter()
        .copied()
        .filter(|tool| find_in_path(tool).is_none())
        .collect();
    if !missing.is_empty() {
        reasons.push(format!("missing on PATH: {}", missing.join(", ")));
    }
    if find_in_path("python3").is_none() {
        reasons.push("missing on PATH: python3".to_string());
    }
    if reasons.is_empty() {
        return true;
    }
    skip(test, &reasons.join("; "));
    false
}

fn skip(test: &str, reason: &str) {
    need::met(
        test,
        Some(&format!("cannot run the firewall tests: {reason}")),
    );
}

/// Whether `program` is on `PATH`.
pub fn have(program: &str) -> bool {
    find_in_path(program).is_some()
}

fn find_in_path(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// The system python (a pyenv shim would add a second of start-up), else any.
fn python() -> &'static str {
    if Path::new("/usr/bin/python3").is_file() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// A fresh network namespace with `lo` up and test addresses on it; deleted on drop.
///
/// IPv4: 127.0.0.0/8 is local on `lo`, so 127.0.0.1 is the server and 127.0.0.2, .3 ...
/// are clients. IPv6: fd00:5a51::1 is the server, ::2 and ::3 are clients.
pub struct Netns {
    pub name: String,
    listener: Option<Child>,
}

/// The IPv6 addresses put on `lo`.
pub const V6_ADDRESSES: &[&str] = &["fd00:5a51::1", "fd00:5a51::2", "fd00:5a51::3"];

impl Netns {
    /// Creates the namespace, or returns `None` when the tests cannot run here (see
    /// [`ready`]; under `CI=true` that panics instead).
    pub fn new(test: &str) -> Option<Netns> {
        if !ready(test) {
            return None;
        }
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "sg-test-{}-{}-{:x}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed),
            nanos & 0xffff
        );
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .expect("run ip");
        if !out.status.success() {
            skip(
                test,
                &format!(
                    "ip netns add failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            );
            return None;
        }
        // From here on, Drop deletes the namespace.
        let ns = Netns {
            name,
            listener: None,
        };
        ns.run(&["ip", "link", "set", "lo", "up"]);
        for addr in V6_ADDRESSES {
            ns.run(&[
                "ip",
                "-6",
                "addr",
                "add",
                &format!("{addr}/64"),
                "dev",
                "lo",
                "nodad",
            ]);
        }
        Some(ns)
    }

    /// The prefix that makes a renderer act inside this namespace.
    pub fn prefix(&self) -> Vec<String> {
        ["ip", "netns", "exec", self.name.as_str()]
            .map(String::from)
            .to_vec()
    }

    /// Runs `args` inside the namespace: (success, stdout, stderr).
    pub fn try_run(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .output()
            .expect("run ip netns exec");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs `args` inside the namespace and returns stdout; panics unless it succeeds.
    pub fn run(&self, args: &[&str]) -> String {
        let (ok, stdout, stderr) = self.try_run(args);
        assert!(ok, "{args:?} failed in {}: {stderr}", self.name);
        stdout
    }

    /// Starts a TCP listener on `ports` (IPv4 and IPv6) and waits until it listens.
    /// Connections are completed by the kernel and never accepted: enough for probes.
    pub fn listen(&mut self, ports: &[u16]) {
        let script = "import socket, sys, time\n\
            socks = [socket.create_server(('::', int(p)), family=socket.AF_INET6,\n\
                     dualstack_ipv6=True, backlog=4096) for p in sys.argv[1:]]\n\
            print('ready', flush=True)\n\
            while True:\n    time.sleep(3600)\n";
        let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name, python(), "-c", script])
            .args(&ports)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the listener");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read from the listener");
        self.listener = Some(child);
        assert_eq!(line.trim(), "ready", "the listener did not start");
    }

    /// Tries all `(source, destination, port)` connections at once; true for each that
    /// connected within [`CONNECT_TIMEOUT_SECS`].
    pub fn probe(&self, tries: &[(&str, &str, u16)]) -> Vec<bool> {
        let script = "import socket, sys, threading\n\
            timeout = float(sys.argv[1])\n\
            tries = [a.split(',') for a in sys.argv[2:]]\n\
            result = ['fail'] * len(tries)\n\
            def go(i, src, dst, port):\n\
            \x20   family = socket.AF_INET6 if ':' in dst else socket.AF_INET\n\
            \x20   with socket.socket(family, socket.SOCK_STREAM) as s:\n\
            \x20       s.settimeout(timeout)\n\
            \x20       try:\n\
            \x20           s.bind((src, 0))\n\
            \x20           s.connect((dst, int(port)))\n\
            \x20           result[i] = 'ok'\n\
            \x20       except OSError:\n\
            \x20           pass\n\
            threads = [threading.Thread(target=go, args=(i, *t)) for i, t in enumerate(tries)]\n\
            for t in threads: t.start()\n\
            for t in threads: t.join()\n\
            print(' '.join(result))\n";
        let timeout = CONNECT_TIMEOUT_SECS.to_string();
        let args: Vec<String> = tries
            .iter()
            .map(|(src, dst, port)| format!("{src},{dst},{port}"))
            .collect();
        let mut argv = vec![python(), "-c", script, timeout.as_str()];
        argv.extend(args.iter().map(String::as_str));
        let out = self.run(&argv);
        out.split_whitespace().map(|word| word == "ok").collect()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Some(mut child) = self.listener.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let out = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
        if !matches!(&out, Ok(o) if o.status.success()) {
            eprintln!("warning: could not delete network namespace {}", self.name);
        }
    }
}
