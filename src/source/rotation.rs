//! Finding the files a log was rotated into: `maillog-20261127`, `mail.log.1`,
//! `mail.log.2.gz`, `maillog.20261127-101010.gz` (`postfix logrotate`).

use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use regex::Regex;

/// The rotated siblings of `path` in its directory, oldest modification first.
/// Unreadable directory entries are skipped; a missing directory is an error.
pub fn rotated_siblings(path: &Path) -> io::Result<Vec<PathBuf>> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(Vec::new());
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let name = name.to_string_lossy();
    let pattern = format!(r"^{}[.-][0-9][0-9.-]*(\.gz)?$", regex::escape(&name));
    let rotated = Regex::new(&pattern).map_err(io::Error::other)?;
    let mut found: Vec<(SystemTime, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let file_name = entry.file_name();
        if !rotated.is_match(&file_name.to_string_lossy()) {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_file() {
            found.push((
                meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                entry.path(),
            ));
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(_, path)| path).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_rotation_style_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let names = [
            "maillog",
            "maillog-20261127",
            "maillog.1",
            "maillog.2.gz",
            "maillog.20261127-101010.gz",
            "maillog.bak",
            "maillog-old",
            "mail.log.1",
            "maillog.1.xz",
        ];
        for name in names {
            std::fs::write(dir.path().join(name), "x\n").unwrap();
        }
        let mut found: Vec<String> = rotated_siblings(&dir.path().join("maillog"))
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        found.sort();
        assert_eq!(
            found,
            [
                "maillog-20261127",
                "maillog.1",
                "maillog.2.gz",
                "maillog.20261127-101010.gz"
            ]
        );
    }

    #[test]
    fn dots_in_the_name_are_literal() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mailxlog.1"), "x\n").unwrap();
        std::fs::write(dir.path().join("mail.log.1"), "x\n").unwrap();
        let found = rotated_siblings(&dir.path().join("mail.log")).unwrap();
        assert_eq!(found, [dir.path().join("mail.log.1")]);
    }
}
