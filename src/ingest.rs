//! The ingest pipeline: source -> parse -> store.
//!
//! For each configured path it works out what to read (the unread tail of a rotated
//! predecessor, files rotated in between, then the current file from its stored
//! offset), parses every complete line and commits events in batches together with the
//! offset after them. A crash at any moment therefore loses nothing and, since an
//! event's id is its position in its stream, repeats nothing.

use std::collections::HashMap;
use std::io::{self, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};

use crate::clock::Zone;
use crate::config::JournalConfig;
use crate::parse::{EventKind, JournalTrust, LineParser, Parsed, Rejects, TrustRule};
use crate::source::reader::{Line, LineReader};
use crate::source::rotation::rotated_siblings;
use crate::source::{FINGERPRINT_MAX, LogFile, first_line};
use crate::store::rollup::Rollups;
use crate::store::{
    EventRow, EventWriter, MAX_STREAM_OFFSET, Progress, RunCounters, SourceState, Store, Stream,
    address, event_id,
};
use crate::ui;

/// Commit at least this often (events), so a crash costs little re-reading.
const BATCH_EVENTS: u64 = 400_000;
/// A hidden setting for tests: `SASLGUARD_BATCH_EVENTS=N` commits every N events instead
/// (rounded up to whole chunks of [`CHUNK_EVENTS`]), so a crash test can kill a run between
/// two commits with a small log. Read once; unset, empty or not a positive number: the
/// default above.
const BATCH_EVENTS_VARIABLE: &str = "SASLGUARD_BATCH_EVENTS";
/// ... and at least this often (bytes read).
const BATCH_BYTES: u64 = 256 << 20;
/// Progress bars only for reads at least this large.
const PROGRESS_MIN_BYTES: u64 = 32 << 20;

/// What to read: a log file opened before the run touches the store, or stdin.
#[derive(Debug)]
pub enum Input {
    /// A configured or named log file, already open.
    File(LogFile),
    /// Standard input (`-`): read to its end; its reference time is now.
    Stdin,
    /// The systemd journal, read with `journalctl -o json` after the stored cursor.
    Journal(JournalConfig),
    /// A log that does not exist right now. Fine only when it was read before: it was
    /// rotated away and the writer has not created the new file yet (Postfix does so with
    /// its next line), so only the rest of the rotated file is read. See
    /// [`Input::check_missing`].
    Missing(PathBuf),
}

