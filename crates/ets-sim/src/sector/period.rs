//! One sector's compliance period in the engine, as ordinary journaled commands: its
//! firms' participants and operator holding accounts, its rulebook, their registration,
//! their verified emissions (entered as the authority's figure: the sector rulebooks
//! carry no fuel-based MRV defaults, so the engine takes the verified figure as it does
//! for the EU), the pre-allocation and the final allocation with its true-up (the
//! engine's `AllocateSector`, which computes them by `ets_scheme::sector` and records
//! them like power's), then, after the market, the surrenders and the close.

use super::firms::SimSectorFirm;
use crate::report::capitalised;
use crate::year::{ADMIN, Driver, Sink, entity_account, entity_participant, held};
use anyhow::{Context as _, Result};
use ets_engine::Command;
use ets_engine::compliance::{
    AllocationPhase, AllocationRecord, ComplianceCommand, EntityResult, EntitySpec,
    SectorFirmInput, SectorLine,
};
use ets_model::{Price, Quantity, UnitClass};
use ets_registry::{AccountKind, ParticipantKind, RegistryCommand};
use ets_scheme::Rulebook;
use ets_scheme::sector::{LineKind, SectorAllocationRules, co2_equivalent};

/// Entities per registration command (as for power).
const CHUNK: usize = 400;

/// A sector's period: its rulebook (as loaded and as text), the year, its firms.
pub struct SectorPeriod<'a> {
    /// The rulebook's file name (journaled as the source name).
    pub rulebook_name: String,
    /// The rulebook's text (journaled).
    pub rulebook_text: String,
    /// The rulebook, loaded.
    pub rulebook: Rulebook,
    /// The compliance year.
    pub year: u16,
    /// The firms.
    pub firms: &'a [SimSectorFirm],
}

impl SectorPeriod<'_> {
    /// The scheme id.
    #[must_use]
    pub fn scheme(&self) -> &str {
        &self.rulebook.scheme.id
    }

    /// The sector's allocation rules.
    ///
    /// # Errors
    /// When the rulebook is not a sector rulebook.
    pub fn rules(&self) -> Result<&SectorAllocationRules> {
        self.rulebook
            .sector_allocation()
            .with_context(|| format!("{}: not a sector rulebook", self.rulebook_name))
    }

    /// The year's allowance class (CEA of the year).
    #[must_use]
    pub fn class(&self) -> UnitClass {
        UnitClass::Allowance {
            scheme: self.rulebook.scheme.unit_code,
            vintage: ets_model::Vintage(self.year),
        }
    }
}

/// What setting up a sector's period gave each firm, in firm order.
#[derive(Debug, Clone, Default)]
pub struct SectorSetUp {
    /// Verified emissions, tonnes CO2e.
    pub verified: Vec<u64>,
    /// Pre-allocated, tonnes (zeros without a pre-allocation).
    pub pre_allocated: Vec<u64>,
    /// Final allocation, tonnes.
    pub allocation: Vec<u64>,
    /// The benchmark the intensity method used, t CO2e per t of product.
    pub benchmark: Option<f64>,
    /// Tonnes cancelled where the pre-allocation exceeded the final allocation.
    pub clawed_back: u64,
}

/// Sets up `period` at `at_ms` (a day after the power allocation, before the market):
/// the firms' participants and accounts, the rulebook, their registration, their
/// verified emissions, the pre-allocation and the final allocation. This is the call a
/// multi-year driver chains per (sector, period); the participants and accounts are
/// opened only when `open_accounts` (the first period of a store).
///
/// # Errors
/// When a command is refused or a formula refuses the firms' data.
pub(crate) fn set_up_period<S: Sink>(
    driver: &mut Driver<'_, S>,
    period: &SectorPeriod<'_>,
    at_ms: i64,
    open_accounts: bool,
) -> Result<SectorSetUp> {
    if open_accounts {
        open_firm_accounts(driver, period, at_ms)?;
    }
    driver.ok(
        ADMIN,
        at_ms,
        compliance(ComplianceCommand::LoadRulebook {
            source_name: period.rulebook_name.clone(),
            toml: period.rulebook_text.clone(),
        }),
    )?;
    for chunk in period.firms.chunks(CHUNK) {
        let entities = chunk
            .iter()
            .map(|firm| EntitySpec {
                participant: entity_participant(firm.index),
                account: entity_account(firm.index),
                units: Vec::new(),
            })
            .collect();
        driver.ok(
            ADMIN,
            at_ms,
            compliance(ComplianceCommand::RegisterEntities {
                scheme: period.scheme().to_owned(),
                entities,
            }),
        )?;
    }
    let verified = enter_verified(driver, period, at_ms)?;
    let pre_allocated = pre_allocate(driver, period, at_ms)?;
    let (allocation, benchmark, clawed_back) =
        final_allocation(driver, period, &pre_allocated, at_ms)?;
    Ok(SectorSetUp {
        verified,
        pre_allocated,
        allocation,
        benchmark,
        clawed_back,
    })
}

