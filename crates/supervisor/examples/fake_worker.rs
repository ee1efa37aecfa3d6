//! A misbehaving stand-in for `gatewatch-worker`, for supervision tests only. The mode is
//! the part of the executable's name after `fake_worker-` (tests copy it under that name):
//!
//! - `garbage`: a valid hello, then unreadable lines and no answers;
//! - `silent`: a valid hello, then reads requests and answers nothing (a hung worker);
//! - `crash`: a valid hello, then exits with status 3 on the first request;
//! - `wrong-version`: a hello with another protocol version.

use std::io::{BufRead, Write};

fn main() {
    let exe = std::env::args().next().unwrap_or_default();
    let mode = exe
        .rsplit_once("fake_worker-")
        .map(|(_, mode)| mode.to_owned())
        .unwrap_or_default();
    let version = if mode == "wrong-version" {
        999
    } else {
        gatewatch_protocol::PROTOCOL_VERSION
    };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        r#"{{"type":"hello","protocol_version":{version},"worker_version":"fake","pid":{}}}"#,
        std::process::id()
    )
    .unwrap();
    out.flush().unwrap();
    if mode == "garbage" {
        loop {
            if writeln!(out, "garbage ~~~ not json")
                .and_then(|_| out.flush())
                .is_err()
            {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    for line in std::io::stdin().lock().lines() {
        if line.is_err() {
            return;
        }
        if mode == "crash" {
            std::process::exit(3);
        }
    }
}
