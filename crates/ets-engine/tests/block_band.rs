//! The block desk's band centred on its listed instrument's close
//! (`TradingMode::ChinaBlockOf`): China centres the block agreement's +-30%
//! band on the previous close of the listed market (docs/sources.md#cn-exchange),
//! the VWAP of the day's listed trades, else the close before. Through the
//! engine's front door: the band after a listed trade with the two ends of day
//! in either order, a day without listed trades, an unlinked `ChinaBlock` desk
//! that keeps its own close, each refusal at listing, and replay of the journal.

use ets_engine::exchange::{ExchangeCommand, ExchangeEffect, TradingMode};
use ets_engine::{Command, Effect, Engine, Envelope, JournalEntry, Outcome};
use ets_market::{DailyStats, InstrumentRules, MarketDataRules, OrderId, Side, TimeInForce};
use ets_model::{
    AccountId, Code, Money, ParticipantId, Price, Quantity, RequestId, Timestamp, UnitClass,
    Vintage,
};
use ets_registry::{AccountKind, ParticipantKind, RegistryCommand};

const ADMIN: u64 = 1;
const OPERATOR: u64 = 2;
const SELLER: u64 = 3;
const BUYER: u64 = 4;
const SELLER_ACCOUNT: AccountId = AccountId(10);
const BUYER_ACCOUNT: AccountId = AccountId(11);
const FEES: AccountId = AccountId(20);
/// 2021-07-16 00:00 UTC; every command comes one second after the one before.
const START_MS: i64 = 1_626_393_600_000;
/// Every listing's first reference: 40.00 yuan/t.
const LISTING_TICKS: i64 = 4_000;

fn class(vintage: u16) -> UnitClass {
    UnitClass::Allowance {
        scheme: code("CEA"),
        vintage: Vintage(vintage),
    }
}

fn code(text: &str) -> Code {
    Code::try_new(text).expect("a valid code")
}

fn price(ticks: i64) -> Price {
    Price::try_new(ticks).expect("a non-negative price")
}

/// An engine driven one command at a time, every command journaled as the
/// store would journal it.
struct Market {
    engine: Engine,
    time_ms: i64,
    journal: Vec<(Timestamp, Vec<u8>)>,
}

impl Market {
    /// Participants, accounts, 600,000 t of CEA-2021 (500,000 t with the
    /// seller) and 1 t of CEA-2022, the buyer's cash, and the listed
    /// instrument `L` of CEA-2021 at 40.00.
    fn open() -> Market {
        let mut market = Market {
            engine: Engine::new(),
            time_ms: START_MS,
            journal: Vec::new(),
        };
        let participant = |id, kind| RegistryCommand::RegisterParticipant {
            id: ParticipantId(id),
            kind,
            name: format!("participant {id}"),
        };
        let open = |id, kind, holder| RegistryCommand::OpenAccount {
            id: AccountId(id),
            kind,
            holder: ParticipantId(holder),
            representatives: vec![ParticipantId(holder)],
            approvals_required: 1,
        };
        let issue = |vintage, tonnes| RegistryCommand::Issue {
            class: class(vintage),
            quantity: Quantity::new(tonnes),
        };
        let setup = [
            participant(ADMIN, ParticipantKind::Administrator),
            participant(OPERATOR, ParticipantKind::Exchange),
            participant(SELLER, ParticipantKind::CoveredEntity),
            participant(BUYER, ParticipantKind::Institution),
            open(1, AccountKind::Issuance, ADMIN),
            open(10, AccountKind::OperatorHolding, SELLER),
            open(11, AccountKind::Trading, BUYER),
            open(20, AccountKind::Trading, OPERATOR),
            issue(2021, 600_000),
            issue(2022, 1),
            RegistryCommand::Allocate {
                to: SELLER_ACCOUNT,
                class: class(2021),
                quantity: Quantity::new(500_000),
            },
        ];
        for command in setup {
            market.ok(ADMIN, Command::Registry(command));
        }
        market.ok(
            OPERATOR,
            exchange(ExchangeCommand::DepositCash {
                account: BUYER_ACCOUNT,
                amount: Money::new(50_000_000_000),
            }),
        );
        market.ok(
            ADMIN,
            listing(
                "L",
                2021,
                TradingMode::ChinaListed,
                InstrumentRules::CHINA_LISTED,
            ),
        );
        market
    }

    /// `open`, plus the desk `KL` following `L` and the unlinked desk `K`.
    fn with_desks() -> Market {
        let mut market = Market::open();
        let follows_l = TradingMode::ChinaBlockOf { listed: code("L") };
        for (symbol, mode) in [("KL", follows_l), ("K", TradingMode::ChinaBlock)] {
            market.ok(
                ADMIN,
                listing(symbol, 2021, mode, InstrumentRules::CHINA_BLOCK),
            );
        }
        market
    }

