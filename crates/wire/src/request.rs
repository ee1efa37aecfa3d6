//! Requests a client sends: [`ReadRequest`] is what a client built on this crate can encode
//! (read-only by construction: it has no order variants), [`Request`] is what a gateway
//! decodes (a read request, an order message to refuse, or something outside the subset).
//!
//! The session logic matches on these types and never sees fields or protobuf; this is the
//! only place that knows, for example, that reqPnL has no version field in text, or from
//! which server version each request family goes out as protobuf.

use prost::Message;

use crate::{
    BINARY_IDS_FROM, Body, DecodeError, PROTOBUF_ID_OFFSET, PROTOBUF_VERSION, proto,
    text::{FieldReader, TextBody},
};

/// Canonical ids of the requests the simulator understands.
pub mod id {
    #![allow(missing_docs)]
    pub const REQ_ACCOUNT_UPDATES: u32 = 6;
    pub const PLACE_ORDER: u32 = 3;
    pub const CANCEL_ORDER: u32 = 4;
    pub const REQ_OPEN_ORDERS: u32 = 5;
    pub const REQ_EXECUTIONS: u32 = 7;
    pub const REQ_IDS: u32 = 8;
    pub const REQ_AUTO_OPEN_ORDERS: u32 = 15;
    pub const REQ_ALL_OPEN_ORDERS: u32 = 16;
    pub const REQ_MANAGED_ACCTS: u32 = 17;
    pub const REQ_CURRENT_TIME: u32 = 49;
    pub const REQ_GLOBAL_CANCEL: u32 = 58;
    pub const REQ_POSITIONS: u32 = 61;
    pub const REQ_ACCOUNT_SUMMARY: u32 = 62;
    pub const CANCEL_ACCOUNT_SUMMARY: u32 = 63;
    pub const CANCEL_POSITIONS: u32 = 64;
    pub const START_API: u32 = 71;
    pub const REQ_ACCOUNT_UPDATES_MULTI: u32 = 76;
    pub const CANCEL_ACCOUNT_UPDATES_MULTI: u32 = 77;
    pub const REQ_PNL: u32 = 92;
    pub const CANCEL_PNL: u32 = 93;
    pub const REQ_COMPLETED_ORDERS: u32 = 99;
    pub const REQ_CURRENT_TIME_IN_MILLIS: u32 = 105;
}

/// A request a client built on this crate can send: read-only by construction, since no
/// variant places, modifies or cancels an order. The worker's gateway client speaks only this
/// type, so the compiler, not a run-time check, keeps it from trading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadRequest {
    /// startApi: the client names its client id.
    StartApi {
        /// The client id the connection claims.
        client_id: i32,
    },
    /// reqIds → nextValidId.
    NextIds,
    /// reqCurrentTime → currentTime.
    CurrentTime,
    /// reqCurrentTimeInMillis → currentTimeInMillis.
    CurrentTimeInMillis,
    /// reqManagedAccts → managedAccounts.
    ManagedAccounts,
    /// reqPositions → positions, then positionEnd.
    Positions,
    /// cancelPositions.
    CancelPositions,
    /// reqAccountSummary → summaries, then accountSummaryEnd.
    AccountSummary {
        /// The client's request id, echoed in every reply.
        req_id: i32,
        /// Account group (`All` in practice).
        group: String,
        /// Comma-separated tags, possibly with `$LEDGER` forms.
        tags: String,
    },
    /// cancelAccountSummary.
    CancelAccountSummary {
        /// The subscription to end.
        req_id: i32,
    },
    /// reqAccountUpdates with subscribe on or off.
    AccountUpdates {
        /// `false` unsubscribes.
        subscribe: bool,
        /// The account (empty when rust-ibapi unsubscribes).
        account: String,
    },
    /// reqPnL → a PnL line now and at every market tick.
    PnL {
        /// The client's request id.
        req_id: i32,
        /// The account.
        account: String,
    },
    /// cancelPnL.
    CancelPnL {
        /// The subscription to end.
        req_id: i32,
    },
    /// reqOpenOrders / reqAllOpenOrders → openOrderEnd.
    OpenOrders,
    /// reqCompletedOrders → completedOrdersEnd.
    CompletedOrders,
    /// reqExecutions → execDetailsEnd.
    Executions {
        /// The client's request id.
        req_id: i32,
    },
    /// reqAccountUpdatesMulti → accountUpdateMultiEnd.
    AccountUpdatesMulti {
        /// The client's request id.
        req_id: i32,
    },
}

