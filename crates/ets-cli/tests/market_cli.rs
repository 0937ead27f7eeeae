//! `ets market` through the real binary: place, cancel, end-of-day,
//! auction-close, book and stats (table, CSV, JSON), with the exit codes of
//! accepted commands (0), refused commands and errors (1) and bad usage (2).

use serde_json::Value;
use std::process::Output;

mod common;

fn ets(args: &[&str]) -> Output {
    common::run_ets(args, "")
}

fn code_of(output: &Output) -> i32 {
    output.status.code().expect("ets exits with a code")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The single outcome line a write subcommand prints.
fn outcome(output: &Output) -> Value {
    serde_json::from_str(stdout(output).trim()).expect("one JSON outcome line")
}

// Administrator 1, exchange operator 2 (fee account 20), traders 10 (account
// 100, seller) and 11 (account 110, buyer); an auction account 3 with 1,000 t.
const SETUP: &str = r#"{"request_id":1,"requester":1,"time":"2021-07-16T01:00:00Z","command":"register_participant","id":1,"kind":"administrator","name":"MEE"}
{"request_id":2,"requester":1,"time":"2021-07-16T01:00:00Z","command":"register_participant","id":2,"kind":"exchange","name":"SEEE"}
{"request_id":3,"requester":1,"time":"2021-07-16T01:00:00Z","command":"register_participant","id":10,"kind":"institution","name":"Seller fund"}
{"request_id":4,"requester":1,"time":"2021-07-16T01:00:00Z","command":"register_participant","id":11,"kind":"institution","name":"Buyer fund"}
{"request_id":5,"requester":1,"time":"2021-07-16T01:00:00Z","command":"open_account","id":1,"kind":"issuance","holder":1,"representatives":[1]}
{"request_id":6,"requester":1,"time":"2021-07-16T01:00:00Z","command":"open_account","id":3,"kind":"auction","holder":1,"representatives":[1]}
{"request_id":7,"requester":1,"time":"2021-07-16T01:00:00Z","command":"open_account","id":20,"kind":"trading","holder":2,"representatives":[2]}
{"request_id":8,"requester":1,"time":"2021-07-16T01:00:00Z","command":"open_account","id":100,"kind":"trading","holder":10,"representatives":[10]}
{"request_id":9,"requester":1,"time":"2021-07-16T01:00:00Z","command":"open_account","id":110,"kind":"trading","holder":11,"representatives":[11]}
{"request_id":10,"requester":1,"time":"2021-07-16T01:00:00Z","command":"issue","unit":"CEA-2021","quantity":10000}
{"request_id":11,"requester":1,"time":"2021-07-16T01:00:00Z","command":"transfer","from":1,"to":100,"unit":"CEA-2021","quantity":1000}
{"request_id":12,"requester":1,"time":"2021-07-16T01:00:00Z","command":"transfer","from":1,"to":3,"unit":"CEA-2021","quantity":1000}
{"request_id":13,"requester":1,"time":"2021-07-16T01:30:00Z","command":"list_instrument","symbol":"CEA21","unit":"CEA-2021","mode":"continuous","rules":{"preset":"china_listed","tick_size_ticks":5},"reference_price_ticks":5000,"fee_bps":0,"fee_account":20,"no_same_day_resale":false,"market_data":"china"}
{"request_id":14,"requester":2,"time":"2021-07-16T01:30:00Z","command":"deposit_cash","account":110,"amount_minor_units":10000000}
{"request_id":15,"requester":1,"time":"2021-07-16T01:30:00Z","command":"open_auction","unit":"CEA-2021","rules":{"preset":"eu","volume_offered":500},"seed":9}
{"request_id":16,"requester":11,"time":"2021-07-16T01:30:00Z","command":"submit_bid","auction":1,"account":110,"price_ticks":4000,"quantity":500}
"#;

fn store() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("store").to_str().expect("utf-8").to_owned();
    assert_eq!(
        code_of(&ets(&["init", "--kind", "import", "--data", &data])),
        0
    );
    let output = common::run_ets(&["submit", "--dated-by", "1", "--data", &data], SETUP);
    for line in stdout(&output).lines() {
        let outcome: Value = serde_json::from_str(line).expect("JSON");
        assert_eq!(outcome["ok"], true, "{outcome}");
    }
    advance_clock(&data, "2021-07-16T02:00:00Z");
    (dir, data)
}

/// Moves the import store's clock (the administrator, participant 1).
fn advance_clock(data: &str, to: &str) {
    let output = ets(&[
        "clock",
        "advance",
        "--data",
        data,
        "--requester",
        "1",
        "--to",
        to,
    ]);
    assert_eq!(code_of(&output), 0, "{output:?}");
}

