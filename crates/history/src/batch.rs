//! What the writer hands over every few seconds: rows of every table, written in one
//! transaction (never one per ping).

use rusqlite::{Transaction, params};

/// A line of the event log.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// The gateway profile's id.
    pub gateway: String,
    /// Epoch ms.
    pub at_ms: u64,
    /// `state`, `notice`, `failure`, …
    pub kind: String,
    /// The line.
    pub text: String,
    /// During an outage the calendar expected.
    pub expected: bool,
}

/// A bad spell from its start to its recovery (`ended_ms` empty while it lasts). Written again
/// with the same `id` when it ends.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct IncidentRow {
    /// Chosen by the writer, stable across the incident's updates.
    pub id: i64,
    /// The gateway profile's id.
    pub gateway: String,
    /// `down`, `zombie`, `degraded`, `ib_link_lost`, …
    pub kind: String,
    /// Epoch ms.
    pub started_ms: u64,
    /// Epoch ms; `None` while it lasts.
    pub ended_ms: Option<u64>,
    /// Why, in words.
    pub cause: String,
    /// The handshake stage that stalled, if one did.
    pub stage: Option<String>,
    /// Notice codes seen during it, comma-separated.
    pub notices: String,
    /// The calendar expected it.
    pub expected: bool,
    /// The expected outage's label, if any ("nightly restart").
    pub outage: Option<String>,
    /// The most CLOSE_WAIT sockets seen on the gateway's side during it (read back from the
    /// CLOSE_WAIT changes; not written with the incident).
    pub close_wait: Option<u32>,
}

#[cfg(test)]
impl IncidentRow {
    /// A plain `down` spell of `gateway`, for tests.
    pub(crate) fn spell(
        gateway: &str,
        started_ms: u64,
        ended_ms: Option<u64>,
        expected: bool,
    ) -> Self {
        IncidentRow {
            id: 1,
            gateway: gateway.into(),
            kind: "down".into(),
            started_ms,
            ended_ms,
            cause: String::new(),
            stage: None,
            notices: String::new(),
            expected,
            outage: None,
            close_wait: None,
        }
    }
}

/// One ping's result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PingRow {
    /// Epoch ms.
    pub at_ms: u64,
    /// Round trip, µs; `None` when lost.
    pub rtt_us: Option<u64>,
}

/// One connect attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectRow {
    /// The gateway profile's id.
    pub gateway: String,
    /// Epoch ms.
    pub at_ms: u64,
    /// It connected.
    pub ok: bool,
    /// Where it failed, if it did.
    pub stage: Option<String>,
    /// Per-stage times, µs.
    pub stage_us: [Option<u64>; 4],
    /// Why it failed.
    pub error: Option<String>,
}

/// A change of the CLOSE_WAIT counts.
#[derive(Debug, Clone, PartialEq)]
pub struct ZombieRow {
    /// The gateway profile's id.
    pub gateway: String,
    /// Epoch ms.
    pub at_ms: u64,
    /// Ours, the gateway's, other clients'.
    pub counts: [u32; 3],
}

/// A stretch of time a gateway was watched; written again with the same `id` as it grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchSpan {
    /// Chosen by the writer.
    pub id: i64,
    /// Epoch ms.
    pub from_ms: u64,
    /// Epoch ms: the last write while it lasted, or its end.
    pub until_ms: u64,
}

/// Everything to write in one transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// Event log lines.
    pub events: Vec<EventRow>,
    /// Incidents begun or ended.
    pub incidents: Vec<IncidentRow>,
    /// Raw pings, per gateway.
    pub pings: Vec<(String, PingRow)>,
    /// Connect attempts.
    pub connects: Vec<ConnectRow>,
    /// CLOSE_WAIT changes.
    pub zombies: Vec<ZombieRow>,
    /// Per-minute latency rows given as such (imports, tests; upserted: a minute written twice
    /// keeps the later figures). The minutes of `pings` are computed by the write itself.
    pub minutes: Vec<(String, crate::MinuteStats)>,
    /// Watched stretches, per gateway.
    pub watched: Vec<(String, WatchSpan)>,
}

