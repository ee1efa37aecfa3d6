//! IB notices (messages with request id −1) and what each code means for a monitor.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A gateway notice, classified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Notice {
    /// IB's code.
    pub code: i32,
    /// IB's text.
    pub message: String,
    /// What the code means.
    pub category: NoticeCategory,
    /// The farm named in farm-status notices (`usfarm`, `ushmds`, `secdefnj`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub farm: Option<String>,
}

/// What a notice code means for the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum NoticeCategory {
    /// 1100: the link between IB and the gateway is lost.
    ConnectivityLost,
    /// 1101: restored, data lost (subscriptions must be renewed).
    ConnectivityRestoredDataLost,
    /// 1102: restored, data maintained.
    ConnectivityRestored,
    /// 1300: the socket port was reset; the connection is being dropped.
    PortReset,
    /// 2110: the link between the gateway and its server is broken (restores itself).
    ServerLinkBroken,
    /// 2103, 2105, 2157: a data farm is broken.
    FarmBroken,
    /// 2104, 2106, 2158: a data farm is OK.
    FarmOk,
    /// 2107, 2108: a farm is inactive but available on demand.
    FarmInactive,
    /// 2119: a farm is connecting.
    FarmConnecting,
    /// 326: the client id is in use.
    ClientIdInUse,
    /// Any other code from 2100 to 2169.
    Warning,
    /// Anything else.
    Other,
}

impl Notice {
    /// Classifies a notice and extracts its farm.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        let message = message.into();
        let category = classify(code);
        let farm = matches!(
            category,
            NoticeCategory::FarmBroken
                | NoticeCategory::FarmOk
                | NoticeCategory::FarmInactive
                | NoticeCategory::FarmConnecting
        )
        .then(|| farm_name(&message))
        .flatten();
        Self {
            code,
            message,
            category,
            farm,
        }
    }
}

/// The category of a code.
pub fn classify(code: i32) -> NoticeCategory {
    match code {
        1100 => NoticeCategory::ConnectivityLost,
        1101 => NoticeCategory::ConnectivityRestoredDataLost,
        1102 => NoticeCategory::ConnectivityRestored,
        1300 => NoticeCategory::PortReset,
        2110 => NoticeCategory::ServerLinkBroken,
        2103 | 2105 | 2157 => NoticeCategory::FarmBroken,
        2104 | 2106 | 2158 => NoticeCategory::FarmOk,
        2107 | 2108 => NoticeCategory::FarmInactive,
        2119 => NoticeCategory::FarmConnecting,
        326 => NoticeCategory::ClientIdInUse,
        2100..=2169 => NoticeCategory::Warning,
        _ => NoticeCategory::Other,
    }
}

/// The farm after `upon demand.` (2107/2108) or after the last `:` (the others). Farm names
/// may contain dots themselves (`usfarm.nj`).
fn farm_name(message: &str) -> Option<String> {
    let farm = match message.split_once("upon demand.") {
        Some((_, farm)) => farm,
        None => message.rsplit(':').next()?,
    }
    .trim();
    (!farm.is_empty() && !farm.contains(' ')).then(|| farm.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn farm_notices_carry_their_farm() {
        let broken = Notice::new(2103, "Market data farm connection is broken:usfarm");
        assert_eq!(
            (broken.category, broken.farm.as_deref()),
            (NoticeCategory::FarmBroken, Some("usfarm"))
        );
        let inactive = Notice::new(
            2108,
            "Market data farm connection is inactive but should be available upon demand.usfarm.nj",
        );
        assert_eq!(
            inactive.farm.as_deref(),
            Some("usfarm.nj"),
            "2107/2108 separate with a dot, names keep theirs"
        );
        let dotted = Notice::new(2104, "Market data farm connection is OK:usfarm.nj");
        assert_eq!(dotted.farm.as_deref(), Some("usfarm.nj"));
        let ok = Notice::new(2158, "Sec-def data farm connection is OK:secdefnj");
        assert_eq!(
            (ok.category, ok.farm.as_deref()),
            (NoticeCategory::FarmOk, Some("secdefnj"))
        );
    }

    #[test]
    fn connectivity_codes_have_no_farm() {
        let lost = Notice::new(
            1100,
            "Connectivity between IB and Trader Workstation has been lost.",
        );
        assert_eq!(
            (lost.category, lost.farm),
            (NoticeCategory::ConnectivityLost, None)
        );
        assert_eq!(classify(1102), NoticeCategory::ConnectivityRestored);
        assert_eq!(classify(2150), NoticeCategory::Warning);
        assert_eq!(classify(10), NoticeCategory::Other);
    }
}
