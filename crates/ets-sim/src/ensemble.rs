//! Ensembles: one scenario run with many seeds, each run deterministic and
//! independent (so they run in parallel, on every core), summarised as the median
//! and the 5-95% band of each headline figure.

use crate::report::YearSummary;
use crate::scenario::Scenario;
use crate::year::{RunOptions, run_year, run_year_in_store};
use anyhow::{Context as _, Result, anyhow, bail};
use ets_engine::Engine;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

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
    parallel(seeds.len(), threads, |k| {
        run_year(&scenario.clone().with_seed(seeds[k]), &mut Engine::new())
    })
    .into_iter()
    .collect()
}

/// One member of an ensemble or a sweep as a results file holds it: where it sits
/// in the batch, its seed, its state hash (the run of that seed alone reaches the same
/// hash, journal and all) and the figures the report reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// Its place in the batch: `point * seeds + k` for the k-th seed.
    pub index: usize,
    /// The design point it ran (a run of a comparison, or a sweep value).
    pub point: usize,
    /// Its seed.
    pub seed: u64,
    /// Covered entities.
    pub entities: usize,
    /// Commands sent to the engine.
    pub commands: u64,
    /// Final engine state hash (hex BLAKE3).
    pub state_hash: String,
    /// The headline figures.
    pub headline: Headline,
    /// Close of the price-forming book per trading day (`YYYY-MM-DD`, yuan/t).
    pub daily_close: Vec<(String, f64)>,
    /// Secondary volume per trading day (`YYYY-MM-DD`, tonnes).
    pub daily_volume: Vec<(String, u64)>,
}

impl Member {
    /// The member at `index` (of design point `point`) that came to `summary`.
    #[must_use]
    pub fn of(index: usize, point: usize, summary: &YearSummary) -> Member {
        Member {
            index,
            point,
            seed: summary.seed,
            entities: summary.entities,
            commands: summary.commands,
            state_hash: summary.state_hash.clone(),
            headline: Headline::of(summary),
            daily_close: summary.daily_close.clone(),
            daily_volume: summary.daily_volume.clone(),
        }
    }
}

/// A member to run: its place in the batch, its design point, and its scenario (seed
/// set).
#[derive(Debug, Clone)]
pub struct Job {
    /// Its place in the batch.
    pub index: usize,
    /// Its design point.
    pub point: usize,
    /// The scenario, with the member's seed.
    pub scenario: Scenario,
}

/// Runs every job journaled in its own store in its own temporary directory (removed
/// after the run), `threads` at a time, checking the registry's invariants after
/// each; returns the members in job order. With `progress`, one bar on stderr counts
/// the members done.
///
/// # Errors
/// The first failing member's error (in job order), naming its seed.
pub fn run_journaled(jobs: &[Job], threads: usize, progress: bool) -> Result<Vec<Member>> {
    let bar = if progress {
        let bar = indicatif::ProgressBar::new(jobs.len() as u64);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{msg:>14} [{bar:40}] {pos}/{len} {elapsed}")
        {
            bar.set_style(style);
        }
        bar.set_message("members");
        bar.tick();
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let members = parallel(jobs.len(), threads, |k| {
        let job = &jobs[k];
        let member = run_member(job)
            .with_context(|| format!("member {} (seed {})", job.index, job.scenario.scenario.seed));
        bar.inc(1);
        member
    });
    bar.finish();
    members.into_iter().collect()
}

/// One job through a journaled store in a temporary directory.
fn run_member(job: &Job) -> Result<Member> {
    let dir = tempfile::Builder::new()
        .prefix("ets-sim-member-")
        .tempdir()
        .context("creating a temporary directory")?;
    let (summary, store) = run_year_in_store(
        &job.scenario,
        &dir.path().join("store"),
        RunOptions::default(),
    )?;
    store
        .engine()
        .check_invariants()
        .map_err(|e| anyhow!("registry invariants broken after the run: {e}"))?;
    Ok(Member::of(job.index, job.point, &summary))
}

/// Calls `work(0..count)` on `threads` worker threads (at least one), each taking the
/// next index when it is free; returns the results in index order.
///
/// # Panics
/// When a call panics (a bug: it shows).
pub fn parallel<T: Send>(
    count: usize,
    threads: usize,
    work: impl Fn(usize) -> Result<T> + Sync,
) -> Vec<Result<T>> {
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<Result<T>>>> = Mutex::new((0..count).map(|_| None).collect());
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads.clamp(1, count.max(1)))
            .map(|_| {
                scope.spawn(|| {
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        if index >= count {
                            break;
                        }
                        let result = work(index);
                        if let Ok(mut slots) = slots.lock() {
                            slots[index] = Some(result);
                        }
                    }
                })
            })
            .collect();
        for handle in handles {
            assert!(handle.join().is_ok(), "an ensemble member panicked");
        }
    });
    slots
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .map(|slot| slot.unwrap_or_else(|| Err(anyhow!("an ensemble member did not run"))))
        .collect()
}

