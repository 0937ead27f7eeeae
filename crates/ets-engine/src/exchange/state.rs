//! The exchange's state (instruments with their books, cash balances, holds,
//! auctions, trade records), its queries and its invariants.

use super::command::{AuctionId, CashBalance, TradingCalendar, TradingMode};
use super::hashed::{HashedMap, serialize_sorted, sorted_entries};
use super::limits::HoldingLimit;
use ets_market::{
    Auction, AuctionOutcome, BlockDesk, Book, DEPTH_LEVELS, DailyStats, Depth, InstrumentRules,
    ListedBook, MarketData, MarketError, OrderId, OrderView, Proposal, Report, Side, Trade,
    TradeMode,
};
use ets_model::{AccountId, Code, Money, Price, Quantity, Timestamp, TransactionId, UnitClass};
use ets_registry::Registry;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Basis points in one whole.
const BPS_PER_WHOLE: i128 = 10_000;
/// The same, for the i64 fast path of [`fee_on`].
const BPS_PER_WHOLE_I64: i64 = 10_000;

/// The exchange: instruments, cash, holds, auctions and the trade records.
/// Decoding derives the net sales counter from the trade records (the
/// engine replaces it with the encoded one of a bounded snapshot).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ExchangeParts")]
pub struct Exchange {
    pub(super) instruments: BTreeMap<Code, Instrument>,
    /// Encoded in account order.
    #[serde(serialize_with = "serialize_sorted")]
    pub(super) cash: HashedMap<AccountId, CashBalance>,
    /// Deposits minus withdrawals: always the sum of all balances.
    pub(super) total_cash: Money,
    /// Units bought since the last end of day, per (account, class index),
    /// for instruments with the T+1 rule.
    pub(super) bought_today: BTreeMap<(AccountId, u32), Quantity>,
    pub(super) auctions: BTreeMap<AuctionId, AuctionState>,
    pub(super) trades: super::trades::TradeLog,
    /// Working memory of the market calls, not state (never encoded).
    #[serde(skip)]
    pub(super) report: ScratchReport,
}

/// The report every market call of the exchange fills, kept between
/// commands only so that its vectors are not allocated again per command.
/// It is not state: each call clears it first, a clone starts empty, any
/// two compare equal, and it is never encoded.
#[derive(Default)]
pub(super) struct ScratchReport(pub(super) Report);

impl Clone for ScratchReport {
    fn clone(&self) -> ScratchReport {
        ScratchReport::default()
    }
}

impl PartialEq for ScratchReport {
    fn eq(&self, _: &ScratchReport) -> bool {
        true
    }
}

impl Eq for ScratchReport {}

impl std::fmt::Debug for ScratchReport {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("ScratchReport")
    }
}

/// The fields of an [`Exchange`] as encoded, in the same order.
#[derive(Deserialize)]
struct ExchangeParts {
    instruments: BTreeMap<Code, Instrument>,
    cash: HashedMap<AccountId, CashBalance>,
    total_cash: Money,
    bought_today: BTreeMap<(AccountId, u32), Quantity>,
    auctions: BTreeMap<AuctionId, AuctionState>,
    trades: super::trades::TradeLog,
}

impl From<ExchangeParts> for Exchange {
    fn from(parts: ExchangeParts) -> Exchange {
        let mut exchange = Exchange {
            instruments: parts.instruments,
            cash: parts.cash,
            total_cash: parts.total_cash,
            bought_today: parts.bought_today,
            auctions: parts.auctions,
            trades: parts.trades,
            report: ScratchReport::default(),
        };
        exchange.derive_net_sales();
        exchange
    }
}

/// One listed instrument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Instrument {
    pub(super) symbol: Code,
    pub(super) class: UnitClass,
    pub(super) class_index: u32,
    pub(super) mode: TradingMode,
    pub(super) rules: InstrumentRules,
    pub(super) reference_price: Price,
    pub(super) fee_bps: u32,
    pub(super) fee_account: AccountId,
    pub(super) no_same_day_resale: bool,
    pub(super) venue: Venue,
    pub(super) market_data: MarketData,
    /// The hold behind every open order, proposal (and, within one command,
    /// every take or acceptance), by the id the venue gave it. Encoded in
    /// id order.
    #[serde(serialize_with = "serialize_sorted")]
    pub(super) holds: HashedMap<OrderId, OrderHold>,
    /// When it trades; `None` means always open.
    pub(super) calendar: Option<TradingCalendar>,
    /// The most an account may hold of the class; `None` means no limit.
    pub(super) holding_limit: Option<HoldingLimit>,
}

