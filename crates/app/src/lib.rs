//! Everything the desktop shell runs, without the shell: the supervised connection built from
//! the user's settings, the event log, the demo simulator, and the snapshot the UI renders.
//!
//! `src-tauri` stays a thin layer of one-line commands over [`App`], so all of this is tested
//! headless against the simulator and the real worker.

mod latency;
mod log;
pub mod tray;

pub use latency::{LatencyHistory, LatencySeries};
pub use log::{EventLog, LogEntry, LogKind};

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gatewatch_settings::{FieldError, Settings, SettingsStore};
use gatewatch_sim::{SimConfig, Simulator};
use gatewatch_supervisor::{
    BrokerClient, ClientError, ConnectionState, Snapshot, SupervisorConfig, SupervisorEvent,
};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use ts_rs::TS;

/// Where the app's rolling log files go: the platform data directory's `logs` folder
/// (`~/.local/share/gatewatch/logs` on Linux). The worker's logs land there too, relayed
/// by the supervisor.
pub fn log_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("com", "Gatewatch", "Gatewatch")
        .map(|dirs| dirs.data_dir().join("logs"))
}

/// How the app is started.
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// Watch an embedded simulator (with the demo scenario) instead of the configured gateway.
    pub demo: bool,
    /// The settings file; default: the platform config directory.
    pub settings_path: Option<PathBuf>,
    /// The worker binary; default: next to the executable.
    pub worker_path: Option<PathBuf>,
}

/// An error as the UI receives it: a code to branch on and a sentence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error, TS)]
#[error("{code}: {message}")]
pub struct AppError {
    /// `invalid_settings`, `not_connected`, `stopped`, `io`, `worker`, `startup`.
    pub code: String,
    /// For people.
    pub message: String,
    /// For `invalid_settings`: each bad field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

impl AppError {
    /// An `io` error.
    pub fn io(message: impl Into<String>) -> Self {
        Self::new("io", message)
    }

    fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            fields: Vec::new(),
        }
    }
}

impl From<ClientError> for AppError {
    fn from(error: ClientError) -> Self {
        let code = match &error {
            ClientError::NotConnected => "not_connected",
            ClientError::Stopped => "stopped",
            ClientError::Worker(_) => "worker",
            ClientError::Config(_) => "invalid_settings",
            ClientError::WorkerPath(_) => "startup",
        };
        AppError::new(code, error.to_string())
    }
}

/// An account with its paper/live flag (paper ids start with `DU`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AccountBadge {
    /// The account id.
    pub id: String,
    /// A paper account.
    pub paper: bool,
}

/// What the UI renders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct UiSnapshot {
    /// The supervisor's snapshot.
    #[serde(flatten)]
    pub snapshot: Snapshot,
    /// The managed accounts, with paper/live badges.
    pub accounts: Vec<AccountBadge>,
    /// The newest log entries.
    pub recent_events: Vec<LogEntry>,
    /// The tray's status line.
    pub status_line: String,
    /// Watching the embedded simulator.
    pub demo: bool,
    /// Why the settings file was not used, if it was not.
    pub settings_problem: Option<String>,
}

/// The running app.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    options: AppOptions,
    store: SettingsStore,
    settings: Mutex<Settings>,
    settings_problem: Option<String>,
    demo: Option<Simulator>,
    watched: Mutex<Option<Watched>>,
    log: Arc<Mutex<EventLog>>,
    latency: Arc<Mutex<LatencyHistory>>,
    events: broadcast::Sender<SupervisorEvent>,
}

/// The supervisor in use and the task copying its events into the app's stream and log.
struct Watched {
    client: BrokerClient,
    relay: JoinHandle<()>,
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.relay.abort();
    }
}

impl App {
    /// Loads the settings, starts the demo simulator when asked, and starts watching.
    pub async fn start(options: AppOptions) -> Result<App, AppError> {
        let store = match &options.settings_path {
            Some(path) => SettingsStore::at(path),
            None => SettingsStore::in_config_dir()
                .ok_or_else(|| AppError::new("startup", "no config directory for this user"))?,
        };
        let loaded = store.load();
        let demo = if options.demo {
            Some(start_demo().await?)
        } else {
            None
        };
        let (events, _) = broadcast::channel(4096);
        let inner = Inner {
            settings_problem: loaded.problem.map(|p| p.to_string()),
            settings: Mutex::new(loaded.settings),
            store,
            demo,
            options,
            watched: Mutex::new(None),
            log: Arc::new(Mutex::new(EventLog::default())),
            latency: Arc::new(Mutex::new(LatencyHistory::default())),
            events,
        };
        let app = App {
            inner: Arc::new(inner),
        };
        app.watch().await?;
        Ok(app)
    }

    /// The supervisor settings in force: the user's, pointed at the simulator in demo mode.
    fn supervisor_config(&self) -> SupervisorConfig {
        let mut config = self.settings().supervisor_config();
        if let Some(sim) = &self.inner.demo {
            config.host = sim.addr().ip().to_string();
            config.port = sim.addr().port();
        }
        config.worker_path = self.inner.options.worker_path.clone();
        config
    }

    /// Replaces the supervisor with one built from the current settings and starts it. The
    /// old one is stopped first, its worker gone and its connection closed, so the new one
    /// never meets its own client id still held (326).
    async fn watch(&self) -> Result<(), AppError> {
        let old = self
            .inner
            .watched
            .lock()
            .expect("watched poisoned")
            .as_ref()
            .map(|watched| watched.client.clone());
        if let Some(old) = old
            && let Err(error) = old.stop().await
            && error != ClientError::Stopped
        {
            tracing::warn!(%error, "stopping the previous supervisor");
        }
        let client = BrokerClient::new(self.supervisor_config())?;
        let relay = tokio::spawn(relay(
            client.subscribe(),
            Arc::clone(&self.inner.log),
            Arc::clone(&self.inner.latency),
            self.inner.events.clone(),
        ));
        client.start().await?;
        self.inner
            .watched
            .lock()
            .expect("watched poisoned")
            .replace(Watched { client, relay });
        Ok(())
    }

