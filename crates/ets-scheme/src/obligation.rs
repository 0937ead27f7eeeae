//! What an entity must surrender and what it may use to do so: the
//! obligation with its relief caps (China's shortfall cap and gas cap), the
//! offset limit, borrowing from a later vintage and the carry-over cap.
//! Obligations round to the nearest tonne; limits round down
//! (see [`crate::rounding`]).

use crate::error::{FormulaError, add, mul};
use crate::rounding::{tonnes_ceil, tonnes_floor, tonnes_nearest};
use crate::rulebook::{
    BorrowingRules, CapBase, CarryOverRules, ObligationRules, OffsetBase, OffsetRules,
};
use ets_model::Quantity;
use rust_decimal::Decimal;

/// Which obligation rule applies to an entity (or unit group).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObligationClass {
    /// Coal and other units: the shortfall cap applies.
    CoalOrOther,
    /// Gas units: the gas cap applies when the rulebook has it.
    Gas,
}

/// An obligation and the relief granted by the caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Obligation {
    /// What must be surrendered.
    pub surrender: Quantity,
    /// `verified - surrender`: emissions the caps excuse.
    pub relief: Quantity,
}

fn tonnes(quantity: Quantity) -> Decimal {
    Decimal::from(quantity.tonnes())
}

/// The surrender obligation.
///
/// - Gas, with the rulebook's gas cap: `min(verified, allocation)`.
/// - Otherwise, with a shortfall cap of `share x base`: when
///   `verified - allocation > share x base`, the obligation is
///   `allocation + share x base` (the cap rounded to the nearest tonne);
///   else `verified`.
/// - Without caps: `verified`.
///
/// # Errors
/// [`FormulaError::Overflow`] if the capped obligation does not fit.
pub fn obligation(
    rules: &ObligationRules,
    class: ObligationClass,
    verified: Quantity,
    allocation: Quantity,
) -> Result<Obligation, FormulaError> {
    let surrender = match (class, rules.shortfall_cap) {
        (ObligationClass::Gas, _) if rules.gas_cap => verified.min(allocation),
        (_, Some(cap)) => {
            let base = match cap.base {
                CapBase::Verified => verified,
                CapBase::Allocation => allocation,
            };
            let cap_tonnes = mul("shortfall cap", cap.share, tonnes(base))?;
            let gap_tonnes = tonnes(verified) - tonnes(allocation);
            if gap_tonnes > cap_tonnes {
                allocation
                    .checked_add(tonnes_nearest("shortfall cap", cap_tonnes)?)
                    .map_err(|_| FormulaError::Overflow {
                        what: "capped obligation",
                    })?
            } else {
                verified
            }
        }
        (_, None) => verified,
    };
    Ok(Obligation {
        surrender,
        relief: verified.checked_sub(surrender).unwrap_or(Quantity::ZERO),
    })
}

/// What an intermediate deadline asks for: `cumulative_share x obligation`, rounded up
/// (95% of 1,001 t is 950.95 t: 951 t are due).
///
/// # Errors
/// [`FormulaError::Overflow`] only if the product overflows.
pub fn share_due(
    obligation: Quantity,
    cumulative_share: Decimal,
) -> Result<Quantity, FormulaError> {
    tonnes_ceil(
        "share due",
        mul("share due", cumulative_share, tonnes(obligation))?,
    )
}

/// The most offset credits usable: `limit_share x base`, rounded down, where
/// the base (obligation or verified emissions) is the rulebook's.
///
/// # Errors
/// [`FormulaError::Overflow`] only if the product overflows.
pub fn max_offsets(
    rules: &OffsetRules,
    obligation: Quantity,
    verified: Quantity,
) -> Result<Quantity, FormulaError> {
    let base = match rules.base {
        OffsetBase::Obligation => obligation,
        OffsetBase::Verified => verified,
    };
    tonnes_floor(
        "offset limit",
        mul("offset limit", rules.limit_share, tonnes(base))?,
    )
}

