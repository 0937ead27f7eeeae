//! The outcome table's one ring of remembered values in the order they were
//! inserted (for the engine: applied order), kept in fixed chunks.
//!
//! Every fresh request writes the next slot, so the writes are sequential
//! (one fresh cache line after another, which the hardware prefetcher
//! follows), instead of one cold line in the requester's own ring; and the
//! ring grows by a chunk at a time, never by reallocating and copying what
//! it holds. A value taken out leaves an empty slot; the slots before the
//! first one still holding a value are dropped, a chunk at a time.
//!
//! Each slot also names its requester (by its position in the table), so
//! the ring is the retention window's order as well: the oldest remembered
//! request is the ring's front, and expiring follows the ring instead of a
//! second queue of keys (docs/memory.md).

use ets_model::RequestId;
use std::collections::VecDeque;

/// Slots per chunk: 4,096 slots of 64 bytes (an id and a remembered
/// outcome), 256 KiB, small beside a million remembered requests and large
/// enough that a chunk's allocation is rare.
const CHUNK_SLOTS: usize = 4_096;

/// One slot: the request id and its value, `None` once taken.
type Slot<V> = (RequestId, Option<V>);

/// A chunk of at most [`CHUNK_SLOTS`] slots (both vectors allocated whole).
#[derive(Debug, Clone)]
struct Chunk<V> {
    /// The slots.
    slots: Vec<Slot<V>>,
    /// Per slot, its requester's position in the table: beside the slots,
    /// not in them, so that a slot of the engine stays one cache line.
    requesters: Vec<u32>,
}

impl<V> Chunk<V> {
    fn new() -> Chunk<V> {
        Chunk {
            slots: Vec::with_capacity(CHUNK_SLOTS),
            requesters: Vec::with_capacity(CHUNK_SLOTS),
        }
    }
}

/// Values numbered by a sequence number given when pushed, rising from 0.
#[derive(Debug, Clone)]
pub(super) struct Slots<V> {
    /// The chunks, each of at most [`CHUNK_SLOTS`] slots.
    chunks: VecDeque<Chunk<V>>,
    /// The sequence number of the first slot of the first chunk.
    first: u64,
    /// The lowest sequence number that may still hold a value: it holds one
    /// unless it equals `next` (every take moves it past empty slots).
    front: u64,
    /// The sequence number the next pushed value gets.
    next: u64,
}

impl<V> Default for Slots<V> {
    fn default() -> Self {
        Slots {
            chunks: VecDeque::new(),
            first: 0,
            front: 0,
            next: 0,
        }
    }
}

impl<V> Slots<V> {
    /// Stores `value` under `id` of the requester at `requester` in the
    /// next slot; returns its sequence number.
    pub(super) fn push(&mut self, id: RequestId, requester: u32, value: V) -> u64 {
        if self
            .chunks
            .back()
            .is_none_or(|chunk| chunk.slots.len() == CHUNK_SLOTS)
        {
            self.chunks.push_back(Chunk::new());
        }
        if let Some(chunk) = self.chunks.back_mut() {
            chunk.slots.push((id, Some(value)));
            chunk.requesters.push(requester);
        }
        let sequence = self.next;
        self.next += 1;
        sequence
    }

    /// The sequence number of the oldest slot still holding a value, if any.
    pub(super) fn oldest(&self) -> Option<u64> {
        (self.front < self.next).then_some(self.front)
    }

    /// The position of slot `sequence` (chunk, index in it), if held.
    fn place(&self, sequence: u64) -> Option<(usize, usize)> {
        if sequence < self.front || sequence >= self.next {
            return None;
        }
        let offset = usize::try_from(sequence - self.first).ok()?;
        Some((offset / CHUNK_SLOTS, offset % CHUNK_SLOTS))
    }

    /// The chunk and index of slot `sequence`.
    ///
    /// # Panics
    /// When it is not held: the table hands out only sequence numbers it keeps.
    fn held(&self, sequence: u64) -> (usize, usize) {
        let Some(place) = self.place(sequence) else {
            panic!("outcome slot {sequence} is not held");
        };
        place
    }

