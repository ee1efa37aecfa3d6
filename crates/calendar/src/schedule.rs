//! One gateway's calendar, compiled: which expected outage (if any) covers an instant, and
//! what comes next. Every wall time is converted in its own time zone at the date in
//! question (jiff with its bundled tz database), so DST moves the windows as it moves the
//! clocks; nothing here holds a UTC offset.

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::spec::{
    CalendarData, CalendarSettings, DailyAction, GatewaySchedule, ServerWindow, ServerWindowKind,
    WeeklyInstant,
};

/// A setting the calendar cannot use, named by its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarError {
    /// The field (`daily.time`, `server_windows[0].time_zone`).
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

impl std::fmt::Display for CalendarError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

impl std::error::Error for CalendarError {}

/// What an occurrence in the calendar is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum OccurrenceKind {
    /// The gateway's daily auto restart.
    DailyRestart,
    /// The gateway's daily auto log off: down until someone starts it.
    AutoLogOff,
    /// IB's daily server reset for the region.
    ServerReset,
    /// IB's weekend maintenance.
    WeekendMaintenance,
    /// IB invalidates the gateway's tokens: the next restart needs a 2FA approval.
    WeeklyExpiry,
    /// A soft restart the user asked IBC for.
    RequestedRestart,
}

/// One occurrence of a calendar event, as instants (epoch ms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Occurrence {
    /// What it is.
    pub kind: OccurrenceKind,
    /// How people call it ("nightly restart", "North America server reset").
    pub label: String,
    /// Its start.
    pub starts_ms: u64,
    /// Its nominal end ("back by"); `None` for an auto log off (down until started again)
    /// and for the weekly expiry (an instant).
    pub ends_ms: Option<u64>,
    /// From when a drop is expected (the start less the margin).
    pub expected_from_ms: u64,
    /// Until when a drop is expected (the end plus the margin).
    pub expected_until_ms: u64,
    /// A gateway still not back by then is overdue; `None` when it is never overdue.
    pub overdue_at_ms: Option<u64>,
    /// This restart is the first after the weekly expiry: it needs a 2FA approval.
    pub needs_2fa: bool,
    /// IBC logs in (only the phone's approval is needed).
    pub ibc_login: bool,
    /// The times in the window's own zone: "00:15–01:45 ET", "Sun 23:45 CET".
    pub local: String,
}

impl Occurrence {
    /// The gateway's own restart or log-off (not IB's servers).
    pub fn is_gateways_own(&self) -> bool {
        matches!(
            self.kind,
            OccurrenceKind::DailyRestart
                | OccurrenceKind::AutoLogOff
                | OccurrenceKind::RequestedRestart
        )
    }

    /// The soft restart the user just asked IBC for, at `now_ms`: IB Gateway restarts within
    /// two minutes of the request (IBC sets its auto-restart a minute or two ahead), then takes
    /// `settings.restart_takes_secs`; margin and grace as for a planned restart.
    pub fn requested_restart(now_ms: u64, settings: &CalendarSettings) -> Occurrence {
        let end = now_ms + 120_000 + u64::from(settings.restart_takes_secs) * 1000;
        let margin = u64::from(settings.margin_secs) * 1000;
        Occurrence {
            kind: OccurrenceKind::RequestedRestart,
            label: "soft restart you asked for".into(),
            starts_ms: now_ms,
            ends_ms: Some(end),
            expected_from_ms: now_ms,
            expected_until_ms: end + margin,
            overdue_at_ms: Some(end + margin + u64::from(settings.grace_secs) * 1000),
            needs_2fa: false,
            ibc_login: false,
            local: format!("asked at {}", local_hhmm(now_ms)),
        }
    }
}

#[derive(Debug, Clone)]
struct Weekly {
    kind: OccurrenceKind,
    label: String,
    tz: TimeZone,
    zone_label: Option<String>,
    days: Vec<Weekday>,
    start: Time,
    end: Time,
}

#[derive(Debug, Clone)]
struct Daily {
    action: DailyAction,
    tz: TimeZone,
    time: Time,
}

