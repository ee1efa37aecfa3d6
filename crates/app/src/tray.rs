//! The tray's words and icon choice. Linux shows no tooltip, so the (disabled) first menu
//! lines carry them: one per gateway ("TWS live: connected 0.42 ms", "Gateway paper: down
//! 2 min"), and the icon shows the worst state across gateways.

use gatewatch_supervisor::{ConnectionState, Snapshot};
use serde::{Deserialize, Serialize};

/// The six tray icons, one per kind of state, from the best to the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrayIcon {
    /// Connected and healthy.
    Connected,
    /// Alerts paused.
    Paused,
    /// Down or cut off as the calendar expects (a planned restart, a server reset).
    Expected,
    /// Connected with a problem.
    Degraded,
    /// Connecting or waiting to reconnect.
    Connecting,
    /// Stopped, or retries stopped.
    Disconnected,
}

/// The icon for a state.
pub fn icon(state: &ConnectionState) -> TrayIcon {
    match state {
        ConnectionState::Connected(_) => TrayIcon::Connected,
        ConnectionState::Degraded { .. } => TrayIcon::Degraded,
        ConnectionState::Connecting { .. } | ConnectionState::Reconnecting { .. } => {
            TrayIcon::Connecting
        }
        ConnectionState::Stopped | ConnectionState::CircuitOpen { .. } => TrayIcon::Disconnected,
        ConnectionState::Paused { .. } => TrayIcon::Paused,
        ConnectionState::ScheduledRestart { .. } | ConnectionState::ServerReset { .. } => {
            TrayIcon::Expected
        }
        ConnectionState::Overdue { .. } => TrayIcon::Disconnected,
    }
}

/// The worst icon of all gateways; `Disconnected` when none is watched, since then nothing
/// is.
pub fn worst<'a>(states: impl IntoIterator<Item = &'a ConnectionState>) -> TrayIcon {
    states
        .into_iter()
        .map(icon)
        .max()
        .unwrap_or(TrayIcon::Disconnected)
}

/// A round trip for people: `0.42 ms`, `12.3 ms`, `412 ms`.
pub fn millis(us: u64) -> String {
    let ms = us as f64 / 1000.0;
    match ms {
        ms if ms < 10.0 => format!("{ms:.2} ms"),
        ms if ms < 100.0 => format!("{ms:.1} ms"),
        ms => format!("{ms:.0} ms"),
    }
}

/// A span for people: `45 s`, `12 min`, `2 h 05 min`.
pub fn span(ms: u64) -> String {
    let secs = ms / 1000;
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        _ => format!("{} h {:02} min", secs / 3600, secs % 3600 / 60),
    }
}

/// One gateway's tray line: its name, its state in a word or two, the current round trip
/// while connected (any other time it would not be current), and how long it has been down.
/// `since_ms` is when the gateway entered its present condition (connected, or down).
pub fn gateway_line(name: &str, snapshot: &Snapshot, since_ms: u64, now_ms: u64) -> String {
    let how_long = span(now_ms.saturating_sub(since_ms));
    let rtt = || {
        snapshot
            .latency
            .last_rtt_us
            .flatten()
            .map(|us| format!(" {}", millis(us)))
            .unwrap_or_default()
    };
    let state = match &snapshot.state {
        ConnectionState::Connected(_) => format!("connected{}", rtt()),
        ConnectionState::Degraded { reasons, .. } => match reasons.first() {
            Some(reason) => format!("degraded, {reason}"),
            None => "degraded".into(),
        },
        ConnectionState::Connecting { attempt: 1, .. } if snapshot.last_error.is_none() => {
            "connecting".into()
        }
        ConnectionState::Connecting { .. } | ConnectionState::Reconnecting { .. } => {
            format!("down {how_long}, reconnecting")
        }
        ConnectionState::CircuitOpen {
            answering: true, ..
        } => format!("down {how_long}, the API does not start"),
        ConnectionState::CircuitOpen { probe_every_ms, .. } => {
            format!(
                "down {how_long}, checking every {} s",
                probe_every_ms / 1000
            )
        }
        ConnectionState::Paused { .. } => "alerts paused".into(),
        ConnectionState::ScheduledRestart { .. } | ConnectionState::ServerReset { .. } => {
            snapshot.state.outage_phrase().unwrap_or_default()
        }
        ConnectionState::Overdue { outage, .. } => {
            format!("down {how_long}, not back after its {}", outage.label)
        }
        ConnectionState::Stopped => "not watched (disconnected by you)".into(),
    };
    format!("{name}: {state}")
}

