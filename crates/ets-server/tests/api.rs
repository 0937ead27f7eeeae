//! Tests of the HTTP API served in-process on 127.0.0.1: authentication,
//! roles, the requester check, the Idempotency-Key header, the OpenAPI
//! document and the metrics.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ets_model::ParticipantId;
use ets_server::{Audience, Role, Users, Verb};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

mod common;
use common::{PASSWORD, Server};

/// A fresh store with the given users (name, participant, role), served.
/// HTTP Basic is on, so both kinds of credentials are exercised.
fn start(users: &[(&str, u64, Role)]) -> Server {
    common::start(users, |config, _| config.basic_auth = true)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

/// How a request authenticates.
#[derive(Clone, Copy)]
enum Auth<'a> {
    None,
    Token(&'a str),
    Basic(&'a str, &'a str),
    Raw(&'a str),
}

impl Auth<'_> {
    fn header(self) -> Option<String> {
        match self {
            Auth::None => None,
            Auth::Token(token) => Some(format!("Bearer {token}")),
            Auth::Basic(name, password) => Some(format!(
                "Basic {}",
                STANDARD.encode(format!("{name}:{password}"))
            )),
            Auth::Raw(value) => Some(value.to_owned()),
        }
    }
}

/// An answer: status, JSON body (Null when not JSON), WWW-Authenticate values.
struct Answer {
    status: u16,
    body: Value,
    challenges: Vec<String>,
}

fn finish(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut response = response.expect("request completes");
    let challenges = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|value| value.to_str().expect("ASCII").to_owned())
        .collect();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().expect("body");
    Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        challenges,
    }
}

fn post_with(server: &Server, auth: Auth<'_>, key: Option<&str>, body: &Value) -> Answer {
    let mut request = agent()
        .post(format!("{}/api/commands", server.base))
        .header("Content-Type", "application/json");
    if let Some(value) = auth.header() {
        request = request.header("Authorization", value);
    }
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    finish(request.send(body.to_string()))
}

fn post(server: &Server, auth: Auth<'_>, body: &Value) -> Answer {
    post_with(server, auth, None, body)
}

fn get(server: &Server, auth: Auth<'_>, path: &str) -> Answer {
    let mut request = agent().get(format!("{}{path}", server.base));
    if let Some(value) = auth.header() {
        request = request.header("Authorization", value);
    }
    finish(request.call())
}

fn get_text(server: &Server, path: &str) -> String {
    agent()
        .get(format!("{}{path}", server.base))
        .call()
        .expect("request completes")
        .body_mut()
        .read_to_string()
        .expect("body")
}

