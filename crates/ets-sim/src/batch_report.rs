//! The report of an ensemble or a sweep: for each design point the median, the 5-95%
//! band and the lowest and highest member of every headline figure; charts with a
//! shaded band and a median line (daily close and cumulative volume per run; for a
//! sweep, price, volume and cost against the swept value); the warnings; and every
//! member's seed and state hash, so any figure can be traced to the run of that seed.

use crate::batch::{Plan, Results};
use crate::charts::{BandPoint, XAxis, day_number};
use crate::compare::markdown_table;
use crate::ensemble::{Band, FIGURES, Headline, Member, Reader};
use crate::figure::{self, Chart};
use crate::html::Page;
use anyhow::{Context as _, Result};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A chart of the report: file stem, caption, and the chart.
pub type ReportChart = (&'static str, String, Chart);

/// The members of design point `point`.
fn of_point(results: &Results, point: usize) -> Vec<&Member> {
    results
        .members
        .iter()
        .filter(|m| m.point == point)
        .collect()
}

fn band_point(x: f64, values: &[f64]) -> BandPoint {
    let band = Band::of(values);
    (x, band.low, band.median, band.high)
}

/// Per trading day, the band of the members' closes on that day.
#[must_use]
pub fn daily_close_band(members: &[&Member]) -> Vec<BandPoint> {
    let mut days: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for member in members {
        for (day, close) in &member.daily_close {
            days.entry(day).or_default().push(*close);
        }
    }
    days.into_iter()
        .filter_map(|(day, closes)| Some(band_point(day_number(day)?, &closes)))
        .collect()
}

/// Per trading day of any member, the band of the members' cumulative secondary volume
/// (Mt) by the end of that day.
#[must_use]
pub fn cumulative_volume_band(members: &[&Member]) -> Vec<BandPoint> {
    let mut days: Vec<&str> = members
        .iter()
        .flat_map(|m| m.daily_volume.iter().map(|(day, _)| day.as_str()))
        .collect();
    days.sort_unstable();
    days.dedup();
    let running: Vec<Vec<f64>> = members
        .iter()
        .map(|member| {
            let mut total = 0u64;
            let mut traded = member.daily_volume.iter().peekable();
            days.iter()
                .map(|day| {
                    while let Some((_, tonnes)) = traded.next_if(|(d, _)| d.as_str() <= *day) {
                        total += tonnes;
                    }
                    total as f64 / 1e6
                })
                .collect()
        })
        .collect();
    days.iter()
        .enumerate()
        .filter_map(|(i, day)| {
            let values: Vec<f64> = running.iter().map(|r| r[i]).collect();
            Some(band_point(day_number(day)?, &values))
        })
        .collect()
}

/// Per sweep value, the band of one headline figure.
fn sweep_band(results: &Results, read: Reader) -> Vec<BandPoint> {
    results
        .plan
        .points
        .iter()
        .enumerate()
        .filter_map(|(p, point)| {
            let values: Vec<f64> = of_point(results, p)
                .iter()
                .map(|m| read(&m.headline))
                .collect();
            Some(band_point(point.value?, &values))
        })
        .collect()
}

/// The report's charts, in the order shown.
#[must_use]
pub fn charts(results: &Results) -> Vec<ReportChart> {
    let plan = &results.plan;
    let seeds = plan.seeds.len();
    match &plan.sweep {
        None => {
            let per_point = |f: fn(&[&Member]) -> Vec<BandPoint>| -> Vec<(String, Vec<BandPoint>)> {
                plan.points
                    .iter()
                    .enumerate()
                    .map(|(p, point)| (point.title.clone(), f(&of_point(results, p))))
                    .collect()
            };
            vec![
                (
                    "price_band",
                    format!(
                        "Daily close of the price-forming book per run: median line and shaded 5-95% band over {seeds} seeds"
                    ),
                    figure::bands(
                        "Daily close per run: median and 5-95% band",
                        ("trading day", "yuan/t"),
                        XAxis::Date,
                        per_point(daily_close_band),
                    ),
                ),
                (
                    "cumulative_volume_band",
                    format!(
                        "Cumulative secondary volume per run: median line and shaded 5-95% band over {seeds} seeds"
                    ),
                    figure::bands(
                        "Cumulative secondary volume per run: median and 5-95% band",
                        ("trading day", "Mt"),
                        XAxis::Date,
                        per_point(cumulative_volume_band),
                    ),
                ),
            ]
        }
        Some(axis) => {
            let key = axis.key.as_str();
            let chart = |stem: &'static str, what: &str, unit: &str, read: Reader| -> ReportChart {
                (
                    stem,
                    format!(
                        "{what} against {key}: median line and shaded 5-95% band over {seeds} seeds per value"
                    ),
                    figure::bands(
                        &format!("{what} against {key}: median and 5-95% band"),
                        (key, unit),
                        XAxis::Number,
                        vec![(what.to_owned(), sweep_band(results, read))],
                    ),
                )
            };
            vec![
                chart("sweep_price", "Average price", "yuan/t", |h| {
                    h.average_price
                }),
                chart("sweep_volume", "Secondary volume", "Mt", |h| {
                    h.secondary_volume_mt
                }),
                chart("sweep_cost", "Compliance cost", "M yuan", |h| {
                    h.compliance_cost_m_yuan
                }),
            ]
        }
    }
}

