//! One compliance period driven through the engine as ordinary commands: setup,
//! rulebook, entities, reports and verification of each of its years, pre- and
//! final allocation, trades from long to short firms on the exchange (block and
//! listed agreements) in the window that settles the period, surrender by each
//! deadline, close. Dates come from the rulebook (`timeline`). Each step is a
//! module of its own.

mod chain;
mod close;
mod commands;
mod driver;
mod foreseen;
mod foresight;
mod mrv;
mod obligations;
mod setup;
mod summary;
mod timeline;

pub use chain::{ChainOutcome, PeriodResult, run_chain};
pub(crate) use driver::Driver;
pub use driver::Sink;
pub(crate) use foresight::foresight;
pub use timeline::{SimDeadline, Timeline, day_ms};

use crate::report::YearSummary;
use crate::scenario::{Rng, Scenario, SimEntity, rulebook_text};
use crate::{agents, trading};
use anyhow::{Context as _, Result};
use ets_engine::compliance::{ComplianceCommand, EntityStatus};
use ets_engine::exchange::ExchangeCommand;
use ets_engine::{Command, Engine};
use ets_market::TradeMode;
use ets_model::{AccountId, Code, ParticipantId, UnitClass, Vintage};
use ets_registry::RegistryCommand;
use ets_store::Store;
use std::time::Instant;

/// The authority (MEE).
pub const ADMIN: ParticipantId = ParticipantId(1);
/// The verification body.
pub const VERIFIER: ParticipantId = ParticipantId(2);
const ISSUANCE: AccountId = AccountId(1);
const SURRENDER: AccountId = AccountId(2);
const CANCELLATION: AccountId = AccountId(4);
/// The offset seller (a project developer holding the CCER supply).
pub const OFFSET_SELLER: ParticipantId = ParticipantId(3);
/// The offset seller's trading account.
pub const OFFSET_ACCOUNT: AccountId = AccountId(6);
/// The exchange operator (settlement bank; it ends each trading day).
pub const EXCHANGE_OPERATOR: ParticipantId = ParticipantId(4);
/// The exchange's fee account (a trading account of the operator).
pub const FEE_ACCOUNT: AccountId = AccountId(7);
/// Trades of this many tonnes or more are block agreements (China: >= 100,000 t).
pub const BLOCK_MINIMUM_TONNES: u64 = 100_000;
/// Largest encoded command the simulator sends (JSON size, a bound on the journal record).
pub const MAX_COMMAND_BYTES: usize = 800_000;
const CHUNK: usize = 400;
const DAY_MS: i64 = 86_400_000;

/// The participant id of entity `index`.
#[must_use]
pub fn entity_participant(index: u32) -> ParticipantId {
    ParticipantId(1_000 + u64::from(index))
}

/// The operator holding account of entity `index`.
#[must_use]
pub fn entity_account(index: u32) -> AccountId {
    AccountId(100_000 + u64::from(index))
}

/// Milliseconds since the epoch of a civil date at `hour`:00 UTC.
#[must_use]
pub fn date_ms(year: i64, month: u32, day: u32, hour: u32) -> i64 {
    // Month and day fit u8 for every real date; the arithmetic takes any.
    let days = ets_time::days_from_civil(
        i32::try_from(year).unwrap_or(i32::MAX),
        u8::try_from(month).unwrap_or(u8::MAX),
        u8::try_from(day).unwrap_or(u8::MAX),
    );
    days * DAY_MS + i64::from(hour) * 3_600_000
}

/// One trade: planned by the simulation, or executed on the exchange.
#[derive(Debug, Clone, PartialEq)]
pub struct Trade {
    /// When.
    pub time_ms: i64,
    /// Seller entity index.
    pub seller: u32,
    /// Buyer entity index.
    pub buyer: u32,
    /// Tonnes.
    pub quantity: u64,
    /// Price in fen per tonne.
    pub price_fen: i64,
    /// A block agreement (else a listed agreement).
    pub block: bool,
    /// How it traded (listed, block, continuous, auction).
    pub mode: TradeMode,
}