/// `ets market place` for the CEA21 book (at the store's clock).
fn place(
    data: &str,
    requester: &str,
    account: &str,
    side: &str,
    price: &str,
    quantity: &str,
) -> Output {
    ets(&[
        "market",
        "place",
        "--data",
        data,
        "--requester",
        requester,
        "--instrument",
        "CEA21",
        "--account",
        account,
        "--side",
        side,
        "--price",
        price,
        "--quantity",
        quantity,
    ])
}

#[test]
fn orders_trade_cancel_and_show_in_the_book_and_stats() {
    // Goal: a resting sell and a crossing buy trade 60 t at 50.00 through
    // `ets market place`; the book shows the 40 t left and the trade in table
    // and JSON; a cancel empties the book; stats agree in table, CSV and JSON;
    // refusals exit 1 with their code and bad usage exits 2.
    let (_dir, data) = store();
    let sell = place(&data, "10", "100", "sell", "5000", "100");
    assert_eq!(code_of(&sell), 0, "{sell:?}");
    let sold = outcome(&sell);
    assert_eq!(sold["ok"], true);
    assert_eq!(sold["result"]["order"], 1);
    assert_eq!(sold["result"]["open"], 100);
    let buy = place(&data, "11", "110", "buy", "5010", "60");
    assert_eq!(code_of(&buy), 0, "{buy:?}");
    assert_eq!(outcome(&buy)["result"]["trades"], serde_json::json!([1]));

    // Refusals: off tick, unknown instrument, someone else's account.
    let off_tick = place(&data, "10", "100", "sell", "5001", "10");
    assert_eq!(code_of(&off_tick), 1);
    assert_eq!(outcome(&off_tick)["code"], "off_tick");
    let stranger = place(&data, "11", "100", "sell", "5000", "10");
    assert_eq!(code_of(&stranger), 1);
    assert_eq!(outcome(&stranger)["code"], "not_representative");
    let unknown = ets(&[
        "market",
        "place",
        "--data",
        &data,
        "--requester",
        "10",
        "--instrument",
        "CEA99",
        "--account",
        "100",
        "--side",
        "sell",
        "--price",
        "5000",
        "--quantity",
        "1",
    ]);
    assert_eq!(code_of(&unknown), 1);
    assert_eq!(outcome(&unknown)["code"], "unknown_instrument");
    let bad_side = place(&data, "10", "100", "short", "5000", "10");
    assert_eq!(code_of(&bad_side), 2, "{bad_side:?}");
    assert!(String::from_utf8_lossy(&bad_side.stderr).contains("short"));

    let book = ets(&[
        "market",
        "book",
        "--data",
        &data,
        "--instrument",
        "CEA21",
        "--format",
        "json",
    ]);
    assert_eq!(code_of(&book), 0);
    let view: Value = serde_json::from_str(&stdout(&book)).expect("book JSON");
    assert_eq!(view["bids"], serde_json::json!([]));
    assert_eq!(
        view["asks"],
        serde_json::json!([{"price_ticks": 5000, "quantity": 40, "orders": 1}])
    );
    assert_eq!(view["trades"][0]["price_ticks"], 5000);
    assert_eq!(view["trades"][0]["quantity"], 60);
    assert_eq!(view["trades"][0]["mode"], "continuous");
    let table = stdout(&ets(&[
        "market",
        "book",
        "--data",
        &data,
        "--instrument",
        "CEA21",
    ]));
    assert!(table.starts_with("CEA21\n"), "{table}");
    assert!(table.contains("bid qty"), "{table}");
    let ask_row = table.lines().nth(2).expect("one level");
    assert_eq!(
        ask_row.split_whitespace().collect::<Vec<_>>(),
        ["|", "5000", "40", "1"],
        "{table}"
    );
    let missing = ets(&["market", "book", "--data", &data, "--instrument", "CEA99"]);
    assert_eq!(code_of(&missing), 1);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("not listed"));

    let cancel = |requester: &str| {
        ets(&[
            "market",
            "cancel",
            "--data",
            &data,
            "--requester",
            requester,
            "--instrument",
            "CEA21",
            "--account",
            "100",
            "--order",
            "1",
        ])
    };
    let cancelled = cancel("10");
    assert_eq!(code_of(&cancelled), 0, "{cancelled:?}");
    assert_eq!(outcome(&cancelled)["result"]["order_closed"], 1);
    let again = cancel("10");
    assert_eq!(code_of(&again), 1);
    assert_eq!(outcome(&again)["code"], "unknown_order");
    let book = ets(&[
        "market",
        "book",
        "--data",
        &data,
        "--instrument",
        "CEA21",
        "--format",
        "json",
    ]);
    let view: Value = serde_json::from_str(&stdout(&book)).expect("book JSON");
    assert_eq!(view["asks"], serde_json::json!([]));

    let json = ets(&["market", "stats", "--data", &data, "--format", "json"]);
    assert_eq!(code_of(&json), 0);
    let rows: Value = serde_json::from_str(&stdout(&json)).expect("stats JSON");
    assert_eq!(rows.as_array().map(Vec::len), Some(1));
    let row = &rows[0];
    assert_eq!(row["instrument"], "CEA21");
    assert_eq!(
        (&row["open_ticks"], &row["vwap_ticks"], &row["volume"]),
        (
            &serde_json::json!(5000),
            &serde_json::json!(5000),
            &serde_json::json!(60)
        )
    );
    assert_eq!(row["turnover_minor_units"], 300_000);
    assert_eq!(row["trades"], 1);
    let csv = stdout(&ets(&[
        "market", "stats", "--data", &data, "--format", "csv",
    ]));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines,
        [
            "instrument,previous_close_ticks,open_ticks,high_ticks,low_ticks,last_ticks,close_ticks,vwap_ticks,volume,turnover_minor_units,trades",
            "CEA21,5000,5000,5000,5000,5000,5000,5000,60,300000,1",
        ]
    );
    let table = stdout(&ets(&[
        "market",
        "stats",
        "--data",
        &data,
        "--instrument",
        "CEA21",
    ]));
    let row: Vec<&str> = table
        .lines()
        .nth(1)
        .expect("a row")
        .split_whitespace()
        .collect();
    assert_eq!(
        row,
        [
            "CEA21", "5000", "5000", "5000", "5000", "5000", "5000", "5000", "60", "300000", "1"
        ]
    );
    let missing = ets(&["market", "stats", "--data", &data, "--instrument", "CEA99"]);
    assert_eq!(code_of(&missing), 1);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("not listed"));
    assert_eq!(code_of(&ets(&["verify", "--data", &data])), 0);
}

