//! China's industrial sectors from 2024 (steel, cement, aluminium): their
//! allocation rules as a rulebook states them (`[allocation.sector]`, read by
//! [`rules`]) and the formulas that turn a sector's firms into allocations
//! ([`allocation`]). 2024: allocation equals verified emissions, no
//! pre-allocation. 2025: intensity-based so that the sector roughly balances,
//! each firm's surplus or deficit following its intensity against the
//! benchmark (the weight is a rulebook parameter: the exact formula is not
//! published), with the cement exceptions and a pre-allocation of 70% of the
//! previous year's verified emissions. Format: `docs/rulebooks.md`.

pub mod allocation;
pub mod rules;

pub use allocation::{
    AllocationBasis, FirmAllocation, GasEmissions, LineKind, SectorAllocation, SectorFirm,
    co2_equivalent, sector_allocation, sector_pre_allocation,
};
pub use rules::{
    BenchmarkRule, GasWarmingPotentials, IntensityRules, PreAllocationBase, Sector,
    SectorAllocationRules, SectorExceptions, SectorMethod, SectorPreAllocation,
};
