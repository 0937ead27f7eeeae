//! The exchange against a real registry: matching with delivery versus
//! payment, partial fills, holds released on cancel, refusals that change
//! nothing, China's T+1, a block trade, an auction with a hand-computed
//! clearing price, and random order flow that conserves units and cash.

mod setup;

use ets_engine::exchange::{
    Allocations, AuctionId, CashBalance, Exchange, ExchangeCommand, ExchangeEffect, ExchangeError,
    HoldingLimit, TradingCalendar, TradingMode,
};
use ets_market::{
    AuctionRules, AuctionStatus, BookLimits, InstrumentRules, MarketDataRules, OrderId, OrderKind,
    Side, TimeInForce,
};
use ets_model::{
    AccountId, Code, Money, ParticipantId, Price, Quantity, Timestamp, UnitClass, Vintage,
};
use ets_registry::{
    AccountKind, AccountStatus, Context, ParticipantKind, Registry, RegistryCommand,
    TransactionKind, TransactionStatus,
};
use proptest::prelude::*;
use setup::{open_account, participant};

const ADMIN: u64 = 1;
const OPERATOR: u64 = 2;
const PLANT_A: u64 = 3;
const PLANT_B: u64 = 4;
const FUND: u64 = 5;

const A: AccountId = AccountId(10);
const B: AccountId = AccountId(11);
const F: AccountId = AccountId(12);
const FEES: AccountId = AccountId(20);
const AUCTION: AccountId = AccountId(2);

fn class() -> UnitClass {
    UnitClass::Allowance {
        scheme: Code::try_new("CEA").expect("a valid code"),
        vintage: Vintage(2021),
    }
}

fn code(text: &str) -> Code {
    Code::try_new(text).expect("a valid code")
}

fn price(ticks: i64) -> Price {
    Price::try_new(ticks).expect("a non-negative price")
}

/// Continuous rules: tick 5, lot 10, ±10% band.
const CONTINUOUS: InstrumentRules = InstrumentRules {
    tick_size_ticks: 5,
    lot_size_tonnes: 10,
    min_order_tonnes: 10,
    max_order_tonnes: 99_990,
    price_band_bps: Some(1_000),
    limits: BookLimits::DEFAULT,
};

struct World {
    registry: Registry,
    exchange: Exchange,
    time: i64,
    /// The allocation every compliance entity is told it has (holding limits).
    allocation: u64,
}

/// Every compliance entity has the same allocation of every class.
struct Fixed(u64);

impl Allocations for Fixed {
    fn allocation(&self, _entity: ParticipantId, _class: &UnitClass) -> Quantity {
        Quantity::new(self.0)
    }
}

impl World {
    /// Participants, accounts, 1 Mt issued and spread out, cash deposited,
    /// and three instruments: `C` continuous (fee 10 bps), `L` listed with
    /// T+1, `K` block.
    fn new() -> World {
        let mut world = World {
            registry: Registry::new(),
            exchange: Exchange::new(),
            time: 0,
            allocation: 0,
        };
        let setup = [
            participant(ADMIN, ParticipantKind::Administrator),
            participant(OPERATOR, ParticipantKind::Exchange),
            participant(PLANT_A, ParticipantKind::CoveredEntity),
            participant(PLANT_B, ParticipantKind::CoveredEntity),
            participant(FUND, ParticipantKind::Institution),
            open_account(1, AccountKind::Issuance, ADMIN),
            open_account(2, AccountKind::Auction, ADMIN),
            open_account(10, AccountKind::OperatorHolding, PLANT_A),
            open_account(11, AccountKind::OperatorHolding, PLANT_B),
            open_account(12, AccountKind::Trading, FUND),
            open_account(20, AccountKind::Trading, OPERATOR),
            RegistryCommand::Issue {
                class: class(),
                quantity: Quantity::new(1_000_000),
            },
        ];
        for command in setup {
            world.registry_command(ADMIN, &command);
        }
        for (to, quantity) in [(A, 200_000), (B, 200_000)] {
            world.registry_command(
                ADMIN,
                &RegistryCommand::Allocate {
                    to,
                    class: class(),
                    quantity: Quantity::new(quantity),
                },
            );
        }
        for (to, quantity) in [(F, 50_000), (AUCTION, 20_000)] {
            world.registry_command(
                ADMIN,
                &RegistryCommand::Transfer {
                    from: AccountId(1),
                    to,
                    class: class(),
                    quantity: Quantity::new(quantity),
                },
            );
        }
        for (account, amount) in [(A, 100_000_000), (B, 2_000_000_000), (F, 100_000_000)] {
            world.ok(OPERATOR, deposit(account, amount));
        }
        world.ok(
            ADMIN,
            listing("C", TradingMode::Continuous, CONTINUOUS, 10, false),
        );
        world.ok(
            ADMIN,
            listing(
                "L",
                TradingMode::ChinaListed,
                InstrumentRules::CHINA_LISTED,
                0,
                true,
            ),
        );
        world.ok(
            ADMIN,
            listing(
                "K",
                TradingMode::ChinaBlock,
                InstrumentRules::CHINA_BLOCK,
                0,
                true,
            ),
        );
        world
    }

    fn context(&mut self, requester: u64) -> Context {
        self.time += 1;
        Context {
            requester: ParticipantId(requester),
            at: Timestamp(self.time),
        }
    }

    fn registry_command(&mut self, requester: u64, command: &RegistryCommand) {
        let context = self.context(requester);
        self.registry
            .execute(context, command)
            .expect("the registry setup is valid");
    }

    fn run(
        &mut self,
        requester: u64,
        command: &ExchangeCommand,
    ) -> Result<ExchangeEffect, ExchangeError> {
        let context = self.context(requester);
        let allocations = Fixed(self.allocation);
        let result = self
            .exchange
            .execute_with(&mut self.registry, &allocations, context, command);
        if let Err(problem) = self.exchange.check_invariants(&self.registry) {
            panic!("invariant broken after {command:?}: {problem}");
        }
        result
    }

