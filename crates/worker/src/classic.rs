//! Our own client for gateways that speak only classic text (server version 200 and below),
//! over the message layouts of `gatewatch-wire`.
//!
//! `ibapi` 5 refuses these gateways and older `ibapi` releases reconnect on their own with no
//! way to turn it off, so this small client covers the monitoring subset itself. It can only
//! send what `gatewatch_wire::request::Request::encode` encodes, which refuses every order
//! message. A reader task routes each incoming message: server times and account lists to
//! their waiters in order, notices to the event sink, and everything else to the one data
//! request in flight.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatewatch_protocol::notice::Notice;
use gatewatch_protocol::{
    DisconnectCause, ErrorCode, Event, Position, Stage, SummaryRow, WorkerError,
};
use gatewatch_wire::frame::{FrameError, encode_frame, read_frame};
use gatewatch_wire::request::Request;
use gatewatch_wire::response::Response;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::convert::{self, PortfolioEntry};
use crate::link::{self, EventSink, Pong};

/// Request ids start here, far from order ids, as rust-ibapi's do.
const FIRST_REQUEST_ID: i32 = 1_500_000_000;

/// What start-up established.
pub(crate) struct Established {
    pub(crate) link: ClassicLink,
    pub(crate) accounts: Vec<String>,
    pub(crate) next_order_id: i32,
}

pub(crate) struct ClassicLink {
    shared: Arc<Shared>,
    reader: JoinHandle<()>,
}

struct Shared {
    version: i32,
    accounts: Vec<String>,
    writer: tokio::sync::Mutex<OwnedWriteHalf>,
    waiters: Mutex<Waiters>,
    /// One data request (positions, account updates, summary) at a time.
    data: tokio::sync::Mutex<()>,
    next_request_id: AtomicI32,
    next_waiter_id: AtomicU64,
    closing: AtomicBool,
}

/// Who is waiting for what. A `None` collector means stray data messages are dropped.
/// Callers waiting for replies that carry no request id, oldest first, each with its own id.
type WaiterQueue<T> = VecDeque<(u64, oneshot::Sender<T>)>;

#[derive(Default)]
struct Waiters {
    times: WaiterQueue<i64>,
    accounts: WaiterQueue<String>,
    collector: Option<Collector>,
}

struct Collector {
    messages: Vec<Response>,
    is_end: fn(&Response) -> bool,
    done: Option<oneshot::Sender<Vec<Response>>>,
}

/// Sends startApi on a socket whose version exchange is done and waits for the accounts and
/// the next order id; a 326 is reported as such.
pub(crate) async fn start(
    stream: TcpStream,
    version: i32,
    client_id: i32,
    timeout: Duration,
    events: EventSink,
) -> Result<Established, WorkerError> {
    let (mut reader, mut writer) = stream.into_split();
    let body = Request::StartApi { client_id }
        .encode(version)
        .expect("startApi is read-only");
    writer
        .write_all(&encode_frame(&body))
        .await
        .map_err(|e| lost_at_start(&e.to_string()))?;
    let started = async {
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
                        format!("client id {client_id} is already in use (326)"),
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
    let (account_list, next_order_id) = match tokio::time::timeout(timeout, started).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(link::start_api_timeout(timeout));
        }
    };
    let accounts: Vec<String> = account_list
        .split(',')
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect();
    let shared = Arc::new(Shared {
        version,
        accounts: accounts.clone(),
        writer: tokio::sync::Mutex::new(writer),
        waiters: Mutex::new(Waiters::default()),
        data: tokio::sync::Mutex::new(()),
        next_request_id: AtomicI32::new(FIRST_REQUEST_ID),
        next_waiter_id: AtomicU64::new(1),
        closing: AtomicBool::new(false),
    });
    let reader = tokio::spawn(route_messages(reader, Arc::clone(&shared), events));
    Ok(Established {
        link: ClassicLink { shared, reader },
        accounts,
        next_order_id,
    })
}

fn lost_at_start(detail: &str) -> WorkerError {
    WorkerError::at(
        Stage::StartApi,
        ErrorCode::HandshakeRejected,
        format!("start-up failed: {detail}"),
    )
}

