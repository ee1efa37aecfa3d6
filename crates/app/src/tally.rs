//! Counts kept for the metrics endpoint: what the supervisor's events add up to since this
//! run started, per gateway (pings sent and lost, round trips in buckets, connect attempts by
//! outcome and stage, worker restarts, drops by cause, IB notices by code, data farms).
//!
//! Counters only grow while the app runs (Prometheus' `rate()` handles a restart), and live
//! here rather than in the supervisor so a supervisor replaced by a settings change does not
//! reset them. The figures that describe *now* (state, CLOSE_WAIT, server version) are read
//! from the supervisor's snapshot when the metrics are rendered.

use std::collections::BTreeMap;

use gatewatch_history::{Attempt, AttemptTracker};
use gatewatch_protocol::notice::NoticeCategory;
use gatewatch_protocol::{DisconnectCause, WorkerError};
use gatewatch_supervisor::{EventKind, SupervisorEvent};

/// Round-trip buckets, seconds: 1-2-5 steps from 0.1 ms (a gateway on the same computer) to
/// 5 s (far past any ping timeout worth keeping).
pub const RTT_BUCKETS_S: [f64; 15] = [
    0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
];

/// Connect stage buckets, seconds: the round-trip steps and on to 30 s, past the handshake
/// timeouts a stage can take.
pub const STAGE_BUCKETS_S: [f64; 17] = [
    0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
    10.0, 30.0,
];

/// Observations in fixed buckets (each count is that bucket's alone; the exposition makes
/// them cumulative).
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets {
    /// Upper bounds, seconds.
    pub bounds: &'static [f64],
    /// One count per bound, and a last one for everything above the last bound.
    pub counts: Vec<u64>,
    /// Sum of the observations, seconds.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

impl Buckets {
    /// Empty, with these bounds.
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
            count: 0,
        }
    }

    /// Adds one observation of `us` microseconds.
    pub fn observe_us(&mut self, us: u64) {
        let seconds = us as f64 / 1e6;
        let index = self
            .bounds
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(self.bounds.len());
        self.counts[index] += 1;
        self.sum += seconds;
        self.count += 1;
    }

    /// `(upper bound, observations in that bucket alone)` for each bound and `+Inf`, as the
    /// encoder takes them (it accumulates).
    pub fn per_bucket(&self) -> Vec<(f64, u64)> {
        self.bounds
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(self.counts.iter().copied())
            .collect()
    }
}

/// What a data farm last said of itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FarmStatus {
    /// 2104, 2106, 2158.
    Ok,
    /// 2103, 2105, 2157.
    Broken,
    /// 2107, 2108: idle, connects on demand.
    Inactive,
    /// 2119.
    Connecting,
}

impl FarmStatus {
    /// Every status, for a one-hot gauge.
    pub const ALL: [FarmStatus; 4] = [
        FarmStatus::Ok,
        FarmStatus::Broken,
        FarmStatus::Inactive,
        FarmStatus::Connecting,
    ];

    /// Its label value.
    pub fn name(self) -> &'static str {
        match self {
            FarmStatus::Ok => "ok",
            FarmStatus::Broken => "broken",
            FarmStatus::Inactive => "inactive",
            FarmStatus::Connecting => "connecting",
        }
    }

    fn of(category: NoticeCategory) -> Option<Self> {
        Some(match category {
            NoticeCategory::FarmOk => FarmStatus::Ok,
            NoticeCategory::FarmBroken => FarmStatus::Broken,
            NoticeCategory::FarmInactive => FarmStatus::Inactive,
            NoticeCategory::FarmConnecting => FarmStatus::Connecting,
            _ => return None,
        })
    }
}

