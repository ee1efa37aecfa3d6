//! The opening exchange: `API\0`, the client's `v<min>..<max>` hello, and the server's reply.
//!
//! The version is chosen per connection, as TWS does: 213 (all protobuf) for a client whose
//! range reaches it, otherwise the highest classic-text version both sides speak. Versions
//! 201–212 mix the encodings per message family; they are chosen only when the simulator is
//! explicitly capped there (`--max-version 207`), to play such a gateway.

use crate::{CLASSIC_MAX_VERSION, DecodeError, PROTOBUF_VERSION, text::TextBody};

/// The four bytes every client sends first, without a length prefix.
pub const API_PREFIX: [u8; 4] = *b"API\0";

/// The oldest server version the simulator will speak (ibapi's `MIN_CLIENT_VER`).
pub const MIN_SUPPORTED_VERSION: i32 = 100;

/// What the client offered in its hello frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// Lowest server version the client accepts.
    pub min_version: i32,
    /// Highest server version the client speaks.
    pub max_version: i32,
    /// Connect options after the range (such as `+PACEAPI`); accepted and ignored.
    pub options: String,
}

/// Parses `v<min>..<max>[ <options>]`; a missing `..max` means the client speaks only `min`.
pub fn parse_hello(body: &[u8]) -> Result<ClientHello, DecodeError> {
    let text = std::str::from_utf8(body).map_err(|_| DecodeError::NotUtf8)?;
    let bad = || DecodeError::BadHello(text.chars().take(64).collect());
    let (range, options) = text.split_once(' ').unwrap_or((text, ""));
    let range = range.strip_prefix('v').ok_or_else(bad)?;
    let (min, max) = range.split_once("..").unwrap_or((range, range));
    let min_version: i32 = min.parse().map_err(|_| bad())?;
    let max_version: i32 = max.parse().map_err(|_| bad())?;
    if min_version > max_version {
        return Err(bad());
    }
    Ok(ClientHello {
        min_version,
        max_version,
        options: options.to_owned(),
    })
}

/// Chooses the server version for a client, or `None` when no version serves both sides.
///
/// `server_max` is the simulator's cap (`--max-version`); a cap inside 201–212 plays a
/// mixed-encoding gateway for clients that reach it.
pub fn negotiate(hello: &ClientHello, server_max: i32) -> Option<i32> {
    let mixed_cap = server_max > CLASSIC_MAX_VERSION && server_max < PROTOBUF_VERSION;
    let chosen = if hello.max_version >= PROTOBUF_VERSION && server_max >= PROTOBUF_VERSION {
        PROTOBUF_VERSION
    } else if mixed_cap && hello.max_version >= server_max {
        server_max
    } else {
        hello.max_version.min(server_max).min(CLASSIC_MAX_VERSION)
    };
    (chosen >= hello.min_version && chosen >= MIN_SUPPORTED_VERSION).then_some(chosen)
}

/// The server's reply body: exactly two text fields and no message id, at every version.
pub fn reply_body(version: i32, connection_time: &str) -> Vec<u8> {
    let mut body = TextBody::default();
    body.field(version).field(connection_time);
    body.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(min: i32, max: i32) -> ClientHello {
        ClientHello {
            min_version: min,
            max_version: max,
            options: String::new(),
        }
    }

    #[test]
    fn parses_every_real_clients_hello() {
        assert_eq!(parse_hello(b"v100..226").unwrap(), hello(100, 226));
        assert_eq!(parse_hello(b"v213..226").unwrap(), hello(213, 226));
        let with_options = parse_hello(b"v157..178 +PACEAPI").unwrap();
        assert_eq!(
            (with_options.min_version, with_options.max_version),
            (157, 178)
        );
        assert_eq!(with_options.options, "+PACEAPI");
        assert_eq!(
            parse_hello(b"v176").unwrap(),
            hello(176, 176),
            "missing ..max is tolerated"
        );
    }

    #[test]
    fn refuses_garbage_hellos() {
        for bad in [
            &b"100..200"[..],
            b"v..",
            b"vabc..200",
            b"v200..100",
            b"\xff",
        ] {
            assert!(parse_hello(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn negotiates_per_client_like_tws() {
        assert_eq!(
            negotiate(&hello(213, 226), 213),
            Some(213),
            "rust-ibapi 5.x gets protobuf"
        );
        assert_eq!(
            negotiate(&hello(100, 226), 213),
            Some(213),
            "ibapi-stable gets protobuf"
        );
        assert_eq!(
            negotiate(&hello(157, 178), 213),
            Some(178),
            "ib_async stays on text"
        );
        assert_eq!(
            negotiate(&hello(100, 226), 178),
            Some(178),
            "--max-version 178 forces text"
        );
        assert_eq!(negotiate(&hello(100, 226), 200), Some(200));
        assert_eq!(
            negotiate(&hello(100, 226), 207),
            Some(207),
            "a cap inside 201-212 plays a mixed-encoding gateway"
        );
        assert_eq!(
            negotiate(&hello(157, 178), 207),
            Some(178),
            "a text-only client still gets text from it"
        );
        assert_eq!(
            negotiate(&hello(100, 205), 213),
            Some(200),
            "a client topping out at 205 gets text"
        );
        assert_eq!(
            negotiate(&hello(213, 226), 200),
            None,
            "a protobuf-only client cannot be served by a text cap"
        );
        assert_eq!(negotiate(&hello(214, 226), 213), None);
        assert_eq!(
            negotiate(&hello(1, 50), 213),
            None,
            "too old for the simulator"
        );
    }

    #[test]
    fn reply_is_two_text_fields() {
        assert_eq!(
            reply_body(178, "20260115 10:22:52 EST"),
            b"178\x0020260115 10:22:52 EST\x00"
        );
    }
}
