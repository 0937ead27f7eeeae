//! China's 2027-2030 roadmap as data (`[roadmap]` in a scenario file, see
//! `scenarios/cn-roadmap-2027-2030.toml` and docs/simulation.md, "The 2027-2030
//! roadmap"): an absolute cap per sector with its yearly reduction path, a paid
//! (auctioned) share rising to a set value by the last year, an allowance reserve
//! with its trigger ([`crate::reserve`]), and financial institutions on or off.
//!
//! The roadmap lives in the scenario, not in a rulebook: the "Opinions" of 25 Aug
//! 2025 name the instruments but publish none of their numbers
//! (docs/sources.md#cn-roadmap), so every number is a design option the lab varies,
//! not a rule of the scheme. Each roadmap year becomes one ordinary scenario
//! ([`Roadmap::year_scenario`]) that runs through the engine like any other: the cap
//! and auction share become the design's absolute cap and auction share, the reserve
//! its `[design.reserve]`. A multi-year driver chains these per-year scenarios.

use crate::reserve::ReserveDesign;
use crate::scenario::{Bad, CapDesign, Check, Participation, Scenario, positive, share, within};
use crate::sector::firms::SectorCapDesign;
use serde::{Deserialize, Serialize};

/// Sectors a roadmap may name (China's national ETS from 2024).
pub const SECTORS: [&str; 4] = ["power", "steel", "cement", "aluminium"];
/// Sectors every roadmap run simulates (the power population). The caps of steel,
/// cement and aluminium bind the firms of a scenario's `[[sectors]]` of that sector
/// (the four-sector chain); a power-only scenario carries them unused.
pub const SIMULATED_SECTORS: [&str; 1] = ["power"];

/// The `[roadmap]` table.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Roadmap {
    /// The first year with absolute caps (2027 in the "Opinions").
    pub first_year: u16,
    /// The last year of the path (2030 in the "Opinions").
    pub last_year: u16,
    /// Share of the cap auctioned in the first year.
    pub auction_share_first: f64,
    /// Share of the cap auctioned in the last year (rising linearly to it).
    pub auction_share_last: f64,
    /// Financial institutions trade beside the covered firms ("prudently"; off by
    /// default: no evidence of them trading yet).
    #[serde(default)]
    pub institutions: bool,
    /// The cap of each sector (`[[roadmap.sectors]]`).
    pub sectors: Vec<SectorCap>,
    /// The allowance reserve (`[roadmap.reserve]`; absent: none).
    #[serde(default)]
    pub reserve: ReserveDesign,
}

/// One sector's absolute cap and its reduction path.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SectorCap {
    /// `power`, `steel`, `cement` or `aluminium`.
    pub name: String,
    /// The cap of the first year for the whole sector, Mt.
    pub cap_mt: f64,
    /// The cut each year, as a share of the first year's cap (linear path).
    pub reduction_per_year: f64,
}

/// What the roadmap sets for one year.
#[derive(Debug, Clone, PartialEq)]
pub struct RoadmapYear {
    /// The year.
    pub year: u16,
    /// Each sector's cap, Mt (whole sector).
    pub caps: Vec<(String, f64)>,
    /// The caps of the simulated sectors, summed, Mt (whole sector).
    pub simulated_cap_mt: f64,
    /// Share of the cap auctioned.
    pub auction_share: f64,
}

impl RoadmapYear {
    /// The cap of the sector named `name` this year (whole sector, Mt), if the roadmap
    /// names it.
    #[must_use]
    pub fn cap_of(&self, name: &str) -> Option<f64> {
        self.caps
            .iter()
            .find(|(sector, _)| sector == name)
            .map(|(_, cap)| *cap)
    }
}

impl SectorCap {
    /// The sector's cap in `year`, Mt.
    #[must_use]
    pub fn cap_in(&self, first_year: u16, year: u16) -> f64 {
        let steps = f64::from(year.saturating_sub(first_year));
        self.cap_mt * (1.0 - self.reduction_per_year * steps)
    }
}

impl Roadmap {
    /// The years of the path, first to last.
    pub fn years(&self) -> impl Iterator<Item = u16> {
        self.first_year..=self.last_year
    }

    /// What the roadmap sets for `year`.
    #[must_use]
    pub fn year(&self, year: u16) -> RoadmapYear {
        let caps: Vec<(String, f64)> = self
            .sectors
            .iter()
            .map(|s| (s.name.clone(), s.cap_in(self.first_year, year)))
            .collect();
        let simulated_cap_mt = caps
            .iter()
            .filter(|(name, _)| SIMULATED_SECTORS.contains(&name.as_str()))
            .map(|(_, cap)| cap)
            .sum();
        let span = f64::from(self.last_year - self.first_year).max(1.0);
        let t = f64::from(year.saturating_sub(self.first_year)) / span;
        RoadmapYear {
            year,
            caps,
            simulated_cap_mt,
            auction_share: self.auction_share_first
                + (self.auction_share_last - self.auction_share_first) * t.min(1.0),
        }
    }

