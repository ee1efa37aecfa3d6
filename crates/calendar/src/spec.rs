//! The calendar as people write it: the shipped data file's windows, a profile's daily
//! restart and IBC set-up, and the shared margins. Plain serde types (settings embed them);
//! [`crate::Schedule`] compiles them into something that answers questions about instants.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// IB's server regions; each has its own daily reset window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Region {
    /// North America (ET).
    NorthAmerica,
    /// Europe (Zug; CET).
    Europe,
    /// Asia-Pacific (Hong Kong).
    AsiaPacific,
}

impl Region {
    /// Every region.
    pub const ALL: [Region; 3] = [Region::NorthAmerica, Region::Europe, Region::AsiaPacific];
}

/// A day of the week, as the data file spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    pub(crate) fn weekday(self) -> jiff::civil::Weekday {
        use jiff::civil::Weekday::*;
        match self {
            Day::Mon => Monday,
            Day::Tue => Tuesday,
            Day::Wed => Wednesday,
            Day::Thu => Thursday,
            Day::Fri => Friday,
            Day::Sat => Saturday,
            Day::Sun => Sunday,
        }
    }
}

/// What a server window is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ServerWindowKind {
    /// The daily reset: expect 1100 → 1102 and farm flaps.
    ServerReset,
    /// The weekend maintenance, all regions.
    WeekendMaintenance,
}

/// A weekly recurring server window, in its own time zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ServerWindow {
    /// The regions it applies to.
    pub regions: Vec<Region>,
    /// What it is.
    pub kind: ServerWindowKind,
    /// How people call it ("North America server reset").
    pub label: String,
    /// IANA time zone of `start` and `end` ("America/New_York").
    pub time_zone: String,
    /// How the zone is shown ("ET"); default: the zone's own abbreviation (EST, EDT).
    #[serde(default)]
    pub zone_label: Option<String>,
    /// The days on which the window starts.
    pub days: Vec<Day>,
    /// Local start, `HH:MM` or `HH:MM:SS`.
    pub start: String,
    /// Local end; at or before `start`, it is on the next day.
    pub end: String,
}

/// A weekly instant in its own time zone (the Sunday 01:00 ET token expiry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct WeeklyInstant {
    /// IANA time zone.
    pub time_zone: String,
    /// How the zone is shown ("ET").
    #[serde(default)]
    pub zone_label: Option<String>,
    /// The day.
    pub day: Day,
    /// Local time, `HH:MM`.
    pub time: String,
}

/// The calendar data file shipped with the app (`data/ib-windows.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalendarData {
    /// Where the figures come from.
    pub source: String,
    /// Server windows.
    pub windows: Vec<ServerWindow>,
    /// When IB invalidates the gateway's security tokens: the first restart after it needs
    /// a full login with 2FA.
    pub weekly_expiry: WeeklyInstant,
}

/// The data file shipped with the app.
pub const SHIPPED_DATA: &str = include_str!("../data/ib-windows.json");

impl CalendarData {
    /// The shipped data (parsed; a test proves it parses and compiles).
    pub fn shipped() -> CalendarData {
        serde_json::from_str(SHIPPED_DATA).expect("the shipped calendar data parses")
    }
}

/// What the gateway does every day at its set time (TWS/Gateway "Lock and Exit").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum DailyAction {
    /// "Auto restart" (or IBC's `AutoRestartTime`): down for a minute or three, then back.
    Restart,
    /// "Auto log off": the gateway exits and stays down until someone starts it.
    LogOff,
    /// Neither is known: no daily window.
    None,
}

/// The gateway's daily restart or log-off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct DailyRestart {
    /// Restart, log off, or nothing known.
    pub action: DailyAction,
    /// Local time, `HH:MM` (or `HH:MM:SS`).
    pub time: String,
    /// IANA time zone of `time`; `None`: this computer's.
    pub time_zone: Option<String>,
}

impl Default for DailyRestart {
    fn default() -> Self {
        Self {
            action: DailyAction::Restart,
            // TWS and IB Gateway offer 11:45 PM by default.
            time: "23:45".into(),
            time_zone: None,
        }
    }
}

/// An address (IBC's command server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct HostPort {
    /// Host.
    pub host: String,
    /// Port (IBC's convention: 7462).
    pub port: u16,
}

/// IBC, where it runs the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct IbcSettings {
    /// IBC logs in (the Sunday re-login then only waits for the phone's 2FA approval).
    pub manages_login: bool,
    /// IBC's command server, where it is turned on: offers "Reconnect data farms" and
    /// "Soft restart" in the window.
    pub command_server: Option<HostPort>,
}

/// One gateway's place in the calendar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct GatewaySchedule {
    /// The IB server region of the account; `None`: no server windows.
    pub region: Option<Region>,
    /// The daily restart or log-off.
    pub daily: DailyRestart,
    /// IBC.
    pub ibc: IbcSettings,
}

impl GatewaySchedule {
    /// Nothing expected: no server region, no daily restart (tests that are not about the
    /// calendar use it, so the time of day they run at cannot change what they see).
    pub fn none() -> Self {
        Self {
            region: None,
            daily: DailyRestart {
                action: DailyAction::None,
                ..DailyRestart::default()
            },
            ibc: IbcSettings::default(),
        }
    }
}

impl Default for GatewaySchedule {
    fn default() -> Self {
        Self {
            region: Some(Region::NorthAmerica),
            daily: DailyRestart::default(),
            ibc: IbcSettings::default(),
        }
    }
}

/// The margins and reminders, shared by every gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct CalendarSettings {
    /// Widens every window on both sides, s.
    pub margin_secs: u32,
    /// How long a daily restart keeps the gateway down, s ("about 1–3 minutes").
    pub restart_takes_secs: u32,
    /// After a window (and its margin) ends, how long a gateway may still take to come back
    /// before it is overdue, s.
    pub grace_secs: u32,
    /// Reminders before the weekly re-login, minutes ahead of the expiry (Saturday evening
    /// and one hour before by default).
    pub relogin_reminders_mins: Vec<u32>,
    /// Server windows that replace the shipped ones for every region they name.
    pub server_windows: Vec<ServerWindow>,
}

impl Default for CalendarSettings {
    fn default() -> Self {
        Self {
            margin_secs: 120,
            restart_takes_secs: 180,
            grace_secs: 180,
            relogin_reminders_mins: vec![7 * 60, 60],
            server_windows: Vec::new(),
        }
    }
}
