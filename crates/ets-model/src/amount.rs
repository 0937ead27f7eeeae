//! Whole tonnes, prices in ticks and money in minor units, with checked
//! arithmetic. Products go through `i128` so no intermediate can overflow.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why an amount could not be built or computed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AmountError {
    /// The quantity is zero where a positive amount of tonnes is required.
    #[error("quantity must be at least 1 tonne, got 0")]
    ZeroQuantity,
    /// A sum or product does not fit the type.
    #[error("arithmetic overflow: {0}")]
    Overflow(&'static str),
    /// A value is negative where only non-negative values make sense.
    #[error("{what} must not be negative, got {value}")]
    Negative {
        /// The name of the value.
        what: &'static str,
        /// The offending value.
        value: i64,
    },
}

impl AmountError {
    /// The stable machine-readable code of this error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            AmountError::ZeroQuantity => "zero_quantity",
            AmountError::Overflow(_) => "overflow",
            AmountError::Negative { .. } => "negative_amount",
        }
    }
}

/// A number of whole tonnes of CO2 equivalent (one unit = one tonne).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Quantity(u64);

impl Quantity {
    /// No tonnes.
    pub const ZERO: Quantity = Quantity(0);

    /// The most one command may create: 10^12 t, twenty times the world's
    /// yearly emissions. A larger number is a typo or an attack (an `issue`
    /// of 2^63 would use up the serial numbers), never a real allocation.
    pub const MAX_PER_COMMAND: Quantity = Quantity(1_000_000_000_000);

    /// A quantity of `tonnes`, which may be zero (a balance).
    #[must_use]
    pub const fn new(tonnes: u64) -> Quantity {
        Quantity(tonnes)
    }

    /// A positive quantity for a command: zero is refused.
    ///
    /// # Errors
    /// [`AmountError::ZeroQuantity`] when `tonnes` is 0.
    pub const fn try_positive(tonnes: u64) -> Result<Quantity, AmountError> {
        if tonnes == 0 {
            Err(AmountError::ZeroQuantity)
        } else {
            Ok(Quantity(tonnes))
        }
    }

    /// The number of tonnes.
    #[must_use]
    pub const fn tonnes(self) -> u64 {
        self.0
    }

    /// Whether this is zero tonnes.
    #[must_use]
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `self + other`.
    ///
    /// # Errors
    /// [`AmountError::Overflow`] when the sum exceeds `u64::MAX` tonnes.
    pub fn checked_add(self, other: Quantity) -> Result<Quantity, AmountError> {
        self.0
            .checked_add(other.0)
            .map(Quantity)
            .ok_or(AmountError::Overflow("quantity sum"))
    }

    /// `self - other`, or `None` when `other` is larger.
    #[must_use]
    pub fn checked_sub(self, other: Quantity) -> Option<Quantity> {
        self.0.checked_sub(other.0).map(Quantity)
    }

    /// The smaller of two quantities.
    #[must_use]
    pub fn min(self, other: Quantity) -> Quantity {
        Quantity(self.0.min(other.0))
    }
}

impl std::fmt::Display for Quantity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} t", self.0)
    }
}

/// A price per tonne in ticks of the scheme's currency (0.01 yuan in China).
/// Deserialization goes through [`Price::try_new`], so a negative price can
/// no more come from a journal or snapshot than from a constructor.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(try_from = "i64")]
pub struct Price(i64);

impl TryFrom<i64> for Price {
    type Error = AmountError;

    fn try_from(ticks: i64) -> Result<Price, AmountError> {
        Price::try_new(ticks)
    }
}

impl Price {
    /// A non-negative price of `ticks`.
    ///
    /// # Errors
    /// [`AmountError::Negative`] when `ticks` is below zero.
    pub const fn try_new(ticks: i64) -> Result<Price, AmountError> {
        if ticks < 0 {
            Err(AmountError::Negative {
                what: "price",
                value: ticks,
            })
        } else {
            Ok(Price(ticks))
        }
    }

    /// The price in ticks.
    #[must_use]
    pub const fn ticks(self) -> i64 {
        self.0
    }

    /// The value of `quantity` at this price, when one tick equals one minor unit.
    ///
    /// # Errors
    /// [`AmountError::Overflow`] when the product does not fit in `i64`.
    pub fn times(self, quantity: Quantity) -> Result<Money, AmountError> {
        let product = i128::from(self.0) * i128::from(quantity.0);
        i64::try_from(product)
            .map(Money)
            .map_err(|_| AmountError::Overflow("price times quantity"))
    }
}

