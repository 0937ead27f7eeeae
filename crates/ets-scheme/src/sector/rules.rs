//! The rules of an industrial sector's allocation (`[allocation.sector]`):
//! which sector, whether a firm's allocation is its verified emissions (2024)
//! or intensity-based against a benchmark (2025), the pre-allocation, the
//! cement exceptions and the aluminium gases' warming potentials; and their
//! reader, which refuses a missing, misspelt or inconsistent value naming
//! file, key and value.

use crate::reader::{Bounds, TableReader};
use crate::rulebook::RulebookError;
use rust_decimal::Decimal;

/// An industrial sector of China's national ETS from 2024.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Sector {
    /// Iron and steel (blast furnace / basic oxygen route); output in tonnes of crude steel.
    Steel,
    /// Cement (clinker lines); output in tonnes of clinker.
    Cement,
    /// Aluminium (electrolysis); output in tonnes of liquid aluminium.
    Aluminium,
}

impl Sector {
    /// Every sector, in a fixed order.
    pub const ALL: [Sector; 3] = [Sector::Steel, Sector::Cement, Sector::Aluminium];

    /// The sector's key in rulebooks and scenarios (`steel`, `cement`, `aluminium`).
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            Sector::Steel => "steel",
            Sector::Cement => "cement",
            Sector::Aluminium => "aluminium",
        }
    }

    /// The product a firm's output is counted in (tonnes of it).
    #[must_use]
    pub fn product(self) -> &'static str {
        match self {
            Sector::Steel => "crude steel",
            Sector::Cement => "clinker",
            Sector::Aluminium => "liquid aluminium",
        }
    }

    /// The sector of `key`, if it is one.
    #[must_use]
    pub fn from_key(key: &str) -> Option<Sector> {
        Sector::ALL.into_iter().find(|sector| sector.key() == key)
    }
}

/// Where the benchmark of the intensity method comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchmarkRule {
    /// The sector's balance value (its verified emissions over its output, exceptions left
    /// out) times `1 - tightening`: with no tightening the sector's allocation equals its
    /// verified emissions.
    SectorBalance {
        /// The share the benchmark lies below the balance value (0 in 2025).
        tightening: Decimal,
    },
    /// A benchmark stated in the rulebook, tonnes CO2e per tonne of product.
    Fixed {
        /// The benchmark.
        tonnes_per_tonne: Decimal,
    },
}

/// The intensity method (`[allocation.sector.intensity]`): a firm's allocation is
/// `Q x ((1 - w) x I + w x B)`, i.e. `(1 - w) x E + w x Q x B`, where `Q` is its output,
/// `I = E / Q` its intensity, `E` its verified emissions and `B` the benchmark. `w = 1` is
/// pure benchmarking (`Q x B`); a smaller `w` keeps each firm's surplus or deficit within
/// narrower limits while it still follows how the firm's intensity ranks against `B`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntensityRules {
    /// The benchmark.
    pub benchmark: BenchmarkRule,
    /// `w`, the weight of the benchmark against the firm's own intensity (0..=1).
    pub intensity_weight: Decimal,
}

/// How a firm's allocation is set (`method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectorMethod {
    /// Allocation equals verified emissions (`verified`; 2024).
    Verified,
    /// Intensity-based against a benchmark (`intensity`; 2025).
    Intensity(IntensityRules),
}

/// What the pre-allocation is a share of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PreAllocationBase {
    /// The firm's verified emissions of the year before (`previous_year_verified`).
    PreviousYearVerified,
}

/// The pre-allocation (`[allocation.sector.pre_allocation]`): `share x base`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectorPreAllocation {
    /// The share (0.70).
    pub share: Decimal,
    /// What it is a share of.
    pub base: PreAllocationBase,
}

/// Production lines whose allocation equals their verified emissions even under the
/// intensity method (`[allocation.sector.exceptions]`; cement, 2025).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SectorExceptions {
    /// White-cement clinker lines.
    pub white_cement_clinker: bool,
    /// Clinker produced as a by-product (gypsum to sulphuric acid).
    pub by_product_clinker: bool,
    /// Clinker lines whose carbide-slag share of raw material exceeds this share.
    pub carbide_slag_share_above: Option<Decimal>,
}

