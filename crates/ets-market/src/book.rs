//! The continuous limit order book: price-time priority, limit and market
//! orders, day / immediate-or-cancel / fill-or-kill, cancel, amend, and
//! self-trade prevention. China's listed-agreement book ([`crate::ListedBook`])
//! reuses its storage with matching switched off.
//!
//! Storage (built for speed; see `docs/bench-market.md`): each side is a
//! [`ladder::Ladder`], its price levels in a vector sorted worst to best, so
//! the best level is the last; a level's orders form an intrusive FIFO list
//! in one [`arena::Arena`] of slots reused through a free list; a hash map
//! finds an order's slot by id. Nothing allocates per operation once the
//! vectors and maps have grown, and cancelling from the middle of a level is
//! constant time. The hash maps are only looked up, never iterated into a
//! result, so the book stays deterministic; its serialised form
//! ([`snapshot`]) is the ordered shape of the earlier `BTreeMap` storage.
//!
//! **Self-trade prevention: cancel the resting order.** When an incoming
//! order reaches a resting order of the same account, the resting order is
//! cancelled (reason [`UpdateReason::SelfTradePrevented`]) and matching goes
//! on with the next order. The incoming order is never refused for it, so a
//! refusal stays a pure validation result that changes nothing.

use crate::data::{Depth, DepthLevel};
use crate::error::MarketError;
use crate::listed::TakeRequest;
use crate::order::{
    Amendment, Fill, OrderId, OrderKind, OrderRequest, OrderStatus, OrderUpdate, OrderView, Report,
    Side, TimeInForce, UpdateReason,
};
use crate::rules::{InstrumentRules, PriceBand};
use arena::{Arena, Node};
use ets_model::{AccountId, Price, Quantity, Timestamp};
use ladder::{Ladder, Level, NIL};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

mod arena;
mod ladder;
mod snapshot;

/// One resting order. Its serialised form is part of the snapshot format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Resting {
    id: OrderId,
    trader: AccountId,
    /// Time priority: smaller is earlier. Renewed when an amendment loses
    /// the order its place. The level's list holds the order; the number is
    /// kept for the snapshot and checked by the invariants.
    priority: u64,
    ordered_tonnes: u64,
    filled_tonnes: u64,
    open_tonnes: u64,
    cancelled_tonnes: u64,
    entered_at: Timestamp,
}

impl Resting {
    fn update(&self, side: Side, price: Price, reason: UpdateReason, at: Timestamp) -> OrderUpdate {
        let status = match (self.open_tonnes, reason) {
            (0, UpdateReason::Traded) => OrderStatus::Filled,
            (0, _) => OrderStatus::Cancelled,
            _ => OrderStatus::Open,
        };
        OrderUpdate {
            order: self.id,
            trader: self.trader,
            side,
            price: Some(price),
            status,
            reason,
            ordered: Quantity::new(self.ordered_tonnes),
            filled: Quantity::new(self.filled_tonnes),
            open: Quantity::new(self.open_tonnes),
            cancelled: Quantity::new(self.cancelled_tonnes),
            at,
        }
    }

    fn view(&self, side: Side, price: Price) -> OrderView {
        OrderView {
            order: self.id,
            trader: self.trader,
            side,
            price,
            ordered: Quantity::new(self.ordered_tonnes),
            filled: Quantity::new(self.filled_tonnes),
            open: Quantity::new(self.open_tonnes),
            cancelled: Quantity::new(self.cancelled_tonnes),
            entered_at: self.entered_at,
        }
    }

    /// Cancels what is still open.
    fn cancel_open(&mut self) {
        self.cancelled_tonnes += self.open_tonnes;
        self.open_tonnes = 0;
    }
}

/// Whether an order that would cross the opposite side trades or is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CrossPolicy {
    /// Continuous matching.
    Match,
    /// Listed agreement: makers only post; crossing is refused.
    Refuse,
}

/// An order while it is being matched.
#[derive(Debug, Clone, Copy)]
struct Incoming {
    id: OrderId,
    trader: AccountId,
    side: Side,
    /// The order's own limit price, `None` for a market order.
    price: Option<Price>,
    /// The worst price it may trade at: its limit, or the band edge for a
    /// market order, or `None` (any price) without a band.
    limit: Option<Price>,
    ordered_tonnes: u64,
    filled_tonnes: u64,
    open_tonnes: u64,
    cancelled_tonnes: u64,
    entered_at: Timestamp,
    /// A day limit order rests; anything else cancels its remainder.
    may_rest: bool,
    reason_if_rests: UpdateReason,
}