pub(crate) fn registry(command: RegistryCommand) -> Command {
    Command::Registry(command)
}

fn compliance(command: ComplianceCommand) -> Command {
    Command::Compliance(command)
}

pub(crate) fn code(text: &str) -> Result<Code> {
    Code::try_new(text).map_err(|e| anyhow::anyhow!("code {text:?}: {e}"))
}

/// The CCER class the offset seller holds (a pre-2017 project).
fn ccer() -> Result<UnitClass> {
    Ok(UnitClass::Offset {
        standard: code("CCER")?,
        project: code("P001")?,
        vintage: Vintage(2016),
    })
}

/// A decimal parameter of the rulebook (`table.key`, written as a string or a number).
fn rulebook_number(text: &str, table: &str, key: &str) -> Option<f64> {
    let value: toml::Value = toml::from_str(text).ok()?;
    match value.get(table)?.get(key)? {
        toml::Value::String(s) => s.parse().ok(),
        toml::Value::Float(f) => Some(*f),
        toml::Value::Integer(i) => Some(*i as f64),
        _ => None,
    }
}

fn allowance(year: u16) -> Result<UnitClass> {
    Ok(UnitClass::Allowance {
        scheme: code("CEA")?,
        vintage: Vintage(year),
    })
}

/// Tonnes of `class` an account holds.
#[must_use]
pub fn held(engine: &Engine, account: AccountId, class: &UnitClass) -> u64 {
    let registry = engine.registry();
    registry
        .class_index(class)
        .ok()
        .and_then(|index| {
            registry
                .account(account)
                .ok()?
                .holding(index)
                .map(|h| h.total().tonnes())
        })
        .unwrap_or(0)
}

/// Options of a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Draw progress bars on stderr.
    pub progress: bool,
}

/// Runs the scenario's compliance year on an engine in memory (no progress bars).
///
/// # Errors
/// When a command the simulation relies on is refused, or the scenario is broken.
pub fn run_year(scenario: &Scenario, engine: &mut Engine) -> Result<YearSummary> {
    run_year_with(scenario, engine, RunOptions::default())
}

/// The fixed facts of the simulated year that every step reads.
pub(crate) struct YearFacts<'s> {
    /// The scenario.
    pub scenario: &'s Scenario,
    /// The compliance year the scenario names.
    pub year: u16,
    /// The compliance year as a calendar year (for the setup's date).
    pub calendar: i64,
    /// The period's dates: its years, allocation, trading days and deadlines.
    pub timeline: Timeline,
    /// The scheme's code in the engine.
    pub scheme: String,
    /// The year's allowance class (CEA of the compliance year).
    pub cea: UnitClass,
    /// The banked first-period allowances (CEA-2020).
    pub cea_2020: UnitClass,
    /// The offset class the offset seller holds.
    pub ccer: UnitClass,
    /// The scenario's rulebook as written.
    pub rulebook: String,
}

