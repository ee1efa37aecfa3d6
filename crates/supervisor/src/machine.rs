//! The supervisor's decisions, with no I/O: what happened (an [`Input`]) and the time it
//! happened go in, the state changes, and what to do about it comes out as [`Effect`]s.
//!
//! When to connect and with which client id, when to back off, when to stop full connects
//! and probe cheaply instead, when a connection is degraded or must be replaced, when to
//! respawn a worker that keeps dying: all of it lives here, so it is tested with a fake clock
//! (instants built from one `Instant` plus offsets), never with sleeps. The actor
//! (`actor.rs`) owns the worker process and the pipes, turns what they say into inputs, and
//! carries out the effects; it decides nothing about the connection itself.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use gatewatch_protocol::notice::{Notice, NoticeCategory};
use gatewatch_protocol::{DisconnectCause, ErrorCode, Session, Stage, WorkerError};

use crate::config::SupervisorConfig;
use crate::retry::{Retry, Verdict};
use crate::state::{ConnectionState, DegradedReason, EventKind, LatencySnapshot, SessionInfo};
use crate::stats::{LatencyStats, RECENT_ANSWERS, Sample, Window, WindowStats};

/// Something that happened, as the actor saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Start watching.
    Start,
    /// Stop watching (the worker is stopped gracefully).
    Stop,
    /// The user asks for an attempt now: backoff, breaker and respawn waits are forgotten.
    ReconnectNow,
    /// No retries (and, in the app, no alerts) for a while or until resumed.
    Pause(Option<Duration>),
    /// End a pause.
    Resume,
    /// Check the gateway now: the next ping, retry or probe is due at once (backoff and
    /// breaker are kept; a ping already in flight is waited for).
    Recheck,
    /// A worker process is running and has greeted.
    WorkerStarted,
    /// A worker process could not be started.
    WorkerSpawnFailed(String),
    /// The worker process is gone (crashed, hung and killed, or misbehaved and replaced).
    WorkerExited(String),
    /// The connect in flight reached this stage.
    Stage(Stage),
    /// The connect in flight succeeded.
    Connected {
        /// What the worker established.
        session: Session,
        /// When, epoch ms (the session's start, as shown to people).
        at_ms: u64,
    },
    /// The connect in flight failed.
    ConnectFailed(WorkerError),
    /// A probe's result: the version the gateway answered with, or why it did not.
    Probed(Result<i32, WorkerError>),
    /// A ping was answered in time.
    PingAnswered {
        /// Its round trip.
        rtt_us: u64,
    },
    /// A ping got no answer in time (or could not be sent).
    PingLost,
    /// A ping was not sent: an earlier one is still owed its reply (the worker cannot tell
    /// replies apart until it comes). Not a measurement.
    PingSkipped,
    /// A ping ended without a result (the connection went away under it).
    PingAborted,
    /// The reply to a ping already counted lost came after all.
    PingLate {
        /// Its true round trip.
        rtt_us: u64,
    },
    /// A gateway notice.
    Notice(Notice),
    /// The gateway connection dropped.
    Dropped {
        /// Why.
        cause: DisconnectCause,
        /// Details.
        message: String,
    },
    /// Time passed (a deadline from [`Machine::next_deadline`] came).
    Tick,
}

/// Something the actor must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Start a worker process; answer with [`Input::WorkerStarted`] or
    /// [`Input::WorkerSpawnFailed`].
    SpawnWorker,
    /// Stop the worker process gracefully.
    StopWorker,
    /// Ask the worker to connect with this client id.
    Connect {
        /// The client id to claim.
        client_id: i32,
    },
    /// Ask the worker to probe the gateway.
    Probe,
    /// Ask the worker for a ping.
    Ping,
    /// Ask the worker to close its gateway connection.
    Disconnect,
    /// Announce an event.
    Emit(EventKind),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Stopped,
    Running,
    Paused { until: Option<Instant> },
}

