//! Serial blocks: a run of consecutive unit serial numbers. Every issuance
//! creates one block; holdings are sets of blocks; a transfer splits blocks.

use crate::Quantity;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a serial block could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SerialError {
    /// `end` is before `start`.
    #[error("serial block end {end} is before its start {start}")]
    Reversed {
        /// First serial.
        start: u64,
        /// Last serial.
        end: u64,
    },
    /// The block would run past the largest serial number.
    #[error("a block of {quantity} from serial {start} runs past the last serial number")]
    Exhausted {
        /// First serial.
        start: u64,
        /// Requested length.
        quantity: u64,
    },
}

/// Serial numbers `start..=end`, both inclusive; its quantity is
/// `end - start + 1` and never zero. Deserialization goes through
/// [`SerialBlock::try_new`], so a reversed block cannot be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "SerialBlockFields")]
pub struct SerialBlock {
    start: u64,
    end: u64,
}

/// The encoded fields of a [`SerialBlock`], before validation (the same
/// shape, so the encoding is unchanged).
#[derive(Deserialize)]
struct SerialBlockFields {
    start: u64,
    end: u64,
}

impl TryFrom<SerialBlockFields> for SerialBlock {
    type Error = SerialError;

    fn try_from(fields: SerialBlockFields) -> Result<SerialBlock, SerialError> {
        SerialBlock::try_new(fields.start, fields.end)
    }
}

impl SerialBlock {
    /// The block `start..=end`.
    ///
    /// # Errors
    /// [`SerialError::Reversed`] when `end < start`.
    pub const fn try_new(start: u64, end: u64) -> Result<SerialBlock, SerialError> {
        if end < start {
            Err(SerialError::Reversed { start, end })
        } else {
            Ok(SerialBlock { start, end })
        }
    }

    /// The block of `quantity` serials beginning at `start`.
    ///
    /// # Errors
    /// [`SerialError::Exhausted`] when the block would pass `u64::MAX`, or
    /// when `quantity` is zero.
    pub fn starting_at(start: u64, quantity: Quantity) -> Result<SerialBlock, SerialError> {
        let exhausted = SerialError::Exhausted {
            start,
            quantity: quantity.tonnes(),
        };
        let last_offset = quantity.tonnes().checked_sub(1).ok_or(exhausted.clone())?;
        let end = start.checked_add(last_offset).ok_or(exhausted)?;
        Ok(SerialBlock { start, end })
    }

    /// The first serial number.
    #[must_use]
    pub const fn start(self) -> u64 {
        self.start
    }

    /// The last serial number (inclusive).
    #[must_use]
    pub const fn end(self) -> u64 {
        self.end
    }

    /// How many units the block holds: `end - start + 1`.
    #[must_use]
    pub const fn quantity(self) -> Quantity {
        // `end >= start` always holds, and the full range u64 would need
        // 2^64 units, which no issuance can create (serials start at 1).
        Quantity::new(self.end - self.start + 1)
    }

    /// Whether `serial` lies in this block.
    #[must_use]
    pub const fn contains(self, serial: u64) -> bool {
        self.start <= serial && serial <= self.end
    }

    /// Splits off the first `quantity` serials: returns `(head, rest)`, where
    /// `rest` is `None` when the block is taken whole. A `quantity` of zero
    /// or beyond the block returns `None`.
    #[must_use]
    pub fn split_front(self, quantity: Quantity) -> Option<(SerialBlock, Option<SerialBlock>)> {
        let taken = quantity.tonnes();
        if taken == 0 || taken > self.quantity().tonnes() {
            return None;
        }
        let head_end = self.start + (taken - 1);
        let head = SerialBlock {
            start: self.start,
            end: head_end,
        };
        let rest = (head_end < self.end).then(|| SerialBlock {
            start: head_end + 1,
            end: self.end,
        });
        Some((head, rest))
    }
}

impl std::fmt::Display for SerialBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantity_is_end_minus_start_plus_one() {
        let block = SerialBlock::try_new(10, 19).unwrap();
        assert_eq!(block.quantity(), Quantity::new(10));
        assert_eq!(
            SerialBlock::starting_at(10, Quantity::new(10)).unwrap(),
            block
        );
    }

    #[test]
    fn reversed_and_exhausted_blocks_are_refused() {
        assert!(SerialBlock::try_new(5, 4).is_err());
        assert!(SerialBlock::starting_at(u64::MAX, Quantity::new(2)).is_err());
        assert!(SerialBlock::starting_at(1, Quantity::ZERO).is_err());
    }

    #[test]
    fn split_front_takes_the_oldest_serials() {
        let block = SerialBlock::try_new(1, 10).unwrap();
        let (head, rest) = block.split_front(Quantity::new(3)).unwrap();
        assert_eq!((head.start(), head.end()), (1, 3));
        assert_eq!(rest, Some(SerialBlock::try_new(4, 10).unwrap()));
        assert_eq!(block.split_front(Quantity::new(10)), Some((block, None)));
        assert_eq!(block.split_front(Quantity::new(11)), None);
        assert_eq!(block.split_front(Quantity::ZERO), None);
    }
}
