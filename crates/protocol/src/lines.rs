//! Line framing for the JSON-lines protocol, with the length limit enforced while reading.
//!
//! Both the worker (reading stdin) and the supervisor (reading the worker's stdout) use
//! [`LineReader`], so an oversized line is refused the same way on both sides: it is
//! consumed up to its newline without being buffered, and reported.

use serde::Serialize;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::MAX_LINE_BYTES;

/// A line could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// The line was longer than the limit; it was skipped.
    #[error("line of {len} bytes exceeds the {limit}-byte limit")]
    TooLong {
        /// Bytes in the line, newline excluded (counted up to the end of the line).
        len: usize,
        /// The limit in force.
        limit: usize,
    },
    /// The line is not UTF-8.
    #[error("line is not UTF-8")]
    NotUtf8,
    /// The stream failed.
    #[error("read failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Serializes a message as one line, newline included.
pub fn encode_line<T: Serialize>(message: &T) -> Result<String, serde_json::Error> {
    let mut line = serde_json::to_string(message)?;
    line.push('\n');
    Ok(line)
}

/// Reads newline-terminated lines up to a length limit.
#[derive(Debug)]
pub struct LineReader<R> {
    inner: R,
    limit: usize,
    line: Vec<u8>,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    /// A reader with the protocol's [`MAX_LINE_BYTES`] limit.
    pub fn new(inner: R) -> Self {
        Self::with_limit(inner, MAX_LINE_BYTES)
    }

    /// A reader with another limit (tests).
    pub fn with_limit(inner: R, limit: usize) -> Self {
        Self {
            inner,
            limit,
            line: Vec::new(),
        }
    }

    /// The next line without its newline; `Ok(None)` at the end of the stream. A final
    /// line without a newline is returned as a line.
    pub async fn next_line(&mut self) -> Result<Option<String>, LineError> {
        self.line.clear();
        let mut len = 0usize;
        loop {
            let available = self.inner.fill_buf().await?;
            if available.is_empty() {
                if len == 0 {
                    return Ok(None);
                }
                break;
            }
            let (chunk, done) = match available.iter().position(|b| *b == b'\n') {
                Some(at) => (&available[..at], Some(at + 1)),
                None => (available, None),
            };
            len += chunk.len();
            if len <= self.limit {
                self.line.extend_from_slice(chunk);
            }
            let consumed = done.unwrap_or(available.len());
            self.inner.consume(consumed);
            if done.is_some() {
                break;
            }
        }
        if len > self.limit {
            return Err(LineError::TooLong {
                len,
                limit: self.limit,
            });
        }
        if self.line.last() == Some(&b'\r') {
            self.line.pop();
        }
        String::from_utf8(std::mem::take(&mut self.line))
            .map(Some)
            .map_err(|_| LineError::NotUtf8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_lines_and_skips_oversized_ones_whole() {
        let input: &[u8] = b"{\"a\":1}\nxxxxxxxxxxxxxxxxxxxx\n\xff\n{\"b\":2}\nlast";
        let mut reader = LineReader::with_limit(input, 10);
        assert_eq!(
            reader.next_line().await.unwrap().as_deref(),
            Some("{\"a\":1}")
        );
        assert!(matches!(
            reader.next_line().await,
            Err(LineError::TooLong { len: 20, limit: 10 })
        ));
        assert!(matches!(reader.next_line().await, Err(LineError::NotUtf8)));
        assert_eq!(
            reader.next_line().await.unwrap().as_deref(),
            Some("{\"b\":2}"),
            "the reader recovers"
        );
        assert_eq!(reader.next_line().await.unwrap().as_deref(), Some("last"));
        assert!(reader.next_line().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_line_split_across_reads_is_joined() {
        let (client, server) = tokio::io::duplex(4);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let mut client = client;
            client.write_all(b"hello wor").await.unwrap();
            client.write_all(b"ld\n").await.unwrap();
        });
        let mut reader = LineReader::new(tokio::io::BufReader::new(server));
        assert_eq!(
            reader.next_line().await.unwrap().as_deref(),
            Some("hello world")
        );
        writer.await.unwrap();
    }
}
