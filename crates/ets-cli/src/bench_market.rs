//! `ets bench market`: one continuous order book under a realistic order
//! flow, three ways: the pure `ets_market::Book` (closed loop), the same flow
//! through `Engine::apply` with pre-funded holds and delivery versus payment
//! (closed loop), and the engine path open loop at offered rates (latency
//! from each operation's *scheduled* time, so queueing counts). Prints JSON
//! figures; asserts nothing about time.

use crate::bench::Policy;
use anyhow::{Context, Result, bail};
use clap::Args;
use ets_engine::exchange::{ExchangeCommand, ExchangeEffect, TradingMode};
use ets_engine::{Command, Effect, Engine, Envelope, Outcome};
use ets_market::{
    Book, BookLimits, InstrumentRules, MarketDataRules, OrderId, OrderKind, OrderRequest,
    OrderStatus, Report, Side, TimeInForce,
};
use ets_model::{
    AccountId, Code, Money, ParticipantId, Price, Quantity, RequestId, Timestamp, TransactionId,
    UnitClass, Vintage,
};
use ets_registry::{AccountKind, ParticipantKind, RegistryCommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// One continuous book: pure matching, then through the engine with
/// settlement, then open-loop latency at offered rates.
///
/// Example: `ets bench market --operations 200000 --rates 50000,200000`
#[derive(Args)]
pub struct MarketArgs {
    /// Operations in each closed-loop run; also the most per offered rate in
    /// the open-loop run.
    #[arg(long, default_value_t = 1_000_000)]
    operations: u64,
    /// Offered rates of the open-loop run, operations per second, comma-separated.
    #[arg(long, default_value = "100000,500000,1000000", value_delimiter = ',')]
    rates: Vec<u64>,
    /// How many trading accounts send orders.
    #[arg(long, default_value_t = 1_000)]
    accounts: u64,
    /// Seed of the order flow's random choices.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The longest offered load per open-loop rate, in seconds (the run
    /// offers `min(operations, rate × seconds)` operations).
    #[arg(long, default_value_t = 2.0)]
    open_loop_seconds: f64,
    /// Measure the pure book only (closed and open loop), not the engine:
    /// quick repeated runs of the book's figures.
    #[arg(long)]
    book_only: bool,
    /// Which serials each fill's delivery takes from the seller
    /// (docs/serials.md); largest first, as `ets bench ledger` and a store
    /// that chose a policy, bounds the blocks a delivery moves.
    #[arg(long, value_enum, default_value_t = Policy::LargestFirst)]
    serial_policy: Policy,
}

const ADMIN: ParticipantId = ParticipantId(1);
const OPERATOR: ParticipantId = ParticipantId(2);
const ISSUANCE: AccountId = AccountId(1);
const FEES: AccountId = AccountId(20);
/// Trader i (0-based) is participant and account FIRST_ACCOUNT + i.
const FIRST_ACCOUNT: u64 = 1_000;
const UNITS_PER_ACCOUNT: u64 = 100_000_000;
const CASH_PER_ACCOUNT: i64 = 1_000_000_000_000;
const SYMBOL: &str = "CEA21";
/// The band's centre and the flow's fair price, in ticks (50.00 yuan).
const REFERENCE_TICKS: i64 = 5_000;
const FEE_BPS: u32 = 5;
const START_MS: i64 = 1_700_000_000_000;

/// Tick 1, lot 1 t, orders up to 99,999 t, ±10% band around the reference.
const RULES: InstrumentRules = InstrumentRules {
    tick_size_ticks: 1,
    lot_size_tonnes: 1,
    min_order_tonnes: 1,
    max_order_tonnes: 99_999,
    price_band_bps: Some(1_000),
    limits: BookLimits::DEFAULT,
};

/// The mix, in per mille of operations: passive limit orders, cancels, and
/// marketable orders (the rest).
const PASSIVE_PER_MILLE: u64 = 600;
const CANCEL_PER_MILLE: u64 = 250;
/// Mean distance of a passive order from the touch, in ticks (exponential, capped).
const PASSIVE_OFFSET_MEAN: f64 = 4.0;
const PASSIVE_OFFSET_MAX: i64 = 40;
/// Marketable limit orders reach up to this many ticks through the touch.
const MARKETABLE_REACH: u64 = 5;
const PASSIVE_TONNES: (u64, u64) = (1, 100);
const MARKETABLE_TONNES: (u64, u64) = (20, 300);
/// Progress is reported every this many operations (never per operation).
const PROGRESS_EVERY: u64 = 1 << 16;

/// The anchor and the targets, printed with the figures.
const ANCHOR: &str =
    "exchange-core (LMAX-style, Java): 5,000,000 ops/s on one book; p99 4 us at 1,000,000 ops/s";
const TARGET_OPS_PER_SECOND: f64 = 5_000_000.0;
/// The engine path's own target (DESIGN.md): with delivery versus payment.
const TARGET_ENGINE_OPS_PER_SECOND: f64 = 1_000_000.0;
const TARGET_P99_US_AT_1M: f64 = 2.0;

pub fn run(args: MarketArgs) -> Result<ExitCode> {
    if args.accounts < 2 {
        bail!("a market benchmark needs at least 2 accounts");
    }
    if args.operations == 0 {
        bail!("a market benchmark needs at least 1 operation");
    }
    if args.rates.contains(&0) {
        bail!("offered rates must be positive");
    }
    if args.open_loop_seconds.is_nan() || args.open_loop_seconds <= 0.0 {
        bail!("--open-loop-seconds must be positive");
    }
    let warm_up = (args.operations / 10).min(50_000);

    let book_only = book_only(&args, warm_up)?;
    let mut book_open_loop_runs = Vec::new();
    for &rate in &args.rates {
        book_open_loop_runs.push(book_open_loop(&args, warm_up, rate)?);
    }
    let engine = if args.book_only {
        None
    } else {
        Some(engine_closed_loop(&args, warm_up)?)
    };
    let mut open_loop = Vec::new();
    for &rate in &args.rates {
        if !args.book_only {
            open_loop.push(engine_open_loop(&args, warm_up, rate)?);
        }
    }

    let p99_at_1m = |runs: &[OpenLoop]| {
        runs.iter()
            .find(|run| run.offered == 1_000_000)
            .map(|run| run.latency.p99_us)
    };
    let engine_p99_at_1m = p99_at_1m(&open_loop);
    let book_p99_at_1m = p99_at_1m(&book_open_loop_runs);
    let report = json!({
        "benchmark": "market",
        "workload": {
            "accounts": args.accounts,
            "operations": args.operations,
            "warm_up_operations": warm_up,
            "seed": args.seed,
            "serial_policy": policy_name(args.serial_policy),
            "mix": {
                "passive_limit": PASSIVE_PER_MILLE as f64 / 1_000.0,
                "cancel": CANCEL_PER_MILLE as f64 / 1_000.0,
                "marketable": (1_000 - PASSIVE_PER_MILLE - CANCEL_PER_MILLE) as f64 / 1_000.0,
            },
            "instrument": {
                "tick_ticks": RULES.tick_size_ticks,
                "lot_tonnes": RULES.lot_size_tonnes,
                "band_bps": RULES.price_band_bps,
                "reference_ticks": REFERENCE_TICKS,
                "fee_bps": FEE_BPS,
            },
            "passive": format!("day limit, {}-{} t, {PASSIVE_OFFSET_MEAN}-tick mean exponential offset behind the touch (cap {PASSIVE_OFFSET_MAX})", PASSIVE_TONNES.0, PASSIVE_TONNES.1),
            "cancel": "a uniformly random resting order, by its owner",
            "marketable": format!("immediate-or-cancel, {}-{} t; 4 in 5 limit up to {} ticks through the touch, 1 in 5 market", MARKETABLE_TONNES.0, MARKETABLE_TONNES.1, MARKETABLE_REACH - 1),
        },
        "book_only": book_only.json(),
        "book_open_loop": book_open_loop_runs.iter().map(OpenLoop::json).collect::<Vec<_>>(),
        "engine_with_settlement": engine.as_ref().map(EngineRun::json),
        "open_loop": open_loop.iter().map(OpenLoop::json).collect::<Vec<_>>(),
        "anchor": ANCHOR,
        "targets": {
            "operations_per_second": TARGET_OPS_PER_SECOND,
            "engine_operations_per_second": TARGET_ENGINE_OPS_PER_SECOND,
            "p99_us_at_1m_ops_per_second": TARGET_P99_US_AT_1M,
        },
        "verdict": {
            "book_only_meets_throughput": book_only.per_second() >= TARGET_OPS_PER_SECOND,
            "book_meets_p99_at_1m": book_p99_at_1m.map(|p99| p99 <= TARGET_P99_US_AT_1M),
            "engine_meets_throughput": engine.as_ref().map(|run| run.per_second() >= TARGET_ENGINE_OPS_PER_SECOND),
            "engine_meets_p99_at_1m": engine_p99_at_1m.map(|p99| p99 <= TARGET_P99_US_AT_1M),
        },
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}

/// The policy's name as the JSON report prints it.
fn policy_name(policy: Policy) -> &'static str {
    match policy {
        Policy::OldestFirst => "oldest_first",
        Policy::LargestFirst => "largest_first",
    }
}

fn class() -> Result<UnitClass> {
    Ok(UnitClass::Allowance {
        scheme: Code::try_new("CEA")?,
        vintage: Vintage(2021),
    })
}

fn price(ticks: i64) -> Result<Price> {
    Ok(Price::try_new(ticks)?)
}

/// SplitMix64 ([`ets_market::splitmix64`]): a small, fast, seeded generator
/// for the workload (outside the engine).
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        let output = ets_market::splitmix64(self.0);
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        output
    }

    fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(bound)) >> 64) as u64
    }

    /// Uniform in `low..=high`.
    fn between(&mut self, (low, high): (u64, u64)) -> u64 {
        low + self.below(high - low + 1)
    }

    /// A draw from the exponential distribution with `mean`, rounded down.
    fn exponential(&mut self, mean: f64) -> u64 {
        let uniform = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        (-(1.0 - uniform).ln() * mean) as u64
    }
}

