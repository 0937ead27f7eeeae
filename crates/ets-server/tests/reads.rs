//! The API's lists from the history database (`/api/accounts/{id}/statement`,
//! `/api/transactions`, `/api/search`: cursor pages, filters, who may read
//! them, bad input refused with `invalid_parameter` and nothing injected)
//! and the inbox (`/api/inbox`, `/api/stream/inbox`, with the deadline
//! pushed by the server's timer when its window opens), over HTTP.

use ets_server::Role;
use serde_json::{Value, json};

mod common;
use common::{EventStream, Server, bearer, get, plant_and_fund, post};

/// Users `admin` (1), `plant` (10), `fund` (20) and `auditor` (99) over
/// [`plant_and_fund`], with `count` transfers of 1 t from 100 to 200.
fn start(count: u64) -> (Server, String, String, String) {
    let server = common::start(
        &[
            ("admin", 1, Role::Administrator),
            ("plant", 10, Role::Representative),
            ("fund", 20, Role::Representative),
            ("auditor", 99, Role::Auditor),
        ],
        |_, _| {},
    );
    let admin = bearer(&server, "admin");
    plant_and_fund(&server, &admin);
    let plant = bearer(&server, "plant");
    for index in 0..count {
        let answer = post(
            &server,
            &plant,
            &json!({"request_id": 100 + index, "requester": 10, "command": "transfer",
                    "from": 100, "to": 200, "unit": "CEA-2021", "quantity": 1}),
        );
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let fund = bearer(&server, "fund");
    (server, admin, plant, fund)
}

/// `term` percent-encoded for a query string (every byte but letters and digits).
fn encode(term: &str) -> String {
    term.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

fn ids(page: &Value) -> Vec<i64> {
    page["transactions"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|row| row["id"].as_i64().expect("an id"))
        .collect()
}

#[test]
fn a_statement_pages_by_cursor_to_its_end_and_refuses_a_cursor_beyond_it() {
    // Goal: pages of 2 walk the whole statement newest first without gaps
    // or repeats, each carrying the total; the last has no cursor; a cursor
    // past the end is 404 not_found.
    let (server, _, plant, _) = start(5);
    let mut seen = Vec::new();
    let mut path = "/api/accounts/100/statement?limit=2".to_owned();
    loop {
        let answer = get(&server, &plant, &path);
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.body["total"], 6, "the allocation and 5 transfers");
        seen.extend(ids(&answer.body));
        match answer.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/accounts/100/statement?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    let mut expected = seen.clone();
    expected.sort_unstable_by_key(|id| std::cmp::Reverse(*id));
    expected.dedup();
    assert_eq!(seen, expected);
    assert_eq!(seen.len(), 6);
    let oldest = seen.last().copied().unwrap();
    let beyond = get(
        &server,
        &plant,
        &format!("/api/accounts/100/statement?cursor={oldest}"),
    );
    assert_eq!(beyond.status, 404, "{}", beyond.body);
    assert_eq!(beyond.body["code"], "not_found");
}

#[test]
fn list_filters_narrow_and_bad_values_are_refused_without_effect() {
    // Goal: kind and status filters select; markup, SQL, unknown names and
    // bad cursors are refused by name with 400 invalid_parameter; the
    // statement is unchanged after them.
    let (server, _, plant, _) = start(2);
    let transfers = get(
        &server,
        &plant,
        "/api/accounts/100/statement?kind=transfer&status=completed",
    );
    assert_eq!(transfers.status, 200, "{}", transfers.body);
    assert_eq!(transfers.body["total"], 2);
    let later = get(
        &server,
        &plant,
        "/api/accounts/100/statement?from=2999-01-01T00:00:00Z",
    );
    assert_eq!(later.body["total"], 0);
    for query in [
        "status=completed%27%20OR%20%271%27%3D%271",
        "kind=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "cursor=abc",
        "cursor=-1",
        "limit=0",
        "limit=100000",
        "from=yesterday",
        "sort=id",
    ] {
        let answer = get(
            &server,
            &plant,
            &format!("/api/accounts/100/statement?{query}"),
        );
        assert_eq!(answer.status, 400, "{query}: {}", answer.body);
        assert_eq!(answer.body["code"], "invalid_parameter", "{query}");
    }
    let after = get(&server, &plant, "/api/accounts/100/statement");
    assert_eq!(after.body["total"], 3);
}

#[test]
fn only_parties_read_a_statement_and_only_readers_of_everything_list_all() {
    // Goal: the fund is a party to account 200, not 100; everything is for
    // the administrator and auditors; a missing account is 404.
    let (server, admin, _, fund) = start(1);
    let refused = get(&server, &fund, "/api/accounts/100/statement");
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(refused.body["code"], "not_representative");
    let own = get(&server, &fund, "/api/transactions?account=200");
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.body["total"], 1);
    let all = get(&server, &fund, "/api/transactions");
    assert_eq!(all.status, 403, "{}", all.body);
    assert_eq!(all.body["code"], "role_forbids");
    let auditor = bearer(&server, "auditor");
    let everything = get(&server, &auditor, "/api/transactions?limit=500");
    assert_eq!(everything.status, 200, "{}", everything.body);
    assert_eq!(everything.body["total"], 3, "issue, allocation, transfer");
    let missing = get(&server, &admin, "/api/accounts/999/statement");
    assert_eq!(missing.status, 404, "{}", missing.body);
}

#[test]
fn search_finds_within_what_the_user_sees_and_matches_text_literally() {
    // Goal: a number finds the account and the serial; text finds the
    // holder; `%` matches nothing (it is literal); the fund does not find
    // the plant's account; markup and SQL find nothing and change nothing;
    // a missing or too long term is refused.
    let (server, admin, plant, fund) = start(3);
    let found = get(&server, &plant, "/api/search?q=100");
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.body["accounts"][0]["account"], 100);
    let by_name = get(&server, &admin, "/api/search?q=plant");
    assert_eq!(by_name.body["accounts"][0]["holder_name"], "Plant");
    let transfers = get(&server, &plant, "/api/search?q=transfer&limit=2");
    assert_eq!(transfers.status, 200, "{}", transfers.body);
    assert_eq!(ids(&transfers.body).len(), 2);
    let cursor = transfers.body["next_cursor"]
        .as_str()
        .expect("more")
        .to_owned();
    let rest = get(
        &server,
        &plant,
        &format!("/api/search?q=transfer&limit=2&cursor={cursor}"),
    );
    assert_eq!(ids(&rest.body).len(), 1, "{}", rest.body);
    let literal = get(&server, &admin, "/api/search?q=%25");
    assert_eq!(literal.status, 200, "{}", literal.body);
    assert_eq!(ids(&literal.body).len(), 0);
    let hidden = get(&server, &fund, "/api/search?q=Plant");
    assert_eq!(hidden.body["accounts"].as_array().map(Vec::len), Some(0));
    // Markup and SQL in the term are matched as text: nothing found, nothing changed.
    for term in [
        "<script>alert(1)</script>",
        "' OR '1'='1",
        "x'); DROP TABLE transactions; --",
        "_",
    ] {
        let answer = get(&server, &admin, &format!("/api/search?q={}", encode(term)));
        assert_eq!(answer.status, 200, "{term}: {}", answer.body);
        assert_eq!(answer.body["term"], term, "kept as text");
        assert_eq!(ids(&answer.body).len(), 0, "{term}: {}", answer.body);
        assert_eq!(answer.body["accounts"].as_array().map(Vec::len), Some(0));
        assert_eq!(answer.body["serials"].as_array().map(Vec::len), Some(0));
    }
    let statement = get(&server, &admin, "/api/accounts/100/statement");
    assert_eq!(ids(&statement.body).len(), 4, "{}", statement.body);
    for query in ["", "q=", &format!("q={}", "x".repeat(201)), "q=a&cursor=0"] {
        let answer = get(&server, &admin, &format!("/api/search?{query}"));
        assert_eq!(answer.status, 400, "{query}: {}", answer.body);
        assert_eq!(answer.body["code"], "invalid_parameter");
    }
}

