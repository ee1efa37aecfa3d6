//! What the window reads from the history database: the latency chart of any range, the
//! incident timeline, uptime per day, the morning summary and the CSV exports. Every read
//! opens its own read-only connection, so it never waits for the writer (WAL) and the writer
//! never waits for it; reads run on the blocking pool, off the async workers.

use std::path::{Path, PathBuf};

use gatewatch_history::rusqlite::{Connection, OpenFlags};
use gatewatch_history::{IncidentRow, Source};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::LatencySeries;

/// The chart's ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
pub enum LatencyRange {
    /// The last five minutes, every ping.
    #[serde(rename = "5m")]
    FiveMinutes,
    /// The last hour, in 2-second buckets.
    #[serde(rename = "1h")]
    Hour,
    /// The last day, per minute.
    #[serde(rename = "24h")]
    Day,
    /// The last week, in 10-minute buckets.
    #[serde(rename = "7d")]
    Week,
    /// The last 30 days, in 30-minute buckets.
    #[serde(rename = "30d")]
    Month,
}

impl LatencyRange {
    /// How far back, ms.
    pub fn span_ms(self) -> u64 {
        const MIN: u64 = 60_000;
        match self {
            Self::FiveMinutes => 5 * MIN,
            Self::Hour => 60 * MIN,
            Self::Day => 24 * 60 * MIN,
            Self::Week => 7 * 24 * 60 * MIN,
            Self::Month => 30 * 24 * 60 * MIN,
        }
    }

    /// The bucket width and the table read: raw pings up to an hour, minutes for a day, the
    /// 10-minute rows beyond.
    fn plan(self) -> (u64, Source) {
        match self {
            Self::FiveMinutes => (1_000, Source::Pings),
            Self::Hour => (2_000, Source::Pings),
            Self::Day => (60_000, Source::Minutes),
            Self::Week => (10 * 60_000, Source::TenMinutes),
            Self::Month => (30 * 60_000, Source::TenMinutes),
        }
    }
}

/// Opens the database read-only.
fn reader(path: &Path) -> gatewatch_history::rusqlite::Result<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(std::time::Duration::from_secs(2))?;
    Ok(connection)
}

/// The chart of `gateways` over `range` ending at `now_ms`, one series per gateway in the
/// order asked, from one query; the exact p50 and p95 where the raw pings cover the range.
pub fn latency(
    path: &Path,
    gateways: &[&str],
    range: LatencyRange,
    now_ms: u64,
) -> gatewatch_history::rusqlite::Result<Vec<LatencySeries>> {
    let connection = reader(path)?;
    // One snapshot for every query below, so the counts compared come from the same writes.
    let snapshot = connection.unchecked_transaction()?;
    let (bucket_ms, source) = range.plan();
    let to = now_ms + 1;
    let from = (to.saturating_sub(range.span_ms()) / bucket_ms) * bucket_ms;
    let buckets = gatewatch_history::buckets(&connection, source, gateways, from, to, bucket_ms)?;
    let ms = |us: u64| us as f64 / 1000.0;
    gateways
        .iter()
        .map(|gateway| {
            let mut series = LatencySeries {
                bucket_secs: bucket_ms as f64 / 1000.0,
                source: match source {
                    Source::Pings => "pings",
                    Source::Minutes | Source::TenMinutes => "minutes",
                }
                .into(),
                ..LatencySeries::default()
            };
            for b in buckets.iter().filter(|b| b.gateway == *gateway) {
                let t = b.start_ms as f64 / 1000.0;
                series.t.push(t);
                series.rtt_ms.push(b.slowest_us.map(ms));
                if source != Source::Pings {
                    series.typical_ms.push(b.typical_us.map(ms));
                }
                if b.lost > 0 {
                    series.lost_t.push(t);
                }
                series.pings += u64::from(b.count);
                series.lost += u64::from(b.lost);
            }
            // The exact p50 and p95 come from the raw pings, and only when they hold every
            // ping the chart counts (they are kept for less time than the minutes).
            let first_ms = series.t.first().map(|t| (t * 1000.0) as u64);
            let oldest_raw = gatewatch_history::oldest_ping(&connection, gateway)?;
            let may_cover = match (first_ms, oldest_raw) {
                (Some(first), Some(oldest)) => oldest < first + bucket_ms,
                _ => false,
            };
            if may_cover {
                let raw = gatewatch_history::raw_span(&connection, gateway, from, to)?;
                if raw.pings == series.pings {
                    series.p50_ms = raw.percentile(0.5).map(ms);
                    series.p95_ms = raw.percentile(0.95).map(ms);
                }
            }
            if first_ms.is_some() && series.p50_ms.is_none() && series.pings > series.lost {
                series.note = Some(
                    "no exact p50 and p95 over this range: the raw pings they need are kept for less time than the chart covers; the dashed line is the mean of the minutes' medians"
                        .into(),
                );
            }
            Ok(series)
        })
        .collect::<gatewatch_history::rusqlite::Result<Vec<_>>>()
        .and_then(|all| snapshot.finish().map(|()| all))
}