impl Input {
    /// Opens every path first, so an unreadable log is reported (naming it) before the
    /// database is touched.
    pub fn open_all(paths: &[PathBuf]) -> anyhow::Result<Vec<Input>> {
        paths
            .iter()
            .map(|path| {
                if path.as_os_str() == "-" {
                    return Ok(Input::Stdin);
                }
                match LogFile::open(path) {
                    Ok(file) => Ok(Input::File(file)),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        Ok(Input::Missing(path.clone()))
                    }
                    Err(e) => Err(e).with_context(|| format!("cannot read log {}", path.display())),
                }
            })
            .collect()
    }

    /// Fails, naming the file, for a missing log that was never read: a wrong path, not
    /// a rotation in progress. `store` is `None` when there is no database yet; nothing
    /// is written either way.
    pub fn check_missing(inputs: &[Input], store: Option<&Store>) -> anyhow::Result<()> {
        for input in inputs {
            if let Input::Missing(path) = input {
                let known = match store {
                    Some(store) => store.source(path)?.is_some_and(|s| s.stream_id.is_some()),
                    None => false,
                };
                if !known {
                    bail!("cannot read log {}: no such file", path.display());
                }
                ui::note(format!(
                    "{} is missing: rotated, and not written to since; reading what was rotated",
                    path.display()
                ));
            }
        }
        Ok(())
    }

    /// Whether any input is a missing file.
    pub fn any_missing(inputs: &[Input]) -> bool {
        inputs.iter().any(|i| matches!(i, Input::Missing(_)))
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
pub fn ingest(
    store: &Store,
    run_id: i64,
    inputs: Vec<Input>,
    now: DateTime<Utc>,
    options: Options<'_>,
) -> anyhow::Result<Ingested> {
    let mut ingest = Ingest {
        store,
        writer: store.event_writer(run_id)?,
        counters: RunCounters::default(),
        now,
        progress: None,
        rejects: Rejects {
            marker: options.reject_marker,
        },
        trust: options.trust,
        zone: options.zone,
    };
    let mut plans = Vec::new();
    for input in inputs {
        match input {
            Input::File(current) => {
                let path = current.path.clone();
                plans.push(plan(store, path, Some(current), options.from_start)?);
            }
            Input::Missing(path) => plans.push(plan(store, path, None, options.from_start)?),
            Input::Stdin => plans.push(Plan::Stdin),
            Input::Journal(journal) => plans.push(Plan::Journal(journal)),
        }
    }
    if options.progress {
        let total: u64 = plans.iter().map(Plan::plain_bytes).sum();
        if total >= PROGRESS_MIN_BYTES {
            ingest.progress = Some(progress_bar(total));
        }
    }
    let mut failed = Vec::new();
    for plan in plans {
        let result = match plan {
            Plan::Stdin => ingest.read_stdin(),
            Plan::Journal(journal) => ingest.read_journal(&journal),
            Plan::File { path, tasks } => tasks.into_iter().try_for_each(|mut task| {
                ingest
                    .read_task(&path, &mut task)
                    .with_context(|| format!("reading {}", task.file.path.display()))
            }),
        };
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

/// What year-less stamps of a read are resolved against: the moment its lines were read.
#[derive(Debug, Clone, Copy)]
enum Reference {
    /// A file: its modification time when the run looked at it, which every line up to
    /// the size it had then was written before.
    Fixed(DateTime<Utc>),
    /// A stream read as it is written (stdin, the journal): `at` when the read started,
    /// moved on with the wall clock as lines arrive.
    Live { at: DateTime<Utc>, since: Instant },
}

impl Reference {
    /// Live from `at` on.
    fn live(at: DateTime<Utc>) -> Reference {
        Reference::Live {
            at,
            since: Instant::now(),
        }
    }

    /// The reference for a line read now.
    fn now(self) -> DateTime<Utc> {
        match self {
            Reference::Fixed(at) => at,
            Reference::Live { at, since } => {
                at + chrono::TimeDelta::from_std(since.elapsed()).unwrap_or_default()
            }
        }
    }
}

/// What to read for one configured path, in order.
enum Plan {
    File { path: PathBuf, tasks: Vec<Task> },
    Stdin,
    Journal(JournalConfig),
}

impl Plan {
    fn plain_bytes(&self) -> u64 {
        match self {
            Plan::File { tasks, .. } => tasks
                .iter()
                .filter(|t| !t.file.compressed)
                .map(|t| t.file.size.saturating_sub(t.start))
                .sum(),
            Plan::Stdin | Plan::Journal(_) => 0,
        }
    }
}

/// One file to read from `start` on.
struct Task {
    file: LogFile,
    stream: Option<Stream>,
    start: u64,
    /// Whether this is the file at the configured path (its source row is updated).
    is_current: bool,
}

/// Works out what to read for the file now at `current.path`.
/// Works out what to read for the configured `path`, where `current` is the file there
/// now (`None`: rotated away, not recreated yet).
fn plan(
    store: &Store,
    path: PathBuf,
    current: Option<LogFile>,
    from_start: bool,
) -> anyhow::Result<Plan> {
    let mut tasks = Vec::new();
    let current_fingerprint = current.as_ref().and_then(|c| c.fingerprint.clone());
    let previous = store.source(&path)?;
    let previous_fingerprint = match previous.as_ref().and_then(|p| p.stream_id) {
        Some(id) => store.stream_fingerprint(id)?,
        None => None,
    };
    if let (Some(previous), Some(previous_fp)) = (&previous, &previous_fingerprint)
        && !from_start
        && current_fingerprint.as_ref() != Some(previous_fp)
    {
        // The file we read last time is no longer at this path (renamed, compressed) or
        // was truncated (copytruncate): finish it first, wherever it went, then read
        // any file rotated after it that we never saw.
        let mut found = false;
        let mut later = Vec::new();
        for sibling in rotated_siblings(&path).unwrap_or_default() {
            let Ok(file) = LogFile::open(&sibling) else {
                ui::warn(format!("cannot read rotated log {}", sibling.display()));
                continue;
            };
            let Some(fp) = file.fingerprint.as_ref() else {
                continue;
            };
            if fp == previous_fp {
                if !found {
                    let stream = store.stream_by_fingerprint(fp)?;
                    let start = stream.as_ref().map_or(0, |s| s.read_offset);
                    ui::note(format!(
                        "{} was rotated to {}; reading its rest from byte {start}",
                        path.display(),
                        sibling.display()
                    ));
                    tasks.push(Task {
                        file,
                        stream,
                        start,
                        is_current: false,
                    });
                    found = true;
                }
            } else if Some(fp) != current_fingerprint.as_ref()
                && unix_seconds(file.modified) >= previous.mtime
            {
                later.push(file);
            }
        }
        if !found {
            ui::warn(format!(
                "{}: the file read last time is gone (not found among its rotated siblings); \
                 lines written to it after the last run were not read",
                path.display()
            ));
        }
        for file in later {
            let stream = match &file.fingerprint {
                Some(fp) => store.stream_by_fingerprint(fp)?,
                None => None,
            };
            let start = stream.as_ref().map_or(0, |s| s.read_offset);
            ui::note(format!(
                "{} was also rotated since the last run; reading it from byte {start}",
                file.path.display()
            ));
            tasks.push(Task {
                file,
                stream,
                start,
                is_current: false,
            });
        }
    }
    let Some(current) = current else {
        return Ok(Plan::File { path, tasks });
    };
    let stream = match &current.fingerprint {
        Some(fp) => store.stream_by_fingerprint(fp)?,
        None => None,
    };
    let mut start = if from_start {
        0
    } else {
        stream.as_ref().map_or(0, |s| s.read_offset)
    };
    if !current.compressed && start > current.size {
        // Truncated, yet it starts with the same line: read it all again.
        start = 0;
    }
    tasks.push(Task {
        file: current,
        stream,
        start,
        is_current: true,
    });
    Ok(Plan::File { path, tasks })
}

struct Ingest<'s, 'm> {
    store: &'s Store,
    writer: EventWriter<'s>,
    counters: RunCounters,
    now: DateTime<Utc>,
    progress: Option<ProgressBar>,
    /// Which reject lines are saslguard's blocks at work.
    rejects: Rejects<'m>,
    /// Which journal entries are Postfix's smtpd.
    trust: JournalTrust<'m>,
    /// The zone stamps without an offset are local time in.
    zone: &'m Zone,
}

impl Ingest<'_, '_> {
    fn read_task(&mut self, path: &Path, task: &mut Task) -> anyhow::Result<()> {
        // Now, holding the lock and about to read: what the file holds now is what is
        // read, and its modification time dates it.
        task.file.look()?;
        let task = &*task;
        let file = &task.file;
        let updated_at = self.now.timestamp();
        let source_state = move |offset: u64, stream_id: Option<i64>| SourceState {
            device: file.device,
            inode: file.inode,
            stream_id,
            offset,
            size: file.size,
            mtime: unix_seconds(file.modified),
            updated_at,
        };
        let Some(fingerprint) = &file.fingerprint else {
            // No complete first line yet: nothing to read until it has one.
            if task.is_current {
                self.store.save_source(path, &source_state(0, None))?;
            }
            return Ok(());
        };
        let stream = match &task.stream {
            Some(stream) => stream.clone(),
            None => self
                .store
                .stream_for(fingerprint, &file.path, self.now.timestamp())?,
        };
        let reference = Reference::Fixed(file.modified.into());
        ui::note(format!(
            "reading {} from byte {} (stream {})",
            file.path.display(),
            task.start,
            stream.id
        ));
        let reader = LineReader::new(file.reader_from(task.start)?, task.start);
        let stream_id = stream.id;
        let source = move |offset| {
            task.is_current
                .then(|| (path, source_state(offset, Some(stream_id))))
        };
        self.read_lines(reader, stream_id, reference, source)
    }

    fn read_stdin(&mut self) -> anyhow::Result<()> {
        let mut stdin = io::stdin();
        let mut head = Vec::with_capacity(FINGERPRINT_MAX);
        (&mut stdin)
            .take(FINGERPRINT_MAX as u64)
            .read_to_end(&mut head)
            .context("reading stdin")?;
        let Some(fingerprint) = first_line(&head[..])? else {
            return Ok(());
        };
        let stream = self
            .store
            .stream_for(&fingerprint, Path::new("-"), self.now.timestamp())?;
        let reader = LineReader::new(io::Cursor::new(head).chain(stdin), 0);
        self.read_lines(reader, stream.id, Reference::live(self.now), |_| None)
            .context("reading stdin")
    }

    /// Reads the journal after the stored cursor: `journalctl -o json` (no shell), its
    /// lines numbered on from the stream's offset so event ids stay unique, and the
    /// cursor of the last line read committed with each batch.
    fn read_journal(&mut self, journal: &JournalConfig) -> anyhow::Result<()> {
        let identity = format!(
            "journal -t {} -u {}\n",
            journal.identifiers.join(","),
            journal.units.join(",")
        );
        let stream = self.store.stream_for(
            identity.as_bytes(),
            Path::new("journal"),
            self.now.timestamp(),
        )?;
        let mut args: Vec<String> = ["-o", "json", "--no-pager", "--quiet"]
            .map(String::from)
            .to_vec();
        if let Some(cursor) = self.store.stream_cursor(stream.id)? {
            args.push(format!("--after-cursor={cursor}"));
        }
        for identifier in &journal.identifiers {
            args.extend(["-t".to_string(), identifier.clone()]);
        }
        for unit in &journal.units {
            args.extend(["-u".to_string(), unit.clone()]);
        }
        let mut child = std::process::Command::new(&journal.command)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot run {}", journal.command))?;
        let stderr = child.stderr.take();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = stderr {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        });
        let stdout = child.stdout.take().context("journalctl's output")?;
        let reader = LineReader::new(stdout, stream.read_offset);
        let read = self.read_lines(reader, stream.id, Reference::live(self.now), |_| None);
        let status = child.wait().context("waiting for journalctl")?;
        let stderr = stderr.join().unwrap_or_default();
        read.context("reading the journal")?;
        if !status.success() {
            bail!(
                "{} failed ({status}): {}",
                journal.command,
                stderr.trim().lines().take(3).collect::<Vec<_>>().join("; ")
            );
        }
        Ok(())
    }

    /// Parses every complete line of `reader` on a second thread while this one stores
    /// the events, committing in batches with the offset after the batch (and the source
    /// row from `source`).
    fn read_lines<'p>(
        &mut self,
        reader: LineReader<impl Read + Send>,
        stream_id: i64,
        reference: Reference,
        source: impl Fn(u64) -> Option<(&'p Path, SourceState)>,
    ) -> anyhow::Result<()> {
        let mut batch_events = 0u64;
        let mut batch_start = reader.consumed();
        let mut consumed = reader.consumed();
        let mut cursor: Option<String> = None;
        // Database ids of the parsing thread's local address and text numbers.
        let mut address_ids: Vec<i64> = Vec::new();
        let mut label_ids: Vec<i64> = Vec::new();
        std::thread::scope(|scope| {
            let (chunks, received) = mpsc::sync_channel(CHUNKS_IN_FLIGHT);
            let rejects = self.rejects;
            let trust = self.trust;
            let zone = self.zone;
            std::thread::Builder::new()
                .name("saslguard-parse".into())
                .spawn_scoped(scope, move || {
                    parse_chunks(reader, reference, (rejects, trust, zone), chunks)
                })
                .context("starting the parsing thread")?;
            for chunk in received {
                let chunk = chunk?;
                if chunk.restart_numbers {
                    address_ids.clear();
                    label_ids.clear();
                }
                for key in &chunk.new_addresses {
                    address_ids.push(self.writer.address_id(key)?);
                }
                for text in &chunk.new_labels {
                    label_ids.push(self.writer.label_id(text)?);
                }
                // Events new to the store are rolled up: all of them at once from the
                // parsing thread's counts, unless some were stored before.
                let row = |event: &ParsedEvent| {
                    let label = |n: u32| label_ids[n as usize];
                    EventRow {
                        address_id: address_ids[event.address as usize],
                        kind: event.kind.code(),
                        ts: event.time,
                        id: event_id(stream_id, event.offset),
                        mechanism_id: label(event.mechanism),
                        username_id: event.username.map(label),
                        service_id: label(event.service),
                    }
                };
                let mut rows: Vec<(usize, EventRow)> = Vec::with_capacity(chunk.events.len());
                for (index, event) in chunk.events.iter().enumerate() {
                    if event.offset > MAX_STREAM_OFFSET {
                        bail!("log stream longer than {MAX_STREAM_OFFSET} bytes");
                    }
                    rows.push((index, row(event)));
                }
                // In key order, so inserts for one address land in the same pages.
                rows.sort_unstable_by_key(|(_, r)| (r.address_id, r.kind, r.ts, r.id));
                let mut new = vec![false; chunk.events.len()];
                for (index, r) in &rows {
                    new[*index] = self.writer.insert(r)?;
                }
                if new.iter().all(|&new| new) {
                    self.writer.count_all(
                        chunk.rollups,
                        |n| address_ids[n as usize],
                        |n| usize::try_from(n).map_or(0, |n| label_ids[n]),
                    );
                } else {
                    for (event, _) in chunk.events.iter().zip(&new).filter(|(_, new)| **new) {
                        self.writer.count(&row(event));
                    }
                }
                self.counters.lines += chunk.lines;
                self.counters.unparsed += chunk.unparsed;
                self.counters.untrusted += chunk.untrusted;
                self.counters.bytes += chunk.consumed - consumed;
                if let Some(bar) = &self.progress {
                    bar.inc(chunk.consumed - consumed);
                }
                consumed = chunk.consumed;
                if chunk.cursor.is_some() {
                    cursor = chunk.cursor;
                }
                batch_events += chunk.events.len() as u64;
                if batch_events >= batch_events_limit() || consumed - batch_start >= BATCH_BYTES {
                    self.commit(stream_id, consumed, cursor.as_deref(), &source)?;
                    batch_events = 0;
                    batch_start = consumed;
                }
            }
            self.commit(stream_id, consumed, cursor.as_deref(), &source)
        })
    }

    fn commit<'p>(
        &mut self,
        stream_id: i64,
        consumed: u64,
        cursor: Option<&str>,
        source: impl Fn(u64) -> Option<(&'p Path, SourceState)>,
    ) -> anyhow::Result<()> {
        let mut progress = Progress {
            stream_id,
            stream_offset: consumed,
            source: source(consumed),
            cursor,
            counters: self.counters,
        };
        self.writer.commit(&mut progress)?;
        self.counters = progress.counters;
        Ok(())
    }
}

/// How many events a batch holds before it is committed: [`BATCH_EVENTS`], unless the
/// test setting [`BATCH_EVENTS_VARIABLE`] names a positive number.
fn batch_events_limit() -> u64 {
    static LIMIT: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| {
        std::env::var(BATCH_EVENTS_VARIABLE)
            .ok()
            .and_then(|value| value.trim().parse::<u64>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(BATCH_EVENTS)
    })
}

/// An event as the parsing thread hands it over: its address and texts replaced by
/// small numbers local to this read (see [`Chunk`]), so the storing thread, the busier
/// one, does no hashing and frees no strings.
struct ParsedEvent {
    offset: u64,
    time: i64,
    kind: EventKind,
    address: u32,
    mechanism: u32,
    username: Option<u32>,
    service: u32,
}

/// Parsed events of consecutive lines, handed from the parsing thread to the storing one.
struct Chunk {
    events: Vec<ParsedEvent>,
    /// Addresses and texts numbered for the first time in this chunk, in number order.
    new_addresses: Vec<address::Key>,
    new_labels: Vec<String>,
    /// The numbering started over before this chunk (it had grown too large).
    restart_numbers: bool,
    lines: u64,
    unparsed: u64,
    untrusted: u64,
    /// Stream offset after the last line of this chunk.
    consumed: u64,
    /// The journal cursor of the last line of this chunk that had one.
    cursor: Option<String>,
    /// The events rolled up under the chunk's own numbers (username -1: none), done
    /// here on the parsing thread so the storing thread, the slower one, need not.
    rollups: Rollups,
}

impl Chunk {
    fn starting_at(consumed: u64) -> Chunk {
        Chunk {
            events: Vec::with_capacity(CHUNK_EVENTS),
            new_addresses: Vec::new(),
            new_labels: Vec::new(),
            restart_numbers: false,
            lines: 0,
            unparsed: 0,
            untrusted: 0,
            consumed,
            cursor: None,
            rollups: Rollups::default(),
        }
    }
}

/// Events per chunk, and chunks queued between the threads: bounds memory.
const CHUNK_EVENTS: usize = 4096;
const CHUNK_BYTES: u64 = 4 << 20;
const CHUNKS_IN_FLIGHT: usize = 4;
/// Local numbering starts over past this many addresses or texts: bounds memory
/// whatever the number of distinct attackers and usernames.
const MAX_NUMBERED: usize = 100_000;

/// Numbers addresses and texts in the order first seen.
#[derive(Default)]
struct Numbering {
    addresses: HashMap<address::Key, u32>,
    labels: HashMap<String, u32>,
}

impl Numbering {
    fn address(&mut self, key: address::Key, chunk: &mut Chunk) -> u32 {
        let next = self.addresses.len() as u32;
        *self.addresses.entry(key).or_insert_with(|| {
            chunk.new_addresses.push(key);
            next
        })
    }

    fn label(&mut self, text: &str, chunk: &mut Chunk) -> u32 {
        if let Some(&n) = self.labels.get(text) {
            return n;
        }
        let n = self.labels.len() as u32;
        self.labels.insert(text.to_owned(), n);
        chunk.new_labels.push(text.to_owned());
        n
    }

    /// Starts over when too large; must happen only between chunks.
    fn restart_if_large(&mut self, chunk: &mut Chunk) {
        if self.addresses.len() > MAX_NUMBERED || self.labels.len() > MAX_NUMBERED {
            self.addresses.clear();
            self.labels.clear();
            chunk.restart_numbers = true;
        }
    }
}

/// The parsing thread: reads lines, parses them, sends chunks until the end of the
/// complete lines (or until the storing side hangs up).
fn parse_chunks(
    mut reader: LineReader<impl Read>,
    reference: Reference,
    (rejects, trust, zone): (Rejects<'_>, JournalTrust<'_>, &Zone),
    chunks: mpsc::SyncSender<io::Result<Chunk>>,
) {
    let mut current = reference.now();
    let mut parser = LineParser::new(current, zone.clone())
        .with_rejects(rejects)
        .with_trust(trust);
    let mut numbering = Numbering::default();
    let mut chunk = Chunk::starting_at(reader.consumed());
    loop {
        let chunk_start = chunk.consumed;
        match reader.next_line() {
            Err(e) => {
                let _ = chunks.send(Err(e));
                return;
            }
            Ok(None) => break,
            Ok(Some(Line::TooLong { .. })) => {
                chunk.lines += 1;
                chunk.unparsed += 1;
            }
            Ok(Some(Line::Complete { offset, bytes })) => {
                chunk.lines += 1;
                if let Reference::Live { .. } = reference {
                    // The moment this line was read (a stream may wait long for it).
                    let now = reference.now();
                    if now.timestamp() != current.timestamp() {
                        current = now;
                        parser.set_reference(now);
                    }
                }
                if bytes.first() == Some(&b'{')
                    && let Some(cursor) = journal_cursor(bytes)
                {
                    chunk.cursor = Some(cursor);
                }
                match parser.parse(bytes) {
                    Parsed::Event(event) => {
                        let copies = u64::from(event.copies);
                        let stored = copies.min(copy_room(bytes));
                        if stored < copies {
                            // Not silent: the line is counted as unparsed and named.
                            chunk.unparsed += 1;
                            ui::warn(format!(
                                "line at byte {offset}: repeated {copies} times, but only \
                                 {stored} copies can be stored (one per byte of the line); \
                                 counted as unparsed"
                            ));
                        }
                        let address = numbering.address(address::to_key(event.addr), &mut chunk);
                        let mechanism = numbering.label(&event.mechanism, &mut chunk);
                        let username = event
                            .username
                            .as_deref()
                            .map(|name| numbering.label(name, &mut chunk));
                        let service = numbering.label(&event.service, &mut chunk);
                        for copy in 0..stored {
                            let parsed = ParsedEvent {
                                offset: offset + copy,
                                time: event.time,
                                kind: event.kind,
                                address,
                                mechanism,
                                username,
                                service,
                            };
                            chunk.rollups.add(
                                i64::from(parsed.address),
                                parsed.kind.code(),
                                parsed.time,
                                [
                                    parsed.username.map_or(-1, i64::from),
                                    i64::from(parsed.mechanism),
                                    i64::from(parsed.service),
                                ],
                            );
                            chunk.events.push(parsed);
                        }
                    }
                    Parsed::Irrelevant => {}
                    Parsed::Unparsed(why) => {
                        chunk.unparsed += 1;
                        verbose_line(offset, &format!("unparsed: {why}"), bytes);
                    }
                    Parsed::Untrusted(why) => {
                        chunk.untrusted += 1;
                        verbose_line(offset, &format!("untrusted: {why}"), bytes);
                    }
                }
            }
        }
        if chunk.events.len() >= CHUNK_EVENTS || reader.consumed() - chunk_start >= CHUNK_BYTES {
            chunk.consumed = reader.consumed();
            let mut next = Chunk::starting_at(chunk.consumed);
            numbering.restart_if_large(&mut next);
            if chunks
                .send(Ok(std::mem::replace(&mut chunk, next)))
                .is_err()
            {
                return;
            }
        }
    }
    chunk.consumed = reader.consumed();
    let _ = chunks.send(Ok(chunk));
}

/// How many events one line can stand for (rsyslog's `message repeated N times`): each
/// copy's id is its line's offset plus its index, and only the offsets inside the line
/// (its bytes and its newline) belong to no other line, so a re-read stores each copy
/// once and no copy takes another line's id.
fn copy_room(line: &[u8]) -> u64 {
    line.len() as u64 + 1
}

/// With `-vv`: a line skipped, and why. The line is attacker-controlled: shown escaped
/// (see [`crate::sanitize`]) and cut to 200 bytes.
fn verbose_line(offset: u64, why: &str, bytes: &[u8]) {
    if ui::verbosity() >= 2 {
        ui::note(format!(
            "line at byte {offset} ({why}): {}",
            crate::sanitize::bytes_for_terminal(&bytes[..bytes.len().min(200)])
        ));
    }
}

/// The `__CURSOR` of a `journalctl -o json` line (cursors hold no quotes or escapes).
fn journal_cursor(line: &[u8]) -> Option<String> {
    const KEY: &[u8] = b"\"__CURSOR\":\"";
    let start = memchr::memmem::find(line, KEY)? + KEY.len();
    let len = memchr::memchr(b'"', &line[start..])?;
    std::str::from_utf8(&line[start..start + len])
        .ok()
        .map(str::to_string)
}

fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} ingest [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}
