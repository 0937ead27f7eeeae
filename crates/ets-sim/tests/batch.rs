//! The report of a small batch: its charts plot what their titles say (a band per run
//! or per swept value, medians from the members), its tables hold every member, the
//! warnings name the rule, the results file reads back as it was written, and shards
//! merge into the whole batch's results.

use ets_sim::batch::{Axis, Plan, Point, Results, small_run_warning};
use ets_sim::batch_report::{self, charts};
use ets_sim::ensemble::{self, Band, FIGURES, Member};
use ets_sim::figure::Plot;
use ets_sim::shard::{self, Shard};
use ets_sim::{Scenario, compare::Variant};
use std::path::{Path, PathBuf};

fn scenario_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/cn-power-2021.toml")
}

fn small(scenario: Scenario) -> Scenario {
    let mut scenario = scenario.with_entities(30).with_seed(11);
    // One month of trading keeps each member to a fraction of a second.
    scenario.trading.window = [[12, 1], [12, 28]];
    scenario
}

fn point(name: &str, value: Option<f64>) -> Point {
    Point {
        name: name.to_owned(),
        title: format!("Run {name}"),
        description: String::new(),
        value,
    }
}

/// A batch of `scenarios` (one per point) x 3 seeds, run in memory.
fn batch(scenarios: &[Scenario], points: Vec<Point>, sweep: Option<Axis>) -> Results {
    let seeds = ensemble::seeds(11, 3).expect("seeds");
    let mut members = Vec::new();
    for (p, scenario) in scenarios.iter().enumerate() {
        let summaries = ensemble::run(scenario, &seeds, 2).expect("members run");
        for (k, summary) in summaries.iter().enumerate() {
            members.push(Member::of(p * seeds.len() + k, p, summary));
        }
    }
    let plan = Plan {
        scenario: "cn-power-2021".into(),
        scenario_file: "scenarios/cn-power-2021.toml".into(),
        entities: 30,
        market_entities: 2162,
        sweep,
        points,
        seeds,
    };
    let results = Results::whole(plan, members);
    results.check().expect("the members are the plan's");
    results
}

fn base() -> Scenario {
    small(Scenario::load(&scenario_path()).expect("scenario loads"))
}

fn floor_variant() -> Scenario {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("floor.toml");
    std::fs::write(
        &path,
        "title = \"Floor\"\n[design]\nprice_floor_yuan = 45.0\n",
    )
    .expect("written");
    let variant = Variant::load(&path).expect("variant loads");
    small(variant.apply(&scenario_path()).expect("applies"))
}

#[test]
fn every_chart_of_an_ensemble_plots_a_band_per_run_around_the_members_median() {
    // Goal: the ensemble's charts name one band per run (by its title), each band's median
    // is the members' median on that day, every band holds its median, and the report's
    // tables show every figure and every member.
    let results = batch(
        &[base(), floor_variant()],
        vec![point("base", None), point("floor", None)],
        None,
    );
    let drawn = charts(&results);
    assert_eq!(drawn.len(), 2);
    for (stem, caption, chart) in &drawn {
        assert_eq!(
            chart.series_names(),
            vec!["Run base", "Run floor"],
            "{stem}"
        );
        assert!(
            caption.contains("median") && caption.contains("5-95%"),
            "{stem}"
        );
        assert!(chart.title.contains("median and 5-95% band"), "{stem}");
        let Plot::Bands { series, .. } = &chart.plot else {
            panic!("{stem}: a band chart");
        };
        for (name, points) in series {
            assert!(!points.is_empty(), "{stem}: {name} has data");
            for (x, low, median, high) in points {
                assert!(low <= median && median <= high, "{stem} {name} at {x}");
            }
        }
        let svg = chart.svg();
        assert!(svg.contains(&format!("<title>{}</title>", chart.title)));
        assert_eq!(
            svg.matches("<polygon").count(),
            2,
            "{stem}: one band per run"
        );
    }
    // The price chart's median on the last day is the median of the members' last close.
    let Plot::Bands { series, .. } = &drawn[0].2.plot else {
        panic!("bands");
    };
    let last_closes: Vec<f64> = results
        .members
        .iter()
        .filter(|m| m.point == 0)
        .map(|m| m.daily_close.last().expect("a close").1)
        .collect();
    let last = series[0].1.last().expect("a day");
    assert_eq!(last.2, Band::of(&last_closes).median);

    let markdown = batch_report::to_markdown(&results);
    let html = batch_report::to_html(&results);
    for (name, _) in FIGURES {
        assert_eq!(
            markdown.matches(&format!("| {name} |")).count(),
            2,
            "{name}: a row per run"
        );
    }
    for member in &results.members {
        assert!(markdown.contains(&member.state_hash) && html.contains(&member.state_hash));
    }
    assert!(markdown.contains("## Warnings") && markdown.contains("fewer than 20"));
    assert!(html.contains("fewer than 20") && html.contains("below a quarter of the market"));
}