/// The gateway connection as the machine tracks it.
#[derive(Debug, Clone)]
enum Link {
    Idle,
    /// The next full attempt is due at `at` (once a worker runs).
    Waiting {
        attempt: u32,
        at: Instant,
    },
    /// A connect request is with the worker.
    Connecting {
        attempt: u32,
        client_id: i32,
        stage: Option<Stage>,
    },
    Up {
        session: SessionInfo,
        problems: Problems,
    },
    /// The circuit is open: probes instead of full connects.
    Probing {
        next_probe: Instant,
        in_flight: bool,
        /// The last probe was answered (the API port is up).
        answered: bool,
        /// A probe answered from this instant on brings a full trial attempt.
        trial_at: Instant,
    },
}

/// What a live connection's notices say is wrong.
#[derive(Debug, Clone, Default)]
struct Problems {
    ib_link_lost: bool,
    server_link_broken: bool,
    farms_broken: BTreeSet<String>,
}

/// The worker process as far as decisions go.
#[derive(Debug, Clone, Copy)]
enum Worker {
    /// None runs; the next may be spawned from this instant (`None`: now).
    Absent {
        respawn_at: Option<Instant>,
    },
    Spawning,
    Up {
        since: Instant,
    },
}

#[derive(Debug, Clone, Default)]
struct Pinging {
    next_at: Option<Instant>,
    /// The ping with the worker: when it was asked for.
    in_flight: Option<Instant>,
    /// Pings in a row that got no answer within their timeout (a late reply does not undo
    /// that: the ping was still lost).
    lost_in_a_row: u32,
    /// The oldest ping still owed a reply (timed out, no late reply yet): when it was sent.
    /// The gateway has been silent since then.
    owed_since: Option<Instant>,
    last_result_at: Option<Instant>,
}

/// Which client id to claim: the configured one, its fallback once after a 326, and the
/// configured one again after a success or a failed round.
#[derive(Debug, Clone)]
struct ClientIds {
    primary: i32,
    fallback: Option<i32>,
    on_fallback: bool,
}

enum InUse {
    TryFallback(i32),
    BothTaken(String),
}

impl ClientIds {
    fn current(&self) -> i32 {
        match (self.on_fallback, self.fallback) {
            (true, Some(fallback)) => fallback,
            _ => self.primary,
        }
    }

    fn in_use(&mut self, refused: i32) -> InUse {
        match self.fallback {
            Some(fallback) if !self.on_fallback && refused == self.primary => {
                self.on_fallback = true;
                InUse::TryFallback(fallback)
            }
            Some(fallback) => {
                self.on_fallback = false;
                InUse::BothTaken(format!(
                    "client ids {} and {fallback} are both in use by other API clients; pick a free client id in the settings",
                    self.primary
                ))
            }
            None => InUse::BothTaken(format!(
                "client id {} is in use by another API client; pick a free client id in the settings",
                self.primary
            )),
        }
    }

    fn reset(&mut self) {
        self.on_fallback = false;
    }
}

/// The supervisor's decisions and the state they act on.
#[derive(Debug)]
pub struct Machine {
    config: SupervisorConfig,
    mode: Mode,
    link: Link,
    connects: Retry,
    respawns: Retry,
    worker: Worker,
    client_ids: ClientIds,
    stats: LatencyStats,
    /// The statistics as of the last ping result (recomputed per ping, not per publish).
    windows: Vec<(Window, WindowStats)>,
    /// The median of the newest answers ([`RECENT_ANSWERS`]), as of the last ping.
    recent_p50_us: Option<u64>,
    pinging: Pinging,
    /// Since when full connects have been suspended (the circuit is open).
    circuit_open_since: Option<Instant>,
    /// When the last connect attempt went out: probes keep their spacing from it.
    last_attempt_at: Option<Instant>,
    last_error: Option<WorkerError>,
    effects: Vec<Effect>,
}

