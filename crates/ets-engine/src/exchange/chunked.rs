//! [`Chunked`]: a double-ended queue stored in fixed-size chunks, for the
//! trade log. A `Vec` or `VecDeque` that doubles copies every element it
//! holds each time it grows: at a million trades that is a copy of tens of
//! megabytes inside one command, a stall of milliseconds. Here a push at
//! most allocates one new chunk, and dropping from the front frees whole
//! chunks.

use std::collections::VecDeque;

/// Elements per chunk (a power of two, so the index arithmetic is shifts).
const CHUNK: usize = 1 << 10;

/// A queue of `T` in chunks of [`CHUNK`]: every chunk but the last is full,
/// and the first `head` elements of the first chunk were dropped.
#[derive(Debug, Clone)]
pub(super) struct Chunked<T> {
    chunks: VecDeque<Vec<T>>,
    /// Elements dropped from the front of the first chunk.
    head: usize,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Chunked<T> {
        Chunked {
            chunks: VecDeque::new(),
            head: 0,
            len: 0,
        }
    }
}

impl<T> Chunked<T> {
    /// How many elements it holds.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds nothing.
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `value`, allocating a new chunk when the last one is full.
    pub(super) fn push_back(&mut self, value: T) {
        match self.chunks.back_mut() {
            Some(last) if last.len() < CHUNK => last.push(value),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(value);
                self.chunks.push_back(chunk);
            }
        }
        self.len += 1;
    }

    /// Drops the first element; frees its chunk once every element of it
    /// was dropped.
    pub(super) fn pop_front(&mut self) -> bool {
        if self.len == 0 {
            return false;
        }
        self.head += 1;
        self.len -= 1;
        // Every chunk but the last is full, so a used-up first chunk is
        // either full or the only one, now empty.
        if self
            .chunks
            .front()
            .is_some_and(|front| self.head == front.len())
        {
            self.chunks.pop_front();
            self.head = 0;
        }
        true
    }

    /// The element at `index` from the front.
    pub(super) fn get(&self, index: usize) -> Option<&T> {
        if index >= self.len {
            return None;
        }
        let at = index + self.head;
        self.chunks.get(at / CHUNK)?.get(at % CHUNK)
    }

    /// The first element.
    pub(super) fn front(&self) -> Option<&T> {
        self.get(0)
    }

    /// The last element.
    pub(super) fn back(&self) -> Option<&T> {
        self.len.checked_sub(1).and_then(|last| self.get(last))
    }

    /// Every element, front to back.
    pub(super) fn iter(&self) -> Iter<'_, T> {
        self.iter_from(0)
    }

    /// The elements from `index` (counted from the front) on, without
    /// walking the ones before it.
    pub(super) fn iter_from(&self, index: usize) -> Iter<'_, T> {
        let index = index.min(self.len);
        let at = index + self.head;
        let mut chunks = self.chunks.range(at / CHUNK..);
        let front = chunks
            .next()
            .map_or(&[][..], |first| &first[(at % CHUNK).min(first.len())..]);
        Iter {
            chunks,
            front: front.iter(),
            back: [].iter(),
            remaining: self.len - index,
        }
    }
}

