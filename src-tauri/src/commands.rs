//! The commands the UI calls: each one line over `App`. A command about one gateway takes
//! its profile id as `gateway`.

use gatewatch_app::{App, AppError, Applied, IbcLever, LatencySeries, UiSnapshot};
use gatewatch_settings::Settings;
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
pub async fn save_settings(app: State<'_, App>, settings: Settings) -> Result<Applied, AppError> {
    app.save_settings(settings).await
}

#[tauri::command]
pub fn get_latency(app: State<'_, App>, gateway: String, window_secs: u64) -> LatencySeries {
    app.latency(&gateway, window_secs)
}

/// Opens the log folder in the desktop's file manager.
#[tauri::command]
pub fn open_log_folder() -> Result<(), AppError> {
    let dir =
        gatewatch_app::log_dir().ok_or_else(|| AppError::io("no data directory for this user"))?;
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    std::process::Command::new(opener)
        .arg(&dir)
        .spawn()
        .map(drop)
        .map_err(|e| AppError::io(format!("cannot open {}: {e}", dir.display())))
}
