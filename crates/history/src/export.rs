//! CSV exports (RFC 4180, through the `csv` crate) of incidents and per-minute latency, for
//! the window's export buttons and `gatewatch-cli history --csv`.

use serde::Serialize;

use crate::{IncidentRow, MinuteStats};

#[derive(Serialize)]
struct IncidentRecord<'a> {
    id: i64,
    gateway: &'a str,
    kind: &'a str,
    started_ms: u64,
    ended_ms: Option<u64>,
    duration_ms: Option<u64>,
    expected: bool,
    outage: Option<&'a str>,
    cause: &'a str,
    stage: Option<&'a str>,
    notices: &'a str,
    close_wait: Option<u32>,
}

#[derive(Serialize)]
struct MinuteRecord<'a> {
    gateway: &'a str,
    minute_ms: u64,
    count: u32,
    lost: u32,
    min_us: Option<u64>,
    p50_us: Option<u64>,
    p95_us: Option<u64>,
    p99_us: Option<u64>,
    max_us: Option<u64>,
}

fn to_csv<T: Serialize>(records: impl IntoIterator<Item = T>, header: &[&str]) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut any = false;
    for record in records {
        any = true;
        writer.serialize(record).expect("writing to memory");
    }
    if !any {
        writer.write_record(header).expect("writing to memory");
    }
    String::from_utf8(writer.into_inner().expect("writing to memory")).expect("CSV of UTF-8")
}

/// Incidents, one per row, with a header row.
pub fn incidents_csv(incidents: &[IncidentRow]) -> String {
    to_csv(
        incidents.iter().map(|i| IncidentRecord {
            id: i.id,
            gateway: &i.gateway,
            kind: &i.kind,
            started_ms: i.started_ms,
            ended_ms: i.ended_ms,
            duration_ms: i.ended_ms.map(|e| e.saturating_sub(i.started_ms)),
            expected: i.expected,
            outage: i.outage.as_deref(),
            cause: &i.cause,
            stage: i.stage.as_deref(),
            notices: &i.notices,
            close_wait: i.close_wait,
        }),
        &[
            "id",
            "gateway",
            "kind",
            "started_ms",
            "ended_ms",
            "duration_ms",
            "expected",
            "outage",
            "cause",
            "stage",
            "notices",
            "close_wait",
        ],
    )
}

/// Per-minute latency of `gateway`, one minute per row, with a header row.
pub fn minutes_csv(gateway: &str, minutes: &[MinuteStats]) -> String {
    to_csv(
        minutes.iter().map(|m| MinuteRecord {
            gateway,
            minute_ms: m.minute_ms,
            count: m.count,
            lost: m.lost,
            min_us: m.min_us,
            p50_us: m.p50_us,
            p95_us: m.p95_us,
            p99_us: m.p99_us,
            max_us: m.max_us,
        }),
        &[
            "gateway",
            "minute_ms",
            "count",
            "lost",
            "min_us",
            "p50_us",
            "p95_us",
            "p99_us",
            "max_us",
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_export_still_has_its_header_and_fields_with_commas_are_quoted() {
        assert!(incidents_csv(&[]).starts_with("id,gateway,kind,"));
        assert_eq!(minutes_csv("a", &[]).lines().count(), 1);
        let row = IncidentRow {
            id: 7,
            gateway: "paper".into(),
            kind: "down".into(),
            started_ms: 1000,
            ended_ms: Some(59_000),
            cause: "closed, said \"bye\"".into(),
            stage: None,
            notices: "1100,1102".into(),
            expected: false,
            outage: None,
            close_wait: Some(3),
        };
        let csv = incidents_csv(&[row]);
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let record = reader.records().next().unwrap().unwrap();
        assert_eq!(&record[5], "58000");
        assert_eq!(&record[8], "closed, said \"bye\"");
        assert_eq!(&record[10], "1100,1102");
        assert_eq!(&record[11], "3");
    }
}
