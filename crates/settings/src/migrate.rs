//! Reading settings files of every format a release has written.
//!
//! The first releases watched one gateway and wrote it as `"gateway": {host, port,
//! client_id, fallback_client_id}`; that becomes the one profile of the current format, named
//! after IB's default port it uses ("IB Gateway paper") and with the id `gateway`, with
//! nothing else changed (a fallback it left out is that release's default, 902). The store
//! keeps the old file beside the new one.
//!
//! A profile that leaves out `fallback_client_id` falls back to its client id + 1, as the
//! command line does: a fixed default would give every profile on one gateway the same
//! fallback, and a profile whose client id is the default fallback an invalid one.

use serde_json::{Map, Value};

use crate::{Settings, preset_name};

/// A settings file as read.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The settings.
    pub settings: Settings,
    /// It was in the one-gateway format and has been migrated.
    pub migrated: bool,
    /// Keys that mean nothing to this release (misspelt, or retired), by path
    /// (`profiles[0].clientId`): ignored, and worth telling the user about.
    pub ignored: Vec<String>,
}

/// Parses `text`, migrating the one-gateway format.
pub(crate) fn from_json(text: &str) -> Result<Parsed, serde_json::Error> {
    let mut value: Value = serde_json::from_str(text)?;
    let migrated = match value.as_object_mut() {
        Some(object) if object.contains_key("gateway") && !object.contains_key("profiles") => {
            let gateway = object.remove("gateway").expect("checked above");
            object.insert("profiles".into(), Value::Array(vec![profile_from(gateway)]));
            true
        }
        _ => false,
    };
    if let Some(profiles) = value.get_mut("profiles").and_then(Value::as_array_mut) {
        profiles.iter_mut().for_each(fallback_next_to_client_id);
    }
    let mut ignored = Vec::new();
    // A value of the wrong type is named by its path (`profiles[0].port: invalid value …`).
    let mut note = |path: serde_ignored::Path<'_>| ignored.push(path_name(&path));
    let settings =
        serde_path_to_error::deserialize(serde_ignored::Deserializer::new(value, &mut note))
            .map_err(|e| {
                <serde_json::Error as serde::de::Error>::custom(format!(
                    "{}: {}",
                    e.path(),
                    e.inner()
                ))
            })?;
    Ok(Parsed {
        settings,
        migrated,
        ignored,
    })
}

/// `profiles.0.clientId` as the form and validation spell it: `profiles[0].clientId`.
fn path_name(path: &serde_ignored::Path<'_>) -> String {
    let mut name = String::new();
    for segment in path.to_string().split('.') {
        if segment.chars().all(|c| c.is_ascii_digit()) && !name.is_empty() {
            name.push_str(&format!("[{segment}]"));
        } else {
            if !name.is_empty() {
                name.push('.');
            }
            name.push_str(segment);
        }
    }
    name
}

/// Gives a profile that says nothing of its fallback the client id + 1 (none past the
/// largest id).
fn fallback_next_to_client_id(profile: &mut Value) {
    let Some(fields) = profile.as_object_mut() else {
        return;
    };
    if fields.contains_key("fallback_client_id") {
        return;
    }
    let client_id = match fields.get("client_id") {
        None => Some(i64::from(crate::GatewayProfile::default().client_id)),
        Some(id) => id.as_i64(),
    };
    if let Some(client_id) = client_id {
        let next = client_id
            .checked_add(1)
            .filter(|n| *n <= i64::from(i32::MAX))
            .map_or(Value::Null, Value::from);
        fields.insert("fallback_client_id".into(), next);
    }
}

/// The fallback client id the one-gateway releases used when the file named none.
const ONE_GATEWAY_FALLBACK: i32 = 902;

