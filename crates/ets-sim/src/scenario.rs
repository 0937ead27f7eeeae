//! Scenario files (TOML under `scenarios/`) and the seeded generator of covered
//! entities, their units, outputs and fuel use. Floats are fine here: the
//! generator only decides what the simulated firms *say*; every figure that
//! enters the engine is written as exact decimal text.

use anyhow::{Context as _, Result, bail};
use ets_engine::compliance::UnitCategory;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// 44/12: tonnes of CO2 per tonne of carbon.
pub const CO2_PER_C: f64 = 44.0 / 12.0;
/// Hours in a (non-leap) year.
pub const HOURS_PER_YEAR: f64 = 8_760.0;

/// A scenario: what to generate and how the simulated firms behave.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Identity, size, seed and rulebook.
    pub scenario: Header,
    /// Unit mix.
    pub units: Units,
    /// Load (capacity) factors.
    pub load: Load,
    /// Fuel properties for the MRV formula.
    pub mrv: Mrv,
    /// Behaviour of the firms (under-reporting, falling short).
    pub behaviour: Behaviour,
    /// The market (trades planned by the simulation, executed on the exchange).
    pub market: Market,
    /// Flexibilities of the year: borrowing, CCER offsets, banked allowances.
    #[serde(default)]
    pub flexibility: Flexibility,
    /// Published figures to compare with.
    pub published: Published,
    /// Abatement-cost agents (absent: no abatement).
    #[serde(default)]
    pub abatement: Abatement,
    /// How the simulated firms trade (absent: the defaults of [`Trading`]).
    #[serde(default)]
    pub trading: Trading,
    /// The market design (absent: China's 2021 rules).
    #[serde(default)]
    pub design: Design,
    /// The 2027-2030 roadmap (absent: one year of the design above); see
    /// [`crate::roadmap`].
    #[serde(default)]
    pub roadmap: Option<crate::roadmap::Roadmap>,
    /// Industrial sectors trading beside the power sector (absent: power only).
    #[serde(default)]
    pub sectors: Vec<crate::sector::firms::SectorSpec>,
}

/// The `[scenario]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// A name for reports.
    pub name: String,
    /// The PRNG seed.
    pub seed: u64,
    /// Number of covered entities.
    pub entities: u32,
    /// The rulebook file, relative to the scenario file.
    pub rulebook: PathBuf,
    /// The scheme id in the rulebook.
    pub scheme: String,
    /// The compliance year simulated.
    pub year: u16,
}

/// The `[units]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Units {
    /// Weights of 1..=6 units per entity.
    pub per_entity_weights: Vec<f64>,
    /// Share of units that are gas-fired.
    pub gas_share: f64,
    /// Share of coal units that are combined heat and power.
    pub chp_share_of_coal: f64,
    /// Heat-supply ratio range of CHP units.
    pub heat_supply_ratio: [f64; 2],
    /// Auxiliary electricity use range (generation minus supply, as a share).
    pub auxiliary_use: [f64; 2],
    /// Share of coal units that are air-cooled.
    pub air_cooled_share: f64,
    /// Efficiency of heat supply from the boiler.
    pub boiler_efficiency: f64,
    /// Coal technology classes.
    pub coal: Vec<CoalClass>,
    /// Gas unit classes.
    pub gas: Vec<GasClass>,
}

/// A coal technology class.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoalClass {
    /// Name (`usc_1000`).
    pub name: String,
    /// Benchmark category: `coal_above_300mw`, `coal_at_most_300mw`, `unconventional_coal`.
    pub category: String,
    /// Unit capacity, MW.
    pub capacity_mw: u32,
    /// Relative weight among coal units (by count).
    pub weight: f64,
    /// Net generating efficiency range.
    pub efficiency: [f64; 2],
    /// Ultra-supercritical technology.
    #[serde(default)]
    pub ultra_supercritical: bool,
}

/// A gas unit class.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GasClass {
    /// Name.
    pub name: String,
    /// Capacity, MW.
    pub capacity_mw: u32,
    /// Relative weight among gas units.
    pub weight: f64,
    /// Emission intensity range, t/MWh generated.
    pub intensity: [f64; 2],
}

/// The `[load]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Load {
    /// Mean coal capacity factor.
    pub coal_mean: f64,
    /// Its standard deviation.
    pub coal_sd: f64,
    /// Mean gas capacity factor.
    pub gas_mean: f64,
    /// Its standard deviation.
    pub gas_sd: f64,
    /// Clamp range of any capacity factor.
    pub clamp: [f64; 2],
    /// Base-year output relative to the compliance year (range of the change).
    pub base_year_change: [f64; 2],
}

/// The `[mrv]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mrv {
    /// Coal net calorific value range, GJ/t.
    pub coal_ncv: [f64; 2],
    /// Measured coal carbon content range, tC/GJ.
    pub coal_carbon_content: [f64; 2],
    /// Oxidation rate (coal and gas).
    pub oxidation_rate: f64,
    /// Gas NCV, GJ per 10^4 Nm3.
    pub gas_ncv: f64,
    /// Gas carbon content, tC/GJ.
    pub gas_carbon_content: f64,
    /// Peer range of measured carbon content set by the authority.
    pub plausible_carbon_content: [f64; 2],
    /// Peer range of intensity (t/MWh supplied) for coal-only entities.
    pub plausible_intensity: [f64; 2],
}

/// The `[behaviour]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Behaviour {
    /// Share of entities that under-report.
    pub under_reporter_share: f64,
    /// How much they under-report (share of true emissions missing).
    pub under_report: [f64; 2],
    /// Share of entities that fall short at the deadline.
    pub shortfall_share: f64,
    /// Share of their obligation they leave unsurrendered.
    pub shortfall_fraction: [f64; 2],
    /// Share of the other entities that surrender in full but only by the last
    /// deadline, missing an intermediate one (0 when absent).
    #[serde(default)]
    pub late_share: f64,
}

/// The `[market]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Market {
    /// Mean price, yuan/t.
    pub price_mean: f64,
    /// Log-normal dispersion of trade prices.
    pub price_sigma: f64,
    /// Share of trades in the last two months before the deadline.
    pub late_share: f64,
    /// Trade size range, t (log-uniform).
    pub lot: [f64; 2],
}

