//! The app's side of the history database: what the relays record goes into a [`Batch`] as
//! well (log lines with their gateway, raw pings, per-minute latency, incidents, connect
//! attempts, CLOSE_WAIT changes), and a task
//! writes it every [`FLUSH_EVERY`] in one transaction, so the night survives a quit, a reboot
//! or a crash, with at most that interval missing. A write that fails (a full disk) is
//! logged and reported, and monitoring goes on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use gatewatch_history::{
    AttemptTracker, Batch, EventRow, History, IncidentIds, IncidentTracker, PingRow, WatchSpan,
};
use gatewatch_supervisor::{EventKind, SupervisorEvent};

use crate::LogEntry;
use crate::records::Records;

/// How often the batch is written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(2);

/// What is waiting to be written, and the state needed to build it.
pub struct Feed {
    batch: Batch,
    trackers: HashMap<String, IncidentTracker>,
    attempts: HashMap<String, AttemptTracker>,
    ids: IncidentIds,
    /// The stretch each gateway has been watched for in this run.
    watching: HashMap<String, WatchSpan>,
    /// The id of the next stretch.
    next_span: i64,
}

impl Feed {
    /// A feed whose incident ids follow `largest_id` and whose watched stretches follow
    /// `largest_span`.
    pub fn new(largest_id: i64, largest_span: i64) -> Self {
        Self {
            batch: Batch::default(),
            trackers: HashMap::new(),
            attempts: HashMap::new(),
            ids: IncidentIds::after(largest_id),
            watching: HashMap::new(),
            next_span: largest_span + 1,
        }
    }

    /// Takes in one event of `gateway`, and the log line it made, if any.
    pub fn record(&mut self, gateway: &str, event: &SupervisorEvent, entry: Option<&LogEntry>) {
        self.watch(gateway, event);
        if let Some(entry) = entry {
            self.batch.events.push(EventRow {
                gateway: gateway.to_owned(),
                at_ms: entry.at_ms,
                kind: serde_json_name(&entry.kind),
                text: entry.text.clone(),
                expected: entry.expected,
            });
        }
        if let EventKind::Ping {
            rtt_us,
            late: false,
        } = event.kind
        {
            let ping = PingRow {
                at_ms: event.at_ms,
                rtt_us,
            };
            // The write folds them into minutes, with the pings already in the database.
            self.batch.pings.push((gateway.to_owned(), ping));
        }
        let attempts = self
            .attempts
            .entry(gateway.to_owned())
            .or_default()
            .observe(gateway, event);
        self.batch.connects.extend(attempts.connect);
        self.batch.zombies.extend(attempts.zombie);
        let tracker = self
            .trackers
            .entry(gateway.to_owned())
            .or_insert_with(|| IncidentTracker::new(gateway));
        for row in tracker.observe(event, &mut self.ids) {
            self.batch.incidents.retain(|i| i.id != row.id);
            self.batch.incidents.push(row);
        }
    }

    /// A gateway is watched from its first event until its supervisor says it stopped.
    fn watch(&mut self, gateway: &str, event: &SupervisorEvent) {
        let stopped = matches!(
            event.kind,
            EventKind::StateChanged {
                state: gatewatch_supervisor::ConnectionState::Stopped
            }
        );
        if stopped {
            if let Some(mut span) = self.watching.remove(gateway) {
                span.until_ms = span.until_ms.max(event.at_ms);
                self.batch.watched.push((gateway.to_owned(), span));
            }
        } else if !self.watching.contains_key(gateway) {
            let span = WatchSpan {
                id: self.next_span,
                from_ms: event.at_ms,
                until_ms: event.at_ms,
            };
            self.next_span += 1;
            self.watching.insert(gateway.to_owned(), span);
        }
    }

    /// Watching ends at `now_ms` (the app quits): open incidents end there, saying they were
    /// not watched to their end, and so does every watched stretch.
    pub fn stop(&mut self, now_ms: u64) {
        for tracker in self.trackers.values_mut() {
            if let Some(row) = tracker.stop_watching(now_ms) {
                self.batch.incidents.retain(|i| i.id != row.id);
                self.batch.incidents.push(row);
            }
        }
        for (gateway, mut span) in self.watching.drain() {
            span.until_ms = span.until_ms.max(now_ms);
            self.batch.watched.push((gateway, span));
        }
    }

