//! Monitoring, reporting and verification of each year of the period: each entity
//! reports in March of the next year, the verifier checks on site in June
//! (under-reports are rejected), and the authority corrects the rejected reports on
//! 1 July, before the allocation (see `timeline`). Every year of a period reports the
//! same plants (the scenario generates one year).

use super::commands::report_command;
use super::driver::{Driver, Sink};
use super::{
    ADMIN, DAY_MS, VERIFIER, YearFacts, compliance, date_ms, entity_participant,
    true_emissions_tonnes,
};
use crate::scenario::{Rng, SimEntity};
use anyhow::Result;
use ets_engine::Effect;
use ets_engine::compliance::{ComplianceCommand, ComplianceEffect};
use ets_model::Quantity;

/// What the MRV cycle found.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MrvTally {
    /// Reports the engine's peer ranges flagged.
    pub flagged: usize,
    /// Entities that under-reported.
    pub under_reporters: usize,
    /// Under-reporters whose report was flagged.
    pub under_reporters_flagged: usize,
    /// Reports the authority corrected.
    pub corrected: usize,
}

/// Reports, verification and corrections of every entity, for each year of the
/// period (counts summed over the years).
pub(super) fn report_and_verify<S: Sink>(
    driver: &mut Driver<'_, S>,
    facts: &YearFacts<'_>,
    entities: &[SimEntity],
    rng: &mut Rng,
) -> Result<MrvTally> {
    let mut total = MrvTally::default();
    for &year in &facts.timeline.years {
        let tally = submit_reports(driver, year, entities, rng)?;
        verify_reports(driver, year, entities)?;
        total.corrected += correct_reports(driver, year, entities)?;
        total.flagged += tally.flagged;
        total.under_reporters += tally.under_reporters;
        total.under_reporters_flagged += tally.under_reporters_flagged;
    }
    Ok(total)
}

/// Every entity reports once, at a random hour of March, in time order.
fn submit_reports<S: Sink>(
    driver: &mut Driver<'_, S>,
    year: u16,
    entities: &[SimEntity],
    rng: &mut Rng,
) -> Result<MrvTally> {
    let mut report_times: Vec<(i64, usize)> = (0..entities.len())
        .map(|i| {
            let offset = (rng.below(30 * 24) as i64) * 3_600_000;
            (date_ms(i64::from(year) + 1, 3, 1, 1) + offset, i)
        })
        .collect();
    report_times.sort_unstable();
    for &(at, i) in &report_times {
        let entity = &entities[i];
        driver.defer(
            entity_participant(entity.index),
            at,
            report_command(entity, year)?,
        )?;
    }
    let effects = driver.flush_phase("reports")?;
    let mut tally = MrvTally::default();
    for (&(_, i), effect) in report_times.iter().zip(effects) {
        let flagged = match effect {
            Effect::Compliance(ComplianceEffect::Report { flags, .. }) => !flags.is_empty(),
            _ => false,
        };
        tally.flagged += usize::from(flagged);
        if entities[i].under_report > 0.0 {
            tally.under_reporters += 1;
            tally.under_reporters_flagged += usize::from(flagged);
        }
    }
    Ok(tally)
}

/// The verifier checks on site in June: under-reports are rejected (flagged or not),
/// the others accepted.
fn verify_reports<S: Sink>(
    driver: &mut Driver<'_, S>,
    year: u16,
    entities: &[SimEntity],
) -> Result<()> {
    let t_verify = date_ms(i64::from(year) + 1, 6, 1, 1);
    for (n, entity) in entities.iter().enumerate() {
        let at = t_verify + (n as i64) * (29 * DAY_MS / entities.len().max(1) as i64);
        driver.defer(
            VERIFIER,
            at,
            compliance(ComplianceCommand::VerifyReport {
                entity: entity_participant(entity.index),
                year,
                accept: entity.under_report == 0.0,
            }),
        )?;
    }
    driver.flush_phase("verification")?;
    Ok(())
}

/// The authority replaces each rejected report's emissions with the true figure.
/// Returns the reports corrected.
fn correct_reports<S: Sink>(
    driver: &mut Driver<'_, S>,
    year: u16,
    entities: &[SimEntity],
) -> Result<usize> {
    let t_correct = date_ms(i64::from(year) + 1, 7, 1, 1);
    let mut corrected = 0usize;
    for entity in entities.iter().filter(|e| e.under_report > 0.0) {
        driver.defer(
            ADMIN,
            t_correct,
            compliance(ComplianceCommand::CorrectReport {
                entity: entity_participant(entity.index),
                year,
                emissions: Quantity::new(true_emissions_tonnes(entity)),
            }),
        )?;
        corrected += 1;
    }
    driver.flush_phase("corrections")?;
    Ok(corrected)
}
