//! The history of a PostgreSQL store across a lost database, against a real
//! throwaway cluster (crates/ets-pgtest):
//!
//! - a batch whose records reached the database although its writer never
//!   heard so (the database went away at its COMMIT) is settled as durable
//!   when the store resumes: `Store::resume` hands it out once, and the
//!   history holds it once, like any other durable batch;
//! - a history whose own session was lost catches up from the journal at
//!   the next durable batch: no gap, no record twice.
//!
//! "Equal" means equal to a history rebuilt from the journal. No test
//! asserts a time.

use ets_engine::{Command, Envelope, JournalEntry};
use ets_history::{
    History, Postgres, Sqlite, TableRows, attach, durable_sequence, wait_for_journal,
};
use ets_model::{
    AccountId, Code, ParticipantId, Quantity, RequestId, Timestamp, UnitClass, Vintage,
};
use ets_pgtest::Cluster;
use ets_registry::{AccountKind, ParticipantKind, RegistryCommand};
use ets_store::{JournalBackend, Reply, Store, StoreConfig, StoreKind, Submission, record_hash};
use std::time::Duration;

fn class() -> UnitClass {
    UnitClass::Allowance {
        scheme: Code::try_new("CEA").expect("a code"),
        vintage: Vintage(2021),
    }
}

fn dated(request_id: u64, requester: u64, command: RegistryCommand) -> Submission {
    Submission {
        request_id: RequestId(request_id),
        requester: ParticipantId(requester),
        time: Some(Timestamp(
            1_700_000_000_000 + i64::try_from(request_id).expect("small"),
        )),
        command: Command::Registry(command),
    }
}

/// An administrator, an issuance account with units and two traders' accounts.
fn setup() -> Vec<Submission> {
    let mut commands = vec![dated(
        1,
        1,
        RegistryCommand::RegisterParticipant {
            id: ParticipantId(1),
            kind: ParticipantKind::Administrator,
            name: "admin".into(),
        },
    )];
    let open = |request, id: u64, kind, holder: u64| {
        dated(
            request,
            1,
            RegistryCommand::OpenAccount {
                id: AccountId(id),
                kind,
                holder: ParticipantId(holder),
                representatives: vec![ParticipantId(holder)],
                approvals_required: 1,
            },
        )
    };
    commands.push(open(2, 1, AccountKind::Issuance, 1));
    for (request, trader) in [(3, 10), (5, 11)] {
        commands.push(dated(
            request,
            1,
            RegistryCommand::RegisterParticipant {
                id: ParticipantId(trader),
                kind: ParticipantKind::Institution,
                name: format!("trader {trader}"),
            },
        ));
        commands.push(open(request + 1, trader, AccountKind::Trading, trader));
    }
    commands.push(dated(
        7,
        1,
        RegistryCommand::Issue {
            class: class(),
            quantity: Quantity::new(1_000_000),
        },
    ));
    commands
}

/// Transfers from the issuance account to the traders, the last one refused.
fn transfers(first_request: u64, count: u64) -> Vec<Submission> {
    (0..count)
        .map(|index| {
            let quantity = if index + 1 == count {
                10_000_000
            } else {
                100 + index
            };
            dated(
                first_request + index,
                1,
                RegistryCommand::Transfer {
                    from: AccountId(1),
                    to: AccountId(10 + index % 2),
                    class: class(),
                    quantity: Quantity::new(quantity),
                },
            )
        })
        .collect()
}

/// The history tables of the database at `url`, once the history (written
/// on a thread of its own) stands at `store`'s last durable record.
fn dump_postgres(url: &str, store: &Store) -> Vec<TableRows> {
    let mut backend = Postgres::connect(url).expect("connects");
    wait_for_journal(&mut backend, durable_sequence(store.journal()), WAIT).expect("caught up");
    History::new(Box::new(backend))
        .expect("history")
        .dump()
        .expect("dumps")
}

/// Long enough for a loaded machine; the history is usually there in a millisecond.
const WAIT: Duration = Duration::from_secs(60);

/// The history tables rebuilt from `journal` into a fresh SQLite file.
fn rebuilt(journal: &dyn JournalBackend) -> Vec<TableRows> {
    let temp = tempfile::tempdir().expect("temp dir");
    let backend = Sqlite::open(&temp.path().join("history.sqlite")).expect("opens");
    let mut history = History::new(Box::new(backend)).expect("history");
    history.rebuild(journal).expect("rebuilds");
    history.dump().expect("dumps")
}