    fn ok(&mut self, requester: u64, command: ExchangeCommand) -> ExchangeEffect {
        self.run(requester, &command)
            .unwrap_or_else(|error| panic!("{command:?} refused: {error}"))
    }

    /// Runs a command that must be refused; checks that nothing changed and
    /// returns the refusal's code.
    fn refused(&mut self, requester: u64, command: ExchangeCommand) -> &'static str {
        let (registry, exchange) = (self.registry.clone(), self.exchange.clone());
        let error = self
            .run(requester, &command)
            .expect_err("the command must be refused");
        assert_eq!(self.registry, registry, "a refusal changed the registry");
        assert_eq!(self.exchange, exchange, "a refusal changed the exchange");
        error.code()
    }

    fn units(&self, account: AccountId) -> (u64, u64) {
        let index = self
            .registry
            .class_index(&class())
            .expect("the class was issued");
        self.registry
            .account(account)
            .expect("the account exists")
            .holding(index)
            .map_or((0, 0), |h| (h.total().tonnes(), h.reserved().tonnes()))
    }

    fn cash(&self, account: AccountId) -> (i64, i64) {
        let CashBalance { available, held } = self.exchange.cash(account);
        (available.minor_units(), held.minor_units())
    }
}

fn deposit(account: AccountId, amount: i64) -> ExchangeCommand {
    ExchangeCommand::DepositCash {
        account,
        amount: Money::new(amount),
    }
}

fn listing(
    symbol: &str,
    mode: TradingMode,
    rules: InstrumentRules,
    fee_bps: u32,
    no_same_day_resale: bool,
) -> ExchangeCommand {
    ExchangeCommand::ListInstrument {
        symbol: code(symbol),
        class: class(),
        mode,
        rules,
        reference_price: price(5_000),
        fee_bps,
        fee_account: FEES,
        no_same_day_resale,
        market_data: MarketDataRules::CHINA,
        calendar: None,
    }
}

fn order(
    symbol: &str,
    account: AccountId,
    side: Side,
    limit: i64,
    quantity: u64,
) -> ExchangeCommand {
    ExchangeCommand::PlaceOrder {
        instrument: code(symbol),
        account,
        side,
        kind: OrderKind::Limit(price(limit)),
        quantity: Quantity::new(quantity),
        time_in_force: TimeInForce::Day,
    }
}

fn entered(effect: &ExchangeEffect) -> (OrderId, Vec<u64>, u64) {
    match effect {
        ExchangeEffect::OrderEntered {
            order,
            trades,
            open,
            ..
        } => (*order, trades.clone(), open.tonnes()),
        other => panic!("expected an order, got {other:?}"),
    }
}

#[test]
fn a_match_moves_units_and_cash_in_the_same_step() {
    // Goal: a crossing buy settles at the maker's price: units oldest first
    // from seller to buyer through a completed registry transfer, cash from
    // the buyer to the seller, 10 bps from each side to the fee account.
    let mut world = World::new();
    let (ask, _, _) = entered(&world.ok(PLANT_A, order("C", A, Side::Sell, 5_000, 100)));
    assert_eq!(world.units(A), (200_000, 100));
    let (_, trades, open) = entered(&world.ok(PLANT_B, order("C", B, Side::Buy, 5_100, 60)));
    assert_eq!((trades.len(), open), (1, 0));
    assert_eq!(world.units(A), (199_940, 40));
    assert_eq!(world.units(B), (200_060, 0));
    // 60 t at 50.00 = 300,000 fen; fee 300 per side.
    assert_eq!(world.cash(B), (2_000_000_000 - 300_300, 0));
    assert_eq!(world.cash(A), (100_000_000 + 299_700, 0));
    assert_eq!(world.cash(FEES), (600, 0));
    let record = *world.exchange.trades().iter().next().expect("a trade");
    assert_eq!(
        (record.buyer, record.seller, record.price),
        (B, A, price(5_000))
    );
    let transaction = world.registry.transaction(record.transaction).unwrap();
    assert_eq!(transaction.kind, TransactionKind::Transfer);
    assert_eq!(transaction.status(), TransactionStatus::Completed);
    assert_eq!((transaction.from, transaction.to), (A, B));
    assert_eq!(transaction.quantity, Quantity::new(60));
    let first_serial_of_a = world.registry.issued_ranges(0)[0].start();
    assert_eq!(transaction.blocks[0].start(), first_serial_of_a);
    assert_eq!(
        world.exchange.order(&code("C"), ask).unwrap().open,
        Quantity::new(40)
    );
    let stats = world.exchange.day_stats(&code("C")).unwrap();
    assert_eq!((stats.volume, stats.trades), (Quantity::new(60), 1));
    assert_eq!(world.exchange.tape(&code("C")).len(), 1);
    world.registry.check_invariants().unwrap();
    world
        .registry
        .check_exchange_holds(&world.exchange.unit_holds())
        .unwrap();
}

#[test]
fn a_partial_fill_rests_the_remainder_and_holds_only_its_value() {
    // Goal: a buy for 150 t at 50.00 takes 100 t offered at 49.90 and rests
    // 50 t; the price improvement and the traded part are no longer held.
    let mut world = World::new();
    world.ok(PLANT_A, order("C", A, Side::Sell, 4_990, 100));
    let (bid, trades, open) = entered(&world.ok(PLANT_B, order("C", B, Side::Buy, 5_000, 150)));
    assert_eq!((trades.len(), open), (1, 50));
    // Paid 100 x 4,990 = 499,000 + fee 499; holds 50 x 5,000 = 250,000 + fee 250.
    assert_eq!(world.cash(B), (2_000_000_000 - 499_499 - 250_250, 250_250));
    assert_eq!(world.units(A), (199_900, 0));
    let depth = world.exchange.depth(&code("C")).unwrap();
    assert_eq!(depth.bids[0].quantity, Quantity::new(50));
    assert!(depth.asks.is_empty());
    assert_eq!(
        world.exchange.order(&code("C"), bid).unwrap().filled,
        Quantity::new(100)
    );
}

