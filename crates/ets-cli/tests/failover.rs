//! High availability on PostgreSQL, with the real `ets` binary and a real
//! primary with a synchronous streaming standby (crates/ets-pgtest), as
//! docs/postgres.md tells an operator to run it:
//!
//! - under load, SIGKILL PostgreSQL's primary and `ets serve`, promote the
//!   standby, start `ets serve` on it: every acknowledged command is in its
//!   journal (by request id), a resubmission returns its first outcome, and
//!   `ets verify` passes; a second `ets serve` on the same database is
//!   refused (`locked`), and one on an unpromoted standby too (`database_read_only`);
//! - a primary cut off by a promotion (split brain) never acknowledges: its
//!   server's command waits for the standby that left, and fails when that
//!   primary dies; the command is not in the new primary's journal;
//! - one `ets serve` rides out its database's outages under load: a
//!   terminated session is reconnected; while the database is stopped writes
//!   answer `503 database_unavailable` and `/healthz` says so; once it is back
//!   the server writes again by itself; every acknowledged command is in the
//!   journal and `ets verify` passes.
//!
//! No test asserts a time: every wait is bounded and fails with what it waited for.

use ets_pgtest::Cluster;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod common;

/// How long any one wait may take before the test fails saying what it waited for.
const WAIT: Duration = Duration::from_secs(120);

/// A running `ets serve`, killed (SIGKILL) when dropped.
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

impl Server {
    /// SIGKILL, as a machine failure would.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL ets serve");
        self.child.wait().expect("reaped");
    }
}

fn serve_args<'a>(url: &'a str, users: &'a str) -> [&'a str; 7] {
    [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data",
        url,
        "--users",
        users,
    ]
}

/// Starts `ets serve` on the database at `url` with the users file in `users`.
fn start(url: &str, users: &Path) -> Server {
    let users = users.to_str().expect("utf-8");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ets"))
        .args(serve_args(url, users))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ets serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("reads standard output");
    let Some(base) = line.trim().strip_prefix("listening on ") else {
        let mut stderr = String::new();
        let _ = child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut stderr);
        panic!("ets serve did not start: {line}{stderr}");
    };
    Server {
        base: base.to_owned(),
        child,
    }
}

/// Runs `ets serve` where it must be refused, and returns its status and
/// standard error; a server that keeps running is killed and the test fails.
fn refused_serve(url: &str, users: &Path) -> (Option<i32>, String) {
    let users = users.to_str().expect("utf-8");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ets"))
        .args(serve_args(url, users))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ets serve starts");
    let deadline = Instant::now() + WAIT;
    while child.try_wait().expect("polls").is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("a second `ets serve` on {url} was not refused within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output: Output = child.wait_with_output().expect("finishes");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn ets(args: &[&str], stdin: &str) -> String {
    common::succeeds(args, stdin).trim().to_owned()
}

/// A primary with a synchronous standby, an empty store in database `ets`
/// created with `ets init`, and the users file (administrator 1, plant 10)
/// in a directory of its own; returns the primary, the standby, the users
/// directory and the tokens by participant.
fn primary_with_standby() -> (Cluster, Cluster, tempfile::TempDir, BTreeMap<u64, String>) {
    let mut primary = Cluster::start().expect("a PostgreSQL primary");
    let url = primary.create_database("ets").expect("a database");
    let standby = primary.start_standby().expect("a streaming standby");
    primary
        .wait_for_synchronous_standby("standby", WAIT)
        .expect("the standby is synchronous");
    let (users, tokens) = store_with_users(&url);
    (primary, standby, users, tokens)
}

/// An empty store at `url` created with `ets init`, and the users file
/// (administrator 1, plant 10) in a directory of its own, with their tokens.
fn store_with_users(url: &str) -> (tempfile::TempDir, BTreeMap<u64, String>) {
    let created = ets(&["init", "--data", url], "");
    assert!(
        !created.contains(ets_pgtest::PASSWORD),
        "the password is not printed: {created}"
    );
    let users = tempfile::tempdir().expect("temp dir");
    let dir = users.path().to_str().expect("utf-8").to_owned();
    let mut tokens = BTreeMap::new();
    for (name, participant, role) in [
        ("admin", 1, "administrator"),
        ("plant", 10, "representative"),
    ] {
        tokens.insert(
            participant,
            common::add_user("--users", &dir, name, participant, role),
        );
    }
    (users, tokens)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(WAIT))
        .build()
        .into()
}

