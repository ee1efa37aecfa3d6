//! From what the clients decode to what the protocol reports, in one place for both clients.

use gatewatch_protocol::{Instrument, Position, SummaryRow};
use gatewatch_wire::contract::Contract;

/// Market data for one position, from account updates.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PortfolioEntry {
    pub(crate) account: String,
    pub(crate) con_id: i32,
    pub(crate) market_price: f64,
    pub(crate) market_value: f64,
    pub(crate) unrealized_pnl: f64,
    pub(crate) realized_pnl: f64,
}

/// Fills each position's market fields from the portfolio entry of the same account and
/// contract; positions with no entry keep `None`.
pub(crate) fn merge_portfolio(positions: &mut [Position], portfolio: &[PortfolioEntry]) {
    for position in positions {
        let entry = portfolio
            .iter()
            .find(|e| e.account == position.account && e.con_id == position.instrument.con_id);
        if let Some(entry) = entry {
            position.market_price = Some(entry.market_price);
            position.market_value = Some(entry.market_value);
            position.unrealized_pnl = Some(entry.unrealized_pnl);
            position.realized_pnl = Some(entry.realized_pnl);
        }
    }
}

/// A position before account updates filled in its market data.
pub(crate) fn position(
    account: String,
    instrument: Instrument,
    quantity: f64,
    average_cost: f64,
) -> Position {
    Position {
        account,
        instrument,
        quantity,
        average_cost,
        market_price: None,
        market_value: None,
        unrealized_pnl: None,
        realized_pnl: None,
    }
}

/// An instrument from the wire crate's contract (classic client).
pub(crate) fn instrument_from_wire(c: &Contract) -> Instrument {
    instrument(InstrumentParts {
        con_id: c.con_id,
        symbol: &c.symbol,
        sec_type: c.sec_type.code(),
        expiry: &c.expiry,
        strike: c.strike,
        right: &c.right,
        multiplier: c.multiplier,
        exchange: &c.exchange,
        currency: &c.currency,
        local_symbol: &c.local_symbol,
        trading_class: &c.trading_class,
    })
}

/// An instrument from `ibapi`'s contract (protobuf client).
pub(crate) fn instrument_from_ibapi(c: &ibapi::contracts::Contract) -> Instrument {
    let sec_type = c.security_type.to_string();
    let right = c.right.map(|r| r.as_str()).unwrap_or("");
    instrument(InstrumentParts {
        con_id: c.contract_id,
        symbol: &c.symbol.to_string(),
        sec_type: &sec_type,
        expiry: &c.last_trade_date_or_contract_month,
        strike: c.strike,
        right,
        multiplier: c.multiplier.parse().ok(),
        exchange: &c.exchange.to_string(),
        currency: &c.currency.to_string(),
        local_symbol: &c.local_symbol,
        trading_class: &c.trading_class,
    })
}

struct InstrumentParts<'a> {
    con_id: i32,
    symbol: &'a str,
    sec_type: &'a str,
    expiry: &'a str,
    strike: f64,
    right: &'a str,
    multiplier: Option<f64>,
    exchange: &'a str,
    currency: &'a str,
    local_symbol: &'a str,
    trading_class: &'a str,
}

/// The one mapping: a zero strike, an empty right and a zero multiplier mean "none".
fn instrument(p: InstrumentParts<'_>) -> Instrument {
    Instrument {
        con_id: p.con_id,
        symbol: p.symbol.to_owned(),
        sec_type: p.sec_type.to_owned(),
        expiry: p.expiry.to_owned(),
        strike: (p.strike != 0.0 && p.strike.is_finite() && p.strike < f64::MAX)
            .then_some(p.strike),
        right: (!p.right.is_empty()).then(|| p.right.to_owned()),
        multiplier: p.multiplier.filter(|m| *m != 0.0),
        exchange: p.exchange.to_owned(),
        currency: p.currency.to_owned(),
        local_symbol: p.local_symbol.to_owned(),
        trading_class: p.trading_class.to_owned(),
    }
}

/// A summary row.
pub(crate) fn summary_row(account: &str, tag: &str, value: &str, currency: &str) -> SummaryRow {
    SummaryRow {
        account: account.to_owned(),
        tag: tag.to_owned(),
        value: value.to_owned(),
        currency: currency.to_owned(),
    }
}

/// The tags to request: the caller's, or the standard set.
pub(crate) fn summary_tags(tags: &[String]) -> Vec<String> {
    if tags.is_empty() {
        gatewatch_protocol::DEFAULT_SUMMARY_TAGS
            .iter()
            .map(|t| (*t).to_owned())
            .collect()
    } else {
        tags.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatewatch_wire::contract::SecType;

    fn stock() -> Contract {
        Contract {
            con_id: 265598,
            symbol: "AAPL".into(),
            sec_type: SecType::Stock,
            expiry: String::new(),
            strike: 0.0,
            right: String::new(),
            multiplier: None,
            exchange: "SMART".into(),
            primary_exchange: "NASDAQ".into(),
            currency: "USD".into(),
            local_symbol: "AAPL".into(),
            trading_class: "NMS".into(),
        }
    }

    #[test]
    fn stock_fields_that_do_not_apply_are_none() {
        let instrument = instrument_from_wire(&stock());
        assert_eq!(
            (instrument.strike, instrument.right, instrument.multiplier),
            (None, None, None)
        );
        assert_eq!(instrument.sec_type, "STK");
    }

    #[test]
    fn portfolio_entries_fill_matching_positions_only() {
        let mut positions = vec![
            position("DU1".into(), instrument_from_wire(&stock()), 10.0, 100.0),
            position("DU2".into(), instrument_from_wire(&stock()), 5.0, 90.0),
        ];
        let entry = PortfolioEntry {
            account: "DU1".into(),
            con_id: 265598,
            market_price: 110.0,
            market_value: 1100.0,
            unrealized_pnl: 100.0,
            realized_pnl: 0.0,
        };
        merge_portfolio(&mut positions, &[entry]);
        assert_eq!(positions[0].market_value, Some(1100.0));
        assert_eq!(
            positions[1].market_value, None,
            "another account's entry does not apply"
        );
    }

    #[test]
    fn empty_tag_list_means_the_standard_set() {
        assert!(summary_tags(&[]).contains(&"NetLiquidation".to_owned()));
        assert_eq!(summary_tags(&["Cushion".into()]), ["Cushion"]);
    }
}
