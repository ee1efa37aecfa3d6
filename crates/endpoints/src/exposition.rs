//! `/metrics`: every watched gateway's readings in the OpenMetrics text format, encoded by
//! the official `prometheus-client` crate. A collector renders what is true at the scrape
//! (state, CLOSE_WAIT, server version) from the supervisors' snapshots and the counters
//! from the app's tallies, so a gateway no longer watched leaves no stale series behind.
//!
//! The families and their labels are the contract with the shipped alert rules and Grafana
//! dashboard (`deploy/`); `docs/endpoints.md` lists them.

use std::fmt;

use gatewatch_app::GatewayReading;
use gatewatch_app::tally::{Buckets, FarmStatus};
use gatewatch_protocol::Stage;
use gatewatch_supervisor::{ConnectionState, zombie};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeGaugeValue, EncodeLabelSet, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use crate::condition::{Condition, is_up};
use crate::process::ProcessStats;

/// The content type of [`render`]'s text, for the HTTP response.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A label set: pairs of names and values.
type Labels = Vec<(&'static str, String)>;

/// What one scrape renders.
#[derive(Debug)]
struct Scrape {
    readings: Vec<GatewayReading>,
    process: Option<ProcessStats>,
    now_ms: u64,
}

/// The exposition of `readings` and the process' own figures at `now_ms`.
pub fn render(readings: Vec<GatewayReading>, process: Option<ProcessStats>, now_ms: u64) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape {
        readings,
        process,
        now_ms,
    }));
    let mut text = String::with_capacity(16 * 1024);
    prometheus_client::encoding::text::encode(&mut text, &registry)
        .expect("writing into a String does not fail");
    text
}

fn gateway(reading: &GatewayReading) -> Labels {
    vec![("gateway", reading.id.clone())]
}

fn with(mut labels: Labels, name: &'static str, value: impl Into<String>) -> Labels {
    labels.push((name, value.into()));
    labels
}

