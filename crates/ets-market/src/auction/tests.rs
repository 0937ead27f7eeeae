//! Tests of auctions: hand-computed clearing prices and tie-breaks, reserve
//! prices, undersubscription, the cost containment reserve, purchase limits
//! and the bid lifecycle.

use super::*;

fn price(ticks: i64) -> Price {
    Price::try_new(ticks).expect("test prices are non-negative")
}

fn bid(auction: &mut Auction, bidder: u64, ticks: i64, tonnes: u64) -> OrderId {
    auction
        .submit_bid(
            AccountId(bidder),
            price(ticks),
            Quantity::new(tonnes),
            Timestamp(1),
        )
        .expect("the bid is valid")
}

/// Awards as (bid id, tonnes), in bid id order.
fn won(outcome: &AuctionOutcome) -> Vec<(u64, u64)> {
    outcome
        .awards
        .iter()
        .map(|award| (award.bid.0, award.quantity.tonnes()))
        .collect()
}

/// The book of bids used by the hand-computed tests, 5,000 t offered in lots
/// of 500: cumulative 2,000 (80.10), 3,500 (80.05), then 4,000 t at 80.00 for
/// the remaining 1,500 t, so the clearing price is 80.00.
fn hand_computed(rules: AuctionRules, seed: u64) -> AuctionOutcome {
    let mut auction = Auction::new(rules, seed).expect("rules are valid");
    bid(&mut auction, 1, 8_010, 2_000);
    bid(&mut auction, 2, 8_005, 1_500);
    bid(&mut auction, 3, 8_000, 2_000);
    bid(&mut auction, 4, 8_000, 1_000);
    bid(&mut auction, 5, 8_000, 1_000);
    bid(&mut auction, 6, 7_990, 1_000);
    auction.close(Timestamp(2)).expect("the auction is open")
}

#[test]
fn splitmix64_matches_the_reference_generator() {
    // Goal: our SplitMix64 step is the published one (seed 0, first output),
    // so anyone can reproduce a tie-break from the seed.
    assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
    assert_ne!(tie_break_rank(1, OrderId(1)), tie_break_rank(1, OrderId(2)));
}

#[test]
fn clearing_price_is_hand_computed_and_the_seed_orders_the_marginal_bids() {
    // Goal: price 80.00; bids 1 and 2 filled in full; the 1,500 t left at
    // 80.00 go in seeded order. Seed 2024 ranks the marginal bids 4, 3, 5:
    // bid 4 gets 1,000 t, bid 3 the last 500 t, bid 5 nothing. Seed 7 ranks
    // them 4, 5, 3.
    let outcome = hand_computed(AuctionRules::eu(Quantity::new(5_000)), 2024);
    assert_eq!(outcome.status, AuctionStatus::Cleared);
    assert_eq!(outcome.clearing_price, Some(price(8_000)));
    assert_eq!(
        won(&outcome),
        vec![(1, 2_000), (2, 1_500), (3, 500), (4, 1_000)]
    );
    assert!(
        outcome
            .awards
            .iter()
            .all(|award| award.price == price(8_000))
    );
    assert_eq!(
        (outcome.sold, outcome.unsold),
        (Quantity::new(5_000), Quantity::ZERO)
    );
    let outcome = hand_computed(AuctionRules::eu(Quantity::new(5_000)), 7);
    assert_eq!(
        won(&outcome),
        vec![(1, 2_000), (2, 1_500), (4, 1_000), (5, 500)]
    );
}

#[test]
fn pro_rata_shares_the_marginal_level_in_whole_lots() {
    // Goal: 3 lots left for 8 lots bid at 80.00 (bids 3, 4, 5 with 4, 2, 2
    // lots): floors 1, 0, 0; the 2 leftover lots go in seeded order (4, 3, 5
    // for seed 2024): bid 4 +1 lot, bid 3 +1 lot.
    let rules = AuctionRules {
        tie_break: TieBreak::ProRata,
        ..AuctionRules::eu(Quantity::new(5_000))
    };
    let outcome = hand_computed(rules, 2024);
    assert_eq!(
        won(&outcome),
        vec![(1, 2_000), (2, 1_500), (3, 1_000), (4, 500)]
    );
    assert_eq!(outcome.sold, Quantity::new(5_000));
}

