//! Compliance commands and their payload types. Decimal activity data travels
//! as exact decimal text ("1234.5") so the journal holds what was submitted,
//! and the engine parses it the same way on every replay.

use ets_model::{AccountId, Code, ParticipantId, Price, Quantity};
use serde::{Deserialize, Serialize};

/// A China power-unit benchmark category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum UnitCategory {
    /// I: conventional coal above 300 MW.
    CoalAbove300Mw,
    /// II: conventional coal of at most 300 MW.
    CoalAtMost300Mw,
    /// III: unconventional coal.
    UnconventionalCoal,
    /// IV: natural gas.
    Gas,
}

/// How a unit is cooled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cooling {
    /// Water-cooled.
    Water,
    /// Air-cooled.
    Air,
}

/// A generating unit of a covered entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitSpec {
    /// The unit's code within its entity (`U1`).
    pub unit: Code,
    /// Its benchmark category.
    pub category: UnitCategory,
    /// Installed capacity in MW.
    pub capacity_mw: u32,
    /// Water or air cooling.
    pub cooling: Cooling,
    /// Combined heat and power (else pure condensing).
    pub combined_heat_and_power: bool,
}

/// A covered entity and its units, as registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntitySpec {
    /// The covered entity (a registry participant of kind covered entity).
    pub participant: ParticipantId,
    /// Its operator holding account.
    pub account: AccountId,
    /// Its generating units (1 or more).
    pub units: Vec<UnitSpec>,
}

/// One unit's output for a year, as exact decimal text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitOutput {
    /// The unit's code.
    pub unit: Code,
    /// Electricity on the rulebook's basis (supply or generation), MWh.
    pub electricity_mwh: String,
    /// Heat supplied, GJ.
    pub heat_gj: String,
    /// Heat-supply ratio, 0..=1.
    pub heat_supply_ratio: String,
    /// Load factor, 0..=1.
    pub load_factor: String,
}

/// An entity's unit outputs for a year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityOutput {
    /// The covered entity.
    pub participant: ParticipantId,
    /// One line per unit.
    pub units: Vec<UnitOutput>,
}

/// Which allocation step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AllocationPhase {
    /// Pre-allocation on base-year output (China: 70%).
    Pre,
    /// Final allocation on verified output; the difference is issued or clawed back.
    Final,
}

/// Coal or another fuel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FuelKind {
    /// Coal: rulebook defaults apply when not measured.
    Coal,
    /// Another fuel: measured values required.
    Other,
}

/// One fuel record of an emissions report, as exact decimal text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FuelSpec {
    /// Coal or other.
    pub kind: FuelKind,
    /// Fuel consumed (t, or 10^4 Nm3).
    pub consumed: String,
    /// Net calorific value, GJ per unit consumed.
    pub net_calorific_value: String,
    /// Measured carbon content, tC/GJ (absent: the rulebook default).
    pub carbon_content: Option<String>,
    /// Measured oxidation rate (absent: the rulebook default).
    pub oxidation_rate: Option<String>,
}

/// How exposed an EU sub-installation is to carbon leakage (selects the CLEF).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeakageExposure {
    /// Sectors deemed exposed to carbon leakage.
    Exposed,
    /// Other sectors.
    NotExposed,
    /// District heating.
    DistrictHeating,
}

/// One EU sub-installation's allocation data, as exact decimal text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EuSubInstallationInput {
    /// The sub-installation's code within its installation (`P1`, `HEAT`).
    pub sub_installation: Code,
    /// `BM`, allowances per unit of activity (per tonne of product, per TJ).
    pub benchmark: String,
    /// `HAL`, the historical activity level, activity units per year.
    pub historical_activity_level: String,
    /// Its carbon-leakage exposure.
    pub exposure: LeakageExposure,
}

/// An EU installation (a registered covered entity) and its sub-installations' data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EuInstallationInput {
    /// The installation (a registered covered entity).
    pub participant: ParticipantId,
    /// Its sub-installations (1 or more).
    pub sub_installations: Vec<EuSubInstallationInput>,
}

/// The kind of a sector firm's production line (cement's exceptions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SectorLine {
    /// An ordinary line of the sector.
    Standard,
    /// A white-cement clinker line.
    WhiteCementClinker,
    /// Clinker made as a by-product (gypsum to sulphuric acid).
    ByProductClinker,
}

/// One firm's data for [`ComplianceCommand::AllocateSector`]. The pre-allocation reads
/// only `previous_year_verified`; the final allocation reads the output, line and
/// carbide-slag share (its verified emissions are the engine's, from the year's report).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectorFirmInput {
    /// The firm (a registered covered entity of the scheme).
    pub participant: ParticipantId,
    /// Output of the year, tonnes of the sector's product (decimal text).
    pub output_tonnes: String,
    /// The kind of line.
    pub line: SectorLine,
    /// Carbide-slag share of the clinker raw material, 0 to 1 (decimal text; 0 outside cement).
    pub carbide_slag_share: String,
    /// Verified emissions of the year before, tonnes CO2e (the pre-allocation's base).
    pub previous_year_verified: Quantity,
}

