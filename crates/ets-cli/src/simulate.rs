//! `ets simulate` and `ets demo`: policy-lab runs through the journaled store, their
//! reports, the comparison of design variants, and the export of a generated
//! population for `ets compliance`.

use anyhow::{Context as _, Result, bail};
use ets_sim::compare::{self, Run, Variant};
use ets_sim::report::human_bytes;
use ets_sim::{RunFacts, RunOptions, Scenario};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

mod batch;
mod multi;
use batch::{run_ensemble, run_merge, run_sweep};
use multi::{MultiArgs, run_multi};

/// The arguments of `ets simulate`.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SimulateArgs {
    /// A sweep or the merge of shards instead of a run.
    #[command(subcommand)]
    action: Option<Action>,
    /// The scenario file.
    #[arg(long, required = true)]
    scenario: Option<PathBuf>,
    /// The seed of every run (default: the scenario's); the first seed of an ensemble.
    #[arg(long)]
    seed: Option<u64>,
    /// Simulate this many entities instead of the scenario's number.
    #[arg(long)]
    entities: Option<u32>,
    /// A design variant to run beside the scenario (a TOML overlay; repeatable).
    #[arg(long = "compare", value_name = "VARIANT.toml")]
    compare: Vec<PathBuf>,
    /// The output folder (default: out/<scenario>-<seed>, or out/<scenario>-ensemble-<seed>;
    /// a previous run's folder there is replaced).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the generated population as the files `ets compliance` imports into this
    /// folder (setup.jsonl, entities.csv, base-year and compliance-year outputs) and stop.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["seeds", "shard"])]
    export_csv: Option<PathBuf>,
    #[command(flatten)]
    batch: BatchArgs,
}

/// The options of an ensemble or a sweep.
#[derive(clap::Args)]
struct BatchArgs {
    /// Run every design run (or sweep value) with N seeds (the first seed and the next
    /// ones), each member journaled in its own temporary store, in parallel (`--jobs`),
    /// and report the median and the 5-95% band of every figure
    /// (`ensemble.html` or `sweep.html`, and `results.json`).
    #[arg(long, value_name = "N")]
    seeds: Option<u32>,
    /// Run only shard I of N of the members (0-based: 0 to N-1, as a Kubernetes indexed
    /// Job's JOB_COMPLETION_INDEX) and write its results file into the output folder;
    /// `ets simulate merge` combines the shards' files.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Run the members on engines in memory instead of journaled temporary stores: the
    /// same runs (the same state hashes, so `ets simulate --seed S` reproduces any of
    /// them with its journal), without the journal's writes.
    #[arg(long)]
    in_memory: bool,
    /// Members run at a time (default: the number of cores).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
}

/// `ets simulate sweep` and `ets simulate merge`.
#[derive(clap::Subcommand)]
enum Action {
    /// Varies one numeric setting of the scenario over a range and runs each value (with
    /// --seeds N, an ensemble per value); writes `sweep.html` with the price, volume and
    /// cost against the setting (median and 5-95% band), a table, and `results.json`.
    ///
    /// Example: `ets simulate sweep --scenario scenarios/cn-power-2021.toml --set design.price_floor_yuan=30..60 --steps 4 --seeds 5 --entities 300 --out out/floor`
    Sweep(Box<SweepArgs>),
    /// Combines the results files of every shard of an ensemble or a sweep into the
    /// report the unsharded run writes (the same `results.json`, byte for byte).
    ///
    /// Example: `ets simulate merge out/floor/results-shard-*-of-4.json --out out/floor-all`
    Merge(MergeArgs),
    /// Runs a chain of compliance periods (2019-2020, 2021, 2022, 2023, 2024) in one
    /// journaled store on the real timeline: holdings carry over, the carry-over cap binds
    /// at the close of 2024, later windows list at the previous close; writes `report.md`
    /// (the market per calendar year beside the published figures) and prints timings.
    ///
    /// Example: `ets simulate multi scenarios/cn-power-2019-2025.toml --entities 300 --out out/multi`
    Multi(MultiArgs),
}

/// The arguments of `ets simulate sweep`.
#[derive(clap::Args)]
struct SweepArgs {
    /// The scenario file.
    #[arg(long)]
    scenario: PathBuf,
    /// A design variant to apply before the setting (e.g. `cap = "absolute"` to sweep
    /// `design.absolute_cap_mt`).
    #[arg(long, value_name = "VARIANT.toml")]
    variant: Option<PathBuf>,
    /// The setting and its range: `table.key=from..to` (e.g. `design.auction_share=0..0.3`).
    #[arg(long, value_name = "KEY=FROM..TO")]
    set: String,
    /// The number of values, both ends included (2 to 1000).
    #[arg(long)]
    steps: u32,
    /// The first seed (default: the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Simulate this many entities instead of the scenario's number.
    #[arg(long)]
    entities: Option<u32>,
    /// The output folder (default: out/<scenario>-sweep-<seed>).
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    batch: BatchArgs,
}