#[test]
fn undersubscribed_auction_with_reserve_clears_at_lowest_bid_above_reserve() {
    // Goal: reserve 80.00; the bid at 79.90 is not eligible; 3,000 t of
    // eligible demand for 5,000 t: all filled at 80.00 (the lowest eligible
    // bid), 2,000 t reported unsold.
    let rules = AuctionRules {
        reserve_price: Some(price(8_000)),
        cancel_if_undersubscribed: false,
        ..AuctionRules::eu(Quantity::new(5_000))
    };
    let mut auction = Auction::new(rules, 1).unwrap();
    bid(&mut auction, 1, 8_100, 2_000);
    bid(&mut auction, 2, 8_000, 1_000);
    bid(&mut auction, 3, 7_990, 3_000);
    let outcome = auction.close(Timestamp(2)).unwrap();
    assert_eq!(outcome.status, AuctionStatus::Undersubscribed);
    assert_eq!(outcome.clearing_price, Some(price(8_000)));
    assert_eq!(won(&outcome), vec![(1, 2_000), (2, 1_000)]);
    assert_eq!(outcome.sold, Quantity::new(3_000));
    assert_eq!(outcome.unsold, Quantity::new(2_000));
    assert_eq!(outcome.bid_volume, Quantity::new(3_000));
}

#[test]
fn no_eligible_bid_sells_nothing_without_a_price() {
    // Goal: every bid below the reserve: nothing sold, no price.
    let rules = AuctionRules::rggi(Quantity::new(10_000), price(250), None);
    let mut auction = Auction::new(rules, 1).unwrap();
    bid(&mut auction, 1, 249, 1_000);
    let outcome = auction.close(Timestamp(2)).unwrap();
    assert_eq!(outcome.status, AuctionStatus::Undersubscribed);
    assert_eq!(outcome.clearing_price, None);
    assert_eq!(outcome.unsold, Quantity::new(10_000));
    assert!(outcome.awards.is_empty());
}

#[test]
fn eu_auction_is_cancelled_when_bids_fall_short_of_the_volume() {
    // Goal: EU rule: 4,500 t bid for 5,000 t offered cancels the auction.
    let mut auction = Auction::new(AuctionRules::eu(Quantity::new(5_000)), 1).unwrap();
    bid(&mut auction, 1, 8_000, 4_000);
    bid(&mut auction, 2, 7_000, 500);
    let outcome = auction.close(Timestamp(2)).unwrap();
    assert_eq!(
        outcome.status,
        AuctionStatus::Cancelled(CancellationCause::InsufficientBidVolume)
    );
    assert!(outcome.awards.is_empty());
    assert_eq!(
        (outcome.sold, outcome.unsold),
        (Quantity::ZERO, Quantity::new(5_000))
    );
}

#[test]
fn auction_is_cancelled_below_the_minimum_clearing_price() {
    // Goal: a clearing price of 80.00 under a minimum of 80.01 cancels, and
    // the would-be price is reported.
    let rules = AuctionRules {
        minimum_clearing_price: Some(price(8_001)),
        ..AuctionRules::eu(Quantity::new(5_000))
    };
    let outcome = hand_computed(rules, 2024);
    assert_eq!(
        outcome.status,
        AuctionStatus::Cancelled(CancellationCause::ClearingPriceTooLow {
            minimum: price(8_001)
        })
    );
    assert_eq!(outcome.clearing_price, Some(price(8_000)));
    assert!(outcome.awards.is_empty());
}