#[test]
fn cancelling_releases_units_and_cash() {
    // Goal: a cancelled sell gives back its units, a cancelled buy its cash.
    let mut world = World::new();
    let (ask, _, _) = entered(&world.ok(PLANT_A, order("C", A, Side::Sell, 5_100, 500)));
    let (bid, _, _) = entered(&world.ok(PLANT_B, order("C", B, Side::Buy, 4_900, 500)));
    assert_eq!(world.units(A), (200_000, 500));
    assert_eq!(world.cash(B).1, 500 * 4_900 + 2_450);
    let cancel = |account, order| ExchangeCommand::CancelOrder {
        instrument: code("C"),
        account,
        order,
    };
    world.ok(PLANT_A, cancel(A, ask));
    world.ok(PLANT_B, cancel(B, bid));
    assert_eq!(world.units(A), (200_000, 0));
    assert_eq!(world.cash(B), (2_000_000_000, 0));
    world.registry.check_invariants().unwrap();
}

#[test]
fn a_passive_order_holds_exactly_its_need_and_an_unfilled_immediate_one_nothing() {
    // Goal: an order that only rests, whole, keeps the hold it was entered
    // with (settlement skips it: the hold was computed for that price and
    // quantity), while an immediate-or-cancel order that finds no match
    // gives its whole hold back; the exchange's holds match the registry's.
    let mut world = World::new();
    let (_, trades, open) = entered(&world.ok(PLANT_B, order("C", B, Side::Buy, 4_900, 300)));
    assert_eq!((trades.len(), open), (0, 300));
    assert_eq!(world.cash(B), (2_000_000_000 - 1_471_470, 1_471_470));
    let (_, trades, open) = entered(&world.ok(PLANT_A, order("C", A, Side::Sell, 5_100, 200)));
    assert_eq!((trades.len(), open), (0, 200));
    assert_eq!(world.units(A), (200_000, 200));
    let immediate = |account, side, limit| ExchangeCommand::PlaceOrder {
        instrument: code("C"),
        account,
        side,
        kind: OrderKind::Limit(price(limit)),
        quantity: Quantity::new(50),
        time_in_force: TimeInForce::ImmediateOrCancel,
    };
    let (_, trades, open) = entered(&world.ok(PLANT_A, immediate(A, Side::Sell, 5_000)));
    assert_eq!((trades.len(), open), (0, 0));
    assert_eq!(world.units(A), (200_000, 200));
    let (_, trades, open) = entered(&world.ok(PLANT_B, immediate(B, Side::Buy, 5_000)));
    assert_eq!((trades.len(), open), (0, 0));
    assert_eq!(world.cash(B), (2_000_000_000 - 1_471_470, 1_471_470));
    world.registry.check_invariants().unwrap();
    world
        .registry
        .check_exchange_holds(&world.exchange.unit_holds())
        .unwrap();
}

#[test]
fn an_amendment_up_needs_a_larger_hold_first() {
    // Goal: raising a buy needs more cash held before the call; lowering frees it.
    let mut world = World::new();
    let (bid, _, _) = entered(&world.ok(PLANT_A, order("C", A, Side::Buy, 5_000, 10_000)));
    let amend = |quantity| ExchangeCommand::AmendOrder {
        instrument: code("C"),
        account: A,
        order: bid,
        price: price(5_000),
        quantity: Quantity::new(quantity),
    };
    // 20,000 t x 5,000 = 100,000,000 + fee > 100,000,000 available in all.
    assert_eq!(world.refused(PLANT_A, amend(20_000)), "insufficient_cash");
    world.ok(PLANT_A, amend(19_000));
    assert_eq!(world.cash(A).1, 95_000_000 + 95_000);
    world.ok(PLANT_A, amend(10));
    assert_eq!(world.cash(A), (100_000_000 - 50_050, 50_050));
}

#[test]
fn refused_orders_change_nothing() {
    // Goal: every refusal names its reason and leaves registry and exchange
    // exactly as they were.
    let mut world = World::new();
    assert_eq!(
        world.refused(PLANT_A, order("C", A, Side::Sell, 5_001, 10)),
        "off_tick"
    );
    assert_eq!(
        world.refused(PLANT_A, order("C", A, Side::Sell, 5_000, 15)),
        "off_lot"
    );
    assert_eq!(
        world.refused(PLANT_A, order("C", A, Side::Sell, 5_600, 10)),
        "outside_price_band"
    );
    assert_eq!(
        world.refused(FUND, order("C", F, Side::Sell, 5_000, 60_000)),
        "insufficient_units"
    );
    assert_eq!(
        world.refused(PLANT_A, order("C", A, Side::Buy, 5_000, 99_990)),
        "insufficient_cash"
    );
    assert_eq!(
        world.refused(PLANT_B, order("C", A, Side::Buy, 5_000, 10)),
        "not_representative"
    );
    assert_eq!(
        world.refused(PLANT_A, order("X", A, Side::Buy, 5_000, 10)),
        "unknown_instrument"
    );
    let market_buy_day = ExchangeCommand::PlaceOrder {
        instrument: code("C"),
        account: A,
        side: Side::Buy,
        kind: OrderKind::Market,
        quantity: Quantity::new(10),
        time_in_force: TimeInForce::Day,
    };
    assert_eq!(
        world.refused(PLANT_A, market_buy_day),
        "market_order_must_be_immediate"
    );
    // Someone else's order.
    let (ask, _, _) = entered(&world.ok(PLANT_A, order("C", A, Side::Sell, 5_000, 10)));
    let cancel = |account| ExchangeCommand::CancelOrder {
        instrument: code("C"),
        account,
        order: ask,
    };
    assert_eq!(world.refused(PLANT_B, cancel(B)), "not_owner");
    assert_eq!(world.refused(PLANT_B, cancel(A)), "not_representative");
    // A blocked account cannot trade.
    world.registry_command(
        ADMIN,
        &RegistryCommand::SetAccountStatus {
            account: F,
            status: AccountStatus::Blocked,
        },
    );
    assert_eq!(
        world.refused(FUND, order("C", F, Side::Buy, 5_000, 10)),
        "account_status_forbids"
    );
    // A block trade below the minimum of 100,000 t.
    let small_block = ExchangeCommand::ProposeBlock {
        instrument: code("K"),
        account: A,
        counterparty: B,
        side: Side::Sell,
        price: price(5_000),
        quantity: Quantity::new(99_999),
        expires_at: Timestamp(1_000_000),
    };
    assert_eq!(
        world.refused(PLANT_A, small_block),
        "below_minimum_quantity"
    );
    // Cash: only the operator, never beyond available.
    assert_eq!(world.refused(ADMIN, deposit(A, 1)), "not_exchange_operator");
    let withdraw = ExchangeCommand::WithdrawCash {
        account: A,
        amount: Money::new(100_000_001),
    };
    assert_eq!(world.refused(OPERATOR, withdraw), "insufficient_cash");
    assert_eq!(
        world.refused(
            PLANT_A,
            listing("C", TradingMode::Continuous, CONTINUOUS, 0, false)
        ),
        "not_administrator"
    );
}

