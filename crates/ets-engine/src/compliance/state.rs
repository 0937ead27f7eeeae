//! Compliance state and the execution of compliance commands.

use super::command::{
    AllocationPhase, ComplianceCommand, Cooling, EntityOutput, EntitySpec, EuInstallationInput,
    FuelKind, FuelSpec, LeakageExposure, UnitCategory,
};
use super::error::ComplianceError;
use ets_model::{
    AccountId, Money, ParticipantId, Price, Quantity, Timestamp, TransactionId, UnitClass, Vintage,
};
use ets_registry::{
    AccountKind, Context, Effect, ParticipantKind, Registry, RegistryCommand, RegistryError,
    TransactionKind, TransactionStatus,
};
use ets_scheme::Rulebook;
use ets_scheme::allocation::{self, ChinaUnitOutput, EuSubInstallation, Operation};
use ets_scheme::compliance::{YearRecord, eu_compliance_status};
use ets_scheme::mrv;
use ets_scheme::obligation::{self, ObligationClass};
use ets_scheme::penalty::{self, PenaltyInput};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::str::FromStr;

/// The most entities one command may register or allocate to.
pub const ENTITIES_PER_COMMAND_MAX: usize = 10_000;

/// A loaded rulebook: its text is the durable form; the parsed form is rebuilt on restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct LoadedRulebook {
    source_name: String,
    toml: String,
    #[serde(skip)]
    parsed: Option<Rulebook>,
}

/// A registered covered entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct CoveredEntity {
    scheme: String,
    spec: EntitySpec,
}

/// What was allocated to an entity for a year.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocationRecord {
    /// Pre-allocated tonnes.
    pub pre_allocated: Option<Quantity>,
    /// Final allocation tonnes, after the true-up.
    pub final_allocation: Option<Quantity>,
    /// Per unit: (unit code, exact tonnes as text) of the latest step.
    pub breakdown: Vec<(String, String)>,
    /// A claw-back that exceeded what the account held: owed at the close of the year.
    pub claw_back_outstanding: Quantity,
    /// Allowances borrowed from a later vintage for this year.
    pub borrowed: Quantity,
    /// Deducted from this year's pre-allocation: last year's shortfall (China's next-year
    /// deduction) and allowances borrowed earlier against this year's vintage.
    #[serde(default)]
    pub deducted: Quantity,
    /// The registry transactions that carried the allocation.
    pub transactions: Vec<TransactionId>,
}

impl AllocationRecord {
    /// The allocation that counts: final if known, else pre-allocated.
    #[must_use]
    pub fn allocation(&self) -> Quantity {
        self.final_allocation
            .or(self.pre_allocated)
            .unwrap_or(Quantity::ZERO)
    }
}

/// Where a report stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReportStatus {
    /// Submitted, awaiting verification.
    Submitted,
    /// Accepted by a verifier.
    Verified,
    /// Rejected by a verifier; may be resubmitted.
    Rejected,
    /// Emissions set by the authority.
    Corrected,
    /// Saved by the entity, not yet submitted.
    Draft,
}

impl ReportStatus {
    /// The snake_case name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ReportStatus::Submitted => "submitted",
            ReportStatus::Verified => "verified",
            ReportStatus::Rejected => "rejected",
            ReportStatus::Corrected => "corrected",
            ReportStatus::Draft => "draft",
        }
    }
}

/// An emissions report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Its status.
    pub status: ReportStatus,
    /// The fuel records as submitted.
    pub fuels: Vec<FuelSpec>,
    /// Purchased electricity as submitted.
    pub purchased_electricity_mwh: String,
    /// Emissions computed from the data, tonnes.
    pub computed_emissions: Quantity,
    /// Fuel records that used the rulebook's default carbon content.
    pub records_using_default_carbon_content: usize,
    /// Who submitted it.
    pub submitted_by: ParticipantId,
    /// Who verified, rejected or corrected it.
    pub decided_by: Option<ParticipantId>,
    /// The emissions that count once verified or corrected.
    pub verified_emissions: Option<Quantity>,
    /// Implausibility flags for the verifier (code: detail), empty when none or no ranges set.
    pub flags: Vec<String>,
}

/// An entity's standing for a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntityStatus {
    /// Surrendered at least its obligation.
    Compliant,
    /// Surrendered less than its obligation.
    Shortfall,
    /// No verified emissions.
    NoVerifiedReport,
}

impl EntityStatus {
    /// The snake_case name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            EntityStatus::Compliant => "compliant",
            EntityStatus::Shortfall => "shortfall",
            EntityStatus::NoVerifiedReport => "no_verified_report",
        }
    }
}

