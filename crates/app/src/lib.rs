//! Everything the desktop shell runs, without the shell: one supervised connection per
//! gateway profile in the user's settings, the event log, the demo simulators, and the
//! snapshot the UI renders.
//!
//! `src-tauri` stays a thin layer of one-line commands over [`App`], so all of this is tested
//! headless against simulators and the real worker.

mod calendar;
mod demo;
mod fleet;
pub mod history;
mod ibc;
mod latency;
mod log;
pub mod past;
mod records;
pub mod sleep;
mod stop;
pub mod tally;
pub mod tray;

pub use fleet::Applied;
pub use ibc::IbcLever;
pub use latency::{LatencyHistory, LatencySeries};
pub use log::{EventLog, LogEntry, LogKind};
pub use past::{ExportKind, IncidentView, LatencyRange, MorningSummary, UptimeDay};
pub use records::GatewayEvent;
pub use stop::stop_signal;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatewatch_settings::{FieldError, Settings, SettingsStore};
use gatewatch_supervisor::{BrokerClient, ClientError, ConnectionState, Snapshot};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use ts_rs::TS;

use gatewatch_supervisor::calendar::Occurrence;

use crate::calendar::Calendars;
use crate::fleet::{Fleet, Wanted};
use crate::records::Records;
use crate::sleep::SleepWatch;

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
    /// Watch two embedded simulators (with their demo scenarios) instead of the configured
    /// gateways; settings changes then last until the app quits and are never written.
    pub demo: bool,
    /// The settings file; default: the platform config directory.
    pub settings_path: Option<PathBuf>,
    /// The worker binary; default: next to the executable.
    pub worker_path: Option<PathBuf>,
    /// The history database; default: `history.db` in the platform data directory. Demo mode
    /// keeps no history.
    pub history_path: Option<PathBuf>,
}

/// An error as the UI receives it: a code to branch on and a sentence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error, TS)]
#[error("{code}: {message}")]
pub struct AppError {
    /// `invalid_settings`, `unknown_gateway`, `not_connected`, `stopped`, `io`, `worker`,
    /// `startup`.
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

    pub(crate) fn new(code: &str, message: impl Into<String>) -> Self {
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

/// One gateway as the UI renders it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct GatewayView {
    /// The profile's id.
    pub id: String,
    /// The profile's name.
    pub name: String,
    /// The supervisor's snapshot.
    #[serde(flatten)]
    pub snapshot: Snapshot,
    /// The managed accounts, with paper/live badges.
    pub accounts: Vec<AccountBadge>,
    /// Since when it has been in its present condition (connected, or down), epoch ms.
    pub since_ms: u64,
    /// Its newest failure, if any.
    pub last_problem: Option<LogEntry>,
    /// Its kind of state, as the tray's icon and the window's colours show it.
    pub tone: tray::TrayIcon,
    /// Its tray line ("TWS live: Connected · 0.42 ms").
    pub status_line: String,
    /// Every problem of its live connection in a few words, most serious first (the first
    /// is the state words of the tray line); empty unless degraded.
    pub problems: Vec<String>,
    /// What comes next in its calendar, soonest first (restart, server reset, re-login).
    pub upcoming: Vec<Occurrence>,
    /// IBC's command server is set for it: the window offers its levers.
    pub ibc_levers: bool,
}

/// What the UI renders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct UiSnapshot {
    /// The watched gateways, in the order of the settings.
    pub gateways: Vec<GatewayView>,
    /// The newest log entries of all gateways.
    pub recent_events: Vec<LogEntry>,
    /// The tray's summary line (the worst gateway's).
    pub status_line: String,
    /// Watching the embedded simulators.
    pub demo: bool,
    /// Whether CLOSE_WAIT sockets are counted on this platform (Linux); elsewhere the window
    /// says "not available on this platform" instead of a count.
    pub close_wait_available: bool,
    /// Why the settings file was not used, if it was not.
    pub settings_problem: Option<String>,
    /// Where an older settings file was kept when it was migrated at start.
    pub settings_migrated_from: Option<String>,
    /// Keys of the settings file this release does not know (misspelt or retired), ignored.
    pub settings_ignored: Vec<String>,
    /// Why the history is not being kept, or was not usable at start (kept aside), if so.
    pub history_problem: Option<String>,
    /// The HTTP endpoints, when the settings turn them on.
    pub endpoints: EndpointsStatus,
}

