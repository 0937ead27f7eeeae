//! `GET /api/transactions/{id}` and `GET /api/serials/{serial}` on a
//! bounded store (docs/memory.md): a server whose engine let old
//! transactions go answers from the history database with the same JSON as
//! a server whose engine keeps everything, and the public report's market
//! section from the history's trades.

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

/// Participants 1 (administrator), 3 (exchange), 10 (plant), 20 (fund) and
/// 30 (mill); allocations to accounts 100 and 300; instrument CEA21 with
/// two trades.
fn setup() -> Vec<Submission> {
    [
        r#"{"request_id":1,"requester":1,"command":"register_participant","id":1,"kind":"administrator","name":"MEE"}"#,
        r#"{"request_id":2,"requester":1,"command":"register_participant","id":3,"kind":"exchange","name":"SEEE"}"#,
        r#"{"request_id":3,"requester":1,"command":"register_participant","id":10,"kind":"covered_entity","name":"Plant"}"#,
        r#"{"request_id":5,"requester":1,"command":"register_participant","id":20,"kind":"institution","name":"Fund"}"#,
        r#"{"request_id":6,"requester":1,"command":"register_participant","id":30,"kind":"covered_entity","name":"Mill"}"#,
        r#"{"request_id":7,"requester":1,"command":"open_account","id":1,"kind":"issuance","holder":1,"representatives":[1]}"#,
        r#"{"request_id":8,"requester":1,"command":"open_account","id":100,"kind":"operator_holding","holder":10,"representatives":[10]}"#,
        r#"{"request_id":9,"requester":1,"command":"open_account","id":200,"kind":"trading","holder":20,"representatives":[20]}"#,
        r#"{"request_id":10,"requester":1,"command":"open_account","id":300,"kind":"operator_holding","holder":30,"representatives":[30]}"#,
        r#"{"request_id":21,"requester":1,"command":"open_account","id":3,"kind":"trading","holder":3,"representatives":[3]}"#,
        r#"{"request_id":11,"requester":1,"command":"issue","unit":"CEA-2021","quantity":1000000}"#,
        r#"{"request_id":12,"requester":1,"command":"allocate","to":100,"unit":"CEA-2021","quantity":1000}"#,
        r#"{"request_id":13,"requester":1,"command":"allocate","to":300,"unit":"CEA-2021","quantity":1000}"#,
        r#"{"request_id":14,"requester":1,"command":"list_instrument","symbol":"CEA21","unit":"CEA-2021","mode":"continuous","rules":"continuous","reference_price_ticks":5000,"fee_bps":0,"fee_account":3,"no_same_day_resale":false,"market_data":"eu"}"#,
        r#"{"request_id":15,"requester":3,"command":"deposit_cash","account":200,"amount_minor_units":100000000}"#,
        r#"{"request_id":16,"requester":30,"command":"place_order","instrument":"CEA21","account":300,"side":"sell","kind":{"limit":5000},"quantity":40,"time_in_force":"day"}"#,
        r#"{"request_id":17,"requester":20,"command":"place_order","instrument":"CEA21","account":200,"side":"buy","kind":{"limit":5000},"quantity":40,"time_in_force":"day"}"#,
        r#"{"request_id":18,"requester":30,"command":"place_order","instrument":"CEA21","account":300,"side":"sell","kind":{"limit":5100},"quantity":70,"time_in_force":"day"}"#,
        r#"{"request_id":19,"requester":20,"command":"place_order","instrument":"CEA21","account":200,"side":"buy","kind":{"limit":5100},"quantity":20,"time_in_force":"day"}"#,
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
    for submission in setup() {
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

fn get_text(server: &common::Server, path: &str) -> String {
    let mut answer = common::agent()
        .get(format!("{}{path}", server.base))
        .call()
        .expect("request completes");
    assert_eq!(answer.status(), 200, "{path}");
    answer.body_mut().read_to_string().expect("body")
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
    // The public report's market section: the bounded engine let its trades
    // go, the history has them.
    let engine = Store::open_read_only(&bounded.data).expect("opens");
    assert!(
        engine.engine().exchange().trades().is_empty(),
        "trades left"
    );
    drop(engine);
    // The figures agree; the cut-off (last three columns) names each store's own journal.
    let figures = |server: &common::Server| {
        get_text(server, "/ui/public/2021/market.csv")
            .lines()
            .map(|line| line.rsplitn(4, ',').last().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    let market = figures(&bounded);
    assert_eq!(market, figures(&unbounded));
    assert_eq!(market.len(), 2, "{market:?}");
    assert!(
        market[1].starts_with("2021-06-01,CEA21,2,60,"),
        "{market:?}"
    );
    // An id never issued is still not found: the next one, and 0 (ids start at 1),
    // which a bounded store once took for one it let go (503).
    for never in [next, 0] {
        let path = format!("/api/transactions/{never}");
        let b = common::get(&bounded, &b_admin, &path);
        assert_eq!(b.status, 404, "{path}: {}", b.body);
    }
}

#[test]
fn a_bounded_server_answers_a_serial_with_every_movement_as_an_unbounded_one() {
    let bounded = common::start_prepared(&users(), |dir| prepare(dir, true), |_, _| {});
    let unbounded = common::start_prepared(&users(), |dir| prepare(dir, false), |_, _| {});
    let (b_admin, u_admin) = (
        common::bearer(&bounded, "admin"),
        common::bearer(&unbounded, "admin"),
    );
    // Serial 1 was issued, allocated to account 100; serial 1001 went to 300
    // and then, in the first trade, to the fund's account 200.
    let engine = Store::open_read_only(&bounded.data).expect("opens");
    let registry = engine.engine().registry();
    let retained = |serial| registry.serial_history(serial).len();
    assert_eq!(
        (retained(1), retained(1_001)),
        (0, 0),
        "the bounded engine let every movement go"
    );
    let next = registry.next_serial();
    drop(engine);
    for serial in [1, 1_000, 1_001, 1_040, 1_041, 2_000, 2_001, next - 1] {
        let path = format!("/api/serials/{serial}");
        let (b, u) = (
            common::get(&bounded, &b_admin, &path),
            common::get(&unbounded, &u_admin, &path),
        );
        assert_eq!(b.status, 200, "{serial}: {}", b.body);
        assert_eq!(b.body, u.body, "serial {serial}");
    }
    let moved = common::get(&bounded, &b_admin, "/api/serials/1001");
    let kinds: Vec<&str> = moved.body["history"]
        .as_array()
        .expect("a history")
        .iter()
        .filter_map(|movement| movement["kind"].as_str())
        .collect();
    assert_eq!(kinds.len(), 3, "issued, allocated, traded: {}", moved.body);
    assert_eq!(moved.body["held_by"], 200, "{}", moved.body);
    // Who may see it is decided as for an unbounded store: the fund holds
    // serial 1001, not serial 1.
    for (serial, allowed) in [(1_001, true), (1, false)] {
        let path = format!("/api/serials/{serial}");
        let (b, u) = (
            common::get(&bounded, &common::bearer(&bounded, "fund"), &path),
            common::get(&unbounded, &common::bearer(&unbounded, "fund"), &path),
        );
        assert_eq!((b.status, &b.body), (u.status, &u.body), "{path}");
        assert_eq!(b.status == 200, allowed, "{path}: {}", b.body);
    }
    // A serial never issued is not found on either.
    let path = format!("/api/serials/{next}");
    let (b, u) = (
        common::get(&bounded, &b_admin, &path),
        common::get(&unbounded, &u_admin, &path),
    );
    assert_eq!((b.status, u.status), (404, 404), "{}", b.body);
}