    /// Applies a command one second after the last, checks every invariant,
    /// and journals it with its outcome code.
    fn send(&mut self, requester: u64, command: Command) -> Outcome {
        self.time_ms += 1_000;
        self.send_at(requester, command, self.time_ms)
    }

    /// Applies a command at `time_ms` (not before the last command's time).
    fn send_at(&mut self, requester: u64, command: Command, time_ms: i64) -> Outcome {
        let envelope = Envelope {
            request_id: RequestId(self.journal.len() as u64 + 1),
            requester: ParticipantId(requester),
            time: Timestamp(time_ms),
            command,
        };
        let outcome = self.engine.apply(&envelope).outcome().clone();
        self.engine
            .check_invariants()
            .expect("invariants hold after every command");
        let mut payload = Vec::new();
        JournalEntry::encode_into(&envelope, outcome.code(), &mut payload)
            .expect("an entry encodes");
        self.journal.push((envelope.time, payload));
        outcome
    }

    fn ok(&mut self, requester: u64, command: Command) -> Effect {
        match self.send(requester, command) {
            Outcome::Accepted(effect) => effect,
            Outcome::Rejected(rejection) => panic!("refused: {rejection:?}"),
        }
    }

    /// Sends a command that must be refused; checks the registry and the
    /// exchange are unchanged and returns the code and message.
    fn refused(&mut self, requester: u64, command: Command) -> (String, String) {
        let before = self.engine.clone();
        let Outcome::Rejected(rejection) = self.send(requester, command) else {
            panic!("the command must be refused");
        };
        assert_eq!(before.registry(), self.engine.registry());
        assert_eq!(before.exchange(), self.engine.exchange());
        (rejection.code, rejection.message)
    }

    /// The seller posts `tonnes` on `L` at `ticks` and the buyer takes all of it.
    fn listed_trade(&mut self, ticks: i64, tonnes: u64) {
        let posted = self.ok(
            SELLER,
            exchange(ExchangeCommand::PlaceOrder {
                instrument: code("L"),
                account: SELLER_ACCOUNT,
                side: Side::Sell,
                kind: ets_market::OrderKind::Limit(price(ticks)),
                quantity: Quantity::new(tonnes),
                time_in_force: TimeInForce::Day,
            }),
        );
        let maker_order = order_of(&posted);
        self.ok(
            BUYER,
            exchange(ExchangeCommand::TakeListed {
                instrument: code("L"),
                account: BUYER_ACCOUNT,
                maker_order,
                quantity: Quantity::new(tonnes),
            }),
        );
    }

    /// Ends the day of `first`, then of `second` at the same instant.
    fn end_days(&mut self, first: &str, second: &str) {
        self.time_ms += 1_000;
        for symbol in [first, second] {
            let command = exchange(ExchangeCommand::EndOfDay {
                instrument: code(symbol),
            });
            let outcome = self.send_at(OPERATOR, command, self.time_ms);
            assert!(outcome.is_accepted(), "{outcome:?}");
        }
    }

    /// A sell proposal of 100,000 t on `desk` at `ticks` to the buyer.
    fn propose(&mut self, desk: &str, ticks: i64) -> Outcome {
        let expires_at = Timestamp(self.time_ms + 3_600_000);
        self.send(
            SELLER,
            exchange(ExchangeCommand::ProposeBlock {
                instrument: code(desk),
                account: SELLER_ACCOUNT,
                counterparty: BUYER_ACCOUNT,
                side: Side::Sell,
                price: price(ticks),
                quantity: Quantity::new(100_000),
                expires_at,
            }),
        )
    }

    /// A block trade of 100,000 t on `desk` at `ticks`: the seller proposes, the
    /// buyer accepts.
    fn block_trade(&mut self, desk: &str, ticks: i64) {
        let Outcome::Accepted(proposed) = self.propose(desk, ticks) else {
            panic!("{desk} at {ticks} ticks is outside the band");
        };
        self.ok(
            BUYER,
            exchange(ExchangeCommand::AcceptBlock {
                instrument: code(desk),
                account: BUYER_ACCOUNT,
                proposal: order_of(&proposed),
            }),
        );
    }

    /// Ends the day of `symbol` alone and returns its figures.
    fn end_day(&mut self, symbol: &str) -> DailyStats {
        let command = exchange(ExchangeCommand::EndOfDay {
            instrument: code(symbol),
        });
        match self.ok(OPERATOR, command) {
            Effect::Exchange(ExchangeEffect::DayClosed { stats, .. }) => stats,
            other => panic!("expected a closed day, got {other:?}"),
        }
    }