/// One request as a gateway receives it: a read request it understands, an order message,
/// or something outside the subset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A request of the monitoring subset.
    Read(ReadRequest),
    /// placeOrder, cancelOrder or reqGlobalCancel: refused as by a read-only gateway.
    Order {
        /// Which of the three.
        msg_id: u32,
    },
    /// Anything else; logged and ignored, as a gateway does with requests it has no data for.
    Other {
        /// The canonical id.
        msg_id: u32,
    },
}

impl Request {
    /// The canonical message id.
    pub fn msg_id(&self) -> u32 {
        match self {
            Request::Read(read) => read.msg_id(),
            Request::Order { msg_id } | Request::Other { msg_id } => *msg_id,
        }
    }
}

/// The server version from which a request goes out as protobuf (IB's per-family gates,
/// `server_versions.py`: executions 201, orders 204, accounts and positions 207, PnL 210,
/// start-up, ids and time 213). Between 201 and the gate it is text after a binary id.
pub fn protobuf_from(msg_id: u32) -> i32 {
    use id::*;
    match msg_id {
        REQ_EXECUTIONS => 201,
        REQ_OPEN_ORDERS | REQ_ALL_OPEN_ORDERS | REQ_AUTO_OPEN_ORDERS | REQ_COMPLETED_ORDERS => 204,
        REQ_ACCOUNT_UPDATES
        | REQ_MANAGED_ACCTS
        | REQ_POSITIONS
        | CANCEL_POSITIONS
        | REQ_ACCOUNT_SUMMARY
        | CANCEL_ACCOUNT_SUMMARY
        | REQ_ACCOUNT_UPDATES_MULTI
        | CANCEL_ACCOUNT_UPDATES_MULTI => 207,
        REQ_PNL | CANCEL_PNL => 210,
        _ => PROTOBUF_VERSION,
    }
}

impl ReadRequest {
    /// The canonical message id.
    pub fn msg_id(&self) -> u32 {
        use id::*;
        match self {
            ReadRequest::StartApi { .. } => START_API,
            ReadRequest::NextIds => REQ_IDS,
            ReadRequest::CurrentTime => REQ_CURRENT_TIME,
            ReadRequest::CurrentTimeInMillis => REQ_CURRENT_TIME_IN_MILLIS,
            ReadRequest::ManagedAccounts => REQ_MANAGED_ACCTS,
            ReadRequest::Positions => REQ_POSITIONS,
            ReadRequest::CancelPositions => CANCEL_POSITIONS,
            ReadRequest::AccountSummary { .. } => REQ_ACCOUNT_SUMMARY,
            ReadRequest::CancelAccountSummary { .. } => CANCEL_ACCOUNT_SUMMARY,
            ReadRequest::AccountUpdates { .. } => REQ_ACCOUNT_UPDATES,
            ReadRequest::PnL { .. } => REQ_PNL,
            ReadRequest::CancelPnL { .. } => CANCEL_PNL,
            ReadRequest::OpenOrders => REQ_OPEN_ORDERS,
            ReadRequest::CompletedOrders => REQ_COMPLETED_ORDERS,
            ReadRequest::Executions { .. } => REQ_EXECUTIONS,
            ReadRequest::AccountUpdatesMulti { .. } => REQ_ACCOUNT_UPDATES_MULTI,
        }
    }

