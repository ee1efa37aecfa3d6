//! Validation of the whole settings at once: every bad field, named by its path as the file
//! and the form spell it (`profiles[1].port`, `monitoring.ping_timeout_ms`).
//!
//! The rules for one gateway connection are the supervisor's (`SupervisorConfig::problems`),
//! mapped to where the user sets each value; the rules across profiles (unique names and
//! ids, no two profiles claiming the same client id on the same gateway) live here.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::{GatewayProfile, NotificationSettings, Settings};

/// A bad value, named by its path in the settings (`profiles[1].port`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error, TS)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The field's path, as the settings file and form spell it.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// Where a supervisor setting lives: in the profile itself, or in a monitoring section.
enum Home {
    Profile(&'static str),
    Monitoring(&'static str),
}

fn home(supervisor_field: &str) -> Option<Home> {
    Some(match supervisor_field {
        "host" => Home::Profile("host"),
        "port" => Home::Profile("port"),
        "client_id" => Home::Profile("client_id"),
        "fallback_client_id" => Home::Profile("fallback_client_id"),
        "ping_interval_ms" => Home::Monitoring("ping_interval_ms"),
        "ping_timeout_ms" => Home::Monitoring("ping_timeout_ms"),
        "slow_ping_ms" => Home::Monitoring("slow_ping_ms"),
        "timeouts.tcp_connect_ms" => Home::Monitoring("timeouts.tcp_connect_ms"),
        "timeouts.version_exchange_ms" => Home::Monitoring("timeouts.version_exchange_ms"),
        "timeouts.start_api_ms" => Home::Monitoring("timeouts.start_api_ms"),
        "timeouts.first_ping_ms" => Home::Monitoring("timeouts.first_ping_ms"),
        "timeouts.request_ms" => Home::Monitoring("timeouts.request_ms"),
        // Not set by the user: defaults the supervisor checks itself.
        _ => return None,
    })
}

impl FieldError {
    /// Several errors as one sentence: `profiles[1].port: must be …; monitoring.…: …`.
    pub fn join(errors: &[FieldError]) -> String {
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

struct Errors(Vec<FieldError>);

impl Errors {
    fn add(&mut self, field: String, message: impl Into<String>) {
        let message = message.into();
        if !self
            .0
            .iter()
            .any(|e| e.field == field && e.message == message)
        {
            self.0.push(FieldError { field, message });
        }
    }
}

pub(crate) fn validate(settings: &Settings) -> Result<(), Vec<FieldError>> {
    let mut errors = Errors(Vec::new());
    // The shared monitoring section is checked even when every profile overrides it, since a
    // profile added later inherits it.
    for problem in settings
        .supervisor_config(&GatewayProfile::default())
        .problems()
    {
        if let Some(Home::Monitoring(field)) = home(&problem.field) {
            errors.add(format!("monitoring.{field}"), problem.problem);
        }
    }
    check_notifications(&mut errors, "notifications", &settings.notifications);
    check_calendar(&mut errors, &settings.calendar);
    check_retention(&mut errors, &settings.history);
    check_endpoints(&mut errors, &settings.endpoints);
    for (index, profile) in settings.profiles.iter().enumerate() {
        let at = format!("profiles[{index}]");
        check_profile(&mut errors, settings, &at, profile);
    }
    check_across_profiles(&mut errors, &settings.profiles);
    if errors.0.is_empty() {
        Ok(())
    } else {
        Err(errors.0)
    }
}

fn check_profile(errors: &mut Errors, settings: &Settings, at: &str, profile: &GatewayProfile) {
    if profile.name.trim().is_empty() {
        errors.add(format!("{at}.name"), "must not be empty");
    }
    for problem in settings.supervisor_config(profile).problems() {
        if let Some(field) = problem.field.strip_prefix("calendar.") {
            // The shared overrides are named where they are set; the profile's own fields
            // under its schedule.
            match field.starts_with("server_windows") {
                true => errors.add(format!("calendar.{field}"), problem.problem),
                false => errors.add(format!("{at}.schedule.{field}"), problem.problem),
            }
            continue;
        }
        match home(&problem.field) {
            Some(Home::Profile(field)) => errors.add(format!("{at}.{field}"), problem.problem),
            Some(Home::Monitoring(field)) if profile.monitoring.is_some() => {
                errors.add(format!("{at}.monitoring.{field}"), problem.problem)
            }
            // Reported once, at the shared section.
            Some(Home::Monitoring(_)) | None => {}
        }
    }
    if let Some(notifications) = &profile.notifications {
        check_notifications(errors, &format!("{at}.notifications"), notifications);
    }
    if let Some(server) = &profile.schedule.ibc.command_server {
        if server.host.trim().is_empty() {
            errors.add(
                format!("{at}.schedule.ibc.command_server.host"),
                "must not be empty",
            );
        }
        if server.port == 0 {
            errors.add(
                format!("{at}.schedule.ibc.command_server.port"),
                "must be between 1 and 65535",
            );
        }
    }
}

fn check_calendar(errors: &mut Errors, calendar: &gatewatch_calendar::CalendarSettings) {
    let hours = |n: u32| n * 3_600;
    for (field, value, max) in [
        ("margin_secs", calendar.margin_secs, hours(2)),
        ("grace_secs", calendar.grace_secs, hours(6)),
        ("restart_takes_secs", calendar.restart_takes_secs, hours(1)),
    ] {
        if value > max {
            errors.add(
                format!("calendar.{field}"),
                format!("must be at most {max} seconds"),
            );
        }
    }
    if calendar.restart_takes_secs == 0 {
        errors.add("calendar.restart_takes_secs".into(), "must be above zero");
    }
    for (i, minutes) in calendar.relogin_reminders_mins.iter().enumerate() {
        if *minutes == 0 || *minutes > 7 * 24 * 60 {
            errors.add(
                format!("calendar.relogin_reminders_mins[{i}]"),
                "must be between 1 minute and a week (10080)",
            );
        }
    }
}

fn check_retention(errors: &mut Errors, retention: &crate::Retention) {
    for (field, value, max, unit) in [
        ("raw_hours", retention.raw_hours, 24 * 31, "hours (31 days)"),
        (
            "minute_days",
            retention.minute_days,
            3_660,
            "days (10 years)",
        ),
        ("event_days", retention.event_days, 3_660, "days (10 years)"),
    ] {
        if value == 0 || value > max {
            errors.add(
                format!("history.{field}"),
                format!("must be between 1 and {max} {unit}"),
            );
        }
    }
}

fn check_endpoints(errors: &mut Errors, endpoints: &crate::EndpointSettings) {
    match endpoints.listen.trim().parse::<std::net::SocketAddr>() {
        Err(_) => errors.add(
            "endpoints.listen".into(),
            "must be an address and a port, such as 127.0.0.1:7489",
        ),
        Ok(addr)
            if endpoints.enabled
                && crate::needs_token(&addr)
                && endpoints
                    .token_file
                    .as_deref()
                    .is_none_or(|f| f.trim().is_empty()) =>
        {
            errors.add(
                "endpoints.token_file".into(),
                "needed to listen on anything but 127.0.0.1: anyone who can reach the port would read your gateways and accounts",
            )
        }
        Ok(_) => {}
    }
}

fn check_notifications(errors: &mut Errors, at: &str, notifications: &NotificationSettings) {
    if notifications.hold_secs > 3_600 {
        errors.add(format!("{at}.hold_secs"), "must be at most 3600 seconds");
    }
}

/// Unique ids and names, and no client id claimed twice on one gateway (the second monitor
/// would meet 326 on every connect). A later profile is the one reported, naming the earlier.
fn check_across_profiles(errors: &mut Errors, profiles: &[GatewayProfile]) {
    for (later, profile) in profiles.iter().enumerate() {
        for (earlier, other) in profiles[..later].iter().enumerate() {
            let other_name = other.name.trim();
            if !profile.id.is_empty() && profile.id == other.id {
                errors.add(
                    format!("profiles[{later}].id"),
                    format!("the same id as profiles[{earlier}] (\"{other_name}\")"),
                );
            }
            if !profile.name.trim().is_empty()
                && profile.name.trim().eq_ignore_ascii_case(other_name)
            {
                errors.add(
                    format!("profiles[{later}].name"),
                    format!("\"{other_name}\" is already the name of profiles[{earlier}]"),
                );
            }
            let same_gateway = same_host(&profile.host, &other.host) && profile.port == other.port;
            if same_gateway {
                let ids =
                    |p: &GatewayProfile| std::iter::once(p.client_id).chain(p.fallback_client_id);
                if let Some(shared) = ids(profile).find(|id| ids(other).any(|o| o == *id)) {
                    let field = if shared == profile.client_id {
                        "client_id"
                    } else {
                        "fallback_client_id"
                    };
                    errors.add(
                        format!("profiles[{later}].{field}"),
                        format!(
                            "client id {shared} on {}:{} is already used by profiles[{earlier}] (\"{other_name}\")",
                            profile.host.trim(),
                            profile.port
                        ),
                    );
                }
            }
        }
    }
}

/// Whether two host spellings name the same machine as far as settings can tell: equal
/// names (case aside), or both this machine's loopback (`localhost`, `127.0.0.1`, `::1`).
fn same_host(a: &str, b: &str) -> bool {
    let loopback = |h: &str| {
        matches!(
            h.trim().to_ascii_lowercase().as_str(),
            "localhost" | "127.0.0.1" | "::1" | "[::1]"
        )
    };
    a.trim().eq_ignore_ascii_case(b.trim()) || (loopback(a) && loopback(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MonitoringSettings;

    fn profile(id: &str, name: &str, port: u16, client_id: i32) -> GatewayProfile {
        GatewayProfile {
            id: id.into(),
            name: name.into(),
            port,
            client_id,
            fallback_client_id: None,
            ..GatewayProfile::default()
        }
    }

    fn fields(settings: &Settings) -> Vec<String> {
        settings
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    fn two() -> Settings {
        Settings {
            profiles: vec![
                profile("live", "TWS live", 7496, 901),
                profile("paper", "Gateway paper", 4002, 901),
            ],
            ..Settings::default()
        }
    }

    #[test]
    fn two_gateways_with_the_same_client_id_are_fine() {
        two().validate().unwrap();
    }

    #[test]
    fn every_bad_field_is_named_by_its_path() {
        let mut settings = two();
        settings.profiles[1].port = 0;
        settings.profiles[1].host = "  ".into();
        settings.profiles[0].name = "".into();
        settings.monitoring.ping_timeout_ms = 5_000;
        settings.monitoring.slow_ping_ms = 0;
        settings.monitoring.timeouts.start_api_ms = 0;
        settings.notifications.hold_secs = 10_000;
        assert_eq!(
            fields(&settings),
            [
                "monitoring.slow_ping_ms",
                "monitoring.timeouts.start_api_ms",
                "monitoring.ping_timeout_ms",
                "notifications.hold_secs",
                "profiles[0].name",
                "profiles[1].host",
                "profiles[1].port",
            ]
        );
    }

    #[test]
    fn calendar_fields_are_named_where_they_are_set() {
        let mut settings = two();
        settings.profiles[0].schedule.daily.time = "24:10".into();
        settings.profiles[1].schedule.daily.time_zone = Some("Europe/Atlantis".into());
        settings.profiles[1].schedule.ibc.command_server = Some(gatewatch_calendar::HostPort {
            host: "127.0.0.1".into(),
            port: 0,
        });
        settings.calendar.relogin_reminders_mins = vec![60, 0];
        assert_eq!(
            fields(&settings),
            [
                "calendar.relogin_reminders_mins[1]",
                "profiles[0].schedule.daily.time",
                "profiles[1].schedule.daily.time_zone",
                "profiles[1].schedule.ibc.command_server.port",
            ]
        );
    }

    #[test]
    fn endpoints_need_an_address_and_a_token_file_off_loopback() {
        let mut settings = Settings::default();
        settings.endpoints.listen = "localhost".into();
        let errors = validate(&settings).unwrap_err();
        assert_eq!(errors[0].field, "endpoints.listen");
        settings.endpoints.listen = "0.0.0.0:7489".into();
        assert!(validate(&settings).is_ok(), "off, it is only a value");
        settings.endpoints.enabled = true;
        let errors = validate(&settings).unwrap_err();
        assert_eq!(errors[0].field, "endpoints.token_file");
        settings.endpoints.token_file = Some("/etc/gatewatch/token".into());
        assert!(validate(&settings).is_ok());
        settings.endpoints = crate::EndpointSettings {
            enabled: true,
            ..Default::default()
        };
        assert!(validate(&settings).is_ok(), "loopback needs no token");
    }

    #[test]
    fn history_retention_must_keep_something_and_not_forever() {
        let mut settings = two();
        settings.history.raw_hours = 0;
        settings.history.event_days = 100_000;
        assert_eq!(
            fields(&settings),
            ["history.raw_hours", "history.event_days"]
        );
        settings.history = crate::Retention {
            raw_hours: 1,
            minute_days: 3_660,
            event_days: 1,
        };
        assert!(settings.validate().is_ok());
    }

    #[test]
    fn an_override_is_checked_at_its_own_path() {
        let mut settings = two();
        settings.profiles[1].monitoring = Some(MonitoringSettings {
            ping_timeout_ms: 50_000,
            ..MonitoringSettings::default()
        });
        settings.profiles[0].notifications = Some(NotificationSettings {
            hold_secs: 4_000,
            ..NotificationSettings::default()
        });
        assert_eq!(
            fields(&settings),
            [
                "profiles[0].notifications.hold_secs",
                "profiles[1].monitoring.ping_timeout_ms"
            ]
        );
    }

    #[test]
    fn duplicate_names_and_ids_are_refused() {
        let mut settings = two();
        settings
            .profiles
            .push(profile("paper", " tws LIVE ", 4001, 901));
        let errors = settings.validate().unwrap_err();
        assert_eq!(
            errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
            [
                "profiles[2].name: \"TWS live\" is already the name of profiles[0]",
                "profiles[2].id: the same id as profiles[1] (\"Gateway paper\")",
            ]
        );
    }

    #[test]
    fn one_client_id_twice_on_one_gateway_is_refused() {
        let mut settings = two();
        settings
            .profiles
            .push(profile("paper-2", "Paper again", 4002, 901));
        assert_eq!(
            settings.validate().unwrap_err()[0].to_string(),
            "profiles[2].client_id: client id 901 on 127.0.0.1:4002 is already used by profiles[1] (\"Gateway paper\")"
        );
        // A fallback that is the other's client id collides as well.
        settings.profiles[2].client_id = 950;
        settings.profiles[2].fallback_client_id = Some(901);
        assert_eq!(fields(&settings), ["profiles[2].fallback_client_id"]);
        // Other ids on the same gateway are fine.
        settings.profiles[2].fallback_client_id = Some(951);
        settings.validate().unwrap();
        // `localhost` and `127.0.0.1` are the same gateway.
        settings.profiles[2].client_id = 901;
        settings.profiles[2].host = "localhost".into();
        assert_eq!(fields(&settings), ["profiles[2].client_id"]);
        settings.profiles[2].host = "10.0.0.5".into();
        settings.validate().unwrap();
    }
}
