//! A sector's synthetic population: the scenario's `[[sectors]]` table (how many firms,
//! the sector's output, the spread of firm sizes and intensities, the cement lines that
//! are exceptions, aluminium's CF4 and C2F6) and the seeded generator of its firms. The
//! figures are floats while drawn and whole tonnes (or kilograms of the fluorinated
//! gases) once a firm exists: what enters the engine is exact.

use crate::scenario::Rng;
use ets_model::Quantity;
use ets_scheme::sector::{GasEmissions, LineKind, Sector, SectorFirm};
use rust_decimal::Decimal;
use serde::Deserialize;
use std::path::PathBuf;

/// One `[[sectors]]` table of a scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectorSpec {
    /// `steel`, `cement` or `aluminium`.
    pub sector: String,
    /// The sector's rulebook for the scenario's year, relative to the scenario file.
    pub rulebook: PathBuf,
    /// The scheme id in that rulebook (`cn-steel-2025`).
    pub scheme: String,
    /// Number of firms.
    pub firms: u32,
    /// The sector's output, million tonnes of its product a year.
    pub output_mt: f64,
    /// Log-normal dispersion of firm output (0: every firm the same size).
    pub size_sigma: f64,
    /// Range of a firm's CO2 intensity, t CO2 per t of product (uniform).
    pub intensity: [f64; 2],
    /// Range of the change of output from the year before (for the pre-allocation).
    pub previous_year_change: [f64; 2],
    /// Cement: share of lines making white-cement clinker.
    #[serde(default)]
    pub white_cement_share: f64,
    /// Cement: share of lines making by-product clinker (gypsum to sulphuric acid).
    #[serde(default)]
    pub by_product_share: f64,
    /// Cement: share of lines whose carbide-slag share of raw material is 16-40%.
    #[serde(default)]
    pub carbide_slag_line_share: f64,
    /// Aluminium: CF4 per tonne of aluminium, kg (uniform range).
    #[serde(default)]
    pub cf4_kg_per_tonne: [f64; 2],
    /// Aluminium: C2F6 per tonne of aluminium, kg (uniform range).
    #[serde(default)]
    pub c2f6_kg_per_tonne: [f64; 2],
    /// The sector's MAC curve, `[share of a firm's CO2, yuan/t]` points as in
    /// `[abatement] mac` (empty: its firms do not abate). An assumption: no sector curve
    /// is published.
    #[serde(default)]
    pub mac: Vec<[f64; 2]>,
    /// Log-normal dispersion of a firm's cost multiplier of `mac` (assumption).
    #[serde(default)]
    pub cost_dispersion: f64,
    /// The share of the whole sector these firms stand for: 1 as written, less in a
    /// smaller run of the same shape (`Chain::with_entities`). A roadmap cap, which is
    /// the whole sector's, is scaled by it. Not a key of the file.
    #[serde(skip, default = "whole_sector")]
    pub market_share: f64,
    /// A roadmap year's absolute cap on these firms (set by `Roadmap::year_scenario`;
    /// `None`: the rulebook's allocation as written). Not a key of the file.
    #[serde(skip)]
    pub cap: Option<SectorCapDesign>,
}

/// A roadmap year's cap on a sector's firms in a run: the free allocation is the cap
/// less the auctioned share, distributed by the rulebook's intensity formula; the
/// auctioned share is sold at the exchange's auctions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SectorCapDesign {
    /// The cap on the run's firms, tonnes (the sector's cap times its market share).
    pub cap_tonnes: f64,
    /// The share of the cap auctioned.
    pub auction_share: f64,
}

impl SectorCapDesign {
    /// Tonnes auctioned (whole thousands, as the power sector's auction volume).
    #[must_use]
    pub fn auctioned_tonnes(&self) -> u64 {
        ((self.cap_tonnes * self.auction_share).max(0.0) as u64 / 1_000) * 1_000
    }

    /// Tonnes allocated free: the cap less what is auctioned.
    #[must_use]
    pub fn free_tonnes(&self) -> u64 {
        (self.cap_tonnes.max(0.0) as u64).saturating_sub(self.auctioned_tonnes())
    }
}

fn whole_sector() -> f64 {
    1.0
}