/// The `[flexibility]` table: what closes the gap between allocation and emissions
/// besides trading. Absent, every flexibility is off.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flexibility {
    /// Short firms above the rulebook's gap-rate threshold borrow from the later vintage.
    #[serde(default)]
    pub borrowing: bool,
    /// CCER supply issued to one offset seller, as a share of true emissions.
    #[serde(default)]
    pub ccer_supply_share: f64,
    /// Banked vintage-2020 allowances per entity at the start, as a share of its true
    /// emissions, drawn uniformly from this range.
    #[serde(default)]
    pub banked_2020: [f64; 2],
}

/// The `[abatement]` table: each firm's marginal abatement cost (MAC) curve and the
/// price it expects. Absent (no `mac` points), firms do not abate.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Abatement {
    /// MAC curve points `[share of business-as-usual emissions, yuan/t]`, cumulative and
    /// increasing, linear between points and from `(0, 0)`; no abatement beyond the last.
    #[serde(default)]
    pub mac: Vec<[f64; 2]>,
    /// Log-normal dispersion of a firm's cost multiplier (1 = the curve as written).
    #[serde(default)]
    pub cost_dispersion: f64,
    /// Mean price the firms expect when they decide, yuan/t (0: the market's `price_mean`).
    #[serde(default)]
    pub expected_price: f64,
    /// Log-normal dispersion of the firms' expected prices.
    #[serde(default)]
    pub expectation_sigma: f64,
    /// Output response (assumption): the elasticity of a unit's output to its net carbon
    /// cost per MWh relative to `power_price_yuan_per_mwh`; its load factor is multiplied
    /// by `(1 + cost / power price)^-elasticity` (0 = output fixed, the default).
    #[serde(default)]
    pub output_elasticity: f64,
    /// The wholesale power price the output response measures the carbon cost against,
    /// yuan/MWh (assumption; used only when `output_elasticity` > 0).
    #[serde(default)]
    pub power_price_yuan_per_mwh: f64,
}

/// The `[trading]` table: the firms' trading behaviour (docs/simulation.md, "agents").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Trading {
    /// Share of long firms that keep their whole surplus (bank it) instead of selling.
    pub hold_share: f64,
    /// Share of its surplus a selling firm offers, drawn uniformly from this range.
    pub sell_fraction: [f64; 2],
    /// Share of short firms that start buying early (Sep-Oct), as a hedge.
    pub early_buyer_share: f64,
    /// Extra allowances a hedger buys beyond its need, as a share of its emissions.
    pub hedge_buffer: [f64; 2],
    /// Probability that a firm that has started trading acts on a given trading day.
    pub activity: f64,
    /// Multiplies `activity` before November (trading is thin early in the window).
    pub early_activity: f64,
    /// Size of one listed order, t (log-uniform, below the 100,000 t block minimum).
    pub listed_lot: [f64; 2],
    /// A buyer's limit: its reservation price times (1 - `bid_discount` + the urgency,
    /// which grows linearly to `urgency` at the deadline).
    pub bid_discount: f64,
    /// See `bid_discount`.
    pub urgency: f64,
    /// A seller's ask: its reservation price times (1 + `ask_premium`), falling linearly
    /// to (1 - `ask_premium` / 2) at the deadline.
    pub ask_premium: f64,
    /// The day the national market opened (`YYYY-MM-DD`): no trading window opens
    /// before it. China's listing day, 16 Jul 2021 (docs/sources.md#cn-legal-framework).
    pub market_opens: String,
    /// An explicit trading window, first and last day (`["YYYY-MM-DD", "YYYY-MM-DD"]`),
    /// to trade a part of the window that settles the period; it must lie inside that
    /// window. Absent: the whole settling window (docs/simulation.md, "Timeline").
    pub window: Option<[String; 2]>,
    /// Expectations across years (multi-year runs): the rise of the expected price, as a
    /// share, per percentage point by which the next rulebook's sector balance (allocation
    /// less obligation, share of obligation, foreseen on the firms' own output) is tighter
    /// than this window's (0 = adaptive only, the default).
    pub tightening_premium: f64,
    /// Banking: the mean cost of carrying a tonne to the next window, a share of its price
    /// (each long firm draws its own from 0 to twice this); a long firm banks its surplus
    /// when the price it expects later beats today's by more than its cost of carry
    /// (0 with no expected rise: nobody banks for it).
    pub carry_cost: f64,
    /// Precaution (multi-year runs): when the next rulebook lets nobody borrow against a
    /// later allocation, a tonne held is also insurance against a bad next year, so each
    /// long firm banks as if it expected the price to rise by this share more (0 = none,
    /// the default).
    pub precaution_premium: f64,
}

impl Default for Trading {
    fn default() -> Trading {
        Trading {
            hold_share: 0.5,
            sell_fraction: [0.3, 1.0],
            early_buyer_share: 0.15,
            hedge_buffer: [0.0, 0.02],
            activity: 0.5,
            early_activity: 0.4,
            listed_lot: [2_000.0, 99_999.0],
            bid_discount: 0.05,
            urgency: 0.15,
            ask_premium: 0.06,
            market_opens: "2021-07-16".to_owned(),
            window: None,
            tightening_premium: 0.0,
            carry_cost: 0.0,
            precaution_premium: 0.0,
        }
    }
}

/// Who may trade (`[design] participation`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Participation {
    /// Covered entities only (China 2021).
    #[default]
    ComplianceOnly,
    /// Covered entities plus institutions that quote both sides and speculate.
    Open,
}

/// How the secondary market trades (`[design] trading`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TradingDesign {
    /// China's listed agreement (< 100,000 t) and block agreement (>= 100,000 t).
    #[default]
    ListedAndBlock,
    /// One continuous limit order book per class.
    Continuous,
}

/// How the total allocation is set (`[design] cap`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CapDesign {
    /// Output times benchmark (China 2021): the total follows output.
    #[default]
    Intensity,
    /// A fixed total (`absolute_cap_mt`): benchmark allocations scaled pro rata to it.
    Absolute,
}

