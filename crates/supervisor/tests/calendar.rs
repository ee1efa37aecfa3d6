//! The supervisor with a calendar, against the real worker and a simulator: a gateway that is
//! down inside its restart window is `scheduled_restart`, becomes `overdue` at the end of
//! window and grace, stays overdue through its retries, and is connected as soon as the
//! gateway is back.

mod common;

use std::time::{Duration, Instant};

use common::{fast_config, simulator, until};
use gatewatch_supervisor::calendar::{
    CalendarSettings, DailyAction, DailyRestart, GatewaySchedule,
};
use gatewatch_supervisor::{BrokerClient, CalendarConfig};

#[tokio::test]
async fn a_gateway_down_in_its_window_is_expected_then_overdue_on_time_until_it_is_back() {
    let sim = simulator().await;
    sim.execute("refuse closed").unwrap();
    // A daily restart that began a second ago (UTC), taking 2 s, no margin, 1 s of grace:
    // overdue 2 s from now.
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let began = (now_s + 86_400 - 1) % 86_400;
    let mut config = fast_config(&sim);
    config.calendar = Some(CalendarConfig {
        schedule: GatewaySchedule {
            daily: DailyRestart {
                action: DailyAction::Restart,
                time: format!(
                    "{:02}:{:02}:{:02}",
                    began / 3600,
                    began / 60 % 60,
                    began % 60
                ),
                time_zone: Some("UTC".into()),
            },
            ..GatewaySchedule::none()
        },
        settings: CalendarSettings {
            margin_secs: 0,
            restart_takes_secs: 2,
            grace_secs: 1,
            ..CalendarSettings::default()
        },
    });
    let client = BrokerClient::new(config).unwrap();
    client.start().await.unwrap();
    let started = Instant::now();
    let expected = until(&client, 5.0, "the expected restart", |s| {
        s.state.name() == "scheduled_restart"
    })
    .await;
    assert!(
        expected
            .state
            .outage_phrase()
            .unwrap()
            .contains("restart, back by ")
    );
    until(&client, 5.0, "overdue", |s| s.state.name() == "overdue").await;
    let overdue_after = started.elapsed();
    assert!(
        overdue_after >= Duration::from_millis(1_000) && overdue_after <= Duration::from_secs(4),
        "overdue about 2 s after the start, at the end of window and grace: {overdue_after:?}"
    );

    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        client.snapshot().state.name(),
        "overdue",
        "it stays overdue until connected"
    );

    sim.execute("refuse off").unwrap();
    until(&client, 10.0, "connected again", |s| {
        s.state.name() == "connected"
    })
    .await;
    client.stop().await.unwrap();
    sim.shutdown().await;
}
