//! IB's restart calendar, as data: when a gateway dropping is expected rather than an alarm.
//!
//! TWS and IB Gateway restart themselves every day at a time the user picks; IB's servers go
//! through a daily reset per region and a weekend maintenance; on Sunday the gateway's tokens
//! expire and the next restart needs a 2FA approval on the phone. The windows are data
//! (`data/ib-windows.json`, shipped inside the binary, replaceable per region from the
//! settings) in their own time zones; [`Schedule`] compiles one gateway's share of them and
//! answers "is an outage expected now, until when" and "what comes next". Deciding what a
//! state *is* given that answer belongs to the supervisor (`expect.rs`).

mod schedule;
mod spec;

pub use schedule::{
    CalendarError, Occurrence, OccurrenceKind, Schedule, local_hhmm, parse_clock, parse_zone,
};
pub use spec::{
    CalendarData, CalendarSettings, DailyAction, DailyRestart, Day, GatewaySchedule, HostPort,
    IbcSettings, Region, SHIPPED_DATA, ServerWindow, ServerWindowKind, WeeklyInstant,
};