    /// Everything waiting, with every gateway watched up to `now_ms`.
    pub fn take(&mut self, now_ms: u64) -> Batch {
        for (gateway, span) in &mut self.watching {
            span.until_ms = span.until_ms.max(now_ms);
            self.batch.watched.push((gateway.clone(), *span));
        }
        std::mem::take(&mut self.batch)
    }
}

/// `LogKind` as its JSON name (`state`, `failure`, …).
fn serde_json_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Writes the feed every [`FLUSH_EVERY`] for as long as the app runs; a failed write is
/// reported in the snapshot and logged, and the next batch is tried all the same. Deletes
/// what the settings' retention no longer keeps every [`PRUNE_EVERY`] (the first time at
/// start).
pub(crate) async fn write_periodically(inner: Weak<crate::Inner>) {
    let mut every = tokio::time::interval(FLUSH_EVERY);
    let mut pruned: Option<std::time::Instant> = None;
    loop {
        every.tick().await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let Some(history) = inner.history.clone() else {
            return;
        };
        flush(&inner.records, &history, &inner.history_problem).await;
        if pruned.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            pruned = Some(std::time::Instant::now());
            let retention = inner
                .settings
                .lock()
                .expect("settings poisoned")
                .history
                .clone();
            let now = gatewatch_supervisor::state::now_ms();
            let result = tokio::task::spawn_blocking(move || {
                history
                    .lock()
                    .expect("history poisoned")
                    .prune(now, &retention)
            })
            .await;
            match result {
                Ok(Ok(deleted)) => tracing::debug!(deleted, "history pruned"),
                Ok(Err(e)) => tracing::warn!(%e, "history not pruned"),
                Err(e) => tracing::warn!(%e, "history pruning panicked"),
            }
        }
    }
}

/// How often old rows are deleted (the first time at start).
const PRUNE_EVERY: Duration = Duration::from_secs(30 * 60);

/// Writes what is waiting now.
pub async fn flush(
    records: &Mutex<Records>,
    history: &Arc<Mutex<History>>,
    problem: &Arc<Mutex<Option<String>>>,
) {
    let batch = match records.lock().expect("records poisoned").history.as_mut() {
        Some(feed) => feed.take(gatewatch_supervisor::state::now_ms()),
        None => return,
    };
    if batch.is_empty() {
        return;
    }
    let history = Arc::clone(history);
    let written = tokio::task::spawn_blocking(move || {
        history.lock().expect("history poisoned").write(&batch)
    })
    .await;
    let mut problem = problem.lock().expect("problem poisoned");
    match written {
        Ok(Ok(())) => *problem = None,
        Ok(Err(e)) => {
            tracing::warn!(%e, "history not written; monitoring goes on");
            *problem = Some(format!("history not written: {e}"));
        }
        Err(e) => tracing::warn!(%e, "history writer panicked"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatewatch_supervisor::SupervisorEvent;

    fn ping(at_ms: u64) -> SupervisorEvent {
        SupervisorEvent {
            at_ms,
            kind: EventKind::Ping {
                rtt_us: Some(400),
                late: false,
            },
        }
    }

    #[tokio::test]
    async fn a_write_that_fails_for_want_of_space_is_reported_and_the_next_good_one_clears_it() {
        let dir = tempfile::tempdir().unwrap();
        let history = History::open(&dir.path().join("history.db"))
            .unwrap()
            .history;
        let pages: i64 = history
            .connection()
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap();
        // SQLite's page limit fails a growing write exactly as a full disk does.
        history
            .connection()
            .pragma_update(None, "max_page_count", pages)
            .unwrap();
        let history = Arc::new(Mutex::new(history));
        let records = Mutex::new(Records {
            history: Some(Feed::new(0, 0)),
            ..Records::default()
        });
        let problem = Arc::new(Mutex::new(None));
        let feed = |from: u64, n: u64| {
            let mut records = records.lock().unwrap();
            let feed = records.history.as_mut().unwrap();
            for i in 0..n {
                feed.record("paper", &ping(from + i * 1000), None);
            }
        };
        feed(0, 5_000);
        flush(&records, &history, &problem).await;
        let said = problem.lock().unwrap().clone().expect("reported");
        assert!(
            said.starts_with("history not written") && said.contains("full"),
            "{said}"
        );
        history
            .lock()
            .unwrap()
            .connection()
            .pragma_update(None, "max_page_count", 1_000_000)
            .unwrap();
        feed(10_000_000, 3);
        flush(&records, &history, &problem).await;
        assert_eq!(
            *problem.lock().unwrap(),
            None,
            "written again: no longer said"
        );
    }
}
