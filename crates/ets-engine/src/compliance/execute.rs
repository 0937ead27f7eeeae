//! Executing compliance commands: the dispatch, loading rulebooks and
//! registering covered entities.

use super::carry_over::NetSales;
use super::command::{ComplianceCommand, EntitySpec};
use super::error::ComplianceError;
use super::reports::ReportData;
use super::state::{
    Compliance, ComplianceEffect, CoveredEntity, ENTITIES_PER_COMMAND_MAX, LoadedRulebook,
};
use ets_model::ParticipantId;
use ets_registry::{AccountKind, Context, ParticipantKind, Registry};
use ets_scheme::Rulebook;
use std::collections::BTreeMap;

impl Compliance {
    /// Executes one compliance command; `net_sales` gives the exchange's net sales per
    /// account (the carry-over cap at a close reads it).
    ///
    /// # Errors
    /// A [`ComplianceError`]; then neither the compliance state nor the registry changed.
    pub fn execute(
        &mut self,
        registry: &mut Registry,
        context: Context,
        command: &ComplianceCommand,
        net_sales: NetSales<'_>,
    ) -> Result<ComplianceEffect, ComplianceError> {
        match command {
            ComplianceCommand::LoadRulebook { source_name, toml } => {
                self.load_rulebook(registry, context, source_name, toml)
            }
            ComplianceCommand::RegisterEntities { scheme, entities } => {
                self.register_entities(registry, context, scheme, entities)
            }
            ComplianceCommand::Allocate {
                scheme,
                year,
                phase,
                outputs,
            } => self.allocate(registry, context, scheme, *year, *phase, outputs),
            ComplianceCommand::AllocateEu {
                scheme,
                year,
                installations,
            } => self.allocate_eu(registry, context, scheme, *year, installations),
            ComplianceCommand::AllocateSector {
                scheme,
                year,
                phase,
                firms,
            } => self.allocate_sector(registry, context, (scheme, *year), *phase, firms),
            ComplianceCommand::Borrow {
                entity,
                year,
                quantity,
            } => self.borrow(registry, context, *entity, *year, *quantity),
            ComplianceCommand::CloseYear {
                scheme,
                year,
                reference_average_price,
            } => self.close_year(
                registry,
                context,
                (scheme, *year),
                *reference_average_price,
                net_sales,
            ),
            ComplianceCommand::SubmitReport { .. }
            | ComplianceCommand::SetPlausibilityRanges { .. }
            | ComplianceCommand::VerifyReport { .. }
            | ComplianceCommand::CorrectReport { .. } => {
                self.execute_reporting(registry, context, command)
            }
        }
    }

    /// The monitoring, reporting and verification commands of [`Compliance::execute`].
    fn execute_reporting(
        &mut self,
        registry: &mut Registry,
        context: Context,
        command: &ComplianceCommand,
    ) -> Result<ComplianceEffect, ComplianceError> {
        match command {
            ComplianceCommand::SubmitReport {
                entity,
                year,
                fuels,
                purchased_electricity_mwh,
                output_mwh,
                draft,
            } => {
                let data = ReportData {
                    fuels,
                    purchased_electricity_mwh,
                    output_mwh,
                    draft: *draft,
                };
                self.submit_report(registry, context, *entity, *year, data)
            }
            ComplianceCommand::SetPlausibilityRanges {
                scheme,
                carbon_content_min,
                carbon_content_max,
                intensity_min,
                intensity_max,
            } => {
                let ranges = [
                    carbon_content_min.clone(),
                    carbon_content_max.clone(),
                    intensity_min.clone(),
                    intensity_max.clone(),
                ];
                self.set_plausibility_ranges(registry, context, scheme, ranges)
            }
            ComplianceCommand::VerifyReport {
                entity,
                year,
                accept,
            } => self.verify_report(registry, context, *entity, *year, *accept),
            ComplianceCommand::CorrectReport {
                entity,
                year,
                emissions,
            } => self.correct_report(registry, context, *entity, *year, *emissions),
            ComplianceCommand::LoadRulebook { .. }
            | ComplianceCommand::RegisterEntities { .. }
            | ComplianceCommand::Allocate { .. }
            | ComplianceCommand::AllocateEu { .. }
            | ComplianceCommand::AllocateSector { .. }
            | ComplianceCommand::Borrow { .. }
            | ComplianceCommand::CloseYear { .. } => {
                unreachable!("Compliance::execute handles this command itself")
            }
        }
    }

