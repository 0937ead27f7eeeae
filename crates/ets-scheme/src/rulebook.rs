//! The rulebook of one scheme and period, loaded from a TOML file under
//! `schemes/`: identity and currency, allocation parameters (China benchmark
//! style or EU benchmark style), obligation caps, offset limits, borrowing
//! and carry-over, eligible vintages, deadlines, the penalty regime and MRV
//! defaults. The format is documented in `docs/rulebooks.md`.
//!
//! Loading validates everything: a missing, misspelt, mistyped or
//! out-of-range value is refused with a [`RulebookError`] naming the file,
//! the full key path and the value as written. Decimals are read exactly
//! from their text into [`Decimal`], never through `f64`.

use crate::reader::{Bounds, Source, TableReader, YEAR_RANGE};
use crate::sector::rules::{SectorAllocationRules, read_sector_allocation};
use ets_model::{Code, Quantity, Vintage};
use ets_time::{CivilDate, DayOffRule, HolidayCalendar, TimeZone};
use rust_decimal::{Decimal, MathematicalOps};
use std::path::Path;
use thiserror::Error;
use toml::de::DeTable;

/// The largest rulebook file accepted, in bytes.
pub const MAX_RULEBOOK_BYTES: usize = 1 << 20;

/// Why a rulebook could not be loaded. Every variant names the file; those
/// about a value name its full key path, the value as written and its line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RulebookError {
    /// The file could not be read.
    #[error("{file}: cannot read the rulebook: {reason}")]
    Unreadable {
        /// The file.
        file: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The file is larger than [`MAX_RULEBOOK_BYTES`].
    #[error("{file}: the rulebook is {bytes} bytes, more than the limit of {limit}")]
    TooLarge {
        /// The file.
        file: String,
        /// Its size in bytes.
        bytes: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The text is not valid TOML.
    #[error("{file}: not valid TOML: {reason}")]
    Syntax {
        /// The file.
        file: String,
        /// The parser's message (with line and column).
        reason: String,
    },
    /// A required key is absent.
    #[error("{file}: missing key `{key}`")]
    MissingKey {
        /// The file.
        file: String,
        /// The full key path.
        key: String,
    },
    /// A key the format does not know (often a misspelling).
    #[error("{file}:{line}: unknown key `{key}`")]
    UnknownKey {
        /// The file.
        file: String,
        /// The full key path.
        key: String,
        /// The 1-based line.
        line: usize,
    },
    /// A value of the wrong kind (a table where a number is expected, ...).
    #[error("{file}:{line}: `{key}` = {value} is not {expected}")]
    WrongType {
        /// The file.
        file: String,
        /// The full key path.
        key: String,
        /// The value as written.
        value: String,
        /// The 1-based line.
        line: usize,
        /// What was expected.
        expected: &'static str,
    },
    /// A value outside its allowed range or set.
    #[error("{file}:{line}: `{key}` = {value} is out of range: allowed {allowed}")]
    OutOfRange {
        /// The file.
        file: String,
        /// The full key path.
        key: String,
        /// The value as written.
        value: String,
        /// The 1-based line.
        line: usize,
        /// The allowed range or set.
        allowed: String,
    },
    /// A well-formed value inconsistent with the rest of the rulebook.
    #[error("{file}:{line}: `{key}` = {value} is invalid: {reason}")]
    Invalid {
        /// The file.
        file: String,
        /// The full key path.
        key: String,
        /// The value as written.
        value: String,
        /// The 1-based line (0 when the value is absent).
        line: usize,
        /// Why it is refused.
        reason: String,
    },
}

impl RulebookError {
    /// The stable machine-readable code of this error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            RulebookError::Unreadable { .. } => "rulebook_unreadable",
            RulebookError::TooLarge { .. } => "rulebook_too_large",
            RulebookError::Syntax { .. } => "rulebook_syntax",
            RulebookError::MissingKey { .. } => "rulebook_missing_key",
            RulebookError::UnknownKey { .. } => "rulebook_unknown_key",
            RulebookError::WrongType { .. } => "rulebook_wrong_type",
            RulebookError::OutOfRange { .. } => "rulebook_value_out_of_range",
            RulebookError::Invalid { .. } => "rulebook_invalid_value",
        }
    }
}

/// A calendar date (no time zone): deadlines are days, and the engine decides
/// which instant ends a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CalendarDate {
    /// The year.
    pub year: u16,
    /// The month, 1 to 12.
    pub month: u8,
    /// The day of the month, from 1.
    pub day: u8,
}

impl CalendarDate {
    /// The date, or `None` when it does not exist or its year is outside
    /// 1990..=2100.
    #[must_use]
    pub fn try_new(year: u16, month: u8, day: u8) -> Option<CalendarDate> {
        let leap =
            (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        let year_ok = (YEAR_RANGE.0..=YEAR_RANGE.1).contains(&year);
        (year_ok && (1..=days_in_month).contains(&day)).then_some(CalendarDate { year, month, day })
    }
}

impl std::fmt::Display for CalendarDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// The currency a scheme's prices and penalties are stated in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Currency {
    /// Chinese yuan (minor unit: fen).
    Cny,
    /// Euro (minor unit: cent).
    Eur,
}

impl Currency {
    /// The ISO 4217 code.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Currency::Cny => "CNY",
            Currency::Eur => "EUR",
        }
    }

    /// Minor units (fen, cents) in one major unit (yuan, euro).
    #[must_use]
    pub fn minor_units_per_major(self) -> i64 {
        match self {
            Currency::Cny | Currency::Eur => 100,
        }
    }
}

/// Who the scheme is and what it counts in (`[scheme]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemeInfo {
    /// A stable identifier such as `cn-power-2021`.
    pub id: String,
    /// A human-readable name.
    pub name: String,
    /// The currency of prices and penalties.
    pub currency: Currency,
    /// The allowance's unit code (`CEA`, `EUA`).
    pub unit_code: Code,
    /// The compliance years this rulebook governs, ascending.
    pub compliance_years: Vec<u16>,
    /// The price tick in major units (0.01 yuan); a whole number of minor units.
    pub price_tick_major_units: Decimal,
    /// The scheme's civil time, in which its deadlines are days (`time_zone`: China
    /// `UTC+08:00`, the EU `CET/CEST`; UTC when absent, as in rulebooks written before it).
    pub time_zone: TimeZone,
}

/// China's four power-unit categories (one benchmark each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UnitCategory {
    /// I: conventional coal units above 300 MW.
    CoalAbove300Mw,
    /// II: conventional coal units of at most 300 MW.
    CoalAtMost300Mw,
    /// III: unconventional coal (coal gangue, slime, coal-water slurry, CFB).
    UnconventionalCoal,
    /// IV: natural gas units.
    Gas,
}

impl UnitCategory {
    /// Whether the category burns coal (I, II, III).
    #[must_use]
    pub fn is_coal(self) -> bool {
        !matches!(self, UnitCategory::Gas)
    }

    /// The category's key in a rulebook (`coal_above_300mw`, ...).
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            UnitCategory::CoalAbove300Mw => "coal_above_300mw",
            UnitCategory::CoalAtMost300Mw => "coal_at_most_300mw",
            UnitCategory::UnconventionalCoal => "unconventional_coal",
            UnitCategory::Gas => "gas",
        }
    }
}

/// What electricity output `Q_e` means for the benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputBasis {
    /// Net electricity supplied (2019-2022).
    Supply,
    /// Electricity generated (from 2023).
    Generation,
}

/// The benchmarks of one unit category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Benchmark {
    /// `B_e`, tonnes CO2 per MWh of output on the rulebook's basis.
    pub electricity_tonnes_per_mwh: Decimal,
    /// `B_h`, tonnes CO2 per GJ of heat supplied.
    pub heat_tonnes_per_gj: Decimal,
}

/// The benchmarks of the four categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChinaBenchmarks {
    /// Category I.
    pub coal_above_300mw: Benchmark,
    /// Category II.
    pub coal_at_most_300mw: Benchmark,
    /// Category III.
    pub unconventional_coal: Benchmark,
    /// Category IV.
    pub gas: Benchmark,
}

