//! A real PostgreSQL server from the distribution's packages for the cluster tests:
//! `initdb` on a temporary directory owned by the `postgres` user (initdb refuses
//! root), the server on a Unix socket in that directory only (no TCP: nothing to
//! collide with), password authentication everywhere, one database with a
//! least-privilege role that owns a schema and nothing else. Stopped on drop.
//!
//! [`Postgres::start_tls`] also listens on 127.0.0.1 at a free port with TLS only
//! (`hostssl` in `pg_hba.conf`), its certificate for `localhost` signed by a throwaway
//! CA made with the `openssl` command in the same directory.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::need;

/// The role saslguard connects as, its password, and the database.
pub const ROLE: &str = "saslguard";
pub const PASSWORD: &str = "role-secret-7";
pub const DATABASE: &str = "saslguard";
/// The superuser's password (the harness alone uses it).
const ADMIN_PASSWORD: &str = "admin-secret-3";
/// The port only names the socket file: the socket directory is private to this server.
pub const PORT: u16 = 5432;

/// A running server; stopped (and its directory deleted) on drop.
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    child: Option<Child>,
    /// The port (it also names the Unix socket).
    port: u16,
    /// Whether it listens on 127.0.0.1 with TLS ([`Postgres::start_tls`]).
    tls: bool,
}

impl Postgres {
    /// Starts a fresh server for `test`; `None` when the machine cannot (not root, no
    /// PostgreSQL packages): the test is skipped, or fails where everything must run.
    pub fn start(test: &str) -> Option<Postgres> {
        Postgres::start_with(test, false)
    }

    /// A fresh server that also listens on 127.0.0.1 (at a free port, [`Postgres::port`])
    /// with TLS alone: its certificate, for `localhost` only, is signed by the CA of
    /// [`Postgres::ca`]; [`Postgres::other_ca`] signed nothing it shows. `None` as
    /// [`Postgres::start`], also without the `openssl` command.
    pub fn start_tls(test: &str) -> Option<Postgres> {
        if !need::on_path("openssl") {
            need::met(test, Some("openssl not found (apt-get install openssl)"));
            return None;
        }
        Postgres::start_with(test, true)
    }

    fn start_with(test: &str, tls: bool) -> Option<Postgres> {
        let bin = match server_bin() {
            Ok(bin) => bin,
            Err(why) => {
                need::met(test, Some(&why));
                return None;
            }
        };
        let dir = tempfile::Builder::new()
            .prefix("saslguard-pg-")
            .tempdir()
            .expect("tempdir");
        let (uid, gid) = postgres_ids().expect("postgres user");
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown");
        let port = if tls { free_port() } else { PORT };
        let mut server = Postgres {
            dir,
            bin,
            child: None,
            port,
            tls,
        };
        server.initdb();
        if tls {
            server.make_certificates();
            server.tls_only();
        }
        server.resume();
        server.create_role_and_database();
        Some(server)
    }

    /// The server's data directory.
    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The directory holding the Unix socket.
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The url saslguard connects with (no password: it comes from a password file).
    pub fn url(&self) -> String {
        let socket = self.socket_dir().to_string_lossy().replace('/', "%2F");
        format!("postgresql://{ROLE}@{socket}:{}/{DATABASE}", self.port)
    }

    /// The TCP port (of a [`Postgres::start_tls`] server on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The url over TCP and TLS with `sslmode=verify-full`, naming the server `host`
    /// (reached at 127.0.0.1 whatever the name) and trusting the CA in `root_cert`.
    pub fn tls_url(&self, host: &str, root_cert: &Path) -> String {
        let root = root_cert.to_string_lossy().replace('/', "%2F");
        format!(
            "postgresql://{ROLE}@{host}:{}/{DATABASE}?hostaddr=127.0.0.1&sslmode=verify-full\
             &sslrootcert={root}",
            self.port
        )
    }

    /// The CA that signed the server's certificate (PEM).
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// A CA that signed nothing the server shows (PEM).
    pub fn other_ca(&self) -> PathBuf {
        self.dir.path().join("other-ca.crt")
    }

