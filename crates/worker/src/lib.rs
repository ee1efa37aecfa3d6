//! The broker worker: one read-only TWS API session in its own process.
//!
//! The app's supervisor talks to it in JSON lines over stdin and stdout (the contract is the
//! `gatewatch-protocol` crate). Running the broker client in its own process means a client
//! that hangs, panics or leaks sockets can never take the app down, and killing the process
//! always tears its connection down.
//!
//! Read-only by construction: the gateway client ([`gateway`]) can only send a
//! `gatewatch_wire::request::ReadRequest`, a type with no order variants, and the worker does
//! not depend on any other TWS API client.

mod connect;
mod convert;
mod gateway;
mod in_order;
pub mod pipes;
mod session;

pub use session::run;
