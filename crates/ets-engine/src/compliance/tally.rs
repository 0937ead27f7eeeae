//! The surrender tally: the units each account has surrendered, per
//! compliance year, unit class and completion time, kept by compliance
//! itself as surrenders complete and are reversed, so that completed
//! surrenders can leave the engine with the retention window like other
//! finished transactions (docs/memory.md). It grows with surrenders (one
//! entry per account, year, class and completion time), not with transfers.
//!
//! Not in the compliance encoding: a state that keeps every transaction
//! (retention unbounded) derives it from the registry, so such states encode
//! and hash exactly as before; a bounded state's snapshot carries it after
//! the retention section.

use ets_model::{AccountId, Timestamp};
use ets_registry::{Registry, SurrenderChange, TransactionKind, TransactionStatus};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An entry's key: (account, compliance year, class index, completion time).
pub(super) type TallyKey = (AccountId, u16, u32, Timestamp);

/// Tonnes surrendered and not reversed, by [`TallyKey`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurrenderTally {
    tonnes: BTreeMap<TallyKey, u64>,
}

impl SurrenderTally {
    /// The tally of the completed surrenders a registry retains: the whole
    /// tally when it retains every transaction.
    #[must_use]
    pub fn from_registry(registry: &Registry) -> SurrenderTally {
        let mut tally = SurrenderTally::default();
        for transaction in registry.completed_surrenders() {
            let TransactionKind::Surrender { compliance_year } = transaction.kind else {
                continue;
            };
            let completed = transaction
                .history
                .iter()
                .find(|change| change.status == TransactionStatus::Completed);
            if let Some(completed) = completed {
                tally.record(&SurrenderChange {
                    account: transaction.from,
                    year: compliance_year,
                    class_index: transaction.class_index,
                    quantity: transaction.quantity,
                    completed_at: completed.at,
                    reversed: false,
                });
            }
        }
        tally
    }

    /// Counts a completed surrender, or stops counting a reversed one.
    pub fn record(&mut self, change: &SurrenderChange) {
        let key = (
            change.account,
            change.year,
            change.class_index,
            change.completed_at,
        );
        let tonnes = change.quantity.tonnes();
        if change.reversed {
            let counted = self.tonnes.get(&key).copied().unwrap_or(0);
            assert!(
                counted >= tonnes,
                "compliance invariant broken: a reversal of {tonnes} t from account {} for {} that the tally never counted",
                change.account,
                change.year
            );
            if counted == tonnes {
                self.tonnes.remove(&key);
            } else {
                self.tonnes.insert(key, counted - tonnes);
            }
        } else {
            let total = self.tonnes.entry(key).or_default();
            // Units in existence fit in a u64: a sum of surrendered units does too.
            *total = total.checked_add(tonnes).unwrap_or(u64::MAX);
        }
    }

    /// The entries of one account, in key order (a range, not a scan).
    pub(super) fn entries_of(&self, account: AccountId) -> impl Iterator<Item = (&TallyKey, &u64)> {
        self.tonnes.range(
            (account, 0, 0, Timestamp(i64::MIN))
                ..=(account, u16::MAX, u32::MAX, Timestamp(i64::MAX)),
        )
    }

    /// Every entry with its tonnes, in key order.
    pub(super) fn entries(&self) -> impl Iterator<Item = (&TallyKey, &u64)> {
        self.tonnes.iter()
    }

    /// Tonnes `account` surrendered for `year` (every class), not reversed.
    #[must_use]
    pub fn tonnes_of(&self, account: AccountId, year: u16) -> u64 {
        let first = (account, year, 0, Timestamp(i64::MIN));
        let last = (account, year, u32::MAX, Timestamp(i64::MAX));
        self.tonnes
            .range(first..=last)
            .fold(0u64, |sum, (_, &tonnes)| sum.saturating_add(tonnes))
    }

    /// How many entries the tally keeps.
    #[must_use]
    pub fn len(&self) -> usize {
        self.tonnes.len()
    }

    /// Whether it counts nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tonnes.is_empty()
    }
}