/// One incident for the timeline: its row and its line in words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct IncidentView {
    /// The incident's id.
    pub id: i64,
    /// The gateway profile's id.
    pub gateway: String,
    /// `down`, `zombie`, `degraded`, `ib_link_lost`.
    pub kind: String,
    /// Epoch ms.
    pub started_ms: u64,
    /// Epoch ms; `None` while it lasts.
    pub ended_ms: Option<u64>,
    /// The calendar expected it.
    pub expected: bool,
    /// What it was, when, how long and why, on this computer's clock.
    pub line: String,
}

impl IncidentView {
    fn new(row: &IncidentRow, now_ms: u64) -> Self {
        Self {
            id: row.id,
            gateway: row.gateway.clone(),
            kind: row.kind.clone(),
            started_ms: row.started_ms,
            ended_ms: row.ended_ms,
            expected: row.expected,
            line: gatewatch_history::incident_line(row, now_ms),
        }
    }
}

/// `gateway`'s incidents (every gateway's when `None`) since `since_ms`, newest first.
pub fn incidents(
    path: &Path,
    gateway: Option<&str>,
    since_ms: u64,
    now_ms: u64,
) -> gatewatch_history::rusqlite::Result<Vec<IncidentView>> {
    let rows = gatewatch_history::incidents(&reader(path)?, gateway, since_ms)?;
    Ok(rows
        .iter()
        .rev()
        .map(|row| IncidentView::new(row, now_ms))
        .collect())
}

/// One day of the uptime strip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct UptimeDay {
    /// The day's local midnight, epoch ms.
    pub day_ms: u64,
    /// "Sun 29 Nov".
    pub label: String,
    /// The part of the watched time not down unexpectedly, 0–1; `None` when the day was not
    /// watched at all.
    pub uptime: Option<f64>,
    /// How much of the day Gatewatch was watching, ms.
    pub watched_ms: u64,
    /// Down when nothing explained it, ms.
    pub unexpected_down_ms: u64,
    /// Down inside an outage the calendar expected, ms.
    pub expected_down_ms: u64,
}

/// `gateway`'s uptime for each of the last `days` local days, oldest first.
pub fn uptime(
    path: &Path,
    gateway: &str,
    days: u32,
    now_ms: u64,
) -> gatewatch_history::rusqlite::Result<Vec<UptimeDay>> {
    let since = gatewatch_history::days_back(now_ms, days);
    let connection = reader(path)?;
    let rows = gatewatch_history::incidents(&connection, Some(gateway), since)?;
    let watched = gatewatch_history::watched(&connection, gateway, since)?;
    let days = gatewatch_history::local_days(since, now_ms);
    Ok(
        gatewatch_history::uptime_by_day(&rows, &watched, &days, now_ms)
            .into_iter()
            .map(|d| UptimeDay {
                day_ms: d.day_ms,
                label: gatewatch_history::clock(d.day_ms, "%a %-d %b"),
                uptime: d.uptime(),
                watched_ms: d.watched_ms,
                unexpected_down_ms: d.unexpected_down_ms,
                expected_down_ms: d.expected_down_ms,
            })
            .collect(),
    )
}

/// What happened overnight, for the banner when the app starts or the window opens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct MorningSummary {
    /// Since when, epoch ms.
    pub since_ms: u64,
    /// "Since yesterday 18:00: 2 incidents, 1 unexpected (Gateway paper, 4 min down)."
    pub text: String,
    /// Incidents in the span.
    pub incidents: u32,
    /// Of which the calendar did not expect.
    pub unexpected: u32,
}

