//! The tray: one icon per state, and a menu whose first (disabled) line carries the status,
//! since Linux trays show no tooltip and send no click events.

use gatewatch_app::tray::{TrayIcon, icon};
use gatewatch_app::{App, UiSnapshot};
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

const TRAY_ID: &str = "gatewatch";
const STATUS_ITEM: &str = "status";

fn image(kind: TrayIcon) -> Image<'static> {
    let bytes: &'static [u8] = match kind {
        TrayIcon::Connected => include_bytes!("../../icons/tray-connected.png"),
        TrayIcon::Degraded => include_bytes!("../../icons/tray-degraded.png"),
        TrayIcon::Connecting => include_bytes!("../../icons/tray-connecting.png"),
        TrayIcon::Disconnected => include_bytes!("../../icons/tray-disconnected.png"),
        TrayIcon::Paused => include_bytes!("../../icons/tray-paused.png"),
    };
    Image::from_bytes(bytes).expect("the tray icons are valid PNGs")
}

pub fn create(handle: &AppHandle) -> tauri::Result<()> {
    let status = MenuItem::with_id(handle, STATUS_ITEM, "Starting…", false, None::<&str>)?;
    let menu = Menu::with_items(
        handle,
        &[
            &status,
            &PredefinedMenuItem::separator(handle)?,
            &MenuItem::with_id(handle, "open", "Open Gatewatch", true, None::<&str>)?,
            &MenuItem::with_id(handle, "reconnect", "Reconnect now", true, None::<&str>)?,
            &MenuItem::with_id(
                handle,
                "pause15",
                "Pause alerts for 15 min",
                true,
                None::<&str>,
            )?,
            &MenuItem::with_id(
                handle,
                "pause60",
                "Pause alerts for 1 h",
                true,
                None::<&str>,
            )?,
            &MenuItem::with_id(handle, "resume", "Resume alerts", true, None::<&str>)?,
            &PredefinedMenuItem::separator(handle)?,
            &MenuItem::with_id(handle, "quit", "Quit", true, None::<&str>)?,
        ],
    )?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(image(TrayIcon::Connecting))
        .menu(&menu)
        .on_menu_event(|handle, event| on_menu(handle, event.id().as_ref()))
        .build(handle)?;
    handle.manage(status);
    Ok(())
}

fn on_menu(handle: &AppHandle, id: &str) {
    let app = handle.state::<App>().inner().clone();
    match id {
        "open" => {
            if let Some(window) = handle.get_webview_window("main") {
                let _ = window.show();
                let _ = window.set_focus();
            }
        }
        "reconnect" => {
            tauri::async_runtime::spawn(async move { app.reconnect_now().await });
        }
        "pause15" | "pause60" => {
            let minutes = if id == "pause15" { 15 } else { 60 };
            tauri::async_runtime::spawn(async move { app.pause(Some(minutes)).await });
        }
        "resume" => {
            tauri::async_runtime::spawn(async move { app.resume().await });
        }
        "quit" => {
            let handle = handle.clone();
            tauri::async_runtime::spawn(async move {
                app.shutdown().await;
                handle.exit(0);
            });
        }
        _ => {}
    }
}

/// What the tray shows now, so it is only touched when that changes: the events and the
/// one-second tick that call [`TrayView::show`] mostly bring the same state, and setting the
/// icon writes a PNG for the tray host every time.
#[derive(Default)]
pub struct TrayView {
    icon: Option<TrayIcon>,
    line: String,
}

impl TrayView {
    pub fn show(&mut self, handle: &AppHandle, snapshot: &UiSnapshot) {
        let kind = icon(&snapshot.snapshot.state);
        let new_icon = (self.icon != Some(kind)).then_some(kind);
        if new_icon.is_none() && self.line == snapshot.status_line {
            return;
        }
        self.icon = Some(kind);
        self.line.clone_from(&snapshot.status_line);
        let line = self.line.clone();
        let handle_for_main = handle.clone();
        let _ = handle.run_on_main_thread(move || {
            if let Some(tray) = handle_for_main.tray_by_id(TRAY_ID) {
                if let Some(kind) = new_icon {
                    let _ = tray.set_icon(Some(image(kind)));
                }
                let _ = tray.set_title(Some(line.as_str()));
            }
            if let Some(status) = handle_for_main.try_state::<MenuItem<tauri::Wry>>() {
                let _ = status.set_text(line.as_str());
            }
        });
    }
}