/// The column names of a figure table.
const FIGURE_HEADER: [&str; 6] = ["Figure", "Lowest", "5%", "Median", "95%", "Highest"];

/// One row per headline figure: lowest, 5%, median, 95%, highest over `members`.
#[must_use]
pub fn figure_rows(members: &[&Member]) -> Vec<Vec<String>> {
    let headlines: Vec<&Headline> = members.iter().map(|m| &m.headline).collect();
    FIGURES
        .iter()
        .map(|(name, read)| {
            let band = Band::of(&headlines.iter().map(|h| read(h)).collect::<Vec<_>>());
            let mut row = vec![(*name).to_owned()];
            row.extend(
                [band.lowest, band.low, band.median, band.high, band.highest]
                    .iter()
                    .map(|v| format!("{v:.2}")),
            );
            row
        })
        .collect()
}

/// The figures a sweep's table shows: column name and reader.
const SWEEP_FIGURES: [(&str, Reader); 4] = [
    ("Average price, yuan/t: median (5-95%)", |h| h.average_price),
    ("Secondary volume, Mt: median (5-95%)", |h| {
        h.secondary_volume_mt
    }),
    ("Compliance cost, M yuan: median (5-95%)", |h| {
        h.compliance_cost_m_yuan
    }),
    ("Compliance by entity, %: median (5-95%)", |h| {
        h.compliance_entities_pct
    }),
];

/// A sweep's table: one row per value, the median and band of the figures it plots.
fn sweep_table(results: &Results) -> (Vec<String>, Vec<Vec<String>>) {
    let key = results
        .plan
        .sweep
        .as_ref()
        .map_or("value", |a| a.key.as_str());
    let header = std::iter::once(key.to_owned())
        .chain(SWEEP_FIGURES.iter().map(|(name, _)| (*name).to_owned()))
        .collect();
    let rows = results
        .plan
        .points
        .iter()
        .enumerate()
        .map(|(p, point)| {
            let members = of_point(results, p);
            let mut row = vec![point.value.map_or_else(String::new, |v| format!("{v}"))];
            row.extend(SWEEP_FIGURES.iter().map(|(_, read)| {
                let band = Band::of(
                    &members
                        .iter()
                        .map(|m| read(&m.headline))
                        .collect::<Vec<_>>(),
                );
                format!("{:.2} ({:.2}-{:.2})", band.median, band.low, band.high)
            }));
            row
        })
        .collect();
    (header, rows)
}

const MEMBER_HEADER: [&str; 5] = ["Member", "Point", "Seed", "Commands", "State hash"];

fn member_rows(results: &Results) -> Vec<Vec<String>> {
    results
        .members
        .iter()
        .map(|m| {
            vec![
                m.index.to_string(),
                results
                    .plan
                    .points
                    .get(m.point)
                    .map_or_else(String::new, |p| p.name.clone()),
                m.seed.to_string(),
                m.commands.to_string(),
                m.state_hash.clone(),
            ]
        })
        .collect()
}

fn title(plan: &Plan) -> String {
    match &plan.sweep {
        None => format!("Ensemble: {}", plan.scenario),
        Some(axis) => format!("Sweep of {}: {}", axis.key, plan.scenario),
    }
}

