//! The history fed live from the store equals the history rebuilt from the
//! journal (property test over random registry and exchange commands cut
//! into random batches); a history that lags, belongs to another journal or
//! comes from a newer version is rebuilt or refused.

use ets_engine::Command;
use ets_engine::exchange::{ExchangeCommand, TradingMode};
use ets_history::{
    History, HistoryError, Location, Postgres, Sqlite, TableRows, Value, attach, durable_sequence,
    query, sqlite_path, wait_for_journal,
};
use ets_market::{InstrumentRules, MarketDataRules, OrderId, OrderKind, Side, TimeInForce};
use ets_model::{
    AccountId, Code, Money, ParticipantId, Price, Quantity, RequestId, Timestamp, TransactionId,
    UnitClass, Vintage,
};
use ets_registry::{AccountKind, ParticipantKind, RegistryCommand};
use ets_store::{Store, StoreConfig, Submission};
use proptest::prelude::*;
use std::path::Path;
use std::time::Duration;

const TRADERS: [u64; 3] = [12, 13, 14];

fn class() -> UnitClass {
    UnitClass::Allowance {
        scheme: Code::try_new("CEA").expect("a code"),
        vintage: Vintage(2021),
    }
}

fn code(text: &str) -> Code {
    Code::try_new(text).expect("a code")
}

fn holder(account: u64) -> u64 {
    account - 7
}

/// Participants, accounts (14 needs two signatures), units, an instrument and cash.
fn setup() -> Vec<(u64, Command)> {
    let register = |id: u64, kind| {
        Command::Registry(RegistryCommand::RegisterParticipant {
            id: ParticipantId(id),
            kind,
            name: format!("p{id}"),
        })
    };
    let open = |id: u64, kind, holder: u64, representatives: Vec<u64>, approvals_required| {
        Command::Registry(RegistryCommand::OpenAccount {
            id: AccountId(id),
            kind,
            holder: ParticipantId(holder),
            representatives: representatives.into_iter().map(ParticipantId).collect(),
            approvals_required,
        })
    };
    let mut commands = vec![
        (1, register(1, ParticipantKind::Administrator)),
        (1, register(2, ParticipantKind::Exchange)),
        (1, register(5, ParticipantKind::Institution)),
        (1, register(6, ParticipantKind::Institution)),
        (1, register(7, ParticipantKind::Institution)),
        (1, open(1, AccountKind::Issuance, 1, vec![1], 1)),
        (1, open(12, AccountKind::Trading, 5, vec![5], 1)),
        (1, open(13, AccountKind::Trading, 6, vec![6], 1)),
        (1, open(14, AccountKind::Trading, 7, vec![6, 7], 2)),
        (1, open(20, AccountKind::Trading, 2, vec![2], 1)),
        (
            1,
            Command::Registry(RegistryCommand::Issue {
                class: class(),
                quantity: Quantity::new(90_000),
            }),
        ),
        (
            1,
            Command::Exchange(ExchangeCommand::ListInstrument {
                symbol: code("C"),
                class: class(),
                mode: TradingMode::Continuous,
                rules: InstrumentRules::CONTINUOUS,
                reference_price: Price::try_new(5_000).expect("a price"),
                fee_bps: 10,
                fee_account: AccountId(20),
                no_same_day_resale: false,
                market_data: MarketDataRules::EU,
                calendar: None,
            }),
        ),
    ];
    for account in TRADERS {
        commands.push((
            1,
            Command::Registry(RegistryCommand::Transfer {
                from: AccountId(1),
                to: AccountId(account),
                class: class(),
                quantity: Quantity::new(30_000),
            }),
        ));
        commands.push((
            2,
            Command::Exchange(ExchangeCommand::DepositCash {
                account: AccountId(account),
                amount: Money::new(10_000_000_000),
            }),
        ));
    }
    commands
}

