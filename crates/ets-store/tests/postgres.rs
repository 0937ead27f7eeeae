//! The store on PostgreSQL: the same records, hash chain and state hash as
//! the file journal for the same commands; recovery; one writer only, and a
//! writer that was replaced can never commit; clear errors for a database
//! that does not answer, refuses the password, holds no store, holds a
//! store already, or holds a newer one.

use common::{commands, run};
use ets_model::{RequestId, Timestamp};
use ets_pgtest::Cluster;
use ets_store::{Store, StoreConfig, StoreError, StoreKind, StoreLocation, Submission};

mod common;

fn error_code(result: Result<Store, StoreError>) -> (&'static str, String) {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(error) => (error.code(), error.to_string()),
    }
}

#[test]
fn embedded_and_postgresql_stores_give_the_same_records_and_state_hash() {
    let cluster = Cluster::start().expect("a PostgreSQL cluster");
    let url = cluster.create_database("store").expect("a database");
    let temp = tempfile::tempdir().expect("temp dir");
    let commands = commands();
    let mut file = Store::create(temp.path(), StoreConfig::default()).expect("file store");
    let mut pg = Store::create_postgres(&url, StoreConfig::default()).expect("pg store");
    run(&mut file, &commands);
    run(&mut pg, &commands);
    assert_eq!(pg.engine().state_hash(), file.engine().state_hash());
    assert_eq!(pg.journal().last_sequence(), commands.len() as u64);
    assert_eq!(
        pg.journal().last_hash(),
        file.journal().last_hash(),
        "the same hash chain"
    );
    let records: Vec<_> = pg
        .journal()
        .read_from(1)
        .expect("reads")
        .collect::<Result<_, _>>()
        .expect("records");
    let file_records: Vec<_> = file
        .journal()
        .read_from(1)
        .expect("reads")
        .collect::<Result<_, _>>()
        .expect("records");
    assert_eq!(records, file_records);
    let hash = pg.engine().state_hash();
    pg.snapshot().expect("snapshot");
    drop(pg);
    // Recovery: from the snapshot, and from the records after it.
    let mut reopened = Store::open_postgres(&url, StoreConfig::default()).expect("reopens");
    assert_eq!(reopened.engine().state_hash(), hash);
    let more = Submission {
        request_id: RequestId(10_000),
        ..commands[2].clone()
    };
    reopened
        .submit(std::slice::from_ref(&more), Timestamp(1_800_000_000_000))
        .expect("durable");
    file.submit(&[more], Timestamp(1_800_000_000_000))
        .expect("durable");
    drop(reopened);
    let again = Store::open_postgres(&url, StoreConfig::default()).expect("reopens");
    assert_eq!(again.engine().state_hash(), file.engine().state_hash());
}

#[test]
fn only_one_server_writes_and_a_replaced_writer_never_acknowledges() {
    let cluster = Cluster::start().expect("a PostgreSQL cluster");
    let url = cluster.create_database("store").expect("a database");
    let commands = commands();
    let mut first = Store::create_postgres(&url, StoreConfig::default()).expect("pg store");
    run(&mut first, &commands[..5]);
    let (code, message) = error_code(Store::open_postgres(&url, StoreConfig::default()));
    assert_eq!(code, "locked", "{message}");
    assert!(!message.contains(ets_pgtest::PASSWORD), "{message}");
    // Another writer took over (as after a failover): the epoch moved on.
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("connects");
    admin
        .execute(
            "UPDATE ets_store SET value = '1000' WHERE key = 'writer_epoch'",
            &[],
        )
        .expect("updates");
    let error = first
        .submit(&commands[5..6], Timestamp(1_800_000_000_000))
        .expect_err("fenced");
    assert_eq!(error.code(), "fenced", "{error}");
    let count: i64 = admin
        .query_one("SELECT COUNT(*) FROM ets_journal", &[])
        .expect("counts")
        .get(0);
    assert_eq!(count, 5, "nothing of the refused batch was written");
    // The journal is append-only.
    assert!(
        admin
            .execute("UPDATE ets_journal SET timestamp_ms = 0", &[])
            .is_err()
    );
    assert!(admin.execute("DELETE FROM ets_journal", &[]).is_err());
}

