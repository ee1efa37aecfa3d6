//! The event log the UI shows: state changes, notices, failures and restarts of every
//! gateway, each line naming its gateway, newest last, bounded so a day of flapping cannot
//! grow it without end.

use std::collections::VecDeque;

use gatewatch_supervisor::state::DegradedReason;
use gatewatch_supervisor::{ConnectionState, EventKind, SupervisorEvent};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// How many entries are kept (for all gateways together).
pub const LOG_CAPACITY: usize = 2_000;

/// What an entry is about, for the UI's filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum LogKind {
    /// The connection state changed.
    State,
    /// A gateway notice.
    Notice,
    /// A connect failed or the connection dropped.
    Failure,
    /// The worker was replaced.
    Restart,
    /// CLOSE_WAIT sockets were found.
    Zombie,
    /// About this computer or the user's actions, not one gateway's state (it slept; an
    /// IBC lever was pulled).
    Note,
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct LogEntry {
    /// The id of the gateway profile it is about.
    pub gateway: String,
    /// When, epoch ms.
    pub at_ms: u64,
    /// What kind.
    pub kind: LogKind,
    /// The line.
    pub text: String,
    /// A failure during an outage the calendar expects (a planned restart, a server reset):
    /// shown, but not as an alarm.
    #[serde(default)]
    pub expected: bool,
}

/// The bounded log.
#[derive(Debug, Clone, Default)]
pub struct EventLog {
    entries: VecDeque<LogEntry>,
}

impl EventLog {
    /// Records an event of gateway `gateway`, if it is one the log shows (pings and
    /// refreshes are not); returns the entry made.
    pub fn record(&mut self, gateway: &str, event: &SupervisorEvent) -> Option<&LogEntry> {
        self.record_during(gateway, event, None)
    }

    /// As [`EventLog::record`], while the gateway is in the expected outage called
    /// `expected` ("nightly restart"), if it is: its failures are marked as expected.
    pub fn record_during(
        &mut self,
        gateway: &str,
        event: &SupervisorEvent,
        expected: Option<&str>,
    ) -> Option<&LogEntry> {
        let (kind, mut text) = describe(&event.kind)?;
        let expected = expected.filter(|_| kind == LogKind::Failure);
        if let Some(outage) = expected {
            text.push_str(&format!(" (expected during the {outage})"));
        }
        if self.entries.len() == LOG_CAPACITY {
            self.entries.pop_front();
        }
        self.entries.push_back(LogEntry {
            gateway: gateway.to_owned(),
            at_ms: event.at_ms,
            kind,
            text,
            expected: expected.is_some(),
        });
        self.entries.back()
    }

    /// Records a line of the app's own (`gateway` empty when it concerns every gateway).
    pub fn note(&mut self, gateway: &str, at_ms: u64, text: String) -> LogEntry {
        if self.entries.len() == LOG_CAPACITY {
            self.entries.pop_front();
        }
        let entry = LogEntry {
            gateway: gateway.to_owned(),
            at_ms,
            kind: LogKind::Note,
            text,
            expected: false,
        };
        self.entries.push_back(entry.clone());
        entry
    }

    /// The newest `limit` entries of the given kinds (all kinds when empty), oldest first.
    pub fn recent(&self, limit: usize, kinds: &[LogKind]) -> Vec<LogEntry> {
        let mut picked: Vec<LogEntry> = self
            .entries
            .iter()
            .rev()
            .filter(|e| kinds.is_empty() || kinds.contains(&e.kind))
            .take(limit)
            .cloned()
            .collect();
        picked.reverse();
        picked
    }
}