/// One random step: a transfer (some awaiting a second signature, some
/// refused), an approval, an order that may trade, a cancellation, an end of day.
fn step() -> impl Strategy<Value = (u64, Command)> {
    let account = prop::sample::select(TRADERS.to_vec());
    prop_oneof![
        3 => (account.clone(), account.clone(), 1u64..40_000).prop_map(|(from, to, quantity)| {
            (holder(from), Command::Registry(RegistryCommand::Transfer {
                from: AccountId(from), to: AccountId(to), class: class(), quantity: Quantity::new(quantity),
            }))
        }),
        1 => (1u64..30).prop_map(|id| (6, Command::Registry(RegistryCommand::Approve { transaction: TransactionId(id) }))),
        4 => (account.clone(), any::<bool>(), 4_950i64..5_050, 1u64..2_000).prop_map(|(account, buy, price, quantity)| {
            (holder(account), Command::Exchange(ExchangeCommand::PlaceOrder {
                instrument: code("C"), account: AccountId(account),
                side: if buy { Side::Buy } else { Side::Sell },
                kind: OrderKind::Limit(Price::try_new(price).expect("a price")),
                quantity: Quantity::new(quantity), time_in_force: TimeInForce::Day,
            }))
        }),
        1 => (account, 1u64..30).prop_map(|(account, order)| {
            (holder(account), Command::Exchange(ExchangeCommand::CancelOrder {
                instrument: code("C"), account: AccountId(account), order: OrderId(order),
            }))
        }),
        1 => Just((2, Command::Exchange(ExchangeCommand::EndOfDay { instrument: code("C") }))),
    ]
}

fn submissions(commands: Vec<(u64, Command)>) -> Vec<Submission> {
    commands
        .into_iter()
        .enumerate()
        .map(|(index, (requester, command))| Submission {
            request_id: RequestId(index as u64 + 1),
            requester: ParticipantId(requester),
            time: None,
            command,
        })
        .collect()
}

/// Runs `commands` through a store with its history attached, in batches of the given sizes.
fn run_live(dir: &Path, commands: &[Submission], batch_sizes: &[usize]) {
    let mut store = Store::create(dir, StoreConfig::default()).expect("store");
    attach(&mut store).expect("history attaches");
    let mut rest = commands;
    let mut sizes = batch_sizes.iter().cycle();
    let mut now = 1_700_000_000_000;
    while !rest.is_empty() {
        let size = (*sizes.next().unwrap_or(&1)).clamp(1, rest.len());
        let (batch, tail) = rest.split_at(size);
        store.submit(batch, Timestamp(now)).expect("durable");
        now += 1_000;
        rest = tail;
    }
}

fn dump(path: &Path) -> Vec<TableRows> {
    let mut history = History::new(Box::new(Sqlite::open(path).expect("opens"))).expect("history");
    history.dump().expect("dumps")
}

fn rebuilt(dir: &Path, into: &Path) -> Vec<TableRows> {
    let mut history = History::new(Box::new(Sqlite::open(into).expect("opens"))).expect("history");
    let store = Store::open_read_only(dir).expect("opens");
    history.rebuild(store.journal()).expect("rebuilds");
    history.dump().expect("dumps")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    // Goal: whatever the commands and however they are cut into batches, the
    // tables written live after each durable batch equal the tables rebuilt from the journal.
    #[test]
    fn live_history_equals_history_rebuilt_from_the_journal(
        steps in prop::collection::vec(step(), 1..120),
        batch_sizes in prop::collection::vec(1usize..12, 1..8),
    ) {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().join("store");
        let mut commands = setup();
        commands.extend(steps);
        let commands = submissions(commands);
        run_live(&dir, &commands, &batch_sizes);
        let live = dump(&sqlite_path(&dir));
        let again = rebuilt(&dir, &temp.path().join("rebuilt.sqlite"));
        prop_assert_eq!(&live[0].1.len(), &commands.len());
        prop_assert_eq!(live, again);
    }
}

/// A fixed session that transfers, waits for a second signature and trades.
fn fixed_session() -> Vec<Submission> {
    let mut commands = setup();
    let order = |account: u64, side, price: i64, quantity: u64| {
        (
            holder(account),
            Command::Exchange(ExchangeCommand::PlaceOrder {
                instrument: code("C"),
                account: AccountId(account),
                side,
                kind: OrderKind::Limit(Price::try_new(price).expect("a price")),
                quantity: Quantity::new(quantity),
                time_in_force: TimeInForce::Day,
            }),
        )
    };
    commands.extend([
        (
            7,
            Command::Registry(RegistryCommand::Transfer {
                from: AccountId(14),
                to: AccountId(12),
                class: class(),
                quantity: Quantity::new(500),
            }),
        ),
        order(12, Side::Sell, 5_000, 300),
        order(13, Side::Buy, 5_010, 200),
        (
            2,
            Command::Exchange(ExchangeCommand::EndOfDay {
                instrument: code("C"),
            }),
        ),
    ]);
    submissions(commands)
}

