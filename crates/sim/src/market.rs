//! The live state of the simulated accounts: prices that move, and what follows from them.
//!
//! Prices follow a seeded random walk, one step per market tick, so the same seed always
//! gives the same sequence of values. Valuation (market value, unrealized PnL, the
//! account-summary tags, the `$LEDGER` rows) is computed from prices on demand, so there is
//! one formula for each figure whichever message carries it.

use std::collections::BTreeMap;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::book::{OpeningAccount, book_with_ids, opening_book};
use crate::contract::{Contract, SecType};

/// One holding with its current price.
#[derive(Debug, Clone, Serialize)]
pub struct Holding {
    /// The instrument.
    pub contract: Contract,
    /// Signed quantity.
    pub quantity: f64,
    /// Average cost per unit, multiplier included.
    pub avg_cost: f64,
    /// Last price (per unit of the quote, before the multiplier).
    pub price: f64,
}

impl Holding {
    /// quantity × price × multiplier.
    pub fn market_value(&self) -> f64 {
        round2(self.quantity * self.price * self.contract.value_multiplier())
    }

    /// Market value less what was paid.
    pub fn unrealized_pnl(&self) -> f64 {
        round2(self.market_value() - self.quantity * self.avg_cost)
    }
}

/// One account tag as the summary and account updates report it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagValue {
    /// The tag (`NetLiquidation`, `CashBalance`, …).
    pub tag: String,
    /// The value as text.
    pub value: String,
    /// `USD`, `BASE`, a ledger currency, or empty for tags without one.
    pub currency: String,
}

fn tag(tag: &str, value: impl ToString, currency: &str) -> TagValue {
    TagValue {
        tag: tag.into(),
        value: value.to_string(),
        currency: currency.into(),
    }
}

/// The tags `reqAccountSummary` answers, in the order TWS lists them.
pub const SUMMARY_TAGS: &[&str] = &[
    "AccountType",
    "NetLiquidation",
    "TotalCashValue",
    "SettledCash",
    "AccruedCash",
    "BuyingPower",
    "EquityWithLoanValue",
    "PreviousDayEquityWithLoanValue",
    "GrossPositionValue",
    "RegTEquity",
    "RegTMargin",
    "SMA",
    "InitMarginReq",
    "MaintMarginReq",
    "AvailableFunds",
    "ExcessLiquidity",
    "Cushion",
    "FullInitMarginReq",
    "FullMaintMarginReq",
    "FullAvailableFunds",
    "FullExcessLiquidity",
    "DayTradesRemaining",
    "Leverage",
];

/// One account's live state.
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    /// The account id.
    pub id: String,
    /// USD cash.
    pub cash: f64,
    /// PnL realized today.
    pub realized_pnl: f64,
    /// Net liquidation at the open, the base of the daily PnL.
    pub opening_net_liquidation: f64,
    /// Holdings with current prices.
    pub holdings: Vec<Holding>,
}

/// The figures an account's tags are computed from.
struct Figures {
    net_liquidation: f64,
    total_cash: f64,
    gross_position_value: f64,
    init_margin: f64,
    maint_margin: f64,
}

impl Account {
    fn figures(&self) -> Figures {
        let mut f = Figures {
            net_liquidation: self.cash,
            total_cash: self.cash,
            gross_position_value: 0.0,
            init_margin: 0.0,
            maint_margin: 0.0,
        };
        for h in &self.holdings {
            let value = h.market_value();
            match h.contract.sec_type {
                SecType::Cash => {
                    f.net_liquidation += value;
                    f.total_cash += value;
                }
                // A future's notional is not equity: only its gain or loss is.
                SecType::Future => {
                    f.net_liquidation += h.unrealized_pnl();
                    f.init_margin += 0.08 * value.abs();
                    f.maint_margin += 0.07 * value.abs();
                }
                _ => {
                    f.net_liquidation += value;
                    f.gross_position_value += value.abs();
                    f.init_margin += 0.30 * value.abs();
                    f.maint_margin += 0.25 * value.abs();
                }
            }
        }
        f
    }

