//! The one task that owns all supervision state. Its `select!` merges commands from the
//! handles, the worker's output, the worker's exit and the next timer; it is the only writer
//! of the published snapshot.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use gatewatch_protocol::notice::NoticeCategory;
use gatewatch_protocol::{
    ErrorCode, Event, FromWorker, LinkState, Reply, Request, Stage, ToWorker, WorkerError,
};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::backoff::Backoff;
use crate::breaker::CircuitBreaker;
use crate::config::SupervisorConfig;
use crate::state::{
    ConnectionState, DegradedReason, EventKind, LatencySnapshot, SessionInfo, Snapshot,
    SupervisorEvent, WorkerInfo, epoch_ms, now_ms,
};
use crate::stats::LatencyStats;
use crate::worker::{DirectReplies, WorkerInput, WorkerOutput, WorkerProcess};
use crate::zombie::{self, ZombieCount};
use crate::{ClientError, DataRequest};

/// What the actor shares with the handles for the ping fast path: the worker's stdin, the
/// request-id counter, and the waiters the stdout reader answers directly.
#[derive(Clone, Default)]
pub(crate) struct FastPath {
    pub(crate) input: WorkerInput,
    pub(crate) request_ids: Arc<AtomicU64>,
    pub(crate) direct: DirectReplies,
}

/// Messages from the handles.
pub(crate) enum Command {
    Start,
    Stop(oneshot::Sender<()>),
    ReconnectNow,
    Pause(Option<Duration>),
    Resume,
    Fetch(DataRequest, oneshot::Sender<Result<Reply, ClientError>>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Stopped,
    Running,
    Paused { until: Option<Instant> },
}

/// The gateway connection as the actor tracks it.
#[derive(Debug, Clone)]
enum Link {
    Idle,
    Connecting {
        attempt: u32,
        client_id: i32,
        stage: Option<Stage>,
    },
    Up {
        session: SessionInfo,
        problems: Problems,
    },
    Waiting {
        attempt: u32,
        at: Instant,
    },
    Open {
        until: Instant,
    },
}

#[derive(Debug, Clone, Default)]
struct Problems {
    slow_rtt_us: Option<u64>,
    lost_pings: u32,
    ib_link_lost: bool,
    server_link_broken: bool,
    farms_broken: BTreeSet<String>,
}

impl Problems {
    fn reasons(&self) -> Vec<DegradedReason> {
        let mut reasons = Vec::new();
        if self.ib_link_lost {
            reasons.push(DegradedReason::IbLinkLost);
        }
        if self.lost_pings > 0 {
            reasons.push(DegradedReason::LostPings {
                missed: self.lost_pings,
            });
        }
        if self.server_link_broken {
            reasons.push(DegradedReason::ServerLinkBroken);
        }
        reasons.extend(
            self.farms_broken
                .iter()
                .map(|farm| DegradedReason::FarmBroken { farm: farm.clone() }),
        );
        if let Some(rtt_us) = self.slow_rtt_us {
            reasons.push(DegradedReason::SlowPings { rtt_us });
        }
        reasons
    }
}

/// Why a request was sent, so its reply can be routed.
enum Purpose {
    Connect { attempt: u32, client_id: i32 },
    Ping,
    Heartbeat,
    Refresh,
    Fetch(oneshot::Sender<Result<Reply, ClientError>>),
    Disconnect,
}

struct Pending {
    purpose: Purpose,
    deadline: Instant,
}

pub(crate) struct Actor {
    config: SupervisorConfig,
    worker_path: PathBuf,
    commands: mpsc::Receiver<Command>,
    snapshot: watch::Sender<Snapshot>,
    events: broadcast::Sender<SupervisorEvent>,
    output_tx: mpsc::UnboundedSender<(u64, WorkerOutput)>,
    output: mpsc::UnboundedReceiver<(u64, WorkerOutput)>,
    direct: DirectReplies,
    input: WorkerInput,
    worker: Option<WorkerProcess>,
    generation: u64,
    restarts: u64,
    garbage_streak: u32,
    pending: HashMap<u64, Pending>,
    request_ids: Arc<AtomicU64>,
    mode: Mode,
    link: Link,
    published: ConnectionState,
    stats: LatencyStats,
    latency: LatencySnapshot,
    breaker: CircuitBreaker,
    backoff: Backoff,
    fallback_used: bool,
    heartbeat_sent: Option<Instant>,
    next_heartbeat: Option<Instant>,
    next_ping: Option<Instant>,
    ping_in_flight: bool,
    next_refresh: Option<Instant>,
    next_zombie_scan: Instant,
    scan_in_flight: bool,
    scans_tx: mpsc::UnboundedSender<ZombieCount>,
    scans: mpsc::UnboundedReceiver<ZombieCount>,
    zombies: ZombieCount,
    positions: Vec<gatewatch_protocol::Position>,
    account_summary: Vec<gatewatch_protocol::SummaryRow>,
    data_updated_ms: Option<u64>,
    refresh_outstanding: u8,
    last_error: Option<WorkerError>,
}

impl Actor {
    pub(crate) fn new(
        config: SupervisorConfig,
        worker_path: PathBuf,
        commands: mpsc::Receiver<Command>,
        snapshot: watch::Sender<Snapshot>,
        events: broadcast::Sender<SupervisorEvent>,
        shared: FastPath,
    ) -> Self {
        let (output_tx, output) = mpsc::unbounded_channel();
        let (scans_tx, scans) = mpsc::unbounded_channel();
        let seed = u64::from(std::process::id()) ^ now_ms();
        let config_scan_ms = config.zombie_scan_interval_ms;
        Self {
            breaker: CircuitBreaker::new(config.breaker),
            backoff: Backoff::new(config.backoff, seed),
            config,
            worker_path,
            commands,
            snapshot,
            events,
            output_tx,
            output,
            direct: shared.direct,
            input: shared.input,
            worker: None,
            generation: 0,
            restarts: 0,
            garbage_streak: 0,
            pending: HashMap::new(),
            request_ids: shared.request_ids,
            mode: Mode::Stopped,
            link: Link::Idle,
            published: ConnectionState::Stopped,
            stats: LatencyStats::default(),
            latency: LatencySnapshot::default(),
            fallback_used: false,
            heartbeat_sent: None,
            next_heartbeat: None,
            next_ping: None,
            ping_in_flight: false,
            next_refresh: None,
            next_zombie_scan: Instant::now() + Duration::from_millis(config_scan_ms),
            scan_in_flight: false,
            scans_tx,
            scans,
            zombies: ZombieCount::default(),
            positions: Vec::new(),
            account_summary: Vec::new(),
            data_updated_ms: None,
            refresh_outstanding: 0,
            last_error: None,
        }
    }

