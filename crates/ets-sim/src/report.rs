//! The summary of a simulated year and its Markdown report beside the published figures.

use crate::charts;
use crate::html::Page;
use crate::scenario::{Design, Population, Published};
use crate::year::Trade;
use anyhow::{Context as _, Result};
use ets_engine::compliance::{EntityResult, EntityStatus};
use ets_market::TradeMode;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What a simulated year came to.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct YearSummary {
    /// Scenario name.
    pub scenario: String,
    /// The industrial sectors of the year (`[[sectors]]`), from the engine's closed
    /// results of their schemes; empty for power alone.
    pub sectors: Vec<crate::sector::summary::SectorSummary>,
    /// Seed used.
    pub seed: u64,
    /// The compliance period the run settles (`2019-2020`, `2021`).
    pub period: String,
    /// Trading days of the window that settled it (ets-time's China calendar).
    pub trading_days: usize,
    /// The window's first and last trading day (`YYYY-MM-DD`).
    pub trading_window: [String; 2],
    /// The period's surrender deadlines, earliest first: the day each falls on after
    /// the rulebook's holiday rule (`YYYY-MM-DD`) and the share of the obligation due.
    pub deadlines: Vec<(String, f64)>,
    /// Covered entities.
    pub entities: usize,
    /// Generating units.
    pub units: usize,
    /// Coal capacity, GW.
    pub coal_capacity_gw: f64,
    /// Ultra-supercritical share of coal capacity.
    pub usc_share: f64,
    /// Capacity-weighted coal capacity factor.
    pub coal_capacity_factor: f64,
    /// True emissions of the generated population, Mt.
    pub true_emissions_mt: f64,
    /// Verified (or corrected) emissions in the engine, Mt.
    pub verified_emissions_mt: f64,
    /// Allocation that counts (final), Mt.
    pub allocation_mt: f64,
    /// Obligations after the caps, Mt.
    pub obligation_mt: f64,
    /// Allowances issued over both allocation steps, Mt.
    pub issued_mt: f64,
    /// Allowances clawed back at the true-up, Mt.
    pub clawed_back_mt: f64,
    /// Allowances surrendered, Mt.
    pub surrendered_mt: f64,
    /// Secondary-market trades settled on the exchange (listed, block, continuous;
    /// auction sales are counted apart).
    pub trades: usize,
    /// Block agreements among them.
    pub block_trades: usize,
    /// Share of the secondary volume traded as block agreements.
    pub block_share: f64,
    /// Secondary-market volume traded (listed, block, continuous), Mt.
    pub traded_mt: f64,
    /// Secondary-market value traded, yuan.
    pub traded_value_yuan: f64,
    /// Volume-weighted average price of secondary trades, yuan/t.
    pub average_price: f64,
    /// Value of the allowances sold at primary auctions, yuan.
    pub auction_value_yuan: f64,
    /// Volume-weighted average auction clearing price, yuan/t (0 without auction sales).
    pub auction_average_price: f64,
    /// Demand for allowances no long firm could meet, Mt.
    pub unmet_demand_mt: f64,
    /// Banked CEA-2020 placed in the entities' accounts at the start, Mt.
    pub banked_2020_mt: f64,
    /// Entities that borrowed from the later vintage.
    pub borrowers: usize,
    /// Allowances borrowed, Mt.
    pub borrowed_mt: f64,
    /// CCER issued to the offset seller, Mt.
    pub ccer_supply_mt: f64,
    /// CCER sold to short firms (each within its offset limit), Mt.
    pub ccer_sold_mt: f64,
    /// Entities that surrendered in full by the last deadline (on time at every
    /// intermediate deadline or not): `full_on_time + full_late`.
    pub compliant: usize,
    /// Entities in full and on time at every deadline (the engine's `compliant`).
    pub full_on_time: usize,
    /// Entities in full by the last deadline but short at an intermediate one (the
    /// engine's `missed_intermediate_deadline`).
    pub full_late: usize,
    /// Entities short that surrendered part of their obligation.
    pub partial: usize,
    /// Entities short that surrendered nothing.
    pub none_surrendered: usize,
    /// Entities short (`partial + none_surrendered`).
    pub shortfall_entities: usize,
    /// Entities without a verified report.
    pub no_verified_report: usize,
    /// Entities in full on time / entities: the by-entity rate on the published basis
    /// (China 2019-2020: 1,833 of 2,162).
    pub compliance_rate: f64,
    /// Surrendered / owed tonnes (capped at each entity's obligation).
    pub quantity_compliance_rate: f64,
    /// Shortfall, Mt.
    pub shortfall_mt: f64,
    /// Sum of the lowest fines, yuan.
    pub fines_min_yuan: f64,
    /// Sum of the highest fines, yuan.
    pub fines_max_yuan: f64,
    /// Tonnes to deduct from next year's allocation, Mt.
    pub next_year_deduction_mt: f64,
    /// Reports the engine flagged as implausible.
    pub reports_flagged: usize,
    /// Firms that under-reported.
    pub under_reporters: usize,
    /// Of which flagged by the peer ranges.
    pub under_reporters_flagged: usize,
    /// Reports corrected by the authority.
    pub reports_corrected: usize,
    /// Surrender commands.
    pub surrenders: usize,
    /// Commands sent to the engine.
    pub commands: u64,
    /// Final engine state hash (hex BLAKE3).
    pub state_hash: String,
    /// Wall time of the run, s.
    pub elapsed_seconds: f64,
    /// Secondary volume per trading day (`YYYY-MM-DD`, tonnes).
    pub daily_volume: Vec<(String, u64)>,
    /// Close of the year's listed instrument per trading day (`YYYY-MM-DD`, yuan/t):
    /// the VWAP of its listed trades, else the previous close.
    pub daily_close: Vec<(String, f64)>,
    /// Published figures to compare with.
    pub published: Published,
    /// The market design of the run (`[design]` of the scenario and its variants).
    pub design: Design,
    /// Business-as-usual emissions of the population before abatement, Mt.
    pub bau_emissions_mt: f64,
    /// Emissions the firms abated (BAU less true emissions), Mt.
    pub abatement_mt: f64,
    /// Of `abatement_mt`, what the firms abated along their MAC curves (less fuel for the
    /// same output), Mt; the rest is output given up (`[abatement] output_elasticity`).
    pub abatement_mac_mt: f64,
    /// What that abatement cost the firms (area under their MAC curves), yuan.
    pub abatement_cost_yuan: f64,
    /// Least-cost benchmark: the cost of the same total abatement at one marginal cost
    /// for every firm (equalised MACs), yuan. Never above `abatement_cost_yuan`.
    pub least_cost_yuan: f64,
    /// The single marginal cost of the least-cost benchmark, yuan/t.
    pub least_cost_price: f64,
    /// Value the covered firms bought less value they sold (secondary market and
    /// auctions), yuan. Positive when allowances came from auctions or institutions.
    pub net_purchases_yuan: f64,
    /// Penalties: the highest fines plus the tonnes deducted from next year's allocation
    /// valued at the year's average price, yuan.
    pub penalties_yuan: f64,
    /// The run's compliance cost: abatement cost + net purchases + penalties, yuan.
    pub compliance_cost_yuan: f64,
    /// The value of the output the firms gave up (or the cost of output they added) in
    /// response to the carbon cost per MWh, yuan: half the MWh changed times the net
    /// carbon cost per MWh that moved it, an assumption (a linear supply between the two
    /// outputs). Apart from the compliance cost, which counts payments and abatement
    /// along the MAC curves (docs/simulation.md, "Published models beside ours").
    pub lost_output_yuan: f64,
    /// Compliance cost over the least-cost benchmark (1 = least cost; 0 when nothing was
    /// abated).
    pub cost_ratio: f64,
    /// Volume-weighted average price of the price-forming book per trading day
    /// (`YYYY-MM-DD`, yuan/t); days without price-forming trades are left out.
    pub daily_vwap: Vec<(String, f64)>,
    /// Best ask less best bid of the price-forming book, averaged over the moments the
    /// firms acted on that day (`YYYY-MM-DD`, yuan/t); days with a one-sided book left out.
    pub daily_spread: Vec<(String, f64)>,
    /// Volume in the listed agreement, Mt.
    pub volume_listed_mt: f64,
    /// Volume in block agreements, Mt.
    pub volume_block_mt: f64,
    /// Volume in the continuous book, Mt.
    pub volume_continuous_mt: f64,
    /// Volume sold at primary auctions, Mt (not in `traded_mt` nor `daily_volume`).
    pub volume_auction_mt: f64,
    /// Clearing price of each primary auction (`YYYY-MM-DD`, yuan/t).
    pub auction_prices: Vec<(String, f64)>,
    /// Allowances issued into the allowance reserve at the start, Mt (`[design.reserve]`).
    pub reserve_stock_mt: f64,
    /// Reserve allowances sold at auctions above the release trigger, Mt (part of
    /// `volume_auction_mt`).
    pub reserve_released_mt: f64,
    /// Auction volume withheld into the reserve by the low-price trigger, Mt.
    pub reserve_withheld_mt: f64,
    /// What the reserve's account holds after the close, Mt.
    pub reserve_end_mt: f64,
    /// Secondary-market volume (listed + block + continuous) over the final allocation
    /// (dimensionless).
    pub turnover_ratio: f64,
    /// Standard deviation of the daily log returns of the listed close (per trading day,
    /// dimensionless).
    pub price_volatility: f64,
    /// Per entity, in entity order: final allocation less verified emissions, tonnes
    /// (negative = short before trading and flexibilities).
    pub entity_positions_t: Vec<i64>,
    /// Accounts that entered at least one order, take, block proposal or acceptance, or
    /// auction bid (firms, institutions, the floor desk), count.
    pub trading_participants: usize,
    /// Institutions in the market (open participation).
    pub institutions: usize,
    /// Orders, takes, proposals and bids the exchange refused (lost races, bands).
    pub orders_refused: u64,
    /// Tonnes the authority's price-support desk bought at the floor, Mt.
    pub floor_purchases_mt: f64,
    /// MRV plausibility flags: reports the peer ranges flagged (same as
    /// `reports_flagged`, kept for the comparison report), count.
    pub mrv_flags: usize,
    /// Accounts that bought or sold at least once (firms, institutions, the floor desk;
    /// not the auction account), count.
    pub traders: usize,
    /// Volume per trading day by mode (`YYYY-MM-DD`, tonnes `[listed, block, continuous,
    /// auction]`).
    pub daily_volume_by_mode: Vec<(String, [u64; 4])>,
    /// Every behavioural value the run assumed, why, and its source.
    pub assumptions: Vec<crate::assumptions::Assumption>,
    /// The market-clearing expected price p* the firms foresaw before abating, yuan/t:
    /// the lowest price at which their abatement closes the aggregate shortfall of the
    /// design's allocation, bank and CCER supply against BAU (0 when the market is long).
    pub clearing_price: f64,
}

