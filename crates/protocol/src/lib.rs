//! The contract between the Gatewatch app (its supervisor) and the broker worker process.
//!
//! One JSON object per line: [`Request`]s on the worker's stdin, [`FromWorker`] messages on
//! its stdout. Every request carries an id that its reply or error echoes; events come
//! unasked. The worker's first line is a [`FromWorker::Hello`] naming [`PROTOCOL_VERSION`];
//! a peer that speaks another version is refused ([`check_hello`]). Lines longer than
//! [`MAX_LINE_BYTES`] are refused on both sides ([`lines`]). The wire format is pinned by the
//! golden files in `tests/golden/` and described in `docs/protocol.md`.

pub mod lines;
mod messages;
pub mod notice;

pub use messages::*;

/// The version of this contract; bumped on any change a peer could misread.
pub const PROTOCOL_VERSION: u32 = 2;

/// The longest line either side accepts, newline excluded (1 MiB: a large book's positions
/// fit many times over).
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// The account-summary tags the worker asks for when a request names none.
pub const DEFAULT_SUMMARY_TAGS: &[&str] = &[
    "AccountType",
    "NetLiquidation",
    "TotalCashValue",
    "SettledCash",
    "BuyingPower",
    "EquityWithLoanValue",
    "GrossPositionValue",
    "InitMarginReq",
    "MaintMarginReq",
    "AvailableFunds",
    "ExcessLiquidity",
    "Cushion",
];

/// Exit codes of the worker process.
pub mod exit_code {
    /// Stopped on request (`shutdown`) or because stdin closed.
    pub const OK: i32 = 0;
    /// The worker could not start (logging, runtime, parent-death signal).
    pub const STARTUP_FAILED: i32 = 70;
    /// stdout closed or failed: the app is gone and nobody can hear the worker.
    pub const OUTPUT_CLOSED: i32 = 74;
}

/// Why a hello was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HelloError {
    /// The first line was not a hello.
    #[error("the worker's first line was not a hello")]
    NotHello,
    /// The worker speaks another version of the contract.
    #[error(
        "worker speaks protocol version {worker}, this app speaks {expected}: install matching versions"
    )]
    VersionMismatch {
        /// The version the worker announced.
        worker: u32,
        /// [`PROTOCOL_VERSION`].
        expected: u32,
    },
}

/// Checks the worker's first line.
pub fn check_hello(first: &FromWorker) -> Result<(), HelloError> {
    match first {
        FromWorker::Hello {
            protocol_version, ..
        } if *protocol_version == PROTOCOL_VERSION => Ok(()),
        FromWorker::Hello {
            protocol_version, ..
        } => Err(HelloError::VersionMismatch {
            worker: *protocol_version,
            expected: PROTOCOL_VERSION,
        }),
        _ => Err(HelloError::NotHello),
    }
}
