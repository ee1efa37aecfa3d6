//! Messages the simulator sends, encoded for the version negotiated on each connection.
//!
//! [`Response::encode`] is the one place that knows each message's text layout per version
//! (e.g. the three error layouts) and its protobuf form at 213.

use prost::Message;

use crate::contract::Contract;
use crate::{BINARY_IDS_FROM, PROTOBUF_ID_OFFSET, proto, text::TextBody};

/// One message from the server to a client.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// nextValidId (9).
    NextValidId {
        /// Next order id; kept small, as the gateway does.
        order_id: i32,
    },
    /// managedAccounts (15).
    ManagedAccounts {
        /// Comma-separated account ids; never empty.
        accounts: String,
    },
    /// currentTime (49).
    CurrentTime {
        /// Seconds since the Unix epoch.
        epoch_s: i64,
    },
    /// currentTimeInMillis (109).
    CurrentTimeInMillis {
        /// Milliseconds since the Unix epoch.
        epoch_ms: i64,
    },
    /// error (4): errors proper and the notices sent with request id −1.
    Error {
        /// The request it belongs to, or −1.
        req_id: i32,
        /// IB's error code.
        code: i32,
        /// IB's text.
        message: String,
        /// When it happened, epoch milliseconds (sent from version 194 on).
        time_ms: i64,
    },
    /// position (61).
    Position {
        /// Account holding it.
        account: String,
        /// The instrument.
        contract: Contract,
        /// Signed quantity.
        quantity: f64,
        /// Average cost per unit (multiplier included for derivatives).
        avg_cost: f64,
    },
    /// positionEnd (62).
    PositionEnd,
    /// accountSummary (63).
    AccountSummary {
        /// The client's request id.
        req_id: i32,
        /// The account.
        account: String,
        /// The tag (`NetLiquidation`, …).
        tag: String,
        /// The value as text.
        value: String,
        /// Currency, or empty for tags without one.
        currency: String,
    },
    /// accountSummaryEnd (64).
    AccountSummaryEnd {
        /// The client's request id.
        req_id: i32,
    },
    /// updateAccountValue (6).
    AccountValue {
        /// The key.
        key: String,
        /// The value as text.
        value: String,
        /// Currency, or empty.
        currency: String,
        /// The account.
        account: String,
    },
    /// updatePortfolio (7).
    PortfolioValue {
        /// The instrument.
        contract: Contract,
        /// Signed quantity.
        quantity: f64,
        /// Last price.
        market_price: f64,
        /// quantity × price × multiplier.
        market_value: f64,
        /// Average cost per unit.
        avg_cost: f64,
        /// Unrealized PnL.
        unrealized_pnl: f64,
        /// Realized PnL.
        realized_pnl: f64,
        /// The account.
        account: String,
    },
    /// updateAccountTime (8).
    AccountUpdateTime {
        /// `HH:MM`.
        stamp: String,
    },
    /// accountDownloadEnd (54).
    AccountDownloadEnd {
        /// The account.
        account: String,
    },
    /// pnl (94).
    PnL {
        /// The client's request id.
        req_id: i32,
        /// Today's PnL.
        daily: f64,
        /// Unrealized PnL.
        unrealized: f64,
        /// Realized PnL.
        realized: f64,
    },
    /// openOrderEnd (53).
    OpenOrderEnd,
    /// completedOrdersEnd (102).
    CompletedOrdersEnd,
    /// execDetailsEnd (55).
    ExecDetailsEnd {
        /// The client's request id.
        req_id: i32,
    },
    /// accountUpdateMultiEnd (74).
    AccountUpdateMultiEnd {
        /// The client's request id.
        req_id: i32,
    },
}

/// Server versions at which a message's text layout changes.
mod version {
    pub const ADVANCED_ORDER_REJECT: i32 = 166;
    pub const ERROR_TIME: i32 = 194;
    pub const UNREALIZED_PNL: i32 = 129;
    pub const REALIZED_PNL: i32 = 135;
}

impl Response {
    /// The canonical message id.
    pub fn msg_id(&self) -> u32 {
        match self {
            Response::NextValidId { .. } => 9,
            Response::ManagedAccounts { .. } => 15,
            Response::CurrentTime { .. } => 49,
            Response::CurrentTimeInMillis { .. } => 109,
            Response::Error { .. } => 4,
            Response::Position { .. } => 61,
            Response::PositionEnd => 62,
            Response::AccountSummary { .. } => 63,
            Response::AccountSummaryEnd { .. } => 64,
            Response::AccountValue { .. } => 6,
            Response::PortfolioValue { .. } => 7,
            Response::AccountUpdateTime { .. } => 8,
            Response::AccountDownloadEnd { .. } => 54,
            Response::PnL { .. } => 94,
            Response::OpenOrderEnd => 53,
            Response::CompletedOrdersEnd => 102,
            Response::ExecDetailsEnd { .. } => 55,
            Response::AccountUpdateMultiEnd { .. } => 74,
        }
    }

