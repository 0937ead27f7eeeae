//! Free allocation formulas: China's intensity-based unit allocation with its
//! correction factors, entity sums, pre-allocation and true-up; and the EU's
//! `BM x HAL x CLEF x CSCF`. Arithmetic is exact decimal except the lowest
//! band of the load-factor correction, an exponential with a decimal exponent
//! computed by `rust_decimal` (exp/ln, about 20 significant digits). Results
//! are rounded once, per entity, by [`crate::rounding::tonnes_nearest`].

use crate::error::{FormulaError, add, at_most, fraction, mul, non_negative, product, sub};
use crate::rounding::tonnes_nearest;
use crate::rulebook::{
    CarbonLeakageExposure, ChinaAllocationRules, EuAllocationRules, LoadFactorRule, UnitCategory,
};
use ets_model::Quantity;
use rust_decimal::{Decimal, MathematicalOps};

/// The most units one entity may have in one allocation call.
pub const MAX_UNITS_PER_ENTITY: usize = 1024;

/// The most sub-installations one installation may have in one call.
pub const MAX_SUB_INSTALLATIONS: usize = 1024;

/// How a power unit is cooled (selects `F_cool` for coal units).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cooling {
    /// Water-cooled.
    Water,
    /// Air-cooled.
    Air,
}

/// Whether a unit only generates electricity or also supplies heat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Pure condensing: no heat supplied (`r = 0`); the load factor correction
    /// applies to coal units.
    PureCondensing,
    /// Combined heat and power: `F_load = 1`.
    CombinedHeatAndPower,
}

/// One unit's data for a year: its kind and its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChinaUnitOutput {
    /// The benchmark category.
    pub category: UnitCategory,
    /// The cooling method.
    pub cooling: Cooling,
    /// Pure condensing or CHP.
    pub operation: Operation,
    /// `Q_e`, MWh on the rulebook's output basis (supply or generation).
    pub electricity_mwh: Decimal,
    /// `Q_h`, GJ of heat supplied.
    pub heat_gj: Decimal,
    /// `r`, the heat-supply ratio (0..=1; 0 for pure condensing).
    pub heat_supply_ratio: Decimal,
    /// `F`, the load factor (0..=1); used for pure-condensing coal only.
    pub load_factor: Decimal,
}

/// The three correction factors applied to a unit's electricity part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorrectionFactors {
    /// `F_cool`.
    pub cooling: Decimal,
    /// `F_heat`.
    pub heat_supply: Decimal,
    /// `F_load`.
    pub load: Decimal,
}

/// A unit's exact allocation and how it was made up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitAllocation {
    /// The factors applied.
    pub factors: CorrectionFactors,
    /// `B_e x Q_e x F_cool x F_heat x F_load`, tonnes.
    pub electricity_tonnes: Decimal,
    /// `B_h x Q_h`, tonnes.
    pub heat_tonnes: Decimal,
    /// Their sum, tonnes (not rounded).
    pub total_tonnes: Decimal,
}

/// An entity's allocation: its units' exact allocations and the rounded total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityAllocation {
    /// Per unit, in input order.
    pub units: Vec<UnitAllocation>,
    /// The exact sum, tonnes.
    pub exact_tonnes: Decimal,
    /// The exact sum rounded to the nearest whole tonne.
    pub total: Quantity,
}

/// `F_cool` for a unit: the coal factor of its cooling method, or the gas factor.
#[must_use]
pub fn cooling_factor(
    rules: &ChinaAllocationRules,
    category: UnitCategory,
    cooling: Cooling,
) -> Decimal {
    match (category.is_coal(), cooling) {
        (true, Cooling::Water) => rules.cooling.coal_water_cooled,
        (true, Cooling::Air) => rules.cooling.coal_air_cooled,
        (false, _) => rules.cooling.gas,
    }
}

