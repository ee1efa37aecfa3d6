//! The staged connect: TCP, the version exchange, start-up, first ping — each with its own
//! timeout, so a failure names the stage that stalled.
//!
//! The worker opens the connection and runs the version exchange itself, offering
//! `v100..226`. That tells it which client the gateway needs before any client is built: 213
//! and up goes to `ibapi` (which opens its own connection; this first one is closed), 200 and
//! below continues on the same socket with the classic-text client, and 201–212 (a mixed
//! regime no client here speaks) is retried offering `v100..200`.

use std::time::{Duration, Instant};

use gatewatch_protocol::{
    Encoding, ErrorCode, Event, LinkState, Session, Stage, StageTimes, Timeouts, WorkerError,
};
use gatewatch_wire::frame::{encode_frame, read_frame};
use gatewatch_wire::handshake::{API_PREFIX, MIN_SUPPORTED_VERSION};
use gatewatch_wire::text::split_fields;
use gatewatch_wire::{CLASSIC_MAX_VERSION, PROTOBUF_VERSION};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::link::{EventSink, Link};
use crate::{classic, modern};

/// What the worker offers: everything from ibapi's floor to the newest version it knows.
const FULL_RANGE: &str = "v100..226";
/// What it offers when only classic text will do.
const CLASSIC_RANGE: &str = "v100..200";

/// The connect request's parameters.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) client_id: i32,
    pub(crate) timeouts: Timeouts,
}

fn ms(value: u64) -> Duration {
    Duration::from_millis(value)
}

fn elapsed_us(since: Instant) -> u64 {
    since.elapsed().as_micros() as u64
}

fn stage(events: &EventSink, stage: Stage) {
    let _ = events.send(Event::Status {
        state: LinkState::Connecting,
        stage: Some(stage),
    });
}

/// Connects stage by stage and returns the link with what the session learned.
pub(crate) async fn connect(
    target: &Target,
    events: &EventSink,
) -> Result<(Link, Session), WorkerError> {
    let t = target.timeouts;
    let address = format!("{}:{}", target.host, target.port);
    let mut times = StageTimes::default();

    let started = Instant::now();
    stage(events, Stage::TcpConnect);
    let stream = tcp_connect(&address, ms(t.tcp_connect_ms)).await?;
    times.tcp_connect = elapsed_us(started);

    let started = Instant::now();
    stage(events, Stage::VersionExchange);
    let (mut stream, mut version) =
        exchange_versions(stream, FULL_RANGE, ms(t.version_exchange_ms)).await?;
    if version > CLASSIC_MAX_VERSION && version < PROTOBUF_VERSION {
        tracing::info!(
            version,
            "mixed-encoding server version; asking again for classic text"
        );
        drop(stream);
        let retry = tcp_connect(&address, ms(t.tcp_connect_ms)).await?;
        (stream, version) =
            exchange_versions(retry, CLASSIC_RANGE, ms(t.version_exchange_ms)).await?;
    }
    times.version_exchange = elapsed_us(started);
    if version < MIN_SUPPORTED_VERSION {
        return Err(WorkerError::at(
            Stage::VersionExchange,
            ErrorCode::UnsupportedServerVersion,
            format!(
                "the gateway speaks server version {version}; {MIN_SUPPORTED_VERSION} or later is needed"
            ),
        ));
    }

    let started = Instant::now();
    stage(events, Stage::StartApi);
    let start_api = ms(t.start_api_ms);
    let (link, accounts, next_order_id, server_version, encoding) = if version >= PROTOBUF_VERSION {
        drop(stream);
        let e = modern::connect(
            &address,
            target.client_id,
            start_api,
            ms(t.request_ms),
            events.clone(),
        )
        .await?;
        (
            Link::Modern(e.link),
            e.accounts,
            e.next_order_id,
            e.server_version,
            Encoding::Protobuf,
        )
    } else {
        let e =
            classic::start(stream, version, target.client_id, start_api, events.clone()).await?;
        (
            Link::Classic(e.link),
            e.accounts,
            e.next_order_id,
            version,
            Encoding::ClassicText,
        )
    };
    times.start_api = elapsed_us(started);

    stage(events, Stage::FirstPing);
    let pong = match link.ping(ms(t.first_ping_ms)).await {
        Ok(pong) => pong,
        Err(error) => {
            link.close().await;
            return Err(WorkerError {
                stage: Some(Stage::FirstPing),
                ..error
            });
        }
    };
    times.first_ping = pong.rtt_us;
    let session = Session {
        server_version,
        encoding,
        accounts,
        next_order_id,
        client_id: target.client_id,
        stage_us: times,
    };
    Ok((link, session))
}

async fn tcp_connect(address: &str, timeout: Duration) -> Result<TcpStream, WorkerError> {
    let unreachable =
        |detail: String| WorkerError::at(Stage::TcpConnect, ErrorCode::GatewayUnreachable, detail);
    match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
        Ok(Err(error)) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err(unreachable(format!(
                "connection to {address} refused: the gateway is not running, not on this port, or its API is disabled"
            )))
        }
        Ok(Err(error)) => Err(unreachable(format!("cannot connect to {address}: {error}"))),
        Err(_) => Err(unreachable(format!(
            "no TCP connection to {address} within {} ms",
            timeout.as_millis()
        ))),
    }
}

/// Sends `API\0` and the version hello; returns the stream and the gateway's version.
async fn exchange_versions(
    mut stream: TcpStream,
    range: &str,
    timeout: Duration,
) -> Result<(TcpStream, i32), WorkerError> {
    let at = |code, detail: String| WorkerError::at(Stage::VersionExchange, code, detail);
    let mut hello = API_PREFIX.to_vec();
    hello.extend_from_slice(&encode_frame(range.as_bytes()));
    stream
        .write_all(&hello)
        .await
        .map_err(|e| at(ErrorCode::HandshakeRejected, format!("hello not sent: {e}")))?;
    let reply = match tokio::time::timeout(timeout, read_frame(&mut stream)).await {
        Err(_) => {
            return Err(at(
                ErrorCode::HandshakeTimeout,
                format!(
                    "TCP is accepted but no version reply came within {} ms (zombie gateway, or a dialog waiting in TWS)",
                    timeout.as_millis()
                ),
            ));
        }
        Ok(Ok(Some(reply))) => reply,
        Ok(Ok(None)) => {
            return Err(at(
                ErrorCode::HandshakeRejected,
                "the gateway closed the connection before answering".into(),
            ));
        }
        Ok(Err(error)) => {
            return Err(at(
                ErrorCode::HandshakeRejected,
                format!("bad version reply: {error}"),
            ));
        }
    };
    let fields = split_fields(&reply).map_err(|e| {
        at(
            ErrorCode::HandshakeRejected,
            format!("bad version reply: {e}"),
        )
    })?;
    let version = fields.first().and_then(|v| v.parse().ok()).ok_or_else(|| {
        at(
            ErrorCode::HandshakeRejected,
            format!("bad version reply: {fields:?}"),
        )
    })?;
    tracing::debug!(version, "version exchange done");
    Ok((stream, version))
}
