//! The staged connect: TCP, the version exchange, start-up, first ping — each with its own
//! timeout, so a failure names the stage that stalled — all on one TCP connection.
//!
//! The worker offers `v100..226`; whatever the gateway chooses, the gateway client continues
//! on the same socket (classic text, the 201–212 mix, or protobuf). Every connection is opened
//! with a zero linger, so however it ends — given up on, dropped by an aborted task, closed by
//! the kernel when the worker dies — its close is a reset, and a wedged gateway is never left
//! holding it in CLOSE_WAIT. A requested close still sends a FIN first (`GatewayLink::close`).
//! The probe is the first two stages alone.

use std::time::{Duration, Instant};

use gatewatch_protocol::{
    Encoding, ErrorCode, Event, LinkState, Session, Stage, StageTimes, Timeouts, WorkerError,
};
use gatewatch_wire::frame::{FrameError, encode_frame, read_frame};
use gatewatch_wire::handshake::{API_PREFIX, MIN_SUPPORTED_VERSION};
use gatewatch_wire::text::split_fields;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::gateway::{self, GatewayLink};
use crate::session::EventSink;

/// The newest server version the worker knows (the official Python client's too).
const MAX_OFFERED_VERSION: i32 = 226;

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
) -> Result<(GatewayLink, Session), WorkerError> {
    let t = target.timeouts;
    let address = format!("{}:{}", target.host, target.port);
    let mut times = StageTimes::default();

    let started = Instant::now();
    stage(events, Stage::TcpConnect);
    let stream = tcp_connect(&address, ms(t.tcp_connect_ms)).await?;
    times.tcp_connect = elapsed_us(started);

    let started = Instant::now();
    stage(events, Stage::VersionExchange);
    let (stream, version) = exchange_versions(stream, ms(t.version_exchange_ms)).await?;
    times.version_exchange = elapsed_us(started);

    let started = Instant::now();
    stage(events, Stage::StartApi);
    let established = gateway::start(
        stream,
        version,
        target.client_id,
        ms(t.start_api_ms),
        events.clone(),
    )
    .await?;
    times.start_api = elapsed_us(started);

    stage(events, Stage::FirstPing);
    let link = established.link;
    let pong = match link.ping(ms(t.first_ping_ms), None).await {
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
        server_version: version,
        encoding: Encoding::for_version(version),
        accounts: established.accounts,
        next_order_id: established.next_order_id,
        client_id: target.client_id,
        stage_us: times,
    };
    Ok((link, session))
}

/// TCP connect and the version exchange on a connection of its own, closed right after: a
/// check that the gateway's API answers, which claims no client id. Returns the version the
/// gateway chose.
pub(crate) async fn probe(
    host: &str,
    port: u16,
    connect_timeout: Duration,
    reply_timeout: Duration,
) -> Result<i32, WorkerError> {
    let address = format!("{host}:{port}");
    let stream = tcp_connect(&address, connect_timeout).await?;
    let (stream, version) = exchange_versions(stream, reply_timeout).await?;
    close_unstarted(stream).await;
    Ok(version)
}

/// Closes a connection whose version exchange is done but whose session never started: a
/// live gateway closes its side at once after our FIN; if it does not within a moment, the
/// drop resets the connection and leaves it nothing to hold.
async fn close_unstarted(mut stream: TcpStream) {
    use tokio::io::AsyncReadExt;
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 512];
    let _ = tokio::time::timeout(gateway::CLOSE_GRACE, async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
}

async fn tcp_connect(address: &str, timeout: Duration) -> Result<TcpStream, WorkerError> {
    let unreachable =
        |detail: String| WorkerError::at(Stage::TcpConnect, ErrorCode::GatewayUnreachable, detail);
    match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            // Any close without a FIN of ours first is a reset (see the module doc).
            if let Err(error) = stream.set_zero_linger() {
                tracing::warn!(%error, "cannot set a zero linger on the gateway connection");
            }
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

/// What a gateway that accepts TCP and closes before answering usually means.
const CLOSED_BEFORE_REPLY: &str = "the gateway accepted the connection and closed it without answering the version exchange: all 32 API client slots may be taken, or the API accepts only trusted IPs (add 127.0.0.1 under Configure → API → Settings)";

/// Sends `API\0` and the version hello; returns the stream and the gateway's version. On
/// failure the stream is dropped (a reset).
async fn exchange_versions(
    mut stream: TcpStream,
    timeout: Duration,
) -> Result<(TcpStream, i32), WorkerError> {
    let at = |code, detail: String| WorkerError::at(Stage::VersionExchange, code, detail);
    let mut hello = API_PREFIX.to_vec();
    let range = format!("v{MIN_SUPPORTED_VERSION}..{MAX_OFFERED_VERSION}");
    hello.extend_from_slice(&encode_frame(range.as_bytes()));
    if let Err(error) = stream.write_all(&hello).await {
        return Err(at(
            ErrorCode::HandshakeRejected,
            format!("{CLOSED_BEFORE_REPLY} ({error})"),
        ));
    }
    let reply = match tokio::time::timeout(timeout, read_frame(&mut stream)).await {
        Ok(Ok(Some(reply))) => reply,
        Err(_) => {
            return Err(at(
                ErrorCode::HandshakeTimeout,
                format!(
                    "the gateway accepts TCP but sent no version reply within {} ms (a zombie gateway, or a dialog waiting in TWS)",
                    timeout.as_millis()
                ),
            ));
        }
        Ok(Ok(None)) | Ok(Err(FrameError::Io(_))) => {
            return Err(at(ErrorCode::HandshakeRejected, CLOSED_BEFORE_REPLY.into()));
        }
        Ok(Err(FrameError::ForeignProtocol { text })) if text.starts_with("HTTP") => {
            return Err(at(
                ErrorCode::HandshakeRejected,
                "this port answers HTTP, not the TWS API: check the port number".into(),
            ));
        }
        Ok(Err(error)) => {
            return Err(at(
                ErrorCode::HandshakeRejected,
                format!("this port does not answer like a TWS API: {error}"),
            ));
        }
    };
    let version = split_fields(&reply)
        .ok()
        .and_then(|fields| fields.first()?.parse::<i32>().ok());
    let Some(version) = version else {
        return Err(at(
            ErrorCode::HandshakeRejected,
            "the version reply is not a server version: this port does not answer like a TWS API"
                .into(),
        ));
    };
    if !(MIN_SUPPORTED_VERSION..=MAX_OFFERED_VERSION).contains(&version) {
        return Err(at(
            ErrorCode::UnsupportedServerVersion,
            format!(
                "the gateway chose server version {version}, outside the {MIN_SUPPORTED_VERSION}..{MAX_OFFERED_VERSION} offered"
            ),
        ));
    }
    tracing::debug!(version, "version exchange done");
    Ok((stream, version))
}
