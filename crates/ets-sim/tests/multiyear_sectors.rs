//! The four-sector chain (scenarios/cn-four-sectors-2019-2026.toml, small): power from
//! 2019, steel, cement and aluminium from 2024 in one engine; the sector firms are
//! allocated by the engine each year, keep their accounts, carry their holdings, and the
//! run is deterministic for a seed. 2026 is settled in 2027 on the assumed calendar.

use ets_sim::multiyear::{Chain, market_years, run_in_memory};
use ets_sim::year::{entity_account, entity_participant};
use std::path::Path;

/// 40 power entities (the sectors scale with them: 450/800/80 firms of 2,200 -> 8/15/1).
fn chain(seed: u64) -> Chain {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios/cn-four-sectors-2019-2026.toml");
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
