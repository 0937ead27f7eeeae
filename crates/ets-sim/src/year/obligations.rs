//! Allocation and each firm's position against its obligation: the pre- and final
//! allocation, the provisional results, borrowing from a later vintage and the
//! offsets the offset seller sells to short firms.

use super::commands::{entity_output, output_basis};
use super::driver::{Driver, Sink};
use super::{
    ADMIN, CHUNK, OFFSET_ACCOUNT, OFFSET_SELLER, YearFacts, allowance, compliance, day_ms,
    entity_account, entity_participant, held, registry, rulebook_number,
};
use crate::scenario::SimEntity;
use anyhow::{Context as _, Result};
use ets_engine::compliance::{AllocationPhase, ComplianceCommand, ComplianceEffect};
use ets_engine::{Effect, Outcome};
use ets_model::{Quantity, UnitClass};
use ets_registry::RegistryCommand;

/// Tonnes the allocation steps moved.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Allocated {
    /// Issued over the pre- and the final allocation.
    pub issued: u64,
    /// Clawed back at the final allocation's true-up.
    pub clawed_back: u64,
}

/// Pre-allocation (on the rulebook's pre-allocation day, on the base year's output)
/// and final allocation (on its final-allocation day, on the year's output) of each
/// year of the period, in chunks of entities (see `timeline` for the days). Every year
/// of a period allocates on the same output (the scenario generates one year).
pub(super) fn allocate<S: Sink>(
    driver: &mut Driver<'_, S>,
    facts: &YearFacts<'_>,
    entities: &[SimEntity],
) -> Result<Allocated> {
    let mut allocated = Allocated::default();
    let basis = output_basis(&facts.rulebook, &facts.scheme)?;
    let years = &facts.timeline.years;
    let bar = driver.bar(
        2 * years.len() * entities.len().div_ceil(CHUNK),
        "allocation",
    );
    let steps = [
        (
            AllocationPhase::Pre,
            day_ms(facts.timeline.pre_allocation, 1),
        ),
        (
            AllocationPhase::Final,
            day_ms(facts.timeline.final_allocation, 2),
        ),
    ];
    for (phase, at) in steps {
        for (year, chunk) in years
            .iter()
            .flat_map(|year| entities.chunks(CHUNK).map(move |chunk| (*year, chunk)))
        {
            let outputs = chunk
                .iter()
                .map(|e| entity_output(e, phase == AllocationPhase::Pre, basis))
                .collect::<Result<Vec<_>>>()?;
            let command = ComplianceCommand::Allocate {
                scheme: facts.scheme.clone(),
                year,
                phase,
                outputs,
            };
            if let Effect::Compliance(ComplianceEffect::Allocated {
                issued,
                clawed_back,
                ..
            }) = driver.ok(ADMIN, at, compliance(command))?
            {
                allocated.issued += issued.tonnes();
                allocated.clawed_back += clawed_back.tonnes();
            }
            bar.inc(1);
        }
    }
    bar.finish();
    Ok(allocated)
}

/// Each firm's position after allocation, per entity in entity order.
#[derive(Debug, Clone)]
pub(crate) struct Positions {
    /// Obligation (provisional results), tonnes.
    pub obligation: Vec<u64>,
    /// Verified emissions less allocation, floored at 0, tonnes.
    pub short: Vec<u64>,
    /// Verified emissions, tonnes.
    pub verified: Vec<u64>,
    /// What the firm means to surrender: its obligation, less what a defaulter leaves out.
    pub target: Vec<u64>,
    /// Holdings above the obligation, tonnes.
    pub surplus: Vec<u64>,
    /// Tonnes still to acquire to surrender the target.
    pub need: Vec<u64>,
}

impl Positions {
    /// Reads the provisional results and the holdings from the engine.
    pub(super) fn read<S: Sink>(
        driver: &Driver<'_, S>,
        facts: &YearFacts<'_>,
        entities: &[SimEntity],
    ) -> Result<Positions> {
        let engine = driver.sink.engine();
        let provisional = engine
            .compliance()
            .results(
                engine.registry(),
                &facts.scheme,
                facts.year,
                Some(super::close::reference_price(engine, facts)?),
            )
            .map_err(|e| anyhow::anyhow!("provisional results: {e}"))?;
        let mut obligation = vec![0u64; entities.len()];
        let mut short = vec![0u64; entities.len()];
        let mut verified = vec![0u64; entities.len()];
        for line in &provisional {
            let index = line.entity.0.checked_sub(1_000).context("entity id")? as usize;
            let Some(slot) = obligation.get_mut(index) else {
                continue;
            };
            *slot = line.obligation.tonnes();
            let emissions = line.verified_emissions.map_or(0, |q| q.tonnes());
            short[index] = emissions.saturating_sub(line.allocation.tonnes());
            verified[index] = emissions;
        }
        let holdings: Vec<u64> = entities
            .iter()
            .map(|e| {
                let account = entity_account(e.index);
                held(engine, account, &facts.cea) + held(engine, account, &facts.cea_2020)
            })
            .collect();
        let target: Vec<u64> = entities
            .iter()
            .zip(&obligation)
            .map(|(e, &owed)| ((owed as f64) * (1.0 - e.shortfall)).floor() as u64)
            .collect();
        let surplus = holdings
            .iter()
            .zip(&obligation)
            .map(|(h, o)| h.saturating_sub(*o))
            .collect();
        let need = holdings
            .iter()
            .zip(&target)
            .map(|(h, t)| t.saturating_sub(*h))
            .collect();
        Ok(Positions {
            obligation,
            short,
            verified,
            target,
            surplus,
            need,
        })
    }