/// One line of a compliance report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityResult {
    /// The entity.
    pub entity: ParticipantId,
    /// Its account.
    pub account: AccountId,
    /// Verified emissions, if any.
    pub verified_emissions: Option<Quantity>,
    /// Allocation that counts.
    pub allocation: Quantity,
    /// Tonnes owed (caps applied, claw-back owed added).
    pub obligation: Quantity,
    /// Allowances surrendered for the year.
    pub allowances_surrendered: Quantity,
    /// Offsets surrendered for the year that count (within the limit).
    pub offsets_used: Quantity,
    /// Status.
    pub status: EntityStatus,
    /// Shortfall in tonnes.
    pub shortfall: Quantity,
    /// Lowest fine of the regime.
    pub fine_min: Money,
    /// Highest fine of the regime.
    pub fine_max: Money,
    /// Tonnes to deduct from next year's allocation.
    pub next_year_deduction: Quantity,
    /// EU rulebooks: the cumulative EUTL status code (`A`, `B`, `C`, `EXCLUDED`, `-`) over
    /// the rulebook's years up to this one (verified emissions per year against everything
    /// surrendered for those years). `None` for other rulebooks.
    #[serde(default)]
    pub eu_status: Option<String>,
}

/// What an accepted compliance command did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ComplianceEffect {
    /// A rulebook was loaded.
    RulebookLoaded {
        /// Its scheme id.
        scheme: String,
    },
    /// Entities were registered.
    EntitiesRegistered {
        /// How many.
        count: usize,
    },
    /// Allocation was carried out.
    Allocated {
        /// Entities concerned.
        entities: usize,
        /// Tonnes issued and allocated.
        issued: Quantity,
        /// Tonnes clawed back from holdings.
        clawed_back: Quantity,
    },
    /// A report changed status.
    Report {
        /// Its new status.
        status: ReportStatus,
        /// Computed emissions.
        computed_emissions: Quantity,
        /// Implausibility flags raised for the verifier.
        flags: Vec<String>,
    },
    /// Plausibility ranges were set.
    PlausibilityRangesSet {
        /// The scheme.
        scheme: String,
    },
    /// A year was closed.
    YearClosed {
        /// Entities assessed.
        entities: usize,
        /// Of which compliant.
        compliant: usize,
    },
}

/// The compliance state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compliance {
    rulebooks: BTreeMap<String, LoadedRulebook>,
    /// Registrations by (participant, scheme): one rulebook governs a compliance year, so a
    /// company is registered again under each year's rulebook.
    entities: BTreeMap<(ParticipantId, String), CoveredEntity>,
    allocations: BTreeMap<(ParticipantId, u16), AllocationRecord>,
    reports: BTreeMap<(ParticipantId, u16), Report>,
    closed: BTreeMap<(String, u16), Vec<EntityResult>>,
    /// Per scheme: carbon content min/max, intensity min/max, as decimal text.
    plausibility: BTreeMap<String, [String; 4]>,
}

fn decimal(field: &'static str, text: &str) -> Result<Decimal, ComplianceError> {
    Decimal::from_str(text.trim()).map_err(|_| ComplianceError::BadDecimal {
        field,
        text: text.to_owned(),
    })
}

fn scheme_category(category: UnitCategory) -> ets_scheme::rulebook::UnitCategory {
    match category {
        UnitCategory::CoalAbove300Mw => ets_scheme::rulebook::UnitCategory::CoalAbove300Mw,
        UnitCategory::CoalAtMost300Mw => ets_scheme::rulebook::UnitCategory::CoalAtMost300Mw,
        UnitCategory::UnconventionalCoal => ets_scheme::rulebook::UnitCategory::UnconventionalCoal,
        UnitCategory::Gas => ets_scheme::rulebook::UnitCategory::Gas,
    }
}

