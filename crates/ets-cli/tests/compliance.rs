//! A whole small compliance year of China's ETS through the real `ets` binary
//! on a fresh store, checked against figures computed by hand (the same year
//! as crates/ets-engine/tests/compliance_year.rs), and CSV import refusals.

use serde_json::Value;
use std::path::Path;
use std::process::Output;

mod common;

fn ets(args: &[&str], stdin: &str) -> Output {
    common::run_ets(args, stdin)
}

fn ok(args: &[&str], stdin: &str) -> String {
    common::succeeds(args, stdin)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.to_string_lossy().into_owned()
}

const SETUP: &str = r#"{"request_id":1,"requester":1,"time":"2023-01-10T00:00:00Z","command":"register_participant","id":1,"kind":"administrator","name":"MEE"}
{"request_id":2,"requester":1,"time":"2023-01-10T00:00:00Z","command":"register_participant","id":2,"kind":"verifier","name":"Verifier"}
{"request_id":3,"requester":1,"time":"2023-01-10T00:00:00Z","command":"register_participant","id":10,"kind":"covered_entity","name":"Coal plant"}
{"request_id":4,"requester":1,"time":"2023-01-10T00:00:00Z","command":"register_participant","id":20,"kind":"covered_entity","name":"Gas plant"}
{"request_id":5,"requester":1,"time":"2023-01-10T00:00:00Z","command":"open_account","id":1,"kind":"issuance","holder":1,"representatives":[1]}
{"request_id":6,"requester":1,"time":"2023-01-10T00:00:00Z","command":"open_account","id":2,"kind":"surrender","holder":1,"representatives":[1]}
{"request_id":7,"requester":1,"time":"2023-01-10T00:00:00Z","command":"open_account","id":4,"kind":"cancellation","holder":1,"representatives":[1]}
{"request_id":8,"requester":1,"time":"2023-01-10T00:00:00Z","command":"open_account","id":100,"kind":"operator_holding","holder":10,"representatives":[10]}
{"request_id":9,"requester":1,"time":"2023-01-10T00:00:00Z","command":"open_account","id":200,"kind":"operator_holding","holder":20,"representatives":[20]}
"#;

/// An import store in `dir`/store holding SETUP and the 2021 power rulebook, loaded on
/// 2023-02-01; returns its path.
fn store_with_the_rulebook(dir: &Path) -> String {
    let data_path = dir.join("store");
    let data = data_path.to_str().expect("utf-8");
    ok(&["init", "--kind", "import", "--data", data], "");
    ok(&["submit", "--dated-by", "1", "--data", data], SETUP);
    let rulebook = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schemes/cn-power-2021.toml"
    );
    ok(
        &[
            "compliance",
            "load-rulebook",
            "--data",
            data,
            "--requester",
            "1",
            "--time",
            "2023-02-01T00:00:00Z",
            rulebook,
        ],
        "",
    );
    data.to_owned()
}

