//! The simulator as a running server: the listener, the shared state every connection
//! reads, and the one place where fault commands take effect.
//!
//! [`Simulator::start`] takes an already bound listener (tests bind `127.0.0.1:0`) and
//! returns a handle; commands applied through the handle, the control port or the scenario
//! change the behaviour of live connections at once.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::capture::{Capture, CaptureTo, CapturedFrame};
use crate::command::{Command, Latency, RefuseMode};
use crate::market::Market;
use crate::session;

/// Settings fixed for the simulator's lifetime.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Highest server version offered (`--max-version`); 213 allows protobuf.
    pub max_version: i32,
    /// Concurrent API clients accepted; TWS allows 32.
    pub max_clients: usize,
    /// Seed of the price walk.
    pub seed: u64,
    /// Market tick; zero freezes prices (tests compare exact values then).
    pub tick: Duration,
    /// Commands applied at start (flags and scenario file).
    pub startup: Vec<Command>,
    /// How long a connection may take to send its hello and startApi before it is closed,
    /// as a gateway drops a socket that never speaks (fault-held connections are exempt).
    pub handshake_timeout: Duration,
    /// Whether and where client frames are recorded byte for byte.
    pub capture: CaptureTo,
    /// The managed accounts' ids (`--accounts`); empty: the book's two `DU…` paper ids.
    pub account_ids: Vec<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            max_version: 213,
            max_clients: 32,
            seed: 1,
            tick: Duration::from_secs(1),
            startup: Vec::new(),
            handshake_timeout: Duration::from_secs(5),
            capture: CaptureTo::Off,
            account_ids: Vec::new(),
        }
    }
}

/// The faults in force; sessions read them on every decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Faults {
    /// How new connections are refused.
    pub refuse: RefuseMode,
    /// New connections never get a version reply.
    pub zombie: bool,
    /// New connections never get nextValidId.
    pub stall_start: bool,
    /// Nothing is sent to anyone.
    pub mute: bool,
    /// Added per reply.
    pub latency: Latency,
    /// Sockets the clients closed stay open on our side.
    pub close_wait: bool,
}

/// What every session hears at once.
#[derive(Debug, Clone)]
pub(crate) enum Broadcast {
    /// Close the connection now.
    Drop,
    /// Send this notice.
    Notice { code: i32, text: String },
    /// Send 1300, then close.
    PortReset { text: String },
    /// Prices moved.
    Tick,
}

/// A snapshot of what the simulator is doing, for `status` and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Faults in force.
    pub faults: Faults,
    /// Open API connections (held and parked ones included).
    pub connections: usize,
    /// Connections that completed startApi.
    pub clients: usize,
    /// Client-closed sockets held open by the close-wait fault.
    pub parked: usize,
    /// Pending after/every commands.
    pub timers: usize,
}

pub(crate) struct Shared {
    pub(crate) config: SimConfig,
    pub(crate) api_addr: SocketAddr,
    pub(crate) faults: watch::Sender<Faults>,
    pub(crate) events: broadcast::Sender<Broadcast>,
    pub(crate) market: Mutex<Market>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) capture: Capture,
    clients: Mutex<HashMap<i32, u64>>,
    requests: Mutex<std::collections::BTreeMap<u32, u64>>,
    connections: AtomicUsize,
    pub(crate) parked: AtomicUsize,
    next_connection: AtomicU64,
    timers: Mutex<Vec<JoinHandle<()>>>,
    /// What the IBC command-server stand-in received.
    ibc_commands: Mutex<Vec<String>>,
}

/// Proof that a connection is counted; uncounts it when dropped.
pub(crate) struct ConnectionSlot {
    shared: Arc<Shared>,
    pub(crate) id: u64,
    client_id: Option<i32>,
}

