//! Market data: the trade tape, depth of the book, and the day's open, high,
//! low, close, VWAP, volume and turnover.
//!
//! Price-forming trades are those of the continuous book and the listed
//! agreement: they set the open, high, low, last and VWAP. Block trades and
//! auction awards count in volume and turnover only (China publishes its
//! close as the VWAP of listed trades, docs/sources.md#cn-exchange).

use crate::error::MarketError;
use crate::order::Fill;
use ets_model::{Money, Price, Quantity, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// How many levels of depth are published (China's listed agreement shows 5).
pub const DEPTH_LEVELS: usize = 5;

/// One price level of depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepthLevel {
    /// The price.
    pub price: Price,
    /// Open tonnes at this price.
    pub quantity: Quantity,
    /// How many orders.
    pub orders: u32,
}

/// The best levels of both sides, best first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Depth {
    /// Buy levels, highest price first.
    pub bids: Vec<DepthLevel>,
    /// Sell levels, lowest price first.
    pub asks: Vec<DepthLevel>,
}

/// Where a trade was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TradeMode {
    /// The continuous limit order book.
    Continuous,
    /// China's listed agreement.
    Listed,
    /// China's block agreement.
    Block,
    /// A primary auction.
    Auction,
}

impl TradeMode {
    /// Whether trades in this mode set the open, high, low, last and VWAP.
    #[must_use]
    pub const fn is_price_forming(self) -> bool {
        matches!(self, TradeMode::Continuous | TradeMode::Listed)
    }
}

/// One trade on the public tape (no parties: the tape is public).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trade {
    /// Where it was made.
    pub mode: TradeMode,
    /// The price per tonne.
    pub price: Price,
    /// The tonnes.
    pub quantity: Quantity,
    /// When.
    pub at: Timestamp,
}

impl Trade {
    /// The public record of a fill.
    #[must_use]
    pub fn from_fill(mode: TradeMode, fill: &Fill) -> Trade {
        Trade {
            mode,
            price: fill.price,
            quantity: fill.quantity,
            at: fill.at,
        }
    }
}

/// How the day's close is set when there were price-forming trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClosePriceRule {
    /// The volume-weighted average price of the day's price-forming trades
    /// (China).
    VolumeWeightedAverage,
    /// The last price-forming trade (EU secondary market).
    LastTrade,
}

/// Market-data rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketDataRules {
    /// How the close is set.
    pub close_price: ClosePriceRule,
    /// How many recent trades the tape keeps; older ones drop off.
    pub max_tape_trades: u32,
}

impl MarketDataRules {
    /// China: the close is the VWAP of the day's listed trades.
    pub const CHINA: MarketDataRules = MarketDataRules {
        close_price: ClosePriceRule::VolumeWeightedAverage,
        max_tape_trades: 10_000,
    };

    /// EU: the close is the last trade.
    pub const EU: MarketDataRules = MarketDataRules {
        close_price: ClosePriceRule::LastTrade,
        max_tape_trades: 10_000,
    };
}

/// The day's figures. Without price-forming trades the open and close are
/// the previous close and high, low, last and VWAP are `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyStats {
    /// The close of the day before.
    pub previous_close: Price,
    /// The first price-forming trade, else the previous close.
    pub open: Price,
    /// The highest price-forming trade.
    pub high: Option<Price>,
    /// The lowest price-forming trade.
    pub low: Option<Price>,
    /// The last price-forming trade.
    pub last: Option<Price>,
    /// The close, by [`ClosePriceRule`]; else the previous close.
    pub close: Price,
    /// The VWAP of price-forming trades, rounded half up to a tick.
    pub vwap: Option<Price>,
    /// Tonnes traded in every mode.
    pub volume: Quantity,
    /// Value traded in every mode (price × quantity, one tick = one minor unit).
    pub turnover: Money,
    /// Tonnes of price-forming trades.
    pub price_forming_volume: Quantity,
    /// Trades in every mode.
    pub trades: u64,
}

/// The market data of one instrument for the current day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketData {
    rules: MarketDataRules,
    previous_close: Price,
    tape: VecDeque<Trade>,
    open: Option<Price>,
    high: Option<Price>,
    low: Option<Price>,
    last: Option<Price>,
    volume_tonnes: u64,
    turnover: Money,
    price_forming_tonnes: u64,
    price_forming_turnover: Money,
    trades: u64,
}

impl MarketData {
    /// A day with no trades yet after a close of `previous_close`.
    #[must_use]
    pub fn new(rules: MarketDataRules, previous_close: Price) -> MarketData {
        MarketData {
            rules,
            previous_close,
            tape: VecDeque::new(),
            open: None,
            high: None,
            low: None,
            last: None,
            volume_tonnes: 0,
            turnover: Money::ZERO,
            price_forming_tonnes: 0,
            price_forming_turnover: Money::ZERO,
            trades: 0,
        }
    }

