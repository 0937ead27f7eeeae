//! The exchange's commands and what an accepted one did. Who asks and when
//! travel beside them in the registry's `Context`.

use super::limits::HoldingLimit;
use ets_market::{
    AuctionRules, AuctionStatus, DailyStats, InstrumentRules, MarketDataRules, OrderId, OrderKind,
    Side, TimeInForce,
};
use ets_model::{AccountId, Code, Money, Price, Quantity, Timestamp, UnitClass};
use serde::{Deserialize, Serialize};

/// An auction, numbered by the exchange from 1 in order of opening.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AuctionId(pub u64);

impl std::fmt::Display for AuctionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// How an instrument trades. Journaled: new modes are appended at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TradingMode {
    /// A continuous limit order book (price-time priority).
    Continuous,
    /// China's listed agreement: makers post, takers pick.
    ChinaListed,
    /// China's block agreement: proposals to a named counterparty. The band
    /// is centred on the desk's own close, which block trades never move
    /// (kept so that old journals keep their meaning; new desks follow their
    /// listed instrument with [`TradingMode::ChinaBlockOf`]).
    ChinaBlock,
    /// China's block agreement whose band is centred on the previous close
    /// of the listed instrument `listed` (docs/sources.md#cn-exchange): each
    /// end of day of `listed` moves the desk's reference to that day's close.
    /// `listed` trades the same unit class and is not a block desk.
    ChinaBlockOf {
        /// The listed (or continuous) instrument whose close centres the band.
        listed: Code,
    },
}

impl TradingMode {
    /// Whether the instrument is a block-agreement desk (either block mode).
    #[must_use]
    pub const fn is_block(self) -> bool {
        matches!(
            self,
            TradingMode::ChinaBlock | TradingMode::ChinaBlockOf { .. }
        )
    }

    /// The listed instrument whose close centres this desk's band, if any.
    #[must_use]
    pub const fn follows(self) -> Option<Code> {
        match self {
            TradingMode::ChinaBlockOf { listed } => Some(listed),
            _ => None,
        }
    }
}

/// When an instrument trades, in local civil time: the sessions of each
/// open day, optionally only Monday to Friday, never on a holiday.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradingCalendar {
    /// Local time minus UTC, in minutes (Beijing: 480).
    pub utc_offset_minutes: i32,
    /// Sessions as minutes after local midnight, start inclusive, end
    /// exclusive.
    pub sessions: Vec<(u16, u16)>,
    /// Closed on Saturdays and Sundays.
    pub weekdays_only: bool,
    /// Closed local dates (year, month, day).
    pub holidays: Vec<(u16, u8, u8)>,
}

/// A local civil date and time, as the calendar sees a timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    /// The year.
    pub year: i64,
    /// 1 to 12.
    pub month: u8,
    /// 1 to 31.
    pub day: u8,
    /// 0 Monday to 6 Sunday.
    pub weekday: u8,
    /// Minutes after local midnight.
    pub minute: u16,
    /// The offset from UTC, in minutes.
    pub utc_offset_minutes: i32,
}

impl std::fmt::Display for LocalTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        let offset = self.utc_offset_minutes.unsigned_abs();
        let sign = if self.utc_offset_minutes < 0 {
            '-'
        } else {
            '+'
        };
        write!(
            f,
            "{} {:04}-{:02}-{:02} {:02}:{:02} UTC{sign}{:02}:{:02}",
            DAYS[usize::from(self.weekday % 7)],
            self.year,
            self.month,
            self.day,
            self.minute / 60,
            self.minute % 60,
            offset / 60,
            offset % 60
        )
    }
}

impl TradingCalendar {
    /// China's listed agreement: 09:30-11:30 and 13:00-15:00 Beijing time,
    /// Monday to Friday (holidays must be added).
    #[must_use]
    pub fn china_listed() -> TradingCalendar {
        TradingCalendar {
            utc_offset_minutes: 480,
            sessions: vec![(570, 690), (780, 900)],
            weekdays_only: true,
            holidays: Vec::new(),
        }
    }