impl<'s> YearFacts<'s> {
    fn new(scenario: &'s Scenario) -> Result<YearFacts<'s>> {
        let year = scenario.scenario.year;
        let rulebook = rulebook_text(scenario)?;
        let timeline = Timeline::of(scenario, &rulebook)?;
        Ok(YearFacts {
            scenario,
            year,
            calendar: i64::from(timeline.years[0]),
            timeline,
            scheme: scenario.scenario.scheme.clone(),
            cea: allowance(year)?,
            cea_2020: allowance(2020)?,
            ccer: ccer()?,
            rulebook,
        })
    }
}

/// Runs the scenario's compliance year through any [`Sink`] (an engine, or a store
/// that journals every command): setup, reports and verification, allocation,
/// flexibilities, the market, surrender and close, then the summary.
///
/// # Errors
/// When a command the simulation relies on is refused, on a store fault, or when
/// the scenario is broken.
pub fn run_year_with<S: Sink>(
    scenario: &Scenario,
    sink: &mut S,
    options: RunOptions,
) -> Result<YearSummary> {
    let started = Instant::now();
    // Abatement agents: each firm abates up to the price it expects, foreseeing the
    // design's allocation (agents::abate); BAU is the population before.
    let abatement = abate(scenario, options)?;
    let mut rng = Rng::new(scenario.scenario.seed ^ 0xA5A5_5A5A_0F0F_F0F0);
    let facts = YearFacts::new(scenario)?;
    let start_ms = sink.engine().last_time().map_or(0, |t| t.0);
    let mut driver = Driver::new(sink, start_ms, options.progress);
    let population = &abatement.population;
    let entities = &population.entities;
    let design = setup::DesignAllocation::of(&scenario.design, abatement.intensity_tonnes);
    let (banked_total, ccer_supply) =
        set_up_period(&mut driver, &facts, population, design.free_factor)?;
    let mrv = mrv::report_and_verify(&mut driver, &facts, entities, &mut rng)?;
    let allocated = obligations::allocate(&mut driver, &facts, entities)?;
    let sectors = set_up_sectors(&mut driver, &facts, entities.len())?;
    let mut positions = obligations::Positions::read(&driver, &facts, entities)?;
    let borrowing = obligations::borrow(&mut driver, &facts, entities, &mut positions)?;
    let offsets =
        obligations::sell_offsets(&mut driver, &facts, entities, ccer_supply, &mut positions)?;
    join_sector_positions(&driver, &facts, &sectors, &mut positions)?;
    let mut firms = abatement.firms.clone();
    firms.extend(crate::sector::market_firms(&sectors));
    // A roadmap year's sector caps add what they auction to power's.
    let auction_volume = design.auction_volume + crate::sector::auction_tonnes(&sectors);
    close::stock_auction(&mut driver, &facts, auction_volume)?;
    let reserve_stock = close::stock_reserve(&mut driver, &facts)?;
    let need_early = positions.need_before_intermediate(&facts.timeline);
    let input = PeriodMarket {
        scenario,
        facts: &facts,
        clearing_price: abatement.clearing_price,
        firms: &firms,
        positions: &positions,
        need_early: &need_early,
        auction_volume,
    }
    .input();
    let mut surrender = close::Surrenders::new(&facts, entities, &positions, &borrowing, &offsets);
    let market = trade_and_surrender(&mut driver, &input, &mut surrender, &mut rng)?;
    let trades = executed_trades(driver.sink.engine());
    let surrenders = surrender.commands;
    let (sector_summaries, results) = close_period(&mut driver, &facts, &sectors)?;
    let tallies = summary::Tallies {
        commands: driver.commands(),
        allocated,
        mrv,
        surrenders,
        banked_total,
        borrowing: &borrowing,
        ccer_supply,
        offsets: &offsets,
        reserve_stock,
    };
    let mut summary = summary::summarise(
        &facts,
        driver.sink.engine(),
        &results,
        &trades,
        &abatement,
        &tallies,
        market,
    );
    summary.sectors = sector_summaries;
    summary.elapsed_seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Adds the sectors' firms' positions (valued at the period's reference price) after
/// power's entities.
fn join_sector_positions<S: Sink>(
    driver: &Driver<'_, S>,
    facts: &YearFacts<'_>,
    sectors: &[crate::sector::SectorYear],
    positions: &mut obligations::Positions,
) -> Result<()> {
    let price = close::reference_price(driver.sink.engine(), facts)?;
    positions.join_sectors(&crate::sector::positions(
        driver, sectors, facts.year, price,
    )?);
    Ok(())
}

/// Closes the period after its last deadline: the sectors' periods, then the power year,
/// and ends the driver. Returns the sectors' summaries (read before power's close) and the
/// entities' results.
fn close_period<S: Sink>(
    driver: &mut Driver<'_, S>,
    facts: &YearFacts<'_>,
    sectors: &[crate::sector::SectorYear],
) -> Result<(
    Vec<crate::sector::summary::SectorSummary>,
    Vec<ets_engine::compliance::EntityResult>,
)> {
    close::close_sectors(driver, facts, sectors)?;
    let sector_summaries =
        crate::sector::summary::summaries(driver.sink.engine(), sectors, facts.year);
    let results = close::close_year(driver, facts)?;
    driver.finish()?;
    Ok((sector_summaries, results))
}

/// The period's setup, in the engine's order, all on the setup day (4 January after the
/// period's first year): participants and accounts, the rulebook (free allocation scaled by
/// the design's `free_factor`), the banked units, the offset supply, the entities. Returns
/// the banked CEA-2020 and the offsets issued, tonnes.
fn set_up_period<S: Sink>(
    driver: &mut Driver<'_, S>,
    facts: &YearFacts<'_>,
    population: &crate::scenario::Population,
    free_factor: f64,
) -> Result<(u64, u64)> {
    let entities = &population.entities;
    let t_setup = date_ms(facts.calendar + 1, 1, 4, 1);
    setup::setup(driver, entities, t_setup)?;
    setup::load_rulebook(driver, facts, free_factor, t_setup)?;
    let banked_total = setup::place_bank(driver, facts, entities, t_setup)?;
    let ccer_supply = setup::issue_offset_supply(driver, facts, population, t_setup)?;
    setup::register_entities(driver, facts, entities, t_setup)?;
    Ok((banked_total, ccer_supply))
}

/// What a single period's window trades on: the firms, their positions after borrowing
/// and offsets, the part of the need due early, and the auctions' tonnes.
struct PeriodMarket<'a> {
    scenario: &'a Scenario,
    facts: &'a YearFacts<'a>,
    clearing_price: f64,
    firms: &'a [agents::Firm],
    positions: &'a obligations::Positions,
    need_early: &'a [u64],
    auction_volume: u64,
}

impl<'a> PeriodMarket<'a> {
    /// The window's market input: no expected rise, no precaution premium, nothing
    /// foreseen, no carry-over cap binding.
    fn input(self) -> trading::MarketInput<'a> {
        let positions = self.positions;
        trading::MarketInput {
            scenario: self.scenario,
            clearing_price: self.clearing_price,
            firms: self.firms,
            need: &positions.need,
            surplus: &positions.surplus,
            emissions: &positions.verified,
            years: self.facts.timeline.years.len() as u16,
            need_early: self.need_early,
            timeline: &self.facts.timeline,
            class: self.facts.cea,
            auction_volume: self.auction_volume,
            expected_growth: 0.0,
            precaution: 0.0,
            must_sell: &[],
            carry_room: &[],
            foreseen: false,
        }
    }
}

/// The scenario's sectors (`[[sectors]]`), their firms numbered after the `power`
/// entities, set up the day the power allocation is final.
fn set_up_sectors<S: Sink>(
    driver: &mut Driver<'_, S>,
    facts: &YearFacts<'_>,
    power: usize,
) -> Result<Vec<crate::sector::SectorYear>> {
    let first = u32::try_from(power).context("entity count")?;
    let mut sectors = crate::sector::sector_years(facts.scenario, first)?;
    let at = day_ms(facts.timeline.final_allocation, 3);
    crate::sector::set_up_all(driver, &mut sectors, facts.year, at)?;
    Ok(sectors)
}

/// The window that settles the period, with the firms' surrenders by each deadline: an
/// intermediate deadline before the window opens is met before it, one inside it after
/// its last trading day, the last one after the window.
fn trade_and_surrender<'a, S: Sink>(
    driver: &mut Driver<'a, S>,
    input: &trading::MarketInput<'_>,
    surrender: &mut close::Surrenders<'_>,
    rng: &mut Rng,
) -> Result<trading::MarketOutcome> {
    let timeline = input.timeline;
    for (k, deadline) in timeline.intermediate_deadlines().iter().enumerate() {
        if deadline.last_trading_day.is_none() {
            surrender.by_deadline(driver, k)?;
        }
    }
    let market = trading::run(driver, input, rng, &mut |driver, k| {
        surrender.by_deadline(driver, k)
    })?;
    surrender.by_deadline(driver, timeline.deadlines.len() - 1)?;
    Ok(market)
}

