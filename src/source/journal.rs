//! The systemd journal as a [`Source`]: `journalctl -o json` (no shell) after the cursor
//! stored with the last batch, its lines numbered on from the stream's offset so event
//! ids stay unique, and the cursor of the last line of each batch committed with it.
//! Cursors are handled here only: other sources' lines are never searched for one.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};

use super::{Records, Reference, Source};
use crate::config::JournalConfig;
use crate::store::{Stream, StreamStore};

/// The journal entries of the configured identifiers and units.
#[derive(Debug)]
pub struct Journal {
    config: JournalConfig,
    /// The cursor stored with the last batch: the read starts after it.
    cursor: Option<String>,
    now: DateTime<Utc>,
    /// The running `journalctl` and the thread collecting its stderr.
    child: Option<(Child, JoinHandle<String>)>,
}

impl Journal {
    /// The journal as `config` selects it; nothing runs until it is read.
    pub fn new(config: JournalConfig) -> Journal {
        Journal {
            config,
            cursor: None,
            now: DateTime::default(),
            child: None,
        }
    }

    /// `journalctl`'s arguments: JSON after the stored cursor, of the configured
    /// identifiers and units.
    fn args(&self) -> Vec<String> {
        let mut args: Vec<String> = ["-o", "json", "--no-pager", "--quiet"]
            .map(String::from)
            .to_vec();
        if let Some(cursor) = &self.cursor {
            args.push(format!("--after-cursor={cursor}"));
        }
        for identifier in &self.config.identifiers {
            args.extend(["-t".to_string(), identifier.clone()]);
        }
        for unit in &self.config.units {
            args.extend(["-u".to_string(), unit.clone()]);
        }
        args
    }
}

impl Source for Journal {
    fn name(&self) -> String {
        "the journal".into()
    }

    /// One stream per selection of identifiers and units; its cursor is where to resume.
    fn identity(
        &mut self,
        store: &dyn StreamStore,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<Stream>> {
        self.now = now;
        let identity = format!(
            "journal -t {} -u {}\n",
            self.config.identifiers.join(","),
            self.config.units.join(",")
        );
        let stream =
            store.stream_for(identity.as_bytes(), Path::new("journal"), now.timestamp())?;
        self.cursor = store.stream_cursor(stream.id)?;
        Ok(Some(stream))
    }

    fn resume_at(&self, stream: &Stream) -> u64 {
        stream.read_offset
    }

    fn open(&mut self, _start: u64) -> anyhow::Result<Records> {
        let command = &self.config.command;
        let mut child = Command::new(command)
            .args(self.args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot run {command}"))?;
        let stderr = child.stderr.take();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = stderr {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        });
        let stdout = child.stdout.take();
        self.child = Some((child, stderr));
        Ok(Records {
            bytes: Box::new(stdout.context("journalctl's output")?),
            reference: Reference::live(self.now),
            line_checkpoint: Some(cursor_of),
        })
    }

    /// Waits for `journalctl`: its failure (a cursor it cannot seek to, say) fails the
    /// read, with the first lines of what it said.
    fn finish(&mut self) -> anyhow::Result<()> {
        let Some((mut child, stderr)) = self.child.take() else {
            return Ok(());
        };
        let status = child.wait().context("waiting for journalctl")?;
        let stderr = stderr.join().unwrap_or_default();
        if !status.success() {
            bail!(
                "{} failed ({status}): {}",
                self.config.command,
                stderr.trim().lines().take(3).collect::<Vec<_>>().join("; ")
            );
        }
        Ok(())
    }
}

/// The `__CURSOR` of a `journalctl -o json` line (cursors hold no quotes or escapes).
fn cursor_of(line: &[u8]) -> Option<String> {
    const KEY: &[u8] = b"\"__CURSOR\":\"";
    if line.first() != Some(&b'{') {
        return None;
    }
    let start = memchr::memmem::find(line, KEY)? + KEY.len();
    let len = memchr::memchr(b'"', &line[start..])?;
    std::str::from_utf8(&line[start..start + len])
        .ok()
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_is_read_from_a_json_line_only() {
        let line = br#"{"__CURSOR":"s=abc;i=1f","MESSAGE":"x"}"#;
        assert_eq!(cursor_of(line).as_deref(), Some("s=abc;i=1f"));
        assert_eq!(cursor_of(br#" {"__CURSOR":"s=abc"}"#), None);
        assert_eq!(cursor_of(br#"{"MESSAGE":"no cursor"}"#), None);
    }
}
