//! How saslguard reaches the shared store: the `[cluster]` url read into a client
//! configuration, the TLS it demands, and the password from a file (never the config).
//!
//! Only two `sslmode`s are accepted: `verify-full` (TLS, the server's certificate checked
//! against the system's CAs or `sslrootcert`, and its name against the host) and
//! `disable` (nothing encrypted: a Unix socket, loopback, or a choice the admin wrote
//! down). `require`, `prefer`, `allow` and `verify-ca` encrypt without proving who
//! answers, so a machine in the middle could take the password: they are refused by
//! name. Without `sslmode`, a Unix socket or loopback host means `disable`, any other
//! host is refused.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use postgres::config::Host;

use super::ClusterError;

/// Whether and how the connection is encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    /// Plain: a Unix socket, loopback, or `sslmode=disable`.
    Off,
    /// TLS with the certificate and host name verified; `root_cert` replaces the
    /// system's CAs (`sslrootcert=/path`).
    VerifyFull { root_cert: Option<PathBuf> },
}

/// Everything needed to connect: the client configuration (timeouts set, no password
/// yet unless the url held one), the TLS demanded, where a password may come from, and
/// the url as it may be shown (no password).
#[derive(Clone)]
pub struct Settings {
    pub(super) pg: postgres::Config,
    pub(super) tls: Tls,
    pub(super) password_file: Option<PathBuf>,
    pub(super) shown: String,
    pub(super) timeout: Duration,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("url", &self.shown)
            .field("tls", &self.tls)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Reads `url` (refusing a weak or unknown `sslmode`) and sets the connect timeout.
    pub fn new(
        url: &str,
        connect_timeout: Duration,
        password_file: Option<PathBuf>,
    ) -> Result<Settings, ClusterError> {
        let (mut pg, tls) = parse_url(url).map_err(ClusterError::Url)?;
        pg.connect_timeout(connect_timeout);
        pg.application_name("saslguard");
        Ok(Settings {
            pg,
            tls,
            password_file,
            shown: redact(url),
            timeout: connect_timeout,
        })
    }

    /// The url without its password, for messages.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The TLS the url demands.
    pub fn tls(&self) -> &Tls {
        &self.tls
    }

    /// Opens a connection within the timeout, with the password from the url, the
    /// `password_file`, or the libpq password file (`PGPASSFILE`, `~/.pgpass`).
    pub(super) fn open(&self) -> Result<postgres::Client, ClusterError> {
        let mut pg = self.pg.clone();
        if pg.get_password().is_none()
            && let Some(password) = self.password()?
        {
            pg.password(password);
        }
        let unreachable = |cause| ClusterError::Unreachable {
            url: self.shown.clone(),
            timeout: self.timeout,
            hint: refused_certificate(&cause, &self.tls, &self.pg),
            cause,
        };
        match &self.tls {
            Tls::Off => pg.connect(postgres::NoTls).map_err(unreachable),
            Tls::VerifyFull { root_cert } => {
                let connector = connector(root_cert.as_deref())?;
                pg.connect(connector).map_err(unreachable)
            }
        }
    }

    /// The password from `password_file`, or else from the libpq password file.
    fn password(&self) -> Result<Option<String>, ClusterError> {
        if let Some(path) = &self.password_file {
            let text = private_file(path)?;
            let password = text.lines().next().unwrap_or("").to_string();
            if password.is_empty() {
                return Err(ClusterError::Password(format!(
                    "password_file {} is empty",
                    path.display()
                )));
            }
            return Ok(Some(password));
        }
        let Some(path) = pgpass_path() else {
            return Ok(None);
        };
        let text = match std::fs::metadata(&path) {
            Ok(_) => private_file(&path)?,
            Err(_) => return Ok(None),
        };
        Ok(pgpass_lookup(&text, &self.pg))
    }
}

/// Checks a `[cluster] url` as the config is read: the same rules [`Settings::new`]
/// applies, without connecting.
pub fn check_url(url: &str) -> Result<(), String> {
    parse_url(url).map(|_| ())
}

/// Whether `url` holds a password (`postgresql://user:secret@host/db`).
pub fn url_has_password(url: &str) -> bool {
    parse_url(url).is_ok_and(|(pg, _)| pg.get_password().is_some())
}

