//! A small scenario through the engine end to end: invariants, determinism,
//! and the summary against the engine's own compliance results.

use ets_engine::Engine;
use ets_engine::compliance::EntityStatus;
use ets_sim::agents::abated_population;
use ets_sim::year::{entity_participant, status_counts, true_emissions_tonnes};
use ets_sim::{RunOptions, Scenario, run_year, run_year_in_store};
use std::path::Path;

fn small(seed: u64) -> Scenario {
    let mut scenario = Scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/cn-power-2021.toml"),
    )
    .expect("scenario loads")
    .with_entities(50)
    .with_seed(seed);
    // Enough misbehaviour in 50 firms to exercise flags, corrections and shortfalls.
    scenario.behaviour.under_reporter_share = 0.10;
    scenario.behaviour.shortfall_share = 0.06;
    scenario
}

#[test]
fn a_small_year_runs_end_to_end_and_the_summary_matches_the_engine() {
    let scenario = small(42);
    let mut engine = Engine::new();
    let summary = run_year(&scenario, &mut engine).expect("the year runs");
    engine.check_invariants().expect("registry invariants hold");
    let results = engine
        .compliance()
        .closed_results("cn-power-2021", 2021)
        .expect("closed")
        .to_vec();
    assert_eq!(results.len(), 50);
    assert_eq!(summary.entities, 50);
    let [compliant, short, missing] = status_counts(&results);
    assert_eq!(
        (
            summary.compliant,
            summary.shortfall_entities,
            summary.no_verified_report
        ),
        (compliant, short, missing)
    );
    assert_eq!(missing, 0, "every report verified or corrected");
    let verified: u64 = results
        .iter()
        .filter_map(|r| r.verified_emissions)
        .map(|q| q.tonnes())
        .sum();
    assert!((summary.verified_emissions_mt - verified as f64 / 1e6).abs() < 1e-9);
    let shortfall: u64 = results.iter().map(|r| r.shortfall.tonnes()).sum();
    assert!((summary.shortfall_mt - shortfall as f64 / 1e6).abs() < 1e-9);

    // MRV reproduces the generator's emissions after abatement; under-reporters were
    // corrected to the truth.
    let (population, _) = abated_population(&scenario).expect("generates");
    for entity in &population.entities {
        let line = results
            .iter()
            .find(|r| r.entity == entity_participant(entity.index))
            .expect("a line per entity");
        let verified = line.verified_emissions.expect("verified").tonnes();
        let truth = true_emissions_tonnes(entity);
        assert!(
            verified.abs_diff(truth) <= entity.units.len() as u64,
            "{verified} vs {truth}"
        );
        // The designated defaulters fall short; others only when the market ran dry.
        if entity.shortfall > 0.0 || summary.unmet_demand_mt == 0.0 {
            assert_eq!(
                line.status == EntityStatus::Shortfall,
                entity.shortfall > 0.0,
                "{line:?}"
            );
        }
    }
    assert!(summary.under_reporters > 0 && summary.reports_corrected == summary.under_reporters);
    assert!(summary.shortfall_entities > 0);
    assert!(summary.fines_min_yuan >= 20_000.0 * summary.shortfall_entities as f64);
    // Trades: priced around 42.85, mostly in Nov-Dec.
    assert!(summary.trades > 0);
    assert!(
        (summary.average_price - 42.85).abs() < 4.0,
        "{}",
        summary.average_price
    );
    let late: u64 = summary
        .daily_volume
        .iter()
        .filter(|(day, _)| day.as_str() >= "2023-11-01")
        .map(|(_, v)| v)
        .sum();
    // Mostly: with output answering the carbon cost (the scenario's output response) this
    // 50-firm market trades 56% of its volume from November.
    assert!(
        late as f64 > 0.5 * summary.traded_mt * 1e6,
        "late volume {late} of {} Mt",
        summary.traded_mt
    );
    // The trades went through the exchange: blocks from 100,000 t, listed below,
    // inside the bands, nothing left resting or held, closes on each trading day.
    let records = engine.exchange().trades();
    assert_eq!(records.len(), summary.trades);
    let volume: u64 = records.iter().map(|r| r.quantity.tonnes()).sum();
    assert!((summary.traded_mt - volume as f64 / 1e6).abs() < 1e-9);
    let blocks = records
        .iter()
        .filter(|r| r.mode == ets_market::TradeMode::Block)
        .count();
    assert_eq!(blocks, summary.block_trades);
    for record in records {
        let block = record.quantity.tonnes() >= ets_sim::year::BLOCK_MINIMUM_TONNES;
        assert_eq!(record.mode == ets_market::TradeMode::Block, block);
        let yuan = record.price.ticks() as f64 / 100.0;
        assert!((42.85 * 0.7..=42.85 * 1.3).contains(&yuan), "{record:?}");
    }
    assert!((0.0..=1.0).contains(&summary.block_share));
    assert!(engine.exchange().unit_holds().is_empty());
    assert!(!summary.daily_close.is_empty());
    assert!(summary.daily_close.len() >= summary.daily_volume.len());
    for pair in summary.daily_close.windows(2) {
        assert!(
            pair[1].1 >= pair[0].1 * 0.9 - 0.01 && pair[1].1 <= pair[0].1 * 1.1 + 0.01,
            "{pair:?}"
        );
    }
    let markdown = summary.to_markdown();
    assert!(markdown.contains("| Block share of volume |"), "{markdown}");
    assert!(
        markdown.contains("| Average price (yuan/t) |"),
        "{markdown}"
    );
    assert!(markdown.contains("42.85"));
}

