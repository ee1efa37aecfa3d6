//! The desktop app's endpoints as its settings turn them on, move them and turn them off: a
//! real app core on its embedded simulators (demo mode), answered over real HTTP on loopback,
//! with the outcome in the window's snapshot.

use std::net::SocketAddr;
use std::time::Duration;

mod common;

use gatewatch_endpoints::Exposure;
use gatewatch_settings::EndpointSettings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn status_of(addr: SocketAddr, path: &str) -> std::io::Result<u16> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut text = String::new();
    stream.read_to_string(&mut text).await?;
    Ok(text.split(' ').nth(1).unwrap().parse().unwrap())
}

#[tokio::test]
async fn the_settings_turn_the_endpoints_on_move_them_and_turn_them_off() {
    let dir = tempfile::tempdir().unwrap();
    let app = common::demo_app(&dir).await;
    let mut exposure = Exposure::default();
    exposure.apply(&app, &EndpointSettings::default()).await;
    assert_eq!(
        app.snapshot().endpoints,
        Default::default(),
        "off by default"
    );

    let on = EndpointSettings {
        enabled: true,
        listen: "127.0.0.1:0".into(),
        token_file: None,
    };
    exposure.apply(&app, &on).await;
    let serving: SocketAddr = app
        .snapshot()
        .endpoints
        .serving
        .expect("served")
        .parse()
        .unwrap();
    assert_eq!(status_of(serving, "/healthz").await.unwrap(), 200);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while status_of(serving, "/readyz").await.unwrap() != 200 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the demo gateways are ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    exposure.apply(&app, &on).await;
    assert_eq!(
        app.snapshot().endpoints.serving,
        Some(serving.to_string()),
        "the same settings again change nothing"
    );

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = EndpointSettings {
        listen: taken.local_addr().unwrap().to_string(),
        ..on.clone()
    };
    exposure.apply(&app, &busy).await;
    let status = app.snapshot().endpoints;
    assert_eq!(status.serving, None);
    assert!(
        status
            .problem
            .as_deref()
            .unwrap()
            .contains("already in use"),
        "{status:?}"
    );
    assert!(
        status_of(serving, "/healthz").await.is_err(),
        "the old address is let go"
    );

    exposure
        .apply(
            &app,
            &EndpointSettings {
                enabled: false,
                ..on
            },
        )
        .await;
    assert_eq!(app.snapshot().endpoints, Default::default());
    app.shutdown().await;
}