/// One gateway's counts since this run started.
#[derive(Debug, Clone, PartialEq)]
pub struct Tally {
    /// Pings sent (a late reply is not a ping of its own).
    pub pings_sent: u64,
    /// Pings without an answer within their timeout.
    pub pings_lost: u64,
    /// Round trips of the pings answered in time.
    pub rtt: Buckets,
    /// When a ping was last answered in time, epoch ms.
    pub last_answer_ms: Option<u64>,
    /// Full connect attempts that ended (probes of an open circuit are not attempts).
    pub connect_attempts: u64,
    /// Failed attempts by the name of the stage that failed (`unknown` when none is named).
    pub connect_failures: BTreeMap<&'static str, u64>,
    /// How long each stage of the successful connects took, in [`Stage::ALL`]'s order.
    pub stage_times: [Buckets; 4],
    /// Workers replaced.
    pub worker_restarts: u64,
    /// Connections dropped, by cause.
    pub disconnects: BTreeMap<&'static str, u64>,
    /// IB notices by code.
    pub notices: BTreeMap<i32, u64>,
    /// Each farm's last word since the session began (forgotten when it drops).
    pub farms: BTreeMap<String, FarmStatus>,
    /// The last failed connect or probe since the gateway was last connected.
    pub last_failure: Option<WorkerError>,
    /// Which events end a connect attempt (the history's own rule).
    attempts: AttemptTracker,
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            pings_sent: 0,
            pings_lost: 0,
            rtt: Buckets::new(&RTT_BUCKETS_S),
            last_answer_ms: None,
            connect_attempts: 0,
            connect_failures: BTreeMap::new(),
            stage_times: std::array::from_fn(|_| Buckets::new(&STAGE_BUCKETS_S)),
            worker_restarts: 0,
            disconnects: BTreeMap::new(),
            notices: BTreeMap::new(),
            farms: BTreeMap::new(),
            last_failure: None,
            attempts: AttemptTracker::default(),
        }
    }
}

/// A drop's cause as a label value.
pub fn cause_name(cause: DisconnectCause) -> &'static str {
    match cause {
        DisconnectCause::GatewayClosed => "gateway_closed",
        DisconnectCause::ConnectionReset => "connection_reset",
        DisconnectCause::PortReset => "port_reset",
        DisconnectCause::ProtocolError => "protocol_error",
        DisconnectCause::Unresponsive => "unresponsive",
    }
}