/// An amount of money in minor units of a currency (fen, cents), signed so
/// that differences can be expressed; balances are checked to be non-negative
/// where they are kept.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Money(i64);

impl Money {
    /// No money.
    pub const ZERO: Money = Money(0);

    /// An amount of `minor_units`.
    #[must_use]
    pub const fn new(minor_units: i64) -> Money {
        Money(minor_units)
    }

    /// A non-negative amount (a deposit, a balance).
    ///
    /// # Errors
    /// [`AmountError::Negative`] when `minor_units` is below zero.
    pub const fn try_non_negative(minor_units: i64) -> Result<Money, AmountError> {
        if minor_units < 0 {
            Err(AmountError::Negative {
                what: "money",
                value: minor_units,
            })
        } else {
            Ok(Money(minor_units))
        }
    }

    /// The amount in minor units.
    #[must_use]
    pub const fn minor_units(self) -> i64 {
        self.0
    }

    /// `self + other`.
    ///
    /// # Errors
    /// [`AmountError::Overflow`] when the sum does not fit.
    pub fn checked_add(self, other: Money) -> Result<Money, AmountError> {
        self.0
            .checked_add(other.0)
            .map(Money)
            .ok_or(AmountError::Overflow("money sum"))
    }

    /// `self - other`.
    ///
    /// # Errors
    /// [`AmountError::Overflow`] when the difference does not fit.
    pub fn checked_sub(self, other: Money) -> Result<Money, AmountError> {
        self.0
            .checked_sub(other.0)
            .map(Money)
            .ok_or(AmountError::Overflow("money difference"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn zero_quantity_is_refused_for_commands_but_allowed_as_a_balance() {
        assert_eq!(Quantity::try_positive(0), Err(AmountError::ZeroQuantity));
        assert_eq!(Quantity::new(0), Quantity::ZERO);
        assert_eq!(Quantity::try_positive(5).map(Quantity::tonnes), Ok(5));
    }

    #[test]
    fn quantity_overflow_is_an_error_not_a_wrap() {
        let max = Quantity::new(u64::MAX);
        assert!(matches!(
            max.checked_add(Quantity::new(1)),
            Err(AmountError::Overflow(_))
        ));
        assert_eq!(Quantity::new(3).checked_sub(Quantity::new(4)), None);
    }

    #[test]
    fn negative_price_is_refused_and_named() {
        let error = Price::try_new(-1).unwrap_err();
        assert_eq!(error.code(), "negative_amount");
        assert!(error.to_string().contains("-1"));
    }

    #[test]
    fn price_times_quantity_uses_wide_intermediate() {
        // 98.00 yuan x 865,300 t x 5 is the Ningxia 2024 fine: 423,997,000 yuan.
        let price = Price::try_new(9_800).unwrap();
        let value = price.times(Quantity::new(865_300)).unwrap();
        assert_eq!(value.minor_units() * 5, 42_399_700_000);
        let huge = Price::try_new(i64::MAX).unwrap();
        assert!(huge.times(Quantity::new(2)).is_err());
    }

    proptest! {
        #[test]
        fn checked_add_matches_wide_arithmetic(a in any::<u64>(), b in any::<u64>()) {
            let wide = u128::from(a) + u128::from(b);
            let sum = Quantity::new(a).checked_add(Quantity::new(b));
            prop_assert_eq!(sum.is_ok(), wide <= u128::from(u64::MAX));
            if let Ok(sum) = sum {
                prop_assert_eq!(u128::from(sum.tonnes()), wide);
            }
        }

        #[test]
        fn money_add_then_sub_round_trips(a in any::<i64>(), b in any::<i64>()) {
            if let Ok(sum) = Money::new(a).checked_add(Money::new(b)) {
                prop_assert_eq!(sum.checked_sub(Money::new(b)), Ok(Money::new(a)));
            }
        }
    }
}

#[cfg(test)]
mod decode_tests {
    use super::*;

    #[test]
    fn a_negative_price_does_not_deserialize() {
        // Goal: value types validate on the way in, as their constructors do.
        let negative = serde::de::value::I64Deserializer::<serde::de::value::Error>::new(-1);
        assert!(Price::deserialize(negative).is_err());
        let fine = serde::de::value::I64Deserializer::<serde::de::value::Error>::new(4_285);
        assert_eq!(Price::deserialize(fine).map(Price::ticks), Ok(4_285));
    }
}
