//! The close of a compliance period: each entity's obligation for the whole
//! period (one obligation for China's 2019-2020; relief caps, claw-back owed
//! and the EU's make-good carried in), what it surrendered for the period's
//! years, its status, shortfall and penalty, and whether it met the period's
//! intermediate deadlines. The results become final at the close, and a
//! next-year deduction is applied at once when that year's allocation was
//! issued before the close (see `deduction`).

use super::carry_over::NetSales;
use super::deadline;
use super::error::ComplianceError;
use super::state::{Compliance, ComplianceEffect, CoveredEntity, EntityResult, EntityStatus};
use super::surrender::Surrenders;
use super::tally::SurrenderTally;
use ets_model::{Money, ParticipantId, Price, Quantity, Timestamp};
use ets_registry::{Context, Registry, RegistryError};
use ets_scheme::Rulebook;
use ets_scheme::obligation;
use ets_scheme::penalty::{self, PenaltyInput};
use ets_scheme::period::CompliancePeriod;
use ets_scheme::rulebook::PenaltyRegime;
use rust_decimal::Decimal;

/// What an entity owes for a compliance period, before surrenders.
#[derive(Debug, Clone, Copy)]
pub(super) struct Owed {
    /// Verified emissions of all the period's years.
    pub(super) verified: Quantity,
    /// What must be surrendered: the capped obligation, claw-back owed and the
    /// make-good carried in.
    pub(super) total: Quantity,
    /// Of `total`, the make-good carried in from the previous closed year.
    pub(super) carried: Quantity,
}

fn overflow(what: &'static str) -> ComplianceError {
    RegistryError::Overflow(what).into()
}

impl Compliance {
    /// What `entity` owes for the period of `year`; `None` until every year of the
    /// period has verified emissions.
    pub(super) fn obligation_of(
        &self,
        rulebook: &Rulebook,
        entity: &CoveredEntity,
        year: u16,
    ) -> Result<Option<Owed>, ComplianceError> {
        let participant = entity.spec.participant;
        let period = self.period(rulebook, year)?;
        let (mut verified, mut allocation, mut claw_back) = (0u64, 0u64, 0u64);
        for past in &period.years {
            let Some(emissions) = self
                .reports
                .get(&(participant, *past))
                .and_then(|report| report.verified_emissions)
            else {
                return Ok(None);
            };
            let record = self.allocations.get(&(participant, *past));
            let sum = |total: u64, part: Quantity| total.checked_add(part.tonnes());
            verified = sum(verified, emissions).ok_or_else(|| overflow("verified"))?;
            let (allocated, owed) = record.map_or((Quantity::ZERO, Quantity::ZERO), |record| {
                (record.allocation(), record.claw_back_outstanding)
            });
            allocation = sum(allocation, allocated).ok_or_else(|| overflow("allocation"))?;
            claw_back = sum(claw_back, owed).ok_or_else(|| overflow("claw-back owed"))?;
        }
        let (verified, allocation) = (Quantity::new(verified), Quantity::new(allocation));
        let capped =
            self.capped_obligation(rulebook, entity, &period.years, (verified, allocation))?;
        let carried = self.carried_make_good(&rulebook.scheme.id, participant, &period);
        let total = [Quantity::new(claw_back), carried]
            .into_iter()
            .try_fold(capped, Quantity::checked_add)
            .map_err(|_| overflow("obligation"))?;
        Ok(Some(Owed {
            verified,
            total,
            carried,
        }))
    }

