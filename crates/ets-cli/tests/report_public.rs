//! `ets report public` on a store written by a small demo year: the report
//! carries the journal's head hash and state hash at its cut-off and `ets
//! verify` on the same store prints the same; the JSON, CSV and Markdown forms
//! agree on the figures.

use serde_json::Value;
use std::path::Path;
use std::process::Output;

mod common;

fn ets(args: &[&str]) -> Output {
    let output = common::run_ets(args, "");
    assert!(
        output.status.success(),
        "ets {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn report(store: &Path, year: &str, format: &str, section: &str) -> String {
    let data = store.to_str().expect("utf-8 path");
    let args = [
        "report",
        "public",
        "--data",
        data,
        "--year",
        year,
        "--format",
        format,
        "--section",
        section,
    ];
    String::from_utf8(ets(&args).stdout).expect("utf-8")
}

#[test]
fn the_public_report_carries_hashes_that_verify_and_its_forms_agree() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scenarios/cn-power-2021.toml"
    );
    let out_text = out.to_str().expect("utf-8 path");
    let demo = [
        "demo",
        "--entities",
        "20",
        "--seed",
        "3",
        "--scenario",
        scenario,
        "--out",
        out_text,
    ];
    ets(&demo);
    let store = out.join("store");

    let json: Value =
        serde_json::from_str(&report(&store, "2021", "json", "installations")).expect("JSON");
    let verified: Value =
        serde_json::from_slice(&ets(&["verify", "--data", store.to_str().expect("utf-8")]).stdout)
            .expect("verify prints JSON");
    assert_eq!(verified["ok"], true);
    let cut = &json["cut_off"];
    assert_eq!(cut["state_hash"], verified["state_hash"]);
    assert_eq!(cut["journal_head_hash"], verified["journal_head_hash"]);
    assert_eq!(cut["records"], verified["records"]);
    assert_eq!(cut["journal_head_hash"].as_str().map(str::len), Some(64));

    // Twenty installations of the 2021 rulebook, each with its figures.
    let lines = json["installations"].as_array().expect("installations");
    assert_eq!(lines.len(), 20);
    for line in lines {
        assert_eq!(line["scheme"], "cn-power-2021");
        assert!(
            line["allocation"].as_u64().expect("allocation") > 0,
            "{line}"
        );
        let status = line["compliance_status"].as_str().expect("status");
        assert!(
            [
                "compliant",
                "missed_intermediate_deadline",
                "shortfall",
                "no_verified_report"
            ]
            .contains(&status),
            "{line}"
        );
        // China deducts a shortfall from the next year's allocation: nothing to make good.
        assert_eq!(line["make_good"].as_u64(), Some(0), "{line}");
    }
    // The demo trades in 2023 (the 2021 compliance deadline's year): per-day
    // statistics whose VWAP lies between low and high.
    assert_eq!(json["market"], Value::Array(Vec::new()));
    let trading: Value =
        serde_json::from_str(&report(&store, "2023", "json", "installations")).expect("JSON");
    let market = trading["market"].as_array().expect("market");
    assert!(!market.is_empty());
    for day in market {
        let (low, high, vwap) = (&day["low_ticks"], &day["high_ticks"], &day["vwap_ticks"]);
        let (low, high, vwap) = (low.as_i64(), high.as_i64(), vwap.as_i64());
        assert!(low <= vwap && vwap <= high, "{day}");
        assert!(
            day["date"].as_str().expect("date").starts_with("2023-"),
            "{day}"
        );
    }

    // The CSV has one row per installation, each ending with the cut-off.
    let csv = report(&store, "2021", "csv", "installations");
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].starts_with("scheme,participant,name,account,allocation"));
    assert_eq!(rows.len(), 21);
    let state_hash = cut["state_hash"].as_str().expect("hash");
    assert!(rows[1..].iter().all(|row| row.ends_with(state_hash)));
    let market_csv = report(&store, "2023", "csv", "market");
    assert_eq!(market_csv.lines().count(), market.len() + 1);
    let markdown = report(&store, "2021", "md", "installations");
    assert!(markdown.contains(state_hash));
    assert!(markdown.contains("| cn-power-2021 |"));
}