    /// Checks the edges of `desk`'s band: `lower` and `upper` are proposed
    /// (then withdrawn, so nothing stays held), one tick beyond each is
    /// refused as outside the band.
    fn assert_band(&mut self, desk: &str, lower: i64, upper: i64) {
        for inside in [lower, upper] {
            let outcome = self.propose(desk, inside);
            let Outcome::Accepted(effect) = outcome else {
                panic!("{desk} at {inside} ticks refused: {outcome:?}");
            };
            let proposal = order_of(&effect);
            self.ok(
                SELLER,
                exchange(ExchangeCommand::WithdrawBlock {
                    instrument: code(desk),
                    account: SELLER_ACCOUNT,
                    proposal,
                }),
            );
        }
        for outside in [lower - 1, upper + 1] {
            let before = self.engine.exchange().clone();
            let outcome = self.propose(desk, outside);
            assert_eq!(
                outcome.code(),
                "outside_price_band",
                "{desk} at {outside} ticks"
            );
            assert_eq!(&before, self.engine.exchange());
        }
    }

    /// The desk's (or book's) close of the day before, ticks.
    fn previous_close(&self, symbol: &str) -> i64 {
        self.engine
            .exchange()
            .day_stats(&code(symbol))
            .expect("listed")
            .previous_close
            .ticks()
    }
}

fn exchange(command: ExchangeCommand) -> Command {
    Command::Exchange(command)
}

fn listing(symbol: &str, vintage: u16, mode: TradingMode, rules: InstrumentRules) -> Command {
    exchange(ExchangeCommand::ListInstrument {
        symbol: code(symbol),
        class: class(vintage),
        mode,
        rules,
        reference_price: price(LISTING_TICKS),
        fee_bps: 0,
        fee_account: FEES,
        no_same_day_resale: false,
        market_data: MarketDataRules::CHINA,
        calendar: None,
    })
}

fn order_of(effect: &Effect) -> OrderId {
    match effect {
        Effect::Exchange(ExchangeEffect::OrderEntered { order, .. }) => *order,
        other => panic!("expected an order, got {other:?}"),
    }
}

#[test]
fn a_linked_desk_centres_its_band_on_the_listed_close_whichever_day_ends_first() {
    // Goal: one listed trade at 44.00 closes L at 44.00; after both ends of
    // day, in either order and at the same instant, the linked desk's band is
    // 44.00 +-30% = 30.80-57.20 (57.21 and 30.79 refused), and the exchange
    // is the same in both orders.
    let mut exchanges = Vec::new();
    for (first, second) in [("L", "KL"), ("KL", "L")] {
        let mut market = Market::with_desks();
        market.assert_band("KL", 2_800, 5_200);
        market.listed_trade(4_400, 100);
        market.end_days(first, second);
        assert_eq!(market.previous_close("L"), 4_400);
        assert_eq!(market.previous_close("KL"), 4_400, "{first} first");
        market.assert_band("KL", 3_080, 5_720);
        exchanges.push(market.engine.exchange().clone());
    }
    assert_eq!(exchanges[0], exchanges[1]);
}

#[test]
fn the_listed_close_reaches_the_desk_at_the_listed_end_of_day_and_is_its_day_close() {
    // Goal: the listed end of day moves the desk's band at once (the desk's
    // own end of day is not needed), and the desk's end of day reports that
    // close as its own (block trades form no price).
    let mut market = Market::with_desks();
    market.listed_trade(4_400, 100);
    assert_eq!(market.end_day("L").close, price(4_400));
    market.assert_band("KL", 3_080, 5_720);
    let desk_day = market.end_day("KL");
    assert_eq!(
        (desk_day.open, desk_day.close),
        (price(4_400), price(4_400))
    );
}

#[test]
fn a_day_without_listed_trades_keeps_the_previous_close_and_block_trades_do_not_move_it() {
    // Goal: day 1 closes L at 44.00; day 2 has a block trade at the band's top
    // (57.20) and no listed trade: L's close stays 44.00, so does the band.
    let mut market = Market::with_desks();
    market.listed_trade(4_400, 100);
    market.end_days("L", "KL");
    market.block_trade("KL", 5_720);
    market.end_days("KL", "L");
    assert_eq!(market.previous_close("L"), 4_400);
    assert_eq!(market.previous_close("KL"), 4_400);
    market.assert_band("KL", 3_080, 5_720);
    // A second listed day at 48.00 moves it again: 33.60-62.40.
    market.listed_trade(4_800, 10);
    market.end_days("L", "KL");
    market.assert_band("KL", 3_360, 6_240);
}

