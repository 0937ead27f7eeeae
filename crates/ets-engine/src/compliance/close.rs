//! The close of a compliance year: each entity's obligation (with the
//! rulebook's relief caps and any claw-back owed), what it surrendered, its
//! status, shortfall and penalty; the results become final at the close.

use super::command::UnitCategory;
use super::error::ComplianceError;
use super::state::{
    AllocationRecord, Compliance, ComplianceEffect, CoveredEntity, EntityResult, EntityStatus,
};
use super::surrender::Surrenders;
use ets_model::{Money, Price, Quantity};
use ets_registry::{Context, Registry, RegistryError};
use ets_scheme::Rulebook;
use ets_scheme::obligation::{self, ObligationClass};
use ets_scheme::penalty::{self, PenaltyInput};

impl Compliance {
    pub(super) fn obligation_of(
        &self,
        rulebook: &Rulebook,
        entity: &CoveredEntity,
        year: u16,
    ) -> Result<Option<(Quantity, Quantity, Quantity)>, ComplianceError> {
        let participant = entity.spec.participant;
        let Some(verified) = self
            .reports
            .get(&(participant, year))
            .and_then(|report| report.verified_emissions)
        else {
            return Ok(None);
        };
        let record = self
            .allocations
            .get(&(participant, year))
            .cloned()
            .unwrap_or_default();
        // An EU installation has no units: not gas.
        let all_gas = !entity.spec.units.is_empty()
            && entity
                .spec
                .units
                .iter()
                .all(|unit| unit.category == UnitCategory::Gas);
        let class = if all_gas {
            ObligationClass::Gas
        } else {
            ObligationClass::CoalOrOther
        };
        let owed =
            obligation::obligation(&rulebook.obligation, class, verified, record.allocation())?;
        let total = owed
            .surrender
            .checked_add(record.claw_back_outstanding)
            .map_err(|_| RegistryError::Overflow("obligation"))?;
        Ok(Some((verified, record.allocation(), total)))
    }

    /// The compliance report of a scheme and year: final if the year is closed,
    /// else computed from the current state.
    ///
    /// # Errors
    /// [`ComplianceError::UnknownScheme`] or a formula error.
    pub fn results(
        &self,
        registry: &Registry,
        scheme: &str,
        year: u16,
        reference_average_price: Option<Price>,
    ) -> Result<Vec<EntityResult>, ComplianceError> {
        if let Some(closed) = self.closed_results(scheme, year) {
            return Ok(closed.to_vec());
        }
        let rulebook = self.rulebook(scheme)?;
        let surrenders = Surrenders::tally(registry);
        let mut results = Vec::new();
        for entity in self
            .entities
            .values()
            .filter(|entity| entity.scheme == scheme)
        {
            results.push(self.result_of(
                &surrenders,
                rulebook,
                entity,
                year,
                reference_average_price,
            )?);
        }
        Ok(results)
    }

    fn result_of(
        &self,
        surrenders: &Surrenders,
        rulebook: &Rulebook,
        entity: &CoveredEntity,
        year: u16,
        reference_average_price: Option<Price>,
    ) -> Result<EntityResult, ComplianceError> {
        let participant = entity.spec.participant;
        let account = entity.spec.account;
        let (allowances, offsets) = surrenders.of(account, year);
        let allocation = self
            .allocations
            .get(&(participant, year))
            .map_or(Quantity::ZERO, AllocationRecord::allocation);
        let mut result = EntityResult {
            entity: participant,
            account,
            verified_emissions: None,
            allocation,
            obligation: Quantity::ZERO,
            allowances_surrendered: allowances,
            offsets_used: Quantity::ZERO,
            status: EntityStatus::NoVerifiedReport,
            shortfall: Quantity::ZERO,
            fine_min: Money::ZERO,
            fine_max: Money::ZERO,
            next_year_deduction: Quantity::ZERO,
            eu_status: None,
        };
        if rulebook.eu_allocation().is_some() {
            result.eu_status = Some(self.eu_status_of(surrenders, rulebook, entity, year)?);
        }
        let Some((verified, _, owed)) = self.obligation_of(rulebook, entity, year)? else {
            return Ok(result);
        };
        let offsets_used = match &rulebook.offsets {
            Some(rules) => offsets.min(obligation::max_offsets(rules, owed, verified)?),
            None => Quantity::ZERO,
        };
        let surrendered = allowances
            .checked_add(offsets_used)
            .map_err(|_| RegistryError::Overflow("surrendered"))?;
        let assessment = penalty::assess_penalty(
            &rulebook.scheme,
            &rulebook.penalty,
            &PenaltyInput {
                obligation: owed,
                surrendered,
                reference_average_price,
            },
        )?;
        result.verified_emissions = Some(verified);
        result.obligation = owed;
        result.offsets_used = offsets_used;
        result.shortfall = assessment.shortfall;
        result.status = if assessment.shortfall.is_zero() {
            EntityStatus::Compliant
        } else {
            EntityStatus::Shortfall
        };
        result.fine_min = assessment.fine_min;
        result.fine_max = assessment.fine_max;
        result.next_year_deduction = assessment.next_year_deduction;
        Ok(result)
    }

    pub(super) fn close_year(
        &mut self,
        registry: &Registry,
        context: Context,
        scheme: &str,
        year: u16,
        reference_average_price: Option<Price>,
    ) -> Result<ComplianceEffect, ComplianceError> {
        Self::require_administrator(registry, context)?;
        self.check_year_open(scheme, year)?;
        let results = self.results(registry, scheme, year, reference_average_price)?;
        let compliant = results
            .iter()
            .filter(|result| result.status == EntityStatus::Compliant)
            .count();
        let entities = results.len();
        self.closed.insert((scheme.to_owned(), year), results);
        Ok(ComplianceEffect::YearClosed {
            entities,
            compliant,
        })
    }
}
