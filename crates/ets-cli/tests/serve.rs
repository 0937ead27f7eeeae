//! Tests of `ets serve` over real loopback HTTP: its startup lines naming
//! the API and the web UI, commands and their status codes, idempotency,
//! queries, crash safety under SIGKILL, and `/healthz` after a real I/O fault.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

mod common;

/// A running `ets serve`, killed when dropped.
struct Server {
    child: Child,
    base: String,
    /// Kept open: the server prints more lines after the first, and a closed
    /// pipe would end it (a broken pipe ends `ets` quietly).
    _stdout: BufReader<ChildStdout>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &Path) -> Server {
    start_via(Command::new(env!("CARGO_BIN_EXE_ets")), data)
}

/// Starts `ets serve` on `data` through `command` (the binary itself, or a
/// wrapper that runs it).
fn start_via(mut command: Command, data: &Path) -> Server {
    let mut child = command
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ets serve starts");
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    stdout
        .read_line(&mut line)
        .expect("the server says where it listens");
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .expect("listening line")
        .to_owned();
    Server {
        child,
        base,
        _stdout: stdout,
    }
}

/// Tokens of the users the tests act as, by participant id.
struct Tokens(std::collections::BTreeMap<u64, String>);

impl Tokens {
    fn of(&self, participant: u64) -> &str {
        self.0.get(&participant).map_or("", String::as_str)
    }
}

fn ets(args: &[&str], stdin: &str) -> String {
    common::succeeds(args, stdin).trim().to_owned()
}

/// A new store with users for the administrator (1), the plant (10) and the fund (20),
/// created with `ets user add` and `ets user token`.
fn init() -> (tempfile::TempDir, std::path::PathBuf, Tokens) {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("store");
    let path = data.to_str().expect("utf-8").to_owned();
    ets(&["init", "--data", &path], "");
    let mut tokens = std::collections::BTreeMap::new();
    for (name, participant, role) in [
        ("admin", 1, "administrator"),
        ("plant", 10, "representative"),
        ("fund", 20, "representative"),
    ] {
        tokens.insert(
            participant,
            common::add_user("--data", &path, name, participant, role),
        );
    }
    (dir, data, Tokens(tokens))
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

fn post(agent: &ureq::Agent, server: &Server, tokens: &Tokens, body: &Value) -> (u16, Value) {
    let requester = body["requester"].as_u64().unwrap_or(0);
    let mut response = agent
        .post(format!("{}/api/commands", server.base))
        .header("Content-Type", "application/json")
        .header("Authorization", format!("Bearer {}", tokens.of(requester)))
        .send(body.to_string())
        .expect("request completes");
    let status = response.status().as_u16();
    (status, response.body_mut().read_json().expect("JSON body"))
}

fn get(agent: &ureq::Agent, server: &Server, tokens: &Tokens, path: &str) -> (u16, Value) {
    let mut response = agent
        .get(format!("{}{path}", server.base))
        .header("Authorization", format!("Bearer {}", tokens.of(1)))
        .call()
        .expect("request completes");
    let status = response.status().as_u16();
    (status, response.body_mut().read_json().expect("JSON body"))
}

fn setup(agent: &ureq::Agent, server: &Server, tokens: &Tokens) {
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
        let (status, body) = post(agent, server, tokens, &command);
        assert_eq!(status, 200, "{body}");
    }
}

#[test]
fn the_startup_lines_name_the_api_and_the_web_ui_and_the_ui_answers_there() {
    // Goal: `ets serve` prints where it listens and, on the second line,
    // `web UI at <base>/ui`; that address serves the UI's home page.
    let (_dir, data, _tokens) = init();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ets"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ets serve starts");
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    // Killed when dropped, whatever happens below.
    let mut server = Server {
        child,
        base: String::new(),
        _stdout: stdout,
    };
    let (mut first, mut second) = (String::new(), String::new());
    server
        ._stdout
        .read_line(&mut first)
        .expect("the first line");
    server
        ._stdout
        .read_line(&mut second)
        .expect("the second line");
    let base = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("a listening line: {first:?}"));
    assert!(base.starts_with("http://127.0.0.1:"), "{first:?}");
    let ui = second
        .trim()
        .strip_prefix("web UI at ")
        .unwrap_or_else(|| panic!("a web UI line: {second:?}"));
    assert_eq!(ui, format!("{base}/ui"));
    let mut page = agent().get(ui).call().expect("request completes");
    assert_eq!(page.status(), 200, "{ui}");
    let body = page.body_mut().read_to_string().expect("HTML");
    // Not signed in: the UI's home page, leading to the sign-in form.
    assert!(body.starts_with("<!DOCTYPE html>"), "{body}");
    assert!(body.contains("href=\"/ui/login\">Sign in</a>"), "{body}");
    drop(server);
}