/// One family: its descriptor, then a sample per label set.
fn family<S, F>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    kind: MetricType,
    samples: impl IntoIterator<Item = (S, F)>,
) -> fmt::Result
where
    S: EncodeLabelSet,
    F: FnOnce(MetricEncoder) -> fmt::Result,
{
    let mut metric = encoder.encode_descriptor(name, help, unit, kind)?;
    for (labels, encode) in samples {
        encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

fn gauge<V: EncodeGaugeValue>(value: V) -> impl FnOnce(MetricEncoder) -> fmt::Result {
    move |mut m| m.encode_gauge(&value)
}

fn counter(value: u64) -> impl FnOnce(MetricEncoder) -> fmt::Result {
    move |mut m| m.encode_counter::<NoLabelSet, _, u64>(&value, None)
}

fn histogram(buckets: &Buckets) -> impl FnOnce(MetricEncoder) -> fmt::Result + '_ {
    move |mut m| {
        m.encode_histogram::<NoLabelSet>(buckets.sum, buckets.count, &buckets.per_bucket(), None)
    }
}

fn flag(on: bool) -> i64 {
    i64::from(on)
}

impl Collector for Scrape {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        let all = &self.readings;
        family(
            &mut e,
            "gatewatch_build",
            "This Gatewatch's version",
            None,
            MetricType::Info,
            [(
                vec![("version", env!("CARGO_PKG_VERSION").to_owned())],
                |mut m: MetricEncoder| m.encode_info(&Labels::new()),
            )],
        )?;
        family(
            &mut e,
            "gatewatch_gateway",
            "A watched gateway: its profile's name and address (label gateway is the profile's stable id)",
            None,
            MetricType::Info,
            all.iter().map(|r| {
                let labels = with(
                    with(
                        with(gateway(r), "name", r.name.clone()),
                        "host",
                        r.host.clone(),
                    ),
                    "port",
                    r.port.to_string(),
                );
                (labels, |mut m: MetricEncoder| m.encode_info(&Labels::new()))
            }),
        )?;
        family(
            &mut e,
            "gatewatch_up",
            "1 while the gateway's API session is up (connected or degraded), else 0",
            None,
            MetricType::Gauge,
            all.iter()
                .map(|r| (gateway(r), gauge(flag(is_up(&r.snapshot.state))))),
        )?;
        family(
            &mut e,
            "gatewatch_state",
            "The gateway's condition, one-hot: connected, degraded, connecting, down, zombie (the port accepts but the handshake goes unanswered), scheduled_restart, server_reset, overdue, paused, stopped",
            None,
            MetricType::Gauge,
            all.iter().flat_map(|r| {
                let now = Condition::of(r);
                Condition::ALL
                    .iter()
                    .map(move |c| (with(gateway(r), "state", c.name()), gauge(flag(*c == now))))
            }),
        )?;
        family(
            &mut e,
            "gatewatch_expected_outage",
            "1 while IB's calendar expects this gateway to be restarting or cut off (its window and margins), else 0",
            None,
            MetricType::Gauge,
            all.iter()
                .map(|r| (gateway(r), gauge(flag(r.expected_outage.is_some())))),
        )?;
        family(
            &mut e,
            "gatewatch_awaiting_2fa",
            "1 when the gateway did not come back from a restart that needs a 2FA approval (the weekly re-login), else 0",
            None,
            MetricType::Gauge,
            all.iter().map(|r| {
                let waiting = matches!(&r.snapshot.state, ConnectionState::Overdue { outage, .. } if outage.needs_2fa);
                (gateway(r), gauge(flag(waiting)))
            }),
        )?;
        family(
            &mut e,
            "gatewatch_ping_rtt",
            "Round trips of the pings answered within their timeout",
            Some(&Unit::Seconds),
            MetricType::Histogram,
            all.iter().map(|r| (gateway(r), histogram(&r.tally.rtt))),
        )?;
        family(
            &mut e,
            "gatewatch_pings_sent",
            "Pings sent to the gateway (server-time requests)",
            None,
            MetricType::Counter,
            all.iter()
                .map(|r| (gateway(r), counter(r.tally.pings_sent))),
        )?;
        family(
            &mut e,
            "gatewatch_pings_lost",
            "Pings not answered within their timeout",
            None,
            MetricType::Counter,
            all.iter()
                .map(|r| (gateway(r), counter(r.tally.pings_lost))),
        )?;
        family(
            &mut e,
            "gatewatch_last_ping_age",
            "Time since a ping was last answered within its timeout (absent before the first)",
            Some(&Unit::Seconds),
            MetricType::Gauge,
            all.iter().filter_map(|r| {
                let at = r.tally.last_answer_ms?;
                Some((
                    gateway(r),
                    gauge(self.now_ms.saturating_sub(at) as f64 / 1000.0),
                ))
            }),
        )?;
        family(
            &mut e,
            "gatewatch_connect_attempts",
            "Full connect attempts that ended, successful or not (the circuit's probes are not counted)",
            None,
            MetricType::Counter,
            all.iter()
                .map(|r| (gateway(r), counter(r.tally.connect_attempts))),
        )?;
        family(
            &mut e,
            "gatewatch_connect_failures",
            "Failed connect attempts by the handshake stage that failed",
            None,
            MetricType::Counter,
            all.iter().flat_map(|r| {
                r.tally
                    .connect_failures
                    .iter()
                    .map(move |(stage, n)| (with(gateway(r), "stage", *stage), counter(*n)))
            }),
        )?;
        family(
            &mut e,
            "gatewatch_connect_stage_duration",
            "How long each handshake stage of the successful connects took",
            Some(&Unit::Seconds),
            MetricType::Histogram,
            all.iter().flat_map(|r| {
                Stage::ALL
                    .iter()
                    .zip(&r.tally.stage_times)
                    .map(move |(stage, buckets)| {
                        (
                            with(gateway(r), "stage", gatewatch_history::stage_name(*stage)),
                            histogram(buckets),
                        )
                    })
            }),
        )?;
        family(
            &mut e,
            "gatewatch_worker_restarts",
            "Times the API worker process was replaced (crash, hang, garbage, leaked sockets)",
            None,
            MetricType::Counter,
            all.iter()
                .map(|r| (gateway(r), counter(r.tally.worker_restarts))),
        )?;
        family(
            &mut e,
            "gatewatch_disconnects",
            "Live connections dropped, by cause: gateway_closed, connection_reset, port_reset, protocol_error, unresponsive",
            None,
            MetricType::Counter,
            all.iter().flat_map(|r| {
                r.tally
                    .disconnects
                    .iter()
                    .map(move |(cause, n)| (with(gateway(r), "cause", *cause), counter(*n)))
            }),
        )?;
        family(
            &mut e,
            "gatewatch_notices",
            "IB notices received on a connection, by code (1100 link lost, 1300 port reset, 2104 farm OK, ...); a 326 met while connecting is a connect failure at start_api",
            None,
            MetricType::Counter,
            all.iter().flat_map(|r| {
                r.tally
                    .notices
                    .iter()
                    .map(move |(code, n)| (with(gateway(r), "code", code.to_string()), counter(*n)))
            }),
        )?;
        family(
            &mut e,
            "gatewatch_farm_status",
            "Each data farm's last word since the session began, one-hot: ok, broken, inactive, connecting",
            None,
            MetricType::Gauge,
            all.iter().flat_map(|r| {
                r.tally.farms.iter().flat_map(move |(farm, now)| {
                    FarmStatus::ALL.iter().map(move |status| {
                        (
                            with(
                                with(gateway(r), "farm", farm.clone()),
                                "status",
                                status.name(),
                            ),
                            gauge(flag(status == now)),
                        )
                    })
                })
            }),
        )?;
        family(
            &mut e,
            "gatewatch_close_wait_sockets",
            "Sockets stuck in CLOSE_WAIT on the gateway's port, by who holds them: ours (the worker), gateway (the gateway never closed them: it is wedged), others (other clients)",
            None,
            MetricType::Gauge,
            // Not a family at all where no scan runs: a 0 would read as measured.
            all.iter().filter(|_| zombie::AVAILABLE).flat_map(|r| {
                let z = r.snapshot.zombies;
                [
                    ("ours", z.ours),
                    ("gateway", z.gateway),
                    ("others", z.other_clients),
                ]
                .map(|(owner, n)| (with(gateway(r), "owner", owner), gauge(i64::from(n))))
            }),
        )?;
        family(
            &mut e,
            "gatewatch_server_version",
            "The API server version the gateway negotiated (while connected)",
            None,
            MetricType::Gauge,
            all.iter().filter_map(|r| {
                let session = r.snapshot.state.live_session()?;
                Some((gateway(r), gauge(i64::from(session.server_version))))
            }),
        )?;
        if let Some(p) = self.process {
            process_families(&mut e, &p)?;
        }
        Ok(())
    }
}

