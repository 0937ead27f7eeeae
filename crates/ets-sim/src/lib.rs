//! The openets policy lab: generates a synthetic population of covered
//! entities from a scenario file (`scenarios/*.toml`), drives a whole
//! compliance year through the engine as ordinary commands, and writes a
//! report with the simulated figures beside the published ones.
//! See `docs/simulation.md`.

pub mod agents;
pub mod report;
pub mod scenario;
mod trading;
pub mod year;

pub use report::{YearSummary, write_report};
pub use scenario::{Population, Scenario, generate};
pub use year::{RunOptions, Sink, run_year, run_year_in_store, run_year_with};

use anyhow::{Result, bail};
use std::path::Path;

/// Runs the scenario at `scenario_path` (seed and entity count overridden when given), journaled in a new
/// store at `out_dir/store`, and writes `report.md`, `daily_volume.svg` and
/// `summary.json` into `out_dir`. Progress bars go to stderr.
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
    let store_dir = out_dir.join("store");
    if store_dir.exists() {
        bail!(
            "{} already exists: choose a new output folder",
            store_dir.display()
        );
    }
    std::fs::create_dir_all(out_dir)?;
    let (summary, store) = run_year_in_store(&scenario, &store_dir, RunOptions { progress: true })?;
    store
        .engine()
        .check_invariants()
        .map_err(|e| anyhow::anyhow!("registry invariants broken after the run: {e}"))?;
    drop(store);
    write_report(out_dir, &summary)?;
    Ok(summary)
}
