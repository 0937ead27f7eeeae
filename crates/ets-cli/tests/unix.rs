//! The `ets` binary as a Unix tool: exit codes that say whether anything was
//! refused, one outcome line for every input line (even one that is not
//! UTF-8 or repeats a key), quiet ends on a closed pipe, each error printed
//! once with what to do next, and `ets demo` from any directory.

use serde_json::Value;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn ets() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ets"))
}

fn store() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("store");
    let output = ets()
        .arg("init")
        .arg("--data")
        .arg(&data)
        .output()
        .expect("init");
    assert!(output.status.success(), "{output:?}");
    (dir, data)
}

fn submit_bytes(data: &Path, input: &[u8]) -> Output {
    let mut child = ets()
        .arg("submit")
        .arg("--data")
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ets starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("input written");
    child.wait_with_output().expect("ets finishes")
}

fn outcomes(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("outcome lines are JSON"))
        .collect()
}

const ADMIN: &str = r#"{"request_id":1,"requester":1,"command":"register_participant","id":1,"kind":"administrator","name":"MEE"}"#;
const ISSUANCE: &str = r#"{"request_id":2,"requester":1,"command":"open_account","id":1,"kind":"issuance","holder":1,"representatives":[1]}"#;

#[test]
fn submit_exits_0_when_all_are_accepted_and_3_when_any_is_refused() {
    // Goal: a script can tell from the exit status whether anything was refused.
    let (_dir, data) = store();
    let accepted = submit_bytes(&data, format!("{ADMIN}\n{ISSUANCE}\n").as_bytes());
    assert_eq!(accepted.status.code(), Some(0), "{accepted:?}");
    let refused_line = r#"{"request_id":3,"requester":1,"command":"transfer","from":1,"to":99,"unit":"CEA-2021","quantity":5}"#;
    let refused = submit_bytes(&data, format!("{refused_line}\n").as_bytes());
    assert_eq!(outcomes(&refused)[0]["ok"], false);
    assert_eq!(refused.status.code(), Some(3), "{refused:?}");
    let malformed = submit_bytes(&data, b"{\"request_id\":4}\n");
    assert_eq!(malformed.status.code(), Some(3), "{malformed:?}");
}

#[test]
fn a_line_that_is_not_utf8_gets_its_own_outcome_and_the_rest_still_run() {
    // Goal: invalid UTF-8 stops nothing: every line before and after it is answered.
    let (_dir, data) = store();
    let mut input = format!("{ADMIN}\n").into_bytes();
    input.extend_from_slice(b"{\"request_id\":9,\"name\":\"\xff\xfe\"}\n");
    input.extend_from_slice(format!("{ISSUANCE}\n").as_bytes());
    let output = submit_bytes(&data, &input);
    let lines = outcomes(&output);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["ok"], true);
    assert_eq!(lines[1]["ok"], false);
    assert_eq!(lines[1]["line"], 2);
    assert_eq!(lines[1]["code"], "malformed_command");
    assert!(
        lines[1]["message"]
            .as_str()
            .expect("message")
            .contains("UTF-8")
    );
    assert_eq!(lines[2]["ok"], true);
    assert_eq!(output.status.code(), Some(3));
}

#[test]
fn a_repeated_json_key_is_refused_not_silently_resolved() {
    // Goal: `{"quantity":1,"quantity":1000000}` is a client bug, never "last wins".
    let (_dir, data) = store();
    let line = r#"{"request_id":1,"requester":1,"command":"register_participant","id":1,"id":2,"kind":"administrator","name":"MEE"}"#;
    let output = submit_bytes(&data, format!("{line}\n").as_bytes());
    let lines = outcomes(&output);
    assert_eq!(lines[0]["ok"], false, "{lines:?}");
    assert!(
        lines[0]["message"]
            .as_str()
            .expect("message")
            .contains("`id`")
    );
    let show = ets()
        .arg("show")
        .arg("--data")
        .arg(&data)
        .args(["participant", "2"])
        .output()
        .expect("show");
    assert!(!show.status.success(), "nothing was registered");
}

#[test]
fn show_on_a_directory_without_a_store_says_once_to_run_init() {
    // Goal: the newcomer's first mistake gets one error and the next step.
    let dir = tempfile::tempdir().expect("temp dir");
    let output = ets()
        .arg("show")
        .arg("--data")
        .arg(dir.path().join("nowhere"))
        .args(["account", "1"])
        .output()
        .expect("show");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches("error:").count(), 1, "{stderr}");
    assert!(stderr.contains("ets init --data"), "{stderr}");
}

