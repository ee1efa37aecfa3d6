//! The signals that end Gatewatch gracefully (workers stopped, history written), for the
//! desktop app and the headless service alike: on Unix SIGTERM (a logout or shutdown,
//! `systemctl stop`, `kill`), SIGHUP (the session or terminal gone) and SIGINT (Ctrl-C); on
//! Windows Ctrl-C and the console's close, log-off and shutdown events.

/// Waits for a stop signal and says which; `None` at once when this process cannot listen
/// for them (they would then end it abruptly).
pub async fn stop_signal() -> Option<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut hup), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
            signal(SignalKind::interrupt()),
        ) else {
            return None;
        };
        tokio::select! {
            _ = term.recv() => Some("SIGTERM"),
            _ = hup.recv() => Some("SIGHUP"),
            _ = int.recv() => Some("SIGINT"),
        }
    }
    #[cfg(windows)]
    {
        use tokio::signal::windows::{ctrl_c, ctrl_close, ctrl_logoff, ctrl_shutdown};
        let (Ok(mut c), Ok(mut close), Ok(mut logoff), Ok(mut shutdown)) =
            (ctrl_c(), ctrl_close(), ctrl_logoff(), ctrl_shutdown())
        else {
            return None;
        };
        tokio::select! {
            _ = c.recv() => Some("Ctrl-C"),
            _ = close.recv() => Some("console closed"),
            _ = logoff.recv() => Some("log-off"),
            _ = shutdown.recv() => Some("shutdown"),
        }
    }
    #[cfg(not(any(unix, windows)))]
    {
        tokio::signal::ctrl_c().await.ok().map(|()| "Ctrl-C")
    }
}