impl Batch {
    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
            && self.incidents.is_empty()
            && self.pings.is_empty()
            && self.connects.is_empty()
            && self.zombies.is_empty()
            && self.minutes.is_empty()
            && self.watched.is_empty()
    }

    pub(crate) fn write(&self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        let ms = |v: u64| v as i64;
        let opt = |v: Option<u64>| v.map(|v| v as i64);
        let mut insert = tx.prepare_cached(
            "INSERT INTO events (gateway, at_ms, kind, text, expected) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for e in &self.events {
            insert.execute(params![e.gateway, ms(e.at_ms), e.kind, e.text, e.expected])?;
        }
        let mut upsert = tx.prepare_cached(
            "INSERT OR REPLACE INTO incidents (id, gateway, kind, started_ms, ended_ms, cause, stage, notices, expected, outage)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for i in &self.incidents {
            upsert.execute(params![
                i.id,
                i.gateway,
                i.kind,
                ms(i.started_ms),
                opt(i.ended_ms),
                i.cause,
                i.stage,
                i.notices,
                i.expected,
                i.outage
            ])?;
        }
        let mut ping =
            tx.prepare_cached("INSERT INTO pings (gateway, at_ms, rtt_us) VALUES (?1, ?2, ?3)")?;
        for (gateway, p) in &self.pings {
            ping.execute(params![gateway, ms(p.at_ms), opt(p.rtt_us)])?;
        }
        let mut connect = tx.prepare_cached(
            "INSERT INTO connects (gateway, at_ms, ok, stage, tcp_us, version_us, start_api_us, first_ping_us, error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for c in &self.connects {
            let [a, b, c2, d] = c.stage_us.map(opt);
            connect.execute(params![
                c.gateway,
                ms(c.at_ms),
                c.ok,
                c.stage,
                a,
                b,
                c2,
                d,
                c.error
            ])?;
        }
        let mut zombie = tx.prepare_cached(
            "INSERT INTO zombies (gateway, at_ms, ours, gateway_side, others) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for z in &self.zombies {
            zombie.execute(params![
                z.gateway,
                ms(z.at_ms),
                z.counts[0],
                z.counts[1],
                z.counts[2]
            ])?;
        }
        let mut minute = tx.prepare_cached(
            "INSERT OR REPLACE INTO latency_minute (gateway, minute_ms, count, lost, min_us, p50_us, p95_us, p99_us, max_us)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        let mut put_minute = |gateway: &str, m: &crate::MinuteStats| {
            minute.execute(params![
                gateway,
                ms(m.minute_ms),
                m.count,
                m.lost,
                opt(m.min_us),
                opt(m.p50_us),
                opt(m.p95_us),
                opt(m.p99_us),
                opt(m.max_us)
            ])
        };
        let mut slots = std::collections::BTreeSet::new();
        for (gateway, m) in &self.minutes {
            put_minute(gateway, m)?;
            slots.insert((gateway.as_str(), m.minute_ms / 600_000 * 600_000));
        }
        // The minutes of the pings written are computed from every raw ping of those minutes
        // in the database, so a minute shared by two runs of the app (or two batches) counts
        // the pings of both.
        let touched: std::collections::BTreeSet<(&str, u64)> = self
            .pings
            .iter()
            .map(|(gateway, p)| (gateway.as_str(), p.at_ms / 60_000 * 60_000))
            .collect();
        let mut of_minute = tx.prepare_cached(
            "SELECT at_ms, rtt_us FROM pings WHERE gateway = ?1 AND at_ms >= ?2 AND at_ms < ?2 + 60000",
        )?;
        for (gateway, minute_ms) in touched {
            let pings = of_minute
                .query_map(params![gateway, ms(minute_ms)], |r| {
                    Ok(PingRow {
                        at_ms: r.get::<_, i64>(0)?.max(0) as u64,
                        rtt_us: r.get::<_, Option<i64>>(1)?.map(|v| v.max(0) as u64),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for m in crate::minutes(&pings) {
                put_minute(gateway, &m)?;
            }
            slots.insert((gateway, minute_ms / 600_000 * 600_000));
        }
        let mut watched = tx.prepare_cached(
            "INSERT OR REPLACE INTO watched (id, gateway, from_ms, until_ms) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (gateway, span) in &self.watched {
            watched.execute(params![
                span.id,
                gateway,
                ms(span.from_ms),
                ms(span.until_ms)
            ])?;
        }
        let mut roll_up = tx.prepare_cached(crate::schema::ROLL_UP_TEN_MINUTES)?;
        for (gateway, slot) in slots {
            roll_up.execute(params![gateway, ms(slot)])?;
        }
        Ok(())
    }
}
