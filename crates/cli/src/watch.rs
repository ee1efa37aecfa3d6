//! Watch mode: state changes as they happen and a latency line every so often, until stopped.
//! Each line is rendered once as text; with `--json` it goes out as a JSON object that carries
//! the event's fields and that same text, so both outputs say the same things.

use std::time::Duration;

use gatewatch_supervisor::state::now_ms;
use gatewatch_supervisor::{BrokerClient, SupervisorConfig};

use crate::text;

/// Watches until `stop` resolves or stdout is closed; prints human lines, or JSON lines with
/// `json`.
pub async fn run(
    config: SupervisorConfig,
    every: Duration,
    json: bool,
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    if let Some(Ok(schedule)) = config.calendar.as_ref().map(|c| c.compile()) {
        let line = format!(
            "calendar: {}",
            text::upcoming(&schedule.upcoming(now_ms()), now_ms())
        );
        let said = if json {
            crate::say(
                &serde_json::json!({
                    "at_ms": now_ms(),
                    "kind": "calendar",
                    "upcoming": schedule.upcoming(now_ms()),
                    "text": line,
                })
                .to_string(),
            )
        } else {
            crate::say(&line)
        };
        if !said {
            return Ok(());
        }
    }
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
                let minute = snapshot.latency.windows.first().map(|(_, w)| *w).unwrap_or_default();
                let line = format!(
                    "{} | {}",
                    text::latency("1m", &minute),
                    text::state_with_cause(&snapshot.state, snapshot.last_error.as_ref(), now_ms())
                );
                let said = if json {
                    crate::say(&serde_json::json!({
                        "at_ms": now_ms(),
                        "kind": "latency",
                        "state": snapshot.state,
                        "latency": snapshot.latency,
                        "zombies": snapshot.zombies,
                        "zombie_advice": snapshot.zombies.advice(),
                        "last_error": snapshot.last_error.as_ref().map(ToString::to_string),
                        "text": line,
                    }).to_string())
                } else {
                    crate::say(&line)
                };
                if !said {
                    break;
                }
            }
            event = events.recv() => match event {
                Ok(event) => {
                    let last_error = client.snapshot().last_error;
                    if let Some(line) = text::event(&event.kind, last_error.as_ref(), now_ms()) {
                        let said = if json {
                            let mut value = serde_json::to_value(&event)?;
                            value["text"] = line.into();
                            crate::say(&value.to_string())
                        } else {
                            crate::say(&line)
                        };
                        if !said {
                            break;
                        }
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    client.stop().await?;
    Ok(())
}
