//! `gatewatch-cli history`: what the history database holds for one gateway — its incidents
//! and its uptime per day on this computer's clock — as text, JSON or CSV. Only reads.

use std::path::Path;

use gatewatch_history::rusqlite::{Connection, OpenFlags};
use gatewatch_history::{DayUptime, IncidentRow, incidents, uptime_by_day};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
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
}

/// Reads gateway `gateway`'s history since `since_ms` from the database at `path`, read-only.
pub fn read(
    path: &Path,
    gateway: &str,
    since_ms: u64,
    now_ms: u64,
) -> anyhow::Result<HistoryReport> {
    if !path.exists() {
        anyhow::bail!(
            "no history database at {} (the desktop app or the service writes it)",
            path.display()
        );
    }
    let connection = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let incidents = incidents(&connection, Some(gateway), since_ms)?;
    let uptime = uptime_by_day(&incidents, &local_days(since_ms, now_ms), now_ms);
    Ok(HistoryReport {
        gateway: gateway.to_owned(),
        since_ms,
        incidents,
        uptime,
    })
}

/// The local days from `since_ms`'s to `now_ms`'s, as `[start, end)` epoch ms.
fn local_days(since_ms: u64, now_ms: u64) -> Vec<(u64, u64)> {
    let tz = TimeZone::system();
    let ms = |t: Timestamp| t.as_millisecond().max(0) as u64;
    let mut day = Timestamp::from_millisecond(since_ms as i64)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_zoned_datetime(tz.clone())
        .date();
    let mut days = Vec::new();
    loop {
        let Ok(start) = tz.to_timestamp(day.to_datetime(jiff::civil::Time::midnight())) else {
            break;
        };
        if ms(start) > now_ms {
            break;
        }
        let Ok(next) = day.checked_add(1.day()) else {
            break;
        };
        let end = tz
            .to_timestamp(next.to_datetime(jiff::civil::Time::midnight()))
            .map(ms)
            .unwrap_or(now_ms);
        days.push((ms(start).max(since_ms), end));
        day = next;
    }
    days
}

fn clock(ms: u64, format: &str) -> String {
    Timestamp::from_millisecond(ms as i64)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_zoned_datetime(TimeZone::system())
        .strftime(format)
        .to_string()
}

fn span(ms: u64) -> String {
    let secs = ms / 1000;
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {:02} min", secs / 3600, secs % 3600 / 60),
    }
}

/// One incident as a line: `Down Sun 23:45:03–23:46:01, 58 s, nightly restart (expected): the
/// gateway closed the connection`.
pub fn incident_line(i: &IncidentRow, now_ms: u64) -> String {
    let mut kind = i.kind.replace('_', " ");
    kind[..1].make_ascii_uppercase();
    let end = match i.ended_ms {
        Some(end) => clock(end, "%H:%M:%S"),
        None => "now (still going)".into(),
    };
    let lasted = span(i.ended_ms.unwrap_or(now_ms).saturating_sub(i.started_ms));
    let why = match (&i.outage, i.expected) {
        (Some(outage), true) => format!(", {outage} (expected)"),
        (Some(outage), false) => format!(", after the {outage} (overdue)"),
        (None, _) => String::new(),
    };
    let cause = if i.cause.is_empty() {
        String::new()
    } else {
        format!(": {}", i.cause)
    };
    let stage = i
        .stage
        .as_deref()
        .map(|s| format!(" [at {}]", s.replace('_', " ")))
        .unwrap_or_default();
    let notices = if i.notices.is_empty() {
        String::new()
    } else {
        format!(" (notices {})", i.notices)
    };
    format!(
        "{kind} {}–{end}, {lasted}{why}{cause}{stage}{notices}",
        clock(i.started_ms, "%a %Y-%m-%d %H:%M:%S")
    )
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
    lines.push("uptime per day (unexpected downtime only; expected apart):".into());
    for day in &report.uptime {
        lines.push(format!(
            "  {}  {:>7.3} %  unexpected {:>12}  expected {:>12}",
            clock(day.day_ms, "%a %Y-%m-%d"),
            day.uptime() * 100.0,
            span(day.unexpected_down_ms),
            span(day.expected_down_ms)
        ));
    }
    lines.join("\n")
}

/// The incidents as CSV (RFC 4180: fields with commas, quotes or line breaks quoted).
pub fn to_csv(report: &HistoryReport) -> String {
    let field = |text: &str| {
        if text.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text.to_owned()
        }
    };
    let mut out = String::from(
        "id,gateway,kind,started_ms,ended_ms,duration_ms,expected,outage,cause,stage,notices\n",
    );
    for i in &report.incidents {
        let row = [
            i.id.to_string(),
            field(&i.gateway),
            field(&i.kind),
            i.started_ms.to_string(),
            i.ended_ms.map(|e| e.to_string()).unwrap_or_default(),
            i.ended_ms
                .map(|e| (e - i.started_ms).to_string())
                .unwrap_or_default(),
            i.expected.to_string(),
            field(i.outage.as_deref().unwrap_or("")),
            field(&i.cause),
            field(i.stage.as_deref().unwrap_or("")),
            field(&i.notices),
        ];
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}
