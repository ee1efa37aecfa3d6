//! The messages, named by direction: [`ToWorker`] (inside a [`Request`]) and [`FromWorker`].

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A request to the worker: an id chosen by the app, echoed by the reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Chosen by the app; unique among requests in flight.
    pub id: u64,
    /// What to do.
    #[serde(flatten)]
    pub command: ToWorker,
}

/// What the app can ask of the worker. None of it can place, modify or cancel an order.
///
/// Variants without fields are written `Name {}`: serde refuses unknown fields only for
/// struct variants, and every request must refuse them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ToWorker {
    /// Connect to a gateway, stage by stage. Replied with [`Reply::Connected`].
    Connect {
        /// Gateway host (`127.0.0.1`).
        host: String,
        /// API port (4001/4002 Gateway, 7496/7497 TWS).
        port: u16,
        /// The client id to claim.
        client_id: i32,
        /// Per-stage timeouts; defaults when absent.
        #[serde(default)]
        timeouts: Timeouts,
    },
    /// Close the gateway connection. Replied with [`Reply::Disconnected`].
    Disconnect {},
    /// The managed accounts. Replied with [`Reply::Accounts`].
    GetAccounts {},
    /// Every position with its market value. Replied with [`Reply::Positions`].
    GetPositions {},
    /// Account-summary rows for every account. Replied with [`Reply::AccountSummary`].
    GetAccountSummary {
        /// Tags such as `NetLiquidation` or `$LEDGER:ALL`; empty means the standard set.
        #[serde(default)]
        tags: Vec<String>,
    },
    /// A gateway round trip (server time). Replied with [`Reply::Pong`].
    Ping {
        /// How long to wait for the gateway's answer.
        timeout_ms: u64,
    },
    /// A cheap check of a gateway that keeps failing: a TCP connect and the version exchange
    /// on a connection of its own, closed right after, claiming no client id. Replied with
    /// [`Reply::Probed`], or an error naming the stage that failed.
    Probe {
        /// Gateway host.
        host: String,
        /// API port.
        port: u16,
        /// How long the TCP connect may take.
        tcp_connect_ms: u64,
        /// How long to wait for the version reply.
        version_exchange_ms: u64,
    },
    /// Worker liveness, answered without touching the gateway. Replied with [`Reply::HeartbeatAck`].
    Heartbeat {},
    /// Close the gateway connection and exit. Replied with [`Reply::ShuttingDown`] first.
    Shutdown {},
}

/// Per-stage connect timeouts, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    /// TCP connect.
    pub tcp_connect_ms: u64,
    /// From the hello to the gateway's version reply.
    pub version_exchange_ms: u64,
    /// From startApi to nextValidId and managed accounts.
    pub start_api_ms: u64,
    /// The first ping after start-up.
    pub first_ping_ms: u64,
    /// Each data request (accounts, positions, summary).
    pub request_ms: u64,
}

impl Timeouts {
    /// Every timeout with its name, for checks that apply to all of them.
    pub fn named(&self) -> [(&'static str, u64); 5] {
        [
            ("tcp_connect_ms", self.tcp_connect_ms),
            ("version_exchange_ms", self.version_exchange_ms),
            ("start_api_ms", self.start_api_ms),
            ("first_ping_ms", self.first_ping_ms),
            ("request_ms", self.request_ms),
        ]
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            tcp_connect_ms: 2_000,
            version_exchange_ms: 3_000,
            start_api_ms: 5_000,
            first_ping_ms: 3_000,
            request_ms: 10_000,
        }
    }
}

/// The stages of a connect, in order; an error names the one that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Opening the TCP connection.
    TcpConnect,
    /// `API\0` and the version hello, until the gateway's version reply.
    VersionExchange,
    /// startApi, until nextValidId and the managed accounts.
    StartApi,
    /// The first server-time round trip.
    FirstPing,
}

/// Everything the worker writes on stdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromWorker {
    /// The worker's first line.
    Hello {
        /// [`crate::PROTOCOL_VERSION`] of the worker.
        protocol_version: u32,
        /// The worker's crate version.
        worker_version: String,
        /// The worker's process id.
        pid: u32,
    },
    /// A request succeeded.
    Reply {
        /// The request's id.
        id: u64,
        /// What it produced.
        result: Reply,
    },
    /// A request failed, or (with no id) a line could not be taken as a request.
    Error {
        /// The request's id, when the line was readable enough to have one.
        id: Option<u64>,
        /// What went wrong.
        error: WorkerError,
    },
    /// Something happened that nobody asked about.
    Event {
        /// What happened.
        event: Event,
    },
}

