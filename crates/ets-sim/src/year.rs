//! One compliance year driven through the engine as ordinary commands: setup,
//! rulebook, entities, reports and verification, pre- and final allocation,
//! trades from long to short firms on the exchange (block and listed
//! agreements), surrender, close.

use crate::report::YearSummary;
use crate::scenario::{CapDesign, Rng, Scenario, SimEntity, rulebook_text};
use crate::{agents, trading};
use anyhow::{Context as _, Result, bail};
use ets_engine::compliance::{
    AllocationPhase, ComplianceCommand, Cooling, EntityOutput, EntitySpec, EntityStatus, FuelKind,
    FuelSpec, UnitOutput, UnitSpec,
};
use ets_engine::exchange::ExchangeCommand;
use ets_engine::{Command, Effect, Engine, Envelope, Outcome};
use ets_market::TradeMode;
use ets_model::{
    AccountId, Code, ParticipantId, Quantity, RequestId, Timestamp, UnitClass, Vintage,
};
use ets_registry::{AccountKind, ParticipantKind, RegistryCommand};
use ets_store::{Store, Submission};
use indicatif::{ProgressBar, ProgressStyle};
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

/// Where commands go: an engine in memory, or a store that journals each one.
pub trait Sink {
    /// Applies one command at `time` and returns its outcome.
    ///
    /// # Errors
    /// On a store fault (never for a business refusal).
    fn send(
        &mut self,
        request: RequestId,
        requester: ParticipantId,
        time: Timestamp,
        command: Command,
    ) -> Result<Outcome>;
    /// The engine, for queries.
    fn engine(&self) -> &Engine;

    /// Applies commands in order and returns their outcomes (a store journals them with
    /// one fsync for the batch).
    ///
    /// # Errors
    /// On a store fault (never for a business refusal).
    fn send_all(
        &mut self,
        batch: Vec<(RequestId, ParticipantId, Timestamp, Command)>,
    ) -> Result<Vec<Outcome>> {
        batch
            .into_iter()
            .map(|(request, requester, time, command)| self.send(request, requester, time, command))
            .collect()
    }
}

impl Sink for Engine {
    fn send(
        &mut self,
        request: RequestId,
        requester: ParticipantId,
        time: Timestamp,
        command: Command,
    ) -> Result<Outcome> {
        let envelope = Envelope {
            request_id: request,
            requester,
            time,
            command,
        };
        Ok(self.apply(&envelope).outcome().clone())
    }

    fn engine(&self) -> &Engine {
        self
    }
}

impl Sink for Store {
    fn send(
        &mut self,
        request: RequestId,
        requester: ParticipantId,
        time: Timestamp,
        command: Command,
    ) -> Result<Outcome> {
        let submission = Submission {
            request_id: request,
            requester,
            time: Some(time),
            command,
        };
        let mut replies = self.submit_dated(&[submission])?;
        match replies.pop() {
            Some(reply) => Ok(reply.outcome),
            None => bail!("the store gave no reply"),
        }
    }

    fn engine(&self) -> &Engine {
        Store::engine(self)
    }

    fn send_all(
        &mut self,
        batch: Vec<(RequestId, ParticipantId, Timestamp, Command)>,
    ) -> Result<Vec<Outcome>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let submissions: Vec<Submission> = batch
            .into_iter()
            .map(|(request_id, requester, time, command)| Submission {
                request_id,
                requester,
                time: Some(time),
                command,
            })
            .collect();
        let replies = self.submit_dated(&submissions)?;
        if replies.len() != submissions.len() {
            bail!(
                "the store gave {} replies to {}",
                replies.len(),
                submissions.len()
            );
        }
        Ok(replies.into_iter().map(|reply| reply.outcome).collect())
    }
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

pub(crate) struct Driver<'a, S: Sink> {
    pub(crate) sink: &'a mut S,
    request: u64,
    time_ms: i64,
    commands: u64,
    progress: bool,
    /// Commands queued by `defer`, sent as one batch by `flush` or before the next `send`.
    pending: Vec<(RequestId, ParticipantId, Timestamp, Command)>,
}