    /// The compliance period of `year` under `rulebook`.
    pub(super) fn period<'a>(
        &self,
        rulebook: &'a Rulebook,
        year: u16,
    ) -> Result<CompliancePeriod<'a>, ComplianceError> {
        rulebook
            .period_of(year)
            .ok_or_else(|| ComplianceError::YearNotInScheme {
                scheme: rulebook.scheme.id.clone(),
                year,
            })
    }

    /// The make-good the closed year before `period` carried into it for `participant`.
    fn carried_make_good(
        &self,
        scheme: &str,
        participant: ParticipantId,
        period: &CompliancePeriod<'_>,
    ) -> Quantity {
        period
            .first_year()
            .checked_sub(1)
            .and_then(|previous| self.closed.get(&(scheme.to_owned(), previous)))
            .and_then(|results| results.iter().find(|line| line.entity == participant))
            .map_or(Quantity::ZERO, |line| line.make_good)
    }

    /// The compliance report of a scheme and year (the whole period it belongs to):
    /// final if the period is closed, else computed from the current state, with
    /// intermediate deadlines not yet judged.
    ///
    /// # Errors
    /// [`ComplianceError::UnknownScheme`], [`ComplianceError::YearNotInScheme`] for a
    /// year the rulebook does not govern, or a formula error.
    pub fn results(
        &self,
        registry: &Registry,
        scheme: &str,
        year: u16,
        reference_average_price: Option<Price>,
    ) -> Result<Vec<EntityResult>, ComplianceError> {
        self.results_as_of(registry, scheme, year, reference_average_price, None)
    }

    /// As [`Compliance::results`], judging the intermediate deadlines passed by `now`.
    fn results_as_of(
        &self,
        registry: &Registry,
        scheme: &str,
        year: u16,
        reference_average_price: Option<Price>,
        now: Option<Timestamp>,
    ) -> Result<Vec<EntityResult>, ComplianceError> {
        let rulebook = self.rulebook(scheme)?;
        let period = self.period(rulebook, year)?;
        if let Some(closed) = self.closed_results(scheme, year) {
            return Ok(closed.to_vec());
        }
        let surrenders = Surrenders::tally(&self.surrendered, registry);
        let by_intermediate =
            intermediate_tallies(registry, &self.surrendered, rulebook, &period, now);
        let judged = Judged {
            rulebook,
            period: &period,
            reference_average_price,
            by_intermediate,
        };
        self.entities
            .values()
            .filter(|entity| entity.scheme == scheme)
            .map(|entity| self.result_of(&surrenders, &judged, entity))
            .collect()
    }

    fn result_of(
        &self,
        surrenders: &Surrenders,
        judged: &Judged<'_>,
        entity: &CoveredEntity,
    ) -> Result<EntityResult, ComplianceError> {
        let (rulebook, period) = (judged.rulebook, judged.period);
        let participant = entity.spec.participant;
        let (allowances, offsets) = surrenders.of_period(entity.spec.account, &period.years)?;
        let allocation = period
            .years
            .iter()
            .filter_map(|year| self.allocations.get(&(participant, *year)))
            .try_fold(Quantity::ZERO, |total, record| {
                total.checked_add(record.allocation())
            })
            .map_err(|_| overflow("allocation"))?;
        let mut result = empty_result(entity, period, allocation, allowances);
        if rulebook.eu_allocation().is_some() {
            result.eu_status =
                Some(self.eu_status_of(surrenders, rulebook, entity, period.last_year())?);
        }
        let Some(owed) = self.obligation_of(rulebook, entity, period.last_year())? else {
            return Ok(result);
        };
        let offsets_used = match &rulebook.offsets {
            Some(rules) => offsets.min(obligation::max_offsets(rules, owed.total, owed.verified)?),
            None => Quantity::ZERO,
        };
        let surrendered = allowances
            .checked_add(offsets_used)
            .map_err(|_| overflow("surrendered"))?;
        assess(
            &mut result,
            rulebook,
            (owed, surrendered),
            (period.last_year(), judged.reference_average_price),
        )?;
        result.offsets_used = offsets_used;
        result.intermediate_shortfall = intermediate_shortfall(judged, entity, owed)?;
        if result.status == EntityStatus::Compliant && !result.intermediate_shortfall.is_zero() {
            result.status = EntityStatus::MissedIntermediateDeadline;
        }
        Ok(result)
    }

    pub(super) fn close_year(
        &mut self,
        registry: &mut Registry,
        context: Context,
        (scheme, year): (&str, u16),
        reference_average_price: Option<Price>,
        net_sales: NetSales<'_>,
    ) -> Result<ComplianceEffect, ComplianceError> {
        Self::require_administrator(registry, context)?;
        self.check_year_open(scheme, year)?;
        let settling = self.settling_year(scheme, year);
        let results = self.results_as_of(
            registry,
            scheme,
            year,
            reference_average_price,
            Some(context.at),
        )?;
        let compliant = results
            .iter()
            .filter(|result| result.status == EntityStatus::Compliant)
            .count();
        let entities = results.len();
        // All or nothing: the carry-over cap and the deductions on a scratch registry.
        let mut scratch = registry.clone();
        self.apply_carry_over_cap(&mut scratch, context, (scheme, settling), net_sales)?;
        self.apply_deductions_now(&mut scratch, context, scheme, settling, &results)?;
        *registry = scratch;
        self.closed.insert((scheme.to_owned(), settling), results);
        Ok(ComplianceEffect::YearClosed {
            entities,
            compliant,
        })
    }
}

