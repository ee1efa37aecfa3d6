//! One running HTTP server over an app, and its graceful stop: what `gatewatch-cli serve`
//! and the desktop app's [`crate::Exposure`] both start and stop.

use std::net::SocketAddr;
use std::time::Duration;

use gatewatch_app::App;
use tokio::sync::oneshot;

/// How long a stop waits for requests under way.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// The endpoints served on a bound listener until [`Served::stop`].
pub struct Served {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Served {
    /// Serves `app`'s routes on `listener` (bound by [`crate::bind`]), with `token` required
    /// when given.
    pub fn spawn(
        listener: tokio::net::TcpListener,
        app: App,
        token: Option<String>,
    ) -> std::io::Result<Served> {
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(crate::serve(listener, crate::router(app, token), async {
            let _ = stopped.await;
        }));
        Ok(Served { addr, stop, task })
    }

    /// The address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and waits up to 5 s for requests under way; says what went wrong.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        match tokio::time::timeout(STOP_WAIT, self.task).await {
            Ok(Ok(Err(e))) => tracing::warn!(listen = %self.addr, error = %e, "endpoints"),
            Err(_) => tracing::warn!(listen = %self.addr, "the endpoints did not stop within 5 s"),
            _ => {}
        }
    }
}
