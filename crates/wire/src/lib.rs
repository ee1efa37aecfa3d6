//! The TWS API wire protocol, as far as a connection monitor uses it, in both directions:
//! the simulator decodes requests and encodes responses, the worker's classic-text client
//! does the opposite, and both share one definition of every layout.
//!
//! Layers, bottom up: [`frame`] (length prefixes), [`handshake`] (`API\0` and version
//! negotiation), [`text`] and [`proto`] (the two body encodings), then [`request`] and
//! [`response`], which know each message's fields for every server version. Nothing here does
//! I/O beyond reading a frame, so all of it is unit-tested and fuzzed without sockets.

pub mod contract;
pub mod frame;
pub mod handshake;
pub mod proto;
pub mod request;
pub mod response;
pub mod text;

/// From this server version on, message ids are 4-byte binary and protobuf is possible.
pub const BINARY_IDS_FROM: i32 = 201;
/// The version at which every message of the subset is protobuf (rust-ibapi's floor).
pub const PROTOBUF_VERSION: i32 = 213;
/// The highest classic-text version the simulator negotiates.
pub const CLASSIC_MAX_VERSION: i32 = 200;
/// Protobuf message ids are the canonical id plus this offset.
pub const PROTOBUF_ID_OFFSET: u32 = 200;

/// Why a frame body could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// A text body whose last field has no terminating NUL.
    #[error("text field not terminated by NUL")]
    UnterminatedField,
    /// A text field that is not UTF-8.
    #[error("text field is not valid UTF-8")]
    NotUtf8,
    /// A field the message needs is missing.
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    /// A numeric field that does not parse.
    #[error("field `{0}` is not a valid number")]
    BadNumber(&'static str),
    /// A binary-id body shorter than its 4-byte id.
    #[error("body shorter than its 4-byte message id")]
    ShortBinaryId,
    /// A protobuf payload that does not decode.
    #[error("protobuf payload does not decode: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// A message id outside the monitoring subset.
    #[error("message id {0} is not part of the subset")]
    UnknownMessage(u32),
    /// A security type code IB does not use.
    #[error("unknown security type {0:?}")]
    UnknownSecType(String),
    /// The client's hello is not `v<min>..<max>`.
    #[error("bad version hello: {0:?}")]
    BadHello(String),
}

/// A request body split into its message id and payload, before the fields are read.
#[derive(Debug, PartialEq)]
pub enum Body<'a> {
    /// Classic text fields after the id (either encoding's id form).
    Text {
        /// The canonical message id.
        msg_id: u32,
        /// Fields after the id.
        fields: Vec<&'a str>,
    },
    /// A protobuf payload; `msg_id` is already the canonical id (wire id − 200).
    Proto {
        /// The canonical message id.
        msg_id: u32,
        /// The encoded protobuf message.
        bytes: &'a [u8],
    },
}

impl Body<'_> {
    /// The canonical message id, whatever the encoding.
    pub fn msg_id(&self) -> u32 {
        match self {
            Body::Text { msg_id, .. } | Body::Proto { msg_id, .. } => *msg_id,
        }
    }
}

/// Splits a body by the negotiated server version: ASCII ids below 201, binary ids from 201,
/// and protobuf for binary ids above 200.
pub fn split_body(body: &[u8], version: i32) -> Result<Body<'_>, DecodeError> {
    if version < BINARY_IDS_FROM {
        let mut fields = text::split_fields(body)?;
        let id_text = fields
            .first()
            .copied()
            .ok_or(DecodeError::MissingField("msgId"))?;
        let msg_id = id_text
            .parse()
            .map_err(|_| DecodeError::BadNumber("msgId"))?;
        fields.remove(0);
        return Ok(Body::Text { msg_id, fields });
    }
    let (id, rest) = body
        .split_first_chunk::<4>()
        .ok_or(DecodeError::ShortBinaryId)?;
    let wire_id = u32::from_be_bytes(*id);
    if wire_id > PROTOBUF_ID_OFFSET {
        Ok(Body::Proto {
            msg_id: wire_id - PROTOBUF_ID_OFFSET,
            bytes: rest,
        })
    } else {
        // A message with no fields after its binary id is just the id.
        let fields = if rest.is_empty() {
            Vec::new()
        } else {
            text::split_fields(rest)?
        };
        Ok(Body::Text {
            msg_id: wire_id,
            fields,
        })
    }
}

/// Runs every decoder that reads untrusted bytes: the hello parser, the frame splitter, and
/// the request (server side) and response (client side) decoders at each encoding. The fuzz target calls this;
/// none of it may panic, whatever the input.
#[doc(hidden)]
pub fn decode_untrusted(data: &[u8]) {
    let _ = handshake::parse_hello(data);
    let mut rest = data;
    while let Ok(Some((body, used))) = frame::split_frame(rest) {
        for version in [178, CLASSIC_MAX_VERSION, PROTOBUF_VERSION] {
            if let Ok(body) = split_body(body, version) {
                let _ = request::decode(&body);
            }
            let _ = response::Response::decode(body, version);
        }
        rest = &rest[used..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoders_survive_mutated_frames() {
        use rand::{RngExt, SeedableRng};
        let seeds: Vec<Vec<u8>> = vec![
            frame::encode_frame(b"62\x001\x009\x00All\x00NetLiquidation\x00"),
            frame::encode_frame(b"\0\0\x01\x06\x08\x01\x12\x03DU1"),
            frame::encode_frame(b"\0\0\x01\x0f\x08\x07"),
            frame::encode_frame(b"v100..226 +PACEAPI"),
        ];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
        for round in 0..20_000 {
            let mut input = seeds[round % seeds.len()].clone();
            for _ in 0..rng.random_range(1..4) {
                let at = rng.random_range(0..input.len());
                match rng.random_range(0..3) {
                    0 => input[at] = rng.random(),
                    1 => input.truncate(at),
                    _ => input.insert(at, rng.random()),
                }
                if input.is_empty() {
                    input.push(0);
                }
            }
            decode_untrusted(&input);
        }
    }

    #[test]
    fn bodies_split_by_negotiated_version() {
        assert_eq!(
            split_body(b"49\x001\x00", 178).unwrap(),
            Body::Text {
                msg_id: 49,
                fields: vec!["1"]
            }
        );
        assert_eq!(
            split_body(b"\0\0\0\x311\0", 213).unwrap(),
            Body::Text {
                msg_id: 49,
                fields: vec!["1"]
            }
        );
        assert_eq!(
            split_body(b"\0\0\0\xf9", 213).unwrap(),
            Body::Proto {
                msg_id: 49,
                bytes: b""
            }
        );
    }

    #[test]
    fn short_or_garbled_bodies_are_errors() {
        assert!(matches!(
            split_body(b"\0\0", 213),
            Err(DecodeError::ShortBinaryId)
        ));
        assert!(matches!(
            split_body(b"x\0", 178),
            Err(DecodeError::BadNumber("msgId"))
        ));
        assert!(matches!(
            split_body(b"\0", 178),
            Err(DecodeError::BadNumber("msgId"))
        ));
    }
}