#[test]
fn the_history_answers_where_units_went_and_what_traded() {
    // Goal: the tables hold what happened: the pending transfer, the trade
    // with its delivering transaction, the order as entered, the closed day,
    // and every movement of a serial.
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = temp.path().join("store");
    run_live(&dir, &fixed_session(), &[5]);
    let mut history =
        History::new(Box::new(Sqlite::open(&sqlite_path(&dir)).expect("opens"))).expect("history");
    let backend = history.backend();
    let pending = backend
        .query(
            "SELECT status FROM transactions WHERE from_account = 14 AND kind = 'transfer'",
            &[],
        )
        .expect("query");
    assert_eq!(pending, vec![vec![Value::from("awaiting_approval")]]);
    let trades = backend
        .query(
            "SELECT buyer, seller, price, quantity, transaction_id FROM trades",
            &[],
        )
        .expect("query");
    assert_eq!(trades.len(), 1, "{trades:?}");
    assert_eq!(
        trades[0][..4],
        [13.into(), 12.into(), 5_000.into(), 200.into()]
    );
    let delivery = query::transaction(backend, trades[0][4].as_int().expect("id"))
        .expect("query")
        .expect("the delivering transaction");
    assert_eq!((delivery.from_account, delivery.to_account), (12, 13));
    assert_eq!(delivery.status, "completed");
    let orders = backend
        .query(
            "SELECT account_id, side, open_after_entry, trades FROM orders ORDER BY order_id",
            &[],
        )
        .expect("query");
    assert_eq!(
        orders,
        vec![
            vec![12.into(), "sell".into(), 300.into(), 0.into()],
            vec![13.into(), "buy".into(), 0.into(), 1.into()],
        ]
    );
    let days = backend
        .query("SELECT instrument, volume, trades FROM market_days", &[])
        .expect("query");
    assert_eq!(days, vec![vec!["C".into(), 200.into(), 1.into()]]);
    let (first, _) = delivery.blocks[0];
    let serial = query::serial(backend, first).expect("query");
    let kinds: Vec<&str> = serial.movements.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(kinds, ["issue", "transfer", "transfer"], "{serial:?}");
    let holdings = backend
        .query("SELECT quantity FROM holdings WHERE account_id = 13", &[])
        .expect("query");
    assert_eq!(holdings, vec![vec![30_200.into()]]);
}

#[test]
fn a_lagging_or_foreign_history_is_rebuilt_when_the_store_opens() {
    // Goal: a history that missed batches (a crash after the fsync) or that
    // belongs to another journal is found out by its head and rebuilt.
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = temp.path().join("store");
    let commands = fixed_session();
    run_live(&dir, &commands, &[3]);
    let complete = dump(&sqlite_path(&dir));
    // Lagging: forget the last batches' rows and head.
    {
        let connection = rusqlite_connection(&sqlite_path(&dir));
        connection
            .execute_batch(
                "DELETE FROM commands WHERE sequence > 10; DELETE FROM trades; \
                 UPDATE meta SET value = '10' WHERE key = 'last_sequence';",
            )
            .expect("edits");
    }
    let mut store = Store::open(&dir, StoreConfig::default()).expect("opens");
    let report = attach(&mut store).expect("attaches").expect("rebuilt");
    assert_eq!(report.records, commands.len() as u64);
    drop(store);
    assert_eq!(dump(&sqlite_path(&dir)), complete);
    // Foreign: the history of another store copied beside this journal.
    let other = temp.path().join("other");
    run_live(&other, &fixed_session()[..8], &[2]);
    std::fs::copy(sqlite_path(&other), sqlite_path(&dir)).expect("copies");
    let mut store = Store::open(&dir, StoreConfig::default()).expect("opens");
    assert!(attach(&mut store).expect("attaches").is_some());
    drop(store);
    assert_eq!(dump(&sqlite_path(&dir)), complete);
    // In step: nothing to rebuild.
    let mut store = Store::open(&dir, StoreConfig::default()).expect("opens");
    assert!(attach(&mut store).expect("attaches").is_none());
}