#[test]
fn the_inbox_lists_and_streams_an_approval_to_the_second_signer_only() {
    // Goal: with account 100 made 2 of 2 (plant and fund), the plant's
    // proposal reaches the fund's inbox stream and list as approval_awaited,
    // not the plant's own; the fund's approval then settles it.
    let (server, admin, plant, fund) = start(0);
    let rule = post(
        &server,
        &admin,
        &json!({"request_id": 50, "requester": 1, "command": "set_approval_rule", "account": 100,
                "representatives": [10, 20], "approvals_required": 2}),
    );
    assert_eq!(rule.status, 200, "{}", rule.body);
    let mut stream = EventStream::open(&server, &fund, "/api/stream/inbox").expect("stream");
    assert_eq!(stream.next().0, "subscribed");
    let proposal = post(
        &server,
        &plant,
        &json!({"request_id": 51, "requester": 10, "command": "transfer",
                "from": 100, "to": 200, "unit": "CEA-2021", "quantity": 7}),
    );
    assert_eq!(proposal.status, 200, "{}", proposal.body);
    let event = stream.until("inbox", |item| item["kind"] == "approval_awaited");
    let transaction = event["transaction"].as_u64().expect("a transaction");
    let listed = get(&server, &fund, "/api/inbox");
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["items"][0]["transaction"], transaction);
    let own = get(&server, &plant, "/api/inbox");
    assert_eq!(
        own.body["items"].as_array().map(Vec::len),
        Some(0),
        "{}",
        own.body
    );
    let approval = post(
        &server,
        &fund,
        &json!({"request_id": 52, "requester": 20, "command": "approve", "transaction": transaction}),
    );
    assert_eq!(approval.status, 200, "{}", approval.body);
    let settled = stream.until("inbox", |item| item["kind"] == "settled");
    assert_eq!(settled["transaction"], transaction);
    let after = get(&server, &fund, "/api/inbox");
    assert_eq!(after.body["items"].as_array().map(Vec::len), Some(0));
}