impl Tally {
    /// Takes in one event.
    pub fn observe(&mut self, event: &SupervisorEvent) {
        match self.attempts.attempt(event) {
            Some(Attempt::Connected(session)) => {
                self.connect_attempts += 1;
                self.last_failure = None;
                for (buckets, us) in self.stage_times.iter_mut().zip(session.stage_us.in_order()) {
                    buckets.observe_us(us);
                }
            }
            Some(Attempt::Failed(error)) => {
                self.connect_attempts += 1;
                let stage = error.stage.map_or("unknown", gatewatch_history::stage_name);
                *self.connect_failures.entry(stage).or_default() += 1;
                self.last_failure = Some(error.clone());
            }
            None => {}
        }
        match &event.kind {
            EventKind::Ping { late: true, .. } => {}
            EventKind::Ping {
                rtt_us,
                late: false,
            } => {
                self.pings_sent += 1;
                match rtt_us {
                    Some(us) => {
                        self.rtt.observe_us(*us);
                        self.last_answer_ms = Some(event.at_ms);
                    }
                    None => self.pings_lost += 1,
                }
            }
            EventKind::ProbeFailed { error } => self.last_failure = Some(error.clone()),
            EventKind::Disconnected { cause, .. } => {
                *self.disconnects.entry(cause_name(*cause)).or_default() += 1;
                self.farms.clear();
            }
            EventKind::WorkerRestarted { .. } => self.worker_restarts += 1,
            EventKind::Notice(notice) => {
                *self.notices.entry(notice.code).or_default() += 1;
                if let (Some(farm), Some(status)) = (&notice.farm, FarmStatus::of(notice.category))
                {
                    self.farms.insert(farm.clone(), status);
                }
            }
            EventKind::StateChanged { .. }
            | EventKind::ConnectFailed { .. }
            | EventKind::ClientIdFallback { .. }
            | EventKind::ZombieSockets(_)
            | EventKind::DataRefreshed => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatewatch_protocol::notice::Notice;
    use gatewatch_protocol::{Encoding, ErrorCode, Stage, StageTimes};
    use gatewatch_supervisor::ConnectionState;
    use gatewatch_supervisor::state::SessionInfo;

    fn at(at_ms: u64, kind: EventKind) -> SupervisorEvent {
        SupervisorEvent { at_ms, kind }
    }

    fn connected(since_ms: u64) -> EventKind {
        EventKind::StateChanged {
            state: ConnectionState::Connected(SessionInfo {
                server_version: 213,
                encoding: Encoding::Protobuf,
                accounts: vec![],
                client_id: 1,
                since_ms,
                stage_us: StageTimes {
                    tcp_connect: 150,
                    version_exchange: 900,
                    start_api: 3_000,
                    first_ping: 400,
                },
            }),
        }
    }

    #[test]
    fn buckets_put_each_observation_at_its_first_bound_and_add_up() {
        let mut b = Buckets::new(&RTT_BUCKETS_S);
        for us in [50, 100, 101, 420, 6_000_000] {
            b.observe_us(us);
        }
        let buckets = b.per_bucket();
        assert_eq!(buckets[0], (0.0001, 2), "50 µs and exactly 100 µs");
        assert_eq!(buckets[1], (0.0002, 1));
        assert_eq!(buckets[2], (0.0005, 1));
        assert_eq!(buckets[14], (5.0, 0));
        assert_eq!(buckets[15], (f64::INFINITY, 1), "6 s only in +Inf");
        assert_eq!(buckets.iter().map(|(_, n)| n).sum::<u64>(), 5);
        assert_eq!(b.count, 5);
        assert!((b.sum - 6.000671).abs() < 1e-9, "{}", b.sum);
    }

    #[test]
    fn pings_late_replies_connects_and_failures_are_counted_once() {
        let mut t = Tally::default();
        t.observe(&at(1, connected(1)));
        t.observe(&at(2, connected(1)));
        t.observe(&at(
            3,
            EventKind::Ping {
                rtt_us: Some(420),
                late: false,
            },
        ));
        t.observe(&at(
            4,
            EventKind::Ping {
                rtt_us: None,
                late: false,
            },
        ));
        t.observe(&at(
            5,
            EventKind::Ping {
                rtt_us: Some(3_000_000),
                late: true,
            },
        ));
        let failure = WorkerError::at(Stage::VersionExchange, ErrorCode::HandshakeTimeout, "x");
        t.observe(&at(
            6,
            EventKind::ConnectFailed {
                attempt: 1,
                error: failure.clone(),
            },
        ));
        assert_eq!((t.pings_sent, t.pings_lost, t.rtt.count), (2, 1, 1));
        assert_eq!(t.last_answer_ms, Some(3), "a late reply is not an answer");
        assert_eq!(
            t.connect_attempts, 2,
            "the repeated state is the same connect"
        );
        assert_eq!(t.connect_failures["version_exchange"], 1);
        assert_eq!(t.stage_times[2].count, 1);
        assert_eq!(
            t.stage_times[2].per_bucket()[5],
            (0.005, 1),
            "3 ms start_api"
        );
        assert_eq!(t.last_failure, Some(failure));
        t.observe(&at(7, connected(7)));
        assert_eq!((t.connect_attempts, t.last_failure.is_none()), (3, true));
    }

    #[test]
    fn farms_keep_their_last_word_until_the_connection_drops() {
        let mut t = Tally::default();
        for (code, text) in [
            (2104, "Market data farm connection is OK:usfarm"),
            (2103, "Market data farm connection is broken:usfarm"),
            (2106, "HMDS data farm connection is OK:ushmds"),
        ] {
            t.observe(&at(1, EventKind::Notice(Notice::new(code, text))));
        }
        assert_eq!(t.farms["usfarm"], FarmStatus::Broken);
        assert_eq!(t.farms["ushmds"], FarmStatus::Ok);
        assert_eq!((t.notices[&2104], t.notices[&2103]), (1, 1));
        t.observe(&at(
            2,
            EventKind::Disconnected {
                cause: DisconnectCause::GatewayClosed,
                message: String::new(),
            },
        ));
        assert!(t.farms.is_empty());
        assert_eq!(t.disconnects["gateway_closed"], 1);
    }
}
