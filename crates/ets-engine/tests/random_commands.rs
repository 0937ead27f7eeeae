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
