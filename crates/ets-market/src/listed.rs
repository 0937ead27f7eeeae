//! China's listed agreement (挂牌协议, docs/sources.md#cn-exchange): makers post orders
//! below 100,000 t within ±10% of the previous close; a taker sees the best
//! five price levels of the opposite side, picks one specific maker order
//! (at the same price, any maker) and trades the quantity it declares at the
//! maker's price. Nothing matches by itself: a post that would cross the
//! best opposite order is refused (the poster should take that order).

use crate::book::{Book, CrossPolicy};
use crate::data::Depth;
use crate::error::MarketError;
use crate::order::{
    Amendment, OrderId, OrderKind, OrderRequest, OrderView, Report, Side, TimeInForce,
};
use crate::rules::InstrumentRules;
use ets_model::{AccountId, Price, Quantity, Timestamp};
use serde::{Deserialize, Serialize};

/// How many price levels of the opposite side a taker may choose from.
pub const LISTED_VISIBLE_LEVELS: usize = 5;

/// A maker's order to post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostRequest {
    /// Who posts.
    pub trader: AccountId,
    /// Buy or sell.
    pub side: Side,
    /// The price it will trade at.
    pub price: Price,
    /// How many tonnes it offers or bids for.
    pub quantity: Quantity,
}

/// A taker's pick of one maker order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TakeRequest {
    /// Who takes.
    pub trader: AccountId,
    /// The maker order picked (its side decides the taker's: the opposite).
    pub maker_order: OrderId,
    /// The tonnes the taker declares; at most the maker's open quantity.
    pub quantity: Quantity,
}

/// The listed-agreement book of one instrument: a [`Book`] whose orders
/// never match by themselves. Posted orders are day orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedBook {
    book: Book,
    visible_levels: usize,
}

impl ListedBook {
    /// An empty listed book; use [`InstrumentRules::CHINA_LISTED`] and
    /// [`LISTED_VISIBLE_LEVELS`] for China's rules.
    ///
    /// # Errors
    /// As [`Book::new`], and [`MarketError::InvalidRules`] when
    /// `visible_levels` is 0.
    pub fn new(
        rules: InstrumentRules,
        reference_price: Price,
        visible_levels: usize,
    ) -> Result<ListedBook, MarketError> {
        if visible_levels == 0 {
            return Err(MarketError::InvalidRules(
                "a taker must see at least one level",
            ));
        }
        Ok(ListedBook {
            book: Book::new(rules, reference_price)?,
            visible_levels,
        })
    }

    /// The underlying book, read-only (orders, depth, band, invariants).
    #[must_use]
    pub fn book(&self) -> &Book {
        &self.book
    }

    /// Moves the band to a new reference price (the previous close).
    ///
    /// # Errors
    /// As [`Book::set_reference_price`].
    pub fn set_reference_price(&mut self, price: Price) -> Result<(), MarketError> {
        self.book.set_reference_price(price)
    }

    /// What a taker on the other side sees: the orders of `side` in its best
    /// visible levels, best price first, then time.
    #[must_use]
    pub fn visible_orders(&self, side: Side) -> Vec<OrderView> {
        self.book.orders_in_best_levels(side, self.visible_levels)
    }

    /// The best `levels` levels of each side.
    #[must_use]
    pub fn depth(&self, levels: usize) -> Depth {
        self.book.depth(levels)
    }

    /// Posts a maker order; it rests until taken, cancelled or expired.
    ///
    /// # Errors
    /// As [`Book::submit`] for a day limit order, and
    /// [`MarketError::WouldCross`] when its price reaches the best opposite
    /// order.
    pub fn post(
        &mut self,
        request: &PostRequest,
        now: Timestamp,
        report: &mut Report,
    ) -> Result<OrderId, MarketError> {
        let order = OrderRequest {
            trader: request.trader,
            side: request.side,
            kind: OrderKind::Limit(request.price),
            quantity: request.quantity,
            time_in_force: TimeInForce::Day,
        };
        self.book
            .submit_with(&order, CrossPolicy::Refuse, now, report)
    }

