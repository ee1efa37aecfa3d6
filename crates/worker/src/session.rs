//! The worker's main loop: requests from stdin, events from the link, replies to stdout.
//!
//! Heartbeats are answered inline, so a slow gateway never makes the worker look hung. A
//! connect runs as a task (it may take seconds); data requests and probes run as tasks, so a
//! ping is never stuck behind a positions download. What the link and a connect report comes
//! through one channel, so a connect's stage events always precede its result. One task owns
//! stdout.

use std::sync::Arc;
use std::time::Duration;

use gatewatch_protocol::lines::{LineError, LineReader, encode_line};
use gatewatch_protocol::{
    ErrorCode, Event, FromWorker, LinkState, PROTOCOL_VERSION, Reply, Request, Session, ToWorker,
    WorkerError, exit_code,
};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::connect::{self, Target};
use crate::gateway::{self, GatewayLink};

type Outbox = mpsc::UnboundedSender<FromWorker>;

/// What tasks tell the main loop, in the order they happen.
enum Note {
    Event(Event),
    Connected(u64, Result<(GatewayLink, Session), WorkerError>),
}

/// Where the link and a running connect report what happens unasked.
#[derive(Clone)]
pub(crate) struct EventSink(mpsc::UnboundedSender<Note>);

impl EventSink {
    /// Reports an event; fails only when the worker is exiting.
    pub(crate) fn send(&self, event: Event) -> Result<(), ()> {
        self.0.send(Note::Event(event)).map_err(drop)
    }

    fn connected(&self, id: u64, result: Result<(GatewayLink, Session), WorkerError>) {
        let _ = self.0.send(Note::Connected(id, result));
    }
}

/// Serves requests from `input` until it closes or `shutdown` arrives; returns the exit code.
pub async fn run<R, W>(input: R, output: W) -> i32
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (out, out_rx) = mpsc::unbounded_channel();
    let mut writer = tokio::spawn(write_lines(output, out_rx));
    let _ = out.send(FromWorker::Hello {
        protocol_version: PROTOCOL_VERSION,
        worker_version: env!("CARGO_PKG_VERSION").into(),
        pid: std::process::id(),
    });
    let (notes, mut notes_rx) = mpsc::unbounded_channel();
    let mut worker = Worker {
        out,
        events: EventSink(notes),
        link: None,
        connecting: None,
        request_ms: 10_000,
    };
    let mut lines = LineReader::new(BufReader::new(input));
    loop {
        tokio::select! {
            line = lines.next_line() => match line {
                Ok(Some(line)) => {
                    if worker.on_line(&line).await == Flow::Exit {
                        break;
                    }
                }
                Ok(None) => {
                    tracing::info!("stdin closed: exiting");
                    break;
                }
                Err(LineError::Io(error)) => {
                    tracing::warn!(%error, "stdin failed: exiting");
                    break;
                }
                Err(error) => worker.refuse(None, line_error_code(&error), error.to_string()),
            },
            Some(note) = notes_rx.recv() => match note {
                Note::Event(event) => worker.on_event(event),
                Note::Connected(id, result) => worker.on_connected(id, result),
            },
            _ = &mut writer => {
                tracing::warn!("stdout closed: exiting");
                worker.close_link().await;
                return exit_code::OUTPUT_CLOSED;
            }
        }
    }
    worker.close_link().await;
    drop(worker);
    match writer.await {
        Ok(Ok(())) => exit_code::OK,
        _ => exit_code::OUTPUT_CLOSED,
    }
}

/// What makes a connect request unusable, if anything.
fn connect_problem(client_id: i32, timeouts: &gatewatch_protocol::Timeouts) -> Option<String> {
    if client_id < 0 {
        return Some(format!("client_id must be 0 or more, not {client_id}"));
    }
    timeouts
        .named()
        .iter()
        .find(|(_, value)| *value == 0)
        .map(|(name, _)| format!("timeouts.{name} must be above zero"))
}

/// `LineTooLong` for an oversized line, `BadRequest` for anything else unreadable.
fn line_error_code(error: &LineError) -> ErrorCode {
    match error {
        LineError::TooLong { .. } => ErrorCode::LineTooLong,
        _ => ErrorCode::BadRequest,
    }
}

