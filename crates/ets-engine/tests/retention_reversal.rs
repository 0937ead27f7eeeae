//! Bounded retention and reversals awaiting approval (docs/memory.md): an
//! allocation whose reversal awaits a second signature stays in a bounded
//! engine however many commands pass, so the reversal can still be approved
//! and puts the units back.

use ets_engine::retention::MIN_WINDOW;
use ets_engine::{Applied, Command, Engine, Envelope, Outcome};
use ets_model::{AccountId, Code, ParticipantId, Quantity, RequestId, Timestamp, TransactionId};
use ets_model::{UnitClass, Vintage};
use ets_registry::{AccountKind, Effect, ParticipantKind, RegistryCommand, TransactionStatus};

const ADMIN: ParticipantId = ParticipantId(1);
const SECOND_ADMIN: ParticipantId = ParticipantId(2);
const PLANT: ParticipantId = ParticipantId(50);
const ISSUANCE: AccountId = AccountId(1);
const PLANT_ACCOUNT: AccountId = AccountId(50);
const START_MS: i64 = 1_700_000_000_000;

fn cea() -> UnitClass {
    UnitClass::Allowance {
        scheme: Code::try_new("CEA").expect("code"),
        vintage: Vintage(2021),
    }
}

/// An engine and the next request id.
struct Run {
    engine: Engine,
    request: u64,
}

impl Run {
    fn apply(&mut self, requester: ParticipantId, command: Command) -> Applied {
        let applied = self.engine.apply(&Envelope {
            request_id: RequestId(self.request),
            requester,
            time: Timestamp(START_MS),
            command,
        });
        self.request += 1;
        applied
    }

    /// A registry command that must be accepted; the transaction it made or
    /// moved on and its status, if any.
    fn accept(
        &mut self,
        requester: ParticipantId,
        command: RegistryCommand,
    ) -> Option<(TransactionId, TransactionStatus)> {
        match self.apply(requester, Command::Registry(command)) {
            Applied::Fresh(Outcome::Accepted(ets_engine::Effect::Registry(
                Effect::Transaction { id, status },
            ))) => Some((id, status)),
            Applied::Fresh(Outcome::Accepted(_)) => None,
            other => panic!("expected acceptance, got {other:?}"),
        }
    }

    /// An administrative transaction proposed by one administrator and
    /// approved by the other: completed.
    fn two_signatures(&mut self, command: RegistryCommand) -> TransactionId {
        let (id, status) = self.accept(ADMIN, command).expect("a transaction");
        assert_eq!(status, TransactionStatus::AwaitingApproval);
        let approve = RegistryCommand::Approve { transaction: id };
        let (_, status) = self.accept(SECOND_ADMIN, approve).expect("approved");
        assert_eq!(status, TransactionStatus::Completed);
        id
    }
}

/// The smallest window; two administrators who must both sign for the
/// issuance account; a plant; 1,000 units issued.
fn setup() -> Run {
    let mut run = Run {
        engine: Engine::new(),
        request: 1,
    };
    let window = Command::SetRetention {
        commands: MIN_WINDOW,
    };
    assert!(run.apply(ParticipantId(0), window).outcome().is_accepted());
    let register = |id, kind, name: &str| RegistryCommand::RegisterParticipant {
        id,
        kind,
        name: name.to_owned(),
    };
    let setup = [
        register(ADMIN, ParticipantKind::Administrator, "admin"),
        register(SECOND_ADMIN, ParticipantKind::Administrator, "second admin"),
        RegistryCommand::OpenAccount {
            id: ISSUANCE,
            kind: AccountKind::Issuance,
            holder: ADMIN,
            representatives: vec![ADMIN, SECOND_ADMIN],
            approvals_required: 2,
        },
        register(PLANT, ParticipantKind::CoveredEntity, "plant"),
        RegistryCommand::OpenAccount {
            id: PLANT_ACCOUNT,
            kind: AccountKind::OperatorHolding,
            holder: PLANT,
            representatives: vec![PLANT],
            approvals_required: 1,
        },
    ];
    for command in setup {
        run.accept(ADMIN, command);
    }
    run.two_signatures(RegistryCommand::Issue {
        class: cea(),
        quantity: Quantity::new(1_000),
    });
    run
}

#[test]
fn a_reversal_awaiting_approval_keeps_its_original_in_a_bounded_engine() {
    let mut run = setup();
    let allocation = run.two_signatures(RegistryCommand::Allocate {
        to: PLANT_ACCOUNT,
        class: cea(),
        quantity: Quantity::new(300),
    });
    let reverse = RegistryCommand::Reverse {
        transaction: allocation,
    };
    let (reversal, status) = run.accept(ADMIN, reverse).expect("a reversal");
    assert_eq!(status, TransactionStatus::AwaitingApproval);
    // More commands than the window holds: refused approvals, journaled.
    for _ in 0..MIN_WINDOW + 100 {
        let missing = RegistryCommand::Approve {
            transaction: TransactionId(u64::MAX),
        };
        assert!(
            !run.apply(ADMIN, Command::Registry(missing))
                .outcome()
                .is_accepted()
        );
    }
    let registry = run.engine.registry();
    let original = registry
        .transaction(allocation)
        .expect("the original stays while its reversal awaits approval");
    assert_eq!(original.status(), TransactionStatus::Completed);
    assert!(
        registry.transaction(reversal).is_ok(),
        "the pending reversal stays"
    );
    // The reversal can still be approved and puts the units back.
    let approve = RegistryCommand::Approve {
        transaction: reversal,
    };
    let (_, status) = run.accept(SECOND_ADMIN, approve).expect("approved");
    assert_eq!(status, TransactionStatus::Completed);
    run.engine.check_invariants().expect("invariants hold");
}