fn process_families(e: &mut DescriptorEncoder, p: &ProcessStats) -> fmt::Result {
    let one = |value: f64| [(Labels::new(), gauge(value))];
    family(
        e,
        "process_cpu",
        "Total user and system CPU time spent",
        Some(&Unit::Seconds),
        MetricType::Counter,
        [(Labels::new(), |mut m: MetricEncoder| {
            m.encode_counter::<NoLabelSet, _, f64>(&p.cpu_seconds, None)
        })],
    )?;
    family(
        e,
        "process_resident_memory",
        "Resident memory size",
        Some(&Unit::Bytes),
        MetricType::Gauge,
        one(p.resident_bytes as f64),
    )?;
    family(
        e,
        "process_virtual_memory",
        "Virtual memory size",
        Some(&Unit::Bytes),
        MetricType::Gauge,
        one(p.virtual_bytes as f64),
    )?;
    family(
        e,
        "process_start_time",
        "Start time of the process since the Unix epoch",
        Some(&Unit::Seconds),
        MetricType::Gauge,
        one(p.start_time_seconds),
    )?;
    if let Some(fds) = p.open_fds {
        family(
            e,
            "process_open_fds",
            "Open file descriptors",
            None,
            MetricType::Gauge,
            one(fds as f64),
        )?;
    }
    family(
        e,
        "process_threads",
        "Threads of the process",
        None,
        MetricType::Gauge,
        one(p.threads as f64),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatewatch_app::tally::Tally;
    use gatewatch_protocol::notice::Notice;
    use gatewatch_protocol::{Encoding, ErrorCode, Stage, StageTimes, WorkerError};
    use gatewatch_supervisor::state::SessionInfo;
    use gatewatch_supervisor::zombie::ZombieCount;
    use gatewatch_supervisor::{EventKind, Snapshot, SupervisorEvent};

    fn reading(id: &str, state: ConnectionState, events: Vec<EventKind>) -> GatewayReading {
        let mut tally = Tally::default();
        for (i, kind) in events.into_iter().enumerate() {
            tally.observe(&SupervisorEvent {
                at_ms: 1_000 + i as u64,
                kind,
            });
        }
        GatewayReading {
            id: id.into(),
            name: format!("Gateway {id}"),
            host: "127.0.0.1".into(),
            port: 4002,
            snapshot: Snapshot {
                state,
                zombies: ZombieCount {
                    ours: 0,
                    gateway: 2,
                    other_clients: 1,
                },
                ..Snapshot::default()
            },
            tally,
            expected_outage: None,
        }
    }

    fn session() -> SessionInfo {
        SessionInfo {
            server_version: 187,
            encoding: Encoding::Protobuf,
            accounts: vec!["DU1".into()],
            client_id: 901,
            since_ms: 900,
            stage_us: StageTimes {
                tcp_connect: 120,
                version_exchange: 800,
                start_api: 2_500,
                first_ping: 300,
            },
        }
    }

    fn sample(text: &str, line_start: &str) -> f64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(line_start))
            .unwrap_or_else(|| panic!("no `{line_start}` in\n{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    }

    #[test]
    fn every_family_is_labelled_by_gateway_with_the_values_of_its_reading() {
        let up = reading(
            "gw-a",
            ConnectionState::Connected(session()),
            vec![
                EventKind::StateChanged {
                    state: ConnectionState::Connected(session()),
                },
                EventKind::Ping {
                    rtt_us: Some(420),
                    late: false,
                },
                EventKind::Ping {
                    rtt_us: None,
                    late: false,
                },
                EventKind::Notice(Notice::new(
                    2104,
                    "Market data farm connection is OK:usfarm",
                )),
            ],
        );
        let stalled = WorkerError::at(
            Stage::VersionExchange,
            ErrorCode::HandshakeTimeout,
            "no version reply",
        );
        let zombie = reading(
            "gw-b",
            ConnectionState::Reconnecting {
                attempt: 2,
                next_try_ms: 5_000,
            },
            vec![EventKind::ConnectFailed {
                attempt: 1,
                error: stalled,
            }],
        );
        let text = render(vec![up, zombie], None, 11_000);
        assert!(text.ends_with("# EOF\n"), "OpenMetrics ends with EOF");
        assert_eq!(sample(&text, r#"gatewatch_up{gateway="gw-a"}"#), 1.0);
        assert_eq!(sample(&text, r#"gatewatch_up{gateway="gw-b"}"#), 0.0);
        assert_eq!(
            sample(&text, r#"gatewatch_state{gateway="gw-b",state="zombie"}"#),
            1.0
        );
        assert_eq!(
            sample(&text, r#"gatewatch_state{gateway="gw-b",state="down"}"#),
            0.0
        );
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with(r#"gatewatch_state{gateway="gw-a""#) && l.ends_with(" 1"))
                .count(),
            1,
            "one-hot"
        );
        assert!(text.contains(
            r#"gatewatch_gateway_info{gateway="gw-a",name="Gateway gw-a",host="127.0.0.1",port="4002"} 1"#
        ));
        assert_eq!(
            sample(&text, r#"gatewatch_pings_sent_total{gateway="gw-a"}"#),
            2.0
        );
        assert_eq!(
            sample(&text, r#"gatewatch_pings_lost_total{gateway="gw-a"}"#),
            1.0
        );
        assert_eq!(
            sample(
                &text,
                r#"gatewatch_ping_rtt_seconds_bucket{le="0.0002",gateway="gw-a"}"#
            ),
            0.0
        );
        for le in ["0.0005", "5.0", "+Inf"] {
            let line = format!(r#"gatewatch_ping_rtt_seconds_bucket{{le="{le}",gateway="gw-a"}}"#);
            assert_eq!(
                sample(&text, &line),
                1.0,
                "cumulative: 420 µs is at or below {le}"
            );
        }
        assert_eq!(
            sample(&text, r#"gatewatch_ping_rtt_seconds_count{gateway="gw-a"}"#),
            1.0
        );
        assert_eq!(
            sample(&text, r#"gatewatch_last_ping_age_seconds{gateway="gw-a"}"#),
            9.999
        );
        assert!(!text.contains(r#"gatewatch_last_ping_age_seconds{gateway="gw-b"}"#));
        assert_eq!(
            sample(
                &text,
                r#"gatewatch_connect_failures_total{gateway="gw-b",stage="version_exchange"}"#
            ),
            1.0
        );
        assert_eq!(
            sample(
                &text,
                r#"gatewatch_connect_stage_duration_seconds_bucket{le="0.005",gateway="gw-a",stage="start_api"}"#
            ),
            1.0
        );
        assert_eq!(
            sample(
                &text,
                r#"gatewatch_farm_status{gateway="gw-a",farm="usfarm",status="ok"}"#
            ),
            1.0
        );
        assert_eq!(
            sample(
                &text,
                r#"gatewatch_notices_total{gateway="gw-a",code="2104"}"#
            ),
            1.0
        );
        assert_eq!(
            sample(
                &text,
                r#"gatewatch_close_wait_sockets{gateway="gw-b",owner="gateway"}"#
            ),
            2.0
        );
        assert_eq!(
            sample(&text, r#"gatewatch_server_version{gateway="gw-a"}"#),
            187.0
        );
        assert!(!text.contains(r#"gatewatch_server_version{gateway="gw-b"}"#));
        assert!(text.contains(r#"gatewatch_build_info{version=""#));
    }

    #[test]
    fn a_label_value_with_quotes_and_newlines_is_escaped() {
        let mut r = reading("gw", ConnectionState::Stopped, vec![]);
        r.name = "My \"live\"\nbox\\".into();
        let text = render(vec![r], None, 0);
        assert!(
            text.contains(r#"name="My \"live\"\nbox\\""#),
            "{}",
            text.lines()
                .find(|l| l.starts_with("gatewatch_gateway_info"))
                .unwrap()
        );
    }
}
