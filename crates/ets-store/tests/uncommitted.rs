//! Group commit for an in-process driver (the simulator): dated batches journaled
//! with `submit_dated_uncommitted` become durable together at `commit` (or at a
//! snapshot); a store dropped before that reopens at its last commit, with the
//! engine and the journal agreeing; the whole journal replays to the same state.

use ets_engine::{Command, Engine, Envelope};
use ets_model::{ParticipantId, RequestId, Timestamp};
use ets_registry::{ParticipantKind, RegistryCommand};
use ets_store::{Store, StoreConfig, StoreError, StoreKind, Submission, replay};

const JAN_2021_MS: i64 = 1_609_459_200_000;

fn register(n: u64) -> Submission {
    Submission {
        request_id: RequestId(n),
        requester: ParticipantId(1),
        time: Some(Timestamp(JAN_2021_MS + i64::try_from(n).expect("small"))),
        command: Command::Registry(RegistryCommand::RegisterParticipant {
            id: ParticipantId(n),
            kind: if n == 1 {
                ParticipantKind::Administrator
            } else {
                ParticipantKind::Individual
            },
            name: format!("participant {n}"),
        }),
    }
}

/// The state an engine reaches from the same commands, applied directly.
fn applied(count: u64) -> ets_engine::StateHash {
    let mut engine = Engine::new();
    for n in 1..=count {
        let s = register(n);
        let applied = engine.apply(&Envelope {
            request_id: s.request_id,
            requester: s.requester,
            time: s.time.expect("dated"),
            command: s.command,
        });
        assert!(applied.outcome().is_accepted());
    }
    engine.state_hash()
}

fn virtual_store(dir: &std::path::Path) -> Store {
    Store::create_of_kind(dir, StoreConfig::default(), StoreKind::Virtual).expect("created")
}

#[test]
fn uncommitted_batches_become_durable_together_at_commit() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut store = virtual_store(dir.path());
    for n in 1..=5 {
        let replies = store
            .submit_dated_uncommitted(&[register(n)])
            .expect("no fault");
        assert!(replies[0].outcome.is_accepted(), "{:?}", replies[0].outcome);
        assert_eq!(replies[0].sequence, Some(n));
    }
    assert_eq!(store.uncommitted(), 5);
    store.commit().expect("committed");
    assert_eq!(store.uncommitted(), 0);
    store.commit().expect("an empty commit does nothing");
    let hash = store.engine().state_hash();
    assert_eq!(
        hash,
        applied(5),
        "the same state as the commands applied directly"
    );
    drop(store);
    let reopened = Store::open(dir.path(), StoreConfig::default()).expect("reopened");
    assert_eq!(reopened.engine().state_hash(), hash);
    let (engine, records) = replay(dir.path()).expect("replays");
    assert_eq!((engine.state_hash(), records), (hash, 5));
}

#[test]
fn a_store_dropped_before_its_commit_reopens_at_the_last_commit() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut store = virtual_store(dir.path());
    store
        .submit_dated_uncommitted(&[register(1), register(2)])
        .expect("no fault");
    store.commit().expect("committed");
    store
        .submit_dated_uncommitted(&[register(3)])
        .expect("no fault");
    assert_eq!(store.uncommitted(), 1);
    drop(store);
    let reopened = Store::open(dir.path(), StoreConfig::default()).expect("reopened");
    assert_eq!(reopened.journal().stats().last_sequence, 2);
    assert_eq!(reopened.engine().state_hash(), applied(2));
}

#[test]
fn a_snapshot_commits_first_and_a_committing_submission_takes_the_waiting_records() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut store = virtual_store(dir.path());
    store
        .submit_dated_uncommitted(&[register(1)])
        .expect("no fault");
    store.submit_dated(&[register(2)]).expect("no fault");
    assert_eq!(store.uncommitted(), 0, "submit_dated committed both");
    store
        .submit_dated_uncommitted(&[register(3)])
        .expect("no fault");
    store.snapshot().expect("snapshot");
    assert_eq!(store.uncommitted(), 0, "the snapshot committed first");
    drop(store);
    let reopened = Store::open(dir.path(), StoreConfig::default()).expect("reopened");
    assert_eq!(reopened.engine().state_hash(), applied(3));
    let (engine, records) = replay(dir.path()).expect("replays");
    assert_eq!((engine.state_hash(), records), (applied(3), 3));
}

#[test]
fn a_live_store_refuses_uncommitted_dated_batches() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut store = Store::create(dir.path(), StoreConfig::default()).expect("created");
    let refused = store.submit_dated_uncommitted(&[register(1)]);
    assert!(matches!(refused, Err(StoreError::DatedOnLiveStore)));
    assert_eq!(store.uncommitted(), 0);
}
