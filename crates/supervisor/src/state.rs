//! What the supervisor publishes: the current [`Snapshot`] (state that carries its data) and
//! [`SupervisorEvent`]s for what just happened.

use std::time::{SystemTime, UNIX_EPOCH};

use gatewatch_calendar::Occurrence;
use gatewatch_protocol::notice::Notice;
use gatewatch_protocol::{
    DisconnectCause, Encoding, Position, Stage, StageTimes, SummaryRow, WorkerError,
};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::stats::{Window, WindowStats};
use crate::zombie::ZombieCount;

/// Milliseconds since the Unix epoch, for timestamps that cross process boundaries.
pub fn epoch_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Now, in epoch milliseconds.
pub fn now_ms() -> u64 {
    epoch_ms(SystemTime::now())
}

/// The gateway session while connected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SessionInfo {
    /// Negotiated server version.
    pub server_version: i32,
    /// Protobuf or classic text.
    pub encoding: Encoding,
    /// Managed accounts (paper ids start with `DU`).
    pub accounts: Vec<String>,
    /// The client id in use (the fallback after a 326).
    pub client_id: i32,
    /// Connected since, epoch ms.
    pub since_ms: u64,
    /// How long each stage of the connect took, µs.
    #[serde(default)]
    pub stage_us: StageTimes,
}

/// Why a live connection is not healthy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum DegradedReason {
    /// The last minute's median round trip, or that of the newest answers (late replies
    /// included), is over the threshold.
    SlowPings {
        /// The larger of the two medians, µs.
        p50_us: u64,
    },
    /// The last ping got no answer within its timeout.
    LostPings {
        /// Pings in a row without any reply, late or not.
        missed: u32,
    },
    /// 1100: the gateway lost its link to IB.
    IbLinkLost,
    /// 2110: the gateway's link to its server is broken.
    ServerLinkBroken,
    /// A data farm reports broken (2103, 2105, 2157).
    FarmBroken {
        /// The farm.
        farm: String,
    },
}

/// The state of the watched connection; each state carries the data that goes with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectionState {
    /// Not started, or stopped.
    Stopped,
    /// A connect attempt is running.
    Connecting {
        /// 1 for the first attempt after a success.
        attempt: u32,
        /// The handshake stage being attempted.
        stage: Option<Stage>,
        /// The client id being claimed.
        client_id: i32,
    },
    /// Connected and healthy.
    Connected(SessionInfo),
    /// Connected, but something is wrong.
    Degraded {
        /// The session.
        session: SessionInfo,
        /// Everything that is wrong, most serious first.
        reasons: Vec<DegradedReason>,
    },
    /// Waiting to retry.
    Reconnecting {
        /// The attempt that comes next.
        attempt: u32,
        /// When, epoch ms.
        next_try_ms: u64,
    },
    /// Too many failures in a row: full connects are suspended, and a cheap probe (TCP and
    /// the version exchange, no client id claimed) checks the gateway every few seconds; a
    /// full connect follows as soon as a probe is answered.
    CircuitOpen {
        /// Consecutive failed connects.
        failures: u32,
        /// Since when, epoch ms.
        since_ms: u64,
        /// Time between probes, ms.
        probe_every_ms: u64,
        /// The last probe was answered: the gateway's API port is up, but full connects keep
        /// failing (a stalled start-up, client ids taken), so they are spaced out.
        answering: bool,
        /// The earliest next full connect, epoch ms (it also waits for a probe answered).
        next_full_try_ms: u64,
    },
    /// The gateway is down or cut off from IB during its own planned restart (or auto log
    /// off), as the calendar expects: no alarm until it is overdue.
    ScheduledRestart {
        /// The restart, and when the gateway should be back.
        outage: Occurrence,
        /// What the connection is doing meanwhile (reconnecting, probing, 1100 …).
        connection: Box<ConnectionState>,
    },
    /// The gateway lost its link to IB, or dropped, inside a server reset window or the
    /// weekend maintenance: expected, no alarm until it is overdue.
    ServerReset {
        /// The window.
        outage: Occurrence,
        /// What the connection is doing meanwhile.
        connection: Box<ConnectionState>,
    },
    /// An expected outage that lasted past its window and grace time: the gateway did not
    /// come back (after the Sunday expiry, a 2FA approval is probably waiting).
    Overdue {
        /// The window it did not come back from.
        outage: Occurrence,
        /// What the connection is doing meanwhile.
        connection: Box<ConnectionState>,
    },
    /// Retries and alerts are paused by the user.
    Paused {
        /// When the pause ends by itself, epoch ms; `None` until resumed.
        until_ms: Option<u64>,
    },
}