async fn route_messages(mut reader: OwnedReadHalf, shared: Arc<Shared>, events: EventSink) {
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
                    format!("connection failed: {error}"),
                );
            }
            Err(error) => {
                break (
                    DisconnectCause::ProtocolError,
                    format!("unreadable frame from the gateway: {error}"),
                );
            }
        };
        match Response::decode(&frame, shared.version) {
            Ok(Response::Error {
                req_id: -1,
                code,
                message,
                ..
            }) => {
                port_reset |= code == 1300;
                tracing::info!(code, "gateway notice");
                let _ = events.send(Event::Notice(Notice::new(code, message)));
            }
            Ok(Response::CurrentTime { epoch_s }) => {
                if let Some((_, waiter)) = shared.lock_waiters().times.pop_front() {
                    let _ = waiter.send(epoch_s);
                }
            }
            Ok(Response::ManagedAccounts { accounts }) => {
                if let Some((_, waiter)) = shared.lock_waiters().accounts.pop_front() {
                    let _ = waiter.send(accounts);
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
    if shared.closed() {
        tracing::warn!(?cause, %message, "connection lost");
        let _ = events.send(Event::Disconnected { cause, message });
    }
}

impl Shared {
    fn lock_waiters(&self) -> std::sync::MutexGuard<'_, Waiters> {
        self.waiters.lock().expect("waiters poisoned")
    }

    /// Marks the link closed and fails every waiter; `true` unless a close was requested.
    fn closed(&self) -> bool {
        *self.lock_waiters() = Waiters::default();
        !self.closing.load(Ordering::SeqCst)
    }

    fn collect(&self, response: Response) {
        let mut waiters = self.lock_waiters();
        let Some(collector) = waiters.collector.as_mut() else {
            return;
        };
        let end = (collector.is_end)(&response);
        collector.messages.push(response);
        if end {
            let collector = waiters.collector.take().expect("checked above");
            if let Some(done) = collector.done {
                let _ = done.send(collector.messages);
            }
        }
    }

    async fn send(&self, request: Request) -> Result<(), WorkerError> {
        let body = request
            .encode(self.version)
            .map_err(|e| WorkerError::new(ErrorCode::Internal, e.to_string()))?;
        let mut writer = self.writer.lock().await;
        writer
            .write_all(&encode_frame(&body))
            .await
            .map_err(|e| WorkerError::new(ErrorCode::ConnectionLost, format!("send failed: {e}")))
    }

    fn request_id(&self) -> i32 {
        self.next_request_id.fetch_add(1, Ordering::SeqCst)
    }

    /// Sends `request` and returns every data message up to the one `is_end` accepts.
    async fn collect_until(
        &self,
        request: Request,
        is_end: fn(&Response) -> bool,
        timeout: Duration,
    ) -> Result<Vec<Response>, WorkerError> {
        let (done, finished) = oneshot::channel();
        self.lock_waiters().collector = Some(Collector {
            messages: Vec::new(),
            is_end,
            done: Some(done),
        });
        let what = format!("request {}", request.msg_id());
        self.send(request).await?;
        let result = tokio::time::timeout(timeout, finished).await;
        self.lock_waiters().collector = None;
        match result {
            Ok(Ok(messages)) => Ok(messages),
            Ok(Err(_)) => Err(WorkerError::new(
                ErrorCode::ConnectionLost,
                format!("{what}: connection lost"),
            )),
            Err(_) => Err(WorkerError::new(
                ErrorCode::RequestTimeout,
                format!("{what}: no answer within {} ms", timeout.as_millis()),
            )),
        }
    }
}

/// Waits for the reply a FIFO waiter queue will deliver, removing the waiter on timeout so a
/// reply that never comes cannot shift every later one.
async fn await_waiter<T>(
    shared: &Shared,
    queue: fn(&mut Waiters) -> &mut WaiterQueue<T>,
    request: Request,
    what: &str,
    timeout: Duration,
) -> Result<T, WorkerError> {
    let id = shared.next_waiter_id.fetch_add(1, Ordering::SeqCst);
    let (sender, receiver) = oneshot::channel();
    queue(&mut shared.lock_waiters()).push_back((id, sender));
    shared.send(request).await?;
    match tokio::time::timeout(timeout, receiver).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(_)) => Err(WorkerError::new(
            ErrorCode::ConnectionLost,
            format!("{what}: connection lost"),
        )),
        Err(_) => {
            queue(&mut shared.lock_waiters()).retain(|(waiter, _)| *waiter != id);
            Err(WorkerError::new(
                ErrorCode::RequestTimeout,
                format!("{what}: no answer within {} ms", timeout.as_millis()),
            ))
        }
    }
}

impl ClassicLink {
    pub(crate) async fn ping(&self, timeout: Duration) -> Result<Pong, WorkerError> {
        let started = Instant::now();
        let server_time_s = await_waiter(
            &self.shared,
            |w| &mut w.times,
            Request::CurrentTime,
            "ping",
            timeout,
        )
        .await?;
        Ok(Pong {
            rtt_us: started.elapsed().as_micros() as u64,
            server_time_s,
        })
    }

    pub(crate) async fn accounts(&self, timeout: Duration) -> Result<Vec<String>, WorkerError> {
        let list = await_waiter(
            &self.shared,
            |w| &mut w.accounts,
            Request::ManagedAccounts,
            "managed accounts",
            timeout,
        )
        .await?;
        Ok(list
            .split(',')
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect())
    }

    pub(crate) async fn positions(&self, timeout: Duration) -> Result<Vec<Position>, WorkerError> {
        let shared = &self.shared;
        let _one_at_a_time = shared.data.lock().await;
        let messages = shared
            .collect_until(
                Request::Positions,
                |r| matches!(r, Response::PositionEnd),
                timeout,
            )
            .await?;
        shared.send(Request::CancelPositions).await?;
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
                    convert::instrument_from_wire(&contract),
                    quantity,
                    avg_cost,
                )),
                _ => None,
            })
            .collect();
        let mut portfolio = Vec::new();
        for account in &shared.accounts {
            let subscribe = Request::AccountUpdates {
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
                .send(Request::AccountUpdates {
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
        let request = Request::AccountSummary {
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
            .send(Request::CancelAccountSummary { req_id })
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

    pub(crate) async fn close(&self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        self.reader.abort();
        let _ = self.shared.writer.lock().await.shutdown().await;
    }
}

impl Drop for ClassicLink {
    fn drop(&mut self) {
        self.reader.abort();
    }
}
