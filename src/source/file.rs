//! A log file as a [`Source`]: opened before the run touches the store (anything but a
//! regular file is refused, without blocking on a FIFO), identified by its first line
//! (plain or gzip content alike), read from the stored offset; and the rotation plan:
//! when the file read last time is no longer at its path, the rest of it, wherever it
//! was rotated to, and any file rotated after it, are read first.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use flate2::read::MultiGzDecoder;

use super::rotation::rotated_siblings;
use super::{Records, Reference, Source, first_line};
use crate::store::{SourceState, Stream, StreamStore};
use crate::ui;

/// A log file opened for reading, with what identifies it.
#[derive(Debug)]
pub struct LogFile {
    pub path: PathBuf,
    file: File,
    /// gzip content (detected by its magic bytes, not its name).
    pub compressed: bool,
    pub device: u64,
    pub inode: u64,
    /// Size on disk (compressed size for gzip) when the run last looked at the file (see
    /// [`LogFile::look`]): nothing after it is read, so a file growing while it is read
    /// (or a device posing as one) cannot keep the run going.
    pub size: u64,
    /// Modification time when the run last looked at the file: every line up to `size`
    /// was written by then, so it is the reference for year-less timestamps.
    pub modified: SystemTime,
    /// The first line, newline included, at most [`FINGERPRINT_MAX`](super::FINGERPRINT_MAX) bytes; `None` until
    /// the file holds a complete first line (or that many bytes).
    pub fingerprint: Option<Vec<u8>>,
}

impl LogFile {
    /// Opens `path` and reads what identifies it. The handle stays open, so a rename
    /// after this point does not change what is read. Anything but a regular file (after
    /// following symlinks) is refused before it is opened, so a FIFO cannot block the
    /// open and a device cannot be read forever; the open itself does not block either
    /// (`O_NONBLOCK`), in case the path is swapped for a FIFO in between.
    pub fn open(path: &Path) -> io::Result<LogFile> {
        require_regular(&std::fs::metadata(path)?)?;
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(NONBLOCK)
            .open(path)?;
        let meta = file.metadata()?;
        require_regular(&meta)?;
        let mut magic = [0u8; 2];
        let compressed = file.read_at(&mut magic, 0)? == 2 && magic == [0x1f, 0x8b];
        let mut log = LogFile {
            path: path.to_path_buf(),
            file,
            compressed,
            device: meta.dev(),
            inode: meta.ino(),
            size: meta.len(),
            modified: meta.modified()?,
            fingerprint: None,
        };
        let fingerprint = first_line(log.reader_from(0)?)?;
        log.fingerprint = fingerprint;
        Ok(log)
    }

    /// Looks at the open file again (after the run got the database lock, right before
    /// reading it): its size and modification time now bound what is read and date its
    /// year-less stamps.
    pub fn look(&mut self) -> io::Result<()> {
        let meta = self.file.metadata()?;
        self.size = meta.len();
        self.modified = meta.modified()?;
        Ok(())
    }

    /// A reader of the (decompressed) content from byte `offset` on, up to the size the
    /// file had when the run last looked at it. It reads through its own handle on the
    /// same open file (a duplicate descriptor), so it can go to another thread while this
    /// `LogFile` still describes the file.
    pub fn reader_from(&self, offset: u64) -> io::Result<Box<dyn Read + Send>> {
        let mut file = self.file.try_clone()?;
        file.seek(SeekFrom::Start(0))?;
        let file = file.take(self.size);
        if self.compressed {
            let mut decoder = MultiGzDecoder::new(io::BufReader::with_capacity(1 << 16, file));
            let skipped = io::copy(&mut (&mut decoder).take(offset), &mut io::sink())?;
            if skipped < offset {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("compressed content ends at byte {skipped}, before offset {offset}"),
                ));
            }
            Ok(Box::new(decoder))
        } else {
            let mut file = file.into_inner();
            file.seek(SeekFrom::Start(offset))?;
            Ok(Box::new(file.take(self.size.saturating_sub(offset))))
        }
    }
}

/// `O_NONBLOCK` (Linux value): an open that cannot hang on a FIFO. It changes nothing for
/// reading a regular file.
const NONBLOCK: i32 = 0o4000;

/// An error unless `meta` is a regular file, naming what it is instead.
fn require_regular(meta: &std::fs::Metadata) -> io::Result<()> {
    let kind = meta.file_type();
    let what = if kind.is_file() {
        return Ok(());
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else {
        "not a file"
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("is {what}, not a regular log file"),
    ))
}