impl ConnectionSlot {
    /// Claims `client_id` for this connection; `false` if another connection holds it.
    pub(crate) fn claim_client_id(&mut self, client_id: i32) -> bool {
        let mut clients = self
            .shared
            .clients
            .lock()
            .expect("client registry poisoned");
        if clients.contains_key(&client_id) {
            return false;
        }
        clients.insert(client_id, self.id);
        self.client_id = Some(client_id);
        true
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        if let Some(client_id) = self.client_id {
            let mut clients = self
                .shared
                .clients
                .lock()
                .expect("client registry poisoned");
            if clients.get(&client_id) == Some(&self.id) {
                clients.remove(&client_id);
            }
        }
        self.shared.connections.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Shared {
    /// Counts one decoded request by message id.
    pub(crate) fn count_request(&self, msg_id: u32) {
        *self
            .requests
            .lock()
            .expect("request counts poisoned")
            .entry(msg_id)
            .or_default() += 1;
    }

    pub(crate) fn faults(&self) -> Faults {
        *self.faults.borrow()
    }

    /// Counts a new connection unless the client limit is reached.
    fn open_slot(self: &Arc<Self>) -> Option<ConnectionSlot> {
        let limit = self.config.max_clients;
        self.connections
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()?;
        let id = self.next_connection.fetch_add(1, Ordering::SeqCst);
        Some(ConnectionSlot {
            shared: Arc::clone(self),
            id,
            client_id: None,
        })
    }
}

/// A running simulator. Cloning gives another handle to the same server.
#[derive(Clone)]
pub struct Simulator {
    shared: Arc<Shared>,
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Simulator {
    /// Starts serving on `listener` and applies the configured start-up commands.
    pub fn start(listener: TcpListener, config: SimConfig) -> std::io::Result<Simulator> {
        let api_addr = listener.local_addr()?;
        let (events, _) = broadcast::channel(1024);
        let capture = Capture::open(&config.capture)?;
        let shared = Arc::new(Shared {
            market: Mutex::new(Market::with_ids(config.seed, &config.account_ids)),
            config,
            api_addr,
            faults: watch::channel(Faults::default()).0,
            events,
            shutdown: CancellationToken::new(),
            capture,
            clients: Mutex::new(HashMap::new()),
            requests: Mutex::new(std::collections::BTreeMap::new()),
            connections: AtomicUsize::new(0),
            parked: AtomicUsize::new(0),
            next_connection: AtomicU64::new(1),
            timers: Mutex::new(Vec::new()),
            ibc_commands: Mutex::new(Vec::new()),
        });
        let simulator = Simulator {
            shared: Arc::clone(&shared),
            task: Arc::new(Mutex::new(None)),
        };
        for command in shared.config.startup.clone() {
            simulator.apply(command);
        }
        if !shared.config.tick.is_zero() {
            tokio::spawn(tick_market(Arc::clone(&shared)));
        }
        let task = tokio::spawn(accept_loop(Arc::clone(&shared), listener));
        *simulator.task.lock().expect("task slot poisoned") = Some(task);
        Ok(simulator)
    }

    /// The IBC commands received by the command-server stand-in, in order.
    pub fn ibc_commands(&self) -> Vec<String> {
        self.shared
            .ibc_commands
            .lock()
            .expect("ibc commands poisoned")
            .clone()
    }

    pub(crate) fn record_ibc_command(&self, command: &str) {
        self.shared
            .ibc_commands
            .lock()
            .expect("ibc commands poisoned")
            .push(command.to_owned());
    }

    /// The API address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.shared.api_addr
    }

    /// Parses and applies one command line; returns the reply text.
    pub fn execute(&self, line: &str) -> Result<String, crate::command::CommandError> {
        Ok(self.apply(line.parse()?))
    }

    /// Applies one command and returns the reply text (`status` describes the faults).
    pub fn apply(&self, command: Command) -> String {
        tracing::info!(%command, "fault command");
        let shared = &self.shared;
        match command {
            Command::Refuse(mode) => shared.faults.send_modify(|f| f.refuse = mode),
            Command::Zombie(on) => shared.faults.send_modify(|f| f.zombie = on),
            Command::StallStart(on) => shared.faults.send_modify(|f| f.stall_start = on),
            Command::Mute(on) => shared.faults.send_modify(|f| f.mute = on),
            Command::Latency(latency) => shared.faults.send_modify(|f| f.latency = latency),
            Command::CloseWait(on) => shared.faults.send_modify(|f| f.close_wait = on),
            Command::Drop => self.broadcast(Broadcast::Drop),
            Command::Notice { code, arg } => {
                let text = crate::notice::text(code, arg.as_deref(), shared.api_addr.port())
                    .unwrap_or_default();
                self.broadcast(Broadcast::Notice { code, text });
            }
            Command::PortReset => {
                let text =
                    crate::notice::text(1300, None, shared.api_addr.port()).unwrap_or_default();
                self.broadcast(Broadcast::PortReset { text });
            }
            Command::Restart { down } => {
                shared.faults.send_modify(|f| f.refuse = RefuseMode::Closed);
                self.broadcast(Broadcast::Drop);
                self.schedule(down, None, Command::Refuse(RefuseMode::Off));
            }
            Command::After { delay, command } => self.schedule(delay, None, *command),
            Command::Every { interval, command } => {
                self.schedule(interval, Some(interval), *command)
            }
            Command::Cancel => self.cancel_timers(),
            Command::Clear => {
                self.cancel_timers();
                shared.faults.send_replace(Faults::default());
            }
            Command::Status => return describe(&self.status()),
        }
        "ok".into()
    }

    fn broadcast(&self, event: Broadcast) {
        // No receivers just means no client is connected.
        let _ = self.shared.events.send(event);
    }

    fn schedule(&self, delay: Duration, period: Option<Duration>, command: Command) {
        let simulator = self.clone();
        let timer = tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            loop {
                simulator.apply(command.clone());
                match period {
                    Some(period) => tokio::time::sleep(period).await,
                    None => break,
                }
            }
        });
        let mut timers = self.shared.timers.lock().expect("timers poisoned");
        timers.retain(|t| !t.is_finished());
        timers.push(timer);
    }

