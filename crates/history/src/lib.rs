//! What happened while you were away: every gateway's events, incidents, latency per minute
//! and raw pings, in an embedded SQLite database (rusqlite with its bundled SQLite) that
//! survives restarts.
//!
//! One writer (the app core or the headless service) hands over a [`Batch`] every few
//! seconds, written in one transaction; readers use their own connections, and WAL mode keeps
//! them from blocking the writer. [`History::open`] migrates a database of any earlier
//! schema version (`schema.rs`, versions in `user_version`), and renames aside a file it cannot
//! use (corrupt, or from a newer release) and starts a new one, saying so.

mod batch;
mod incidents;
mod minute;
mod open;
mod read;
mod schema;

pub use batch::{Batch, ConnectRow, EventRow, IncidentRow, PingRow, ZombieRow};
pub use incidents::{IncidentIds, IncidentTracker};
pub use minute::{MinuteStats, minutes};
pub use open::{History, HistoryError, OpenProblem, Opened};
pub use read::{DayUptime, incidents, uptime_by_day};
pub use rusqlite;

/// Where the history database lives by default: the platform data directory
/// (`~/.local/share/gatewatch/history.db` on Linux), shared by the app, the service and the CLI.
pub fn default_path() -> Option<std::path::PathBuf> {
    directories::ProjectDirs::from("com", "Gatewatch", "Gatewatch")
        .map(|dirs| dirs.data_dir().join("history.db"))
}
pub use schema::SCHEMA_VERSION;

/// How long each kind of row is kept.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Retention {
    /// Raw pings, hours.
    pub raw_hours: u64,
    /// Per-minute latency and connect attempts, days.
    pub minute_days: u64,
    /// Events, incidents and CLOSE_WAIT changes, days.
    pub event_days: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            raw_hours: 48,
            minute_days: 90,
            event_days: 365,
        }
    }
}
