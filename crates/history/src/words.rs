//! The history in words and on this computer's clock: incident lines, local days, and the
//! morning summary. One place for the app's window and the CLI, so they say the same.

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use crate::IncidentRow;

/// `ms` on this computer's clock, formatted with `strftime` `format`.
pub fn clock(ms: u64, format: &str) -> String {
    zoned(ms).strftime(format).to_string()
}

fn zoned(ms: u64) -> jiff::ZonedDateTime {
    Timestamp::from_millisecond(ms as i64)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_zoned_datetime(TimeZone::system())
}

/// A duration for people: `58 s`, `4 min 10 s`, `2 h 05 min`.
pub fn span(ms: u64) -> String {
    let secs = ms / 1000;
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {:02} min", secs / 3600, secs % 3600 / 60),
    }
}

/// A duration rounded for a summary: `58 s`, `4 min`, `2 h 05 min`.
fn short_span(ms: u64) -> String {
    let secs = ms / 1000;
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", (secs + 30) / 60),
        _ => format!("{} h {:02} min", secs / 3600, secs % 3600 / 60),
    }
}

/// An incident kind for people.
pub fn kind_words(kind: &str) -> &'static str {
    match kind {
        "down" => "Down",
        "zombie" => "Zombie",
        "degraded" => "Degraded",
        "ib_link_lost" => "IB link lost",
        _ => "Trouble",
    }
}

/// One incident as a line: `Down Sun 23:45:03–23:46:01, 58 s, nightly restart (expected): the
/// gateway closed the connection [at version exchange], 3 CLOSE_WAIT on the gateway`.
pub fn incident_line(i: &IncidentRow, now_ms: u64) -> String {
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
    let close_wait = i
        .close_wait
        .map(|n| format!(", {n} CLOSE_WAIT on the gateway"))
        .unwrap_or_default();
    format!(
        "{} {}–{end}, {lasted}{why}{cause}{stage}{notices}{close_wait}",
        kind_words(&i.kind),
        clock(i.started_ms, "%a %Y-%m-%d %H:%M:%S")
    )
}

