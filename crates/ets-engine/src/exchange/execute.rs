//! [`Exchange::execute`]: authorises a command, takes its holds, calls the
//! market, and settles what comes back. Every check that can refuse runs
//! before the first change, or the hold it took is given back when the
//! market refuses, so a refused command changes nothing.

use super::command::{AuctionId, ExchangeCommand, ExchangeEffect, TradingCalendar, TradingMode};
use super::error::ExchangeError;
use super::hashed::{HashedMap, sorted_keys};
use super::limits::{Allocations, HoldingLimit, NoAllocations};
use super::settle::{Ledger, Need};
use super::state::{
    AuctionState, Exchange, Instrument, OrderHold, TradeRecord, TradeVenue, Venue, cash_required,
};
use ets_market::{
    Amendment, Auction, AuctionRules, BlockDesk, Book, InstrumentRules, LISTED_VISIBLE_LEVELS,
    ListedBook, MarketData, MarketDataRules, MarketError, OrderId, OrderKind, OrderRequest,
    OrderStatus, PostRequest, ProposalRequest, Report, Side, TakeRequest, TimeInForce, TradeMode,
};
use ets_model::{AccountId, Code, Money, Price, Quantity, Timestamp, UnitClass};
use ets_registry::{AccountKind, Context, ParticipantKind, Registry};
use std::collections::BTreeMap;

/// The fields of a new order.
struct NewOrder {
    account: AccountId,
    side: Side,
    kind: OrderKind,
    quantity: Quantity,
    time_in_force: TimeInForce,
}

/// The fields of a new listing.
struct Listing<'a> {
    symbol: Code,
    class: &'a UnitClass,
    mode: TradingMode,
    rules: InstrumentRules,
    reference_price: Price,
    fee_bps: u32,
    fee_account: AccountId,
    no_same_day_resale: bool,
    market_data: MarketDataRules,
    calendar: Option<&'a TradingCalendar>,
}

/// The new terms of an auction bid.
struct BidChange {
    account: AccountId,
    bid: OrderId,
    price: Price,
    quantity: Quantity,
}

/// The fields of a new block proposal.
struct NewProposal {
    account: AccountId,
    counterparty: AccountId,
    side: Side,
    price: Price,
    quantity: Quantity,
    expires_at: Timestamp,
}

/// The exchange split into the parts one command changes at the same time.
struct Parts<'a> {
    instruments: &'a mut BTreeMap<Code, Instrument>,
    auctions: &'a mut BTreeMap<AuctionId, AuctionState>,
    ledger: Ledger<'a>,
    /// The exchange's one report, reused by every market call (each call
    /// clears it first), so a command allocates none.
    report: &'a mut Report,
}

impl Exchange {
    /// Executes one exchange command against the registry, knowing no
    /// allocations (a compliance entity's holding limit is then the fixed
    /// part alone; the engine uses [`Exchange::execute_with`]).
    ///
    /// # Errors
    /// An [`ExchangeError`] naming why the command was refused; the exchange
    /// and the registry are then unchanged.
    pub fn execute(
        &mut self,
        registry: &mut Registry,
        context: Context,
        command: &ExchangeCommand,
    ) -> Result<ExchangeEffect, ExchangeError> {
        self.execute_with(registry, &NoAllocations, context, command)
    }

