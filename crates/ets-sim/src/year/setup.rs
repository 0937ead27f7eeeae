//! Setting up the year in the engine: the authority's participants and accounts,
//! the entities, the rulebook (scaled by the design's cap), the banked first-period
//! allowances, the offset supply and the MRV plausibility ranges.

use super::commands::entity_spec;
use super::driver::{Driver, Sink};
use super::{
    ADMIN, CANCELLATION, CHUNK, EXCHANGE_OPERATOR, FEE_ACCOUNT, ISSUANCE, OFFSET_ACCOUNT,
    OFFSET_SELLER, SURRENDER, VERIFIER, YearFacts, compliance, entity_account, entity_participant,
    registry,
};
use crate::scenario::{CapDesign, Design, Population, SimEntity};
use anyhow::{Context as _, Result};
use ets_engine::Command;
use ets_engine::compliance::ComplianceCommand;
use ets_model::{AccountId, ParticipantId, Quantity};
use ets_registry::{AccountKind, ParticipantKind, RegistryCommand};

/// How the design divides the intensity allocation: an absolute cap or an auction
/// share scales every benchmark (so every entity's free allocation) by one factor, and
/// the auction sells the rest.
pub(super) struct DesignAllocation {
    /// Free allocation over the intensity allocation (1 = the rulebook as written).
    pub free_factor: f64,
    /// Tonnes sold at primary auctions (whole thousands).
    pub auction_volume: u64,
}

impl DesignAllocation {
    /// The division `design` makes of `intensity_tonnes` (the intensity allocation,
    /// which abatement leaves unchanged since it leaves output unchanged).
    pub(super) fn of(design: &Design, intensity_tonnes: u64) -> DesignAllocation {
        if design.cap != CapDesign::Absolute && design.auction_share <= 0.0 {
            return DesignAllocation {
                free_factor: 1.0,
                auction_volume: 0,
            };
        }
        let total = if design.cap == CapDesign::Absolute {
            design.absolute_cap_mt * 1e6
        } else {
            intensity_tonnes as f64
        };
        let free = total * (1.0 - design.auction_share);
        let auctioned = ((total - free).max(0.0) as u64 / 1_000) * 1_000;
        DesignAllocation {
            free_factor: free / intensity_tonnes.max(1) as f64,
            auction_volume: auctioned,
        }
    }
}

