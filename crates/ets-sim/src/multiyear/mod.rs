//! Multi-year runs: a chain file (`scenarios/cn-power-2019-2025.toml`,
//! `scenarios/cn-four-sectors-2019-2026.toml` with the industrial sectors) lists the
//! compliance periods, each a single-period scenario with optional overrides; the
//! chain runs them in ONE engine or journaled store (`year::run_chain`) and the report
//! sets the simulated market of each calendar year beside the published one, marked
//! calibration, validation or projection. docs/simulation.md, "Multi-year runs".

pub mod charts;
mod ensemble;
mod report;
pub mod sweep;

pub use ensemble::{ChainMember, chart_file, run_ensemble, write_ensemble_report, year_bands};
pub use report::{MarketYear, market_years, write_report};

use crate::compare::merge;
use crate::scenario::{Scenario, read_toml};
use crate::year::{ChainOutcome, RunOptions, run_chain};
use anyhow::{Context as _, Result, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The chain file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChainFile {
    chain: Header,
    period: Vec<PeriodSpec>,
    #[serde(default)]
    published: Vec<PublishedYear>,
}

/// `[chain]`: the name, and the seed and size every period shares (one population).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// The chain's name.
    pub name: String,
    /// The seed of the population and of the market (any u64).
    pub seed: u64,
    /// Covered entities.
    pub entities: u32,
}

/// One `[[period]]`: a scenario file (relative to the chain file) and what to set over it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PeriodSpec {
    scenario: PathBuf,
    #[serde(default)]
    set: Option<toml::Value>,
    /// A scenario file whose `[roadmap]` sets this period's design (a roadmap year: the
    /// absolute cap, the auction share and the reserve of the scenario's year).
    #[serde(default)]
    roadmap: Option<PathBuf>,
}

/// What a calendar year's published figures are used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The behavioural parameters were chosen against it.
    Calibration,
    /// Not used in the choice: a test of the model.
    Validation,
}

/// One `[[published]]` calendar year of the market (docs/sources.md#cn-market-statistics).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedYear {
    /// The calendar year.
    pub year: i32,
    /// Volume traded, Mt (all vintages, listed and block).
    pub traded_mt: f64,
    /// Average price, yuan/t.
    pub average_price: f64,
    /// Last close of the year, yuan/t, when published.
    #[serde(default)]
    pub close: Option<f64>,
    /// Calibration or validation.
    pub role: Role,
}

/// A loaded chain: its header, the period scenarios (seed and size set) and the
/// published market years.
#[derive(Debug, Clone)]
pub struct Chain {
    /// The chain file.
    pub path: PathBuf,
    /// `[chain]`.
    pub header: Header,
    /// The periods, in order.
    pub periods: Vec<Scenario>,
    /// The published market years.
    pub published: Vec<PublishedYear>,
}

impl Chain {
    /// Reads a chain file and the scenario of each period (with its `set` merged over it).
    ///
    /// # Errors
    /// An unreadable or malformed file, an unknown key (named with its file), an empty
    /// chain, or a period scenario that does not load.
    pub fn load(path: &Path) -> Result<Chain> {
        Chain::load_with(path, None)
    }

    /// Reads a chain file as [`Chain::load`] does, with the sweep's setting `axis.key`
    /// at `value` in every period (over the period's own `set`), each period checked as
    /// the one-year sweep checks a value.
    ///
    /// # Errors
    /// As [`Chain::load`]; and naming the chain file, the period, the key and the value
    /// when a period has no such numeric setting or refuses the value.
    pub fn load_swept(path: &Path, axis: &crate::batch::Axis, value: f64) -> Result<Chain> {
        Chain::load_with(path, Some((axis, value)))
    }