/// The global warming potentials of the non-CO2 gases counted
/// (`[allocation.sector.gases]`; aluminium: CF4 and C2F6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GasWarmingPotentials {
    /// Tonnes CO2e per tonne of CF4.
    pub cf4: Decimal,
    /// Tonnes CO2e per tonne of C2F6.
    pub c2f6: Decimal,
}

/// An industrial sector's allocation rules (`[allocation.sector]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectorAllocationRules {
    /// The sector.
    pub sector: Sector,
    /// Verified or intensity-based.
    pub method: SectorMethod,
    /// The pre-allocation, if any (none in 2024).
    pub pre_allocation: Option<SectorPreAllocation>,
    /// Lines allocated their verified emissions under the intensity method.
    pub exceptions: SectorExceptions,
    /// The warming potentials of CF4 and C2F6 (aluminium only).
    pub gases: Option<GasWarmingPotentials>,
}

/// Reads `[allocation.sector]`.
pub(crate) fn read_sector_allocation(
    mut table: TableReader<'_>,
) -> Result<SectorAllocationRules, RulebookError> {
    let sector = table.choice("sector", &Sector::ALL.map(|sector| (sector.key(), sector)))?;
    let method = table.choice("method", &[("verified", false), ("intensity", true)])?;
    let intensity = table.optional_table("intensity")?;
    let method = match (method, intensity) {
        (false, None) => SectorMethod::Verified,
        (true, Some(intensity)) => SectorMethod::Intensity(read_intensity(intensity)?),
        (false, Some(_)) => {
            return Err(table.invalid(
                "intensity",
                "method = \"verified\" takes no [allocation.sector.intensity]".to_owned(),
            ));
        }
        (true, None) => {
            return Err(RulebookError::MissingKey {
                file: table.source_name().to_owned(),
                key: table.key_path("intensity"),
            });
        }
    };
    let pre_allocation = table
        .optional_table("pre_allocation")?
        .map(read_pre_allocation)
        .transpose()?;
    let exceptions = match table.optional_table("exceptions")? {
        Some(exceptions) if sector == Sector::Cement => read_exceptions(exceptions)?,
        Some(_) => {
            return Err(table.invalid(
                "exceptions",
                "only cement has exceptions (white-cement, carbide-slag and by-product clinker)"
                    .to_owned(),
            ));
        }
        None => SectorExceptions::default(),
    };
    let gases = read_gases(&mut table, sector)?;
    table.finish()?;
    Ok(SectorAllocationRules {
        sector,
        method,
        pre_allocation,
        exceptions,
        gases,
    })
}

/// The largest benchmark accepted, tonnes CO2e per tonne of product.
fn max_benchmark() -> Decimal {
    Decimal::ONE_HUNDRED
}

fn read_intensity(mut table: TableReader<'_>) -> Result<IntensityRules, RulebookError> {
    let benchmark =
        match table.choice("benchmark", &[("sector_balance", false), ("fixed", true)])? {
            false => BenchmarkRule::SectorBalance {
                tightening: table.decimal("tightening", Bounds::fraction())?,
            },
            true => BenchmarkRule::Fixed {
                tonnes_per_tonne: table.decimal(
                    "benchmark_tonnes_per_tonne",
                    Bounds::above(Decimal::ZERO, max_benchmark()),
                )?,
            },
        };
    let rules = IntensityRules {
        benchmark,
        intensity_weight: table.decimal("intensity_weight", Bounds::fraction())?,
    };
    table.finish()?;
    Ok(rules)
}

fn read_pre_allocation(mut table: TableReader<'_>) -> Result<SectorPreAllocation, RulebookError> {
    let rules = SectorPreAllocation {
        share: table.decimal("share", Bounds::share())?,
        base: table.choice(
            "base",
            &[(
                "previous_year_verified",
                PreAllocationBase::PreviousYearVerified,
            )],
        )?,
    };
    table.finish()?;
    Ok(rules)
}

