//! Surrender deadlines: whether a surrender stamped at a given instant comes
//! before a year's last deadline. The one place that turns an instant into
//! the day a deadline is compared with.

use super::error::ComplianceError;
use ets_model::Timestamp;
use ets_scheme::Rulebook;

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
    let today = civil_date(at);
    let deadline = (
        i64::from(last.date.year),
        u32::from(last.date.month),
        u32::from(last.date.day),
    );
    if today > deadline {
        return Err(ComplianceError::AfterDeadline {
            year,
            deadline: last.date.to_string(),
        });
    }
    Ok(())
}

/// Days since 1970-01-01 to a civil (year, month, day), proleptic Gregorian (UTC).
fn civil_date(time: Timestamp) -> (i64, u32, u32) {
    let days = time.0.div_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::civil_date;
    use ets_model::Timestamp;

    #[test]
    fn civil_dates_match_known_days() {
        assert_eq!(civil_date(Timestamp(0)), (1970, 1, 1));
        // 2021-07-16T01:30:00Z, China's trading launch day.
        assert_eq!(civil_date(Timestamp(1_626_399_000_000)), (2021, 7, 16));
        assert_eq!(civil_date(Timestamp(1_703_980_800_000)), (2023, 12, 31));
        assert_eq!(civil_date(Timestamp(951_782_400_000)), (2000, 2, 29));
    }
}
