//! The secondary market and primary auctions of the simulated year, as agents that
//! place orders through the exchange (docs/simulation.md, "agents" and "designs").
//!
//! Firms trade around their reservation prices (the price each expects, which is its
//! MAC at its abatement): short firms buy what they need (their limit rising towards
//! the deadline), long firms sell part of their surplus (their ask falling) or hold it
//! unless the price is high, hedgers start early and buy a buffer. Orders of 100,000 t
//! and more are negotiated as block agreements, smaller ones posted and taken on the
//! listed book (or, in the continuous design, all of them placed in one book). With
//! open participation, institutions quote both sides around the close, leaning towards
//! the price they expect. Every order is placed inside a session of the instrument's
//! trading calendar. Prices are what the orders make them: nothing is scripted.

mod day;
mod open;
mod window;

use crate::agents::Firm;
use crate::reserve::{RESERVE_ACCOUNT, RESERVE_HOLDER, ReservePlan};
use crate::scenario::{Participation, Rng, Scenario};
use crate::year::{ADMIN, Driver, EXCHANGE_OPERATOR, Sink, exchange};
use anyhow::{Context as _, Result};
use ets_engine::exchange::{AuctionId, ExchangeCommand, ExchangeEffect};
use ets_engine::{Effect, Outcome};
use ets_market::{
    AuctionRules, CostContainmentReserve, InstrumentRules, OrderKind, Side, TieBreak, TimeInForce,
};
use ets_model::{AccountId, Code, Money, ParticipantId, Price, Quantity, Timestamp, UnitClass};
use std::collections::BTreeMap;
use window::Window;

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;
/// 09:30 Beijing (01:30 UTC): the listed morning session opens.
const MORNING_MS: i64 = HOUR_MS + HOUR_MS / 2;
/// 13:00 Beijing (05:00 UTC): the afternoon session (listed and block) opens.
const AFTERNOON_MS: i64 = 5 * HOUR_MS;
/// Length of a session used for orders (2 hours less a minute).
const SESSION_MS: i64 = 2 * HOUR_MS - 60_000;
/// 15:30 Beijing: end of day.
const CLOSE_MS: i64 = 7 * HOUR_MS + HOUR_MS / 2;
/// Orders of this size and more are block agreements.
const BLOCK_MIN: u64 = 100_000;
/// Largest listed order.
const LISTED_MAX: u64 = BLOCK_MIN - 1;
/// Most listed orders one action posts. The listed agreement caps an order below
/// 100,000 t, not a firm's orders (docs/sources.md#cn-exchange), so a firm that must
/// trade more in one action (the last days: all it owes, all it still offers) posts
/// several; the bound keeps one action's orders finite (50 orders: about 5 Mt).
const MAX_LISTED_POSTS: usize = 50;
/// Most resting orders one action takes, per listed order it would post.
const TAKES_PER_ORDER: usize = 20;
/// A firm that holds its surplus still sells it at its reservation price times this.
const HOLD_PREMIUM: f64 = 1.25;
/// Chance that a buyer of 100,000 t or more skips the listed book on a day (it waits
/// for a block agreement), before the last five days.
const BLOCK_PREFERENCE: f64 = 0.75;
/// Auction lots, t.
const AUCTION_LOT: u64 = 1_000;
/// First institution participant id and account id.
const INSTITUTION_BASE: u64 = 200_000;
/// The authority's price-support desk (price floor).
const FLOOR_DESK: ParticipantId = ParticipantId(5);
const FLOOR_ACCOUNT: AccountId = AccountId(8);
/// The registry's auction account.
pub(crate) const AUCTION_ACCOUNT: AccountId = crate::reserve::AUCTION_ACCOUNT;

/// What the market needs from the year.
pub(crate) struct MarketInput<'a> {
    pub scenario: &'a Scenario,
    /// The market-clearing expected price the firms foresaw, yuan/t (0 = long market):
    /// the instruments list at the higher of it and the scenario's anchor.
    pub clearing_price: f64,
    pub firms: &'a [Firm],
    /// Per entity: tonnes it must still buy to surrender its target.
    pub need: &'a [u64],
    /// Per entity: tonnes above its obligation.
    pub surplus: &'a [u64],
    /// Per entity: verified emissions over the compliance years the window settles, t
    /// (for hedge buffers).
    pub emissions: &'a [u64],
    /// How many compliance years `emissions` covers (2019-2020, or the 2021-22 step: 2):
    /// a hedger's buffer is a share of ONE year's emissions (`trading::open::firm_agents`).
    pub years: u16,
    /// Per entity: of `need`, tonnes it must have bought before the period's first
    /// intermediate deadline (China 2021: 95% surrendered by 15 Nov 2023), else 0.
    pub need_early: &'a [u64],
    /// The period's dates: trading days and deadlines.
    pub timeline: &'a crate::year::Timeline,
    /// The class traded.
    pub class: UnitClass,
    /// Tonnes sold at primary auctions over the window (already in the auction account).
    pub auction_volume: u64,
    /// The rise of the price the firms expect by the next window, a share (0 = none):
    /// long firms whose cost of carry is below it bank (`[trading] carry_cost`).
    pub expected_growth: f64,
    /// The precaution premium, a share of the price (0 = none): when the next rulebook
    /// lets nobody borrow, a tonne held is also insurance against a bad next year, so long
    /// firms bank as for a rise this much larger (`year::foresight::precaution`).
    pub precaution: f64,
    /// Per entity: tonnes it must sell in this window because the carry-over cap binds
    /// at the close of a period settled in it (empty = none).
    pub must_sell: &'a [u64],
    /// Per entity: tonnes it may carry past the close of a period settled in this window
    /// before the carry-over cap cancels the rest (empty = no cap binds); a hedger buys
    /// no buffer beyond it (`trading::open::firm_agents`).
    pub carry_room: &'a [u64],
    /// A foreseen window (docs/simulation.md, "The foreseen window"): nothing is due in
    /// it, so no buyer must buy (`need` is what it foresees to lack) and nobody hedges.
    pub foreseen: bool,
}

