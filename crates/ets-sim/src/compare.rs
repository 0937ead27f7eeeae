//! Design variants and the comparison of runs.
//!
//! A variant is a TOML file over a scenario: top-level `title` and `description`,
//! and any scenario keys to override. Tables are merged key by key, recursively; any
//! other value (numbers, strings, arrays, arrays of tables) replaces the scenario's.
//! The merge happens on the TOML document before it is deserialised, so an unknown
//! key in a variant is refused like one in a scenario, naming the variant's file.

use crate::YearSummary;
use crate::charts::XAxis;
use crate::figure::{self, Chart};
use crate::html::Page;
use crate::report::{cumulative_volume_mt, daily_volatility_percent, day_series, human_bytes};
use crate::scenario::{Scenario, ScenarioError, read_toml};
use crate::year_charts::{AUCTION, SECONDARY, cost_chart};
use anyhow::{Context as _, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A design variant: a named overlay on a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// The variant file.
    pub path: PathBuf,
    /// A short name for folders and tables: the file stem.
    pub name: String,
    /// Its `title` (the file stem when absent).
    pub title: String,
    /// Its `description` (empty when absent).
    pub description: String,
    /// The scenario keys it overrides (a TOML table).
    pub overlay: toml::Value,
}

/// Merges `overlay` into `base`: tables key by key (recursively), anything else replaced.
pub fn merge(base: &mut toml::Value, overlay: &toml::Value) {
    match (base, overlay) {
        (toml::Value::Table(base), toml::Value::Table(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, overlay) => *base = overlay.clone(),
    }
}

impl Variant {
    /// Reads a variant file.
    ///
    /// # Errors
    /// [`ScenarioError`] when the file cannot be read or parsed, or `title` or
    /// `description` is not a string.
    pub fn load(path: &Path) -> std::result::Result<Variant, ScenarioError> {
        let mut overlay = read_toml(path)?;
        let name = path.file_stem().map_or_else(
            || "variant".to_owned(),
            |s| s.to_string_lossy().into_owned(),
        );
        let mut text = |key: &str| -> std::result::Result<Option<String>, ScenarioError> {
            let Some(table) = overlay.as_table_mut() else {
                return Ok(None);
            };
            match table.remove(key) {
                None => Ok(None),
                Some(toml::Value::String(s)) => Ok(Some(s)),
                Some(other) => Err(ScenarioError::Malformed {
                    file: path.to_path_buf(),
                    key: key.to_owned(),
                    value: Some(other.to_string()),
                    reason: "must be a string".into(),
                }),
            }
        };
        let title = text("title")?.unwrap_or_else(|| name.clone());
        let description = text("description")?.unwrap_or_default();
        Ok(Variant {
            path: path.to_path_buf(),
            name,
            title,
            description,
            overlay,
        })
    }

    /// The scenario at `scenario_path` with this variant merged over it, validated.
    ///
    /// # Errors
    /// [`ScenarioError`] naming the file (the variant's when the key is one it sets),
    /// the key and the value.
    pub fn apply(&self, scenario_path: &Path) -> std::result::Result<Scenario, ScenarioError> {
        let mut document = read_toml(scenario_path)?;
        merge(&mut document, &self.overlay);
        Scenario::from_value(document, scenario_path, Some((&self.path, &self.overlay)))
    }
}

/// One run of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Short name (`base`, or the variant's file stem); also its folder.
    pub name: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// What the run came to.
    pub summary: YearSummary,
    /// Bytes of its store.
    pub journal_bytes: u64,
}

/// The comparison table's header: short, numeric columns, so the table fits a
/// 1280 px screen (and stacks into one card per run on a phone).
pub const HEADER: [&str; 11] = [
    "Run",
    "Secondary volume (Mt)",
    "Auction sales (Mt)",
    "Average price (yuan/t)",
    "Turnover (% of allocation)",
    "Price volatility (daily, %)",
    "Bid-ask spread (yuan/t)",
    "Compliance cost (M yuan)",
    "Least cost (M yuan)",
    "In full on time (% of entities)",
    "Compliance by quantity (%)",
];

/// The mean of a run's daily bid-ask spreads (yuan/t), `None` when no day had a
/// two-sided book.
#[must_use]
pub fn mean_spread(summary: &YearSummary) -> Option<f64> {
    let spreads = &summary.daily_spread;
    (!spreads.is_empty())
        .then(|| spreads.iter().map(|(_, v)| v).sum::<f64>() / spreads.len() as f64)
}

