//! Primary auctions (docs/sources.md#eu-auctions, #rggi, #wci): single round, sealed bids in
//! lots, modifiable and withdrawable until the close, one uniform clearing
//! price.
//!
//! Clearing: eligible bids (at or above the reserve price, trimmed to the
//! purchase limit) are sorted by price, highest first; the clearing price is
//! the price of the bid at which the cumulative volume reaches the volume
//! offered. Bids above it are filled in full; the bids at the clearing price
//! share the remainder by [`TieBreak`]. When demand falls short, every
//! eligible bid is filled at the lowest eligible price and the rest is
//! reported unsold, unless the rules cancel the auction instead (EU).
//!
//! **Tie-break permutation.** Each bid's rank is
//! `splitmix64(seed ^ splitmix64(bid_id))` ([`tie_break_rank`]), where
//! `splitmix64` is the finaliser of Steele, Lea and Flood's SplitMix64
//! generator ([`splitmix64`]). Every step of it is a bijection of `u64`, so
//! distinct bids always get distinct ranks: the order is a permutation of the
//! bids fixed by the seed before the auction, independent of arrival order,
//! reproducible by anyone who is given the seed afterwards. The auctioneer
//! keeps the seed secret until the close.

use crate::error::MarketError;
use crate::order::OrderId;
use ets_model::{AccountId, Price, Quantity, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Basis points in one whole (100%).
const BPS_PER_WHOLE: u128 = 10_000;

/// One step of SplitMix64: adds the golden-ratio increment to `state` and
/// mixes it. A bijection of `u64`; `splitmix64(0)` is `0xE220_A839_7B1D_CDAF`,
/// the first output of the reference generator seeded with 0.
#[must_use]
pub const fn splitmix64(state: u64) -> u64 {
    let mut z = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A bid's place in the tie-break order for `seed`: lower goes first.
/// Distinct bids always have distinct ranks.
#[must_use]
pub const fn tie_break_rank(seed: u64, bid: OrderId) -> u64 {
    splitmix64(seed ^ splitmix64(bid.0))
}

/// How the bids at the clearing price share what is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TieBreak {
    /// One after another in the seeded order, each filled as far as possible
    /// (EU: "ties ordered by a random algorithm fixed before the auction").
    SeededOrder,
    /// In proportion to their quantities, in whole lots rounded down; the
    /// lots left over go one each to bids in the seeded order.
    ProRata,
}

/// RGGI's cost containment reserve: extra allowances released when the
/// clearing price would exceed a trigger, sold only at or above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostContainmentReserve {
    /// Released only when the clearing price would be above this.
    pub trigger_price: Price,
    /// How many extra allowances at most.
    pub volume: Quantity,
}

/// The rules of one auction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuctionRules {
    /// The allowances for sale (a whole number of lots).
    pub volume_offered: Quantity,
    /// Bids are in whole lots of this many tonnes.
    pub lot_size_tonnes: u64,
    /// Bid prices are multiples of this many ticks.
    pub tick_size_ticks: i64,
    /// No sale below this price; lower bids are not eligible.
    pub reserve_price: Option<Price>,
    /// How the marginal price level is shared.
    pub tie_break: TieBreak,
    /// Cancel the auction when the eligible bid volume is below the volume
    /// offered (EU) instead of selling what is bid (UK, RGGI, California).
    pub cancel_if_undersubscribed: bool,
    /// Cancel the auction when the clearing price would be below this (the
    /// EU's "significantly below the secondary market": the caller computes
    /// the threshold).
    pub minimum_clearing_price: Option<Price>,
    /// RGGI's cost containment reserve.
    pub cost_containment: Option<CostContainmentReserve>,
    /// A bidder may win at most this share of the volume offered, in basis
    /// points (RGGI 2,500 = 25%); its lowest-priced bids are trimmed first.
    pub purchase_limit_bps: Option<u32>,
    /// Bids one bidder may have.
    pub max_bids_per_bidder: u32,
    /// Bids in the auction.
    pub max_bids: u32,
}

impl AuctionRules {
    /// EU-style: lots of 500, no reserve, seeded tie-break, cancelled when
    /// undersubscribed (docs/sources.md#eu-auctions).
    #[must_use]
    pub const fn eu(volume_offered: Quantity) -> AuctionRules {
        AuctionRules {
            volume_offered,
            lot_size_tonnes: 500,
            tick_size_ticks: 1,
            reserve_price: None,
            tie_break: TieBreak::SeededOrder,
            cancel_if_undersubscribed: true,
            minimum_clearing_price: None,
            cost_containment: None,
            purchase_limit_bps: None,
            max_bids_per_bidder: 100,
            max_bids: 100_000,
        }
    }

