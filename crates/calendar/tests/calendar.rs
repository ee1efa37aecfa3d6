//! The calendar against instants written in UTC: DST in New York and Zürich, Hong Kong
//! without DST, the weekend maintenance, windows across midnight, a restart time in another
//! zone than the machine's, the weekly 2FA restart; and a property test over arbitrary
//! instants against a civil-time oracle.

use gatewatch_calendar::{
    CalendarData, CalendarSettings, DailyAction, DailyRestart, Day, GatewaySchedule,
    OccurrenceKind, Region, Schedule, ServerWindow, ServerWindowKind,
};
use jiff::Timestamp;
use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;
use rand::{RngExt, SeedableRng};

fn at(utc: &str) -> u64 {
    utc.parse::<Timestamp>().unwrap().as_millisecond() as u64
}

fn no_margin() -> CalendarSettings {
    CalendarSettings {
        margin_secs: 0,
        grace_secs: 0,
        ..CalendarSettings::default()
    }
}

fn schedule(region: Option<Region>, daily: DailyRestart, settings: &CalendarSettings) -> Schedule {
    Schedule::compile(
        &GatewaySchedule {
            region,
            daily,
            ..GatewaySchedule::default()
        },
        settings,
        &CalendarData::shipped(),
    )
    .unwrap()
}

fn servers_only(region: Region) -> Schedule {
    schedule(
        Some(region),
        DailyRestart {
            action: DailyAction::None,
            ..DailyRestart::default()
        },
        &no_margin(),
    )
}

fn label_at(schedule: &Schedule, utc: &str) -> Option<String> {
    schedule.outage_at(at(utc)).map(|o| o.label)
}

#[test]
fn the_shipped_data_compiles_for_every_region() {
    for region in Region::ALL {
        let schedule = schedule(
            Some(region),
            DailyRestart::default(),
            &CalendarSettings::default(),
        );
        assert!(!schedule.upcoming(at("2026-06-01T12:00:00Z")).is_empty());
    }
}

#[test]
fn north_america_reset_follows_new_york_across_dst() {
    let na = servers_only(Region::NorthAmerica);
    // Mon 2 March 2026, EST (UTC-5): 00:15–01:45 ET is 05:15–06:45 UTC.
    assert_eq!(
        label_at(&na, "2026-03-02T05:20:00Z").as_deref(),
        Some("North America server reset")
    );
    assert_eq!(label_at(&na, "2026-03-02T04:20:00Z"), None);
    // Mon 9 March 2026, EDT (UTC-4) since the 8th: 04:15–05:45 UTC.
    assert_eq!(
        label_at(&na, "2026-03-09T04:20:00Z").as_deref(),
        Some("North America server reset")
    );
    assert_eq!(label_at(&na, "2026-03-09T06:00:00Z"), None);
    // Autumn back: Mon 2 Nov 2026 is EST again.
    assert!(label_at(&na, "2026-11-02T05:16:00Z").is_some());
    assert!(label_at(&na, "2026-11-02T04:16:00Z").is_none());
}

#[test]
fn europe_reset_follows_zurich_across_dst() {
    let eu = servers_only(Region::Europe);
    // Fri 27 March 2026, CET (UTC+1): 06:25–07:45 is 05:25–06:45 UTC.
    assert!(label_at(&eu, "2026-03-27T05:30:00Z").is_some());
    assert!(label_at(&eu, "2026-03-27T04:30:00Z").is_none());
    // Mon 30 March 2026, CEST (UTC+2) since the 29th: 04:25–05:45 UTC.
    assert!(label_at(&eu, "2026-03-30T04:30:00Z").is_some());
    assert!(label_at(&eu, "2026-03-30T06:00:00Z").is_none());
}

#[test]
fn hong_kong_has_no_dst_and_two_windows() {
    let ap = servers_only(Region::AsiaPacific);
    for date in ["2026-01-13", "2026-07-14"] {
        // 04:45–06:05 HKT is 20:45–22:05 UTC the day before; 20:15–21:15 HKT is 12:15–13:15 UTC.
        assert_eq!(
            label_at(&ap, &format!("{date}T12:30:00Z")).as_deref(),
            Some("Asia-Pacific evening server reset")
        );
        assert!(label_at(&ap, &format!("{date}T13:30:00Z")).is_none());
    }
    assert_eq!(
        label_at(&ap, "2026-07-13T21:00:00Z").as_deref(),
        Some("Asia-Pacific server reset"),
        "Tue 05:00 HKT"
    );
}

