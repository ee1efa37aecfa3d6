//! The desktop app's endpoints: served while the settings turn them on, moved when the
//! address or token changes, stopped when turned off, with the outcome shown in the window
//! (`UiSnapshot.endpoints`) rather than lost in a log.

use gatewatch_app::{App, EndpointsStatus};
use gatewatch_settings::EndpointSettings;

use crate::listen::{Listen, bind, read_token};
use crate::served::Served;

/// The endpoints as the settings want them.
#[derive(Default)]
pub struct Exposure {
    running: Option<Served>,
    /// The settings last applied (also when they failed), so an unchanged save is a no-op.
    applied: Option<EndpointSettings>,
}

impl Exposure {
    /// Brings the server in line with `settings`, and says how it went in `app`'s snapshot.
    pub async fn apply(&mut self, app: &App, settings: &EndpointSettings) {
        if self.applied.as_ref() == Some(settings) {
            return;
        }
        self.applied = Some(settings.clone());
        self.stop().await;
        if !settings.enabled {
            app.set_endpoints_status(EndpointsStatus::default());
            return;
        }
        let status = match self.start(app, settings).await {
            Ok(addr) => {
                tracing::info!(%addr, "serving /metrics, /healthz, /readyz and /api/v1");
                EndpointsStatus {
                    serving: Some(addr.to_string()),
                    problem: None,
                }
            }
            Err(problem) => {
                tracing::warn!(problem, "the endpoints are not served");
                EndpointsStatus {
                    serving: None,
                    problem: Some(problem),
                }
            }
        };
        app.set_endpoints_status(status);
    }

    async fn start(
        &mut self,
        app: &App,
        settings: &EndpointSettings,
    ) -> Result<std::net::SocketAddr, String> {
        let addr = settings
            .listen
            .trim()
            .parse()
            .map_err(|_| format!("`{}` is not an address and port", settings.listen))?;
        let token = match settings.token_file.as_deref().map(str::trim) {
            Some(path) if !path.is_empty() => Some(read_token(std::path::Path::new(path))?),
            _ => None,
        };
        let listen = Listen {
            addr,
            token,
            insecure_no_auth: false,
        };
        let listener = bind(&listen).await?;
        let served =
            Served::spawn(listener, app.clone(), listen.token).map_err(|e| e.to_string())?;
        let bound = served.addr();
        self.running = Some(served);
        Ok(bound)
    }

    /// Stops the server, if one runs, waiting up to 5 s for requests under way.
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
    }
}