    /// RGGI-style: lots of 1,000, a reserve price, an optional cost
    /// containment reserve, a 25% purchase limit (docs/sources.md#rggi, unconfirmed
    /// values: pass the scheme's).
    #[must_use]
    pub const fn rggi(
        volume_offered: Quantity,
        reserve_price: Price,
        cost_containment: Option<CostContainmentReserve>,
    ) -> AuctionRules {
        AuctionRules {
            volume_offered,
            lot_size_tonnes: 1_000,
            tick_size_ticks: 1,
            reserve_price: Some(reserve_price),
            tie_break: TieBreak::SeededOrder,
            cancel_if_undersubscribed: false,
            minimum_clearing_price: None,
            cost_containment,
            purchase_limit_bps: Some(2_500),
            max_bids_per_bidder: 100,
            max_bids: 100_000,
        }
    }

    /// California-style: lots of 1,000, a reserve price, ties pro rata, a
    /// purchase limit (docs/sources.md#wci).
    #[must_use]
    pub const fn california(
        volume_offered: Quantity,
        reserve_price: Price,
        purchase_limit_bps: u32,
    ) -> AuctionRules {
        AuctionRules {
            volume_offered,
            lot_size_tonnes: 1_000,
            tick_size_ticks: 1,
            reserve_price: Some(reserve_price),
            tie_break: TieBreak::ProRata,
            cancel_if_undersubscribed: false,
            minimum_clearing_price: None,
            cost_containment: None,
            purchase_limit_bps: Some(purchase_limit_bps),
            max_bids_per_bidder: 100,
            max_bids: 100_000,
        }
    }

    /// Checks that the rules make sense together.
    ///
    /// # Errors
    /// [`MarketError::InvalidRules`] naming the first inconsistency.
    pub fn validate(&self) -> Result<(), MarketError> {
        let lot = self.lot_size_tonnes;
        let volume = self.volume_offered.tonnes();
        let reserve_volume = self.cost_containment.map_or(0, |ccr| ccr.volume.tonnes());
        let checks = [
            (lot >= 1, "lot size must be at least 1 tonne"),
            (
                self.tick_size_ticks >= 1,
                "tick size must be at least 1 tick",
            ),
            (volume >= 1, "volume offered must be positive"),
            (
                volume.is_multiple_of(lot) && reserve_volume.is_multiple_of(lot),
                "volumes must be whole lots",
            ),
            (
                volume.checked_add(reserve_volume).is_some(),
                "volume plus reserve must fit in u64",
            ),
            (
                self.purchase_limit_bps
                    .is_none_or(|bps| (1..=10_000).contains(&bps)),
                "purchase limit must be 1..=10,000 basis points",
            ),
            (
                self.max_bids_per_bidder >= 1 && self.max_bids >= 1,
                "every limit must be at least 1",
            ),
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, why)) => Err(MarketError::InvalidRules(why)),
            None => Ok(()),
        }
    }

    /// The most one bid may ask for: everything that could be sold.
    fn max_bid_tonnes(&self) -> u64 {
        let reserve_volume = self.cost_containment.map_or(0, |ccr| ccr.volume.tonnes());
        self.volume_offered.tonnes().saturating_add(reserve_volume)
    }
}

/// A sealed bid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bid {
    /// Its id (kept when modified, and with it its tie-break rank).
    pub id: OrderId,
    /// Who bids.
    pub bidder: AccountId,
    /// The most it will pay per tonne.
    pub price: Price,
    /// How many tonnes (whole lots).
    pub quantity: Quantity,
    /// When it was last entered or modified.
    pub submitted_at: Timestamp,
}

/// Why an auction was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CancellationCause {
    /// Eligible bids total less than the volume offered.
    InsufficientBidVolume,
    /// The clearing price would have been below the minimum.
    ClearingPriceTooLow {
        /// The minimum clearing price.
        minimum: Price,
    },
}

/// How an auction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuctionStatus {
    /// The whole volume offered was sold.
    Cleared,
    /// Demand fell short: part (or none) of the volume is unsold.
    Undersubscribed,
    /// Nothing was sold.
    Cancelled(CancellationCause),
}

