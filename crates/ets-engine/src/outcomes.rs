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
//!
//! Every remembered value is in the ring (an id of `older` too: the B-tree
//! holds its slot number), and each slot names its requester, so the ring
//! in the order inserted is also the order in which requests leave the
//! window: [`OutcomeTable::expire_oldest_while`] forgets from its front, and
//! the window keeps no queue of its own. The engine inserts in applied order
//! (a decoded snapshot's requests in the order of their stamps,
//! [`OutcomeTable::in_applied_order`]).

mod slots;

use crate::retention::RequestKey;
use ets_model::{ParticipantId, RequestId};
use ets_registry::DenseIndex;
use slots::Slots;
use std::collections::{BTreeMap, VecDeque};
use std::marker::PhantomData;

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
/// slots. The two never hold the same id. `highest` is the id of the last
/// slot of `recent` (kept here so that a fresh id reads no ring memory);
/// `floor` is the highest id that left the window, once any has.
#[derive(Debug, Clone)]
struct Ids<V> {
    recent: VecDeque<u64>,
    highest: Option<RequestId>,
    older: BTreeMap<RequestId, u64>,
    floor: Option<RequestId>,
    /// The values live in the table's `slots`.
    values: PhantomData<V>,
}

impl<V> Default for Ids<V> {
    fn default() -> Self {
        Ids {
            recent: VecDeque::new(),
            highest: None,
            older: BTreeMap::new(),
            floor: None,
            values: PhantomData,
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

    /// The slot of `id`, if held.
    fn sequence(&self, slots: &Slots<V>, id: RequestId) -> Option<u64> {
        match self.position(slots, id) {
            Some(position) => Some(self.recent[position]),
            None if self.older.is_empty() => None,
            None => self.older.get(&id).copied(),
        }
    }

    fn get<'a>(&self, slots: &'a Slots<V>, id: RequestId) -> Option<&'a V> {
        Some(slots.value(self.sequence(slots, id)?))
    }