/// The civil date (`YYYY-MM-DD`, Beijing time) of a time in milliseconds.
#[must_use]
pub fn civil_date(ms: i64) -> String {
    civil(ms)
}

/// The civil date (`YYYY-MM-DD`, Beijing time) of a time in milliseconds.
pub(crate) fn civil(ms: i64) -> String {
    // Beijing time (UTC+08:00).
    let days = (ms + 8 * 3_600_000).div_euclid(ets_time::MS_PER_DAY);
    let (year, month, day) = ets_time::civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}")
}

fn mt(tonnes: u64) -> f64 {
    tonnes as f64 / 1e6
}

/// Value of `trades`, yuan.
fn value_yuan(trades: &[Trade]) -> f64 {
    let fen: i128 = trades
        .iter()
        .map(|t| i128::from(t.price_fen) * i128::from(t.quantity))
        .sum();
    fen as f64 / 100.0
}

/// Volume-weighted average price of `trades`, yuan/t (0 without trades).
fn average(trades: &[Trade]) -> f64 {
    let tonnes: u64 = trades.iter().map(|t| t.quantity).sum();
    if tonnes == 0 {
        0.0
    } else {
        value_yuan(trades) / tonnes as f64
    }
}

/// Volume per trading day by mode: `[listed, block, continuous, auction]`, tonnes.
fn volume_by_mode(trades: &[Trade]) -> Vec<(String, [u64; 4])> {
    let mut days: BTreeMap<String, [u64; 4]> = BTreeMap::new();
    for trade in trades {
        let slot = match trade.mode {
            TradeMode::Listed => 0,
            TradeMode::Block => 1,
            TradeMode::Continuous => 2,
            TradeMode::Auction => 3,
        };
        days.entry(civil(trade.time_ms)).or_default()[slot] += trade.quantity;
    }
    days.into_iter().collect()
}

