//! The compliance commands that describe the simulated population: an entity's
//! registration, its declared output and its emissions report.

use super::{code, compliance, entity_account, entity_participant};
use crate::scenario::SimEntity;
use anyhow::Result;
use ets_engine::Command;
use ets_engine::compliance::{
    ComplianceCommand, Cooling, EntityOutput, EntitySpec, FuelKind, FuelSpec, UnitOutput, UnitSpec,
};
use ets_scheme::Rulebook;
use ets_scheme::rulebook::OutputBasis;

/// The registration of `entity`: its participant, account and units.
pub(super) fn entity_spec(entity: &SimEntity) -> Result<EntitySpec> {
    let units = entity
        .units
        .iter()
        .map(|u| {
            Ok(UnitSpec {
                unit: code(&u.code)?,
                category: u.category,
                capacity_mw: u.capacity_mw,
                cooling: if u.air_cooled {
                    Cooling::Air
                } else {
                    Cooling::Water
                },
                combined_heat_and_power: u.chp,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(EntitySpec {
        participant: entity_participant(entity.index),
        account: entity_account(entity.index),
        units,
    })
}

/// What the power rulebook `text` (named `name` in errors) counts electricity in: net
/// supply to 2022, generation from 2023.
pub(super) fn output_basis(text: &str, name: &str) -> Result<OutputBasis> {
    let rulebook = Rulebook::from_toml_str(text, name).map_err(|e| anyhow::anyhow!("{e}"))?;
    rulebook
        .china_allocation()
        .map(|rules| rules.output_basis)
        .ok_or_else(|| anyhow::anyhow!("{name}: a power scenario needs [allocation.china]"))
}

/// The output `entity` declares for allocation: the base year's (pre-allocation) or
/// the compliance year's, electricity on the rulebook's basis (net supply to 2022,
/// generation from 2023).
pub(super) fn entity_output(
    entity: &SimEntity,
    base_year: bool,
    basis: OutputBasis,
) -> Result<EntityOutput> {
    let units = entity
        .units
        .iter()
        .map(|u| {
            let (mwh, gj) = match (base_year, basis) {
                (true, OutputBasis::Supply) => (u.base_supply_mwh, u.base_heat_gj),
                (true, OutputBasis::Generation) => (u.base_generation_mwh, u.base_heat_gj),
                (false, OutputBasis::Supply) => (u.supply_mwh, u.heat_gj),
                (false, OutputBasis::Generation) => (u.generation_mwh.round() as u64, u.heat_gj),
            };
            Ok(UnitOutput {
                unit: code(&u.code)?,
                electricity_mwh: mwh.to_string(),
                heat_gj: gj.to_string(),
                heat_supply_ratio: format!("{:.4}", u.heat_supply_ratio),
                load_factor: format!("{:.4}", u.load_factor),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(EntityOutput {
        participant: entity_participant(entity.index),
        units,
    })
}

/// The annual emissions report of `entity` for `year`, as the firm states it (an
/// under-reporter states a lower carbon content than measured).
pub(super) fn report_command(entity: &SimEntity, year: u16) -> Result<Command> {
    let fuels = entity
        .units
        .iter()
        .map(|u| {
            // An under-reporter states a lower carbon content than measured.
            let cc = u.fuel.carbon_content * (1.0 - entity.under_report);
            FuelSpec {
                kind: if u.fuel.gas {
                    FuelKind::Other
                } else {
                    FuelKind::Coal
                },
                consumed: u.fuel.consumed.to_string(),
                net_calorific_value: format!("{:.3}", u.fuel.ncv),
                carbon_content: Some(format!("{cc:.5}")),
                oxidation_rate: Some(format!("{:.2}", u.fuel.oxidation_rate)),
            }
        })
        .collect();
    // The intensity check uses peer ranges of coal: gas-owning entities report no output.
    let output: u64 = if entity.has_gas() {
        0
    } else {
        entity.units.iter().map(|u| u.supply_mwh).sum()
    };
    Ok(compliance(ComplianceCommand::SubmitReport {
        entity: entity_participant(entity.index),
        year,
        fuels,
        purchased_electricity_mwh: "0".into(),
        output_mwh: output.to_string(),
        draft: false,
    }))
}
