//! Pipelined group commit (`Store::submit_dated_pipelined`): the journal
//! write and fsync of one batch overlap applying the next. What a client,
//! the journal and a reader see must be what one batch at a time gives;
//! a failed write acknowledges nothing after it and leaves the durable
//! state; an observer hears of every durable batch once, in order.

use common::commands;
use ets_engine::Engine;
use ets_model::Timestamp;
use ets_store::{
    CommitObserver, Committed, JournalBackend, JournalHead, Reply, Store, StoreConfig, StoreKind,
    Submission, replay,
};
use std::path::Path;
use std::sync::{Arc, Mutex};

mod common;

const BATCH: usize = 4;

/// The session in batches of [`BATCH`], then a batch repeating its first
/// request (a duplicate, answered with the first outcome, not journaled).
fn batches() -> Vec<Vec<Submission>> {
    let commands = commands();
    let mut batches: Vec<Vec<Submission>> = commands.chunks(BATCH).map(<[_]>::to_vec).collect();
    batches.push(vec![commands[0].clone()]);
    batches
}

fn virtual_store(dir: &Path, config: StoreConfig) -> Store {
    Store::create_of_kind(dir, config, StoreKind::Virtual).expect("created")
}

/// Each batch's replies from a store committing one batch at a time, and its final state.
fn one_at_a_time(dir: &Path, batches: &[Vec<Submission>]) -> (Vec<Vec<Reply>>, Store) {
    let mut store = virtual_store(dir, StoreConfig::default());
    let replies = batches
        .iter()
        .map(|batch| store.submit_dated(batch).expect("durable"))
        .collect();
    (replies, store)
}

#[test]
fn pipelined_batches_give_the_replies_journal_and_state_of_one_at_a_time() {
    // Goal: overlapping the fsync of a batch with applying the next changes
    // nothing a client or the journal can see, snapshots included.
    let temp = tempfile::tempdir().expect("temporary directory");
    let batches = batches();
    let (expected, reference) = one_at_a_time(&temp.path().join("one"), &batches);
    let duplicate = &expected[expected.len() - 1][0];
    assert!(duplicate.duplicate && duplicate.sequence.is_none());
    let path = temp.path().join("pipelined");
    let config = StoreConfig {
        snapshot_every_records: 5,
        ..StoreConfig::default()
    };
    let mut store = virtual_store(&path, config);
    let mut acknowledged = Vec::new();
    store
        .submit_dated_pipelined(batches.clone(), |replies| acknowledged.push(replies))
        .expect("durable");
    assert_eq!(acknowledged, expected);
    let hash = store.engine().state_hash();
    assert_eq!(hash, reference.engine().state_hash());
    assert_eq!(store.journal().stats(), reference.journal().stats());
    assert!(
        store.journal().latest_snapshot().expect("reads").is_some(),
        "snapshots fell due on the way"
    );
    drop(store);
    let reopened = Store::open(&path, StoreConfig::default()).expect("reopens");
    assert_eq!(reopened.engine().state_hash(), hash);
    drop(reopened);
    let (engine, records) = replay(&path).expect("replays from the first record");
    assert_eq!(engine.state_hash(), hash);
    assert_eq!(records, commands().len() as u64);
}

#[test]
fn a_failed_write_acknowledges_no_later_batch_and_leaves_the_durable_state() {
    // Goal: when batch K's write fails, batches before it were acknowledged,
    // K and the one applied behind it never are, reads show the state of the
    // batches before K only, and the store refuses everything until reopened.
    const FAILING: usize = 3;
    let temp = tempfile::tempdir().expect("temporary directory");
    let batches = batches();
    let (expected, reference) = one_at_a_time(&temp.path().join("one"), &batches[..FAILING]);
    let path = temp.path().join("pipelined");
    // Every record starts a segment; a directory squatting on the name of
    // batch K's first segment makes its write fail.
    let mut config = StoreConfig::default();
    config.journal.segment_size_limit_bytes = 1;
    let mut store = virtual_store(&path, config);
    let durable_records = (FAILING * BATCH) as u64;
    let squatter = path.join(format!("journal-{:020}.seg", durable_records + 1));
    std::fs::create_dir(&squatter).expect("squats");
    let mut acknowledged = Vec::new();
    let error = store
        .submit_dated_pipelined(batches.clone(), |replies| acknowledged.push(replies))
        .expect_err("the write of batch K fails");
    assert_eq!(acknowledged, expected, "exactly the batches before K");
    assert!(store.is_faulted(), "{error}");
    assert_eq!(store.engine().state_hash(), reference.engine().state_hash());
    assert_eq!(store.journal().stats().last_sequence, durable_records);
    let refused = store.submit_dated_pipelined(batches.clone(), |_| {
        panic!("a faulted store acknowledges nothing")
    });
    assert_eq!(refused.map_err(|error| error.code()), Err("store_faulted"));
    drop(store);
    std::fs::remove_dir(&squatter).expect("removed");
    let reopened = Store::open(&path, StoreConfig::default()).expect("reopens");
    assert_eq!(reopened.journal().stats().last_sequence, durable_records);
    assert_eq!(
        reopened.engine().state_hash(),
        reference.engine().state_hash()
    );
}

