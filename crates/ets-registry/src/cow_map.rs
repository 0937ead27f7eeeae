//! Copy-on-write pieces of the registry. The engine applies a command that touches
//! many accounts on a scratch copy of the registry and keeps the copy only when every
//! step succeeded; with plain collections that copy cost a deep clone of every
//! account, participant and transaction ever made, per command. [`CowMap`] keeps the
//! transactions (by id) in chunks of consecutive keys shared between clones, and
//! [`shared_vec`] encodes the accounts and participants held as `Vec<Arc<T>>`: a
//! clone costs one reference count per chunk or item, and a change copies only the
//! chunk or item it touches, once.
//!
//! The keys are dense in practice (transaction ids are numbered from 1 in
//! order), so a chunk is a vector of slots indexed by the key's low bits and
//! the chunks a deque in key order, found by position: recording the next
//! transaction is an index computation and a slot write, not a B-tree
//! search and insert (docs/bench-market.md, "The transaction record"). Sparse
//! keys (pruned history, a subset such as the reversible transactions) still
//! work: only chunks holding a key exist, and a chunk not at its dense position
//! is found by binary search.

use std::collections::VecDeque;
use std::sync::Arc;

/// Keys per chunk, as a shift: chunk `k` holds keys `k << SHIFT .. (k + 1) << SHIFT`.
const SHIFT: u32 = 8;

/// Slots per chunk.
const SLOTS: usize = 1 << SHIFT;

/// The slot of a key within its chunk.
fn slot_of(key: u64) -> usize {
    // The mask keeps the value below SLOTS, so the cast is exact.
    (key & (SLOTS as u64 - 1)) as usize
}

/// Up to [`SLOTS`] consecutive keys' values; at least one present.
#[derive(Clone)]
struct Chunk<V> {
    /// The value of key `(number << SHIFT) + i` at `i`; absent past the end.
    slots: Vec<Option<V>>,
    /// How many slots hold a value.
    present: usize,
}

impl<V> Chunk<V> {
    /// A chunk holding only `value` at `slot`. It reserves every slot at once:
    /// keys arrive in order, so the chunk fills without growing.
    fn holding(slot: usize, value: V) -> Chunk<V> {
        let mut slots = Vec::with_capacity(SLOTS);
        slots.resize_with(slot, || None);
        slots.push(Some(value));
        Chunk { slots, present: 1 }
    }

    /// The value at `slot`.
    fn get(&self, slot: usize) -> Option<&V> {
        self.slots.get(slot)?.as_ref()
    }

    /// Puts `value` at `slot`; returns the value it replaced.
    fn put(&mut self, slot: usize, value: V) -> Option<V> {
        if slot >= self.slots.len() {
            // Past the end (the next key in order, usually): appended, no replace.
            self.slots.resize_with(slot, || None);
            self.slots.push(Some(value));
            self.present += 1;
            return None;
        }
        let before = self.slots[slot].replace(value);
        if before.is_none() {
            self.present += 1;
        }
        before
    }

    /// Takes the value at `slot` out.
    fn take(&mut self, slot: usize) -> Option<V> {
        let taken = self.slots.get_mut(slot)?.take();
        if taken.is_some() {
            self.present -= 1;
        }
        taken
    }

    /// `(key, value)` of every present slot of chunk `number`, in key order.
    fn entries(&self, number: u64) -> impl DoubleEndedIterator<Item = (u64, &V)> {
        let base = number << SHIFT;
        self.slots
            .iter()
            .enumerate()
            .filter_map(move |(slot, value)| Some((base + slot as u64, value.as_ref()?)))
    }
}

/// An ordered map from `u64` to `V`, cheap to clone (see the module).
#[derive(Clone)]
pub(crate) struct CowMap<V> {
    /// `(chunk number, chunk)` of every chunk holding a key, in number order.
    chunks: VecDeque<(u64, Arc<Chunk<V>>)>,
    len: usize,
}

impl<V> Default for CowMap<V> {
    fn default() -> CowMap<V> {
        CowMap {
            chunks: VecDeque::new(),
            len: 0,
        }
    }
}

