//! The two threads of a read: the parsing thread turns a [`Source`]'s lines into
//! chunks of events (addresses and texts numbered locally, rolled up), the storing
//! thread, the busier one, resolves them to database ids, stores them and commits in
//! batches together with the offset after them and the source's checkpoint.

use rustc_hash::FxHashMap;
use std::io::{self, Read};
use std::net::IpAddr;
use std::sync::mpsc;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use indicatif::ProgressBar;

use crate::clock::Zone;
use crate::parse::{Event, EventKind, JournalTrust, LineParser, Parsed, Rejects};
use crate::source::reader::{Line, LineReader};
use crate::source::{LineCheckpoint, Reference, Source};
use crate::store::rollup::Rollups;
use crate::store::{
    EventRow, EventSink, EventStore, MAX_STREAM_OFFSET, Progress, RunCounters, event_id,
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

/// The storing side of an ingest: the run's event writer and counters, kept across its
/// sources.
pub struct Ingest<'s, 'm, S: EventStore + 's> {
    pub store: &'s S,
    pub writer: S::Sink<'s>,
    pub counters: RunCounters,
    pub now: DateTime<Utc>,
    pub progress: Option<ProgressBar>,
    /// Which reject lines are saslguard's blocks at work.
    pub rejects: Rejects<'m>,
    /// Which journal entries are Postfix's smtpd.
    pub trust: JournalTrust<'m>,
    /// The zone stamps without an offset are local time in.
    pub zone: &'m Zone,
}

/// What the parsing thread needs of a read besides its bytes.
struct ReadSetup<'m> {
    reference: Reference,
    line_checkpoint: Option<LineCheckpoint>,
    rejects: Rejects<'m>,
    trust: JournalTrust<'m>,
    zone: &'m Zone,
}