    /// Net liquidation value now.
    pub fn net_liquidation(&self) -> f64 {
        round2(self.figures().net_liquidation)
    }

    /// Sum of the holdings' unrealized PnL.
    pub fn unrealized_pnl(&self) -> f64 {
        round2(self.holdings.iter().map(Holding::unrealized_pnl).sum())
    }

    /// Change in net liquidation since the open.
    pub fn daily_pnl(&self) -> f64 {
        round2(self.net_liquidation() - self.opening_net_liquidation)
    }

    /// Every summary tag with its current value, in [`SUMMARY_TAGS`] order.
    pub fn summary(&self) -> Vec<TagValue> {
        let f = self.figures();
        let available = f.net_liquidation - f.init_margin;
        let excess = f.net_liquidation - f.maint_margin;
        let usd = |name: &str, value: f64| tag(name, format!("{value:.2}"), "USD");
        let leverage = if f.net_liquidation > 0.0 {
            f.gross_position_value / f.net_liquidation
        } else {
            0.0
        };
        let cushion = if f.net_liquidation > 0.0 {
            excess / f.net_liquidation
        } else {
            0.0
        };
        vec![
            tag("AccountType", "INDIVIDUAL", ""),
            usd("NetLiquidation", f.net_liquidation),
            usd("TotalCashValue", f.total_cash),
            usd("SettledCash", f.total_cash),
            usd("AccruedCash", 0.0),
            usd("BuyingPower", (available * 4.0).max(0.0)),
            usd("EquityWithLoanValue", f.net_liquidation),
            usd(
                "PreviousDayEquityWithLoanValue",
                self.opening_net_liquidation,
            ),
            usd("GrossPositionValue", f.gross_position_value),
            usd("RegTEquity", f.net_liquidation),
            usd("RegTMargin", 0.5 * f.gross_position_value),
            usd(
                "SMA",
                (f.net_liquidation - 0.5 * f.gross_position_value).max(0.0),
            ),
            usd("InitMarginReq", f.init_margin),
            usd("MaintMarginReq", f.maint_margin),
            usd("AvailableFunds", available),
            usd("ExcessLiquidity", excess),
            tag("Cushion", format!("{cushion:.4}"), ""),
            usd("FullInitMarginReq", f.init_margin),
            usd("FullMaintMarginReq", f.maint_margin),
            usd("FullAvailableFunds", available),
            usd("FullExcessLiquidity", excess),
            tag("DayTradesRemaining", -1, ""),
            tag("Leverage", format!("{leverage:.2}"), ""),
        ]
    }

    /// The `$LEDGER` rows for `scope`: `BASE` (plain `$LEDGER`), `ALL`, or one currency.
    pub fn ledger(&self, scope: &str) -> Vec<TagValue> {
        let f = self.figures();
        let unrealized = format!("{:.2}", self.unrealized_pnl());
        let mut rows = Vec::new();
        let mut push = |currency: &str,
                        cash: f64,
                        net_liq: f64,
                        unrealized: &str,
                        realized: f64,
                        rate: f64| {
            rows.push(tag("CashBalance", format!("{cash:.2}"), currency));
            rows.push(tag("TotalCashBalance", format!("{cash:.2}"), currency));
            rows.push(tag(
                "NetLiquidationByCurrency",
                format!("{net_liq:.2}"),
                currency,
            ));
            rows.push(tag("UnrealizedPnL", unrealized, currency));
            rows.push(tag("RealizedPnL", format!("{realized:.2}"), currency));
            rows.push(tag("ExchangeRate", format!("{rate}"), currency));
        };
        let wants = |currency: &str| scope == "ALL" || scope == currency;
        if scope == "BASE" || scope == "ALL" {
            push(
                "BASE",
                f.total_cash,
                f.net_liquidation,
                &unrealized,
                self.realized_pnl,
                1.0,
            );
        }
        if wants("USD") {
            push(
                "USD",
                self.cash,
                f.net_liquidation - (f.total_cash - self.cash),
                &unrealized,
                self.realized_pnl,
                1.0,
            );
        }
        for h in self
            .holdings
            .iter()
            .filter(|h| h.contract.sec_type == SecType::Cash)
        {
            if wants(&h.contract.symbol) {
                push(
                    &h.contract.symbol,
                    h.quantity,
                    h.quantity,
                    "0.00",
                    0.0,
                    h.price,
                );
            }
        }
        rows
    }