/// An observer that writes down the sequences of each batch it hears of.
struct Recorder(Arc<Mutex<Vec<Vec<u64>>>>);

impl CommitObserver for Recorder {
    fn committed(
        &mut self,
        _engine: &Engine,
        batch: &[Committed],
        head: JournalHead,
        journal: &dyn JournalBackend,
    ) {
        assert_eq!(
            head.sequence,
            journal.stats().last_sequence,
            "durable first"
        );
        let sequences = batch.iter().map(|committed| committed.sequence).collect();
        self.0.lock().expect("not poisoned").push(sequences);
    }
}

#[test]
fn with_an_observer_every_durable_record_reaches_it_once_in_order() {
    // Goal: the engine runs ahead of the disk, so an observer (which reads
    // the engine as it stands after what it is handed) hears of a pipelined
    // run once it has drained: every journaled record exactly once, in
    // order, each time with the journal durable up to the last one; every
    // batch is still acknowledged on its own.
    let temp = tempfile::tempdir().expect("temporary directory");
    let batches = batches();
    let mut store = virtual_store(temp.path(), StoreConfig::default());
    let heard = Arc::new(Mutex::new(Vec::new()));
    store.set_observer(Box::new(Recorder(Arc::clone(&heard))));
    let mut acknowledged = 0;
    store
        .submit_dated_pipelined(batches.clone(), |_| acknowledged += 1)
        .expect("durable");
    let journaled = commands().len() as u64;
    let heard = heard.lock().expect("not poisoned").concat();
    assert_eq!(heard, (1..=journaled).collect::<Vec<_>>());
    assert_eq!(acknowledged, batches.len(), "the duplicate's batch too");
}

#[test]
fn after_a_failed_write_the_observer_hears_of_the_durable_records_only() {
    // Goal: when batch K's write fails, the observer hears of the records of
    // the batches before K (durable and acknowledged), with the durable
    // state, and of nothing of K or after it.
    const FAILING: usize = 3;
    let temp = tempfile::tempdir().expect("temporary directory");
    let mut config = StoreConfig::default();
    config.journal.segment_size_limit_bytes = 1;
    let mut store = virtual_store(temp.path(), config);
    let durable_records = (FAILING * BATCH) as u64;
    let squatter = temp
        .path()
        .join(format!("journal-{:020}.seg", durable_records + 1));
    std::fs::create_dir(&squatter).expect("squats");
    let heard = Arc::new(Mutex::new(Vec::new()));
    store.set_observer(Box::new(Recorder(Arc::clone(&heard))));
    store
        .submit_dated_pipelined(batches(), |_| {})
        .expect_err("the write of batch K fails");
    let heard = heard.lock().expect("not poisoned").concat();
    assert_eq!(heard, (1..=durable_records).collect::<Vec<_>>());
}

#[test]
fn pipelined_door_batches_answer_as_submit_does_one_batch_at_a_time() {
    // Goal: a client door's pipelined batches (a live store, each batch
    // stamped with the server's clock given with it) give the replies,
    // journal and state that `Store::submit` gives one batch at a time.
    let temp = tempfile::tempdir().expect("temporary directory");
    let stamped: Vec<(Vec<Submission>, Timestamp)> = batches()
        .into_iter()
        .zip(1_000..)
        .map(|(batch, now_ms)| (batch, Timestamp(now_ms)))
        .collect();
    let mut reference =
        Store::create(&temp.path().join("one"), StoreConfig::default()).expect("created");
    let expected: Vec<Vec<Reply>> = stamped
        .iter()
        .map(|(batch, now)| reference.submit(batch, *now).expect("durable"))
        .collect();
    let mut store =
        Store::create(&temp.path().join("pipelined"), StoreConfig::default()).expect("created");
    let mut acknowledged = Vec::new();
    store
        .submit_pipelined(stamped, |replies| acknowledged.push(replies))
        .expect("durable");
    assert_eq!(acknowledged, expected);
    assert_eq!(store.engine().state_hash(), reference.engine().state_hash());
    assert_eq!(store.journal().stats(), reference.journal().stats());
}