/// Allowances won by one bid, all at the clearing price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Award {
    /// The bid.
    pub bid: OrderId,
    /// Who won.
    pub bidder: AccountId,
    /// The uniform clearing price every winner pays.
    pub price: Price,
    /// The tonnes won.
    pub quantity: Quantity,
}

/// Part of a bid removed by the purchase limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrimmedBid {
    /// The bid.
    pub bid: OrderId,
    /// Its bidder.
    pub bidder: AccountId,
    /// The tonnes removed.
    pub removed: Quantity,
}

/// The result of an auction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuctionOutcome {
    /// How it ended.
    pub status: AuctionStatus,
    /// The uniform price; for a cancellation by minimum price, the price it
    /// would have had; `None` without eligible bids.
    pub clearing_price: Option<Price>,
    /// The volume offered, without the cost containment reserve.
    pub volume_offered: Quantity,
    /// Tonnes sold, reserve releases included.
    pub sold: Quantity,
    /// Tonnes of the volume offered not sold (the reserve's unsold tonnes
    /// stay in the reserve and are not counted).
    pub unsold: Quantity,
    /// Tonnes sold from the cost containment reserve.
    pub cost_containment_released: Quantity,
    /// Eligible bid volume after the reserve price and purchase limit
    /// (saturating at `u64::MAX`).
    pub bid_volume: Quantity,
    /// Winning bids, in bid id order.
    pub awards: Vec<Award>,
    /// Bids trimmed by the purchase limit, in bid id order.
    pub trimmed: Vec<TrimmedBid>,
}

/// A sealed-bid, uniform-price auction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Auction {
    rules: AuctionRules,
    seed: u64,
    bids: BTreeMap<OrderId, Bid>,
    bids_by_bidder: BTreeMap<AccountId, u32>,
    next_bid_id: u64,
    closed: bool,
    last_time: Timestamp,
}

/// An eligible bid during clearing.
#[derive(Debug, Clone, Copy)]
struct Entry {
    bid: OrderId,
    bidder: AccountId,
    price: Price,
    rank: u64,
    tonnes: u64,
}

/// Awards at one volume.
struct Clearing {
    price: Option<Price>,
    sold_tonnes: u64,
    /// Tonnes per entry, in the entries' order.
    awards: Vec<u64>,
}

impl Auction {
    /// An open auction. `seed` fixes the tie-break order before any bid
    /// arrives; keep it secret until the close.
    ///
    /// # Errors
    /// [`MarketError::InvalidRules`].
    pub fn new(rules: AuctionRules, seed: u64) -> Result<Auction, MarketError> {
        rules.validate()?;
        Ok(Auction {
            rules,
            seed,
            bids: BTreeMap::new(),
            bids_by_bidder: BTreeMap::new(),
            next_bid_id: 1,
            closed: false,
            last_time: Timestamp(i64::MIN),
        })
    }

    /// The rules.
    #[must_use]
    pub fn rules(&self) -> &AuctionRules {
        &self.rules
    }

    /// Whether the auction has closed.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// A bid.
    #[must_use]
    pub fn bid(&self, bid: OrderId) -> Option<&Bid> {
        self.bids.get(&bid)
    }

    /// Every bid, in id order.
    pub fn bids(&self) -> impl Iterator<Item = &Bid> {
        self.bids.values()
    }

    /// Enters a bid.
    ///
    /// # Errors
    /// [`MarketError::AuctionClosed`], [`MarketError::TimeWentBackwards`],
    /// [`MarketError::NonPositivePrice`], [`MarketError::OffTick`],
    /// [`MarketError::ZeroQuantity`], [`MarketError::OffLot`],
    /// [`MarketError::AboveMaximumQuantity`] (more than could be sold),
    /// [`MarketError::TooManyOpenOrders`] or [`MarketError::BookFull`].
    pub fn submit_bid(
        &mut self,
        bidder: AccountId,
        price: Price,
        quantity: Quantity,
        now: Timestamp,
    ) -> Result<OrderId, MarketError> {
        self.check_open(now)?;
        self.check_bid(price, quantity)?;
        self.check_capacity(bidder)?;
        if self.next_bid_id == u64::MAX {
            return Err(MarketError::Overflow("bid ids"));
        }
        // Validated: from here on nothing can fail.
        self.last_time = now;
        let id = OrderId(self.next_bid_id);
        self.next_bid_id += 1;
        let bid = Bid {
            id,
            bidder,
            price,
            quantity,
            submitted_at: now,
        };
        self.bids.insert(id, bid);
        *self.bids_by_bidder.entry(bidder).or_insert(0) += 1;
        Ok(id)
    }