#[test]
fn the_same_seed_gives_the_same_state_hash() {
    let run = |seed| {
        let mut engine = Engine::new();
        run_year(&small(seed), &mut engine).expect("runs");
        engine.state_hash()
    };
    assert_eq!(run(9), run(9));
    assert_ne!(run(9), run(10));
}

#[test]
fn a_journaled_run_replays_to_the_same_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store_dir = dir.path().join("store");
    let (summary, store) =
        run_year_in_store(&small(5), &store_dir, RunOptions::default()).expect("runs in a store");
    let hash = store.engine().state_hash();
    drop(store);
    let reopened = ets_store::Store::open_read_only(&store_dir).expect("reopens");
    assert_eq!(reopened.engine().state_hash(), hash);
    let mut engine = Engine::new();
    let direct = run_year(&small(5), &mut engine).expect("runs");
    assert_eq!(engine.state_hash(), hash, "store and engine paths agree");
    assert_eq!(direct.state_hash, summary.state_hash);
    ets_sim::write_report(dir.path(), &summary).expect("writes");
    assert!(dir.path().join("report.md").exists() && dir.path().join("daily_volume.svg").exists());
}

#[test]
fn flexibilities_stay_within_the_rulebook_limits_and_close_the_gap() {
    let scenario = small(42);
    assert!(scenario.flexibility.borrowing && scenario.flexibility.ccer_supply_share > 0.0);
    let mut engine = Engine::new();
    let summary = run_year(&scenario, &mut engine).expect("the year runs");
    engine.check_invariants().expect("registry invariants hold");
    let results = engine
        .compliance()
        .closed_results("cn-power-2021", 2021)
        .expect("closed")
        .to_vec();
    assert!(summary.banked_2020_mt > 0.0 && summary.ccer_sold_mt > 0.0);
    assert!(
        summary.borrowers > 0 && summary.borrowed_mt > 0.0,
        "{summary:?}"
    );
    let mut offsets = 0u64;
    for line in &results {
        // CCER within 5% of the obligation.
        assert!(
            line.offsets_used.tonnes() * 20 <= line.obligation.tonnes(),
            "{line:?}"
        );
        offsets += line.offsets_used.tonnes();
        let borrowed = engine
            .compliance()
            .allocation(line.entity, 2021)
            .map_or(0, |record| record.borrowed.tonnes());
        if borrowed > 0 {
            // Only above a 10% gap rate, at most half the gap.
            let verified = line.verified_emissions.expect("verified").tonnes();
            let gap = verified - line.allocation.tonnes();
            assert!(gap * 10 > verified && borrowed * 2 <= gap, "{line:?}");
        }
    }
    assert!((summary.ccer_sold_mt - offsets as f64 / 1e6).abs() < 1e-9);
    assert_eq!(summary.unmet_demand_mt, 0.0);
    assert_eq!(summary.compliant + summary.shortfall_entities, 50);

    // Without flexibilities nothing is borrowed, banked or offset.
    let mut bare = small(42);
    bare.flexibility = ets_sim::scenario::Flexibility::default();
    let summary = run_year(&bare, &mut Engine::new()).expect("runs");
    assert_eq!(
        (
            summary.borrowers,
            summary.banked_2020_mt,
            summary.ccer_sold_mt
        ),
        (0, 0.0, 0.0)
    );
}

/// 50 firms, one month of trading (December).
fn month(seed: u64) -> Scenario {
    let mut scenario = small(seed);
    scenario.trading.window = Some(["2023-12-01".into(), "2023-12-29".into()]);
    scenario
}

