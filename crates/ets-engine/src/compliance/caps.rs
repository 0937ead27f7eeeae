//! Relief caps per unit category (China): a company's gas units owe
//! `min(verified, allocation)` of their own emissions and allocation, its coal
//! and other units the 20% shortfall cap of theirs, so a gas unit inside a
//! mixed coal-and-gas company gets its cap. The gas units' emissions are the
//! report's non-coal fuel records (natural gas), their allocation the gas
//! units' lines of the allocation breakdown; purchased electricity counts to
//! the other units. An authority's corrected figure is split in the
//! proportion the report's data gives.

use super::command::UnitCategory;
use super::error::ComplianceError;
use super::reports::fuel_records;
use super::state::{AllocationRecord, Compliance, CoveredEntity, Report, decimal};
use ets_model::Quantity;
use ets_registry::RegistryError;
use ets_scheme::Rulebook;
use ets_scheme::mrv::{self, FuelKind};
use ets_scheme::obligation::{self, ObligationClass};
use ets_scheme::rounding::tonnes_nearest;
use rust_decimal::Decimal;
use std::str::FromStr;

impl Compliance {
    /// The capped obligation of `entity` over `years` (before claw-back owed and make-good):
    /// per unit category when it has gas and other units, else for the whole entity.
    pub(super) fn capped_obligation(
        &self,
        rulebook: &Rulebook,
        entity: &CoveredEntity,
        years: &[u16],
        (verified, allocation): (Quantity, Quantity),
    ) -> Result<Quantity, ComplianceError> {
        let units = &entity.spec.units;
        let gas_units = units
            .iter()
            .filter(|unit| unit.category == UnitCategory::Gas)
            .count();
        let rules = &rulebook.obligation;
        // All gas, or no gas (an EU installation has no units): one class for the entity.
        if gas_units == 0 || gas_units == units.len() {
            let class = if gas_units > 0 {
                ObligationClass::Gas
            } else {
                ObligationClass::CoalOrOther
            };
            return Ok(obligation::obligation(rules, class, verified, allocation)?.surrender);
        }
        let (mut gas_verified, mut gas_allocation) = (Quantity::ZERO, Quantity::ZERO);
        for year in years {
            let participant = entity.spec.participant;
            let more_verified = match self.reports.get(&(participant, *year)) {
                Some(report) => gas_share_of_report(rulebook, report)?,
                None => Quantity::ZERO,
            };
            let more_allocation = match self.allocations.get(&(participant, *year)) {
                Some(record) => gas_allocation_of(entity, record)?,
                None => Quantity::ZERO,
            };
            gas_verified = add(gas_verified, more_verified)?;
            gas_allocation = add(gas_allocation, more_allocation)?;
        }
        let other_verified = verified.checked_sub(gas_verified).unwrap_or(Quantity::ZERO);
        let other_allocation = allocation
            .checked_sub(gas_allocation)
            .unwrap_or(Quantity::ZERO);
        let gas =
            obligation::obligation(rules, ObligationClass::Gas, gas_verified, gas_allocation)?;
        let other = obligation::obligation(
            rules,
            ObligationClass::CoalOrOther,
            other_verified,
            other_allocation,
        )?;
        add(gas.surrender, other.surrender)
    }
}

fn add(left: Quantity, right: Quantity) -> Result<Quantity, ComplianceError> {
    left.checked_add(right)
        .map_err(|_| RegistryError::Overflow("obligation by unit category").into())
}

/// The gas units' part of a report's verified emissions: verified x (emissions of its
/// non-coal fuel records / all its emissions), to the nearest tonne.
fn gas_share_of_report(rulebook: &Rulebook, report: &Report) -> Result<Quantity, ComplianceError> {
    let (Some(verified), Some(rules)) = (report.verified_emissions, rulebook.mrv) else {
        return Ok(Quantity::ZERO);
    };
    let records = fuel_records(&report.fuels)?;
    let gas_records: Vec<mrv::FuelRecord> = records
        .iter()
        .filter(|record| record.kind == FuelKind::Other)
        .copied()
        .collect();
    if gas_records.is_empty() {
        return Ok(Quantity::ZERO);
    }
    let purchased = decimal(
        "purchased_electricity_mwh",
        &report.purchased_electricity_mwh,
    )?;
    let all = mrv::emissions(&rules, &records, purchased)?.exact_tonnes;
    if all.is_zero() {
        return Ok(Quantity::ZERO);
    }
    let gas = mrv::emissions(&rules, &gas_records, Decimal::ZERO)?.exact_tonnes;
    let share = gas / all;
    Ok(tonnes_nearest(
        "gas units' emissions",
        Decimal::from(verified.tonnes()) * share,
    )?
    .min(verified))
}

/// The gas units' part of a year's allocation: their lines of the breakdown, to the
/// nearest tonne, never more than the allocation that counts.
fn gas_allocation_of(
    entity: &CoveredEntity,
    record: &AllocationRecord,
) -> Result<Quantity, ComplianceError> {
    let mut exact = Decimal::ZERO;
    for (code, tonnes) in &record.breakdown {
        let is_gas = entity
            .spec
            .units
            .iter()
            .any(|unit| unit.unit.as_str() == code && unit.category == UnitCategory::Gas);
        if is_gas {
            exact += Decimal::from_str(tonnes).map_err(|_| ComplianceError::BadDecimal {
                field: "allocation breakdown",
                text: tonnes.clone(),
            })?;
        }
    }
    Ok(tonnes_nearest("gas units' allocation", exact)?.min(record.allocation()))
}
