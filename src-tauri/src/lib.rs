//! The desktop shell: Tauri commands as one-liners over [`gatewatch_app::App`], one event
//! channel to the UI, the tray, and desktop notifications. Everything with logic lives in
//! the crates; what is here only connects them to Tauri.

mod commands;
mod notify;
mod tray;

use std::time::Duration;

use gatewatch_alerts::FleetAlerts;
use gatewatch_app::{App, AppOptions};
use tauri::{Emitter, Manager};

/// The one event the UI listens to; its payload says which kind of thing happened.
pub const UI_EVENT: &str = "gatewatch://event";

/// Starts the app and runs the window and tray until Quit.
pub fn run() {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => return,
        Err(message) => {
            eprintln!("gatewatch: {message}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let log_guard = init_logging();
    let result = with_commands(tauri::Builder::default())
        // First, so a second launch hands over before anything else starts: it shows and
        // focuses the running window and exits.
        .plugin(tauri_plugin_single_instance::init(|handle, args, _cwd| {
            // The second launch exits at once without a word; its arguments (another
            // --settings, say) are not used, and this instance's log says so.
            tracing::warn!(
                ?args,
                "a second launch handed over to this running Gatewatch; its arguments are not used"
            );
            notify::show_window(handle);
        }))
        .setup(move |tauri_app| {
            // Started here, after the single-instance check, so a second launch never starts
            // a second supervisor.
            let app = tauri::async_runtime::block_on(App::start(options))?;
            let handle = tauri_app.handle().clone();
            manage(&handle, app.clone());
            tauri::async_runtime::block_on(commands::apply_endpoints(&handle, &app));
            tray::create(&handle)?;
            if app.settings().start_minimized
                && let Some(window) = handle.get_webview_window("main")
            {
                let _ = window.hide();
            }
            tauri::async_runtime::spawn(forward(handle.clone(), app.clone()));
            tauri::async_runtime::spawn(quit_on_signal(handle, app.clone()));
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the window keeps the app in the tray.
            if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                api.prevent_close();
                let _ = window.hide();
            }
        })
        .build(tauri::generate_context!());
    let tauri_app = match result {
        Ok(tauri_app) => tauri_app,
        Err(error) => {
            eprintln!("gatewatch: {error}");
            std::process::exit(1);
        }
    };
    let code = tauri_app.run_return(|handle, event| {
        // However the event loop ends (Quit, a signal, the desktop session closing the
        // display), the workers are stopped and the history written before the process goes;
        // after Quit or a signal this finds nothing left to stop.
        if let tauri::RunEvent::Exit = event
            && let Some(app) = handle.try_state::<App>()
        {
            let app = app.inner().clone();
            let _ = tauri::async_runtime::block_on(tokio::time::timeout(
                Duration::from_secs(5),
                app.shutdown(),
            ));
        }
    });
    drop(log_guard);
    std::process::exit(code);
}

/// SIGTERM (a logout, `systemctl stop`, `kill`) and SIGINT end the app as Quit does: workers
/// stopped, the history written.
async fn quit_on_signal(handle: tauri::AppHandle, app: App) {
    let Some(signal) = gatewatch_app::stop_signal().await else {
        tracing::warn!("cannot listen for SIGTERM/SIGINT; they end the app abruptly");
        return;
    };
    tracing::info!("{signal}: quitting");
    app.shutdown().await;
    handle.exit(0);
}

/// What the commands need: the app core, and the endpoints its settings may turn on.
pub fn manage<R: tauri::Runtime>(manager: &impl Manager<R>, app: App) {
    manager.manage(app);
    manager.manage(commands::Endpoints::default());
    manager.manage(notify::Shown::default());
}

/// Registers every command the UI can call (the app and the command tests share this).
pub fn with_commands<R: tauri::Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    // `open_log_folder` opens through the opener plugin, and saving `start_at_login` writes
    // the autostart entry through the autostart plugin (neither plugin's own JS commands are
    // granted to the window).
    builder
        .plugin(tauri_plugin_opener::init())
        .plugin(
            tauri_plugin_autostart::Builder::new()
                .app_name("gatewatch")
                .build(),
        )
        .invoke_handler(tauri::generate_handler![
            commands::get_snapshot,
            commands::get_latency,
            commands::get_incidents,
            commands::get_uptime,
            commands::get_morning_summary,
            commands::export_csv,
            commands::open_log_folder,
            commands::reconnect_now,
            commands::pause,
            commands::resume,
            commands::connect,
            commands::disconnect,
            commands::get_settings,
            commands::save_settings,
            commands::pull_ibc_lever,
        ])
}