impl Incoming {
    fn update(&self, status: OrderStatus, reason: UpdateReason, at: Timestamp) -> OrderUpdate {
        OrderUpdate {
            order: self.id,
            trader: self.trader,
            side: self.side,
            price: self.price,
            status,
            reason,
            ordered: Quantity::new(self.ordered_tonnes),
            filled: Quantity::new(self.filled_tonnes),
            open: Quantity::new(self.open_tonnes),
            cancelled: Quantity::new(self.cancelled_tonnes),
            at,
        }
    }
}

/// A continuous limit order book for one instrument, with price-time
/// priority. It holds no units or cash: the engine holds them before it
/// calls and settles the [`Fill`]s it gets back.
///
/// Two books are equal when they hold the same orders at the same places
/// with the same counters (their serialised forms are equal), whichever
/// internal slots the orders occupy.
#[derive(Debug, Clone)]
pub struct Book {
    rules: InstrumentRules,
    reference_price: Price,
    /// `rules.band(reference_price)`, kept so that checking a price needs no
    /// division.
    band: Option<PriceBand>,
    bids: Ladder,
    asks: Ladder,
    arena: Arena,
    /// The slot of every resting order.
    index: FxHashMap<OrderId, u32>,
    /// Resting orders per account, only accounts with at least one.
    open_orders: FxHashMap<AccountId, u32>,
    next_order_id: u64,
    next_priority: u64,
    last_time: Timestamp,
}

impl Book {
    /// An empty book with `rules`, whose price band is centred on
    /// `reference_price` (the previous close).
    ///
    /// # Errors
    /// [`MarketError::InvalidRules`] when the rules are inconsistent;
    /// [`MarketError::NonPositivePrice`] when the rules have a band and the
    /// reference price is zero.
    pub fn new(rules: InstrumentRules, reference_price: Price) -> Result<Book, MarketError> {
        rules.validate()?;
        check_reference(&rules, reference_price)?;
        Ok(Book {
            rules,
            reference_price,
            band: rules.band(reference_price),
            bids: Ladder::new(Side::Buy),
            asks: Ladder::new(Side::Sell),
            arena: Arena::default(),
            index: FxHashMap::default(),
            open_orders: FxHashMap::default(),
            next_order_id: 1,
            next_priority: 1,
            last_time: Timestamp(i64::MIN),
        })
    }

    /// The instrument's rules.
    #[must_use]
    pub fn rules(&self) -> &InstrumentRules {
        &self.rules
    }

    /// The price the band is centred on.
    #[must_use]
    pub fn reference_price(&self) -> Price {
        self.reference_price
    }

    /// Moves the band to a new reference price (at the start of a session:
    /// the previous close). Resting orders keep their prices.
    ///
    /// # Errors
    /// [`MarketError::NonPositivePrice`] when the rules have a band and
    /// `price` is zero.
    pub fn set_reference_price(&mut self, price: Price) -> Result<(), MarketError> {
        check_reference(&self.rules, price)?;
        self.reference_price = price;
        self.band = self.rules.band(price);
        Ok(())
    }

    /// The prices allowed now, `None` without a band. A market buy trades at
    /// most at `upper`, so that is the price to hold cash for.
    #[must_use]
    pub fn band(&self) -> Option<PriceBand> {
        self.band
    }

    /// The highest resting buy price.
    #[must_use]
    pub fn best_bid(&self) -> Option<Price> {
        self.bids.best().map(|level| level.price)
    }

    /// The lowest resting sell price.
    #[must_use]
    pub fn best_ask(&self) -> Option<Price> {
        self.asks.best().map(|level| level.price)
    }

    /// The time of the last accepted call.
    #[must_use]
    pub fn last_time(&self) -> Timestamp {
        self.last_time
    }

    /// A resting order, `None` when it is not open.
    #[must_use]
    pub fn order(&self, order: OrderId) -> Option<OrderView> {
        let node = self.arena.get(*self.index.get(&order)?);
        Some(node.order.view(node.side, node.price))
    }

    /// The open quantity of a resting order, `None` when it is not open:
    /// [`Book::order`]'s `open` without building the view (settlement asks
    /// it of every order a command touches).
    #[must_use]
    pub fn open_quantity(&self, order: OrderId) -> Option<Quantity> {
        let node = self.arena.get(*self.index.get(&order)?);
        Some(Quantity::new(node.order.open_tonnes))
    }

    /// How many orders rest in the book.
    #[must_use]
    pub fn open_order_count(&self) -> usize {
        self.index.len()
    }

    /// How many orders `trader` has resting.
    #[must_use]
    pub fn open_orders_of(&self, trader: AccountId) -> u32 {
        self.open_orders.get(&trader).copied().unwrap_or(0)
    }

    /// The best `levels` price levels of each side, best first.
    #[must_use]
    pub fn depth(&self, levels: usize) -> Depth {
        Depth {
            bids: self.depth_side(Side::Buy, levels),
            asks: self.depth_side(Side::Sell, levels),
        }
    }

