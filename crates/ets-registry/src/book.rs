//! The registry's transactions as the engine keeps them: every one by
//! default, or, once bounded retention is set (docs/memory.md), only those
//! its rules still need (pending ones, and an original whose reversal awaits
//! approval) and finished ones, completed allocations and surrenders
//! included, for a window of commands, so that the history database, fed
//! after each durable batch, sees every change. Surrenders' completions and
//! reversals are logged for the engine, whose compliance keeps its own tally.

use crate::cow_map::CowMap;
use crate::transaction::{Transaction, TransactionKind, TransactionStatus};
use ets_model::{AccountId, Quantity, Timestamp, TransactionId};
use rustc_hash::FxHashMap;
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{BTreeSet, VecDeque};

/// Transactions by id, with the bookkeeping of bounded retention.
///
/// Encoded as the sequence of retained transactions in id order: exactly the
/// encoding of the `Vec<Transaction>` it replaced, so unbounded states hash as
/// before. The retention bookkeeping is encoded by the engine (see
/// [`BookRetention`]).
#[derive(Debug, Clone)]
pub(crate) struct TransactionBook {
    /// Shared copy-on-write with clones: the engine's scratch copies of the
    /// registry do not copy the history.
    by_id: CowMap<Transaction>,
    /// The id the next transaction gets.
    next_id: u64,
    /// The window, in commands, once retention is bounded.
    window: Option<u64>,
    /// The number of the command being applied (the engine's count of applied commands).
    stamp: u64,
    /// Finished transactions waiting to leave: (stamp when finished, id), in stamp order.
    finished: VecDeque<(u64, u64)>,
    /// Completed allocations and surrenders (a reversal may undo them while retained).
    reversible: CowMap<()>,
    /// Surrenders that completed or were reversed since the engine last took
    /// them ([`TransactionBook::take_surrender_changes`]); not state.
    surrender_changes: Vec<SurrenderChange>,
    /// Per account, how many pending transactions (awaiting approval or
    /// delayed) it sends or receives: closing an account asks this instead
    /// of scanning the history. Derived; rebuilt after decoding.
    pending_by_account: FxHashMap<AccountId, u32>,
}

/// A surrender that completed, or a completed surrender that was reversed:
/// what the engine's compliance tally needs, logged as it happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SurrenderChange {
    /// The surrendering account.
    pub account: AccountId,
    /// The compliance year surrendered for.
    pub year: u16,
    /// The unit class's interned index.
    pub class_index: u32,
    /// The units surrendered.
    pub quantity: Quantity,
    /// When the surrender completed.
    pub completed_at: Timestamp,
    /// Whether this is its reversal (the units no longer count).
    pub reversed: bool,
}

/// What the engine encodes of a bounded book: the next id and the finished
/// transactions still retained, with the command they finished at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookRetention {
    /// The id the next transaction gets.
    pub next_id: u64,
    /// (command number when finished, transaction id), in order.
    pub finished: Vec<(u64, u64)>,
}

/// Equal when they retain the same transactions under the same bookkeeping;
/// the number of the command being applied is not state.
impl PartialEq for TransactionBook {
    fn eq(&self, other: &TransactionBook) -> bool {
        self.by_id == other.by_id
            && self.next_id == other.next_id
            && self.window == other.window
            && self.finished == other.finished
    }
}

impl Eq for TransactionBook {}

impl Default for TransactionBook {
    fn default() -> TransactionBook {
        TransactionBook {
            by_id: CowMap::default(),
            next_id: 1,
            window: None,
            stamp: 0,
            finished: VecDeque::new(),
            reversible: CowMap::default(),
            surrender_changes: Vec::new(),
            pending_by_account: FxHashMap::default(),
        }
    }
}

impl TransactionBook {
    /// The id the next transaction gets.
    pub(crate) fn next_id(&self) -> TransactionId {
        TransactionId(self.next_id)
    }

    /// A retained transaction.
    pub(crate) fn get(&self, id: TransactionId) -> Option<&Transaction> {
        self.by_id.get(id.0)
    }