#[test]
fn a_closed_output_pipe_ends_submit_quietly() {
    // Goal: `ets submit < big.jsonl | head -1` ends without a panic message or
    // exit 101. 5,000 outcome lines are far more than a pipe buffers.
    let (_dir, data) = store();
    let mut child = ets()
        .arg("submit")
        .arg("--data")
        .arg(&data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ets starts");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0_u8; 1];
    let mut stdin = child.stdin.take().expect("stdin");
    let input: String = (0..5_000)
        .map(|i| format!("{{\"request_id\":{i},\"requester\":1}}\n"))
        .collect();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    stdout.read_exact(&mut first).expect("a first byte");
    drop(stdout);
    writer.join().expect("writer");
    let output = child.wait_with_output().expect("ets finishes");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn demo_runs_from_an_empty_directory_with_the_built_in_scenario() {
    // Goal: `ets demo` needs no repository checkout (the default scenario and
    // its rulebook are in the binary).
    let dir = tempfile::tempdir().expect("temp dir");
    let output = ets()
        .current_dir(dir.path())
        .args(["demo", "--entities", "20", "--out", "run"])
        .output()
        .expect("demo");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(dir.path().join("run/summary.json").exists());
    assert!(dir.path().join("run/report.md").exists());
}

#[test]
fn an_issue_of_2_pow_63_units_is_refused_with_a_clear_code() {
    // Goal: absurd quantities are refused at the door, nothing changes.
    let (_dir, data) = store();
    let issue = r#"{"request_id":3,"requester":1,"command":"issue","unit":"CEA-2021","quantity":9223372036854775808}"#;
    let output = submit_bytes(&data, format!("{ADMIN}\n{ISSUANCE}\n{issue}\n").as_bytes());
    let lines = outcomes(&output);
    assert_eq!(lines[2]["ok"], false, "{lines:?}");
    assert_eq!(lines[2]["code"], "quantity_too_large");
    assert_eq!(output.status.code(), Some(3));
}

#[test]
fn losing_acknowledged_records_stops_start_up_naming_what_is_missing() {
    // Goal: a truncated last segment after a clean exit (acknowledged records
    // gone) is a loss: submit refuses to start (no sequence number is handed
    // out again), verify says ok: false, and the message names the records.
    let (_dir, data) = store();
    let output = submit_bytes(&data, format!("{ADMIN}\n{ISSUANCE}\n").as_bytes());
    assert_eq!(output.status.code(), Some(0));
    let mut segments: Vec<PathBuf> = std::fs::read_dir(&data)
        .expect("store")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "seg"))
        .collect();
    segments.sort();
    let segment = segments.pop().expect("a segment");
    let bytes = std::fs::read(&segment).expect("read");
    // Cut the last record (the third: `ets init` wrote set_retention first) off at
    // some byte inside it.
    std::fs::write(&segment, &bytes[..bytes.len() - 20]).expect("write");
    let again = submit_bytes(&data, b"");
    assert_eq!(again.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("records 3 to 3"), "{stderr}");
    assert!(stderr.contains("restore"), "{stderr}");
    let verify = ets()
        .arg("verify")
        .arg("--data")
        .arg(&data)
        .output()
        .expect("verify");
    let report: Value = serde_json::from_slice(&verify.stdout).expect("JSON");
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["code"], "records_lost");
}

#[test]
fn a_locked_store_is_one_error_with_a_next_step() {
    // Goal: the lock message is printed once, with what to do, for any command.
    let (_dir, data) = store();
    let mut server = ets()
        .arg("serve")
        .arg("--data")
        .arg(&data)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let mut first = [0_u8; 9];
    server
        .stdout
        .as_mut()
        .expect("stdout")
        .read_exact(&mut first)
        .expect("serve says it listens");
    for args in [vec!["snapshot"], vec!["serve", "--listen", "127.0.0.1:0"]] {
        let output = ets()
            .args(&args)
            .arg("--data")
            .arg(&data)
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.matches("is locked").count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains("hint: another `ets` process"), "{stderr}");
    }
    server.kill().expect("kill");
    server.wait().expect("wait");
}

#[test]
fn data_is_accepted_the_same_way_before_or_after_what_show_shows() {
    // Goal: `--data` is one shared argument; `ets show` takes it on either side.
    let (_dir, data) = store();
    let output = submit_bytes(&data, format!("{ADMIN}\n").as_bytes());
    assert_eq!(output.status.code(), Some(0));
    let data = data.to_str().expect("utf-8 path");
    let before = ets()
        .args(["show", "--data", data, "participant", "1"])
        .output()
        .expect("show");
    let after = ets()
        .args(["show", "participant", "1", "--data", data])
        .output()
        .expect("show");
    assert!(before.status.success(), "{before:?}");
    assert_eq!(before.stdout, after.stdout);
    let missing = ets()
        .args(["show", "participant", "1"])
        .output()
        .expect("show");
    assert_eq!(missing.status.code(), Some(2), "a usage error");
}
