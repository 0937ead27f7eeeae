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
fn roadmap_years_run_under_their_caps_auction_and_carry_the_reserve() {
    // Goal: 2027-2030 run on the 2027-2030 rulebooks with the roadmap's design: power's
    // free allocation is its cap (times the run's share of the market) less the auctioned
    // share (2% in 2027 rising to 10% in 2030), and so is each sector's (its cap times the
    // share of the sector the run's firms stand for), auctions sell in their settling windows,
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
    for year in 2027u16..=2030 {
        let plan = roadmap.year(year);
        for sector in &chain.periods[usize::from(year - 2027) + 7].sectors {
            let cap = plan
                .cap_of(&sector.sector)
                .expect("the roadmap caps every sector");
            let free = cap * 1e6 * sector.market_share * (1.0 - plan.auction_share);
            let allocation = outcome
                .periods
                .iter()
                .find(|p| p.scheme == format!("cn-{}-{year}", sector.sector))
                .expect("the sector's period")
                .allocation as f64;
            assert!(
                (allocation / free - 1.0).abs() < 0.01,
                "{year} {}: allocation {allocation} vs cap less auction {free}",
                sector.sector
            );
        }
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

/// The average price of calendar 2028 (the window that settles 2027) when the roadmap's
/// steel, cement and aluminium caps are `factor` times the file's.
fn price_settling_2027(factor: f64) -> f64 {
    let mut chain = chain(5);
    chain.periods.truncate(8);
    let roadmap = chain.periods[7]
        .roadmap
        .as_mut()
        .expect("2027 is a roadmap year");
    for sector in &mut roadmap.sectors {
        if sector.name != "power" {
            sector.cap_mt *= factor;
        }
    }
    let (outcome, _) = run_in_memory(&chain).expect("the chain runs");
    market_years(&outcome.trades)
        .into_iter()
        .find(|m| m.year == 2028)
        .expect("trading in 2028")
        .average
}

#[test]
fn a_tighter_sector_cap_raises_the_price() {
    // Goal: the sector caps bind through the engine's allocation, so cutting the steel,
    // cement and aluminium caps by 10% in 2027 makes the sectors short and the window that
    // settles 2027 clears higher.
    let as_written = price_settling_2027(1.0);
    let tighter = price_settling_2027(0.9);
    assert!(tighter > as_written, "{tighter} vs {as_written}");
}

/// The sector firms' lines (entity indexes after the 40 power entities: 8 steel, 15
/// cement and 1 aluminium firms).
const SECTOR_LINES: std::ops::Range<u32> = 40..64;

/// The chain to the 2025 close with every firm banking its surplus of its own accord;
/// `binding` false moves the sector rulebooks' carry-over cap past the run.
fn banking_to_2025(binding: bool, dir: &Path) -> Chain {
    let mut chain = chain(3);
    chain.periods.truncate(6);
    for period in &mut chain.periods {
        period.trading.sell_fraction = [0.0, 0.0];
        let year = period.scenario.year;
        for sector in period.sectors.iter_mut().filter(|_| !binding) {
            let text = std::fs::read_to_string(&sector.rulebook).expect("rulebook");
            let moved = text.replace(&format!("last_vintage = {year}"), "last_vintage = 2040");
            assert_ne!(text, moved, "{}: the cap binds at its close", sector.scheme);
            let path = dir.join(format!("{}.toml", sector.scheme));
            std::fs::write(&path, moved).expect("write");
            sector.rulebook = path;
        }
    }
    chain
}

#[test]
fn the_carry_over_cap_makes_sector_firms_sell_before_the_close() {
    // Goal: the 2024 carry-over rule (10,000 t + 1.5 x net sales, binding at each close
    // by assumption) applies to the sector firms too: under the 2025 intensity allocation
    // the long ones, though they would bank everything, sell their excess in the window
    // before the 2025 close, and after it the engine leaves none of them holding more
    // than its cap; with the cap moved past the run they sell nothing then (before the
    // window's last five trading days, 25-31 Dec 2026, when buyers pinned at the band's top
    // draw out what long firms held back).
    let dir = tempfile::tempdir().expect("tempdir");
    let start_2026 = ets_sim::year::date_ms(2025, 12, 31, 16);
    let last_days = ets_sim::year::date_ms(2026, 12, 25, 0);
    let sold = |outcome: &ets_sim::year::ChainOutcome| -> u64 {
        outcome
            .trades
            .iter()
            .filter(|t| (start_2026..last_days).contains(&t.time_ms))
            .filter(|t| SECTOR_LINES.contains(&t.seller))
            .map(|t| t.quantity)
            .sum()
    };
    let (unbound, _) = run_in_memory(&banking_to_2025(false, dir.path())).expect("runs");
    assert_eq!(sold(&unbound), 0, "nobody sells of their own accord");
    let (bound, engine) = run_in_memory(&banking_to_2025(true, dir.path())).expect("runs");
    assert!(sold(&bound) > 0, "sold ahead of the cap");
    for line in SECTOR_LINES {
        let net: i64 = bound
            .trades
            .iter()
            .map(|t| match (t.seller == line, t.buyer == line) {
                (true, false) => t.quantity as i64,
                (false, true) => -(t.quantity as i64),
                _ => 0,
            })
            .sum();
        let cap = 10_000 + net.max(0) as u64 * 3 / 2;
        let held: u64 = (2019u16..=2025)
            .map(|vintage| {
                let class = ets_model::UnitClass::Allowance {
                    scheme: ets_model::Code::try_new("CEA").expect("code"),
                    vintage: ets_model::Vintage(vintage),
                };
                ets_sim::year::held(&engine, entity_account(line), &class)
            })
            .sum();
        assert!(
            held <= cap + 1,
            "firm {line}: holds {held} t above its cap {cap}"
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
