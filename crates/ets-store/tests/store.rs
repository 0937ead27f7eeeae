//! The durable store: replies only after commit, recovery from journal and
//! snapshots reproducing the live state hash, and replay catching a journal
//! whose outcomes the engine does not reproduce.

use ets_engine::{Command, Envelope, JournalEntry};
use ets_journal::{Journal, JournalConfig};
use ets_model::{
    AccountId, Code, ParticipantId, Quantity, RequestId, Timestamp, UnitClass, Vintage,
};
use ets_registry::{AccountKind, ParticipantKind, RegistryCommand};
use ets_store::{Store, StoreConfig, StoreError, Submission};
use proptest::prelude::*;

const TRADERS: u64 = 6;

fn cea() -> UnitClass {
    UnitClass::Allowance {
        scheme: Code::try_new("CEA").expect("valid code"),
        vintage: Vintage(2021),
    }
}

fn submission(request: u64, requester: u64, command: RegistryCommand) -> Submission {
    Submission {
        request_id: RequestId(request),
        requester: ParticipantId(requester),
        time: None,
        command: Command::Registry(command),
    }
}

/// An administrator, an issuance account, and TRADERS trading accounts of 10,000 units each,
/// the first of them needing two signatures (its holder and the administrator's deputy).
fn setup() -> Vec<Submission> {
    let mut commands = vec![
        (
            1,
            RegistryCommand::RegisterParticipant {
                id: ParticipantId(1),
                kind: ParticipantKind::Administrator,
                name: "admin".into(),
            },
        ),
        (
            1,
            RegistryCommand::RegisterParticipant {
                id: ParticipantId(2),
                kind: ParticipantKind::Individual,
                name: "deputy".into(),
            },
        ),
        (
            1,
            RegistryCommand::OpenAccount {
                id: AccountId(1),
                kind: AccountKind::Issuance,
                holder: ParticipantId(1),
                representatives: vec![ParticipantId(1)],
                approvals_required: 1,
            },
        ),
        (
            1,
            RegistryCommand::Issue {
                class: cea(),
                quantity: Quantity::new(10_000 * TRADERS),
            },
        ),
    ];
    for trader in 0..TRADERS {
        let id = 100 + trader;
        let (representatives, required) = if trader == 0 {
            (vec![ParticipantId(id), ParticipantId(2)], 2)
        } else {
            (vec![ParticipantId(id)], 1)
        };
        commands.push((
            1,
            RegistryCommand::RegisterParticipant {
                id: ParticipantId(id),
                kind: ParticipantKind::Institution,
                name: format!("trader {id}"),
            },
        ));
        commands.push((
            1,
            RegistryCommand::OpenAccount {
                id: AccountId(id),
                kind: AccountKind::Trading,
                holder: ParticipantId(id),
                representatives,
                approvals_required: required,
            },
        ));
        commands.push((
            1,
            RegistryCommand::Transfer {
                from: AccountId(1),
                to: AccountId(id),
                class: cea(),
                quantity: Quantity::new(10_000),
            },
        ));
    }
    commands
        .into_iter()
        .enumerate()
        .map(|(index, (requester, command))| submission(index as u64 + 1, requester, command))
        .collect()
}