    fn cancel_timers(&self) {
        for timer in self
            .shared
            .timers
            .lock()
            .expect("timers poisoned")
            .drain(..)
        {
            timer.abort();
        }
    }

    /// What the simulator is doing now.
    pub fn status(&self) -> Status {
        let shared = &self.shared;
        Status {
            faults: shared.faults(),
            connections: shared.connections.load(Ordering::SeqCst),
            clients: shared
                .clients
                .lock()
                .expect("client registry poisoned")
                .len(),
            parked: shared.parked.load(Ordering::SeqCst),
            timers: shared
                .timers
                .lock()
                .expect("timers poisoned")
                .iter()
                .filter(|t| !t.is_finished())
                .count(),
        }
    }

    /// How many requests of each message id every client has sent so far (startApi
    /// included); tests use it to prove what a client never sends.
    pub fn requests_seen(&self) -> std::collections::BTreeMap<u32, u64> {
        self.shared
            .requests
            .lock()
            .expect("request counts poisoned")
            .clone()
    }

    /// Every frame clients sent, in arrival order, when [`SimConfig::capture`] is
    /// [`CaptureTo::Memory`].
    pub fn captured(&self) -> Vec<CapturedFrame> {
        self.shared.capture.frames()
    }

    /// The token cancelled when the simulator shuts down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shared.shutdown.clone()
    }

    /// A copy of the market as it is now.
    pub fn market(&self) -> Market {
        self.shared.market.lock().expect("market poisoned").clone()
    }

    /// Stops accepting, closes every connection and cancels the timers.
    pub async fn shutdown(&self) {
        self.cancel_timers();
        self.shared.shutdown.cancel();
        let task = self.task.lock().expect("task slot poisoned").take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

fn describe(status: &Status) -> String {
    let f = &status.faults;
    let on_off = |on: bool| if on { "on" } else { "off" };
    format!(
        "ok refuse={} zombie={} stall-start={} mute={} latency={}+-{}ms close-wait={} connections={} clients={} parked={} timers={}",
        f.refuse,
        on_off(f.zombie),
        on_off(f.stall_start),
        on_off(f.mute),
        f.latency.fixed_ms,
        f.latency.jitter_ms,
        on_off(f.close_wait),
        status.connections,
        status.clients,
        status.parked,
        status.timers
    )
}

async fn tick_market(shared: Arc<Shared>) {
    let mut interval = tokio::time::interval(shared.config.tick);
    interval.tick().await;
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            _ = interval.tick() => {
                shared.market.lock().expect("market poisoned").step();
                let _ = shared.events.send(Broadcast::Tick);
            }
        }
    }
}

/// Accepts connections, closing the listener while `refuse closed` is in force and binding
/// the same address again when it is lifted.
async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    let mut listener = Some(listener);
    let mut faults = shared.faults.subscribe();
    loop {
        let refuse = faults.borrow_and_update().refuse;
        if refuse == RefuseMode::Closed && listener.take().is_some() {
            tracing::info!(addr = %shared.api_addr, "port closed: connections are refused");
        } else if refuse != RefuseMode::Closed && listener.is_none() {
            match TcpListener::bind(shared.api_addr).await {
                Ok(bound) => {
                    tracing::info!(addr = %shared.api_addr, "port open again");
                    listener = Some(bound);
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot bind the API port again; retrying");
                    tokio::select! {
                        _ = shared.shutdown.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_millis(50)) => continue,
                    }
                }
            }
        }
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            changed = faults.changed() => if changed.is_err() { return },
            accepted = accept(listener.as_ref()) => match accepted {
                Ok((stream, peer)) => admit(&shared, stream, peer),
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
}

async fn accept(
    listener: Option<&TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

fn admit(shared: &Arc<Shared>, stream: tokio::net::TcpStream, peer: SocketAddr) {
    if shared.faults().refuse == RefuseMode::Reset {
        tracing::info!(%peer, "connection reset (refuse reset)");
        // Linger zero makes the close an RST instead of a FIN.
        let _ = stream.set_zero_linger();
        return;
    }
    let Some(slot) = shared.open_slot() else {
        tracing::warn!(%peer, limit = shared.config.max_clients, "client limit reached: connection closed");
        return;
    };
    let _ = stream.set_nodelay(true);
    tokio::spawn(session::serve(Arc::clone(shared), slot, stream, peer));
}
