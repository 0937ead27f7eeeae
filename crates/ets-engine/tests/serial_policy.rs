//! The serial policy inside the engine: only the administrator chooses it,
//! transfers follow it, snapshots carry it, and a state that never chose one
//! encodes exactly as before the policy existed.

use ets_engine::{Applied, Command, Engine, Envelope};
use ets_model::{
    AccountId, Code, ParticipantId, Quantity, RequestId, SerialBlock, Timestamp, UnitClass, Vintage,
};
use ets_registry::{AccountKind, ParticipantKind, RegistryCommand, SerialPolicy};

const ADMIN: ParticipantId = ParticipantId(1);
const TRADER: ParticipantId = ParticipantId(2);
const OTHER_TRADER: ParticipantId = ParticipantId(3);
const ISSUANCE: AccountId = AccountId(1);
const SENDER: AccountId = AccountId(10);
const RECEIVER: AccountId = AccountId(11);

fn cea() -> UnitClass {
    UnitClass::Allowance {
        scheme: Code::try_new("CEA").expect("code"),
        vintage: Vintage(2021),
    }
}

fn send(
    engine: &mut Engine,
    request: u64,
    requester: ParticipantId,
    command: RegistryCommand,
) -> Applied {
    engine.apply(&Envelope {
        request_id: RequestId(request),
        requester,
        time: Timestamp(1_700_000_000_000),
        command: Command::Registry(command),
    })
}

fn transfer(from: AccountId, to: AccountId, quantity: u64) -> RegistryCommand {
    RegistryCommand::Transfer {
        from,
        to,
        class: cea(),
        quantity: Quantity::new(quantity),
    }
}

/// An administrator, two traders with an account each, and 100 units in the sender
/// held as two blocks, 1-30 and 41-100 (the 10 between went to the receiver).
fn registry_with_two_blocks() -> Engine {
    let mut engine = Engine::new();
    let open = |id, kind, holder| RegistryCommand::OpenAccount {
        id,
        kind,
        holder,
        representatives: vec![holder],
        approvals_required: 1,
    };
    let commands = vec![
        (
            ADMIN,
            RegistryCommand::RegisterParticipant {
                id: ADMIN,
                kind: ParticipantKind::Administrator,
                name: "admin".into(),
            },
        ),
        (ADMIN, open(ISSUANCE, AccountKind::Issuance, ADMIN)),
        (
            ADMIN,
            RegistryCommand::RegisterParticipant {
                id: TRADER,
                kind: ParticipantKind::Institution,
                name: "trader".into(),
            },
        ),
        (
            ADMIN,
            RegistryCommand::RegisterParticipant {
                id: OTHER_TRADER,
                kind: ParticipantKind::Institution,
                name: "other trader".into(),
            },
        ),
        (ADMIN, open(SENDER, AccountKind::Trading, TRADER)),
        (ADMIN, open(RECEIVER, AccountKind::Trading, OTHER_TRADER)),
        (
            ADMIN,
            RegistryCommand::Issue {
                class: cea(),
                quantity: Quantity::new(110),
            },
        ),
        (ADMIN, transfer(ISSUANCE, SENDER, 30)),
        (ADMIN, transfer(ISSUANCE, RECEIVER, 10)),
        (ADMIN, transfer(ISSUANCE, SENDER, 60)),
    ];
    for (request, (requester, command)) in commands.into_iter().enumerate() {
        let applied = send(&mut engine, request as u64 + 1, requester, command);
        assert!(
            applied.outcome().is_accepted(),
            "setup refused: {applied:?}"
        );
    }
    engine
}

fn receiver_blocks(engine: &Engine) -> Vec<SerialBlock> {
    let registry = engine.registry();
    let class = registry.class_index(&cea()).expect("class");
    registry
        .account(RECEIVER)
        .expect("receiver")
        .holding(class)
        .expect("holding")
        .blocks()
        .collect()
}

fn block(start: u64, end: u64) -> SerialBlock {
    SerialBlock::try_new(start, end).expect("block")
}

#[test]
fn a_store_moves_oldest_serials_until_the_administrator_chooses_largest_first() {
    let mut engine = registry_with_two_blocks();
    assert_eq!(engine.registry().serial_policy(), SerialPolicy::OldestFirst);
    assert!(
        send(&mut engine, 20, TRADER, transfer(SENDER, RECEIVER, 5))
            .outcome()
            .is_accepted()
    );
    assert_eq!(receiver_blocks(&engine), vec![block(1, 5), block(31, 40)]);

    // Only the administrator chooses; a refusal changes nothing.
    let refused = send(
        &mut engine,
        21,
        TRADER,
        RegistryCommand::SetSerialPolicy {
            policy: SerialPolicy::LargestFirst,
        },
    );
    assert!(!refused.outcome().is_accepted());
    assert_eq!(engine.registry().serial_policy(), SerialPolicy::OldestFirst);

    let chosen = send(
        &mut engine,
        22,
        ADMIN,
        RegistryCommand::SetSerialPolicy {
            policy: SerialPolicy::LargestFirst,
        },
    );
    assert!(chosen.outcome().is_accepted());
    // Sender holds 6-30 and 41-100: the head of the larger block moves.
    assert!(
        send(&mut engine, 23, TRADER, transfer(SENDER, RECEIVER, 5))
            .outcome()
            .is_accepted()
    );
    assert_eq!(receiver_blocks(&engine), vec![block(1, 5), block(31, 45)]);
    engine.check_invariants().expect("invariants hold");
}

#[test]
fn snapshots_carry_the_chosen_policy_and_leave_older_states_unchanged() {
    let mut engine = registry_with_two_blocks();
    let before = engine.encode_snapshot();
    let restored = Engine::decode_snapshot(&before).expect("decodes");
    assert_eq!(
        restored.registry().serial_policy(),
        SerialPolicy::OldestFirst
    );

    let chosen = send(
        &mut engine,
        20,
        ADMIN,
        RegistryCommand::SetSerialPolicy {
            policy: SerialPolicy::LargestFirst,
        },
    );
    assert!(chosen.outcome().is_accepted());
    let snapshot = engine.encode_snapshot();
    let mut restored = Engine::decode_snapshot(&snapshot).expect("decodes");
    assert_eq!(
        restored.registry().serial_policy(),
        SerialPolicy::LargestFirst
    );
    assert_eq!(restored.state_hash(), engine.state_hash());
    // The restored engine settles the next transfer exactly as the live one.
    for engine in [&mut engine, &mut restored] {
        assert!(
            send(engine, 21, TRADER, transfer(SENDER, RECEIVER, 5))
                .outcome()
                .is_accepted()
        );
    }
    assert_eq!(restored.state_hash(), engine.state_hash());
    assert_eq!(receiver_blocks(&restored), vec![block(31, 45)]);
}