/// One random step: a transfer between traders (sometimes too large, sometimes from an
/// account the requester does not represent), or an approval of a recent transaction.
fn step() -> impl Strategy<Value = (u64, RegistryCommand)> {
    prop_oneof![
        4 => (0..TRADERS, 0..TRADERS, 1u64..4_000, any::<bool>()).prop_map(|(from, to, quantity, honest)| {
            let requester = if honest { 100 + from } else { 100 + to };
            (requester, RegistryCommand::Transfer { from: AccountId(100 + from), to: AccountId(100 + to), class: cea(), quantity: Quantity::new(quantity) })
        }),
        1 => (1u64..40).prop_map(|transaction| (2, RegistryCommand::Approve { transaction: ets_model::TransactionId(transaction) })),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    // Goal: however commands are split into batches and wherever snapshots are taken,
    // reopening the store (snapshot + replay) and verifying it from the first record
    // both reproduce the live engine's state hash, and every invariant holds.
    #[test]
    fn reopening_reproduces_the_live_state_hash(
        steps in proptest::collection::vec(step(), 1..150),
        batch_sizes in proptest::collection::vec(1usize..40, 1..20),
        snapshot_after_batch in proptest::collection::vec(any::<bool>(), 20),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let config = StoreConfig { snapshot_every_records: 0, ..StoreConfig::default() };
        let mut store = Store::create(&path, config.clone()).unwrap();
        let mut submissions = setup();
        let first_step = submissions.len() as u64 + 1;
        submissions.extend(steps.into_iter().enumerate().map(|(index, (requester, command))| submission(first_step + index as u64, requester, command)));
        let mut remaining = submissions.as_slice();
        let mut batch = 0;
        let mut clock = 1_700_000_000_000;
        while !remaining.is_empty() {
            let size = batch_sizes[batch % batch_sizes.len()].min(remaining.len());
            let (now, rest) = remaining.split_at(size);
            clock += 1_000;
            let replies = store.submit(now, Timestamp(clock)).unwrap();
            prop_assert_eq!(replies.len(), now.len());
            prop_assert_eq!(store.journal().pending(), 0, "a reply was given before its batch was committed");
            store.engine().check_invariants().map_err(TestCaseError::fail)?;
            if snapshot_after_batch[batch % snapshot_after_batch.len()] {
                store.snapshot().unwrap();
            }
            remaining = rest;
            batch += 1;
        }
        let live_hash = store.engine().state_hash();
        let records = store.journal().last_sequence();
        drop(store);
        let reopened = Store::open(&path, config).unwrap();
        prop_assert_eq!(reopened.engine().state_hash(), live_hash);
        drop(reopened);
        let report = ets_store::verify(&path).unwrap();
        prop_assert_eq!(report.state_hash, live_hash);
        prop_assert_eq!(report.records, records);
    }
}

#[test]
fn replay_refuses_a_journal_whose_outcome_the_engine_does_not_reproduce() {
    // Goal: nondeterminism (or an incompatible writer) is caught, not hidden: a record
    // claiming `ok` for a command the engine refuses stops recovery with replay_mismatch.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let mut journal = Journal::create(&path, JournalConfig::default()).unwrap();
    let envelope = Envelope {
        request_id: RequestId(1),
        requester: ParticipantId(5),
        time: Timestamp(1),
        command: Command::Registry(RegistryCommand::Issue {
            class: cea(),
            quantity: Quantity::new(1),
        }),
    };
    let mut payload = Vec::new();
    JournalEntry::encode_into(&envelope, "ok", &mut payload).unwrap();
    journal.append(1, &payload).unwrap();
    journal.commit().unwrap();
    drop(journal);
    let error = Store::open(&path, StoreConfig::default())
        .err()
        .expect("open must fail");
    assert_eq!(error.code(), "replay_mismatch");
    assert!(
        matches!(error, StoreError::ReplayMismatch { sequence: 1, .. }),
        "{error}"
    );
    assert!(ets_store::verify(&path).is_err());
}

#[test]
fn a_second_writer_is_refused_while_readers_may_look() {
    // Goal: one writer at a time; queries open read-only beside it and never write.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let mut writer = Store::create(&path, StoreConfig::default()).unwrap();
    writer
        .submit(&setup(), Timestamp(1_700_000_000_000))
        .unwrap();
    let second = Store::open(&path, StoreConfig::default());
    assert_eq!(second.err().map(|error| error.code()), Some("locked"));
    let mut reader = Store::open_read_only(&path).unwrap();
    assert_eq!(reader.engine().state_hash(), writer.engine().state_hash());
    let refused = reader.submit(
        &[submission(
            999,
            1,
            RegistryCommand::Reject {
                transaction: ets_model::TransactionId(1),
            },
        )],
        Timestamp(1_800_000_000_000),
    );
    assert_eq!(refused.err().map(|error| error.code()), Some("read_only"));
}

#[test]
fn a_large_refused_command_is_journaled_bounded_and_replays_to_the_same_state() {
    // Goal: a user cannot grow the journal with large refused commands (a 1 MB
    // beneficiary note on a refused retirement costs a bounded record), and the
    // refusal is still remembered and replayed: the same request id again gets
    // the first outcome, another command under it gets request_id_reused.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let mut store = Store::create(&path, StoreConfig::default()).unwrap();
    store
        .submit(&setup(), Timestamp(1_700_000_000_000))
        .unwrap();
    let store_bytes = |path: &std::path::Path| -> u64 {
        std::fs::read_dir(path)
            .unwrap()
            .map(|entry| entry.unwrap().metadata().unwrap().len())
            .sum()
    };
    let before = store_bytes(&path);
    let huge = submission(
        500,
        101,
        RegistryCommand::Retire {
            from: AccountId(999),
            class: cea(),
            quantity: Quantity::new(1),
            beneficiary: "x".repeat(1_000_000),
        },
    );
    let first = store
        .submit(std::slice::from_ref(&huge), Timestamp(1_700_000_001_000))
        .unwrap();
    assert!(
        matches!(first[0].outcome, ets_engine::Outcome::Rejected(_)),
        "{:?}",
        first[0].outcome
    );
    let grown = store_bytes(&path) - before;
    assert!(
        grown < 8 * 1024,
        "one refusal grew the store by {grown} bytes"
    );
    let again = store
        .submit(std::slice::from_ref(&huge), Timestamp(1_700_000_002_000))
        .unwrap();
    assert!(again[0].duplicate);
    assert_eq!(again[0].outcome, first[0].outcome);
    let live_hash = store.engine().state_hash();
    drop(store);
    let mut reopened = Store::open(&path, StoreConfig::default()).unwrap();
    assert_eq!(reopened.engine().state_hash(), live_hash);
    let other = submission(
        500,
        101,
        RegistryCommand::Retire {
            from: AccountId(999),
            class: cea(),
            quantity: Quantity::new(2),
            beneficiary: "y".repeat(1_000_000),
        },
    );
    let reused = reopened
        .submit(&[other, huge], Timestamp(1_700_000_003_000))
        .unwrap();
    assert_eq!(reused[0].outcome.code(), "request_id_reused");
    assert!(reused[1].duplicate);
}

#[test]
fn a_snapshot_that_passes_its_checksums_but_does_not_decode_falls_back() {
    // Goal: a snapshot whose state does not decode (another version wrote it, or
    // it was damaged before its checksum was taken) is skipped like a damaged
    // one: the store opens from the older snapshot or the journal alone.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let config = StoreConfig {
        snapshot_every_records: 0,
        ..StoreConfig::default()
    };
    let mut store = Store::create(&path, config.clone()).unwrap();
    store
        .submit(&setup(), Timestamp(1_700_000_000_000))
        .unwrap();
    let live_hash = store.engine().state_hash();
    let last = store.journal().last_sequence();
    drop(store);
    let mut journal = Journal::open(&path, JournalConfig::default()).unwrap();
    journal
        .write_snapshot(last, b"not an engine state")
        .unwrap();
    drop(journal);
    let reopened = Store::open(&path, config).unwrap();
    assert_eq!(reopened.engine().state_hash(), live_hash);
    drop(reopened);
    let report = ets_store::verify(&path).unwrap();
    assert_eq!(report.state_hash, live_hash);
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("does not decode")),
        "{:?}",
        report.warnings
    );
}

