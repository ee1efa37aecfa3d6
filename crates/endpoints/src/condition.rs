//! A gateway's condition in an operator's words (`connected`, `down`, `zombie`,
//! `scheduled_restart`, …) and whether it is ready, from the supervisor's state and the last
//! failure: the one classification `/metrics`' state gauge, `/readyz` and the alert rules
//! share.

use gatewatch_app::GatewayReading;
use gatewatch_supervisor::{ConnectionState, DegradedReason};
use serde::Serialize;

/// What a gateway is, for an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// Connected and healthy.
    Connected,
    /// Connected, something wrong (slow, pings lost, cut off from IB, a farm broken).
    Degraded,
    /// The first connect attempt of this run is under way (none has ended yet).
    Connecting,
    /// Not connected: refused, dropped, or stalled after the version exchange.
    Down,
    /// The port accepts TCP but the API handshake goes unanswered.
    Zombie,
    /// The gateway's own daily restart or log-off, as the calendar expects.
    ScheduledRestart,
    /// An IB server reset or the weekend maintenance, as the calendar expects.
    ServerReset,
    /// An expected outage that lasted past its window and grace time.
    Overdue,
    /// Watching paused by the user.
    Paused,
    /// Not watched.
    Stopped,
}

impl Condition {
    /// Every condition, for a one-hot gauge.
    pub const ALL: [Condition; 10] = [
        Condition::Connected,
        Condition::Degraded,
        Condition::Connecting,
        Condition::Down,
        Condition::Zombie,
        Condition::ScheduledRestart,
        Condition::ServerReset,
        Condition::Overdue,
        Condition::Paused,
        Condition::Stopped,
    ];

    /// Its label value.
    pub fn name(self) -> &'static str {
        match self {
            Condition::Connected => "connected",
            Condition::Degraded => "degraded",
            Condition::Connecting => "connecting",
            Condition::Down => "down",
            Condition::Zombie => "zombie",
            Condition::ScheduledRestart => "scheduled_restart",
            Condition::ServerReset => "server_reset",
            Condition::Overdue => "overdue",
            Condition::Paused => "paused",
            Condition::Stopped => "stopped",
        }
    }

    /// The condition of a reading.
    pub fn of(reading: &GatewayReading) -> Condition {
        let down = || match &reading.tally.last_failure {
            Some(error) if gatewatch_history::failure_kind(error) == "zombie" => Condition::Zombie,
            _ => Condition::Down,
        };
        match &reading.snapshot.state {
            ConnectionState::Connected(_) => Condition::Connected,
            ConnectionState::Degraded { .. } => Condition::Degraded,
            // Only before any attempt ended: after a drop, the first attempt is a gateway down.
            ConnectionState::Connecting { attempt: 1, .. }
                if reading.tally.connect_attempts == 0 =>
            {
                Condition::Connecting
            }
            ConnectionState::Connecting { .. }
            | ConnectionState::Reconnecting { .. }
            | ConnectionState::CircuitOpen { .. } => down(),
            ConnectionState::ScheduledRestart { .. } => Condition::ScheduledRestart,
            ConnectionState::ServerReset { .. } => Condition::ServerReset,
            ConnectionState::Overdue { .. } => Condition::Overdue,
            ConnectionState::Paused { .. } => Condition::Paused,
            ConnectionState::Stopped => Condition::Stopped,
        }
    }
}

/// The API session is up: connected or degraded, also inside an expected or overdue outage
/// (a gateway cut off from IB during its restart still answers its API).
pub fn is_up(state: &ConnectionState) -> bool {
    state.live_session().is_some()
}

/// A gateway that is not ready, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotReady {
    /// The profile's id.
    pub gateway: String,
    /// The profile's name.
    pub name: String,
    /// Its condition.
    pub state: Condition,
    /// Why, in words.
    pub reason: String,
}

