//! The exchange through the real `ets` binary on a fresh store, driven by the
//! JSON lines of docs/exchange.md through `ets submit`: listing, cash, a sell
//! and a matching buy settled by delivery versus payment (units and cash
//! checked by hand), and refusals (an order off tick, a negative price).

use serde_json::Value;
use std::process::Output;

mod common;

fn ets(args: &[&str], stdin: &str) -> Output {
    common::run_ets(args, stdin)
}

/// Submits JSON lines and returns one outcome per line.
fn submit(data: &str, lines: &str) -> Vec<Value> {
    let output = ets(&["submit", "--dated-by", "1", "--data", data], lines);
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("outcome lines are JSON"))
        .collect()
}

/// The holding total of `unit` in an account, via `ets show account`.
fn holding(data: &str, account: u64, unit: &str) -> u64 {
    let output = ets(
        &["show", "--data", data, "account", &account.to_string()],
        "",
    );
    assert!(output.status.success(), "{output:?}");
    let view: Value = serde_json::from_slice(&output.stdout).expect("account JSON");
    view["holdings"]
        .as_array()
        .expect("holdings")
        .iter()
        .find(|h| h["unit"] == unit)
        .map_or(0, |h| h["total"].as_u64().expect("total"))
}

// Administrator 1, exchange operator 2 (fee account 20), traders 10 (account 100,
// seller) and 11 (account 110, buyer). Tick 5, band ±10% around 5,000, fee 10 bps.
const SETUP: &str = r#"{"request_id":1,"requester":1,"time":"2021-07-16T01:00:00Z","command":"register_participant","id":1,"kind":"administrator","name":"MEE"}
{"request_id":2,"requester":1,"time":"2021-07-16T01:00:00Z","command":"register_participant","id":2,"kind":"exchange","name":"SEEE"}
{"request_id":3,"requester":1,"time":"2021-07-16T01:00:00Z","command":"register_participant","id":10,"kind":"institution","name":"Seller fund"}
{"request_id":4,"requester":1,"time":"2021-07-16T01:00:00Z","command":"register_participant","id":11,"kind":"institution","name":"Buyer fund"}
{"request_id":5,"requester":1,"time":"2021-07-16T01:00:00Z","command":"open_account","id":1,"kind":"issuance","holder":1,"representatives":[1]}
{"request_id":6,"requester":1,"time":"2021-07-16T01:00:00Z","command":"open_account","id":20,"kind":"trading","holder":2,"representatives":[2]}
{"request_id":7,"requester":1,"time":"2021-07-16T01:00:00Z","command":"open_account","id":100,"kind":"trading","holder":10,"representatives":[10]}
{"request_id":8,"requester":1,"time":"2021-07-16T01:00:00Z","command":"open_account","id":110,"kind":"trading","holder":11,"representatives":[11]}
{"request_id":9,"requester":1,"time":"2021-07-16T01:00:00Z","command":"issue","unit":"CEA-2021","quantity":10000}
{"request_id":10,"requester":1,"time":"2021-07-16T01:00:00Z","command":"transfer","from":1,"to":100,"unit":"CEA-2021","quantity":1000}
{"request_id":11,"requester":1,"time":"2021-07-16T01:30:00Z","command":"list_instrument","symbol":"CEA21","unit":"CEA-2021","mode":"continuous","rules":{"preset":"china_listed","tick_size_ticks":5},"reference_price_ticks":5000,"fee_bps":10,"fee_account":20,"no_same_day_resale":false,"market_data":"china"}
{"request_id":12,"requester":2,"time":"2021-07-16T01:30:00Z","command":"deposit_cash","account":110,"amount_minor_units":1000000}
"#;

