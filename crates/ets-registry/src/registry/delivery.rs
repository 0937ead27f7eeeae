//! Delivery of exchange trades: the registry's side of delivery versus
//! payment for every fill, listed take, block trade and auction award.
//!
//! A delivery is the lean path of a transfer. The exchange already
//! guarantees what a general transfer checks: the seller's units are held
//! for the sale ([`Registry::hold_units`], which checked the account's kind,
//! status and single-signature rule when the order was entered) and the
//! buyer was checked when its order was entered. The representatives'
//! approval, the trusted account list and the security delays govern
//! registry transfers, not settled exchange trades: the exchange settles
//! delivery versus payment in the same step (docs/exchange.md; the
//! settlement rules are S28 in docs/sources.md, their DvP detail marked
//! unconfirmed there), so a delivery goes straight to `completed`. What it records is exactly the transaction the
//! general path records for a one-signature transfer (same kind, blocks,
//! signer and history), so journals replay to the same state hashes.
//!
//! It is a child of the registry's module so that it finds both accounts
//! with one index lookup each and borrows them together, instead of four
//! lookups and two copy-on-write checks through the public accessors.

use super::{Context, Registry};
use crate::error::RegistryError;
use crate::holding::Holding;
use crate::transaction::{Blocks, StatusChange, Transaction, TransactionKind, TransactionStatus};
use ets_model::{AccountId, Quantity, TransactionId};
use smallvec::smallvec;
use std::sync::Arc;

impl Registry {
    /// Delivers a trade: releases `quantity` of the seller's exchange hold,
    /// moves that many units to the buyer as the serial policy chooses, and
    /// records a completed [`TransactionKind::Transfer`] signed by the
    /// context's requester. The exchange keeps the trade record that names
    /// the returned transaction.
    ///
    /// # Errors
    /// [`RegistryError::UnknownAccount`], [`RegistryError::SameAccount`],
    /// [`RegistryError::ZeroQuantity`] or [`RegistryError::InsufficientUnits`]
    /// when the seller does not hold `quantity` for the exchange; nothing
    /// changes then.
    ///
    /// # Panics
    /// When the units held for the exchange are not in the holding: a
    /// broken invariant.
    pub fn settle_trade(
        &mut self,
        seller: AccountId,
        buyer: AccountId,
        class_index: u32,
        quantity: Quantity,
        context: Context,
    ) -> Result<TransactionId, RegistryError> {
        let buyer_index = self.index_of(buyer)?;
        if seller == buyer {
            return Err(RegistryError::SameAccount(seller));
        }
        let seller_index = self.index_of(seller)?;
        if quantity.is_zero() {
            return Err(RegistryError::ZeroQuantity);
        }
        let held = self.accounts[seller_index]
            .holding(class_index)
            .map_or(Quantity::ZERO, Holding::exchange_held);
        if held < quantity {
            return Err(self.insufficient(seller, class_index, held, quantity));
        }
        let taken = self.move_held_units(seller_index, buyer_index, class_index, quantity);
        let id = self.transactions.next_id();
        self.transactions.push(completed_transfer(
            id,
            (seller, buyer),
            class_index,
            quantity,
            taken,
            context,
        ));
        Ok(id)
    }

    /// The position of `account` in the account list.
    fn index_of(&self, account: AccountId) -> Result<usize, RegistryError> {
        // A match, not `ok_or`: the error is built only when it is returned.
        match self.account_index.get(account.0) {
            Some(index) => Ok(index as usize),
            None => Err(RegistryError::UnknownAccount(account)),
        }
    }

    /// Moves `quantity` units the seller (at `seller_index`) holds for the
    /// exchange to the buyer (at `buyer_index`); returns the blocks moved.
    fn move_held_units(
        &mut self,
        seller_index: usize,
        buyer_index: usize,
        class_index: u32,
        quantity: Quantity,
    ) -> Blocks {
        let policy = self.serial_policy;
        let Ok([seller, buyer]) = self.accounts.get_disjoint_mut([seller_index, buyer_index])
        else {
            panic!("registry invariant broken: two accounts share position {seller_index}");
        };
        let mut taken = Blocks::new();
        let holding = Arc::make_mut(seller).holding_mut(class_index);
        let took = holding.is_some_and(|holding| {
            holding.release_exchange_hold(quantity);
            holding.take(policy, quantity, &mut taken)
        });
        assert!(
            took,
            "registry invariant broken: {quantity} units held for the exchange are not in the holding"
        );
        Arc::make_mut(buyer)
            .holding_entry(class_index)
            .insert_sorted(&taken);
        taken
    }
}

