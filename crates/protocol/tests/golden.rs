//! Golden files pin the wire format: every message kind, serialized, must match the line in
//! `tests/golden/*.jsonl` byte for byte, and every golden line must parse back to the same
//! value. After an intended change, regenerate with `GATEWATCH_BLESS=1 cargo test -p
//! gatewatch-protocol --test golden` and bump `PROTOCOL_VERSION` if old peers would misread.

use gatewatch_protocol::notice::Notice;
use gatewatch_protocol::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn requests() -> Vec<Request> {
    let commands = vec![
        ToWorker::Connect {
            host: "127.0.0.1".into(),
            port: 4002,
            client_id: 901,
            timeouts: Timeouts::default(),
        },
        ToWorker::Disconnect {},
        ToWorker::GetAccounts {},
        ToWorker::GetPositions {},
        ToWorker::GetAccountSummary {
            tags: vec!["NetLiquidation".into(), "$LEDGER:ALL".into()],
        },
        ToWorker::Ping { timeout_ms: 1000 },
        ToWorker::Probe {
            host: "127.0.0.1".into(),
            port: 4002,
            tcp_connect_ms: 2000,
            version_exchange_ms: 3000,
        },
        ToWorker::Heartbeat {},
        ToWorker::Shutdown {},
    ];
    commands
        .into_iter()
        .zip(1..)
        .map(|(command, id)| Request { id, command })
        .collect()
}

fn from_worker() -> Vec<FromWorker> {
    let reply = |id, result| FromWorker::Reply { id, result };
    vec![
        FromWorker::Hello {
            protocol_version: 2,
            worker_version: "0.1.0".into(),
            pid: 4242,
        },
        reply(
            1,
            Reply::Connected(Session {
                server_version: 213,
                encoding: Encoding::Protobuf,
                accounts: vec!["DU1234567".into()],
                next_order_id: 1,
                client_id: 901,
                stage_us: StageTimes {
                    tcp_connect: 110,
                    version_exchange: 150,
                    start_api: 420,
                    first_ping: 90,
                },
            }),
        ),
        reply(2, Reply::Disconnected),
        reply(
            3,
            Reply::Accounts {
                accounts: vec!["DU1234567".into(), "DU7654321".into()],
            },
        ),
        reply(
            4,
            Reply::Positions {
                positions: vec![Position {
                    account: "DU1234567".into(),
                    instrument: Instrument {
                        con_id: 743252117,
                        symbol: "AAPL".into(),
                        sec_type: "OPT".into(),
                        expiry: "20261218".into(),
                        strike: Some(250.0),
                        right: Some("C".into()),
                        multiplier: Some(100.0),
                        exchange: "SMART".into(),
                        currency: "USD".into(),
                        local_symbol: "AAPL  261218C00250000".into(),
                        trading_class: "AAPL".into(),
                    },
                    quantity: 10.0,
                    average_cost: 485.0,
                    market_price: Some(3.1),
                    market_value: Some(3100.0),
                    unrealized_pnl: Some(-1750.0),
                    realized_pnl: Some(0.0),
                }],
            },
        ),
        reply(
            5,
            Reply::AccountSummary {
                rows: vec![SummaryRow {
                    account: "DU1234567".into(),
                    tag: "NetLiquidation".into(),
                    value: "1001234.50".into(),
                    currency: "USD".into(),
                }],
            },
        ),
        reply(
            6,
            Reply::Pong {
                rtt_us: 812,
                server_time_s: 1_795_000_000,
            },
        ),
        reply(
            7,
            Reply::Probed {
                server_version: 213,
            },
        ),
        reply(8, Reply::HeartbeatAck),
        reply(9, Reply::ShuttingDown),
        FromWorker::Error {
            id: Some(1),
            error: WorkerError::at(
                Stage::VersionExchange,
                ErrorCode::HandshakeTimeout,
                "no version reply within 3000 ms",
            ),
        },
        FromWorker::Error {
            id: None,
            error: WorkerError::new(ErrorCode::BadRequest, "expected value at line 1 column 1"),
        },
        FromWorker::Event {
            event: Event::Status {
                state: LinkState::Connecting,
                stage: Some(Stage::StartApi),
            },
        },
        FromWorker::Event {
            event: Event::Status {
                state: LinkState::Connected,
                stage: None,
            },
        },
        FromWorker::Event {
            event: Event::Notice(Notice::new(
                2103,
                "Market data farm connection is broken:usfarm",
            )),
        },
        FromWorker::Event {
            event: Event::Notice(Notice::new(
                1100,
                "Connectivity between IB and Trader Workstation has been lost.",
            )),
        },
        FromWorker::Event {
            event: Event::LatePong {
                id: 6,
                rtt_us: 1_500_213,
                server_time_s: 1_795_000_001,
            },
        },
        FromWorker::Event {
            event: Event::Disconnected {
                cause: DisconnectCause::GatewayClosed,
                message: "the gateway closed the connection".into(),
            },
        },
    ]
}

