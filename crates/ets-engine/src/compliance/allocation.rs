//! Free allocation carried out as registry transactions: China's
//! pre-allocation and true-up (with what the entity owes the year's
//! allocation deducted first) and EU allocation `F = BM x HAL x CLEF x CSCF`.
//! Every figure is computed before the registry is touched; the registry
//! steps run on a copy that replaces it only when all succeed.

use super::command::{
    AllocationPhase, Cooling, EntityOutput, EuInstallationInput, LeakageExposure, UnitCategory,
};
use super::error::ComplianceError;
use super::state::{
    AllocationRecord, Compliance, ComplianceEffect, CoveredEntity, ENTITIES_PER_COMMAND_MAX,
    decimal,
};
use ets_model::{AccountId, ParticipantId, Quantity, TransactionId, UnitClass, Vintage};
use ets_registry::{Context, Effect, Registry, RegistryCommand, RegistryError, TransactionStatus};
use ets_scheme::allocation::{self, ChinaUnitOutput, EuSubInstallation, Operation};
use ets_scheme::rulebook::{CarbonLeakageExposure, ChinaAllocationRules};
use std::collections::BTreeMap;

/// One entity's allocation step, computed before anything is applied (China, EU and the
/// industrial sectors).
pub(super) struct Plan {
    pub(super) account: AccountId,
    pub(super) participant: ParticipantId,
    pub(super) total: Quantity,
    pub(super) record: AllocationRecord,
    pub(super) breakdown: Vec<(String, String)>,
}

/// What an allocation command issued and clawed back in all.
#[derive(Default)]
pub(super) struct Totals {
    issued: Quantity,
    clawed_back: Quantity,
}

impl Compliance {
    /// The units of an entity with their output for the formula, in the entity's unit order.
    fn unit_outputs(
        entity: &CoveredEntity,
        output: &EntityOutput,
    ) -> Result<Vec<(String, ChinaUnitOutput)>, ComplianceError> {
        let bad = |problem: String| ComplianceError::BadUnits {
            participant: output.participant,
            problem,
        };
        if output.units.len() != entity.spec.units.len() {
            return Err(bad(format!(
                "output given for {} units but the entity has {}",
                output.units.len(),
                entity.spec.units.len()
            )));
        }
        entity
            .spec
            .units
            .iter()
            .map(|unit| {
                let line = output
                    .units
                    .iter()
                    .find(|line| line.unit == unit.unit)
                    .ok_or_else(|| bad(format!("no output for unit {}", unit.unit)))?;
                let formula_input = ChinaUnitOutput {
                    category: scheme_category(unit.category),
                    cooling: match unit.cooling {
                        Cooling::Water => allocation::Cooling::Water,
                        Cooling::Air => allocation::Cooling::Air,
                    },
                    operation: if unit.combined_heat_and_power {
                        Operation::CombinedHeatAndPower
                    } else {
                        Operation::PureCondensing
                    },
                    electricity_mwh: decimal("electricity_mwh", &line.electricity_mwh)?,
                    heat_gj: decimal("heat_gj", &line.heat_gj)?,
                    heat_supply_ratio: decimal("heat_supply_ratio", &line.heat_supply_ratio)?,
                    load_factor: decimal("load_factor", &line.load_factor)?,
                };
                Ok((unit.unit.to_string(), formula_input))
            })
            .collect()
    }

    pub(super) fn allocate(
        &mut self,
        registry: &mut Registry,
        context: Context,
        scheme: &str,
        year: u16,
        phase: AllocationPhase,
        outputs: &[EntityOutput],
    ) -> Result<ComplianceEffect, ComplianceError> {
        Self::require_administrator(registry, context)?;
        self.check_year_open(scheme, year)?;
        let rulebook = self.rulebook(scheme)?;
        let rules = rulebook
            .china_allocation()
            .ok_or_else(|| ComplianceError::AllocationModeUnsupported(scheme.to_owned()))?;
        let class = UnitClass::Allowance {
            scheme: rulebook.scheme.unit_code,
            vintage: Vintage(year),
        };
        // Compute every entity's figure first; nothing is touched yet.
        let plans = outputs
            .iter()
            .map(|output| self.plan_china(scheme, rules, (year, phase), output))
            .collect::<Result<Vec<_>, _>>()?;
        self.apply_plans(registry, context, (class, year, phase), plans)
    }

