//! Whether a bad spell is one the calendar expects: a planned restart or a server reset turns
//! the machine's state into [`ConnectionState::ScheduledRestart`] or
//! [`ConnectionState::ServerReset`], and one that outlasts its window and grace time into
//! [`ConnectionState::Overdue`].
//!
//! A spell is judged when it begins: a gateway that went down at 23:30 is not excused by the
//! 23:45 restart window it runs into, and one that went down at 23:45 stays excused after a
//! retry or two. A connection only degraded (slow, a farm broken) that then drops inside a
//! window starts a spell of its own, as the drop is what the window explains. Pure: the wall
//! clock comes in as an argument, so tests control it.

use gatewatch_calendar::{Occurrence, OccurrenceKind, Schedule};

use crate::state::ConnectionState;

#[derive(Debug, Clone)]
struct Spell {
    /// The link went down (not only degraded) during the spell.
    down: bool,
    /// The outage the calendar expected when the spell began.
    outage: Option<Occurrence>,
}

/// The calendar's view of the current bad spell.
#[derive(Debug, Clone, Default)]
pub struct Expectation {
    schedule: Option<Schedule>,
    /// An outage announced from outside the calendar (a soft restart the user asked for).
    announced: Option<Occurrence>,
    spell: Option<Spell>,
}

impl Expectation {
    /// No schedule: nothing is ever expected.
    pub fn new(schedule: Option<Schedule>) -> Self {
        Self {
            schedule,
            announced: None,
            spell: None,
        }
    }

    /// Expects `outage` (a soft restart the user just asked for) as the calendar's own: a
    /// spell that begins inside it is expected, and overdue after it.
    pub fn announce(&mut self, outage: Occurrence) {
        self.announced = Some(outage);
    }

    /// The outage expected at `now_ms`: an announced one first, then the calendar's.
    fn outage_at(&mut self, now_ms: u64) -> Option<Occurrence> {
        if self
            .announced
            .as_ref()
            .is_some_and(|o| now_ms >= o.expected_until_ms)
        {
            self.announced = None;
        }
        let announced = self
            .announced
            .clone()
            .filter(|o| o.expected_from_ms <= now_ms);
        announced.or_else(|| self.schedule.as_ref()?.outage_at(now_ms))
    }

    /// The state to publish for the machine's `state` at wall time `now_ms`.
    pub fn publish(&mut self, state: ConnectionState, now_ms: u64) -> ConnectionState {
        if self.schedule.is_none() && self.announced.is_none() && self.spell.is_none() {
            return state;
        }
        let down = match state {
            ConnectionState::Connected(_)
            | ConnectionState::Stopped
            | ConnectionState::Paused { .. } => {
                self.spell = None;
                return state;
            }
            ConnectionState::Degraded { .. } => false,
            _ => true,
        };
        // A spell only degraded that then goes down starts again, judged now: unexpected
        // degradation that drops inside a window is the window's; an expected one (1100 in
        // the reset) that drops after its window is a new problem.
        let begins = match &self.spell {
            None => true,
            Some(spell) => {
                down && !spell.down
                    && spell
                        .outage
                        .as_ref()
                        .is_none_or(|o| now_ms >= o.expected_until_ms)
            }
        };
        if begins {
            let outage = self.outage_at(now_ms);
            self.spell = Some(Spell { down, outage });
        }
        let Some(spell) = &mut self.spell else {
            return state;
        };
        spell.down |= down;
        let Some(outage) = spell.outage.clone() else {
            return state;
        };
        let connection = Box::new(state);
        if outage.overdue_at_ms.is_some_and(|at| now_ms >= at) {
            return ConnectionState::Overdue { outage, connection };
        }
        match outage.kind {
            OccurrenceKind::DailyRestart
            | OccurrenceKind::AutoLogOff
            | OccurrenceKind::RequestedRestart => {
                ConnectionState::ScheduledRestart { outage, connection }
            }
            _ => ConnectionState::ServerReset { outage, connection },
        }
    }

    /// When, after `now_ms`, the published state next changes by the clock alone (an
    /// expected spell becoming overdue), epoch ms; `None` when nothing is pending (a deadline
    /// already passed is not one, or the actor would wake up in a loop).
    pub fn deadline_ms(&self, now_ms: u64) -> Option<u64> {
        self.spell
            .as_ref()
            .and_then(|spell| spell.outage.as_ref())
            .and_then(|outage| outage.overdue_at_ms)
            .filter(|at| *at > now_ms)
    }
}

#[cfg(test)]
mod tests {
    use gatewatch_calendar::{
        CalendarData, CalendarSettings, DailyAction, DailyRestart, GatewaySchedule, Region,
    };
    use gatewatch_protocol::Encoding;
    use jiff::Timestamp;

