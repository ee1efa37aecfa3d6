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

use gatewatch_alerts::{Alert, AlertAction};
use gatewatch_app::App;
use tauri::async_runtime::JoinHandle;
use tauri::{AppHandle, Manager};

const NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);

/// The sound theme's name for a warning (freedesktop sound naming specification).
const WARNING_SOUND: &str = "dialog-warning";

/// The notification a gateway shows now.
struct Showing {
    /// Its id, which the next one replaces.
    id: u32,
    /// The task waiting for its buttons.
    waiter: Option<JoinHandle<()>>,
}

/// The notification each gateway shows now; reminders for the whole fleet are kept under
/// the empty key.
#[derive(Default)]
pub struct Shown(Mutex<HashMap<String, Showing>>);

/// Shows `alert`, replacing its gateway's last notification; `sound` adds the warning sound.
pub async fn show(handle: AppHandle, alert: Alert, sound: bool) {
    let shown = handle.state::<Shown>();
    let replaces = shown
        .0
        .lock()
        .expect("shown notifications poisoned")
        .get(&alert.gateway)
        .map(|showing| showing.id);
    let mut notification = notify_rust::Notification::new();
    notification
        .appname("Gatewatch")
        .summary(&alert.title)
        .body(&alert.body);
    #[cfg(all(unix, not(target_os = "macos")))]
    {
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
    }
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    let _ = (replaces, sound, WARNING_SOUND);
    let notification_handle =
        match tokio::time::timeout(NOTIFY_TIMEOUT, notification.show_async()).await {
            Ok(Ok(notification_handle)) => notification_handle,
            Ok(Err(error)) => {
                tracing::warn!(%error, title = %alert.title, "notification failed");
                return;
            }
            Err(_) => {
                tracing::warn!(title = %alert.title, "notification service did not answer in time");
                return;
            }
        };
    tracing::info!(title = %alert.title, "notification shown");
    #[cfg(all(unix, not(target_os = "macos")))]
    let (id, waiter) = {
        let id = notification_handle.id();
        let waiter = (!alert.actions().is_empty()).then(|| {
            tauri::async_runtime::spawn(wait_for_button(
                handle.clone(),
                alert.gateway.clone(),
                notification_handle,
            ))
        });
        (id, waiter)
    };
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    let (id, waiter) = {
        drop(notification_handle);
        (0, None)
    };
    let previous = shown
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
            let app = handle.state::<App>().inner().clone();
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