/// The arguments of `ets simulate merge`.
#[derive(clap::Args)]
struct MergeArgs {
    /// The results files of every shard (`results-shard-I-of-N.json`).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// The output folder of the merged report (must be new or empty).
    #[arg(long)]
    out: PathBuf,
}

/// A scenario with the command line's seed and entity count applied.
fn adjusted(scenario: Scenario, seed: Option<u64>, entities: Option<u32>) -> Scenario {
    let scenario = match seed {
        Some(seed) => scenario.with_seed(seed),
        None => scenario,
    };
    match entities {
        Some(entities) => scenario.with_entities(entities),
        None => scenario,
    }
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned())
}

/// The output folder: the one given, or `out/<stem>-<seed>`, replacing a previous
/// run of ours there (it has a `summary.json` or a `comparison.md`), never anything else.
fn output_folder(out: Option<PathBuf>, scenario: &Path, seed_text: &str) -> Result<PathBuf> {
    if let Some(out) = out {
        return Ok(out);
    }
    let out = PathBuf::from("out").join(format!("{}-{seed_text}", stem(scenario)));
    if out.join("summary.json").exists() || out.join("comparison.md").exists() {
        std::fs::remove_dir_all(&out)
            .with_context(|| format!("cannot replace {}", out.display()))?;
    }
    Ok(out)
}

