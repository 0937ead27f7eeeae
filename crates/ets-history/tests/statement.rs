//! Lists of transactions from the history: an account's statement by
//! period, status and kind, a page at a time by offset or cursor with the
//! total; a filter value with SQL in it is a value, never SQL; the
//! transactions that moved a serial.

use ets_engine::Command;
use ets_history::statement::{PageStart, TransactionFilter, moving_serial, transactions};
use ets_history::{Location, attach};
use ets_model::{
    AccountId, Code, ParticipantId, Quantity, RequestId, Timestamp, UnitClass, Vintage,
};
use ets_registry::{AccountKind, ParticipantKind, RegistryCommand};
use ets_store::{Store, StoreConfig, Submission};

const DAY_MS: i64 = 86_400_000;
/// 2026-01-01T00:00:00Z.
const START_MS: i64 = 1_767_225_600_000;

fn class() -> UnitClass {
    UnitClass::Allowance {
        scheme: Code::try_new("CEA").expect("a code"),
        vintage: Vintage(2021),
    }
}

fn setup() -> Vec<Command> {
    let register = |id: u64| {
        Command::Registry(RegistryCommand::RegisterParticipant {
            id: ParticipantId(id),
            kind: if id == 1 {
                ParticipantKind::Administrator
            } else {
                ParticipantKind::CoveredEntity
            },
            name: format!("p{id}"),
        })
    };
    let open = |id: u64, kind, holder: u64| {
        Command::Registry(RegistryCommand::OpenAccount {
            id: AccountId(id),
            kind,
            holder: ParticipantId(holder),
            representatives: vec![ParticipantId(holder)],
            approvals_required: 1,
        })
    };
    vec![
        register(1),
        register(5),
        register(6),
        open(1, AccountKind::Issuance, 1),
        open(12, AccountKind::OperatorHolding, 5),
        open(13, AccountKind::OperatorHolding, 6),
        Command::Registry(RegistryCommand::Issue {
            class: class(),
            quantity: Quantity::new(10_000),
        }),
        Command::Registry(RegistryCommand::Allocate {
            to: AccountId(12),
            class: class(),
            quantity: Quantity::new(1_000),
        }),
    ]
}

fn transfer(from: u64, to: u64, quantity: u64) -> Command {
    Command::Registry(RegistryCommand::Transfer {
        from: AccountId(from),
        to: AccountId(to),
        class: class(),
        quantity: Quantity::new(quantity),
    })
}

/// A store with the setup on day 0, then 12 transfers from 12 to 13 (one
/// a day, days 1..=12, quantities 1..=12) and 3 back (days 13..=15).
fn store() -> (tempfile::TempDir, Location) {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("store");
    let mut store = Store::create(&data, StoreConfig::default()).expect("store");
    attach(&mut store).expect("history");
    let mut id = 0_u64;
    let mut send = |store: &mut Store, requester: u64, command: Command, day: i64| {
        id += 1;
        let submission = Submission {
            request_id: RequestId(id),
            requester: ParticipantId(requester),
            time: None,
            command,
        };
        let replies = store
            .submit(&[submission], Timestamp(START_MS + day * DAY_MS))
            .expect("durable");
        assert!(
            matches!(replies[0].outcome, ets_engine::Outcome::Accepted(_)),
            "{replies:?}"
        );
    };
    for command in setup() {
        send(&mut store, 1, command, 0);
    }
    for day in 1..=12 {
        send(&mut store, 5, transfer(12, 13, day as u64), day);
    }
    for day in 13..=15 {
        send(&mut store, 6, transfer(13, 12, 1), day);
    }
    let location = Location::of(store.journal()).expect("a location");
    drop(store);
    (dir, location)
}