/// Each firm's participant and operator holding account.
fn open_firm_accounts<S: Sink>(
    driver: &mut Driver<'_, S>,
    period: &SectorPeriod<'_>,
    at_ms: i64,
) -> Result<()> {
    let sector = period.rules()?.sector;
    for firm in period.firms {
        let id = entity_participant(firm.index);
        let name = format!("{} company {}", capitalised(sector.key()), firm.index + 1);
        driver.defer(
            ADMIN,
            at_ms,
            registry(RegistryCommand::RegisterParticipant {
                id,
                kind: ParticipantKind::CoveredEntity,
                name,
            }),
        )?;
        driver.defer(
            ADMIN,
            at_ms,
            registry(RegistryCommand::OpenAccount {
                id: entity_account(firm.index),
                kind: AccountKind::OperatorHolding,
                holder: id,
                representatives: vec![id],
                approvals_required: 1,
            }),
        )?;
    }
    driver.flush_phase("sector accounts")?;
    Ok(())
}

/// The authority enters each firm's verified emissions (CO2e by the rulebook's gases).
fn enter_verified<S: Sink>(
    driver: &mut Driver<'_, S>,
    period: &SectorPeriod<'_>,
    at_ms: i64,
) -> Result<Vec<u64>> {
    let rules = period.rules()?;
    let mut verified = Vec::with_capacity(period.firms.len());
    for firm in period.firms {
        let emissions = co2_equivalent(rules, &firm.gases())
            .map_err(|e| anyhow::anyhow!("firm {}: {e}", firm.index))?;
        verified.push(emissions.tonnes());
        driver.defer(
            ADMIN,
            at_ms,
            compliance(ComplianceCommand::CorrectReport {
                entity: entity_participant(firm.index),
                year: period.year,
                emissions,
            }),
        )?;
    }
    driver.flush_phase("sector reports")?;
    Ok(verified)
}

/// The firms' data for the engine's sector allocation (`AllocateSector`).
fn firm_inputs(period: &SectorPeriod<'_>) -> Vec<SectorFirmInput> {
    period
        .firms
        .iter()
        .map(|firm| SectorFirmInput {
            participant: entity_participant(firm.index),
            output_tonnes: firm.output_tonnes.to_string(),
            line: match firm.line {
                LineKind::Standard => SectorLine::Standard,
                LineKind::WhiteCementClinker => SectorLine::WhiteCementClinker,
                LineKind::ByProductClinker => SectorLine::ByProductClinker,
            },
            carbide_slag_share: firm.carbide_slag_share.to_string(),
            previous_year_verified: Quantity::new(firm.previous_verified),
        })
        .collect()
}

/// The engine allocates the sector's firms for `phase` (one command: the benchmark is
/// the sector's); returns each firm's allocation record, in firm order.
fn allocate<S: Sink>(
    driver: &mut Driver<'_, S>,
    period: &SectorPeriod<'_>,
    phase: AllocationPhase,
    at_ms: i64,
) -> Result<Vec<AllocationRecord>> {
    driver.ok(
        ADMIN,
        at_ms,
        compliance(ComplianceCommand::AllocateSector {
            scheme: period.scheme().to_owned(),
            year: period.year,
            phase,
            firms: firm_inputs(period),
        }),
    )?;
    let engine = driver.sink.engine();
    Ok(period
        .firms
        .iter()
        .map(|firm| {
            engine
                .compliance()
                .allocation(entity_participant(firm.index), period.year)
                .cloned()
                .unwrap_or_default()
        })
        .collect())
}

/// The pre-allocation on the previous year's verified emissions, by the engine (none
/// in 2024: zeros).
fn pre_allocate<S: Sink>(
    driver: &mut Driver<'_, S>,
    period: &SectorPeriod<'_>,
    at_ms: i64,
) -> Result<Vec<u64>> {
    if period.rules()?.pre_allocation.is_none() {
        return Ok(vec![0; period.firms.len()]);
    }
    let records = allocate(driver, period, AllocationPhase::Pre, at_ms)?;
    Ok(records
        .iter()
        .map(|record| record.pre_allocated.map_or(0, Quantity::tonnes))
        .collect())
}

