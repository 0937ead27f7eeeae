//! Operations of `ets serve`: a request id reused with another body, sign-in
//! throttling, the event streams and HTTPS.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{EventStream, PASSWORD, Server, bearer, get, post, start};
use ets_server::{Role, TlsFiles};
use serde_json::{Value, json};
use std::time::Duration;

fn basic(name: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{name}:{password}")))
}

#[test]
fn a_request_id_reused_with_another_body_is_refused_with_422() {
    // Goal: the same request id and body again returns the first outcome
    // (duplicate); the same request id with another body is refused with
    // 422 request_id_reused, is not applied, and the first outcome still stands.
    let server = start(&[("admin", 1, Role::Administrator)], |_, _| {});
    let admin = bearer(&server, "admin");
    let register = json!({"request_id":7,"requester":1,"command":"register_participant","id":1,"kind":"administrator","name":"MEE"});
    let first = post(&server, &admin, &register);
    assert_eq!(first.status, 200, "{}", first.body);
    let again = post(&server, &admin, &register);
    assert_eq!(again.status, 200);
    assert_eq!(again.body["duplicate"], true);
    assert_eq!(again.body["result"], first.body["result"]);

    let other = json!({"request_id":7,"requester":1,"command":"register_participant","id":2,"kind":"verifier","name":"V"});
    let reused = post(&server, &admin, &other);
    assert_eq!(
        (reused.status, reused.body["code"].as_str()),
        (422, Some("request_id_reused")),
        "{}",
        reused.body
    );
    assert!(reused.body.get("sequence").is_none(), "not journaled");
    assert_eq!(get(&server, &admin, "/api/participants/2").status, 404);
    // The original is still answered as a duplicate after the refusal.
    assert_eq!(post(&server, &admin, &register).body["duplicate"], true);
}

#[test]
fn repeated_failed_sign_ins_of_a_user_get_429_until_a_success_resets() {
    // Goal: with a limit of 3 failures per user, the 4th attempt is refused
    // with 429 and Retry-After even with the right password (without checking
    // it), while another user from the same address still signs in; a user
    // whose failures are interleaved with successes is never refused.
    let server = start(
        &[
            ("admin", 1, Role::Administrator),
            ("plant", 10, Role::Representative),
        ],
        |config, _| {
            config.throttle.user_failures_max = 3;
            config.throttle.address_failures_max = 100;
            config.basic_auth = true;
        },
    );
    let wrong = basic("admin", "wrong password, long enough");
    for _ in 0..3 {
        assert_eq!(get(&server, &wrong, "/api/accounts/1").status, 401);
    }
    let refused = get(&server, &basic("admin", PASSWORD), "/api/accounts/1");
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (429, Some("too_many_failures")),
        "{}",
        refused.body
    );
    let seconds: u64 = refused
        .retry_after
        .as_deref()
        .and_then(|value| value.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&seconds), "{seconds}");

    let plant_wrong = basic("plant", "wrong password, long enough");
    let plant = basic("plant", PASSWORD);
    for _ in 0..3 {
        assert_eq!(get(&server, &plant_wrong, "/api/accounts/1").status, 401);
        assert_eq!(get(&server, &plant_wrong, "/api/accounts/1").status, 401);
        assert_eq!(
            get(&server, &plant, "/api/accounts/1").status,
            404,
            "success resets"
        );
    }
}

#[test]
fn repeated_bad_tokens_from_one_address_get_429() {
    // Goal: token checks count against the client address: after the
    // address's limit even a valid token is refused with 429.
    let server = start(&[("admin", 1, Role::Administrator)], |config, _| {
        config.throttle.address_failures_max = 4;
    });
    let admin = bearer(&server, "admin");
    for _ in 0..4 {
        let answer = get(
            &server,
            "Bearer ets_00000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "/api/accounts/1",
        );
        assert_eq!(answer.status, 401);
    }
    let refused = get(&server, &admin, "/api/accounts/1");
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(refused.retry_after.is_some());
    // No credentials at all is not a failed attempt, and is still a 401.
    let anonymous = common::finish(
        common::agent()
            .get(format!("{}/api/accounts/1", server.base))
            .call(),
    );
    assert_eq!(anonymous.status, 401);
}