/// Whether the HTTP endpoints are served, where, or why not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct EndpointsStatus {
    /// The address being served (`127.0.0.1:7489`), if they are.
    pub serving: Option<String>,
    /// Why they are not, when they should be (the port is in use, the token file is
    /// unreadable).
    pub problem: Option<String>,
}

/// One gateway as the metrics and health endpoints read it.
#[derive(Debug, Clone)]
pub struct GatewayReading {
    /// The profile's id.
    pub id: String,
    /// The profile's name.
    pub name: String,
    /// The gateway's host.
    pub host: String,
    /// Its API port.
    pub port: u16,
    /// The supervisor's snapshot.
    pub snapshot: Snapshot,
    /// What its events added up to since this run started.
    pub tally: tally::Tally,
    /// The expected outage the calendar puts at this moment, if any (margins included).
    pub expected_outage: Option<Occurrence>,
}

/// The running app.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    options: AppOptions,
    /// `None` in demo mode: nothing is written.
    store: Option<SettingsStore>,
    settings_path: PathBuf,
    settings: Mutex<Settings>,
    settings_problem: Option<String>,
    settings_migrated_from: Option<String>,
    settings_ignored: Vec<String>,
    demo: Vec<demo::DemoGateway>,
    fleet: Mutex<Fleet>,
    /// Held while the fleet is being changed, so two saves never interleave.
    applying: tokio::sync::Mutex<()>,
    records: Arc<Mutex<Records>>,
    events: broadcast::Sender<GatewayEvent>,
    calendars: Mutex<Calendars>,
    sleep: Mutex<SleepWatch>,
    /// The history database, when one is kept.
    history: Option<Arc<Mutex<gatewatch_history::History>>>,
    /// Its file, for readers (which never take the writer's lock).
    history_file: Option<PathBuf>,
    /// The last write's failure, or what was wrong with the file found at start.
    history_problem: Arc<Mutex<Option<String>>>,
    /// The HTTP endpoints' status, set by whoever serves them.
    endpoints: Mutex<EndpointsStatus>,
}

impl App {
    /// Loads the settings, starts the demo simulators when asked, and starts watching every
    /// enabled gateway.
    pub async fn start(options: AppOptions) -> Result<App, AppError> {
        let store = match &options.settings_path {
            Some(path) => SettingsStore::at(path),
            None => SettingsStore::in_config_dir()
                .ok_or_else(|| AppError::new("startup", "no config directory for this user"))?,
        };
        let loaded = store.load();
        let mut settings = loaded.settings;
        let demo = if options.demo {
            let gateways = demo::start().await?;
            settings.profiles = gateways.iter().map(|g| g.profile.clone()).collect();
            settings.calendar = demo::calendar_settings();
            gateways
        } else {
            Vec::new()
        };
        let (events, _) = broadcast::channel(4096);
        let mut records = Records::default();
        let (history, history_problem) = if options.demo {
            (None, None)
        } else {
            open_history(&options, &mut records)
        };
        let inner = Inner {
            settings_problem: loaded.problem.map(|p| p.to_string()),
            settings_migrated_from: loaded.migrated_from.map(|p| p.display().to_string()),
            settings_ignored: loaded.ignored,
            settings: Mutex::new(settings),
            settings_path: store.path().to_path_buf(),
            store: (!options.demo).then_some(store),
            demo,
            options,
            fleet: Mutex::new(Fleet::default()),
            applying: tokio::sync::Mutex::new(()),
            records: Arc::new(Mutex::new(records)),
            events,
            calendars: Mutex::new(Calendars::default()),
            sleep: Mutex::new(SleepWatch::default()),
            history_file: history
                .as_ref()
                .map(|h| h.lock().expect("history poisoned").path().to_path_buf()),
            history,
            history_problem: Arc::new(Mutex::new(history_problem)),
            endpoints: Mutex::new(EndpointsStatus::default()),
        };
        let app = App {
            inner: Arc::new(inner),
        };
        app.apply().await?;
        tokio::spawn(watch_for_sleep(Arc::downgrade(&app.inner)));
        if app.inner.history.is_some() {
            tokio::spawn(history::write_periodically(Arc::downgrade(&app.inner)));
        }
        Ok(app)
    }

    /// The gateways the settings say to watch, with the supervisor settings in force.
    fn wanted(&self) -> Vec<Wanted> {
        let settings = self.settings();
        settings
            .enabled_profiles()
            .map(|profile| {
                let mut config = settings.supervisor_config(profile);
                config.worker_path = self.inner.options.worker_path.clone();
                Wanted {
                    id: profile.id.clone(),
                    name: profile.name.clone(),
                    config,
                }
            })
            .collect()
    }

