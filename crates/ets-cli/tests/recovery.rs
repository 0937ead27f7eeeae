//! Recovery never hides a loss, through the real `ets` binary: after a
//! crash (SIGKILL once commands were acknowledged, so no clean close wrote
//! anything), damage to an acknowledged record stops start-up naming the
//! missing records and changes nothing on disk, while a torn write of a
//! record that was never acknowledged is repaired quietly.

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;

fn ets(args: &[&str], stdin: &str) -> Output {
    common::run_ets(args, stdin)
}

const ADMIN: &str = r#"{"request_id":1,"requester":1,"command":"register_participant","id":1,"kind":"administrator","name":"MEE"}"#;

fn participant(id: u64) -> String {
    format!(
        r#"{{"request_id":{id},"requester":1,"command":"register_participant","id":{id},"kind":"institution","name":"firm {id}"}}"#
    )
}

/// Records `ets init` journals before any command: the retention window
/// (docs/memory.md).
const INIT_RECORDS: u64 = 1;

/// A store whose writer acknowledged `count` commands (one batch each) after
/// `ets init`'s record and was then killed with SIGKILL; returns the temp dir
/// and the store.
fn crashed_store(count: u64) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("store");
    let init = ets(&["init", "--data", data.to_str().expect("utf-8")], "");
    assert!(init.status.success(), "{init:?}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ets"))
        .args(["submit", "--data"])
        .arg(&data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ets submit starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    for index in 1..=count {
        let line = if index == 1 {
            ADMIN.to_owned()
        } else {
            participant(index)
        };
        writeln!(stdin, "{line}").expect("ets reads");
        stdin.flush().expect("flush");
        let mut outcome = String::new();
        stdout.read_line(&mut outcome).expect("an outcome");
        let outcome: Value = serde_json::from_str(&outcome).expect("JSON outcome");
        assert_eq!(outcome["ok"], true, "{outcome}");
        assert_eq!(outcome["sequence"], INIT_RECORDS + index, "{outcome}");
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    (dir, data)
}

/// Runs `ets submit` with no input: it opens (recovers) the store and exits.
fn open(data: &Path) -> Output {
    ets(&["submit", "--data", data.to_str().expect("utf-8")], "")
}

fn verify(data: &Path) -> Value {
    let output = ets(&["verify", "--data", data.to_str().expect("utf-8")], "");
    serde_json::from_slice(&output.stdout).expect("verify prints JSON")
}

/// Opening and verifying `data`, whose segment now holds `damaged`, both
/// refuse with `records_lost` naming `missing`, and the segment is unchanged.
fn refuses_naming_the_loss(data: &Path, damaged: &[u8], missing: &str) {
    let segment = common::last_segment(data);
    let opened = open(data);
    assert_eq!(opened.status.code(), Some(1), "{opened:?}");
    let stderr = String::from_utf8_lossy(&opened.stderr);
    assert!(stderr.contains(missing), "{stderr}");
    assert!(stderr.contains("restore"), "{stderr}");
    assert_eq!(
        std::fs::read(&segment).expect("segment"),
        damaged,
        "a refused open changed the journal"
    );
    let report = verify(data);
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["code"], "records_lost", "{report}");
}

#[test]
fn after_a_crash_a_cut_into_an_acknowledged_record_is_a_loss_not_a_torn_tail() {
    // Goal: the superblock written by every group commit proves record 4
    // (the third command) durable although the writer never closed cleanly, so cutting into it is
    // refused (nothing truncated, no sequence number handed out again).
    let (_dir, data) = crashed_store(3);
    let segment = common::last_segment(&data);
    let bytes = std::fs::read(&segment).expect("segment");
    let damaged = &bytes[..bytes.len() - 20];
    std::fs::write(&segment, damaged).expect("cut");
    refuses_naming_the_loss(&data, damaged, "records 4 to 4");
}

#[test]
fn after_a_crash_a_flipped_bit_in_the_final_acknowledged_record_is_a_loss() {
    // Goal: a final record that fails its CRC looks like a torn write, but
    // the superblock says it was acknowledged: refused, not truncated.
    let (_dir, data) = crashed_store(3);
    let segment = common::last_segment(&data);
    let mut bytes = std::fs::read(&segment).expect("segment");
    let last = bytes.len() - 10;
    bytes[last] ^= 0x04;
    std::fs::write(&segment, &bytes).expect("flip");
    refuses_naming_the_loss(&data, &bytes, "records 4 to 4");
}

#[test]
fn after_a_crash_a_deleted_superblock_and_a_cut_record_are_still_caught_by_a_snapshot() {
    // Goal: a snapshot ahead of the journal is proof of loss on its own.
    let (_dir, data) = crashed_store(2);
    let snapshot = ets(&["snapshot", "--data", data.to_str().expect("utf-8")], "");
    assert!(snapshot.status.success(), "{snapshot:?}");
    std::fs::remove_file(data.join("SUPERBLOCK")).expect("superblock");
    let segment = common::last_segment(&data);
    let bytes = std::fs::read(&segment).expect("segment");
    let damaged = &bytes[..bytes.len() - 3];
    std::fs::write(&segment, damaged).expect("cut");
    refuses_naming_the_loss(&data, damaged, "records 3 to 3");
}

#[test]
fn after_a_crash_a_torn_write_that_was_never_acknowledged_is_repaired_quietly() {
    // Goal: a partial record after the last acknowledged one (a batch the
    // crash interrupted before its fsync) is truncated with a warning, the
    // store goes on at the next sequence number, and verify passes.
    let (_dir, data) = crashed_store(3);
    let segment = common::last_segment(&data);
    let bytes = std::fs::read(&segment).expect("segment");
    // The torn write: the first half of a record (here a copy of the first
    // one: length 4 bytes, CRC 4 bytes, then the body of `length` bytes).
    let first = ets_journal::SEGMENT_HEADER_BYTES;
    let length = u32::from_le_bytes(bytes[first..first + 4].try_into().expect("4 bytes"));
    let record_bytes = 8 + length as usize;
    let mut torn = bytes.clone();
    torn.extend_from_slice(&bytes[first..first + record_bytes / 2]);
    std::fs::write(&segment, &torn).expect("torn write");
    let report = verify(&data);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["records"], INIT_RECORDS + 3);
    let output = ets(
        &["submit", "--data", data.to_str().expect("utf-8")],
        &(participant(4) + "\n"),
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("torn tail"), "no warning: {stderr}");
    let outcome: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(outcome["sequence"], INIT_RECORDS + 4);
    let report = verify(&data);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["records"], INIT_RECORDS + 4);
}