#[test]
fn weekend_maintenance_spans_midnight_into_saturday() {
    let na = servers_only(Region::NorthAmerica);
    // Fri 6 Nov 2026 23:00 ET (EST) = Sat 04:00 UTC; Sat 03:00 ET = 08:00 UTC.
    assert_eq!(label_at(&na, "2026-11-07T03:59:00Z"), None);
    assert_eq!(
        label_at(&na, "2026-11-07T04:01:00Z").as_deref(),
        Some("weekend maintenance")
    );
    assert_eq!(
        label_at(&na, "2026-11-07T07:59:00Z").as_deref(),
        Some("weekend maintenance")
    );
    assert_eq!(label_at(&na, "2026-11-07T08:01:00Z"), None);
    // Europe has it too, in New York's time.
    assert_eq!(
        label_at(&servers_only(Region::Europe), "2026-11-07T05:00:00Z").as_deref(),
        Some("weekend maintenance")
    );
}

#[test]
fn a_user_window_across_midnight_replaces_the_regions_shipped_one() {
    let settings = CalendarSettings {
        server_windows: vec![ServerWindow {
            regions: vec![Region::NorthAmerica],
            kind: ServerWindowKind::ServerReset,
            label: "my reset".into(),
            time_zone: "America/Chicago".into(),
            zone_label: None,
            days: vec![Day::Tue],
            start: "23:30".into(),
            end: "00:30".into(),
        }],
        ..no_margin()
    };
    let mine = schedule(
        Some(Region::NorthAmerica),
        DailyRestart {
            action: DailyAction::None,
            ..DailyRestart::default()
        },
        &settings,
    );
    // Tue 10 Nov 2026 23:30 CST = Wed 05:30 UTC, to 06:30 UTC.
    assert_eq!(
        label_at(&mine, "2026-11-11T06:00:00Z").as_deref(),
        Some("my reset")
    );
    assert_eq!(
        label_at(&mine, "2026-11-11T06:31:00Z"),
        None,
        "00:15 ET shipped window replaced"
    );
    assert_eq!(
        label_at(&mine, "2026-11-12T06:00:00Z"),
        None,
        "Wednesday is not a day of it"
    );
    let upcoming = mine.upcoming(at("2026-11-11T06:00:00Z"));
    let reset = upcoming.iter().find(|o| o.label == "my reset").unwrap();
    assert_eq!(reset.local, "23:30–00:30 CST");
}

#[test]
fn a_restart_time_in_another_zone_than_the_machines() {
    // The machine here runs in UTC; the gateway restarts at 23:45 Zürich time.
    let settings = CalendarSettings {
        margin_secs: 60,
        restart_takes_secs: 180,
        grace_secs: 120,
        ..CalendarSettings::default()
    };
    let zurich = schedule(
        None,
        DailyRestart {
            action: DailyAction::Restart,
            time: "23:45".into(),
            time_zone: Some("Europe/Zurich".into()),
        },
        &settings,
    );
    // Winter: 23:45 CET = 22:45 UTC; summer: 23:45 CEST = 21:45 UTC.
    let winter = zurich.outage_at(at("2026-01-14T22:46:00Z")).unwrap();
    assert_eq!(winter.kind, OccurrenceKind::DailyRestart);
    assert_eq!(winter.starts_ms, at("2026-01-14T22:45:00Z"));
    assert_eq!(winter.ends_ms, Some(at("2026-01-14T22:48:00Z")));
    assert_eq!(winter.expected_from_ms, at("2026-01-14T22:44:00Z"));
    assert_eq!(winter.expected_until_ms, at("2026-01-14T22:49:00Z"));
    assert_eq!(winter.overdue_at_ms, Some(at("2026-01-14T22:51:00Z")));
    assert!(zurich.outage_at(at("2026-07-14T21:46:00Z")).is_some());
    assert!(zurich.outage_at(at("2026-07-14T22:46:00Z")).is_none());
    assert!(
        zurich.outage_at(at("2026-01-14T22:43:59Z")).is_none(),
        "before the margin"
    );
}

