//! The link to gateways at server version 213 and up, over the `ibapi` crate (5.x, async).
//!
//! `ibapi` reconnects by itself unless told not to; here `max_reconnect_attempts(0)` turns
//! that off, because retrying is the supervisor's decision. `ibapi` has no disconnect
//! callback, so one task forwards notices and looks at `is_connected()` every 20 ms to report
//! the drop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use gatewatch_protocol::notice::Notice;
use gatewatch_protocol::{
    DisconnectCause, ErrorCode, Event, Position, Stage, SummaryRow, WorkerError,
};
use ibapi::accounts::types::{AccountGroup, AccountId};
use ibapi::accounts::{AccountSummaryResult, AccountUpdate, PositionUpdate};
use ibapi::subscriptions::{NoticeStream, SubscriptionItem};
use tokio::task::JoinHandle;

use crate::convert::{self, PortfolioEntry};
use crate::link::{self, EventSink, Pong};

/// How often the watcher looks at `is_connected()`; bounds how late a drop is reported.
const WATCH_INTERVAL: Duration = Duration::from_millis(20);

/// What the connect established.
pub(crate) struct Established {
    pub(crate) link: ModernLink,
    pub(crate) server_version: i32,
    pub(crate) accounts: Vec<String>,
    pub(crate) next_order_id: i32,
}

pub(crate) struct ModernLink {
    client: Arc<ibapi::Client>,
    accounts: Vec<String>,
    closing: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
    /// One subscription-style request at a time: `ibapi` shares one positions channel.
    data: tokio::sync::Mutex<()>,
}

/// Connects with `ibapi`, bounded by `timeout`; the version exchange has already been seen to
/// work, so a hang here is the start-up stage.
pub(crate) async fn connect(
    address: &str,
    client_id: i32,
    timeout: Duration,
    request_timeout: Duration,
    events: EventSink,
) -> Result<Established, WorkerError> {
    let builder = ibapi::Client::builder()
        .address(address)
        .client_id(client_id)
        .max_reconnect_attempts(0)
        .one_shot_timeout(request_timeout);
    let (client, notices) =
        match tokio::time::timeout(timeout, builder.connect_with_notice_stream()).await {
            Err(_) => {
                return Err(link::start_api_timeout(timeout));
            }
            Ok(Err(error)) => return Err(connect_error(error, client_id)),
            Ok(Ok(connected)) => connected,
        };
    let client = Arc::new(client);
    let closing = Arc::new(AtomicBool::new(false));
    let tasks = vec![tokio::spawn(follow_connection(
        Arc::clone(&client),
        notices,
        Arc::clone(&closing),
        events,
    ))];
    Ok(Established {
        server_version: client.server_version(),
        accounts: client.handshake_managed_accounts().to_vec(),
        next_order_id: client.next_order_id(),
        link: ModernLink {
            accounts: client.handshake_managed_accounts().to_vec(),
            client,
            closing,
            tasks,
            data: tokio::sync::Mutex::new(()),
        },
    })
}

fn connect_error(error: ibapi::Error, client_id: i32) -> WorkerError {
    match error {
        ibapi::Error::ClientIdInUse { .. } => WorkerError::at(
            Stage::StartApi,
            ErrorCode::ClientIdInUse,
            format!("client id {client_id} is already in use (326)"),
        ),
        ibapi::Error::ServerVersion(wanted, got, _) => WorkerError::at(
            Stage::VersionExchange,
            ErrorCode::UnsupportedServerVersion,
            format!("ibapi needs server version {wanted}, the gateway offers {got}"),
        ),
        ibapi::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            WorkerError::at(
                Stage::TcpConnect,
                ErrorCode::GatewayUnreachable,
                format!("connection refused: {io}"),
            )
        }
        other => WorkerError::at(
            Stage::StartApi,
            ErrorCode::HandshakeRejected,
            format!("the gateway ended the start-up: {other}"),
        ),
    }
}

/// Turns `ibapi` request errors into protocol errors.
fn request_error(error: ibapi::Error, what: &str) -> WorkerError {
    match error {
        ibapi::Error::Timeout => WorkerError::new(
            ErrorCode::RequestTimeout,
            format!("{what}: no answer in time"),
        ),
        e if e.is_connection_lost() => WorkerError::new(
            ErrorCode::ConnectionLost,
            format!("{what}: connection lost"),
        ),
        ibapi::Error::ConnectionFailed | ibapi::Error::Shutdown => WorkerError::new(
            ErrorCode::ConnectionLost,
            format!("{what}: the connection is closed"),
        ),
        other => WorkerError::new(ErrorCode::Internal, format!("{what}: {other}")),
    }
}

fn timed_out(what: &str, timeout: Duration) -> WorkerError {
    WorkerError::new(
        ErrorCode::RequestTimeout,
        format!("{what}: no answer within {} ms", timeout.as_millis()),
    )
}

