//! Scheme rulebooks and the formulas of compliance: a [`Rulebook`] loaded
//! from a TOML file under `schemes/` (format: `docs/rulebooks.md`), and pure
//! functions for allocation ([`allocation`]), emissions ([`mrv`]),
//! obligations and their limits ([`obligation`]), penalties ([`penalty`]) and
//! the EU's cumulative compliance status ([`compliance`]); compliance
//! periods ([`period`]); the industrial sectors' allocation ([`sector`]).
//!
//! All arithmetic is exact decimal ([`rust_decimal::Decimal`], never `f64`);
//! results become whole tonnes ([`ets_model::Quantity`]) and minor units
//! ([`ets_model::Money`]) by the rules in [`rounding`].
//!
//! **Architecture Invariant:** this crate knows neither the registry nor the
//! engine. It does no I/O except [`Rulebook::load`], reads no clock and draws
//! no randomness.

pub mod allocation;
pub mod compliance;
mod error;
pub mod mrv;
pub mod obligation;
pub mod penalty;
pub mod period;
mod reader;
pub mod rounding;
pub mod rulebook;
pub mod sector;
#[cfg(test)]
mod test_support;

pub use error::{FormulaError, MAX_INPUT_MAGNITUDE};
pub use rulebook::{Rulebook, RulebookError};