/// The summary of every gateway since the last evening, `name` giving a profile's name.
pub fn summary(
    path: &Path,
    name: &dyn Fn(&str) -> String,
    now_ms: u64,
) -> gatewatch_history::rusqlite::Result<MorningSummary> {
    let since_ms = gatewatch_history::summary_start(now_ms);
    let rows = gatewatch_history::incidents(&reader(path)?, None, since_ms)?;
    Ok(MorningSummary {
        since_ms,
        text: gatewatch_history::summary(&rows, name, since_ms, now_ms),
        incidents: rows.len() as u32,
        unexpected: rows.iter().filter(|r| !r.expected).count() as u32,
    })
}

/// What a CSV export holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ExportKind {
    /// One row per incident.
    Incidents,
    /// One row per minute of latency.
    Latency,
}

/// Writes `gateway`'s incidents or per-minute latency since `since_ms` as CSV into `dir`;
/// returns the file.
pub fn export_csv(
    path: &Path,
    dir: &Path,
    gateway: &str,
    kind: ExportKind,
    since_ms: u64,
    now_ms: u64,
) -> Result<PathBuf, String> {
    let connection = reader(path).map_err(|e| e.to_string())?;
    let (what, csv) = match kind {
        ExportKind::Incidents => (
            "incidents",
            gatewatch_history::incidents(&connection, Some(gateway), since_ms)
                .map(|rows| gatewatch_history::incidents_csv(&rows)),
        ),
        ExportKind::Latency => (
            "latency",
            gatewatch_history::minute_rows(&connection, gateway, since_ms)
                .map(|rows| gatewatch_history::minutes_csv(gateway, &rows)),
        ),
    };
    let csv = csv.map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let file = dir.join(format!(
        "gatewatch-{gateway}-{what}-{}.csv",
        gatewatch_history::clock(now_ms, "%Y%m%d-%H%M%S")
    ));
    std::fs::write(&file, csv).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    Ok(file)
}

/// Where exports go: the user's Downloads folder, else `exports` in the data directory.
pub fn export_dir() -> Option<PathBuf> {
    directories::UserDirs::new()
        .and_then(|dirs| dirs.download_dir().map(Path::to_path_buf))
        .or_else(|| {
            directories::ProjectDirs::from("com", "Gatewatch", "Gatewatch")
                .map(|dirs| dirs.data_dir().join("exports"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatewatch_history::{Batch, History, PingRow};

    /// Three days of a ping a second written as minutes, the raw pings of the last hour only.
    fn seeded(dir: &Path, now: u64) -> PathBuf {
        let path = dir.join("history.db");
        let mut history = History::open(&path).unwrap().history;
        let pings: Vec<PingRow> = (0..3 * 86_400)
            .map(|s| PingRow {
                at_ms: now - 3 * 86_400_000 + s * 1000,
                rtt_us: Some(if s % 2 == 0 { 400 } else { 600 }),
            })
            .collect();
        let raw_from = now - 3_600_000;
        history
            .write(&Batch {
                minutes: gatewatch_history::minutes(&pings)
                    .into_iter()
                    .map(|m| ("paper".to_owned(), m))
                    .collect(),
                pings: pings
                    .iter()
                    .filter(|p| p.at_ms >= raw_from)
                    .map(|p| ("paper".to_owned(), *p))
                    .collect(),
                ..Batch::default()
            })
            .unwrap();
        path
    }

    #[test]
    fn percentiles_are_given_only_where_the_raw_pings_hold_every_ping_counted() {
        let dir = tempfile::tempdir().unwrap();
        let now = 1_800_000_000_000;
        let path = seeded(dir.path(), now);
        let hour = latency(&path, &["paper"], LatencyRange::Hour, now)
            .unwrap()
            .remove(0);
        assert_eq!(hour.pings, 3600);
        assert_eq!((hour.p50_ms, hour.p95_ms), (Some(0.4), Some(0.6)));
        assert_eq!(hour.note, None);
        let week = latency(&path, &["paper"], LatencyRange::Week, now).unwrap();
        let week = &week[0];
        assert_eq!(
            week.pings,
            3 * 86_400,
            "every ping, from the 10-minute rows"
        );
        assert_eq!(week.p50_ms, None, "the raw pings hold only the last hour");
        assert!(
            week.note
                .as_deref()
                .unwrap()
                .contains("mean of the minutes' medians")
        );
        assert_eq!(week.typical_ms.len(), week.t.len());
        assert!(
            week.typical_ms.iter().all(|ms| *ms == Some(0.4)),
            "{:?}",
            week.typical_ms
        );
    }
}
