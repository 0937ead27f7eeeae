//! Property test: random command sequences against the engine. After every
//! command all invariants hold; at the end, replaying the same envelopes into
//! a fresh engine, or restoring a snapshot, gives the same state hash; and
//! every envelope survives the journal entry encoding unchanged.

use ets_engine::{Applied, Command, Engine, Envelope, JournalEntry};
use ets_model::{
    AccountId, Code, ParticipantId, Quantity, RequestId, Timestamp, TransactionId, UnitClass,
    Vintage,
};
use ets_registry::{AccountKind, AccountStatus, ParticipantKind, RegistryCommand};
use proptest::prelude::*;

fn class(vintage: u16) -> UnitClass {
    UnitClass::Allowance {
        scheme: Code::try_new("CEA").expect("valid code"),
        vintage: Vintage(vintage),
    }
}

/// A fixed opening so that random commands have something to act on:
/// two administrators, three companies, system accounts, two issues.
fn opening() -> Vec<(u64, RegistryCommand)> {
    let p = |id, kind, name: &str| RegistryCommand::RegisterParticipant {
        id: ParticipantId(id),
        kind,
        name: name.into(),
    };
    let open = |id, kind, holder, reps: &[u64], required| RegistryCommand::OpenAccount {
        id: AccountId(id),
        kind,
        holder: ParticipantId(holder),
        representatives: reps.iter().map(|&r| ParticipantId(r)).collect(),
        approvals_required: required,
    };
    vec![
        (1, p(1, ParticipantKind::Administrator, "admin")),
        (1, p(2, ParticipantKind::Administrator, "admin two")),
        (1, p(3, ParticipantKind::CoveredEntity, "plant a")),
        (1, p(4, ParticipantKind::CoveredEntity, "plant b")),
        (1, p(5, ParticipantKind::Institution, "fund")),
        (1, open(1, AccountKind::Issuance, 1, &[1, 2], 1)),
        (1, open(2, AccountKind::Surrender, 1, &[1], 1)),
        (1, open(3, AccountKind::Retirement, 1, &[1], 1)),
        (1, open(4, AccountKind::Cancellation, 1, &[1], 1)),
        (1, open(10, AccountKind::OperatorHolding, 3, &[3, 5], 2)),
        (1, open(11, AccountKind::OperatorHolding, 4, &[4], 1)),
        (1, open(12, AccountKind::Trading, 5, &[5], 1)),
        (
            1,
            RegistryCommand::Issue {
                class: class(2021),
                quantity: Quantity::new(5_000),
            },
        ),
        (
            1,
            RegistryCommand::Issue {
                class: class(2022),
                quantity: Quantity::new(5_000),
            },
        ),
    ]
}

fn arbitrary_command() -> impl Strategy<Value = (u64, RegistryCommand)> {
    let requester = 1u64..=6;
    let account = prop_oneof![
        Just(1u64),
        Just(2),
        Just(4),
        Just(10),
        Just(11),
        Just(12),
        Just(13)
    ];
    let unit = prop_oneof![Just(class(2021)), Just(class(2022)), Just(class(2030))];
    let quantity = prop_oneof![Just(0u64), 1u64..50, 50u64..3_000];
    let transaction = 1u64..40;
    let command = prop_oneof![
        4 => (account.clone(), account.clone(), unit.clone(), quantity.clone()).prop_map(|(from, to, class, q)| {
            RegistryCommand::Transfer { from: AccountId(from), to: AccountId(to), class, quantity: Quantity::new(q) }
        }),
        2 => (account.clone(), unit.clone(), quantity.clone()).prop_map(|(to, class, q)| {
            RegistryCommand::Allocate { to: AccountId(to), class, quantity: Quantity::new(q) }
        }),
        1 => (unit.clone(), quantity.clone()).prop_map(|(class, q)| RegistryCommand::Issue { class, quantity: Quantity::new(q) }),
        2 => (account.clone(), unit.clone(), quantity.clone(), 2020u16..2023).prop_map(|(from, class, q, year)| {
            RegistryCommand::Surrender { from: AccountId(from), class, quantity: Quantity::new(q), compliance_year: year }
        }),
        1 => (account.clone(), unit.clone(), quantity.clone()).prop_map(|(from, class, q)| {
            RegistryCommand::Retire { from: AccountId(from), class, quantity: Quantity::new(q), beneficiary: "someone".into() }
        }),
        1 => (account.clone(), unit.clone(), quantity.clone()).prop_map(|(from, class, q)| {
            RegistryCommand::Cancel { from: AccountId(from), class, quantity: Quantity::new(q), reason: "test".into() }
        }),
        2 => transaction.clone().prop_map(|t| RegistryCommand::Approve { transaction: TransactionId(t) }),
        1 => transaction.clone().prop_map(|t| RegistryCommand::Reject { transaction: TransactionId(t) }),
        1 => transaction.clone().prop_map(|t| RegistryCommand::Withdraw { transaction: TransactionId(t) }),
        1 => transaction.prop_map(|t| RegistryCommand::Reverse { transaction: TransactionId(t) }),
        1 => (account, prop_oneof![Just(AccountStatus::Open), Just(AccountStatus::Blocked), Just(AccountStatus::Closed)])
            .prop_map(|(account, status)| RegistryCommand::SetAccountStatus { account: AccountId(account), status }),
    ];
    (requester, command)
}

