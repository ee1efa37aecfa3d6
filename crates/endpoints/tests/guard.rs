//! The endpoints under a flood of idle connections: no more than the limit are held, each is
//! closed at the end of its lifetime, and a real request is answered once a place is free.

use std::time::Duration;

mod common;

use gatewatch_endpoints::{Limits, router, serve_within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn idle_connections_cannot_hold_the_service_past_their_lifetime() {
    let dir = tempfile::tempdir().unwrap();
    let app = common::demo_app(&dir).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limits = Limits {
        connections: 3,
        lifetime: Duration::from_secs(1),
    };
    tokio::spawn(serve_within(
        listener,
        router(app.clone(), None),
        limits,
        std::future::pending(),
    ));

    // Three connections that never finish their request take every place.
    let mut idle = Vec::new();
    for _ in 0..3 {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\n")
            .await
            .unwrap();
        idle.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = tokio::time::Instant::now();
    let mut real = tokio::net::TcpStream::connect(addr).await.unwrap();
    real.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), real.read_to_string(&mut answer))
        .await
        .expect("answered once the idle connections' lifetime is over")
        .unwrap();
    let waited = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        waited >= Duration::from_millis(500),
        "it had to wait for a place ({waited:?})"
    );
    for mut stream in idle {
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
            .await
            .expect("the server closed the idle connection");
        assert!(
            closed.is_err() || rest.is_empty() || rest.starts_with(b"HTTP/1.1 408"),
            "{:?}",
            String::from_utf8_lossy(&rest)
        );
    }
    app.shutdown().await;
}