    /// Executes one exchange command against the registry; `allocations`
    /// gives compliance entities' allocations for holding limits.
    ///
    /// # Errors
    /// An [`ExchangeError`] naming why the command was refused; the exchange
    /// and the registry are then unchanged.
    pub fn execute_with(
        &mut self,
        registry: &mut Registry,
        allocations: &dyn Allocations,
        context: Context,
        command: &ExchangeCommand,
    ) -> Result<ExchangeEffect, ExchangeError> {
        // One lookup of a trading command's instrument for both checks.
        let listed = trading_symbol(command).and_then(|symbol| self.instruments.get(symbol));
        check_open(listed, context)?;
        self.check_buy_limit(registry, allocations, context, command, listed)?;
        match command {
            ExchangeCommand::ListInstrument {
                symbol,
                class,
                mode,
                rules,
                reference_price,
                fee_bps,
                fee_account,
                no_same_day_resale,
                market_data,
                calendar,
            } => self.list_instrument(
                registry,
                context,
                &Listing {
                    symbol: *symbol,
                    class,
                    mode: *mode,
                    rules: *rules,
                    reference_price: *reference_price,
                    fee_bps: *fee_bps,
                    fee_account: *fee_account,
                    no_same_day_resale: *no_same_day_resale,
                    market_data: *market_data,
                    calendar: calendar.as_ref(),
                },
            ),
            ExchangeCommand::DepositCash { account, amount } => {
                self.deposit(registry, context, *account, *amount)
            }
            ExchangeCommand::WithdrawCash { account, amount } => {
                self.withdraw(registry, context, *account, *amount)
            }
            ExchangeCommand::PlaceOrder {
                instrument,
                account,
                side,
                kind,
                quantity,
                time_in_force,
            } => self.place_order(
                registry,
                context,
                instrument,
                &NewOrder {
                    account: *account,
                    side: *side,
                    kind: *kind,
                    quantity: *quantity,
                    time_in_force: *time_in_force,
                },
            ),
            ExchangeCommand::CancelOrder {
                instrument,
                account,
                order,
            } => self.cancel_order(registry, context, instrument, *account, *order),
            ExchangeCommand::AmendOrder {
                instrument,
                account,
                order,
                price,
                quantity,
            } => self.amend_order(
                registry,
                context,
                instrument,
                *account,
                *order,
                Amendment {
                    price: *price,
                    open_quantity: *quantity,
                },
            ),
            ExchangeCommand::TakeListed {
                instrument,
                account,
                maker_order,
                quantity,
            } => self.take_listed(
                registry,
                context,
                instrument,
                *account,
                *maker_order,
                *quantity,
            ),
            ExchangeCommand::ProposeBlock {
                instrument,
                account,
                counterparty,
                side,
                price,
                quantity,
                expires_at,
            } => self.propose_block(
                registry,
                context,
                instrument,
                &NewProposal {
                    account: *account,
                    counterparty: *counterparty,
                    side: *side,
                    price: *price,
                    quantity: *quantity,
                    expires_at: *expires_at,
                },
            ),
            ExchangeCommand::AcceptBlock {
                instrument,
                account,
                proposal,
            } => self.accept_block(registry, context, instrument, *account, *proposal),
            ExchangeCommand::DeclineBlock {
                instrument,
                account,
                proposal,
            } => self.end_block(registry, context, instrument, *account, *proposal, true),
            ExchangeCommand::WithdrawBlock {
                instrument,
                account,
                proposal,
            } => self.end_block(registry, context, instrument, *account, *proposal, false),
            ExchangeCommand::EndOfDay { instrument } => {
                self.end_of_day(registry, context, instrument)
            }
            ExchangeCommand::OpenAuction { class, rules, seed } => {
                self.open_auction(registry, context, class, *rules, *seed)
            }
            ExchangeCommand::SubmitBid {
                auction,
                account,
                price,
                quantity,
            } => self.submit_bid(registry, context, *auction, *account, *price, *quantity),
            ExchangeCommand::WithdrawBid {
                auction,
                account,
                bid,
            } => self.withdraw_bid(registry, context, *auction, *account, *bid),
            ExchangeCommand::CloseAuction { auction } => {
                self.close_auction(registry, context, *auction)
            }
            ExchangeCommand::SetHoldingLimit { instrument, limit } => {
                self.set_holding_limit(registry, context, instrument, *limit)
            }
            ExchangeCommand::ModifyBid {
                auction,
                account,
                bid,
                price,
                quantity,
            } => self.modify_bid(
                registry,
                context,
                *auction,
                &BidChange {
                    account: *account,
                    bid: *bid,
                    price: *price,
                    quantity: *quantity,
                },
            ),
        }
    }

    /// Refuses a buy (order, amendment, take, proposal or acceptance) that
    /// could take its account above the instrument's holding limit. Runs
    /// before anything changes; instruments without a limit pass at once.
    fn check_buy_limit(
        &self,
        registry: &Registry,
        allocations: &dyn Allocations,
        context: Context,
        command: &ExchangeCommand,
        listed: Option<&Instrument>,
    ) -> Result<(), ExchangeError> {
        let Some(listed) = listed.filter(|listed| listed.holding_limit.is_some()) else {
            return Ok(());
        };
        let symbol = &listed.symbol;
        // (account, tonnes added, the order being replaced) of a buy.
        let buy = match command {
            ExchangeCommand::PlaceOrder {
                account,
                side: Side::Buy,
                quantity,
                ..
            }
            | ExchangeCommand::ProposeBlock {
                account,
                side: Side::Buy,
                quantity,
                ..
            } => Some((*account, *quantity, None)),
            ExchangeCommand::AmendOrder {
                account,
                order,
                quantity,
                ..
            } => listed
                .holds
                .get(order)
                .filter(|hold| hold.side == Side::Buy && hold.account == *account)
                // Only an increase can add to the position: lowering a buy or moving
                // its price is always allowed, even above a limit set later.
                .filter(|_| *quantity > listed.venue.open_quantity(*order))
                .map(|_| (*account, *quantity, Some(*order))),
            ExchangeCommand::TakeListed {
                account,
                maker_order,
                quantity,
                ..
            } => listed
                .venue
                .book()
                .and_then(|book| book.order(*maker_order))
                .filter(|maker| maker.side == Side::Sell)
                .map(|_| (*account, *quantity, None)),
            ExchangeCommand::AcceptBlock {
                account, proposal, ..
            } => match &listed.venue {
                Venue::Block(desk) => desk
                    .proposal(*proposal)
                    .filter(|open| open.side == Side::Sell && open.counterparty == *account)
                    .map(|open| (*account, open.quantity, None)),
                _ => None,
            },
            _ => None,
        };
        let Some((account, adding, replacing)) = buy else {
            return Ok(());
        };
        // Unknown accounts and strangers are left to the command's own checks
        // (a stranger must not learn the account's position from the refusal).
        if registry
            .check_representative(context.requester, account)
            .is_err()
        {
            return Ok(());
        }
        self.check_holding_limit(registry, allocations, symbol, account, adding, replacing)
    }

    /// Splits the exchange into the parts one command changes at once: the
    /// instruments, the auctions and the ledger settlement changes. The one
    /// place a [`Ledger`] is built.
    fn parts<'a>(&'a mut self, registry: &'a mut Registry, context: Context) -> Parts<'a> {
        Parts {
            instruments: &mut self.instruments,
            auctions: &mut self.auctions,
            ledger: Ledger {
                registry,
                cash: &mut self.cash,
                bought_today: &mut self.bought_today,
                trades: &mut self.trades,
                context,
            },
            report: &mut self.report.0,
        }
    }