/// Successful results, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reply {
    /// The connect reached the first ping.
    Connected(Session),
    /// The connection is closed (or was not open).
    Disconnected,
    /// The managed accounts.
    Accounts {
        /// Account ids; paper accounts start with `DU`.
        accounts: Vec<String>,
    },
    /// Every position.
    Positions {
        /// Positions of every managed account.
        positions: Vec<Position>,
    },
    /// Account-summary rows.
    AccountSummary {
        /// One row per account, tag and currency.
        rows: Vec<SummaryRow>,
    },
    /// A gateway round trip.
    Pong {
        /// Round trip of the server-time request, in microseconds.
        rtt_us: u64,
        /// The gateway's clock, seconds since the Unix epoch.
        server_time_s: i64,
    },
    /// The gateway answered a probe's version exchange: its API is up again.
    Probed {
        /// The version the gateway chose.
        server_version: i32,
    },
    /// The worker is alive.
    HeartbeatAck,
    /// The worker is closing its connection and exiting.
    ShuttingDown,
}

/// What a successful connect established.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Session {
    /// The negotiated server version.
    pub server_version: i32,
    /// Protobuf (213 and up) or classic text.
    pub encoding: Encoding,
    /// The managed accounts.
    pub accounts: Vec<String>,
    /// The gateway's next order id (read, never used).
    pub next_order_id: i32,
    /// The client id in use.
    pub client_id: i32,
    /// How long each stage took, in microseconds.
    pub stage_us: StageTimes,
}

/// How the gateway encodes messages on this connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// Server version 213 and up.
    Protobuf,
    /// Server versions 201 to 212: protobuf for some message families, text for the rest.
    Mixed,
    /// Server version 200 and below.
    ClassicText,
}

impl Encoding {
    /// The encoding a server version implies.
    pub fn for_version(version: i32) -> Self {
        match version {
            ..=200 => Encoding::ClassicText,
            201..=212 => Encoding::Mixed,
            _ => Encoding::Protobuf,
        }
    }
}

/// Microseconds spent in each connect stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
pub struct StageTimes {
    /// TCP connect.
    pub tcp_connect: u64,
    /// Version exchange.
    pub version_exchange: u64,
    /// startApi to ready.
    pub start_api: u64,
    /// First ping.
    pub first_ping: u64,
}

impl StageTimes {
    /// The times in [`Stage::ALL`]'s order.
    pub fn in_order(&self) -> [u64; 4] {
        [
            self.tcp_connect,
            self.version_exchange,
            self.start_api,
            self.first_ping,
        ]
    }
}

/// One position, with the market data account updates give.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Position {
    /// The account holding it.
    pub account: String,
    /// The instrument.
    pub instrument: Instrument,
    /// Signed quantity.
    pub quantity: f64,
    /// Average cost per unit, multiplier included for derivatives.
    pub average_cost: f64,
    /// Last price, when account updates gave one.
    pub market_price: Option<f64>,
    /// Market value, when account updates gave one.
    pub market_value: Option<f64>,
    /// Unrealized PnL, when account updates gave one.
    pub unrealized_pnl: Option<f64>,
    /// Realized PnL, when account updates gave one.
    pub realized_pnl: Option<f64>,
}

/// The instrument of a position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Instrument {
    /// IB's contract id.
    pub con_id: i32,
    /// Symbol.
    pub symbol: String,
    /// IB's security type code (`STK`, `OPT`, `FUT`, `CASH`, …).
    pub sec_type: String,
    /// `YYYYMMDD` or `YYYYMM`, empty when none.
    pub expiry: String,
    /// Strike, for options.
    pub strike: Option<f64>,
    /// `C` or `P`, for options.
    pub right: Option<String>,
    /// Multiplier, for derivatives.
    pub multiplier: Option<f64>,
    /// Exchange.
    pub exchange: String,
    /// Currency.
    pub currency: String,
    /// Local symbol.
    pub local_symbol: String,
    /// Trading class.
    pub trading_class: String,
}

/// One account-summary row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SummaryRow {
    /// The account.
    pub account: String,
    /// The tag.
    pub tag: String,
    /// The value, as the gateway sent it.
    pub value: String,
    /// The currency; empty for tags without one.
    pub currency: String,
}

/// A failed request. Its `Display` is the sentence for people, prefixed by the stage of a
/// connect error ("version exchange: …").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error, TS)]
pub struct WorkerError {
    /// What kind of failure, for the app to branch on.
    pub code: ErrorCode,
    /// A sentence for people.
    pub message: String,
    /// The connect stage that failed, for connect errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
}

