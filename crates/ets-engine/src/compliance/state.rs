//! The compliance state: loaded rulebooks, covered entities, allocation
//! records, reports and closed years, with the read-only queries over them.
//! The commands that change it live in the sibling modules (one per concept).

use super::command::{EntitySpec, FuelSpec};
use super::error::ComplianceError;
use super::tally::SurrenderTally;
use ets_model::{AccountId, Money, ParticipantId, Quantity, TransactionId};
use ets_registry::{Context, ParticipantKind, Registry, RegistryError};
use ets_scheme::Rulebook;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::str::FromStr;

/// The most entities one command may register or allocate to.
pub const ENTITIES_PER_COMMAND_MAX: usize = 10_000;

/// A loaded rulebook: its text is the durable form; the parsed form is rebuilt on restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct LoadedRulebook {
    pub(super) source_name: String,
    pub(super) toml: String,
    #[serde(skip)]
    pub(super) parsed: Option<Rulebook>,
}

/// A registered covered entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct CoveredEntity {
    pub(super) scheme: String,
    pub(super) spec: EntitySpec,
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
    /// Surrendered the whole obligation by the last deadline but less than an
    /// intermediate deadline's share by that deadline.
    MissedIntermediateDeadline,
}

impl EntityStatus {
    /// The snake_case name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            EntityStatus::Compliant => "compliant",
            EntityStatus::Shortfall => "shortfall",
            EntityStatus::NoVerifiedReport => "no_verified_report",
            EntityStatus::MissedIntermediateDeadline => "missed_intermediate_deadline",
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
    /// The compliance period the line settles (`2019-2020`, `2021`).
    #[serde(default)]
    pub period: String,
    /// Tonnes still to be surrendered into the next year (the EU's make-good: the
    /// penalty does not release the obligation). Zero under other regimes.
    #[serde(default)]
    pub make_good: Quantity,
    /// Tonnes missing at the period's intermediate deadline (China 2021-22: 95% by
    /// 15 November), judged once that deadline has passed.
    #[serde(default)]
    pub intermediate_shortfall: Quantity,
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
    pub(super) rulebooks: BTreeMap<String, LoadedRulebook>,
    /// Registrations by (participant, scheme): one rulebook governs a compliance year, so a
    /// company is registered again under each year's rulebook.
    pub(super) entities: BTreeMap<(ParticipantId, String), CoveredEntity>,
    pub(super) allocations: BTreeMap<(ParticipantId, u16), AllocationRecord>,
    pub(super) reports: BTreeMap<(ParticipantId, u16), Report>,
    pub(super) closed: BTreeMap<(String, u16), Vec<EntityResult>>,
    /// Per scheme: carbon content min/max, intensity min/max, as decimal text.
    pub(super) plausibility: BTreeMap<String, [String; 4]>,
    /// What each account surrendered. Not in this encoding (see `tally`).
    #[serde(skip)]
    pub(super) surrendered: SurrenderTally,
}

/// Parses decimal text of a command field.
pub(super) fn decimal(field: &'static str, text: &str) -> Result<Decimal, ComplianceError> {
    Decimal::from_str(text.trim()).map_err(|_| ComplianceError::BadDecimal {
        field,
        text: text.to_owned(),
    })
}

impl Compliance {
    /// Re-parses the rulebooks after a snapshot was decoded (their text is the durable form).
    pub fn rehydrate(&mut self) {
        for loaded in self.rulebooks.values_mut() {
            loaded.parsed = Rulebook::from_toml_str(&loaded.toml, &loaded.source_name).ok();
        }
    }

    /// What each account surrendered and did not see reversed.
    #[must_use]
    pub fn surrender_tally(&self) -> &SurrenderTally {
        &self.surrendered
    }

    /// Counts surrenders that completed, or stops counting reversed ones
    /// (the engine hands over the registry's changes after each command).
    pub fn record_surrenders(&mut self, changes: &[ets_registry::SurrenderChange]) {
        for change in changes {
            self.surrendered.record(change);
        }
    }

    /// Replaces the tally (after a snapshot was decoded).
    pub fn restore_surrender_tally(&mut self, tally: SurrenderTally) {
        self.surrendered = tally;
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

    /// The final results of a closed year (of the period it belongs to), if closed.
    #[must_use]
    pub fn closed_results(&self, scheme: &str, year: u16) -> Option<&[EntityResult]> {
        self.closed
            .get(&(scheme.to_owned(), self.settling_year(scheme, year)))
            .map(Vec::as_slice)
    }

    /// The year whose close settles `year`'s period: the period's last year (the year
    /// itself when the scheme is unknown or does not govern it). Closed results are kept
    /// under it.
    pub(super) fn settling_year(&self, scheme: &str, year: u16) -> u16 {
        self.rulebook(scheme)
            .ok()
            .and_then(|rulebook| rulebook.period_of(year))
            .map_or(year, |period| period.last_year())
    }

    /// The schemes whose rulebooks are loaded, in order.
    pub fn schemes(&self) -> impl Iterator<Item = &str> {
        self.rulebooks.keys().map(String::as_str)
    }

    /// The schemes `participant` is registered under as a covered entity, in order.
    pub fn schemes_of(&self, participant: ParticipantId) -> impl Iterator<Item = &str> {
        self.entities
            .range((participant, String::new())..)
            .take_while(move |((entity, _), _)| *entity == participant)
            .map(|((_, scheme), _)| scheme.as_str())
    }

    /// Every report with its entity and year, by entity then year.
    pub fn reports(&self) -> impl Iterator<Item = (ParticipantId, u16, &Report)> {
        self.reports
            .iter()
            .map(|(&(entity, year), report)| (entity, year, report))
    }

    /// The registration of `participant` under `scheme`.
    pub(super) fn entity_in(
        &self,
        participant: ParticipantId,
        scheme: &str,
    ) -> Result<&CoveredEntity, ComplianceError> {
        self.entities
            .get(&(participant, scheme.to_owned()))
            .ok_or(ComplianceError::UnknownEntity(participant))
    }

    /// The registration of `participant` under the rulebook that governs `year`.
    pub(super) fn entity_for_year(
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

    pub(super) fn check_year_open(&self, scheme: &str, year: u16) -> Result<(), ComplianceError> {
        let rulebook = self.rulebook(scheme)?;
        if !rulebook.scheme.compliance_years.contains(&year) {
            return Err(ComplianceError::YearNotInScheme {
                scheme: scheme.to_owned(),
                year,
            });
        }
        if self
            .closed
            .contains_key(&(scheme.to_owned(), self.settling_year(scheme, year)))
        {
            return Err(ComplianceError::YearClosed {
                scheme: scheme.to_owned(),
                year,
            });
        }
        Ok(())
    }

    /// Refuses unless the requester is the registry administrator.
    pub(super) fn require_administrator(
        registry: &Registry,
        context: Context,
    ) -> Result<(), ComplianceError> {
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

    /// Refuses unless the requester is the entity itself or a representative of its account.
    pub(super) fn require_entity_or_representative(
        registry: &Registry,
        context: Context,
        entity: &CoveredEntity,
    ) -> Result<(), ComplianceError> {
        let account = registry.account(entity.spec.account)?;
        if context.requester != entity.spec.participant
            && !account.rule.is_representative(context.requester)
        {
            return Err(RegistryError::NotRepresentative {
                requester: context.requester,
                account: account.id,
            }
            .into());
        }
        Ok(())
    }
}