/// One operation of the flow, before it is addressed to a book or an engine.
#[derive(Clone, Copy)]
enum Op {
    Place {
        /// Trader index, 0-based.
        trader: u64,
        side: Side,
        kind: OrderKind,
        quantity: u64,
        time_in_force: TimeInForce,
    },
    Cancel {
        trader: u64,
        order: OrderId,
    },
}

/// What the flow emitted, by kind.
#[derive(Default, Clone, Copy)]
struct Mix {
    passive: u64,
    cancel: u64,
    marketable: u64,
    /// Cancels turned into passive orders because no resting order was found.
    cancel_fallbacks: u64,
}

/// The order flow. Prices stay around a fixed fair price: passive buys rest
/// at `fair - 1 - offset`, passive sells at `fair + offset`, so passive orders
/// never cross; marketable orders are immediate, so nothing rests across the
/// fair price. Resting orders are remembered (lazily: ones filled since are
/// dropped when a cancel picks them).
struct Flow {
    random: Random,
    accounts: u64,
    fair: i64,
    /// Prices are checked once here, so the loops convert without failing.
    prices: Vec<Price>,
    lowest: i64,
    live: Vec<(OrderId, u64)>,
    mix: Mix,
}

impl Flow {
    fn new(seed: u64, accounts: u64) -> Result<Flow> {
        let lowest = REFERENCE_TICKS - PASSIVE_OFFSET_MAX - MARKETABLE_REACH as i64 - 1;
        let highest = REFERENCE_TICKS + PASSIVE_OFFSET_MAX + MARKETABLE_REACH as i64 + 1;
        let prices = (lowest..=highest).map(price).collect::<Result<Vec<_>>>()?;
        Ok(Flow {
            random: Random(seed),
            accounts,
            fair: REFERENCE_TICKS,
            prices,
            lowest,
            live: Vec::new(),
            mix: Mix::default(),
        })
    }

