//! Fits the chain's behavioural parameters on the calibration years only
//! (docs/simulation.md, "Fitting the behavioural parameters"):
//!
//! ```sh
//! cargo run --release -p ets-sim --example fit -- scenarios/cn-power-2019-2025.toml \
//!     [--entities N] [--seeds K] [--threads T] [--from NAME=VALUE ...]
//! cargo run --release -p ets-sim --example fit -- scenarios/cn-power-2019-2025.toml \
//!     --check [NAME=VALUE ...] [--entities N] [--seeds K]
//! ```
//!
//! The procedure: a coordinate search over the `[trading]` keys of [`PARAMETERS`] (set the
//! same in every period), starting from the chain file's values (or `--from` overrides of
//! them): each parameter in turn
//! tries every value of its ladder with the others fixed and keeps the best, and rounds
//! repeat until one changes nothing. A point is scored on an ensemble: the WHOLE chain,
//! run in memory with `N` firms (default: the chain's size) for `K` seeds (default 8: the
//! chain's seed and the next ones; 4 before round 8 of the fit), in parallel. Its loss is the sum over the calibration
//! years (`role = "calibration"`) of the squared log errors of the members' MEDIAN volume
//! (scaled by the chain's entity count over `N`), median average price and median close
//! (a year without simulated trading counts as [`MISSING`] times off; the later years are
//! never in the loss); a point any of whose
//! members leaves more than [`MAX_SHORT`] of the entities short at ANY close (the validation
//! and projection years too) is inadmissible (infinite loss). Every point is printed
//! with its medians and how many of the goal's figures (each calibration year's volume and
//! average price) lie within 25% of published; the best is printed last. `--check` runs
//! one point (the chain's values, with `NAME=VALUE` overrides) on the WHOLE chain and
//! prints every calendar year's median, lowest and highest member beside published.

use ets_sim::ensemble::{parallel, seeds};
use ets_sim::multiyear::{Chain, MarketYear, PublishedYear, Role, market_years, run_in_memory};
use ets_sim::scenario::Trading;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The goal: each calibration year's volume and average price within this share of published.
const GOAL: f64 = 0.25;
/// A point any of whose members leaves more than this share of the entities short at a
/// close is inadmissible: the published compliance is above 99% (docs/sources.md
/// #cn-coverage; the scenarios' designated defaulters are 0.3-0.8%, and a member's market
/// may leave a few more short), and a market that clears less because buyers cannot buy is
/// no fit. 3% before round 10 of the fit (docs/simulation.md, "Round 10").
const MAX_SHORT: f64 = 0.01;

/// How far off a calibration year without simulated trading counts, a factor (its volume
/// and its average price each, in [`loss`]): a market that does not trade in a year the
/// real one traded is worse than one 100 times off.
const MISSING: f64 = 100.0;

/// A fitted `[trading]` key: its name, the ladder of values the search tries, and access.
struct Parameter {
    name: &'static str,
    ladder: &'static [f64],
    get: fn(&Trading) -> f64,
    set: fn(&mut Trading, f64),
}

/// The fitted parameters (docs/simulation.md, "Expectations across years").
const PARAMETERS: [Parameter; 5] = [
    Parameter {
        name: "tightening_premium",
        ladder: &[0.02, 0.03, 0.04, 0.06],
        get: |t| t.tightening_premium,
        set: |t, v| t.tightening_premium = v,
    },
    Parameter {
        name: "carry_cost",
        ladder: &[0.05, 0.1, 0.2],
        get: |t| t.carry_cost,
        set: |t, v| t.carry_cost = v,
    },
    Parameter {
        name: "hold_share",
        ladder: &[0.5, 0.8, 1.0],
        get: |t| t.hold_share,
        set: |t, v| t.hold_share = v,
    },
    Parameter {
        name: "precaution_premium",
        ladder: &[0.0, 0.1, 0.2, 0.3],
        get: |t| t.precaution_premium,
        set: |t, v| t.precaution_premium = v,
    },
    Parameter {
        name: "early_buyer_share",
        ladder: &[0.0, 0.05, 0.1, 0.15],
        get: |t| t.early_buyer_share,
        set: |t, v| t.early_buyer_share = v,
    },
];

/// A point of the search: one value per parameter of [`PARAMETERS`].
type Point = [f64; PARAMETERS.len()];

