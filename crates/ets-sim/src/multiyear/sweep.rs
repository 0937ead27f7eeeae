//! Sweeps over a chain (`ets simulate multi CHAIN --set KEY=FROM..TO --steps K`): one
//! numeric setting of every period's scenario varied over a range, parsed and checked
//! by the one-year sweep's rules ([`crate::sweep`]), each value run as a chain
//! ensemble ([`super::run_ensemble`], one seed unless `--seeds N`) under
//! `OUT/point-J/`, and `OUT/sweep.md` with each calendar year's volume and average
//! price against the swept value, drawn in `sweep_volume.svg` and `sweep_price.svg`.

use super::charts::{Figure, sweep_chart};
use super::ensemble::{ChainMember, year_bands};
use super::report::calendar_years;
use super::{Chain, run_ensemble};
use crate::batch::Axis;
use anyhow::{Context as _, Result};
use std::fmt::Write as _;
use std::path::Path;

/// One swept value and the chain ensemble that ran it.
#[derive(Debug, Clone)]
pub struct SweptChain {
    /// The value of the setting.
    pub value: f64,
    /// The members (one per seed).
    pub members: Vec<ChainMember>,
}

/// Each value of `axis` and the chain file at `path` with every period's setting at
/// it, then `adjust`ed (seed, entities), all loaded and checked before anything runs.
///
/// # Errors
/// The first value a period refuses, naming the chain file, the period, the key and
/// the value (as [`Chain::load_swept`]).
pub fn points(
    path: &Path,
    axis: &Axis,
    adjust: impl Fn(Chain) -> Chain,
) -> Result<Vec<(f64, Chain)>> {
    crate::sweep::values(axis)
        .into_iter()
        .map(|value| Ok((value, adjust(Chain::load_swept(path, axis, value)?))))
        .collect()
}

/// Runs each point's chain with `seeds` seeds (as [`run_ensemble`]) under
/// `out_dir/point-J`, then writes `sweep.md` and the two charts into `out_dir`.
///
/// # Errors
/// A member's failure, naming the value; or a file that cannot be written.
pub fn run_sweep(
    out_dir: &Path,
    axis: &Axis,
    points: &[(f64, Chain)],
    seeds: u32,
    (threads, in_memory): (usize, bool),
) -> Result<Vec<SweptChain>> {
    let mut swept = Vec::with_capacity(points.len());
    for (j, (value, chain)) in points.iter().enumerate() {
        let dir = out_dir.join(format!("point-{j}"));
        std::fs::create_dir_all(&dir)?;
        let members = run_ensemble(&dir, chain, seeds, threads, in_memory)
            .with_context(|| format!("{} = {value}", axis.key))?;
        swept.push(SweptChain {
            value: *value,
            members,
        });
    }
    let name = points.first().map_or("", |(_, c)| c.header.name.as_str());
    std::fs::write(
        out_dir.join("sweep.md"),
        write_sweep_report(name, axis, &swept),
    )?;
    let by_value: Vec<(f64, Vec<ChainMember>)> =
        swept.iter().map(|s| (s.value, s.members.clone())).collect();
    for figure in Figure::ALL {
        let chart = sweep_chart(&axis.key, &by_value, figure);
        std::fs::write(
            out_dir.join(format!("sweep_{}.svg", figure.stem())),
            chart.svg(),
        )?;
    }
    Ok(swept)
}

/// The sweep's markdown: per calendar year and swept value, the median and 5-95% band
/// of the volume and of the average price; the charts; where each value's runs are.
#[must_use]
pub fn write_sweep_report(name: &str, axis: &Axis, swept: &[SweptChain]) -> String {
    let mut out = String::new();
    let seeds = swept.first().map_or(0, |s| s.members.len());
    let _ = writeln!(out, "# Multi-year sweep: {name}\n");
    let _ = writeln!(
        out,
        "`{}` from {} to {} in {} values, set in every period; {seeds} seed(s) per value.\n",
        axis.key, axis.from, axis.to, axis.steps
    );
    if let Some(warning) = crate::batch::few_seeds_warning(seeds) {
        let _ = writeln!(out, "**Warning:** {warning}\n");
    }
    let _ = writeln!(
        out,
        "| year | {} | volume Mt median | 5-95% | average yuan/t median | 5-95% |",
        axis.key
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    let all = swept.iter().flat_map(|s| s.members.iter());
    for year in calendar_years(all.flat_map(|m| m.years.iter()), &[]) {
        for point in swept {
            let (volume, price) = year_bands(&point.members, year);
            let _ = writeln!(
                out,
                "| {year} | {} | {:.1} | {:.1}-{:.1} | {} | {} |",
                point.value,
                volume.median,
                volume.low,
                volume.high,
                price.map_or("-".into(), |b| format!("{:.2}", b.median)),
                price.map_or("-".into(), |b| format!("{:.2}-{:.2}", b.low, b.high)),
            );
        }
    }
    let _ = writeln!(
        out,
        "\n![Secondary volume per calendar year against {key}](sweep_volume.svg)\n\n\
         ![Average price per calendar year against {key}](sweep_price.svg)\n",
        key = axis.key
    );
    let _ = writeln!(out, "## Runs\n");
    for (j, point) in swept.iter().enumerate() {
        let _ = writeln!(
            out,
            "- {} = {}: [point-{j}/report.md](point-{j}/report.md)",
            axis.key, point.value
        );
    }
    out
}
