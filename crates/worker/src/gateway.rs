//! The worker's gateway client: one connection, both encodings.
//!
//! Built on `gatewatch-wire`, it speaks classic text (server version 200 and below), the
//! per-family mix of 201–212, and protobuf (213 and up) on the socket the version exchange
//! opened, so a connect attempt is one TCP connection. It can only send a
//! [`ReadRequest`], a type with no order variants: the compiler keeps it read-only. Why the
//! worker has its own client rather than `ibapi`'s is in `docs/decisions.md`.
//!
//! A reader task routes every incoming message: server times and account lists to their
//! requests in order ([`InOrder`], which also recognises late replies), notices to the event
//! sink, and everything else to the one data request in flight. It sees the gateway close the
//! socket the moment the kernel does, and reports it at once.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatewatch_protocol::notice::Notice;
use gatewatch_protocol::{
    DisconnectCause, ErrorCode, Event, Position, Stage, SummaryRow, WorkerError,
};
use gatewatch_wire::frame::{FrameError, encode_frame, read_frame};
use gatewatch_wire::request::ReadRequest;
use gatewatch_wire::response::Response;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::convert::{self, PortfolioEntry};
use crate::in_order::{Delivered, InOrder};
use crate::session::EventSink;

/// Request ids start here, far from order ids, as rust-ibapi's do.
const FIRST_REQUEST_ID: i32 = 1_500_000_000;

/// How long a requested close waits for the gateway to close its side after our FIN, before
/// the socket (opened with a zero linger) is dropped, which resets it: nothing is left for
/// the gateway to close.
pub(crate) const CLOSE_GRACE: Duration = Duration::from_millis(250);

/// A gateway round trip.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pong {
    pub(crate) rtt_us: u64,
    pub(crate) server_time_s: i64,
}

/// What start-up established.
pub(crate) struct Established {
    pub(crate) link: GatewayLink,
    pub(crate) accounts: Vec<String>,
    pub(crate) next_order_id: i32,
}

/// One started gateway session.
pub(crate) struct GatewayLink {
    shared: Arc<Shared>,
    reader: JoinHandle<()>,
}

struct Shared {
    version: i32,
    accounts: Vec<String>,
    /// `None` once the socket is closed.
    writer: tokio::sync::Mutex<Option<OwnedWriteHalf>>,
    routes: Mutex<Routes>,
    /// One data request (positions, account updates, summary) at a time.
    data: tokio::sync::Mutex<()>,
    next_request_id: AtomicI32,
    closing: AtomicBool,
    /// Becomes `true` when the reader has seen the connection end.
    ended: watch::Sender<bool>,
    events: EventSink,
}

/// Where incoming messages go.
#[derive(Default)]
struct Routes {
    times: InOrder<i64>,
    accounts: InOrder<String>,
    collector: Option<Collector>,
    /// The end marker of a data request that timed out and is still being answered: nothing
    /// new is asked until it has come, or its messages would be taken for the new request's.
    stale_end: Option<fn(&Response) -> bool>,
}

struct Collector {
    messages: Vec<Response>,
    is_end: fn(&Response) -> bool,
    done: Option<oneshot::Sender<Vec<Response>>>,
}

/// Sends startApi on a socket whose version exchange is done and waits for the accounts and
/// the next order id; a 326 is reported as such. On failure the socket is dropped (a reset).
pub(crate) async fn start(
    stream: TcpStream,
    version: i32,
    client_id: i32,
    timeout: Duration,
    events: EventSink,
) -> Result<Established, WorkerError> {
    let (mut reader, mut writer) = stream.into_split();
    let started = async {
        let body = ReadRequest::StartApi { client_id }.encode(version);
        writer
            .write_all(&encode_frame(&body))
            .await
            .map_err(|e| lost_at_start(&e.to_string()))?;
        let (mut accounts, mut next_order_id) = (None, None);
        while accounts.is_none() || next_order_id.is_none() {
            let frame = match read_frame(&mut reader).await {
                Ok(Some(frame)) => frame,
                Ok(None) => return Err(lost_at_start("the gateway closed the connection")),
                Err(error) => return Err(lost_at_start(&error.to_string())),
            };
            match Response::decode(&frame, version) {
                Ok(Response::ManagedAccounts { accounts: list }) => accounts = Some(list),
                Ok(Response::NextValidId { order_id }) => next_order_id = Some(order_id),
                Ok(Response::Error { code: 326, .. }) => {
                    return Err(WorkerError::at(
                        Stage::StartApi,
                        ErrorCode::ClientIdInUse,
                        format!(
                            "client id {client_id} is already in use by another API client (326)"
                        ),
                    ));
                }
                Ok(Response::Error { code, message, .. }) => {
                    let _ = events.send(Event::Notice(Notice::new(code, message)));
                }
                Ok(other) => tracing::debug!(msg_id = other.msg_id(), "start-up message ignored"),
                Err(error) => tracing::warn!(%error, "undecodable start-up message skipped"),
            }
        }
        Ok((
            accounts.unwrap_or_default(),
            next_order_id.unwrap_or_default(),
        ))
    };
    let outcome = match tokio::time::timeout(timeout, started).await {
        Ok(result) => result,
        Err(_) => Err(WorkerError::at(
            Stage::StartApi,
            ErrorCode::HandshakeTimeout,
            format!(
                "no nextValidId and managed accounts within {} ms",
                timeout.as_millis()
            ),
        )),
    };
    let (account_list, next_order_id) = outcome?;
    let accounts = split_accounts(&account_list);
    let shared = Arc::new(Shared {
        version,
        accounts: accounts.clone(),
        writer: tokio::sync::Mutex::new(Some(writer)),
        routes: Mutex::new(Routes::default()),
        data: tokio::sync::Mutex::new(()),
        next_request_id: AtomicI32::new(FIRST_REQUEST_ID),
        closing: AtomicBool::new(false),
        ended: watch::channel(false).0,
        events,
    });
    let reader = tokio::spawn(route_messages(reader, Arc::clone(&shared)));
    Ok(Established {
        link: GatewayLink { shared, reader },
        accounts,
        next_order_id,
    })
}