/// The `[design]` table: the policy lab's design options (defaults: China's 2021 rules).
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Design {
    /// Who may trade.
    pub participation: Participation,
    /// How the secondary market trades.
    pub trading: TradingDesign,
    /// Intensity-based or absolute cap.
    pub cap: CapDesign,
    /// The absolute cap, Mt (free plus auctioned), used when `cap = "absolute"`.
    pub absolute_cap_mt: f64,
    /// Share of the allocation sold at primary auctions instead of given free (0..=1).
    pub auction_share: f64,
    /// Auctions held over the trading window (spread evenly).
    pub auctions: u32,
    /// A price floor, yuan/t (0 = none): the auction reserve price, a standing bid of the
    /// authority at the floor every trading day, and no simulated quote below it.
    pub price_floor_yuan: f64,
    /// Institutions that join with open participation.
    pub institutions: u32,
    /// Cash each institution brings, yuan.
    pub institution_budget_yuan: f64,
    /// The allowance reserve and its trigger (`[design.reserve]`; absent: none).
    pub reserve: crate::reserve::ReserveDesign,
}

impl Participation {
    /// The option as an analyst reads it.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Participation::ComplianceOnly => "covered firms only",
            Participation::Open => "open to financial institutions",
        }
    }
}

impl TradingDesign {
    /// The option as an analyst reads it.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            TradingDesign::ListedAndBlock => "listed and block agreements",
            TradingDesign::Continuous => "one continuous order book",
        }
    }
}

impl CapDesign {
    /// The option as an analyst reads it.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            CapDesign::Intensity => "intensity-based (output x benchmark)",
            CapDesign::Absolute => "absolute cap",
        }
    }
}

impl Design {
    /// One sentence naming every option of the design, in words.
    #[must_use]
    pub fn sentence(&self) -> String {
        let cap = match self.cap {
            CapDesign::Absolute => {
                format!("{} of {:.1} Mt", self.cap.label(), self.absolute_cap_mt)
            }
            CapDesign::Intensity => self.cap.label().to_owned(),
        };
        let floor = if self.price_floor_yuan > 0.0 {
            format!("{:.2} yuan/t", self.price_floor_yuan)
        } else {
            "none".to_owned()
        };
        format!(
            "Trading {}; market {}; cap {cap}; {:.0}% of the allocation auctioned; price floor {floor}; {}.",
            self.participation.label(),
            self.trading.label(),
            self.auction_share * 100.0,
            self.reserve.sentence(),
        )
    }
}

impl Default for Design {
    fn default() -> Design {
        Design {
            participation: Participation::ComplianceOnly,
            trading: TradingDesign::ListedAndBlock,
            cap: CapDesign::Intensity,
            absolute_cap_mt: 0.0,
            auction_share: 0.0,
            auctions: 4,
            price_floor_yuan: 0.0,
            institutions: 20,
            institution_budget_yuan: 200_000_000.0,
            reserve: crate::reserve::ReserveDesign::default(),
        }
    }
}

/// The `[published]` table: observed figures of the period the scenario simulates,
/// for the report (docs/simulation.md, "Simulated beside published"). Market figures
/// are those of the trading that settled the period; compliance figures are on the
/// basis the source publishes them (by entity: in full on time, partial; by quantity).
/// A figure the sources do not publish for the period is left out.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Published {
    /// What the market figures are of (period and product), for the report.
    pub market_period: String,
    /// Covered entities of the period.
    pub entities: u32,
    /// Covered emissions, Mt a year.
    pub emissions_mt: f64,
    /// Coal capacity, GW.
    pub coal_capacity_gw: f64,
    /// Share of ultra-supercritical in coal capacity.
    pub usc_share: f64,
    /// Average coal capacity factor.
    pub coal_capacity_factor: f64,
    /// Trading days of the settling window, when published for the same window.
    #[serde(default)]
    pub trading_days: Option<u32>,
    /// Volume traded in the settling window, Mt.
    pub traded_mt: f64,
    /// Average price in the settling window, yuan/t.
    pub average_price: f64,
    /// Entities that surrendered in full on time, when published.
    #[serde(default)]
    pub entities_full_on_time: Option<u32>,
    /// Entities that surrendered part of their obligation, when published.
    #[serde(default)]
    pub entities_partial: Option<u32>,
    /// Surrendered over owed tonnes, when published (China 2019-2020: 99.5%).
    #[serde(default)]
    pub compliance_by_quantity: Option<f64>,
}

impl Published {
    /// `count` as a share of the period's entities.
    #[must_use]
    pub fn entity_share(&self, count: Option<u32>) -> Option<f64> {
        count
            .filter(|_| self.entities > 0)
            .map(|count| f64::from(count) / f64::from(self.entities))
    }
}

/// Why a scenario (or a variant over it) was refused, naming the file, the key and
/// the value, before anything runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    /// The file cannot be read.
    #[error("{file}: cannot be read: {reason}")]
    Unreadable {
        /// The file.
        file: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// The TOML is malformed, or a key is unknown, missing or of the wrong type.
    #[error("{file}: {}", malformed(key, value.as_deref(), reason))]
    Malformed {
        /// The file.
        file: PathBuf,
        /// The key (`market.price_sigma`; empty for a syntax error).
        key: String,
        /// The value there, if any.
        value: Option<String>,
        /// What is wrong.
        reason: String,
    },
    /// A value is out of range or inconsistent (shares that do not sum to 1, an
    /// unknown scheme).
    #[error("{file}: {key} = {value}: {reason}")]
    Invalid {
        /// The file.
        file: PathBuf,
        /// The key (`units.coal[2].capacity_mw`).
        key: String,
        /// The value found.
        value: String,
        /// What is wrong.
        reason: String,
    },
}

fn malformed(key: &str, value: Option<&str>, reason: &str) -> String {
    match (key, value) {
        ("", _) => reason.to_owned(),
        (key, Some(value)) => format!("{key} = {value}: {reason}"),
        (key, None) => format!("{key}: {reason}"),
    }
}

impl ScenarioError {
    /// A stable snake_case code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            ScenarioError::Unreadable { .. } => "scenario_unreadable",
            ScenarioError::Malformed { .. } => "scenario_malformed",
            ScenarioError::Invalid { .. } => "scenario_invalid",
        }
    }

    /// The key named, if any.
    #[must_use]
    pub fn key(&self) -> &str {
        match self {
            ScenarioError::Unreadable { .. } => "",
            ScenarioError::Malformed { key, .. } | ScenarioError::Invalid { key, .. } => key,
        }
    }
}