/// What the market did, for the summary.
#[derive(Debug, Default)]
pub(crate) struct MarketOutcome {
    pub daily_close: Vec<(String, f64)>,
    pub daily_vwap: Vec<(String, f64)>,
    pub daily_spread: Vec<(String, f64)>,
    pub auction_prices: Vec<(String, f64)>,
    pub unmet: u64,
    pub refused: u64,
    pub institutions: usize,
    /// Per entity: value bought less value sold, fen.
    pub net_purchases_fen: Vec<i128>,
    pub floor_bought: u64,
    /// Accounts that entered at least one order, take, proposal, acceptance or bid.
    pub participants: usize,
    /// What the allowance reserve did at the auctions.
    pub reserve: crate::reserve::ReserveTally,
}

struct Agent {
    account: AccountId,
    participant: ParticipantId,
    entity: Option<usize>,
    value: f64,
    buy_left: u64,
    must_buy: u64,
    /// Of `must_buy`, what it must buy before the intermediate deadline.
    early_left: u64,
    sell_left: u64,
    /// Of its surplus, tonnes it does not offer (`[trading] sell_fraction`) unless buyers
    /// sit at the band's top in the last days (see `Market::release_held_back`).
    held_back: u64,
    /// Sells only at `HOLD_PREMIUM` x its value.
    holder: bool,
    /// A banker's ask floor, yuan/t: the price it expects later, discounted at its cost
    /// of carry (0 = it does not bank for a rise).
    bank_ask: f64,
    /// Tonnes it must still sell before the carry-over cap binds (sold at any price in
    /// the last days).
    must_sell: u64,
    start: usize,
    lot: f64,
    resting_buy: bool,
    resting_sell: bool,
    net_fen: i128,
}

impl Agent {
    /// An agent of `account` with nothing to do yet.
    fn new(account: AccountId, participant: ParticipantId) -> Agent {
        Agent {
            account,
            participant,
            entity: None,
            value: 0.0,
            buy_left: 0,
            must_buy: 0,
            early_left: 0,
            sell_left: 0,
            held_back: 0,
            holder: false,
            bank_ask: 0.0,
            must_sell: 0,
            start: 0,
            lot: 0.0,
            resting_buy: false,
            resting_sell: false,
            net_fen: 0,
        }
    }
}

/// A block agreement two agents have settled on.
struct BlockAgreement {
    symbol: Code,
    /// Agent indices.
    seller: usize,
    buyer: usize,
    ticks: i64,
    quantity: u64,
    /// End of the day's block session, ms.
    expires_at: i64,
}

struct Book {
    symbol: Code,
    rules: InstrumentRules,
    reference: Price,
}

struct Market<'d, 'a, S: Sink> {
    driver: &'d mut Driver<'a, S>,
    agents: Vec<Agent>,
    by_account: BTreeMap<AccountId, usize>,
    seen: u64,
    listed: Book,
    block: Option<Book>,
    continuous: bool,
    floor_ticks: i64,
    refused: u64,
    floor_bought: u64,
    spread_sum: f64,
    spread_samples: u32,
    class_index: u32,
    /// (bid discount, urgency, ask premium).
    params: (f64, f64, f64),
    /// Accounts that entered an order, take, proposal, acceptance or bid.
    entered: std::collections::BTreeSet<AccountId>,
    /// What the allowance reserve did at the auctions so far.
    reserve: crate::reserve::ReserveTally,
    /// The last day closed with buyers pinned at the listed band's top: a bid there and
    /// no offer at or below it.
    pinned_at_top: bool,
}

/// A buyer's order today, `(ticks, tonnes)`, from what is due and what it wants in all
/// (`(due, buy_left)`: what it owes by the deadline at hand, and its need plus a hedger's
/// buffer), its limit (ticks) and its day's lot. In the last days (`top`: the listed band's
/// top) a buyer that still owes bids the top for what is due (all it owes; on the last day
/// before an intermediate deadline, that deadline's share: `Market::due_today`), as a fine
/// of several times the price awaits it; a hedge is
/// insurance, not an obligation, so the buffer is bid at the hedger's own limit, after
/// what it owes, never at the top (docs/simulation.md, "Agents"). Before the last days it
/// bids its limit for a lot.
fn buy_order((due, buy_left): (u64, u64), limit: i64, top: Option<i64>, lot: u64) -> (i64, u64) {
    match top {
        Some(top) if due > 0 => (top, due),
        Some(_) => (limit, buy_left),
        None => (limit, buy_left.min(lot)),
    }
}

/// What lets a seller offer beyond its own ask today (`Market::release`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Release {
    /// Nothing: it offers at its ask, and not at all while that is above the band.
    None,
    /// The last-days release: buyers sit pinned at the band's top, the best price the
    /// window will pay, so an ask above the band goes at the top.
    Pinned,
    /// The carry-over cap forces the sale in the last days: at the band's bottom.
    Forced,
}

/// A seller's listed ask today (ticks) from its own ask and the band `(bottom, top)` (the
/// price floor applied), or `None` when it withholds its offer. An ask above the band's
/// top is not an ask the firm would make at the top (a banker's floor is the price it
/// expects later, discounted): it waits until the band reaches it, or until its own rule
/// to release says it must sell (`Release`). An ask below the band goes at the bottom,
/// the lowest price the rules allow. Before round 10 an ask above the band was clamped
/// down to the top (docs/simulation.md, "Round 10").
fn sell_ticks(ask: i64, (bottom, top): (i64, i64), release: Release) -> Option<i64> {
    match release {
        Release::Forced => Some(bottom),
        Release::Pinned => Some(ask.clamp(bottom, top)),
        Release::None if ask > top => None,
        Release::None => Some(ask.max(bottom)),
    }
}

/// `quantity` as listed orders: whole orders of `LISTED_MAX` and the rest, at most
/// `MAX_LISTED_POSTS` of them (what is beyond waits for the next action).
fn split_listed(quantity: u64) -> impl Iterator<Item = u64> {
    let orders = usize::try_from(quantity.div_ceil(LISTED_MAX)).unwrap_or(usize::MAX);
    (0..orders.min(MAX_LISTED_POSTS)).map(move |k| {
        let done = LISTED_MAX * k as u64;
        (quantity - done).min(LISTED_MAX)
    })
}

