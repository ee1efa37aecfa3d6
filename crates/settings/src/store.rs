//! The settings file: read leniently, written atomically, never overwritten blindly, and
//! migrated from an older format with the old file kept beside the new one.

use std::path::{Path, PathBuf};

use crate::{FieldError, Settings};

/// The settings file in its folder.
#[derive(Debug, Clone)]
pub struct SettingsStore {
    path: PathBuf,
}

/// What loading found.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The settings to use (the defaults when the file was missing or unusable).
    pub settings: Settings,
    /// Why the file was not used, when it was not.
    pub problem: Option<LoadProblem>,
    /// Where the file of an older format was kept when it was migrated on this load.
    pub migrated_from: Option<PathBuf>,
    /// Keys of the file that mean nothing to this release (misspelt or retired), by path.
    pub ignored: Vec<String>,
}

impl Loaded {
    /// The defaults, for a file that is missing (no problem) or unusable.
    fn defaults(problem: Option<LoadProblem>) -> Loaded {
        Loaded {
            settings: Settings::default(),
            problem,
            migrated_from: None,
            ignored: Vec::new(),
        }
    }
}

/// Why a settings file was not used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoadProblem {
    /// It could not be parsed or held invalid values; it was renamed aside.
    #[error("the settings file was unusable ({reason}); it was kept as {} and defaults are in use", kept_as.display())]
    Corrupt {
        /// Where the file now is.
        kept_as: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// It could not be read at all; it was left where it is.
    #[error("the settings file could not be read ({0}); defaults are in use")]
    Unreadable(String),
}

/// Why settings were not saved. Nothing was written in either case.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SaveError {
    /// Some values are invalid.
    #[error("invalid settings: {}", FieldError::join(.0))]
    Invalid(Vec<FieldError>),
    /// The file could not be written.
    #[error("cannot write the settings file: {0}")]
    Io(String),
}

impl SettingsStore {
    /// `settings.json` in the platform's config directory for Gatewatch
    /// (`~/.config/gatewatch` on Linux).
    pub fn in_config_dir() -> Option<SettingsStore> {
        let dirs = directories::ProjectDirs::from("com", "Gatewatch", "Gatewatch")?;
        Some(SettingsStore::at(dirs.config_dir().join("settings.json")))
    }

    /// A store for a given file.
    pub fn at(path: impl Into<PathBuf>) -> SettingsStore {
        SettingsStore { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Loads the settings. A missing file gives the defaults; an unusable one is renamed
    /// aside (`settings.json.corrupt-<epoch ms>`) and reported, and the defaults are used.
    pub fn load(&self) -> Loaded {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Loaded::defaults(None);
            }
            Err(error) => {
                tracing::warn!(path = %self.path.display(), %error, "settings unreadable");
                return Loaded::defaults(Some(LoadProblem::Unreadable(error.to_string())));
            }
        };
        let reason = match Settings::from_json(&text) {
            Ok(parsed) => match parsed.settings.validate() {
                Ok(()) => {
                    if !parsed.ignored.is_empty() {
                        tracing::warn!(path = %self.path.display(), ignored = ?parsed.ignored, "settings the app does not know were ignored");
                    }
                    let mut loaded = Loaded {
                        settings: parsed.settings,
                        problem: None,
                        migrated_from: None,
                        ignored: parsed.ignored,
                    };
                    if parsed.migrated {
                        loaded.migrated_from = self.migrate(&loaded.settings, &text);
                    }
                    return loaded;
                }
                Err(errors) => FieldError::join(&errors),
            },
            Err(error) => error.to_string(),
        };
        let kept_as = self.aside_name();
        let problem = match std::fs::rename(&self.path, &kept_as) {
            Ok(()) => LoadProblem::Corrupt { kept_as, reason },
            Err(error) => LoadProblem::Unreadable(format!(
                "{reason}; and it could not be renamed aside: {error}"
            )),
        };
        tracing::warn!(path = %self.path.display(), %problem, "settings not used");
        Loaded::defaults(Some(problem))
    }