/// The median and the 5% and 95% quantiles of a figure over the members, and the
/// lowest and highest member.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    /// The lowest member.
    pub lowest: f64,
    /// 5% quantile.
    pub low: f64,
    /// Median.
    pub median: f64,
    /// 95% quantile.
    pub high: f64,
    /// The highest member.
    pub highest: f64,
}

impl Band {
    /// The band of `values` (linear interpolation between order statistics); all
    /// zero for no values.
    #[must_use]
    pub fn of(values: &[f64]) -> Band {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        Band {
            lowest: quantile(&sorted, 0.0),
            low: quantile(&sorted, 0.05),
            median: quantile(&sorted, 0.5),
            high: quantile(&sorted, 0.95),
            highest: quantile(&sorted, 1.0),
        }
    }

    /// True when `value` lies within the 5-95% band.
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
            // Monotone, and exact when the neighbours are equal.
            sorted[below] + (sorted[above] - sorted[below]) * weight
        }
    }
}

/// The headline figures of one run, as an ensemble or a sweep reports them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Headline {
    /// Secondary-market volume (listed, block, continuous), Mt.
    pub secondary_volume_mt: f64,
    /// Sold at primary auctions, Mt.
    pub auction_sales_mt: f64,
    /// Volume-weighted average price of secondary trades, yuan/t.
    pub average_price: f64,
    /// Compliant entities, %.
    pub compliance_entities_pct: f64,
    /// Surrendered over owed tonnes, %.
    pub compliance_tonnes_pct: f64,
    /// Abatement + net purchases + penalties, million yuan.
    pub compliance_cost_m_yuan: f64,
    /// The same abatement at one marginal cost, million yuan.
    pub least_cost_m_yuan: f64,
    /// Standard deviation of the daily log returns of the close, %.
    pub volatility_pct: f64,
}

impl Headline {
    /// The headline figures of a run's summary.
    #[must_use]
    pub fn of(s: &YearSummary) -> Headline {
        Headline {
            secondary_volume_mt: s.traded_mt,
            auction_sales_mt: s.volume_auction_mt,
            average_price: s.average_price,
            compliance_entities_pct: s.compliance_rate * 100.0,
            compliance_tonnes_pct: s.quantity_compliance_rate * 100.0,
            compliance_cost_m_yuan: s.compliance_cost_yuan / 1e6,
            least_cost_m_yuan: s.least_cost_yuan / 1e6,
            volatility_pct: crate::report::daily_volatility_percent(&s.daily_close),
        }
    }
}

/// How a headline figure is read.
pub type Reader = fn(&Headline) -> f64;

/// The headline figures an ensemble reports: name (with its unit) and how to read it.
pub const FIGURES: [(&str, Reader); 8] = [
    ("Secondary volume (Mt)", |h| h.secondary_volume_mt),
    ("Auction sales (Mt)", |h| h.auction_sales_mt),
    ("Average price (yuan/t)", |h| h.average_price),
    ("Compliance rate by entity (%)", |h| {
        h.compliance_entities_pct
    }),
    ("Compliance rate by quantity (%)", |h| {
        h.compliance_tonnes_pct
    }),
    ("Compliance cost (M yuan)", |h| h.compliance_cost_m_yuan),
    ("Least cost of the same abatement (M yuan)", |h| {
        h.least_cost_m_yuan
    }),
    ("Daily close volatility (%)", |h| h.volatility_pct),
];

/// The band of every headline figure over `members`.
#[must_use]
pub fn bands(members: &[YearSummary]) -> Vec<(&'static str, Band)> {
    let headlines: Vec<Headline> = members.iter().map(Headline::of).collect();
    headline_bands(&headlines)
}

/// The band of every headline figure over `headlines`.
#[must_use]
pub fn headline_bands(headlines: &[Headline]) -> Vec<(&'static str, Band)> {
    FIGURES
        .iter()
        .map(|(name, read)| {
            (
                *name,
                Band::of(&headlines.iter().map(read).collect::<Vec<_>>()),
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
