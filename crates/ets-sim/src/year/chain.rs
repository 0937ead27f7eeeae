//! A chain of compliance periods (2019-2020, 2021, 2022, 2023, 2024, ...) in ONE
//! engine or journaled store, on the real timeline: the participants and accounts
//! are set up once, holdings carry over from period to period (units banked in one
//! period are surrendered or sold in a later one, within what each rulebook accepts),
//! borrowing only where a rulebook has it, the engine's carry-over cap at the close
//! it binds (docs/compliance.md, "Carry-over cap"). Periods whose settling windows
//! coincide (China's 2021 and 2022 were both settled in 2023) form one *step*: their
//! reports and allocations come first, then one market window in which each firm
//! trades its position over all of them, then each period's surrenders and close.
//! docs/simulation.md, "Multi-year runs".

use super::driver::{Driver, Sink};
use super::foreseen;
use super::foresight::StepOutlook;
use super::obligations::{Borrowing, Positions};
use super::{
    OFFSET_ACCOUNT, RunOptions, Timeline, Trade, YearFacts, abate, allowance, close, date_ms,
    executed_trades, held, mrv, obligations, setup,
};
use crate::agents::Abatement;
use crate::scenario::{Rng, Scenario};
use crate::sector::SectorYear;
use crate::trading;
use anyhow::{Context as _, Result, bail};
use ets_engine::Engine;
use ets_engine::compliance::{EntityResult, EntityStatus};
use ets_model::UnitClass;
use ets_time::CivilDate;
use std::collections::BTreeMap;

/// What one period of the chain ended with (from its closed results).
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodResult {
    /// The period (`2019-2020`, `2021`).
    pub label: String,
    /// The scheme id of its rulebook.
    pub scheme: String,
    /// Verified emissions, tonnes.
    pub verified: u64,
    /// Final allocation, tonnes.
    pub allocation: u64,
    /// Obligation after the relief caps, tonnes.
    pub obligation: u64,
    /// Allowances and offsets surrendered, tonnes.
    pub surrendered: u64,
    /// Entities compliant by the last deadline.
    pub compliant: usize,
    /// Entities with a shortfall.
    pub shortfall: usize,
    /// The step (shared settling window) it was traded in, from 0.
    pub step: usize,
}

/// What a chain run left: per period its results, and every trade the exchange settled.
#[derive(Debug, Clone)]
pub struct ChainOutcome {
    /// The periods in order.
    pub periods: Vec<PeriodResult>,
    /// Every trade of the run, in order.
    pub trades: Vec<Trade>,
    /// Commands sent.
    pub commands: u64,
    /// Allowances held by the entities and sector firms at the end, tonnes (all vintages).
    pub banked_at_end: u64,
    /// Per step, the last close of its window (or the one before), yuan/t.
    pub step_closes: Vec<f64>,
}

/// One period, prepared: its facts, the firms' abatement and, once allocated, its
/// positions, borrowing and offsets.
struct Period<'s> {
    facts: YearFacts<'s>,
    abatement: Abatement,
    /// The industrial sectors of the period (`[[sectors]]`), firms after the power entities.
    sectors: Vec<SectorYear>,
    /// How the design divides the allocation (a roadmap year: cap and auction share).
    design: setup::DesignAllocation,
    positions: Option<Positions>,
    borrowing: Borrowing,
    offsets: Vec<u64>,
}