/// Commits, from another session, the very records the writer's batch
/// holds, as the writer's own COMMIT would have.
fn commit_as_the_writer(url: &str, store: &Store, batch: &[Submission], replies: &[Reply]) {
    let mut admin = postgres::Client::connect(url, postgres::NoTls).expect("connects");
    let mut previous = store.journal().stats().last_hash;
    for (submission, reply) in batch.iter().zip(replies) {
        let Some(sequence) = reply.sequence else {
            continue;
        };
        let envelope = Envelope {
            request_id: submission.request_id,
            requester: submission.requester,
            time: reply.time,
            command: submission.command.clone(),
        };
        let mut payload = Vec::new();
        JournalEntry::encode_into(&envelope, reply.outcome.code(), &mut payload).expect("encodes");
        let hash = record_hash(sequence, reply.time.0, &previous, &payload);
        admin
            .execute(
                "INSERT INTO ets_journal VALUES ($1, $2, $3, $4, $5)",
                &[
                    &i64::try_from(sequence).expect("small"),
                    &reply.time.0,
                    &previous.to_vec(),
                    &payload,
                    &hash.to_vec(),
                ],
            )
            .expect("commits the record");
        previous = hash;
    }
}

/// A virtual store in the database at `url`, its history attached, set up.
fn store_with_history(url: &str) -> Store {
    let mut store = Store::create_postgres_of_kind(url, StoreConfig::default(), StoreKind::Virtual)
        .expect("pg store");
    attach(&mut store).expect("history attached");
    store.submit_dated(&setup()).expect("durable");
    store
}

#[test]
fn a_batch_found_durable_on_resume_is_handed_out_once_and_in_the_history_once() {
    let mut cluster = Cluster::start().expect("a PostgreSQL cluster");
    let url = cluster.create_database("store").expect("a database");
    let mut store = store_with_history(&url);
    store.submit_dated(&transfers(100, 5)).expect("durable");
    let durable_before = store.journal().stats().last_sequence;
    // The batch waits in the writer's buffer; its records reach the
    // database from another session; then the database goes away.
    let batch = transfers(200, 4);
    let replies = store
        .submit_dated_uncommitted(&batch)
        .expect("applied, not yet durable");
    commit_as_the_writer(&url, &store, &batch, &replies);
    cluster.stop().expect("the database stops");
    let error = store
        .commit()
        .expect_err("the writer never hears of its COMMIT");
    assert!(store.is_faulted(), "{error}");
    cluster.start_again().expect("the database is back");
    let settled = store.resume().expect("resumes");
    let sequences: Vec<u64> = settled.iter().map(|committed| committed.sequence).collect();
    assert_eq!(
        sequences,
        (durable_before + 1..=durable_before + 4).collect::<Vec<_>>()
    );
    for (committed, reply) in settled.iter().zip(&replies) {
        assert_eq!(Some(committed.sequence), reply.sequence);
        assert_eq!(committed.outcome, reply.outcome, "the outcome it was given");
    }
    assert!(
        store.resume().expect("not faulted").is_empty(),
        "handed out once only"
    );
    assert_eq!(store.journal().stats().last_sequence, durable_before + 4);
    assert_eq!(dump_postgres(&url, &store), rebuilt(store.journal()));
    // And the history follows the next batches as before.
    store.submit_dated(&transfers(300, 3)).expect("durable");
    assert_eq!(dump_postgres(&url, &store), rebuilt(store.journal()));
}

#[test]
fn a_history_that_lost_its_session_catches_up_from_the_journal() {
    let cluster = Cluster::start().expect("a PostgreSQL cluster");
    let url = cluster.create_database("store").expect("a database");
    let mut store = store_with_history(&url);
    for round in 0..3 {
        // Both sessions end: the journal's reconnects within its commit, the
        // history's write of that batch fails and it catches up later.
        cluster.terminate_sessions("store").expect("terminates");
        store
            .submit_dated(&transfers(100 + round * 10, 3))
            .expect("durable after reconnecting");
        store
            .submit_dated(&transfers(105 + round * 10, 2))
            .expect("durable");
        assert_eq!(
            dump_postgres(&url, &store),
            rebuilt(store.journal()),
            "round {round}"
        );
    }
}
