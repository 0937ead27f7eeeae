//! The exchange of openets: order books and matching for each trading mode
//! (continuous limit order book, China's listed and block agreements),
//! sealed-bid primary auctions, static price bands and market data (open,
//! high, low, close, VWAP, depth, trade tape).
//!
//! **Architecture Invariant:** this crate knows nothing of accounts,
//! holdings or cash. Traders are opaque [`ets_model::AccountId`]s; the engine
//! holds units and cash before it calls in, and settles the [`Fill`]s and
//! [`Award`]s that come back. Everything is integer (no floats), ordered
//! (`BTreeMap`, sorted vectors, `VecDeque`; the continuous book's hash maps
//! are only looked up, never iterated into a result), clock-free (time comes
//! in with every call) and randomness-free (the auction tie-break is a
//! documented permutation of a caller-given seed).
//!
//! **Invariant:** a refused call (`Err`) changes nothing: validation happens
//! before any mutation.

mod auction;
mod block;
mod book;
mod data;
mod error;
mod listed;
mod order;
mod rules;

pub use auction::{
    Auction, AuctionOutcome, AuctionRules, AuctionStatus, Award, Bid, CancellationCause,
    CostContainmentReserve, TieBreak, TrimmedBid, splitmix64, tie_break_rank,
};
pub use block::{BlockDesk, Proposal, ProposalRequest, ProposalState, ProposalUpdate};
pub use book::Book;
pub use data::{
    ClosePriceRule, DEPTH_LEVELS, DailyStats, Depth, DepthLevel, MarketData, MarketDataRules,
    Trade, TradeMode,
};
pub use error::MarketError;
pub use listed::{LISTED_VISIBLE_LEVELS, ListedBook, PostRequest, TakeRequest};
pub use order::{
    Amendment, Fill, OrderId, OrderKind, OrderRequest, OrderStatus, OrderUpdate, OrderView, Report,
    Side, TimeInForce, UpdateReason,
};
pub use rules::{BookLimits, InstrumentRules, PriceBand};