    /// The close of the day before.
    #[must_use]
    pub fn previous_close(&self) -> Price {
        self.previous_close
    }

    /// Makes `close` the close of the day before, keeping the day's trades:
    /// for a block desk whose close is its listed instrument's, set when that
    /// instrument ends its day. Block trades form no price, so the desk's
    /// open and close are then `close` (a day with price-forming trades
    /// still closes on them).
    pub fn set_previous_close(&mut self, close: Price) {
        self.previous_close = close;
    }

    /// The most recent trades, oldest first.
    pub fn tape(&self) -> impl Iterator<Item = &Trade> {
        self.tape.iter()
    }

    /// Records a trade.
    ///
    /// # Errors
    /// [`MarketError::Overflow`] when the trade's value, the volume or the
    /// turnover no longer fits; nothing is recorded then.
    pub fn record(&mut self, trade: &Trade) -> Result<(), MarketError> {
        let value = trade
            .price
            .times(trade.quantity)
            .map_err(|_| MarketError::Overflow("trade value"))?;
        let tonnes = trade.quantity.tonnes();
        let volume_tonnes = add_tonnes(self.volume_tonnes, tonnes)?;
        let turnover = add_money(self.turnover, value)?;
        let forming = trade.mode.is_price_forming();
        let (forming_tonnes, forming_turnover) = if forming {
            (
                add_tonnes(self.price_forming_tonnes, tonnes)?,
                add_money(self.price_forming_turnover, value)?,
            )
        } else {
            (self.price_forming_tonnes, self.price_forming_turnover)
        };
        // Validated: from here on nothing can fail.
        self.volume_tonnes = volume_tonnes;
        self.turnover = turnover;
        self.trades = self.trades.saturating_add(1);
        if forming {
            self.price_forming_tonnes = forming_tonnes;
            self.price_forming_turnover = forming_turnover;
            self.open = self.open.or(Some(trade.price));
            self.high = Some(self.high.map_or(trade.price, |high| high.max(trade.price)));
            self.low = Some(self.low.map_or(trade.price, |low| low.min(trade.price)));
            self.last = Some(trade.price);
        }
        self.push_tape(*trade);
        Ok(())
    }

    /// The day's figures so far.
    #[must_use]
    pub fn stats(&self) -> DailyStats {
        let vwap = vwap(self.price_forming_turnover, self.price_forming_tonnes);
        let close = match self.rules.close_price {
            ClosePriceRule::VolumeWeightedAverage => vwap,
            ClosePriceRule::LastTrade => self.last,
        };
        DailyStats {
            previous_close: self.previous_close,
            open: self.open.unwrap_or(self.previous_close),
            high: self.high,
            low: self.low,
            last: self.last,
            close: close.unwrap_or(self.previous_close),
            vwap,
            volume: Quantity::new(self.volume_tonnes),
            turnover: self.turnover,
            price_forming_volume: Quantity::new(self.price_forming_tonnes),
            trades: self.trades,
        }
    }

    /// Ends the day: returns its figures and starts a new day whose previous
    /// close is this day's close. The tape carries over.
    pub fn close_day(&mut self) -> DailyStats {
        let stats = self.stats();
        let tape = std::mem::take(&mut self.tape);
        *self = MarketData::new(self.rules, stats.close);
        self.tape = tape;
        stats
    }

    fn push_tape(&mut self, trade: Trade) {
        let max = usize::try_from(self.rules.max_tape_trades).unwrap_or(usize::MAX);
        if max == 0 {
            return;
        }
        while self.tape.len() >= max {
            self.tape.pop_front();
        }
        self.tape.push_back(trade);
    }
}

fn add_tonnes(a: u64, b: u64) -> Result<u64, MarketError> {
    a.checked_add(b).ok_or(MarketError::Overflow("volume"))
}

fn add_money(a: Money, b: Money) -> Result<Money, MarketError> {
    a.checked_add(b)
        .map_err(|_| MarketError::Overflow("turnover"))
}

