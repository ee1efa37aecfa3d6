//! Incidents: one row per bad spell of a gateway, from its first bad state to connected again,
//! with its kind, cause, the handshake stage that failed, the notices seen, and whether the
//! calendar expected it. Built from the supervisor's events alone, so the app and the
//! headless service record the same incidents.
//!
//! A spell that changes what it is becomes two incidents, one ending where the other begins:
//! degraded then down (the outage is downtime, the slowness before it is not), unexpected then
//! expected (a sick gateway restarted in its window), expected then overdue (the part inside
//! the window stays expected). A drop's incident starts at the drop, not at the first failed
//! reconnect.

use gatewatch_protocol::notice::NoticeCategory;
use gatewatch_protocol::{ErrorCode, Stage};
use gatewatch_supervisor::state::DegradedReason;
use gatewatch_supervisor::{ConnectionState, EventKind, SupervisorEvent};

use crate::IncidentRow;

/// Hands out incident ids, unique across gateways (start from the database's largest).
#[derive(Debug, Clone, Default)]
pub struct IncidentIds {
    next: i64,
}

impl IncidentIds {
    /// Ids after `largest` (the largest in the database, 0 when empty).
    pub fn after(largest: i64) -> Self {
        Self { next: largest + 1 }
    }

    fn take(&mut self) -> i64 {
        let id = self.next.max(1);
        self.next = id + 1;
        id
    }
}

/// One gateway's open incident, if any, and what the next one starts from.
#[derive(Debug, Clone)]
pub struct IncidentTracker {
    gateway: String,
    open: Option<IncidentRow>,
    /// The last drop not yet in an incident: when, and the worker's message. It comes before
    /// the state that opens the incident.
    dropped: Option<(u64, String)>,
    /// Notices of the last seconds while nothing was open (the 2103 that makes a gateway
    /// degraded comes before the state does).
    recent_notices: Vec<(u64, i32)>,
    /// When the first connect attempt at start began, while it runs: a gateway already down
    /// when watching begins is down from then, not from the attempt's timeout.
    first_attempt_ms: Option<u64>,
    /// A failed attempt before any incident was open (the first one at start): it says what
    /// the incident that opens next is.
    failed_before: Option<gatewatch_protocol::WorkerError>,
}

/// How far back a notice still belongs to the incident that opens.
const NOTICE_LOOKBACK_MS: u64 = 10_000;

/// What a bad state is as an incident.
struct Spell {
    kind: &'static str,
    outage: Option<String>,
    expected: bool,
    /// Why, for a degraded connection (the reasons); a drop's cause comes from the drop.
    cause: Option<String>,
}

impl Spell {
    fn down() -> Self {
        Spell {
            kind: "down",
            outage: None,
            expected: false,
            cause: None,
        }
    }
}

/// Down and zombie are one spell (a zombie is a down gateway whose handshake goes unanswered).
fn family(kind: &str) -> &str {
    match kind {
        "zombie" => "down",
        other => other,
    }
}

/// A handshake stage's name as the database, the exports and the metrics label it.
pub fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::TcpConnect => "tcp_connect",
        Stage::VersionExchange => "version_exchange",
        Stage::StartApi => "start_api",
        Stage::FirstPing => "first_ping",
    }
}

/// The incident a bad state is; `None` for a state that is not one (a first attempt is
/// decided by the caller: it is one only after a drop).
fn spell_of(state: &ConnectionState) -> Option<Spell> {
    Some(match state {
        ConnectionState::Connected(_)
        | ConnectionState::Stopped
        | ConnectionState::Paused { .. }
        | ConnectionState::Connecting { attempt: 1, .. } => return None,
        ConnectionState::ScheduledRestart { outage, connection }
        | ConnectionState::ServerReset { outage, connection } => Spell {
            outage: Some(outage.label.clone()),
            expected: true,
            ..spell_of(connection).unwrap_or_else(Spell::down)
        },
        ConnectionState::Overdue { outage, connection } => Spell {
            outage: Some(outage.label.clone()),
            expected: false,
            ..spell_of(connection).unwrap_or_else(Spell::down)
        },
        ConnectionState::Degraded { reasons, .. } => Spell {
            kind: if reasons.contains(&DegradedReason::IbLinkLost) {
                "ib_link_lost"
            } else {
                "degraded"
            },
            outage: None,
            expected: false,
            cause: Some(DegradedReason::join(reasons)),
        },
        ConnectionState::Connecting { .. }
        | ConnectionState::Reconnecting { .. }
        | ConnectionState::CircuitOpen { .. } => Spell::down(),
    })
}