/// The most an entity may borrow: when its gap rate `(verified - allocation)
/// / base` exceeds `min_gap_rate`, `max_share_of_gap x gap` rounded down;
/// otherwise nothing. An entity with a positive gap and a zero base has an
/// unbounded gap rate and qualifies.
///
/// # Errors
/// [`FormulaError::Overflow`] only if a product overflows.
pub fn max_borrowing(
    rules: &BorrowingRules,
    verified: Quantity,
    allocation: Quantity,
) -> Result<Quantity, FormulaError> {
    let Some(gap) = verified
        .checked_sub(allocation)
        .filter(|gap| !gap.is_zero())
    else {
        return Ok(Quantity::ZERO);
    };
    let base = match rules.gap_rate_base {
        CapBase::Verified => verified,
        CapBase::Allocation => allocation,
    };
    // gap / base > rate  <=>  gap > rate x base (base >= 0), without dividing.
    let threshold = mul("borrowing threshold", rules.min_gap_rate, tonnes(base))?;
    if tonnes(gap) <= threshold {
        return Ok(Quantity::ZERO);
    }
    tonnes_floor(
        "borrowing limit",
        mul("borrowing limit", rules.max_share_of_gap, tonnes(gap))?,
    )
}

/// The most allowances that may be carried over: `fixed + multiple x
/// net_sales`, rounded down. Net sales are the caller's figure over the
/// rulebook's period; a net buyer passes zero.
///
/// # Errors
/// [`FormulaError::Overflow`] if the cap does not fit.
pub fn carry_over_cap(
    rules: &CarryOverRules,
    net_sales: Quantity,
) -> Result<Quantity, FormulaError> {
    let variable = mul(
        "carry-over cap",
        rules.net_sales_multiple,
        tonnes(net_sales),
    )?;
    let exact = add("carry-over cap", tonnes(rules.fixed), variable)?;
    tonnes_floor("carry-over cap", exact)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rulebook::ShortfallCap;
    use crate::test_support::{cn_2021, d};

    fn q(tonnes: u64) -> Quantity {
        Quantity::new(tonnes)
    }

    #[test]
    fn an_intermediate_share_rounds_up_to_the_whole_tonne() {
        // Goal: 95% of 1,001 t = 950.95 t -> 951 t due; 95% of 1,000 t = 950 t exactly.
        assert_eq!(share_due(q(1_001), d("0.95")), Ok(q(951)));
        assert_eq!(share_due(q(1_000), d("0.95")), Ok(q(950)));
        assert_eq!(share_due(q(0), d("0.95")), Ok(q(0)));
    }

    #[test]
    fn shortfall_above_twenty_percent_of_verified_is_capped() {
        // Goal: by hand: verified 1,000,000, allocation 700,000: gap 300,000 > 0.20 x 1,000,000,
        // so obligation = 700,000 + 200,000 = 900,000 and 100,000 t are relieved.
        let rules = cn_2021().obligation;
        let result = obligation(
            &rules,
            ObligationClass::CoalOrOther,
            q(1_000_000),
            q(700_000),
        );
        assert_eq!(
            result,
            Ok(Obligation {
                surrender: q(900_000),
                relief: q(100_000)
            })
        );
    }

    #[test]
    fn shortfall_within_the_cap_owes_verified_emissions() {
        // Goal: gap 150,000 <= 200,000: the whole verified amount is owed; a surplus changes nothing.
        let rules = cn_2021().obligation;
        let result = obligation(
            &rules,
            ObligationClass::CoalOrOther,
            q(1_000_000),
            q(850_000),
        );
        assert_eq!(result.map(|o| o.surrender), Ok(q(1_000_000)));
        let surplus = obligation(&rules, ObligationClass::CoalOrOther, q(600_000), q(700_000));
        assert_eq!(
            surplus,
            Ok(Obligation {
                surrender: q(600_000),
                relief: Quantity::ZERO
            })
        );
    }

    #[test]
    fn shortfall_cap_on_allocation_base_uses_twenty_percent_of_allocation() {
        // Goal: the unconfirmed alternative base: cap = 0.20 x 700,000 = 140,000 -> 840,000.
        let rules = ObligationRules {
            gas_cap: true,
            shortfall_cap: Some(ShortfallCap {
                share: d("0.20"),
                base: CapBase::Allocation,
            }),
        };
        let result = obligation(
            &rules,
            ObligationClass::CoalOrOther,
            q(1_000_000),
            q(700_000),
        );
        assert_eq!(result.map(|o| o.surrender), Ok(q(840_000)));
    }

    #[test]
    fn gas_units_owe_at_most_their_allocation() {
        // Goal: gas cap: verified 500,000 over allocation 450,000 owes 450,000; under it owes 400,000.
        let rules = cn_2021().obligation;
        let over = obligation(&rules, ObligationClass::Gas, q(500_000), q(450_000));
        assert_eq!(
            over,
            Ok(Obligation {
                surrender: q(450_000),
                relief: q(50_000)
            })
        );
        let under = obligation(&rules, ObligationClass::Gas, q(400_000), q(450_000));
        assert_eq!(under.map(|o| o.surrender), Ok(q(400_000)));
        let no_gas_cap = ObligationRules {
            gas_cap: false,
            ..rules
        };
        let capped = obligation(&no_gas_cap, ObligationClass::Gas, q(500_000), q(450_000));
        assert_eq!(
            capped.map(|o| o.surrender),
            Ok(q(500_000)),
            "then the 20% rule applies"
        );
    }

    #[test]
    fn without_caps_the_obligation_is_verified_emissions() {
        // Goal: the EU rulebook's obligation is simply what was emitted.
        let rules = ObligationRules {
            gas_cap: false,
            shortfall_cap: None,
        };
        let result = obligation(&rules, ObligationClass::CoalOrOther, q(1_000_000), q(0));
        assert_eq!(result.map(|o| o.surrender), Ok(q(1_000_000)));
    }

    #[test]
    fn offsets_are_limited_to_five_percent_rounded_down() {
        // Goal: 5% of an obligation of 900,000 is 45,000; of 12,345 it is 617.25 -> 617.
        let offsets = cn_2021().offsets.expect("offsets");
        assert_eq!(
            max_offsets(&offsets, q(900_000), q(1_000_000)),
            Ok(q(45_000))
        );
        assert_eq!(max_offsets(&offsets, q(12_345), q(1_000_000)), Ok(q(617)));
        let on_verified = OffsetRules {
            base: OffsetBase::Verified,
            ..offsets
        };
        assert_eq!(
            max_offsets(&on_verified, q(900_000), q(1_000_000)),
            Ok(q(50_000))
        );
    }

    #[test]
    fn borrowing_needs_a_gap_rate_above_ten_percent_and_is_half_the_gap() {
        // Goal: gap 150,000 of 1,000,000 (15%) may borrow 75,000; exactly 10% may not; no gap, nothing.
        let borrowing = cn_2021().borrowing.expect("borrowing in 2021");
        assert_eq!(
            max_borrowing(&borrowing, q(1_000_000), q(850_000)),
            Ok(q(75_000))
        );
        assert_eq!(
            max_borrowing(&borrowing, q(1_000_000), q(900_000)),
            Ok(Quantity::ZERO)
        );
        assert_eq!(
            max_borrowing(&borrowing, q(1_000_000), q(1_200_000)),
            Ok(Quantity::ZERO)
        );
        assert_eq!(
            max_borrowing(&borrowing, q(3), q(0)),
            Ok(q(1)),
            "1.5 rounds down"
        );
    }

    #[test]
    fn carry_over_cap_is_fixed_plus_multiple_of_net_sales() {
        // Goal: 10,000 + 1.5 x 3 = 10,004.5 -> 10,004 (a limit rounds down); a net buyer gets 10,000.
        let rules = CarryOverRules {
            fixed: q(10_000),
            net_sales_multiple: d("1.5"),
            last_vintage: None,
        };
        assert_eq!(carry_over_cap(&rules, q(3)), Ok(q(10_004)));
        assert_eq!(carry_over_cap(&rules, Quantity::ZERO), Ok(q(10_000)));
    }

    #[test]
    fn surrender_eligibility_follows_the_rulebook_vintages() {
        // Goal: 2019-2022 allowances are usable for 2021 [S34]; 2023 is not.
        let rulebook = cn_2021();
        assert!(rulebook.is_vintage_eligible(ets_model::Vintage(2019)));
        assert!(rulebook.is_vintage_eligible(ets_model::Vintage(2022)));
        assert!(!rulebook.is_vintage_eligible(ets_model::Vintage(2023)));
    }
}
