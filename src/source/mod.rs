//! Where to read: one module per kind of log source, each a [`Source`] the ingest
//! pipeline ([`crate::ingest`]) reads the same way. Knows nothing of Postfix.
//!
//! - [`file`](mod@file): a log file (plain or gzip) identified by its first line, read from a byte
//!   offset, with the files it was rotated into; anything but a regular file is refused.
//! - [`stdin`]: standard input, read to its end.
//! - [`journal`]: the systemd journal through `journalctl -o json`, resumed at a cursor.
//!
//! Shared here: [`LineReader`](reader::LineReader) (complete lines with their offsets),
//! [`rotation`] (rotated siblings of a path) and the first-line fingerprint.

pub mod file;
pub mod journal;
pub mod reader;
pub mod rotation;
pub mod stdin;

use std::io::{self, Read};
use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::store::{SourceState, Stream, StreamStore};

/// How many bytes of the first line identify a stream.
pub const FINGERPRINT_MAX: usize = 1024;

/// One read of log lines, as the ingest pipeline sees it. The pipeline calls, in order:
/// [`identity`](Source::identity), [`resume_at`](Source::resume_at),
/// [`open`](Source::open), then [`checkpoint`](Source::checkpoint) with every commit,
/// then [`finish`](Source::finish) (also after a failed read). Events are stored under
/// the stream's id and each line's offset in the stream, so reading the same bytes twice
/// stores nothing twice; a checkpoint commits with the events before it, so a crash
/// loses nothing.
pub trait Source {
    /// What is read, for messages: `reading {name}: ...`.
    fn name(&self) -> String;

    /// Bytes known to be waiting before the read starts, for the progress bar; 0 when
    /// not known (a stream, compressed content).
    fn size_hint(&self) -> u64 {
        0
    }

    /// The stream the stored offset (and cursor) belong to, found or created in `store`;
    /// `None` when there is nothing to read yet (a file without a complete first line).
    /// Called once, right before reading, with the database lock held.
    fn identity(
        &mut self,
        store: &dyn StreamStore,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<Stream>>;

    /// The resume point: the stream offset of the first byte [`open`](Source::open)
    /// returns (lines are numbered from it, so event ids stay unique).
    fn resume_at(&self, stream: &Stream) -> u64;

    /// The bytes from `start` on, with what the pipeline needs to parse them.
    fn open(&mut self, start: u64) -> anyhow::Result<Records>;

    /// The checkpoint committed with the events up to stream offset `offset` (besides
    /// the offset itself, always stored): the row of the configured path it stands for,
    /// if any. `stream_id` is `None` when [`identity`](Source::identity) found nothing to
    /// read; the row is then still saved, so the next run knows the path.
    fn checkpoint(&self, _stream_id: Option<i64>, _offset: u64) -> Option<(&Path, SourceState)> {
        None
    }

    /// After the records ended (or failed): whatever the source must still check, such
    /// as a subprocess's exit status.
    fn finish(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
}

impl std::fmt::Debug for dyn Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Source").field(&self.name()).finish()
    }
}

/// The bytes of one read and how to take them.
pub struct Records {
    /// The content from the resume point on; read on the parsing thread.
    pub bytes: Box<dyn Read + Send>,
    /// What year-less stamps are resolved against.
    pub reference: Reference,
    /// A per-line checkpoint beyond the offset (the journal's cursor), taken on the
    /// parsing thread; the last one of each batch is committed with it. `None` for
    /// sources whose offset says it all, so their lines are not looked at for one.
    pub line_checkpoint: Option<LineCheckpoint>,
}

/// A line's checkpoint beyond its offset, if it carries one: see
/// [`Records::line_checkpoint`].
pub type LineCheckpoint = fn(&[u8]) -> Option<String>;

/// What year-less stamps of a read are resolved against: the moment its lines were read.
#[derive(Debug, Clone, Copy)]
pub enum Reference {
    /// A file: its modification time when the run looked at it, which every line up to
    /// the size it had then was written before.
    Fixed(DateTime<Utc>),
    /// A stream read as it is written (stdin, the journal): `at` when the read started,
    /// moved on with the wall clock as lines arrive.
    Live { at: DateTime<Utc>, since: Instant },
}

impl Reference {
    /// Live from `at` on.
    pub fn live(at: DateTime<Utc>) -> Reference {
        Reference::Live {
            at,
            since: Instant::now(),
        }
    }

    /// The reference for a line read now.
    pub fn now(self) -> DateTime<Utc> {
        match self {
            Reference::Fixed(at) => at,
            Reference::Live { at, since } => {
                at + chrono::TimeDelta::from_std(since.elapsed()).unwrap_or_default()
            }
        }
    }
}

/// The first line of `reader` (newline included), or its first [`FINGERPRINT_MAX`] bytes
/// when the line is longer; `None` while there is no complete first line yet.
pub fn first_line(reader: impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut head = Vec::with_capacity(FINGERPRINT_MAX);
    reader.take(FINGERPRINT_MAX as u64).read_to_end(&mut head)?;
    if let Some(newline) = memchr::memchr(b'\n', &head) {
        head.truncate(newline + 1);
        Ok(Some(head))
    } else if head.len() == FINGERPRINT_MAX {
        Ok(Some(head))
    } else {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_the_first_complete_line() {
        assert_eq!(
            first_line(&b"one\ntwo\n"[..]).unwrap(),
            Some(b"one\n".to_vec())
        );
        assert_eq!(first_line(&b"partial"[..]).unwrap(), None);
        assert_eq!(first_line(&b""[..]).unwrap(), None);
        let long = vec![b'x'; 5000];
        assert_eq!(first_line(&long[..]).unwrap().map(|f| f.len()), Some(1024));
    }
}
