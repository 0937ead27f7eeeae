//! Compliance under bounded retention (docs/memory.md): completed allocations
//! and surrenders leave the engine a window after they finished, like other
//! finished transactions, while compliance keeps its own surrender tally; the
//! tally equals the one an engine that keeps everything derives, survives a
//! snapshot, and a reversal of what left is refused with a clear reason; an
//! allocation whose reversal awaits a second signature stays however many
//! commands pass, so the reversal can still be approved.

use ets_engine::compliance::SurrenderTally;
use ets_engine::retention::MIN_WINDOW;
use ets_engine::{Applied, Command, Engine, Envelope, Outcome};
use ets_model::{AccountId, Code, ParticipantId, Quantity, RequestId, Timestamp, TransactionId};
use ets_model::{UnitClass, Vintage};
use ets_registry::{AccountKind, Effect, ParticipantKind, RegistryCommand, TransactionStatus};

const ADMIN: ParticipantId = ParticipantId(1);
const SECOND_ADMIN: ParticipantId = ParticipantId(2);
const PLANT: ParticipantId = ParticipantId(50);
const TRADER: ParticipantId = ParticipantId(60);
const ISSUANCE: AccountId = AccountId(1);
const SURRENDERS: AccountId = AccountId(2);
const PLANT_ACCOUNT: AccountId = AccountId(50);
const TRADER_ACCOUNT: AccountId = AccountId(60);
const YEAR: u16 = 2021;
/// Transfers between two cycles' allocations and surrenders.
const FILL: u64 = 20;
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
    /// `window` set first (none: unbounded), an administrator, a plant and a
    /// trader, and a billion units in the issuance account.
    fn new(window: Option<u64>) -> Run {
        let mut run = Run {
            engine: Engine::new(),
            request: 1,
        };
        if let Some(commands) = window {
            let applied = run.apply(ParticipantId(0), Command::SetRetention { commands });
            assert!(applied.outcome().is_accepted(), "{applied:?}");
        }
        let open = |id: AccountId, kind, holder| RegistryCommand::OpenAccount {
            id,
            kind,
            holder,
            representatives: vec![holder],
            approvals_required: 1,
        };
        let register = |id, kind, name: &str| RegistryCommand::RegisterParticipant {
            id,
            kind,
            name: name.to_owned(),
        };
        let setup = [
            register(ADMIN, ParticipantKind::Administrator, "admin"),
            open(ISSUANCE, AccountKind::Issuance, ADMIN),
            open(SURRENDERS, AccountKind::Surrender, ADMIN),
            register(PLANT, ParticipantKind::CoveredEntity, "plant"),
            open(PLANT_ACCOUNT, AccountKind::OperatorHolding, PLANT),
            register(TRADER, ParticipantKind::Institution, "trader"),
            open(TRADER_ACCOUNT, AccountKind::Trading, TRADER),
            RegistryCommand::Issue {
                class: cea(),
                quantity: Quantity::new(1_000_000_000),
            },
        ];
        for command in setup {
            run.accept(ADMIN, command);
        }
        run
    }

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
    fn propose(
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

    /// Applies a registry command that must be accepted and complete at once;
    /// returns the transaction it created or moved on, if any.
    fn accept(
        &mut self,
        requester: ParticipantId,
        command: RegistryCommand,
    ) -> Option<TransactionId> {
        let (id, status) = self.propose(requester, command)?;
        assert_eq!(status, TransactionStatus::Completed);
        Some(id)
    }

    /// An administrative transaction proposed by one administrator and
    /// approved by the other: completed.
    fn two_signatures(&mut self, command: RegistryCommand) -> TransactionId {
        let (id, status) = self.propose(ADMIN, command).expect("a transaction");
        assert_eq!(status, TransactionStatus::AwaitingApproval);
        let approve = RegistryCommand::Approve { transaction: id };
        self.accept(SECOND_ADMIN, approve).expect("approved")
    }

    fn transaction(&mut self, requester: ParticipantId, command: RegistryCommand) -> TransactionId {
        self.accept(requester, command).expect("a transaction")
    }

    /// One cycle: an allocation, a surrender (every third one reversed at
    /// once), every fifth cycle an extra allocation reversed at once, and
    /// `FILL` transfers. Returns the tonnes the cycle's surrenders still count.
    fn cycle(&mut self, n: u64) -> u64 {
        self.transaction(ADMIN, allocate(30));
        if n.is_multiple_of(5) {
            let extra = self.transaction(ADMIN, allocate(7));
            self.transaction(ADMIN, RegistryCommand::Reverse { transaction: extra });
        }
        let surrender = self.transaction(
            PLANT,
            RegistryCommand::Surrender {
                from: PLANT_ACCOUNT,
                class: cea(),
                quantity: Quantity::new(10),
                compliance_year: YEAR,
            },
        );
        let counted = if n.is_multiple_of(3) {
            self.transaction(
                ADMIN,
                RegistryCommand::Reverse {
                    transaction: surrender,
                },
            );
            0
        } else {
            10
        };
        for _ in 0..FILL {
            self.transaction(
                PLANT,
                RegistryCommand::Transfer {
                    from: PLANT_ACCOUNT,
                    to: TRADER_ACCOUNT,
                    class: cea(),
                    quantity: Quantity::new(1),
                },
            );
        }
        counted
    }
}

fn allocate(tonnes: u64) -> RegistryCommand {
    RegistryCommand::Allocate {
        to: PLANT_ACCOUNT,
        class: cea(),
        quantity: Quantity::new(tonnes),
    }
}

