//! The tray's words and icon choice. Linux shows no tooltip, so the (disabled) first menu
//! lines carry them: one per gateway ("TWS live: connected 0.42 ms", "Gateway paper: down
//! 2 min"), and the icon shows the worst state across gateways.

use gatewatch_supervisor::{ConnectionState, DegradedReason, Snapshot};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The six tray icons, one per kind of state, from the best to the worst; the window's
/// colours follow the same kinds, so the tray and the cards never disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, TS)]
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
    /// The first connect, before anything failed.
    Connecting,
    /// Down: retrying after a drop or a failed connect, probing, overdue or stopped.
    Disconnected,
}

/// The icon for a gateway: a retry after a failure is down, not "connecting", since for a
/// trader the gateway is not there.
pub fn icon(snapshot: &Snapshot) -> TrayIcon {
    match &snapshot.state {
        ConnectionState::Connected(_) => TrayIcon::Connected,
        ConnectionState::Degraded { .. } => TrayIcon::Degraded,
        _ if first_connect(snapshot) => TrayIcon::Connecting,
        ConnectionState::Connecting { .. } | ConnectionState::Reconnecting { .. } => {
            TrayIcon::Disconnected
        }
        ConnectionState::Stopped | ConnectionState::CircuitOpen { .. } => TrayIcon::Disconnected,
        ConnectionState::Paused { .. } => TrayIcon::Paused,
        ConnectionState::ScheduledRestart { .. } | ConnectionState::ServerReset { .. } => {
            TrayIcon::Expected
        }
        ConnectionState::Overdue { .. } => TrayIcon::Disconnected,
    }
}

/// The first connect, before anything failed: the only connecting that is not "down".
fn first_connect(snapshot: &Snapshot) -> bool {
    matches!(
        snapshot.state,
        ConnectionState::Connecting { attempt: 1, .. }
    ) && snapshot.last_error.is_none()
}

