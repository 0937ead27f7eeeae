//! Civil (proleptic Gregorian) dates and their arithmetic: the one home of
//! the days-from-civil and civil-from-days algorithms (Howard Hinnant,
//! "chrono-Compatible Low-Level Date Algorithms").

use crate::error::TimeError;
use std::fmt;
use std::str::FromStr;

/// Milliseconds in a civil day (no leap seconds: Unix time).
pub const MS_PER_DAY: i64 = 86_400_000;

/// The earliest and latest year a [`CivilDate`] may have: wide enough for
/// any record, narrow enough that every day count fits in `i64` milliseconds.
pub const YEAR_RANGE: (i32, i32) = (1, 9_999);

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Weekday {
    /// Monday.
    Monday,
    /// Tuesday.
    Tuesday,
    /// Wednesday.
    Wednesday,
    /// Thursday.
    Thursday,
    /// Friday.
    Friday,
    /// Saturday.
    Saturday,
    /// Sunday.
    Sunday,
}

impl Weekday {
    const ALL: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];

    /// 0 for Monday up to 6 for Sunday.
    #[must_use]
    pub fn index_from_monday(self) -> u8 {
        self as u8
    }

    /// The weekday of a day count since 1970-01-01 (a Thursday).
    #[must_use]
    pub fn of_day_number(days: i64) -> Weekday {
        // rem_euclid(7) is in 0..7, so the index is always valid.
        Weekday::ALL[usize::try_from((days + 3).rem_euclid(7)).unwrap_or(0)]
    }

    /// Saturday or Sunday.
    #[must_use]
    pub fn is_weekend(self) -> bool {
        matches!(self, Weekday::Saturday | Weekday::Sunday)
    }

    /// The English three-letter abbreviation (`Mon`).
    #[must_use]
    pub fn short_name(self) -> &'static str {
        ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][usize::from(self.index_from_monday())]
    }
}

/// A calendar date with no time zone: deadlines are days, and the time zone
/// of a calendar decides which instants belong to a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CivilDate {
    year: i32,
    month: u8,
    day: u8,
}

/// Whether `year` has a 29 February.
#[must_use]
pub fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// The number of days in `month` (1-12) of `year`; 0 for a month that does not exist.
#[must_use]
pub fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

impl CivilDate {
    /// The date.
    ///
    /// # Errors
    /// [`TimeError::InvalidDate`] when the date does not exist or its year is
    /// outside [`YEAR_RANGE`].
    pub fn try_new(year: i32, month: u8, day: u8) -> Result<CivilDate, TimeError> {
        let year_ok = (YEAR_RANGE.0..=YEAR_RANGE.1).contains(&year);
        if year_ok && day >= 1 && day <= days_in_month(year, month) {
            Ok(CivilDate { year, month, day })
        } else {
            Err(TimeError::InvalidDate {
                text: format!("{year:04}-{month:02}-{day:02}"),
            })
        }
    }

    /// The year.
    #[must_use]
    pub fn year(self) -> i32 {
        self.year
    }

    /// The month, 1 to 12.
    #[must_use]
    pub fn month(self) -> u8 {
        self.month
    }