fn split_accounts(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect()
}

fn lost_at_start(detail: &str) -> WorkerError {
    WorkerError::at(
        Stage::StartApi,
        ErrorCode::HandshakeRejected,
        format!("start-up failed: {detail}"),
    )
}

async fn route_messages(mut reader: OwnedReadHalf, shared: Arc<Shared>) {
    let mut port_reset = false;
    let (cause, message) = loop {
        let frame = match read_frame(&mut reader).await {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                break (
                    DisconnectCause::GatewayClosed,
                    "the gateway closed the connection".to_owned(),
                );
            }
            Err(FrameError::Io(error)) => {
                break (
                    DisconnectCause::ConnectionReset,
                    format!("the connection failed: {error}"),
                );
            }
            Err(error) => {
                break (
                    DisconnectCause::ProtocolError,
                    format!("unreadable frame from the gateway: {error}"),
                );
            }
        };
        let at = Instant::now();
        match Response::decode(&frame, shared.version) {
            Ok(Response::Error {
                req_id: -1,
                code,
                message,
                ..
            }) => {
                port_reset |= code == 1300;
                tracing::info!(code, "gateway notice");
                let _ = shared
                    .events
                    .send(Event::Notice(Notice::new(code, message)));
            }
            Ok(Response::CurrentTime { epoch_s }) => {
                let delivered = shared.lock_routes().times.deliver(epoch_s, at);
                if let Delivered::Late {
                    tag: Some(id),
                    rtt,
                    value,
                } = delivered
                {
                    tracing::info!(id, rtt_ms = rtt.as_millis() as u64, "late ping reply");
                    let _ = shared.events.send(Event::LatePong {
                        id,
                        rtt_us: rtt.as_micros() as u64,
                        server_time_s: value,
                    });
                }
            }
            Ok(Response::ManagedAccounts { accounts }) => {
                let delivered = shared.lock_routes().accounts.deliver(accounts, at);
                if !matches!(delivered, Delivered::Answered) {
                    tracing::debug!("managed accounts nobody waits for");
                }
            }
            Ok(response) => shared.collect(response),
            Err(error) => tracing::debug!(%error, "message skipped"),
        }
    };
    let (cause, message) = if port_reset && cause == DisconnectCause::GatewayClosed {
        (
            DisconnectCause::PortReset,
            "the gateway reset its API port (1300) and closed the connection".to_owned(),
        )
    } else {
        (cause, message)
    };
    *shared.lock_routes() = Routes::default();
    shared.ended.send_replace(true);
    if !shared.closing.load(Ordering::SeqCst) {
        tracing::warn!(%cause, detail = %message, "connection lost");
        let _ = shared.events.send(Event::Disconnected { cause, message });
        // Our side closes at once: nothing of ours lingers in CLOSE_WAIT.
        shared.writer.lock().await.take();
    }
}

impl Shared {
    fn lock_routes(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.routes.lock().expect("routes poisoned")
    }

    fn collect(&self, response: Response) {
        let mut routes = self.lock_routes();
        let Some(collector) = routes.collector.as_mut() else {
            if routes.stale_end.is_some_and(|is_end| is_end(&response)) {
                tracing::debug!("the end of a timed-out request arrived");
                routes.stale_end = None;
            }
            return;
        };
        let end = (collector.is_end)(&response);
        collector.messages.push(response);
        if end {
            let collector = routes.collector.take().expect("checked above");
            if let Some(done) = collector.done {
                let _ = done.send(collector.messages);
            }
        }
    }

