//! Positions by id without a hash probe where the ids are dense. Callers
//! choose participant and account ids and in practice number
//! them from 1 upwards: such an id is itself the index of a vector holding
//! its position, one load from a small array, where a hash map's probe read
//! a control byte and a bucket from a table several times larger, each a
//! cache miss on the replay of a large store (docs/benchmarks.md, "Replay").
//! An id far above the count of ids held goes to a hash map instead, so a
//! sparse numbering costs a probe, never a vector as long as its largest id.

use rustc_hash::FxHashMap;

/// Ids below this many plus twice the count of ids held are kept in the
/// vector; a larger id in the map. The vector so never holds more than a few
/// slots per id plus this many, whatever ids arrive.
const DENSE_SLACK: usize = 4096;

/// Positions (`u32`) by `u64` id: a vector indexed by the id for dense ids,
/// a hash map for the rest (see the module). Not part of any encoding: its
/// owner rebuilds it from the items it indexes.
#[derive(Debug, Clone, Default)]
pub struct DenseIndex {
    /// At index `id`: the position of `id` plus one, or 0 when absent.
    dense: Vec<u32>,
    /// The ids that were too large for `dense` when they arrived.
    sparse: FxHashMap<u64, u32>,
    /// How many ids are held, in both parts.
    len: usize,
}

impl DenseIndex {
    /// The position of `id`.
    #[must_use]
    pub fn get(&self, id: u64) -> Option<u32> {
        let in_dense = usize::try_from(id)
            .ok()
            .and_then(|index| self.dense.get(index))
            .and_then(|&slot| slot.checked_sub(1));
        if in_dense.is_some() || self.sparse.is_empty() {
            return in_dense;
        }
        self.sparse.get(&id).copied()
    }

    /// Whether `id` is held.
    #[must_use]
    pub fn contains(&self, id: u64) -> bool {
        self.get(id).is_some()
    }

    /// Puts `id` at `position`, replacing its position if it was held.
    ///
    /// # Panics
    /// If `position` is `u32::MAX` (a position is stored plus one).
    pub fn insert(&mut self, id: u64, position: u32) {
        assert!(
            position < u32::MAX,
            "dense index: position {position} does not fit"
        );
        if let Some(held) = self.sparse.get_mut(&id) {
            *held = position;
            return;
        }
        let limit = self.dense.len().max(DENSE_SLACK + 2 * self.len);
        let Some(index) = usize::try_from(id).ok().filter(|&index| index < limit) else {
            self.sparse.insert(id, position);
            self.len += 1;
            return;
        };
        if index >= self.dense.len() {
            self.dense.resize(index + 1, 0);
        }
        if self.dense[index] == 0 {
            self.len += 1;
        }
        self.dense[index] = position + 1;
    }

    /// How many ids are held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no id is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every `(id, position)` held, the dense ids in id order first.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        let dense = self
            .dense
            .iter()
            .enumerate()
            .filter_map(|(id, &slot)| Some((id as u64, slot.checked_sub(1)?)));
        dense.chain(self.sparse.iter().map(|(&id, &position)| (id, position)))
    }
}

impl PartialEq for DenseIndex {
    /// The same ids at the same positions, however each index split them.
    fn eq(&self, other: &DenseIndex) -> bool {
        self.len == other.len
            && self
                .iter()
                .all(|(id, position)| other.get(id) == Some(position))
    }
}

impl Eq for DenseIndex {}

impl FromIterator<(u64, u32)> for DenseIndex {
    fn from_iter<I: IntoIterator<Item = (u64, u32)>>(pairs: I) -> DenseIndex {
        let mut index = DenseIndex::default();
        for (id, position) in pairs {
            index.insert(id, position);
        }
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[test]
    fn dense_ids_live_in_the_vector_and_a_far_id_in_the_map() {
        let mut index = DenseIndex::default();
        for id in 1..=100_u64 {
            index.insert(id, u32::try_from(id).unwrap_or(0) - 1);
        }
        index.insert(u64::MAX, 100);
        assert_eq!(index.get(1), Some(0));
        assert_eq!(index.get(100), Some(99));
        assert_eq!(index.get(u64::MAX), Some(100));
        assert_eq!(index.get(0), None);
        assert_eq!(index.get(101), None);
        assert_eq!(index.len(), 101);
        assert_eq!(
            index.dense.len(),
            101,
            "no slot beyond the largest dense id"
        );
        assert_eq!(index.sparse.len(), 1, "the far id is not in the vector");
    }

    proptest! {
        /// Whatever ids arrive (dense runs, far ids, repeats), the index
        /// answers as a hash map of the same insertions, and two indexes of
        /// the same pairs are equal however they split them.
        #[test]
        fn answers_as_a_map_of_the_same_insertions(
            ids in proptest::collection::vec(
                prop_oneof![0_u64..300, 0_u64..20_000, any::<u64>()],
                0..400,
            ),
            probes in proptest::collection::vec(0_u64..20_000, 0..50),
        ) {
            let mut index = DenseIndex::default();
            let mut map = HashMap::new();
            for (position, &id) in ids.iter().enumerate() {
                let position = u32::try_from(position).unwrap_or(0);
                index.insert(id, position);
                map.insert(id, position);
            }
            prop_assert_eq!(index.len(), map.len());
            for id in ids.iter().chain(&probes) {
                prop_assert_eq!(index.get(*id), map.get(id).copied());
            }
            let mut pairs: Vec<_> = map.iter().map(|(&id, &position)| (id, position)).collect();
            pairs.sort_unstable_by_key(|&(id, _)| std::cmp::Reverse(id));
            let rebuilt: DenseIndex = pairs.into_iter().collect();
            prop_assert!(rebuilt == index);
        }
    }
}