#[test]
fn completed_surrenders_and_allocations_leave_with_the_window() {
    // Goal: over three windows of allocations, surrenders, reversals and
    // transfers, the transactions retained never pass one window, and the
    // compliance tally stays one entry (one account, year, class and time)
    // counting exactly what was surrendered and not reversed.
    let mut run = Run::new(Some(MIN_WINDOW));
    let first_surrender = run.engine.registry().next_transaction_id().0 + 1;
    let window = usize::try_from(MIN_WINDOW).expect("fits");
    let (mut most_transactions, mut most_tally, mut counted) = (0, 0, 0);
    let mut n = 0;
    while run.engine.applied() < 3 * MIN_WINDOW {
        counted += run.cycle(n);
        n += 1;
        most_transactions = most_transactions.max(run.engine.registry().retained_transactions());
        most_tally = most_tally.max(run.engine.compliance().surrender_tally().len());
    }
    assert!(
        most_transactions <= window + 1,
        "transactions retained peaked at {most_transactions}"
    );
    assert_eq!(most_tally, 1, "the tally kept one entry");
    let tally = run.engine.compliance().surrender_tally();
    assert_eq!(tally.tonnes_of(PLANT_ACCOUNT, YEAR), counted);
    assert!(counted > 10_000, "the run surrendered units: {counted}");
    // The first surrender left the engine: its reversal is refused, nothing changes.
    assert!(
        run.engine
            .registry()
            .transaction(TransactionId(first_surrender))
            .is_err()
    );
    let before = run.engine.state_hash();
    let applied = run.apply(
        ADMIN,
        Command::Registry(RegistryCommand::Reverse {
            transaction: TransactionId(first_surrender),
        }),
    );
    let Applied::Fresh(Outcome::Rejected(rejection)) = &applied else {
        panic!("expected a refusal, got {applied:?}");
    };
    assert_eq!(rejection.code, "not_reversible");
    assert!(
        rejection.message.contains("left the engine"),
        "{rejection:?}"
    );
    assert_eq!(
        run.engine
            .compliance()
            .surrender_tally()
            .tonnes_of(PLANT_ACCOUNT, YEAR),
        counted
    );
    assert_ne!(run.engine.state_hash(), before, "the refusal is remembered");
    run.engine.check_invariants().expect("invariants hold");
}

#[test]
fn the_bounded_tally_equals_the_one_an_unbounded_engine_derives() {
    // Goal: the same commands with and without a window give the same
    // compliance state, and the unbounded engine's tally is the one its
    // retained transactions give.
    let mut bounded = Run::new(Some(MIN_WINDOW));
    let mut unbounded = Run::new(None);
    // The bounded run's first request set the window: align the request ids.
    unbounded.request = bounded.request;
    for n in 0..1_000 {
        bounded.cycle(n);
        unbounded.cycle(n);
    }
    assert!(
        bounded.engine.registry().retained_transactions()
            < unbounded.engine.registry().retained_transactions()
    );
    assert_eq!(bounded.engine.compliance(), unbounded.engine.compliance());
    assert_eq!(
        unbounded.engine.compliance().surrender_tally(),
        &SurrenderTally::from_registry(unbounded.engine.registry())
    );
    // An unbounded snapshot does not carry the tally: it is derived on decode.
    let restored = Engine::decode_snapshot(&unbounded.engine.encode_snapshot()).expect("decodes");
    assert_eq!(restored.compliance(), unbounded.engine.compliance());
    assert_eq!(restored.state_hash(), unbounded.engine.state_hash());
}

#[test]
fn a_bounded_snapshot_carries_the_tally() {
    // Goal: once the surrenders that made the tally left the engine, a
    // restored engine still knows them, hashes alike and goes on alike.
    let mut run = Run::new(Some(MIN_WINDOW));
    let mut n = 0;
    while run.engine.applied() < MIN_WINDOW + 1_000 {
        run.cycle(n);
        n += 1;
    }
    let encoded = run.engine.encode_snapshot();
    let restored = Engine::decode_snapshot(&encoded).expect("decodes");
    assert_eq!(restored.compliance(), run.engine.compliance());
    assert_eq!(restored.state_hash(), run.engine.state_hash());
    assert_ne!(
        run.engine.compliance().surrender_tally(),
        &SurrenderTally::from_registry(run.engine.registry()),
        "the early surrenders are known only to the tally"
    );
    let mut restored = Run {
        engine: restored,
        request: run.request,
    };
    for _ in 0..50 {
        run.cycle(n);
        restored.cycle(n);
        n += 1;
    }
    assert_eq!(restored.engine.state_hash(), run.engine.state_hash());
}

/// The smallest window; two administrators who must both sign for the
/// issuance account; a plant; 1,000 units issued.
fn two_signature_setup() -> Run {
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
    let mut run = two_signature_setup();
    let allocation = run.two_signatures(RegistryCommand::Allocate {
        to: PLANT_ACCOUNT,
        class: cea(),
        quantity: Quantity::new(300),
    });
    let reverse = RegistryCommand::Reverse {
        transaction: allocation,
    };
    let (reversal, status) = run.propose(ADMIN, reverse).expect("a reversal");
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
    let (_, status) = run.propose(SECOND_ADMIN, approve).expect("approved");
    assert_eq!(status, TransactionStatus::Completed);
    run.engine.check_invariants().expect("invariants hold");
}