/// One gateway's calendar: its region's server windows, its daily restart, the weekly
/// expiry, and the margins.
#[derive(Debug, Clone)]
pub struct Schedule {
    windows: Vec<Weekly>,
    daily: Option<Daily>,
    expiry: Weekly,
    margin_ms: u64,
    takes_ms: u64,
    grace_ms: u64,
    ibc_login: bool,
}

/// `HH:MM` or `HH:MM:SS`.
pub fn parse_clock(text: &str) -> Result<Time, String> {
    let parts: Vec<&str> = text.trim().split(':').collect();
    let number = |s: &str, max: i8| -> Option<i8> {
        (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i8>().ok())
            .flatten()
            .filter(|n| *n <= max)
    };
    let wrong = || format!("\"{text}\" is not a time of day (HH:MM or HH:MM:SS, 24-hour)");
    let (h, m, s) = match parts.as_slice() {
        [h, m] => (number(h, 23), number(m, 59), Some(0)),
        [h, m, s] => (number(h, 23), number(m, 59), number(s, 59)),
        _ => return Err(wrong()),
    };
    match (h, m, s) {
        (Some(h), Some(m), Some(s)) => Time::new(h, m, s, 0).map_err(|_| wrong()),
        _ => Err(wrong()),
    }
}

/// An IANA time zone from the bundled database; `None`: this computer's.
pub fn parse_zone(name: Option<&str>) -> Result<TimeZone, String> {
    match name.map(str::trim) {
        None | Some("") => Ok(TimeZone::system()),
        Some(name) => TimeZone::get(name).map_err(|_| {
            format!("\"{name}\" is not a time zone (an IANA name such as America/New_York)")
        }),
    }
}

fn error(field: impl Into<String>, problem: String) -> CalendarError {
    CalendarError {
        field: field.into(),
        problem,
    }
}

impl Weekly {
    fn compile(window: &ServerWindow, field: &str) -> Result<Weekly, CalendarError> {
        let kind = match window.kind {
            ServerWindowKind::ServerReset => OccurrenceKind::ServerReset,
            ServerWindowKind::WeekendMaintenance => OccurrenceKind::WeekendMaintenance,
        };
        if window.days.is_empty() {
            return Err(error(
                format!("{field}.days"),
                "names no day of the week".into(),
            ));
        }
        Ok(Weekly {
            kind,
            label: window.label.clone(),
            tz: parse_zone(Some(&window.time_zone))
                .map_err(|p| error(format!("{field}.time_zone"), p))?,
            zone_label: window.zone_label.clone(),
            days: window.days.iter().map(|d| d.weekday()).collect(),
            start: parse_clock(&window.start).map_err(|p| error(format!("{field}.start"), p))?,
            end: parse_clock(&window.end).map_err(|p| error(format!("{field}.end"), p))?,
        })
    }

    fn expiry(instant: &WeeklyInstant) -> Result<Weekly, CalendarError> {
        let time = parse_clock(&instant.time).map_err(|p| error("weekly_expiry.time", p))?;
        Ok(Weekly {
            kind: OccurrenceKind::WeeklyExpiry,
            label: "weekly re-login (2FA)".into(),
            tz: parse_zone(Some(&instant.time_zone))
                .map_err(|p| error("weekly_expiry.time_zone", p))?,
            zone_label: instant.zone_label.clone(),
            days: vec![instant.day.weekday()],
            start: time,
            end: time,
        })
    }

    /// Start and end of the occurrence that starts on `date`, if it starts that day.
    fn on(&self, date: Date) -> Option<(Timestamp, Timestamp)> {
        if !self.days.contains(&date.weekday()) {
            return None;
        }
        let start = self.tz.to_timestamp(date.to_datetime(self.start)).ok()?;
        if self.kind == OccurrenceKind::WeeklyExpiry {
            return Some((start, start));
        }
        let end_date = if self.end <= self.start {
            date.tomorrow().ok()?
        } else {
            date
        };
        let end = self.tz.to_timestamp(end_date.to_datetime(self.end)).ok()?;
        Some((start, end))
    }

