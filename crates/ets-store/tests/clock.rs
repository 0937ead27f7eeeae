//! Who sets the time: a live store stamps every command with the server's
//! clock and refuses a client's time; a virtual store's clock moves only by an
//! administrator's journaled `advance_clock`; a refused command never moves
//! the clock; the kind survives reopening.

use ets_engine::clock::ClockCommand;
use ets_engine::{Command, Outcome};
use ets_model::{ParticipantId, RequestId, Timestamp};
use ets_registry::{ParticipantKind, RegistryCommand};
use ets_store::{
    CLIENT_TIME_REFUSED, CLOCK_IS_LIVE, Reply, Store, StoreConfig, StoreError, StoreKind,
    Submission,
};

const YEAR_9999_MS: i64 = 253_402_300_799_000;
const JAN_2021_MS: i64 = 1_609_459_200_000;

fn register(request: u64, requester: u64, id: u64, kind: ParticipantKind) -> Submission {
    Submission {
        request_id: RequestId(request),
        requester: ParticipantId(requester),
        time: None,
        command: Command::Registry(RegistryCommand::RegisterParticipant {
            id: ParticipantId(id),
            kind,
            name: format!("participant {id}"),
        }),
    }
}

fn advance(request: u64, requester: u64, to_ms: i64) -> Submission {
    Submission {
        request_id: RequestId(request),
        requester: ParticipantId(requester),
        time: None,
        command: Command::Clock(ClockCommand::Advance {
            to: Timestamp(to_ms),
        }),
    }
}

fn one(store: &mut Store, submission: Submission, now_ms: i64) -> Reply {
    store
        .submit(&[submission], Timestamp(now_ms))
        .expect("no store fault")
        .pop()
        .expect("one reply")
}

fn code(reply: &Reply) -> &str {
    reply.outcome.code()
}

#[test]
fn a_live_store_refuses_a_client_time_and_keeps_its_clock() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut store = Store::create(dir.path(), StoreConfig::default()).expect("created");
    let admin = one(
        &mut store,
        register(1, 1, 1, ParticipantKind::Administrator),
        1_000,
    );
    assert_eq!(
        admin.time,
        Timestamp(1_000),
        "stamped with the server's clock"
    );
    let mut dated = register(2, 1, 2, ParticipantKind::Individual);
    dated.time = Some(Timestamp(YEAR_9999_MS));
    let refused = one(&mut store, dated, 2_000);
    assert_eq!(code(&refused), CLIENT_TIME_REFUSED);
    assert_eq!(refused.sequence, None, "not journaled");
    assert_eq!(store.clock(), Timestamp(1_000));
    assert_eq!(store.journal().last_sequence(), 1);
    // The same command without a time is then accepted at the server's time.
    let accepted = one(
        &mut store,
        register(2, 1, 2, ParticipantKind::Individual),
        3_000,
    );
    assert!(accepted.outcome.is_accepted(), "{:?}", accepted.outcome);
    assert_eq!(accepted.time, Timestamp(3_000));
    let live_clock = one(&mut store, advance(3, 1, YEAR_9999_MS), 4_000);
    assert_eq!(code(&live_clock), CLOCK_IS_LIVE);
    assert_eq!(store.clock(), Timestamp(3_000));
    let error = store.submit_dated(&[register(4, 1, 3, ParticipantKind::Individual)]);
    assert!(matches!(error, Err(StoreError::DatedOnLiveStore)));
}

#[test]
fn a_virtual_clock_moves_only_by_an_administrators_advance() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut store = Store::create_of_kind(dir.path(), StoreConfig::default(), StoreKind::Virtual)
        .expect("created");
    // Before anyone is registered, the clock may be set (the administrator's first act).
    assert!(
        one(&mut store, advance(1, 1, JAN_2021_MS), 9_000_000)
            .outcome
            .is_accepted()
    );
    let admin = one(
        &mut store,
        register(2, 1, 1, ParticipantKind::Administrator),
        9_000_000,
    );
    assert_eq!(
        admin.time,
        Timestamp(JAN_2021_MS),
        "stamped with the virtual clock, not now"
    );
    assert!(
        one(
            &mut store,
            register(3, 1, 5, ParticipantKind::Individual),
            0
        )
        .outcome
        .is_accepted()
    );
    // A non-administrator's advance is refused, journaled, and moves nothing.
    let refused = one(&mut store, advance(1, 5, YEAR_9999_MS), 0);
    assert_eq!(code(&refused), "not_administrator");
    assert!(refused.sequence.is_some(), "journaled for audit");
    assert_eq!(store.clock(), Timestamp(JAN_2021_MS));
    // Backwards is refused; forward by the administrator moves it.
    assert_eq!(
        code(&one(&mut store, advance(4, 1, JAN_2021_MS - 1), 0)),
        "clock_went_backwards"
    );
    assert_eq!(store.clock(), Timestamp(JAN_2021_MS));
    let later = JAN_2021_MS + 86_400_000;
    let moved = one(&mut store, advance(5, 1, later), 0);
    assert!(
        matches!(moved.outcome, Outcome::Accepted(_)),
        "{:?}",
        moved.outcome
    );
    assert_eq!(store.clock(), Timestamp(later));
    // A client time is refused on a virtual store too.
    let mut dated = register(6, 1, 6, ParticipantKind::Individual);
    dated.time = Some(Timestamp(later + 1));
    assert_eq!(code(&one(&mut store, dated, 0)), CLIENT_TIME_REFUSED);
    let stamped = one(
        &mut store,
        register(7, 1, 6, ParticipantKind::Individual),
        0,
    );
    assert_eq!(stamped.time, Timestamp(later));
    let hash = store.engine().state_hash();
    drop(store);
    let reopened = Store::open(dir.path(), StoreConfig::default()).expect("reopened");
    assert_eq!(reopened.kind(), StoreKind::Virtual);
    assert_eq!(reopened.clock(), Timestamp(later));
    assert_eq!(reopened.engine().state_hash(), hash);
}

#[test]
fn a_store_written_before_kinds_existed_opens_as_live() {
    let dir = tempfile::tempdir().expect("temporary directory");
    drop(
        Store::create_of_kind(dir.path(), StoreConfig::default(), StoreKind::Import)
            .expect("created"),
    );
    std::fs::remove_file(dir.path().join(ets_store::KIND_FILE)).expect("removed");
    let store = Store::open_read_only(dir.path()).expect("opened");
    assert_eq!(store.kind(), StoreKind::Live);
}