/// The final allocation by the rulebook's method and the true-up against the
/// pre-allocation, by the engine (the rest issued, an excess clawed back); returns each
/// firm's allocation, the benchmark the engine recorded and the tonnes clawed back.
fn final_allocation<S: Sink>(
    driver: &mut Driver<'_, S>,
    period: &SectorPeriod<'_>,
    pre: &[u64],
    at_ms: i64,
) -> Result<(Vec<u64>, Option<f64>, u64)> {
    let records = allocate(driver, period, AllocationPhase::Final, at_ms)?;
    let allocation: Vec<u64> = records
        .iter()
        .map(|record| record.final_allocation.map_or(0, Quantity::tonnes))
        .collect();
    let clawed_back = allocation
        .iter()
        .zip(pre)
        .map(|(a, p)| p.saturating_sub(*a))
        .sum();
    let benchmark = records.first().and_then(|record| {
        record
            .breakdown
            .iter()
            .find(|(name, _)| name == "benchmark")
            .and_then(|(_, value)| value.parse::<f64>().ok())
    });
    Ok((allocation, benchmark, clawed_back))
}

/// Each firm's obligation (the engine's provisional results) and holdings of the year's
/// class, in firm order.
///
/// # Errors
/// When the engine cannot give the results.
pub(crate) fn obligations_and_holdings<S: Sink>(
    driver: &Driver<'_, S>,
    period: &SectorPeriod<'_>,
    price: Price,
) -> Result<(Vec<u64>, Vec<u64>)> {
    let engine = driver.sink.engine();
    let results = engine
        .compliance()
        .results(engine.registry(), period.scheme(), period.year, Some(price))
        .map_err(|e| anyhow::anyhow!("{}: provisional results: {e}", period.scheme()))?;
    let class = period.class();
    let mut obligations = Vec::with_capacity(period.firms.len());
    let mut holdings = Vec::with_capacity(period.firms.len());
    for firm in period.firms {
        let participant = entity_participant(firm.index);
        let owed = results
            .iter()
            .find(|line| line.entity == participant)
            .map_or(0, |line| line.obligation.tonnes());
        obligations.push(owed);
        holdings.push(held(engine, entity_account(firm.index), &class));
    }
    Ok((obligations, holdings))
}

/// Each firm surrenders up to its obligation, at `surrender_ms` (before any sector's year
/// closes: a close moves the clock past the deadline): the year's class first, then the
/// other vintages its rulebook accepts, latest first (units banked in a chain).
///
/// # Errors
/// When a command is refused.
pub(crate) fn surrender<S: Sink>(
    driver: &mut Driver<'_, S>,
    period: &SectorPeriod<'_>,
    surrender_ms: i64,
    price: Price,
) -> Result<()> {
    let (obligations, _) = obligations_and_holdings(driver, period, price)?;
    let classes = surrender_order(period);
    for (firm, owed) in period.firms.iter().zip(&obligations) {
        let account = entity_account(firm.index);
        let mut left = *owed;
        for class in &classes {
            let quantity = left.min(held(driver.sink.engine(), account, class));
            if quantity == 0 {
                continue;
            }
            left -= quantity;
            driver.defer(
                entity_participant(firm.index),
                surrender_ms,
                registry(RegistryCommand::Surrender {
                    from: account,
                    class: *class,
                    quantity: Quantity::new(quantity),
                    compliance_year: period.year,
                }),
            )?;
        }
    }
    driver.flush_phase("sector surrender")?;
    Ok(())
}

/// The classes a firm surrenders, in order: the year's, then the rulebook's other
/// eligible vintages, latest first.
fn surrender_order(period: &SectorPeriod<'_>) -> Vec<UnitClass> {
    let mut vintages: Vec<_> = period
        .rulebook
        .surrender
        .eligible_vintages
        .iter()
        .filter(|vintage| vintage.0 != period.year)
        .copied()
        .collect();
    vintages.sort_unstable_by(|a, b| b.cmp(a));
    std::iter::once(period.class())
        .chain(vintages.into_iter().map(|vintage| UnitClass::Allowance {
            scheme: period.rulebook.scheme.unit_code,
            vintage,
        }))
        .collect()
}

/// Closes the sector's year at `close_ms` (after its last deadline) with the month's
/// average price for the 2024 penalties; returns the closed results.
///
/// # Errors
/// When the close is refused.
pub(crate) fn close<S: Sink>(
    driver: &mut Driver<'_, S>,
    period: &SectorPeriod<'_>,
    close_ms: i64,
    price: Price,
) -> Result<Vec<EntityResult>> {
    driver.ok(
        ADMIN,
        close_ms,
        compliance(ComplianceCommand::CloseYear {
            scheme: period.scheme().to_owned(),
            year: period.year,
            reference_average_price: Some(price),
        }),
    )?;
    let engine = driver.sink.engine();
    Ok(engine
        .compliance()
        .closed_results(period.scheme(), period.year)
        .context("the sector's year did not close")?
        .to_vec())
}

fn registry(command: RegistryCommand) -> Command {
    Command::Registry(command)
}

fn compliance(command: ComplianceCommand) -> Command {
    Command::Compliance(command)
}