    fn zone(&self, at: Timestamp) -> String {
        match &self.zone_label {
            Some(label) => label.clone(),
            None => at
                .to_zoned_datetime(self.tz.clone())
                .strftime("%Z")
                .to_string(),
        }
    }
}

fn ms(at: Timestamp) -> u64 {
    at.as_millisecond().max(0) as u64
}

fn local_date(at_ms: u64, tz: &TimeZone) -> Date {
    Timestamp::from_millisecond(at_ms as i64)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_zoned_datetime(tz.clone())
        .date()
}

/// The dates from `days_before` days before `at_ms`'s local date to `days_after` after.
fn dates_around(at_ms: u64, tz: &TimeZone, days_before: i64, days_after: i64) -> Vec<Date> {
    let today = local_date(at_ms, tz);
    (-days_before..=days_after)
        .filter_map(|n| today.checked_add(n.days()).ok())
        .collect()
}

fn hhmm(at: Timestamp, tz: &TimeZone) -> String {
    at.to_zoned_datetime(tz.clone())
        .strftime("%H:%M")
        .to_string()
}

impl Schedule {
    /// Compiles one gateway's schedule with the shared settings and the calendar data (the
    /// user's server windows replace the shipped ones for every region they name).
    pub fn compile(
        schedule: &GatewaySchedule,
        settings: &CalendarSettings,
        data: &CalendarData,
    ) -> Result<Schedule, CalendarError> {
        let mut windows = Vec::new();
        for (i, window) in settings.server_windows.iter().enumerate() {
            let compiled = Weekly::compile(window, &format!("server_windows[{i}]"))?;
            if schedule.region.is_some_and(|r| window.regions.contains(&r)) {
                windows.push(compiled);
            }
        }
        let overridden = |window: &ServerWindow| {
            window.regions.iter().any(|region| {
                settings
                    .server_windows
                    .iter()
                    .any(|user| user.regions.contains(region))
            })
        };
        for (i, window) in data.windows.iter().enumerate() {
            let compiled = Weekly::compile(window, &format!("windows[{i}]"))?;
            if schedule.region.is_some_and(|r| window.regions.contains(&r)) && !overridden(window) {
                windows.push(compiled);
            }
        }
        let daily = match schedule.daily.action {
            DailyAction::None => None,
            action => Some(Daily {
                action,
                tz: parse_zone(schedule.daily.time_zone.as_deref())
                    .map_err(|p| error("daily.time_zone", p))?,
                time: parse_clock(&schedule.daily.time).map_err(|p| error("daily.time", p))?,
            }),
        };
        Ok(Schedule {
            windows,
            daily,
            expiry: Weekly::expiry(&data.weekly_expiry)?,
            margin_ms: u64::from(settings.margin_secs) * 1000,
            takes_ms: u64::from(settings.restart_takes_secs) * 1000,
            grace_ms: u64::from(settings.grace_secs) * 1000,
            ibc_login: schedule.ibc.manages_login,
        })
    }

    /// The expected outage that covers `at_ms` (start less the margin to end plus the
    /// margin), if any; the gateway's own restart or log-off first, as it explains a drop
    /// best, then the server windows.
    pub fn outage_at(&self, at_ms: u64) -> Option<Occurrence> {
        self.occurrences(at_ms, 2, 1)
            .into_iter()
            .filter(|o| o.expected_from_ms <= at_ms && at_ms < o.expected_until_ms)
            .min_by_key(|o| (!o.is_gateways_own(), o.starts_ms))
    }