/// A generated firm of a sector.
#[derive(Debug, Clone, PartialEq)]
pub struct SimSectorFirm {
    /// Its entity index (after the power entities and the sectors before it).
    pub index: u32,
    /// Output of the year, tonnes of the sector's product.
    pub output_tonnes: u64,
    /// CO2 of the year (energy and process), tonnes.
    pub co2_tonnes: u64,
    /// CF4 of the year, kg (aluminium).
    pub cf4_kg: u64,
    /// C2F6 of the year, kg (aluminium).
    pub c2f6_kg: u64,
    /// The kind of line (cement exceptions).
    pub line: LineKind,
    /// Carbide-slag share of the raw material (cement), 4 decimals.
    pub carbide_slag_share: Decimal,
    /// Verified emissions of the year before, tonnes CO2e (the pre-allocation's base).
    pub previous_verified: u64,
}

impl SimSectorFirm {
    /// Its emissions by gas, exact.
    #[must_use]
    pub fn gases(&self) -> GasEmissions {
        GasEmissions {
            co2_tonnes: Decimal::from(self.co2_tonnes),
            cf4_tonnes: Decimal::new(i64::try_from(self.cf4_kg).unwrap_or(i64::MAX), 3),
            c2f6_tonnes: Decimal::new(i64::try_from(self.c2f6_kg).unwrap_or(i64::MAX), 3),
        }
    }

    /// The formula's view of the firm, given its verified emissions.
    #[must_use]
    pub fn formula_input(&self, verified: u64) -> SectorFirm {
        SectorFirm {
            output_tonnes: Decimal::from(self.output_tonnes),
            verified: Quantity::new(verified),
            line: self.line,
            carbide_slag_share: self.carbide_slag_share,
        }
    }
}

/// The sector a spec names (validated when the scenario loads).
///
/// # Errors
/// When `spec.sector` is not a sector.
pub fn sector_of(spec: &SectorSpec) -> anyhow::Result<Sector> {
    Sector::from_key(&spec.sector).ok_or_else(|| {
        anyhow::anyhow!("sector {:?} is not steel, cement or aluminium", spec.sector)
    })
}

/// The firms of `spec`, entity indexes from `first_index`, drawn from `seed`. Sizes are
/// log-normal, scaled so the firms' output sums to `output_mt`.
#[must_use]
pub fn generate(spec: &SectorSpec, first_index: u32, seed: u64) -> Vec<SimSectorFirm> {
    let mut rng = Rng::new(seed);
    let sizes: Vec<f64> = (0..spec.firms)
        .map(|_| (spec.size_sigma * rng.normal()).exp())
        .collect();
    let scale = spec.output_mt * 1e6 / sizes.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    sizes
        .iter()
        .zip(first_index..)
        .map(|(size, index)| {
            let output = (size * scale).round().max(1.0);
            let intensity = rng.range(spec.intensity);
            let (line, carbide) = draw_line(spec, &mut rng);
            let change = rng.range(spec.previous_year_change);
            let co2 = (output * intensity).round();
            let cf4 = (output * rng.range(spec.cf4_kg_per_tonne)).round();
            let c2f6 = (output * rng.range(spec.c2f6_kg_per_tonne)).round();
            SimSectorFirm {
                index,
                output_tonnes: output as u64,
                co2_tonnes: co2 as u64,
                cf4_kg: cf4 as u64,
                c2f6_kg: c2f6 as u64,
                line,
                carbide_slag_share: carbide,
                previous_verified: (co2 * (1.0 + change)).round().max(0.0) as u64,
            }
        })
        .collect()
}

/// A cement line's kind and carbide-slag share (ordinary lines 0-10% slag); other
/// sectors' lines are standard with no slag.
fn draw_line(spec: &SectorSpec, rng: &mut Rng) -> (LineKind, Decimal) {
    if spec.sector != Sector::Cement.key() {
        return (LineKind::Standard, Decimal::ZERO);
    }
    let draw = rng.unit();
    let white = spec.white_cement_share;
    let by_product = white + spec.by_product_share;
    let carbide = by_product + spec.carbide_slag_line_share;
    let share = |range: [f64; 2], rng: &mut Rng| {
        Decimal::from_f64_retain(rng.range(range))
            .unwrap_or_default()
            .round_dp(4)
    };
    if draw < white {
        (LineKind::WhiteCementClinker, Decimal::ZERO)
    } else if draw < by_product {
        (LineKind::ByProductClinker, Decimal::ZERO)
    } else if draw < carbide {
        (LineKind::Standard, share([0.16, 0.40], rng))
    } else {
        (LineKind::Standard, share([0.0, 0.10], rng))
    }
}