    /// Changes a bid's price and quantity; it keeps its id and rank.
    ///
    /// # Errors
    /// As [`Auction::submit_bid`], plus [`MarketError::UnknownOrder`] and
    /// [`MarketError::NotOwner`].
    pub fn modify_bid(
        &mut self,
        bidder: AccountId,
        bid: OrderId,
        price: Price,
        quantity: Quantity,
        now: Timestamp,
    ) -> Result<(), MarketError> {
        self.check_open(now)?;
        self.check_owner(bidder, bid)?;
        self.check_bid(price, quantity)?;
        self.last_time = now;
        if let Some(entry) = self.bids.get_mut(&bid) {
            entry.price = price;
            entry.quantity = quantity;
            entry.submitted_at = now;
        }
        Ok(())
    }

    /// Withdraws a bid; returns it.
    ///
    /// # Errors
    /// [`MarketError::AuctionClosed`], [`MarketError::TimeWentBackwards`],
    /// [`MarketError::UnknownOrder`] or [`MarketError::NotOwner`].
    pub fn withdraw_bid(
        &mut self,
        bidder: AccountId,
        bid: OrderId,
        now: Timestamp,
    ) -> Result<Bid, MarketError> {
        self.check_open(now)?;
        let withdrawn = self.check_owner(bidder, bid)?;
        self.last_time = now;
        self.bids.remove(&bid);
        let emptied = match self.bids_by_bidder.get_mut(&bidder) {
            Some(count) => {
                *count = count.saturating_sub(1);
                *count == 0
            }
            None => false,
        };
        if emptied {
            self.bids_by_bidder.remove(&bidder);
        }
        Ok(withdrawn)
    }

    /// Closes the auction and clears it. The bids stay for the record.
    ///
    /// # Errors
    /// [`MarketError::AuctionClosed`] or [`MarketError::TimeWentBackwards`].
    pub fn close(&mut self, now: Timestamp) -> Result<AuctionOutcome, MarketError> {
        self.check_open(now)?;
        self.last_time = now;
        self.closed = true;
        Ok(self.outcome())
    }

    fn check_open(&self, now: Timestamp) -> Result<(), MarketError> {
        if self.closed {
            return Err(MarketError::AuctionClosed);
        }
        if now < self.last_time {
            return Err(MarketError::TimeWentBackwards {
                now_ms: now.unix_ms(),
                last_ms: self.last_time.unix_ms(),
            });
        }
        Ok(())
    }

    fn check_bid(&self, price: Price, quantity: Quantity) -> Result<(), MarketError> {
        let ticks = price.ticks();
        if ticks <= 0 {
            return Err(MarketError::NonPositivePrice { price_ticks: ticks });
        }
        if ticks % self.rules.tick_size_ticks != 0 {
            return Err(MarketError::OffTick {
                price_ticks: ticks,
                tick_size_ticks: self.rules.tick_size_ticks,
            });
        }
        let tonnes = quantity.tonnes();
        if tonnes == 0 {
            return Err(MarketError::ZeroQuantity);
        }
        if !tonnes.is_multiple_of(self.rules.lot_size_tonnes) {
            return Err(MarketError::OffLot {
                quantity_tonnes: tonnes,
                lot_size_tonnes: self.rules.lot_size_tonnes,
            });
        }
        if tonnes > self.rules.max_bid_tonnes() {
            return Err(MarketError::AboveMaximumQuantity {
                quantity_tonnes: tonnes,
                maximum_tonnes: self.rules.max_bid_tonnes(),
            });
        }
        Ok(())
    }

    fn check_capacity(&self, bidder: AccountId) -> Result<(), MarketError> {
        let held = self.bids_by_bidder.get(&bidder).copied().unwrap_or(0);
        if held >= self.rules.max_bids_per_bidder {
            return Err(MarketError::TooManyOpenOrders {
                trader: bidder,
                limit: self.rules.max_bids_per_bidder,
            });
        }
        if self.bids.len() >= usize::try_from(self.rules.max_bids).unwrap_or(usize::MAX) {
            return Err(MarketError::BookFull {
                limit: self.rules.max_bids,
            });
        }
        Ok(())
    }