    fn price(&self, ticks: i64) -> Price {
        let index = (ticks - self.lowest).clamp(0, self.prices.len() as i64 - 1) as usize;
        self.prices[index]
    }

    /// The next operation; `is_open` says whether a remembered order still rests.
    fn next(&mut self, mut is_open: impl FnMut(OrderId) -> bool) -> Op {
        let draw = self.random.below(1_000);
        if (PASSIVE_PER_MILLE..PASSIVE_PER_MILLE + CANCEL_PER_MILLE).contains(&draw) {
            for _ in 0..16 {
                if self.live.is_empty() {
                    break;
                }
                let index = self.random.below(self.live.len() as u64) as usize;
                let (order, trader) = self.live.swap_remove(index);
                if is_open(order) {
                    self.mix.cancel += 1;
                    return Op::Cancel { trader, order };
                }
            }
            self.mix.cancel_fallbacks += 1;
            return self.passive();
        }
        if draw < PASSIVE_PER_MILLE {
            return self.passive();
        }
        self.mix.marketable += 1;
        let trader = self.random.below(self.accounts);
        let side = if self.random.below(2) == 0 {
            Side::Buy
        } else {
            Side::Sell
        };
        let kind = if self.random.below(5) == 0 {
            OrderKind::Market
        } else {
            let reach = self.random.below(MARKETABLE_REACH) as i64;
            OrderKind::Limit(match side {
                Side::Buy => self.price(self.fair + reach),
                Side::Sell => self.price(self.fair - 1 - reach),
            })
        };
        Op::Place {
            trader,
            side,
            kind,
            quantity: self.random.between(MARKETABLE_TONNES),
            time_in_force: TimeInForce::ImmediateOrCancel,
        }
    }

