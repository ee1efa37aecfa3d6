//! Everything a session sends goes through its outbox, which applies the mute and latency
//! faults in one place and keeps replies in order.
//!
//! A writer task owns the socket's write half and sends each frame when it falls due, so a
//! fixed latency delays every reply by the same amount instead of piling up behind the
//! previous one, and jitter never reorders replies.

use std::sync::Arc;
use std::time::Duration;

use rand::RngExt;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::command::Latency;
use crate::server::Shared;
use crate::wire::{frame::encode_frame, response::Response};

/// The sending side of one connection.
pub(crate) struct Outbox {
    shared: Arc<Shared>,
    queue: Option<mpsc::UnboundedSender<(Instant, Vec<u8>)>>,
    writer: JoinHandle<Option<OwnedWriteHalf>>,
    /// Negotiated server version; 0 until the version exchange.
    pub(crate) version: i32,
}

impl Outbox {
    pub(crate) fn new(shared: Arc<Shared>, writer: OwnedWriteHalf) -> Self {
        let (queue, frames) = mpsc::unbounded_channel();
        Self {
            shared,
            queue: Some(queue),
            writer: tokio::spawn(write_frames(writer, frames)),
            version: 0,
        }
    }

    /// Queues a response encoded for this connection's version.
    pub(crate) fn send(&self, response: &Response) {
        self.send_body(response.encode(self.version));
    }

    /// Queues a raw body (the version reply, which has no message id).
    pub(crate) fn send_body(&self, body: Vec<u8>) {
        let faults = self.shared.faults();
        if faults.mute {
            return;
        }
        let due = Instant::now() + delay(faults.latency);
        if let Some(queue) = &self.queue {
            // A closed queue means the writer saw the peer go away; the reader will notice too.
            let _ = queue.send((due, encode_frame(&body)));
        }
    }

    /// Sends what is queued, then closes the write side.
    pub(crate) async fn flush_and_close(mut self) {
        self.queue = None;
        if let Ok(Some(mut writer)) = (&mut self.writer).await {
            let _ = writer.shutdown().await;
        }
    }

    /// Stops sending now; queued frames are discarded.
    pub(crate) fn abort(&self) {
        self.writer.abort();
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.writer.abort();
    }
}

fn delay(latency: Latency) -> Duration {
    let jitter = if latency.jitter_ms == 0 {
        0
    } else {
        let span = latency.jitter_ms as i64;
        rand::rng().random_range(-span..=span)
    };
    Duration::from_millis((latency.fixed_ms as i64 + jitter).max(0) as u64)
}

async fn write_frames(
    mut writer: OwnedWriteHalf,
    mut frames: mpsc::UnboundedReceiver<(Instant, Vec<u8>)>,
) -> Option<OwnedWriteHalf> {
    while let Some((due, frame)) = frames.recv().await {
        // A timer rounds up to the next millisecond tick, so only sleep when there is a delay.
        if due > Instant::now() {
            tokio::time::sleep_until(due).await;
        }
        if let Err(error) = writer.write_all(&frame).await {
            tracing::debug!(%error, "peer stopped reading");
            return None;
        }
    }
    Some(writer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_its_bounds() {
        for _ in 0..200 {
            let d = delay(Latency {
                fixed_ms: 10,
                jitter_ms: 5,
            });
            assert!(
                d >= Duration::from_millis(5) && d <= Duration::from_millis(15),
                "{d:?}"
            );
        }
        assert!(
            delay(Latency {
                fixed_ms: 2,
                jitter_ms: 50
            })
            .as_millis()
                <= 52
        );
        assert_eq!(delay(Latency::default()), Duration::ZERO);
    }
}