    /// Brings the supervisors in line with the settings, touching only what changed.
    async fn apply(&self) -> Result<Applied, AppError> {
        let _one_at_a_time = self.inner.applying.lock().await;
        *self.inner.calendars.lock().expect("calendars poisoned") =
            Calendars::from_settings(&self.settings());
        fleet::apply(
            &self.inner.fleet,
            &self.wanted(),
            &self.inner.records,
            &self.inner.events,
        )
        .await
    }

    fn client(&self, gateway: &str) -> Result<BrokerClient, AppError> {
        let fleet = self.inner.fleet.lock().expect("fleet poisoned");
        fleet.get(gateway).map(|m| m.client.clone()).ok_or_else(|| {
            AppError::new(
                "unknown_gateway",
                format!("no watched gateway has the id `{gateway}`"),
            )
        })
    }

    fn clients(&self) -> Vec<BrokerClient> {
        let fleet = self.inner.fleet.lock().expect("fleet poisoned");
        fleet.members().iter().map(|m| m.client.clone()).collect()
    }

    /// The current settings.
    pub fn settings(&self) -> Settings {
        self.inner
            .settings
            .lock()
            .expect("settings poisoned")
            .clone()
    }

    /// Validates and saves new settings (profiles without an id get one); nothing is saved
    /// or changed when any field is bad. Only the gateways whose settings changed are
    /// restarted; the answer says which.
    pub async fn save_settings(&self, mut settings: Settings) -> Result<Applied, AppError> {
        settings.assign_ids();
        if let Err(fields) = settings.validate() {
            return Err(AppError {
                code: "invalid_settings".into(),
                message: format!("some settings are invalid: {}", FieldError::join(&fields)),
                fields,
            });
        }
        if let Some(store) = &self.inner.store {
            store
                .save(&settings)
                .map_err(|e| AppError::new("io", e.to_string()))?;
        }
        *self.inner.settings.lock().expect("settings poisoned") = settings;
        self.apply().await
    }

    /// Where the settings live.
    pub fn settings_path(&self) -> PathBuf {
        self.inner.settings_path.clone()
    }

    /// Each watched gateway's id, name and supervisor snapshot, in the order of the settings.
    fn member_snapshots(&self) -> Vec<(String, String, Snapshot)> {
        let fleet = self.inner.fleet.lock().expect("fleet poisoned");
        fleet
            .members()
            .iter()
            .map(|m| (m.id.clone(), m.name.clone(), m.client.snapshot()))
            .collect()
    }

    /// What the UI renders now.
    pub fn snapshot(&self) -> UiSnapshot {
        let now = gatewatch_supervisor::state::now_ms();
        let members = self.member_snapshots();
        let settings = self.settings();
        let mut calendars = self.inner.calendars.lock().expect("calendars poisoned");
        let records = self.inner.records.lock().expect("records poisoned");
        let gateways: Vec<GatewayView> = members
            .into_iter()
            .map(|(id, name, snapshot)| {
                let record = records.gateways.get(&id).cloned().unwrap_or_default();
                GatewayView {
                    status_line: tray::gateway_line(&name, &snapshot, record.since_ms, now),
                    problems: tray::problems(&snapshot.state),
                    tone: tray::icon(&snapshot),
                    accounts: badges(&snapshot),
                    since_ms: record.since_ms,
                    last_problem: record.last_problem,
                    upcoming: calendars.upcoming(&id, now),
                    ibc_levers: settings
                        .profile(&id)
                        .is_some_and(|p| p.schedule.ibc.command_server.is_some()),
                    id,
                    name,
                    snapshot,
                }
            })
            .collect();
        let lines: Vec<(tray::TrayIcon, String)> = gateways
            .iter()
            .map(|g| (g.tone, g.status_line.clone()))
            .collect();
        UiSnapshot {
            recent_events: records.log.recent(500, &[]),
            status_line: tray::summary_line(&lines),
            gateways,
            demo: !self.inner.demo.is_empty(),
            close_wait_available: gatewatch_supervisor::zombie::AVAILABLE,
            settings_problem: self.inner.settings_problem.clone(),
            settings_migrated_from: self.inner.settings_migrated_from.clone(),
            settings_ignored: self.inner.settings_ignored.clone(),
            history_problem: self
                .inner
                .history_problem
                .lock()
                .expect("history problem poisoned")
                .clone(),
            endpoints: self.endpoints_status(),
        }
    }

