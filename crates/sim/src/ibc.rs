//! A stand-in for IBC's command server (IbcAlpha/IBC `CommandServer`), so the app's
//! recovery levers are tested against a peer that answers as IBC does.
//!
//! One command per line, case-insensitive; replies are `OK …` or `ERROR …` lines, as IBC's
//! `CommandChannel` writes them (no greeting: IBC suppresses its `INFO` lines by default).
//! `RECONNECTDATA` makes the gateway re-announce its data farms as connected (what pressing
//! Ctrl+Alt+F in TWS does); `RESTART` is IBC's soft restart: the gateway drops every API
//! client and refuses connections for [`SOFT_RESTART_SECS`], keeping its session (no 2FA);
//! `EXIT` ends the conversation. Everything is recorded ([`crate::Simulator::ibc_commands`]),
//! so a test can prove which command arrived.

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::Simulator;
use crate::control::{accept_each, read_line};

/// How long the simulated soft restart keeps the API port closed.
pub const SOFT_RESTART_SECS: u32 = 5;

/// Serves IBC command connections until the simulator shuts down.
pub async fn serve(listener: TcpListener, simulator: Simulator) {
    accept_each(listener, simulator, "IBC command", serve_one).await;
}

async fn serve_one(stream: TcpStream, simulator: Simulator) {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        if matches!(read_line(&mut reader, &mut line).await, Ok(0) | Err(_)) {
            return;
        }
        let command = String::from_utf8_lossy(&line).trim().to_ascii_uppercase();
        if command.is_empty() {
            continue;
        }
        simulator.record_ibc_command(&command);
        tracing::info!(%command, "IBC command");
        let (reply, close) = match command.as_str() {
            "EXIT" => ("OK Goodbye".to_owned(), true),
            "RECONNECTDATA" => {
                for code in ["2104", "2106", "2158"] {
                    let _ = simulator.execute(&format!("notice {code}"));
                }
                ("OK ".to_owned(), false)
            }
            "RESTART" => {
                let _ = simulator.execute(&format!("restart {SOFT_RESTART_SECS}"));
                ("OK Restart in progress".to_owned(), true)
            }
            _ => ("ERROR Command invalid".to_owned(), false),
        };
        if writer
            .write_all(format!("{reply}\n").as_bytes())
            .await
            .is_err()
            || close
        {
            return;
        }
    }
}
