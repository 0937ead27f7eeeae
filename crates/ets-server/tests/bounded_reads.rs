//! `GET /api/transactions/{id}` on a bounded store (docs/memory.md): a
//! server whose engine let an old transaction go answers from the history
//! database with the same JSON as a server whose engine keeps everything.

use ets_engine::Command;
use ets_engine::retention::MIN_WINDOW;
use ets_model::{ParticipantId, RequestId, Timestamp, TransactionId};
use ets_registry::RegistryCommand;
use ets_server::Role;
use ets_store::{Store, StoreConfig, Submission};
use std::path::Path;

mod common;

/// When the prepared commands were stamped: 2021-06-01T00:00:00Z.
const NOW: Timestamp = Timestamp(1_622_505_600_000);

/// The commands of `common::plant_and_fund`, as submissions.
fn plant_and_fund() -> Vec<Submission> {
    [
        r#"{"request_id":1,"requester":1,"command":"register_participant","id":1,"kind":"administrator","name":"MEE"}"#,
        r#"{"request_id":2,"requester":1,"command":"register_participant","id":10,"kind":"covered_entity","name":"Plant"}"#,
        r#"{"request_id":3,"requester":1,"command":"register_participant","id":20,"kind":"institution","name":"Fund"}"#,
        r#"{"request_id":4,"requester":1,"command":"open_account","id":1,"kind":"issuance","holder":1,"representatives":[1]}"#,
        r#"{"request_id":5,"requester":1,"command":"open_account","id":100,"kind":"operator_holding","holder":10,"representatives":[10]}"#,
        r#"{"request_id":6,"requester":1,"command":"open_account","id":200,"kind":"trading","holder":20,"representatives":[20]}"#,
        r#"{"request_id":7,"requester":1,"command":"issue","unit":"CEA-2021","quantity":1000000}"#,
        r#"{"request_id":8,"requester":1,"command":"allocate","to":100,"unit":"CEA-2021","quantity":500000}"#,
    ]
    .iter()
    .map(|line| {
        let request = ets_api::parse_request(line).expect("a valid command");
        Submission {
            request_id: request.request_id,
            requester: request.requester,
            time: request.time,
            command: request.command,
        }
    })
    .collect()
}

/// A store in `dir` with history, bounded to the smallest window or not,
/// given the commands above and then more refused commands than the window
/// holds.
fn prepare(dir: &Path, bounded: bool) {
    let mut store = Store::create(dir, StoreConfig::default()).expect("store");
    ets_history::attach(&mut store).expect("history");
    if bounded {
        let retention = Submission {
            request_id: RequestId(1 << 63),
            requester: ParticipantId(0),
            time: None,
            command: Command::SetRetention {
                commands: MIN_WINDOW,
            },
        };
        let reply = store.submit(&[retention], NOW).expect("durable");
        assert!(reply[0].outcome.is_accepted(), "{:?}", reply[0]);
    }
    for submission in plant_and_fund() {
        let reply = store.submit(&[submission], NOW).expect("durable");
        assert!(reply[0].outcome.is_accepted(), "{:?}", reply[0]);
    }
    // Padding: approvals of a transaction that does not exist, refused and journaled.
    let padding: Vec<Submission> = (100..MIN_WINDOW + 1_100)
        .map(|n| Submission {
            request_id: RequestId(n),
            requester: ParticipantId(1),
            time: None,
            command: Command::Registry(RegistryCommand::Approve {
                transaction: TransactionId(u64::MAX),
            }),
        })
        .collect();
    for batch in padding.chunks(4_000) {
        store.submit(batch, NOW).expect("durable");
    }
}

fn users() -> [(&'static str, u64, Role); 3] {
    [
        ("admin", 1, Role::Administrator),
        ("plant", 10, Role::Representative),
        ("fund", 20, Role::Representative),
    ]
}

#[test]
fn a_bounded_server_answers_an_old_transaction_as_an_unbounded_one() {
    let bounded = common::start_prepared(&users(), |dir| prepare(dir, true), |_, _| {});
    let unbounded = common::start_prepared(&users(), |dir| prepare(dir, false), |_, _| {});
    let (b_admin, u_admin) = (
        common::bearer(&bounded, "admin"),
        common::bearer(&unbounded, "admin"),
    );
    let engine = Store::open_read_only(&bounded.data).expect("opens");
    let registry = engine.engine().registry();
    let next = registry.next_transaction_id().0;
    assert!(next > 1, "the commands made transactions");
    let let_go = (1..next)
        .filter(|&id| registry.transaction(TransactionId(id)).is_err())
        .count();
    assert!(let_go > 0, "the bounded engine let a transaction go");
    drop(engine);
    for id in 1..next {
        let path = format!("/api/transactions/{id}");
        let (b, u) = (
            common::get(&bounded, &b_admin, &path),
            common::get(&unbounded, &u_admin, &path),
        );
        assert_eq!(b.status, 200, "{id}: {}", b.body);
        assert_eq!(b.body, u.body, "transaction {id}");
    }
    // Who may see it is decided as for one the engine holds.
    let path = "/api/transactions/2";
    let (b, u) = (
        common::get(&bounded, &common::bearer(&bounded, "fund"), path),
        common::get(&unbounded, &common::bearer(&unbounded, "fund"), path),
    );
    assert_eq!((b.status, &b.body), (u.status, &u.body));
    assert_ne!(b.status, 200, "{}", b.body);
    // An id never issued is still not found.
    let path = format!("/api/transactions/{next}");
    let b = common::get(&bounded, &b_admin, &path);
    assert_eq!(b.status, 404, "{}", b.body);
}