    async fn send(&self, request: ReadRequest) -> Result<(), WorkerError> {
        let frame = encode_frame(&request.encode(self.version));
        let mut writer = self.writer.lock().await;
        let Some(writer) = writer.as_mut() else {
            return Err(WorkerError::new(
                ErrorCode::ConnectionLost,
                "the connection is closed",
            ));
        };
        writer
            .write_all(&frame)
            .await
            .map_err(|e| WorkerError::new(ErrorCode::ConnectionLost, format!("send failed: {e}")))
    }

    fn request_id(&self) -> i32 {
        self.next_request_id.fetch_add(1, Ordering::SeqCst)
    }

    /// Sends `request` and returns every data message up to the one `is_end` accepts.
    async fn collect_until(
        &self,
        request: ReadRequest,
        is_end: fn(&Response) -> bool,
        timeout: Duration,
    ) -> Result<Vec<Response>, WorkerError> {
        let what = describe(&request);
        let (done, finished) = oneshot::channel();
        {
            let mut routes = self.lock_routes();
            if routes.stale_end.is_some() {
                return Err(WorkerError::new(
                    ErrorCode::AwaitingReply,
                    format!(
                        "{what}: not sent, the gateway is still answering an earlier request that timed out"
                    ),
                ));
            }
            routes.collector = Some(Collector {
                messages: Vec::new(),
                is_end,
                done: Some(done),
            });
        }
        self.send(request).await?;
        match tokio::time::timeout(timeout, finished).await {
            Ok(Ok(messages)) => Ok(messages),
            Ok(Err(_)) => Err(WorkerError::new(
                ErrorCode::ConnectionLost,
                format!("{what}: connection lost"),
            )),
            Err(_) => {
                let mut routes = self.lock_routes();
                if let Some(collector) = routes.collector.take() {
                    routes.stale_end = Some(collector.is_end);
                }
                Err(timed_out(&what, timeout))
            }
        }
    }
}

fn describe(request: &ReadRequest) -> String {
    match request {
        ReadRequest::Positions => "positions".into(),
        ReadRequest::AccountUpdates { .. } => "account updates".into(),
        ReadRequest::AccountSummary { .. } => "account summary".into(),
        other => format!("request {}", other.msg_id()),
    }
}

/// A request that got no answer within `timeout`.
pub(crate) fn timed_out(what: &str, timeout: Duration) -> WorkerError {
    WorkerError::new(
        ErrorCode::RequestTimeout,
        format!("{what}: no answer within {} ms", timeout.as_millis()),
    )
}

/// Sends a request whose reply comes in order without a request id and waits for it. A
/// request that times out keeps its place (tagged with `tag`), and none is sent while one is
/// overdue. Returns the reply and its round trip.
async fn ask_in_order<T>(
    shared: &Shared,
    queue: fn(&mut Routes) -> &mut InOrder<T>,
    request: ReadRequest,
    what: &str,
    timeout: Duration,
    tag: Option<u64>,
) -> Result<(T, Duration), WorkerError> {
    let (id, receiver, sent) = {
        let mut routes = shared.lock_routes();
        let queue = queue(&mut routes);
        let now = Instant::now();
        if let Some(age) = queue.overdue(now) {
            return Err(WorkerError::new(
                ErrorCode::AwaitingReply,
                format!(
                    "{what}: not sent, the gateway has not yet answered the one sent {} ms ago",
                    age.as_millis()
                ),
            ));
        }
        let (id, receiver) = queue.push(now);
        (id, receiver, now)
    };
    shared.send(request).await?;
    let mut receiver = receiver;
    let answer = match tokio::time::timeout(timeout, &mut receiver).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(_)) => {
            return Err(WorkerError::new(
                ErrorCode::ConnectionLost,
                format!("{what}: connection lost"),
            ));
        }
        Err(_) => {
            let marked = queue(&mut shared.lock_routes()).time_out(id, tag);
            match receiver.try_recv() {
                // Answered just as the timeout fired: the answer is in the channel.
                Ok(answer) if !marked => answer,
                _ => return Err(timed_out(what, timeout)),
            }
        }
    };
    Ok((answer.value, answer.at.saturating_duration_since(sent)))
}

