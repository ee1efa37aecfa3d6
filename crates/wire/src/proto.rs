//! Protobuf messages of the monitoring subset, declared by hand from their field numbers.
//!
//! IB's `.proto` files carry IB's licence, so they are not copied here; the field numbers and
//! types are interface facts (see `shared/reference/tws-wire-protocol.md` §4). Every scalar is
//! `optional` because the schema is proto3 with explicit presence and the clients check it.
#![allow(missing_docs)] // the field names are IB's, documented in the wire-protocol reference

use prost::Message;

// ----- requests (client → server) -----

#[derive(Clone, PartialEq, Message)]
pub struct StartApiRequest {
    #[prost(int32, optional, tag = "1")]
    pub client_id: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub optional_capabilities: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct IdsRequest {
    #[prost(int32, optional, tag = "1")]
    pub num_ids: Option<i32>,
}

#[derive(Clone, PartialEq, Message)]
pub struct AccountSummaryRequest {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub group: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub tags: Option<String>,
}

/// Requests whose only field the simulator needs is the request id in field 1
/// (cancelAccountSummary, cancelPnL, reqExecutions, reqAccountUpdatesMulti, …).
#[derive(Clone, PartialEq, Message)]
pub struct ReqIdOnly {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
}

#[derive(Clone, PartialEq, Message)]
pub struct AccountDataRequest {
    #[prost(bool, optional, tag = "1")]
    pub subscribe: Option<bool>,
    #[prost(string, optional, tag = "2")]
    pub acct_code: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct PnLRequest {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub account: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub model_code: Option<String>,
}

// ----- responses (server → client) -----

#[derive(Clone, PartialEq, Message)]
pub struct NextValidId {
    #[prost(int32, optional, tag = "1")]
    pub order_id: Option<i32>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ManagedAccounts {
    #[prost(string, optional, tag = "1")]
    pub accounts_list: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct CurrentTime {
    #[prost(int64, optional, tag = "1")]
    pub current_time: Option<i64>,
}

#[derive(Clone, PartialEq, Message)]
pub struct CurrentTimeInMillis {
    #[prost(int64, optional, tag = "1")]
    pub current_time_in_millis: Option<i64>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ErrorMessage {
    #[prost(int32, optional, tag = "1")]
    pub id: Option<i32>,
    #[prost(int64, optional, tag = "2")]
    pub error_time: Option<i64>,
    #[prost(int32, optional, tag = "3")]
    pub error_code: Option<i32>,
    #[prost(string, optional, tag = "4")]
    pub error_msg: Option<String>,
    #[prost(string, optional, tag = "5")]
    pub advanced_order_reject_json: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Contract {
    #[prost(int32, optional, tag = "1")]
    pub con_id: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub symbol: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub sec_type: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub last_trade_date_or_contract_month: Option<String>,
    #[prost(double, optional, tag = "5")]
    pub strike: Option<f64>,
    #[prost(string, optional, tag = "6")]
    pub right: Option<String>,
    /// A double here, unlike the text encoding's string.
    #[prost(double, optional, tag = "7")]
    pub multiplier: Option<f64>,
    #[prost(string, optional, tag = "8")]
    pub exchange: Option<String>,
    #[prost(string, optional, tag = "9")]
    pub primary_exch: Option<String>,
    #[prost(string, optional, tag = "10")]
    pub currency: Option<String>,
    #[prost(string, optional, tag = "11")]
    pub local_symbol: Option<String>,
    #[prost(string, optional, tag = "12")]
    pub trading_class: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Position {
    #[prost(string, optional, tag = "1")]
    pub account: Option<String>,
    #[prost(message, optional, tag = "2")]
    pub contract: Option<Contract>,
    #[prost(string, optional, tag = "3")]
    pub position: Option<String>,
    #[prost(double, optional, tag = "4")]
    pub avg_cost: Option<f64>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Empty {}

#[derive(Clone, PartialEq, Message)]
pub struct AccountSummary {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub account: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub tag: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub value: Option<String>,
    #[prost(string, optional, tag = "5")]
    pub currency: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct AccountValue {
    #[prost(string, optional, tag = "1")]
    pub key: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub value: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub currency: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub account_name: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct PortfolioValue {
    #[prost(message, optional, tag = "1")]
    pub contract: Option<Contract>,
    #[prost(string, optional, tag = "2")]
    pub position: Option<String>,
    #[prost(double, optional, tag = "3")]
    pub market_price: Option<f64>,
    #[prost(double, optional, tag = "4")]
    pub market_value: Option<f64>,
    #[prost(double, optional, tag = "5")]
    pub average_cost: Option<f64>,
    #[prost(double, optional, tag = "6")]
    pub unrealized_pnl: Option<f64>,
    #[prost(double, optional, tag = "7")]
    pub realized_pnl: Option<f64>,
    #[prost(string, optional, tag = "8")]
    pub account_name: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct AccountUpdateTime {
    #[prost(string, optional, tag = "1")]
    pub time_stamp: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct AccountDataEnd {
    #[prost(string, optional, tag = "1")]
    pub account_name: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct PnL {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(double, optional, tag = "2")]
    pub daily_pnl: Option<f64>,
    #[prost(double, optional, tag = "3")]
    pub unrealized_pnl: Option<f64>,
    #[prost(double, optional, tag = "4")]
    pub realized_pnl: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minus_one_request_id_is_a_ten_byte_varint() {
        let bytes = ErrorMessage {
            id: Some(-1),
            ..Default::default()
        }
        .encode_to_vec();
        assert_eq!(
            bytes,
            [
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
            ]
        );
    }

    #[test]
    fn start_api_matches_the_bytes_rust_ibapi_sends() {
        // rust-ibapi 5.5 at 213: body 00 00 01 0f | 08 07 (clientId 7, no capabilities).
        let decoded = StartApiRequest::decode(&[0x08, 0x07][..]).unwrap();
        assert_eq!(
            decoded,
            StartApiRequest {
                client_id: Some(7),
                optional_capabilities: None
            }
        );
    }

    #[test]
    fn presence_survives_a_round_trip() {
        let position = Position {
            account: Some("DU1234567".into()),
            contract: Some(Contract {
                con_id: Some(265598),
                multiplier: Some(100.0),
                ..Default::default()
            }),
            position: Some("-25".into()),
            avg_cost: Some(0.0),
        };
        let decoded = Position::decode(position.encode_to_vec().as_slice()).unwrap();
        assert_eq!(decoded, position);
        assert_eq!(
            decoded.avg_cost,
            Some(0.0),
            "an explicit zero stays present"
        );
    }
}