/// A value out of range: the key, the value as text, what is wrong.
#[derive(Debug)]
pub(crate) struct Bad(pub String, pub String, pub String);

pub(crate) type Check = std::result::Result<(), Bad>;

pub(crate) fn share(key: &str, value: f64) -> Check {
    within(key, value, 0.0, 1.0)
}

pub(crate) fn within(key: &str, value: f64, low: f64, high: f64) -> Check {
    if (low..=high).contains(&value) {
        Ok(())
    } else {
        Err(Bad(
            key.into(),
            value.to_string(),
            format!("must be between {low} and {high}"),
        ))
    }
}

pub(crate) fn positive(key: &str, value: f64) -> Check {
    if value > 0.0 && value.is_finite() {
        Ok(())
    } else {
        Err(Bad(key.into(), value.to_string(), "must be above 0".into()))
    }
}

/// A `[low, high]` range inside `[min, max]` with low <= high.
fn span(key: &str, [low, high]: [f64; 2], min: f64, max: f64) -> Check {
    let text = format!("[{low}, {high}]");
    if !(min..=max).contains(&low) || !(min..=max).contains(&high) {
        return Err(Bad(
            key.into(),
            text,
            format!("must lie within [{min}, {max}]"),
        ));
    }
    if low > high {
        return Err(Bad(
            key.into(),
            text,
            "the first value is above the second".into(),
        ));
    }
    Ok(())
}

/// Weights that are shares of a whole: none negative, summing to 1.
fn weights_sum_to_one(key: &str, weights: &[f64]) -> Check {
    let text = format!("{weights:?}");
    if weights.iter().any(|w| w.is_nan() || *w < 0.0) {
        return Err(Bad(key.into(), text, "a weight is negative".into()));
    }
    let sum: f64 = weights.iter().sum();
    if (sum - 1.0).abs() > 1e-3 {
        return Err(Bad(
            key.into(),
            text,
            format!("the shares sum to {sum}, not 1"),
        ));
    }
    Ok(())
}

/// The `[scheme]` id and compliance years a rulebook file declares.
fn rulebook_scheme(path: &Path) -> std::result::Result<(String, Vec<i64>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot be read: {e}"))?;
    let value: toml::Value = toml::from_str(&text).map_err(|e| format!("is not TOML: {e}"))?;
    let scheme = value.get("scheme").ok_or("has no [scheme] table")?;
    let id = scheme
        .get("id")
        .and_then(toml::Value::as_str)
        .ok_or("has no [scheme] id")?;
    let years = scheme
        .get("compliance_years")
        .and_then(toml::Value::as_array)
        .map(|a| a.iter().filter_map(toml::Value::as_integer).collect())
        .unwrap_or_default();
    Ok((id.to_owned(), years))
}

/// The value at a dotted key path (`units.coal[2].weight`) of a TOML document.
#[must_use]
pub fn value_at<'a>(root: &'a toml::Value, key: &str) -> Option<&'a toml::Value> {
    let mut at = root;
    for part in key.split('.').filter(|p| !p.is_empty()) {
        let (name, indices) = part.split_once('[').map_or((part, ""), |(n, i)| (n, i));
        if !name.is_empty() {
            at = at.get(name)?;
        }
        for index in indices.split('[') {
            let index = index.trim_end_matches(']');
            if !index.is_empty() {
                at = at.get(index.parse::<usize>().ok()?)?;
            }
        }
    }
    Some(at)
}

impl Scenario {
    /// Reads a scenario file; the rulebook path becomes relative to its folder.
    ///
    /// # Errors
    /// [`ScenarioError`] (naming the file, key and value) when the file cannot be
    /// read or parsed, or fails validation.
    pub fn load(path: &Path) -> Result<Scenario> {
        let value = read_toml(path)?;
        Ok(Scenario::from_value(value, path, None)?)
    }

    /// Parses scenario text; `base` is the folder the rulebook path is relative to.
    ///
    /// # Errors
    /// When the TOML is malformed or a value is out of range.
    pub fn parse(text: &str, base: &Path) -> Result<Scenario> {
        let label = base.join("<scenario text>");
        let value: toml::Value = toml::from_str(text).map_err(|e| syntax(&label, &e))?;
        Ok(Scenario::from_value(value, &label, None)?)
    }

    /// Deserialises and validates a scenario document (a file, or a file with a
    /// variant merged over it). `file` is the scenario file (its folder anchors the
    /// rulebook path); `variant` is the overlay file and its table, named in an error
    /// about a key it sets.
    ///
    /// # Errors
    /// [`ScenarioError`] naming the file, key and value.
    pub fn from_value(
        value: toml::Value,
        file: &Path,
        variant: Option<(&Path, &toml::Value)>,
    ) -> std::result::Result<Scenario, ScenarioError> {
        let blame = |key: &str| -> PathBuf {
            match variant {
                Some((path, overlay)) if value_at(overlay, key).is_some() || key.is_empty() => {
                    path.to_path_buf()
                }
                _ => file.to_path_buf(),
            }
        };
        let mut scenario: Scenario = match serde_path_to_error::deserialize(value.clone()) {
            Ok(scenario) => scenario,
            Err(error) => {
                let key = error.path().to_string();
                let key = if key == "." { String::new() } else { key };
                let shown = value_at(&value, &key)
                    .filter(|v| !v.is_table())
                    .map(ToString::to_string);
                // An unknown key may come from the variant: blame the file that has it.
                let file = blame(&key);
                return Err(ScenarioError::Malformed {
                    file,
                    key,
                    value: shown,
                    // The TOML deserialiser appends "in `table`": the key is named already.
                    reason: first_line(&error.into_inner().to_string()),
                });
            }
        };
        let base = file.parent().unwrap_or(Path::new("."));
        if scenario.scenario.rulebook.is_relative() {
            scenario.scenario.rulebook = base.join(&scenario.scenario.rulebook);
        }
        for sector in &mut scenario.sectors {
            if sector.rulebook.is_relative() {
                sector.rulebook = base.join(&sector.rulebook);
            }
        }
        scenario
            .validate()
            .map_err(|Bad(key, value, reason)| ScenarioError::Invalid {
                file: blame(&key),
                key,
                value,
                reason,
            })?;
        Ok(scenario)
    }