/// `F_heat = 1 - coefficient x r`, with the coal or gas coefficient.
///
/// # Errors
/// [`FormulaError::OutOfRange`] when `heat_supply_ratio` is outside 0..=1.
pub fn heat_supply_factor(
    rules: &ChinaAllocationRules,
    category: UnitCategory,
    heat_supply_ratio: Decimal,
) -> Result<Decimal, FormulaError> {
    let ratio = fraction("heat supply ratio", heat_supply_ratio)?;
    let coefficient = if category.is_coal() {
        rules.heat_supply.coal_coefficient
    } else {
        rules.heat_supply.gas_coefficient
    };
    sub(
        "heat supply factor",
        Decimal::ONE,
        mul("heat supply factor", coefficient, ratio)?,
    )
}

/// `F_load` for a pure-condensing coal unit at load factor `load_factor`
/// (the piecewise rule documented on [`LoadFactorRule`]).
///
/// # Errors
/// [`FormulaError::OutOfRange`] when `load_factor` is outside 0..=1;
/// [`FormulaError::Overflow`] if the rule's parameters overflow.
pub fn load_factor_correction(
    rule: &LoadFactorRule,
    load_factor: Decimal,
) -> Result<Decimal, FormulaError> {
    const WHAT: &str = "load factor correction";
    let load = fraction("load factor", load_factor)?;
    if load >= rule.no_correction_from {
        return Ok(Decimal::ONE);
    }
    let points = mul(WHAT, load, Decimal::ONE_HUNDRED)?;
    if load >= rule.band_1_from {
        let edge_points = mul(WHAT, rule.no_correction_from, Decimal::ONE_HUNDRED)?;
        let below = sub(WHAT, edge_points, points)?;
        return add(
            WHAT,
            Decimal::ONE,
            mul(WHAT, rule.band_1_slope_per_point, below)?,
        );
    }
    if load >= rule.band_2_from {
        let edge_points = mul(WHAT, rule.band_1_from, Decimal::ONE_HUNDRED)?;
        let below = sub(WHAT, edge_points, points)?;
        return add(
            WHAT,
            rule.band_2_intercept,
            mul(WHAT, rule.band_2_slope_per_point, below)?,
        );
    }
    let exponent = sub(
        WHAT,
        rule.low_band_exponent_intercept,
        mul(WHAT, rule.low_band_exponent_slope, load)?,
    )?;
    rule.low_band_base
        .checked_powd(exponent)
        .ok_or(FormulaError::Overflow { what: WHAT })
}

/// Checks a unit's output: amounts non-negative and bounded, ratios within
/// 0..=1, and no heat from a pure-condensing unit.
fn validate_unit(unit: &ChinaUnitOutput) -> Result<(), FormulaError> {
    non_negative("electricity output (MWh)", unit.electricity_mwh)?;
    non_negative("heat supplied (GJ)", unit.heat_gj)?;
    fraction("heat supply ratio", unit.heat_supply_ratio)?;
    fraction("load factor", unit.load_factor)?;
    if unit.operation == Operation::PureCondensing {
        let reason = "a pure-condensing unit supplies no heat";
        if !unit.heat_gj.is_zero() {
            return Err(FormulaError::Inconsistent {
                what: "heat supplied (GJ)",
                value: unit.heat_gj,
                reason,
            });
        }
        if !unit.heat_supply_ratio.is_zero() {
            return Err(FormulaError::Inconsistent {
                what: "heat supply ratio",
                value: unit.heat_supply_ratio,
                reason,
            });
        }
    }
    Ok(())
}

/// The correction factors of `unit`: `F_cool` by category and cooling,
/// `F_heat` from its heat-supply ratio, `F_load` for pure-condensing coal
/// units only (1 for CHP and gas).
///
/// # Errors
/// As [`china_unit_allocation`].
pub fn correction_factors(
    rules: &ChinaAllocationRules,
    unit: &ChinaUnitOutput,
) -> Result<CorrectionFactors, FormulaError> {
    validate_unit(unit)?;
    let load = if unit.category.is_coal() && unit.operation == Operation::PureCondensing {
        load_factor_correction(&rules.load_factor, unit.load_factor)?
    } else {
        Decimal::ONE
    };
    Ok(CorrectionFactors {
        cooling: cooling_factor(rules, unit.category, unit.cooling),
        heat_supply: heat_supply_factor(rules, unit.category, unit.heat_supply_ratio)?,
        load,
    })
}

