//! Desktop notifications through notify-rust, bounded by a timeout: a notification service
//! that never answers must not hang anything, and a failure is logged, never fatal.

use std::time::Duration;

use gatewatch_alerts::Alert;

const NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn show(alert: Alert) {
    let mut notification = notify_rust::Notification::new();
    notification
        .appname("Gatewatch")
        .summary(&alert.title)
        .body(&alert.body);
    match tokio::time::timeout(NOTIFY_TIMEOUT, notification.show_async()).await {
        Ok(Ok(_)) => tracing::info!(title = %alert.title, "notification shown"),
        Ok(Err(error)) => tracing::warn!(%error, title = %alert.title, "notification failed"),
        Err(_) => {
            tracing::warn!(title = %alert.title, "notification service did not answer in time")
        }
    }
}