/// Posts `body` with the token of its requester; `None` when the request
/// got no answer at all (the server is gone).
fn post(agent: &ureq::Agent, base: &str, token: &str, body: &Value) -> Option<(u16, Value)> {
    let mut response = agent
        .post(format!("{base}/api/commands"))
        .header("Content-Type", "application/json")
        .header("Authorization", format!("Bearer {token}"))
        .send(body.to_string())
        .ok()?;
    let status = response.status().as_u16();
    Some((
        status,
        response.body_mut().read_json().unwrap_or(Value::Null),
    ))
}

/// The administrator's setup: participants, accounts, an issue and an allocation to the plant.
fn setup(agent: &ureq::Agent, server: &Server, tokens: &BTreeMap<u64, String>) {
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
        let (status, body) = post(agent, &server.base, &tokens[&1], &command).expect("answered");
        assert_eq!(status, 200, "{body}");
    }
}

fn transfer(request_id: u64) -> Value {
    json!({"request_id": request_id, "requester": 10, "command": "transfer",
        "from": 100, "to": 200, "unit": "CEA-2021", "quantity": 1})
}

/// Clients posting one-unit transfers until told to stop or the server is
/// gone; each returns the commands that got a 2xx, with their replies.
struct Load {
    clients: Vec<std::thread::JoinHandle<Vec<(Value, Value)>>>,
    acknowledged: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Load {
    fn start(base: &str, token: &str, clients: u64) -> Load {
        let acknowledged = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let clients = (0..clients)
            .map(|client| {
                let (base, token) = (base.to_owned(), token.to_owned());
                let (count, stop) = (Arc::clone(&acknowledged), Arc::clone(&stop));
                std::thread::spawn(move || {
                    let agent = agent();
                    let mut acknowledged = Vec::new();
                    for index in 0.. {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let body = transfer(1_000_000 * (client + 1) + index);
                        match post(&agent, &base, &token, &body) {
                            Some((status, reply)) if (200..300).contains(&status) => {
                                acknowledged.push((body, reply));
                                count.fetch_add(1, Ordering::Relaxed);
                            }
                            Some(_) => {}
                            None => break,
                        }
                    }
                    acknowledged
                })
            })
            .collect();
        Load {
            clients,
            acknowledged,
            stop,
        }
    }

    /// Waits until at least `count` commands were acknowledged.
    fn wait_for(&self, count: usize) {
        let deadline = Instant::now() + WAIT;
        while self.acknowledged.load(Ordering::Relaxed) < count {
            assert!(
                Instant::now() < deadline,
                "only {} of {count} commands were acknowledged within {WAIT:?}",
                self.acknowledged.load(Ordering::Relaxed)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn finish(self) -> Vec<(Value, Value)> {
        self.stop.store(true, Ordering::Relaxed);
        self.clients
            .into_iter()
            .flat_map(|client| client.join().expect("a client thread"))
            .collect()
    }
}

/// The request ids in the journal of the store at `url`, read directly.
fn journaled_request_ids(url: &str) -> std::collections::HashSet<u64> {
    let store = ets_store::Store::open_postgres_read_only(url).expect("the store opens");
    store
        .journal()
        .read_from(1)
        .expect("the journal reads")
        .map(|record| {
            let record = record.expect("a checked record");
            let entry = ets_engine::JournalEntry::decode(&record.payload).expect("decodes");
            entry.request_id.0
        })
        .collect()
}

fn verify(url: &str) -> Value {
    let output = common::run_ets(&["verify", "--data", url], "");
    let report: Value = serde_json::from_slice(&output.stdout).expect("verify prints JSON");
    assert!(output.status.success(), "ets verify failed: {report}");
    report
}

#[test]
fn every_acknowledged_command_survives_a_failover_to_the_synchronous_standby() {
    let (mut primary, mut standby, users, tokens) = primary_with_standby();
    let primary_url = primary.url("ets");
    let standby_url = standby.url("ets");
    let server = start(&primary_url, users.path());
    let admin = agent();
    setup(&admin, &server, &tokens);
    // Only one server writes a store.
    let (status, stderr) = refused_serve(&primary_url, users.path());
    assert_eq!(status, Some(1), "{stderr}");
    assert!(stderr.contains("(code locked)"), "{stderr}");
    // A standby cannot be written before it is promoted.
    let (status, stderr) = refused_serve(&standby_url, users.path());
    assert_eq!(status, Some(1), "{stderr}");
    assert!(stderr.contains("(code database_read_only)"), "{stderr}");
    assert!(!stderr.contains(ets_pgtest::PASSWORD), "{stderr}");

    let load = Load::start(&server.base, &tokens[&10], 4);
    load.wait_for(300);
    // The machine of the primary fails: PostgreSQL and the server, both SIGKILLed.
    primary.kill().expect("SIGKILL the PostgreSQL primary");
    server.kill();
    let acknowledged = load.finish();
    assert!(acknowledged.len() >= 300, "{}", acknowledged.len());

    standby.promote().expect("the standby is promoted");
    let journaled = journaled_request_ids(&standby_url);
    for (body, _) in &acknowledged {
        let id = body["request_id"].as_u64().expect("an id");
        assert!(
            journaled.contains(&id),
            "acknowledged request {id} is not in the promoted standby's journal"
        );
    }
    let report = verify(&standby_url);
    assert!(
        report["records"].as_u64().expect("records") >= 8 + acknowledged.len() as u64,
        "{report}"
    );

    let server = start(&standby_url, users.path());
    for (body, first) in &acknowledged {
        let (status, again) = post(&admin, &server.base, &tokens[&10], body).expect("answered");
        assert_eq!(status, 200, "{again}");
        assert_eq!(again["duplicate"], true, "acknowledged {first} was lost");
        assert_eq!(again["result"], first["result"]);
    }
    let (status, fresh) =
        post(&admin, &server.base, &tokens[&10], &transfer(42)).expect("answered");
    assert_eq!(status, 200, "{fresh}");
    assert_ne!(fresh["duplicate"], true, "a new command is new: {fresh}");
    let (status, stderr) = refused_serve(&standby_url, users.path());
    assert_eq!(status, Some(1), "{stderr}");
    assert!(stderr.contains("(code locked)"), "{stderr}");
    drop(server);
    verify(&standby_url);
}

#[test]
fn a_primary_cut_off_by_a_promotion_never_acknowledges() {
    let (mut primary, mut standby, users, tokens) = primary_with_standby();
    let primary_url = primary.url("ets");
    let standby_url = standby.url("ets");
    let old = start(&primary_url, users.path());
    let admin = agent();
    setup(&admin, &old, &tokens);
    // Split brain: the standby is promoted while the old primary still runs.
    standby.promote().expect("the standby is promoted");
    let new = start(&standby_url, users.path());
    let (status, body) = post(&admin, &new.base, &tokens[&10], &transfer(70)).expect("answered");
    assert_eq!(status, 200, "{body}");

    let base = old.base.clone();
    let token = tokens[&10].clone();
    let cut_off = std::thread::spawn(move || post(&agent(), &base, &token, &transfer(71)));
    // Its COMMIT is on the old primary now, waiting for the standby that left.
    let mut watcher =
        postgres::Client::connect(&primary.url("postgres"), postgres::NoTls).expect("connects");
    let deadline = Instant::now() + WAIT;
    loop {
        let waiting: i64 = watcher
            .query_one(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'",
                &[],
            )
            .expect("asks")
            .get(0);
        if waiting > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no commit waited for the synchronous standby within {WAIT:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !cut_off.is_finished(),
        "the cut-off primary answered while its commit waits for a standby"
    );
    drop(watcher);
    primary.kill().expect("SIGKILL the old primary");
    let answer = cut_off.join().expect("the client thread");
    if let Some((status, body)) = &answer {
        assert!(
            !(200..300).contains(status),
            "the cut-off primary acknowledged: {status} {body}"
        );
    }
    // The old server refuses everything from now on.
    if let Some((status, body)) = post(&admin, &old.base, &tokens[&10], &transfer(72)) {
        assert!(!(200..300).contains(&status), "{status} {body}");
    }
    let journaled = journaled_request_ids(&standby_url);
    assert!(journaled.contains(&70));
    assert!(
        !journaled.contains(&71),
        "the unacknowledged command is on the new primary"
    );
    let (status, body) = post(&admin, &new.base, &tokens[&10], &transfer(71)).expect("answered");
    assert_eq!(status, 200, "{body}");
    assert_ne!(
        body["duplicate"], true,
        "never journaled, so new here: {body}"
    );
    drop(new);
    verify(&standby_url);
}

/// `GET /healthz`: its status and `code` (`None` when healthy).
fn health(agent: &ureq::Agent, base: &str) -> (u16, Option<String>) {
    let mut response = agent
        .get(format!("{base}/healthz"))
        .call()
        .expect("the server answers");
    let status = response.status().as_u16();
    let body: Value = response.body_mut().read_json().expect("JSON");
    (status, body["code"].as_str().map(str::to_owned))
}

/// `GET /api/accounts/100` as the plant: its status and `code` (`None` when answered).
fn plant_account(agent: &ureq::Agent, base: &str, token: &str) -> (u16, Option<String>) {
    let mut response = agent
        .get(format!("{base}/api/accounts/100"))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .expect("the server answers");
    let status = response.status().as_u16();
    let body: Value = response.body_mut().read_json().expect("JSON");
    (status, body["code"].as_str().map(str::to_owned))
}

#[test]
fn the_server_rides_out_a_lost_session_and_a_stopped_database() {
    let mut primary = Cluster::start().expect("a PostgreSQL cluster");
    let url = primary.create_database("ets").expect("a database");
    let (users, tokens) = store_with_users(&url);
    let server = start(&url, users.path());
    let admin = agent();
    setup(&admin, &server, &tokens);
    let load = Load::start(&server.base, &tokens[&10], 2);
    load.wait_for(50);
    // A lost session (as `pg_terminate_backend` or a network cut ends it).
    assert!(primary.terminate_sessions("ets").expect("terminates") >= 1);
    load.wait_for(100);
    assert_eq!(health(&admin, &server.base), (200, None));

    primary.stop().expect("the database stops");
    let (status, body) = post(&admin, &server.base, &tokens[&10], &transfer(77)).expect("answered");
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("database_unavailable")),
        "{body}"
    );
    assert_eq!(
        health(&admin, &server.base),
        (503, Some("database_unavailable".to_owned()))
    );
    // The durable state cannot be read back from a stopped database: a read is
    // refused, never answered from an empty engine.
    assert_eq!(
        plant_account(&admin, &server.base, &tokens[&10]),
        (503, Some("database_unavailable".to_owned()))
    );
    primary.start_again().expect("the database is back");
    let deadline = Instant::now() + WAIT;
    while health(&admin, &server.base).0 != 200 {
        assert!(
            Instant::now() < deadline,
            "the server did not resume within {WAIT:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        plant_account(&admin, &server.base, &tokens[&10]),
        (200, None)
    );
    let resumed = load.acknowledged.load(Ordering::Relaxed);
    load.wait_for(resumed + 50);
    let (status, body) = post(&admin, &server.base, &tokens[&10], &transfer(77)).expect("answered");
    assert_eq!(status, 200, "{body}");
    assert_ne!(
        body["duplicate"], true,
        "the refused write was never journaled: {body}"
    );
    let acknowledged = load.finish();
    drop(server);

    let journaled = journaled_request_ids(&url);
    for (body, _) in &acknowledged {
        let id = body["request_id"].as_u64().expect("an id");
        assert!(
            journaled.contains(&id),
            "acknowledged request {id} is not in the journal"
        );
    }
    verify(&url);
    let server = start(&url, users.path());
    for (body, first) in &acknowledged {
        let (status, again) = post(&admin, &server.base, &tokens[&10], body).expect("answered");
        assert_eq!(status, 200, "{again}");
        assert_eq!(again["duplicate"], true, "acknowledged {first} was lost");
        assert_eq!(again["result"], first["result"]);
    }
}