fn yuan_to_ticks(yuan: f64) -> i64 {
    (yuan * 100.0).round().max(1.0) as i64
}

fn price(ticks: i64) -> Result<Price> {
    Price::try_new(ticks.max(1)).map_err(|e| anyhow::anyhow!("price {ticks}: {e}"))
}
/// What the market calls after the last trading day on or before an intermediate
/// deadline (with the deadline's index): the firms' surrender for it.
pub(crate) type OnDeadline<'f, 'a, S> = dyn FnMut(&mut Driver<'a, S>, usize) -> Result<()> + 'f;

/// Runs the window that settles the period (docs/simulation.md, "Timeline"), calling
/// `on_deadline` after the last trading day before each intermediate deadline.
pub(crate) fn run<'a, S: Sink>(
    driver: &mut Driver<'a, S>,
    input: &MarketInput<'_>,
    rng: &mut Rng,
    on_deadline: &mut OnDeadline<'_, 'a, S>,
) -> Result<MarketOutcome> {
    let window = Window::of(input.timeline)?;
    let list_at = window.list_at();
    let listing = open::list_instruments(driver, input, &window, list_at)?;
    let mut agents = open::firm_agents(input, &window, rng);
    open::deposit_cash(driver, &agents, list_at)?;
    let institutions =
        open::open_institutions(driver, input, listing.anchor, list_at, rng, &mut agents)?;
    let floor_ticks = open::open_floor_desk(driver, &input.scenario.design, list_at)?;
    let by_account = agents
        .iter()
        .enumerate()
        .map(|(n, a)| (a.account, n))
        .collect();
    let class_index = driver
        .sink
        .engine()
        .registry()
        .class_index(&input.class)
        .map_err(|e| anyhow::anyhow!("class: {e}"))?;
    let seen = driver.sink.engine().exchange().trades().count();
    let trading = &input.scenario.trading;
    let mut market = Market {
        driver,
        agents,
        by_account,
        seen,
        listed: listing.listed,
        block: listing.block,
        continuous: listing.continuous,
        floor_ticks,
        refused: 0,
        floor_bought: 0,
        spread_sum: 0.0,
        spread_samples: 0,
        class_index,
        params: (trading.bid_discount, trading.urgency, trading.ask_premium),
        entered: std::collections::BTreeSet::new(),
        reserve: crate::reserve::ReserveTally::default(),
        pinned_at_top: false,
    };
    let auction_days = auction_schedule(input, window.days.len().max(1));
    let mut outcome = MarketOutcome {
        institutions,
        ..MarketOutcome::default()
    };
    let bar = market.driver.bar(window.days.len(), "trading days");
    for d in 0..window.days.len() {
        market.trade_day(&window, d, &auction_days, input, &mut outcome, rng)?;
        for (k, deadline) in input.timeline.intermediate_deadlines().iter().enumerate() {
            if deadline.last_trading_day == Some(d) {
                on_deadline(market.driver, k)?;
            }
        }
        bar.inc(1);
    }
    bar.finish();
    market.finish(&mut outcome, input.firms.len());
    outcome.reserve = market.reserve;
    Ok(outcome)
}

/// The primary auctions: evenly over the window from the third trading day, as
/// `(trading day index, tonnes)`; none when less than one lot is to be sold.
fn auction_schedule(input: &MarketInput<'_>, n_days: usize) -> BTreeMap<usize, u64> {
    let n_auctions = if input.auction_volume >= AUCTION_LOT {
        input.scenario.design.auctions.max(1) as usize
    } else {
        0
    };
    let mut auction_days = BTreeMap::new();
    let lots = input.auction_volume / AUCTION_LOT;
    for k in 0..n_auctions {
        let day = (2 + k * n_days / n_auctions).min(n_days - 1);
        let share = lots * (k as u64 + 1) / n_auctions as u64 - lots * k as u64 / n_auctions as u64;
        *auction_days.entry(day).or_insert(0u64) += share * AUCTION_LOT;
    }
    auction_days
}

/// The rules of one primary auction of `volume` tonnes: uniform price, lots of
/// `AUCTION_LOT`, the floor as reserve price, seeded tie-break.
fn auction_rules(volume: u64, reserve: Option<Price>) -> AuctionRules {
    AuctionRules {
        volume_offered: Quantity::new(volume),
        lot_size_tonnes: AUCTION_LOT,
        tick_size_ticks: 1,
        reserve_price: reserve,
        tie_break: TieBreak::SeededOrder,
        cancel_if_undersubscribed: false,
        minimum_clearing_price: None,
        cost_containment: None,
        purchase_limit_bps: None,
        max_bids_per_bidder: 10,
        max_bids: 100_000,
    }
}

impl<S: Sink> Market<'_, '_, S> {
    /// Sends an order-like command; a refusal is counted, not fatal (the firm lost a
    /// race for a price level, say). Then books the new trades to the agents.
    fn act(
        &mut self,
        requester: ParticipantId,
        at: i64,
        command: ExchangeCommand,
    ) -> Result<Option<ExchangeEffect>> {
        if let ExchangeCommand::PlaceOrder { account, .. }
        | ExchangeCommand::TakeListed { account, .. }
        | ExchangeCommand::ProposeBlock { account, .. }
        | ExchangeCommand::AcceptBlock { account, .. }
        | ExchangeCommand::SubmitBid { account, .. } = &command
        {
            self.entered.insert(*account);
        }
        let outcome = self
            .driver
            .send(requester, at, crate::year::exchange(command))?;
        self.book_trades();
        match outcome {
            Outcome::Accepted(Effect::Exchange(effect)) => Ok(Some(effect)),
            _ => {
                self.refused += 1;
                Ok(None)
            }
        }
    }