/// What a failed connect or probe says a down gateway is: `zombie` when its port accepts
/// but the handshake goes unanswered, `down` otherwise (refused, or stalled later).
pub fn failure_kind(error: &gatewatch_protocol::WorkerError) -> &'static str {
    if error.code == ErrorCode::HandshakeTimeout && error.stage == Some(Stage::VersionExchange) {
        "zombie"
    } else {
        "down"
    }
}

/// What an incident that ended without a recovery says: its end is where watching stopped.
pub const UNWATCHED: &str = "not watched to its end (Gatewatch stopped or paused)";

fn with_note(cause: &str, note: &str) -> String {
    if cause.is_empty() {
        note.to_owned()
    } else {
        format!("{cause}; {note}")
    }
}

/// Ends the incidents a previous run left open (it was killed, or the computer lost power):
/// each where that run last wrote that it was watching the gateway (every 2 s), or at its
/// last event, saying it was not watched to its end. Returns how many.
pub fn close_abandoned(connection: &rusqlite::Connection) -> rusqlite::Result<usize> {
    connection.execute(
        "UPDATE incidents SET
             ended_ms = max(started_ms,
                 coalesce((SELECT max(until_ms) FROM watched w WHERE w.gateway = incidents.gateway), 0),
                 coalesce((SELECT max(at_ms) FROM events e WHERE e.gateway = incidents.gateway), 0)),
             cause = CASE WHEN cause = '' THEN ?1 ELSE cause || '; ' || ?1 END
         WHERE ended_ms IS NULL",
        [UNWATCHED],
    )
}

impl IncidentTracker {
    /// A tracker for gateway `gateway` with nothing open.
    pub fn new(gateway: &str) -> Self {
        Self {
            gateway: gateway.to_owned(),
            open: None,
            dropped: None,
            recent_notices: Vec::new(),
            first_attempt_ms: None,
            failed_before: None,
        }
    }

    /// The open incident, if any.
    pub fn open(&self) -> Option<&IncidentRow> {
        self.open.as_ref()
    }

    /// Watching ends at `at_ms` (the app quits): the open incident, if any, ends there, saying
    /// it was not watched to its end.
    pub fn stop_watching(&mut self, at_ms: u64) -> Option<IncidentRow> {
        self.state(
            &ConnectionState::Stopped,
            at_ms,
            &mut IncidentIds::default(),
        )
        .pop()
    }

    /// Takes in one event; returns the incident rows to write: one that opened, changed or
    /// ended, or one ended and the next opened where a spell changed what it is.
    pub fn observe(&mut self, event: &SupervisorEvent, ids: &mut IncidentIds) -> Vec<IncidentRow> {
        match &event.kind {
            EventKind::Disconnected { message, .. } => {
                self.dropped = Some((event.at_ms, message.clone()));
                Vec::new()
            }
            EventKind::ConnectFailed { error, .. } | EventKind::ProbeFailed { error } => {
                self.failed(error, event.at_ms, ids)
            }
            EventKind::Notice(notice) => {
                let Some(open) = self.open.as_mut() else {
                    self.recent_notices
                        .retain(|(at, _)| at + NOTICE_LOOKBACK_MS >= event.at_ms);
                    self.recent_notices.push((event.at_ms, notice.code));
                    return Vec::new();
                };
                // The farms greeting a reconnect are not part of an outage.
                let greeting = matches!(
                    notice.category,
                    NoticeCategory::FarmOk
                        | NoticeCategory::FarmInactive
                        | NoticeCategory::FarmConnecting
                );
                if family(&open.kind) == "down" && greeting {
                    return Vec::new();
                }
                if add_notice(&mut open.notices, notice.code) {
                    vec![open.clone()]
                } else {
                    Vec::new()
                }
            }
            EventKind::StateChanged { state } => self.state(state, event.at_ms, ids),
            _ => Vec::new(),
        }
    }