/// The worst of the gateways' icons; `Disconnected` when none is watched, since then nothing
/// is.
pub fn worst(icons: impl IntoIterator<Item = TrayIcon>) -> TrayIcon {
    icons.into_iter().max().unwrap_or(TrayIcon::Disconnected)
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

/// One gateway's tray line: its name and [`state_words`].
pub fn gateway_line(name: &str, snapshot: &Snapshot, since_ms: u64, now_ms: u64) -> String {
    format!("{name}: {}", state_words(snapshot, since_ms, now_ms))
}

/// A gateway's state as a trader says it, for the window, the tray and the service:
/// "Connected · 0.42 ms", "Slow (p50 412 ms)", "Gateway down for 2 min — retrying in 4 s",
/// "Gateway not answering the API (zombie) for 35 s — checking every 2 s". A round trip
/// appears only while connected, when it is current; a bad state says how long it has held.
/// `since_ms` is when the gateway entered its present condition (connected, or down).
pub fn state_words(snapshot: &Snapshot, since_ms: u64, now_ms: u64) -> String {
    let how_long = span(now_ms.saturating_sub(since_ms));
    let down = || down_words(snapshot, &how_long);
    match &snapshot.state {
        ConnectionState::Connected(_) => match snapshot.latency.last_rtt_us.flatten() {
            Some(us) => format!("Connected · {}", millis(us)),
            None => "Connected".into(),
        },
        ConnectionState::Degraded { reasons, .. } => match reasons.first() {
            Some(reason) => reason_words(reason),
            None => "Connected, not well".into(),
        },
        _ if first_connect(snapshot) => "Connecting…".into(),
        ConnectionState::Connecting { .. } => format!("{} — trying again now", down()),
        ConnectionState::Reconnecting { next_try_ms, .. } => {
            let wait = next_try_ms.saturating_sub(now_ms).div_ceil(1000);
            format!("{} — retrying in {wait} s", down())
        }
        ConnectionState::CircuitOpen { probe_every_ms, .. } => {
            format!(
                "{} — checking every {} s",
                down(),
                probe_every_ms.div_ceil(1000)
            )
        }
        ConnectionState::Paused { .. } => "Alerts paused".into(),
        ConnectionState::ScheduledRestart { .. } | ConnectionState::ServerReset { .. } => {
            capitalized(&snapshot.state.outage_phrase().unwrap_or_default())
        }
        ConnectionState::Overdue { outage, .. } => {
            format!("Not back after its {} — down {how_long}", outage.label)
        }
        ConnectionState::Stopped => "Not watched (disconnected by you)".into(),
    }
}

/// Why a gateway is down, from its last connect error, and for how long.
fn down_words(snapshot: &Snapshot, how_long: &str) -> String {
    use gatewatch_protocol::{ErrorCode, Stage};
    let Some(error) = &snapshot.last_error else {
        return format!("Gateway down for {how_long}");
    };
    match (error.code, error.stage) {
        _ if gatewatch_history::failure_kind(error) == "zombie" => {
            format!("Gateway not answering the API (zombie) for {how_long}")
        }
        (ErrorCode::ClientIdInUse, _) => format!("Client id in use (326) for {how_long}"),
        (ErrorCode::HandshakeTimeout, Some(Stage::StartApi)) => {
            format!("Gateway API not starting (no nextValidId) for {how_long}")
        }
        (ErrorCode::HandshakeTimeout, Some(Stage::FirstPing)) => {
            format!("Gateway not answering its first ping for {how_long}")
        }
        _ => format!("Gateway down for {how_long}"),
    }
}

/// Every problem of a live connection in a few words, most serious first.
pub fn problems(state: &ConnectionState) -> Vec<String> {
    match state {
        ConnectionState::Degraded { reasons, .. } => reasons.iter().map(reason_words).collect(),
        _ => Vec::new(),
    }
}

/// A problem of a live connection in a few words.
fn reason_words(reason: &DegradedReason) -> String {
    match reason {
        DegradedReason::SlowPings { p50_us } => format!("Slow (p50 {})", millis(*p50_us)),
        // "in time": a gateway answering 2.5 s late does answer, only too late to count.
        DegradedReason::LostPings { missed } => {
            format!("Pings unanswered in time ({missed} in a row)")
        }
        DegradedReason::IbLinkLost => "IB servers unreachable (1100)".into(),
        DegradedReason::ServerLinkBroken => "Gateway cut off from its IB server (2110)".into(),
        DegradedReason::FarmBroken { farm } => format!("Data farm {farm} broken"),
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
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
    use gatewatch_protocol::{Encoding, ErrorCode, Stage, WorkerError};
    use gatewatch_supervisor::state::{LatencySnapshot, SessionInfo};

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

    fn error(code: ErrorCode, stage: Option<Stage>) -> Option<WorkerError> {
        Some(WorkerError {
            code,
            message: String::new(),
            stage,
        })
    }

    fn words(state: ConnectionState, last_error: Option<WorkerError>, now_ms: u64) -> String {
        let snapshot = Snapshot {
            state,
            latency: latency(),
            last_error,
            ..Snapshot::default()
        };
        state_words(&snapshot, 0, now_ms)
    }

    fn circuit(answering: bool) -> ConnectionState {
        ConnectionState::CircuitOpen {
            failures: 5,
            since_ms: 0,
            probe_every_ms: 2_000,
            answering,
            next_full_try_ms: 0,
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
            "TWS live: Connected · 0.42 ms"
        );
    }

    #[test]
    fn a_round_trip_is_shown_only_while_connected() {
        let refused = error(ErrorCode::GatewayUnreachable, Some(Stage::TcpConnect));
        assert_eq!(
            words(circuit(false), refused.clone(), 125_000),
            "Gateway down for 2 min — checking every 2 s"
        );
        let waiting = ConnectionState::Reconnecting {
            attempt: 3,
            next_try_ms: 38_200,
        };
        assert_eq!(
            words(waiting, refused.clone(), 35_000),
            "Gateway down for 35 s — retrying in 4 s"
        );
        let trying = ConnectionState::Connecting {
            attempt: 3,
            stage: None,
            client_id: 901,
        };
        assert_eq!(
            words(trying.clone(), refused, 35_000),
            "Gateway down for 35 s — trying again now"
        );
        let first = ConnectionState::Connecting {
            attempt: 1,
            stage: None,
            client_id: 901,
        };
        assert_eq!(words(first, None, 1_000), "Connecting…");
    }

    #[test]
    fn a_down_gateway_says_why_in_a_traders_words() {
        let zombie = error(ErrorCode::HandshakeTimeout, Some(Stage::VersionExchange));
        assert_eq!(
            words(circuit(false), zombie, 35_000),
            "Gateway not answering the API (zombie) for 35 s — checking every 2 s"
        );
        let no_next_id = error(ErrorCode::HandshakeTimeout, Some(Stage::StartApi));
        assert_eq!(
            words(circuit(true), no_next_id, 35_000),
            "Gateway API not starting (no nextValidId) for 35 s — checking every 2 s"
        );
        let taken = error(ErrorCode::ClientIdInUse, Some(Stage::StartApi));
        assert_eq!(
            words(circuit(true), taken, 35_000),
            "Client id in use (326) for 35 s — checking every 2 s"
        );
        assert_eq!(
            words(ConnectionState::Stopped, None, 0),
            "Not watched (disconnected by you)"
        );
        assert_eq!(
            words(ConnectionState::Paused { until_ms: None }, None, 0),
            "Alerts paused"
        );
    }

    #[test]
    fn a_sick_live_connection_is_not_connected_and_well() {
        let degraded = |reasons| ConnectionState::Degraded {
            session: session(),
            reasons,
        };
        assert_eq!(
            words(
                degraded(vec![DegradedReason::SlowPings { p50_us: 412_000 }]),
                None,
                0
            ),
            "Slow (p50 412 ms)"
        );
        assert_eq!(
            words(degraded(vec![DegradedReason::IbLinkLost]), None, 0),
            "IB servers unreachable (1100)"
        );
        assert_eq!(
            words(
                degraded(vec![
                    DegradedReason::LostPings { missed: 2 },
                    DegradedReason::SlowPings { p50_us: 900_000 }
                ]),
                None,
                0
            ),
            "Pings unanswered in time (2 in a row)",
            "the most serious reason first"
        );
        assert_eq!(
            words(
                degraded(vec![DegradedReason::FarmBroken {
                    farm: "usfarm".into()
                }]),
                None,
                0
            ),
            "Data farm usfarm broken"
        );
    }

    #[test]
    fn the_worst_state_wins_and_the_summary_says_how_many_are_not_well() {
        let connected = ConnectionState::Connected(session());
        let waiting = ConnectionState::Reconnecting {
            attempt: 2,
            next_try_ms: 0,
        };
        let of = |state: &ConnectionState, last_error: Option<WorkerError>| {
            icon(&Snapshot {
                state: state.clone(),
                last_error,
                ..Snapshot::default()
            })
        };
        let refused = error(ErrorCode::GatewayUnreachable, Some(Stage::TcpConnect));
        assert_eq!(
            of(&waiting, refused.clone()),
            TrayIcon::Disconnected,
            "retrying after a failure is down"
        );
        let first = ConnectionState::Connecting {
            attempt: 1,
            stage: None,
            client_id: 901,
        };
        assert_eq!(of(&first, None), TrayIcon::Connecting);
        assert_eq!(of(&first, refused), TrayIcon::Disconnected);
        assert_eq!(
            worst([of(&connected, None), of(&first, None)]),
            TrayIcon::Connecting
        );
        assert_eq!(worst([of(&connected, None)]), TrayIcon::Connected);
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
