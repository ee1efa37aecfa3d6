//! What the command line says, in sentences for people: one place renders states and events,
//! and both the text output and the `text` field of the JSON output use it, so the two always
//! carry the same facts.

use gatewatch_protocol::Stage;
use gatewatch_supervisor::ConnectionState;
use gatewatch_supervisor::state::{DegradedReason, EventKind};
use gatewatch_supervisor::stats::WindowStats;

/// A duration in µs as milliseconds with two decimals.
pub fn millis(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

/// A connection state, e.g. `connected: server version 213 (protobuf), client id 901, …`,
/// with why it is not connected when there is a reason to give.
pub fn state_with_cause(
    state: &ConnectionState,
    last_error: Option<&gatewatch_protocol::WorkerError>,
    now_ms: u64,
) -> String {
    let text = self::state(state, now_ms);
    match (state, last_error) {
        (
            ConnectionState::Reconnecting { .. } | ConnectionState::CircuitOpen { .. },
            Some(error),
        ) => format!("{text}; last error: {error}"),
        _ => text,
    }
}

/// A connection state, e.g. `connected: server version 213 (protobuf), client id 901, …`.
pub fn state(state: &ConnectionState, now_ms: u64) -> String {
    match state {
        ConnectionState::Stopped => "stopped".into(),
        ConnectionState::Connecting {
            attempt,
            stage,
            client_id,
        } => {
            let stage = stage.map(|s: Stage| format!(": {s}")).unwrap_or_default();
            format!("connecting (attempt {attempt}, client id {client_id}){stage}")
        }
        ConnectionState::Connected(session) => format!(
            "connected: server version {} ({}), client id {}, accounts {}",
            session.server_version,
            encoding(session.encoding),
            session.client_id,
            session.accounts.join(", ")
        ),
        ConnectionState::Degraded { reasons, .. } => {
            format!("degraded: {}", DegradedReason::join(reasons))
        }
        ConnectionState::Reconnecting {
            attempt,
            next_try_ms,
        } => format!(
            "reconnecting: attempt {attempt} in {:.1} s",
            next_try_ms.saturating_sub(now_ms) as f64 / 1000.0
        ),
        ConnectionState::CircuitOpen {
            failures,
            answering: true,
            next_full_try_ms,
            ..
        } => format!(
            "not connected: the gateway answers, but {failures} connects in a row failed after that; next full connect in {:.0} s at the earliest",
            next_full_try_ms.saturating_sub(now_ms) as f64 / 1000.0
        ),
        ConnectionState::CircuitOpen {
            failures,
            probe_every_ms,
            ..
        } => format!(
            "gateway down ({failures} failed connects in a row): checking it every {:.0} s, reconnecting as soon as it answers",
            *probe_every_ms as f64 / 1000.0
        ),
        ConnectionState::Paused {
            until_ms: Some(until),
        } => format!(
            "paused for {:.0} s more: no retries, no alerts",
            until.saturating_sub(now_ms) as f64 / 1000.0
        ),
        ConnectionState::Paused { until_ms: None } => {
            "paused until resumed: no retries, no alerts".into()
        }
    }
}

fn encoding(encoding: gatewatch_protocol::Encoding) -> &'static str {
    match encoding {
        gatewatch_protocol::Encoding::Protobuf => "protobuf",
        gatewatch_protocol::Encoding::Mixed => "protobuf and text",
        gatewatch_protocol::Encoding::ClassicText => "classic text",
    }
}

/// An event, or `None` for those the command line does not announce (pings, refreshes).
/// `last_error` is the supervisor's latest, to say why a state is not connected.
pub fn event(
    kind: &EventKind,
    last_error: Option<&gatewatch_protocol::WorkerError>,
    now_ms: u64,
) -> Option<String> {
    Some(match kind {
        EventKind::StateChanged { state: s } => {
            format!("state {}", state_with_cause(s, last_error, now_ms))
        }
        EventKind::Notice(notice) => format!("notice {}: {}", notice.code, notice.message),
        EventKind::ConnectFailed { attempt, error } => {
            format!("connect attempt {attempt} failed: {error}")
        }
        EventKind::ClientIdFallback { from, to } => {
            format!("client id {from} is in use by another API client: trying {to}")
        }
        EventKind::Disconnected { message, .. } => format!("disconnected: {message}"),
        EventKind::WorkerRestarted { reason, .. } => format!("worker replaced: {reason}"),
        EventKind::ZombieSockets(count) => format!(
            "CLOSE_WAIT sockets: {}",
            count.advice().unwrap_or_else(|| "none any more".into())
        ),
        EventKind::Ping { .. } | EventKind::DataRefreshed => return None,
    })
}

/// The periodic latency line for one window.
pub fn latency(label: &str, window: &WindowStats) -> String {
    let ms = |v: Option<u64>| v.map(millis).unwrap_or_else(|| "-".into());
    let mut line = format!(
        "latency {label}: p50 {}  p95 {}  p99 {}  max {}  lost {}/{}",
        ms(window.p50_us),
        ms(window.p95_us),
        ms(window.p99_us),
        ms(window.max_us),
        window.lost,
        window.sent
    );
    if window.late > 0 {
        line.push_str(&format!("  ({} answered late)", window.late));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatewatch_protocol::{ErrorCode, WorkerError};

    #[test]
    fn errors_and_states_read_as_sentences_without_debug_formatting() {
        let failed = EventKind::ConnectFailed {
            attempt: 2,
            error: WorkerError::at(
                Stage::VersionExchange,
                ErrorCode::HandshakeRejected,
                "this port answers HTTP, not the TWS API: check the port number",
            ),
        };
        let line = event(&failed, None, 0).unwrap();
        assert_eq!(
            line,
            "connect attempt 2 failed: version exchange: this port answers HTTP, not the TWS API: check the port number"
        );
        let connecting = ConnectionState::Connecting {
            attempt: 1,
            stage: Some(Stage::StartApi),
            client_id: 901,
        };
        assert_eq!(
            state(&connecting, 0),
            "connecting (attempt 1, client id 901): API start-up"
        );
        let stalled = ConnectionState::CircuitOpen {
            failures: 7,
            since_ms: 0,
            probe_every_ms: 2_000,
            answering: true,
            next_full_try_ms: 16_000,
        };
        let taken = WorkerError::at(
            Stage::StartApi,
            ErrorCode::ClientIdInUse,
            "client ids 901 and 902 are both in use by other API clients",
        );
        let said = state_with_cause(&stalled, Some(&taken), 1_000);
        assert!(
            said.contains("the gateway answers")
                && said.contains("in 15 s")
                && said.ends_with("both in use by other API clients"),
            "{said}"
        );
        assert!(!said.contains("down"), "the gateway is not down: {said}");
        for text in [line, state(&connecting, 0)] {
            assert!(
                !text.contains("Some(") && !text.contains("Handshake"),
                "{text}"
            );
        }
    }
}
