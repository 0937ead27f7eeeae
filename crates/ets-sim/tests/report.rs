//! The report of a small year: every file, the published figures beside the simulated
//! ones, charts drawn from the run's series, and the one-screen summary.

use ets_engine::Engine;
use ets_sim::report::{
    CHARTS, EntityFigures, RunFacts, cumulative_volume_mt, daily_volatility_percent,
};
use ets_sim::{Scenario, compare, run_year, write_full_report, year_charts};
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
    // The 2021 run beside CEA21 trading in 2023, the window that settled it.
    for published in ["41.70", "68.10", "not published", "2023-07-17 to 2023-12-29"] {
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
        "published    41.70 Mt",
        "average price",
        "in full on time",
        "2023-07-17 to 2023-12-29",
        "least-cost",
        "commands/s",
        "journal 150 KiB",
        "out/x/report.html",
    ] {
        assert!(text.contains(part), "{part}: {text}");
    }
}

/// 40 firms with a tenth of the allocation auctioned: a run with both auction sales
/// and secondary trading, and its per-entity figures.
fn auctioned_year() -> (ets_sim::YearSummary, EntityFigures, Engine) {
    let mut scenario = Scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/cn-power-2021.toml"),
    )
    .expect("scenario loads")
    .with_entities(40)
    .with_seed(11);
    scenario.design.auction_share = 0.1;
    let mut engine = Engine::new();
    let summary = run_year(&scenario, &mut engine).expect("the year runs");
    let results = engine
        .compliance()
        .closed_results("cn-power-2021", 2021)
        .expect("closed");
    let figures = EntityFigures::from_results(results);
    (summary, figures, engine)
}

fn close_to(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9)
}

#[test]
fn every_chart_title_names_the_series_it_plots_and_the_series_are_the_summarys() {
    // Goal: each chart of the report plots what its title says, read from the run.
    let (s, figures, _) = auctioned_year();
    assert!(s.volume_auction_mt > 0.0 && s.traded_mt > 0.0, "{s:?}");
    for (stem, _) in CHARTS {
        let chart = s.chart(stem, &figures).expect("a chart per stem");
        let svg = s.chart_svg(stem, &figures);
        assert!(svg.contains(&chart.title), "{stem}: title drawn");
        let title = chart.title.to_lowercase();
        match stem {
            "price" => {
                assert!(title.contains("close") && title.contains("vwap"), "{title}");
                let closes: Vec<f64> = s.daily_close.iter().map(|d| d.1).collect();
                assert!(close_to(
                    &chart.values(year_charts::CLOSE).expect("close"),
                    &closes
                ));
                let vwap: Vec<f64> = s.daily_vwap.iter().map(|d| d.1).collect();
                assert!(close_to(
                    &chart.values(year_charts::VWAP).expect("vwap"),
                    &vwap
                ));
            }
            "daily_volume" | "cumulative_volume" => {
                assert!(title.contains("secondary volume"), "{title}");
                let values = chart.values(year_charts::SECONDARY).expect("secondary");
                let plotted_mt = if stem == "daily_volume" {
                    values.iter().sum::<f64>() / 1e3
                } else {
                    *values.last().expect("points")
                };
                // Secondary trading only: the auction sales are not in it.
                assert!((plotted_mt - s.traded_mt).abs() < 1e-6, "{stem}");
            }
            "positions" => {
                assert!(title.contains("positions"), "{title}");
                assert_eq!(chart.values("").expect("values").len(), s.entities);
            }
            "compliance" => {
                assert!(title.contains("compliance rate"), "{title}");
                let simulated = [
                    s.compliance_rate * 100.0,
                    s.quantity_compliance_rate * 100.0,
                ];
                assert!(close_to(
                    &chart.values("simulated").expect("sim"),
                    &simulated
                ));
            }
            "cost" => {
                assert!(
                    title.contains("compliance cost")
                        && title.contains("abatement cost")
                        && title.contains("least cost"),
                    "{title}"
                );
                let of = |name| chart.values(name).expect(name);
                assert!(close_to(
                    &of(year_charts::COMPLIANCE_COST),
                    &[s.compliance_cost_yuan / 1e6]
                ));
                assert!(close_to(
                    &of(year_charts::ABATEMENT_COST),
                    &[s.abatement_cost_yuan / 1e6]
                ));
                assert!(close_to(
                    &of(year_charts::LEAST_COST),
                    &[s.least_cost_yuan / 1e6]
                ));
            }
            other => panic!("a new chart {other}: say what its title must match"),
        }
    }
}

