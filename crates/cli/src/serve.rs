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
    let bound = listener.local_addr()?;
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
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let router = gatewatch_endpoints::router(app.clone(), listen.token.clone());
    let http = tokio::spawn(gatewatch_endpoints::serve(listener, router, async {
        let _ = http_stopped.await;
    }));
    tracing::info!(
        listen = %bound,
        token = listen.token.is_some(),
        "endpoints: /metrics /healthz /readyz /api/v1/snapshot /api/v1/incidents"
    );
    stop_signal().await;
    tracing::info!("stopping: endpoints, workers, then the history");
    let _ = stop_http.send(());
    match tokio::time::timeout(std::time::Duration::from_secs(5), http).await {
        Ok(Ok(Err(e))) => tracing::warn!(error = %e, "endpoints"),
        Err(_) => tracing::warn!("endpoints: a request did not finish within 5 s"),
        _ => {}
    }
    app.shutdown().await;
    logging.abort();
    Ok(())
}

/// SIGTERM or SIGINT (Ctrl-C elsewhere).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