    /// Takes `request.quantity` from one maker order at the maker's price.
    /// Returns the id given to the take (the fill's `taker_order`).
    ///
    /// # Errors
    /// [`MarketError::TimeWentBackwards`], [`MarketError::UnknownOrder`],
    /// [`MarketError::SelfTrade`] (picking one's own order),
    /// [`MarketError::OutsideVisibleLevels`], [`MarketError::ZeroQuantity`],
    /// [`MarketError::OffLot`] or [`MarketError::ExceedsOpenQuantity`].
    pub fn take(
        &mut self,
        request: &TakeRequest,
        now: Timestamp,
        report: &mut Report,
    ) -> Result<OrderId, MarketError> {
        self.book.take(request, self.visible_levels, now, report)
    }

    /// Cancels a maker order.
    ///
    /// # Errors
    /// As [`Book::cancel`].
    pub fn cancel(
        &mut self,
        trader: AccountId,
        order: OrderId,
        now: Timestamp,
        report: &mut Report,
    ) -> Result<(), MarketError> {
        self.book.cancel(trader, order, now, report)
    }

    /// Amends a maker order (priority as in [`Book::amend`]).
    ///
    /// # Errors
    /// As [`Book::amend`], and [`MarketError::WouldCross`] when the new price
    /// reaches the best opposite order.
    pub fn amend(
        &mut self,
        trader: AccountId,
        order: OrderId,
        amendment: &Amendment,
        now: Timestamp,
        report: &mut Report,
    ) -> Result<(), MarketError> {
        self.book
            .amend_with(trader, order, amendment, CrossPolicy::Refuse, now, report)
    }