    fn get_mut<'a>(&self, slots: &'a mut Slots<V>, id: RequestId) -> Option<&'a mut V> {
        let sequence = self.sequence(slots, id)?;
        Some(slots.value_mut(sequence))
    }

    /// Remembers `value` under `id` (not held) in the next slot, named for
    /// the requester at `requester`: the slot appended to `recent` when `id`
    /// is above every id there, else kept in `older`.
    fn insert_new(&mut self, slots: &mut Slots<V>, requester: u32, id: RequestId, value: V) {
        let sequence = slots.push(id, requester, value);
        if self.is_above_recent(id) {
            self.recent.push_back(sequence);
            self.highest = Some(id);
        } else {
            self.older.insert(id, sequence);
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
            None => {
                let sequence = self.older.remove(&id)?;
                slots.take(sequence)
            }
        }
    }

    /// Every (id, slot) in ascending id order: the two sorted parts merged.
    fn sequences<'a>(&'a self, slots: &'a Slots<V>) -> impl Iterator<Item = (RequestId, u64)> {
        merge(
            self.recent
                .iter()
                .map(|&sequence| (slots.id(sequence), sequence)),
            self.older.iter().map(|(id, sequence)| (*id, *sequence)),
        )
    }

    /// Every (id, value) in ascending id order.
    fn iter<'a>(&'a self, slots: &'a Slots<V>) -> impl Iterator<Item = (RequestId, &'a V)> {
        self.sequences(slots)
            .map(|(id, sequence)| (id, slots.value(sequence)))
    }

    /// Calls `visit` with every (id, value) in ascending id order, to change
    /// the values (rare: retention set or restored; it lists the slots first).
    fn for_each_mut(&self, slots: &mut Slots<V>, mut visit: impl FnMut(RequestId, &mut V)) {
        let order: Vec<(RequestId, u64)> = self.sequences(slots).collect();
        for (id, sequence) in order {
            visit(id, slots.value_mut(sequence));
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

/// A requester's position as the dense index and the ring's slots store it.
/// More than `u32::MAX` requesters cannot be reached (each is a registered
/// participant); reaching it is a bug that stops the machine rather than a
/// position stored wrong.
fn stored_position(position: usize) -> u32 {
    let Ok(stored) = u32::try_from(position) else {
        panic!("requester position {position} does not fit the outcome table's u32 positions");
    };
    stored
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
        self.positions
            .insert(requester.0, stored_position(position));
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
        let ids = &self.by_requester[position as usize].1;
        ids.get_mut(&mut self.slots, key.1)
    }

    /// Remembers `value` under `key`; returns the value it replaces.
    pub(crate) fn insert(&mut self, key: RequestKey, value: V) -> Option<V> {
        let position = self.position_of(key.0);
        let ids = &mut self.by_requester[position].1;
        if let Some(held) = ids.get_mut(&mut self.slots, key.1) {
            return Some(std::mem::replace(held, value));
        }
        ids.insert_new(&mut self.slots, stored_position(position), key.1, value);
        self.len += 1;
        None
    }

    /// Forgets `key`, which left the window, and raises its requester's
    /// floor to its id: from then on the id is [`Lookup::Expired`]. Returns
    /// the value it held.
    #[cfg(test)]
    fn expire(&mut self, key: &RequestKey) -> Option<V> {
        let position = self.position_of(key.0);
        let ids = &mut self.by_requester[position].1;
        ids.floor = ids.floor.max(Some(key.1));
        let removed = ids.remove(&mut self.slots, key.1)?;
        self.len -= 1;
        Some(removed)
    }

    /// Forgets the oldest remembered requests (in the order inserted) while
    /// `is_due` says so of the oldest one's value, raising each one's
    /// requester's floor as [`OutcomeTable::expire`] does; stops at the
    /// first that is not due. The engine inserts in applied order, so this
    /// is the retention window's expiry (one look at the ring's front when
    /// nothing is due).
    pub(crate) fn expire_oldest_while(&mut self, mut is_due: impl FnMut(&V) -> bool) {
        while let Some(sequence) = self.slots.oldest() {
            if !is_due(self.slots.value(sequence)) {
                return;
            }
            let id = self.slots.id(sequence);
            let position = self.slots.requester(sequence) as usize;
            let ids = &mut self.by_requester[position].1;
            ids.floor = ids.floor.max(Some(id));
            let removed = ids.remove(&mut self.slots, id);
            assert!(
                removed.is_some(),
                "the oldest outcome slot {sequence} is not remembered by its requester"
            );
            self.len -= 1;
        }
    }

    /// The same table, its values inserted again in ascending order of
    /// `applied_at` (ties in key order), with the same floors: so that
    /// [`OutcomeTable::expire_oldest_while`] meets them in that order (a
    /// decoded snapshot's values arrive in key order).
    pub(crate) fn in_applied_order(mut self, applied_at: impl Fn(&V) -> u64) -> Self {
        let floors: Vec<_> = self.floors().collect();
        let mut pairs = Vec::with_capacity(self.len);
        for (requester, ids) in &self.by_requester {
            pairs.extend(
                ids.sequences(&self.slots)
                    .map(|(id, sequence)| ((*requester, id), sequence)),
            );
        }
        let mut values: Vec<(u64, RequestKey, V)> = pairs
            .into_iter()
            .map(|(key, sequence)| {
                let Some(value) = self.slots.take(sequence) else {
                    panic!("outcome slot {sequence} was listed twice");
                };
                (applied_at(&value), key, value)
            })
            .collect();
        values.sort_unstable_by_key(|(stamp, key, _)| (*stamp, *key));
        let mut table: OutcomeTable<V> = values
            .into_iter()
            .map(|(_, key, value)| (key, value))
            .collect();
        for (requester, floor) in floors {
            table.set_floor(requester, floor);
        }
        table
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
            let (requester, ids) = &self.by_requester[position];
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
    /// requests expire oldest first through the ring
    /// (`expire_oldest_while`, as the retention window expires them), the
    /// reference's oldest being the first inserted key still held, or at
    /// random. At the end the table rebuilt in another order
    /// (`in_applied_order`) answers the same and expires in that order.
    fn matches_one_map_of_pairs(steps: &[Step]) -> Result<(), TestCaseError> {
        let mut table = OutcomeTable::default();
        let mut reference: BTreeMap<RequestKey, usize> = BTreeMap::new();
        let mut floors: BTreeMap<ParticipantId, RequestId> = BTreeMap::new();
        let expire = |floors: &mut BTreeMap<ParticipantId, RequestId>, k: RequestKey| {
            let floor = floors.entry(k.0).or_insert(k.1);
            *floor = (*floor).max(k.1);
        };
        // The keys held, in the order first inserted.
        let mut applied: Vec<RequestKey> = Vec::new();
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
                let replaced = reference.insert(k, number);
                prop_assert_eq!(table.insert(k, number), replaced);
                if replaced.is_none() {
                    applied.push(k);
                }
            } else if operation == 8 {
                // Exactly the oldest one is due.
                let mut due = 1;
                table.expire_oldest_while(|_| {
                    due -= 1;
                    due == 0
                });
                if !applied.is_empty() {
                    let oldest = applied.remove(0);
                    reference.remove(&oldest);
                    expire(&mut floors, oldest);
                }
            } else {
                prop_assert_eq!(table.expire(&k), reference.remove(&k));
                applied.retain(|held| *held != k);
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
            floors.iter().map(|(r, f)| (*r, *f)).collect::<Vec<_>>()
        );
        matches_after_reordering(table, &reference, &floors)
    }

    /// The end of [`matches_one_map_of_pairs`]: rebuilt in descending order
    /// of value (ties in key order), the table holds the same pairs and
    /// floors, and expires in that order.
    fn matches_after_reordering(
        table: OutcomeTable<usize>,
        reference: &BTreeMap<RequestKey, usize>,
        floors: &BTreeMap<ParticipantId, RequestId>,
    ) -> Result<(), TestCaseError> {
        let mut table = table.in_applied_order(|value| u64::MAX - *value as u64);
        let ours: Vec<_> = table.iter().map(|(k, v)| (k, *v)).collect();
        let theirs: Vec<_> = reference.iter().map(|(k, v)| (*k, *v)).collect();
        prop_assert_eq!(ours, theirs);
        prop_assert_eq!(
            table.floors().collect::<Vec<_>>(),
            floors.iter().map(|(r, f)| (*r, *f)).collect::<Vec<_>>()
        );
        let mut expected: Vec<(u64, RequestKey)> = reference
            .iter()
            .map(|(k, v)| (u64::MAX - *v as u64, *k))
            .collect();
        expected.sort_unstable();
        let mut order = Vec::new();
        while table.len() > 0 {
            let mut taken = None;
            table.expire_oldest_while(|value| {
                let first = taken.is_none();
                taken.get_or_insert(*value);
                first
            });
            order.push(taken);
        }
        let expected_values: Vec<_> = expected
            .iter()
            .map(|(_, k)| reference.get(k).copied())
            .collect();
        prop_assert_eq!(order, expected_values);
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
