//! The exchange through the engine's front door: an account with money at the
//! exchange cannot be closed until the money is withdrawn.

use ets_engine::exchange::ExchangeCommand;
use ets_engine::{Command, Engine, Envelope, Outcome};
use ets_model::{AccountId, Money, ParticipantId, RequestId, Timestamp};
use ets_registry::{AccountKind, AccountStatus, ParticipantKind, RegistryCommand};

fn send(engine: &mut Engine, request: u64, requester: u64, command: Command) -> Outcome {
    let envelope = Envelope {
        request_id: RequestId(request),
        requester: ParticipantId(requester),
        time: Timestamp(1_700_000_000_000 + request as i64),
        command,
    };
    let outcome = engine.apply(&envelope).outcome().clone();
    engine.check_invariants().expect("invariants hold");
    outcome
}

#[test]
fn an_account_with_cash_at_the_exchange_cannot_be_closed_until_it_is_withdrawn() {
    // Goal: closing must not strand money or orders at the exchange.
    let mut engine = Engine::new();
    let register = |id: u64, kind| {
        Command::Registry(RegistryCommand::RegisterParticipant {
            id: ParticipantId(id),
            kind,
            name: format!("p{id}"),
        })
    };
    let setup = [
        (1, register(1, ParticipantKind::Administrator)),
        (1, register(2, ParticipantKind::Exchange)),
        (1, register(5, ParticipantKind::Institution)),
        (
            1,
            Command::Registry(RegistryCommand::OpenAccount {
                id: AccountId(12),
                kind: AccountKind::Trading,
                holder: ParticipantId(5),
                representatives: vec![ParticipantId(5)],
                approvals_required: 1,
            }),
        ),
        (
            2,
            Command::Exchange(ExchangeCommand::DepositCash {
                account: AccountId(12),
                amount: Money::new(500_000),
            }),
        ),
    ];
    for (index, (requester, command)) in setup.into_iter().enumerate() {
        let outcome = send(&mut engine, index as u64 + 1, requester, command);
        assert!(outcome.is_accepted(), "{outcome:?}");
    }
    let close = || {
        Command::Registry(RegistryCommand::SetAccountStatus {
            account: AccountId(12),
            status: AccountStatus::Closed,
        })
    };
    assert_eq!(
        send(&mut engine, 10, 1, close()).code(),
        "account_has_exchange_positions"
    );
    let withdraw = Command::Exchange(ExchangeCommand::WithdrawCash {
        account: AccountId(12),
        amount: Money::new(500_000),
    });
    assert!(send(&mut engine, 11, 2, withdraw).is_accepted());
    assert!(send(&mut engine, 12, 1, close()).is_accepted());
}

mod blocking {
    use super::send;
    use ets_engine::exchange::{AuctionId, ExchangeCommand, TradingMode};
    use ets_engine::{Command, Engine};
    use ets_market::{
        AuctionRules, InstrumentRules, MarketDataRules, OrderId, OrderKind, Side, TimeInForce,
    };
    use ets_model::{
        AccountId, Code, Money, ParticipantId, Price, Quantity, Timestamp, UnitClass, Vintage,
    };
    use ets_registry::{AccountKind, AccountStatus, ParticipantKind, RegistryCommand};

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

    fn order(account: u64, side: Side, limit: i64) -> Command {
        Command::Exchange(ExchangeCommand::PlaceOrder {
            instrument: code("C"),
            account: AccountId(account),
            side,
            kind: OrderKind::Limit(price(limit)),
            quantity: Quantity::new(100),
            time_in_force: TimeInForce::Day,
        })
    }

    /// Units held and units reserved of the class in an account.
    fn units(engine: &Engine, account: u64) -> (u64, u64) {
        let registry = engine.registry();
        let index = registry.class_index(&class()).expect("issued");
        registry
            .account(AccountId(account))
            .expect("exists")
            .holding(index)
            .map_or((0, 0), |h| (h.total().tonnes(), h.reserved().tonnes()))
    }