    fn book_trades(&mut self) {
        let trades = self.driver.sink.engine().exchange().trades();
        for record in trades.starting_at(self.seen + 1) {
            let q = record.quantity.tonnes();
            let value = i128::from(record.price.ticks()) * i128::from(q);
            if let Some(&n) = self.by_account.get(&record.buyer) {
                let a = &mut self.agents[n];
                a.buy_left = a.buy_left.saturating_sub(q);
                a.must_buy = a.must_buy.saturating_sub(q);
                a.early_left = a.early_left.saturating_sub(q);
                a.net_fen += value;
            }
            if let Some(&n) = self.by_account.get(&record.seller) {
                let a = &mut self.agents[n];
                a.sell_left = a.sell_left.saturating_sub(q);
                a.must_sell = a.must_sell.saturating_sub(q);
                a.net_fen -= value;
            }
            if record.buyer == FLOOR_ACCOUNT {
                self.floor_bought += q;
            }
        }
        self.seen = trades.count();
    }

    fn band(&self, book: &Book) -> (i64, i64) {
        book.rules
            .band(book.reference)
            .map_or((1, i64::MAX / 4), |b| (b.lower.ticks(), b.upper.ticks()))
    }

    /// A buyer's limit today, yuan/t.
    fn bid_yuan(&self, n: usize, progress: f64, rng: &mut Rng) -> f64 {
        let t = &self.driver_scenario_trading();
        let a = &self.agents[n];
        a.value * (1.0 - t.0 + t.1 * progress) * (1.0 + 0.01 * rng.normal())
    }

    /// A seller's ask today, yuan/t (never below the floor). A banker asks at least the
    /// discounted price it expects later, unless the carry-over cap forces the sale.
    fn ask_yuan(&self, n: usize, progress: f64, rng: &mut Rng) -> f64 {
        let premium = self.driver_scenario_trading().2;
        let a = &self.agents[n];
        let forced = a.must_sell > 0;
        // A holder sells only at a premium, which fades as the deadline nears.
        let base = if a.holder && !forced {
            1.0 + (HOLD_PREMIUM - 1.0) * (1.0 - progress)
        } else {
            1.0
        };
        let ask = a.value
            * base
            * (1.0 + premium - 1.5 * premium * progress)
            * (1.0 + 0.01 * rng.normal());
        let banked = if forced { 0.0 } else { a.bank_ask };
        ask.max(banked).max(self.floor_ticks as f64 / 100.0)
    }

    fn driver_scenario_trading(&self) -> (f64, f64, f64) {
        self.params
    }

    /// Records the best bid/ask spread of the price-forming book, yuan/t.
    fn sample_spread(&mut self) {
        if let Some(depth) = self
            .driver
            .sink
            .engine()
            .exchange()
            .depth(&self.listed.symbol)
            && let (Some(bid), Some(ask)) = (depth.bids.first(), depth.asks.first())
        {
            self.spread_sum += (ask.price.ticks() - bid.price.ticks()) as f64 / 100.0;
            self.spread_samples += 1;
        }
    }

    /// The authority's standing bid at the floor (price support).
    fn floor_bid(&mut self, at: i64) -> Result<()> {
        let quantity = if self.continuous {
            5_000_000
        } else {
            LISTED_MAX
        };
        let (lower, upper) = self.band(&self.listed);
        if self.floor_ticks < lower || self.floor_ticks > upper {
            return Ok(());
        }
        let value = i128::from(self.floor_ticks) * i128::from(quantity);
        let available = self
            .driver
            .sink
            .engine()
            .exchange()
            .cash(FLOOR_ACCOUNT)
            .available
            .minor_units();
        if i128::from(available) < value {
            self.driver.ok(
                EXCHANGE_OPERATOR,
                at,
                exchange(ExchangeCommand::DepositCash {
                    account: FLOOR_ACCOUNT,
                    amount: Money::new(i64::try_from(value).context("floor cash")?),
                }),
            )?;
        }
        // In the listed book a post reaching the best ask is refused: take that ask.
        let best_ask = self.best(Side::Sell, AccountId(0)).map(|o| o.0);
        if !self.continuous && best_ask.is_some_and(|(p, _)| p <= self.floor_ticks) {
            return Ok(());
        }
        self.act(
            FLOOR_DESK,
            at,
            ExchangeCommand::PlaceOrder {
                instrument: self.listed.symbol,
                account: FLOOR_ACCOUNT,
                side: Side::Buy,
                kind: OrderKind::Limit(price(self.floor_ticks)?),
                quantity: Quantity::new(quantity),
                time_in_force: TimeInForce::Day,
            },
        )?;
        Ok(())
    }

    /// The best visible order on `side` not owned by `me`: ((price, open), order id).
    fn best(&self, side: Side, me: AccountId) -> Option<((i64, u64), ets_market::OrderId)> {
        let engine = self.driver.sink.engine();
        let orders = engine.exchange().visible_orders(&self.listed.symbol, side);
        let mut best: Option<((i64, u64), ets_market::OrderId)> = None;
        for o in orders.iter().filter(|o| o.trader != me) {
            let p = o.price.ticks();
            let better = match (side, best) {
                (_, None) => true,
                (Side::Sell, Some(((bp, _), _))) => p < bp,
                (Side::Buy, Some(((bp, _), _))) => p > bp,
            };
            if better {
                best = Some(((p, o.open.tonnes()), o.order));
            }
        }
        best
    }

    /// Tonnes of the class an account may sell now (held, less units bought today).
    fn sellable(&self, account: AccountId, class: &UnitClass) -> u64 {
        let engine = self.driver.sink.engine();
        let held = crate::year::held(engine, account, class);
        let today = engine
            .exchange()
            .bought_today(account, self.class_index)
            .tonnes();
        held.saturating_sub(today)
    }

