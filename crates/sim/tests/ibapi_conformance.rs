//! Conformance with the `ibapi` crate (5.x, protobuf at 213): a real client connects to the
//! simulator over loopback and every value it reads is compared with the simulator's book.

mod common;

use std::time::Duration;

use common::{connect, frozen, start, within};
use futures::StreamExt;
use gatewatch_sim::market::SUMMARY_TAGS;
use gatewatch_sim::{Command, SimConfig};
use ibapi::accounts::types::{AccountGroup, AccountId};
use ibapi::accounts::{AccountSummaryResult, AccountUpdate, PositionUpdate};
use ibapi::subscriptions::SubscriptionItem;

#[tokio::test]
async fn connects_at_213_with_both_paper_accounts() {
    let sim = start(frozen()).await;
    let client = connect(&sim, 7).await;
    assert_eq!(
        client.server_version(),
        213,
        "a client reaching 213 gets protobuf"
    );
    assert_eq!(
        client.handshake_managed_accounts(),
        ["DU1234567", "DU7654321"]
    );
    assert_eq!(client.next_order_id(), 1);
    assert!(
        client.connection_time().is_some(),
        "the connection time must parse, zone included"
    );
    let accounts = within(3.0, "managed accounts", client.managed_accounts())
        .await
        .unwrap();
    assert_eq!(accounts, ["DU1234567", "DU7654321"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_live_like_gateway_serves_its_own_account_ids_with_the_same_book() {
    let sim = start(SimConfig {
        account_ids: gatewatch_sim::book::LIVE_ACCOUNT_IDS
            .map(String::from)
            .to_vec(),
        ..frozen()
    })
    .await;
    let client = connect(&sim, 7).await;
    assert_eq!(
        client.handshake_managed_accounts(),
        ["U1234567", "U7654321"]
    );
    let mut subscription = client.positions().await.unwrap();
    let positions: Vec<String> = common::data_until(&mut subscription, "positions", |u| {
        matches!(u, PositionUpdate::PositionEnd)
    })
    .await
    .into_iter()
    .filter_map(|update| match update {
        PositionUpdate::Position(position) => Some(position.account),
        PositionUpdate::PositionEnd => None,
    })
    .collect();
    assert!(positions.len() >= 20, "{positions:?}");
    assert!(
        positions.iter().all(|a| a.starts_with('U')),
        "{positions:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn server_time_is_the_wall_clock() {
    let sim = start(frozen()).await;
    let client = connect(&sim, 1).await;
    let now = time::OffsetDateTime::now_utc();
    let seconds = within(3.0, "server time", client.server_time())
        .await
        .unwrap();
    let millis = within(3.0, "server time millis", client.server_time_millis())
        .await
        .unwrap();
    assert!(
        (seconds - now).abs() < time::Duration::seconds(3),
        "server time {seconds} vs now {now}"
    );
    assert!(
        (millis - now).abs() < time::Duration::seconds(3),
        "server time millis {millis} vs now {now}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn positions_match_the_book_field_by_field() {
    let sim = start(frozen()).await;
    let client = connect(&sim, 2).await;
    let mut subscription = client.positions().await.unwrap();
    let received: Vec<_> = common::data_until(&mut subscription, "positions", |u| {
        matches!(u, PositionUpdate::PositionEnd)
    })
    .await
    .into_iter()
    .map(|update| match update {
        PositionUpdate::Position(position) => position,
        PositionUpdate::PositionEnd => unreachable!("the end marker is not returned"),
    })
    .collect();
    let market = sim.market();
    let expected: Vec<_> = market
        .accounts()
        .iter()
        .flat_map(|a| a.holdings.iter().map(move |h| (a, h)))
        .collect();
    assert_eq!(received.len(), expected.len());
    for (got, (account, held)) in received.iter().zip(expected) {
        let c = &held.contract;
        assert_eq!(got.account, account.id);
        assert_eq!(got.contract.contract_id, c.con_id);
        assert_eq!(got.contract.symbol.to_string(), c.symbol);
        assert_eq!(got.contract.security_type.to_string(), c.sec_type.code());
        assert_eq!(got.contract.last_trade_date_or_contract_month, c.expiry);
        assert_eq!(got.contract.strike, c.strike);
        assert_eq!(
            got.contract
                .right
                .map(|r| r.as_str().to_owned())
                .unwrap_or_default(),
            c.right
        );
        assert_eq!(
            got.contract.multiplier,
            c.multiplier.map(|m| m.to_string()).unwrap_or_default()
        );
        assert_eq!(got.contract.exchange.to_string(), c.exchange);
        assert_eq!(got.contract.currency.to_string(), c.currency);
        assert_eq!(got.contract.local_symbol, c.local_symbol);
        assert_eq!(got.contract.trading_class, c.trading_class);
        assert_eq!(got.position, held.quantity);
        assert_eq!(got.average_cost, held.avg_cost);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn account_summary_answers_every_tag_and_ledger_rows_with_the_full_request_id() {
    let sim = start(frozen()).await;
    let client = connect(&sim, 3).await;
    let mut tags: Vec<&str> = SUMMARY_TAGS.to_vec();
    tags.push("$LEDGER:ALL");
    // rust-ibapi numbers requests from 1 500 000 000: rows only reach the subscription if the
    // simulator echoes that id in full.
    let mut subscription = client
        .account_summary(&AccountGroup("All".into()), &tags)
        .await
        .unwrap();
    let rows: Vec<_> = common::data_until(&mut subscription, "account summary", |r| {
        matches!(r, AccountSummaryResult::End)
    })
    .await
    .into_iter()
    .filter_map(|result| match result {
        AccountSummaryResult::Summary(row) => Some(row),
        AccountSummaryResult::End => None,
    })
    .collect();
    let market = sim.market();
    let expected: Vec<_> = market
        .accounts()
        .iter()
        .flat_map(|a| {
            a.answer_summary(&tags.join(","))
                .into_iter()
                .map(move |v| (a.id.clone(), v))
        })
        .collect();
    assert_eq!(rows.len(), expected.len());
    for (row, (account, value)) in rows.iter().zip(&expected) {
        assert_eq!(
            (&row.account, &row.tag, &row.value, &row.currency),
            (account, &value.tag, &value.value, &value.currency)
        );
    }
    assert!(
        rows.iter()
            .any(|r| r.tag == "NetLiquidation" && r.currency == "USD")
    );
    assert!(
        rows.iter()
            .any(|r| r.tag == "CashBalance" && r.currency == "EUR"),
        "$LEDGER:ALL includes the EUR ledger"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn account_updates_stream_values_portfolio_and_time() {
    let sim = start(frozen()).await;
    let client = connect(&sim, 4).await;
    let account = sim.market().account("DU7654321").unwrap().clone();
    let mut subscription = client
        .account_updates(&AccountId(account.id.clone()))
        .await
        .unwrap();
    let (mut values, mut portfolio, mut stamps) = (Vec::new(), Vec::new(), 0);
    for update in common::data_until(&mut subscription, "account updates", |u| {
        matches!(u, AccountUpdate::End)
    })
    .await
    {
        match update {
            AccountUpdate::AccountValue(value) => values.push(value),
            AccountUpdate::PortfolioValue(value) => portfolio.push(value),
            AccountUpdate::UpdateTime(_) => stamps += 1,
            AccountUpdate::End => unreachable!("the end marker is not returned"),
        }
    }
    let expected_values = account.account_values();
    assert_eq!(values.len(), expected_values.len());
    for (got, want) in values.iter().zip(&expected_values) {
        assert_eq!(
            (&got.key, &got.value, &got.currency),
            (&want.tag, &want.value, &want.currency)
        );
        assert_eq!(got.account.as_deref(), Some(account.id.as_str()));
    }
    assert_eq!(portfolio.len(), account.holdings.len());
    for (got, held) in portfolio.iter().zip(&account.holdings) {
        assert_eq!(got.contract.contract_id, held.contract.con_id);
        assert_eq!(
            got.contract.primary_exchange.to_string(),
            held.contract.primary_exchange
        );
        assert_eq!(got.position, held.quantity);
        assert_eq!(got.market_price, held.price);
        assert_eq!(got.market_value, held.market_value());
        assert_eq!(got.average_cost, held.avg_cost);
        assert_eq!(got.unrealized_pnl, held.unrealized_pnl());
    }
    assert_eq!(stamps, 1, "one update time before the download end");
    sim.shutdown().await;
}

#[tokio::test]
async fn pnl_reports_the_accounts_figures_and_moves_with_prices() {
    let sim = start(SimConfig {
        tick: Duration::from_millis(20),
        ..SimConfig::default()
    })
    .await;
    let client = connect(&sim, 5).await;
    let mut subscription = client
        .pnl(&AccountId("DU1234567".into()), None)
        .await
        .unwrap();
    let mut seen = Vec::new();
    within(5.0, "PnL updates", async {
        while seen.len() < 5 {
            match subscription
                .next()
                .await
                .expect("stream open")
                .expect("PnL decodes")
            {
                SubscriptionItem::Data(pnl) => seen.push(pnl),
                SubscriptionItem::Notice(notice) => panic!("unexpected notice {notice:?}"),
            }
        }
    })
    .await;
    let realized = sim.market().account("DU1234567").unwrap().realized_pnl;
    assert!(
        seen.iter().all(|p| p.realized_pnl == Some(realized)),
        "realized PnL is the account's: {seen:?}"
    );
    let distinct: std::collections::BTreeSet<String> = seen
        .iter()
        .map(|p| format!("{:?}", p.unrealized_pnl))
        .collect();
    assert!(
        distinct.len() > 1,
        "unrealized PnL must move with the price walk: {seen:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_client_id_already_connected_gets_326_and_the_first_keeps_working() {
    let sim = start(frozen()).await;
    let first = connect(&sim, 9).await;
    let second = within(5.0, "second connect", common::builder(&sim, 9).connect()).await;
    match second {
        Err(ibapi::Error::ClientIdInUse { client_id }) => assert_eq!(client_id, 9),
        other => panic!(
            "expected ClientIdInUse, got {:?}",
            other.map(|_| "a connection")
        ),
    }
    within(3.0, "first client still served", first.server_time())
        .await
        .expect("the first client is unaffected");
    drop(first);
    common::eventually(3.0, "client id released", || sim.status().clients == 0).await;
    connect(&sim, 9).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_dropped_connection_is_observed_by_the_client() {
    let sim = start(frozen()).await;
    let client = connect(&sim, 11).await;
    assert!(client.is_connected());
    sim.apply(Command::Drop);
    common::eventually(2.0, "client sees the drop", || !client.is_connected()).await;
    let after = within(3.0, "request after drop", client.server_time()).await;
    assert!(
        after.is_err(),
        "no answer can come over a dropped connection: {after:?}"
    );
    sim.shutdown().await;
}
