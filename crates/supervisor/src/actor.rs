//! The one task that owns the worker process and the published state. Its `select!` merges
//! commands from the handles, the worker's output, the worker's exit and the next timer.
//!
//! Every decision about the connection is the [`Machine`]'s: the actor turns what happens
//! into [`Input`]s, carries out the [`Effect`]s, and keeps only the plumbing of its own —
//! requests in flight and their deadlines, worker heartbeats, the refresh of positions and the
//! account summary, the CLOSE_WAIT scan — and is the only writer of the published snapshot.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use gatewatch_protocol::{
    ErrorCode, Event, FromWorker, LinkState, Reply, Request, ToWorker, WorkerError,
};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::config::SupervisorConfig;
use crate::expect::Expectation;
use crate::machine::{Effect, Input, Machine};
use crate::state::{
    ConnectionState, EventKind, Snapshot, SupervisorEvent, WorkerInfo, epoch_ms, now_ms,
};
use crate::worker::{WorkerOutput, WorkerProcess};
use crate::zombie::{self, ZombieCount};
use crate::{ClientError, DataRequest};

/// Messages from the handles.
pub(crate) enum Command {
    Start,
    Stop(oneshot::Sender<()>),
    ReconnectNow,
    Pause(Option<Duration>),
    Resume,
    /// Check the gateway now (after the computer slept): ping, or retry, without waiting.
    Recheck,
    /// The user asked IBC for a soft restart: the drop that follows is expected.
    ExpectRestart,
    Fetch(DataRequest, oneshot::Sender<Result<Reply, ClientError>>),
    /// A ping for the handle's caller, not recorded in the statistics.
    Ping(oneshot::Sender<Result<Reply, ClientError>>),
}

/// Why a request was sent, so its reply can be routed.
enum Purpose {
    Connect,
    Probe,
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

/// How many timed-out pings are remembered for their late replies.
const LATE_PING_MEMORY: usize = 16;

pub(crate) struct Actor {
    config: SupervisorConfig,
    worker_path: PathBuf,
    commands: mpsc::Receiver<Command>,
    snapshot: watch::Sender<Snapshot>,
    events: broadcast::Sender<SupervisorEvent>,
    output_tx: mpsc::UnboundedSender<(u64, WorkerOutput)>,
    output: mpsc::UnboundedReceiver<(u64, WorkerOutput)>,
    worker: Option<WorkerProcess>,
    generation: u64,
    restarts: u64,
    garbage_streak: u32,
    pending: HashMap<u64, Pending>,
    next_request_id: u64,
    machine: Machine,
    /// The calendar's view of the machine's state (expected outages, overdue ones).
    expectation: Expectation,
    published: ConnectionState,
    /// Supervisor pings that timed out, newest last: a late reply counts only for these.
    timed_out_pings: VecDeque<u64>,
    heartbeat_sent: Option<Instant>,
    next_heartbeat: Option<Instant>,
    next_refresh: Option<Instant>,
    refresh_outstanding: u8,
    next_zombie_scan: Instant,
    scan_in_flight: bool,
    /// The last scan failed (said once until one succeeds again).
    scan_failing: bool,
    scans_tx: mpsc::UnboundedSender<Result<ZombieCount, String>>,
    scans: mpsc::UnboundedReceiver<Result<ZombieCount, String>>,
    zombies: ZombieCount,
    positions: Vec<gatewatch_protocol::Position>,
    account_summary: Vec<gatewatch_protocol::SummaryRow>,
    data_updated_ms: Option<u64>,
    /// Positions, summary or their time changed since the last publish: only then are they
    /// copied into the snapshot.
    data_changed: bool,
}

impl Actor {
    pub(crate) fn new(
        config: SupervisorConfig,
        worker_path: PathBuf,
        commands: mpsc::Receiver<Command>,
        snapshot: watch::Sender<Snapshot>,
        events: broadcast::Sender<SupervisorEvent>,
    ) -> Self {
        let (output_tx, output) = mpsc::unbounded_channel();
        let (scans_tx, scans) = mpsc::unbounded_channel();
        let seed = u64::from(std::process::id()) ^ now_ms();
        let schedule = config
            .calendar
            .as_ref()
            .and_then(|calendar| match calendar.compile() {
                Ok(schedule) => Some(schedule),
                Err(e) => {
                    tracing::warn!(%e, "calendar unusable: no outage is expected");
                    None
                }
            });
        Self {
            machine: Machine::new(config.clone(), seed),
            expectation: Expectation::new(schedule),
            next_zombie_scan: Instant::now() + ms(config.zombie_scan_interval_ms),
            config,
            worker_path,
            commands,
            snapshot,
            events,
            output_tx,
            output,
            worker: None,
            generation: 0,
            restarts: 0,
            garbage_streak: 0,
            pending: HashMap::new(),
            next_request_id: 1,
            published: ConnectionState::Stopped,
            timed_out_pings: VecDeque::new(),
            heartbeat_sent: None,
            next_heartbeat: None,
            next_refresh: None,
            refresh_outstanding: 0,
            scan_in_flight: false,
            scan_failing: false,
            scans_tx,
            scans,
            zombies: ZombieCount::default(),
            positions: Vec::new(),
            account_summary: Vec::new(),
            data_updated_ms: None,
            data_changed: false,
        }
    }

