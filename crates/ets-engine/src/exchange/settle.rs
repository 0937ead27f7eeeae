//! Holds and delivery versus payment: taking a hold before a market call
//! (and giving it back when the market refuses), settling each fill in the
//! same step (units oldest first through the registry, cash from the
//! buyer's hold to the seller, fees to the fee account) and shrinking every
//! touched order's hold to what its open quantity still needs.

use super::command::CashBalance;
use super::error::ExchangeError;
use super::state::{
    Instrument, OrderHold, TradeRecord, TradeVenue, cash_required, fee_on, value_of,
};
use ets_market::{Fill, OrderId, Report, Side, Trade, TradeMode};
use ets_model::{AccountId, Money, Quantity, TransactionId};
use ets_registry::{Context, Registry};
use smallvec::SmallVec;
use std::collections::BTreeMap;

/// What an order needs held: units for a sale, cash for a purchase.
#[derive(Debug, Clone, Copy)]
pub(super) struct Need {
    pub(super) account: AccountId,
    pub(super) side: Side,
    pub(super) class_index: u32,
    pub(super) units: Quantity,
    pub(super) cash: Money,
    /// Whether units bought today may not be sold (T+1).
    pub(super) no_same_day_resale: bool,
}

/// The parts of the exchange (and the registry) that settlement changes.
pub(super) struct Ledger<'a> {
    pub(super) registry: &'a mut Registry,
    pub(super) cash: &'a mut BTreeMap<AccountId, CashBalance>,
    pub(super) bought_today: &'a mut BTreeMap<(AccountId, u32), Quantity>,
    pub(super) trades: &'a mut Vec<TradeRecord>,
    pub(super) context: Context,
}