#[test]
fn a_tick_below_the_shortest_interval_is_refused_as_bad_usage() {
    // Goal: `--tick-seconds` below the server's bound (0.01 s) or not a number stops
    // `ets serve` before it listens, with exit code 2 (bad usage) and a message
    // naming the flag and the bound; the bound itself is taken and the server starts.
    let (_dir, data, _tokens) = init();
    let serve = |tick: &str| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ets"));
        command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--tick-seconds",
                tick,
                "--data",
            ])
            .arg(&data);
        command
    };
    for (given, says) in [
        ("0", "0.01 s"),
        ("0.001", "0.01 s"),
        ("soon", "number of seconds"),
        ("NaN", "number of seconds"),
    ] {
        let output = serve(given).output().expect("ets serve runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{given}: {stderr}");
        assert!(output.stdout.is_empty(), "{given}: it did not listen");
        assert!(stderr.contains("--tick-seconds"), "{given}: {stderr}");
        assert!(stderr.contains(says), "{given}: {stderr}");
    }
    let mut child = serve("0.01")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ets serve starts");
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    // Killed when dropped, whatever happens below.
    let mut server = Server {
        child,
        base: String::new(),
        _stdout: stdout,
    };
    let mut first = String::new();
    server
        ._stdout
        .read_line(&mut first)
        .expect("the first line");
    assert!(first.starts_with("listening on http://"), "{first:?}");
}

#[test]
fn commands_get_fitting_statuses_and_queries_see_acknowledged_writes() {
    // Goal: the API applies commands durably, maps refusals to HTTP statuses with a
    // stable code, returns the first outcome for a repeated request id, and reads
    // reflect every acknowledged write.
    let (_dir, data, tokens) = init();
    let server = start(&data);
    let agent = agent();
    setup(&agent, &server, &tokens);
    let transfer = json!({"request_id":20,"requester":10,"command":"transfer","from":100,"to":200,"unit":"CEA-2021","quantity":1500});
    let (status, first) = post(&agent, &server, &tokens, &transfer);
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["result"]["status"], "completed");
    let (status, again) = post(&agent, &server, &tokens, &transfer);
    assert_eq!(
        (status, &again["duplicate"], &again["result"]),
        (200, &json!(true), &first["result"])
    );
    let (status, body) = get(&agent, &server, &tokens, "/api/accounts/200");
    assert_eq!(status, 200);
    assert_eq!(body["holdings"][0]["total"], 1500);
    let cases = [
        (
            json!({"request_id":21,"requester":20,"command":"transfer","from":100,"to":200,"unit":"CEA-2021","quantity":1}),
            403,
            "not_representative",
        ),
        (
            json!({"request_id":22,"requester":10,"command":"transfer","from":100,"to":999,"unit":"CEA-2021","quantity":1}),
            404,
            "unknown_account",
        ),
        (
            json!({"request_id":23,"requester":10,"command":"transfer","from":100,"to":200,"unit":"CEA-2021","quantity":99999999}),
            422,
            "insufficient_units",
        ),
        (
            json!({"request_id":24,"requester":10,"command":"teleport"}),
            400,
            "malformed_command",
        ),
    ];
    for (body, expected_status, expected_code) in cases {
        let (status, reply) = post(&agent, &server, &tokens, &body);
        assert_eq!(
            (status, reply["code"].as_str()),
            (expected_status, Some(expected_code)),
            "{reply}"
        );
    }
    let (status, body) = get(&agent, &server, &tokens, "/api/accounts/4242");
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let (status, body) = get(&agent, &server, &tokens, "/api/serials/1");
    assert_eq!(status, 200);
    assert_eq!(body["held_by"], 200);
    let big = "x".repeat(100 * 1024);
    let response = agent
        .post(format!("{}/api/commands", server.base))
        .header("Content-Type", "application/json")
        .header("Authorization", format!("Bearer {}", tokens.of(1)))
        .send(big)
        .expect("request completes");
    assert_eq!(
        response.status().as_u16(),
        413,
        "an oversized body is refused"
    );
}

