//! Instrument rules: tick and lot sizes, order size bounds, the static price
//! band around the reference price (the previous close), and the limits that
//! bound a book's memory. Whether the session is open is the caller's
//! concern; the book only takes the time of each call.

use crate::error::MarketError;
use ets_model::{Price, Quantity};
use serde::{Deserialize, Serialize};

/// Basis points in one whole (100%).
const BPS_PER_WHOLE: i128 = 10_000;

/// Limits on everything a book or desk keeps, so memory stays bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookLimits {
    /// Open orders (or proposals) one account may have at once.
    pub max_open_orders_per_account: u32,
    /// Open orders (or proposals) in the whole book.
    pub max_orders: u32,
    /// Distinct prices on one side of the book.
    pub max_price_levels_per_side: u32,
}

impl BookLimits {
    /// Generous defaults: 1,000 orders per account, 100,000 per book, 10,000
    /// price levels per side.
    pub const DEFAULT: BookLimits = BookLimits {
        max_open_orders_per_account: 1_000,
        max_orders: 100_000,
        max_price_levels_per_side: 10_000,
    };
}

/// The trading rules of one instrument in one mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstrumentRules {
    /// Prices must be a multiple of this many ticks (`Price` is in ticks of
    /// the currency, 0.01 yuan in China, so 1 means 0.01 yuan).
    pub tick_size_ticks: i64,
    /// Quantities must be a multiple of this many tonnes.
    pub lot_size_tonnes: u64,
    /// The smallest order.
    pub min_order_tonnes: u64,
    /// The largest order (China's listed agreement: 99,999 t, "< 100,000").
    pub max_order_tonnes: u64,
    /// Prices must lie within ± this many basis points of the reference
    /// price (1,000 = ±10%); `None` for no band.
    pub price_band_bps: Option<u32>,
    /// Memory limits.
    pub limits: BookLimits,
}

impl InstrumentRules {
    /// China's listed agreement (docs/sources.md#cn-exchange): tick 0.01 yuan, lot 1 t,
    /// orders below 100,000 t, ±10% of the previous close.
    pub const CHINA_LISTED: InstrumentRules = InstrumentRules {
        tick_size_ticks: 1,
        lot_size_tonnes: 1,
        min_order_tonnes: 1,
        max_order_tonnes: 99_999,
        price_band_bps: Some(1_000),
        limits: BookLimits::DEFAULT,
    };

    /// China's block agreement (docs/sources.md#cn-exchange): orders of 100,000 t or more,
    /// ±30% of the previous close. The upper bound (1 Gt) only keeps sums
    /// bounded.
    pub const CHINA_BLOCK: InstrumentRules = InstrumentRules {
        tick_size_ticks: 1,
        lot_size_tonnes: 1,
        min_order_tonnes: 100_000,
        max_order_tonnes: 1_000_000_000,
        price_band_bps: Some(3_000),
        limits: BookLimits::DEFAULT,
    };

    /// A continuous market without a band (EU-style secondary trading):
    /// tick 1, lot 1 t, orders up to 10 Mt.
    pub const CONTINUOUS: InstrumentRules = InstrumentRules {
        tick_size_ticks: 1,
        lot_size_tonnes: 1,
        min_order_tonnes: 1,
        max_order_tonnes: 10_000_000,
        price_band_bps: None,
        limits: BookLimits::DEFAULT,
    };

