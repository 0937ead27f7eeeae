//! Emissions from monitoring data (China power-sector method):
//! `E = sum_i FC_i x NCV_i x CC_i x OF_i x 44/12`, with the rulebook's
//! default carbon content and oxidation rate standing in for coal records
//! that lack a measurement, plus purchased electricity times the grid factor
//! when the rulebook counts indirect emissions. Also the implausibility flags
//! a verifier looks at: measured carbon content or emission intensity outside
//! a peer range. Flags are returned, never refused.
//!
//! Exactness: the sum of `FC x NCV x CC x OF` is exact; it is multiplied by
//! 44 and then divided by 12 once (28 significant digits); the total is
//! rounded once to the nearest tonne.

use crate::error::{FormulaError, add, at_most, div, fraction, mul, non_negative, product};
use crate::rounding::tonnes_nearest;
use crate::rulebook::MrvRules;
use ets_model::Quantity;
use rust_decimal::Decimal;

/// The most fuel records (fuel x month) in one call.
pub const MAX_FUEL_RECORDS: usize = 10_000;

/// The largest carbon content accepted, tonnes C per GJ (pure carbon is about
/// 0.03; anything near 1 is a unit error).
const MAX_CARBON_CONTENT_TONNES_C_PER_GJ: i64 = 1;

/// The fuel of a record; the rulebook's defaults are for coal only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FuelKind {
    /// Coal of any type.
    Coal,
    /// Any other fuel (gas, oil): measured values are required.
    Other,
}

/// One fuel's consumption in a period (usually a month) at one unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FuelRecord {
    /// Coal or other.
    pub kind: FuelKind,
    /// `FC`, in the fuel's quantity unit (tonnes, or 10^4 Nm3 of gas).
    pub consumed_quantity: Decimal,
    /// `NCV`, GJ per quantity unit.
    pub net_calorific_value_gj_per_quantity: Decimal,
    /// `CC` measured, tonnes C per GJ; `None` uses the rulebook default (coal).
    pub measured_carbon_content_tonnes_c_per_gj: Option<Decimal>,
    /// `OF` measured (a fraction); `None` uses the rulebook default (coal).
    pub measured_oxidation_rate: Option<Decimal>,
}

/// Emissions of an entity or unit for a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Emissions {
    /// Combustion emissions, tonnes CO2, exact up to the division by 12.
    pub combustion_tonnes: Decimal,
    /// Indirect emissions from purchased electricity, tonnes CO2 (0 when the
    /// rulebook does not count them).
    pub indirect_tonnes: Decimal,
    /// Their sum, tonnes CO2.
    pub exact_tonnes: Decimal,
    /// The sum rounded to the nearest whole tonne.
    pub total: Quantity,
    /// How many records used the default carbon content.
    pub records_using_default_carbon_content: usize,
}

/// `CC` for record `index`: measured, else the coal default.
fn carbon_content(
    rules: &MrvRules,
    index: usize,
    record: &FuelRecord,
) -> Result<Decimal, FormulaError> {
    match (record.measured_carbon_content_tonnes_c_per_gj, record.kind) {
        (Some(measured), _) => {
            let value = non_negative("carbon content (tC/GJ)", measured)?;
            if value > Decimal::from(MAX_CARBON_CONTENT_TONNES_C_PER_GJ) {
                return Err(FormulaError::TooLarge {
                    what: "carbon content (tC/GJ)",
                    value,
                    limit: Decimal::from(MAX_CARBON_CONTENT_TONNES_C_PER_GJ),
                });
            }
            Ok(value)
        }
        (None, FuelKind::Coal) => Ok(rules.default_carbon_content_tonnes_c_per_gj),
        (None, FuelKind::Other) => Err(FormulaError::MissingMeasurement {
            fuel_index: index,
            what: "carbon content",
        }),
    }
}

/// `OF` for record `index`: measured, else the coal default.
fn oxidation_rate(
    rules: &MrvRules,
    index: usize,
    record: &FuelRecord,
) -> Result<Decimal, FormulaError> {
    match (record.measured_oxidation_rate, record.kind) {
        (Some(measured), _) => fraction("oxidation rate", measured),
        (None, FuelKind::Coal) => Ok(rules.default_oxidation_rate),
        (None, FuelKind::Other) => Err(FormulaError::MissingMeasurement {
            fuel_index: index,
            what: "oxidation rate",
        }),
    }
}