#[test]
fn units_bought_today_cannot_be_resold_until_the_next_day() {
    // Goal: China's T+1 on the listed book: B buys 100 t, may sell only what
    // it held before today, and may sell the rest after the end of day.
    let mut world = World::new();
    let (ask, _, _) = entered(&world.ok(PLANT_A, order("L", A, Side::Sell, 5_000, 100)));
    let take = ExchangeCommand::TakeListed {
        instrument: code("L"),
        account: B,
        maker_order: ask,
        quantity: Quantity::new(100),
    };
    let (_, trades, _) = entered(&world.ok(PLANT_B, take));
    assert_eq!(trades.len(), 1);
    assert_eq!(world.units(B), (200_100, 0));
    assert_eq!(world.exchange.bought_today(B, 0), Quantity::new(100));
    let (_, _, open) = entered(&world.ok(PLANT_B, order("L", B, Side::Sell, 5_000, 99_999)));
    assert_eq!(open, 99_999);
    let (_, _, open) = entered(&world.ok(PLANT_B, order("L", B, Side::Sell, 5_000, 99_999)));
    assert_eq!(open, 99_999);
    assert_eq!(
        world.refused(PLANT_B, order("L", B, Side::Sell, 5_000, 3)),
        "same_day_resale"
    );
    world.ok(
        OPERATOR,
        ExchangeCommand::EndOfDay {
            instrument: code("L"),
        },
    );
    assert_eq!(
        world.units(B),
        (200_100, 0),
        "end of day expires the orders"
    );
    world.ok(PLANT_B, order("L", B, Side::Sell, 5_000, 99_999));
    world.ok(PLANT_B, order("L", B, Side::Sell, 5_000, 99_999));
    world.ok(PLANT_B, order("L", B, Side::Sell, 5_000, 102));
    assert_eq!(world.units(B), (200_100, 200_100));
}

/// Milliseconds since the epoch of a Beijing (UTC+8) local time in 2021.
/// 29 Sep 2021 was a Wednesday, 1 Oct a Friday (National Day), 2 Oct a Saturday.
fn beijing(month: i64, day: i64, hour: i64, minute: i64) -> i64 {
    // 1 Sep 2021 00:00 UTC.
    const SEPTEMBER_1: i64 = 1_630_454_400_000;
    let day_of_september = if month == 9 { day - 1 } else { 30 + day - 1 };
    SEPTEMBER_1 + ((day_of_september * 24 + hour - 8) * 60 + minute) * 60_000
}

/// Lists `symbol` with a calendar.
fn calendar_listing(
    symbol: &str,
    mode: TradingMode,
    rules: InstrumentRules,
    calendar: TradingCalendar,
) -> ExchangeCommand {
    match listing(symbol, mode, rules, 0, false) {
        ExchangeCommand::ListInstrument {
            symbol,
            class,
            mode,
            rules,
            reference_price,
            fee_bps,
            fee_account,
            no_same_day_resale,
            market_data,
            calendar: None,
        } => ExchangeCommand::ListInstrument {
            symbol,
            class,
            mode,
            rules,
            reference_price,
            fee_bps,
            fee_account,
            no_same_day_resale,
            market_data,
            calendar: Some(calendar),
        },
        other => panic!("not a plain listing: {other:?}"),
    }
}

#[test]
fn the_calendar_opens_only_in_beijing_sessions() {
    // Goal: with China's listed calendar an order at 10:00 on a Wednesday is
    // accepted; at lunch, after the close, on a Saturday and on a holiday it
    // is refused with market_closed and changes nothing; a cancel after the
    // close is allowed.
    let mut world = World::new();
    let mut calendar = TradingCalendar::china_listed();
    calendar.holidays.push((2021, 10, 1));
    world.ok(
        ADMIN,
        calendar_listing(
            "LC",
            TradingMode::ChinaListed,
            InstrumentRules::CHINA_LISTED,
            calendar,
        ),
    );
    assert_eq!(beijing(9, 29, 10, 0), 1_632_880_800_000);
    world.time = beijing(9, 29, 10, 0) - 1;
    let (ask, _, _) = entered(&world.ok(PLANT_A, order("LC", A, Side::Sell, 5_000, 100)));
    for (month, day, hour, minute) in [
        (9, 29, 12, 0),
        (9, 29, 11, 30),
        (9, 29, 16, 0),
        (10, 2, 10, 0),
        (10, 1, 10, 0),
    ] {
        world.time = beijing(month, day, hour, minute) - 1;
        assert_eq!(
            world.refused(PLANT_A, order("LC", A, Side::Sell, 5_000, 100)),
            "market_closed"
        );
    }
    world.time = beijing(9, 29, 12, 0) - 1;
    let error = world
        .run(PLANT_A, &order("LC", A, Side::Sell, 5_000, 100))
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("LC") && message.contains("2021-09-29 12:00"),
        "{message}"
    );
    // The same order on an instrument without a calendar is accepted.
    entered(&world.ok(PLANT_A, order("L", A, Side::Sell, 5_000, 100)));
    // Cancels are always allowed.
    world.time = beijing(9, 29, 16, 0);
    world.ok(
        PLANT_A,
        ExchangeCommand::CancelOrder {
            instrument: code("LC"),
            account: A,
            order: ask,
        },
    );
}

