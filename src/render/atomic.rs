//! Replacing a file atomically: readers (smtpd, `postfix reload`, a person with `less`)
//! see either the old content or the new one, never a half-written file, and a crash
//! leaves one of the two on disk.
//!
//! The new content goes to a temporary file in the target's own directory (a rename
//! is only atomic within one file system), is flushed to disk, then renamed over the
//! target; finally the directory is flushed so the rename itself survives a crash.

use std::fs::{File, Permissions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use tempfile::NamedTempFile;

/// Mode of the files saslguard renders: readable by Postfix's unprivileged processes
/// and by people checking what is blocked, writable only by root.
pub const FILE_MODE: u32 = 0o644;

/// Replaces `path` with `bytes` atomically (temporary file in the same directory,
/// write, fsync, mode 0644, rename, fsync of the directory).
///
/// A missing directory is an error naming it, and nothing is written. On any error the
/// old file is left as it was and the temporary file is removed.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_atomically_with_mode(path, bytes, FILE_MODE)
}

/// Mode of files that hold attacker-chosen text read from logs (a report's usernames
/// are often mistyped passwords): only the owner reads them.
pub const PRIVATE_MODE: u32 = 0o600;

/// [`write_atomically`] with the file's mode chosen by the caller.
pub fn write_atomically_with_mode(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut temp = temp_file_beside(path)?;
    temp.as_file()
        .set_permissions(Permissions::from_mode(mode))
        .with_context(|| format!("cannot set the mode of {}", temp.path().display()))?;
    temp.write_all(bytes)
        .and_then(|()| temp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", temp.path().display()))?;
    temp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot rename a temporary file to {}", path.display()))?;
    sync_dir(&parent_dir(path))
}

/// Creates an empty temporary file, mode 0644, in the directory of `path`, named
/// after it (`.NAME.XXXXXX`, hidden, so it is not mistaken for a map). It is removed
/// when dropped unless persisted. Fails with a message naming the directory when the
/// directory does not exist.
pub fn temp_file_beside(path: &Path) -> anyhow::Result<NamedTempFile> {
    let dir = parent_dir(path);
    if !dir.is_dir() {
        bail!(
            "directory {} does not exist (needed for {})",
            dir.display(),
            path.display()
        );
    }
    let name = path
        .file_name()
        .with_context(|| format!("{} does not name a file", path.display()))?;
    let prefix = format!(".{}.", name.to_string_lossy());
    let temp = tempfile::Builder::new()
        .prefix(&prefix)
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    temp.as_file()
        .set_permissions(Permissions::from_mode(FILE_MODE))
        .with_context(|| format!("cannot set the mode of {}", temp.path().display()))?;
    Ok(temp)
}

/// The directory holding `path` (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Flushes a directory, so renames and creations in it survive a crash.
pub fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot flush directory {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn replaces_the_file_with_mode_0644_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("map");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(0o600)).unwrap();
        write_atomically(&path, b"new\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new\n");
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o644);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["map"]);
    }

    #[test]
    fn creates_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fresh");
        write_atomically(&path, b"x").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"x");
    }

    #[test]
    fn a_missing_directory_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-dir");
        let err = write_atomically(&missing.join("map"), b"x").unwrap_err();
        let text = format!("{err}");
        assert!(text.contains(&missing.display().to_string()), "{text}");
        assert!(text.contains("does not exist"), "{text}");
        assert!(!missing.exists());
    }

    #[test]
    fn a_bare_file_name_lives_in_the_current_directory() {
        assert_eq!(parent_dir(Path::new("map")), PathBuf::from("."));
        assert_eq!(
            parent_dir(Path::new("/etc/postfix/m")),
            PathBuf::from("/etc/postfix")
        );
    }
}
