//! Registry operations the exchange needs: who may trade an account and
//! holds on units promised to open sell orders (delivery of traded units is
//! in `registry/delivery.rs`).
//!
//! Exchange holds are their own counter of a [`Holding`], beside the units
//! promised to pending registry transactions: both count against what is
//! available, so a registry transfer can never take units an open sell order
//! needs, and each is checked where it lives ([`Registry::check_invariants`]
//! for pending transactions, [`Registry::check_exchange_holds`] against the
//! exchange's own holds).
//!
//! [`Holding`]: crate::Holding

use crate::account::{Account, AccountKind, AccountStatus};
use crate::error::RegistryError;
use crate::registry::Registry;
use ets_model::{AccountId, ParticipantId, Quantity};

impl Registry {
    /// Checks that `requester` may act on `account` at the exchange: the
    /// account exists, is a trading or operator holding account, and
    /// `requester` is one of its representatives. Trading needs one
    /// signature: the account's k-of-N approval rule governs registry
    /// transfers, not exchange orders.
    ///
    /// # Errors
    /// [`RegistryError::UnknownAccount`], [`RegistryError::WrongAccountKind`]
    /// or [`RegistryError::NotRepresentative`].
    pub fn check_representative(
        &self,
        requester: ParticipantId,
        account: AccountId,
    ) -> Result<&Account, RegistryError> {
        let found = self.account(account)?;
        if !matches!(
            found.kind,
            AccountKind::Trading | AccountKind::OperatorHolding
        ) {
            return Err(RegistryError::WrongAccountKind {
                account,
                kind: found.kind,
                action: "trade",
            });
        }
        if !found.rule.is_representative(requester) {
            return Err(RegistryError::NotRepresentative { requester, account });
        }
        Ok(found)
    }

    /// As [`Registry::check_representative`], and the account must be open
    /// (a blocked or closed account may cancel but not trade) and need one
    /// signature per transfer: an order carries one representative's
    /// signature, so an account whose rule needs k > 1 would let one
    /// representative move its units alone by trading them to an accomplice
    /// (four eyes bypassed). Its representatives fund a single-signature
    /// trading account by a k-signature transfer instead: that transfer is
    /// the trading mandate, its quantity the mandate's limit.
    ///
    /// # Errors
    /// As [`Registry::check_representative`];
    /// [`RegistryError::AccountStatusForbids`] and
    /// [`RegistryError::TradingNeedsSingleSignature`].
    pub fn check_may_trade(
        &self,
        requester: ParticipantId,
        account: AccountId,
    ) -> Result<&Account, RegistryError> {
        let found = self.check_representative(requester, account)?;
        if found.status != AccountStatus::Open {
            return Err(RegistryError::AccountStatusForbids {
                account,
                status: found.status,
                action: "trade",
            });
        }
        if found.rule.approvals_required > 1 {
            return Err(RegistryError::TradingNeedsSingleSignature {
                account,
                approvals_required: found.rule.approvals_required,
            });
        }
        Ok(found)
    }

    /// Units of class `class_index` that `account` could hold for a sale now.
    #[must_use]
    pub fn units_available(&self, account: AccountId, class_index: u32) -> Quantity {
        self.account(account)
            .map_or(Quantity::ZERO, |found| found.available(class_index))
    }

    /// Holds `quantity` units of `account`'s class `class_index` for an open
    /// sell order (or an auction's volume).
    ///
    /// # Errors
    /// [`RegistryError::UnknownAccount`] or
    /// [`RegistryError::InsufficientUnits`]; nothing changes then.
    pub fn hold_units(
        &mut self,
        account: AccountId,
        class_index: u32,
        quantity: Quantity,
    ) -> Result<(), RegistryError> {
        let available = self.account(account)?.available(class_index);
        if quantity > available {
            return Err(self.insufficient(account, class_index, available, quantity));
        }
        if quantity.is_zero() {
            return Ok(());
        }
        let held = self
            .account_mut(account)
            .and_then(|found| found.holding_mut(class_index))
            .is_some_and(|holding| holding.hold_for_exchange(quantity));
        assert!(held, "availability was checked");
        Ok(())
    }

    /// Releases a hold made by [`Registry::hold_units`].
    pub fn release_units(&mut self, account: AccountId, class_index: u32, quantity: Quantity) {
        if quantity.is_zero() {
            return;
        }
        if let Some(holding) = self
            .account_mut(account)
            .and_then(|found| found.holding_mut(class_index))
        {
            holding.release_exchange_hold(quantity);
        }
    }

    /// The refusal of a hold or delivery of more units than are there.
    pub(crate) fn insufficient(
        &self,
        account: AccountId,
        class_index: u32,
        available: Quantity,
        requested: Quantity,
    ) -> RegistryError {
        RegistryError::InsufficientUnits {
            account,
            class: self
                .class(class_index)
                .map_or_else(|| format!("class index {class_index}"), ToString::to_string),
            available,
            requested,
        }
    }
}
