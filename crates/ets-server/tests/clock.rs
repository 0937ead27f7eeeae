//! Who sets the time, through the HTTP API: a live store refuses a command
//! dated 9999 with a stable code, and the clock and every later outcome are
//! exactly what they would have been without it; a virtual store's answers
//! say it is not live.

use ets_server::Role;
use serde_json::{Value, json};

mod common;

const USERS: &[(&str, u64, Role)] = &[
    ("admin", 1, Role::Administrator),
    ("plant", 10, Role::Representative),
    ("fund", 20, Role::Representative),
];

fn commands() -> Vec<Value> {
    vec![
        json!({"request_id":1,"requester":1,"command":"register_participant","id":1,"kind":"administrator","name":"MEE"}),
        json!({"request_id":2,"requester":1,"command":"register_participant","id":10,"kind":"covered_entity","name":"Plant"}),
        json!({"request_id":3,"requester":1,"command":"register_participant","id":20,"kind":"institution","name":"Fund"}),
        json!({"request_id":4,"requester":1,"command":"open_account","id":1,"kind":"issuance","holder":1,"representatives":[1]}),
        json!({"request_id":5,"requester":1,"command":"open_account","id":100,"kind":"operator_holding","holder":10,"representatives":[10]}),
        json!({"request_id":6,"requester":1,"command":"open_account","id":200,"kind":"trading","holder":20,"representatives":[20]}),
        json!({"request_id":7,"requester":1,"command":"issue","unit":"CEA-2021","quantity":1000}),
        json!({"request_id":8,"requester":1,"command":"allocate","to":100,"unit":"CEA-2021","quantity":500}),
    ]
}

fn later() -> Vec<(&'static str, Value)> {
    vec![
        (
            "plant",
            json!({"request_id":30,"requester":10,"command":"transfer","from":100,"to":200,"unit":"CEA-2021","quantity":10}),
        ),
        (
            "fund",
            json!({"request_id":31,"requester":20,"command":"transfer","from":200,"to":100,"unit":"CEA-2021","quantity":5}),
        ),
        (
            "plant",
            json!({"request_id":32,"requester":10,"command":"transfer","from":100,"to":200,"unit":"CEA-2021","quantity":5}),
        ),
    ]
}

/// The status and code (or `ok`) of each later command, and the times they were stamped with.
fn run(with_attack: bool) -> (Vec<(u16, String)>, Vec<String>) {
    let server = common::start(USERS, |_, _| {});
    let admin = common::bearer(&server, "admin");
    for command in commands() {
        let answer = common::post(&server, &admin, &command);
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    if with_attack {
        // The fund tries a transfer from an account it does not represent, dated 9999.
        let fund = common::bearer(&server, "fund");
        let attack = json!({"request_id":20,"requester":20,"time":"9999-12-31T23:59:59Z","command":"transfer","from":100,"to":200,"unit":"CEA-2021","quantity":400});
        let answer = common::post(&server, &fund, &attack);
        assert_eq!(
            answer.body["code"], "client_time_refused",
            "{}",
            answer.body
        );
        assert_eq!(answer.status, 422);
        assert!(
            answer.body["sequence"].is_null(),
            "not journaled: {}",
            answer.body
        );
        assert!(
            !answer.body["time"]
                .as_str()
                .unwrap_or("9999")
                .starts_with("9999")
        );
    }
    let mut outcomes = Vec::new();
    let mut times = Vec::new();
    for (user, command) in later() {
        let answer = common::post(&server, &common::bearer(&server, user), &command);
        let code = answer.body["code"].as_str().unwrap_or("ok").to_owned();
        outcomes.push((answer.status, code));
        times.push(answer.body["time"].as_str().unwrap_or_default().to_owned());
    }
    (outcomes, times)
}

#[test]
fn a_command_dated_9999_is_refused_and_changes_no_later_outcome() {
    let (attacked, times) = run(true);
    let (control, _) = run(false);
    assert_eq!(attacked, control);
    assert!(
        attacked.iter().all(|(status, _)| *status == 200),
        "{attacked:?}"
    );
    assert!(
        times.iter().all(|time| !time.starts_with("9999")),
        "{times:?}"
    );
}

#[test]
fn every_answer_of_a_virtual_store_says_it_is_not_live() {
    let server = common::start_prepared(
        USERS,
        |data| {
            let kind = ets_store::StoreKind::Virtual;
            drop(
                ets_store::Store::create_of_kind(data, ets_store::StoreConfig::default(), kind)
                    .expect("store"),
            );
        },
        |_, _| {},
    );
    let admin = common::bearer(&server, "admin");
    let advance = json!({"request_id":1,"requester":1,"command":"advance_clock","to":"2021-07-16T09:30:00+08:00"});
    let answer = common::post(&server, &admin, &advance);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let register = &commands()[0];
    let answer = common::post(&server, &admin, register);
    assert_eq!(
        answer.body["time"], "2021-07-16T01:30:00Z",
        "stamped with the virtual clock"
    );
    let response = common::agent()
        .get(format!("{}/api/participants/1", server.base))
        .header("Authorization", &admin)
        .call()
        .expect("answer");
    assert_eq!(
        response
            .headers()
            .get(ets_server::STORE_KIND_HEADER)
            .map(|value| value.to_str().ok()),
        Some(Some("virtual"))
    );
}