/// The administrator registers participants 1 (itself), 10 and 20 and opens
/// the issuance account 1, operator holding 100 (represented by 10) and
/// trading account 200 (represented by 20), then issues and allocates to 100.
fn setup(server: &Server, admin: Auth<'_>) {
    let commands = [
        json!({"request_id":1,"requester":1,"command":"register_participant","id":1,"kind":"administrator","name":"MEE"}),
        json!({"request_id":2,"requester":1,"command":"register_participant","id":10,"kind":"covered_entity","name":"Plant"}),
        json!({"request_id":3,"requester":1,"command":"register_participant","id":20,"kind":"institution","name":"Fund"}),
        json!({"request_id":4,"requester":1,"command":"open_account","id":1,"kind":"issuance","holder":1,"representatives":[1]}),
        json!({"request_id":5,"requester":1,"command":"open_account","id":100,"kind":"operator_holding","holder":10,"representatives":[10]}),
        json!({"request_id":6,"requester":1,"command":"open_account","id":200,"kind":"trading","holder":20,"representatives":[20]}),
        json!({"request_id":7,"requester":1,"command":"issue","unit":"CEA-2021","quantity":1000000}),
        json!({"request_id":8,"requester":1,"command":"allocate","to":100,"unit":"CEA-2021","quantity":500000}),
    ];
    for command in commands {
        let answer = post(server, admin, &command);
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
}

fn transfer(request_id: u64, requester: u64, from: u64, to: u64) -> Value {
    json!({"request_id":request_id,"requester":requester,"command":"transfer","from":from,"to":to,"unit":"CEA-2021","quantity":10})
}

#[test]
fn each_role_may_do_what_it_should_and_nothing_more() {
    // Goal: the administrator sets up the registry; a representative transfers
    // from the account it represents but not from another's, cannot send an
    // administrative command, and cannot act as another participant; an auditor
    // reads everything but cannot post; a representative reads its own
    // accounts and transactions and public participants, nothing else; a user
    // whose participant is not registered reads no private view.
    let server = start(&[
        ("admin", 1, Role::Administrator),
        ("plant", 10, Role::Representative),
        ("auditor", 99, Role::Auditor),
        ("stranger", 77, Role::Representative),
    ]);
    let admin_token = Users::issue_token(&server.data, "admin").expect("token");
    let plant_token = Users::issue_token(&server.data, "plant").expect("token");
    let admin = Auth::Token(&admin_token);
    let plant = Auth::Token(&plant_token);
    setup(&server, admin);

    let own = post(&server, plant, &transfer(20, 10, 100, 200));
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.body["result"]["status"], "completed");

    let cases = [
        (transfer(21, 10, 200, 100), 403, "not_representative"),
        (transfer(22, 20, 200, 100), 403, "requester_mismatch"),
        (
            json!({"request_id":23,"requester":10,"command":"issue","unit":"CEA-2021","quantity":5}),
            403,
            "role_forbids",
        ),
        (
            json!({"request_id":24,"requester":10,"command":"register_participant","id":30,"kind":"individual","name":"Eve"}),
            403,
            "role_forbids",
        ),
    ];
    for (body, status, code) in cases {
        let answer = post(&server, plant, &body);
        assert_eq!(
            (answer.status, answer.body["code"].as_str()),
            (status, Some(code)),
            "{body} -> {}",
            answer.body
        );
    }

    let auditor = Auth::Basic("auditor", PASSWORD);
    let refused = post(&server, auditor, &transfer(25, 99, 100, 200));
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (403, Some("role_forbids"))
    );
    for (auth, path) in [
        (auditor, "/api/accounts/200"),
        (plant, "/api/accounts/100"),
        (plant, "/api/transactions/3"),
        (admin, "/api/transactions/1"),
        (admin, "/api/serials/1"),
        (auditor, "/api/serials/1"),
        (plant, "/api/participants/20"),
    ] {
        let answer = get(&server, auth, path);
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    }
    let stranger = Auth::Basic("stranger", PASSWORD);
    for (auth, path) in [
        (plant, "/api/accounts/200"),
        (plant, "/api/transactions/1"),
        (stranger, "/api/accounts/100"),
        (stranger, "/api/transactions/3"),
        (stranger, "/api/serials/1"),
    ] {
        let answer = get(&server, auth, path);
        assert_eq!(
            (answer.status, answer.body["code"].as_str()),
            (403, Some("not_representative")),
            "{path}: {}",
            answer.body
        );
    }
    let account = get(&server, auditor, "/api/accounts/200");
    assert_eq!(
        account.body["holdings"][0]["total"], 10,
        "only the representative's own transfer moved units"
    );
}