/// The client configuration and TLS of `url`: `sslmode` and `sslrootcert` are read
/// here (the client knows neither `verify-full` nor `sslrootcert`), the rest by the
/// client.
fn parse_url(url: &str) -> Result<(postgres::Config, Tls), String> {
    let scheme_ok = ["postgresql://", "postgres://"]
        .iter()
        .any(|scheme| url.starts_with(scheme));
    if !scheme_ok {
        return Err(format!(
            "{:?} is not a postgresql:// url",
            redact(url).chars().take(40).collect::<String>()
        ));
    }
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut kept = Vec::new();
    let (mut sslmode, mut root_cert) = (None, None);
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        match pair.split_once('=') {
            Some(("sslmode", value)) => sslmode = Some(value.to_string()),
            Some(("sslrootcert", value)) => root_cert = Some(percent_decode(value)?),
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let pg: postgres::Config = rest.parse().map_err(|e| format!("{}: {e}", redact(url)))?;
    if pg.get_hosts().is_empty() {
        return Err(format!("{} names no host", redact(url)));
    }
    let tls = tls_of(&pg, sslmode.as_deref(), root_cert)?;
    Ok((pg, tls))
}

/// The TLS an `sslmode` asks for, refusing the modes that do not prove the server.
fn tls_of(
    pg: &postgres::Config,
    sslmode: Option<&str>,
    root_cert: Option<String>,
) -> Result<Tls, String> {
    match sslmode {
        Some("verify-full") => Ok(Tls::VerifyFull {
            root_cert: root_cert.filter(|path| path != "system").map(PathBuf::from),
        }),
        Some("disable") => Ok(Tls::Off),
        Some(weak @ ("require" | "prefer" | "allow" | "verify-ca")) => Err(format!(
            "sslmode={weak} is refused: it does not check that the server is the one named \
             in the url, so a machine in between could read the password and the events; \
             use sslmode=verify-full (or sslmode=disable over a Unix socket or loopback)"
        )),
        Some(other) => Err(format!(
            "sslmode={other:?} is not one saslguard knows (verify-full or disable)"
        )),
        None if pg.get_hosts().iter().all(is_local) => Ok(Tls::Off),
        None => Err(
            "the url names a remote host but no sslmode: add sslmode=verify-full \
                     (TLS with the server's certificate checked) or, to send the password \
                     and events in clear on purpose, sslmode=disable"
                .to_string(),
        ),
    }
}

/// A Unix socket or a loopback host: nothing travels over a network.
fn is_local(host: &Host) -> bool {
    match host {
        Host::Unix(_) => true,
        Host::Tcp(name) => {
            name == "localhost"
                || name
                    .trim_matches(['[', ']'])
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
    }
}

/// `%2F`-style escapes decoded (a path in a url query).
fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad %-escape in {text:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{text:?} is not UTF-8 once decoded"))
}

/// `url` with the password between `user:` and `@` replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        _ => url.to_string(),
    }
}

/// A file holding a secret: refused when group or others may read it (as libpq
/// ignores such a `.pgpass`).
fn private_file(path: &Path) -> Result<String, ClusterError> {
    use std::os::unix::fs::PermissionsExt;
    let fail = |why: String| ClusterError::Password(format!("{}: {why}", path.display()));
    let meta = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(fail(format!(
            "holds a password but is readable by others (mode {mode:04o}); chmod 600 it"
        )));
    }
    std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))
}

/// `PGPASSFILE`, or `~/.pgpass`.
fn pgpass_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PGPASSFILE").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|home| Path::new(&home).join(".pgpass"))
}

/// The password of the first line of a libpq password file
/// (`host:port:database:user:password`, `*` matching anything, `\:` and `\\` escaped)
/// that matches the connection's first host, port, database and user.
pub(super) fn pgpass_lookup(text: &str, pg: &postgres::Config) -> Option<String> {
    let host = match pg.get_hosts().first()? {
        Host::Tcp(name) => name.clone(),
        Host::Unix(path) => path.to_string_lossy().into_owned(),
    };
    let local = matches!(pg.get_hosts().first(), Some(Host::Unix(_)));
    let port = pg.get_ports().first().copied().unwrap_or(5432).to_string();
    let user = pg.get_user().unwrap_or("");
    let dbname = pg.get_dbname().unwrap_or(user);
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(pgpass_fields)
        .find(|fields| {
            let matches = |field: &str, value: &str| field == "*" || field == value;
            (matches(&fields[0], &host) || (local && fields[0] == "localhost"))
                && matches(&fields[1], &port)
                && matches(&fields[2], dbname)
                && matches(&fields[3], user)
        })
        .map(|mut fields| fields.swap_remove(4))
}

/// The five fields of a password file line, escapes undone; `None` for fewer.
fn pgpass_fields(line: &str) -> Option<Vec<String>> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields.last_mut()?.push(chars.next().unwrap_or('\\')),
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut()?.push(c),
        }
    }
    (fields.len() == 5).then_some(fields)
}

/// What a handshake refused under `sslmode=verify-full` means, when the server's
/// certificate was the reason: signed by no CA trusted here, or not for the url's host
/// (the client's own words, `UnknownIssuer`, say neither plainly). `None` for any other
/// failure.
fn refused_certificate(
    error: &postgres::Error,
    tls: &Tls,
    pg: &postgres::Config,
) -> Option<String> {
    use rustls::CertificateError as Cert;
    let Tls::VerifyFull { root_cert } = tls else {
        return None;
    };
    let trusted = match root_cert {
        Some(path) => format!("the CA certificates in sslrootcert={}", path.display()),
        None => {
            "the system's CA certificates (name a private CA with sslrootcert=/path)".to_string()
        }
    };
    let host = match pg.get_hosts().first() {
        Some(Host::Tcp(name)) => name.clone(),
        _ => String::new(),
    };
    match rustls_error(error)? {
        rustls::Error::InvalidCertificate(Cert::UnknownIssuer) => Some(format!(
            "the server's certificate is not signed by any of {trusted}, so it may not be \
             the server the url names: refused"
        )),
        rustls::Error::InvalidCertificate(
            Cert::NotValidForName | Cert::NotValidForNameContext { .. },
        ) => Some(format!(
            "the server's certificate is not valid for the url's host {host:?} (write the \
             host as the certificate names it), so it may not be the server the url names: \
             refused"
        )),
        rustls::Error::InvalidCertificate(Cert::Expired | Cert::ExpiredContext { .. }) => {
            Some("the server's certificate has expired: refused".to_string())
        }
        _ => None,
    }
}

