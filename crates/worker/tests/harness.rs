//! A real `gatewatch-worker` process driven over its stdin and stdout, and a simulator on
//! loopback for it to talk to.
#![allow(dead_code)] // each test binary uses a different subset

use std::process::Stdio;
use std::time::{Duration, Instant};

use gatewatch_protocol::{Event, FromWorker, Reply, Request, ToWorker, WorkerError};
use gatewatch_sim::{SimConfig, Simulator};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// Starts a simulator on 127.0.0.1 with frozen prices and the given version cap.
pub async fn simulator(max_version: i32) -> Simulator {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let config = SimConfig {
        max_version,
        tick: Duration::ZERO,
        ..SimConfig::default()
    };
    Simulator::start(listener, config).expect("simulator starts")
}

/// Fails the test if `future` takes longer than `secs`.
pub async fn within<T>(secs: f64, what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs_f64(secs), future)
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing within {secs} s"))
}

/// A running worker process with its pipes.
pub struct Worker {
    /// The process.
    pub child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    next_id: u64,
    /// Events seen while waiting for replies, oldest first.
    pub events: Vec<Event>,
}

impl Worker {
    /// Spawns the worker and checks its hello.
    pub async fn spawn() -> Worker {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gatewatch-worker"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("worker starts");
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut worker = Worker {
            stdin: child.stdin.take(),
            child,
            stdout,
            next_id: 1,
            events: Vec::new(),
        };
        let hello = worker.next_message(5.0).await;
        gatewatch_protocol::check_hello(&hello).expect("a hello this app understands");
        worker
    }

    /// Writes a raw line (for garbage tests).
    pub async fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(line.as_bytes()).await.unwrap();
        stdin.write_all(b"\n").await.unwrap();
        stdin.flush().await.unwrap();
    }

    /// Sends a request and returns its id.
    pub async fn send(&mut self, command: ToWorker) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let line = serde_json::to_string(&Request { id, command }).unwrap();
        self.send_line(&line).await;
        id
    }

    /// The next line the worker writes, parsed.
    pub async fn next_message(&mut self, secs: f64) -> FromWorker {
        let line = within(secs, "worker output", self.stdout.next_line())
            .await
            .expect("stdout readable")
            .expect("worker still running");
        serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("worker wrote a line that is not a message: {line}: {e}"))
    }

    /// Waits for the reply (or error) to request `id`, keeping events on the way.
    pub async fn outcome(&mut self, id: u64, secs: f64) -> Result<Reply, WorkerError> {
        let deadline = Instant::now() + Duration::from_secs_f64(secs);
        loop {
            match self.next_message(seconds_until(deadline)).await {
                FromWorker::Reply { id: got, result } if got == id => return Ok(result),
                FromWorker::Error {
                    id: Some(got),
                    error,
                } if got == id => return Err(error),
                FromWorker::Event { event } => self.events.push(event),
                other => panic!("unexpected message while waiting for {id}: {other:?}"),
            }
        }
    }

    /// Sends a request and waits for its reply.
    pub async fn request(&mut self, command: ToWorker, secs: f64) -> Result<Reply, WorkerError> {
        let id = self.send(command).await;
        self.outcome(id, secs).await
    }

    /// Waits for an event matching `matches` (already seen ones count), returning it.
    pub async fn event(&mut self, secs: f64, matches: impl Fn(&Event) -> bool) -> Event {
        if let Some(at) = self.events.iter().position(&matches) {
            return self.events.remove(at);
        }
        let deadline = Instant::now() + Duration::from_secs_f64(secs);
        loop {
            match self.next_message(seconds_until(deadline)).await {
                FromWorker::Event { event } if matches(&event) => return event,
                FromWorker::Event { event } => self.events.push(event),
                other => panic!("unexpected message while waiting for an event: {other:?}"),
            }
        }
    }

    /// Connects to `sim` with `client_id` and default timeouts.
    pub async fn connect(&mut self, sim: &Simulator, client_id: i32) -> Result<Reply, WorkerError> {
        self.connect_with(sim, client_id, gatewatch_protocol::Timeouts::default())
            .await
    }

    /// Connects with explicit stage timeouts.
    pub async fn connect_with(
        &mut self,
        sim: &Simulator,
        client_id: i32,
        timeouts: gatewatch_protocol::Timeouts,
    ) -> Result<Reply, WorkerError> {
        self.request(
            connect_command(sim.addr().port(), client_id, timeouts),
            15.0,
        )
        .await
    }

    /// Closes stdin, as an app that goes away does.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the process to exit.
    pub async fn wait_exit(&mut self, secs: f64) -> std::process::ExitStatus {
        within(secs, "worker exit", self.child.wait())
            .await
            .unwrap()
    }
}

/// TCP sockets in CLOSE_WAIT whose peer is `port`: a client side that never closed after the
/// server did. Read with the supervisor's own `/proc/net/tcp` parser.
pub fn close_wait_towards(port: u16) -> usize {
    close_wait(|row| row.remote_port == port)
}

/// TCP sockets in CLOSE_WAIT on the gateway's side of `port`: connections a client closed
/// that the gateway has not closed yet.
pub fn close_wait_on(port: u16) -> usize {
    close_wait(|row| row.local_port == port)
}

fn close_wait(side: impl Fn(&gatewatch_supervisor::zombie::SocketRow) -> bool) -> usize {
    const CLOSE_WAIT: u8 = 0x08;
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    gatewatch_supervisor::zombie::parse_table(&table)
        .iter()
        .filter(|row| row.state == CLOSE_WAIT && side(row))
        .count()
}

/// Seconds left until `deadline`, never zero (a zero wait would fail before reading).
fn seconds_until(deadline: Instant) -> f64 {
    deadline
        .saturating_duration_since(Instant::now())
        .as_secs_f64()
        .max(0.001)
}

/// The connect request for a gateway on 127.0.0.1:`port`.
pub fn connect_command(
    port: u16,
    client_id: i32,
    timeouts: gatewatch_protocol::Timeouts,
) -> ToWorker {
    ToWorker::Connect {
        host: "127.0.0.1".into(),
        port,
        client_id,
        timeouts,
    }
}
