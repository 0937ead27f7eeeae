//! Emissions reports: submission (emissions computed by the rulebook's MRV
//! formulas, implausibility flags for the verifier), verification or
//! rejection, and the authority's correction; and the plausibility ranges.

use super::command::{FuelKind, FuelSpec};
use super::error::ComplianceError;
use super::state::{Compliance, ComplianceEffect, Report, ReportStatus, decimal};
use ets_model::{ParticipantId, Quantity};
use ets_registry::{Context, ParticipantKind, Registry, RegistryError};
use ets_scheme::mrv;

/// The data of an emissions report, as submitted.
pub(super) struct ReportData<'a> {
    pub(super) fuels: &'a [FuelSpec],
    pub(super) purchased_electricity_mwh: &'a str,
    pub(super) output_mwh: &'a str,
    pub(super) draft: bool,
}

impl Compliance {
    pub(super) fn set_plausibility_ranges(
        &mut self,
        registry: &Registry,
        context: Context,
        scheme: &str,
        texts: [String; 4],
    ) -> Result<ComplianceEffect, ComplianceError> {
        Self::require_administrator(registry, context)?;
        self.rulebook(scheme)?;
        plausibility_ranges(&texts)?;
        self.plausibility.insert(scheme.to_owned(), texts);
        Ok(ComplianceEffect::PlausibilityRangesSet {
            scheme: scheme.to_owned(),
        })
    }

    pub(super) fn submit_report(
        &mut self,
        registry: &Registry,
        context: Context,
        entity_id: ParticipantId,
        year: u16,
        data: ReportData<'_>,
    ) -> Result<ComplianceEffect, ComplianceError> {
        let entity = self.entity_for_year(entity_id, year)?;
        Self::require_entity_or_representative(registry, context, entity)?;
        self.check_year_open(&entity.scheme, year)?;
        if let Some(existing) = self.reports.get(&(entity_id, year))
            && matches!(
                existing.status,
                ReportStatus::Verified | ReportStatus::Corrected
            )
        {
            return Err(ComplianceError::ReportState {
                entity: entity_id,
                year,
                status: existing.status.name(),
                problem: "a verified report cannot be resubmitted",
            });
        }
        let rules = self
            .rulebook(&entity.scheme)?
            .mrv
            .ok_or_else(|| ComplianceError::NoMrvRules(entity.scheme.clone()))?;
        let records = fuel_records(data.fuels)?;
        let purchased = decimal("purchased_electricity_mwh", data.purchased_electricity_mwh)?;
        let output = decimal("output_mwh", data.output_mwh)?;
        let emissions = mrv::emissions(&rules, &records, purchased)?;
        let flags = match self.plausibility.get(&entity.scheme) {
            Some(texts) => {
                let ranges = plausibility_ranges(texts)?;
                mrv::plausibility_flags(&records, &emissions, output, &ranges)?
                    .iter()
                    .map(describe_flag)
                    .collect()
            }
            None => Vec::new(),
        };
        let status = if data.draft {
            ReportStatus::Draft
        } else {
            ReportStatus::Submitted
        };
        let report = Report {
            status,
            fuels: data.fuels.to_vec(),
            purchased_electricity_mwh: data.purchased_electricity_mwh.to_owned(),
            computed_emissions: emissions.total,
            records_using_default_carbon_content: emissions.records_using_default_carbon_content,
            submitted_by: context.requester,
            decided_by: None,
            verified_emissions: None,
            flags: flags.clone(),
        };
        self.reports.insert((entity_id, year), report);
        Ok(ComplianceEffect::Report {
            status,
            computed_emissions: emissions.total,
            flags,
        })
    }

    pub(super) fn verify_report(
        &mut self,
        registry: &Registry,
        context: Context,
        entity: ParticipantId,
        year: u16,
        accept: bool,
    ) -> Result<ComplianceEffect, ComplianceError> {
        let verifier = registry
            .participant(context.requester)
            .map_err(|_| RegistryError::UnknownRequester(context.requester))?;
        if verifier.kind != ParticipantKind::Verifier {
            return Err(ComplianceError::NotVerifier(context.requester));
        }
        let scheme = self.entity_for_year(entity, year)?.scheme.clone();
        self.check_year_open(&scheme, year)?;
        let report = self
            .reports
            .get_mut(&(entity, year))
            .ok_or(ComplianceError::NoReport { entity, year })?;
        if report.status != ReportStatus::Submitted {
            return Err(ComplianceError::ReportState {
                entity,
                year,
                status: report.status.name(),
                problem: "only a submitted report can be verified or rejected",
            });
        }
        report.status = if accept {
            report.verified_emissions = Some(report.computed_emissions);
            ReportStatus::Verified
        } else {
            ReportStatus::Rejected
        };
        report.decided_by = Some(context.requester);
        Ok(ComplianceEffect::Report {
            status: report.status,
            computed_emissions: report.computed_emissions,
            flags: report.flags.clone(),
        })
    }

