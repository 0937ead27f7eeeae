//! The trade records the engine keeps: every one by default, or, once
//! bounded retention is set (docs/memory.md), those settled within the last
//! window of commands. Trades are final when settled; the history database
//! holds every one.

use super::chunked::{Chunked, Iter};
use super::net_sales::NetSales;
use super::state::TradeRecord;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Trade records in id order (ids run from 1 without gaps), kept in chunks
/// so that recording a trade never copies the ones before it.
///
/// Encoded as the sequence of retained records: exactly the encoding of the
/// `Vec<TradeRecord>` it replaced, so unbounded states hash as before. The
/// retention bookkeeping is encoded by the engine ([`TradeRetention`]).
#[derive(Debug, Clone, Default)]
pub struct TradeLog {
    records: Chunked<TradeRecord>,
    /// The id the next trade gets.
    next_id: u64,
    /// The window, in commands, once retention is bounded.
    window: Option<u64>,
    /// The number of the command being applied.
    stamp: u64,
    /// Per retained record (same order), the command it settled in; kept only when bounded.
    stamps: Chunked<u64>,
    /// Net sales over every trade ever settled, retained or not.
    net_sales: NetSales,
}

/// What the engine encodes of a bounded trade log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeRetention {
    /// The id the next trade gets.
    pub next_id: u64,
    /// Per retained record, in order, the command number it settled in.
    pub stamps: Vec<u64>,
}

impl TradeLog {
    /// How many trades were ever settled (the last id given).
    #[must_use]
    pub fn count(&self) -> u64 {
        self.next_id.max(1) - 1
    }

    /// How many trade records are retained (all of them, unless bounded).
    #[must_use]
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no trade record is retained.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// A retained trade by id.
    #[must_use]
    pub fn get(&self, id: u64) -> Option<&TradeRecord> {
        let first = self.records.front()?.id;
        let index = usize::try_from(id.checked_sub(first)?).ok()?;
        self.records.get(index)
    }

    /// Retained trades, in id order.
    pub fn iter(&self) -> Iter<'_, TradeRecord> {
        self.records.iter()
    }

    /// Retained trades with ids from `first` on.
    pub fn starting_at(&self, first: u64) -> impl DoubleEndedIterator<Item = &TradeRecord> {
        let skip = self
            .records
            .front()
            .map_or(0, |front| first.saturating_sub(front.id));
        self.records
            .iter_from(usize::try_from(skip).unwrap_or(usize::MAX))
    }

    /// The last trade, if retained.
    #[must_use]
    pub fn last(&self) -> Option<&TradeRecord> {
        self.records.back()
    }

    /// Net sales per account and class over every trade ever settled.
    #[must_use]
    pub fn net_sales(&self) -> &NetSales {
        &self.net_sales
    }

    /// Replaces the net sales (decoded, or derived from the records).
    pub(crate) fn set_net_sales(&mut self, net_sales: NetSales) {
        self.net_sales = net_sales;
    }

    /// Whether the log holds every trade ever settled (none dropped by retention).
    #[must_use]
    pub fn holds_every_trade(&self) -> bool {
        self.records.front().map_or(1, |first| first.id) == 1
            && self.records.len() as u64 == self.count()
    }

    /// Records a settled trade of units of `class_index`, numbering it and
    /// counting it in the net sales; returns its id.
    pub(super) fn push(&mut self, mut record: TradeRecord, class_index: u32) -> u64 {
        self.net_sales
            .record(class_index, record.seller, record.buyer, record.quantity);
        let id = self.next_id.max(1);
        record.id = id;
        self.next_id = id + 1;
        self.records.push_back(record);
        if self.window.is_some() {
            self.stamps.push_back(self.stamp);
        }
        id
    }

    /// Sets the number of the command being applied.
    pub(crate) fn set_stamp(&mut self, stamp: u64) {
        self.stamp = stamp;
    }

    /// Bounds retention to `window` commands; trades already settled leave a window from now.
    pub(crate) fn bound(&mut self, window: u64) {
        if self.window.is_none() {
            self.stamps = std::iter::repeat_n(self.stamp, self.records.len()).collect();
        }
        self.window = Some(window);
    }

    /// Drops trades settled a whole window before the current command.
    pub(crate) fn prune(&mut self) -> usize {
        let Some(window) = self.window else {
            return 0;
        };
        let mut pruned = 0;
        while let Some(&settled_at) = self.stamps.front() {
            if settled_at.saturating_add(window) > self.stamp {
                break;
            }
            self.stamps.pop_front();
            self.records.pop_front();
            pruned += 1;
        }
        pruned
    }

    /// The bookkeeping the engine encodes once retention is bounded.
    pub(crate) fn retention(&self) -> TradeRetention {
        TradeRetention {
            next_id: self.next_id.max(1),
            stamps: self.stamps.iter().copied().collect(),
        }
    }

    /// Restores the bookkeeping of a decoded bounded log.
    ///
    /// # Errors
    /// When the stamps do not match the records.
    pub(crate) fn restore(&mut self, window: u64, retention: TradeRetention) -> Result<(), ()> {
        if retention.stamps.len() != self.records.len() {
            return Err(());
        }
        self.window = Some(window);
        self.next_id = retention.next_id;
        self.stamps = retention.stamps.into_iter().collect();
        Ok(())
    }
}

/// Equal when they retain the same trades under the same bookkeeping; the
/// number of the command being applied is not state.
impl PartialEq for TradeLog {
    fn eq(&self, other: &TradeLog) -> bool {
        self.records == other.records
            && self.next_id.max(1) == other.next_id.max(1)
            && self.window == other.window
            && self.stamps == other.stamps
            && self.net_sales == other.net_sales
    }
}

impl Eq for TradeLog {}

impl<'a> IntoIterator for &'a TradeLog {
    type Item = &'a TradeRecord;
    type IntoIter = Iter<'a, TradeRecord>;

    fn into_iter(self) -> Self::IntoIter {
        self.records.iter()
    }
}

impl Serialize for TradeLog {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.records.iter())
    }
}

impl<'de> Deserialize<'de> for TradeLog {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TradeLog, D::Error> {
        let records = Vec::<TradeRecord>::deserialize(deserializer)?;
        let next_id = records.last().map_or(1, |last| last.id + 1);
        Ok(TradeLog {
            records: records.into_iter().collect(),
            next_id,
            ..TradeLog::default()
        })
    }
}
