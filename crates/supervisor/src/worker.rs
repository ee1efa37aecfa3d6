//! One worker process: spawned with piped stdio, its stdout turned into messages for the
//! actor, its stderr log lines re-emitted through `tracing`.
//!
//! Every worker gets a generation number; messages carry it, so the actor can ignore the
//! last words of a worker it has already replaced.
//!
//! Its lifetime is tied to the app's on every platform (process-wrap): killed when its
//! handle is dropped; on Unix in a process group of its own (a Ctrl-C in the terminal reaches
//! the app, which stops the worker gracefully, rather than the worker first; on Linux the
//! worker also asks the kernel to kill it when the app dies), on Windows in a job object
//! closed with the app, however the app ends.

use std::path::Path;
use std::process::Stdio;

use gatewatch_protocol::lines::{LineError, LineReader, encode_line};
use gatewatch_protocol::{FromWorker, Request, check_hello};
use process_wrap::tokio::{ChildWrapper, CommandWrap, KillOnDrop};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::process::ChildStdin;
use tokio::sync::mpsc;
use tracing::Instrument;

/// What a worker's stdout produced.
#[derive(Debug)]
pub(crate) enum WorkerOutput {
    /// A protocol message (the hello is checked and not forwarded).
    Message(FromWorker),
    /// A line that is not a protocol message.
    Garbage(String),
    /// The worker broke the contract (no hello, wrong version); it must be replaced.
    Fault(String),
    /// stdout closed.
    Closed,
}

/// A running worker.
pub(crate) struct WorkerProcess {
    pub(crate) pid: u32,
    child: Box<dyn ChildWrapper>,
    /// `None` once closed (stopping) or broken.
    input: Option<ChildStdin>,
}

impl WorkerProcess {
    /// Spawns the worker; its output goes to `output` tagged with `generation`.
    pub(crate) fn spawn(
        path: &Path,
        generation: u64,
        output: mpsc::UnboundedSender<(u64, WorkerOutput)>,
    ) -> std::io::Result<Self> {
        let mut command = CommandWrap::with_new(path, |command| {
            command
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
        });
        #[cfg(unix)]
        command.wrap(process_wrap::tokio::ProcessGroup::leader());
        #[cfg(windows)]
        command.wrap(process_wrap::tokio::JobObject);
        let mut child = command.wrap(KillOnDrop).spawn()?;
        let pid = child.id().unwrap_or(0);
        let span = tracing::info_span!("worker", generation, pid);
        let stdout = child.stdout().take().expect("stdout is piped");
        let stderr = child.stderr().take().expect("stderr is piped");
        tokio::spawn(read_stdout(stdout, generation, output).instrument(span.clone()));
        tokio::spawn(relay_logs(stderr).instrument(span));
        tracing::info!(generation, pid, path = %path.display(), "worker started");
        let input = child.stdin().take();
        Ok(Self { pid, child, input })
    }

    /// Writes one request line; `false` when the worker's stdin is gone (then it is dropped).
    pub(crate) async fn send(&mut self, request: &Request) -> bool {
        let line = encode_line(request).expect("requests always serialize");
        let Some(pipe) = self.input.as_mut() else {
            return false;
        };
        let sent = pipe.write_all(line.as_bytes()).await.is_ok() && pipe.flush().await.is_ok();
        if !sent {
            self.input = None;
        }
        sent
    }

    /// Resolves when the process exits.
    pub(crate) async fn exited(&mut self) -> std::io::Result<std::process::ExitStatus> {
        self.child.wait().await
    }

    /// Kills the process (SIGKILL works on a stopped process too) and reaps it.
    pub(crate) async fn kill(&mut self) {
        let _ = Box::into_pin(self.child.kill()).await;
    }

    /// Closes stdin and waits up to `grace` for the exit, then kills. The stdout reader keeps
    /// draining meanwhile, so a worker that writes while stopping is never blocked.
    pub(crate) async fn stop(&mut self, grace: std::time::Duration) {
        self.input = None;
        if tokio::time::timeout(grace, self.child.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                pid = self.pid,
                "worker did not stop within the grace period: killed"
            );
            self.kill().await;
        }
    }
}

async fn read_stdout(
    stdout: tokio::process::ChildStdout,
    generation: u64,
    output: mpsc::UnboundedSender<(u64, WorkerOutput)>,
) {
    let mut lines = LineReader::new(BufReader::new(stdout));
    let send = |item| output.send((generation, item)).is_ok();
    let mut greeted = false;
    loop {
        let item = match lines.next_line().await {
            Ok(Some(line)) => match serde_json::from_str::<FromWorker>(&line) {
                Ok(message) if !greeted => {
                    greeted = true;
                    match check_hello(&message) {
                        Ok(()) => continue,
                        Err(error) => WorkerOutput::Fault(error.to_string()),
                    }
                }
                Ok(message) => WorkerOutput::Message(message),
                Err(_) => WorkerOutput::Garbage(line.chars().take(200).collect()),
            },
            Ok(None) | Err(LineError::Io(_)) => {
                send(WorkerOutput::Closed);
                return;
            }
            Err(error) => WorkerOutput::Garbage(error.to_string()),
        };
        let fault = matches!(item, WorkerOutput::Fault(_));
        if !send(item) || fault {
            return;
        }
    }
}

/// Re-emits the worker's JSON log lines at their own level; other lines as warnings.
async fn relay_logs(stderr: tokio::process::ChildStderr) {
    let mut lines = LineReader::new(BufReader::new(stderr));
    loop {
        match lines.next_line().await {
            Ok(Some(line)) => relay_log_line(&line),
            Ok(None) | Err(LineError::Io(_)) => return,
            Err(error) => tracing::warn!(%error, "unreadable worker log line"),
        }
    }
}

fn relay_log_line(line: &str) {
    let Ok(record) = serde_json::from_str::<serde_json::Value>(line) else {
        tracing::warn!(target: "gatewatch_worker", line, "worker stderr");
        return;
    };
    let level = record
        .get("level")
        .and_then(|l| l.as_str())
        .unwrap_or("INFO");
    let fields = record.get("fields").cloned().unwrap_or_default();
    let message = fields
        .get("message")
        .and_then(|m| m.as_str())
        .unwrap_or("")
        .to_owned();
    let target = record
        .get("target")
        .and_then(|t| t.as_str())
        .unwrap_or("gatewatch_worker")
        .to_owned();
    let details = fields
        .as_object()
        .map(|f| {
            f.iter()
                .filter(|(k, _)| *k != "message")
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    match level {
        "ERROR" => tracing::error!(worker_target = %target, %details, "{message}"),
        "WARN" => tracing::warn!(worker_target = %target, %details, "{message}"),
        "DEBUG" => tracing::debug!(worker_target = %target, %details, "{message}"),
        "TRACE" => tracing::trace!(worker_target = %target, %details, "{message}"),
        _ => tracing::info!(worker_target = %target, %details, "{message}"),
    }
}
