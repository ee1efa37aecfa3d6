//! The signals that end Gatewatch gracefully (workers stopped, history written), for the
//! desktop app and the headless service alike: SIGTERM (a logout, `systemctl stop`, `kill`)
//! and SIGINT (Ctrl-C; the only one elsewhere than Unix).

/// Waits for SIGTERM or SIGINT and says which; `None` at once when this process cannot
/// listen for them (they would then end it abruptly).
pub async fn stop_signal() -> Option<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return None;
        };
        tokio::select! {
            _ = term.recv() => Some("SIGTERM"),
            _ = int.recv() => Some("SIGINT"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.ok().map(|()| "Ctrl-C")
    }
}