    /// The frame body for a connection at server `version`: classic text below 201,
    /// protobuf from 201 (the simulator only negotiates 213 in that range).
    pub fn encode(&self, version: i32) -> Vec<u8> {
        if version >= BINARY_IDS_FROM {
            self.encode_protobuf()
        } else {
            self.encode_text(version)
        }
    }

    fn encode_text(&self, version: i32) -> Vec<u8> {
        let mut b = TextBody::with_text_id(self.msg_id());
        match self {
            Response::NextValidId { order_id } => b.field(1).field(order_id),
            Response::ManagedAccounts { accounts } => b.field(1).field(accounts),
            Response::CurrentTime { epoch_s } => b.field(1).field(epoch_s),
            Response::CurrentTimeInMillis { epoch_ms } => b.field(epoch_ms),
            Response::Error {
                req_id,
                code,
                message,
                time_ms,
            } => {
                if version >= version::ERROR_TIME {
                    b.field(req_id)
                        .field(code)
                        .field(message)
                        .field("")
                        .field(time_ms)
                } else {
                    b.field(2).field(req_id).field(code).field(message);
                    if version >= version::ADVANCED_ORDER_REJECT {
                        b.field("");
                    }
                    &mut b
                }
            }
            Response::Position {
                account,
                contract,
                quantity,
                avg_cost,
            } => {
                b.field(3)
                    .field(account)
                    .field(contract.con_id)
                    .field(&contract.symbol);
                b.field(contract.sec_type.code())
                    .field(&contract.expiry)
                    .double(contract.strike);
                b.field(&contract.right)
                    .field(contract.multiplier_text())
                    .field(&contract.exchange);
                b.field(&contract.currency)
                    .field(&contract.local_symbol)
                    .field(&contract.trading_class);
                b.field(format_quantity(*quantity)).double(*avg_cost)
            }
            Response::PositionEnd | Response::OpenOrderEnd => b.field(1),
            Response::AccountSummary {
                req_id,
                account,
                tag,
                value,
                currency,
            } => b
                .field(1)
                .field(req_id)
                .field(account)
                .field(tag)
                .field(value)
                .field(currency),
            Response::AccountSummaryEnd { req_id }
            | Response::ExecDetailsEnd { req_id }
            | Response::AccountUpdateMultiEnd { req_id } => b.field(1).field(req_id),
            Response::AccountValue {
                key,
                value,
                currency,
                account,
            } => b
                .field(2)
                .field(key)
                .field(value)
                .field(currency)
                .field(account),
            Response::PortfolioValue {
                contract: c,
                quantity,
                market_price,
                market_value,
                avg_cost,
                unrealized_pnl,
                realized_pnl,
                account,
            } => {
                b.field(8)
                    .field(c.con_id)
                    .field(&c.symbol)
                    .field(c.sec_type.code())
                    .field(&c.expiry);
                b.double(c.strike)
                    .field(&c.right)
                    .field(c.multiplier_text())
                    .field(&c.primary_exchange);
                b.field(&c.currency)
                    .field(&c.local_symbol)
                    .field(&c.trading_class);
                b.field(format_quantity(*quantity))
                    .double(*market_price)
                    .double(*market_value);
                b.double(*avg_cost)
                    .double(*unrealized_pnl)
                    .double(*realized_pnl)
                    .field(account)
            }
            Response::AccountUpdateTime { stamp } => b.field(1).field(stamp),
            Response::AccountDownloadEnd { account } => b.field(1).field(account),
            Response::PnL {
                req_id,
                daily,
                unrealized,
                realized,
            } => {
                b.field(req_id).double(*daily);
                if version >= version::UNREALIZED_PNL {
                    b.double(*unrealized);
                }
                if version >= version::REALIZED_PNL {
                    b.double(*realized);
                }
                &mut b
            }
            Response::CompletedOrdersEnd => &mut b,
        };
        b.into_bytes()
    }

