//! One client connection, from `API\0` to close, as a gateway would serve it.
//!
//! A reader task turns the socket into a stream of frames; the session loop merges those
//! with the server's broadcasts (drops, notices, market ticks) and answers through its
//! [`Outbox`]. The faults decide at each stage whether the session answers, holds the socket
//! silently, or parks it in CLOSE_WAIT after the client leaves.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::clock;
use crate::market::{Account, Market};
use crate::notice;
use crate::outbox::Outbox;
use crate::server::{Broadcast, ConnectionSlot, Shared};
use crate::wire::frame::{FrameError, read_frame_max, read_full};
use crate::wire::handshake::{self, API_PREFIX};
use crate::wire::request::{self, ReadRequest, Request};
use crate::wire::response::Response;
use crate::wire::split_body;

/// How many market ticks pass between account-value and account-summary refreshes.
const SLOW_REFRESH_TICKS: u64 = 5;

/// The first order id handed out; kept small, as on a fresh gateway.
const FIRST_ORDER_ID: i32 = 1;

/// The largest request the simulator reads. Real requests are a few hundred bytes; clients
/// accept replies up to 16 MiB, but a gateway has no reason to buffer that much of a request.
const MAX_REQUEST_LEN: usize = 64 * 1024;

enum Inbound {
    Frame(Vec<u8>),
    /// The peer closed its side (FIN).
    Closed,
    /// The peer reset the connection; nothing is left to hold open.
    Reset,
    Bad(String),
}

#[derive(Debug)]
enum Phase {
    AwaitHello,
    AwaitStartApi,
    /// The socket stays open and nothing is answered (zombie, stalled start-up).
    Held,
    Ready,
}

#[derive(Debug)]
enum End {
    PeerClosed,
    PeerReset,
    Bad(String),
    Dropped,
    Shutdown,
    /// A reply was sent and the connection must close after it (326, 1300).
    CloseAfterReply(&'static str),
    /// No hello or startApi within the handshake timeout.
    HandshakeTimeout,
}

#[derive(Default)]
struct Subscriptions {
    summaries: BTreeMap<i32, String>,
    pnl: BTreeMap<i32, String>,
    account_updates: Option<String>,
}

struct Session {
    shared: Arc<Shared>,
    slot: ConnectionSlot,
    outbox: Outbox,
    phase: Phase,
    subs: Subscriptions,
    ticks: u64,
    next_order_id: i32,
}

/// Serves one accepted connection until it closes.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    slot: ConnectionSlot,
    stream: TcpStream,
    peer: SocketAddr,
) {
    let span = tracing::info_span!("conn", id = slot.id, %peer);
    async move {
        tracing::debug!("accepted");
        let (reader, writer) = stream.into_split();
        let (inbound_tx, inbound) = mpsc::channel(64);
        let reader = tokio::spawn(read_frames(reader, inbound_tx));
        let events = shared.events.subscribe();
        let mut session = Session {
            outbox: Outbox::new(Arc::clone(&shared), writer),
            shared,
            slot,
            phase: Phase::AwaitHello,
            subs: Subscriptions::default(),
            ticks: 0,
            next_order_id: FIRST_ORDER_ID,
        };
        let end = session.run(inbound, events).await;
        session.finish(end, reader).await;
    }
    .instrument(span)
    .await
}

async fn read_frames(mut reader: OwnedReadHalf, inbound: mpsc::Sender<Inbound>) {
    let mut prefix = [0u8; 4];
    let first = match read_full(&mut reader, &mut prefix).await {
        Ok(0) => Inbound::Closed,
        Err(_) => Inbound::Reset,
        Ok(4) if prefix == API_PREFIX => loop {
            let next = match read_frame_max(&mut reader, MAX_REQUEST_LEN).await {
                Ok(Some(frame)) => Inbound::Frame(frame),
                Ok(None) => break Inbound::Closed,
                Err(FrameError::Io(_)) => break Inbound::Reset,
                Err(error) => break Inbound::Bad(error.to_string()),
            };
            if inbound.send(next).await.is_err() {
                return;
            }
        },
        Ok(_) => Inbound::Bad(format!(
            "connection did not open with API\\0 but {prefix:02x?}"
        )),
    };
    let _ = inbound.send(first).await;
}

