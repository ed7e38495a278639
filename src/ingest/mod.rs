//! The ingest pipeline: source -> parse -> store, over any [`Source`].
//!
//! Each [`Input`] (a configured path, stdin, the journal) stands for one or more reads,
//! each a [`Source`] (a file's rotated predecessors, then the file itself). Every read
//! parses its complete lines and commits events in batches together with the offset
//! after them and the source's checkpoint (`pipeline.rs`). A crash at any moment therefore loses
//! nothing and, since an event's id is its position in its stream, repeats nothing.

mod pipeline;
mod progress;

use std::io::{self, IsTerminal};
use std::path::PathBuf;

use anyhow::bail;
use chrono::{DateTime, Utc};

use crate::clock::Zone;
use crate::config::JournalConfig;
use crate::parse::{JournalTrust, Rejects, TrustRule};
use crate::source::Source;
use crate::source::file::{self, LogFile};
use crate::source::stdin::Stdin;
use crate::store::{EventSink, EventStore, RunCounters, StreamStore};
use crate::ui;

use pipeline::Ingest;

/// What to read, as a command asked for it: log files, opened before the run touches the
/// store, and any other [`Source`].
#[derive(Debug)]
pub enum Input {
    /// A configured or named log file, already open; read with the files it was rotated
    /// into since the last run (see [`file::plan`]).
    File(LogFile),
    /// A log that does not exist right now. Fine only when it was read before: it was
    /// rotated away and the writer has not created the new file yet (Postfix does so with
    /// its next line), so only the rest of the rotated file is read. See
    /// [`Input::check_missing`].
    Missing(PathBuf),
    /// Any other source, read as it is: stdin (`-`), the journal
    /// ([`Journal`](crate::source::journal::Journal)), or a new kind of input: a module
    /// in `src/source/` implementing [`Source`], and the line that asks for it here.
    Read(Box<dyn Source>),
}

impl Input {
    /// Opens every path first, so an unreadable log is reported (naming it) before the
    /// database is touched.
    pub fn open_all(paths: &[PathBuf]) -> anyhow::Result<Vec<Input>> {
        paths
            .iter()
            .map(|path| {
                if path.as_os_str() == "-" {
                    return Ok(Input::Read(Box::new(Stdin::default())));
                }
                Ok(match file::open(path)? {
                    Some(file) => Input::File(file),
                    None => Input::Missing(path.clone()),
                })
            })
            .collect()
    }

    /// Fails, naming the file, for a missing log that was never read: a wrong path, not
    /// a rotation in progress. `store` is `None` when there is no database yet; nothing
    /// is written either way.
    pub fn check_missing(inputs: &[Input], store: Option<&dyn StreamStore>) -> anyhow::Result<()> {
        for input in inputs {
            if let Input::Missing(path) = input {
                file::check_missing(path, store)?;
            }
        }
        Ok(())
    }

    /// Whether any input is a missing file.
    pub fn any_missing(inputs: &[Input]) -> bool {
        inputs.iter().any(|i| matches!(i, Input::Missing(_)))
    }

    /// The reads this input stands for, in order: for a file, the files it was rotated
    /// into since the last run, then itself.
    fn sources(
        self,
        store: &dyn StreamStore,
        from_start: bool,
    ) -> anyhow::Result<Vec<Box<dyn Source>>> {
        let reads = match self {
            Input::Read(source) => return Ok(vec![source]),
            Input::File(current) => {
                let path = current.path.clone();
                file::plan(store, &path, Some(current), from_start)?
            }
            Input::Missing(path) => file::plan(store, &path, None, from_start)?,
        };
        Ok(reads.into_iter().map(|r| Box::new(r) as _).collect())
    }
}

/// How to ingest.
#[derive(Debug, Clone, Copy)]
pub struct Options<'m> {
    /// Read named files from byte 0 again (events already stored stay single).
    pub from_start: bool,
    /// Draw a progress bar on stderr for long reads.
    pub progress: bool,
    /// Record the connections Postfix refused with this text after `Client host
    /// rejected: ` (see [`crate::parse::message::reject_marker`]): block efficacy.
    pub reject_marker: Option<&'m str>,
    /// Which journal entries are Postfix's smtpd (see [`TrustSettings`]).
    pub trust: JournalTrust<'m>,
    /// The zone stamps without an offset are local time in (resolved once at start).
    pub zone: &'m Zone,
}

