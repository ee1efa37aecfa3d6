//! `gatewatch-cli history`: what the history database holds for one gateway — its incidents
//! and its uptime per day on this computer's clock — as text, JSON or CSV. Only reads.

use std::path::Path;

use gatewatch_history::rusqlite::{Connection, OpenFlags};
use gatewatch_history::{
    DayUptime, IncidentRow, MinuteStats, clock, incident_line, incidents, incidents_csv,
    local_days, minute_rows, minutes_csv, span, uptime_by_day, watched,
};
use serde::Serialize;

/// One gateway's history over a span.
#[derive(Debug, Serialize)]
pub struct HistoryReport {
    /// The profile's id.
    pub gateway: String,
    /// Since when, epoch ms.
    pub since_ms: u64,
    /// Its incidents, oldest first.
    pub incidents: Vec<IncidentRow>,
    /// Uptime per local day, oldest first.
    pub uptime: Vec<DayUptime>,
    /// Latency per minute, oldest first (not in the JSON unless asked for).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub minutes: Vec<MinuteStats>,
}

/// Reads gateway `gateway`'s history since `since_ms` from the database at `path`, read-only;
/// with `latency`, its per-minute latency too.
pub fn read(
    path: &Path,
    gateway: &str,
    since_ms: u64,
    now_ms: u64,
    latency: bool,
) -> anyhow::Result<HistoryReport> {
    if !path.exists() {
        anyhow::bail!(
            "no history database at {} (the desktop app or the service writes it)",
            path.display()
        );
    }
    let connection = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let incidents = incidents(&connection, Some(gateway), since_ms)?;
    let watched = watched(&connection, gateway, since_ms)?;
    let uptime = uptime_by_day(&incidents, &watched, &local_days(since_ms, now_ms), now_ms);
    let minutes = if latency {
        minute_rows(&connection, gateway, since_ms)?
    } else {
        Vec::new()
    };
    Ok(HistoryReport {
        gateway: gateway.to_owned(),
        since_ms,
        incidents,
        uptime,
        minutes,
    })
}

/// The report for people.
pub fn to_text(report: &HistoryReport, now_ms: u64) -> String {
    let mut lines = vec![format!(
        "{} since {}: {} incident(s), {} unexpected",
        report.gateway,
        clock(report.since_ms, "%a %Y-%m-%d %H:%M"),
        report.incidents.len(),
        report.incidents.iter().filter(|i| !i.expected).count()
    )];
    lines.extend(
        report
            .incidents
            .iter()
            .map(|i| format!("  {}", incident_line(i, now_ms))),
    );
    lines.push(
        "uptime per day, of the time watched (unexpected downtime only; expected apart):".into(),
    );
    for day in &report.uptime {
        let Some(uptime) = day.uptime() else {
            lines.push(format!(
                "  {}  not watched",
                clock(day.day_ms, "%a %Y-%m-%d")
            ));
            continue;
        };
        lines.push(format!(
            "  {}  {:>7.3} %  unexpected {:>12}  expected {:>12}  watched {:>12}",
            clock(day.day_ms, "%a %Y-%m-%d"),
            uptime * 100.0,
            span(day.unexpected_down_ms),
            span(day.expected_down_ms),
            span(day.watched_ms)
        ));
    }
    lines.join("\n")
}

/// The incidents as CSV, or with `latency` the per-minute latency.
pub fn to_csv(report: &HistoryReport, latency: bool) -> String {
    if latency {
        minutes_csv(&report.gateway, &report.minutes)
    } else {
        incidents_csv(&report.incidents)
    }
}
