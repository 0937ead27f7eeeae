//! The idempotency table: the first outcome of every remembered request,
//! keyed by (requester, request id), iterated in that key order (the order
//! the canonical state encoding writes).
//!
//! The outcomes are kept in one ring in the order they were inserted
//! (`slots`: for the engine, applied order), so remembering a fresh request
//! writes the next slot of one sequential ring, which grows a chunk at a
//! time and never moves what it holds; each requester keeps only the
//! sequence numbers of its slots (8 bytes a request, not the outcome).
//!
//! A lookup finds the requester's entry by its id ([`DenseIndex`]: an index
//! into a vector for the usual ids numbered from 1, a hash probe for sparse
//! ones) and then looks at that requester's ids. Those are kept for the usual
//! case, in which each requester's request ids rise (under bounded retention
//! they must, docs/memory.md): a ring of slot numbers in ascending order of
//! their ids, to which a fresh, higher id's slot is appended and from whose
//! front the oldest leaves, with the highest id held copied into the
//! requester's entry. Looking up a fresh id is then one comparison in the
//! entry (no ring memory read), inserting it one append to each ring,
//! expiring the oldest one pop, instead of a descent of a B-tree per
//! operation (docs/benchmarks.md). An id that arrives below the highest one
//! held goes to a B-tree of its own (`older`), searched only when it holds
//! anything, so any order of ids gives the same answers as one map.
//! Iteration sorts the requesters first, so the order (and the state
//! encoding) is that of the B-trees this replaced.
//!
//! Under bounded retention (docs/memory.md) each requester's entry also
//! keeps its floor, the highest request id that left the window, so one
//! probe of the requesters answers both "remembered?" and "expired?", and
//! one probe forgets an expired request and raises the floor.

mod slots;

use crate::retention::RequestKey;
use ets_model::{ParticipantId, RequestId};
use ets_registry::DenseIndex;
use slots::Slots;
use std::collections::{BTreeMap, VecDeque};

/// Values by (requester, request id), iterated in key order.
#[derive(Debug, Clone)]
pub(crate) struct OutcomeTable<V> {
    /// Every requester seen, with its ids, in the order first seen; never removed.
    by_requester: Vec<(ParticipantId, Ids<V>)>,
    /// The position of each requester in `by_requester`.
    positions: DenseIndex,
    /// The values of every requester's `recent` ids, in the order inserted.
    slots: Slots<V>,
    len: usize,
}

/// What the table knows of a request id.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lookup<'a, V> {
    /// Remembered, with its value.
    Remembered(&'a V),
    /// Not remembered, and at or below its requester's floor: it may have
    /// been applied before it left the window.
    Expired,
    /// Never seen (as far as the window can tell).
    Unknown,
}

/// One requester's remembered ids: `recent` the slots (in the table's
/// `slots`) of ids in ascending order (every id appended was above the ids
/// held there then), `older` the ids that arrived below them, with their
/// values. The two never hold the same id. `highest` is the id of the last
/// slot of `recent` (kept here so that a fresh id reads no ring memory);
/// `floor` is the highest id that left the window, once any has.
#[derive(Debug, Clone)]
struct Ids<V> {
    recent: VecDeque<u64>,
    highest: Option<RequestId>,
    older: BTreeMap<RequestId, V>,
    floor: Option<RequestId>,
}

impl<V> Default for Ids<V> {
    fn default() -> Self {
        Ids {
            recent: VecDeque::new(),
            highest: None,
            older: BTreeMap::new(),
            floor: None,
        }
    }
}

impl<V> Ids<V> {
    /// Whether `id` is above every id of `recent` (or `recent` is empty).
    fn is_above_recent(&self, id: RequestId) -> bool {
        self.highest.is_none_or(|highest| id > highest)
    }

    /// The position of `id` in `recent`, if held there.
    fn position(&self, slots: &Slots<V>, id: RequestId) -> Option<usize> {
        // The common question, a fresh id above every id held, needs no search.
        if self.is_above_recent(id) {
            return None;
        }
        self.recent
            .binary_search_by_key(&id, |&sequence| slots.id(sequence))
            .ok()
    }

    fn get<'a>(&'a self, slots: &'a Slots<V>, id: RequestId) -> Option<&'a V> {
        match self.position(slots, id) {
            Some(position) => Some(slots.value(self.recent[position])),
            None if self.older.is_empty() => None,
            None => self.older.get(&id),
        }
    }