fn check<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(file: &str, values: &[T]) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(file);
    let actual: String = values
        .iter()
        .map(|v| lines::encode_line(v).unwrap())
        .collect();
    if std::env::var_os("GATEWATCH_BLESS").is_some() {
        std::fs::write(&path, &actual).unwrap();
    }
    let golden =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        actual, golden,
        "{file} drifted: the wire format changed (see this file's doc comment)"
    );
    for (line, value) in golden.lines().zip(values) {
        let parsed: T =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{file}: {line}: {e}"));
        assert_eq!(&parsed, value);
    }
}

#[test]
fn requests_match_the_golden_file() {
    check("to_worker.jsonl", &requests());
}

#[test]
fn worker_messages_match_the_golden_file() {
    check("from_worker.jsonl", &from_worker());
}

#[test]
fn errors_read_as_sentences_for_people() {
    let error = WorkerError::at(
        Stage::VersionExchange,
        ErrorCode::HandshakeTimeout,
        "no version reply within 3000 ms",
    );
    assert_eq!(
        error.to_string(),
        "version exchange: no version reply within 3000 ms"
    );
    assert_eq!(
        WorkerError::new(ErrorCode::RequestTimeout, "ping: no answer within 800 ms").to_string(),
        "ping: no answer within 800 ms"
    );
    assert_eq!(
        DisconnectCause::PortReset.to_string(),
        "the gateway reset its API port (1300)"
    );
    assert_eq!(ErrorCode::ClientIdInUse.to_string(), "client id in use");
}

#[test]
fn unknown_request_types_and_fields_are_refused() {
    assert!(serde_json::from_str::<Request>(r#"{"id":1,"type":"place_order"}"#).is_err());
    assert!(
        serde_json::from_str::<Request>(r#"{"id":1,"type":"ping"}"#).is_err(),
        "ping needs its timeout"
    );
    assert!(
        serde_json::from_str::<Request>(r#"{"type":"heartbeat"}"#).is_err(),
        "every request has an id"
    );
    for kind in [
        "heartbeat",
        "shutdown",
        "disconnect",
        "get_accounts",
        "get_positions",
    ] {
        let line = format!(r#"{{"id":3,"type":"{kind}","extra":1}}"#);
        assert!(
            serde_json::from_str::<Request>(&line).is_err(),
            "{kind} refuses a field it does not have"
        );
        let plain = format!(r#"{{"id":3,"type":"{kind}"}}"#);
        assert!(serde_json::from_str::<Request>(&plain).is_ok(), "{kind}");
    }
}

#[test]
fn hello_versions_are_checked() {
    let hello = |v| FromWorker::Hello {
        protocol_version: v,
        worker_version: "x".into(),
        pid: 1,
    };
    assert_eq!(check_hello(&hello(PROTOCOL_VERSION)), Ok(()));
    let err = check_hello(&hello(PROTOCOL_VERSION + 1)).unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("protocol version {}", PROTOCOL_VERSION + 1)),
        "{err}"
    );
    assert_eq!(
        check_hello(&FromWorker::Reply {
            id: 1,
            result: Reply::HeartbeatAck
        }),
        Err(HelloError::NotHello)
    );
}
