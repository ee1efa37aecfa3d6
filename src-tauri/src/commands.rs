//! The commands the UI calls: each one line over `App`. A command about one gateway takes
//! its profile id as `gateway`.

use gatewatch_app::{
    App, AppError, Applied, ExportKind, IbcLever, IncidentView, LatencyRange, LatencySeries,
    MorningSummary, UiSnapshot, UptimeDay,
};
use gatewatch_settings::Settings;
use tauri::Manager;
use tauri::State;

#[tauri::command]
pub fn get_snapshot(app: State<'_, App>) -> UiSnapshot {
    app.snapshot()
}

#[tauri::command]
pub async fn reconnect_now(app: State<'_, App>, gateway: String) -> Result<(), AppError> {
    app.reconnect_now(&gateway).await
}

#[tauri::command]
pub async fn pause(app: State<'_, App>, minutes: Option<u64>) -> Result<(), AppError> {
    app.pause(minutes).await
}

#[tauri::command]
pub async fn resume(app: State<'_, App>) -> Result<(), AppError> {
    app.resume().await
}

#[tauri::command]
pub async fn connect(app: State<'_, App>, gateway: String) -> Result<(), AppError> {
    app.connect(&gateway).await
}

#[tauri::command]
pub async fn disconnect(app: State<'_, App>, gateway: String) -> Result<(), AppError> {
    app.disconnect(&gateway).await
}

/// Pulls an IBC lever (the window has asked the user to confirm).
#[tauri::command]
pub async fn pull_ibc_lever(
    app: State<'_, App>,
    gateway: String,
    lever: IbcLever,
) -> Result<String, AppError> {
    app.pull_ibc_lever(&gateway, lever).await
}

#[tauri::command]
pub fn get_settings(app: State<'_, App>) -> Settings {
    app.settings()
}

#[tauri::command]
pub async fn save_settings<R: tauri::Runtime>(
    handle: tauri::AppHandle<R>,
    app: State<'_, App>,
    settings: Settings,
) -> Result<Applied, AppError> {
    let applied = app.save_settings(settings).await?;
    apply_endpoints(&handle, &app).await;
    apply_autostart(&handle, &app.settings());
    Ok(applied)
}

/// Writes or removes the desktop's autostart entry as `start_at_login` says, touching it
/// only when it differs (a failure is logged; the settings are saved all the same). Applied
/// when the settings are saved in the window.
pub fn apply_autostart<R: tauri::Runtime>(handle: &tauri::AppHandle<R>, settings: &Settings) {
    use tauri_plugin_autostart::ManagerExt;
    let autostart = handle.autolaunch();
    let result = match (settings.start_at_login, autostart.is_enabled()) {
        (true, Ok(false)) => {
            // The entry's writer creates only the last folder of ~/.config/autostart.
            #[cfg(target_os = "linux")]
            if let Some(home) = std::env::var_os("HOME") {
                let _ = std::fs::create_dir_all(std::path::Path::new(&home).join(".config"));
            }
            autostart.enable()
        }
        (false, Ok(true)) => autostart.disable(),
        (_, Err(e)) => Err(e),
        _ => Ok(()),
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, "the autostart entry could not be changed");
    }
}

/// The HTTP endpoints the settings may turn on (off by default).
#[derive(Default)]
pub struct Endpoints(tokio::sync::Mutex<gatewatch_endpoints::Exposure>);

/// Serves, moves or stops the endpoints as the settings say; the outcome is in the snapshot.
pub async fn apply_endpoints<R: tauri::Runtime>(handle: &tauri::AppHandle<R>, app: &App) {
    let endpoints = handle.state::<Endpoints>();
    let mut exposure = endpoints.0.lock().await;
    exposure.apply(app, &app.settings().endpoints).await;
}

/// The latency charts of `gateways` over `range`, one per gateway.
#[tauri::command]
pub async fn get_latency(
    app: State<'_, App>,
    gateways: Vec<String>,
    range: LatencyRange,
) -> Result<Vec<LatencySeries>, AppError> {
    app.latency(gateways, range).await
}

#[tauri::command]
pub async fn get_incidents(
    app: State<'_, App>,
    gateway: Option<String>,
    since_ms: u64,
) -> Result<Vec<IncidentView>, AppError> {
    app.incidents(gateway, since_ms).await
}

#[tauri::command]
pub async fn get_uptime(
    app: State<'_, App>,
    gateway: String,
    days: u32,
) -> Result<Vec<UptimeDay>, AppError> {
    app.uptime(gateway, days).await
}

#[tauri::command]
pub async fn get_morning_summary(app: State<'_, App>) -> Result<Option<MorningSummary>, AppError> {
    app.morning_summary().await
}

/// Writes a CSV file into the Downloads folder; returns its path.
#[tauri::command]
pub async fn export_csv(
    app: State<'_, App>,
    gateway: String,
    kind: ExportKind,
    since_ms: u64,
) -> Result<String, AppError> {
    app.export_csv(gateway, kind, since_ms).await
}

/// Opens the log folder in the desktop's file manager.
#[tauri::command]
pub fn open_log_folder<R: tauri::Runtime>(handle: tauri::AppHandle<R>) -> Result<(), AppError> {
    use tauri_plugin_opener::OpenerExt;
    let dir =
        gatewatch_app::log_dir().ok_or_else(|| AppError::io("no data directory for this user"))?;
    // The opener plugin waits for the file manager's launcher, so no process is left behind.
    handle
        .opener()
        .open_path(dir.to_string_lossy(), None::<&str>)
        .map_err(|e| AppError::io(format!("cannot open {}: {e}", dir.display())))
}