impl DegradedReason {
    /// Several reasons as one phrase, most serious first: `pings unanswered …; slow (…)`.
    pub fn join(reasons: &[DegradedReason]) -> String {
        reasons
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// For people: what is wrong, e.g. `slow (median round trip 412.00 ms)`.
impl std::fmt::Display for DegradedReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DegradedReason::SlowPings { p50_us } => write!(
                f,
                "slow (median round trip {:.2} ms)",
                *p50_us as f64 / 1000.0
            ),
            DegradedReason::LostPings { missed } => {
                write!(f, "pings unanswered in time ({missed} in a row)")
            }
            DegradedReason::IbLinkLost => {
                f.write_str("the gateway lost its connection to IB (1100)")
            }
            DegradedReason::ServerLinkBroken => {
                f.write_str("the gateway's link to its server is broken (2110)")
            }
            DegradedReason::FarmBroken { farm } => write!(f, "data farm {farm} is broken"),
        }
    }
}

impl ConnectionState {
    /// A short name (`connected`, `circuit_open`, …) for logs and the command line.
    pub fn name(&self) -> &'static str {
        match self {
            ConnectionState::Stopped => "stopped",
            ConnectionState::Connecting { .. } => "connecting",
            ConnectionState::Connected(_) => "connected",
            ConnectionState::Degraded { .. } => "degraded",
            ConnectionState::Reconnecting { .. } => "reconnecting",
            ConnectionState::CircuitOpen { .. } => "circuit_open",
            ConnectionState::ScheduledRestart { .. } => "scheduled_restart",
            ConnectionState::ServerReset { .. } => "server_reset",
            ConnectionState::Overdue { .. } => "overdue",
            ConnectionState::Paused { .. } => "paused",
        }
    }

    /// The expected or overdue outage in words: "nightly restart, back by 23:48",
    /// "North America server reset 00:15–01:45 ET, expected", or for an overdue one what
    /// probably happened and what to do.
    pub fn outage_phrase(&self) -> Option<String> {
        Some(match self {
            ConnectionState::ScheduledRestart { outage, .. } => {
                format!("{}, {}", outage.label, outage.back_by())
            }
            ConnectionState::ServerReset { outage, .. } => {
                format!("{} {}, expected", outage.label, outage.local)
            }
            // Connected but still cut off: the advice for a gateway that did not come back
            // (log in, approve on the phone) would send the trader the wrong way.
            ConnectionState::Overdue { outage, connection } => match connection.as_ref() {
                ConnectionState::Degraded { reasons, .. } => format!(
                    "the gateway is up but still not well after {} ({}): {}; check its link to IB, and restart it if it does not recover",
                    if outage.is_gateways_own() {
                        format!("its {}", outage.label)
                    } else {
                        format!("the {}", outage.label)
                    },
                    outage.local,
                    DegradedReason::join(reasons)
                ),
                _ => outage.overdue_advice(),
            },
            _ => return None,
        })
    }

    /// The live API session: connected or degraded, also under an expected or overdue outage
    /// (a gateway cut off from IB during its restart still answers its API).
    pub fn live_session(&self) -> Option<&SessionInfo> {
        match self {
            ConnectionState::Connected(session) | ConnectionState::Degraded { session, .. } => {
                Some(session)
            }
            other => other.outage().and_then(|(_, inner)| inner.live_session()),
        }
    }

    /// The expected outage this state is about, with what the connection does meanwhile.
    pub fn outage(&self) -> Option<(&Occurrence, &ConnectionState)> {
        match self {
            ConnectionState::ScheduledRestart { outage, connection }
            | ConnectionState::ServerReset { outage, connection }
            | ConnectionState::Overdue { outage, connection } => Some((outage, connection)),
            _ => None,
        }
    }

    /// Whether this is the same state for a person: the same kind, session and kinds of
    /// problem, whatever figures, counters and clocks moved. A state-change event is emitted
    /// only when this is false.
    pub fn same_as(&self, other: &ConnectionState) -> bool {
        use std::mem::discriminant;
        match (self, other) {
            (
                ConnectionState::Degraded {
                    session: a,
                    reasons: x,
                },
                ConnectionState::Degraded {
                    session: b,
                    reasons: y,
                },
            ) => {
                a == b
                    && x.len() == y.len()
                    && x.iter().zip(y).all(|(x, y)| match (x, y) {
                        (
                            DegradedReason::FarmBroken { farm: f },
                            DegradedReason::FarmBroken { farm: g },
                        ) => f == g,
                        _ => discriminant(x) == discriminant(y),
                    })
            }
            (
                ConnectionState::Reconnecting { attempt: x, .. },
                ConnectionState::Reconnecting { attempt: y, .. },
            ) => x == y,
            (
                ConnectionState::CircuitOpen { answering: x, .. },
                ConnectionState::CircuitOpen { answering: y, .. },
            ) => x == y,
            // Retries under an expected outage are not news; the outage is.
            (a, b) if a.outage().is_some() => {
                discriminant(a) == discriminant(b)
                    && a.outage().map(|(o, _)| o) == b.outage().map(|(o, _)| o)
            }
            _ => self == other,
        }
    }
}