/// Turnover over tonnes, rounded half up to a whole tick, in `i128`.
fn vwap(turnover: Money, tonnes: u64) -> Option<Price> {
    if tonnes == 0 {
        return None;
    }
    let numerator = 2 * i128::from(turnover.minor_units()) + i128::from(tonnes);
    let ticks = numerator / (2 * i128::from(tonnes));
    Some(crate::rules::price_from_wide(ticks))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(ticks: i64) -> Price {
        Price::try_new(ticks).expect("test prices are non-negative")
    }

    fn trade(mode: TradeMode, ticks: i64, tonnes: u64) -> Trade {
        Trade {
            mode,
            price: price(ticks),
            quantity: Quantity::new(tonnes),
            at: Timestamp(0),
        }
    }

    #[test]
    fn china_close_is_vwap_of_listed_trades_and_block_trades_only_add_volume() {
        // Goal: listed 100 t @ 50.00 and 300 t @ 51.01 give VWAP
        // (500,000 + 1,530,300) / 400 = 5,075.75 -> 50.76 yuan (half up);
        // a block trade at 60.00 changes neither open, high nor close.
        let mut data = MarketData::new(MarketDataRules::CHINA, price(4_900));
        data.record(&trade(TradeMode::Listed, 5_000, 100)).unwrap();
        data.record(&trade(TradeMode::Block, 6_000, 200_000))
            .unwrap();
        data.record(&trade(TradeMode::Listed, 5_101, 300)).unwrap();
        let stats = data.stats();
        assert_eq!(stats.open, price(5_000));
        assert_eq!(
            (stats.high, stats.low),
            (Some(price(5_101)), Some(price(5_000)))
        );
        assert_eq!(stats.vwap, Some(price(5_076)));
        assert_eq!(stats.close, price(5_076));
        assert_eq!(stats.volume, Quantity::new(200_400));
        assert_eq!(stats.price_forming_volume, Quantity::new(400));
        assert_eq!(
            stats.turnover,
            Money::new(500_000 + 1_200_000_000 + 1_530_300)
        );
        assert_eq!(stats.trades, 3);
    }

    #[test]
    fn without_price_forming_trades_open_and_close_are_the_previous_close() {
        // Goal: a day of only block trades opens and closes at the previous close.
        let mut data = MarketData::new(MarketDataRules::CHINA, price(4_900));
        data.record(&trade(TradeMode::Block, 6_000, 100_000))
            .unwrap();
        let stats = data.close_day();
        assert_eq!((stats.open, stats.close), (price(4_900), price(4_900)));
        assert_eq!(stats.vwap, None);
        assert_eq!(data.previous_close(), price(4_900));
        assert_eq!(data.stats().volume, Quantity::ZERO);
    }

    #[test]
    fn a_desk_given_a_previous_close_opens_and_closes_on_it_with_its_trades_kept() {
        // Goal: a block desk's day, moved onto its listed instrument's close of
        // 44.00 mid-day, reports that close and keeps its block volume.
        let mut data = MarketData::new(MarketDataRules::CHINA, price(4_000));
        data.record(&trade(TradeMode::Block, 5_000, 100_000))
            .unwrap();
        data.set_previous_close(price(4_400));
        let stats = data.close_day();
        assert_eq!(
            (stats.previous_close, stats.open),
            (price(4_400), price(4_400))
        );
        assert_eq!(stats.close, price(4_400));
        assert_eq!(stats.volume, Quantity::new(100_000));
        assert_eq!(data.previous_close(), price(4_400));
    }

    #[test]
    fn eu_close_is_the_last_trade_and_becomes_the_next_previous_close() {
        // Goal: under the last-trade rule the close is the last price, not the VWAP.
        let mut data = MarketData::new(MarketDataRules::EU, price(7_000));
        data.record(&trade(TradeMode::Continuous, 7_100, 1_000))
            .unwrap();
        data.record(&trade(TradeMode::Continuous, 7_050, 1))
            .unwrap();
        let stats = data.close_day();
        assert_eq!(stats.close, price(7_050));
        assert_eq!(stats.vwap, Some(price(7_100)));
        assert_eq!(data.previous_close(), price(7_050));
        assert_eq!(data.tape().count(), 2);
    }

    #[test]
    fn tape_keeps_only_the_most_recent_trades() {
        // Goal: the tape is bounded, dropping the oldest trades.
        let rules = MarketDataRules {
            max_tape_trades: 2,
            ..MarketDataRules::EU
        };
        let mut data = MarketData::new(rules, price(100));
        for ticks in [101, 102, 103] {
            data.record(&trade(TradeMode::Continuous, ticks, 1))
                .unwrap();
        }
        let prices: Vec<i64> = data.tape().map(|t| t.price.ticks()).collect();
        assert_eq!(prices, vec![102, 103]);
    }

    #[test]
    fn turnover_overflow_is_refused_and_records_nothing() {
        // Goal: a trade whose value does not fit in i64 changes nothing.
        let mut data = MarketData::new(MarketDataRules::EU, price(100));
        let before = data.clone();
        let error = data
            .record(&trade(TradeMode::Continuous, i64::MAX, 2))
            .unwrap_err();
        assert_eq!(error.code(), "overflow");
        assert_eq!(data, before);
    }
}