/// Entities that bought or sold at least once.
fn parties(trades: &[Trade]) -> usize {
    let mut parties: Vec<u32> = trades
        .iter()
        .flat_map(|t| [t.buyer, t.seller])
        .filter(|p| *p != u32::MAX)
        .collect();
    parties.sort_unstable();
    parties.dedup();
    parties.len()
}

/// First, lowest, highest and last daily close, or a dash without trading days.
fn close_range(closes: &[(String, f64)]) -> String {
    match (closes.first(), closes.last()) {
        (Some(first), Some(last)) => {
            let low = closes.iter().map(|c| c.1).fold(f64::INFINITY, f64::min);
            let high = closes.iter().map(|c| c.1).fold(f64::NEG_INFINITY, f64::max);
            format!("{:.2} / {low:.2} / {high:.2} / {:.2}", first.1, last.1)
        }
        _ => "-".into(),
    }
}

impl YearSummary {
    /// Builds the summary from the engine's closed results, the trades and the population.
    #[must_use]
    pub fn from_results(
        results: &[EntityResult],
        trades: &[Trade],
        population: &Population,
        published: &Published,
    ) -> YearSummary {
        let mut summary = YearSummary {
            published: published.clone(),
            units: population.units(),
            coal_capacity_gw: population.coal_capacity_gw(),
            usc_share: population.usc_share(),
            coal_capacity_factor: population.coal_capacity_factor(),
            true_emissions_mt: population.emissions_mt(),
            ..YearSummary::default()
        };
        summary.add_results(results);
        let (auctions, secondary): (Vec<Trade>, Vec<Trade>) = trades
            .iter()
            .cloned()
            .partition(|t| t.mode == TradeMode::Auction);
        summary.add_secondary(&secondary);
        summary.volume_auction_mt = mt(auctions.iter().map(|t| t.quantity).sum());
        summary.auction_value_yuan = value_yuan(&auctions);
        summary.auction_average_price = average(&auctions);
        summary.daily_volume_by_mode = volume_by_mode(trades);
        summary.trading_participants = parties(trades);
        summary
    }

    /// The compliance figures of the closed results.
    fn add_results(&mut self, results: &[EntityResult]) {
        let sum = |f: &dyn Fn(&EntityResult) -> u64| results.iter().map(f).sum::<u64>();
        let count = |s: EntityStatus| results.iter().filter(|r| r.status == s).count();
        let yuan = |f: &dyn Fn(&EntityResult) -> i64| {
            results.iter().map(|r| f(r) as f64).sum::<f64>() / 100.0
        };
        let obligation = sum(&|r| r.obligation.tonnes());
        let covered = sum(&|r| {
            (r.allowances_surrendered.tonnes() + r.offsets_used.tonnes()).min(r.obligation.tonnes())
        });
        self.entities = results.len();
        self.verified_emissions_mt = mt(sum(&|r| r.verified_emissions.map_or(0, |q| q.tonnes())));
        self.allocation_mt = mt(sum(&|r| r.allocation.tonnes()));
        self.obligation_mt = mt(obligation);
        self.surrendered_mt = mt(sum(&|r| r.allowances_surrendered.tonnes()));
        // The engine's statuses, as the published figures count them: in full on time,
        // in full but late at an intermediate deadline, partial, nothing.
        self.full_on_time = count(EntityStatus::Compliant);
        self.full_late = count(EntityStatus::MissedIntermediateDeadline);
        self.compliant = self.full_on_time + self.full_late;
        self.shortfall_entities = count(EntityStatus::Shortfall);
        self.none_surrendered = results
            .iter()
            .filter(|r| r.status == EntityStatus::Shortfall)
            .filter(|r| r.allowances_surrendered.is_zero() && r.offsets_used.is_zero())
            .count();
        self.partial = self.shortfall_entities - self.none_surrendered;
        self.no_verified_report = count(EntityStatus::NoVerifiedReport);
        self.compliance_rate = self.full_on_time as f64 / results.len().max(1) as f64;
        self.quantity_compliance_rate = if obligation == 0 {
            1.0
        } else {
            covered as f64 / obligation as f64
        };
        self.shortfall_mt = mt(sum(&|r| r.shortfall.tonnes()));
        self.fines_min_yuan = yuan(&|r| r.fine_min.minor_units());
        self.fines_max_yuan = yuan(&|r| r.fine_max.minor_units());
        self.next_year_deduction_mt = mt(sum(&|r| r.next_year_deduction.tonnes()));
        self.entity_positions_t = results
            .iter()
            .map(|r| {
                r.allocation.tonnes() as i64 - r.verified_emissions.map_or(0, |q| q.tonnes()) as i64
            })
            .collect();
    }

