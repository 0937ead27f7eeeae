//! Multi-year runs (scenarios/cn-power-2019-2025.toml, small): the periods 2019-2020
//! to 2024 in one engine, deterministic for a seed; holdings carry over; the 2024
//! close applies the carry-over cap; the first window's reference price does not pin
//! the later years' prices.

use ets_engine::exchange::TradeVenue;
use ets_sim::multiyear::{Chain, market_years, run_in_memory};
use std::path::Path;

fn chain(entities: u32, seed: u64) -> Chain {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/cn-power-2019-2025.toml");
    Chain::load(&path)
        .expect("the chain loads")
        .with_entities(entities)
        .with_seed(seed)
}

#[test]
fn a_small_chain_runs_every_period_and_is_deterministic() {
    // Goal: 60 entities through 2019-2020 .. 2025: six periods closed in five steps (2021
    // and 2022 share the 2023 window); the same seed gives the same state hash, another
    // seed another.
    let (first, engine) = run_in_memory(&chain(60, 7)).expect("the chain runs");
    let labels: Vec<&str> = first.periods.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(
        labels,
        ["2019-2020", "2021", "2022", "2023", "2024", "2025"]
    );
    let steps: Vec<usize> = first.periods.iter().map(|p| p.step).collect();
    assert_eq!(steps, [0, 1, 1, 2, 3, 4]);
    for period in &first.periods {
        assert!(period.verified > 0 && period.allocation > 0, "{period:?}");
        assert_eq!(period.compliant + period.shortfall, 60, "{period:?}");
    }
    let (_, again) = run_in_memory(&chain(60, 7)).expect("the chain runs again");
    assert_eq!(engine.state_hash(), again.state_hash());
    let (_, other) = run_in_memory(&chain(60, 8)).expect("another seed");
    assert_ne!(engine.state_hash(), other.state_hash());
    let years: Vec<i32> = market_years(&first.trades).iter().map(|m| m.year).collect();
    // The 2025 period settles in 2026; 2022 trades in the foreseen window of 2021-22.
    assert_eq!(
        years,
        [2021, 2022, 2023, 2024, 2025, 2026],
        "trading in each settling window and in 2022"
    );
}

#[test]
fn later_windows_take_their_price_from_the_market_not_the_scenario() {
    // Goal: after the first window, the listing reference and the firms' expected price come
    // from the previous window's close (an output), so the price inputs of the later period
    // scenarios do not matter: setting them to 500 yuan/t leaves the run (its state hash)
    // unchanged. The first window's reference is an input and does change it.
    let base = chain(30, 11);
    let mut anchored = base.clone();
    for period in anchored.periods.iter_mut().skip(1) {
        period.market.price_mean = 500.0;
        period.abatement.expected_price = 500.0;
    }
    let (_, plain) = run_in_memory(&base).expect("runs");
    let (_, changed) = run_in_memory(&anchored).expect("runs");
    assert_eq!(plain.state_hash(), changed.state_hash());
    let mut first = base.clone();
    first.periods[0].market.price_mean = 60.0;
    let (_, moved) = run_in_memory(&first).expect("runs");
    assert_ne!(plain.state_hash(), moved.state_hash());
}

#[test]
fn firms_trade_the_banked_vintage_in_2022_on_their_foreseen_positions() {
    // Goal: 2021 and 2022 are settled in one 2023 window, but the firms trade in 2022
    // already (docs/simulation.md, "The foreseen window"): from the first trading day after
    // the 2021 emissions are verified to the end of 2022, before any 2021 or 2022
    // allocation is issued, so only the 2019-2020 vintage (CEA20) trades then, and the
    // later years' instruments trade only in their own windows.
    let (outcome, engine) = run_in_memory(&chain(300, 7)).expect("the chain runs");
    let bought = market_years(&outcome.trades);
    let years: Vec<i32> = bought.iter().map(|m| m.year).collect();
    assert_eq!(years, [2021, 2022, 2023, 2024, 2025, 2026]);
    let local_day = |ms: i64| (ms + 8 * 3_600_000).div_euclid(86_400_000);
    let year_2022 = ets_time::days_from_civil(2022, 1, 1)..ets_time::days_from_civil(2023, 1, 1);
    let window = ets_time::days_from_civil(2022, 7, 4)..=ets_time::days_from_civil(2022, 12, 30);
    let mut in_2022 = 0;
    for record in engine.exchange().trades().iter() {
        let day = local_day(record.at.0);
        if !year_2022.contains(&day) {
            continue;
        }
        let TradeVenue::Instrument(symbol) = record.venue else {
            panic!("an auction in 2022: {record:?}");
        };
        assert!(
            symbol.as_str().starts_with("CEA20"),
            "{symbol} traded in 2022"
        );
        assert!(window.contains(&day), "{symbol} traded on day {day}");
        in_2022 += record.quantity.tonnes();
    }
    assert!(in_2022 > 0, "the 2022 window traded");
    assert_eq!(
        in_2022, bought[1].tonnes,
        "every 2022 trade is the window's"
    );
}