    fn client(&self) -> BrokerClient {
        let watched = self.inner.watched.lock().expect("watched poisoned");
        watched
            .as_ref()
            .expect("App::start installs a supervisor before returning")
            .client
            .clone()
    }

    /// The current settings.
    pub fn settings(&self) -> Settings {
        self.inner
            .settings
            .lock()
            .expect("settings poisoned")
            .clone()
    }

    /// Validates and saves new settings; nothing is saved or changed when any field is bad.
    /// A change of gateway or timing restarts the supervision with the new values.
    pub async fn save_settings(&self, settings: Settings) -> Result<(), AppError> {
        if let Err(fields) = settings.validate() {
            return Err(AppError {
                code: "invalid_settings".into(),
                message: "some settings are invalid".into(),
                fields,
            });
        }
        self.inner
            .store
            .save(&settings)
            .map_err(|e| AppError::new("io", e.to_string()))?;
        let previous = std::mem::replace(
            &mut *self.inner.settings.lock().expect("settings poisoned"),
            settings.clone(),
        );
        if previous.gateway != settings.gateway || previous.monitoring != settings.monitoring {
            self.watch().await?;
        }
        Ok(())
    }

    /// Where the settings live.
    pub fn settings_path(&self) -> PathBuf {
        self.inner.store.path().to_path_buf()
    }

    /// What the UI renders now.
    pub fn snapshot(&self) -> UiSnapshot {
        let snapshot = self.client().snapshot();
        let accounts = match &snapshot.state {
            ConnectionState::Connected(session) | ConnectionState::Degraded { session, .. } => {
                session.accounts.clone()
            }
            _ => {
                let mut ids: Vec<String> = snapshot
                    .positions
                    .iter()
                    .map(|p| p.account.clone())
                    .collect();
                ids.dedup();
                ids
            }
        };
        UiSnapshot {
            accounts: accounts
                .into_iter()
                .map(|id| AccountBadge {
                    paper: id.starts_with("DU"),
                    id,
                })
                .collect(),
            recent_events: self
                .inner
                .log
                .lock()
                .expect("log poisoned")
                .recent(200, &[]),
            status_line: tray::status_line(&snapshot, gatewatch_supervisor::state::now_ms()),
            demo: self.inner.demo.is_some(),
            settings_problem: self.inner.settings_problem.clone(),
            snapshot,
        }
    }

    /// The latency chart's data for the last `window_secs`, at most 2000 points.
    pub fn latency(&self, window_secs: u64) -> LatencySeries {
        let now = gatewatch_supervisor::state::now_ms();
        self.inner.latency.lock().expect("latency poisoned").series(
            now,
            window_secs.saturating_mul(1000),
            2000,
        )
    }

    /// Events from whichever supervisor is in use, across settings changes.
    pub fn subscribe(&self) -> broadcast::Receiver<SupervisorEvent> {
        self.inner.events.subscribe()
    }

    /// Starts watching (after a disconnect).
    pub async fn connect(&self) -> Result<(), AppError> {
        Ok(self.client().start().await?)
    }

    /// Stops watching and closes the gateway connection.
    pub async fn disconnect(&self) -> Result<(), AppError> {
        Ok(self.client().stop().await?)
    }

    /// Retries now.
    pub async fn reconnect_now(&self) -> Result<(), AppError> {
        Ok(self.client().reconnect_now().await?)
    }

    /// Pauses retries and alerts for `minutes`, or until resumed.
    pub async fn pause(&self, minutes: Option<u64>) -> Result<(), AppError> {
        Ok(self
            .client()
            .pause(minutes.map(|m| Duration::from_secs(m * 60)))
            .await?)
    }

    /// Ends a pause.
    pub async fn resume(&self) -> Result<(), AppError> {
        Ok(self.client().resume().await?)
    }

    /// Stops everything: the supervisor (and its worker), then the demo simulator.
    pub async fn shutdown(&self) {
        let _ = self.client().stop().await;
        if let Some(sim) = &self.inner.demo {
            sim.shutdown().await;
        }
    }
}

async fn start_demo() -> Result<Simulator, AppError> {
    let startup = gatewatch_sim::control::parse_scenario(gatewatch_sim::DEMO_SCENARIO)
        .map_err(|e| AppError::new("startup", e.to_string()))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| AppError::new("startup", e.to_string()))?;
    let sim = Simulator::start(
        listener,
        SimConfig {
            startup,
            ..SimConfig::default()
        },
    )
    .map_err(|e| AppError::new("startup", e.to_string()))?;
    tracing::info!(addr = %sim.addr(), "demo simulator started");
    Ok(sim)
}

async fn relay(
    mut from: broadcast::Receiver<SupervisorEvent>,
    log: Arc<Mutex<EventLog>>,
    latency: Arc<Mutex<LatencyHistory>>,
    to: broadcast::Sender<SupervisorEvent>,
) {
    loop {
        match from.recv().await {
            Ok(event) => {
                if let gatewatch_supervisor::EventKind::Ping { rtt_us, .. } = event.kind {
                    latency
                        .lock()
                        .expect("latency poisoned")
                        .record(event.at_ms, rtt_us);
                }
                log.lock().expect("log poisoned").record(&event);
                let _ = to.send(event);
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "event relay fell behind")
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}
