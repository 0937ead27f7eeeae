//! The assumptions a run rests on: every behavioural value of the scenario that no
//! published figure gives, with why it is there and its source, for the report's
//! assumptions section. Calibration values taken from published figures are cited
//! in the scenario file and docs/sources.md; the ones listed here are the run's own.

use crate::scenario::{CapDesign, Scenario};
use serde::Serialize;

/// One assumed value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assumption {
    /// The scenario key (`table.key`).
    pub key: String,
    /// Its value in the run.
    pub value: String,
    /// What it stands for and why it is needed.
    pub why: String,
    /// Where it comes from: a docs/sources.md entry, or "assumption".
    pub source: String,
}

const ASSUMED: &str = "assumption";
const CALIBRATED: &str = "published figure (docs/sources.md), scenario file";
const FITTED: &str = "fitted on the 2021-2023 market (docs/simulation.md, \"Fitting\")";

fn range([low, high]: [f64; 2]) -> String {
    format!("{low} - {high}")
}

/// The assumptions of `scenario`, in the order of its tables.
#[must_use]
pub fn of(scenario: &Scenario) -> Vec<Assumption> {
    let rows = [
        behaviour_rows(scenario),
        abatement_rows(scenario),
        order_rows(scenario),
        expectation_rows(scenario),
    ];
    rows.into_iter()
        .flatten()
        .map(|(key, value, why, source)| (key, value, why.to_owned(), source))
        .chain(design_rows(scenario))
        .map(|(key, value, why, source)| Assumption {
            key: key.to_owned(),
            value,
            why,
            source: source.to_owned(),
        })
        .chain(crate::sector::assumptions(scenario))
        .collect()
}

