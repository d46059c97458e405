//! Newline-delimited JSON framing with a bound on line length.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// One frame read from a line stream.
#[derive(Debug, PartialEq)]
pub enum Frame {
    /// A complete line (without the newline).
    Line(Vec<u8>),
    /// A line longer than the limit; it was read and discarded.
    TooLong(usize),
    /// The stream ended.
    Eof,
}

/// Reads newline-delimited frames, refusing (but consuming) lines over `max_len` bytes so
/// that one oversized message cannot exhaust memory or end the session.
#[derive(Debug)]
pub struct LineReader<R> {
    inner: R,
    max_len: usize,
    buf: Vec<u8>,
    /// Bytes of an oversized line discarded so far.
    skipped: usize,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    /// Wraps a buffered reader.
    pub fn new(inner: R, max_len: usize) -> Self {
        Self { inner, max_len, buf: Vec::new(), skipped: 0 }
    }

    /// The next frame. Cancel-safe: a partly read line is kept for the next call.
    pub async fn next(&mut self) -> std::io::Result<Frame> {
        loop {
            let available = self.inner.fill_buf().await?;
            if available.is_empty() {
                if self.skipped > 0 {
                    return Ok(Frame::TooLong(std::mem::take(&mut self.skipped)));
                }
                if self.buf.is_empty() {
                    return Ok(Frame::Eof);
                }
                return Ok(Frame::Line(std::mem::take(&mut self.buf)));
            }
            let (chunk, found) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..i], Some(i + 1)),
                None => (available, None),
            };
            if self.skipped > 0 || self.buf.len() + chunk.len() > self.max_len {
                self.skipped += self.buf.len() + chunk.len();
                self.buf.clear();
            } else {
                self.buf.extend_from_slice(chunk);
            }
            let consumed = found.unwrap_or(available.len());
            self.inner.consume(consumed);
            if found.is_some() {
                if self.skipped > 0 {
                    return Ok(Frame::TooLong(std::mem::take(&mut self.skipped)));
                }
                if self.buf.last() == Some(&b'\r') {
                    self.buf.pop();
                }
                if self.buf.iter().all(u8::is_ascii_whitespace) {
                    // Blank lines carry no message; skip them.
                    self.buf.clear();
                    continue;
                }
                return Ok(Frame::Line(std::mem::take(&mut self.buf)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_are_split_and_oversized_ones_skipped() {
        let data = b"{\"a\":1}\n\n"
            .to_vec()
            .into_iter()
            .chain(vec![b'x'; 100])
            .chain(b"\n{\"b\":2}\r\ntail".iter().copied())
            .collect::<Vec<u8>>();
        let mut r = LineReader::new(tokio::io::BufReader::with_capacity(16, &data[..]), 50);
        assert_eq!(r.next().await.expect("io"), Frame::Line(b"{\"a\":1}".to_vec()));
        assert_eq!(r.next().await.expect("io"), Frame::TooLong(100));
        assert_eq!(r.next().await.expect("io"), Frame::Line(b"{\"b\":2}".to_vec()));
        assert_eq!(r.next().await.expect("io"), Frame::Line(b"tail".to_vec()));
        assert_eq!(r.next().await.expect("io"), Frame::Eof);
    }
}
