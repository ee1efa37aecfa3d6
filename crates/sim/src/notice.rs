//! IB's notice texts: the "errors" with request id −1 that report the gateway's health.

/// The text TWS sends for `code`, with `arg` as the farm name (farm codes), the port
/// (1300), or the whole text (any other code). `None` when the code has no known text and
/// no text was given.
pub fn text(code: i32, arg: Option<&str>, port: u16) -> Option<String> {
    let farm = |default: &str| arg.unwrap_or(default).to_owned();
    Some(match code {
        1100 => "Connectivity between IB and Trader Workstation has been lost.".into(),
        1101 => "Connectivity between IB and Trader Workstation has been restored - data lost.".into(),
        1102 => "Connectivity between IB and Trader Workstation has been restored - data maintained. \
                 All data farms are connected: usfarm; ushmds; secdefnj."
            .into(),
        1300 => format!(
            "TWS socket port has been reset and this connection is being dropped. Please reconnect on port {}",
            arg.map(str::to_owned).unwrap_or_else(|| port.to_string())
        ),
        2103 => format!("Market data farm connection is broken:{}", farm("usfarm")),
        2104 => format!("Market data farm connection is OK:{}", farm("usfarm")),
        2105 => format!("HMDS data farm connection is broken:{}", farm("ushmds")),
        2106 => format!("HMDS data farm connection is OK:{}", farm("ushmds")),
        2107 => format!("HMDS data farm connection is inactive but should be available upon demand.{}", farm("ushmds")),
        2108 => format!("Market data farm connection is inactive but should be available upon demand.{}", farm("usfarm")),
        2110 => "Connectivity between Trader Workstation and server is broken. It will be restored automatically.".into(),
        2157 => format!("Sec-def data farm connection is broken:{}", farm("secdefnj")),
        2158 => format!("Sec-def data farm connection is OK:{}", farm("secdefnj")),
        326 => "Unable to connect as the client id is already in use. Retry with a unique client id.".into(),
        321 => "The API interface is currently in Read-Only mode.".into(),
        _ => arg?.to_owned(),
    })
}

/// The farm notices a gateway sends right after nextValidId.
pub const STARTUP_FARM_CODES: [i32; 3] = [2104, 2106, 2158];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn farm_texts_carry_the_farm_after_the_separator() {
        assert_eq!(
            text(2104, None, 0).unwrap(),
            "Market data farm connection is OK:usfarm"
        );
        assert_eq!(
            text(2103, Some("eufarm"), 0).unwrap(),
            "Market data farm connection is broken:eufarm"
        );
        assert!(
            text(2108, None, 0).unwrap().ends_with("upon demand.usfarm"),
            "2107/2108 use a dot"
        );
        assert!(text(1300, None, 4002).unwrap().ends_with("on port 4002"));
        assert_eq!(text(4242, None, 0), None);
        assert_eq!(text(4242, Some("custom"), 0).unwrap(), "custom");
    }

    #[test]
    fn texts_are_plain_ascii_without_backslashes() {
        // ibapi decodes notice text with unicode-escape from version 153 on.
        for code in [
            1100, 1101, 1102, 1300, 2103, 2104, 2105, 2106, 2107, 2108, 2110, 2157, 2158, 326, 321,
        ] {
            let text = text(code, None, 4002).unwrap();
            assert!(text.is_ascii() && !text.contains('\\'), "{code}: {text}");
        }
    }
}
