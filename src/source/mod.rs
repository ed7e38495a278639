//! Where to read: opening log files (plain or gzip), identifying them by device, inode
//! and first-line fingerprint, finding rotated siblings, and reading complete lines from
//! a byte offset. Knows nothing of Postfix.

pub mod reader;
pub mod rotation;

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt};
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
    /// Size on disk (compressed size for gzip).
    pub size: u64,
    /// Modification time: the reference for year-less timestamps.
    pub modified: SystemTime,
    /// The first line, newline included, at most [`FINGERPRINT_MAX`] bytes; `None` until
    /// the file holds a complete first line (or that many bytes).
    pub fingerprint: Option<Vec<u8>>,
}

impl LogFile {
    /// Opens `path` and reads what identifies it. The handle stays open, so a rename
    /// after this point does not change what is read.
    pub fn open(path: &Path) -> io::Result<LogFile> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "is a directory, not a log file",
            ));
        }
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

    /// A reader of the (decompressed) content from byte `offset` on.
    pub fn reader_from(&self, offset: u64) -> io::Result<Box<dyn Read + Send + '_>> {
        let mut file = &self.file;
        file.seek(SeekFrom::Start(0))?;
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
            file.seek(SeekFrom::Start(offset))?;
            Ok(Box::new(file))
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
