//! The notification policy: which bad conditions a gateway's snapshot shows, and when to say
//! so.
//!
//! A condition is announced once, and only after it has held for `hold_secs`, so a flapping
//! link that recovers within the hold stays quiet; its end is announced once if its start
//! was, and only after it has stayed away for `hold_secs` too, so a gateway that is sick
//! most of the time with short good spells gives one notification, not one per spell.
//! While the gateway is down (connecting, waiting to retry, probing) a condition neither
//! begins to end nor ends: a reconnect is no recovery. Each kind can be switched off, and nothing is announced while the user has paused
//! alerts. Every gateway has a policy of its own ([`FleetAlerts`]), with its own settings, and
//! every notification names its gateway: two gateways going down together give one
//! notification each. `now` is a parameter, so the policy is tested without waiting; the
//! desktop shell feeds it snapshots and a periodic tick and shows what it returns.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use gatewatch_protocol::ErrorCode;
use gatewatch_settings::NotificationSettings;
use gatewatch_supervisor::{ConnectionState, DegradedReason, Snapshot};
use serde::{Deserialize, Serialize};

/// A bad condition worth a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// No connection to the gateway: one episode from the drop until connected again, whether
    /// Gatewatch is retrying or, after repeated failures, probing every few seconds.
    Disconnected,
    /// The handshake stalls (zombie gateway, no nextValidId).
    HandshakeStalled,
    /// 1100: the gateway lost its link to IB.
    IbLinkLost,
    /// Sockets stuck in CLOSE_WAIT on the gateway's port.
    ZombieSockets,
    /// Connected, but pings go unanswered in time or the last minute's median is slow.
    NotAnswering,
    /// Not back after a planned restart or a server reset, past its window and grace time.
    /// Announced at once: the grace was the hold.
    Overdue,
    /// Back after the restart that needed the weekly 2FA login (announced as a recovery).
    ReloginDone,
    /// The weekly re-login is coming (a fleet-wide reminder).
    ReloginDue,
}

impl Condition {
    fn enabled(self, settings: &NotificationSettings) -> bool {
        match self {
            Condition::Disconnected => settings.disconnected,
            Condition::HandshakeStalled => settings.handshake_stalled,
            Condition::IbLinkLost => settings.ib_link_lost,
            Condition::ZombieSockets => settings.zombie_sockets,
            Condition::NotAnswering => settings.slow_or_lost_pings,
            Condition::Overdue | Condition::ReloginDone => settings.overdue,
            Condition::ReloginDue => settings.relogin_reminders,
        }
    }

    /// How long it must hold before it is announced.
    fn hold(self, settings: &NotificationSettings) -> Duration {
        match self {
            Condition::Overdue => Duration::ZERO,
            _ => Duration::from_secs(settings.hold_secs),
        }
    }

    /// The title when it begins, naming the gateway.
    fn title(self, gateway: &str) -> String {
        match self {
            Condition::Disconnected => format!("{gateway} disconnected"),
            Condition::HandshakeStalled => format!("{gateway}: API handshake stalled"),
            Condition::IbLinkLost => format!("{gateway} lost its link to IB (1100)"),
            Condition::ZombieSockets => format!("{gateway}: sockets stuck in CLOSE_WAIT"),
            Condition::NotAnswering => format!("{gateway} is not answering in time"),
            Condition::Overdue => format!("{gateway} did not come back"),
            Condition::ReloginDone => format!("{gateway} is back after the weekly re-login"),
            Condition::ReloginDue => "Weekly re-login (2FA) coming".into(),
        }
    }

    /// The title when it ends.
    fn ended(self, gateway: &str) -> String {
        match self {
            Condition::Disconnected => format!("{gateway} connected again"),
            Condition::HandshakeStalled => format!("{gateway}: API handshake completes again"),
            Condition::IbLinkLost => format!("{gateway}: link to IB restored"),
            Condition::ZombieSockets => format!("{gateway}: no more sockets in CLOSE_WAIT"),
            Condition::NotAnswering => format!("{gateway} answers in time again"),
            Condition::Overdue => format!("{gateway} is back"),
            Condition::ReloginDone | Condition::ReloginDue => self.title(gateway),
        }
    }
}

/// A notification to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// The id of the gateway profile it is about.
    pub gateway: String,
    /// The condition it is about.
    pub condition: Condition,
    /// `false` when the condition began, `true` when it ended.
    pub recovered: bool,
    /// The notification's title.
    pub title: String,
    /// Its text.
    pub body: String,
}

/// What a notification offers the trader to do, where the notification server shows
/// buttons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertAction {
    /// Show the window (also what a click on the notification itself does).
    Open,
    /// Drop whatever the supervisor is waiting for and connect again at once.
    ReconnectNow,
}