    /// The values `reqAccountUpdates` streams: the summary tags, PnL and the BASE ledger.
    pub fn account_values(&self) -> Vec<TagValue> {
        let mut values = vec![tag("AccountCode", &self.id, "")];
        values.extend(self.summary());
        values.push(tag(
            "UnrealizedPnL",
            format!("{:.2}", self.unrealized_pnl()),
            "USD",
        ));
        values.push(tag(
            "RealizedPnL",
            format!("{:.2}", self.realized_pnl),
            "USD",
        ));
        values.extend(self.ledger("BASE"));
        values
    }

    /// Answers an account-summary tag list: named tags in request order, then `$LEDGER` forms.
    pub fn answer_summary(&self, tags: &str) -> Vec<TagValue> {
        let summary = self.summary();
        let mut out = Vec::new();
        for requested in tags.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            match requested.strip_prefix("$LEDGER") {
                Some("") => out.extend(self.ledger("BASE")),
                Some(scope) => out.extend(self.ledger(scope.trim_start_matches(':'))),
                None => out.extend(summary.iter().filter(|v| v.tag == requested).cloned()),
            }
        }
        out
    }
}

/// All accounts plus the random walk that moves their prices.
#[derive(Debug, Clone)]
pub struct Market {
    accounts: Vec<Account>,
    prices: BTreeMap<i32, (f64, SecType)>,
    rng: ChaCha8Rng,
    ticks: u64,
}

impl Market {
    /// The opening book with a walk seeded by `seed`.
    pub fn new(seed: u64) -> Self {
        Self::from_book(opening_book(), seed)
    }

    /// The opening book under the account ids `ids` (none: the book's own).
    pub fn with_ids(seed: u64, ids: &[String]) -> Self {
        Self::from_book(book_with_ids(ids), seed)
    }

    /// A market over a given book (tests use small books).
    pub fn from_book(book: Vec<OpeningAccount>, seed: u64) -> Self {
        let mut prices = BTreeMap::new();
        let accounts = book
            .into_iter()
            .map(|opening| {
                let holdings: Vec<Holding> = opening
                    .positions
                    .into_iter()
                    .map(|p| {
                        prices.insert(p.contract.con_id, (p.price, p.contract.sec_type));
                        Holding {
                            contract: p.contract,
                            quantity: p.quantity,
                            avg_cost: p.avg_cost,
                            price: p.price,
                        }
                    })
                    .collect();
                let mut account = Account {
                    id: opening.id,
                    cash: opening.cash,
                    realized_pnl: opening.realized_pnl,
                    opening_net_liquidation: 0.0,
                    holdings,
                };
                account.opening_net_liquidation = account.net_liquidation();
                account
            })
            .collect();
        Self {
            accounts,
            prices,
            rng: ChaCha8Rng::seed_from_u64(seed),
            ticks: 0,
        }
    }

    /// Moves every price one step of its walk.
    pub fn step(&mut self) {
        for (price, sec_type) in self.prices.values_mut() {
            let (volatility, decimals) = match sec_type {
                SecType::Option | SecType::FutureOption => (0.0060, 2),
                SecType::Future => (0.0006, 2),
                SecType::Cash => (0.0002, 5),
                _ => (0.0010, 2),
            };
            let step: f64 = self.rng.random_range(-1.0..=1.0);
            let scale = 10f64.powi(decimals);
            *price = ((*price * (1.0 + volatility * step)) * scale).round() / scale;
            *price = price.max(1.0 / scale);
        }
        for account in &mut self.accounts {
            for holding in &mut account.holdings {
                holding.price = self.prices[&holding.contract.con_id].0;
            }
        }
        self.ticks += 1;
    }