#[test]
fn bad_databases_are_clear_errors() {
    let cluster = Cluster::start().expect("a PostgreSQL cluster");
    let url = cluster.create_database("store").expect("a database");
    let empty = cluster.create_database("empty").expect("a database");
    assert_eq!(
        error_code(Store::open_postgres(&empty, StoreConfig::default())).0,
        "not_a_store"
    );
    drop(Store::create_postgres(&url, StoreConfig::default()).expect("pg store"));
    assert_eq!(
        error_code(Store::create_postgres(&url, StoreConfig::default())).0,
        "already_exists"
    );
    let wrong = url.replace(ets_pgtest::PASSWORD, "not-the-password");
    let (code, message) = error_code(Store::open_postgres(&wrong, StoreConfig::default()));
    assert_eq!(code, "database_credentials", "{message}");
    assert!(!message.contains("not-the-password"), "{message}");
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("connects");
    admin
        .execute(
            "UPDATE ets_store SET value = '99' WHERE key = 'format_version'",
            &[],
        )
        .expect("updates");
    let (code, message) = error_code(Store::open_postgres(&url, StoreConfig::default()));
    assert_eq!(code, "unsupported_version", "{message}");
    let port = cluster.port();
    drop(admin);
    drop(cluster);
    let silent = format!("postgres://postgres:x@127.0.0.1:{port}/store?connect_timeout=2");
    assert_eq!(
        error_code(Store::open_postgres(&silent, StoreConfig::default())).0,
        "database_unreachable"
    );
}

#[test]
fn a_database_store_keeps_its_kind_and_opens_by_url() {
    let cluster = Cluster::start().expect("a PostgreSQL cluster");
    let url = cluster.create_database("store").expect("a database");
    let location = StoreLocation::parse(&url);
    assert_eq!(location.database_url(), Some(url.as_str()));
    let created =
        Store::create_at(&location, StoreConfig::default(), StoreKind::Import).expect("pg store");
    assert_eq!(created.kind(), StoreKind::Import);
    drop(created);
    let mut store = Store::open_at(&location, StoreConfig::default()).expect("reopens");
    assert_eq!(
        store.kind(),
        StoreKind::Import,
        "the kind is in the database"
    );
    let dated = Submission {
        time: Some(Timestamp(1_700_000_000_000)),
        ..commands()[0].clone()
    };
    store
        .submit_dated(&[dated])
        .expect("an import store takes dated commands");
    // Read-only: no lock (the writer still runs), and writes are refused before the engine.
    let mut reader = Store::open_read_only_at(&location).expect("opens beside the writer");
    assert_eq!(reader.kind(), StoreKind::Import);
    assert_eq!(reader.journal().last_sequence(), 1);
    let refused = reader
        .submit(&commands()[1..2], Timestamp(1_800_000_000_000))
        .expect_err("read-only");
    assert_eq!(refused.code(), "read_only", "{refused}");
    let report = ets_store::verify_at(&location).expect("verifies beside the writer");
    assert_eq!(report.records, 1);
    assert_eq!(report.head_hash, store.journal().last_hash());
    assert_eq!(report.state_hash, store.engine().state_hash());
}

#[test]
fn a_standby_is_refused_as_writer_with_its_own_code_and_read_as_reader() {
    let mut primary = Cluster::start().expect("a PostgreSQL cluster");
    let url = primary.create_database("store").expect("a database");
    let standby = primary.start_standby().expect("a standby");
    primary
        .wait_for_synchronous_standby("standby", std::time::Duration::from_secs(120))
        .expect("synchronous");
    let mut store = Store::create_postgres(&url, StoreConfig::default()).expect("pg store");
    run(&mut store, &commands()[..7]);
    let standby_url = standby.url("store");
    let (code, message) = error_code(Store::open_postgres(&standby_url, StoreConfig::default()));
    assert_eq!(code, "database_read_only", "{message}");
    assert!(!message.contains(ets_pgtest::PASSWORD), "{message}");
    let (code, _) = error_code(Store::create_postgres(&standby_url, StoreConfig::default()));
    assert_eq!(code, "database_read_only");
    // Synchronous: what the primary committed is on the standby already.
    let reader = Store::open_postgres_read_only(&standby_url).expect("reads the standby");
    assert_eq!(reader.engine().state_hash(), store.engine().state_hash());
}
