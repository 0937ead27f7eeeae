//! The allocation formulas of an industrial sector: a firm's CO2-equivalent
//! emissions (aluminium counts CF4 and C2F6 by their warming potentials), the
//! sector's benchmark, every firm's allocation under the rulebook's method
//! (verified emissions, or intensity against the benchmark with the cement
//! exceptions), and the pre-allocation. Exact decimal arithmetic, checked;
//! each firm's figure is rounded once by [`crate::rounding::tonnes_nearest`].

use super::rules::{BenchmarkRule, Sector, SectorAllocationRules, SectorMethod};
use crate::error::{FormulaError, add, at_most, div, fraction, mul, non_negative, sub};
use crate::rounding::tonnes_nearest;
use ets_model::Quantity;
use rust_decimal::Decimal;

/// The most firms one sector allocation call accepts.
pub const MAX_FIRMS_PER_SECTOR: usize = 100_000;

/// A firm's emissions of one year by gas, in tonnes of each gas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GasEmissions {
    /// Tonnes of CO2 (energy and process).
    pub co2_tonnes: Decimal,
    /// Tonnes of CF4 (aluminium anode effects).
    pub cf4_tonnes: Decimal,
    /// Tonnes of C2F6 (aluminium anode effects).
    pub c2f6_tonnes: Decimal,
}

/// The kind of production line, which decides whether a cement exception applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LineKind {
    /// An ordinary line of the sector.
    #[default]
    Standard,
    /// A white-cement clinker line.
    WhiteCementClinker,
    /// Clinker made as a by-product (gypsum to sulphuric acid).
    ByProductClinker,
}

/// One firm's data for the allocation of a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectorFirm {
    /// Output of the year, tonnes of the sector's product.
    pub output_tonnes: Decimal,
    /// Verified emissions of the year, tonnes CO2e.
    pub verified: Quantity,
    /// The kind of line.
    pub line: LineKind,
    /// The share of carbide slag in the clinker raw material (0..=1; 0 outside cement).
    pub carbide_slag_share: Decimal,
}

/// Why a firm's allocation is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AllocationBasis {
    /// The rulebook's method is `verified`.
    Verified,
    /// A cement exception: white-cement clinker.
    WhiteCementClinker,
    /// A cement exception: carbide slag above the rulebook's share.
    CarbideSlag,
    /// A cement exception: by-product clinker.
    ByProductClinker,
    /// The intensity method.
    Intensity,
}

/// One firm's allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirmAllocation {
    /// Whole tonnes allocated.
    pub allocation: Quantity,
    /// Why.
    pub basis: AllocationBasis,
}

/// A sector's allocation for a year, firm by firm in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectorAllocation {
    /// The benchmark used (tonnes CO2e per tonne of product), under the intensity method.
    pub benchmark: Option<Decimal>,
    /// Every firm's allocation.
    pub firms: Vec<FirmAllocation>,
    /// The sum of the firms' allocations.
    pub total: Quantity,
    /// The sum of the firms' verified emissions.
    pub verified_total: Quantity,
}

/// A firm's CO2-equivalent emissions: `CO2 + CF4 x GWP_CF4 + C2F6 x GWP_C2F6`, rounded once.
///
/// # Errors
/// [`FormulaError::Negative`] or `TooLarge` for a bad amount,
/// [`FormulaError::RuleNotInRulebook`] for CF4 or C2F6 in a sector that does not count them.
pub fn co2_equivalent(
    rules: &SectorAllocationRules,
    gases: &GasEmissions,
) -> Result<Quantity, FormulaError> {
    const WHAT: &str = "CO2-equivalent emissions";
    let co2 = non_negative("CO2 tonnes", gases.co2_tonnes)?;
    let cf4 = non_negative("CF4 tonnes", gases.cf4_tonnes)?;
    let c2f6 = non_negative("C2F6 tonnes", gases.c2f6_tonnes)?;
    if cf4.is_zero() && c2f6.is_zero() {
        return tonnes_nearest(WHAT, co2);
    }
    let potentials = rules.gases.ok_or(FormulaError::RuleNotInRulebook {
        what: "warming potential of CF4 and C2F6 (aluminium only)",
    })?;
    let total = add(WHAT, co2, mul(WHAT, cf4, potentials.cf4)?)?;
    let total = add(WHAT, total, mul(WHAT, c2f6, potentials.c2f6)?)?;
    tonnes_nearest(WHAT, total)
}

