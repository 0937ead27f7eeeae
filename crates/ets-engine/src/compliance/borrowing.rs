//! Borrowing from a later vintage (China 2021-22: from the 2023 allocation)
//! within the rulebook's limit; the amount comes off that vintage year's
//! pre-allocation.

use super::allocation::issue_and_allocate;
use super::error::ComplianceError;
use super::state::{AllocationRecord, Compliance, ComplianceEffect};
use ets_model::{ParticipantId, Quantity, UnitClass};
use ets_registry::{AccountKind, Context, Registry, RegistryError};
use ets_scheme::Rulebook;
use ets_scheme::obligation;
use ets_scheme::rulebook::BorrowingRules;

impl Compliance {
    pub(super) fn borrow(
        &mut self,
        registry: &mut Registry,
        context: Context,
        entity_id: ParticipantId,
        year: u16,
        quantity: Quantity,
    ) -> Result<ComplianceEffect, ComplianceError> {
        let entity = self.entity_for_year(entity_id, year)?.clone();
        Self::require_entity_or_representative(registry, context, &entity)?;
        if quantity.is_zero() {
            return Err(RegistryError::ZeroQuantity.into());
        }
        self.check_year_open(&entity.scheme, year)?;
        let rulebook = self.rulebook(&entity.scheme)?;
        let mut record = self
            .allocations
            .get(&(entity_id, year))
            .cloned()
            .unwrap_or_default();
        let rules = self.check_borrowing_limit(rulebook, &record, (entity_id, year), quantity)?;
        let class = UnitClass::Allowance {
            scheme: rulebook.scheme.unit_code,
            vintage: rules.from_vintage,
        };
        // The authority issues the borrowed allowances; they act through the issuance
        // account's holder, as for allocation.
        let issuance = registry.system_account(AccountKind::Issuance)?;
        let authority = Context {
            requester: registry.account(issuance)?.holder,
            at: context.at,
        };
        let mut scratch = registry.clone();
        let mut issued = Quantity::ZERO;
        issue_and_allocate(
            &mut scratch,
            authority,
            (class, entity.spec.account, quantity),
            &mut record.transactions,
            &mut issued,
        )?;
        record.borrowed = record
            .borrowed
            .checked_add(quantity)
            .map_err(|_| RegistryError::Overflow("borrowed"))?;
        *registry = scratch;
        self.allocations.insert((entity_id, year), record);
        Ok(ComplianceEffect::Allocated {
            entities: 1,
            issued,
            clawed_back: Quantity::ZERO,
        })
    }

    /// The rulebook's borrowing rules, if `quantity` more stays within the entity's limit
    /// (nothing may be borrowed without verified emissions or without the rules).
    fn check_borrowing_limit(
        &self,
        rulebook: &Rulebook,
        record: &AllocationRecord,
        (entity, year): (ParticipantId, u16),
        quantity: Quantity,
    ) -> Result<BorrowingRules, ComplianceError> {
        let verified = self
            .reports
            .get(&(entity, year))
            .and_then(|report| report.verified_emissions);
        let limit = match (&rulebook.borrowing, verified) {
            (Some(rules), Some(verified)) => {
                obligation::max_borrowing(rules, verified, record.allocation())?
            }
            _ => Quantity::ZERO,
        };
        if record.borrowed.tonnes().saturating_add(quantity.tonnes()) > limit.tonnes() {
            return Err(ComplianceError::BorrowingLimit {
                entity,
                year,
                limit: limit.tonnes(),
                already: record.borrowed.tonnes(),
                requested: quantity.tonnes(),
            });
        }
        rulebook.borrowing.ok_or(ComplianceError::BorrowingLimit {
            entity,
            year,
            limit: 0,
            already: 0,
            requested: quantity.tonnes(),
        })
    }
}
