//! The supervisor: keeps one broker worker alive per gateway and tells the truth about the
//! connection.
//!
//! [`BrokerClient`] is a cloneable handle over one actor task that owns all state: it spawns
//! the worker, matches replies to requests with per-request timeouts, heartbeats the worker
//! (replacing it when it hangs, crashes or writes garbage), pings the gateway for latency,
//! reconnects with backoff and a circuit breaker, falls back to a second client id on 326,
//! and counts CLOSE_WAIT sockets on the gateway's port. The current [`Snapshot`] is published
//! through a `watch` channel, what happens through a `broadcast` of [`SupervisorEvent`]s.
//! Nothing here knows about a UI.

mod actor;
mod client;
pub mod config;
pub mod expect;
pub mod machine;
pub mod retry;
pub mod state;
pub mod stats;
mod worker;
pub mod zombie;

pub use client::{BrokerClient, ClientError, DataRequest};
pub use config::{CalendarConfig, ConfigError, SupervisorConfig};
pub use gatewatch_calendar as calendar;
pub use state::{ConnectionState, DegradedReason, EventKind, Snapshot, SupervisorEvent};
