//! Reading the history back: a gateway's incidents over a span, and its uptime per day
//! (unexpected downtime apart from what the calendar expected), for the window, the CLI and
//! the morning summary.

use rusqlite::{Connection, params};

use crate::IncidentRow;

/// The incidents of `gateway` (every gateway when `None`) that overlap `[since_ms, now)`,
/// oldest first; one still open has no end.
pub fn incidents(
    connection: &Connection,
    gateway: Option<&str>,
    since_ms: u64,
) -> rusqlite::Result<Vec<IncidentRow>> {
    let mut query = connection.prepare_cached(
        "SELECT id, gateway, kind, started_ms, ended_ms, cause, stage, notices, expected, outage,
                (SELECT max(z.gateway_side) FROM zombies z
                 WHERE z.gateway = i.gateway AND z.at_ms >= i.started_ms
                   AND (i.ended_ms IS NULL OR z.at_ms <= i.ended_ms))
         FROM incidents i
         WHERE (?1 IS NULL OR gateway = ?1) AND (ended_ms IS NULL OR ended_ms >= ?2)
         ORDER BY started_ms, id",
    )?;
    let rows = query.query_map(params![gateway, since_ms as i64], |r| {
        Ok(IncidentRow {
            id: r.get(0)?,
            gateway: r.get(1)?,
            kind: r.get(2)?,
            started_ms: r.get::<_, i64>(3)? as u64,
            ended_ms: r.get::<_, Option<i64>>(4)?.map(|v| v as u64),
            cause: r.get(5)?,
            stage: r.get(6)?,
            notices: r.get(7)?,
            expected: r.get(8)?,
            outage: r.get(9)?,
            close_wait: r.get::<_, Option<u32>>(10)?.filter(|&n| n > 0),
        })
    })?;
    rows.collect()
}

/// The stretches `gateway` was watched that end at or after `since_ms`, as `[from, until)`
/// epoch ms, oldest first.
pub fn watched(
    connection: &Connection,
    gateway: &str,
    since_ms: u64,
) -> rusqlite::Result<Vec<(u64, u64)>> {
    let mut query = connection.prepare_cached(
        "SELECT from_ms, until_ms FROM watched WHERE gateway = ?1 AND until_ms >= ?2 ORDER BY from_ms",
    )?;
    let rows = query.query_map(params![gateway, since_ms as i64], |r| {
        Ok((
            r.get::<_, i64>(0)?.max(0) as u64,
            r.get::<_, i64>(1)?.max(0) as u64,
        ))
    })?;
    rows.collect()
}

/// One day of one gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DayUptime {
    /// The day's start, epoch ms (midnight on the clock the caller chose).
    pub day_ms: u64,
    /// How much of the day Gatewatch was watching the gateway, ms.
    pub watched_ms: u64,
    /// Down when nothing explained it, ms.
    pub unexpected_down_ms: u64,
    /// Down inside an outage the calendar expected, ms.
    pub expected_down_ms: u64,
}

impl DayUptime {
    /// The share of the watched time not down unexpectedly, 0–1; `None` when the day was not
    /// watched at all.
    pub fn uptime(&self) -> Option<f64> {
        (self.watched_ms > 0).then(|| {
            1.0 - self.unexpected_down_ms.min(self.watched_ms) as f64 / self.watched_ms as f64
        })
    }
}