    /// The same scenario with another entity count (small test runs).
    #[must_use]
    pub fn with_entities(mut self, entities: u32) -> Scenario {
        self.scenario.entities = entities;
        self
    }

    /// The same scenario with another seed.
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Scenario {
        self.scenario.seed = seed;
        self
    }

    fn validate(&self) -> Check {
        self.validate_units()?;
        self.validate_load_and_mrv()?;
        self.validate_behaviour()?;
        self.validate_published()?;
        self.validate_agents()?;
        // Last: they read the rulebook files.
        self.validate_header()?;
        self.validate_sectors()
    }

    /// The `[load]` and `[mrv]` keys: load factors and fuel properties.
    fn validate_load_and_mrv(&self) -> Check {
        let (l, m) = (&self.load, &self.mrv);
        within("load.coal_mean", l.coal_mean, 0.0, 1.0)?;
        within("load.gas_mean", l.gas_mean, 0.0, 1.0)?;
        within("load.coal_sd", l.coal_sd, 0.0, 1.0)?;
        within("load.gas_sd", l.gas_sd, 0.0, 1.0)?;
        span("load.clamp", l.clamp, 0.0, 1.0)?;
        span("load.base_year_change", l.base_year_change, -0.99, 10.0)?;
        span("mrv.coal_ncv", m.coal_ncv, 1.0, 50.0)?;
        span("mrv.coal_carbon_content", m.coal_carbon_content, 0.001, 0.1)?;
        within("mrv.oxidation_rate", m.oxidation_rate, 0.5, 1.0)?;
        positive("mrv.gas_ncv", m.gas_ncv)?;
        within("mrv.gas_carbon_content", m.gas_carbon_content, 0.001, 0.1)?;
        span(
            "mrv.plausible_carbon_content",
            m.plausible_carbon_content,
            0.0,
            1.0,
        )?;
        span("mrv.plausible_intensity", m.plausible_intensity, 0.0, 10.0)?;
        Ok(())
    }

    /// The `[behaviour]`, `[market]` and `[flexibility]` keys.
    fn validate_behaviour(&self) -> Check {
        let b = &self.behaviour;
        share("behaviour.under_reporter_share", b.under_reporter_share)?;
        span("behaviour.under_report", b.under_report, 0.0, 1.0)?;
        share("behaviour.shortfall_share", b.shortfall_share)?;
        share("behaviour.late_share", b.late_share)?;
        span(
            "behaviour.shortfall_fraction",
            b.shortfall_fraction,
            0.0,
            1.0,
        )?;
        let k = &self.market;
        positive("market.price_mean", k.price_mean)?;
        within("market.price_sigma", k.price_sigma, 0.0, 2.0)?;
        share("market.late_share", k.late_share)?;
        span("market.lot", k.lot, 1.0, 1e9)?;
        let f = &self.flexibility;
        share("flexibility.ccer_supply_share", f.ccer_supply_share)?;
        span("flexibility.banked_2020", f.banked_2020, 0.0, 1.0)?;
        Ok(())
    }

    /// The `[published]` figures, and the entity counts they sum.
    fn validate_published(&self) -> Check {
        let p = &self.published;
        within("published.emissions_mt", p.emissions_mt, 0.0, 1e6)?;
        within("published.coal_capacity_gw", p.coal_capacity_gw, 0.0, 1e6)?;
        share("published.usc_share", p.usc_share)?;
        share("published.coal_capacity_factor", p.coal_capacity_factor)?;
        within("published.traded_mt", p.traded_mt, 0.0, 1e6)?;
        within("published.average_price", p.average_price, 0.0, 1e6)?;
        if let Some(rate) = p.compliance_by_quantity {
            share("published.compliance_by_quantity", rate)?;
        }
        let counted = p.entities_full_on_time.unwrap_or(0) + p.entities_partial.unwrap_or(0);
        if counted > p.entities {
            return Err(Bad(
                "published.entities_full_on_time".into(),
                counted.to_string(),
                format!(
                    "with entities_partial more than the {} entities",
                    p.entities
                ),
            ));
        }
        Ok(())
    }

    /// The `[[sectors]]` (against power's last surrender deadline, read from its
    /// rulebook), and the power entities and sector firms together.
    fn validate_sectors(&self) -> Check {
        let power_due = ets_scheme::Rulebook::load(&self.scenario.rulebook)
            .ok()
            .and_then(|rulebook| {
                let deadlines = rulebook.surrender_deadlines_for(self.scenario.year);
                deadlines.last().map(|deadline| deadline.due)
            });
        crate::sector::validate(&self.sectors, self.scenario.year, power_due)
            .map_err(|(key, value, reason)| Bad(key, value, reason))?;
        let sector_firms: u64 = self.sectors.iter().map(|s| u64::from(s.firms)).sum();
        if u64::from(self.scenario.entities) + sector_firms > 100_000 {
            return Err(Bad(
                "sectors".into(),
                sector_firms.to_string(),
                "power entities and sector firms must be 100000 at most".into(),
            ));
        }
        Ok(())
    }

    /// The policy-lab keys: trading behaviour, market design, abatement curve.
    fn validate_agents(&self) -> Check {
        let t = &self.trading;
        share("trading.hold_share", t.hold_share)?;
        share("trading.early_buyer_share", t.early_buyer_share)?;
        share("trading.activity", t.activity)?;
        share("trading.early_activity", t.early_activity)?;
        let day = |key: &str, text: &str| -> Check {
            text.parse::<ets_time::CivilDate>()
                .map(|_| ())
                .map_err(|error| Bad(key.into(), text.to_owned(), error.to_string()))
        };
        day("trading.market_opens", &t.market_opens)?;
        if let Some([first, last]) = &t.window {
            day("trading.window", first)?;
            day("trading.window", last)?;
            if first > last {
                return Err(Bad(
                    "trading.window".into(),
                    format!("[{first:?}, {last:?}]"),
                    "must be [\"YYYY-MM-DD\", \"YYYY-MM-DD\"] in order".into(),
                ));
            }
        }
        let d = &self.design;
        share("design.auction_share", d.auction_share)?;
        if d.cap == CapDesign::Absolute && d.absolute_cap_mt <= 0.0 {
            return Err(Bad(
                "design.absolute_cap_mt".into(),
                d.absolute_cap_mt.to_string(),
                "cap = \"absolute\" needs a positive absolute_cap_mt".into(),
            ));
        }
        d.reserve.validate("design.reserve")?;
        if let Some(roadmap) = &self.roadmap {
            roadmap.validate()?;
        }
        let mac = &self.abatement.mac;
        if !crate::sector::abatement::mac_is_valid(mac) {
            return Err(Bad(
                "abatement.mac".into(),
                format!("{mac:?}"),
                "needs increasing [share 0..1, yuan/t] points".into(),
            ));
        }
        Ok(())
    }

