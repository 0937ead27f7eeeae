//! `/healthz` of the real `ets serve` before and after an I/O fault. The
//! fault is a real one, injected from outside: the server runs under a file
//! size limit (`prlimit --fsize`, with `SIGXFSZ` ignored), so the journal
//! write that would grow a file past it fails with `EFBIG`, as a full disk
//! fails a write. The limit applies to every file the server writes, so the
//! journal is first grown well past the history database (with commands
//! that are large in the journal and one short row in the history).

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod common;

/// A running `ets serve`, killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `ets serve` on `data` with no file allowed to grow past `limit_bytes`.
fn start_limited(data: &Path, limit_bytes: u64) -> Server {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#"trap '' XFSZ; exec prlimit --fsize="$LIMIT" "$@""#)
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_ets"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .env("LIMIT", limit_bytes.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sh and prlimit start ets serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the server says where it listens");
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("no listening line: {line:?}"))
        .to_owned();
    Server { child, base }
}

fn ets(args: &[&str], stdin: &str) -> String {
    let output = common::run_ets(args, stdin);
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

fn call(request: ureq::RequestBuilder<ureq::typestate::WithoutBody>) -> (u16, Value) {
    let mut response = request.call().expect("request completes");
    let status = response.status().as_u16();
    (status, response.body_mut().read_json().expect("JSON body"))
}

fn health(agent: &ureq::Agent, server: &Server) -> (u16, Value) {
    call(agent.get(format!("{}/healthz", server.base)))
}

fn register(agent: &ureq::Agent, server: &Server, token: &str, id: u64) -> (u16, Value) {
    let body = json!({"request_id": 1_000 + id, "requester": 1, "command": "register_participant",
        "id": id, "kind": if id == 1 { "administrator" } else { "institution" },
        "name": format!("participant number {id} with a long name to fill the journal")});
    let mut response = agent
        .post(format!("{}/api/commands", server.base))
        .header("Content-Type", "application/json")
        .header("Authorization", format!("Bearer {token}"))
        .send(body.to_string())
        .expect("request completes");
    let status = response.status().as_u16();
    (status, response.body_mut().read_json().expect("JSON body"))
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
    // journal write fails, the command gets 500 store_faulted, /healthz
    // answers 503 store_faulted, and reads show durable state only (the
    // participant of the failed batch is not there).
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("store");
    let path = data.to_str().expect("utf-8").to_owned();
    ets(&["init", "--data", &path], "");
    ets(
        &[
            "user",
            "add",
            "--data",
            &path,
            "--name",
            "admin",
            "--participant",
            "1",
            "--role",
            "administrator",
        ],
        "correct horse battery staple\n",
    );
    let token = ets(&["user", "token", "--data", &path, "--name", "admin"], "");
    // Each `set_controls` naming the China calendar journals its 9 KB text.
    let mut grow = String::from(
        r#"{"request_id":1,"requester":1,"command":"register_participant","id":1,"kind":"administrator","name":"MEE"}"#,
    );
    for request in 2..=200 {
        grow.push_str(&format!(
            "\n{{\"request_id\":{request},\"requester\":1,\"command\":\"set_controls\",\"scheme\":\"CEA\",\"calendar\":\"cn\"}}"
        ));
    }
    ets(&["submit", "--data", &path], &(grow + "\n"));
    // Room for a few records of about 250 bytes, not for forty.
    let limit = segment_bytes(&data) + 1_000;
    let server = start_limited(&data, limit);
    let agent = agent();
    let (status, body) = health(&agent, &server);
    assert_eq!((status, &body["ok"]), (200, &json!(true)), "{body}");

    let mut failed = None;
    for id in 2..40 {
        let (status, body) = register(&agent, &server, &token, id);
        if status != 200 {
            assert_eq!((status, body["code"].as_str()), (500, Some("store_faulted")), "{body}");
            failed = Some(id);
            break;
        }
    }
    let failed = failed.expect("the file size limit faulted the store");
    assert!(failed > 2, "no write succeeded before the fault");
    let (status, body) = health(&agent, &server);
    assert_eq!((status, body["code"].as_str()), (503, Some("store_faulted")), "{body}");
    let participant = |id: u64| {
        call(
            agent
                .get(format!("{}/api/participants/{id}", server.base))
                .header("Authorization", format!("Bearer {token}")),
        )
    };
    assert_eq!(participant(failed - 1).0, 200, "a durable write is readable");
    assert_eq!(participant(failed).0, 404, "the failed batch shows in reads");
    let (status, body) = register(&agent, &server, &token, 99);
    assert_eq!((status, body["code"].as_str()), (500, Some("store_faulted")), "{body}");
}