/// A compliance command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ComplianceCommand {
    /// Loads a scheme rulebook (administrator). The TOML text itself is journaled.
    LoadRulebook {
        /// Where it came from (file name), for messages.
        source_name: String,
        /// The rulebook's TOML text.
        toml: String,
    },
    /// Registers covered entities under a scheme, all or none (administrator).
    RegisterEntities {
        /// The scheme id (`cn-power-2021`).
        scheme: String,
        /// The entities.
        entities: Vec<EntitySpec>,
    },
    /// Computes and hands out free allocation for a year, all or none (administrator).
    Allocate {
        /// The scheme id.
        scheme: String,
        /// The compliance year (the allowances' vintage).
        year: u16,
        /// Pre-allocation or final.
        phase: AllocationPhase,
        /// Per-entity output (base year for pre-allocation, verified for final).
        outputs: Vec<EntityOutput>,
    },
    /// Submits (or resubmits) an entity's emissions report (its representative).
    SubmitReport {
        /// The covered entity.
        entity: ParticipantId,
        /// The year reported.
        year: u16,
        /// Fuel records.
        fuels: Vec<FuelSpec>,
        /// Purchased electricity, MWh (counted only where the rulebook says so).
        purchased_electricity_mwh: String,
        /// Electricity output, MWh, for the intensity plausibility check ("0" = not checked).
        output_mwh: String,
        /// Save as a draft: emissions are computed and kept, but a verifier cannot act on it
        /// until it is submitted without this flag.
        draft: bool,
    },
    /// Accepts or rejects a submitted report (a verifier).
    VerifyReport {
        /// The covered entity.
        entity: ParticipantId,
        /// The year.
        year: u16,
        /// Accept (verified) or reject.
        accept: bool,
    },
    /// Sets verified emissions by decision of the authority (administrator).
    CorrectReport {
        /// The covered entity.
        entity: ParticipantId,
        /// The year.
        year: u16,
        /// The emissions the authority determined.
        emissions: Quantity,
    },
    /// Closes a compliance year: statuses and penalties become final (administrator).
    CloseYear {
        /// The scheme id.
        scheme: String,
        /// The year.
        year: u16,
        /// Average market price of the month before the deadline (China 2024 regime).
        reference_average_price: Option<Price>,
    },
    /// Borrows allowances of the rulebook's later vintage (China 2021-22: from the 2023
    /// allocation) for a year's surrender, within the borrowing limit (the entity or a
    /// representative of its account). They are issued into the entity's account and may
    /// be surrendered for that year. The amount comes off the later vintage year's
    /// pre-allocation.
    Borrow {
        /// The covered entity.
        entity: ParticipantId,
        /// The compliance year the allowances are for.
        year: u16,
        /// How many.
        quantity: Quantity,
    },
    /// Sets the peer ranges that flag implausible reports for verifiers (administrator).
    /// docs/sources.md gives no official ranges, so they are the authority's parameters.
    SetPlausibilityRanges {
        /// The scheme id.
        scheme: String,
        /// Lowest plausible measured carbon content, tC/GJ.
        carbon_content_min: String,
        /// Highest plausible measured carbon content, tC/GJ.
        carbon_content_max: String,
        /// Lowest plausible intensity, tCO2/MWh.
        intensity_min: String,
        /// Highest plausible intensity, tCO2/MWh.
        intensity_max: String,
    },
    /// Computes and hands out EU free allocation for a year, all or none (administrator):
    /// `F = BM x HAL x CLEF x CSCF` per sub-installation, summed and rounded per
    /// installation, recorded as the year's final allocation.
    AllocateEu {
        /// The scheme id (`eu-ets-phase4`).
        scheme: String,
        /// The allocation year (the allowances' vintage).
        year: u16,
        /// Per installation, its sub-installations' data.
        installations: Vec<EuInstallationInput>,
    },
    /// Computes and hands out an industrial sector's free allocation for a year, all or
    /// none (administrator), by the sector rulebook's `[allocation.sector]`: the
    /// pre-allocation (a share of the previous year's verified emissions, where the
    /// rulebook has one) or the final allocation with its true-up. The final allocation
    /// lists every firm registered under the scheme once: the benchmark is the sector's.
    AllocateSector {
        /// The scheme id (`cn-steel-2025`).
        scheme: String,
        /// The compliance year (the allowances' vintage).
        year: u16,
        /// Pre-allocation or final.
        phase: AllocationPhase,
        /// The firms' data.
        firms: Vec<SectorFirmInput>,
    },
}

impl ComplianceCommand {
    /// The snake_case name of the command.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            ComplianceCommand::LoadRulebook { .. } => "load_rulebook",
            ComplianceCommand::RegisterEntities { .. } => "register_entities",
            ComplianceCommand::Allocate { .. } => "allocate_free",
            ComplianceCommand::SubmitReport { .. } => "submit_report",
            ComplianceCommand::VerifyReport { .. } => "verify_report",
            ComplianceCommand::CorrectReport { .. } => "correct_report",
            ComplianceCommand::CloseYear { .. } => "close_year",
            ComplianceCommand::SetPlausibilityRanges { .. } => "set_plausibility_ranges",
            ComplianceCommand::Borrow { .. } => "borrow",
            ComplianceCommand::AllocateEu { .. } => "allocate_eu",
            ComplianceCommand::AllocateSector { .. } => "allocate_sector",
        }
    }
}