    /// Appends the sector firms' lines `(obligation, verified, allocation, holdings)`,
    /// in entity order after the power entities: they aim to surrender in full.
    pub(crate) fn join_sectors(&mut self, lines: &[(u64, u64, u64, u64)]) {
        for &(owed, verified, allocation, holds) in lines {
            self.obligation.push(owed);
            self.short.push(verified.saturating_sub(allocation));
            self.verified.push(verified);
            self.target.push(owed);
            self.surplus.push(holds.saturating_sub(owed));
            self.need.push(owed.saturating_sub(holds));
        }
    }

    /// Per entity: tonnes it must still buy to hold the first intermediate deadline's
    /// share of its obligation (China 2021: 95% by 15 November 2023); 0 without one.
    pub(crate) fn need_before_intermediate(&self, timeline: &super::Timeline) -> Vec<u64> {
        let Some(deadline) = timeline.intermediate_deadlines().first() else {
            return vec![0; self.need.len()];
        };
        self.need
            .iter()
            .zip(&self.target)
            .map(|(&need, &target)| {
                let holds = target.saturating_sub(need);
                deadline.due_of(target).saturating_sub(holds)
            })
            .collect()
    }
}

/// What the firms borrowed from a later vintage.
#[derive(Debug, Clone, Default)]
pub(crate) struct Borrowing {
    /// Per entity, tonnes borrowed.
    pub borrowed: Vec<u64>,
    /// Entities that borrowed.
    pub borrowers: usize,
    /// The vintage borrowed from, when the rulebook allows borrowing.
    pub class: Option<UnitClass>,
}

/// The rulebook's borrowing rule: `(minimum gap rate, largest share of the gap,
/// vintage)`, when the scenario enables it and the rulebook has one.
fn borrowing_rule(facts: &YearFacts<'_>) -> Option<(f64, f64, f64)> {
    let rule = |key| rulebook_number(&facts.rulebook, "borrowing", key);
    if !facts.scenario.flexibility.borrowing {
        return None;
    }
    Some((
        rule("min_gap_rate")?,
        rule("max_share_of_gap")?,
        rule("from_vintage")?,
    ))
}

/// Borrowing (with the final allocation, by 15 July): a firm whose gap rate is above
/// the rulebook's threshold borrows up to the limit, no more than it needs.
pub(super) fn borrow<S: Sink>(
    driver: &mut Driver<'_, S>,
    facts: &YearFacts<'_>,
    entities: &[SimEntity],
    positions: &mut Positions,
) -> Result<Borrowing> {
    let mut borrowing = Borrowing {
        borrowed: vec![0u64; entities.len()],
        ..Borrowing::default()
    };
    let Some((rate, share, vintage)) = borrowing_rule(facts) else {
        return Ok(borrowing);
    };
    borrowing.class = Some(allowance(vintage as u16)?);
    // With the final allocation (China 2021: by 15 July 2023).
    let t_borrow = day_ms(facts.timeline.final_allocation, 2) + 1_800_000;
    let mut asked = Vec::new();
    for (i, entity) in entities.iter().enumerate() {
        let (short, verified, need) =
            (positions.short[i], positions.verified[i], positions.need[i]);
        if short == 0 || (short as f64) <= rate * verified as f64 || need == 0 {
            continue;
        }
        let quantity = ((short as f64 * share).floor() as u64).min(need);
        if quantity == 0 {
            continue;
        }
        let participant = entity_participant(entity.index);
        let command = ComplianceCommand::Borrow {
            entity: participant,
            year: facts.year,
            quantity: Quantity::new(quantity),
        };
        driver.defer(participant, t_borrow, compliance(command))?;
        asked.push((i, quantity));
    }
    // A refusal (a rounding at the threshold) leaves the firm to the market.
    for ((i, quantity), outcome) in asked.into_iter().zip(driver.flush_outcomes()?) {
        if matches!(outcome, Outcome::Accepted(_)) {
            borrowing.borrowed[i] = quantity;
            positions.need[i] -= quantity;
            borrowing.borrowers += 1;
        }
    }
    Ok(borrowing)
}

/// Offsets: the offset seller sells to short firms, each up to its offset limit (the
/// rulebook's share of its obligation) and its remaining need, first come first served
/// in entity order until the supply runs out (on the final-allocation day). Returns the tonnes
/// sold per entity.
pub(super) fn sell_offsets<S: Sink>(
    driver: &mut Driver<'_, S>,
    facts: &YearFacts<'_>,
    entities: &[SimEntity],
    supply: u64,
    positions: &mut Positions,
) -> Result<Vec<u64>> {
    let offset_share = rulebook_number(&facts.rulebook, "offsets", "limit_share").unwrap_or(0.0);
    let mut offsets = vec![0u64; entities.len()];
    let mut left = supply;
    // After the final allocation, before the window opens.
    let t_ccer = day_ms(facts.timeline.final_allocation, 3);
    for (i, entity) in entities.iter().enumerate() {
        if left == 0 {
            break;
        }
        let limit = (positions.obligation[i] as f64 * offset_share).floor() as u64;
        let quantity = limit.min(positions.need[i]).min(left);
        if quantity == 0 {
            continue;
        }
        let command = RegistryCommand::Transfer {
            from: OFFSET_ACCOUNT,
            to: entity_account(entity.index),
            class: facts.ccer,
            quantity: Quantity::new(quantity),
        };
        driver.defer(OFFSET_SELLER, t_ccer, registry(command))?;
        offsets[i] = quantity;
        positions.need[i] -= quantity;
        left -= quantity;
    }
    driver.flush_phase("offsets")?;
    Ok(offsets)
}