#[test]
fn a_sweep_plots_price_volume_and_cost_against_the_setting() {
    let scenario = base();
    let floors = [0.0, 60.0];
    let scenarios: Vec<Scenario> = floors
        .iter()
        .map(|floor| {
            let mut s = scenario.clone();
            s.design.price_floor_yuan = *floor;
            s
        })
        .collect();
    let axis = Axis {
        key: "design.price_floor_yuan".into(),
        from: 0.0,
        to: 60.0,
        steps: 2,
    };
    let results = batch(
        &scenarios,
        floors
            .iter()
            .map(|f| point(&format!("floor={f}"), Some(*f)))
            .collect(),
        Some(axis),
    );
    let drawn = charts(&results);
    let stems: Vec<&str> = drawn.iter().map(|c| c.0).collect();
    assert_eq!(stems, vec!["sweep_price", "sweep_volume", "sweep_cost"]);
    for (stem, _, chart) in &drawn {
        assert_eq!(chart.x_label, "design.price_floor_yuan", "{stem}");
        assert!(
            chart.title.contains("against design.price_floor_yuan"),
            "{stem}"
        );
        let name = chart.series_names()[0].to_owned();
        assert!(
            chart.title.starts_with(&name),
            "{stem}: the title names {name}"
        );
        let Plot::Bands { series, .. } = &chart.plot else {
            panic!("{stem}: bands");
        };
        let xs: Vec<f64> = series[0].1.iter().map(|p| p.0).collect();
        assert_eq!(xs, floors.to_vec(), "{stem}: one point per value");
    }
    // The price chart's medians are the members' median average prices.
    let prices = drawn[0].2.values("Average price").expect("the series");
    for (p, median) in prices.iter().enumerate() {
        let values: Vec<f64> = results
            .members
            .iter()
            .filter(|m| m.point == p)
            .map(|m| m.headline.average_price)
            .collect();
        assert_eq!(*median, Band::of(&values).median);
    }
    let markdown = batch_report::to_markdown(&results);
    assert!(
        markdown.contains("| design.price_floor_yuan | Average price, yuan/t: median (5-95%) |")
    );
}

#[test]
fn shards_merge_into_the_whole_batch_byte_for_byte() {
    let results = batch(&[base()], vec![point("base", None)], None);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = Vec::new();
    // Given in another order than their index: the merge sorts.
    for index in [1, 0] {
        let shard = Shard { index, count: 2 };
        let slice = Results {
            shard: Some(shard),
            members: results
                .members
                .iter()
                .filter(|m| shard.holds(m.index))
                .cloned()
                .collect(),
            ..results.clone()
        };
        let path = dir.path().join(shard.file_name());
        slice.write(&path).expect("written");
        files.push(path);
    }
    let merged = shard::merge(&files).expect("merges");
    assert_eq!(
        merged.to_json().expect("json"),
        results.to_json().expect("json")
    );

    let missing = shard::merge(&files[..1])
        .expect_err("a shard is missing")
        .to_string();
    assert!(missing.contains("shards missing: 0/2"), "{missing}");
    let twice = shard::merge(&[files[0].clone(), files[0].clone()])
        .expect_err("twice")
        .to_string();
    assert!(twice.contains("given twice"), "{twice}");
    let whole = dir.path().join("results.json");
    results.write(&whole).expect("written");
    let not_a_shard = shard::merge(&[whole]).expect_err("whole").to_string();
    assert!(not_a_shard.contains("not of a shard"), "{not_a_shard}");
}

#[test]
fn the_small_run_rule_is_a_quarter_of_the_market() {
    assert!(small_run_warning(539, 2162).is_some());
    assert!(small_run_warning(541, 2162).is_none());
    assert!(
        small_run_warning(30, 0).is_none(),
        "no published count, no rule"
    );
}