    /// What comes next, soonest first: each kind's first occurrence that has not ended by
    /// `at_ms` (the daily restart or log-off, each server window, the weekly expiry).
    pub fn upcoming(&self, at_ms: u64) -> Vec<Occurrence> {
        let mut firsts: Vec<Occurrence> = Vec::new();
        for occurrence in self.occurrences(at_ms, 1, 8) {
            let end = occurrence.ends_ms.unwrap_or(occurrence.starts_ms);
            if end < at_ms {
                continue;
            }
            match firsts
                .iter_mut()
                .find(|o| o.kind == occurrence.kind && o.label == occurrence.label)
            {
                Some(first) if first.starts_ms <= occurrence.starts_ms => {}
                Some(first) => *first = occurrence,
                None => firsts.push(occurrence),
            }
        }
        if !self.restarts_daily() {
            firsts.retain(|o| o.kind != OccurrenceKind::WeeklyExpiry);
        }
        firsts.sort_by_key(|o| o.starts_ms);
        firsts
    }

    /// The weekly token expiry at or after `at_ms`.
    pub fn next_expiry_ms(&self, at_ms: u64) -> Option<u64> {
        dates_around(at_ms, &self.expiry.tz, 0, 8)
            .into_iter()
            .filter_map(|date| self.expiry.on(date))
            .map(|(start, _)| ms(start))
            .find(|start| *start >= at_ms)
    }

    /// Whether this gateway restarts by itself (and so needs a 2FA approval once a week).
    pub fn restarts_daily(&self) -> bool {
        self.daily
            .as_ref()
            .is_some_and(|d| d.action == DailyAction::Restart)
    }

    /// The weekly expiry at or before `at_ms`.
    fn last_expiry_ms(&self, at_ms: u64) -> Option<u64> {
        dates_around(at_ms, &self.expiry.tz, 8, 0)
            .into_iter()
            .filter_map(|date| self.expiry.on(date))
            .map(|(start, _)| ms(start))
            .filter(|start| *start <= at_ms)
            .max()
    }

    fn daily_at(&self, daily: &Daily, date: Date) -> Option<u64> {
        daily
            .tz
            .to_timestamp(date.to_datetime(daily.time))
            .ok()
            .map(ms)
    }

    /// Every occurrence starting on the local dates from `before` days before `at_ms` to
    /// `after` days after (in each event's own zone).
    fn occurrences(&self, at_ms: u64, before: i64, after: i64) -> Vec<Occurrence> {
        let mut out = Vec::new();
        for window in self.windows.iter().chain([&self.expiry]) {
            for date in dates_around(at_ms, &window.tz, before, after) {
                if let Some((start, end)) = window.on(date) {
                    out.push(self.weekly_occurrence(window, start, end));
                }
            }
        }
        if let Some(daily) = &self.daily {
            for date in dates_around(at_ms, &daily.tz, before, after) {
                let Some(start) = self.daily_at(daily, date) else {
                    continue;
                };
                let previous = date.yesterday().ok().and_then(|d| self.daily_at(daily, d));
                out.push(self.daily_occurrence(daily, start, previous));
            }
        }
        out
    }

    fn weekly_occurrence(&self, window: &Weekly, start: Timestamp, end: Timestamp) -> Occurrence {
        let instant = window.kind == OccurrenceKind::WeeklyExpiry;
        let local = if instant {
            format!(
                "{} {} {}",
                start.to_zoned_datetime(window.tz.clone()).strftime("%a"),
                hhmm(start, &window.tz),
                window.zone(start)
            )
        } else {
            format!(
                "{}–{} {}",
                hhmm(start, &window.tz),
                hhmm(end, &window.tz),
                window.zone(start)
            )
        };
        let (start, end) = (ms(start), ms(end));
        Occurrence {
            kind: window.kind,
            label: window.label.clone(),
            starts_ms: start,
            ends_ms: (!instant).then_some(end),
            expected_from_ms: if instant {
                start
            } else {
                start.saturating_sub(self.margin_ms)
            },
            expected_until_ms: if instant { start } else { end + self.margin_ms },
            overdue_at_ms: (!instant).then_some(end + self.margin_ms + self.grace_ms),
            needs_2fa: false,
            ibc_login: self.ibc_login,
            local,
        }
    }

