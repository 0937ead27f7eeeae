//! The summary of a simulated year and its Markdown report beside the published figures.

use crate::charts::{self, ChartSpec, XAxis};
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
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct YearSummary {
    /// Scenario name.
    pub scenario: String,
    /// Seed used.
    pub seed: u64,
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
    /// Trades settled on the exchange (listed and block agreements).
    pub trades: usize,
    /// Block agreements among them.
    pub block_trades: usize,
    /// Share of the volume traded as block agreements.
    pub block_share: f64,
    /// Volume traded, Mt.
    pub traded_mt: f64,
    /// Value traded, yuan.
    pub traded_value_yuan: f64,
    /// Volume-weighted average price, yuan/t.
    pub average_price: f64,
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
    /// Entities compliant.
    pub compliant: usize,
    /// Entities short.
    pub shortfall_entities: usize,
    /// Entities without a verified report.
    pub no_verified_report: usize,
    /// Compliant entities / entities.
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
    /// Volume per trading day (`YYYY-MM-DD`, tonnes).
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
    /// Volume sold at primary auctions, Mt (also in `traded_mt` and `daily_volume`).
    pub volume_auction_mt: f64,
    /// Clearing price of each primary auction (`YYYY-MM-DD`, yuan/t).
    pub auction_prices: Vec<(String, f64)>,
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
        let mt = |t: u64| t as f64 / 1e6;
        let sum = |f: &dyn Fn(&EntityResult) -> u64| results.iter().map(f).sum::<u64>();
        let count = |s: EntityStatus| results.iter().filter(|r| r.status == s).count();
        let obligation = sum(&|r| r.obligation.tonnes());
        let covered = sum(&|r| {
            (r.allowances_surrendered.tonnes() + r.offsets_used.tonnes()).min(r.obligation.tonnes())
        });
        let traded: u64 = trades.iter().map(|t| t.quantity).sum();
        let block: u64 = trades.iter().filter(|t| t.block).map(|t| t.quantity).sum();
        let value_fen: i128 = trades
            .iter()
            .map(|t| i128::from(t.price_fen) * i128::from(t.quantity))
            .sum();
        let mut daily: BTreeMap<String, u64> = BTreeMap::new();
        for trade in trades {
            *daily.entry(civil(trade.time_ms)).or_default() += trade.quantity;
        }
        // In full by the last deadline; late only at an intermediate one counts here too.
        let compliant =
            count(EntityStatus::Compliant) + count(EntityStatus::MissedIntermediateDeadline);
        let mode_volume = |mode: TradeMode| {
            mt(trades
                .iter()
                .filter(|t| t.mode == mode)
                .map(|t| t.quantity)
                .sum())
        };
        YearSummary {
            scenario: String::new(),
            seed: 0,
            entities: results.len(),
            units: population.units(),
            coal_capacity_gw: population.coal_capacity_gw(),
            usc_share: population.usc_share(),
            coal_capacity_factor: population.coal_capacity_factor(),
            true_emissions_mt: population.emissions_mt(),
            verified_emissions_mt: mt(sum(&|r| r.verified_emissions.map_or(0, |q| q.tonnes()))),
            allocation_mt: mt(sum(&|r| r.allocation.tonnes())),
            obligation_mt: mt(obligation),
            issued_mt: 0.0,
            clawed_back_mt: 0.0,
            surrendered_mt: mt(sum(&|r| r.allowances_surrendered.tonnes())),
            trades: trades.len(),
            block_trades: trades.iter().filter(|t| t.block).count(),
            block_share: if traded == 0 {
                0.0
            } else {
                block as f64 / traded as f64
            },
            traded_mt: mt(traded),
            traded_value_yuan: value_fen as f64 / 100.0,
            average_price: if traded == 0 {
                0.0
            } else {
                value_fen as f64 / 100.0 / traded as f64
            },
            unmet_demand_mt: 0.0,
            banked_2020_mt: 0.0,
            borrowers: 0,
            borrowed_mt: 0.0,
            ccer_supply_mt: 0.0,
            ccer_sold_mt: 0.0,
            compliant,
            shortfall_entities: count(EntityStatus::Shortfall),
            no_verified_report: count(EntityStatus::NoVerifiedReport),
            compliance_rate: compliant as f64 / results.len().max(1) as f64,
            quantity_compliance_rate: if obligation == 0 {
                1.0
            } else {
                covered as f64 / obligation as f64
            },
            shortfall_mt: mt(sum(&|r| r.shortfall.tonnes())),
            fines_min_yuan: results
                .iter()
                .map(|r| r.fine_min.minor_units() as f64)
                .sum::<f64>()
                / 100.0,
            fines_max_yuan: results
                .iter()
                .map(|r| r.fine_max.minor_units() as f64)
                .sum::<f64>()
                / 100.0,
            next_year_deduction_mt: mt(sum(&|r| r.next_year_deduction.tonnes())),
            reports_flagged: 0,
            under_reporters: 0,
            under_reporters_flagged: 0,
            reports_corrected: 0,
            surrenders: 0,
            commands: 0,
            state_hash: String::new(),
            elapsed_seconds: 0.0,
            daily_volume: daily.into_iter().collect(),
            daily_close: Vec::new(),
            published: published.clone(),
            design: Design::default(),
            bau_emissions_mt: 0.0,
            abatement_mt: 0.0,
            abatement_cost_yuan: 0.0,
            least_cost_yuan: 0.0,
            least_cost_price: 0.0,
            net_purchases_yuan: 0.0,
            penalties_yuan: 0.0,
            compliance_cost_yuan: 0.0,
            cost_ratio: 0.0,
            daily_vwap: Vec::new(),
            daily_spread: Vec::new(),
            volume_listed_mt: mode_volume(TradeMode::Listed),
            volume_block_mt: mode_volume(TradeMode::Block),
            volume_continuous_mt: mode_volume(TradeMode::Continuous),
            volume_auction_mt: mode_volume(TradeMode::Auction),
            auction_prices: Vec::new(),
            turnover_ratio: 0.0,
            price_volatility: 0.0,
            entity_positions_t: results
                .iter()
                .map(|r| {
                    r.allocation.tonnes() as i64
                        - r.verified_emissions.map_or(0, |q| q.tonnes()) as i64
                })
                .collect(),
            traders: 0,
            daily_volume_by_mode: {
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
            },
            trading_participants: {
                let mut parties: Vec<u32> = trades
                    .iter()
                    .flat_map(|t| [t.buyer, t.seller])
                    .filter(|p| *p != u32::MAX)
                    .collect();
                parties.sort_unstable();
                parties.dedup();
                parties.len()
            },
            institutions: 0,
            orders_refused: 0,
            floor_purchases_mt: 0.0,
            mrv_flags: 0,
            clearing_price: 0.0,
        }
    }

    /// The report: simulated figures beside the published ones, and the differences.
    #[must_use]
    pub fn to_markdown(&self) -> String {
        let p = &self.published;
        let mut out = String::new();
        let _ = writeln!(out, "# Simulated compliance year: {}\n", self.scenario);
        let _ = writeln!(
            out,
            "Seed {}, {} commands through the engine in {:.1} s; final state hash `{}`.\n",
            self.seed, self.commands, self.elapsed_seconds, self.state_hash
        );
        let _ = writeln!(
            out,
            "Published figures are those of docs/sources.md#cn-coverage, #cn-market-statistics and #cn-calibration; the market and compliance\n\
             figures there are of the **first period (2019-20)** while the scenario runs the 2021\n\
             rulebook, so the comparison is one of orders of magnitude, not a validation.\n"
        );
        let _ = writeln!(out, "| Figure | Simulated | Published | Difference |");
        let _ = writeln!(out, "|---|---:|---:|---:|");
        let mut row = |name: &str, sim: f64, publ: f64, decimals: usize, percent: bool| {
            let scale = if percent { 100.0 } else { 1.0 };
            let unit = if percent { " %" } else { "" };
            let diff = if publ == 0.0 {
                "n/a".to_owned()
            } else {
                format!("{:+.1} %", (sim - publ) / publ * 100.0)
            };
            let _ = writeln!(
                out,
                "| {name} | {:.*}{unit} | {:.*}{unit} | {diff} |",
                decimals,
                sim * scale,
                decimals,
                publ * scale
            );
        };
        row(
            "Covered entities",
            self.entities as f64,
            f64::from(p.entities),
            0,
            false,
        );
        row(
            "Covered emissions (Mt CO2)",
            self.verified_emissions_mt,
            p.emissions_mt,
            1,
            false,
        );
        row(
            "Coal capacity (GW)",
            self.coal_capacity_gw,
            p.coal_capacity_gw,
            1,
            false,
        );
        row(
            "Ultra-supercritical share of coal capacity",
            self.usc_share,
            p.usc_share,
            1,
            true,
        );
        row(
            "Coal capacity factor",
            self.coal_capacity_factor,
            p.coal_capacity_factor,
            1,
            true,
        );
        row("Volume traded (Mt)", self.traded_mt, p.traded_mt, 2, false);
        row(
            "Average price (yuan/t)",
            self.average_price,
            p.average_price,
            2,
            false,
        );
        row(
            "Compliance rate (by quantity)",
            self.quantity_compliance_rate,
            p.compliance_rate,
            2,
            true,
        );
        row(
            "Compliance rate (by entity)",
            self.compliance_rate,
            p.compliance_rate,
            2,
            true,
        );
        let _ = writeln!(out, "\n## The year in the engine\n");
        let _ = writeln!(out, "| Figure | Value |\n|---|---:|");
        for (name, value) in self.engine_lines() {
            let _ = writeln!(out, "| {name} | {value} |");
        }
        let _ = writeln!(
            out,
            "\n## Agents and market design\n\n{}\n",
            self.design_line()
        );
        let _ = writeln!(out, "| Figure | Value |\n|---|---:|");
        for (name, value) in self.agents_lines() {
            let _ = writeln!(out, "| {name} | {value} |");
        }
        let _ = writeln!(out, "\n## Charts\n");
        for chart in CHARTS {
            let _ = writeln!(out, "![{}]({}.svg)\n", chart.1, chart.0);
        }
        out
    }

    /// The SVG bar chart of the daily traded volume.
    #[must_use]
    pub fn daily_volume_svg(&self) -> String {
        let bars: Vec<(String, f64)> = self
            .daily_volume
            .iter()
            .map(|(day, tonnes)| (day.clone(), *tonnes as f64 / 1e3))
            .collect();
        charts::bar_chart(
            &ChartSpec {
                title: "Daily volume traded",
                x_label: "trading day",
                y_label: "kt",
                x_axis: XAxis::Number,
            },
            &bars,
        )
    }
}