    /// Every resting order of `side` in its best `levels` price levels, in
    /// priority order (best price first, then time).
    #[must_use]
    pub fn orders_in_best_levels(&self, side: Side, levels: usize) -> Vec<OrderView> {
        self.ladder(side)
            .best_first()
            .take(levels)
            .flat_map(|level| {
                self.arena.slots(level).map(move |slot| {
                    let node = self.arena.get(slot);
                    node.order.view(side, node.price)
                })
            })
            .collect()
    }

    /// Enters a new order: matches it against the opposite side at the
    /// makers' prices, then rests a day limit order's remainder or cancels
    /// the remainder of an immediate one. Fills and updates go to `report`.
    ///
    /// # Errors
    /// [`MarketError::TimeWentBackwards`], quantity and price refusals (see
    /// [`InstrumentRules::check_quantity`] and
    /// [`InstrumentRules::check_price`]),
    /// [`MarketError::MarketOrderMustBeImmediate`], and for day limit orders
    /// [`MarketError::TooManyOpenOrders`], [`MarketError::BookFull`] or
    /// [`MarketError::TooManyPriceLevels`]. A fill-or-kill order that cannot
    /// fill is not an error: it is accepted and cancelled, nothing trades.
    pub fn submit(
        &mut self,
        request: &OrderRequest,
        now: Timestamp,
        report: &mut Report,
    ) -> Result<OrderId, MarketError> {
        self.submit_with(request, CrossPolicy::Match, now, report)
    }

    /// Cancels a resting order of `trader`.
    ///
    /// # Errors
    /// [`MarketError::TimeWentBackwards`], [`MarketError::UnknownOrder`] or
    /// [`MarketError::NotOwner`].
    pub fn cancel(
        &mut self,
        trader: AccountId,
        order: OrderId,
        now: Timestamp,
        report: &mut Report,
    ) -> Result<(), MarketError> {
        report.clear();
        self.check_time(now)?;
        let (slot, node) = self.locate(order)?;
        check_owner(order, node.order.trader, trader)?;
        self.last_time = now;
        let mut resting = node.order;
        self.take_out(slot);
        resting.cancel_open();
        report.updates.push(resting.update(
            node.side,
            node.price,
            UpdateReason::CancelledByOwner,
            now,
        ));
        Ok(())
    }

    /// Changes a resting order's price and open quantity. Lowering the
    /// quantity at the same price keeps its place; anything else sends it to
    /// the back of its (new) level, and a new price that crosses trades at
    /// once like a new day order. An amendment that changes nothing is
    /// accepted and reports nothing. The maximum order size applies to the
    /// new open quantity; the minimum does not (a remainder may be small).
    ///
    /// # Errors
    /// [`MarketError::TimeWentBackwards`], [`MarketError::UnknownOrder`],
    /// [`MarketError::NotOwner`], price refusals, [`MarketError::ZeroQuantity`]
    /// (cancel instead), [`MarketError::OffLot`],
    /// [`MarketError::AboveMaximumQuantity`] or
    /// [`MarketError::TooManyPriceLevels`].
    pub fn amend(
        &mut self,
        trader: AccountId,
        order: OrderId,
        amendment: &Amendment,
        now: Timestamp,
        report: &mut Report,
    ) -> Result<(), MarketError> {
        self.amend_with(trader, order, amendment, CrossPolicy::Match, now, report)
    }

    /// Cancels every resting order at the end of the session (all orders are
    /// day orders), reporting them in id order.
    ///
    /// # Errors
    /// [`MarketError::TimeWentBackwards`].
    pub fn expire_day_orders(
        &mut self,
        now: Timestamp,
        report: &mut Report,
    ) -> Result<(), MarketError> {
        report.clear();
        self.check_time(now)?;
        self.last_time = now;
        let mut slots: Vec<(OrderId, u32)> = self.index.iter().map(|(id, s)| (*id, *s)).collect();
        slots.sort_unstable();
        for (_, slot) in slots {
            let node = self.arena.get(slot);
            let mut resting = node.order;
            resting.cancel_open();
            report
                .updates
                .push(resting.update(node.side, node.price, UpdateReason::Expired, now));
        }
        self.bids.clear();
        self.asks.clear();
        self.arena.clear();
        self.index.clear();
        self.open_orders.clear();
        Ok(())
    }