    use super::*;
    use crate::state::{DegradedReason, SessionInfo};

    fn at(utc: &str) -> u64 {
        utc.parse::<Timestamp>().unwrap().as_millisecond() as u64
    }

    /// North America servers; the gateway restarts at 23:45 New York time; margin 2 min,
    /// a restart takes 3 min, grace 3 min.
    fn expectation() -> Expectation {
        let schedule = Schedule::compile(
            &GatewaySchedule {
                region: Some(Region::NorthAmerica),
                daily: DailyRestart {
                    action: DailyAction::Restart,
                    time: "23:45".into(),
                    time_zone: Some("America/New_York".into()),
                },
                ..GatewaySchedule::default()
            },
            &CalendarSettings::default(),
            &CalendarData::shipped(),
        )
        .unwrap();
        Expectation::new(Some(schedule))
    }

    fn session() -> SessionInfo {
        SessionInfo {
            server_version: 213,
            encoding: Encoding::Protobuf,
            accounts: vec!["DU1".into()],
            client_id: 901,
            since_ms: 0,
            stage_us: Default::default(),
        }
    }

    fn connected() -> ConnectionState {
        ConnectionState::Connected(session())
    }

    fn reconnecting(attempt: u32) -> ConnectionState {
        ConnectionState::Reconnecting {
            attempt,
            next_try_ms: 0,
        }
    }

    fn degraded(reason: DegradedReason) -> ConnectionState {
        ConnectionState::Degraded {
            session: session(),
            reasons: vec![reason],
        }
    }

    // Tue 17 Nov 2026, EST: 23:45 ET is 04:45 UTC on the 18th.

    #[test]
    fn a_drop_in_the_restart_window_is_expected_and_ends_when_the_gateway_is_back() {
        let mut e = expectation();
        assert_eq!(
            e.publish(connected(), at("2026-11-18T04:40:00Z")).name(),
            "connected"
        );
        let state = e.publish(reconnecting(1), at("2026-11-18T04:45:10Z"));
        assert_eq!(state.name(), "scheduled_restart");
        let (outage, underneath) = state.outage().unwrap();
        assert_eq!(outage.label, "nightly restart");
        assert_eq!(outage.ends_ms, Some(at("2026-11-18T04:48:00Z")));
        assert_eq!(underneath, &reconnecting(1));
        // Retries do not change the state people see.
        let later = e.publish(reconnecting(4), at("2026-11-18T04:47:00Z"));
        assert!(later.same_as(&state), "a retry is not news");
        assert_eq!(
            e.publish(connected(), at("2026-11-18T04:47:30Z")).name(),
            "connected"
        );
        assert_eq!(e.deadline_ms(at("2026-11-18T04:47:30Z")), None);
    }

    #[test]
    fn not_back_by_the_end_and_grace_is_overdue_once() {
        let mut e = expectation();
        e.publish(reconnecting(1), at("2026-11-18T04:45:10Z"));
        // Window 04:43–04:50 with the margins; overdue from 04:53.
        assert_eq!(
            e.deadline_ms(at("2026-11-18T04:45:10Z")),
            Some(at("2026-11-18T04:53:00Z"))
        );
        let grace = e.publish(reconnecting(9), at("2026-11-18T04:52:59Z"));
        assert_eq!(grace.name(), "scheduled_restart", "still within the grace");
        let overdue = e.publish(reconnecting(10), at("2026-11-18T04:53:00Z"));
        assert_eq!(overdue.name(), "overdue");
        assert!(
            overdue
                .outage()
                .unwrap()
                .0
                .overdue_advice()
                .contains("did not come back after its nightly restart"),
        );
        let still = e.publish(reconnecting(30), at("2026-11-18T05:30:00Z"));
        assert!(
            still.same_as(&overdue),
            "one overdue state, not one per retry"
        );
        // Even inside the server reset that follows: the spell began long before.
        assert_eq!(
            e.publish(reconnecting(31), at("2026-11-18T05:20:00Z"))
                .name(),
            "overdue"
        );
    }

    #[test]
    fn the_sunday_restart_overdue_points_at_the_phone() {
        let mut e = expectation();
        // Sun 22 Nov 2026 23:45 EST = 04:45 UTC Monday: the first restart after the expiry.
        e.publish(reconnecting(1), at("2026-11-23T04:45:30Z"));
        let overdue = e.publish(reconnecting(9), at("2026-11-23T04:54:00Z"));
        let (outage, _) = overdue.outage().unwrap();
        assert!(outage.needs_2fa);
        assert!(
            outage
                .overdue_advice()
                .contains("2FA approval is probably waiting on your phone"),
            "{}",
            outage.overdue_advice()
        );
    }

