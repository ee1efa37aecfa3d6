//! A record of every frame clients send, byte for byte, so a test can prove that two clients
//! sent identical requests for the same calls (the worker's own client against `ibapi` and
//! the official Python client). Off by default: a simulator serving a demo keeps nothing.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

/// Where captured frames go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CaptureTo {
    /// Nothing is kept.
    #[default]
    Off,
    /// Kept in memory, read back with [`crate::Simulator::captured`].
    Memory,
    /// Appended to a file as JSON lines `{"connection":N,"hex":"…"}` (`--capture FILE`).
    File(PathBuf),
}

/// One frame body a client sent (the version hello included), as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedFrame {
    /// The connection it came on, numbered from 1 in accept order.
    pub connection: u64,
    /// The frame body, without its length prefix.
    pub body: Vec<u8>,
}

pub(crate) struct Capture {
    memory: Option<Mutex<Vec<CapturedFrame>>>,
    file: Option<Mutex<std::fs::File>>,
}

impl Capture {
    pub(crate) fn open(to: &CaptureTo) -> std::io::Result<Self> {
        Ok(match to {
            CaptureTo::Off => Self {
                memory: None,
                file: None,
            },
            CaptureTo::Memory => Self {
                memory: Some(Mutex::new(Vec::new())),
                file: None,
            },
            CaptureTo::File(path) => Self {
                memory: None,
                file: Some(Mutex::new(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)?,
                )),
            },
        })
    }

    pub(crate) fn record(&self, connection: u64, body: &[u8]) {
        if let Some(memory) = &self.memory {
            memory
                .lock()
                .expect("capture poisoned")
                .push(CapturedFrame {
                    connection,
                    body: body.to_vec(),
                });
        }
        if let Some(file) = &self.file {
            let hex: String = body.iter().map(|b| format!("{b:02x}")).collect();
            let line = format!("{{\"connection\":{connection},\"hex\":\"{hex}\"}}\n");
            if let Err(error) = file
                .lock()
                .expect("capture poisoned")
                .write_all(line.as_bytes())
            {
                tracing::warn!(%error, "capture file write failed");
            }
        }
    }

    pub(crate) fn frames(&self) -> Vec<CapturedFrame> {
        self.memory
            .as_ref()
            .map(|m| m.lock().expect("capture poisoned").clone())
            .unwrap_or_default()
    }
}
