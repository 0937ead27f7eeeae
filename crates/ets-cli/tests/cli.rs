//! Integration tests that run the real `ets` binary: submit behaviour,
//! idempotency across restarts, crash safety under SIGKILL, torn tails, bit
//! flips, and the committed fixture journal.

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;

fn ets() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ets"))
}

fn run(args: &[&str], stdin: &str) -> Output {
    common::run_ets(args, stdin)
}

fn lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("every output line is JSON"))
        .collect()
}

fn store() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("store");
    let output = ets()
        .args(["init", "--data"])
        .arg(&data)
        .output()
        .expect("init");
    assert!(output.status.success(), "{output:?}");
    (dir, data)
}

fn submit(data: &Path, input: &str) -> Vec<Value> {
    let output = run(
        &["submit", "--data", data.to_str().expect("utf-8 path")],
        input,
    );
    let outcomes = lines(&output);
    // Exit 0 when every line was accepted, 3 when any was refused or malformed.
    let refused = outcomes.iter().any(|outcome| outcome["ok"] != true);
    assert_eq!(
        output.status.code(),
        Some(if refused { 3 } else { 0 }),
        "submit: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    outcomes
}

fn verify(data: &Path) -> (bool, Value) {
    let output = ets()
        .args(["verify", "--data"])
        .arg(data)
        .output()
        .expect("verify");
    let report: Value = serde_json::from_slice(&output.stdout).expect("verify prints JSON");
    (output.status.success(), report)
}

/// An administrator, the issuance account, `traders` trading accounts (ids 100..)
/// each holding 1,000,000 CEA-2021.
fn setup_lines(traders: u64) -> String {
    let mut lines = vec![
        r#"{"request_id":1,"requester":1,"command":"register_participant","id":1,"kind":"administrator","name":"MEE"}"#.to_owned(),
        r#"{"request_id":2,"requester":1,"command":"open_account","id":1,"kind":"issuance","holder":1,"representatives":[1]}"#.to_owned(),
        format!(r#"{{"request_id":3,"requester":1,"command":"issue","unit":"CEA-2021","quantity":{}}}"#, traders * 1_000_000),
    ];
    for index in 0..traders {
        let id = 100 + index;
        let request = 10 + index * 3;
        lines.push(format!(r#"{{"request_id":{request},"requester":1,"command":"register_participant","id":{id},"kind":"institution","name":"trader {id}"}}"#));
        lines.push(format!(r#"{{"request_id":{},"requester":1,"command":"open_account","id":{id},"kind":"trading","holder":{id},"representatives":[{id}]}}"#, request + 1));
        lines.push(format!(r#"{{"request_id":{},"requester":1,"command":"transfer","from":1,"to":{id},"unit":"CEA-2021","quantity":1000000}}"#, request + 2));
    }
    lines.join("\n") + "\n"
}

/// Transfer `index` between the traders of [`setup_lines`], as sent by the sender.
fn transfer_line(index: u64, traders: u64) -> String {
    let from = 100 + index % traders;
    let to = 100 + (index * 7 + 1) % traders;
    let to = if to == from {
        100 + (from - 99) % traders
    } else {
        to
    };
    format!(
        r#"{{"request_id":{},"requester":{from},"command":"transfer","from":{from},"to":{to},"unit":"CEA-2021","quantity":{}}}"#,
        1_000_000 + index,
        1 + index % 97
    )
}

#[test]
fn submit_answers_every_line_in_order_and_keeps_going_after_bad_ones() {
    // Goal: one outcome per line, in order; malformed and refused lines say why
    // and do not stop the stream; accepted lines carry their journal sequence.
    let (_dir, data) = store();
    let mut input = setup_lines(2);
    input.push_str("this is not json\n");
    input.push_str(r#"{"request_id":50,"requester":100,"command":"transfer","from":100,"to":101,"unit":"CEA-2021","quantity":2000000}"#);
    input.push('\n');
    input.push_str(r#"{"request_id":51,"requester":100,"command":"transfer","from":100,"to":101,"unit":"CEA-2021","quantity":0}"#);
    input.push('\n');
    input.push_str(r#"{"request_id":52,"requester":101,"command":"transfer","from":100,"to":101,"unit":"CEA-2021","quantity":5}"#);
    input.push('\n');
    input.push_str(r#"{"request_id":53,"requester":100,"command":"transfer","from":100,"to":101,"unit":"CEA-2021","quantity":5}"#);
    input.push('\n');
    let outcomes = submit(&data, &input);
    assert_eq!(outcomes.len(), 9 + 5);
    assert!(
        outcomes[..9].iter().all(|o| o["ok"] == true),
        "{outcomes:?}"
    );
    let codes: Vec<&str> = outcomes[9..]
        .iter()
        .map(|o| o["code"].as_str().unwrap_or("ok"))
        .collect();
    assert_eq!(
        codes,
        [
            "malformed_command",
            "insufficient_units",
            "zero_quantity",
            "not_representative",
            "ok"
        ]
    );
    assert_eq!(outcomes[9]["line"], 10);
    assert_eq!(outcomes[13]["result"]["status"], "completed");
    assert!(outcomes[13]["sequence"].as_u64().is_some());
    let account = ets()
        .args(["show", "--data"])
        .arg(&data)
        .args(["account", "101"])
        .output()
        .expect("show");
    let account: Value = serde_json::from_slice(&account.stdout).expect("json");
    assert_eq!(account["holdings"][0]["total"], 1_000_005);
}

#[test]
fn repeated_request_ids_return_the_first_outcome_even_after_restart() {
    // Goal: idempotency survives a restart, for accepted and refused commands alike.
    let (_dir, data) = store();
    submit(&data, &setup_lines(2));
    let accepted = transfer_line(1, 2);
    let refused = r#"{"request_id":77,"requester":100,"command":"transfer","from":100,"to":101,"unit":"CEA-2021","quantity":999999999}"#;
    let first = submit(&data, &format!("{accepted}\n{refused}\n"));
    let again = submit(&data, &format!("{accepted}\n{refused}\n"));
    assert_eq!(again[0]["duplicate"], true);
    assert_eq!(again[0]["result"], first[0]["result"]);
    assert_eq!(again[1]["duplicate"], true);
    assert_eq!(again[1]["code"], "insufficient_units");
    assert!(
        again[0].get("sequence").is_none(),
        "a duplicate is not journaled again"
    );
}

#[test]
fn a_command_carrying_its_own_time_is_refused_by_a_live_store() {
    // Goal: a live store's clock is the server's; a client's time (here 9999) is
    // refused with a stable code, not journaled, and the clock does not move.
    let (_dir, data) = store();
    let outcomes = submit(
        &data,
        concat!(
            r#"{"request_id":1,"requester":1,"command":"register_participant","id":1,"kind":"administrator","name":"MEE"}"#,
            "\n",
            r#"{"request_id":2,"requester":1,"time":"9999-12-31T23:59:59Z","command":"register_participant","id":2,"kind":"verifier","name":"V"}"#,
            "\n",
            r#"{"request_id":3,"requester":1,"command":"register_participant","id":2,"kind":"verifier","name":"V"}"#,
            "\n",
        ),
    );
    assert_eq!(outcomes[0]["ok"], true);
    assert_eq!(outcomes[1]["code"], "client_time_refused");
    assert_eq!(outcomes[2]["ok"], true, "the clock was not moved to 9999");
    assert!(
        outcomes[2]["time"]
            .as_str()
            .is_some_and(|time| !time.starts_with("9999"))
    );
    let (ok, report) = verify(&data);
    assert!(ok);
    // `ets init`'s set_retention (docs/memory.md) and the two accepted commands.
    assert_eq!(report["records"], 3);
}

#[test]
fn an_import_dated_before_the_clock_is_refused_and_the_clock_stays() {
    // Goal: on an import store the administrator dates the lines; times never go backwards.
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("store");
    let init = run(
        &[
            "init",
            "--kind",
            "import",
            "--data",
            data.to_str().expect("utf-8"),
        ],
        "",
    );
    assert!(init.status.success(), "{init:?}");
    let output = run(
        &[
            "submit",
            "--dated-by",
            "1",
            "--data",
            data.to_str().expect("utf-8"),
        ],
        concat!(
            r#"{"request_id":1,"requester":1,"time":"2021-07-16T10:00:00Z","command":"register_participant","id":1,"kind":"administrator","name":"MEE"}"#,
            "\n",
            r#"{"request_id":2,"requester":1,"time":"2021-07-16T09:00:00Z","command":"register_participant","id":2,"kind":"verifier","name":"V"}"#,
            "\n",
        ),
    );
    // One line is refused, so submit exits 3 (README, exit codes).
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("NOT LIVE"));
    let outcomes = lines(&output);
    assert_eq!(outcomes[0]["ok"], true);
    assert_eq!(outcomes[0]["time"], "2021-07-16T10:00:00Z");
    assert_eq!(outcomes[1]["code"], "clock_went_backwards");
    let clock = run(
        &["clock", "show", "--data", data.to_str().expect("utf-8")],
        "",
    );
    let shown = String::from_utf8_lossy(&clock.stdout);
    assert!(
        shown.contains("kind  import") && shown.contains("2021-07-16T10:00:00Z"),
        "{shown}"
    );
    let (ok, _) = verify(&data);
    assert!(ok);
}

/// Feeds transfers to a running `ets submit` and kills it with SIGKILL after
/// `kill_after`; returns the outcome lines it printed (acknowledged) before dying.
fn submit_and_kill(
    data: &Path,
    first: u64,
    count: u64,
    traders: u64,
    kill_after: Duration,
) -> Vec<(String, Value)> {
    let mut child = ets()
        .args(["submit", "--batch", "64", "--data"])
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ets submit starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let sent: Vec<String> = (first..first + count)
        .map(|i| transfer_line(i, traders))
        .collect();
    let to_send = sent.clone();
    let writer = std::thread::spawn(move || {
        for chunk in to_send.chunks(50) {
            let text = chunk.join("\n") + "\n";
            if stdin.write_all(text.as_bytes()).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut acknowledged = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Ok(value) = serde_json::from_str::<Value>(&line) {
                acknowledged.push(value);
            }
        }
        acknowledged
    });
    let started = Instant::now();
    while started.elapsed() < kill_after {
        if child.try_wait().expect("poll").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().ok(); // SIGKILL on Unix
    child.wait().ok();
    writer.join().ok();
    let acknowledged = reader.join().expect("reader");
    acknowledged
        .into_iter()
        .map(|outcome| {
            let index = outcome["request_id"].as_u64().expect("request id") - 1_000_000 - first;
            (sent[index as usize].clone(), outcome)
        })
        .collect()
}

#[test]
fn every_acknowledged_command_survives_sigkill_at_random_points() {
    // Goal: kill `ets submit` with SIGKILL while it writes, at varying points; after
    // each crash `ets verify` passes, and resubmitting every acknowledged command
    // returns it as a duplicate with the same outcome, proving it was durable.
    let traders = 20;
    let (_dir, data) = store();
    submit(&data, &setup_lines(traders));
    let kill_points_ms = [3, 17, 41, 90, 160, 250];
    let mut next = 0;
    let mut killed_mid_stream = 0;
    for (round, kill_ms) in kill_points_ms.into_iter().enumerate() {
        let acknowledged =
            submit_and_kill(&data, next, 40_000, traders, Duration::from_millis(kill_ms));
        next += 40_000;
        eprintln!(
            "round {round}: killed after {kill_ms} ms, {} of 40000 acknowledged",
            acknowledged.len()
        );
        if !acknowledged.is_empty() && acknowledged.len() < 40_000 {
            killed_mid_stream += 1;
        }
        let (ok, report) = verify(&data);
        assert!(ok, "round {round}: verify failed after SIGKILL: {report}");
        if acknowledged.is_empty() {
            continue;
        }
        let resubmit: String = acknowledged
            .iter()
            .map(|(line, _)| format!("{line}\n"))
            .collect();
        let again = submit(&data, &resubmit);
        assert_eq!(again.len(), acknowledged.len());
        for ((_, first), repeat) in acknowledged.iter().zip(&again) {
            assert_eq!(
                repeat["duplicate"], true,
                "round {round}: acknowledged {first} was lost"
            );
            assert_eq!(repeat["result"], first["result"]);
            assert_eq!(repeat["code"], first["code"]);
        }
    }
    assert!(
        killed_mid_stream > 0,
        "no kill landed between acknowledged batches and the end of the stream"
    );
}

#[test]
fn a_torn_tail_is_truncated_with_a_warning_and_the_store_goes_on() {
    // Goal: a crash mid-write leaves a partial last record; verify reports it
    // without changing anything, the next open truncates it with a warning,
    // and the chain continues.
    let (_dir, data) = store();
    submit(&data, &setup_lines(2));
    // A crash, unlike the clean exit of `ets submit`, leaves no superblock
    // proving the last record durable.
    std::fs::remove_file(data.join("SUPERBLOCK")).expect("a clean exit wrote it");
    let segment = common::last_segment(&data);
    let length = std::fs::metadata(&segment).expect("metadata").len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .expect("open");
    file.set_len(length - 5).expect("truncate");
    drop(file);
    let (ok, report) = verify(&data);
    assert!(ok, "{report}");
    // `ets init`'s set_retention is record 1.
    assert_eq!(report["records"], 9, "the torn tenth record is not counted");
    assert!(!report["warnings"].as_array().expect("warnings").is_empty());
    let output = run(
        &["submit", "--data", data.to_str().expect("utf-8")],
        &(transfer_line(1, 2) + "\n"),
    );
    let accepted = lines(&output)[0]["ok"] == true;
    assert_eq!(output.status.code(), Some(if accepted { 0 } else { 3 }));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("torn") || stderr.contains("truncat"),
        "no warning on stderr: {stderr}"
    );
    let outcome = &lines(&output)[0];
    assert_eq!(outcome["sequence"], 10);
    let (ok, report) = verify(&data);
    assert!(ok, "{report}");
    assert_eq!(report["records"], 10);
}

#[test]
fn a_flipped_bit_inside_the_journal_stops_start_up_naming_file_and_offset() {
    // Goal: corruption other than a torn tail is never repaired silently.
    let (_dir, data) = store();
    submit(&data, &setup_lines(3));
    let segment = common::last_segment(&data);
    let mut bytes = std::fs::read(&segment).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(&segment, &bytes).expect("write");
    let (ok, report) = verify(&data);
    assert!(!ok, "verify passed a corrupt journal: {report}");
    let message = report["message"].as_str().expect("message");
    let file_name = segment
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(message.contains(&file_name), "{message}");
    assert!(message.contains("offset"), "{message}");
    let output = run(&["submit", "--data", data.to_str().expect("utf-8")], "");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains(&file_name));
}

#[test]
fn the_committed_fixture_journal_still_reads() {
    // Goal: a journal written in format version 1 by the demo session (committed under
    // tests/fixtures) verifies, replays to the same balances, and accepts new commands.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/journal-v1");
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("store");
    std::fs::create_dir(&data).expect("mkdir");
    for entry in std::fs::read_dir(&fixture).expect("fixture exists") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, data.join(path.file_name().expect("name"))).expect("copy");
    }
    let (ok, report) = verify(&data);
    assert!(ok, "{report}");
    assert_eq!(report["records"], 24);
    // The state hash the binary of that time printed for this journal: a
    // change of the state's encoding must not change what old journals hash to.
    assert_eq!(
        report["state_hash"],
        "11601f45f5b622e30dac073da7e4834dfae50bb5d5b0bd1b77556fe276f93492"
    );
    let show = |id: &str| -> Value {
        let output = ets()
            .args(["show", "--data"])
            .arg(&data)
            .args(["account", id])
            .output()
            .expect("show");
        serde_json::from_slice(&output.stdout).expect("json")
    };
    assert_eq!(
        show("100")["holdings"][0]["total"],
        4_263_312 - 200_000 - 4_000_000
    );
    assert_eq!(show("2")["holdings"][0]["total"], 4_000_000);
    assert_eq!(show("300")["holdings"][0]["total"], 200_000 - 1_000);
    let outcomes = submit(
        &data,
        r#"{"request_id":99,"requester":30,"command":"retire","from":300,"unit":"CEA-2021","quantity":1,"beneficiary":"fixture test"}"#,
    );
    assert_eq!(outcomes[0]["ok"], true, "{outcomes:?}");
}

#[test]
fn tour_runs_and_balances_add_up() {
    // Goal: the scripted registry session works and reports conservation and a verified journal.
    let output = ets().arg("tour").output().expect("tour");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("self_approval"), "{text}");
    assert!(text.contains("insufficient_units"), "{text}");
    assert!(
        text.contains("issued 10000000, held across all accounts 10000000"),
        "{text}"
    );
    assert!(text.contains("journal verified: 24 records"), "{text}");
}

#[test]
fn show_serial_traces_a_unit_and_unknown_things_are_clear_errors() {
    // Goal: a serial's history is visible; asking for something absent says so.
    let (_dir, data) = store();
    submit(&data, &setup_lines(2));
    submit(&data, &(transfer_line(0, 2) + "\n"));
    let output = ets()
        .args(["show", "--data"])
        .arg(&data)
        .args(["serial", "1"])
        .output()
        .expect("show");
    let serial: Value = serde_json::from_slice(&output.stdout).expect("json");
    let kinds: Vec<&str> = serial["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|t| t["kind"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(kinds, ["issue", "transfer", "transfer"]);
    assert_eq!(serial["held_by"], 101);
    let missing = ets()
        .args(["show", "--data"])
        .arg(&data)
        .args(["account", "999"])
        .output()
        .expect("show");
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("account 999 does not exist"));
}

#[test]
fn demo_runs_a_small_compliance_year_and_writes_its_report() {
    // Goal: the README's main job (here with 40 entities to keep the test short) runs a
    // year through the journaled store, writes the report files, and the store verifies.
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scenarios/cn-power-2021.toml"
    );
    let output = ets()
        .args([
            "demo",
            "--entities",
            "40",
            "--seed",
            "7",
            "--scenario",
            scenario,
            "--out",
        ])
        .arg(&out)
        .output()
        .expect("demo");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    // The 2021 run beside the trading that settled 2021: CEA21 in 2023, 41.7 Mt.
    assert!(
        text.contains("41.70"),
        "the published figures are shown beside ours: {text}"
    );
    for file in ["report.md", "daily_volume.svg", "summary.json"] {
        assert!(out.join(file).exists(), "{file} written");
    }
    let (ok, report) = verify(&out.join("store"));
    assert!(ok, "{report}");
}
