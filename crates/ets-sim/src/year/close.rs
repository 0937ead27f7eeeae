//! The end of the period: the auction account stocked for the design's primary
//! auctions and the allowance reserve for its trigger, each firm's surrenders by each deadline, and the close after the last.

use super::driver::{Driver, Sink};
use super::obligations::{Borrowing, Positions};
use super::{
    ADMIN, ISSUANCE, YearFacts, allowance, compliance, day_ms, entity_account, entity_participant,
    held, registry,
};
use crate::scenario::{Rng, SimEntity};

/// Salt of the random stream that picks the late firms.
const LATE_STREAM: u64 = 0x1A7E_5A17_0D0E_7E57;
use crate::reserve::{RESERVE_ACCOUNT, RESERVE_HOLDER};
use crate::trading;
use anyhow::{Context as _, Result};
use ets_engine::compliance::{ComplianceCommand, EntityResult};
use ets_model::{Quantity, UnitClass};
use ets_registry::{AccountKind, ParticipantKind, RegistryCommand};

/// A later year of a chain: the reserve keeps what it holds (no new stock). Its units of
/// earlier vintages are carried into the year's vintage (cancelled and issued again,
/// both journaled: an assumption, so the year's auctions can release them); returns the
/// reserve's holding at the start of the year, tonnes.
fn carry_reserve<S: Sink>(
    driver: &mut Driver<'_, S>,
    facts: &YearFacts<'_>,
    at: i64,
) -> Result<u64> {
    let mut carried = 0;
    for vintage in 2019..facts.year {
        let class = allowance(vintage)?;
        let tonnes = held(driver.sink.engine(), RESERVE_ACCOUNT, &class);
        if tonnes == 0 {
            continue;
        }
        let cancel = RegistryCommand::Cancel {
            from: RESERVE_ACCOUNT,
            class,
            quantity: Quantity::new(tonnes),
            reason: format!("allowance reserve carried into {}", facts.year),
        };
        driver.ok(ADMIN, at, registry(cancel))?;
        carried += tonnes;
    }
    if carried > 0 {
        let commands = [
            RegistryCommand::Issue {
                class: facts.cea,
                quantity: Quantity::new(carried),
            },
            RegistryCommand::Transfer {
                from: ISSUANCE,
                to: RESERVE_ACCOUNT,
                class: facts.cea,
                quantity: Quantity::new(carried),
            },
        ];
        for command in commands {
            driver.ok(ADMIN, at, registry(command))?;
        }
    }
    Ok(held(driver.sink.engine(), RESERVE_ACCOUNT, &facts.cea))
}

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
    let at = day_ms(facts.timeline.final_allocation, 4);
    // In a chain the account exists from an earlier year.
    if driver
        .sink
        .engine()
        .registry()
        .account(trading::AUCTION_ACCOUNT)
        .is_err()
    {
        let open = RegistryCommand::OpenAccount {
            id: trading::AUCTION_ACCOUNT,
            kind: AccountKind::Auction,
            holder: ADMIN,
            representatives: vec![ADMIN],
            approvals_required: 1,
        };
        driver.ok(ADMIN, at, registry(open))?;
    }
    let commands = [
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

/// Registers the reserve's holder, opens its account and issues the design's
/// reserve stock into it (nothing without a reserve). Returns the stock, tonnes.
pub(super) fn stock_reserve<S: Sink>(
    driver: &mut Driver<'_, S>,
    facts: &YearFacts<'_>,
) -> Result<u64> {
    let design = &facts.scenario.design.reserve;
    if !design.active() {
        return Ok(0);
    }
    let at = day_ms(facts.timeline.final_allocation, 4);
    if driver
        .sink
        .engine()
        .registry()
        .account(RESERVE_ACCOUNT)
        .is_ok()
    {
        return carry_reserve(driver, facts, at);
    }
    let stock = design.stock_tonnes(1_000);
    let mut commands = vec![
        RegistryCommand::RegisterParticipant {
            id: RESERVE_HOLDER,
            kind: ParticipantKind::Institution,
            name: "Allowance reserve of the authority".to_owned(),
        },
        RegistryCommand::OpenAccount {
            id: RESERVE_ACCOUNT,
            kind: AccountKind::Trading,
            holder: RESERVE_HOLDER,
            representatives: vec![RESERVE_HOLDER],
            approvals_required: 1,
        },
    ];
    if stock > 0 {
        commands.push(RegistryCommand::Issue {
            class: facts.cea,
            quantity: Quantity::new(stock),
        });
        commands.push(RegistryCommand::Transfer {
            from: ISSUANCE,
            to: RESERVE_ACCOUNT,
            class: facts.cea,
            quantity: Quantity::new(stock),
        });
    }
    for command in commands {
        driver.ok(ADMIN, at, registry(command))?;
    }
    Ok(stock)
}

/// The firms' surrenders over the period: by each deadline, each firm surrenders what
/// it holds up to its target (borrowed units first, usable only for this period, then
/// offsets, the bank, the period's allowances), so a firm that bought what it needed
/// meets each deadline's share; a defaulter's target leaves its shortfall out.
pub(super) struct Surrenders<'f> {
    facts: &'f YearFacts<'f>,
    entities: &'f [SimEntity],
    positions: &'f Positions,
    borrowing: &'f Borrowing,
    offsets: &'f [u64],
    /// Per entity: tonnes surrendered so far.
    done: Vec<u64>,
    /// Per entity: surrenders only by the last deadline (`[behaviour] late_share`).
    late: Vec<bool>,
    /// Surrender commands sent.
    pub commands: usize,
}