    /// How many steps the walk has taken.
    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    /// Every account.
    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }

    /// One account by id.
    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.id == id)
    }

    /// Everything a client can read, per account, as plain data (for `--dump-market` and the
    /// conformance tests, which compare what clients received against it).
    pub fn dump(&self) -> serde_json::Value {
        let accounts: Vec<_> = self
            .accounts
            .iter()
            .map(|a| {
                let holdings: Vec<_> = a
                    .holdings
                    .iter()
                    .map(|h| {
                        serde_json::json!({
                            "contract": h.contract,
                            "quantity": h.quantity,
                            "avg_cost": h.avg_cost,
                            "price": h.price,
                            "market_value": h.market_value(),
                            "unrealized_pnl": h.unrealized_pnl(),
                        })
                    })
                    .collect();
                serde_json::json!({
                    "id": a.id,
                    "holdings": holdings,
                    "summary": a.summary(),
                    "ledger_all": a.ledger("ALL"),
                    "account_values": a.account_values(),
                    "daily_pnl": a.daily_pnl(),
                    "unrealized_pnl": a.unrealized_pnl(),
                    "realized_pnl": a.realized_pnl,
                })
            })
            .collect();
        serde_json::json!({ "ticks": self.ticks, "accounts": accounts })
    }

    /// The managed-accounts list, comma-separated.
    pub fn account_list(&self) -> String {
        self.accounts
            .iter()
            .map(|a| a.id.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_walks_the_same_way() {
        let (mut a, mut b, mut c) = (Market::new(7), Market::new(7), Market::new(8));
        for _ in 0..50 {
            a.step();
            b.step();
            c.step();
        }
        let values = |m: &Market| {
            m.accounts()
                .iter()
                .map(Account::net_liquidation)
                .collect::<Vec<_>>()
        };
        assert_eq!(values(&a), values(&b));
        assert_ne!(
            values(&a),
            values(&c),
            "another seed must give another path"
        );
        assert_ne!(values(&a), values(&Market::new(7)), "prices must move");
    }

    #[test]
    fn valuation_follows_ib_conventions() {
        let market = Market::new(1);
        let account = market.account("DU1234567").unwrap();
        let option = account
            .holdings
            .iter()
            .find(|h| h.contract.sec_type == SecType::Option)
            .unwrap();
        assert_eq!(
            option.market_value(),
            10.0 * 3.10 * 100.0,
            "option value includes the multiplier"
        );
        assert_eq!(option.unrealized_pnl(), 3100.0 - 4850.0);
        assert_eq!(account.daily_pnl(), 0.0, "no PnL before the first tick");
        let summary = account.summary();
        assert_eq!(summary.len(), SUMMARY_TAGS.len());
        for (value, name) in summary.iter().zip(SUMMARY_TAGS) {
            assert_eq!(&value.tag, name);
        }
        let net_liq: f64 = summary[1].value.parse().unwrap();
        assert!(
            net_liq > 250_000.0 && net_liq < 1_000_000.0,
            "implausible net liquidation {net_liq}"
        );
    }

    #[test]
    fn summary_answers_requested_tags_and_ledger_forms() {
        let market = Market::new(1);
        let account = market.account("DU1234567").unwrap();
        let tags = |list: &str| {
            account
                .answer_summary(list)
                .into_iter()
                .map(|v| (v.tag, v.currency))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            tags("NetLiquidation,BuyingPower,Bogus"),
            [
                ("NetLiquidation".to_string(), "USD".to_string()),
                ("BuyingPower".to_string(), "USD".to_string())
            ]
        );
        assert!(tags("$LEDGER").iter().all(|(_, ccy)| ccy == "BASE"));
        let all: Vec<String> = tags("$LEDGER:ALL")
            .into_iter()
            .map(|(_, ccy)| ccy)
            .collect();
        for ccy in ["BASE", "USD", "EUR", "GBP"] {
            assert!(all.iter().any(|c| c == ccy), "$LEDGER:ALL lacks {ccy}");
        }
        assert!(tags("$LEDGER:EUR").iter().all(|(_, ccy)| ccy == "EUR"));
        assert!(!tags("$LEDGER:EUR").is_empty());
    }
}