impl<'s, S: EventStore> Ingest<'s, '_, S> {
    /// Reads `source` from its resume point to the end of its complete lines. A read
    /// that fails leaves its unfinished batch for the caller to roll back; the source is
    /// finished (its subprocess waited for) either way.
    pub fn read(&mut self, source: &mut dyn Source) -> anyhow::Result<()> {
        let Some(stream) = source.identity(self.store, self.now)? else {
            if let Some((path, state)) = source.checkpoint(None, 0) {
                self.store
                    .save_source(path, &state)
                    .with_context(|| format!("reading {}", source.name()))?;
            }
            return Ok(());
        };
        let start = source.resume_at(&stream);
        let read = source.open(start).and_then(|records| {
            let setup = ReadSetup {
                reference: records.reference,
                line_checkpoint: records.line_checkpoint,
                rejects: self.rejects,
                trust: self.trust,
                zone: self.zone,
            };
            let reader = LineReader::new(records.bytes, start);
            self.read_lines(reader, stream.id, setup, &*source)
                .with_context(|| format!("reading {}", source.name()))
        });
        let finished = source.finish();
        read.and(finished)
    }

    /// Parses every complete line of `reader` on a second thread while this one stores
    /// the events, committing in batches with the offset after the batch and the
    /// source's checkpoint.
    fn read_lines(
        &mut self,
        reader: LineReader<Box<dyn Read + Send>>,
        stream_id: i64,
        setup: ReadSetup<'_>,
        source: &dyn Source,
    ) -> anyhow::Result<()> {
        let mut batch = Batch {
            stream_id,
            events: 0,
            start: reader.consumed(),
            consumed: reader.consumed(),
            checkpoint: None,
        };
        let mut ids = Ids::default();
        std::thread::scope(|scope| {
            let (chunks, received) = mpsc::sync_channel(CHUNKS_IN_FLIGHT);
            std::thread::Builder::new()
                .name("saslguard-parse".into())
                .spawn_scoped(scope, move || parse_chunks(reader, setup, chunks))
                .context("starting the parsing thread")?;
            for chunk in received {
                let mut chunk = chunk?;
                self.store_chunk(&mut chunk, stream_id, &mut ids)?;
                self.tally(&mut chunk, &mut batch);
                if batch.events >= batch_events_limit()
                    || batch.consumed - batch.start >= BATCH_BYTES
                {
                    self.commit(&mut batch, source)?;
                }
            }
            self.commit(&mut batch, source)
        })
    }

    /// Stores the events of `chunk` (not committed yet) and rolls up those new to the
    /// store.
    fn store_chunk(
        &mut self,
        chunk: &mut Chunk,
        stream_id: i64,
        ids: &mut Ids,
    ) -> anyhow::Result<()> {
        if chunk.restart_numbers {
            ids.addresses.clear();
            ids.labels.clear();
        }
        for &addr in &chunk.new_addresses {
            ids.addresses.push(self.writer.address_id(addr)?);
        }
        for text in &chunk.new_labels {
            ids.labels.push(self.writer.label_id(text)?);
        }
        let (address_ids, label_ids) = (&ids.addresses, &ids.labels);
        let row = |event: &ParsedEvent| {
            let label = |n: u32| label_ids[n as usize];
            EventRow {
                address_id: address_ids[event.address as usize],
                kind: event.kind,
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
        // Events new to the store are rolled up: all of them at once from the parsing
        // thread's counts, unless some were stored before.
        if new.iter().all(|&new| new) {
            self.writer.count_all(
                std::mem::take(&mut chunk.rollups),
                |n| address_ids[n as usize],
                |n| usize::try_from(n).map_or(0, |n| label_ids[n]),
            );
        } else {
            for (event, _) in chunk.events.iter().zip(&new).filter(|(_, new)| **new) {
                self.writer.count(&row(event));
            }
        }
        Ok(())
    }

    /// Counts the lines and bytes of `chunk` into the run and the batch.
    fn tally(&mut self, chunk: &mut Chunk, batch: &mut Batch) {
        self.counters.lines += chunk.lines;
        self.counters.unparsed += chunk.unparsed;
        self.counters.untrusted += chunk.untrusted;
        self.counters.bytes += chunk.consumed - batch.consumed;
        if let Some(bar) = &self.progress {
            bar.inc(chunk.consumed - batch.consumed);
        }
        batch.consumed = chunk.consumed;
        if chunk.checkpoint.is_some() {
            batch.checkpoint = chunk.checkpoint.take();
        }
        batch.events += chunk.events.len() as u64;
    }

    /// Commits the events stored so far with the offset after them and the source's
    /// checkpoint there; starts the next batch.
    fn commit(&mut self, batch: &mut Batch, source: &dyn Source) -> anyhow::Result<()> {
        let mut progress = Progress {
            stream_id: batch.stream_id,
            stream_offset: batch.consumed,
            source: source.checkpoint(Some(batch.stream_id), batch.consumed),
            cursor: batch.checkpoint.as_deref(),
            counters: self.counters,
        };
        self.writer.commit(&mut progress)?;
        self.counters = progress.counters;
        batch.events = 0;
        batch.start = batch.consumed;
        Ok(())
    }
}

/// The events stored since the last commit of a read.
struct Batch {
    stream_id: i64,
    /// Events stored since the last commit.
    events: u64,
    /// Stream offsets: at the last commit, and after the last chunk stored.
    start: u64,
    consumed: u64,
    /// The source's last per-line checkpoint (the journal's cursor), if any.
    checkpoint: Option<String>,
}

/// Database ids of the parsing thread's local address and text numbers.
#[derive(Default)]
struct Ids {
    addresses: Vec<i64>,
    labels: Vec<i64>,
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
    new_addresses: Vec<IpAddr>,
    new_labels: Vec<String>,
    /// The numbering started over before this chunk (it had grown too large).
    restart_numbers: bool,
    lines: u64,
    unparsed: u64,
    untrusted: u64,
    /// Stream offset after the last line of this chunk.
    consumed: u64,
    /// The source's checkpoint of the last line of this chunk that had one (see
    /// [`crate::source::Records::line_checkpoint`]).
    checkpoint: Option<String>,
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
            checkpoint: None,
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
    addresses: FxHashMap<IpAddr, u32>,
    labels: FxHashMap<String, u32>,
}

impl Numbering {
    fn address(&mut self, addr: IpAddr, chunk: &mut Chunk) -> u32 {
        let next = self.addresses.len() as u32;
        *self.addresses.entry(addr).or_insert_with(|| {
            chunk.new_addresses.push(addr);
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

    /// Adds the event of the line at `offset` to `chunk`: once per copy the line stands
    /// for (`message repeated N times`), as many as the line has offsets for.
    fn add_event(&mut self, event: &Event<'_>, offset: u64, line: &[u8], chunk: &mut Chunk) {
        let copies = u64::from(event.copies);
        let stored = copies.min(copy_room(line));
        if stored < copies {
            // Not silent: the line is counted as unparsed and named.
            chunk.unparsed += 1;
            ui::warn(format!(
                "line at byte {offset}: repeated {copies} times, but only \
                 {stored} copies can be stored (one per byte of the line); \
                 counted as unparsed"
            ));
        }
        let address = self.address(event.addr.to_canonical(), chunk);
        let mechanism = self.label(&event.mechanism, chunk);
        let username = event
            .username
            .as_deref()
            .map(|name| self.label(name, chunk));
        let service = self.label(&event.service, chunk);
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
                parsed.kind,
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
    setup: ReadSetup<'_>,
    chunks: mpsc::SyncSender<io::Result<Chunk>>,
) {
    let reference = setup.reference;
    let mut current = reference.now();
    let mut parser = LineParser::new(current, setup.zone.clone())
        .with_rejects(setup.rejects)
        .with_trust(setup.trust);
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
                if let Some(checkpoint) = setup.line_checkpoint
                    && let Some(mark) = checkpoint(bytes)
                {
                    chunk.checkpoint = Some(mark);
                }
                match parser.parse(bytes) {
                    Parsed::Event(event) => {
                        numbering.add_event(&event, offset, bytes, &mut chunk);
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
