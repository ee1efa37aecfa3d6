//! Classic text encoding: NUL-terminated ASCII fields.
//!
//! Below server version 201 a body is `"<msgId>\0<f1>\0…"`; from 201 on, text messages keep
//! the same fields after a 4-byte binary id. This module only knows about fields; which
//! fields a message has lives in [`super::request`] and [`super::response`].

use crate::DecodeError;

/// Builds a text body field by field.
#[derive(Debug, Default)]
pub struct TextBody(Vec<u8>);

impl TextBody {
    /// A body that starts with the 4-byte binary message id (server version 201 and up).
    pub fn with_binary_id(msg_id: u32) -> Self {
        Self(msg_id.to_be_bytes().to_vec())
    }

    /// A body that starts with the ASCII message id field (server version below 201).
    pub fn with_text_id(msg_id: u32) -> Self {
        let mut body = Self::default();
        body.field(msg_id);
        body
    }

    /// Appends one field and its terminating NUL.
    pub fn field(&mut self, value: impl std::fmt::Display) -> &mut Self {
        use std::io::Write;
        write!(self.0, "{value}").expect("writing to a Vec cannot fail");
        self.0.push(0);
        self
    }

    /// Appends a double the way IB's clients print one: integral values keep one decimal.
    pub fn double(&mut self, value: f64) -> &mut Self {
        self.field(format_double(value))
    }

    /// The finished body.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

/// Formats a double as the gateway does (`150.0`, `0.25`), never in exponent form.
pub fn format_double(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.1}")
    } else {
        format!("{value}")
    }
}

/// Splits a text body into its fields. Every field, the last included, must end with NUL.
pub fn split_fields(body: &[u8]) -> Result<Vec<&str>, DecodeError> {
    let Some(without_last_nul) = body.strip_suffix(&[0]) else {
        return Err(DecodeError::UnterminatedField);
    };
    without_last_nul
        .split(|b| *b == 0)
        .map(|field| std::str::from_utf8(field).map_err(|_| DecodeError::NotUtf8))
        .collect()
}

/// Reads fields in order, with typed accessors that name what they expected.
#[derive(Debug)]
pub struct FieldReader<'a> {
    fields: std::vec::IntoIter<&'a str>,
}

impl<'a> FieldReader<'a> {
    /// A reader over already split fields.
    pub fn new(fields: Vec<&'a str>) -> Self {
        Self {
            fields: fields.into_iter(),
        }
    }

    /// The next field as text.
    pub fn string(&mut self, name: &'static str) -> Result<&'a str, DecodeError> {
        self.fields.next().ok_or(DecodeError::MissingField(name))
    }

    /// The next field as an int; an empty field is IB's "unset" and reads as `None`.
    pub fn int(&mut self, name: &'static str) -> Result<Option<i64>, DecodeError> {
        match self.string(name)? {
            "" => Ok(None),
            text => text
                .parse()
                .map(Some)
                .map_err(|_| DecodeError::BadNumber(name)),
        }
    }

    /// The next field as an int that must be present and fit an `i32`.
    pub fn required_i32(&mut self, name: &'static str) -> Result<i32, DecodeError> {
        let value = self.int(name)?.ok_or(DecodeError::MissingField(name))?;
        i32::try_from(value).map_err(|_| DecodeError::BadNumber(name))
    }

    /// The next field as a double; empty reads as 0, as IB's clients do.
    pub fn double(&mut self, name: &'static str) -> Result<f64, DecodeError> {
        match self.string(name)? {
            "" => Ok(0.0),
            text => text.parse().map_err(|_| DecodeError::BadNumber(name)),
        }
    }

    /// Skips the per-message version field.
    pub fn skip_version(&mut self) -> Result<(), DecodeError> {
        self.string("version").map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_body_round_trips_through_split_fields() {
        let mut body = TextBody::with_text_id(62);
        body.field(1)
            .field(1_500_000_000)
            .field("All")
            .field("NetLiquidation,$LEDGER:ALL");
        let bytes = body.into_bytes();
        assert_eq!(
            bytes,
            b"62\x001\x001500000000\x00All\x00NetLiquidation,$LEDGER:ALL\x00"
        );
        let fields = split_fields(&bytes).unwrap();
        let mut reader = FieldReader::new(fields);
        assert_eq!(reader.required_i32("msgId").unwrap(), 62);
        reader.skip_version().unwrap();
        assert_eq!(reader.required_i32("reqId").unwrap(), 1_500_000_000);
        assert_eq!(reader.string("group").unwrap(), "All");
        assert_eq!(reader.string("tags").unwrap(), "NetLiquidation,$LEDGER:ALL");
        assert!(matches!(
            reader.string("extra"),
            Err(DecodeError::MissingField("extra"))
        ));
    }

    #[test]
    fn binary_id_body_starts_with_four_bytes() {
        let mut body = TextBody::with_binary_id(4);
        body.field(-1);
        assert_eq!(body.into_bytes(), b"\0\0\0\x04-1\0");
    }

    #[test]
    fn empty_field_reads_as_unset_and_an_empty_last_field_is_kept() {
        let fields = split_fields(b"71\x002\x007\x00\x00").unwrap();
        assert_eq!(fields, vec!["71", "2", "7", ""]);
        let mut reader = FieldReader::new(vec![""]);
        assert_eq!(reader.int("numIds").unwrap(), None);
    }

    #[test]
    fn malformed_text_is_refused() {
        assert!(matches!(
            split_fields(b"49\x001"),
            Err(DecodeError::UnterminatedField)
        ));
        assert!(matches!(
            split_fields(b"\xff\x00"),
            Err(DecodeError::NotUtf8)
        ));
        let mut reader = FieldReader::new(vec!["abc"]);
        assert!(matches!(
            reader.int("reqId"),
            Err(DecodeError::BadNumber("reqId"))
        ));
        let mut too_big = FieldReader::new(vec!["99999999999"]);
        assert!(matches!(
            too_big.required_i32("reqId"),
            Err(DecodeError::BadNumber("reqId"))
        ));
    }

    #[test]
    fn doubles_print_like_the_gateway() {
        assert_eq!(format_double(150.0), "150.0");
        assert_eq!(format_double(0.25), "0.25");
        assert_eq!(format_double(-1234.5), "-1234.5");
    }
}
