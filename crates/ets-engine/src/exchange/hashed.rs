//! The hash maps behind the exchange's hot state (cash balances, order
//! holds) and their encoding. Settlement looks a balance or a hold up
//! several times per fill; a hash map does that without the key comparisons
//! of a B-tree walk. Their iteration order is arbitrary, so every encoding
//! and every visit whose order can be observed goes through the keys in
//! order: the encoded bytes (snapshots, the state hash) are those of the
//! B-tree maps they replaced.

use rustc_hash::FxHashMap;
use serde::ser::{Serialize, Serializer};

/// A hash map keyed by ids (Fx hashing: fast, not keyed, fine for ids the
/// engine assigns or checks itself).
pub(super) type HashedMap<K, V> = FxHashMap<K, V>;

/// The keys of `map`, in order.
pub(super) fn sorted_keys<K: Ord + Copy, V>(map: &HashedMap<K, V>) -> Vec<K> {
    let mut keys: Vec<K> = map.keys().copied().collect();
    keys.sort_unstable();
    keys
}

/// The entries of `map`, in key order.
pub(super) fn sorted_entries<K: Ord, V>(map: &HashedMap<K, V>) -> Vec<(&K, &V)> {
    let mut entries: Vec<(&K, &V)> = map.iter().collect();
    entries.sort_unstable_by(|left, right| left.0.cmp(right.0));
    entries
}

/// Encodes `map` as a map in key order, as a `BTreeMap` encodes (for
/// `#[serde(serialize_with)]`).
///
/// # Errors
/// The serializer's.
pub(super) fn serialize_sorted<K, V, S>(
    map: &HashedMap<K, V>,
    serializer: S,
) -> Result<S::Ok, S::Error>
where
    K: Ord + Serialize,
    V: Serialize,
    S: Serializer,
{
    serializer.collect_map(sorted_entries(map))
}

#[cfg(test)]
mod tests {
    use super::{HashedMap, serialize_sorted, sorted_keys};
    use std::collections::BTreeMap;

    /// A map encoded through [`serialize_sorted`].
    #[derive(serde::Serialize)]
    struct Wrapped(#[serde(serialize_with = "serialize_sorted")] HashedMap<u64, i64>);

    #[test]
    fn a_hashed_map_encodes_exactly_as_the_b_tree_map_it_replaced() {
        // Goal: the state hash does not change with the map type.
        let entries = [(900_u64, 1_i64), (3, -4), (77, 5), (1 << 40, 6), (0, 7)];
        let hashed: HashedMap<u64, i64> = entries.into_iter().collect();
        let ordered: BTreeMap<u64, i64> = entries.into_iter().collect();
        let bytes = postcard::to_stdvec(&Wrapped(hashed.clone())).expect("encodes");
        assert_eq!(bytes, postcard::to_stdvec(&ordered).expect("encodes"));
        let decoded: HashedMap<u64, i64> = postcard::from_bytes(&bytes).expect("decodes");
        assert_eq!(decoded, hashed);
        assert_eq!(
            sorted_keys(&hashed),
            ordered.keys().copied().collect::<Vec<_>>()
        );
    }
}
