//! EU compliance status, computed cumulatively over the years of an
//! installation's obligation as the UK registry's dynamic calculator does
//! (docs/sources.md#eu-compliance): a deficit in one year stays visible (B) until later
//! surrenders cover it, and any year without verified emissions shows C.

use crate::error::{FormulaError, add, at_most};
use ets_model::Quantity;
use rust_decimal::Decimal;
use std::collections::BTreeSet;

/// The most years one status computation accepts.
pub const MAX_YEARS: usize = 200;

/// One past year of an installation's obligation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YearRecord {
    /// The year.
    pub year: u16,
    /// Verified emissions, once entered.
    pub verified: Option<Quantity>,
    /// Whether the installation is excluded for this year.
    pub excluded: bool,
}

/// The compliance status codes of the EUTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ComplianceStatus {
    /// No obligation yet.
    NotApplicable,
    /// Excluded for the latest year.
    Excluded,
    /// Surrendered at least the verified emissions, cumulatively.
    A,
    /// Surrendered less than the verified emissions, cumulatively.
    B,
    /// Verified emissions missing for a non-excluded year.
    C,
}

impl ComplianceStatus {
    /// The EUTL code: `A`, `B`, `C`, `EXCLUDED` or `-`.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            ComplianceStatus::NotApplicable => "-",
            ComplianceStatus::Excluded => "EXCLUDED",
            ComplianceStatus::A => "A",
            ComplianceStatus::B => "B",
            ComplianceStatus::C => "C",
        }
    }
}

/// The cumulative status after the years in `past_years` (any order), given
/// everything surrendered to date:
///
/// 1. no years: not applicable;
/// 2. the latest year excluded: excluded;
/// 3. a non-excluded year without verified emissions: C;
/// 4. sum of verified (non-excluded years) > surrendered: B;
/// 5. otherwise A.
///
/// # Errors
/// [`FormulaError::DuplicateYear`] for a year given twice;
/// [`FormulaError::TooMany`] beyond [`MAX_YEARS`].
pub fn eu_compliance_status(
    past_years: &[YearRecord],
    cumulative_surrendered: Quantity,
) -> Result<ComplianceStatus, FormulaError> {
    at_most("years", past_years.len(), MAX_YEARS)?;
    let mut seen = BTreeSet::new();
    if let Some(record) = past_years.iter().find(|record| !seen.insert(record.year)) {
        return Err(FormulaError::DuplicateYear { year: record.year });
    }
    let Some(latest) = past_years.iter().max_by_key(|record| record.year) else {
        return Ok(ComplianceStatus::NotApplicable);
    };
    if latest.excluded {
        return Ok(ComplianceStatus::Excluded);
    }
    let counted = past_years.iter().filter(|record| !record.excluded);
    let mut verified_total = Decimal::ZERO;
    for record in counted {
        let Some(verified) = record.verified else {
            return Ok(ComplianceStatus::C);
        };
        verified_total = add(
            "cumulative verified emissions",
            verified_total,
            Decimal::from(verified.tonnes()),
        )?;
    }
    if verified_total > Decimal::from(cumulative_surrendered.tonnes()) {
        Ok(ComplianceStatus::B)
    } else {
        Ok(ComplianceStatus::A)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn year(year: u16, verified: Option<u64>) -> YearRecord {
        YearRecord {
            year,
            verified: verified.map(Quantity::new),
            excluded: false,
        }
    }

    #[test]
    fn installation_goes_a_then_b_then_a_as_cumulative_surrenders_catch_up() {
        // Goal: the status is cumulative: 2021 100 verified / 100 surrendered -> A; 2022 +150
        // verified but only 200 surrendered in all -> B; 2023 +120 and 370 in all -> A again.
        let mut years = vec![year(2021, Some(100))];
        assert_eq!(
            eu_compliance_status(&years, Quantity::new(100)),
            Ok(ComplianceStatus::A)
        );
        years.push(year(2022, Some(150)));
        assert_eq!(
            eu_compliance_status(&years, Quantity::new(200)),
            Ok(ComplianceStatus::B)
        );
        years.push(year(2023, Some(120)));
        let status = eu_compliance_status(&years, Quantity::new(370));
        assert_eq!(status, Ok(ComplianceStatus::A));
        assert_eq!(ComplianceStatus::B.code(), "B");
    }

    #[test]
    fn missing_verified_emissions_give_c_and_no_years_give_not_applicable() {
        // Goal: C beats B: a year without verified emissions shows C whatever was surrendered.
        let years = [year(2021, Some(100)), year(2022, None)];
        assert_eq!(
            eu_compliance_status(&years, Quantity::ZERO),
            Ok(ComplianceStatus::C)
        );
        assert_eq!(
            eu_compliance_status(&[], Quantity::ZERO),
            Ok(ComplianceStatus::NotApplicable)
        );
        assert_eq!(ComplianceStatus::NotApplicable.code(), "-");
    }

    #[test]
    fn excluded_years_do_not_count_and_an_excluded_latest_year_shows_excluded() {
        // Goal: an excluded year's missing emissions do not give C; an excluded latest year gives EXCLUDED.
        let excluded_2022 = YearRecord {
            year: 2022,
            verified: None,
            excluded: true,
        };
        let years = [year(2021, Some(100)), excluded_2022, year(2023, Some(50))];
        assert_eq!(
            eu_compliance_status(&years, Quantity::new(150)),
            Ok(ComplianceStatus::A)
        );
        let latest_excluded = [year(2021, Some(100)), excluded_2022];
        assert_eq!(
            eu_compliance_status(&latest_excluded, Quantity::ZERO),
            Ok(ComplianceStatus::Excluded)
        );
    }

    #[test]
    fn a_year_given_twice_is_refused() {
        // Goal: duplicate input is an error, not double counting.
        let years = [year(2021, Some(100)), year(2021, Some(100))];
        let error = eu_compliance_status(&years, Quantity::ZERO).expect_err("duplicate");
        assert_eq!(error.code(), "duplicate_year");
        assert!(error.to_string().contains("2021"));
    }
}
