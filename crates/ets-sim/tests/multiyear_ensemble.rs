//! Ensembles of a chain (scenarios/cn-power-2019-2025.toml, small): every member is the
//! chain run alone with its seed (the same state hash and market), the bands hold every
//! member's figures, and an impossible member count is refused with nothing written.

use ets_sim::multiyear::{Chain, market_years, run_ensemble, run_in_memory, year_bands};
use std::path::Path;

fn chain(entities: u32) -> Chain {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/cn-power-2019-2025.toml");
    Chain::load(&path)
        .expect("the chain loads")
        .with_entities(entities)
}

#[test]
fn each_member_is_the_single_run_of_its_seed_and_lies_in_the_bands() {
    // Goal: three members journaled on two threads; member k has seed = chain seed + k,
    // reaches the state hash and the market of the chain run alone in memory with that
    // seed; each year's median and 5-95% band lie between the lowest and highest member,
    // which are the single runs' extremes; the report carries the warning and the bands.
    let base = chain(30);
    let out = tempfile::tempdir().expect("a temporary directory");
    let members = run_ensemble(out.path(), &base, 3, 2, false).expect("the ensemble runs");
    let seeds: Vec<u64> = members.iter().map(|m| m.seed).collect();
    let first = base.header.seed;
    assert_eq!(seeds, [first, first + 1, first + 2]);
    let mut singles = Vec::new();
    for member in &members {
        let (outcome, engine) =
            run_in_memory(&base.clone().with_seed(member.seed)).expect("the single run");
        assert_eq!(member.run.state_hash, engine.state_hash().to_string());
        let years = market_years(&outcome.trades);
        assert_eq!(member.years, years, "seed {}", member.seed);
        assert!(
            out.path()
                .join(format!("seed-{}/store", member.seed))
                .is_dir()
        );
        singles.push(years);
    }
    for year in [2021, 2023, 2024] {
        let (volume, price) = year_bands(&members, year);
        let price = price.expect("every member trades in a settling year");
        for years in &singles {
            let single = years.iter().find(|y| y.year == year).expect("traded");
            let mt = single.tonnes as f64 / 1e6;
            assert!(
                volume.lowest <= mt && mt <= volume.highest,
                "{year}: {mt} {volume:?}"
            );
            let avg = single.average;
            assert!(
                price.lowest <= avg && avg <= price.highest,
                "{year}: {avg} {price:?}"
            );
        }
        for band in [volume, price] {
            assert!(
                band.lowest <= band.low && band.low <= band.median,
                "{band:?}"
            );
            assert!(
                band.median <= band.high && band.high <= band.highest,
                "{band:?}"
            );
        }
    }
    let report = std::fs::read_to_string(out.path().join("report.md")).expect("report");
    assert!(report.contains("**Warning:** 3 seed(s)"), "{report}");
    assert!(report.contains("| 2023 | calibration |"), "{report}");
    every_chart_plots_what_its_title_says(out.path(), &base, &members, &report);
}

/// The ensemble's two charts: each title names its figure and both its series
/// (simulated with its band, published), the simulated medians and bands are the
/// members' per calendar year, the published line is the chain's figures, and the
/// drawn SVG and the report carry the title.
fn every_chart_plots_what_its_title_says(
    out: &Path,
    chain: &Chain,
    members: &[ets_sim::multiyear::ChainMember],
    report: &str,
) {
    use ets_sim::figure::Plot;
    use ets_sim::multiyear::charts::{Figure, PUBLISHED, SIMULATED, ensemble_chart};
    for figure in Figure::ALL {
        let chart = ensemble_chart(chain, members, figure);
        let title = chart.title.to_lowercase();
        assert!(title.contains(figure.words()), "{title}");
        assert!(
            title.contains("5-95% band") && title.contains("median"),
            "{title}"
        );
        assert_eq!(chart.series_names(), [SIMULATED, PUBLISHED]);
        for name in chart.series_names() {
            assert!(title.contains(name), "{title} names {name}");
        }
        assert_eq!(chart.y_label, figure.unit());
        let Plot::Bands { series, .. } = &chart.plot else {
            panic!("a band chart");
        };
        for &(x, low, median, high) in &series[0].1 {
            let (volume, price) = year_bands(members, x as i32);
            let band = match figure {
                Figure::Volume => volume,
                Figure::Price => price.expect("a year with trades"),
            };
            assert_eq!(
                (low, median, high),
                (band.low, band.median, band.high),
                "{x}"
            );
        }
        let published: Vec<f64> = chain
            .published
            .iter()
            .map(|p| match figure {
                Figure::Volume => p.traded_mt,
                Figure::Price => p.average_price,
            })
            .collect();
        let drawn: Vec<f64> = series[1].1.iter().map(|p| p.2).collect();
        assert_eq!(drawn, published);
        let file = ets_sim::multiyear::chart_file(figure);
        let svg = std::fs::read_to_string(out.join(&file)).expect("the chart is written");
        assert!(
            svg.contains(&ets_sim::charts::escape(&chart.title)),
            "{file}"
        );
        assert!(
            report.contains(&format!("]({file})")),
            "the report shows {file}"
        );
    }
}

#[test]
fn an_impossible_member_count_is_refused_with_nothing_written() {
    // Goal: 0 and 10,001 members are refused naming --seeds; the folder is not created.
    let base = chain(10);
    let root = tempfile::tempdir().expect("a temporary directory");
    let out = root.path().join("out");
    for count in [0, 10_001] {
        let error = run_ensemble(&out, &base, count, 1, true).expect_err("refused");
        assert!(error.to_string().contains("--seeds"), "{error}");
        assert!(!out.exists());
    }
}