fn envelope(index: usize, requester: u64, command: RegistryCommand) -> Envelope {
    Envelope {
        request_id: RequestId(index as u64),
        requester: ParticipantId(requester),
        time: Timestamp(1_700_000_000_000 + index as i64 * 1_000),
        command: Command::Registry(command),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_after_every_command_and_replay_is_exact(
        commands in proptest::collection::vec(arbitrary_command(), 1..120)
    ) {
        let envelopes: Vec<Envelope> = opening()
            .into_iter()
            .chain(commands)
            .enumerate()
            .map(|(index, (requester, command))| envelope(index, requester, command))
            .collect();
        let mut live = Engine::new();
        let mut codes = Vec::new();
        for envelope in &envelopes {
            let applied = live.apply(envelope);
            let Applied::Fresh(outcome) = applied else {
                return Err(TestCaseError::fail("every request id is new"));
            };
            live.check_invariants().map_err(TestCaseError::fail)?;
            let mut payload = Vec::new();
            JournalEntry::encode_into(envelope, outcome.code(), &mut payload).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let (decoded, code) = JournalEntry::decode(&payload)
                .map_err(|e| TestCaseError::fail(e.to_string()))?
                .into_envelope(envelope.time);
            prop_assert_eq!(&decoded, envelope);
            prop_assert_eq!(code.as_str(), outcome.code());
            codes.push(code);
            // A repeated request id returns the first outcome and changes nothing.
            let before = live.state_hash();
            prop_assert_eq!(live.apply(envelope), Applied::Duplicate(outcome));
            prop_assert_eq!(live.state_hash(), before);
        }
        let mut replayed = Engine::new();
        for (envelope, code) in envelopes.iter().zip(&codes) {
            let applied = replayed.apply(envelope);
            prop_assert_eq!(applied.outcome().code(), code.as_str());
        }
        prop_assert_eq!(replayed.state_hash(), live.state_hash());
        let restored = Engine::decode_snapshot(&live.encode_snapshot()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(restored.state_hash(), live.state_hash());
    }
}

// ----- the exchange and the registry together -------------------------------------------

mod mixed {
    use super::class;
    use ets_engine::exchange::{AuctionId, ExchangeCommand, HoldingLimit, TradingMode};
    use ets_engine::{Applied, Command, Engine, Envelope, JournalEntry};
    use ets_market::{
        AuctionRules, InstrumentRules, MarketDataRules, OrderId, OrderKind, Side, TimeInForce,
    };
    use ets_model::{
        AccountId, Code, Money, ParticipantId, Price, Quantity, RequestId, Timestamp, TransactionId,
    };
    use ets_registry::{AccountKind, AccountStatus, ParticipantKind, RegistryCommand};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const ADMIN: u64 = 1;
    const OPERATOR: u64 = 2;
    /// The trading accounts and the participant who represents each.
    const TRADERS: [(u64, u64); 3] = [(10, 3), (11, 4), (12, 5)];
    const START_MS: i64 = 1_700_000_000_000;

    fn code(text: &str) -> Code {
        Code::try_new(text).expect("a valid code")
    }

    fn price(ticks: i64) -> Price {
        Price::try_new(ticks).expect("a non-negative price")
    }

    fn registry(requester: u64, command: RegistryCommand) -> (u64, Command) {
        (requester, Command::Registry(command))
    }

    fn exchange(requester: u64, command: ExchangeCommand) -> (u64, Command) {
        (requester, Command::Exchange(command))
    }

    /// Participants, accounts (10 and 12 need one signature, 11 two), 100,000 t
    /// issued and spread out, cash, and four instruments of the class: `C`
    /// continuous (fee 10 bps, ±10% band, a holding limit), `L` listed (T+1),
    /// `K` block (from 100 t) and `KL`, the same desk following `L`'s close.
    fn opening() -> Vec<(u64, Command)> {
        let participant = |id, kind| {
            registry(
                ADMIN,
                RegistryCommand::RegisterParticipant {
                    id: ParticipantId(id),
                    kind,
                    name: format!("participant {id}"),
                },
            )
        };
        let open = |id, kind, holder, reps: &[u64], required| {
            registry(
                ADMIN,
                RegistryCommand::OpenAccount {
                    id: AccountId(id),
                    kind,
                    holder: ParticipantId(holder),
                    representatives: reps.iter().map(|&r| ParticipantId(r)).collect(),
                    approvals_required: required,
                },
            )
        };
        let give = |to, quantity, allocate: bool| {
            let (to, class, quantity) = (AccountId(to), class(2021), Quantity::new(quantity));
            registry(
                ADMIN,
                if allocate {
                    RegistryCommand::Allocate {
                        to,
                        class,
                        quantity,
                    }
                } else {
                    RegistryCommand::Transfer {
                        from: AccountId(1),
                        to,
                        class,
                        quantity,
                    }
                },
            )
        };
        let listing = |symbol, mode, rules, fee_bps, t_plus_one| {
            exchange(
                ADMIN,
                ExchangeCommand::ListInstrument {
                    symbol: code(symbol),
                    class: class(2021),
                    mode,
                    rules,
                    reference_price: price(5_000),
                    fee_bps,
                    fee_account: AccountId(20),
                    no_same_day_resale: t_plus_one,
                    market_data: MarketDataRules::CHINA,
                    calendar: None,
                },
            )
        };
        let continuous = InstrumentRules {
            price_band_bps: Some(1_000),
            ..InstrumentRules::CONTINUOUS
        };
        let block = InstrumentRules {
            min_order_tonnes: 100,
            max_order_tonnes: 100_000,
            ..InstrumentRules::CHINA_BLOCK
        };
        let mut commands = vec![
            participant(ADMIN, ParticipantKind::Administrator),
            participant(OPERATOR, ParticipantKind::Exchange),
            participant(3, ParticipantKind::CoveredEntity),
            participant(4, ParticipantKind::CoveredEntity),
            participant(5, ParticipantKind::Institution),
            open(1, AccountKind::Issuance, ADMIN, &[ADMIN], 1),
            open(2, AccountKind::Surrender, ADMIN, &[ADMIN], 1),
            open(6, AccountKind::Auction, ADMIN, &[ADMIN], 1),
            open(10, AccountKind::OperatorHolding, 3, &[3], 1),
            open(11, AccountKind::OperatorHolding, 4, &[4, 5], 2),
            open(12, AccountKind::Trading, 5, &[5], 1),
            open(20, AccountKind::Trading, OPERATOR, &[OPERATOR], 1),
            registry(
                ADMIN,
                RegistryCommand::Issue {
                    class: class(2021),
                    quantity: Quantity::new(100_000),
                },
            ),
            give(10, 20_000, true),
            give(11, 20_000, true),
            give(12, 10_000, false),
            give(6, 20_000, false),
            listing("C", TradingMode::Continuous, continuous, 10, false),
            listing(
                "L",
                TradingMode::ChinaListed,
                InstrumentRules::CHINA_LISTED,
                0,
                true,
            ),
            listing("K", TradingMode::ChinaBlock, block, 0, true),
            listing(
                "KL",
                TradingMode::ChinaBlockOf { listed: code("L") },
                block,
                0,
                true,
            ),
            exchange(
                ADMIN,
                ExchangeCommand::SetHoldingLimit {
                    instrument: code("C"),
                    limit: Some(HoldingLimit {
                        compliance_entity_above_allocation: Quantity::new(21_000),
                        others: Quantity::new(11_000),
                    }),
                },
            ),
        ];
        for (account, _) in TRADERS {
            commands.push(exchange(
                OPERATOR,
                ExchangeCommand::DepositCash {
                    account: AccountId(account),
                    amount: Money::new(100_000_000),
                },
            ));
        }
        commands
    }

    /// One random step; times (proposal expiries) are filled in when it is sent.
    #[derive(Debug, Clone)]
    enum Step {
        Deposit(usize, i64),
        Withdraw(usize, i64),
        Place(usize, bool, bool, i64, u64, u8),
        Cancel(usize, bool, u64),
        Amend(usize, bool, u64, i64, u64),
        Take(usize, u64, u64),
        Propose(bool, usize, usize, bool, i64, u64, i64),
        Accept(bool, usize, u64),
        Decline(bool, usize, u64),
        WithdrawBlock(bool, usize, u64),
        EndOfDay(u8),
        OpenAuction(u64),
        Bid(usize, u64, i64, u64),
        ModifyBid(usize, u64, u64, i64, u64),
        WithdrawBid(usize, u64, u64),
        CloseAuction(u64),
        Transfer(usize, usize, u64),
        Approve(u64, u64),
        Block(usize, bool),
        Surrender(usize, u64),
        Stranger(usize),
    }

    fn step() -> impl Strategy<Value = Step> {
        let who = 0usize..3;
        let limit = prop_oneof![8 => 4_950i64..5_050, 1 => 4_000i64..6_000];
        let quantity = prop_oneof![3 => 1u64..300, 1 => 300u64..3_000];
        let order = 1u64..12;
        prop_oneof![
            2 => (who.clone(), 1i64..50_000_000).prop_map(|(w, a)| Step::Deposit(w, a)),
            1 => (who.clone(), 1i64..150_000_000).prop_map(|(w, a)| Step::Withdraw(w, a)),
            12 => (who.clone(), any::<bool>(), any::<bool>(), limit.clone(), quantity.clone(), 0u8..10)
                .prop_map(|(w, l, b, p, q, k)| Step::Place(w, l, b, p, q, k)),
            3 => (who.clone(), any::<bool>(), order.clone()).prop_map(|(w, l, o)| Step::Cancel(w, l, o)),
            2 => (who.clone(), any::<bool>(), order.clone(), limit.clone(), quantity.clone())
                .prop_map(|(w, l, o, p, q)| Step::Amend(w, l, o, p, q)),
            4 => (who.clone(), order.clone(), 1u64..100).prop_map(|(w, o, q)| Step::Take(w, o, q)),
            2 => (any::<bool>(), who.clone(), who.clone(), any::<bool>(), limit.clone(), 100u64..3_000, 1i64..30)
                .prop_map(|(k, w, c, b, p, q, e)| Step::Propose(k, w, c, b, p, q, e)),
            3 => (any::<bool>(), who.clone(), 1u64..8).prop_map(|(k, w, p)| Step::Accept(k, w, p)),
            1 => (any::<bool>(), who.clone(), 1u64..8).prop_map(|(k, w, p)| Step::Decline(k, w, p)),
            1 => (any::<bool>(), who.clone(), 1u64..8).prop_map(|(k, w, p)| Step::WithdrawBlock(k, w, p)),
            1 => (0u8..4).prop_map(Step::EndOfDay),
            2 => prop_oneof![Just(1_000u64), Just(2_000), Just(50_000)].prop_map(Step::OpenAuction),
            5 => (who.clone(), 1u64..3, limit.clone(), prop_oneof![Just(500u64), Just(1_000), Just(700)])
                .prop_map(|(w, a, p, q)| Step::Bid(w, a, p, q)),
            2 => (who.clone(), 1u64..3, 1u64..6, limit.clone(), prop_oneof![Just(500u64), Just(1_500)])
                .prop_map(|(w, a, b, p, q)| Step::ModifyBid(w, a, b, p, q)),
            1 => (who.clone(), 1u64..3, 1u64..6).prop_map(|(w, a, b)| Step::WithdrawBid(w, a, b)),
            1 => (1u64..3).prop_map(Step::CloseAuction),
            3 => (who.clone(), who.clone(), quantity.clone()).prop_map(|(f, t, q)| Step::Transfer(f, t, q)),
            1 => (1u64..30, prop_oneof![Just(4u64), Just(5)]).prop_map(|(t, r)| Step::Approve(t, r)),
            2 => (who.clone(), prop_oneof![1 => Just(true), 2 => Just(false)]).prop_map(|(w, b)| Step::Block(w, b)),
            1 => (who.clone(), quantity).prop_map(|(w, q)| Step::Surrender(w, q)),
            1 => who.prop_map(Step::Stranger),
        ]
    }

    fn instrument(listed: bool) -> Code {
        code(if listed { "L" } else { "C" })
    }

    /// The block desk: `KL` (following `L`) or `K` (its own close).
    fn desk(follows: bool) -> Code {
        code(if follows { "KL" } else { "K" })
    }

    /// The requester and command of a step sent at `time_ms`.
    fn command_of(step: &Step, time_ms: i64) -> (u64, Command) {
        let account = |w: usize| AccountId(TRADERS[w].0);
        let rep = |w: usize| TRADERS[w].1;
        let side = |buy: bool| if buy { Side::Buy } else { Side::Sell };
        match *step {
            Step::Deposit(w, amount) => exchange(
                OPERATOR,
                ExchangeCommand::DepositCash {
                    account: account(w),
                    amount: Money::new(amount),
                },
            ),
            Step::Withdraw(w, amount) => exchange(
                OPERATOR,
                ExchangeCommand::WithdrawCash {
                    account: account(w),
                    amount: Money::new(amount),
                },
            ),
            Step::Place(w, listed, buy, limit, quantity, kind) => {
                let (kind, time_in_force) = match kind {
                    0 => (OrderKind::Market, TimeInForce::ImmediateOrCancel),
                    1 => (
                        OrderKind::Limit(price(limit)),
                        TimeInForce::ImmediateOrCancel,
                    ),
                    2 => (OrderKind::Limit(price(limit)), TimeInForce::FillOrKill),
                    _ => (OrderKind::Limit(price(limit)), TimeInForce::Day),
                };
                exchange(
                    rep(w),
                    ExchangeCommand::PlaceOrder {
                        instrument: instrument(listed),
                        account: account(w),
                        side: side(buy),
                        kind,
                        quantity: Quantity::new(quantity),
                        time_in_force,
                    },
                )
            }
            Step::Cancel(w, listed, order) => exchange(
                rep(w),
                ExchangeCommand::CancelOrder {
                    instrument: instrument(listed),
                    account: account(w),
                    order: OrderId(order),
                },
            ),
            Step::Amend(w, listed, order, limit, quantity) => exchange(
                rep(w),
                ExchangeCommand::AmendOrder {
                    instrument: instrument(listed),
                    account: account(w),
                    order: OrderId(order),
                    price: price(limit),
                    quantity: Quantity::new(quantity),
                },
            ),
            Step::Take(w, order, quantity) => exchange(
                rep(w),
                ExchangeCommand::TakeListed {
                    instrument: code("L"),
                    account: account(w),
                    maker_order: OrderId(order),
                    quantity: Quantity::new(quantity),
                },
            ),
            Step::Propose(follows, w, counterparty, buy, limit, quantity, expiry_s) => exchange(
                rep(w),
                ExchangeCommand::ProposeBlock {
                    instrument: desk(follows),
                    account: account(w),
                    counterparty: account(counterparty),
                    side: side(buy),
                    price: price(limit),
                    quantity: Quantity::new(quantity),
                    expires_at: Timestamp(time_ms + expiry_s * 1_000),
                },
            ),
            Step::Accept(follows, w, proposal) => exchange(
                rep(w),
                ExchangeCommand::AcceptBlock {
                    instrument: desk(follows),
                    account: account(w),
                    proposal: OrderId(proposal),
                },
            ),
            Step::Decline(follows, w, proposal) => exchange(
                rep(w),
                ExchangeCommand::DeclineBlock {
                    instrument: desk(follows),
                    account: account(w),
                    proposal: OrderId(proposal),
                },
            ),
            Step::WithdrawBlock(follows, w, proposal) => exchange(
                rep(w),
                ExchangeCommand::WithdrawBlock {
                    instrument: desk(follows),
                    account: account(w),
                    proposal: OrderId(proposal),
                },
            ),
            Step::EndOfDay(which) => exchange(
                OPERATOR,
                ExchangeCommand::EndOfDay {
                    instrument: code(["C", "L", "K", "KL"][usize::from(which % 4)]),
                },
            ),
            Step::OpenAuction(volume) => exchange(
                ADMIN,
                ExchangeCommand::OpenAuction {
                    class: class(2021),
                    rules: AuctionRules::eu(Quantity::new(volume)),
                    seed: volume,
                },
            ),
            Step::Bid(w, auction, limit, quantity) => exchange(
                rep(w),
                ExchangeCommand::SubmitBid {
                    auction: AuctionId(auction),
                    account: account(w),
                    price: price(limit),
                    quantity: Quantity::new(quantity),
                },
            ),
            Step::ModifyBid(w, auction, bid, limit, quantity) => exchange(
                rep(w),
                ExchangeCommand::ModifyBid {
                    auction: AuctionId(auction),
                    account: account(w),
                    bid: OrderId(bid),
                    price: price(limit),
                    quantity: Quantity::new(quantity),
                },
            ),
            Step::WithdrawBid(w, auction, bid) => exchange(
                rep(w),
                ExchangeCommand::WithdrawBid {
                    auction: AuctionId(auction),
                    account: account(w),
                    bid: OrderId(bid),
                },
            ),
            Step::CloseAuction(auction) => exchange(
                ADMIN,
                ExchangeCommand::CloseAuction {
                    auction: AuctionId(auction),
                },
            ),
            Step::Transfer(from, to, quantity) => registry(
                rep(from),
                RegistryCommand::Transfer {
                    from: account(from),
                    to: account(to),
                    class: class(2021),
                    quantity: Quantity::new(quantity),
                },
            ),
            Step::Approve(transaction, requester) => registry(
                requester,
                RegistryCommand::Approve {
                    transaction: TransactionId(transaction),
                },
            ),
            Step::Block(w, blocked) => registry(
                ADMIN,
                RegistryCommand::SetAccountStatus {
                    account: account(w),
                    status: if blocked {
                        AccountStatus::Blocked
                    } else {
                        AccountStatus::Open
                    },
                },
            ),
            Step::Surrender(w, quantity) => registry(
                rep(w),
                RegistryCommand::Surrender {
                    from: account(w),
                    class: class(2021),
                    quantity: Quantity::new(quantity),
                    compliance_year: 2021,
                },
            ),
            // Someone who does not represent the account tries to buy for it.
            Step::Stranger(w) => exchange(
                rep((w + 1) % 3),
                ExchangeCommand::PlaceOrder {
                    instrument: code("C"),
                    account: account(w),
                    side: Side::Buy,
                    kind: OrderKind::Limit(price(5_000)),
                    quantity: Quantity::new(1),
                    time_in_force: TimeInForce::Day,
                },
            ),
        }
    }

    fn envelope(index: usize, requester: u64, command: Command) -> Envelope {
        Envelope {
            request_id: RequestId(index as u64 + 1),
            requester: ParticipantId(requester),
            time: Timestamp(START_MS + index as i64 * 1_000),
            command,
        }
    }

    /// The whole-state checks run after every command.
    fn check(engine: &Engine, ordered: &mut BTreeMap<(Code, OrderId), u64>) -> Result<(), String> {
        // Registry invariants; holds equal reservations; cash balances sum to
        // deposits minus withdrawals; held cash equals open orders' needs; books
        // not crossed.
        engine.check_invariants()?;
        let registry = engine.registry();
        // Units conserved, held units included.
        for (index, unit) in registry.classes() {
            let held: u64 = registry
                .accounts()
                .filter_map(|account| account.holding(index))
                .map(|holding| holding.total().tonnes())
                .sum();
            let issued = registry.issued_quantity(index).tonnes();
            if held != issued {
                return Err(format!("{unit}: {held} t held but {issued} t issued"));
            }
        }
        // Cash conserved.
        let exchange = engine.exchange();
        let balances: i64 = TRADERS
            .iter()
            .map(|(account, _)| AccountId(*account))
            .chain([AccountId(20), AccountId(6)])
            .map(|account| {
                let cash = exchange.cash(account);
                cash.available.minor_units() + cash.held.minor_units()
            })
            .sum();
        if balances != exchange.total_cash().minor_units() {
            return Err(format!(
                "balances {balances} but deposits minus withdrawals {}",
                exchange.total_cash().minor_units()
            ));
        }
        // Filled + open + cancelled = ordered, and fills agree with the trade records.
        let mut filled: BTreeMap<(Code, OrderId), u64> = BTreeMap::new();
        for trade in exchange.trades() {
            if let ets_engine::exchange::TradeVenue::Instrument(symbol) = trade.venue {
                for order in [trade.maker_order, trade.taker_order] {
                    *filled.entry((symbol, order)).or_default() += trade.quantity.tonnes();
                }
            }
        }
        for symbol in ["C", "L"].map(code) {
            for id in 1..=200 {
                let Some(view) = exchange.order(&symbol, OrderId(id)) else {
                    continue;
                };
                let parts = view.filled.tonnes() + view.open.tonnes() + view.cancelled.tonnes();
                if parts != view.ordered.tonnes() {
                    return Err(format!("{symbol} order {id}: {view:?} does not add up"));
                }
                let traded = filled.get(&(symbol, OrderId(id))).copied().unwrap_or(0);
                if traded != view.filled.tonnes() {
                    return Err(format!(
                        "{symbol} order {id}: filled {} but trades say {traded}",
                        view.filled
                    ));
                }
                ordered.insert((symbol, OrderId(id)), view.ordered.tonnes());
            }
        }
        for (key, traded) in &filled {
            if let Some(&most) = ordered.get(key)
                && *traded > most
            {
                return Err(format!("{key:?}: {traded} t traded of {most} t ordered"));
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

        #[test]
        fn exchange_and_registry_commands_keep_every_invariant_and_replay_exactly(
            steps in proptest::collection::vec(step(), 20..200)
        ) {
            let opening = opening();
            let opening_len = opening.len();
            let commands: Vec<(u64, Command)> = opening
                .into_iter()
                .chain(steps.iter().enumerate().map(|(index, step)| {
                    command_of(step, START_MS + (opening_len + index) as i64 * 1_000)
                }))
                .collect();
            let envelopes: Vec<Envelope> = commands
                .into_iter()
                .enumerate()
                .map(|(index, (requester, command))| envelope(index, requester, command))
                .collect();
            let mut live = Engine::new();
            let mut ordered = BTreeMap::new();
            let mut payloads = Vec::new();
            let mut middle = None;
            let mut accepted = 0;
            for (index, envelope) in envelopes.iter().enumerate() {
                let before = live.clone();
                let Applied::Fresh(outcome) = live.apply(envelope) else {
                    return Err(TestCaseError::fail("every request id is new"));
                };
                if index < opening_len {
                    prop_assert!(outcome.is_accepted(), "opening {index}: {outcome:?}");
                }
                // An accepted amendment sets a new open quantity: the order's total is
                // then what was filled or cancelled before plus that quantity, even when
                // it trades at once and leaves the book before the next check sees it.
                if let Command::Exchange(ExchangeCommand::AmendOrder {
                    instrument, order, quantity, ..
                }) = &envelope.command
                    && outcome.is_accepted()
                    && let Some(view) = before.exchange().order(instrument, *order)
                {
                    let total = view.filled.tonnes() + view.cancelled.tonnes() + quantity.tonnes();
                    ordered.insert((*instrument, *order), total);
                }
                check(&live, &mut ordered).map_err(|problem| {
                    TestCaseError::fail(format!("after {:?}: {problem}", envelope.command))
                })?;
                if outcome.is_accepted() {
                    accepted += 1;
                } else {
                    // A refusal changes nothing but the remembered outcome.
                    prop_assert!(before.registry() == live.registry(), "refusal changed the registry: {outcome:?}");
                    prop_assert!(before.exchange() == live.exchange(), "refusal changed the exchange: {outcome:?}");
                    prop_assert!(before.compliance() == live.compliance(), "refusal changed compliance");
                }
                let mut payload = Vec::new();
                JournalEntry::encode_into(envelope, outcome.code(), &mut payload)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                payloads.push((envelope.time, payload));
                if index == envelopes.len() / 2 {
                    middle = Some((index, live.encode_snapshot()));
                }
            }
            prop_assert!(accepted >= opening_len);
            // Replay from the journal entries.
            let mut replayed = Engine::new();
            for (time, payload) in &payloads {
                let (envelope, code) = JournalEntry::decode(payload)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?
                    .into_envelope(*time);
                let applied = replayed.apply(&envelope);
                prop_assert_eq!(applied.outcome().code(), code.as_str());
            }
            prop_assert_eq!(replayed.state_hash(), live.state_hash());
            // From a snapshot of the end, and from one in the middle plus the rest.
            let restored = Engine::decode_snapshot(&live.encode_snapshot())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(restored.state_hash(), live.state_hash());
            if let Some((index, snapshot)) = middle {
                let mut resumed = Engine::decode_snapshot(&snapshot)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                for envelope in &envelopes[index + 1..] {
                    resumed.apply(envelope);
                }
                prop_assert_eq!(resumed.state_hash(), live.state_hash());
            }
        }
    }
}
