//! China's 2023-24 carry-over cap through the engine: at the close of 2024 each
//! entity keeps at most `10,000 t + 1.5 x net sales` of its 2024-and-older
//! allowances, the rest is cancelled; the 2023 close does not bind; borrowing,
//! abolished in 2023-24, is refused. Every figure is worked by hand.

mod common;

use common::Harness;
use ets_engine::Command;
use ets_engine::compliance::{ComplianceCommand, Cooling, EntitySpec, UnitCategory, UnitSpec};
use ets_engine::exchange::{ExchangeCommand, TradingMode};
use ets_market::{InstrumentRules, MarketDataRules, OrderKind, Side, TimeInForce};
use ets_model::{AccountId, Code, Money, ParticipantId, Price, Quantity, UnitClass, Vintage};
use ets_registry::{AccountKind, ParticipantKind, RegistryCommand};

const ADMIN: ParticipantId = ParticipantId(1);
const OPERATOR: ParticipantId = ParticipantId(2);
const SELLER: ParticipantId = ParticipantId(10);
const BUYER: ParticipantId = ParticipantId(20);
const SELLER_ACCOUNT: AccountId = AccountId(100);
const BUYER_ACCOUNT: AccountId = AccountId(200);
const FEE_ACCOUNT: AccountId = AccountId(7);
/// 2026-01-05T00:00:00Z: after the last 2024 deadline (2025-12-31).
const JANUARY_2026_MS: i64 = 1_767_571_200_000;

fn code(text: &str) -> Code {
    Code::try_new(text).expect("a valid code")
}

fn cea(vintage: u16) -> UnitClass {
    UnitClass::Allowance {
        scheme: code("CEA"),
        vintage: Vintage(vintage),
    }
}

fn registry(command: RegistryCommand) -> Command {
    Command::Registry(command)
}

fn compliance(command: ComplianceCommand) -> Command {
    Command::Compliance(command)
}

fn rulebook(name: &str) -> Command {
    let path = format!("{}/../../schemes/{name}", env!("CARGO_MANIFEST_DIR"));
    compliance(ComplianceCommand::LoadRulebook {
        source_name: name.into(),
        toml: std::fs::read_to_string(path).expect("rulebook file"),
    })
}

fn register(scheme: &str) -> Command {
    let spec = |participant, account| EntitySpec {
        participant,
        account,
        units: vec![UnitSpec {
            unit: code("U1"),
            category: UnitCategory::CoalAbove300Mw,
            capacity_mw: 600,
            cooling: Cooling::Water,
            combined_heat_and_power: false,
        }],
    };
    compliance(ComplianceCommand::RegisterEntities {
        scheme: scheme.into(),
        entities: vec![spec(SELLER, SELLER_ACCOUNT), spec(BUYER, BUYER_ACCOUNT)],
    })
}

fn close(scheme: &str, year: u16) -> Command {
    compliance(ComplianceCommand::CloseYear {
        scheme: scheme.into(),
        year,
        reference_average_price: None,
    })
}

/// Issues `tonnes` of `class` and allocates them to `to`.
fn give(engine: &mut Harness, to: AccountId, class: UnitClass, tonnes: u64) {
    let quantity = Quantity::new(tonnes);
    engine.ok(ADMIN, registry(RegistryCommand::Issue { class, quantity }));
    engine.ok(
        ADMIN,
        registry(RegistryCommand::Allocate {
            to,
            class,
            quantity,
        }),
    );
}

fn order(account: AccountId, side: Side, tonnes: u64) -> Command {
    Command::Exchange(ExchangeCommand::PlaceOrder {
        instrument: code("CEA24"),
        account,
        side,
        kind: OrderKind::Limit(Price::try_new(9_000).expect("a price")),
        quantity: Quantity::new(tonnes),
        time_in_force: TimeInForce::Day,
    })
}

