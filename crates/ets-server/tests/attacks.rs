//! The attacks of issue 12 against a real server on 127.0.0.1, each now
//! refused with its stable code and changing nothing.

use ets_server::Role;
use serde_json::{Value, json};

mod common;
use common::{
    EventStream, PASSWORD, Server, agent, bearer, finish, get, plant_and_fund, post, start,
};

fn holding(server: &Server, admin: &str, account: u64) -> Value {
    get(server, admin, &format!("/api/accounts/{account}")).body["holdings"].clone()
}

fn transfer(request_id: u64, quantity: u64) -> Value {
    json!({"request_id":request_id,"requester":10,"command":"transfer","from":100,"to":200,"unit":"CEA-2021","quantity":quantity})
}

#[test]
fn a_cross_site_form_cannot_move_units() {
    // Goal: the browser attack: a form post (text/plain or form-encoded) or a
    // JSON post from another origin is refused before the engine; the
    // holdings do not change.
    let server = start(
        &[
            ("admin", 1, Role::Administrator),
            ("plant", 10, Role::Representative),
        ],
        |_, _| {},
    );
    let admin = bearer(&server, "admin");
    let plant = bearer(&server, "plant");
    plant_and_fund(&server, &admin);
    let before = holding(&server, &admin, 100);
    let body = transfer(50, 10).to_string();
    for (content_type, origin, status, code) in [
        ("text/plain", None, 415, "unsupported_media_type"),
        (
            "application/x-www-form-urlencoded",
            None,
            415,
            "unsupported_media_type",
        ),
        (
            "multipart/form-data; boundary=x",
            None,
            415,
            "unsupported_media_type",
        ),
        (
            "application/json",
            Some("https://evil.example"),
            403,
            "cross_origin",
        ),
    ] {
        let mut request = agent()
            .post(format!("{}/api/commands", server.base))
            .header("Authorization", &plant)
            .header("Content-Type", content_type);
        if let Some(origin) = origin {
            request = request.header("Origin", origin);
        }
        let answer = finish(request.send(body.clone()));
        assert_eq!(
            (answer.status, answer.body["code"].as_str()),
            (status, Some(code)),
            "{content_type}: {}",
            answer.body
        );
    }
    assert_eq!(holding(&server, &admin, 100), before);
}

#[test]
fn basic_credentials_are_refused_unless_switched_on() {
    // Goal: HTTP Basic (which browsers cache) is off by default: right
    // credentials get 401 and only the Bearer challenge is offered.
    let server = start(&[("admin", 1, Role::Administrator)], |_, _| {});
    use base64::Engine as _;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("admin:{PASSWORD}"))
    );
    let answer = get(&server, &basic, "/api/participants/1");
    assert_eq!(answer.status, 401);
    assert_eq!(answer.body["code"], "unauthenticated");
}

#[test]
fn a_representative_acting_for_the_administrator_cannot_run_the_registry() {
    // Goal: the role check covers every command: a representative user of
    // the administrator participant is refused allocate_free, load_rulebook,
    // list_instrument and issue (role_forbids); nothing is issued.
    let server = start(
        &[
            ("admin", 1, Role::Administrator),
            ("insider", 1, Role::Representative),
        ],
        |_, _| {},
    );
    let admin = bearer(&server, "admin");
    let insider = bearer(&server, "insider");
    plant_and_fund(&server, &admin);
    let before = holding(&server, &admin, 1);
    let commands = [
        json!({"request_id":60,"requester":1,"command":"issue","unit":"CEA-2021","quantity":575260}),
        json!({"request_id":61,"requester":1,"command":"load_rulebook","scheme":"x","toml":"[scheme]"}),
        json!({"request_id":62,"requester":1,"command":"allocate_free","scheme":"cn","year":2021,"phase":"pre","outputs":[]}),
        json!({"request_id":63,"requester":1,"command":"close_year","scheme":"cn","year":2021}),
    ];
    for command in commands {
        let answer = post(&server, &insider, &command);
        // A body that does not parse is refused before the role check; every
        // command here either parses and is refused by role, or is malformed.
        assert!(
            answer.body["code"] == "role_forbids" || answer.body["code"] == "malformed_command",
            "{command}: {}",
            answer.body
        );
        assert_ne!(answer.status, 200, "{command}");
    }
    let issue = post(
        &server,
        &insider,
        &json!({"request_id":64,"requester":1,"command":"issue","unit":"CEA-2021","quantity":5}),
    );
    assert_eq!(
        (issue.status, issue.body["code"].as_str()),
        (403, Some("role_forbids"))
    );
    assert_eq!(holding(&server, &admin, 1), before);
}