impl<'f> Surrenders<'f> {
    /// Nothing surrendered yet.
    pub(super) fn new(
        facts: &'f YearFacts<'f>,
        entities: &'f [SimEntity],
        positions: &'f Positions,
        borrowing: &'f Borrowing,
        offsets: &'f [u64],
    ) -> Surrenders<'f> {
        // The late firms come from their own random stream, so the plants and the
        // market are the same with or without them; defaulters are not among them.
        let scenario = facts.scenario;
        let mut rng = Rng::new(scenario.scenario.seed ^ LATE_STREAM);
        let late = entities
            .iter()
            .map(|entity| rng.chance(scenario.behaviour.late_share) && entity.shortfall == 0.0)
            .collect();
        Surrenders {
            facts,
            entities,
            positions,
            borrowing,
            offsets,
            done: vec![0; entities.len()],
            late,
            commands: 0,
        }
    }

    /// The classes surrendered, in order: borrowed units, offsets, then the allowances the
    /// rulebook accepts oldest vintage first (the bank, units carried from earlier periods
    /// of a multi-year run, the period's own), then any of the bank and the period's
    /// vintages the rulebook does not list; each once. Oldest first keeps the latest
    /// vintage, the one the settling window lists (`CEA22` in 2023), for a long firm to
    /// sell after an intermediate deadline: its surplus is not stranded in a vintage no
    /// instrument trades.
    fn classes(&self) -> Result<Vec<UnitClass>> {
        let mut order: Vec<UnitClass> = Vec::new();
        order.extend(self.borrowing.class);
        order.push(self.facts.ccer);
        for vintage in eligible_vintages(&self.facts.rulebook) {
            order.push(allowance(vintage)?);
        }
        order.push(self.facts.cea_2020);
        for year in self.facts.timeline.years.iter().rev() {
            order.push(allowance(*year)?);
        }
        order.push(self.facts.cea);
        let mut unique = Vec::with_capacity(order.len());
        for class in order {
            if !unique.contains(&class) {
                unique.push(class);
            }
        }
        Ok(unique)
    }

    /// The surrenders for deadline `k` of the timeline, at its surrender time.
    pub(super) fn by_deadline<S: Sink>(
        &mut self,
        driver: &mut Driver<'_, S>,
        k: usize,
    ) -> Result<()> {
        let timeline = &self.facts.timeline;
        let at = timeline.deadlines[k].surrender_ms(&timeline.trading_days);
        let order = self.classes()?;
        let last = k + 1 == timeline.deadlines.len();
        for (i, entity) in self.entities.iter().enumerate() {
            if self.late[i] && !last {
                continue;
            }
            let account = entity_account(entity.index);
            let mut remaining = self.positions.target[i].saturating_sub(self.done[i]);
            for class in &order {
                let mut available = held(driver.sink.engine(), account, class);
                if Some(*class) == self.borrowing.class {
                    available = available.min(self.borrowing.borrowed[i]);
                } else if *class == self.facts.ccer {
                    available = available.min(self.offsets[i]);
                }
                let quantity = remaining.min(available);
                if quantity == 0 {
                    continue;
                }
                let command = RegistryCommand::Surrender {
                    from: account,
                    class: *class,
                    quantity: Quantity::new(quantity),
                    compliance_year: self.facts.year,
                };
                driver.defer(entity_participant(entity.index), at, registry(command))?;
                remaining -= quantity;
                self.done[i] += quantity;
                self.commands += 1;
            }
        }
        driver.flush_phase("surrender")?;
        Ok(())
    }
}