fn run(scenario: &Scenario) -> (ets_sim::YearSummary, Engine) {
    let mut engine = Engine::new();
    let summary = run_year(scenario, &mut engine).expect("the year runs");
    engine.check_invariants().expect("invariants hold");
    (summary, engine)
}

#[test]
fn a_month_of_trading_is_deterministic_and_orders_stay_in_sessions() {
    let (a, engine) = run(&month(7));
    let (b, _) = run(&month(7));
    assert_eq!(a.state_hash, b.state_hash);
    assert!(a.trades > 0, "{a:?}");
    assert!(engine.exchange().unit_holds().is_empty());
    // Every trade inside a session, Beijing time: listed 09:30-11:30 / 13:00-15:00,
    // block 13:00-15:00, weekdays; all in December.
    for record in engine.exchange().trades() {
        let local = (record.at.0 + 8 * 3_600_000).rem_euclid(86_400_000) / 60_000;
        let weekday = ((record.at.0 + 8 * 3_600_000).div_euclid(86_400_000) + 3).rem_euclid(7);
        assert!(weekday < 5, "{record:?}");
        let afternoon = (780..900).contains(&local);
        match record.mode {
            ets_market::TradeMode::Block => assert!(afternoon, "{record:?}"),
            ets_market::TradeMode::Listed => {
                assert!(afternoon || (570..690).contains(&local), "{record:?}");
            }
            _ => {}
        }
        assert!(ets_sim::report::civil_date(record.at.0).starts_with("2023-12"));
    }
    // The summary's series and distribution.
    assert_eq!(a.entity_positions_t.len(), 50);
    assert!(!a.daily_vwap.is_empty() && !a.daily_close.is_empty());
    assert!(a.daily_spread.iter().all(|(_, s)| *s > 0.0));
    assert!(a.turnover_ratio > 0.0 && a.price_volatility >= 0.0);
    assert_eq!(a.mrv_flags, a.reports_flagged);
    let volume =
        a.volume_listed_mt + a.volume_block_mt + a.volume_continuous_mt + a.volume_auction_mt;
    assert!((volume - a.traded_mt).abs() < 1e-9);
    let by_mode: u64 = a.daily_volume_by_mode.iter().flat_map(|d| d.1).sum();
    assert_eq!(by_mode as f64 / 1e6, a.traded_mt);
}

#[test]
fn firms_abate_and_the_least_cost_benchmark_is_below_the_compliance_cost() {
    let (summary, _) = run(&small(3));
    assert!(summary.abatement_mt > 0.0, "{summary:?}");
    assert!(summary.bau_emissions_mt > summary.true_emissions_mt);
    assert!(summary.least_cost_yuan > 0.0);
    assert!(summary.least_cost_yuan <= summary.abatement_cost_yuan + 1e-6);
    assert!(
        summary.least_cost_yuan <= summary.compliance_cost_yuan,
        "{summary:?}"
    );
    // Among covered firms only, what one buys another sells.
    assert!(
        summary.net_purchases_yuan.abs() < 1.0,
        "{}",
        summary.net_purchases_yuan
    );
}

#[test]
fn open_participation_adds_trading_participants() {
    let (base, _) = run(&small(11));
    let mut open = small(11);
    open.design.participation = ets_sim::scenario::Participation::Open;
    // A market of 50 firms: a few small institutions (200 million yuan each would buy
    // the whole market).
    open.design.institutions = 5;
    open.design.institution_budget_yuan = 2_000_000.0;
    let (summary, _) = run(&open);
    assert_eq!(summary.institutions, 5);
    assert!(summary.traders > 0 && summary.traders <= summary.trading_participants);
    assert!(
        summary.trading_participants > base.trading_participants,
        "{} vs {}",
        summary.trading_participants,
        base.trading_participants
    );
}

#[test]
fn an_absolute_cap_fixes_the_total_allocation() {
    let (base, _) = run(&small(12));
    let mut capped = small(12);
    capped.design.cap = ets_sim::scenario::CapDesign::Absolute;
    let cap_t = (base.allocation_mt * 0.9 * 1e6).round();
    capped.design.absolute_cap_mt = cap_t / 1e6;
    let (summary, _) = run(&capped);
    // Each entity's allocation is rounded to the tonne once.
    assert!(
        (summary.allocation_mt * 1e6 - cap_t).abs() <= 50.0,
        "{} vs {cap_t}",
        summary.allocation_mt * 1e6
    );
}