/// The local days from `since_ms`'s to `now_ms`'s, as `[start, end)` epoch ms (the first
/// starting at `since_ms`); a day of a DST change is 23 or 25 hours long.
pub fn local_days(since_ms: u64, now_ms: u64) -> Vec<(u64, u64)> {
    let tz = TimeZone::system();
    let ms = |t: Timestamp| t.as_millisecond().max(0) as u64;
    let mut day = zoned(since_ms).date();
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

/// Local midnight `days - 1` days before `now_ms`'s day: the start of a `days`-day strip
/// ending today.
pub fn days_back(now_ms: u64, days: u32) -> u64 {
    let back = i64::from(days.saturating_sub(1));
    zoned(now_ms)
        .date()
        .checked_sub(back.days())
        .ok()
        .and_then(|d| {
            TimeZone::system()
                .to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
                .ok()
        })
        .map(|t| t.as_millisecond().max(0) as u64)
        .unwrap_or(0)
}

/// Where the morning summary starts: the latest 18:00 on this computer's clock at least six
/// hours before `now_ms` (at 08:00 and at 20:00 that is yesterday 18:00).
pub fn summary_start(now_ms: u64) -> u64 {
    let now = zoned(now_ms);
    let six_hours_ago = now_ms.saturating_sub(6 * 3_600_000);
    (0..3)
        .filter_map(|back: i64| {
            let date = now.date().checked_sub(back.days()).ok()?;
            let evening = TimeZone::system()
                .to_timestamp(date.to_datetime(jiff::civil::time(18, 0, 0, 0)))
                .ok()?;
            Some(evening.as_millisecond().max(0) as u64)
        })
        .find(|&at| at <= six_hours_ago)
        .unwrap_or(six_hours_ago)
}

/// "Since yesterday 18:00: 2 incidents, 1 unexpected (Gateway paper, 4 min down)": what
/// happened to every gateway since `since_ms`, `name` giving a gateway id's display name; the
/// time down (down, zombie) and the time degraded (degraded, IB link lost) apart.
pub fn summary(
    incidents: &[IncidentRow],
    name: &dyn Fn(&str) -> String,
    since_ms: u64,
    now_ms: u64,
) -> String {
    let today = zoned(now_ms).date();
    let day = zoned(since_ms).date();
    let when = if day == today {
        "today".to_owned()
    } else if today.checked_sub(1.day()).ok() == Some(day) {
        "yesterday".to_owned()
    } else {
        clock(since_ms, "%A")
    };
    let head = format!("Since {when} {}", clock(since_ms, "%H:%M"));
    let total = incidents.len();
    if total == 0 {
        return format!("{head}: no incidents.");
    }
    // Per gateway, in order of first appearance: unexpected time down, and degraded.
    let mut unexpected: Vec<(String, u64, u64)> = Vec::new();
    for i in incidents.iter().filter(|i| !i.expected) {
        let lasted = i
            .ended_ms
            .unwrap_or(now_ms)
            .saturating_sub(i.started_ms.max(since_ms));
        let entry = match unexpected.iter().position(|(g, _, _)| *g == i.gateway) {
            Some(at) => &mut unexpected[at],
            None => {
                unexpected.push((i.gateway.clone(), 0, 0));
                unexpected.last_mut().expect("just pushed")
            }
        };
        match i.kind.as_str() {
            "down" | "zombie" => entry.1 += lasted,
            _ => entry.2 += lasted,
        }
    }
    let count = incidents.iter().filter(|i| !i.expected).count();
    let plural = |n: usize| if n == 1 { "incident" } else { "incidents" };
    if count == 0 {
        return format!("{head}: {total} {}, all expected.", plural(total));
    }
    let who = unexpected
        .iter()
        .map(|(g, down, degraded)| {
            let mut parts = vec![name(g)];
            if *down > 0 {
                parts.push(format!("{} down", short_span(*down)));
            }
            if *degraded > 0 {
                parts.push(format!("{} degraded", short_span(*degraded)));
            }
            parts.join(", ")
        })
        .collect::<Vec<_>>()
        .join("; ");
    format!(
        "{head}: {total} {}, {count} unexpected ({who}).",
        plural(total)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incident(gateway: &str, started_ms: u64, ended_ms: u64, expected: bool) -> IncidentRow {
        IncidentRow::spell(gateway, started_ms, Some(ended_ms), expected)
    }

    fn at(civil: &str) -> u64 {
        let civil: jiff::civil::DateTime = civil.parse().unwrap();
        TimeZone::system()
            .to_timestamp(civil)
            .unwrap()
            .as_millisecond() as u64
    }

    #[test]
    fn the_summary_starts_at_the_last_evening_at_least_six_hours_back() {
        assert_eq!(
            summary_start(at("2026-11-27T08:00")),
            at("2026-11-26T18:00")
        );
        assert_eq!(
            summary_start(at("2026-11-27T20:00")),
            at("2026-11-26T18:00")
        );
        assert_eq!(
            summary_start(at("2026-11-28T00:30")),
            at("2026-11-27T18:00")
        );
    }

    #[test]
    fn the_summary_names_the_gateways_down_unexpectedly_and_for_how_long() {
        let since = at("2026-11-26T18:00");
        let now = at("2026-11-27T08:00");
        let name = |g: &str| format!("Gateway {g}");
        let incidents = [
            incident(
                "paper",
                at("2026-11-26T23:45"),
                at("2026-11-26T23:46"),
                true,
            ),
            incident(
                "paper",
                at("2026-11-27T02:13"),
                at("2026-11-27T02:17"),
                false,
            ),
        ];
        assert_eq!(
            summary(&incidents, &name, since, now),
            "Since yesterday 18:00: 2 incidents, 1 unexpected (Gateway paper, 4 min down)."
        );
        let degraded = IncidentRow {
            kind: "degraded".into(),
            ..incident(
                "live",
                at("2026-11-27T03:00"),
                at("2026-11-27T03:02"),
                false,
            )
        };
        assert_eq!(
            summary(&[incidents[1].clone(), degraded], &name, since, now),
            "Since yesterday 18:00: 2 incidents, 2 unexpected (Gateway paper, 4 min down; Gateway live, 2 min degraded)."
        );
        assert_eq!(
            summary(&incidents[..1], &name, since, now),
            "Since yesterday 18:00: 1 incident, all expected."
        );
        assert_eq!(
            summary(&[], &name, since, now),
            "Since yesterday 18:00: no incidents."
        );
    }

    #[test]
    fn a_strip_of_days_starts_at_local_midnight() {
        let now = at("2026-11-27T08:00");
        let start = days_back(now, 30);
        assert_eq!(start, at("2026-10-29T00:00"));
        let days = local_days(start, now);
        assert_eq!(days.len(), 30);
        assert_eq!(days[29], (at("2026-11-27T00:00"), at("2026-11-28T00:00")));
    }
}