impl<S: Sink> Driver<'_, S> {
    fn new(sink: &mut S, time_ms: i64, progress: bool) -> Driver<'_, S> {
        Driver {
            sink,
            request: 0,
            time_ms,
            commands: 0,
            progress,
            pending: Vec::new(),
        }
    }

    /// Queues a command whose effect the simulation does not need at once: it is sent
    /// with the others in one batch (one fsync in a store), and must be accepted.
    pub(crate) fn defer(
        &mut self,
        requester: ParticipantId,
        at_ms: i64,
        command: Command,
    ) -> Result<()> {
        check_size(&command)?;
        self.request += 1;
        self.commands += 1;
        self.time_ms = at_ms.max(self.time_ms + 1);
        self.pending.push((
            RequestId(self.request),
            requester,
            Timestamp(self.time_ms),
            command,
        ));
        Ok(())
    }

    /// Sends the queued commands; returns their outcomes in order.
    pub(crate) fn flush_outcomes(&mut self) -> Result<Vec<Outcome>> {
        let batch = std::mem::take(&mut self.pending);
        self.sink.send_all(batch).context("sending a batch")
    }

    /// Sends the queued commands; each must be accepted. Returns their effects in order.
    pub(crate) fn flush(&mut self) -> Result<Vec<Effect>> {
        let names: Vec<(&'static str, ParticipantId)> = self
            .pending
            .iter()
            .map(|item| (item.3.name(), item.1))
            .collect();
        let outcomes = self.flush_outcomes()?;
        outcomes
            .into_iter()
            .zip(names)
            .map(|(outcome, (name, requester))| match outcome {
                Outcome::Accepted(effect) => Ok(effect),
                Outcome::Rejected(rejection) => bail!(
                    "{name} by {requester} refused: {} ({})",
                    rejection.code,
                    rejection.message
                ),
            })
            .collect()
    }

    /// Sends at `at_ms` or just after the last command (times never go backwards),
    /// after any queued commands.
    pub(crate) fn send(
        &mut self,
        requester: ParticipantId,
        at_ms: i64,
        command: Command,
    ) -> Result<Outcome> {
        if !self.pending.is_empty() {
            self.flush()?;
        }
        self.request += 1;
        self.commands += 1;
        self.time_ms = at_ms.max(self.time_ms + 1);
        let name = command.name();
        let outcome = self
            .sink
            .send(
                RequestId(self.request),
                requester,
                Timestamp(self.time_ms),
                command,
            )
            .with_context(|| format!("sending {name}"))?;
        Ok(outcome)
    }

    pub(crate) fn ok(
        &mut self,
        requester: ParticipantId,
        at_ms: i64,
        command: Command,
    ) -> Result<Effect> {
        let name = command.name();
        check_size(&command)?;
        match self.send(requester, at_ms, command)? {
            Outcome::Accepted(effect) => Ok(effect),
            Outcome::Rejected(rejection) => bail!(
                "{name} by {requester} refused: {} ({})",
                rejection.code,
                rejection.message
            ),
        }
    }

    fn bar(&self, len: usize, phase: &str) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len as u64);
        if let Ok(style) =
            ProgressStyle::with_template("{msg:>14} [{bar:40}] {pos}/{len} {elapsed}")
        {
            bar.set_style(style);
        }
        bar.set_message(phase.to_owned());
        bar
    }
}

