//! The simulated accounts and what they hold at the opening bell.
//!
//! Two `DU…` (paper) accounts with 22 positions over stocks, options, futures and FX cash, with
//! contract fields as a trader would see them in TWS; [`book_with_ids`] gives the same
//! holdings other account ids (`U…` for a live-like gateway). Contract ids of listed stocks and FX
//! pairs are IB's; those of the derivatives are made up but in IB's ranges.

use crate::contract::{Contract, SecType};

/// One position in the opening book.
#[derive(Debug, Clone)]
pub struct OpeningPosition {
    /// The instrument.
    pub contract: Contract,
    /// Signed quantity.
    pub quantity: f64,
    /// Average cost per unit, multiplier included for derivatives (as IB reports it).
    pub avg_cost: f64,
    /// Opening price per unit of the underlying quote (before the multiplier).
    pub price: f64,
}

/// One account in the opening book.
#[derive(Debug, Clone)]
pub struct OpeningAccount {
    /// `DU…` for paper accounts, `U…` for live ones.
    pub id: String,
    /// Cash in the base currency (USD).
    pub cash: f64,
    /// PnL already realized today.
    pub realized_pnl: f64,
    /// Holdings.
    pub positions: Vec<OpeningPosition>,
}

fn contract(con_id: i32, symbol: &str, sec_type: SecType) -> Contract {
    Contract {
        con_id,
        symbol: symbol.into(),
        sec_type,
        expiry: String::new(),
        strike: 0.0,
        right: String::new(),
        multiplier: None,
        exchange: "SMART".into(),
        primary_exchange: String::new(),
        currency: "USD".into(),
        local_symbol: symbol.into(),
        trading_class: symbol.into(),
    }
}

fn stock(con_id: i32, symbol: &str, primary: &str) -> Contract {
    let trading_class = if primary == "NASDAQ" { "NMS" } else { symbol };
    Contract {
        primary_exchange: primary.into(),
        trading_class: trading_class.into(),
        ..contract(con_id, symbol, SecType::Stock)
    }
}

fn option(con_id: i32, symbol: &str, expiry: &str, strike: f64, right: &str) -> Contract {
    // OCC symbology: root padded to six, YYMMDD, right, strike × 1000 in eight digits.
    let local_symbol = format!(
        "{symbol:<6}{}{right}{:08}",
        &expiry[2..],
        (strike * 1000.0) as u64
    );
    Contract {
        expiry: expiry.into(),
        strike,
        right: right.into(),
        multiplier: Some(100.0),
        primary_exchange: "CBOE".into(),
        local_symbol,
        ..contract(con_id, symbol, SecType::Option)
    }
}

fn future(
    con_id: i32,
    symbol: &str,
    expiry: &str,
    exchange: &str,
    multiplier: f64,
    local_symbol: &str,
) -> Contract {
    Contract {
        expiry: expiry.into(),
        multiplier: Some(multiplier),
        exchange: exchange.into(),
        primary_exchange: exchange.into(),
        local_symbol: local_symbol.into(),
        ..contract(con_id, symbol, SecType::Future)
    }
}

fn fx(con_id: i32, base: &str) -> Contract {
    let pair = format!("{base}.USD");
    Contract {
        exchange: "IDEALPRO".into(),
        primary_exchange: "IDEALPRO".into(),
        local_symbol: pair.clone(),
        trading_class: pair,
        ..contract(con_id, base, SecType::Cash)
    }
}

fn held(contract: Contract, quantity: f64, avg_cost: f64, price: f64) -> OpeningPosition {
    OpeningPosition {
        contract,
        quantity,
        avg_cost,
        price,
    }
}

/// The account ids of a live-like gateway (`--live`): the paper ids without the `D`.
pub const LIVE_ACCOUNT_IDS: [&str; 2] = ["U1234567", "U7654321"];

/// The opening book under other account ids: account `i` holds what the book's account
/// `i mod 2` holds. No ids: the book as it is.
pub fn book_with_ids(ids: &[String]) -> Vec<OpeningAccount> {
    let book = opening_book();
    if ids.is_empty() {
        return book;
    }
    ids.iter()
        .enumerate()
        .map(|(i, id)| OpeningAccount {
            id: id.clone(),
            ..book[i % book.len()].clone()
        })
        .collect()
}