#[test]
fn cost_containment_reserve_is_released_when_the_price_exceeds_the_trigger() {
    // Goal: 10,000 t offered; bids 6,000 @ 15.00, 4,000 @ 14.00, 2,000 @
    // 13.50, 3,000 @ 12.00. Without the reserve the price is 14.00 > trigger
    // 13.00, so 1,000 t more are offered to bids at or above 13.00: the price
    // falls to 13.50, bid 3 wins 1,000 t and the whole reserve is released.
    let reserve = CostContainmentReserve {
        trigger_price: price(1_300),
        volume: Quantity::new(1_000),
    };
    let rules = AuctionRules {
        purchase_limit_bps: None,
        ..AuctionRules::rggi(Quantity::new(10_000), price(238), Some(reserve))
    };
    let mut auction = Auction::new(rules, 1).unwrap();
    bid(&mut auction, 1, 1_500, 6_000);
    bid(&mut auction, 2, 1_400, 4_000);
    bid(&mut auction, 3, 1_350, 2_000);
    bid(&mut auction, 4, 1_200, 3_000);
    let outcome = auction.close(Timestamp(2)).unwrap();
    assert_eq!(outcome.status, AuctionStatus::Cleared);
    assert_eq!(outcome.clearing_price, Some(price(1_350)));
    assert_eq!(won(&outcome), vec![(1, 6_000), (2, 4_000), (3, 1_000)]);
    assert_eq!(outcome.sold, Quantity::new(11_000));
    assert_eq!(outcome.cost_containment_released, Quantity::new(1_000));
    assert_eq!(outcome.unsold, Quantity::ZERO);
}

#[test]
fn cost_containment_reserve_is_not_sold_below_the_trigger() {
    // Goal: demand at or above the trigger is 10,500 t for 11,000 t, so only
    // 500 t of the reserve are sold, at the lowest bid above the trigger; the
    // bid at 12.00 wins nothing.
    let reserve = CostContainmentReserve {
        trigger_price: price(1_300),
        volume: Quantity::new(1_000),
    };
    let rules = AuctionRules {
        purchase_limit_bps: None,
        lot_size_tonnes: 500,
        ..AuctionRules::rggi(Quantity::new(10_000), price(238), Some(reserve))
    };
    let mut auction = Auction::new(rules, 1).unwrap();
    bid(&mut auction, 1, 1_500, 6_000);
    bid(&mut auction, 2, 1_400, 3_000);
    bid(&mut auction, 3, 1_350, 1_500);
    bid(&mut auction, 4, 1_200, 3_000);
    let outcome = auction.close(Timestamp(2)).unwrap();
    assert_eq!(outcome.clearing_price, Some(price(1_350)));
    assert_eq!(won(&outcome), vec![(1, 6_000), (2, 3_000), (3, 1_500)]);
    assert_eq!(outcome.cost_containment_released, Quantity::new(500));
    assert_eq!(outcome.status, AuctionStatus::Cleared);
}

#[test]
fn purchase_limit_trims_each_bidders_lowest_priced_bids_first() {
    // Goal: 25% of 10,000 t is 2,500 t per bidder. Bidder 1 bids 2,000 @
    // 15.00 and 1,000 @ 14.00: the cheaper bid is trimmed by 500 t. Bidder 2
    // bids 10,000 @ 10.00: trimmed to 2,500 t.
    let rules = AuctionRules {
        lot_size_tonnes: 500,
        ..AuctionRules::california(Quantity::new(10_000), price(100), 2_500)
    };
    let mut auction = Auction::new(rules, 1).unwrap();
    bid(&mut auction, 1, 1_500, 2_000);
    bid(&mut auction, 1, 1_400, 1_000);
    bid(&mut auction, 2, 1_000, 10_000);
    let outcome = auction.close(Timestamp(2)).unwrap();
    let trims: Vec<(u64, u64)> = outcome
        .trimmed
        .iter()
        .map(|trim| (trim.bid.0, trim.removed.tonnes()))
        .collect();
    assert_eq!(trims, vec![(2, 500), (3, 7_500)]);
    assert_eq!(won(&outcome), vec![(1, 2_000), (2, 500), (3, 2_500)]);
    assert_eq!(outcome.status, AuctionStatus::Undersubscribed);
    assert_eq!(outcome.unsold, Quantity::new(5_000));
    assert_eq!(outcome.clearing_price, Some(price(1_000)));
}