impl Session {
    async fn run(
        &mut self,
        mut inbound: mpsc::Receiver<Inbound>,
        mut events: broadcast::Receiver<Broadcast>,
    ) -> End {
        let shutdown = self.shared.shutdown.clone();
        let handshake_deadline = tokio::time::sleep(self.shared.config.handshake_timeout);
        tokio::pin!(handshake_deadline);
        loop {
            let handshaking = matches!(self.phase, Phase::AwaitHello | Phase::AwaitStartApi);
            tokio::select! {
                _ = shutdown.cancelled() => return End::Shutdown,
                _ = &mut handshake_deadline, if handshaking => return End::HandshakeTimeout,
                received = inbound.recv() => match received {
                    Some(Inbound::Frame(body)) => if let Err(end) = self.on_frame(&body) { return end },
                    Some(Inbound::Bad(why)) => return End::Bad(why),
                    Some(Inbound::Closed) | None => return End::PeerClosed,
                    Some(Inbound::Reset) => return End::PeerReset,
                },
                event = events.recv() => match event {
                    Ok(event) => if let Err(end) = self.on_broadcast(event) { return end },
                    Err(broadcast::error::RecvError::Lagged(missed)) => tracing::warn!(missed, "session fell behind the broadcasts"),
                    Err(broadcast::error::RecvError::Closed) => return End::Shutdown,
                },
            }
        }
    }

    async fn finish(self, end: End, reader: JoinHandle<()>) {
        match &end {
            End::Bad(why) => tracing::warn!(reason = %why, "bad input: connection closed"),
            End::PeerClosed if self.shared.faults().close_wait => return self.park(reader).await,
            End::HandshakeTimeout => tracing::info!(
                timeout = ?self.shared.config.handshake_timeout,
                "no handshake in time: connection closed"
            ),
            End::CloseAfterReply(why) => {
                tracing::debug!(why, "connection closed after its last reply")
            }
            other => tracing::debug!(end = ?other, "connection closed"),
        }
        reader.abort();
        match end {
            End::CloseAfterReply(_) => self.outbox.flush_and_close().await,
            _ => self.outbox.abort(),
        }
    }

