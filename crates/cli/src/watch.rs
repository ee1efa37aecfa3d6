//! Watch mode: state changes as they happen and a latency line every so often, until Ctrl-C.

use std::time::Duration;

use gatewatch_supervisor::state::EventKind;
use gatewatch_supervisor::{BrokerClient, SupervisorConfig};

/// Watches until `stop` resolves; prints human lines, or JSON lines with `json`.
pub async fn run(
    config: SupervisorConfig,
    every: Duration,
    json: bool,
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let client = BrokerClient::new(config)?;
    let mut events = client.subscribe();
    client.start().await?;
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tick.tick() => {
                let snapshot = client.snapshot();
                if json {
                    println!("{}", serde_json::json!({ "latency": snapshot.latency, "state": snapshot.state.name(), "zombies": snapshot.zombies }));
                } else if let Some((_, minute)) = snapshot.latency.windows.first() {
                    let ms = |v: Option<u64>| v.map(|v| format!("{:.2}", v as f64 / 1000.0)).unwrap_or_else(|| "-".into());
                    println!(
                        "latency 1m: p50 {} ms  p95 {} ms  p99 {} ms  max {} ms  lost {}/{}",
                        ms(minute.p50_us), ms(minute.p95_us), ms(minute.p99_us), ms(minute.max_us), minute.lost, minute.sent
                    );
                }
            }
            event = events.recv() => match event {
                Ok(event) => print_event(&event, json),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    client.stop().await?;
    Ok(())
}

fn print_event(event: &gatewatch_supervisor::SupervisorEvent, json: bool) {
    if json {
        if !matches!(event.kind, EventKind::Ping { .. }) {
            println!("{}", serde_json::to_string(event).unwrap_or_default());
        }
        return;
    }
    match &event.kind {
        EventKind::StateChanged { state } => println!(
            "state {}: {}",
            state.name(),
            serde_json::to_string(state).unwrap_or_default()
        ),
        EventKind::Notice(notice) => println!("notice {} {}", notice.code, notice.message),
        EventKind::ConnectFailed { attempt, error } => {
            println!(
                "connect attempt {attempt} failed: {:?} at {:?}: {}",
                error.code, error.stage, error.message
            )
        }
        EventKind::ClientIdFallback { from, to } => {
            println!("client id {from} in use; trying {to}")
        }
        EventKind::Disconnected { cause, message } => {
            println!("disconnected ({cause:?}): {message}")
        }
        EventKind::WorkerRestarted { reason, .. } => println!("worker replaced: {reason}"),
        EventKind::ZombieSockets(count) => println!(
            "close-wait sockets: {}",
            count.advice().unwrap_or_else(|| "none".into())
        ),
        EventKind::Ping { .. } | EventKind::DataRefreshed => {}
    }
}