/// The charts of a year's report: file stem and caption, in the order shown.
pub const CHARTS: [(&str, &str); 6] = [
    (
        "price",
        "Daily close of the listed CEA (China: the VWAP of the day's listed trades)",
    ),
    ("daily_volume", "Volume traded per trading day"),
    ("cumulative_volume", "Cumulative volume traded"),
    (
        "positions",
        "Distribution of entities' positions before trading (allocation less verified emissions)",
    ),
    ("compliance", "Compliance rate, simulated and published"),
    (
        "cost",
        "Abatement cost of the run against the least-cost benchmark (same total abatement at one marginal cost)",
    ),
];

/// Per-entity figures read from the engine after the run (not part of the summary's
/// JSON): what the position and compliance charts draw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntityFigures {
    /// Per entity: final allocation less verified emissions, tonnes (negative = short
    /// before trading).
    pub positions_tonnes: Vec<f64>,
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
        }
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

impl YearSummary {
    /// The simulated-vs-published rows: `(figure, simulated, published, difference)`.
    #[must_use]
    pub fn published_rows(&self) -> Vec<Vec<String>> {
        let p = &self.published;
        let row = |name: &str, sim: f64, publ: f64, text: &dyn Fn(f64) -> String| {
            vec![
                name.to_owned(),
                text(sim),
                text(publ),
                difference(sim, publ),
            ]
        };
        let pct = |v: f64| format!("{:.2} %", v * 100.0);
        vec![
            row(
                "Covered entities",
                self.entities as f64,
                f64::from(p.entities),
                &|v| format!("{v:.0}"),
            ),
            row(
                "Covered emissions (Mt CO2)",
                self.verified_emissions_mt,
                p.emissions_mt,
                &|v| format!("{v:.1}"),
            ),
            row("Volume traded (Mt)", self.traded_mt, p.traded_mt, &|v| {
                format!("{v:.2}")
            }),
            row(
                "Average price (yuan/t)",
                self.average_price,
                p.average_price,
                &|v| format!("{v:.2}"),
            ),
            row(
                "Compliance rate (by entity)",
                self.compliance_rate,
                p.compliance_rate,
                &pct,
            ),
            row(
                "Compliance rate (by quantity)",
                self.quantity_compliance_rate,
                p.compliance_rate,
                &pct,
            ),
        ]
    }