impl AlertAction {
    /// The action's key in the XDG notification protocol.
    pub fn key(self) -> &'static str {
        match self {
            AlertAction::Open => "open",
            AlertAction::ReconnectNow => "reconnect",
        }
    }

    /// The button's label.
    pub fn label(self) -> &'static str {
        match self {
            AlertAction::Open => "Open",
            AlertAction::ReconnectNow => "Reconnect now",
        }
    }

    /// The action an invoked key stands for; the notification's own click (`default`) opens.
    pub fn from_key(key: &str) -> Option<Self> {
        match key {
            "open" | "default" => Some(AlertAction::Open),
            "reconnect" => Some(AlertAction::ReconnectNow),
            _ => None,
        }
    }
}

impl Alert {
    /// The buttons its notification carries: a bad state of one gateway can be looked at, and
    /// where a fresh connect may help (down, stalled, not answering, overdue), retried at
    /// once; a recovery or a reminder needs neither.
    pub fn actions(&self) -> Vec<AlertAction> {
        if self.recovered || self.gateway.is_empty() {
            return Vec::new();
        }
        match self.condition {
            Condition::Disconnected
            | Condition::HandshakeStalled
            | Condition::NotAnswering
            | Condition::Overdue => vec![AlertAction::Open, AlertAction::ReconnectNow],
            Condition::IbLinkLost | Condition::ZombieSockets => vec![AlertAction::Open],
            Condition::ReloginDone | Condition::ReloginDue => Vec::new(),
        }
    }

    /// Whether it tells of a bad state (and so may play the alert sound).
    pub fn is_bad(&self) -> bool {
        !self.recovered && !matches!(self.condition, Condition::ReloginDone)
    }
}

#[derive(Debug, Clone)]
struct Tracked {
    since: Instant,
    detail: String,
    announced: bool,
    /// Since when an announced condition has been away (its end is announced after the hold).
    away_since: Option<Instant>,
}

/// Decides when to notify about one gateway.
#[derive(Debug, Clone)]
pub struct AlertPolicy {
    gateway: String,
    name: String,
    settings: NotificationSettings,
    active: BTreeMap<Condition, Tracked>,
    paused: bool,
    /// Down for the restart that needs the weekly 2FA login, since then: its end is news.
    relogin_since: Option<Instant>,
}

impl AlertPolicy {
    /// A policy for the gateway profile `gateway` called `name`, with these settings and
    /// nothing active.
    pub fn new(gateway: &str, name: &str, settings: NotificationSettings) -> Self {
        Self {
            gateway: gateway.into(),
            name: name.into(),
            settings,
            active: BTreeMap::new(),
            paused: false,
            relogin_since: None,
        }
    }

    /// New settings (and a new name) take effect from the next observation.
    pub fn set_settings(&mut self, name: &str, settings: NotificationSettings) {
        self.settings = settings;
        name.clone_into(&mut self.name);
    }

    /// Takes in a snapshot; returns the alerts due now (starts and ends once held).
    pub fn observe(&mut self, snapshot: &Snapshot, now: Instant) -> Vec<Alert> {
        self.paused = matches!(snapshot.state, ConnectionState::Paused { .. });
        let relogin_done = self.relogin(snapshot, now);
        let current = conditions(snapshot);
        // A connect attempt or the wait for one keeps every condition as it is, so a trial
        // connect while probing neither ends an outage nor restarts its hold.
        let reconnecting = matches!(
            snapshot.state,
            ConnectionState::Connecting { .. } | ConnectionState::Reconnecting { .. }
        );
        // Down (probing too): nothing announced ends, since nothing is mended until a
        // connection is live again. A stalled handshake that turns into a refused port, or
        // pings unanswered that turn into a drop, are no recoveries.
        let down = reconnecting || matches!(snapshot.state, ConnectionState::CircuitOpen { .. });
        self.active.retain(|condition, tracked| {
            if current.contains_key(condition) || reconnecting || (down && tracked.announced) {
                tracked.away_since = None;
                true
            } else if tracked.announced {
                tracked.away_since.get_or_insert(now);
                true
            } else {
                // Never announced: it simply did not hold.
                false
            }
        });
        for (condition, detail) in current {
            let tracked = self.active.entry(condition).or_insert(Tracked {
                since: now,
                detail: String::new(),
                announced: false,
                away_since: None,
            });
            tracked.detail = detail;
        }
        let mut alerts = self.tick(now);
        alerts.extend(relogin_done);
        alerts
    }

    /// The end of the weekly re-login restart, once the gateway is connected again (an
    /// overdue one ends as the overdue condition's recovery instead).
    fn relogin(&mut self, snapshot: &Snapshot, now: Instant) -> Option<Alert> {
        match &snapshot.state {
            ConnectionState::ScheduledRestart { outage, .. } if outage.needs_2fa => {
                self.relogin_since.get_or_insert(now);
                None
            }
            ConnectionState::Connected(_) | ConnectionState::Degraded { .. } => {
                let since = self.relogin_since.take()?;
                let condition = Condition::ReloginDone;
                self.speaks(condition).then(|| Alert {
                    gateway: self.gateway.clone(),
                    condition,
                    recovered: true,
                    title: condition.title(&self.name),
                    body: format!(
                        "Logged in again after the Sunday token expiry, {} after its restart.",
                        describe(now.saturating_duration_since(since))
                    ),
                })
            }
            ConnectionState::Overdue { .. } | ConnectionState::Stopped => {
                self.relogin_since = None;
                None
            }
            _ => None,
        }
    }

