//! The store on PostgreSQL when the database goes away or fills, against a
//! real throwaway cluster (crates/ets-pgtest):
//!
//! - a session terminated between batches is reconnected within the next
//!   commit, which is then durable;
//! - a batch whose session died inside its transaction is inserted again, and
//!   one whose session died after it committed is found by sequence and hash
//!   and not inserted twice;
//! - a store stopped by an outage refuses everything, then resumes once the
//!   database is back, with the failed (never acknowledged) batch dropped;
//! - a writer replaced while its session was down never acknowledges again;
//! - a full disk fails the whole batch with `database_disk_full`, leaves no
//!   part of it in the journal, and the store resumes once space returns.
//!
//! No test asserts a time.

use common::{class, commands, run};
use ets_engine::Command;
use ets_model::{ParticipantId, Quantity, RequestId, Timestamp};
use ets_pgtest::{Cluster, SmallDisk};
use ets_registry::RegistryCommand;
use ets_store::{
    JournalBackend, PgJournal, Store, StoreConfig, StoreKind, StoreLocation, Submission,
    record_hash,
};

mod common;

/// An issue of one tonne by the administrator of [`commands`].
fn issue(request_id: u64) -> Submission {
    Submission {
        request_id: RequestId(request_id),
        requester: ParticipantId(1),
        time: None,
        command: Command::Registry(RegistryCommand::Issue {
            class: class(),
            quantity: Quantity::new(1),
        }),
    }
}

/// The records in the database's journal, counted by another session.
fn journal_rows(url: &str) -> u64 {
    let mut admin = postgres::Client::connect(url, postgres::NoTls).expect("connects");
    let rows: i64 = admin
        .query_one("SELECT COUNT(*) FROM ets_journal", &[])
        .expect("counts")
        .get(0);
    u64::try_from(rows).expect("a count")
}

/// `ets verify` on the database: every record checked and replayed; the
/// records, head and state hash it found must be `store`'s durable ones.
fn verify_matches(url: &str, store: &Store) {
    let report = ets_store::verify_at(&StoreLocation::parse(url)).expect("the journal verifies");
    let durable = store.journal().stats();
    assert_eq!(report.records, durable.last_sequence);
    assert_eq!(report.head_hash, durable.last_hash);
    assert_eq!(report.state_hash, store.engine().state_hash());
}

const LATER: Timestamp = Timestamp(1_800_000_000_000);

#[test]
fn a_terminated_session_is_reconnected_within_the_next_commit() {
    let cluster = Cluster::start().expect("a PostgreSQL cluster");
    let url = cluster.create_database("store").expect("a database");
    let commands = commands();
    let mut store = Store::create_postgres(&url, StoreConfig::default()).expect("pg store");
    run(&mut store, &commands);
    for round in 0..3 {
        let terminated = cluster.terminate_sessions("store").expect("terminates");
        assert!(terminated >= 1, "the store's session was there to end");
        let replies = store
            .submit(&[issue(1_000 + round)], LATER)
            .expect("durable after reconnecting");
        assert_eq!(replies[0].sequence, Some(commands.len() as u64 + round + 1));
        assert!(
            matches!(replies[0].outcome, ets_engine::Outcome::Accepted(_)),
            "{replies:?}"
        );
    }
    assert!(!store.is_faulted());
    assert_eq!(journal_rows(&url), commands.len() as u64 + 3);
    verify_matches(&url, &store);
}

#[test]
fn a_batch_cut_off_by_its_session_is_inserted_again_or_found_durable_never_twice() {
    let cluster = Cluster::start().expect("a PostgreSQL cluster");
    let url = cluster.create_database("store").expect("a database");
    let mut journal = PgJournal::create(&url, StoreKind::Live).expect("a journal");
    journal.append(1, b"first").expect("appends");
    journal.commit().expect("durable");
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("connects");
    // The session dies inside the batch's transaction, before its COMMIT (once only).
    admin
        .batch_execute(
            "CREATE SEQUENCE kill_once;
             CREATE FUNCTION kill_once() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN IF nextval('kill_once') = 1 THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;
             RETURN NULL; END $$;
             CREATE TRIGGER kill_once AFTER INSERT ON ets_journal
                 FOR EACH STATEMENT EXECUTE FUNCTION kill_once();",
        )
        .expect("installs the trigger");
    journal.append(2, b"second").expect("appends");
    journal
        .commit()
        .expect("none of the batch was there, so it went in again");
    let attempts: i64 = admin
        .query_one("SELECT last_value FROM kill_once", &[])
        .expect("reads")
        .get(0);
    assert_eq!(
        attempts, 2,
        "the first insert was cut off, the second went in"
    );
    assert_eq!(journal_rows(&url), 2);
    // The batch commits, then the session dies before its writer hears so:
    // another session commits the very records, and the writer's session is ended.
    let previous = journal.last_hash();
    let sequence = journal.append(3, b"third").expect("appends");
    let hash = record_hash(sequence, 3, &previous, b"third");
    admin
        .execute(
            "INSERT INTO ets_journal VALUES ($1, 3, $2, $3, $4)",
            &[
                &i64::try_from(sequence).expect("small"),
                &previous.to_vec(),
                &b"third".to_vec(),
                &hash.to_vec(),
            ],
        )
        .expect("commits the batch as the writer's COMMIT would");
    let ended = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted",
            &[],
        )
        .expect("ends the writer's session");
    assert_eq!(ended.len(), 1, "one writer holds the lock");
    journal
        .commit()
        .expect("found durable by sequence and hash, not inserted twice");
    assert_eq!(journal_rows(&url), 3);
    assert_eq!(journal.stats().last_sequence, 3);
    let records = journal
        .read_from(1)
        .expect("reads")
        .collect::<Result<Vec<_>, _>>()
        .expect("the chain checks");
    assert_eq!(records.len(), 3);
    assert_eq!(records[2].hash, hash);
}

