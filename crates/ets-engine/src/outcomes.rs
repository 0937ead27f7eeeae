//! The idempotency table: the first outcome of every remembered request,
//! keyed by (requester, request id), iterated in that key order (the order
//! the canonical state encoding writes).
//!
//! Kept as one B-tree of request ids per requester inside a B-tree of
//! requesters, not as one B-tree of pairs: a lookup then searches the small
//! tree of requesters (which stays in the cache) and one requester's ids,
//! instead of descending a tree of every remembered request, which cost a
//! cache miss per level and was the largest single cost of replaying a
//! transfer (docs/benchmarks.md). Still a B-tree, never a hash map: a hash
//! map rehashes everything when it grows, which stalled single commands.

use crate::retention::RequestKey;
use ets_model::{ParticipantId, RequestId};
use std::collections::BTreeMap;

/// Values by (requester, request id), in key order.
#[derive(Debug, Clone)]
pub(crate) struct OutcomeTable<V> {
    by_requester: BTreeMap<ParticipantId, BTreeMap<RequestId, V>>,
    len: usize,
}

impl<V> Default for OutcomeTable<V> {
    fn default() -> Self {
        OutcomeTable {
            by_requester: BTreeMap::new(),
            len: 0,
        }
    }
}

impl<V> OutcomeTable<V> {
    /// The value of `key`, if remembered.
    pub(crate) fn get(&self, key: &RequestKey) -> Option<&V> {
        self.by_requester.get(&key.0)?.get(&key.1)
    }

    /// The value of `key`, if remembered, to change it.
    pub(crate) fn get_mut(&mut self, key: &RequestKey) -> Option<&mut V> {
        self.by_requester.get_mut(&key.0)?.get_mut(&key.1)
    }

    /// Remembers `value` under `key`; returns the value it replaces.
    pub(crate) fn insert(&mut self, key: RequestKey, value: V) -> Option<V> {
        let replaced = self
            .by_requester
            .entry(key.0)
            .or_default()
            .insert(key.1, value);
        if replaced.is_none() {
            self.len += 1;
        }
        replaced
    }

    /// Forgets `key`; a requester with nothing left remembered leaves too,
    /// so the table does not grow with the number of requesters ever seen.
    pub(crate) fn remove(&mut self, key: &RequestKey) -> Option<V> {
        let ids = self.by_requester.get_mut(&key.0)?;
        let removed = ids.remove(&key.1)?;
        if ids.is_empty() {
            self.by_requester.remove(&key.0);
        }
        self.len -= 1;
        Some(removed)
    }

    /// How many requests are remembered.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Every (key, value), in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (RequestKey, &V)> {
        self.by_requester.iter().flat_map(|(&requester, ids)| {
            ids.iter()
                .map(move |(&request_id, value)| ((requester, request_id), value))
        })
    }

    /// Every (key, value), in key order, to change the values.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (RequestKey, &mut V)> {
        self.by_requester.iter_mut().flat_map(|(&requester, ids)| {
            ids.iter_mut()
                .map(move |(&request_id, value)| ((requester, request_id), value))
        })
    }

    /// Every value, in key order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.by_requester.values().flat_map(BTreeMap::values)
    }
}

impl<V> FromIterator<(RequestKey, V)> for OutcomeTable<V> {
    /// Later values of a key replace earlier ones, as a map's `collect` does.
    fn from_iter<I: IntoIterator<Item = (RequestKey, V)>>(pairs: I) -> Self {
        let mut table = OutcomeTable::default();
        for (key, value) in pairs {
            table.insert(key, value);
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(requester: u64, request: u64) -> RequestKey {
        (ParticipantId(requester), RequestId(request))
    }

    #[test]
    fn iterates_in_the_order_of_one_map_of_pairs_and_counts_what_it_holds() {
        // Goal: the canonical encoding writes the table in (requester,
        // request id) order; the nested table must give exactly the order
        // and contents of the single B-tree it replaced.
        let mut table = OutcomeTable::default();
        let mut reference = BTreeMap::new();
        let mut state = 7_u64;
        for step in 0..2_000_u64 {
            state = mix(state);
            let k = key(state % 13, (state >> 8) % 97);
            if step % 3 == 2 {
                assert_eq!(table.remove(&k), reference.remove(&k));
            } else {
                assert_eq!(table.insert(k, step), reference.insert(k, step));
            }
            assert_eq!(table.len(), reference.len());
        }
        let ours: Vec<_> = table.iter().map(|(k, v)| (k, *v)).collect();
        let theirs: Vec<_> = reference.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(ours, theirs);
        let values: Vec<_> = table.values().copied().collect();
        assert_eq!(values, reference.values().copied().collect::<Vec<_>>());
        for (k, v) in &reference {
            assert_eq!(table.get(k), Some(v));
        }
        assert_eq!(table.get(&key(99, 1)), None);
    }

    #[test]
    fn a_requester_with_nothing_remembered_leaves_the_table() {
        let mut table = OutcomeTable::default();
        table.insert(key(1, 1), ());
        table.insert(key(2, 1), ());
        assert_eq!(table.remove(&key(1, 1)), Some(()));
        assert_eq!(table.by_requester.len(), 1);
        assert_eq!(table.remove(&key(1, 1)), None);
        assert_eq!(table.len(), 1);
    }

    /// A small deterministic mixer for the test's keys.
    fn mix(state: u64) -> u64 {
        let z = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB)
    }
}