    /// Applies every entity's planned allocation through the registry on a copy (a
    /// failure leaves everything unchanged), then records them: power's and the
    /// industrial sectors' allocations alike.
    pub(super) fn apply_plans(
        &mut self,
        registry: &mut Registry,
        context: Context,
        (class, year, phase): (UnitClass, u16, AllocationPhase),
        plans: Vec<Plan>,
    ) -> Result<ComplianceEffect, ComplianceError> {
        let mut scratch = registry.clone();
        let mut totals = Totals::default();
        let mut records = Vec::with_capacity(plans.len());
        for plan in plans {
            records.push(self.apply_china(
                &mut scratch,
                context,
                (class, year, phase),
                plan,
                &mut totals,
            )?);
        }
        *registry = scratch;
        Ok(self.store_allocations(year, records, &totals))
    }

    /// One entity's China allocation step: the formula's figure and the record it updates.
    fn plan_china(
        &self,
        scheme: &str,
        rules: &ChinaAllocationRules,
        (year, phase): (u16, AllocationPhase),
        output: &EntityOutput,
    ) -> Result<Plan, ComplianceError> {
        let entity = self.entity_in(output.participant, scheme)?;
        let units = Self::unit_outputs(entity, output)?;
        let inputs: Vec<ChinaUnitOutput> = units.iter().map(|(_, input)| *input).collect();
        let computed = match phase {
            AllocationPhase::Pre => allocation::china_pre_allocation(rules, &inputs)?,
            AllocationPhase::Final => allocation::china_entity_allocation(rules, &inputs)?,
        };
        let record = self
            .allocations
            .get(&(output.participant, year))
            .cloned()
            .unwrap_or_default();
        check_order(&record, phase, output.participant, year)?;
        let breakdown = units
            .iter()
            .zip(&computed.units)
            .map(|((code, _), unit)| (code.clone(), unit.total_tonnes.to_string()))
            .collect();
        Ok(Plan {
            account: entity.spec.account,
            participant: output.participant,
            total: computed.total,
            record,
            breakdown,
        })
    }

    /// Carries out one entity's China allocation step on `scratch`; returns its new record.
    pub(super) fn apply_china(
        &self,
        scratch: &mut Registry,
        context: Context,
        (class, year, phase): (UnitClass, u16, AllocationPhase),
        plan: Plan,
        totals: &mut Totals,
    ) -> Result<(ParticipantId, AllocationRecord), ComplianceError> {
        let Plan {
            account,
            participant,
            total,
            mut record,
            breakdown,
        } = plan;
        let already = record.pre_allocated.unwrap_or(Quantity::ZERO);
        let (give, take) = match phase {
            AllocationPhase::Pre => {
                // What the entity owes this year's allocation comes off first; what the
                // pre-allocation cannot cover is owed at this year's close.
                // A deduction applied already (at a close after this year's final
                // allocation) is not taken twice.
                let due = self
                    .deduction_due(participant, year)
                    .checked_sub(record.deducted)
                    .unwrap_or(Quantity::ZERO);
                let deducted = due.min(total);
                record.deducted = record
                    .deducted
                    .checked_add(deducted)
                    .map_err(|_| RegistryError::Overflow("deducted"))?;
                record.claw_back_outstanding = record
                    .claw_back_outstanding
                    .checked_add(due.checked_sub(deducted).unwrap_or(Quantity::ZERO))
                    .map_err(|_| RegistryError::Overflow("claw-back owed"))?;
                (
                    total.checked_sub(deducted).unwrap_or(Quantity::ZERO),
                    Quantity::ZERO,
                )
            }
            AllocationPhase::Final => match allocation::true_up(total, already) {
                allocation::TrueUp::Issue(more) => (more, Quantity::ZERO),
                allocation::TrueUp::ClawBack(less) => (Quantity::ZERO, less),
                allocation::TrueUp::Balanced => (Quantity::ZERO, Quantity::ZERO),
            },
        };
        if !give.is_zero() {
            issue_and_allocate(
                scratch,
                context,
                (class, account, give),
                &mut record.transactions,
                &mut totals.issued,
            )?;
        }
        if !take.is_zero() {
            let reason = format!("claw-back of {year} over-allocation (true-up)");
            let now = claw_back(
                scratch,
                context,
                (class, account, take),
                reason,
                &mut record.transactions,
            )?;
            record.claw_back_outstanding = record
                .claw_back_outstanding
                .checked_add(take.checked_sub(now).unwrap_or(Quantity::ZERO))
                .map_err(|_| RegistryError::Overflow("claw-back owed"))?;
            totals.clawed_back = totals
                .clawed_back
                .checked_add(now)
                .map_err(|_| RegistryError::Overflow("claw-back total"))?;
        }
        match phase {
            AllocationPhase::Pre => record.pre_allocated = Some(total),
            AllocationPhase::Final => record.final_allocation = Some(total),
        }
        record.breakdown = breakdown;
        Ok((participant, record))
    }

