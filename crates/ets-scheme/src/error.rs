//! The error every formula returns for input it refuses: negative or absurd
//! amounts, fractions outside 0..=1, missing measurements, factors the
//! rulebook does not have, and arithmetic that would overflow. Each error
//! names the offending value and has a stable code.

use rust_decimal::Decimal;
use thiserror::Error;

/// The largest magnitude accepted for any input amount (MWh, GJ, tonnes of
/// fuel, tonnes of CO2): 10^15. Anything larger is a data error, and the
/// bound keeps every product far from `Decimal`'s range.
pub const MAX_INPUT_MAGNITUDE: i64 = 1_000_000_000_000_000;

/// Why a formula refused its input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FormulaError {
    /// An amount that must not be negative is.
    #[error("{what} must not be negative, got {value}")]
    Negative {
        /// The name of the input.
        what: &'static str,
        /// The offending value.
        value: Decimal,
    },
    /// A value outside its allowed interval (a load factor of 1.2).
    #[error("{what} = {value} is outside {allowed}")]
    OutOfRange {
        /// The name of the input.
        what: &'static str,
        /// The offending value.
        value: Decimal,
        /// The allowed interval.
        allowed: &'static str,
    },
    /// An amount larger than [`MAX_INPUT_MAGNITUDE`].
    #[error("{what} = {value} exceeds the limit of {limit}")]
    TooLarge {
        /// The name of the input.
        what: &'static str,
        /// The offending value.
        value: Decimal,
        /// The limit.
        limit: Decimal,
    },
    /// More entries than a formula accepts in one call.
    #[error("{what}: {count} entries exceed the limit of {limit}")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// How many were given.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A result does not fit its type.
    #[error("arithmetic overflow computing {what}")]
    Overflow {
        /// What was being computed.
        what: &'static str,
    },
    /// A measurement is missing and the rulebook has no default for it.
    #[error(
        "fuel record {fuel_index} has no measured {what}, and the rulebook's default is for coal only"
    )]
    MissingMeasurement {
        /// The index of the fuel record.
        fuel_index: usize,
        /// The missing measurement.
        what: &'static str,
    },
    /// The rulebook has no value of a factor for a year.
    #[error("the rulebook has no {factor} for {year}")]
    FactorNotInRulebook {
        /// The factor (`CSCF`, `CLEF`).
        factor: &'static str,
        /// The year asked for.
        year: u16,
    },
    /// The rulebook does not provide a rule the formula needs.
    #[error("the rulebook has no {what}")]
    RuleNotInRulebook {
        /// The missing rule.
        what: &'static str,
    },
    /// A fine multiple outside the regime's band.
    #[error("fine multiple {multiple} is outside the regime's band {min}..={max}")]
    MultipleOutsideBand {
        /// The multiple asked for.
        multiple: Decimal,
        /// The regime's lowest multiple.
        min: Decimal,
        /// The regime's highest multiple.
        max: Decimal,
    },
    /// Inputs that contradict each other.
    #[error("{what} = {value} is inconsistent: {reason}")]
    Inconsistent {
        /// The name of the input.
        what: &'static str,
        /// The offending value.
        value: Decimal,
        /// Why.
        reason: &'static str,
    },
    /// A required input was not given.
    #[error("{what} is required here but was not given")]
    MissingInput {
        /// The missing input.
        what: &'static str,
    },
    /// A year given twice.
    #[error("year {year} appears more than once")]
    DuplicateYear {
        /// The repeated year.
        year: u16,
    },
    /// A peer range whose minimum is above its maximum.
    #[error("peer range for {what} is empty: min {min} is above max {max}")]
    InvalidPeerRange {
        /// What the range bounds.
        what: &'static str,
        /// Its minimum.
        min: Decimal,
        /// Its maximum.
        max: Decimal,
    },
}

impl FormulaError {
    /// The stable machine-readable code of this error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            FormulaError::Negative { .. } => "negative_input",
            FormulaError::OutOfRange { .. } => "input_out_of_range",
            FormulaError::TooLarge { .. } => "input_too_large",
            FormulaError::TooMany { .. } => "too_many_entries",
            FormulaError::Overflow { .. } => "arithmetic_overflow",
            FormulaError::MissingMeasurement { .. } => "measurement_missing",
            FormulaError::FactorNotInRulebook { .. } => "factor_not_in_rulebook",
            FormulaError::RuleNotInRulebook { .. } => "rule_not_in_rulebook",
            FormulaError::MultipleOutsideBand { .. } => "fine_multiple_outside_band",
            FormulaError::Inconsistent { .. } => "inconsistent_input",
            FormulaError::MissingInput { .. } => "input_missing",
            FormulaError::DuplicateYear { .. } => "duplicate_year",
            FormulaError::InvalidPeerRange { .. } => "invalid_peer_range",
        }
    }
}

/// `value`, refused when negative or above [`MAX_INPUT_MAGNITUDE`].
pub(crate) fn non_negative(what: &'static str, value: Decimal) -> Result<Decimal, FormulaError> {
    let limit = Decimal::from(MAX_INPUT_MAGNITUDE);
    if value.is_sign_negative() && !value.is_zero() {
        Err(FormulaError::Negative { what, value })
    } else if value > limit {
        Err(FormulaError::TooLarge { what, value, limit })
    } else {
        Ok(value)
    }
}

/// `value`, refused unless `0 <= value <= 1`.
pub(crate) fn fraction(what: &'static str, value: Decimal) -> Result<Decimal, FormulaError> {
    if (value.is_sign_negative() && !value.is_zero()) || value > Decimal::ONE {
        Err(FormulaError::OutOfRange {
            what,
            value,
            allowed: "0..=1",
        })
    } else {
        Ok(value)
    }
}

/// `count`, refused above `limit`.
pub(crate) fn at_most(what: &'static str, count: usize, limit: usize) -> Result<(), FormulaError> {
    if count > limit {
        Err(FormulaError::TooMany { what, count, limit })
    } else {
        Ok(())
    }
}

/// `a * b`, or an overflow error naming `what`.
pub(crate) fn mul(what: &'static str, a: Decimal, b: Decimal) -> Result<Decimal, FormulaError> {
    a.checked_mul(b).ok_or(FormulaError::Overflow { what })
}

/// `a + b`, or an overflow error naming `what`.
pub(crate) fn add(what: &'static str, a: Decimal, b: Decimal) -> Result<Decimal, FormulaError> {
    a.checked_add(b).ok_or(FormulaError::Overflow { what })
}

/// `a - b`, or an overflow error naming `what`.
pub(crate) fn sub(what: &'static str, a: Decimal, b: Decimal) -> Result<Decimal, FormulaError> {
    a.checked_sub(b).ok_or(FormulaError::Overflow { what })
}

/// `a / b`, or an overflow error naming `what` (also for `b = 0`).
pub(crate) fn div(what: &'static str, a: Decimal, b: Decimal) -> Result<Decimal, FormulaError> {
    a.checked_div(b).ok_or(FormulaError::Overflow { what })
}

/// The product of `factors`, checked.
pub(crate) fn product(what: &'static str, factors: &[Decimal]) -> Result<Decimal, FormulaError> {
    factors
        .iter()
        .try_fold(Decimal::ONE, |acc, factor| mul(what, acc, *factor))
}