    /// The starts and ends that have now held long enough; call it every second or so.
    pub fn tick(&mut self, now: Instant) -> Vec<Alert> {
        let hold = Duration::from_secs(self.settings.hold_secs);
        let settings = &self.settings;
        let mut alerts = Vec::new();
        let ended: Vec<Condition> = self
            .active
            .iter()
            .filter(|(_, t)| {
                t.away_since
                    .is_some_and(|away| now.saturating_duration_since(away) >= hold)
            })
            .map(|(c, _)| *c)
            .collect();
        for condition in ended {
            let tracked = self.active.remove(&condition).expect("listed above");
            if self.speaks(condition) && self.settings.recovered {
                let lasted = tracked
                    .away_since
                    .unwrap_or(now)
                    .saturating_duration_since(tracked.since);
                alerts.push(Alert {
                    gateway: self.gateway.clone(),
                    condition,
                    recovered: true,
                    title: condition.ended(&self.name),
                    body: format!("After {}.", describe(lasted)),
                });
            }
        }
        let speaking: Vec<Condition> = self
            .active
            .keys()
            .copied()
            .filter(|c| self.speaks(*c))
            .collect();
        for condition in speaking {
            let tracked = self.active.get_mut(&condition).expect("listed above");
            if !tracked.announced
                && now.saturating_duration_since(tracked.since) >= condition.hold(settings)
            {
                tracked.announced = true;
                alerts.push(Alert {
                    gateway: self.gateway.clone(),
                    condition,
                    recovered: false,
                    title: condition.title(&self.name),
                    body: tracked.detail.clone(),
                });
            }
        }
        alerts
    }

    fn speaks(&self, condition: Condition) -> bool {
        self.settings.enabled && !self.paused && condition.enabled(&self.settings)
    }
}

/// One [`AlertPolicy`] per gateway profile, made when a gateway is first seen and dropped
/// when it is no longer watched.
#[derive(Debug, Clone, Default)]
pub struct FleetAlerts {
    policies: BTreeMap<String, AlertPolicy>,
    /// The weekly reminders given: (expiry, minutes ahead).
    reminded: std::collections::BTreeSet<(u64, u32)>,
}

/// A gateway that restarts by itself and so needs a 2FA approval after the weekly expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloginDue {
    /// Its name.
    pub name: String,
    /// When its re-login restart is, in its own zone ("Sun 23:45 EST").
    pub restart_local: String,
}

/// The weekly expiry the reminders are about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeeklyExpiry {
    /// When, epoch ms.
    pub at_ms: u64,
    /// When, in IB's zone ("Sun 01:00 ET").
    pub local: String,
}

impl FleetAlerts {
    /// Takes in the snapshot of gateway `id` (called `name`, notified with `settings`);
    /// returns the alerts due now for it.
    pub fn observe(
        &mut self,
        id: &str,
        name: &str,
        settings: &NotificationSettings,
        snapshot: &Snapshot,
        now: Instant,
    ) -> Vec<Alert> {
        let policy = self
            .policies
            .entry(id.to_owned())
            .or_insert_with(|| AlertPolicy::new(id, name, settings.clone()));
        policy.set_settings(name, settings.clone());
        policy.observe(snapshot, now)
    }

    /// The reminder due at `now_ms` before the weekly expiry, naming every gateway that will
    /// need a 2FA approval: one per lead time in `leads_mins`; a lead time already passed
    /// when Gatewatch starts is folded into one reminder, never repeated.
    pub fn relogin_reminder(
        &mut self,
        now_ms: u64,
        expiry: &WeeklyExpiry,
        leads_mins: &[u32],
        gateways: &[ReloginDue],
        settings: &NotificationSettings,
    ) -> Option<Alert> {
        if gateways.is_empty() || now_ms >= expiry.at_ms {
            return None;
        }
        let mut due = false;
        for lead in leads_mins {
            let at = expiry.at_ms.saturating_sub(u64::from(*lead) * 60_000);
            if now_ms >= at && self.reminded.insert((expiry.at_ms, *lead)) {
                due = true;
            }
        }
        if !due || !settings.enabled || !settings.relogin_reminders {
            return None;
        }
        let names: Vec<String> = gateways
            .iter()
            .map(|g| format!("{} (restart {})", g.name, g.restart_local))
            .collect();
        let left = Duration::from_millis(expiry.at_ms - now_ms);
        let condition = Condition::ReloginDue;
        Some(Alert {
            gateway: String::new(),
            condition,
            recovered: false,
            title: condition.title(""),
            body: format!(
                "IB expires the gateways' logins {} (in {}). {} will need a 2FA approval on your phone after {}.",
                expiry.local,
                describe(left),
                join_names(&names),
                if gateways.len() == 1 {
                    "its restart"
                } else {
                    "their restarts"
                }
            ),
        })
    }