    fn state(
        &mut self,
        state: &ConnectionState,
        at_ms: u64,
        ids: &mut IncidentIds,
    ) -> Vec<IncidentRow> {
        let first_attempt = matches!(state, ConnectionState::Connecting { attempt: 1, .. });
        let spell = match spell_of(state) {
            // The first attempt after a drop is the drop's spell; at start it is nothing yet.
            None if first_attempt && self.dropped.is_some() => Spell::down(),
            None if first_attempt => {
                self.first_attempt_ms.get_or_insert(at_ms);
                return Vec::new();
            }
            None => {
                self.dropped = None;
                self.first_attempt_ms = None;
                self.failed_before = None;
                self.recent_notices.clear();
                let Some(mut closed) = self.open.take() else {
                    return Vec::new();
                };
                closed.ended_ms = Some(at_ms);
                // Stopped or paused is where the watching ended, not a recovery: say so.
                if !matches!(state, ConnectionState::Connected(_)) {
                    closed.cause = with_note(&closed.cause, UNWATCHED);
                }
                return vec![closed];
            }
            Some(spell) => spell,
        };
        // A down spell starts at the drop that caused it, or when watching began if the
        // gateway was never reached.
        let first_attempt_ms = self.first_attempt_ms.take();
        let starts_ms = match (&self.dropped, first_attempt_ms) {
            (Some((dropped_ms, _)), _) if spell.kind == "down" => (*dropped_ms).min(at_ms),
            (None, Some(first)) if spell.kind == "down" => first.min(at_ms),
            _ => at_ms,
        };
        let mut rows = Vec::new();
        if let Some(open) = &mut self.open {
            let same = family(&open.kind) == family(spell.kind)
                && open.expected == spell.expected
                && (spell.outage.is_none() || open.outage == spell.outage);
            if same {
                return Vec::new();
            }
            let mut closed = self.open.take().expect("checked above");
            closed.ended_ms = Some(starts_ms.max(closed.started_ms));
            rows.push(closed);
        }
        // Its cause: the drop's, the degraded reasons, or, for a spell that only turned
        // expected or overdue, the one it continues.
        let continued = rows
            .last()
            .filter(|closed| family(&closed.kind) == family(spell.kind));
        let (cause, stage) = match (&self.dropped, spell.kind) {
            (Some(_), "down") => (self.dropped.take().map(|(_, message)| message), None),
            _ if spell.cause.is_some() => (spell.cause, None),
            _ => (
                continued.map(|c| c.cause.clone()),
                continued.and_then(|c| c.stage.clone()),
            ),
        };
        let kind = match continued {
            Some(c) if c.kind == "zombie" => "zombie",
            _ => spell.kind,
        };
        let mut notices = String::new();
        for (at, code) in self.recent_notices.drain(..) {
            if at + NOTICE_LOOKBACK_MS >= starts_ms {
                add_notice(&mut notices, code);
            }
        }
        let row = IncidentRow {
            id: ids.take(),
            gateway: self.gateway.clone(),
            kind: kind.to_owned(),
            started_ms: starts_ms,
            ended_ms: None,
            cause: cause.unwrap_or_default(),
            stage,
            notices,
            expected: spell.expected,
            outage: spell.outage,
            close_wait: None,
        };
        self.open = Some(row.clone());
        rows.push(row);
        if let Some(error) = self.failed_before.take()
            && family(spell.kind) == "down"
        {
            // What the attempt before it found: refines what just opened.
            if let Some(refined) = self.failed(&error, starts_ms, ids).pop() {
                rows.pop();
                rows.push(refined);
            }
        }
        rows
    }
}

impl IncidentTracker {
    /// A connect attempt or a probe failed. It says what the spell is: a gateway whose
    /// handshake goes unanswered is a zombie, one that refuses or stalls later is down. A spell
    /// that knew nothing yet takes the kind; one that was the other kind becomes two incidents.
    fn failed(
        &mut self,
        error: &gatewatch_protocol::WorkerError,
        at_ms: u64,
        ids: &mut IncidentIds,
    ) -> Vec<IncidentRow> {
        let Some(open) = self.open.as_mut() else {
            self.failed_before = Some(error.clone());
            return Vec::new();
        };
        if family(&open.kind) != "down" {
            return Vec::new();
        }
        let kind = failure_kind(error);
        let stage = error.stage.map(|s| stage_name(s).to_owned());
        if open.kind == kind || open.stage.is_none() {
            let changed = open.kind != kind || open.stage != stage || open.cause.is_empty();
            // The first failure after a drop says what the gateway does now; the drop's own
            // cause ("closed the connection") alone would pin the stage on the drop.
            if open.cause.is_empty() {
                open.cause = error.message.clone();
            } else if open.stage.is_none() && !open.cause.contains(&error.message) {
                open.cause = format!("{}; then {}", open.cause, error.message);
            }
            open.kind = kind.to_owned();
            open.stage = stage;
            return if changed {
                vec![open.clone()]
            } else {
                Vec::new()
            };
        }
        let mut closed = self.open.take().expect("checked above");
        closed.ended_ms = Some(at_ms.max(closed.started_ms));
        let next = IncidentRow {
            id: ids.take(),
            kind: kind.to_owned(),
            started_ms: at_ms.max(closed.started_ms),
            ended_ms: None,
            cause: error.message.clone(),
            stage,
            notices: String::new(),
            ..closed.clone()
        };
        self.open = Some(next.clone());
        vec![closed, next]
    }
}

