//! From what the gateway client decodes to what the protocol reports.

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

/// An instrument from the wire crate's contract. A zero strike, an empty right and a zero
/// multiplier mean "none".
pub(crate) fn instrument(c: &Contract) -> Instrument {
    Instrument {
        con_id: c.con_id,
        symbol: c.symbol.clone(),
        sec_type: c.sec_type.code().to_owned(),
        expiry: c.expiry.clone(),
        strike: (c.strike != 0.0 && c.strike.is_finite() && c.strike < f64::MAX)
            .then_some(c.strike),
        right: (!c.right.is_empty()).then(|| c.right.clone()),
        multiplier: c.multiplier.filter(|m| *m != 0.0),
        exchange: c.exchange.clone(),
        currency: c.currency.clone(),
        local_symbol: c.local_symbol.clone(),
        trading_class: c.trading_class.clone(),
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
        let instrument = instrument(&stock());
        assert_eq!(
            (instrument.strike, instrument.right, instrument.multiplier),
            (None, None, None)
        );
        assert_eq!(instrument.sec_type, "STK");
    }

    #[test]
    fn portfolio_entries_fill_matching_positions_only() {
        let mut positions = vec![
            position("DU1".into(), instrument(&stock()), 10.0, 100.0),
            position("DU2".into(), instrument(&stock()), 5.0, 90.0),
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