#[test]
fn names_with_control_or_bidi_characters_are_refused() {
    // Goal: a participant name with a right-to-left override or a newline is
    // refused (422 invalid_value: the command has its shape, the name breaks
    // the rule) and the participant is not registered.
    let server = start(&[("admin", 1, Role::Administrator)], |_, _| {});
    let admin = bearer(&server, "admin");
    plant_and_fund(&server, &admin);
    for (id, name) in [(30, "Plant\u{202e}tnalP"), (31, "Plant\nAdmin")] {
        let answer = post(
            &server,
            &admin,
            &json!({"request_id":70 + id,"requester":1,"command":"register_participant","id":id,"kind":"individual","name":name}),
        );
        assert_eq!(
            (answer.status, answer.body["code"].as_str()),
            (422, Some("invalid_value")),
            "{}",
            answer.body
        );
        let read = get(&server, &admin, &format!("/api/participants/{id}"));
        assert_eq!(read.status, 404);
    }
}

#[test]
fn a_removed_representative_stops_receiving_the_account_stream() {
    // Goal: the stream's permission is checked on every event: after the
    // administrator replaces the representative of account 100, the old
    // representative's stream gets `forbidden` and no further event. (Plant
    // represents the fund's account 200 for a while; it is no holder of it.)
    let server = start(
        &[
            ("admin", 1, Role::Administrator),
            ("plant", 10, Role::Representative),
        ],
        |_, _| {},
    );
    let admin = bearer(&server, "admin");
    let plant = bearer(&server, "plant");
    plant_and_fund(&server, &admin);
    let both = json!({"request_id":79,"requester":1,"command":"set_approval_rule","account":200,"representatives":[20,10],"approvals_required":1});
    assert_eq!(post(&server, &admin, &both).status, 200);
    let mut stream = EventStream::open(&server, &plant, "/api/stream/accounts/200").expect("200");
    assert_eq!(stream.next().0, "subscribed");
    let moved = post(&server, &plant, &transfer(78, 5));
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(stream.next().0, "transaction", "a representative receives");
    let rule = json!({"request_id":80,"requester":1,"command":"set_approval_rule","account":200,"representatives":[20],"approvals_required":1});
    let changed = post(&server, &admin, &rule);
    assert_eq!(changed.status, 200, "{}", changed.body);
    let (name, data) = stream.next();
    assert_eq!(name, "forbidden", "{data}");
    assert_eq!(data["code"], "not_representative");
    assert_eq!(
        EventStream::open(&server, &plant, "/api/stream/accounts/200").err(),
        Some(403)
    );
}

