//! The business window and business-day counting on a scheme's calendar:
//! when a transfer may be initiated, and when a trusted-list addition
//! becomes active.

use super::ControlSettings;
use crate::error::RegistryError;
use ets_model::Timestamp;
use ets_time::{CivilDate, HolidayCalendar, TimeError};

/// The first instant at or after `at` inside the business window: `at`
/// itself on a business day between opening and closing, else the next
/// opening (EU: confirmed Friday 18:00, initiated Monday 10:00).
///
/// # Errors
/// [`RegistryError::CalendarNotCovered`] when the calendar has no data for the dates needed.
pub(crate) fn snap_to_window(
    settings: &ControlSettings,
    calendar: &HolidayCalendar,
    at: Timestamp,
) -> Result<Timestamp, RegistryError> {
    let zone = calendar.zone();
    let local = zone.local(at).map_err(not_covered)?;
    let minute = local.minute_of_day();
    let opens = u32::from(settings.window_opens_minute);
    let closes = u32::from(settings.window_closes_minute);
    let business = calendar.is_business_day(local.date).map_err(not_covered)?;
    if business && (opens..closes).contains(&minute) {
        return Ok(at);
    }
    let day = if business && minute < opens {
        local.date
    } else {
        next_business_day(calendar, local.date)?
    };
    Ok(zone.instant_of(day, opens))
}

/// The window's opening on the `days`-th business day after the day of `at`
/// (the day of `at` itself does not count).
///
/// # Errors
/// [`RegistryError::CalendarNotCovered`] when the calendar has no data for the dates needed.
pub(crate) fn after_business_days(
    settings: &ControlSettings,
    calendar: &HolidayCalendar,
    at: Timestamp,
    days: u8,
) -> Result<Timestamp, RegistryError> {
    let zone = calendar.zone();
    let mut day = zone.local(at).map_err(not_covered)?.date;
    for _ in 0..days {
        day = next_business_day(calendar, day)?;
    }
    Ok(zone.instant_of(day, u32::from(settings.window_opens_minute)))
}

fn next_business_day(
    calendar: &HolidayCalendar,
    day: CivilDate,
) -> Result<CivilDate, RegistryError> {
    let next = day.add_days(1).map_err(not_covered)?;
    calendar.business_day_on_or_after(next).map_err(not_covered)
}

fn not_covered(error: TimeError) -> RegistryError {
    RegistryError::CalendarNotCovered(error.to_string())
}