    /// The frame body a client sends at server `version`: classic text below 201, then text
    /// after a binary id until the message's family gate ([`protobuf_from`]), then protobuf.
    pub fn encode(&self, version: i32) -> Vec<u8> {
        if version >= protobuf_from(self.msg_id()) {
            self.encode_protobuf()
        } else if version >= BINARY_IDS_FROM {
            self.encode_text(TextBody::with_binary_id(self.msg_id()))
        } else {
            self.encode_text(TextBody::with_text_id(self.msg_id()))
        }
    }

    fn encode_text(&self, mut b: TextBody) -> Vec<u8> {
        match self {
            ReadRequest::StartApi { client_id } => b.field(2).field(client_id).field(""),
            ReadRequest::NextIds => b.field(1).field(1),
            ReadRequest::CurrentTime
            | ReadRequest::ManagedAccounts
            | ReadRequest::Positions
            | ReadRequest::CancelPositions
            | ReadRequest::OpenOrders => b.field(1),
            ReadRequest::CurrentTimeInMillis => &mut b,
            ReadRequest::AccountSummary {
                req_id,
                group,
                tags,
            } => b.field(1).field(req_id).field(group).field(tags),
            ReadRequest::CancelAccountSummary { req_id } => b.field(1).field(req_id),
            ReadRequest::AccountUpdates { subscribe, account } => {
                b.field(2).field(u8::from(*subscribe)).field(account)
            }
            ReadRequest::PnL { req_id, account } => b.field(req_id).field(account).field(""),
            ReadRequest::CancelPnL { req_id } => b.field(req_id),
            ReadRequest::CompletedOrders => b.field(0),
            ReadRequest::Executions { req_id } => {
                b.field(3).field(req_id);
                for _ in 0..7 {
                    b.field(""); // empty filter: client id, account, time, symbol, type, exchange, side
                }
                &mut b
            }
            ReadRequest::AccountUpdatesMulti { req_id } => {
                b.field(1).field(req_id).field("").field("").field(0)
            }
        };
        b.into_bytes()
    }

    fn encode_protobuf(&self) -> Vec<u8> {
        let mut body = (self.msg_id() + PROTOBUF_ID_OFFSET).to_be_bytes().to_vec();
        let req_id_only = |req_id: &i32| {
            proto::ReqIdOnly {
                req_id: Some(*req_id),
            }
            .encode_to_vec()
        };
        let payload = match self {
            ReadRequest::StartApi { client_id } => proto::StartApiRequest {
                client_id: Some(*client_id),
                optional_capabilities: None,
            }
            .encode_to_vec(),
            ReadRequest::NextIds => proto::IdsRequest { num_ids: Some(1) }.encode_to_vec(),
            ReadRequest::AccountSummary {
                req_id,
                group,
                tags,
            } => proto::AccountSummaryRequest {
                req_id: Some(*req_id),
                group: Some(group.clone()),
                tags: Some(tags.clone()),
            }
            .encode_to_vec(),
            ReadRequest::AccountUpdates { subscribe, account } => proto::AccountDataRequest {
                subscribe: Some(*subscribe),
                acct_code: Some(account.clone()),
            }
            .encode_to_vec(),
            ReadRequest::PnL { req_id, account } => proto::PnLRequest {
                req_id: Some(*req_id),
                account: Some(account.clone()),
                model_code: None,
            }
            .encode_to_vec(),
            ReadRequest::CancelAccountSummary { req_id }
            | ReadRequest::CancelPnL { req_id }
            | ReadRequest::Executions { req_id }
            | ReadRequest::AccountUpdatesMulti { req_id } => req_id_only(req_id),
            ReadRequest::CurrentTime
            | ReadRequest::CurrentTimeInMillis
            | ReadRequest::ManagedAccounts
            | ReadRequest::Positions
            | ReadRequest::CancelPositions
            | ReadRequest::OpenOrders
            | ReadRequest::CompletedOrders => Vec::new(),
        };
        body.extend_from_slice(&payload);
        body
    }
}

/// Decodes a split body into a request.
pub fn decode(body: &Body<'_>) -> Result<Request, DecodeError> {
    match body {
        Body::Text { msg_id, fields } => decode_text(*msg_id, FieldReader::new(fields.clone())),
        Body::Proto { msg_id, bytes } => decode_proto(*msg_id, bytes),
    }
}