    fn passive(&mut self) -> Op {
        self.mix.passive += 1;
        let trader = self.random.below(self.accounts);
        let offset = (self.random.exponential(PASSIVE_OFFSET_MEAN) as i64).min(PASSIVE_OFFSET_MAX);
        let (side, ticks) = if self.random.below(2) == 0 {
            (Side::Buy, self.fair - 1 - offset)
        } else {
            (Side::Sell, self.fair + offset)
        };
        Op::Place {
            trader,
            side,
            kind: OrderKind::Limit(self.price(ticks)),
            quantity: self.random.between(PASSIVE_TONNES),
            time_in_force: TimeInForce::Day,
        }
    }

    /// Remembers an order that rests after its placement.
    fn rests(&mut self, order: OrderId, trader: u64) {
        self.live.push((order, trader));
    }
}

fn account(trader: u64) -> AccountId {
    AccountId(FIRST_ACCOUNT + trader)
}

fn progress(total: u64, label: impl Into<std::borrow::Cow<'static, str>>) -> ProgressBar {
    // A low refresh rate: drawing happens on the measuring thread.
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(2));
    let style = ProgressStyle::with_template(
        "{msg:>16} [{bar:40}] {pos}/{len} operations ({per_sec}, eta {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(label);
    bar
}

/// Operation i's timestamp: a thousand operations per millisecond.
fn time_of(index: u64) -> Timestamp {
    Timestamp(START_MS + 1 + (index / 1_000) as i64)
}

// ---------------------------------------------------------------- book only

struct BookRun {
    operations: u64,
    elapsed: Duration,
    fills: u64,
    rejected: BTreeMap<String, u64>,
    resting_at_end: usize,
    mix: Mix,
}

impl BookRun {
    fn per_second(&self) -> f64 {
        self.operations as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    fn json(&self) -> Value {
        json!({
            "operations_per_second": self.per_second().round(),
            "seconds": self.elapsed.as_secs_f64(),
            "operations": self.operations,
            "fills": self.fills,
            "rejected": self.rejected,
            "resting_orders_at_end": self.resting_at_end,
            "mix_emitted": mix_json(&self.mix),
        })
    }
}

fn mix_json(mix: &Mix) -> Value {
    json!({
        "passive_limit": mix.passive,
        "cancel": mix.cancel,
        "marketable": mix.marketable,
        "cancels_without_a_resting_order": mix.cancel_fallbacks,
    })
}

/// The pure book and the flow that drives it, with what the driver learns
/// from the reports (which orders still rest).
struct BookWorld {
    book: Book,
    flow: Flow,
    report: Report,
    /// closed[id]: the order no longer rests (from the reports' updates).
    closed: Vec<bool>,
    /// Operations generated so far (for timestamps).
    index: u64,
    fills: u64,
    rejected: BTreeMap<String, u64>,
}

impl BookWorld {
    /// An empty book after `warm_up` operations of the flow.
    fn new(args: &MarketArgs, warm_up: u64) -> Result<BookWorld> {
        let book = Book::new(RULES, price(REFERENCE_TICKS)?)
            .map_err(|error| anyhow::anyhow!("the benchmark's book rules: {error}"))?;
        let mut world = BookWorld {
            book,
            flow: Flow::new(args.seed, args.accounts)?,
            report: Report::default(),
            closed: vec![true],
            index: 0,
            fills: 0,
            rejected: BTreeMap::new(),
        };
        for _ in 0..warm_up {
            let (op, now) = world.next();
            world.apply(op, now);
        }
        world.flow.mix = Mix::default();
        world.fills = 0;
        Ok(world)
    }

    /// The flow's next operation and its time (the client's work).
    fn next(&mut self) -> (Op, Timestamp) {
        let now = time_of(self.index);
        self.index += 1;
        let closed = &self.closed;
        let op = self
            .flow
            .next(|order| !closed.get(order.0 as usize).copied().unwrap_or(true));
        (op, now)
    }