    /// China's block agreement: 13:00-15:00 Beijing time, Monday to Friday
    /// (holidays must be added).
    #[must_use]
    pub fn china_block() -> TradingCalendar {
        TradingCalendar {
            utc_offset_minutes: 480,
            sessions: vec![(780, 900)],
            weekdays_only: true,
            holidays: Vec::new(),
        }
    }

    /// The local civil date and time of a timestamp.
    #[must_use]
    pub fn local(&self, at: Timestamp) -> LocalTime {
        let local_ms =
            at.0.saturating_add(i64::from(self.utc_offset_minutes) * 60_000);
        let days = local_ms.div_euclid(ets_time::MS_PER_DAY);
        let (year, month, day) = ets_time::civil_from_days(days);
        let weekday = ets_time::Weekday::of_day_number(days).index_from_monday();
        let minute = (local_ms.rem_euclid(ets_time::MS_PER_DAY) / 60_000) as u16;
        LocalTime {
            year,
            month,
            day,
            weekday,
            minute,
            utc_offset_minutes: self.utc_offset_minutes,
        }
    }

    /// Whether the market is open at this instant.
    #[must_use]
    pub fn is_open(&self, at: Timestamp) -> bool {
        let local = self.local(at);
        if self.weekdays_only && local.weekday >= 5 {
            return false;
        }
        if self.holidays.iter().any(|&(year, month, day)| {
            i64::from(year) == local.year && month == local.month && day == local.day
        }) {
            return false;
        }
        self.sessions
            .iter()
            .any(|&(start, end)| start <= local.minute && local.minute < end)
    }
}