/// How a point is run: the firms per run, the seeds and the worker threads.
struct Setup {
    entities: u32,
    /// The chain's entity count over `entities`: volumes are scaled by it.
    scale: f64,
    seeds: Vec<u64>,
    threads: usize,
}

/// The median figures of one calendar year over the members, and the extremes.
struct YearFigures {
    year: i32,
    /// Volume, Mt (scaled): median, lowest, highest.
    volume: [f64; 3],
    /// Average price, yuan/t: median, lowest, highest.
    average: [f64; 3],
    /// Close, yuan/t: median.
    close: f64,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        anyhow::bail!(
            "usage: fit CHAIN.toml [--entities N] [--seeds K] [--threads T] [--check [NAME=VALUE ...]]"
        );
    };
    let full = Chain::load(&PathBuf::from(path))?;
    let option = |name: &str| -> anyhow::Result<Option<u64>> {
        match args.iter().position(|a| a == name) {
            Some(k) => Ok(Some(
                args.get(k + 1)
                    .ok_or_else(|| anyhow::anyhow!("{name} needs a value"))?
                    .parse()?,
            )),
            None => Ok(None),
        }
    };
    let entities = u32::try_from(option("--entities")?.unwrap_or(u64::from(full.header.entities)))?;
    let count = u32::try_from(option("--seeds")?.unwrap_or(8))?;
    let threads = option("--threads")?.map_or_else(
        || std::thread::available_parallelism().map_or(1, usize::from),
        |t| t as usize,
    );
    let setup = Setup {
        entities,
        scale: f64::from(full.header.entities) / f64::from(entities),
        seeds: seeds(full.header.seed, count)?,
        threads,
    };
    let chain = full.clone().with_entities(entities);
    let start = point_of(&chain);
    if let Some(k) = args.iter().position(|a| a == "--check") {
        let point = overrides(start, &args[k + 1..])?;
        return check(&chain, &setup, point);
    }
    let start = match args.iter().position(|a| a == "--from") {
        Some(k) => overrides(start, &args[k + 1..])?,
        None => start,
    };
    search(&chain, &setup, start)
}

/// The chain's own values (its first period's).
fn point_of(chain: &Chain) -> Point {
    let trading = chain
        .periods
        .first()
        .map(|p| p.trading.clone())
        .unwrap_or_default();
    PARAMETERS.map(|p| (p.get)(&trading))
}

/// `point` with the `NAME=VALUE` arguments (up to the next `--option`) set.
fn overrides(mut point: Point, args: &[String]) -> anyhow::Result<Point> {
    for arg in args.iter().take_while(|a| !a.starts_with("--")) {
        let (name, value) = arg
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("{arg}: expected NAME=VALUE"))?;
        let k = PARAMETERS
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| anyhow::anyhow!("{name}: not a fitted parameter"))?;
        point[k] = value.parse()?;
    }
    Ok(point)
}

/// The coordinate search from `start`; prints every point and the best.
fn search(chain: &Chain, setup: &Setup, start: Point) -> anyhow::Result<()> {
    println!(
        "{} entities, seeds {:?}, {} threads; loss over the medians",
        setup.entities, setup.seeds, setup.threads
    );
    let mut seen: BTreeMap<String, f64> = BTreeMap::new();
    let mut best = (start, score(chain, setup, start, &mut seen)?);
    for round in 1..=4 {
        let before = best.1;
        for (k, parameter) in PARAMETERS.iter().enumerate() {
            for &value in parameter.ladder {
                let mut point = best.0;
                point[k] = value;
                let loss = score(chain, setup, point, &mut seen)?;
                if loss < best.1 {
                    best = (point, loss);
                }
            }
        }
        println!("round {round}: best loss {:.4}", best.1);
        if best.1 >= before {
            break;
        }
    }
    println!("best: {} (loss {:.4})", describe(best.0), best.1);
    Ok(())
}