#[test]
fn missing_or_invalid_credentials_get_401_with_challenges() {
    // Goal: every protected route refuses a request without valid credentials
    // (none, wrong password, unknown user, bad or unknown token, unknown scheme)
    // with 401 `unauthenticated` and both challenges; the public routes need none.
    let server = start(&[("admin", 1, Role::Administrator)]);
    let token = Users::issue_token(&server.data, "admin").expect("token");
    let forged = format!("{}{}", &token[..13], "A".repeat(43));
    let attempts = [
        Auth::None,
        Auth::Basic("admin", "wrong password, long enough"),
        Auth::Basic("nobody", PASSWORD),
        Auth::Token("not-a-token"),
        Auth::Token(&forged),
        Auth::Token("ets_00000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        Auth::Raw("Digest username=\"admin\""),
        Auth::Raw("Basic !!!"),
    ];
    let command = json!({"request_id":1,"requester":1,"command":"register_participant","id":1,"kind":"administrator","name":"MEE"});
    for auth in attempts {
        let answer = post(&server, auth, &command);
        assert_eq!(
            (answer.status, answer.body["code"].as_str()),
            (401, Some("unauthenticated")),
            "{:?}",
            auth.header()
        );
        assert_eq!(
            answer.challenges,
            [
                "Bearer realm=\"openets\"",
                "Basic realm=\"openets\", charset=\"UTF-8\""
            ]
        );
    }
    for route in ets_server::routes() {
        let path = route.path.replace("{id}", "1").replace("{serial}", "1");
        let answer = match route.verb {
            Verb::Get => get(&server, Auth::None, &path),
            Verb::Post => post(&server, Auth::None, &command),
        };
        match route.audience {
            Audience::User => assert_eq!(answer.status, 401, "{path}"),
            Audience::Public => assert_eq!(answer.status, 200, "{path}"),
        }
    }
    let nothing_applied = get(&server, Auth::Token(&token), "/api/participants/1");
    assert_eq!(
        nothing_applied.status, 404,
        "no refused request reached the engine"
    );
}

#[test]
fn tokens_issued_or_revoked_while_serving_take_effect_within_the_check_interval() {
    // Goal: the server notices a rewritten users file: a token issued after
    // start is accepted at its first request, a user added after start can
    // log in at once, and a revoked token is refused by a request sent once
    // the users file's check interval has passed, even though it was
    // verified (and cached) before. (The interval itself is tested on an
    // injected clock in `auth`; here the wait only makes sure it passed.)
    let server = start(&[("admin", 1, Role::Administrator)]);
    let token = Users::issue_token(&server.data, "admin").expect("token");
    assert_eq!(
        get(&server, Auth::Token(&token), "/api/accounts/1").status,
        404
    );
    Users::add_user(
        &server.data,
        "late",
        PASSWORD,
        ParticipantId(5),
        Role::Auditor,
    )
    .expect("user added");
    assert_eq!(
        get(&server, Auth::Basic("late", PASSWORD), "/api/accounts/1").status,
        404
    );
    Users::revoke_token(&server.data, &token[4..12]).expect("revoked");
    std::thread::sleep(ets_server::USERS_CHECK_INTERVAL + std::time::Duration::from_millis(20));
    assert_eq!(
        get(&server, Auth::Token(&token), "/api/accounts/1").status,
        401
    );
}

#[test]
fn idempotency_key_must_be_the_request_id() {
    // Goal: an Idempotency-Key that differs from the body's request_id, or is
    // not decimal, is refused with 422 before the engine; an equal one passes;
    // a replayed request id with another body is refused (request_id_reused).
    let server = start(&[("admin", 1, Role::Administrator)]);
    let token = Users::issue_token(&server.data, "admin").expect("token");
    let admin = Auth::Token(&token);
    let register = json!({"request_id":7,"requester":1,"command":"register_participant","id":1,"kind":"administrator","name":"MEE"});
    for key in ["8", "07x", "+7", "", "99999999999999999999999"] {
        let answer = post_with(&server, admin, Some(key), &register);
        assert_eq!(
            (answer.status, answer.body["code"].as_str()),
            (422, Some("idempotency_key_mismatch")),
            "key {key:?}"
        );
    }
    let first = post_with(&server, admin, Some("7"), &register);
    assert_eq!(first.status, 200, "{}", first.body);
    let other_body = json!({"request_id":7,"requester":1,"command":"register_participant","id":2,"kind":"verifier","name":"V"});
    let replay = post_with(&server, admin, Some("7"), &other_body);
    assert_eq!(
        (replay.status, replay.body["code"].as_str()),
        (422, Some("request_id_reused"))
    );
    let same = post_with(&server, admin, Some("7"), &register);
    assert_eq!(same.body["duplicate"], true);
    assert_eq!(same.body["result"], first.body["result"]);
    assert_eq!(
        get(&server, admin, "/api/participants/2").status,
        404,
        "the replayed body was not applied"
    );
}

