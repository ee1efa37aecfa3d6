//! Headless front ends over the supervisor: the stability probe and the watch mode.
//!
//! The probe answers "is this gateway connection fit to trade on?" in a fixed time: it
//! connects through the same supervisor and worker the desktop app uses, pings once a
//! second, fetches positions and the account summary periodically, and compares CLOSE_WAIT
//! counts before and after. Its report says what fell short.

pub mod probe;
pub mod watch;

use gatewatch_supervisor::SupervisorConfig;

/// The gateway to probe or watch, from the command line.
#[derive(Debug, Clone)]
pub struct Target {
    /// Host.
    pub host: String,
    /// API port.
    pub port: u16,
    /// Client id.
    pub client_id: i32,
}

impl Target {
    /// Supervisor settings for this target (defaults otherwise).
    pub fn config(&self) -> SupervisorConfig {
        SupervisorConfig {
            host: self.host.clone(),
            port: self.port,
            client_id: self.client_id,
            fallback_client_id: Some(self.client_id + 1),
            ..SupervisorConfig::default()
        }
    }
}