#[test]
fn a_restart_time_in_the_spring_gap_happens_an_hour_later() {
    let ny = schedule(
        None,
        DailyRestart {
            action: DailyAction::Restart,
            time: "02:30".into(),
            time_zone: Some("America/New_York".into()),
        },
        &no_margin(),
    );
    // 8 March 2026 02:30 ET does not exist; the clocks read 03:30 EDT = 07:30 UTC.
    let gap = ny.outage_at(at("2026-03-08T07:31:00Z")).unwrap();
    assert_eq!(gap.starts_ms, at("2026-03-08T07:30:00Z"));
}

#[test]
fn the_first_restart_after_the_sunday_expiry_needs_2fa() {
    let ny = |time: &str| {
        schedule(
            None,
            DailyRestart {
                action: DailyAction::Restart,
                time: time.into(),
                time_zone: Some("America/New_York".into()),
            },
            &no_margin(),
        )
    };
    let late = ny("23:45");
    // Sat 14 Nov 23:45 EST (04:45Z Sunday): before the Sun 01:00 ET expiry.
    assert!(
        !late
            .outage_at(at("2026-11-15T04:46:00Z"))
            .unwrap()
            .needs_2fa
    );
    // Sun 15 Nov 23:45 EST (04:45Z Monday): the first after it.
    let sunday = late.outage_at(at("2026-11-16T04:46:00Z")).unwrap();
    assert!(sunday.needs_2fa);
    assert_eq!(sunday.label, "weekly re-login restart");
    assert!(
        !late
            .outage_at(at("2026-11-17T04:46:00Z"))
            .unwrap()
            .needs_2fa
    );
    // A 00:30 restart: Sunday's comes before the expiry, Monday's is the first after it.
    let early = ny("00:30");
    assert!(
        !early
            .outage_at(at("2026-11-15T05:31:00Z"))
            .unwrap()
            .needs_2fa
    );
    assert!(
        early
            .outage_at(at("2026-11-16T05:31:00Z"))
            .unwrap()
            .needs_2fa
    );
    // What's next, seen on Saturday noon: the expiry, then the 2FA restart.
    let next = late.upcoming(at("2026-11-14T17:00:00Z"));
    let expiry = next
        .iter()
        .find(|o| o.kind == OccurrenceKind::WeeklyExpiry)
        .unwrap();
    assert_eq!(expiry.starts_ms, at("2026-11-15T06:00:00Z"));
    assert_eq!(expiry.local, "Sun 01:00 ET");
    assert_eq!(
        late.next_expiry_ms(at("2026-11-14T17:00:00Z")),
        Some(expiry.starts_ms)
    );
    let relogin = next.iter().find(|o| o.needs_2fa).unwrap();
    assert_eq!(relogin.local, "Sun 23:45 EST");
    let nightly = next.iter().find(|o| o.label == "nightly restart").unwrap();
    assert_eq!(nightly.starts_ms, at("2026-11-15T04:45:00Z"));
    assert!(
        next.windows(2).all(|w| w[0].starts_ms <= w[1].starts_ms),
        "soonest first"
    );
}

#[test]
fn auto_log_off_is_expected_from_its_time_and_never_overdue() {
    let off = schedule(
        None,
        DailyRestart {
            action: DailyAction::LogOff,
            time: "23:00".into(),
            time_zone: Some("UTC".into()),
        },
        &CalendarSettings::default(),
    );
    let o = off.outage_at(at("2026-05-05T23:01:00Z")).unwrap();
    assert_eq!(
        (o.kind, o.ends_ms, o.overdue_at_ms),
        (OccurrenceKind::AutoLogOff, None, None)
    );
    assert!(
        off.upcoming(at("2026-05-05T12:00:00Z"))
            .iter()
            .all(|o| o.kind != OccurrenceKind::WeeklyExpiry),
        "a gateway logged off daily is logged in by hand: no weekly re-login to announce"
    );
}

#[test]
fn bad_fields_are_named() {
    let bad = |daily: DailyRestart| {
        Schedule::compile(
            &GatewaySchedule {
                daily,
                ..GatewaySchedule::default()
            },
            &CalendarSettings::default(),
            &CalendarData::shipped(),
        )
        .unwrap_err()
    };
    let e = bad(DailyRestart {
        time: "25:00".into(),
        ..DailyRestart::default()
    });
    assert_eq!(e.field, "daily.time");
    let e = bad(DailyRestart {
        time_zone: Some("Mars/Olympus".into()),
        ..DailyRestart::default()
    });
    assert_eq!(e.field, "daily.time_zone");
    assert!(e.problem.contains("Mars/Olympus"), "{e}");
}