/// Administrator 1, exchange operator 2 (fee account 20), seller 10 (account
/// 100), buyer 11 (account 110); 1,000 t in 100, cash in 110, one instrument.
fn market_setup(server: &Server, admin: &str, exchange: &str) {
    let commands = [
        json!({"request_id":1,"requester":1,"command":"register_participant","id":1,"kind":"administrator","name":"MEE"}),
        json!({"request_id":2,"requester":1,"command":"register_participant","id":2,"kind":"exchange","name":"SEEE"}),
        json!({"request_id":3,"requester":1,"command":"register_participant","id":10,"kind":"institution","name":"Seller"}),
        json!({"request_id":4,"requester":1,"command":"register_participant","id":11,"kind":"institution","name":"Buyer"}),
        json!({"request_id":5,"requester":1,"command":"open_account","id":1,"kind":"issuance","holder":1,"representatives":[1]}),
        json!({"request_id":6,"requester":1,"command":"open_account","id":20,"kind":"trading","holder":2,"representatives":[2]}),
        json!({"request_id":7,"requester":1,"command":"open_account","id":100,"kind":"trading","holder":10,"representatives":[10]}),
        json!({"request_id":8,"requester":1,"command":"open_account","id":110,"kind":"trading","holder":11,"representatives":[11]}),
        json!({"request_id":9,"requester":1,"command":"issue","unit":"CEA-2021","quantity":10000}),
        json!({"request_id":10,"requester":1,"command":"transfer","from":1,"to":100,"unit":"CEA-2021","quantity":1000}),
        json!({"request_id":11,"requester":1,"command":"list_instrument","symbol":"CEA21","unit":"CEA-2021","mode":"continuous","rules":{"preset":"china_listed","tick_size_ticks":5},"reference_price_ticks":5000,"fee_bps":10,"fee_account":20,"no_same_day_resale":false,"market_data":"china"}),
    ];
    for command in commands {
        let answer = post(server, admin, &command);
        assert_eq!(answer.status, 200, "{command} -> {}", answer.body);
    }
    let deposit = json!({"request_id":12,"requester":2,"command":"deposit_cash","account":110,"amount_minor_units":1000000});
    let answer = post(server, exchange, &deposit);
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[test]
fn streams_carry_trades_quotes_and_an_accounts_transactions() {
    // Goal: a client subscribed to the market stream sees the quote of a
    // resting order and then the trade (price, quantity, no parties); the
    // seller subscribed to its account sees its side of the trade, the
    // settlement transaction and a later transfer; another representative
    // may not subscribe to that account, an auditor may.
    let server = start(
        &[
            ("admin", 1, Role::Administrator),
            ("exchange", 2, Role::ExchangeMember),
            ("seller", 10, Role::Representative),
            ("buyer", 11, Role::Representative),
            ("auditor", 99, Role::Auditor),
        ],
        |_, _| {},
    );
    let admin = bearer(&server, "admin");
    let exchange = bearer(&server, "exchange");
    let seller = bearer(&server, "seller");
    let buyer = bearer(&server, "buyer");
    let auditor = bearer(&server, "auditor");
    market_setup(&server, &admin, &exchange);

    let mut market = EventStream::open(&server, &buyer, "/api/stream/market").expect("200");
    assert_eq!(
        market.next(),
        ("subscribed".to_owned(), json!({"stream":"market"}))
    );
    let mut account = EventStream::open(&server, &seller, "/api/stream/accounts/100").expect("200");
    assert_eq!(account.next().0, "subscribed");
    assert_eq!(
        EventStream::open(&server, &buyer, "/api/stream/accounts/100").err(),
        Some(403)
    );
    assert_eq!(
        EventStream::open(&server, &auditor, "/api/stream/accounts/999").err(),
        Some(404)
    );
    assert!(EventStream::open(&server, &auditor, "/api/stream/accounts/100").is_ok());

    let sell = json!({"request_id":20,"requester":10,"command":"place_order","instrument":"CEA21","account":100,"side":"sell","kind":{"limit":5000},"quantity":100,"time_in_force":"day"});
    assert_eq!(post(&server, &seller, &sell).status, 200);
    let quote = market.until("quote", |_| true);
    assert_eq!(quote["instrument"], "CEA21");
    assert_eq!(quote["best_ask_ticks"], 5000);
    assert_eq!(quote["best_bid_ticks"], Value::Null);

    let buy = json!({"request_id":21,"requester":11,"command":"place_order","instrument":"CEA21","account":110,"side":"buy","kind":{"limit":5010},"quantity":100,"time_in_force":"day"});
    let bought = post(&server, &buyer, &buy);
    assert_eq!(bought.status, 200, "{}", bought.body);
    let trade = market.until("trade", |_| true);
    assert_eq!(
        (
            &trade["instrument"],
            &trade["price_ticks"],
            &trade["quantity"]
        ),
        (&json!("CEA21"), &json!(5000), &json!(100))
    );
    assert!(
        trade.get("account").is_none(),
        "the public trade names no party"
    );
    let after = market.until("quote", |_| true);
    assert_eq!(after["best_ask_ticks"], Value::Null);
    assert_eq!(after["stats"]["volume"], 100);

    let own = account.until("trade", |_| true);
    assert_eq!(
        (&own["side"], &own["account"]),
        (&json!("sell"), &json!(100))
    );
    let settlement = account.until("transaction", |t| t["from"] == 100);
    assert_eq!(settlement["to"], 110);
    assert_eq!(settlement["id"], own["transaction"]);

    let transfer = json!({"request_id":22,"requester":10,"command":"transfer","from":100,"to":110,"unit":"CEA-2021","quantity":7});
    assert_eq!(post(&server, &seller, &transfer).status, 200);
    let moved = account.until("transaction", |t| t["quantity"] == 7);
    assert_eq!(
        (&moved["kind"], &moved["to"]),
        (&json!("transfer"), &json!(110))
    );
}

#[test]
fn https_with_a_self_signed_certificate_answers_healthz() {
    // Goal: with --tls-cert/--tls-key the server speaks TLS: a client that
    // trusts the (self-signed) certificate gets 200 from /healthz over HTTPS.
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let cert_der = certified.cert.der().to_vec();
    let server = start(&[], |config, dir| {
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&cert, certified.cert.pem()).expect("written");
        std::fs::write(&key, certified.signing_key.serialize_pem()).expect("written");
        config.tls = Some(TlsFiles { cert, key });
    });
    assert!(server.base.starts_with("https://localhost:"));
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::new_with_certs(&[
            ureq::tls::Certificate::from_der(&cert_der).to_owned(),
        ]))
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut response = agent
        .get(format!("{}/healthz", server.base))
        .call()
        .expect("HTTPS request");
    assert_eq!(response.status().as_u16(), 200);
    let body = response.body_mut().read_to_string().expect("body");
    assert_eq!(body, r#"{"ok":true}"#);
    // Plain HTTP to the TLS port does not get an answer from the API.
    let plain = common::agent()
        .get(server.base.replace("https://", "http://") + "/healthz")
        .call();
    assert!(plain.map_or(true, |r| r.status().as_u16() != 200));
}