    /// The secondary market's figures (listed, block and continuous trades).
    fn add_secondary(&mut self, secondary: &[Trade]) {
        let traded: u64 = secondary.iter().map(|t| t.quantity).sum();
        let block: u64 = secondary
            .iter()
            .filter(|t| t.block)
            .map(|t| t.quantity)
            .sum();
        let mode_volume = |mode: TradeMode| {
            mt(secondary
                .iter()
                .filter(|t| t.mode == mode)
                .map(|t| t.quantity)
                .sum())
        };
        let mut daily: BTreeMap<String, u64> = BTreeMap::new();
        for trade in secondary {
            *daily.entry(civil(trade.time_ms)).or_default() += trade.quantity;
        }
        self.trades = secondary.len();
        self.block_trades = secondary.iter().filter(|t| t.block).count();
        self.block_share = if traded == 0 {
            0.0
        } else {
            block as f64 / traded as f64
        };
        self.traded_mt = mt(traded);
        self.traded_value_yuan = value_yuan(secondary);
        self.average_price = average(secondary);
        self.daily_volume = daily.into_iter().collect();
        self.volume_listed_mt = mode_volume(TradeMode::Listed);
        self.volume_block_mt = mode_volume(TradeMode::Block);
        self.volume_continuous_mt = mode_volume(TradeMode::Continuous);
    }

    /// The report's tables, in the order shown: the same in Markdown and in HTML.
    #[must_use]
    pub fn sections(&self) -> Vec<Section> {
        let pairs = |lines: Vec<(&'static str, String)>| -> Vec<Vec<String>> {
            lines
                .into_iter()
                .map(|(name, value)| vec![name.to_owned(), value])
                .collect()
        };
        let mut sections = vec![
            Section {
                heading: "Simulated beside published",
                note: self.published_note(),
                header: vec!["Figure", "Simulated", "Published", "Difference"],
                rows: self.published_rows(),
            },
            Section {
                heading: "The year in the engine",
                note: String::new(),
                header: vec!["Figure", "Value"],
                rows: pairs(self.engine_lines()),
            },
            Section {
                heading: "Agents and market design",
                note: self.design.sentence(),
                header: vec!["Figure", "Value"],
                rows: pairs(self.agents_lines()),
            },
            Section {
                heading: "Assumptions",
                note: ASSUMPTIONS_NOTE.to_owned(),
                header: vec!["Parameter", "Value", "Why", "Source"],
                rows: self
                    .assumptions
                    .iter()
                    .map(|a| {
                        vec![
                            a.key.clone(),
                            a.value.clone(),
                            a.why.clone(),
                            a.source.clone(),
                        ]
                    })
                    .collect(),
            },
        ];
        if !self.sectors.is_empty() {
            sections.insert(
                3,
                Section {
                    heading: "Industrial sectors",
                    note: SECTORS_NOTE.to_owned(),
                    header: crate::sector::summary::SectorSummary::HEADER.to_vec(),
                    rows: self.sectors.iter().map(|s| s.row()).collect(),
                },
            );
        }
        sections
    }

    /// The report as Markdown: the run, every section's table, the per-entity CSV
    /// and the charts (linked as `<stem>.svg`).
    #[must_use]
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Simulated compliance year: {}\n", self.scenario);
        let _ = writeln!(out, "{}\n", self.run_line());
        if let Some(warning) = self.small_run_warning() {
            let _ = writeln!(out, "**Warning:** {warning}\n");
        }
        for section in self.sections() {
            let _ = writeln!(out, "## {}\n", section.heading);
            if !section.note.is_empty() {
                let _ = writeln!(out, "{}\n", section.note);
            }
            out.push_str(&section.markdown_table());
            out.push('\n');
        }
        let _ = writeln!(out, "{ENTITIES_NOTE} [{ENTITIES_CSV}]({ENTITIES_CSV})\n");
        let _ = writeln!(out, "## Charts\n");
        for chart in CHARTS {
            let _ = writeln!(out, "![{}]({}.svg)\n", chart.1, chart.0);
        }
        out
    }

    /// The warning when the run has too few entities to stand for the market (see
    /// [`crate::batch::small_run_warning`]).
    #[must_use]
    pub fn small_run_warning(&self) -> Option<String> {
        crate::batch::small_run_warning(
            u32::try_from(self.entities).unwrap_or(u32::MAX),
            self.published.entities,
        )
    }

    /// Seed, commands, run time and state hash, as one sentence.
    fn run_line(&self) -> String {
        format!(
            "Seed {}, {} commands through the engine in {:.1} s; final state hash {}.",
            self.seed, self.commands, self.elapsed_seconds, self.state_hash
        )
    }
}

/// What the assumptions table is.
const ASSUMPTIONS_NOTE: &str = "Every behavioural value the run assumed, why, and its \
source: \"assumption\" where no published figure gives it (the scenario file says the same).";

const SECTORS_NOTE: &str = "Steel, cement and aluminium beside power. \
The engine allocates their firms by each sector's rulebook; they abate where a tonne abated pays \
(under the intensity method, the benchmark's weight of the price they expect; nothing when the \
allocation equals verified emissions); they appear in the per-entity CSV after the power entities.";

/// The per-entity results file, written beside the report.
pub const ENTITIES_CSV: &str = "entities.csv";
const ENTITIES_NOTE: &str = "Per-entity results (emissions, allocation, obligation, \
surrendered, shortfall, status):";

/// One table of the report: a heading, a note and its rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// The heading.
    pub heading: &'static str,
    /// A sentence under the heading (may be empty).
    pub note: String,
    /// Column names.
    pub header: Vec<&'static str>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
}

impl Section {
    /// The table in Markdown (first column left-aligned, the others right).
    #[must_use]
    pub fn markdown_table(&self) -> String {
        let mut out = format!("| {} |\n|---|", self.header.join(" | "));
        for _ in 1..self.header.len() {
            out.push_str("---:|");
        }
        out.push('\n');
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(|c| c.replace('|', "\\|")).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        out
    }
}

