//! Requests a client sends, decoded from either encoding into one typed enum.
//!
//! The session logic matches on [`Request`] and never sees fields or protobuf; this is the
//! only place that knows, for example, that reqPnL has no version field in text.

use prost::Message;

use crate::{
    BINARY_IDS_FROM, Body, DecodeError, PROTOBUF_ID_OFFSET, proto,
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

/// One decoded client request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
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

/// Why a request was not encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// Order messages and unknown ids have no encoder: a client built on this crate cannot
    /// place, modify or cancel an order.
    #[error("message {0} is not a read-only request and cannot be sent")]
    NotReadOnly(u32),
}

impl Request {
    /// The canonical message id.
    pub fn msg_id(&self) -> u32 {
        use id::*;
        match self {
            Request::StartApi { .. } => START_API,
            Request::NextIds => REQ_IDS,
            Request::CurrentTime => REQ_CURRENT_TIME,
            Request::CurrentTimeInMillis => REQ_CURRENT_TIME_IN_MILLIS,
            Request::ManagedAccounts => REQ_MANAGED_ACCTS,
            Request::Positions => REQ_POSITIONS,
            Request::CancelPositions => CANCEL_POSITIONS,
            Request::AccountSummary { .. } => REQ_ACCOUNT_SUMMARY,
            Request::CancelAccountSummary { .. } => CANCEL_ACCOUNT_SUMMARY,
            Request::AccountUpdates { .. } => REQ_ACCOUNT_UPDATES,
            Request::PnL { .. } => REQ_PNL,
            Request::CancelPnL { .. } => CANCEL_PNL,
            Request::OpenOrders => REQ_OPEN_ORDERS,
            Request::CompletedOrders => REQ_COMPLETED_ORDERS,
            Request::Executions { .. } => REQ_EXECUTIONS,
            Request::AccountUpdatesMulti { .. } => REQ_ACCOUNT_UPDATES_MULTI,
            Request::Order { msg_id } | Request::Other { msg_id } => *msg_id,
        }
    }

    /// The frame body a client sends at server `version`: classic text below 201, protobuf
    /// from 201 (the simulator and the worker only use 213 in that range).
    pub fn encode(&self, version: i32) -> Result<Vec<u8>, EncodeError> {
        match self {
            Request::Order { msg_id } | Request::Other { msg_id } => {
                Err(EncodeError::NotReadOnly(*msg_id))
            }
            _ if version >= BINARY_IDS_FROM => Ok(self.encode_protobuf()),
            _ => Ok(self.encode_text()),
        }
    }

