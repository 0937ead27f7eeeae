//! China's industrial sectors in the policy lab (steel, cement, aluminium, covered from
//! 2024): a scenario's `[[sectors]]` tables add each sector's synthetic firms
//! ([`firms`]) to the power sector's year. Each sector's period runs through the engine
//! under its own rulebook ([`period`]): set up after the power allocation, its firms
//! trade the same CEA of the year on the same exchange as the power companies, and its
//! year closes with the power sector's. [`period::set_up_period`] is the call that sets
//! up one sector's firms and allocation for one period, for a driver that chains them.

pub mod abatement;
mod cap;
pub mod firms;
pub mod period;
pub mod summary;

use crate::agents::Firm;
use crate::scenario::Scenario;
use crate::year::{Driver, Sink};
use anyhow::{Context as _, Result};
use ets_model::Price;
use ets_scheme::Rulebook;
use ets_scheme::rulebook::CalendarDate;
use ets_scheme::sector::Sector;
use firms::{SectorSpec, SimSectorFirm, generate, sector_of};
use period::{SectorPeriod, SectorSetUp, set_up_period};

/// Salt of each sector's random stream (xored with the scenario seed and its position).
const SECTOR_STREAM: u64 = 0x5EC7_0125_0000_0000;
/// Salt of each sector's abatement stream (the firms are the same with or without it).
const ABATEMENT_STREAM: u64 = 0x5EC7_0AB4_0000_0000;

/// A sector's period with its firms, before and after the set-up.
pub struct SectorYear {
    /// The firms, entity indexes after the power entities (CO2 after abatement).
    pub firms: Vec<SimSectorFirm>,
    /// The firms as abatement and market agents, in firm order.
    pub agents: Vec<Firm>,
    /// The rulebook's file name, text and loaded form.
    rulebook: (String, String, Rulebook),
    /// What the set-up gave each firm (empty before it).
    pub set_up: SectorSetUp,
    /// Tonnes of the sector's cap sold at the auctions (a roadmap year; 0 otherwise).
    pub auction_tonnes: u64,
}

impl SectorYear {
    /// The period the engine runs (borrowing the firms).
    #[must_use]
    pub fn period(&self, year: u16) -> SectorPeriod<'_> {
        SectorPeriod {
            rulebook_name: self.rulebook.0.clone(),
            rulebook_text: self.rulebook.1.clone(),
            rulebook: self.rulebook.2.clone(),
            year,
            firms: &self.firms,
        }
    }

    /// The rulebook's text as the engine loaded it.
    #[must_use]
    pub(crate) fn rulebook_text(&self) -> &str {
        &self.rulebook.1
    }
}

/// Tonnes the sectors' caps put up for auction (0 without a roadmap cap).
#[must_use]
pub fn auction_tonnes(sectors: &[SectorYear]) -> u64 {
    sectors.iter().map(|sector| sector.auction_tonnes).sum()
}

/// The scenario's sectors, their firms numbered from `first_index` (after the power
/// entities), each drawn from its own stream of the scenario's seed; a sector under a
/// roadmap cap (`SectorSpec::cap`) gets its rulebook's benchmark fixed at the value
/// that allocates the cap less its auctioned share ([`cap`]).
///
/// # Errors
/// When a sector's rulebook cannot be read (the scenario's validation checked it), or
/// a cap cannot be reached by its benchmark.
pub fn sector_years(scenario: &Scenario, first_index: u32) -> Result<Vec<SectorYear>> {
    let mut next = first_index;
    let mut years = Vec::with_capacity(scenario.sectors.len());
    for (n, spec) in scenario.sectors.iter().enumerate() {
        let seed = scenario.scenario.seed ^ SECTOR_STREAM ^ (n as u64);
        let mut firms = generate(spec, next, seed);
        next += spec.firms;
        let text = std::fs::read_to_string(&spec.rulebook)
            .with_context(|| format!("reading rulebook {}", spec.rulebook.display()))?;
        let name = spec.rulebook.file_name().map_or_else(
            || "rulebook".to_owned(),
            |n| n.to_string_lossy().into_owned(),
        );
        let rulebook = Rulebook::from_toml_str(&text, &name).map_err(|e| anyhow::anyhow!("{e}"))?;
        let rules = rulebook
            .sector_allocation()
            .with_context(|| format!("{name}: not a sector rulebook"))?;
        let abatement_seed = scenario.scenario.seed ^ ABATEMENT_STREAM ^ (n as u64);
        let agents = abatement::abate(spec, scenario, rules, &mut firms, abatement_seed);
        let rulebook = match &spec.cap {
            Some(design) => cap::capped_rulebook((&name, &text, &rulebook), &firms, design)?,
            None => (name, text, rulebook),
        };
        years.push(SectorYear {
            firms,
            agents,
            rulebook,
            set_up: SectorSetUp::default(),
            auction_tonnes: spec.cap.map_or(0, |design| design.auctioned_tonnes()),
        });
    }
    Ok(years)
}

