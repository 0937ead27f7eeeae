//! Surrender eligibility: a registry surrender by a covered entity is checked
//! against the rulebook that governs the year surrendered for (year open,
//! deadline not passed, unit eligible, offsets within the limit); and the
//! sums of what each account has surrendered, from compliance's tally.

use super::deadline;
use super::error::ComplianceError;
use super::state::{Compliance, CoveredEntity};
use super::tally::{SurrenderTally, TallyKey};
use ets_model::{AccountId, Quantity, Timestamp, UnitClass, Vintage};
use ets_registry::{Registry, RegistryError};
use ets_scheme::Rulebook;
use ets_scheme::obligation;
use std::collections::BTreeMap;

/// A surrender to check: who, what, how much and for which year.
struct Request<'a> {
    from: AccountId,
    class: &'a UnitClass,
    quantity: Quantity,
    year: u16,
}

impl Compliance {
    /// Checks a registry surrender against the scheme of the surrendering
    /// entity: the year must be open and its last deadline not passed, the
    /// unit eligible, and offsets within the limit. Surrenders from accounts
    /// of no registered entity are left to the registry alone.
    ///
    /// # Errors
    /// A [`ComplianceError`] saying why the surrender may not go ahead.
    pub fn check_surrender(
        &self,
        registry: &Registry,
        at: Timestamp,
        from: AccountId,
        class: &UnitClass,
        quantity: Quantity,
        year: u16,
    ) -> Result<(), ComplianceError> {
        let Some(registered) = self
            .entities
            .values()
            .find(|entity| entity.spec.account == from)
        else {
            return Ok(());
        };
        // The registration under the rulebook that governs the year surrendered for.
        let entity = self.entity_for_year(registered.spec.participant, year)?;
        self.check_year_open(&entity.scheme, year)?;
        let rulebook = self.rulebook(&entity.scheme)?;
        deadline::check_surrender_time(rulebook, year, at)?;
        let request = Request {
            from,
            class,
            quantity,
            year,
        };
        match class {
            UnitClass::Allowance {
                scheme: code,
                vintage,
            } => {
                if *code != rulebook.scheme.unit_code {
                    return Err(not_eligible(
                        rulebook,
                        &request,
                        "it is not this scheme's allowance",
                    ));
                }
                self.check_vintage(registry, rulebook, entity, &request, *vintage)
            }
            UnitClass::Offset { standard, .. } => {
                let Some(rules) = &rulebook.offsets else {
                    return Err(not_eligible(
                        rulebook,
                        &request,
                        "the scheme accepts no offsets",
                    ));
                };
                if !rules.eligible_standards.contains(standard) {
                    return Err(not_eligible(
                        rulebook,
                        &request,
                        "its standard is not accepted",
                    ));
                }
                self.check_offset_limit(registry, rulebook, entity, &request)
            }
        }
    }

    /// An allowance's vintage must be eligible, or borrowed for this year (up to what was
    /// borrowed).
    fn check_vintage(
        &self,
        registry: &Registry,
        rulebook: &Rulebook,
        entity: &CoveredEntity,
        request: &Request<'_>,
        vintage: Vintage,
    ) -> Result<(), ComplianceError> {
        if rulebook.is_vintage_eligible(vintage) {
            return Ok(());
        }
        let borrowed = self
            .allocations
            .get(&(entity.spec.participant, request.year))
            .map_or(Quantity::ZERO, |record| record.borrowed);
        let from_borrowing = rulebook
            .borrowing
            .is_some_and(|rules| rules.from_vintage == vintage);
        if from_borrowing
            && registry
                .class_index(request.class)
                .map_or(Quantity::ZERO, |index| {
                    Surrenders::tally_of(&self.surrendered, registry, request.from).of_class(
                        request.from,
                        request.year,
                        index,
                    )
                })
                .tonnes()
                .saturating_add(request.quantity.tonnes())
                <= borrowed.tonnes()
        {
            return Ok(());
        }
        Err(not_eligible(
            rulebook,
            request,
            "its vintage is not eligible (beyond what was borrowed for this year)",
        ))
    }

