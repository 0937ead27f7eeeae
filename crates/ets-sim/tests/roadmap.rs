//! The 2027-2030 roadmap and its allowance reserve through the engine: the reserve
//! releases and withholds by its triggers without creating or losing a unit, auction
//! sales are reported apart and equal the exchange's auction settlements, a tighter
//! cap path raises the price, and a bad roadmap is refused naming file, key and value.

use ets_engine::Engine;
use ets_market::TradeMode;
use ets_model::UnitClass;
use ets_sim::reserve::{AUCTION_ACCOUNT, RESERVE_ACCOUNT, ReserveDesign};
use ets_sim::year::held;
use ets_sim::{Scenario, YearSummary, run_year};
use std::path::{Path, PathBuf};

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

fn roadmap_file() -> PathBuf {
    scenarios().join("cn-roadmap-2027-2030.toml")
}

/// 50 firms of the power scenario trading one month (December), 2% auctioned at
/// four auctions (oversubscribed: the short firms bid for more).
fn auctioned(seed: u64) -> Scenario {
    let mut scenario = Scenario::load(&scenarios().join("cn-power-2021.toml"))
        .expect("scenario loads")
        .with_entities(50)
        .with_seed(seed);
    scenario.trading.window = Some(["2023-12-01".into(), "2023-12-29".into()]);
    scenario.design.auction_share = 0.02;
    scenario
}

fn run(scenario: &Scenario) -> (YearSummary, Engine) {
    let mut engine = Engine::new();
    let summary = run_year(scenario, &mut engine).expect("the year runs");
    engine.check_invariants().expect("registry invariants hold");
    (summary, engine)
}

fn cea_2021() -> UnitClass {
    UnitClass::Allowance {
        scheme: ets_model::Code::try_new("CEA").expect("code"),
        vintage: ets_model::Vintage(2021),
    }
}

/// Tonnes the exchange settled at auctions.
fn auction_settlements(engine: &Engine) -> u64 {
    engine
        .exchange()
        .trades()
        .iter()
        .filter(|t| t.mode == TradeMode::Auction)
        .map(|t| t.quantity.tonnes())
        .sum()
}

fn tonnes(mt: f64) -> u64 {
    (mt * 1e6).round() as u64
}

#[test]
fn the_reserve_releases_above_its_trigger_and_conserves_every_unit() {
    let mut scenario = auctioned(31);
    scenario.design.reserve = ReserveDesign {
        stock_mt: 0.2,
        // Any clearing price is above one fen: every auction may sell reserve units.
        release_above_yuan: 0.01,
        release_mt: 0.05,
        ..ReserveDesign::default()
    };
    let (summary, engine) = run(&scenario);
    let (plain, plain_engine) = run(&auctioned(31));
    assert_eq!(tonnes(summary.reserve_stock_mt), 200_000);
    assert!(summary.reserve_released_mt > 0.0, "{summary:?}");
    assert_eq!(summary.reserve_withheld_mt, 0.0);
    // Issued into the reserve = sold out of it + what it still holds.
    let end = held(&engine, RESERVE_ACCOUNT, &cea_2021());
    assert_eq!(tonnes(summary.reserve_end_mt), end);
    assert_eq!(
        tonnes(summary.reserve_stock_mt),
        tonnes(summary.reserve_released_mt) + end
    );
    // The released units are auction sales, reported with them; the rest of the
    // sales came out of the design's auction volume, whose unsold part is still in the
    // auction account (the same volume as in the run without a reserve).
    let sold = auction_settlements(&engine);
    assert_eq!(tonnes(summary.volume_auction_mt), sold);
    let auction_volume = |engine: &Engine, sold: u64, released: u64| {
        held(engine, AUCTION_ACCOUNT, &cea_2021()) + sold - released
    };
    assert_eq!(
        auction_volume(&engine, sold, tonnes(summary.reserve_released_mt)),
        auction_volume(&plain_engine, auction_settlements(&plain_engine), 0)
    );
    assert_eq!(plain.reserve_released_mt, 0.0);
}

#[test]
fn the_reserve_withholds_auction_volume_below_its_trigger() {
    let mut scenario = auctioned(32);
    scenario.design.reserve = ReserveDesign {
        // Every close is below 10,000 yuan/t: every auction after the first close
        // sends half its volume to the reserve.
        withhold_below_yuan: 10_000.0,
        withhold_share: 0.5,
        ..ReserveDesign::default()
    };
    let (summary, engine) = run(&scenario);
    let (plain, _) = run(&auctioned(32));
    assert_eq!(summary.reserve_stock_mt, 0.0);
    assert!(summary.reserve_withheld_mt > 0.0, "{summary:?}");
    let end = held(&engine, RESERVE_ACCOUNT, &cea_2021());
    assert_eq!(end, tonnes(summary.reserve_withheld_mt));
    assert!(
        summary.volume_auction_mt < plain.volume_auction_mt,
        "{} vs {}",
        summary.volume_auction_mt,
        plain.volume_auction_mt
    );
}

