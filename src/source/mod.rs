//! Where to read: opening log files (plain or gzip), identifying them by device, inode
//! and first-line fingerprint, finding rotated siblings, and reading complete lines from
//! a byte offset. Knows nothing of Postfix.

pub mod reader;
pub mod rotation;

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use flate2::read::MultiGzDecoder;

/// How many bytes of the first line identify a stream.
pub const FINGERPRINT_MAX: usize = 1024;

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
    /// The first line, newline included, at most [`FINGERPRINT_MAX`] bytes; `None` until
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
    /// file had when the run last looked at it.
    pub fn reader_from(&self, offset: u64) -> io::Result<Box<dyn Read + Send + '_>> {
        let mut file = &self.file;
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
    use std::io::Write;

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
