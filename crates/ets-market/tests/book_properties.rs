//! Property test of the continuous book over random order flow: after every
//! operation the book is not crossed and its internal invariants hold; every
//! order's `filled + open + cancelled == ordered`; every fill is on tick,
//! inside the band and between two accounts; the fills of each order add up
//! to what its updates say it filled (so tonnes bought = tonnes sold); every
//! refusal changes nothing; the book's snapshot decodes to the same book;
//! and replaying the same operations gives the same book.

use ets_market::{
    Amendment, Book, BookLimits, InstrumentRules, OrderId, OrderKind, OrderRequest, OrderStatus,
    OrderUpdate, Report, Side, TimeInForce,
};
use ets_model::{AccountId, Price, Quantity, Timestamp};
use proptest::prelude::*;
use std::collections::BTreeMap;

const REFERENCE_TICKS: i64 = 10_000;
const TICK: i64 = 5;

/// Small limits so that the limit refusals happen too.
const RULES: InstrumentRules = InstrumentRules {
    tick_size_ticks: TICK,
    lot_size_tonnes: 10,
    min_order_tonnes: 10,
    max_order_tonnes: 500,
    price_band_bps: Some(1_000),
    limits: BookLimits {
        max_open_orders_per_account: 6,
        max_orders: 20,
        max_price_levels_per_side: 8,
    },
};

#[derive(Debug, Clone)]
enum Operation {
    Submit {
        trader: u64,
        side: Side,
        price_ticks: i64,
        tonnes: u64,
        market: bool,
        time_in_force: TimeInForce,
    },
    Cancel {
        trader: u64,
        pick: usize,
    },
    Amend {
        trader: u64,
        pick: usize,
        price_ticks: i64,
        tonnes: u64,
    },
    Expire,
}

/// A step of time, now and then backwards (to be refused).
type Step = (i64, Operation);

fn price_ticks() -> impl Strategy<Value = i64> {
    prop_oneof![
        12 => (-12_i64..=12).prop_map(|k| REFERENCE_TICKS + k * TICK),
        1 => (-12_i64..=12).prop_map(|k| REFERENCE_TICKS + k * TICK + 1),
        1 => prop_oneof![Just(REFERENCE_TICKS - 1_005), Just(REFERENCE_TICKS + 1_005), Just(0_i64)],
    ]
}

fn tonnes() -> impl Strategy<Value = u64> {
    prop_oneof![
        10 => (1_u64..=12).prop_map(|lots| lots * 10),
        1 => Just(0_u64),
        1 => Just(15_u64),
        1 => Just(510_u64),
    ]
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}

fn time_in_force() -> impl Strategy<Value = TimeInForce> {
    prop_oneof![
        6 => Just(TimeInForce::Day),
        2 => Just(TimeInForce::ImmediateOrCancel),
        2 => Just(TimeInForce::FillOrKill),
    ]
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        12 => (0_u64..4, side(), price_ticks(), tonnes(), prop::bool::weighted(0.15), time_in_force())
            .prop_map(|(trader, side, price_ticks, tonnes, market, time_in_force)| Operation::Submit {
                trader, side, price_ticks, tonnes, market, time_in_force,
            }),
        3 => (0_u64..4, any::<usize>()).prop_map(|(trader, pick)| Operation::Cancel { trader, pick }),
        3 => (0_u64..4, any::<usize>(), price_ticks(), tonnes())
            .prop_map(|(trader, pick, price_ticks, tonnes)| Operation::Amend { trader, pick, price_ticks, tonnes }),
        1 => Just(Operation::Expire),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    (prop_oneof![20 => 0_i64..=3, 1 => Just(-1_i64)], operation())
}

fn price(ticks: i64) -> Price {
    Price::try_new(ticks).expect("generated prices are non-negative")
}

/// What the test knows from the reports alone.
#[derive(Default)]
struct Model {
    /// Every id the book ever returned, for cancels and amends to pick from.
    ids: Vec<OrderId>,
    /// The last update of each order.
    last: BTreeMap<OrderId, OrderUpdate>,
    /// Tonnes each order traded, summed from the fills.
    traded: BTreeMap<OrderId, u64>,
    /// Tonnes bought minus tonnes sold, per account.
    positions: BTreeMap<AccountId, i128>,
}

impl Model {
    fn pick(&self, pick: usize) -> OrderId {
        if self.ids.is_empty() || pick % (self.ids.len() + 1) == self.ids.len() {
            return OrderId(u64::MAX - 1);
        }
        self.ids[pick % self.ids.len()]
    }
}

/// Applies one operation; returns the id of a new order, if any.
fn apply(
    book: &mut Book,
    model: &Model,
    step: &Step,
    now: Timestamp,
    report: &mut Report,
) -> Result<Option<OrderId>, String> {
    let result = match &step.1 {
        Operation::Submit {
            trader,
            side,
            price_ticks,
            tonnes,
            market,
            time_in_force,
        } => {
            let kind = if *market {
                OrderKind::Market
            } else {
                OrderKind::Limit(price(*price_ticks))
            };
            let request = OrderRequest {
                trader: AccountId(*trader),
                side: *side,
                kind,
                quantity: Quantity::new(*tonnes),
                time_in_force: *time_in_force,
            };
            book.submit(&request, now, report).map(Some)
        }
        Operation::Cancel { trader, pick } => book
            .cancel(AccountId(*trader), model.pick(*pick), now, report)
            .map(|()| None),
        Operation::Amend {
            trader,
            pick,
            price_ticks,
            tonnes,
        } => {
            let amendment = Amendment {
                price: price(*price_ticks),
                open_quantity: Quantity::new(*tonnes),
            };
            book.amend(
                AccountId(*trader),
                model.pick(*pick),
                &amendment,
                now,
                report,
            )
            .map(|()| None)
        }
        Operation::Expire => book.expire_day_orders(now, report).map(|()| None),
    };
    result.map_err(|error| error.code().to_string())
}