/// The vintages the rulebook text accepts for surrender, ascending (none if it does not parse).
fn eligible_vintages(rulebook: &str) -> Vec<u16> {
    ets_scheme::Rulebook::from_toml_str(rulebook, "the scenario's rulebook")
        .map(|rules| {
            rules
                .surrender
                .eligible_vintages
                .iter()
                .map(|v| v.0)
                .collect()
        })
        .unwrap_or_default()
}

/// Each sector firm surrenders what it holds up to its obligation by the last deadline,
/// and each sector's year closes when the power sector's does.
pub(super) fn close_sectors<S: Sink>(
    driver: &mut Driver<'_, S>,
    facts: &YearFacts<'_>,
    sectors: &[crate::sector::SectorYear],
) -> Result<()> {
    if sectors.is_empty() {
        return Ok(());
    }
    let timeline = &facts.timeline;
    let surrender_ms = timeline
        .last_deadline()
        .surrender_ms(&timeline.trading_days);
    let price = reference_price(driver.sink.engine(), facts)?;
    let periods: Vec<_> = sectors
        .iter()
        .map(|sector| sector.period(facts.year))
        .collect();
    for period in &periods {
        crate::sector::period::surrender(driver, period, surrender_ms, price)?;
    }
    for period in &periods {
        crate::sector::period::close(driver, period, timeline.close_ms()?, price)?;
    }
    Ok(())
}

/// Closes the year after the last deadline and returns the closed results.
pub(super) fn close_year<S: Sink>(
    driver: &mut Driver<'_, S>,
    facts: &YearFacts<'_>,
) -> Result<Vec<EntityResult>> {
    driver.ok(
        ADMIN,
        facts.timeline.close_ms()?,
        compliance(ComplianceCommand::CloseYear {
            scheme: facts.scheme.clone(),
            year: facts.year,
            reference_average_price: Some(reference_price(driver.sink.engine(), facts)?),
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

/// The average price of the month before the last deadline (the China 2024 fine's base;
/// other regimes ignore it): the volume-weighted price of the exchange's trades in the
/// 30 days before the deadline, else of all its trades, else the scenario's mean price.
pub(super) fn reference_price(
    engine: &ets_engine::Engine,
    facts: &YearFacts<'_>,
) -> Result<ets_model::Price> {
    let end = day_ms(facts.timeline.last_deadline().due, 16);
    let start = end - 30 * super::DAY_MS;
    let vwap = |from: i64| {
        let (mut value, mut tonnes) = (0i128, 0i128);
        for trade in engine.exchange().trades() {
            if (from..=end).contains(&trade.at.0) {
                let quantity = i128::from(trade.quantity.tonnes());
                value += i128::from(trade.price.ticks()) * quantity;
                tonnes += quantity;
            }
        }
        (tonnes > 0).then(|| value / tonnes)
    };
    let fallback = || (facts.scenario.market.price_mean * 100.0).round() as i128;
    let ticks = vwap(start)
        .or_else(|| vwap(i64::MIN))
        .unwrap_or_else(fallback);
    let ticks = i64::try_from(ticks.max(1)).context("reference price")?;
    ets_model::Price::try_new(ticks).map_err(|e| anyhow::anyhow!("reference price: {e}"))
}