    fn validate_header(&self) -> Check {
        let h = &self.scenario;
        if h.entities == 0 || h.entities > 100_000 {
            return Err(Bad(
                "scenario.entities".into(),
                h.entities.to_string(),
                "must be 1 to 100000".into(),
            ));
        }
        let rulebook = h.rulebook.display().to_string();
        let (id, years) = rulebook_scheme(&h.rulebook)
            .map_err(|reason| Bad("scenario.rulebook".into(), rulebook.clone(), reason))?;
        if id != h.scheme {
            return Err(Bad(
                "scenario.scheme".into(),
                format!("{:?}", h.scheme),
                format!("unknown scheme: the rulebook {rulebook} defines {id:?}"),
            ));
        }
        if !years.contains(&i64::from(h.year)) {
            return Err(Bad(
                "scenario.year".into(),
                h.year.to_string(),
                format!("the rulebook {rulebook} covers the years {years:?}"),
            ));
        }
        // The period's dates: a window outside the one that settles it is refused here,
        // before anything is written.
        let text = rulebook_text(self).map_err(|error| {
            Bad(
                "scenario.rulebook".into(),
                rulebook.clone(),
                error.to_string(),
            )
        })?;
        crate::year::Timeline::of(self, &text).map_err(|error| {
            let (key, value) = match &self.trading.window {
                Some([first, last]) => ("trading.window", format!("[{first:?}, {last:?}]")),
                None => ("scenario.year", h.year.to_string()),
            };
            Bad(key.into(), value, error.to_string())
        })?;
        Ok(())
    }

    fn validate_units(&self) -> Check {
        let u = &self.units;
        if u.per_entity_weights.is_empty() || u.per_entity_weights.len() > 6 {
            return Err(Bad(
                "units.per_entity_weights".into(),
                format!("{:?}", u.per_entity_weights),
                "needs 1 to 6 weights (entities have 1-6 units)".into(),
            ));
        }
        weights_sum_to_one("units.per_entity_weights", &u.per_entity_weights)?;
        share("units.gas_share", u.gas_share)?;
        share("units.chp_share_of_coal", u.chp_share_of_coal)?;
        share("units.air_cooled_share", u.air_cooled_share)?;
        span("units.heat_supply_ratio", u.heat_supply_ratio, 0.0, 0.9)?;
        span("units.auxiliary_use", u.auxiliary_use, 0.0, 0.5)?;
        within("units.boiler_efficiency", u.boiler_efficiency, 0.1, 1.0)?;
        if u.coal.is_empty() {
            return Err(Bad(
                "units.coal".into(),
                "[]".into(),
                "needs at least one class".into(),
            ));
        }
        if u.gas.is_empty() {
            return Err(Bad(
                "units.gas".into(),
                "[]".into(),
                "needs at least one class".into(),
            ));
        }
        for (i, class) in u.coal.iter().enumerate() {
            let key = |field: &str| format!("units.coal[{i}].{field}");
            category_of(&class.category).map_err(|e| {
                Bad(
                    key("category"),
                    format!("{:?}", class.category),
                    e.to_string(),
                )
            })?;
            positive(&key("capacity_mw"), f64::from(class.capacity_mw))?;
            span(&key("efficiency"), class.efficiency, 0.2, 0.6)?;
        }
        for (i, class) in u.gas.iter().enumerate() {
            let key = |field: &str| format!("units.gas[{i}].{field}");
            positive(&key("capacity_mw"), f64::from(class.capacity_mw))?;
            span(&key("intensity"), class.intensity, 0.1, 1.0)?;
        }
        let coal: Vec<f64> = u.coal.iter().map(|c| c.weight).collect();
        weights_sum_to_one("units.coal[].weight", &coal)?;
        let gas: Vec<f64> = u.gas.iter().map(|c| c.weight).collect();
        weights_sum_to_one("units.gas[].weight", &gas)
    }
}

/// Reads and parses a TOML file, naming the file in the error.
///
/// # Errors
/// [`ScenarioError::Unreadable`] or [`ScenarioError::Malformed`].
pub fn read_toml(path: &Path) -> std::result::Result<toml::Value, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::Unreadable {
        file: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    toml::from_str(&text).map_err(|e| syntax(path, &e))
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .trim_end()
        .to_owned()
}

fn syntax(path: &Path, error: &toml::de::Error) -> ScenarioError {
    ScenarioError::Malformed {
        file: path.to_path_buf(),
        key: String::new(),
        value: None,
        reason: error.to_string().trim_end().to_owned(),
    }
}

/// The benchmark category named in a scenario.
///
/// # Errors
/// For an unknown name.
pub fn category_of(name: &str) -> Result<UnitCategory> {
    Ok(match name {
        "coal_above_300mw" => UnitCategory::CoalAbove300Mw,
        "coal_at_most_300mw" => UnitCategory::CoalAtMost300Mw,
        "unconventional_coal" => UnitCategory::UnconventionalCoal,
        "gas" => UnitCategory::Gas,
        other => bail!("unknown unit category {other:?}"),
    })
}

/// A SplitMix64 stream (the step is [`ets_market::splitmix64`], the one home of the
/// generator): small, fast, deterministic on every platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    #[must_use]
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let output = ets_market::splitmix64(self.0);
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        output
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, [lo, hi]: [f64; 2]) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform integer in 0..n (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(f64::MIN_POSITIVE);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// An index drawn by weight.
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut pick = self.unit() * total;
        for (index, weight) in weights.iter().enumerate() {
            if pick < *weight {
                return index;
            }
            pick -= weight;
        }
        weights.len().saturating_sub(1)
    }
}

