//! The rounding rules from exact decimals to ledger amounts, in one place so
//! that every formula (and the engine, if it sums amounts itself) rounds the
//! same way:
//!
//! - **amounts** (allocations, emissions, obligations, fines): to the nearest
//!   whole tonne or minor unit, halves away from zero, applied **once**, to
//!   the exact total (an entity's allocation is the rounded sum of its units'
//!   exact allocations, not the sum of rounded unit allocations);
//! - **limits** (offsets usable, borrowing, carry-over caps): down to the
//!   whole tonne, so that a limit is never exceeded by rounding;
//! - **shares due** (an intermediate deadline's 95% of the obligation): up to
//!   the whole tonne, so that rounding never excuses part of a tonne.

use crate::error::FormulaError;
use ets_model::{Money, Quantity};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

/// `exact_tonnes` rounded to the nearest whole tonne, halves away from zero.
///
/// # Errors
/// [`FormulaError::Negative`] when the rounded value is below zero,
/// [`FormulaError::Overflow`] when it does not fit `u64`.
pub fn tonnes_nearest(what: &'static str, exact_tonnes: Decimal) -> Result<Quantity, FormulaError> {
    to_quantity(
        what,
        exact_tonnes.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero),
    )
}

/// `exact_tonnes` rounded down to a whole tonne (for limits).
///
/// # Errors
/// As [`tonnes_nearest`].
pub fn tonnes_floor(what: &'static str, exact_tonnes: Decimal) -> Result<Quantity, FormulaError> {
    to_quantity(what, exact_tonnes.floor())
}

/// `exact_tonnes` rounded up to a whole tonne (for shares due).
///
/// # Errors
/// As [`tonnes_nearest`].
pub fn tonnes_ceil(what: &'static str, exact_tonnes: Decimal) -> Result<Quantity, FormulaError> {
    to_quantity(what, exact_tonnes.ceil())
}

/// `exact_minor_units` rounded to the nearest minor unit (fen, cent), halves
/// away from zero.
///
/// # Errors
/// [`FormulaError::Overflow`] when the amount does not fit `i64`.
pub fn minor_units_nearest(
    what: &'static str,
    exact_minor_units: Decimal,
) -> Result<Money, FormulaError> {
    exact_minor_units
        .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
        .to_i64()
        .map(Money::new)
        .ok_or(FormulaError::Overflow { what })
}

fn to_quantity(what: &'static str, whole: Decimal) -> Result<Quantity, FormulaError> {
    if whole.is_sign_negative() && !whole.is_zero() {
        return Err(FormulaError::Negative { what, value: whole });
    }
    whole
        .to_u64()
        .map(Quantity::new)
        .ok_or(FormulaError::Overflow { what })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        Decimal::from_str_exact(text).expect("test literal")
    }

    #[test]
    fn amounts_round_half_away_from_zero_and_limits_round_down() {
        // Goal: the two documented rules, at the midpoint and just below it.
        assert_eq!(tonnes_nearest("t", d("10.5")), Ok(Quantity::new(11)));
        assert_eq!(tonnes_nearest("t", d("10.4999")), Ok(Quantity::new(10)));
        assert_eq!(tonnes_floor("t", d("10.9999")), Ok(Quantity::new(10)));
        assert_eq!(minor_units_nearest("m", d("-2.5")), Ok(Money::new(-3)));
    }

    #[test]
    fn negative_tonnes_are_refused_after_rounding() {
        // Goal: a ledger amount is never negative; -0.4 rounds to 0 and is fine.
        assert_eq!(tonnes_nearest("t", d("-0.4")), Ok(Quantity::ZERO));
        let error = tonnes_nearest("allocation", d("-1")).unwrap_err();
        assert_eq!(error.code(), "negative_input");
        assert!(error.to_string().contains("allocation"));
    }
}