/// Sets up every sector's period at `at_ms`, opening its firms' participants and
/// accounts when the store does not hold them yet (the first period of a sector in a
/// chain; the same firms keep their accounts from year to year).
///
/// # Errors
/// When a command or a formula refuses.
pub(crate) fn set_up_all<S: Sink>(
    driver: &mut Driver<'_, S>,
    sectors: &mut [SectorYear],
    year: u16,
    at_ms: i64,
) -> Result<()> {
    for sector in sectors.iter_mut() {
        let open = sector.firms.first().is_some_and(|firm| {
            let participant = crate::year::entity_participant(firm.index);
            driver
                .sink
                .engine()
                .registry()
                .participant(participant)
                .is_err()
        });
        let set_up = set_up_period(driver, &sector.period(year), at_ms, open)?;
        sector.set_up = set_up;
    }
    Ok(())
}

/// The sector firms as market agents, in entity order (their abatement decided when
/// their sector's year was drawn, [`abatement`]).
#[must_use]
pub fn market_firms(sectors: &[SectorYear]) -> Vec<Firm> {
    sectors
        .iter()
        .flat_map(|sector| sector.agents.iter().cloned())
        .collect()
}

/// Per sector firm, in entity order: `(obligation, verified, allocation, holdings)`.
///
/// # Errors
/// When the engine cannot give a sector's provisional results.
pub(crate) fn positions<S: Sink>(
    driver: &Driver<'_, S>,
    sectors: &[SectorYear],
    year: u16,
    price: Price,
) -> Result<Vec<(u64, u64, u64, u64)>> {
    let mut lines = Vec::new();
    for sector in sectors {
        let (obligations, holdings) =
            period::obligations_and_holdings(driver, &sector.period(year), price)?;
        for (i, (owed, holds)) in obligations.into_iter().zip(holdings).enumerate() {
            let verified = sector.set_up.verified.get(i).copied().unwrap_or(0);
            let allocation = sector.set_up.allocation.get(i).copied().unwrap_or(0);
            lines.push((owed, verified, allocation, holds));
        }
    }
    Ok(lines)
}

/// The checks of a scenario's `[[sectors]]`: a known sector, sane ranges, the cement and
/// aluminium keys only in their sectors, a rulebook of that sector for the scenario's
/// `year` whose id is `scheme` and whose last surrender deadline is `power_due` (the
/// sectors surrender with the power sector), each scheme once. Errors are
/// `(key, value, reason)`.
pub(crate) fn validate(
    specs: &[SectorSpec],
    year: u16,
    power_due: Option<CalendarDate>,
) -> Result<(), (String, String, String)> {
    let mut schemes: Vec<&str> = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let key = |name: &str| format!("sectors[{i}].{name}");
        let Ok(sector) = sector_of(spec) else {
            return Err((
                key("sector"),
                format!("{:?}", spec.sector),
                "must be \"steel\", \"cement\" or \"aluminium\"".into(),
            ));
        };
        firms::check_ranges(spec, sector)
            .and_then(|()| check_rulebook(spec, sector, year, power_due))
            .map_err(|(name, value, reason)| (key(&name), value, reason))?;
        if schemes.contains(&spec.scheme.as_str()) {
            return Err((
                key("scheme"),
                format!("{:?}", spec.scheme),
                "is listed twice".into(),
            ));
        }
        schemes.push(&spec.scheme);
    }
    Ok(())
}

