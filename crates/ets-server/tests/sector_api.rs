//! `allocate_sector` through the HTTP API (docs/api.md, "Industrial sectors"): the
//! administrator's pre-allocation of a cement sector is accepted and issues its
//! units; a final allocation that leaves a registered firm out is refused with
//! `bad_sector_firms` (422) and a representative's with `role_forbids` (403), and
//! neither changes a holding.

use ets_server::Role;
use serde_json::{Value, json};

mod common;
use common::{Server, bearer, get, post};

/// 2026-02-01T00:00:00Z, before the 2025 surrender deadline of cn-cement-2025.
const FEBRUARY_2026_MS: i64 = 1_769_904_000_000;

/// The administrator (1), two cement works (10 and 11, accounts 100 and 110),
/// the cement rulebook loaded and both works registered under it.
fn cement_sector(server: &Server, admin: &str) {
    let toml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schemes/cn-cement-2025.toml"
    ))
    .expect("rulebook file");
    let entity =
        |participant: u64| json!({"participant":participant,"account":participant * 10,"units":[]});
    let commands = [
        json!({"request_id":1,"requester":1,"command":"register_participant","id":1,"kind":"administrator","name":"Authority"}),
        json!({"request_id":2,"requester":1,"command":"open_account","id":1,"kind":"issuance","holder":1,"representatives":[1]}),
        json!({"request_id":3,"requester":1,"command":"open_account","id":2,"kind":"surrender","holder":1,"representatives":[1]}),
        json!({"request_id":4,"requester":1,"command":"register_participant","id":10,"kind":"covered_entity","name":"Works A"}),
        json!({"request_id":5,"requester":1,"command":"open_account","id":100,"kind":"operator_holding","holder":10,"representatives":[10]}),
        json!({"request_id":6,"requester":1,"command":"register_participant","id":11,"kind":"covered_entity","name":"Works B"}),
        json!({"request_id":7,"requester":1,"command":"open_account","id":110,"kind":"operator_holding","holder":11,"representatives":[11]}),
        json!({"request_id":8,"requester":1,"command":"load_rulebook","source_name":"cn-cement-2025.toml","toml":toml}),
        json!({"request_id":9,"requester":1,"command":"register_entities","scheme":"cn-cement-2025","entities":[entity(10), entity(11)]}),
    ];
    for command in commands {
        let answer = post(server, admin, &command);
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
}

fn allocate_sector(request_id: u64, requester: u64, phase: &str, firms: &[Value]) -> Value {
    json!({"request_id":request_id,"requester":requester,"command":"allocate_sector",
        "scheme":"cn-cement-2025","year":2025,"phase":phase,"firms":firms})
}

/// Works `participant`: `output` tonnes of clinker in 2025, `previous` verified in 2024.
fn firm(participant: u64, output: &str, previous: u64) -> Value {
    json!({"participant":participant,"output_tonnes":output,"line":"standard",
        "previous_year_verified":previous})
}

fn holdings(server: &Server, admin: &str, account: u64) -> Value {
    let answer = get(server, admin, &format!("/api/accounts/{account}"));
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body["holdings"].clone()
}

#[test]
fn the_administrator_allocates_a_sector_and_bad_lists_change_nothing() {
    // Goal: the JSON allocate_sector reaches the engine: 70% of each works' 2024
    // verified emissions is issued (0.70 x 1,000,000 + 0.70 x 500,000 = 1,050,000);
    // a final allocation missing works B is bad_sector_firms (422) and a
    // representative's is role_forbids (403); the holdings stay as they were.
    let server = common::start(
        &[
            ("admin", 1, Role::Administrator),
            ("works", 10, Role::Representative),
        ],
        |config, _| {
            config.sequencer.clock =
                ets_server::ServerClock::starting_at(ets_model::Timestamp(FEBRUARY_2026_MS));
        },
    );
    let admin = bearer(&server, "admin");
    let works = bearer(&server, "works");
    cement_sector(&server, &admin);
    let both = [firm(10, "1000000", 1_000_000), firm(11, "500000", 500_000)];
    let accepted = post(&server, &admin, &allocate_sector(10, 1, "pre", &both));
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_eq!(accepted.body["result"]["entities_allocated"], 2);
    assert_eq!(accepted.body["result"]["issued"], 1_050_000);
    let before = [
        holdings(&server, &admin, 100),
        holdings(&server, &admin, 110),
    ];
    assert!(
        before[0].to_string().contains("700000"),
        "works A holds 700,000: {}",
        before[0]
    );
    let missing_b = post(
        &server,
        &admin,
        &allocate_sector(11, 1, "final", &both[..1]),
    );
    assert_eq!(missing_b.status, 422, "{}", missing_b.body);
    assert_eq!(missing_b.body["code"], "bad_sector_firms");
    let by_works = post(&server, &works, &allocate_sector(12, 10, "final", &both));
    assert_eq!(by_works.status, 403, "{}", by_works.body);
    assert_eq!(by_works.body["code"], "role_forbids");
    let after = [
        holdings(&server, &admin, 100),
        holdings(&server, &admin, 110),
    ];
    assert_eq!(after, before);
}