    fn set_positions(&mut self, positions: Vec<gatewatch_protocol::Position>) {
        self.positions = positions;
        self.data_changed = true;
    }

    fn set_account_summary(&mut self, rows: Vec<gatewatch_protocol::SummaryRow>) {
        self.account_summary = rows;
        self.data_changed = true;
    }

    pub(crate) async fn run(mut self) {
        loop {
            let wakeup = self.next_wakeup();
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(command) => self.on_command(command).await,
                    None => {
                        tracing::info!("last handle dropped: stopping");
                        self.feed(Input::Stop).await;
                        self.publish();
                        return;
                    }
                },
                Some((generation, output)) = self.output.recv() => {
                    if generation == self.generation {
                        self.on_output(output).await;
                    }
                }
                status = wait_exit(&mut self.worker) => self.on_worker_exit(status).await,
                Some(count) = self.scans.recv() => self.on_zombie_scan(count).await,
                _ = sleep_until(wakeup) => self.on_timers(Instant::now()).await,
            }
            self.publish();
        }
    }

    /// Hands `input` to the machine and carries out what it decides, including the inputs
    /// those effects produce (a spawned worker, a request that could not be sent).
    async fn feed(&mut self, input: Input) {
        let mut inputs = VecDeque::from([input]);
        while let Some(input) = inputs.pop_front() {
            let was_up = self.machine.is_up();
            for effect in self.machine.handle(input, Instant::now()) {
                if let Some(next) = self.execute(effect).await {
                    inputs.push_back(next);
                }
            }
            match (was_up, self.machine.is_up()) {
                (false, true) => {
                    let now = Instant::now();
                    self.next_refresh = Some(now);
                    self.next_zombie_scan = now;
                }
                (true, false) => self.fail_link_requests(),
                _ => {}
            }
        }
    }

    async fn execute(&mut self, effect: Effect) -> Option<Input> {
        match effect {
            Effect::SpawnWorker => Some(self.spawn_worker().await),
            Effect::StopWorker => {
                self.stop_worker().await;
                None
            }
            Effect::Connect { client_id } => {
                let command = ToWorker::Connect {
                    host: self.config.host.clone(),
                    port: self.config.port,
                    client_id,
                    timeouts: self.config.timeouts,
                };
                if !self.request(command, Purpose::Connect).await
                    && let Some(worker) = self.worker.as_mut()
                {
                    // Its exit, seen by the main loop, becomes the machine's input.
                    tracing::warn!(
                        pid = worker.pid,
                        "the worker does not take requests: killed"
                    );
                    worker.kill().await;
                }
                None
            }
            Effect::Probe => {
                let command = ToWorker::Probe {
                    host: self.config.host.clone(),
                    port: self.config.port,
                    tcp_connect_ms: self.config.timeouts.tcp_connect_ms,
                    version_exchange_ms: self.config.timeouts.version_exchange_ms,
                };
                let sent = self.request(command, Purpose::Probe).await;
                (!sent).then(|| {
                    Input::Probed(Err(WorkerError::new(
                        ErrorCode::Internal,
                        "the worker does not take requests",
                    )))
                })
            }
            Effect::Ping => {
                let command = ToWorker::Ping {
                    timeout_ms: self.config.ping_timeout_ms,
                };
                let sent = self.request(command, Purpose::Ping).await;
                (!sent).then_some(Input::PingLost)
            }
            Effect::Disconnect => {
                self.request(ToWorker::Disconnect {}, Purpose::Disconnect)
                    .await;
                None
            }
            Effect::Emit(kind) => {
                self.emit(kind);
                None
            }
        }
    }

    // ----- commands -----

    async fn on_command(&mut self, command: Command) {
        match command {
            Command::Start => self.feed(Input::Start).await,
            Command::Stop(done) => {
                self.feed(Input::Stop).await;
                let _ = done.send(());
            }
            Command::ReconnectNow => self.feed(Input::ReconnectNow).await,
            Command::Pause(duration) => {
                tracing::info!(?duration, "paused: no retries, no alerts");
                self.feed(Input::Pause(duration)).await;
            }
            Command::Resume => self.feed(Input::Resume).await,
            Command::Recheck => self.feed(Input::Recheck).await,
            Command::ExpectRestart => {
                let settings = self
                    .config
                    .calendar
                    .as_ref()
                    .map(|c| c.settings.clone())
                    .unwrap_or_default();
                self.expectation
                    .announce(gatewatch_calendar::Occurrence::requested_restart(
                        now_ms(),
                        &settings,
                    ));
            }
            Command::Fetch(what, reply) => {
                if !self.machine.is_up() {
                    let _ = reply.send(Err(ClientError::NotConnected));
                    return;
                }
                let command = match what {
                    DataRequest::Accounts => ToWorker::GetAccounts {},
                    DataRequest::Positions => ToWorker::GetPositions {},
                    DataRequest::AccountSummary(tags) => ToWorker::GetAccountSummary { tags },
                };
                self.request(command, Purpose::Fetch(reply)).await;
            }
            Command::Ping(reply) => {
                if !self.machine.is_up() {
                    let _ = reply.send(Err(ClientError::NotConnected));
                    return;
                }
                let command = ToWorker::Ping {
                    timeout_ms: self.config.ping_timeout_ms,
                };
                self.request(command, Purpose::Fetch(reply)).await;
            }
        }
    }

    // ----- worker process -----

    fn next_id(&mut self) -> u64 {
        self.next_request_id += 1;
        self.next_request_id
    }

    async fn spawn_worker(&mut self) -> Input {
        self.generation += 1;
        let spawned =
            WorkerProcess::spawn(&self.worker_path, self.generation, self.output_tx.clone());
        match spawned {
            Ok(worker) => {
                self.worker = Some(worker);
                self.garbage_streak = 0;
                self.heartbeat_sent = None;
                self.next_heartbeat = Some(Instant::now() + ms(self.config.heartbeat_interval_ms));
                Input::WorkerStarted
            }
            Err(error) => {
                let message = format!(
                    "cannot start the worker {}: {error}",
                    self.worker_path.display()
                );
                tracing::error!("{message}");
                Input::WorkerSpawnFailed(message)
            }
        }
    }

    async fn stop_worker(&mut self) {
        self.fail_pending();
        self.clear_timers();
        if let Some(mut worker) = self.worker.take() {
            let request = Request {
                id: self.next_id(),
                command: ToWorker::Shutdown {},
            };
            worker.send(&request).await;
            worker.stop(ms(self.config.stop_grace_ms)).await;
            tracing::info!(pid = worker.pid, "worker stopped");
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
                t.tcp_connect_ms + t.version_exchange_ms + t.start_api_ms + t.first_ping_ms
            }
            ToWorker::Probe {
                tcp_connect_ms,
                version_exchange_ms,
                ..
            } => tcp_connect_ms + version_exchange_ms,
            ToWorker::Ping { timeout_ms } => *timeout_ms,
            ToWorker::GetPositions {} => t.request_ms * 3,
            ToWorker::GetAccounts {} | ToWorker::GetAccountSummary { .. } => t.request_ms,
            ToWorker::Heartbeat {} | ToWorker::Disconnect {} | ToWorker::Shutdown {} => {
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
        self.restarts += 1;
        tracing::warn!(pid = worker.pid, %reason, "worker gone");
        self.fail_pending();
        self.clear_timers();
        self.emit(EventKind::WorkerRestarted {
            reason: reason.clone(),
            generation: self.generation + 1,
        });
        self.feed(Input::WorkerExited(reason)).await;
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
                        self.on_worker_exit("the worker exited".into()).await;
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
                tracing::warn!(%error, "the worker refused a line")
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
                self.next_heartbeat = Some(Instant::now() + ms(self.config.heartbeat_interval_ms));
            }
            Purpose::Connect => match result {
                Ok(Reply::Connected(session)) => {
                    tracing::info!(
                        server_version = session.server_version,
                        client_id = session.client_id,
                        "connected"
                    );
                    self.feed(Input::Connected {
                        session,
                        at_ms: now_ms(),
                    })
                    .await
                }
                Ok(other) => tracing::warn!(?other, "unexpected reply to connect"),
                Err(error) => {
                    tracing::warn!(code = %error.code, %error, "connect failed");
                    self.next_zombie_scan = Instant::now();
                    self.feed(Input::ConnectFailed(error)).await;
                }
            },
            Purpose::Probe => {
                let probed = match result {
                    Ok(Reply::Probed { server_version }) => Ok(server_version),
                    Ok(other) => Err(WorkerError::new(
                        ErrorCode::Internal,
                        format!("unexpected reply to a probe: {other:?}"),
                    )),
                    Err(error) => Err(error),
                };
                self.feed(Input::Probed(probed)).await;
            }
            Purpose::Ping => self.on_ping_result(id, result).await,
            Purpose::Refresh => {
                match result {
                    Ok(Reply::Positions { positions }) => self.set_positions(positions),
                    Ok(Reply::AccountSummary { rows }) => self.set_account_summary(rows),
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "refresh failed"),
                }
                self.refresh_outstanding = self.refresh_outstanding.saturating_sub(1);
                if self.refresh_outstanding == 0 {
                    self.data_updated_ms = Some(now_ms());
                    self.data_changed = true;
                    self.emit(EventKind::DataRefreshed);
                }
            }
            Purpose::Fetch(reply) => {
                match &result {
                    Ok(Reply::Positions { positions }) => self.set_positions(positions.clone()),
                    Ok(Reply::AccountSummary { rows }) => self.set_account_summary(rows.clone()),
                    _ => {}
                }
                let _ = reply.send(result.map_err(ClientError::Worker));
            }
            Purpose::Disconnect => {}
        }
    }

    async fn on_ping_result(&mut self, id: u64, result: Result<Reply, WorkerError>) {
        let input = match result {
            Ok(Reply::Pong { rtt_us, .. }) => Input::PingAnswered { rtt_us },
            Err(error) if error.code == ErrorCode::RequestTimeout => {
                self.timed_out_pings.push_back(id);
                if self.timed_out_pings.len() > LATE_PING_MEMORY {
                    self.timed_out_pings.pop_front();
                }
                Input::PingLost
            }
            Err(error) if error.code == ErrorCode::AwaitingReply => Input::PingSkipped,
            // The connection went away under the ping: the drop itself is the news.
            Err(error)
                if matches!(
                    error.code,
                    ErrorCode::NotConnected | ErrorCode::ConnectionLost
                ) =>
            {
                Input::PingAborted
            }
            other => {
                tracing::warn!(?other, "unexpected ping result");
                Input::PingAborted
            }
        };
        self.feed(input).await;
    }

    async fn on_event(&mut self, event: Event) {
        match event {
            Event::Status {
                state: LinkState::Connecting,
                stage: Some(stage),
            } => self.feed(Input::Stage(stage)).await,
            Event::Status { .. } => {}
            Event::Notice(notice) => self.feed(Input::Notice(notice)).await,
            Event::LatePong { id, rtt_us, .. } => {
                if let Some(at) = self.timed_out_pings.iter().position(|p| *p == id) {
                    self.timed_out_pings.remove(at);
                    self.feed(Input::PingLate { rtt_us }).await;
                }
            }
            Event::Disconnected { cause, message } => {
                tracing::warn!(%cause, detail = %message, "the gateway connection dropped");
                self.feed(Input::Dropped { cause, message }).await;
            }
        }
    }

    // ----- timers -----

    fn clear_timers(&mut self) {
        self.heartbeat_sent = None;
        self.next_heartbeat = None;
        self.next_refresh = None;
    }

    fn next_wakeup(&self) -> Option<Instant> {
        let heartbeat_deadline = self
            .heartbeat_sent
            .map(|sent| sent + ms(self.config.heartbeat_timeout_ms));
        let scan = self.worker.is_some().then_some(self.next_zombie_scan);
        let deadlines = self.pending.values().map(|p| p.deadline).min();
        let wall_now = now_ms();
        let expected_change = self
            .expectation
            .deadline_ms(wall_now)
            .map(|at_ms| Instant::now() + ms(at_ms.saturating_sub(wall_now)));
        [
            self.machine.next_deadline(),
            expected_change,
            self.next_heartbeat,
            heartbeat_deadline,
            self.next_refresh,
            scan,
            deadlines,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    async fn on_timers(&mut self, now: Instant) {
        if self
            .heartbeat_sent
            .is_some_and(|sent| now >= sent + ms(self.config.heartbeat_timeout_ms))
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
            self.request(ToWorker::Heartbeat {}, Purpose::Heartbeat)
                .await;
        }
        self.expire_pending(now).await;
        if self.next_refresh.is_some_and(|at| now >= at) {
            self.next_refresh = Some(now + ms(self.config.refresh_interval_ms));
            if self.refresh_outstanding == 0 && self.machine.is_up() {
                self.refresh_outstanding = 2;
                self.request(ToWorker::GetPositions {}, Purpose::Refresh)
                    .await;
                self.request(
                    ToWorker::GetAccountSummary { tags: Vec::new() },
                    Purpose::Refresh,
                )
                .await;
            }
        }
        if self.worker.is_some() && now >= self.next_zombie_scan {
            self.next_zombie_scan = now + ms(self.config.zombie_scan_interval_ms);
            self.scan_zombies();
        }
        self.feed(Input::Tick).await;
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
            let no_answer =
                || WorkerError::new(ErrorCode::RequestTimeout, "no answer from the worker");
            match pending.purpose {
                Purpose::Connect => {
                    self.replace_worker("the worker did not finish a connect in time")
                        .await;
                    return;
                }
                Purpose::Ping => self.feed(Input::PingLost).await,
                Purpose::Probe => self.feed(Input::Probed(Err(no_answer()))).await,
                Purpose::Fetch(reply) => {
                    let _ = reply.send(Err(ClientError::Worker(no_answer())));
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
        if self.scan_in_flight || !zombie::AVAILABLE {
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

    async fn on_zombie_scan(&mut self, scanned: Result<ZombieCount, String>) {
        self.scan_in_flight = false;
        let count = match scanned {
            Ok(count) => {
                self.scan_failing = false;
                count
            }
            // The last count stands: a scan that could not look knows nothing new.
            Err(problem) => {
                if !self.scan_failing {
                    tracing::warn!(problem, "CLOSE_WAIT scan failed; the last count stands");
                    self.scan_failing = true;
                }
                return;
            }
        };
        if count != self.zombies {
            if let Some(advice) = count.advice() {
                tracing::warn!("{advice}");
            }
            self.zombies = count;
            self.emit(EventKind::ZombieSockets(count));
        }
        if count.ours > 0 {
            self.replace_worker("the worker holds sockets in CLOSE_WAIT")
                .await;
        }
    }

    /// Every request in flight fails: the worker is gone or going.
    fn fail_pending(&mut self) {
        self.heartbeat_sent = None;
        self.refresh_outstanding = 0;
        for (_, pending) in self.pending.drain() {
            if let Purpose::Fetch(reply) = pending.purpose {
                let _ = reply.send(Err(ClientError::NotConnected));
            }
        }
    }

    /// Requests that need the gateway connection fail: it is gone.
    fn fail_link_requests(&mut self) {
        self.next_refresh = None;
        self.refresh_outstanding = 0;
        self.pending.retain(|_, pending| match &pending.purpose {
            Purpose::Fetch(_) | Purpose::Refresh | Purpose::Ping => false,
            Purpose::Connect | Purpose::Probe | Purpose::Heartbeat | Purpose::Disconnect => true,
        });
    }

    // ----- publishing -----

    fn emit(&self, kind: EventKind) {
        let _ = self.events.send(SupervisorEvent {
            at_ms: now_ms(),
            kind,
        });
    }

    /// Publishes the snapshot, then announces a state change: whoever receives the
    /// `StateChanged` event finds the snapshot already showing it.
    fn publish(&mut self) {
        let now = Instant::now();
        let wall = SystemTime::now();
        let to_epoch = |at: Instant| -> u64 {
            if at >= now {
                epoch_ms(wall + (at - now))
            } else {
                epoch_ms(wall - (now - at))
            }
        };
        let state = self
            .expectation
            .publish(self.machine.state(now, to_epoch), epoch_ms(wall));
        let changed = !state.same_as(&self.published);
        if changed {
            self.published = state.clone();
        }
        let latency = self.machine.latency(to_epoch);
        let worker = WorkerInfo {
            pid: self.worker.as_ref().map(|w| w.pid),
            restarts: self.restarts,
        };
        let last_error = self.machine.last_error();
        let data_changed = std::mem::take(&mut self.data_changed);
        let (positions, account_summary) = (&self.positions, &self.account_summary);
        let (zombies, data_updated_ms) = (self.zombies, self.data_updated_ms);
        // Field by field, so the positions are copied only when they changed.
        self.snapshot.send_if_modified(|current| {
            let mut modified = false;
            if current.state != state {
                current.state = state.clone();
                modified = true;
            }
            if current.latency != latency {
                current.latency = latency;
                modified = true;
            }
            if data_changed {
                current.positions = positions.clone();
                current.account_summary = account_summary.clone();
                current.data_updated_ms = data_updated_ms;
                modified = true;
            }
            if current.worker != worker || current.zombies != zombies {
                (current.worker, current.zombies) = (worker, zombies);
                modified = true;
            }
            if current.last_error.as_ref() != last_error {
                current.last_error = last_error.cloned();
                modified = true;
            }
            modified
        });
        if changed {
            tracing::info!(state = state.name(), "state");
            self.emit(EventKind::StateChanged { state });
        }
    }
}

fn ms(value: u64) -> Duration {
    Duration::from_millis(value)
}

/// Resolves when the worker exits, with how it ended in words.
async fn wait_exit(worker: &mut Option<WorkerProcess>) -> String {
    match worker.as_mut() {
        Some(worker) => match worker.exited().await {
            Ok(status) => describe_exit(status),
            Err(error) => format!("the worker could not be waited for: {error}"),
        },
        None => std::future::pending().await,
    }
}

/// An exit status for people: `the worker exited with status 3`, `the worker was killed by
/// signal 9 (SIGKILL)`.
fn describe_exit(status: std::process::ExitStatus) -> String {
    #[cfg(unix)]
    let signal = std::os::unix::process::ExitStatusExt::signal(&status);
    #[cfg(not(unix))]
    let signal: Option<i32> = None;
    match (status.code(), signal) {
        (Some(code), _) => format!("the worker exited with status {code}"),
        (None, Some(signal)) => {
            let name = match signal {
                2 => " (SIGINT)",
                6 => " (SIGABRT)",
                9 => " (SIGKILL)",
                11 => " (SIGSEGV)",
                15 => " (SIGTERM)",
                _ => "",
            };
            format!("the worker was killed by signal {signal}{name}")
        }
        (None, None) => "the worker ended".into(),
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn exits_read_as_sentences() {
        assert_eq!(
            describe_exit(std::process::ExitStatus::from_raw(3 << 8)),
            "the worker exited with status 3"
        );
        assert_eq!(
            describe_exit(std::process::ExitStatus::from_raw(9)),
            "the worker was killed by signal 9 (SIGKILL)"
        );
    }
}