    /// Cancels every maker order at the end of the session.
    ///
    /// # Errors
    /// As [`Book::expire_day_orders`].
    pub fn expire_day_orders(
        &mut self,
        now: Timestamp,
        report: &mut Report,
    ) -> Result<(), MarketError> {
        self.book.expire_day_orders(now, report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::{OrderStatus, UpdateReason};

    fn price(ticks: i64) -> Price {
        Price::try_new(ticks).expect("test prices are non-negative")
    }

    fn listed() -> ListedBook {
        ListedBook::new(
            InstrumentRules::CHINA_LISTED,
            price(5_000),
            LISTED_VISIBLE_LEVELS,
        )
        .expect("China's listed rules are valid")
    }

    fn post(book: &mut ListedBook, trader: u64, side: Side, ticks: i64, tonnes: u64) -> OrderId {
        let request = PostRequest {
            trader: AccountId(trader),
            side,
            price: price(ticks),
            quantity: Quantity::new(tonnes),
        };
        book.post(&request, Timestamp(1), &mut Report::default())
            .expect("the post is valid")
    }

    fn take_request(trader: u64, maker_order: OrderId, tonnes: u64) -> TakeRequest {
        TakeRequest {
            trader: AccountId(trader),
            maker_order,
            quantity: Quantity::new(tonnes),
        }
    }

    /// Six sell levels 50.00 .. 50.05, one maker each (accounts 1..=6).
    fn six_ask_levels(book: &mut ListedBook) -> Vec<OrderId> {
        (0..6)
            .map(|i| {
                post(
                    book,
                    1 + i,
                    Side::Sell,
                    5_000 + i64::try_from(i).unwrap_or(0),
                    1_000,
                )
            })
            .collect()
    }

    #[test]
    fn taker_picks_a_maker_within_best_five_and_trades_at_its_price() {
        // Goal: a buyer picks the 4th-best ask and trades its declared 300 t
        // at that maker's price, leaving the maker partially filled.
        let mut book = listed();
        let asks = six_ask_levels(&mut book);
        let mut report = Report::default();
        let take = book
            .take(&take_request(9, asks[3], 300), Timestamp(2), &mut report)
            .unwrap();
        assert_eq!(report.fills.len(), 1);
        let fill = report.fills[0];
        assert_eq!((fill.maker_order, fill.taker_order), (asks[3], take));
        assert_eq!((fill.buyer, fill.seller), (AccountId(9), AccountId(4)));
        assert_eq!(
            (fill.price, fill.quantity),
            (price(5_003), Quantity::new(300))
        );
        assert_eq!(fill.aggressor, Side::Buy);
        let maker = book.book().order(asks[3]).unwrap();
        assert_eq!(
            (maker.filled, maker.open),
            (Quantity::new(300), Quantity::new(700))
        );
        let taker_update = report.updates.last().unwrap();
        assert_eq!(taker_update.status, OrderStatus::Filled);
        assert_eq!(book.book().check_invariants(), Ok(()));
    }

    #[test]
    fn picking_an_order_outside_best_five_is_refused_and_changes_nothing() {
        // Goal: the sixth-best level is invisible to takers.
        let mut book = listed();
        let asks = six_ask_levels(&mut book);
        let before = book.clone();
        let mut report = Report::default();
        let error = book
            .take(&take_request(9, asks[5], 100), Timestamp(2), &mut report)
            .unwrap_err();
        assert_eq!(error.code(), "outside_visible_levels");
        assert_eq!(book, before);
        assert!(report.fills.is_empty());
        assert_eq!(book.visible_orders(Side::Sell).len(), 5);
    }

    #[test]
    fn taker_may_pick_any_maker_at_the_same_price_and_take_it_whole() {
        // Goal: at one price the later maker may be picked over the earlier;
        // taking its whole quantity removes it.
        let mut book = listed();
        let first = post(&mut book, 1, Side::Buy, 4_990, 500);
        let second = post(&mut book, 2, Side::Buy, 4_990, 400);
        let mut report = Report::default();
        book.take(&take_request(3, second, 400), Timestamp(2), &mut report)
            .unwrap();
        assert_eq!(report.fills[0].seller, AccountId(3));
        assert_eq!(report.updates[0].status, OrderStatus::Filled);
        assert_eq!(report.updates[0].reason, UpdateReason::Traded);
        assert_eq!(book.book().order(second), None);
        assert!(book.book().order(first).is_some());
        assert_eq!(book.book().check_invariants(), Ok(()));
    }

    #[test]
    fn listed_posts_of_100000_tonnes_or_outside_ten_percent_are_refused() {
        // Goal: the listed agreement's size and band limits.
        let mut book = listed();
        let before = book.clone();
        let mut report = Report::default();
        let too_big = PostRequest {
            trader: AccountId(1),
            side: Side::Sell,
            price: price(5_000),
            quantity: Quantity::new(100_000),
        };
        let error = book.post(&too_big, Timestamp(1), &mut report).unwrap_err();
        assert_eq!(error.code(), "above_maximum_quantity");
        let outside = PostRequest {
            price: price(5_501),
            quantity: Quantity::new(10),
            ..too_big
        };
        let error = book.post(&outside, Timestamp(1), &mut report).unwrap_err();
        assert_eq!(error.code(), "outside_price_band");
        assert_eq!(book, before);
    }

    #[test]
    fn a_post_that_would_cross_is_refused_and_changes_nothing() {
        // Goal: listed orders never match by themselves, so the book stays
        // uncrossed; a bid at the best ask must take that ask instead.
        let mut book = listed();
        post(&mut book, 1, Side::Sell, 5_010, 100);
        let bid = post(&mut book, 2, Side::Buy, 5_000, 100);
        let before = book.clone();
        let mut report = Report::default();
        let crossing = PostRequest {
            trader: AccountId(3),
            side: Side::Buy,
            price: price(5_010),
            quantity: Quantity::new(100),
        };
        let error = book.post(&crossing, Timestamp(2), &mut report).unwrap_err();
        assert_eq!(error.code(), "would_cross");
        let amend = Amendment {
            price: price(5_020),
            open_quantity: Quantity::new(100),
        };
        let error = book
            .amend(AccountId(2), bid, &amend, Timestamp(2), &mut report)
            .unwrap_err();
        assert_eq!(error.code(), "would_cross");
        assert_eq!(book, before);
    }

    #[test]
    fn taking_ones_own_order_or_more_than_is_open_is_refused() {
        // Goal: the two take-specific refusals, each changing nothing.
        let mut book = listed();
        let ask = post(&mut book, 1, Side::Sell, 5_000, 100);
        let before = book.clone();
        let mut report = Report::default();
        let error = book
            .take(&take_request(1, ask, 10), Timestamp(2), &mut report)
            .unwrap_err();
        assert_eq!(error.code(), "self_trade");
        let error = book
            .take(&take_request(2, ask, 101), Timestamp(2), &mut report)
            .unwrap_err();
        assert_eq!(error.code(), "exceeds_open_quantity");
        assert!(error.to_string().contains("101"));
        let error = book
            .take(&take_request(2, OrderId(99), 1), Timestamp(2), &mut report)
            .unwrap_err();
        assert_eq!(error.code(), "unknown_order");
        assert_eq!(book, before);
    }
}