impl Instrument {
    /// Checks an order's or proposal's price against the rules and the
    /// reference price. A continuous book keeps the band of that reference
    /// (moved with it at the end of each day), which spares the band's
    /// divisions; the answer is the same ([`InstrumentRules::check_price_within`]).
    pub(super) fn check_price(&self, price: Price) -> Result<(), MarketError> {
        let kept = match &self.venue {
            Venue::Continuous(book) => book.band(),
            Venue::Listed(_) | Venue::Block(_) => None,
        };
        self.rules
            .check_price_within(price, kept, self.reference_price)
    }

    /// Centres the band on `close` (the end of a day). A close the venue
    /// refuses as a reference (zero under a band) leaves the band where it
    /// was; returns whether it moved.
    pub(super) fn recentre(&mut self, close: Price) -> bool {
        let moved = match &mut self.venue {
            Venue::Continuous(book) => book.set_reference_price(close),
            Venue::Listed(listed) => listed.set_reference_price(close),
            Venue::Block(desk) => desk.set_reference_price(close),
        };
        if moved.is_ok() {
            self.reference_price = close;
        }
        moved.is_ok()
    }

    /// A desk following a listed instrument takes that instrument's new
    /// close as its reference and as its own close (block trades form no
    /// price, so the desk's end of day then reports and keeps that close).
    pub(super) fn follow_close(&mut self, close: Price) {
        if self.recentre(close) {
            self.market_data.set_previous_close(close);
        }
    }
}

/// Where an instrument's orders live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Venue {
    Continuous(Book),
    Listed(ListedBook),
    Block(BlockDesk),
}

impl Venue {
    /// The open quantity of an order or proposal, zero when it is gone.
    pub(super) fn open_quantity(&self, order: OrderId) -> Quantity {
        match self {
            Venue::Continuous(book) => book.open_quantity(order).unwrap_or(Quantity::ZERO),
            Venue::Listed(listed) => listed.book().open_quantity(order).unwrap_or(Quantity::ZERO),
            Venue::Block(desk) => desk
                .proposal(order)
                .map_or(Quantity::ZERO, |proposal| proposal.quantity),
        }
    }

    pub(super) fn trade_mode(&self) -> TradeMode {
        match self {
            Venue::Continuous(_) => TradeMode::Continuous,
            Venue::Listed(_) => TradeMode::Listed,
            Venue::Block(_) => TradeMode::Block,
        }
    }

    pub(super) fn book(&self) -> Option<&Book> {
        match self {
            Venue::Continuous(book) => Some(book),
            Venue::Listed(listed) => Some(listed.book()),
            Venue::Block(_) => None,
        }
    }
}

/// What is held for one order: units for a sale, cash for a purchase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct OrderHold {
    pub(super) account: AccountId,
    pub(super) side: Side,
    /// The price the cash hold is computed at: the limit, or the band's
    /// upper edge for a market buy.
    pub(super) price: Price,
    /// Units held (sells).
    pub(super) units: Quantity,
    /// Cash held (buys): `value + fee` of the open quantity at `price`.
    pub(super) cash: Money,
}

/// One primary auction and what is held for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct AuctionState {
    pub(super) auction: Auction,
    pub(super) class_index: u32,
    /// The registry's auction account, which sells.
    pub(super) seller: AccountId,
    /// Units still held in the auction account.
    pub(super) units_held: Quantity,
    /// Cash held per bid.
    pub(super) bids: BTreeMap<OrderId, OrderHold>,
    pub(super) outcome: Option<AuctionOutcome>,
}

/// Where a trade happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TradeVenue {
    /// On an instrument.
    Instrument(Code),
    /// In a primary auction.
    Auction(AuctionId),
}

/// A settled trade with its parties (the exchange's record; the public tape
/// has no parties).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeRecord {
    /// Numbered from 1 in order of settlement.
    pub id: u64,
    /// Where.
    pub venue: TradeVenue,
    /// Continuous, listed, block or auction.
    pub mode: TradeMode,
    /// The resting order, proposal or auction bid.
    pub maker_order: OrderId,
    /// The incoming order, take or acceptance (the bid again for auctions).
    pub taker_order: OrderId,
    /// The buying account.
    pub buyer: AccountId,
    /// The selling account.
    pub seller: AccountId,
    /// The price per tonne.
    pub price: Price,
    /// Tonnes.
    pub quantity: Quantity,
    /// The fee the buyer paid on top of the value.
    pub buyer_fee: Money,
    /// The fee taken from the seller's proceeds.
    pub seller_fee: Money,
    /// When.
    pub at: Timestamp,
    /// The registry transfer that delivered the units.
    pub transaction: TransactionId,
}

