//! The year's summary: the engine's closed results and trades, and what the steps
//! of the run counted (MRV, allocation, flexibilities, the market).

use super::mrv::MrvTally;
use super::obligations::{Allocated, Borrowing};
use super::{YearFacts, held, hex, volatility};
use crate::agents::{self, Abatement};
use crate::report::YearSummary;
use crate::reserve::RESERVE_ACCOUNT;
use crate::trading::{self, MarketOutcome};
use crate::year::Trade;
use ets_engine::Engine;
use ets_engine::compliance::EntityResult;
use ets_model::AccountId;

/// What the steps of the run counted, for the summary.
pub(super) struct Tallies<'a> {
    /// Commands sent to the engine.
    pub commands: u64,
    /// Tonnes issued and clawed back by the allocation.
    pub allocated: Allocated,
    /// What the MRV cycle found.
    pub mrv: MrvTally,
    /// Surrender commands.
    pub surrenders: usize,
    /// Banked CEA-2020 placed at the start, tonnes.
    pub banked_total: u64,
    /// What the firms borrowed.
    pub borrowing: &'a Borrowing,
    /// Offsets issued to the offset seller, tonnes.
    pub ccer_supply: u64,
    /// Offsets sold per entity, tonnes.
    pub offsets: &'a [u64],
    /// Allowances issued into the reserve, tonnes.
    pub reserve_stock: u64,
}

/// The summary of the closed year.
pub(super) fn summarise(
    facts: &YearFacts<'_>,
    engine: &Engine,
    results: &[EntityResult],
    trades: &[Trade],
    abatement: &Abatement,
    tallies: &Tallies<'_>,
    market: MarketOutcome,
) -> YearSummary {
    let scenario = facts.scenario;
    let population = &abatement.population;
    let mut summary = YearSummary::from_results(results, trades, population, &scenario.published);
    summary.scenario = scenario.scenario.name.clone();
    summary.seed = scenario.scenario.seed;
    let timeline = &facts.timeline;
    summary.period.clone_from(&timeline.period);
    summary.trading_days = timeline.trading_days.len();
    summary.trading_window = [
        timeline.first_trading_day().to_string(),
        timeline
            .trading_days
            .last()
            .map_or_else(String::new, ToString::to_string),
    ];
    summary.deadlines = timeline
        .deadlines
        .iter()
        .map(|d| (d.due.to_string(), d.share_millionths as f64 / 1e6))
        .collect();
    summary.commands = tallies.commands;
    summary.issued_mt = mt(tallies.allocated.issued);
    summary.clawed_back_mt = mt(tallies.allocated.clawed_back);
    summary.reports_flagged = tallies.mrv.flagged;
    summary.under_reporters = tallies.mrv.under_reporters;
    summary.under_reporters_flagged = tallies.mrv.under_reporters_flagged;
    summary.reports_corrected = tallies.mrv.corrected;
    summary.surrenders = tallies.surrenders;
    summary.unmet_demand_mt = mt(market.unmet);
    summary.banked_2020_mt = mt(tallies.banked_total);
    summary.borrowers = tallies.borrowing.borrowers;
    summary.borrowed_mt = mt(tallies.borrowing.borrowed.iter().sum());
    summary.ccer_supply_mt = mt(tallies.ccer_supply);
    summary.ccer_sold_mt = mt(tallies.offsets.iter().sum());
    summary.design = scenario.design.clone();
    summary.mrv_flags = tallies.mrv.flagged;
    summary.clearing_price = abatement.clearing_price;
    summary.assumptions = crate::assumptions::of(scenario);
    summary.state_hash = hex(&engine.state_hash().0);
    summary.reserve_stock_mt = mt(tallies.reserve_stock);
    summary.reserve_end_mt = mt(held(engine, RESERVE_ACCOUNT, &facts.cea));
    add_costs(&mut summary, abatement, &market);
    summary.lost_output_yuan = lost_output_value(abatement, agents::OutputResponse::of(scenario));
    add_market(&mut summary, engine, market);
    summary
}

fn mt(tonnes: u64) -> f64 {
    tonnes as f64 / 1e6
}

