//! The service's own process metrics (CPU, memory, file descriptors, threads, start time),
//! read from `/proc/self` with the `procfs` crate under Prometheus' standard `process_*`
//! names, so the usual dashboards and alerts apply. Elsewhere than Linux there are none.

/// One reading of this process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessStats {
    /// User and system CPU time, seconds.
    pub cpu_seconds: f64,
    /// Resident memory, bytes.
    pub resident_bytes: u64,
    /// Virtual memory, bytes.
    pub virtual_bytes: u64,
    /// Start time, seconds since the Unix epoch.
    pub start_time_seconds: f64,
    /// Open file descriptors (`None` when they cannot be listed).
    pub open_fds: Option<u64>,
    /// Threads.
    pub threads: u64,
}

/// Reads this process' figures now; `None` where `/proc` cannot tell.
#[cfg(target_os = "linux")]
pub fn read() -> Option<ProcessStats> {
    let me = procfs::process::Process::myself().ok()?;
    let stat = me.stat().ok()?;
    let ticks = procfs::ticks_per_second() as f64;
    let page = procfs::page_size();
    let booted = procfs::boot_time_secs().ok()? as f64;
    Some(ProcessStats {
        cpu_seconds: (stat.utime + stat.stime) as f64 / ticks,
        resident_bytes: stat.rss * page,
        virtual_bytes: stat.vsize,
        start_time_seconds: booted + stat.starttime as f64 / ticks,
        open_fds: me.fd_count().ok().map(|n| n as u64),
        threads: stat.num_threads.max(0) as u64,
    })
}

/// Reads this process' figures now; `None` where `/proc` cannot tell.
#[cfg(not(target_os = "linux"))]
pub fn read() -> Option<ProcessStats> {
    None
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn this_process_has_memory_threads_and_a_start_time_in_the_past() {
        let stats = super::read().expect("/proc/self is readable");
        assert!(stats.resident_bytes > 1 << 20, "{stats:?}");
        assert!(stats.virtual_bytes >= stats.resident_bytes);
        assert!(stats.threads >= 1);
        assert!(
            stats.open_fds.unwrap() >= 3,
            "stdin, stdout, stderr at least"
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(
            stats.start_time_seconds <= now + 1.0 && stats.start_time_seconds > now - 3600.0,
            "{stats:?}"
        );
    }
}