    /// One firm's action in the listed (or continuous) book.
    fn firm(
        &mut self,
        n: usize,
        at: i64,
        progress: f64,
        due: Option<u64>,
        rng: &mut Rng,
    ) -> Result<()> {
        let final_days = due.is_some();
        let (lower, upper) = self.band(&self.listed);
        let a = &self.agents[n];
        let size_cap = if self.continuous {
            1_000_000
        } else {
            LISTED_MAX
        };
        let lot = if self.continuous {
            (a.lot * 10.0).max(a.lot)
        } else {
            a.lot
        } as u64;
        // A buyer of 100,000 t or more mostly waits for a block agreement.
        let prefers_block = !self.continuous
            && !final_days
            && a.buy_left >= BLOCK_MIN
            && rng.chance(BLOCK_PREFERENCE);
        if a.buy_left > 0 && !a.resting_buy && !prefers_block {
            let limit = yuan_to_ticks(self.bid_yuan(n, progress, rng));
            let a = &self.agents[n];
            let (ticks, quantity) = buy_order(
                (due.unwrap_or(a.must_buy), a.buy_left),
                limit,
                final_days.then_some(upper),
                lot.max(1).min(size_cap),
            );
            let ticks = ticks.clamp(lower, upper);
            self.top_up(n, at, ticks, quantity)?;
            self.order(n, at, Side::Buy, ticks, quantity)?;
        } else if a.sell_left > 0 && !a.resting_sell {
            let cap = if final_days {
                u64::MAX
            } else {
                lot.max(1).min(size_cap)
            };
            self.sell(n, at, (progress, final_days), (lower, upper), cap, rng)?;
        }
        self.sample_spread();
        Ok(())
    }

    /// A seller's listed action: its ask today as the band and its release allow
    /// (`sell_ticks`; withheld above the band), for what it still means to sell, at most
    /// `cap` (all it must sell when the carry-over cap forces the sale in the last days),
    /// within what it may sell.
    fn sell(
        &mut self,
        n: usize,
        at: i64,
        (progress, final_days): (f64, bool),
        (lower, upper): (i64, i64),
        cap: u64,
        rng: &mut Rng,
    ) -> Result<()> {
        let ask = yuan_to_ticks(self.ask_yuan(n, progress, rng));
        let release = self.release(n, final_days);
        let bounds = (lower.max(self.floor_ticks), upper.max(self.floor_ticks));
        let Some(ticks) = sell_ticks(ask, bounds, release) else {
            return Ok(());
        };
        let class = self.class_of()?;
        let a = &self.agents[n];
        let cap = if release == Release::Forced {
            a.must_sell
        } else {
            cap
        };
        let quantity = a.sell_left.min(cap).min(self.sellable(a.account, &class));
        if quantity > 0 {
            self.order(n, at, Side::Sell, ticks, quantity)?;
        }
        Ok(())
    }

    /// What lets agent `n` offer today beyond its own ask (`Release`): in the last days the
    /// carry-over cap's forced sale; on any day, buyers that sat pinned at the band's top at
    /// the last close (a bid there and nothing offered at or below it: the top is the best
    /// price the market will pay today, and a trade there moves the band towards the ask).
    fn release(&self, n: usize, final_days: bool) -> Release {
        if final_days && self.agents[n].must_sell > 0 {
            Release::Forced
        } else if self.pinned_at_top {
            Release::Pinned
        } else {
            Release::None
        }
    }

    fn class_of(&self) -> Result<UnitClass> {
        self.driver
            .sink
            .engine()
            .registry()
            .class(self.class_index)
            .copied()
            .context("the traded class")
    }

    /// Tops an agent's cash up to what a buy of `quantity` at `ticks` holds.
    fn top_up(&mut self, n: usize, at: i64, ticks: i64, quantity: u64) -> Result<()> {
        let account = self.agents[n].account;
        let value = i128::from(ticks) * i128::from(quantity);
        let available = i128::from(
            self.driver
                .sink
                .engine()
                .exchange()
                .cash(account)
                .available
                .minor_units(),
        );
        if available < value && self.agents[n].entity.is_some() {
            self.driver.ok(
                EXCHANGE_OPERATOR,
                at,
                exchange(ExchangeCommand::DepositCash {
                    account,
                    amount: Money::new(i64::try_from(value - available).context("cash")?),
                }),
            )?;
        }
        Ok(())
    }

    /// Buys or sells `quantity` at `ticks`: in the listed book, takes the best
    /// opposite orders while their price is acceptable, then posts what is left as
    /// several orders when it is more than one listed order may hold (`split_listed`);
    /// in a continuous book, places a day limit order (which trades at once where it
    /// crosses).
    fn order(&mut self, n: usize, at: i64, side: Side, ticks: i64, quantity: u64) -> Result<()> {
        if self.continuous {
            self.post(n, at, side, ticks, quantity)?;
            return Ok(());
        }
        let takes = TAKES_PER_ORDER * split_listed(quantity).count().max(1);
        let left = self.take_listed(n, at, side, ticks, quantity, takes)?;
        for tonnes in split_listed(left) {
            if !self.post(n, at, side, ticks, tonnes)? {
                break;
            }
        }
        Ok(())
    }

    /// Takes acceptable opposite orders of the listed book, best first, at most `takes`
    /// of them, for up to `quantity` tonnes; returns the tonnes left.
    fn take_listed(
        &mut self,
        n: usize,
        at: i64,
        side: Side,
        ticks: i64,
        mut quantity: u64,
        takes: usize,
    ) -> Result<u64> {
        let (account, requester) = (self.agents[n].account, self.agents[n].participant);
        let opposite = match side {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        };
        for _ in 0..takes {
            let Some(((p, open), order)) = self.best(opposite, account) else {
                break;
            };
            let acceptable = match side {
                Side::Buy => p <= ticks,
                Side::Sell => p >= ticks,
            };
            if !acceptable || quantity == 0 {
                break;
            }
            let take = quantity.min(open);
            let taken = self.act(
                requester,
                at,
                ExchangeCommand::TakeListed {
                    instrument: self.listed.symbol,
                    account,
                    maker_order: order,
                    quantity: Quantity::new(take),
                },
            )?;
            if taken.is_none() {
                break;
            }
            quantity -= take;
        }
        Ok(quantity)
    }

    /// Posts one day order of `quantity` at `ticks`; returns whether it was entered (a
    /// refusal is counted by `act`). An order left open marks the agent as resting today.
    fn post(&mut self, n: usize, at: i64, side: Side, ticks: i64, quantity: u64) -> Result<bool> {
        let (account, requester) = (self.agents[n].account, self.agents[n].participant);
        let effect = self.act(
            requester,
            at,
            ExchangeCommand::PlaceOrder {
                instrument: self.listed.symbol,
                account,
                side,
                kind: OrderKind::Limit(price(ticks)?),
                quantity: Quantity::new(quantity),
                time_in_force: TimeInForce::Day,
            },
        )?;
        let Some(ExchangeEffect::OrderEntered { open, .. }) = effect else {
            return Ok(false);
        };
        if open.tonnes() > 0 {
            match side {
                Side::Buy => self.agents[n].resting_buy = true,
                Side::Sell => self.agents[n].resting_sell = true,
            }
        }
        Ok(true)
    }