/// The completed one-signature transfer a delivery records: proposed and
/// completed at once by the context's requester.
fn completed_transfer(
    id: TransactionId,
    (from, to): (AccountId, AccountId),
    class_index: u32,
    quantity: Quantity,
    blocks: Blocks,
    context: Context,
) -> Transaction {
    let change = |status| StatusChange {
        status,
        at: context.at,
        by: context.requester,
    };
    Transaction {
        id,
        kind: TransactionKind::Transfer,
        from,
        to,
        class_index,
        quantity,
        blocks,
        proposer: context.requester,
        approvals: Vec::new(),
        history: smallvec![
            change(TransactionStatus::Proposed),
            change(TransactionStatus::Completed)
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AccountKind, ParticipantKind, RegistryCommand, SerialPolicy};
    use ets_model::{Code, ParticipantId, Timestamp, UnitClass, Vintage};

    const ADMIN: ParticipantId = ParticipantId(1);
    const SELLER: ParticipantId = ParticipantId(2);
    const BUYER: ParticipantId = ParticipantId(3);
    const ISSUANCE: AccountId = AccountId(1);
    const SELLING: AccountId = AccountId(2);
    const BUYING: AccountId = AccountId(3);

    fn class() -> UnitClass {
        UnitClass::Allowance {
            scheme: Code::try_new("CEA").expect("a valid code"),
            vintage: Vintage(2021),
        }
    }

    fn at(millis: i64, requester: ParticipantId) -> Context {
        Context {
            requester,
            at: Timestamp(millis),
        }
    }

    /// An administrator, two one-signature trading accounts, and the
    /// seller's units arriving in several blocks (three transfers from the
    /// issuance account interleaved with transfers to the buyer), so a
    /// delivery moves more than one block.
    fn registry(policy: SerialPolicy) -> Registry {
        let mut registry = Registry::new();
        let mut run = |requester, command: RegistryCommand| {
            let effect = registry.execute(at(1_000, requester), &command);
            assert!(effect.is_ok(), "setup refused: {effect:?}");
        };
        for (id, kind, name) in [
            (ADMIN, ParticipantKind::Administrator, "administrator"),
            (SELLER, ParticipantKind::Institution, "seller"),
            (BUYER, ParticipantKind::Institution, "buyer"),
        ] {
            run(
                ADMIN,
                RegistryCommand::RegisterParticipant {
                    id,
                    kind,
                    name: name.to_owned(),
                },
            );
        }
        for (id, kind, holder) in [
            (ISSUANCE, AccountKind::Issuance, ADMIN),
            (SELLING, AccountKind::Trading, SELLER),
            (BUYING, AccountKind::Trading, BUYER),
        ] {
            run(
                ADMIN,
                RegistryCommand::OpenAccount {
                    id,
                    kind,
                    holder,
                    representatives: vec![holder],
                    approvals_required: 1,
                },
            );
        }
        run(ADMIN, RegistryCommand::SetSerialPolicy { policy });
        run(
            ADMIN,
            RegistryCommand::Issue {
                class: class(),
                quantity: Quantity::new(1_000),
            },
        );
        for (to, tonnes) in [(SELLING, 40), (BUYING, 10), (SELLING, 30), (BUYING, 10)] {
            run(
                ADMIN,
                RegistryCommand::Transfer {
                    from: ISSUANCE,
                    to,
                    class: class(),
                    quantity: Quantity::new(tonnes),
                },
            );
        }
        registry
    }

    #[test]
    fn a_delivery_leaves_the_registry_a_one_signature_transfer_leaves() {
        // Goal: the lean path records what the general path records (same
        // transaction, blocks, history; same holdings), so the state hash
        // of a journal does not depend on which path delivered its trades.
        for policy in [SerialPolicy::OldestFirst, SerialPolicy::LargestFirst] {
            let mut transferred = registry(policy);
            let effect = transferred.execute(
                at(2_000, SELLER),
                &RegistryCommand::Transfer {
                    from: SELLING,
                    to: BUYING,
                    class: class(),
                    quantity: Quantity::new(55),
                },
            );
            assert!(effect.is_ok(), "{effect:?}");
            let mut delivered = registry(policy);
            let index = delivered.class_index(&class()).expect("issued");
            delivered
                .hold_units(SELLING, index, Quantity::new(60))
                .expect("the seller holds 70");
            let id = delivered
                .settle_trade(SELLING, BUYING, index, Quantity::new(55), at(2_000, SELLER))
                .expect("held units deliver");
            delivered.release_units(SELLING, index, Quantity::new(5));
            let transaction = delivered.transaction(id).expect("recorded");
            assert_eq!(transaction.status(), TransactionStatus::Completed);
            assert!(transaction.blocks.len() >= 2, "{policy:?}: {transaction:?}");
            assert_eq!(delivered, transferred, "{policy:?}");
            delivered.check_invariants().expect("invariants hold");
        }
    }

    #[test]
    fn a_delivery_beyond_the_exchange_hold_is_refused_and_changes_nothing() {
        // Goal: every refusal comes before any change (the engine turns a
        // refused delivery into a crash; the registry must not be half-moved).
        let mut registry = registry(SerialPolicy::LargestFirst);
        let index = registry.class_index(&class()).expect("issued");
        registry
            .hold_units(SELLING, index, Quantity::new(20))
            .expect("the seller holds 70");
        let before = registry.clone();
        let context = at(2_000, SELLER);
        let refusals = [
            (SELLING, BUYING, Quantity::new(21), "insufficient_units"),
            (SELLING, BUYING, Quantity::ZERO, "zero_quantity"),
            (SELLING, SELLING, Quantity::new(5), "same_account"),
            (AccountId(99), BUYING, Quantity::new(5), "unknown_account"),
            (SELLING, AccountId(99), Quantity::new(5), "unknown_account"),
            (BUYING, SELLING, Quantity::new(5), "insufficient_units"),
        ];
        for (seller, buyer, quantity, code) in refusals {
            let error = registry
                .settle_trade(seller, buyer, index, quantity, context)
                .expect_err("refused");
            assert_eq!(error.code(), code, "{error}");
            assert_eq!(registry, before, "{code}: the refusal changed the registry");
        }
    }
}