#[test]
fn a_small_compliance_year_runs_through_the_cli() {
    // Goal: rulebook, CSV registration, pre-allocation and true-up from CSV, reports and
    // verification and surrenders as JSON lines, close, and the report agree with hand figures.
    let dir = tempfile::tempdir().expect("temp dir");
    let data_path = store_with_the_rulebook(dir.path());
    let data = data_path.as_str();
    let entities = write(
        dir.path(),
        "entities.csv",
        "participant,account,unit,category,capacity_mw,cooling,chp\n10,100,U1,coal_above_300mw,600,water,false\n20,200,G1,gas,400,water,false\n",
    );
    ok(
        &[
            "compliance",
            "register",
            "--data",
            data,
            "--requester",
            "1",
            "--time",
            "2023-02-01T00:00:00Z",
            "--scheme",
            "cn-power-2021",
            &entities,
        ],
        "",
    );
    let base = write(
        dir.path(),
        "base.csv",
        "participant,unit,electricity_mwh,heat_gj,heat_supply_ratio,load_factor\n10,U1,1000000,0,0,0.90\n20,G1,500000,0,0,0.90\n",
    );
    let verified = write(
        dir.path(),
        "verified.csv",
        "participant,unit,electricity_mwh,heat_gj,heat_supply_ratio,load_factor\n10,U1,1100000,0,0,0.90\n20,G1,300000,0,0,0.90\n",
    );
    let allocate = |phase: &str, file: &str| {
        ok(
            &[
                "compliance",
                "allocate",
                "--data",
                data,
                "--requester",
                "1",
                "--time",
                "2023-02-02T00:00:00Z",
                "--scheme",
                "cn-power-2021",
                "--year",
                "2021",
                "--phase",
                phase,
                file,
            ],
            "",
        )
    };
    // 0.70 x 0.8218 x 1,000,000 + 0.70 x 0.3920 x 500,000 = 575,260 + 137,200.
    let pre: Value = serde_json::from_str(allocate("pre", &base).trim()).expect("json");
    assert_eq!(pre["result"]["issued"], 575_260 + 137_200);
    // Final: coal 903,980 (328,720 more); gas 117,600 (19,600 clawed back).
    let final_step: Value =
        serde_json::from_str(allocate("final", &verified).trim()).expect("json");
    assert_eq!(
        (
            final_step["result"]["issued"].clone(),
            final_step["result"]["clawed_back"].clone()
        ),
        (Value::from(328_720), Value::from(19_600))
    );
    let allocation: Value = serde_json::from_str(&ok(
        &[
            "compliance",
            "allocation",
            "--data",
            data,
            "--scheme",
            "cn-power-2021",
            "--year",
            "2021",
        ],
        "",
    ))
    .expect("json");
    assert_eq!(
        (
            allocation[0]["pre_allocated"].clone(),
            allocation[0]["final_allocation"].clone()
        ),
        (Value::from(575_260), Value::from(903_980))
    );
    assert_eq!(allocation[0]["breakdown_tonnes"][0]["unit"], "U1");
    let year = r#"{"request_id":20,"requester":10,"time":"2023-03-01T00:00:00Z","command":"submit_report","entity":10,"year":2021,"fuels":[{"kind":"coal","consumed":"500000","net_calorific_value":"20","carbon_content":"0.0270","oxidation_rate":"0.99"}]}
{"request_id":21,"requester":20,"time":"2023-03-01T00:00:00Z","command":"submit_report","entity":20,"year":2021,"fuels":[{"kind":"other","consumed":"5000","net_calorific_value":"400","carbon_content":"0.0153","oxidation_rate":"0.99"}]}
{"request_id":22,"requester":2,"time":"2023-04-01T00:00:00Z","command":"verify_report","entity":10,"year":2021,"accept":true}
{"request_id":23,"requester":2,"time":"2023-04-01T00:00:00Z","command":"verify_report","entity":20,"year":2021,"accept":true}
{"request_id":24,"requester":10,"time":"2023-11-01T00:00:00Z","command":"surrender","from":100,"unit":"CEA-2021","quantity":903980,"compliance_year":2021}
{"request_id":25,"requester":20,"time":"2023-11-01T00:00:00Z","command":"surrender","from":200,"unit":"CEA-2021","quantity":111078,"compliance_year":2021}
{"request_id":26,"requester":20,"time":"2024-01-02T00:00:00Z","command":"surrender","from":200,"unit":"CEA-2021","quantity":1,"compliance_year":2021}
"#;
    // The late surrender is refused, so submit exits 3 (docs: README, exit codes).
    let output = ets(&["submit", "--dated-by", "1", "--data", data], year);
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let outcomes: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(outcomes[0]["result"]["computed_emissions"], 980_100);
    assert_eq!(outcomes[1]["result"]["computed_emissions"], 111_078);
    assert!(
        outcomes[2..6].iter().all(|o| o["ok"] == true),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[6]["code"], "surrender_after_deadline");
    ok(
        &[
            "compliance",
            "close",
            "--data",
            data,
            "--requester",
            "1",
            "--time",
            "2024-01-05T00:00:00Z",
            "--scheme",
            "cn-power-2021",
            "--year",
            "2021",
        ],
        "",
    );
    let report: Value = serde_json::from_str(&ok(
        &[
            "compliance",
            "report",
            "--data",
            data,
            "--scheme",
            "cn-power-2021",
            "--year",
            "2021",
            "--format",
            "json",
        ],
        "",
    ))
    .expect("json");
    let coal = &report[0];
    assert_eq!(
        (
            coal["entity"].clone(),
            coal["obligation"].clone(),
            coal["shortfall"].clone()
        ),
        (Value::from(10), Value::from(980_100), Value::from(76_120))
    );
    assert_eq!(
        (
            coal["status"].as_str(),
            coal["fine_min_minor_units"].clone(),
            coal["final"].clone()
        ),
        (Some("shortfall"), Value::from(2_000_000), Value::from(true))
    );
    // The period, the EU columns (none for China) and the intermediate deadline's judgement.
    assert_eq!(
        (
            coal["period"].as_str(),
            coal["eu_status"].clone(),
            coal["make_good"].clone(),
            coal["intermediate_shortfall"].is_u64()
        ),
        (Some("2021"), Value::Null, Value::from(0), true)
    );
    let gas = &report[1];
    assert_eq!(
        (gas["status"].as_str(), gas["obligation"].clone()),
        (Some("compliant"), Value::from(111_078))
    );
    let csv = ok(
        &[
            "compliance",
            "report",
            "--data",
            data,
            "--scheme",
            "cn-power-2021",
            "--year",
            "2021",
            "--format",
            "csv",
        ],
        "",
    );
    assert!(
        csv.lines().nth(1).is_some_and(
            |line| line.starts_with("10,100,980100,903980,980100,903980,0,shortfall,76120")
        ),
        "{csv}"
    );
    // A year no rulebook covers is refused with its code.
    let outside = ets(
        &[
            "compliance",
            "report",
            "--data",
            data,
            "--scheme",
            "cn-power-2021",
            "--year",
            "2030",
        ],
        "",
    );
    assert!(!outside.status.success());
    assert!(
        String::from_utf8_lossy(&outside.stderr).contains("does not govern compliance year 2030"),
        "{}",
        String::from_utf8_lossy(&outside.stderr)
    );
    let verify = ok(&["verify", "--data", data], "");
    assert!(verify.contains("\"ok\": true"));
}

#[test]
fn a_bad_csv_row_is_reported_by_line_and_nothing_is_imported() {
    // Goal: CSV import is all or nothing, and the error names the file and line.
    let dir = tempfile::tempdir().expect("temp dir");
    let data_path = store_with_the_rulebook(dir.path());
    let data = data_path.as_str();
    let entities = write(
        dir.path(),
        "bad.csv",
        "participant,account,unit,category,capacity_mw,cooling,chp\n10,100,U1,coal_above_300mw,600,water,false\n20,200,G1,gas,lots,water,false\n",
    );
    let output = ets(
        &[
            "compliance",
            "register",
            "--data",
            data,
            "--requester",
            "1",
            "--scheme",
            "cn-power-2021",
            &entities,
        ],
        "",
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("line 3") && stderr.contains("nothing was imported"),
        "{stderr}"
    );
    let report = ok(
        &[
            "compliance",
            "report",
            "--data",
            data,
            "--scheme",
            "cn-power-2021",
            "--year",
            "2021",
            "--format",
            "json",
        ],
        "",
    );
    assert_eq!(report.trim(), "[]", "no entity was registered");
}