fn profile_from(gateway: Value) -> Value {
    let mut profile = match gateway {
        Value::Object(fields) => fields,
        // Not an object: left for serde to refuse with its own message.
        other => return other,
    };
    let port = profile
        .get("port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(crate::GatewayProfile::default().port);
    let name = preset_name(port).unwrap_or("Gateway");
    let mut head = Map::new();
    head.insert("id".into(), "gateway".into());
    head.insert("name".into(), name.into());
    head.insert("fallback_client_id".into(), ONE_GATEWAY_FALLBACK.into());
    head.append(&mut profile);
    Value::Object(head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GatewayProfile;

    /// A file exactly as the one-gateway release wrote it.
    const ONE_GATEWAY: &str = r#"{
  "gateway": { "host": "10.0.0.5", "port": 7496, "client_id": 77, "fallback_client_id": null },
  "monitoring": { "ping_interval_ms": 2000, "ping_timeout_ms": 900,
    "timeouts": { "tcp_connect_ms": 1000, "version_exchange_ms": 3000, "start_api_ms": 5000,
                  "first_ping_ms": 3000, "request_ms": 10000 } },
  "notifications": { "enabled": true, "hold_secs": 12, "disconnected": true,
    "handshake_stalled": false, "ib_link_lost": true, "zombie_sockets": true,
    "recovered": false, "circuit_open": true },
  "start_minimized": true
}"#;

    #[test]
    fn a_one_gateway_file_becomes_one_profile_with_nothing_lost() {
        let parsed = from_json(ONE_GATEWAY).unwrap();
        let settings = parsed.settings;
        assert!(parsed.migrated);
        assert_eq!(
            parsed.ignored,
            ["notifications.circuit_open"],
            "the retired switch is named, not lost in silence"
        );
        assert_eq!(
            settings.profiles,
            [GatewayProfile {
                id: "gateway".into(),
                name: "TWS live".into(),
                host: "10.0.0.5".into(),
                port: 7496,
                client_id: 77,
                fallback_client_id: None,
                enabled: true,
                monitoring: None,
                notifications: None,
                schedule: Default::default(),
            }]
        );
        assert_eq!(settings.monitoring.ping_interval_ms, 2000);
        assert_eq!(settings.monitoring.ping_timeout_ms, 900);
        assert_eq!(settings.monitoring.timeouts.start_api_ms, 5000);
        assert_eq!(settings.notifications.hold_secs, 12);
        assert!(!settings.notifications.handshake_stalled);
        assert!(!settings.notifications.recovered);
        assert!(settings.start_minimized);
        settings.validate().unwrap();
    }

    #[test]
    fn a_partial_one_gateway_file_fills_in_defaults() {
        let Parsed {
            settings, migrated, ..
        } = from_json(r#"{"gateway":{"port":7497}}"#).unwrap();
        assert!(migrated);
        assert_eq!(settings.profiles[0].port, 7497);
        assert_eq!(settings.profiles[0].name, "TWS paper");
        assert_eq!(settings.profiles[0].host, "127.0.0.1");
    }

    #[test]
    fn a_current_file_is_read_as_it_is() {
        let text = r#"{"profiles":[{"id":"a","name":"A","port":4001},{"id":"b","name":"B","enabled":false}]}"#;
        let Parsed {
            settings, migrated, ..
        } = from_json(text).unwrap();
        assert!(!migrated);
        assert_eq!(settings.profiles.len(), 2);
        assert!(!settings.profiles[1].enabled);
        assert_eq!(settings.profiles[1].port, 4002);
        // No profiles at all is a valid choice, not a reason to invent one.
        let settings = from_json(r#"{"profiles":[]}"#).unwrap().settings;
        assert!(settings.profiles.is_empty());
    }

    #[test]
    fn a_profile_without_a_fallback_falls_back_to_its_client_id_plus_one() {
        let text = r#"{"profiles":[
            {"id":"a","name":"A","port":4002,"client_id":931},
            {"id":"b","name":"B","port":4002,"client_id":941},
            {"id":"c","name":"C","port":4001,"client_id":902},
            {"id":"d","name":"D","port":4003},
            {"id":"e","name":"E","port":4004,"client_id":2147483647},
            {"id":"f","name":"F","port":4005,"client_id":5,"fallback_client_id":null}
        ]}"#;
        let settings = from_json(text).unwrap().settings;
        let fallbacks: Vec<Option<i32>> = settings
            .profiles
            .iter()
            .map(|p| p.fallback_client_id)
            .collect();
        assert_eq!(
            fallbacks,
            [Some(932), Some(942), Some(903), Some(902), None, None]
        );
        settings.validate().unwrap();
    }

    #[test]
    fn a_one_gateway_file_without_a_fallback_keeps_that_releases_902() {
        let settings = from_json(r#"{"gateway":{"port":7496,"client_id":77}}"#)
            .unwrap()
            .settings;
        assert_eq!(settings.profiles[0].fallback_client_id, Some(902));
    }

    #[test]
    fn misspelt_keys_are_named_by_their_path() {
        let text = r#"{"profiles":[{"id":"x","name":"X","port":4001,"clientId":77,"enable":false}],
                       "monitoring":{"ping_every":5}}"#;
        let parsed = from_json(text).unwrap();
        assert_eq!(
            parsed.ignored,
            // In key order: serde_json's maps are sorted.
            [
                "monitoring.ping_every",
                "profiles[0].clientId",
                "profiles[0].enable"
            ]
        );
        assert!(parsed.settings.profiles[0].enabled, "the defaults stand in");
    }

    #[test]
    fn a_gateway_that_is_not_an_object_is_refused_by_serde() {
        assert!(from_json(r#"{"gateway": 5}"#).is_err());
    }

    #[test]
    fn a_value_of_the_wrong_type_is_named_by_its_path() {
        let text = r#"{"profiles":[{"id":"a","name":"A","port":4002},
            {"id":"b","name":"B","port":4001,"schedule":{"ibc":{"command_server":{"host":"h","port":70000}}}}]}"#;
        let error = Settings::from_json(text).unwrap_err().to_string();
        assert!(
            error.starts_with(
                "profiles[1].schedule.ibc.command_server.port: invalid value: integer `70000`"
            ),
            "{error}"
        );
        let error = Settings::from_json(r#"{"profiles":[{"schedule":{"region":"mars"}}]}"#)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("profiles[0].schedule.region: unknown variant `mars`"),
            "{error}"
        );
    }
}