/// The `[journal]` trust rule with its user names resolved to uids, for
/// [`Options::trust`].
#[derive(Debug, Clone)]
pub struct TrustSettings {
    config: JournalConfig,
    /// `None` when a user name could not be resolved: then no entry is trusted.
    uids: Option<Vec<u32>>,
}

impl TrustSettings {
    /// Resolves the trusted users of `journal` through /etc/passwd. A name that does not
    /// resolve leaves no journal entry trusted (said on stderr when the journal is read).
    pub fn from_config(journal: &JournalConfig) -> TrustSettings {
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let uids = match journal.trusted_uids(&passwd) {
            Ok(uids) => Some(uids),
            Err(e) => {
                if journal.enabled {
                    ui::warn(format!("{e:#}: no journal entry is trusted"));
                }
                None
            }
        };
        TrustSettings {
            config: journal.clone(),
            uids,
        }
    }

    /// The rule, borrowed for one ingest.
    pub fn trust(&self) -> JournalTrust<'_> {
        JournalTrust {
            rule: self.uids.as_deref().map(|uids| TrustRule {
                commands: &self.config.trusted_commands,
                executables: &self.config.trusted_executables,
                uids,
                units: &self.config.trusted_units,
            }),
        }
    }
}

/// Warns on stderr when journal entries were counted as untrusted: their failures were
/// not used, so a trust rule that matches Postfix's smtpd nowhere would stop protection
/// with nothing else said.
pub fn warn_untrusted(counters: &RunCounters) {
    if counters.untrusted > 0 {
        ui::warn(format!(
            "{} journal entries were untrusted (not written by the smtpd that \
             [journal] trusted_* describes) and not used: check those settings",
            counters.untrusted
        ));
    }
}

/// What an ingest did: its counters, and the sources that failed (each reported; the
/// others were read all the same).
#[derive(Debug, Default)]
pub struct Ingested {
    pub counters: RunCounters,
    /// One message per source that could not be read, naming it.
    pub failed: Vec<String>,
}

impl Ingested {
    /// An error naming every failed source, for the exit status once everything else
    /// is done.
    pub fn result(&self) -> anyhow::Result<()> {
        if self.failed.is_empty() {
            return Ok(());
        }
        bail!(
            "{} log source(s) could not be read: {}",
            self.failed.len(),
            self.failed.join("; ")
        )
    }
}

impl Options<'_> {
    /// A progress bar when stderr is a terminal and output is not quiet.
    pub fn progress_if_terminal() -> bool {
        io::stderr().is_terminal() && ui::verbosity() >= 0
    }
}

/// Reads `inputs` into the store as part of run `run_id`; returns what was done. A source
/// that fails (a journalctl that exits non-zero, a read error) is reported, its
/// unfinished batch rolled back, and the other sources are still read: see
/// [`Ingested::failed`]. Only a failure to plan the reads is an error here.
pub fn ingest<S: EventStore>(
    store: &S,
    run_id: i64,
    inputs: Vec<Input>,
    now: DateTime<Utc>,
    options: Options<'_>,
) -> anyhow::Result<Ingested> {
    // Every read is planned before any starts; an input's reads are its file's rotated
    // predecessors, then the file: once one fails, the rest of that input waits for the
    // next run, so its source row still points at what was not finished.
    let mut inputs_sources = Vec::new();
    for input in inputs {
        inputs_sources.push(input.sources(store as &dyn StreamStore, options.from_start)?);
    }
    let mut ingest = Ingest {
        store,
        writer: store.event_writer(run_id)?,
        counters: RunCounters::default(),
        now,
        progress: options
            .progress
            .then(|| progress::for_sources(inputs_sources.iter().flatten()))
            .flatten(),
        rejects: Rejects {
            marker: options.reject_marker,
        },
        trust: options.trust,
        zone: options.zone,
    };
    let mut failed = Vec::new();
    for sources in inputs_sources {
        let result = sources
            .into_iter()
            .try_for_each(|mut source| ingest.read(source.as_mut()));
        if let Err(e) = result {
            ingest.writer.rollback()?;
            ui::warn(format!("{e:#}"));
            failed.push(format!("{e:#}"));
        }
    }
    if let Some(bar) = ingest.progress.take() {
        bar.finish_and_clear();
    }
    Ok(Ingested {
        counters: ingest.counters,
        failed,
    })
}
