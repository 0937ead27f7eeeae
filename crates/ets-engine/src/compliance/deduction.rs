//! The next-year deduction of a shortfall (China: "deduct the shortfall from
//! next year's allocation"), applied whenever the close happens. On the real
//! timeline year Y+1 is pre-allocated before year Y closes: the deduction is
//! then clawed back from the entity's Y+1 allowances at the close, and what it
//! does not hold is owed at the Y+1 close (an obligation, never a negative
//! balance). Each claw-back is a registry cancellation whose reason names its
//! cause, so it shows in the account's history. When Y+1 is allocated after
//! the close, the deduction comes off its pre-allocation instead.

use super::allocation::claw_back;
use super::error::ComplianceError;
use super::state::{AllocationRecord, Compliance, EntityResult};
use ets_model::{ParticipantId, Quantity, UnitClass, Vintage};
use ets_registry::{Context, Registry, RegistryError};

impl Compliance {
    /// What `participant` owes `year`'s allocation: the next-year deduction of last year's
    /// closed results, and allowances borrowed earlier from `year`'s vintage.
    pub(super) fn deduction_due(&self, participant: ParticipantId, year: u16) -> Quantity {
        let previous = year.checked_sub(1);
        let shortfalls: u64 = self
            .closed
            .iter()
            .filter(|((_, closed_year), _)| Some(*closed_year) == previous)
            .flat_map(|(_, results)| results.iter())
            .filter(|result| result.entity == participant)
            .map(|result| result.next_year_deduction.tonnes())
            .sum();
        let borrowed: u64 = self
            .allocations
            .range((participant, 0)..=(participant, u16::MAX))
            .filter(|((_, borrowed_for), record)| {
                !record.borrowed.is_zero()
                    && self
                        .entity_for_year(participant, *borrowed_for)
                        .ok()
                        .and_then(|entity| self.rulebook(&entity.scheme).ok())
                        .and_then(|rulebook| rulebook.borrowing)
                        .is_some_and(|rules| rules.from_vintage.0 == year)
            })
            .map(|(_, record)| record.borrowed.tonnes())
            .sum();
        Quantity::new(shortfalls.saturating_add(borrowed))
    }

    /// Claws back, at the close of `scheme`'s period ending in `settling`, each
    /// next-year deduction whose year was allocated already; all or nothing.
    pub(super) fn apply_deductions_now(
        &mut self,
        registry: &mut Registry,
        context: Context,
        scheme: &str,
        settling: u16,
        results: &[EntityResult],
    ) -> Result<(), ComplianceError> {
        let Some(next) = settling.checked_add(1) else {
            return Ok(());
        };
        let mut scratch = registry.clone();
        let mut records = Vec::new();
        for result in results
            .iter()
            .filter(|result| !result.next_year_deduction.is_zero())
        {
            let Some(mut record) = self.allocations.get(&(result.entity, next)).cloned() else {
                continue;
            };
            if record.pre_allocated.is_none() && record.final_allocation.is_none() {
                continue;
            }
            let class = UnitClass::Allowance {
                scheme: self.unit_code_for(result.entity, next, scheme)?,
                vintage: Vintage(next),
            };
            let due = result.next_year_deduction;
            let reason = format!(
                "{} shortfall under {scheme} ({due}) deducted from the {next} allocation at the close",
                result.period
            );
            let taken = claw_back(
                &mut scratch,
                context,
                (class, result.account, due),
                reason,
                &mut record.transactions,
            )?;
            add_deduction(&mut record, due, taken)?;
            records.push((result.entity, record));
        }
        *registry = scratch;
        for (participant, record) in records {
            self.allocations.insert((participant, next), record);
        }
        Ok(())
    }

    /// The allowance code of the rulebook that governs `participant`'s `year`, else `scheme`'s.
    fn unit_code_for(
        &self,
        participant: ParticipantId,
        year: u16,
        scheme: &str,
    ) -> Result<ets_model::Code, ComplianceError> {
        let governing = self
            .entity_for_year(participant, year)
            .map_or(scheme, |entity| entity.scheme.as_str());
        Ok(self.rulebook(governing)?.scheme.unit_code)
    }
}

/// Records a deduction of `due` of which `taken` was clawed back; the rest is owed.
fn add_deduction(
    record: &mut AllocationRecord,
    due: Quantity,
    taken: Quantity,
) -> Result<(), ComplianceError> {
    let owed = due.checked_sub(taken).unwrap_or(Quantity::ZERO);
    record.deducted = record
        .deducted
        .checked_add(due)
        .map_err(|_| RegistryError::Overflow("deducted"))?;
    record.claw_back_outstanding = record
        .claw_back_outstanding
        .checked_add(owed)
        .map_err(|_| RegistryError::Overflow("claw-back owed"))?;
    Ok(())
}