/// A bad key of a sector spec: `(key, value, reason)`.
type BadKey = (String, String, String);

/// The ranges of `spec` for `sector`: `(key, value, reason)` of the first bad one.
pub(crate) fn check_ranges(spec: &SectorSpec, sector: Sector) -> Result<(), BadKey> {
    check_sizes(spec)?;
    check_clinker_lines(spec, sector)?;
    check_costs(spec, sector)
}

/// The bad key `name` with its `value` and the `reason`.
fn bad(name: &str, value: String, reason: &str) -> Result<(), BadKey> {
    Err((name.to_owned(), value, reason.to_owned()))
}

/// The firm count, output, size spread and the intensity and emission factor pairs.
fn check_sizes(spec: &SectorSpec) -> Result<(), BadKey> {
    if spec.firms == 0 || spec.firms > 100_000 {
        return bad("firms", spec.firms.to_string(), "must be 1 to 100000");
    }
    if !(spec.output_mt > 0.0 && spec.output_mt < 1e5) {
        return bad(
            "output_mt",
            spec.output_mt.to_string(),
            "must be above 0 and below 100000",
        );
    }
    if !(0.0..=3.0).contains(&spec.size_sigma) {
        return bad(
            "size_sigma",
            spec.size_sigma.to_string(),
            "must be between 0 and 3",
        );
    }
    let range = |name: &str, [low, high]: [f64; 2], min: f64, max: f64| {
        if (min..=max).contains(&low) && (min..=max).contains(&high) && low <= high {
            Ok(())
        } else {
            Err((
                name.to_owned(),
                format!("[{low}, {high}]"),
                format!("must be an ascending pair within [{min}, {max}]"),
            ))
        }
    };
    range("intensity", spec.intensity, 0.001, 50.0)?;
    range("previous_year_change", spec.previous_year_change, -0.9, 1.0)?;
    range("cf4_kg_per_tonne", spec.cf4_kg_per_tonne, 0.0, 10.0)?;
    range("c2f6_kg_per_tonne", spec.c2f6_kg_per_tonne, 0.0, 10.0)
}

/// The clinker line shares: each a share, cement's only, together at most 1.
fn check_clinker_lines(spec: &SectorSpec, sector: Sector) -> Result<(), BadKey> {
    let lines = [
        ("white_cement_share", spec.white_cement_share),
        ("by_product_share", spec.by_product_share),
        ("carbide_slag_line_share", spec.carbide_slag_line_share),
    ];
    for (name, share) in lines {
        if !(0.0..=1.0).contains(&share) {
            return bad(name, share.to_string(), "must be between 0 and 1");
        }
        if share > 0.0 && sector != Sector::Cement {
            return bad(
                name,
                share.to_string(),
                "only cement has these clinker lines",
            );
        }
    }
    if lines.iter().map(|(_, share)| share).sum::<f64>() > 1.0 {
        return bad(
            "carbide_slag_line_share",
            spec.carbide_slag_line_share.to_string(),
            "the cement line shares sum to more than 1",
        );
    }
    Ok(())
}

/// The abatement cost curve, its dispersion, and fluorinated gases (aluminium's only).
fn check_costs(spec: &SectorSpec, sector: Sector) -> Result<(), BadKey> {
    if !super::abatement::mac_is_valid(&spec.mac) {
        return bad(
            "mac",
            format!("{:?}", spec.mac),
            "needs increasing [share 0..1, yuan/t] points",
        );
    }
    if !(0.0..=2.0).contains(&spec.cost_dispersion) {
        return bad(
            "cost_dispersion",
            spec.cost_dispersion.to_string(),
            "must be between 0 and 2",
        );
    }
    let fluorinated = spec.cf4_kg_per_tonne[1] > 0.0 || spec.c2f6_kg_per_tonne[1] > 0.0;
    if fluorinated && sector != Sector::Aluminium {
        return bad(
            "cf4_kg_per_tonne",
            format!("{:?}", spec.cf4_kg_per_tonne),
            "only aluminium emits CF4 and C2F6",
        );
    }
    Ok(())
}