impl ChinaBenchmarks {
    /// The benchmark of `category`.
    #[must_use]
    pub fn for_category(&self, category: UnitCategory) -> &Benchmark {
        match category {
            UnitCategory::CoalAbove300Mw => &self.coal_above_300mw,
            UnitCategory::CoalAtMost300Mw => &self.coal_at_most_300mw,
            UnitCategory::UnconventionalCoal => &self.unconventional_coal,
            UnitCategory::Gas => &self.gas,
        }
    }
}

/// The cooling correction `F_cool`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoolingFactors {
    /// Water-cooled coal units.
    pub coal_water_cooled: Decimal,
    /// Air-cooled coal units.
    pub coal_air_cooled: Decimal,
    /// Gas units, whatever their cooling.
    pub gas: Decimal,
}

/// The heat-supply correction `F_heat = 1 - coefficient * r`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeatSupplyFactors {
    /// The coefficient for coal units.
    pub coal_coefficient: Decimal,
    /// The coefficient for gas units.
    pub gas_coefficient: Decimal,
}

/// The load-factor correction `F_load` for pure-condensing coal units, a
/// piecewise function of the load factor `F` (a fraction), with `p = 100 F`:
///
/// - `F >= no_correction_from`: 1;
/// - `band_1_from <= F < no_correction_from`:
///   `1 + band_1_slope_per_point * (100 * no_correction_from - p)`;
/// - `band_2_from <= F < band_1_from`:
///   `band_2_intercept + band_2_slope_per_point * (100 * band_1_from - p)`;
/// - `F < band_2_from`: `low_band_base ^ (low_band_exponent_intercept - low_band_exponent_slope * F)`.
///
/// The loader refuses parameters that make the function discontinuous.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadFactorRule {
    /// Load factor from which no correction applies (0.85).
    pub no_correction_from: Decimal,
    /// Lower edge of the first band (0.80).
    pub band_1_from: Decimal,
    /// Correction per percentage point below `no_correction_from` (0.0014).
    pub band_1_slope_per_point: Decimal,
    /// Lower edge of the second band (0.75).
    pub band_2_from: Decimal,
    /// Value at the top of the second band (1.007).
    pub band_2_intercept: Decimal,
    /// Correction per percentage point below `band_1_from` (0.0016).
    pub band_2_slope_per_point: Decimal,
    /// Base of the exponential below `band_2_from` (1.015).
    pub low_band_base: Decimal,
    /// Constant of the exponent (16).
    pub low_band_exponent_intercept: Decimal,
    /// Slope of the exponent per unit of load factor (20).
    pub low_band_exponent_slope: Decimal,
}

/// How the pre-allocation is computed: `share * sum(B * base-year output *
/// the factors switched on here)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreAllocationRules {
    /// The share pre-allocated (0.70).
    pub share: Decimal,
    /// The base year of the output, when the sources state it.
    pub base_year: Option<u16>,
    /// Whether `F_cool` applies to the pre-allocation.
    pub apply_cooling_factor: bool,
    /// Whether `F_heat` applies to the pre-allocation.
    pub apply_heat_supply_factor: bool,
    /// Whether `F_load` applies to the pre-allocation.
    pub apply_load_factor: bool,
}

/// China-style (intensity-based) allocation rules (`[allocation.china]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChinaAllocationRules {
    /// What electricity output means.
    pub output_basis: OutputBasis,
    /// The benchmarks per category.
    pub benchmarks: ChinaBenchmarks,
    /// `F_cool`.
    pub cooling: CoolingFactors,
    /// `F_heat`.
    pub heat_supply: HeatSupplyFactors,
    /// `F_load`.
    pub load_factor: LoadFactorRule,
    /// Pre-allocation.
    pub pre_allocation: PreAllocationRules,
}

/// A factor over a span of years, linear from the first year's value to the
/// last year's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YearSchedule {
    /// The first year covered.
    pub first_year: u16,
    /// The last year covered (>= `first_year`).
    pub last_year: u16,
    /// The value in `first_year`.
    pub first_year_value: Decimal,
    /// The value in `last_year`.
    pub last_year_value: Decimal,
}

impl YearSchedule {
    /// The value in `year`, or `None` outside the span. Interpolation is
    /// exact decimal arithmetic.
    #[must_use]
    pub fn value_for(&self, year: u16) -> Option<Decimal> {
        if year < self.first_year || year > self.last_year {
            return None;
        }
        if self.first_year == self.last_year {
            return Some(self.first_year_value);
        }
        let elapsed = Decimal::from(year - self.first_year);
        let span = Decimal::from(self.last_year - self.first_year);
        let change = self.last_year_value.checked_sub(self.first_year_value)?;
        let step = change.checked_mul(elapsed)?.checked_div(span)?;
        self.first_year_value.checked_add(step)
    }
}

/// An installation's carbon-leakage exposure, which selects its CLEF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CarbonLeakageExposure {
    /// Sectors deemed exposed to carbon leakage.
    Exposed,
    /// Other sectors.
    NotExposed,
    /// District heating.
    DistrictHeating,
}

/// The carbon-leakage exposure factor of one exposure class over years.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClefSchedule {
    /// The exposure class.
    pub exposure: CarbonLeakageExposure,
    /// Its values.
    pub schedule: YearSchedule,
}

/// EU-style allocation rules (`[allocation.eu]`): `F = BM * HAL * CLEF * CSCF`,
/// with the benchmark and activity level supplied per sub-installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EuAllocationRules {
    /// CSCF over years (non-overlapping).
    pub cross_sectoral_correction_factor: Vec<YearSchedule>,
    /// CLEF per exposure over years (non-overlapping per exposure).
    pub carbon_leakage_exposure_factor: Vec<ClefSchedule>,
}

impl EuAllocationRules {
    /// The CSCF in `year`, if the rulebook has it.
    #[must_use]
    pub fn cscf_for(&self, year: u16) -> Option<Decimal> {
        self.cross_sectoral_correction_factor
            .iter()
            .find_map(|schedule| schedule.value_for(year))
    }

    /// The CLEF of `exposure` in `year`, if the rulebook has it.
    #[must_use]
    pub fn clef_for(&self, exposure: CarbonLeakageExposure, year: u16) -> Option<Decimal> {
        self.carbon_leakage_exposure_factor
            .iter()
            .filter(|entry| entry.exposure == exposure)
            .find_map(|entry| entry.schedule.value_for(year))
    }
}

/// The allocation style of a rulebook (`[allocation.china]` or `[allocation.eu]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllocationRules {
    /// Intensity-based allocation per power unit (boxed: it is much the larger).
    China(Box<ChinaAllocationRules>),
    /// Benchmark times historical activity.
    Eu(EuAllocationRules),
    /// An industrial sector: verified or intensity-based per firm ([`crate::sector`]).
    Sector(SectorAllocationRules),
}

/// What the shortfall cap and the borrowing gap rate are shares of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CapBase {
    /// Verified emissions.
    Verified,
    /// The allocation.
    Allocation,
}

/// What the offset limit is a share of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OffsetBase {
    /// The surrender obligation ("allowances to be surrendered").
    Obligation,
    /// Verified emissions.
    Verified,
}

/// The cap on the shortfall an entity must cover (`[obligation.shortfall_cap]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShortfallCap {
    /// The cap as a share of `base` (0.20).
    pub share: Decimal,
    /// Verified emissions or allocation.
    pub base: CapBase,
}

/// Obligation relief (`[obligation]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObligationRules {
    /// Whether gas units owe at most their allocation.
    pub gas_cap: bool,
    /// The shortfall cap for coal and other units, if any.
    pub shortfall_cap: Option<ShortfallCap>,
}

/// Offset use (`[offsets]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetRules {
    /// The most offsets usable, as a share of `base` (0.05).
    pub limit_share: Decimal,
    /// Obligation or verified emissions.
    pub base: OffsetBase,
    /// Offset standards accepted (`CCER`).
    pub eligible_standards: Vec<Code>,
}