/// Logs to stderr and to a daily-rolling file in [`gatewatch_app::log_dir`]; the returned
/// guard flushes the file when the app ends.
fn init_logging() -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::prelude::*;
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_env("GATEWATCH_LOG")
            .unwrap_or_else(|_| "info".into())
    };
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(filter());
    let appender = gatewatch_app::log_dir()
        .filter(|dir| std::fs::create_dir_all(dir).is_ok())
        .and_then(|dir| {
            daily_log(&dir)
                .map_err(|e| eprintln!("gatewatch: no log file in {}: {e}", dir.display()))
                .ok()
        });
    let (file, guard) = match appender {
        Some(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            (
                Some(
                    tracing_subscriber::fmt::layer()
                        .with_ansi(false)
                        .with_writer(writer)
                        .with_filter(filter()),
                ),
                Some(guard),
            )
        }
        None => (None, None),
    };
    tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .init();
    guard
}

/// How many daily log files are kept (two weeks); older ones go when a new one is opened.
const LOG_FILES_KEPT: usize = 14;

/// `gatewatch.log.<date>` in `dir`, a new file each day, at most [`LOG_FILES_KEPT`] of them.
fn daily_log(
    dir: &std::path::Path,
) -> Result<tracing_appender::rolling::RollingFileAppender, tracing_appender::rolling::InitError> {
    tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("gatewatch.log")
        .max_log_files(LOG_FILES_KEPT)
        .build(dir)
}

const USAGE: &str = "usage: gatewatch [--demo] [--settings FILE]";

const HELP: &str =
    "Gatewatch watches the TWS API connection of IB Gateway and TWS: a window, a tray icon
and desktop notifications. Read-only: it never places an order.

Usage: gatewatch [OPTIONS]

Options:
      --demo           Watch two embedded simulated gateways instead of the settings' ones
      --settings FILE  Use this settings file instead of the one in the config folder
  -h, --help           Print help
  -V, --version        Print version

Closing the window keeps Gatewatch in the tray; Quit is in the tray's menu.
gatewatch-cli probes, watches and serves gateways without a window.";

/// `--demo` watches the embedded simulator; `--settings FILE` uses another settings file
/// (tests point the app at their own simulator this way); `--help` and `--version` print
/// and return `None`.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<AppOptions>, String> {
    let mut options = AppOptions::default();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--demo" => options.demo = true,
            "--settings" => {
                options.settings_path = Some(args.next().ok_or("--settings needs a file")?.into())
            }
            "-h" | "--help" => {
                println!("{HELP}");
                return Ok(None);
            }
            "-V" | "--version" => {
                println!("gatewatch {}", env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Some(options))
}

/// Tells the UI and the tray about every change, and raises the notifications each
/// gateway's policy decides on (checked every second, so a held bad state is announced on
/// time).
async fn forward(handle: tauri::AppHandle, app: App) {
    let mut events = app.subscribe();
    let mut alerts = FleetAlerts::default();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut tray = tray::TrayView::default();
    loop {
        let event = tokio::select! {
            event = events.recv() => match event {
                Ok(event) => Some(event),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => None,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            _ = tick.tick() => None,
        };
        if let Some(event) = &event {
            let _ = handle.emit(UI_EVENT, event);
        }
        let snapshot = app.snapshot();
        tray.show(&handle, &snapshot);
        let settings = app.settings();
        let now = std::time::Instant::now();
        for gateway in &snapshot.gateways {
            let Some(profile) = settings.profile(&gateway.id) else {
                continue;
            };
            let notifications = settings.notifications_for(profile);
            for alert in alerts.observe(
                &gateway.id,
                &gateway.name,
                notifications,
                &gateway.snapshot,
                now,
            ) {
                tauri::async_runtime::spawn(notify::show(
                    handle.clone(),
                    alert,
                    notifications.sound,
                ));
            }
        }
        let watched: Vec<&str> = snapshot.gateways.iter().map(|g| g.id.as_str()).collect();
        alerts.retain(&watched);
        let now_ms = gatewatch_supervisor::state::now_ms();
        if let Some((expiry, due)) = app.relogin_due(now_ms)
            && let Some(alert) = alerts.relogin_reminder(
                now_ms,
                &expiry,
                &settings.calendar.relogin_reminders_mins,
                &due,
                &settings.notifications,
            )
        {
            tauri::async_runtime::spawn(notify::show(
                handle.clone(),
                alert,
                settings.notifications.sound,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daily_log_keeps_two_weeks_of_files() {
        let dir = tempfile::tempdir().unwrap();
        for day in 1..=20 {
            std::fs::write(
                dir.path().join(format!("gatewatch.log.2026-10-{day:02}")),
                "x",
            )
            .unwrap();
        }
        std::fs::write(dir.path().join("history.db"), "not a log").unwrap();
        let appender = daily_log(dir.path()).unwrap();
        drop(appender);
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let logs = names
            .iter()
            .filter(|n| n.starts_with("gatewatch.log."))
            .count();
        assert!(logs <= LOG_FILES_KEPT, "{logs} log files kept: {names:?}");
        assert!(
            names.contains(&"history.db".to_owned()),
            "only logs are pruned"
        );
    }
}
