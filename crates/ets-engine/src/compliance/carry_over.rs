//! The carry-over cap (China 2023-24: allowances of vintages up to 2024 carried
//! into 2025 and later are capped at `10,000 t + 1.5 x net sales 2019-2024`,
//! docs/compliance.md "Carry-over cap"). It binds at the close of the period that
//! ends with the rulebook's `last_vintage`: each entity's allowances of that
//! vintage and older above its cap are cancelled (a registry cancellation whose
//! reason names the cap), so they can be neither surrendered nor sold later.
//! Net sales come from the exchange's running counter, kept per account and
//! class as each trade settles (crate::exchange::NetSales), so the cap binds
//! exactly on a bounded store whose retention dropped the trade records. Only a
//! state restored from a bounded snapshot written before the counter was kept,
//! after its trades were dropped, cannot know them: that close is refused
//! (`carry_over_history_incomplete`) rather than judged on part of the history.

use super::allocation::claw_back;
use super::error::ComplianceError;
use super::state::Compliance;
use ets_model::{AccountId, Code, Quantity, UnitClass};
use ets_registry::{Context, Registry};
use ets_scheme::Rulebook;
use ets_scheme::obligation;
use std::collections::BTreeMap;

/// Net sales per account of a unit code's allowances (sold less bought, every trade
/// settled so far), or `None` when the counter misses trades it cannot know.
pub type NetSales<'a> = &'a dyn Fn(&Registry, &Code) -> Option<BTreeMap<AccountId, i128>>;

impl Compliance {
    /// Cancels, at the close of `scheme`'s period ending in `settling`, every entity's
    /// allowances above its carry-over cap, when the rulebook's cap binds at this close.
    /// Works on `registry` (a scratch copy the caller commits).
    pub(super) fn apply_carry_over_cap(
        &self,
        registry: &mut Registry,
        context: Context,
        (scheme, settling): (&str, u16),
        net_sales: NetSales<'_>,
    ) -> Result<(), ComplianceError> {
        let rulebook = self.rulebook(scheme)?;
        let Some(rules) = rulebook.carry_over else {
            return Ok(());
        };
        let last_vintage = rules.last_vintage.map_or(settling, |vintage| vintage.0);
        if last_vintage != settling {
            return Ok(());
        }
        let unit_code = rulebook.scheme.unit_code;
        let sales = net_sales(registry, &unit_code).ok_or_else(|| {
            ComplianceError::CarryOverHistoryIncomplete {
                scheme: scheme.to_owned(),
            }
        })?;
        let classes = capped_classes(registry, &unit_code, last_vintage);
        let accounts: Vec<AccountId> = self
            .entities
            .values()
            .filter(|entity| entity.scheme == scheme)
            .map(|entity| entity.spec.account)
            .collect();
        for account in accounts {
            let sold = sales.get(&account).copied().unwrap_or(0).max(0);
            let sold = Quantity::new(u64::try_from(sold).unwrap_or(u64::MAX));
            let cap = obligation::carry_over_cap(&rules, sold)?;
            cancel_above(registry, context, (account, cap), &classes, rulebook)?;
        }
        Ok(())
    }
}

/// The allowance classes of `unit_code` of vintage `last_vintage` or older, oldest first.
fn capped_classes(registry: &Registry, unit_code: &Code, last_vintage: u16) -> Vec<UnitClass> {
    let mut classes: Vec<UnitClass> = registry
        .classes()
        .filter_map(|(_, class)| match class {
            UnitClass::Allowance { scheme, vintage }
                if scheme == unit_code && vintage.0 <= last_vintage =>
            {
                Some(*class)
            }
            _ => None,
        })
        .collect();
    classes.sort_by_key(|class| match class {
        UnitClass::Allowance { vintage, .. } => vintage.0,
        UnitClass::Offset { .. } => u16::MAX,
    });
    classes
}

/// Cancels `account`'s holdings of `classes` above `cap`, oldest vintage first.
fn cancel_above(
    registry: &mut Registry,
    context: Context,
    (account, cap): (AccountId, Quantity),
    classes: &[UnitClass],
    rulebook: &Rulebook,
) -> Result<(), ComplianceError> {
    let held: u64 = classes
        .iter()
        .filter_map(|class| registry.class_index(class).ok())
        .filter_map(|index| registry.account(account).ok()?.holding(index))
        .map(|holding| holding.total().tonnes())
        .sum();
    let mut excess = held.saturating_sub(cap.tonnes());
    let mut transactions = Vec::new();
    for class in classes {
        if excess == 0 {
            break;
        }
        let reason = format!(
            "carry-over cap of {} ({cap}) at the close of its last capped year",
            rulebook.scheme.id
        );
        let taken = claw_back(
            registry,
            context,
            (*class, account, Quantity::new(excess)),
            reason,
            &mut transactions,
        )?;
        excess -= taken.tonnes();
    }
    Ok(())
}
