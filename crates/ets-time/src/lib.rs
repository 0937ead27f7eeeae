//! The one time model of openets. Pure: it reads no clock and no file; the
//! caller passes instants and calendar data in.
//!
//! - Instants are [`ets_model::Timestamp`]: UTC milliseconds since the Unix epoch,
//!   stamped by the store's sequencer.
//! - [`CivilDate`]: calendar dates and their arithmetic (the only home of the
//!   days-from-civil algorithm).
//! - [`TimeZone`]: civil time zones as data: fixed offsets (Beijing, UTC+08:00)
//!   and the EU's CET/CEST rule.
//! - [`HolidayCalendar`]: public holidays, make-up working days, business and
//!   trading days, and trading sessions, loaded from `calendars/*.toml`.
//! - [`Deadline`]: "by the end of day D" in a calendar's zone, with the
//!   rulebook's rule for a deadline on a day off.
//!
//! **Architecture Invariant:** no clock, no I/O, no knowledge of accounts,
//! schemes or the journal; everything that counts days calls this crate.

mod calendar;
mod date;
mod deadline;
mod error;
mod zone;

pub use calendar::{CHINA_TOML, EU_EEX_TOML, HolidayCalendar, Session};
pub use date::{
    CivilDate, MS_PER_DAY, Weekday, YEAR_RANGE, civil_from_days, days_from_civil, days_in_month,
    is_leap_year,
};
pub use deadline::{DayOffRule, Deadline};
pub use error::TimeError;
pub use zone::{LocalDateTime, TimeZone};
