//! Standard input (`-`) as a [`Source`]: read to its end, identified by its first line
//! like a file, always from its first byte (what was stored before stays single), its
//! year-less stamps resolved against the wall clock as lines arrive.

use std::io::{self, Read};
use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::{FINGERPRINT_MAX, Records, Reference, Source, first_line};
use crate::store::{Stream, StreamStore};

/// Standard input, read once.
#[derive(Debug, Default)]
pub struct Stdin {
    /// The bytes read to find the first line; read again before the rest.
    head: Vec<u8>,
    /// When the read started.
    now: DateTime<Utc>,
}

impl Source for Stdin {
    fn name(&self) -> String {
        "stdin".into()
    }

    fn identity(
        &mut self,
        store: &dyn StreamStore,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<Stream>> {
        self.now = now;
        self.head = Vec::with_capacity(FINGERPRINT_MAX);
        io::stdin()
            .take(FINGERPRINT_MAX as u64)
            .read_to_end(&mut self.head)
            .context("reading stdin")?;
        let Some(fingerprint) = first_line(&self.head[..])? else {
            return Ok(None);
        };
        Ok(Some(store.stream_for(
            &fingerprint,
            Path::new("-"),
            now.timestamp(),
        )?))
    }

    fn resume_at(&self, _stream: &Stream) -> u64 {
        0
    }

    fn open(&mut self, _start: u64) -> anyhow::Result<Records> {
        let head = std::mem::take(&mut self.head);
        Ok(Records {
            bytes: Box::new(io::Cursor::new(head).chain(io::stdin())),
            reference: Reference::live(self.now),
            line_checkpoint: None,
        })
    }
}