    #[test]
    fn an_ib_link_lost_in_the_reset_window_is_expected_and_at_two_pm_it_is_not() {
        let mut e = expectation();
        // 00:20 ET (EST) = 05:20 UTC on a Wednesday.
        let reset = e.publish(
            degraded(DegradedReason::IbLinkLost),
            at("2026-11-18T05:20:00Z"),
        );
        assert_eq!(reset.name(), "server_reset");
        assert_eq!(reset.outage().unwrap().0.local, "00:15–01:45 ET");
        assert_eq!(
            e.publish(connected(), at("2026-11-18T05:25:00Z")).name(),
            "connected"
        );
        // 14:00 ET = 19:00 UTC.
        let afternoon = e.publish(
            degraded(DegradedReason::IbLinkLost),
            at("2026-11-18T19:00:00Z"),
        );
        assert_eq!(afternoon, degraded(DegradedReason::IbLinkLost));
    }

    #[test]
    fn an_expected_ib_link_loss_that_drops_after_its_window_is_a_new_problem() {
        let mut e = expectation();
        // 1100 at 00:20 ET (05:20 UTC), inside the reset; still lost at 01:50 ET, and then the
        // connection drops: the window (with its 2 min margin) ended at 01:47.
        let lost = degraded(DegradedReason::IbLinkLost);
        assert_eq!(
            e.publish(lost.clone(), at("2026-11-18T05:20:00Z")).name(),
            "server_reset"
        );
        assert_eq!(
            e.publish(lost, at("2026-11-18T06:46:00Z")).name(),
            "server_reset"
        );
        assert_eq!(
            e.publish(reconnecting(1), at("2026-11-18T06:50:00Z"))
                .name(),
            "reconnecting"
        );
        // Still cut off past the window and grace, but up: the advice says so.
        let mut e = expectation();
        e.publish(
            degraded(DegradedReason::IbLinkLost),
            at("2026-11-18T05:20:00Z"),
        );
        let overdue = e.publish(
            degraded(DegradedReason::IbLinkLost),
            at("2026-11-18T06:51:00Z"),
        );
        assert_eq!(overdue.name(), "overdue");
        assert_eq!(
            overdue.outage_phrase().unwrap(),
            "the gateway is up but still not well after the North America server reset (00:15–01:45 ET): the gateway lost its connection to IB (1100); check its link to IB, and restart it if it does not recover"
        );
        // Inside its window, the same drop stays the window's.
        let mut e = expectation();
        e.publish(
            degraded(DegradedReason::IbLinkLost),
            at("2026-11-18T05:20:00Z"),
        );
        assert_eq!(
            e.publish(reconnecting(1), at("2026-11-18T05:30:00Z"))
                .name(),
            "server_reset"
        );
    }

    #[test]
    fn a_spell_that_began_outside_a_window_is_not_excused_by_one() {
        let mut e = expectation();
        assert_eq!(
            e.publish(reconnecting(1), at("2026-11-18T04:30:00Z"))
                .name(),
            "reconnecting"
        );
        assert_eq!(
            e.publish(reconnecting(5), at("2026-11-18T04:46:00Z"))
                .name(),
            "reconnecting",
            "down since 23:30 ET: the 23:45 restart does not explain it"
        );
        // A slow gateway that drops inside the window: the drop is the restart.
        let mut e = expectation();
        e.publish(
            degraded(DegradedReason::SlowPings { p50_us: 600_000 }),
            at("2026-11-18T04:30:00Z"),
        );
        assert_eq!(
            e.publish(reconnecting(1), at("2026-11-18T04:45:05Z"))
                .name(),
            "scheduled_restart"
        );
    }

    #[test]
    fn a_soft_restart_the_user_asked_for_is_expected_without_any_schedule() {
        let mut e = Expectation::new(None);
        let asked = at("2026-11-18T15:00:00Z");
        let settings = CalendarSettings::default();
        e.announce(Occurrence::requested_restart(asked, &settings));
        assert_eq!(e.publish(connected(), asked).name(), "connected");
        // IBC restarts the gateway a minute or two later.
        let state = e.publish(reconnecting(1), at("2026-11-18T15:01:40Z"));
        assert_eq!(state.name(), "scheduled_restart");
        assert_eq!(
            state.outage().unwrap().0.label,
            "soft restart you asked for"
        );
        assert_eq!(
            e.publish(connected(), at("2026-11-18T15:03:00Z")).name(),
            "connected"
        );
        // Long after it, a drop is a drop again.
        assert_eq!(
            e.publish(reconnecting(1), at("2026-11-18T16:00:00Z"))
                .name(),
            "reconnecting"
        );
    }

    #[test]
    fn without_a_schedule_nothing_is_expected() {
        let mut e = Expectation::new(None);
        assert_eq!(
            e.publish(reconnecting(1), at("2026-11-18T04:45:10Z")),
            reconnecting(1)
        );
    }
}