    /// The daily close as a line chart (China's close is the VWAP of the day's listed
    /// trades, so it is both lines; a separate VWAP series goes to [`price_chart`]).
    #[must_use]
    pub fn price_svg(&self) -> String {
        if self.daily_vwap.is_empty() {
            price_chart(&[("close (= VWAP of listed trades)", &self.daily_close)])
        } else {
            price_chart(&[
                ("close (= VWAP of listed trades)", &self.daily_close),
                ("VWAP of all trades", &self.daily_vwap),
            ])
        }
    }

    /// Cumulative volume traded as a line chart.
    #[must_use]
    pub fn cumulative_volume_svg(&self) -> String {
        let cumulative = cumulative_volume_mt(&self.daily_volume);
        charts::line_chart(
            &ChartSpec {
                title: "Cumulative volume traded",
                x_label: "trading day",
                y_label: "Mt",
                x_axis: XAxis::Date,
            },
            &[("volume", &cumulative)],
        )
    }

    /// Compliance rates, simulated beside published, as grouped bars.
    #[must_use]
    pub fn compliance_svg(&self) -> String {
        let published = self.published.compliance_rate * 100.0;
        charts::grouped_bar_chart(
            &ChartSpec {
                title: "Compliance rate",
                x_label: "",
                y_label: "%",
                x_axis: XAxis::Number,
            },
            &["by entity".into(), "by quantity".into()],
            &[
                (
                    "simulated",
                    &[
                        self.compliance_rate * 100.0,
                        self.quantity_compliance_rate * 100.0,
                    ],
                ),
                ("published (first period)", &[published, published]),
            ],
        )
    }