const TRADE: &str = r#"{"request_id":20,"requester":10,"time":"2021-07-16T01:31:00Z","command":"place_order","instrument":"CEA21","account":100,"side":"sell","kind":{"limit":5000},"quantity":100,"time_in_force":"day"}
{"request_id":21,"requester":11,"time":"2021-07-16T01:32:00Z","command":"place_order","instrument":"CEA21","account":110,"side":"buy","kind":{"limit":5010},"quantity":100,"time_in_force":"day"}
{"request_id":22,"requester":2,"time":"2021-07-16T01:33:00Z","command":"withdraw_cash","account":110,"amount_minor_units":1}
{"request_id":23,"requester":2,"time":"2021-07-16T01:33:00Z","command":"withdraw_cash","account":100,"amount_minor_units":1}
{"request_id":24,"requester":2,"time":"2021-07-16T01:33:00Z","command":"withdraw_cash","account":20,"amount_minor_units":1}
"#;

const REFUSED: &str = r#"{"request_id":30,"requester":10,"time":"2021-07-16T01:34:00Z","command":"place_order","instrument":"CEA21","account":100,"side":"sell","kind":{"limit":5001},"quantity":10,"time_in_force":"day"}
{"request_id":31,"requester":10,"time":"2021-07-16T01:34:00Z","command":"place_order","instrument":"CEA21","account":100,"side":"sell","kind":{"limit":-5000},"quantity":10,"time_in_force":"day"}
{"request_id":32,"requester":10,"time":"2021-07-16T01:34:00Z","command":"place_order","instrument":"CEA21","account":100,"side":"short","kind":{"limit":5000},"quantity":10,"time_in_force":"day"}
"#;

#[test]
fn a_sell_and_a_matching_buy_settle_through_the_cli() {
    // Goal: JSON exchange lines reach the engine through `ets submit`; the buy
    // trades at the resting sell's price (5,000 ticks), 100 t move from 100 to 110,
    // and cash moves by hand: value 500,000, fee 500 per side (10 bps).
    let dir = tempfile::tempdir().expect("temp dir");
    let data_path = dir.path().join("store");
    let data = data_path.to_str().expect("utf-8");
    assert!(
        ets(&["init", "--kind", "import", "--data", data], "")
            .status
            .success()
    );

    let setup = submit(data, SETUP);
    assert_eq!(setup.len(), SETUP.lines().count());
    for outcome in &setup {
        assert_eq!(outcome["ok"], true, "{outcome}");
    }
    assert_eq!(setup[10]["result"]["instrument"], "CEA21");
    assert_eq!(setup[11]["result"]["cash_available_minor_units"], 1_000_000);

    let trade = submit(data, TRADE);
    for outcome in &trade {
        assert_eq!(outcome["ok"], true, "{outcome}");
    }
    assert_eq!(trade[0]["result"]["open"], 100, "the sell rests");
    assert_eq!(trade[0]["result"]["trades"], serde_json::json!([]));
    assert_eq!(trade[1]["result"]["trades"], serde_json::json!([1]));
    assert_eq!(trade[1]["result"]["open"], 0);
    // Cash after the trade, seen through a withdrawal of one minor unit each:
    // buyer 1,000,000 - 500,000 - 500; seller 500,000 - 500; fees 2 × 500.
    assert_eq!(trade[2]["result"]["cash_available_minor_units"], 499_499);
    assert_eq!(trade[2]["result"]["cash_held_minor_units"], 0);
    assert_eq!(trade[3]["result"]["cash_available_minor_units"], 499_499);
    assert_eq!(trade[4]["result"]["cash_available_minor_units"], 999);

    assert_eq!(holding(data, 100, "CEA-2021"), 900);
    assert_eq!(holding(data, 110, "CEA-2021"), 100);

    let refused = submit(data, REFUSED);
    assert_eq!(refused.len(), 3);
    assert_eq!(refused[0]["ok"], false);
    assert_eq!(refused[0]["code"], "off_tick", "{}", refused[0]);
    assert_eq!(refused[1]["code"], "malformed_command");
    assert!(
        refused[1]["message"]
            .as_str()
            .expect("message")
            .contains("negative"),
        "{}",
        refused[1]
    );
    assert_eq!(refused[2]["code"], "malformed_command");
    // Refusals changed nothing.
    assert_eq!(holding(data, 100, "CEA-2021"), 900);
    assert!(ets(&["verify", "--data", data], "").status.success());
}