fn read_exceptions(mut table: TableReader<'_>) -> Result<SectorExceptions, RulebookError> {
    let exceptions = SectorExceptions {
        white_cement_clinker: table.boolean("white_cement_clinker")?,
        by_product_clinker: table.boolean("by_product_clinker")?,
        carbide_slag_share_above: table
            .optional_decimal("carbide_slag_share_above", Bounds::fraction())?,
    };
    table.finish()?;
    Ok(exceptions)
}

/// `[allocation.sector.gases]`: required for aluminium (CF4 and C2F6 are counted), refused
/// for the other sectors (CO2 only).
fn read_gases(
    table: &mut TableReader<'_>,
    sector: Sector,
) -> Result<Option<GasWarmingPotentials>, RulebookError> {
    let gases = table.optional_table("gases")?;
    match (sector, gases) {
        (Sector::Aluminium, Some(mut gases)) => {
            let bounds = Bounds::above(Decimal::ZERO, Decimal::new(100_000, 0));
            let potentials = GasWarmingPotentials {
                cf4: gases.decimal("cf4_gwp", bounds)?,
                c2f6: gases.decimal("c2f6_gwp", bounds)?,
            };
            gases.finish()?;
            Ok(Some(potentials))
        }
        (Sector::Aluminium, None) => Err(RulebookError::MissingKey {
            file: table.source_name().to_owned(),
            key: table.key_path("gases"),
        }),
        (_, Some(_)) => Err(table.invalid(
            "gases",
            format!(
                "{} counts CO2 only: [allocation.sector.gases] is for aluminium",
                sector.key()
            ),
        )),
        (_, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{CN_ALUMINIUM_2025, CN_CEMENT_2025, CN_STEEL_2024, d, edit, load};

    fn refuse(text: &str) -> RulebookError {
        crate::Rulebook::from_toml_str(text, "sector.toml").expect_err("refused")
    }

    #[test]
    fn committed_sector_rulebooks_read_as_published() {
        // Goal: 2024 verified without pre-allocation; 2025 intensity with 70% pre-allocation,
        // the cement exceptions at 15% carbide slag, aluminium's CF4 and C2F6.
        let steel = load(CN_STEEL_2024, "cn-steel-2024.toml");
        let rules = steel.sector_allocation().expect("sector rules");
        assert_eq!(rules.sector, Sector::Steel);
        assert_eq!(rules.method, SectorMethod::Verified);
        assert!(rules.pre_allocation.is_none() && rules.gases.is_none());
        let cement = load(CN_CEMENT_2025, "cn-cement-2025.toml");
        let rules = cement.sector_allocation().expect("sector rules");
        let SectorMethod::Intensity(intensity) = rules.method else {
            panic!("intensity expected");
        };
        assert_eq!(
            intensity.benchmark,
            BenchmarkRule::SectorBalance { tightening: d("0") }
        );
        assert_eq!(rules.pre_allocation.expect("pre").share, d("0.70"));
        assert!(rules.exceptions.white_cement_clinker && rules.exceptions.by_product_clinker);
        assert_eq!(rules.exceptions.carbide_slag_share_above, Some(d("0.15")));
        let aluminium = load(CN_ALUMINIUM_2025, "cn-aluminium-2025.toml");
        let gases = aluminium.sector_allocation().and_then(|r| r.gases);
        assert_eq!(
            gases,
            Some(GasWarmingPotentials {
                cf4: d("6500"),
                c2f6: d("9200")
            })
        );
    }

    #[test]
    fn an_unknown_sector_is_refused_naming_key_and_value() {
        // Goal: a sector the format does not know names file, key path and value.
        let text = edit(CN_STEEL_2024, "sector = \"steel\"", "sector = \"glass\"");
        let error = refuse(&text);
        assert_eq!(error.code(), "rulebook_value_out_of_range");
        let message = error.to_string();
        assert!(message.contains("sector.toml"), "{message}");
        assert!(message.contains("allocation.sector.sector"), "{message}");
        assert!(message.contains("glass"), "{message}");
    }

    #[test]
    fn the_intensity_method_needs_its_table_and_the_verified_method_refuses_it() {
        // Goal: method and [allocation.sector.intensity] agree, or the loader says which key.
        let text = edit(
            CN_CEMENT_2025,
            "method = \"intensity\"",
            "method = \"verified\"",
        );
        let error = refuse(&text);
        assert_eq!(error.code(), "rulebook_invalid_value");
        assert!(error.to_string().contains("allocation.sector.intensity"));
        let text = edit(
            CN_STEEL_2024,
            "method = \"verified\"",
            "method = \"intensity\"",
        );
        let error = refuse(&text);
        assert_eq!(
            error,
            RulebookError::MissingKey {
                file: "sector.toml".into(),
                key: "allocation.sector.intensity".into()
            }
        );
    }

    #[test]
    fn out_of_range_and_misspelt_intensity_values_are_refused() {
        // Goal: a weight above 1 names its key, value and line; a misspelt key is not ignored.
        let text = edit(
            CN_CEMENT_2025,
            "intensity_weight = \"0.5\"",
            "intensity_weight = \"1.5\"",
        );
        let error = refuse(&text);
        assert_eq!(error.code(), "rulebook_value_out_of_range");
        assert!(
            error
                .to_string()
                .contains("allocation.sector.intensity.intensity_weight")
        );
        assert!(error.to_string().contains("1.5"));
        let text = edit(CN_CEMENT_2025, "tightening = ", "tightenning = ");
        let code = refuse(&text).code();
        assert!(
            code == "rulebook_missing_key" || code == "rulebook_unknown_key",
            "{code}"
        );
        let text = edit(
            CN_CEMENT_2025,
            "carbide_slag_share_above = \"0.15\"",
            "carbide_slag_share_above = \"15\"",
        );
        assert_eq!(refuse(&text).code(), "rulebook_value_out_of_range");
    }

    #[test]
    fn exceptions_and_gases_belong_to_their_sectors() {
        // Goal: cement's exceptions in steel, aluminium's gases in cement, aluminium without
        // its gases: each refused naming the key.
        let steel_with_exceptions = CN_STEEL_2024.replace(
            "[obligation]\n",
            "[allocation.sector.exceptions]\nwhite_cement_clinker = true\nby_product_clinker = false\n\n[obligation]\n",
        );
        let error = refuse(&steel_with_exceptions);
        assert_eq!(error.code(), "rulebook_invalid_value");
        assert!(error.to_string().contains("allocation.sector.exceptions"));
        let cement_with_gases = CN_CEMENT_2025.replace(
            "[obligation]\n",
            "[allocation.sector.gases]\ncf4_gwp = \"6500\"\nc2f6_gwp = \"9200\"\n\n[obligation]\n",
        );
        let error = refuse(&cement_with_gases);
        assert!(
            error.to_string().contains("allocation.sector.gases"),
            "{error}"
        );
        let start = CN_ALUMINIUM_2025
            .find("[allocation.sector.gases]")
            .expect("gases table");
        let end = CN_ALUMINIUM_2025[start..]
            .find("\n\n")
            .map(|offset| start + offset)
            .expect("end of table");
        let without = format!(
            "{}{}",
            &CN_ALUMINIUM_2025[..start],
            &CN_ALUMINIUM_2025[end..]
        );
        assert_eq!(
            refuse(&without),
            RulebookError::MissingKey {
                file: "sector.toml".into(),
                key: "allocation.sector.gases".into()
            }
        );
    }

    #[test]
    fn a_fixed_benchmark_is_read_with_its_value() {
        // Goal: benchmark = "fixed" takes benchmark_tonnes_per_tonne instead of tightening.
        let text = edit(
            CN_CEMENT_2025,
            "benchmark = \"sector_balance\"                    # assumption: the balance value [S89]\ntightening = \"0\"",
            "benchmark = \"fixed\"\nbenchmark_tonnes_per_tonne = \"0.8534\"",
        );
        let rulebook = load(&text, "fixed.toml");
        let Some(SectorMethod::Intensity(intensity)) =
            rulebook.sector_allocation().map(|rules| rules.method)
        else {
            panic!("intensity expected");
        };
        assert_eq!(
            intensity.benchmark,
            BenchmarkRule::Fixed {
                tonnes_per_tonne: d("0.8534")
            }
        );
    }
}
