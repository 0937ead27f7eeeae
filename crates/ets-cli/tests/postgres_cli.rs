//! The `ets` binary on a PostgreSQL store (`--data postgres://...`): the
//! store-opening commands work on it, and every bad database is a clear
//! error with its stable code, exit status 1, and no password printed.

use ets_pgtest::{Cluster, PASSWORD};
use serde_json::Value;
use std::process::Output;

mod common;

fn run(args: &[&str], stdin: &str) -> Output {
    common::run_ets(args, stdin)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn succeeds(args: &[&str], stdin: &str) -> String {
    common::succeeds(args, stdin)
}

/// Runs `args`, which must fail with exit status 1 and `(code CODE)` on
/// standard error, never showing the password.
fn refused(args: &[&str], code: &str) {
    let output = run(args, "");
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{args:?}: {text}");
    assert!(text.contains(&format!("(code {code})")), "{args:?}: {text}");
    assert!(text.contains("hint: "), "{args:?}: {text}");
    assert!(!text.contains(PASSWORD), "{args:?}: {text}");
}

const SESSION: &str = r#"{"request_id":1,"requester":1,"command":"register_participant","id":1,"kind":"administrator","name":"MEE"}
{"request_id":2,"requester":1,"command":"open_account","id":1,"kind":"issuance","holder":1,"representatives":[1]}
{"request_id":3,"requester":1,"command":"issue","unit":"CEA-2021","quantity":1000}
"#;

#[test]
fn the_store_opening_commands_work_on_a_database_store() {
    let cluster = Cluster::start().expect("a PostgreSQL cluster");
    let url = cluster.create_database("ets").expect("a database");
    let created = succeeds(&["init", "--data", &url, "--kind", "live"], "");
    assert!(created.contains("postgres://postgres:***@"), "{created}");
    assert!(!created.contains(PASSWORD), "{created}");
    let outcomes = succeeds(&["submit", "--data", &url], SESSION);
    assert_eq!(outcomes.lines().count(), 3, "{outcomes}");
    let account: Value =
        serde_json::from_str(&succeeds(&["show", "--data", &url, "account", "1"], ""))
            .expect("JSON");
    assert_eq!(account["holdings"][0]["total"], 1000, "{account}");
    let verified: Value =
        serde_json::from_str(&succeeds(&["verify", "--data", &url], "")).expect("JSON");
    // `ets init`'s retention window (docs/memory.md), then the session's three commands.
    assert_eq!(
        (&verified["ok"], &verified["records"]),
        (&Value::Bool(true), &4.into())
    );
    // The history lives in the same database.
    let history: Value =
        serde_json::from_str(&succeeds(&["history", "account", "--data", &url, "1"], ""))
            .expect("JSON");
    assert_eq!(history[0]["kind"], "issue", "{history}");
    assert_eq!(history[0]["quantity"], 1000, "{history}");
    let clock = succeeds(&["clock", "show", "--data", &url], "");
    assert!(clock.contains("live"), "{clock}");
    // The users live in the database too: none yet.
    let output = run(&["user", "token", "--data", &url, "--name", "admin"], "");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("unknown_user"),
        "{}",
        stderr(&output)
    );
}

/// `ets serve` on `data` with the users file in `users` must be refused with `code`.
fn serve_refused(data: &str, users: &str, code: &str) {
    refused(
        &[
            "serve",
            "--data",
            data,
            "--users",
            users,
            "--listen",
            "127.0.0.1:0",
        ],
        code,
    );
}

#[test]
fn bad_databases_are_clear_errors_through_the_binary() {
    let cluster = Cluster::start().expect("a PostgreSQL cluster");
    let url = cluster.create_database("ets").expect("a database");
    let empty = cluster.create_database("empty").expect("a database");
    let foreign = cluster.create_database("foreign").expect("a database");
    let users_dir = tempfile::tempdir().expect("temp dir");
    let users = users_dir.path().to_str().expect("utf-8");
    succeeds(&["init", "--data", &url], "");
    refused(&["init", "--data", &url], "already_exists");
    // No store there, or another program's table of the same name.
    serve_refused(&empty, users, "not_a_store");
    refused(
        &["show", "--data", &empty, "participant", "1"],
        "not_a_store",
    );
    let mut client = postgres::Client::connect(&foreign, postgres::NoTls).expect("connects");
    client
        .batch_execute(
            "CREATE TABLE ets_store (key TEXT PRIMARY KEY, value TEXT); INSERT INTO ets_store VALUES ('format', 'something-else')",
        )
        .expect("a foreign table");
    serve_refused(&foreign, users, "not_a_store");
    refused(&["init", "--data", &foreign], "already_exists");
    // Wrong credentials.
    let wrong = url.replace(PASSWORD, "not-the-password");
    serve_refused(&wrong, users, "database_credentials");
    refused(
        &["show", "--data", &wrong, "participant", "1"],
        "database_credentials",
    );
    // A newer format.
    let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connects");
    client
        .execute(
            "UPDATE ets_store SET value = '99' WHERE key = 'format_version'",
            &[],
        )
        .expect("updates");
    serve_refused(&url, users, "unsupported_version");
    refused(&["submit", "--data", &url], "unsupported_version");
    // Nothing answers.
    let port = cluster.port();
    drop(client);
    drop(cluster);
    let silent = format!("postgres://postgres:{PASSWORD}@127.0.0.1:{port}/ets?connect_timeout=5");
    serve_refused(&silent, users, "database_unreachable");
    refused(&["init", "--data", &silent], "database_unreachable");
}

