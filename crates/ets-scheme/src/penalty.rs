//! Penalties for surrendering less than the obligation by the deadline, per
//! regime: China's 2021 Measures (a fine band plus deduction of the shortfall
//! from next year's allocation), China's 2024 Interim Regulations (5-10 x the
//! average price of the month before the deadline x the shortfall, plus
//! deduction) and the EU (an indexed penalty per tonne plus make-good).
//! Money is in minor units (fen, cents), rounded to the nearest minor unit.

use crate::error::{FormulaError, mul, product};
use crate::rounding::minor_units_nearest;
use crate::rulebook::{China2024Penalty, PenaltyRegime, SchemeInfo};
use ets_model::{Money, Price, Quantity};
use rust_decimal::Decimal;

/// What happened at the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PenaltyInput {
    /// The obligation due by the deadline.
    pub obligation: Quantity,
    /// What was surrendered against it by the deadline.
    pub surrendered: Quantity,
    /// For `china_2024`: the average market price in the month before the
    /// deadline, in the scheme's price ticks.
    pub reference_average_price: Option<Price>,
}

/// The consequences of a shortfall under a regime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PenaltyAssessment {
    /// `obligation - surrendered`, or zero.
    pub shortfall: Quantity,
    /// The lowest fine the authority may impose.
    pub fine_min: Money,
    /// The highest fine the authority may impose.
    pub fine_max: Money,
    /// Allowances to deduct from next year's allocation.
    pub next_year_deduction: Quantity,
    /// Allowances that must still be surrendered (EU make-good).
    pub make_good: Quantity,
}

fn minor_units_per_major(scheme: &SchemeInfo) -> Decimal {
    Decimal::from(scheme.currency.minor_units_per_major())
}

/// The `china_2024` fine at `multiple`:
/// `multiple x average price x shortfall`, in minor units.
///
/// # Errors
/// [`FormulaError::MultipleOutsideBand`] when `multiple` is outside the
/// regime's band; [`FormulaError::Overflow`] when the fine does not fit.
pub fn china_2024_fine(
    scheme: &SchemeInfo,
    rules: &China2024Penalty,
    shortfall: Quantity,
    average_price: Price,
    multiple: Decimal,
) -> Result<Money, FormulaError> {
    if multiple < rules.price_multiple_min || multiple > rules.price_multiple_max {
        return Err(FormulaError::MultipleOutsideBand {
            multiple,
            min: rules.price_multiple_min,
            max: rules.price_multiple_max,
        });
    }
    let tick_minor_units = mul(
        "price tick",
        scheme.price_tick_major_units,
        minor_units_per_major(scheme),
    )?;
    let exact = product(
        "fine",
        &[
            Decimal::from(average_price.ticks()),
            tick_minor_units,
            multiple,
            Decimal::from(shortfall.tonnes()),
        ],
    )?;
    minor_units_nearest("fine", exact)
}