#[test]
fn end_of_day_and_auction_close_need_their_operators() {
    // Goal: end-of-day by a trader is refused (exit 1, not_exchange_operator);
    // by the exchange operator it closes the day at the VWAP; auction-close by
    // a trader is refused (not_administrator), by the administrator it clears
    // the one bid at its price.
    let (_dir, data) = store();
    assert_eq!(
        code_of(&place(&data, "10", "100", "sell", "5000", "100")),
        0
    );
    assert_eq!(code_of(&place(&data, "11", "110", "buy", "5000", "100")), 0);
    let end = |requester: &str| {
        ets(&[
            "market",
            "end-of-day",
            "--data",
            &data,
            "--requester",
            requester,
            "--instrument",
            "CEA21",
        ])
    };
    advance_clock(&data, "2021-07-16T07:00:00Z");
    let refused = end("10");
    assert_eq!(code_of(&refused), 1);
    assert_eq!(outcome(&refused)["code"], "not_exchange_operator");
    let closed = end("2");
    assert_eq!(code_of(&closed), 0, "{closed:?}");
    let day = outcome(&closed)["result"].clone();
    assert_eq!(
        (day["close_ticks"].as_i64(), day["volume"].as_u64()),
        (Some(5000), Some(100))
    );
    let stats = ets(&["market", "stats", "--data", &data, "--format", "json"]);
    let rows: Value = serde_json::from_str(&stdout(&stats)).expect("stats JSON");
    assert_eq!(rows[0]["previous_close_ticks"], 5000);
    assert_eq!(rows[0]["volume"], 0, "a new day starts empty");

    let close = |requester: &str, auction: &str| {
        ets(&[
            "market",
            "auction-close",
            "--data",
            &data,
            "--requester",
            requester,
            "--auction",
            auction,
        ])
    };
    advance_clock(&data, "2021-07-16T07:01:00Z");
    let refused = close("11", "1");
    assert_eq!(code_of(&refused), 1);
    assert_eq!(outcome(&refused)["code"], "not_administrator");
    let unknown = close("1", "7");
    assert_eq!(code_of(&unknown), 1);
    assert_eq!(outcome(&unknown)["code"], "unknown_auction");
    let cleared = close("1", "1");
    assert_eq!(code_of(&cleared), 0, "{cleared:?}");
    let result = outcome(&cleared)["result"].clone();
    assert_eq!(result["status"], "cleared");
    assert_eq!(result["clearing_price_ticks"], 4000);
    assert_eq!(result["sold"], 500);
    let again = close("1", "1");
    assert_eq!(outcome(&again)["code"], "auction_closed");
    assert_eq!(code_of(&ets(&["verify", "--data", &data])), 0);
}