impl Machine {
    /// A stopped machine; `seed` drives the retry jitter.
    pub fn new(config: SupervisorConfig, seed: u64) -> Self {
        Self {
            connects: Retry::new(config.connect_retry, seed),
            respawns: Retry::new(config.worker_retry, seed.rotate_left(17)),
            client_ids: ClientIds {
                primary: config.client_id,
                fallback: config.fallback_client_id,
                on_fallback: false,
            },
            config,
            mode: Mode::Stopped,
            link: Link::Idle,
            worker: Worker::Absent { respawn_at: None },
            stats: LatencyStats::default(),
            windows: Vec::new(),
            recent_p50_us: None,
            pinging: Pinging::default(),
            circuit_open_since: None,
            last_attempt_at: None,
            last_error: None,
            effects: Vec::new(),
        }
    }

    /// Takes in what happened at `now`; returns what to do, in order.
    pub fn handle(&mut self, input: Input, now: Instant) -> Vec<Effect> {
        match input {
            Input::Start => self.start(now),
            Input::Stop => self.stop(),
            Input::ReconnectNow => self.reconnect_now(now),
            Input::Pause(duration) => {
                if self.mode != Mode::Stopped {
                    self.mode = Mode::Paused {
                        until: duration.map(|d| now + d),
                    };
                }
            }
            Input::Resume => self.resume(now),
            Input::Recheck => self.recheck(now),
            Input::WorkerStarted => {
                if matches!(self.worker, Worker::Spawning) {
                    self.worker = Worker::Up { since: now };
                }
            }
            Input::WorkerSpawnFailed(message) => {
                self.last_error = Some(WorkerError::new(ErrorCode::Internal, message));
                self.worker_failed(now);
            }
            Input::WorkerExited(reason) => self.worker_exited(reason, now),
            Input::Stage(stage) => {
                if let Link::Connecting { stage: current, .. } = &mut self.link {
                    *current = Some(stage);
                }
            }
            Input::Connected { session, at_ms } => self.connected(session, at_ms, now),
            Input::ConnectFailed(error) => self.connect_failed(error, now),
            Input::Probed(result) => self.probed(result, now),
            Input::PingAnswered { rtt_us } => self.ping_result(Sample::Answered(rtt_us), now),
            Input::PingLost => self.ping_result(Sample::Lost, now),
            Input::PingSkipped | Input::PingAborted => self.pinging.in_flight = None,
            Input::PingLate { rtt_us } => self.ping_result(Sample::Late(rtt_us), now),
            Input::Notice(notice) => self.notice(notice),
            Input::Dropped { cause, message } => {
                self.emit(EventKind::Disconnected { cause, message });
                if matches!(self.link, Link::Up { .. }) {
                    self.lost_link(now);
                }
            }
            Input::Tick => {}
        }
        if let Mode::Paused { until: Some(until) } = self.mode
            && now >= until
        {
            self.resume(now);
        }
        self.advance(now);
        std::mem::take(&mut self.effects)
    }

    /// When the machine next needs a [`Input::Tick`], if ever.
    pub fn next_deadline(&self) -> Option<Instant> {
        let pause_end = match self.mode {
            Mode::Paused { until } => until,
            _ => None,
        };
        let running = self.mode == Mode::Running;
        let action = match &self.link {
            Link::Waiting { at, .. } if running => self.when_worker_allows(*at),
            Link::Probing {
                next_probe,
                in_flight: false,
                ..
            } if running => self.when_worker_allows(*next_probe),
            Link::Up { .. } if self.pinging.in_flight.is_none() => self.pinging.next_at,
            _ => None,
        };
        let silence_limit = match self.link {
            Link::Up { .. } => self
                .pinging
                .owed_since
                .map(|since| since + self.silence_limit()),
            _ => None,
        };
        [pause_end, action, silence_limit]
            .into_iter()
            .flatten()
            .min()
    }

    /// The earliest an action due at `at` can run, given the worker; `None` while one is
    /// being spawned (its start is an input of its own).
    fn when_worker_allows(&self, at: Instant) -> Option<Instant> {
        match self.worker {
            Worker::Up { .. } => Some(at),
            Worker::Spawning => None,
            Worker::Absent { respawn_at } => Some(respawn_at.map_or(at, |r| r.max(at))),
        }
    }

