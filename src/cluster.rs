//! Several hosts, one defence (`[cluster]`): what the commands do with the shared store
//! of [`crate::store::postgres`]. With no `[cluster]` in the config nothing here runs and
//! a host behaves exactly as alone.

use std::path::Path;

use crate::config::Config;

/// Warnings about where the cluster's password is kept, for `config check` and
/// `doctor`: a url holding a password in a config file every user may read, or a
/// `password_file` others may read (the connection refuses that one).
pub fn config_warnings(config: &Config, path: &Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let Some(cluster) = &config.cluster else {
        return Vec::new();
    };
    let mode = |file: &Path| {
        std::fs::metadata(file)
            .ok()
            .map(|meta| meta.permissions().mode() & 0o777)
    };
    let mut warnings = Vec::new();
    if crate::store::postgres::url_has_password(&cluster.url)
        && let Some(mode) = mode(path).filter(|mode| mode & 0o004 != 0)
    {
        warnings.push(format!(
            "{}: [cluster] url holds a password and the file is readable by every user \
             (mode {mode:04o}): move the password to password_file (mode 0600) or \
             ~/.pgpass, or chmod o-r {}",
            path.display(),
            path.display()
        ));
    }
    if let Some(file) = &cluster.password_file
        && let Some(mode) = mode(file).filter(|mode| mode & 0o077 != 0)
    {
        warnings.push(format!(
            "{}: [cluster] password_file {} is readable by others (mode {mode:04o}): saslguard \
             refuses it until you chmod 600 it",
            path.display(),
            file.display()
        ));
    }
    warnings
}