#[test]
fn deleting_the_lock_file_does_not_let_a_second_writer_in() {
    // Goal: the writer lock is the operating system's, on the store itself.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let _writer = Store::create(&path, StoreConfig::default()).unwrap();
    let _ = std::fs::remove_file(path.join("LOCK"));
    let second = Store::open(&path, StoreConfig::default());
    assert_eq!(second.err().map(|error| error.code()), Some("locked"));
}

#[test]
fn after_an_io_fault_queries_show_only_durable_state() {
    // Goal: a batch whose commit failed was never acknowledged, so its effects
    // must not be readable: the store stops writing and its engine goes back
    // to the durable state.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let mut store = Store::create(&path, StoreConfig::default()).unwrap();
    store
        .submit(&setup(), Timestamp(1_700_000_000_000))
        .unwrap();
    let durable_hash = store.engine().state_hash();
    let durable_records = store.journal().last_sequence();
    drop(store);
    // A small segment limit makes the next commit start a new segment; a
    // directory squatting on that segment's name makes the commit fail.
    let mut config = StoreConfig::default();
    config.journal.segment_size_limit_bytes = 1;
    let mut store = Store::open(&path, config).unwrap();
    std::fs::create_dir(path.join(format!("journal-{:020}.seg", durable_records + 1))).unwrap();
    let failed = store.submit(
        &[submission(
            900,
            1,
            RegistryCommand::Issue {
                class: cea(),
                quantity: Quantity::new(5),
            },
        )],
        Timestamp(1_700_000_001_000),
    );
    assert!(failed.is_err());
    assert!(store.is_faulted());
    assert_eq!(store.engine().state_hash(), durable_hash);
    assert_eq!(
        store
            .submit(&[], Timestamp(1_700_000_002_000))
            .err()
            .map(|error| error.code()),
        Some("store_faulted")
    );
}
