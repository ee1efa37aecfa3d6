//! Gateways by name from the desktop app's settings file: `--profile NAME` picks one,
//! `probe --all` takes every enabled one. The file is only read, never changed.

use std::path::Path;

use gatewatch_settings::{GatewayProfile, Settings, SettingsStore};
use gatewatch_supervisor::SupervisorConfig;

/// A gateway to watch or probe, named as the settings name it.
#[derive(Debug, Clone)]
pub struct NamedTarget {
    /// The profile's id.
    pub id: String,
    /// The profile's name.
    pub name: String,
    /// The supervisor settings it stands for (its own monitoring settings included).
    pub config: SupervisorConfig,
}

/// Reads the settings file at `path`, or the desktop app's (`~/.config/gatewatch/settings.json`
/// on Linux). Keys it does not know (a misspelt `clientId`) are named in a warning on stderr,
/// since the defaults stand in for them.
pub fn read(path: Option<&Path>) -> anyhow::Result<Settings> {
    let store = match path {
        Some(path) => SettingsStore::at(path),
        None => SettingsStore::in_config_dir().ok_or_else(|| {
            anyhow::anyhow!("no config directory for this user: use --settings FILE")
        })?,
    };
    let parsed = store.read().map_err(anyhow::Error::msg)?;
    if !parsed.ignored.is_empty() {
        eprintln!(
            "gatewatch-cli: warning: {} has settings Gatewatch does not know, ignored (defaults used): {}",
            store.path().display(),
            parsed.ignored.join(", ")
        );
    }
    Ok(parsed.settings)
}

fn target(settings: &Settings, profile: &GatewayProfile) -> NamedTarget {
    NamedTarget {
        id: profile.id.clone(),
        name: profile.name.clone(),
        config: settings.supervisor_config(profile),
    }
}

/// The profile called `name` (case and surrounding spaces ignored), enabled or not.
pub fn named(settings: &Settings, name: &str) -> anyhow::Result<NamedTarget> {
    match settings.profile_named(name) {
        Some(profile) => Ok(target(settings, profile)),
        None => {
            let names: Vec<String> = settings
                .profiles
                .iter()
                .map(|p| format!("\"{}\"", p.name))
                .collect();
            anyhow::bail!(
                "no gateway profile is called \"{}\"; the settings have {}",
                name.trim(),
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            )
        }
    }
}

/// Every enabled profile, in the order of the settings.
pub fn enabled(settings: &Settings) -> anyhow::Result<Vec<NamedTarget>> {
    let targets: Vec<NamedTarget> = settings
        .enabled_profiles()
        .map(|p| target(settings, p))
        .collect();
    if targets.is_empty() {
        anyhow::bail!("the settings have no enabled gateway profile");
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        let text = r#"{"profiles":[
            {"id":"live","name":"TWS live","port":7496,"client_id":5},
            {"id":"paper","name":"Gateway paper","port":4002,"enabled":false,
             "monitoring":{"ping_interval_ms":5000,"ping_timeout_ms":2000}}
        ]}"#;
        Settings::from_json(text).unwrap().settings
    }

    #[test]
    fn a_profile_is_found_by_name_with_its_own_settings() {
        let paper = named(&settings(), "gateway PAPER").unwrap();
        assert_eq!((paper.id.as_str(), paper.config.port), ("paper", 4002));
        assert_eq!(paper.config.ping_interval_ms, 5000);
        let error = named(&settings(), "VPS").unwrap_err().to_string();
        assert_eq!(
            error,
            "no gateway profile is called \"VPS\"; the settings have \"TWS live\", \"Gateway paper\""
        );
    }

    #[test]
    fn all_means_every_enabled_profile() {
        let all = enabled(&settings()).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].config.client_id, 5);
    }

    #[test]
    fn a_missing_file_is_an_error_that_names_it() {
        let error = read(Some(Path::new("/nonexistent/settings.json")))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("no settings file at /nonexistent/settings.json"),
            "{error}"
        );
    }
}
