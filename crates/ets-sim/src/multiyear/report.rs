//! The multi-year report (`report.md`): the market of each calendar year beside the
//! published figures (simulated, published, difference; calibration, validation or
//! projection), each period's compliance, what is input and what is output, and the
//! run's timings. Every figure comes from the run's trades and closed results.

use super::{Chain, ChainRun, PublishedYear, Role};
use crate::year::Trade;
use ets_market::TradeMode;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Beijing time is UTC+8 (a trade's calendar year is Beijing's).
const BEIJING_OFFSET_MS: i64 = 8 * 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// The secondary market of one calendar year (auction sales left out).
#[derive(Debug, Clone, PartialEq)]
pub struct MarketYear {
    /// The calendar year (Beijing time).
    pub year: i32,
    /// Tonnes traded.
    pub tonnes: u64,
    /// Volume-weighted average price, yuan/t.
    pub average: f64,
    /// The last trading day's volume-weighted price, yuan/t.
    pub close: f64,
}

/// The secondary market per calendar year, from the run's trades.
#[must_use]
pub fn market_years(trades: &[Trade]) -> Vec<MarketYear> {
    // Per year: tonnes, value (fen), and the last day with its tonnes and value.
    let mut years: BTreeMap<i32, (u64, i128, i64, u64, i128)> = BTreeMap::new();
    for trade in trades.iter().filter(|t| t.mode != TradeMode::Auction) {
        let local = trade.time_ms + BEIJING_OFFSET_MS;
        let day = local.div_euclid(DAY_MS);
        let year = i32::try_from(ets_time::civil_from_days(day).0).unwrap_or(i32::MAX);
        let value = i128::from(trade.price_fen) * i128::from(trade.quantity);
        let entry = years.entry(year).or_insert((0, 0, day, 0, 0));
        entry.0 += trade.quantity;
        entry.1 += value;
        if day > entry.2 {
            (entry.2, entry.3, entry.4) = (day, 0, 0);
        }
        if day == entry.2 {
            entry.3 += trade.quantity;
            entry.4 += value;
        }
    }
    years
        .into_iter()
        .map(
            |(year, (tonnes, value, _, day_tonnes, day_value))| MarketYear {
                year,
                tonnes,
                average: yuan_per_tonne(value, tonnes),
                close: yuan_per_tonne(day_value, day_tonnes),
            },
        )
        .collect()
}

fn yuan_per_tonne(value_fen: i128, tonnes: u64) -> f64 {
    if tonnes == 0 {
        return 0.0;
    }
    value_fen as f64 / tonnes as f64 / 100.0
}

/// The difference of `simulated` from `published`, in percent of published.
pub(super) fn difference(simulated: f64, published: f64) -> String {
    if published == 0.0 {
        return "-".into();
    }
    format!("{:+.0}%", (simulated / published - 1.0) * 100.0)
}

/// The report's markdown.
#[must_use]
pub fn write_report(chain: &Chain, run: &ChainRun) -> String {
    let mut out = String::new();
    let outcome = &run.outcome;
    let _ = writeln!(out, "# Multi-year run: {}\n", chain.header.name);
    let _ = writeln!(
        out,
        "{} entities, seed {}, {} periods in {} steps; {} commands; {:.1} s; state hash `{}`.\n",
        chain.header.entities,
        chain.header.seed,
        outcome.periods.len(),
        outcome.step_closes.len(),
        outcome.commands,
        run.seconds,
        run.state_hash
    );
    market_table(&mut out, chain, &market_years(&outcome.trades));
    period_table(&mut out, run);
    inputs_and_outputs(&mut out);
    fitted(&mut out, chain);
    chain_assumptions(&mut out, chain);
    out
}

/// The assumptions the chain itself adds to its periods' (each period's own are in its
/// scenario and rulebook files): how roadmap years carry the reserve and cap the
/// sectors, and the carry-over cap on the sector firms.
fn chain_assumptions(out: &mut String, chain: &Chain) {
    let roadmap = chain.periods.iter().any(|p| p.roadmap.is_some());
    let sectors = chain.periods.iter().any(|p| !p.sectors.is_empty());
    if !roadmap && !sectors {
        return;
    }
    let _ = writeln!(
        out,
        "## Assumptions of the chain
"
    );
    let _ = writeln!(out, "| what | assumed | why |");
    let _ = writeln!(out, "|---|---|---|");
    if sectors {
        let _ = writeln!(
            out,
            "| carry-over cap of the sector firms | power's 2024 rule (10,000 t + 1.5 x net sales) at each close | published for power only; one CEA market (the sector rulebooks' `[carry_over]`) |"
        );
    }
    if roadmap {
        let _ = writeln!(
            out,
            "| roadmap rulebooks 2027-2030 | each 2026 rulebook one year on | no rulebook for 2027 or later is published |"
        );
        let _ = writeln!(
            out,
            "| sector caps of the roadmap | each sector's cap times the share of it the run's firms stand for, less the auctioned share, allocated by its intensity rule with the benchmark fixed to reach it | the Opinions name absolute caps, not how they are divided |"
        );
        let _ = writeln!(
            out,
            "| reserve re-vintaging | at the start of each roadmap year after the first, the reserve's units of earlier vintages are cancelled and issued again as the year's vintage (journaled), with no new stock | lets the year's auctions release them; no rule for a reserve's vintages is published |"
        );
    }
    let _ = writeln!(out);
}