/// The cement exception that applies to `firm`, if any.
fn exception_of(
    rules: &SectorAllocationRules,
    firm: &SectorFirm,
) -> Result<Option<AllocationBasis>, FormulaError> {
    let share = fraction("carbide slag share", firm.carbide_slag_share)?;
    let clinker_only = firm.line != LineKind::Standard || !share.is_zero();
    if clinker_only && rules.sector != Sector::Cement {
        return Err(FormulaError::Inconsistent {
            what: "carbide slag share",
            value: share,
            reason: "clinker lines and carbide slag are cement's; this sector has none",
        });
    }
    let exceptions = rules.exceptions;
    let basis = match firm.line {
        LineKind::WhiteCementClinker if exceptions.white_cement_clinker => {
            Some(AllocationBasis::WhiteCementClinker)
        }
        LineKind::ByProductClinker if exceptions.by_product_clinker => {
            Some(AllocationBasis::ByProductClinker)
        }
        _ => exceptions
            .carbide_slag_share_above
            .filter(|threshold| share > *threshold)
            .map(|_| AllocationBasis::CarbideSlag),
    };
    Ok(basis)
}

/// The benchmark of the intensity method over the firms not excepted: the balance value
/// `sum E / sum Q` times `1 - tightening`, or the rulebook's fixed figure. `None` when
/// every firm is excepted.
fn benchmark_of(
    rule: BenchmarkRule,
    firms: &[(&SectorFirm, Option<AllocationBasis>)],
) -> Result<Option<Decimal>, FormulaError> {
    const WHAT: &str = "sector balance value";
    let mut emissions = Decimal::ZERO;
    let mut output = Decimal::ZERO;
    let mut any = false;
    for (firm, _) in firms.iter().filter(|(_, exception)| exception.is_none()) {
        any = true;
        emissions = add(WHAT, emissions, Decimal::from(firm.verified.tonnes()))?;
        output = add(WHAT, output, firm.output_tonnes)?;
    }
    if !any {
        return Ok(None);
    }
    match rule {
        BenchmarkRule::Fixed { tonnes_per_tonne } => Ok(Some(tonnes_per_tonne)),
        BenchmarkRule::SectorBalance { tightening } => {
            if output.is_zero() {
                return Err(FormulaError::Inconsistent {
                    what: "sector output",
                    value: output,
                    reason: "the intensity method needs output from the firms not excepted",
                });
            }
            let balance = div(WHAT, emissions, output)?;
            let keep = sub(WHAT, Decimal::ONE, tightening)?;
            mul(WHAT, balance, keep).map(Some)
        }
    }
}

/// One firm's allocation under the intensity method: `(1 - w) x E + w x Q x B`.
fn intensity_allocation(
    firm: &SectorFirm,
    weight: Decimal,
    benchmark: Decimal,
) -> Result<Quantity, FormulaError> {
    const WHAT: &str = "intensity allocation";
    let verified = Decimal::from(firm.verified.tonnes());
    if firm.output_tonnes.is_zero() && !verified.is_zero() {
        return Err(FormulaError::Inconsistent {
            what: "output tonnes",
            value: firm.output_tonnes,
            reason: "a firm with emissions and no output has no intensity",
        });
    }
    let own = mul(WHAT, sub(WHAT, Decimal::ONE, weight)?, verified)?;
    let benchmarked = mul(WHAT, mul(WHAT, weight, firm.output_tonnes)?, benchmark)?;
    tonnes_nearest(WHAT, add(WHAT, own, benchmarked)?)
}