    fn check_owner(&self, bidder: AccountId, bid: OrderId) -> Result<Bid, MarketError> {
        let existing = *self.bids.get(&bid).ok_or(MarketError::UnknownOrder(bid))?;
        if existing.bidder != bidder {
            return Err(MarketError::NotOwner {
                order: bid,
                owner: existing.bidder,
                trader: bidder,
            });
        }
        Ok(existing)
    }

    /// Clears the bids as they stand.
    fn outcome(&self) -> AuctionOutcome {
        let rules = &self.rules;
        let base_tonnes = rules.volume_offered.tonnes();
        let mut entries = self.eligible_entries();
        let trimmed = self.apply_purchase_limit(&mut entries);
        entries.retain(|entry| entry.tonnes > 0);
        let bid_tonnes: u128 = entries.iter().map(|e| u128::from(e.tonnes)).sum();
        let mut outcome = AuctionOutcome {
            status: AuctionStatus::Cancelled(CancellationCause::InsufficientBidVolume),
            clearing_price: None,
            volume_offered: rules.volume_offered,
            sold: Quantity::ZERO,
            unsold: rules.volume_offered,
            cost_containment_released: Quantity::ZERO,
            bid_volume: Quantity::new(u64::try_from(bid_tonnes).unwrap_or(u64::MAX)),
            awards: Vec::new(),
            trimmed,
        };
        if rules.cancel_if_undersubscribed && bid_tonnes < u128::from(base_tonnes) {
            return outcome;
        }
        let (clearing, released_tonnes) = self.clear_with_reserve(&entries);
        outcome.clearing_price = clearing.price;
        if let (Some(minimum), Some(price)) = (rules.minimum_clearing_price, clearing.price)
            && price < minimum
        {
            outcome.status =
                AuctionStatus::Cancelled(CancellationCause::ClearingPriceTooLow { minimum });
            return outcome;
        }
        let sold_from_base = clearing.sold_tonnes.min(base_tonnes);
        outcome.status = if sold_from_base == base_tonnes {
            AuctionStatus::Cleared
        } else {
            AuctionStatus::Undersubscribed
        };
        outcome.sold = Quantity::new(clearing.sold_tonnes);
        outcome.unsold = Quantity::new(base_tonnes - sold_from_base);
        outcome.cost_containment_released = Quantity::new(released_tonnes);
        outcome.awards = awards(&entries, &clearing);
        outcome
    }

    /// Bids at or above the reserve price, highest price first, then in
    /// tie-break order.
    fn eligible_entries(&self) -> Vec<Entry> {
        let reserve = self.rules.reserve_price;
        let mut entries: Vec<Entry> = self
            .bids
            .values()
            .filter(|bid| reserve.is_none_or(|reserve| bid.price >= reserve))
            .map(|bid| Entry {
                bid: bid.id,
                bidder: bid.bidder,
                price: bid.price,
                rank: tie_break_rank(self.seed, bid.id),
                tonnes: bid.quantity.tonnes(),
            })
            .collect();
        entries.sort_by(|a, b| b.price.cmp(&a.price).then(a.rank.cmp(&b.rank)));
        entries
    }

    /// Trims each bidder's bids, highest price first, to the purchase limit
    /// (a share of the volume offered rounded down to whole lots).
    fn apply_purchase_limit(&self, entries: &mut [Entry]) -> Vec<TrimmedBid> {
        let Some(bps) = self.rules.purchase_limit_bps else {
            return Vec::new();
        };
        let lot = self.rules.lot_size_tonnes;
        let share =
            u128::from(self.rules.volume_offered.tonnes()) * u128::from(bps) / BPS_PER_WHOLE;
        let limit = u64::try_from(share).unwrap_or(u64::MAX) / lot * lot;
        let mut used: BTreeMap<AccountId, u64> = BTreeMap::new();
        let mut trimmed = Vec::new();
        for entry in entries.iter_mut() {
            let taken = used.entry(entry.bidder).or_insert(0);
            let allowed = limit.saturating_sub(*taken).min(entry.tonnes);
            if allowed < entry.tonnes {
                trimmed.push(TrimmedBid {
                    bid: entry.bid,
                    bidder: entry.bidder,
                    removed: Quantity::new(entry.tonnes - allowed),
                });
                entry.tonnes = allowed;
            }
            *taken += allowed;
        }
        trimmed.sort_by_key(|trim| trim.bid);
        trimmed
    }

