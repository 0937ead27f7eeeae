//! The EU's cumulative compliance status (EUTL codes A, B, C): verified
//! emissions of every year so far against everything surrendered for them.

use super::error::ComplianceError;
use super::state::{Compliance, CoveredEntity};
use super::surrender::Surrenders;
use ets_model::Quantity;
use ets_registry::RegistryError;
use ets_scheme::Rulebook;
use ets_scheme::compliance::{YearRecord, eu_compliance_status};

impl Compliance {
    /// The cumulative EU status code after `year`: verified emissions of each of the
    /// rulebook's years up to `year` against all allowances surrendered for those years,
    /// from the installation's first year in the scheme (the first with an allocation or a
    /// report; a new entrant of 2026 owes nothing for 2021-2025).
    pub(super) fn eu_status_of(
        &self,
        surrenders: &Surrenders,
        rulebook: &Rulebook,
        entity: &CoveredEntity,
        year: u16,
    ) -> Result<String, ComplianceError> {
        let participant = entity.spec.participant;
        let in_scheme = |past: &u16| {
            self.allocations.contains_key(&(participant, *past))
                || self.reports.contains_key(&(participant, *past))
        };
        let first = rulebook
            .scheme
            .compliance_years
            .iter()
            .copied()
            .find(in_scheme)
            .unwrap_or(0);
        let mut years = Vec::new();
        let mut surrendered = Quantity::ZERO;
        for &past in rulebook
            .scheme
            .compliance_years
            .iter()
            .filter(|&&past| first <= past && past <= year)
        {
            years.push(YearRecord {
                year: past,
                verified: self
                    .reports
                    .get(&(participant, past))
                    .and_then(|report| report.verified_emissions),
                excluded: false,
            });
            let (allowances, _) = surrenders.of(entity.spec.account, past);
            surrendered = surrendered
                .checked_add(allowances)
                .map_err(|_| RegistryError::Overflow("cumulative surrendered"))?;
        }
        Ok(eu_compliance_status(&years, surrendered)?.code().to_owned())
    }
}