/// The loss of `point` (computed once; `seen` remembers it), printed with its figures.
fn score(
    chain: &Chain,
    setup: &Setup,
    point: Point,
    seen: &mut BTreeMap<String, f64>,
) -> anyhow::Result<f64> {
    let key = describe(point);
    if let Some(&loss) = seen.get(&key) {
        return Ok(loss);
    }
    let members = ensemble(chain, setup, point)?;
    let (figures, short) = (&members.figures, &members.short);
    let admissible = members.worst_short.iter().all(|&short| short <= MAX_SHORT);
    let loss = if admissible {
        loss(&chain.published, figures)
    } else {
        f64::INFINITY
    };
    let years: Vec<String> = calibration(&chain.published, figures)
        .map(|(_, f)| {
            format!(
                "{} {:.1} Mt {:.2} close {:.2}",
                f.year, f.volume[0], f.average[0], f.close
            )
        })
        .collect();
    let met = goal_met(&chain.published, figures);
    println!(
        "{key} | loss {loss:.4} | goal {}/{} | {} | most short per member {:.3?} | first seed: {}",
        met.0,
        met.1,
        years.join(" | "),
        members.worst_short,
        short.first().map_or("", String::as_str)
    );
    seen.insert(key, loss);
    Ok(loss)
}

fn describe(point: Point) -> String {
    PARAMETERS
        .iter()
        .zip(point)
        .map(|(p, v)| format!("{}={v}", p.name))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What an ensemble of one point gave.
struct Members {
    /// The members' medians per calendar year.
    figures: Vec<YearFigures>,
    /// Per member, its entities in shortfall per period (`label: short of entities`).
    short: Vec<String>,
    /// Per member, the largest share of entities short at any close but the last.
    worst_short: Vec<f64>,
}

/// Runs `chain` with `point` set in every period, once per seed in parallel.
fn ensemble(chain: &Chain, setup: &Setup, point: Point) -> anyhow::Result<Members> {
    let mut chain = chain.clone();
    for period in &mut chain.periods {
        for (parameter, value) in PARAMETERS.iter().zip(point) {
            (parameter.set)(&mut period.trading, value);
        }
    }
    let members = parallel(setup.seeds.len(), setup.threads, |k| {
        let (outcome, _) = run_in_memory(&chain.clone().with_seed(setup.seeds[k]))?;
        let periods = &outcome.periods;
        let short: Vec<String> = periods
            .iter()
            .map(|p| {
                format!(
                    "{}: {} of {}",
                    p.label,
                    p.shortfall,
                    p.compliant + p.shortfall
                )
            })
            .collect();
        // Every close counts: a fit that leaves firms short in a later year is no fit.
        let worst = periods
            .iter()
            .map(|p| p.shortfall as f64 / (p.compliant + p.shortfall).max(1) as f64)
            .fold(0.0, f64::max);
        Ok((market_years(&outcome.trades), short.join(", "), worst))
    })
    .into_iter()
    .collect::<anyhow::Result<Vec<_>>>()?;
    let short = members.iter().map(|m| m.1.clone()).collect();
    let worst_short = members.iter().map(|m| m.2).collect();
    let years: Vec<Vec<MarketYear>> = members.into_iter().map(|m| m.0).collect();
    Ok(Members {
        figures: medians(&years, setup.scale),
        short,
        worst_short,
    })
}

/// Per calendar year with trades in any member: the median (and extremes) of the volume
/// (scaled; a member without trades that year counts 0), average and close.
fn medians(members: &[Vec<MarketYear>], scale: f64) -> Vec<YearFigures> {
    let years: std::collections::BTreeSet<i32> = members.iter().flatten().map(|m| m.year).collect();
    years
        .into_iter()
        .map(|year| {
            let of_year: Vec<Option<&MarketYear>> = members
                .iter()
                .map(|m| m.iter().find(|y| y.year == year && y.tonnes > 0))
                .collect();
            let volumes: Vec<f64> = of_year
                .iter()
                .map(|m| m.map_or(0.0, |m| m.tonnes as f64 / 1e6 * scale))
                .collect();
            let traded = of_year.iter().flatten();
            let averages: Vec<f64> = traded.clone().map(|m| m.average).collect();
            let closes: Vec<f64> = traded.map(|m| m.close).collect();
            YearFigures {
                year,
                volume: spread(&volumes),
                average: spread(&averages),
                close: spread(&closes)[0],
            }
        })
        .collect()
}

/// Median, lowest and highest of `values` (0 for none).
fn spread(values: &[f64]) -> [f64; 3] {
    let band = ets_sim::ensemble::Band::of(values);
    [band.median, band.lowest, band.highest]
}

/// The calibration years with simulated trading, with their figures.
fn calibration<'a>(
    published: &'a [PublishedYear],
    figures: &'a [YearFigures],
) -> impl Iterator<Item = (&'a PublishedYear, &'a YearFigures)> {
    published
        .iter()
        .filter(|p| p.role == Role::Calibration)
        .filter_map(|p| figures.iter().find(|f| f.year == p.year).map(|f| (p, f)))
}