    pub(crate) async fn run(mut self) {
        loop {
            let wakeup = self.next_wakeup();
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(command) => self.on_command(command).await,
                    None => {
                        tracing::info!("last handle dropped: stopping");
                        self.stop().await;
                        return;
                    }
                },
                Some((generation, output)) = self.output.recv() => {
                    if generation == self.generation {
                        self.on_output(output).await;
                    }
                }
                status = wait_exit(&mut self.worker) => self.on_worker_exit(format!("exited ({status})")).await,
                Some(count) = self.scans.recv() => self.on_zombie_scan(count).await,
                _ = sleep_until(wakeup) => self.on_timers(Instant::now()).await,
            }
            self.publish();
        }
    }

    // ----- commands -----

    async fn on_command(&mut self, command: Command) {
        match command {
            Command::Start => {
                if self.mode == Mode::Stopped {
                    self.mode = Mode::Running;
                    self.breaker.record_success();
                    self.backoff.reset();
                    self.start_connect(1).await;
                }
            }
            Command::Stop(done) => {
                self.stop().await;
                let _ = done.send(());
            }
            Command::ReconnectNow => {
                if self.mode == Mode::Stopped {
                    return;
                }
                self.breaker.record_success();
                self.backoff.reset();
                if matches!(self.link, Link::Connecting { .. }) {
                    return;
                }
                if matches!(self.link, Link::Up { .. }) {
                    self.request(ToWorker::Disconnect, Purpose::Disconnect)
                        .await;
                }
                self.start_connect(1).await;
            }
            Command::Pause(duration) => {
                if self.mode == Mode::Stopped {
                    return;
                }
                let until = duration.map(|d| Instant::now() + d);
                tracing::info!(?duration, "paused: no retries, no alerts");
                self.mode = Mode::Paused { until };
            }
            Command::Resume => self.resume().await,
            Command::Fetch(what, reply) => {
                if !matches!(self.link, Link::Up { .. }) {
                    let _ = reply.send(Err(ClientError::NotConnected));
                    return;
                }
                let command = match what {
                    DataRequest::Accounts => ToWorker::GetAccounts,
                    DataRequest::Positions => ToWorker::GetPositions,
                    DataRequest::AccountSummary(tags) => ToWorker::GetAccountSummary { tags },
                };
                self.request(command, Purpose::Fetch(reply)).await;
            }
        }
    }

    async fn resume(&mut self) {
        if !matches!(self.mode, Mode::Paused { .. }) {
            return;
        }
        tracing::info!("resumed");
        self.mode = Mode::Running;
        if !matches!(self.link, Link::Up { .. } | Link::Connecting { .. }) {
            self.breaker.record_success();
            self.start_connect(1).await;
        }
    }

    async fn stop(&mut self) {
        self.mode = Mode::Stopped;
        self.link = Link::Idle;
        self.fail_pending();
        if let Some(mut worker) = self.worker.take() {
            let request = Request {
                id: self.next_id(),
                command: ToWorker::Shutdown,
            };
            worker.send(&request).await;
            worker
                .stop(Duration::from_millis(self.config.stop_grace_ms))
                .await;
            tracing::info!(pid = worker.pid, "worker stopped");
        }
        self.clear_timers();
    }

    // ----- worker process -----

    fn next_id(&mut self) -> u64 {
        self.request_ids.fetch_add(1, Ordering::SeqCst)
    }

    async fn ensure_worker(&mut self) -> bool {
        if self.worker.is_some() {
            return true;
        }
        self.generation += 1;
        let spawned = WorkerProcess::spawn(
            &self.worker_path,
            self.generation,
            self.output_tx.clone(),
            self.direct.clone(),
            self.input.clone(),
        )
        .await;
        match spawned {
            Ok(worker) => {
                self.worker = Some(worker);
                self.garbage_streak = 0;
                self.heartbeat_sent = None;
                self.next_heartbeat =
                    Some(Instant::now() + self.ms(self.config.heartbeat_interval_ms));
                true
            }
            Err(error) => {
                let message = format!(
                    "cannot start the worker {}: {error}",
                    self.worker_path.display()
                );
                tracing::error!("{message}");
                self.last_error = Some(WorkerError::new(ErrorCode::Internal, message));
                false
            }
        }
    }

    /// Sends a request to the worker and remembers why; `false` if there is no worker to take it.
    async fn request(&mut self, command: ToWorker, purpose: Purpose) -> bool {
        let timeout = self.request_timeout(&command);
        let id = self.next_id();
        let request = Request { id, command };
        let sent = match self.worker.as_mut() {
            Some(worker) => worker.send(&request).await,
            None => false,
        };
        if sent {
            self.pending.insert(
                id,
                Pending {
                    purpose,
                    deadline: Instant::now() + timeout,
                },
            );
        } else if let Purpose::Fetch(reply) = purpose {
            let _ = reply.send(Err(ClientError::NotConnected));
        }
        sent
    }

    /// How long the worker may take to answer, its own timeouts plus a margin.
    fn request_timeout(&self, command: &ToWorker) -> Duration {
        let t = &self.config.timeouts;
        let ms = match command {
            ToWorker::Connect { .. } => {
                t.tcp_connect_ms * 2 + t.version_exchange_ms * 2 + t.start_api_ms + t.first_ping_ms
            }
            ToWorker::Ping { timeout_ms } => *timeout_ms,
            ToWorker::Probe {
                tcp_connect_ms,
                version_exchange_ms,
                ..
            } => tcp_connect_ms + version_exchange_ms,
            ToWorker::GetPositions => t.request_ms * 3,
            ToWorker::GetAccounts | ToWorker::GetAccountSummary { .. } => t.request_ms,
            ToWorker::Heartbeat | ToWorker::Disconnect | ToWorker::Shutdown => {
                self.config.heartbeat_timeout_ms
            }
        };
        Duration::from_millis(ms + 1_000)
    }

    /// Kills the worker; its exit is handled like any other.
    async fn replace_worker(&mut self, reason: &str) {
        if let Some(worker) = self.worker.as_mut() {
            tracing::warn!(pid = worker.pid, reason, "replacing the worker");
            worker.kill().await;
        }
        self.on_worker_exit(reason.to_owned()).await;
    }

    async fn on_worker_exit(&mut self, reason: String) {
        let Some(worker) = self.worker.take() else {
            return;
        };
        worker.detach_input().await;
        if self.mode == Mode::Stopped {
            return;
        }
        self.restarts += 1;
        tracing::warn!(pid = worker.pid, %reason, "worker gone");
        self.fail_pending();
        self.emit(EventKind::WorkerRestarted {
            reason,
            generation: self.generation + 1,
        });
        match self.link {
            // A dead worker is not the gateway's fault: try again at once.
            Link::Up { .. } | Link::Connecting { .. } => {
                self.lost_link();
                if self.mode == Mode::Running {
                    self.start_connect(1).await;
                }
            }
            _ => {
                self.ensure_worker().await;
            }
        }
    }

    async fn on_output(&mut self, output: WorkerOutput) {
        match output {
            WorkerOutput::Message(message) => {
                self.garbage_streak = 0;
                self.on_message(message).await;
            }
            WorkerOutput::Garbage(line) => {
                self.garbage_streak += 1;
                tracing::warn!(
                    line,
                    streak = self.garbage_streak,
                    "unreadable line from the worker"
                );
                if self.garbage_streak >= self.config.garbage_limit {
                    self.replace_worker("the worker kept writing unreadable lines")
                        .await;
                }
            }
            WorkerOutput::Fault(why) => self.replace_worker(&why).await,
            WorkerOutput::Closed => {
                if let Some(worker) = self.worker.as_mut() {
                    // stdout closed: the process is exiting; reap it rather than wait.
                    if tokio::time::timeout(Duration::from_millis(200), worker.exited())
                        .await
                        .is_err()
                    {
                        self.replace_worker("the worker closed its output").await;
                    } else {
                        self.on_worker_exit("exited".into()).await;
                    }
                }
            }
        }
    }

    async fn on_message(&mut self, message: FromWorker) {
        match message {
            FromWorker::Hello { .. } => {}
            FromWorker::Reply { id, result } => self.on_result(id, Ok(result)).await,
            FromWorker::Error {
                id: Some(id),
                error,
            } => self.on_result(id, Err(error)).await,
            FromWorker::Error { id: None, error } => {
                tracing::warn!(?error, "the worker refused a line")
            }
            FromWorker::Event { event } => self.on_event(event).await,
        }
    }

    async fn on_result(&mut self, id: u64, result: Result<Reply, WorkerError>) {
        let Some(pending) = self.pending.remove(&id) else {
            return;
        };
        match pending.purpose {
            Purpose::Heartbeat => {
                self.heartbeat_sent = None;
                self.next_heartbeat =
                    Some(Instant::now() + self.ms(self.config.heartbeat_interval_ms));
            }
            Purpose::Connect { attempt, client_id } => {
                self.on_connect_result(attempt, client_id, result).await
            }
            Purpose::Ping => self.on_ping_result(result).await,
            Purpose::Refresh => {
                match result {
                    Ok(Reply::Positions { positions }) => self.positions = positions,
                    Ok(Reply::AccountSummary { rows }) => self.account_summary = rows,
                    Ok(_) => {}
                    Err(error) => tracing::warn!(?error, "refresh failed"),
                }
                self.refresh_outstanding = self.refresh_outstanding.saturating_sub(1);
                if self.refresh_outstanding == 0 {
                    self.data_updated_ms = Some(now_ms());
                    self.emit(EventKind::DataRefreshed);
                }
            }
            Purpose::Fetch(reply) => {
                match &result {
                    Ok(Reply::Positions { positions }) => self.positions = positions.clone(),
                    Ok(Reply::AccountSummary { rows }) => self.account_summary = rows.clone(),
                    _ => {}
                }
                let _ = reply.send(result.map_err(ClientError::Worker));
            }
            Purpose::Disconnect => {}
        }
    }

    // ----- connecting -----

    async fn start_connect(&mut self, attempt: u32) {
        if !self.ensure_worker().await {
            self.after_failure(attempt).await;
            return;
        }
        let client_id = if self.fallback_used {
            self.config
                .fallback_client_id
                .unwrap_or(self.config.client_id)
        } else {
            self.config.client_id
        };
        let command = ToWorker::Connect {
            host: self.config.host.clone(),
            port: self.config.port,
            client_id,
            timeouts: self.config.timeouts,
        };
        self.link = Link::Connecting {
            attempt,
            client_id,
            stage: None,
        };
        self.next_ping = None;
        if !self
            .request(command, Purpose::Connect { attempt, client_id })
            .await
            && let Some(worker) = self.worker.as_mut()
        {
            // Its exit, seen by the main loop, brings the next attempt.
            tracing::warn!(
                pid = worker.pid,
                "the worker does not take requests: killed"
            );
            worker.kill().await;
        }
    }

    async fn on_connect_result(
        &mut self,
        attempt: u32,
        client_id: i32,
        result: Result<Reply, WorkerError>,
    ) {
        if !matches!(self.link, Link::Connecting { .. }) {
            return;
        }
        match result {
            Ok(Reply::Connected(session)) => {
                tracing::info!(
                    server_version = session.server_version,
                    client_id,
                    "connected"
                );
                self.breaker.record_success();
                self.backoff.reset();
                self.fallback_used = false;
                self.last_error = None;
                self.link = Link::Up {
                    session: SessionInfo {
                        server_version: session.server_version,
                        encoding: session.encoding,
                        accounts: session.accounts,
                        client_id,
                        since_ms: now_ms(),
                    },
                    problems: Problems::default(),
                };
                let now = Instant::now();
                self.next_ping = Some(now + self.ms(self.config.ping_interval_ms));
                self.next_refresh = Some(now);
                self.next_zombie_scan = now;
            }
            Ok(other) => tracing::warn!(?other, "unexpected reply to connect"),
            Err(error) => {
                tracing::warn!(code = ?error.code, stage = ?error.stage, message = %error.message, attempt, "connect failed");
                self.emit(EventKind::ConnectFailed {
                    attempt,
                    error: error.clone(),
                });
                let fallback = self
                    .config
                    .fallback_client_id
                    .filter(|_| error.code == ErrorCode::ClientIdInUse && !self.fallback_used);
                self.last_error = Some(error);
                if let Some(to) = fallback {
                    self.fallback_used = true;
                    self.emit(EventKind::ClientIdFallback {
                        from: client_id,
                        to,
                    });
                    self.start_connect(attempt).await;
                    return;
                }
                self.next_zombie_scan = Instant::now();
                self.after_failure(attempt).await;
            }
        }
    }

    /// Schedules the next attempt, or opens the circuit.
    async fn after_failure(&mut self, attempt: u32) {
        let now = Instant::now();
        if let Some(until) = self.breaker.record_failure(now) {
            tracing::warn!(failures = self.breaker.failures(), "circuit open");
            self.link = Link::Open { until };
        } else {
            let delay = self.backoff.next().unwrap_or_default();
            self.link = Link::Waiting {
                attempt: attempt + 1,
                at: now + delay,
            };
        }
    }

    /// The connection is gone: drop its per-connection state and wait for a retry.
    fn lost_link(&mut self) {
        self.ping_in_flight = false;
        self.next_ping = None;
        self.next_refresh = None;
        self.link = Link::Waiting {
            attempt: 1,
            at: Instant::now(),
        };
    }

    // ----- live connection -----

    async fn on_ping_result(&mut self, result: Result<Reply, WorkerError>) {
        self.ping_in_flight = false;
        let now = Instant::now();
        let (rtt, lost_link) = match result {
            Ok(Reply::Pong { rtt_us, .. }) => (Some(rtt_us), false),
            Err(error) if error.code == ErrorCode::RequestTimeout => (None, false),
            Err(error)
                if matches!(
                    error.code,
                    ErrorCode::NotConnected | ErrorCode::ConnectionLost
                ) =>
            {
                return;
            }
            other => {
                tracing::warn!(?other, "unexpected ping result");
                return;
            }
        };
        self.stats.record(now, rtt);
        self.latency = LatencySnapshot {
            last_rtt_us: Some(rtt),
            windows: self.stats.summary(now),
        };
        self.emit(EventKind::Ping { rtt_us: rtt });
        let slow_us = self.config.slow_ping_ms * 1_000;
        let reconnect_after = self.config.reconnect_after_lost_pings;
        let mut reconnect = lost_link;
        if let Link::Up { problems, .. } = &mut self.link {
            match rtt {
                Some(rtt) => {
                    problems.lost_pings = 0;
                    problems.slow_rtt_us = (rtt > slow_us).then_some(rtt);
                }
                None => {
                    problems.lost_pings += 1;
                    reconnect |= problems.lost_pings >= reconnect_after;
                }
            }
        }
        if reconnect {
            tracing::warn!("the gateway stopped answering pings: reconnecting");
            self.request(ToWorker::Disconnect, Purpose::Disconnect)
                .await;
            self.lost_link();
            self.after_failure(0).await;
        }
    }

    async fn on_event(&mut self, event: Event) {
        match event {
            Event::Status {
                state: LinkState::Connecting,
                stage,
            } => {
                if let Link::Connecting { stage: current, .. } = &mut self.link {
                    *current = stage;
                }
            }
            Event::Status { .. } | Event::LatePong { .. } => {}
            Event::Notice(notice) => {
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
            Event::Disconnected { cause, message } => {
                tracing::warn!(?cause, %message, "the gateway connection dropped");
                self.emit(EventKind::Disconnected { cause, message });
                if matches!(self.link, Link::Up { .. }) {
                    self.fail_pending_fetches();
                    self.lost_link();
                    if self.mode == Mode::Running {
                        self.start_connect(1).await;
                    }
                }
            }
        }
    }

    // ----- timers -----

    fn ms(&self, ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    fn clear_timers(&mut self) {
        self.heartbeat_sent = None;
        self.next_heartbeat = None;
        self.next_ping = None;
        self.next_refresh = None;
        self.ping_in_flight = false;
    }

    fn next_wakeup(&self) -> Option<Instant> {
        let heartbeat_deadline = self
            .heartbeat_sent
            .map(|sent| sent + self.ms(self.config.heartbeat_timeout_ms));
        let retry = match self.link {
            Link::Waiting { at, .. } => Some(at),
            Link::Open { until } => Some(until),
            _ => None,
        };
        let pause_end = match self.mode {
            Mode::Paused { until } => until,
            _ => None,
        };
        let scan = (self.mode != Mode::Stopped).then_some(self.next_zombie_scan);
        let deadlines = self.pending.values().map(|p| p.deadline).min();
        [
            self.next_heartbeat,
            heartbeat_deadline,
            self.next_ping,
            self.next_refresh,
            retry,
            pause_end,
            scan,
            deadlines,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    async fn on_timers(&mut self, now: Instant) {
        if let Mode::Paused { until: Some(until) } = self.mode
            && now >= until
        {
            self.resume().await;
        }
        if self
            .heartbeat_sent
            .is_some_and(|sent| now >= sent + self.ms(self.config.heartbeat_timeout_ms))
        {
            self.replace_worker("the worker stopped answering heartbeats")
                .await;
            return;
        }
        if self.next_heartbeat.is_some_and(|at| now >= at)
            && self.worker.is_some()
            && self.heartbeat_sent.is_none()
        {
            self.next_heartbeat = None;
            self.heartbeat_sent = Some(now);
            self.request(ToWorker::Heartbeat, Purpose::Heartbeat).await;
        }
        self.expire_pending(now).await;
        if self.next_ping.is_some_and(|at| now >= at) {
            self.next_ping = Some(now + self.ms(self.config.ping_interval_ms));
            if !self.ping_in_flight && matches!(self.link, Link::Up { .. }) {
                self.ping_in_flight = self
                    .request(
                        ToWorker::Ping {
                            timeout_ms: self.config.ping_timeout_ms,
                        },
                        Purpose::Ping,
                    )
                    .await;
            }
        }
        if self.next_refresh.is_some_and(|at| now >= at) {
            self.next_refresh = Some(now + self.ms(self.config.refresh_interval_ms));
            if self.refresh_outstanding == 0 && matches!(self.link, Link::Up { .. }) {
                self.refresh_outstanding = 2;
                self.request(ToWorker::GetPositions, Purpose::Refresh).await;
                self.request(
                    ToWorker::GetAccountSummary { tags: Vec::new() },
                    Purpose::Refresh,
                )
                .await;
            }
        }
        if self.mode != Mode::Stopped && now >= self.next_zombie_scan {
            self.next_zombie_scan = now + self.ms(self.config.zombie_scan_interval_ms);
            self.scan_zombies();
        }
        let retry = match self.link {
            Link::Waiting { attempt, at } if now >= at => Some(attempt),
            Link::Open { until } if now >= until => Some(self.breaker.failures() + 1),
            _ => None,
        };
        if let Some(attempt) = retry
            && self.mode == Mode::Running
        {
            self.start_connect(attempt.max(1)).await;
        }
    }

    async fn expire_pending(&mut self, now: Instant) {
        let expired: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| now >= p.deadline)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            let Some(pending) = self.pending.remove(&id) else {
                continue;
            };
            match pending.purpose {
                Purpose::Connect { .. } => {
                    self.replace_worker("the worker did not finish a connect in time")
                        .await;
                    return;
                }
                Purpose::Ping => {
                    self.on_ping_result(Err(WorkerError::new(
                        ErrorCode::RequestTimeout,
                        "no answer from the worker",
                    )))
                    .await
                }
                Purpose::Fetch(reply) => {
                    let _ = reply.send(Err(ClientError::Worker(WorkerError::new(
                        ErrorCode::RequestTimeout,
                        "no answer from the worker",
                    ))));
                }
                Purpose::Refresh => {
                    self.refresh_outstanding = self.refresh_outstanding.saturating_sub(1)
                }
                Purpose::Heartbeat | Purpose::Disconnect => {}
            }
        }
    }

    /// Starts a scan on a blocking thread; the actor keeps serving while `/proc` is read.
    fn scan_zombies(&mut self) {
        if self.scan_in_flight {
            return;
        }
        self.scan_in_flight = true;
        let port = self.config.port;
        let pid = self.worker.as_ref().map(|w| w.pid);
        let results = self.scans_tx.clone();
        tokio::task::spawn_blocking(move || {
            let _ = results.send(zombie::scan(port, pid));
        });
    }

    async fn on_zombie_scan(&mut self, count: ZombieCount) {
        self.scan_in_flight = false;
        if count != self.zombies {
            if let Some(advice) = count.advice() {
                tracing::warn!(?count, "{advice}");
            }
            self.zombies = count;
            self.emit(EventKind::ZombieSockets(count));
        }
        if count.ours > 0 {
            self.replace_worker("the worker holds sockets in CLOSE_WAIT")
                .await;
        }
    }

    fn fail_pending(&mut self) {
        self.ping_in_flight = false;
        self.heartbeat_sent = None;
        self.refresh_outstanding = 0;
        let pending: Vec<(u64, Pending)> = self.pending.drain().collect();
        for (_, pending) in pending {
            self.fail_waiter(pending.purpose);
        }
        // Handles waiting on a direct reply learn that it will not come (their receiver fails).
        self.direct.lock().expect("direct replies poisoned").clear();
    }

    /// Tells whoever waits on a request that it will not be answered.
    fn fail_waiter(&self, purpose: Purpose) {
        if let Purpose::Fetch(reply) = purpose {
            let _ = reply.send(Err(ClientError::NotConnected));
        }
    }

    fn fail_pending_fetches(&mut self) {
        let ids: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| {
                matches!(
                    p.purpose,
                    Purpose::Fetch(_) | Purpose::Ping | Purpose::Refresh
                )
            })
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            if let Some(pending) = self.pending.remove(&id) {
                self.fail_waiter(pending.purpose);
            }
        }
        self.refresh_outstanding = 0;
        self.ping_in_flight = false;
    }

    // ----- publishing -----

    fn emit(&self, kind: EventKind) {
        let _ = self.events.send(SupervisorEvent {
            at_ms: now_ms(),
            kind,
        });
    }

    fn state(&self) -> ConnectionState {
        let to_epoch = |at: Instant| {
            epoch_ms(SystemTime::now() + at.saturating_duration_since(Instant::now()))
        };
        match (&self.mode, &self.link) {
            (Mode::Stopped, _) => ConnectionState::Stopped,
            (Mode::Paused { until }, _) => ConnectionState::Paused {
                until_ms: until.map(to_epoch),
            },
            (Mode::Running, Link::Idle) => ConnectionState::Stopped,
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
                let reasons = problems.reasons();
                if reasons.is_empty() {
                    ConnectionState::Connected(session.clone())
                } else {
                    ConnectionState::Degraded {
                        session: session.clone(),
                        reasons,
                    }
                }
            }
            (Mode::Running, Link::Waiting { attempt, at }) => ConnectionState::Reconnecting {
                attempt: *attempt,
                next_try_ms: to_epoch(*at),
            },
            (Mode::Running, Link::Open { until }) => ConnectionState::CircuitOpen {
                until_ms: to_epoch(*until),
                failures: self.breaker.failures(),
            },
        }
    }

    /// Publishes the snapshot, then announces a state change: whoever receives the
    /// `StateChanged` event finds the snapshot already showing it.
    fn publish(&mut self) {
        let state = self.state();
        let changed = !same_state(&state, &self.published);
        self.published = state.clone();
        let snapshot = Snapshot {
            state: state.clone(),
            latency: self.latency.clone(),
            positions: self.positions.clone(),
            account_summary: self.account_summary.clone(),
            data_updated_ms: self.data_updated_ms,
            worker: WorkerInfo {
                pid: self.worker.as_ref().map(|w| w.pid),
                restarts: self.restarts,
            },
            zombies: self.zombies,
            last_error: self.last_error.clone(),
        };
        self.snapshot.send_if_modified(|current| {
            let modified = *current != snapshot;
            if modified {
                *current = snapshot;
            }
            modified
        });
        if changed {
            tracing::info!(state = state.name(), "state");
            self.emit(EventKind::StateChanged { state });
        }
    }
}

/// States compare equal for events when only their clocks moved (a recomputed retry time).
fn same_state(a: &ConnectionState, b: &ConnectionState) -> bool {
    match (a, b) {
        (
            ConnectionState::Reconnecting { attempt: x, .. },
            ConnectionState::Reconnecting { attempt: y, .. },
        ) => x == y,
        (
            ConnectionState::CircuitOpen { failures: x, .. },
            ConnectionState::CircuitOpen { failures: y, .. },
        ) => x == y,
        _ => a == b,
    }
}

async fn wait_exit(worker: &mut Option<WorkerProcess>) -> String {
    match worker.as_mut() {
        Some(worker) => match worker.exited().await {
            Ok(status) => status.to_string(),
            Err(error) => error.to_string(),
        },
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