impl GatewayLink {
    /// One server-time round trip. `tag` names the ping, so that a reply coming after the
    /// timeout is reported as that ping's late reply. A reply that came a moment after the
    /// timeout but before the timer fired is returned with its round trip: the caller judges.
    pub(crate) async fn ping(
        &self,
        timeout: Duration,
        tag: Option<u64>,
    ) -> Result<Pong, WorkerError> {
        let (server_time_s, rtt) = ask_in_order(
            &self.shared,
            |r| &mut r.times,
            ReadRequest::CurrentTime,
            "ping",
            timeout,
            tag,
        )
        .await?;
        Ok(Pong {
            rtt_us: rtt.as_micros() as u64,
            server_time_s,
        })
    }

    pub(crate) async fn accounts(&self, timeout: Duration) -> Result<Vec<String>, WorkerError> {
        let (list, _) = ask_in_order(
            &self.shared,
            |r| &mut r.accounts,
            ReadRequest::ManagedAccounts,
            "managed accounts",
            timeout,
            None,
        )
        .await?;
        Ok(split_accounts(&list))
    }

    pub(crate) async fn positions(&self, timeout: Duration) -> Result<Vec<Position>, WorkerError> {
        let shared = &self.shared;
        let _one_at_a_time = shared.data.lock().await;
        let messages = shared
            .collect_until(
                ReadRequest::Positions,
                |r| matches!(r, Response::PositionEnd),
                timeout,
            )
            .await?;
        shared.send(ReadRequest::CancelPositions).await?;
        let mut positions: Vec<Position> = messages
            .into_iter()
            .filter_map(|m| match m {
                Response::Position {
                    account,
                    contract,
                    quantity,
                    avg_cost,
                } => Some(convert::position(
                    account,
                    convert::instrument(&contract),
                    quantity,
                    avg_cost,
                )),
                _ => None,
            })
            .collect();
        let mut portfolio = Vec::new();
        for account in &shared.accounts {
            let subscribe = ReadRequest::AccountUpdates {
                subscribe: true,
                account: account.clone(),
            };
            let messages = shared
                .collect_until(
                    subscribe,
                    |r| matches!(r, Response::AccountDownloadEnd { .. }),
                    timeout,
                )
                .await?;
            shared
                .send(ReadRequest::AccountUpdates {
                    subscribe: false,
                    account: account.clone(),
                })
                .await?;
            portfolio.extend(messages.into_iter().filter_map(|m| match m {
                Response::PortfolioValue {
                    contract,
                    market_price,
                    market_value,
                    unrealized_pnl,
                    realized_pnl,
                    account,
                    ..
                } => Some(PortfolioEntry {
                    account,
                    con_id: contract.con_id,
                    market_price,
                    market_value,
                    unrealized_pnl,
                    realized_pnl,
                }),
                _ => None,
            }));
        }
        convert::merge_portfolio(&mut positions, &portfolio);
        Ok(positions)
    }

    pub(crate) async fn account_summary(
        &self,
        tags: &[String],
        timeout: Duration,
    ) -> Result<Vec<SummaryRow>, WorkerError> {
        let shared = &self.shared;
        let _one_at_a_time = shared.data.lock().await;
        let req_id = shared.request_id();
        let request = ReadRequest::AccountSummary {
            req_id,
            group: "All".into(),
            tags: convert::summary_tags(tags).join(","),
        };
        let messages = shared
            .collect_until(
                request,
                |r| matches!(r, Response::AccountSummaryEnd { .. }),
                timeout,
            )
            .await?;
        shared
            .send(ReadRequest::CancelAccountSummary { req_id })
            .await?;
        Ok(messages
            .into_iter()
            .filter_map(|m| match m {
                Response::AccountSummary {
                    req_id: id,
                    account,
                    tag,
                    value,
                    currency,
                } if id == req_id => Some(convert::summary_row(&account, &tag, &value, &currency)),
                _ => None,
            })
            .collect())
    }

    /// Closes the connection on request (no disconnected event follows): a FIN, a short wait
    /// for the gateway to close its side, then the drop, which resets the connection if the
    /// gateway has not closed it: no socket of this session is left for the gateway to close.
    pub(crate) async fn close(&self) {
        let shared = &self.shared;
        shared.closing.store(true, Ordering::SeqCst);
        let Some(mut writer) = shared.writer.lock().await.take() else {
            return; // already closed: the gateway ended it
        };
        let _ = writer.shutdown().await;
        let mut ended = shared.ended.subscribe();
        let closed_by_gateway = tokio::time::timeout(CLOSE_GRACE, ended.wait_for(|ended| *ended))
            .await
            .is_ok();
        if !closed_by_gateway {
            tracing::info!("the gateway did not close its side in time: connection reset");
        }
        self.reader.abort();
        drop(writer);
    }
}

impl Drop for GatewayLink {
    fn drop(&mut self) {
        self.reader.abort();
    }
}