/// One row per run, in [`HEADER`]'s order. The spread reads "n/a" for a run whose
/// book was never two-sided.
#[must_use]
pub fn table_rows(runs: &[Run]) -> Vec<Vec<String>> {
    runs.iter()
        .map(|run| {
            let s = &run.summary;
            vec![
                run.title.clone(),
                format!("{:.2}", s.traded_mt),
                format!("{:.2}", s.volume_auction_mt),
                format!("{:.2}", s.average_price),
                format!("{:.2}", s.turnover_ratio * 100.0),
                format!("{:.2}", daily_volatility_percent(&s.daily_close)),
                mean_spread(s).map_or_else(|| "n/a".to_owned(), |v| format!("{v:.2}")),
                format!("{:.0}", s.compliance_cost_yuan / 1e6),
                format!("{:.0}", s.least_cost_yuan / 1e6),
                format!("{:.2}", s.compliance_rate * 100.0),
                format!("{:.2}", s.quantity_compliance_rate * 100.0),
            ]
        })
        .collect()
}

/// The comparison's charts: file stem and caption.
pub const COMPARISON_CHARTS: [(&str, &str); 5] = [
    (
        "price_paths",
        "Daily close of the price-forming book, per run",
    ),
    ("cumulative_volume", "Cumulative secondary volume, per run"),
    ("volume", "Secondary volume and auction sales, per run"),
    (
        "compliance",
        "Compliance rate: entities in full on time, and by quantity, per run",
    ),
    (
        "cost",
        "Compliance cost and abatement cost against the least cost of the same abatement, per run",
    ),
];

/// The chart named by its stem (see [`COMPARISON_CHARTS`]); `None` for an unknown stem.
#[must_use]
pub fn chart(stem: &str, runs: &[Run]) -> Option<Chart> {
    let titles: Vec<String> = runs.iter().map(|r| r.title.clone()).collect();
    let per_run = |f: &dyn Fn(&YearSummary) -> f64| -> Vec<f64> {
        runs.iter().map(|r| f(&r.summary)).collect()
    };
    let dated = |title: &str, y_label: &str, f: &dyn Fn(&YearSummary) -> Vec<(f64, f64)>| {
        let series = runs
            .iter()
            .map(|r| (r.title.clone(), f(&r.summary)))
            .collect();
        figure::lines(title, ("trading day", y_label), XAxis::Date, series)
    };
    Some(match stem {
        "price_paths" => dated("Daily close per run", "yuan/t", &|s| {
            day_series(&s.daily_close)
        }),
        "cumulative_volume" => dated("Cumulative secondary volume per run", "Mt", &|s| {
            cumulative_volume_mt(&s.daily_volume)
        }),
        "volume" => figure::bars(
            "Secondary volume and auction sales per run",
            ("run", "Mt"),
            titles,
            vec![
                (SECONDARY.to_owned(), per_run(&|s| s.traded_mt)),
                (AUCTION.to_owned(), per_run(&|s| s.volume_auction_mt)),
            ],
        ),
        "compliance" => figure::bars(
            "Compliance rate by entity and by quantity per run",
            ("run", "%"),
            titles,
            vec![
                (
                    "in full on time, by entity".to_owned(),
                    per_run(&|s| s.compliance_rate * 100.0),
                ),
                (
                    "by quantity".to_owned(),
                    per_run(&|s| s.quantity_compliance_rate * 100.0),
                ),
            ],
        ),
        "cost" => {
            let labelled: Vec<(String, &YearSummary)> =
                runs.iter().map(|r| (r.title.clone(), &r.summary)).collect();
            cost_chart(&labelled)
        }
        _ => return None,
    })
}

/// The chart named by its stem as SVG; empty for an unknown stem.
#[must_use]
pub fn chart_svg(stem: &str, runs: &[Run]) -> String {
    chart(stem, runs).map_or_else(String::new, |c| c.svg())
}

/// A Markdown table whose first `text_columns` columns are left-aligned, the rest right.
pub(crate) fn markdown_table(header: &[&str], text_columns: usize, rows: &[Vec<String>]) -> String {
    let mut out = format!("| {} |\n|", header.join(" | "));
    for i in 0..header.len() {
        out.push_str(if i < text_columns { "---|" } else { "---:|" });
    }
    out.push('\n');
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out
}