/// `A_unit = B_e x Q_e x F_cool x F_heat x F_load + B_h x Q_h`, exact.
///
/// # Errors
/// [`FormulaError::Negative`] / [`FormulaError::TooLarge`] for a negative or
/// absurd output, [`FormulaError::OutOfRange`] for a ratio or load factor
/// outside 0..=1, [`FormulaError::Inconsistent`] for heat from a
/// pure-condensing unit, [`FormulaError::Overflow`] if a product overflows.
pub fn china_unit_allocation(
    rules: &ChinaAllocationRules,
    unit: &ChinaUnitOutput,
) -> Result<UnitAllocation, FormulaError> {
    let factors = correction_factors(rules, unit)?;
    unit_allocation_with(rules, unit, factors)
}

fn unit_allocation_with(
    rules: &ChinaAllocationRules,
    unit: &ChinaUnitOutput,
    factors: CorrectionFactors,
) -> Result<UnitAllocation, FormulaError> {
    const WHAT: &str = "unit allocation";
    let benchmark = rules.benchmarks.for_category(unit.category);
    let electricity_tonnes = product(
        WHAT,
        &[
            benchmark.electricity_tonnes_per_mwh,
            unit.electricity_mwh,
            factors.cooling,
            factors.heat_supply,
            factors.load,
        ],
    )?;
    let heat_tonnes = mul(WHAT, benchmark.heat_tonnes_per_gj, unit.heat_gj)?;
    Ok(UnitAllocation {
        factors,
        electricity_tonnes,
        heat_tonnes,
        total_tonnes: add(WHAT, electricity_tonnes, heat_tonnes)?,
    })
}

fn entity_total(
    units: Vec<UnitAllocation>,
    share: Decimal,
) -> Result<EntityAllocation, FormulaError> {
    const WHAT: &str = "entity allocation";
    let sum = units
        .iter()
        .try_fold(Decimal::ZERO, |acc, unit| add(WHAT, acc, unit.total_tonnes))?;
    let exact_tonnes = mul(WHAT, sum, share)?;
    Ok(EntityAllocation {
        units,
        exact_tonnes,
        total: tonnes_nearest(WHAT, exact_tonnes)?,
    })
}

/// An entity's final allocation: the sum of its units' exact allocations,
/// rounded once to the nearest tonne.
///
/// # Errors
/// [`FormulaError::TooMany`] beyond [`MAX_UNITS_PER_ENTITY`] units; any
/// error of [`china_unit_allocation`] for the first unit refused.
pub fn china_entity_allocation(
    rules: &ChinaAllocationRules,
    units: &[ChinaUnitOutput],
) -> Result<EntityAllocation, FormulaError> {
    at_most("units of an entity", units.len(), MAX_UNITS_PER_ENTITY)?;
    let allocations = units
        .iter()
        .map(|unit| china_unit_allocation(rules, unit))
        .collect::<Result<Vec<_>, _>>()?;
    entity_total(allocations, Decimal::ONE)
}

/// The pre-allocation: `share x sum over units of (B_e x Q_e x [factors] +
/// B_h x Q_h)` on base-year output, where `[factors]` are only those the
/// rulebook's `[allocation.china.pre_allocation]` switches on (the others
/// count as 1). The per-unit figures returned are before the share; the
/// total is after it, rounded once.
///
/// # Errors
/// As [`china_entity_allocation`].
pub fn china_pre_allocation(
    rules: &ChinaAllocationRules,
    base_year_units: &[ChinaUnitOutput],
) -> Result<EntityAllocation, FormulaError> {
    at_most(
        "units of an entity",
        base_year_units.len(),
        MAX_UNITS_PER_ENTITY,
    )?;
    let pre = rules.pre_allocation;
    let mut allocations = Vec::with_capacity(base_year_units.len());
    for unit in base_year_units {
        let full = correction_factors(rules, unit)?;
        let factors = CorrectionFactors {
            cooling: if pre.apply_cooling_factor {
                full.cooling
            } else {
                Decimal::ONE
            },
            heat_supply: if pre.apply_heat_supply_factor {
                full.heat_supply
            } else {
                Decimal::ONE
            },
            load: if pre.apply_load_factor {
                full.load
            } else {
                Decimal::ONE
            },
        };
        allocations.push(unit_allocation_with(rules, unit, factors)?);
    }
    entity_total(allocations, pre.share)
}

