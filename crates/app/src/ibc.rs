//! IBC's command server as a recovery lever: "Reconnect data farms" (`RECONNECTDATA`) and
//! "Soft restart" (`RESTART`, keeps the session: no 2FA). Only where the user said IBC's
//! command server is on, only when the user asks (with a confirmation in the window): the
//! app never pulls a lever by itself, and never asks for a cold restart.
//!
//! The conversation is IBC's (`CommandChannel`): one command line, one `OK …` or `ERROR …`
//! line back (an optional prompt or `INFO` line is skipped), then `EXIT`.

use std::time::Duration;

use gatewatch_supervisor::calendar::HostPort;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use ts_rs::TS;

use crate::AppError;

/// How long IBC gets to connect and answer.
const TIMEOUT: Duration = Duration::from_secs(5);

/// A lever IBC offers without a 2FA approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum IbcLever {
    /// Reconnect the data farms (`RECONNECTDATA`).
    ReconnectData,
    /// Soft restart: the gateway restarts and keeps its session (`RESTART`; not across the
    /// Sunday token expiry).
    SoftRestart,
}

impl IbcLever {
    /// IBC's command word.
    pub fn command(self) -> &'static str {
        match self {
            IbcLever::ReconnectData => "RECONNECTDATA",
            IbcLever::SoftRestart => "RESTART",
        }
    }

    /// What it is called in the window and the log.
    pub fn label(self) -> &'static str {
        match self {
            IbcLever::ReconnectData => "reconnect data farms",
            IbcLever::SoftRestart => "soft restart (no 2FA)",
        }
    }
}

/// Sends `lever` to IBC's command server at `server`; returns IBC's `OK` text.
pub async fn pull(server: &HostPort, lever: IbcLever) -> Result<String, AppError> {
    let addr = format!("{}:{}", server.host.trim(), server.port);
    let failed = |why: String| {
        AppError::new(
            "ibc",
            format!(
                "IBC's command server at {addr} did not take {}: {why}",
                lever.command()
            ),
        )
    };
    let talk = async {
        let stream = TcpStream::connect(&addr).await.map_err(|e| {
            failed(format!(
                "cannot connect ({e}); is its CommandServerPort on?"
            ))
        })?;
        let (reader, mut writer) = stream.into_split();
        let mut lines = BufReader::new(reader).lines();
        writer
            .write_all(format!("{}\n", lever.command()).as_bytes())
            .await
            .map_err(|e| failed(e.to_string()))?;
        loop {
            let Some(line) = lines.next_line().await.map_err(|e| failed(e.to_string()))? else {
                return Err(failed(
                    "it closed the connection without an answer (is this computer in its ControlFrom list?)".into(),
                ));
            };
            if let Some(at) = line.find("ERROR") {
                return Err(failed(line[at..].trim().to_owned()));
            }
            if let Some(at) = line.find("OK") {
                let _ = writer.write_all(b"EXIT\n").await;
                return Ok(line[at..].trim().to_owned());
            }
        }
    };
    tokio::time::timeout(TIMEOUT, talk)
        .await
        .map_err(|_| failed(format!("no answer within {} s", TIMEOUT.as_secs())))?
}
