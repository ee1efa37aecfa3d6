//! The user's settings, as the desktop app edits and stores them and the CLI reads them.
//!
//! [`Settings`] holds a list of gateway profiles ([`GatewayProfile`]): one per gateway the
//! trader runs, each with its own name, address and client ids, and optionally its own
//! monitoring and notification settings; the shared sections are the defaults.
//! [`Settings::validate`] reports every bad field at once, named by its path
//! (`profiles[1].port`), using the supervisor's own rules so there is one definition of a
//! valid setting. [`SettingsStore`] keeps the file in the platform config directory: it
//! writes atomically, never overwrites what it cannot read (a corrupt file is renamed aside
//! and reported), and migrates a file of the one-gateway format, keeping the old file beside.

mod migrate;
mod store;
mod validate;

pub use migrate::Parsed;
pub use store::{LoadProblem, Loaded, SaveError, SettingsStore};
pub use validate::FieldError;

use gatewatch_calendar::{CalendarSettings, GatewaySchedule};
use gatewatch_protocol::Timeouts;
use gatewatch_supervisor::{CalendarConfig, SupervisorConfig};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The API ports IB uses by default, for the port presets.
pub const PORT_PRESETS: [(&str, u16); 4] = [
    ("TWS live", 7496),
    ("TWS paper", 7497),
    ("IB Gateway live", 4001),
    ("IB Gateway paper", 4002),
];

/// Everything the user can set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct Settings {
    /// The gateways watched, in the order the window shows them.
    pub profiles: Vec<GatewayProfile>,
    /// How closely gateways are watched, unless a profile says otherwise.
    pub monitoring: MonitoringSettings,
    /// Which desktop notifications are raised, unless a profile says otherwise.
    pub notifications: NotificationSettings,
    /// Start hidden in the tray.
    pub start_minimized: bool,
    /// Start Gatewatch when the user logs in (the desktop's autostart entry); off by default.
    pub start_at_login: bool,
    /// Margins, grace time, Sunday reminders and server-window overrides of the IB
    /// calendar, for every gateway.
    pub calendar: CalendarSettings,
    /// How long the history database keeps each kind of row.
    pub history: Retention,
    /// The HTTP endpoints (`/metrics`, `/readyz`, …) for a Prometheus or Grafana at home;
    /// off by default. (`gatewatch-cli serve` takes its own `--listen` and `--token`.)
    pub endpoints: EndpointSettings,
}

/// Where the desktop app serves its metrics and health endpoints, if at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct EndpointSettings {
    /// Serve them.
    pub enabled: bool,
    /// Address and port, `127.0.0.1:7489` by default.
    pub listen: String,
    /// A file whose first line is the bearer token; needed for any address but loopback.
    pub token_file: Option<String>,
}

/// The endpoints' default address: loopback, on a port outside Prometheus' exporter range
/// (9100–9999, fully allocated since 2023) and away from IB's own (4001/4002, 7496/7497, and
/// the 4003/4004 relays of the Docker images).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7489";

/// Whether serving the endpoints on `addr` needs a token: any address but loopback
/// (`::ffff:127.0.0.1` is loopback too).
pub fn needs_token(addr: &std::net::SocketAddr) -> bool {
    !addr.ip().to_canonical().is_loopback()
}

impl Default for EndpointSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            listen: DEFAULT_LISTEN.into(),
            token_file: None,
        }
    }
}

/// How long the history database keeps each kind of row; older rows are deleted in the
/// background.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct Retention {
    /// Raw pings, hours (the 5-minute and 1-hour charts and exact percentiles read them).
    pub raw_hours: u32,
    /// Per-minute latency and connect attempts, days.
    pub minute_days: u32,
    /// Events, incidents and CLOSE_WAIT changes, days.
    pub event_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            raw_hours: 48,
            minute_days: 90,
            event_days: 365,
        }
    }
}

/// One gateway: where it is, who the monitor is to it, and what differs from the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct GatewayProfile {
    /// A stable id that survives renames (history and metrics are keyed by it). Left empty,
    /// one is given when the settings are saved.
    pub id: String,
    /// The name the user chose ("TWS live", "Gateway paper", "VPS").
    pub name: String,
    /// Host (`127.0.0.1` for a gateway on this machine).
    pub host: String,
    /// API port (see [`PORT_PRESETS`]).
    pub port: u16,
    /// The monitor's client id; keep it apart from the trading bots' ids.
    pub client_id: i32,
    /// Tried once when the client id is in use (326).
    pub fallback_client_id: Option<i32>,
    /// Watched or not.
    pub enabled: bool,
    /// This gateway's own ping and connect timing, instead of the shared one.
    pub monitoring: Option<MonitoringSettings>,
    /// This gateway's own notification settings, instead of the shared ones.
    pub notifications: Option<NotificationSettings>,
    /// Its place in IB's calendar: server region, daily restart or log off, IBC.
    pub schedule: GatewaySchedule,
}

