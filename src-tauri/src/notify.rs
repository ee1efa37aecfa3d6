//! Desktop notifications through notify-rust, one at a time per gateway: a new one replaces
//! the gateway's last (the XDG `replaces_id`) instead of stacking, its buttons ("Open",
//! "Reconnect now", where the notification server shows buttons) act on the app, and a bad
//! state may carry the desktop's warning sound (the `sound-name` hint, off by default).
//!
//! Showing is bounded by a timeout (a notification service that never answers must not hang
//! anything), and a failure is logged, never fatal. The wait for a button runs in a task of
//! its own, aborted when the notification is replaced, so one click acts once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use gatewatch_alerts::Alert;
use tauri::async_runtime::JoinHandle;
use tauri::{AppHandle, Manager};

const NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);

/// The sound theme's name for a warning (freedesktop sound naming specification).
const WARNING_SOUND: &str = "dialog-warning";

/// The notification a gateway shows now (kept only where notifications are replaced: XDG).
#[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))]
struct Showing {
    /// Its id, which the next one replaces.
    id: u32,
    /// The task waiting for its buttons.
    waiter: Option<JoinHandle<()>>,
}

/// The notification each gateway shows now; reminders for the whole fleet are kept under
/// the empty key.
#[derive(Default)]
#[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))]
pub struct Shown(Mutex<HashMap<String, Showing>>);

/// Shows `alert`, replacing its gateway's last notification; `sound` adds the warning sound.
pub async fn show(handle: AppHandle, alert: Alert, sound: bool) {
    let mut notification = notify_rust::Notification::new();
    notification
        .appname("Gatewatch")
        .summary(&alert.title)
        .body(&alert.body);
    #[cfg(all(unix, not(target_os = "macos")))]
    show_xdg(handle, alert, sound, notification).await;
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    show_plain(alert, notification).await;
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    let _ = (handle, sound, WARNING_SOUND);
}

/// Logs the outcome of showing; the handle when shown.
fn shown<T, E: std::fmt::Display>(
    title: &str,
    outcome: Result<Result<T, E>, tokio::time::error::Elapsed>,
) -> Option<T> {
    match outcome {
        Ok(Ok(shown)) => {
            tracing::info!(title, "notification shown");
            Some(shown)
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, title, "notification failed");
            None
        }
        Err(_) => {
            tracing::warn!(title, "notification service did not answer in time");
            None
        }
    }
}

/// Windows and macOS: shown as a toast (on Windows under the app's AppUserModelID, the
/// bundle identifier Tauri's installer registers), without buttons or replacement.
#[cfg(not(all(unix, not(target_os = "macos"))))]
async fn show_plain(alert: Alert, mut notification: notify_rust::Notification) {
    #[cfg(windows)]
    notification.app_id(APP_USER_MODEL_ID);
    let outcome = tokio::time::timeout(
        NOTIFY_TIMEOUT,
        tauri::async_runtime::spawn_blocking(move || {
            notification.show().map(drop).map_err(|e| e.to_string())
        }),
    )
    .await
    .map(|joined| joined.unwrap_or_else(|e| Err(e.to_string())));
    shown(&alert.title, outcome);
}

/// The Windows toast identity: the bundle identifier of `tauri.conf.json`.
#[cfg(windows)]
const APP_USER_MODEL_ID: &str = "com.gatewatch.desktop";

/// The XDG notification server (Linux, BSD): replaces the gateway's last notification, adds
/// the buttons and the sound hint, and waits for a button.
#[cfg(all(unix, not(target_os = "macos")))]
async fn show_xdg(
    handle: AppHandle,
    alert: Alert,
    sound: bool,
    mut notification: notify_rust::Notification,
) {
    let shown_now = handle.state::<Shown>();
    let replaces = shown_now
        .0
        .lock()
        .expect("shown notifications poisoned")
        .get(&alert.gateway)
        .map(|showing| showing.id);
    if let Some(id) = replaces {
        notification.id(id);
    }
    if sound && alert.is_bad() {
        notification.hint(notify_rust::Hint::SoundName(WARNING_SOUND.into()));
    }
    notification.hint(notify_rust::Hint::DesktopEntry("gatewatch".into()));
    for action in alert.actions() {
        notification.action(action.key(), action.label());
    }
    let outcome = tokio::time::timeout(NOTIFY_TIMEOUT, notification.show_async()).await;
    let Some(notification_handle) = shown(&alert.title, outcome) else {
        return;
    };
    let id = notification_handle.id();
    let waiter = (!alert.actions().is_empty()).then(|| {
        tauri::async_runtime::spawn(wait_for_button(
            handle.clone(),
            alert.gateway.clone(),
            notification_handle,
        ))
    });
    let previous = shown_now
        .0
        .lock()
        .expect("shown notifications poisoned")
        .insert(alert.gateway.clone(), Showing { id, waiter });
    if let Some(previous_waiter) = previous.and_then(|showing| showing.waiter) {
        previous_waiter.abort();
    }
}

/// Waits until a button of the notification is pressed (or it is closed) and does what the
/// button says.
#[cfg(all(unix, not(target_os = "macos")))]
async fn wait_for_button(
    handle: AppHandle,
    gateway: String,
    notification: notify_rust::NotificationHandle,
) {
    use gatewatch_alerts::AlertAction;
    let mut pressed = None;
    notification
        .wait_for_action_async(|response| {
            if let notify_rust::NotificationResponse::Default = response {
                pressed = Some(AlertAction::Open);
            } else if let notify_rust::NotificationResponse::Action(key) = response {
                pressed = AlertAction::from_key(key);
            }
        })
        .await;
    let Some(action) = pressed else {
        return;
    };
    tracing::info!(%gateway, action = action.key(), "notification button pressed");
    match action {
        AlertAction::Open => show_window(&handle),
        AlertAction::ReconnectNow => {
            let app = handle.state::<gatewatch_app::App>().inner().clone();
            if let Err(error) = app.reconnect_now(&gateway).await {
                tracing::warn!(%gateway, %error, "reconnect from a notification failed");
            }
        }
    }
}

/// Shows and focuses the main window (the tray's "Open Gatewatch" does the same).
pub fn show_window(handle: &AppHandle) {
    if let Some(window) = handle.get_webview_window("main") {
        let _ = window.show();
        let _ = window.set_focus();
    }
}
