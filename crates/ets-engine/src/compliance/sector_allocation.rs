//! Free allocation of China's industrial sectors (steel, cement, aluminium from 2024)
//! carried out as registry transactions, like power's: the pre-allocation (a share of
//! the previous year's verified emissions) and the final allocation by the sector
//! rulebook's method with its true-up. The final allocation needs every firm of the
//! scheme at once (the benchmark is the sector's balance value) and takes each firm's
//! verified emissions from the engine's reports. Every figure is computed before the
//! registry is touched; the registry steps run on a copy that replaces it only when all
//! succeed.

use super::allocation::{Plan, check_order};
use super::command::{AllocationPhase, SectorFirmInput, SectorLine};
use super::error::ComplianceError;
use super::state::{Compliance, ComplianceEffect, ENTITIES_PER_COMMAND_MAX, decimal};
use ets_model::{ParticipantId, Quantity, UnitClass, Vintage};
use ets_registry::{Context, Registry};
use ets_scheme::sector::{self, LineKind, SectorAllocationRules, SectorFirm};
use rust_decimal::Decimal;
use std::collections::BTreeSet;

/// Each firm's final allocation with its basis, and the benchmark used.
type FinalAllocations = (Vec<(Quantity, &'static str)>, Option<Decimal>);

impl Compliance {
    pub(super) fn allocate_sector(
        &mut self,
        registry: &mut Registry,
        context: Context,
        (scheme, year): (&str, u16),
        phase: AllocationPhase,
        firms: &[SectorFirmInput],
    ) -> Result<ComplianceEffect, ComplianceError> {
        Self::require_administrator(registry, context)?;
        self.check_year_open(scheme, year)?;
        let rulebook = self.rulebook(scheme)?;
        let rules = rulebook
            .sector_allocation()
            .ok_or_else(|| ComplianceError::AllocationModeUnsupported(scheme.to_owned()))?;
        let class = UnitClass::Allowance {
            scheme: rulebook.scheme.unit_code,
            vintage: Vintage(year),
        };
        self.check_sector_list(scheme, phase, firms)?;
        // Compute every firm's figure first; nothing is touched yet.
        let (totals, benchmark) = match phase {
            AllocationPhase::Pre => (pre_allocations(rules, firms)?, None),
            AllocationPhase::Final => self.final_sector_allocations(rules, year, firms)?,
        };
        let mut plans = Vec::with_capacity(firms.len());
        for (firm, (total, basis)) in firms.iter().zip(totals) {
            let entity = self.entity_in(firm.participant, scheme)?;
            let record = self
                .allocations
                .get(&(firm.participant, year))
                .cloned()
                .unwrap_or_default();
            check_order(&record, phase, firm.participant, year)?;
            let mut breakdown = vec![(basis.to_owned(), total.tonnes().to_string())];
            if let Some(benchmark) = benchmark {
                breakdown.push(("benchmark".to_owned(), benchmark.normalize().to_string()));
            }
            plans.push(Plan {
                account: entity.spec.account,
                participant: firm.participant,
                total,
                record,
                breakdown,
            });
        }
        self.apply_plans(registry, context, (class, year, phase), plans)
    }

    /// The list's checks: at most the command's limit, each firm a registered entity of
    /// `scheme` once, and for the final allocation every registered firm of the scheme.
    fn check_sector_list(
        &self,
        scheme: &str,
        phase: AllocationPhase,
        firms: &[SectorFirmInput],
    ) -> Result<(), ComplianceError> {
        let bad = |participant: ParticipantId, problem: String| ComplianceError::BadSectorFirms {
            participant,
            problem,
        };
        if firms.len() > ENTITIES_PER_COMMAND_MAX {
            let problem = format!(
                "at most {ENTITIES_PER_COMMAND_MAX} firms per command, got {}",
                firms.len()
            );
            return Err(bad(ParticipantId(0), problem));
        }
        let mut seen = BTreeSet::new();
        for firm in firms {
            self.entity_in(firm.participant, scheme)?;
            if !seen.insert(firm.participant) {
                let problem = "the firm is listed twice".to_owned();
                return Err(bad(firm.participant, problem));
            }
        }
        if phase == AllocationPhase::Final {
            let missing = self
                .entities
                .keys()
                .find(|(participant, of)| of == scheme && !seen.contains(participant));
            if let Some((participant, _)) = missing {
                let problem = format!(
                    "is registered under {scheme:?} but not listed: the final allocation's benchmark needs every firm of the sector"
                );
                return Err(bad(*participant, problem));
            }
        }
        Ok(())
    }

    /// Each firm's final allocation and its basis, from the verified emissions of `year`,
    /// and the benchmark (under the intensity method).
    fn final_sector_allocations(
        &self,
        rules: &SectorAllocationRules,
        year: u16,
        firms: &[SectorFirmInput],
    ) -> Result<FinalAllocations, ComplianceError> {
        let inputs = firms
            .iter()
            .map(|firm| {
                let verified = self.verified_of(firm.participant, year)?;
                Ok(SectorFirm {
                    output_tonnes: decimal("output_tonnes", &firm.output_tonnes)?,
                    verified,
                    line: match firm.line {
                        SectorLine::Standard => LineKind::Standard,
                        SectorLine::WhiteCementClinker => LineKind::WhiteCementClinker,
                        SectorLine::ByProductClinker => LineKind::ByProductClinker,
                    },
                    carbide_slag_share: decimal("carbide_slag_share", &firm.carbide_slag_share)?,
                })
            })
            .collect::<Result<Vec<_>, ComplianceError>>()?;
        let result = sector::sector_allocation(rules, &inputs)?;
        let lines = result
            .firms
            .iter()
            .map(|firm| (firm.allocation, basis_name(firm.basis)))
            .collect();
        Ok((lines, result.benchmark))
    }

    /// The verified (or corrected) emissions of `participant` for `year`.
    fn verified_of(
        &self,
        participant: ParticipantId,
        year: u16,
    ) -> Result<Quantity, ComplianceError> {
        let report = self
            .reports
            .get(&(participant, year))
            .ok_or(ComplianceError::NoReport {
                entity: participant,
                year,
            })?;
        report
            .verified_emissions
            .ok_or(ComplianceError::ReportState {
                entity: participant,
                year,
                status: report.status.name(),
                problem: "the sector's final allocation needs verified emissions",
            })
    }
}

/// Each firm's pre-allocation (zero where the rulebook has none) and its basis.
fn pre_allocations(
    rules: &SectorAllocationRules,
    firms: &[SectorFirmInput],
) -> Result<Vec<(Quantity, &'static str)>, ComplianceError> {
    firms
        .iter()
        .map(|firm| {
            let pre = sector::sector_pre_allocation(rules, firm.previous_year_verified)?;
            Ok((pre.unwrap_or(Quantity::ZERO), "pre_allocation"))
        })
        .collect()
}

/// The snake_case name of an allocation basis (the record's breakdown line).
fn basis_name(basis: sector::AllocationBasis) -> &'static str {
    match basis {
        sector::AllocationBasis::Verified => "verified",
        sector::AllocationBasis::WhiteCementClinker => "white_cement_clinker",
        sector::AllocationBasis::CarbideSlag => "carbide_slag",
        sector::AllocationBasis::ByProductClinker => "by_product_clinker",
        sector::AllocationBasis::Intensity => "intensity",
    }
}