    /// The day of the month, from 1.
    #[must_use]
    pub fn day(self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (negative before it).
    #[must_use]
    pub fn day_number(self) -> i64 {
        days_from_civil(self.year, self.month, self.day)
    }

    /// The date of a day count since 1970-01-01.
    ///
    /// # Errors
    /// [`TimeError::InvalidDate`] when the date's year is outside [`YEAR_RANGE`].
    pub fn from_day_number(days: i64) -> Result<CivilDate, TimeError> {
        let (year, month, day) = civil_from_days(days);
        let year = i32::try_from(year).map_err(|_| TimeError::InvalidDate {
            text: format!("day number {days}"),
        })?;
        CivilDate::try_new(year, month, day)
    }

    /// The date `days` later (earlier when negative).
    ///
    /// # Errors
    /// [`TimeError::InvalidDate`] when the result leaves [`YEAR_RANGE`].
    pub fn add_days(self, days: i64) -> Result<CivilDate, TimeError> {
        let target = self
            .day_number()
            .checked_add(days)
            .ok_or_else(|| TimeError::InvalidDate {
                text: format!("{self} + {days} days"),
            })?;
        CivilDate::from_day_number(target)
    }

    /// Its day of the week.
    #[must_use]
    pub fn weekday(self) -> Weekday {
        Weekday::of_day_number(self.day_number())
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (`days_from_civil`).
/// Any month and day are accepted arithmetically; validate with [`CivilDate::try_new`].
#[must_use]
pub fn days_from_civil(year: i32, month: u8, day: u8) -> i64 {
    let month = i64::from(month);
    let year = i64::from(year) - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The (year, month, day) of a day count since 1970-01-01 (`civil_from_days`).
#[must_use]
pub fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // By construction month is 1..=12 and day 1..=31.
    (year, month as u8, day as u8)
}

impl fmt::Display for CivilDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl FromStr for CivilDate {
    type Err = TimeError;

    /// Parses `YYYY-MM-DD`.
    fn from_str(text: &str) -> Result<CivilDate, TimeError> {
        let invalid = || TimeError::InvalidDate {
            text: text.to_owned(),
        };
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return Err(invalid());
        }
        let number = |range: std::ops::Range<usize>| -> Result<u32, TimeError> {
            let part = text.get(range).ok_or_else(invalid)?;
            if !part.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err(invalid());
            }
            part.parse().map_err(|_| invalid())
        };
        let year = i32::try_from(number(0..4)?).map_err(|_| invalid())?;
        let month = u8::try_from(number(5..7)?).map_err(|_| invalid())?;
        let day = u8::try_from(number(8..10)?).map_err(|_| invalid())?;
        CivilDate::try_new(year, month, day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> CivilDate {
        text.parse().expect("a valid date")
    }

    #[test]
    fn epoch_and_known_dates_have_their_day_numbers_and_weekdays() {
        assert_eq!(date("1970-01-01").day_number(), 0);
        assert_eq!(date("1970-01-01").weekday(), Weekday::Thursday);
        assert_eq!(date("2000-03-01").day_number(), 11_017);
        assert_eq!(date("2023-12-31").weekday(), Weekday::Sunday);
        assert_eq!(date("1969-12-31").day_number(), -1);
    }

    #[test]
    fn day_numbers_round_trip_over_four_centuries() {
        let start = date("1900-01-01").day_number();
        for days in start..start + 146_097 {
            let civil = CivilDate::from_day_number(days).expect("in range");
            assert_eq!(civil.day_number(), days, "{civil}");
            assert_eq!(civil.to_string().parse::<CivilDate>(), Ok(civil));
        }
    }

    #[test]
    fn impossible_dates_are_refused_with_their_text() {
        assert!(CivilDate::try_new(2023, 2, 29).is_err());
        assert!(CivilDate::try_new(2024, 2, 29).is_ok());
        assert!(CivilDate::try_new(1900, 2, 29).is_err());
        assert!(CivilDate::try_new(2024, 13, 1).is_err());
        for text in [
            "2024-1-01",
            "2024/01/01",
            "20240101xx",
            "2024-00-10",
            "+024-01-01",
        ] {
            let error = text.parse::<CivilDate>().expect_err(text);
            assert_eq!(error.code(), "invalid_date");
            assert!(error.to_string().contains(text), "{error}");
        }
    }

    #[test]
    fn adding_days_crosses_months_years_and_leap_days() {
        assert_eq!(date("2024-02-28").add_days(1), Ok(date("2024-02-29")));
        assert_eq!(date("2023-12-31").add_days(1), Ok(date("2024-01-01")));
        assert_eq!(date("2024-03-01").add_days(-1), Ok(date("2024-02-29")));
        assert!(date("9999-12-31").add_days(1).is_err());
    }
}