/// The rustls error among the causes of `error` (the TLS adapter wraps it in an I/O
/// error).
fn rustls_error(error: &postgres::Error) -> Option<&rustls::Error> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(inner) = cause {
        if let Some(found) = inner.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        if let Some(found) = inner
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(found);
        }
        cause = inner.source();
    }
    None
}

/// A rustls connector trusting `root_cert` (PEM), or else the system's CAs.
fn connector(
    root_cert: Option<&Path>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, ClusterError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    match root_cert {
        Some(path) => {
            let fail =
                |e: &dyn std::fmt::Display| ClusterError::Tls(format!("{}: {e}", path.display()));
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| fail(&e))? {
                roots
                    .add(cert.map_err(|e| fail(&e))?)
                    .map_err(|e| fail(&e))?;
            }
        }
        None => {
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
    }
    if roots.is_empty() {
        return Err(ClusterError::Tls(
            "no trusted CA certificate found for sslmode=verify-full (install \
             ca-certificates, or name the server's CA with sslrootcert=/path in the url)"
                .to_string(),
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClusterError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_full_is_read_and_weak_modes_are_refused_by_name() {
        let (_, tls) =
            parse_url("postgresql://saslguard@db.example:5432/saslguard?sslmode=verify-full")
                .unwrap();
        assert_eq!(tls, Tls::VerifyFull { root_cert: None });
        let (_, tls) = parse_url(
            "postgresql://u@db.example/d?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem",
        )
        .unwrap();
        assert_eq!(
            tls,
            Tls::VerifyFull {
                root_cert: Some(PathBuf::from("/etc/ca.pem"))
            }
        );
        for weak in ["require", "prefer", "allow", "verify-ca"] {
            let err =
                parse_url(&format!("postgresql://u@db.example/d?sslmode={weak}")).unwrap_err();
            assert!(err.contains(&format!("sslmode={weak} is refused")), "{err}");
        }
        assert!(
            parse_url("postgresql://u@db.example/d")
                .unwrap_err()
                .contains("no sslmode")
        );
        assert!(parse_url("mysql://u@db/d").is_err());
    }

    #[test]
    fn local_hosts_need_no_sslmode() {
        for url in [
            "postgresql://u@localhost/d",
            "postgresql://u@127.0.0.1:5433/d",
            "postgresql://u@[::1]/d",
            "postgresql://u@%2Frun%2Fpostgresql/d",
            "postgresql://u@localhost/d?host=/tmp/sock&port=6000",
        ] {
            assert_eq!(parse_url(url).map(|(_, tls)| tls), Ok(Tls::Off), "{url}");
        }
    }

    #[test]
    fn a_password_never_shows() {
        assert_eq!(
            redact("postgresql://user:s3cret@db:5432/x?sslmode=disable"),
            "postgresql://user:***@db:5432/x?sslmode=disable"
        );
        assert_eq!(redact("postgresql://user@db/x"), "postgresql://user@db/x");
        assert!(url_has_password("postgresql://user:s3cret@localhost/x"));
        assert!(!url_has_password("postgresql://user@localhost/x"));
        let settings = Settings::new(
            "postgresql://u:pw@localhost/d",
            Duration::from_secs(5),
            None,
        )
        .unwrap();
        assert!(!format!("{settings:?}").contains("pw@"));
    }

    #[test]
    fn the_password_file_line_matching_the_connection_wins() {
        let (pg, _) =
            parse_url("postgresql://sg@db.example:5433/shared?sslmode=verify-full").unwrap();
        let text = "# comment\n\
                    db.example:5432:shared:sg:wrong-port\n\
                    db.example:5433:other:sg:wrong-db\n\
                    db.example:*:shared:sg:pa\\:ss\\\\word\n\
                    *:*:*:*:fallback\n";
        assert_eq!(pgpass_lookup(text, &pg).as_deref(), Some("pa:ss\\word"));
        let (socket, _) = parse_url("postgresql://sg@localhost/shared?host=/tmp/s").unwrap();
        assert_eq!(
            pgpass_lookup("localhost:5432:shared:sg:local\n", &socket).as_deref(),
            Some("local")
        );
        assert_eq!(pgpass_lookup("other:*:*:*:x\n", &socket), None);
    }
}
