//! Incidents: one row per bad spell of a gateway, from its first bad state to connected again,
//! with its kind, cause, the handshake stage that failed, the notices seen, and whether the
//! calendar expected it. Built from the supervisor's events alone, so the app and the
//! headless service record the same incidents.

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

/// One gateway's open incident, if any, and the cause waiting for the next one.
#[derive(Debug, Clone)]
pub struct IncidentTracker {
    gateway: String,
    open: Option<IncidentRow>,
    /// The drop's message: it comes before the state that opens the incident.
    pending_cause: Option<String>,
}

pub(crate) fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::TcpConnect => "tcp_connect",
        Stage::VersionExchange => "version_exchange",
        Stage::StartApi => "start_api",
        Stage::FirstPing => "first_ping",
    }
}

/// The kind of incident a bad state is, with the outage it belongs to and whether that
/// outage is expected; `None` for a state that is not an incident.
fn kind_of(state: &ConnectionState) -> Option<(&'static str, Option<String>, bool)> {
    Some(match state {
        ConnectionState::Connected(_)
        | ConnectionState::Stopped
        | ConnectionState::Paused { .. }
        | ConnectionState::Connecting { attempt: 1, .. } => return None,
        ConnectionState::ScheduledRestart { outage, connection }
        | ConnectionState::ServerReset { outage, connection } => {
            let (kind, _, _) = kind_of(connection).unwrap_or(("down", None, false));
            (kind, Some(outage.label.clone()), true)
        }
        ConnectionState::Overdue { outage, connection } => {
            let (kind, _, _) = kind_of(connection).unwrap_or(("down", None, false));
            (kind, Some(outage.label.clone()), false)
        }
        ConnectionState::Degraded { reasons, .. } => {
            if reasons.contains(&DegradedReason::IbLinkLost) {
                ("ib_link_lost", None, false)
            } else {
                ("degraded", None, false)
            }
        }
        ConnectionState::Connecting { .. }
        | ConnectionState::Reconnecting { .. }
        | ConnectionState::CircuitOpen { .. } => ("down", None, false),
    })
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
/// each at the last thing that run recorded of its gateway, saying it was not watched to its
/// end. Returns how many.
pub fn close_abandoned(connection: &rusqlite::Connection) -> rusqlite::Result<usize> {
    connection.execute(
        "UPDATE incidents SET
             ended_ms = max(started_ms, coalesce(
                 (SELECT max(at_ms) FROM events e WHERE e.gateway = incidents.gateway),
                 started_ms)),
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
            pending_cause: None,
        }
    }

    /// The open incident, if any.
    pub fn open(&self) -> Option<&IncidentRow> {
        self.open.as_ref()
    }

    /// Takes in one event; returns the incident row to write when it opened, changed or
    /// ended.
    pub fn observe(
        &mut self,
        event: &SupervisorEvent,
        ids: &mut IncidentIds,
    ) -> Option<IncidentRow> {
        match &event.kind {
            EventKind::Disconnected { message, .. } => {
                self.pending_cause = Some(message.clone());
                None
            }
            EventKind::ConnectFailed { error, .. } => {
                let open = self.open.as_mut()?;
                open.stage = error.stage.map(|s| stage_name(s).to_owned());
                if open.cause.is_empty() {
                    open.cause = error.message.clone();
                }
                if error.code == ErrorCode::HandshakeTimeout
                    && error.stage == Some(Stage::VersionExchange)
                    && open.kind == "down"
                {
                    open.kind = "zombie".into();
                }
                Some(open.clone())
            }
            EventKind::Notice(notice) => {
                let open = self.open.as_mut()?;
                let code = notice.code.to_string();
                if open.notices.split(',').any(|c| c == code) {
                    return None;
                }
                if !open.notices.is_empty() {
                    open.notices.push(',');
                }
                open.notices.push_str(&code);
                Some(open.clone())
            }
            EventKind::StateChanged { state } => self.state(state, event.at_ms, ids),
            _ => None,
        }
    }

    fn state(
        &mut self,
        state: &ConnectionState,
        at_ms: u64,
        ids: &mut IncidentIds,
    ) -> Option<IncidentRow> {
        let Some((kind, outage, expected)) = kind_of(state) else {
            if matches!(state, ConnectionState::Connecting { .. }) {
                return None; // a first attempt neither opens nor ends anything
            }
            self.pending_cause = None;
            let mut closed = self.open.take()?;
            closed.ended_ms = Some(at_ms);
            // Stopped or paused is where the watching ended, not a recovery: say so.
            if !matches!(
                state,
                ConnectionState::Connected(_) | ConnectionState::Degraded { .. }
            ) {
                closed.cause = with_note(&closed.cause, UNWATCHED);
            }
            return Some(closed);
        };
        match &mut self.open {
            None => {
                let row = IncidentRow {
                    id: ids.take(),
                    gateway: self.gateway.clone(),
                    kind: kind.to_owned(),
                    started_ms: at_ms,
                    ended_ms: None,
                    cause: self.pending_cause.take().unwrap_or_default(),
                    stage: None,
                    notices: String::new(),
                    expected,
                    outage,
                    close_wait: None,
                };
                self.open = Some(row.clone());
                Some(row)
            }
            Some(open) => {
                // An expected spell that turns overdue is not expected any more; a degraded
                // one that goes down is a drop.
                let kind = if open.kind == "zombie" && kind == "down" {
                    "zombie"
                } else {
                    kind
                };
                let expected = open.expected && expected;
                let outage = outage.or_else(|| open.outage.clone());
                let changed =
                    expected != open.expected || outage != open.outage || open.kind != kind;
                open.expected = expected;
                open.outage = outage;
                open.kind = kind.to_owned();
                changed.then(|| open.clone())
            }
        }
    }
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
        assert!(t.observe(&state(0, connected()), &mut ids).is_none());
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
        let opened = t.observe(&state(1_001, reconnecting(1)), &mut ids).unwrap();
        assert_eq!(
            (
                opened.id,
                opened.kind.as_str(),
                opened.started_ms,
                opened.ended_ms
            ),
            (42, "down", 1_001, None)
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
            .unwrap();
        assert_eq!(changed.stage.as_deref(), Some("tcp_connect"));
        assert!(
            t.observe(&state(2_000, reconnecting(2)), &mut ids)
                .is_none(),
            "a retry is no change"
        );
        let closed = t.observe(&state(59_001, connected()), &mut ids).unwrap();
        assert_eq!((closed.id, closed.ended_ms), (42, Some(59_001)));
        assert!(!closed.expected);
        assert_eq!(closed.cause, "the gateway closed the connection");
        assert!(t.open().is_none());
    }

    #[test]
    fn watching_stopped_during_a_spell_ends_it_saying_it_was_not_a_recovery() {
        let (mut t, mut ids) = (IncidentTracker::new("paper"), IncidentIds::default());
        t.observe(&state(0, reconnecting(2)), &mut ids).unwrap();
        let closed = t
            .observe(&state(5_000, ConnectionState::Stopped), &mut ids)
            .unwrap();
        assert_eq!(closed.ended_ms, Some(5_000));
        assert_eq!(closed.cause, UNWATCHED);
    }

    #[test]
    fn a_silent_handshake_is_a_zombie_and_notices_are_kept() {
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
            .unwrap();
        assert_eq!((row.id, row.kind.as_str()), (1, "zombie"));
        assert!(
            t.observe(&state(20, reconnecting(2)), &mut ids).is_none(),
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
                &event(32, EventKind::Notice(Notice::new(2104, "ok:usfarm"))),
                &mut ids,
            )
            .unwrap();
        assert_eq!(row.notices, "2103,2104");
    }

    #[test]
    fn an_expected_restart_is_marked_so_until_it_turns_overdue() {
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
        let row = t.observe(&state(1_000, expected), &mut ids).unwrap();
        assert!(row.expected);
        assert_eq!(row.outage.as_deref(), Some("nightly restart"));
        let overdue = ConnectionState::Overdue {
            outage,
            connection: Box::new(reconnecting(9)),
        };
        let row = t.observe(&state(480_000, overdue), &mut ids).unwrap();
        assert!(!row.expected, "overdue is not what the calendar expected");
        assert_eq!(row.outage.as_deref(), Some("nightly restart"));
        let closed = t.observe(&state(500_000, connected()), &mut ids).unwrap();
        assert_eq!((closed.ended_ms, closed.expected), (Some(500_000), false));
    }
}