/// Latency figures.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, TS)]
pub struct LatencySnapshot {
    /// The newest ping's result: a round trip, or `None` when lost; absent before any ping.
    pub last_rtt_us: Option<Option<u64>>,
    /// When that ping was answered or given up on, epoch ms.
    pub last_ping_ms: Option<u64>,
    /// Rolling statistics per window.
    pub windows: Vec<(Window, WindowStats)>,
}

/// The worker process.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
pub struct WorkerInfo {
    /// Its process id, while one runs.
    pub pid: Option<u32>,
    /// Times it was replaced (crash, hang, garbage, leaked sockets).
    pub restarts: u64,
}

/// Everything a front end shows, as of now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Snapshot {
    /// The connection.
    pub state: ConnectionState,
    /// Ping statistics.
    pub latency: LatencySnapshot,
    /// Positions from the last refresh.
    pub positions: Vec<Position>,
    /// Account summary from the last refresh.
    pub account_summary: Vec<SummaryRow>,
    /// When positions and summary were last refreshed, epoch ms.
    pub data_updated_ms: Option<u64>,
    /// The worker.
    pub worker: WorkerInfo,
    /// CLOSE_WAIT sockets on the gateway's port.
    pub zombies: ZombieCount,
    /// The last connect error.
    pub last_error: Option<WorkerError>,
}

impl Default for Snapshot {
    fn default() -> Self {
        Self {
            state: ConnectionState::Stopped,
            latency: LatencySnapshot::default(),
            positions: Vec::new(),
            account_summary: Vec::new(),
            data_updated_ms: None,
            worker: WorkerInfo::default(),
            zombies: ZombieCount::default(),
            last_error: None,
        }
    }
}

/// Something that just happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SupervisorEvent {
    /// When, epoch ms.
    pub at_ms: u64,
    /// What (flattened: the JSON reads `{"at_ms":…,"kind":"state_changed","state":…}`).
    #[serde(flatten)]
    pub kind: EventKind,
}

