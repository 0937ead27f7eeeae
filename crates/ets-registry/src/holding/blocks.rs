//! The serial blocks of one holding as a sorted map `last serial -> first
//! serial`: fixed-size sorted chunks, found through fence keys (each chunk's
//! largest key) kept inline in the holding itself.
//!
//! Why not a B-tree: a transfer reaches the receiving holding cold (the core
//! has not seen it since the account last received), and a B-tree's search
//! reads the root and then the leaf, two dependent cold nodes of several
//! cache lines each. Here the fences sit in the holding, beside the counters
//! the transfer reads anyway, and the chunks in one buffer whose address is
//! in the holding too: a search reads the fences, computes the chunk's
//! address without a load, and reads the chunk alone (docs/benchmarks.md,
//! "Replay"). A chunked holding whose fences lived in a vector of their own
//! was measured slower than the tree: the fences' allocation was one more
//! cold load. Beyond [`FENCES_INLINE`] chunks the fences move to the heap,
//! and a search costs that one load again.

use smallvec::SmallVec;
use std::collections::VecDeque;
use std::fmt;

/// Entries per chunk: with its length, a chunk fills four cache lines
/// exactly, which a search reads all at once (see [`Chunk`]).
const CHUNK_CAPACITY: usize = 15;

/// Fences kept in the holding before they move to the heap: a holding of
/// about a hundred blocks (a receiving account in the ledger benchmark)
/// keeps them inline.
const FENCES_INLINE: usize = 16;

/// One entry: a block's last serial (the key) and its first (the value),
/// side by side so the line that holds a key holds its value.
#[derive(Clone, Copy, Default)]
struct Entry {
    key: u64,
    value: u64,
}

/// Up to [`CHUNK_CAPACITY`] entries sorted by key, in four aligned cache
/// lines. A search counts the keys below the one sought instead of
/// bisecting: the loads do not depend on each other, so the core fetches
/// the four lines at once instead of one after another, and a shift on
/// insertion stays in lines already fetched.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Chunk {
    len: usize,
    entries: [Entry; CHUNK_CAPACITY],
}

impl Chunk {
    /// A chunk holding the one entry `key -> value`.
    fn of(key: u64, value: u64) -> Chunk {
        let mut chunk = Chunk {
            len: 1,
            entries: [Entry::default(); CHUNK_CAPACITY],
        };
        chunk.entries[0] = Entry { key, value };
        chunk
    }

    fn entries(&self) -> &[Entry] {
        &self.entries[..self.len]
    }

    fn is_full(&self) -> bool {
        self.len == CHUNK_CAPACITY
    }

    /// The largest key. The chunk must not be empty.
    fn last_key(&self) -> u64 {
        self.entries[self.len - 1].key
    }

    /// The position of the first key at or above `key` (`len` when none).
    fn position_of(&self, key: u64) -> usize {
        self.entries()
            .iter()
            .map(|entry| usize::from(entry.key < key))
            .sum()
    }

    /// Puts `key -> value` at `position`, shifting those after it. The
    /// chunk must not be full.
    fn insert_at(&mut self, position: usize, key: u64, value: u64) {
        self.entries.copy_within(position..self.len, position + 1);
        self.entries[position] = Entry { key, value };
        self.len += 1;
    }

    /// Removes the entry at `position`, returning its value.
    fn remove_at(&mut self, position: usize) -> u64 {
        let value = self.entries[position].value;
        self.entries.copy_within(position + 1..self.len, position);
        self.len -= 1;
        value
    }

    /// Moves the upper half of the entries into a new chunk, returned.
    fn split_off_upper_half(&mut self) -> Chunk {
        let half = self.len / 2;
        let mut upper = Chunk::of(0, 0);
        upper.len = self.len - half;
        upper.entries[..upper.len].copy_from_slice(&self.entries[half..self.len]);
        self.len = half;
        upper
    }

    /// Appends every entry of `next`, whose keys are all above this
    /// chunk's; the two must fit in one chunk.
    fn append(&mut self, next: &Chunk) {
        let (start, end) = (self.len, self.len + next.len);
        self.entries[start..end].copy_from_slice(next.entries());
        self.len = end;
    }
}