/// Borrowing from a later year's allocation (`[borrowing]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BorrowingRules {
    /// Borrowing is allowed when the gap rate exceeds this (0.10).
    pub min_gap_rate: Decimal,
    /// The denominator of the gap rate.
    pub gap_rate_base: CapBase,
    /// The most that may be borrowed, as a share of the gap (0.50).
    pub max_share_of_gap: Decimal,
    /// The vintage borrowed from.
    pub from_vintage: Vintage,
}

/// The cap on allowances carried over (`[carry_over]`):
/// `fixed + multiple * net sales`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CarryOverRules {
    /// The fixed part (10,000 t).
    pub fixed: Quantity,
    /// The multiple of net sales (1.5).
    pub net_sales_multiple: Decimal,
    /// The last vintage the cap covers (`last_vintage`, China: 2024): it binds at the
    /// close of the period ending with that year, on allowances of that vintage and
    /// older. `None`: the rulebook's last compliance year.
    pub last_vintage: Option<Vintage>,
}

/// Which vintages may be surrendered (`[surrender]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurrenderRules {
    /// The eligible vintages, ascending.
    pub eligible_vintages: Vec<Vintage>,
}

/// One surrender deadline: by `date`, `cumulative_share` of the obligation of
/// each of `compliance_years` must have been surrendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurrenderDeadline {
    /// The compliance years concerned.
    pub compliance_years: Vec<u16>,
    /// The last day, as the rulebook states it.
    pub date: CalendarDate,
    /// The cumulative share of the obligation due (0.95, 1.00).
    pub cumulative_share: Decimal,
    /// What happens when `date` falls on a weekend or public holiday
    /// (`on_holiday`; as stated unless the rulebook says otherwise).
    pub on_holiday: DayOffRule,
    /// The day the deadline actually falls on after `on_holiday`: the end of
    /// this day in the scheme's civil time is when it passes.
    pub due: CalendarDate,
}

/// The calendar (`[deadlines]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadlines {
    /// Pre-allocation deadline, when sourced.
    pub pre_allocation: Option<CalendarDate>,
    /// Final allocation (and borrowing) deadline, when sourced.
    pub final_allocation: Option<CalendarDate>,
    /// Surrender deadlines.
    pub surrender: Vec<SurrenderDeadline>,
    /// The holiday calendar that business days are counted in (`calendar`),
    /// when the rulebook names one.
    pub calendar: Option<DeadlineCalendar>,
}

/// A holiday calendar a rulebook may count its deadlines' business days in
/// (`[deadlines] calendar`): one of the calendars embedded in `ets-time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeadlineCalendar {
    /// China's public holidays and make-up working days (`cn`).
    China,
    /// The EEX exchange calendar (`eu-eex`).
    EuEex,
}

impl DeadlineCalendar {
    /// The calendar's data.
    ///
    /// # Errors
    /// [`ets_time::TimeError`] if the embedded file were broken (ets-time's tests keep it whole).
    pub fn load(self) -> Result<HolidayCalendar, ets_time::TimeError> {
        match self {
            DeadlineCalendar::China => HolidayCalendar::china(),
            DeadlineCalendar::EuEex => HolidayCalendar::eu_eex(),
        }
    }
}

/// The words of `on_holiday`.
const DAY_OFF_RULES: [(&str, DayOffRule); 3] = [
    ("as_stated", DayOffRule::AsStated),
    ("next_business_day", DayOffRule::NextBusinessDay),
    ("previous_business_day", DayOffRule::PreviousBusinessDay),
];

/// The China 2021 Measures: a fine band plus deduction of the shortfall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct China2021Penalty {
    /// Lowest fine, in major units (yuan).
    pub fine_min_major_units: Decimal,
    /// Highest fine, in major units (yuan).
    pub fine_max_major_units: Decimal,
    /// Whether an uncorrected shortfall is deducted from next year's allocation.
    pub deduct_shortfall_next_year: bool,
}

/// The China 2024 Interim Regulations: a multiple of the average price in the
/// month before the deadline times the shortfall, plus deduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct China2024Penalty {
    /// Lowest multiple (5).
    pub price_multiple_min: Decimal,
    /// Highest multiple (10).
    pub price_multiple_max: Decimal,
    /// Whether the shortfall is deducted from next year's allocation.
    pub deduct_shortfall_next_year: bool,
}

/// The EU excess-emissions penalty plus make-good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EuPenalty {
    /// The statutory penalty per tonne before indexation (EUR 100).
    pub base_penalty_per_tonne_major_units: Decimal,
    /// The indexed penalty per tonne that applies (a parameter).
    pub indexed_penalty_per_tonne_major_units: Decimal,
    /// Whether the missing allowances must still be surrendered.
    pub make_good: bool,
}

/// The penalty regime (`[penalty]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PenaltyRegime {
    /// `china_2021`.
    China2021(China2021Penalty),
    /// `china_2024`.
    China2024(China2024Penalty),
    /// `eu`.
    Eu(EuPenalty),
}

/// The EU penalty per tonne from a compliance year on (`[[penalty.indexed]]`): the base
/// indexed to European consumer prices, as published for that year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexedPenalty {
    /// The first compliance year it applies to.
    pub from_year: u16,
    /// Euro per tonne.
    pub per_tonne_major_units: Decimal,
}

/// MRV defaults (`[mrv]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MrvRules {
    /// Default carbon content of coal when not measured, tonnes C per GJ.
    pub default_carbon_content_tonnes_c_per_gj: Decimal,
    /// Default oxidation rate of coal when not measured (a fraction).
    pub default_oxidation_rate: Decimal,
    /// Grid emission factor for purchased electricity, tonnes CO2 per MWh.
    pub grid_emission_factor_tonnes_per_mwh: Decimal,
    /// Whether purchased electricity counts toward emissions.
    pub indirect_emissions_counted: bool,
}

/// A scheme's complete rulebook for one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rulebook {
    /// The file or name it was loaded from.
    pub source_name: String,
    /// `[scheme]`.
    pub scheme: SchemeInfo,
    /// `[allocation]`.
    pub allocation: AllocationRules,
    /// `[obligation]`.
    pub obligation: ObligationRules,
    /// `[offsets]`; `None` when offsets are not usable.
    pub offsets: Option<OffsetRules>,
    /// `[borrowing]`; `None` when borrowing is not allowed.
    pub borrowing: Option<BorrowingRules>,
    /// `[carry_over]`; `None` when carry-over is not capped.
    pub carry_over: Option<CarryOverRules>,
    /// `[surrender]`.
    pub surrender: SurrenderRules,
    /// `[deadlines]`.
    pub deadlines: Deadlines,
    /// `[penalty]`.
    pub penalty: PenaltyRegime,
    /// `[[penalty.indexed]]`: the EU penalty per tonne as indexed from a year on, ascending
    /// (empty: the regime's `indexed_penalty_per_tonne_major_units` for every year).
    pub penalty_indexed: Vec<IndexedPenalty>,
    /// `[mrv]`; `None` when the rulebook carries no MRV defaults.
    pub mrv: Option<MrvRules>,
}

impl Rulebook {
    /// Parses and validates a rulebook from TOML text; `source_name` names it
    /// in errors (usually the file path).
    ///
    /// # Errors
    /// [`RulebookError`] for text that is too large, not TOML, or has a
    /// missing, unknown, mistyped, out-of-range or inconsistent value.
    pub fn from_toml_str(text: &str, source_name: &str) -> Result<Rulebook, RulebookError> {
        if text.len() > MAX_RULEBOOK_BYTES {
            return Err(RulebookError::TooLarge {
                file: source_name.to_owned(),
                bytes: text.len(),
                limit: MAX_RULEBOOK_BYTES,
            });
        }
        let document = DeTable::parse(text).map_err(|error| RulebookError::Syntax {
            file: source_name.to_owned(),
            reason: error.to_string().trim().to_owned(),
        })?;
        let source = Source {
            name: source_name,
            text,
        };
        read_rulebook(TableReader::root(source, document.get_ref()))
    }

