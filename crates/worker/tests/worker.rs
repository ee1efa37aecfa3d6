//! The real worker process against the simulator on loopback, in every encoding its one
//! gateway client speaks: protobuf (213), the per-family mix (207) and classic text (178).

mod harness;

use std::time::{Duration, Instant};

use gatewatch_protocol::notice::NoticeCategory;
use gatewatch_protocol::*;
use harness::{Worker, connect_command, simulator, within};

const ENCODINGS: [(i32, Encoding); 3] = [
    (213, Encoding::Protobuf),
    (207, Encoding::Mixed),
    (178, Encoding::ClassicText),
];

fn cmd(line: &str) -> gatewatch_sim::Command {
    line.parse().unwrap()
}

#[tokio::test]
async fn every_request_is_answered_in_both_encodings() {
    for (max_version, encoding) in ENCODINGS {
        let sim = simulator(max_version).await;
        let mut worker = Worker::spawn().await;
        let Ok(Reply::Connected(session)) = worker.connect(&sim, 7).await else {
            panic!("connect failed")
        };
        assert_eq!(
            (session.server_version, session.encoding),
            (max_version, encoding)
        );
        assert_eq!(session.accounts, ["DU1234567", "DU7654321"]);
        assert_eq!(session.client_id, 7);
        assert!(session.stage_us.tcp_connect > 0 && session.stage_us.start_api > 0);

        let Ok(Reply::Pong {
            rtt_us,
            server_time_s,
        }) = worker
            .request(ToWorker::Ping { timeout_ms: 2000 }, 5.0)
            .await
        else {
            panic!("ping failed")
        };
        assert!(rtt_us > 0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!(
            (server_time_s - now).abs() < 5,
            "server time {server_time_s} vs {now}"
        );

        assert_eq!(
            worker.request(ToWorker::GetAccounts {}, 5.0).await,
            Ok(Reply::Accounts {
                accounts: vec!["DU1234567".into(), "DU7654321".into()]
            })
        );
        assert_eq!(
            worker.request(ToWorker::Heartbeat {}, 5.0).await,
            Ok(Reply::HeartbeatAck)
        );

        let market = sim.market();
        let tags = vec![
            "NetLiquidation".to_owned(),
            "BuyingPower".to_owned(),
            "$LEDGER:ALL".to_owned(),
        ];
        let Ok(Reply::AccountSummary { rows }) = worker
            .request(ToWorker::GetAccountSummary { tags: tags.clone() }, 5.0)
            .await
        else {
            panic!("summary failed")
        };
        let expected: Vec<SummaryRow> = market
            .accounts()
            .iter()
            .flat_map(|a| {
                a.answer_summary(&tags.join(","))
                    .into_iter()
                    .map(move |v| SummaryRow {
                        account: a.id.clone(),
                        tag: v.tag,
                        value: v.value,
                        currency: v.currency,
                    })
            })
            .collect();
        assert_eq!(rows, expected, "{encoding:?}");

        let Ok(Reply::Positions { positions }) =
            worker.request(ToWorker::GetPositions {}, 5.0).await
        else {
            panic!("positions failed")
        };
        let holdings: Vec<_> = market
            .accounts()
            .iter()
            .flat_map(|a| a.holdings.iter().map(move |h| (a, h)))
            .collect();
        assert_eq!(positions.len(), holdings.len());
        for (got, (account, held)) in positions.iter().zip(holdings) {
            let c = &held.contract;
            assert_eq!(got.account, account.id);
            assert_eq!(
                (got.instrument.con_id, got.instrument.symbol.as_str()),
                (c.con_id, c.symbol.as_str())
            );
            assert_eq!(got.instrument.sec_type, c.sec_type.code());
            assert_eq!(got.instrument.expiry, c.expiry);
            assert_eq!(got.instrument.strike, (c.strike != 0.0).then_some(c.strike));
            assert_eq!(got.instrument.right.as_deref().unwrap_or(""), c.right);
            assert_eq!(got.instrument.multiplier, c.multiplier);
            assert_eq!(
                (
                    got.instrument.exchange.as_str(),
                    got.instrument.currency.as_str()
                ),
                (c.exchange.as_str(), c.currency.as_str())
            );
            assert_eq!(got.instrument.local_symbol, c.local_symbol);
            assert_eq!(
                (got.quantity, got.average_cost),
                (held.quantity, held.avg_cost)
            );
            assert_eq!(
                got.market_price,
                Some(held.price),
                "{encoding:?}: market price from account updates"
            );
            assert_eq!(got.market_value, Some(held.market_value()));
            assert_eq!(got.unrealized_pnl, Some(held.unrealized_pnl()));
        }

        assert_eq!(
            worker.request(ToWorker::Disconnect {}, 5.0).await,
            Ok(Reply::Disconnected)
        );
        let not_connected = worker
            .request(ToWorker::Ping { timeout_ms: 500 }, 5.0)
            .await
            .unwrap_err();
        assert_eq!(not_connected.code, ErrorCode::NotConnected);
        assert_eq!(
            worker.request(ToWorker::Shutdown {}, 5.0).await,
            Ok(Reply::ShuttingDown)
        );
        assert!(worker.wait_exit(5.0).await.success());
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn a_gateway_that_is_not_running_fails_at_tcp_connect() {
    let sim = simulator(213).await;
    sim.apply(cmd("refuse closed"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut worker = Worker::spawn().await;
    let error = worker.connect(&sim, 1).await.unwrap_err();
    assert_eq!(
        (error.code, error.stage),
        (ErrorCode::GatewayUnreachable, Some(Stage::TcpConnect)),
        "{}",
        error.message
    );
    sim.shutdown().await;
}

fn short_timeouts() -> Timeouts {
    Timeouts {
        version_exchange_ms: 300,
        start_api_ms: 300,
        first_ping_ms: 300,
        ..Timeouts::default()
    }
}

#[tokio::test]
async fn a_zombie_gateway_fails_at_the_version_exchange() {
    for (max_version, _) in ENCODINGS {
        let sim = simulator(max_version).await;
        sim.apply(cmd("zombie on"));
        let mut worker = Worker::spawn().await;
        let started = Instant::now();
        let error = worker
            .connect_with(&sim, 1, short_timeouts())
            .await
            .unwrap_err();
        assert_eq!(
            (error.code, error.stage),
            (ErrorCode::HandshakeTimeout, Some(Stage::VersionExchange)),
            "{}",
            error.message
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the stage timeout bounds the wait"
        );
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn a_gateway_that_never_sends_next_valid_id_fails_at_start_api() {
    for (max_version, _) in ENCODINGS {
        let sim = simulator(max_version).await;
        sim.apply(cmd("stall-start on"));
        let mut worker = Worker::spawn().await;
        let error = worker
            .connect_with(&sim, 1, short_timeouts())
            .await
            .unwrap_err();
        assert_eq!(
            (error.code, error.stage),
            (ErrorCode::HandshakeTimeout, Some(Stage::StartApi)),
            "{max_version}: {}",
            error.message
        );
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn a_client_id_in_use_is_its_own_error() {
    for (max_version, _) in ENCODINGS {
        let sim = simulator(max_version).await;
        let mut first = Worker::spawn().await;
        first.connect(&sim, 5).await.expect("first connect");
        let mut second = Worker::spawn().await;
        let error = second.connect(&sim, 5).await.unwrap_err();
        assert_eq!(
            (error.code, error.stage),
            (ErrorCode::ClientIdInUse, Some(Stage::StartApi)),
            "{max_version}: {}",
            error.message
        );
        assert!(
            first
                .request(ToWorker::Ping { timeout_ms: 2000 }, 5.0)
                .await
                .is_ok(),
            "the first session is unaffected"
        );
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn a_muted_gateway_makes_the_ping_time_out_and_no_later_ping_is_credited_with_a_lost_reply() {
    for (max_version, _) in ENCODINGS {
        let sim = simulator(max_version).await;
        let mut worker = Worker::spawn().await;
        worker.connect(&sim, 1).await.expect("connect");
        sim.apply(cmd("mute on"));
        let started = Instant::now();
        let error = worker
            .request(ToWorker::Ping { timeout_ms: 300 }, 5.0)
            .await
            .unwrap_err();
        assert_eq!(
            error.code,
            ErrorCode::RequestTimeout,
            "{max_version}: {}",
            error.message
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the ping's own timeout ends the wait: {:?}",
            started.elapsed()
        );
        sim.apply(cmd("mute off"));
        // The muted gateway dropped that reply. Were a new ping sent, its reply could not be
        // told from the lost one's: the worker refuses until the connection is replaced.
        let refused = worker
            .request(ToWorker::Ping { timeout_ms: 2000 }, 5.0)
            .await
            .unwrap_err();
        assert_eq!(refused.code, ErrorCode::AwaitingReply, "{max_version}");
        assert!(
            refused.message.contains("not yet answered"),
            "{max_version}: {}",
            refused.message
        );
        worker
            .request(ToWorker::Disconnect {}, 5.0)
            .await
            .expect("disconnect");
        worker.connect(&sim, 1).await.expect("reconnect");
        assert!(
            worker
                .request(ToWorker::Ping { timeout_ms: 2000 }, 5.0)
                .await
                .is_ok(),
            "{max_version}: a new connection pings again"
        );
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn a_reply_after_the_ping_timeout_is_that_pings_late_reply_with_its_true_round_trip() {
    for (max_version, _) in ENCODINGS {
        let sim = simulator(max_version).await;
        let mut worker = Worker::spawn().await;
        worker.connect(&sim, 1).await.expect("connect");
        sim.apply(cmd("latency 600"));
        let slow = worker.send(ToWorker::Ping { timeout_ms: 300 }).await;
        let error = worker.outcome(slow, 5.0).await.unwrap_err();
        assert_eq!(error.code, ErrorCode::RequestTimeout, "{max_version}");
        // Sent while the slow one is overdue: refused at once, not credited with its reply.
        let early = worker
            .request(ToWorker::Ping { timeout_ms: 2000 }, 5.0)
            .await
            .unwrap_err();
        assert!(
            early.message.contains("not yet answered"),
            "{}",
            early.message
        );
        let late = worker
            .event(3.0, |e| matches!(e, Event::LatePong { .. }))
            .await;
        let Event::LatePong { id, rtt_us, .. } = late else {
            unreachable!()
        };
        assert_eq!(id, slow, "{max_version}: the late reply names its own ping");
        assert!(
            (600_000..900_000).contains(&rtt_us),
            "{max_version}: the true round trip of a 600 ms gateway, got {rtt_us} µs"
        );
        // Below the timeout the round trip is measured as it is.
        let Ok(Reply::Pong { rtt_us, .. }) = worker
            .request(ToWorker::Ping { timeout_ms: 2000 }, 5.0)
            .await
        else {
            panic!("{max_version}: a ping within its timeout is answered")
        };
        assert!(
            (600_000..900_000).contains(&rtt_us),
            "{max_version}: {rtt_us} µs"
        );
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn a_connect_opens_exactly_one_tcp_connection() {
    for (max_version, _) in ENCODINGS {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sim = gatewatch_sim::Simulator::start(
            listener,
            gatewatch_sim::SimConfig {
                max_version,
                tick: Duration::ZERO,
                capture: gatewatch_sim::CaptureTo::Memory,
                ..gatewatch_sim::SimConfig::default()
            },
        )
        .unwrap();
        let mut worker = Worker::spawn().await;
        for _ in 0..3 {
            worker.connect(&sim, 1).await.expect("connect");
            worker
                .request(ToWorker::Disconnect {}, 5.0)
                .await
                .expect("disconnect");
        }
        let connections: std::collections::BTreeSet<u64> =
            sim.captured().iter().map(|f| f.connection).collect();
        assert_eq!(
            connections.len(),
            3,
            "{max_version}: one connection per connect, got {connections:?}"
        );
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn connection_stages_are_reported_in_order_and_never_after_connected() {
    let sim = simulator(213).await;
    let mut worker = Worker::spawn().await;
    for round in 0..30 {
        worker.events.clear();
        worker.connect(&sim, 1).await.expect("connect");
        worker
            .request(ToWorker::Disconnect {}, 5.0)
            .await
            .expect("disconnect");
        let states: Vec<&Event> = worker
            .events
            .iter()
            .filter(|e| matches!(e, Event::Status { .. }))
            .collect();
        let connected_at = states
            .iter()
            .position(|e| {
                matches!(
                    e,
                    Event::Status {
                        state: LinkState::Connected,
                        ..
                    }
                )
            })
            .unwrap_or_else(|| panic!("round {round}: no connected status in {states:?}"));
        assert!(
            states[connected_at..].iter().all(|e| !matches!(
                e,
                Event::Status {
                    state: LinkState::Connecting,
                    ..
                }
            )),
            "round {round}: a connecting status after connected: {states:?}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_probe_checks_the_version_exchange_without_starting_a_session() {
    let sim = simulator(213).await;
    let mut worker = Worker::spawn().await;
    let probe = |port| ToWorker::Probe {
        host: "127.0.0.1".into(),
        port,
        tcp_connect_ms: 1000,
        version_exchange_ms: 400,
    };
    let port = sim.addr().port();
    assert_eq!(
        worker.request(probe(port), 5.0).await,
        Ok(Reply::Probed {
            server_version: 213
        })
    );
    assert!(
        sim.requests_seen().is_empty(),
        "no startApi, no client id claimed"
    );
    sim.apply(cmd("zombie on"));
    let silent = worker.request(probe(port), 5.0).await.unwrap_err();
    assert_eq!(
        (silent.code, silent.stage),
        (ErrorCode::HandshakeTimeout, Some(Stage::VersionExchange))
    );
    sim.apply(cmd("zombie off"));
    sim.apply(cmd("refuse closed"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let refused = worker.request(probe(port), 5.0).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::GatewayUnreachable);
    sim.shutdown().await;
}

#[tokio::test]
async fn connections_given_up_on_a_wedged_gateway_leave_no_close_wait_behind() {
    // A wedged gateway never closes sockets its clients closed (close-wait) and answers no
    // version exchange (zombie): every connection we give up on must be reset, not closed
    // with a FIN it would hold forever.
    let sim = simulator(213).await;
    sim.apply(cmd("close-wait on"));
    sim.apply(cmd("zombie on"));
    let mut worker = Worker::spawn().await;
    let timeouts = Timeouts {
        version_exchange_ms: 200,
        ..Timeouts::default()
    };
    for _ in 0..3 {
        let error = worker.connect_with(&sim, 1, timeouts).await.unwrap_err();
        assert_eq!(error.stage, Some(Stage::VersionExchange));
        let probe = ToWorker::Probe {
            host: "127.0.0.1".into(),
            port: sim.addr().port(),
            tcp_connect_ms: 1000,
            version_exchange_ms: 200,
        };
        assert!(worker.request(probe, 5.0).await.is_err());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        harness::close_wait_on(sim.addr().port()),
        0,
        "the gateway holds none of our sockets in CLOSE_WAIT"
    );
    assert_eq!(sim.status().parked, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_requested_disconnect_leaves_no_close_wait_on_a_gateway_that_never_closes() {
    let sim = simulator(213).await;
    sim.apply(cmd("close-wait on"));
    let mut worker = Worker::spawn().await;
    // The wedged gateway keeps each closed session's client id: a new id each time.
    for client_id in 1..=3 {
        worker.connect(&sim, client_id).await.expect("connect");
        worker
            .request(ToWorker::Disconnect {}, 5.0)
            .await
            .expect("disconnect");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(sim.status().parked, 3, "the gateway never closed them");
    assert_eq!(
        harness::close_wait_on(sim.addr().port()),
        0,
        "yet none is left in CLOSE_WAIT: each was reset after the grace"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_port_that_answers_http_is_named_as_such() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            use tokio::io::AsyncWriteExt;
            let _ = socket
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
    });
    let mut worker = Worker::spawn().await;
    let command = connect_command(port, 1, Timeouts::default());
    let error = worker.request(command, 5.0).await.unwrap_err();
    assert_eq!(error.stage, Some(Stage::VersionExchange));
    assert!(
        error.message.contains("answers HTTP, not the TWS API"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn a_gateway_with_no_free_client_slot_is_explained() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = gatewatch_sim::Simulator::start(
        listener,
        gatewatch_sim::SimConfig {
            max_clients: 1,
            ..gatewatch_sim::SimConfig::default()
        },
    )
    .unwrap();
    let mut first = Worker::spawn().await;
    first.connect(&sim, 1).await.expect("the one slot");
    let mut second = Worker::spawn().await;
    let error = second.connect(&sim, 2).await.unwrap_err();
    assert!(error.message.contains("client slots"), "{}", error.message);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_dropped_connection_is_reported_with_its_cause_at_once() {
    for (max_version, _) in ENCODINGS {
        let sim = simulator(max_version).await;
        let mut worker = Worker::spawn().await;
        worker.connect(&sim, 1).await.expect("connect");
        worker.events.clear();
        let dropped = Instant::now();
        sim.apply(cmd("drop"));
        let event = worker
            .event(2.0, |e| matches!(e, Event::Disconnected { .. }))
            .await;
        let latency = dropped.elapsed();
        assert!(
            matches!(
                event,
                Event::Disconnected {
                    cause: DisconnectCause::GatewayClosed | DisconnectCause::ConnectionReset,
                    ..
                }
            ),
            "{event:?}"
        );
        eprintln!("{max_version}: drop reported after {latency:?}");
        assert!(
            latency < Duration::from_millis(100),
            "{max_version}: drop reported after {latency:?}"
        );
        worker
            .event(1.0, |e| {
                matches!(
                    e,
                    Event::Status {
                        state: LinkState::Disconnected,
                        ..
                    }
                )
            })
            .await;
        assert_eq!(
            worker
                .request(ToWorker::Ping { timeout_ms: 300 }, 5.0)
                .await
                .unwrap_err()
                .code,
            ErrorCode::NotConnected
        );
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn a_port_reset_is_reported_as_such() {
    for (max_version, _) in ENCODINGS {
        let sim = simulator(max_version).await;
        let mut worker = Worker::spawn().await;
        worker.connect(&sim, 1).await.expect("connect");
        sim.apply(cmd("port-reset"));
        worker
            .event(
                2.0,
                |e| matches!(e, Event::Notice(n) if n.category == NoticeCategory::PortReset),
            )
            .await;
        let event = worker
            .event(2.0, |e| matches!(e, Event::Disconnected { .. }))
            .await;
        assert!(
            matches!(
                event,
                Event::Disconnected {
                    cause: DisconnectCause::PortReset,
                    ..
                }
            ),
            "{max_version}: {event:?}"
        );
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn ib_notices_arrive_as_classified_events() {
    for (max_version, _) in ENCODINGS {
        let sim = simulator(max_version).await;
        let mut worker = Worker::spawn().await;
        worker.connect(&sim, 1).await.expect("connect");
        for (command, category, farm) in [
            ("notice 1100", NoticeCategory::ConnectivityLost, None),
            ("notice 1102", NoticeCategory::ConnectivityRestored, None),
            ("notice 2103", NoticeCategory::FarmBroken, Some("usfarm")),
            (
                "notice 2104 usfarm.nj",
                NoticeCategory::FarmOk,
                Some("usfarm.nj"),
            ),
            ("notice 2157", NoticeCategory::FarmBroken, Some("secdefnj")),
        ] {
            sim.apply(cmd(command));
            // The start-up farm notices (2104 usfarm, …) may still be arriving: match the farm too.
            worker.event(2.0, |e| matches!(e, Event::Notice(n) if n.category == category && n.farm.as_deref() == farm)).await;
        }
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn closing_stdin_makes_the_worker_exit_and_close_its_socket() {
    for (max_version, _) in ENCODINGS {
        let sim = simulator(max_version).await;
        let mut worker = Worker::spawn().await;
        worker.connect(&sim, 1).await.expect("connect");
        assert_eq!(sim.status().clients, 1);
        worker.close_stdin();
        assert!(
            worker.wait_exit(5.0).await.success(),
            "stdin closed is a clean exit"
        );
        harness_eventually(3.0, || sim.status().connections == 0).await;
        assert_eq!(
            harness::close_wait_towards(sim.addr().port()),
            0,
            "no CLOSE_WAIT on our side"
        );
        sim.shutdown().await;
    }
}

async fn harness_eventually(secs: f64, condition: impl Fn() -> bool) {
    within(secs, "condition", async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

#[tokio::test]
async fn garbage_and_oversized_lines_are_refused_and_survived() {
    let mut worker = Worker::spawn().await;
    worker.send_line("this is not json").await;
    let FromWorker::Error { id: None, error } = worker.next_message(5.0).await else {
        panic!("expected an error")
    };
    assert_eq!(error.code, ErrorCode::BadRequest);

    worker.send_line(r#"{"id":41,"type":"place_order"}"#).await;
    let FromWorker::Error {
        id: Some(41),
        error,
    } = worker.next_message(5.0).await
    else {
        panic!("expected an error for 41")
    };
    assert_eq!(error.code, ErrorCode::BadRequest, "{}", error.message);

    let huge = format!(
        r#"{{"id":42,"type":"heartbeat","pad":"{}"}}"#,
        "x".repeat(MAX_LINE_BYTES + 10)
    );
    worker.send_line(&huge).await;
    let FromWorker::Error { error, .. } = worker.next_message(5.0).await else {
        panic!("expected an error")
    };
    assert_eq!(error.code, ErrorCode::LineTooLong);

    assert_eq!(
        worker.request(ToWorker::Heartbeat {}, 5.0).await,
        Ok(Reply::HeartbeatAck),
        "the worker keeps serving"
    );
}

#[tokio::test]
async fn the_worker_never_sends_an_order_message() {
    const ORDER_MESSAGES: [u32; 3] = [3, 4, 58]; // placeOrder, cancelOrder, reqGlobalCancel
    for (max_version, _) in ENCODINGS {
        let sim = simulator(max_version).await;
        let mut worker = Worker::spawn().await;
        worker.connect(&sim, 1).await.expect("connect");
        for command in [
            ToWorker::Ping { timeout_ms: 2000 },
            ToWorker::GetAccounts {},
            ToWorker::GetPositions {},
            ToWorker::GetAccountSummary { tags: vec![] },
            ToWorker::Disconnect {},
        ] {
            worker
                .request(command, 10.0)
                .await
                .expect("request succeeds");
        }
        let seen = sim.requests_seen();
        assert!(
            seen.values().sum::<u64>() >= 8,
            "the session made requests: {seen:?}"
        );
        for id in ORDER_MESSAGES {
            assert!(
                !seen.contains_key(&id),
                "{max_version}: order message {id} was sent: {seen:?}"
            );
        }
        sim.shutdown().await;
    }
}

#[test]
fn the_worker_depends_on_no_tws_client_but_its_own() {
    // The compiler keeps the gateway client read-only (it can only encode a ReadRequest);
    // this keeps another client, and the order API it would bring, out of the worker.
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    let dependencies = manifest
        .split("[dev-dependencies]")
        .next()
        .expect("the manifest");
    assert!(
        !dependencies.contains("ibapi"),
        "the worker depends on ibapi"
    );
    let mut files = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for forbidden in [
            "place_order",
            "submit_order",
            "cancel_order",
            "global_cancel",
            "Request::Order",
            "exercise_options",
        ] {
            assert!(
                !text.contains(forbidden),
                "{} mentions {forbidden}",
                path.display()
            );
        }
    }
}

#[tokio::test]
async fn the_worker_dies_with_the_process_that_spawned_it() {
    // sh is the worker's parent; `sleep | worker` keeps the worker's stdin open, so only the
    // parent-death signal can end it when sh is killed.
    let worker = env!("CARGO_BIN_EXE_gatewatch-worker");
    let mut parent = tokio::process::Command::new("sh")
        .args([
            "-c",
            r#"sleep 60 | "$0" >/dev/null 2>&1 & echo $!; wait"#,
            worker,
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut out = tokio::io::BufReader::new(parent.stdout.take().unwrap());
    let mut line = String::new();
    within(
        5.0,
        "worker pid",
        tokio::io::AsyncBufReadExt::read_line(&mut out, &mut line),
    )
    .await
    .unwrap();
    let pid: u32 = line.trim().parse().expect("sh printed the worker's pid");
    let alive = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            stat.split_whitespace()
                .nth(2)
                .is_some_and(|state| state != "Z")
        })
    };
    harness_eventually(5.0, || {
        alive(pid)
            && std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.starts_with("gatewatch-work"))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await; // let it reach prctl
    parent.start_kill().unwrap();
    parent.wait().await.unwrap();
    harness_eventually(5.0, || !alive(pid)).await;
}

#[tokio::test]
async fn a_killed_worker_leaves_a_wedged_gateway_nothing_to_hold() {
    // The kernel closes a dead process's sockets; with the worker's zero linger that close is
    // a reset, so neither a session nor a connect in flight becomes a CLOSE_WAIT.
    let sim = simulator(213).await;
    sim.apply(cmd("close-wait on"));
    let mut connected = Worker::spawn().await;
    connected.connect(&sim, 1).await.expect("connect");
    let mut connecting = Worker::spawn().await;
    sim.apply(cmd("zombie on"));
    connecting
        .send(connect_command(sim.addr().port(), 2, Timeouts::default()))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for worker in [&mut connected, &mut connecting] {
        worker.child.start_kill().unwrap();
        worker.wait_exit(5.0).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(harness::close_wait_on(sim.addr().port()), 0);
    assert_eq!(sim.status().parked, 0, "no FIN reached the gateway");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_version_outside_the_offered_range_is_refused_at_the_version_exchange() {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let reply = gatewatch_wire::frame::encode_frame(b"99999\x0020261129 10:00:00 UTC\x00");
            let _ = socket.write_all(&reply).await;
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
    });
    let mut worker = Worker::spawn().await;
    let command = connect_command(port, 1, Timeouts::default());
    let error = worker.request(command, 5.0).await.unwrap_err();
    assert_eq!(
        (error.code, error.stage),
        (
            ErrorCode::UnsupportedServerVersion,
            Some(Stage::VersionExchange)
        ),
        "{}",
        error.message
    );
    assert!(error.message.contains("99999"), "{}", error.message);
}

#[tokio::test]
async fn a_connect_with_a_negative_client_id_or_a_zero_timeout_is_a_bad_request() {
    let mut worker = Worker::spawn().await;
    let connect = |client_id, timeouts| connect_command(4002, client_id, timeouts);
    let negative = worker
        .request(connect(-5, Timeouts::default()), 5.0)
        .await
        .unwrap_err();
    assert_eq!(negative.code, ErrorCode::BadRequest);
    assert!(
        negative.message.contains("client_id"),
        "{}",
        negative.message
    );
    let zero = Timeouts {
        start_api_ms: 0,
        ..Timeouts::default()
    };
    let error = worker.request(connect(1, zero), 5.0).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::BadRequest);
    assert!(
        error.message.contains("timeouts.start_api_ms"),
        "{}",
        error.message
    );
}