/// `price × quantity`, one tick being one minor unit.
pub(super) fn value_of(price: Price, quantity: Quantity) -> Option<i128> {
    i128::from(price.ticks()).checked_mul(i128::from(quantity.tonnes()))
}

/// The fee on `value`: rounded down, so that fees on parts never exceed
/// the fee on the whole and a buyer's hold always covers its fills.
pub(super) fn fee_on(value: i128, fee_bps: u32) -> i128 {
    // Every realistic value fits in i64, where dividing by the constant is a
    // multiplication; an i128 division is a library call. Both truncate
    // towards zero, so the two paths agree wherever both apply.
    if let Ok(small) = i64::try_from(value)
        && let Some(product) = small.checked_mul(i64::from(fee_bps))
    {
        return i128::from(product / BPS_PER_WHOLE_I64);
    }
    value * i128::from(fee_bps) / BPS_PER_WHOLE
}

/// `balance + delta` for cash moving between balances. Cash only moves
/// between balances that sum to the total deposited, so an overflow or a
/// negative result is a broken invariant: the process stops (in release
/// builds too) rather than record a wrong balance.
pub(super) fn shifted(balance: Money, delta: i64, what: &str) -> Money {
    match balance.minor_units().checked_add(delta) {
        Some(moved) if moved >= 0 => Money::new(moved),
        _ => panic!(
            "cash invariant broken ({what}): {} {delta:+} would overflow or go negative",
            balance.minor_units()
        ),
    }
}

/// The cash a buy of `quantity` at `price` must hold: value plus fee.
pub(super) fn cash_required(price: Price, quantity: Quantity, fee_bps: u32) -> Option<Money> {
    let value = value_of(price, quantity)?;
    let total = value.checked_add(fee_on(value, fee_bps))?;
    i64::try_from(total).ok().map(Money::new)
}

impl Exchange {
    /// An exchange with nothing listed and no cash.
    #[must_use]
    pub fn new() -> Exchange {
        Exchange::default()
    }

    /// The symbols listed, in order.
    pub fn instruments(&self) -> impl Iterator<Item = &Code> {
        self.instruments.keys()
    }

    /// The best five levels of each side (continuous and listed books;
    /// `None` for block desks and unknown symbols).
    #[must_use]
    pub fn depth(&self, instrument: &Code) -> Option<Depth> {
        let book = self.instruments.get(instrument)?.venue.book()?;
        Some(book.depth(DEPTH_LEVELS))
    }

    /// A resting order.
    #[must_use]
    pub fn order(&self, instrument: &Code, order: OrderId) -> Option<OrderView> {
        self.instruments.get(instrument)?.venue.book()?.order(order)
    }

    /// The orders a listed-agreement taker may pick among on `side`.
    #[must_use]
    pub fn visible_orders(&self, instrument: &Code, side: Side) -> Vec<OrderView> {
        match self.instruments.get(instrument).map(|i| &i.venue) {
            Some(Venue::Listed(listed)) => listed.visible_orders(side),
            _ => Vec::new(),
        }
    }

    /// An open block proposal.
    #[must_use]
    pub fn proposal(&self, instrument: &Code, proposal: OrderId) -> Option<Proposal> {
        match &self.instruments.get(instrument)?.venue {
            Venue::Block(desk) => desk.proposal(proposal).copied(),
            _ => None,
        }
    }

    /// An account's cash (zero when it never had any).
    #[must_use]
    pub fn cash(&self, account: AccountId) -> CashBalance {
        self.cash.get(&account).copied().unwrap_or_default()
    }

    /// Deposits minus withdrawals: the cash in the exchange.
    #[must_use]
    pub fn total_cash(&self) -> Money {
        self.total_cash
    }

    /// Units `account` bought today of class `class_index` (T+1 count).
    #[must_use]
    pub fn bought_today(&self, account: AccountId, class_index: u32) -> Quantity {
        self.bought_today
            .get(&(account, class_index))
            .copied()
            .unwrap_or(Quantity::ZERO)
    }

    /// The day's figures so far.
    #[must_use]
    pub fn day_stats(&self, instrument: &Code) -> Option<DailyStats> {
        Some(self.instruments.get(instrument)?.market_data.stats())
    }

    /// The public tape of an instrument, oldest first.
    #[must_use]
    pub fn tape(&self, instrument: &Code) -> Vec<Trade> {
        self.instruments
            .get(instrument)
            .map(|i| i.market_data.tape().copied().collect())
            .unwrap_or_default()
    }