fn run_rows(runs: &[Run]) -> Vec<Vec<String>> {
    runs.iter()
        .map(|run| {
            vec![
                run.name.clone(),
                run.title.clone(),
                run.description.clone(),
                run.summary.design.sentence(),
                format!("{}", run.summary.commands),
                format!("{:.1}", run.summary.elapsed_seconds),
                human_bytes(run.journal_bytes),
                run.summary.state_hash.chars().take(12).collect(),
            ]
        })
        .collect()
}

const RUN_HEADER: [&str; 8] = [
    "Folder",
    "Title",
    "Description",
    "Design",
    "Commands",
    "Run time (s)",
    "Journal",
    "State hash",
];

fn intro(runs: &[Run]) -> String {
    let first = runs.first().map(|r| &r.summary);
    format!(
        "Scenario {}, seed {}, {} entities, the same seed in every run; each run's \
         folder (named in the runs table) holds its journaled store (store/) and its \
         own report (report.html).",
        first.map_or("-", |s| s.scenario.as_str()),
        first.map_or(0, |s| s.seed),
        first.map_or(0, |s| s.entities)
    )
}

/// The comparison as Markdown (charts linked as `<stem>.svg`).
#[must_use]
pub fn to_markdown(runs: &[Run]) -> String {
    let mut out = String::from("# Comparison of designs\n\n");
    let _ = writeln!(out, "{}\n", intro(runs));
    out.push_str(&markdown_table(&HEADER, 1, &table_rows(runs)));
    out.push_str(
        "\nCompliance cost = abatement + net purchases + penalties; the least-cost benchmark \
         is the same total abatement at one marginal cost.\n\n## Runs\n\n",
    );
    out.push_str(&markdown_table(&RUN_HEADER, 4, &run_rows(runs)));
    out.push_str("\n## Charts\n\n");
    for (stem, caption) in COMPARISON_CHARTS {
        let _ = writeln!(out, "![{caption}]({stem}.svg)\n");
    }
    out
}

/// The comparison as one self-contained HTML page.
#[must_use]
pub fn to_html(runs: &[Run]) -> String {
    let mut page = Page::new("Comparison of designs");
    page.note(&intro(runs));
    page.table(&HEADER, &table_rows(runs));
    page.note(
        "Compliance cost = abatement + net purchases + penalties; the least-cost benchmark \
         is the same total abatement at one marginal cost.",
    );
    page.heading("Charts");
    for (stem, caption) in COMPARISON_CHARTS {
        page.figure(&chart_svg(stem, runs), caption);
    }
    page.heading("Runs");
    page.table(&RUN_HEADER, &run_rows(runs));
    page.render()
}

/// Writes `comparison.md`, `comparison.html` and the charts into `dir`; returns the
/// HTML page's path.
///
/// # Errors
/// When a file cannot be written.
pub fn write_comparison(dir: &Path, runs: &[Run]) -> Result<PathBuf> {
    let write = |name: &str, text: &str| -> Result<()> {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write("comparison.md", &to_markdown(runs))?;
    write("comparison.html", &to_html(runs))?;
    for (stem, _) in COMPARISON_CHARTS {
        write(&format!("{stem}.svg"), &chart_svg(stem, runs))?;
    }
    Ok(dir.join("comparison.html"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toml(text: &str) -> toml::Value {
        toml::from_str(text).expect("toml")
    }

    #[test]
    fn tables_merge_key_by_key_and_other_values_are_replaced() {
        let mut base = toml(
            "[market]\nprice_mean = 42.85\nlot = [1, 2]\n[behaviour]\nshare = 0.1\n[[units.coal]]\nname = \"a\"\n[[units.coal]]\nname = \"b\"\n",
        );
        let overlay = toml(
            "[market]\nlot = [5]\n[design]\ncap = \"absolute\"\n[[units.coal]]\nname = \"c\"\n",
        );
        merge(&mut base, &overlay);
        assert_eq!(base["market"]["price_mean"].as_float(), Some(42.85));
        assert_eq!(base["market"]["lot"], toml("x = [5]")["x"]);
        assert_eq!(base["behaviour"]["share"].as_float(), Some(0.1));
        assert_eq!(base["design"]["cap"].as_str(), Some("absolute"));
        let coal = base["units"]["coal"].as_array().expect("array");
        assert_eq!(coal.len(), 1, "arrays of tables are replaced, not merged");
    }
}