/// A request to the exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExchangeCommand {
    /// Lists an instrument (administrator only).
    ListInstrument {
        /// Its symbol, unique on the exchange.
        symbol: Code,
        /// The unit class it trades (must have been issued).
        class: UnitClass,
        /// How it trades.
        mode: TradingMode,
        /// Tick, lot, order sizes, band and limits.
        rules: InstrumentRules,
        /// The first reference price (the band's centre).
        reference_price: Price,
        /// The fee charged to each side, in basis points of the trade value.
        fee_bps: u32,
        /// The exchange's trading account that receives the fees.
        fee_account: AccountId,
        /// China's T+1: units bought today cannot be sold today.
        no_same_day_resale: bool,
        /// How the close is set and how long the tape is.
        market_data: MarketDataRules,
        /// When it trades; `None` means always open.
        calendar: Option<TradingCalendar>,
    },
    /// Credits cash to an account (the exchange operator, as settlement bank).
    DepositCash {
        /// A trading or operator holding account.
        account: AccountId,
        /// Minor units, positive.
        amount: Money,
    },
    /// Debits available cash (the exchange operator, as settlement bank).
    WithdrawCash {
        /// The account.
        account: AccountId,
        /// Minor units, positive, at most the available cash.
        amount: Money,
    },
    /// Enters an order in a continuous book, or posts a listed-agreement
    /// maker order (limit, day).
    PlaceOrder {
        /// The instrument.
        instrument: Code,
        /// The trading account.
        account: AccountId,
        /// Buy or sell.
        side: Side,
        /// Limit price or market.
        kind: OrderKind,
        /// Tonnes.
        quantity: Quantity,
        /// Day, immediate-or-cancel or fill-or-kill.
        time_in_force: TimeInForce,
    },
    /// Cancels a resting order.
    CancelOrder {
        /// The instrument.
        instrument: Code,
        /// The owning account.
        account: AccountId,
        /// The order.
        order: OrderId,
    },
    /// Changes a resting order's price and open quantity.
    AmendOrder {
        /// The instrument.
        instrument: Code,
        /// The owning account.
        account: AccountId,
        /// The order.
        order: OrderId,
        /// The new limit price.
        price: Price,
        /// The new open quantity.
        quantity: Quantity,
    },
    /// Takes a visible listed-agreement order at its price.
    TakeListed {
        /// The instrument (listed mode).
        instrument: Code,
        /// The taker's account.
        account: AccountId,
        /// The maker order picked.
        maker_order: OrderId,
        /// Tonnes, at most the maker's open quantity.
        quantity: Quantity,
    },
    /// Proposes a block trade to a named counterparty.
    ProposeBlock {
        /// The instrument (block mode).
        instrument: Code,
        /// The proposer's account.
        account: AccountId,
        /// The counterparty's account.
        counterparty: AccountId,
        /// The proposer's side.
        side: Side,
        /// The price.
        price: Price,
        /// Tonnes.
        quantity: Quantity,
        /// When the proposal lapses (the session end).
        expires_at: Timestamp,
    },
    /// Accepts a block proposal: it trades at once.
    AcceptBlock {
        /// The instrument.
        instrument: Code,
        /// The counterparty's account.
        account: AccountId,
        /// The proposal.
        proposal: OrderId,
    },
    /// Declines a block proposal.
    DeclineBlock {
        /// The instrument.
        instrument: Code,
        /// The counterparty's account.
        account: AccountId,
        /// The proposal.
        proposal: OrderId,
    },
    /// Withdraws one's own block proposal.
    WithdrawBlock {
        /// The instrument.
        instrument: Code,
        /// The proposer's account.
        account: AccountId,
        /// The proposal.
        proposal: OrderId,
    },
    /// Ends the trading day of an instrument (administrator or exchange
    /// operator): expires orders and proposals, closes the day's market data
    /// and centres the band on the new close; resets T+1 counts of its class.
    EndOfDay {
        /// The instrument.
        instrument: Code,
    },
    /// Opens a primary auction of units from the registry's auction account
    /// (administrator only). The units are held at once.
    OpenAuction {
        /// The class sold.
        class: UnitClass,
        /// Volume, lots, reserve price, tie-break and limits.
        rules: AuctionRules,
        /// The tie-break seed, fixed before the auction and kept secret.
        seed: u64,
    },
    /// Bids in an open auction; the bid's value is held.
    SubmitBid {
        /// The auction.
        auction: AuctionId,
        /// The bidder's account.
        account: AccountId,
        /// The bid price.
        price: Price,
        /// Tonnes.
        quantity: Quantity,
    },
    /// Withdraws a bid before the close.
    WithdrawBid {
        /// The auction.
        auction: AuctionId,
        /// The bidder's account.
        account: AccountId,
        /// The bid.
        bid: OrderId,
    },
    /// Closes an auction (administrator only): awards settle at the clearing
    /// price, other bids are released, unsold units return.
    CloseAuction {
        /// The auction.
        auction: AuctionId,
    },
    /// Sets or lifts an instrument's holding limit (administrator only).
    /// Applies to buys entered afterwards; open orders stay.
    SetHoldingLimit {
        /// The instrument.
        instrument: Code,
        /// The limit; `None` lifts it.
        limit: Option<HoldingLimit>,
    },
    /// Changes an open bid's price and quantity before the close; the bid
    /// keeps its id and tie-break rank, and its cash hold follows.
    ModifyBid {
        /// The auction.
        auction: AuctionId,
        /// The bidder's account.
        account: AccountId,
        /// The bid.
        bid: OrderId,
        /// The new price.
        price: Price,
        /// The new quantity, tonnes.
        quantity: Quantity,
    },
}

impl ExchangeCommand {
    /// The snake_case name of the command, as used in the JSON API.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            ExchangeCommand::ListInstrument { .. } => "list_instrument",
            ExchangeCommand::DepositCash { .. } => "deposit_cash",
            ExchangeCommand::WithdrawCash { .. } => "withdraw_cash",
            ExchangeCommand::PlaceOrder { .. } => "place_order",
            ExchangeCommand::CancelOrder { .. } => "cancel_order",
            ExchangeCommand::AmendOrder { .. } => "amend_order",
            ExchangeCommand::TakeListed { .. } => "take_listed",
            ExchangeCommand::ProposeBlock { .. } => "propose_block",
            ExchangeCommand::AcceptBlock { .. } => "accept_block",
            ExchangeCommand::DeclineBlock { .. } => "decline_block",
            ExchangeCommand::WithdrawBlock { .. } => "withdraw_block",
            ExchangeCommand::EndOfDay { .. } => "end_of_day",
            ExchangeCommand::OpenAuction { .. } => "open_auction",
            ExchangeCommand::SubmitBid { .. } => "submit_bid",
            ExchangeCommand::WithdrawBid { .. } => "withdraw_bid",
            ExchangeCommand::CloseAuction { .. } => "close_auction",
            ExchangeCommand::SetHoldingLimit { .. } => "set_holding_limit",
            ExchangeCommand::ModifyBid { .. } => "modify_bid",
        }
    }
}

