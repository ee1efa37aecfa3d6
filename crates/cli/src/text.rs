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
        ConnectionState::ScheduledRestart { connection, .. }
        | ConnectionState::ServerReset { connection, .. } => format!(
            "{} ({}); meanwhile {}",
            state.name().replace('_', " "),
            state.outage_phrase().unwrap_or_default(),
            self::state(connection, now_ms)
        ),
        ConnectionState::Overdue { connection, .. } => format!(
            "overdue: {}; meanwhile {}",
            state.outage_phrase().unwrap_or_default(),
            self::state(connection, now_ms)
        ),
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
        EventKind::ProbeFailed { error } => format!("probe failed: {error}"),
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

/// What comes next in a gateway's calendar, one item per kind, soonest first:
/// `nightly restart Mon 23:45 EST (in 3 h 12 min); North America server reset 00:15–01:45 ET
/// (in 4 h 2 min); weekly re-login (2FA) Sun 01:00 ET (in 2 d 3 h)`.
pub fn upcoming(list: &[gatewatch_supervisor::calendar::Occurrence], now_ms: u64) -> String {
    if list.is_empty() {
        return "nothing scheduled".into();
    }
    list.iter()
        .map(|o| {
            let when = if o.starts_ms <= now_ms {
                "now".to_owned()
            } else {
                format!("in {}", countdown(o.starts_ms - now_ms))
            };
            format!("{} {} ({when})", o.label, o.local)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `45 s`, `12 min`, `3 h 12 min`, `2 d 3 h`.
fn countdown(ms: u64) -> String {
    let mins = ms / 60_000;
    match ms / 1000 {
        s if s < 60 => format!("{s} s"),
        _ if mins < 60 => format!("{mins} min"),
        _ if mins < 24 * 60 => format!("{} h {} min", mins / 60, mins % 60),
        _ => format!("{} d {} h", mins / (24 * 60), mins / 60 % 24),
    }
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

    #[test]
    fn the_calendar_and_expected_states_read_as_sentences() {
        let restart = gatewatch_supervisor::calendar::Occurrence {
            kind: gatewatch_supervisor::calendar::OccurrenceKind::DailyRestart,
            label: "nightly restart".into(),
            starts_ms: 1_000 + (3 * 60 + 12) * 60_000,
            ends_ms: Some(1_000 + (3 * 60 + 15) * 60_000),
            expected_from_ms: 0,
            expected_until_ms: 0,
            overdue_at_ms: None,
            needs_2fa: false,
            ibc_login: false,
            local: "Mon 23:45 EST".into(),
        };
        let reset = gatewatch_supervisor::calendar::Occurrence {
            kind: gatewatch_supervisor::calendar::OccurrenceKind::ServerReset,
            label: "North America server reset".into(),
            starts_ms: 1_000 + 2 * 86_400_000 + 3 * 3_600_000,
            local: "00:15–01:45 ET".into(),
            ..restart.clone()
        };
        assert_eq!(
            upcoming(&[restart.clone(), reset.clone()], 1_000),
            "nightly restart Mon 23:45 EST (in 3 h 12 min); North America server reset 00:15–01:45 ET (in 2 d 3 h)"
        );
        let state = ConnectionState::ServerReset {
            outage: reset,
            connection: Box::new(ConnectionState::Reconnecting {
                attempt: 2,
                next_try_ms: 1_500,
            }),
        };
        assert_eq!(
            self::state(&state, 1_000),
            "server reset (North America server reset 00:15–01:45 ET, expected); meanwhile reconnecting: attempt 2 in 0.5 s"
        );
    }
}