/// Whether gateway `reading` can be used now: connected (degraded only by slowness, which a
/// bot can live with), or inside an outage the calendar expects. Lost pings, a lost link to
/// IB and a broken data farm are not ready: orders or market data would not go through.
pub fn not_ready(reading: &GatewayReading) -> Option<NotReady> {
    let state = &reading.snapshot.state;
    let condition = Condition::of(reading);
    let reason = match (condition, state) {
        (Condition::Connected | Condition::ScheduledRestart | Condition::ServerReset, _) => {
            return None;
        }
        (Condition::Degraded, ConnectionState::Degraded { reasons, .. }) => {
            let blocking: Vec<DegradedReason> = reasons
                .iter()
                .filter(|r| {
                    matches!(
                        r,
                        DegradedReason::LostPings { .. }
                            | DegradedReason::IbLinkLost
                            | DegradedReason::ServerLinkBroken
                            | DegradedReason::FarmBroken { .. }
                    )
                })
                .cloned()
                .collect();
            if blocking.is_empty() {
                return None;
            }
            DegradedReason::join(&blocking)
        }
        _ => match (&reading.tally.last_failure, state.outage_phrase()) {
            (_, Some(phrase)) => phrase,
            (Some(error), None) => error.message.clone(),
            (None, None) => match state {
                ConnectionState::Connecting { attempt, .. } if condition == Condition::Down => {
                    format!("reconnecting (attempt {attempt})")
                }
                _ => state.name().replace('_', " "),
            },
        },
    };
    Some(NotReady {
        gateway: reading.id.clone(),
        name: reading.name.clone(),
        state: condition,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatewatch_app::tally::Tally;
    use gatewatch_protocol::{Encoding, ErrorCode, Stage, WorkerError};
    use gatewatch_supervisor::calendar::{Occurrence, OccurrenceKind};
    use gatewatch_supervisor::state::SessionInfo;
    use gatewatch_supervisor::{EventKind, Snapshot, SupervisorEvent};

    fn reading(state: ConnectionState, events: Vec<EventKind>) -> GatewayReading {
        let mut tally = Tally::default();
        for kind in events {
            tally.observe(&SupervisorEvent { at_ms: 1, kind });
        }
        GatewayReading {
            id: "g".into(),
            name: "Gateway".into(),
            host: "127.0.0.1".into(),
            port: 4002,
            snapshot: Snapshot {
                state,
                ..Snapshot::default()
            },
            tally,
            expected_outage: None,
        }
    }

    fn session() -> SessionInfo {
        SessionInfo {
            server_version: 213,
            encoding: Encoding::Protobuf,
            accounts: vec![],
            client_id: 1,
            since_ms: 1,
            stage_us: Default::default(),
        }
    }

    fn first_attempt() -> ConnectionState {
        ConnectionState::Connecting {
            attempt: 1,
            stage: None,
            client_id: 901,
        }
    }

    fn failed(stage: Stage, code: ErrorCode) -> EventKind {
        EventKind::ConnectFailed {
            attempt: 1,
            error: WorkerError::at(stage, code, "it failed"),
        }
    }

    #[test]
    fn the_first_attempt_is_connecting_but_the_first_after_a_drop_is_down() {
        assert_eq!(
            Condition::of(&reading(first_attempt(), vec![])),
            Condition::Connecting
        );
        let connected = EventKind::StateChanged {
            state: ConnectionState::Connected(session()),
        };
        let after_drop = reading(first_attempt(), vec![connected]);
        assert_eq!(Condition::of(&after_drop), Condition::Down);
        assert_eq!(
            not_ready(&after_drop).unwrap().reason,
            "reconnecting (attempt 1)"
        );
    }

    #[test]
    fn an_unanswered_version_exchange_is_a_zombie_and_a_refusal_is_down() {
        let zombie = reading(
            ConnectionState::Reconnecting {
                attempt: 2,
                next_try_ms: 0,
            },
            vec![failed(Stage::VersionExchange, ErrorCode::HandshakeTimeout)],
        );
        assert_eq!(Condition::of(&zombie), Condition::Zombie);
        assert_eq!(not_ready(&zombie).unwrap().reason, "it failed");
        let refused = reading(
            ConnectionState::Reconnecting {
                attempt: 2,
                next_try_ms: 0,
            },
            vec![failed(Stage::TcpConnect, ErrorCode::GatewayUnreachable)],
        );
        assert_eq!(Condition::of(&refused), Condition::Down);
    }

    #[test]
    fn slow_is_still_ready_but_unanswered_cut_off_or_without_a_farm_is_not() {
        let degraded = |reasons| {
            reading(
                ConnectionState::Degraded {
                    session: session(),
                    reasons,
                },
                vec![],
            )
        };
        assert!(
            not_ready(&degraded(vec![DegradedReason::SlowPings {
                p50_us: 900_000
            }]))
            .is_none()
        );
        let farm = not_ready(&degraded(vec![DegradedReason::FarmBroken {
            farm: "usfarm".into(),
        }]))
        .unwrap();
        assert_eq!(farm.reason, "data farm usfarm is broken");
        let cut_off = not_ready(&degraded(vec![
            DegradedReason::SlowPings { p50_us: 900_000 },
            DegradedReason::IbLinkLost,
        ]))
        .unwrap();
        assert_eq!(cut_off.state, Condition::Degraded);
        assert_eq!(
            cut_off.reason,
            "the gateway lost its connection to IB (1100)"
        );
        assert!(not_ready(&degraded(vec![DegradedReason::LostPings { missed: 3 }])).is_some());
    }

    #[test]
    fn an_expected_restart_is_ready_and_up_while_the_session_lives_but_overdue_is_not_ready() {
        let outage = Occurrence {
            kind: OccurrenceKind::DailyRestart,
            label: "nightly restart".into(),
            starts_ms: 0,
            ends_ms: Some(120_000),
            expected_from_ms: 0,
            expected_until_ms: 180_000,
            overdue_at_ms: Some(480_000),
            needs_2fa: true,
            ibc_login: false,
            local: "23:45 ET".into(),
        };
        let restarting = reading(
            ConnectionState::ScheduledRestart {
                outage: outage.clone(),
                connection: Box::new(ConnectionState::Reconnecting {
                    attempt: 2,
                    next_try_ms: 0,
                }),
            },
            vec![],
        );
        assert_eq!(Condition::of(&restarting), Condition::ScheduledRestart);
        assert!(not_ready(&restarting).is_none());
        assert!(!is_up(&restarting.snapshot.state));
        let cut_off_inside = ConnectionState::ServerReset {
            outage: outage.clone(),
            connection: Box::new(ConnectionState::Degraded {
                session: session(),
                reasons: vec![DegradedReason::IbLinkLost],
            }),
        };
        assert!(is_up(&cut_off_inside), "the API session is still there");
        let overdue = reading(
            ConnectionState::Overdue {
                outage,
                connection: Box::new(ConnectionState::CircuitOpen {
                    failures: 5,
                    since_ms: 0,
                    probe_every_ms: 5_000,
                    answering: false,
                    next_full_try_ms: 0,
                }),
            },
            vec![],
        );
        let why = not_ready(&overdue).unwrap();
        assert_eq!(why.state, Condition::Overdue);
        assert!(!why.reason.is_empty());
    }
}