    /// The state to publish; `to_epoch` turns an instant into epoch milliseconds.
    pub fn state(&self, now: Instant, to_epoch: impl Fn(Instant) -> u64) -> ConnectionState {
        match (&self.mode, &self.link) {
            (Mode::Stopped, _) | (Mode::Running, Link::Idle) => ConnectionState::Stopped,
            (Mode::Paused { until }, _) => ConnectionState::Paused {
                until_ms: until.map(&to_epoch),
            },
            (Mode::Running, Link::Waiting { attempt, at }) => ConnectionState::Reconnecting {
                attempt: *attempt,
                next_try_ms: to_epoch(self.when_worker_allows(*at).unwrap_or(now)),
            },
            (
                Mode::Running,
                Link::Connecting {
                    attempt,
                    client_id,
                    stage,
                },
            ) => ConnectionState::Connecting {
                attempt: *attempt,
                stage: *stage,
                client_id: *client_id,
            },
            (Mode::Running, Link::Up { session, problems }) => {
                let reasons = self.reasons(problems);
                if reasons.is_empty() {
                    ConnectionState::Connected(session.clone())
                } else {
                    ConnectionState::Degraded {
                        session: session.clone(),
                        reasons,
                    }
                }
            }
            (
                Mode::Running,
                Link::Probing {
                    answered, trial_at, ..
                },
            ) => ConnectionState::CircuitOpen {
                failures: self.connects.failures(),
                since_ms: to_epoch(self.circuit_open_since.unwrap_or(now)),
                probe_every_ms: self.config.probe_interval_ms,
                answering: *answered,
                next_full_try_ms: to_epoch(*trial_at),
            },
        }
    }

    /// Latency figures as of the last ping result.
    pub fn latency(&self, to_epoch: impl Fn(Instant) -> u64) -> LatencySnapshot {
        LatencySnapshot {
            last_rtt_us: self.stats.last_ping(),
            last_ping_ms: self.pinging.last_result_at.map(to_epoch),
            windows: self.windows.clone(),
        }
    }

    /// Whether the gateway connection is up (data requests may go to the worker).
    pub fn is_up(&self) -> bool {
        matches!(self.link, Link::Up { .. })
    }

    /// The last connect or worker error, cleared by a successful connect.
    pub fn last_error(&self) -> Option<&WorkerError> {
        self.last_error.as_ref()
    }

    // ----- inputs -----

    fn start(&mut self, now: Instant) {
        if self.mode != Mode::Stopped {
            return;
        }
        self.mode = Mode::Running;
        self.connects.succeeded();
        self.circuit_open_since = None;
        self.client_ids.reset();
        self.link = Link::Waiting {
            attempt: 1,
            at: now,
        };
    }

    fn stop(&mut self) {
        self.mode = Mode::Stopped;
        self.link = Link::Idle;
        self.pinging = Pinging {
            last_result_at: self.pinging.last_result_at,
            ..Pinging::default()
        };
        if !matches!(self.worker, Worker::Absent { .. }) {
            self.effects.push(Effect::StopWorker);
        }
        self.worker = Worker::Absent { respawn_at: None };
    }

    fn reconnect_now(&mut self, now: Instant) {
        if self.mode == Mode::Stopped {
            return;
        }
        self.connects.succeeded();
        self.circuit_open_since = None;
        self.respawns.succeeded();
        self.client_ids.reset();
        if let Worker::Absent { respawn_at } = &mut self.worker {
            *respawn_at = None;
        }
        match self.link {
            Link::Connecting { .. } => return,
            Link::Up { .. } => self.effects.push(Effect::Disconnect),
            _ => {}
        }
        self.lost_link(now);
    }

    fn recheck(&mut self, now: Instant) {
        match &mut self.link {
            Link::Up { .. } => {
                self.pinging.next_at = Some(now);
            }
            Link::Waiting { at, .. } => *at = now,
            Link::Probing { next_probe, .. } => *next_probe = now,
            Link::Connecting { .. } | Link::Idle => {}
        }
    }

