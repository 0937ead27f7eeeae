//! The four-sector chain (scenarios/cn-four-sectors-2019-2030.toml, small): power from
//! 2019, steel, cement and aluminium from 2024 in one engine; the sector firms are
//! allocated by the engine each year, keep their accounts, carry their holdings, and the
//! run is deterministic for a seed. 2026 is settled in 2027 on the assumed calendar.

use ets_sim::multiyear::{Chain, market_years, run_in_memory};
use ets_sim::year::{entity_account, entity_participant};
use std::path::Path;

/// 40 power entities (the sectors scale with them: 450/800/80 firms of 2,200 -> 8/15/1).
fn chain(seed: u64) -> Chain {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios/cn-four-sectors-2019-2030.toml");
    Chain::load(&path)
        .expect("the chain loads")
        .with_entities(40)
        .with_seed(seed)
}

#[test]
fn the_four_sector_chain_runs_2019_to_2026_and_is_deterministic() {
    // Goal: every period closes, power's and each sector's from 2024; the sector periods'
    // allocation is the engine's (non-zero in the closed results); the same seed gives the
    // same state hash, another seed another; the 2026 period trades in 2027.
    let chain = chain(5);
    let firms: u32 = chain.periods[4].sectors.iter().map(|s| s.firms).sum();
    assert_eq!(firms, 8 + 15 + 1, "the sectors scale with the entities");
    let (outcome, engine) = run_in_memory(&chain).expect("the chain runs");
    let schemes: Vec<&str> = outcome.periods.iter().map(|p| p.scheme.as_str()).collect();
    for scheme in [
        "cn-power-2019-2020",
        "cn-power-2023",
        "cn-steel-2024",
        "cn-cement-2025",
        "cn-aluminium-2026",
        "cn-power-2026",
    ] {
        assert!(schemes.contains(&scheme), "{scheme} in {schemes:?}");
    }
    for period in &outcome.periods {
        assert!(period.verified > 0, "{period:?}");
        assert!(period.allocation > 0, "allocated by the engine: {period:?}");
    }
    let years: Vec<i32> = market_years(&outcome.trades)
        .iter()
        .map(|m| m.year)
        .collect();
    assert!(years.contains(&2027), "2026 settles in 2027: {years:?}");
    let (_, again) = run_in_memory(&chain).expect("runs again");
    assert_eq!(
        engine.state_hash(),
        again.state_hash(),
        "same seed, same state"
    );
    let (_, other) = run_in_memory(&self::chain(6)).expect("another seed");
    assert_ne!(engine.state_hash(), other.state_hash());
}

#[test]
fn sector_firms_keep_one_account_and_their_allocation_records_each_year() {
    // Goal: the first steel firm (entity index 40) is registered under each year's steel
    // rulebook with the same account, and the engine holds its allocation record for
    // 2024, 2025 and 2026 (pre-allocation from 2025, 70% of the year before).
    let (_, engine) = run_in_memory(&chain(5)).expect("the chain runs");
    let firm = entity_participant(40);
    for year in [2024u16, 2025, 2026] {
        let scheme = format!("cn-steel-{year}");
        let line = engine
            .compliance()
            .closed_results(&scheme, year)
            .expect("closed")
            .iter()
            .find(|line| line.entity == firm)
            .expect("the firm's line")
            .clone();
        assert_eq!(line.account, entity_account(40), "{scheme}");
        let record = engine
            .compliance()
            .allocation(firm, year)
            .expect("an allocation record");
        assert_eq!(Some(line.allocation), record.final_allocation, "{scheme}");
        assert_eq!(record.pre_allocated.is_some(), year >= 2025, "{scheme}");
    }
}

#[test]
fn roadmap_years_run_under_their_cap_auction_and_carry_the_reserve() {
    // Goal: 2027-2030 run on the 2027-2030 rulebooks with the roadmap's design: power's
    // free allocation is its cap (times the run's share of the market) less the auctioned
    // share (2% in 2027 rising to 10% in 2030), auctions sell in their settling windows,
    // and the reserve's holding is carried into each next year's vintage in the one store.
    let chain = chain(5);
    let roadmap = chain.periods[7]
        .roadmap
        .clone()
        .expect("2027 is a roadmap year");
    let (outcome, engine) = run_in_memory(&chain).expect("the chain runs");
    for year in 2027u16..=2030 {
        let plan = roadmap.year(year);
        let period = &chain.periods[usize::from(year - 2027) + 7];
        let cap = plan.simulated_cap_mt * 1e6 * ets_sim::roadmap::run_share(period);
        let free = cap * (1.0 - plan.auction_share);
        let allocation = outcome
            .periods
            .iter()
            .find(|p| p.scheme == format!("cn-power-{year}"))
            .expect("the power period")
            .allocation as f64;
        assert!(
            (allocation / free - 1.0).abs() < 0.01,
            "{year}: free allocation {allocation} vs cap less auction {free}"
        );
    }
    let auction_years: std::collections::BTreeSet<i64> = outcome
        .trades
        .iter()
        .filter(|t| t.mode == ets_market::TradeMode::Auction)
        .map(|t| t.time_ms / 31_556_952_000 + 1970)
        .collect();
    assert!(
        auction_years.contains(&2028) && auction_years.contains(&2031),
        "auctions in the 2027 and 2030 windows: {auction_years:?}"
    );
    let reserve = |vintage: u16| {
        let class = ets_model::UnitClass::Allowance {
            scheme: ets_model::Code::try_new("CEA").expect("code"),
            vintage: ets_model::Vintage(vintage),
        };
        ets_sim::year::held(&engine, ets_sim::reserve::RESERVE_ACCOUNT, &class)
    };
    assert!(
        reserve(2030) > 0,
        "the reserve ends holding the 2030 vintage"
    );
    for vintage in 2027..2030 {
        assert_eq!(
            reserve(vintage),
            0,
            "{vintage}: carried into the next vintage"
        );
    }
}

/// Loads a chain written to a temporary folder beside copies of `scenarios/` paths.
fn refused(period: &str) -> String {
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("chain.toml");
    let text = format!("[chain]\nname = \"t\"\nseed = 1\nentities = 10\n\n[[period]]\n{period}\n",)
        .replace("SCENARIOS", &scenarios.display().to_string());
    std::fs::write(&path, text).expect("write");
    format!("{:#}", Chain::load(&path).expect_err("refused"))
}

#[test]
fn a_bad_roadmap_period_is_refused_naming_file_key_and_value() {
    // Goal: a roadmap file that does not cover the period's year, one without a
    // [roadmap], and an unknown key are refused with the chain file, the key and the value.
    let outside = refused(
        "scenario = \"SCENARIOS/cn-four-sectors-2026.toml\"\nroadmap = \"SCENARIOS/cn-roadmap-2027-2030.toml\"",
    );
    assert!(
        outside.contains("chain.toml: period 1: roadmap")
            && outside.contains("cn-roadmap-2027-2030.toml")
            && outside.contains("2026"),
        "{outside}"
    );
    let none = refused(
        "scenario = \"SCENARIOS/cn-four-sectors-2027.toml\"\nroadmap = \"SCENARIOS/cn-power-2021.toml\"",
    );
    assert!(none.contains("has no [roadmap]"), "{none}");
    let misspelt = refused(
        "scenario = \"SCENARIOS/cn-four-sectors-2027.toml\"\nroadmaps = \"SCENARIOS/cn-roadmap-2027-2030.toml\"",
    );
    assert!(misspelt.contains("roadmaps"), "{misspelt}");
}