/// `ets demo`: the scenario's year through the journaled store, its report, a
/// one-screen summary.
pub fn demo(
    scenario_path: &Path,
    seed: Option<u64>,
    entities: Option<u32>,
    out: Option<PathBuf>,
) -> Result<ExitCode> {
    let started = Instant::now();
    let seed_text = seed.map_or_else(|| "default".to_owned(), |s| s.to_string());
    let out = output_folder(out, scenario_path, &seed_text)?;
    let scenario = adjusted(Scenario::load(scenario_path)?, seed, entities);
    if let Some(warning) = small_warning(&scenario) {
        eprintln!("warning: {warning}");
    }
    let run = ets_sim::run_into(&out, &scenario, RunOptions { progress: true })
        .with_context(|| format!("the demo with scenario {} failed", scenario_path.display()))?;
    let facts = RunFacts {
        wall_seconds: started.elapsed().as_secs_f64(),
        journal_bytes: run.journal_bytes,
        report: run.report,
    };
    println!("{}", run.summary.terminal_summary(&facts));
    println!(
        "  also in {}: report.md, the charts (*.svg), summary.json and the journaled store/",
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// A run to do: its folder name, title, description and scenario.
struct Planned {
    name: String,
    title: String,
    description: String,
    scenario: Scenario,
}

/// Loads and checks the scenario and every variant before anything runs.
fn plan(scenario_path: &Path, args: &SimulateArgs) -> Result<Vec<Planned>> {
    let base = adjusted(Scenario::load(scenario_path)?, args.seed, args.entities);
    let mut runs = vec![Planned {
        name: "base".into(),
        title: base.scenario.name.clone(),
        description: format!("the scenario {}", scenario_path.display()),
        scenario: base,
    }];
    for path in &args.compare {
        let variant = Variant::load(path)?;
        let scenario = adjusted(variant.apply(scenario_path)?, args.seed, args.entities);
        let mut name = variant.name.clone();
        let mut n = 2;
        while runs.iter().any(|r| r.name == name) {
            name = format!("{}-{n}", variant.name);
            n += 1;
        }
        runs.push(Planned {
            name,
            title: variant.title,
            description: variant.description,
            scenario,
        });
    }
    Ok(runs.into_iter().flat_map(roadmap_years).collect())
}

/// A run of a scenario with a `[roadmap]` becomes one run per roadmap year
/// (`ets_sim::roadmap`); any other run stays as it is.
fn roadmap_years(planned: Planned) -> Vec<Planned> {
    let years = ets_sim::roadmap::expand(&planned.scenario);
    if years.is_empty() {
        return vec![planned];
    }
    years
        .into_iter()
        .map(|(year, title, scenario)| Planned {
            name: format!("{}-{year}", planned.name),
            title: if planned.name == "base" {
                title
            } else {
                format!("{} {title}", planned.title)
            },
            description: planned.description.clone(),
            scenario,
        })
        .collect()
}

/// `ets simulate`.
pub fn run(args: SimulateArgs) -> Result<ExitCode> {
    match args.action {
        Some(Action::Sweep(sweep)) => return run_sweep(&sweep),
        Some(Action::Merge(merge)) => return run_merge(&merge),
        Some(Action::Multi(multi)) => return run_multi(&multi),
        None => {}
    }
    let Some(scenario_path) = args.scenario.clone() else {
        bail!("--scenario is required");
    };
    let planned = plan(&scenario_path, &args)?;
    if let Some(dir) = &args.export_csv {
        return export(dir, &planned[0].scenario);
    }
    if args.batch.seeds.is_some() || args.batch.shard.is_some() {
        return run_ensemble(&scenario_path, planned, args.out, &args.batch);
    }
    run_comparison(&scenario_path, planned, args.out)
}

/// The scenario and its variants, each once, journaled in its own folder, and their
/// comparison.
fn run_comparison(
    scenario_path: &Path,
    planned: Vec<Planned>,
    out: Option<PathBuf>,
) -> Result<ExitCode> {
    let started = Instant::now();
    let seed = planned[0].scenario.scenario.seed;
    let out = output_folder(out, scenario_path, &seed.to_string())?;
    if out.exists() && std::fs::read_dir(&out).is_ok_and(|mut d| d.next().is_some()) {
        bail!(
            "{} is not empty: choose a new output folder with --out",
            out.display()
        );
    }
    if let Some(warning) = small_warning(&planned[0].scenario) {
        eprintln!("warning: {warning}");
    }
    let mut runs = Vec::with_capacity(planned.len());
    let count = planned.len();
    for (i, planned) in planned.into_iter().enumerate() {
        eprintln!(
            "run {}/{count}: {} ({})",
            i + 1,
            planned.name,
            planned.title
        );
        let dir = out.join(&planned.name);
        let run_started = Instant::now();
        let output = ets_sim::run_into(&dir, &planned.scenario, RunOptions { progress: true })
            .with_context(|| format!("run {} failed", planned.name))?;
        let facts = RunFacts {
            wall_seconds: run_started.elapsed().as_secs_f64(),
            journal_bytes: output.journal_bytes,
            report: output.report.clone(),
        };
        println!("== {}: {}", planned.name, planned.title);
        println!("{}\n", output.summary.terminal_summary(&facts));
        runs.push(Run {
            name: planned.name,
            title: planned.title,
            description: planned.description,
            summary: output.summary,
            journal_bytes: output.journal_bytes,
        });
    }
    let report = compare::write_comparison(&out, &runs)?;
    print_comparison(&runs, started.elapsed().as_secs_f64(), &report);
    Ok(ExitCode::SUCCESS)
}

/// The warning for a run too small to stand for the market, if it is.
fn small_warning(scenario: &Scenario) -> Option<String> {
    ets_sim::batch::small_run_warning(scenario.scenario.entities, scenario.published.entities)
}

fn print_comparison(runs: &[Run], seconds: f64, report: &Path) {
    let header = [
        "run",
        "secondary Mt",
        "auction Mt",
        "price",
        "turnover %",
        "volatility %",
        "compliance %",
    ];
    println!(
        "{:<28} {:>12} {:>10} {:>8} {:>11} {:>13} {:>13}",
        header[0], header[1], header[2], header[3], header[4], header[5], header[6]
    );
    // Columns of compare::HEADER: title, secondary, auction, price, turnover,
    // volatility, ..., compliance by entity (9).
    for row in compare::table_rows(runs) {
        println!(
            "{:<28} {:>12} {:>10} {:>8} {:>11} {:>13} {:>13}",
            row[0], row[1], row[2], row[3], row[4], row[5], row[9]
        );
    }
    let commands: u64 = runs.iter().map(|r| r.summary.commands).sum();
    let bytes: u64 = runs.iter().map(|r| r.journal_bytes).sum();
    println!(
        "\n{} runs in {seconds:.1} s: {commands} commands ({:.0} commands/s), journals {}",
        runs.len(),
        commands as f64 / seconds.max(1e-9),
        human_bytes(bytes)
    );
    println!("comparison: {}", report.display());
}

/// `ets simulate --export-csv DIR`: the generated population as import files.
fn export(dir: &Path, scenario: &Scenario) -> Result<ExitCode> {
    let population = ets_sim::generate(scenario)?;
    let paths = ets_sim::export::write_population(dir, &population)?;
    println!(
        "{} entities, {} units of {} (seed {}) written:",
        population.entities.len(),
        population.units(),
        scenario.scenario.name,
        scenario.scenario.seed
    );
    for path in paths {
        println!("  {}", path.display());
    }
    println!(
        "import: ets submit --data D {0}/setup.jsonl; ets compliance load-rulebook --data D --requester 1 {1}; \
         ets compliance register --data D --requester 1 --scheme {2} {0}/entities.csv",
        dir.display(),
        scenario.scenario.rulebook.display(),
        scenario.scenario.scheme
    );
    Ok(ExitCode::SUCCESS)
}