    /// Whether the HTTP endpoints are served.
    pub fn endpoints_status(&self) -> EndpointsStatus {
        self.inner
            .endpoints
            .lock()
            .expect("endpoints poisoned")
            .clone()
    }

    /// Records whether the HTTP endpoints are served (by `gatewatch-endpoints`).
    pub fn set_endpoints_status(&self, status: EndpointsStatus) {
        *self.inner.endpoints.lock().expect("endpoints poisoned") = status;
    }

    /// Every watched gateway as the metrics and health endpoints read it, in the order of
    /// the settings.
    pub fn readings(&self) -> Vec<GatewayReading> {
        let now = gatewatch_supervisor::state::now_ms();
        let members = self.member_snapshots();
        let settings = self.settings();
        let calendars = self.inner.calendars.lock().expect("calendars poisoned");
        let records = self.inner.records.lock().expect("records poisoned");
        members
            .into_iter()
            .map(|(id, name, snapshot)| {
                let (host, port) = settings
                    .profile(&id)
                    .map(|p| (p.host.clone(), p.port))
                    .unwrap_or_default();
                GatewayReading {
                    tally: records.tallies.get(&id).cloned().unwrap_or_default(),
                    expected_outage: calendars.outage_at(&id, now),
                    id,
                    name,
                    host,
                    port,
                    snapshot,
                }
            })
            .collect()
    }

    /// Where the history database is, when one is kept.
    pub fn history_path(&self) -> Option<PathBuf> {
        self.inner.history_file.clone()
    }

    /// Gateway `gateway`'s latency over the last `window_secs` from memory (this run's last
    /// day), at most 2000 points.
    pub fn recent_latency(&self, gateway: &str, window_secs: u64) -> LatencySeries {
        let now = gatewatch_supervisor::state::now_ms();
        let records = self.inner.records.lock().expect("records poisoned");
        records
            .latency
            .get(gateway)
            .map(|history| history.series(now, window_secs.saturating_mul(1000), 2000))
            .unwrap_or_default()
    }

    /// The latency charts of `gateways` over `range`, one per gateway: from the history
    /// database in one query; without one (demo mode, no data directory), this run's last day
    /// from memory, saying so.
    pub async fn latency(
        &self,
        gateways: Vec<String>,
        range: LatencyRange,
    ) -> Result<Vec<LatencySeries>, AppError> {
        let Some(path) = self.history_path() else {
            let span_secs = range.span_ms().min(latency::HISTORY_MS) / 1000;
            return Ok(gateways
                .iter()
                .map(|g| {
                    let mut series = self.recent_latency(g, span_secs);
                    series.note = Some(
                        "no history is kept in this mode: the chart shows what this run has seen (at most a day)"
                            .into(),
                    );
                    series
                })
                .collect());
        };
        let now = gatewatch_supervisor::state::now_ms();
        self.read_history(move || {
            let names: Vec<&str> = gateways.iter().map(String::as_str).collect();
            past::latency(&path, &names, range, now)
        })
        .await
    }

    /// Gateway `gateway`'s incidents (every gateway's when `None`) since `since_ms`, newest
    /// first.
    pub async fn incidents(
        &self,
        gateway: Option<String>,
        since_ms: u64,
    ) -> Result<Vec<IncidentView>, AppError> {
        let path = self.history_path_or_error()?;
        let now = gatewatch_supervisor::state::now_ms();
        self.read_history(move || past::incidents(&path, gateway.as_deref(), since_ms, now))
            .await
    }

    /// Gateway `gateway`'s uptime for each of the last `days` days on this computer's clock.
    pub async fn uptime(&self, gateway: String, days: u32) -> Result<Vec<UptimeDay>, AppError> {
        let path = self.history_path_or_error()?;
        let now = gatewatch_supervisor::state::now_ms();
        self.read_history(move || past::uptime(&path, &gateway, days.clamp(1, 366), now))
            .await
    }

    /// What happened to every gateway since the last evening; `None` without history.
    pub async fn morning_summary(&self) -> Result<Option<MorningSummary>, AppError> {
        let Some(path) = self.history_path() else {
            return Ok(None);
        };
        let now = gatewatch_supervisor::state::now_ms();
        let settings = self.settings();
        self.read_history(move || {
            let name = |id: &str| {
                settings
                    .profile(id)
                    .map(|p| p.name.clone())
                    .unwrap_or_else(|| id.to_owned())
            };
            past::summary(&path, &name, now)
        })
        .await
        .map(Some)
    }