#[test]
fn a_block_calendar_opens_in_the_afternoon_only() {
    // Goal: on China's block calendar a proposal at 10:00 is refused with
    // market_closed; at 13:30 it is accepted and can be accepted in turn.
    let mut world = World::new();
    world.ok(
        ADMIN,
        calendar_listing(
            "KC",
            TradingMode::ChinaBlock,
            InstrumentRules::CHINA_BLOCK,
            TradingCalendar::china_block(),
        ),
    );
    let propose = |at: i64| ExchangeCommand::ProposeBlock {
        instrument: code("KC"),
        account: A,
        counterparty: B,
        side: Side::Sell,
        price: price(5_000),
        quantity: Quantity::new(150_000),
        expires_at: Timestamp(at + 3_600_000),
    };
    let morning = beijing(9, 29, 10, 0);
    world.time = morning - 1;
    assert_eq!(world.refused(PLANT_A, propose(morning)), "market_closed");
    let afternoon = beijing(9, 29, 13, 30);
    world.time = afternoon - 1;
    let (proposal, _, _) = entered(&world.ok(PLANT_A, propose(afternoon)));
    let (_, trades, _) = entered(&world.ok(
        PLANT_B,
        ExchangeCommand::AcceptBlock {
            instrument: code("KC"),
            account: B,
            proposal,
        },
    ));
    assert_eq!(trades.len(), 1);
}

#[test]
fn a_block_trade_settles_on_acceptance() {
    // Goal: a block proposal holds the seller's units; the named
    // counterparty's acceptance trades 150,000 t at 60.00 in one step.
    let mut world = World::new();
    let propose = ExchangeCommand::ProposeBlock {
        instrument: code("K"),
        account: A,
        counterparty: B,
        side: Side::Sell,
        price: price(6_000),
        quantity: Quantity::new(150_000),
        expires_at: Timestamp(1_000_000),
    };
    let (proposal, _, _) = entered(&world.ok(PLANT_A, propose));
    assert_eq!(world.units(A), (200_000, 150_000));
    let accept = |account| ExchangeCommand::AcceptBlock {
        instrument: code("K"),
        account,
        proposal,
    };
    assert_eq!(world.refused(FUND, accept(F)), "not_counterparty");
    let (_, trades, _) = entered(&world.ok(PLANT_B, accept(B)));
    assert_eq!(trades.len(), 1);
    assert_eq!(world.units(A), (50_000, 0));
    assert_eq!(world.units(B), (350_000, 0));
    assert_eq!(world.cash(B), (2_000_000_000 - 900_000_000, 0));
    assert_eq!(world.cash(A), (1_000_000_000, 0));
    assert!(world.exchange.proposal(&code("K"), proposal).is_none());
}

#[test]
fn an_auction_clears_at_the_hand_computed_price() {
    // Goal: EU auction of 5,000 t in lots of 500, seed 2024 (docs/market.md):
    // cumulative demand 2,000 @ 80.10, 3,500 @ 80.05, then 4,000 t @ 80.00
    // for the 1,500 t left, so the clearing price is 80.00; the seeded order
    // ranks bids 4, 3, 5, so bid 4 gets 1,000 t and bid 3 500 t.
    let mut world = World::new();
    let opened = world.ok(
        ADMIN,
        ExchangeCommand::OpenAuction {
            class: class(),
            rules: AuctionRules::eu(Quantity::new(5_000)),
            seed: 2024,
        },
    );
    assert_eq!(
        opened,
        ExchangeEffect::AuctionOpened {
            auction: AuctionId(1)
        }
    );
    assert_eq!(world.units(AUCTION), (20_000, 5_000));
    let bids = [
        (A, PLANT_A, 8_010, 2_000),
        (B, PLANT_B, 8_005, 1_500),
        (F, FUND, 8_000, 2_000),
        (A, PLANT_A, 8_000, 1_000),
        (B, PLANT_B, 8_000, 1_000),
        (F, FUND, 7_990, 1_000),
    ];
    for (account, requester, limit, quantity) in bids {
        world.ok(
            requester,
            ExchangeCommand::SubmitBid {
                auction: AuctionId(1),
                account,
                price: price(limit),
                quantity: Quantity::new(quantity),
            },
        );
    }
    assert_eq!(world.cash(F).1, 2_000 * 8_000 + 1_000 * 7_990);
    let closed = world.ok(
        ADMIN,
        ExchangeCommand::CloseAuction {
            auction: AuctionId(1),
        },
    );
    let ExchangeEffect::AuctionClosed {
        status,
        clearing_price,
        sold,
        ..
    } = closed
    else {
        panic!("expected a closed auction, got {closed:?}");
    };
    assert_eq!(
        (status, clearing_price, sold),
        (
            AuctionStatus::Cleared,
            Some(price(8_000)),
            Quantity::new(5_000)
        )
    );
    // A: 2,000 + 1,000 t; B: 1,500 t; F: 500 t; all at 80.00.
    assert_eq!(world.units(A), (203_000, 0));
    assert_eq!(world.units(B), (201_500, 0));
    assert_eq!(world.units(F), (50_500, 0));
    assert_eq!(world.units(AUCTION), (15_000, 0));
    assert_eq!(world.cash(A), (100_000_000 - 24_000_000, 0));
    assert_eq!(world.cash(F), (100_000_000 - 4_000_000, 0));
    assert_eq!(world.cash(AUCTION), (40_000_000, 0));
    world.registry.check_invariants().unwrap();
}

fn holding_limit(symbol: &str, above_allocation: u64, others: u64) -> ExchangeCommand {
    ExchangeCommand::SetHoldingLimit {
        instrument: code(symbol),
        limit: Some(HoldingLimit {
            compliance_entity_above_allocation: Quantity::new(above_allocation),
            others: Quantity::new(others),
        }),
    }
}

