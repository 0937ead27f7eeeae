//! Ensembles: members are the single-seed runs, whatever the number of threads, and
//! the bands contain every member.

use ets_engine::Engine;
use ets_sim::ensemble::{self, Band, Headline};
use ets_sim::{Scenario, run_year};
use std::path::Path;

fn small() -> Scenario {
    let mut scenario = Scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/cn-power-2021.toml"),
    )
    .expect("scenario loads")
    .with_entities(30)
    .with_seed(5);
    // One month of trading keeps each member to a fraction of a second.
    scenario.trading.window = Some(["2023-12-01".into(), "2023-12-29".into()]);
    scenario
}

#[test]
fn ensemble_members_are_the_single_seed_runs_and_the_bands_contain_them() {
    // Goal: a member of an ensemble is exactly the run of its seed alone (same state
    // hash on two threads as on one), and each figure's band holds every member.
    let scenario = small();
    let seeds = ensemble::seeds(scenario.scenario.seed, 5).expect("seeds");
    assert_eq!(seeds, vec![5, 6, 7, 8, 9]);
    let parallel = ensemble::run(&scenario, &seeds, 2).expect("ensemble runs");
    let serial = ensemble::run(&scenario, &seeds, 1).expect("ensemble runs");
    let hashes = |runs: &[ets_sim::YearSummary]| -> Vec<String> {
        runs.iter().map(|s| s.state_hash.clone()).collect()
    };
    assert_eq!(
        hashes(&parallel),
        hashes(&serial),
        "deterministic per member"
    );
    let alone = run_year(&scenario.clone().with_seed(7), &mut Engine::new()).expect("runs");
    assert_eq!(parallel[2].state_hash, alone.state_hash);
    assert_ne!(
        parallel[0].state_hash, parallel[1].state_hash,
        "seeds differ"
    );
    for (name, read) in ensemble::FIGURES {
        let values: Vec<f64> = parallel.iter().map(|s| read(&Headline::of(s))).collect();
        let band = Band::of(&values);
        assert!(
            band.low <= band.median && band.median <= band.high,
            "{name}"
        );
        let lowest = values.iter().copied().fold(f64::INFINITY, f64::min);
        let highest = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert!(
            band.low >= lowest && band.high <= highest,
            "{name}: within the members"
        );
        assert_eq!((band.lowest, band.highest), (lowest, highest), "{name}");
    }
    // The median member lies in every band; the table names each figure.
    let table = ensemble::to_markdown("small", &seeds, &parallel);
    assert!(table.contains("| Average price (yuan/t) |") && table.contains("rough"));
}

#[test]
fn quantiles_interpolate_and_impossible_ensembles_are_refused() {
    let band = Band::of(&[4.0, 1.0, 3.0, 2.0, 5.0]);
    assert_eq!(band.median, 3.0);
    assert!((band.low - 1.2).abs() < 1e-12 && (band.high - 4.8).abs() < 1e-12);
    assert!(band.contains(3.0) && !band.contains(0.5));
    for count in [0, ensemble::MAX_SEEDS + 1] {
        let error = ensemble::seeds(1, count).expect_err("refused").to_string();
        assert!(error.contains(&format!("--seeds {count}")), "{error}");
    }
}