/// The charts of a year's report: file stem and caption, in the order shown.
pub const CHARTS: [(&str, &str); 6] = [
    (
        "price",
        "Daily close of the price-forming book (China: the VWAP of the day's listed trades, else the previous close), and its VWAP on days with trades",
    ),
    (
        "daily_volume",
        "Secondary volume per trading day (listed, block, continuous; auction sales apart)",
    ),
    ("cumulative_volume", "Cumulative secondary volume"),
    (
        "positions",
        "Distribution of entities' positions before trading (allocation less verified emissions)",
    ),
    ("compliance", "Compliance rate, simulated and published"),
    (
        "cost",
        "Compliance cost (abatement + net purchases + penalties) and abatement cost against the least cost of the same abatement (one marginal cost for every firm)",
    ),
];

/// Per-entity figures read from the engine after the run (not part of the summary's
/// JSON): what the position and compliance charts draw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntityFigures {
    /// Per entity: final allocation less verified emissions, tonnes (negative = short
    /// before trading).
    pub positions_tonnes: Vec<f64>,
    /// The engine's closed (or provisional) result of each entity, for the CSV.
    pub results: Vec<EntityResult>,
}

impl EntityFigures {
    /// The figures of the engine's (closed or provisional) results.
    #[must_use]
    pub fn from_results(results: &[EntityResult]) -> EntityFigures {
        EntityFigures {
            positions_tonnes: results
                .iter()
                .map(|r| {
                    r.allocation.tonnes() as f64
                        - r.verified_emissions.map_or(0.0, |q| q.tonnes() as f64)
                })
                .collect(),
            results: results.to_vec(),
        }
    }

    /// The per-entity results as CSV: one line per entity, tonnes and yuan, in the
    /// engine's entity order.
    #[must_use]
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "participant,account,verified_emissions_t,allocation_t,obligation_t,\
             allowances_surrendered_t,offsets_used_t,shortfall_t,status,fine_min_yuan,\
             fine_max_yuan,next_year_deduction_t\n",
        );
        for r in &self.results {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{},{:.2},{:.2},{}",
                r.entity.0,
                r.account.0,
                r.verified_emissions
                    .map_or(String::new(), |q| q.tonnes().to_string()),
                r.allocation.tonnes(),
                r.obligation.tonnes(),
                r.allowances_surrendered.tonnes(),
                r.offsets_used.tonnes(),
                r.shortfall.tonnes(),
                r.status.name(),
                r.fine_min.minor_units() as f64 / 100.0,
                r.fine_max.minor_units() as f64 / 100.0,
                r.next_year_deduction.tonnes(),
            );
        }
        out
    }
}

/// Facts about a run that the summary does not hold: wall time including the report,
/// journal size and where the report went.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunFacts {
    /// Wall time of the whole run, s.
    pub wall_seconds: f64,
    /// Bytes of the store's files (journal and snapshots).
    pub journal_bytes: u64,
    /// The report's HTML page.
    pub report: PathBuf,
}

/// The daily series as `(day number, value)` points for a line chart; days that do
/// not parse are left out.
#[must_use]
pub fn day_series(daily: &[(String, f64)]) -> Vec<(f64, f64)> {
    daily
        .iter()
        .filter_map(|(day, value)| Some((charts::day_number(day)?, *value)))
        .collect()
}

/// Cumulative volume traded, Mt, per trading day (from the daily volume).
#[must_use]
pub fn cumulative_volume_mt(daily_volume: &[(String, u64)]) -> Vec<(f64, f64)> {
    let mut total = 0u64;
    daily_volume
        .iter()
        .filter_map(|(day, tonnes)| {
            total += tonnes;
            Some((charts::day_number(day)?, total as f64 / 1e6))
        })
        .collect()
}

/// Volatility of the daily close: the sample standard deviation of the day-to-day
/// log returns, in percent (0 with fewer than three closes).
#[must_use]
pub fn daily_volatility_percent(daily_close: &[(String, f64)]) -> f64 {
    let returns: Vec<f64> = daily_close
        .windows(2)
        .filter(|w| w[0].1 > 0.0 && w[1].1 > 0.0)
        .map(|w| (w[1].1 / w[0].1).ln())
        .collect();
    if returns.len() < 2 {
        return 0.0;
    }
    let mean = returns.iter().sum::<f64>() / returns.len() as f64;
    let variance =
        returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (returns.len() - 1) as f64;
    variance.sqrt() * 100.0
}

/// `(sim - published) / published` as a signed percentage, or `n/a`.
#[must_use]
pub fn difference(simulated: f64, published: f64) -> String {
    if published == 0.0 {
        "n/a".to_owned()
    } else {
        format!("{:+.1} %", (simulated - published) / published * 100.0)
    }
}

/// `text` with its first letter in upper case (a title from a lower-case name).
pub(crate) fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// A byte count for people: `532 KiB`, `12.4 MiB`.
#[must_use]
pub fn human_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2} GiB", b / 1024f64.powi(3))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / 1024f64.powi(2))
    } else {
        format!("{:.0} KiB", (b / 1024.0).ceil())
    }
}

/// A simulated-vs-published row: `(figure, simulated, published, difference)`, each value
/// written by `text`; a figure not published reads "not published" and "n/a".
fn published_row(
    name: &str,
    sim: f64,
    publ: Option<f64>,
    text: &dyn Fn(f64) -> String,
) -> Vec<String> {
    vec![
        name.to_owned(),
        text(sim),
        publ.map_or_else(|| "not published".to_owned(), text),
        publ.map_or_else(|| "n/a".to_owned(), |publ| difference(sim, publ)),
    ]
}

impl YearSummary {
    /// The simulated-vs-published rows: `(figure, simulated, published, difference)`.
    /// The market rows compare the window that settled the period with the published
    /// trading of that same window; the compliance rows count entities as the published
    /// figures do (in full on time, partial) and tonnes (by quantity). A figure not
    /// published for the period reads "not published".
    #[must_use]
    pub fn published_rows(&self) -> Vec<Vec<String>> {
        let mut rows = self.fleet_rows();
        rows.extend(self.market_and_compliance_rows());
        rows
    }