    /// Every retained transaction, by id.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &Transaction> {
        self.by_id.values()
    }

    /// Retained transactions from `first` on, by id.
    pub(crate) fn starting_at(
        &self,
        first: TransactionId,
    ) -> impl DoubleEndedIterator<Item = &Transaction> {
        self.by_id.values_from(first.0)
    }

    /// How many transactions are retained.
    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Completed surrenders still retained (all of them while retention is unbounded).
    pub(crate) fn completed_surrenders(&self) -> impl Iterator<Item = &Transaction> {
        self.reversible
            .keys()
            .filter_map(|id| self.by_id.get(id))
            .filter(|t| matches!(t.kind, TransactionKind::Surrender { .. }))
    }

    /// Records a new transaction, which must carry [`TransactionBook::next_id`].
    pub(crate) fn push(&mut self, transaction: Transaction) {
        assert_eq!(
            transaction.id.0, self.next_id,
            "registry invariant broken: transactions are numbered in order"
        );
        self.next_id += 1;
        self.put(transaction);
    }

    /// Replaces a retained transaction after its status changed.
    pub(crate) fn replace(&mut self, transaction: Transaction) {
        assert!(
            self.by_id.contains_key(transaction.id.0),
            "registry invariant broken: transaction {} changed after it left the engine",
            transaction.id
        );
        self.put(transaction);
    }

    fn put(&mut self, transaction: Transaction) {
        let id = transaction.id.0;
        let status = transaction.status();
        let reversible_kind = matches!(
            transaction.kind,
            TransactionKind::Allocate | TransactionKind::Surrender { .. }
        );
        if status == TransactionStatus::Completed && reversible_kind {
            self.reversible.insert(id, ());
        } else {
            self.reversible.remove(id);
        }
        if is_final(status) && self.window.is_some() {
            if status == TransactionStatus::Reversed {
                // It finished once already (completed): it leaves a window after its reversal.
                self.finished.retain(|&(_, queued)| queued != id);
            }
            self.finished.push_back((self.stamp, id));
        }
        if let Some(change) = surrender_change(&transaction) {
            self.surrender_changes.push(change);
        }
        let (from, to, pending) = (transaction.from, transaction.to, transaction.is_pending());
        if let Some(before) = self.by_id.insert(id, transaction)
            && before.is_pending()
        {
            self.count_pending(before.from, before.to, false);
        }
        if pending {
            self.count_pending(from, to, true);
        }
    }

    /// Counts a pending transaction between `from` and `to` in or out.
    fn count_pending(&mut self, from: AccountId, to: AccountId, add: bool) {
        for account in [from, to] {
            let count = self.pending_by_account.entry(account).or_insert(0);
            if add {
                *count += 1;
            } else {
                assert!(
                    *count > 0,
                    "registry invariant broken: a pending transaction of account {account} was not counted"
                );
                *count -= 1;
                if *count == 0 {
                    self.pending_by_account.remove(&account);
                }
            }
        }
    }

    /// Whether a pending transaction (awaiting approval or delayed) sends
    /// from or delivers to `account`; no scan of the history.
    pub(crate) fn has_pending_involving(&self, account: AccountId) -> bool {
        self.pending_by_account.contains_key(&account)
    }

    /// The surrenders that completed or were reversed since the last call, in order.
    pub(crate) fn take_surrender_changes(&mut self) -> Vec<SurrenderChange> {
        std::mem::take(&mut self.surrender_changes)
    }

    /// Sets the number of the command being applied.
    pub(crate) fn set_stamp(&mut self, stamp: u64) {
        self.stamp = stamp;
    }

    /// Bounds retention to `window` commands: transactions already finished
    /// leave `window` commands from now.
    pub(crate) fn bound(&mut self, window: u64) {
        if self.window.is_none() {
            let stamp = self.stamp;
            self.finished = self
                .by_id
                .values()
                .filter(|t| is_final(t.status()))
                .map(|t| (stamp, t.id.0))
                .collect();
        }
        self.window = Some(window);
    }

    /// Drops finished transactions that finished `window` or more commands
    /// before the current one; returns how many. An original whose reversal
    /// awaits approval (`pinned`) stays, and leaves a window from now.
    pub(crate) fn prune(&mut self, pinned: &BTreeSet<TransactionId>) -> usize {
        let Some(window) = self.window else {
            return 0;
        };
        let mut pruned = 0;
        while let Some(&(finished_at, id)) = self.finished.front() {
            if finished_at.saturating_add(window) > self.stamp {
                break;
            }
            self.finished.pop_front();
            if pinned.contains(&TransactionId(id)) {
                self.finished.push_back((self.stamp, id));
                continue;
            }
            self.by_id.remove(id);
            self.reversible.remove(id);
            pruned += 1;
        }
        pruned
    }

    /// The bookkeeping the engine encodes once retention is bounded.
    pub(crate) fn retention(&self) -> BookRetention {
        BookRetention {
            next_id: self.next_id,
            finished: self.finished.iter().copied().collect(),
        }
    }

    /// Restores the bookkeeping of a decoded bounded state.
    pub(crate) fn restore(&mut self, window: u64, retention: BookRetention) {
        self.window = Some(window);
        self.next_id = retention.next_id;
        self.finished = retention.finished.into();
    }

    /// Recomputes what decoding does not carry: the next id of an
    /// unbounded state, the reversible set and the pending counts.
    pub(crate) fn rebuild(&mut self) {
        self.pending_by_account.clear();
        let pending: Vec<(AccountId, AccountId)> = self
            .by_id
            .values()
            .filter(|t| t.is_pending())
            .map(|t| (t.from, t.to))
            .collect();
        for (from, to) in pending {
            self.count_pending(from, to, true);
        }
        if self.window.is_none() {
            self.next_id = self.by_id.last_key().map_or(1, |last| last + 1);
        }
        self.reversible = self
            .by_id
            .values()
            .filter(|t| {
                t.status() == TransactionStatus::Completed
                    && matches!(
                        t.kind,
                        TransactionKind::Allocate | TransactionKind::Surrender { .. }
                    )
            })
            .map(|t| (t.id.0, ()))
            .collect();
    }
}