/// Requests whose fields the simulator does not need, identical in both encodings.
fn payload_free(msg_id: u32) -> Request {
    use id::*;
    let read = match msg_id {
        REQ_IDS => ReadRequest::NextIds,
        REQ_CURRENT_TIME => ReadRequest::CurrentTime,
        REQ_CURRENT_TIME_IN_MILLIS => ReadRequest::CurrentTimeInMillis,
        REQ_MANAGED_ACCTS => ReadRequest::ManagedAccounts,
        REQ_POSITIONS => ReadRequest::Positions,
        CANCEL_POSITIONS => ReadRequest::CancelPositions,
        REQ_OPEN_ORDERS | REQ_ALL_OPEN_ORDERS => ReadRequest::OpenOrders,
        REQ_COMPLETED_ORDERS => ReadRequest::CompletedOrders,
        PLACE_ORDER | CANCEL_ORDER | REQ_GLOBAL_CANCEL => return Request::Order { msg_id },
        _ => return Request::Other { msg_id },
    };
    Request::Read(read)
}

fn decode_text(msg_id: u32, mut f: FieldReader<'_>) -> Result<Request, DecodeError> {
    use id::*;
    Ok(Request::Read(match msg_id {
        START_API => {
            f.skip_version()?;
            ReadRequest::StartApi {
                client_id: f.required_i32("clientId")?,
            }
        }
        REQ_ACCOUNT_SUMMARY => {
            f.skip_version()?;
            ReadRequest::AccountSummary {
                req_id: f.required_i32("reqId")?,
                group: f.string("group")?.to_owned(),
                tags: f.string("tags")?.to_owned(),
            }
        }
        CANCEL_ACCOUNT_SUMMARY => {
            f.skip_version()?;
            ReadRequest::CancelAccountSummary {
                req_id: f.required_i32("reqId")?,
            }
        }
        REQ_ACCOUNT_UPDATES => {
            f.skip_version()?;
            let subscribe = f.string("subscribe")? == "1";
            ReadRequest::AccountUpdates {
                subscribe,
                account: f.string("acctCode").unwrap_or("").to_owned(),
            }
        }
        // reqPnL and cancelPnL have no version field.
        REQ_PNL => ReadRequest::PnL {
            req_id: f.required_i32("reqId")?,
            account: f.string("account")?.to_owned(),
        },
        CANCEL_PNL => ReadRequest::CancelPnL {
            req_id: f.required_i32("reqId")?,
        },
        REQ_EXECUTIONS => {
            f.skip_version()?;
            ReadRequest::Executions {
                req_id: f.required_i32("reqId")?,
            }
        }
        REQ_ACCOUNT_UPDATES_MULTI => {
            f.skip_version()?;
            ReadRequest::AccountUpdatesMulti {
                req_id: f.required_i32("reqId")?,
            }
        }
        _ => return Ok(payload_free(msg_id)),
    }))
}

