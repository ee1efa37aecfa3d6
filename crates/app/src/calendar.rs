//! The calendar as the window and the reminders see it: each watched gateway's compiled
//! schedule (rebuilt when the settings change), what comes next for it, and who needs the
//! weekly 2FA re-login. The supervisors decide expected states themselves; this is only
//! for showing and reminding.

use std::collections::BTreeMap;

use gatewatch_alerts::{ReloginDue, WeeklyExpiry};
use gatewatch_settings::Settings;
use gatewatch_supervisor::calendar::{Occurrence, OccurrenceKind, Schedule};

/// How long a computed "what's next" list is reused, ms.
const UPCOMING_FRESH_MS: u64 = 30_000;

struct Entry {
    name: String,
    schedule: Schedule,
    /// The last "what's next" and until when it holds.
    upcoming: Option<(u64, Vec<Occurrence>)>,
}

/// The watched gateways' schedules.
#[derive(Default)]
pub struct Calendars {
    gateways: BTreeMap<String, Entry>,
}

impl Calendars {
    /// Compiles the schedules of the enabled profiles (a schedule that does not compile was
    /// refused by validation; it is left out).
    pub fn from_settings(settings: &Settings) -> Self {
        let mut gateways = BTreeMap::new();
        for profile in settings.enabled_profiles() {
            let config = settings.supervisor_config(profile);
            if let Some(Ok(schedule)) = config.calendar.as_ref().map(|c| c.compile()) {
                gateways.insert(
                    profile.id.clone(),
                    Entry {
                        name: profile.name.clone(),
                        schedule,
                        upcoming: None,
                    },
                );
            }
        }
        Self { gateways }
    }

    /// What comes next for gateway `id`, soonest first.
    pub fn upcoming(&mut self, id: &str, now_ms: u64) -> Vec<Occurrence> {
        let Some(entry) = self.gateways.get_mut(id) else {
            return Vec::new();
        };
        if let Some((until, list)) = &entry.upcoming
            && now_ms < *until
        {
            return list.clone();
        }
        let list = entry.schedule.upcoming(now_ms);
        let first_change = list
            .iter()
            .map(|o| {
                if o.starts_ms > now_ms {
                    o.starts_ms
                } else {
                    o.ends_ms.unwrap_or(o.starts_ms)
                }
            })
            .min()
            .unwrap_or(u64::MAX);
        entry.upcoming = Some(((now_ms + UPCOMING_FRESH_MS).min(first_change), list.clone()));
        list
    }

    /// The expected outage of gateway `id` that covers `now_ms` (margins included), if any.
    pub fn outage_at(&self, id: &str, now_ms: u64) -> Option<Occurrence> {
        self.gateways.get(id)?.schedule.outage_at(now_ms)
    }

    /// The next weekly expiry and every gateway whose restart after it needs a 2FA approval.
    pub fn relogin_due(&mut self, now_ms: u64) -> Option<(WeeklyExpiry, Vec<ReloginDue>)> {
        let ids: Vec<String> = self.gateways.keys().cloned().collect();
        let mut expiry = None;
        let mut due = Vec::new();
        for id in ids {
            let upcoming = self.upcoming(&id, now_ms);
            let entry = &self.gateways[&id];
            if !entry.schedule.restarts_daily() {
                continue;
            }
            let Some(next) = upcoming
                .iter()
                .find(|o| o.kind == OccurrenceKind::WeeklyExpiry)
            else {
                continue;
            };
            expiry.get_or_insert(WeeklyExpiry {
                at_ms: next.starts_ms,
                local: next.local.clone(),
            });
            if let Some(restart) = upcoming.iter().find(|o| o.needs_2fa) {
                due.push(ReloginDue {
                    name: entry.name.clone(),
                    restart_local: restart.local.clone(),
                });
            }
        }
        expiry.map(|expiry| (expiry, due))
    }
}
