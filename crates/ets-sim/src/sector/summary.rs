//! What each sector's year came to, read from the engine's closed results of its
//! scheme and from its firms' abatement: the year report's "Industrial sectors" table.

use super::SectorYear;
use crate::agents::Firm;
use ets_engine::Engine;
use ets_engine::compliance::{EntityResult, EntityStatus};
use serde::Serialize;

/// One sector's year.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SectorSummary {
    /// The scheme id of its rulebook (`cn-steel-2025`).
    pub scheme: String,
    /// Firms.
    pub firms: usize,
    /// CO2 before abatement, Mt.
    pub bau_co2_mt: f64,
    /// CO2 abated, Mt.
    pub abated_mt: f64,
    /// What the abatement cost, yuan.
    pub abatement_cost_yuan: f64,
    /// Verified emissions (CO2e), Mt, from the closed results.
    pub verified_mt: f64,
    /// Allocation the engine recorded, Mt, from the closed results.
    pub allocation_mt: f64,
    /// The benchmark of the intensity method, t CO2e per t of product.
    pub benchmark: Option<f64>,
    /// Firms compliant at the close.
    pub compliant: usize,
    /// Shortfall at the close, Mt.
    pub shortfall_mt: f64,
}

impl SectorSummary {
    /// The summary of `sector` from its `closed` results.
    #[must_use]
    pub fn of(sector: &SectorYear, scheme: &str, closed: &[EntityResult]) -> SectorSummary {
        let mt = |tonnes: u64| tonnes as f64 / 1e6;
        let sum = |f: fn(&EntityResult) -> u64| mt(closed.iter().map(f).sum());
        SectorSummary {
            scheme: scheme.to_owned(),
            firms: sector.firms.len(),
            bau_co2_mt: sector.agents.iter().map(|f| f.bau_tonnes).sum::<f64>() / 1e6,
            abated_mt: sector
                .agents
                .iter()
                .zip(&sector.firms)
                .map(|(agent, firm)| agent.bau_tonnes - firm.co2_tonnes as f64)
                .sum::<f64>()
                / 1e6,
            abatement_cost_yuan: sector.agents.iter().map(Firm::abatement_cost).sum(),
            verified_mt: sum(|r| r.verified_emissions.map_or(0, |q| q.tonnes())),
            allocation_mt: sum(|r| r.allocation.tonnes()),
            benchmark: sector.set_up.benchmark,
            compliant: closed
                .iter()
                .filter(|r| r.status == EntityStatus::Compliant)
                .count(),
            shortfall_mt: sum(|r| r.shortfall.tonnes()),
        }
    }

    /// The report's header of the sector table.
    pub const HEADER: [&'static str; 9] = [
        "Scheme",
        "Firms",
        "BAU CO2 (Mt)",
        "Abated (Mt)",
        "Abatement cost (M yuan)",
        "Verified (Mt)",
        "Allocated by the engine (Mt)",
        "Benchmark (t/t)",
        "Compliant / shortfall (Mt)",
    ];

    /// The sector's row of the report's table.
    #[must_use]
    pub fn row(&self) -> Vec<String> {
        vec![
            self.scheme.clone(),
            self.firms.to_string(),
            format!("{:.1}", self.bau_co2_mt),
            format!("{:.2}", self.abated_mt),
            format!("{:.1}", self.abatement_cost_yuan / 1e6),
            format!("{:.1}", self.verified_mt),
            format!("{:.1}", self.allocation_mt),
            self.benchmark
                .map_or_else(|| "-".to_owned(), |b| format!("{b:.4}")),
            format!("{} / {:.3}", self.compliant, self.shortfall_mt),
        ]
    }
}

/// Every sector's summary, from the engine's closed results of `year`.
#[must_use]
pub fn summaries(engine: &Engine, sectors: &[SectorYear], year: u16) -> Vec<SectorSummary> {
    sectors
        .iter()
        .map(|sector| {
            let period = sector.period(year);
            let closed = engine
                .compliance()
                .closed_results(period.scheme(), year)
                .unwrap_or_default();
            SectorSummary::of(sector, period.scheme(), closed)
        })
        .collect()
}
