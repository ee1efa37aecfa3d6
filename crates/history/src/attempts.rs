//! Connect attempts (with each stage's time) and CLOSE_WAIT counts when they change, as rows,
//! from the supervisor's events alone, so the app and the headless service keep the same.

use gatewatch_protocol::WorkerError;
use gatewatch_supervisor::state::SessionInfo;
use gatewatch_supervisor::zombie::ZombieCount;
use gatewatch_supervisor::{ConnectionState, EventKind, SupervisorEvent};

use crate::incidents::stage_name;
use crate::{ConnectRow, ZombieRow};

/// One gateway's last session and CLOSE_WAIT counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttemptTracker {
    /// The `since_ms` of the session last recorded: a state that repeats it is the same
    /// connection, not a new attempt.
    session_since: Option<u64>,
    close_wait: ZombieCount,
}

/// What one event adds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AttemptRows {
    /// A connect attempt that ended.
    pub connect: Option<ConnectRow>,
    /// CLOSE_WAIT counts that changed.
    pub zombie: Option<ZombieRow>,
}

/// A connect attempt that ended, as the events tell it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Attempt<'e> {
    /// A session seen for the first time (a state that repeats a session is not a connect).
    Connected(&'e SessionInfo),
    /// A full connect that failed.
    Failed(&'e WorkerError),
}

impl AttemptTracker {
    /// The connect attempt `event` ends, if any. The history's rows and the metrics' counts
    /// both come from here.
    pub fn attempt<'e>(&mut self, event: &'e SupervisorEvent) -> Option<Attempt<'e>> {
        match &event.kind {
            EventKind::StateChanged {
                state:
                    ConnectionState::Connected(session) | ConnectionState::Degraded { session, .. },
            } if self.session_since != Some(session.since_ms) => {
                self.session_since = Some(session.since_ms);
                Some(Attempt::Connected(session))
            }
            EventKind::ConnectFailed { error, .. } => Some(Attempt::Failed(error)),
            _ => None,
        }
    }

    /// Takes in one event of gateway `gateway`.
    pub fn observe(&mut self, gateway: &str, event: &SupervisorEvent) -> AttemptRows {
        let connect = self.attempt(event).map(|attempt| match attempt {
            Attempt::Connected(session) => ConnectRow {
                gateway: gateway.to_owned(),
                at_ms: session.since_ms,
                ok: true,
                stage: None,
                stage_us: session.stage_us.in_order().map(Some),
                error: None,
            },
            Attempt::Failed(error) => ConnectRow {
                gateway: gateway.to_owned(),
                at_ms: event.at_ms,
                ok: false,
                stage: error.stage.map(|s| stage_name(s).to_owned()),
                stage_us: [None; 4],
                error: Some(error.message.clone()),
            },
        });
        let zombie = match &event.kind {
            EventKind::ZombieSockets(count) if *count != self.close_wait => {
                self.close_wait = *count;
                Some(ZombieRow {
                    gateway: gateway.to_owned(),
                    at_ms: event.at_ms,
                    counts: [count.ours, count.gateway, count.other_clients],
                })
            }
            _ => None,
        };
        AttemptRows { connect, zombie }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatewatch_protocol::{Encoding, ErrorCode, Stage, StageTimes, WorkerError};
    use gatewatch_supervisor::state::SessionInfo;

    fn event(kind: EventKind, at_ms: u64) -> SupervisorEvent {
        SupervisorEvent { at_ms, kind }
    }

    #[test]
    fn a_connect_is_recorded_once_with_its_stage_times_and_failures_with_their_stage() {
        let mut tracker = AttemptTracker::default();
        let failed = tracker.observe(
            "paper",
            &event(
                EventKind::ConnectFailed {
                    attempt: 1,
                    error: WorkerError::at(
                        Stage::VersionExchange,
                        ErrorCode::HandshakeTimeout,
                        "no reply to the version exchange",
                    ),
                },
                1_000,
            ),
        );
        let failed = failed.connect.unwrap();
        assert!(!failed.ok);
        assert_eq!(failed.stage.as_deref(), Some("version_exchange"));
        let session = SessionInfo {
            server_version: 213,
            encoding: Encoding::Protobuf,
            accounts: vec![],
            client_id: 1,
            since_ms: 5_000,
            stage_us: StageTimes {
                tcp_connect: 100,
                version_exchange: 200,
                start_api: 300,
                first_ping: 400,
            },
        };
        let connected = event(
            EventKind::StateChanged {
                state: ConnectionState::Connected(session.clone()),
            },
            5_000,
        );
        let row = tracker.observe("paper", &connected).connect.unwrap();
        assert_eq!(row.stage_us, [Some(100), Some(200), Some(300), Some(400)]);
        assert_eq!(row.at_ms, 5_000);
        let degraded = event(
            EventKind::StateChanged {
                state: ConnectionState::Degraded {
                    session,
                    reasons: vec![],
                },
            },
            9_000,
        );
        assert_eq!(
            tracker.observe("paper", &degraded).connect,
            None,
            "the same session degrading is not another connect"
        );
    }

    #[test]
    fn close_wait_counts_are_recorded_when_they_change() {
        let mut tracker = AttemptTracker::default();
        let count = |gateway| {
            EventKind::ZombieSockets(ZombieCount {
                ours: 0,
                gateway,
                other_clients: 0,
            })
        };
        assert!(tracker.observe("p", &event(count(0), 1)).zombie.is_none());
        let row = tracker.observe("p", &event(count(3), 2)).zombie.unwrap();
        assert_eq!(row.counts, [0, 3, 0]);
        assert!(tracker.observe("p", &event(count(3), 3)).zombie.is_none());
        assert!(tracker.observe("p", &event(count(0), 4)).zombie.is_some());
    }
}