    /// Splits the exchange into one instrument, the ledger settlement
    /// changes and the reused report, emptied.
    fn split<'a>(
        &'a mut self,
        registry: &'a mut Registry,
        context: Context,
        symbol: &Code,
    ) -> Result<(&'a mut Instrument, Ledger<'a>, &'a mut Report), ExchangeError> {
        let Parts {
            instruments,
            ledger,
            report,
            ..
        } = self.parts(registry, context);
        let instrument = instruments
            .get_mut(symbol)
            .ok_or(ExchangeError::UnknownInstrument(*symbol))?;
        report.clear();
        Ok((instrument, ledger, report))
    }

    fn ledger<'a>(&'a mut self, registry: &'a mut Registry, context: Context) -> Ledger<'a> {
        self.parts(registry, context).ledger
    }

    fn instrument(&self, symbol: &Code) -> Result<&Instrument, ExchangeError> {
        self.instruments
            .get(symbol)
            .ok_or(ExchangeError::UnknownInstrument(*symbol))
    }

    // ----- listing and cash ------------------------------------------------------------

    fn list_instrument(
        &mut self,
        registry: &Registry,
        context: Context,
        listing: &Listing<'_>,
    ) -> Result<ExchangeEffect, ExchangeError> {
        require_kind(
            registry,
            context,
            ParticipantKind::Administrator,
            "list instruments",
        )?;
        if self.instruments.contains_key(&listing.symbol) {
            return Err(ExchangeError::InstrumentExists(listing.symbol));
        }
        if listing.fee_bps > 10_000 {
            return Err(ExchangeError::InvalidFee(listing.fee_bps));
        }
        let fee_account = registry.account(listing.fee_account)?;
        let fee_holder = registry.participant(fee_account.holder)?;
        if fee_account.kind != AccountKind::Trading || fee_holder.kind != ParticipantKind::Exchange
        {
            return Err(ExchangeError::InvalidFeeAccount(listing.fee_account));
        }
        let class_index = registry.class_index(listing.class)?;
        self.check_block_link(listing.symbol, listing.mode, class_index)?;
        let (rules, reference) = (listing.rules, listing.reference_price);
        let venue = match listing.mode {
            TradingMode::Continuous => Venue::Continuous(Book::new(rules, reference)?),
            TradingMode::ChinaListed => {
                Venue::Listed(ListedBook::new(rules, reference, LISTED_VISIBLE_LEVELS)?)
            }
            TradingMode::ChinaBlock | TradingMode::ChinaBlockOf { .. } => {
                Venue::Block(BlockDesk::new(rules, reference)?)
            }
        };
        self.instruments.insert(
            listing.symbol,
            Instrument {
                symbol: listing.symbol,
                class: *listing.class,
                class_index,
                mode: listing.mode,
                rules,
                reference_price: reference,
                fee_bps: listing.fee_bps,
                fee_account: listing.fee_account,
                no_same_day_resale: listing.no_same_day_resale,
                venue,
                market_data: MarketData::new(listing.market_data, reference),
                holds: HashedMap::default(),
                calendar: listing.calendar.cloned(),
                holding_limit: None,
            },
        );
        Ok(ExchangeEffect::InstrumentListed {
            instrument: listing.symbol,
        })
    }

    /// A desk that follows a listed instrument's close may only follow one
    /// that is listed, is not a block desk itself and trades the same class
    /// (its close must be a price of the desk's units).
    fn check_block_link(
        &self,
        desk: Code,
        mode: TradingMode,
        class_index: u32,
    ) -> Result<(), ExchangeError> {
        let Some(listed) = mode.follows() else {
            return Ok(());
        };
        let refuse = |reason| ExchangeError::InvalidBlockLink {
            desk,
            listed,
            reason,
        };
        let followed = self
            .instruments
            .get(&listed)
            .ok_or_else(|| refuse("it is not listed"))?;
        if followed.mode.is_block() {
            return Err(refuse("it is a block desk, whose trades form no close"));
        }
        if followed.class_index != class_index {
            return Err(refuse("it trades another unit class"));
        }
        Ok(())
    }

    fn deposit(
        &mut self,
        registry: &Registry,
        context: Context,
        account: AccountId,
        amount: Money,
    ) -> Result<ExchangeEffect, ExchangeError> {
        require_kind(registry, context, ParticipantKind::Exchange, "deposit cash")?;
        check_cash_account(registry, account)?;
        if amount <= Money::ZERO {
            return Err(ExchangeError::NonPositiveAmount(amount));
        }
        let total = self
            .total_cash
            .checked_add(amount)
            .map_err(|_| ExchangeError::Overflow("total cash"))?;
        self.total_cash = total;
        let balance = self.cash.entry(account).or_default();
        // Every balance is at most the total, which fits.
        balance.available = Money::new(balance.available.minor_units() + amount.minor_units());
        Ok(ExchangeEffect::CashUpdated {
            account,
            balance: *balance,
        })
    }

    fn withdraw(
        &mut self,
        registry: &Registry,
        context: Context,
        account: AccountId,
        amount: Money,
    ) -> Result<ExchangeEffect, ExchangeError> {
        require_kind(
            registry,
            context,
            ParticipantKind::Exchange,
            "withdraw cash",
        )?;
        if amount <= Money::ZERO {
            return Err(ExchangeError::NonPositiveAmount(amount));
        }
        let balance = self.cash(account);
        if balance.available < amount {
            return Err(ExchangeError::InsufficientCash {
                account,
                available: balance.available,
                required: amount,
            });
        }
        self.total_cash = Money::new(self.total_cash.minor_units() - amount.minor_units());
        let balance = self.cash.entry(account).or_default();
        balance.available = Money::new(balance.available.minor_units() - amount.minor_units());
        Ok(ExchangeEffect::CashUpdated {
            account,
            balance: *balance,
        })
    }

    // ----- continuous and listed orders ------------------------------------------------

    fn place_order(
        &mut self,
        registry: &mut Registry,
        context: Context,
        symbol: &Code,
        order: &NewOrder,
    ) -> Result<ExchangeEffect, ExchangeError> {
        registry.check_may_trade(context.requester, order.account)?;
        // Split first (one lookup of the instrument): nothing changes before the hold.
        let (instrument, mut ledger, report) = self.split(registry, context, symbol)?;
        if instrument.mode.is_block() {
            return Err(wrong_mode(symbol, "orders; propose a block"));
        }
        let listed = instrument.mode == TradingMode::ChinaListed;
        let rules = instrument.rules;
        rules.check_quantity(order.quantity)?;
        let hold_price = match order.kind {
            OrderKind::Limit(price) => {
                instrument.check_price(price)?;
                price
            }
            OrderKind::Market if listed => {
                return Err(ExchangeError::UnsupportedOrder(
                    "listed-agreement orders are day limit orders",
                ));
            }
            OrderKind::Market => match (order.side, rules.band(instrument.reference_price)) {
                (Side::Buy, Some(band)) => band.upper,
                (Side::Buy, None) => return Err(ExchangeError::MarketBuyNeedsBand),
                (Side::Sell, _) => Price::default(),
            },
        };
        if listed && order.time_in_force != TimeInForce::Day {
            return Err(ExchangeError::UnsupportedOrder(
                "listed-agreement orders are day limit orders",
            ));
        }
        let need = need_for(
            instrument,
            order.account,
            order.side,
            hold_price,
            order.quantity,
        )?;
        ledger.hold(&need)?;
        let entered = match &mut instrument.venue {
            Venue::Continuous(book) => book.submit(
                &OrderRequest {
                    trader: order.account,
                    side: order.side,
                    kind: order.kind,
                    quantity: order.quantity,
                    time_in_force: order.time_in_force,
                },
                context.at,
                report,
            ),
            Venue::Listed(listed) => listed.post(
                &PostRequest {
                    trader: order.account,
                    side: order.side,
                    price: hold_price,
                    quantity: order.quantity,
                },
                context.at,
                report,
            ),
            Venue::Block(_) => Err(MarketError::InvalidRules("orders on a block desk")),
        };
        let id = match entered {
            Ok(id) => id,
            Err(error) => {
                ledger.unhold(&need);
                return Err(error.into());
            }
        };
        instrument.holds.insert(id, hold_of(&need, hold_price));
        // An order that only rested, whole, holds exactly what its price and
        // quantity need and nothing else changed: settlement has nothing to do.
        let (trades, open) = if rested_whole(report, id, order.quantity) {
            (Vec::new(), order.quantity)
        } else {
            let trades = ledger.apply(instrument, report, &[id]);
            (trades, instrument.venue.open_quantity(id))
        };
        Ok(ExchangeEffect::OrderEntered {
            instrument: *symbol,
            order: id,
            trades,
            open,
        })
    }

    fn cancel_order(
        &mut self,
        registry: &mut Registry,
        context: Context,
        symbol: &Code,
        account: AccountId,
        order: OrderId,
    ) -> Result<ExchangeEffect, ExchangeError> {
        registry.check_representative(context.requester, account)?;
        let (instrument, mut ledger, report) = self.split(registry, context, symbol)?;
        match &mut instrument.venue {
            Venue::Continuous(book) => book.cancel(account, order, context.at, report)?,
            Venue::Listed(listed) => listed.cancel(account, order, context.at, report)?,
            Venue::Block(_) => return Err(wrong_mode(symbol, "cancel; withdraw the proposal")),
        }
        ledger.apply(instrument, report, &[order]);
        Ok(ExchangeEffect::OrderClosed {
            instrument: *symbol,
            order,
        })
    }

    fn amend_order(
        &mut self,
        registry: &mut Registry,
        context: Context,
        symbol: &Code,
        account: AccountId,
        order: OrderId,
        amendment: Amendment,
    ) -> Result<ExchangeEffect, ExchangeError> {
        registry.check_may_trade(context.requester, account)?;
        let instrument = self.instrument(symbol)?;
        if instrument.mode.is_block() {
            return Err(wrong_mode(symbol, "amendments"));
        }
        let hold = *instrument
            .holds
            .get(&order)
            .ok_or(MarketError::UnknownOrder(order))?;
        if hold.account != account {
            return Err(MarketError::NotOwner {
                order,
                owner: hold.account,
                trader: account,
            }
            .into());
        }
        instrument.check_price(amendment.price)?;
        instrument.rules.check_lots(amendment.open_quantity)?;
        let mut need = need_for(
            instrument,
            account,
            hold.side,
            amendment.price,
            amendment.open_quantity,
        )?;
        // Only the increase over what is already held needs holding.
        need.units = need.units.checked_sub(hold.units).unwrap_or(Quantity::ZERO);
        need.cash = Money::new((need.cash.minor_units() - hold.cash.minor_units()).max(0));
        let (instrument, mut ledger, report) = self.split(registry, context, symbol)?;
        ledger.hold(&need)?;
        let amended = match &mut instrument.venue {
            Venue::Continuous(book) => book.amend(account, order, &amendment, context.at, report),
            Venue::Listed(listed) => listed.amend(account, order, &amendment, context.at, report),
            Venue::Block(_) => Err(MarketError::InvalidRules("amendments on a block desk")),
        };
        if let Err(error) = amended {
            ledger.unhold(&need);
            return Err(error.into());
        }
        if let Some(hold) = instrument.holds.get_mut(&order) {
            hold.price = amendment.price;
            hold.units = Quantity::new(hold.units.tonnes() + need.units.tonnes());
            hold.cash = Money::new(hold.cash.minor_units() + need.cash.minor_units());
        }
        let trades = ledger.apply(instrument, report, &[order]);
        Ok(ExchangeEffect::OrderEntered {
            instrument: *symbol,
            order,
            trades,
            open: instrument.venue.open_quantity(order),
        })
    }

    fn take_listed(
        &mut self,
        registry: &mut Registry,
        context: Context,
        symbol: &Code,
        account: AccountId,
        maker_order: OrderId,
        quantity: Quantity,
    ) -> Result<ExchangeEffect, ExchangeError> {
        registry.check_may_trade(context.requester, account)?;
        let instrument = self.instrument(symbol)?;
        let Venue::Listed(listed) = &instrument.venue else {
            return Err(wrong_mode(symbol, "listed-agreement takes"));
        };
        let maker = listed
            .book()
            .order(maker_order)
            .ok_or(MarketError::UnknownOrder(maker_order))?;
        instrument.rules.check_lots(quantity)?;
        let side = maker.side.opposite();
        let need = need_for(instrument, account, side, maker.price, quantity)?;
        let (instrument, mut ledger, report) = self.split(registry, context, symbol)?;
        ledger.hold(&need)?;
        let taken = match &mut instrument.venue {
            Venue::Listed(listed) => listed.take(
                &TakeRequest {
                    trader: account,
                    maker_order,
                    quantity,
                },
                context.at,
                report,
            ),
            _ => Err(MarketError::InvalidRules("takes outside a listed book")),
        };
        let id = match taken {
            Ok(id) => id,
            Err(error) => {
                ledger.unhold(&need);
                return Err(error.into());
            }
        };
        instrument.holds.insert(id, hold_of(&need, maker.price));
        let trades = ledger.apply(instrument, report, &[id, maker_order]);
        Ok(ExchangeEffect::OrderEntered {
            instrument: *symbol,
            order: id,
            trades,
            open: Quantity::ZERO,
        })
    }

    // ----- block agreement -------------------------------------------------------------

    fn propose_block(
        &mut self,
        registry: &mut Registry,
        context: Context,
        symbol: &Code,
        proposal: &NewProposal,
    ) -> Result<ExchangeEffect, ExchangeError> {
        registry.check_may_trade(context.requester, proposal.account)?;
        check_cash_account(registry, proposal.counterparty)?;
        let instrument = self.instrument(symbol)?;
        if !instrument.mode.is_block() {
            return Err(wrong_mode(symbol, "block proposals"));
        }
        instrument.rules.check_quantity(proposal.quantity)?;
        instrument.check_price(proposal.price)?;
        let need = need_for(
            instrument,
            proposal.account,
            proposal.side,
            proposal.price,
            proposal.quantity,
        )?;
        let (instrument, mut ledger, _) = self.split(registry, context, symbol)?;
        ledger.hold(&need)?;
        let proposed = match &mut instrument.venue {
            Venue::Block(desk) => desk.propose(
                &ProposalRequest {
                    proposer: proposal.account,
                    counterparty: proposal.counterparty,
                    side: proposal.side,
                    price: proposal.price,
                    quantity: proposal.quantity,
                    expires_at: proposal.expires_at,
                },
                context.at,
            ),
            _ => Err(MarketError::InvalidRules("proposals outside a block desk")),
        };
        let id = match proposed {
            Ok(id) => id,
            Err(error) => {
                ledger.unhold(&need);
                return Err(error.into());
            }
        };
        instrument.holds.insert(id, hold_of(&need, proposal.price));
        Ok(ExchangeEffect::OrderEntered {
            instrument: *symbol,
            order: id,
            trades: Vec::new(),
            open: proposal.quantity,
        })
    }

    fn accept_block(
        &mut self,
        registry: &mut Registry,
        context: Context,
        symbol: &Code,
        account: AccountId,
        proposal: OrderId,
    ) -> Result<ExchangeEffect, ExchangeError> {
        registry.check_may_trade(context.requester, account)?;
        let instrument = self.instrument(symbol)?;
        let Venue::Block(desk) = &instrument.venue else {
            return Err(wrong_mode(symbol, "block acceptances"));
        };
        let open = *desk
            .proposal(proposal)
            .ok_or(MarketError::UnknownProposal(proposal))?;
        if open.counterparty != account {
            return Err(MarketError::NotCounterparty {
                proposal,
                counterparty: open.counterparty,
                trader: account,
            }
            .into());
        }
        let side = open.side.opposite();
        let need = need_for(instrument, account, side, open.price, open.quantity)?;
        let (instrument, mut ledger, report) = self.split(registry, context, symbol)?;
        ledger.hold(&need)?;
        let accepted = match &mut instrument.venue {
            Venue::Block(desk) => desk.accept(account, proposal, context.at),
            _ => Err(MarketError::UnknownProposal(proposal)),
        };
        let (fill, _) = match accepted {
            Ok(done) => done,
            Err(error) => {
                ledger.unhold(&need);
                return Err(error.into());
            }
        };
        instrument
            .holds
            .insert(fill.taker_order, hold_of(&need, open.price));
        report.fills.push(fill);
        let trades = ledger.apply(instrument, report, &[proposal, fill.taker_order]);
        Ok(ExchangeEffect::OrderEntered {
            instrument: *symbol,
            order: fill.taker_order,
            trades,
            open: Quantity::ZERO,
        })
    }

    fn end_block(
        &mut self,
        registry: &mut Registry,
        context: Context,
        symbol: &Code,
        account: AccountId,
        proposal: OrderId,
        decline: bool,
    ) -> Result<ExchangeEffect, ExchangeError> {
        registry.check_representative(context.requester, account)?;
        let (instrument, mut ledger, _) = self.split(registry, context, symbol)?;
        let Venue::Block(desk) = &mut instrument.venue else {
            return Err(wrong_mode(symbol, "block proposals"));
        };
        if decline {
            desk.decline(account, proposal, context.at)?;
        } else {
            desk.withdraw(account, proposal, context.at)?;
        }
        ledger.reconcile(instrument, proposal);
        Ok(ExchangeEffect::OrderClosed {
            instrument: *symbol,
            order: proposal,
        })
    }

    // ----- end of day ------------------------------------------------------------------

    fn end_of_day(
        &mut self,
        registry: &mut Registry,
        context: Context,
        symbol: &Code,
    ) -> Result<ExchangeEffect, ExchangeError> {
        let kind = registry.participant(context.requester).map(|p| p.kind);
        if !matches!(
            kind,
            Ok(ParticipantKind::Administrator | ParticipantKind::Exchange)
        ) {
            return Err(ExchangeError::NotExchangeOperator {
                action: "end the trading day",
                requester: context.requester,
            });
        }
        let (instrument, mut ledger, report) = self.split(registry, context, symbol)?;
        // Only a time before the last call can fail, before anything changes.
        let expired = match &mut instrument.venue {
            Venue::Continuous(book) => {
                book.expire_day_orders(context.at, report)?;
                report.updates.len()
            }
            Venue::Listed(listed) => {
                listed.expire_day_orders(context.at, report)?;
                report.updates.len()
            }
            Venue::Block(desk) => desk.expire(context.at)?.len(),
        };
        let orders = sorted_keys(&instrument.holds);
        for order in orders {
            ledger.reconcile(instrument, order);
        }
        let stats = instrument.market_data.close_day();
        instrument.recentre(stats.close);
        let (class_index, forms_prices) = (instrument.class_index, !instrument.mode.is_block());
        ledger
            .bought_today
            .retain(|(_, class), _| *class != class_index);
        if forms_prices {
            self.recentre_followers(symbol, stats.close);
        }
        Ok(ExchangeEffect::DayClosed {
            instrument: *symbol,
            stats,
            expired: u32::try_from(expired).unwrap_or(u32::MAX),
        })
    }

    /// Centres the band of every desk that follows `listed` on its new
    /// close, at once: a desk's reference is always the listed instrument's
    /// latest close, whichever of the two ends its day first and whatever
    /// trades between the two ends (docs/exchange.md, "Block band").
    fn recentre_followers(&mut self, listed: &Code, close: Price) {
        let followers = self
            .instruments
            .values_mut()
            .filter(|desk| desk.mode.follows() == Some(*listed));
        for desk in followers {
            desk.follow_close(close);
        }
    }

    // ----- auctions --------------------------------------------------------------------

    fn open_auction(
        &mut self,
        registry: &mut Registry,
        context: Context,
        class: &UnitClass,
        rules: AuctionRules,
        seed: u64,
    ) -> Result<ExchangeEffect, ExchangeError> {
        require_kind(
            registry,
            context,
            ParticipantKind::Administrator,
            "open auctions",
        )?;
        let class_index = registry.class_index(class)?;
        let seller = registry.system_account(AccountKind::Auction)?;
        let auction = Auction::new(rules, seed)?;
        let volume = rules
            .volume_offered
            .checked_add(
                rules
                    .cost_containment
                    .map_or(Quantity::ZERO, |ccr| ccr.volume),
            )
            .map_err(|_| ExchangeError::Overflow("auction volume"))?;
        let available = registry.units_available(seller, class_index);
        if available < volume {
            return Err(ExchangeError::InsufficientUnits {
                account: seller,
                sellable: available,
                requested: volume,
            });
        }
        registry.hold_units(seller, class_index, volume)?;
        let id = AuctionId(self.auctions.len() as u64 + 1);
        self.auctions.insert(
            id,
            AuctionState {
                auction,
                class_index,
                seller,
                units_held: volume,
                bids: std::collections::BTreeMap::new(),
                outcome: None,
            },
        );
        Ok(ExchangeEffect::AuctionOpened { auction: id })
    }

    fn submit_bid(
        &mut self,
        registry: &mut Registry,
        context: Context,
        auction: AuctionId,
        account: AccountId,
        price: Price,
        quantity: Quantity,
    ) -> Result<ExchangeEffect, ExchangeError> {
        registry.check_may_trade(context.requester, account)?;
        let cash = cash_required(price, quantity, 0).ok_or(ExchangeError::Overflow("bid value"))?;
        let Parts {
            auctions,
            mut ledger,
            ..
        } = self.parts(registry, context);
        let state = auctions
            .get_mut(&auction)
            .ok_or(ExchangeError::UnknownAuction(auction))?;
        ledger.hold_cash(account, cash)?;
        let bid = match state
            .auction
            .submit_bid(account, price, quantity, context.at)
        {
            Ok(bid) => bid,
            Err(error) => {
                ledger.release_cash(account, cash);
                return Err(error.into());
            }
        };
        state.bids.insert(
            bid,
            OrderHold {
                account,
                side: Side::Buy,
                price,
                units: Quantity::ZERO,
                cash,
            },
        );
        Ok(ExchangeEffect::BidSubmitted { auction, bid })
    }

    fn withdraw_bid(
        &mut self,
        registry: &mut Registry,
        context: Context,
        auction: AuctionId,
        account: AccountId,
        bid: OrderId,
    ) -> Result<ExchangeEffect, ExchangeError> {
        registry.check_representative(context.requester, account)?;
        let state = self
            .auctions
            .get_mut(&auction)
            .ok_or(ExchangeError::UnknownAuction(auction))?;
        state.auction.withdraw_bid(account, bid, context.at)?;
        let released = state
            .bids
            .remove(&bid)
            .map_or(Money::ZERO, |hold| hold.cash);
        self.ledger(registry, context)
            .release_cash(account, released);
        Ok(ExchangeEffect::BidWithdrawn { auction, bid })
    }

    fn modify_bid(
        &mut self,
        registry: &mut Registry,
        context: Context,
        auction: AuctionId,
        change: &BidChange,
    ) -> Result<ExchangeEffect, ExchangeError> {
        let BidChange {
            account,
            bid,
            price,
            quantity,
        } = *change;
        registry.check_may_trade(context.requester, account)?;
        let cash = cash_required(price, quantity, 0).ok_or(ExchangeError::Overflow("bid value"))?;
        let state = self
            .auctions
            .get(&auction)
            .ok_or(ExchangeError::UnknownAuction(auction))?;
        if state.auction.is_closed() {
            return Err(MarketError::AuctionClosed.into());
        }
        let held = match state.bids.get(&bid) {
            Some(hold) if hold.account == account => hold.cash,
            Some(hold) => {
                return Err(MarketError::NotOwner {
                    order: bid,
                    owner: hold.account,
                    trader: account,
                }
                .into());
            }
            None => return Err(MarketError::UnknownOrder(bid).into()),
        };
        // Only an increase needs holding before the call; a decrease is released after.
        let more = Money::new((cash.minor_units() - held.minor_units()).max(0));
        let Parts {
            auctions,
            mut ledger,
            ..
        } = self.parts(registry, context);
        ledger.hold_cash(account, more)?;
        let Some(state) = auctions.get_mut(&auction) else {
            ledger.release_cash(account, more);
            return Err(ExchangeError::UnknownAuction(auction));
        };
        if let Err(error) = state
            .auction
            .modify_bid(account, bid, price, quantity, context.at)
        {
            ledger.release_cash(account, more);
            return Err(error.into());
        }
        let less = Money::new((held.minor_units() - cash.minor_units()).max(0));
        ledger.release_cash(account, less);
        if let Some(hold) = state.bids.get_mut(&bid) {
            hold.price = price;
            hold.cash = cash;
        }
        Ok(ExchangeEffect::BidModified { auction, bid })
    }

    fn set_holding_limit(
        &mut self,
        registry: &Registry,
        context: Context,
        symbol: &Code,
        limit: Option<HoldingLimit>,
    ) -> Result<ExchangeEffect, ExchangeError> {
        require_kind(
            registry,
            context,
            ParticipantKind::Administrator,
            "set holding limits",
        )?;
        let instrument = self
            .instruments
            .get_mut(symbol)
            .ok_or(ExchangeError::UnknownInstrument(*symbol))?;
        instrument.holding_limit = limit;
        Ok(ExchangeEffect::HoldingLimitSet {
            instrument: *symbol,
            limit,
        })
    }

    /// Closes everything `account` has open at the exchange: resting orders
    /// are cancelled, its block proposals withdrawn and its auction bids
    /// withdrawn, each hold released. Called when the registry blocks the
    /// account, in the same command. Returns how many were closed.
    pub fn close_all_of(
        &mut self,
        registry: &mut Registry,
        context: Context,
        account: AccountId,
    ) -> u32 {
        let mut closed: u32 = 0;
        let symbols: Vec<Code> = self.instruments.keys().copied().collect();
        for symbol in symbols {
            let Ok((instrument, mut ledger, report)) = self.split(registry, context, &symbol)
            else {
                continue;
            };
            let mut orders = sorted_keys(&instrument.holds);
            orders.retain(|order| instrument.holds[order].account == account);
            for order in orders {
                report.clear();
                // Only a time before the venue's last call could fail; the
                // sequencer's times never go backwards.
                let done = match &mut instrument.venue {
                    Venue::Continuous(book) => {
                        book.cancel(account, order, context.at, report).is_ok()
                    }
                    Venue::Listed(listed) => {
                        listed.cancel(account, order, context.at, report).is_ok()
                    }
                    Venue::Block(desk) => desk.withdraw(account, order, context.at).is_ok(),
                };
                ledger.apply(instrument, report, &[order]);
                closed += u32::from(done);
            }
        }
        let Parts {
            auctions,
            mut ledger,
            ..
        } = self.parts(registry, context);
        for state in auctions.values_mut() {
            let bids: Vec<OrderId> = state
                .bids
                .iter()
                .filter(|(_, hold)| hold.account == account)
                .map(|(bid, _)| *bid)
                .collect();
            for bid in bids {
                if state.auction.withdraw_bid(account, bid, context.at).is_ok()
                    && let Some(hold) = state.bids.remove(&bid)
                {
                    ledger.release_cash(account, hold.cash);
                    closed += 1;
                }
            }
        }
        closed
    }

    fn close_auction(
        &mut self,
        registry: &mut Registry,
        context: Context,
        auction: AuctionId,
    ) -> Result<ExchangeEffect, ExchangeError> {
        require_kind(
            registry,
            context,
            ParticipantKind::Administrator,
            "close auctions",
        )?;
        let Parts {
            auctions,
            mut ledger,
            ..
        } = self.parts(registry, context);
        let state = auctions
            .get_mut(&auction)
            .ok_or(ExchangeError::UnknownAuction(auction))?;
        let outcome = state.auction.close(context.at)?;
        let mut trades = Vec::with_capacity(outcome.awards.len());
        for award in outcome
            .awards
            .iter()
            .filter(|award| !award.quantity.is_zero())
        {
            let Some(hold) = state.bids.get_mut(&award.bid) else {
                panic!(
                    "settlement invariant broken: auction {} awarded bid {} that holds nothing",
                    auction.0, award.bid.0
                );
            };
            let record = TradeRecord {
                id: 0,
                venue: TradeVenue::Auction(auction),
                mode: TradeMode::Auction,
                maker_order: award.bid,
                taker_order: award.bid,
                buyer: award.bidder,
                seller: state.seller,
                price: award.price,
                quantity: award.quantity,
                buyer_fee: Money::ZERO,
                seller_fee: Money::ZERO,
                at: context.at,
                transaction: ets_model::TransactionId(0),
            };
            trades.push(ledger.settle_award(record, state.class_index, hold));
            state.units_held = state
                .units_held
                .checked_sub(award.quantity)
                .unwrap_or_else(|| {
                    panic!(
                        "settlement invariant broken: auction {} awards more than it holds",
                        auction.0
                    )
                });
        }
        ledger
            .registry
            .release_units(state.seller, state.class_index, state.units_held);
        state.units_held = Quantity::ZERO;
        for hold in std::mem::take(&mut state.bids).into_values() {
            ledger.release_cash(hold.account, hold.cash);
        }
        let effect = ExchangeEffect::AuctionClosed {
            auction,
            status: outcome.status,
            clearing_price: outcome.clearing_price,
            sold: outcome.sold,
            trades,
        };
        state.outcome = Some(outcome);
        Ok(effect)
    }
}