    /// The published-rows of the fleet: entities, emissions a year, coal capacity, its
    /// ultra-supercritical share and its capacity factor.
    fn fleet_rows(&self) -> Vec<Vec<String>> {
        let p = &self.published;
        let one = |v: f64| format!("{v:.1}");
        vec![
            published_row(
                "Covered entities",
                self.entities as f64,
                Some(f64::from(p.entities)),
                &|v| format!("{v:.0}"),
            ),
            published_row(
                "Covered emissions (Mt CO2 a year)",
                self.verified_emissions_mt / self.period_years(),
                Some(p.emissions_mt),
                &one,
            ),
            published_row(
                "Coal capacity (GW)",
                self.coal_capacity_gw,
                Some(p.coal_capacity_gw),
                &one,
            ),
            published_row(
                "Ultra-supercritical share of coal capacity",
                self.usc_share,
                Some(p.usc_share),
                &|v| format!("{:.1} %", v * 100.0),
            ),
            published_row(
                "Coal capacity factor",
                self.coal_capacity_factor,
                Some(p.coal_capacity_factor),
                &|v| format!("{:.1} %", v * 100.0),
            ),
        ]
    }

    /// The published-rows of the settling window's market (days, volume, average price)
    /// and of compliance (entities by how they surrendered, and by quantity).
    fn market_and_compliance_rows(&self) -> Vec<Vec<String>> {
        let p = &self.published;
        let pct = |v: f64| format!("{:.2} %", v * 100.0);
        let two = |v: f64| format!("{v:.2}");
        let share = |count: usize| count as f64 / self.entities.max(1) as f64;
        vec![
            published_row(
                "Trading days of the settling window",
                self.trading_days as f64,
                p.trading_days.map(f64::from),
                &|v| format!("{v:.0}"),
            ),
            published_row(
                "Secondary volume traded (Mt)",
                self.traded_mt,
                Some(p.traded_mt),
                &two,
            ),
            published_row(
                "Average price (yuan/t)",
                self.average_price,
                Some(p.average_price),
                &two,
            ),
            published_row(
                "Entities in full on time (share of entities)",
                share(self.full_on_time),
                p.entity_share(p.entities_full_on_time),
                &pct,
            ),
            published_row(
                "Entities in full, late at an intermediate deadline",
                share(self.full_late),
                None,
                &pct,
            ),
            published_row(
                "Entities partial (share of entities)",
                share(self.partial),
                p.entity_share(p.entities_partial),
                &pct,
            ),
            published_row(
                "Entities with nothing surrendered",
                share(self.none_surrendered + self.no_verified_report),
                None,
                &pct,
            ),
            published_row(
                "Compliance by quantity (surrendered / owed)",
                self.quantity_compliance_rate,
                p.compliance_by_quantity,
                &pct,
            ),
        ]
    }

    /// The compliance years the run's emissions cover (2 for 2019-2020): emissions are
    /// compared per year.
    fn period_years(&self) -> f64 {
        let years = self.period.split_once('-').and_then(|(first, last)| {
            Some(last.parse::<f64>().ok()? - first.parse::<f64>().ok()? + 1.0)
        });
        years.unwrap_or(1.0).max(1.0)
    }

    /// What the published figures are, under their table.
    #[must_use]
    pub fn published_note(&self) -> String {
        let deadlines: Vec<String> = self
            .deadlines
            .iter()
            .map(|(day, share)| format!("{:.0}% by {day}", share * 100.0))
            .collect();
        format!(
            "Period {period}: trading in the window that settled it, {first} to {last} \
             ({days} trading days of the China calendar), surrenders {deadlines}. \
             Published market figures: {market}. Compliance is counted as published: \
             entities in full on time and partial, and tonnes surrendered over owed. \
             Sources: docs/sources.md#cn-coverage, #cn-market-statistics and \
             #cn-calibration. Volume and price are of secondary trading; auction sales \
             are counted apart.",
            period = self.period,
            first = self.trading_window[0],
            last = self.trading_window[1],
            days = self.trading_days,
            deadlines = deadlines.join(", "),
            market = self.published.market_period,
        )
    }