    fn encode_protobuf(&self) -> Vec<u8> {
        let mut body = (self.msg_id() + PROTOBUF_ID_OFFSET).to_be_bytes().to_vec();
        let s = |text: &str| Some(text.to_owned());
        match self {
            Response::NextValidId { order_id } => proto::NextValidId {
                order_id: Some(*order_id),
            }
            .encode(&mut body),
            Response::ManagedAccounts { accounts } => proto::ManagedAccounts {
                accounts_list: s(accounts),
            }
            .encode(&mut body),
            Response::CurrentTime { epoch_s } => proto::CurrentTime {
                current_time: Some(*epoch_s),
            }
            .encode(&mut body),
            Response::CurrentTimeInMillis { epoch_ms } => proto::CurrentTimeInMillis {
                current_time_in_millis: Some(*epoch_ms),
            }
            .encode(&mut body),
            Response::Error {
                req_id,
                code,
                message,
                time_ms,
            } => proto::ErrorMessage {
                id: Some(*req_id),
                error_time: Some(*time_ms),
                error_code: Some(*code),
                error_msg: s(message),
                advanced_order_reject_json: None,
            }
            .encode(&mut body),
            Response::Position {
                account,
                contract,
                quantity,
                avg_cost,
            } => proto::Position {
                account: s(account),
                contract: Some(contract_proto(contract, &contract.exchange)),
                position: Some(format_quantity(*quantity)),
                avg_cost: Some(*avg_cost),
            }
            .encode(&mut body),
            Response::PositionEnd | Response::OpenOrderEnd | Response::CompletedOrdersEnd => {
                proto::Empty {}.encode(&mut body)
            }
            Response::AccountSummary {
                req_id,
                account,
                tag,
                value,
                currency,
            } => proto::AccountSummary {
                req_id: Some(*req_id),
                account: s(account),
                tag: s(tag),
                value: s(value),
                currency: s(currency),
            }
            .encode(&mut body),
            Response::AccountSummaryEnd { req_id }
            | Response::ExecDetailsEnd { req_id }
            | Response::AccountUpdateMultiEnd { req_id } => proto::ReqIdOnly {
                req_id: Some(*req_id),
            }
            .encode(&mut body),
            Response::AccountValue {
                key,
                value,
                currency,
                account,
            } => proto::AccountValue {
                key: s(key),
                value: s(value),
                currency: s(currency),
                account_name: s(account),
            }
            .encode(&mut body),
            Response::PortfolioValue {
                contract,
                quantity,
                market_price,
                market_value,
                avg_cost,
                unrealized_pnl,
                realized_pnl,
                account,
            } => proto::PortfolioValue {
                contract: Some(contract_proto(contract, &contract.primary_exchange)),
                position: Some(format_quantity(*quantity)),
                market_price: Some(*market_price),
                market_value: Some(*market_value),
                average_cost: Some(*avg_cost),
                unrealized_pnl: Some(*unrealized_pnl),
                realized_pnl: Some(*realized_pnl),
                account_name: s(account),
            }
            .encode(&mut body),
            Response::AccountUpdateTime { stamp } => proto::AccountUpdateTime {
                time_stamp: s(stamp),
            }
            .encode(&mut body),
            Response::AccountDownloadEnd { account } => proto::AccountDataEnd {
                account_name: s(account),
            }
            .encode(&mut body),
            Response::PnL {
                req_id,
                daily,
                unrealized,
                realized,
            } => proto::PnL {
                req_id: Some(*req_id),
                daily_pnl: Some(*daily),
                unrealized_pnl: Some(*unrealized),
                realized_pnl: Some(*realized),
            }
            .encode(&mut body),
        }
        .expect("encoding into a Vec cannot run out of space");
        body
    }
}

/// The protobuf contract; text fields that do not apply to the security type are left absent.
/// The strike is always present (0 for non-options), as ibapi's Python decoder otherwise
/// reads an absent strike as its "unset" sentinel (f64::MAX) where the text encoding gives 0.
/// `exchange` is the exchange for positions and the primary exchange for portfolio values,
/// mirroring the text layouts.
fn contract_proto(c: &Contract, exchange: &str) -> proto::Contract {
    let non_empty = |text: &str| (!text.is_empty()).then(|| text.to_owned());
    proto::Contract {
        con_id: Some(c.con_id),
        symbol: non_empty(&c.symbol),
        sec_type: Some(c.sec_type.code().to_owned()),
        last_trade_date_or_contract_month: non_empty(&c.expiry),
        strike: Some(c.strike),
        right: non_empty(&c.right),
        multiplier: c.multiplier,
        exchange: non_empty(exchange),
        primary_exch: non_empty(&c.primary_exchange),
        currency: non_empty(&c.currency),
        local_symbol: non_empty(&c.local_symbol),
        trading_class: non_empty(&c.trading_class),
    }
}