/// Forwards notices and watches for the drop in one task, so the cause of a drop can take
/// into account every notice `ibapi` queued before it (a 1300 comes just before the close).
async fn follow_connection(
    client: Arc<ibapi::Client>,
    mut notices: NoticeStream,
    closing: Arc<AtomicBool>,
    events: EventSink,
) {
    let mut port_reset = false;
    let mut interval = tokio::time::interval(WATCH_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while client.is_connected() {
        tokio::select! {
            notice = notices.next() => match notice {
                Some(notice) => port_reset |= forward(&events, notice),
                None => {
                    interval.tick().await;
                }
            },
            _ = interval.tick() => {}
        }
    }
    while let Some(Some(notice)) = notices.next().now_or_never() {
        port_reset |= forward(&events, notice);
    }
    if closing.load(Ordering::SeqCst) {
        return;
    }
    let (cause, message) = if port_reset {
        (
            DisconnectCause::PortReset,
            "the gateway reset its API port (1300) and closed the connection",
        )
    } else {
        (
            DisconnectCause::GatewayClosed,
            "the gateway closed the connection",
        )
    };
    tracing::warn!(?cause, "connection lost");
    let _ = events.send(Event::Disconnected {
        cause,
        message: message.into(),
    });
}

/// Sends a gateway notice as an event; returns whether it announced a port reset.
fn forward(events: &EventSink, notice: ibapi::Notice) -> bool {
    if notice.code < 0 {
        tracing::debug!(code = notice.code, message = %notice.message, "ibapi notice");
        return false;
    }
    tracing::info!(code = notice.code, "gateway notice");
    let port_reset = notice.code == 1300;
    let _ = events.send(Event::Notice(Notice::new(notice.code, notice.message)));
    port_reset
}

impl ModernLink {
    pub(crate) async fn accounts(&self, timeout: Duration) -> Result<Vec<String>, WorkerError> {
        match tokio::time::timeout(timeout, self.client.managed_accounts()).await {
            Ok(result) => result.map_err(|e| request_error(e, "managed accounts")),
            Err(_) => Err(timed_out("managed accounts", timeout)),
        }
    }

    pub(crate) async fn ping(&self, timeout: Duration) -> Result<Pong, WorkerError> {
        let started = Instant::now();
        match tokio::time::timeout(timeout, self.client.server_time()).await {
            Ok(Ok(time)) => Ok(Pong {
                rtt_us: started.elapsed().as_micros() as u64,
                server_time_s: time.unix_timestamp(),
            }),
            Ok(Err(error)) => Err(request_error(error, "ping")),
            Err(_) => Err(timed_out("ping", timeout)),
        }
    }

    pub(crate) async fn positions(&self, timeout: Duration) -> Result<Vec<Position>, WorkerError> {
        let _one_at_a_time = self.data.lock().await;
        let work = async {
            let mut subscription = self
                .client
                .positions()
                .await
                .map_err(|e| request_error(e, "positions"))?;
            let mut positions = Vec::new();
            while let Some(item) = subscription.next().await {
                match item.map_err(|e| request_error(e, "positions"))? {
                    SubscriptionItem::Data(PositionUpdate::Position(p)) => {
                        positions.push(convert::position(
                            p.account,
                            convert::instrument_from_ibapi(&p.contract),
                            p.position,
                            p.average_cost,
                        ))
                    }
                    SubscriptionItem::Data(PositionUpdate::PositionEnd) => break,
                    SubscriptionItem::Notice(notice) => {
                        tracing::info!(code = notice.code, "notice on positions")
                    }
                }
            }
            subscription.cancel().await;
            let mut portfolio = Vec::new();
            for account in &self.accounts {
                portfolio.extend(self.portfolio(account).await?);
            }
            convert::merge_portfolio(&mut positions, &portfolio);
            Ok(positions)
        };
        tokio::time::timeout(timeout, work)
            .await
            .unwrap_or_else(|_| Err(timed_out("positions", timeout)))
    }

    /// One account's portfolio from an account-updates snapshot.
    async fn portfolio(&self, account: &str) -> Result<Vec<PortfolioEntry>, WorkerError> {
        let mut subscription = self
            .client
            .account_updates(&AccountId(account.to_owned()))
            .await
            .map_err(|e| request_error(e, "account updates"))?;
        let mut entries = Vec::new();
        while let Some(item) = subscription.next().await {
            match item.map_err(|e| request_error(e, "account updates"))? {
                SubscriptionItem::Data(AccountUpdate::PortfolioValue(v)) => {
                    entries.push(PortfolioEntry {
                        account: v.account.unwrap_or_else(|| account.to_owned()),
                        con_id: v.contract.contract_id,
                        market_price: v.market_price,
                        market_value: v.market_value,
                        unrealized_pnl: v.unrealized_pnl,
                        realized_pnl: v.realized_pnl,
                    })
                }
                SubscriptionItem::Data(AccountUpdate::End) => break,
                SubscriptionItem::Data(_) => {}
                SubscriptionItem::Notice(notice) => {
                    tracing::info!(code = notice.code, "notice on account updates")
                }
            }
        }
        // Releases ibapi's one account-updates stream now, so the next account can have it.
        subscription.cancel().await;
        Ok(entries)
    }

    pub(crate) async fn account_summary(
        &self,
        tags: &[String],
        timeout: Duration,
    ) -> Result<Vec<SummaryRow>, WorkerError> {
        let _one_at_a_time = self.data.lock().await;
        let tags = convert::summary_tags(tags);
        let tag_refs: Vec<&str> = tags.iter().map(String::as_str).collect();
        let work = async {
            let mut subscription = self
                .client
                .account_summary(&AccountGroup("All".into()), &tag_refs)
                .await
                .map_err(|e| request_error(e, "account summary"))?;
            let mut rows = Vec::new();
            while let Some(item) = subscription.next().await {
                match item.map_err(|e| request_error(e, "account summary"))? {
                    SubscriptionItem::Data(AccountSummaryResult::Summary(s)) => rows.push(
                        convert::summary_row(&s.account, &s.tag, &s.value, &s.currency),
                    ),
                    SubscriptionItem::Data(AccountSummaryResult::End) => break,
                    SubscriptionItem::Notice(notice) => {
                        tracing::info!(code = notice.code, "notice on account summary")
                    }
                }
            }
            subscription.cancel().await;
            Ok(rows)
        };
        tokio::time::timeout(timeout, work)
            .await
            .unwrap_or_else(|_| Err(timed_out("account summary", timeout)))
    }

    pub(crate) async fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.client.disconnect().await;
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Drop for ModernLink {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