/// The fitted behavioural parameters each period ran with.
fn fitted(out: &mut String, chain: &Chain) {
    let _ = writeln!(
        out,
        "Fitted behaviour per period (`[trading]` tightening_premium / carry_cost / hold_share / \
         precaution_premium / early_buyer_share): {}.\n",
        chain
            .periods
            .iter()
            .map(|p| {
                let t = &p.trading;
                format!(
                    "{} {} / {} / {} / {} / {}",
                    p.scenario.year,
                    t.tightening_premium,
                    t.carry_cost,
                    t.hold_share,
                    t.precaution_premium,
                    t.early_buyer_share
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    );
}

fn market_table(out: &mut String, chain: &Chain, simulated: &[MarketYear]) {
    let _ = writeln!(out, "## The market per calendar year\n");
    let _ = writeln!(
        out,
        "| year | use | volume Mt sim | published | diff | average yuan/t sim | published | diff | close sim | published |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|");
    for year in calendar_years(simulated, &chain.published) {
        let sim = simulated.iter().find(|m| m.year == year);
        let published = chain.published.iter().find(|p| p.year == year);
        let (tonnes, average, close) = sim.map_or((0.0, 0.0, 0.0), |m| {
            (m.tonnes as f64 / 1e6, m.average, m.close)
        });
        let role = use_of(published);
        let shown = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
        let _ = writeln!(
            out,
            "| {year} | {role} | {tonnes:.1} | {} | {} | {average:.2} | {} | {} | {close:.2} | {} |",
            shown(published.map(|p| p.traded_mt)),
            published.map_or("-".into(), |p| difference(tonnes, p.traded_mt)),
            shown(published.map(|p| p.average_price)),
            published.map_or("-".into(), |p| difference(average, p.average_price)),
            shown(published.and_then(|p| p.close)),
        );
    }
    let _ = writeln!(
        out,
        "\nSimulated: secondary trades (listed and block) settled in the year, Beijing time. \
         The simulation trades in each period's settling window (from the final \
         allocation to the last deadline) and, when one window settles several periods \
         (2021 and 2022), in a foreseen window before their allocation (July to December \
         2022, on the firms' foreseen positions; docs/simulation.md).\n"
    );
}

/// What a calendar year's published figures are used for: calibration, validation, or
/// projection when nothing is published.
pub(super) fn use_of(published: Option<&PublishedYear>) -> &'static str {
    match published.map(|p| p.role) {
        Some(Role::Calibration) => "calibration",
        Some(Role::Validation) => "validation",
        None => "projection",
    }
}

/// The calendar years of the simulated markets and of the published figures, in order.
pub(super) fn calendar_years<'a>(
    simulated: impl IntoIterator<Item = &'a MarketYear>,
    published: &[PublishedYear],
) -> Vec<i32> {
    let mut years: Vec<i32> = simulated.into_iter().map(|m| m.year).collect();
    years.extend(published.iter().map(|p| p.year));
    years.sort_unstable();
    years.dedup();
    years
}

fn period_table(out: &mut String, run: &ChainRun) {
    let _ = writeln!(out, "## Compliance per period\n");
    let _ = writeln!(
        out,
        "| period | scheme | step | verified Mt | allocation Mt | obligation Mt | surrendered Mt | compliant | shortfall |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    let mt = |t: u64| t as f64 / 1e6;
    for p in &run.outcome.periods {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} |",
            p.label,
            p.scheme,
            p.step + 1,
            mt(p.verified),
            mt(p.allocation),
            mt(p.obligation),
            mt(p.surrendered),
            p.compliant,
            p.shortfall
        );
    }
    let _ = writeln!(
        out,
        "\nAllowances the entities still hold at the end: {:.1} Mt. Closes per step (yuan/t): {}.\n",
        mt(run.outcome.banked_at_end),
        run.outcome
            .step_closes
            .iter()
            .map(|c| format!("{c:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

fn inputs_and_outputs(out: &mut String) {
    let _ = writeln!(
        out,
        "## Inputs and outputs\n\n\
         Inputs: the rulebooks (benchmarks, relief caps, borrowing, carry-over cap, deadlines); \
         each period scenario's population, MRV and behaviour parameters, among them the ones \
         fitted on the calibration years only (`[trading] tightening_premium`, `carry_cost`, \
         `hold_share`, `precaution_premium`, `early_buyer_share`; docs/simulation.md, \"Fitting the behavioural parameters\"); the first \
         window's listing reference price (`[market] price_mean`) and the firms' first expected \
         price (`[abatement] expected_price`). The published figures are not read by the run: \
         the calibration years' chose the fitted parameters (offline, `examples/fit.rs`), the \
         other years' are only compared with.\n\n\
         Outputs: every trade, so each year's volume, average and close; every later window's \
         listing reference (the previous window's last close) and expected price (that close \
         plus the premium of a tighter next rulebook); which firms bank; the sales the \
         carry-over cap forces; allocation, surrenders, shortfalls, and the units cancelled by \
         the carry-over cap.\n"
    );
}
