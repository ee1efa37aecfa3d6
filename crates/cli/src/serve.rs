//! `gatewatch-cli serve`: the desktop app's supervision without a window, for servers. Every
//! enabled profile of the settings file is watched by the same app core (`gatewatch-app`)
//! with the same history database, and the HTTP endpoints (`gatewatch-endpoints`: metrics,
//! health, JSON API) serve it, until SIGTERM or SIGINT, which stop the endpoints, then the
//! workers, then write the history before it exits. A settings file that cannot be used is
//! refused with a message naming the field, rather than put aside as the desktop app does: a
//! service must not start watching the defaults. The address is bound before any gateway is
//! watched, so a port in use stops it at once.

use std::path::{Path, PathBuf};

use gatewatch_app::{App, AppOptions};
use gatewatch_settings::{FieldError, SettingsStore};

/// Runs until SIGTERM or SIGINT.
pub async fn serve(
    settings: Option<&Path>,
    db: Option<PathBuf>,
    listen: gatewatch_endpoints::Listen,
) -> anyhow::Result<()> {
    let path = match settings {
        Some(path) => path.to_path_buf(),
        None => SettingsStore::in_config_dir()
            .ok_or_else(|| {
                anyhow::anyhow!("no config directory for this user: use --settings FILE")
            })?
            .path()
            .to_path_buf(),
    };
    let checked = crate::profiles::read(Some(&path))?;
    checked.validate().map_err(|errors| {
        anyhow::anyhow!(
            "{} is not valid: {}",
            path.display(),
            FieldError::join(&errors)
        )
    })?;
    let enabled: Vec<String> = checked.enabled_profiles().map(|p| p.name.clone()).collect();
    if enabled.is_empty() {
        anyhow::bail!("{} has no enabled gateway profile", path.display());
    }
    let listener = gatewatch_endpoints::bind(&listen)
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let app = App::start(AppOptions {
        demo: false,
        settings_path: Some(path.clone()),
        worker_path: None,
        history_path: db,
    })
    .await
    .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    tracing::info!(settings = %path.display(), gateways = ?enabled, history = ?app.history_path(), "serving");
    if let Some(problem) = app.snapshot().history_problem {
        tracing::warn!(problem, "history");
    }
    let mut events = app.subscribe();
    let logging = tokio::spawn(async move {
        while let Ok(e) = events.recv().await {
            if let gatewatch_supervisor::EventKind::StateChanged { state } = &e.event.kind {
                tracing::info!(gateway = %e.gateway, state = state.name(), "state");
            }
        }
    });
    let served = gatewatch_endpoints::Served::spawn(listener, app.clone(), listen.token.clone())?;
    tracing::info!(
        listen = %served.addr(),
        token = listen.token.is_some(),
        "endpoints: /metrics /healthz /readyz /api/v1/snapshot /api/v1/incidents"
    );
    let signal = gatewatch_app::stop_signal().await;
    tracing::info!(signal, "stopping: endpoints, workers, then the history");
    served.stop().await;
    app.shutdown().await;
    logging.abort();
    match signal {
        Some(_) => Ok(()),
        None => anyhow::bail!("cannot listen for SIGTERM/SIGINT, so stopped at once"),
    }
}
