//! The report of a small year: every file, the published figures beside the simulated
//! ones, charts drawn from the run's series, and the one-screen summary.

use ets_engine::Engine;
use ets_sim::report::{
    CHARTS, EntityFigures, RunFacts, cumulative_volume_mt, daily_volatility_percent,
};
use ets_sim::{Scenario, run_year, write_full_report};
use std::path::Path;

fn small_year() -> (ets_sim::YearSummary, EntityFigures) {
    let scenario = Scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/cn-power-2021.toml"),
    )
    .expect("scenario loads")
    .with_entities(40)
    .with_seed(7);
    let mut engine = Engine::new();
    let summary = run_year(&scenario, &mut engine).expect("the year runs");
    let results = engine
        .compliance()
        .closed_results("cn-power-2021", 2021)
        .expect("closed");
    (summary, EntityFigures::from_results(results))
}

#[test]
fn the_report_writes_every_file_with_the_published_figures_beside_the_simulated() {
    let (summary, figures) = small_year();
    assert_eq!(figures.positions_tonnes.len(), 40);
    let dir = tempfile::tempdir().expect("tempdir");
    write_full_report(dir.path(), &summary, &figures).expect("writes");
    for file in ["report.md", "report.html", "summary.json"] {
        assert!(dir.path().join(file).exists(), "{file}");
    }
    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("html");
    assert!(html.contains("name=\"viewport\""), "readable on a phone");
    assert_eq!(html.matches("<svg").count(), CHARTS.len(), "charts inline");
    for published in ["179.00", "42.85", "99.50 %"] {
        assert!(html.contains(published), "{published} shown");
    }
    let markdown = std::fs::read_to_string(dir.path().join("report.md")).expect("md");
    for (stem, _) in CHARTS {
        let svg = std::fs::read_to_string(dir.path().join(format!("{stem}.svg"))).expect("svg");
        assert!(
            svg.starts_with("<svg") && !svg.contains("no data"),
            "{stem}: {svg}"
        );
        assert!(markdown.contains(&format!("({stem}.svg)")), "{stem} linked");
    }
    // One histogram bar per bin that has entities; every entity counted once.
    let positions = std::fs::read_to_string(dir.path().join("positions.svg")).expect("svg");
    let counted: usize = positions
        .split("<title>")
        .skip(2)
        .filter_map(|t| {
            t.split(": ")
                .nth(1)?
                .split('<')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .sum();
    assert_eq!(counted, 40, "{positions}");
}

#[test]
fn derived_series_follow_the_summary() {
    let (summary, _) = small_year();
    let cumulative = cumulative_volume_mt(&summary.daily_volume);
    assert_eq!(cumulative.len(), summary.daily_volume.len());
    let last = cumulative.last().expect("trading days").1;
    assert!((last - summary.traded_mt).abs() < 1e-9);
    assert!(
        cumulative
            .windows(2)
            .all(|w| w[1].0 > w[0].0 && w[1].1 >= w[0].1)
    );
    let volatility = daily_volatility_percent(&summary.daily_close);
    assert!(volatility > 0.0 && volatility < 10.0, "{volatility}");
    let flat = [
        ("2023-09-01".to_owned(), 40.0),
        ("2023-09-04".to_owned(), 40.0),
        ("2023-09-05".to_owned(), 40.0),
    ];
    assert_eq!(daily_volatility_percent(&flat), 0.0);
}

#[test]
fn the_terminal_summary_fits_one_screen() {
    let (summary, _) = small_year();
    let text = summary.terminal_summary(&RunFacts {
        wall_seconds: 2.0,
        journal_bytes: 150 * 1024,
        report: "out/x/report.html".into(),
    });
    assert!(text.lines().count() <= 24, "{text}");
    assert!(text.lines().all(|l| l.chars().count() <= 140), "{text}");
    for part in [
        "volume traded",
        "published   179.00 Mt",
        "average price",
        "compliance rate",
        "least-cost",
        "commands/s",
        "journal 150 KiB",
        "out/x/report.html",
    ] {
        assert!(text.contains(part), "{part}: {text}");
    }
}