    fn load_rulebook(
        &mut self,
        registry: &Registry,
        context: Context,
        source_name: &str,
        toml: &str,
    ) -> Result<ComplianceEffect, ComplianceError> {
        Self::require_administrator(registry, context)?;
        let rulebook = Rulebook::from_toml_str(toml, source_name).map_err(|error| {
            ComplianceError::Rulebook {
                code: error.code(),
                message: error.to_string(),
            }
        })?;
        let scheme = rulebook.scheme.id.clone();
        if self.rulebooks.contains_key(&scheme) {
            return Err(ComplianceError::SchemeExists(scheme));
        }
        self.rulebooks.insert(
            scheme.clone(),
            LoadedRulebook {
                source_name: source_name.to_owned(),
                toml: toml.to_owned(),
                parsed: Some(rulebook),
            },
        );
        Ok(ComplianceEffect::RulebookLoaded { scheme })
    }

    fn register_entities(
        &mut self,
        registry: &Registry,
        context: Context,
        scheme: &str,
        entities: &[EntitySpec],
    ) -> Result<ComplianceEffect, ComplianceError> {
        Self::require_administrator(registry, context)?;
        // Only China's power rulebooks allocate per unit: EU installations have
        // sub-installations (given with their allocation data), sector firms neither.
        let units_required = self.rulebook(scheme)?.china_allocation().is_some();
        if entities.len() > ENTITIES_PER_COMMAND_MAX {
            return Err(ComplianceError::BadUnits {
                participant: ParticipantId(0),
                problem: format!(
                    "at most {ENTITIES_PER_COMMAND_MAX} entities per command, got {}",
                    entities.len()
                ),
            });
        }
        let mut seen = BTreeMap::new();
        for spec in entities {
            check_entity(registry, spec, units_required)?;
            if self
                .entities
                .contains_key(&(spec.participant, scheme.to_owned()))
                || seen.insert(spec.participant, ()).is_some()
            {
                return Err(ComplianceError::EntityExists(spec.participant));
            }
        }
        for spec in entities {
            self.entities.insert(
                (spec.participant, scheme.to_owned()),
                CoveredEntity {
                    scheme: scheme.to_owned(),
                    spec: spec.clone(),
                },
            );
        }
        Ok(ComplianceEffect::EntitiesRegistered {
            count: entities.len(),
        })
    }
}

/// Checks that an entity spec names a covered entity, its own operator
/// holding account, and a sensible list of units.
fn check_entity(
    registry: &Registry,
    spec: &EntitySpec,
    units_required: bool,
) -> Result<(), ComplianceError> {
    let participant = registry.participant(spec.participant)?;
    if participant.kind != ParticipantKind::CoveredEntity {
        return Err(ComplianceError::UnknownEntity(spec.participant));
    }
    let account = registry.account(spec.account)?;
    if account.kind != AccountKind::OperatorHolding || account.holder != spec.participant {
        return Err(ComplianceError::NotEntityAccount {
            participant: spec.participant,
            account: spec.account,
        });
    }
    let bad = |problem: String| ComplianceError::BadUnits {
        participant: spec.participant,
        problem,
    };
    if (units_required && spec.units.is_empty()) || spec.units.len() > 64 {
        return Err(bad(format!(
            "an entity has 1 to 64 units (0 allowed under an EU or sector rulebook), got {}",
            spec.units.len()
        )));
    }
    let mut codes: Vec<_> = spec.units.iter().map(|unit| unit.unit).collect();
    codes.sort_unstable();
    codes.dedup();
    if codes.len() != spec.units.len() {
        return Err(bad("a unit code is listed twice".to_owned()));
    }
    if let Some(unit) = spec
        .units
        .iter()
        .find(|unit| unit.capacity_mw == 0 || unit.capacity_mw > 10_000)
    {
        return Err(bad(format!(
            "unit {} has capacity {} MW, outside 1-10000",
            unit.unit, unit.capacity_mw
        )));
    }
    Ok(())
}
