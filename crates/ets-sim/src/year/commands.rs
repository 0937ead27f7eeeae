//! The compliance commands that describe the simulated population: an entity's
//! registration, its declared output and its emissions report.

use super::{code, compliance, entity_account, entity_participant};
use crate::scenario::SimEntity;
use anyhow::Result;
use ets_engine::Command;
use ets_engine::compliance::{
    ComplianceCommand, Cooling, EntityOutput, EntitySpec, FuelKind, FuelSpec, UnitOutput, UnitSpec,
};

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

/// The output `entity` declares for allocation: the base year's (pre-allocation) or
/// the compliance year's.
pub(super) fn entity_output(entity: &SimEntity, base_year: bool) -> Result<EntityOutput> {
    let units = entity
        .units
        .iter()
        .map(|u| {
            let (mwh, gj) = if base_year {
                (u.base_supply_mwh, u.base_heat_gj)
            } else {
                (u.supply_mwh, u.heat_gj)
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
