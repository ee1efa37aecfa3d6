//! [`BrokerClient`]: the cloneable handle front ends hold.

use std::time::Duration;

use gatewatch_protocol::{Position, Reply, SummaryRow, WorkerError};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::actor::{Actor, Command};
use crate::config::{ConfigError, SupervisorConfig};
use crate::state::{Snapshot, SupervisorEvent};

/// A data request a front end can make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataRequest {
    /// The managed accounts.
    Accounts,
    /// Positions with market values.
    Positions,
    /// Account-summary rows for these tags (empty: the standard set).
    AccountSummary(Vec<String>),
}

/// Why a request through the handle failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// There is no live gateway connection.
    #[error("not connected to the gateway")]
    NotConnected,
    /// The supervisor has stopped (every handle's actor is gone).
    #[error("the supervisor has stopped")]
    Stopped,
    /// The worker answered with an error.
    #[error("{0}")]
    Worker(WorkerError),
    /// The settings are invalid.
    #[error("invalid settings: {0}")]
    Config(ConfigError),
    /// The worker binary cannot be found.
    #[error("cannot locate the worker: {0}")]
    WorkerPath(String),
}

/// A handle to one supervised gateway connection. Cloning is cheap; the supervision stops
/// (gracefully) when the last handle is dropped.
#[derive(Clone)]
pub struct BrokerClient {
    commands: mpsc::Sender<Command>,
    snapshot: watch::Receiver<Snapshot>,
    events: broadcast::Sender<SupervisorEvent>,
}

impl BrokerClient {
    /// Validates `config` and spawns the actor, stopped; call [`start`](Self::start).
    pub fn new(config: SupervisorConfig) -> Result<BrokerClient, ClientError> {
        config.validate().map_err(ClientError::Config)?;
        let worker_path = config
            .resolve_worker_path()
            .map_err(|e| ClientError::WorkerPath(e.to_string()))?;
        let (commands, command_rx) = mpsc::channel(64);
        let (snapshot_tx, snapshot) = watch::channel(Snapshot::default());
        let (events, _) = broadcast::channel(4096);
        // Every log line of this supervisor and its workers names the gateway, so the log of
        // an app watching several says which one dropped.
        let span = tracing::info_span!(
            "gateway",
            addr = %format_args!("{}:{}", config.host, config.port),
            client_id = config.client_id
        );
        let actor = Actor::new(config, worker_path, command_rx, snapshot_tx, events.clone());
        tokio::spawn(tracing::Instrument::instrument(actor.run(), span));
        Ok(BrokerClient {
            commands,
            snapshot,
            events,
        })
    }

    async fn send(&self, command: Command) -> Result<(), ClientError> {
        self.commands
            .send(command)
            .await
            .map_err(|_| ClientError::Stopped)
    }

    /// Starts watching: spawns the worker and connects.
    pub async fn start(&self) -> Result<(), ClientError> {
        self.send(Command::Start).await
    }

    /// Stops gracefully: asks the worker to shut down, waits the grace period, then kills it.
    pub async fn stop(&self) -> Result<(), ClientError> {
        let (done, finished) = oneshot::channel();
        self.send(Command::Stop(done)).await?;
        finished.await.map_err(|_| ClientError::Stopped)
    }

    /// Retries now, resetting backoff and the circuit breaker (reconnects a live connection).
    pub async fn reconnect_now(&self) -> Result<(), ClientError> {
        self.send(Command::ReconnectNow).await
    }

    /// Pauses retries and alerts, for `duration` or until [`resume`](Self::resume).
    pub async fn pause(&self, duration: Option<Duration>) -> Result<(), ClientError> {
        self.send(Command::Pause(duration)).await
    }

    /// Ends a pause.
    pub async fn resume(&self) -> Result<(), ClientError> {
        self.send(Command::Resume).await
    }

    /// Checks the gateway now rather than at the next ping or retry (after the computer
    /// slept: the connection may be dead, the gateway may have missed its restart).
    pub async fn recheck(&self) -> Result<(), ClientError> {
        self.send(Command::Recheck).await
    }

    /// The user asked IBC for a soft restart of this gateway: the drop that follows within
    /// the next minutes is expected (and overdue if the gateway does not come back).
    pub async fn expect_restart(&self) -> Result<(), ClientError> {
        self.send(Command::ExpectRestart).await
    }

    async fn fetch(&self, what: DataRequest) -> Result<Reply, ClientError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Fetch(what, reply)).await?;
        answer.await.map_err(|_| ClientError::Stopped)?
    }

    /// One gateway round trip (server time) through the worker; returns the round trip in µs
    /// as the worker measured it. Not recorded in the latency statistics.
    pub async fn ping(&self) -> Result<u64, ClientError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Ping(reply)).await?;
        match answer.await.map_err(|_| ClientError::Stopped)?? {
            Reply::Pong { rtt_us, .. } => Ok(rtt_us),
            other => Err(unexpected(other)),
        }
    }

    /// The managed accounts, asked of the gateway now.
    pub async fn accounts(&self) -> Result<Vec<String>, ClientError> {
        match self.fetch(DataRequest::Accounts).await? {
            Reply::Accounts { accounts } => Ok(accounts),
            other => Err(unexpected(other)),
        }
    }

    /// Positions with market values, asked of the gateway now.
    pub async fn positions(&self) -> Result<Vec<Position>, ClientError> {
        match self.fetch(DataRequest::Positions).await? {
            Reply::Positions { positions } => Ok(positions),
            other => Err(unexpected(other)),
        }
    }

    /// Account-summary rows, asked of the gateway now.
    pub async fn account_summary(&self, tags: Vec<String>) -> Result<Vec<SummaryRow>, ClientError> {
        match self.fetch(DataRequest::AccountSummary(tags)).await? {
            Reply::AccountSummary { rows } => Ok(rows),
            other => Err(unexpected(other)),
        }
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot.borrow().clone()
    }

    /// A receiver that sees every new snapshot.
    pub fn watch(&self) -> watch::Receiver<Snapshot> {
        self.snapshot.clone()
    }

    /// A receiver of events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<SupervisorEvent> {
        self.events.subscribe()
    }
}

fn unexpected(reply: Reply) -> ClientError {
    ClientError::Worker(WorkerError::new(
        gatewatch_protocol::ErrorCode::Internal,
        format!("unexpected reply {reply:?}"),
    ))
}