#[test]
fn a_statement_pages_by_offset_and_cursor_with_its_total() {
    // Goal: account 13's statement holds its 15 transactions, newest first,
    // in pages of 4 by offset and by cursor, each with the total 15.
    let (_dir, location) = store();
    let mut reader = location.open_reader().expect("reader");
    let filter = TransactionFilter {
        account: Some(13),
        ..TransactionFilter::default()
    };
    let first = transactions(reader.as_mut(), &filter, PageStart::Offset(0), 4).expect("page");
    assert_eq!(first.total, 15);
    let ids: Vec<i64> = first.rows.iter().map(|row| row.id).collect();
    assert!(ids.windows(2).all(|pair| pair[0] > pair[1]), "{ids:?}");
    assert_eq!(
        first.rows[0].from_account, 13,
        "the newest is a transfer back"
    );
    assert_eq!(first.rows[0].status, "completed");
    assert!(!first.rows[0].status_history.is_empty());
    assert!(!first.rows[0].blocks.is_empty());
    let mut by_cursor = ids.clone();
    let mut cursor = first.next_before;
    while let Some(before) = cursor {
        let page =
            transactions(reader.as_mut(), &filter, PageStart::Before(before), 4).expect("page");
        assert_eq!(page.total, 15);
        by_cursor.extend(page.rows.iter().map(|row| row.id));
        cursor = page.next_before;
    }
    let mut by_offset = Vec::new();
    for page in 0..4 {
        let rows =
            transactions(reader.as_mut(), &filter, PageStart::Offset(page * 4), 4).expect("page");
        assert_eq!(rows.next_before.is_some(), page < 3, "page {page}");
        by_offset.extend(rows.rows.iter().map(|row| row.id));
    }
    assert_eq!(by_cursor.len(), 15);
    assert_eq!(by_cursor, by_offset);
    let beyond = transactions(reader.as_mut(), &filter, PageStart::Offset(40), 4).expect("page");
    assert!(beyond.rows.is_empty());
    assert_eq!(beyond.total, 15);
}

#[test]
fn a_statement_keeps_the_period_status_and_kind_asked_for() {
    // Goal: days 3 to 5 (until day 6) hold 3 transfers; a kind or status
    // with SQL in it matches nothing and changes nothing.
    let (_dir, location) = store();
    let mut reader = location.open_reader().expect("reader");
    let period = TransactionFilter {
        account: Some(12),
        from_ms: Some(START_MS + 3 * DAY_MS),
        until_ms: Some(START_MS + 6 * DAY_MS),
        ..TransactionFilter::default()
    };
    let page = transactions(reader.as_mut(), &period, PageStart::Offset(0), 50).expect("page");
    let quantities: Vec<i64> = page.rows.iter().map(|row| row.quantity).collect();
    assert_eq!(quantities, vec![5, 4, 3]);
    assert_eq!(page.total, 3);
    let allocations = TransactionFilter {
        account: Some(12),
        kind: Some("allocate".to_owned()),
        ..TransactionFilter::default()
    };
    assert_eq!(
        transactions(reader.as_mut(), &allocations, PageStart::Offset(0), 50)
            .expect("page")
            .total,
        1
    );
    let injected = TransactionFilter {
        status: Some("completed' OR '1'='1".to_owned()),
        kind: Some("x'; DELETE FROM transactions; --".to_owned()),
        ..TransactionFilter::default()
    };
    let page = transactions(reader.as_mut(), &injected, PageStart::Offset(0), 50).expect("page");
    assert_eq!(page.total, 0);
    let all = transactions(
        reader.as_mut(),
        &TransactionFilter::default(),
        PageStart::Offset(0),
        50,
    )
    .expect("page");
    assert_eq!(
        all.total, 17,
        "issue, allocation and 15 transfers are all still there"
    );
}

#[test]
fn the_transactions_that_moved_a_serial_are_found() {
    // Goal: the first serial issued was issued and allocated to 12; every
    // transaction found moved a block holding it.
    let (_dir, location) = store();
    let mut reader = location.open_reader().expect("reader");
    let all = transactions(
        reader.as_mut(),
        &TransactionFilter::default(),
        PageStart::Offset(16),
        1,
    )
    .expect("page");
    let issue = &all.rows[0];
    assert_eq!(issue.kind, "issue");
    let first_serial = issue.blocks[0].0;
    let moved = moving_serial(reader.as_mut(), first_serial, 50).expect("serial");
    let kinds: Vec<&str> = moved.iter().map(|row| row.kind.as_str()).collect();
    assert_eq!(kinds.last(), Some(&"issue"), "{kinds:?}");
    assert!(kinds.contains(&"allocate"), "{kinds:?}");
    assert!(moved.iter().all(|row| {
        row.blocks
            .iter()
            .any(|&(first, last)| first <= first_serial && first_serial <= last)
    }));
}