#[test]
fn bids_can_be_modified_and_withdrawn_until_the_close_only() {
    // Goal: a modified bid keeps its id and counts at its new price; a
    // withdrawn bid is gone; after the close every change is refused.
    let mut auction = Auction::new(AuctionRules::eu(Quantity::new(1_000)), 1).unwrap();
    let first = bid(&mut auction, 1, 8_000, 1_000);
    let second = bid(&mut auction, 2, 7_000, 1_000);
    auction
        .modify_bid(
            AccountId(2),
            second,
            price(9_000),
            Quantity::new(500),
            Timestamp(2),
        )
        .unwrap();
    let third = auction
        .submit_bid(AccountId(3), price(8_500), Quantity::new(500), Timestamp(2))
        .unwrap();
    auction
        .withdraw_bid(AccountId(3), third, Timestamp(3))
        .unwrap();
    let outcome = auction.close(Timestamp(4)).unwrap();
    assert_eq!(outcome.clearing_price, Some(price(8_000)));
    assert_eq!(won(&outcome), vec![(first.0, 500), (second.0, 500)]);
    let closed = auction.clone();
    let errors = [
        auction
            .submit_bid(AccountId(4), price(8_000), Quantity::new(500), Timestamp(5))
            .map(|_| ()),
        auction.modify_bid(
            AccountId(1),
            first,
            price(8_100),
            Quantity::new(500),
            Timestamp(5),
        ),
        auction
            .withdraw_bid(AccountId(1), first, Timestamp(5))
            .map(|_| ()),
        auction.close(Timestamp(5)).map(|_| ()),
    ];
    for error in errors {
        assert_eq!(error.map_err(|e| e.code()), Err("auction_closed"));
    }
    assert_eq!(auction, closed);
}

#[test]
fn invalid_bids_are_refused_and_change_nothing() {
    // Goal: every bid refusal names its reason and leaves the auction as it was.
    let rules = AuctionRules {
        max_bids_per_bidder: 1,
        tick_size_ticks: 5,
        ..AuctionRules::eu(Quantity::new(5_000))
    };
    let mut auction = Auction::new(rules, 1).unwrap();
    let own = bid(&mut auction, 1, 8_000, 500);
    let before = auction.clone();
    let cases: [(u64, i64, u64, &str); 6] = [
        (2, 8_000, 0, "zero_quantity"),
        (2, 8_000, 700, "off_lot"),
        (2, 8_001, 500, "off_tick"),
        (2, 0, 500, "non_positive_price"),
        (2, 8_000, 5_500, "above_maximum_quantity"),
        (1, 8_000, 500, "too_many_open_orders"),
    ];
    for (bidder, ticks, tonnes, code) in cases {
        let result = auction.submit_bid(
            AccountId(bidder),
            price(ticks),
            Quantity::new(tonnes),
            Timestamp(2),
        );
        assert_eq!(result.map_err(|e| e.code()), Err(code));
    }
    let not_owner = auction.withdraw_bid(AccountId(2), own, Timestamp(2));
    assert_eq!(not_owner.map_err(|e| e.code()), Err("not_owner"));
    let unknown = auction.withdraw_bid(AccountId(1), OrderId(99), Timestamp(2));
    assert_eq!(unknown.map_err(|e| e.code()), Err("unknown_order"));
    let backwards =
        auction.submit_bid(AccountId(2), price(8_000), Quantity::new(500), Timestamp(0));
    assert_eq!(backwards.map_err(|e| e.code()), Err("time_went_backwards"));
    assert_eq!(auction, before);
}

#[test]
fn invalid_auction_rules_are_refused() {
    // Goal: a volume that is not whole lots, or a zero purchase limit, is refused.
    let rules = AuctionRules::eu(Quantity::new(5_001));
    assert_eq!(
        Auction::new(rules, 1).map_err(|e| e.code()),
        Err("invalid_rules")
    );
    let rules = AuctionRules::california(Quantity::new(5_000), price(100), 0);
    assert_eq!(
        Auction::new(rules, 1).map_err(|e| e.code()),
        Err("invalid_rules")
    );
}