    fn cash(engine: &Engine, account: u64) -> (i64, i64) {
        let balance = engine.exchange().cash(AccountId(account));
        (balance.available.minor_units(), balance.held.minor_units())
    }

    #[test]
    fn blocking_an_account_closes_its_orders_proposals_and_bids_and_releases_their_holds() {
        // Goal: once blocked, an account's resting orders, block proposals and
        // auction bids are gone in the same command, every unit and cash hold is
        // released, a crossing order no longer trades with it, and its new
        // orders are refused with nothing changed.
        let mut engine = Engine::new();
        let register = |id: u64, kind| {
            Command::Registry(RegistryCommand::RegisterParticipant {
                id: ParticipantId(id),
                kind,
                name: format!("p{id}"),
            })
        };
        let open = |id: u64, kind, holder: u64| {
            Command::Registry(RegistryCommand::OpenAccount {
                id: AccountId(id),
                kind,
                holder: ParticipantId(holder),
                representatives: vec![ParticipantId(holder)],
                approvals_required: 1,
            })
        };
        let transfer = |to: u64, quantity: u64| {
            Command::Registry(RegistryCommand::Transfer {
                from: AccountId(1),
                to: AccountId(to),
                class: class(),
                quantity: Quantity::new(quantity),
            })
        };
        let listing = |symbol: &str, mode, rules| {
            Command::Exchange(ExchangeCommand::ListInstrument {
                symbol: code(symbol),
                class: class(),
                mode,
                rules,
                reference_price: price(5_000),
                fee_bps: 0,
                fee_account: AccountId(20),
                no_same_day_resale: false,
                market_data: MarketDataRules::EU,
                calendar: None,
            })
        };
        let deposit = |account: u64| {
            Command::Exchange(ExchangeCommand::DepositCash {
                account: AccountId(account),
                amount: Money::new(1_000_000_000),
            })
        };
        let setup = [
            (1, register(1, ParticipantKind::Administrator)),
            (1, register(2, ParticipantKind::Exchange)),
            (1, register(5, ParticipantKind::Institution)),
            (1, register(6, ParticipantKind::Institution)),
            (1, open(1, AccountKind::Issuance, 1)),
            (1, open(3, AccountKind::Auction, 1)),
            (1, open(12, AccountKind::Trading, 5)),
            (1, open(13, AccountKind::Trading, 6)),
            (1, open(20, AccountKind::Trading, 2)),
            (
                1,
                Command::Registry(RegistryCommand::Issue {
                    class: class(),
                    quantity: Quantity::new(1_000_000),
                }),
            ),
            (1, transfer(12, 300_000)),
            (1, transfer(3, 10_000)),
            (
                1,
                listing("C", TradingMode::Continuous, InstrumentRules::CONTINUOUS),
            ),
            (
                1,
                listing("K", TradingMode::ChinaBlock, InstrumentRules::CHINA_BLOCK),
            ),
            (2, deposit(12)),
            (2, deposit(13)),
            (5, order(12, Side::Sell, 5_100)),
            (5, order(12, Side::Buy, 4_900)),
            (
                5,
                Command::Exchange(ExchangeCommand::ProposeBlock {
                    instrument: code("K"),
                    account: AccountId(12),
                    counterparty: AccountId(13),
                    side: Side::Sell,
                    price: price(5_000),
                    quantity: Quantity::new(100_000),
                    expires_at: Timestamp(1_800_000_000_000),
                }),
            ),
            (
                1,
                Command::Exchange(ExchangeCommand::OpenAuction {
                    class: class(),
                    rules: AuctionRules::eu(Quantity::new(5_000)),
                    seed: 1,
                }),
            ),
            (
                5,
                Command::Exchange(ExchangeCommand::SubmitBid {
                    auction: AuctionId(1),
                    account: AccountId(12),
                    price: price(5_000),
                    quantity: Quantity::new(1_000),
                }),
            ),
        ];
        for (index, (requester, command)) in setup.into_iter().enumerate() {
            let outcome = send(&mut engine, index as u64 + 1, requester, command);
            assert!(outcome.is_accepted(), "step {index}: {outcome:?}");
        }
        assert_eq!(units(&engine, 12), (300_000, 100_100));
        // Buy 100 t at 49.00, bid 1,000 t at 50.00.
        assert_eq!(cash(&engine, 12), (1_000_000_000 - 5_490_000, 5_490_000));

        let block = Command::Registry(RegistryCommand::SetAccountStatus {
            account: AccountId(12),
            status: AccountStatus::Blocked,
        });
        assert!(send(&mut engine, 100, 1, block).is_accepted());
        assert_eq!(units(&engine, 12), (300_000, 0));
        assert_eq!(cash(&engine, 12), (1_000_000_000, 0));
        let exchange = engine.exchange();
        assert!(exchange.order(&code("C"), OrderId(1)).is_none());
        assert!(exchange.order(&code("C"), OrderId(2)).is_none());
        assert!(exchange.proposal(&code("K"), OrderId(1)).is_none());
        assert!(
            exchange
                .unit_holds()
                .keys()
                .all(|(account, _)| account.0 != 12)
        );

        // A buy that would have crossed the cancelled sell now rests.
        let crossing = send(&mut engine, 101, 6, order(13, Side::Buy, 5_100));
        assert!(crossing.is_accepted(), "{crossing:?}");
        assert!(engine.exchange().trades().is_empty());
        // New orders of the blocked account are refused and change nothing.
        let before = engine.clone();
        let refused = send(&mut engine, 102, 5, order(12, Side::Sell, 5_000));
        assert_eq!(refused.code(), "account_status_forbids");
        assert_eq!(before.registry(), engine.registry());
        assert_eq!(before.exchange(), engine.exchange());
        // Reopened, it trades again (its old orders do not come back).
        let reopen = Command::Registry(RegistryCommand::SetAccountStatus {
            account: AccountId(12),
            status: AccountStatus::Open,
        });
        assert!(send(&mut engine, 103, 1, reopen).is_accepted());
        assert!(send(&mut engine, 104, 5, order(12, Side::Sell, 5_100)).is_accepted());
        assert_eq!(engine.exchange().trades().len(), 1);
    }
}

