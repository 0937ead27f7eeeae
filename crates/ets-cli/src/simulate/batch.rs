//! `ets simulate --seeds N`, `ets simulate sweep` and `ets simulate merge`: batches of
//! independent runs (design points x seeds) on every core, each member journaled in
//! its own temporary store; their report with median and 5-95% bands; slices of a
//! batch (`--shard i/n`) and the merge of the slices' results files.

use super::{BatchArgs, MergeArgs, Planned, SweepArgs, adjusted, stem};
use anyhow::{Result, bail};
use ets_sim::Scenario;
use ets_sim::batch::{Plan, Point, Results};
use ets_sim::compare::Variant;
use ets_sim::ensemble::{self, Band, Job};
use ets_sim::shard::{self, Shard};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// A checked batch, ready to run: nothing has been written yet.
struct Batch {
    plan: Plan,
    /// The scenario of each design point (seed set per member).
    scenarios: Vec<Scenario>,
    shard: Option<Shard>,
    out: PathBuf,
    jobs: usize,
}

/// The seeds of every point and the shard, checked against the batch's size.
fn seeds_and_shard(
    first: u64,
    args: &BatchArgs,
    points: usize,
) -> Result<(Vec<u64>, Option<Shard>)> {
    let seeds = ensemble::seeds(first, args.seeds.unwrap_or(1))?;
    let shard = args.shard.as_deref().map(Shard::parse).transpose()?;
    if let Some(shard) = shard {
        shard.check(points * seeds.len())?;
    }
    Ok((seeds, shard))
}

/// The output folder of a batch: the one given or `out/<stem>-<kind>-<seed>`. A whole
/// batch needs it new or empty (a previous batch of ours at the default place is
/// replaced); a shard needs only its own file to be new, so that every shard of a
/// batch can write into one shared folder.
fn batch_folder(given: Option<PathBuf>, default: PathBuf, shard: Option<Shard>) -> Result<PathBuf> {
    let out = match given {
        Some(out) => out,
        None => {
            if shard.is_none() && default.join("results.json").exists() {
                std::fs::remove_dir_all(&default)?;
            }
            default
        }
    };
    match shard {
        Some(shard) if out.join(shard.file_name()).exists() => bail!(
            "{} already exists: this shard has run; choose a new output folder with --out",
            out.join(shard.file_name()).display()
        ),
        None if std::fs::read_dir(&out).is_ok_and(|mut d| d.next().is_some()) => bail!(
            "{} is not empty: choose a new output folder with --out",
            out.display()
        ),
        _ => Ok(out),
    }
}

fn jobs(args: &BatchArgs) -> usize {
    args.jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
        .max(1)
}

/// `ets simulate --seeds N` (or `--shard i/n`): the scenario and its variants, each
/// with every seed.
pub fn run_ensemble(
    scenario_path: &Path,
    planned: Vec<Planned>,
    out: Option<PathBuf>,
    args: &BatchArgs,
) -> Result<ExitCode> {
    let base = &planned[0].scenario;
    let (seeds, shard) = seeds_and_shard(base.scenario.seed, args, planned.len())?;
    let default = PathBuf::from("out").join(format!(
        "{}-ensemble-{}",
        stem(scenario_path),
        base.scenario.seed
    ));
    let plan = Plan {
        scenario: base.scenario.name.clone(),
        scenario_file: scenario_path.display().to_string(),
        entities: base.scenario.entities,
        market_entities: base.published.entities,
        sweep: None,
        points: planned
            .iter()
            .map(|p| Point {
                name: p.name.clone(),
                title: p.title.clone(),
                description: p.description.clone(),
                value: None,
            })
            .collect(),
        seeds,
    };
    run_batch(Batch {
        plan,
        scenarios: planned.into_iter().map(|p| p.scenario).collect(),
        shard,
        out: batch_folder(out, default, shard)?,
        jobs: jobs(args),
    })
}