#[test]
fn a_history_behind_the_journal_catches_up_from_its_head_to_the_rows_of_a_rebuild() {
    // Goal: a history that stands at an older record of its own journal (its
    // last commits lost in a crash, which `synchronous=NORMAL` allows, or
    // batches journaled while it was not attached) is brought forward from
    // its head when the store opens, not rebuilt, and ends with exactly the
    // rows a rebuild from the first record gives.
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = temp.path().join("store");
    let commands = fixed_session();
    let (early, late) = commands.split_at(commands.len() / 2);
    run_live(&dir, early, &[3]);
    {
        // The rest is journaled with no history attached: the history lags.
        let mut store = Store::open(&dir, StoreConfig::default()).expect("opens");
        store
            .submit(late, Timestamp(1_800_000_000_000))
            .expect("durable");
    }
    let mut store = Store::open(&dir, StoreConfig::default()).expect("opens");
    let report = attach(&mut store).expect("attaches").expect("caught up");
    assert_eq!(
        report.records,
        late.len() as u64,
        "only the records it missed"
    );
    assert_eq!(report.head.sequence, commands.len() as u64);
    drop(store);
    let live = dump(&sqlite_path(&dir));
    assert_eq!(live[0].1.len(), commands.len());
    assert_eq!(live, rebuilt(&dir, &temp.path().join("rebuilt.sqlite")));
}

#[test]
fn a_read_waits_for_the_journal_record_it_needs_and_says_where_a_lagging_history_stands() {
    // Goal: `wait_for_journal` lets a read through once the history (written
    // on its own thread) holds the record it needs, and otherwise refuses with
    // the history's head and the record asked for, never a silent stale answer.
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = temp.path().join("store");
    let commands = fixed_session();
    run_live(&dir, &commands, &[3]);
    let store = Store::open_read_only(&dir).expect("opens");
    let durable = durable_sequence(store.journal());
    assert_eq!(durable, commands.len() as u64);
    let mut reader = Location::of(store.journal())
        .expect("a location")
        .open_reader()
        .expect("a reader");
    wait_for_journal(reader.as_mut(), durable, Duration::from_secs(60)).expect("it is there");
    let error = wait_for_journal(reader.as_mut(), durable + 5, Duration::from_millis(20))
        .expect_err("the history never gets there");
    assert!(
        matches!(error, HistoryError::Behind { at, journal } if at == durable && journal == durable + 5),
        "{error}"
    );
    assert_eq!(error.code(), "history_behind");
}

#[test]
fn a_history_of_an_older_schema_is_rebuilt_at_this_one() {
    // Goal: a history file of version 2 (every table a row-id B-tree beside
    // its key's index, `transaction_approvals` left empty as version 1 had
    // it) is dropped, created again in this version's layout and rebuilt from
    // the journal, tables complete.
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = temp.path().join("store");
    let commands = fixed_session();
    run_live(&dir, &commands, &[3]);
    let complete = dump(&sqlite_path(&dir));
    for suffix in ["", "-wal", "-shm"] {
        let mut path = sqlite_path(&dir).into_os_string();
        path.push(suffix);
        let _ = std::fs::remove_file(path);
    }
    let old = rusqlite_connection(&sqlite_path(&dir));
    old.execute_batch(ets_history::schema::SCHEMA_SQL)
        .expect("the version 2 layout");
    old.execute_batch(
        "INSERT INTO meta (key, value) VALUES ('schema_version', '2'); \
         INSERT INTO holdings (account_id, unit_class, quantity, blocks) VALUES (999, 'X', 1, 1);",
    )
    .expect("edits");
    assert!(!autoindexes(&old).is_empty(), "version 2 had key indexes");
    drop(old);
    let mut store = Store::open(&dir, StoreConfig::default()).expect("opens");
    let report = attach(&mut store).expect("attaches").expect("rebuilt");
    assert_eq!(report.records, commands.len() as u64);
    drop(store);
    assert_eq!(dump(&sqlite_path(&dir)), complete);
    let connection = rusqlite_connection(&sqlite_path(&dir));
    assert_eq!(autoindexes(&connection), Vec::<String>::new());
    let version = connection
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |row| row.get::<_, String>(0),
        )
        .expect("reads");
    assert_eq!(version, ets_history::schema::SCHEMA_VERSION.to_string());
}