fn check_size(command: &Command) -> Result<()> {
    // Only the big ones can come near the bound; skip encoding the many small ones.
    if matches!(
        command,
        Command::Compliance(
            ComplianceCommand::RegisterEntities { .. }
                | ComplianceCommand::Allocate { .. }
                | ComplianceCommand::LoadRulebook { .. }
        )
    ) {
        let size = serde_json::to_vec(command).map(|v| v.len()).unwrap_or(0);
        if size > MAX_COMMAND_BYTES {
            bail!(
                "{} would be {size} bytes encoded, above {MAX_COMMAND_BYTES}",
                command.name()
            );
        }
    }
    Ok(())
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

/// Runs the scenario's compliance year through any [`Sink`] (an engine, or a store
/// that journals every command).
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
    // Abatement agents: each firm abates up to the price it expects (its fuel, so its
    // reported emissions, fall); BAU is the population before.
    // Before they decide, they foresee the design's allocation and expect at least the
    // market-clearing price of the aggregate position (agents::abate).
    let abatement = agents::abate(scenario)?;
    let bau_mt = abatement.bau.emissions_mt();
    let clearing_price = abatement.clearing_price;
    let (population, firms) = (abatement.population, abatement.firms);
    let mut rng = Rng::new(scenario.scenario.seed ^ 0xA5A5_5A5A_0F0F_F0F0);
    let year = scenario.scenario.year;
    let calendar = i64::from(year);
    let scheme = scenario.scenario.scheme.clone();
    let cea = allowance(year)?;
    let start_ms = sink.engine().last_time().map_or(0, |t| t.0);
    let mut driver = Driver::new(sink, start_ms, options.progress);
    let entities = &population.entities;

    // 1. Setup (January after the year): participants, system accounts, operator accounts.
    let t_setup = date_ms(calendar + 1, 1, 4, 1);
    setup(&mut driver, entities, t_setup)?;
    let rulebook = rulebook_text(scenario)?;
    // The design's cap: an absolute cap or an auction share scales every benchmark (so
    // every entity's free allocation) by one factor; the auction sells the rest.
    let design = &scenario.design;
    let (free_factor, auction_volume, _intensity_total) =
        if design.cap == CapDesign::Absolute || design.auction_share > 0.0 {
            // Abatement leaves output, so the intensity allocation, unchanged.
            let intensity = abatement.intensity_tonnes;
            let total = if design.cap == CapDesign::Absolute {
                design.absolute_cap_mt * 1e6
            } else {
                intensity as f64
            };
            let free = total * (1.0 - design.auction_share);
            let auctioned = ((total - free).max(0.0) as u64 / 1_000) * 1_000;
            (free / intensity.max(1) as f64, auctioned, intensity)
        } else {
            (1.0, 0, 0)
        };
    // The file name alone: the journal (and so the state hash) must not depend on how the
    // scenario's path was spelt (relative, absolute, another working directory).
    let rulebook_name = scenario.scenario.rulebook.file_name().map_or_else(
        || "rulebook".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    let (source_name, rulebook_sent) = if (free_factor - 1.0).abs() > 1e-12 {
        (
            format!("{rulebook_name} (benchmarks x {free_factor:.10}, design)"),
            scale_benchmarks(&rulebook, free_factor)?,
        )
    } else {
        (rulebook_name, rulebook.clone())
    };
    driver.ok(
        ADMIN,
        t_setup,
        compliance(ComplianceCommand::LoadRulebook {
            source_name,
            toml: rulebook_sent,
        }),
    )?;
    let flex = &scenario.flexibility;
    // Banked 2019-20 allowances (an assumption of the scenario): issued as CEA-2020 and
    // placed in each entity's account at the start.
    let cea_2020 = allowance(2020)?;
    let banked_total: u64 = entities.iter().map(|e| e.banked_2020).sum();
    if banked_total > 0 {
        driver.ok(
            ADMIN,
            t_setup,
            registry(RegistryCommand::Issue {
                class: cea_2020,
                quantity: Quantity::new(banked_total),
            }),
        )?;
        for entity in entities.iter().filter(|e| e.banked_2020 > 0) {
            driver.defer(
                ADMIN,
                t_setup,
                registry(RegistryCommand::Allocate {
                    to: entity_account(entity.index),
                    class: cea_2020,
                    quantity: Quantity::new(entity.banked_2020),
                }),
            )?;
        }
    }
    // CCER supply: issued once and moved to one offset seller's trading account.
    let ccer_class = ccer()?;
    let ccer_supply = (population.emissions_mt() * 1e6 * flex.ccer_supply_share).floor() as u64;
    if ccer_supply > 0 {
        driver.ok(
            ADMIN,
            t_setup,
            registry(RegistryCommand::RegisterParticipant {
                id: OFFSET_SELLER,
                kind: ParticipantKind::Institution,
                name: "CCER seller".into(),
            }),
        )?;
        driver.ok(
            ADMIN,
            t_setup,
            registry(RegistryCommand::OpenAccount {
                id: OFFSET_ACCOUNT,
                kind: AccountKind::Trading,
                holder: OFFSET_SELLER,
                representatives: vec![OFFSET_SELLER],
                approvals_required: 1,
            }),
        )?;
        driver.ok(
            ADMIN,
            t_setup,
            registry(RegistryCommand::Issue {
                class: ccer_class,
                quantity: Quantity::new(ccer_supply),
            }),
        )?;
        driver.ok(
            ADMIN,
            t_setup,
            registry(RegistryCommand::Transfer {
                from: ISSUANCE,
                to: OFFSET_ACCOUNT,
                class: ccer_class,
                quantity: Quantity::new(ccer_supply),
            }),
        )?;
    }
    for chunk in entities.chunks(CHUNK) {
        let specs = chunk.iter().map(entity_spec).collect::<Result<Vec<_>>>()?;
        driver.ok(
            ADMIN,
            t_setup,
            compliance(ComplianceCommand::RegisterEntities {
                scheme: scheme.clone(),
                entities: specs,
            }),
        )?;
    }
    let mrv = &scenario.mrv;
    driver.ok(
        ADMIN,
        t_setup,
        compliance(ComplianceCommand::SetPlausibilityRanges {
            scheme: scheme.clone(),
            carbon_content_min: format!("{:.4}", mrv.plausible_carbon_content[0]),
            carbon_content_max: format!("{:.4}", mrv.plausible_carbon_content[1]),
            intensity_min: format!("{:.2}", mrv.plausible_intensity[0]),
            intensity_max: format!("{:.2}", mrv.plausible_intensity[1]),
        }),
    )?;

    // 2. Reports in March, verification by end of September, corrections in October.
    let mut flagged = 0usize;
    let mut under_reporters = 0usize;
    let mut under_reporters_flagged = 0usize;
    let bar = driver.bar(entities.len(), "reports");
    let mut report_times: Vec<(i64, usize)> = (0..entities.len())
        .map(|i| {
            let offset = (rng.below(30 * 24) as i64) * 3_600_000;
            (date_ms(calendar + 1, 3, 1, 1) + offset, i)
        })
        .collect();
    report_times.sort_unstable();
    for &(at, i) in &report_times {
        let entity = &entities[i];
        driver.defer(
            entity_participant(entity.index),
            at,
            report_command(entity, year, scenario)?,
        )?;
    }
    let effects = driver.flush()?;
    for (&(_, i), effect) in report_times.iter().zip(effects) {
        let entity = &entities[i];
        let flags = match effect {
            Effect::Compliance(ets_engine::compliance::ComplianceEffect::Report {
                flags, ..
            }) => flags,
            _ => Vec::new(),
        };
        if !flags.is_empty() {
            flagged += 1;
        }
        if entity.under_report > 0.0 {
            under_reporters += 1;
            if !flags.is_empty() {
                under_reporters_flagged += 1;
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    // The verifier checks on site: under-reports are rejected (flagged or not), others accepted.
    let t_verify = date_ms(calendar + 1, 6, 1, 1);
    let bar = driver.bar(entities.len(), "verification");
    for (n, entity) in entities.iter().enumerate() {
        let at = t_verify + (n as i64) * (120 * DAY_MS / entities.len().max(1) as i64);
        driver.defer(
            VERIFIER,
            at,
            compliance(ComplianceCommand::VerifyReport {
                entity: entity_participant(entity.index),
                year,
                accept: entity.under_report == 0.0,
            }),
        )?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let t_correct = date_ms(calendar + 1, 10, 15, 1);
    let mut corrected = 0usize;
    for entity in entities.iter().filter(|e| e.under_report > 0.0) {
        let truth = true_emissions_tonnes(entity);
        driver.defer(
            ADMIN,
            t_correct,
            compliance(ComplianceCommand::CorrectReport {
                entity: entity_participant(entity.index),
                year,
                emissions: Quantity::new(truth),
            }),
        )?;
        corrected += 1;
    }

    // 3. Pre-allocation (by 30 Apr of year + 2) and final allocation (by 15 Jul).
    let mut issued_total = 0u64;
    let mut clawed_total = 0u64;
    for (phase, at) in [
        (AllocationPhase::Pre, date_ms(calendar + 2, 3, 15, 1)),
        (AllocationPhase::Final, date_ms(calendar + 2, 7, 10, 1)),
    ] {
        for chunk in entities.chunks(CHUNK) {
            let outputs = chunk
                .iter()
                .map(|e| entity_output(e, phase == AllocationPhase::Pre))
                .collect::<Result<Vec<_>>>()?;
            let effect = driver.ok(
                ADMIN,
                at,
                compliance(ComplianceCommand::Allocate {
                    scheme: scheme.clone(),
                    year,
                    phase,
                    outputs,
                }),
            )?;
            if let Effect::Compliance(ets_engine::compliance::ComplianceEffect::Allocated {
                issued,
                clawed_back,
                ..
            }) = effect
            {
                issued_total += issued.tonnes();
                clawed_total += clawed_back.tonnes();
            }
        }
    }

    // 4. Positions: obligation (provisional results) against holdings.
    let provisional = {
        let engine = driver.sink.engine();
        engine
            .compliance()
            .results(engine.registry(), &scheme, year, None)
            .map_err(|e| anyhow::anyhow!("provisional results: {e}"))?
    };
    let mut obligation = vec![0u64; entities.len()];
    let mut gap = vec![(0u64, 0u64); entities.len()];
    for line in &provisional {
        let index = line.entity.0.checked_sub(1_000).context("entity id")? as usize;
        if let Some(slot) = obligation.get_mut(index) {
            *slot = line.obligation.tonnes();
        }
        if let Some(slot) = gap.get_mut(index) {
            let verified = line.verified_emissions.map_or(0, |q| q.tonnes());
            *slot = (verified.saturating_sub(line.allocation.tonnes()), verified);
        }
    }
    let holdings: Vec<u64> = entities
        .iter()
        .map(|e| {
            let engine = driver.sink.engine();
            let account = entity_account(e.index);
            held(engine, account, &cea) + held(engine, account, &cea_2020)
        })
        .collect();
    // What each firm means to surrender: its obligation, less what a defaulter leaves out.
    let target: Vec<u64> = entities
        .iter()
        .zip(&obligation)
        .map(|(e, &owed)| ((owed as f64) * (1.0 - e.shortfall)).floor() as u64)
        .collect();
    let surplus: Vec<u64> = holdings
        .iter()
        .zip(&obligation)
        .map(|(h, o)| h.saturating_sub(*o))
        .collect();
    let mut need: Vec<u64> = holdings
        .iter()
        .zip(&target)
        .map(|(h, t)| t.saturating_sub(*h))
        .collect();

    // 4a. Borrowing (with the final allocation, by 15 Jul): a firm whose gap rate is
    // above the rulebook's threshold borrows up to the limit, no more than it needs.
    let mut borrowed = vec![0u64; entities.len()];
    let borrow_rules = (
        rulebook_number(&rulebook, "borrowing", "min_gap_rate"),
        rulebook_number(&rulebook, "borrowing", "max_share_of_gap"),
        rulebook_number(&rulebook, "borrowing", "from_vintage"),
    );
    let mut borrowers = 0usize;
    let mut borrow_class = None;
    if let (true, Some(rate), Some(share), Some(vintage)) = (
        flex.borrowing,
        borrow_rules.0,
        borrow_rules.1,
        borrow_rules.2,
    ) {
        borrow_class = Some(allowance(vintage as u16)?);
        let t_borrow = date_ms(calendar + 2, 7, 12, 1);
        let mut asked = Vec::new();
        for (i, entity) in entities.iter().enumerate() {
            let (short, verified) = gap[i];
            if short == 0 || (short as f64) <= rate * verified as f64 || need[i] == 0 {
                continue;
            }
            let quantity = ((short as f64 * share).floor() as u64).min(need[i]);
            if quantity == 0 {
                continue;
            }
            driver.defer(
                entity_participant(entity.index),
                t_borrow,
                compliance(ComplianceCommand::Borrow {
                    entity: entity_participant(entity.index),
                    year,
                    quantity: Quantity::new(quantity),
                }),
            )?;
            asked.push((i, quantity));
        }
        // A refusal (a rounding at the threshold) leaves the firm to the market.
        for ((i, quantity), outcome) in asked.into_iter().zip(driver.flush_outcomes()?) {
            if matches!(outcome, Outcome::Accepted(_)) {
                borrowed[i] = quantity;
                need[i] -= quantity;
                borrowers += 1;
            }
        }
    }

    // 4b. CCER: the offset seller sells to short firms, each up to its offset limit
    // (the rulebook's share of its obligation) and its remaining need, first come first
    // served in entity order until the supply runs out (September-October).
    let offset_share = rulebook_number(&rulebook, "offsets", "limit_share").unwrap_or(0.0);
    let mut offsets = vec![0u64; entities.len()];
    let mut ccer_left = ccer_supply;
    let t_ccer = date_ms(calendar + 2, 9, 15, 5);
    for (i, entity) in entities.iter().enumerate() {
        if ccer_left == 0 {
            break;
        }
        let limit = (obligation[i] as f64 * offset_share).floor() as u64;
        let quantity = limit.min(need[i]).min(ccer_left);
        if quantity == 0 {
            continue;
        }
        driver.defer(
            OFFSET_SELLER,
            t_ccer,
            registry(RegistryCommand::Transfer {
                from: OFFSET_ACCOUNT,
                to: entity_account(entity.index),
                class: ccer_class,
                quantity: Quantity::new(quantity),
            }),
        )?;
        offsets[i] = quantity;
        need[i] -= quantity;
        ccer_left -= quantity;
    }

    // 5. The market: primary auctions (a design option) and the secondary market, as
    // agents placing orders inside the sessions (crate::trading).
    if auction_volume > 0 {
        let at = date_ms(calendar + 2, 8, 30, 1);
        driver.ok(
            ADMIN,
            at,
            registry(RegistryCommand::OpenAccount {
                id: trading::AUCTION_ACCOUNT,
                kind: AccountKind::Auction,
                holder: ADMIN,
                representatives: vec![ADMIN],
                approvals_required: 1,
            }),
        )?;
        driver.ok(
            ADMIN,
            at,
            registry(RegistryCommand::Issue {
                class: cea,
                quantity: Quantity::new(auction_volume),
            }),
        )?;
        driver.ok(
            ADMIN,
            at,
            registry(RegistryCommand::Transfer {
                from: ISSUANCE,
                to: trading::AUCTION_ACCOUNT,
                class: cea,
                quantity: Quantity::new(auction_volume),
            }),
        )?;
    }
    let emissions: Vec<u64> = gap.iter().map(|g| g.1).collect();
    let input = trading::MarketInput {
        scenario,
        clearing_price,
        firms: &firms,
        need: &need,
        surplus: &surplus,
        emissions: &emissions,
        calendar: calendar + 2,
        class: cea,
        auction_volume,
    };
    let market = trading::run(&mut driver, &input, &mut rng)?;
    let unmet = market.unmet;
    // What happened, as the exchange recorded it.
    let trades = executed_trades(driver.sink.engine());

    // 6. Surrender: each firm its target, in December (after its last purchase).
    let t_surrender = date_ms(calendar + 2, 12, 29, 1);
    let bar = driver.bar(entities.len(), "surrender");
    let mut surrenders = 0usize;
    // Borrowed units first (usable only for this year), then offsets, the bank, CEA-2021.
    let mut order = Vec::with_capacity(4);
    if let Some(class) = borrow_class {
        order.push(class);
    }
    order.extend([ccer_class, cea_2020, cea]);
    for (i, entity) in entities.iter().enumerate() {
        let account = entity_account(entity.index);
        let mut remaining = target[i];
        for class in &order {
            let mut available = held(driver.sink.engine(), account, class);
            if Some(*class) == borrow_class {
                available = available.min(borrowed[i]);
            } else if *class == ccer_class {
                available = available.min(offsets[i]);
            }
            let quantity = remaining.min(available);
            if quantity == 0 {
                continue;
            }
            driver.defer(
                entity_participant(entity.index),
                t_surrender,
                registry(RegistryCommand::Surrender {
                    from: account,
                    class: *class,
                    quantity: Quantity::new(quantity),
                    compliance_year: year,
                }),
            )?;
            remaining -= quantity;
            surrenders += 1;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();

    // 7. Close the year after the last deadline and read the results.
    driver.ok(
        ADMIN,
        date_ms(calendar + 3, 1, 2, 1),
        compliance(ComplianceCommand::CloseYear {
            scheme: scheme.clone(),
            year,
            reference_average_price: None,
        }),
    )?;
    let engine = driver.sink.engine();
    let results = engine
        .compliance()
        .closed_results(&scheme, year)
        .context("the year did not close")?
        .to_vec();
    let state_hash = engine.state_hash();
    let mut summary =
        YearSummary::from_results(&results, &trades, &population, &scenario.published);
    summary.scenario = scenario.scenario.name.clone();
    summary.seed = scenario.scenario.seed;
    summary.commands = driver.commands;
    summary.issued_mt = issued_total as f64 / 1e6;
    summary.clawed_back_mt = clawed_total as f64 / 1e6;
    summary.reports_flagged = flagged;
    summary.under_reporters = under_reporters;
    summary.under_reporters_flagged = under_reporters_flagged;
    summary.reports_corrected = corrected;
    summary.surrenders = surrenders;
    summary.unmet_demand_mt = unmet as f64 / 1e6;
    summary.banked_2020_mt = banked_total as f64 / 1e6;
    summary.borrowers = borrowers;
    summary.borrowed_mt = borrowed.iter().sum::<u64>() as f64 / 1e6;
    summary.ccer_supply_mt = ccer_supply as f64 / 1e6;
    summary.ccer_sold_mt = offsets.iter().sum::<u64>() as f64 / 1e6;
    summary.daily_close = market.daily_close;
    summary.design = scenario.design.clone();
    summary.bau_emissions_mt = bau_mt;
    summary.abatement_mt = bau_mt - population.emissions_mt();
    summary.abatement_cost_yuan = firms.iter().map(agents::Firm::abatement_cost).sum();
    let intended: f64 = firms.iter().map(agents::Firm::abatement_tonnes).sum();
    let (least_price, least_cost) = agents::least_cost(&firms, intended);
    summary.least_cost_yuan = least_cost;
    summary.least_cost_price = least_price;
    summary.net_purchases_yuan = market.net_purchases_fen.iter().sum::<i128>() as f64 / 100.0;
    summary.penalties_yuan =
        summary.fines_max_yuan + summary.next_year_deduction_mt * 1e6 * summary.average_price;
    summary.compliance_cost_yuan =
        summary.abatement_cost_yuan + summary.net_purchases_yuan + summary.penalties_yuan;
    summary.cost_ratio = if least_cost > 0.0 {
        summary.compliance_cost_yuan / least_cost
    } else {
        0.0
    };
    summary.daily_vwap = market.daily_vwap;
    summary.daily_spread = market.daily_spread;
    summary.auction_prices = market.auction_prices;
    let secondary_mt =
        summary.volume_listed_mt + summary.volume_block_mt + summary.volume_continuous_mt;
    summary.turnover_ratio = if summary.allocation_mt > 0.0 {
        secondary_mt / summary.allocation_mt
    } else {
        0.0
    };
    summary.price_volatility = volatility(&summary.daily_close);
    summary.trading_participants = market.participants;
    summary.traders = {
        let mut parties: Vec<AccountId> = driver
            .sink
            .engine()
            .exchange()
            .trades()
            .iter()
            .flat_map(|t| [t.buyer, t.seller])
            .filter(|a| *a != trading::AUCTION_ACCOUNT)
            .collect();
        parties.sort_unstable();
        parties.dedup();
        parties.len()
    };
    summary.institutions = market.institutions;
    summary.orders_refused = market.refused;
    summary.floor_purchases_mt = market.floor_bought as f64 / 1e6;
    summary.mrv_flags = flagged;
    summary.clearing_price = clearing_price;
    summary.state_hash = hex(&state_hash.0);
    summary.elapsed_seconds = started.elapsed().as_secs_f64();
    Ok(summary)
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

/// What firms can foresee of their obligations before they abate: the intensity
/// allocation of the scenario's rulebook (output x benchmark) per entity, and the
/// rulebook's obligation caps.
#[derive(Debug, Clone)]
pub(crate) struct Foresight {
    /// Per entity, its final intensity allocation, tonnes.
    pub allocations: Vec<u64>,
    /// Gas-only entities owe at most their allocation.
    pub gas_cap: bool,
    /// The shortfall cap: `(share, of verified emissions (true) or of allocation)`.
    pub shortfall_cap: Option<(f64, bool)>,
}

impl Foresight {
    /// What an entity with `emissions` (tonnes), allocation `allocation` (tonnes) and
    /// only gas units (`gas`) would owe (the engine's obligation formula, in floats).
    pub fn obligation(&self, emissions: f64, allocation: f64, gas: bool) -> f64 {
        if gas && self.gas_cap {
            return emissions.min(allocation);
        }
        match self.shortfall_cap {
            Some((share, of_verified)) => {
                let cap = share * if of_verified { emissions } else { allocation };
                if emissions - allocation > cap {
                    allocation + cap
                } else {
                    emissions
                }
            }
            None => emissions,
        }
    }
}

/// The scenario's [`Foresight`] for `entities`, computed on a scratch engine in memory.
///
/// # Errors
/// When the rulebook cannot be read or a command is refused.
pub(crate) fn foresight(scenario: &Scenario, entities: &[SimEntity]) -> Result<Foresight> {
    let rulebook = rulebook_text(scenario)?;
    let value: toml::Value = toml::from_str(&rulebook).context("parsing the rulebook")?;
    let obligation = value.get("obligation");
    let gas_cap = obligation
        .and_then(|o| o.get("gas_cap"))
        .and_then(toml::Value::as_bool)
        .unwrap_or(false);
    let cap = obligation.and_then(|o| o.get("shortfall_cap"));
    let shortfall_cap = cap
        .and_then(|c| match c.get("share")? {
            toml::Value::String(text) => text.parse::<f64>().ok(),
            toml::Value::Float(f) => Some(*f),
            _ => None,
        })
        .map(|share| {
            let base = cap
                .and_then(|c| c.get("base"))
                .and_then(toml::Value::as_str);
            (share, base != Some("allocation"))
        });
    let engine = intensity_engine(scenario, entities, &rulebook)?;
    let class = allowance(scenario.scenario.year)?;
    let allocations = entities
        .iter()
        .map(|e| held(&engine, entity_account(e.index), &class))
        .collect();
    Ok(Foresight {
        allocations,
        gas_cap,
        shortfall_cap,
    })
}

/// A scratch engine in memory after the final allocation of the intensity rules
/// (output x benchmark): the base an absolute cap or an auction share scales.
fn intensity_engine(scenario: &Scenario, entities: &[SimEntity], rulebook: &str) -> Result<Engine> {
    let mut engine = Engine::new();
    intensity_allocation_on(&mut engine, scenario, entities, rulebook)?;
    Ok(engine)
}

fn intensity_allocation_on(
    engine: &mut Engine,
    scenario: &Scenario,
    entities: &[SimEntity],
    rulebook: &str,
) -> Result<u64> {
    let mut driver = Driver::new(engine, 0, false);
    let at = date_ms(i64::from(scenario.scenario.year) + 1, 1, 4, 1);
    setup(&mut driver, entities, at)?;
    driver.ok(
        ADMIN,
        at,
        compliance(ComplianceCommand::LoadRulebook {
            source_name: "scratch".into(),
            toml: rulebook.to_owned(),
        }),
    )?;
    let mut total = 0u64;
    for chunk in entities.chunks(CHUNK) {
        let specs = chunk.iter().map(entity_spec).collect::<Result<Vec<_>>>()?;
        driver.ok(
            ADMIN,
            at,
            compliance(ComplianceCommand::RegisterEntities {
                scheme: scenario.scenario.scheme.clone(),
                entities: specs,
            }),
        )?;
    }
    for chunk in entities.chunks(CHUNK) {
        let outputs = chunk
            .iter()
            .map(|e| entity_output(e, false))
            .collect::<Result<Vec<_>>>()?;
        let effect = driver.ok(
            ADMIN,
            at,
            compliance(ComplianceCommand::Allocate {
                scheme: scenario.scenario.scheme.clone(),
                year: scenario.scenario.year,
                phase: AllocationPhase::Final,
                outputs,
            }),
        )?;
        if let Effect::Compliance(ets_engine::compliance::ComplianceEffect::Allocated {
            issued,
            ..
        }) = effect
        {
            total += issued.tonnes();
        }
    }
    Ok(total)
}

/// The rulebook with every China benchmark (electricity and heat) multiplied by
/// `factor`, written with 10 decimals.
fn scale_benchmarks(rulebook: &str, factor: f64) -> Result<String> {
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

fn setup<S: Sink>(driver: &mut Driver<'_, S>, entities: &[SimEntity], at: i64) -> Result<()> {
    let participant =
        |id, kind, name: String| registry(RegistryCommand::RegisterParticipant { id, kind, name });
    let open = |id, kind, holder| {
        registry(RegistryCommand::OpenAccount {
            id,
            kind,
            holder,
            representatives: vec![holder],
            approvals_required: 1,
        })
    };
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
    let bar = driver.bar(entities.len(), "setup");
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
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(())
}

fn entity_spec(entity: &SimEntity) -> Result<EntitySpec> {
    let units = entity
        .units
        .iter()
        .map(|u| {
            Ok(UnitSpec {
                unit: code(&u.code)?,
                category: u.category,
                capacity_mw: u.capacity_mw,
                cooling: if u.air_cooled {
                    Cooling::Air
                } else {
                    Cooling::Water
                },
                combined_heat_and_power: u.chp,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(EntitySpec {
        participant: entity_participant(entity.index),
        account: entity_account(entity.index),
        units,
    })
}

fn entity_output(entity: &SimEntity, base_year: bool) -> Result<EntityOutput> {
    let units = entity
        .units
        .iter()
        .map(|u| {
            let (mwh, gj) = if base_year {
                (u.base_supply_mwh, u.base_heat_gj)
            } else {
                (u.supply_mwh, u.heat_gj)
            };
            Ok(UnitOutput {
                unit: code(&u.code)?,
                electricity_mwh: mwh.to_string(),
                heat_gj: gj.to_string(),
                heat_supply_ratio: format!("{:.4}", u.heat_supply_ratio),
                load_factor: format!("{:.4}", u.load_factor),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(EntityOutput {
        participant: entity_participant(entity.index),
        units,
    })
}

/// True emissions in whole tonnes as the engine's MRV formula rounds them (nearest).
#[must_use]
pub fn true_emissions_tonnes(entity: &SimEntity) -> u64 {
    entity.emissions().round() as u64
}

fn report_command(entity: &SimEntity, year: u16, scenario: &Scenario) -> Result<Command> {
    let fuels = entity
        .units
        .iter()
        .map(|u| {
            // An under-reporter states a lower carbon content than measured.
            let cc = u.fuel.carbon_content * (1.0 - entity.under_report);
            FuelSpec {
                kind: if u.fuel.gas {
                    FuelKind::Other
                } else {
                    FuelKind::Coal
                },
                consumed: u.fuel.consumed.to_string(),
                net_calorific_value: format!("{:.3}", u.fuel.ncv),
                carbon_content: Some(format!("{cc:.5}")),
                oxidation_rate: Some(format!("{:.2}", u.fuel.oxidation_rate)),
            }
        })
        .collect();
    // The intensity check uses peer ranges of coal: gas-owning entities report no output.
    let output: u64 = if entity.has_gas() {
        0
    } else {
        entity.units.iter().map(|u| u.supply_mwh).sum()
    };
    let _ = scenario;
    Ok(compliance(ComplianceCommand::SubmitReport {
        entity: entity_participant(entity.index),
        year,
        fuels,
        purchased_electricity_mwh: "0".into(),
        output_mwh: output.to_string(),
        draft: false,
    }))
}

/// Counts closed results by status (compliant, shortfall, no verified report).
#[must_use]
pub fn status_counts(results: &[ets_engine::compliance::EntityResult]) -> [usize; 3] {
    let mut counts = [0usize; 3];
    for line in results {
        counts[match line.status {
            EntityStatus::Compliant => 0,
            EntityStatus::Shortfall => 1,
            EntityStatus::NoVerifiedReport => 2,
        }] += 1;
    }
    counts
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