/// An assumption row: key, value, why, source.
type Row = (&'static str, String, &'static str, &'static str);

/// The firms' compliance behaviour, the listing market and the flexibility supply.
fn behaviour_rows(scenario: &Scenario) -> Vec<Row> {
    let b = &scenario.behaviour;
    let m = &scenario.market;
    let f = &scenario.flexibility;
    vec![
        (
            "behaviour.under_reporter_share",
            b.under_reporter_share.to_string(),
            "share of firms that under-report; enforcement cases are published, their share is not",
            ASSUMED,
        ),
        (
            "behaviour.under_report",
            range(b.under_report),
            "how far an under-reporter lowers its carbon content",
            ASSUMED,
        ),
        (
            "behaviour.shortfall_share",
            b.shortfall_share.to_string(),
            "share of firms that surrender short, from the published compliance rate",
            CALIBRATED,
        ),
        (
            "behaviour.shortfall_fraction",
            range(b.shortfall_fraction),
            "share of its obligation a defaulter leaves out (\"partial\" surrender)",
            ASSUMED,
        ),
        (
            "behaviour.late_share",
            b.late_share.to_string(),
            "share of the other firms that surrender in full only by the last deadline, missing an intermediate one",
            ASSUMED,
        ),
        (
            "market.price_mean",
            m.price_mean.to_string(),
            "the listing day's reference price (band centre of the first day); later prices come from orders",
            CALIBRATED,
        ),
        (
            "market.late_share",
            m.late_share.to_string(),
            "share of firms that start trading in the last two months (published: most volume in Nov-Dec)",
            CALIBRATED,
        ),
        (
            "flexibility.ccer_supply_share",
            f.ccer_supply_share.to_string(),
            "offsets on offer, share of covered emissions",
            ASSUMED,
        ),
        (
            "flexibility.banked_2020",
            range(f.banked_2020),
            "first-period allowances each firm banked, share of its emissions",
            ASSUMED,
        ),
    ]
}

/// The abatement curve's spread and the price expectations, and who trades: holders,
/// sellers' offers, early buyers.
fn abatement_rows(scenario: &Scenario) -> Vec<Row> {
    let a = &scenario.abatement;
    let t = &scenario.trading;
    vec![
        (
            "abatement.cost_dispersion",
            a.cost_dispersion.to_string(),
            "spread of firms' abatement costs around the MAC curve",
            ASSUMED,
        ),
        (
            "abatement.expected_price",
            a.expected_price.to_string(),
            "the price firms expect before the market opens",
            CALIBRATED,
        ),
        (
            "abatement.expectation_sigma",
            a.expectation_sigma.to_string(),
            "spread of firms' price expectations",
            ASSUMED,
        ),
        (
            "trading.hold_share",
            t.hold_share.to_string(),
            "long firms that bank their surplus instead of selling",
            ASSUMED,
        ),
        (
            "trading.sell_fraction",
            range(t.sell_fraction),
            "share of its surplus a selling firm offers",
            ASSUMED,
        ),
        (
            "trading.early_buyer_share",
            t.early_buyer_share.to_string(),
            "short firms that buy early and hedge",
            ASSUMED,
        ),
    ]
}

/// How the trading firms act and price their orders.
fn order_rows(scenario: &Scenario) -> Vec<Row> {
    let t = &scenario.trading;
    vec![
        (
            "trading.activity",
            t.activity.to_string(),
            "chance a started firm acts on a trading day",
            ASSUMED,
        ),
        (
            "trading.early_activity",
            t.early_activity.to_string(),
            "activity before November relative to after (thin early market)",
            ASSUMED,
        ),
        (
            "trading.bid_discount",
            t.bid_discount.to_string(),
            "a buyer's first limit below its reservation price",
            ASSUMED,
        ),
        (
            "trading.urgency",
            t.urgency.to_string(),
            "how far a buyer's limit rises by the deadline",
            ASSUMED,
        ),
        (
            "trading.ask_premium",
            t.ask_premium.to_string(),
            "a seller's first ask above its reservation price",
            ASSUMED,
        ),
    ]
}

/// The fitted expectations across years, the output response and the value of lost output.
fn expectation_rows(scenario: &Scenario) -> Vec<Row> {
    let a = &scenario.abatement;
    let t = &scenario.trading;
    vec![
        (
            "trading.tightening_premium",
            t.tightening_premium.to_string(),
            "expected price rise per point the next rulebook is tighter (multi-year runs)",
            FITTED,
        ),
        (
            "trading.carry_cost",
            t.carry_cost.to_string(),
            "mean cost of carrying a tonne to the next window (banking)",
            FITTED,
        ),
        (
            "trading.precaution_premium",
            t.precaution_premium.to_string(),
            "rise a long firm asks more for a tonne when the next rulebook has no borrowing (multi-year runs)",
            FITTED,
        ),
        (
            "abatement.output_elasticity",
            a.output_elasticity.to_string(),
            "output response to the net carbon cost per MWh",
            ASSUMED,
        ),
        (
            "abatement.power_price_yuan_per_mwh",
            a.power_price_yuan_per_mwh.to_string(),
            "power price the carbon cost is measured against",
            ASSUMED,
        ),
        (
            "value of lost output",
            "half the MWh changed x the net carbon cost per MWh".to_owned(),
            "the surplus of the power not generated (or the cost of the power added), as if supply were linear between the two outputs; reported beside the compliance cost",
            ASSUMED,
        ),
    ]
}

/// The design's assumed values when it sets them: an absolute cap, an auction share,
/// the allowance reserve (China publishes none of them for 2027-2030:
/// docs/sources.md#cn-roadmap).
fn design_rows(scenario: &Scenario) -> Vec<(&'static str, String, String, &'static str)> {
    let d = &scenario.design;
    let r = &d.reserve;
    let mut rows = Vec::new();
    if d.cap == CapDesign::Absolute {
        rows.push((
            "design.absolute_cap_mt",
            format!("{:.1}", d.absolute_cap_mt),
            "the run's absolute cap, Mt (a roadmap year: the sector's cap times the run's share of the market)".to_owned(),
            ASSUMED,
        ));
    }
    if d.auction_share > 0.0 {
        rows.push((
            "design.auction_share",
            d.auction_share.to_string(),
            "share of the cap sold at primary auctions (\"a rising paid share\" by 2030, no number published)".to_owned(),
            ASSUMED,
        ));
    }
    if r.active() {
        rows.push((
            "design.reserve",
            r.sentence(),
            "the allowance reserve and its triggers (a reserve is announced, its rules are not)"
                .to_owned(),
            ASSUMED,
        ));
    }
    rows
}