#[test]
fn auction_sales_are_counted_apart_from_secondary_trading() {
    // Goal: the headline volume and price are of secondary trading, as the published
    // figures are; auction sales have their own figures.
    let (s, _, engine) = auctioned_year();
    let (mut auction_t, mut secondary_t, mut secondary_trades) = (0u64, 0u64, 0usize);
    for record in engine.exchange().trades() {
        if record.mode == ets_market::TradeMode::Auction {
            auction_t += record.quantity.tonnes();
        } else {
            secondary_t += record.quantity.tonnes();
            secondary_trades += 1;
        }
    }
    assert!(auction_t > 0);
    assert_eq!(s.trades, secondary_trades);
    assert!((s.traded_mt - secondary_t as f64 / 1e6).abs() < 1e-9);
    assert!((s.volume_auction_mt - auction_t as f64 / 1e6).abs() < 1e-9);
    assert!(s.auction_average_price > 0.0);
    let daily: u64 = s.daily_volume.iter().map(|d| d.1).sum();
    assert_eq!(daily, secondary_t, "the daily volume is secondary trading");
}

#[test]
fn the_html_report_holds_every_row_of_the_markdown_and_links_the_entity_csv() {
    // Goal: nothing in report.md is missing from report.html; design options read as
    // words; the assumptions and the per-entity CSV are there.
    let (summary, figures, _) = auctioned_year();
    let dir = tempfile::tempdir().expect("tempdir");
    write_full_report(dir.path(), &summary, &figures).expect("writes");
    let markdown = std::fs::read_to_string(dir.path().join("report.md")).expect("md");
    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("html");
    let rows: Vec<&str> = markdown
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("|---"))
        .collect();
    assert!(rows.len() > 40, "{markdown}");
    for row in rows {
        for cell in row.trim_matches('|').split(" | ") {
            let cell = cell.trim().replace("\\|", "|");
            let escaped = ets_sim::charts::escape(&cell);
            assert!(
                html.contains(&escaped),
                "{cell:?} of {row:?} missing in the HTML"
            );
        }
    }
    for rust_name in [
        "ComplianceOnly",
        "ListedAndBlock",
        "Continuous,",
        "Intensity,",
    ] {
        assert!(
            !markdown.contains(rust_name) && !html.contains(rust_name),
            "{rust_name}"
        );
    }
    assert!(markdown.contains("covered firms only") && html.contains("covered firms only"));
    for section in ["## Assumptions", "trading.hold_share", "assumption"] {
        assert!(markdown.contains(section), "{section}");
    }
    assert!(markdown.contains("(entities.csv)") && html.contains("href=\"entities.csv\""));
    let csv = std::fs::read_to_string(dir.path().join("entities.csv")).expect("csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines.len(),
        1 + summary.entities,
        "a header and a line per entity"
    );
    let columns = lines[0].split(',').count();
    assert!(lines.iter().all(|l| l.split(',').count() == columns));
    let surrendered: u64 = lines[1..]
        .iter()
        .map(|l| {
            l.split(',')
                .nth(5)
                .expect("column")
                .parse::<u64>()
                .expect("tonnes")
        })
        .sum();
    assert!((surrendered as f64 / 1e6 - summary.surrendered_mt).abs() < 1e-9);
}

#[test]
fn the_comparison_plots_each_runs_own_costs_and_volumes() {
    // Goal: the comparison's bars follow its table: designs with different costs get
    // different bars, auction sales are a series of their own, names are titles.
    let (base, _) = small_year();
    let (auctioned, _, _) = auctioned_year();
    let run = |name: &str, title: &str, summary: &ets_sim::YearSummary| compare::Run {
        name: name.into(),
        title: title.into(),
        description: String::new(),
        summary: summary.clone(),
        journal_bytes: 0,
    };
    let runs = [
        run("base", "China 2021 rules", &base),
        run("auction", "10% auctioned", &auctioned),
    ];
    let cost = compare::chart("cost", &runs).expect("cost chart");
    let costs: Vec<f64> = runs
        .iter()
        .map(|r| r.summary.compliance_cost_yuan / 1e6)
        .collect();
    assert!(close_to(
        &cost.values(year_charts::COMPLIANCE_COST).expect("series"),
        &costs
    ));
    let volume = compare::chart("volume", &runs).expect("volume chart");
    let auction: Vec<f64> = runs.iter().map(|r| r.summary.volume_auction_mt).collect();
    assert!(close_to(
        &volume.values(year_charts::AUCTION).expect("series"),
        &auction
    ));
    assert!(volume.title.to_lowercase().contains("auction"));
    let rows = compare::table_rows(&runs);
    assert!(rows.iter().all(|r| r.len() == compare::HEADER.len()));
    assert_eq!(rows[1][0], "10% auctioned");
    let html = compare::to_html(&runs);
    for row in &rows {
        for cell in row {
            assert!(html.contains(&ets_sim::charts::escape(cell)), "{cell}");
        }
    }
}
