//! Deadline arithmetic: "by the end of day D", in a calendar's civil time
//! zone, with the rulebook's treatment of a deadline that falls on a day
//! off. A deadline is the instant at which its day ends; an act is on time
//! strictly before it.

use crate::calendar::HolidayCalendar;
use crate::date::CivilDate;
use crate::error::TimeError;
use ets_model::Timestamp;

/// What a rulebook says happens when a deadline falls on a weekend or holiday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DayOffRule {
    /// The stated date stands (China's surrender deadlines and the EU's 30
    /// September name calendar dates, and the registries accept surrenders
    /// on any day).
    AsStated,
    /// The deadline moves to the next business day.
    NextBusinessDay,
    /// The deadline moves back to the last business day before it.
    PreviousBusinessDay,
}

/// A deadline as a rulebook states it: a civil date and the day-off rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Deadline {
    /// The date named by the rule.
    pub date: CivilDate,
    /// How a day off is treated.
    pub day_off: DayOffRule,
}

impl Deadline {
    /// The date the deadline actually falls on, after the day-off rule.
    ///
    /// # Errors
    /// [`TimeError::DateNotCovered`] when the calendar has no data for the date
    /// (only asked when the rule needs the calendar).
    pub fn effective_date(&self, calendar: &HolidayCalendar) -> Result<CivilDate, TimeError> {
        match self.day_off {
            DayOffRule::AsStated => Ok(self.date),
            DayOffRule::NextBusinessDay => calendar.business_day_on_or_after(self.date),
            DayOffRule::PreviousBusinessDay => calendar.business_day_on_or_before(self.date),
        }
    }

    /// The instant the deadline passes: the end of its effective date in the
    /// calendar's time zone ("end of 31 December in Beijing time" is 16:00 UTC).
    ///
    /// # Errors
    /// As [`Deadline::effective_date`].
    pub fn passes_at(&self, calendar: &HolidayCalendar) -> Result<Timestamp, TimeError> {
        Ok(calendar.zone().end_of_day(self.effective_date(calendar)?))
    }

    /// Whether an act at `at` meets the deadline (strictly before it passes).
    ///
    /// # Errors
    /// As [`Deadline::effective_date`].
    pub fn is_met_at(&self, at: Timestamp, calendar: &HolidayCalendar) -> Result<bool, TimeError> {
        Ok(at < self.passes_at(calendar)?)
    }
}