/// What an order of `side` for `quantity` at `price` must hold on `instrument`.
/// The instrument a trading command (order, amendment, take, proposal,
/// acceptance) names; `None` for every other command.
fn trading_symbol(command: &ExchangeCommand) -> Option<&Code> {
    match command {
        ExchangeCommand::PlaceOrder { instrument, .. }
        | ExchangeCommand::AmendOrder { instrument, .. }
        | ExchangeCommand::TakeListed { instrument, .. }
        | ExchangeCommand::ProposeBlock { instrument, .. }
        | ExchangeCommand::AcceptBlock { instrument, .. } => Some(instrument),
        _ => None,
    }
}

/// Refuses a trading command when its instrument's calendar (`listed`, the
/// instrument [`trading_symbol`] names, when listed) is closed at its time.
fn check_open(listed: Option<&Instrument>, context: Context) -> Result<(), ExchangeError> {
    let Some((symbol, calendar)) =
        listed.and_then(|listed| Some((listed.symbol, listed.calendar.as_ref()?)))
    else {
        return Ok(());
    };
    if calendar.is_open(context.at) {
        return Ok(());
    }
    Err(ExchangeError::MarketClosed {
        instrument: symbol,
        local: calendar.local(context.at).to_string(),
    })
}

fn need_for(
    instrument: &Instrument,
    account: AccountId,
    side: Side,
    price: Price,
    quantity: Quantity,
) -> Result<Need, ExchangeError> {
    let (units, cash) = match side {
        Side::Sell => (quantity, Money::ZERO),
        Side::Buy => (
            Quantity::ZERO,
            cash_required(price, quantity, instrument.fee_bps)
                .ok_or(ExchangeError::Overflow("order value"))?,
        ),
    };
    Ok(Need {
        account,
        side,
        class_index: instrument.class_index,
        units,
        cash,
        no_same_day_resale: instrument.no_same_day_resale,
    })
}