    /// Applies one operation to the book and learns from its report.
    fn apply(&mut self, op: Op, now: Timestamp) {
        let report = &mut self.report;
        let result = match op {
            Op::Place {
                trader,
                side,
                kind,
                quantity,
                time_in_force,
            } => {
                let request = OrderRequest {
                    trader: account(trader),
                    side,
                    kind,
                    quantity: Quantity::new(quantity),
                    time_in_force,
                };
                self.book
                    .submit(&request, now, report)
                    .map(|order| Some((order, trader)))
            }
            Op::Cancel { trader, order } => self
                .book
                .cancel(account(trader), order, now, report)
                .map(|()| None),
        };
        match result {
            Ok(placed) => {
                if let Some((order, _)) = placed {
                    let id = order.0 as usize;
                    if self.closed.len() <= id {
                        self.closed.resize(id + 1, false);
                    }
                }
                self.fills += report.fills.len() as u64;
                for update in &report.updates {
                    if update.status != OrderStatus::Open
                        && let Some(slot) = self.closed.get_mut(update.order.0 as usize)
                    {
                        *slot = true;
                    }
                }
                if let Some((order, trader)) = placed
                    && !self.closed.get(order.0 as usize).copied().unwrap_or(true)
                {
                    self.flow.rests(order, trader);
                }
            }
            Err(error) => *self.rejected.entry(error.code().to_owned()).or_default() += 1,
        }
    }

    fn check(&self) -> Result<()> {
        self.book
            .check_invariants()
            .map_err(anyhow::Error::msg)
            .context("the book's invariants broke during the benchmark")
    }
}

/// The pure book, closed loop: the flow's generation is inside the timed
/// loop (it is a few random draws), the book's checks and matching too.
fn book_only(args: &MarketArgs, warm_up: u64) -> Result<BookRun> {
    let bar = progress(args.operations, "book only");
    let mut world = BookWorld::new(args, warm_up)?;
    let started = Instant::now();
    for index in 0..args.operations {
        let (op, now) = world.next();
        world.apply(op, now);
        if (index + 1) % PROGRESS_EVERY == 0 {
            bar.inc(PROGRESS_EVERY);
        }
    }
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    world.check()?;
    Ok(BookRun {
        operations: args.operations,
        elapsed,
        fills: world.fills,
        rejected: world.rejected,
        resting_at_end: world.book.open_order_count(),
        mix: world.flow.mix,
    })
}

/// The pure book, open loop at `rate`: as [`engine_open_loop`], with
/// `Book::submit` / `Book::cancel` as the service.
fn book_open_loop(args: &MarketArgs, warm_up: u64, rate: u64) -> Result<OpenLoop> {
    let operations = open_loop_operations(args, rate);
    let bar = progress(operations, format!("book open {rate}/s"));
    let mut world = BookWorld::new(args, warm_up)?;
    let mut latencies: Vec<u64> = Vec::with_capacity(operations as usize);
    let mut service: Vec<u64> = Vec::with_capacity(operations as usize);
    let t0 = Instant::now() + Duration::from_millis(1);
    let mut last = t0;
    for index in 0..operations {
        let (op, now) = world.next();
        let due = due_time(t0, index, rate);
        let start = spin_until(due);
        world.apply(op, now);
        last = Instant::now();
        latencies.push(nanos(last.saturating_duration_since(due)));
        service.push(nanos(last.saturating_duration_since(start)));
        if (index + 1) % PROGRESS_EVERY == 0 {
            bar.inc(PROGRESS_EVERY);
        }
    }
    bar.finish_and_clear();
    world.check()?;
    let elapsed = last.saturating_duration_since(t0);
    Ok(OpenLoop {
        offered: rate,
        operations,
        achieved: operations as f64 / elapsed.as_secs_f64().max(f64::MIN_POSITIVE),
        latency: Percentiles::of(&mut latencies),
        service: Percentiles::of(&mut service),
        rejected: world.rejected.values().sum(),
    })
}

/// How many operations an open-loop run at `rate` offers.
fn open_loop_operations(args: &MarketArgs, rate: u64) -> u64 {
    let by_time = (rate as f64 * args.open_loop_seconds).ceil() as u64;
    args.operations.min(by_time).max(1)
}

/// When operation `index` is due at `rate` operations per second from `t0`.
fn due_time(t0: Instant, index: u64, rate: u64) -> Instant {
    t0 + Duration::from_nanos((u128::from(index) * 1_000_000_000 / u128::from(rate)) as u64)
}

/// Spins until `due`; returns the time it stopped (the service's start).
fn spin_until(due: Instant) -> Instant {
    let mut now = Instant::now();
    while now < due {
        std::hint::spin_loop();
        now = Instant::now();
    }
    now
}

// ------------------------------------------------------------ engine world

/// An engine with the administrator, the exchange operator and its fee
/// account, `accounts` funded traders (units and cash) and the listed
/// continuous instrument; then `warm_up` operations of the flow.
struct World {
    engine: Engine,
    flow: Flow,
    symbol: Code,
    next_request: u64,
    /// Operations applied since the start of the flow (for timestamps).
    applied: u64,
    rejected: BTreeMap<String, u64>,
}

impl World {
    fn new(args: &MarketArgs, warm_up: u64) -> Result<World> {
        let class = class()?;
        let symbol = Code::try_new(SYMBOL)?;
        let mut world = World {
            engine: Engine::new(),
            flow: Flow::new(args.seed, args.accounts)?,
            symbol,
            next_request: 1,
            applied: 0,
            rejected: BTreeMap::new(),
        };
        let participant = |id: ParticipantId, kind, name: String| {
            Command::Registry(RegistryCommand::RegisterParticipant { id, kind, name })
        };
        let open = |id: AccountId, kind, holder: ParticipantId| {
            Command::Registry(RegistryCommand::OpenAccount {
                id,
                kind,
                holder,
                representatives: vec![holder],
                approvals_required: 1,
            })
        };
        world.setup(
            ADMIN,
            participant(
                ADMIN,
                ParticipantKind::Administrator,
                "administrator".into(),
            ),
        )?;
        world.setup(
            ADMIN,
            participant(OPERATOR, ParticipantKind::Exchange, "exchange".into()),
        )?;
        world.setup(ADMIN, open(ISSUANCE, AccountKind::Issuance, ADMIN))?;
        world.setup(
            ADMIN,
            Command::Registry(RegistryCommand::SetSerialPolicy {
                policy: args.serial_policy.into(),
            }),
        )?;
        world.setup(ADMIN, open(FEES, AccountKind::Trading, OPERATOR))?;
        world.setup(
            ADMIN,
            Command::Registry(RegistryCommand::Issue {
                class,
                quantity: Quantity::new(UNITS_PER_ACCOUNT * args.accounts),
            }),
        )?;
        for trader in 0..args.accounts {
            let holder = ParticipantId(FIRST_ACCOUNT + trader);
            world.setup(
                ADMIN,
                participant(
                    holder,
                    ParticipantKind::Institution,
                    format!("trader {}", holder.0),
                ),
            )?;
            world.setup(ADMIN, open(account(trader), AccountKind::Trading, holder))?;
            world.setup(
                ADMIN,
                Command::Registry(RegistryCommand::Transfer {
                    from: ISSUANCE,
                    to: account(trader),
                    class,
                    quantity: Quantity::new(UNITS_PER_ACCOUNT),
                }),
            )?;
            world.setup(
                OPERATOR,
                Command::Exchange(ExchangeCommand::DepositCash {
                    account: account(trader),
                    amount: Money::new(CASH_PER_ACCOUNT),
                }),
            )?;
        }
        world.setup(
            ADMIN,
            Command::Exchange(ExchangeCommand::ListInstrument {
                symbol,
                class,
                mode: TradingMode::Continuous,
                rules: RULES,
                reference_price: price(REFERENCE_TICKS)?,
                fee_bps: FEE_BPS,
                fee_account: FEES,
                no_same_day_resale: false,
                market_data: MarketDataRules::EU,
                calendar: None,
            }),
        )?;
        for _ in 0..warm_up {
            let envelope = world.next_envelope();
            world.apply(&envelope);
        }
        world.flow.mix = Mix::default();
        world.rejected.clear();
        Ok(world)
    }