/// A sorted map `u64 -> u64` for a holding's blocks (see the module).
///
/// `fences[i]` is the largest key of `chunks[i]`, so the fences are
/// strictly increasing and no chunk is empty. Laid out in this order (the
/// chunks' address, then the fences) so that a search reads adjacent bytes
/// of the holding; the count of entries is not kept (only encoding and
/// checks ask for it, and they read every chunk anyway).
#[derive(Clone, Default)]
#[repr(C)]
pub(super) struct BlockMap {
    chunks: VecDeque<Chunk>,
    fences: SmallVec<[u64; FENCES_INLINE]>,
}

impl fmt::Debug for BlockMap {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_map().entries(self.iter()).finish()
    }
}

impl BlockMap {
    /// How many entries are held: the chunks' lengths summed.
    pub(super) fn len(&self) -> usize {
        self.chunks.iter().map(|chunk| chunk.len).sum()
    }

    /// Whether no entry is held (no chunk is then allocated, or only the
    /// one a holding kept after its tree emptied).
    pub(super) fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// The index of the first chunk whose largest key is at or above `key`
    /// (the number of chunks when none is).
    fn chunk_of(&self, key: u64) -> usize {
        if self.fences.len() <= FENCES_INLINE {
            // Counted, as in a chunk: independent loads of adjacent lines.
            self.fences
                .iter()
                .map(|&fence| usize::from(fence < key))
                .sum()
        } else {
            self.fences.partition_point(|&fence| fence < key)
        }
    }

    /// The entry `(key, value)` with the least key at or above `key`.
    pub(super) fn first_at_or_after(&self, key: u64) -> Option<(u64, u64)> {
        let chunk = self.chunks.get(self.chunk_of(key))?;
        let position = chunk.position_of(key);
        Some((chunk.entries[position].key, chunk.entries[position].value))
    }

    /// The entry with the least key.
    pub(super) fn first(&self) -> Option<(u64, u64)> {
        self.chunks
            .front()
            .map(|chunk| (chunk.entries[0].key, chunk.entries[0].value))
    }

