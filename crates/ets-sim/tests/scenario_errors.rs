//! Bad scenarios and variants are refused before anything runs, naming the file,
//! the key and the value.

use ets_sim::Scenario;
use ets_sim::compare::Variant;
use ets_sim::scenario::ScenarioError;
use std::path::{Path, PathBuf};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// The 2021 scenario's text with `from` replaced by `to`, written into `dir` (its
/// rulebook path made absolute so the copy still finds it).
fn scenario_with(dir: &Path, from: &str, to: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo("scenarios/cn-power-2021.toml")).expect("reads");
    assert!(text.contains(from), "{from} is in the scenario");
    let rulebook = repo("schemes/cn-power-2021.toml");
    let text = text
        .replace(
            "rulebook = \"../schemes/cn-power-2021.toml\"",
            &format!("rulebook = {:?}", rulebook.display().to_string()),
        )
        .replace(from, to);
    let path = dir.join("scenario.toml");
    std::fs::write(&path, text).expect("writes");
    path
}

fn refusal(dir: &Path, from: &str, to: &str) -> ScenarioError {
    let path = scenario_with(dir, from, to);
    let error = Scenario::load(&path).expect_err("refused");
    error.downcast::<ScenarioError>().expect("a ScenarioError")
}

fn assert_names(error: &ScenarioError, file: &str, key: &str, value: &str) {
    let text = error.to_string();
    assert!(text.contains(file), "file {file} named: {text}");
    assert!(text.contains(key), "key {key} named: {text}");
    assert!(text.contains(value), "value {value} named: {text}");
    assert_eq!(error.key(), key, "{text}");
}

#[test]
fn the_shipped_scenarios_load() {
    for name in ["cn-power-2021.toml", "cn-power-2019-2020.toml"] {
        let scenario = Scenario::load(&repo(&format!("scenarios/{name}")))
            .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert!(scenario.scenario.entities > 2_000);
    }
}

#[test]
fn a_negative_capacity_is_refused_naming_the_unit_class() {
    let dir = tempfile::tempdir().expect("tempdir");
    let error = refusal(dir.path(), "capacity_mw = 1000", "capacity_mw = -1000");
    assert_eq!(error.code(), "scenario_malformed");
    assert_names(
        &error,
        "scenario.toml",
        "units.coal[0].capacity_mw",
        "-1000",
    );
    let error = refusal(dir.path(), "capacity_mw = 1000", "capacity_mw = 0");
    assert_eq!(error.code(), "scenario_invalid");
    assert_names(&error, "scenario.toml", "units.coal[0].capacity_mw", "0");
}

#[test]
fn shares_that_do_not_sum_to_one_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let error = refusal(
        dir.path(),
        "per_entity_weights = [0.80, 0.12, 0.045, 0.02, 0.01, 0.005]",
        "per_entity_weights = [0.80, 0.12, 0.045, 0.02, 0.01, 0.5]",
    );
    assert_eq!(error.code(), "scenario_invalid");
    assert_names(&error, "scenario.toml", "units.per_entity_weights", "0.5");
    assert!(error.to_string().contains("sum to 1.495"), "{error}");
    let error = refusal(dir.path(), "weight = 0.07", "weight = 0.17");
    assert_names(&error, "scenario.toml", "units.coal[].weight", "0.17");
    let error = refusal(dir.path(), "gas_share = 0.12", "gas_share = 1.5");
    assert_names(&error, "scenario.toml", "units.gas_share", "1.5");
}

#[test]
fn an_unknown_scheme_or_rulebook_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let error = refusal(
        dir.path(),
        "scheme = \"cn-power-2021\"",
        "scheme = \"cn-power-2099\"",
    );
    assert_names(&error, "scenario.toml", "scenario.scheme", "cn-power-2099");
    assert!(error.to_string().contains("unknown scheme"), "{error}");
    let error = refusal(dir.path(), "year = 2021", "year = 2019");
    assert_names(&error, "scenario.toml", "scenario.year", "2019");
    let error = refusal(
        dir.path(),
        "schemes/cn-power-2021.toml",
        "schemes/cn-power-2099.toml",
    );
    assert_names(
        &error,
        "scenario.toml",
        "scenario.rulebook",
        "cn-power-2099.toml",
    );
}

#[test]
fn an_unknown_or_missing_key_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let error = refusal(dir.path(), "late_share = 0.85", "late_shares = 0.85");
    assert_eq!(error.code(), "scenario_malformed");
    assert_names(&error, "scenario.toml", "market.late_shares", "0.85");
    let error = refusal(dir.path(), "late_share = 0.85", "");
    assert!(
        error.to_string().contains("missing field `late_share`"),
        "{error}"
    );
    assert_eq!(error.key(), "market");
    let error = refusal(dir.path(), "[behaviour]", "[behavior]");
    assert!(error.to_string().contains("behavior"), "{error}");
}

#[test]
fn a_variant_merges_over_the_scenario_and_its_mistakes_name_the_variant_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = scenario_with(dir.path(), "price_sigma = 0.08", "price_sigma = 0.08");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("writes");
        Variant::load(&path).expect("a variant file")
    };
    let good = write(
        "wide.toml",
        "title = \"Wide prices\"\ndescription = \"More dispersion.\"\n[market]\nprice_sigma = 0.3\n",
    );
    assert_eq!(good.title, "Wide prices");
    assert_eq!(good.name, "wide");
    let merged = good.apply(&scenario).expect("applies");
    assert_eq!(merged.market.price_sigma, 0.3);
    assert_eq!(
        merged.market.late_share, 0.85,
        "other keys of the table stay"
    );
    assert_eq!(merged.units.coal.len(), 10);

    let error = write("typo.toml", "[market]\nprice_sigmaa = 0.3\n")
        .apply(&scenario)
        .expect_err("refused");
    assert_names(&error, "typo.toml", "market.price_sigmaa", "0.3");
    let error = write("bad.toml", "[behaviour]\nshortfall_share = -0.2\n")
        .apply(&scenario)
        .expect_err("refused");
    assert_names(&error, "bad.toml", "behaviour.shortfall_share", "-0.2");
    // A broken key the variant does not touch is blamed on the scenario.
    let broken = scenario_with(dir.path(), "gas_share = 0.12", "gas_share = 2.0");
    let error = good.apply(&broken).expect_err("refused");
    assert_names(&error, "scenario.toml", "units.gas_share", "2");
    let path = dir.path().join("title.toml");
    std::fs::write(&path, "title = 3\n").expect("writes");
    let error = Variant::load(&path).expect_err("refused");
    assert_names(&error, "title.toml", "title", "3");
}

#[test]
fn a_trading_window_outside_the_settling_window_is_refused_at_load() {
    // Goal: `[trading] window` may only narrow the window that settles the period (from
    // 17 Jul 2023, after the final allocation, to the 31 Dec 2023 deadline): one that
    // opens in June is refused before anything runs, naming file, key and value; so is
    // the removed `holidays` key (the calendar has one home).
    let dir = tempfile::tempdir().expect("tempdir");
    let opens = "market_opens = \"2021-07-16\"";
    let error = refusal(
        dir.path(),
        opens,
        &format!("{opens}\nwindow = [\"2023-06-01\", \"2023-12-29\"]"),
    );
    assert_names(&error, "scenario.toml", "trading.window", "2023-06-01");
    assert!(error.to_string().contains("2023-07-17"), "{error}");
    let error = refusal(
        dir.path(),
        opens,
        &format!("{opens}\nholidays = [\"2023-10-02\"]"),
    );
    assert!(error.to_string().contains("holidays"), "{error}");
}