/// Every firm's allocation for a year under `rules` (firms in the order given).
///
/// # Errors
/// [`FormulaError`] for a bad amount or share, too many firms, a clinker line or carbide
/// slag outside cement, a firm with emissions and no output under the intensity method,
/// or arithmetic overflow.
pub fn sector_allocation(
    rules: &SectorAllocationRules,
    firms: &[SectorFirm],
) -> Result<SectorAllocation, FormulaError> {
    at_most("firms of a sector", firms.len(), MAX_FIRMS_PER_SECTOR)?;
    let mut judged = Vec::with_capacity(firms.len());
    for firm in firms {
        non_negative("output tonnes", firm.output_tonnes)?;
        judged.push((firm, exception_of(rules, firm)?));
    }
    let benchmark = match rules.method {
        SectorMethod::Verified => None,
        SectorMethod::Intensity(intensity) => benchmark_of(intensity.benchmark, &judged)?,
    };
    let mut allocations = Vec::with_capacity(firms.len());
    let (mut total, mut verified_total) = (Quantity::ZERO, Quantity::ZERO);
    for (firm, exception) in judged {
        let allocation = match (rules.method, exception, benchmark) {
            (SectorMethod::Intensity(intensity), None, Some(benchmark)) => FirmAllocation {
                allocation: intensity_allocation(firm, intensity.intensity_weight, benchmark)?,
                basis: AllocationBasis::Intensity,
            },
            (_, exception, _) => FirmAllocation {
                allocation: firm.verified,
                basis: exception.unwrap_or(AllocationBasis::Verified),
            },
        };
        total = sum("sector allocation", total, allocation.allocation)?;
        verified_total = sum("sector verified emissions", verified_total, firm.verified)?;
        allocations.push(allocation);
    }
    Ok(SectorAllocation {
        benchmark,
        firms: allocations,
        total,
        verified_total,
    })
}

/// A firm's pre-allocation: `share x` its verified emissions of the year before, rounded
/// once; `None` when the rulebook has no pre-allocation.
///
/// # Errors
/// [`FormulaError::Overflow`] if the product does not fit.
pub fn sector_pre_allocation(
    rules: &SectorAllocationRules,
    previous_year_verified: Quantity,
) -> Result<Option<Quantity>, FormulaError> {
    let Some(pre) = rules.pre_allocation else {
        return Ok(None);
    };
    let exact = mul(
        "sector pre-allocation",
        pre.share,
        Decimal::from(previous_year_verified.tonnes()),
    )?;
    tonnes_nearest("sector pre-allocation", exact).map(Some)
}