    /// Offsets count up to the rulebook's limit, known once emissions are verified.
    fn check_offset_limit(
        &self,
        registry: &Registry,
        rulebook: &Rulebook,
        entity: &CoveredEntity,
        request: &Request<'_>,
    ) -> Result<(), ComplianceError> {
        let year = request.year;
        let Some(rules) = &rulebook.offsets else {
            return Err(not_eligible(
                rulebook,
                request,
                "the scheme accepts no offsets",
            ));
        };
        let Some(owed) = self.obligation_of(rulebook, entity, year)? else {
            return Err(ComplianceError::OffsetLimitUnknown { year });
        };
        let limit = obligation::max_offsets(rules, owed.total, owed.verified)?;
        let period = self.period(rulebook, year)?;
        let (_, used) = Surrenders::tally_of(&self.surrendered, registry, request.from)
            .of_period(request.from, &period.years)?;
        if used.tonnes().saturating_add(request.quantity.tonnes()) > limit.tonnes() {
            return Err(ComplianceError::OffsetLimit {
                year,
                limit: limit.tonnes(),
                used: used.tonnes(),
                requested: request.quantity.tonnes(),
            });
        }
        Ok(())
    }
}

/// The refusal of a unit that is not usable for this scheme and year.
fn not_eligible(
    rulebook: &Rulebook,
    request: &Request<'_>,
    reason: &'static str,
) -> ComplianceError {
    ComplianceError::NotEligible {
        unit: request.class.to_string(),
        year: request.year,
        scheme: rulebook.scheme.id.clone(),
        reason,
    }
}

/// Units surrendered per (account, compliance year, unit class), summed in one pass over
/// compliance's surrender tally (reversed ones no longer count).
pub(super) struct Surrenders {
    tonnes: BTreeMap<(AccountId, u16, u32), u64>,
    offset_classes: Vec<u32>,
}

impl Surrenders {
    pub(super) fn tally(tally: &SurrenderTally, registry: &Registry) -> Surrenders {
        Surrenders::tally_where(tally, registry, |_| true)
    }

    /// As [`Surrenders::tally`], for `account` only (what one surrender's checks
    /// read): the same figures for it, without going through every account's.
    pub(super) fn tally_of(
        tally: &SurrenderTally,
        registry: &Registry,
        account: AccountId,
    ) -> Surrenders {
        Surrenders::sum(tally.entries_of(account), registry, |_| true)
    }

    /// As [`Surrenders::tally`], counting only surrenders whose completion time passes
    /// `counts` (those made by a deadline).
    pub(super) fn tally_where(
        tally: &SurrenderTally,
        registry: &Registry,
        counts: impl Fn(Timestamp) -> bool,
    ) -> Surrenders {
        Surrenders::sum(tally.entries(), registry, counts)
    }

    /// Sums `entries` whose completion time passes `counts`.
    fn sum<'t>(
        entries: impl Iterator<Item = (&'t TallyKey, &'t u64)>,
        registry: &Registry,
        counts: impl Fn(Timestamp) -> bool,
    ) -> Surrenders {
        let mut tonnes: BTreeMap<(AccountId, u16, u32), u64> = BTreeMap::new();
        for (&(account, year, class_index, completed), &surrendered) in entries {
            if !counts(completed) {
                continue;
            }
            let total = tonnes.entry((account, year, class_index)).or_default();
            *total = total.saturating_add(surrendered);
        }
        let offset_classes = registry
            .classes()
            .filter(|(_, class)| class.is_offset())
            .map(|(index, _)| index)
            .collect();
        Surrenders {
            tonnes,
            offset_classes,
        }
    }

    /// Allowances and offsets surrendered from `account` for any of `years` (a period).
    pub(super) fn of_period(
        &self,
        account: AccountId,
        years: &[u16],
    ) -> Result<(Quantity, Quantity), ComplianceError> {
        years.iter().try_fold(
            (Quantity::ZERO, Quantity::ZERO),
            |(allowances, offsets), &year| {
                let (more_allowances, more_offsets) = self.of(account, year);
                match (
                    allowances.checked_add(more_allowances),
                    offsets.checked_add(more_offsets),
                ) {
                    (Ok(allowances), Ok(offsets)) => Ok((allowances, offsets)),
                    _ => Err(RegistryError::Overflow("surrendered").into()),
                }
            },
        )
    }

    /// Allowances and offsets surrendered from `account` for `year`.
    pub(super) fn of(&self, account: AccountId, year: u16) -> (Quantity, Quantity) {
        let (mut allowances, mut offsets) = (0u64, 0u64);
        for (&(_, _, class_index), &tonnes) in self
            .tonnes
            .range((account, year, 0)..=(account, year, u32::MAX))
        {
            let total = if self.offset_classes.contains(&class_index) {
                &mut offsets
            } else {
                &mut allowances
            };
            *total = total.saturating_add(tonnes);
        }
        (Quantity::new(allowances), Quantity::new(offsets))
    }

    /// Units of one class surrendered from `account` for `year`.
    pub(super) fn of_class(&self, account: AccountId, year: u16, class_index: u32) -> Quantity {
        Quantity::new(
            self.tonnes
                .get(&(account, year, class_index))
                .copied()
                .unwrap_or(0),
        )
    }
}