    /// Keeps the new allocation records of `year` and says what the command did.
    pub(super) fn store_allocations(
        &mut self,
        year: u16,
        records: Vec<(ParticipantId, AllocationRecord)>,
        totals: &Totals,
    ) -> ComplianceEffect {
        let entities = records.len();
        for (participant, record) in records {
            self.allocations.insert((participant, year), record);
        }
        ComplianceEffect::Allocated {
            entities,
            issued: totals.issued,
            clawed_back: totals.clawed_back,
        }
    }

    pub(super) fn allocate_eu(
        &mut self,
        registry: &mut Registry,
        context: Context,
        scheme: &str,
        year: u16,
        installations: &[EuInstallationInput],
    ) -> Result<ComplianceEffect, ComplianceError> {
        Self::require_administrator(registry, context)?;
        self.check_year_open(scheme, year)?;
        let rulebook = self.rulebook(scheme)?;
        let rules = rulebook
            .eu_allocation()
            .ok_or_else(|| ComplianceError::AllocationModeUnsupported(scheme.to_owned()))?;
        if installations.len() > ENTITIES_PER_COMMAND_MAX {
            return Err(ComplianceError::BadUnits {
                participant: ParticipantId(0),
                problem: format!(
                    "at most {ENTITIES_PER_COMMAND_MAX} installations per command, got {}",
                    installations.len()
                ),
            });
        }
        let class = UnitClass::Allowance {
            scheme: rulebook.scheme.unit_code,
            vintage: Vintage(year),
        };
        // Compute every installation's figure first; nothing is touched yet.
        let mut seen = BTreeMap::new();
        let mut plans = Vec::with_capacity(installations.len());
        for installation in installations {
            self.entity_in(installation.participant, scheme)?;
            if seen.insert(installation.participant, ()).is_some() {
                return Err(ComplianceError::BadUnits {
                    participant: installation.participant,
                    problem: "the installation is listed twice".to_owned(),
                });
            }
            plans.push(self.plan_eu(scheme, rules, year, installation)?);
        }
        // Apply through the registry on a copy, so a failure leaves everything unchanged.
        let mut scratch = registry.clone();
        let mut totals = Totals::default();
        let mut records = Vec::with_capacity(plans.len());
        for mut plan in plans {
            if !plan.total.is_zero() {
                issue_and_allocate(
                    &mut scratch,
                    context,
                    (class, plan.account, plan.total),
                    &mut plan.record.transactions,
                    &mut totals.issued,
                )?;
            }
            plan.record.final_allocation = Some(plan.total);
            plan.record.breakdown = plan.breakdown;
            records.push((plan.participant, plan.record));
        }
        *registry = scratch;
        Ok(self.store_allocations(year, records, &totals))
    }

    /// One installation's EU allocation: the formula's figure and the record it updates.
    fn plan_eu(
        &self,
        scheme: &str,
        rules: &ets_scheme::rulebook::EuAllocationRules,
        year: u16,
        installation: &EuInstallationInput,
    ) -> Result<Plan, ComplianceError> {
        let participant = installation.participant;
        let entity = self.entity_in(participant, scheme)?;
        let inputs = eu_inputs(installation)?;
        let computed = allocation::eu_installation_allocation(rules, year, &inputs)?;
        let record = self
            .allocations
            .get(&(participant, year))
            .cloned()
            .unwrap_or_default();
        if record.final_allocation.is_some() {
            return Err(ComplianceError::AllocationOrder {
                participant,
                year,
                problem: "the allocation for this year was done already",
            });
        }
        let breakdown = installation
            .sub_installations
            .iter()
            .zip(&computed.sub_installation_tonnes)
            .map(|(sub, tonnes)| {
                (
                    sub.sub_installation.to_string(),
                    tonnes.normalize().to_string(),
                )
            })
            .collect();
        Ok(Plan {
            account: entity.spec.account,
            participant,
            total: computed.total,
            record,
            breakdown,
        })
    }
}