/// The fine band, deduction and make-good for a shortfall. A zero shortfall
/// gives no fine, no deduction and no make-good.
///
/// # Errors
/// [`FormulaError::MissingInput`] when the regime is `china_2024` and no
/// reference price is given; [`FormulaError::Overflow`] when a fine does not
/// fit.
pub fn assess_penalty(
    scheme: &SchemeInfo,
    regime: &PenaltyRegime,
    input: &PenaltyInput,
) -> Result<PenaltyAssessment, FormulaError> {
    let shortfall = input
        .obligation
        .checked_sub(input.surrendered)
        .unwrap_or(Quantity::ZERO);
    let mut assessment = PenaltyAssessment {
        shortfall,
        fine_min: Money::ZERO,
        fine_max: Money::ZERO,
        next_year_deduction: Quantity::ZERO,
        make_good: Quantity::ZERO,
    };
    if shortfall.is_zero() {
        return Ok(assessment);
    }
    let per_major = minor_units_per_major(scheme);
    match regime {
        PenaltyRegime::China2021(rules) => {
            assessment.fine_min =
                minor_units_nearest("fine", mul("fine", rules.fine_min_major_units, per_major)?)?;
            assessment.fine_max =
                minor_units_nearest("fine", mul("fine", rules.fine_max_major_units, per_major)?)?;
            if rules.deduct_shortfall_next_year {
                assessment.next_year_deduction = shortfall;
            }
        }
        PenaltyRegime::China2024(rules) => {
            let price = input
                .reference_average_price
                .ok_or(FormulaError::MissingInput {
                    what: "the average price of the month before the deadline",
                })?;
            assessment.fine_min =
                china_2024_fine(scheme, rules, shortfall, price, rules.price_multiple_min)?;
            assessment.fine_max =
                china_2024_fine(scheme, rules, shortfall, price, rules.price_multiple_max)?;
            if rules.deduct_shortfall_next_year {
                assessment.next_year_deduction = shortfall;
            }
        }
        PenaltyRegime::Eu(rules) => {
            let exact = product(
                "penalty",
                &[
                    rules.indexed_penalty_per_tonne_major_units,
                    per_major,
                    Decimal::from(shortfall.tonnes()),
                ],
            )?;
            let fine = minor_units_nearest("penalty", exact)?;
            assessment.fine_min = fine;
            assessment.fine_max = fine;
            if rules.make_good {
                assessment.make_good = shortfall;
            }
        }
    }
    Ok(assessment)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rulebook::{China2024Penalty, PenaltyRegime};
    use crate::test_support::{cn_2021, d, eu_phase4};

    fn china_2024() -> China2024Penalty {
        China2024Penalty {
            price_multiple_min: d("5"),
            price_multiple_max: d("10"),
            deduct_shortfall_next_year: true,
        }
    }

    #[test]
    fn ningxia_case_fine_at_five_times_is_423_997_000_yuan() {
        // Goal: the worked case [S18]: obligation 5,128,612 t, surrendered 4,263,312 t, shortfall
        // 865,300 t; average price 98.00 yuan; 865,300 x 98.00 x 5 = 423,997,000 yuan = 42,399,700,000 fen.
        let scheme = cn_2021().scheme;
        let regime = PenaltyRegime::China2024(china_2024());
        let input = PenaltyInput {
            obligation: Quantity::new(5_128_612),
            surrendered: Quantity::new(4_263_312),
            reference_average_price: Some(Price::try_new(9_800).expect("price")),
        };
        let assessment = assess_penalty(&scheme, &regime, &input).expect("assessment");
        assert_eq!(assessment.shortfall, Quantity::new(865_300));
        assert_eq!(assessment.fine_min, Money::new(42_399_700_000));
        assert_eq!(assessment.fine_max, Money::new(84_799_400_000));
        assert_eq!(assessment.next_year_deduction, Quantity::new(865_300));
        assert_eq!(assessment.make_good, Quantity::ZERO);
    }

    #[test]
    fn china_2024_fine_refuses_a_multiple_outside_the_band_and_needs_a_price() {
        // Goal: the authority's multiple must lie in 5..=10; the regime cannot run without the price.
        let scheme = cn_2021().scheme;
        let price = Price::try_new(9_800).expect("price");
        let seven = china_2024_fine(&scheme, &china_2024(), Quantity::new(10), price, d("7"));
        assert_eq!(seven, Ok(Money::new(686_000)));
        let error = china_2024_fine(&scheme, &china_2024(), Quantity::new(10), price, d("11"))
            .expect_err("11x");
        assert_eq!(error.code(), "fine_multiple_outside_band");
        assert!(error.to_string().contains("11"));
        let input = PenaltyInput {
            obligation: Quantity::new(10),
            surrendered: Quantity::ZERO,
            reference_average_price: None,
        };
        let error = assess_penalty(&scheme, &PenaltyRegime::China2024(china_2024()), &input)
            .expect_err("no price");
        assert_eq!(error.code(), "input_missing");
    }

    #[test]
    fn china_2021_shortfall_gets_the_fine_band_and_next_year_deduction() {
        // Goal: 2021 Measures: 20,000-30,000 yuan (2,000,000-3,000,000 fen) whatever the shortfall,
        // plus deduction of the shortfall.
        let rulebook = cn_2021();
        let input = PenaltyInput {
            obligation: Quantity::new(1_000),
            surrendered: Quantity::new(400),
            reference_average_price: None,
        };
        let assessment =
            assess_penalty(&rulebook.scheme, &rulebook.penalty, &input).expect("assessment");
        assert_eq!(assessment.fine_min, Money::new(2_000_000));
        assert_eq!(assessment.fine_max, Money::new(3_000_000));
        assert_eq!(assessment.next_year_deduction, Quantity::new(600));
    }

    #[test]
    fn eu_shortfall_pays_the_indexed_penalty_and_must_still_be_surrendered() {
        // Goal: 1,000 t short x EUR 100 = EUR 100,000 = 10,000,000 cents, plus make-good of 1,000 t.
        let rulebook = eu_phase4();
        let input = PenaltyInput {
            obligation: Quantity::new(5_000),
            surrendered: Quantity::new(4_000),
            reference_average_price: None,
        };
        let assessment =
            assess_penalty(&rulebook.scheme, &rulebook.penalty, &input).expect("assessment");
        assert_eq!(assessment.fine_min, Money::new(10_000_000));
        assert_eq!(assessment.fine_max, Money::new(10_000_000));
        assert_eq!(assessment.make_good, Quantity::new(1_000));
        assert_eq!(assessment.next_year_deduction, Quantity::ZERO);
    }

    #[test]
    fn full_surrender_owes_nothing() {
        // Goal: no shortfall, no fine, no deduction, no make-good, under every regime.
        let input = PenaltyInput {
            obligation: Quantity::new(1_000),
            surrendered: Quantity::new(1_200),
            reference_average_price: None,
        };
        for rulebook in [cn_2021(), eu_phase4()] {
            let assessment =
                assess_penalty(&rulebook.scheme, &rulebook.penalty, &input).expect("assessment");
            assert_eq!(assessment.shortfall, Quantity::ZERO);
            assert_eq!(
                (assessment.fine_min, assessment.fine_max),
                (Money::ZERO, Money::ZERO)
            );
        }
    }
}
