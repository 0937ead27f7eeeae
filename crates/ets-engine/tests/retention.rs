//! Bounded retention (docs/memory.md): over a long run the engine keeps a
//! bounded number of transactions, trades and request ids; a request id that
//! left the window is refused as `request_expired` and never applied twice;
//! snapshots carry the window; an engine that never set one keeps everything.

use ets_engine::retention::{DEFAULT_WINDOW, INVALID_RETENTION, MIN_WINDOW, REQUEST_EXPIRED};
use ets_engine::{Applied, Command, Engine, Envelope, Outcome};
use ets_model::{
    AccountId, Code, ParticipantId, Quantity, RequestId, Timestamp, TransactionId, UnitClass,
    Vintage,
};
use ets_registry::{AccountKind, ParticipantKind, RegistryCommand, TransactionStatus};

const ADMIN: ParticipantId = ParticipantId(1);
const ISSUANCE: AccountId = AccountId(1);
const TRADERS: u64 = 20;
const FIRST_TRADER: u64 = 100;
const START_MS: i64 = 1_700_000_000_000;

fn cea() -> UnitClass {
    UnitClass::Allowance {
        scheme: Code::try_new("CEA").expect("code"),
        vintage: Vintage(2021),
    }
}

fn envelope(request: u64, requester: ParticipantId, command: Command) -> Envelope {
    Envelope {
        request_id: RequestId(request),
        requester,
        time: Timestamp(START_MS),
        command,
    }
}

fn accept(engine: &mut Engine, request: u64, requester: ParticipantId, command: RegistryCommand) {
    let applied = engine.apply(&envelope(request, requester, Command::Registry(command)));
    assert!(
        matches!(&applied, Applied::Fresh(outcome) if outcome.is_accepted()),
        "{applied:?}"
    );
}

/// An engine with `window` set first (none: unbounded), an administrator and
/// `TRADERS` traders holding 1,000,000 units each. Returns the next request id.
fn market(window: Option<u64>) -> (Engine, u64) {
    let mut engine = Engine::new();
    let mut request = 1;
    if let Some(commands) = window {
        let applied = engine.apply(&envelope(
            request,
            ParticipantId(0),
            Command::SetRetention { commands },
        ));
        assert!(applied.outcome().is_accepted(), "{applied:?}");
        request += 1;
    }
    let open = |id: u64, kind, holder| RegistryCommand::OpenAccount {
        id: AccountId(id),
        kind,
        holder,
        representatives: vec![holder],
        approvals_required: 1,
    };
    let mut setup = vec![
        RegistryCommand::RegisterParticipant {
            id: ADMIN,
            kind: ParticipantKind::Administrator,
            name: "admin".into(),
        },
        open(ISSUANCE.0, AccountKind::Issuance, ADMIN),
        RegistryCommand::Issue {
            class: cea(),
            quantity: Quantity::new(TRADERS * 1_000_000),
        },
    ];
    for trader in FIRST_TRADER..FIRST_TRADER + TRADERS {
        setup.push(RegistryCommand::RegisterParticipant {
            id: ParticipantId(trader),
            kind: ParticipantKind::Institution,
            name: format!("trader {trader}"),
        });
        setup.push(open(trader, AccountKind::Trading, ParticipantId(trader)));
        setup.push(RegistryCommand::Transfer {
            from: ISSUANCE,
            to: AccountId(trader),
            class: cea(),
            quantity: Quantity::new(1_000_000),
        });
    }
    for command in setup {
        accept(&mut engine, request, ADMIN, command);
        request += 1;
    }
    (engine, request)
}

/// A transfer of one unit between two traders chosen by `n`, sent by the sender.
fn transfer(n: u64, request: u64) -> Envelope {
    let from = FIRST_TRADER + n % TRADERS;
    let to = FIRST_TRADER + (n + 1 + n / TRADERS % (TRADERS - 1)) % TRADERS;
    envelope(
        request,
        ParticipantId(from),
        Command::Registry(RegistryCommand::Transfer {
            from: AccountId(from),
            to: AccountId(to),
            class: cea(),
            quantity: Quantity::new(1),
        }),
    )
}

#[test]
fn retained_objects_stay_bounded_over_a_long_run() {
    // Goal: 100,000 transfers with the smallest window: transactions and
    // request ids retained never pass one window (plus the setup's few kept
    // ones), while every transfer is accepted and every unit stays accounted.
    let (mut engine, mut request) = market(Some(MIN_WINDOW));
    let window = usize::try_from(MIN_WINDOW).expect("fits");
    let mut most_transactions = 0;
    let mut most_requests = 0;
    for n in 0..100_000 {
        let applied = engine.apply(&transfer(n, request));
        assert!(applied.outcome().is_accepted(), "{applied:?}");
        request += 1;
        most_transactions = most_transactions.max(engine.registry().retained_transactions());
        most_requests = most_requests.max(engine.remembered_requests());
    }
    assert_eq!(most_requests, window, "request ids: exactly one window");
    assert!(
        most_transactions <= window + 1,
        "transactions retained peaked at {most_transactions}"
    );
    assert_eq!(
        engine.registry().next_transaction_id(),
        TransactionId(1 + 1 + TRADERS + 100_000),
        "ids keep counting: issue, setup transfers, the run"
    );
    // The oldest transfers are gone, the newest are there.
    assert!(engine.registry().transaction(TransactionId(5)).is_err());
    let last = engine
        .registry()
        .transaction(TransactionId(1 + TRADERS + 100_000))
        .expect("the last transfer is retained");
    assert_eq!(last.status(), TransactionStatus::Completed);
    engine.check_invariants().expect("invariants hold");
}