/// `spec`'s rulebook: of `sector`, for `year`, with id `scheme`, ending on `power_due`.
/// Errors are `(key within the table, value, reason)`.
fn check_rulebook(
    spec: &SectorSpec,
    sector: Sector,
    year: u16,
    power_due: Option<CalendarDate>,
) -> Result<(), (String, String, String)> {
    let path = spec.rulebook.display().to_string();
    let bad = |name: &str, value: String, reason: String| Err((name.to_owned(), value, reason));
    let rulebook = Rulebook::load(&spec.rulebook)
        .map_err(|e| ("rulebook".to_owned(), path.clone(), e.to_string()))?;
    if rulebook.sector_allocation().map(|rules| rules.sector) != Some(sector) {
        let reason = format!("is not a {} rulebook ([allocation.sector])", spec.sector);
        return bad("rulebook", path, reason);
    }
    let years = &rulebook.scheme.compliance_years;
    if !years.contains(&year) {
        let reason = format!(
            "{} has no rulebook for {year}: this one governs {years:?}",
            spec.sector
        );
        return bad("rulebook", path, reason);
    }
    if rulebook.scheme.id != spec.scheme {
        let reason = format!(
            "unknown scheme: the rulebook {path} defines {:?}",
            rulebook.scheme.id
        );
        return bad("scheme", format!("{:?}", spec.scheme), reason);
    }
    let due = rulebook.surrender_deadlines_for(year).last().map(|d| d.due);
    if due != power_due {
        let show = |d: Option<CalendarDate>| d.map_or("none".into(), |d| d.to_string());
        let reason = format!(
            "its last surrender deadline for {year} is {}, the power rulebook's {}: the sectors surrender with power",
            show(due),
            show(power_due)
        );
        return bad("rulebook", path, reason);
    }
    Ok(())
}

/// The assumed values of the scenario's `[[sectors]]` for the report's assumptions
/// section: each sector's size, intensities and abatement curve (no per-firm figure of
/// the new sectors is published: docs/sources.md#cn-sectors).
#[must_use]
pub fn assumptions(scenario: &Scenario) -> Vec<crate::assumptions::Assumption> {
    let row = |key: String, value: String, why: &str| crate::assumptions::Assumption {
        key,
        value,
        why: why.to_owned(),
        source: "assumption".to_owned(),
    };
    let mut rows = Vec::new();
    for (i, spec) in scenario.sectors.iter().enumerate() {
        let key = |name: &str| format!("sectors[{i}].{name}");
        rows.push(row(
            key("firms"),
            format!("{} ({} Mt of product)", spec.firms, spec.output_mt),
            "the sector's firms and output, sized to the published totals (> 1,300 firms, about 3 Gt)",
        ));
        rows.push(row(
            key("intensity"),
            format!("{} - {} t/t", spec.intensity[0], spec.intensity[1]),
            "range of a firm's CO2 intensity",
        ));
        if let Some(cap) = &spec.cap {
            rows.push(row(
                key("cap"),
                format!(
                    "{:.1} Mt, {:.0}% auctioned",
                    cap.cap_tonnes / 1e6,
                    cap.auction_share * 100.0
                ),
                "a roadmap year's cap on the sector's firms in the run (the roadmap's sector cap times the share of the sector they stand for): the intensity rule's benchmark is fixed at the value that allocates the cap less the auctioned share",
            ));
        }
        if !spec.mac.is_empty() {
            rows.push(row(
                key("mac"),
                format!("{:?} (dispersion {})", spec.mac, spec.cost_dispersion),
                "the sector's marginal abatement cost curve, [share of CO2, yuan/t]: no sector curve is published",
            ));
        }
    }
    rows
}
