//! The user's settings, as the desktop app edits and stores them.
//!
//! [`Settings`] is what the settings form shows; [`Settings::validate`] reports every bad
//! field at once, named as the form names it (`gateway.port`), using the supervisor's own
//! rules so there is one definition of a valid setting. [`SettingsStore`] keeps the file in
//! the platform config directory: it writes atomically and never overwrites what it cannot
//! read — a corrupt file is renamed aside and reported, and defaults are used.

mod store;

pub use store::{LoadProblem, Loaded, SaveError, SettingsStore};

use gatewatch_protocol::Timeouts;
use gatewatch_supervisor::SupervisorConfig;
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
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct Settings {
    /// Where the gateway is and who the monitor is to it.
    pub gateway: GatewaySettings,
    /// How closely it is watched.
    pub monitoring: MonitoringSettings,
    /// Which desktop notifications are raised.
    pub notifications: NotificationSettings,
    /// Start hidden in the tray.
    pub start_minimized: bool,
}

/// The gateway connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct GatewaySettings {
    /// Host (`127.0.0.1` for a gateway on this machine).
    pub host: String,
    /// API port (see [`PORT_PRESETS`]).
    pub port: u16,
    /// The monitor's client id; keep it apart from the trading bots' ids.
    pub client_id: i32,
    /// Tried once when the client id is in use (326).
    pub fallback_client_id: Option<i32>,
}

/// Ping and connect timing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct MonitoringSettings {
    /// Time between pings.
    pub ping_interval_ms: u64,
    /// How long a ping may take before it counts as lost.
    pub ping_timeout_ms: u64,
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
    /// A bad state ended.
    pub recovered: bool,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        let defaults = SupervisorConfig::default();
        Self {
            host: defaults.host,
            port: defaults.port,
            client_id: defaults.client_id,
            fallback_client_id: defaults.fallback_client_id,
        }
    }
}

impl Default for MonitoringSettings {
    fn default() -> Self {
        let defaults = SupervisorConfig::default();
        Self {
            ping_interval_ms: defaults.ping_interval_ms,
            ping_timeout_ms: defaults.ping_timeout_ms,
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
            recovered: true,
        }
    }
}

/// A bad value, named by its path in the settings (`gateway.port`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error, TS)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The field's path, as the settings file and form spell it.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl Settings {
    /// The supervisor settings these stand for.
    pub fn supervisor_config(&self) -> SupervisorConfig {
        SupervisorConfig {
            host: self.gateway.host.trim().to_owned(),
            port: self.gateway.port,
            client_id: self.gateway.client_id,
            fallback_client_id: self.gateway.fallback_client_id,
            ping_interval_ms: self.monitoring.ping_interval_ms,
            ping_timeout_ms: self.monitoring.ping_timeout_ms,
            timeouts: self.monitoring.timeouts,
            ..SupervisorConfig::default()
        }
    }

    /// Every bad field, or `Ok` when the settings can be used and saved.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors: Vec<FieldError> = self
            .supervisor_config()
            .problems()
            .into_iter()
            .filter_map(|p| {
                Some(FieldError {
                    field: settings_field(&p.field)?.to_owned(),
                    message: p.problem,
                })
            })
            .collect();
        if self.notifications.hold_secs > 3_600 {
            errors.push(FieldError {
                field: "notifications.hold_secs".into(),
                message: "must be at most 3600 seconds".into(),
            });
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// Where a supervisor setting lives in [`Settings`]; `None` for those the user does not set.
fn settings_field(supervisor_field: &str) -> Option<&'static str> {
    Some(match supervisor_field {
        "host" => "gateway.host",
        "port" => "gateway.port",
        "client_id" => "gateway.client_id",
        "fallback_client_id" => "gateway.fallback_client_id",
        "ping_interval_ms" => "monitoring.ping_interval_ms",
        "ping_timeout_ms" => "monitoring.ping_timeout_ms",
        "timeouts.tcp_connect_ms" => "monitoring.timeouts.tcp_connect_ms",
        "timeouts.version_exchange_ms" => "monitoring.timeouts.version_exchange_ms",
        "timeouts.start_api_ms" => "monitoring.timeouts.start_api_ms",
        "timeouts.first_ping_ms" => "monitoring.timeouts.first_ping_ms",
        "timeouts.request_ms" => "monitoring.timeouts.request_ms",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_the_supervisor() {
        let settings = Settings::default();
        settings.validate().unwrap();
        assert_eq!(settings.supervisor_config(), SupervisorConfig::default());
    }

    #[test]
    fn every_bad_field_is_named_as_the_form_names_it() {
        let mut settings = Settings::default();
        settings.gateway.port = 0;
        settings.gateway.host = "  ".into();
        settings.monitoring.ping_timeout_ms = 5_000;
        settings.monitoring.timeouts.start_api_ms = 0;
        settings.notifications.hold_secs = 10_000;
        let fields: Vec<String> = settings
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "gateway.host",
                "gateway.port",
                "monitoring.timeouts.start_api_ms",
                "monitoring.ping_timeout_ms",
                "notifications.hold_secs"
            ]
        );
    }

    #[test]
    fn a_partial_file_fills_in_defaults() {
        let settings: Settings = serde_json::from_str(r#"{"gateway":{"port":7497}}"#).unwrap();
        assert_eq!(settings.gateway.port, 7497);
        assert_eq!(settings.gateway.host, "127.0.0.1");
        assert_eq!(settings.monitoring, MonitoringSettings::default());
    }

    #[test]
    fn a_retired_field_in_an_older_file_is_ignored_not_refused() {
        // `notifications.circuit_open` went when retrying and probing became one outage.
        let settings: Settings =
            serde_json::from_str(r#"{"notifications":{"circuit_open":false,"hold_secs":9}}"#)
                .unwrap();
        assert_eq!(settings.notifications.hold_secs, 9);
        settings.validate().unwrap();
    }

    #[test]
    fn presets_are_ibs_default_ports() {
        assert!(PORT_PRESETS.contains(&("IB Gateway paper", 4002)));
        assert!(PORT_PRESETS.contains(&("TWS live", 7496)));
    }
}