    /// Block agreements: each active buyer of 100,000 t or more negotiates with the
    /// started seller whose ask is lowest and within its limit; they meet halfway.
    fn blocks(
        &mut self,
        today: day::Day,
        firms: &[usize],
        mut t: i64,
        rng: &mut Rng,
    ) -> Result<i64> {
        let (day, progress) = (today.index, today.progress);
        let Some(book) = &self.block else {
            return Ok(t);
        };
        let (symbol, (lower, upper)) = (book.symbol, self.band(book));
        let day_end = t.div_euclid(DAY_MS) * DAY_MS + AFTERNOON_MS + SESSION_MS;
        let class = self.class_of()?;
        // (agent, ask ticks, tonnes it can deliver: what it means to sell and holds).
        let mut asks: Vec<(usize, i64, u64)> = Vec::new();
        for (n, a) in self.agents.iter().enumerate() {
            // A firm with a listed sell order resting today does not also sell a block
            // (the two together could exceed what it means to sell).
            if a.entity.is_some() && a.sell_left >= BLOCK_MIN && a.start <= day && !a.resting_sell {
                asks.push((n, 0, 0));
            }
        }
        for slot in &mut asks {
            slot.1 = yuan_to_ticks(self.ask_yuan(slot.0, progress, rng));
            slot.2 = self.deliverable(slot.0, &class);
        }
        for &n in firms {
            if self.agents[n].buy_left < BLOCK_MIN || self.agents[n].resting_buy {
                continue;
            }
            let mut bid = yuan_to_ticks(self.bid_yuan(n, progress, rng));
            if self.urgent(n, today) && self.agents[n].must_buy > 0 {
                bid = upper;
            }
            // Only a seller that can deliver a block is asked: one whose surplus sits in
            // a vintage this window does not list (or is sold) would refuse every buyer.
            let Some(k) = asks
                .iter()
                .enumerate()
                .filter(|(_, (_, ask, can))| *ask <= bid && *can >= BLOCK_MIN)
                .min_by_key(|(_, (s, ask, _))| (*ask, *s))
                .map(|(k, _)| k)
            else {
                continue;
            };
            let (seller, ask, can) = asks[k];
            let ticks = ((ask + bid) / 2).clamp(lower, upper).max(self.floor_ticks);
            let quantity = self.agents[n].buy_left.min(can);
            if quantity < BLOCK_MIN {
                continue;
            }
            t += 60_000;
            if t >= day_end - 120_000 {
                break;
            }
            let agreement = BlockAgreement {
                symbol,
                seller,
                buyer: n,
                ticks,
                quantity,
                expires_at: day_end,
            };
            self.agree_block(&agreement, t)?;
            asks[k].2 = self.deliverable(seller, &class);
        }
        Ok(t + 60_000)
    }

    /// Tonnes agent `n` can deliver now: what it still means to sell, within what it may
    /// sell of the traded class.
    fn deliverable(&self, n: usize, class: &UnitClass) -> u64 {
        let a = &self.agents[n];
        a.sell_left.min(self.sellable(a.account, class))
    }

    /// The seller proposes the agreement at `t` and the buyer accepts it at once.
    fn agree_block(&mut self, agreement: &BlockAgreement, t: i64) -> Result<()> {
        let (seller, buyer) = (
            &self.agents[agreement.seller],
            &self.agents[agreement.buyer],
        );
        let (s_account, s_id) = (seller.account, seller.participant);
        let (b_account, b_id) = (buyer.account, buyer.participant);
        self.top_up(agreement.buyer, t, agreement.ticks, agreement.quantity)?;
        let proposed = self.act(
            s_id,
            t,
            ExchangeCommand::ProposeBlock {
                instrument: agreement.symbol,
                account: s_account,
                counterparty: b_account,
                side: Side::Sell,
                price: price(agreement.ticks)?,
                quantity: Quantity::new(agreement.quantity),
                expires_at: Timestamp(agreement.expires_at),
            },
        )?;
        if let Some(ExchangeEffect::OrderEntered { order, .. }) = proposed {
            self.act(
                b_id,
                t + 1,
                ExchangeCommand::AcceptBlock {
                    instrument: agreement.symbol,
                    account: b_account,
                    proposal: order,
                },
            )?;
        }
        Ok(())
    }

    /// An institution quotes both sides around a centre between the close and its view;
    /// it sells only what it bought on earlier days and buys within its cash.
    fn institution(&mut self, n: usize, at: i64, progress: f64, rng: &mut Rng) -> Result<()> {
        let close = self.listed.reference.ticks() as f64 / 100.0;
        let a = &self.agents[n];
        // Early in the window it leans to its view (speculates), late to the close.
        let lean = 0.5 * (1.0 - progress);
        let centre = close + lean * (a.value - close);
        let half_spread = 0.01 + 0.005 * rng.unit();
        let lot = a.lot as u64;
        let (lower, upper) = self.band(&self.listed);
        let bid = yuan_to_ticks(centre * (1.0 - half_spread)).clamp(lower, upper);
        let ask = yuan_to_ticks(centre * (1.0 + half_spread))
            .clamp(lower.max(self.floor_ticks), upper.max(self.floor_ticks));
        let cash = self
            .driver
            .sink
            .engine()
            .exchange()
            .cash(a.account)
            .available
            .minor_units();
        let affordable = u64::try_from(cash / bid.max(1)).unwrap_or(0);
        let buy = lot.min(affordable).min(LISTED_MAX);
        if buy > 0 {
            self.order(n, at, Side::Buy, bid, buy)?;
        }
        let class = self.class_of()?;
        let sell = lot
            .min(self.sellable(self.agents[n].account, &class))
            .min(LISTED_MAX);
        if sell > 0 {
            self.order(n, at + 1, Side::Sell, ask, sell)?;
        }
        Ok(())
    }

