//! The ingest pipeline: source -> parse -> store.
//!
//! For each configured path it works out what to read (the unread tail of a rotated
//! predecessor, files rotated in between, then the current file from its stored
//! offset), parses every complete line and commits events in batches together with the
//! offset after them. A crash at any moment therefore loses nothing and, since an
//! event's id is its position in its stream, repeats nothing.

use std::io::{self, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use chrono::{DateTime, Local, Utc};
use indicatif::{ProgressBar, ProgressStyle};

use crate::parse::{LineParser, Parsed};
use crate::source::reader::{Line, LineReader};
use crate::source::rotation::rotated_siblings;
use crate::source::{FINGERPRINT_MAX, LogFile, first_line};
use crate::store::{
    EventWriter, MAX_STREAM_OFFSET, Progress, RunCounters, SourceState, Store, Stream,
};
use crate::ui;

/// Commit at least this often (events), so a crash costs little re-reading.
const BATCH_EVENTS: u64 = 100_000;
/// ... and at least this often (bytes read).
const BATCH_BYTES: u64 = 64 << 20;
/// Progress bars only for reads at least this large.
const PROGRESS_MIN_BYTES: u64 = 32 << 20;

/// What to read: a log file opened before the run touches the store, or stdin.
#[derive(Debug)]
pub enum Input {
    /// A configured or named log file, already open.
    File(LogFile),
    /// Standard input (`-`): read to its end; its reference time is now.
    Stdin,
}

impl Input {
    /// Opens every path first, so an unreadable log is reported (naming it) before the
    /// database is touched.
    pub fn open_all(paths: &[PathBuf]) -> anyhow::Result<Vec<Input>> {
        paths
            .iter()
            .map(|path| {
                if path.as_os_str() == "-" {
                    Ok(Input::Stdin)
                } else {
                    LogFile::open(path)
                        .map(Input::File)
                        .with_context(|| format!("cannot read log {}", path.display()))
                }
            })
            .collect()
    }
}

/// How to ingest.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Read named files from byte 0 again (events already stored stay single).
    pub from_start: bool,
    /// Draw a progress bar on stderr for long reads.
    pub progress: bool,
}

impl Options {
    /// A progress bar when stderr is a terminal and output is not quiet.
    pub fn progress_if_terminal() -> bool {
        io::stderr().is_terminal() && ui::verbosity() >= 0
    }
}

/// Reads `inputs` into the store as part of run `run_id`; returns what was done.
pub fn ingest(
    store: &Store,
    run_id: i64,
    inputs: Vec<Input>,
    now: DateTime<Utc>,
    options: Options,
) -> anyhow::Result<RunCounters> {
    let mut ingest = Ingest {
        store,
        writer: store.event_writer(run_id)?,
        counters: RunCounters::default(),
        now,
        progress: None,
    };
    let mut plans = Vec::new();
    for input in inputs {
        match input {
            Input::File(current) => plans.push(plan(store, current, options.from_start)?),
            Input::Stdin => plans.push(Plan::Stdin),
        }
    }
    if options.progress {
        let total: u64 = plans.iter().map(Plan::plain_bytes).sum();
        if total >= PROGRESS_MIN_BYTES {
            ingest.progress = Some(progress_bar(total));
        }
    }
    for plan in plans {
        match plan {
            Plan::Stdin => ingest.read_stdin()?,
            Plan::File { path, tasks } => {
                for task in tasks {
                    ingest
                        .read_task(&path, &task)
                        .with_context(|| format!("reading {}", task.file.path.display()))?;
                }
            }
        }
    }
    if let Some(bar) = ingest.progress.take() {
        bar.finish_and_clear();
    }
    Ok(ingest.counters)
}

/// What to read for one configured path, in order.
enum Plan {
    File { path: PathBuf, tasks: Vec<Task> },
    Stdin,
}

impl Plan {
    fn plain_bytes(&self) -> u64 {
        match self {
            Plan::File { tasks, .. } => tasks
                .iter()
                .filter(|t| !t.file.compressed)
                .map(|t| t.file.size.saturating_sub(t.start))
                .sum(),
            Plan::Stdin => 0,
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
fn plan(store: &Store, current: LogFile, from_start: bool) -> anyhow::Result<Plan> {
    let path = current.path.clone();
    let mut tasks = Vec::new();
    let previous = store.source(&path)?;
    let previous_fingerprint = match previous.as_ref().and_then(|p| p.stream_id) {
        Some(id) => store.stream_fingerprint(id)?,
        None => None,
    };
    if let (Some(previous), Some(previous_fp)) = (&previous, &previous_fingerprint)
        && !from_start
        && current.fingerprint.as_ref() != Some(previous_fp)
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
            } else if Some(fp) != current.fingerprint.as_ref()
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

struct Ingest<'s> {
    store: &'s Store,
    writer: EventWriter<'s>,
    counters: RunCounters,
    now: DateTime<Utc>,
    progress: Option<ProgressBar>,
}

impl Ingest<'_> {
    fn read_task(&mut self, path: &Path, task: &Task) -> anyhow::Result<()> {
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
        let reference: DateTime<Utc> = file.modified.into();
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
        let mut stdin = io::stdin().lock();
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
        self.read_lines(reader, stream.id, self.now, |_| None)
            .context("reading stdin")
    }

    /// Parses and stores every complete line of `reader`, committing in batches with
    /// the offset after the batch (and the source row from `source`).
    fn read_lines<'p>(
        &mut self,
        mut reader: LineReader<impl Read>,
        stream_id: i64,
        reference: DateTime<Utc>,
        source: impl Fn(u64) -> Option<(&'p Path, SourceState)>,
    ) -> anyhow::Result<()> {
        let mut parser = LineParser::new(reference, Local);
        let mut batch_events = 0u64;
        let mut batch_start = reader.consumed();
        let mut shown = reader.consumed();
        let counters = &mut self.counters;
        while let Some(line) = reader.next_line()? {
            counters.lines += 1;
            match line {
                Line::TooLong { .. } => counters.unparsed += 1,
                Line::Complete { offset, bytes } => match parser.parse(bytes) {
                    Parsed::Event(event) => {
                        if offset > MAX_STREAM_OFFSET {
                            bail!("log stream longer than {MAX_STREAM_OFFSET} bytes");
                        }
                        if self.writer.insert(stream_id, offset, &event)? {
                            counters.events += 1;
                        } else {
                            counters.duplicates += 1;
                        }
                        batch_events += 1;
                    }
                    Parsed::Irrelevant => {}
                    Parsed::Unparsed(why) => {
                        counters.unparsed += 1;
                        if ui::verbosity() >= 2 {
                            ui::note(format!(
                                "unparsed line at byte {offset} ({why}): {}",
                                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
                            ));
                        }
                    }
                },
            }
            let consumed = reader.consumed();
            if batch_events >= BATCH_EVENTS || consumed - batch_start >= BATCH_BYTES {
                counters.bytes += consumed - batch_start;
                self.writer.commit(&Progress {
                    stream_id,
                    stream_offset: consumed,
                    source: source(consumed),
                    counters: *counters,
                })?;
                batch_events = 0;
                batch_start = consumed;
                if let Some(bar) = &self.progress {
                    bar.inc(consumed - shown);
                    shown = consumed;
                }
            }
        }
        let consumed = reader.consumed();
        counters.bytes += consumed - batch_start;
        self.writer.commit(&Progress {
            stream_id,
            stream_offset: consumed,
            source: source(consumed),
            counters: *counters,
        })?;
        if let Some(bar) = &self.progress {
            bar.inc(consumed - shown);
        }
        Ok(())
    }
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
