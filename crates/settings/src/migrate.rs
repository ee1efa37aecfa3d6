//! Reading settings files of every format a release has written.
//!
//! The first releases watched one gateway and wrote it as `"gateway": {host, port,
//! client_id, fallback_client_id}`; that becomes the one profile of the current format, named
//! after IB's default port it uses ("IB Gateway paper") and with the id `gateway`, with
//! nothing else changed. The store keeps the old file beside the new one.

use serde_json::{Map, Value};

use crate::{Settings, preset_name};

/// Parses `text`; `true` when it was in the one-gateway format and has been migrated.
pub(crate) fn from_json(text: &str) -> Result<(Settings, bool), serde_json::Error> {
    let mut value: Value = serde_json::from_str(text)?;
    let migrated = match value.as_object_mut() {
        Some(object) if object.contains_key("gateway") && !object.contains_key("profiles") => {
            let gateway = object.remove("gateway").expect("checked above");
            object.insert("profiles".into(), Value::Array(vec![profile_from(gateway)]));
            true
        }
        _ => false,
    };
    Ok((serde_json::from_value(value)?, migrated))
}

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
        let (settings, migrated) = from_json(ONE_GATEWAY).unwrap();
        assert!(migrated);
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
        let (settings, migrated) = from_json(r#"{"gateway":{"port":7497}}"#).unwrap();
        assert!(migrated);
        assert_eq!(settings.profiles[0].port, 7497);
        assert_eq!(settings.profiles[0].name, "TWS paper");
        assert_eq!(settings.profiles[0].host, "127.0.0.1");
    }

    #[test]
    fn a_current_file_is_read_as_it_is() {
        let text = r#"{"profiles":[{"id":"a","name":"A","port":4001},{"id":"b","name":"B","enabled":false}]}"#;
        let (settings, migrated) = from_json(text).unwrap();
        assert!(!migrated);
        assert_eq!(settings.profiles.len(), 2);
        assert!(!settings.profiles[1].enabled);
        assert_eq!(settings.profiles[1].port, 4002);
        // No profiles at all is a valid choice, not a reason to invent one.
        let (settings, _) = from_json(r#"{"profiles":[]}"#).unwrap();
        assert!(settings.profiles.is_empty());
    }

    #[test]
    fn a_gateway_that_is_not_an_object_is_refused_by_serde() {
        assert!(from_json(r#"{"gateway": 5}"#).is_err());
    }
}