/// One file to read from a start offset on: the file at a configured path, or a file it
/// was rotated into.
pub struct FileSource {
    /// The configured path this read belongs to.
    path: PathBuf,
    file: LogFile,
    /// The stream of the file's fingerprint, when the store knew it at planning time.
    stream: Option<Stream>,
    start: u64,
    /// Whether this is the file at the configured path (its source row is updated).
    is_current: bool,
    /// When the read started (unix seconds), recorded in the source row.
    updated_at: i64,
}

impl FileSource {
    fn new(
        path: &Path,
        file: LogFile,
        stream: Option<Stream>,
        start: u64,
        is_current: bool,
    ) -> Self {
        FileSource {
            path: path.to_path_buf(),
            file,
            stream,
            start,
            is_current,
            updated_at: 0,
        }
    }

    fn context(&self) -> String {
        format!("reading {}", self.file.path.display())
    }
}

impl Source for FileSource {
    fn name(&self) -> String {
        self.file.path.display().to_string()
    }

    fn size_hint(&self) -> u64 {
        if self.file.compressed {
            0
        } else {
            self.file.size.saturating_sub(self.start)
        }
    }

    fn identity(
        &mut self,
        store: &dyn StreamStore,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<Stream>> {
        self.updated_at = now.timestamp();
        // Now, holding the lock and about to read: what the file holds now is what is
        // read, and its modification time dates it.
        self.file.look().with_context(|| self.context())?;
        let Some(fingerprint) = &self.file.fingerprint else {
            // No complete first line yet: nothing to read until it has one.
            return Ok(None);
        };
        let stream = match self.stream.take() {
            Some(stream) => stream,
            None => store
                .stream_for(fingerprint, &self.file.path, self.updated_at)
                .with_context(|| self.context())?,
        };
        ui::note(format!(
            "reading {} from byte {} (stream {})",
            self.file.path.display(),
            self.start,
            stream.id
        ));
        Ok(Some(stream))
    }

    fn resume_at(&self, _stream: &Stream) -> u64 {
        self.start
    }

    fn open(&mut self, start: u64) -> anyhow::Result<Records> {
        Ok(Records {
            bytes: self
                .file
                .reader_from(start)
                .with_context(|| self.context())?,
            reference: Reference::Fixed(self.file.modified.into()),
            line_checkpoint: None,
        })
    }

    fn checkpoint(&self, stream_id: Option<i64>, offset: u64) -> Option<(&Path, SourceState)> {
        self.is_current.then(|| {
            let state = SourceState {
                device: self.file.device,
                inode: self.file.inode,
                stream_id,
                offset,
                size: self.file.size,
                mtime: unix_seconds(self.file.modified),
                updated_at: self.updated_at,
            };
            (self.path.as_path(), state)
        })
    }
}

/// Opens the log at `path` for a later read: `None` when there is no file there now.
pub fn open(path: &Path) -> anyhow::Result<Option<LogFile>> {
    match LogFile::open(path) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read log {}", path.display())),
    }
}

/// Fails, naming the file, when the log at `path` (which does not exist right now) was
/// never read: a wrong path, not a rotation in progress. `store` is `None` when there is
/// no database yet; nothing is written either way.
pub fn check_missing(path: &Path, store: Option<&dyn StreamStore>) -> anyhow::Result<()> {
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
    Ok(())
}

/// What to read for the configured `path`, in order, where `current` is the file there
/// now (`None`: rotated away, not recreated yet): what is left of the file read last
/// time and the files rotated after it, then the current file from its stored offset
/// (from byte 0 with `from_start`).
pub fn plan(
    store: &dyn StreamStore,
    path: &Path,
    current: Option<LogFile>,
    from_start: bool,
) -> anyhow::Result<Vec<FileSource>> {
    let current_fingerprint = current.as_ref().and_then(|c| c.fingerprint.clone());
    let previous = store.source(path)?;
    let previous_fingerprint = match previous.as_ref().and_then(|p| p.stream_id) {
        Some(id) => store.stream_fingerprint(id)?,
        None => None,
    };
    let mut reads = Vec::new();
    if let (Some(previous), Some(previous_fp)) = (&previous, &previous_fingerprint)
        && !from_start
        && current_fingerprint.as_ref() != Some(previous_fp)
    {
        // The file we read last time is no longer at this path (renamed, compressed) or
        // was truncated (copytruncate): finish it first, wherever it went, then read
        // any file rotated after it that we never saw.
        let rotated = Rotated {
            path,
            previous_fp,
            previous_mtime: previous.mtime,
            current_fp: current_fingerprint.as_ref(),
        };
        reads = rotated.plan(store)?;
    }
    if let Some(current) = current {
        reads.push(current_read(store, path, current, from_start)?);
    }
    Ok(reads)
}

