//! The running net sales per account and unit class: each settled trade adds
//! its tonnes to the seller's figure and takes them from the buyer's. China's
//! carry-over cap (10,000 t + 1.5 x net sales, docs/compliance.md) reads
//! these sums at the close, so it needs no trade record: bounded retention
//! may drop the records (docs/memory.md) and the cap still binds exactly.
//!
//! Encoded only in a bounded state's snapshot (an unbounded state derives it
//! from the trade records it keeps, so its state hash is what it was before
//! the counter existed).

use super::hashed::{HashedMap, serialize_sorted};
use super::state::TradeRecord;
use ets_model::{AccountId, Quantity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Sold less bought, in tonnes, per unit class index and account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetSales {
    /// Encoded in key order (a hash map because every trade updates two entries).
    #[serde(serialize_with = "serialize_sorted")]
    by_class: HashedMap<(u32, AccountId), i128>,
    /// `false` when it was derived from a trade log that had already dropped
    /// trades (a bounded snapshot written before the counter was kept): the
    /// sums then miss those trades and must not be used.
    complete: bool,
}

impl Default for NetSales {
    fn default() -> NetSales {
        NetSales {
            by_class: HashedMap::default(),
            complete: true,
        }
    }
}

impl NetSales {
    /// Counts one settled trade of `quantity` of class `class_index`.
    pub(super) fn record(
        &mut self,
        class_index: u32,
        seller: AccountId,
        buyer: AccountId,
        quantity: Quantity,
    ) {
        let tonnes = i128::from(quantity.tonnes());
        // i128 cannot overflow: each trade moves at most u64::MAX tonnes, and
        // fewer than 2^63 trades are ever numbered.
        *self.by_class.entry((class_index, seller)).or_default() += tonnes;
        *self.by_class.entry((class_index, buyer)).or_default() -= tonnes;
    }

    /// Derives the counter from `trades` (the class of each given by
    /// `class_of`); `complete` says whether they are every trade ever settled.
    pub(super) fn derive<'a>(
        trades: impl Iterator<Item = &'a TradeRecord>,
        class_of: impl Fn(&TradeRecord) -> Option<u32>,
        complete: bool,
    ) -> NetSales {
        let mut sales = NetSales {
            complete,
            ..NetSales::default()
        };
        for trade in trades {
            match class_of(trade) {
                Some(class_index) => {
                    sales.record(class_index, trade.seller, trade.buyer, trade.quantity);
                }
                None => sales.complete = false,
            }
        }
        sales
    }

    /// Whether there is nothing to encode: no trade counted, nothing missing.
    #[must_use]
    pub fn is_trivial(&self) -> bool {
        self.complete && self.by_class.is_empty()
    }

    /// Net sales per account over the classes `counts` accepts, or `None`
    /// when the counter misses trades it cannot know.
    #[must_use]
    pub fn per_account(&self, counts: impl Fn(u32) -> bool) -> Option<BTreeMap<AccountId, i128>> {
        if !self.complete {
            return None;
        }
        let mut sales: BTreeMap<AccountId, i128> = BTreeMap::new();
        for (&(class_index, account), &tonnes) in &self.by_class {
            if counts(class_index) {
                *sales.entry(account).or_default() += tonnes;
            }
        }
        Some(sales)
    }
}