    /// Reads, parses and validates the rulebook file at `path`.
    ///
    /// # Errors
    /// [`RulebookError::Unreadable`] when the file cannot be read, otherwise
    /// as [`Rulebook::from_toml_str`].
    pub fn load(path: &Path) -> Result<Rulebook, RulebookError> {
        let name = path.display().to_string();
        let too_large = |bytes: usize| RulebookError::TooLarge {
            file: name.clone(),
            bytes,
            limit: MAX_RULEBOOK_BYTES,
        };
        let unreadable = |error: std::io::Error| RulebookError::Unreadable {
            file: name.clone(),
            reason: error.to_string(),
        };
        let bytes = std::fs::metadata(path).map_err(unreadable)?.len();
        let bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
        if bytes > MAX_RULEBOOK_BYTES {
            return Err(too_large(bytes));
        }
        let text = std::fs::read_to_string(path).map_err(unreadable)?;
        Rulebook::from_toml_str(&text, &name)
    }

    /// The China allocation rules, when this is a China-style rulebook.
    #[must_use]
    pub fn china_allocation(&self) -> Option<&ChinaAllocationRules> {
        match &self.allocation {
            AllocationRules::China(rules) => Some(rules.as_ref()),
            _ => None,
        }
    }

    /// The EU allocation rules, when this is an EU-style rulebook.
    #[must_use]
    pub fn eu_allocation(&self) -> Option<&EuAllocationRules> {
        match &self.allocation {
            AllocationRules::Eu(rules) => Some(rules),
            _ => None,
        }
    }

    /// The industrial sector's allocation rules, when this is a sector rulebook.
    #[must_use]
    pub fn sector_allocation(&self) -> Option<&SectorAllocationRules> {
        match &self.allocation {
            AllocationRules::Sector(rules) => Some(rules),
            _ => None,
        }
    }

    /// The penalty regime for `compliance_year`: under the EU regime, the indexed penalty
    /// per tonne of the latest `[[penalty.indexed]]` entry from that year or before.
    #[must_use]
    pub fn penalty_for(&self, compliance_year: u16) -> PenaltyRegime {
        let mut regime = self.penalty;
        if let PenaltyRegime::Eu(rules) = &mut regime
            && let Some(entry) = self
                .penalty_indexed
                .iter()
                .rev()
                .find(|entry| entry.from_year <= compliance_year)
        {
            rules.indexed_penalty_per_tonne_major_units = entry.per_tonne_major_units;
        }
        regime
    }

    /// The surrender deadlines of `compliance_year`, earliest first.
    #[must_use]
    pub fn surrender_deadlines_for(&self, compliance_year: u16) -> Vec<&SurrenderDeadline> {
        let mut deadlines: Vec<&SurrenderDeadline> = self
            .deadlines
            .surrender
            .iter()
            .filter(|deadline| deadline.compliance_years.contains(&compliance_year))
            .collect();
        deadlines.sort_by_key(|deadline| deadline.date);
        deadlines
    }

    /// Whether allowances of `vintage` may be surrendered under this rulebook.
    #[must_use]
    pub fn is_vintage_eligible(&self, vintage: Vintage) -> bool {
        self.surrender.eligible_vintages.contains(&vintage)
    }
}

fn read_rulebook(mut root: TableReader<'_>) -> Result<Rulebook, RulebookError> {
    let source_name = root.source_name().to_owned();
    let scheme = read_scheme(root.table("scheme")?)?;
    let allocation = read_allocation(root.table("allocation")?)?;
    let obligation = read_obligation(root.table("obligation")?)?;
    let offsets = root
        .optional_table("offsets")?
        .map(read_offsets)
        .transpose()?;
    let borrowing = root
        .optional_table("borrowing")?
        .map(read_borrowing)
        .transpose()?;
    let carry_over = root
        .optional_table("carry_over")?
        .map(read_carry_over)
        .transpose()?;
    let surrender = read_surrender(root.table("surrender")?)?;
    let deadlines = read_deadlines(root.table("deadlines")?, &scheme.compliance_years)?;
    let (penalty, penalty_indexed) = read_penalty(root.table("penalty")?)?;
    let mrv = root.optional_table("mrv")?.map(read_mrv).transpose()?;
    root.finish()?;
    Ok(Rulebook {
        source_name,
        scheme,
        allocation,
        obligation,
        offsets,
        borrowing,
        carry_over,
        surrender,
        deadlines,
        penalty,
        penalty_indexed,
        mrv,
    })
}

fn read_code(table: &mut TableReader<'_>, key: &str) -> Result<Code, RulebookError> {
    let text = table.string(key)?;
    Code::try_new(&text).map_err(|error| table.invalid(key, error.to_string()))
}

fn check_ascending(table: &TableReader<'_>, key: &str, years: &[u16]) -> Result<(), RulebookError> {
    if years.windows(2).all(|pair| pair[0] < pair[1]) {
        Ok(())
    } else {
        Err(table.invalid(
            key,
            "years must be listed in ascending order, each once".to_owned(),
        ))
    }
}

fn read_scheme(mut table: TableReader<'_>) -> Result<SchemeInfo, RulebookError> {
    let id = table.string("id")?;
    let name = table.string("name")?;
    let currency = table.choice(
        "currency",
        &[("CNY", Currency::Cny), ("EUR", Currency::Eur)],
    )?;
    let unit_code = read_code(&mut table, "unit_code")?;
    let compliance_years = table.year_list("compliance_years")?;
    check_ascending(&table, "compliance_years", &compliance_years)?;
    let time_zone = match table.optional_string("time_zone")? {
        Some(name) => name.parse::<TimeZone>().map_err(|_| {
            table.invalid(
                "time_zone",
                format!("{name:?} is not a time zone: use UTC, UTC+08:00 (Beijing) or CET/CEST"),
            )
        })?,
        None => TimeZone::UTC,
    };
    let price_tick_major_units = table.decimal(
        "price_tick",
        Bounds::above(Decimal::ZERO, Decimal::new(1000, 0)),
    )?;
    let minor_units = price_tick_major_units * Decimal::from(currency.minor_units_per_major());
    if !minor_units.fract().is_zero() {
        return Err(table.invalid(
            "price_tick",
            format!(
                "a tick must be a whole number of {} minor units",
                currency.code()
            ),
        ));
    }
    table.finish()?;
    Ok(SchemeInfo {
        id,
        name,
        currency,
        unit_code,
        compliance_years,
        price_tick_major_units,
        time_zone,
    })
}

fn read_allocation(mut table: TableReader<'_>) -> Result<AllocationRules, RulebookError> {
    let china = table.optional_table("china")?;
    let eu = table.optional_table("eu")?;
    let sector = table.optional_table("sector")?;
    let rules = match (china, eu, sector) {
        (Some(china), None, None) => {
            AllocationRules::China(Box::new(read_china_allocation(china)?))
        }
        (None, Some(eu), None) => AllocationRules::Eu(read_eu_allocation(eu)?),
        (None, None, Some(sector)) => AllocationRules::Sector(read_sector_allocation(sector)?),
        (None, None, None) => {
            return Err(RulebookError::MissingKey {
                file: table.source_name().to_owned(),
                key: "allocation.china (or allocation.eu, or allocation.sector)".to_owned(),
            });
        }
        (_, eu, _) => {
            return Err(table.invalid(
                if eu.is_some() { "eu" } else { "sector" },
                "a rulebook has one of [allocation.china], [allocation.eu] or [allocation.sector]"
                    .to_owned(),
            ));
        }
    };
    table.finish()?;
    Ok(rules)
}

fn read_china_allocation(
    mut table: TableReader<'_>,
) -> Result<ChinaAllocationRules, RulebookError> {
    let output_basis = table.choice(
        "output_basis",
        &[
            ("supply", OutputBasis::Supply),
            ("generation", OutputBasis::Generation),
        ],
    )?;
    let benchmarks = read_benchmarks(table.table("benchmarks")?)?;
    let cooling = read_cooling(table.table("cooling")?)?;
    let heat_supply = read_heat_supply(table.table("heat_supply")?)?;
    let load_factor = read_load_factor(table.table("load_factor")?)?;
    let pre_allocation = read_pre_allocation(table.table("pre_allocation")?)?;
    table.finish()?;
    Ok(ChinaAllocationRules {
        output_basis,
        benchmarks,
        cooling,
        heat_supply,
        load_factor,
        pre_allocation,
    })
}