    /// A primary auction: buyers bid for a share of what they still need, institutions
    /// for what their cash allows, at a discount to their limits; uniform price.
    fn auction(
        &mut self,
        base: i64,
        volume: u64,
        input: &MarketInput<'_>,
        progress: f64,
        remaining_auctions: usize,
        rng: &mut Rng,
    ) -> Result<Option<f64>> {
        let design = &input.scenario.design;
        let open_at = base + HOUR_MS / 2;
        let plan = self.reserve_before_auction(base, volume, input)?;
        let offered = volume - plan.withhold;
        if offered < AUCTION_LOT {
            return Ok(None);
        }
        let auction = self.open_auction(base, offered, plan.release_offer, input)?;
        let volume = offered + plan.release_offer;
        let mut t = open_at;
        for n in 0..self.agents.len() {
            let Some((ticks, quantity)) =
                self.auction_bid(n, design, progress, remaining_auctions, rng)
            else {
                continue;
            };
            let ticks = ticks.max(self.floor_ticks).max(1);
            let quantity = (quantity.min(volume) / AUCTION_LOT) * AUCTION_LOT;
            if quantity == 0 {
                continue;
            }
            t += 100;
            self.top_up(n, t, ticks, quantity)?;
            let account = self.agents[n].account;
            self.act(
                self.agents[n].participant,
                t,
                ExchangeCommand::SubmitBid {
                    auction,
                    account,
                    price: price(ticks)?,
                    quantity: Quantity::new(quantity),
                },
            )?;
        }
        let effect = self.driver.ok(
            ADMIN,
            base + HOUR_MS + HOUR_MS / 4,
            exchange(ExchangeCommand::CloseAuction { auction }),
        )?;
        self.book_trades();
        let Effect::Exchange(ExchangeEffect::AuctionClosed {
            clearing_price,
            sold,
            ..
        }) = effect
        else {
            anyhow::bail!("close_auction gave {effect:?}");
        };
        self.reserve_after_auction(base, offered, sold.tonnes(), plan, input)?;
        Ok(clearing_price.map(|p| p.ticks() as f64 / 100.0))
    }

    /// Opens the primary auction of the day `base` half an hour in: `offered` tonnes at the
    /// floor as reserve price, and the reserve's `release_offer` tonnes above its release
    /// trigger (`[design.reserve] release_above_yuan`).
    fn open_auction(
        &mut self,
        base: i64,
        offered: u64,
        release_offer: u64,
        input: &MarketInput<'_>,
    ) -> Result<AuctionId> {
        let reserve = (self.floor_ticks > 0)
            .then(|| price(self.floor_ticks))
            .transpose()?;
        let mut rules = auction_rules(offered, reserve);
        if release_offer > 0 {
            let trigger = input.scenario.design.reserve.release_above_yuan;
            rules.cost_containment = Some(CostContainmentReserve {
                trigger_price: price(yuan_to_ticks(trigger))?,
                volume: Quantity::new(release_offer),
            });
        }
        let effect = self.driver.ok(
            ADMIN,
            base + HOUR_MS / 2,
            exchange(ExchangeCommand::OpenAuction {
                class: input.class,
                rules,
                seed: input.scenario.scenario.seed ^ (base as u64),
            }),
        )?;
        let Effect::Exchange(ExchangeEffect::AuctionOpened { auction }) = effect else {
            anyhow::bail!("open_auction gave {effect:?}");
        };
        Ok(auction)
    }

    /// The reserve's decision before an auction of `volume` tonnes (withhold part of
    /// it, or offer reserve units above the release trigger), journaled as transfers
    /// between the auction account and the reserve's account.
    fn reserve_before_auction(
        &mut self,
        base: i64,
        volume: u64,
        input: &MarketInput<'_>,
    ) -> Result<ReservePlan> {
        let design = &input.scenario.design.reserve;
        if !design.active() {
            return Ok(ReservePlan::default());
        }
        let held = crate::year::held(self.driver.sink.engine(), RESERVE_ACCOUNT, &input.class);
        let last_close = self.listed.reference.ticks() as f64 / 100.0;
        let plan = design.plan(volume, last_close, held, AUCTION_LOT);
        let at = base + HOUR_MS / 4;
        if plan.withhold > 0 {
            self.reserve_transfer(
                ADMIN,
                AUCTION_ACCOUNT,
                RESERVE_ACCOUNT,
                plan.withhold,
                at,
                input,
            )?;
            self.reserve.withheld += plan.withhold;
        }
        if plan.release_offer > 0 {
            self.reserve_transfer(
                RESERVE_HOLDER,
                RESERVE_ACCOUNT,
                AUCTION_ACCOUNT,
                plan.release_offer,
                at,
                input,
            )?;
        }
        Ok(plan)
    }

    /// After the auction: what it sold beyond `offered` came from the reserve; the
    /// reserve units it did not sell go back to the reserve.
    fn reserve_after_auction(
        &mut self,
        base: i64,
        offered: u64,
        sold: u64,
        plan: ReservePlan,
        input: &MarketInput<'_>,
    ) -> Result<()> {
        if plan.release_offer == 0 {
            return Ok(());
        }
        let released = sold.saturating_sub(offered).min(plan.release_offer);
        self.reserve.released += released;
        let back = plan.release_offer - released;
        if back > 0 {
            let at = base + HOUR_MS + HOUR_MS / 2;
            self.reserve_transfer(ADMIN, AUCTION_ACCOUNT, RESERVE_ACCOUNT, back, at, input)?;
        }
        Ok(())
    }

    fn reserve_transfer(
        &mut self,
        requester: ParticipantId,
        from: AccountId,
        to: AccountId,
        tonnes: u64,
        at: i64,
        input: &MarketInput<'_>,
    ) -> Result<()> {
        self.driver.ok(
            requester,
            at,
            crate::year::registry(ets_registry::RegistryCommand::Transfer {
                from,
                to,
                class: input.class,
                quantity: Quantity::new(tonnes),
            }),
        )?;
        Ok(())
    }

