//! The `data` of each Server-Sent Event on `/api/stream/*` (docs/api.md,
//! "Streams"), as typed structs converted from the engine's records.

use crate::market_view::LevelView;
use crate::text::format_time;
use ets_engine::exchange::{TradeRecord, TradeVenue};
use ets_market::{DailyStats, Depth, TradeMode};
use ets_model::Code;
use serde::Serialize;

/// `subscribed`: the first event of every stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SubscribedEvent {
    /// `market` or `account`.
    pub stream: &'static str,
    /// The account, on an account stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<u64>,
}

/// `lagged`: the client fell behind and lost the oldest events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LaggedEvent {
    /// How many it lost.
    pub missed: u64,
}

/// `status`: an account was opened or its status or rule changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountStatusEvent {
    /// The account.
    pub account: u64,
    /// `open`, `blocked` or `closed`.
    pub status: &'static str,
    /// Its representatives.
    pub representatives: Vec<u64>,
    /// How many of them must approve.
    pub approvals_required: u8,
}

/// `cash`: an account's exchange cash after a deposit or withdrawal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CashEvent {
    /// The account.
    pub account: u64,
    /// Free cash, minor units.
    pub cash_available_minor_units: i64,
    /// Cash held for orders and bids, minor units.
    pub cash_held_minor_units: i64,
}

/// The day's figures of an instrument, as the streams carry them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StreamStats {
    /// The previous close, ticks.
    pub previous_close_ticks: i64,
    /// The open, ticks.
    pub open_ticks: i64,
    /// The high, ticks.
    pub high_ticks: Option<i64>,
    /// The low, ticks.
    pub low_ticks: Option<i64>,
    /// The last trade, ticks.
    pub last_ticks: Option<i64>,
    /// The close (so far), ticks.
    pub close_ticks: i64,
    /// The volume-weighted average, ticks.
    pub vwap_ticks: Option<i64>,
    /// Tonnes traded.
    pub volume: u64,
    /// Money traded, minor units.
    pub turnover_minor_units: i64,
    /// Trades.
    pub trades: u64,
}

impl From<&DailyStats> for StreamStats {
    fn from(stats: &DailyStats) -> StreamStats {
        StreamStats {
            previous_close_ticks: stats.previous_close.ticks(),
            open_ticks: stats.open.ticks(),
            high_ticks: stats.high.map(|p| p.ticks()),
            low_ticks: stats.low.map(|p| p.ticks()),
            last_ticks: stats.last.map(|p| p.ticks()),
            close_ticks: stats.close.ticks(),
            vwap_ticks: stats.vwap.map(|p| p.ticks()),
            volume: stats.volume.tonnes(),
            turnover_minor_units: stats.turnover.minor_units(),
            trades: stats.trades,
        }
    }
}

/// `day_closed`: an instrument's trading day ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayClosedEvent {
    /// The instrument.
    pub instrument: String,
    /// The day's figures.
    pub stats: StreamStats,
}

/// `quote`: an instrument's book and day after a batch that changed them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuoteEvent {
    /// The instrument.
    pub instrument: String,
    /// The best bid, ticks (`null` when none).
    pub best_bid_ticks: Option<i64>,
    /// The best ask, ticks (`null` when none).
    pub best_ask_ticks: Option<i64>,
    /// The bid levels, best first.
    pub bids: Vec<LevelView>,
    /// The ask levels, best first.
    pub asks: Vec<LevelView>,
    /// The day's figures.
    pub stats: Option<StreamStats>,
}

impl QuoteEvent {
    /// The quote of `instrument` from its book and day.
    #[must_use]
    pub fn new(instrument: &Code, depth: Option<&Depth>, stats: Option<&DailyStats>) -> QuoteEvent {
        let levels = |levels: &[ets_market::DepthLevel]| -> Vec<LevelView> {
            levels
                .iter()
                .map(|level| LevelView {
                    price_ticks: level.price.ticks(),
                    quantity: level.quantity.tonnes(),
                    orders: level.orders,
                })
                .collect()
        };
        let (bids, asks) = depth.map_or((Vec::new(), Vec::new()), |depth| {
            (levels(&depth.bids), levels(&depth.asks))
        });
        QuoteEvent {
            instrument: instrument.to_string(),
            best_bid_ticks: bids.first().map(|level| level.price_ticks),
            best_ask_ticks: asks.first().map(|level| level.price_ticks),
            bids,
            asks,
            stats: stats.map(StreamStats::from),
        }
    }
}

/// Where a trade happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum VenueView {
    /// On an instrument's book or desk.
    Instrument {
        /// The instrument.
        instrument: String,
    },
    /// In an auction.
    Auction {
        /// The auction.
        auction: u64,
    },
}

/// `trade` on the market stream: a trade without its parties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TradeEvent {
    /// The trade's id.
    pub trade: u64,
    /// `continuous`, `listed`, `block` or `auction`.
    pub mode: &'static str,
    /// The price, ticks.
    pub price_ticks: i64,
    /// Tonnes.
    pub quantity: u64,
    /// When, RFC 3339.
    pub at: String,
    /// Where.
    #[serde(flatten)]
    pub venue: VenueView,
}

/// `trade` on an account stream: the public trade and the account's side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountTradeEvent {
    /// The public trade.
    #[serde(flatten)]
    pub trade: TradeEvent,
    /// The account.
    pub account: u64,
    /// `buy` or `sell`.
    pub side: &'static str,
    /// The account's fee, minor units.
    pub fee_minor_units: i64,
    /// The registry transaction that settled it.
    pub transaction: u64,
}

/// The name of a trade's mode in every view and stream: `continuous`,
/// `listed`, `block` or `auction`.
#[must_use]
pub fn trade_mode_name(mode: TradeMode) -> &'static str {
    match mode {
        TradeMode::Continuous => "continuous",
        TradeMode::Listed => "listed",
        TradeMode::Block => "block",
        TradeMode::Auction => "auction",
    }
}

impl From<&TradeRecord> for TradeEvent {
    fn from(record: &TradeRecord) -> TradeEvent {
        TradeEvent {
            trade: record.id,
            mode: trade_mode_name(record.mode),
            price_ticks: record.price.ticks(),
            quantity: record.quantity.tonnes(),
            at: format_time(record.at),
            venue: match record.venue {
                TradeVenue::Instrument(instrument) => VenueView::Instrument {
                    instrument: instrument.to_string(),
                },
                TradeVenue::Auction(auction) => VenueView::Auction { auction: auction.0 },
            },
        }
    }
}

impl AccountTradeEvent {
    /// The buyer's and the seller's events of `record`, in that order.
    #[must_use]
    pub fn both(record: &TradeRecord) -> [(ets_model::AccountId, AccountTradeEvent); 2] {
        let own = |account: ets_model::AccountId, side, fee: ets_model::Money| {
            (
                account,
                AccountTradeEvent {
                    trade: TradeEvent::from(record),
                    account: account.0,
                    side,
                    fee_minor_units: fee.minor_units(),
                    transaction: record.transaction.0,
                },
            )
        };
        [
            own(record.buyer, "buy", record.buyer_fee),
            own(record.seller, "sell", record.seller_fee),
        ]
    }
}
