//! Shards: a slice of an ensemble or a sweep, so a batch scheduler (a Kubernetes
//! indexed Job, a Slurm job array) can spread the members over machines, and the merge
//! of the slices' results files into the results of the whole batch.
//!
//! Shard `i/n` (0-based, `0 <= i < n`) runs the members whose index `k` has
//! `k mod n = i`: round robin, so each shard gets its share of every design point.
//! Merged, the slices give the same results file, byte for byte, as the unsharded run.

use crate::batch::Results;
use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One slice of a batch: shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    /// This shard, 0-based.
    pub index: u32,
    /// The number of shards.
    pub count: u32,
}

impl Shard {
    /// Parses `i/n` (as given to `--shard`).
    ///
    /// # Errors
    /// When the text is not two whole numbers `i/n`, `n` is 0, or `i` is not below `n`.
    pub fn parse(text: &str) -> Result<Shard> {
        let parsed = text.split_once('/').and_then(|(i, n)| {
            Some((i.trim().parse::<u32>().ok()?, n.trim().parse::<u32>().ok()?))
        });
        let Some((index, count)) = parsed else {
            bail!("--shard {text}: expected i/n, two whole numbers, e.g. 0/4");
        };
        if count == 0 {
            bail!("--shard {text}: the number of shards must be at least 1");
        }
        if index >= count {
            bail!(
                "--shard {text}: shard index {index} out of range: shards are numbered 0 to {} (0-based, as JOB_COMPLETION_INDEX)",
                count - 1
            );
        }
        Ok(Shard { index, count })
    }

    /// Checks that the batch of `members` has a member for every shard.
    ///
    /// # Errors
    /// When there are more shards than members.
    pub fn check(self, members: usize) -> Result<()> {
        if self.count as usize > members {
            bail!(
                "--shard {}/{}: {} shards for {members} members: at most one shard per member",
                self.index,
                self.count,
                self.count
            );
        }
        Ok(())
    }

    /// True when member `index` belongs to this shard.
    #[must_use]
    pub fn holds(self, index: usize) -> bool {
        index % self.count as usize == self.index as usize
    }

    /// The file name of this shard's results: `results-shard-<i>-of-<n>.json`.
    #[must_use]
    pub fn file_name(self) -> String {
        format!("results-shard-{}-of-{}.json", self.index, self.count)
    }
}

/// Merges the results files of every shard of one batch into the results of the
/// whole batch (members in index order, no shard), as the unsharded run writes them.
///
/// # Errors
/// When a file cannot be read or is not a results file, the files come from different
/// batches, a file is of no shard or of a whole batch, a shard is missing or given twice,
/// or the members do not make up the batch.
pub fn merge(files: &[PathBuf]) -> Result<Results> {
    let Some(first_path) = files.first() else {
        bail!("merge: give the results files of every shard");
    };
    let slices: Vec<(&PathBuf, Results)> = files
        .iter()
        .map(|path| Ok((path, Results::read(path)?)))
        .collect::<Result<_>>()?;
    let plan = &slices[0].1.plan;
    let count = shard_of(first_path, &slices[0].1)?.count;
    let mut seen: Vec<Option<&PathBuf>> = vec![None; count as usize];
    let mut members = Vec::with_capacity(plan.member_count());
    for (path, slice) in &slices {
        let shard = shard_of(path, slice)?;
        if slice.plan != *plan {
            bail!(
                "{}: from another batch than {} (its scenario, points or seeds differ)",
                path.display(),
                first_path.display()
            );
        }
        if shard.count != count {
            bail!(
                "{}: shard {}/{} of {} shards, {} has {count}",
                path.display(),
                shard.index,
                shard.count,
                shard.count,
                first_path.display()
            );
        }
        if let Some(other) = seen[shard.index as usize].replace(path) {
            bail!(
                "shard {}/{count} given twice: {} and {}",
                shard.index,
                other.display(),
                path.display()
            );
        }
        members.extend(slice.members.iter().cloned());
    }
    let missing: Vec<String> = (0..count)
        .filter(|i| seen[*i as usize].is_none())
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        bail!("merge: shards missing: {}", missing.join(", "));
    }
    members.sort_by_key(|m| m.index);
    let whole = Results::whole(plan.clone(), members);
    whole
        .check()
        .context("merge: the shards do not make up the batch")?;
    Ok(whole)
}

fn shard_of(path: &Path, results: &Results) -> Result<Shard> {
    results.shard.with_context(|| {
        format!(
            "{}: the results of a whole batch, not of a shard: nothing to merge",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_out_of_range_indices_are_refused() {
        assert_eq!(Shard::parse("0/4").ok(), Some(Shard { index: 0, count: 4 }));
        assert_eq!(Shard::parse("3/4").ok(), Some(Shard { index: 3, count: 4 }));
        for (text, says) in [
            ("4/4", "out of range"),
            ("1/0", "at least 1"),
            ("a/4", "expected i/n"),
            ("-1/4", "expected i/n"),
            ("2", "expected i/n"),
        ] {
            let error = Shard::parse(text).expect_err(text).to_string();
            assert!(error.contains(says) && error.contains(text), "{error}");
        }
        assert!(Shard { index: 0, count: 9 }.check(8).is_err());
        assert!(Shard { index: 0, count: 8 }.check(8).is_ok());
    }

    #[test]
    fn every_member_belongs_to_exactly_one_shard() {
        let shards: Vec<Shard> = (0..3).map(|index| Shard { index, count: 3 }).collect();
        for member in 0..10 {
            assert_eq!(shards.iter().filter(|s| s.holds(member)).count(), 1);
        }
    }
}