    fn get_mut<'a>(&'a mut self, slots: &'a mut Slots<V>, id: RequestId) -> Option<&'a mut V> {
        match self.position(slots, id) {
            Some(position) => Some(slots.value_mut(self.recent[position])),
            None if self.older.is_empty() => None,
            None => self.older.get_mut(&id),
        }
    }

    /// Remembers `value` under `id` (not held): appended when above every
    /// id in `recent`, else kept in `older`.
    fn insert_new(&mut self, slots: &mut Slots<V>, id: RequestId, value: V) {
        if self.is_above_recent(id) {
            self.recent.push_back(slots.push(id, value));
            self.highest = Some(id);
        } else {
            self.older.insert(id, value);
        }
    }

    fn remove(&mut self, slots: &mut Slots<V>, id: RequestId) -> Option<V> {
        // Requests leave in the order they were applied, and the ids of
        // `recent` were applied in ascending order: the front is the usual one.
        if let Some(&oldest) = self.recent.front()
            && slots.id(oldest) == id
        {
            self.recent.pop_front();
            if self.recent.is_empty() {
                self.highest = None;
            }
            return slots.take(oldest);
        }
        match self.position(slots, id) {
            Some(position) => {
                let sequence = self.recent.remove(position)?;
                self.highest = self.recent.back().map(|&highest| slots.id(highest));
                slots.take(sequence)
            }
            None => self.older.remove(&id),
        }
    }

    /// Every (id, value) in ascending id order: the two sorted parts merged.
    fn iter<'a>(&'a self, slots: &'a Slots<V>) -> impl Iterator<Item = (RequestId, &'a V)> {
        merge(
            self.recent
                .iter()
                .map(|&sequence| (slots.id(sequence), slots.value(sequence))),
            self.older.iter().map(|(id, value)| (*id, value)),
        )
    }

    /// Calls `visit` with every (id, value) in ascending id order, to change the values.
    fn for_each_mut(&mut self, slots: &mut Slots<V>, mut visit: impl FnMut(RequestId, &mut V)) {
        let mut recent = self.recent.iter().copied().peekable();
        let mut older = self.older.iter_mut().peekable();
        loop {
            let next_recent = recent.peek().map(|&sequence| slots.id(sequence));
            let next_older = older.peek().map(|(id, _)| **id);
            match (next_recent, next_older) {
                (Some(id), Some(older_id)) if older_id < id => {}
                (Some(id), _) => {
                    if let Some(sequence) = recent.next() {
                        visit(id, slots.value_mut(sequence));
                    }
                    continue;
                }
                (None, None) => return,
                (None, Some(_)) => {}
            }
            if let Some((id, value)) = older.next() {
                visit(*id, value);
            }
        }
    }
}

/// Two iterators ascending by id, with no id in both, merged into one.
fn merge<T>(
    first: impl Iterator<Item = (RequestId, T)>,
    second: impl Iterator<Item = (RequestId, T)>,
) -> impl Iterator<Item = (RequestId, T)> {
    let mut first = first.peekable();
    let mut second = second.peekable();
    std::iter::from_fn(move || match (first.peek(), second.peek()) {
        (Some((a, _)), Some((b, _))) if b < a => second.next(),
        (Some(_), _) => first.next(),
        (None, _) => second.next(),
    })
}

impl<V> Default for OutcomeTable<V> {
    fn default() -> Self {
        OutcomeTable {
            by_requester: Vec::new(),
            positions: DenseIndex::default(),
            slots: Slots::default(),
            len: 0,
        }
    }
}

impl<V> OutcomeTable<V> {
    /// The ids of `requester`, if it was ever seen.
    fn ids(&self, requester: ParticipantId) -> Option<&Ids<V>> {
        let position = self.positions.get(requester.0)?;
        Some(&self.by_requester[position as usize].1)
    }

    /// The position of `requester` in `by_requester`, an empty entry added
    /// if it was never seen.
    fn position_of(&mut self, requester: ParticipantId) -> usize {
        if let Some(position) = self.positions.get(requester.0) {
            return position as usize;
        }
        let position = self.by_requester.len();
        let stored = u32::try_from(position).unwrap_or(u32::MAX);
        self.positions.insert(requester.0, stored);
        self.by_requester.push((requester, Ids::default()));
        position
    }

    /// The value of `key`, if remembered (the engine asks [`OutcomeTable::lookup`]).
    #[cfg(test)]
    fn get(&self, key: &RequestKey) -> Option<&V> {
        self.ids(key.0)?.get(&self.slots, key.1)
    }

