//! The tray: the icon of the worst state across gateways, and a menu whose first (disabled)
//! lines carry one status line per gateway, since Linux trays show no tooltip and send no
//! click events. "Reconnect now" has one entry per gateway. The menu is rebuilt when the
//! set of gateways changes, and otherwise only its texts are updated.

use gatewatch_app::tray::{TrayIcon, worst};
use gatewatch_app::{App, UiSnapshot};
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Wry};

const TRAY_ID: &str = "gatewatch";
const RECONNECT_PREFIX: &str = "reconnect:";

fn image(kind: TrayIcon) -> Image<'static> {
    let bytes: &'static [u8] = match kind {
        TrayIcon::Connected => include_bytes!("../../icons/tray-connected.png"),
        TrayIcon::Degraded => include_bytes!("../../icons/tray-degraded.png"),
        TrayIcon::Connecting => include_bytes!("../../icons/tray-connecting.png"),
        TrayIcon::Disconnected => include_bytes!("../../icons/tray-disconnected.png"),
        TrayIcon::Paused => include_bytes!("../../icons/tray-paused.png"),
        TrayIcon::Expected => include_bytes!("../../icons/tray-expected.png"),
    };
    Image::from_bytes(bytes).expect("the tray icons are valid PNGs")
}

/// The gateways a menu was built for: (id, name) in order.
type Roster = Vec<(String, String)>;

/// Builds the menu for `roster`; returns it with its status items, one per gateway (or one
/// "no gateway" line).
fn menu(handle: &AppHandle, roster: &Roster) -> tauri::Result<(Menu<Wry>, Vec<MenuItem<Wry>>)> {
    let mut status = Vec::new();
    for (index, (_, name)) in roster.iter().enumerate() {
        let id = format!("status:{index}");
        status.push(MenuItem::with_id(handle, id, name, false, None::<&str>)?);
    }
    if status.is_empty() {
        status.push(MenuItem::with_id(
            handle,
            "status:none",
            "No gateway watched",
            false,
            None::<&str>,
        )?);
    }
    let reconnect_items = roster
        .iter()
        .map(|(id, name)| {
            MenuItem::with_id(
                handle,
                format!("{RECONNECT_PREFIX}{id}"),
                name,
                true,
                None::<&str>,
            )
        })
        .collect::<tauri::Result<Vec<_>>>()?;
    let reconnect_refs: Vec<&dyn tauri::menu::IsMenuItem<Wry>> = reconnect_items
        .iter()
        .map(|i| i as &dyn tauri::menu::IsMenuItem<Wry>)
        .collect();
    let reconnect =
        Submenu::with_items(handle, "Reconnect now", !roster.is_empty(), &reconnect_refs)?;
    let menu = Menu::new(handle)?;
    for item in &status {
        menu.append(item)?;
    }
    menu.append(&PredefinedMenuItem::separator(handle)?)?;
    menu.append(&MenuItem::with_id(
        handle,
        "open",
        "Open Gatewatch",
        true,
        None::<&str>,
    )?)?;
    menu.append(&reconnect)?;
    for (id, text) in [
        ("pause15", "Pause alerts for 15 min"),
        ("pause60", "Pause alerts for 1 h"),
        ("resume", "Resume alerts"),
    ] {
        menu.append(&MenuItem::with_id(handle, id, text, true, None::<&str>)?)?;
    }
    menu.append(&PredefinedMenuItem::separator(handle)?)?;
    menu.append(&MenuItem::with_id(
        handle,
        "quit",
        "Quit",
        true,
        None::<&str>,
    )?)?;
    Ok((menu, status))
}

pub fn create(handle: &AppHandle) -> tauri::Result<()> {
    let (menu, _) = menu(handle, &Roster::new())?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(image(TrayIcon::Connecting))
        .menu(&menu)
        .on_menu_event(|handle, event| on_menu(handle, event.id().as_ref()))
        .build(handle)?;
    handle.manage(StatusItems(std::sync::Mutex::new(Vec::new())));
    Ok(())
}

fn on_menu(handle: &AppHandle, id: &str) {
    let app = handle.state::<App>().inner().clone();
    if let Some(gateway) = id.strip_prefix(RECONNECT_PREFIX) {
        let gateway = gateway.to_owned();
        tauri::async_runtime::spawn(async move { app.reconnect_now(&gateway).await });
        return;
    }
    match id {
        "open" => crate::notify::show_window(handle),
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
    title: String,
    roster: Option<Roster>,
    lines: Vec<String>,
}

impl TrayView {
    pub fn show(&mut self, handle: &AppHandle, snapshot: &UiSnapshot) {
        let kind = worst(snapshot.gateways.iter().map(|g| g.tone));
        let roster: Roster = snapshot
            .gateways
            .iter()
            .map(|g| (g.id.clone(), g.name.clone()))
            .collect();
        let lines: Vec<String> = snapshot
            .gateways
            .iter()
            .map(|g| g.status_line.clone())
            .collect();
        let new_icon = (self.icon != Some(kind)).then_some(kind);
        let new_roster = (self.roster.as_ref() != Some(&roster)).then(|| roster.clone());
        if new_icon.is_none()
            && new_roster.is_none()
            && self.title == snapshot.status_line
            && self.lines == lines
        {
            return;
        }
        self.icon = Some(kind);
        self.roster = Some(roster);
        self.title.clone_from(&snapshot.status_line);
        self.lines.clone_from(&lines);
        let title = self.title.clone();
        let handle_for_main = handle.clone();
        let _ = handle.run_on_main_thread(move || {
            let Some(tray) = handle_for_main.tray_by_id(TRAY_ID) else {
                return;
            };
            if let Some(kind) = new_icon {
                let _ = tray.set_icon(Some(image(kind)));
            }
            let _ = tray.set_title(Some(title.as_str()));
            if let Some(roster) = new_roster
                && let Ok((menu, status)) = menu(&handle_for_main, &roster)
            {
                let _ = tray.set_menu(Some(menu));
                if let Some(items) = handle_for_main.try_state::<StatusItems>() {
                    *items.0.lock().expect("status items poisoned") = status;
                }
            }
            if let Some(items) = handle_for_main.try_state::<StatusItems>() {
                let items = items.0.lock().expect("status items poisoned");
                for (item, line) in items.iter().zip(&lines) {
                    let _ = item.set_text(line.as_str());
                }
            }
        });
    }
}

/// The status lines of the menu in use.
struct StatusItems(std::sync::Mutex<Vec<MenuItem<Wry>>>);
