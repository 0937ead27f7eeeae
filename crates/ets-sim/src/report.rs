//! The summary of a simulated year and its Markdown report beside the published figures.

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
}

/// The civil date (`YYYY-MM-DD`, Beijing time) of a time in milliseconds.
#[must_use]
pub fn civil_date(ms: i64) -> String {
    civil(ms)
}

/// The civil date (`YYYY-MM-DD`, Beijing time) of a time in milliseconds.
pub(crate) fn civil(ms: i64) -> String {
    // Howard Hinnant's civil_from_days, shifted to Beijing time (UTC+8).
    let days = (ms + 8 * 3_600_000).div_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
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
        let compliant = count(EntityStatus::Compliant);
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
            "Published figures are those of RULES.md §2.2, §2.7 and §7; the market and compliance\n\
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
        let lines: Vec<(&str, String)> = vec![
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
        ];
        for (name, value) in lines {
            let _ = writeln!(out, "| {name} | {value} |");
        }
        if !self.daily_volume.is_empty() {
            let _ = writeln!(
                out,
                "\n## Daily volume\n\n![daily volume](daily_volume.svg)"
            );
        }
        self.agents_markdown(&mut out);
        out
    }

    /// The abatement, cost and market-design figures (docs/simulation.md, "agents").
    fn agents_markdown(&self, out: &mut String) {
        let d = &self.design;
        let _ = writeln!(out, "\n## Agents and market design\n");
        let _ = writeln!(
            out,
            "Design: participation {:?}, trading {:?}, cap {:?}, auction share {:.0}%, price floor {}.\n",
            d.participation,
            d.trading,
            d.cap,
            d.auction_share * 100.0,
            if d.price_floor_yuan > 0.0 {
                format!("{:.2} yuan/t", d.price_floor_yuan)
            } else {
                "none".to_owned()
            }
        );
        let _ = writeln!(out, "| Figure | Value |\n|---|---:|");
        let rows = [
            (
                "BAU emissions (Mt)",
                format!("{:.1}", self.bau_emissions_mt),
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
        ];
        for (name, value) in rows {
            let _ = writeln!(out, "| {name} | {value} |");
        }
    }

    /// A hand-written SVG bar chart of the daily traded volume.
    #[must_use]
    pub fn daily_volume_svg(&self) -> String {
        bar_chart("Daily volume traded (kt)", &self.daily_volume)
    }
}

/// A minimal SVG bar chart of (label, value) pairs; labels of the first and last bars are shown.
#[must_use]
pub fn bar_chart(title: &str, bars: &[(String, u64)]) -> String {
    let (width, height, margin) = (800.0_f64, 300.0_f64, 40.0_f64);
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1) as f64;
    let slot = (width - 2.0 * margin) / bars.len().max(1) as f64;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">"
    );
    let _ = writeln!(svg, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
    let _ = writeln!(
        svg,
        "<text x=\"{margin}\" y=\"20\" font-family=\"sans-serif\" font-size=\"14\">{title} (max {:.0} kt)</text>",
        max / 1e3
    );
    for (i, (_, value)) in bars.iter().enumerate() {
        let h = (height - 2.0 * margin) * (*value as f64) / max;
        let x = margin + i as f64 * slot;
        let y = height - margin - h;
        let _ = writeln!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"#3b6ea5\"/>",
            (slot * 0.8).max(0.5)
        );
    }
    if let (Some(first), Some(last)) = (bars.first(), bars.last()) {
        let _ = writeln!(
            svg,
            "<text x=\"{margin}\" y=\"{}\" font-family=\"sans-serif\" font-size=\"11\">{}</text>",
            height - 15.0,
            first.0
        );
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-family=\"sans-serif\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            width - margin,
            height - 15.0,
            last.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// Writes `report.md`, `daily_volume.svg` and `summary.json` into `dir` (created if missing).
///
/// # Errors
/// When the files cannot be written.
pub fn write_report(dir: &Path, summary: &YearSummary) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let report = dir.join("report.md");
    std::fs::write(&report, summary.to_markdown())
        .with_context(|| format!("writing {}", report.display()))?;
    std::fs::write(dir.join("daily_volume.svg"), summary.daily_volume_svg())?;
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_string_pretty(summary)?,
    )?;
    Ok(report)
}