impl<T: PartialEq> PartialEq for Chunked<T> {
    fn eq(&self, other: &Chunked<T>) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<T: Eq> Eq for Chunked<T> {}

impl<T> FromIterator<T> for Chunked<T> {
    fn from_iter<I: IntoIterator<Item = T>>(values: I) -> Chunked<T> {
        let mut chunked = Chunked::default();
        for value in values {
            chunked.push_back(value);
        }
        chunked
    }
}

/// The elements of a [`Chunked`], front to back (or back to front).
#[derive(Debug, Clone)]
pub struct Iter<'a, T> {
    chunks: std::collections::vec_deque::Iter<'a, Vec<T>>,
    /// What is left of the chunk being read from the front.
    front: std::slice::Iter<'a, T>,
    /// What is left of the chunk being read from the back.
    back: std::slice::Iter<'a, T>,
    remaining: usize,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        loop {
            if let Some(value) = self.front.next() {
                self.remaining -= 1;
                return Some(value);
            }
            match self.chunks.next() {
                Some(chunk) => self.front = chunk.iter(),
                None => {
                    let value = self.back.next()?;
                    self.remaining -= 1;
                    return Some(value);
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<T> DoubleEndedIterator for Iter<'_, T> {
    fn next_back(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(value) = self.back.next_back() {
                self.remaining -= 1;
                return Some(value);
            }
            match self.chunks.next_back() {
                Some(chunk) => self.back = chunk.iter(),
                None => {
                    let value = self.front.next_back()?;
                    self.remaining -= 1;
                    return Some(value);
                }
            }
        }
    }
}

impl<T> ExactSizeIterator for Iter<'_, T> {}

impl<T> std::iter::FusedIterator for Iter<'_, T> {}

#[cfg(test)]
mod tests {
    use super::{CHUNK, Chunked};
    use std::collections::VecDeque;

    /// Applies the same pushes and pops to a `Chunked` and a `VecDeque`
    /// and checks that every read agrees.
    fn agree(chunked: &Chunked<u64>, model: &VecDeque<u64>) {
        assert_eq!(chunked.len(), model.len());
        assert_eq!(chunked.is_empty(), model.is_empty());
        assert!(chunked.iter().eq(model.iter()));
        assert!(chunked.iter().rev().eq(model.iter().rev()));
        assert_eq!(chunked.iter().len(), model.len());
        assert_eq!(chunked.front(), model.front());
        assert_eq!(chunked.back(), model.back());
        for index in [
            0,
            1,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            model.len(),
            model.len() + 1,
        ] {
            assert_eq!(chunked.get(index), model.get(index), "index {index}");
            assert!(chunked.iter_from(index).eq(model.iter().skip(index)));
            assert!(
                chunked
                    .iter_from(index)
                    .rev()
                    .eq(model.iter().skip(index).rev())
            );
        }
    }

    #[test]
    fn pushes_and_pops_across_chunks_read_as_a_deque() {
        // Goal: every read of the chunked queue equals a VecDeque's after
        // pushes and front pops that cross chunk edges, empty it and refill it.
        let mut chunked = Chunked::default();
        let mut model = VecDeque::new();
        let mut next = 0_u64;
        for (pushes, pops) in [
            (5, 2),
            (CHUNK, 3),
            (2 * CHUNK + 7, CHUNK),
            (0, 2 * CHUNK + 7),
            (3, 0),
        ] {
            for _ in 0..pushes {
                chunked.push_back(next);
                model.push_back(next);
                next += 1;
            }
            agree(&chunked, &model);
            for _ in 0..pops {
                assert_eq!(chunked.pop_front(), model.pop_front().is_some());
                agree(&chunked, &model);
            }
        }
        assert!(!Chunked::<u64>::default().clone().pop_front());
    }

    #[test]
    fn mixed_iteration_from_both_ends_meets_in_the_middle() {
        // Goal: alternating next and next_back visits every element once.
        let chunked: Chunked<u64> = (0..(3 * CHUNK as u64 + 5)).collect();
        let mut iter = chunked.iter();
        let mut seen = Vec::new();
        while let Some(front) = iter.next() {
            seen.push(*front);
            let Some(back) = iter.next_back() else { break };
            seen.push(*back);
        }
        seen.sort_unstable();
        assert!(seen.iter().copied().eq(0..(3 * CHUNK as u64 + 5)));
    }

    #[test]
    fn fully_dropped_chunks_are_freed() {
        // Goal: pruning the front frees memory chunk by chunk.
        let mut chunked: Chunked<u64> = (0..(2 * CHUNK as u64)).collect();
        for _ in 0..CHUNK {
            chunked.pop_front();
        }
        assert_eq!(chunked.chunks.len(), 1);
        assert_eq!(chunked.head, 0);
        assert_eq!(chunked.front(), Some(&(CHUNK as u64)));
    }
}