mod common;

mod allocation_limits {
    use super::common::Harness;
    use ets_engine::Command;
    use ets_engine::compliance::{
        AllocationPhase, ComplianceCommand, Cooling, EntityOutput, EntitySpec, UnitCategory,
        UnitOutput, UnitSpec,
    };
    use ets_engine::exchange::{ExchangeCommand, HoldingLimit, TradingMode};
    use ets_market::{InstrumentRules, MarketDataRules, OrderKind, Side, TimeInForce};
    use ets_model::{AccountId, Code, Money, ParticipantId, Price, Quantity, UnitClass, Vintage};
    use ets_registry::{AccountKind, ParticipantKind, RegistryCommand};

    const ADMIN: ParticipantId = ParticipantId(1);
    const OPERATOR: ParticipantId = ParticipantId(2);
    const PLANT: ParticipantId = ParticipantId(10);
    const FUND: ParticipantId = ParticipantId(30);
    const PLANT_ACCOUNT: AccountId = AccountId(100);
    const FUND_ACCOUNT: AccountId = AccountId(300);

    fn code(text: &str) -> Code {
        Code::try_new(text).expect("a valid code")
    }

    fn cea(vintage: u16) -> UnitClass {
        UnitClass::Allowance {
            scheme: code("CEA"),
            vintage: Vintage(vintage),
        }
    }

    fn buy(account: AccountId, quantity: u64) -> Command {
        Command::Exchange(ExchangeCommand::PlaceOrder {
            instrument: code("CEA21"),
            account,
            side: Side::Buy,
            kind: OrderKind::Limit(Price::try_new(5_000).expect("a price")),
            quantity: Quantity::new(quantity),
            time_in_force: TimeInForce::Day,
        })
    }