    /// Clears the volume offered; when the price would exceed the cost
    /// containment trigger, clears again with the reserve added, among the
    /// bids at or above the trigger only. Returns the clearing and the
    /// reserve tonnes sold.
    fn clear_with_reserve(&self, entries: &[Entry]) -> (Clearing, u64) {
        let base_tonnes = self.rules.volume_offered.tonnes();
        let lot = self.rules.lot_size_tonnes;
        let tie_break = self.rules.tie_break;
        let clearing = clear(entries, base_tonnes, lot, tie_break);
        let Some(reserve) = self.rules.cost_containment else {
            return (clearing, 0);
        };
        let triggered = clearing.sold_tonnes == base_tonnes
            && clearing
                .price
                .is_some_and(|price| price > reserve.trigger_price);
        if !triggered {
            return (clearing, 0);
        }
        // Entries are sorted by price, so those at or above the trigger are a prefix.
        let above = entries
            .iter()
            .take_while(|entry| entry.price >= reserve.trigger_price)
            .count();
        let volume = base_tonnes.saturating_add(reserve.volume.tonnes());
        let mut with_reserve = clear(&entries[..above], volume, lot, tie_break);
        with_reserve.awards.resize(entries.len(), 0);
        let released = with_reserve.sold_tonnes.saturating_sub(base_tonnes);
        (with_reserve, released)
    }
}

/// Fills `entries` (sorted) up to `volume` tonnes, level by level.
fn clear(entries: &[Entry], volume: u64, lot: u64, tie_break: TieBreak) -> Clearing {
    let mut awards = vec![0_u64; entries.len()];
    let mut remaining = volume;
    let mut price = None;
    let mut start = 0;
    while start < entries.len() && remaining > 0 {
        let level_price = entries[start].price;
        let width = entries[start..]
            .iter()
            .take_while(|entry| entry.price == level_price)
            .count();
        let end = start + width;
        let level = &entries[start..end];
        let level_tonnes: u128 = level.iter().map(|e| u128::from(e.tonnes)).sum();
        price = Some(level_price);
        if level_tonnes <= u128::from(remaining) {
            for (award, entry) in awards[start..end].iter_mut().zip(level) {
                *award = entry.tonnes;
                remaining -= entry.tonnes;
            }
        } else {
            share(level, &mut awards[start..end], remaining, lot, tie_break);
            remaining = 0;
        }
        start = end;
    }
    Clearing {
        price,
        sold_tonnes: volume - remaining,
        awards,
    }
}

/// Shares `remaining` tonnes (less than the level's total) among the bids of
/// the marginal level, which are in tie-break order.
fn share(level: &[Entry], awards: &mut [u64], remaining: u64, lot: u64, tie_break: TieBreak) {
    match tie_break {
        TieBreak::SeededOrder => {
            let mut left = remaining;
            for (award, entry) in awards.iter_mut().zip(level) {
                *award = entry.tonnes.min(left);
                left -= *award;
            }
        }
        TieBreak::ProRata => {
            let lots_left = u128::from(remaining / lot);
            let level_lots: u128 = level.iter().map(|e| u128::from(e.tonnes / lot)).sum();
            let mut given: u128 = 0;
            for (award, entry) in awards.iter_mut().zip(level) {
                let lots = lots_left * u128::from(entry.tonnes / lot) / level_lots.max(1);
                given += lots;
                *award = u64::try_from(lots).unwrap_or(0) * lot;
            }
            let mut extra = lots_left.saturating_sub(given);
            for (award, entry) in awards.iter_mut().zip(level) {
                if extra == 0 {
                    break;
                }
                if *award < entry.tonnes {
                    *award += lot;
                    extra -= 1;
                }
            }
        }
    }
}

/// Awards of a clearing, in bid id order.
fn awards(entries: &[Entry], clearing: &Clearing) -> Vec<Award> {
    let Some(price) = clearing.price else {
        return Vec::new();
    };
    let mut awards: Vec<Award> = entries
        .iter()
        .zip(&clearing.awards)
        .filter(|(_, tonnes)| **tonnes > 0)
        .map(|(entry, tonnes)| Award {
            bid: entry.bid,
            bidder: entry.bidder,
            price,
            quantity: Quantity::new(*tonnes),
        })
        .collect();
    awards.sort_by_key(|award| award.bid);
    awards
}

#[cfg(test)]
mod tests;
