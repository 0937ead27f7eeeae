//! A planted settlement failure through the real `ets` binary: the process
//! stops on the broken invariant (a release `assert!`/`panic!`, not a
//! `debug_assert!`), acknowledges nothing of the failing command, and the
//! store recovers from its journal with every acknowledged command intact.
//!
//! The failure exists only in test builds: `ets-cli`'s dev-dependency turns
//! on `ets-engine`'s `planted-settlement-failure` feature, which makes a sale
//! of exactly `PLANTED_FAILURE_TONNES` to the account `PLANTED_FAILURE_BUYER`
//! deliver to an account the registry does not know. A release build (`cargo build --release`) never has it.
//! `cargo test --release -p ets-cli --test planted_failure` runs this test
//! against a release-profile binary.

use ets_engine::exchange::{PLANTED_FAILURE_BUYER, PLANTED_FAILURE_TONNES};
use serde_json::Value;
use std::path::Path;
use std::process::Output;

mod common;

fn ets(args: &[&str], stdin: &str) -> Output {
    common::run_ets(args, stdin)
}

fn outcomes(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("outcome lines are JSON"))
        .collect()
}

fn verify(data: &str) -> Value {
    let output = ets(&["verify", "--data", data], "");
    let report: Value = serde_json::from_slice(&output.stdout).expect("verify prints JSON");
    assert!(output.status.success(), "{report}");
    report
}

/// An administrator, an exchange (fee account 20), a seller (account 100)
/// holding the planted quantity and a buyer (account `PLANTED_FAILURE_BUYER`)
/// with the cash.
fn setup(planted: u64) -> String {
    let issued = planted + 1_000;
    let cash = 6_000 * (planted + 1_000);
    [
        r#"{"request_id":1,"requester":1,"command":"register_participant","id":1,"kind":"administrator","name":"MEE"}"#.to_owned(),
        r#"{"request_id":2,"requester":1,"command":"register_participant","id":2,"kind":"exchange","name":"SEEE"}"#.to_owned(),
        r#"{"request_id":3,"requester":1,"command":"register_participant","id":10,"kind":"institution","name":"Seller fund"}"#.to_owned(),
        r#"{"request_id":4,"requester":1,"command":"register_participant","id":11,"kind":"institution","name":"Buyer fund"}"#.to_owned(),
        r#"{"request_id":5,"requester":1,"command":"open_account","id":1,"kind":"issuance","holder":1,"representatives":[1]}"#.to_owned(),
        r#"{"request_id":6,"requester":1,"command":"open_account","id":20,"kind":"trading","holder":2,"representatives":[2]}"#.to_owned(),
        r#"{"request_id":7,"requester":1,"command":"open_account","id":100,"kind":"trading","holder":10,"representatives":[10]}"#.to_owned(),
        format!(r#"{{"request_id":8,"requester":1,"command":"open_account","id":{PLANTED_FAILURE_BUYER},"kind":"trading","holder":11,"representatives":[11]}}"#),
        format!(r#"{{"request_id":9,"requester":1,"command":"issue","unit":"CEA-2021","quantity":{issued}}}"#),
        format!(r#"{{"request_id":10,"requester":1,"command":"transfer","from":1,"to":100,"unit":"CEA-2021","quantity":{issued}}}"#),
        r#"{"request_id":11,"requester":1,"command":"list_instrument","symbol":"CEA21","unit":"CEA-2021","mode":"continuous","rules":{"preset":"china_listed","tick_size_ticks":5},"reference_price_ticks":5000,"fee_bps":10,"fee_account":20,"no_same_day_resale":false,"market_data":"china"}"#.to_owned(),
        format!(r#"{{"request_id":12,"requester":2,"command":"deposit_cash","account":{PLANTED_FAILURE_BUYER},"amount_minor_units":{cash}}}"#),
        format!(r#"{{"request_id":13,"requester":10,"command":"place_order","instrument":"CEA21","account":100,"side":"sell","kind":{{"limit":5000}},"quantity":{planted},"time_in_force":"day"}}"#),
    ]
    .join("\n")
        + "\n"
}

fn buy(request_id: u64, quantity: u64) -> String {
    format!(
        r#"{{"request_id":{request_id},"requester":11,"command":"place_order","instrument":"CEA21","account":{PLANTED_FAILURE_BUYER},"side":"buy","kind":{{"limit":5000}},"quantity":{quantity},"time_in_force":"day"}}"#
    ) + "\n"
}

#[test]
fn a_planted_settlement_failure_stops_the_process_and_the_store_recovers() {
    // Goal: a sale that cannot be delivered crashes `ets` with the invariant's
    // message instead of settling the cash leg; the failing command was never
    // journaled nor acknowledged; reopening recovers every acknowledged
    // command from the journal, the recovered state is the replayed one, and
    // the store goes on.
    let dir = tempfile::tempdir().expect("temp dir");
    let data_path = dir.path().join("store");
    let data = data_path.to_str().expect("utf-8 path");
    assert!(ets(&["init", "--data", data], "").status.success());
    let setup = setup(PLANTED_FAILURE_TONNES);
    let acknowledged = ets(&["submit", "--data", data], &setup);
    assert_eq!(acknowledged.status.code(), Some(0), "{acknowledged:?}");
    let acknowledged = outcomes(&acknowledged);
    assert_eq!(acknowledged.len(), 13);
    let before = verify(data);

    let crashed = ets(
        &["submit", "--data", data],
        &buy(14, PLANTED_FAILURE_TONNES),
    );
    let stderr = String::from_utf8_lossy(&crashed.stderr);
    assert!(
        !crashed.status.success(),
        "the planted failure did not stop ets"
    );
    assert!(
        stderr.contains("settlement invariant broken"),
        "not stopped by the invariant: {stderr}"
    );
    assert!(
        outcomes(&crashed).is_empty(),
        "the failing command was acknowledged"
    );

    // Recovery: the journal holds exactly what was acknowledged.
    let after = verify(data);
    assert_eq!(after["records"], before["records"]);
    assert_eq!(after["state_hash"], before["state_hash"]);
    let again = outcomes(&ets(&["submit", "--data", data], &setup));
    assert_eq!(again.len(), acknowledged.len());
    for (first, repeat) in acknowledged.iter().zip(&again) {
        assert_eq!(repeat["duplicate"], true, "lost: {first}");
        assert_eq!(repeat["result"], first["result"]);
    }
    // The state the store recovers to (written as a snapshot) is the state
    // a replay of the journal gives: verify compares the two.
    let snapshot = ets(&["snapshot", "--data", data], "");
    assert!(snapshot.status.success(), "{snapshot:?}");
    let replayed = verify(data);
    assert_eq!(replayed["snapshot_sequence"], before["records"]);
    assert_eq!(replayed["state_hash"], before["state_hash"]);

    // The store goes on: an ordinary trade settles.
    let trade = ets(&["submit", "--data", data], &buy(15, 100));
    assert_eq!(trade.status.code(), Some(0), "{trade:?}");
    assert_eq!(outcomes(&trade)[0]["ok"], true);
    assert_eq!(holding(&data_path, PLANTED_FAILURE_BUYER), 100);
}

/// Units of CEA-2021 held by `account`.
fn holding(data: &Path, account: u64) -> u64 {
    let output = ets(
        &[
            "show",
            "--data",
            data.to_str().expect("utf-8"),
            "account",
            &account.to_string(),
        ],
        "",
    );
    let view: Value = serde_json::from_slice(&output.stdout).expect("account JSON");
    view["holdings"][0]["total"].as_u64().unwrap_or(0)
}