/// Whether a new order's market call only rested it, whole: no fill, and
/// the order's own update the only one, open for every tonne ordered (the
/// usual passive order, whose reconciliation would change nothing).
fn rested_whole(report: &Report, id: OrderId, quantity: Quantity) -> bool {
    report.fills.is_empty()
        && matches!(
            report.updates.as_slice(),
            [update] if update.order == id
                && update.status == OrderStatus::Open
                && update.open == quantity
        )
}

fn hold_of(need: &Need, price: Price) -> OrderHold {
    OrderHold {
        account: need.account,
        side: need.side,
        price,
        units: need.units,
        cash: need.cash,
    }
}

fn wrong_mode(symbol: &Code, action: &'static str) -> ExchangeError {
    ExchangeError::WrongMode {
        instrument: *symbol,
        action,
    }
}

fn require_kind(
    registry: &Registry,
    context: Context,
    kind: ParticipantKind,
    action: &'static str,
) -> Result<(), ExchangeError> {
    if registry
        .participant(context.requester)
        .is_ok_and(|participant| participant.kind == kind)
    {
        return Ok(());
    }
    let requester = context.requester;
    Err(match kind {
        ParticipantKind::Administrator => ExchangeError::NotAdministrator { action, requester },
        _ => ExchangeError::NotExchangeOperator { action, requester },
    })
}

/// Only trading and operator holding accounts that are not closed hold cash.
fn check_cash_account(registry: &Registry, account: AccountId) -> Result<(), ExchangeError> {
    let found = registry.account(account)?;
    let fits = matches!(
        found.kind,
        AccountKind::Trading | AccountKind::OperatorHolding
    ) && found.status.may_receive();
    if fits {
        Ok(())
    } else {
        Err(ExchangeError::NotCashAccount(account))
    }
}
