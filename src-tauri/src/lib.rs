//! The desktop shell: Tauri commands as one-liners over [`gatewatch_app::App`], one event
//! channel to the UI, the tray, and desktop notifications. Everything with logic lives in
//! the crates; what is here only connects them to Tauri.

mod commands;
mod notify;
mod tray;

use std::time::Duration;

use gatewatch_alerts::AlertPolicy;
use gatewatch_app::{App, AppOptions};
use tauri::{Emitter, Manager};

/// The one event the UI listens to; its payload says which kind of thing happened.
pub const UI_EVENT: &str = "gatewatch://event";

/// Starts the app and runs the window and tray until Quit.
pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GATEWATCH_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("gatewatch: {message}\nusage: gatewatch [--demo] [--settings FILE]");
            std::process::exit(2);
        }
    };
    let app = match tauri::async_runtime::block_on(App::start(options)) {
        Ok(app) => app,
        Err(error) => {
            eprintln!("gatewatch: cannot start: {error}");
            std::process::exit(1);
        }
    };
    let result = tauri::Builder::default()
        .manage(app.clone())
        .invoke_handler(tauri::generate_handler![
            commands::get_snapshot,
            commands::get_latency,
            commands::reconnect_now,
            commands::pause,
            commands::resume,
            commands::connect,
            commands::disconnect,
            commands::get_settings,
            commands::save_settings,
        ])
        .setup(move |tauri_app| {
            let handle = tauri_app.handle().clone();
            tray::create(&handle)?;
            if app.settings().start_minimized
                && let Some(window) = handle.get_webview_window("main")
            {
                let _ = window.hide();
            }
            tauri::async_runtime::spawn(forward(handle, app.clone()));
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the window keeps the app in the tray.
            if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                api.prevent_close();
                let _ = window.hide();
            }
        })
        .run(tauri::generate_context!());
    if let Err(error) = result {
        eprintln!("gatewatch: {error}");
        std::process::exit(1);
    }
}

/// `--demo` watches the embedded simulator; `--settings FILE` uses another settings file
/// (tests point the app at their own simulator this way).
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<AppOptions, String> {
    let mut options = AppOptions::default();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--demo" => options.demo = true,
            "--settings" => {
                options.settings_path = Some(args.next().ok_or("--settings needs a file")?.into())
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(options)
}

/// Tells the UI and the tray about every change, and raises the notifications the policy
/// decides on (checked every second, so a held bad state is announced on time).
async fn forward(handle: tauri::AppHandle, app: App) {
    let mut events = app.subscribe();
    let mut policy = AlertPolicy::new(app.settings().notifications);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
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
        tray::update(&handle, &snapshot);
        policy.set_settings(app.settings().notifications);
        for alert in policy.observe(&snapshot.snapshot, std::time::Instant::now()) {
            tauri::async_runtime::spawn(notify::show(alert));
        }
    }
}