/// What the true-up does once the final allocation is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrueUp {
    /// Issue this many more allowances.
    Issue(Quantity),
    /// Take back this many (the pre-allocation was too high).
    ClawBack(Quantity),
    /// Nothing to do.
    Balanced,
}

/// The difference `final - pre-allocated`, as an issue or a claw-back.
#[must_use]
pub fn true_up(final_allocation: Quantity, pre_allocated: Quantity) -> TrueUp {
    if let Some(more) = final_allocation
        .checked_sub(pre_allocated)
        .filter(|q| !q.is_zero())
    {
        return TrueUp::Issue(more);
    }
    match pre_allocated
        .checked_sub(final_allocation)
        .filter(|q| !q.is_zero())
    {
        Some(less) => TrueUp::ClawBack(less),
        None => TrueUp::Balanced,
    }
}

/// One EU sub-installation's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EuSubInstallation {
    /// `BM`, allowances per unit of activity (per tonne of product, per TJ).
    pub benchmark_allowances_per_activity_unit: Decimal,
    /// `HAL`, the historical activity level, in activity units per year.
    pub historical_activity_level: Decimal,
    /// Selects the CLEF.
    pub exposure: CarbonLeakageExposure,
}

/// An installation's EU allocation for a year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EuAllocation {
    /// Per sub-installation, exact, in input order.
    pub sub_installation_tonnes: Vec<Decimal>,
    /// The exact sum.
    pub exact_tonnes: Decimal,
    /// The sum rounded to the nearest whole allowance.
    pub total: Quantity,
}

/// `F = BM x HAL x CLEF x CSCF` for one sub-installation, exact.
///
/// # Errors
/// [`FormulaError::Negative`] / [`FormulaError::TooLarge`] for `BM` or `HAL`;
/// [`FormulaError::OutOfRange`] for `CLEF` or `CSCF` outside 0..=1.
pub fn eu_sub_installation_allocation(
    benchmark_allowances_per_activity_unit: Decimal,
    historical_activity_level: Decimal,
    carbon_leakage_exposure_factor: Decimal,
    cross_sectoral_correction_factor: Decimal,
) -> Result<Decimal, FormulaError> {
    product(
        "EU free allocation",
        &[
            non_negative("benchmark", benchmark_allowances_per_activity_unit)?,
            non_negative("historical activity level", historical_activity_level)?,
            fraction("CLEF", carbon_leakage_exposure_factor)?,
            fraction("CSCF", cross_sectoral_correction_factor)?,
        ],
    )
}