/// The line beside the tray icon: the worst gateway's line, and how many others are not
/// well; `All N gateways connected` when all are.
pub fn summary_line(lines: &[(TrayIcon, String)]) -> String {
    let Some((worst, line)) = lines.iter().max_by_key(|(icon, _)| *icon) else {
        return "No gateway watched: add one in Settings".into();
    };
    if *worst == TrayIcon::Connected {
        return match lines.len() {
            1 => line.clone(),
            n => format!("All {n} gateways connected"),
        };
    }
    let others = lines
        .iter()
        .filter(|(icon, _)| *icon != TrayIcon::Connected)
        .count()
        - 1;
    match others {
        0 => line.clone(),
        n => format!("{line} (+{n} more)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatewatch_protocol::Encoding;
    use gatewatch_supervisor::state::{DegradedReason, LatencySnapshot, SessionInfo};

    fn session() -> SessionInfo {
        SessionInfo {
            server_version: 213,
            encoding: Encoding::Protobuf,
            accounts: vec![],
            client_id: 901,
            since_ms: 0,
            stage_us: Default::default(),
        }
    }

    fn latency() -> LatencySnapshot {
        LatencySnapshot {
            last_rtt_us: Some(Some(420)),
            last_ping_ms: Some(0),
            windows: vec![],
        }
    }

    #[test]
    fn a_gateway_line_names_the_gateway_and_its_state() {
        let connected = Snapshot {
            state: ConnectionState::Connected(session()),
            latency: latency(),
            ..Snapshot::default()
        };
        assert_eq!(
            gateway_line("TWS live", &connected, 0, 60_000),
            "TWS live: connected 0.42 ms"
        );
        let down = Snapshot {
            state: ConnectionState::CircuitOpen {
                failures: 5,
                since_ms: 0,
                probe_every_ms: 2_000,
                answering: false,
                next_full_try_ms: 0,
            },
            latency: latency(),
            ..Snapshot::default()
        };
        assert_eq!(
            gateway_line("Gateway paper", &down, 0, 125_000),
            "Gateway paper: down 2 min, checking every 2 s",
            "no stale round trip while down"
        );
        let slow = Snapshot {
            state: ConnectionState::Degraded {
                session: session(),
                reasons: vec![DegradedReason::SlowPings { p50_us: 412_000 }],
            },
            ..Snapshot::default()
        };
        assert_eq!(
            gateway_line("VPS", &slow, 0, 0),
            "VPS: degraded, slow (median round trip 412.00 ms over the last minute)"
        );
    }

    #[test]
    fn the_worst_state_wins_and_the_summary_says_how_many_are_not_well() {
        let connected = ConnectionState::Connected(session());
        let waiting = ConnectionState::Reconnecting {
            attempt: 2,
            next_try_ms: 0,
        };
        assert_eq!(worst([&connected, &waiting]), TrayIcon::Connecting);
        assert_eq!(worst([&connected]), TrayIcon::Connected);
        assert_eq!(worst([]), TrayIcon::Disconnected);

        let ok = (
            TrayIcon::Connected,
            "TWS live: connected 0.42 ms".to_owned(),
        );
        let down = (
            TrayIcon::Disconnected,
            "Gateway paper: down 2 min".to_owned(),
        );
        let slow = (TrayIcon::Degraded, "VPS: degraded, slow".to_owned());
        assert_eq!(
            summary_line(std::slice::from_ref(&ok)),
            "TWS live: connected 0.42 ms"
        );
        assert_eq!(
            summary_line(&[ok.clone(), ok.clone()]),
            "All 2 gateways connected"
        );
        assert_eq!(
            summary_line(&[ok.clone(), down.clone(), slow]),
            "Gateway paper: down 2 min (+1 more)"
        );
        assert_eq!(summary_line(&[ok, down]), "Gateway paper: down 2 min");
        assert!(summary_line(&[]).starts_with("No gateway"));
    }

    #[test]
    fn round_trips_and_spans_read_naturally() {
        assert_eq!(millis(840), "0.84 ms");
        assert_eq!(millis(12_340), "12.3 ms");
        assert_eq!(millis(412_000), "412 ms");
        assert_eq!(span(45_000), "45 s");
        assert_eq!(span(125 * 60_000), "2 h 05 min");
    }
}