    /// What agent `n` bids at an auction, `(ticks, tonnes)` before the floor and the
    /// lot size: a firm a share of what it still needs at a discount to its limit,
    /// an institution (open participation) a quarter of its cash at its view less 5%.
    fn auction_bid(
        &self,
        n: usize,
        design: &crate::scenario::Design,
        progress: f64,
        remaining_auctions: usize,
        rng: &mut Rng,
    ) -> Option<(i64, u64)> {
        let a = &self.agents[n];
        if a.entity.is_some() {
            if a.buy_left == 0 {
                return None;
            }
            let share = a.buy_left.div_ceil(remaining_auctions.max(1) as u64);
            return Some((yuan_to_ticks(self.bid_yuan(n, progress, rng) * 0.98), share));
        }
        if design.participation != Participation::Open {
            return None;
        }
        let ticks = yuan_to_ticks(a.value * 0.95);
        let cash = self
            .driver
            .sink
            .engine()
            .exchange()
            .cash(a.account)
            .available
            .minor_units();
        Some((ticks, u64::try_from(cash / 4 / ticks.max(1)).unwrap_or(0)))
    }

    /// Ends the day on every instrument; returns the listed close and VWAP (yuan/t).
    fn end_of_day(&mut self, at: i64) -> Result<(f64, Option<f64>)> {
        let mut close = self.listed.reference.ticks() as f64 / 100.0;
        let mut vwap = None;
        let symbols: Vec<Code> = std::iter::once(self.listed.symbol)
            .chain(self.block.as_ref().map(|b| b.symbol))
            .collect();
        for (k, symbol) in symbols.into_iter().enumerate() {
            let effect = self.driver.ok(
                EXCHANGE_OPERATOR,
                at,
                exchange(ExchangeCommand::EndOfDay { instrument: symbol }),
            )?;
            if let Effect::Exchange(ExchangeEffect::DayClosed { stats, .. }) = effect
                && k == 0
            {
                self.listed.reference = stats.close;
                // The block desk follows the listed close (`TradingMode::ChinaBlockOf`):
                // this end of day moved its band too.
                if let Some(block) = &mut self.block {
                    block.reference = stats.close;
                }
                close = stats.close.ticks() as f64 / 100.0;
                vwap = stats.vwap.map(|v| v.ticks() as f64 / 100.0);
            }
        }
        for a in &mut self.agents {
            a.resting_buy = false;
            a.resting_sell = false;
        }
        Ok((close, vwap))
    }
}

#[cfg(test)]
mod tests {
    use super::{LISTED_MAX, MAX_LISTED_POSTS, Release, buy_order, sell_ticks, split_listed};

    /// A quantity beyond one listed order's limit goes out as several orders, each below
    /// 100,000 t, together the whole quantity (up to the bound on one action's orders).
    #[test]
    fn a_quantity_beyond_the_listed_limit_is_posted_as_several_orders() {
        assert_eq!(split_listed(0).count(), 0);
        assert_eq!(split_listed(5_000).collect::<Vec<_>>(), vec![5_000]);
        assert_eq!(split_listed(99_999).collect::<Vec<_>>(), vec![99_999]);
        assert_eq!(
            split_listed(250_000).collect::<Vec<_>>(),
            vec![99_999, 99_999, 50_002]
        );
        let huge: Vec<u64> = split_listed(20_000_000).collect();
        assert_eq!(huge.len(), MAX_LISTED_POSTS);
        assert!(huge.iter().all(|&q| q == LISTED_MAX));
    }

    #[test]
    fn in_the_last_days_a_buyer_bids_the_top_for_what_it_owes_and_its_limit_for_a_hedge() {
        let (limit, top, lot) = (5_000, 5_500, 20_000);
        // Owing 30,000 t of the 50,000 t it wants (20,000 t of buffer): the top, for 30,000.
        assert_eq!(
            buy_order((30_000, 50_000), limit, Some(top), lot),
            (top, 30_000)
        );
        // Its need bought, the buffer is left: at its own limit, all of it.
        assert_eq!(
            buy_order((0, 20_000), limit, Some(top), lot),
            (limit, 20_000)
        );
        // Before the last days: its limit, one lot.
        assert_eq!(buy_order((30_000, 50_000), limit, None, lot), (limit, lot));
        assert_eq!(buy_order((0, 5_000), limit, None, lot), (limit, 5_000));
    }

    /// A seller whose ask is above the band's top does not offer at all (before round 10
    /// it was clamped down to the top); inside the band it asks its own price, below it
    /// the bottom.
    #[test]
    fn an_ask_above_the_band_is_withheld_not_clamped_to_the_top() {
        let band = (4_000, 5_000);
        assert_eq!(sell_ticks(5_800, band, Release::None), None);
        assert_eq!(sell_ticks(5_001, band, Release::None), None);
        assert_eq!(sell_ticks(5_000, band, Release::None), Some(5_000));
        assert_eq!(sell_ticks(4_500, band, Release::None), Some(4_500));
        assert_eq!(sell_ticks(3_000, band, Release::None), Some(4_000));
    }

    /// The same ask, withheld while the band is below it, is offered at its own price once
    /// the band's top reaches it (a close moved the band up).
    #[test]
    fn a_withheld_ask_is_offered_when_the_band_reaches_it() {
        let ask = 5_800;
        assert_eq!(sell_ticks(ask, (4_000, 5_000), Release::None), None);
        assert_eq!(sell_ticks(ask, (4_500, 5_500), Release::None), None);
        assert_eq!(sell_ticks(ask, (5_000, 6_050), Release::None), Some(ask));
    }

    /// Its own rules to release make it offer whatever its ask: buyers pinned at the top in
    /// the last days take it at the top (an ask inside the band stays its own); the
    /// carry-over cap's forced sale goes at the bottom.
    #[test]
    fn a_release_offers_an_ask_above_the_band_at_the_top_and_a_forced_sale_at_the_bottom() {
        let band = (4_000, 5_000);
        assert_eq!(sell_ticks(5_800, band, Release::Pinned), Some(5_000));
        assert_eq!(sell_ticks(4_500, band, Release::Pinned), Some(4_500));
        assert_eq!(sell_ticks(5_800, band, Release::Forced), Some(4_000));
        assert_eq!(sell_ticks(4_500, band, Release::Forced), Some(4_000));
    }
}