    fn encode_text(&self) -> Vec<u8> {
        let mut b = TextBody::with_text_id(self.msg_id());
        match self {
            Request::StartApi { client_id } => b.field(2).field(client_id).field(""),
            Request::NextIds => b.field(1).field(1),
            Request::CurrentTime
            | Request::ManagedAccounts
            | Request::Positions
            | Request::CancelPositions
            | Request::OpenOrders => b.field(1),
            Request::CurrentTimeInMillis => &mut b,
            Request::AccountSummary {
                req_id,
                group,
                tags,
            } => b.field(1).field(req_id).field(group).field(tags),
            Request::CancelAccountSummary { req_id } => b.field(1).field(req_id),
            Request::AccountUpdates { subscribe, account } => {
                b.field(2).field(u8::from(*subscribe)).field(account)
            }
            Request::PnL { req_id, account } => b.field(req_id).field(account).field(""),
            Request::CancelPnL { req_id } => b.field(req_id),
            Request::CompletedOrders => b.field(0),
            Request::Executions { req_id } => {
                b.field(3).field(req_id);
                for _ in 0..7 {
                    b.field(""); // empty filter: client id, account, time, symbol, type, exchange, side
                }
                &mut b
            }
            Request::AccountUpdatesMulti { req_id } => {
                b.field(1).field(req_id).field("").field("").field(0)
            }
            Request::Order { .. } | Request::Other { .. } => unreachable!("refused by encode"),
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
            Request::StartApi { client_id } => proto::StartApiRequest {
                client_id: Some(*client_id),
                optional_capabilities: None,
            }
            .encode_to_vec(),
            Request::NextIds => proto::IdsRequest { num_ids: Some(1) }.encode_to_vec(),
            Request::AccountSummary {
                req_id,
                group,
                tags,
            } => proto::AccountSummaryRequest {
                req_id: Some(*req_id),
                group: Some(group.clone()),
                tags: Some(tags.clone()),
            }
            .encode_to_vec(),
            Request::AccountUpdates { subscribe, account } => proto::AccountDataRequest {
                subscribe: Some(*subscribe),
                acct_code: Some(account.clone()),
            }
            .encode_to_vec(),
            Request::PnL { req_id, account } => proto::PnLRequest {
                req_id: Some(*req_id),
                account: Some(account.clone()),
                model_code: None,
            }
            .encode_to_vec(),
            Request::CancelAccountSummary { req_id }
            | Request::CancelPnL { req_id }
            | Request::Executions { req_id }
            | Request::AccountUpdatesMulti { req_id } => req_id_only(req_id),
            _ => Vec::new(),
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
    match msg_id {
        REQ_IDS => Request::NextIds,
        REQ_CURRENT_TIME => Request::CurrentTime,
        REQ_CURRENT_TIME_IN_MILLIS => Request::CurrentTimeInMillis,
        REQ_MANAGED_ACCTS => Request::ManagedAccounts,
        REQ_POSITIONS => Request::Positions,
        CANCEL_POSITIONS => Request::CancelPositions,
        REQ_OPEN_ORDERS | REQ_ALL_OPEN_ORDERS => Request::OpenOrders,
        REQ_COMPLETED_ORDERS => Request::CompletedOrders,
        PLACE_ORDER | CANCEL_ORDER | REQ_GLOBAL_CANCEL => Request::Order { msg_id },
        _ => Request::Other { msg_id },
    }
}

fn decode_text(msg_id: u32, mut f: FieldReader<'_>) -> Result<Request, DecodeError> {
    use id::*;
    Ok(match msg_id {
        START_API => {
            f.skip_version()?;
            Request::StartApi {
                client_id: f.required_i32("clientId")?,
            }
        }
        REQ_ACCOUNT_SUMMARY => {
            f.skip_version()?;
            Request::AccountSummary {
                req_id: f.required_i32("reqId")?,
                group: f.string("group")?.to_owned(),
                tags: f.string("tags")?.to_owned(),
            }
        }
        CANCEL_ACCOUNT_SUMMARY => {
            f.skip_version()?;
            Request::CancelAccountSummary {
                req_id: f.required_i32("reqId")?,
            }
        }
        REQ_ACCOUNT_UPDATES => {
            f.skip_version()?;
            let subscribe = f.string("subscribe")? == "1";
            Request::AccountUpdates {
                subscribe,
                account: f.string("acctCode").unwrap_or("").to_owned(),
            }
        }
        // reqPnL and cancelPnL have no version field.
        REQ_PNL => Request::PnL {
            req_id: f.required_i32("reqId")?,
            account: f.string("account")?.to_owned(),
        },
        CANCEL_PNL => Request::CancelPnL {
            req_id: f.required_i32("reqId")?,
        },
        REQ_EXECUTIONS => {
            f.skip_version()?;
            Request::Executions {
                req_id: f.required_i32("reqId")?,
            }
        }
        REQ_ACCOUNT_UPDATES_MULTI => {
            f.skip_version()?;
            Request::AccountUpdatesMulti {
                req_id: f.required_i32("reqId")?,
            }
        }
        _ => payload_free(msg_id),
    })
}

fn decode_proto(msg_id: u32, bytes: &[u8]) -> Result<Request, DecodeError> {
    use id::*;
    let req_id = |bytes: &[u8]| -> Result<i32, DecodeError> {
        proto::ReqIdOnly::decode(bytes)?
            .req_id
            .ok_or(DecodeError::MissingField("reqId"))
    };
    Ok(match msg_id {
        START_API => {
            let start = proto::StartApiRequest::decode(bytes)?;
            Request::StartApi {
                client_id: start
                    .client_id
                    .ok_or(DecodeError::MissingField("clientId"))?,
            }
        }
        REQ_ACCOUNT_SUMMARY => {
            let request = proto::AccountSummaryRequest::decode(bytes)?;
            Request::AccountSummary {
                req_id: request.req_id.ok_or(DecodeError::MissingField("reqId"))?,
                group: request.group.unwrap_or_default(),
                tags: request.tags.unwrap_or_default(),
            }
        }
        CANCEL_ACCOUNT_SUMMARY => Request::CancelAccountSummary {
            req_id: req_id(bytes)?,
        },
        REQ_ACCOUNT_UPDATES => {
            let request = proto::AccountDataRequest::decode(bytes)?;
            Request::AccountUpdates {
                subscribe: request.subscribe.unwrap_or(false),
                account: request.acct_code.unwrap_or_default(),
            }
        }
        REQ_PNL => {
            let request = proto::PnLRequest::decode(bytes)?;
            Request::PnL {
                req_id: request.req_id.ok_or(DecodeError::MissingField("reqId"))?,
                account: request.account.unwrap_or_default(),
            }
        }
        CANCEL_PNL => Request::CancelPnL {
            req_id: req_id(bytes)?,
        },
        REQ_EXECUTIONS => Request::Executions {
            req_id: req_id(bytes)?,
        },
        REQ_ACCOUNT_UPDATES_MULTI => Request::AccountUpdatesMulti {
            req_id: req_id(bytes)?,
        },
        _ => payload_free(msg_id),
    })
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

    #[test]
    fn decodes_ib_asyncs_text_start_api() {
        assert_eq!(
            text(b"71\x002\x007\x00\x00"),
            Request::StartApi { client_id: 7 }
        );
    }

    #[test]
    fn decodes_text_requests_with_and_without_version_fields() {
        assert_eq!(
            text(b"62\x001\x009\x00All\x00NetLiquidation,$LEDGER\x00"),
            Request::AccountSummary {
                req_id: 9,
                group: "All".into(),
                tags: "NetLiquidation,$LEDGER".into()
            }
        );
        assert_eq!(
            text(b"92\x001500000000\x00DU1234567\x00\x00"),
            Request::PnL {
                req_id: 1_500_000_000,
                account: "DU1234567".into()
            }
        );
        assert_eq!(text(b"93\x0042\x00"), Request::CancelPnL { req_id: 42 });
        assert_eq!(
            text(b"6\x002\x001\x00DU1\x00"),
            Request::AccountUpdates {
                subscribe: true,
                account: "DU1".into()
            }
        );
        assert_eq!(text(b"105\x00"), Request::CurrentTimeInMillis);
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
            Request::AccountSummary {
                req_id: i32::MAX,
                group: "All".into(),
                tags: "$LEDGER:ALL".into()
            }
        );
        assert_eq!(
            protobuf(271, &[0x08, 0x07]),
            Request::StartApi { client_id: 7 }
        );
        assert_eq!(protobuf(249, &[]), Request::CurrentTime);
        assert_eq!(
            protobuf(206, &[0x08, 0x00]),
            Request::AccountUpdates {
                subscribe: false,
                account: String::new()
            }
        );
    }

    fn every_read_only_request() -> Vec<Request> {
        vec![
            Request::StartApi { client_id: 7 },
            Request::NextIds,
            Request::CurrentTime,
            Request::CurrentTimeInMillis,
            Request::ManagedAccounts,
            Request::Positions,
            Request::CancelPositions,
            Request::AccountSummary {
                req_id: i32::MAX,
                group: "All".into(),
                tags: "NetLiquidation,$LEDGER:ALL".into(),
            },
            Request::CancelAccountSummary { req_id: 3 },
            Request::AccountUpdates {
                subscribe: true,
                account: "DU1".into(),
            },
            Request::AccountUpdates {
                subscribe: false,
                account: "DU1".into(),
            },
            Request::PnL {
                req_id: 1_500_000_000,
                account: "DU1".into(),
            },
            Request::CancelPnL { req_id: 4 },
            Request::OpenOrders,
            Request::CompletedOrders,
            Request::Executions { req_id: 5 },
            Request::AccountUpdatesMulti { req_id: 6 },
        ]
    }

    #[test]
    fn every_request_round_trips_in_both_encodings() {
        for version in [178, 200, 213] {
            for request in every_read_only_request() {
                let body = request.encode(version).unwrap();
                let decoded = decode(&split_body(&body, version).unwrap()).unwrap();
                assert_eq!(decoded, request, "at version {version}");
            }
        }
    }

    #[test]
    fn order_messages_cannot_be_encoded() {
        for msg_id in [id::PLACE_ORDER, id::CANCEL_ORDER, id::REQ_GLOBAL_CANCEL] {
            assert_eq!(
                Request::Order { msg_id }.encode(178),
                Err(EncodeError::NotReadOnly(msg_id))
            );
            assert_eq!(
                Request::Order { msg_id }.encode(213),
                Err(EncodeError::NotReadOnly(msg_id))
            );
        }
        assert!(Request::Other { msg_id: 87 }.encode(213).is_err());
    }

    #[test]
    fn start_api_text_matches_ib_asyncs_bytes() {
        assert_eq!(
            Request::StartApi { client_id: 7 }.encode(178).unwrap(),
            b"71\x002\x007\x00\x00"
        );
        assert_eq!(Request::CurrentTime.encode(213).unwrap(), [0, 0, 0, 0xf9]);
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