fn check_report(book: &Book, model: &mut Model, report: &Report) -> Result<(), TestCaseError> {
    let band = book.band().expect("the test rules have a band");
    for fill in &report.fills {
        prop_assert!(fill.quantity.tonnes() > 0);
        prop_assert_eq!(fill.price.ticks() % TICK, 0, "fill off tick: {:?}", fill);
        prop_assert!(
            band.contains(fill.price),
            "fill outside the band: {:?}",
            fill
        );
        prop_assert_ne!(fill.buyer, fill.seller, "self-trade: {:?}", fill);
        let tonnes = fill.quantity.tonnes();
        *model.traded.entry(fill.maker_order).or_insert(0) += tonnes;
        *model.traded.entry(fill.taker_order).or_insert(0) += tonnes;
        *model.positions.entry(fill.buyer).or_insert(0) += i128::from(tonnes);
        *model.positions.entry(fill.seller).or_insert(0) -= i128::from(tonnes);
    }
    for update in &report.updates {
        let accounted = u128::from(update.filled.tonnes())
            + u128::from(update.open.tonnes())
            + u128::from(update.cancelled.tonnes());
        prop_assert_eq!(
            accounted,
            u128::from(update.ordered.tonnes()),
            "does not add up: {:?}",
            update
        );
        prop_assert_eq!(
            update.status == OrderStatus::Open,
            update.open.tonnes() > 0,
            "{:?}",
            update
        );
        let traded = model.traded.get(&update.order).copied().unwrap_or(0);
        prop_assert_eq!(
            update.filled.tonnes(),
            traded,
            "fills disagree with {:?}",
            update
        );
        if let Some(previous) = model.last.get(&update.order) {
            prop_assert!(
                previous.status == OrderStatus::Open,
                "closed order changed: {:?}",
                update
            );
            prop_assert!(update.ordered >= previous.ordered && update.filled >= previous.filled);
        }
        model.last.insert(update.order, *update);
    }
    let net: i128 = model.positions.values().sum();
    prop_assert_eq!(net, 0, "tonnes bought differ from tonnes sold");
    Ok(())
}

fn check_book_matches_model(book: &Book, model: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(book.check_invariants(), Ok(()));
    let mut open = 0;
    for (id, update) in &model.last {
        let resting = book.order(*id);
        if update.status == OrderStatus::Open {
            open += 1;
            let view = resting.expect("an open order rests in the book");
            prop_assert_eq!(
                (view.ordered, view.filled, view.open, view.cancelled),
                (update.ordered, update.filled, update.open, update.cancelled)
            );
        } else {
            prop_assert!(resting.is_none(), "closed order {} still rests", id);
        }
    }
    prop_assert_eq!(open, book.open_order_count());
    Ok(())
}

/// The book's serialised form decodes to an equal book that encodes to the
/// same bytes and keeps every invariant (snapshots rebuild its storage).
fn check_snapshot_round_trip(book: &Book) -> Result<(), TestCaseError> {
    let bytes = postcard::to_stdvec(book).expect("a book encodes");
    let decoded: Book = postcard::from_bytes(&bytes).expect("a book decodes");
    prop_assert_eq!(decoded.check_invariants(), Ok(()));
    prop_assert_eq!(&decoded, book);
    prop_assert_eq!(
        postcard::to_stdvec(&decoded).expect("a book encodes"),
        bytes
    );
    Ok(())
}

fn run(steps: &[Step]) -> Result<Book, TestCaseError> {
    let mut book = Book::new(RULES, price(REFERENCE_TICKS)).expect("the test rules are valid");
    let mut model = Model::default();
    let mut report = Report::default();
    let mut now = 1_000_i64;
    for step in steps {
        now += step.0;
        let before = book.clone();
        match apply(&mut book, &model, step, Timestamp(now), &mut report) {
            Err(_) => {
                prop_assert_eq!(&book, &before, "a refusal changed the book: {:?}", step);
                prop_assert_eq!(&report, &Report::default());
                now -= step.0;
            }
            Ok(new_order) => {
                if let Some(id) = new_order {
                    prop_assert!(!model.ids.contains(&id), "id {} reused", id);
                    model.ids.push(id);
                }
                check_report(&book, &mut model, &report)?;
            }
        }
        check_book_matches_model(&book, &model)?;
        check_snapshot_round_trip(&book)?;
    }
    Ok(book)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_order_flow_keeps_every_book_invariant(steps in prop::collection::vec(step(), 1..200)) {
        // Goal: the invariants listed at the top of this file hold after every
        // operation, and the same operations replay to the same book.
        let book = run(&steps)?;
        let replayed = run(&steps)?;
        prop_assert_eq!(book, replayed);
    }
}