/// Emissions from fuel records plus, when the rulebook counts them, purchased
/// electricity times the grid emission factor.
///
/// # Errors
/// [`FormulaError::Negative`] / [`FormulaError::TooLarge`] for a negative or
/// absurd consumption, calorific value, carbon content or purchase;
/// [`FormulaError::OutOfRange`] for an oxidation rate outside 0..=1;
/// [`FormulaError::MissingMeasurement`] for a non-coal record without a
/// measurement; [`FormulaError::TooMany`] beyond [`MAX_FUEL_RECORDS`].
pub fn emissions(
    rules: &MrvRules,
    fuels: &[FuelRecord],
    purchased_electricity_mwh: Decimal,
) -> Result<Emissions, FormulaError> {
    const WHAT: &str = "emissions";
    at_most("fuel records", fuels.len(), MAX_FUEL_RECORDS)?;
    let purchased = non_negative("purchased electricity (MWh)", purchased_electricity_mwh)?;
    let mut carbon_tonnes = Decimal::ZERO;
    let mut records_using_default_carbon_content = 0;
    for (index, record) in fuels.iter().enumerate() {
        let consumed = non_negative("fuel consumed", record.consumed_quantity)?;
        let ncv = non_negative(
            "net calorific value (GJ per unit)",
            record.net_calorific_value_gj_per_quantity,
        )?;
        let cc = carbon_content(rules, index, record)?;
        let of = oxidation_rate(rules, index, record)?;
        if record.measured_carbon_content_tonnes_c_per_gj.is_none() {
            records_using_default_carbon_content += 1;
        }
        carbon_tonnes = add(
            WHAT,
            carbon_tonnes,
            product(WHAT, &[consumed, ncv, cc, of])?,
        )?;
    }
    let combustion_tonnes = div(
        WHAT,
        mul(WHAT, carbon_tonnes, Decimal::from(44))?,
        Decimal::from(12),
    )?;
    let indirect_tonnes = if rules.indirect_emissions_counted {
        mul(WHAT, purchased, rules.grid_emission_factor_tonnes_per_mwh)?
    } else {
        Decimal::ZERO
    };
    let exact_tonnes = add(WHAT, combustion_tonnes, indirect_tonnes)?;
    Ok(Emissions {
        combustion_tonnes,
        indirect_tonnes,
        exact_tonnes,
        total: tonnes_nearest(WHAT, exact_tonnes)?,
        records_using_default_carbon_content,
    })
}

/// An inclusive range of values seen at peers, supplied by the verifier's
/// reference data (the rulebooks carry no such ranges).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerRange {
    /// The lowest plausible value.
    pub min: Decimal,
    /// The highest plausible value.
    pub max: Decimal,
}

impl PeerRange {
    fn check(&self, what: &'static str) -> Result<(), FormulaError> {
        if self.min > self.max {
            Err(FormulaError::InvalidPeerRange {
                what,
                min: self.min,
                max: self.max,
            })
        } else {
            Ok(())
        }
    }

    fn contains(&self, value: Decimal) -> bool {
        self.min <= value && value <= self.max
    }
}

/// The peer ranges a report is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlausibilityRanges {
    /// Measured carbon content, tonnes C per GJ.
    pub carbon_content_tonnes_c_per_gj: PeerRange,
    /// Emission intensity, tonnes CO2 per MWh of output.
    pub intensity_tonnes_per_mwh: PeerRange,
}

/// Something a verifier should look at; not a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImplausibilityFlag {
    /// A measured carbon content outside the peer range.
    CarbonContentOutsidePeerRange {
        /// The fuel record.
        fuel_index: usize,
        /// The measured value, tonnes C per GJ.
        value_tonnes_c_per_gj: Decimal,
        /// The peer range.
        range: PeerRange,
    },
    /// Emissions per MWh of output outside the peer range.
    IntensityOutsidePeerRange {
        /// Total emissions / output, tonnes CO2 per MWh.
        value_tonnes_per_mwh: Decimal,
        /// The peer range.
        range: PeerRange,
    },
}

