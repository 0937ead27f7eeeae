//! The compliance cycle inside the engine: rulebooks, covered entities and
//! their units, free allocation (pre-allocation and true-up) carried out as
//! registry transactions, emissions reports and their verification, surrender
//! eligibility, and the close of a year with statuses and penalties. The
//! formulas come from `ets-scheme`; this module keeps the state and applies
//! the rules through the registry.
//!
//! One module per concept: `state` (the state and its queries), `execute`
//! (dispatch, rulebooks, registration), `allocation`, `sector_allocation` (steel,
//! cement, aluminium), `borrowing`, `reports`,
//! `surrender` (eligibility and the per-period sums), `tally` (what each account
//! surrendered, kept as surrenders complete and are reversed), `deadline`, `deduction` (next-year deductions), `caps` (relief caps per unit
//! category), `close`
//! (obligations, results, the close) and `eu_status`.
//!
//! **Invariant:** a refused compliance command changes nothing: steps that
//! touch the registry run on a copy that replaces it only when all succeed.

mod allocation;
mod borrowing;
mod caps;
mod carry_over;
mod close;
mod command;
mod deadline;
mod deduction;
mod error;
mod eu_status;
mod execute;
mod reports;
mod sector_allocation;
mod state;
mod surrender;
mod tally;

pub use carry_over::NetSales;
pub use command::{
    AllocationPhase, ComplianceCommand, Cooling, EntityOutput, EntitySpec, EuInstallationInput,
    EuSubInstallationInput, FuelKind, FuelSpec, LeakageExposure, SectorFirmInput, SectorLine,
    UnitCategory, UnitOutput, UnitSpec,
};
pub use error::ComplianceError;
pub use state::{
    AllocationRecord, Compliance, ComplianceEffect, EntityResult, EntityStatus, Report,
    ReportStatus,
};
pub use tally::SurrenderTally;
