//! The tray's words and icon choice for a snapshot. Linux shows no tooltip, so the first
//! (disabled) menu line carries them.

use gatewatch_supervisor::{ConnectionState, Snapshot};
use serde::{Deserialize, Serialize};

/// The five tray icons, one per kind of state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrayIcon {
    /// Connected and healthy.
    Connected,
    /// Connected with a problem.
    Degraded,
    /// Connecting or waiting to reconnect.
    Connecting,
    /// Stopped, or retries stopped.
    Disconnected,
    /// Alerts paused.
    Paused,
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
    }
}

/// The status line: state, latency and uptime, e.g. `Connected · 0.84 ms · up 2 h 05 min`.
pub fn status_line(snapshot: &Snapshot, now_ms: u64) -> String {
    let state = match &snapshot.state {
        ConnectionState::Connected(_) => "Connected".to_owned(),
        ConnectionState::Degraded { reasons, .. } => format!(
            "Degraded ({} problem{})",
            reasons.len(),
            if reasons.len() == 1 { "" } else { "s" }
        ),
        ConnectionState::Connecting { .. } => "Connecting".to_owned(),
        ConnectionState::Reconnecting { attempt, .. } => {
            format!("Reconnecting (attempt {attempt})")
        }
        ConnectionState::CircuitOpen {
            answering: true, ..
        } => "Gateway answers but its API start-up fails".to_owned(),
        ConnectionState::CircuitOpen { probe_every_ms, .. } => {
            format!("Gateway down · checking every {} s", probe_every_ms / 1000)
        }
        ConnectionState::Paused { .. } => "Alerts paused".to_owned(),
        ConnectionState::Stopped => "Stopped".to_owned(),
    };
    let mut line = state;
    let since = match &snapshot.state {
        ConnectionState::Connected(session) | ConnectionState::Degraded { session, .. } => {
            Some(session.since_ms)
        }
        _ => None,
    };
    // A round trip is shown only while connected: any other time it would not be current.
    if let (Some(_), Some(Some(rtt_us))) = (since, snapshot.latency.last_rtt_us) {
        line.push_str(&format!(" · {:.2} ms", rtt_us as f64 / 1000.0));
    }
    if let Some(since) = since {
        let minutes = now_ms.saturating_sub(since) / 60_000;
        line.push_str(&match minutes {
            0..60 => format!(" · up {minutes} min"),
            _ => format!(" · up {} h {:02} min", minutes / 60, minutes % 60),
        });
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatewatch_protocol::Encoding;
    use gatewatch_supervisor::state::{LatencySnapshot, SessionInfo};

    #[test]
    fn status_line_shows_state_latency_and_uptime() {
        let snapshot = Snapshot {
            state: ConnectionState::Connected(SessionInfo {
                server_version: 213,
                encoding: Encoding::Protobuf,
                accounts: vec![],
                client_id: 901,
                since_ms: 0,
            }),
            latency: LatencySnapshot {
                last_rtt_us: Some(Some(840)),
                last_ping_ms: Some(0),
                windows: vec![],
            },
            ..Snapshot::default()
        };
        assert_eq!(
            status_line(&snapshot, 125 * 60_000),
            "Connected · 0.84 ms · up 2 h 05 min"
        );
        assert_eq!(icon(&snapshot.state), TrayIcon::Connected);
        let waiting = Snapshot {
            state: ConnectionState::Reconnecting {
                attempt: 3,
                next_try_ms: 0,
            },
            latency: snapshot.latency.clone(),
            ..Snapshot::default()
        };
        assert_eq!(
            status_line(&waiting, 0),
            "Reconnecting (attempt 3)",
            "no stale round trip while not connected"
        );
        assert_eq!(icon(&waiting.state), TrayIcon::Connecting);
    }
}
