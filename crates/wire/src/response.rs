//! Messages the simulator sends, encoded for the version negotiated on each connection.
//!
//! [`Response::encode`] is the one place that knows each message's text layout per version
//! (e.g. the three error layouts), its protobuf form, and from which version each message
//! family is protobuf ([`protobuf_from`]); [`Response::decode`] reads either form, as the
//! worker's client must.

use prost::Message;

use crate::contract::{Contract, SecType};
use crate::text::{FieldReader, TextBody};
use crate::{
    BINARY_IDS_FROM, Body, DecodeError, PROTOBUF_ID_OFFSET, PROTOBUF_VERSION, proto, split_body,
};

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

/// The server version from which a message goes out as protobuf. The client sources gate
/// only requests; a gateway is assumed to gate its replies by the same families (errors and
/// executions 201, orders 204, accounts and positions 207, PnL 210, ids and time 213).
pub fn protobuf_from(msg_id: u32) -> i32 {
    match msg_id {
        4 | 55 => 201,
        53 | 102 => 204,
        15 | 61 | 62 | 63 | 64 | 6 | 7 | 8 | 54 | 74 => 207,
        94 => 210,
        _ => PROTOBUF_VERSION,
    }
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

    /// The frame body for a connection at server `version`: classic text below 201, then
    /// text after a binary id until the message's family gate ([`protobuf_from`]), then
    /// protobuf.
    pub fn encode(&self, version: i32) -> Vec<u8> {
        if version >= protobuf_from(self.msg_id()) {
            self.encode_protobuf()
        } else if version >= BINARY_IDS_FROM {
            self.encode_text(TextBody::with_binary_id(self.msg_id()), version)
        } else {
            self.encode_text(TextBody::with_text_id(self.msg_id()), version)
        }
    }

    fn encode_text(&self, mut b: TextBody, version: i32) -> Vec<u8> {
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

impl Response {
    /// Decodes a frame body received at server `version` (the client's direction).
    ///
    /// A message outside the subset is [`DecodeError::UnknownMessage`]; a client skips it.
    pub fn decode(body: &[u8], version: i32) -> Result<Response, DecodeError> {
        match split_body(body, version)? {
            Body::Text { msg_id, fields } => decode_text(msg_id, FieldReader::new(fields), version),
            Body::Proto { msg_id, bytes } => decode_protobuf(msg_id, bytes),
        }
    }
}

fn decode_text(msg_id: u32, mut f: FieldReader<'_>, version: i32) -> Result<Response, DecodeError> {
    // Every message of the subset but these starts with a version field.
    let unversioned =
        matches!(msg_id, 109 | 94 | 102) || (msg_id == 4 && version >= version::ERROR_TIME);
    if !unversioned {
        f.skip_version()?;
    }
    Ok(match msg_id {
        9 => Response::NextValidId {
            order_id: f.required_i32("orderId")?,
        },
        15 => Response::ManagedAccounts {
            accounts: f.string("accountsList")?.to_owned(),
        },
        49 => Response::CurrentTime {
            epoch_s: f.int("time")?.ok_or(DecodeError::MissingField("time"))?,
        },
        109 => Response::CurrentTimeInMillis {
            epoch_ms: f
                .int("timeInMillis")?
                .ok_or(DecodeError::MissingField("timeInMillis"))?,
        },
        4 => {
            let req_id = f.required_i32("reqId")?;
            let code = f.required_i32("errorCode")?;
            let message = f.string("errorString")?.to_owned();
            let time_ms = if version >= version::ERROR_TIME {
                f.string("advancedOrderRejectJson")?;
                f.int("errorTime")?.unwrap_or(0)
            } else {
                0
            };
            Response::Error {
                req_id,
                code,
                message,
                time_ms,
            }
        }
        61 => {
            let account = f.string("account")?.to_owned();
            let contract = text_contract(&mut f, ContractLayout::Position)?;
            Response::Position {
                account,
                contract,
                quantity: f.double("position")?,
                avg_cost: f.double("avgCost")?,
            }
        }
        62 => Response::PositionEnd,
        63 => Response::AccountSummary {
            req_id: f.required_i32("reqId")?,
            account: f.string("account")?.to_owned(),
            tag: f.string("tag")?.to_owned(),
            value: f.string("value")?.to_owned(),
            currency: f.string("currency")?.to_owned(),
        },
        64 => Response::AccountSummaryEnd {
            req_id: f.required_i32("reqId")?,
        },
        6 => Response::AccountValue {
            key: f.string("key")?.to_owned(),
            value: f.string("value")?.to_owned(),
            currency: f.string("currency")?.to_owned(),
            account: f.string("accountName")?.to_owned(),
        },
        7 => Response::PortfolioValue {
            contract: text_contract(&mut f, ContractLayout::Portfolio)?,
            quantity: f.double("position")?,
            market_price: f.double("marketPrice")?,
            market_value: f.double("marketValue")?,
            avg_cost: f.double("averageCost")?,
            unrealized_pnl: f.double("unrealizedPNL")?,
            realized_pnl: f.double("realizedPNL")?,
            account: f.string("accountName")?.to_owned(),
        },
        8 => Response::AccountUpdateTime {
            stamp: f.string("timeStamp")?.to_owned(),
        },
        54 => Response::AccountDownloadEnd {
            account: f.string("accountName")?.to_owned(),
        },
        94 => Response::PnL {
            req_id: f.required_i32("reqId")?,
            daily: f.double("dailyPnL")?,
            unrealized: if version >= version::UNREALIZED_PNL {
                f.double("unrealizedPnL")?
            } else {
                0.0
            },
            realized: if version >= version::REALIZED_PNL {
                f.double("realizedPnL")?
            } else {
                0.0
            },
        },
        53 => Response::OpenOrderEnd,
        102 => Response::CompletedOrdersEnd,
        55 => Response::ExecDetailsEnd {
            req_id: f.required_i32("reqId")?,
        },
        74 => Response::AccountUpdateMultiEnd {
            req_id: f.required_i32("reqId")?,
        },
        other => return Err(DecodeError::UnknownMessage(other)),
    })
}

/// Position messages carry the exchange; portfolio messages the primary exchange in its place.
#[derive(Clone, Copy)]
enum ContractLayout {
    Position,
    Portfolio,
}

fn text_contract(f: &mut FieldReader<'_>, layout: ContractLayout) -> Result<Contract, DecodeError> {
    let con_id = f.required_i32("conId")?;
    let symbol = f.string("symbol")?.to_owned();
    let sec_type = sec_type(f.string("secType")?)?;
    let expiry = f.string("lastTradeDateOrContractMonth")?.to_owned();
    let strike = f.double("strike")?;
    let right = f.string("right")?.to_owned();
    let multiplier = match f.string("multiplier")? {
        "" => None,
        text => Some(
            text.parse()
                .map_err(|_| DecodeError::BadNumber("multiplier"))?,
        ),
    };
    let exchange = f.string("exchange")?.to_owned();
    let currency = f.string("currency")?.to_owned();
    let local_symbol = f.string("localSymbol")?.to_owned();
    let trading_class = f.string("tradingClass")?.to_owned();
    let (exchange, primary_exchange) = match layout {
        ContractLayout::Position => (exchange, String::new()),
        ContractLayout::Portfolio => (String::new(), exchange),
    };
    Ok(Contract {
        con_id,
        symbol,
        sec_type,
        expiry,
        strike,
        right,
        multiplier,
        exchange,
        primary_exchange,
        currency,
        local_symbol,
        trading_class,
    })
}

fn sec_type(code: &str) -> Result<SecType, DecodeError> {
    SecType::from_code(code)
        .ok_or_else(|| DecodeError::UnknownSecType(code.chars().take(16).collect()))
}

fn decode_protobuf(msg_id: u32, bytes: &[u8]) -> Result<Response, DecodeError> {
    let text = |value: Option<String>| value.unwrap_or_default();
    let required = |name: &'static str| DecodeError::MissingField(name);
    Ok(match msg_id {
        9 => Response::NextValidId {
            order_id: proto::NextValidId::decode(bytes)?
                .order_id
                .ok_or(required("orderId"))?,
        },
        15 => Response::ManagedAccounts {
            accounts: text(proto::ManagedAccounts::decode(bytes)?.accounts_list),
        },
        49 => Response::CurrentTime {
            epoch_s: proto::CurrentTime::decode(bytes)?
                .current_time
                .ok_or(required("currentTime"))?,
        },
        109 => Response::CurrentTimeInMillis {
            epoch_ms: proto::CurrentTimeInMillis::decode(bytes)?
                .current_time_in_millis
                .ok_or(required("currentTimeInMillis"))?,
        },
        4 => {
            let m = proto::ErrorMessage::decode(bytes)?;
            Response::Error {
                req_id: m.id.unwrap_or(-1),
                code: m.error_code.ok_or(required("errorCode"))?,
                message: text(m.error_msg),
                time_ms: m.error_time.unwrap_or(0),
            }
        }
        61 => {
            let m = proto::Position::decode(bytes)?;
            Response::Position {
                account: text(m.account),
                contract: proto_contract(
                    m.contract.ok_or(required("contract"))?,
                    ContractLayout::Position,
                )?,
                quantity: parse_quantity(m.position.ok_or(required("position"))?)?,
                avg_cost: m.avg_cost.unwrap_or(0.0),
            }
        }
        62 => Response::PositionEnd,
        63 => {
            let m = proto::AccountSummary::decode(bytes)?;
            Response::AccountSummary {
                req_id: m.req_id.ok_or(required("reqId"))?,
                account: text(m.account),
                tag: text(m.tag),
                value: text(m.value),
                currency: text(m.currency),
            }
        }
        64 => Response::AccountSummaryEnd {
            req_id: req_id(bytes)?,
        },
        6 => {
            let m = proto::AccountValue::decode(bytes)?;
            Response::AccountValue {
                key: text(m.key),
                value: text(m.value),
                currency: text(m.currency),
                account: text(m.account_name),
            }
        }
        7 => {
            let m = proto::PortfolioValue::decode(bytes)?;
            Response::PortfolioValue {
                contract: proto_contract(
                    m.contract.ok_or(required("contract"))?,
                    ContractLayout::Portfolio,
                )?,
                quantity: parse_quantity(m.position.ok_or(required("position"))?)?,
                market_price: m.market_price.unwrap_or(0.0),
                market_value: m.market_value.unwrap_or(0.0),
                avg_cost: m.average_cost.unwrap_or(0.0),
                unrealized_pnl: m.unrealized_pnl.unwrap_or(0.0),
                realized_pnl: m.realized_pnl.unwrap_or(0.0),
                account: text(m.account_name),
            }
        }
        8 => Response::AccountUpdateTime {
            stamp: text(proto::AccountUpdateTime::decode(bytes)?.time_stamp),
        },
        54 => Response::AccountDownloadEnd {
            account: text(proto::AccountDataEnd::decode(bytes)?.account_name),
        },
        94 => {
            let m = proto::PnL::decode(bytes)?;
            Response::PnL {
                req_id: m.req_id.ok_or(required("reqId"))?,
                daily: m.daily_pnl.unwrap_or(0.0),
                unrealized: m.unrealized_pnl.unwrap_or(0.0),
                realized: m.realized_pnl.unwrap_or(0.0),
            }
        }
        53 => Response::OpenOrderEnd,
        102 => Response::CompletedOrdersEnd,
        55 => Response::ExecDetailsEnd {
            req_id: req_id(bytes)?,
        },
        74 => Response::AccountUpdateMultiEnd {
            req_id: req_id(bytes)?,
        },
        other => return Err(DecodeError::UnknownMessage(other)),
    })
}

fn req_id(bytes: &[u8]) -> Result<i32, DecodeError> {
    proto::ReqIdOnly::decode(bytes)?
        .req_id
        .ok_or(DecodeError::MissingField("reqId"))
}

fn parse_quantity(text: String) -> Result<f64, DecodeError> {
    text.parse().map_err(|_| DecodeError::BadNumber("position"))
}

fn proto_contract(c: proto::Contract, layout: ContractLayout) -> Result<Contract, DecodeError> {
    let text = |value: Option<String>| value.unwrap_or_default();
    let exchange = match layout {
        ContractLayout::Position => text(c.exchange),
        ContractLayout::Portfolio => String::new(),
    };
    Ok(Contract {
        con_id: c.con_id.unwrap_or(0),
        symbol: text(c.symbol),
        sec_type: sec_type(c.sec_type.as_deref().unwrap_or(""))?,
        expiry: text(c.last_trade_date_or_contract_month),
        strike: c.strike.unwrap_or(0.0),
        right: text(c.right),
        multiplier: c.multiplier,
        exchange,
        primary_exchange: text(c.primary_exch),
        currency: text(c.currency),
        local_symbol: text(c.local_symbol),
        trading_class: text(c.trading_class),
    })
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

    fn every_response() -> Vec<Response> {
        let contract = option_contract();
        vec![
            Response::NextValidId { order_id: 1 },
            Response::ManagedAccounts {
                accounts: "DU1,DU2".into(),
            },
            Response::CurrentTime {
                epoch_s: 1_790_000_000,
            },
            Response::CurrentTimeInMillis {
                epoch_ms: 1_790_000_000_123,
            },
            notice(),
            Response::Position {
                account: "DU1".into(),
                contract: Contract {
                    primary_exchange: String::new(),
                    ..contract.clone()
                },
                quantity: -2.5,
                avg_cost: 512.25,
            },
            Response::PositionEnd,
            Response::AccountSummary {
                req_id: i32::MAX,
                account: "DU1".into(),
                tag: "NetLiquidation".into(),
                value: "1.50".into(),
                currency: "USD".into(),
            },
            Response::AccountSummaryEnd {
                req_id: 1_500_000_000,
            },
            Response::AccountValue {
                key: "AccountCode".into(),
                value: "DU1".into(),
                currency: String::new(),
                account: "DU1".into(),
            },
            Response::PortfolioValue {
                contract: Contract {
                    exchange: String::new(),
                    ..contract
                },
                quantity: 3.0,
                market_price: 6.1,
                market_value: 1830.0,
                avg_cost: 512.25,
                unrealized_pnl: 293.25,
                realized_pnl: -1.5,
                account: "DU1".into(),
            },
            Response::AccountUpdateTime {
                stamp: "10:22".into(),
            },
            Response::AccountDownloadEnd {
                account: "DU1".into(),
            },
            Response::PnL {
                req_id: 9,
                daily: 1.5,
                unrealized: 2.0,
                realized: 3.0,
            },
            Response::OpenOrderEnd,
            Response::CompletedOrdersEnd,
            Response::ExecDetailsEnd { req_id: 4 },
            Response::AccountUpdateMultiEnd { req_id: 5 },
        ]
    }

    #[test]
    fn every_response_round_trips_in_both_encodings() {
        for version in [178, 200, 201, 204, 207, 210, 213] {
            for response in every_response() {
                let body = response.encode(version);
                let decoded = Response::decode(&body, version)
                    .unwrap_or_else(|e| panic!("{response:?} at {version}: {e}"));
                let expected = match (&response, version) {
                    // Below 194 the error carries no time.
                    (
                        Response::Error {
                            req_id,
                            code,
                            message,
                            ..
                        },
                        v,
                    ) if v < 194 => Response::Error {
                        req_id: *req_id,
                        code: *code,
                        message: message.clone(),
                        time_ms: 0,
                    },
                    _ => response.clone(),
                };
                assert_eq!(decoded, expected, "at version {version}");
            }
        }
    }

    #[test]
    fn unknown_messages_and_security_types_are_named() {
        assert!(matches!(
            Response::decode(b"87\x001\x00", 178),
            Err(DecodeError::UnknownMessage(87))
        ));
        let mut bad = Response::Position {
            account: "DU1".into(),
            contract: option_contract(),
            quantity: 1.0,
            avg_cost: 1.0,
        }
        .encode(178);
        let at = bad.windows(5).position(|w| w == b"\x00OPT\x00").unwrap();
        bad[at + 1..at + 4].copy_from_slice(b"XYZ");
        assert!(
            matches!(Response::decode(&bad, 178), Err(DecodeError::UnknownSecType(code)) if code == "XYZ")
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
