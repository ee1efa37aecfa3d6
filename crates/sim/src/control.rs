//! The control port: the fault language over TCP, one command per line, one reply per line.
//!
//! ```text
//! $ nc 127.0.0.1 4102
//! mute on
//! ok
//! status
//! ok refuse=off zombie=off stall-start=off mute=on latency=0+-0ms close-wait=off connections=1 clients=1 parked=0 timers=0
//! frobnicate
//! err unknown command `frobnicate`
//! ```
//!
//! It binds loopback by default like the API port; a line longer than [`MAX_LINE`] bytes is
//! answered with an error and the connection closed.

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::Simulator;
use crate::command::{Command, CommandError};

/// Longest command line accepted.
pub const MAX_LINE: usize = 4096;

/// Serves control connections until the simulator shuts down.
pub async fn serve(listener: TcpListener, simulator: Simulator) {
    accept_each(listener, simulator, "control", serve_one).await;
}

/// Accepts connections on a side port (`what`: control, IBC) until the simulator shuts
/// down, serving each on a task of its own.
pub(crate) async fn accept_each<F, Fut>(
    listener: TcpListener,
    simulator: Simulator,
    what: &str,
    serve_one: F,
) where
    F: Fn(TcpStream, Simulator) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let shutdown = simulator.shutdown_token();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tracing::debug!(%peer, what, "connection");
                    tokio::spawn(serve_one(stream, simulator.clone()));
                }
                Err(error) => tracing::warn!(%error, what, "accept failed"),
            },
        }
    }
}

/// Reads the next line into `line` (cleared first), at most [`MAX_LINE`] + 1 bytes: a line
/// longer than [`MAX_LINE`] comes back cut, for the caller to refuse. `Ok(0)` at the end.
pub(crate) async fn read_line(
    reader: &mut (impl tokio::io::AsyncBufRead + Unpin),
    line: &mut Vec<u8>,
) -> std::io::Result<usize> {
    line.clear();
    reader
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', line)
        .await
}

async fn serve_one(stream: TcpStream, simulator: Simulator) {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        let read = read_line(&mut reader, &mut line).await;
        let reply = match read {
            Ok(0) | Err(_) => return,
            Ok(_) if line.len() > MAX_LINE => {
                let _ = writer
                    .write_all(format!("err line longer than {MAX_LINE} bytes\n").as_bytes())
                    .await;
                return;
            }
            Ok(_) => match std::str::from_utf8(&line) {
                Ok(text) if text.trim().is_empty() || text.trim_start().starts_with('#') => {
                    continue;
                }
                Ok(text) => match simulator.execute(text) {
                    Ok(reply) => reply,
                    Err(error) => format!("err {error}"),
                },
                Err(_) => "err command is not UTF-8".to_owned(),
            },
        };
        if writer
            .write_all(format!("{reply}\n").as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
}

/// A scenario file line that is not a command.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {error}")]
pub struct ScenarioError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub error: CommandError,
}

/// Parses a scenario file: one command per line (usually `after`/`every`), `#` comments.
pub fn parse_scenario(text: &str) -> Result<Vec<Command>, ScenarioError> {
    text.lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.split('#').next().unwrap_or("").trim()))
        .filter(|(_, line)| !line.is_empty())
        .map(|(line, text)| text.parse().map_err(|error| ScenarioError { line, error }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn scenario_lines_become_commands() {
        let scenario = "# demo\nlatency 5 2\n\nevery 60 drop   # flap\nafter 10 notice 1100\n";
        let commands = parse_scenario(scenario).unwrap();
        assert_eq!(commands.len(), 3);
        assert_eq!(
            commands[1],
            Command::Every {
                interval: Duration::from_secs(60),
                command: Box::new(Command::Drop)
            }
        );
    }

    #[test]
    fn the_shipped_demo_scenario_parses() {
        let commands = parse_scenario(crate::DEMO_SCENARIO).unwrap();
        assert!(commands.len() >= 5);
    }

    #[test]
    fn scenario_errors_name_the_line() {
        let error = parse_scenario("drop\n\nmute sometimes\n").unwrap_err();
        assert_eq!(error.to_string(), "line 3: `mute` takes on or off");
    }
}