    #[test]
    fn a_compliance_entity_may_hold_its_allocation_plus_the_margin() {
        // Goal: through the engine, the limit of a covered entity is its
        // compliance allocation of the vintage (pre-allocation 0.70 x 0.8218 x
        // 1,000,000 MWh = 575,260 t) plus 1,000 t; an institution's is 500 t;
        // refusals change nothing.
        let mut engine = Harness::starting_at(1_698_796_800_000);
        let participant = |id, kind| {
            Command::Registry(RegistryCommand::RegisterParticipant {
                id,
                kind,
                name: format!("participant {id}"),
            })
        };
        let open = |id, kind, holder| {
            Command::Registry(RegistryCommand::OpenAccount {
                id,
                kind,
                holder,
                representatives: vec![holder],
                approvals_required: 1,
            })
        };
        let toml = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../schemes/cn-power-2021.toml"
        ))
        .expect("rulebook file");
        let setup = [
            participant(ADMIN, ParticipantKind::Administrator),
            participant(OPERATOR, ParticipantKind::Exchange),
            participant(PLANT, ParticipantKind::CoveredEntity),
            participant(FUND, ParticipantKind::Institution),
            open(AccountId(1), AccountKind::Issuance, ADMIN),
            open(AccountId(20), AccountKind::Trading, OPERATOR),
            open(PLANT_ACCOUNT, AccountKind::OperatorHolding, PLANT),
            open(FUND_ACCOUNT, AccountKind::Trading, FUND),
            Command::Compliance(ComplianceCommand::LoadRulebook {
                source_name: "schemes/cn-power-2021.toml".into(),
                toml,
            }),
            Command::Compliance(ComplianceCommand::RegisterEntities {
                scheme: "cn-power-2021".into(),
                entities: vec![EntitySpec {
                    participant: PLANT,
                    account: PLANT_ACCOUNT,
                    units: vec![UnitSpec {
                        unit: code("U1"),
                        category: UnitCategory::CoalAbove300Mw,
                        capacity_mw: 600,
                        cooling: Cooling::Water,
                        combined_heat_and_power: false,
                    }],
                }],
            }),
            Command::Compliance(ComplianceCommand::Allocate {
                scheme: "cn-power-2021".into(),
                year: 2021,
                phase: AllocationPhase::Pre,
                outputs: vec![EntityOutput {
                    participant: PLANT,
                    units: vec![UnitOutput {
                        unit: code("U1"),
                        electricity_mwh: "1000000".into(),
                        heat_gj: "0".into(),
                        heat_supply_ratio: "0".into(),
                        load_factor: "0.90".into(),
                    }],
                }],
            }),
            Command::Exchange(ExchangeCommand::ListInstrument {
                symbol: code("CEA21"),
                class: cea(2021),
                mode: TradingMode::Continuous,
                rules: InstrumentRules::CHINA_LISTED,
                reference_price: Price::try_new(5_000).expect("a price"),
                fee_bps: 0,
                fee_account: AccountId(20),
                no_same_day_resale: false,
                market_data: MarketDataRules::CHINA,
                calendar: None,
            }),
            Command::Exchange(ExchangeCommand::SetHoldingLimit {
                instrument: code("CEA21"),
                limit: Some(HoldingLimit {
                    compliance_entity_above_allocation: Quantity::new(1_000),
                    others: Quantity::new(500),
                }),
            }),
        ];
        for command in setup {
            engine.ok(ADMIN, command);
        }
        for account in [PLANT_ACCOUNT, FUND_ACCOUNT] {
            engine.ok(
                OPERATOR,
                Command::Exchange(ExchangeCommand::DepositCash {
                    account,
                    amount: Money::new(100_000_000),
                }),
            );
        }
        assert_eq!(engine.held(PLANT_ACCOUNT, &cea(2021)), 575_260);
        engine.ok(PLANT, buy(PLANT_ACCOUNT, 600));
        engine.ok(PLANT, buy(PLANT_ACCOUNT, 400));
        engine.refused(PLANT, buy(PLANT_ACCOUNT, 1), "holding_limit_exceeded");
        engine.ok(FUND, buy(FUND_ACCOUNT, 500));
        engine.refused(FUND, buy(FUND_ACCOUNT, 1), "holding_limit_exceeded");
    }
}