/// Abatement, its least-cost benchmark, and the cost of compliance.
fn add_costs(summary: &mut YearSummary, abatement: &Abatement, market: &MarketOutcome) {
    let firms = &abatement.firms;
    let bau_mt = abatement.bau.emissions_mt();
    summary.bau_emissions_mt = bau_mt;
    summary.abatement_mt = bau_mt - abatement.population.emissions_mt();
    summary.abatement_cost_yuan = firms.iter().map(agents::Firm::abatement_cost).sum();
    // Along the MAC curves (shares of business-as-usual emissions); output given up apart.
    let intended: f64 = firms.iter().map(agents::Firm::abatement_tonnes).sum();
    summary.abatement_mac_mt = intended / 1e6;
    let (least_price, least_cost) = agents::least_cost(firms, intended);
    summary.least_cost_yuan = least_cost;
    summary.least_cost_price = least_price;
    summary.net_purchases_yuan = market.net_purchases_fen.iter().sum::<i128>() as f64 / 100.0;
    summary.penalties_yuan =
        summary.fines_max_yuan + summary.next_year_deduction_mt * 1e6 * summary.average_price;
    summary.compliance_cost_yuan =
        summary.abatement_cost_yuan + summary.net_purchases_yuan + summary.penalties_yuan;
    summary.cost_ratio = if least_cost > 0.0 {
        summary.compliance_cost_yuan / least_cost
    } else {
        0.0
    };
}

/// The value of the output the firms gave up (or the cost of the output they added)
/// in response to the carbon cost per MWh, yuan: per entity, half the MWh it changed
/// times the net carbon cost per MWh that moved it (the triangle under a linear supply
/// curve between the two outputs; an assumption, the response itself being
/// constant-elastic). The cost per MWh is read back from the response,
/// `c = power price x (m^(-1/elasticity) - 1)` for the output multiplier `m`: positive
/// when the firm generates less, negative when an allocation above its emissions makes
/// it run more, so both count as a loss. 0 without an output response.
#[must_use]
pub(crate) fn lost_output_value(abatement: &Abatement, response: agents::OutputResponse) -> f64 {
    if response.elasticity <= 0.0 || response.power_price <= 0.0 {
        return 0.0;
    }
    let generation = |entity: &crate::scenario::SimEntity| -> f64 {
        entity.units.iter().map(|unit| unit.generation_mwh).sum()
    };
    abatement
        .bau
        .entities
        .iter()
        .zip(&abatement.population.entities)
        .map(|(before, after)| {
            let (g0, g1) = (generation(before), generation(after));
            if g0 <= 0.0 || g1 <= 0.0 {
                return 0.0;
            }
            let cost = response.power_price * ((g1 / g0).powf(-1.0 / response.elasticity) - 1.0);
            0.5 * (g0 - g1) * cost
        })
        .sum()
}

/// The market's daily series, turnover, volatility and participants.
fn add_market(summary: &mut YearSummary, engine: &Engine, market: MarketOutcome) {
    summary.daily_close = market.daily_close;
    summary.daily_vwap = market.daily_vwap;
    summary.daily_spread = market.daily_spread;
    summary.auction_prices = market.auction_prices;
    let secondary_mt =
        summary.volume_listed_mt + summary.volume_block_mt + summary.volume_continuous_mt;
    summary.turnover_ratio = if summary.allocation_mt > 0.0 {
        secondary_mt / summary.allocation_mt
    } else {
        0.0
    };
    summary.price_volatility = volatility(&summary.daily_close);
    summary.trading_participants = market.participants;
    let mut parties: Vec<AccountId> = engine
        .exchange()
        .trades()
        .iter()
        .flat_map(|t| [t.buyer, t.seller])
        .filter(|a| *a != trading::AUCTION_ACCOUNT)
        .collect();
    parties.sort_unstable();
    parties.dedup();
    summary.traders = parties.len();
    summary.institutions = market.institutions;
    summary.orders_refused = market.refused;
    summary.floor_purchases_mt = mt(market.floor_bought);
    summary.reserve_released_mt = mt(market.reserve.released);
    summary.reserve_withheld_mt = mt(market.reserve.withheld);
}