    /// Every entry `(key, value)` in key order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.chunks
            .iter()
            .flat_map(|chunk| chunk.entries().iter().map(|entry| (entry.key, entry.value)))
    }

    /// Sets `key -> value`; returns the value it replaced, if any.
    pub(super) fn insert(&mut self, key: u64, value: u64) -> Option<u64> {
        if self.chunks.is_empty() {
            // One chunk's room, not the four the deque's growth starts
            // with: most trees hold a few blocks (docs/benchmarks.md).
            self.chunks.reserve_exact(1);
            self.chunks.push_back(Chunk::of(key, value));
            self.fences.push(key);
            return None;
        }
        // Above every key: the last chunk takes it.
        let index = self.chunk_of(key).min(self.chunks.len() - 1);
        let chunk = &mut self.chunks[index];
        let position = chunk.position_of(key);
        if position < chunk.len && chunk.entries[position].key == key {
            return Some(std::mem::replace(&mut chunk.entries[position].value, value));
        }
        self.insert_new(index, key, value);
        None
    }

    /// Inserts `key`, not held, into chunk `index`: the first whose largest
    /// key is at or above it, or the last chunk when none is.
    fn insert_new(&mut self, mut index: usize, key: u64, value: u64) {
        let mut position = self.chunks[index].position_of(key);
        if self.chunks[index].is_full() {
            if index + 1 == self.chunks.len() && position == CHUNK_CAPACITY {
                // Appending in key order fills chunks instead of halving them.
                self.chunks.push_back(Chunk::of(key, value));
                self.fences.push(key);
                return;
            }
            self.split(index);
            if key > self.fences[index] {
                index += 1;
            }
            position = self.chunks[index].position_of(key);
        }
        self.chunks[index].insert_at(position, key, value);
        self.fences[index] = self.fences[index].max(key);
    }

    /// Places the block `start..=end` (key `end`, value `start`), none of
    /// whose serials is held, merged with the block ending at `start - 1`
    /// and the one starting at `end + 1`; returns the merged `(first, last)`.
    /// One search finds both neighbours; a merge changes a key or a value in
    /// place (a key can change in place: no key lies between the neighbours).
    pub(super) fn place(&mut self, start: u64, end: u64) -> (u64, u64) {
        if self.chunks.is_empty() {
            self.insert(end, start);
            return (start, end);
        }
        let index = self.chunk_of(start);
        let next = self.chunks.get(index).map(|chunk| {
            let position = chunk.position_of(start);
            (
                index,
                position,
                chunk.entries[position].key,
                chunk.entries[position].value,
            )
        });
        let previous = match next {
            Some((_, position, _, _)) if position > 0 => Some((index, position - 1)),
            _ => index
                .checked_sub(1)
                .map(|before| (before, self.chunks[before].len - 1)),
        };
        let joins_previous = previous.filter(|&(at, position)| {
            start.checked_sub(1) == Some(self.chunks[at].entries[position].key)
        });
        let joins_next =
            next.filter(|&(_, _, _, next_start)| end.checked_add(1) == Some(next_start));
        match (joins_previous, joins_next) {
            (None, None) => {
                self.insert_new(index.min(self.chunks.len() - 1), end, start);
                (start, end)
            }
            (None, Some((at, position, next_end, _))) => {
                self.chunks[at].entries[position].value = start;
                (start, next_end)
            }
            (Some((at, position)), None) => {
                self.chunks[at].entries[position].key = end;
                self.fences[at] = self.fences[at].max(end);
                (self.chunks[at].entries[position].value, end)
            }
            (Some((at, position)), Some((next_at, next_position, next_end, _))) => {
                let first = self.chunks[at].entries[position].value;
                self.chunks[next_at].entries[next_position].value = first;
                self.remove(start - 1);
                (first, next_end)
            }
        }
    }

    /// Splits the full chunk `index` in two halves.
    fn split(&mut self, index: usize) {
        let upper = self.chunks[index].split_off_upper_half();
        self.fences.insert(index + 1, upper.last_key());
        self.fences[index] = self.chunks[index].last_key();
        self.chunks.insert(index + 1, upper);
    }

    /// Removes `key`; returns its value, if it was held.
    pub(super) fn remove(&mut self, key: u64) -> Option<u64> {
        let index = self.chunk_of(key);
        let chunk = self.chunks.get_mut(index)?;
        let position = chunk.position_of(key);
        if chunk.entries[position].key != key {
            return None;
        }
        let value = chunk.remove_at(position);
        if chunk.len == 0 {
            self.chunks.remove(index);
            self.fences.remove(index);
        } else {
            self.fences[index] = chunk.last_key();
            self.merge_if_sparse(index);
        }
        Some(value)
    }

    /// Removes the entry with the least key, returning it: from the first
    /// chunk, without a search.
    pub(super) fn pop_first(&mut self) -> Option<(u64, u64)> {
        let chunk = self.chunks.front_mut()?;
        let key = chunk.entries[0].key;
        let value = chunk.remove_at(0);
        if chunk.len == 0 {
            self.chunks.pop_front();
            self.fences.remove(0);
        } else {
            self.merge_if_sparse(0);
        }
        Some((key, value))
    }

    /// Sets the value of the entry with the least key, if any.
    pub(super) fn set_first_value(&mut self, value: u64) {
        if let Some(chunk) = self.chunks.front_mut() {
            chunk.entries[0].value = value;
        }
    }

    /// Merges chunk `index`, when it is at most a quarter full, with a
    /// neighbour when the two together fill at most half a chunk, so
    /// removals cannot leave many near-empty chunks (and push the fences
    /// out of the holding).
    fn merge_if_sparse(&mut self, index: usize) {
        // Only a chunk a quarter full or less reads its neighbour's line.
        if self.chunks[index].len > CHUNK_CAPACITY / 4 {
            return;
        }
        let lower = if index + 1 < self.chunks.len() {
            index
        } else if index > 0 {
            index - 1
        } else {
            return;
        };
        if self.chunks[lower].len + self.chunks[lower + 1].len > CHUNK_CAPACITY / 2 {
            return;
        }
        let Some(upper) = self.chunks.remove(lower + 1) else {
            return;
        };
        self.chunks[lower].append(&upper);
        self.fences.remove(lower + 1);
        self.fences[lower] = upper.last_key();
    }

    /// Checks the map's own invariants: no chunk empty, keys strictly
    /// increasing across chunks, fences the chunks' largest keys.
    pub(super) fn check(&self) -> Result<(), String> {
        if self.fences.len() != self.chunks.len() {
            return Err(format!(
                "{} fences for {} chunks",
                self.fences.len(),
                self.chunks.len()
            ));
        }
        let mut previous: Option<u64> = None;
        for (chunk, &fence) in self.chunks.iter().zip(&self.fences) {
            if chunk.len == 0 || chunk.last_key() != fence {
                return Err(format!("a chunk of {} is not fenced by {fence}", chunk.len));
            }
            for key in chunk.entries().iter().map(|entry| entry.key) {
                if previous.is_some_and(|previous| previous >= key) {
                    return Err(format!("key {key} is not above the previous key"));
                }
                previous = Some(key);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        // Goal: the chunked map answers exactly as a B-tree map under any mix
        // of inserts (new keys and replaced values, in and out of order, so
        // chunks fill, split and are appended), removals (held and not, so
        // chunks empty and merge), removals of the least key, and searches.
        #[test]
        fn answers_as_a_btree_map(
            operations in proptest::collection::vec((0u8..5, 0u64..3_000, any::<u64>()), 1..1_500),
            ascending_first in 0u64..200,
        ) {
            let mut map = BlockMap::default();
            let mut model = BTreeMap::new();
            for key in 0..ascending_first {
                prop_assert_eq!(map.insert(key * 7, key), model.insert(key * 7, key));
            }
            for (operation, key, value) in operations {
                match operation {
                    0 | 1 => prop_assert_eq!(map.insert(key, value), model.insert(key, value)),
                    2 => prop_assert_eq!(map.remove(key), model.remove(&key)),
                    3 => prop_assert_eq!(map.pop_first(), model.pop_first()),
                    _ => {}
                }
                map.check().map_err(TestCaseError::fail)?;
                prop_assert_eq!(map.len(), model.len());
                prop_assert_eq!(
                    map.first_at_or_after(key),
                    model.range(key..).next().map(|(&k, &v)| (k, v))
                );
                prop_assert_eq!(map.first(), model.first_key_value().map(|(&k, &v)| (k, v)));
            }
            prop_assert!(map.iter().eq(model.iter().map(|(&k, &v)| (k, v))));
        }
    }

    proptest! {
        // Goal: placing serials one at a time, in any order, leaves exactly
        // the maximal runs of the serials placed (a block joins the one
        // ending just before it, the one starting just after it, or both,
        // across chunk boundaries too).
        #[test]
        fn placing_leaves_the_runs_of_the_serials_placed(
            serials in proptest::collection::vec(0u64..600, 1..500),
        ) {
            let mut map = BlockMap::default();
            let mut model = std::collections::BTreeSet::new();
            for serial in serials {
                if !model.insert(serial) {
                    continue;
                }
                let (first, last) = map.place(serial, serial);
                prop_assert!(first <= serial && serial <= last);
                map.check().map_err(TestCaseError::fail)?;
                let mut runs: Vec<(u64, u64)> = Vec::new();
                for &held in &model {
                    match runs.last_mut() {
                        Some(run) if run.0 + 1 == held => run.0 = held,
                        _ => runs.push((held, held)),
                    }
                }
                prop_assert_eq!(map.iter().collect::<Vec<_>>(), runs);
            }
        }
    }

    #[test]
    fn a_chunk_fills_four_cache_lines() {
        // Goal: the layout the search relies on (its length and fifteen
        // entries in four lines, starting on a line) stays so.
        assert_eq!(std::mem::size_of::<Chunk>(), 4 * 64);
        assert_eq!(std::mem::align_of::<Chunk>(), 64);
    }

    #[test]
    fn keys_at_the_ends_of_the_range_are_held() {
        // Goal: 0 and u64::MAX are keys like any other (a block may end at
        // either), at the edges of chunks and of the map.
        let mut map = BlockMap::default();
        for key in (0..100).chain([u64::MAX, u64::MAX - 1]) {
            assert_eq!(map.insert(key, key / 2), None);
        }
        assert_eq!(
            map.first_at_or_after(u64::MAX),
            Some((u64::MAX, u64::MAX / 2))
        );
        assert_eq!(
            map.first_at_or_after(100),
            Some((u64::MAX - 1, (u64::MAX - 1) / 2))
        );
        assert_eq!(map.first(), Some((0, 0)));
        assert_eq!(map.remove(u64::MAX), Some(u64::MAX / 2));
        assert_eq!(map.remove(u64::MAX), None);
        map.check().unwrap();
    }
}