impl<V> CowMap<V> {
    /// The position of chunk `number` in the deque, or where it would go.
    fn position(&self, number: u64) -> Result<usize, usize> {
        let count = self.chunks.len();
        let Some(&(last, _)) = self.chunks.back() else {
            return Err(0);
        };
        // The next key in order lands in the last chunk or a new one after it.
        if number == last {
            return Ok(count - 1);
        }
        if number > last {
            return Err(count);
        }
        let Some(&(first, _)) = self.chunks.front() else {
            return Err(0);
        };
        // Dense keys: chunk `number` sits `number - first` places from the front.
        if let Some(offset) = number.checked_sub(first)
            && let Ok(offset) = usize::try_from(offset)
            && self.chunks.get(offset).is_some_and(|&(at, _)| at == number)
        {
            return Ok(offset);
        }
        self.chunks.binary_search_by_key(&number, |&(at, _)| at)
    }
}

impl<V: Clone> CowMap<V> {
    /// The value at `key`.
    pub(crate) fn get(&self, key: u64) -> Option<&V> {
        let position = self.position(key >> SHIFT).ok()?;
        self.chunks[position].1.get(slot_of(key))
    }

    /// Whether `key` is present.
    pub(crate) fn contains_key(&self, key: u64) -> bool {
        self.get(key).is_some()
    }

    /// Puts `value` at `key`; returns the value it replaced.
    pub(crate) fn insert(&mut self, key: u64, value: V) -> Option<V> {
        let number = key >> SHIFT;
        let before = match self.position(number) {
            Ok(position) => Arc::make_mut(&mut self.chunks[position].1).put(slot_of(key), value),
            Err(position) => {
                let chunk = Arc::new(Chunk::holding(slot_of(key), value));
                self.chunks.insert(position, (number, chunk));
                None
            }
        };
        if before.is_none() {
            self.len += 1;
        }
        before
    }

    /// Takes the value at `key` out.
    pub(crate) fn remove(&mut self, key: u64) -> Option<V> {
        let position = self.position(key >> SHIFT).ok()?;
        let chunk = &mut self.chunks[position].1;
        chunk.get(slot_of(key))?; // no copy of a shared chunk for nothing
        let chunk = Arc::make_mut(chunk);
        let removed = chunk.take(slot_of(key));
        if chunk.present == 0 {
            self.chunks.remove(position);
        }
        self.len -= 1;
        removed
    }

    /// How many keys are present.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Every `(key, value)`, in key order.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = (u64, &V)> {
        self.chunks
            .iter()
            .flat_map(|(number, chunk)| chunk.entries(*number))
    }

    /// Every value, in key order.
    pub(crate) fn values(&self) -> impl DoubleEndedIterator<Item = &V> {
        self.iter().map(|(_, value)| value)
    }

    /// Every key, in order.
    pub(crate) fn keys(&self) -> impl DoubleEndedIterator<Item = u64> + '_ {
        self.iter().map(|(key, _)| key)
    }

    /// The values at `first` and after, in key order.
    pub(crate) fn values_from(&self, first: u64) -> impl DoubleEndedIterator<Item = &V> {
        let start = self
            .position(first >> SHIFT)
            .unwrap_or_else(|position| position);
        self.chunks
            .range(start..)
            .flat_map(|(number, chunk)| chunk.entries(*number))
            .filter(move |(key, _)| *key >= first)
            .map(|(_, value)| value)
    }

    /// The largest key.
    pub(crate) fn last_key(&self) -> Option<u64> {
        let (number, chunk) = self.chunks.back()?;
        chunk.entries(*number).next_back().map(|(key, _)| key)
    }
}

impl<V: Clone + PartialEq> PartialEq for CowMap<V> {
    fn eq(&self, other: &CowMap<V>) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<V: Clone + Eq> Eq for CowMap<V> {}

impl<V: Clone + std::fmt::Debug> std::fmt::Debug for CowMap<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<V: Clone> FromIterator<(u64, V)> for CowMap<V> {
    fn from_iter<I: IntoIterator<Item = (u64, V)>>(items: I) -> CowMap<V> {
        let mut map = CowMap::default();
        for (key, value) in items {
            map.insert(key, value);
        }
        map
    }
}

/// Serde for a `Vec<Arc<T>>` (items shared copy-on-write between clones), encoded
/// exactly as the `Vec<T>` it replaced, so states encode and hash as before.
pub(crate) mod shared_vec {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::sync::Arc;

    /// Encodes the items as a sequence of `T`.
    pub(crate) fn serialize<S: Serializer, T: Serialize>(
        items: &[Arc<T>],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(items.iter().map(AsRef::as_ref))
    }