    fn daily_occurrence(&self, daily: &Daily, start: u64, previous: Option<u64>) -> Occurrence {
        let at = Timestamp::from_millisecond(start as i64).unwrap_or(Timestamp::UNIX_EPOCH);
        let zoned = at.to_zoned_datetime(daily.tz.clone());
        let local = format!("{} {}", zoned.strftime("%a %H:%M"), zoned.strftime("%Z"));
        match daily.action {
            DailyAction::LogOff => Occurrence {
                kind: OccurrenceKind::AutoLogOff,
                label: "auto log off".into(),
                starts_ms: start,
                ends_ms: None,
                expected_from_ms: start.saturating_sub(self.margin_ms),
                expected_until_ms: start + self.margin_ms,
                overdue_at_ms: None,
                needs_2fa: false,
                ibc_login: self.ibc_login,
                local,
            },
            _ => {
                // The first restart after the weekly expiry needs the full login.
                let needs_2fa = self.last_expiry_ms(start).is_some_and(|expiry| {
                    expiry > start.saturating_sub(36 * 3_600_000)
                        && previous.is_none_or(|previous| previous < expiry)
                });
                let end = start + self.takes_ms;
                Occurrence {
                    kind: OccurrenceKind::DailyRestart,
                    label: if needs_2fa {
                        "weekly re-login restart".into()
                    } else {
                        "nightly restart".into()
                    },
                    starts_ms: start,
                    ends_ms: Some(end),
                    expected_from_ms: start.saturating_sub(self.margin_ms),
                    expected_until_ms: end + self.margin_ms,
                    overdue_at_ms: Some(end + self.margin_ms + self.grace_ms),
                    needs_2fa,
                    ibc_login: self.ibc_login,
                    local,
                }
            }
        }
    }
}

/// `HH:MM` of an epoch-ms instant on this computer's clock.
pub fn local_hhmm(at_ms: u64) -> String {
    hhmm(
        Timestamp::from_millisecond(at_ms as i64).unwrap_or(Timestamp::UNIX_EPOCH),
        &TimeZone::system(),
    )
}

impl Occurrence {
    /// When it should be over, for people, on this computer's clock with its zone: "back by
    /// 23:48 CET" (seconds only when the time has them: "back by 11:42:27 UTC"), or "down
    /// until someone starts it again" for an auto log off.
    pub fn back_by(&self) -> String {
        match self.ends_ms {
            Some(end) if self.kind != OccurrenceKind::WeeklyExpiry => {
                let at = Timestamp::from_millisecond(end as i64)
                    .unwrap_or(Timestamp::UNIX_EPOCH)
                    .to_zoned_datetime(TimeZone::system());
                let format = if at.second() == 0 {
                    "%H:%M %Z"
                } else {
                    "%H:%M:%S %Z"
                };
                format!("back by {}", at.strftime(format))
            }
            _ => "down until someone starts it again".into(),
        }
    }

    /// What probably happened when the gateway is not back after this, and what to do.
    pub fn overdue_advice(&self) -> String {
        match self.kind {
            OccurrenceKind::DailyRestart if self.needs_2fa && self.ibc_login => format!(
                "the gateway did not come back after its {}: a 2FA approval is probably waiting on your phone (IBC is logging in)",
                self.label
            ),
            OccurrenceKind::DailyRestart if self.needs_2fa => format!(
                "the gateway did not come back after its {}: log in again, and a 2FA approval is probably waiting on your phone",
                self.label
            ),
            OccurrenceKind::DailyRestart | OccurrenceKind::AutoLogOff => format!(
                "the gateway did not come back after its {}: check that it is running and logged in",
                self.label
            ),
            OccurrenceKind::RequestedRestart => format!(
                "the gateway did not come back after the {}: check that it is running and logged in",
                self.label
            ),
            OccurrenceKind::ServerReset
            | OccurrenceKind::WeekendMaintenance
            | OccurrenceKind::WeeklyExpiry => format!(
                "the gateway is still not back after the {} ({}): check its link to IB, and restart it if it does not recover",
                self.label, self.local
            ),
        }
    }
}