    /// Forgets the gateways not in `watched` (removed or disabled): nothing more is said of
    /// them, not even a recovery.
    pub fn retain(&mut self, watched: &[&str]) {
        self.policies.retain(|id, _| watched.contains(&id.as_str()));
    }
}

/// The bad conditions a snapshot shows, each with a sentence for the notification.
pub fn conditions(snapshot: &Snapshot) -> BTreeMap<Condition, String> {
    let mut found = BTreeMap::new();
    let last_error = snapshot.last_error.as_ref();
    match &snapshot.state {
        // Retrying and probing after repeated failures are one outage: were they two
        // conditions, the switch between them (a trial connect while probing) would read as a
        // recovery that did not happen.
        ConnectionState::CircuitOpen {
            failures,
            probe_every_ms,
            answering,
            ..
        } => {
            let why = last_error
                .map(|e| format!(": {}", e.message))
                .unwrap_or_default();
            let next = if *answering {
                "The gateway answers, but its API start-up keeps failing; Gatewatch tries again at longer and longer intervals (up to 30 s).".to_owned()
            } else {
                format!(
                    "Checking every {} s; Gatewatch reconnects as soon as the gateway answers.",
                    probe_every_ms / 1000
                )
            };
            found.insert(
                Condition::Disconnected,
                format!("{failures} connection attempts failed in a row{why}. {next}"),
            );
        }
        ConnectionState::Reconnecting { .. } | ConnectionState::Connecting { attempt: 2.., .. } => {
            let why = last_error
                .map(|e| e.message.clone())
                .unwrap_or_else(|| "The connection dropped.".into());
            found.insert(Condition::Disconnected, why);
        }
        // Expected: no alarm of any kind until it is overdue.
        ConnectionState::ScheduledRestart { .. } | ConnectionState::ServerReset { .. } => {
            return found;
        }
        ConnectionState::Overdue { .. } => {
            let mut advice = snapshot.state.outage_phrase().unwrap_or_default();
            advice[..1].make_ascii_uppercase();
            found.insert(Condition::Overdue, format!("{advice}."));
            return found;
        }
        ConnectionState::Degraded { reasons, .. } => {
            if reasons.contains(&DegradedReason::IbLinkLost) {
                found.insert(
                    Condition::IbLinkLost,
                    "The gateway is up but has lost IB's servers (1100).".into(),
                );
            }
            let pings: Vec<String> = reasons
                .iter()
                .filter(|r| {
                    matches!(
                        r,
                        DegradedReason::LostPings { .. } | DegradedReason::SlowPings { .. }
                    )
                })
                .map(ToString::to_string)
                .collect();
            if !pings.is_empty() {
                let mut detail = pings.join("; ");
                detail[..1].make_ascii_uppercase();
                found.insert(Condition::NotAnswering, format!("{detail}."));
            }
        }
        _ => {}
    }
    let connected = matches!(
        snapshot.state,
        ConnectionState::Connected(_) | ConnectionState::Degraded { .. }
    );
    if let Some(error) = last_error.filter(|e| e.code == ErrorCode::HandshakeTimeout && !connected)
    {
        found.insert(Condition::HandshakeStalled, error.message.clone());
    }
    if let Some(advice) = snapshot
        .zombies
        .advice()
        .filter(|_| snapshot.zombies.gateway > 0 || snapshot.zombies.ours > 0)
    {
        found.insert(Condition::ZombieSockets, advice);
    }
    found
}

