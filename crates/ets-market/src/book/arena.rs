//! The resting orders of a book in one vector of slots, reused through a
//! free list. Each slot links to the previous and next order of its price
//! level (an intrusive FIFO list), so an order is unlinked from the middle
//! of its level in constant time and nothing allocates per order once the
//! vector has grown.

use super::Resting;
use super::ladder::{Level, NIL};
use crate::order::Side;
use ets_model::Price;

/// A resting order, where it rests, and its neighbours in time priority.
#[derive(Debug, Clone, Copy)]
pub(super) struct Node {
    pub(super) order: Resting,
    pub(super) side: Side,
    pub(super) price: Price,
    /// The order just ahead in the level, [`NIL`] at the head.
    pub(super) prev: u32,
    /// The order just behind in the level, [`NIL`] at the tail.
    pub(super) next: u32,
}

/// The slots and the free ones.
#[derive(Debug, Clone, Default)]
pub(super) struct Arena {
    nodes: Vec<Node>,
    free: Vec<u32>,
}

impl Arena {
    /// Slots in use.
    pub(super) fn live(&self) -> usize {
        self.nodes.len() - self.free.len()
    }

    pub(super) fn get(&self, slot: u32) -> &Node {
        &self.nodes[slot as usize]
    }

    pub(super) fn get_mut(&mut self, slot: u32) -> &mut Node {
        &mut self.nodes[slot as usize]
    }

    /// Stores `order` at the back of `level` and returns its slot. The book's
    /// order limit (a `u32`) keeps the slot count below [`NIL`].
    pub(super) fn push_back(&mut self, level: &mut Level, order: Resting, side: Side) -> u32 {
        let node = Node {
            order,
            side,
            price: level.price,
            prev: level.tail,
            next: NIL,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.nodes[slot as usize] = node;
                slot
            }
            None => {
                let slot = u32::try_from(self.nodes.len()).unwrap_or(NIL);
                self.nodes.push(node);
                slot
            }
        };
        match level.tail {
            NIL => level.head = slot,
            tail => self.nodes[tail as usize].next = slot,
        }
        level.tail = slot;
        level.count += 1;
        slot
    }

    /// Unlinks the order at `slot` from `level` and frees its slot; the
    /// level's open total is the caller's.
    pub(super) fn remove(&mut self, level: &mut Level, slot: u32) {
        let Node { prev, next, .. } = self.nodes[slot as usize];
        match prev {
            NIL => level.head = next,
            prev => self.nodes[prev as usize].next = next,
        }
        match next {
            NIL => level.tail = prev,
            next => self.nodes[next as usize].prev = prev,
        }
        level.count -= 1;
        self.free.push(slot);
    }

    /// The slots of `level`'s orders in time priority.
    pub(super) fn slots<'a>(&'a self, level: &Level) -> Slots<'a> {
        Slots {
            arena: self,
            next: level.head,
            left: level.count,
        }
    }

    pub(super) fn clear(&mut self) {
        self.nodes.clear();
        self.free.clear();
    }
}

/// Iterator over one level's slots; it stops after the level's count, so a
/// broken list cannot loop forever.
pub(super) struct Slots<'a> {
    arena: &'a Arena,
    next: u32,
    left: u32,
}

impl Iterator for Slots<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        if self.next == NIL || self.left == 0 {
            return None;
        }
        let slot = self.next;
        self.left -= 1;
        self.next = self.arena.nodes.get(slot as usize).map_or(NIL, |n| n.next);
        Some(slot)
    }
}