/// An installation's sub-installations as formula inputs, after checking the list.
fn eu_inputs(
    installation: &EuInstallationInput,
) -> Result<Vec<EuSubInstallation>, ComplianceError> {
    let bad = |problem: &str| ComplianceError::BadUnits {
        participant: installation.participant,
        problem: problem.to_owned(),
    };
    if installation.sub_installations.is_empty() {
        return Err(bad("an installation needs 1 or more sub-installations"));
    }
    let mut codes: Vec<_> = installation
        .sub_installations
        .iter()
        .map(|sub| sub.sub_installation)
        .collect();
    codes.sort_unstable();
    codes.dedup();
    if codes.len() != installation.sub_installations.len() {
        return Err(bad("a sub-installation code is listed twice"));
    }
    installation
        .sub_installations
        .iter()
        .map(|sub| {
            Ok(EuSubInstallation {
                benchmark_allowances_per_activity_unit: decimal("benchmark", &sub.benchmark)?,
                historical_activity_level: decimal(
                    "historical_activity_level",
                    &sub.historical_activity_level,
                )?,
                exposure: match sub.exposure {
                    LeakageExposure::Exposed => CarbonLeakageExposure::Exposed,
                    LeakageExposure::NotExposed => CarbonLeakageExposure::NotExposed,
                    LeakageExposure::DistrictHeating => CarbonLeakageExposure::DistrictHeating,
                },
            })
        })
        .collect()
}

/// Refuses a pre-allocation or final allocation of `participant` for `year` done already.
pub(super) fn check_order(
    record: &AllocationRecord,
    phase: AllocationPhase,
    participant: ParticipantId,
    year: u16,
) -> Result<(), ComplianceError> {
    let problem = match phase {
        AllocationPhase::Pre if record.pre_allocated.is_some() => "pre-allocation was done already",
        AllocationPhase::Final if record.final_allocation.is_some() => {
            "final allocation was done already"
        }
        _ => return Ok(()),
    };
    Err(ComplianceError::AllocationOrder {
        participant,
        year,
        problem,
    })
}

/// Cancels up to `take` of `class` from `account` (never more than it holds: a balance
/// never goes negative); returns what was taken. The rest is the caller's to record as owed.
pub(super) fn claw_back(
    scratch: &mut Registry,
    context: Context,
    (class, account, take): (UnitClass, AccountId, Quantity),
    reason: String,
    transactions: &mut Vec<TransactionId>,
) -> Result<Quantity, ComplianceError> {
    let held = scratch
        .class_index(&class)
        .ok()
        .and_then(|index| scratch.account(account).ok().map(|a| a.available(index)))
        .unwrap_or(Quantity::ZERO);
    let now = take.min(held);
    if !now.is_zero() {
        transactions.push(run(
            scratch,
            context,
            RegistryCommand::Cancel {
                from: account,
                class,
                quantity: now,
                reason,
            },
        )?);
    }
    Ok(now)
}

fn scheme_category(category: UnitCategory) -> ets_scheme::rulebook::UnitCategory {
    match category {
        UnitCategory::CoalAbove300Mw => ets_scheme::rulebook::UnitCategory::CoalAbove300Mw,
        UnitCategory::CoalAtMost300Mw => ets_scheme::rulebook::UnitCategory::CoalAtMost300Mw,
        UnitCategory::UnconventionalCoal => ets_scheme::rulebook::UnitCategory::UnconventionalCoal,
        UnitCategory::Gas => ets_scheme::rulebook::UnitCategory::Gas,
    }
}

/// Issues `quantity` of `class` and allocates it to `account` on `scratch`,
/// recording both transactions and adding the quantity to `issued`.
pub(super) fn issue_and_allocate(
    scratch: &mut Registry,
    context: Context,
    (class, account, quantity): (UnitClass, AccountId, Quantity),
    transactions: &mut Vec<TransactionId>,
    issued: &mut Quantity,
) -> Result<(), ComplianceError> {
    transactions.push(run(
        scratch,
        context,
        RegistryCommand::Issue { class, quantity },
    )?);
    transactions.push(run(
        scratch,
        context,
        RegistryCommand::Allocate {
            to: account,
            class,
            quantity,
        },
    )?);
    *issued = issued
        .checked_add(quantity)
        .map_err(|_| RegistryError::Overflow("allocation total"))?;
    Ok(())
}

/// Runs a registry command that must complete at once; returns its transaction.
pub(super) fn run(
    registry: &mut Registry,
    context: Context,
    command: RegistryCommand,
) -> Result<TransactionId, ComplianceError> {
    match registry.execute(context, &command)? {
        Effect::Transaction {
            id,
            status: TransactionStatus::Completed,
        } => Ok(id),
        _ => Err(ComplianceError::AllocationNeedsSingleSignature),
    }
}
