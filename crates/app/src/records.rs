//! What the app remembers of every gateway while it runs: the event log (one for all, each
//! line naming its gateway), each gateway's latency samples for the chart, and since when
//! each gateway has been in its present condition and what its last problem was. The relay
//! tasks, one per supervisor, write here; the snapshot reads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use gatewatch_supervisor::{ConnectionState, EventKind, SupervisorEvent};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use ts_rs::TS;

use crate::{EventLog, LatencyHistory, LogEntry, LogKind};

/// An event of one gateway, as the app's stream carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct GatewayEvent {
    /// The id of the gateway profile.
    pub gateway: String,
    /// The supervisor's event (flattened: `{"gateway":…,"at_ms":…,"kind":…}`).
    #[serde(flatten)]
    pub event: SupervisorEvent,
}

/// One gateway's condition over time.
#[derive(Debug, Clone, Default)]
pub struct GatewayRecord {
    /// When the gateway entered its present condition: connected (or degraded) since, or
    /// down since (the first state that was not connected after one that was), epoch ms.
    pub since_ms: u64,
    /// Whether that condition is "connected".
    up: bool,
    /// The newest problem: a failed connect, a drop, a client id in use, or the reasons it
    /// became degraded (not the failures of an expected outage).
    pub last_problem: Option<LogEntry>,
    /// The expected outage it is in ("nightly restart"), while it is in one.
    expected: Option<String>,
}

/// Everything remembered, behind one lock.
#[derive(Default)]
pub struct Records {
    /// What waits to be written to the history database (`None`: no database).
    pub history: Option<crate::history::Feed>,
    pub log: EventLog,
    pub latency: HashMap<String, LatencyHistory>,
    pub gateways: HashMap<String, GatewayRecord>,
    /// What the metrics endpoint counts, per gateway.
    pub tallies: HashMap<String, crate::tally::Tally>,
}

impl Records {
    /// Takes in one event of gateway `gateway`.
    pub fn record(&mut self, gateway: &str, event: &SupervisorEvent) {
        self.tallies
            .entry(gateway.to_owned())
            .or_default()
            .observe(event);
        if let EventKind::Ping { rtt_us, .. } = event.kind {
            self.latency
                .entry(gateway.to_owned())
                .or_default()
                .record(event.at_ms, rtt_us);
        }
        let record = self
            .gateways
            .entry(gateway.to_owned())
            .or_insert_with(|| GatewayRecord {
                since_ms: event.at_ms,
                ..GatewayRecord::default()
            });
        if let EventKind::StateChanged { state } = &event.kind {
            let up = matches!(
                state,
                ConnectionState::Connected(_) | ConnectionState::Degraded { .. }
            );
            if up != record.up {
                record.up = up;
                record.since_ms = event.at_ms;
            }
            record.expected = match state {
                ConnectionState::ScheduledRestart { outage, .. }
                | ConnectionState::ServerReset { outage, .. } => Some(outage.label.clone()),
                _ => None,
            };
        }
        let degraded = matches!(
            &event.kind,
            EventKind::StateChanged {
                state: ConnectionState::Degraded { .. }
            }
        );
        let entry = self
            .log
            .record_during(gateway, event, record.expected.as_deref());
        if let Some(feed) = &mut self.history {
            feed.record(gateway, event, entry);
        }
        if let Some(entry) = entry
            && !entry.expected
            && (entry.kind == LogKind::Failure || degraded)
        {
            record.last_problem = Some(entry.clone());
        }
    }

    /// Forgets the charts and conditions of gateways no longer watched; their log lines stay.
    pub fn retain(&mut self, watched: &[&str]) {
        self.latency.retain(|id, _| watched.contains(&id.as_str()));
        self.gateways.retain(|id, _| watched.contains(&id.as_str()));
        self.tallies.retain(|id, _| watched.contains(&id.as_str()));
    }
}