    fn resume(&mut self, now: Instant) {
        if !matches!(self.mode, Mode::Paused { .. }) {
            return;
        }
        self.mode = Mode::Running;
        if !matches!(self.link, Link::Up { .. } | Link::Connecting { .. }) {
            self.connects.succeeded();
            self.circuit_open_since = None;
            self.link = Link::Waiting {
                attempt: 1,
                at: now,
            };
        }
    }

    fn worker_failed(&mut self, now: Instant) {
        let respawn_at = match self.respawns.failed(now) {
            Verdict::RetryAt(at) => at,
            Verdict::Open { trial_at } => trial_at,
        };
        self.worker = Worker::Absent {
            respawn_at: Some(respawn_at),
        };
    }

    fn worker_exited(&mut self, reason: String, now: Instant) {
        if let Worker::Up { since } = self.worker
            && now.saturating_duration_since(since)
                >= Duration::from_millis(self.config.worker_stable_after_ms)
        {
            self.respawns.succeeded();
        }
        if self.mode == Mode::Stopped {
            self.worker = Worker::Absent { respawn_at: None };
            return;
        }
        self.worker_failed(now);
        self.pinging.in_flight = None;
        match &mut self.link {
            // Not the gateway's fault: reconnect as soon as a worker runs.
            Link::Up { .. } => self.lost_link(now),
            Link::Connecting { .. } => self.connect_failed(
                WorkerError::new(
                    ErrorCode::Internal,
                    format!("the worker process died during the connect: {reason}"),
                ),
                now,
            ),
            Link::Probing { in_flight, .. } => *in_flight = false,
            Link::Waiting { .. } | Link::Idle => {}
        }
    }

    fn connected(&mut self, session: Session, at_ms: u64, now: Instant) {
        if !matches!(self.link, Link::Connecting { .. }) {
            // A connect the machine gave up on succeeded after all: undo it.
            self.effects.push(Effect::Disconnect);
            return;
        }
        self.connects.succeeded();
        self.circuit_open_since = None;
        self.client_ids.reset();
        self.last_error = None;
        self.link = Link::Up {
            session: SessionInfo {
                server_version: session.server_version,
                encoding: session.encoding,
                accounts: session.accounts,
                client_id: session.client_id,
                since_ms: at_ms,
                stage_us: session.stage_us,
            },
            problems: Problems::default(),
        };
        self.pinging = Pinging {
            next_at: Some(now),
            last_result_at: self.pinging.last_result_at,
            ..Pinging::default()
        };
    }

    fn connect_failed(&mut self, error: WorkerError, now: Instant) {
        let Link::Connecting {
            attempt, client_id, ..
        } = self.link
        else {
            return;
        };
        self.emit(EventKind::ConnectFailed {
            attempt,
            error: error.clone(),
        });
        // A failure after the version exchange means the API port answered it.
        let answered = matches!(error.stage, Some(Stage::StartApi | Stage::FirstPing));
        if error.code == ErrorCode::ClientIdInUse {
            match self.client_ids.in_use(client_id) {
                InUse::TryFallback(to) => {
                    self.emit(EventKind::ClientIdFallback {
                        from: client_id,
                        to,
                    });
                    self.last_error = Some(error);
                    self.link = Link::Waiting { attempt, at: now };
                    return;
                }
                InUse::BothTaken(message) => {
                    self.last_error = Some(WorkerError { message, ..error });
                }
            }
        } else {
            self.last_error = Some(error);
        }
        let verdict = self.connects.failed(now);
        if matches!(verdict, Verdict::Open { .. }) && self.circuit_open_since.is_none() {
            self.circuit_open_since = Some(now);
        }
        // Delays are spacing between the starts of attempts: after a slow failure (a 3 s
        // version-exchange timeout) the next attempt may go at once.
        let started = self.last_attempt_at.unwrap_or(now);
        self.link = match verdict {
            Verdict::RetryAt(at) => Link::Waiting {
                attempt: attempt + 1,
                at: (started + (at - now)).max(now),
            },
            Verdict::Open { trial_at } => Link::Probing {
                next_probe: started + Duration::from_millis(self.config.probe_interval_ms),
                in_flight: false,
                answered,
                trial_at,
            },
        };
    }

