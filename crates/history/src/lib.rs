//! What happened while you were away: every gateway's events, incidents, latency per minute
//! and raw pings, in an embedded SQLite database (rusqlite with its bundled SQLite) that
//! survives restarts.
//!
//! One writer (the app core or the headless service) hands over a [`Batch`] every few
//! seconds, written in one transaction; readers use their own connections, and WAL mode keeps
//! them from blocking the writer. [`History::open`] migrates a database of any earlier
//! schema version (`schema.rs`, versions in `user_version`), and renames aside a file it cannot
//! use (corrupt, or from a newer release) and starts a new one, saying so.

mod attempts;
mod batch;
mod chart;
mod export;
mod incidents;
mod minute;
mod open;
mod read;
mod schema;
mod words;

pub use attempts::{Attempt, AttemptRows, AttemptTracker};
pub use batch::{Batch, ConnectRow, EventRow, IncidentRow, PingRow, WatchSpan, ZombieRow};
pub use chart::{Bucket, RawSpan, Source, buckets, minute_rows, oldest_ping, raw_span};
pub use export::{incidents_csv, minutes_csv};
pub use incidents::{
    IncidentIds, IncidentTracker, UNWATCHED, close_abandoned, failure_kind, stage_name,
};
pub use minute::{MinuteStats, minutes};
pub use open::{History, HistoryError, OpenProblem, Opened};
pub use read::{DayUptime, incidents, uptime_by_day, watched};
pub use rusqlite;
pub use words::{
    clock, days_back, incident_line, kind_words, local_days, span, summary, summary_start,
};

/// Where the history database lives by default: the platform data directory
/// (`~/.local/share/gatewatch/history.db` on Linux), shared by the app, the service and the CLI.
pub fn default_path() -> Option<std::path::PathBuf> {
    directories::ProjectDirs::from("com", "Gatewatch", "Gatewatch")
        .map(|dirs| dirs.data_dir().join("history.db"))
}
pub use schema::{MIGRATIONS, SCHEMA_VERSION};

pub use gatewatch_settings::Retention;