    /// Checks that the rules make sense together.
    ///
    /// # Errors
    /// [`MarketError::InvalidRules`] naming the first inconsistency: a tick,
    /// lot or limit below 1, a minimum above the maximum, a band wider than
    /// 100%, or a maximum so large that the open tonnes of a full book could
    /// overflow `u64`.
    pub fn validate(&self) -> Result<(), MarketError> {
        let limits = &self.limits;
        let checks = [
            (
                self.tick_size_ticks >= 1,
                "tick size must be at least 1 tick",
            ),
            (
                self.lot_size_tonnes >= 1,
                "lot size must be at least 1 tonne",
            ),
            (
                self.min_order_tonnes >= 1,
                "minimum order must be at least 1 tonne",
            ),
            (
                self.min_order_tonnes <= self.max_order_tonnes,
                "minimum order must not exceed the maximum",
            ),
            (
                self.max_order_tonnes >= self.lot_size_tonnes,
                "maximum order must be at least one lot",
            ),
            (
                self.price_band_bps.is_none_or(|bps| bps <= 10_000),
                "price band must not exceed 10,000 basis points",
            ),
            (
                limits.max_open_orders_per_account >= 1
                    && limits.max_orders >= 1
                    && limits.max_price_levels_per_side >= 1,
                "every limit must be at least 1",
            ),
            (
                u128::from(self.max_order_tonnes) * u128::from(limits.max_orders)
                    <= u128::from(u64::MAX),
                "maximum order times maximum orders must fit in u64 tonnes",
            ),
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, why)) => Err(MarketError::InvalidRules(why)),
            None => Ok(()),
        }
    }

    /// The band of prices allowed around `reference`, rounded inwards to the
    /// tick size (the lower bound up, the upper bound down); `None` when the
    /// instrument has no band.
    #[must_use]
    pub fn band(&self, reference: Price) -> Option<PriceBand> {
        let bps = self.price_band_bps?;
        // The same arithmetic in i64 (a hardware division; i128 division is a
        // library call that showed in profiles of order entry) whenever every
        // step fits, which is every real price.
        self.band_narrow(reference.ticks(), i64::from(bps))
            .or_else(|| self.band_wide(reference, bps))
    }

    fn band_narrow(&self, reference: i64, bps: i64) -> Option<PriceBand> {
        let whole: i64 = 10_000;
        let tick = self.tick_size_ticks.max(1);
        let lower_exact = ceil_div_narrow(reference.checked_mul(whole - bps)?, whole);
        let upper_exact = reference.checked_mul(whole + bps)? / whole;
        let lower = ceil_div_narrow(lower_exact, tick).checked_mul(tick)?;
        let upper = (upper_exact / tick).checked_mul(tick)?;
        Some(PriceBand {
            lower: price_from_wide(i128::from(lower)),
            upper: price_from_wide(i128::from(upper)),
        })
    }

    fn band_wide(&self, reference: Price, bps: u32) -> Option<PriceBand> {
        let bps = i128::from(bps);
        let reference = i128::from(reference.ticks());
        let tick = i128::from(self.tick_size_ticks.max(1));
        let lower_exact = ceil_div(reference * (BPS_PER_WHOLE - bps), BPS_PER_WHOLE);
        let upper_exact = (reference * (BPS_PER_WHOLE + bps)) / BPS_PER_WHOLE;
        let lower = ceil_div(lower_exact, tick) * tick;
        let upper = (upper_exact / tick) * tick;
        Some(PriceBand {
            lower: price_from_wide(lower),
            upper: price_from_wide(upper),
        })
    }

    /// Checks a quantity for a new order: positive, whole lots, within the
    /// minimum and maximum. Returns the tonnes.
    ///
    /// # Errors
    /// [`MarketError::ZeroQuantity`], [`MarketError::OffLot`],
    /// [`MarketError::BelowMinimumQuantity`] or
    /// [`MarketError::AboveMaximumQuantity`].
    pub fn check_quantity(&self, quantity: Quantity) -> Result<u64, MarketError> {
        let tonnes = self.check_lots(quantity)?;
        if tonnes < self.min_order_tonnes {
            return Err(MarketError::BelowMinimumQuantity {
                quantity_tonnes: tonnes,
                minimum_tonnes: self.min_order_tonnes,
            });
        }
        self.check_maximum(tonnes)?;
        Ok(tonnes)
    }

    /// Checks that a quantity is positive and a whole number of lots.
    ///
    /// # Errors
    /// [`MarketError::ZeroQuantity`] or [`MarketError::OffLot`].
    pub fn check_lots(&self, quantity: Quantity) -> Result<u64, MarketError> {
        let tonnes = quantity.tonnes();
        if tonnes == 0 {
            return Err(MarketError::ZeroQuantity);
        }
        if !tonnes.is_multiple_of(self.lot_size_tonnes) {
            return Err(MarketError::OffLot {
                quantity_tonnes: tonnes,
                lot_size_tonnes: self.lot_size_tonnes,
            });
        }
        Ok(tonnes)
    }

    /// Checks that `tonnes` does not exceed the maximum order.
    ///
    /// # Errors
    /// [`MarketError::AboveMaximumQuantity`].
    pub fn check_maximum(&self, tonnes: u64) -> Result<(), MarketError> {
        if tonnes > self.max_order_tonnes {
            return Err(MarketError::AboveMaximumQuantity {
                quantity_tonnes: tonnes,
                maximum_tonnes: self.max_order_tonnes,
            });
        }
        Ok(())
    }

    /// Checks a limit price: positive, on tick, inside the band around
    /// `reference`.
    ///
    /// # Errors
    /// [`MarketError::NonPositivePrice`], [`MarketError::OffTick`] or
    /// [`MarketError::OutsidePriceBand`].
    pub fn check_price(&self, price: Price, reference: Price) -> Result<(), MarketError> {
        let ticks = price.ticks();
        if ticks <= 0 {
            return Err(MarketError::NonPositivePrice { price_ticks: ticks });
        }
        if ticks % self.tick_size_ticks.max(1) != 0 {
            return Err(MarketError::OffTick {
                price_ticks: ticks,
                tick_size_ticks: self.tick_size_ticks,
            });
        }
        match self.band(reference) {
            Some(band) if !band.contains(price) => Err(MarketError::OutsidePriceBand {
                price_ticks: ticks,
                lower_ticks: band.lower.ticks(),
                upper_ticks: band.upper.ticks(),
                reference_ticks: reference.ticks(),
            }),
            _ => Ok(()),
        }
    }

    /// [`InstrumentRules::check_price`] given `band`, the band of `reference`
    /// already computed (a book keeps it): a price inside it and on tick
    /// passes without the band's divisions; anything else gets the full check
    /// and its exact refusal, so the answer is the same either way.
    ///
    /// # Errors
    /// As [`InstrumentRules::check_price`].
    pub fn check_price_within(
        &self,
        price: Price,
        band: Option<PriceBand>,
        reference: Price,
    ) -> Result<(), MarketError> {
        match band {
            Some(band)
                if band.contains(price)
                    && price.ticks() > 0
                    && price.ticks() % self.tick_size_ticks.max(1) == 0 =>
            {
                Ok(())
            }
            _ => self.check_price(price, reference),
        }
    }
}