    /// The keys' ranges (`roadmap.*`).
    pub(crate) fn validate(&self) -> Check {
        within(
            "roadmap.first_year",
            f64::from(self.first_year),
            2020.0,
            2100.0,
        )?;
        if self.last_year < self.first_year || self.last_year - self.first_year > 30 {
            return Err(Bad(
                "roadmap.last_year".into(),
                self.last_year.to_string(),
                format!(
                    "must be from first_year ({}) to 30 years after it",
                    self.first_year
                ),
            ));
        }
        share("roadmap.auction_share_first", self.auction_share_first)?;
        share("roadmap.auction_share_last", self.auction_share_last)?;
        if self.sectors.is_empty() {
            return Err(Bad(
                "roadmap.sectors".into(),
                "[]".into(),
                "needs at least one [[roadmap.sectors]]".into(),
            ));
        }
        for (i, sector) in self.sectors.iter().enumerate() {
            self.validate_sector(i, sector)?;
        }
        if !self
            .sectors
            .iter()
            .any(|s| SIMULATED_SECTORS.contains(&s.name.as_str()))
        {
            return Err(Bad(
                "roadmap.sectors".into(),
                format!(
                    "{:?}",
                    self.sectors.iter().map(|s| &s.name).collect::<Vec<_>>()
                ),
                format!("must include a simulated sector ({SIMULATED_SECTORS:?})"),
            ));
        }
        self.reserve.validate("roadmap.reserve")
    }

    fn validate_sector(&self, i: usize, sector: &SectorCap) -> Check {
        let key = |name: &str| format!("roadmap.sectors[{i}].{name}");
        if !SECTORS.contains(&sector.name.as_str()) {
            return Err(Bad(
                key("name"),
                format!("{:?}", sector.name),
                format!("unknown sector; one of {SECTORS:?}"),
            ));
        }
        if self.sectors[..i].iter().any(|s| s.name == sector.name) {
            return Err(Bad(
                key("name"),
                format!("{:?}", sector.name),
                "is named twice".into(),
            ));
        }
        positive(&key("cap_mt"), sector.cap_mt)?;
        share(&key("reduction_per_year"), sector.reduction_per_year)?;
        let last = sector.cap_in(self.first_year, self.last_year);
        if last <= 0.0 {
            return Err(Bad(
                key("reduction_per_year"),
                sector.reduction_per_year.to_string(),
                format!("leaves no cap by {} ({last:.1} Mt)", self.last_year),
            ));
        }
        Ok(())
    }

    /// The ordinary one-year scenario of roadmap year `year` over `base`: an absolute
    /// cap of the simulated sectors' caps, the year's auction share, the reserve, and
    /// institutions on or off. A run of N entities stands for N of the
    /// `[published] entities` and gets that share of the cap and the reserve. Each of
    /// `base`'s `[[sectors]]` the roadmap caps gets its cap (times the share of the
    /// sector its firms stand for) and the year's auction share.
    /// The year runs on `base`'s rulebook and timeline (a rulebook for 2027 and later
    /// is not published); the year is named in the scenario's name.
    #[must_use]
    pub fn year_scenario(&self, base: &Scenario, year: u16) -> Scenario {
        let plan = self.year(year);
        let factor = run_share(base);
        let mut scenario = base.clone();
        scenario.roadmap = None;
        scenario.scenario.name = format!("{} {year}", base.scenario.name);
        let design = &mut scenario.design;
        design.cap = CapDesign::Absolute;
        design.absolute_cap_mt = plan.simulated_cap_mt * factor;
        design.auction_share = plan.auction_share;
        design.participation = if self.institutions {
            Participation::Open
        } else {
            Participation::ComplianceOnly
        };
        design.reserve = self.reserve.scaled(factor);
        for sector in &mut scenario.sectors {
            sector.cap = plan.cap_of(&sector.sector).map(|cap_mt| SectorCapDesign {
                cap_tonnes: cap_mt * 1e6 * sector.market_share,
                auction_share: plan.auction_share,
            });
        }
        scenario
    }

    /// A year's title for reports: `2027: cap 4,100 Mt, 4% auctioned`.
    #[must_use]
    pub fn title(&self, year: u16) -> String {
        let plan = self.year(year);
        format!(
            "{year}: power cap {:.0} Mt, {:.0}% auctioned",
            plan.simulated_cap_mt,
            plan.auction_share * 100.0
        )
    }
}

/// The share of the market a run of `base` stands for (its entities over the
/// published count; 1 when none is published).
#[must_use]
pub fn run_share(base: &Scenario) -> f64 {
    let published = base.published.entities;
    if published == 0 {
        1.0
    } else {
        f64::from(base.scenario.entities) / f64::from(published)
    }
}

/// The roadmap years of `scenario` as ordinary scenarios, with their titles; empty
/// when it has no `[roadmap]`.
#[must_use]
pub fn expand(scenario: &Scenario) -> Vec<(u16, String, Scenario)> {
    let Some(roadmap) = &scenario.roadmap else {
        return Vec::new();
    };
    roadmap
        .years()
        .map(|year| {
            (
                year,
                roadmap.title(year),
                roadmap.year_scenario(scenario, year),
            )
        })
        .collect()
}