#[test]
fn a_batch_of_json_lines_is_answered_line_by_line_in_order() {
    // Goal: POST /api/commands/batch applies the good lines in order within
    // one request and answers each line where /api/commands would: accepted
    // outcomes with sequences, a malformed line and a requester mismatch with
    // their line numbers (not journaled), an engine refusal, a duplicate.
    let server = start(&[("admin", 1, Role::Administrator)], |_, _| {});
    let admin = bearer(&server, "admin");
    let body = [
        r#"{"request_id":1,"requester":1,"command":"register_participant","id":1,"kind":"administrator","name":"MEE"}"#,
        r#"{"request_id":2,"requester":1,"command":"register_participant","id":10,"kind":"covered_entity","name":"Plant"}"#,
        "",
        r#"{"request_id":3,"requester":1,"command":"no_such_command"}"#,
        r#"{"request_id":4,"requester":2,"command":"register_participant","id":11,"kind":"covered_entity","name":"X"}"#,
        r#"{"request_id":5,"requester":1,"command":"register_participant","id":10,"kind":"covered_entity","name":"Plant"}"#,
        r#"{"request_id":1,"requester":1,"command":"register_participant","id":1,"kind":"administrator","name":"MEE"}"#,
    ]
    .join("\n");
    let answer = common::finish(
        common::agent()
            .post(format!("{}/api/commands/batch", server.base))
            .header("Authorization", &admin)
            .header("Content-Type", "application/x-ndjson")
            .send(body),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let outcomes = answer.body.as_array().expect("an array");
    let summary: Vec<(Value, Value, Value)> = outcomes
        .iter()
        .map(|o| (o["request_id"].clone(), o["ok"].clone(), o["code"].clone()))
        .collect();
    assert_eq!(
        summary,
        [
            (json!(1), json!(true), Value::Null),
            (json!(2), json!(true), Value::Null),
            (json!(3), json!(false), json!("malformed_command")),
            (json!(4), json!(false), json!("requester_mismatch")),
            (json!(5), json!(false), json!("participant_exists")),
            (json!(1), json!(true), Value::Null),
        ]
    );
    assert_eq!(
        (&outcomes[0]["sequence"], &outcomes[1]["sequence"]),
        (&json!(1), &json!(2))
    );
    assert_eq!(
        (&outcomes[2]["line"], &outcomes[3]["line"]),
        (&json!(4), &json!(5))
    );
    assert_eq!(outcomes[4]["sequence"], 3, "engine refusals are journaled");
    assert_eq!(outcomes[5]["duplicate"], true);
    assert_eq!(get(&server, &admin, "/api/participants/10").status, 200);
}