/// `ets simulate sweep`: each value of the setting, with every seed.
pub fn run_sweep(args: &SweepArgs) -> Result<ExitCode> {
    let axis = ets_sim::sweep::parse(&args.set, args.steps)?;
    let variant = args.variant.as_deref().map(Variant::load).transpose()?;
    let points = ets_sim::sweep::points(&args.scenario, variant.as_ref(), &axis)?;
    let scenarios: Vec<Scenario> = points
        .iter()
        .map(|(_, s)| adjusted(s.clone(), args.seed, args.entities))
        .collect();
    let base = &scenarios[0];
    let (seeds, shard) = seeds_and_shard(base.scenario.seed, &args.batch, scenarios.len())?;
    let default = PathBuf::from("out").join(format!(
        "{}-sweep-{}",
        stem(&args.scenario),
        base.scenario.seed
    ));
    let description = variant.as_ref().map_or_else(String::new, |v| {
        format!("over the variant {}: {}", v.title, v.description)
    });
    let plan = Plan {
        scenario: base.scenario.name.clone(),
        scenario_file: args.scenario.display().to_string(),
        entities: base.scenario.entities,
        market_entities: base.published.entities,
        points: points
            .iter()
            .map(|(value, _)| Point {
                name: format!("{}={value}", axis.key),
                title: format!("{} = {value}", axis.key),
                description: description.clone(),
                value: Some(*value),
            })
            .collect(),
        sweep: Some(axis),
        seeds,
    };
    run_batch(Batch {
        plan,
        scenarios,
        shard,
        out: batch_folder(args.out.clone(), default, shard)?,
        jobs: jobs(&args.batch),
    })
}

/// Runs the members of the batch (of its shard) and writes the report (the shard's
/// results file).
fn run_batch(batch: Batch) -> Result<ExitCode> {
    let Batch {
        plan,
        scenarios,
        shard,
        out,
        jobs,
    } = batch;
    for warning in plan.warnings() {
        eprintln!("warning: {warning}");
    }
    let selected: Vec<Job> = (0..plan.member_count())
        .filter(|i| shard.is_none_or(|s| s.holds(*i)))
        .map(|index| {
            let (point, seed) = plan.member(index);
            Job {
                index,
                point,
                scenario: scenarios[point].clone().with_seed(seed),
            }
        })
        .collect();
    eprintln!(
        "{} members of {} ({} points x {} seeds), {jobs} at a time, each journaled in its own temporary store",
        selected.len(),
        plan.member_count(),
        plan.points.len(),
        plan.seeds.len()
    );
    let started = Instant::now();
    let members = ensemble::run_journaled(&selected, jobs, true)?;
    std::fs::create_dir_all(&out)?;
    let seconds = started.elapsed().as_secs_f64();
    let commands: u64 = members.iter().map(|m| m.commands).sum();
    if let Some(shard) = shard {
        let path = out.join(shard.file_name());
        Results {
            shard: Some(shard),
            ..Results::whole(plan, members)
        }
        .write(&path)?;
        println!(
            "shard {}/{}: {} members in {seconds:.1} s ({commands} commands); results: {}",
            shard.index,
            shard.count,
            selected.len(),
            path.display()
        );
        println!(
            "when every shard has run: ets simulate merge <results-shard-*-of-{}.json> --out DIR",
            shard.count
        );
        return Ok(ExitCode::SUCCESS);
    }
    let results = Results::whole(plan, members);
    let report = ets_sim::batch_report::write_report(&out, &results)?;
    print_batch(&results);
    println!(
        "\n{} members in {seconds:.1} s: {commands} commands ({:.0} commands/s)",
        results.members.len(),
        commands as f64 / seconds.max(1e-9)
    );
    println!("report: {}", report.display());
    Ok(ExitCode::SUCCESS)
}

/// `ets simulate merge`: the shards' results files into the whole batch's report.
pub fn run_merge(args: &MergeArgs) -> Result<ExitCode> {
    let results = shard::merge(&args.files)?;
    if std::fs::read_dir(&args.out).is_ok_and(|mut d| d.next().is_some()) {
        bail!(
            "{} is not empty: choose a new output folder with --out",
            args.out.display()
        );
    }
    let report = ets_sim::batch_report::write_report(&args.out, &results)?;
    for warning in results.plan.warnings() {
        eprintln!("warning: {warning}");
    }
    print_batch(&results);
    println!(
        "\nmerged {} shards, {} members; report: {}",
        args.files.len(),
        results.members.len(),
        report.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Per design point: the median and 5-95% band of price, volume and compliance.
fn print_batch(results: &Results) {
    println!(
        "{:<36} {:>26} {:>26} {:>26}",
        "point", "price yuan/t (5-95%)", "secondary Mt (5-95%)", "compliance % (5-95%)"
    );
    for (p, point) in results.plan.points.iter().enumerate() {
        let members: Vec<_> = results.members.iter().filter(|m| m.point == p).collect();
        let cell = |read: fn(&ensemble::Headline) -> f64| {
            let band = Band::of(
                &members
                    .iter()
                    .map(|m| read(&m.headline))
                    .collect::<Vec<_>>(),
            );
            format!("{:.2} ({:.2}-{:.2})", band.median, band.low, band.high)
        };
        println!(
            "{:<36} {:>26} {:>26} {:>26}",
            point.title,
            cell(|h| h.average_price),
            cell(|h| h.secondary_volume_mt),
            cell(|h| h.compliance_entities_pct)
        );
    }
}
