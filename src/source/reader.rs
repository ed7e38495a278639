//! Reading complete lines with their byte offsets, in bounded memory.
//!
//! A line without its newline yet (the writer is mid-line) is never returned: the next
//! run reads it whole. A line longer than [`MAX_LINE`] is reported as too long and its
//! bytes are skipped without being held in memory.

use std::io::{self, Read};

/// Lines longer than this are skipped (and counted as unparsed). Postfix lines are at
/// most a few KiB; journal JSON lines a few more.
pub const MAX_LINE: usize = 64 * 1024;

const BUFFER_SIZE: usize = 1 << 20;

/// One line handed out by [`LineReader`].
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// A complete line without its newline, starting at `offset` in the stream.
    Complete { offset: u64, bytes: &'a [u8] },
    /// A complete line longer than [`MAX_LINE`]; its bytes were skipped.
    TooLong { offset: u64 },
}

/// Splits a byte stream into complete lines, tracking the stream offset of each.
pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Stream offset of `buf[start]`.
    offset: u64,
    /// Stream offset just past the last complete line handed out.
    consumed: u64,
    /// Inside a line longer than `MAX_LINE`, whose bytes are being dropped.
    skipping: bool,
    eof: bool,
}

impl<R: Read> LineReader<R> {
    /// A reader whose first byte is at stream offset `offset`.
    pub fn new(inner: R, offset: u64) -> Self {
        LineReader {
            inner,
            buf: vec![0; BUFFER_SIZE],
            start: 0,
            end: 0,
            offset,
            consumed: offset,
            skipping: false,
            eof: false,
        }
    }

    /// The stream offset just past the last complete line handed out: where the next
    /// run must resume.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// The next complete line, or `None` at the end of the complete lines.
    pub fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        loop {
            let pending = &self.buf[self.start..self.end];
            if let Some(newline) = memchr::memchr(b'\n', pending) {
                let line_start = self.consumed;
                let line_offset = self.offset;
                let from = self.start;
                self.start += newline + 1;
                self.offset += newline as u64 + 1;
                self.consumed = self.offset;
                if self.skipping || newline > MAX_LINE {
                    self.skipping = false;
                    return Ok(Some(Line::TooLong { offset: line_start }));
                }
                return Ok(Some(Line::Complete {
                    offset: line_offset,
                    bytes: &self.buf[from..from + newline],
                }));
            }
            if self.skipping || pending.len() > MAX_LINE {
                // Drop what we hold of an overlong line; `consumed` keeps its start.
                self.skipping = true;
                self.offset += pending.len() as u64;
                self.start = self.end;
            }
            if self.eof {
                return Ok(None);
            }
            self.fill()?;
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Lines = Vec<(u64, Vec<u8>)>;

    /// Complete lines, offsets of too-long lines, and the final consumed offset.
    fn collect(input: &[u8], start: u64) -> (Lines, Vec<u64>, u64) {
        let mut reader = LineReader::new(input, start);
        let mut lines = Vec::new();
        let mut too_long = Vec::new();
        while let Some(line) = reader.next_line().unwrap() {
            match line {
                Line::Complete { offset, bytes } => lines.push((offset, bytes.to_vec())),
                Line::TooLong { offset } => too_long.push(offset),
            }
        }
        (lines, too_long, reader.consumed())
    }

    #[test]
    fn lines_carry_their_stream_offsets() {
        let (lines, _, consumed) = collect(b"ab\ncde\n\nf\n", 100);
        assert_eq!(
            lines,
            vec![
                (100, b"ab".to_vec()),
                (103, b"cde".to_vec()),
                (107, b"".to_vec()),
                (108, b"f".to_vec())
            ]
        );
        assert_eq!(consumed, 110);
    }

    #[test]
    fn a_partial_last_line_is_left_for_the_next_run() {
        let (lines, _, consumed) = collect(b"done\nhalf a li", 0);
        assert_eq!(lines, vec![(0, b"done".to_vec())]);
        assert_eq!(consumed, 5);
    }

    #[test]
    fn an_overlong_line_is_skipped_in_bounded_memory() {
        let mut input = b"short\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 3 * BUFFER_SIZE + 17));
        input.extend(b"\nafter\n");
        let (lines, too_long, consumed) = collect(&input, 0);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].1, b"after");
        assert_eq!(lines[1].0, input.len() as u64 - 6);
        assert_eq!(too_long, vec![6]);
        assert_eq!(consumed, input.len() as u64);
    }

    #[test]
    fn an_unfinished_overlong_line_is_not_consumed() {
        let mut input = b"short\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 2 * BUFFER_SIZE));
        let (lines, too_long, consumed) = collect(&input, 0);
        assert_eq!(lines.len(), 1);
        assert!(too_long.is_empty());
        assert_eq!(consumed, 6);
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_kept() {
        let mut input = vec![b'y'; MAX_LINE];
        input.push(b'\n');
        let (lines, too_long, _) = collect(&input, 0);
        assert_eq!(lines.len(), 1);
        assert!(too_long.is_empty());
    }
}