impl Ledger<'_> {
    /// Takes the hold, or refuses and changes nothing.
    pub(super) fn hold(&mut self, need: &Need) -> Result<(), ExchangeError> {
        match need.side {
            Side::Sell => self.hold_units(need),
            Side::Buy => self.hold_cash(need.account, need.cash),
        }
    }

    /// Gives back a hold taken by [`Ledger::hold`] (the market refused).
    pub(super) fn unhold(&mut self, need: &Need) {
        match need.side {
            Side::Sell => {
                self.registry
                    .release_units(need.account, need.class_index, need.units);
            }
            Side::Buy => self.release_cash(need.account, need.cash),
        }
    }

    fn hold_units(&mut self, need: &Need) -> Result<(), ExchangeError> {
        let available = self
            .registry
            .units_available(need.account, need.class_index);
        let bought_today = if need.no_same_day_resale {
            self.bought_today
                .get(&(need.account, need.class_index))
                .copied()
                .unwrap_or(Quantity::ZERO)
        } else {
            Quantity::ZERO
        };
        let sellable = available
            .checked_sub(bought_today)
            .unwrap_or(Quantity::ZERO);
        if need.units > sellable {
            return Err(if need.units <= available {
                ExchangeError::SameDayResale {
                    account: need.account,
                    bought_today,
                    sellable,
                    requested: need.units,
                }
            } else {
                ExchangeError::InsufficientUnits {
                    account: need.account,
                    sellable,
                    requested: need.units,
                }
            });
        }
        self.registry
            .hold_units(need.account, need.class_index, need.units)?;
        Ok(())
    }

    pub(super) fn hold_cash(
        &mut self,
        account: AccountId,
        amount: Money,
    ) -> Result<(), ExchangeError> {
        if amount <= Money::ZERO {
            return Ok(());
        }
        let balance = self.cash.get(&account).copied().unwrap_or_default();
        if balance.available < amount {
            return Err(ExchangeError::InsufficientCash {
                account,
                available: balance.available,
                required: amount,
            });
        }
        // Both stay within the total cash, which fits in i64.
        let entry = self.cash.entry(account).or_default();
        entry.available = Money::new(entry.available.minor_units() - amount.minor_units());
        entry.held = Money::new(entry.held.minor_units() + amount.minor_units());
        Ok(())
    }

    pub(super) fn release_cash(&mut self, account: AccountId, amount: Money) {
        if amount <= Money::ZERO {
            return;
        }
        let entry = self.cash.entry(account).or_default();
        debug_assert!(entry.held >= amount, "releasing more cash than held");
        entry.held = Money::new(entry.held.minor_units() - amount.minor_units());
        entry.available = Money::new(entry.available.minor_units() + amount.minor_units());
    }

    /// Pays `amount` out of `from`'s held cash.
    fn pay_from_held(&mut self, from: AccountId, amount: i64) {
        let entry = self.cash.entry(from).or_default();
        debug_assert!(entry.held.minor_units() >= amount, "paying more than held");
        entry.held = Money::new(entry.held.minor_units() - amount);
    }

    /// Credits `amount` to `to`'s available cash.
    fn credit(&mut self, to: AccountId, amount: i64) {
        if amount == 0 {
            return;
        }
        let entry = self.cash.entry(to).or_default();
        entry.available = Money::new(entry.available.minor_units().saturating_add(amount));
    }

    /// Moves units from the seller's hold to the buyer, recording the
    /// registry transfer. The hold guarantees the units are there.
    pub(super) fn deliver(
        &mut self,
        seller: AccountId,
        buyer: AccountId,
        class_index: u32,
        quantity: Quantity,
    ) -> TransactionId {
        match self
            .registry
            .settle_trade(seller, buyer, class_index, quantity, self.context)
        {
            Ok(id) => id,
            Err(error) => {
                debug_assert!(false, "a held sale did not settle: {error}");
                TransactionId(0)
            }
        }
    }

    /// Settles every fill of `report` on `instrument`, then shrinks the
    /// holds of every order it touched (and of `also`) to what their open
    /// quantities need. Returns the new trade ids.
    pub(super) fn apply(
        &mut self,
        instrument: &mut Instrument,
        report: &Report,
        also: &[OrderId],
    ) -> Vec<u64> {
        // Sorted and deduplicated, as a B-tree set would give them, but on
        // the stack for the usual handful of orders: the order of the
        // reconciliations is part of the replayed state.
        let mut touched: SmallVec<[OrderId; 16]> = SmallVec::new();
        touched.extend_from_slice(also);
        let mut trade_ids = Vec::with_capacity(report.fills.len());
        for fill in &report.fills {
            trade_ids.push(self.settle_fill(instrument, fill));
            touched.push(fill.maker_order);
            touched.push(fill.taker_order);
        }
        touched.extend(report.updates.iter().map(|update| update.order));
        touched.sort_unstable();
        touched.dedup();
        for order in touched {
            self.reconcile(instrument, order);
        }
        trade_ids
    }

    fn settle_fill(&mut self, instrument: &mut Instrument, fill: &Fill) -> u64 {
        let value = value_of(fill.price, fill.quantity)
            .and_then(|value| i64::try_from(value).ok())
            .unwrap_or(0);
        let fee = i64::try_from(fee_on(i128::from(value), instrument.fee_bps)).unwrap_or(0);
        let transaction = self.deliver(
            fill.seller,
            fill.buyer,
            instrument.class_index,
            fill.quantity,
        );
        self.pay_from_held(fill.buyer, value + fee);
        self.credit(fill.seller, value - fee);
        self.credit(instrument.fee_account, 2 * fee);
        let (buy_order, sell_order) = match fill.aggressor {
            Side::Buy => (fill.taker_order, fill.maker_order),
            Side::Sell => (fill.maker_order, fill.taker_order),
        };
        if let Some(hold) = instrument.holds.get_mut(&buy_order) {
            hold.cash = Money::new(hold.cash.minor_units() - value - fee);
        }
        if let Some(hold) = instrument.holds.get_mut(&sell_order) {
            hold.units = hold
                .units
                .checked_sub(fill.quantity)
                .unwrap_or(Quantity::ZERO);
        }
        if instrument.no_same_day_resale {
            let bought = self
                .bought_today
                .entry((fill.buyer, instrument.class_index))
                .or_default();
            *bought = Quantity::new(bought.tonnes().saturating_add(fill.quantity.tonnes()));
        }
        let mode = instrument.venue.trade_mode();
        // The tape and day figures saturate rather than refuse a settled trade.
        let _ = instrument.market_data.record(&Trade::from_fill(mode, fill));
        self.record(TradeRecord {
            id: 0,
            venue: TradeVenue::Instrument(instrument.symbol),
            mode,
            maker_order: fill.maker_order,
            taker_order: fill.taker_order,
            buyer: fill.buyer,
            seller: fill.seller,
            price: fill.price,
            quantity: fill.quantity,
            buyer_fee: Money::new(fee),
            seller_fee: Money::new(fee),
            at: fill.at,
            transaction,
        })
    }

    /// Settles an auction award: units from the auction account, the
    /// clearing value from the bid's hold to the auction account.
    pub(super) fn settle_award(
        &mut self,
        record: TradeRecord,
        class_index: u32,
        hold: &mut OrderHold,
    ) -> u64 {
        let value = value_of(record.price, record.quantity)
            .and_then(|value| i64::try_from(value).ok())
            .unwrap_or(0);
        let transaction = self.deliver(record.seller, record.buyer, class_index, record.quantity);
        self.pay_from_held(record.buyer, value);
        self.credit(record.seller, value);
        hold.cash = Money::new(hold.cash.minor_units() - value);
        self.record(TradeRecord {
            transaction,
            mode: TradeMode::Auction,
            ..record
        })
    }

    fn record(&mut self, mut record: TradeRecord) -> u64 {
        let id = self.trades.len() as u64 + 1;
        record.id = id;
        self.trades.push(record);
        id
    }

    /// Shrinks an order's hold to what its open quantity needs; drops it
    /// when the order is gone.
    pub(super) fn reconcile(&mut self, instrument: &mut Instrument, order: OrderId) {
        let open = instrument.venue.open_quantity(order);
        let Some(hold) = instrument.holds.get_mut(&order) else {
            return;
        };
        match hold.side {
            Side::Sell => {
                let excess = hold.units.checked_sub(open).unwrap_or(Quantity::ZERO);
                self.registry
                    .release_units(hold.account, instrument.class_index, excess);
                hold.units = open;
            }
            Side::Buy => {
                let needed =
                    cash_required(hold.price, open, instrument.fee_bps).unwrap_or(hold.cash);
                let excess = Money::new(hold.cash.minor_units() - needed.minor_units());
                let account = hold.account;
                hold.cash = needed;
                self.release_cash(account, excess);
            }
        }
        if open.is_zero() {
            instrument.holds.remove(&order);
        }
    }
}