/// The oracle: whether the civil time of `utc` in the window's zone falls in it, read
/// straight off the wall clock (the start's day listed, or the day before for the part after
/// midnight).
fn civil_inside(window: &ServerWindow, utc: Timestamp) -> Option<bool> {
    let tz = TimeZone::get(&window.time_zone).unwrap();
    let local = utc.to_zoned_datetime(tz.clone());
    // A wall time shown twice (the autumn fold) has no single answer on the wall clock.
    if tz.to_ambiguous_timestamp(local.datetime()).is_ambiguous() {
        return None;
    }
    let start = gatewatch_calendar::parse_clock(&window.start).unwrap();
    let end = gatewatch_calendar::parse_clock(&window.end).unwrap();
    let day = |w: Weekday| {
        window
            .days
            .iter()
            .any(|d| format!("{d:?}").to_lowercase()[..2] == format!("{w:?}").to_lowercase()[..2])
    };
    let time: Time = local.time();
    let today = day(local.weekday());
    let yesterday = day(local.weekday().previous());
    Some(if end > start {
        today && start <= time && time < end
    } else {
        (today && time >= start) || (yesterday && time < end)
    })
}

#[test]
fn every_instant_is_in_exactly_the_windows_the_wall_clock_says() {
    let data = CalendarData::shipped();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2026);
    let (from, to) = (at("2025-01-01T00:00:00Z"), at("2028-01-01T00:00:00Z"));
    let (mut checked, mut inside, mut ambiguous) = (0, 0, 0);
    for region in Region::ALL {
        let schedule = servers_only(region);
        let mine: Vec<&ServerWindow> = data
            .windows
            .iter()
            .filter(|w| w.regions.contains(&region))
            .collect();
        for _ in 0..20_000 {
            let instant = rng.random_range(from..to);
            let utc = Timestamp::from_millisecond(instant as i64).unwrap();
            let oracle: Option<Vec<bool>> = mine.iter().map(|w| civil_inside(w, utc)).collect();
            let Some(oracle) = oracle else {
                ambiguous += 1;
                continue;
            };
            let expected: Vec<&str> = mine
                .iter()
                .zip(&oracle)
                .filter(|(_, inside)| **inside)
                .map(|(w, _)| w.label.as_str())
                .collect();
            assert!(
                expected.len() <= 1 || expected.contains(&"weekend maintenance"),
                "{expected:?}"
            );
            let got = schedule.outage_at(instant);
            match &got {
                Some(o) => assert!(
                    expected.contains(&o.label.as_str()),
                    "{utc}: got {}, wall clock says {expected:?}",
                    o.label
                ),
                None => assert!(
                    expected.is_empty(),
                    "{utc}: nothing, wall clock says {expected:?}"
                ),
            }
            checked += 1;
            inside += usize::from(got.is_some());
        }
    }
    assert!(
        inside > 1_000 && checked > 59_000,
        "{inside} of {checked} inside, {ambiguous} ambiguous"
    );
}

#[test]
fn back_by_is_on_this_computers_clock_with_its_zone_and_seconds_only_when_set() {
    let ny = schedule(
        None,
        DailyRestart {
            action: DailyAction::Restart,
            time: "17:30:18".into(),
            time_zone: Some("Asia/Kolkata".into()),
        },
        &no_margin(),
    );
    let o = ny.outage_at(at("2026-11-18T12:00:30Z")).unwrap();
    assert_eq!(o.local, "Wed 17:30 IST");
    let text = o.back_by();
    // 17:30:18 IST + 3 min = 12:03:18 UTC, shown in this computer's zone.
    let local = Timestamp::from_millisecond(o.ends_ms.unwrap() as i64)
        .unwrap()
        .to_zoned_datetime(TimeZone::system());
    assert_eq!(text, format!("back by {}", local.strftime("%H:%M:%S %Z")));
    let whole = schedule(
        None,
        DailyRestart {
            action: DailyAction::Restart,
            time: "23:45".into(),
            time_zone: Some("UTC".into()),
        },
        &no_margin(),
    );
    let text = whole
        .outage_at(at("2026-11-18T23:46:00Z"))
        .unwrap()
        .back_by();
    assert!(
        text.starts_with("back by ") && text.matches(':').count() == 1,
        "{text}"
    );
}