fn read_benchmarks(mut table: TableReader<'_>) -> Result<ChinaBenchmarks, RulebookError> {
    let mut one = |category: UnitCategory| -> Result<Benchmark, RulebookError> {
        let mut entry = table.table(category.key())?;
        let benchmark = Benchmark {
            electricity_tonnes_per_mwh: entry.decimal(
                "electricity_tonnes_per_mwh",
                Bounds::above(Decimal::ZERO, Decimal::new(5, 0)),
            )?,
            heat_tonnes_per_gj: entry.decimal(
                "heat_tonnes_per_gj",
                Bounds::above(Decimal::ZERO, Decimal::ONE),
            )?,
        };
        entry.finish()?;
        Ok(benchmark)
    };
    let benchmarks = ChinaBenchmarks {
        coal_above_300mw: one(UnitCategory::CoalAbove300Mw)?,
        coal_at_most_300mw: one(UnitCategory::CoalAtMost300Mw)?,
        unconventional_coal: one(UnitCategory::UnconventionalCoal)?,
        gas: one(UnitCategory::Gas)?,
    };
    table.finish()?;
    Ok(benchmarks)
}

fn read_cooling(mut table: TableReader<'_>) -> Result<CoolingFactors, RulebookError> {
    let bounds = Bounds::above(Decimal::ZERO, Decimal::TWO);
    let factors = CoolingFactors {
        coal_water_cooled: table.decimal("coal_water_cooled", bounds)?,
        coal_air_cooled: table.decimal("coal_air_cooled", bounds)?,
        gas: table.decimal("gas", bounds)?,
    };
    table.finish()?;
    Ok(factors)
}

fn read_heat_supply(mut table: TableReader<'_>) -> Result<HeatSupplyFactors, RulebookError> {
    let factors = HeatSupplyFactors {
        coal_coefficient: table.decimal("coal_coefficient", Bounds::fraction())?,
        gas_coefficient: table.decimal("gas_coefficient", Bounds::fraction())?,
    };
    table.finish()?;
    Ok(factors)
}

fn read_load_factor(mut table: TableReader<'_>) -> Result<LoadFactorRule, RulebookError> {
    let slope = Bounds::closed(Decimal::ZERO, Decimal::new(1, 1));
    let multiplier = Bounds::closed(Decimal::ONE, Decimal::TWO);
    let exponent = Bounds::closed(Decimal::ZERO, Decimal::ONE_HUNDRED);
    let rule = LoadFactorRule {
        no_correction_from: table.decimal("no_correction_from", Bounds::share())?,
        band_1_from: table.decimal("band_1_from", Bounds::share())?,
        band_1_slope_per_point: table.decimal("band_1_slope_per_point", slope)?,
        band_2_from: table.decimal("band_2_from", Bounds::share())?,
        band_2_intercept: table.decimal("band_2_intercept", multiplier)?,
        band_2_slope_per_point: table.decimal("band_2_slope_per_point", slope)?,
        low_band_base: table.decimal("low_band_base", multiplier)?,
        low_band_exponent_intercept: table.decimal("low_band_exponent_intercept", exponent)?,
        low_band_exponent_slope: table.decimal("low_band_exponent_slope", exponent)?,
    };
    if !(rule.band_2_from < rule.band_1_from && rule.band_1_from < rule.no_correction_from) {
        return Err(table.invalid(
            "band_1_from",
            "thresholds must satisfy band_2_from < band_1_from < no_correction_from".to_owned(),
        ));
    }
    check_load_factor_continuity(&table, &rule)?;
    table.finish()?;
    Ok(rule)
}

/// The most a correction may jump at a band edge before the loader calls the
/// piecewise rule discontinuous (the exponential is computed, not exact).
fn continuity_tolerance() -> Decimal {
    Decimal::new(1, 6)
}

fn check_load_factor_continuity(
    table: &TableReader<'_>,
    rule: &LoadFactorRule,
) -> Result<(), RulebookError> {
    let hundred = Decimal::ONE_HUNDRED;
    let band_1_at_edge = Decimal::ONE
        + rule.band_1_slope_per_point * hundred * (rule.no_correction_from - rule.band_1_from);
    if (band_1_at_edge - rule.band_2_intercept).abs() > continuity_tolerance() {
        return Err(table.invalid(
            "band_2_intercept",
            format!(
                "the first band ends at {} at band_1_from, so the second must start there",
                band_1_at_edge.normalize()
            ),
        ));
    }
    let band_2_at_edge = rule.band_2_intercept
        + rule.band_2_slope_per_point * hundred * (rule.band_1_from - rule.band_2_from);
    let exponent =
        rule.low_band_exponent_intercept - rule.low_band_exponent_slope * rule.band_2_from;
    let low_band_at_edge = rule.low_band_base.checked_powd(exponent);
    let continuous = low_band_at_edge
        .is_some_and(|value| (value - band_2_at_edge).abs() <= continuity_tolerance());
    if continuous {
        Ok(())
    } else {
        Err(table.invalid(
            "low_band_base",
            format!(
                "the second band ends at {} at band_2_from, so the low band must start there",
                band_2_at_edge.normalize()
            ),
        ))
    }
}

fn read_pre_allocation(mut table: TableReader<'_>) -> Result<PreAllocationRules, RulebookError> {
    let rules = PreAllocationRules {
        share: table.decimal("share", Bounds::share())?,
        base_year: table.optional_year("base_year")?,
        apply_cooling_factor: table.boolean("apply_cooling_factor")?,
        apply_heat_supply_factor: table.boolean("apply_heat_supply_factor")?,
        apply_load_factor: table.boolean("apply_load_factor")?,
    };
    table.finish()?;
    Ok(rules)
}

fn read_year_schedule(table: &mut TableReader<'_>) -> Result<YearSchedule, RulebookError> {
    let schedule = YearSchedule {
        first_year: table.year("first_year")?,
        last_year: table.year("last_year")?,
        first_year_value: table.decimal("first_year_value", Bounds::fraction())?,
        last_year_value: table.decimal("last_year_value", Bounds::fraction())?,
    };
    if schedule.last_year < schedule.first_year {
        return Err(table.invalid("last_year", "must not be before first_year".to_owned()));
    }
    Ok(schedule)
}

fn overlaps(a: &YearSchedule, b: &YearSchedule) -> bool {
    a.first_year <= b.last_year && b.first_year <= a.last_year
}

fn read_eu_allocation(mut table: TableReader<'_>) -> Result<EuAllocationRules, RulebookError> {
    let mut cross_sectoral_correction_factor: Vec<YearSchedule> = Vec::new();
    for mut entry in table.tables("cross_sectoral_correction_factor")? {
        let schedule = read_year_schedule(&mut entry)?;
        if cross_sectoral_correction_factor
            .iter()
            .any(|other| overlaps(other, &schedule))
        {
            return Err(entry.invalid("first_year", "overlaps another CSCF entry".to_owned()));
        }
        entry.finish()?;
        cross_sectoral_correction_factor.push(schedule);
    }
    let exposures = [
        ("exposed", CarbonLeakageExposure::Exposed),
        ("not_exposed", CarbonLeakageExposure::NotExposed),
        ("district_heating", CarbonLeakageExposure::DistrictHeating),
    ];
    let mut carbon_leakage_exposure_factor: Vec<ClefSchedule> = Vec::new();
    for mut entry in table.tables("carbon_leakage_exposure_factor")? {
        let exposure = entry.choice("exposure", &exposures)?;
        let schedule = read_year_schedule(&mut entry)?;
        let clash = carbon_leakage_exposure_factor
            .iter()
            .any(|other| other.exposure == exposure && overlaps(&other.schedule, &schedule));
        if clash {
            return Err(entry.invalid(
                "first_year",
                "overlaps another entry of this exposure".to_owned(),
            ));
        }
        entry.finish()?;
        carbon_leakage_exposure_factor.push(ClefSchedule { exposure, schedule });
    }
    table.finish()?;
    Ok(EuAllocationRules {
        cross_sectoral_correction_factor,
        carbon_leakage_exposure_factor,
    })
}