#[test]
fn openapi_document_describes_every_route_and_command() {
    // Goal: the served OpenAPI document is the one generated from the
    // declarations; it lists exactly the routes the router registers, each
    // with its method, the right security (none for public routes) and every
    // status its refusals carry; its command schema has one alternative per
    // CommandSpec, each naming its `command` constant and its envelope.
    let document: Value = serde_json::from_str(ets_server::openapi_json()).expect("valid JSON");
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().expect("paths");
    let routes = ets_server::routes();
    for route in &routes {
        let operation = &paths
            .get(route.path)
            .unwrap_or_else(|| panic!("{} is not in the document", route.path))
            [route.verb.as_str().to_lowercase()];
        assert!(
            operation.is_object(),
            "{} {}",
            route.verb.as_str(),
            route.path
        );
        let security = operation["security"].as_array().expect("security");
        assert_eq!(
            security.is_empty(),
            route.audience == Audience::Public,
            "{}",
            route.path
        );
        let responses = operation["responses"].as_object().expect("responses");
        for code in route.refusals() {
            let status = code.http_status().to_string();
            let described = responses
                .get(&status)
                .and_then(|response| response["description"].as_str())
                .unwrap_or_else(|| panic!("{} lacks {status}", route.path));
            assert!(
                described.contains(&format!("`{code}`")),
                "{} {status}: {described}",
                route.path
            );
        }
        for parameter in route.parameters {
            let declared = operation["parameters"]
                .as_array()
                .and_then(|all| all.iter().find(|p| p["name"] == parameter.name))
                .unwrap_or_else(|| panic!("{} lacks {}", route.path, parameter.name));
            assert_eq!(declared["schema"]["minimum"], 0);
            assert_eq!(declared["schema"]["maximum"], u64::MAX);
        }
    }
    for (path, item) in paths {
        for method in item.as_object().expect("path item").keys() {
            assert!(
                routes
                    .iter()
                    .any(|r| r.path == path && r.verb.as_str().eq_ignore_ascii_case(method)),
                "{method} {path} is documented but not served"
            );
        }
    }
    let schemas = &document["components"]["schemas"];
    let commands: Vec<&str> = schemas["Command"]["oneOf"]
        .as_array()
        .expect("oneOf")
        .iter()
        .map(|alternative| {
            let name = alternative["$ref"]
                .as_str()
                .and_then(|r| r.rsplit('/').next())
                .expect("a $ref");
            let schema = &schemas[name];
            for envelope in ["request_id", "requester"] {
                assert!(
                    schema["required"]
                        .as_array()
                        .expect("required")
                        .contains(&json!(envelope)),
                    "{name} lacks {envelope}"
                );
            }
            schema["properties"]["command"]["const"]
                .as_str()
                .expect("a command constant")
        })
        .collect();
    let specs: Vec<&str> = ets_api::command_specs().map(|spec| spec.name).collect();
    assert_eq!(commands.len(), specs.len());
    for name in specs {
        assert!(commands.contains(&name), "{name} is not in the document");
    }
    let server = start(&[]);
    let served: Value =
        serde_json::from_str(&get_text(&server, "/api/openapi.json")).expect("served JSON");
    assert_eq!(served, document);
}

