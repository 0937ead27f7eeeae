//! The end of the year: the auction account stocked for the design's primary
//! auctions, each firm's surrender in December, and the close after the deadline.

use super::driver::{Driver, Sink};
use super::obligations::{Borrowing, Positions};
use super::{
    ADMIN, ISSUANCE, YearFacts, compliance, date_ms, entity_account, entity_participant, held,
    registry,
};
use crate::scenario::SimEntity;
use crate::trading;
use anyhow::{Context as _, Result};
use ets_engine::compliance::{ComplianceCommand, EntityResult};
use ets_model::Quantity;
use ets_registry::{AccountKind, RegistryCommand};

/// Opens the auction account and moves `volume` newly issued allowances into it
/// (nothing when the design auctions nothing).
pub(super) fn stock_auction<S: Sink>(
    driver: &mut Driver<'_, S>,
    facts: &YearFacts<'_>,
    volume: u64,
) -> Result<()> {
    if volume == 0 {
        return Ok(());
    }
    let at = date_ms(facts.calendar + 2, 8, 30, 1);
    let commands = [
        RegistryCommand::OpenAccount {
            id: trading::AUCTION_ACCOUNT,
            kind: AccountKind::Auction,
            holder: ADMIN,
            representatives: vec![ADMIN],
            approvals_required: 1,
        },
        RegistryCommand::Issue {
            class: facts.cea,
            quantity: Quantity::new(volume),
        },
        RegistryCommand::Transfer {
            from: ISSUANCE,
            to: trading::AUCTION_ACCOUNT,
            class: facts.cea,
            quantity: Quantity::new(volume),
        },
    ];
    for command in commands {
        driver.ok(ADMIN, at, registry(command))?;
    }
    Ok(())
}

/// Surrender: each firm its target, in December (after its last purchase): borrowed
/// units first (usable only for this year), then offsets, the bank, the year's CEA.
/// Returns the surrender commands sent.
pub(super) fn surrender<S: Sink>(
    driver: &mut Driver<'_, S>,
    facts: &YearFacts<'_>,
    entities: &[SimEntity],
    positions: &Positions,
    borrowing: &Borrowing,
    offsets: &[u64],
) -> Result<usize> {
    let t_surrender = date_ms(facts.calendar + 2, 12, 29, 1);
    let bar = driver.bar(entities.len(), "surrender");
    let mut surrenders = 0usize;
    let mut order = Vec::with_capacity(4);
    order.extend(borrowing.class);
    order.extend([facts.ccer, facts.cea_2020, facts.cea]);
    for (i, entity) in entities.iter().enumerate() {
        let account = entity_account(entity.index);
        let mut remaining = positions.target[i];
        for class in &order {
            let mut available = held(driver.sink.engine(), account, class);
            if Some(*class) == borrowing.class {
                available = available.min(borrowing.borrowed[i]);
            } else if *class == facts.ccer {
                available = available.min(offsets[i]);
            }
            let quantity = remaining.min(available);
            if quantity == 0 {
                continue;
            }
            let command = RegistryCommand::Surrender {
                from: account,
                class: *class,
                quantity: Quantity::new(quantity),
                compliance_year: facts.year,
            };
            driver.defer(
                entity_participant(entity.index),
                t_surrender,
                registry(command),
            )?;
            remaining -= quantity;
            surrenders += 1;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(surrenders)
}

/// Closes the year after the last deadline and returns the closed results.
pub(super) fn close_year<S: Sink>(
    driver: &mut Driver<'_, S>,
    facts: &YearFacts<'_>,
) -> Result<Vec<EntityResult>> {
    driver.ok(
        ADMIN,
        date_ms(facts.calendar + 3, 1, 2, 1),
        compliance(ComplianceCommand::CloseYear {
            scheme: facts.scheme.clone(),
            year: facts.year,
            reference_average_price: None,
        }),
    )?;
    Ok(driver
        .sink
        .engine()
        .compliance()
        .closed_results(&facts.scheme, facts.year)
        .context("the year did not close")?
        .to_vec())
}
