//! `ets simulate` through the real binary: a small scenario and one design variant,
//! their reports and comparison, determinism, journals that verify, refusals of bad
//! input before anything runs, and the population export that `ets compliance` imports.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

mod common;

fn ets(args: &[&str]) -> Output {
    common::run_ets(args, "")
}

fn ok(args: &[&str]) -> String {
    let output = ets(args);
    assert!(
        output.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn scenario(name: &str) -> String {
    format!("{}/../../scenarios/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A variant that changes existing keys: wider price dispersion, more defaulters.
const VARIANT: &str = r#"title = "Nervous market"
description = "Wider price dispersion and more firms that fall short."
[market]
price_sigma = 0.20
[behaviour]
shortfall_share = 0.20
"#;

fn write_variant(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("variant written");
    path
}

fn simulate(out: &Path, variant: &Path) -> String {
    ok(&[
        "simulate",
        "--scenario",
        &scenario("cn-power-2021.toml"),
        "--entities",
        "40",
        "--seed",
        "7",
        "--compare",
        variant.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ])
}

fn state_hash(run: &Path) -> String {
    let summary: Value =
        serde_json::from_str(&text(&run.join("summary.json"))).expect("summary.json is JSON");
    summary["state_hash"]
        .as_str()
        .expect("a state hash")
        .to_owned()
}

#[test]
fn simulate_runs_the_base_and_a_variant_and_writes_one_comparison() {
    // Goal: one command runs the scenario and a variant in their own stores, writes each
    // run's report and one comparison with a row per run; the same seed gives the same
    // state hashes again, and every journal verifies.
    let dir = tempfile::tempdir().expect("temp dir");
    let variant = write_variant(dir.path(), "nervous.toml", VARIANT);
    let out = dir.path().join("lab");
    let printed = simulate(&out, &variant);
    assert!(printed.contains("commands/s"), "{printed}");
    assert!(printed.contains("comparison.html"), "{printed}");
    for file in [
        "comparison.md",
        "comparison.html",
        "price_paths.svg",
        "cumulative_volume.svg",
        "volume.svg",
        "compliance.svg",
    ] {
        assert!(out.join(file).exists(), "{file} written");
    }
    for run in ["base", "nervous"] {
        for file in [
            "report.md",
            "report.html",
            "summary.json",
            "price.svg",
            "daily_volume.svg",
            "cumulative_volume.svg",
            "positions.svg",
            "compliance.svg",
        ] {
            assert!(out.join(run).join(file).exists(), "{run}/{file} written");
        }
        let verified = ets(&[
            "verify",
            "--data",
            out.join(run).join("store").to_str().expect("utf-8"),
        ]);
        let report: Value = serde_json::from_slice(&verified.stdout).expect("verify prints JSON");
        assert!(
            verified.status.success() && report["ok"] == true,
            "{report}"
        );
        assert_eq!(
            report["state_hash"].as_str(),
            Some(state_hash(&out.join(run)).as_str()),
            "the journal replays to the run's state"
        );
    }
    let comparison = text(&out.join("comparison.md"));
    // One row per run in the comparison table (by title), and one in the table of
    // runs (by folder).
    let count = |start: &str| comparison.lines().filter(|l| l.starts_with(start)).count();
    assert_eq!(count("| base |") + count("| nervous |"), 2, "{comparison}");
    assert_eq!(count("| Nervous market |"), 1, "{comparison}");
    assert!(
        comparison.contains("| Run | Secondary volume (Mt) | Auction sales (Mt) |"),
        "{comparison}"
    );
    let html = text(&out.join("comparison.html"));
    assert!(html.contains("<svg") && html.contains("Nervous market"));
    // The variant changed behaviour: its state differs from the base's.
    assert_ne!(
        state_hash(&out.join("base")),
        state_hash(&out.join("nervous"))
    );

    let again = dir.path().join("again");
    simulate(&again, &variant);
    for run in ["base", "nervous"] {
        assert_eq!(
            state_hash(&out.join(run)),
            state_hash(&again.join(run)),
            "{run}: same seed, same state"
        );
    }
}

#[test]
fn a_bad_variant_is_refused_before_anything_runs() {
    // Goal: an unknown key or an impossible value in a variant stops `ets simulate`
    // before the first run, naming the variant's file, the key and the value.
    let dir = tempfile::tempdir().expect("temp dir");
    let cases = [
        (
            "unknown.toml",
            "[market]\nprice_sigmaa = 0.2\n",
            "market.price_sigmaa",
        ),
        (
            "share.toml",
            "[units]\ngas_share = 1.5\n",
            "units.gas_share = 1.5",
        ),
        (
            "scheme.toml",
            "[scenario]\nscheme = \"cn-power-2099\"\n",
            "scenario.scheme = \"cn-power-2099\"",
        ),
    ];
    for (name, body, named) in cases {
        let variant = write_variant(dir.path(), name, body);
        let out = dir.path().join(format!("out-{name}"));
        let output = ets(&[
            "simulate",
            "--scenario",
            &scenario("cn-power-2021.toml"),
            "--entities",
            "20",
            "--compare",
            variant.to_str().expect("utf-8"),
            "--out",
            out.to_str().expect("utf-8"),
        ]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{name} refused");
        assert!(stderr.contains(name), "{name}: the file is named: {stderr}");
        assert!(stderr.contains(named), "{name}: {named} is named: {stderr}");
        assert!(!out.exists(), "{name}: nothing ran");
    }
}

#[test]
fn the_exported_population_is_imported_by_ets_compliance() {
    // Goal: `ets simulate --export-csv` writes the generated population as the files the
    // compliance CLI imports, and a fresh store accepts them: participants and accounts,
    // the registration of every unit, and a pre-allocation from the base-year outputs.
    let dir = tempfile::tempdir().expect("temp dir");
    let export = dir.path().join("export");
    let printed = ok(&[
        "simulate",
        "--scenario",
        &scenario("cn-power-2021.toml"),
        "--entities",
        "30",
        "--export-csv",
        export.to_str().expect("utf-8"),
    ]);
    assert!(printed.contains("30 entities"), "{printed}");
    let entities = text(&export.join("entities.csv"));
    let units = entities.lines().count() - 1;
    assert!(units >= 30, "{entities}");
    let data = dir.path().join("store");
    let data = data.to_str().expect("utf-8");
    let path = |name: &str| export.join(name).to_string_lossy().into_owned();
    ok(&["init", "--data", data]);
    let outcomes = ok(&["submit", "--data", data, &path("setup.jsonl")]);
    assert_eq!(outcomes.lines().count(), 2 + 3 + 2 * 30);
    assert!(!outcomes.contains("\"ok\":false"), "{outcomes}");
    let rulebook = format!(
        "{}/../../schemes/cn-power-2021.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    ok(&[
        "compliance",
        "load-rulebook",
        "--data",
        data,
        "--requester",
        "1",
        &rulebook,
    ]);
    ok(&[
        "compliance",
        "register",
        "--data",
        data,
        "--requester",
        "1",
        "--scheme",
        "cn-power-2021",
        &path("entities.csv"),
    ]);
    // The pre-allocation issues allowances to the registered entities.
    ok(&[
        "compliance",
        "allocate",
        "--data",
        data,
        "--requester",
        "1",
        "--scheme",
        "cn-power-2021",
        "--year",
        "2021",
        "--phase",
        "pre",
        &path("outputs-base-year.csv"),
    ]);
    let allocation: Value = serde_json::from_str(&ok(&[
        "compliance",
        "allocation",
        "--data",
        data,
        "--scheme",
        "cn-power-2021",
        "--year",
        "2021",
    ]))
    .expect("JSON");
    let lines = allocation.as_array().expect("one line per entity");
    assert_eq!(lines.len(), 30);
    assert!(
        lines
            .iter()
            .all(|l| l["pre_allocated"].as_u64().unwrap_or(0) > 0),
        "{allocation}"
    );
}

#[test]
fn the_first_period_scenario_runs_with_its_published_figures() {
    // Goal: the 2019-20 scenario loads its own rulebook, runs the small period, and shows
    // the first period's published figures (179 Mt, 42.85 yuan/t; 1,833 of 2,162 entities
    // in full on time, 84.78%; 99.5% by quantity) beside its own.
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("p1");
    let printed = ok(&[
        "demo",
        "--scenario",
        &scenario("cn-power-2019-2020.toml"),
        "--entities",
        "30",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert!(printed.contains("cn-power-2019-2020"), "{printed}");
    for figure in [
        "179.00",
        "42.85",
        "84.78",
        "99.50",
        "2021-07-16 to 2021-12-31",
    ] {
        assert!(printed.contains(figure), "{figure}: {printed}");
    }
    let report = text(&out.join("report.md"));
    assert!(
        report.contains("| Secondary volume traded (Mt) |"),
        "{report}"
    );
    assert!(out.join("report.html").exists());
}