/// Days since 1970-01-01 to a civil (year, month, day), proleptic Gregorian (UTC).
fn civil_date(time: Timestamp) -> (i64, u32, u32) {
    let days = time.0.div_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl Compliance {
    /// Re-parses the rulebooks after a snapshot was decoded (their text is the durable form).
    pub fn rehydrate(&mut self) {
        for loaded in self.rulebooks.values_mut() {
            loaded.parsed = Rulebook::from_toml_str(&loaded.toml, &loaded.source_name).ok();
        }
    }

    /// The rulebook of a scheme.
    ///
    /// # Errors
    /// [`ComplianceError::UnknownScheme`].
    pub fn rulebook(&self, scheme: &str) -> Result<&Rulebook, ComplianceError> {
        self.rulebooks
            .get(scheme)
            .and_then(|loaded| loaded.parsed.as_ref())
            .ok_or_else(|| ComplianceError::UnknownScheme(scheme.to_owned()))
    }

    /// The allocation record of an entity and year.
    #[must_use]
    pub fn allocation(&self, entity: ParticipantId, year: u16) -> Option<&AllocationRecord> {
        self.allocations.get(&(entity, year))
    }

    /// The report of an entity and year.
    #[must_use]
    pub fn report(&self, entity: ParticipantId, year: u16) -> Option<&Report> {
        self.reports.get(&(entity, year))
    }

    /// The allocation records of a scheme's entities for a year, by entity.
    #[must_use]
    pub fn allocations_for(
        &self,
        scheme: &str,
        year: u16,
    ) -> Vec<(ParticipantId, &AllocationRecord)> {
        self.entities
            .values()
            .filter(|entity| entity.scheme == scheme)
            .filter_map(|entity| {
                let id = entity.spec.participant;
                self.allocations.get(&(id, year)).map(|record| (id, record))
            })
            .collect()
    }

    /// The final results of a closed year, if closed.
    #[must_use]
    pub fn closed_results(&self, scheme: &str, year: u16) -> Option<&[EntityResult]> {
        self.closed
            .get(&(scheme.to_owned(), year))
            .map(Vec::as_slice)
    }

    /// The schemes whose rulebooks are loaded, in order.
    pub fn schemes(&self) -> impl Iterator<Item = &str> {
        self.rulebooks.keys().map(String::as_str)
    }

    /// Every report with its entity and year, by entity then year.
    pub fn reports(&self) -> impl Iterator<Item = (ParticipantId, u16, &Report)> {
        self.reports
            .iter()
            .map(|(&(entity, year), report)| (entity, year, report))
    }

    /// Executes one compliance command.
    ///
    /// # Errors
    /// A [`ComplianceError`]; then neither the compliance state nor the registry changed.
    pub fn execute(
        &mut self,
        registry: &mut Registry,
        context: Context,
        command: &ComplianceCommand,
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
            ComplianceCommand::SubmitReport {
                entity,
                year,
                fuels,
                purchased_electricity_mwh,
                output_mwh,
                draft,
            } => self.submit_report(
                registry,
                context,
                *entity,
                *year,
                ReportData {
                    fuels,
                    purchased_electricity_mwh,
                    output_mwh,
                    draft: *draft,
                },
            ),
            ComplianceCommand::Borrow {
                entity,
                year,
                quantity,
            } => self.borrow(registry, context, *entity, *year, *quantity),
            ComplianceCommand::SetPlausibilityRanges {
                scheme,
                carbon_content_min,
                carbon_content_max,
                intensity_min,
                intensity_max,
            } => {
                Self::require_administrator(registry, context)?;
                self.rulebook(scheme)?;
                let texts = [
                    carbon_content_min.clone(),
                    carbon_content_max.clone(),
                    intensity_min.clone(),
                    intensity_max.clone(),
                ];
                plausibility_ranges(&texts)?;
                self.plausibility.insert(scheme.clone(), texts);
                Ok(ComplianceEffect::PlausibilityRangesSet {
                    scheme: scheme.clone(),
                })
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
            ComplianceCommand::CloseYear {
                scheme,
                year,
                reference_average_price,
            } => self.close_year(registry, context, scheme, *year, *reference_average_price),
            ComplianceCommand::AllocateEu {
                scheme,
                year,
                installations,
            } => self.allocate_eu(registry, context, scheme, *year, installations),
        }
    }

    fn require_administrator(registry: &Registry, context: Context) -> Result<(), ComplianceError> {
        let participant = registry
            .participant(context.requester)
            .map_err(|_| RegistryError::UnknownRequester(context.requester))?;
        if participant.kind == ParticipantKind::Administrator {
            Ok(())
        } else {
            Err(RegistryError::NotAdministrator {
                action: "run the compliance cycle",
                requester: context.requester,
            }
            .into())
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
        // EU installations have sub-installations (given with their allocation data), not units.
        let units_required = self.rulebook(scheme)?.eu_allocation().is_none();
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

    /// What `participant` owes `year`'s allocation: the next-year deduction of last year's
    /// closed results, and allowances borrowed earlier from `year`'s vintage.
    fn deduction_due(&self, participant: ParticipantId, year: u16) -> Quantity {
        let previous = year.checked_sub(1);
        let shortfalls: u64 = self
            .closed
            .iter()
            .filter(|((_, closed_year), _)| Some(*closed_year) == previous)
            .flat_map(|(_, results)| results.iter())
            .filter(|result| result.entity == participant)
            .map(|result| result.next_year_deduction.tonnes())
            .sum();
        let borrowed: u64 = self
            .allocations
            .range((participant, 0)..=(participant, u16::MAX))
            .filter(|((_, borrowed_for), record)| {
                !record.borrowed.is_zero()
                    && self
                        .entity_for_year(participant, *borrowed_for)
                        .ok()
                        .and_then(|entity| self.rulebook(&entity.scheme).ok())
                        .and_then(|rulebook| rulebook.borrowing)
                        .is_some_and(|rules| rules.from_vintage.0 == year)
            })
            .map(|(_, record)| record.borrowed.tonnes())
            .sum();
        Quantity::new(shortfalls.saturating_add(borrowed))
    }

    /// The registration of `participant` under `scheme`.
    fn entity_in(
        &self,
        participant: ParticipantId,
        scheme: &str,
    ) -> Result<&CoveredEntity, ComplianceError> {
        self.entities
            .get(&(participant, scheme.to_owned()))
            .ok_or(ComplianceError::UnknownEntity(participant))
    }

    /// The registration of `participant` under the rulebook that governs `year`.
    fn entity_for_year(
        &self,
        participant: ParticipantId,
        year: u16,
    ) -> Result<&CoveredEntity, ComplianceError> {
        let mut registrations = self
            .entities
            .range((participant, String::new())..)
            .take_while(|((id, _), _)| *id == participant)
            .map(|(_, entity)| entity)
            .peekable();
        let first = *registrations
            .peek()
            .ok_or(ComplianceError::UnknownEntity(participant))?;
        let governing = registrations.find(|entity| {
            self.rulebook(&entity.scheme)
                .is_ok_and(|rulebook| rulebook.scheme.compliance_years.contains(&year))
        });
        governing.ok_or_else(|| ComplianceError::YearNotInScheme {
            scheme: first.scheme.clone(),
            year,
        })
    }

    fn check_year_open(&self, scheme: &str, year: u16) -> Result<(), ComplianceError> {
        let rulebook = self.rulebook(scheme)?;
        if !rulebook.scheme.compliance_years.contains(&year) {
            return Err(ComplianceError::YearNotInScheme {
                scheme: scheme.to_owned(),
                year,
            });
        }
        if self.closed.contains_key(&(scheme.to_owned(), year)) {
            return Err(ComplianceError::YearClosed {
                scheme: scheme.to_owned(),
                year,
            });
        }
        Ok(())
    }

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

    fn allocate(
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
        let mut plans = Vec::with_capacity(outputs.len());
        for output in outputs {
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
            let order_problem = match phase {
                AllocationPhase::Pre if record.pre_allocated.is_some() => {
                    Some("pre-allocation was done already")
                }
                AllocationPhase::Final if record.final_allocation.is_some() => {
                    Some("final allocation was done already")
                }
                _ => None,
            };
            if let Some(problem) = order_problem {
                return Err(ComplianceError::AllocationOrder {
                    participant: output.participant,
                    year,
                    problem,
                });
            }
            let breakdown = units
                .iter()
                .zip(&computed.units)
                .map(|((code, _), unit)| (code.clone(), unit.total_tonnes.to_string()))
                .collect();
            plans.push((
                entity.spec.account,
                output.participant,
                computed.total,
                record,
                breakdown,
            ));
        }
        // Apply through the registry on a copy, so a failure leaves everything unchanged.
        let mut scratch = registry.clone();
        let mut issued = Quantity::ZERO;
        let mut clawed_back = Quantity::ZERO;
        let mut records = Vec::with_capacity(plans.len());
        for (account, participant, total, mut record, breakdown) in plans {
            let already = record.pre_allocated.unwrap_or(Quantity::ZERO);
            let (give, take) = match phase {
                AllocationPhase::Pre => {
                    // What the entity owes this year's allocation comes off first; what the
                    // pre-allocation cannot cover is owed at this year's close.
                    let due = self.deduction_due(participant, year);
                    let deducted = due.min(total);
                    record.deducted = deducted;
                    record.claw_back_outstanding =
                        due.checked_sub(deducted).unwrap_or(Quantity::ZERO);
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
                    &mut scratch,
                    context,
                    (class, account, give),
                    &mut record.transactions,
                    &mut issued,
                )?;
            }
            if !take.is_zero() {
                // A claw-back never makes a balance negative: what is not held is owed at the close.
                let held = scratch
                    .class_index(&class)
                    .ok()
                    .and_then(|index| scratch.account(account).ok().map(|a| a.available(index)))
                    .unwrap_or(Quantity::ZERO);
                let now = take.min(held);
                if !now.is_zero() {
                    record.transactions.push(run(
                        &mut scratch,
                        context,
                        RegistryCommand::Cancel {
                            from: account,
                            class,
                            quantity: now,
                            reason: format!("claw-back of {year} over-allocation (true-up)"),
                        },
                    )?);
                }
                record.claw_back_outstanding = record
                    .claw_back_outstanding
                    .checked_add(take.checked_sub(now).unwrap_or(Quantity::ZERO))
                    .map_err(|_| RegistryError::Overflow("claw-back owed"))?;
                clawed_back = clawed_back
                    .checked_add(now)
                    .map_err(|_| RegistryError::Overflow("claw-back total"))?;
            }
            match phase {
                AllocationPhase::Pre => record.pre_allocated = Some(total),
                AllocationPhase::Final => record.final_allocation = Some(total),
            }
            record.breakdown = breakdown;
            records.push((participant, record));
        }
        *registry = scratch;
        let entities = records.len();
        for (participant, record) in records {
            self.allocations.insert((participant, year), record);
        }
        Ok(ComplianceEffect::Allocated {
            entities,
            issued,
            clawed_back,
        })
    }

    fn allocate_eu(
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
            let participant = installation.participant;
            let entity = self.entity_in(participant, scheme)?;
            let bad = |problem: String| ComplianceError::BadUnits {
                participant,
                problem,
            };
            if seen.insert(participant, ()).is_some() {
                return Err(bad("the installation is listed twice".to_owned()));
            }
            if installation.sub_installations.is_empty() {
                return Err(bad(
                    "an installation needs 1 or more sub-installations".to_owned()
                ));
            }
            let mut codes: Vec<_> = installation
                .sub_installations
                .iter()
                .map(|sub| sub.sub_installation)
                .collect();
            codes.sort_unstable();
            codes.dedup();
            if codes.len() != installation.sub_installations.len() {
                return Err(bad("a sub-installation code is listed twice".to_owned()));
            }
            let inputs = installation
                .sub_installations
                .iter()
                .map(|sub| {
                    Ok(EuSubInstallation {
                        benchmark_allowances_per_activity_unit: decimal(
                            "benchmark",
                            &sub.benchmark,
                        )?,
                        historical_activity_level: decimal(
                            "historical_activity_level",
                            &sub.historical_activity_level,
                        )?,
                        exposure: match sub.exposure {
                            LeakageExposure::Exposed => {
                                ets_scheme::rulebook::CarbonLeakageExposure::Exposed
                            }
                            LeakageExposure::NotExposed => {
                                ets_scheme::rulebook::CarbonLeakageExposure::NotExposed
                            }
                            LeakageExposure::DistrictHeating => {
                                ets_scheme::rulebook::CarbonLeakageExposure::DistrictHeating
                            }
                        },
                    })
                })
                .collect::<Result<Vec<_>, ComplianceError>>()?;
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
            plans.push((
                entity.spec.account,
                participant,
                computed.total,
                record,
                breakdown,
            ));
        }
        // Apply through the registry on a copy, so a failure leaves everything unchanged.
        let mut scratch = registry.clone();
        let mut issued = Quantity::ZERO;
        let mut records = Vec::with_capacity(plans.len());
        for (account, participant, total, mut record, breakdown) in plans {
            if !total.is_zero() {
                issue_and_allocate(
                    &mut scratch,
                    context,
                    (class, account, total),
                    &mut record.transactions,
                    &mut issued,
                )?;
            }
            record.final_allocation = Some(total);
            record.breakdown = breakdown;
            records.push((participant, record));
        }
        *registry = scratch;
        let entities = records.len();
        for (participant, record) in records {
            self.allocations.insert((participant, year), record);
        }
        Ok(ComplianceEffect::Allocated {
            entities,
            issued,
            clawed_back: Quantity::ZERO,
        })
    }

    fn submit_report(
        &mut self,
        registry: &Registry,
        context: Context,
        entity_id: ParticipantId,
        year: u16,
        data: ReportData<'_>,
    ) -> Result<ComplianceEffect, ComplianceError> {
        let ReportData {
            fuels,
            purchased_electricity_mwh,
            output_mwh,
            draft,
        } = data;
        let entity = self.entity_for_year(entity_id, year)?;
        let account = registry.account(entity.spec.account)?;
        if context.requester != entity_id && !account.rule.is_representative(context.requester) {
            return Err(RegistryError::NotRepresentative {
                requester: context.requester,
                account: account.id,
            }
            .into());
        }
        self.check_year_open(&entity.scheme, year)?;
        if let Some(existing) = self.reports.get(&(entity_id, year))
            && matches!(
                existing.status,
                ReportStatus::Verified | ReportStatus::Corrected
            )
        {
            return Err(ComplianceError::ReportState {
                entity: entity_id,
                year,
                status: existing.status.name(),
                problem: "a verified report cannot be resubmitted",
            });
        }
        let rulebook = self.rulebook(&entity.scheme)?;
        let rules = rulebook
            .mrv
            .ok_or_else(|| ComplianceError::NoMrvRules(entity.scheme.clone()))?;
        let records = fuels
            .iter()
            .map(|fuel| {
                Ok(mrv::FuelRecord {
                    kind: match fuel.kind {
                        FuelKind::Coal => mrv::FuelKind::Coal,
                        FuelKind::Other => mrv::FuelKind::Other,
                    },
                    consumed_quantity: decimal("consumed", &fuel.consumed)?,
                    net_calorific_value_gj_per_quantity: decimal(
                        "net_calorific_value",
                        &fuel.net_calorific_value,
                    )?,
                    measured_carbon_content_tonnes_c_per_gj: fuel
                        .carbon_content
                        .as_deref()
                        .map(|text| decimal("carbon_content", text))
                        .transpose()?,
                    measured_oxidation_rate: fuel
                        .oxidation_rate
                        .as_deref()
                        .map(|text| decimal("oxidation_rate", text))
                        .transpose()?,
                })
            })
            .collect::<Result<Vec<_>, ComplianceError>>()?;
        let purchased = decimal("purchased_electricity_mwh", purchased_electricity_mwh)?;
        let output = decimal("output_mwh", output_mwh)?;
        let emissions = mrv::emissions(&rules, &records, purchased)?;
        let flags = match self.plausibility.get(&entity.scheme) {
            Some(texts) => {
                let ranges = plausibility_ranges(texts)?;
                mrv::plausibility_flags(&records, &emissions, output, &ranges)?
                    .iter()
                    .map(describe_flag)
                    .collect()
            }
            None => Vec::new(),
        };
        let status = if draft {
            ReportStatus::Draft
        } else {
            ReportStatus::Submitted
        };
        let report = Report {
            status,
            fuels: fuels.to_vec(),
            purchased_electricity_mwh: purchased_electricity_mwh.to_owned(),
            computed_emissions: emissions.total,
            records_using_default_carbon_content: emissions.records_using_default_carbon_content,
            submitted_by: context.requester,
            decided_by: None,
            verified_emissions: None,
            flags: flags.clone(),
        };
        self.reports.insert((entity_id, year), report);
        Ok(ComplianceEffect::Report {
            status,
            computed_emissions: emissions.total,
            flags,
        })
    }

    fn borrow(
        &mut self,
        registry: &mut Registry,
        context: Context,
        entity_id: ParticipantId,
        year: u16,
        quantity: Quantity,
    ) -> Result<ComplianceEffect, ComplianceError> {
        let entity = self.entity_for_year(entity_id, year)?.clone();
        let account = registry.account(entity.spec.account)?;
        if context.requester != entity_id && !account.rule.is_representative(context.requester) {
            return Err(RegistryError::NotRepresentative {
                requester: context.requester,
                account: account.id,
            }
            .into());
        }
        if quantity.is_zero() {
            return Err(RegistryError::ZeroQuantity.into());
        }
        self.check_year_open(&entity.scheme, year)?;
        let rulebook = self.rulebook(&entity.scheme)?;
        let record = self
            .allocations
            .get(&(entity_id, year))
            .cloned()
            .unwrap_or_default();
        let verified = self
            .reports
            .get(&(entity_id, year))
            .and_then(|report| report.verified_emissions);
        let limit = match (&rulebook.borrowing, verified) {
            (Some(rules), Some(verified)) => {
                obligation::max_borrowing(rules, verified, record.allocation())?
            }
            _ => Quantity::ZERO,
        };
        if record.borrowed.tonnes().saturating_add(quantity.tonnes()) > limit.tonnes() {
            return Err(ComplianceError::BorrowingLimit {
                entity: entity_id,
                year,
                limit: limit.tonnes(),
                already: record.borrowed.tonnes(),
                requested: quantity.tonnes(),
            });
        }
        let Some(rules) = rulebook.borrowing else {
            return Err(ComplianceError::BorrowingLimit {
                entity: entity_id,
                year,
                limit: 0,
                already: 0,
                requested: quantity.tonnes(),
            });
        };
        let class = UnitClass::Allowance {
            scheme: rulebook.scheme.unit_code,
            vintage: rules.from_vintage,
        };
        // The authority issues the borrowed allowances; they act through the issuance
        // account's holder, as for allocation.
        let issuance = registry.system_account(AccountKind::Issuance)?;
        let authority = Context {
            requester: registry.account(issuance)?.holder,
            at: context.at,
        };
        let mut scratch = registry.clone();
        let mut record = record;
        record.transactions.push(run(
            &mut scratch,
            authority,
            RegistryCommand::Issue { class, quantity },
        )?);
        record.transactions.push(run(
            &mut scratch,
            authority,
            RegistryCommand::Allocate {
                to: entity.spec.account,
                class,
                quantity,
            },
        )?);
        record.borrowed = record
            .borrowed
            .checked_add(quantity)
            .map_err(|_| RegistryError::Overflow("borrowed"))?;
        *registry = scratch;
        self.allocations.insert((entity_id, year), record);
        Ok(ComplianceEffect::Allocated {
            entities: 1,
            issued: quantity,
            clawed_back: Quantity::ZERO,
        })
    }

    fn verify_report(
        &mut self,
        registry: &Registry,
        context: Context,
        entity: ParticipantId,
        year: u16,
        accept: bool,
    ) -> Result<ComplianceEffect, ComplianceError> {
        let verifier = registry
            .participant(context.requester)
            .map_err(|_| RegistryError::UnknownRequester(context.requester))?;
        if verifier.kind != ParticipantKind::Verifier {
            return Err(ComplianceError::NotVerifier(context.requester));
        }
        let scheme = self.entity_for_year(entity, year)?.scheme.clone();
        self.check_year_open(&scheme, year)?;
        let report = self
            .reports
            .get_mut(&(entity, year))
            .ok_or(ComplianceError::NoReport { entity, year })?;
        if report.status != ReportStatus::Submitted {
            return Err(ComplianceError::ReportState {
                entity,
                year,
                status: report.status.name(),
                problem: "only a submitted report can be verified or rejected",
            });
        }
        report.status = if accept {
            report.verified_emissions = Some(report.computed_emissions);
            ReportStatus::Verified
        } else {
            ReportStatus::Rejected
        };
        report.decided_by = Some(context.requester);
        Ok(ComplianceEffect::Report {
            status: report.status,
            computed_emissions: report.computed_emissions,
            flags: report.flags.clone(),
        })
    }

    fn correct_report(
        &mut self,
        registry: &Registry,
        context: Context,
        entity: ParticipantId,
        year: u16,
        emissions: Quantity,
    ) -> Result<ComplianceEffect, ComplianceError> {
        Self::require_administrator(registry, context)?;
        let scheme = self.entity_for_year(entity, year)?.scheme.clone();
        self.check_year_open(&scheme, year)?;
        // Without [mrv] (EU) reports cannot be computed here: the verified emissions are
        // entered as the authority's figure, which creates the report.
        if self.rulebook(&scheme)?.mrv.is_none() && !self.reports.contains_key(&(entity, year)) {
            self.reports.insert(
                (entity, year),
                Report {
                    status: ReportStatus::Corrected,
                    fuels: Vec::new(),
                    purchased_electricity_mwh: "0".to_owned(),
                    computed_emissions: emissions,
                    records_using_default_carbon_content: 0,
                    submitted_by: context.requester,
                    decided_by: None,
                    verified_emissions: None,
                    flags: Vec::new(),
                },
            );
        }
        let report = self
            .reports
            .get_mut(&(entity, year))
            .ok_or(ComplianceError::NoReport { entity, year })?;
        report.status = ReportStatus::Corrected;
        report.verified_emissions = Some(emissions);
        report.decided_by = Some(context.requester);
        Ok(ComplianceEffect::Report {
            status: ReportStatus::Corrected,
            computed_emissions: report.computed_emissions,
            flags: report.flags.clone(),
        })
    }

    fn obligation_of(
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

    /// The cumulative EU status code after `year`: verified emissions of each of the
    /// rulebook's years up to `year` against all allowances surrendered for those years.
    fn eu_status_of(
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

    fn close_year(
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

    /// Checks a registry surrender against the scheme of the surrendering
    /// entity: the year must be open and its last deadline not passed, the
    /// unit eligible, and offsets within the limit. Surrenders from accounts
    /// of no registered entity are left to the registry alone.
    ///
    /// # Errors
    /// A [`ComplianceError`] saying why the surrender may not go ahead.
    pub fn check_surrender(
        &self,
        registry: &Registry,
        at: Timestamp,
        from: AccountId,
        class: &UnitClass,
        quantity: Quantity,
        year: u16,
    ) -> Result<(), ComplianceError> {
        let Some(registered) = self
            .entities
            .values()
            .find(|entity| entity.spec.account == from)
        else {
            return Ok(());
        };
        // The registration under the rulebook that governs the year surrendered for.
        let entity = self.entity_for_year(registered.spec.participant, year)?;
        let scheme = entity.scheme.as_str();
        self.check_year_open(scheme, year)?;
        let rulebook = self.rulebook(scheme)?;
        if let Some(last) = rulebook.surrender_deadlines_for(year).last() {
            let (y, m, d) = civil_date(at);
            let today = (y, m, d);
            let deadline = (
                i64::from(last.date.year),
                u32::from(last.date.month),
                u32::from(last.date.day),
            );
            if today > deadline {
                return Err(ComplianceError::AfterDeadline {
                    year,
                    deadline: format!("{:04}-{:02}-{:02}", deadline.0, deadline.1, deadline.2),
                });
            }
        }
        let not_eligible = |reason| ComplianceError::NotEligible {
            unit: class.to_string(),
            year,
            scheme: scheme.to_owned(),
            reason,
        };
        match class {
            UnitClass::Allowance {
                scheme: code,
                vintage,
            } => {
                if *code != rulebook.scheme.unit_code {
                    return Err(not_eligible("it is not this scheme's allowance"));
                }
                if rulebook.is_vintage_eligible(*vintage) {
                    return Ok(());
                }
                let borrowed = self
                    .allocations
                    .get(&(entity.spec.participant, year))
                    .map_or(Quantity::ZERO, |record| record.borrowed);
                let from_borrowing = rulebook
                    .borrowing
                    .is_some_and(|rules| rules.from_vintage == *vintage);
                if from_borrowing
                    && registry
                        .class_index(class)
                        .map_or(Quantity::ZERO, |index| {
                            Surrenders::tally(registry).of_class(from, year, index)
                        })
                        .tonnes()
                        .saturating_add(quantity.tonnes())
                        <= borrowed.tonnes()
                {
                    return Ok(());
                }
                Err(not_eligible(
                    "its vintage is not eligible (beyond what was borrowed for this year)",
                ))
            }
            UnitClass::Offset { standard, .. } => {
                let Some(rules) = &rulebook.offsets else {
                    return Err(not_eligible("the scheme accepts no offsets"));
                };
                if !rules.eligible_standards.contains(standard) {
                    return Err(not_eligible("its standard is not accepted"));
                }
                let Some((verified, _, owed)) = self.obligation_of(rulebook, entity, year)? else {
                    return Err(ComplianceError::OffsetLimitUnknown { year });
                };
                let limit = obligation::max_offsets(rules, owed, verified)?;
                let (_, used) = Surrenders::tally(registry).of(from, year);
                if used.tonnes().saturating_add(quantity.tonnes()) > limit.tonnes() {
                    return Err(ComplianceError::OffsetLimit {
                        year,
                        limit: limit.tonnes(),
                        used: used.tonnes(),
                        requested: quantity.tonnes(),
                    });
                }
                Ok(())
            }
        }
    }
}

/// The data of an emissions report, as submitted.
struct ReportData<'a> {
    fuels: &'a [FuelSpec],
    purchased_electricity_mwh: &'a str,
    output_mwh: &'a str,
    draft: bool,
}

/// Parses stored plausibility ranges (carbon content min/max, intensity min/max).
fn plausibility_ranges(texts: &[String; 4]) -> Result<mrv::PlausibilityRanges, ComplianceError> {
    let range =
        |min_field, min: &str, max_field, max: &str| -> Result<mrv::PeerRange, ComplianceError> {
            let range = mrv::PeerRange {
                min: decimal(min_field, min)?,
                max: decimal(max_field, max)?,
            };
            if range.min > range.max || range.min.is_sign_negative() {
                return Err(ComplianceError::BadDecimal {
                    field: max_field,
                    text: format!(
                        "{max} (must be at least {min_field} {min}, and both non-negative)"
                    ),
                });
            }
            Ok(range)
        };
    Ok(mrv::PlausibilityRanges {
        carbon_content_tonnes_c_per_gj: range(
            "carbon_content_min",
            &texts[0],
            "carbon_content_max",
            &texts[1],
        )?,
        intensity_tonnes_per_mwh: range("intensity_min", &texts[2], "intensity_max", &texts[3])?,
    })
}

/// A flag as `code: detail` for the verifier.
fn describe_flag(flag: &mrv::ImplausibilityFlag) -> String {
    match flag {
        mrv::ImplausibilityFlag::CarbonContentOutsidePeerRange {
            fuel_index,
            value_tonnes_c_per_gj,
            range,
        } => format!(
            "{}: fuel record {fuel_index} has {value_tonnes_c_per_gj} tC/GJ, outside {}-{}",
            flag.code(),
            range.min,
            range.max
        ),
        mrv::ImplausibilityFlag::IntensityOutsidePeerRange {
            value_tonnes_per_mwh,
            range,
        } => format!(
            "{}: {value_tonnes_per_mwh} t/MWh, outside {}-{}",
            flag.code(),
            range.min,
            range.max
        ),
    }
}

/// Units surrendered per (account, compliance year, unit class), counted in one pass over
/// the registry's transactions (completed surrenders only; reversed ones no longer count).
struct Surrenders {
    tonnes: BTreeMap<(AccountId, u16, u32), u64>,
    offset_classes: Vec<u32>,
}

impl Surrenders {
    fn tally(registry: &Registry) -> Surrenders {
        let mut tonnes: BTreeMap<(AccountId, u16, u32), u64> = BTreeMap::new();
        for transaction in registry.transactions() {
            let TransactionKind::Surrender { compliance_year } = transaction.kind else {
                continue;
            };
            if transaction.status() != TransactionStatus::Completed {
                continue;
            }
            let total = tonnes
                .entry((transaction.from, compliance_year, transaction.class_index))
                .or_default();
            *total = total.saturating_add(transaction.quantity.tonnes());
        }
        let offset_classes = registry
            .classes()
            .filter(|(_, class)| class.is_offset())
            .map(|(index, _)| index)
            .collect();
        Surrenders {
            tonnes,
            offset_classes,
        }
    }

    /// Allowances and offsets surrendered from `account` for `year`.
    fn of(&self, account: AccountId, year: u16) -> (Quantity, Quantity) {
        let (mut allowances, mut offsets) = (0u64, 0u64);
        for (&(_, _, class_index), &tonnes) in self
            .tonnes
            .range((account, year, 0)..=(account, year, u32::MAX))
        {
            let total = if self.offset_classes.contains(&class_index) {
                &mut offsets
            } else {
                &mut allowances
            };
            *total = total.saturating_add(tonnes);
        }
        (Quantity::new(allowances), Quantity::new(offsets))
    }

    /// Units of one class surrendered from `account` for `year`.
    fn of_class(&self, account: AccountId, year: u16, class_index: u32) -> Quantity {
        Quantity::new(
            self.tonnes
                .get(&(account, year, class_index))
                .copied()
                .unwrap_or(0),
        )
    }
}

/// Runs a registry command that must complete at once; returns its transaction.
/// Issues `quantity` of `class` and allocates it to `account` on `scratch`,
/// recording both transactions and adding the quantity to `issued`.
fn issue_and_allocate(
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

fn run(
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
            "an entity has 1 to 64 units (0 allowed under an EU rulebook), got {}",
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

#[cfg(test)]
mod tests {
    use super::civil_date;
    use ets_model::Timestamp;

    #[test]
    fn civil_dates_match_known_days() {
        assert_eq!(civil_date(Timestamp(0)), (1970, 1, 1));
        // 2021-07-16T01:30:00Z, China's trading launch day.
        assert_eq!(civil_date(Timestamp(1_626_399_000_000)), (2021, 7, 16));
        assert_eq!(civil_date(Timestamp(1_703_980_800_000)), (2023, 12, 31));
        assert_eq!(civil_date(Timestamp(951_782_400_000)), (2000, 2, 29));
    }
}