/// Two coal entities under the 2023 and 2024 rulebooks, a continuous CEA-2024 market.
fn setup() -> Harness {
    let mut engine = Harness::starting_at(JANUARY_2026_MS);
    let participants = [
        (ADMIN, ParticipantKind::Administrator),
        (OPERATOR, ParticipantKind::Exchange),
        (SELLER, ParticipantKind::CoveredEntity),
        (BUYER, ParticipantKind::CoveredEntity),
    ];
    for (id, kind) in participants {
        let name = format!("participant {id}");
        engine.ok(
            ADMIN,
            registry(RegistryCommand::RegisterParticipant { id, kind, name }),
        );
    }
    let accounts = [
        (AccountId(1), AccountKind::Issuance, ADMIN),
        (AccountId(2), AccountKind::Surrender, ADMIN),
        (AccountId(4), AccountKind::Cancellation, ADMIN),
        (FEE_ACCOUNT, AccountKind::Trading, OPERATOR),
        (SELLER_ACCOUNT, AccountKind::OperatorHolding, SELLER),
        (BUYER_ACCOUNT, AccountKind::OperatorHolding, BUYER),
    ];
    for (id, kind, holder) in accounts {
        let open = RegistryCommand::OpenAccount {
            id,
            kind,
            holder,
            representatives: vec![holder],
            approvals_required: 1,
        };
        engine.ok(ADMIN, registry(open));
    }
    for (file, scheme) in [
        ("cn-power-2023.toml", "cn-power-2023"),
        ("cn-power-2024.toml", "cn-power-2024"),
    ] {
        engine.ok(ADMIN, rulebook(file));
        engine.ok(ADMIN, register(scheme));
    }
    give(&mut engine, SELLER_ACCOUNT, cea(2023), 30_000);
    give(&mut engine, SELLER_ACCOUNT, cea(2024), 100_000);
    give(&mut engine, SELLER_ACCOUNT, cea(2025), 5_000);
    give(&mut engine, BUYER_ACCOUNT, cea(2024), 50_000);
    engine.ok(
        ADMIN,
        Command::Exchange(ExchangeCommand::ListInstrument {
            symbol: code("CEA24"),
            class: cea(2024),
            mode: TradingMode::Continuous,
            rules: InstrumentRules::CONTINUOUS,
            reference_price: Price::try_new(9_000).expect("a price"),
            fee_bps: 0,
            fee_account: FEE_ACCOUNT,
            no_same_day_resale: false,
            market_data: MarketDataRules::EU,
            calendar: None,
        }),
    );
    engine.ok(
        OPERATOR,
        Command::Exchange(ExchangeCommand::DepositCash {
            account: BUYER_ACCOUNT,
            amount: Money::new(1_000_000_000),
        }),
    );
    engine
}

#[test]
fn the_2024_close_cancels_old_allowances_above_the_carry_over_cap() {
    // Goal: the seller sells 20,000 t: its cap is 10,000 + 1.5 x 20,000 = 40,000 t of the
    // 110,000 t of 2023-24 allowances it has left, so 70,000 t are cancelled, oldest first (all
    // 30,000 t of 2023, then 40,000 t of 2024); the buyer (net sales -20,000 t) keeps 10,000 t of its
    // 70,000 t. The 2025 vintage is not capped. The 2023 close cancels nothing (the cap
    // covers vintages to 2024 and binds at the close of 2024).
    let mut engine = setup();
    engine.ok(SELLER, order(SELLER_ACCOUNT, Side::Sell, 20_000));
    engine.ok(BUYER, order(BUYER_ACCOUNT, Side::Buy, 20_000));
    assert_eq!(engine.held(BUYER_ACCOUNT, &cea(2024)), 70_000);

    engine.ok(ADMIN, close("cn-power-2023", 2023));
    assert_eq!(engine.held(SELLER_ACCOUNT, &cea(2023)), 30_000);
    assert_eq!(engine.held(SELLER_ACCOUNT, &cea(2024)), 80_000);

    engine.ok(ADMIN, close("cn-power-2024", 2024));
    assert_eq!(engine.held(SELLER_ACCOUNT, &cea(2023)), 0);
    assert_eq!(engine.held(SELLER_ACCOUNT, &cea(2024)), 40_000);
    assert_eq!(engine.held(SELLER_ACCOUNT, &cea(2025)), 5_000);
    assert_eq!(engine.held(BUYER_ACCOUNT, &cea(2024)), 10_000);
    // The cancelled units went to no one: they are gone from circulation, not moved.
    let cancelled = (30_000 + 40_000) + 60_000;
    let total: u64 = [2023, 2024]
        .iter()
        .map(|v| engine.held(SELLER_ACCOUNT, &cea(*v)) + engine.held(BUYER_ACCOUNT, &cea(*v)))
        .sum();
    assert_eq!(total + cancelled, 30_000 + 100_000 + 50_000);
}

