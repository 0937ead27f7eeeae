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
    // 40 entities of a market of over 2,000: the comparison and each report say it is
    // too small to stand for the market.
    let warning = "below a quarter of the market";
    assert!(
        comparison.contains(warning) && html.contains(warning),
        "{comparison}"
    );
    assert!(text(&out.join("base").join("report.md")).contains(warning));
    assert!(text(&out.join("base").join("report.html")).contains(warning));
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

fn json(path: &Path) -> Value {
    serde_json::from_str(&text(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn path_text(path: &Path) -> &str {
    path.to_str().expect("utf-8")
}

/// `ets simulate` of the 2021 scenario, 20 entities, with `extra` arguments.
fn small_batch(extra: &[&str]) -> Output {
    let scenario = scenario("cn-power-2021.toml");
    let mut args = vec!["simulate", "--scenario", &scenario, "--entities", "20"];
    args.extend_from_slice(extra);
    ets(&args)
}

fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn an_ensemble_holds_every_single_seed_run_within_its_band() {
    // Goal: `--seeds 3` runs three members, each the same run as `--seed N` alone (same
    // state hash, same figures), and the band of every figure spans them: lowest and
    // highest are the extreme single runs, the median lies between. The report warns that
    // 3 seeds and 20 entities are too few, on stderr and in the report.
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("ensemble");
    let output = small_batch(&["--seed", "5", "--seeds", "3", "--out", path_text(&out)]);
    let printed = succeeded(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("warning: 3 seed(s)") && stderr.contains("below a quarter"),
        "{stderr}"
    );
    assert!(printed.contains("ensemble.html"), "{printed}");
    let results = json(&out.join("results.json"));
    let members = results["members"].as_array().expect("members");
    assert_eq!(members.len(), 3);
    let mut prices = Vec::new();
    for (k, member) in members.iter().enumerate() {
        let seed = 5 + k as u64;
        assert_eq!(member["seed"].as_u64(), Some(seed));
        let single = dir.path().join(format!("single-{seed}"));
        succeeded(&small_batch(&[
            "--seed",
            &seed.to_string(),
            "--out",
            path_text(&single),
        ]));
        let summary = json(&single.join("base").join("summary.json"));
        assert_eq!(
            member["state_hash"], summary["state_hash"],
            "seed {seed}: the same run"
        );
        assert_eq!(
            member["headline"]["average_price"], summary["average_price"],
            "seed {seed}"
        );
        prices.push(summary["average_price"].as_f64().expect("a price"));
    }
    let report = text(&out.join("ensemble.md"));
    let row: Vec<f64> = report
        .lines()
        .find(|l| l.starts_with("| Average price (yuan/t) |"))
        .expect("a price row")
        .split('|')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    let [lowest, low, median, high, highest] = row[..] else {
        panic!("five figures: {row:?}");
    };
    let round = |v: f64| (v * 100.0).round() / 100.0;
    let min = prices.iter().copied().fold(f64::INFINITY, f64::min);
    let max = prices.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert_eq!((lowest, highest), (round(min), round(max)), "{report}");
    assert!(lowest <= low && low <= median && median <= high && high <= highest);
    for price in &prices {
        assert!(lowest <= round(*price) && round(*price) <= highest);
    }
    assert!(report.contains("## Warnings") && report.contains("below a quarter"));
    let html = text(&out.join("ensemble.html"));
    assert!(html.contains("<polygon") && html.contains("median and 5-95% band"));
    for stem in ["price_band", "cumulative_volume_band"] {
        assert!(out.join(format!("{stem}.svg")).exists(), "{stem}");
    }
}

#[test]
fn shards_merged_give_the_unsharded_results_byte_for_byte() {
    // Goal: a sweep of 2 values x 2 seeds run whole, and the same sweep run as three
    // shards into one folder and merged, give the same results.json and report.
    let dir = tempfile::tempdir().expect("temp dir");
    let scenario = scenario("cn-power-2021.toml");
    let sweep = |extra: &[&str]| {
        let mut args = vec![
            "simulate",
            "sweep",
            "--scenario",
            &scenario,
            "--entities",
            "20",
            "--seed",
            "3",
            "--set",
            "design.price_floor_yuan=0..50",
            "--steps",
            "2",
            "--seeds",
            "2",
        ];
        args.extend_from_slice(extra);
        ets(&args)
    };
    let whole = dir.path().join("whole");
    succeeded(&sweep(&["--out", path_text(&whole), "--jobs", "2"]));
    let shards = dir.path().join("shards");
    for index in 0..3 {
        let shard = format!("{index}/3");
        let mut args = vec!["--out", path_text(&shards), "--shard", &shard];
        if index == 1 {
            // In memory or journaled, a member is the same run.
            args.push("--in-memory");
        }
        let printed = succeeded(&sweep(&args));
        assert!(
            printed.contains(&format!("results-shard-{index}-of-3.json")),
            "{printed}"
        );
    }
    assert!(
        !shards.join("results.json").exists(),
        "a shard writes only its file"
    );
    let merged = dir.path().join("merged");
    let files: Vec<String> = (0..3)
        .map(|i| path_text(&shards.join(format!("results-shard-{i}-of-3.json"))).to_owned())
        .collect();
    let mut args = vec!["simulate", "merge"];
    args.extend(files.iter().map(String::as_str));
    args.extend(["--out", path_text(&merged)]);
    ok(&args);
    assert_eq!(
        text(&merged.join("results.json")),
        text(&whole.join("results.json"))
    );
    assert_eq!(
        text(&merged.join("sweep.md")),
        text(&whole.join("sweep.md"))
    );
    for stem in ["sweep_price", "sweep_volume", "sweep_cost"] {
        assert!(merged.join(format!("{stem}.svg")).exists(), "{stem}");
    }

    // A shard again into the same folder is refused; a missing shard stops the merge.
    let again = sweep(&["--out", path_text(&shards), "--shard", "1/3"]);
    assert!(!again.status.success());
    let partial = ets(&[
        "simulate",
        "merge",
        &files[0],
        &files[2],
        "--out",
        path_text(&dir.path().join("partial")),
    ]);
    let stderr = String::from_utf8_lossy(&partial.stderr);
    assert!(
        !partial.status.success() && stderr.contains("shards missing: 1/3"),
        "{stderr}"
    );
    assert!(!dir.path().join("partial").exists(), "nothing written");
}

#[test]
fn a_tighter_cap_raises_the_price() {
    // Goal: a sweep of the absolute cap (over the absolute-cap variant) from loose to
    // tight: the average price rises as the cap tightens.
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("cap");
    let variant = format!(
        "{}/../../scenarios/variants/absolute-cap.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let printed = ok(&[
        "simulate",
        "sweep",
        "--scenario",
        &scenario("cn-power-2021.toml"),
        "--variant",
        &variant,
        "--entities",
        "40",
        "--seed",
        "9",
        "--set",
        "design.absolute_cap_mt=90..75",
        "--steps",
        "3",
        "--out",
        path_text(&out),
    ]);
    let results = json(&out.join("results.json"));
    let prices: Vec<f64> = results["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["headline"]["average_price"].as_f64().expect("a price"))
        .collect();
    assert_eq!(prices.len(), 3, "{printed}");
    assert!(
        prices[0] < prices[1] && prices[1] < prices[2],
        "tighter, dearer: {prices:?}"
    );
}

#[test]
fn bad_batches_are_refused_naming_what_is_wrong_and_write_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    let scenario_file = scenario("cn-power-2021.toml");
    let sweep = |set: &str, steps: &str| -> Vec<String> {
        [
            "simulate",
            "sweep",
            "--scenario",
            &scenario_file,
            "--entities",
            "20",
            "--set",
            set,
            "--steps",
            steps,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    };
    let chain_file = scenario("cn-power-2019-2025.toml");
    // The multi-year chain swept: checked in every period before anything is written.
    let multi = |set: &str, steps: &str| -> Vec<String> {
        ["simulate", "multi", &chain_file, "--entities", "20"]
            .iter()
            .chain(&["--set", set, "--steps", steps])
            .map(|s| (*s).to_owned())
            .collect()
    };
    let run = |args: &[&str]| -> Vec<String> {
        ["simulate", "--scenario", &scenario_file, "--entities", "20"]
            .iter()
            .chain(args)
            .map(|s| (*s).to_owned())
            .collect()
    };
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (run(&["--seeds", "0"]), vec!["--seeds 0", "1 to 10000"]),
        (
            run(&["--seeds", "2", "--shard", "2/2"]),
            vec!["--shard 2/2", "out of range", "0 to 1"],
        ),
        (
            run(&["--seeds", "2", "--shard", "0/3"]),
            vec!["3 shards for 2 members"],
        ),
        (run(&["--shard", "x"]), vec!["--shard x", "expected i/n"]),
        (
            sweep("design.auction_sharee=0..0.3", "3"),
            vec![
                "cn-power-2021.toml",
                "design.auction_sharee",
                "not a setting",
            ],
        ),
        (
            sweep("design.auction_share=0..1.5", "4"),
            vec![
                "cn-power-2021.toml",
                "design.auction_share = 1.5",
                "between 0 and 1",
            ],
        ),
        (
            sweep("design.cap=0..1", "2"),
            vec!["design.cap = \"intensity\"", "not a number"],
        ),
        (
            sweep("design.auctions=1..4", "3"),
            vec!["design.auctions", "whole numbers", "2.5"],
        ),
        (
            sweep("design.auction_share=0.2..0.2", "3"),
            vec!["the range is empty"],
        ),
        (sweep("design.auction_share=0..0.3", "1"), vec!["--steps 1"]),
        (
            multi("design.auction_sharee=0..0.3", "2"),
            vec![
                "cn-power-2019-2025.toml: period 1",
                "design.auction_sharee",
                "not a setting",
            ],
        ),
        (
            multi("design.auction_share=0..1.5", "4"),
            vec!["period 1", "design.auction_share = 1.5", "between 0 and 1"],
        ),
        (multi("design.auction_share=0..0.3", "1"), vec!["--steps 1"]),
    ];
    for (mut args, says) in cases {
        args.extend(["--out".to_owned(), path_text(&out).to_owned()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = ets(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} refused");
        for said in says {
            assert!(stderr.contains(said), "{args:?}: {said}: {stderr}");
        }
        assert!(!out.exists(), "{args:?}: nothing written");
    }
    let bogus = dir.path().join("bogus.json");
    std::fs::write(&bogus, "{\"format\": \"something else\"}").expect("written");
    let output = ets(&[
        "simulate",
        "merge",
        path_text(&bogus),
        "--out",
        path_text(&out),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("bogus.json"),
        "{stderr}"
    );
    assert!(!out.exists());
}