#[test]
fn an_engine_without_a_window_keeps_everything() {
    // Goal: stores that never set retention (every journal written before it
    // existed) keep every transaction and request id, as before.
    let (mut engine, mut request) = market(None);
    for n in 0..2_000 {
        assert!(engine.apply(&transfer(n, request)).outcome().is_accepted());
        request += 1;
    }
    assert_eq!(engine.retention_window(), None);
    assert_eq!(
        engine.registry().retained_transactions(),
        usize::try_from(1 + TRADERS + 2_000).expect("fits")
    );
    assert_eq!(
        engine.remembered_requests(),
        usize::try_from(request - 1).expect("fits")
    );
}

#[test]
fn an_expired_request_id_is_refused_and_never_applied_twice() {
    let (mut engine, mut request) = market(Some(MIN_WINDOW));
    let first_id = request;
    let first = transfer(0, first_id);
    assert!(engine.apply(&first).outcome().is_accepted());
    request += 1;
    // Within the window the resend answers with the first outcome.
    assert!(matches!(engine.apply(&first), Applied::Duplicate(_)));
    for n in 1..=MIN_WINDOW {
        assert!(engine.apply(&transfer(n, request)).outcome().is_accepted());
        request += 1;
    }
    // Now it left the window: refused as expired, nothing applied.
    let before = engine.state_hash();
    let applied_before = engine.applied();
    let applied = engine.apply(&first);
    let Applied::Reused(Outcome::Rejected(rejection)) = &applied else {
        panic!("expected a refusal, got {applied:?}");
    };
    assert_eq!(rejection.code, REQUEST_EXPIRED);
    assert!(
        rejection.message.contains("idempotency window"),
        "{rejection:?}"
    );
    assert_eq!(engine.state_hash(), before);
    assert_eq!(engine.applied(), applied_before);
    // So is any lower id of that requester it does not remember...
    let lower = transfer(0, first_id - 1);
    assert!(matches!(engine.apply(&lower), Applied::Reused(_)));
    // ...while a new, higher id is applied, and other requesters are not affected.
    assert!(engine.apply(&transfer(0, request)).outcome().is_accepted());
}

#[test]
fn a_bounded_engine_survives_a_snapshot() {
    // Goal: the window, the requesters' floors and the retained history are
    // in the canonical encoding: a restored engine hashes, prunes and refuses alike.
    let (mut engine, mut request) = market(Some(MIN_WINDOW));
    let first = transfer(0, request);
    for n in 0..MIN_WINDOW + 100 {
        assert!(engine.apply(&transfer(n, request)).outcome().is_accepted());
        request += 1;
    }
    let mut restored = Engine::decode_snapshot(&engine.encode_snapshot()).expect("decodes");
    assert_eq!(restored.state_hash(), engine.state_hash());
    assert_eq!(restored.retention_window(), Some(MIN_WINDOW));
    assert!(matches!(restored.apply(&first), Applied::Reused(_)));
    for n in 0..500 {
        let next = transfer(n, request);
        assert_eq!(engine.apply(&next), restored.apply(&next));
        request += 1;
    }
    assert_eq!(restored.state_hash(), engine.state_hash());
    assert_eq!(
        restored.registry().retained_transactions(),
        engine.registry().retained_transactions()
    );
}

#[test]
fn only_the_first_command_or_the_administrator_sets_retention() {
    let set = |request, requester, commands| {
        envelope(request, requester, Command::SetRetention { commands })
    };
    // Out of range: refused.
    let mut engine = Engine::new();
    let applied = engine.apply(&set(1, ParticipantId(0), MIN_WINDOW - 1));
    assert_eq!(applied.outcome().code(), INVALID_RETENTION);
    // After the first command, a non-administrator is refused.
    let (mut engine, request) = market(None);
    let applied = engine.apply(&set(request, ParticipantId(FIRST_TRADER), DEFAULT_WINDOW));
    assert_eq!(applied.outcome().code(), "not_administrator");
    assert_eq!(engine.retention_window(), None);
    // The administrator may bound an old store: what it holds leaves a window later.
    let applied = engine.apply(&set(request + 1, ADMIN, MIN_WINDOW));
    assert!(applied.outcome().is_accepted(), "{applied:?}");
    assert_eq!(engine.retention_window(), Some(MIN_WINDOW));
    let kept = engine.registry().retained_transactions();
    for n in 0..MIN_WINDOW {
        assert!(
            engine
                .apply(&transfer(n, request + 2 + n))
                .outcome()
                .is_accepted()
        );
    }
    assert!(
        engine.registry().transaction(TransactionId(2)).is_err(),
        "the setup's finished transfers left"
    );
    assert!(
        engine.registry().retained_transactions()
            <= usize::try_from(MIN_WINDOW).expect("fits") + kept
    );
}