    /// The slot `sequence` (panics as [`Slots::held`]).
    fn slot(&self, sequence: u64) -> &Slot<V> {
        let (chunk, index) = self.held(sequence);
        &self.chunks[chunk].slots[index]
    }

    /// The slot `sequence`, to change it (panics as [`Slots::held`]).
    fn slot_mut(&mut self, sequence: u64) -> &mut Slot<V> {
        let (chunk, index) = self.held(sequence);
        &mut self.chunks[chunk].slots[index]
    }

    /// The request id stored in slot `sequence`.
    pub(super) fn id(&self, sequence: u64) -> RequestId {
        self.slot(sequence).0
    }

    /// The position of the requester of slot `sequence` (panics as [`Slots::held`]).
    pub(super) fn requester(&self, sequence: u64) -> u32 {
        let (chunk, index) = self.held(sequence);
        self.chunks[chunk].requesters[index]
    }

    /// The value of slot `sequence`.
    ///
    /// # Panics
    /// When it was taken: the table forgets a sequence number when it takes its value.
    pub(super) fn value(&self, sequence: u64) -> &V {
        match &self.slot(sequence).1 {
            Some(value) => value,
            None => panic!("outcome slot {sequence} was read after it was taken"),
        }
    }

    /// The value of slot `sequence`, to change it (panics as [`Slots::value`]).
    pub(super) fn value_mut(&mut self, sequence: u64) -> &mut V {
        match &mut self.slot_mut(sequence).1 {
            Some(value) => value,
            None => panic!("outcome slot {sequence} was changed after it was taken"),
        }
    }

    /// Takes the value of slot `sequence` out, then drops the empty slots at
    /// the front.
    pub(super) fn take(&mut self, sequence: u64) -> Option<V> {
        let taken = self.slot_mut(sequence).1.take();
        self.drop_empty_front();
        taken
    }

    /// Moves the front past empty slots, dropping each chunk it passed whole.
    fn drop_empty_front(&mut self) {
        while self.front < self.next && self.slot(self.front).1.is_none() {
            self.front += 1;
        }
        while self.front - self.first >= CHUNK_SLOTS as u64 {
            self.chunks.pop_front();
            self.first += CHUNK_SLOTS as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_keep_their_values_across_chunks_and_drop_whole_chunks_once_empty() {
        // Goal: a sequence number finds its value whichever chunk holds it,
        // taking values out of order leaves the others readable, and the
        // chunks before the first held value are freed.
        let mut slots = Slots::default();
        let total = CHUNK_SLOTS as u64 * 3 + 5;
        for number in 0..total {
            assert_eq!(slots.push(RequestId(number * 2), 7, number), number);
        }
        assert_eq!(slots.chunks.len(), 4);
        assert_eq!(slots.oldest(), Some(0));
        assert_eq!(slots.requester(total - 1), 7);
        assert_eq!(
            slots.id(CHUNK_SLOTS as u64 + 1),
            RequestId(CHUNK_SLOTS as u64 * 2 + 2)
        );
        // Taken out of order: the front stays until the first slot goes.
        assert_eq!(slots.take(1), Some(1));
        assert_eq!(slots.take(1), None);
        assert_eq!(slots.chunks.len(), 4);
        for number in (0..CHUNK_SLOTS as u64 + 2).filter(|&number| number != 1) {
            assert_eq!(slots.take(number), Some(number));
        }
        assert_eq!(slots.chunks.len(), 3);
        assert_eq!(slots.front, CHUNK_SLOTS as u64 + 2);
        assert_eq!(slots.oldest(), Some(CHUNK_SLOTS as u64 + 2));
        *slots.value_mut(total - 1) += 10;
        assert_eq!(*slots.value(total - 1), total + 9);
        assert_eq!(*slots.value(CHUNK_SLOTS as u64 + 2), CHUNK_SLOTS as u64 + 2);
        assert_eq!(slots.place(0), None);
        assert_eq!(slots.place(total), None);
        for number in CHUNK_SLOTS as u64 + 2..total {
            assert_eq!(
                slots.take(number),
                Some(number + u64::from(number == total - 1) * 10)
            );
        }
        assert_eq!(slots.oldest(), None);
    }
}