/// The kinds of event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// The state changed to this one.
    StateChanged {
        /// The new state.
        state: ConnectionState,
    },
    /// A gateway notice.
    Notice(Notice),
    /// A ping's result: a round trip in µs, or `None` when it got no answer in time. A reply
    /// that comes after its ping timed out is a second event with `late` set and its true
    /// round trip (the ping itself stays lost).
    Ping {
        /// The round trip.
        rtt_us: Option<u64>,
        /// This is the late reply of a ping already reported lost.
        #[serde(default)]
        late: bool,
    },
    /// A connect attempt failed.
    ConnectFailed {
        /// Which attempt.
        attempt: u32,
        /// Why.
        error: WorkerError,
    },
    /// A probe of a gateway being retried slowly (circuit open) failed differently from what
    /// was last known: the port refused before, and now accepts but the handshake stalls, say.
    ProbeFailed {
        /// Why.
        error: WorkerError,
    },
    /// The client id was in use (326): the fallback id is being tried.
    ClientIdFallback {
        /// The id that was refused.
        from: i32,
        /// The id tried next.
        to: i32,
    },
    /// The connection dropped.
    Disconnected {
        /// Why, as the worker saw it.
        cause: DisconnectCause,
        /// Details.
        message: String,
    },
    /// The worker was replaced.
    WorkerRestarted {
        /// Why.
        reason: String,
        /// The new worker generation.
        generation: u64,
    },
    /// CLOSE_WAIT sockets were found (or went away).
    ZombieSockets(ZombieCount),
    /// Positions and the account summary were refreshed.
    DataRefreshed,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(client_id: i32) -> SessionInfo {
        SessionInfo {
            server_version: 213,
            encoding: Encoding::Protobuf,
            accounts: vec!["DU1".into()],
            client_id,
            since_ms: 5,
            stage_us: Default::default(),
        }
    }

    #[test]
    fn moving_figures_are_not_a_new_state_but_a_new_kind_of_problem_is() {
        let degraded = |reasons| ConnectionState::Degraded {
            session: session(901),
            reasons,
        };
        let slow = |p50_us| degraded(vec![DegradedReason::SlowPings { p50_us }]);
        assert!(
            slow(600_000).same_as(&slow(650_000)),
            "a new median is no change"
        );
        let lost = |missed| degraded(vec![DegradedReason::LostPings { missed }]);
        assert!(lost(1).same_as(&lost(2)));
        assert!(!slow(600_000).same_as(&lost(1)));
        let farm = |farm: &str| degraded(vec![DegradedReason::FarmBroken { farm: farm.into() }]);
        assert!(
            !farm("usfarm").same_as(&farm("eufarm")),
            "another farm is news"
        );
        assert!(
            !ConnectionState::Connected(session(901))
                .same_as(&ConnectionState::Connected(session(902)))
        );
        let waiting = |attempt, next_try_ms| ConnectionState::Reconnecting {
            attempt,
            next_try_ms,
        };
        assert!(waiting(2, 10).same_as(&waiting(2, 11)));
        assert!(!waiting(2, 10).same_as(&waiting(3, 10)));
    }

    #[test]
    fn events_serialize_flat_and_round_trip() {
        let event = SupervisorEvent {
            at_ms: 7,
            kind: EventKind::StateChanged {
                state: ConnectionState::Reconnecting {
                    attempt: 2,
                    next_try_ms: 9,
                },
            },
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["kind"], "state_changed");
        assert_eq!(json["state"]["state"], "reconnecting");
        assert_eq!(
            serde_json::from_value::<SupervisorEvent>(json).unwrap(),
            event
        );
        let zombies = SupervisorEvent {
            at_ms: 1,
            kind: EventKind::ZombieSockets(ZombieCount {
                ours: 0,
                gateway: 3,
                other_clients: 1,
            }),
        };
        let json = serde_json::to_value(&zombies).unwrap();
        assert_eq!(
            (json["kind"].as_str(), json["gateway"].as_u64()),
            (Some("zombie_sockets"), Some(3))
        );
    }
}
