//! The instrument description a position carries, shared by the book and the encoders.

use serde::Serialize;

/// Security types the simulated book holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SecType {
    /// Stock or ETF.
    #[serde(rename = "STK")]
    Stock,
    /// Equity option.
    #[serde(rename = "OPT")]
    Option,
    /// Future.
    #[serde(rename = "FUT")]
    Future,
    /// FX pair held as cash.
    #[serde(rename = "CASH")]
    Cash,
}

impl SecType {
    /// The code on the wire.
    pub fn code(self) -> &'static str {
        match self {
            SecType::Stock => "STK",
            SecType::Option => "OPT",
            SecType::Future => "FUT",
            SecType::Cash => "CASH",
        }
    }
}

/// A contract as the gateway describes it in position and portfolio messages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contract {
    /// IB's contract id.
    pub con_id: i32,
    /// Underlying symbol (`AAPL`, `ES`, `EUR`).
    pub symbol: String,
    /// Security type.
    pub sec_type: SecType,
    /// `YYYYMMDD` for options and futures, empty otherwise.
    pub expiry: String,
    /// Option strike; 0 when not an option.
    pub strike: f64,
    /// `C` or `P` for options, empty otherwise.
    pub right: String,
    /// Contract multiplier for options and futures.
    pub multiplier: Option<f64>,
    /// Exchange as reported in positions.
    pub exchange: String,
    /// Primary listing exchange (portfolio messages).
    pub primary_exchange: String,
    /// Trading currency.
    pub currency: String,
    /// Local symbol (`AAPL  261218C00250000`, `ESZ6`).
    pub local_symbol: String,
    /// Trading class.
    pub trading_class: String,
}

impl Contract {
    /// The multiplier that turns a price into a value per unit held (1 when none applies).
    pub fn value_multiplier(&self) -> f64 {
        self.multiplier.unwrap_or(1.0)
    }

    /// The multiplier as the text encoding prints it: `"100"`, or empty when none applies.
    pub fn multiplier_text(&self) -> String {
        self.multiplier.map(|m| format!("{m}")).unwrap_or_default()
    }
}
