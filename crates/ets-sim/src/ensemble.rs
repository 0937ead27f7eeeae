//! Ensembles: one scenario run with many seeds, each run deterministic and
//! independent (so they run in parallel, on every core), summarised as the median
//! and the 5-95% band of each headline figure.

use crate::report::YearSummary;
use crate::scenario::Scenario;
use crate::year::run_year;
use anyhow::{Result, bail};
use ets_engine::Engine;
use std::fmt::Write as _;

/// The most seeds one ensemble runs.
pub const MAX_SEEDS: u32 = 10_000;

/// The seeds of an ensemble of `count` members: the scenario's seed, then the next
/// ones (`seed`, `seed + 1`, ...), so member `k` is reproducible on its own.
///
/// # Errors
/// When `count` is 0 or above [`MAX_SEEDS`].
pub fn seeds(first: u64, count: u32) -> Result<Vec<u64>> {
    if count == 0 || count > MAX_SEEDS {
        bail!("--seeds {count}: an ensemble has 1 to {MAX_SEEDS} members");
    }
    Ok((0..u64::from(count))
        .map(|k| first.wrapping_add(k))
        .collect())
}

/// Runs `scenario` once per seed on engines in memory, on `threads` worker threads
/// (at least one); returns the summaries in seed order. Every member is the same
/// run as `run_year` with that seed, whatever the number of threads.
///
/// # Errors
/// The first member's failure (in seed order).
pub fn run(scenario: &Scenario, seeds: &[u64], threads: usize) -> Result<Vec<YearSummary>> {
    let threads = threads.clamp(1, seeds.len().max(1));
    let mut results: Vec<Option<Result<YearSummary>>> = (0..seeds.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let chunks: Vec<_> = results
            .chunks_mut(seeds.len().div_ceil(threads).max(1))
            .zip(seeds.chunks(seeds.len().div_ceil(threads).max(1)))
            .map(|(slots, seeds)| {
                scope.spawn(move || {
                    for (slot, &seed) in slots.iter_mut().zip(seeds) {
                        let member = scenario.clone().with_seed(seed);
                        *slot = Some(run_year(&member, &mut Engine::new()));
                    }
                })
            })
            .collect();
        for handle in chunks {
            if handle.join().is_err() {
                // A panicking member is a bug: let it show.
                panic!("an ensemble member panicked");
            }
        }
    });
    results
        .into_iter()
        .map(|slot| slot.unwrap_or_else(|| bail!("an ensemble member did not run")))
        .collect()
}

/// The median and the 5% and 95% quantiles of a figure over the members.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    /// 5% quantile.
    pub low: f64,
    /// Median.
    pub median: f64,
    /// 95% quantile.
    pub high: f64,
}

impl Band {
    /// The band of `values` (linear interpolation between order statistics); all
    /// zero for no values.
    #[must_use]
    pub fn of(values: &[f64]) -> Band {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        Band {
            low: quantile(&sorted, 0.05),
            median: quantile(&sorted, 0.5),
            high: quantile(&sorted, 0.95),
        }
    }

    /// True when `value` lies within the band.
    #[must_use]
    pub fn contains(&self, value: f64) -> bool {
        self.low <= value && value <= self.high
    }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n => {
            let position = q * (n - 1) as f64;
            let below = position.floor() as usize;
            let above = position.ceil() as usize;
            let weight = position - below as f64;
            sorted[below] * (1.0 - weight) + sorted[above] * weight
        }
    }
}

/// How a headline figure is read from a run's summary.
pub type Reader = fn(&YearSummary) -> f64;

/// The headline figures an ensemble reports: name and how to read it from a summary.
pub const FIGURES: [(&str, Reader); 6] = [
    ("Secondary volume (Mt)", |s| s.traded_mt),
    ("Average price (yuan/t)", |s| s.average_price),
    ("Compliance rate by entity (%)", |s| {
        s.compliance_rate * 100.0
    }),
    ("Compliance rate by quantity (%)", |s| {
        s.quantity_compliance_rate * 100.0
    }),
    ("Compliance cost (M yuan)", |s| s.compliance_cost_yuan / 1e6),
    ("Daily close volatility (%)", |s| {
        crate::report::daily_volatility_percent(&s.daily_close)
    }),
];

/// The band of every headline figure over `members`.
#[must_use]
pub fn bands(members: &[YearSummary]) -> Vec<(&'static str, Band)> {
    FIGURES
        .iter()
        .map(|(name, read)| {
            (
                *name,
                Band::of(&members.iter().map(read).collect::<Vec<_>>()),
            )
        })
        .collect()
}

/// The ensemble as a Markdown table: figure, 5%, median, 95%.
#[must_use]
pub fn to_markdown(scenario: &str, seeds: &[u64], members: &[YearSummary]) -> String {
    let mut out = format!(
        "# Ensemble: {scenario}\n\n{} members, seeds {} to {}; each member is one \
         deterministic run.\n\n| Figure | 5% | Median | 95% |\n|---|---:|---:|---:|\n",
        members.len(),
        seeds.first().copied().unwrap_or_default(),
        seeds.last().copied().unwrap_or_default(),
    );
    for (name, band) in bands(members) {
        let _ = writeln!(
            out,
            "| {name} | {:.2} | {:.2} | {:.2} |",
            band.low, band.median, band.high
        );
    }
    if members.len() < 20 {
        out.push_str(
            "\nFewer than 20 members: the 5% and 95% quantiles are close to the extremes \
             and the band is rough.\n",
        );
    }
    out
}