    /// Holds a socket the client has closed, so it sits in CLOSE_WAIT as on a wedged gateway,
    /// until the fault is lifted or the simulator stops. The client id stays claimed, as a
    /// gateway that never noticed the close keeps it.
    async fn park(self, reader: JoinHandle<()>) {
        tracing::info!("client closed; socket left in CLOSE_WAIT");
        self.shared.parked.fetch_add(1, Ordering::SeqCst);
        let mut faults = self.shared.faults.subscribe();
        let shutdown = self.shared.shutdown.clone();
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = faults.wait_for(|f| !f.close_wait) => {}
        }
        self.shared.parked.fetch_sub(1, Ordering::SeqCst);
        reader.abort();
        self.outbox.abort();
        tracing::info!("parked socket released");
    }

    fn on_broadcast(&mut self, event: Broadcast) -> Result<(), End> {
        match event {
            Broadcast::Drop => return Err(End::Dropped),
            Broadcast::PortReset { text } => {
                if !matches!(self.phase, Phase::Ready) {
                    return Err(End::Dropped);
                }
                self.notice(1300, text);
                return Err(End::CloseAfterReply("port reset"));
            }
            Broadcast::Notice { code, text } if matches!(self.phase, Phase::Ready) => {
                self.notice(code, text)
            }
            Broadcast::Tick if matches!(self.phase, Phase::Ready) => self.on_tick(),
            Broadcast::Notice { .. } | Broadcast::Tick => {}
        }
        Ok(())
    }

    fn notice(&self, code: i32, message: String) {
        self.outbox.send(&Response::Error {
            req_id: -1,
            code,
            message,
            time_ms: clock::now_ms(),
        });
    }

    fn on_frame(&mut self, body: &[u8]) -> Result<(), End> {
        self.shared.capture.record(self.slot.id, body);
        match self.phase {
            Phase::AwaitHello => self.on_hello(body),
            Phase::Held => Ok(()),
            Phase::AwaitStartApi | Phase::Ready => {
                let request = split_body(body, self.outbox.version)
                    .and_then(|body| request::decode(&body))
                    .map_err(|error| End::Bad(format!("undecodable request: {error}")))?;
                tracing::trace!(?request, "request");
                self.shared.count_request(request.msg_id());
                if matches!(self.phase, Phase::Ready) {
                    self.on_request(request);
                    Ok(())
                } else {
                    self.on_start_api(request)
                }
            }
        }
    }

    fn on_hello(&mut self, body: &[u8]) -> Result<(), End> {
        let hello = handshake::parse_hello(body).map_err(|error| End::Bad(error.to_string()))?;
        let faults = self.shared.faults();
        if faults.zombie || faults.mute {
            tracing::info!("version exchange left unanswered (zombie gateway)");
            self.phase = Phase::Held;
            return Ok(());
        }
        let Some(version) = handshake::negotiate(&hello, self.shared.config.max_version) else {
            return Err(End::Bad(format!(
                "no common version: client offers {}..{}, simulator speaks up to {}",
                hello.min_version, hello.max_version, self.shared.config.max_version
            )));
        };
        tracing::debug!(version, "version negotiated");
        self.outbox.version = version;
        self.outbox
            .send_body(handshake::reply_body(version, &clock::connection_time()));
        self.phase = Phase::AwaitStartApi;
        Ok(())
    }

    fn on_start_api(&mut self, request: Request) -> Result<(), End> {
        let Request::Read(ReadRequest::StartApi { client_id }) = request else {
            tracing::debug!(?request, "request before startApi ignored");
            return Ok(());
        };
        if self.shared.faults().stall_start {
            tracing::info!(client_id, "startApi left unanswered (no nextValidId)");
            self.phase = Phase::Held;
            return Ok(());
        }
        if !self.slot.claim_client_id(client_id) {
            tracing::info!(client_id, "client id in use: 326 and close");
            self.notice(326, notice::text(326, None, 0).unwrap_or_default());
            return Err(End::CloseAfterReply("client id in use"));
        }
        tracing::info!(client_id, version = self.outbox.version, "client started");
        let accounts = self.market().account_list();
        self.outbox.send(&Response::ManagedAccounts { accounts });
        self.outbox.send(&Response::NextValidId {
            order_id: self.next_order_id,
        });
        for code in notice::STARTUP_FARM_CODES {
            self.notice(code, notice::text(code, None, 0).unwrap_or_default());
        }
        self.phase = Phase::Ready;
        Ok(())
    }

    fn market(&self) -> std::sync::MutexGuard<'_, Market> {
        self.shared.market.lock().expect("market poisoned")
    }

    fn on_request(&mut self, request: Request) {
        let replies = match request {
            Request::Read(read) => self.answer(read),
            Request::Order { msg_id } => {
                tracing::warn!(
                    msg_id,
                    "order message refused: the simulator is a read-only gateway"
                );
                let message = notice::text(321, None, 0).unwrap_or_default();
                vec![Response::Error {
                    req_id: -1,
                    code: 321,
                    message,
                    time_ms: clock::now_ms(),
                }]
            }
            Request::Other { msg_id } => {
                tracing::debug!(msg_id, "request not simulated; ignored");
                vec![]
            }
        };
        for reply in &replies {
            self.outbox.send(reply);
        }
    }

    /// The replies to a read request, as a gateway sends them.
    fn answer(&mut self, request: ReadRequest) -> Vec<Response> {
        match request {
            ReadRequest::StartApi { .. } => {
                tracing::debug!("repeated startApi ignored");
                vec![]
            }
            ReadRequest::NextIds => vec![Response::NextValidId {
                order_id: self.next_order_id,
            }],
            ReadRequest::CurrentTime => vec![Response::CurrentTime {
                epoch_s: clock::now_ms() / 1000,
            }],
            ReadRequest::CurrentTimeInMillis => vec![Response::CurrentTimeInMillis {
                epoch_ms: clock::now_ms(),
            }],
            ReadRequest::ManagedAccounts => vec![Response::ManagedAccounts {
                accounts: self.market().account_list(),
            }],
            ReadRequest::Positions => {
                let market = self.market();
                let mut replies: Vec<Response> =
                    market.accounts().iter().flat_map(positions).collect();
                replies.push(Response::PositionEnd);
                replies
            }
            ReadRequest::CancelPositions => vec![],
            ReadRequest::AccountSummary {
                req_id,
                group,
                tags,
            } => {
                if group != "All" {
                    tracing::debug!(%group, "account group treated as All");
                }
                let mut replies = summary_rows(&self.market(), req_id, &tags);
                replies.push(Response::AccountSummaryEnd { req_id });
                self.subs.summaries.insert(req_id, tags);
                replies
            }
            ReadRequest::CancelAccountSummary { req_id } => {
                self.subs.summaries.remove(&req_id);
                vec![]
            }
            ReadRequest::AccountUpdates {
                subscribe: false, ..
            } => {
                self.subs.account_updates = None;
                vec![]
            }
            ReadRequest::AccountUpdates {
                subscribe: true,
                account,
            } => {
                let market = self.market();
                let account = if account.is_empty() {
                    market.accounts()[0].id.clone()
                } else {
                    account
                };
                match market.account(&account) {
                    Some(found) => {
                        let mut replies = account_values(found);
                        replies.extend(portfolio(found));
                        replies.push(Response::AccountUpdateTime {
                            stamp: clock::hh_mm(),
                        });
                        replies.push(Response::AccountDownloadEnd {
                            account: account.clone(),
                        });
                        drop(market);
                        self.subs.account_updates = Some(account);
                        replies
                    }
                    None => {
                        tracing::warn!("account updates asked for an unknown account");
                        vec![]
                    }
                }
            }
            ReadRequest::PnL { req_id, account } => {
                let replies = pnl(&self.market(), req_id, &account)
                    .into_iter()
                    .collect::<Vec<_>>();
                if replies.is_empty() {
                    tracing::warn!(req_id, "PnL asked for an unknown account");
                } else {
                    self.subs.pnl.insert(req_id, account);
                }
                replies
            }
            ReadRequest::CancelPnL { req_id } => {
                self.subs.pnl.remove(&req_id);
                vec![]
            }
            ReadRequest::OpenOrders => vec![Response::OpenOrderEnd],
            ReadRequest::CompletedOrders => vec![Response::CompletedOrdersEnd],
            ReadRequest::Executions { req_id } => vec![Response::ExecDetailsEnd { req_id }],
            ReadRequest::AccountUpdatesMulti { req_id } => {
                vec![Response::AccountUpdateMultiEnd { req_id }]
            }
        }
    }

    /// Pushes what a gateway streams as prices move: PnL every tick, portfolio values every
    /// tick, account values and summaries every few ticks.
    fn on_tick(&mut self) {
        self.ticks += 1;
        let slow = self.ticks.is_multiple_of(SLOW_REFRESH_TICKS);
        let mut replies = Vec::new();
        {
            let market = self.market();
            for (req_id, account) in &self.subs.pnl {
                replies.extend(pnl(&market, *req_id, account));
            }
            if let Some(account) = self
                .subs
                .account_updates
                .as_deref()
                .and_then(|id| market.account(id))
            {
                if slow {
                    replies.extend(account_values(account));
                }
                replies.extend(portfolio(account));
                replies.push(Response::AccountUpdateTime {
                    stamp: clock::hh_mm(),
                });
            }
            if slow {
                for (req_id, tags) in &self.subs.summaries {
                    replies.extend(summary_rows(&market, *req_id, tags));
                }
            }
        }
        for reply in &replies {
            self.outbox.send(reply);
        }
    }
}