fn sum(what: &'static str, left: Quantity, right: Quantity) -> Result<Quantity, FormulaError> {
    left.checked_add(right)
        .map_err(|_| FormulaError::Overflow { what })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sector::rules::IntensityRules;
    use crate::test_support::{CN_ALUMINIUM_2025, CN_CEMENT_2025, CN_STEEL_2024, d, load};
    use proptest::prelude::*;

    fn rules_of(text: &str) -> SectorAllocationRules {
        *load(text, "sector.toml")
            .sector_allocation()
            .expect("sector rules")
    }

    fn firm(output: &str, verified: u64) -> SectorFirm {
        SectorFirm {
            output_tonnes: d(output),
            verified: Quantity::new(verified),
            line: LineKind::Standard,
            carbide_slag_share: Decimal::ZERO,
        }
    }

    /// Clinker lines around 0.86 t/t: intensity 0.80 to 0.92.
    fn cement_firms() -> Vec<SectorFirm> {
        (0..40u64)
            .map(|i| {
                let output = 1_000_000 + i * 37_000;
                let intensity = Decimal::new(80 + i64::try_from(i % 13).expect("small"), 2);
                let verified = Decimal::from(output) * intensity;
                firm(
                    &output.to_string(),
                    u64::try_from(verified.trunc().mantissa()).expect("fits"),
                )
            })
            .collect()
    }

    #[test]
    fn in_2024_each_firm_is_allocated_its_verified_emissions() {
        // Goal: method "verified": allocation = verified for every firm, no benchmark, no
        // pre-allocation.
        let rules = rules_of(CN_STEEL_2024);
        let firms = [firm("1000000", 1_850_000), firm("0", 0), firm("5", 40_000)];
        let result = sector_allocation(&rules, &firms).expect("allocates");
        assert_eq!(result.benchmark, None);
        for (input, output) in firms.iter().zip(&result.firms) {
            assert_eq!(output.allocation, input.verified);
            assert_eq!(output.basis, AllocationBasis::Verified);
        }
        assert_eq!(result.total, result.verified_total);
        assert_eq!(
            sector_pre_allocation(&rules, Quantity::new(1_000)),
            Ok(None)
        );
    }

    #[test]
    fn in_2025_the_sector_balances_and_surplus_follows_intensity() {
        // Goal: the intensity method with the balance-value benchmark gives the sector its
        // verified emissions (within half a tonne per firm of rounding); a firm below the
        // benchmark gets w x Q x (B - I) more than it emits, one above that much less.
        let rules = rules_of(CN_CEMENT_2025);
        let firms = cement_firms();
        let result = sector_allocation(&rules, &firms).expect("allocates");
        let benchmark = result.benchmark.expect("benchmark");
        let gap = result
            .total
            .tonnes()
            .abs_diff(result.verified_total.tonnes());
        assert!(
            gap <= firms.len() as u64 / 2,
            "sector off balance by {gap} t"
        );
        for (input, output) in firms.iter().zip(&result.firms) {
            assert_eq!(output.basis, AllocationBasis::Intensity);
            let verified = Decimal::from(input.verified.tonnes());
            let expected = verified + d("0.5") * (input.output_tonnes * benchmark - verified);
            let got = Decimal::from(output.allocation.tonnes());
            assert!((got - expected).abs() <= d("0.5"), "{got} vs {expected}");
            let intensity = verified / input.output_tonnes;
            if intensity < benchmark {
                assert!(output.allocation > input.verified);
            } else if intensity > benchmark {
                assert!(output.allocation < input.verified);
            }
        }
    }

    #[test]
    fn cement_exceptions_get_their_verified_emissions_and_stay_out_of_the_benchmark() {
        // Goal: white-cement, by-product and carbide-slag (> 15%) lines are allocated their
        // verified emissions; exactly 15% is not an exception; the benchmark is the balance
        // value of the other lines only.
        let rules = rules_of(CN_CEMENT_2025);
        let ordinary = cement_firms();
        let plain = sector_allocation(&rules, &ordinary).expect("allocates");
        let mut firms = ordinary.clone();
        let special = |line, slag: &str| SectorFirm {
            line,
            carbide_slag_share: d(slag),
            ..firm("300000", 600_000)
        };
        firms.push(special(LineKind::WhiteCementClinker, "0"));
        firms.push(special(LineKind::ByProductClinker, "0"));
        firms.push(special(LineKind::Standard, "0.20"));
        firms.push(special(LineKind::Standard, "0.15"));
        let result = sector_allocation(&rules, &firms).expect("allocates");
        let n = ordinary.len();
        let bases: Vec<AllocationBasis> = result.firms[n..].iter().map(|f| f.basis).collect();
        assert_eq!(
            bases,
            [
                AllocationBasis::WhiteCementClinker,
                AllocationBasis::ByProductClinker,
                AllocationBasis::CarbideSlag,
                AllocationBasis::Intensity
            ]
        );
        for excepted in &result.firms[n..n + 3] {
            assert_eq!(excepted.allocation, Quantity::new(600_000));
        }
        // The 15% line (intensity 2.0) joins the benchmark; the three exceptions do not.
        let mut without_exceptions = ordinary;
        without_exceptions.push(special(LineKind::Standard, "0.15"));
        let reference = sector_allocation(&rules, &without_exceptions).expect("allocates");
        assert_eq!(result.benchmark, reference.benchmark);
        assert_ne!(result.benchmark, plain.benchmark);
    }

    #[test]
    fn a_fixed_benchmark_with_full_weight_allocates_output_times_benchmark() {
        // Goal: w = 1 and a fixed benchmark is pure benchmarking, Q x B.
        let mut rules = rules_of(CN_CEMENT_2025);
        rules.method = SectorMethod::Intensity(IntensityRules {
            benchmark: BenchmarkRule::Fixed {
                tonnes_per_tonne: d("0.8534"),
            },
            intensity_weight: Decimal::ONE,
        });
        let result = sector_allocation(&rules, &[firm("1000000", 900_000)]).expect("allocates");
        assert_eq!(result.firms[0].allocation, Quantity::new(853_400));
    }

    #[test]
    fn pre_allocation_is_seventy_percent_of_last_years_verified_emissions() {
        // Goal: 0.70 x 1,000,001 = 700,000.7, rounded to 700,001.
        let rules = rules_of(CN_CEMENT_2025);
        assert_eq!(
            sector_pre_allocation(&rules, Quantity::new(1_000_001)),
            Ok(Some(Quantity::new(700_001)))
        );
    }

    #[test]
    fn aluminium_counts_cf4_and_c2f6_by_their_warming_potentials() {
        // Goal: 100,000 t CO2 + 2.5 t CF4 x 6500 + 0.3 t C2F6 x 9200 = 119,010 t CO2e; the
        // same gases in steel are refused.
        let gases = GasEmissions {
            co2_tonnes: d("100000"),
            cf4_tonnes: d("2.5"),
            c2f6_tonnes: d("0.3"),
        };
        let aluminium = rules_of(CN_ALUMINIUM_2025);
        assert_eq!(
            co2_equivalent(&aluminium, &gases),
            Ok(Quantity::new(119_010))
        );
        let steel = rules_of(CN_STEEL_2024);
        let error = co2_equivalent(&steel, &gases).expect_err("steel counts CO2 only");
        assert_eq!(error.code(), "rule_not_in_rulebook");
        let co2_only = GasEmissions {
            co2_tonnes: d("1850000.4"),
            ..GasEmissions::default()
        };
        assert_eq!(
            co2_equivalent(&steel, &co2_only),
            Ok(Quantity::new(1_850_000))
        );
    }

    #[test]
    fn bad_firm_data_is_refused_with_a_stable_code() {
        // Goal: clinker data outside cement, a share above 1, negative output, emissions
        // without output: refused, never a panic.
        let steel = rules_of(CN_STEEL_2024);
        let clinker = SectorFirm {
            line: LineKind::WhiteCementClinker,
            ..firm("1", 1)
        };
        let code = |rules, firms: &[SectorFirm]| {
            sector_allocation(rules, firms).expect_err("refused").code()
        };
        assert_eq!(code(&steel, &[clinker]), "inconsistent_input");
        let cement = rules_of(CN_CEMENT_2025);
        let slag = SectorFirm {
            carbide_slag_share: d("1.5"),
            ..firm("1", 1)
        };
        assert_eq!(code(&cement, &[slag]), "input_out_of_range");
        assert_eq!(code(&cement, &[firm("-1", 1)]), "negative_input");
        assert_eq!(
            code(&cement, &[firm("100", 100), firm("0", 50)]),
            "inconsistent_input"
        );
        assert_eq!(code(&cement, &[firm("0", 50)]), "inconsistent_input");
        let negative = GasEmissions {
            co2_tonnes: d("-1"),
            ..GasEmissions::default()
        };
        assert_eq!(
            co2_equivalent(&steel, &negative).map_err(|e| e.code()),
            Err("negative_input")
        );
    }

    proptest! {
        #[test]
        fn the_balance_value_benchmark_always_balances_the_sector(
            firms in prop::collection::vec((1u64..5_000_000, 1u64..30_000_000), 1..60),
            weight in 0u32..=100,
        ) {
            // Goal: for any population and weight, the sector's allocation is its verified
            // emissions within half a tonne per firm.
            let mut rules = rules_of(CN_CEMENT_2025);
            rules.method = SectorMethod::Intensity(IntensityRules {
                benchmark: BenchmarkRule::SectorBalance { tightening: Decimal::ZERO },
                intensity_weight: Decimal::new(i64::from(weight), 2),
            });
            let firms: Vec<SectorFirm> = firms
                .iter()
                .map(|&(output, verified)| firm(&output.to_string(), verified))
                .collect();
            let result = sector_allocation(&rules, &firms).expect("allocates");
            let gap = result.total.tonnes().abs_diff(result.verified_total.tonnes());
            prop_assert!(gap <= firms.len() as u64 / 2 + 1, "gap {}", gap);
        }
    }
}