    fn probed(&mut self, result: Result<i32, WorkerError>, now: Instant) {
        let Link::Probing {
            in_flight,
            answered,
            trial_at,
            ..
        } = &mut self.link
        else {
            return;
        };
        *in_flight = false;
        *answered = result.is_ok();
        match result {
            Ok(_) if now >= *trial_at => {
                self.link = Link::Waiting {
                    attempt: self.connects.failures() + 1,
                    at: now,
                };
            }
            Ok(_) => {}
            Err(error) => {
                let known = self
                    .last_error
                    .as_ref()
                    .is_some_and(|last| last.code == error.code && last.stage == error.stage);
                if !known {
                    self.emit(EventKind::ProbeFailed {
                        error: error.clone(),
                    });
                }
                self.last_error = Some(error);
            }
        }
    }

    fn ping_result(&mut self, sample: Sample, now: Instant) {
        if !matches!(self.link, Link::Up { .. }) {
            return;
        }
        self.stats.record(now, sample);
        self.windows = self.stats.summary(now);
        self.recent_p50_us = self.stats.recent_median(now, RECENT_ANSWERS);
        let p = &mut self.pinging;
        let event = match sample {
            Sample::Answered(rtt_us) => {
                p.in_flight = None;
                (p.lost_in_a_row, p.owed_since) = (0, None);
                EventKind::Ping {
                    rtt_us: Some(rtt_us),
                    late: false,
                }
            }
            Sample::Lost => {
                let sent = p.in_flight.take().unwrap_or(now);
                p.lost_in_a_row += 1;
                p.owed_since.get_or_insert(sent);
                EventKind::Ping {
                    rtt_us: None,
                    late: false,
                }
            }
            // The gateway is alive, only slow: nothing is owed any more.
            Sample::Late(rtt_us) => {
                p.owed_since = None;
                EventKind::Ping {
                    rtt_us: Some(rtt_us),
                    late: true,
                }
            }
        };
        if !matches!(sample, Sample::Late(_)) {
            p.last_result_at = Some(now);
        }
        self.emit(event);
    }

    /// How long the gateway may send no reply at all, late or not, before its connection is
    /// replaced: as many ping intervals as the settings allow lost pings.
    fn silence_limit(&self) -> Duration {
        Duration::from_millis(
            self.config.ping_interval_ms * u64::from(self.config.reconnect_after_lost_pings),
        )
    }

    /// Replaces the live connection when the gateway has been silent too long.
    fn check_silence(&mut self, now: Instant) {
        let Some(since) = self.pinging.owed_since else {
            return;
        };
        let silent = now.saturating_duration_since(since);
        if silent < self.silence_limit() {
            return;
        }
        tracing::warn!(
            silent_ms = silent.as_millis() as u64,
            "the gateway stopped answering pings: reconnecting"
        );
        self.emit(EventKind::Disconnected {
            cause: DisconnectCause::Unresponsive,
            message: format!(
                "no reply to any ping for {:.1} s: Gatewatch closed the connection and reconnects",
                silent.as_secs_f64()
            ),
        });
        self.effects.push(Effect::Disconnect);
        self.lost_link(now);
    }

    fn notice(&mut self, notice: Notice) {
        if let Link::Up { problems, .. } = &mut self.link {
            match notice.category {
                NoticeCategory::ConnectivityLost => problems.ib_link_lost = true,
                NoticeCategory::ConnectivityRestored
                | NoticeCategory::ConnectivityRestoredDataLost => {
                    problems.ib_link_lost = false;
                    problems.server_link_broken = false;
                }
                NoticeCategory::ServerLinkBroken => problems.server_link_broken = true,
                NoticeCategory::FarmBroken => {
                    problems.farms_broken.insert(
                        notice
                            .farm
                            .clone()
                            .unwrap_or_else(|| format!("code {}", notice.code)),
                    );
                }
                NoticeCategory::FarmOk | NoticeCategory::FarmInactive => {
                    if let Some(farm) = &notice.farm {
                        problems.farms_broken.remove(farm);
                    }
                }
                _ => {}
            }
        }
        self.emit(EventKind::Notice(notice));
    }