/// The read of the file now at the configured path.
fn current_read(
    store: &dyn StreamStore,
    path: &Path,
    current: LogFile,
    from_start: bool,
) -> anyhow::Result<FileSource> {
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
    Ok(FileSource::new(path, current, stream, start, true))
}

/// A configured path whose file changed since the last run.
struct Rotated<'a> {
    path: &'a Path,
    /// The fingerprint and modification time of the file read there last time.
    previous_fp: &'a [u8],
    previous_mtime: i64,
    /// The fingerprint of the file there now, if any.
    current_fp: Option<&'a Vec<u8>>,
}

impl Rotated<'_> {
    /// The rest of the file read last time, then the files rotated after it, oldest
    /// first, each from its stored offset.
    fn plan(&self, store: &dyn StreamStore) -> anyhow::Result<Vec<FileSource>> {
        let mut reads = Vec::new();
        let mut found = false;
        let mut later = Vec::new();
        for sibling in rotated_siblings(self.path).unwrap_or_default() {
            let Ok(file) = LogFile::open(&sibling) else {
                ui::warn(format!("cannot read rotated log {}", sibling.display()));
                continue;
            };
            let Some(fp) = file.fingerprint.as_ref() else {
                continue;
            };
            if fp == self.previous_fp {
                if !found {
                    let (stream, start) = stored(store, fp)?;
                    ui::note(format!(
                        "{} was rotated to {}; reading its rest from byte {start}",
                        self.path.display(),
                        sibling.display()
                    ));
                    reads.push(FileSource::new(self.path, file, stream, start, false));
                    found = true;
                }
            } else if Some(fp) != self.current_fp
                && unix_seconds(file.modified) >= self.previous_mtime
            {
                later.push(file);
            }
        }
        if !found {
            ui::warn(format!(
                "{}: the file read last time is gone (not found among its rotated siblings); \
                 lines written to it after the last run were not read",
                self.path.display()
            ));
        }
        for file in later {
            let (stream, start) = match &file.fingerprint {
                Some(fp) => stored(store, fp)?,
                None => (None, 0),
            };
            ui::note(format!(
                "{} was also rotated since the last run; reading it from byte {start}",
                file.path.display()
            ));
            reads.push(FileSource::new(self.path, file, stream, start, false));
        }
        Ok(reads)
    }
}

/// The stream of `fingerprint` and its stored offset (0 for a stream never seen).
fn stored(store: &dyn StreamStore, fingerprint: &[u8]) -> anyhow::Result<(Option<Stream>, u64)> {
    let stream = store.stream_by_fingerprint(fingerprint)?;
    let start = stream.as_ref().map_or(0, |s| s.read_offset);
    Ok((stream, start))
}

fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn anything_but_a_regular_file_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let cases = [
            (fifo, "is a FIFO, not a regular log file"),
            (zero, "is a character device, not a regular log file"),
            (
                dir.path().to_path_buf(),
                "is a directory, not a regular log file",
            ),
        ];
        for (path, want) in cases {
            let err = LogFile::open(&path).unwrap_err();
            assert_eq!(err.to_string(), want, "{}", path.display());
        }
    }

    #[test]
    fn reading_stops_at_the_size_seen_when_the_run_looked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("maillog");
        std::fs::write(&path, "one\ntwo\n").unwrap();
        let mut log = LogFile::open(&path).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"three\n")
            .unwrap();
        let mut text = String::new();
        log.reader_from(4)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "two\n", "appended after the look: not read");
        log.look().unwrap();
        let mut text = String::new();
        log.reader_from(4)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "two\nthree\n");
    }

    #[test]
    fn gzip_content_is_read_decompressed_from_an_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("maillog.2.gz");
        let mut gz =
            flate2::write::GzEncoder::new(File::create(&path).unwrap(), Default::default());
        gz.write_all(b"first line\nsecond line\n").unwrap();
        gz.finish().unwrap();
        let log = LogFile::open(&path).unwrap();
        assert!(log.compressed);
        assert_eq!(log.fingerprint, Some(b"first line\n".to_vec()));
        let mut rest = String::new();
        log.reader_from(11)
            .unwrap()
            .read_to_string(&mut rest)
            .unwrap();
        assert_eq!(rest, "second line\n");
    }
}
