//! The simulated block desk trades within +-30% of the listed book's previous close
//! (`TradingMode::ChinaBlockOf`), not of its own listing price: when the listed
//! close climbs more than 30% above the listing price, block agreements still trade,
//! above what the old band's top allowed.

use ets_engine::Engine;
use ets_market::TradeMode;
use ets_sim::report::civil_date;
use ets_sim::{Scenario, run_year};
use std::path::Path;

/// The listing reference of the scenario below, yuan/t: far under what the firms expect.
const LISTING_YUAN: f64 = 25.0;

/// 60 firms of the 2021 scenario that expect 42.85 yuan/t, on a market listed at 25.00.
fn listed_low(seed: u64) -> Scenario {
    let mut scenario = Scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/cn-power-2021.toml"),
    )
    .expect("scenario loads")
    .with_entities(60)
    .with_seed(seed);
    scenario.abatement.expected_price = scenario.market.price_mean;
    scenario.market.price_mean = LISTING_YUAN;
    scenario
}

#[test]
fn block_trades_follow_the_listed_close_above_the_listing_band() {
    // Goal: listed at 25.00 with firms valuing about 42.85, the listed close rises
    // more than 30% above the listing price; block agreements trade after that, some
    // above the listing band's top (which the old desk, centred on its own close,
    // refused), and every block trade is inside +-30% of the listed close of the
    // trading day before.
    let scenario = listed_low(5);
    let mut engine = Engine::new();
    let summary = run_year(&scenario, &mut engine).expect("the year runs");
    engine.check_invariants().expect("invariants hold");
    let listing = LISTING_YUAN.max(summary.clearing_price);
    let old_top = listing * 1.3;
    let first_high = summary
        .daily_close
        .iter()
        .find(|(_, close)| *close > old_top)
        .map(|(date, _)| date.clone())
        .expect("the listed close rises more than 30% above the listing price");
    let blocks: Vec<_> = engine
        .exchange()
        .trades()
        .iter()
        .filter(|record| record.mode == TradeMode::Block)
        .collect();
    let mut above = 0;
    for record in &blocks {
        let date = civil_date(record.at.unix_ms());
        let previous = summary
            .daily_close
            .iter()
            .rev()
            .find(|(day, _)| *day < date)
            .map_or(listing, |(_, close)| *close);
        let yuan = record.price.ticks() as f64 / 100.0;
        assert!(
            yuan >= previous * 0.7 - 0.01 && yuan <= previous * 1.3 + 0.01,
            "block trade at {yuan} on {date}, previous listed close {previous}"
        );
        if date > first_high && yuan > old_top + 0.01 {
            above += 1;
        }
    }
    assert!(
        above > 0,
        "{} block trades, none above {old_top:.2} after {first_high}",
        blocks.len()
    );
}
