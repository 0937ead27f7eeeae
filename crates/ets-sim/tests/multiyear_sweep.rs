//! Sweeps over a chain (`ets simulate multi CHAIN --set KEY=FROM..TO --steps K`): every
//! period takes the swept value, a tighter cap clears higher in each calendar year that
//! trades, the charts plot each year against the swept value, and a bad range or key is
//! refused naming the chain file, the period, the key and the value.

use ets_sim::multiyear::charts::{Figure, sweep_chart};
use ets_sim::multiyear::sweep::{points, run_sweep};
use ets_sim::multiyear::{Chain, year_bands};
use std::path::{Path, PathBuf};

/// A chain of the 2021 and 2023 power periods under an absolute cap (the swept
/// setting), written beside a temporary folder.
fn chain_file(dir: &Path) -> PathBuf {
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let period = |file: &str| {
        format!(
            "[[period]]\nscenario = \"{}\"\n[period.set.design]\ncap = \"absolute\"\nabsolute_cap_mt = 60.0\n\n",
            scenarios.join(file).display()
        )
    };
    let text = format!(
        "[chain]\nname = \"capped\"\nseed = 7\nentities = 30\n\n{}{}",
        period("cn-power-2021.toml"),
        period("cn-power-2023.toml")
    );
    let path = dir.join("chain.toml");
    std::fs::write(&path, text).expect("write the chain");
    path
}

#[test]
fn a_tighter_cap_over_the_chain_raises_each_years_price() {
    // Goal: the chain's cap swept from 58 Mt to 54 Mt (30 entities allocated about 58 Mt
    // a year under the intensity rules): every period takes each value, and in each
    // calendar year that trades (2023, settling 2021, and 2024) the tighter cap clears
    // higher; the price chart has one series per calendar year, each at the runs'
    // medians, and its title names the figure and the swept key.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = chain_file(dir.path());
    let axis = ets_sim::sweep::parse("design.absolute_cap_mt=58..54", 2).expect("parses");
    let points = points(&path, &axis, |chain| chain).expect("every value loads");
    for (value, chain) in &points {
        for period in &chain.periods {
            assert_eq!(period.design.absolute_cap_mt, *value);
        }
    }
    let out = dir.path().join("out");
    let swept = run_sweep(&out, &axis, &points, 1, (2, true)).expect("the sweep runs");
    for year in [2023, 2024] {
        let price = |j: usize| {
            year_bands(&swept[j].members, year)
                .1
                .expect("trades that year")
                .median
        };
        assert!(price(1) > price(0), "{year}: {} vs {}", price(1), price(0));
    }
    let by_value: Vec<_> = swept.iter().map(|s| (s.value, s.members.clone())).collect();
    let chart = sweep_chart(&axis.key, &by_value, Figure::Price);
    assert!(
        chart.title.contains("design.absolute_cap_mt"),
        "{}",
        chart.title
    );
    assert!(
        chart.title.to_lowercase().contains("average price"),
        "{}",
        chart.title
    );
    assert_eq!(chart.series_names(), ["2023", "2024"]);
    let medians = chart.values("2024").expect("the 2024 series");
    let expected: Vec<f64> = swept
        .iter()
        .map(|s| year_bands(&s.members, 2024).1.expect("traded").median)
        .collect();
    assert_eq!(medians, expected);
    let report = std::fs::read_to_string(out.join("sweep.md")).expect("the report");
    assert!(report.contains("| 2024 | 54 |"), "{report}");
    assert!(out.join("sweep_price.svg").is_file() && out.join("sweep_volume.svg").is_file());
}

#[test]
fn a_bad_key_or_value_is_refused_naming_the_period_key_and_value() {
    // Goal: a key no period has, a text setting, and a value out of range are refused
    // before anything runs, naming the chain file, the period, the key and the value.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = chain_file(dir.path());
    let refused = |set: &str| {
        let axis = ets_sim::sweep::parse(set, 2).expect("parses");
        format!(
            "{:#}",
            points(&path, &axis, |chain: Chain| chain).expect_err("refused")
        )
    };
    let unknown = refused("design.auction_sharee=0..0.3");
    assert!(
        unknown.contains("chain.toml: period 1")
            && unknown.contains("design.auction_sharee")
            && unknown.contains("not a setting"),
        "{unknown}"
    );
    let text = refused("design.cap=0..1");
    assert!(text.contains("is not a number"), "{text}");
    let outside = refused("design.auction_share=0..1.5");
    assert!(
        outside.contains("period 1") && outside.contains("design.auction_share = 1.5"),
        "{outside}"
    );
}