/// For each intermediate deadline of the period passed by `now`, its cumulative share
/// and the surrenders made by it (counted once for every entity); none when `now` is
/// `None` (no deadline judged).
fn intermediate_tallies(
    registry: &Registry,
    tally: &SurrenderTally,
    rulebook: &Rulebook,
    period: &CompliancePeriod<'_>,
    now: Option<Timestamp>,
) -> Vec<(Decimal, Surrenders)> {
    let Some(now) = now else {
        return Vec::new();
    };
    period
        .intermediate_deadlines()
        .iter()
        // A deadline still met at `now` has not passed yet.
        .filter(|intermediate| !deadline::is_met(rulebook, intermediate, now))
        .map(|intermediate| {
            let by_then = Surrenders::tally_where(tally, registry, |completed| {
                deadline::is_met(rulebook, intermediate, completed)
            });
            (intermediate.cumulative_share, by_then)
        })
        .collect()
}

/// The most an entity was short at any intermediate deadline of the period that has
/// passed by the judging time (zero when none is judged).
fn intermediate_shortfall(
    judged: &Judged<'_>,
    entity: &CoveredEntity,
    owed: Owed,
) -> Result<Quantity, ComplianceError> {
    let mut worst = Quantity::ZERO;
    for (cumulative_share, by_then) in &judged.by_intermediate {
        let required = obligation::share_due(owed.total, *cumulative_share)?;
        let (allowances, offsets) = by_then.of_period(entity.spec.account, &judged.period.years)?;
        let offsets = match &judged.rulebook.offsets {
            Some(rules) => offsets.min(obligation::max_offsets(rules, owed.total, owed.verified)?),
            None => Quantity::ZERO,
        };
        let made = allowances
            .checked_add(offsets)
            .map_err(|_| overflow("surrendered"))?;
        worst = worst.max(required.checked_sub(made).unwrap_or(Quantity::ZERO));
    }
    Ok(worst)
}

/// The context a period's results are judged in.
struct Judged<'a> {
    rulebook: &'a Rulebook,
    period: &'a CompliancePeriod<'a>,
    reference_average_price: Option<Price>,
    /// Each intermediate deadline passed by the judging time: its cumulative share
    /// and the surrenders made by it.
    by_intermediate: Vec<(Decimal, Surrenders)>,
}

/// An entity's line before its obligation is known.
fn empty_result(
    entity: &CoveredEntity,
    period: &CompliancePeriod<'_>,
    allocation: Quantity,
    allowances: Quantity,
) -> EntityResult {
    EntityResult {
        entity: entity.spec.participant,
        account: entity.spec.account,
        verified_emissions: None,
        allocation,
        obligation: Quantity::ZERO,
        allowances_surrendered: allowances,
        offsets_used: Quantity::ZERO,
        status: EntityStatus::NoVerifiedReport,
        shortfall: Quantity::ZERO,
        fine_min: Money::ZERO,
        fine_max: Money::ZERO,
        next_year_deduction: Quantity::ZERO,
        eu_status: None,
        period: period.label(),
        make_good: Quantity::ZERO,
        intermediate_shortfall: Quantity::ZERO,
    }
}

/// Fills in the obligation, shortfall, status and penalty. Surrenders go first to the
/// make-good carried in; the penalty falls on the period's own emissions left uncovered
/// (a carried tonne was penalised in its own year), and under the EU regime the whole
/// shortfall is carried on as make-good.
fn assess(
    result: &mut EntityResult,
    rulebook: &Rulebook,
    (owed, surrendered): (Owed, Quantity),
    (year, reference_average_price): (u16, Option<Price>),
) -> Result<(), ComplianceError> {
    let own_obligation = owed
        .total
        .checked_sub(owed.carried)
        .unwrap_or(Quantity::ZERO);
    let own_surrendered = surrendered
        .checked_sub(owed.carried)
        .unwrap_or(Quantity::ZERO);
    let assessment = penalty::assess_penalty(
        &rulebook.scheme,
        &rulebook.penalty_for(year),
        &PenaltyInput {
            obligation: own_obligation,
            surrendered: own_surrendered,
            reference_average_price,
        },
    )?;
    let shortfall = owed
        .total
        .checked_sub(surrendered)
        .unwrap_or(Quantity::ZERO);
    result.verified_emissions = Some(owed.verified);
    result.obligation = owed.total;
    result.shortfall = shortfall;
    result.status = if shortfall.is_zero() {
        EntityStatus::Compliant
    } else {
        EntityStatus::Shortfall
    };
    result.fine_min = assessment.fine_min;
    result.fine_max = assessment.fine_max;
    result.next_year_deduction = assessment.next_year_deduction;
    if matches!(rulebook.penalty, PenaltyRegime::Eu(rules) if rules.make_good) {
        result.make_good = shortfall;
    }
    Ok(())
}