    // ----- helpers -----

    /// The live connection is gone (dropped, worker dead, pings unanswered): reconnect at
    /// once. Not a connect failure, so no backoff.
    fn lost_link(&mut self, now: Instant) {
        self.pinging = Pinging {
            last_result_at: self.pinging.last_result_at,
            ..Pinging::default()
        };
        self.link = Link::Waiting {
            attempt: 1,
            at: now,
        };
    }

    /// Starts whatever is due at `now`.
    fn advance(&mut self, now: Instant) {
        let running = self.mode == Mode::Running;
        match &mut self.link {
            Link::Waiting { attempt, at } if running && now >= *at => {
                let attempt = *attempt;
                if self.ensure_worker(now) {
                    let client_id = self.client_ids.current();
                    self.effects.push(Effect::Connect { client_id });
                    self.last_attempt_at = Some(now);
                    self.link = Link::Connecting {
                        attempt,
                        client_id,
                        stage: None,
                    };
                }
            }
            Link::Probing {
                next_probe,
                in_flight: false,
                ..
            } if running && now >= *next_probe => {
                if self.ensure_worker(now)
                    && let Link::Probing {
                        next_probe,
                        in_flight,
                        ..
                    } = &mut self.link
                {
                    *in_flight = true;
                    *next_probe = now + Duration::from_millis(self.config.probe_interval_ms);
                    self.effects.push(Effect::Probe);
                }
            }
            Link::Up { .. } => {
                self.check_silence(now);
                let p = &mut self.pinging;
                if matches!(self.link, Link::Up { .. })
                    && p.in_flight.is_none()
                    && p.next_at.is_some_and(|at| now >= at)
                {
                    p.in_flight = Some(now);
                    p.next_at = Some(now + Duration::from_millis(self.config.ping_interval_ms));
                    self.effects.push(Effect::Ping);
                }
            }
            _ => {}
        }
    }

    /// Whether a worker runs; if none does and one may be spawned now, asks for it.
    fn ensure_worker(&mut self, now: Instant) -> bool {
        match self.worker {
            Worker::Up { .. } => true,
            Worker::Spawning => false,
            Worker::Absent { respawn_at } => {
                if respawn_at.is_none_or(|at| now >= at) {
                    self.worker = Worker::Spawning;
                    self.effects.push(Effect::SpawnWorker);
                }
                false
            }
        }
    }

    fn reasons(&self, problems: &Problems) -> Vec<DegradedReason> {
        let mut reasons = Vec::new();
        if problems.ib_link_lost {
            reasons.push(DegradedReason::IbLinkLost);
        }
        if self.pinging.lost_in_a_row > 0 {
            reasons.push(DegradedReason::LostPings {
                missed: self.pinging.lost_in_a_row,
            });
        }
        if problems.server_link_broken {
            reasons.push(DegradedReason::ServerLinkBroken);
        }
        reasons.extend(
            problems
                .farms_broken
                .iter()
                .map(|farm| DegradedReason::FarmBroken { farm: farm.clone() }),
        );
        let minute = self
            .windows
            .iter()
            .find(|(window, _)| *window == Window::OneMinute)
            .and_then(|(_, stats)| stats.p50_us);
        // Slow by the larger of two medians: the last minute's, for a slowness that lasts,
        // and the newest answers', so a gateway that has just turned slow reads slow within
        // seconds instead of green until half of the minute's pings are slow.
        let p50 = minute.max(self.recent_p50_us);
        if let Some(p50_us) = p50.filter(|p50| *p50 > self.config.slow_ping_ms * 1_000) {
            reasons.push(DegradedReason::SlowPings { p50_us });
        }
        reasons
    }

    fn emit(&mut self, kind: EventKind) {
        self.effects.push(Effect::Emit(kind));
    }
}

#[cfg(test)]
mod tests;
