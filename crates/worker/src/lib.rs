//! The broker worker: one read-only TWS API session in its own process.
//!
//! The app's supervisor talks to it in JSON lines over stdin and stdout (the contract is the
//! `gatewatch-protocol` crate). Running the broker client in its own process means a client
//! that hangs, panics or leaks sockets can never take the app down, and killing the process
//! always tears its connection down.
//!
//! Read-only by construction: the protobuf path uses only `ibapi`'s account and time calls,
//! and the classic-text path can only send what `gatewatch_wire::request::Request::encode`
//! encodes, which refuses every order message.

mod classic;
mod connect;
mod convert;
mod link;
mod modern;
mod session;

pub use session::run;