/// Fuel burnt by a unit, as the firm measures it.
#[derive(Debug, Clone, PartialEq)]
pub struct Fuel {
    /// Gas (10^4 Nm3) or coal (t).
    pub gas: bool,
    /// Amount consumed, whole tonnes or 10^4 Nm3.
    pub consumed: u64,
    /// Net calorific value, GJ per unit consumed (3 decimals).
    pub ncv: f64,
    /// Carbon content, tC/GJ (5 decimals).
    pub carbon_content: f64,
    /// Oxidation rate.
    pub oxidation_rate: f64,
}

impl Fuel {
    /// FC x NCV x CC x OF x 44/12, tonnes.
    #[must_use]
    pub fn emissions(&self) -> f64 {
        self.consumed as f64 * self.ncv * self.carbon_content * self.oxidation_rate * CO2_PER_C
    }
}

/// A generated generating unit.
#[derive(Debug, Clone, PartialEq)]
pub struct SimUnit {
    /// Its code within the entity (`U1`).
    pub code: String,
    /// Benchmark category.
    pub category: UnitCategory,
    /// Technology class name.
    pub class: String,
    /// Ultra-supercritical.
    pub ultra_supercritical: bool,
    /// Capacity, MW.
    pub capacity_mw: u32,
    /// Air-cooled (else water).
    pub air_cooled: bool,
    /// Combined heat and power.
    pub chp: bool,
    /// Compliance-year capacity factor.
    pub load_factor: f64,
    /// Electricity generated, MWh.
    pub generation_mwh: f64,
    /// Electricity supplied (net of auxiliary use), whole MWh.
    pub supply_mwh: u64,
    /// Heat supplied, whole GJ.
    pub heat_gj: u64,
    /// Heat-supply ratio.
    pub heat_supply_ratio: f64,
    /// Base-year electricity supplied, whole MWh.
    pub base_supply_mwh: u64,
    /// Base-year electricity generated, whole MWh (the allocation basis from 2023).
    pub base_generation_mwh: u64,
    /// Base-year heat supplied, whole GJ.
    pub base_heat_gj: u64,
    /// Fuel actually burnt.
    pub fuel: Fuel,
}

impl SimUnit {
    /// True emissions (MRV formula on the true fuel data), tonnes.
    #[must_use]
    pub fn emissions(&self) -> f64 {
        self.fuel.emissions()
    }

    /// Gas-fired.
    #[must_use]
    pub fn is_gas(&self) -> bool {
        self.category == UnitCategory::Gas
    }
}

/// A generated covered entity.
#[derive(Debug, Clone, PartialEq)]
pub struct SimEntity {
    /// Index 0..n.
    pub index: u32,
    /// Units (1-6).
    pub units: Vec<SimUnit>,
    /// Share of emissions it hides in its report (0 = honest).
    pub under_report: f64,
    /// Share of its obligation it leaves unsurrendered (0 = complies).
    pub shortfall: f64,
    /// Banked vintage-2020 allowances it holds at the start, tonnes.
    pub banked_2020: u64,
}

impl SimEntity {
    /// True emissions, tonnes.
    #[must_use]
    pub fn emissions(&self) -> f64 {
        self.units.iter().map(SimUnit::emissions).sum()
    }

    /// Has a gas unit.
    #[must_use]
    pub fn has_gas(&self) -> bool {
        self.units.iter().any(SimUnit::is_gas)
    }
}

/// A generated population.
#[derive(Debug, Clone, PartialEq)]
pub struct Population {
    /// The entities.
    pub entities: Vec<SimEntity>,
}

impl Population {
    /// Number of units.
    #[must_use]
    pub fn units(&self) -> usize {
        self.entities.iter().map(|e| e.units.len()).sum()
    }

    fn all_units(&self) -> impl Iterator<Item = &SimUnit> {
        self.entities.iter().flat_map(|e| e.units.iter())
    }

    /// True emissions, Mt.
    #[must_use]
    pub fn emissions_mt(&self) -> f64 {
        self.entities.iter().map(SimEntity::emissions).sum::<f64>() / 1e6
    }

    /// Coal capacity, GW.
    #[must_use]
    pub fn coal_capacity_gw(&self) -> f64 {
        self.all_units()
            .filter(|u| !u.is_gas())
            .map(|u| f64::from(u.capacity_mw))
            .sum::<f64>()
            / 1e3
    }

    /// Ultra-supercritical share of coal capacity.
    #[must_use]
    pub fn usc_share(&self) -> f64 {
        let usc: f64 = self
            .all_units()
            .filter(|u| u.ultra_supercritical)
            .map(|u| f64::from(u.capacity_mw))
            .sum();
        usc / (self.coal_capacity_gw() * 1e3).max(1.0)
    }

    /// Capacity-weighted coal capacity factor.
    #[must_use]
    pub fn coal_capacity_factor(&self) -> f64 {
        let (mut weighted, mut capacity) = (0.0, 0.0);
        for unit in self.all_units().filter(|u| !u.is_gas()) {
            weighted += unit.load_factor * f64::from(unit.capacity_mw);
            capacity += f64::from(unit.capacity_mw);
        }
        weighted / capacity.max(1.0)
    }

    /// Share of units per category (I, II, III, IV).
    #[must_use]
    pub fn category_shares(&self) -> [f64; 4] {
        let mut counts = [0usize; 4];
        for unit in self.all_units() {
            counts[category_index(unit.category)] += 1;
        }
        let total = self.units().max(1) as f64;
        counts.map(|c| c as f64 / total)
    }
}

/// 0..4 for categories I..IV.
#[must_use]
pub fn category_index(category: UnitCategory) -> usize {
    match category {
        UnitCategory::CoalAbove300Mw => 0,
        UnitCategory::CoalAtMost300Mw => 1,
        UnitCategory::UnconventionalCoal => 2,
        UnitCategory::Gas => 3,
    }
}

