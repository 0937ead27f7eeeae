//! The openets policy lab: generates a synthetic population of covered
//! entities from a scenario file (`scenarios/*.toml`), drives a whole
//! compliance year through the engine as ordinary commands, and writes a
//! report with the simulated figures beside the published ones.
//! See `docs/simulation.md`.

pub mod agents;
pub mod assumptions;
pub mod batch;
pub mod batch_report;
pub mod charts;
pub mod compare;
pub mod ensemble;
pub mod export;
pub mod figure;
pub mod html;
pub mod multiyear;
pub mod report;
pub mod reserve;
pub mod roadmap;
pub mod scenario;
pub mod sector;
pub mod shard;
pub mod sweep;
mod trading;
pub mod year;
pub mod year_charts;

pub use report::{EntityFigures, RunFacts, YearSummary, write_full_report, write_report};
pub use scenario::{Population, Scenario, generate};
pub use year::{RunOptions, Sink, run_year, run_year_in_store, run_year_with};

use anyhow::{Result, bail};
use std::path::{Path, PathBuf};

/// What a journaled run left in its folder.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// The year's summary.
    pub summary: YearSummary,
    /// Per-entity figures for the charts.
    pub figures: EntityFigures,
    /// The store (`<out_dir>/store`).
    pub store_dir: PathBuf,
    /// Bytes of the store's files (journal and snapshots).
    pub journal_bytes: u64,
    /// The HTML report.
    pub report: PathBuf,
}

/// Bytes of the files under `dir` (recursively); 0 if it cannot be read.
#[must_use]
pub fn folder_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(std::result::Result::ok)
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => folder_bytes(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Runs `scenario` journaled in a new store at `out_dir/store`, checks the registry's
/// invariants, and writes the report (`report.md`, `report.html`, the charts,
/// `summary.json`) into `out_dir`.
///
/// # Errors
/// When `out_dir/store` already exists, a command the simulation relies on is
/// refused, an invariant is broken, or the files cannot be written.
pub fn run_into(out_dir: &Path, scenario: &Scenario, options: RunOptions) -> Result<RunOutput> {
    let store_dir = out_dir.join("store");
    if store_dir.exists() {
        bail!(
            "{} already exists: choose a new output folder",
            store_dir.display()
        );
    }
    std::fs::create_dir_all(out_dir)?;
    let (summary, store) = run_year_in_store(scenario, &store_dir, options)?;
    let engine = store.engine();
    engine
        .check_invariants()
        .map_err(|e| anyhow::anyhow!("registry invariants broken after the run: {e}"))?;
    // Power's entities, then each sector's firms (entity order).
    let schemes = std::iter::once(&scenario.scenario.scheme)
        .chain(scenario.sectors.iter().map(|sector| &sector.scheme));
    let results: Vec<_> = schemes
        .filter_map(|scheme| {
            engine
                .compliance()
                .closed_results(scheme, scenario.scenario.year)
        })
        .flatten()
        .cloned()
        .collect();
    let figures = EntityFigures::from_results(&results);
    drop(store);
    write_full_report(out_dir, &summary, &figures)?;
    Ok(RunOutput {
        summary,
        figures,
        journal_bytes: folder_bytes(&store_dir),
        store_dir,
        report: out_dir.join("report.html"),
    })
}

/// Runs the scenario at `scenario_path` (seed and entity count overridden when given), journaled in a new
/// store at `out_dir/store`, and writes the report (see [`run_into`]) into `out_dir`.
/// Progress bars go to stderr.
///
/// # Errors
/// When the scenario is broken, `out_dir/store` already exists, a command the
/// simulation relies on is refused, or the files cannot be written.
pub fn demo(
    out_dir: &Path,
    scenario_path: &Path,
    seed: Option<u64>,
    entities: Option<u32>,
) -> Result<YearSummary> {
    let mut scenario = Scenario::load(scenario_path)?;
    if let Some(seed) = seed {
        scenario = scenario.with_seed(seed);
    }
    if let Some(entities) = entities {
        scenario = scenario.with_entities(entities);
    }
    Ok(run_into(out_dir, &scenario, RunOptions { progress: true })?.summary)
}
