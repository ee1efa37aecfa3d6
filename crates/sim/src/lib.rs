//! A TWS / IB Gateway simulator for testing and demonstrating Gatewatch.
//!
//! It speaks the real TWS API wire protocol to real clients — classic text up to version 200
//! and protobuf at 213, negotiated per connection — serves two paper accounts whose prices
//! move on a seeded random walk, and injects the faults that real gateways show: refused
//! ports, zombie handshakes, stalled start-up, muted sockets, latency, drops, IB notices,
//! daily restarts and CLOSE_WAIT pile-ups. Faults are switched at run time through
//! [`Simulator::apply`], the control port ([`control`]) or a scenario file.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let sim = gatewatch_sim::Simulator::start(listener, gatewatch_sim::SimConfig::default())?;
//! sim.execute("latency 20 5").unwrap();
//! # sim.shutdown().await; Ok(()) }
//! ```

pub mod book;
pub mod capture;
pub mod clock;
pub mod command;
pub mod control;
pub mod ibc;
pub mod market;
pub mod notice;
mod outbox;
mod server;
mod session;

pub use gatewatch_wire as wire;
pub use gatewatch_wire::contract;

pub use capture::{CaptureTo, CapturedFrame};
pub use command::{Command, CommandError, Latency, RefuseMode};
pub use server::{Faults, SimConfig, Simulator, Status};

use std::future::Future;

/// The demo scenario: every state a monitor must show within about five minutes (a farm
/// flap, a 1100/1102 pair, a drop and a compressed nightly restart).
pub const DEMO_SCENARIO: &str = include_str!("../scenarios/demo.txt");

/// Serves on `listener` with `config` until `shutdown` completes, then closes everything.
pub async fn run(
    listener: tokio::net::TcpListener,
    config: SimConfig,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let simulator = Simulator::start(listener, config)?;
    shutdown.await;
    simulator.shutdown().await;
    Ok(())
}