fn round_to(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

/// Draws unit `n` of an entity: gas with the scenario's gas share, else coal, its
/// class by the classes' `weights` (coal's, gas's), then its efficiency or intensity, load
/// and the rest (`build_unit`).
fn draw_unit(
    rng: &mut Rng,
    scenario: &Scenario,
    n: usize,
    weights: (&[f64], &[f64]),
) -> Result<SimUnit> {
    let (coal_weights, gas_weights) = weights;
    let u = &scenario.units;
    let gas = rng.chance(u.gas_share);
    Ok(if gas {
        let class = &u.gas[rng.weighted(gas_weights)];
        let intensity = rng.range(class.intensity);
        let load = (scenario.load.gas_mean + scenario.load.gas_sd * rng.normal())
            .clamp(scenario.load.clamp[0], scenario.load.clamp[1]);
        // Fuel energy so that gas MRV reproduces the intended intensity.
        let per_gj = scenario.mrv.gas_carbon_content * scenario.mrv.oxidation_rate * CO2_PER_C;
        build_unit(
            rng,
            scenario,
            n,
            Draft {
                category: UnitCategory::Gas,
                class: class.name.clone(),
                usc: false,
                capacity_mw: class.capacity_mw,
                air_cooled: false,
                chp: false,
                load,
                fuel_gj_per_mwh: intensity / per_gj,
                gas: true,
            },
        )
    } else {
        let class = &u.coal[rng.weighted(coal_weights)];
        let efficiency = rng.range(class.efficiency);
        let load = (scenario.load.coal_mean + scenario.load.coal_sd * rng.normal())
            .clamp(scenario.load.clamp[0], scenario.load.clamp[1]);
        let air_cooled = rng.chance(u.air_cooled_share);
        let chp = rng.chance(u.chp_share_of_coal);
        build_unit(
            rng,
            scenario,
            n,
            Draft {
                category: category_of(&class.category)?,
                class: class.name.clone(),
                usc: class.ultra_supercritical,
                capacity_mw: class.capacity_mw,
                air_cooled,
                chp,
                load,
                fuel_gj_per_mwh: 3.6 / efficiency,
                gas: false,
            },
        )
    })
}

/// Generates the population of a scenario from its seed: same seed, same population.
///
/// # Errors
/// When a coal class names an unknown category.
pub fn generate(scenario: &Scenario) -> Result<Population> {
    let mut rng = Rng::new(scenario.scenario.seed);
    // Banks come from their own stream: switching them on leaves the plants unchanged.
    let mut bank_rng = Rng::new(scenario.scenario.seed ^ 0x2020_B4CC_0000_2020);
    let u = &scenario.units;
    let coal_weights: Vec<f64> = u.coal.iter().map(|c| c.weight).collect();
    let gas_weights: Vec<f64> = u.gas.iter().map(|c| c.weight).collect();
    let mut entities = Vec::with_capacity(scenario.scenario.entities as usize);
    for index in 0..scenario.scenario.entities {
        let count = rng.weighted(&u.per_entity_weights) + 1;
        let mut units = Vec::with_capacity(count);
        for n in 0..count {
            let unit = draw_unit(&mut rng, scenario, n, (&coal_weights, &gas_weights))?;
            units.push(unit);
        }
        let b = &scenario.behaviour;
        let under_report = if rng.chance(b.under_reporter_share) {
            rng.range(b.under_report)
        } else {
            0.0
        };
        let shortfall = if rng.chance(b.shortfall_share) {
            rng.range(b.shortfall_fraction)
        } else {
            0.0
        };
        let banked = scenario.flexibility.banked_2020;
        let banked_2020 = if banked[1] > 0.0 {
            let emissions: f64 = units.iter().map(SimUnit::emissions).sum();
            (emissions * bank_rng.range(banked)).floor() as u64
        } else {
            0
        };
        entities.push(SimEntity {
            index,
            units,
            under_report,
            shortfall,
            banked_2020,
        });
    }
    Ok(Population { entities })
}

struct Draft {
    category: UnitCategory,
    class: String,
    usc: bool,
    capacity_mw: u32,
    air_cooled: bool,
    chp: bool,
    load: f64,
    fuel_gj_per_mwh: f64,
    gas: bool,
}

fn build_unit(rng: &mut Rng, scenario: &Scenario, n: usize, draft: Draft) -> SimUnit {
    let u = &scenario.units;
    let generation_mwh = f64::from(draft.capacity_mw) * draft.load * HOURS_PER_YEAR;
    let auxiliary = rng.range(u.auxiliary_use);
    let supply = generation_mwh * (1.0 - auxiliary);
    let heat_supply_ratio = if draft.chp {
        round_to(rng.range(u.heat_supply_ratio), 4)
    } else {
        0.0
    };
    // Heat as a share of total useful energy: heat / (heat + electricity) = r.
    let heat_gj = generation_mwh * 3.6 * heat_supply_ratio / (1.0 - heat_supply_ratio);
    let fuel_gj = generation_mwh * draft.fuel_gj_per_mwh + heat_gj / u.boiler_efficiency;
    let change = rng.range(scenario.load.base_year_change);
    let fuel = if draft.gas {
        Fuel {
            gas: true,
            consumed: (fuel_gj / scenario.mrv.gas_ncv).round().max(1.0) as u64,
            ncv: scenario.mrv.gas_ncv,
            carbon_content: scenario.mrv.gas_carbon_content,
            oxidation_rate: scenario.mrv.oxidation_rate,
        }
    } else {
        let ncv = round_to(rng.range(scenario.mrv.coal_ncv), 3);
        Fuel {
            gas: false,
            consumed: (fuel_gj / ncv).round().max(1.0) as u64,
            ncv,
            carbon_content: round_to(rng.range(scenario.mrv.coal_carbon_content), 5),
            oxidation_rate: scenario.mrv.oxidation_rate,
        }
    };
    SimUnit {
        code: format!("U{}", n + 1),
        category: draft.category,
        class: draft.class,
        ultra_supercritical: draft.usc,
        capacity_mw: draft.capacity_mw,
        air_cooled: draft.air_cooled,
        chp: draft.chp,
        load_factor: round_to(draft.load, 4),
        generation_mwh,
        supply_mwh: supply.round() as u64,
        heat_gj: heat_gj.round() as u64,
        heat_supply_ratio,
        base_supply_mwh: (supply * (1.0 + change)).round() as u64,
        base_generation_mwh: (generation_mwh * (1.0 + change)).round() as u64,
        base_heat_gj: (heat_gj * (1.0 + change)).round() as u64,
        fuel,
    }
}

/// The scenario's rulebook text.
///
/// # Errors
/// When the file cannot be read.
pub fn rulebook_text(scenario: &Scenario) -> Result<String> {
    let path = &scenario.scenario.rulebook;
    std::fs::read_to_string(path).with_context(|| format!("reading rulebook {}", path.display()))
}