/// Loads the scenario's rulebook, its benchmarks scaled by `free_factor` when the
/// design changes them.
pub(super) fn load_rulebook<S: Sink>(
    driver: &mut Driver<'_, S>,
    facts: &YearFacts<'_>,
    free_factor: f64,
    at: i64,
) -> Result<()> {
    // The file name alone: the journal (and so the state hash) must not depend on how the
    // scenario's path was spelt (relative, absolute, another working directory).
    let rulebook_name = facts.scenario.scenario.rulebook.file_name().map_or_else(
        || "rulebook".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    let (source_name, toml) = if (free_factor - 1.0).abs() > 1e-12 {
        (
            format!("{rulebook_name} (benchmarks x {free_factor:.10}, design)"),
            scale_benchmarks(&facts.rulebook, free_factor)?,
        )
    } else {
        (rulebook_name, facts.rulebook.clone())
    };
    driver.ok(
        ADMIN,
        at,
        compliance(ComplianceCommand::LoadRulebook { source_name, toml }),
    )?;
    Ok(())
}

/// Banked 2019-20 allowances (an assumption of the scenario): issued as CEA-2020 and
/// placed in each entity's account at the start. Returns the tonnes banked.
pub(super) fn place_bank<S: Sink>(
    driver: &mut Driver<'_, S>,
    facts: &YearFacts<'_>,
    entities: &[SimEntity],
    at: i64,
) -> Result<u64> {
    let banked_total: u64 = entities.iter().map(|e| e.banked_2020).sum();
    if banked_total == 0 {
        return Ok(0);
    }
    driver.ok(
        ADMIN,
        at,
        registry(RegistryCommand::Issue {
            class: facts.cea_2020,
            quantity: Quantity::new(banked_total),
        }),
    )?;
    for entity in entities.iter().filter(|e| e.banked_2020 > 0) {
        driver.defer(
            ADMIN,
            at,
            registry(RegistryCommand::Allocate {
                to: entity_account(entity.index),
                class: facts.cea_2020,
                quantity: Quantity::new(entity.banked_2020),
            }),
        )?;
    }
    driver.flush_phase("bank")?;
    Ok(banked_total)
}

/// The offset supply: issued once and moved to one offset seller's trading account.
/// Returns the tonnes issued.
pub(super) fn issue_offset_supply<S: Sink>(
    driver: &mut Driver<'_, S>,
    facts: &YearFacts<'_>,
    population: &Population,
    at: i64,
) -> Result<u64> {
    let share = facts.scenario.flexibility.ccer_supply_share;
    let supply = (population.emissions_mt() * 1e6 * share).floor() as u64;
    if supply == 0 {
        return Ok(0);
    }
    let commands = [
        RegistryCommand::RegisterParticipant {
            id: OFFSET_SELLER,
            kind: ParticipantKind::Institution,
            name: "CCER seller".into(),
        },
        RegistryCommand::OpenAccount {
            id: OFFSET_ACCOUNT,
            kind: AccountKind::Trading,
            holder: OFFSET_SELLER,
            representatives: vec![OFFSET_SELLER],
            approvals_required: 1,
        },
        RegistryCommand::Issue {
            class: facts.ccer,
            quantity: Quantity::new(supply),
        },
        RegistryCommand::Transfer {
            from: ISSUANCE,
            to: OFFSET_ACCOUNT,
            class: facts.ccer,
            quantity: Quantity::new(supply),
        },
    ];
    for command in commands {
        driver.ok(ADMIN, at, registry(command))?;
    }
    Ok(supply)
}

/// Registers the entities and their units (in chunks) and sets the MRV plausibility
/// ranges of the scenario.
pub(super) fn register_entities<S: Sink>(
    driver: &mut Driver<'_, S>,
    facts: &YearFacts<'_>,
    entities: &[SimEntity],
    at: i64,
) -> Result<()> {
    for chunk in entities.chunks(CHUNK) {
        let specs = chunk.iter().map(entity_spec).collect::<Result<Vec<_>>>()?;
        driver.ok(
            ADMIN,
            at,
            compliance(ComplianceCommand::RegisterEntities {
                scheme: facts.scheme.clone(),
                entities: specs,
            }),
        )?;
    }
    let mrv = &facts.scenario.mrv;
    driver.ok(
        ADMIN,
        at,
        compliance(ComplianceCommand::SetPlausibilityRanges {
            scheme: facts.scheme.clone(),
            carbon_content_min: format!("{:.4}", mrv.plausible_carbon_content[0]),
            carbon_content_max: format!("{:.4}", mrv.plausible_carbon_content[1]),
            intensity_min: format!("{:.2}", mrv.plausible_intensity[0]),
            intensity_max: format!("{:.2}", mrv.plausible_intensity[1]),
        }),
    )?;
    Ok(())
}

/// The authority's participants and system accounts, the exchange operator and its
/// fee account, and one participant with an operator holding account per entity.
pub(super) fn setup<S: Sink>(
    driver: &mut Driver<'_, S>,
    entities: &[SimEntity],
    at: i64,
) -> Result<()> {
    set_up_system(driver, at)?;
    for entity in entities {
        let id = entity_participant(entity.index);
        driver.defer(
            ADMIN,
            at,
            participant(
                id,
                ParticipantKind::CoveredEntity,
                format!("Power company {}", entity.index + 1),
            ),
        )?;
        driver.defer(
            ADMIN,
            at,
            open(
                entity_account(entity.index),
                AccountKind::OperatorHolding,
                id,
            ),
        )?;
    }
    driver.flush_phase("setup")?;
    Ok(())
}

/// The authority and the verifier, the issuance, surrender and cancellation accounts, the
/// exchange operator and its fee account.
fn set_up_system<S: Sink>(driver: &mut Driver<'_, S>, at: i64) -> Result<()> {
    driver.ok(
        ADMIN,
        at,
        participant(ADMIN, ParticipantKind::Administrator, "MEE".into()),
    )?;
    driver.ok(
        ADMIN,
        at,
        participant(VERIFIER, ParticipantKind::Verifier, "Verifier".into()),
    )?;
    driver.ok(ADMIN, at, open(ISSUANCE, AccountKind::Issuance, ADMIN))?;
    driver.ok(ADMIN, at, open(SURRENDER, AccountKind::Surrender, ADMIN))?;
    driver.ok(
        ADMIN,
        at,
        open(CANCELLATION, AccountKind::Cancellation, ADMIN),
    )?;
    driver.ok(
        ADMIN,
        at,
        participant(
            EXCHANGE_OPERATOR,
            ParticipantKind::Exchange,
            "Exchange".into(),
        ),
    )?;
    driver.ok(
        ADMIN,
        at,
        open(FEE_ACCOUNT, AccountKind::Trading, EXCHANGE_OPERATOR),
    )?;
    Ok(())
}

/// Registers the participant `id` of `kind` named `name`.
fn participant(id: ParticipantId, kind: ParticipantKind, name: String) -> Command {
    registry(RegistryCommand::RegisterParticipant { id, kind, name })
}

/// Opens the account `id` of `kind` held by `holder`, its sole representative.
fn open(id: AccountId, kind: AccountKind, holder: ParticipantId) -> Command {
    registry(RegistryCommand::OpenAccount {
        id,
        kind,
        holder,
        representatives: vec![holder],
        approvals_required: 1,
    })
}

/// The rulebook with every China benchmark (electricity and heat) multiplied by
/// `factor`, written with 10 decimals.
pub(super) fn scale_benchmarks(rulebook: &str, factor: f64) -> Result<String> {
    let mut value: toml::Value = toml::from_str(rulebook).context("parsing the rulebook")?;
    let benchmarks = value
        .get_mut("allocation")
        .and_then(|v| v.get_mut("china"))
        .and_then(|v| v.get_mut("benchmarks"))
        .and_then(toml::Value::as_table_mut)
        .context("the design options need [allocation.china.benchmarks]")?;
    for (_, table) in benchmarks.iter_mut() {
        let Some(table) = table.as_table_mut() else {
            continue;
        };
        for key in ["electricity_tonnes_per_mwh", "heat_tonnes_per_gj"] {
            if let Some(entry) = table.get_mut(key) {
                let number = match entry {
                    toml::Value::String(text) => text.parse::<f64>().ok(),
                    toml::Value::Float(f) => Some(*f),
                    _ => None,
                }
                .with_context(|| format!("benchmark {key}"))?;
                *entry = toml::Value::String(format!("{:.10}", number * factor));
            }
        }
    }
    toml::to_string(&value).context("writing the scaled rulebook")
}