fn decode_proto(msg_id: u32, bytes: &[u8]) -> Result<Request, DecodeError> {
    use id::*;
    let req_id = |bytes: &[u8]| -> Result<i32, DecodeError> {
        proto::ReqIdOnly::decode(bytes)?
            .req_id
            .ok_or(DecodeError::MissingField("reqId"))
    };
    Ok(Request::Read(match msg_id {
        START_API => {
            let start = proto::StartApiRequest::decode(bytes)?;
            ReadRequest::StartApi {
                client_id: start
                    .client_id
                    .ok_or(DecodeError::MissingField("clientId"))?,
            }
        }
        REQ_ACCOUNT_SUMMARY => {
            let request = proto::AccountSummaryRequest::decode(bytes)?;
            ReadRequest::AccountSummary {
                req_id: request.req_id.ok_or(DecodeError::MissingField("reqId"))?,
                group: request.group.unwrap_or_default(),
                tags: request.tags.unwrap_or_default(),
            }
        }
        CANCEL_ACCOUNT_SUMMARY => ReadRequest::CancelAccountSummary {
            req_id: req_id(bytes)?,
        },
        REQ_ACCOUNT_UPDATES => {
            let request = proto::AccountDataRequest::decode(bytes)?;
            ReadRequest::AccountUpdates {
                subscribe: request.subscribe.unwrap_or(false),
                account: request.acct_code.unwrap_or_default(),
            }
        }
        REQ_PNL => {
            let request = proto::PnLRequest::decode(bytes)?;
            ReadRequest::PnL {
                req_id: request.req_id.ok_or(DecodeError::MissingField("reqId"))?,
                account: request.account.unwrap_or_default(),
            }
        }
        CANCEL_PNL => ReadRequest::CancelPnL {
            req_id: req_id(bytes)?,
        },
        REQ_EXECUTIONS => ReadRequest::Executions {
            req_id: req_id(bytes)?,
        },
        REQ_ACCOUNT_UPDATES_MULTI => ReadRequest::AccountUpdatesMulti {
            req_id: req_id(bytes)?,
        },
        _ => return Ok(payload_free(msg_id)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::split_body;

    fn text(body: &[u8]) -> Request {
        decode(&split_body(body, 178).unwrap()).unwrap()
    }

    fn protobuf(wire_id: u32, payload: &[u8]) -> Request {
        let mut body = wire_id.to_be_bytes().to_vec();
        body.extend_from_slice(payload);
        decode(&split_body(&body, 213).unwrap()).unwrap()
    }

    fn read(request: ReadRequest) -> Request {
        Request::Read(request)
    }

    #[test]
    fn decodes_ib_asyncs_text_start_api() {
        assert_eq!(
            text(b"71\x002\x007\x00\x00"),
            read(ReadRequest::StartApi { client_id: 7 })
        );
    }

    #[test]
    fn decodes_text_requests_with_and_without_version_fields() {
        assert_eq!(
            text(b"62\x001\x009\x00All\x00NetLiquidation,$LEDGER\x00"),
            read(ReadRequest::AccountSummary {
                req_id: 9,
                group: "All".into(),
                tags: "NetLiquidation,$LEDGER".into()
            })
        );
        assert_eq!(
            text(b"92\x001500000000\x00DU1234567\x00\x00"),
            read(ReadRequest::PnL {
                req_id: 1_500_000_000,
                account: "DU1234567".into()
            })
        );
        assert_eq!(
            text(b"93\x0042\x00"),
            read(ReadRequest::CancelPnL { req_id: 42 })
        );
        assert_eq!(
            text(b"6\x002\x001\x00DU1\x00"),
            read(ReadRequest::AccountUpdates {
                subscribe: true,
                account: "DU1".into()
            })
        );
        assert_eq!(text(b"105\x00"), read(ReadRequest::CurrentTimeInMillis));
        assert_eq!(text(b"3\x0045\x00"), Request::Order { msg_id: 3 });
        assert_eq!(text(b"87\x001\x00"), Request::Other { msg_id: 87 });
    }

    #[test]
    fn decodes_protobuf_requests_with_full_int32_ids() {
        let summary = proto::AccountSummaryRequest {
            req_id: Some(i32::MAX),
            group: Some("All".into()),
            tags: Some("$LEDGER:ALL".into()),
        };
        assert_eq!(
            protobuf(262, &summary.encode_to_vec()),
            read(ReadRequest::AccountSummary {
                req_id: i32::MAX,
                group: "All".into(),
                tags: "$LEDGER:ALL".into()
            })
        );
        assert_eq!(
            protobuf(271, &[0x08, 0x07]),
            read(ReadRequest::StartApi { client_id: 7 })
        );
        assert_eq!(protobuf(249, &[]), read(ReadRequest::CurrentTime));
        assert_eq!(
            protobuf(206, &[0x08, 0x00]),
            read(ReadRequest::AccountUpdates {
                subscribe: false,
                account: String::new()
            })
        );
    }

    fn every_read_only_request() -> Vec<ReadRequest> {
        vec![
            ReadRequest::StartApi { client_id: 7 },
            ReadRequest::NextIds,
            ReadRequest::CurrentTime,
            ReadRequest::CurrentTimeInMillis,
            ReadRequest::ManagedAccounts,
            ReadRequest::Positions,
            ReadRequest::CancelPositions,
            ReadRequest::AccountSummary {
                req_id: i32::MAX,
                group: "All".into(),
                tags: "NetLiquidation,$LEDGER:ALL".into(),
            },
            ReadRequest::CancelAccountSummary { req_id: 3 },
            ReadRequest::AccountUpdates {
                subscribe: true,
                account: "DU1".into(),
            },
            ReadRequest::AccountUpdates {
                subscribe: false,
                account: "DU1".into(),
            },
            ReadRequest::PnL {
                req_id: 1_500_000_000,
                account: "DU1".into(),
            },
            ReadRequest::CancelPnL { req_id: 4 },
            ReadRequest::OpenOrders,
            ReadRequest::CompletedOrders,
            ReadRequest::Executions { req_id: 5 },
            ReadRequest::AccountUpdatesMulti { req_id: 6 },
        ]
    }

    #[test]
    fn every_request_round_trips_in_both_encodings() {
        for version in [178, 200, 201, 205, 207, 210, 213] {
            for request in every_read_only_request() {
                let body = request.encode(version);
                let decoded = decode(&split_body(&body, version).unwrap()).unwrap();
                assert_eq!(decoded, Request::Read(request), "at version {version}");
            }
        }
    }

    #[test]
    fn order_messages_decode_as_orders_and_have_no_read_request() {
        for msg_id in [id::PLACE_ORDER, id::CANCEL_ORDER, id::REQ_GLOBAL_CANCEL] {
            let body = format!("{msg_id}\x0045\x00");
            assert_eq!(text(body.as_bytes()), Request::Order { msg_id });
        }
        // No ReadRequest has an order message id: the type cannot express one.
        for request in every_read_only_request() {
            assert!(
                ![id::PLACE_ORDER, id::CANCEL_ORDER, id::REQ_GLOBAL_CANCEL]
                    .contains(&request.msg_id()),
                "{request:?}"
            );
        }
    }

    #[test]
    fn mixed_versions_send_text_after_a_binary_id_until_the_family_gate() {
        let start = ReadRequest::StartApi { client_id: 7 };
        assert_eq!(start.encode(207), b"\0\0\0\x472\x007\x00\x00");
        assert_eq!(start.encode(213), [0, 0, 1, 15, 0x08, 0x07]);
        assert_eq!(ReadRequest::Positions.encode(206), b"\0\0\0\x3d1\x00");
        assert_eq!(ReadRequest::Positions.encode(207), [0, 0, 1, 5]);
        let pnl = ReadRequest::CancelPnL { req_id: 4 };
        assert_eq!(pnl.encode(209), b"\0\0\0\x5d4\x00");
        assert_eq!(pnl.encode(210)[..4], [0, 0, 1, 37]);
    }

    #[test]
    fn start_api_text_matches_ib_asyncs_bytes() {
        assert_eq!(
            ReadRequest::StartApi { client_id: 7 }.encode(178),
            b"71\x002\x007\x00\x00"
        );
        assert_eq!(ReadRequest::CurrentTime.encode(213), [0, 0, 0, 0xf9]);
    }

    #[test]
    fn missing_required_fields_are_errors_not_defaults() {
        let body = split_body(b"\0\0\x01\x0f", 213).unwrap();
        assert!(matches!(
            decode(&body),
            Err(DecodeError::MissingField("clientId"))
        ));
        let body = split_body(b"62\x001\x00", 178).unwrap();
        assert!(matches!(
            decode(&body),
            Err(DecodeError::MissingField("reqId"))
        ));
        let body = split_body(b"\0\0\x01\x06\xff", 213).unwrap();
        assert!(matches!(decode(&body), Err(DecodeError::Protobuf(_))));
    }
}