/// When China's 2025 surrender deadline (31 December 2026, Beijing time)
/// passes: 2027-01-01T00:00+08:00.
const DEADLINE_2025_MS: i64 = 1_798_732_800_000;

/// When its 30-day window opens.
const WINDOW_OPENS_MS: i64 = DEADLINE_2025_MS - 30 * 86_400_000;

/// [`plant_and_fund`]'s store, with the plant (10) a covered entity under
/// China's 2025 rulebook, every command stamped an hour before `before`.
fn covered_plant_store(data: &std::path::Path, before: i64) {
    let rulebook =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemes/cn-power-2025.toml");
    let toml = std::fs::read_to_string(rulebook).expect("the committed rulebook");
    let lines = [
        json!({"request_id":1,"requester":1,"command":"register_participant","id":1,"kind":"administrator","name":"MEE"}),
        json!({"request_id":2,"requester":1,"command":"register_participant","id":10,"kind":"covered_entity","name":"Plant"}),
        json!({"request_id":3,"requester":1,"command":"register_participant","id":20,"kind":"institution","name":"Fund"}),
        json!({"request_id":4,"requester":1,"command":"open_account","id":1,"kind":"issuance","holder":1,"representatives":[1]}),
        json!({"request_id":5,"requester":1,"command":"open_account","id":100,"kind":"operator_holding","holder":10,"representatives":[10]}),
        json!({"request_id":6,"requester":1,"command":"open_account","id":200,"kind":"trading","holder":20,"representatives":[20]}),
        json!({"request_id":7,"requester":1,"command":"issue","unit":"CEA-2021","quantity":1000}),
        json!({"request_id":8,"requester":1,"command":"allocate","to":100,"unit":"CEA-2021","quantity":1000}),
        json!({"request_id":9,"requester":1,"command":"load_rulebook","source_name":"cn-power-2025.toml","toml":toml}),
        json!({"request_id":10,"requester":1,"command":"register_entities","scheme":"cn-power-2025","entities":[{"participant":10,"account":100,"units":[{"unit":"U1","category":"coal_above_300mw","capacity_mw":600,"cooling":"water","combined_heat_and_power":false}]}]}),
    ];
    let submissions: Vec<ets_store::Submission> = lines
        .iter()
        .map(|line| {
            let request = ets_api::parse_request(&line.to_string()).expect("a valid command");
            ets_store::Submission {
                request_id: request.request_id,
                requester: request.requester,
                time: request.time,
                command: request.command,
            }
        })
        .collect();
    let mut store =
        ets_store::Store::create(data, ets_store::StoreConfig::default()).expect("store");
    let stamp = ets_model::Timestamp(before - 3_600_000);
    let replies = store.submit(&submissions, stamp).expect("durable");
    for (line, reply) in lines.iter().zip(replies) {
        assert!(reply.outcome.is_accepted(), "{line}: {:?}", reply.outcome);
    }
}

#[test]
fn a_deadline_window_opening_reaches_the_covered_entity_once_with_no_command_sent() {
    // Goal: the server's clock starts seconds before the plant's 2025
    // surrender deadline comes within 30 days; with no command sent, the
    // sequencer's timer pushes deadline_near to the plant's inbox stream as
    // the window opens, the list agrees, and later ticks do not push it again.
    let start = WINDOW_OPENS_MS - 8_000;
    let server = common::start_prepared(
        &[
            ("plant", 10, Role::Representative),
            ("fund", 20, Role::Representative),
        ],
        |data| covered_plant_store(data, start),
        |config, _| {
            config.sequencer.clock =
                ets_server::ServerClock::starting_at(ets_model::Timestamp(start));
            config.sequencer.tick = std::time::Duration::from_millis(100);
        },
    );
    let plant = bearer(&server, "plant");
    let mut stream = EventStream::open(&server, &plant, "/api/stream/inbox").expect("stream");
    assert_eq!(stream.next().0, "subscribed");
    let (name, item) = stream.next();
    assert_eq!(name, "inbox", "{item}");
    assert_eq!(item["kind"], "deadline_near", "{item}");
    assert_eq!(item["entity"], 10);
    assert_eq!(item["scheme"], "cn-power-2025");
    assert_eq!(item["year"], 2025);
    assert!(
        item["due"]
            .as_str()
            .is_some_and(|due| due.starts_with("2026-12-31")),
        "{item}"
    );
    let listed = get(&server, &plant, "/api/inbox");
    assert!(
        listed.body["items"]
            .as_array()
            .is_some_and(|items| items.iter().any(|i| i["kind"] == "deadline_near")),
        "{}",
        listed.body
    );
    // Ten more ticks, then a transfer the plant is party to: its `settled`
    // is the next inbox event, with no second deadline_near before it.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let transfer = post(
        &server,
        &plant,
        &json!({"request_id": 60, "requester": 10, "command": "transfer",
                "from": 100, "to": 200, "unit": "CEA-2021", "quantity": 5}),
    );
    assert_eq!(transfer.status, 200, "{}", transfer.body);
    let (name, next) = stream.next();
    assert_eq!(
        (name.as_str(), &next["kind"]),
        ("inbox", &json!("settled")),
        "{next}"
    );
}