#[test]
fn an_unlinked_block_desk_keeps_its_own_close() {
    // Goal: the old mode is unchanged: `K`'s band stays 40.00 +-30% =
    // 28.00-52.00 however L closes (old journals keep their meaning).
    let mut market = Market::with_desks();
    market.listed_trade(4_400, 100);
    market.end_days("L", "K");
    market.end_days("KL", "K");
    assert_eq!(market.previous_close("K"), LISTING_TICKS);
    market.assert_band("K", 2_800, 5_200);
    market.assert_band("KL", 3_080, 5_720);
}

#[test]
fn a_link_to_an_unknown_block_or_other_class_instrument_is_refused_and_changes_nothing() {
    // Goal: each bad link is refused with `invalid_block_link`, a message
    // naming the desk, the instrument and why, and no change.
    let mut market = Market::with_desks();
    market.ok(
        ADMIN,
        listing(
            "L22",
            2022,
            TradingMode::ChinaListed,
            InstrumentRules::CHINA_LISTED,
        ),
    );
    let follow = |listed| TradingMode::ChinaBlockOf {
        listed: code(listed),
    };
    let cases = [
        (follow("NOPE"), "is not listed"),
        (follow("K"), "is a block desk"),
        (follow("KL"), "is a block desk"),
        (follow("L22"), "another unit class"),
        (follow("NEW"), "is not listed"),
    ];
    for (mode, why) in cases {
        let command = listing("NEW", 2021, mode, InstrumentRules::CHINA_BLOCK);
        let (refusal, message) = market.refused(ADMIN, command);
        assert_eq!(refusal, "invalid_block_link", "{mode:?}");
        assert!(
            message.contains("NEW") && message.contains(why),
            "{message}"
        );
        assert!(market.engine.exchange().day_stats(&code("NEW")).is_none());
    }
    // The same desk, linked to its own class's listed instrument, lists.
    market.ok(
        ADMIN,
        listing("NEW", 2021, follow("L"), InstrumentRules::CHINA_BLOCK),
    );
}

#[test]
fn a_linked_desk_takes_no_orders_like_every_block_desk() {
    // Goal: `is_block` covers the new mode: orders and amendments are refused
    // with `wrong_mode`; proposals on the listed book too.
    let mut market = Market::with_desks();
    let order = |symbol| {
        exchange(ExchangeCommand::PlaceOrder {
            instrument: code(symbol),
            account: BUYER_ACCOUNT,
            side: Side::Buy,
            kind: ets_market::OrderKind::Limit(price(LISTING_TICKS)),
            quantity: Quantity::new(100_000),
            time_in_force: TimeInForce::Day,
        })
    };
    assert_eq!(market.refused(BUYER, order("KL")).0, "wrong_mode");
    let amend = exchange(ExchangeCommand::AmendOrder {
        instrument: code("KL"),
        account: BUYER_ACCOUNT,
        order: OrderId(1),
        price: price(LISTING_TICKS),
        quantity: Quantity::new(100_000),
    });
    assert_eq!(market.refused(BUYER, amend).0, "wrong_mode");
    assert_eq!(market.propose("L", LISTING_TICKS).code(), "wrong_mode");
}

#[test]
fn replaying_the_journal_of_a_linked_desk_gives_the_live_state_hash() {
    // Goal: the new mode and the band it moves are journaled and replayed
    // exactly: decoded entries applied to a new engine give the same outcome
    // codes and state hash, and so does a snapshot.
    let mut market = Market::with_desks();
    market.listed_trade(4_400, 100);
    market.end_days("KL", "L");
    market.block_trade("KL", 5_720);
    market.listed_trade(4_700, 10);
    market.end_days("L", "KL");
    // 47.00 +-30%: 61.10 is the top.
    assert_eq!(market.propose("KL", 6_110).code(), "ok");
    assert_eq!(market.propose("KL", 6_111).code(), "outside_price_band");
    let mut replayed = Engine::new();
    for (time, payload) in &market.journal {
        let (envelope, code) = JournalEntry::decode(payload)
            .expect("an entry decodes")
            .into_envelope(*time);
        assert_eq!(replayed.apply(&envelope).outcome().code(), code);
    }
    assert_eq!(replayed.state_hash(), market.engine.state_hash());
    let restored =
        Engine::decode_snapshot(&market.engine.encode_snapshot()).expect("a snapshot decodes");
    assert_eq!(restored.state_hash(), market.engine.state_hash());
}