/// One account's cash at the exchange, in minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CashBalance {
    /// Free to withdraw or commit.
    pub available: Money,
    /// Committed to open buy orders, proposals and bids.
    pub held: Money,
}

/// What an accepted exchange command did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExchangeEffect {
    /// An instrument was listed.
    InstrumentListed {
        /// Its symbol.
        instrument: Code,
    },
    /// An account's cash changed by deposit or withdrawal.
    CashUpdated {
        /// The account.
        account: AccountId,
        /// Its balance after the command.
        balance: CashBalance,
    },
    /// An order, take, proposal or acceptance was entered (and perhaps traded).
    OrderEntered {
        /// The instrument.
        instrument: Code,
        /// The id the book or desk gave it.
        order: OrderId,
        /// Ids of the trades it caused, in order (see [`super::TradeRecord`]).
        trades: Vec<u64>,
        /// Tonnes still open (resting) after the command.
        open: Quantity,
    },
    /// An order was cancelled, or a proposal declined or withdrawn.
    OrderClosed {
        /// The instrument.
        instrument: Code,
        /// The order or proposal.
        order: OrderId,
    },
    /// The trading day of an instrument ended.
    DayClosed {
        /// The instrument.
        instrument: Code,
        /// The day's figures.
        stats: DailyStats,
        /// Orders and proposals expired.
        expired: u32,
    },
    /// An auction opened.
    AuctionOpened {
        /// Its id.
        auction: AuctionId,
    },
    /// A bid was entered.
    BidSubmitted {
        /// The auction.
        auction: AuctionId,
        /// The bid.
        bid: OrderId,
    },
    /// A bid was withdrawn.
    BidWithdrawn {
        /// The auction.
        auction: AuctionId,
        /// The bid.
        bid: OrderId,
    },
    /// An auction closed and settled.
    AuctionClosed {
        /// The auction.
        auction: AuctionId,
        /// How it ended.
        status: AuctionStatus,
        /// The uniform price, if anything sold.
        clearing_price: Option<Price>,
        /// Tonnes sold.
        sold: Quantity,
        /// Ids of the award trades.
        trades: Vec<u64>,
    },
    /// An instrument's holding limit was set or lifted.
    HoldingLimitSet {
        /// The instrument.
        instrument: Code,
        /// The limit now in force.
        limit: Option<HoldingLimit>,
    },
    /// A bid was modified (same id, new price and quantity).
    BidModified {
        /// The auction.
        auction: AuctionId,
        /// The bid.
        bid: OrderId,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_time_is_civil_time_at_the_offset() {
        // Goal: days-from-civil agrees with known dates, including leap days,
        // times before 1970 and a date that the offset moves forward.
        let utc = TradingCalendar {
            utc_offset_minutes: 0,
            ..TradingCalendar::china_block()
        };
        let at = |calendar: &TradingCalendar, ms: i64| {
            let local = calendar.local(Timestamp(ms));
            (
                local.year,
                local.month,
                local.day,
                local.weekday,
                local.minute,
            )
        };
        assert_eq!(at(&utc, 0), (1970, 1, 1, 3, 0));
        assert_eq!(at(&utc, -60_000), (1969, 12, 31, 2, 1_439));
        // 2000-02-29 12:00 UTC, a Tuesday.
        assert_eq!(at(&utc, 951_825_600_000), (2000, 2, 29, 1, 720));
        // 2021-07-16 01:30 UTC is 09:30 on Friday in Beijing.
        let beijing = TradingCalendar::china_listed();
        assert_eq!(at(&beijing, 1_626_399_000_000), (2021, 7, 16, 4, 570));
        assert!(beijing.is_open(Timestamp(1_626_399_000_000)));
        assert!(!beijing.is_open(Timestamp(1_626_399_000_000 - 1)));
        assert_eq!(
            beijing.local(Timestamp(1_626_399_000_000)).to_string(),
            "Fri 2021-07-16 09:30 UTC+08:00"
        );
    }
}