    fn setup(&mut self, requester: ParticipantId, command: Command) -> Result<()> {
        let envelope = Envelope {
            request_id: RequestId(self.next_request),
            requester,
            time: Timestamp(START_MS),
            command,
        };
        self.next_request += 1;
        match self.engine.apply(&envelope).outcome() {
            Outcome::Accepted(_) => Ok(()),
            Outcome::Rejected(rejection) => bail!(
                "setup command {} refused: {} ({})",
                envelope.command.name(),
                rejection.message,
                rejection.code
            ),
        }
    }

    /// The flow's next operation as an envelope (client side, not the engine's work).
    fn next_envelope(&mut self) -> Envelope {
        let exchange = self.engine.exchange();
        let symbol = self.symbol;
        let op = self
            .flow
            .next(|order| exchange.order(&symbol, order).is_some());
        let (trader, command) = match op {
            Op::Place {
                trader,
                side,
                kind,
                quantity,
                time_in_force,
            } => (
                trader,
                ExchangeCommand::PlaceOrder {
                    instrument: symbol,
                    account: account(trader),
                    side,
                    kind,
                    quantity: Quantity::new(quantity),
                    time_in_force,
                },
            ),
            Op::Cancel { trader, order } => (
                trader,
                ExchangeCommand::CancelOrder {
                    instrument: symbol,
                    account: account(trader),
                    order,
                },
            ),
        };
        let envelope = Envelope {
            request_id: RequestId(self.next_request),
            requester: ParticipantId(FIRST_ACCOUNT + trader),
            time: time_of(self.applied),
            command: Command::Exchange(command),
        };
        self.next_request += 1;
        self.applied += 1;
        envelope
    }