/// Adds `code` to a comma-separated list unless it is there; says whether it was added.
fn add_notice(notices: &mut String, code: i32) -> bool {
    let code = code.to_string();
    if notices.split(',').any(|c| c == code) {
        return false;
    }
    if !notices.is_empty() {
        notices.push(',');
    }
    notices.push_str(&code);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatewatch_protocol::notice::Notice;
    use gatewatch_protocol::{DisconnectCause, Encoding, WorkerError};
    use gatewatch_supervisor::state::SessionInfo;

    fn event(at_ms: u64, kind: EventKind) -> SupervisorEvent {
        SupervisorEvent { at_ms, kind }
    }

    fn state(at_ms: u64, state: ConnectionState) -> SupervisorEvent {
        event(at_ms, EventKind::StateChanged { state })
    }

    fn connected() -> ConnectionState {
        ConnectionState::Connected(SessionInfo {
            server_version: 213,
            encoding: Encoding::Protobuf,
            accounts: vec![],
            client_id: 901,
            since_ms: 0,
            stage_us: Default::default(),
        })
    }

    fn reconnecting(attempt: u32) -> ConnectionState {
        ConnectionState::Reconnecting {
            attempt,
            next_try_ms: 0,
        }
    }

    #[test]
    fn a_drop_and_its_recovery_are_one_incident_with_its_cause_and_stage() {
        let (mut t, mut ids) = (IncidentTracker::new("paper"), IncidentIds::after(41));
        assert!(t.observe(&state(0, connected()), &mut ids).is_empty());
        t.observe(
            &event(
                1_000,
                EventKind::Disconnected {
                    cause: DisconnectCause::GatewayClosed,
                    message: "the gateway closed the connection".into(),
                },
            ),
            &mut ids,
        );
        let opened = t
            .observe(&state(1_001, reconnecting(1)), &mut ids)
            .pop()
            .unwrap();
        assert_eq!(
            (
                opened.id,
                opened.kind.as_str(),
                opened.started_ms,
                opened.ended_ms
            ),
            (42, "down", 1_000, None)
        );
        assert_eq!(opened.cause, "the gateway closed the connection");
        let failed = WorkerError::at(Stage::TcpConnect, ErrorCode::GatewayUnreachable, "refused");
        let changed = t
            .observe(
                &event(
                    1_500,
                    EventKind::ConnectFailed {
                        attempt: 1,
                        error: failed,
                    },
                ),
                &mut ids,
            )
            .pop()
            .unwrap();
        assert_eq!(changed.stage.as_deref(), Some("tcp_connect"));
        assert_eq!(
            changed.cause,
            "the gateway closed the connection; then refused"
        );
        assert!(
            t.observe(&state(2_000, reconnecting(2)), &mut ids)
                .is_empty(),
            "a retry is no change"
        );
        let closed = t
            .observe(&state(59_001, connected()), &mut ids)
            .pop()
            .unwrap();
        assert_eq!((closed.id, closed.ended_ms), (42, Some(59_001)));
        assert!(!closed.expected);
        assert_eq!(
            closed.cause,
            "the gateway closed the connection; then refused"
        );
        assert!(t.open().is_none());
    }

    #[test]
    fn watching_stopped_during_a_spell_ends_it_saying_it_was_not_a_recovery() {
        let (mut t, mut ids) = (IncidentTracker::new("paper"), IncidentIds::default());
        t.observe(&state(0, reconnecting(2)), &mut ids)
            .pop()
            .unwrap();
        let closed = t
            .observe(&state(5_000, ConnectionState::Stopped), &mut ids)
            .pop()
            .unwrap();
        assert_eq!(closed.ended_ms, Some(5_000));
        assert_eq!(closed.cause, UNWATCHED);
    }

    #[test]
    fn a_silent_handshake_is_a_zombie_and_its_notices_are_kept_but_not_the_greeting() {
        let (mut t, mut ids) = (IncidentTracker::new("paper"), IncidentIds::default());
        t.observe(&state(0, reconnecting(1)), &mut ids);
        let error = WorkerError::at(
            Stage::VersionExchange,
            ErrorCode::HandshakeTimeout,
            "no version reply",
        );
        let row = t
            .observe(
                &event(10, EventKind::ConnectFailed { attempt: 1, error }),
                &mut ids,
            )
            .pop()
            .unwrap();
        assert_eq!((row.id, row.kind.as_str()), (1, "zombie"));
        assert!(
            t.observe(&state(20, reconnecting(2)), &mut ids).is_empty(),
            "still a zombie"
        );
        t.observe(
            &event(30, EventKind::Notice(Notice::new(2103, "broken:usfarm"))),
            &mut ids,
        );
        t.observe(
            &event(31, EventKind::Notice(Notice::new(2103, "broken:usfarm"))),
            &mut ids,
        );
        let row = t
            .observe(
                &event(
                    32,
                    EventKind::Notice(Notice::new(1100, "connectivity lost")),
                ),
                &mut ids,
            )
            .pop()
            .unwrap();
        assert_eq!(row.notices, "2103,1100");
        assert!(
            t.observe(
                &event(33, EventKind::Notice(Notice::new(2104, "ok:usfarm"))),
                &mut ids
            )
            .is_empty(),
            "the farms greeting the reconnect are not part of the outage"
        );
    }

    #[test]
    fn an_expected_restart_that_overstays_is_expected_up_to_the_overdue_and_unexpected_after() {
        let outage = gatewatch_supervisor::calendar::Occurrence {
            kind: gatewatch_supervisor::calendar::OccurrenceKind::DailyRestart,
            label: "nightly restart".into(),
            starts_ms: 0,
            ends_ms: Some(180_000),
            expected_from_ms: 0,
            expected_until_ms: 300_000,
            overdue_at_ms: Some(480_000),
            needs_2fa: false,
            ibc_login: false,
            local: "Sun 23:45 EST".into(),
        };
        let (mut t, mut ids) = (IncidentTracker::new("live"), IncidentIds::default());
        let expected = ConnectionState::ScheduledRestart {
            outage: outage.clone(),
            connection: Box::new(reconnecting(1)),
        };
        let row = t.observe(&state(1_000, expected), &mut ids).pop().unwrap();
        assert!(row.expected);
        assert_eq!(row.outage.as_deref(), Some("nightly restart"));
        let overdue = ConnectionState::Overdue {
            outage,
            connection: Box::new(reconnecting(9)),
        };
        let mut rows = t.observe(&state(480_000, overdue), &mut ids);
        let row = rows.pop().unwrap();
        let inside = rows.pop().unwrap();
        assert_eq!(
            (inside.ended_ms, inside.expected),
            (Some(480_000), true),
            "the part inside the window stays expected"
        );
        assert_eq!(row.started_ms, 480_000);
        assert!(!row.expected, "overdue is not what the calendar expected");
        assert_eq!(row.outage.as_deref(), Some("nightly restart"));
        let closed = t
            .observe(&state(500_000, connected()), &mut ids)
            .pop()
            .unwrap();
        assert_eq!((closed.ended_ms, closed.expected), (Some(500_000), false));
    }

    fn degraded(reasons: Vec<DegradedReason>) -> ConnectionState {
        ConnectionState::Degraded {
            session: match connected() {
                ConnectionState::Connected(session) => session,
                _ => unreachable!(),
            },
            reasons,
        }
    }

    #[test]
    fn a_drop_while_degraded_is_downtime_of_its_own_from_the_drop() {
        let (mut t, mut ids) = (IncidentTracker::new("paper"), IncidentIds::default());
        t.observe(
            &event(900, EventKind::Notice(Notice::new(2103, "broken:usfarm"))),
            &mut ids,
        );
        let slow = t
            .observe(
                &state(
                    1_000,
                    degraded(vec![DegradedReason::FarmBroken {
                        farm: "usfarm".into(),
                    }]),
                ),
                &mut ids,
            )
            .pop()
            .unwrap();
        assert_eq!(slow.kind, "degraded");
        assert_eq!(slow.cause, "data farm usfarm is broken");
        assert_eq!(slow.notices, "2103", "the notice that made it degraded");
        t.observe(
            &event(
                30_000,
                EventKind::Disconnected {
                    cause: DisconnectCause::GatewayClosed,
                    message: "the gateway closed the connection".into(),
                },
            ),
            &mut ids,
        );
        let rows = t.observe(&state(30_002, reconnecting(1)), &mut ids);
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(
            (rows[0].kind.as_str(), rows[0].ended_ms),
            ("degraded", Some(30_000))
        );
        assert_eq!(
            (
                rows[1].kind.as_str(),
                rows[1].started_ms,
                rows[1].cause.as_str()
            ),
            ("down", 30_000, "the gateway closed the connection")
        );
        let back = t.observe(
            &state(41_000, degraded(vec![DegradedReason::IbLinkLost])),
            &mut ids,
        );
        assert_eq!(
            back[0].ended_ms,
            Some(41_000),
            "down ends when it answers again"
        );
        assert_eq!(back[1].kind, "ib_link_lost");
    }

    #[test]
    fn a_drop_reconnected_at_the_first_attempt_is_still_an_incident() {
        let (mut t, mut ids) = (IncidentTracker::new("paper"), IncidentIds::default());
        let first = || ConnectionState::Connecting {
            attempt: 1,
            stage: None,
            client_id: 901,
        };
        assert!(
            t.observe(&state(0, first()), &mut ids).is_empty(),
            "the first attempt at start is nothing yet"
        );
        t.observe(&state(10, connected()), &mut ids);
        t.observe(
            &event(
                5_000,
                EventKind::Disconnected {
                    cause: DisconnectCause::GatewayClosed,
                    message: "closed".into(),
                },
            ),
            &mut ids,
        );
        let opened = t.observe(&state(5_001, first()), &mut ids).pop().unwrap();
        assert_eq!(opened.started_ms, 5_000);
        let closed = t
            .observe(&state(5_060, connected()), &mut ids)
            .pop()
            .unwrap();
        assert_eq!(closed.ended_ms, Some(5_060));
    }

    fn failed(at_ms: u64, stage: Stage, code: ErrorCode) -> SupervisorEvent {
        event(
            at_ms,
            EventKind::ProbeFailed {
                error: WorkerError::at(stage, code, "it failed"),
            },
        )
    }

    #[test]
    fn a_gateway_refusing_then_not_answering_its_handshake_is_down_then_a_zombie() {
        let (mut t, mut ids) = (IncidentTracker::new("paper"), IncidentIds::default());
        t.observe(&state(0, connected()), &mut ids);
        t.observe(
            &event(
                1_000,
                EventKind::Disconnected {
                    cause: DisconnectCause::GatewayClosed,
                    message: "closed".into(),
                },
            ),
            &mut ids,
        );
        t.observe(&state(1_001, reconnecting(1)), &mut ids);
        let refused = t
            .observe(
                &failed(1_002, Stage::TcpConnect, ErrorCode::GatewayUnreachable),
                &mut ids,
            )
            .pop()
            .unwrap();
        assert_eq!(
            (refused.kind.as_str(), refused.stage.as_deref()),
            ("down", Some("tcp_connect"))
        );
        let rows = t.observe(
            &failed(15_000, Stage::VersionExchange, ErrorCode::HandshakeTimeout),
            &mut ids,
        );
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(
            (rows[0].kind.as_str(), rows[0].ended_ms),
            ("down", Some(15_000))
        );
        assert_eq!(
            (
                rows[1].kind.as_str(),
                rows[1].started_ms,
                rows[1].stage.as_deref()
            ),
            ("zombie", 15_000, Some("version_exchange"))
        );
    }

    #[test]
    fn a_gateway_already_a_zombie_at_start_is_one_from_the_first_attempt() {
        let (mut t, mut ids) = (IncidentTracker::new("paper"), IncidentIds::default());
        let first = ConnectionState::Connecting {
            attempt: 1,
            stage: None,
            client_id: 901,
        };
        t.observe(&state(100, first), &mut ids);
        t.observe(
            &event(
                3_100,
                EventKind::ConnectFailed {
                    attempt: 1,
                    error: WorkerError::at(
                        Stage::VersionExchange,
                        ErrorCode::HandshakeTimeout,
                        "no version reply",
                    ),
                },
            ),
            &mut ids,
        );
        let opened = t
            .observe(&state(3_101, reconnecting(2)), &mut ids)
            .pop()
            .unwrap();
        assert_eq!(
            (
                opened.kind.as_str(),
                opened.started_ms,
                opened.cause.as_str()
            ),
            ("zombie", 100, "no version reply")
        );
    }
}