/// What a surrender's new status means for the compliance tally, if anything.
fn surrender_change(transaction: &Transaction) -> Option<SurrenderChange> {
    let TransactionKind::Surrender { compliance_year } = transaction.kind else {
        return None;
    };
    let reversed = match transaction.status() {
        TransactionStatus::Completed => false,
        TransactionStatus::Reversed => true,
        _ => return None,
    };
    let completed_at = transaction
        .history
        .iter()
        .find(|change| change.status == TransactionStatus::Completed)?
        .at;
    Some(SurrenderChange {
        account: transaction.from,
        year: compliance_year,
        class_index: transaction.class_index,
        quantity: transaction.quantity,
        completed_at,
        reversed,
    })
}

/// Whether a transaction's status is final (reversal aside).
fn is_final(status: TransactionStatus) -> bool {
    matches!(
        status,
        TransactionStatus::Completed
            | TransactionStatus::Rejected
            | TransactionStatus::Cancelled
            | TransactionStatus::Reversed
            | TransactionStatus::Failed
    )
}

impl Serialize for TransactionBook {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // The chunked map's iterator does not know its length; the encoding needs it.
        let mut seq = serializer.serialize_seq(Some(self.by_id.len()))?;
        for transaction in self.by_id.values() {
            seq.serialize_element(transaction)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for TransactionBook {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TransactionBook, D::Error> {
        let transactions = Vec::<Transaction>::deserialize(deserializer)?;
        let mut book = TransactionBook::default();
        for transaction in transactions {
            if book.by_id.insert(transaction.id.0, transaction).is_some() {
                return Err(serde::de::Error::custom("a transaction id appears twice"));
            }
        }
        book.rebuild();
        Ok(book)
    }
}