/// An installation's EU free allocation in `year`, with CLEF and CSCF taken
/// from the rulebook; rounded once, to the nearest allowance.
///
/// # Errors
/// [`FormulaError::FactorNotInRulebook`] when the rulebook has no CSCF or
/// CLEF for `year`; otherwise as [`eu_sub_installation_allocation`].
pub fn eu_installation_allocation(
    rules: &EuAllocationRules,
    year: u16,
    sub_installations: &[EuSubInstallation],
) -> Result<EuAllocation, FormulaError> {
    at_most(
        "sub-installations",
        sub_installations.len(),
        MAX_SUB_INSTALLATIONS,
    )?;
    let cscf = rules
        .cscf_for(year)
        .ok_or(FormulaError::FactorNotInRulebook {
            factor: "CSCF",
            year,
        })?;
    let mut sub_installation_tonnes = Vec::with_capacity(sub_installations.len());
    for sub in sub_installations {
        let clef = rules
            .clef_for(sub.exposure, year)
            .ok_or(FormulaError::FactorNotInRulebook {
                factor: "CLEF",
                year,
            })?;
        sub_installation_tonnes.push(eu_sub_installation_allocation(
            sub.benchmark_allowances_per_activity_unit,
            sub.historical_activity_level,
            clef,
            cscf,
        )?);
    }
    let exact_tonnes = sub_installation_tonnes
        .iter()
        .try_fold(Decimal::ZERO, |acc, t| add("EU free allocation", acc, *t))?;
    Ok(EuAllocation {
        sub_installation_tonnes,
        exact_tonnes,
        total: tonnes_nearest("EU free allocation", exact_tonnes)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{cn_2019_2020, cn_2021, d, eu_phase4};
    use proptest::prelude::*;

    fn china_rules() -> ChinaAllocationRules {
        cn_2021().china_allocation().expect("china rules").clone()
    }

    fn condensing_coal(
        electricity_mwh: &str,
        cooling: Cooling,
        load_factor: &str,
    ) -> ChinaUnitOutput {
        ChinaUnitOutput {
            category: UnitCategory::CoalAbove300Mw,
            cooling,
            operation: Operation::PureCondensing,
            electricity_mwh: d(electricity_mwh),
            heat_gj: Decimal::ZERO,
            heat_supply_ratio: Decimal::ZERO,
            load_factor: d(load_factor),
        }
    }

    #[test]
    fn load_factor_at_49_percent_gives_about_9_7_percent_more() {
        // Goal: the published anchor [S6]: at 49% load, 1.015^(16 - 9.8) = 1.015^6.2 ~ 1.0967.
        let rules = china_rules();
        let factor = load_factor_correction(&rules.load_factor, d("0.49")).expect("factor");
        // 1.015^6.2 = 1.0967040870545314... (40-digit reference computation).
        assert!(
            factor > d("1.09670408705") && factor < d("1.09670408706"),
            "{factor}"
        );
        assert!(
            factor > d("1.0965") && factor < d("1.0975"),
            "{factor}: about +9.7%"
        );
    }

    #[test]
    fn load_factor_piecewise_is_continuous_at_its_three_edges() {
        // Goal: approaching 0.75, 0.80 and 0.85 from below gives the value at the edge.
        let rule = china_rules().load_factor;
        let just_below = d("0.000000001");
        for edge in ["0.75", "0.80", "0.85"] {
            let at = load_factor_correction(&rule, d(edge)).expect("at edge");
            let below = load_factor_correction(&rule, d(edge) - just_below).expect("below edge");
            assert!(
                (at - below).abs() < d("0.0000001"),
                "edge {edge}: {below} -> {at}"
            );
        }
        assert_eq!(load_factor_correction(&rule, d("0.85")), Ok(Decimal::ONE));
        assert_eq!(load_factor_correction(&rule, d("0.80")), Ok(d("1.007")));
        assert_eq!(load_factor_correction(&rule, d("0.75")), Ok(d("1.015")));
        assert_eq!(load_factor_correction(&rule, d("0.82")), Ok(d("1.0042")));
        assert_eq!(load_factor_correction(&rule, d("1")), Ok(Decimal::ONE));
    }

    #[test]
    fn condensing_coal_unit_allocation_matches_hand_computation() {
        // Goal: B_e x Q_e x F_cool x F_heat x F_load with 2021 values, by hand:
        // 0.8218 x 1,000,000 x 1.05 (air) x 1 x 1.0042 (82% load) = 866,514.138 -> 866,514 t.
        let rules = china_rules();
        let unit = condensing_coal("1000000", Cooling::Air, "0.82");
        let allocation = china_unit_allocation(&rules, &unit).expect("allocation");
        assert_eq!(allocation.factors.cooling, d("1.05"));
        assert_eq!(allocation.factors.load, d("1.0042"));
        assert_eq!(allocation.total_tonnes, d("866514.138"));
        let entity = china_entity_allocation(&rules, &[unit]).expect("entity");
        assert_eq!(entity.total, Quantity::new(866_514));
    }

    #[test]
    fn chp_unit_uses_heat_factor_and_heat_benchmark_but_no_load_factor() {
        // Goal: CHP coal unit (II), r = 0.5, load 50% ignored:
        // 0.8773 x 500,000 x 1.00 x (1 - 0.22 x 0.5) + 0.1111 x 2,000,000
        // = 390,398.5 + 222,200 = 612,598.5 -> 612,599 t (half away from zero).
        let rules = china_rules();
        let unit = ChinaUnitOutput {
            category: UnitCategory::CoalAtMost300Mw,
            cooling: Cooling::Water,
            operation: Operation::CombinedHeatAndPower,
            electricity_mwh: d("500000"),
            heat_gj: d("2000000"),
            heat_supply_ratio: d("0.5"),
            load_factor: d("0.5"),
        };
        let allocation = china_unit_allocation(&rules, &unit).expect("allocation");
        assert_eq!(allocation.factors.heat_supply, d("0.89"));
        assert_eq!(allocation.factors.load, Decimal::ONE);
        assert_eq!(allocation.electricity_tonnes, d("390398.5"));
        assert_eq!(allocation.heat_tonnes, d("222200"));
        let entity = china_entity_allocation(&rules, &[unit]).expect("entity");
        assert_eq!(entity.total, Quantity::new(612_599));
    }

    #[test]
    fn gas_unit_uses_gas_factors_whatever_its_cooling() {
        // Goal: gas: F_cool = 1.00 even if air-cooled, F_heat = 1 - 0.6 x 0.4 = 0.76, no load factor.
        let rules = china_rules();
        let unit = ChinaUnitOutput {
            category: UnitCategory::Gas,
            cooling: Cooling::Air,
            operation: Operation::CombinedHeatAndPower,
            electricity_mwh: d("100000"),
            heat_gj: d("0"),
            heat_supply_ratio: d("0.4"),
            load_factor: d("0.3"),
        };
        let factors = correction_factors(&rules, &unit).expect("factors");
        assert_eq!(
            factors,
            CorrectionFactors {
                cooling: d("1.00"),
                heat_supply: d("0.76"),
                load: Decimal::ONE
            }
        );
        // 0.3920 x 100,000 x 0.76 = 29,792.
        assert_eq!(
            china_unit_allocation(&rules, &unit)
                .expect("gas")
                .total_tonnes,
            d("29792")
        );
    }

    #[test]
    fn entity_allocation_rounds_once_on_the_exact_sum() {
        // Goal: two heat-only gas units of 1.4 t each give 3 t (2.8 rounded), not 1 + 1.
        let rules = china_rules();
        let unit = ChinaUnitOutput {
            category: UnitCategory::Gas,
            cooling: Cooling::Water,
            operation: Operation::CombinedHeatAndPower,
            electricity_mwh: Decimal::ZERO,
            heat_gj: d("25"),
            heat_supply_ratio: Decimal::ONE,
            load_factor: Decimal::ONE,
        };
        let entity = china_entity_allocation(&rules, &[unit, unit]).expect("entity");
        assert_eq!(entity.exact_tonnes, d("2.8"));
        assert_eq!(entity.total, Quantity::new(3));
    }

    #[test]
    fn pre_allocation_is_share_of_base_output_times_benchmark_and_true_up_issues_the_rest() {
        // Goal: 2019-20: 70% x (2018 output x benchmark), no correction factor (per the rulebook);
        // 0.70 x 0.877 x 1,000,000 = 613,900; final at 82% load, air-cooled, 2019-20 benchmark:
        // 0.877 x 1,000,000 x 1.05 x 1.0042 = 924,717.57 -> 924,718; true-up issues 310,818.
        let rulebook = cn_2019_2020();
        let rules = rulebook.china_allocation().expect("china");
        let unit = condensing_coal("1000000", Cooling::Air, "0.82");
        let pre = china_pre_allocation(rules, &[unit]).expect("pre");
        assert_eq!(pre.total, Quantity::new(613_900));
        let final_allocation = china_entity_allocation(rules, &[unit]).expect("final");
        assert_eq!(final_allocation.total, Quantity::new(924_718));
        assert_eq!(
            true_up(final_allocation.total, pre.total),
            TrueUp::Issue(Quantity::new(310_818))
        );
    }

    #[test]
    fn true_up_claws_back_when_final_allocation_is_below_pre_allocation() {
        // Goal: the difference may be negative: a claw-back, or nothing when equal.
        assert_eq!(
            true_up(Quantity::new(500), Quantity::new(700)),
            TrueUp::ClawBack(Quantity::new(200))
        );
        assert_eq!(
            true_up(Quantity::new(700), Quantity::new(700)),
            TrueUp::Balanced
        );
    }

    #[test]
    fn bad_unit_inputs_are_refused_with_the_value_named() {
        // Goal: every refusal of unit input: negative output, load factor or ratio outside 0..=1,
        // heat from a pure-condensing unit, absurd output, too many units.
        let rules = china_rules();
        let base = condensing_coal("1000", Cooling::Water, "0.9");
        let cases: Vec<(ChinaUnitOutput, &str, &str)> = vec![
            (
                ChinaUnitOutput {
                    electricity_mwh: d("-1"),
                    ..base
                },
                "negative_input",
                "-1",
            ),
            (
                ChinaUnitOutput {
                    heat_gj: d("-5"),
                    operation: Operation::CombinedHeatAndPower,
                    ..base
                },
                "negative_input",
                "-5",
            ),
            (
                ChinaUnitOutput {
                    load_factor: d("1.2"),
                    ..base
                },
                "input_out_of_range",
                "1.2",
            ),
            (
                ChinaUnitOutput {
                    load_factor: d("-0.1"),
                    ..base
                },
                "input_out_of_range",
                "-0.1",
            ),
            (
                ChinaUnitOutput {
                    heat_supply_ratio: d("1.5"),
                    operation: Operation::CombinedHeatAndPower,
                    ..base
                },
                "input_out_of_range",
                "1.5",
            ),
            (
                ChinaUnitOutput {
                    heat_gj: d("10"),
                    ..base
                },
                "inconsistent_input",
                "10",
            ),
            (
                ChinaUnitOutput {
                    heat_supply_ratio: d("0.1"),
                    ..base
                },
                "inconsistent_input",
                "0.1",
            ),
            (
                ChinaUnitOutput {
                    electricity_mwh: d("10000000000000000"),
                    ..base
                },
                "input_too_large",
                "10000000000000000",
            ),
        ];
        for (unit, code, value) in cases {
            let error = china_unit_allocation(&rules, &unit).expect_err("refused");
            assert_eq!(error.code(), code, "{error}");
            assert!(error.to_string().contains(value), "{error}");
        }
        let many = vec![base; MAX_UNITS_PER_ENTITY + 1];
        assert_eq!(
            china_entity_allocation(&rules, &many)
                .expect_err("too many")
                .code(),
            "too_many_entries"
        );
    }

    #[test]
    fn eu_allocation_multiplies_benchmark_activity_clef_and_cscf() {
        // Goal: F = BM x HAL x CLEF x CSCF: 1.5 x 100,000 x 1.00 x 1.00 = 150,000 (exposed, 2023).
        let rulebook = eu_phase4();
        let rules = rulebook.eu_allocation().expect("eu");
        let sub = EuSubInstallation {
            benchmark_allowances_per_activity_unit: d("1.5"),
            historical_activity_level: d("100000"),
            exposure: CarbonLeakageExposure::Exposed,
        };
        let allocation = eu_installation_allocation(rules, 2023, &[sub]).expect("allocation");
        assert_eq!(allocation.total, Quantity::new(150_000));
        assert_eq!(
            eu_sub_installation_allocation(d("2"), d("10"), d("0.3"), d("0.5")),
            Ok(d("3"))
        );
    }

    #[test]
    fn eu_allocation_without_a_sourced_factor_is_refused() {
        // Goal: the rulebook has no CLEF for non-exposed sectors in 2021-2025 and no factor
        // after 2030: the formula says so instead of guessing; 2026-2030 is usable.
        let rulebook = eu_phase4();
        let rules = rulebook.eu_allocation().expect("eu");
        let sub = EuSubInstallation {
            benchmark_allowances_per_activity_unit: d("1"),
            historical_activity_level: d("1000"),
            exposure: CarbonLeakageExposure::NotExposed,
        };
        let error = eu_installation_allocation(rules, 2022, &[sub]).expect_err("no CLEF");
        assert_eq!(
            error,
            FormulaError::FactorNotInRulebook {
                factor: "CLEF",
                year: 2022
            }
        );
        let error = eu_installation_allocation(rules, 2031, &[sub]).expect_err("after 2030");
        assert_eq!(error.code(), "factor_not_in_rulebook");
        // 2027: 1 x 1,000 x CLEF 0.225 x CSCF 1.00 = 225 t.
        let allocation = eu_installation_allocation(rules, 2027, &[sub]).expect("2027");
        assert_eq!(allocation.total, Quantity::new(225));
        let negative = eu_sub_installation_allocation(d("-1"), d("1"), d("1"), d("1"));
        assert_eq!(negative.expect_err("negative").code(), "negative_input");
        let clef = eu_sub_installation_allocation(d("1"), d("1"), d("1.3"), d("1"));
        assert_eq!(clef.expect_err("clef").code(), "input_out_of_range");
    }

    fn any_unit() -> impl Strategy<Value = (ChinaUnitOutput, u64, u64)> {
        let category = prop_oneof![
            Just(UnitCategory::CoalAbove300Mw),
            Just(UnitCategory::CoalAtMost300Mw),
            Just(UnitCategory::UnconventionalCoal),
            Just(UnitCategory::Gas),
        ];
        let cooling = prop_oneof![Just(Cooling::Water), Just(Cooling::Air)];
        (
            category,
            cooling,
            any::<bool>(),
            0u32..=10_000,
            0u32..=10_000,
            0u64..10_000_000,
            0u64..10_000_000,
            0u64..1_000_000,
            0u64..1_000_000,
        )
            .prop_map(
                |(category, cooling, chp, ratio, load, mwh, gj, extra_mwh, extra_gj)| {
                    let operation = if chp {
                        Operation::CombinedHeatAndPower
                    } else {
                        Operation::PureCondensing
                    };
                    let unit = ChinaUnitOutput {
                        category,
                        cooling,
                        operation,
                        electricity_mwh: Decimal::from(mwh),
                        heat_gj: if chp {
                            Decimal::from(gj)
                        } else {
                            Decimal::ZERO
                        },
                        heat_supply_ratio: if chp {
                            Decimal::new(i64::from(ratio), 4)
                        } else {
                            Decimal::ZERO
                        },
                        load_factor: Decimal::new(i64::from(load), 4),
                    };
                    (unit, extra_mwh, if chp { extra_gj } else { 0 })
                },
            )
    }

    proptest! {
        #[test]
        fn allocation_is_monotone_in_output_and_never_negative((unit, extra_mwh, extra_gj) in any_unit()) {
            // Goal: more output never gives fewer allowances, and no allocation is negative.
            let rules = china_rules();
            let more = ChinaUnitOutput {
                electricity_mwh: unit.electricity_mwh + Decimal::from(extra_mwh),
                heat_gj: unit.heat_gj + Decimal::from(extra_gj),
                ..unit
            };
            let low = china_entity_allocation(&rules, &[unit]).expect("allocation");
            let high = china_entity_allocation(&rules, &[more]).expect("allocation");
            prop_assert!(low.exact_tonnes >= Decimal::ZERO);
            prop_assert!(high.exact_tonnes >= low.exact_tonnes);
            prop_assert!(high.total >= low.total);
        }
    }
}