impl WorkerError {
    /// An error with no stage.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            stage: None,
        }
    }

    /// An error at a connect stage.
    pub fn at(stage: Stage, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            stage: Some(stage),
        }
    }
}

impl std::fmt::Display for WorkerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.stage {
            Some(stage) => write!(f, "{stage}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl Stage {
    /// Every stage, in the order a connect goes through them.
    pub const ALL: [Stage; 4] = [
        Stage::TcpConnect,
        Stage::VersionExchange,
        Stage::StartApi,
        Stage::FirstPing,
    ];
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stage::TcpConnect => "TCP connect",
            Stage::VersionExchange => "version exchange",
            Stage::StartApi => "API start-up",
            Stage::FirstPing => "first ping",
        })
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ErrorCode::GatewayUnreachable => "gateway unreachable",
            ErrorCode::HandshakeTimeout => "handshake timed out",
            ErrorCode::HandshakeRejected => "handshake rejected",
            ErrorCode::UnsupportedServerVersion => "unsupported server version",
            ErrorCode::ClientIdInUse => "client id in use",
            ErrorCode::NotConnected => "not connected",
            ErrorCode::AlreadyConnected => "already connected",
            ErrorCode::RequestTimeout => "no answer in time",
            ErrorCode::AwaitingReply => "an earlier reply is still owed",
            ErrorCode::ConnectionLost => "connection lost",
            ErrorCode::BadRequest => "bad request",
            ErrorCode::LineTooLong => "line too long",
            ErrorCode::Internal => "internal error",
        })
    }
}

impl std::fmt::Display for DisconnectCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DisconnectCause::GatewayClosed => "the gateway closed the connection",
            DisconnectCause::ConnectionReset => "the connection was reset",
            DisconnectCause::PortReset => "the gateway reset its API port (1300)",
            DisconnectCause::ProtocolError => "the gateway sent something unreadable",
            DisconnectCause::Unresponsive => "the gateway stopped answering",
        })
    }
}

/// The error codes the app can branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// TCP connect refused or timed out: the gateway is not running, or not on that port.
    GatewayUnreachable,
    /// A handshake stage got no answer in time (the stage says which).
    HandshakeTimeout,
    /// The gateway closed the connection during the handshake.
    HandshakeRejected,
    /// The gateway's version cannot be served.
    UnsupportedServerVersion,
    /// Error 326: the client id is held by another connection.
    ClientIdInUse,
    /// A request that needs a connection, without one.
    NotConnected,
    /// `connect` while connected or connecting.
    AlreadyConnected,
    /// The gateway did not answer a request in time.
    RequestTimeout,
    /// Not sent: an earlier request of the same kind timed out and its reply is still owed;
    /// a reply could not be told apart until it comes (or the connection is replaced).
    AwaitingReply,
    /// The connection dropped while the request was in flight.
    ConnectionLost,
    /// The line was not a valid request.
    BadRequest,
    /// The line was longer than [`crate::MAX_LINE_BYTES`].
    LineTooLong,
    /// A fault inside the worker.
    Internal,
}

/// Things that happen unasked, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// The connection's state changed.
    Status {
        /// The new state.
        state: LinkState,
        /// The stage being attempted, while connecting.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stage: Option<Stage>,
    },
    /// A message from the gateway with request id −1: connectivity, farms, 1300, 326, …
    Notice(crate::notice::Notice),
    /// The reply to ping `id` came after all, after the ping had been reported timed out:
    /// its true round trip. A gateway answers in order, so it is never the next ping's.
    LatePong {
        /// The ping request's id.
        id: u64,
        /// Round trip from the ping's request to this reply, in microseconds.
        rtt_us: u64,
        /// The gateway's clock, seconds since the Unix epoch.
        server_time_s: i64,
    },
    /// The connection closed without being asked to.
    Disconnected {
        /// Why.
        cause: DisconnectCause,
        /// Details for people.
        message: String,
    },
}

/// The worker's view of its gateway connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// No connection.
    Disconnected,
    /// A connect is in progress.
    Connecting,
    /// Connected and answering.
    Connected,
}

/// Why a connection closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum DisconnectCause {
    /// The gateway closed the socket (EOF).
    GatewayClosed,
    /// The connection was reset.
    ConnectionReset,
    /// The gateway announced a port reset (1300) and closed.
    PortReset,
    /// The gateway sent a frame the worker cannot read.
    ProtocolError,
    /// Gatewatch closed it: the gateway had sent no reply, late or not, for too long. Never
    /// sent by the worker; the supervisor reports it when it replaces such a connection.
    Unresponsive,
}