impl ImplausibilityFlag {
    /// The stable machine-readable code of this flag.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            ImplausibilityFlag::CarbonContentOutsidePeerRange { .. } => {
                "carbon_content_outside_peer_range"
            }
            ImplausibilityFlag::IntensityOutsidePeerRange { .. } => "intensity_outside_peer_range",
        }
    }
}

/// The implausibility flags of a report: each measured carbon content outside
/// its peer range (defaults are not flagged), and the intensity (exact total
/// emissions / `electricity_output_mwh`) outside its peer range. With zero
/// output there is no intensity and no intensity flag.
///
/// # Errors
/// [`FormulaError::InvalidPeerRange`] for a range with min above max;
/// [`FormulaError::Negative`] / [`FormulaError::TooLarge`] for the output.
pub fn plausibility_flags(
    fuels: &[FuelRecord],
    emissions: &Emissions,
    electricity_output_mwh: Decimal,
    ranges: &PlausibilityRanges,
) -> Result<Vec<ImplausibilityFlag>, FormulaError> {
    ranges
        .carbon_content_tonnes_c_per_gj
        .check("carbon content")?;
    ranges.intensity_tonnes_per_mwh.check("intensity")?;
    at_most("fuel records", fuels.len(), MAX_FUEL_RECORDS)?;
    let output = non_negative("electricity output (MWh)", electricity_output_mwh)?;
    let range = ranges.carbon_content_tonnes_c_per_gj;
    let mut flags: Vec<ImplausibilityFlag> = fuels
        .iter()
        .enumerate()
        .filter_map(|(fuel_index, record)| {
            let measured = record.measured_carbon_content_tonnes_c_per_gj?;
            (!range.contains(measured)).then_some(
                ImplausibilityFlag::CarbonContentOutsidePeerRange {
                    fuel_index,
                    value_tonnes_c_per_gj: measured,
                    range,
                },
            )
        })
        .collect();
    if !output.is_zero() {
        let intensity = div("emission intensity", emissions.exact_tonnes, output)?;
        if !ranges.intensity_tonnes_per_mwh.contains(intensity) {
            flags.push(ImplausibilityFlag::IntensityOutsidePeerRange {
                value_tonnes_per_mwh: intensity,
                range: ranges.intensity_tonnes_per_mwh,
            });
        }
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{cn_2021, d};

    fn rules() -> MrvRules {
        cn_2021().mrv.expect("the 2021 rulebook has MRV defaults")
    }

    fn coal(consumed: &str, measured_cc: Option<&str>) -> FuelRecord {
        FuelRecord {
            kind: FuelKind::Coal,
            consumed_quantity: d(consumed),
            net_calorific_value_gj_per_quantity: d("20"),
            measured_carbon_content_tonnes_c_per_gj: measured_cc.map(d),
            measured_oxidation_rate: measured_cc.map(|_| d("0.98")),
        }
    }

    #[test]
    fn emissions_with_measured_carbon_content_and_purchased_electricity() {
        // Goal: by hand: 1,000 t x 20 GJ/t x 0.026 tC/GJ x 0.98 = 509.6 tC; x 44/12 = 1,868.5333 t;
        // plus 100 MWh x 0.6101 = 61.01 t; total 1,929.5433 -> 1,930 t.
        let emissions =
            emissions(&rules(), &[coal("1000", Some("0.026"))], d("100")).expect("emissions");
        assert_eq!(emissions.indirect_tonnes, d("61.01"));
        assert!((emissions.combustion_tonnes - d("1868.5333333")).abs() < d("0.0000001"));
        assert_eq!(emissions.total, Quantity::new(1_930));
        assert_eq!(emissions.records_using_default_carbon_content, 0);
    }

    #[test]
    fn emissions_without_measured_carbon_content_use_the_rulebook_defaults() {
        // Goal: by hand with the 2021-22 defaults CC 0.03085 and OF 0.99:
        // 1,000 x 20 x 0.03085 x 0.99 = 610.83 tC; x 44 / 12 = 2,239.71 t -> 2,240 t.
        let emissions =
            emissions(&rules(), &[coal("1000", None)], Decimal::ZERO).expect("emissions");
        assert_eq!(emissions.combustion_tonnes, d("2239.71"));
        assert_eq!(emissions.total, Quantity::new(2_240));
        assert_eq!(emissions.records_using_default_carbon_content, 1);
    }

    #[test]
    fn indirect_emissions_are_ignored_when_the_rulebook_excludes_them() {
        // Goal: from 2023 purchased electricity does not count; the switch is the rulebook's.
        let excluded = MrvRules {
            indirect_emissions_counted: false,
            ..rules()
        };
        let emissions = emissions(&excluded, &[], d("1000")).expect("emissions");
        assert_eq!(emissions.indirect_tonnes, Decimal::ZERO);
        assert_eq!(emissions.total, Quantity::ZERO);
    }

    #[test]
    fn bad_fuel_inputs_are_refused_with_the_value_named() {
        // Goal: every refusal: negative fuel, negative NCV, carbon content absurd, oxidation rate above 1,
        // gas without measurements, negative purchase.
        let rules = rules();
        let base = coal("10", Some("0.026"));
        let cases: Vec<(FuelRecord, &str, &str)> = vec![
            (
                FuelRecord {
                    consumed_quantity: d("-3"),
                    ..base
                },
                "negative_input",
                "-3",
            ),
            (
                FuelRecord {
                    net_calorific_value_gj_per_quantity: d("-20"),
                    ..base
                },
                "negative_input",
                "-20",
            ),
            (
                FuelRecord {
                    measured_carbon_content_tonnes_c_per_gj: Some(d("26")),
                    ..base
                },
                "input_too_large",
                "26",
            ),
            (
                FuelRecord {
                    measured_oxidation_rate: Some(d("1.2")),
                    ..base
                },
                "input_out_of_range",
                "1.2",
            ),
            (
                FuelRecord {
                    kind: FuelKind::Other,
                    measured_carbon_content_tonnes_c_per_gj: None,
                    ..base
                },
                "measurement_missing",
                "carbon content",
            ),
            (
                FuelRecord {
                    kind: FuelKind::Other,
                    measured_oxidation_rate: None,
                    ..base
                },
                "measurement_missing",
                "oxidation rate",
            ),
        ];
        for (record, code, value) in cases {
            let error = emissions(&rules, &[record], Decimal::ZERO).expect_err("refused");
            assert_eq!(error.code(), code, "{error}");
            assert!(error.to_string().contains(value), "{error}");
        }
        let error = emissions(&rules, &[], d("-1")).expect_err("negative purchase");
        assert_eq!(error.code(), "negative_input");
    }

    #[test]
    fn implausible_carbon_content_and_intensity_are_flagged_not_refused() {
        // Goal: a measured CC of 0.035 outside the peer range 0.024..=0.030 is flagged, a default
        // is not, and 2,240 t over 1,000 MWh (2.24 t/MWh) is outside 0.7..=1.2.
        let rules = rules();
        let fuels = [
            coal("1000", Some("0.035")),
            coal("1000", None),
            coal("1000", Some("0.027")),
        ];
        let emissions = emissions(&rules, &fuels, Decimal::ZERO).expect("emissions still computed");
        let ranges = PlausibilityRanges {
            carbon_content_tonnes_c_per_gj: PeerRange {
                min: d("0.024"),
                max: d("0.030"),
            },
            intensity_tonnes_per_mwh: PeerRange {
                min: d("0.7"),
                max: d("1.2"),
            },
        };
        let flags = plausibility_flags(&fuels, &emissions, d("1000"), &ranges).expect("flags");
        assert_eq!(flags.len(), 2, "{flags:?}");
        assert!(matches!(
            flags[0],
            ImplausibilityFlag::CarbonContentOutsidePeerRange { fuel_index: 0, .. }
        ));
        assert_eq!(flags[1].code(), "intensity_outside_peer_range");
        let plausible = plausibility_flags(&fuels[2..], &emissions, d("1000000"), &ranges);
        assert_eq!(
            plausible.map(|flags| flags.len()),
            Ok(1),
            "only the intensity, now 0.0067 t/MWh"
        );
        let inverted = PlausibilityRanges {
            intensity_tonnes_per_mwh: PeerRange {
                min: d("2"),
                max: d("1"),
            },
            ..ranges
        };
        let error =
            plausibility_flags(&fuels, &emissions, d("1000"), &inverted).expect_err("inverted");
        assert_eq!(error.code(), "invalid_peer_range");
    }
}