    /// Checks the book's invariants: not crossed; levels strictly ordered,
    /// none empty; every level's list well linked, its count and total equal
    /// to its orders'; every order has `filled + open + cancelled ==
    /// ordered`, open > 0, a price on tick, strictly increasing priorities in
    /// its level and an index entry pointing at it; no other slot in use;
    /// per-account counts match; limits hold; the kept band is the rules'.
    /// For tests and audits.
    ///
    /// # Errors
    /// A description of the first broken invariant.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut counted: BTreeMap<AccountId, u32> = BTreeMap::new();
        let mut orders = 0_usize;
        for side in [Side::Buy, Side::Sell] {
            let ladder = self.ladder(side);
            if ladder.len() > limit_usize(self.rules.limits.max_price_levels_per_side) {
                return Err(format!("{side} side has {} levels", ladder.len()));
            }
            let mut previous: Option<Price> = None;
            for level in ladder.worst_first() {
                if let Some(previous) = previous
                    && !ladder.better(level.price, previous)
                {
                    return Err(format!("{side} levels out of price order"));
                }
                previous = Some(level.price);
                orders += self.check_level(side, level, &mut counted)?;
            }
        }
        if orders != self.index.len() || orders != self.arena.live() {
            return Err(format!(
                "{orders} orders but {} indexed and {} slots in use",
                self.index.len(),
                self.arena.live()
            ));
        }
        if orders > limit_usize(self.rules.limits.max_orders) {
            return Err(format!("{orders} orders exceed the book limit"));
        }
        let recorded: BTreeMap<AccountId, u32> =
            self.open_orders.iter().map(|(a, n)| (*a, *n)).collect();
        if counted != recorded {
            return Err(format!(
                "per-account counts {recorded:?} differ from {counted:?}"
            ));
        }
        if self.band != self.rules.band(self.reference_price) {
            return Err("the kept price band is not the rules' band".to_owned());
        }
        if let (Some(bid), Some(ask)) = (self.best_bid(), self.best_ask())
            && bid >= ask
        {
            return Err(format!(
                "book crossed: bid {} >= ask {}",
                bid.ticks(),
                ask.ticks()
            ));
        }
        Ok(())
    }

    /// Checks one level and its list; returns how many orders it holds.
    fn check_level(
        &self,
        side: Side,
        level: &Level,
        counted: &mut BTreeMap<AccountId, u32>,
    ) -> Result<usize, String> {
        let at = level.price.ticks();
        if level.count == 0 || level.head == NIL {
            return Err(format!("empty {side} level at {at}"));
        }
        if at % self.rules.tick_size_ticks != 0 {
            return Err(format!("{side} level at {at} is off tick"));
        }
        let mut sum: u128 = 0;
        let mut previous_priority = 0_u64;
        let mut previous_slot = NIL;
        let mut walked = 0_usize;
        for slot in self.arena.slots(level) {
            let node = self.arena.get(slot);
            let order = &node.order;
            let id = order.id;
            if node.prev != previous_slot || node.side != side || node.price != level.price {
                return Err(format!("order {id} is not linked at its place"));
            }
            let accounted = u128::from(order.filled_tonnes)
                + u128::from(order.open_tonnes)
                + u128::from(order.cancelled_tonnes);
            if order.open_tonnes == 0 || accounted != u128::from(order.ordered_tonnes) {
                return Err(format!("order {id} does not add up: {order:?}"));
            }
            if order.priority <= previous_priority {
                return Err(format!("order {id} is out of time priority"));
            }
            previous_priority = order.priority;
            if self.index.get(&id) != Some(&slot) {
                return Err(format!("order {id} is not indexed at its place"));
            }
            sum += u128::from(order.open_tonnes);
            let count = counted.entry(order.trader).or_insert(0);
            *count += 1;
            if *count > self.rules.limits.max_open_orders_per_account {
                return Err(format!("account {} exceeds its limit", order.trader));
            }
            previous_slot = slot;
            walked += 1;
        }
        let last_next = self.arena.get(previous_slot).next;
        if walked != level.count as usize || level.tail != previous_slot || last_next != NIL {
            return Err(format!(
                "{side} level at {at} counts {} orders, its list {walked}",
                level.count
            ));
        }
        if sum != u128::from(level.open_tonnes) {
            return Err(format!(
                "{side} level at {at} totals {sum}, records {}",
                level.open_tonnes
            ));
        }
        Ok(walked)
    }

    /// [`Book::submit`] with a choice of what to do with a crossing price.
    pub(crate) fn submit_with(
        &mut self,
        request: &OrderRequest,
        policy: CrossPolicy,
        now: Timestamp,
        report: &mut Report,
    ) -> Result<OrderId, MarketError> {
        report.clear();
        self.check_time(now)?;
        self.check_id_space()?;
        let tonnes = self.rules.check_quantity(request.quantity)?;
        let (price, limit) = self.check_kind(request)?;
        let may_rest = price.is_some() && request.time_in_force == TimeInForce::Day;
        if let (true, Some(price)) = (may_rest, price) {
            self.check_capacity(request.trader, request.side, price)?;
        }
        if let (CrossPolicy::Refuse, Some(price)) = (policy, price) {
            self.check_not_crossing(request.side, price)?;
        }
        // Validated: from here on nothing can fail.
        self.last_time = now;
        let id = self.allocate_order_id();
        let mut incoming = Incoming {
            id,
            trader: request.trader,
            side: request.side,
            price,
            limit,
            ordered_tonnes: tonnes,
            filled_tonnes: 0,
            open_tonnes: tonnes,
            cancelled_tonnes: 0,
            entered_at: now,
            may_rest,
            reason_if_rests: UpdateReason::Accepted,
        };
        if request.time_in_force == TimeInForce::FillOrKill
            && self.fillable_tonnes(&incoming) < tonnes
        {
            incoming.cancelled_tonnes = tonnes;
            incoming.open_tonnes = 0;
            report.updates.push(incoming.update(
                OrderStatus::Cancelled,
                UpdateReason::FillOrKillUnfillable,
                now,
            ));
            return Ok(id);
        }
        self.execute(incoming, now, report);
        Ok(id)
    }

    /// [`Book::amend`] with a choice of what to do with a crossing price.
    pub(crate) fn amend_with(
        &mut self,
        trader: AccountId,
        order: OrderId,
        amendment: &Amendment,
        policy: CrossPolicy,
        now: Timestamp,
        report: &mut Report,
    ) -> Result<(), MarketError> {
        report.clear();
        self.check_time(now)?;
        let (slot, node) = self.locate(order)?;
        let resting = node.order;
        check_owner(order, resting.trader, trader)?;
        self.check_price(amendment.price)?;
        let new_open = self.rules.check_lots(amendment.open_quantity)?;
        self.rules.check_maximum(new_open)?;
        let same_price = amendment.price == node.price;
        if same_price && new_open <= resting.open_tonnes {
            self.last_time = now;
            if new_open < resting.open_tonnes {
                self.reduce_in_place(slot, new_open, now, report);
            }
            return Ok(());
        }
        self.check_id_space()?;
        if policy == CrossPolicy::Refuse {
            self.check_not_crossing(node.side, amendment.price)?;
        }
        if !same_price {
            self.check_new_level(&node, amendment.price)?;
        }
        let raised = new_open.saturating_sub(resting.open_tonnes);
        let ordered_tonnes = resting
            .ordered_tonnes
            .checked_add(raised)
            .ok_or(MarketError::Overflow("ordered quantity"))?;
        // Validated: from here on nothing can fail.
        self.last_time = now;
        self.take_out(slot);
        let incoming = Incoming {
            id: order,
            trader,
            side: node.side,
            price: Some(amendment.price),
            limit: Some(amendment.price),
            ordered_tonnes,
            filled_tonnes: resting.filled_tonnes,
            open_tonnes: new_open,
            cancelled_tonnes: resting.cancelled_tonnes
                + resting.open_tonnes.saturating_sub(new_open),
            entered_at: resting.entered_at,
            may_rest: true,
            reason_if_rests: UpdateReason::Amended,
        };
        self.execute(incoming, now, report);
        Ok(())
    }

    /// A listed-agreement take: trades `request.quantity` with one chosen
    /// resting order at its price, provided the order is within the best
    /// `visible_levels` levels of its side.
    pub(crate) fn take(
        &mut self,
        request: &TakeRequest,
        visible_levels: usize,
        now: Timestamp,
        report: &mut Report,
    ) -> Result<OrderId, MarketError> {
        report.clear();
        self.check_time(now)?;
        self.check_id_space()?;
        let maker_order = request.maker_order;
        let (slot, node) = self.locate(maker_order)?;
        let maker = node.order;
        if maker.trader == request.trader {
            return Err(MarketError::SelfTrade {
                trader: request.trader,
            });
        }
        if self.ladder(node.side).better_than(node.price) >= visible_levels {
            return Err(MarketError::OutsideVisibleLevels {
                order: maker_order,
                levels: visible_levels,
            });
        }
        let tonnes = self.rules.check_lots(request.quantity)?;
        if tonnes > maker.open_tonnes {
            return Err(MarketError::ExceedsOpenQuantity {
                order: maker_order,
                requested_tonnes: tonnes,
                open_tonnes: maker.open_tonnes,
            });
        }
        // Validated: from here on nothing can fail.
        self.last_time = now;
        let id = self.allocate_order_id();
        let mut incoming = Incoming {
            id,
            trader: request.trader,
            side: node.side.opposite(),
            price: Some(node.price),
            limit: Some(node.price),
            ordered_tonnes: tonnes,
            filled_tonnes: 0,
            open_tonnes: tonnes,
            cancelled_tonnes: 0,
            entered_at: now,
            may_rest: false,
            reason_if_rests: UpdateReason::Traded,
        };
        self.trade_with_one(&mut incoming, slot, now, report);
        report
            .updates
            .push(incoming.update(OrderStatus::Filled, UpdateReason::Traded, now));
        Ok(id)
    }

    fn check_time(&self, now: Timestamp) -> Result<(), MarketError> {
        if now < self.last_time {
            return Err(MarketError::TimeWentBackwards {
                now_ms: now.unix_ms(),
                last_ms: self.last_time.unix_ms(),
            });
        }
        Ok(())
    }

    fn check_id_space(&self) -> Result<(), MarketError> {
        if self.next_order_id == u64::MAX || self.next_priority == u64::MAX {
            return Err(MarketError::Overflow("order ids"));
        }
        Ok(())
    }

    fn allocate_order_id(&mut self) -> OrderId {
        let id = OrderId(self.next_order_id);
        self.next_order_id += 1;
        id
    }

    /// [`InstrumentRules::check_price`] against the kept band (no division
    /// for a price inside it).
    fn check_price(&self, price: Price) -> Result<(), MarketError> {
        self.rules
            .check_price_within(price, self.band, self.reference_price)
    }

    /// The order's own price and the worst price it may trade at.
    fn check_kind(
        &self,
        request: &OrderRequest,
    ) -> Result<(Option<Price>, Option<Price>), MarketError> {
        match request.kind {
            OrderKind::Limit(price) => {
                self.check_price(price)?;
                Ok((Some(price), Some(price)))
            }
            OrderKind::Market if request.time_in_force == TimeInForce::Day => {
                Err(MarketError::MarketOrderMustBeImmediate)
            }
            OrderKind::Market => Ok((None, self.market_limit(request.side))),
        }
    }

    /// A market order trades at most up to the band's edge.
    fn market_limit(&self, side: Side) -> Option<Price> {
        self.band.map(|band| match side {
            Side::Buy => band.upper,
            Side::Sell => band.lower,
        })
    }

    /// Limits count a day limit order as if it would rest, whether or not it
    /// trades first: simple to predict and never exceeded.
    fn check_capacity(
        &self,
        trader: AccountId,
        side: Side,
        price: Price,
    ) -> Result<(), MarketError> {
        let limits = &self.rules.limits;
        if self.open_orders_of(trader) >= limits.max_open_orders_per_account {
            return Err(MarketError::TooManyOpenOrders {
                trader,
                limit: limits.max_open_orders_per_account,
            });
        }
        if self.index.len() >= limit_usize(limits.max_orders) {
            return Err(MarketError::BookFull {
                limit: limits.max_orders,
            });
        }
        let ladder = self.ladder(side);
        if ladder.len() >= limit_usize(limits.max_price_levels_per_side)
            && ladder.get(price).is_none()
        {
            return Err(MarketError::TooManyPriceLevels {
                side,
                limit: limits.max_price_levels_per_side,
            });
        }
        Ok(())
    }

    /// An amended order moving to `price` needs a level there.
    fn check_new_level(&self, node: &Node, price: Price) -> Result<(), MarketError> {
        let ladder = self.ladder(node.side);
        let limit = self.rules.limits.max_price_levels_per_side;
        if ladder.len() < limit_usize(limit) || ladder.get(price).is_some() {
            return Ok(());
        }
        let frees_its_level = ladder.get(node.price).is_some_and(|level| level.count == 1);
        if frees_its_level {
            return Ok(());
        }
        Err(MarketError::TooManyPriceLevels {
            side: node.side,
            limit,
        })
    }

    fn check_not_crossing(&self, side: Side, price: Price) -> Result<(), MarketError> {
        let opposite = match side {
            Side::Buy => self.best_ask(),
            Side::Sell => self.best_bid(),
        };
        match opposite {
            Some(best) if crosses(side, Some(price), best) => Err(MarketError::WouldCross {
                price_ticks: price.ticks(),
                opposite_ticks: best.ticks(),
            }),
            _ => Ok(()),
        }
    }

    fn ladder(&self, side: Side) -> &Ladder {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    fn depth_side(&self, side: Side, levels: usize) -> Vec<DepthLevel> {
        self.ladder(side)
            .best_first()
            .take(levels)
            .map(|level| DepthLevel {
                price: level.price,
                quantity: Quantity::new(level.open_tonnes),
                orders: level.count,
            })
            .collect()
    }

    /// The slot of a resting order and a copy of it.
    fn locate(&self, order: OrderId) -> Result<(u32, Node), MarketError> {
        let slot = *self
            .index
            .get(&order)
            .ok_or(MarketError::UnknownOrder(order))?;
        Ok((slot, *self.arena.get(slot)))
    }

    /// Removes the resting order at `slot` from its level (dropping the
    /// level when it empties), the index and its owner's count.
    fn take_out(&mut self, slot: u32) {
        let Book {
            bids,
            asks,
            arena,
            index,
            open_orders,
            ..
        } = self;
        let node = *arena.get(slot);
        let ladder = match node.side {
            Side::Buy => bids,
            Side::Sell => asks,
        };
        if let Ok(position) = ladder.search(node.price) {
            let level = ladder.at_mut(position);
            arena.remove(level, slot);
            level.open_tonnes -= node.order.open_tonnes;
            if level.count == 0 {
                ladder.remove(position);
            }
        }
        index.remove(&node.order.id);
        release(open_orders, node.order.trader);
    }

    fn reduce_in_place(&mut self, slot: u32, new_open: u64, now: Timestamp, report: &mut Report) {
        let Book {
            bids, asks, arena, ..
        } = self;
        let node = arena.get_mut(slot);
        let ladder = match node.side {
            Side::Buy => bids,
            Side::Sell => asks,
        };
        let Ok(position) = ladder.search(node.price) else {
            return;
        };
        let resting = &mut node.order;
        let removed = resting.open_tonnes - new_open;
        resting.open_tonnes = new_open;
        resting.cancelled_tonnes += removed;
        report
            .updates
            .push(resting.update(node.side, node.price, UpdateReason::Amended, now));
        ladder.at_mut(position).open_tonnes -= removed;
    }

    fn rest(&mut self, incoming: &Incoming, price: Price) {
        let priority = self.next_priority;
        self.next_priority += 1;
        let ladder = match incoming.side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        let level = ladder.entry(price);
        level.open_tonnes += incoming.open_tonnes;
        let resting = Resting {
            id: incoming.id,
            trader: incoming.trader,
            priority,
            ordered_tonnes: incoming.ordered_tonnes,
            filled_tonnes: incoming.filled_tonnes,
            open_tonnes: incoming.open_tonnes,
            cancelled_tonnes: incoming.cancelled_tonnes,
            entered_at: incoming.entered_at,
        };
        let slot = self.arena.push_back(level, resting, incoming.side);
        self.index.insert(incoming.id, slot);
        *self.open_orders.entry(incoming.trader).or_insert(0) += 1;
    }

    /// Matches, then rests or cancels the remainder, then reports the
    /// incoming order's final state.
    fn execute(&mut self, mut incoming: Incoming, now: Timestamp, report: &mut Report) {
        self.match_incoming(&mut incoming, now, report);
        if incoming.open_tonnes == 0 {
            report
                .updates
                .push(incoming.update(OrderStatus::Filled, UpdateReason::Traded, now));
            return;
        }
        match (incoming.may_rest, incoming.price) {
            (true, Some(price)) => {
                self.rest(&incoming, price);
                report.updates.push(incoming.update(
                    OrderStatus::Open,
                    incoming.reason_if_rests,
                    now,
                ));
            }
            _ => {
                incoming.cancelled_tonnes += incoming.open_tonnes;
                incoming.open_tonnes = 0;
                report.updates.push(incoming.update(
                    OrderStatus::Cancelled,
                    UpdateReason::UnfilledRemainder,
                    now,
                ));
            }
        }
    }

    fn match_incoming(&mut self, incoming: &mut Incoming, now: Timestamp, report: &mut Report) {
        let maker_side = incoming.side.opposite();
        while incoming.open_tonnes > 0 {
            let Some(price) = self.ladder(maker_side).best().map(|level| level.price) else {
                break;
            };
            if !crosses(incoming.side, incoming.limit, price) {
                break;
            }
            self.match_best_level(incoming, now, report);
        }
    }

    /// Trades the incoming order against the best level of the opposite
    /// side from its front, cancelling the owner's own resting orders on the
    /// way; removes the level when it empties (so the caller's loop always
    /// progresses).
    fn match_best_level(&mut self, incoming: &mut Incoming, now: Timestamp, report: &mut Report) {
        let maker_side = incoming.side.opposite();
        let Book {
            bids,
            asks,
            arena,
            index,
            open_orders,
            ..
        } = self;
        let ladder = match maker_side {
            Side::Buy => bids,
            Side::Sell => asks,
        };
        let Some(level) = ladder.best_mut() else {
            return;
        };
        let price = level.price;
        while incoming.open_tonnes > 0 && level.head != NIL {
            let slot = level.head;
            let maker = &mut arena.get_mut(slot).order;
            let reason = if maker.trader == incoming.trader {
                level.open_tonnes -= maker.open_tonnes;
                maker.cancel_open();
                UpdateReason::SelfTradePrevented
            } else {
                let traded = trade(maker, incoming, price, now, report);
                level.open_tonnes -= traded;
                UpdateReason::Traded
            };
            report
                .updates
                .push(maker.update(maker_side, price, reason, now));
            if maker.open_tonnes == 0 {
                let (id, trader) = (maker.id, maker.trader);
                arena.remove(level, slot);
                index.remove(&id);
                release(open_orders, trader);
            }
        }
        if level.count == 0 {
            ladder.pop_best();
        }
    }

    /// Trades the incoming order with the one resting order at `slot`.
    fn trade_with_one(
        &mut self,
        incoming: &mut Incoming,
        slot: u32,
        now: Timestamp,
        report: &mut Report,
    ) {
        let Book {
            bids,
            asks,
            arena,
            index,
            open_orders,
            ..
        } = self;
        let (side, price) = {
            let node = arena.get(slot);
            (node.side, node.price)
        };
        let ladder = match side {
            Side::Buy => bids,
            Side::Sell => asks,
        };
        let Ok(position) = ladder.search(price) else {
            return;
        };
        let level = ladder.at_mut(position);
        let maker = &mut arena.get_mut(slot).order;
        let traded = trade(maker, incoming, price, now, report);
        report
            .updates
            .push(maker.update(side, price, UpdateReason::Traded, now));
        let (id, trader, filled) = (maker.id, maker.trader, maker.open_tonnes == 0);
        level.open_tonnes -= traded;
        if filled {
            arena.remove(level, slot);
            index.remove(&id);
            release(open_orders, trader);
        }
        if level.count == 0 {
            ladder.remove(position);
        }
    }

    /// Tonnes the incoming order could trade now, not counting its owner's
    /// resting orders (self-trade prevention would cancel them).
    fn fillable_tonnes(&self, incoming: &Incoming) -> u64 {
        let mut total: u64 = 0;
        for level in self.ladder(incoming.side.opposite()).best_first() {
            if total >= incoming.open_tonnes || !crosses(incoming.side, incoming.limit, level.price)
            {
                break;
            }
            for slot in self.arena.slots(level) {
                let order = &self.arena.get(slot).order;
                if order.trader != incoming.trader {
                    total = total.saturating_add(order.open_tonnes);
                }
            }
        }
        total
    }
}