#[test]
fn a_holding_limit_refuses_buys_beyond_it_and_holds_nothing() {
    // Goal: with a limit of 51,000 t for others, the fund (holding 50,000 t)
    // may have 1,000 t of open buys and no more, across instruments of the
    // class; an amendment replaces its own quantity; sells are never limited;
    // each refusal changes nothing; lifting the limit lets the buy through.
    let mut world = World::new();
    assert_eq!(
        world.refused(FUND, holding_limit("C", 0, 1)),
        "not_administrator"
    );
    for symbol in ["C", "L", "K"] {
        let set = world.ok(ADMIN, holding_limit(symbol, 1_000, 51_000));
        assert!(matches!(
            set,
            ExchangeEffect::HoldingLimitSet { limit: Some(_), .. }
        ));
    }
    assert_eq!(
        world.exchange.holding_limit(&code("C")),
        Some(HoldingLimit {
            compliance_entity_above_allocation: Quantity::new(1_000),
            others: Quantity::new(51_000),
        })
    );
    let (bid, _, _) = entered(&world.ok(FUND, order("C", F, Side::Buy, 5_000, 1_000)));
    assert_eq!(world.exchange.open_buy_quantity(F, 0), Quantity::new(1_000));
    assert_eq!(
        world.refused(FUND, order("C", F, Side::Buy, 5_000, 10)),
        "holding_limit_exceeded"
    );
    // The open buy on C counts on L, which trades the same class.
    assert_eq!(
        world.refused(FUND, order("L", F, Side::Buy, 5_000, 1)),
        "holding_limit_exceeded"
    );
    let error = world
        .run(FUND, &order("C", F, Side::Buy, 5_000, 10))
        .expect_err("over the limit");
    assert_eq!(
        error.to_string(),
        "account 12 holds 50000 t and has 1000 t of open buys in the class of C; \
         buying 10 t more would exceed its holding limit of 51000 t"
    );
    let amend = |quantity| ExchangeCommand::AmendOrder {
        instrument: code("C"),
        account: F,
        order: bid,
        price: price(5_000),
        quantity: Quantity::new(quantity),
    };
    world.ok(FUND, amend(500));
    world.ok(FUND, amend(1_000));
    assert_eq!(world.refused(FUND, amend(1_010)), "holding_limit_exceeded");
    // Under a limit lowered below the position, the buy may still shrink or move.
    world.ok(ADMIN, holding_limit("C", 1_000, 50_500));
    assert_eq!(
        world.refused(FUND, amend(1_000 + 1)),
        "holding_limit_exceeded"
    );
    world.ok(FUND, amend(900));
    world.ok(
        FUND,
        ExchangeCommand::AmendOrder {
            instrument: code("C"),
            account: F,
            order: bid,
            price: price(4_990),
            quantity: Quantity::new(900),
        },
    );
    world.ok(ADMIN, holding_limit("C", 1_000, 51_000));
    world.ok(FUND, amend(1_000));
    // A sale is never limited, and once it trades the fund's position is unchanged.
    world.ok(FUND, order("C", F, Side::Sell, 5_100, 100));
    // Compliance entities: allocation + 1,000 t. A holds 200,000 t.
    assert_eq!(
        world.refused(PLANT_A, order("C", A, Side::Buy, 5_000, 10)),
        "holding_limit_exceeded"
    );
    world.allocation = 200_000;
    world.ok(PLANT_A, order("C", A, Side::Buy, 4_900, 1_000));
    assert_eq!(
        world.refused(PLANT_A, order("C", A, Side::Buy, 4_900, 10)),
        "holding_limit_exceeded"
    );
    // A listed take of a sell and a block acceptance of a sell proposal are buys too.
    world.allocation = 0;
    let (ask, _, _) = entered(&world.ok(PLANT_B, order("L", B, Side::Sell, 5_000, 10)));
    let take = ExchangeCommand::TakeListed {
        instrument: code("L"),
        account: F,
        maker_order: ask,
        quantity: Quantity::new(10),
    };
    assert_eq!(world.refused(FUND, take), "holding_limit_exceeded");
    let propose = |account, counterparty, side| ExchangeCommand::ProposeBlock {
        instrument: code("K"),
        account,
        counterparty,
        side,
        price: price(5_000),
        quantity: Quantity::new(100_000),
        expires_at: Timestamp(1_000_000),
    };
    assert_eq!(
        world.refused(FUND, propose(F, B, Side::Buy)),
        "holding_limit_exceeded"
    );
    let (proposal, _, _) = entered(&world.ok(PLANT_B, propose(B, F, Side::Sell)));
    let accept = ExchangeCommand::AcceptBlock {
        instrument: code("K"),
        account: F,
        proposal,
    };
    assert_eq!(world.refused(FUND, accept), "holding_limit_exceeded");
    // A stranger learns nothing about the position: the usual refusal comes first.
    assert_eq!(
        world.refused(PLANT_A, order("C", F, Side::Buy, 5_000, 10)),
        "not_representative"
    );
    // Lifting the limit lets the same buy through.
    let lifted = world.ok(
        ADMIN,
        ExchangeCommand::SetHoldingLimit {
            instrument: code("C"),
            limit: None,
        },
    );
    assert!(matches!(
        lifted,
        ExchangeEffect::HoldingLimitSet { limit: None, .. }
    ));
    world.ok(FUND, order("C", F, Side::Buy, 5_000, 10));
    assert_eq!(world.exchange.open_buy_quantity(F, 0), Quantity::new(1_010));
}