/// The opening book: the same every time, so tests can compare against it.
pub fn opening_book() -> Vec<OpeningAccount> {
    vec![
        OpeningAccount {
            id: "DU1234567".into(),
            cash: 250_000.0,
            realized_pnl: 1_240.50,
            positions: vec![
                held(stock(265598, "AAPL", "NASDAQ"), 300.0, 198.40, 232.50),
                held(stock(272093, "MSFT", "NASDAQ"), 150.0, 402.10, 421.30),
                held(stock(4815747, "NVDA", "NASDAQ"), 400.0, 121.75, 138.20),
                held(stock(756733, "SPY", "ARCA"), 100.0, 561.20, 594.80),
                held(stock(76792991, "TSLA", "NASDAQ"), -50.0, 352.00, 338.60),
                held(stock(1520593, "JPM", "NYSE"), 120.0, 228.40, 243.10),
                held(
                    option(743252117, "AAPL", "20261218", 250.0, "C"),
                    10.0,
                    485.0,
                    3.10,
                ),
                held(
                    option(741398230, "SPY", "20261218", 580.0, "P"),
                    5.0,
                    620.0,
                    4.05,
                ),
                held(
                    future(637533641, "ES", "20261218", "CME", 50.0, "ESZ6"),
                    2.0,
                    300_512.5,
                    6032.50,
                ),
                held(fx(12087792, "EUR"), 25_000.0, 1.0712, 1.0845),
                held(fx(12087797, "GBP"), 10_000.0, 1.2633, 1.2718),
            ],
        },
        OpeningAccount {
            id: "DU7654321".into(),
            cash: 120_000.0,
            realized_pnl: -310.25,
            positions: vec![
                held(stock(3691937, "AMZN", "NASDAQ"), 80.0, 186.30, 209.70),
                held(stock(208813719, "GOOGL", "NASDAQ"), 120.0, 165.90, 178.40),
                held(stock(13977, "XOM", "NYSE"), 200.0, 112.60, 118.25),
                held(stock(8894, "KO", "NYSE"), 300.0, 62.10, 70.45),
                held(stock(265598, "AAPL", "NASDAQ"), 50.0, 210.00, 232.50),
                held(
                    option(745120986, "NVDA", "20270115", 150.0, "C"),
                    4.0,
                    1210.0,
                    14.80,
                ),
                held(
                    option(744877301, "TSLA", "20261218", 300.0, "P"),
                    -3.0,
                    1105.0,
                    9.60,
                ),
                held(
                    future(637533450, "NQ", "20261218", "CME", 20.0, "NQZ6"),
                    1.0,
                    420_200.0,
                    21180.25,
                ),
                held(
                    future(688542610, "CL", "20261217", "NYMEX", 1000.0, "CLF7"),
                    -1.0,
                    70_120.0,
                    69.40,
                ),
                held(
                    future(703245813, "GC", "20270224", "COMEX", 100.0, "GCG7"),
                    1.0,
                    265_000.0,
                    2688.40,
                ),
                held(fx(14433401, "AUD"), -30_000.0, 0.6598, 0.6532),
            ],
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn book_covers_every_security_type_with_twenty_plus_positions() {
        let book = opening_book();
        let positions: Vec<_> = book.iter().flat_map(|a| &a.positions).collect();
        assert!(positions.len() >= 20, "only {} positions", positions.len());
        for sec_type in [
            SecType::Stock,
            SecType::Option,
            SecType::Future,
            SecType::Cash,
        ] {
            assert!(
                positions.iter().any(|p| p.contract.sec_type == sec_type),
                "no {sec_type:?}"
            );
        }
        assert!(
            book.iter().all(|a| a.id.starts_with("DU")),
            "paper accounts only"
        );
    }

    #[test]
    fn other_ids_hold_the_same_book() {
        let book = opening_book();
        let live = book_with_ids(&LIVE_ACCOUNT_IDS.map(String::from));
        assert_eq!(live[0].id, "U1234567");
        assert_eq!(live[1].positions.len(), book[1].positions.len());
        let three = book_with_ids(&["U1".into(), "U2".into(), "U3".into()]);
        assert_eq!(three[2].positions.len(), book[0].positions.len());
        assert_eq!(book_with_ids(&[]).len(), 2);
    }

    #[test]
    fn option_local_symbols_follow_occ() {
        assert_eq!(
            option(1, "AAPL", "20261218", 250.0, "C").local_symbol,
            "AAPL  261218C00250000"
        );
        assert_eq!(
            option(1, "SPY", "20261218", 580.0, "P").local_symbol,
            "SPY   261218P00580000"
        );
    }
}