    /// The one-screen summary printed at the end of a run.
    #[must_use]
    pub fn terminal_summary(&self, facts: &RunFacts) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} (seed {}): {} entities, {} units, {:.1} Mt verified for {}",
            self.scenario,
            self.seed,
            self.entities,
            self.units,
            self.verified_emissions_mt,
            self.period
        );
        let _ = writeln!(
            out,
            "  window {} to {} ({} trading days); published: {}",
            self.trading_window[0],
            self.trading_window[1],
            self.trading_days,
            self.published.market_period
        );
        self.write_market_lines(&mut out);
        self.write_outcome_lines(&mut out);
        let seconds = facts.wall_seconds.max(self.elapsed_seconds);
        let _ = writeln!(
            out,
            "  wall time {:.1} s, {} commands ({:.0} commands/s), journal {}",
            seconds,
            self.commands,
            self.commands as f64 / seconds.max(1e-9),
            human_bytes(facts.journal_bytes)
        );
        let _ = writeln!(out, "  state hash {}", self.state_hash);
        let _ = write!(out, "  report: {}", facts.report.display());
        out
    }

    /// The summary's market lines: the volume traded, the auctions' sales, the reserve,
    /// the average price, beside published.
    fn write_market_lines(&self, out: &mut String) {
        let p = &self.published;
        let _ = writeln!(
            out,
            "  volume traded     {:>10.2} Mt      published {:>8.2} Mt  ({})",
            self.traded_mt,
            p.traded_mt,
            difference(self.traded_mt, p.traded_mt)
        );
        if self.volume_auction_mt > 0.0 {
            let _ = writeln!(
                out,
                "  auction sales     {:>10.2} Mt      at {:.2} yuan/t on average (apart from the volume traded)",
                self.volume_auction_mt, self.auction_average_price
            );
        }
        if self.reserve_stock_mt > 0.0 || self.reserve_withheld_mt > 0.0 {
            let _ = writeln!(
                out,
                "  reserve           {:>10.2} Mt      stock; released {:.2} Mt, withheld {:.2} Mt, holds {:.2} Mt",
                self.reserve_stock_mt,
                self.reserve_released_mt,
                self.reserve_withheld_mt,
                self.reserve_end_mt
            );
        }
        let _ = writeln!(
            out,
            "  average price     {:>10.2} yuan/t  published {:>8.2}     ({})",
            self.average_price,
            p.average_price,
            difference(self.average_price, p.average_price)
        );
    }

    /// The summary's outcome lines: compliance, trades, the cost of compliance, the value
    /// of lost output and the least-cost benchmark.
    fn write_outcome_lines(&self, out: &mut String) {
        let p = &self.published;
        let published = |rate: Option<f64>| {
            rate.map_or_else(|| "n/a".to_owned(), |r| format!("{:.2} %", r * 100.0))
        };
        let _ = writeln!(
            out,
            "  in full on time   {:>10.2} % of entities (published {}); by quantity {:.2} % (published {})",
            self.compliance_rate * 100.0,
            published(p.entity_share(p.entities_full_on_time)),
            self.quantity_compliance_rate * 100.0,
            published(p.compliance_by_quantity)
        );
        let _ = writeln!(
            out,
            "  trades            {:>10} ({} block), turnover {:.1} % of the allocation, daily volatility {:.2} %",
            self.trades,
            self.block_trades,
            self.turnover_ratio * 100.0,
            daily_volatility_percent(&self.daily_close)
        );
        let _ = writeln!(
            out,
            "  cost of compliance {:>9.1} M yuan (abatement {:.1} + net purchases {:.1} + penalties {:.1})",
            self.compliance_cost_yuan / 1e6,
            self.abatement_cost_yuan / 1e6,
            self.net_purchases_yuan / 1e6,
            self.penalties_yuan / 1e6
        );
        let _ = writeln!(
            out,
            "  lost output value {:>9.1} M yuan (output given up or added for the carbon cost; assumed linear supply)",
            self.lost_output_yuan / 1e6
        );
        let _ = writeln!(
            out,
            "  least-cost benchmark {:>7.1} M yuan for the same {:.1} Mt abated along the MAC curves (one MAC of {:.2} yuan/t); traded value {:.1} M yuan",
            self.least_cost_yuan / 1e6,
            self.abatement_mac_mt,
            self.least_cost_price,
            self.traded_value_yuan / 1e6
        );
    }

    /// The report as one self-contained HTML page with inline SVG charts: every
    /// section of the Markdown report, the charts and the per-entity CSV's link.
    #[must_use]
    pub fn to_html(&self, figures: &EntityFigures) -> String {
        let mut page = Page::new(&format!("Simulated compliance year: {}", self.scenario));
        page.note(&self.run_line());
        if let Some(warning) = self.small_run_warning() {
            page.paragraph(&format!("Warning: {warning}"));
        }
        page.cards(&[
            (format!("{:.2} Mt", self.traded_mt), "secondary volume"),
            (
                format!("{:.2}", self.average_price),
                "average price, yuan/t",
            ),
            (
                format!("{:.2} %", self.compliance_rate * 100.0),
                "compliance rate (entities)",
            ),
            (
                format!("{:.1} %", self.turnover_ratio * 100.0),
                "turnover (of allocation)",
            ),
        ]);
        let mut sections = self.sections().into_iter();
        if let Some(first) = sections.next() {
            page.section(&first);
        }
        page.heading("Charts");
        for (stem, caption) in CHARTS {
            page.figure(&self.chart_svg(stem, figures), caption);
        }
        for section in sections {
            page.section(&section);
        }
        page.link(ENTITIES_NOTE, ENTITIES_CSV, ENTITIES_CSV);
        page.render()
    }

    /// The chart named by its file stem (see [`CHARTS`]); empty for an unknown stem.
    #[must_use]
    pub fn chart_svg(&self, stem: &str, figures: &EntityFigures) -> String {
        self.chart(stem, figures)
            .map_or_else(String::new, |chart| chart.svg())
    }

    /// The engine table of the report: `(figure, value)`.
    fn engine_lines(&self) -> Vec<(&'static str, String)> {
        let mut lines = self.supply_lines();
        lines.extend(self.market_lines());
        lines.extend(self.compliance_lines());
        lines
    }

    /// The engine table's units and tonnes: emissions, allocation, obligation, issued and
    /// clawed back, banked, borrowed, offsets, surrendered.
    fn supply_lines(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Generating units", self.units.to_string()),
            (
                "True emissions (Mt)",
                format!("{:.1}", self.true_emissions_mt),
            ),
            (
                "Verified emissions (Mt)",
                format!("{:.1}", self.verified_emissions_mt),
            ),
            (
                "Final allocation (Mt)",
                format!("{:.1}", self.allocation_mt),
            ),
            (
                "Obligation after caps (Mt)",
                format!("{:.1}", self.obligation_mt),
            ),
            (
                "Issued, pre + true-up (Mt)",
                format!("{:.1}", self.issued_mt),
            ),
            (
                "Clawed back at true-up (Mt)",
                format!("{:.1}", self.clawed_back_mt),
            ),
            (
                "Banked CEA-2020 at the start (Mt)",
                format!("{:.1}", self.banked_2020_mt),
            ),
            (
                "Borrowed from 2023 (Mt, entities)",
                format!("{:.1} ({})", self.borrowed_mt, self.borrowers),
            ),
            (
                "CCER supply / sold to short firms (Mt)",
                format!("{:.1} / {:.1}", self.ccer_supply_mt, self.ccer_sold_mt),
            ),
            (
                "Allowances surrendered (Mt)",
                format!("{:.1}", self.surrendered_mt),
            ),
        ]
    }

    /// The engine table's market: trades, auctions, the reserve, the listed close, block
    /// share, unmet demand, value traded.
    fn market_lines(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "Secondary trades (of which block agreements)",
                format!("{} ({})", self.trades, self.block_trades),
            ),
            (
                "Sold at primary auctions (Mt; average price, yuan/t)",
                format!(
                    "{:.1} ({:.2})",
                    self.volume_auction_mt, self.auction_average_price
                ),
            ),
            (
                "Allowance reserve: stock / released at auctions / withheld from auctions / held at the end (Mt)",
                format!(
                    "{:.2} / {:.2} / {:.2} / {:.2}",
                    self.reserve_stock_mt,
                    self.reserve_released_mt,
                    self.reserve_withheld_mt,
                    self.reserve_end_mt
                ),
            ),
            (
                "Listed close, first / low / high / last day (yuan/t)",
                close_range(&self.daily_close),
            ),
            (
                "Block share of volume",
                format!("{:.1}%", self.block_share * 100.0),
            ),
            (
                "Demand no seller could meet (Mt)",
                format!("{:.3}", self.unmet_demand_mt),
            ),
            (
                "Secondary value traded (million yuan)",
                format!("{:.1}", self.traded_value_yuan / 1e6),
            ),
        ]
    }

    /// The engine table's MRV and compliance: flagged and corrected reports, compliant and
    /// short entities, shortfall, fines, deductions.
    fn compliance_lines(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "Reports flagged by peer ranges",
                self.reports_flagged.to_string(),
            ),
            (
                "Under-reporters (of which flagged)",
                format!(
                    "{} ({})",
                    self.under_reporters, self.under_reporters_flagged
                ),
            ),
            (
                "Reports corrected by the authority",
                self.reports_corrected.to_string(),
            ),
            (
                "Compliant / short / no verified report",
                format!(
                    "{} / {} / {}",
                    self.compliant, self.shortfall_entities, self.no_verified_report
                ),
            ),
            ("Shortfall (Mt)", format!("{:.3}", self.shortfall_mt)),
            (
                "Fines, China 2021 regime (yuan)",
                format!("{:.0} - {:.0}", self.fines_min_yuan, self.fines_max_yuan),
            ),
            (
                "Deducted from next year (Mt)",
                format!("{:.3}", self.next_year_deduction_mt),
            ),
        ]
    }

    /// The abatement, cost and market-design table (docs/simulation.md, "Agents"): `(figure, value)`.
    fn agents_lines(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "BAU emissions (Mt)",
                format!("{:.1}", self.bau_emissions_mt),
            ),
            (
                "Market-clearing expected price p* (yuan/t; 0 = long market)",
                format!("{:.2}", self.clearing_price),
            ),
            ("Abated (Mt)", format!("{:.1}", self.abatement_mt)),
            (
                "Abatement cost / least-cost benchmark (million yuan)",
                format!(
                    "{:.1} / {:.1} (single MAC {:.2} yuan/t)",
                    self.abatement_cost_yuan / 1e6,
                    self.least_cost_yuan / 1e6,
                    self.least_cost_price
                ),
            ),
            (
                "Compliance cost: abatement + net purchases + penalties (million yuan)",
                format!(
                    "{:.1} = {:.1} + {:.1} + {:.1}",
                    self.compliance_cost_yuan / 1e6,
                    self.abatement_cost_yuan / 1e6,
                    self.net_purchases_yuan / 1e6,
                    self.penalties_yuan / 1e6
                ),
            ),
            (
                "Value of output given up for the carbon cost (million yuan; assumed linear supply)",
                format!("{:.1}", self.lost_output_yuan / 1e6),
            ),
            (
                "Volume listed / block / continuous / auction (Mt)",
                format!(
                    "{:.1} / {:.1} / {:.1} / {:.1}",
                    self.volume_listed_mt,
                    self.volume_block_mt,
                    self.volume_continuous_mt,
                    self.volume_auction_mt
                ),
            ),
            (
                "Turnover ratio (secondary volume / allocation)",
                format!("{:.4}", self.turnover_ratio),
            ),
            (
                "Volatility of daily log returns",
                format!("{:.4}", self.price_volatility),
            ),
            (
                "Trading participants (institutions)",
                format!("{} ({})", self.trading_participants, self.institutions),
            ),
            ("Orders refused", self.orders_refused.to_string()),
        ]
    }
}