#[test]
fn the_china_holding_limit_preset_is_one_million_tonnes() {
    // Goal: the preset is the pilot exchanges' rule (docs/sources.md#cn-exchange, unconfirmed
    // nationally): allocation + 1 Mt for compliance entities, 1 Mt for others.
    assert_eq!(
        HoldingLimit::CHINA_UNCONFIRMED,
        HoldingLimit {
            compliance_entity_above_allocation: Quantity::new(1_000_000),
            others: Quantity::new(1_000_000),
        }
    );
    let mut world = World::new();
    world.ok(
        ADMIN,
        ExchangeCommand::SetHoldingLimit {
            instrument: code("C"),
            limit: Some(HoldingLimit::CHINA_UNCONFIRMED),
        },
    );
    // The fund holds 50,000 t: 950,000 t more is the most it may have open.
    world.ok(FUND, order("C", F, Side::Buy, 4_500, 20_000));
    assert_eq!(
        world.refused(FUND, order("C", F, Side::Buy, 4_500, 930_010)),
        "holding_limit_exceeded"
    );
}

#[test]
fn the_open_order_limit_of_the_listing_applies_in_every_mode() {
    // Goal: `limits.max_open_orders_per_account` of the listing bounds resting
    // orders in continuous and listed books and open proposals on a block desk.
    let mut world = World::new();
    let rules = |base: InstrumentRules| {
        let mut rules = base;
        rules.limits.max_open_orders_per_account = 2;
        rules
    };
    world.ok(
        ADMIN,
        listing("C2", TradingMode::Continuous, rules(CONTINUOUS), 0, false),
    );
    world.ok(
        ADMIN,
        listing(
            "L2",
            TradingMode::ChinaListed,
            rules(InstrumentRules::CHINA_LISTED),
            0,
            false,
        ),
    );
    world.ok(
        ADMIN,
        listing(
            "K2",
            TradingMode::ChinaBlock,
            rules(InstrumentRules::CHINA_BLOCK),
            0,
            false,
        ),
    );
    for symbol in ["C2", "L2"] {
        world.ok(PLANT_A, order(symbol, A, Side::Sell, 5_100, 10));
        world.ok(PLANT_A, order(symbol, A, Side::Sell, 5_200, 10));
        assert_eq!(
            world.refused(PLANT_A, order(symbol, A, Side::Sell, 5_300, 10)),
            "too_many_open_orders"
        );
    }
    let propose = |account, counterparty, side| ExchangeCommand::ProposeBlock {
        instrument: code("K2"),
        account,
        counterparty,
        side,
        price: price(5_000),
        quantity: Quantity::new(100_000),
        expires_at: Timestamp(1_000_000),
    };
    let by_b = |side| propose(B, A, side);
    world.ok(PLANT_B, by_b(Side::Sell));
    world.ok(PLANT_B, by_b(Side::Buy));
    assert_eq!(
        world.refused(PLANT_B, by_b(Side::Buy)),
        "too_many_open_orders"
    );
    // Another account's proposals count separately.
    world.ok(PLANT_A, propose(A, B, Side::Sell));
}

#[test]
fn a_bid_can_be_modified_before_the_close_and_its_hold_follows() {
    // Goal: modifying a bid holds an increase before the change (refused with
    // nothing changed when cash is short), releases a decrease, keeps the id,
    // refuses strangers, and the close awards the modified bid.
    let mut world = World::new();
    world.ok(
        ADMIN,
        ExchangeCommand::OpenAuction {
            class: class(),
            rules: AuctionRules::eu(Quantity::new(5_000)),
            seed: 7,
        },
    );
    let submitted = world.ok(
        FUND,
        ExchangeCommand::SubmitBid {
            auction: AuctionId(1),
            account: F,
            price: price(8_000),
            quantity: Quantity::new(1_000),
        },
    );
    let ExchangeEffect::BidSubmitted { bid, .. } = submitted else {
        panic!("expected a bid, got {submitted:?}");
    };
    let modify = |account, limit, quantity| ExchangeCommand::ModifyBid {
        auction: AuctionId(1),
        account,
        bid,
        price: price(limit),
        quantity: Quantity::new(quantity),
    };
    assert_eq!(world.cash(F), (100_000_000 - 8_000_000, 8_000_000));
    assert_eq!(
        world.ok(FUND, modify(F, 9_000, 5_000)),
        ExchangeEffect::BidModified {
            auction: AuctionId(1),
            bid
        }
    );
    assert_eq!(world.cash(F), (100_000_000 - 45_000_000, 45_000_000));
    // 5,000 t at 250.00 is 125,000,000 > 100,000,000.
    assert_eq!(
        world.refused(FUND, modify(F, 25_000, 5_000)),
        "insufficient_cash"
    );
    assert_eq!(world.refused(PLANT_A, modify(A, 8_000, 500)), "not_owner");
    assert_eq!(world.refused(FUND, modify(F, 8_000, 700)), "off_lot");
    world.ok(FUND, modify(F, 8_100, 2_500));
    assert_eq!(world.cash(F), (100_000_000 - 20_250_000, 20_250_000));
    world.ok(
        ADMIN,
        ExchangeCommand::CloseAuction {
            auction: AuctionId(1),
        },
    );
    // Undersubscribed EU auction: cancelled, the bid released.
    assert_eq!(world.cash(F), (100_000_000, 0));
    assert_eq!(world.refused(FUND, modify(F, 8_100, 500)), "auction_closed");
}

/// One random step of order flow.
#[derive(Debug, Clone)]
enum Step {
    Place(usize, bool, i64, u64, u8),
    Cancel(usize, u64),
    Amend(usize, u64, i64, u64),
    Take(usize, u64, u64),
    Deposit(usize, i64),
    Withdraw(usize, i64),
    EndOfDay(bool),
}

fn step() -> impl Strategy<Value = Step> {
    let who = 0usize..3;
    let limit = prop_oneof![
        4 => (990i64..1_010).prop_map(|fifths| fifths * 5),
        1 => 4_400i64..5_600,
    ];
    let quantity = prop_oneof![1u64..200, 200u64..3_000];
    prop_oneof![
        6 => (who.clone(), any::<bool>(), limit.clone(), quantity.clone(), 0u8..6)
            .prop_map(|(w, s, p, q, k)| Step::Place(w, s, p, q, k)),
        2 => (who.clone(), 1u64..40).prop_map(|(w, o)| Step::Cancel(w, o)),
        2 => (who.clone(), 1u64..40, limit, quantity.clone())
            .prop_map(|(w, o, p, q)| Step::Amend(w, o, p, q)),
        2 => (who.clone(), 1u64..40, quantity).prop_map(|(w, o, q)| Step::Take(w, o, q)),
        1 => (who.clone(), -5i64..5_000_000).prop_map(|(w, a)| Step::Deposit(w, a)),
        1 => (who, -5i64..5_000_000).prop_map(|(w, a)| Step::Withdraw(w, a)),
        1 => any::<bool>().prop_map(Step::EndOfDay),
    ]
}