fn read_obligation(mut table: TableReader<'_>) -> Result<ObligationRules, RulebookError> {
    let gas_cap = table.boolean("gas_cap")?;
    let shortfall_cap = match table.optional_table("shortfall_cap")? {
        Some(mut cap_table) => {
            let cap = ShortfallCap {
                share: cap_table.decimal("share", Bounds::share())?,
                base: cap_table.choice(
                    "base",
                    &[
                        ("verified", CapBase::Verified),
                        ("allocation", CapBase::Allocation),
                    ],
                )?,
            };
            cap_table.finish()?;
            Some(cap)
        }
        None => None,
    };
    table.finish()?;
    Ok(ObligationRules {
        gas_cap,
        shortfall_cap,
    })
}

fn read_offsets(mut table: TableReader<'_>) -> Result<OffsetRules, RulebookError> {
    let limit_share = table.decimal("limit_share", Bounds::share())?;
    let base = table.choice(
        "base",
        &[
            ("obligation", OffsetBase::Obligation),
            ("verified", OffsetBase::Verified),
        ],
    )?;
    let mut eligible_standards = Vec::new();
    for text in table.string_list("eligible_standards")? {
        let code = Code::try_new(&text)
            .map_err(|error| table.invalid("eligible_standards", error.to_string()))?;
        eligible_standards.push(code);
    }
    if eligible_standards.is_empty() {
        return Err(table.invalid(
            "eligible_standards",
            "list at least one standard, or leave out [offsets]".to_owned(),
        ));
    }
    table.finish()?;
    Ok(OffsetRules {
        limit_share,
        base,
        eligible_standards,
    })
}

fn read_borrowing(mut table: TableReader<'_>) -> Result<BorrowingRules, RulebookError> {
    let rules = BorrowingRules {
        min_gap_rate: table.decimal("min_gap_rate", Bounds::fraction())?,
        gap_rate_base: table.choice(
            "gap_rate_base",
            &[
                ("verified", CapBase::Verified),
                ("allocation", CapBase::Allocation),
            ],
        )?,
        max_share_of_gap: table.decimal("max_share_of_gap", Bounds::share())?,
        from_vintage: Vintage(table.year("from_vintage")?),
    };
    table.finish()?;
    Ok(rules)
}

/// The largest fixed carry-over allowance accepted, in tonnes.
const MAX_CARRY_OVER_FIXED_TONNES: u64 = 1_000_000_000_000;

fn read_carry_over(mut table: TableReader<'_>) -> Result<CarryOverRules, RulebookError> {
    let rules = CarryOverRules {
        fixed: Quantity::new(table.whole_number("fixed_tonnes", 0, MAX_CARRY_OVER_FIXED_TONNES)?),
        net_sales_multiple: table.decimal(
            "net_sales_multiple",
            Bounds::closed(Decimal::ZERO, Decimal::ONE_HUNDRED),
        )?,
        last_vintage: table.optional_year("last_vintage")?.map(Vintage),
    };
    table.finish()?;
    Ok(rules)
}

fn read_surrender(mut table: TableReader<'_>) -> Result<SurrenderRules, RulebookError> {
    let years = table.year_list("eligible_vintages")?;
    check_ascending(&table, "eligible_vintages", &years)?;
    table.finish()?;
    Ok(SurrenderRules {
        eligible_vintages: years.into_iter().map(Vintage).collect(),
    })
}

fn read_deadlines(
    mut table: TableReader<'_>,
    scheme_years: &[u16],
) -> Result<Deadlines, RulebookError> {
    let pre_allocation = table.optional_date("pre_allocation")?;
    let final_allocation = table.optional_date("final_allocation")?;
    let calendar = table.optional_choice(
        "calendar",
        &[
            ("cn", DeadlineCalendar::China),
            ("eu-eex", DeadlineCalendar::EuEex),
        ],
    )?;
    let holidays = match calendar {
        Some(calendar) => Some(
            calendar
                .load()
                .map_err(|error| table.invalid("calendar", error.to_string()))?,
        ),
        None => None,
    };
    let scheme_rule = table
        .optional_choice("on_holiday", &DAY_OFF_RULES)?
        .unwrap_or(DayOffRule::AsStated);
    let mut surrender = Vec::new();
    for mut entry in table.tables("surrender")? {
        let date = entry.date("date")?;
        let on_holiday = entry
            .optional_choice("on_holiday", &DAY_OFF_RULES)?
            .unwrap_or(scheme_rule);
        let deadline = SurrenderDeadline {
            compliance_years: entry.year_list("compliance_years")?,
            date,
            cumulative_share: entry.decimal("cumulative_share", Bounds::share())?,
            on_holiday,
            due: due_date(&entry, date, on_holiday, holidays.as_ref())?,
        };
        check_deadline_years(&entry, &deadline, scheme_years)?;
        entry.finish()?;
        surrender.push(deadline);
    }
    for &year in scheme_years {
        check_year_schedule(&table, &surrender, year)?;
    }
    if let Some((year, groups)) = crate::period::inconsistent_period(&surrender) {
        return Err(table.invalid_summary(
            "surrender",
            groups,
            format!(
                "compliance year {year} is in two periods: every deadline of a year must name the same compliance_years"
            ),
        ));
    }
    table.finish()?;
    Ok(Deadlines {
        pre_allocation,
        final_allocation,
        surrender,
        calendar,
    })
}

/// The day a deadline of `date` falls on under `rule`, counted in `calendar`
/// (ets-time's day-off rule). A rule other than `as_stated` needs
/// `[deadlines] calendar`, and the calendar must cover the date.
fn due_date(
    entry: &TableReader<'_>,
    date: CalendarDate,
    rule: DayOffRule,
    calendar: Option<&HolidayCalendar>,
) -> Result<CalendarDate, RulebookError> {
    if rule == DayOffRule::AsStated {
        return Ok(date);
    }
    let Some(calendar) = calendar else {
        return Err(entry.invalid(
            "on_holiday",
            "moving a deadline off a holiday needs [deadlines] calendar (\"cn\" or \"eu-eex\")"
                .to_owned(),
        ));
    };
    let moved = CivilDate::try_new(i32::from(date.year), date.month, date.day)
        .and_then(|day| {
            ets_time::Deadline {
                date: day,
                day_off: rule,
            }
            .effective_date(calendar)
        })
        .map_err(|error| entry.invalid("date", error.to_string()))?;
    u16::try_from(moved.year())
        .ok()
        .and_then(|year| CalendarDate::try_new(year, moved.month(), moved.day()))
        .ok_or_else(|| entry.invalid("date", format!("{moved} is outside the rulebook's years")))
}

fn check_deadline_years(
    entry: &TableReader<'_>,
    deadline: &SurrenderDeadline,
    scheme_years: &[u16],
) -> Result<(), RulebookError> {
    check_ascending(entry, "compliance_years", &deadline.compliance_years)?;
    if let Some(year) = deadline
        .compliance_years
        .iter()
        .find(|year| !scheme_years.contains(year))
    {
        return Err(entry.invalid(
            "compliance_years",
            format!("{year} is not one of the scheme's compliance_years"),
        ));
    }
    if deadline
        .compliance_years
        .iter()
        .any(|&year| deadline.date.year <= year)
    {
        return Err(entry.invalid(
            "date",
            "a surrender deadline falls after the compliance years it closes".to_owned(),
        ));
    }
    Ok(())
}

