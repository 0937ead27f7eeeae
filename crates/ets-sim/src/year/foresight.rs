//! What the firms can foresee before they abate: the intensity allocation of the
//! scenario's rulebook per entity (computed on a scratch engine) and the rulebook's
//! obligation caps.

use super::commands::{entity_output, entity_spec, output_basis};
use super::driver::Driver;
use super::setup::setup;
use super::{ADMIN, CHUNK, allowance, compliance, date_ms, entity_account, held};
use crate::scenario::{Scenario, SimEntity, rulebook_text};
use anyhow::{Context as _, Result};
use ets_engine::compliance::{AllocationPhase, ComplianceCommand, ComplianceEffect};
use ets_engine::{Effect, Engine};

/// What firms can foresee of their obligations before they abate: the intensity
/// allocation of the scenario's rulebook (output x benchmark) per entity, and the
/// rulebook's obligation caps.
#[derive(Debug, Clone)]
pub(crate) struct Foresight {
    /// Per entity, its final intensity allocation, tonnes.
    pub allocations: Vec<u64>,
    /// Gas-only entities owe at most their allocation.
    pub gas_cap: bool,
    /// The shortfall cap: `(share, of verified emissions (true) or of allocation)`.
    pub shortfall_cap: Option<(f64, bool)>,
}

impl Foresight {
    /// What an entity with `emissions` (tonnes), allocation `allocation` (tonnes) and
    /// only gas units (`gas`) would owe (the engine's obligation formula, in floats).
    pub fn obligation(&self, emissions: f64, allocation: f64, gas: bool) -> f64 {
        if gas && self.gas_cap {
            return emissions.min(allocation);
        }
        match self.shortfall_cap {
            Some((share, of_verified)) => {
                let cap = share * if of_verified { emissions } else { allocation };
                if emissions - allocation > cap {
                    allocation + cap
                } else {
                    emissions
                }
            }
            None => emissions,
        }
    }
}

/// The scenario's [`Foresight`] for `entities`, computed on a scratch engine in memory.
///
/// # Errors
/// When the rulebook cannot be read or a command is refused.
pub(crate) fn foresight(scenario: &Scenario, entities: &[SimEntity]) -> Result<Foresight> {
    let rulebook = rulebook_text(scenario)?;
    let value: toml::Value = toml::from_str(&rulebook).context("parsing the rulebook")?;
    let obligation = value.get("obligation");
    let gas_cap = obligation
        .and_then(|o| o.get("gas_cap"))
        .and_then(toml::Value::as_bool)
        .unwrap_or(false);
    let cap = obligation.and_then(|o| o.get("shortfall_cap"));
    let shortfall_cap = cap
        .and_then(|c| match c.get("share")? {
            toml::Value::String(text) => text.parse::<f64>().ok(),
            toml::Value::Float(f) => Some(*f),
            _ => None,
        })
        .map(|share| {
            let base = cap
                .and_then(|c| c.get("base"))
                .and_then(toml::Value::as_str);
            (share, base != Some("allocation"))
        });
    let engine = intensity_engine(scenario, entities, &rulebook)?;
    let class = allowance(scenario.scenario.year)?;
    let allocations = entities
        .iter()
        .map(|e| held(&engine, entity_account(e.index), &class))
        .collect();
    Ok(Foresight {
        allocations,
        gas_cap,
        shortfall_cap,
    })
}

/// A scratch engine in memory after the final allocation of the intensity rules
/// (output x benchmark): the base an absolute cap or an auction share scales.
fn intensity_engine(scenario: &Scenario, entities: &[SimEntity], rulebook: &str) -> Result<Engine> {
    let mut engine = Engine::new();
    intensity_allocation_on(&mut engine, scenario, entities, rulebook)?;
    Ok(engine)
}

fn intensity_allocation_on(
    engine: &mut Engine,
    scenario: &Scenario,
    entities: &[SimEntity],
    rulebook: &str,
) -> Result<u64> {
    let mut driver = Driver::new(engine, 0, false);
    let at = date_ms(i64::from(scenario.scenario.year) + 1, 1, 4, 1);
    setup(&mut driver, entities, at)?;
    driver.ok(
        ADMIN,
        at,
        compliance(ComplianceCommand::LoadRulebook {
            source_name: "scratch".into(),
            toml: rulebook.to_owned(),
        }),
    )?;
    let basis = output_basis(rulebook, &scenario.scenario.scheme)?;
    let mut total = 0u64;
    for chunk in entities.chunks(CHUNK) {
        let specs = chunk.iter().map(entity_spec).collect::<Result<Vec<_>>>()?;
        driver.ok(
            ADMIN,
            at,
            compliance(ComplianceCommand::RegisterEntities {
                scheme: scenario.scenario.scheme.clone(),
                entities: specs,
            }),
        )?;
    }
    for chunk in entities.chunks(CHUNK) {
        let outputs = chunk
            .iter()
            .map(|e| entity_output(e, false, basis))
            .collect::<Result<Vec<_>>>()?;
        let effect = driver.ok(
            ADMIN,
            at,
            compliance(ComplianceCommand::Allocate {
                scheme: scenario.scenario.scheme.clone(),
                year: scenario.scenario.year,
                phase: AllocationPhase::Final,
                outputs,
            }),
        )?;
        if let Effect::Compliance(ComplianceEffect::Allocated { issued, .. }) = effect {
            total += issued.tonnes();
        }
    }
    Ok(total)
}
