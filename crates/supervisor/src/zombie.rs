//! Finds TCP sockets stuck in CLOSE_WAIT on the gateway's port and says whose they are.
//!
//! A socket in CLOSE_WAIT is one whose peer has closed while its owner has not. On the
//! client side of the gateway's port it is a leak of the process holding it: ours when the
//! worker holds it (cured by replacing the worker), another client's otherwise (the trader's
//! bot). On the gateway's side (local port = the API port, visible when the gateway runs on
//! this machine) it is the wedged gateway of the field reports, which only a gateway restart
//! frees. Linux only: read from `/proc/net/tcp{,6}` and `/proc/<pid>/fd`.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Whether this platform's TCP tables can be read (Linux's `/proc`). Elsewhere no scan runs
/// and every front end says [`NOT_AVAILABLE`] instead of a count: a 0 nobody measured would
/// read as "no zombie sockets". (A Windows or macOS implementation would read the tables
/// through a maintained crate such as `netstat2`.)
pub const AVAILABLE: bool = cfg!(target_os = "linux");

/// What is said instead of a CLOSE_WAIT count where none can be taken.
pub const NOT_AVAILABLE: &str = "not available on this platform";

/// The kernel's code for CLOSE_WAIT in `/proc/net/tcp`.
const CLOSE_WAIT: u8 = 0x08;

/// CLOSE_WAIT sockets on the gateway's port, by owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
pub struct ZombieCount {
    /// Client-side sockets held by our worker.
    pub ours: u32,
    /// Gateway-side sockets: the gateway never closed connections its clients closed.
    pub gateway: u32,
    /// Client-side sockets held by other processes.
    pub other_clients: u32,
}

impl ZombieCount {
    /// Advice for people, when there is anything to say.
    pub fn advice(&self) -> Option<String> {
        if self.gateway > 0 {
            Some(format!(
                "{} socket(s) stuck in CLOSE_WAIT on the gateway's side: the gateway is wedged and needs a restart \
                 (IBC RESTART, or restart IB Gateway/TWS; a cold restart needs 2FA)",
                self.gateway
            ))
        } else if self.other_clients > 0 {
            Some(format!(
                "{} socket(s) in CLOSE_WAIT held by another client of this gateway",
                self.other_clients
            ))
        } else if self.ours > 0 {
            Some(format!(
                "{} socket(s) in CLOSE_WAIT held by our worker; it is being replaced",
                self.ours
            ))
        } else {
            None
        }
    }
}

/// One row of `/proc/net/tcp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketRow {
    /// Local port.
    pub local_port: u16,
    /// Remote port.
    pub remote_port: u16,
    /// Kernel TCP state code.
    pub state: u8,
    /// Socket inode, to find the owning process.
    pub inode: u64,
}

/// Parses the rows of a `/proc/net/tcp` or `/proc/net/tcp6` table; malformed rows are skipped.
pub fn parse_table(text: &str) -> Vec<SocketRow> {
    text.lines().skip(1).filter_map(parse_row).collect()
}

fn parse_row(line: &str) -> Option<SocketRow> {
    let cols: Vec<&str> = line.split_whitespace().collect();
    let port = |address: &str| u16::from_str_radix(address.rsplit(':').next()?, 16).ok();
    Some(SocketRow {
        local_port: port(cols.get(1)?)?,
        remote_port: port(cols.get(2)?)?,
        state: u8::from_str_radix(cols.get(3)?, 16).ok()?,
        inode: cols.get(9)?.parse().ok()?,
    })
}

/// Classifies the CLOSE_WAIT rows that touch `gateway_port`.
pub fn classify(rows: &[SocketRow], gateway_port: u16, our_inodes: &HashSet<u64>) -> ZombieCount {
    let mut count = ZombieCount::default();
    for row in rows.iter().filter(|r| r.state == CLOSE_WAIT) {
        if row.local_port == gateway_port {
            count.gateway += 1;
        } else if row.remote_port == gateway_port {
            if our_inodes.contains(&row.inode) {
                count.ours += 1;
            } else {
                count.other_clients += 1;
            }
        }
    }
    count
}

/// The socket inodes process `pid` holds open; none when the process is gone. An error
/// when they cannot be listed (out of file descriptors, say), so a failed listing is never
/// taken for a process without sockets.
pub fn socket_inodes(pid: u32) -> std::io::Result<HashSet<u64>> {
    let entries = match std::fs::read_dir(format!("/proc/{pid}/fd")) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(e) => return Err(e),
    };
    let mut inodes = HashSet::new();
    for entry in entries {
        let Ok(target) = std::fs::read_link(entry?.path()) else {
            continue; // closed meanwhile
        };
        let target = target.to_string_lossy();
        if let Some(inode) = target
            .strip_prefix("socket:[")
            .and_then(|t| t.strip_suffix(']'))
            .and_then(|t| t.parse().ok())
        {
            inodes.insert(inode);
        }
    }
    Ok(inodes)
}

/// Scans the machine's TCP tables for CLOSE_WAIT sockets on `gateway_port`. An error when a
/// table cannot be read (a missing `tcp6` is only a machine without IPv6): a scan that
/// could not look must not say "none".
pub fn scan(gateway_port: u16, worker_pid: Option<u32>) -> Result<ZombieCount, String> {
    if !AVAILABLE {
        return Err(NOT_AVAILABLE.into());
    }
    let mut rows = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        match std::fs::read_to_string(table) {
            Ok(text) => rows.extend(parse_table(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && table.ends_with('6') => {}
            Err(e) => return Err(format!("cannot read {table}: {e}")),
        }
    }
    let ours = match worker_pid {
        Some(pid) => socket_inodes(pid)
            .map_err(|e| format!("cannot list the worker's sockets (/proc/{pid}/fd): {e}"))?,
        None => HashSet::new(),
    };
    Ok(classify(&rows, gateway_port, &ours))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0FA2 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 100 1 0 100 0 0 10 0
   1: 0100007F:0FA2 0100007F:D431 08 00000000:00000000 00:00000000 00000000     0        0 101 1 0 20 4 30 10 -1
   2: 0100007F:D432 0100007F:0FA2 08 00000000:00000000 00:00000000 00000000     0        0 102 1 0 20 4 30 10 -1
   3: 0100007F:D433 0100007F:0FA2 08 00000000:00000000 00:00000000 00000000     0        0 103 1 0 20 4 30 10 -1
   4: 0100007F:D434 0100007F:0FA2 01 00000000:00000000 00:00000000 00000000     0        0 104 1 0 20 4 30 10 -1
   garbage row
";

    #[test]
    fn close_wait_rows_are_told_apart_by_side_and_owner() {
        let rows = parse_table(TABLE);
        assert_eq!(rows.len(), 5, "the garbage row is skipped");
        let ours = HashSet::from([102]);
        let count = classify(&rows, 0x0FA2, &ours);
        assert_eq!(
            count,
            ZombieCount {
                ours: 1,
                gateway: 1,
                other_clients: 1
            }
        );
        assert!(count.advice().unwrap().contains("gateway is wedged"));
        assert_eq!(classify(&rows, 4001, &ours), ZombieCount::default());
        assert_eq!(ZombieCount::default().advice(), None);
    }

    #[test]
    fn our_own_process_holds_sockets_we_can_find() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let inodes = socket_inodes(std::process::id()).unwrap();
        assert!(
            !inodes.is_empty(),
            "the listener is a socket of this process"
        );
        drop(listener);
        assert!(
            socket_inodes(u32::MAX).unwrap().is_empty(),
            "a process that is gone holds nothing"
        );
    }
}
