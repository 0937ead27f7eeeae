//! The registry's invariants, checked in full: after every command in tests,
//! and by `ets verify` on a replayed store.

use crate::registry::Registry;
use crate::transaction::TransactionKind;
use ets_model::{AccountId, Quantity, SerialBlock};
use std::collections::BTreeMap;

impl Registry {
    /// Checks every registry invariant of DESIGN.md:
    /// 1. per unit class, units held across all accounts equal units issued;
    /// 2. serial blocks are disjoint and together cover exactly the issued ranges;
    /// 3. pending plus exchange-held never exceeds held, and pending equals what
    ///    pending transactions promised (the exchange checks its own holds with
    ///    [`Registry::check_exchange_holds`]).
    ///
    /// # Errors
    /// A description of the first broken invariant (a bug, never a user error).
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut held_blocks: BTreeMap<u32, Vec<SerialBlock>> = BTreeMap::new();
        for account in self.accounts() {
            for (class_index, holding) in account.holdings() {
                holding
                    .check()
                    .map_err(|problem| format!("account {}: {problem}", account.id))?;
                held_blocks
                    .entry(class_index)
                    .or_default()
                    .extend(holding.blocks());
            }
        }
        for (class_index, class) in self.classes() {
            let mut held = held_blocks.remove(&class_index).unwrap_or_default();
            let mut issued = self.issued_ranges(class_index).to_vec();
            let held = merge(&mut held).map_err(|p| format!("class {class}: {p}"))?;
            let issued = merge(&mut issued).map_err(|p| format!("class {class} issued: {p}"))?;
            if held != issued {
                return Err(format!(
                    "class {class}: held serial ranges {held:?} differ from issued {issued:?}"
                ));
            }
        }
        if let Some(class_index) = held_blocks.keys().next() {
            return Err(format!("units held of unknown class index {class_index}"));
        }
        self.check_reservations()
    }

    fn check_reservations(&self) -> Result<(), String> {
        let mut promised: BTreeMap<(AccountId, u32), u64> = BTreeMap::new();
        for transaction in self.transactions().filter(|t| t.is_pending()) {
            if transaction.kind != TransactionKind::Issue {
                *promised
                    .entry((transaction.from, transaction.class_index))
                    .or_default() += transaction.quantity.tonnes();
            }
        }
        for account in self.accounts() {
            for (class_index, holding) in account.holdings() {
                let expected = promised.remove(&(account.id, class_index)).unwrap_or(0);
                if holding.pending().tonnes() != expected {
                    return Err(format!(
                        "account {} class index {class_index}: {} pending but pending transactions promise {expected}",
                        account.id,
                        holding.pending()
                    ));
                }
            }
        }
        match promised.into_iter().find(|(_, quantity)| *quantity > 0) {
            Some(((account, class_index), quantity)) => Err(format!(
                "account {account} class index {class_index}: {quantity} promised but nothing reserved"
            )),
            None => Ok(()),
        }
    }
}

impl Registry {
    /// Checks that the units the exchange holds in each holding are exactly
    /// `holds` (per account and class index, zero entries left out): the
    /// exchange's counter checked where it lives, without touching the
    /// registry's pending reservations.
    ///
    /// # Errors
    /// A description of the first difference: always a bug.
    pub fn check_exchange_holds(
        &self,
        holds: &BTreeMap<(AccountId, u32), Quantity>,
    ) -> Result<(), String> {
        let mut expected = holds.clone();
        for account in self.accounts() {
            for (class_index, holding) in account.holdings() {
                let wanted = expected
                    .remove(&(account.id, class_index))
                    .unwrap_or(Quantity::ZERO);
                if holding.exchange_held() != wanted {
                    return Err(format!(
                        "account {} class index {class_index}: the registry counts {} exchange-held, the exchange's holds are {wanted}",
                        account.id,
                        holding.exchange_held()
                    ));
                }
            }
        }
        match expected
            .into_iter()
            .find(|(_, quantity)| !quantity.is_zero())
        {
            Some(((account, class_index), quantity)) => Err(format!(
                "account {account} class index {class_index}: the exchange holds {quantity} but the registry has no such holding"
            )),
            None => Ok(()),
        }
    }
}

/// Sorts blocks and merges adjacent ones; fails if any two overlap.
fn merge(blocks: &mut [SerialBlock]) -> Result<Vec<(u64, u64)>, String> {
    blocks.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(blocks.len());
    for block in blocks.iter() {
        match merged.last_mut() {
            Some((_, end)) if *end >= block.start() => {
                return Err(format!("serial {} is held twice", block.start()));
            }
            Some((_, end)) if end.checked_add(1) == Some(block.start()) => *end = block.end(),
            _ => merged.push((block.start(), block.end())),
        }
    }
    Ok(merged)
}
