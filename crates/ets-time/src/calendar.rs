//! Holiday calendars as data: a scheme's or market's time zone, its public
//! holidays, the weekend days made working days in exchange for them (China's
//! make-up working days), whether an exchange trades on those, and its
//! trading sessions. Loaded from TOML (`calendars/*.toml`); the two embedded
//! calendars are China's (2019-2026) and the EU's EEX (2019-2026).

use crate::date::CivilDate;
use crate::error::TimeError;
use crate::zone::{TimeZone, parse_hours_minutes};
use ets_model::Timestamp;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// China's public holidays and make-up working days, 2019-2026 (State Council notices).
pub const CHINA_TOML: &str = include_str!("../../../calendars/cn.toml");
/// The EEX exchange holidays and EU allowance trading sessions, 2019-2026.
pub const EU_EEX_TOML: &str = include_str!("../../../calendars/eu-eex.toml");

/// The most dates one calendar may list (holiday days plus working days).
const MAX_DATES: usize = 10_000;

/// One trading session: opens at `opens_minute` and closes at `closes_minute`
/// local time (minutes after midnight; open at the opening minute, closed at the closing one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// Local minutes after midnight at which it opens.
    pub opens_minute: u32,
    /// Local minutes after midnight at which it closes.
    pub closes_minute: u32,
}