    /// Writes gateway `gateway`'s incidents or per-minute latency since `since_ms` as a CSV
    /// file in the Downloads folder; returns where.
    pub async fn export_csv(
        &self,
        gateway: String,
        kind: ExportKind,
        since_ms: u64,
    ) -> Result<String, AppError> {
        let path = self.history_path_or_error()?;
        let dir = past::export_dir()
            .ok_or_else(|| AppError::io("no Downloads or data folder for this user"))?;
        let now = gatewatch_supervisor::state::now_ms();
        tokio::task::spawn_blocking(move || {
            past::export_csv(&path, &dir, &gateway, kind, since_ms, now)
        })
        .await
        .map_err(|e| AppError::io(e.to_string()))?
        .map(|file| file.display().to_string())
        .map_err(AppError::io)
    }

    fn history_path_or_error(&self) -> Result<PathBuf, AppError> {
        self.history_path().ok_or_else(|| {
            AppError::new(
                "no_history",
                "no history is kept (demo mode, or the database could not be opened)",
            )
        })
    }

    /// Runs a read of the history database on the blocking pool.
    async fn read_history<T: Send + 'static>(
        &self,
        read: impl FnOnce() -> gatewatch_history::rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, AppError> {
        tokio::task::spawn_blocking(read)
            .await
            .map_err(|e| AppError::io(e.to_string()))?
            .map_err(|e| AppError::new("history", format!("cannot read the history: {e}")))
    }

    /// Events of every gateway, across settings changes.
    pub fn subscribe(&self) -> broadcast::Receiver<GatewayEvent> {
        self.inner.events.subscribe()
    }

    /// Starts watching gateway `gateway` again (after a disconnect).
    pub async fn connect(&self, gateway: &str) -> Result<(), AppError> {
        Ok(self.client(gateway)?.start().await?)
    }

    /// Stops watching gateway `gateway` and closes its connection.
    pub async fn disconnect(&self, gateway: &str) -> Result<(), AppError> {
        Ok(self.client(gateway)?.stop().await?)
    }

    /// Retries gateway `gateway` now.
    pub async fn reconnect_now(&self, gateway: &str) -> Result<(), AppError> {
        Ok(self.client(gateway)?.reconnect_now().await?)
    }

    /// Pauses retries and alerts of every gateway for `minutes`, or until resumed.
    pub async fn pause(&self, minutes: Option<u64>) -> Result<(), AppError> {
        let pause = minutes.map(|m| Duration::from_secs(m * 60));
        for client in self.clients() {
            client.pause(pause).await?;
        }
        Ok(())
    }

    /// Ends a pause of every gateway.
    pub async fn resume(&self) -> Result<(), AppError> {
        for client in self.clients() {
            client.resume().await?;
        }
        Ok(())
    }

    /// The next weekly expiry and the gateways that will need a 2FA approval after it, for
    /// the Sunday reminders.
    pub fn relogin_due(
        &self,
        now_ms: u64,
    ) -> Option<(
        gatewatch_alerts::WeeklyExpiry,
        Vec<gatewatch_alerts::ReloginDue>,
    )> {
        self.inner
            .calendars
            .lock()
            .expect("calendars poisoned")
            .relogin_due(now_ms)
    }

    /// Pulls an IBC lever of gateway `gateway` (the window asks for confirmation first);
    /// returns IBC's answer. Logged either way.
    pub async fn pull_ibc_lever(&self, gateway: &str, lever: IbcLever) -> Result<String, AppError> {
        let client = self.client(gateway)?;
        let profile = self.settings().profile(gateway).cloned();
        let server = profile
            .as_ref()
            .and_then(|p| p.schedule.ibc.command_server.clone())
            .ok_or_else(|| {
                AppError::new(
                    "no_ibc",
                    format!("no IBC command server is set for gateway `{gateway}`"),
                )
            })?;
        if lever == IbcLever::SoftRestart {
            // Announced before it is asked for, so the drop cannot come first.
            client.expect_restart().await?;
        }
        let result = ibc::pull(&server, lever).await;
        let text = match &result {
            Ok(answer) => format!("IBC {}: asked by you; IBC answered {answer}", lever.label()),
            Err(e) => format!("IBC {}: asked by you; {}", lever.label(), e.message),
        };
        self.inner
            .records
            .lock()
            .expect("records poisoned")
            .log
            .note(gateway, gatewatch_supervisor::state::now_ms(), text);
        result
    }

