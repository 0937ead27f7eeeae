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
    /// rulebook's years up to `year` against all allowances surrendered for those years.
    pub(super) fn eu_status_of(
        &self,
        surrenders: &Surrenders,
        rulebook: &Rulebook,
        entity: &CoveredEntity,
        year: u16,
    ) -> Result<String, ComplianceError> {
        let participant = entity.spec.participant;
        let mut years = Vec::new();
        let mut surrendered = Quantity::ZERO;
        for &past in rulebook
            .scheme
            .compliance_years
            .iter()
            .filter(|&&past| past <= year)
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
