//! One account's holding of one unit class: a set of disjoint serial blocks,
//! adjacent blocks merged, plus the quantity reserved for pending transactions.

use ets_model::{Quantity, SerialBlock};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The serial blocks of one unit class held by one account.
///
/// Blocks are keyed by their first serial; `total` is the sum of their
/// quantities and `reserved` (units promised to pending transactions) never
/// exceeds it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holding {
    /// First serial -> last serial (inclusive) of each block.
    blocks: BTreeMap<u64, u64>,
    total: Quantity,
    reserved: Quantity,
}

impl Holding {
    /// All units held, reserved or not.
    #[must_use]
    pub fn total(&self) -> Quantity {
        self.total
    }

    /// Units promised to transactions awaiting approval.
    #[must_use]
    pub fn reserved(&self) -> Quantity {
        self.reserved
    }

    /// Units free to be moved: `total - reserved`.
    #[must_use]
    pub fn available(&self) -> Quantity {
        // Holds by construction: reserve() never lets reserved pass total.
        self.total
            .checked_sub(self.reserved)
            .unwrap_or(Quantity::ZERO)
    }

    /// The blocks held, oldest (lowest serial) first.
    pub fn blocks(&self) -> impl Iterator<Item = SerialBlock> + '_ {
        self.blocks
            .iter()
            .filter_map(|(&start, &end)| SerialBlock::try_new(start, end).ok())
    }

    /// How many separate blocks make up the holding.
    #[must_use]
    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }

    /// Whether every serial of `block` is held here.
    #[must_use]
    pub fn holds(&self, block: SerialBlock) -> bool {
        self.blocks
            .range(..=block.start())
            .next_back()
            .is_some_and(|(_, &end)| end >= block.end())
    }

    /// Promises `quantity` of the available units to a pending transaction.
    /// Returns false (and changes nothing) when not enough are available.
    #[must_use]
    pub fn reserve(&mut self, quantity: Quantity) -> bool {
        if quantity > self.available() {
            return false;
        }
        self.reserved = Quantity::new(self.reserved.tonnes() + quantity.tonnes());
        true
    }

    /// Releases a reservation made by [`Holding::reserve`].
    pub fn release(&mut self, quantity: Quantity) {
        debug_assert!(quantity <= self.reserved, "releasing more than reserved");
        self.reserved = self
            .reserved
            .checked_sub(quantity)
            .unwrap_or(Quantity::ZERO);
    }

    /// Adds a block that is not already held, merging it with its neighbours.
    pub fn insert(&mut self, block: SerialBlock) {
        let (mut start, mut end) = (block.start(), block.end());
        if let Some((&previous_start, &previous_end)) = self.blocks.range(..start).next_back() {
            debug_assert!(previous_end < start, "inserted block overlaps a held one");
            if previous_end.checked_add(1) == Some(start) {
                self.blocks.remove(&previous_start);
                start = previous_start;
            }
        }
        if let Some(next_start) = end.checked_add(1)
            && let Some(next_end) = self.blocks.remove(&next_start)
        {
            end = next_end;
        }
        debug_assert!(
            self.blocks.range(start..=end).next().is_none(),
            "inserted block overlaps a held one"
        );
        self.blocks.insert(start, end);
        self.total = Quantity::new(self.total.tonnes() + block.quantity().tonnes());
    }

    /// Takes `quantity` units, lowest serials first, splitting the last block
    /// taken; the moved blocks are appended to `taken`. The caller checks
    /// availability first; returns false (and changes nothing) if the
    /// holding has fewer than `quantity` units.
    #[must_use]
    pub fn take_oldest(&mut self, quantity: Quantity, taken: &mut Vec<SerialBlock>) -> bool {
        if quantity > self.total {
            return false;
        }
        let mut remaining = quantity.tonnes();
        while remaining > 0 {
            let Some((start, end)) = self.blocks.pop_first() else {
                break;
            };
            let Ok(block) = SerialBlock::try_new(start, end) else {
                break;
            };
            let Some((head, rest)) =
                block.split_front(Quantity::new(remaining.min(block.quantity().tonnes())))
            else {
                break;
            };
            if let Some(rest) = rest {
                self.blocks.insert(rest.start(), rest.end());
            }
            remaining -= head.quantity().tonnes();
            taken.push(head);
        }
        debug_assert_eq!(remaining, 0, "total said the units were there");
        self.total = Quantity::new(self.total.tonnes() - quantity.tonnes());
        true
    }

    /// Removes exactly `block`, which must be held (see [`Holding::holds`]).
    /// Returns false (and changes nothing) when it is not.
    #[must_use]
    pub fn remove_exact(&mut self, block: SerialBlock) -> bool {
        let Some((&start, &end)) = self.blocks.range(..=block.start()).next_back() else {
            return false;
        };
        if end < block.end() {
            return false;
        }
        self.blocks.remove(&start);
        if start < block.start() {
            self.blocks.insert(start, block.start() - 1);
        }
        if block.end() < end {
            self.blocks.insert(block.end() + 1, end);
        }
        self.total = Quantity::new(self.total.tonnes() - block.quantity().tonnes());
        true
    }

    /// Checks the holding's own invariants: blocks disjoint and not
    /// adjacent, total equal to their sum, reserved within total.
    ///
    /// # Errors
    /// A description of the first broken invariant.
    pub fn check(&self) -> Result<(), String> {
        let mut sum: u128 = 0;
        let mut previous_end: Option<u64> = None;
        for (&start, &end) in &self.blocks {
            if end < start {
                return Err(format!("block {start}-{end} is reversed"));
            }
            if let Some(previous_end) = previous_end
                && previous_end.saturating_add(1) >= start
            {
                return Err(format!("block starting {start} touches the previous one"));
            }
            sum += u128::from(end - start) + 1;
            previous_end = Some(end);
        }
        if sum != u128::from(self.total.tonnes()) {
            return Err(format!("blocks sum to {sum} but total is {}", self.total));
        }
        if self.reserved > self.total {
            return Err(format!(
                "reserved {} exceeds total {}",
                self.reserved, self.total
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn block(start: u64, end: u64) -> SerialBlock {
        SerialBlock::try_new(start, end).unwrap()
    }

    #[test]
    fn adjacent_blocks_merge_on_insert() {
        let mut holding = Holding::default();
        holding.insert(block(1, 10));
        holding.insert(block(21, 30));
        holding.insert(block(11, 20));
        assert_eq!(holding.blocks().collect::<Vec<_>>(), vec![block(1, 30)]);
        assert_eq!(holding.total(), Quantity::new(30));
        holding.check().unwrap();
    }

    #[test]
    fn take_oldest_splits_the_last_block() {
        let mut holding = Holding::default();
        holding.insert(block(1, 5));
        holding.insert(block(11, 20));
        let mut taken = Vec::new();
        assert!(holding.take_oldest(Quantity::new(7), &mut taken));
        assert_eq!(taken, vec![block(1, 5), block(11, 12)]);
        assert_eq!(holding.blocks().collect::<Vec<_>>(), vec![block(13, 20)]);
        assert_eq!(holding.total(), Quantity::new(8));
        holding.check().unwrap();
    }

    #[test]
    fn taking_more_than_held_changes_nothing() {
        let mut holding = Holding::default();
        holding.insert(block(1, 5));
        let before = holding.clone();
        assert!(!holding.take_oldest(Quantity::new(6), &mut Vec::new()));
        assert_eq!(holding, before);
    }

    #[test]
    fn reservation_never_exceeds_total() {
        let mut holding = Holding::default();
        holding.insert(block(1, 5));
        assert!(holding.reserve(Quantity::new(3)));
        assert!(!holding.reserve(Quantity::new(3)));
        assert_eq!(holding.available(), Quantity::new(2));
        holding.release(Quantity::new(3));
        assert_eq!(holding.available(), Quantity::new(5));
    }

    #[test]
    fn remove_exact_cuts_a_hole() {
        let mut holding = Holding::default();
        holding.insert(block(1, 10));
        assert!(holding.holds(block(4, 6)));
        assert!(holding.remove_exact(block(4, 6)));
        assert!(!holding.holds(block(4, 6)));
        assert_eq!(
            holding.blocks().collect::<Vec<_>>(),
            vec![block(1, 3), block(7, 10)]
        );
        assert!(!holding.remove_exact(block(3, 7)));
        holding.check().unwrap();
    }

    proptest! {
        // Goal: any interleaving of takes and re-inserts conserves units and
        // keeps the blocks disjoint, merged and summing to the total.
        #[test]
        fn takes_and_inserts_conserve_units(amounts in proptest::collection::vec(1u64..40, 1..60)) {
            let mut source = Holding::default();
            source.insert(block(1, 1000));
            let mut sink = Holding::default();
            for (step, amount) in amounts.into_iter().enumerate() {
                let (from, to) = if step % 3 == 2 { (&mut sink, &mut source) } else { (&mut source, &mut sink) };
                let mut taken = Vec::new();
                if from.take_oldest(Quantity::new(amount), &mut taken) {
                    prop_assert_eq!(taken.iter().map(|b| b.quantity().tonnes()).sum::<u64>(), amount);
                    for b in taken { to.insert(b); }
                }
                prop_assert_eq!(source.total().tonnes() + sink.total().tonnes(), 1000);
                source.check().map_err(TestCaseError::fail)?;
                sink.check().map_err(TestCaseError::fail)?;
            }
        }
    }
}