#[test]
fn without_sales_an_entity_keeps_the_fixed_part_only() {
    // Goal: no trade: each entity keeps 10,000 t (the fixed part) of its 2023-24 allowances.
    let mut engine = setup();
    engine.ok(ADMIN, close("cn-power-2024", 2024));
    let kept = |engine: &Harness, account| {
        engine.held(account, &cea(2023)) + engine.held(account, &cea(2024))
    };
    assert_eq!(kept(&engine, SELLER_ACCOUNT), 10_000);
    assert_eq!(kept(&engine, BUYER_ACCOUNT), 10_000);
}

#[test]
fn borrowing_is_refused_where_the_rulebook_abolished_it() {
    // Goal: the 2023-24 rulebooks have no [borrowing]: a borrow is refused with its code,
    // nothing changed (the harness compares the state before and after).
    let mut engine = setup();
    for year in [2023, 2024] {
        engine.refused(
            SELLER,
            compliance(ComplianceCommand::Borrow {
                entity: SELLER,
                year,
                quantity: Quantity::new(1_000),
            }),
            "borrowing_limit_exceeded",
        );
    }
}

/// The setup with a 20,000 t sale from seller to buyer, then at least a whole
/// retention window of other commands (refused transfers), bounded or not; the
/// state goes through a snapshot's encoding before the closes.
fn sold_long_ago(bounded: bool) -> Harness {
    let window = ets_engine::retention::MIN_WINDOW;
    let mut engine = setup();
    if bounded {
        engine.ok(ADMIN, Command::SetRetention { commands: window });
    }
    engine.ok(SELLER, order(SELLER_ACCOUNT, Side::Sell, 20_000));
    engine.ok(BUYER, order(BUYER_ACCOUNT, Side::Buy, 20_000));
    for _ in 0..=window {
        engine.request += 1;
        let refused = ets_engine::Envelope {
            request_id: ets_model::RequestId(engine.request),
            requester: BUYER,
            time: ets_model::Timestamp(engine.time_ms),
            command: registry(RegistryCommand::Transfer {
                from: SELLER_ACCOUNT,
                to: BUYER_ACCOUNT,
                class: cea(2024),
                quantity: Quantity::new(1),
            }),
        };
        assert!(!engine.engine.apply(&refused).outcome().is_accepted());
    }
    engine.engine = ets_engine::Engine::decode_snapshot(&engine.engine.encode_snapshot())
        .expect("the snapshot decodes");
    engine
}

#[test]
fn a_bounded_store_that_dropped_the_trades_applies_the_cap_as_an_unbounded_one() {
    // Goal: the sale of the first test, settled more than a retention window before the
    // close: a bounded engine no longer holds the trade record (nor does its snapshot), yet
    // the 2024 close cancels exactly what an unbounded one does (seller keeps 40,000 t of
    // 2023-24, buyer 10,000 t), because net sales are counted as trades settle.
    let bounded = sold_long_ago(true);
    let unbounded = sold_long_ago(false);
    assert_eq!(
        bounded.engine.exchange().trades().len(),
        0,
        "the trade was dropped"
    );
    assert_eq!(bounded.engine.exchange().trades().count(), 1);
    assert_eq!(unbounded.engine.exchange().trades().len(), 1);
    for mut engine in [bounded, unbounded] {
        engine.ok(ADMIN, close("cn-power-2023", 2023));
        engine.ok(ADMIN, close("cn-power-2024", 2024));
        assert_eq!(engine.held(SELLER_ACCOUNT, &cea(2023)), 0);
        assert_eq!(engine.held(SELLER_ACCOUNT, &cea(2024)), 40_000);
        assert_eq!(engine.held(SELLER_ACCOUNT, &cea(2025)), 5_000);
        assert_eq!(engine.held(BUYER_ACCOUNT, &cea(2024)), 10_000);
    }
}