    /// Makes the two CAs and the server's key and certificate (for `localhost` only, so
    /// `127.0.0.1` is a name it does not match), the key readable by the server alone.
    fn make_certificates(&self) {
        let dir = self.dir.path();
        let openssl = |args: &[&str]| {
            let output = Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .expect("run openssl");
            assert!(
                output.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        };
        for (name, subject) in [("ca", "saslguard test CA"), ("other-ca", "another CA")] {
            openssl(&[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN={subject}"),
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.crt"),
            ]);
        }
        openssl(&[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ]);
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName = DNS:localhost\nbasicConstraints = CA:FALSE\n\
             keyUsage = digitalSignature\nextendedKeyUsage = serverAuth\n",
        )
        .expect("extensions");
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ]);
        let (uid, gid) = postgres_ids().expect("postgres user");
        for file in ["server.key", "server.crt"] {
            std::os::unix::fs::chown(dir.join(file), Some(uid), Some(gid)).expect("chown");
        }
        std::fs::set_permissions(
            dir.join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .expect("chmod");
    }

    /// `pg_hba.conf` as the README advises: over TCP, TLS or nothing (`hostssl`).
    fn tls_only(&self) {
        std::fs::write(
            self.data().join("pg_hba.conf"),
            "local all all scram-sha-256\nhostssl all all 127.0.0.1/32 scram-sha-256\n",
        )
        .expect("pg_hba.conf");
    }

    /// The arguments that make the server listen: on its socket alone, or also on
    /// 127.0.0.1 with TLS.
    fn listen_args(&self) -> Vec<String> {
        let mut args = vec!["-p".to_string(), self.port.to_string()];
        if self.tls {
            let file = |name: &str| self.dir.path().join(name).to_string_lossy().into_owned();
            args.extend([
                "-c".into(),
                "listen_addresses=127.0.0.1".into(),
                "-c".into(),
                "ssl=on".into(),
                "-c".into(),
                format!("ssl_cert_file={}", file("server.crt")),
                "-c".into(),
                format!("ssl_key_file={}", file("server.key")),
            ]);
        } else {
            args.extend(["-c".into(), "listen_addresses=".into()]);
        }
        args
    }

    /// Writes the role's password to `path` (mode 0600), for `password_file`.
    pub fn write_password_file(&self, path: &Path) {
        std::fs::write(path, format!("{PASSWORD}\n")).expect("password file");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }

    /// A connection as the superuser, to `database`.
    pub fn admin(&self, database: &str) -> postgres::Client {
        let mut config = postgres::Config::new();
        config
            .host_path(self.socket_dir())
            .port(self.port)
            .user("postgres")
            .password(ADMIN_PASSWORD)
            .dbname(database);
        config.connect(postgres::NoTls).expect("admin connection")
    }

    /// A connection as the least-privilege role.
    pub fn role_client(&self) -> postgres::Client {
        let mut config = postgres::Config::new();
        config
            .host_path(self.socket_dir())
            .port(self.port)
            .user(ROLE)
            .password(PASSWORD)
            .dbname(DATABASE);
        config.connect(postgres::NoTls).expect("role connection")
    }

    /// Stops the server (fast shutdown: connections are closed), keeping its data.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let stopped = self
                .as_postgres(&self.bin.join("pg_ctl"))
                .arg("stop")
                .arg("-D")
                .arg(self.data())
                .args(["-m", "fast", "-w", "-t", "30"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !stopped {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }

    /// Starts the server again on its data (after [`Postgres::stop`]) and waits until it
    /// accepts connections.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "server already running");
        let log = std::fs::File::create(self.dir.path().join("server.log")).expect("log");
        let child = self
            .as_postgres(&self.bin.join("postgres"))
            .arg("-D")
            .arg(self.data())
            .arg("-k")
            .arg(self.socket_dir())
            .args(self.listen_args())
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "shared_buffers=32MB"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start postgres");
        self.child = Some(child);
        self.wait_ready();
    }

    /// The server's log so far, for a failing test's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut config = postgres::Config::new();
            config
                .host_path(self.socket_dir())
                .port(self.port)
                .user("postgres")
                .password(ADMIN_PASSWORD)
                .dbname("postgres")
                .connect_timeout(Duration::from_secs(2));
            if config.connect(postgres::NoTls).is_ok() {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("postgres exited ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "postgres did not start:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A command run as the `postgres` user (setpriv execs it: no process between).
    fn as_postgres(&self, program: &Path) -> Command {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--reset-env",
        ])
        .arg(program)
        .current_dir(self.dir.path());
        cmd
    }

    fn initdb(&self) {
        let pwfile = self.dir.path().join("admin-password");
        std::fs::write(&pwfile, ADMIN_PASSWORD).expect("pwfile");
        let (uid, gid) = postgres_ids().expect("postgres user");
        std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid)).expect("chown");
        let output = self
            .as_postgres(&self.bin.join("initdb"))
            .arg("-D")
            .arg(self.data())
            .args(["-U", "postgres", "--auth=scram-sha-256", "-E", "UTF8"])
            .args(["--no-sync", "--locale=C"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .expect("run initdb");
        assert!(
            output.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let _ = std::fs::remove_file(pwfile);
    }

    /// The least-privilege setup the README gives: a login role that owns one schema in
    /// one database, and no other right (no superuser, no CREATEDB, no CREATE on public).
    fn create_role_and_database(&self) {
        let mut admin = self.admin("postgres");
        // One statement each: CREATE DATABASE runs outside a transaction block.
        for statement in [
            format!(
                "CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}' \
                 NOSUPERUSER NOCREATEDB NOCREATEROLE"
            ),
            format!("CREATE DATABASE {DATABASE}"),
            format!("REVOKE ALL ON DATABASE {DATABASE} FROM PUBLIC"),
            format!("GRANT CONNECT, TEMPORARY ON DATABASE {DATABASE} TO {ROLE}"),
        ] {
            admin.batch_execute(&statement).expect("role and database");
        }
        let mut db = self.admin(DATABASE);
        db.batch_execute(&format!(
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC;
             CREATE SCHEMA {ROLE} AUTHORIZATION {ROLE};"
        ))
        .expect("schema");
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The `bin` directory of the newest PostgreSQL server installed, or why there is none
/// usable (its binaries, the `postgres` user, root to become it, setpriv).
fn server_bin() -> Result<PathBuf, String> {
    if !need::is_root() {
        return Err("needs root (to run the server as the postgres user)".into());
    }
    if postgres_ids().is_none() {
        return Err("no postgres user (apt-get install postgresql)".into());
    }
    if !need::on_path("setpriv") {
        return Err("setpriv not found (util-linux)".into());
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| "no /usr/lib/postgresql (apt-get install postgresql)".to_string())?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| "no PostgreSQL server in /usr/lib/postgresql/*/bin".into())
}

/// A TCP port free on 127.0.0.1 now (the system picks it; freed for the server).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// The uid and gid of the `postgres` user.
fn postgres_ids() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&"postgres") && fields.len() > 3)
            .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
            .flatten()
    })
}