#[test]
fn every_acknowledged_request_survives_sigkill_under_load() {
    // Goal: kill the server with SIGKILL while four clients post transfers; after
    // restart every request that got a 2xx is present (resubmitting it returns the
    // first outcome as a duplicate) and `ets verify` passes.
    let (_dir, data, tokens) = init();
    let mut server = start(&data);
    let main_agent = agent();
    setup(&main_agent, &server, &tokens);
    let base = server.base.clone();
    let plant_token = tokens.of(10).to_owned();
    let clients: Vec<_> = (0..4u64)
        .map(|client| {
            let base = base.clone();
            let token = plant_token.clone();
            std::thread::spawn(move || {
                let client_agent = agent();
                let mut acknowledged = Vec::new();
                for index in 0..100_000u64 {
                    let body = json!({"request_id": 1_000_000 + client * 1_000_000 + index, "requester": 10, "command": "transfer",
                        "from": 100, "to": 200, "unit": "CEA-2021", "quantity": 1});
                    let Ok(mut response) = client_agent
                        .post(format!("{base}/api/commands"))
            .header("Content-Type", "application/json")
                        .header("Authorization", format!("Bearer {token}"))
                        .send(body.to_string()) else { break };
                    if response.status().is_success() {
                        let reply: Value = response.body_mut().read_json().unwrap_or(Value::Null);
                        acknowledged.push((body, reply));
                    }
                }
                acknowledged
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("reaped");
    let acknowledged: Vec<(Value, Value)> = clients
        .into_iter()
        .flat_map(|c| c.join().expect("client"))
        .collect();
    assert!(
        !acknowledged.is_empty(),
        "no request was acknowledged before the kill"
    );
    let verify = Command::new(env!("CARGO_BIN_EXE_ets"))
        .args(["verify", "--data"])
        .arg(&data)
        .output()
        .expect("verify");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    let server = start(&data);
    for (body, first) in &acknowledged {
        let (status, again) = post(&main_agent, &server, &tokens, body);
        assert_eq!(status, 200);
        assert_eq!(again["duplicate"], true, "acknowledged {first} was lost");
        assert_eq!(again["result"], first["result"]);
    }
}

/// Starts `ets serve` on `data` with no file allowed to grow past
/// `limit_bytes` (`prlimit --fsize`, with `SIGXFSZ` ignored): a write that
/// would pass it fails with `EFBIG`, as a full disk fails a write.
fn start_limited(data: &Path, limit_bytes: u64) -> Server {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(r#"trap '' XFSZ; exec prlimit --fsize="$LIMIT" "$@""#)
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_ets"))
        .env("LIMIT", limit_bytes.to_string());
    start_via(command, data)
}

fn segment_bytes(data: &Path) -> u64 {
    std::fs::read_dir(data)
        .expect("store")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "seg"))
        .map(|path| std::fs::metadata(path).expect("metadata").len())
        .max()
        .expect("a segment")
}

#[test]
fn healthz_is_200_until_an_io_fault_and_then_503_store_faulted() {
    // Goal: a monitor sees the fault. Healthy: 200 {"ok": true}. Once a
    // journal write fails (a real EFBIG, injected with a file size limit),
    // the command gets 500 store_faulted, /healthz answers 503
    // store_faulted, and reads show durable state only.
    let (_dir, data, tokens) = init();
    // The limit applies to every file the server writes, so the journal is
    // first grown well past the history database: each `set_controls`
    // naming the China calendar journals its 9 KB text, and the history keeps
    // one short row of it.
    let mut grow = String::from(
        r#"{"request_id":1,"requester":1,"command":"register_participant","id":1,"kind":"administrator","name":"MEE"}"#,
    );
    for request in 2..=200 {
        grow.push_str(&format!(
            "\n{{\"request_id\":{request},\"requester\":1,\"command\":\"set_controls\",\"scheme\":\"CEA\",\"calendar\":\"cn\"}}"
        ));
    }
    ets(
        &["submit", "--data", data.to_str().expect("utf-8")],
        &(grow + "\n"),
    );
    // Room for a few records of about 250 bytes, not for forty.
    let server = start_limited(&data, segment_bytes(&data) + 1_000);
    let agent = agent();
    let health = || {
        let mut response = agent
            .get(format!("{}/healthz", server.base))
            .call()
            .expect("request completes");
        let status = response.status().as_u16();
        (
            status,
            response.body_mut().read_json::<Value>().expect("JSON body"),
        )
    };
    let (status, body) = health();
    assert_eq!((status, &body["ok"]), (200, &json!(true)), "{body}");
    let register = |id: u64| {
        let body = json!({"request_id": 1_000 + id, "requester": 1, "command": "register_participant",
            "id": id, "kind": "institution",
            "name": format!("participant number {id} with a long name to fill the journal")});
        post(&agent, &server, &tokens, &body)
    };
    let failed = (2..40)
        .find(|id| register(*id).0 != 200)
        .expect("the file size limit faulted the store");
    assert!(failed > 2, "no write succeeded before the fault");
    let (status, body) = health();
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("store_faulted")),
        "{body}"
    );
    let participant = |id: u64| get(&agent, &server, &tokens, &format!("/api/participants/{id}")).0;
    assert_eq!(participant(failed - 1), 200, "a durable write is readable");
    assert_eq!(participant(failed), 404, "the failed batch shows in reads");
    let (status, body) = register(99);
    assert_eq!(
        (status, body["code"].as_str()),
        (500, Some("store_faulted")),
        "{body}"
    );
}
