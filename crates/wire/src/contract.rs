//! The instrument description a position carries, shared by the encoders and decoders.

use serde::Serialize;

/// Security types, by IB's wire codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "&'static str")]
pub enum SecType {
    /// Stock or ETF (`STK`).
    Stock,
    /// Option (`OPT`).
    Option,
    /// Future (`FUT`).
    Future,
    /// FX pair held as cash (`CASH`).
    Cash,
    /// Futures option (`FOP`).
    FutureOption,
    /// Bond (`BOND`).
    Bond,
    /// Warrant (`WAR`).
    Warrant,
    /// Index (`IND`).
    Index,
    /// Contract for difference (`CFD`).
    Cfd,
    /// Mutual fund (`FUND`).
    Fund,
    /// Commodity (`CMDTY`).
    Commodity,
    /// Crypto currency (`CRYPTO`).
    Crypto,
    /// Combination (`BAG`).
    Combo,
}

const CODES: [(SecType, &str); 13] = [
    (SecType::Stock, "STK"),
    (SecType::Option, "OPT"),
    (SecType::Future, "FUT"),
    (SecType::Cash, "CASH"),
    (SecType::FutureOption, "FOP"),
    (SecType::Bond, "BOND"),
    (SecType::Warrant, "WAR"),
    (SecType::Index, "IND"),
    (SecType::Cfd, "CFD"),
    (SecType::Fund, "FUND"),
    (SecType::Commodity, "CMDTY"),
    (SecType::Crypto, "CRYPTO"),
    (SecType::Combo, "BAG"),
];

impl SecType {
    /// The code on the wire.
    pub fn code(self) -> &'static str {
        CODES
            .iter()
            .find(|(t, _)| *t == self)
            .map(|(_, code)| *code)
            .expect("every variant has a code")
    }

    /// The type for a wire code, if it is one IB uses.
    pub fn from_code(code: &str) -> Option<SecType> {
        CODES.iter().find(|(_, c)| *c == code).map(|(t, _)| *t)
    }
}

impl From<SecType> for &'static str {
    fn from(sec_type: SecType) -> Self {
        sec_type.code()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for (sec_type, code) in CODES {
            assert_eq!(sec_type.code(), code);
            assert_eq!(SecType::from_code(code), Some(sec_type));
        }
        assert_eq!(SecType::from_code("XYZ"), None);
    }
}
