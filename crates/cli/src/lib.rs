//! Headless front ends over the supervisor: the stability probe and the watch mode.
//!
//! The probe answers "is this gateway connection fit to trade on?" in a fixed time: it
//! connects through the same supervisor and worker the desktop app uses, pings once a
//! second, fetches positions and the account summary periodically, and compares CLOSE_WAIT
//! counts before and after. Its report says what fell short.

pub mod history;
pub mod probe;
pub mod profiles;
pub mod serve;
pub mod text;
pub mod watch;

use std::io::Write;

use gatewatch_supervisor::SupervisorConfig;

/// Writes `text` and a newline to stdout; `false` once stdout is gone (a closed pipe, as
/// `watch | head -3` leaves), where `println!` would panic.
pub fn say(text: &str) -> bool {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").and_then(|_| out.flush()).is_ok()
}

/// The gateway to probe or watch, from the command line.
#[derive(Debug, Clone)]
pub struct Target {
    /// Host.
    pub host: String,
    /// API port.
    pub port: u16,
    /// Client id.
    pub client_id: i32,
    /// Tried once when the client id is in use.
    pub fallback_client_id: Option<i32>,
}

impl Target {
    /// Supervisor settings for this target (defaults otherwise).
    pub fn config(&self) -> SupervisorConfig {
        SupervisorConfig {
            host: self.host.clone(),
            port: self.port,
            client_id: self.client_id,
            fallback_client_id: self.fallback_client_id,
            ..SupervisorConfig::default()
        }
    }
}
