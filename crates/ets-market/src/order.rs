//! The vocabulary shared by every trading mode: order ids, sides, order
//! requests, fills, order updates and the report a call fills in.

use ets_model::{AccountId, Price, Quantity, Timestamp};
use serde::{Deserialize, Serialize};

/// An order, a listed-agreement take, a block proposal or acceptance, or an
/// auction bid. Each book, desk or auction numbers its own from 1 in order of
/// arrival, so ids are deterministic; the engine pairs them with the
/// instrument to make them unique.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OrderId(pub u64);

impl std::fmt::Display for OrderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Buy or sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Side {
    /// Buys units, pays cash.
    Buy,
    /// Sells units, receives cash.
    Sell,
}

impl Side {
    /// The other side.
    #[must_use]
    pub const fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        })
    }
}

/// How long an order may live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeInForce {
    /// Rests until filled, cancelled or the end of the session
    /// ([`crate::Book::expire_day_orders`]).
    Day,
    /// Trades what it can now; the remainder is cancelled.
    ImmediateOrCancel,
    /// Trades its whole quantity now or nothing at all.
    FillOrKill,
}

/// Limit or market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderKind {
    /// Trades at this price or better.
    Limit(Price),
    /// Trades at any price within the band; never rests.
    Market,
}

/// A new order for the continuous book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRequest {
    /// Who sends it.
    pub trader: AccountId,
    /// Buy or sell.
    pub side: Side,
    /// Limit price or market.
    pub kind: OrderKind,
    /// How many tonnes.
    pub quantity: Quantity,
    /// Day, immediate-or-cancel or fill-or-kill.
    pub time_in_force: TimeInForce,
}

/// A change to a resting order: its new limit price and its new *open*
/// quantity. Lowering the quantity at the same price keeps the order's
/// place in the queue; raising it or changing the price sends it to the back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amendment {
    /// The new limit price.
    pub price: Price,
    /// The new open quantity (what is still to trade).
    pub open_quantity: Quantity,
}

/// One trade between a resting (maker) order and an incoming (taker) order.
/// The engine settles it: `quantity` units from seller to buyer against
/// `price × quantity` minor units from buyer to seller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    /// The order that was resting (the listed maker, the block proposal).
    pub maker_order: OrderId,
    /// The order that arrived (the listed take, the block acceptance).
    pub taker_order: OrderId,
    /// The buying account.
    pub buyer: AccountId,
    /// The selling account.
    pub seller: AccountId,
    /// The trade price: always the maker's price.
    pub price: Price,
    /// The tonnes traded.
    pub quantity: Quantity,
    /// When.
    pub at: Timestamp,
    /// The side of the taker.
    pub aggressor: Side,
}

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderStatus {
    /// Resting in the book, possibly partially filled.
    Open,
    /// Wholly traded.
    Filled,
    /// Closed with an untraded remainder (see [`OrderUpdate::reason`]).
    Cancelled,
}

/// What caused an [`OrderUpdate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UpdateReason {
    /// A new order now rests in the book.
    Accepted,
    /// The order traded.
    Traded,
    /// The owner amended the order.
    Amended,
    /// The owner cancelled the order.
    CancelledByOwner,
    /// The session ended ([`crate::Book::expire_day_orders`]).
    Expired,
    /// The resting order was cancelled because its owner's incoming order
    /// would have traded with it.
    SelfTradePrevented,
    /// The untraded remainder of an immediate-or-cancel or market order.
    UnfilledRemainder,
    /// A fill-or-kill order that could not trade in full; nothing traded.
    FillOrKillUnfillable,
}

/// The state of one order after a change. Always
/// `filled + open + cancelled == ordered`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderUpdate {
    /// The order.
    pub order: OrderId,
    /// Its owner.
    pub trader: AccountId,
    /// Its side.
    pub side: Side,
    /// Its limit price (`None` for a market order).
    pub price: Option<Price>,
    /// Where it stands now.
    pub status: OrderStatus,
    /// What changed it.
    pub reason: UpdateReason,
    /// Every tonne ever ordered (raised by an amendment upwards).
    pub ordered: Quantity,
    /// Tonnes traded.
    pub filled: Quantity,
    /// Tonnes still resting.
    pub open: Quantity,
    /// Tonnes cancelled (by the owner, an amendment down, expiry, prevention
    /// of a self-trade or an unfilled immediate remainder).
    pub cancelled: Quantity,
    /// When.
    pub at: Timestamp,
}

/// A resting order as seen from outside the book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderView {
    /// The order.
    pub order: OrderId,
    /// Its owner.
    pub trader: AccountId,
    /// Its side.
    pub side: Side,
    /// Its limit price.
    pub price: Price,
    /// Every tonne ever ordered.
    pub ordered: Quantity,
    /// Tonnes traded.
    pub filled: Quantity,
    /// Tonnes still resting.
    pub open: Quantity,
    /// Tonnes cancelled.
    pub cancelled: Quantity,
    /// When it first entered the book.
    pub entered_at: Timestamp,
}

/// What a call did: the fills in the order they happened, then the updates
/// of every order it touched (makers as they trade, the incoming order
/// last). The caller owns it and passes it again to avoid reallocating;
/// every call clears it first. On a refusal it is left empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Trades, in execution order.
    pub fills: Vec<Fill>,
    /// Order state changes, in execution order.
    pub updates: Vec<OrderUpdate>,
}

impl Report {
    /// Empties the report, keeping its memory.
    pub fn clear(&mut self) {
        self.fills.clear();
        self.updates.clear();
    }
}
