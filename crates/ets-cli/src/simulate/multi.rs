//! `ets simulate multi`: a multi-year chain of compliance periods in one journaled
//! store (or in memory), its report and its timings.

use anyhow::{Result, bail};
use ets_sim::RunOptions;
use ets_sim::multiyear::{Chain, market_years, run_ensemble, run_into, year_bands};
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
}

/// Runs the chain and prints the market per year, the periods and the timings.
pub(super) fn run_multi(args: &MultiArgs) -> Result<ExitCode> {
    let mut chain = Chain::load(&args.chain)?;
    if let Some(seed) = args.seed {
        chain = chain.with_seed(seed);
    }
    if let Some(entities) = args.entities {
        chain = chain.with_entities(entities);
    }
    if args.out.exists() && std::fs::read_dir(&args.out).is_ok_and(|mut d| d.next().is_some()) {
        bail!(
            "{} is not empty: choose a new output folder",
            args.out.display()
        );
    }
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
