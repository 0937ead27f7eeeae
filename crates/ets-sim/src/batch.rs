//! A batch: the plan of an ensemble (design runs x seeds) or a sweep (values of one
//! setting x seeds), its results file (`results.json`, or one per shard), and the
//! warnings that say when it is too small to stand for the market.
//!
//! The results file holds no wall time, so the same batch gives the same file, byte for
//! byte, however it was run: on one machine, or in shards merged afterwards.

use crate::ensemble::Member;
use crate::shard::Shard;
use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The format tag of a results file.
pub const FORMAT: &str = "openets-sim-results/1";

/// The fewest seeds whose 5-95% band is read without a warning.
pub const MIN_SEEDS: usize = 20;

/// A run below this share of the market's covered entities is warned about (1/4).
pub const MIN_MARKET_SHARE_DENOMINATOR: u32 = 4;

/// The setting a sweep varies and its range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Axis {
    /// The scenario key (`design.auction_share`).
    pub key: String,
    /// The first value.
    pub from: f64,
    /// The last value.
    pub to: f64,
    /// Values from `from` to `to`, evenly spaced, both ends included.
    pub steps: u32,
}

/// One design point of a batch: a run of a comparison (the scenario or a variant), or
/// one value of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Point {
    /// A short name (`base`, a variant's file stem, or `key=value`).
    pub name: String,
    /// Its title.
    pub title: String,
    /// Its description (may be empty).
    pub description: String,
    /// The swept setting's value (sweeps only).
    pub value: Option<f64>,
}

/// What a batch runs: every point with every seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// The scenario's name.
    pub scenario: String,
    /// The scenario file as given.
    pub scenario_file: String,
    /// Entities simulated.
    pub entities: u32,
    /// Entities of the real market (the scenario's published count; 0 when unknown).
    pub market_entities: u32,
    /// The swept setting, for a sweep.
    pub sweep: Option<Axis>,
    /// The design points.
    pub points: Vec<Point>,
    /// The seeds every point runs with.
    pub seeds: Vec<u64>,
}

impl Plan {
    /// Members in the whole batch: points x seeds.
    #[must_use]
    pub fn member_count(&self) -> usize {
        self.points.len() * self.seeds.len()
    }

    /// The design point and seed of member `index`: `index = point * seeds + k`.
    #[must_use]
    pub fn member(&self, index: usize) -> (usize, u64) {
        let per_point = self.seeds.len().max(1);
        (
            index / per_point,
            self.seeds
                .get(index % per_point)
                .copied()
                .unwrap_or_default(),
        )
    }

    /// The report's file stem: `ensemble` or `sweep`.
    #[must_use]
    pub fn stem(&self) -> &'static str {
        if self.sweep.is_some() {
            "sweep"
        } else {
            "ensemble"
        }
    }

    /// Why the batch may not stand for the market: too few seeds for a band, too few
    /// entities for the market's depth. Empty when neither.
    #[must_use]
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(few_seeds_warning(self.seeds.len()));
        out.extend(small_run_warning(self.entities, self.market_entities));
        out
    }
}

/// The warning for an ensemble of `seeds` members: below [`MIN_SEEDS`] the 5-95% band
/// is rough. `None` when there are enough.
#[must_use]
pub fn few_seeds_warning(seeds: usize) -> Option<String> {
    (seeds < MIN_SEEDS).then(|| {
        format!(
            "{seeds} seed(s) per point: with fewer than {MIN_SEEDS} the 5% and 95% quantiles lie \
             at or next to the lowest and highest member and the band is rough; run \
             --seeds {MIN_SEEDS} or more to read it."
        )
    })
}

/// The warning for a run of `entities` in a market of `market_entities`: below a
/// quarter of the market the book is thin, so its prices and volumes are of a much
/// smaller market. `None` when the run is large enough or the market's size is unknown.
#[must_use]
pub fn small_run_warning(entities: u32, market_entities: u32) -> Option<String> {
    (entities.saturating_mul(MIN_MARKET_SHARE_DENOMINATOR) < market_entities).then(|| {
        format!(
            "{entities} entities against {market_entities} in the market (the scenario's \
             published count): below a quarter of the market the book is thin, so prices and \
             volumes are those of a much smaller market; read them for direction, not level."
        )
    })
}

/// A results file: the plan, the shard it is of (none for a whole batch), and the
/// members it ran, in index order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Results {
    /// [`FORMAT`].
    pub format: String,
    /// The batch.
    pub plan: Plan,
    /// The shard these results are of; `None` for the whole batch.
    pub shard: Option<Shard>,
    /// The members, in index order.
    pub members: Vec<Member>,
}

impl Results {
    /// The results of a whole batch.
    #[must_use]
    pub fn whole(plan: Plan, members: Vec<Member>) -> Results {
        Results {
            format: FORMAT.to_owned(),
            plan,
            shard: None,
            members,
        }
    }

    /// Checks that the shard (if any) is one of the plan's, and that the members are
    /// the plan's (the shard's), each once, in index order, all of them.
    ///
    /// # Errors
    /// Naming the first member out of place, or the count missing.
    pub fn check(&self) -> Result<()> {
        if let Some(shard) = self.shard {
            Shard::parse(&format!("{}/{}", shard.index, shard.count))?;
            shard.check(self.plan.member_count())?;
        }
        let mut expected =
            (0..self.plan.member_count()).filter(|i| self.shard.is_none_or(|s| s.holds(*i)));
        for member in &self.members {
            let Some(index) = expected.next() else {
                bail!("member {}: beyond the batch", member.index);
            };
            if member.index != index {
                bail!("member {index} missing (found member {})", member.index);
            }
            let (point, seed) = self.plan.member(index);
            if member.point != point || member.seed != seed {
                bail!(
                    "member {index}: point {} seed {}, the plan has point {point} seed {seed}",
                    member.point,
                    member.seed
                );
            }
        }
        if let Some(index) = expected.next() {
            bail!("member {index} missing");
        }
        Ok(())
    }

    /// The results as JSON text (what [`Results::write`] writes).
    ///
    /// # Errors
    /// Never in practice (serialising plain data).
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(self)? + "\n")
    }

    /// Writes the results to `path`.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_json()?).with_context(|| format!("writing {}", path.display()))
    }

    /// Reads and checks a results file.
    ///
    /// # Errors
    /// When it cannot be read, is not a results file of this format, or its members are
    /// not its plan's.
    pub fn read(path: &Path) -> Result<Results> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot be read", path.display()))?;
        let results: Results = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a results file of ets simulate", path.display()))?;
        if results.format != FORMAT {
            bail!(
                "{}: format \"{}\", this ets reads \"{FORMAT}\"",
                path.display(),
                results.format
            );
        }
        results
            .check()
            .with_context(|| format!("{}: members do not match its plan", path.display()))?;
        Ok(results)
    }
}