/// Runs `periods` (scenarios of consecutive compliance periods over one population)
/// through `sink`: one setup, then each step (periods settled in the same window). The
/// first step lists at its scenario's reference price and the firms expect its
/// `[abatement] expected_price`; every later step lists at the previous window's last
/// close and the firms expect that close (adaptive expectations, docs/simulation.md).
///
/// # Errors
/// When periods overlap without sharing their window, a command the simulation relies on
/// is refused, or a scenario is broken.
pub fn run_chain<S: Sink>(
    periods: &[Scenario],
    sink: &mut S,
    options: RunOptions,
) -> Result<ChainOutcome> {
    let timelines = periods
        .iter()
        .map(|scenario| Ok(YearFacts::new(scenario)?.timeline))
        .collect::<Result<Vec<_>>>()?;
    let steps = steps(&timelines)?;
    let first = periods.first().context("the chain has no period")?;
    let first_facts = YearFacts::new(first)?;
    let population = crate::scenario::generate(first)?;
    let start_ms = sink.engine().last_time().map_or(0, |t| t.0);
    let mut driver = Driver::new(sink, start_ms, options.progress);
    let t_setup = date_ms(first_facts.calendar + 1, 1, 4, 1);
    setup::setup(&mut driver, &population.entities, t_setup)?;
    setup::issue_offset_supply(&mut driver, &first_facts, &population, t_setup)?;
    let mut rng = Rng::new(first.scenario.seed ^ 0xA5A5_5A5A_0F0F_F0F0);
    let mut results = Vec::new();
    let mut closes = Vec::new();
    let mut last_close: Option<f64> = None;
    let outlook = super::foresight::step_outlooks(periods, &steps)?;
    // Per year, tonnes the engine will deduct from its allocation (units borrowed against
    // its vintage; the previous year's shortfalls under a regime that deducts them): the
    // firms foreseeing a step know it.
    let mut deducted_from: BTreeMap<u16, u64> = BTreeMap::new();
    // Entity indexes in use: the power entities, then the sector firms of any period.
    let mut lines = population.entities.len();
    for (step, range) in steps.iter().enumerate() {
        let adapted: Vec<Scenario> = periods[range.clone()]
            .iter()
            .map(|scenario| expecting(scenario, last_close, outlook[step].growth))
            .collect();
        let carried = carried_tonnes(driver.sink.engine(), lines)?;
        let mut group = foreseeing(&adapted, options, carried, &deducted_from)?;
        for period in &group {
            let firms: usize = period.sectors.iter().map(|s| s.firms.len()).sum();
            lines = lines.max(population.entities.len() + firms);
        }
        let previous = step
            .checked_sub(1)
            .map(|k| timelines[steps[k].end - 1].last_deadline().due);
        let foreseen = foreseen_window(&group, previous)?;
        let market = run_step(
            &mut driver,
            &mut group,
            (outlook[step], foreseen.as_ref()),
            &mut rng,
        )?;
        close_step(&mut driver, &group, step, &mut deducted_from, &mut results)?;
        last_close = market
            .daily_close
            .last()
            .map(|(_, close)| *close)
            .or(last_close);
        closes.push(last_close.unwrap_or(0.0));
    }
    chain_outcome(driver, lines, results, closes)
}

/// Ends the chain's driver and reads its outcome: the periods' results, every trade,
/// the commands sent, the allowances the `lines` entities hold at the end, each step's
/// last close.
fn chain_outcome<S: Sink>(
    mut driver: Driver<'_, S>,
    lines: usize,
    results: Vec<PeriodResult>,
    closes: Vec<f64>,
) -> Result<ChainOutcome> {
    driver.finish()?;
    let engine = driver.sink.engine();
    let banked_at_end = (0..u32::try_from(lines).context("entity count")?)
        .map(|index| allowances_held(engine, super::entity_account(index), u16::MAX))
        .sum();
    Ok(ChainOutcome {
        periods: results,
        trades: executed_trades(engine),
        commands: driver.commands(),
        banked_at_end,
        step_closes: closes,
    })
}

/// A step's periods prepared as their firms see them before they abate: expecting at
/// least the scarcity price when the units carried (`carried`, less what the engine will
/// deduct from the step's years' allocations, `deducted_from`) and the step's foreseen
/// position fall short ([`step_scarcity`]), else as the last close says.
fn foreseeing<'s>(
    adapted: &'s [Scenario],
    options: RunOptions,
    carried: u64,
    deducted_from: &BTreeMap<u16, u64>,
) -> Result<Vec<Period<'s>>> {
    let prepared = |scarcity| {
        adapted
            .iter()
            .map(|scenario| Period::new(scenario, options, scarcity))
            .collect::<Result<Vec<_>>>()
    };
    let group = prepared(0.0)?;
    let owed_back: u64 = group
        .iter()
        .map(|period| deducted_from.get(&period.facts.year).copied().unwrap_or(0))
        .sum();
    let scarcity = step_scarcity(&group, carried.saturating_sub(owed_back))?;
    if scarcity > 0.0 {
        prepared(scarcity)
    } else {
        Ok(group)
    }
}

