//! Copy-on-write pieces of the registry. The engine applies a command that touches
//! many accounts on a scratch copy of the registry and keeps the copy only when every
//! step succeeded; with plain collections that copy cost a deep clone of every
//! account, participant and transaction ever made, per command. [`CowMap`] keeps the
//! transactions (by id) in chunks of consecutive keys shared between clones, and
//! [`shared_vec`] encodes the accounts and participants held as `Vec<Arc<T>>`: a
//! clone costs one reference count per chunk or item, and a change copies only the
//! chunk or item it touches, once.

use std::collections::BTreeMap;
use std::sync::Arc;

/// Keys per chunk, as a shift: chunk `k` holds keys `k << SHIFT .. (k + 1) << SHIFT`.
const SHIFT: u32 = 8;

/// An ordered map from `u64` to `V`, cheap to clone (see the module).
#[derive(Clone)]
pub(crate) struct CowMap<V> {
    chunks: BTreeMap<u64, Arc<BTreeMap<u64, V>>>,
    len: usize,
}

impl<V> Default for CowMap<V> {
    fn default() -> CowMap<V> {
        CowMap {
            chunks: BTreeMap::new(),
            len: 0,
        }
    }
}

impl<V: Clone> CowMap<V> {
    /// The value at `key`.
    pub(crate) fn get(&self, key: u64) -> Option<&V> {
        self.chunks.get(&(key >> SHIFT))?.get(&key)
    }

    /// Whether `key` is present.
    pub(crate) fn contains_key(&self, key: u64) -> bool {
        self.get(key).is_some()
    }

    /// Puts `value` at `key`; returns the value it replaced.
    pub(crate) fn insert(&mut self, key: u64, value: V) -> Option<V> {
        let chunk = Arc::make_mut(self.chunks.entry(key >> SHIFT).or_default());
        let before = chunk.insert(key, value);
        if before.is_none() {
            self.len += 1;
        }
        before
    }

    /// Takes the value at `key` out.
    pub(crate) fn remove(&mut self, key: u64) -> Option<V> {
        let index = key >> SHIFT;
        let chunk = self.chunks.get_mut(&index)?;
        if !chunk.contains_key(&key) {
            return None; // no copy of a shared chunk for nothing
        }
        let chunk = Arc::make_mut(chunk);
        let removed = chunk.remove(&key);
        if chunk.is_empty() {
            self.chunks.remove(&index);
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
            .values()
            .flat_map(|chunk| chunk.iter().map(|(key, value)| (*key, value)))
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
        self.chunks
            .range(first >> SHIFT..)
            .flat_map(move |(_, chunk)| chunk.range(first..).map(|(_, value)| value))
    }

    /// The largest key.
    pub(crate) fn last_key(&self) -> Option<u64> {
        self.chunks
            .values()
            .next_back()
            .and_then(|chunk| chunk.keys().next_back().copied())
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
}
