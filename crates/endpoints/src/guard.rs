//! Limits on who can hold the service's sockets: at most so many connections at once (the
//! rest wait in the kernel's backlog, costing no file descriptor), and each connection closed
//! after a fixed lifetime, so idle or half-sent requests cannot pile up. Without them a flood
//! of idle connections used up the process' file descriptors, and the CLOSE_WAIT scan, which
//! needs some, could no longer look.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;

/// How many connections and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; more wait to be accepted.
    pub connections: usize,
    /// How long one connection may stay open, whatever it does.
    pub lifetime: Duration,
}

impl Default for Limits {
    /// 64 connections (Prometheus, Grafana and a health check need a handful), 10 s each (a
    /// scrape takes milliseconds, Prometheus' own scrape timeout is 10 s, and it opens a new
    /// connection when one is closed). A flood of idle connections can delay a scrape by
    /// that much per wave, but cannot hold the descriptors the supervision needs.
    fn default() -> Self {
        Self {
            connections: 64,
            lifetime: Duration::from_secs(10),
        }
    }
}

/// A listener that accepts within [`Limits`].
pub struct GuardedListener {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    lifetime: Duration,
}

impl GuardedListener {
    /// Wraps `inner`.
    pub fn new(inner: TcpListener, limits: Limits) -> Self {
        Self {
            inner,
            permits: Arc::new(Semaphore::new(limits.connections.max(1))),
            lifetime: limits.lifetime,
        }
    }
}

impl axum::serve::Listener for GuardedListener {
    type Io = GuardedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (GuardedStream, SocketAddr) {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let (stream, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        (
            GuardedStream {
                stream,
                deadline: Box::pin(tokio::time::sleep(self.lifetime)),
                _permit: permit,
            },
            addr,
        )
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A connection that fails its reads and writes once its lifetime is over, which makes the
/// server close it; its permit goes back when it is dropped.
pub struct GuardedStream {
    stream: TcpStream,
    deadline: Pin<Box<Sleep>>,
    _permit: OwnedSemaphorePermit,
}

impl GuardedStream {
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.deadline.as_mut().poll(cx).is_ready()
    }
}

fn over() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "the connection's lifetime is over",
    )
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.expired(cx) {
            return Poll::Ready(Err(over()));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.expired(cx) {
            return Poll::Ready(Err(over()));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