    /// Decodes a sequence of `T`.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        deserializer: D,
    ) -> Result<Vec<Arc<T>>, D::Error> {
        Ok(Vec::<T>::deserialize(deserializer)?
            .into_iter()
            .map(Arc::new)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn it_behaves_as_an_ordered_map_across_chunks() {
        let mut map = CowMap::default();
        let mut plain = BTreeMap::new();
        for key in [5u64, 700, 1, 256, 255, 10_000, 257] {
            assert_eq!(map.insert(key, key * 2), plain.insert(key, key * 2));
        }
        assert_eq!(map.insert(700, 1), plain.insert(700, 1));
        assert_eq!(map.remove(256), plain.remove(&256));
        assert_eq!(map.remove(256), None);
        assert_eq!(map.remove(9), None);
        assert_eq!(map.len(), plain.len());
        assert!(map.values().copied().eq(plain.values().copied()));
        assert!(
            map.values()
                .rev()
                .copied()
                .eq(plain.values().rev().copied())
        );
        assert!(map.keys().eq(plain.keys().copied()));
        for first in [0u64, 6, 255, 256, 258, 701, 20_000] {
            assert!(
                map.values_from(first)
                    .copied()
                    .eq(plain.range(first..).map(|(_, v)| *v)),
                "from {first}"
            );
        }
        assert_eq!(map.last_key(), plain.keys().next_back().copied());
        assert_eq!(map.get(700), plain.get(&700));
        assert!(map.contains_key(5) && !map.contains_key(6));
    }

    #[test]
    fn a_clone_is_independent_of_its_original() {
        let mut map: CowMap<String> = (0..1_000u64).map(|k| (k, k.to_string())).collect();
        let copy = map.clone();
        map.insert(3, "changed".to_owned());
        map.remove(999);
        map.insert(5_000, "new".to_owned());
        assert_eq!(copy.get(3).map(String::as_str), Some("3"));
        assert_eq!(copy.get(999).map(String::as_str), Some("999"));
        assert_eq!(copy.get(5_000), None);
        assert_eq!((copy.len(), map.len()), (1_000, 1_000));
        assert_ne!(copy, map);
        let mut back = map.clone();
        back.insert(3, "3".to_owned());
        back.insert(999, "999".to_owned());
        back.remove(5_000);
        assert_eq!(back, copy);
    }

    #[test]
    fn random_inserts_and_removes_match_an_ordered_map() {
        // Goal: dense runs, sparse keys, chunks emptied and refilled in the
        // middle, and clones changed afterwards all answer as a B-tree map
        // does (the slot vectors and the deque positions are the new parts).
        let mut seed = 7_u64;
        let mut next = move |bound: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) % bound
        };
        let mut map = CowMap::default();
        let mut plain = BTreeMap::new();
        let mut copies = Vec::new();
        for step in 0..20_000_u64 {
            let key = match next(4) {
                0 => step,                      // dense, in order
                1 => next(3_000),               // dense region, out of order
                2 => next(1 << 40) + 1_000_000, // sparse
                _ => plain
                    .keys()
                    .nth(next(plain.len().max(1) as u64) as usize)
                    .copied()
                    .unwrap_or(0),
            };
            if next(3) == 0 {
                assert_eq!(map.remove(key), plain.remove(&key), "remove {key}");
            } else {
                assert_eq!(
                    map.insert(key, step),
                    plain.insert(key, step),
                    "insert {key}"
                );
            }
            if step % 2_000 == 0 {
                copies.push((map.clone(), plain.clone()));
            }
            assert_eq!(map.get(key), plain.get(&key));
        }
        assert_eq!(map.len(), plain.len());
        assert!(map.iter().eq(plain.iter().map(|(k, v)| (*k, v))));
        assert!(
            map.iter()
                .rev()
                .eq(plain.iter().rev().map(|(k, v)| (*k, v)))
        );
        assert_eq!(map.last_key(), plain.keys().next_back().copied());
        for first in [0_u64, 1, 255, 256, 2_999, 1_000_000, 1 << 39, u64::MAX] {
            assert!(
                map.values_from(first)
                    .eq(plain.range(first..).map(|(_, v)| v))
            );
            assert!(
                map.values_from(first)
                    .rev()
                    .eq(plain.range(first..).rev().map(|(_, v)| v))
            );
        }
        for (copy, expected) in copies {
            assert_eq!(copy.len(), expected.len());
            assert!(copy.iter().eq(expected.iter().map(|(k, v)| (*k, v))));
        }
    }
}