/// Ping and connect timing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct MonitoringSettings {
    /// Time between pings.
    pub ping_interval_ms: u64,
    /// How long a ping may take before it counts as lost.
    pub ping_timeout_ms: u64,
    /// The last minute's median round trip above this shows the gateway as slow, not
    /// connected and well.
    pub slow_ping_ms: u64,
    /// Per-stage connect timeouts.
    pub timeouts: Timeouts,
}

/// Desktop notifications, per kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct NotificationSettings {
    /// Master switch.
    pub enabled: bool,
    /// A bad state must hold this long before it is announced (a flapping link stays quiet).
    pub hold_secs: u64,
    /// The connection is down.
    pub disconnected: bool,
    /// A handshake stage stalls (zombie gateway, no nextValidId).
    pub handshake_stalled: bool,
    /// 1100: the gateway lost IB.
    pub ib_link_lost: bool,
    /// Sockets stuck in CLOSE_WAIT.
    pub zombie_sockets: bool,
    /// Connected, but pings go unanswered in time or are slow.
    pub slow_or_lost_pings: bool,
    /// A gateway not back after a planned restart or a server reset (overdue), and back
    /// after the weekly re-login.
    pub overdue: bool,
    /// Reminders before the weekly re-login (2FA) on Sunday.
    pub relogin_reminders: bool,
    /// A bad state ended.
    pub recovered: bool,
    /// Play the desktop's warning sound with a bad state's notification (off by default).
    pub sound: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            profiles: vec![GatewayProfile {
                id: "gateway".into(),
                ..GatewayProfile::default()
            }],
            monitoring: MonitoringSettings::default(),
            notifications: NotificationSettings::default(),
            start_minimized: false,
            start_at_login: false,
            calendar: CalendarSettings::default(),
            history: Retention::default(),
            endpoints: EndpointSettings::default(),
        }
    }
}

impl Default for GatewayProfile {
    fn default() -> Self {
        let defaults = SupervisorConfig::default();
        Self {
            id: String::new(),
            name: preset_name(defaults.port).unwrap_or("Gateway").into(),
            host: defaults.host,
            port: defaults.port,
            client_id: defaults.client_id,
            fallback_client_id: defaults.fallback_client_id,
            enabled: true,
            monitoring: None,
            notifications: None,
            schedule: GatewaySchedule::default(),
        }
    }
}

impl Default for MonitoringSettings {
    fn default() -> Self {
        let defaults = SupervisorConfig::default();
        Self {
            ping_interval_ms: defaults.ping_interval_ms,
            ping_timeout_ms: defaults.ping_timeout_ms,
            slow_ping_ms: defaults.slow_ping_ms,
            timeouts: defaults.timeouts,
        }
    }
}

impl Default for NotificationSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            hold_secs: 5,
            disconnected: true,
            handshake_stalled: true,
            ib_link_lost: true,
            zombie_sockets: true,
            slow_or_lost_pings: true,
            overdue: true,
            relogin_reminders: true,
            recovered: true,
            sound: false,
        }
    }
}

/// The name IB gives a default port ("IB Gateway paper" for 4002).
pub fn preset_name(port: u16) -> Option<&'static str> {
    PORT_PRESETS
        .iter()
        .find(|(_, p)| *p == port)
        .map(|(name, _)| *name)
}

impl Settings {
    /// Reads a settings file's text, in the current format or the one-gateway format of the
    /// first releases (migrated to one profile), naming the keys it ignored.
    pub fn from_json(text: &str) -> Result<Parsed, serde_json::Error> {
        migrate::from_json(text)
    }

    /// The profiles being watched.
    pub fn enabled_profiles(&self) -> impl Iterator<Item = &GatewayProfile> {
        self.profiles.iter().filter(|p| p.enabled)
    }

    /// The profile with this id.
    pub fn profile(&self, id: &str) -> Option<&GatewayProfile> {
        self.profiles.iter().find(|p| p.id == id)
    }

    /// The profile with this name, ignoring case and surrounding spaces.
    pub fn profile_named(&self, name: &str) -> Option<&GatewayProfile> {
        let name = name.trim();
        self.profiles
            .iter()
            .find(|p| p.name.trim().eq_ignore_ascii_case(name))
    }

