//! Surrender deadlines: whether something stamped at a given instant meets a
//! deadline day, in the scheme's civil time (Beijing time for China: a
//! surrender at 00:00:01 on 1 January in Beijing is late for a 31 December
//! deadline even though it is still 31 December in UTC). The one place the
//! compliance cycle compares instants with deadline days; the calendar
//! arithmetic is `ets-time`'s.

use super::error::ComplianceError;
use ets_model::Timestamp;
use ets_scheme::Rulebook;
use ets_scheme::rulebook::SurrenderDeadline;

/// Refuses a surrender for `year` stamped `at` after the rulebook's last deadline for it.
pub(super) fn check_surrender_time(
    rulebook: &Rulebook,
    year: u16,
    at: Timestamp,
) -> Result<(), ComplianceError> {
    let deadlines = rulebook.surrender_deadlines_for(year);
    let Some(last) = deadlines.last() else {
        return Ok(());
    };
    if !is_met(rulebook, last, at) {
        return Err(ComplianceError::AfterDeadline {
            year,
            deadline: last.due.to_string(),
        });
    }
    Ok(())
}

/// Whether something done at `at` meets `deadline`: strictly before the end of the day
/// it falls on in the scheme's civil time, after the rulebook's rule for a deadline on a
/// holiday (`on_holiday`, applied by ets-time's day-off rule when the rulebook was read).
pub(super) fn is_met(rulebook: &Rulebook, deadline: &SurrenderDeadline, at: Timestamp) -> bool {
    at < rulebook.deadline_passes_at(deadline.due)
}
