//! Wall-clock values in the formats the gateway sends them.

use time::OffsetDateTime;
use time::macros::format_description;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// The handshake's connection time, `YYYYMMDD HH:MM:SS <zone>`; the simulator runs on UTC.
pub fn connection_time() -> String {
    let format = format_description!("[year][month][day] [hour]:[minute]:[second]");
    let now = OffsetDateTime::now_utc()
        .format(&format)
        .expect("a fixed format always formats");
    format!("{now} UTC")
}

/// The account-update time stamp, `HH:MM`.
pub fn hh_mm() -> String {
    let format = format_description!("[hour]:[minute]");
    OffsetDateTime::now_utc()
        .format(&format)
        .expect("a fixed format always formats")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_match_the_gateways() {
        let time = connection_time();
        assert_eq!(time.len(), "20260115 10:22:52 UTC".len(), "{time}");
        assert!(time.ends_with(" UTC"));
        assert_eq!(hh_mm().len(), 5);
        assert!(now_ms() > 1_700_000_000_000);
    }
}
