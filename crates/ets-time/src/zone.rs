//! Civil time zones as data: a fixed offset from UTC (China: UTC+08:00) or
//! the EU's summer-time rule for Central European Time (CET/CEST), and the
//! conversion of instants to local civil time and back.

use crate::date::{CivilDate, MS_PER_DAY};
use crate::error::TimeError;
use ets_model::Timestamp;
use std::fmt;
use std::str::FromStr;

const MS_PER_MINUTE: i64 = 60_000;

/// A civil time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeZone {
    /// A constant offset from UTC, in minutes east of Greenwich.
    Fixed {
        /// Minutes east of UTC (Beijing: 480).
        offset_minutes: i32,
    },
    /// Central European Time: UTC+01:00, and UTC+02:00 in summer, from 01:00
    /// UTC on the last Sunday of March to 01:00 UTC on the last Sunday of
    /// October (Directive 2000/84/EC, Articles 2 and 3).
    CentralEuropean,
}

impl TimeZone {
    /// UTC itself.
    pub const UTC: TimeZone = TimeZone::Fixed { offset_minutes: 0 };
    /// China Standard Time (Beijing time), UTC+08:00 all year.
    pub const BEIJING: TimeZone = TimeZone::Fixed {
        offset_minutes: 480,
    };

    /// The offset from UTC in force at `at`, in minutes.
    #[must_use]
    pub fn offset_minutes_at(self, at: Timestamp) -> i32 {
        match self {
            TimeZone::Fixed { offset_minutes } => offset_minutes,
            TimeZone::CentralEuropean => {
                if central_european_summer(at) {
                    120
                } else {
                    60
                }
            }
        }
    }

    /// The local civil date and time of an instant.
    ///
    /// # Errors
    /// [`TimeError::InstantOutOfRange`] when its date is outside 0001-9999.
    pub fn local(self, at: Timestamp) -> Result<LocalDateTime, TimeError> {
        let offset_minutes = self.offset_minutes_at(at);
        let out_of_range = || TimeError::InstantOutOfRange { unix_ms: at.0 };
        let local_ms =
            at.0.checked_add(i64::from(offset_minutes) * MS_PER_MINUTE)
                .ok_or_else(out_of_range)?;
        let date = CivilDate::from_day_number(local_ms.div_euclid(MS_PER_DAY))
            .map_err(|_| out_of_range())?;
        Ok(LocalDateTime {
            date,
            millisecond_of_day: u32::try_from(local_ms.rem_euclid(MS_PER_DAY))
                .map_err(|_| out_of_range())?,
            offset_minutes,
        })
    }

    /// The instant at which local time reads `minute_of_day` on `date`
    /// (0 = midnight at its start, 1,440 = midnight at its end). In a
    /// summer-time gap the standard-time reading is used.
    #[must_use]
    pub fn instant_of(self, date: CivilDate, minute_of_day: u32) -> Timestamp {
        let local_ms = date.day_number() * MS_PER_DAY + i64::from(minute_of_day) * MS_PER_MINUTE;
        let standard = match self {
            TimeZone::Fixed { offset_minutes } => offset_minutes,
            TimeZone::CentralEuropean => 60,
        };
        let guess = Timestamp(local_ms - i64::from(standard) * MS_PER_MINUTE);
        Timestamp(local_ms - i64::from(self.offset_minutes_at(guess)) * MS_PER_MINUTE)
    }

    /// The first instant of `date` in this zone (local midnight).
    #[must_use]
    pub fn start_of_day(self, date: CivilDate) -> Timestamp {
        self.instant_of(date, 0)
    }

    /// The instant at which `date` ends in this zone: the first instant of the
    /// next day. Something done *by the end of* `date` happens strictly before it.
    #[must_use]
    pub fn end_of_day(self, date: CivilDate) -> Timestamp {
        self.instant_of(date, 1_440)
    }
}

/// Whether EU summer time is in force at `at`: from 01:00 UTC on the last
/// Sunday of March to 01:00 UTC on the last Sunday of October.
fn central_european_summer(at: Timestamp) -> bool {
    let (year, _, _) = crate::date::civil_from_days(at.0.div_euclid(MS_PER_DAY));
    let Ok(year) = i32::try_from(year) else {
        return false;
    };
    let start = last_sunday_day_number(year, 3) * MS_PER_DAY + 3_600_000;
    let end = last_sunday_day_number(year, 10) * MS_PER_DAY + 3_600_000;
    (start..end).contains(&at.0)
}

/// The day number of the last Sunday of a 31-day month.
fn last_sunday_day_number(year: i32, month: u8) -> i64 {
    let last = crate::date::days_from_civil(year, month, 31);
    // Weekday index 6 is Sunday; step back to it.
    let weekday = i64::from(crate::date::Weekday::of_day_number(last).index_from_monday());
    last - (weekday + 1) % 7
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TimeZone::Fixed { offset_minutes: 0 } => f.write_str("UTC"),
            TimeZone::Fixed { offset_minutes } => {
                let sign = if offset_minutes < 0 { '-' } else { '+' };
                let minutes = offset_minutes.unsigned_abs();
                write!(f, "UTC{sign}{:02}:{:02}", minutes / 60, minutes % 60)
            }
            TimeZone::CentralEuropean => f.write_str("CET/CEST"),
        }
    }
}

impl FromStr for TimeZone {
    type Err = TimeError;