/// Uptime per day for `days`, each given as `[start, end)` epoch ms (the caller cuts days on
/// the trader's clock), from `incidents` and the stretches the gateway was `watched`; an open
/// incident lasts until `now_ms`. Only spells of the gateway being down count (`down`,
/// `zombie`), not a degraded connection; time nobody watched is neither up nor down.
pub fn uptime_by_day(
    incidents: &[IncidentRow],
    watched: &[(u64, u64)],
    days: &[(u64, u64)],
    now_ms: u64,
) -> Vec<DayUptime> {
    let overlap = |(a, b): (u64, u64), (c, d): (u64, u64)| b.min(d).saturating_sub(a.max(c));
    let watched = merged(watched);
    days.iter()
        .map(|&(start, end)| {
            let end = end.min(now_ms.max(start));
            let mut day = DayUptime {
                day_ms: start,
                watched_ms: watched.iter().map(|&w| overlap(w, (start, end))).sum(),
                unexpected_down_ms: 0,
                expected_down_ms: 0,
            };
            for incident in incidents
                .iter()
                .filter(|i| i.kind == "down" || i.kind == "zombie")
            {
                let spell = (incident.started_ms, incident.ended_ms.unwrap_or(now_ms));
                let down: u64 = watched
                    .iter()
                    .map(|&w| overlap(overlap_span(w, spell), (start, end)))
                    .sum();
                if incident.expected {
                    day.expected_down_ms += down;
                } else {
                    day.unexpected_down_ms += down;
                }
            }
            day
        })
        .collect()
}

/// The part of `a` inside `b` (empty when they do not meet).
fn overlap_span(a: (u64, u64), b: (u64, u64)) -> (u64, u64) {
    let from = a.0.max(b.0);
    (from, a.1.min(b.1).max(from))
}

/// Stretches sorted and joined where they overlap or touch.
fn merged(spans: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut spans = spans.to_vec();
    spans.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::new();
    for (from, until) in spans {
        match out.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(until),
            _ => out.push((from, until)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incident(kind: &str, started_ms: u64, ended_ms: Option<u64>, expected: bool) -> IncidentRow {
        IncidentRow {
            kind: kind.into(),
            ..IncidentRow::spell("paper", started_ms, ended_ms, expected)
        }
    }

    const DAY: u64 = 86_400_000;

    #[test]
    fn downtime_is_split_by_day_and_by_whether_it_was_expected() {
        let incidents = [
            // 58 s of a nightly restart, expected.
            incident("down", DAY - 30_000, Some(DAY + 28_000), true),
            // 4 min unexpected on day 2.
            incident("down", DAY + 3_600_000, Some(DAY + 3_840_000), false),
            // A degraded spell is not downtime.
            incident("degraded", DAY + 7_200_000, Some(DAY + 9_000_000), false),
            // Still down now (day 3, 10 min so far).
            incident("zombie", 2 * DAY + 600_000, None, false),
        ];
        let days = [(0, DAY), (DAY, 2 * DAY), (2 * DAY, 3 * DAY)];
        let now = 2 * DAY + 1_200_000;
        let rows = uptime_by_day(&incidents, &[(0, now)], &days, now);
        assert_eq!(
            (rows[0].expected_down_ms, rows[0].unexpected_down_ms),
            (30_000, 0)
        );
        assert_eq!(
            (rows[1].expected_down_ms, rows[1].unexpected_down_ms),
            (28_000, 240_000)
        );
        assert_eq!(rows[2].watched_ms, 1_200_000, "today counts up to now");
        assert_eq!(rows[2].unexpected_down_ms, 600_000);
        assert!((rows[2].uptime().unwrap() - 0.5).abs() < 1e-9);
        assert!(
            (rows[0].uptime().unwrap() - 1.0).abs() < 1e-9,
            "expected downtime is not counted against it"
        );
    }

    #[test]
    fn time_nobody_watched_is_neither_up_nor_down() {
        let incidents = [incident("down", DAY + 1_000, Some(DAY + 61_000), false)];
        // Watched on day 2 from 00:00:00 to 00:00:31 (the app killed in the spell), and again
        // from 12:00 to now.
        let watched = [
            (DAY, DAY + 31_000),
            (DAY + DAY / 2, DAY + DAY / 2 + 3_600_000),
        ];
        let days = [(0, DAY), (DAY, 2 * DAY)];
        let rows = uptime_by_day(&incidents, &watched, &days, 2 * DAY);
        assert_eq!(rows[0].uptime(), None, "day 1 was not watched at all");
        assert_eq!(rows[1].watched_ms, 31_000 + 3_600_000);
        assert_eq!(
            rows[1].unexpected_down_ms, 30_000,
            "only the watched part of the spell"
        );
    }
}
