//! Length-prefixed framing, the one layer every TWS API message passes through.
//!
//! Every message in both directions is a 4-byte big-endian length followed by that many
//! body bytes; only the client's opening `API\0` has no prefix. Real clients cap a body at
//! [`MAX_FRAME_LEN`], so a longer announced length can only be garbage and closes the
//! connection instead of making the simulator allocate it.

use tokio::io::{AsyncRead, AsyncReadExt};

/// The largest body the clients accept (`0x00FF_FFFF`, as in ibapi and rust-ibapi).
pub const MAX_FRAME_LEN: usize = 0x00FF_FFFF;

/// What a frame's buffer starts with before its bytes arrive.
const INITIAL_BODY_CAPACITY: usize = 4096;

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The length prefix announces more than [`MAX_FRAME_LEN`] bytes.
    #[error("frame of {len} bytes exceeds the {max_len}-byte limit")]
    Oversized {
        /// The announced body length.
        len: usize,
        /// The limit it broke.
        max_len: usize,
    },
    /// The length prefix is printable text: the peer speaks another protocol (an HTTP
    /// server answers `HTTP/1.1 …`), so the port is not a TWS API port.
    #[error("the peer speaks another protocol, not the TWS API (it sent {text:?})")]
    ForeignProtocol {
        /// The first bytes, as text.
        text: String,
    },
    /// A zero-length frame: no client ever sends one.
    #[error("empty frame")]
    Empty,
    /// The peer closed the stream in the middle of a frame.
    #[error("stream ended inside a frame ({got} of {expected} bytes)")]
    Truncated {
        /// Bytes the frame announced (prefix included).
        expected: usize,
        /// Bytes that arrived before the end of the stream.
        got: usize,
    },
    /// The socket failed.
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
}

/// Prefixes `body` with its big-endian length.
pub fn encode_frame(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Splits the first complete frame off `buf`.
///
/// Returns `Ok(None)` when more bytes are needed, or the body and the number of bytes the
/// frame used. A pure function, so it is what the unit tests and the fuzz target exercise.
pub fn split_frame(buf: &[u8]) -> Result<Option<(&[u8], usize)>, FrameError> {
    let Some(prefix) = buf.first_chunk::<4>() else {
        return Ok(None);
    };
    let len = check_prefix(*prefix, MAX_FRAME_LEN)?;
    let end = 4 + len;
    if buf.len() < end {
        return Ok(None);
    }
    Ok(Some((&buf[4..end], end)))
}

/// The body length a prefix announces, if a TWS peer could have sent it. A legal length
/// starts with a zero byte, so four printable ASCII bytes are another protocol talking.
fn check_prefix(prefix: [u8; 4], max_len: usize) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(prefix) as usize;
    match len {
        0 => Err(FrameError::Empty),
        len if len > max_len => {
            if prefix.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
                Err(FrameError::ForeignProtocol {
                    text: String::from_utf8_lossy(&prefix).into_owned(),
                })
            } else {
                Err(FrameError::Oversized { len, max_len })
            }
        }
        len => Ok(len),
    }
}

/// Reads one frame body. `Ok(None)` means the peer closed the stream between frames.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
) -> Result<Option<Vec<u8>>, FrameError> {
    read_frame_max(reader, MAX_FRAME_LEN).await
}

/// Reads one frame body of at most `max_len` bytes (a gateway caps requests far below what
/// clients accept for replies).
pub async fn read_frame_max<R: AsyncRead + Unpin>(
    reader: &mut R,
    max_len: usize,
) -> Result<Option<Vec<u8>>, FrameError> {
    let mut prefix = [0u8; 4];
    let got = read_full(reader, &mut prefix).await?;
    if got == 0 {
        return Ok(None);
    }
    if got < 4 {
        return Err(FrameError::Truncated { expected: 4, got });
    }
    let len = check_prefix(prefix, max_len)?;
    // The buffer grows with what arrives, never to what the prefix merely announces: a peer
    // that declares 16 MiB and sends four bytes costs four bytes.
    let mut body = Vec::with_capacity(len.min(INITIAL_BODY_CAPACITY));
    let got = (&mut *reader)
        .take(len as u64)
        .read_to_end(&mut body)
        .await?;
    if got < len {
        return Err(FrameError::Truncated {
            expected: 4 + len,
            got: 4 + got,
        });
    }
    Ok(Some(body))
}

/// Fills `buf` unless the stream ends first; returns how many bytes arrived.
pub async fn read_full<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]).await? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_frame_splits_back_to_its_body() {
        let frame = encode_frame(b"49\x001\x00");
        assert_eq!(&frame[..4], &[0, 0, 0, 5]);
        let (body, used) = split_frame(&frame).unwrap().unwrap();
        assert_eq!(body, b"49\x001\x00");
        assert_eq!(used, frame.len());
    }

    #[test]
    fn incomplete_prefix_or_body_asks_for_more() {
        let frame = encode_frame(b"hello");
        for cut in 0..frame.len() {
            assert!(
                split_frame(&frame[..cut]).unwrap().is_none(),
                "cut at {cut} must wait for more bytes"
            );
        }
    }

    #[test]
    fn oversized_length_is_refused_before_allocating() {
        let buf = [0x01, 0x00, 0x00, 0x00, b'x'];
        assert!(matches!(
            split_frame(&buf),
            Err(FrameError::Oversized {
                len: 0x0100_0000,
                ..
            })
        ));
        let max = (MAX_FRAME_LEN as u32).to_be_bytes();
        assert!(
            split_frame(&max).unwrap().is_none(),
            "the limit itself is allowed"
        );
    }

    #[test]
    fn a_text_protocol_is_named_instead_of_a_huge_length() {
        assert!(matches!(
            split_frame(b"HTTP/1.1 400 Bad Request\r\n"),
            Err(FrameError::ForeignProtocol { text }) if text == "HTTP"
        ));
        let error = split_frame(b"SSH-2.0").unwrap_err().to_string();
        assert!(error.contains("not the TWS API"), "{error}");
    }

    #[test]
    fn empty_frame_is_malformed() {
        assert!(matches!(split_frame(&[0, 0, 0, 0]), Err(FrameError::Empty)));
    }

    #[tokio::test]
    async fn reader_reports_clean_end_truncation_and_oversize() {
        let mut clean: &[u8] = &[];
        assert!(read_frame(&mut clean).await.unwrap().is_none());

        let mut two_frames: Vec<u8> = encode_frame(b"a\0");
        two_frames.extend(encode_frame(b"bc\0"));
        let mut reader = two_frames.as_slice();
        assert_eq!(read_frame(&mut reader).await.unwrap().unwrap(), b"a\0");
        assert_eq!(read_frame(&mut reader).await.unwrap().unwrap(), b"bc\0");
        assert!(read_frame(&mut reader).await.unwrap().is_none());

        let mut short_prefix: &[u8] = &[0, 0];
        assert!(matches!(
            read_frame(&mut short_prefix).await,
            Err(FrameError::Truncated {
                expected: 4,
                got: 2
            })
        ));

        let mut short_body: &[u8] = &[0, 0, 0, 10, b'x'];
        assert!(matches!(
            read_frame(&mut short_body).await,
            Err(FrameError::Truncated {
                expected: 14,
                got: 5
            })
        ));

        let mut huge: &[u8] = &[0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            read_frame(&mut huge).await,
            Err(FrameError::Oversized { .. })
        ));
    }
}
