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
    /// The first connect attempt of this run is under way.
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
            ConnectionState::Connecting { attempt: 1, .. }
                if reading.tally.last_failure.is_none() =>
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
    match state {
        ConnectionState::Connected(_) | ConnectionState::Degraded { .. } => true,
        other => other.outage().is_some_and(|(_, inner)| is_up(inner)),
    }
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

/// Whether gateway `reading` can be used now: connected (degraded only by slowness or a
/// data farm, which a bot can live with), or inside an outage the calendar expects. Lost
/// pings and a lost link to IB are not ready: orders would not go through.
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
            (None, None) => state.name().replace('_', " "),
        },
    };
    Some(NotReady {
        gateway: reading.id.clone(),
        name: reading.name.clone(),
        state: condition,
        reason,
    })
}