    pub(super) fn correct_report(
        &mut self,
        registry: &Registry,
        context: Context,
        entity: ParticipantId,
        year: u16,
        emissions: Quantity,
    ) -> Result<ComplianceEffect, ComplianceError> {
        Self::require_administrator(registry, context)?;
        let scheme = self.entity_for_year(entity, year)?.scheme.clone();
        self.check_year_open(&scheme, year)?;
        // Without [mrv] (EU) reports cannot be computed here: the verified emissions are
        // entered as the authority's figure, which creates the report.
        if self.rulebook(&scheme)?.mrv.is_none() && !self.reports.contains_key(&(entity, year)) {
            self.reports.insert(
                (entity, year),
                Report {
                    status: ReportStatus::Corrected,
                    fuels: Vec::new(),
                    purchased_electricity_mwh: "0".to_owned(),
                    computed_emissions: emissions,
                    records_using_default_carbon_content: 0,
                    submitted_by: context.requester,
                    decided_by: None,
                    verified_emissions: None,
                    flags: Vec::new(),
                },
            );
        }
        let report = self
            .reports
            .get_mut(&(entity, year))
            .ok_or(ComplianceError::NoReport { entity, year })?;
        report.status = ReportStatus::Corrected;
        report.verified_emissions = Some(emissions);
        report.decided_by = Some(context.requester);
        Ok(ComplianceEffect::Report {
            status: ReportStatus::Corrected,
            computed_emissions: report.computed_emissions,
            flags: report.flags.clone(),
        })
    }
}

/// The fuel records of a report as the MRV formulas take them.
pub(super) fn fuel_records(fuels: &[FuelSpec]) -> Result<Vec<mrv::FuelRecord>, ComplianceError> {
    fuels
        .iter()
        .map(|fuel| {
            Ok(mrv::FuelRecord {
                kind: match fuel.kind {
                    FuelKind::Coal => mrv::FuelKind::Coal,
                    FuelKind::Other => mrv::FuelKind::Other,
                },
                consumed_quantity: decimal("consumed", &fuel.consumed)?,
                net_calorific_value_gj_per_quantity: decimal(
                    "net_calorific_value",
                    &fuel.net_calorific_value,
                )?,
                measured_carbon_content_tonnes_c_per_gj: fuel
                    .carbon_content
                    .as_deref()
                    .map(|text| decimal("carbon_content", text))
                    .transpose()?,
                measured_oxidation_rate: fuel
                    .oxidation_rate
                    .as_deref()
                    .map(|text| decimal("oxidation_rate", text))
                    .transpose()?,
            })
        })
        .collect()
}

/// Parses stored plausibility ranges (carbon content min/max, intensity min/max).
fn plausibility_ranges(texts: &[String; 4]) -> Result<mrv::PlausibilityRanges, ComplianceError> {
    let range =
        |min_field, min: &str, max_field, max: &str| -> Result<mrv::PeerRange, ComplianceError> {
            let range = mrv::PeerRange {
                min: decimal(min_field, min)?,
                max: decimal(max_field, max)?,
            };
            if range.min > range.max || range.min.is_sign_negative() {
                return Err(ComplianceError::BadDecimal {
                    field: max_field,
                    text: format!(
                        "{max} (must be at least {min_field} {min}, and both non-negative)"
                    ),
                });
            }
            Ok(range)
        };
    Ok(mrv::PlausibilityRanges {
        carbon_content_tonnes_c_per_gj: range(
            "carbon_content_min",
            &texts[0],
            "carbon_content_max",
            &texts[1],
        )?,
        intensity_tonnes_per_mwh: range("intensity_min", &texts[2], "intensity_max", &texts[3])?,
    })
}

/// A flag as `code: detail` for the verifier.
fn describe_flag(flag: &mrv::ImplausibilityFlag) -> String {
    match flag {
        mrv::ImplausibilityFlag::CarbonContentOutsidePeerRange {
            fuel_index,
            value_tonnes_c_per_gj,
            range,
        } => format!(
            "{}: fuel record {fuel_index} has {value_tonnes_c_per_gj} tC/GJ, outside {}-{}",
            flag.code(),
            range.min,
            range.max
        ),
        mrv::ImplausibilityFlag::IntensityOutsidePeerRange {
            value_tonnes_per_mwh,
            range,
        } => format!(
            "{}: {value_tonnes_per_mwh} t/MWh, outside {}-{}",
            flag.code(),
            range.min,
            range.max
        ),
    }
}