/// Sum over the calibration years of the squared log errors of the median volume,
/// average price and close; a calibration year without simulated trading (median volume
/// 0) scores its volume and average as [`MISSING`] off each.
fn loss(published: &[PublishedYear], figures: &[YearFigures]) -> f64 {
    let term = |sim: f64, real: f64| {
        if sim > 0.0 && real > 0.0 {
            (sim / real).ln().powi(2)
        } else if real > 0.0 {
            MISSING.ln().powi(2)
        } else {
            0.0
        }
    };
    published
        .iter()
        .filter(|p| p.role == Role::Calibration)
        .map(|p| match figures.iter().find(|f| f.year == p.year) {
            Some(f) if f.volume[0] > 0.0 => {
                term(f.volume[0], p.traded_mt)
                    + term(f.average[0], p.average_price)
                    + p.close.map_or(0.0, |c| term(f.close, c))
            }
            _ => term(0.0, p.traded_mt) + term(0.0, p.average_price),
        })
        .sum()
}

/// How many of the goal's figures (each calibration year's median volume and average
/// price; a year without simulated trading counts as missed) lie within [`GOAL`], of how many.
fn goal_met(published: &[PublishedYear], figures: &[YearFigures]) -> (usize, usize) {
    let within = |sim: f64, real: f64| real > 0.0 && (sim / real - 1.0).abs() <= GOAL;
    let mut met = 0;
    let mut total = 0;
    for p in published.iter().filter(|p| p.role == Role::Calibration) {
        total += 2;
        if let Some(f) = figures.iter().find(|f| f.year == p.year) {
            met += usize::from(within(f.volume[0], p.traded_mt));
            met += usize::from(within(f.average[0], p.average_price));
        }
    }
    (met, total)
}

/// Runs `point` on the whole chain and prints every calendar year beside published.
fn check(chain: &Chain, setup: &Setup, point: Point) -> anyhow::Result<()> {
    println!(
        "{} ({} entities, seeds {:?})",
        describe(point),
        setup.entities,
        setup.seeds
    );
    let members = ensemble(chain, setup, point)?;
    let (figures, short) = (&members.figures, &members.short);
    println!(
        "year | use | volume Mt median (lowest-highest) | published | diff | average median (lowest-highest) | published | diff | close median | published"
    );
    for f in figures {
        let p = chain.published.iter().find(|p| p.year == f.year);
        let diff = |sim: f64, real: f64| format!("{:+.0}%", (sim / real - 1.0) * 100.0);
        println!(
            "{} | {} | {:.1} ({:.1}-{:.1}) | {} | {} | {:.2} ({:.2}-{:.2}) | {} | {} | {:.2} | {}",
            f.year,
            p.map_or("projection", |p| match p.role {
                Role::Calibration => "calibration",
                Role::Validation => "validation",
            }),
            f.volume[0],
            f.volume[1],
            f.volume[2],
            p.map_or("-".into(), |p| format!("{:.1}", p.traded_mt)),
            p.map_or("-".into(), |p| diff(f.volume[0], p.traded_mt)),
            f.average[0],
            f.average[1],
            f.average[2],
            p.map_or("-".into(), |p| format!("{:.2}", p.average_price)),
            p.map_or("-".into(), |p| diff(f.average[0], p.average_price)),
            f.close,
            p.and_then(|p| p.close)
                .map_or("-".into(), |c| format!("{c:.2}")),
        );
    }
    for (seed, short) in setup.seeds.iter().zip(short) {
        println!("entities short at the close, seed {seed}: {short}");
    }
    let met = goal_met(&chain.published, figures);
    println!(
        "loss {:.4}; goal: {} of {} calibration figures within 25%",
        loss(&chain.published, figures),
        met.0,
        met.1
    );
    Ok(())
}