/// Trades as much as both orders allow at the maker's `price`, records the
/// fill and returns the tonnes traded.
fn trade(
    maker: &mut Resting,
    incoming: &mut Incoming,
    price: Price,
    now: Timestamp,
    report: &mut Report,
) -> u64 {
    let tonnes = incoming.open_tonnes.min(maker.open_tonnes);
    maker.open_tonnes -= tonnes;
    maker.filled_tonnes += tonnes;
    incoming.open_tonnes -= tonnes;
    incoming.filled_tonnes += tonnes;
    let (buyer, seller) = match incoming.side {
        Side::Buy => (incoming.trader, maker.trader),
        Side::Sell => (maker.trader, incoming.trader),
    };
    report.fills.push(Fill {
        maker_order: maker.id,
        taker_order: incoming.id,
        buyer,
        seller,
        price,
        quantity: Quantity::new(tonnes),
        at: now,
        aggressor: incoming.side,
    });
    tonnes
}

/// Whether an order of `side` limited to `limit` may trade at `price`.
fn crosses(side: Side, limit: Option<Price>, price: Price) -> bool {
    match (side, limit) {
        (_, None) => true,
        (Side::Buy, Some(limit)) => price <= limit,
        (Side::Sell, Some(limit)) => price >= limit,
    }
}

fn check_owner(order: OrderId, owner: AccountId, trader: AccountId) -> Result<(), MarketError> {
    if owner != trader {
        return Err(MarketError::NotOwner {
            order,
            owner,
            trader,
        });
    }
    Ok(())
}

fn check_reference(rules: &InstrumentRules, reference: Price) -> Result<(), MarketError> {
    if rules.price_band_bps.is_some() && reference.ticks() <= 0 {
        return Err(MarketError::NonPositivePrice {
            price_ticks: reference.ticks(),
        });
    }
    Ok(())
}

/// Decrements an account's open-order count, dropping it at zero so equal
/// books compare equal.
fn release(open_orders: &mut FxHashMap<AccountId, u32>, trader: AccountId) {
    let emptied = match open_orders.get_mut(&trader) {
        Some(count) => {
            *count = count.saturating_sub(1);
            *count == 0
        }
        None => false,
    };
    if emptied {
        open_orders.remove(&trader);
    }
}

fn limit_usize(limit: u32) -> usize {
    usize::try_from(limit).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests;