#[test]
fn auction_sales_are_reported_apart_and_equal_the_engines_auction_settlements() {
    let (summary, engine) = run(&auctioned(33));
    assert!(summary.volume_auction_mt > 0.0);
    assert_eq!(
        tonnes(summary.volume_auction_mt),
        auction_settlements(&engine)
    );
    let secondary: u64 = engine
        .exchange()
        .trades()
        .iter()
        .filter(|t| t.mode != TradeMode::Auction)
        .map(|t| t.quantity.tonnes())
        .sum();
    assert_eq!(tonnes(summary.traded_mt), secondary);
    let by_mode = summary.volume_listed_mt + summary.volume_block_mt + summary.volume_continuous_mt;
    assert_eq!(tonnes(by_mode), secondary);
}

#[test]
fn the_roadmap_file_gives_one_scenario_a_year_on_its_cap_and_auction_paths() {
    let scenario = Scenario::load(&roadmap_file()).expect("the roadmap loads");
    let years = ets_sim::roadmap::expand(&scenario);
    assert_eq!(
        years.iter().map(|(y, _, _)| *y).collect::<Vec<_>>(),
        vec![2027, 2028, 2029, 2030]
    );
    let caps: Vec<f64> = years
        .iter()
        .map(|(_, _, s)| s.design.absolute_cap_mt)
        .collect();
    assert!(caps.windows(2).all(|w| w[1] < w[0]), "{caps:?}");
    let shares: Vec<f64> = years
        .iter()
        .map(|(_, _, s)| s.design.auction_share)
        .collect();
    assert!((shares[0] - 0.02).abs() < 1e-12 && (shares[3] - 0.10).abs() < 1e-12);
    for (_, title, year) in &years {
        assert!(year.roadmap.is_none());
        assert_eq!(
            year.design.participation,
            ets_sim::scenario::Participation::ComplianceOnly
        );
        assert!(year.design.reserve.stock_mt > 0.0);
        assert!(title.contains("auctioned"), "{title}");
    }
}

#[test]
fn a_tighter_cap_path_raises_the_price() {
    let base = Scenario::load(&roadmap_file())
        .expect("the roadmap loads")
        .with_entities(60)
        .with_seed(21);
    let mut roadmap = base.roadmap.clone().expect("a roadmap");
    // A steep path: the last year's cap 12% below the first's.
    roadmap.sectors[0].reduction_per_year = 0.04;
    roadmap.reserve = ReserveDesign::default();
    let (first, _) = run(&roadmap.year_scenario(&base, roadmap.first_year));
    let (last, _) = run(&roadmap.year_scenario(&base, roadmap.last_year));
    assert!(
        last.clearing_price > first.clearing_price,
        "p* {} vs {}",
        last.clearing_price,
        first.clearing_price
    );
    assert!(
        last.average_price > first.average_price,
        "{} vs {}",
        last.average_price,
        first.average_price
    );
}

/// The roadmap file with `from` replaced by `to`, written to a temporary folder
/// beside a copy of nothing else (the rulebook path is absolute).
fn broken(from: &str, to: &str) -> (tempfile::TempDir, PathBuf) {
    let text = std::fs::read_to_string(roadmap_file()).expect("reads");
    assert!(text.contains(from), "{from}");
    let rulebook = scenarios().join("../schemes/cn-power-2021.toml");
    let text = text.replace(from, to).replace(
        "rulebook = \"../schemes/cn-power-2021.toml\"",
        &format!("rulebook = {:?}", rulebook.display().to_string()),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad-roadmap.toml");
    std::fs::write(&path, text).expect("writes");
    (dir, path)
}

fn refusal(from: &str, to: &str) -> (String, PathBuf, tempfile::TempDir) {
    let (dir, path) = broken(from, to);
    let error = Scenario::load(&path).expect_err("refused");
    let error = error
        .downcast::<ets_sim::scenario::ScenarioError>()
        .expect("a scenario error");
    assert!(
        ["scenario_malformed", "scenario_invalid"].contains(&error.code()),
        "{error}"
    );
    (error.to_string(), path, dir)
}

#[test]
fn a_bad_roadmap_is_refused_naming_file_key_and_value() {
    let cases = [
        // A misspelt key.
        (
            "auction_share_last = 0.10",
            "auction_share_lats = 0.10",
            "roadmap.auction_share_lats",
            "",
        ),
        // A share above 1.
        (
            "auction_share_last = 0.10",
            "auction_share_last = 1.5",
            "roadmap.auction_share_last",
            "1.5",
        ),
        // An unknown sector.
        (
            "name = \"cement\"",
            "name = \"glass\"",
            "roadmap.sectors[2].name",
            "glass",
        ),
        // A path that leaves no cap.
        (
            "cap_mt = 4350.0                       # assumption\nreduction_per_year = 0.015",
            "cap_mt = 4350.0\nreduction_per_year = 0.5",
            "roadmap.sectors[0].reduction_per_year",
            "0.5",
        ),
        // A withholding trigger above the release trigger.
        (
            "withhold_below_yuan = 40.0",
            "withhold_below_yuan = 90.0",
            "roadmap.reserve.withhold_below_yuan",
            "90",
        ),
        // Years in the wrong order.
        (
            "last_year = 2030",
            "last_year = 2026",
            "roadmap.last_year",
            "2026",
        ),
    ];
    for (from, to, key, value) in cases {
        let (message, path, dir) = refusal(from, to);
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains(key), "{key}: {message}");
        assert!(message.contains(value), "{value}: {message}");
        // Nothing written beside the file.
        let files = std::fs::read_dir(dir.path()).expect("dir").count();
        assert_eq!(files, 1, "{message}");
    }
}
