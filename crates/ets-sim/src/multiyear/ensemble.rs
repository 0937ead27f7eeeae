//! Ensembles of a chain (`ets simulate multi CHAIN --seeds N`): the chain run once per
//! seed (the seeds as the one-year ensemble derives them, `crate::ensemble::seeds`), in
//! parallel, each member in its own store under `OUT/seed-<seed>` (or in memory), and
//! `OUT/report.md` with the median and the 5-95% band of each calendar year's volume
//! and average price beside the published figures, drawn in `OUT/volume_band.svg` and
//! `OUT/price_band.svg`.

use super::charts::{Figure, ensemble_chart};
use super::report::{calendar_years, difference, use_of};
use super::{Chain, ChainRun, MarketYear, market_years, run_into};
use crate::batch::few_seeds_warning;
use crate::ensemble::{Band, parallel, seeds};
use crate::year::RunOptions;
use anyhow::{Context as _, Result};
use std::fmt::Write as _;
use std::path::Path;

/// One member of a chain ensemble: its seed, its run and its market per calendar year.
#[derive(Debug, Clone)]
pub struct ChainMember {
    /// Its seed (`ets simulate multi CHAIN --seed SEED` runs it alone).
    pub seed: u64,
    /// Its run (report at `OUT/seed-<seed>/report.md`).
    pub run: ChainRun,
    /// Its secondary market per calendar year.
    pub years: Vec<MarketYear>,
}

/// Runs `chain` with `count` seeds (the chain's seed, then the next ones) on `threads`
/// worker threads, each member into `out_dir/seed-<seed>` (journaled, or in memory
/// when `in_memory`), and writes the ensemble's `report.md` and its two band charts
/// into `out_dir`.
///
/// # Errors
/// `count` of 0 or above the one-year ensemble's limit (before anything is written),
/// or the first failing member's error (in seed order), naming its seed.
pub fn run_ensemble(
    out_dir: &Path,
    chain: &Chain,
    count: u32,
    threads: usize,
    in_memory: bool,
) -> Result<Vec<ChainMember>> {
    let seeds = seeds(chain.header.seed, count)?;
    let members = parallel(seeds.len(), threads, |k| {
        let seed = seeds[k];
        let member = chain.clone().with_seed(seed);
        let dir = out_dir.join(format!("seed-{seed}"));
        let run = run_into(&dir, &member, RunOptions::default(), in_memory)
            .with_context(|| format!("member {k} (seed {seed})"))?;
        let years = market_years(&run.outcome.trades);
        Ok(ChainMember { seed, run, years })
    })
    .into_iter()
    .collect::<Result<Vec<_>>>()?;
    std::fs::write(
        out_dir.join("report.md"),
        write_ensemble_report(chain, &members),
    )?;
    for figure in Figure::ALL {
        let chart = ensemble_chart(chain, &members, figure);
        std::fs::write(out_dir.join(chart_file(figure)), chart.svg())?;
    }
    Ok(members)
}

/// The band of one calendar year's volume (Mt) and average price (yuan/t) over the
/// members; a member without trades that year counts as 0 Mt and is left out of the
/// price's band (`None` when no member traded that year).
#[must_use]
pub fn year_bands(members: &[ChainMember], year: i32) -> (Band, Option<Band>) {
    let of_year = |m: &ChainMember| m.years.iter().find(|y| y.year == year).cloned();
    let volumes: Vec<f64> = members
        .iter()
        .map(|m| of_year(m).map_or(0.0, |y| y.tonnes as f64 / 1e6))
        .collect();
    let prices: Vec<f64> = members
        .iter()
        .filter_map(of_year)
        .filter(|y| y.tonnes > 0)
        .map(|y| y.average)
        .collect();
    (
        Band::of(&volumes),
        (!prices.is_empty()).then(|| Band::of(&prices)),
    )
}

/// The ensemble report's markdown: the warnings, the bands per calendar year beside the
/// published figures, and the members.
#[must_use]
pub fn write_ensemble_report(chain: &Chain, members: &[ChainMember]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Multi-year ensemble: {}\n", chain.header.name);
    let _ = writeln!(
        out,
        "{} entities, {} members (seeds {} to {}).\n",
        chain.header.entities,
        members.len(),
        members.first().map_or(0, |m| m.seed),
        members.last().map_or(0, |m| m.seed)
    );
    if let Some(warning) = few_seeds_warning(members.len()) {
        let _ = writeln!(out, "**Warning:** {warning}\n");
    }
    band_table(&mut out, chain, members);
    for figure in Figure::ALL {
        let chart = ensemble_chart(chain, members, figure);
        let _ = writeln!(out, "![{}]({})\n", chart.title, chart_file(figure));
    }
    member_table(&mut out, members);
    out
}

/// The file of the ensemble's chart of `figure` (`volume_band.svg`, `price_band.svg`).
#[must_use]
pub fn chart_file(figure: Figure) -> String {
    format!("{}_band.svg", figure.stem())
}

fn band_table(out: &mut String, chain: &Chain, members: &[ChainMember]) {
    let _ = writeln!(
        out,
        "## The market per calendar year (median, 5-95% band)\n"
    );
    let _ = writeln!(
        out,
        "| year | use | volume Mt median | 5-95% | published | diff | average yuan/t median | 5-95% | published | diff |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|");
    let all = members.iter().flat_map(|m| m.years.iter());
    for year in calendar_years(all, &chain.published) {
        let published = chain.published.iter().find(|p| p.year == year);
        let (volume, price) = year_bands(members, year);
        let shown = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
        let _ = writeln!(
            out,
            "| {year} | {} | {:.1} | {:.1}-{:.1} | {} | {} | {} | {} | {} | {} |",
            use_of(published),
            volume.median,
            volume.low,
            volume.high,
            shown(published.map(|p| p.traded_mt)),
            published.map_or("-".into(), |p| difference(volume.median, p.traded_mt)),
            price.map_or("-".into(), |b| format!("{:.2}", b.median)),
            price.map_or("-".into(), |b| format!("{:.2}-{:.2}", b.low, b.high)),
            shown(published.map(|p| p.average_price)),
            match (price, published) {
                (Some(b), Some(p)) => difference(b.median, p.average_price),
                _ => "-".into(),
            },
        );
    }
    let _ = writeln!(
        out,
        "\nSimulated: secondary trades settled in the year, Beijing time; diff is the \
         median's. A member with no trades in a year counts as 0 Mt there and is left out \
         of that year's price band (\"-\" when no member traded). The simulation trades in \
         each period's settling window and, before the allocation of a window that settles \
         several periods (2021 and 2022), in a foreseen window (July to December 2022).\n"
    );
}

fn member_table(out: &mut String, members: &[ChainMember]) {
    let _ = writeln!(out, "## Members\n");
    let _ = writeln!(out, "| seed | commands | seconds | state hash | report |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for m in members {
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | `{}` | [seed-{}/report.md](seed-{}/report.md) |",
            m.seed, m.run.outcome.commands, m.run.seconds, m.run.state_hash, m.seed, m.seed
        );
    }
    let _ = writeln!(
        out,
        "\nEach member is the chain run alone with its seed (`ets simulate multi CHAIN \
         --seed SEED`): the same state hash.\n"
    );
}