/// A quantity as IB's decimal text: `100`, `-25`, `0.5`.
pub fn format_quantity(quantity: f64) -> String {
    format!("{quantity}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::SecType;
    use crate::text::split_fields;

    fn option_contract() -> Contract {
        Contract {
            con_id: 700_000_001,
            symbol: "AAPL".into(),
            sec_type: SecType::Option,
            expiry: "20261218".into(),
            strike: 250.0,
            right: "C".into(),
            multiplier: Some(100.0),
            exchange: "SMART".into(),
            primary_exchange: "CBOE".into(),
            currency: "USD".into(),
            local_symbol: "AAPL  261218C00250000".into(),
            trading_class: "AAPL".into(),
        }
    }

    fn notice() -> Response {
        Response::Error {
            req_id: -1,
            code: 2104,
            message: "Market data farm connection is OK:usfarm".into(),
            time_ms: 5,
        }
    }

    #[test]
    fn error_layout_follows_the_three_text_ranges() {
        let fields = |v| notice().encode(v);
        assert_eq!(
            fields(165),
            b"4\x002\x00-1\x002104\x00Market data farm connection is OK:usfarm\x00"
        );
        assert_eq!(
            fields(178),
            b"4\x002\x00-1\x002104\x00Market data farm connection is OK:usfarm\x00\x00"
        );
        assert_eq!(
            fields(200),
            b"4\x00-1\x002104\x00Market data farm connection is OK:usfarm\x00\x005\x00"
        );
    }

    #[test]
    fn error_at_213_is_protobuf_with_a_ten_byte_minus_one() {
        let body = notice().encode(213);
        assert_eq!(&body[..4], &[0, 0, 0, 204]);
        let decoded = proto::ErrorMessage::decode(&body[4..]).unwrap();
        assert_eq!(decoded.id, Some(-1));
        assert_eq!(decoded.error_code, Some(2104));
        assert_eq!(decoded.error_time, Some(5));
        assert_eq!(
            &body[4..15],
            &[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
            ]
        );
    }

    #[test]
    fn managed_accounts_matches_the_documented_wire_bytes() {
        let response = Response::ManagedAccounts {
            accounts: "DU1234567".into(),
        };
        assert_eq!(response.encode(178), b"15\x001\x00DU1234567\x00");
        assert_eq!(response.encode(213), b"\0\0\0\xd7\x0a\x09DU1234567");
        assert_eq!(
            Response::NextValidId { order_id: 1 }.encode(213),
            b"\0\0\0\xd1\x08\x01"
        );
        assert_eq!(
            Response::CurrentTimeInMillis { epoch_ms: 7 }.encode(200),
            b"109\x007\x00"
        );
    }

    #[test]
    fn position_has_sixteen_text_fields_at_version_three() {
        let position = Response::Position {
            account: "DU1".into(),
            contract: option_contract(),
            quantity: -2.0,
            avg_cost: 512.25,
        };
        let body = position.encode(178);
        let fields = split_fields(&body).unwrap();
        assert_eq!(
            fields.len(),
            16,
            "ib_async unpacks exactly 16 fields: {fields:?}"
        );
        assert_eq!(&fields[..3], ["61", "3", "DU1"]);
        assert_eq!(&fields[6..9], ["20261218", "250.0", "C"]);
        assert_eq!(fields[9], "100");
        assert_eq!(&fields[14..], ["-2", "512.25"]);
    }

    #[test]
    fn portfolio_value_has_twenty_text_fields_at_version_eight() {
        let value = Response::PortfolioValue {
            contract: option_contract(),
            quantity: 3.0,
            market_price: 6.1,
            market_value: 1830.0,
            avg_cost: 512.25,
            unrealized_pnl: 293.25,
            realized_pnl: 0.0,
            account: "DU1".into(),
        };
        let body = value.encode(178);
        let fields = split_fields(&body).unwrap();
        assert_eq!(
            fields.len(),
            20,
            "ib_async unpacks exactly 20 fields: {fields:?}"
        );
        assert_eq!(fields[9], "CBOE", "portfolio carries the primary exchange");
        let decoded = proto::PortfolioValue::decode(&value.encode(213)[4..]).unwrap();
        assert_eq!(
            decoded.contract.unwrap().multiplier,
            Some(100.0),
            "protobuf multiplier is a double"
        );
        assert_eq!(decoded.position.as_deref(), Some("3"));
    }

    #[test]
    fn pnl_grows_fields_with_the_version() {
        let pnl = Response::PnL {
            req_id: 1_500_000_001,
            daily: 1.5,
            unrealized: 2.0,
            realized: 3.0,
        };
        assert_eq!(split_fields(&pnl.encode(128)).unwrap().len(), 3);
        assert_eq!(split_fields(&pnl.encode(130)).unwrap().len(), 4);
        assert_eq!(
            split_fields(&pnl.encode(178)).unwrap(),
            ["94", "1500000001", "1.5", "2.0", "3.0"]
        );
    }

    #[test]
    fn end_markers_have_their_exact_layouts() {
        assert_eq!(Response::CompletedOrdersEnd.encode(178), b"102\x00");
        assert_eq!(Response::OpenOrderEnd.encode(178), b"53\x001\x00");
        assert_eq!(
            Response::ExecDetailsEnd { req_id: 4 }.encode(178),
            b"55\x001\x004\x00"
        );
        assert_eq!(
            Response::AccountUpdateMultiEnd { req_id: 4 }.encode(213),
            b"\0\0\x01\x12\x08\x04"
        );
    }
}