    fn load_with(path: &Path, swept: Option<(&crate::batch::Axis, f64)>) -> Result<Chain> {
        let value = read_toml(path)?;
        let file: ChainFile = serde_path_to_error::deserialize(value).map_err(|error| {
            let key = error.path().to_string();
            anyhow::anyhow!("{}: {key}: {}", path.display(), error.into_inner())
        })?;
        if file.period.is_empty() {
            bail!("{}: period: the chain lists no period", path.display());
        }
        if file.chain.entities == 0 {
            bail!(
                "{}: chain.entities = 0: at least one entity",
                path.display()
            );
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let periods = file
            .period
            .iter()
            .enumerate()
            .map(|(i, spec)| period_scenario(path, base, &file.chain, spec, (i, swept)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Chain {
            path: path.to_path_buf(),
            header: file.chain,
            periods,
            published: file.published,
        })
    }

    /// The same chain with another seed.
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Chain {
        self.header.seed = seed;
        self.periods = self
            .periods
            .into_iter()
            .map(|s| s.with_seed(seed))
            .collect();
        self
    }

    /// The same chain with another entity count; the sectors' firms and output scale with
    /// it (a smaller market of the same shape, at least one firm a sector).
    #[must_use]
    pub fn with_entities(mut self, entities: u32) -> Chain {
        let scale = f64::from(entities) / f64::from(self.header.entities.max(1));
        self.header.entities = entities;
        self.periods = self
            .periods
            .into_iter()
            .map(|s| {
                let mut scenario = s.with_entities(entities);
                for sector in &mut scenario.sectors {
                    let firms = ((f64::from(sector.firms) * scale).round() as u32).max(1);
                    let share = f64::from(firms) / f64::from(sector.firms);
                    sector.output_mt *= share;
                    sector.market_share *= share;
                    sector.firms = firms;
                }
                scenario
            })
            .collect();
        self
    }
}

/// The scenario of period `index`: its file with `set` merged over it (and the swept
/// setting at its value, if any), seed and size from the chain.
fn period_scenario(
    chain_path: &Path,
    base: &Path,
    header: &Header,
    spec: &PeriodSpec,
    (index, swept): (usize, Option<(&crate::batch::Axis, f64)>),
) -> Result<Scenario> {
    let file = base.join(&spec.scenario);
    let mut document = read_toml(&file)?;
    if let Some(set) = &spec.set {
        merge(&mut document, set);
    }
    let period = format!(
        "{}: period {} ({})",
        chain_path.display(),
        index + 1,
        file.display()
    );
    let scenario = match swept {
        Some((axis, value)) => {
            let set = format!("{period}: --set {}={}..{}", axis.key, axis.from, axis.to);
            crate::sweep::swept(&document, &file, axis, value, &set)?
        }
        None => Scenario::from_value(document, &file, spec.set.as_ref().map(|s| (chain_path, s)))
            .with_context(|| period.clone())?,
    };
    let mut scenario = scenario
        .with_seed(header.seed)
        .with_entities(header.entities);
    if let Some(roadmap) = &spec.roadmap {
        scenario.roadmap = Some(roadmap_of(
            chain_path,
            &base.join(roadmap),
            &scenario,
            index,
        )?);
    }
    Ok(scenario)
}

/// The `[roadmap]` of the scenario file at `path`, which must cover `scenario`'s year.
fn roadmap_of(
    chain_path: &Path,
    path: &Path,
    scenario: &Scenario,
    index: usize,
) -> Result<crate::roadmap::Roadmap> {
    let key = format!("{}: period {}: roadmap", chain_path.display(), index + 1);
    let roadmap = Scenario::load(path)
        .with_context(|| format!("{key} = {:?}", path.display().to_string()))?
        .roadmap
        .with_context(|| {
            format!(
                "{key} = {:?}: the file has no [roadmap]",
                path.display().to_string()
            )
        })?;
    let year = scenario.scenario.year;
    if !roadmap.years().any(|y| y == year) {
        bail!(
            "{key} = {:?}: its years {}-{} do not include the period's year {year}",
            path.display().to_string(),
            roadmap.first_year,
            roadmap.last_year
        );
    }
    Ok(roadmap)
}

/// What a multi-year run produced, with its timings.
#[derive(Debug, Clone)]
pub struct ChainRun {
    /// The chain's outcome.
    pub outcome: ChainOutcome,
    /// Seconds the run took (setup to the last close).
    pub seconds: f64,
    /// The engine's state hash at the end (hex).
    pub state_hash: String,
    /// Bytes of the store (0 in memory).
    pub store_bytes: u64,
    /// The report, when written.
    pub report: Option<PathBuf>,
}

/// Runs `chain` journaled in a new store at `out_dir/store` (or in memory when
/// `in_memory`), checks the registry's invariants, and writes `report.md` into `out_dir`.
///
/// # Errors
/// When `out_dir/store` exists, a command the simulation relies on is refused, an
/// invariant is broken, or the report cannot be written.
pub fn run_into(
    out_dir: &Path,
    chain: &Chain,
    options: RunOptions,
    in_memory: bool,
) -> Result<ChainRun> {
    let store_dir = out_dir.join("store");
    if !in_memory && store_dir.exists() {
        bail!(
            "{} already exists: choose a new output folder",
            store_dir.display()
        );
    }
    std::fs::create_dir_all(out_dir)?;
    let started = Instant::now();
    let (outcome, state_hash, store_bytes) = if in_memory {
        let mut engine = ets_engine::Engine::new();
        let outcome = run_chain(&chain.periods, &mut engine, options)?;
        check(&engine)?;
        (outcome, engine.state_hash().to_string(), 0)
    } else {
        let mut store = ets_store::Store::create_of_kind(
            &store_dir,
            ets_store::StoreConfig::default(),
            ets_store::StoreKind::Virtual,
        )
        .with_context(|| format!("creating store {}", store_dir.display()))?;
        let outcome = run_chain(&chain.periods, &mut store, options)?;
        store.snapshot()?;
        check(store.engine())?;
        let hash = store.engine().state_hash().to_string();
        drop(store);
        (outcome, hash, crate::folder_bytes(&store_dir))
    };
    let mut run = ChainRun {
        outcome,
        seconds: started.elapsed().as_secs_f64(),
        state_hash,
        store_bytes,
        report: None,
    };
    let report = out_dir.join("report.md");
    std::fs::write(&report, write_report(chain, &run))?;
    run.report = Some(report);
    Ok(run)
}

/// Runs `chain` on an engine in memory (no files, no progress): for tests and ensembles.
///
/// # Errors
/// As [`run_chain`].
pub fn run_in_memory(chain: &Chain) -> Result<(ChainOutcome, ets_engine::Engine)> {
    let mut engine = ets_engine::Engine::new();
    let outcome = run_chain(&chain.periods, &mut engine, RunOptions::default())?;
    check(&engine)?;
    Ok((outcome, engine))
}

fn check(engine: &ets_engine::Engine) -> Result<()> {
    engine
        .check_invariants()
        .map_err(|e| anyhow::anyhow!("registry invariants broken after the run: {e}"))
}
