//! One side of the book: its price levels in a vector sorted from the worst
//! price to the best, so the best level is the last one (matching pops it)
//! and a new level near the touch is inserted near the end (a short move).
//! A level's orders are an intrusive FIFO list in the [`Arena`]: adding at
//! the back and removing anywhere take constant time, and no level or order
//! allocates once the vectors have grown.

use crate::order::Side;
use ets_model::Price;

/// "No slot": the end of a list.
pub(super) const NIL: u32 = u32::MAX;

/// The orders at one price: the ends of their list, how many, and their
/// open total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Level {
    pub(super) price: Price,
    pub(super) head: u32,
    pub(super) tail: u32,
    pub(super) count: u32,
    pub(super) open_tonnes: u64,
}

impl Level {
    fn empty(price: Price) -> Level {
        Level {
            price,
            head: NIL,
            tail: NIL,
            count: 0,
            open_tonnes: 0,
        }
    }
}

/// The price levels of one side, worst first, best last.
#[derive(Debug, Clone)]
pub(super) struct Ladder {
    side: Side,
    levels: Vec<Level>,
}

impl Ladder {
    pub(super) fn new(side: Side) -> Ladder {
        Ladder {
            side,
            levels: Vec::new(),
        }
    }

    /// Whether `a` is a strictly better price than `b` on this side.
    pub(super) fn better(&self, a: Price, b: Price) -> bool {
        match self.side {
            Side::Buy => a > b,
            Side::Sell => a < b,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.levels.len()
    }

    pub(super) fn best(&self) -> Option<&Level> {
        self.levels.last()
    }

    pub(super) fn best_mut(&mut self) -> Option<&mut Level> {
        self.levels.last_mut()
    }

    /// Drops the best level (the caller has emptied it).
    pub(super) fn pop_best(&mut self) {
        self.levels.pop();
    }

    /// The position of the level at `price`, or where it would go. Most
    /// calls are near the touch, so the best few levels are tried first.
    pub(super) fn search(&self, price: Price) -> Result<usize, usize> {
        let levels = &self.levels;
        let mut position = levels.len();
        // Up to 4 steps back from the best, then a binary search on the rest.
        for _ in 0..4 {
            if position == 0 {
                return Err(0);
            }
            let level = &levels[position - 1];
            if level.price == price {
                return Ok(position - 1);
            }
            if self.better(price, level.price) {
                return Err(position);
            }
            position -= 1;
        }
        let rest = &levels[..position];
        let at = rest.partition_point(|level| self.better(price, level.price));
        match rest.get(at) {
            Some(level) if level.price == price => Ok(at),
            _ => Err(at),
        }
    }

    pub(super) fn get(&self, price: Price) -> Option<&Level> {
        self.search(price).ok().map(|at| &self.levels[at])
    }

    pub(super) fn at_mut(&mut self, position: usize) -> &mut Level {
        &mut self.levels[position]
    }

    /// The level at `price`, created empty at its place when missing.
    pub(super) fn entry(&mut self, price: Price) -> &mut Level {
        let at = match self.search(price) {
            Ok(at) => at,
            Err(at) => {
                self.levels.insert(at, Level::empty(price));
                at
            }
        };
        &mut self.levels[at]
    }

    /// Removes the level at `position` (the caller has emptied it).
    pub(super) fn remove(&mut self, position: usize) {
        self.levels.remove(position);
    }

    /// How many levels are strictly better than `price`.
    pub(super) fn better_than(&self, price: Price) -> usize {
        let not_better = self
            .levels
            .partition_point(|level| !self.better(level.price, price));
        self.levels.len() - not_better
    }

    /// The levels, best first.
    pub(super) fn best_first(&self) -> impl Iterator<Item = &Level> {
        self.levels.iter().rev()
    }

    /// The levels, worst first.
    pub(super) fn worst_first(&self) -> impl Iterator<Item = &Level> {
        self.levels.iter()
    }

    pub(super) fn clear(&mut self) {
        self.levels.clear();
    }

    /// Appends a level better than every level so far (rebuilding a book
    /// from its snapshot, worst first).
    pub(super) fn push_better(&mut self, level: Level) {
        self.levels.push(level);
    }
}