/// The inclusive range of prices allowed in a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceBand {
    /// The lowest price allowed.
    pub lower: Price,
    /// The highest price allowed.
    pub upper: Price,
}

impl PriceBand {
    /// Whether `price` lies within the band, bounds included.
    #[must_use]
    pub fn contains(&self, price: Price) -> bool {
        self.lower <= price && price <= self.upper
    }
}

/// `numerator / denominator` rounded towards positive infinity, for a
/// positive denominator.
fn ceil_div(numerator: i128, denominator: i128) -> i128 {
    let quotient = numerator / denominator;
    if numerator % denominator > 0 {
        quotient + 1
    } else {
        quotient
    }
}

/// [`ceil_div`] in i64.
fn ceil_div_narrow(numerator: i64, denominator: i64) -> i64 {
    let quotient = numerator / denominator;
    if numerator % denominator > 0 {
        quotient + 1
    } else {
        quotient
    }
}

/// A price from a wide value, clamped into `0..=i64::MAX` ticks.
pub(crate) fn price_from_wide(ticks: i128) -> Price {
    let clamped = i64::try_from(ticks.max(0)).unwrap_or(i64::MAX);
    Price::try_new(clamped).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(ticks: i64) -> Price {
        Price::try_new(ticks).expect("test prices are non-negative")
    }

    #[test]
    fn a_check_within_the_kept_band_answers_as_the_full_check() {
        // Goal: the fast path (a book's or the exchange's kept band) accepts
        // and refuses exactly what the full check does, refusal included (zero too),
        // on and off tick, at and past both edges, with and without a band.
        for (tick, band_bps) in [(1, Some(1_000)), (10, Some(1_000)), (1, None)] {
            let mut rules = InstrumentRules::CONTINUOUS;
            rules.tick_size_ticks = tick;
            rules.price_band_bps = band_bps;
            for reference in [price(5_000), price(5_005), price(1)] {
                let band = rules.band(reference);
                for ticks in (0..=20).chain(4_480..=4_520).chain(5_480..=5_520) {
                    let candidate = price(ticks);
                    assert_eq!(
                        rules.check_price_within(candidate, band, reference),
                        rules.check_price(candidate, reference),
                        "{ticks} ticks, reference {reference:?}, band {band:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn presets_are_valid() {
        // Goal: every preset passes its own validation.
        for rules in [
            InstrumentRules::CHINA_LISTED,
            InstrumentRules::CHINA_BLOCK,
            InstrumentRules::CONTINUOUS,
        ] {
            assert_eq!(rules.validate(), Ok(()));
        }
    }

    #[test]
    fn inconsistent_rules_are_refused_with_a_reason() {
        // Goal: validation catches a zero lot, an inverted range and a huge band.
        let mut rules = InstrumentRules::CHINA_LISTED;
        rules.lot_size_tonnes = 0;
        assert_eq!(rules.validate().map_err(|e| e.code()), Err("invalid_rules"));
        let mut rules = InstrumentRules::CHINA_LISTED;
        rules.min_order_tonnes = 200_000;
        assert!(rules.validate().is_err());
        let mut rules = InstrumentRules::CHINA_LISTED;
        rules.price_band_bps = Some(10_001);
        assert!(rules.validate().is_err());
        let mut rules = InstrumentRules::CHINA_BLOCK;
        rules.max_order_tonnes = u64::MAX;
        assert!(rules.validate().is_err());
    }

    #[test]
    fn band_is_rounded_inwards_to_the_tick() {
        // Goal: ±10% of 50.05 yuan is 45.045..55.055, so with a 1-tick size the
        // band is 45.05..=55.05 and with a 10-tick size 45.10..=55.00.
        let mut rules = InstrumentRules::CHINA_LISTED;
        let band = rules.band(price(5_005)).expect("listed rules have a band");
        assert_eq!((band.lower.ticks(), band.upper.ticks()), (4_505, 5_505));
        rules.tick_size_ticks = 10;
        let band = rules.band(price(5_005)).expect("listed rules have a band");
        assert_eq!((band.lower.ticks(), band.upper.ticks()), (4_510, 5_500));
        assert_eq!(InstrumentRules::CONTINUOUS.band(price(5_005)), None);
    }

    #[test]
    fn price_and_quantity_checks_name_the_value() {
        // Goal: each check refuses with its own code and the offending value.
        let rules = InstrumentRules::CHINA_LISTED;
        let reference = price(5_000);
        assert_eq!(rules.check_price(price(5_500), reference), Ok(()));
        let error = rules
            .check_price(price(5_501), reference)
            .expect_err("above the band");
        assert_eq!(error.code(), "outside_price_band");
        assert!(error.to_string().contains("5501"));
        assert_eq!(
            rules.check_price(price(0), reference).map_err(|e| e.code()),
            Err("non_positive_price")
        );
        assert_eq!(
            rules
                .check_quantity(Quantity::new(100_000))
                .map_err(|e| e.code()),
            Err("above_maximum_quantity")
        );
        assert_eq!(rules.check_quantity(Quantity::new(99_999)), Ok(99_999));
        assert_eq!(
            rules.check_quantity(Quantity::ZERO).map_err(|e| e.code()),
            Err("zero_quantity")
        );
    }

    #[test]
    fn the_narrow_band_arithmetic_equals_the_wide_one() {
        // Goal: the i64 band equals the i128 band wherever it applies, and
        // huge prices and ticks fall back to the i128 arithmetic.
        let references = [
            0,
            1,
            7,
            999,
            5_000,
            10_001,
            123_457,
            i64::MAX / 20_000,
            i64::MAX,
        ];
        for tick in [1, 3, 5, 100, i64::MAX / 2] {
            for bps in [0, 1, 999, 1_000, 3_000, 10_000] {
                let rules = InstrumentRules {
                    tick_size_ticks: tick,
                    price_band_bps: Some(bps),
                    ..InstrumentRules::CHINA_LISTED
                };
                for reference in references {
                    assert_eq!(
                        rules.band(price(reference)),
                        rules.band_wide(price(reference), bps),
                        "tick {tick}, bps {bps}, reference {reference}"
                    );
                }
            }
        }
    }
}
