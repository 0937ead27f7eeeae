//! The time model's errors: each names the offending value and has a stable code.

use thiserror::Error;

/// A bad date, zone, calendar file or a question a calendar cannot answer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TimeError {
    /// Not a date that exists in `YYYY-MM-DD` form, or a year outside 0001-9999.
    #[error("`{text}` is not a valid date (YYYY-MM-DD, years 0001 to 9999)")]
    InvalidDate {
        /// The text or computation that gave it.
        text: String,
    },
    /// Not a time of day in `HH:MM` form (00:00 to 24:00).
    #[error("`{text}` is not a valid time of day (HH:MM, 00:00 to 24:00)")]
    InvalidTimeOfDay {
        /// The text as written.
        text: String,
    },
    /// An instant whose civil date falls outside 0001-9999.
    #[error("the instant {unix_ms} ms since the epoch is outside the years 0001 to 9999")]
    InstantOutOfRange {
        /// The instant in milliseconds since the Unix epoch.
        unix_ms: i64,
    },
    /// A time zone name the model does not know.
    #[error("unknown time zone `{name}`: use `UTC`, `UTC+08:00` style offsets or `CET/CEST`")]
    UnknownTimeZone {
        /// The name as written.
        name: String,
    },
    /// A calendar file that does not parse or whose content is inconsistent.
    #[error("calendar {calendar}: {reason}")]
    BadCalendar {
        /// The calendar's file or name.
        calendar: String,
        /// What is wrong, with the key or date at fault.
        reason: String,
    },
    /// A question about a date the calendar has no data for.
    #[error("calendar {calendar} covers {first_year} to {last_year}, not {date}")]
    DateNotCovered {
        /// The calendar's name.
        calendar: String,
        /// The date asked about.
        date: String,
        /// The first year with data.
        first_year: i32,
        /// The last year with data.
        last_year: i32,
    },
}

impl TimeError {
    /// The stable machine-readable code of this error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            TimeError::InvalidDate { .. } => "invalid_date",
            TimeError::InvalidTimeOfDay { .. } => "invalid_time_of_day",
            TimeError::InstantOutOfRange { .. } => "instant_out_of_range",
            TimeError::UnknownTimeZone { .. } => "unknown_time_zone",
            TimeError::BadCalendar { .. } => "bad_calendar",
            TimeError::DateNotCovered { .. } => "date_not_covered_by_calendar",
        }
    }
}
