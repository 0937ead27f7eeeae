//! Why the exchange refused a command: its own reasons, plus the market's and
//! the registry's, each with a stable snake_case code. A refused command
//! changes nothing.

use super::command::AuctionId;
use ets_market::MarketError;
use ets_model::{AccountId, Code, Money, ParticipantId, Quantity};
use ets_registry::RegistryError;
use thiserror::Error;

/// A business rejection by the exchange.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ExchangeError {
    /// The market (book, desk, auction) refused the call.
    #[error(transparent)]
    Market(#[from] MarketError),
    /// The registry refused (unknown account, not a representative, units).
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// Only a registry administrator may do this.
    #[error("only an administrator may {action}; participant {requester} is not one")]
    NotAdministrator {
        /// What was attempted.
        action: &'static str,
        /// Who tried.
        requester: ParticipantId,
    },
    /// Only the exchange operator (a participant of kind `exchange`) may do this.
    #[error("only the exchange operator may {action}; participant {requester} is not one")]
    NotExchangeOperator {
        /// What was attempted.
        action: &'static str,
        /// Who tried.
        requester: ParticipantId,
    },
    /// No instrument has this symbol.
    #[error("instrument {0} is not listed")]
    UnknownInstrument(Code),
    /// The symbol is taken.
    #[error("instrument {0} is already listed")]
    InstrumentExists(Code),
    /// The command does not fit the instrument's trading mode.
    #[error("instrument {instrument} does not support {action}")]
    WrongMode {
        /// The instrument.
        instrument: Code,
        /// What was attempted.
        action: &'static str,
    },
    /// The order's kind or time in force is not supported in this mode.
    #[error("unsupported order: {0}")]
    UnsupportedOrder(&'static str),
    /// A market buy without a price band cannot be pre-funded.
    #[error("a market buy needs a price band to bound its cash hold; send a limit order")]
    MarketBuyNeedsBand,
    /// Not enough available cash.
    #[error(
        "account {account} has {} minor units available, {} required",
        .available.minor_units(),
        .required.minor_units()
    )]
    InsufficientCash {
        /// The account.
        account: AccountId,
        /// Its available cash, minor units.
        available: Money,
        /// What the command needs, minor units.
        required: Money,
    },
    /// Not enough units free to sell.
    #[error("account {account} may sell {sellable} t now, {requested} t requested")]
    InsufficientUnits {
        /// The account.
        account: AccountId,
        /// Units it may sell now.
        sellable: Quantity,
        /// Units requested.
        requested: Quantity,
    },
    /// Units bought today may not be sold today (China, T+1).
    #[error(
        "account {account} bought {bought_today} t today, which cannot be resold today; \
         it may sell {sellable} t, {requested} t requested"
    )]
    SameDayResale {
        /// The account.
        account: AccountId,
        /// Units bought since the last end of day.
        bought_today: Quantity,
        /// Units it may sell now.
        sellable: Quantity,
        /// Units requested.
        requested: Quantity,
    },
    /// The account cannot hold cash at the exchange.
    #[error("account {0} cannot hold exchange cash (trading and operator holding accounts only)")]
    NotCashAccount(AccountId),
    /// The fee account must be a trading account of an exchange operator.
    #[error("fee account {0} must be a trading account held by an exchange operator")]
    InvalidFeeAccount(AccountId),
    /// The fee rate is above 100%.
    #[error("fee {0} bps exceeds 10,000 bps")]
    InvalidFee(u32),
    /// A cash amount is zero or negative.
    #[error("amount must be positive, got {} minor units", .0.minor_units())]
    NonPositiveAmount(Money),
    /// No auction has this id.
    #[error("auction {0} does not exist")]
    UnknownAuction(AuctionId),
    /// The instrument's calendar is closed at the command's time.
    #[error("instrument {instrument} is closed at {local} local time")]
    MarketClosed {
        /// The instrument.
        instrument: Code,
        /// The local date and time, as text.
        local: String,
    },
    /// A sum or product does not fit.
    #[error("arithmetic overflow: {0}")]
    Overflow(&'static str),
    /// A buy would take the account's position in the class above the
    /// instrument's holding limit.
    #[error(
        "account {account} holds {held} and has {open_buys} of open buys in the class \
         of {instrument}; buying {requested} more would exceed its holding limit of {limit}"
    )]
    HoldingLimitExceeded {
        /// The instrument.
        instrument: Code,
        /// The buying account.
        account: AccountId,
        /// Units it holds of the class.
        held: Quantity,
        /// Open quantity of its buy orders and proposals in the class (an
        /// amended order's own quantity excluded).
        open_buys: Quantity,
        /// What the command would add.
        requested: Quantity,
        /// Its limit.
        limit: Quantity,
    },
    /// A block desk listed to follow an instrument that is not listed, is
    /// a block desk itself, or trades another unit class.
    #[error("block desk {desk} cannot follow instrument {listed}: {reason}")]
    InvalidBlockLink {
        /// The desk being listed.
        desk: Code,
        /// The instrument it was to follow.
        listed: Code,
        /// Why not.
        reason: &'static str,
    },
}

impl ExchangeError {
    /// The stable machine-readable code: the market's or registry's own
    /// code for their refusals.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            ExchangeError::Market(error) => error.code(),
            ExchangeError::Registry(error) => error.code(),
            ExchangeError::NotAdministrator { .. } => "not_administrator",
            ExchangeError::NotExchangeOperator { .. } => "not_exchange_operator",
            ExchangeError::UnknownInstrument(_) => "unknown_instrument",
            ExchangeError::InstrumentExists(_) => "instrument_exists",
            ExchangeError::WrongMode { .. } => "wrong_mode",
            ExchangeError::UnsupportedOrder(_) => "unsupported_order",
            ExchangeError::MarketBuyNeedsBand => "market_buy_needs_band",
            ExchangeError::InsufficientCash { .. } => "insufficient_cash",
            ExchangeError::InsufficientUnits { .. } => "insufficient_units",
            ExchangeError::SameDayResale { .. } => "same_day_resale",
            ExchangeError::NotCashAccount(_) => "not_cash_account",
            ExchangeError::InvalidFeeAccount(_) => "invalid_fee_account",
            ExchangeError::InvalidFee(_) => "invalid_fee",
            ExchangeError::NonPositiveAmount(_) => "non_positive_amount",
            ExchangeError::UnknownAuction(_) => "unknown_auction",
            ExchangeError::MarketClosed { .. } => "market_closed",
            ExchangeError::Overflow(_) => "overflow",
            ExchangeError::HoldingLimitExceeded { .. } => "holding_limit_exceeded",
            ExchangeError::InvalidBlockLink { .. } => "invalid_block_link",
        }
    }
}