async fn write_lines<W: AsyncWrite + Unpin>(
    mut output: W,
    mut lines: mpsc::UnboundedReceiver<FromWorker>,
) -> std::io::Result<()> {
    while let Some(message) = lines.recv().await {
        let line = encode_line(&message).map_err(std::io::Error::other)?;
        output.write_all(line.as_bytes()).await?;
        output.flush().await?;
    }
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Exit,
}

struct Worker {
    out: Outbox,
    events: EventSink,
    link: Option<Arc<GatewayLink>>,
    connecting: Option<(u64, JoinHandle<()>)>,
    request_ms: u64,
}

impl Worker {
    fn reply(&self, id: u64, result: Reply) {
        let _ = self.out.send(FromWorker::Reply { id, result });
    }

    fn fail(&self, id: u64, error: WorkerError) {
        let _ = self.out.send(FromWorker::Error {
            id: Some(id),
            error,
        });
    }

    fn refuse(&self, id: Option<u64>, code: ErrorCode, message: String) {
        tracing::warn!(%code, detail = %message, "request refused");
        let _ = self.out.send(FromWorker::Error {
            id,
            error: WorkerError::new(code, message),
        });
    }

    fn status(&self, state: LinkState) {
        let _ = self.out.send(FromWorker::Event {
            event: Event::Status { state, stage: None },
        });
    }

    async fn on_line(&mut self, line: &str) -> Flow {
        if line.trim().is_empty() {
            return Flow::Continue;
        }
        let request: Request = match serde_json::from_str(line) {
            Ok(request) => request,
            Err(error) => {
                // Echo the id when the line has one, so the app can fail that request.
                let id = serde_json::from_str::<serde_json::Value>(line)
                    .ok()
                    .and_then(|v| v.get("id")?.as_u64());
                self.refuse(id, ErrorCode::BadRequest, format!("not a request: {error}"));
                return Flow::Continue;
            }
        };
        let Request { id, command } = request;
        match command {
            ToWorker::Heartbeat {} => self.reply(id, Reply::HeartbeatAck),
            ToWorker::Connect {
                host,
                port,
                client_id,
                timeouts,
            } => {
                if let Some(problem) = connect_problem(client_id, &timeouts) {
                    self.refuse(Some(id), ErrorCode::BadRequest, problem);
                } else if self.link.is_some() || self.connecting.is_some() {
                    self.fail(
                        id,
                        WorkerError::new(
                            ErrorCode::AlreadyConnected,
                            "already connected or connecting; disconnect first",
                        ),
                    );
                } else {
                    self.request_ms = timeouts.request_ms;
                    self.start_connect(
                        id,
                        Target {
                            host,
                            port,
                            client_id,
                            timeouts,
                        },
                    );
                }
            }
            ToWorker::Disconnect {} => {
                self.close_link().await;
                self.reply(id, Reply::Disconnected);
            }
            ToWorker::Shutdown {} => {
                self.reply(id, Reply::ShuttingDown);
                return Flow::Exit;
            }
            ToWorker::Probe {
                host,
                port,
                tcp_connect_ms,
                version_exchange_ms,
            } => {
                let out = self.out.clone();
                tokio::spawn(async move {
                    let probed = connect::probe(
                        &host,
                        port,
                        Duration::from_millis(tcp_connect_ms),
                        Duration::from_millis(version_exchange_ms),
                    )
                    .await;
                    let _ = out.send(match probed {
                        Ok(server_version) => FromWorker::Reply {
                            id,
                            result: Reply::Probed { server_version },
                        },
                        Err(error) => FromWorker::Error {
                            id: Some(id),
                            error,
                        },
                    });
                });
            }
            ToWorker::Ping { timeout_ms } => self.spawn_ping(id, timeout_ms),
            ToWorker::GetAccounts {} => {
                let timeout = self.request_timeout();
                self.spawn_request(id, move |link| async move {
                    Ok(Reply::Accounts {
                        accounts: link.accounts(timeout).await?,
                    })
                })
            }
            ToWorker::GetPositions {} => {
                let timeout = self.request_timeout();
                self.spawn_request(id, move |link| async move {
                    Ok(Reply::Positions {
                        positions: link.positions(timeout).await?,
                    })
                })
            }
            ToWorker::GetAccountSummary { tags } => {
                let timeout = self.request_timeout();
                self.spawn_request(id, move |link| async move {
                    Ok(Reply::AccountSummary {
                        rows: link.account_summary(&tags, timeout).await?,
                    })
                })
            }
        }
        Flow::Continue
    }

    fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_ms)
    }

    /// The current link, or `None` after telling request `id` there is none.
    fn link_for(&self, id: u64) -> Option<Arc<GatewayLink>> {
        if self.link.is_none() {
            let message = if self.connecting.is_some() {
                "still connecting"
            } else {
                "not connected to a gateway"
            };
            self.fail(id, WorkerError::new(ErrorCode::NotConnected, message));
        }
        self.link.clone()
    }

    /// Runs a ping as a task. A reply that came after the timeout (the timer fires a moment
    /// late) is answered as a timeout followed by that ping's late reply, in that order.
    fn spawn_ping(&self, id: u64, timeout_ms: u64) {
        let Some(link) = self.link_for(id) else {
            return;
        };
        let out = self.out.clone();
        tokio::spawn(async move {
            let timeout = Duration::from_millis(timeout_ms);
            let messages = match link.ping(timeout, Some(id)).await {
                Ok(pong) if pong.rtt_us > timeout.as_micros() as u64 => vec![
                    FromWorker::Error {
                        id: Some(id),
                        error: gateway::timed_out("ping", timeout),
                    },
                    FromWorker::Event {
                        event: Event::LatePong {
                            id,
                            rtt_us: pong.rtt_us,
                            server_time_s: pong.server_time_s,
                        },
                    },
                ],
                Ok(pong) => vec![FromWorker::Reply {
                    id,
                    result: Reply::Pong {
                        rtt_us: pong.rtt_us,
                        server_time_s: pong.server_time_s,
                    },
                }],
                Err(error) => vec![FromWorker::Error {
                    id: Some(id),
                    error,
                }],
            };
            for message in messages {
                let _ = out.send(message);
            }
        });
    }

    /// Runs a gateway request as a task over the current link.
    fn spawn_request<F, Fut>(&self, id: u64, request: F)
    where
        F: FnOnce(Arc<GatewayLink>) -> Fut,
        Fut: std::future::Future<Output = Result<Reply, WorkerError>> + Send + 'static,
    {
        let Some(link) = self.link_for(id) else {
            return;
        };
        let out = self.out.clone();
        let pending = request(link);
        tokio::spawn(async move {
            let message = match pending.await {
                Ok(result) => FromWorker::Reply { id, result },
                Err(error) => FromWorker::Error {
                    id: Some(id),
                    error,
                },
            };
            let _ = out.send(message);
        });
    }

    fn start_connect(&mut self, id: u64, target: Target) {
        tracing::info!(host = %target.host, port = target.port, client_id = target.client_id, "connecting");
        let events = self.events.clone();
        let task = tokio::spawn(async move {
            let result = connect::connect(&target, &events).await;
            events.connected(id, result);
        });
        self.connecting = Some((id, task));
    }

    fn on_connected(&mut self, id: u64, result: Result<(GatewayLink, Session), WorkerError>) {
        if self.connecting.as_ref().map(|(pending, _)| *pending) != Some(id) {
            return; // a connect cancelled by disconnect or shutdown
        }
        self.connecting = None;
        match result {
            Ok((link, session)) => {
                tracing::info!(server_version = session.server_version, encoding = ?session.encoding, "connected");
                self.link = Some(Arc::new(link));
                self.status(LinkState::Connected);
                self.reply(id, Reply::Connected(session));
            }
            Err(error) => {
                tracing::warn!(code = %error.code, %error, "connect failed");
                self.status(LinkState::Disconnected);
                self.fail(id, error);
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        if matches!(event, Event::Status { .. }) && self.connecting.is_none() {
            return; // a stage of a connect that was cancelled
        }
        let lost = matches!(event, Event::Disconnected { .. });
        let _ = self.out.send(FromWorker::Event { event });
        if lost && self.link.take().is_some() {
            self.status(LinkState::Disconnected);
        }
    }

    /// Cancels a connect in progress and closes the link, if any.
    async fn close_link(&mut self) {
        if let Some((id, task)) = self.connecting.take() {
            task.abort();
            self.fail(
                id,
                WorkerError::new(ErrorCode::ConnectionLost, "connect cancelled"),
            );
        }
        if let Some(link) = self.link.take() {
            link.close().await;
            self.status(LinkState::Disconnected);
        }
    }
}