    /// The monitoring settings in force for `profile`.
    pub fn monitoring_for<'a>(&'a self, profile: &'a GatewayProfile) -> &'a MonitoringSettings {
        profile.monitoring.as_ref().unwrap_or(&self.monitoring)
    }

    /// The notification settings in force for `profile`.
    pub fn notifications_for<'a>(
        &'a self,
        profile: &'a GatewayProfile,
    ) -> &'a NotificationSettings {
        profile
            .notifications
            .as_ref()
            .unwrap_or(&self.notifications)
    }

    /// The supervisor settings `profile` stands for.
    pub fn supervisor_config(&self, profile: &GatewayProfile) -> SupervisorConfig {
        let monitoring = self.monitoring_for(profile);
        SupervisorConfig {
            host: profile.host.trim().to_owned(),
            port: profile.port,
            client_id: profile.client_id,
            fallback_client_id: profile.fallback_client_id,
            ping_interval_ms: monitoring.ping_interval_ms,
            ping_timeout_ms: monitoring.ping_timeout_ms,
            slow_ping_ms: monitoring.slow_ping_ms,
            timeouts: monitoring.timeouts,
            calendar: Some(CalendarConfig {
                schedule: profile.schedule.clone(),
                settings: self.calendar.clone(),
            }),
            ..SupervisorConfig::default()
        }
    }

    /// Gives every profile without an id one of its own, made from its name and unique in
    /// these settings. Ids already given are never changed.
    pub fn assign_ids(&mut self) {
        for index in 0..self.profiles.len() {
            if !self.profiles[index].id.trim().is_empty() {
                continue;
            }
            let base = slug(&self.profiles[index].name);
            let mut id = base.clone();
            let mut n = 2;
            while self.profiles.iter().any(|p| p.id == id) {
                id = format!("{base}-{n}");
                n += 1;
            }
            self.profiles[index].id = id;
        }
    }

    /// Every bad field, or `Ok` when the settings can be used and saved.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        validate::validate(self)
    }
}

/// `"TWS live #2"` → `"tws-live-2"`; `"gateway"` when nothing is left.
fn slug(name: &str) -> String {
    let mut slug = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-').to_owned();
    if slug.is_empty() {
        "gateway".into()
    } else {
        slug
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_the_supervisor() {
        let settings = Settings::default();
        settings.validate().unwrap();
        assert_eq!(
            SupervisorConfig {
                calendar: None,
                ..settings.supervisor_config(&settings.profiles[0])
            },
            SupervisorConfig::default()
        );
        assert_eq!(settings.profiles[0].name, "IB Gateway paper");
    }

    #[test]
    fn a_profile_uses_its_own_monitoring_and_notifications_when_it_has_them() {
        let mut settings = Settings::default();
        settings.monitoring.ping_interval_ms = 2_000;
        let mut own = settings.clone().profiles.remove(0);
        own.id = "vps".into();
        own.monitoring = Some(MonitoringSettings {
            ping_interval_ms: 5_000,
            ping_timeout_ms: 2_000,
            ..MonitoringSettings::default()
        });
        own.notifications = Some(NotificationSettings {
            hold_secs: 60,
            ..NotificationSettings::default()
        });
        settings.profiles.push(own);
        let shared = &settings.profiles[0];
        let vps = &settings.profiles[1];
        assert_eq!(settings.supervisor_config(shared).ping_interval_ms, 2_000);
        assert_eq!(settings.supervisor_config(vps).ping_interval_ms, 5_000);
        assert_eq!(settings.notifications_for(shared).hold_secs, 5);
        assert_eq!(settings.notifications_for(vps).hold_secs, 60);
    }

    #[test]
    fn ids_are_given_from_names_unique_and_never_changed() {
        let mut settings = Settings::default();
        for name in ["TWS live", "TWS live!", "  ", "Gateway paper"] {
            settings.profiles.push(GatewayProfile {
                name: name.into(),
                ..GatewayProfile::default()
            });
        }
        settings.assign_ids();
        let ids: Vec<&str> = settings.profiles.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "gateway",
                "tws-live",
                "tws-live-2",
                "gateway-2",
                "gateway-paper"
            ]
        );
    }

    #[test]
    fn a_profile_is_found_by_name_ignoring_case() {
        let settings = Settings::default();
        assert_eq!(
            settings.profile_named(" ib gateway PAPER ").map(|p| &p.id),
            Some(&"gateway".to_owned())
        );
        assert!(settings.profile_named("TWS live").is_none());
    }

    #[test]
    fn presets_are_ibs_default_ports() {
        assert!(PORT_PRESETS.contains(&("IB Gateway paper", 4002)));
        assert!(PORT_PRESETS.contains(&("TWS live", 7496)));
    }
}
