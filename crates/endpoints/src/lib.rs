//! Gatewatch's HTTP endpoints, for the headless service (`gatewatch-cli serve`) and, when the
//! user turns them on, the desktop app: `/metrics` for Prometheus, `/healthz` and `/readyz`
//! for Docker, systemd and load balancers, and `/api/v1/*` with the app's own typed JSON.
//!
//! Loopback by default; any other address needs a bearer token or an explicit opt-out
//! ([`Listen::check`]).

pub mod condition;
pub mod exposition;
pub mod guard;
pub mod listen;
pub mod process;
pub mod routes;
pub mod served;

pub use guard::Limits;
pub use listen::{DEFAULT_LISTEN, Listen, bind, read_token};
pub use routes::{router, serve, serve_within};
pub use served::Served;
pub mod exposure;
pub use exposure::Exposure;