pub(crate) fn exchange(command: ExchangeCommand) -> Command {
    Command::Exchange(command)
}

/// The trades the exchange settled, from its trade records (parties, price, mode).
fn executed_trades(engine: &Engine) -> Vec<Trade> {
    // Entity index, or u32::MAX for institutions, the auction and the floor desk.
    let index = |account: AccountId| {
        account
            .0
            .checked_sub(100_000)
            .filter(|i| *i < 100_000)
            .and_then(|i| u32::try_from(i).ok())
            .unwrap_or(u32::MAX)
    };
    engine
        .exchange()
        .trades()
        .iter()
        .map(|record| Trade {
            time_ms: record.at.0,
            seller: index(record.seller),
            buyer: index(record.buyer),
            quantity: record.quantity.tonnes(),
            price_fen: record.price.ticks(),
            block: record.mode == TradeMode::Block,
            mode: record.mode,
        })
        .collect()
}

/// Standard deviation of the daily log returns of a close series.
fn volatility(closes: &[(String, f64)]) -> f64 {
    let returns: Vec<f64> = closes
        .windows(2)
        .filter(|w| w[0].1 > 0.0 && w[1].1 > 0.0)
        .map(|w| (w[1].1 / w[0].1).ln())
        .collect();
    if returns.len() < 2 {
        return 0.0;
    }
    let mean = returns.iter().sum::<f64>() / returns.len() as f64;
    let var = returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (returns.len() - 1) as f64;
    var.sqrt()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// True emissions in whole tonnes as the engine's MRV formula rounds them (nearest).
#[must_use]
pub fn true_emissions_tonnes(entity: &SimEntity) -> u64 {
    entity.emissions().round() as u64
}

/// Counts closed results by status (compliant, shortfall, no verified report).
#[must_use]
pub fn status_counts(results: &[ets_engine::compliance::EntityResult]) -> [usize; 3] {
    let mut counts = [0usize; 3];
    for line in results {
        counts[match line.status {
            // Surrendered in full by the last deadline, late only at an intermediate one.
            EntityStatus::Compliant | EntityStatus::MissedIntermediateDeadline => 0,
            EntityStatus::Shortfall => 1,
            EntityStatus::NoVerifiedReport => 2,
        }] += 1;
    }
    counts
}

/// The firms' abatement (agents::abate), under a one-step bar: it runs the scenario's
/// rulebook on a scratch engine to foresee each firm's allocation.
fn abate(scenario: &Scenario, options: RunOptions) -> Result<agents::Abatement> {
    let bar = if options.progress {
        driver::phase_bar(1, "abatement")
    } else {
        indicatif::ProgressBar::hidden()
    };
    let abatement = agents::abate(scenario)?;
    bar.inc(1);
    bar.finish();
    Ok(abatement)
}

/// Runs a scenario journaled in a new store at `dir`.
///
/// # Errors
/// When the store cannot be created (e.g. `dir` already holds one) or the run fails.
pub fn run_year_in_store(
    scenario: &Scenario,
    dir: &std::path::Path,
    options: RunOptions,
) -> Result<(YearSummary, Store)> {
    // A simulation runs on a virtual clock: the simulator dates its own commands.
    let mut store = Store::create_of_kind(
        dir,
        ets_store::StoreConfig::default(),
        ets_store::StoreKind::Virtual,
    )
    .with_context(|| format!("creating store {}", dir.display()))?;
    let summary = run_year_with(scenario, &mut store, options)?;
    store.snapshot()?;
    Ok((summary, store))
}
