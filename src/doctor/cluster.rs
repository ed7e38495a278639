//! `doctor`'s checks of `[cluster]`: the password file's mode, the connection, and the
//! schema version of the shared store. Nothing is written there (no contact recorded).

use super::Finding;
use crate::config::{ClusterConfig, Config};
use crate::store::postgres::{ClusterError, Reader, supported_schema_version};

/// Every cluster check; none without `[cluster]`.
pub fn check_cluster(config: &Config) -> Vec<Finding> {
    let Some(cluster) = &config.cluster else {
        return Vec::new();
    };
    let mut findings = vec![check_password_file(cluster)];
    findings.extend(check_connection(cluster));
    findings
}

/// The password file must be private: the connection refuses one others may read.
fn check_password_file(cluster: &ClusterConfig) -> Finding {
    use std::os::unix::fs::PermissionsExt;
    let Some(file) = &cluster.password_file else {
        return Finding::pass(
            "cluster password",
            "no password_file: the password comes from PGPASSFILE or ~/.pgpass (or none)",
        );
    };
    match std::fs::metadata(file) {
        Err(e) => Finding::fail(
            "cluster password",
            format!("cannot read password_file {}: {e}", file.display()),
            "create it with the role's password on its first line, mode 0600",
        ),
        Ok(meta) if meta.permissions().mode() & 0o077 != 0 => Finding::fail(
            "cluster password",
            format!(
                "password_file {} is readable by others (mode {:04o}): saslguard refuses it",
                file.display(),
                meta.permissions().mode() & 0o777
            ),
            format!("chmod 600 {}", file.display()),
        ),
        Ok(_) => Finding::pass(
            "cluster password",
            format!("password_file {} is private", file.display()),
        ),
    }
}

/// Connects (within `connect_timeout`) and reads the schema version.
fn check_connection(cluster: &ClusterConfig) -> Vec<Finding> {
    let opened = cluster
        .host_name()
        .and_then(|host| Ok((cluster.settings()?, host)))
        .map(|(settings, host)| {
            let shown = settings.shown().to_string();
            (Reader::open(&settings, &host), shown)
        });
    let (reader, shown) = match opened {
        Ok(found) => found,
        Err(e) => {
            return vec![Finding::fail(
                "cluster database",
                format!("{e:#}"),
                "fix [cluster] in the config",
            )];
        }
    };
    let reader = match reader {
        Ok(reader) => reader,
        Err(e @ ClusterError::SchemaTooNew { .. }) => {
            return vec![Finding::fail(
                "cluster schema",
                e.to_string(),
                "upgrade saslguard on this host",
            )];
        }
        Err(e) => {
            return vec![Finding::fail(
                "cluster database",
                e.to_string(),
                "check the url, the server, the role's password and pg_hba.conf (see the \
                 README's \"Several hosts\"); runs go on alone meanwhile",
            )];
        }
    };
    let reached = Finding::pass("cluster database", format!("reached {shown}"));
    let supported = supported_schema_version();
    let schema = match reader.schema_version() {
        0 => Finding::warn(
            "cluster schema",
            "no saslguard tables yet",
            "the first `saslguard run` of any host creates them",
        ),
        v if v < supported => Finding::warn(
            "cluster schema",
            format!("schema version {v}, this saslguard has {supported}"),
            "the next `saslguard run` upgrades it (in one transaction)",
        ),
        v => Finding::pass("cluster schema", format!("schema version {v}")),
    };
    vec![reached, schema]
}