#[test]
fn an_auction_share_is_sold_at_auction_and_free_allocation_falls() {
    let (base, _) = run(&small(13));
    let mut auctioned = small(13);
    auctioned.design.auction_share = 0.1;
    let (summary, engine) = run(&auctioned);
    assert!(summary.volume_auction_mt > 0.0, "{summary:?}");
    assert!(!summary.auction_prices.is_empty());
    assert!(summary.allocation_mt < base.allocation_mt * 0.91);
    assert!(
        engine
            .exchange()
            .trades()
            .iter()
            .any(|t| t.mode == ets_market::TradeMode::Auction)
    );
}

#[test]
fn a_price_floor_keeps_every_trade_at_or_above_it() {
    let mut floored = small(14);
    floored.design.price_floor_yuan = 44.0;
    floored.design.auction_share = 0.05;
    let (summary, engine) = run(&floored);
    assert!(summary.trades > 0);
    for record in engine.exchange().trades() {
        assert!(record.price.ticks() >= 4_400, "{record:?}");
    }
}

#[test]
fn the_continuous_design_trades_in_one_book() {
    let mut continuous = small(15);
    continuous.design.trading = ets_sim::scenario::TradingDesign::Continuous;
    let (summary, _) = run(&continuous);
    assert!(summary.volume_continuous_mt > 0.0);
    assert_eq!(summary.volume_listed_mt + summary.volume_block_mt, 0.0);
}

#[test]
fn the_variant_files_parse_as_overlays() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/variants");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("variants") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("reads");
        let value: toml::Table = toml::from_str(&text).expect("toml");
        assert!(value.contains_key("title") && value.contains_key("description"));
        if value.contains_key("roadmap") {
            // A roadmap variant: an overlay of the roadmap scenario that changes it.
            let roadmap = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../scenarios/cn-roadmap-2027-2030.toml");
            let variant = ets_sim::compare::Variant::load(&path).expect("variant loads");
            let changed = variant.apply(&roadmap).expect("applies to the roadmap");
            let plain = Scenario::load(&roadmap).expect("roadmap loads");
            assert_ne!(changed.roadmap, plain.roadmap, "{path:?}");
            continue;
        }
        let design = value.get("design").expect("a [design] table").clone();
        let design: ets_sim::scenario::Design = design.try_into().expect("valid design keys");
        assert_ne!(design, ets_sim::scenario::Design::default(), "{path:?}");
        count += 1;
    }
    assert!(count >= 5);
}

fn sixty(seed: u64) -> Scenario {
    Scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/cn-power-2021.toml"),
    )
    .expect("scenario loads")
    .with_entities(60)
    .with_seed(seed)
}

#[test]
fn a_scarce_cap_raises_the_expected_price_abatement_and_the_price() {
    let scenario = sixty(21);
    let anchor = scenario.market.price_mean;
    let (base, _) = run(&scenario);
    assert!(base.clearing_price <= anchor, "{}", base.clearing_price);
    let mut capped = sixty(21);
    capped.design.cap = ets_sim::scenario::CapDesign::Absolute;
    // Well below BAU: 94% of the BAU emissions.
    capped.design.absolute_cap_mt = (base.bau_emissions_mt * 0.94 * 1e6).round() / 1e6;
    let (scarce, engine) = run(&capped);
    engine.check_invariants().expect("invariants hold");
    assert!(
        scarce.clearing_price > anchor,
        "p* {}",
        scarce.clearing_price
    );
    assert!(
        scarce.abatement_mt > base.abatement_mt,
        "{} vs {}",
        scarce.abatement_mt,
        base.abatement_mt
    );
    assert!(
        scarce.average_price > base.average_price,
        "{} vs {}",
        scarce.average_price,
        base.average_price
    );
    let by_entity = scarce.compliant as f64 / scarce.entities as f64;
    assert!(by_entity >= 0.9, "compliance by entity {by_entity}");
}

#[test]
fn the_output_given_up_is_valued_and_nothing_without_an_output_response() {
    // Goal: with the scenario's output response some firms change their output, and the
    // summary values it (half the MWh changed times the carbon cost per MWh that moved
    // it: positive); with the response off no output changes and the value is 0. It is
    // reported apart from the compliance cost, which does not change by it.
    let responding = small(9);
    let (with, _) = run(&responding);
    assert!(with.lost_output_yuan > 0.0, "{}", with.lost_output_yuan);
    let mut fixed = small(9);
    fixed.abatement.output_elasticity = 0.0;
    let (without, _) = run(&fixed);
    assert_eq!(without.lost_output_yuan, 0.0);
    assert_eq!(
        with.compliance_cost_yuan,
        with.abatement_cost_yuan + with.net_purchases_yuan + with.penalties_yuan
    );
}