    /// Parses `UTC`, `UTC+08:00`, `UTC-05:30` or `CET/CEST`.
    fn from_str(name: &str) -> Result<TimeZone, TimeError> {
        let unknown = || TimeError::UnknownTimeZone {
            name: name.to_owned(),
        };
        match name {
            "UTC" => return Ok(TimeZone::UTC),
            "CET/CEST" => return Ok(TimeZone::CentralEuropean),
            _ => {}
        }
        let rest = name.strip_prefix("UTC").ok_or_else(unknown)?;
        let (sign, hours_minutes) = match rest.as_bytes().first() {
            Some(b'+') => (1, &rest[1..]),
            Some(b'-') => (-1, &rest[1..]),
            _ => return Err(unknown()),
        };
        let minutes = parse_hours_minutes(hours_minutes)
            .filter(|minutes| *minutes <= 14 * 60)
            .ok_or_else(unknown)?;
        let offset_minutes = sign * i32::try_from(minutes).map_err(|_| unknown())?;
        Ok(TimeZone::Fixed { offset_minutes })
    }
}

/// Minutes of an `HH:MM` text (hours 00-24, minutes 00-59), or `None`.
pub(crate) fn parse_hours_minutes(text: &str) -> Option<u32> {
    let (hours, minutes) = text.split_once(':')?;
    let two_digits = |part: &str| {
        (part.len() == 2 && part.bytes().all(|byte| byte.is_ascii_digit()))
            .then(|| part.parse::<u32>().ok())
            .flatten()
    };
    let (hours, minutes) = (two_digits(hours)?, two_digits(minutes)?);
    (hours <= 24 && minutes < 60 && hours * 60 + minutes <= 1_440).then_some(hours * 60 + minutes)
}

/// A local civil date and time, with the offset that was in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalDateTime {
    /// The local date.
    pub date: CivilDate,
    /// Milliseconds since local midnight.
    pub millisecond_of_day: u32,
    /// The offset from UTC in force, in minutes.
    pub offset_minutes: i32,
}

impl LocalDateTime {
    /// Whole minutes since local midnight.
    #[must_use]
    pub fn minute_of_day(&self) -> u32 {
        self.millisecond_of_day / 60_000
    }
}

impl fmt::Display for LocalDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let minute = self.minute_of_day();
        let zone = TimeZone::Fixed {
            offset_minutes: self.offset_minutes,
        };
        write!(
            f,
            "{} {} {:02}:{:02} {zone}",
            self.date.weekday().short_name(),
            self.date,
            minute / 60,
            minute % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> CivilDate {
        text.parse().expect("a valid date")
    }

    #[test]
    fn beijing_midnight_is_sixteen_hundred_utc_the_day_before() {
        let start = TimeZone::BEIJING.start_of_day(date("2023-12-31"));
        let utc = TimeZone::UTC.local(start).expect("in range");
        assert_eq!(utc.date, date("2023-12-30"));
        assert_eq!(utc.minute_of_day(), 16 * 60);
        let end = TimeZone::BEIJING.end_of_day(date("2023-12-31"));
        assert_eq!(end.0 - start.0, MS_PER_DAY);
        let last = TimeZone::BEIJING
            .local(Timestamp(end.0 - 1))
            .expect("in range");
        assert_eq!(last.date, date("2023-12-31"));
        assert_eq!(last.to_string(), "Sun 2023-12-31 23:59 UTC+08:00");
    }

    #[test]
    fn central_european_summer_time_starts_and_ends_at_one_utc_on_the_last_sundays() {
        let zone = TimeZone::CentralEuropean;
        // 2024: summer time from Sunday 31 March to Sunday 27 October.
        let march_31 = date("2024-03-31").day_number() * MS_PER_DAY;
        assert_eq!(
            zone.offset_minutes_at(Timestamp(march_31 + 3_600_000 - 1)),
            60
        );
        assert_eq!(zone.offset_minutes_at(Timestamp(march_31 + 3_600_000)), 120);
        let october_27 = date("2024-10-27").day_number() * MS_PER_DAY;
        assert_eq!(
            zone.offset_minutes_at(Timestamp(october_27 + 3_600_000 - 1)),
            120
        );
        assert_eq!(
            zone.offset_minutes_at(Timestamp(october_27 + 3_600_000)),
            60
        );
        // A summer day's 08:00 in Leipzig is 06:00 UTC; a winter day's is 07:00 UTC.
        let summer = zone.instant_of(date("2024-07-01"), 8 * 60);
        assert_eq!(
            summer.0,
            date("2024-07-01").day_number() * MS_PER_DAY + 6 * 3_600_000
        );
        let winter = zone.instant_of(date("2024-01-15"), 8 * 60);
        assert_eq!(
            winter.0,
            date("2024-01-15").day_number() * MS_PER_DAY + 7 * 3_600_000
        );
    }

    #[test]
    fn zone_names_parse_and_print_back() {
        for name in ["UTC", "UTC+08:00", "UTC-05:30", "CET/CEST"] {
            let zone: TimeZone = name.parse().expect(name);
            assert_eq!(zone.to_string(), name);
        }
        for name in ["Asia/Shanghai", "UTC+8", "UTC+15:00", "utc", ""] {
            let error = name.parse::<TimeZone>().expect_err(name);
            assert_eq!(error.code(), "unknown_time_zone");
        }
    }

    #[test]
    fn an_instant_beyond_year_9999_is_refused_not_wrapped() {
        let error = TimeZone::UTC
            .local(Timestamp(i64::MAX))
            .expect_err("too late");
        assert_eq!(error.code(), "instant_out_of_range");
    }
}