/// The key indexes SQLite keeps beside a table's rows (none when every
/// table is stored by its key).
fn autoindexes(connection: &rusqlite::Connection) -> Vec<String> {
    let mut statement = connection
        .prepare(
            "SELECT name FROM sqlite_master WHERE name LIKE 'sqlite_autoindex_%' ORDER BY name",
        )
        .expect("prepares");
    statement
        .query_map([], |row| row.get::<_, String>(0))
        .expect("queries")
        .collect::<Result<_, _>>()
        .expect("reads")
}

#[test]
fn a_history_of_a_newer_schema_is_refused_and_left_alone() {
    let temp = tempfile::tempdir().expect("temp dir");
    let path = temp.path().join("history.sqlite");
    drop(History::new(Box::new(Sqlite::open(&path).expect("opens"))).expect("history"));
    rusqlite_connection(&path)
        .execute(
            "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
            [],
        )
        .expect("edits");
    let error = History::new(Box::new(Sqlite::open(&path).expect("opens")))
        .err()
        .expect("refused");
    assert!(
        matches!(error, HistoryError::NewerSchema { found: 99, .. }),
        "{error}"
    );
    assert_eq!(error.code(), "history_schema_newer");
    let version = rusqlite_connection(&path)
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |row| row.get::<_, String>(0),
        )
        .expect("reads");
    assert_eq!(version, "99");
}

fn rusqlite_connection(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).expect("opens")
}

#[test]
fn the_history_in_postgresql_equals_the_embedded_one() {
    // Goal: the same schema and rows in PostgreSQL: a history rebuilt into a
    // throwaway PostgreSQL database equals the SQLite one fed live; rebuilding
    // again (the tables emptied first) gives the same rows.
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = temp.path().join("store");
    run_live(&dir, &fixed_session(), &[4]);
    let embedded = dump(&sqlite_path(&dir));
    let cluster = ets_pgtest::Cluster::start().expect("a PostgreSQL cluster");
    let url = cluster.create_database("history").expect("a database");
    let mut history =
        History::new(Box::new(Postgres::connect(&url).expect("connects"))).expect("history");
    let store = Store::open_read_only(&dir).expect("opens");
    history.rebuild(store.journal()).expect("rebuilds");
    assert_eq!(history.dump().expect("dumps"), embedded);
    history.rebuild(store.journal()).expect("rebuilds again");
    assert_eq!(history.dump().expect("dumps"), embedded);
    let serial = query::serial(history.backend(), 1).expect("queries");
    assert_eq!(serial.movements[0].kind, "issue");
    // A database of an older version is dropped, created again and rebuilt.
    history
        .backend()
        .query(
            "UPDATE meta SET value = '2' WHERE key = 'schema_version'",
            &[],
        )
        .expect("edits");
    drop(history);
    let mut history =
        History::new(Box::new(Postgres::connect(&url).expect("connects"))).expect("history");
    assert_eq!(history.head().expect("reads"), None);
    history.sync(store.journal()).expect("rebuilds");
    assert_eq!(history.dump().expect("dumps"), embedded);
}

#[test]
fn a_postgresql_history_that_does_not_answer_or_refuses_the_password_is_a_clear_error() {
    let cluster = ets_pgtest::Cluster::start().expect("a PostgreSQL cluster");
    let url = cluster.create_database("history").expect("a database");
    let wrong = url.replace(ets_pgtest::PASSWORD, "not-the-password");
    let error = Postgres::connect(&wrong).err().expect("refused");
    assert_eq!(error.code(), "history_database");
    assert!(
        error.to_string().contains("password authentication failed"),
        "{error}"
    );
    let port = cluster.port();
    drop(cluster);
    let silent = format!("postgres://postgres:x@127.0.0.1:{port}/history?connect_timeout=2");
    let error = Postgres::connect(&silent).err().expect("no answer");
    assert!(error.to_string().contains("onnect"), "{error}");
}