/// "a", "a and b", "a, b and c".
fn join_names(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn describe(duration: Duration) -> String {
    match duration.as_secs() {
        0..60 => format!("{} s", duration.as_secs()),
        60..3600 => format!("{} min", duration.as_secs() / 60),
        secs => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatewatch_protocol::{Encoding, Stage, WorkerError};
    use gatewatch_supervisor::state::SessionInfo;
    use gatewatch_supervisor::zombie::ZombieCount;

    fn connected() -> Snapshot {
        Snapshot {
            state: ConnectionState::Connected(SessionInfo {
                server_version: 213,
                encoding: Encoding::Protobuf,
                accounts: vec!["DU1".into()],
                client_id: 901,
                since_ms: 0,
                stage_us: Default::default(),
            }),
            ..Snapshot::default()
        }
    }

    fn reconnecting() -> Snapshot {
        Snapshot {
            state: ConnectionState::Reconnecting {
                attempt: 1,
                next_try_ms: 0,
            },
            ..Snapshot::default()
        }
    }

    fn policy() -> AlertPolicy {
        AlertPolicy::new(
            "paper",
            "Gateway paper",
            NotificationSettings {
                hold_secs: 5,
                ..NotificationSettings::default()
            },
        )
    }

    #[test]
    fn a_bad_state_that_holds_is_announced_once_and_its_end_once() {
        let (mut p, t0) = (policy(), Instant::now());
        assert!(p.observe(&connected(), t0).is_empty());
        assert!(
            p.observe(&reconnecting(), t0).is_empty(),
            "not before the hold"
        );
        assert!(p.tick(t0 + Duration::from_secs(4)).is_empty());
        let alerts = p.tick(t0 + Duration::from_secs(5));
        assert_eq!(alerts.len(), 1);
        assert_eq!(
            (alerts[0].condition, alerts[0].recovered),
            (Condition::Disconnected, false)
        );
        assert_eq!(alerts[0].title, "Gateway paper disconnected");
        assert_eq!(alerts[0].gateway, "paper");
        assert!(
            p.tick(t0 + Duration::from_secs(30)).is_empty(),
            "once per transition"
        );
        assert!(
            p.observe(&reconnecting(), t0 + Duration::from_secs(31))
                .is_empty(),
            "retries say nothing"
        );
        assert!(
            p.observe(&connected(), t0 + Duration::from_secs(90))
                .is_empty(),
            "a recovery must hold too"
        );
        assert!(p.tick(t0 + Duration::from_secs(94)).is_empty());
        let back = p.tick(t0 + Duration::from_secs(95));
        assert_eq!(back.len(), 1);
        assert!(
            back[0].recovered && back[0].body == "After 1 min.",
            "{back:?}"
        );
        assert_eq!(back[0].title, "Gateway paper connected again");
        assert_eq!(
            alerts[0].actions(),
            [AlertAction::Open, AlertAction::ReconnectNow],
            "a drop can be looked at and retried"
        );
        assert!(alerts[0].is_bad());
        assert!(back[0].actions().is_empty() && !back[0].is_bad());
    }

    #[test]
    fn actions_fit_what_a_fresh_connect_can_mend() {
        let alert = |condition, gateway: &str| Alert {
            gateway: gateway.into(),
            condition,
            recovered: false,
            title: String::new(),
            body: String::new(),
        };
        assert_eq!(
            alert(Condition::IbLinkLost, "paper").actions(),
            [AlertAction::Open],
            "reconnecting to the gateway does not bring back its link to IB"
        );
        assert_eq!(
            alert(Condition::Overdue, "paper").actions(),
            [AlertAction::Open, AlertAction::ReconnectNow]
        );
        assert!(alert(Condition::ReloginDue, "").actions().is_empty());
        for action in [AlertAction::Open, AlertAction::ReconnectNow] {
            assert_eq!(AlertAction::from_key(action.key()), Some(action));
        }
        assert_eq!(AlertAction::from_key("default"), Some(AlertAction::Open));
        assert_eq!(AlertAction::from_key("dismiss"), None);
    }

    #[test]
    fn two_gateways_down_together_give_one_notification_each() {
        let (mut fleet, t0) = (FleetAlerts::default(), Instant::now());
        let settings = NotificationSettings {
            hold_secs: 5,
            ..NotificationSettings::default()
        };
        let quiet = NotificationSettings {
            hold_secs: 60,
            ..settings.clone()
        };
        let gateways = [
            ("live", "TWS live", &settings),
            ("paper", "Gateway paper", &settings),
            ("vps", "VPS", &quiet),
        ];
        let mut said = Vec::new();
        for second in 0..30u64 {
            let at = t0 + Duration::from_secs(second);
            for (id, name, settings) in gateways {
                let snapshot = if second == 0 {
                    connected()
                } else {
                    reconnecting()
                };
                said.extend(fleet.observe(id, name, settings, &snapshot, at));
            }
        }
        let titles: Vec<&str> = said.iter().map(|a| a.title.as_str()).collect();
        assert_eq!(
            titles,
            ["TWS live disconnected", "Gateway paper disconnected"],
            "one each, and the VPS's own 60 s hold not yet over"
        );
        fleet.retain(&["live"]);
        for second in [31, 36] {
            said = fleet.observe(
                "live",
                "TWS live",
                &settings,
                &connected(),
                t0 + Duration::from_secs(second),
            );
        }
        let back = said;
        assert_eq!(back[0].title, "TWS live connected again");
        let forgotten = fleet.observe(
            "paper",
            "Gateway paper",
            &settings,
            &connected(),
            t0 + Duration::from_secs(31),
        );
        assert!(
            forgotten.is_empty(),
            "a gateway no longer watched says nothing: {forgotten:?}"
        );
    }

    /// Probing after five failed connects.
    fn probing() -> ConnectionState {
        ConnectionState::CircuitOpen {
            failures: 5,
            since_ms: 0,
            probe_every_ms: 2_000,
            answering: false,
            next_full_try_ms: 0,
        }
    }

    #[test]
    fn retrying_and_probing_are_one_outage_with_no_recovery_until_connected() {
        let (mut p, t0) = (policy(), Instant::now());
        let open = Snapshot {
            state: probing(),
            ..Snapshot::default()
        };
        p.observe(&connected(), t0);
        p.observe(&reconnecting(), t0);
        let down = p.tick(t0 + Duration::from_secs(5));
        assert_eq!(down.len(), 1, "{down:?}");
        // A zombie takes 3 s per attempt: the circuit opens long after the announcement, and
        // while probing, trial connects come and go.
        for second in (18..120u64).step_by(7) {
            let at = t0 + Duration::from_secs(second);
            assert!(p.observe(&open, at).is_empty(), "at {second} s");
            assert!(
                p.observe(&reconnecting(), at + Duration::from_secs(1))
                    .is_empty(),
                "a trial connect is no recovery (at {second} s)"
            );
        }
        assert!(
            p.observe(&connected(), t0 + Duration::from_secs(130))
                .is_empty()
        );
        let back = p.observe(&connected(), t0 + Duration::from_secs(135));
        assert_eq!(
            back.len(),
            1,
            "one recovery, once connected for the hold: {back:?}"
        );
        assert!(back[0].recovered);
    }

    fn not_answering(missed: u32) -> Snapshot {
        let ConnectionState::Connected(session) = connected().state else {
            unreachable!()
        };
        Snapshot {
            state: ConnectionState::Degraded {
                session,
                reasons: vec![DegradedReason::LostPings { missed }],
            },
            ..Snapshot::default()
        }
    }

    #[test]
    fn a_gateway_that_stops_answering_pings_is_announced() {
        let (mut p, t0) = (policy(), Instant::now());
        p.observe(&connected(), t0);
        let mut said = Vec::new();
        for second in 1..=10u64 {
            said.extend(p.observe(
                &not_answering(second as u32),
                t0 + Duration::from_secs(second),
            ));
        }
        assert_eq!(said.len(), 1, "{said:?}");
        assert_eq!(said[0].title, "Gateway paper is not answering in time");
        assert_eq!(said[0].body, "Pings unanswered in time (6 in a row).");
    }

    #[test]
    fn a_gateway_sick_with_short_good_spells_gives_one_notification_and_one_recovery() {
        // Every ping times out; the supervisor reconnects after three ping intervals of
        // silence, the new connection is up for half a second, and round it goes: degraded
        // 1.5 s, reconnecting 4.5 s, connected 0.5 s.
        let (mut p, t0) = (policy(), Instant::now());
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let connecting = Snapshot {
            state: ConnectionState::Connecting {
                attempt: 1,
                stage: None,
                client_id: 901,
            },
            ..Snapshot::default()
        };
        p.observe(&connected(), at(0));
        let mut said = Vec::new();
        for cycle in 0..10u64 {
            let start = 1_000 + cycle * 6_500;
            for step in (0..6_500).step_by(250) {
                let snapshot = match step {
                    0..1_500 => not_answering(2),
                    1_500..6_000 => connecting.clone(),
                    _ => connected(),
                };
                said.extend(p.observe(&snapshot, at(start + step)));
            }
        }
        let titles: Vec<&str> = said.iter().map(|a| a.title.as_str()).collect();
        assert_eq!(titles, ["Gateway paper is not answering in time"]);
        let healthy = 1_000 + 10 * 6_500;
        for step in (0..10_000).step_by(250) {
            said.extend(p.observe(&connected(), at(healthy + step)));
        }
        let titles: Vec<&str> = said.iter().map(|a| a.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "Gateway paper is not answering in time",
                "Gateway paper answers in time again"
            ]
        );
    }

    #[test]
    fn a_flapping_link_stays_quiet() {
        let (mut p, t0) = (policy(), Instant::now());
        for flap in 0..20u64 {
            let at = t0 + Duration::from_secs(flap * 2);
            assert!(p.observe(&reconnecting(), at).is_empty());
            assert!(
                p.observe(&connected(), at + Duration::from_secs(1))
                    .is_empty(),
                "flap {flap}"
            );
        }
    }

    #[test]
    fn switched_off_kinds_and_a_pause_mute_alerts() {
        let t0 = Instant::now();
        let mut off = AlertPolicy::new(
            "paper",
            "Gateway paper",
            NotificationSettings {
                disconnected: false,
                ..NotificationSettings::default()
            },
        );
        off.observe(&reconnecting(), t0);
        assert!(off.tick(t0 + Duration::from_secs(60)).is_empty());

        let mut paused = policy();
        let mut snapshot = reconnecting();
        snapshot.zombies = ZombieCount {
            ours: 0,
            gateway: 2,
            other_clients: 0,
        };
        paused.observe(&snapshot, t0);
        snapshot.state = ConnectionState::Paused { until_ms: None };
        assert!(
            paused
                .observe(&snapshot, t0 + Duration::from_secs(10))
                .is_empty(),
            "muted while paused"
        );
    }

    #[test]
    fn a_problem_that_turns_into_an_outage_is_not_announced_as_mended() {
        // Found from outside: `mute` gave "not answering in time", then a drop and probing,
        // and 17 s later "answers in time again" while the gateway was still silent.
        let (mut p, t0) = (policy(), Instant::now());
        let silent = Snapshot {
            state: ConnectionState::Degraded {
                session: match connected().state {
                    ConnectionState::Connected(session) => session,
                    _ => unreachable!(),
                },
                reasons: vec![DegradedReason::LostPings { missed: 2 }],
            },
            ..Snapshot::default()
        };
        p.observe(&connected(), t0);
        p.observe(&silent, t0);
        let said = p.tick(t0 + Duration::from_secs(5));
        assert_eq!(said.len(), 1);
        assert_eq!(said[0].condition, Condition::NotAnswering);
        let stalled = Snapshot {
            state: probing(),
            last_error: Some(WorkerError {
                code: gatewatch_protocol::ErrorCode::HandshakeTimeout,
                message: "no version reply".into(),
                stage: Some(Stage::VersionExchange),
            }),
            ..Snapshot::default()
        };
        let refused = Snapshot {
            last_error: Some(WorkerError {
                code: gatewatch_protocol::ErrorCode::GatewayUnreachable,
                message: "refused".into(),
                stage: Some(Stage::TcpConnect),
            }),
            ..stalled.clone()
        };
        let mut said = Vec::new();
        for second in 6..60u64 {
            let at = t0 + Duration::from_secs(second);
            let snapshot = if second < 30 { &stalled } else { &refused };
            said.extend(p.observe(snapshot, at));
        }
        assert!(
            said.iter().all(|a| !a.recovered),
            "no recovery while down: {said:?}"
        );
        p.observe(&connected(), t0 + Duration::from_secs(60));
        let back = p.tick(t0 + Duration::from_secs(66));
        assert!(
            back.iter()
                .any(|a| a.recovered && a.condition == Condition::NotAnswering),
            "ended once connected again: {back:?}"
        );
    }

    #[test]
    fn a_glimpse_of_a_problem_while_probing_is_not_announced_later() {
        // Caught by CI: keeping every condition while probing kept a CLOSE_WAIT seen once in
        // a restart, and announced it after the hold although it was long gone.
        let (mut p, t0) = (policy(), Instant::now());
        let open = Snapshot {
            state: probing(),
            ..Snapshot::default()
        };
        p.observe(&connected(), t0);
        p.observe(&open, t0);
        assert_eq!(p.tick(t0 + Duration::from_secs(5)).len(), 1, "the outage");
        let glimpse = Snapshot {
            zombies: ZombieCount {
                gateway: 1,
                ..ZombieCount::default()
            },
            ..open.clone()
        };
        let mut said = p.observe(&glimpse, t0 + Duration::from_secs(6));
        for second in 7..30u64 {
            said.extend(p.observe(&open, t0 + Duration::from_secs(second)));
        }
        assert!(said.is_empty(), "{said:?}");
    }

    #[test]
    fn conditions_are_read_from_the_snapshot() {
        let mut snapshot = Snapshot {
            state: ConnectionState::CircuitOpen {
                failures: 5,
                since_ms: 0,
                probe_every_ms: 2_000,
                answering: false,
                next_full_try_ms: 0,
            },
            last_error: Some(WorkerError::at(
                Stage::VersionExchange,
                ErrorCode::HandshakeTimeout,
                "no version reply",
            )),
            zombies: ZombieCount {
                ours: 0,
                gateway: 3,
                other_clients: 0,
            },
            ..Snapshot::default()
        };
        let found = conditions(&snapshot);
        assert_eq!(
            found.keys().copied().collect::<Vec<_>>(),
            [
                Condition::Disconnected,
                Condition::HandshakeStalled,
                Condition::ZombieSockets
            ]
        );
        snapshot = connected();
        if let ConnectionState::Connected(session) = snapshot.state.clone() {
            snapshot.state = ConnectionState::Degraded {
                session,
                reasons: vec![DegradedReason::IbLinkLost],
            };
        }
        assert_eq!(
            conditions(&snapshot).keys().copied().collect::<Vec<_>>(),
            [Condition::IbLinkLost]
        );
    }

    fn occurrence(needs_2fa: bool) -> gatewatch_calendar::Occurrence {
        gatewatch_calendar::Occurrence {
            kind: gatewatch_calendar::OccurrenceKind::DailyRestart,
            label: if needs_2fa {
                "weekly re-login restart"
            } else {
                "nightly restart"
            }
            .into(),
            starts_ms: 1_000,
            ends_ms: Some(181_000),
            expected_from_ms: 0,
            expected_until_ms: 301_000,
            overdue_at_ms: Some(481_000),
            needs_2fa,
            ibc_login: true,
            local: "Sun 23:45 EST".into(),
        }
    }

    fn expected(needs_2fa: bool) -> Snapshot {
        Snapshot {
            state: ConnectionState::ScheduledRestart {
                outage: occurrence(needs_2fa),
                connection: Box::new(reconnecting().state),
            },
            last_error: Some(WorkerError::at(
                Stage::VersionExchange,
                ErrorCode::HandshakeTimeout,
                "no version reply",
            )),
            ..Snapshot::default()
        }
    }

    fn overdue(needs_2fa: bool) -> Snapshot {
        let mut snapshot = expected(needs_2fa);
        if let ConnectionState::ScheduledRestart { outage, connection } = snapshot.state {
            snapshot.state = ConnectionState::Overdue { outage, connection };
        }
        snapshot
    }

    #[test]
    fn a_planned_restart_says_nothing_coming_and_going() {
        let (mut p, t0) = (policy(), Instant::now());
        p.observe(&connected(), t0);
        for s in 0..200 {
            let at = t0 + Duration::from_secs(s);
            assert!(p.observe(&expected(false), at).is_empty(), "at {s} s");
            assert!(p.tick(at).is_empty());
        }
        assert!(
            p.observe(&connected(), t0 + Duration::from_secs(200))
                .is_empty()
        );
        assert!(p.tick(t0 + Duration::from_secs(300)).is_empty());
    }

    #[test]
    fn overdue_is_said_at_once_and_once_then_its_end() {
        let (mut p, t0) = (policy(), Instant::now());
        p.observe(&expected(false), t0);
        let alerts = p.observe(&overdue(false), t0 + Duration::from_secs(480));
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(alerts[0].title, "Gateway paper did not come back");
        assert!(
            alerts[0]
                .body
                .starts_with("The gateway did not come back after its nightly restart"),
            "{}",
            alerts[0].body
        );
        for s in 481..1_000 {
            assert!(
                p.observe(&overdue(false), t0 + Duration::from_secs(s))
                    .is_empty(),
                "never one per retry"
            );
        }
        p.observe(&connected(), t0 + Duration::from_secs(1_000));
        let back = p.tick(t0 + Duration::from_secs(1_005));
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].title, "Gateway paper is back");
    }

    #[test]
    fn the_weekly_relogin_is_announced_when_back_or_as_overdue_with_the_phone() {
        let (mut p, t0) = (policy(), Instant::now());
        p.observe(&expected(true), t0);
        let back = p.observe(&connected(), t0 + Duration::from_secs(150));
        assert_eq!(back.len(), 1);
        assert_eq!(
            back[0].title,
            "Gateway paper is back after the weekly re-login"
        );
        assert!(back[0].body.contains("2 min"), "{}", back[0].body);
        assert!(
            p.observe(&connected(), t0 + Duration::from_secs(160))
                .is_empty()
        );
        let (mut p, t0) = (policy(), Instant::now());
        p.observe(&expected(true), t0);
        let late = p.observe(&overdue(true), t0 + Duration::from_secs(480));
        assert!(
            late[0]
                .body
                .contains("2FA approval is probably waiting on your phone"),
            "{late:?}"
        );
        p.observe(&connected(), t0 + Duration::from_secs(600));
        let back: Vec<String> = p
            .tick(t0 + Duration::from_secs(606))
            .into_iter()
            .map(|a| a.title)
            .collect();
        assert_eq!(back, ["Gateway paper is back"], "one recovery, not two");
    }

    #[test]
    fn the_sunday_reminder_names_each_gateway_once_per_lead_time() {
        let mut fleet = FleetAlerts::default();
        let hour = 3_600_000;
        let expiry = WeeklyExpiry {
            at_ms: 100 * hour,
            local: "Sun 01:00 ET".into(),
        };
        let gateways = [
            ReloginDue {
                name: "TWS live".into(),
                restart_local: "Sun 23:45 EST".into(),
            },
            ReloginDue {
                name: "Gateway paper".into(),
                restart_local: "Sun 23:45 CET".into(),
            },
        ];
        let settings = NotificationSettings::default();
        let mut remind =
            |at_ms| fleet.relogin_reminder(at_ms, &expiry, &[420, 60], &gateways, &settings);
        assert!(remind(92 * hour).is_none(), "8 h ahead: not yet");
        let evening = remind(93 * hour).expect("7 h ahead");
        assert_eq!(evening.title, "Weekly re-login (2FA) coming");
        assert!(
            evening.body.contains(
                "TWS live (restart Sun 23:45 EST) and Gateway paper (restart Sun 23:45 CET)"
            ),
            "{}",
            evening.body
        );
        assert!(
            evening.body.contains("Sun 01:00 ET (in 7 h 0 min)"),
            "{}",
            evening.body
        );
        assert!(remind(93 * hour + 1).is_none(), "once");
        assert!(remind(99 * hour - 1).is_none());
        assert!(remind(99 * hour).is_some(), "one hour before");
        assert!(remind(99 * hour + 1000).is_none());
        assert!(remind(100 * hour + 1).is_none(), "past the expiry");
        // Started late on Saturday: the two passed leads give one reminder.
        let mut fleet = FleetAlerts::default();
        let reminders: Vec<Alert> = (0..10)
            .filter_map(|n| {
                fleet.relogin_reminder(99 * hour + n, &expiry, &[420, 60], &gateways, &settings)
            })
            .collect();
        assert_eq!(reminders.len(), 1);
    }
}
