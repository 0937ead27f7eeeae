//! The book's serialised form. It is the shape of the book's earlier
//! storage (a `BTreeMap` of price levels per side, each a queue of orders,
//! and an index by order id), kept so that engine snapshots and state hashes
//! are byte for byte what they were; the arena and its links are rebuilt on
//! decoding. Encoding builds this form, so it costs a pass over the book:
//! snapshots are rare, operations are not.

use super::Book;
use super::Resting;
use super::arena::Arena;
use super::ladder::{Ladder, Level, NIL};
use crate::order::{OrderId, Side};
use crate::rules::InstrumentRules;
use ets_model::{AccountId, Price, Timestamp};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{BTreeMap, VecDeque};

/// The book as encoded. Field order and types are the format: do not change.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct BookWire {
    rules: InstrumentRules,
    reference_price: Price,
    bids: BTreeMap<Price, LevelWire>,
    asks: BTreeMap<Price, LevelWire>,
    index: BTreeMap<OrderId, Locator>,
    open_orders: BTreeMap<AccountId, u32>,
    next_order_id: u64,
    next_priority: u64,
    last_time: Timestamp,
}

/// The orders at one price, in time priority, and their open total.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct LevelWire {
    orders: VecDeque<Resting>,
    open_tonnes: u64,
}

/// Where a resting order is.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Locator {
    side: Side,
    price: Price,
    priority: u64,
}

impl Book {
    /// The encoded form of the book.
    pub(super) fn to_wire(&self) -> BookWire {
        let mut index = BTreeMap::new();
        let mut side = |ladder: &Ladder, side: Side| -> BTreeMap<Price, LevelWire> {
            ladder
                .worst_first()
                .map(|level| {
                    let orders: VecDeque<Resting> = self
                        .arena
                        .slots(level)
                        .map(|slot| self.arena.get(slot).order)
                        .collect();
                    for order in &orders {
                        let locator = Locator {
                            side,
                            price: level.price,
                            priority: order.priority,
                        };
                        index.insert(order.id, locator);
                    }
                    let wire = LevelWire {
                        orders,
                        open_tonnes: level.open_tonnes,
                    };
                    (level.price, wire)
                })
                .collect()
        };
        let bids = side(&self.bids, Side::Buy);
        let asks = side(&self.asks, Side::Sell);
        BookWire {
            rules: self.rules,
            reference_price: self.reference_price,
            bids,
            asks,
            index,
            open_orders: self
                .open_orders
                .iter()
                .map(|(trader, count)| (*trader, *count))
                .collect(),
            next_order_id: self.next_order_id,
            next_priority: self.next_priority,
            last_time: self.last_time,
        }
    }

    /// Rebuilds the book from its encoded form: the levels and their orders
    /// are the truth, the index is rebuilt from them.
    pub(super) fn from_wire(wire: BookWire) -> Result<Book, String> {
        let orders: usize = wire
            .bids
            .values()
            .chain(wire.asks.values())
            .map(|level| level.orders.len())
            .sum();
        if u32::try_from(orders).map_or(true, |orders| orders == NIL) {
            return Err(format!("{orders} orders do not fit a book"));
        }
        let mut book = Book {
            rules: wire.rules,
            reference_price: wire.reference_price,
            band: wire.rules.band(wire.reference_price),
            bids: Ladder::new(Side::Buy),
            asks: Ladder::new(Side::Sell),
            arena: Arena::default(),
            index: FxHashMap::default(),
            open_orders: wire.open_orders.into_iter().collect(),
            next_order_id: wire.next_order_id,
            next_priority: wire.next_priority,
            last_time: wire.last_time,
        };
        // Worst first: bids ascending, asks descending.
        let Book {
            bids,
            asks,
            arena,
            index,
            ..
        } = &mut book;
        for (ladder, side, levels) in [
            (bids, Side::Buy, wire.bids.into_iter().collect::<Vec<_>>()),
            (asks, Side::Sell, wire.asks.into_iter().rev().collect()),
        ] {
            for (price, level_wire) in levels {
                let mut level = Level {
                    price,
                    head: NIL,
                    tail: NIL,
                    count: 0,
                    open_tonnes: level_wire.open_tonnes,
                };
                for order in level_wire.orders {
                    let slot = arena.push_back(&mut level, order, side);
                    index.insert(order.id, slot);
                }
                ladder.push_better(level);
            }
        }
        Ok(book)
    }
}

impl Serialize for Book {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_wire().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Book {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Book, D::Error> {
        let wire = BookWire::deserialize(deserializer)?;
        Book::from_wire(wire).map_err(serde::de::Error::custom)
    }
}

impl PartialEq for Book {
    /// Books are equal when their encoded forms are: the same orders at the
    /// same places with the same counters, whatever slots they occupy.
    fn eq(&self, other: &Book) -> bool {
        self.to_wire() == other.to_wire()
    }
}

impl Eq for Book {}
