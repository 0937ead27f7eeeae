//! The generator against docs/sources.md#cn-calibration (generation only: fast).

use ets_sim::scenario::category_index;
use ets_sim::{Scenario, generate};
use std::path::Path;

fn full() -> Scenario {
    Scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/cn-power-2021.toml"),
    )
    .expect("scenario loads")
}

#[test]
fn the_full_population_matches_the_calibration_figures() {
    let scenario = full();
    let population = generate(&scenario).expect("generates");
    assert_eq!(population.entities.len(), 2_200);
    assert!((2_162..=2_257).contains(&population.entities.len()));
    for entity in &population.entities {
        assert!((1..=6).contains(&entity.units.len()));
    }
    let emissions = population.emissions_mt();
    assert!(
        (emissions - 4_500.0).abs() <= 450.0,
        "emissions {emissions} Mt"
    );
    let coal = population.coal_capacity_gw();
    assert!(
        (coal - 1_095.0).abs() <= 0.10 * 1_095.0,
        "coal capacity {coal} GW"
    );
    let usc = population.usc_share();
    assert!((usc - 0.32).abs() <= 0.04, "USC share {usc}");
    let load = population.coal_capacity_factor();
    assert!((load - 0.49).abs() <= 0.02, "capacity factor {load}");
    let shares = population.category_shares();
    assert!((shares[3] - 0.12).abs() <= 0.02, "gas share {shares:?}");
    assert!(shares[0] > shares[1] && shares[1] > shares[2], "{shares:?}");
}

#[test]
fn unit_intensities_follow_the_technology() {
    // docs/sources.md#cn-calibration: 0.78 (USC), 0.90 (SC), 0.98 (subcritical) t/MWh generated; gas 0.35-0.40.
    let population = generate(&full()).expect("generates");
    let mut sums = std::collections::BTreeMap::<&str, (f64, f64)>::new();
    for unit in population
        .entities
        .iter()
        .flat_map(|e| &e.units)
        .filter(|u| !u.chp)
    {
        let key = match unit.class.as_str() {
            c if c.starts_with("usc") => "usc",
            c if c.starts_with("sc") => "sc",
            c if c.starts_with("sub") => "sub",
            c if c.starts_with("gas") => "gas",
            _ => continue,
        };
        let slot = sums.entry(key).or_default();
        slot.0 += unit.emissions();
        slot.1 += unit.generation_mwh;
    }
    let intensity = |k: &str| sums[k].0 / sums[k].1;
    assert!(
        (intensity("usc") - 0.78).abs() < 0.03,
        "{}",
        intensity("usc")
    );
    assert!((intensity("sc") - 0.90).abs() < 0.03, "{}", intensity("sc"));
    assert!(
        (intensity("sub") - 0.98).abs() < 0.04,
        "{}",
        intensity("sub")
    );
    assert!(
        (0.35..=0.40).contains(&intensity("gas")),
        "{}",
        intensity("gas")
    );
    assert!(category_index(population.entities[0].units[0].category) < 4);
}

#[test]
fn the_same_seed_gives_the_same_population_and_another_seed_another() {
    let scenario = full().with_entities(300);
    let a = generate(&scenario).expect("generates");
    let b = generate(&scenario).expect("generates");
    assert_eq!(a, b);
    let c = generate(&scenario.with_seed(7)).expect("generates");
    assert_ne!(a, c);
}

#[test]
fn base_year_output_differs_from_the_compliance_year() {
    let population = generate(&full().with_entities(200)).expect("generates");
    let differing = population
        .entities
        .iter()
        .flat_map(|e| &e.units)
        .filter(|u| u.base_supply_mwh != u.supply_mwh)
        .count();
    assert!(differing > population.units() * 9 / 10);
}

#[test]
fn a_broken_scenario_is_refused_with_a_reason() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/cn-power-2021.toml"),
    )
    .expect("reads");
    let broken = text.replace("gas_share = 0.12", "gas_share = 1.5");
    let error = Scenario::parse(&broken, Path::new(".")).expect_err("refused");
    assert!(error.to_string().contains("share"), "{error}");
    let unknown = text.replace(
        "category = \"unconventional_coal\"",
        "category = \"lignite\"",
    );
    assert!(Scenario::parse(&unknown, Path::new(".")).is_err());
}
