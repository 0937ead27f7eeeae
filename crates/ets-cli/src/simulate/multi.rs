//! `ets simulate multi`: a multi-year chain of compliance periods in one journaled
//! store (or in memory), its report and its timings.

use anyhow::{Result, bail};
use ets_sim::RunOptions;
use ets_sim::multiyear::{Chain, market_years, run_ensemble, run_into, sweep, year_bands};
use std::path::PathBuf;
use std::process::ExitCode;

/// The arguments of `ets simulate multi`.
#[derive(clap::Args)]
pub(super) struct MultiArgs {
    /// The chain file (e.g. scenarios/cn-power-2019-2025.toml).
    chain: PathBuf,
    /// The seed (default: the chain's).
    #[arg(long)]
    seed: Option<u64>,
    /// Simulate this many entities instead of the chain's number.
    #[arg(long)]
    entities: Option<u32>,
    /// The output folder (must be new or empty).
    #[arg(long)]
    out: PathBuf,
    /// Run on an engine in memory (no journal written; the same state hash).
    #[arg(long)]
    in_memory: bool,
    /// Run an ensemble of this many chains (seeds from the chain's seed on, as the
    /// one-year ensemble's), each under OUT/seed-SEED, with bands in OUT/report.md.
    #[arg(long)]
    seeds: Option<u32>,
    /// Sweep a setting of every period's scenario: `table.key=from..to` (the one-year
    /// sweep's syntax, e.g. `design.absolute_cap_mt=80..60`); each value is a chain run
    /// (an ensemble with --seeds) under OUT/point-J, and OUT/sweep.md plots each
    /// calendar year's volume and price against the value.
    #[arg(long, value_name = "KEY=FROM..TO", requires = "steps")]
    set: Option<String>,
    /// The number of swept values, both ends included (2 to 1000).
    #[arg(long, requires = "set")]
    steps: Option<u32>,
}

/// Runs the chain and prints the market per year, the periods and the timings.
pub(super) fn run_multi(args: &MultiArgs) -> Result<ExitCode> {
    if let (Some(set), Some(steps)) = (&args.set, args.steps) {
        return run_swept(args, set, steps);
    }
    let chain = adjusted(args, Chain::load(&args.chain)?);
    refuse_used_folder(args)?;
    if let Some(count) = args.seeds {
        return run_seeds(args, &chain, count);
    }
    let run = run_into(
        &args.out,
        &chain,
        RunOptions { progress: true },
        args.in_memory,
    )?;
    println!(
        "{}: {} entities, seed {}",
        chain.header.name, chain.header.entities, chain.header.seed
    );
    for year in market_years(&run.outcome.trades) {
        println!(
            "  {}: {:.1} Mt traded, average {:.2} yuan/t, close {:.2}",
            year.year,
            year.tonnes as f64 / 1e6,
            year.average,
            year.close
        );
    }
    for period in &run.outcome.periods {
        println!(
            "  period {} ({}): {} compliant, {} short",
            period.label, period.scheme, period.compliant, period.shortfall
        );
    }
    let store = if args.in_memory {
        "in memory".to_owned()
    } else {
        format!("store {} bytes", run.store_bytes)
    };
    println!(
        "  {} commands in {:.1} s ({store}); state hash {}",
        run.outcome.commands, run.seconds, run.state_hash
    );
    if let Some(report) = &run.report {
        println!("  report: {}", report.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The chain with the seed and entity count the arguments set.
fn adjusted(args: &MultiArgs, mut chain: Chain) -> Chain {
    if let Some(seed) = args.seed {
        chain = chain.with_seed(seed);
    }
    if let Some(entities) = args.entities {
        chain = chain.with_entities(entities);
    }
    chain
}

fn refuse_used_folder(args: &MultiArgs) -> Result<()> {
    if args.out.exists() && std::fs::read_dir(&args.out).is_ok_and(|mut d| d.next().is_some()) {
        bail!(
            "{} is not empty: choose a new output folder",
            args.out.display()
        );
    }
    Ok(())
}

/// The sweep over the chain: every value loaded and checked (and `--seeds` too) before
/// anything is written, then each value's chain run; prints each calendar year's
/// median price per value and where the report is.
fn run_swept(args: &MultiArgs, set: &str, steps: u32) -> Result<ExitCode> {
    let axis = ets_sim::sweep::parse(set, steps)?;
    let points = sweep::points(&args.chain, &axis, |chain| adjusted(args, chain))?;
    let count = args.seeds.unwrap_or(1);
    let first = points.first().map_or(0, |(_, chain)| chain.header.seed);
    ets_sim::ensemble::seeds(first, count)?;
    refuse_used_folder(args)?;
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let swept = sweep::run_sweep(&args.out, &axis, &points, count, (threads, args.in_memory))?;
    for point in &swept {
        let prices: Vec<String> = point
            .members
            .iter()
            .flat_map(|m| m.years.iter().map(|y| y.year))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .filter_map(|year| {
                let (_, price) = year_bands(&point.members, year);
                price.map(|b| format!("{year} {:.2}", b.median))
            })
            .collect();
        println!(
            "  {} = {}: average yuan/t {}",
            axis.key,
            point.value,
            prices.join(", ")
        );
    }
    if let Some(warning) = ets_sim::batch::few_seeds_warning(count as usize) {
        eprintln!("warning: {warning}");
    }
    println!("  report: {}", args.out.join("sweep.md").display());
    Ok(ExitCode::SUCCESS)
}

/// Runs the ensemble of `count` chains on every core and prints each calendar year's
/// bands and where the report is.
fn run_seeds(args: &MultiArgs, chain: &Chain, count: u32) -> Result<ExitCode> {
    // Refused before anything is written.
    ets_sim::ensemble::seeds(chain.header.seed, count)?;
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let members = run_ensemble(&args.out, chain, count, threads, args.in_memory)?;
    println!(
        "{}: {} entities, {} members from seed {}",
        chain.header.name, chain.header.entities, count, chain.header.seed
    );
    let mut years: Vec<i32> = members
        .iter()
        .flat_map(|m| m.years.iter().map(|y| y.year))
        .collect();
    years.sort_unstable();
    years.dedup();
    for year in years {
        let (volume, price) = year_bands(&members, year);
        let price = price.map_or("no trades".to_owned(), |b| {
            format!(
                "average {:.2} yuan/t ({:.2}-{:.2})",
                b.median, b.low, b.high
            )
        });
        println!(
            "  {year}: {:.1} Mt traded ({:.1}-{:.1}), {price}",
            volume.median, volume.low, volume.high
        );
    }
    if let Some(warning) = ets_sim::batch::few_seeds_warning(members.len()) {
        eprintln!("warning: {warning}");
    }
    println!("  report: {}", args.out.join("report.md").display());
    Ok(ExitCode::SUCCESS)
}