fn describe(kind: &EventKind) -> Option<(LogKind, String)> {
    Some(match kind {
        EventKind::StateChanged { state } => (
            LogKind::State,
            // In a trader's words, like the cards ("connecting: version exchange", "not
            // well: slow (…)", "down: checking every 2 s"), never the internal state names.
            match state {
                ConnectionState::Connecting {
                    stage: Some(stage), ..
                } => format!("state: connecting: {stage}"),
                ConnectionState::Connecting { stage: None, .. } => "state: connecting".into(),
                ConnectionState::Connected(_) => "state: connected".into(),
                ConnectionState::Degraded { reasons, .. } => {
                    format!("state: not well: {}", DegradedReason::join(reasons))
                }
                ConnectionState::Reconnecting { .. } => "state: down, retrying".into(),
                ConnectionState::CircuitOpen { probe_every_ms, .. } => format!(
                    "state: down, connects spaced out, checking every {} s",
                    probe_every_ms.div_ceil(1000)
                ),
                ConnectionState::ScheduledRestart { .. } | ConnectionState::ServerReset { .. } => {
                    format!("state: {}", state.outage_phrase().unwrap_or_default())
                }
                ConnectionState::Overdue { .. } => format!(
                    "state: overdue: {}",
                    state.outage_phrase().unwrap_or_default()
                ),
                ConnectionState::Paused { .. } => "state: alerts paused".into(),
                ConnectionState::Stopped => "state: not watched".into(),
            },
        ),
        EventKind::Notice(notice) => (
            LogKind::Notice,
            format!("{} {}", notice.code, notice.message),
        ),
        EventKind::ConnectFailed { attempt, error } => {
            let stage = error.stage.map(|s| format!(" at {s}")).unwrap_or_default();
            (
                LogKind::Failure,
                format!("connect attempt {attempt} failed{stage}: {}", error.message),
            )
        }
        EventKind::ProbeFailed { error } => {
            let stage = error.stage.map(|s| format!(" at {s}")).unwrap_or_default();
            (
                LogKind::Failure,
                format!("probe failed{stage}: {}", error.message),
            )
        }
        EventKind::ClientIdFallback { from, to } => (
            LogKind::Failure,
            format!("client id {from} in use (326); trying {to}"),
        ),
        EventKind::Disconnected { message, .. } => {
            (LogKind::Failure, format!("disconnected: {message}"))
        }
        EventKind::WorkerRestarted { reason, .. } => {
            (LogKind::Restart, format!("worker replaced: {reason}"))
        }
        EventKind::ZombieSockets(count) => (
            LogKind::Zombie,
            count
                .advice()
                .unwrap_or_else(|| "no sockets in CLOSE_WAIT".into()),
        ),
        EventKind::Ping { .. } | EventKind::DataRefreshed => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatewatch_protocol::notice::Notice;

    fn event(kind: EventKind) -> SupervisorEvent {
        SupervisorEvent { at_ms: 1, kind }
    }

    #[test]
    fn keeps_what_people_read_and_filters_by_kind() {
        let mut log = EventLog::default();
        log.record(
            "paper",
            &event(EventKind::Ping {
                rtt_us: Some(5),
                late: false,
            }),
        );
        log.record(
            "paper",
            &event(EventKind::StateChanged {
                state: ConnectionState::CircuitOpen {
                    failures: 5,
                    since_ms: 0,
                    probe_every_ms: 2_000,
                    answering: false,
                    next_full_try_ms: 0,
                },
            }),
        );
        log.record(
            "paper",
            &event(EventKind::Notice(Notice::new(
                1100,
                "Connectivity between IB and Trader Workstation has been lost.",
            ))),
        );
        assert_eq!(log.recent(10, &[]).len(), 2, "pings are not logged");
        assert_eq!(log.recent(10, &[])[0].gateway, "paper");
        assert_eq!(
            log.recent(10, &[LogKind::State])[0].text,
            "state: down, connects spaced out, checking every 2 s"
        );
        assert!(
            log.recent(10, &[LogKind::Notice])[0]
                .text
                .starts_with("1100 ")
        );
    }

    #[test]
    fn a_connect_stage_and_a_failed_stage_read_as_words() {
        let mut log = EventLog::default();
        log.record(
            "paper",
            &event(EventKind::StateChanged {
                state: ConnectionState::Connecting {
                    attempt: 1,
                    stage: Some(gatewatch_protocol::Stage::VersionExchange),
                    client_id: 901,
                },
            }),
        );
        log.record(
            "paper",
            &event(EventKind::ConnectFailed {
                attempt: 2,
                error: gatewatch_protocol::WorkerError::at(
                    gatewatch_protocol::Stage::TcpConnect,
                    gatewatch_protocol::ErrorCode::GatewayUnreachable,
                    "refused",
                ),
            }),
        );
        let texts: Vec<String> = log.recent(10, &[]).into_iter().map(|e| e.text).collect();
        assert_eq!(
            texts,
            [
                "state: connecting: version exchange",
                "connect attempt 2 failed at TCP connect: refused"
            ]
        );
    }

    #[test]
    fn is_bounded() {
        let mut log = EventLog::default();
        for i in 0..(LOG_CAPACITY as u64 + 10) {
            log.record(
                "paper",
                &SupervisorEvent {
                    at_ms: i,
                    kind: EventKind::StateChanged {
                        state: ConnectionState::Stopped,
                    },
                },
            );
        }
        let all = log.recent(usize::MAX, &[]);
        assert_eq!(all.len(), LOG_CAPACITY);
        assert_eq!(all[0].at_ms, 10, "the oldest go first");
    }
}