/// Closes a step's periods (sectors first, then the power year) and adds their results
/// to `results`; records in `deducted_from` what the engine will deduct from later
/// years' allocations (units borrowed against a vintage, shortfalls deducted next year).
fn close_step<S: Sink>(
    driver: &mut Driver<'_, S>,
    group: &[Period<'_>],
    step: usize,
    deducted_from: &mut BTreeMap<u16, u64>,
    results: &mut Vec<PeriodResult>,
) -> Result<()> {
    for period in group {
        if let Some(UnitClass::Allowance { vintage, .. }) = period.borrowing.class {
            *deducted_from.entry(vintage.0).or_insert(0) +=
                period.borrowing.borrowed.iter().sum::<u64>();
        }
    }
    for period in group {
        close::close_sectors(driver, &period.facts, &period.sectors)?;
        let closed = close::close_year(driver, &period.facts)?;
        let deducted: u64 = closed.iter().map(|r| r.next_year_deduction.tonnes()).sum();
        *deducted_from.entry(period.facts.year + 1).or_insert(0) += deducted;
        results.push(period_result(
            &period.facts,
            &period.facts.scheme,
            &closed,
            step,
        ));
        for sector in &period.sectors {
            let scheme = sector.period(period.facts.year).scheme().to_owned();
            let closed = driver
                .sink
                .engine()
                .compliance()
                .closed_results(&scheme, period.facts.year)
                .context("a sector's year did not close")?
                .to_vec();
            results.push(period_result(&period.facts, &scheme, &closed, step));
        }
    }
    Ok(())
}

/// `scenario` as a later step sees it: listing at the last close seen, and expecting it
/// raised by `growth` (the premium of a known tightening, `foresight::step_growths`);
/// a roadmap year with its year's design (absolute cap, auction share, reserve).
fn expecting(scenario: &Scenario, last_close: Option<f64>, growth: f64) -> Scenario {
    let mut adapted = match &scenario.roadmap {
        Some(roadmap) => roadmap.year_scenario(scenario, scenario.scenario.year),
        None => scenario.clone(),
    };
    if let Some(close) = last_close.filter(|close| *close > 0.0) {
        adapted.market.price_mean = close;
        adapted.abatement.expected_price = close * (1.0 + growth);
    }
    adapted
}

impl<'s> Period<'s> {
    /// The period prepared, its firms expecting at least `scarcity` (yuan/t, 0 = none).
    fn new(scenario: &'s Scenario, options: RunOptions, scarcity: f64) -> Result<Period<'s>> {
        let abatement = if scarcity > 0.0 {
            crate::agents::abate_expecting(scenario, scarcity)?
        } else {
            abate(scenario, options)?
        };
        let sectors = crate::sector::sector_years(scenario, scenario.scenario.entities)?;
        let mut design = setup::DesignAllocation::of(&scenario.design, abatement.intensity_tonnes);
        design.auction_volume += crate::sector::auction_tonnes(&sectors);
        Ok(Period {
            facts: YearFacts::new(scenario)?,
            design,
            abatement,
            sectors,
            positions: None,
            borrowing: Borrowing::default(),
            offsets: Vec::new(),
        })
    }
}

/// The allowances the chain's first `lines` entities (the power entities, then the sector
/// firms of the periods run so far) hold now, tonnes (every vintage).
fn carried_tonnes(engine: &Engine, lines: usize) -> Result<u64> {
    Ok((0..u32::try_from(lines).context("entity count")?)
        .map(|index| allowances_held(engine, super::entity_account(index), u16::MAX))
        .sum())
}

/// The scarcity price of a step whose periods are prepared in `group`
/// (`foresight::scarcity_price`): the allowances `carried` into it (less what the engine
/// will deduct from its allocations for earlier borrowing) and each period's foreseen
/// position, its sector firms' included (their allocation, obligations and the auctioned
/// part of their caps), closed along the power firms' MAC curves.
fn step_scarcity(group: &[Period<'_>], carried: u64) -> Result<f64> {
    let mut position = 0.0;
    let mut firms = Vec::new();
    for period in group {
        let scenario = period.facts.scenario;
        position += super::foresight::period_position(
            scenario,
            &period.abatement,
            period.design.free_factor,
            period.design.auction_volume,
        )?;
        position += super::foresight::sectors_position(&period.sectors, period.facts.year)?;
        // The power firms abate to the scarcity price (`agents::abate_expecting`); the
        // sector firms' abatement is decided with their sector year and does not answer
        // it, so their MAC curves do not close the gap.
        firms.extend(period.abatement.firms.iter().cloned());
    }
    Ok(super::foresight::scarcity_price(&firms, carried, position))
}

/// The steps: runs of consecutive periods whose settling windows are the same. A period
/// whose window opens before the previous step's last deadline must share it exactly.
fn steps(timelines: &[super::Timeline]) -> Result<Vec<std::ops::Range<usize>>> {
    let mut steps: Vec<std::ops::Range<usize>> = Vec::new();
    for (i, timeline) in timelines.iter().enumerate() {
        if let Some(last) = steps.last_mut() {
            let previous = &timelines[last.end - 1];
            if timeline.first_trading_day() <= previous.last_deadline().due {
                let same = timeline.trading_days == previous.trading_days
                    && timeline.deadlines == previous.deadlines;
                if !same {
                    bail!(
                        "period {} is settled in a window ({} to {}) that overlaps period {}'s \
                         ({} to {}) without being the same: a chain step trades one window",
                        timeline.period,
                        timeline.first_trading_day(),
                        timeline.last_deadline().due,
                        previous.period,
                        previous.first_trading_day(),
                        previous.last_deadline().due
                    );
                }
                last.end = i + 1;
                continue;
            }
        }
        steps.push(i..i + 1);
    }
    Ok(steps)
}

/// The foreseen window of a step of several periods (`foreseen::window`), after the
/// `previous` step's last deadline; `None` for a step of one period.
fn foreseen_window(group: &[Period<'_>], previous: Option<CivilDate>) -> Result<Option<Timeline>> {
    let [first, _, ..] = group else {
        return Ok(None);
    };
    let years = group
        .iter()
        .flat_map(|period| period.facts.timeline.years.iter().copied())
        .collect();
    let opens = &first.facts.scenario.trading.market_opens;
    foreseen::window(&first.facts.timeline, opens, previous, years)
}

/// One step: for each period its rulebook, registration, reports and verification (after
/// the first period's, its foreseen window when `outlook` has one); then each period's
/// allocation, borrowing and offsets; then the window, in which each firm trades its
/// position over the step's periods and surrenders for each by each deadline.
fn run_step<S: Sink>(
    driver: &mut Driver<'_, S>,
    group: &mut [Period<'_>],
    (outlook, foreseen): (StepOutlook, Option<&Timeline>),
    rng: &mut Rng,
) -> Result<trading::MarketOutcome> {
    for (k, period) in group.iter().enumerate() {
        let at = date_ms(period.facts.calendar + 1, 1, 4, 2);
        let entities = &period.abatement.population.entities;
        setup::load_rulebook(driver, &period.facts, period.design.free_factor, at)?;
        setup::register_entities(driver, &period.facts, entities, at)?;
        mrv::report_and_verify(driver, &period.facts, entities, rng)?;
        if let (0, Some(window)) = (k, foreseen) {
            trade_foreseen(driver, group, window, outlook)?;
        }
    }
    for period in group.iter_mut() {
        let entities = &period.abatement.population.entities;
        obligations::allocate(driver, &period.facts, entities)?;
        let mut positions = Positions::read(driver, &period.facts, entities)?;
        period.borrowing = obligations::borrow(driver, &period.facts, entities, &mut positions)?;
        let supply = held(driver.sink.engine(), OFFSET_ACCOUNT, &period.facts.ccer);
        period.offsets =
            obligations::sell_offsets(driver, &period.facts, entities, supply, &mut positions)?;
        set_up_sectors(driver, period, &mut positions)?;
        period.positions = Some(positions);
        close::stock_auction(driver, &period.facts, period.design.auction_volume)?;
        close::stock_reserve(driver, &period.facts)?;
    }
    trade_step(driver, group, outlook, rng)
}

/// The step's foreseen window (`foreseen::trade`): the first period's firms trade the
/// vintage before its first year on the balance they foresee over the step's periods.
fn trade_foreseen<S: Sink>(
    driver: &mut Driver<'_, S>,
    group: &[Period<'_>],
    window: &Timeline,
    outlook: StepOutlook,
) -> Result<()> {
    let first = group.first().context("an empty step")?;
    let rulebooks: Vec<(&Scenario, f64)> = group
        .iter()
        .map(|period| (period.facts.scenario, period.design.free_factor))
        .collect();
    let entities = &first.abatement.population.entities;
    let balances = foreseen::balances(&rulebooks, entities)?;
    let foreseen = foreseen::Foreseen {
        scenario: first.facts.scenario,
        firms: &first.abatement.firms,
        clearing_price: first.abatement.clearing_price,
        timeline: window,
        class: allowance(first.facts.timeline.years[0] - 1)?,
        balances: &balances,
        outlook,
    };
    foreseen::trade(driver, &foreseen)
}

/// The period's sectors, set up the day the power allocation is final (their firms'
/// accounts opened in their first period), their positions joined after power's.
fn set_up_sectors<S: Sink>(
    driver: &mut Driver<'_, S>,
    period: &mut Period<'_>,
    positions: &mut Positions,
) -> Result<()> {
    if period.sectors.is_empty() {
        return Ok(());
    }
    let facts = &period.facts;
    let at = super::day_ms(facts.timeline.final_allocation, 3);
    crate::sector::set_up_all(driver, &mut period.sectors, facts.year, at)?;
    let price = close::reference_price(driver.sink.engine(), facts)?;
    positions.join_sectors(&crate::sector::positions(
        driver,
        &period.sectors,
        facts.year,
        price,
    )?);
    Ok(())
}

/// The step's window: the market on the firms' positions over all its periods, and
/// each period's surrenders by each deadline.
fn trade_step<S: Sink>(
    driver: &mut Driver<'_, S>,
    group: &[Period<'_>],
    outlook: StepOutlook,
    rng: &mut Rng,
) -> Result<trading::MarketOutcome> {
    let last = group.last().context("an empty step")?;
    let latest = *last
        .facts
        .timeline
        .years
        .last()
        .context("a period without years")?;
    let combined = StepPositions::of(driver.sink.engine(), group, latest)?;
    let mut surrenders = step_surrenders(group)?;
    let timeline = &last.facts.timeline;
    let (must_sell, carry_room) = forced_sales(
        driver.sink.engine(),
        group,
        (&combined.surplus, &combined.need),
    );
    let mut firms = last.abatement.firms.clone();
    firms.extend(crate::sector::market_firms(&last.sectors));
    let input = trading::MarketInput {
        scenario: last.facts.scenario,
        clearing_price: last.abatement.clearing_price,
        firms: &firms,
        need: &combined.need,
        surplus: &combined.surplus,
        emissions: &combined.verified,
        years: group
            .iter()
            .map(|period| period.facts.timeline.years.len() as u16)
            .sum(),
        need_early: &combined.need_early,
        timeline,
        class: allowance(latest)?,
        auction_volume: group.iter().map(|p| p.design.auction_volume).sum(),
        expected_growth: outlook.growth,
        precaution: outlook.precaution,
        must_sell: &must_sell,
        carry_room: &carry_room,
        foreseen: false,
    };
    for (k, deadline) in timeline.intermediate_deadlines().iter().enumerate() {
        if deadline.last_trading_day.is_none() {
            for surrender in &mut surrenders {
                surrender.by_deadline(driver, k)?;
            }
        }
    }
    let market = trading::run(driver, &input, rng, &mut |driver, k| {
        surrenders
            .iter_mut()
            .try_for_each(|surrender| surrender.by_deadline(driver, k))
    })?;
    let last_deadline = timeline.deadlines.len() - 1;
    for surrender in &mut surrenders {
        surrender.by_deadline(driver, last_deadline)?;
    }
    Ok(market)
}

/// Each period's surrenders of the step, on its positions after borrowing and offsets.
fn step_surrenders<'a>(group: &'a [Period<'_>]) -> Result<Vec<close::Surrenders<'a>>> {
    group
        .iter()
        .map(|period| {
            let positions = period.positions.as_ref().context("positions read")?;
            Ok(close::Surrenders::new(
                &period.facts,
                &period.abatement.population.entities,
                positions,
                &period.borrowing,
                &period.offsets,
            ))
        })
        .collect()
}

/// Per line, what the carry-over cap forces each firm to sell in the step's window
/// (`foresight::forced_sales`): power's entities under their rulebook, each sector's firms
/// under their sector rulebook (the 2024 rule applies to every covered firm holding a
/// surplus: one CEA market), and what each may carry past the close (a hedger's buffer
/// beyond it would be cancelled).
fn forced_sales(
    engine: &Engine,
    group: &[Period<'_>],
    surplus_need: (&[u64], &[u64]),
) -> (Vec<u64>, Vec<u64>) {
    let power = group.iter().map(|period| {
        let lines = period.abatement.population.entities.iter();
        (
            period.facts.rulebook.as_str(),
            period.facts.year,
            lines.map(|entity| entity.index).collect(),
        )
    });
    let sectors = group.iter().flat_map(|period| {
        period.sectors.iter().map(move |sector| {
            (
                sector.rulebook_text(),
                period.facts.year,
                sector.firms.iter().map(|firm| firm.index).collect(),
            )
        })
    });
    super::foresight::forced_sales(engine, power.chain(sectors), surplus_need)
}

/// Each firm's position over a step's periods: everything it holds that the step's
/// rulebooks accept (allowances up to the step's latest vintage, borrowed units and
/// offsets bought for it) against the sum of its targets and obligations.
struct StepPositions {
    need: Vec<u64>,
    surplus: Vec<u64>,
    verified: Vec<u64>,
    need_early: Vec<u64>,
}

impl StepPositions {
    /// Per line (the power entities, then the sector firms: entity index = line), over
    /// the step's periods; a period without a line counts nothing for it.
    fn of(engine: &Engine, group: &[Period<'_>], latest: u16) -> Result<StepPositions> {
        let first = group.first().context("an empty step")?;
        let timeline = &first.facts.timeline;
        let mut lines = 0;
        for period in group {
            let positions = period.positions.as_ref().context("positions read")?;
            lines = lines.max(positions.target.len());
        }
        let mut out = StepPositions {
            need: Vec::with_capacity(lines),
            surplus: Vec::with_capacity(lines),
            verified: Vec::with_capacity(lines),
            need_early: Vec::with_capacity(lines),
        };
        let at = |values: &[u64], i: usize| values.get(i).copied().unwrap_or(0);
        for i in 0..lines {
            let account = super::entity_account(u32::try_from(i).context("entity index")?);
            let (mut target, mut obligation, mut verified, mut extra) = (0u64, 0u64, 0u64, 0u64);
            for period in group {
                let positions = period.positions.as_ref().context("positions read")?;
                target += at(&positions.target, i);
                obligation += at(&positions.obligation, i);
                verified += at(&positions.verified, i);
                extra += at(&period.borrowing.borrowed, i) + at(&period.offsets, i);
            }
            let holdings = allowances_held(engine, account, latest) + extra;
            out.need.push(target.saturating_sub(holdings));
            out.surplus.push(holdings.saturating_sub(obligation));
            out.verified.push(verified);
            let early = timeline
                .intermediate_deadlines()
                .first()
                .map_or(0, |deadline| {
                    deadline.due_of(target).saturating_sub(holdings)
                });
            out.need_early.push(early);
        }
        Ok(out)
    }
}

/// Tonnes of CEA allowances of vintage `latest` or older that `account` holds.
pub(super) fn allowances_held(engine: &Engine, account: ets_model::AccountId, latest: u16) -> u64 {
    let registry = engine.registry();
    let Ok(held) = registry.account(account) else {
        return 0;
    };
    registry
        .classes()
        .filter(|(_, class)| {
            matches!(class, UnitClass::Allowance { scheme, vintage }
                if scheme.as_str() == "CEA" && vintage.0 <= latest)
        })
        .filter_map(|(index, _)| held.holding(index))
        .map(|holding| holding.total().tonnes())
        .sum()
}

fn period_result(
    facts: &YearFacts<'_>,
    scheme: &str,
    closed: &[EntityResult],
    step: usize,
) -> PeriodResult {
    let sum = |f: fn(&EntityResult) -> u64| closed.iter().map(f).sum::<u64>();
    PeriodResult {
        label: facts.timeline.period.clone(),
        scheme: scheme.to_owned(),
        verified: sum(|r| r.verified_emissions.map_or(0, |q| q.tonnes())),
        allocation: sum(|r| r.allocation.tonnes()),
        obligation: sum(|r| r.obligation.tonnes()),
        surrendered: sum(|r| r.allowances_surrendered.tonnes() + r.offsets_used.tonnes()),
        compliant: closed
            .iter()
            .filter(|r| {
                matches!(
                    r.status,
                    EntityStatus::Compliant | EntityStatus::MissedIntermediateDeadline
                )
            })
            .count(),
        shortfall: closed
            .iter()
            .filter(|r| r.status == EntityStatus::Shortfall)
            .count(),
        step,
    }
}
