//! Why the market refused a call: one variant per reason, each with a stable
//! snake_case code and a message that names the offending value. A refused
//! call changes nothing.

use crate::order::{OrderId, Side};
use ets_model::AccountId;
use thiserror::Error;

/// A business rejection by a book, a desk or an auction.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MarketError {
    /// The quantity is zero.
    #[error("quantity must be at least 1 tonne, got 0")]
    ZeroQuantity,
    /// The quantity is not a whole number of lots.
    #[error("quantity {quantity_tonnes} t is not a multiple of the lot size {lot_size_tonnes} t")]
    OffLot {
        /// The offending quantity.
        quantity_tonnes: u64,
        /// The instrument's lot size.
        lot_size_tonnes: u64,
    },
    /// The quantity is below the instrument's minimum order size.
    #[error("quantity {quantity_tonnes} t is below the minimum order of {minimum_tonnes} t")]
    BelowMinimumQuantity {
        /// The offending quantity.
        quantity_tonnes: u64,
        /// The smallest order allowed.
        minimum_tonnes: u64,
    },
    /// The quantity is above the instrument's maximum order size.
    #[error("quantity {quantity_tonnes} t is above the maximum order of {maximum_tonnes} t")]
    AboveMaximumQuantity {
        /// The offending quantity.
        quantity_tonnes: u64,
        /// The largest order allowed.
        maximum_tonnes: u64,
    },
    /// The price is zero.
    #[error("price must be positive, got {price_ticks} ticks")]
    NonPositivePrice {
        /// The offending price.
        price_ticks: i64,
    },
    /// The price is not a whole number of ticks of the instrument.
    #[error("price {price_ticks} is not a multiple of the tick size {tick_size_ticks}")]
    OffTick {
        /// The offending price.
        price_ticks: i64,
        /// The instrument's tick size.
        tick_size_ticks: i64,
    },
    /// The price is outside the static band around the reference price.
    #[error(
        "price {price_ticks} is outside the band {lower_ticks}..={upper_ticks} \
         around the reference price {reference_ticks}"
    )]
    OutsidePriceBand {
        /// The offending price.
        price_ticks: i64,
        /// The lowest price allowed.
        lower_ticks: i64,
        /// The highest price allowed.
        upper_ticks: i64,
        /// The reference price (the previous close).
        reference_ticks: i64,
    },
    /// A market order was sent as a day order; market orders never rest.
    #[error("a market order must be immediate-or-cancel or fill-or-kill, got day")]
    MarketOrderMustBeImmediate,
    /// No open order (or bid) has this id.
    #[error("order {0} is not open")]
    UnknownOrder(OrderId),
    /// The order (or bid) belongs to another account.
    #[error("order {order} belongs to account {owner}, not to account {trader}")]
    NotOwner {
        /// The order named.
        order: OrderId,
        /// Its owner.
        owner: AccountId,
        /// Who tried.
        trader: AccountId,
    },
    /// The account has as many open orders (proposals, bids) as allowed.
    #[error("account {trader} already has {limit} open orders, the limit")]
    TooManyOpenOrders {
        /// The account.
        trader: AccountId,
        /// The limit per account.
        limit: u32,
    },
    /// The book (desk, auction) holds as many orders as allowed.
    #[error("the book already holds {limit} orders, the limit")]
    BookFull {
        /// The limit per book.
        limit: u32,
    },
    /// The order would open a new price level on a side that has the maximum.
    #[error("the {side} side already has {limit} price levels, the limit")]
    TooManyPriceLevels {
        /// The side of the book.
        side: Side,
        /// The limit per side.
        limit: u32,
    },
    /// The call is dated before the last accepted call.
    #[error("time {now_ms} ms is before the last accepted time {last_ms} ms")]
    TimeWentBackwards {
        /// The time given.
        now_ms: i64,
        /// The time of the last accepted call.
        last_ms: i64,
    },
    /// A listed-agreement order would cross the best opposite order.
    #[error(
        "price {price_ticks} would cross the best opposite price {opposite_ticks}; \
         take that order instead"
    )]
    WouldCross {
        /// The offending price.
        price_ticks: i64,
        /// The best price on the other side.
        opposite_ticks: i64,
    },
    /// The account would trade with itself.
    #[error("account {trader} cannot trade with itself")]
    SelfTrade {
        /// The account.
        trader: AccountId,
    },
    /// A listed-agreement taker picked an order outside the visible levels.
    #[error("order {order} is not within the best {levels} price levels")]
    OutsideVisibleLevels {
        /// The order picked.
        order: OrderId,
        /// How many levels a taker may see.
        levels: usize,
    },
    /// A listed-agreement taker asked for more than the maker has open.
    #[error("{requested_tonnes} t requested, but order {order} has only {open_tonnes} t open")]
    ExceedsOpenQuantity {
        /// The order picked.
        order: OrderId,
        /// The taker's declared quantity.
        requested_tonnes: u64,
        /// The maker's open quantity.
        open_tonnes: u64,
    },
    /// No open block proposal has this id.
    #[error("proposal {0} is not open")]
    UnknownProposal(OrderId),
    /// Only the named counterparty may accept or decline a proposal.
    #[error("proposal {proposal} is addressed to account {counterparty}, not to account {trader}")]
    NotCounterparty {
        /// The proposal.
        proposal: OrderId,
        /// Its named counterparty.
        counterparty: AccountId,
        /// Who tried.
        trader: AccountId,
    },
    /// The proposal's expiry time has passed.
    #[error("proposal {proposal} expired at {expires_at_ms} ms")]
    ProposalExpired {
        /// The proposal.
        proposal: OrderId,
        /// When it expired.
        expires_at_ms: i64,
    },
    /// A proposal's expiry is not after the time of the call.
    #[error("expiry {expires_at_ms} ms is not after the time of the call {now_ms} ms")]
    ExpiryNotInFuture {
        /// The expiry given.
        expires_at_ms: i64,
        /// The time of the call.
        now_ms: i64,
    },
    /// The auction has closed: no more bids, changes or withdrawals.
    #[error("the auction is closed")]
    AuctionClosed,
    /// The rules themselves are inconsistent.
    #[error("invalid rules: {0}")]
    InvalidRules(&'static str),
    /// A sum or product does not fit its type.
    #[error("arithmetic overflow: {0}")]
    Overflow(&'static str),
}

impl MarketError {
    /// The stable machine-readable code of this error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            MarketError::ZeroQuantity => "zero_quantity",
            MarketError::OffLot { .. } => "off_lot",
            MarketError::BelowMinimumQuantity { .. } => "below_minimum_quantity",
            MarketError::AboveMaximumQuantity { .. } => "above_maximum_quantity",
            MarketError::NonPositivePrice { .. } => "non_positive_price",
            MarketError::OffTick { .. } => "off_tick",
            MarketError::OutsidePriceBand { .. } => "outside_price_band",
            MarketError::MarketOrderMustBeImmediate => "market_order_must_be_immediate",
            MarketError::UnknownOrder(_) => "unknown_order",
            MarketError::NotOwner { .. } => "not_owner",
            MarketError::TooManyOpenOrders { .. } => "too_many_open_orders",
            MarketError::BookFull { .. } => "book_full",
            MarketError::TooManyPriceLevels { .. } => "too_many_price_levels",
            MarketError::TimeWentBackwards { .. } => "time_went_backwards",
            MarketError::WouldCross { .. } => "would_cross",
            MarketError::SelfTrade { .. } => "self_trade",
            MarketError::OutsideVisibleLevels { .. } => "outside_visible_levels",
            MarketError::ExceedsOpenQuantity { .. } => "exceeds_open_quantity",
            MarketError::UnknownProposal(_) => "unknown_proposal",
            MarketError::NotCounterparty { .. } => "not_counterparty",
            MarketError::ProposalExpired { .. } => "proposal_expired",
            MarketError::ExpiryNotInFuture { .. } => "expiry_not_in_future",
            MarketError::AuctionClosed => "auction_closed",
            MarketError::InvalidRules(_) => "invalid_rules",
            MarketError::Overflow(_) => "overflow",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_offending_value_and_codes_are_snake_case() {
        // Goal: the code is stable snake_case and the message carries the value.
        let error = MarketError::OffTick {
            price_ticks: 5_001,
            tick_size_ticks: 5,
        };
        assert_eq!(error.code(), "off_tick");
        assert!(error.to_string().contains("5001"));
        let error = MarketError::NotOwner {
            order: OrderId(7),
            owner: AccountId(1),
            trader: AccountId(2),
        };
        assert!(error.to_string().contains("order 7"));
        assert!(
            error
                .code()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_')
        );
    }
}