    /// The settled trades the engine retains, with their parties, in order:
    /// all of them, or under bounded retention those of the last window
    /// (docs/memory.md). The history database holds every one.
    #[must_use]
    pub fn trades(&self) -> &super::trades::TradeLog {
        &self.trades
    }

    /// Net sales per account of the allowances whose unit code is `unit_code` (sold less
    /// bought, instruments and auctions alike), over every trade ever settled, from the
    /// running counter (retained trade records or not); `None` only when the counter was
    /// derived from a bounded snapshot that had already dropped trades (docs/memory.md).
    #[must_use]
    pub fn net_allowance_sales(
        &self,
        registry: &Registry,
        unit_code: &Code,
    ) -> Option<BTreeMap<AccountId, i128>> {
        self.trades.net_sales().per_account(|class_index| {
            matches!(
                registry.class(class_index),
                Some(UnitClass::Allowance { scheme, .. }) if scheme == unit_code
            )
        })
    }

    /// Derives the net sales counter from the retained trade records (a
    /// decoded state that did not carry it): complete when the log holds
    /// every trade and each trade's venue is still known.
    pub(crate) fn derive_net_sales(&mut self) {
        let complete = self.trades.holds_every_trade();
        let derived = super::NetSales::derive(
            self.trades.iter(),
            |trade| match &trade.venue {
                TradeVenue::Instrument(symbol) => Some(self.instruments.get(symbol)?.class_index),
                TradeVenue::Auction(id) => Some(self.auctions.get(id)?.class_index),
            },
            complete,
        );
        self.trades.set_net_sales(derived);
    }

    /// Mutable trade log, for the engine's retention bookkeeping.
    pub(crate) fn trades_mut(&mut self) -> &mut super::trades::TradeLog {
        &mut self.trades
    }

    /// The outcome of a closed auction.
    #[must_use]
    pub fn auction_outcome(&self, auction: AuctionId) -> Option<&AuctionOutcome> {
        self.auctions.get(&auction)?.outcome.as_ref()
    }

    /// The units the exchange holds in the registry, per (account, class
    /// index): open sells, open block sell proposals, open auctions' volume.
    #[must_use]
    pub fn unit_holds(&self) -> BTreeMap<(AccountId, u32), Quantity> {
        let mut holds: BTreeMap<(AccountId, u32), Quantity> = BTreeMap::new();
        let mut add = |key, quantity: Quantity| {
            let entry = holds.entry(key).or_default();
            *entry = Quantity::new(entry.tonnes().saturating_add(quantity.tonnes()));
        };
        for instrument in self.instruments.values() {
            for hold in instrument.holds.values() {
                add((hold.account, instrument.class_index), hold.units);
            }
        }
        for auction in self.auctions.values() {
            add((auction.seller, auction.class_index), auction.units_held);
        }
        holds.retain(|_, quantity| !quantity.is_zero());
        holds
    }

    /// Checks the exchange's invariants against the registry:
    /// 1. every account's held cash equals the holds of its open orders,
    ///    proposals and bids, and no balance is negative;
    /// 2. the sum of all balances equals deposits minus withdrawals;
    /// 3. the registry's own invariants hold, and its exchange-held counters
    ///    equal the exchange's unit holds;
    /// 4. every hold belongs to an open order with that open quantity (sells
    ///    hold exactly it, buys exactly its value plus fee); books are not
    ///    crossed and keep their own invariants;
    /// 5. a desk that follows a listed instrument follows one that is listed,
    ///    is not a block desk and trades the same class.
    ///
    /// # Errors
    /// A description of the first broken invariant: always a bug.
    pub fn check_invariants(&self, registry: &Registry) -> Result<(), String> {
        self.check_cash()?;
        for instrument in self.instruments.values() {
            check_instrument(instrument)?;
            self.check_followed(instrument)?;
        }
        for (id, auction) in &self.auctions {
            check_auction(*id, auction)?;
        }
        registry.check_invariants()?;
        registry.check_exchange_holds(&self.unit_holds())
    }

    fn check_followed(&self, desk: &Instrument) -> Result<(), String> {
        let Some(listed) = desk.mode.follows() else {
            return Ok(());
        };
        match self.instruments.get(&listed) {
            Some(followed)
                if !followed.mode.is_block() && followed.class_index == desk.class_index =>
            {
                Ok(())
            }
            _ => Err(format!(
                "{}: follows {listed}, which is not a listed instrument of its class",
                desk.symbol
            )),
        }
    }

