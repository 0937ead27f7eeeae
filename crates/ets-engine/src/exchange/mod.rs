//! The exchange inside the engine: instruments traded through `ets-market`
//! books (continuous, China listed and block agreements) and primary
//! auctions, cash balances kept by the exchange operator as settlement bank,
//! full pre-funding (sells hold units in the registry, buys hold cash), and
//! delivery versus payment in the same step as the match.
//!
//! **Invariants** ([`Exchange::check_invariants`]): held cash equals the
//! holds of open orders, proposals and bids; balances sum to deposits minus
//! withdrawals; the registry's reservations equal its pending transactions
//! plus the exchange's unit holds; books are never crossed. A refused command
//! changes neither the exchange nor the registry.
//!
//! **Decisions.** An order carries one representative's signature, so only
//! accounts whose approval rule needs one signature trade; an account needing
//! k > 1 is refused (`trading_needs_single_signature`), else one
//! representative could move its units alone by selling them cheaply to an
//! accomplice. Its k representatives fund a single-signature trading account
//! by a k-signature transfer instead: that approved transfer is the trading
//! mandate and its quantity the mandate's limit (no new command or state). Fees are `floor(value × bps /
//! 10,000)` per side per fill, so a buy's hold (value plus fee at its limit)
//! always covers its fills. One price tick is one minor unit of cash.
//!
//! **Calendar.** An instrument listed with a [`TradingCalendar`] refuses
//! orders, amendments, takes, proposals and acceptances outside its sessions,
//! on weekends (if it trades on weekdays only) and on its holidays, with
//! `market_closed`; cancels, declines, withdrawals, end of day and cash
//! movements are always allowed.

mod chunked;
mod command;
mod encoding;
mod error;
mod execute;
mod hashed;
mod limits;
mod net_sales;
mod settle;
mod state;
mod trades;

pub use chunked::Iter as TradeIter;
pub use command::{
    AuctionId, CashBalance, ExchangeCommand, ExchangeEffect, LocalTime, TradingCalendar,
    TradingMode,
};
pub(crate) use encoding::encode_hot;
pub use error::ExchangeError;
pub use limits::{Allocations, HoldingLimit, NoAllocations};
pub use net_sales::NetSales;
#[cfg(feature = "planted-settlement-failure")]
pub use settle::{PLANTED_FAILURE_BUYER, PLANTED_FAILURE_TONNES};
pub use state::{Exchange, TradeRecord, TradeVenue};
pub use trades::{TradeLog, TradeRetention};