/// A holiday calendar with its time zone and trading sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolidayCalendar {
    name: String,
    zone: TimeZone,
    first_year: i32,
    last_year: i32,
    holidays: BTreeMap<CivilDate, String>,
    working_days: BTreeSet<CivilDate>,
    makeup_days_are_trading_days: bool,
    sessions: BTreeMap<String, Vec<Session>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    name: String,
    time_zone: String,
    first_year: i32,
    last_year: i32,
    makeup_days_are_trading_days: bool,
    #[serde(default)]
    sessions: BTreeMap<String, Vec<[String; 2]>>,
    #[serde(default)]
    holiday: Vec<HolidayEntry>,
    #[serde(default)]
    working_day: Vec<WorkingDayEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidayEntry {
    name: String,
    from: String,
    to: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkingDayEntry {
    date: String,
    #[serde(rename = "for")]
    for_holiday: String,
}

impl HolidayCalendar {
    /// Parses a calendar file; `file` names it in error messages.
    ///
    /// # Errors
    /// [`TimeError::BadCalendar`] naming the key or date at fault: a syntax
    /// error, an unknown key, a bad date, zone or session, a date outside the
    /// covered years, a holiday that ends before it starts, a working day
    /// that is not a weekend day or is also a holiday.
    pub fn from_toml(file: &str, text: &str) -> Result<HolidayCalendar, TimeError> {
        let bad = |reason: String| TimeError::BadCalendar {
            calendar: file.to_owned(),
            reason,
        };
        let parsed: CalendarFile = toml::from_str(text).map_err(|error| bad(error.to_string()))?;
        let zone: TimeZone = parsed
            .time_zone
            .parse()
            .map_err(|error: TimeError| bad(error.to_string()))?;
        if parsed.first_year > parsed.last_year || parsed.first_year < 1 || parsed.last_year > 9_999
        {
            return Err(bad(format!(
                "first_year {} and last_year {} do not make a range of years",
                parsed.first_year, parsed.last_year
            )));
        }
        let mut calendar = HolidayCalendar {
            name: parsed.name,
            zone,
            first_year: parsed.first_year,
            last_year: parsed.last_year,
            holidays: BTreeMap::new(),
            working_days: BTreeSet::new(),
            makeup_days_are_trading_days: parsed.makeup_days_are_trading_days,
            sessions: BTreeMap::new(),
        };
        for entry in &parsed.holiday {
            calendar.add_holiday(entry).map_err(bad)?;
        }
        for entry in &parsed.working_day {
            calendar.add_working_day(entry).map_err(bad)?;
        }
        for (name, sessions) in &parsed.sessions {
            let sessions = parse_sessions(name, sessions).map_err(bad)?;
            calendar.sessions.insert(name.clone(), sessions);
        }
        Ok(calendar)
    }

    /// China's calendar (`calendars/cn.toml`), embedded in the program.
    ///
    /// # Errors
    /// [`TimeError::BadCalendar`] if the embedded file were broken (a test keeps it whole).
    pub fn china() -> Result<HolidayCalendar, TimeError> {
        HolidayCalendar::from_toml("calendars/cn.toml", CHINA_TOML)
    }

    /// The EEX calendar (`calendars/eu-eex.toml`), embedded in the program.
    ///
    /// # Errors
    /// [`TimeError::BadCalendar`] if the embedded file were broken (a test keeps it whole).
    pub fn eu_eex() -> Result<HolidayCalendar, TimeError> {
        HolidayCalendar::from_toml("calendars/eu-eex.toml", EU_EEX_TOML)
    }

    fn date_in_range(&self, text: &str, key: &str) -> Result<CivilDate, String> {
        let date: CivilDate = text
            .parse()
            .map_err(|error: TimeError| format!("{key}: {error}"))?;
        if self.covers(date) {
            Ok(date)
        } else {
            Err(format!(
                "{key}: {date} is outside the covered years {} to {}",
                self.first_year, self.last_year
            ))
        }
    }

    fn add_holiday(&mut self, entry: &HolidayEntry) -> Result<(), String> {
        let key = format!("holiday `{}` from {}", entry.name, entry.from);
        let from = self.date_in_range(&entry.from, &key)?;
        let to = self.date_in_range(&entry.to, &key)?;
        if to < from || to.day_number() - from.day_number() > 31 {
            return Err(format!(
                "{key}: ends {to}, before it starts or more than a month later"
            ));
        }
        for day in from.day_number()..=to.day_number() {
            let date = CivilDate::from_day_number(day).map_err(|error| error.to_string())?;
            if self.holidays.insert(date, entry.name.clone()).is_some() {
                return Err(format!("{key}: {date} is listed twice"));
            }
        }
        self.check_size()
    }

    fn add_working_day(&mut self, entry: &WorkingDayEntry) -> Result<(), String> {
        let key = format!("working_day {} (for {})", entry.date, entry.for_holiday);
        let date = self.date_in_range(&entry.date, &key)?;
        if !date.weekday().is_weekend() {
            return Err(format!(
                "{key}: {date} is a {:?}, already a working day",
                date.weekday()
            ));
        }
        if self.holidays.contains_key(&date) || !self.working_days.insert(date) {
            return Err(format!("{key}: {date} is also a holiday or listed twice"));
        }
        self.check_size()
    }

    fn check_size(&self) -> Result<(), String> {
        if self.holidays.len() + self.working_days.len() > MAX_DATES {
            return Err(format!("more than {MAX_DATES} dates"));
        }
        Ok(())
    }

    /// The calendar's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The civil time zone its days are counted in.
    #[must_use]
    pub fn zone(&self) -> TimeZone {
        self.zone
    }

    /// The first and last year it has data for.
    #[must_use]
    pub fn years(&self) -> (i32, i32) {
        (self.first_year, self.last_year)
    }

    /// Whether it has data for `date`'s year.
    #[must_use]
    pub fn covers(&self, date: CivilDate) -> bool {
        (self.first_year..=self.last_year).contains(&date.year())
    }

    fn check_covered(&self, date: CivilDate) -> Result<(), TimeError> {
        if self.covers(date) {
            Ok(())
        } else {
            Err(TimeError::DateNotCovered {
                calendar: self.name.clone(),
                date: date.to_string(),
                first_year: self.first_year,
                last_year: self.last_year,
            })
        }
    }

    /// The name of the public holiday on `date`, if it is one.
    ///
    /// # Errors
    /// [`TimeError::DateNotCovered`] outside the calendar's years.
    pub fn holiday(&self, date: CivilDate) -> Result<Option<&str>, TimeError> {
        self.check_covered(date)?;
        Ok(self.holidays.get(&date).map(String::as_str))
    }

    /// Whether `date` is a make-up working day (a weekend day worked in exchange for a holiday).
    ///
    /// # Errors
    /// [`TimeError::DateNotCovered`] outside the calendar's years.
    pub fn is_makeup_working_day(&self, date: CivilDate) -> Result<bool, TimeError> {
        self.check_covered(date)?;
        Ok(self.working_days.contains(&date))
    }

    /// Whether offices work on `date`: a weekday that is not a holiday, or a make-up working day.
    ///
    /// # Errors
    /// [`TimeError::DateNotCovered`] outside the calendar's years.
    pub fn is_business_day(&self, date: CivilDate) -> Result<bool, TimeError> {
        self.check_covered(date)?;
        if self.working_days.contains(&date) {
            return Ok(true);
        }
        Ok(!date.weekday().is_weekend() && !self.holidays.contains_key(&date))
    }

    /// Whether the exchange trades on `date`: a business day, except a
    /// make-up working day when the exchange does not trade on those (China's do not).
    ///
    /// # Errors
    /// [`TimeError::DateNotCovered`] outside the calendar's years.
    pub fn is_trading_day(&self, date: CivilDate) -> Result<bool, TimeError> {
        if self.is_makeup_working_day(date)? {
            return Ok(self.makeup_days_are_trading_days);
        }
        self.is_business_day(date)
    }

    /// The first business day on or after `date`.
    ///
    /// # Errors
    /// [`TimeError::DateNotCovered`] when the search leaves the calendar's years.
    pub fn business_day_on_or_after(&self, date: CivilDate) -> Result<CivilDate, TimeError> {
        self.step_to_business_day(date, 1)
    }

    /// The last business day on or before `date`.
    ///
    /// # Errors
    /// [`TimeError::DateNotCovered`] when the search leaves the calendar's years.
    pub fn business_day_on_or_before(&self, date: CivilDate) -> Result<CivilDate, TimeError> {
        self.step_to_business_day(date, -1)
    }

    fn step_to_business_day(&self, mut date: CivilDate, step: i64) -> Result<CivilDate, TimeError> {
        // No real calendar closes for a whole month; the covered range bounds the loop anyway.
        while !self.is_business_day(date)? {
            date = date.add_days(step)?;
        }
        Ok(date)
    }

    /// The weekdays (Monday to Friday) between `first` and `last` inclusive
    /// on which the exchange does not trade: the closures a weekday-only
    /// trading calendar has to list.
    ///
    /// # Errors
    /// [`TimeError::DateNotCovered`] when the range leaves the calendar's years.
    pub fn weekday_closures(
        &self,
        first: CivilDate,
        last: CivilDate,
    ) -> Result<Vec<CivilDate>, TimeError> {
        let mut closed = Vec::new();
        for day in first.day_number()..=last.day_number() {
            let date = CivilDate::from_day_number(day)?;
            if !date.weekday().is_weekend() && !self.is_trading_day(date)? {
                closed.push(date);
            }
        }
        Ok(closed)
    }

    /// The sessions named `name` (`listed`, `block`, `continuous`), if the calendar has them.
    #[must_use]
    pub fn sessions(&self, name: &str) -> Option<&[Session]> {
        self.sessions.get(name).map(Vec::as_slice)
    }

    /// Whether the market trades in session set `name` at `at`: a trading day
    /// and inside one of its sessions (local time).
    ///
    /// # Errors
    /// [`TimeError::BadCalendar`] when it has no such sessions;
    /// [`TimeError::DateNotCovered`] or [`TimeError::InstantOutOfRange`] for an instant it cannot place.
    pub fn is_open(&self, name: &str, at: Timestamp) -> Result<bool, TimeError> {
        let sessions = self.sessions(name).ok_or_else(|| TimeError::BadCalendar {
            calendar: self.name.clone(),
            reason: format!("no sessions named `{name}`"),
        })?;
        let local = self.zone.local(at)?;
        if !self.is_trading_day(local.date)? {
            return Ok(false);
        }
        let minute = local.minute_of_day();
        Ok(sessions
            .iter()
            .any(|session| session.opens_minute <= minute && minute < session.closes_minute))
    }
}

fn parse_sessions(name: &str, sessions: &[[String; 2]]) -> Result<Vec<Session>, String> {
    let mut parsed: Vec<Session> = Vec::with_capacity(sessions.len());
    for [opens, closes] in sessions {
        let minute = |text: &str| {
            parse_hours_minutes(text).ok_or_else(|| {
                format!(
                    "sessions.{name}: {}",
                    TimeError::InvalidTimeOfDay {
                        text: text.to_owned()
                    }
                )
            })
        };
        let session = Session {
            opens_minute: minute(opens)?,
            closes_minute: minute(closes)?,
        };
        let after_previous = parsed
            .last()
            .is_none_or(|previous| previous.closes_minute <= session.opens_minute);
        if session.opens_minute >= session.closes_minute || !after_previous {
            return Err(format!(
                "sessions.{name}: {opens}-{closes} is empty or overlaps the session before it"
            ));
        }
        parsed.push(session);
    }
    Ok(parsed)
}