    /// The one-screen summary printed at the end of a run.
    #[must_use]
    pub fn terminal_summary(&self, facts: &RunFacts) -> String {
        let p = &self.published;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} (seed {}): {} entities, {} units, {:.1} Mt verified",
            self.scenario, self.seed, self.entities, self.units, self.verified_emissions_mt
        );
        let _ = writeln!(
            out,
            "  volume traded     {:>10.2} Mt      published {:>8.2} Mt  ({})",
            self.traded_mt,
            p.traded_mt,
            difference(self.traded_mt, p.traded_mt)
        );
        let _ = writeln!(
            out,
            "  average price     {:>10.2} yuan/t  published {:>8.2}     ({})",
            self.average_price,
            p.average_price,
            difference(self.average_price, p.average_price)
        );
        let _ = writeln!(
            out,
            "  compliance rate   {:>10.2} %       published {:>8.2} %   (by entity; {:.2} % by quantity)",
            self.compliance_rate * 100.0,
            p.compliance_rate * 100.0,
            self.quantity_compliance_rate * 100.0
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
            "  least-cost benchmark {:>7.1} M yuan for the same {:.1} Mt abated (one MAC of {:.2} yuan/t); traded value {:.1} M yuan",
            self.least_cost_yuan / 1e6,
            self.abatement_mt,
            self.least_cost_price,
            self.traded_value_yuan / 1e6
        );
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

    /// The report as one self-contained HTML page with inline SVG charts.
    #[must_use]
    pub fn to_html(&self, figures: &EntityFigures) -> String {
        let mut page = Page::new(&format!("Simulated compliance year: {}", self.scenario));
        page.note(&format!(
            "Seed {}, {} commands through the engine in {:.1} s; final state hash {}.",
            self.seed, self.commands, self.elapsed_seconds, self.state_hash
        ));
        page.cards(&[
            (format!("{:.2} Mt", self.traded_mt), "volume traded"),
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
        page.heading("Simulated beside published");
        page.table(
            &["Figure", "Simulated", "Published", "Difference"],
            &self.published_rows(),
        );
        page.note(
            "Published figures: docs/sources.md#cn-coverage, #cn-market-statistics and #cn-calibration. Market and compliance figures \
             there are of the first period (2019-20): compare orders of magnitude.",
        );
        page.heading("Charts");
        for (stem, caption) in CHARTS {
            page.figure(&self.chart_svg(stem, figures), caption);
        }
        page.heading("The year in the engine");
        page.table(&["Figure", "Value"], &self.engine_rows());
        page.heading("Agents and market design");
        page.note(&self.design_line());
        let agents: Vec<Vec<String>> = self
            .agents_lines()
            .into_iter()
            .map(|(name, value)| vec![name.to_owned(), value])
            .collect();
        page.table(&["Figure", "Value"], &agents);
        page.render()
    }

    /// The chart named by its file stem (see [`CHARTS`]); empty for an unknown stem.
    #[must_use]
    pub fn chart_svg(&self, stem: &str, figures: &EntityFigures) -> String {
        match stem {
            "price" => self.price_svg(),
            "daily_volume" => self.daily_volume_svg(),
            "cumulative_volume" => self.cumulative_volume_svg(),
            "positions" => positions_svg(figures),
            "compliance" => self.compliance_svg(),
            "cost" => compliance_cost_chart(&[(
                "this run".to_owned(),
                self.abatement_cost_yuan / 1e6,
                self.least_cost_yuan / 1e6,
            )]),
            _ => String::new(),
        }
    }

    fn engine_rows(&self) -> Vec<Vec<String>> {
        self.engine_lines()
            .into_iter()
            .map(|(name, value)| vec![name.to_owned(), value])
            .collect()
    }

    /// The engine table of the report: `(figure, value)`.
    fn engine_lines(&self) -> Vec<(&'static str, String)> {
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
            (
                "Exchange trades (of which block agreements)",
                format!("{} ({})", self.trades, self.block_trades),
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
                "Value traded (million yuan)",
                format!("{:.1}", self.traded_value_yuan / 1e6),
            ),
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

    /// One sentence naming the market design of the run.
    fn design_line(&self) -> String {
        let d = &self.design;
        format!(
            "Design: participation {:?}, trading {:?}, cap {:?}, auction share {:.0}%, price floor {}.",
            d.participation,
            d.trading,
            d.cap,
            d.auction_share * 100.0,
            if d.price_floor_yuan > 0.0 {
                format!("{:.2} yuan/t", d.price_floor_yuan)
            } else {
                "none".to_owned()
            }
        )
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

/// Daily price series (`YYYY-MM-DD`, yuan/t), e.g. close and VWAP, as one line chart.
#[must_use]
pub fn price_chart(series: &[(&str, &[(String, f64)])]) -> String {
    let points: Vec<Vec<(f64, f64)>> = series.iter().map(|(_, s)| day_series(s)).collect();
    let named: Vec<(&str, &[(f64, f64)])> = series
        .iter()
        .zip(&points)
        .map(|((name, _), p)| (*name, p.as_slice()))
        .collect();
    charts::line_chart(
        &ChartSpec {
            title: "Daily close, listed CEA",
            x_label: "trading day",
            y_label: "yuan/t",
            x_axis: XAxis::Date,
        },
        &named,
    )
}

/// Cost of compliance against the least-cost benchmark, per run or group:
/// `(label, actual cost, least cost)` in million yuan, as grouped bars.
#[must_use]
pub fn compliance_cost_chart(rows: &[(String, f64, f64)]) -> String {
    let labels: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    let actual: Vec<f64> = rows.iter().map(|r| r.1).collect();
    let least: Vec<f64> = rows.iter().map(|r| r.2).collect();
    charts::grouped_bar_chart(
        &ChartSpec {
            title: "Cost of compliance vs least cost",
            x_label: "",
            y_label: "million yuan",
            x_axis: XAxis::Number,
        },
        &labels,
        &[("actual", &actual), ("least-cost benchmark", &least)],
    )
}

/// A histogram of the entities' positions before trading, kt.
#[must_use]
pub fn positions_svg(figures: &EntityFigures) -> String {
    let kt: Vec<f64> = figures.positions_tonnes.iter().map(|t| t / 1e3).collect();
    charts::histogram(
        &ChartSpec {
            title: "Positions before trading (allocation less verified emissions)",
            x_label: "kt CO2 (negative = short)",
            y_label: "entities",
            x_axis: XAxis::Number,
        },
        &kt,
        30,
    )
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
    write("summary.json", &serde_json::to_string_pretty(summary)?)?;
    Ok(dir.join("report.md"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_and_cost_charts_take_their_series_by_name() {
        let close = [
            ("2023-09-01".to_owned(), 42.0),
            ("2023-09-04".to_owned(), 43.0),
        ];
        let vwap = [
            ("2023-09-01".to_owned(), 42.5),
            ("2023-09-04".to_owned(), 42.9),
        ];
        let svg = price_chart(&[("close", &close), ("VWAP", &vwap)]);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains(">VWAP</text>"));
        let svg =
            compliance_cost_chart(&[("base".into(), 120.0, 80.0), ("cap".into(), 90.0, 85.0)]);
        assert_eq!(
            svg.matches("<rect x=").count(),
            4 + 2,
            "4 bars, 2 legend keys"
        );
        assert!(svg.contains("least-cost benchmark"));
    }

    #[test]
    fn differences_are_signed_percentages_of_the_published_figure() {
        assert_eq!(difference(61.22, 179.0), "-65.8 %");
        assert_eq!(difference(1.0, 0.0), "n/a");
        assert_eq!(human_bytes(150 * 1024), "150 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024), "5.0 MiB");
    }
}