fn command_of(step: &Step) -> (u64, ExchangeCommand) {
    let parties = [(PLANT_A, A), (PLANT_B, B), (FUND, F)];
    let symbol = |listed: bool| code(if listed { "L" } else { "C" });
    match *step {
        Step::Place(who, buy, limit, quantity, kind) => {
            let (requester, account) = parties[who];
            let side = if buy { Side::Buy } else { Side::Sell };
            let listed = kind == 5;
            let (kind, time_in_force) = match kind {
                0 => (OrderKind::Market, TimeInForce::ImmediateOrCancel),
                1 => (
                    OrderKind::Limit(price(limit)),
                    TimeInForce::ImmediateOrCancel,
                ),
                2 => (OrderKind::Limit(price(limit)), TimeInForce::FillOrKill),
                _ => (OrderKind::Limit(price(limit)), TimeInForce::Day),
            };
            let quantity = if listed { quantity } else { quantity * 10 };
            (
                requester,
                ExchangeCommand::PlaceOrder {
                    instrument: symbol(listed),
                    account,
                    side,
                    kind,
                    quantity: Quantity::new(quantity.min(99_990)),
                    time_in_force,
                },
            )
        }
        Step::Cancel(who, order) => {
            let (requester, account) = parties[who];
            (
                requester,
                ExchangeCommand::CancelOrder {
                    instrument: symbol(order % 2 == 0),
                    account,
                    order: OrderId(order / 2),
                },
            )
        }
        Step::Amend(who, order, limit, quantity) => {
            let (requester, account) = parties[who];
            (
                requester,
                ExchangeCommand::AmendOrder {
                    instrument: symbol(order % 2 == 0),
                    account,
                    order: OrderId(order / 2),
                    price: price(limit),
                    quantity: Quantity::new(quantity.min(99_990)),
                },
            )
        }
        Step::Take(who, order, quantity) => {
            let (requester, account) = parties[who];
            (
                requester,
                ExchangeCommand::TakeListed {
                    instrument: code("L"),
                    account,
                    maker_order: OrderId(order),
                    quantity: Quantity::new(quantity),
                },
            )
        }
        Step::Deposit(who, amount) => (OPERATOR, deposit(parties[who].1, amount)),
        Step::Withdraw(who, amount) => (
            OPERATOR,
            ExchangeCommand::WithdrawCash {
                account: parties[who].1,
                amount: Money::new(amount),
            },
        ),
        Step::EndOfDay(listed) => (
            OPERATOR,
            ExchangeCommand::EndOfDay {
                instrument: symbol(listed),
            },
        ),
    }
}

fn total_units(world: &World) -> u64 {
    world
        .registry
        .accounts()
        .map(|account| world.units(account.id).0)
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    // Goal: under random order flow every invariant holds after every
    // command (cash held = order holds, balances = deposits - withdrawals,
    // registry reservations = pending + exchange holds, books not crossed),
    // units and cash are conserved, refusals change nothing, and once every
    // day is closed nothing is held and the plain registry invariants hold.
    #[test]
    fn random_order_flow_conserves_units_and_cash(steps in proptest::collection::vec(step(), 1..120)) {
        let mut world = World::new();
        let units = total_units(&world);
        let mut cash = world.exchange.total_cash().minor_units();
        for step in &steps {
            let (requester, command) = command_of(step);
            let before = (world.registry.clone(), world.exchange.clone());
            match world.run(requester, &command) {
                Ok(_) => match command {
                    ExchangeCommand::DepositCash { amount, .. } => cash += amount.minor_units(),
                    ExchangeCommand::WithdrawCash { amount, .. } => cash -= amount.minor_units(),
                    _ => {}
                },
                Err(_) => {
                    prop_assert!(world.registry == before.0, "refusal changed the registry");
                    prop_assert!(world.exchange == before.1, "refusal changed the exchange");
                }
            }
            prop_assert_eq!(total_units(&world), units);
            prop_assert_eq!(world.exchange.total_cash().minor_units(), cash);
        }
        world.ok(OPERATOR, ExchangeCommand::EndOfDay { instrument: code("C") });
        world.ok(OPERATOR, ExchangeCommand::EndOfDay { instrument: code("L") });
        prop_assert!(world.exchange.unit_holds().is_empty());
        for account in [A, B, F] {
            prop_assert_eq!(world.cash(account).1, 0);
        }
        world.registry.check_invariants().map_err(TestCaseError::fail)?;
    }
}

#[test]
fn the_exchange_survives_a_postcard_snapshot() {
    // Goal: the state with resting orders, holds, trades and T+1 counts
    // encodes and decodes to an equal exchange (the engine snapshots it).
    let mut world = World::new();
    world.ok(PLANT_A, order("C", A, Side::Sell, 5_000, 100));
    world.ok(PLANT_B, order("C", B, Side::Buy, 5_000, 60));
    let (ask, _, _) = entered(&world.ok(PLANT_A, order("L", A, Side::Sell, 5_000, 100)));
    world.ok(
        PLANT_B,
        ExchangeCommand::TakeListed {
            instrument: code("L"),
            account: B,
            maker_order: ask,
            quantity: Quantity::new(40),
        },
    );
    let bytes = postcard::to_stdvec(&world.exchange).expect("the exchange encodes");
    let decoded: Exchange = postcard::from_bytes(&bytes).expect("the exchange decodes");
    assert_eq!(decoded, world.exchange);
    assert_eq!(postcard::to_stdvec(&decoded).expect("encodes again"), bytes);
}