#[test]
fn the_serial_policy_is_set_by_the_administrator_alone() {
    // Goal: set_serial_policy is an API command: the administrator's is
    // accepted, a representative's refused with role_forbids before the
    // engine, an unknown policy is malformed; transfers still work after.
    let server = start(&[
        ("admin", 1, Role::Administrator),
        ("plant", 10, Role::Representative),
    ]);
    let admin_token = Users::issue_token(&server.data, "admin").expect("token");
    let plant_token = Users::issue_token(&server.data, "plant").expect("token");
    setup(&server, Auth::Token(&admin_token));
    let policy = |request_id: u64, requester: u64, policy: &str| {
        json!({"request_id": request_id, "requester": requester,
            "command": "set_serial_policy", "policy": policy})
    };
    let refused = post(
        &server,
        Auth::Token(&plant_token),
        &policy(50, 10, "largest_first"),
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(refused.body["code"], "role_forbids");
    let malformed = post(&server, Auth::Token(&admin_token), &policy(51, 1, "random"));
    assert_eq!(malformed.status, 400, "{}", malformed.body);
    assert_eq!(malformed.body["code"], "malformed_command");
    let accepted = post(
        &server,
        Auth::Token(&admin_token),
        &policy(52, 1, "largest_first"),
    );
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_eq!(accepted.body["result"], json!({"controls_set": true}));
    let moved = post(
        &server,
        Auth::Token(&plant_token),
        &transfer(53, 10, 100, 200),
    );
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(moved.body["result"]["status"], "completed");
}

#[test]
fn metrics_expose_requests_commits_queue_and_journal() {
    // Goal: after some commands, /metrics (public, OpenMetrics text) counts
    // requests by route, method and status, and shows batch sizes, commit
    // latency, the queue depth and the journal's size and records.
    let server = start(&[("admin", 1, Role::Administrator)]);
    let token = Users::issue_token(&server.data, "admin").expect("token");
    setup(&server, Auth::Token(&token));
    assert_eq!(get(&server, Auth::None, "/api/accounts/1").status, 401);
    let text = get_text(&server, "/metrics");
    for expected in [
        "ets_http_requests_total{route=\"/api/commands\",method=\"POST\",status=\"200\"} 8",
        "ets_http_requests_total{route=\"/api/accounts/{id}\",method=\"GET\",status=\"401\"} 1",
        "ets_http_request_duration_seconds_count{route=\"/api/commands\"} 8",
        "ets_batch_size_commands_count ",
        "ets_commit_duration_seconds_bucket{le=",
        "ets_queue_depth_jobs ",
        "ets_journal_records 8",
        "ets_store_faults_total 0",
    ] {
        assert!(text.contains(expected), "{expected:?} missing in\n{text}");
    }
    let journal_size_bytes: u64 = text
        .lines()
        .find_map(|line| line.strip_prefix("ets_journal_size_bytes "))
        .and_then(|value| value.trim().parse().ok())
        .expect("journal size");
    assert!(journal_size_bytes > 0);
    let batches: u64 = text
        .lines()
        .find_map(|line| line.strip_prefix("ets_batch_size_commands_count "))
        .and_then(|value| value.trim().parse().ok())
        .expect("batch count");
    assert!(
        (1..=8).contains(&batches),
        "{batches} batches for 8 commands"
    );
}

#[test]
fn a_users_file_that_does_not_load_stops_the_server_from_starting() {
    // Goal: `serve` refuses to start on a corrupt users.json rather than
    // serving with no (or the wrong) users.
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("store");
    drop(ets_store::Store::create(&data, ets_store::StoreConfig::default()).expect("store"));
    std::fs::write(data.join("users.json"), "{ not json").expect("written");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config =
        ets_server::ServerConfig::new(data.clone(), "127.0.0.1:0".parse().expect("address"));
    let result = runtime.block_on(ets_server::serve(config, |_| {}, async {}));
    assert!(
        matches!(
            &result,
            Err(ets_server::ServerError::Users { source, .. }) if source.code() == "users_file_invalid"
        ),
        "{result:?}"
    );
    assert!(Path::new(&data).join("users.json").exists());
}