/// Each compliance year's deadlines must rise in date and in share, ending at 1.
fn check_year_schedule(
    table: &TableReader<'_>,
    surrender: &[SurrenderDeadline],
    year: u16,
) -> Result<(), RulebookError> {
    let mut deadlines: Vec<&SurrenderDeadline> = surrender
        .iter()
        .filter(|deadline| deadline.compliance_years.contains(&year))
        .collect();
    deadlines.sort_by_key(|deadline| deadline.date);
    let rising = deadlines.windows(2).all(|pair| {
        pair[0].date < pair[1].date && pair[0].cumulative_share < pair[1].cumulative_share
    });
    let complete = deadlines
        .last()
        .is_some_and(|deadline| deadline.cumulative_share == Decimal::ONE);
    if rising && complete {
        return Ok(());
    }
    let summary: Vec<String> = deadlines
        .iter()
        .map(|deadline| format!("{} {}", deadline.date, deadline.cumulative_share))
        .collect();
    Err(table.invalid_summary(
        "surrender",
        format!("[{}]", summary.join(", ")),
        format!(
            "compliance year {year} needs deadlines with rising dates and shares, the last with cumulative_share 1"
        ),
    ))
}

fn read_penalty(
    mut table: TableReader<'_>,
) -> Result<(PenaltyRegime, Vec<IndexedPenalty>), RulebookError> {
    #[derive(Clone, Copy)]
    enum Kind {
        China2021,
        China2024,
        Eu,
    }
    let kind = table.choice(
        "regime",
        &[
            ("china_2021", Kind::China2021),
            ("china_2024", Kind::China2024),
            ("eu", Kind::Eu),
        ],
    )?;
    let money = Bounds::closed(Decimal::ZERO, Decimal::new(1_000_000_000, 0));
    let multiple = Bounds::closed(Decimal::ZERO, Decimal::ONE_HUNDRED);
    let per_tonne = Bounds::above(Decimal::ZERO, Decimal::new(1_000_000, 0));
    let regime = match kind {
        Kind::China2021 => {
            let rules = China2021Penalty {
                fine_min_major_units: table.decimal("fine_min_major_units", money)?,
                fine_max_major_units: table.decimal("fine_max_major_units", money)?,
                deduct_shortfall_next_year: table.boolean("deduct_shortfall_next_year")?,
            };
            if rules.fine_max_major_units < rules.fine_min_major_units {
                return Err(table.invalid(
                    "fine_max_major_units",
                    "below fine_min_major_units".to_owned(),
                ));
            }
            PenaltyRegime::China2021(rules)
        }
        Kind::China2024 => {
            let rules = China2024Penalty {
                price_multiple_min: table.decimal("price_multiple_min", multiple)?,
                price_multiple_max: table.decimal("price_multiple_max", multiple)?,
                deduct_shortfall_next_year: table.boolean("deduct_shortfall_next_year")?,
            };
            if rules.price_multiple_max < rules.price_multiple_min {
                return Err(
                    table.invalid("price_multiple_max", "below price_multiple_min".to_owned())
                );
            }
            PenaltyRegime::China2024(rules)
        }
        Kind::Eu => PenaltyRegime::Eu(EuPenalty {
            base_penalty_per_tonne_major_units: table
                .decimal("base_penalty_per_tonne_major_units", per_tonne)?,
            indexed_penalty_per_tonne_major_units: table
                .decimal("indexed_penalty_per_tonne_major_units", per_tonne)?,
            make_good: table.boolean("make_good")?,
        }),
    };
    let mut indexed = Vec::new();
    for mut entry in table.optional_tables("indexed")? {
        indexed.push(IndexedPenalty {
            from_year: entry.year("from_year")?,
            per_tonne_major_units: entry.decimal("per_tonne_major_units", per_tonne)?,
        });
        entry.finish()?;
    }
    let years: Vec<u16> = indexed.iter().map(|entry| entry.from_year).collect();
    check_ascending(&table, "indexed", &years)?;
    if !indexed.is_empty() && !matches!(regime, PenaltyRegime::Eu(_)) {
        return Err(table.invalid(
            "indexed",
            "an indexed penalty schedule belongs to the eu regime".to_owned(),
        ));
    }
    table.finish()?;
    Ok((regime, indexed))
}