    /// Applies one operation and remembers a placed order that rests.
    fn apply(&mut self, envelope: &Envelope) {
        let applied = self.engine.apply(envelope);
        self.observe(envelope, applied.outcome());
    }

    fn observe(&mut self, envelope: &Envelope, outcome: &Outcome) {
        match outcome {
            Outcome::Accepted(Effect::Exchange(ExchangeEffect::OrderEntered {
                order,
                open,
                ..
            })) => {
                if open.tonnes() > 0 {
                    self.flow
                        .rests(*order, envelope.requester.0 - FIRST_ACCOUNT);
                }
            }
            Outcome::Accepted(_) => {}
            Outcome::Rejected(rejection) => {
                *self.rejected.entry(rejection.code.clone()).or_default() += 1;
            }
        }
    }

    /// The id the registry's next transaction gets.
    fn next_transaction(&self) -> TransactionId {
        let last = self.engine.registry().transactions().next_back();
        TransactionId(last.map_or(1, |transaction| transaction.id.0 + 1))
    }

    /// Serial blocks moved by the deliveries from `first` on, and blocks
    /// held by the traders now (outside the timing).
    fn serials(&self, first: TransactionId) -> Serials {
        let registry = self.engine.registry();
        let (deliveries, moved) = registry
            .transactions_from(first)
            .fold((0, 0), |(count, blocks), transaction| {
                (count + 1, blocks + transaction.blocks.len())
            });
        let held: Vec<usize> = registry
            .accounts()
            .filter(|account| account.kind == AccountKind::Trading)
            .map(|account| {
                account
                    .holdings()
                    .map(|(_, holding)| holding.block_count())
                    .sum()
            })
            .collect();
        Serials {
            deliveries,
            moved,
            held: held.iter().sum(),
            held_most: held.iter().copied().max().unwrap_or(0),
            accounts: held.len(),
        }
    }

    fn check(&self) -> Result<()> {
        self.engine
            .check_invariants()
            .map_err(anyhow::Error::msg)
            .context("an invariant broke during the benchmark")
    }

    fn resting_orders(&self) -> usize {
        self.engine
            .exchange()
            .depth(&self.symbol)
            .map_or(0, |depth| {
                depth
                    .bids
                    .iter()
                    .chain(&depth.asks)
                    .map(|level| level.orders as usize)
                    .sum()
            })
    }
}

// ---------------------------------------------------- engine, closed loop

#[derive(Clone, Copy)]
struct Percentiles {
    p50_us: f64,
    p99_us: f64,
    p999_us: f64,
    max_us: f64,
}

impl Percentiles {
    /// From latencies in nanoseconds (sorted here).
    fn of(nanos: &mut [u64]) -> Percentiles {
        nanos.sort_unstable();
        let at = |fraction: f64| {
            if nanos.is_empty() {
                return 0.0;
            }
            let index = ((nanos.len() as f64 - 1.0) * fraction).round() as usize;
            nanos[index.min(nanos.len() - 1)] as f64 / 1_000.0
        };
        Percentiles {
            p50_us: at(0.50),
            p99_us: at(0.99),
            p999_us: at(0.999),
            max_us: nanos.last().map_or(0.0, |max| *max as f64 / 1_000.0),
        }
    }