/// Writes `report.md`, `report.html`, the charts (`*.svg`) and `summary.json` into
/// `dir` (created if missing), without per-entity figures; returns the Markdown
/// report's path.
///
/// # Errors
/// When the files cannot be written.
pub fn write_report(dir: &Path, summary: &YearSummary) -> Result<PathBuf> {
    write_full_report(dir, summary, &EntityFigures::default())
}

/// Writes `report.md`, `report.html`, the charts (`*.svg`) and `summary.json` into
/// `dir` (created if missing); returns the Markdown report's path.
///
/// # Errors
/// When the files cannot be written.
pub fn write_full_report(
    dir: &Path,
    summary: &YearSummary,
    figures: &EntityFigures,
) -> Result<PathBuf> {
    let write = |name: &str, text: &str| -> Result<()> {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write("report.md", &summary.to_markdown())?;
    write("report.html", &summary.to_html(figures))?;
    for (stem, _) in CHARTS {
        write(&format!("{stem}.svg"), &summary.chart_svg(stem, figures))?;
    }
    write(ENTITIES_CSV, &figures.csv())?;
    write("summary.json", &serde_json::to_string_pretty(summary)?)?;
    Ok(dir.join("report.md"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_are_signed_percentages_of_the_published_figure() {
        assert_eq!(difference(61.22, 179.0), "-65.8 %");
        assert_eq!(difference(1.0, 0.0), "n/a");
        assert_eq!(human_bytes(150 * 1024), "150 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024), "5.0 MiB");
    }
}