    /// Keeps the older file's text beside the settings file (`settings.json.one-gateway`),
    /// then writes the migrated settings in its place; returns where the old file is kept.
    /// Should either step fail, the settings are still used and the file is left as it was,
    /// to be migrated on a later start.
    fn migrate(&self, settings: &Settings, old_text: &str) -> Option<PathBuf> {
        let kept = self.beside("one-gateway");
        let result = std::fs::write(&kept, old_text)
            .map_err(|e| SaveError::Io(e.to_string()))
            .and_then(|()| self.save(settings));
        match result {
            Ok(()) => {
                tracing::info!(kept = %kept.display(), "settings migrated to gateway profiles");
                Some(kept)
            }
            Err(error) => {
                tracing::warn!(%error, "settings read in the older format, but not migrated");
                None
            }
        }
    }

    /// `settings.json.<suffix>` beside the file; when that exists, `<suffix>-<epoch ms>`, so
    /// an earlier one is never overwritten.
    fn beside(&self, suffix: &str) -> PathBuf {
        let path = self.with_suffix(suffix);
        if path.exists() {
            self.aside_name_with(&format!("{suffix}-"))
        } else {
            path
        }
    }

    /// Reads the settings and changes nothing on disk (no renaming aside, no migration
    /// written), for readers such as the command line: a missing, unreadable or invalid file
    /// is an error that names the file and what is wrong.
    pub fn read(&self) -> Result<crate::Parsed, String> {
        let path = self.path.display();
        let text = std::fs::read_to_string(&self.path).map_err(|error| {
            if error.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "no settings file at {path} (the desktop app writes it when you save settings)"
                )
            } else {
                format!("cannot read {path}: {error}")
            }
        })?;
        let parsed =
            Settings::from_json(&text).map_err(|error| format!("{path} is not valid: {error}"))?;
        parsed.settings.validate().map_err(|errors| {
            format!(
                "{path} holds invalid settings: {}",
                FieldError::join(&errors)
            )
        })?;
        Ok(parsed)
    }

    fn aside_name(&self) -> PathBuf {
        self.aside_name_with("corrupt-")
    }

    fn aside_name_with(&self, prefix: &str) -> PathBuf {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        self.with_suffix(&format!("{prefix}{stamp}"))
    }

    fn with_suffix(&self, suffix: &str) -> PathBuf {
        let mut name = self
            .path
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        name.push(format!(".{suffix}"));
        self.path.with_file_name(name)
    }

    /// Validates and saves: written to a temporary file in the same folder, synced, then
    /// renamed over the old one, so a crash leaves the old file or the new one, never half.
    pub fn save(&self, settings: &Settings) -> Result<(), SaveError> {
        settings.validate().map_err(SaveError::Invalid)?;
        let io = |error: std::io::Error| SaveError::Io(error.to_string());
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let text = serde_json::to_string_pretty(settings).expect("settings always serialize");
        let temporary = self.path.with_extension("json.tmp");
        {
            use std::io::Write;
            let mut file = std::fs::File::create(&temporary).map_err(io)?;
            file.write_all(text.as_bytes()).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        std::fs::rename(&temporary, &self.path).map_err(io)?;
        if let Ok(folder) = std::fs::File::open(dir) {
            let _ = folder.sync_all();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, SettingsStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SettingsStore::at(dir.path().join("gatewatch").join("settings.json"));
        (dir, store)
    }

    #[test]
    fn a_missing_file_means_defaults_without_complaint() {
        let (_dir, store) = store();
        let loaded = store.load();
        assert_eq!(loaded.settings, Settings::default());
        assert_eq!(loaded.problem, None);
    }

    #[test]
    fn saved_settings_load_back() {
        let (_dir, store) = store();
        let mut settings = Settings::default();
        settings.profiles[0].port = 7497;
        settings.profiles.push(crate::GatewayProfile {
            id: "live".into(),
            name: "TWS live".into(),
            port: 7496,
            enabled: false,
            ..crate::GatewayProfile::default()
        });
        settings.notifications.recovered = false;
        store.save(&settings).unwrap();
        let loaded = store.load();
        assert_eq!((loaded.settings, loaded.problem), (settings, None));
        assert_eq!(loaded.migrated_from, None);
        assert!(
            !store.path().with_extension("json.tmp").exists(),
            "no temporary file left behind"
        );
    }

    #[test]
    fn invalid_settings_are_refused_and_the_file_is_unchanged() {
        let (_dir, store) = store();
        store.save(&Settings::default()).unwrap();
        let before = std::fs::read(store.path()).unwrap();
        let mut bad = Settings::default();
        bad.profiles[0].port = 0;
        match store.save(&bad) {
            Err(SaveError::Invalid(errors)) => assert_eq!(errors[0].field, "profiles[0].port"),
            other => panic!("expected a field error, got {other:?}"),
        }
        assert_eq!(std::fs::read(store.path()).unwrap(), before);
    }

    #[test]
    fn a_corrupt_file_is_kept_aside_and_reported() {
        let (_dir, store) = store();
        std::fs::create_dir_all(store.path().parent().unwrap()).unwrap();
        std::fs::write(store.path(), "{ this is not json").unwrap();
        let loaded = store.load();
        assert_eq!(loaded.settings, Settings::default());
        let Some(LoadProblem::Corrupt { kept_as, .. }) = &loaded.problem else {
            panic!("{:?}", loaded.problem)
        };
        assert_eq!(
            std::fs::read_to_string(kept_as).unwrap(),
            "{ this is not json",
            "nothing is lost"
        );
        assert!(
            !store.path().exists(),
            "the bad file is moved, not overwritten"
        );
        assert!(loaded.problem.unwrap().to_string().contains("kept as"));
    }

    #[test]
    fn a_file_with_invalid_values_counts_as_corrupt() {
        let (_dir, store) = store();
        std::fs::create_dir_all(store.path().parent().unwrap()).unwrap();
        std::fs::write(store.path(), r#"{"gateway":{"port":0}}"#).unwrap();
        let loaded = store.load();
        let Some(LoadProblem::Corrupt { reason, .. }) = loaded.problem else {
            panic!("expected corrupt")
        };
        assert!(reason.contains("profiles[0].port"), "{reason}");
    }

    #[test]
    fn a_one_gateway_file_is_migrated_and_kept_beside_the_new_one() {
        let (_dir, store) = store();
        std::fs::create_dir_all(store.path().parent().unwrap()).unwrap();
        let old =
            r#"{"gateway":{"host":"127.0.0.1","port":7496,"client_id":77},"start_minimized":true}"#;
        std::fs::write(store.path(), old).unwrap();

        let loaded = store.load();
        assert_eq!(loaded.problem, None);
        let kept = loaded.migrated_from.expect("migrated");
        assert_eq!(
            kept.file_name().unwrap().to_str().unwrap(),
            "settings.json.one-gateway"
        );
        assert_eq!(
            std::fs::read_to_string(&kept).unwrap(),
            old,
            "the old file, byte for byte"
        );
        assert_eq!(loaded.settings.profiles.len(), 1);
        assert_eq!(loaded.settings.profiles[0].client_id, 77);
        assert_eq!(loaded.settings.profiles[0].name, "TWS live");
        assert!(loaded.settings.start_minimized);

        // The new file is in the current format and loads as it is, with nothing migrated.
        let written = std::fs::read_to_string(store.path()).unwrap();
        assert!(written.contains("\"profiles\"") && !written.contains("\"gateway\":"));
        let again = store.load();
        assert_eq!(again.settings, loaded.settings);
        assert_eq!(again.migrated_from, None);
        assert!(kept.exists());
    }
}