    fn json(&self) -> Value {
        let round = |us: f64| (us * 1_000.0).round() / 1_000.0;
        json!({
            "p50": round(self.p50_us),
            "p99": round(self.p99_us),
            "p99.9": round(self.p999_us),
            "max": round(self.max_us),
        })
    }
}

/// Latencies are kept as nanoseconds, 8 bytes per operation: memory is
/// bounded by the operation count (`--operations`).
fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

struct EngineRun {
    operations: u64,
    elapsed: Duration,
    service: Percentiles,
    trades: usize,
    registry_transactions: usize,
    serials: Serials,
    rejected: BTreeMap<String, u64>,
    resting_at_end: usize,
    mix: Mix,
}

impl EngineRun {
    fn per_second(&self) -> f64 {
        self.operations as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    fn json(&self) -> Value {
        json!({
            "operations_per_second": self.per_second().round(),
            "seconds": self.elapsed.as_secs_f64(),
            "operations": self.operations,
            "apply_time_us": self.service.json(),
            "trades_settled_in_total": self.trades,
            "registry_transactions_in_total": self.registry_transactions,
            "serial_blocks": self.serials.json(),
            "rejected": self.rejected,
            "resting_orders_at_end": self.resting_at_end,
            "mix_emitted": mix_json(&self.mix),
        })
    }
}

/// The engine, closed loop: each operation is generated, then applied; the
/// time of `apply` alone is recorded too (its percentiles).
fn engine_closed_loop(args: &MarketArgs, warm_up: u64) -> Result<EngineRun> {
    let bar = progress(args.operations, "engine (setup)");
    let mut world = World::new(args, warm_up)?;
    bar.set_message("engine");
    let first_transaction = world.next_transaction();
    let mut service: Vec<u64> = Vec::with_capacity(args.operations as usize);
    let started = Instant::now();
    for index in 0..args.operations {
        let envelope = world.next_envelope();
        let before = Instant::now();
        let applied = world.engine.apply(&envelope);
        service.push(nanos(before.elapsed()));
        world.observe(&envelope, applied.outcome());
        if (index + 1) % PROGRESS_EVERY == 0 {
            bar.inc(PROGRESS_EVERY);
        }
    }
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    world.check()?;
    Ok(EngineRun {
        operations: args.operations,
        elapsed,
        service: Percentiles::of(&mut service),
        trades: world.engine.exchange().trades().len(),
        registry_transactions: world.engine.registry().retained_transactions(),
        serials: world.serials(first_transaction),
        rejected: world.rejected.clone(),
        resting_at_end: world.resting_orders(),
        mix: world.flow.mix,
    })
}

/// Serial fragmentation beside the figures (issue 13): blocks each
/// delivery moved, and blocks the trading accounts hold at the end.
struct Serials {
    deliveries: usize,
    moved: usize,
    held: usize,
    held_most: usize,
    accounts: usize,
}

impl Serials {
    fn json(&self) -> Value {
        let per = |total: usize, count: usize| total as f64 / count.max(1) as f64;
        json!({
            "deliveries": self.deliveries,
            "moved_per_delivery": (per(self.moved, self.deliveries) * 100.0).round() / 100.0,
            "held_per_account": (per(self.held, self.accounts) * 100.0).round() / 100.0,
            "held_by_one_account_at_most": self.held_most,
        })
    }
}

// ------------------------------------------------------ engine, open loop

struct OpenLoop {
    offered: u64,
    operations: u64,
    achieved: f64,
    latency: Percentiles,
    service: Percentiles,
    rejected: u64,
}

impl OpenLoop {
    fn json(&self) -> Value {
        json!({
            "offered_per_second": self.offered,
            "operations": self.operations,
            "achieved_per_second": self.achieved.round(),
            "saturated": self.achieved < 0.98 * self.offered as f64,
            "latency_us": self.latency.json(),
            "apply_time_us": self.service.json(),
            "rejected": self.rejected,
        })
    }
}

/// Operation i is due at `t0 + i / rate`. The driver prepares it, waits
/// (spinning) until it is due, applies it, and records `completion - due`:
/// when the engine falls behind, the wait of every later operation counts
/// (no coordinated omission).
fn engine_open_loop(args: &MarketArgs, warm_up: u64, rate: u64) -> Result<OpenLoop> {
    let operations = open_loop_operations(args, rate);
    let bar = progress(operations, format!("engine open {rate}/s"));
    let mut world = World::new(args, warm_up)?;
    let mut latencies: Vec<u64> = Vec::with_capacity(operations as usize);
    let mut service: Vec<u64> = Vec::with_capacity(operations as usize);
    let t0 = Instant::now() + Duration::from_millis(1);
    let mut last = t0;
    for index in 0..operations {
        let envelope = world.next_envelope();
        let due = due_time(t0, index, rate);
        let start = spin_until(due);
        let applied = world.engine.apply(&envelope);
        last = Instant::now();
        latencies.push(nanos(last.saturating_duration_since(due)));
        service.push(nanos(last.saturating_duration_since(start)));
        world.observe(&envelope, applied.outcome());
        if (index + 1) % PROGRESS_EVERY == 0 {
            bar.inc(PROGRESS_EVERY);
        }
    }
    bar.finish_and_clear();
    world.check()?;
    let elapsed = last.saturating_duration_since(t0);
    Ok(OpenLoop {
        offered: rate,
        operations,
        achieved: operations as f64 / elapsed.as_secs_f64().max(f64::MIN_POSITIVE),
        latency: Percentiles::of(&mut latencies),
        service: Percentiles::of(&mut service),
        rejected: world.rejected.values().sum(),
    })
}