    fn check_cash(&self) -> Result<(), String> {
        let mut held: BTreeMap<AccountId, i128> = BTreeMap::new();
        let order_holds = self
            .instruments
            .values()
            .flat_map(|instrument| instrument.holds.values());
        let bid_holds = self
            .auctions
            .values()
            .flat_map(|auction| auction.bids.values());
        for hold in order_holds.chain(bid_holds) {
            *held.entry(hold.account).or_default() += i128::from(hold.cash.minor_units());
        }
        let mut total: i128 = 0;
        for (account, balance) in sorted_entries(&self.cash) {
            let expected = held.remove(account).unwrap_or(0);
            if i128::from(balance.held.minor_units()) != expected {
                return Err(format!(
                    "account {account}: {} held but its orders hold {expected}",
                    balance.held.minor_units()
                ));
            }
            if balance.available < Money::ZERO || balance.held < Money::ZERO {
                return Err(format!("account {account}: negative cash {balance:?}"));
            }
            total += i128::from(balance.available.minor_units())
                + i128::from(balance.held.minor_units());
        }
        if let Some((account, amount)) = held.into_iter().find(|(_, amount)| *amount != 0) {
            return Err(format!(
                "account {account}: orders hold {amount} but no balance"
            ));
        }
        if total != i128::from(self.total_cash.minor_units()) {
            return Err(format!(
                "balances sum to {total} but deposits minus withdrawals are {}",
                self.total_cash.minor_units()
            ));
        }
        Ok(())
    }
}

fn check_instrument(instrument: &Instrument) -> Result<(), String> {
    let symbol = instrument.symbol;
    if let Some(book) = instrument.venue.book() {
        book.check_invariants()
            .map_err(|problem| format!("{symbol}: {problem}"))?;
        if let (Some(bid), Some(ask)) = (book.best_bid(), book.best_ask())
            && bid >= ask
        {
            return Err(format!("{symbol}: book crossed, bid {bid:?} ask {ask:?}"));
        }
    }
    for (order, hold) in sorted_entries(&instrument.holds) {
        let open = instrument.venue.open_quantity(*order);
        if open.is_zero() {
            return Err(format!(
                "{symbol}: hold for order {order}, which is not open"
            ));
        }
        let expected = match hold.side {
            Side::Sell => (open, Money::ZERO),
            Side::Buy => (
                Quantity::ZERO,
                cash_required(hold.price, open, instrument.fee_bps).unwrap_or_default(),
            ),
        };
        if (hold.units, hold.cash) != expected {
            return Err(format!(
                "{symbol}: order {order} open {open} holds {hold:?}, expected {expected:?}"
            ));
        }
    }
    let open_orders = match &instrument.venue {
        Venue::Block(desk) => desk.proposals().count(),
        venue => venue.book().map_or(0, Book::open_order_count),
    };
    if open_orders != instrument.holds.len() {
        return Err(format!(
            "{symbol}: {open_orders} open orders but {} holds",
            instrument.holds.len()
        ));
    }
    Ok(())
}

fn check_auction(id: AuctionId, state: &AuctionState) -> Result<(), String> {
    if state.auction.is_closed() {
        if !state.units_held.is_zero() || !state.bids.is_empty() {
            return Err(format!("auction {id}: closed but still holds"));
        }
        return Ok(());
    }
    let rules = state.auction.rules();
    let volume =
        rules.volume_offered.tonnes() + rules.cost_containment.map_or(0, |ccr| ccr.volume.tonnes());
    if state.units_held.tonnes() != volume {
        return Err(format!(
            "auction {id}: holds {} of {volume} t",
            state.units_held
        ));
    }
    if state.auction.bids().count() != state.bids.len() {
        return Err(format!("auction {id}: bids and holds differ in number"));
    }
    for bid in state.auction.bids() {
        let expected = cash_required(bid.price, bid.quantity, 0).unwrap_or_default();
        if state.bids.get(&bid.id).map(|hold| hold.cash) != Some(expected) {
            return Err(format!(
                "auction {id}: bid {} hold is not its value",
                bid.id
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::fee_on;

    #[test]
    fn the_fee_fast_path_agrees_with_the_i128_formula() {
        // Goal: the i64 shortcut never changes a fee, at and past its edges.
        let big = i128::from(i64::MAX);
        for value in [
            0,
            1,
            9_999,
            10_000,
            123_456_789,
            -7,
            -10_001,
            big,
            big + 1,
            -big - 1,
            big * 3,
        ] {
            for fee_bps in [0, 1, 5, 10_000, u32::MAX] {
                assert_eq!(
                    fee_on(value, fee_bps),
                    value * i128::from(fee_bps) / 10_000,
                    "{value} at {fee_bps} bps"
                );
            }
        }
    }
}