#[test]
fn a_store_stopped_by_an_outage_refuses_everything_then_resumes() {
    let mut cluster = Cluster::start().expect("a PostgreSQL cluster");
    let url = cluster.create_database("store").expect("a database");
    let commands = commands();
    let mut store = Store::create_postgres(&url, StoreConfig::default()).expect("pg store");
    run(&mut store, &commands[..14]);
    let durable = store.engine().state_hash();
    cluster.stop().expect("the database stops");
    let error = store
        .submit(&commands[14..21], LATER)
        .expect_err("nothing is acknowledged while the database is away");
    assert_eq!(error.code(), "database_unreachable", "{error}");
    assert!(store.is_faulted() && store.can_resume());
    let again = store.submit(&commands[14..21], LATER).expect_err("stopped");
    assert_eq!(again.code(), "store_faulted");
    let away = store.resume().expect_err("still away");
    assert_eq!(away.code(), "database_unreachable", "{away}");
    cluster.start_again().expect("the database is back");
    store.resume().expect("resumes");
    assert!(!store.is_faulted());
    assert_eq!(
        store.engine().state_hash(),
        durable,
        "the failed batch was never durable and is gone"
    );
    assert_eq!(store.journal().last_sequence(), 14);
    let replies = store.submit(&commands[14..], LATER).expect("durable");
    assert!(replies.iter().all(|reply| !reply.duplicate));
    assert_eq!(journal_rows(&url), commands.len() as u64);
    verify_matches(&url, &store);
}

#[test]
fn a_writer_replaced_while_its_session_was_down_never_acknowledges() {
    let cluster = Cluster::start().expect("a PostgreSQL cluster");
    let url = cluster.create_database("store").expect("a database");
    let commands = commands();
    let mut first = Store::create_postgres(&url, StoreConfig::default()).expect("pg store");
    run(&mut first, &commands[..7]);
    cluster.terminate_sessions("store").expect("terminates");
    let mut second =
        Store::open_postgres(&url, StoreConfig::default()).expect("takes over the free lock");
    second.submit(&commands[7..8], LATER).expect("durable");
    let error = first
        .submit(&commands[8..9], LATER)
        .expect_err("the replaced writer never acknowledges");
    assert!(
        matches!(error.code(), "locked" | "fenced"),
        "{}: {error}",
        error.code()
    );
    drop(second);
    let error = first.resume().expect_err("its epoch is gone for good");
    assert_eq!(error.code(), "fenced", "{error}");
    assert_eq!(journal_rows(&url), 8);
}

#[test]
fn a_full_disk_fails_the_whole_batch_and_the_store_resumes_when_space_returns() {
    // The disk first: it is dropped (unmounted) after the cluster has stopped.
    let disk = SmallDisk::mount(8 << 20).expect("a small tmpfs (root may mount)");
    let cluster = Cluster::start().expect("a PostgreSQL cluster");
    let url = cluster
        .create_database_on("store", &disk)
        .expect("a database in a tablespace on the small disk");
    let commands = commands();
    let mut store = Store::create_postgres(&url, StoreConfig::default()).expect("pg store");
    run(&mut store, &commands);
    disk.fill().expect("fills the disk");
    let mut acknowledged = commands.len() as u64;
    let mut failure = None;
    for batch in 0..2_000_u64 {
        let submissions: Vec<_> = (0..50).map(|i| issue(10_000 + batch * 50 + i)).collect();
        match store.submit(&submissions, LATER) {
            Ok(replies) => {
                assert!(replies.iter().all(|reply| reply.sequence.is_some()));
                acknowledged += replies.len() as u64;
            }
            Err(error) => {
                failure = Some(error);
                break;
            }
        }
    }
    let error = failure.expect("the disk filled within 100,000 records");
    assert_eq!(error.code(), "database_disk_full", "{error}");
    assert!(!error.to_string().contains(ets_pgtest::PASSWORD), "{error}");
    assert!(store.is_faulted());
    assert_eq!(
        journal_rows(&url),
        acknowledged,
        "exactly the acknowledged records: no part of the failed batch"
    );
    assert_eq!(store.journal().stats().last_sequence, acknowledged);
    verify_matches(&url, &store);
    disk.free().expect("space returns");
    store.resume().expect("resumes");
    let replies = store
        .submit(&[issue(900_001), issue(900_002)], LATER)
        .expect("durable again");
    assert_eq!(replies[1].sequence, Some(acknowledged + 2));
    verify_matches(&url, &store);
}
