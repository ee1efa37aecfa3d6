//! A live gateway connection, whichever client speaks it: `ibapi` for protobuf gateways
//! (server version 213 and up) or our classic-text client for older ones. The session loop
//! only sees [`Link`].

use std::time::Duration;

use gatewatch_protocol::{ErrorCode, Event, Position, Stage, SummaryRow, WorkerError};
use tokio::sync::mpsc;

use crate::classic::ClassicLink;
use crate::modern::ModernLink;

/// Where links report what happens unasked (notices, a dropped connection).
pub(crate) type EventSink = mpsc::UnboundedSender<Event>;

/// A gateway round trip.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pong {
    pub(crate) rtt_us: u64,
    pub(crate) server_time_s: i64,
}

/// One connected session.
pub(crate) enum Link {
    Modern(ModernLink),
    Classic(ClassicLink),
}

impl Link {
    pub(crate) async fn accounts(&self, timeout: Duration) -> Result<Vec<String>, WorkerError> {
        match self {
            Link::Modern(link) => link.accounts(timeout).await,
            Link::Classic(link) => link.accounts(timeout).await,
        }
    }

    pub(crate) async fn positions(&self, timeout: Duration) -> Result<Vec<Position>, WorkerError> {
        match self {
            Link::Modern(link) => link.positions(timeout).await,
            Link::Classic(link) => link.positions(timeout).await,
        }
    }

    pub(crate) async fn account_summary(
        &self,
        tags: &[String],
        timeout: Duration,
    ) -> Result<Vec<SummaryRow>, WorkerError> {
        match self {
            Link::Modern(link) => link.account_summary(tags, timeout).await,
            Link::Classic(link) => link.account_summary(tags, timeout).await,
        }
    }

    pub(crate) async fn ping(&self, timeout: Duration) -> Result<Pong, WorkerError> {
        match self {
            Link::Modern(link) => link.ping(timeout).await,
            Link::Classic(link) => link.ping(timeout).await,
        }
    }

    /// Closes the connection on request; no disconnected event follows.
    pub(crate) async fn close(&self) {
        match self {
            Link::Modern(link) => link.close().await,
            Link::Classic(link) => link.close().await,
        }
    }
}

/// The error both clients report when start-up gets no nextValidId and accounts in time.
pub(crate) fn start_api_timeout(timeout: Duration) -> WorkerError {
    WorkerError::at(
        Stage::StartApi,
        ErrorCode::HandshakeTimeout,
        format!(
            "no nextValidId and managed accounts within {} ms",
            timeout.as_millis()
        ),
    )
}