fn intro(plan: &Plan) -> String {
    let seeds = match (plan.seeds.first(), plan.seeds.last()) {
        (Some(first), Some(last)) if first != last => format!("seeds {first} to {last}"),
        (Some(first), _) => format!("seed {first}"),
        _ => "no seeds".to_owned(),
    };
    let what = match &plan.sweep {
        None => format!("{} run(s)", plan.points.len()),
        Some(axis) => format!(
            "{} values of {} from {} to {}",
            axis.steps, axis.key, axis.from, axis.to
        ),
    };
    format!(
        "Scenario {} ({}), {} entities: {what}, each with {} {seeds}; {} members in all. \
         Each member is one deterministic run journaled in its own store; `ets simulate \
         --seed N` runs one alone to the same state hash (table of members). Median and \
         5-95% band: linear interpolation between the members' order statistics.",
        plan.scenario,
        plan.scenario_file,
        plan.entities,
        plan.seeds.len(),
        plan.member_count()
    )
}

const BAND_NOTE: &str =
    "Lowest and highest: the extreme members; 5%, median, 95%: quantiles over the seeds.";

/// The report as Markdown (charts linked as `<stem>.svg`).
#[must_use]
pub fn to_markdown(results: &Results) -> String {
    let plan = &results.plan;
    let mut out = format!("# {}\n\n{}\n\n", title(plan), intro(plan));
    let warnings = plan.warnings();
    if !warnings.is_empty() {
        out.push_str("## Warnings\n\n");
        for warning in &warnings {
            let _ = writeln!(out, "- {warning}");
        }
        out.push('\n');
    }
    if plan.sweep.is_some() {
        let (header, rows) = sweep_table(results);
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let _ = writeln!(out, "## Outcome against the setting\n");
        out.push_str(&markdown_table(&header, 1, &rows));
        out.push('\n');
    }
    for (p, point) in plan.points.iter().enumerate() {
        let _ = writeln!(out, "## {}\n", point.title);
        if !point.description.is_empty() {
            let _ = writeln!(out, "{}\n", point.description);
        }
        let _ = writeln!(out, "{BAND_NOTE}\n");
        out.push_str(&markdown_table(
            &FIGURE_HEADER,
            1,
            &figure_rows(&of_point(results, p)),
        ));
        out.push('\n');
    }
    out.push_str("## Charts\n\n");
    for (stem, caption, _) in charts(results) {
        let _ = writeln!(out, "![{caption}]({stem}.svg)\n");
    }
    out.push_str("## Members\n\n");
    out.push_str(&markdown_table(&MEMBER_HEADER, 2, &member_rows(results)));
    out
}

/// The report as one self-contained HTML page: every table of the Markdown report and
/// the charts inline.
#[must_use]
pub fn to_html(results: &Results) -> String {
    let plan = &results.plan;
    let mut page = Page::new(&title(plan));
    page.note(&intro(plan));
    let warnings = plan.warnings();
    if !warnings.is_empty() {
        page.heading("Warnings");
        for warning in &warnings {
            page.paragraph(warning);
        }
    }
    if plan.sweep.is_some() {
        let (header, rows) = sweep_table(results);
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        page.heading("Outcome against the setting");
        page.table(&header, &rows);
    }
    page.heading("Charts");
    for (_, caption, chart) in charts(results) {
        page.figure(&chart.svg(), &caption);
    }
    for (p, point) in plan.points.iter().enumerate() {
        page.heading(&point.title);
        if !point.description.is_empty() {
            page.paragraph(&point.description);
        }
        page.note(BAND_NOTE);
        page.table(&FIGURE_HEADER, &figure_rows(&of_point(results, p)));
    }
    page.heading("Members");
    page.table(&MEMBER_HEADER, &member_rows(results));
    page.render()
}

/// Writes `results.json`, the report (`ensemble.md` and `ensemble.html`, or `sweep.md`
/// and `sweep.html`) and its charts (`*.svg`) into `dir`; returns the HTML page's path.
///
/// # Errors
/// When a file cannot be written.
pub fn write_report(dir: &Path, results: &Results) -> Result<PathBuf> {
    let write = |name: &str, text: &str| -> Result<()> {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    results.write(&dir.join("results.json"))?;
    let stem = results.plan.stem();
    write(&format!("{stem}.md"), &to_markdown(results))?;
    write(&format!("{stem}.html"), &to_html(results))?;
    for (chart_stem, _, chart) in charts(results) {
        write(&format!("{chart_stem}.svg"), &chart.svg())?;
    }
    Ok(dir.join(format!("{stem}.html")))
}