    /// Whether `key` is remembered, expired or unknown, with one search of
    /// the requesters.
    pub(crate) fn lookup(&self, key: &RequestKey) -> Lookup<'_, V> {
        let Some(ids) = self.ids(key.0) else {
            return Lookup::Unknown;
        };
        match ids.get(&self.slots, key.1) {
            Some(value) => Lookup::Remembered(value),
            None if ids.floor.is_some_and(|floor| key.1 <= floor) => Lookup::Expired,
            None => Lookup::Unknown,
        }
    }

    /// The value of `key`, if remembered, to change it.
    pub(crate) fn get_mut(&mut self, key: &RequestKey) -> Option<&mut V> {
        let position = self.positions.get(key.0.0)?;
        let ids = &mut self.by_requester[position as usize].1;
        ids.get_mut(&mut self.slots, key.1)
    }

    /// Remembers `value` under `key`; returns the value it replaces.
    pub(crate) fn insert(&mut self, key: RequestKey, value: V) -> Option<V> {
        let position = self.position_of(key.0);
        let ids = &mut self.by_requester[position].1;
        if let Some(held) = ids.get_mut(&mut self.slots, key.1) {
            return Some(std::mem::replace(held, value));
        }
        ids.insert_new(&mut self.slots, key.1, value);
        self.len += 1;
        None
    }

    /// Forgets `key`, which left the window, and raises its requester's
    /// floor to its id: from then on the id is [`Lookup::Expired`]. Returns
    /// the value it held.
    pub(crate) fn expire(&mut self, key: &RequestKey) -> Option<V> {
        let position = self.position_of(key.0);
        let ids = &mut self.by_requester[position].1;
        ids.floor = ids.floor.max(Some(key.1));
        let removed = ids.remove(&mut self.slots, key.1)?;
        self.len -= 1;
        Some(removed)
    }

    /// Every requester's floor, in requester order.
    pub(crate) fn floors(&self) -> impl Iterator<Item = (ParticipantId, RequestId)> + '_ {
        self.requester_order().into_iter().filter_map(|position| {
            let (requester, ids) = &self.by_requester[position];
            Some((*requester, ids.floor?))
        })
    }

    /// The positions in `by_requester` of every requester, in requester
    /// order (sorted here: they are kept in the order first seen).
    fn requester_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.by_requester.len()).collect();
        order.sort_unstable_by_key(|&position| self.by_requester[position].0);
        order
    }

    /// Sets the floor of `requester` (restoring a snapshot).
    pub(crate) fn set_floor(&mut self, requester: ParticipantId, floor: RequestId) {
        let position = self.position_of(requester);
        self.by_requester[position].1.floor = Some(floor);
    }

    /// How many requests are remembered.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Every (key, value), in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (RequestKey, &V)> {
        self.requester_order().into_iter().flat_map(|position| {
            let (requester, ids) = &self.by_requester[position];
            let requester = *requester;
            ids.iter(&self.slots)
                .map(move |(request_id, value)| ((requester, request_id), value))
        })
    }

    /// Calls `visit` with every (key, value), in key order, to change the values.
    pub(crate) fn for_each_mut(&mut self, mut visit: impl FnMut(RequestKey, &mut V)) {
        for position in self.requester_order() {
            let (requester, ids) = &mut self.by_requester[position];
            let requester = *requester;
            ids.for_each_mut(&mut self.slots, |request_id, value| {
                visit((requester, request_id), value);
            });
        }
    }

    /// Every value, in key order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.iter().map(|(_, value)| value)
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
    use proptest::prelude::*;

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
                assert_eq!(table.expire(&k), reference.remove(&k));
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
    fn an_id_at_or_below_the_floor_and_not_remembered_is_expired() {
        let mut table = OutcomeTable::default();
        table.insert(key(1, 5), ());
        table.insert(key(1, 7), ());
        assert_eq!(table.lookup(&key(1, 5)), Lookup::Remembered(&()));
        assert_eq!(table.expire(&key(1, 5)), Some(()));
        assert_eq!(table.lookup(&key(1, 5)), Lookup::Expired);
        assert_eq!(table.lookup(&key(1, 3)), Lookup::Expired);
        assert_eq!(table.lookup(&key(1, 6)), Lookup::Unknown);
        assert_eq!(table.lookup(&key(1, 7)), Lookup::Remembered(&()));
        assert_eq!(table.lookup(&key(2, 1)), Lookup::Unknown);
        assert_eq!(table.len(), 1);
        // The requester keeps its floor when nothing is left remembered.
        assert_eq!(table.expire(&key(1, 7)), Some(()));
        assert_eq!(table.len(), 0);
        assert_eq!(
            table.floors().collect::<Vec<_>>(),
            vec![(ParticipantId(1), RequestId(7))]
        );
        assert_eq!(table.iter().count(), 0);
    }

    /// One step of [`matches_one_map_of_pairs`]: (operation, requester, id offset).
    type Step = (u8, u64, u64);

    /// Runs `steps` on the table and on one B-tree of pairs with a B-tree of
    /// floors (the structures it replaced), comparing every answer, the
    /// length, the floors and the key order. Ids mostly rise per requester
    /// (a step adds `offset` to its highest), sometimes go back below it;
    /// requests expire in the order they were applied, as the retention
    /// window expires them, or at random.
    fn matches_one_map_of_pairs(steps: &[Step]) -> Result<(), TestCaseError> {
        let mut table = OutcomeTable::default();
        let mut reference: BTreeMap<RequestKey, usize> = BTreeMap::new();
        let mut floors: BTreeMap<ParticipantId, RequestId> = BTreeMap::new();
        let expire = |floors: &mut BTreeMap<ParticipantId, RequestId>, k: RequestKey| {
            let floor = floors.entry(k.0).or_insert(k.1);
            *floor = (*floor).max(k.1);
        };
        let mut applied: VecDeque<RequestKey> = VecDeque::new();
        let mut highest: BTreeMap<u64, u64> = BTreeMap::new();
        for (number, &(operation, requester, offset)) in steps.iter().enumerate() {
            let top = highest.entry(requester).or_insert(0);
            let k = match operation {
                // Usually a fresh, higher id; sometimes a lower or a repeated one.
                0..=5 => {
                    *top += offset;
                    key(requester, *top)
                }
                6 => key(requester, top.saturating_sub(offset)),
                _ => key(requester, *top),
            };
            let expected = match reference.get(&k) {
                Some(value) => Lookup::Remembered(value),
                None if floors.get(&k.0).is_some_and(|&floor| k.1 <= floor) => Lookup::Expired,
                None => Lookup::Unknown,
            };
            prop_assert_eq!(table.lookup(&k), expected);
            if operation <= 7 {
                prop_assert_eq!(table.get(&k), reference.get(&k));
                prop_assert_eq!(table.insert(k, number), reference.insert(k, number));
                applied.push_back(k);
            } else if operation == 8 {
                if let Some(oldest) = applied.pop_front() {
                    prop_assert_eq!(table.expire(&oldest), reference.remove(&oldest));
                    expire(&mut floors, oldest);
                }
            } else {
                prop_assert_eq!(table.expire(&k), reference.remove(&k));
                expire(&mut floors, k);
            }
            if let Some(value) = table.get_mut(&k) {
                *value += 1;
                *reference.get_mut(&k).expect("the reference holds it too") += 1;
            }
            prop_assert_eq!(table.len(), reference.len());
        }
        let ours: Vec<_> = table.iter().map(|(k, v)| (k, *v)).collect();
        let theirs: Vec<_> = reference.iter().map(|(k, v)| (*k, *v)).collect();
        prop_assert_eq!(ours, theirs);
        table.for_each_mut(|k, value| *value += k.1.0 as usize);
        for (k, value) in &mut reference {
            *value += k.1.0 as usize;
        }
        let values: Vec<_> = table.values().copied().collect();
        prop_assert_eq!(values, reference.values().copied().collect::<Vec<_>>());
        prop_assert_eq!(
            table.floors().collect::<Vec<_>>(),
            floors.into_iter().collect::<Vec<_>>()
        );
        Ok(())
    }

    proptest! {
        // Goal: whatever order the ids arrive and leave in, the table answers
        // every lookup, insert and removal exactly as one B-tree of
        // (requester, request id) pairs would, and iterates in its key order:
        // so an id is found while remembered (never executed twice) and the
        // state encoding is unchanged.
        #[test]
        fn answers_as_one_map_of_pairs(
            steps in proptest::collection::vec((0u8..10, 0u64..4, 0u64..5), 1..400),
        ) {
            matches_one_map_of_pairs(&steps)?;
        }
    }

    /// A small deterministic mixer for the test's keys.
    fn mix(state: u64) -> u64 {
        let z = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB)
    }
}