#[test]
fn a_server_on_a_database_store_reads_history_pages_and_stops_cleanly() {
    use std::io::{BufRead, BufReader};
    use std::time::{Duration, Instant};
    let cluster = Cluster::start().expect("a PostgreSQL cluster");
    let url = cluster.create_database("ets").expect("a database");
    succeeds(&["init", "--data", &url], "");
    succeeds(&["submit", "--data", &url], SESSION);
    let users_dir = tempfile::tempdir().expect("temp dir");
    let users = users_dir.path().to_str().expect("utf-8");
    common::add_user("--users", users, "admin", 1, "administrator");
    let password = common::PASSWORD;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ets"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data",
            &url,
            "--users",
            users,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ets serve starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let base = loop {
        let line = lines.next().expect("a line").expect("reads");
        if let Some(base) = line.strip_prefix("listening on ") {
            break base.to_owned();
        }
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let signed_in = agent
        .post(format!("{base}/ui/login"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(format!(
            "name=admin&password={}",
            password.replace(' ', "+")
        ))
        .expect("answers");
    assert_eq!(signed_in.status().as_u16(), 303);
    let cookie = signed_in
        .headers()
        .get("set-cookie")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .expect("a session cookie")
        .to_owned();
    // The transaction page reads the history tables in the database.
    let mut page = agent
        .get(format!("{base}/ui/transactions/1"))
        .header("Cookie", &cookie)
        .call()
        .expect("answers");
    let body = page.body_mut().read_to_string().expect("a page");
    assert_eq!(page.status().as_u16(), 200, "{body}");
    assert!(body.contains("1000") || body.contains("1,000"), "{body}");
    // Ctrl-C: the server stops cleanly, closing its database connections.
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(interrupted.success());
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("polls") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("ets serve did not stop within 120 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr_text = String::new();
    let _ =
        std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr_text);
    assert!(status.success(), "{status}: {stderr_text}");
}

/// Starts `ets serve` on `args`; returns the child and its base URL.
fn start_server(args: &[&str]) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ets"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("ets serve starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let base = loop {
        let line = lines.next().expect("a line").expect("reads");
        if let Some(base) = line.strip_prefix("listening on ") {
            break base.to_owned();
        }
    };
    (child, base)
}

#[test]
fn users_live_in_the_database_of_a_postgres_store_and_are_imported_from_a_file() {
    // Goal: `ets user --data URL` keeps the users in the store's database
    // (so they fail over with the journal), `ets user import` copies a users
    // file there, and `ets serve --data URL` without --users authenticates
    // against them, noticing a revoked token.
    use std::time::{Duration, Instant};
    let cluster = Cluster::start().expect("a PostgreSQL cluster");
    let url = cluster.create_database("ets").expect("a database");
    succeeds(&["init", "--data", &url], "");
    succeeds(&["submit", "--data", &url], SESSION);
    let password = common::PASSWORD;
    let token = common::add_user("--data", &url, "admin", 1, "administrator");
    // A users file's users are copied in, hashes and all; a second copy is refused.
    let users_dir = tempfile::tempdir().expect("temp dir");
    let users = users_dir.path().to_str().expect("utf-8");
    common::add_user("--data", users, "clerk", 1, "auditor");
    let copied = succeeds(&["user", "import", "--data", &url, "--from", users], "");
    assert!(copied.contains("1 users copied"), "{copied}");
    refused_plainly(
        &["user", "import", "--data", &url, "--from", users],
        "user_exists",
    );
    // No users file anywhere near: the server reads the database's users.
    let (mut child, base) = start_server(&["serve", "--listen", "127.0.0.1:0", "--data", &url]);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let account = |agent: &ureq::Agent| {
        agent
            .get(format!("{base}/api/accounts/1"))
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .expect("answers")
            .status()
            .as_u16()
    };
    assert_eq!(account(&agent), 200);
    let signed_in = agent
        .post(format!("{base}/ui/login"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(format!(
            "name=clerk&password={}",
            password.replace(' ', "+")
        ))
        .expect("answers");
    assert_eq!(
        signed_in.status().as_u16(),
        303,
        "the imported user signs in"
    );
    // A token revoked in the database is refused once the server has seen the change.
    let token_id = token
        .strip_prefix("ets_")
        .and_then(|rest| rest.split('_').next())
        .expect("a token id");
    succeeds(
        &["user", "revoke", "--data", &url, "--token-id", token_id],
        "",
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while account(&agent) != 401 {
        assert!(
            Instant::now() < deadline,
            "the revoked token is still accepted"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Runs `args`, which must fail with exit status 1 naming `code`.
fn refused_plainly(args: &[&str], code: &str) {
    let output = run(args, "");
    assert_eq!(output.status.code(), Some(1), "{args:?}");
    assert!(
        stderr(&output).contains(code),
        "{args:?}: {}",
        stderr(&output)
    );
}