/// Copies one supervisor's events into the records and onto the app's stream, tagged with
/// the gateway's id, until the supervisor is dropped.
pub async fn relay(
    gateway: String,
    mut from: broadcast::Receiver<SupervisorEvent>,
    records: Arc<Mutex<Records>>,
    to: broadcast::Sender<GatewayEvent>,
) {
    loop {
        match from.recv().await {
            Ok(event) => {
                records
                    .lock()
                    .expect("records poisoned")
                    .record(&gateway, &event);
                let _ = to.send(GatewayEvent {
                    gateway: gateway.clone(),
                    event,
                });
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(gateway, missed, "event relay fell behind")
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatewatch_protocol::Encoding;
    use gatewatch_supervisor::state::SessionInfo;

    fn at(at_ms: u64, kind: EventKind) -> SupervisorEvent {
        SupervisorEvent { at_ms, kind }
    }

    fn state(state: ConnectionState) -> EventKind {
        EventKind::StateChanged { state }
    }

    #[test]
    fn down_since_is_the_first_state_after_connected_and_retries_do_not_move_it() {
        let mut records = Records::default();
        let connected = ConnectionState::Connected(SessionInfo {
            server_version: 213,
            encoding: Encoding::Protobuf,
            accounts: vec![],
            client_id: 901,
            since_ms: 1_000,
            stage_us: Default::default(),
        });
        records.record("paper", &at(1_000, state(connected.clone())));
        records.record(
            "paper",
            &at(
                5_000,
                EventKind::Disconnected {
                    cause: gatewatch_protocol::DisconnectCause::GatewayClosed,
                    message: "the gateway closed the connection".into(),
                },
            ),
        );
        for (t, attempt) in [(5_001, 1), (6_000, 2), (9_000, 3)] {
            records.record(
                "paper",
                &at(
                    t,
                    state(ConnectionState::Reconnecting {
                        attempt,
                        next_try_ms: 0,
                    }),
                ),
            );
        }
        let record = &records.gateways["paper"];
        assert_eq!(
            record.since_ms, 5_001,
            "down since the first state after the drop"
        );
        assert_eq!(
            record.last_problem.as_ref().unwrap().text,
            "disconnected: the gateway closed the connection"
        );
        records.record("paper", &at(12_000, state(connected)));
        assert_eq!(records.gateways["paper"].since_ms, 12_000);
        assert!(
            !records.gateways.contains_key("live"),
            "each gateway has its own record"
        );
    }

    #[test]
    fn a_degraded_state_is_the_last_problem_with_its_reasons() {
        let mut records = Records::default();
        records.record(
            "paper",
            &at(
                1_000,
                state(ConnectionState::Degraded {
                    session: SessionInfo {
                        server_version: 213,
                        encoding: Encoding::Protobuf,
                        accounts: vec![],
                        client_id: 901,
                        since_ms: 0,
                        stage_us: Default::default(),
                    },
                    reasons: vec![gatewatch_supervisor::state::DegradedReason::LostPings {
                        missed: 4,
                    }],
                }),
            ),
        );
        assert_eq!(
            records.gateways["paper"]
                .last_problem
                .as_ref()
                .unwrap()
                .text,
            "state: not well: pings unanswered in time (4 in a row)"
        );
    }

    #[test]
    fn failures_during_an_expected_outage_are_marked_and_are_not_the_last_problem() {
        let mut records = Records::default();
        let outage = gatewatch_supervisor::calendar::Occurrence {
            kind: gatewatch_supervisor::calendar::OccurrenceKind::DailyRestart,
            label: "nightly restart".into(),
            starts_ms: 0,
            ends_ms: Some(180_000),
            expected_from_ms: 0,
            expected_until_ms: 0,
            overdue_at_ms: None,
            needs_2fa: false,
            ibc_login: false,
            local: "Mon 23:45 EST".into(),
        };
        let failed = EventKind::ConnectFailed {
            attempt: 2,
            error: gatewatch_protocol::WorkerError::new(
                gatewatch_protocol::ErrorCode::GatewayUnreachable,
                "refused",
            ),
        };
        let reconnecting = Box::new(ConnectionState::Reconnecting {
            attempt: 2,
            next_try_ms: 0,
        });
        records.record(
            "paper",
            &at(
                1_000,
                state(ConnectionState::ScheduledRestart {
                    outage,
                    connection: reconnecting.clone(),
                }),
            ),
        );
        records.record("paper", &at(2_000, failed.clone()));
        let entry = records.log.recent(1, &[]).remove(0);
        assert!(entry.expected);
        assert_eq!(
            entry.text,
            "connect attempt 2 failed: refused (expected during the nightly restart)"
        );
        assert!(records.gateways["paper"].last_problem.is_none());
        // The same failure when nothing is expected is an alarm, and the last problem.
        records.record("paper", &at(3_000, state(*reconnecting)));
        records.record("paper", &at(4_000, failed));
        let entry = records.log.recent(1, &[]).remove(0);
        assert!(!entry.expected);
        assert_eq!(
            records.gateways["paper"]
                .last_problem
                .as_ref()
                .unwrap()
                .text,
            "connect attempt 2 failed: refused"
        );
    }

    #[test]
    fn pings_go_to_their_own_gateways_chart() {
        let mut records = Records::default();
        let ping = |us| EventKind::Ping {
            rtt_us: Some(us),
            late: false,
        };
        records.record("live", &at(1_000, ping(300)));
        records.record("paper", &at(1_000, ping(900)));
        records.record("paper", &at(2_000, ping(800)));
        let series = |id: &str| records.latency[id].series(2_000, 60_000, 100);
        assert_eq!(series("live").rtt_ms.iter().flatten().count(), 1);
        assert_eq!(series("paper").rtt_ms.iter().flatten().count(), 2);
        records.retain(&["live"]);
        assert!(!records.latency.contains_key("paper"));
    }
}