#[test]
fn the_oversize_batch_attack_is_limited_and_the_store_keeps_accepting_writes() {
    // Goal: concurrent large batches are split into group commits bounded by
    // bytes (here 64 KiB) instead of faulting the store; a user past its byte
    // budget gets 429 rate_limited with Retry-After; another user and later
    // writes are still accepted.
    let server = start(
        &[
            ("admin", 1, Role::Administrator),
            ("plant", 10, Role::Representative),
        ],
        |config, _| {
            config.sequencer.batch_bytes_max = 64 * 1024;
            config.rate_limit.bytes_burst = 1024.0 * 1024.0;
            config.rate_limit.bytes_per_second = 1024.0;
        },
    );
    let admin = bearer(&server, "admin");
    let plant = bearer(&server, "plant");
    plant_and_fund(&server, &admin);
    let batch = |first: u64| -> String {
        (0..2_000)
            .map(|index| transfer(first + index, 1).to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let post_batch = |body: String| {
        finish(
            agent()
                .post(format!("{}/api/commands/batch", server.base))
                .header("Authorization", &plant)
                .header("Content-Type", "application/json")
                .send(body),
        )
    };
    let threads: Vec<_> = (0..8_u64)
        .map(|thread| {
            let body = batch(1_000 + thread * 10_000);
            let base = server.base.clone();
            let plant = plant.clone();
            std::thread::spawn(move || {
                finish(
                    agent()
                        .post(format!("{base}/api/commands/batch"))
                        .header("Authorization", &plant)
                        .header("Content-Type", "application/json")
                        .send(body),
                )
            })
        })
        .collect();
    let answers: Vec<_> = threads
        .into_iter()
        .map(|thread| thread.join().expect("thread"))
        .collect();
    let accepted = answers.iter().filter(|answer| answer.status == 200).count();
    let limited: Vec<_> = answers
        .iter()
        .filter(|answer| answer.status == 429)
        .collect();
    assert_eq!(accepted + limited.len(), 8, "only 200 or 429");
    assert!(accepted >= 1, "the budget admits some batches");
    assert!(!limited.is_empty(), "the budget stops the flood");
    assert_eq!(limited[0].body["code"], "rate_limited");
    assert!(limited[0].retry_after.is_some());
    for answer in answers.iter().filter(|answer| answer.status == 200) {
        let outcomes = answer.body.as_array().expect("array");
        assert!(outcomes.iter().all(|outcome| outcome["ok"] == true));
    }
    assert_eq!(post_batch(batch(900_000)).status, 429, "still over budget");
    let later = post(
        &server,
        &admin,
        &json!({"request_id":90,"requester":1,"command":"allocate","to":100,"unit":"CEA-2021","quantity":1}),
    );
    assert_eq!(later.status, 200, "the store still accepts: {}", later.body);
    let total = holding(&server, &admin, 200)[0]["total"]
        .as_u64()
        .expect("total");
    assert_eq!(total, 2_000 * accepted as u64);
}

#[test]
fn half_open_connections_are_capped_and_closed_and_healthz_still_answers() {
    // Goal: the slow-headers attack: connections beyond the cap are closed at
    // once; connections that never finish their headers are closed by the
    // server (the header deadline); afterwards /healthz answers again.
    use std::io::{Read as _, Write as _};
    let server = start(&[], |config, _| {
        config.connections.connections_max = 3;
        config.connections.header_timeout = std::time::Duration::from_millis(500);
    });
    let address = server.base.trim_start_matches("http://").to_owned();
    let open = || {
        let mut stream = std::net::TcpStream::connect(&address).expect("connects");
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .expect("timeout set");
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .expect("partial headers sent");
        stream
    };
    let mut held: Vec<_> = (0..3).map(|_| open()).collect();
    // Give the server time to accept the three before the fourth arrives.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let mut extra = open();
    let mut buffer = [0_u8; 256];
    let read = extra.read(&mut buffer).unwrap_or(0);
    assert_eq!(
        read, 0,
        "the connection beyond the cap is closed unanswered"
    );
    for stream in &mut held {
        // The server ends each held connection (possibly with a 408 first).
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
        let text = String::from_utf8_lossy(&rest);
        assert!(!text.contains("200 OK"), "{text}");
    }
    let health = common::finish(
        common::agent()
            .get(format!("{}/healthz", server.base))
            .call(),
    );
    assert_eq!(health.status, 200);
}

#[test]
fn https_connections_are_capped_and_slow_handshakes_closed_like_plain_ones() {
    // Goal: TLS goes through the same accept loop: connections beyond the cap
    // are closed at once, a client that never finishes its TLS handshake is
    // closed by the header deadline, and /healthz answers over HTTPS after.
    use std::io::{Read as _, Write as _};
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let cert_der = certified.cert.der().to_vec();
    let server = start(&[], |config, dir| {
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&cert, certified.cert.pem()).expect("written");
        std::fs::write(&key, certified.signing_key.serialize_pem()).expect("written");
        config.tls = Some(ets_server::TlsFiles { cert, key });
        config.connections.connections_max = 3;
        config.connections.header_timeout = std::time::Duration::from_millis(500);
    });
    let port = server.base.rsplit(':').next().expect("a port").to_owned();
    let open = || {
        let mut stream =
            std::net::TcpStream::connect(format!("127.0.0.1:{port}")).expect("connects");
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .expect("timeout set");
        // Half a TLS record header: the handshake never completes.
        stream.write_all(&[0x16, 0x03]).expect("bytes sent");
        stream
    };
    let mut held: Vec<_> = (0..3).map(|_| open()).collect();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let mut extra = open();
    let mut buffer = [0_u8; 256];
    assert_eq!(
        extra.read(&mut buffer).unwrap_or(0),
        0,
        "the connection beyond the cap is closed unanswered"
    );
    for stream in &mut held {
        // The server closes each (the client's own 30 s read timeout would
        // end it otherwise, with WouldBlock or TimedOut).
        let mut rest = Vec::new();
        if let Err(error) = stream.read_to_end(&mut rest) {
            assert!(
                !matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "the server left a stalled handshake open: {error}"
            );
        }
    }
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::new_with_certs(&[
            ureq::tls::Certificate::from_der(&cert_der).to_owned(),
        ]))
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .build()
        .into();
    let health = agent
        .get(format!("{}/healthz", server.base))
        .call()
        .expect("HTTPS request");
    assert_eq!(health.status().as_u16(), 200);
}