fn read_mrv(mut table: TableReader<'_>) -> Result<MrvRules, RulebookError> {
    let rules = MrvRules {
        default_carbon_content_tonnes_c_per_gj: table.decimal(
            "default_carbon_content_tonnes_c_per_gj",
            Bounds::above(Decimal::ZERO, Decimal::new(1, 1)),
        )?,
        default_oxidation_rate: table.decimal("default_oxidation_rate", Bounds::share())?,
        grid_emission_factor_tonnes_per_mwh: table.decimal(
            "grid_emission_factor_tonnes_per_mwh",
            Bounds::above(Decimal::ZERO, Decimal::new(5, 0)),
        )?,
        indirect_emissions_counted: table.boolean("indirect_emissions_counted")?,
    };
    table.finish()?;
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{CN_2021, EU_PHASE4, d, edit, load};

    fn refuse(text: &str) -> RulebookError {
        Rulebook::from_toml_str(text, "schemes/test.toml").expect_err("the rulebook is refused")
    }

    #[test]
    fn missing_key_is_refused_naming_file_and_full_key_path() {
        // Goal: deleting one benchmark value fails with the file and the dotted key path.
        let text = edit(CN_2021, "electricity_tonnes_per_mwh = \"0.8218\"", "");
        let error = refuse(&text);
        assert_eq!(error.code(), "rulebook_missing_key");
        let message = error.to_string();
        assert!(message.contains("schemes/test.toml"), "{message}");
        assert!(
            message.contains(
                "allocation.china.benchmarks.coal_above_300mw.electricity_tonnes_per_mwh"
            ),
            "{message}"
        );
    }

    #[test]
    fn out_of_range_value_is_refused_naming_file_key_value_and_line() {
        // Goal: a pre-allocation share of 1.7 fails with file, key path, the value as written and its line.
        let text = edit(CN_2021, "share = \"0.70\"", "share = \"1.7\"");
        let error = refuse(&text);
        assert_eq!(error.code(), "rulebook_value_out_of_range");
        let message = error.to_string();
        assert!(message.contains("schemes/test.toml:"), "{message}");
        assert!(
            message.contains("allocation.china.pre_allocation.share"),
            "{message}"
        );
        assert!(message.contains("\"1.7\""), "{message}");
        let line = CN_2021
            .lines()
            .position(|line| line.starts_with("share = \"0.70\""))
            .expect("share line")
            + 1;
        assert!(message.contains(&format!(":{line}:")), "{message}");
    }

    #[test]
    fn negative_benchmark_is_refused_as_out_of_range() {
        // Goal: a negative benchmark never reaches a formula.
        let text = edit(
            CN_2021,
            "heat_tonnes_per_gj = \"0.0560\"",
            "heat_tonnes_per_gj = -0.056",
        );
        let error = refuse(&text);
        assert_eq!(error.code(), "rulebook_value_out_of_range");
        assert!(
            error
                .to_string()
                .contains("allocation.china.benchmarks.gas.heat_tonnes_per_gj")
        );
        assert!(error.to_string().contains("-0.056"));
    }

    #[test]
    fn unknown_key_is_refused_with_its_path() {
        // Goal: a misspelt key is an error, not silently ignored (deny unknown fields).
        let text = edit(CN_2021, "gas_cap = true", "gas_cap = true\ngas_capp = true");
        let error = refuse(&text);
        assert_eq!(error.code(), "rulebook_unknown_key");
        assert!(error.to_string().contains("obligation.gas_capp"), "{error}");
    }

    #[test]
    fn wrong_type_is_refused_naming_the_value() {
        // Goal: a word where a number belongs is named with what was expected.
        let text = edit(
            CN_2021,
            "limit_share = \"0.05\"",
            "limit_share = \"five percent\"",
        );
        let error = refuse(&text);
        assert_eq!(error.code(), "rulebook_wrong_type");
        assert!(error.to_string().contains("offsets.limit_share"));
        assert!(error.to_string().contains("five percent"));
    }

    #[test]
    fn toml_numbers_and_strings_give_the_same_exact_decimal() {
        // Goal: `0.8218` written as a TOML float is read from its text, exactly like "0.8218".
        let text = edit(
            CN_2021,
            "electricity_tonnes_per_mwh = \"0.8218\"",
            "electricity_tonnes_per_mwh = 0.8218",
        );
        let from_float = load(&text, "float.toml");
        let benchmark = from_float
            .china_allocation()
            .expect("china")
            .benchmarks
            .coal_above_300mw
            .electricity_tonnes_per_mwh;
        assert_eq!(benchmark, d("0.8218"));
        assert_eq!(benchmark.to_string(), "0.8218");
    }

    #[test]
    fn syntax_error_is_refused_naming_the_file() {
        // Goal: broken TOML is reported with the file name.
        let error = refuse("[scheme\nid = 1");
        assert_eq!(error.code(), "rulebook_syntax");
        assert!(error.to_string().starts_with("schemes/test.toml"));
    }

    #[test]
    fn discontinuous_load_factor_rule_is_refused() {
        // Goal: a typo in the piecewise load-factor parameters is caught at load time.
        let text = edit(
            CN_2021,
            "band_2_intercept = \"1.007\"",
            "band_2_intercept = \"1.070\"",
        );
        let error = refuse(&text);
        assert_eq!(error.code(), "rulebook_invalid_value");
        assert!(
            error
                .to_string()
                .contains("allocation.china.load_factor.band_2_intercept")
        );
    }

    #[test]
    fn surrender_deadlines_must_end_with_the_whole_obligation() {
        // Goal: a year whose last deadline asks for less than 100% is refused.
        let text = edit(
            CN_2021,
            "cumulative_share = \"1.00\"",
            "cumulative_share = \"0.99\"",
        );
        let error = refuse(&text);
        assert_eq!(error.code(), "rulebook_invalid_value");
        assert!(error.to_string().contains("deadlines.surrender"), "{error}");
    }

    #[test]
    fn a_year_in_two_periods_is_refused() {
        // Goal: 2021's 95% deadline naming 2021 alone and its 100% deadline naming a
        // different group would make 2021 part of two periods.
        let text = edit(
            CN_2021,
            "compliance_years = [2021]                       # annual management [S8]\ndate = 2023-12-31",
            "compliance_years = [2020, 2021]\ndate = 2023-12-31",
        );
        let text = edit(
            &text,
            "compliance_years = [2021]                       # 2021-22",
            "compliance_years = [2020, 2021]                       # 2021-22",
        );
        let error = refuse(&text);
        assert_eq!(error.code(), "rulebook_invalid_value");
        assert!(error.to_string().contains("two periods"), "{error}");
    }

    #[test]
    fn deadline_for_a_year_outside_the_scheme_is_refused() {
        // Goal: deadlines name only the rulebook's own compliance years.
        let first_deadline = CN_2021.find("[[deadlines.surrender]]").expect("deadlines");
        let (head, tail) = CN_2021.split_at(first_deadline);
        let text = format!("{head}{}", tail.replacen("[2021]", "[2020]", 1));
        let error = refuse(&text);
        assert!(
            error
                .to_string()
                .contains("deadlines.surrender[0].compliance_years"),
            "{error}"
        );
    }

    #[test]
    fn impossible_date_is_refused() {
        // Goal: 2023-02-30 cannot be a deadline (TOML itself refuses it, or the loader does).
        let text = edit(
            CN_2021,
            "pre_allocation = 2023-04-30",
            "pre_allocation = 2023-02-30",
        );
        let error = refuse(&text);
        assert!(error.to_string().contains("test.toml"), "{error}");
    }

    #[test]
    fn rulebook_with_both_or_no_allocation_style_is_refused() {
        // Goal: exactly one of [allocation.china] and [allocation.eu].
        let both = edit(
            CN_2021,
            "[allocation.china]\n",
            "[allocation.eu]\n[allocation.china]\n",
        );
        assert_eq!(refuse(&both).code(), "rulebook_invalid_value");
        let no_style = EU_PHASE4.replace("[allocation.eu]", "[allocation.other]");
        let error = refuse(&no_style);
        assert!(
            error.code() == "rulebook_missing_key" || error.code() == "rulebook_unknown_key",
            "{error}"
        );
    }

    #[test]
    fn china_2024_penalty_and_carry_over_sections_load() {
        // Goal: the regimes and sections no committed file uses still load and validate.
        let penalty_2021 = "regime = \"china_2021\"                           # deadline before the 2024 Regulations (1 May 2024) [S16][S21]\nfine_min_major_units = \"20000\"                  # yuan [S16][S17]\nfine_max_major_units = \"30000\"                  # yuan [S16][S17]\n";
        let penalty_2024 =
            "regime = \"china_2024\"\nprice_multiple_min = \"5\"\nprice_multiple_max = \"10\"\n";
        let text = edit(CN_2021, penalty_2021, penalty_2024);
        let text =
            format!("{text}\n[carry_over]\nfixed_tonnes = 10000\nnet_sales_multiple = \"1.5\"\n");
        let rulebook = load(&text, "2024.toml");
        assert_eq!(
            rulebook.penalty,
            PenaltyRegime::China2024(China2024Penalty {
                price_multiple_min: d("5"),
                price_multiple_max: d("10"),
                deduct_shortfall_next_year: true,
            })
        );
        let carry_over = rulebook.carry_over.expect("carry-over");
        assert_eq!(carry_over.fixed, Quantity::new(10_000));
        assert_eq!(carry_over.net_sales_multiple, d("1.5"));

        let reversed = edit(
            &text,
            "price_multiple_max = \"10\"",
            "price_multiple_max = \"4\"",
        );
        assert!(
            refuse(&reversed)
                .to_string()
                .contains("penalty.price_multiple_max")
        );
    }

    #[test]
    fn unreadable_file_is_reported_with_its_path() {
        // Goal: the only I/O of the crate fails with a typed error naming the path.
        let error =
            Rulebook::load(Path::new("/nonexistent/openets/rulebook.toml")).expect_err("no file");
        assert_eq!(error.code(), "rulebook_unreadable");
        assert!(
            error
                .to_string()
                .contains("/nonexistent/openets/rulebook.toml")
        );
    }

    #[test]
    fn oversized_text_is_refused_before_parsing() {
        // Goal: the loader has a limit, like everything else.
        let text = " ".repeat(MAX_RULEBOOK_BYTES + 1);
        assert_eq!(refuse(&text).code(), "rulebook_too_large");
    }

    #[test]
    fn the_eu_penalty_is_the_indexed_figure_of_the_year() {
        // Goal: [[penalty.indexed]] sets the penalty per tonne from its year on.
        let rulebook = load(EU_PHASE4, "eu.toml");
        let per_tonne = |year| match rulebook.penalty_for(year) {
            PenaltyRegime::Eu(rules) => rules.indexed_penalty_per_tonne_major_units,
            _ => panic!("EU regime expected"),
        };
        assert_eq!(per_tonne(2021), d("107"));
        assert_eq!(per_tonne(2022), d("107"));
        assert_eq!(per_tonne(2023), d("111"));
        assert_eq!(per_tonne(2030), d("111"));
        assert_eq!(per_tonne(2020), d("100"));
    }

    #[test]
    fn year_schedule_interpolates_linearly_and_exactly() {
        // Goal: the EU CLEF of non-exposed sectors goes 0.30 -> 0 from 2026 to 2030 in equal steps.
        let rulebook = load(EU_PHASE4, "eu.toml");
        let rules = rulebook.eu_allocation().expect("eu");
        let clef = |year| rules.clef_for(CarbonLeakageExposure::NotExposed, year);
        assert_eq!(clef(2026), Some(d("0.30")));
        assert_eq!(clef(2027), Some(d("0.225")));
        assert_eq!(clef(2028), Some(d("0.15")));
        assert_eq!(clef(2030), Some(d("0")));
        assert_eq!(clef(2025), None);
        assert_eq!(rules.cscf_for(2023), Some(d("1.00")));
        assert_eq!(rules.cscf_for(2026), Some(d("1.00")));
        assert_eq!(rules.cscf_for(2031), None);
    }
}