fn positions(account: &Account) -> impl Iterator<Item = Response> + '_ {
    account.holdings.iter().map(|h| Response::Position {
        account: account.id.clone(),
        contract: h.contract.clone(),
        quantity: h.quantity,
        avg_cost: h.avg_cost,
    })
}

fn portfolio(account: &Account) -> impl Iterator<Item = Response> + '_ {
    account.holdings.iter().map(|h| Response::PortfolioValue {
        contract: h.contract.clone(),
        quantity: h.quantity,
        market_price: h.price,
        market_value: h.market_value(),
        avg_cost: h.avg_cost,
        unrealized_pnl: h.unrealized_pnl(),
        realized_pnl: 0.0,
        account: account.id.clone(),
    })
}

fn account_values(account: &Account) -> Vec<Response> {
    account
        .account_values()
        .into_iter()
        .map(|v| Response::AccountValue {
            key: v.tag,
            value: v.value,
            currency: v.currency,
            account: account.id.clone(),
        })
        .collect()
}

fn summary_rows(market: &Market, req_id: i32, tags: &str) -> Vec<Response> {
    market
        .accounts()
        .iter()
        .flat_map(|account| {
            account
                .answer_summary(tags)
                .into_iter()
                .map(|v| Response::AccountSummary {
                    req_id,
                    account: account.id.clone(),
                    tag: v.tag,
                    value: v.value,
                    currency: v.currency,
                })
        })
        .collect()
}

fn pnl(market: &Market, req_id: i32, account: &str) -> Option<Response> {
    let account = market.account(account)?;
    Some(Response::PnL {
        req_id,
        daily: account.daily_pnl(),
        unrealized: account.unrealized_pnl(),
        realized: account.realized_pnl,
    })
}