    /// Looks at the clocks (the app does every 2 s): after a sleep, every gateway is
    /// re-checked at once and the log says when the computer slept, so the gap is not read
    /// as an outage of the gateways. Returns the log entry when it slept.
    pub async fn observe_clocks(&self, mono: Instant, wall_ms: u64) -> Option<LogEntry> {
        let asleep = self
            .inner
            .sleep
            .lock()
            .expect("sleep watch poisoned")
            .observe(mono, wall_ms)?;
        let clock = gatewatch_supervisor::calendar::local_hhmm;
        let text = format!(
            "this computer was asleep {}–{} ({}): every gateway re-checked now",
            clock(asleep.from_ms),
            clock(asleep.to_ms),
            tray::span(asleep.to_ms - asleep.from_ms)
        );
        tracing::info!(from_ms = asleep.from_ms, to_ms = asleep.to_ms, "{text}");
        let entry = self
            .inner
            .records
            .lock()
            .expect("records poisoned")
            .log
            .note("", asleep.to_ms, text);
        for client in self.clients() {
            let _ = client.recheck().await;
        }
        Some(entry)
    }

    /// Stops everything: every supervisor (and its worker), then the demo simulators.
    pub async fn shutdown(&self) {
        let members = {
            let mut fleet = self.inner.fleet.lock().expect("fleet poisoned");
            std::mem::take(&mut *fleet)
        };
        fleet::stop_all(members.into_members()).await;
        if let Some(history) = &self.inner.history {
            if let Some(feed) = self
                .inner
                .records
                .lock()
                .expect("records poisoned")
                .history
                .as_mut()
            {
                feed.stop(gatewatch_supervisor::state::now_ms());
            }
            history::flush(&self.inner.records, history, &self.inner.history_problem).await;
        }
        for gateway in &self.inner.demo {
            gateway.simulator.shutdown().await;
        }
    }
}

/// Opens the history database (a file that cannot be used is kept aside and reported); with
/// none at all (no data directory, a read-only folder), the app runs without history and says
/// why.
fn open_history(
    options: &AppOptions,
    records: &mut Records,
) -> (
    Option<Arc<Mutex<gatewatch_history::History>>>,
    Option<String>,
) {
    let Some(path) = options
        .history_path
        .clone()
        .or_else(gatewatch_history::default_path)
    else {
        return (
            None,
            Some("no data directory for this user: no history kept".into()),
        );
    };
    if let Some(dir) = path.parent()
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        return (
            None,
            Some(format!(
                "cannot create {}: {e}; no history kept",
                dir.display()
            )),
        );
    }
    match gatewatch_history::History::open(&path) {
        Ok(opened) => {
            match gatewatch_history::close_abandoned(opened.history.connection()) {
                Ok(0) => {}
                Ok(n) => tracing::info!(n, "incidents a previous run left open were ended"),
                Err(e) => tracing::warn!(%e, "incidents left open by a previous run not ended"),
            }
            let largest = |table: &str| -> i64 {
                opened
                    .history
                    .connection()
                    .query_row(
                        &format!("SELECT coalesce(max(id), 0) FROM {table}"),
                        [],
                        |r| r.get(0),
                    )
                    .unwrap_or(0)
            };
            records.history = Some(history::Feed::new(largest("incidents"), largest("watched")));
            (
                Some(Arc::new(Mutex::new(opened.history))),
                opened.problem.map(|p| p.to_string()),
            )
        }
        Err(e) => {
            tracing::warn!(%e, "no history kept");
            (None, Some(format!("{e}; no history kept")))
        }
    }
}

/// Looks at the clocks every 2 s for as long as the app runs.
async fn watch_for_sleep(inner: std::sync::Weak<Inner>) {
    let mut every = tokio::time::interval(Duration::from_secs(2));
    loop {
        every.tick().await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        App { inner }
            .observe_clocks(Instant::now(), gatewatch_supervisor::state::now_ms())
            .await;
    }
}

/// The managed accounts with paper/live badges (paper ids start with `DU`): the session's
/// while connected, else those the last positions named.
fn badges(snapshot: &Snapshot) -> Vec<AccountBadge> {
    let ids = match &snapshot.state {
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
    ids.into_iter()
        .map(|id| AccountBadge {
            paper: id.starts_with("DU"),
            id,
        })
        .collect()
}
