//! The foreseen window (docs/simulation.md, "The foreseen window"): when one window
//! settles several periods (China's 2021 and 2022, both settled in 2023), the firms
//! trade in the calendar year between the first period's verified emissions and the
//! next period's reports, before any allocation of the step is issued, on the position
//! they foresee: what they hold, plus what the step's published allocation methods will
//! give their output, less what their verified emissions will oblige them to surrender
//! in each of the step's years. Only the vintage the last window traded exists then.

use super::driver::{Driver, Sink};
use super::foresight::{StepOutlook, foresight, gas_only};
use super::{Timeline, entity_account};
use crate::agents::Firm;
use crate::scenario::{Rng, Scenario, SimEntity};
use crate::trading;
use anyhow::{Context as _, Result};
use ets_model::UnitClass;
use ets_time::CivilDate;

/// Per line of `entities`, the balance it foresees over a step's periods before their
/// allocation, tonnes (negative = short): for each `(scenario, free_factor)` of the step,
/// the allocation its rulebook's method makes to the line's output (times the design's
/// free factor) less what the line's emissions would oblige it to surrender (the
/// rulebook's caps applied; a designated defaulter's part left out). Every year is
/// foreseen on the same output and emissions: the latest verified.
///
/// # Errors
/// When a rulebook cannot be run on the population.
pub(super) fn balances(steps: &[(&Scenario, f64)], entities: &[SimEntity]) -> Result<Vec<f64>> {
    let mut balance = vec![0.0; entities.len()];
    for &(scenario, free_factor) in steps {
        let foresight = foresight(scenario, entities)?;
        let lines = balance.iter_mut().zip(entities).zip(&foresight.allocations);
        for ((slot, entity), &allocation) in lines {
            let allocation = allocation as f64 * free_factor;
            let owed = foresight.obligation(entity.emissions(), allocation, gas_only(entity));
            *slot += allocation - owed * (1.0 - entity.shortfall);
        }
    }
    Ok(balance)
}

/// The foreseen window of a step whose `first` period is followed by others in the same
/// window: the trading days after the first period's emissions are verified (1 July of
/// the year after its last year, as the timeline's allocation waits for), the market
/// opened (`market_opens`) and the previous step's last deadline (`previous`), to the end
/// of that calendar year (the next period's reports follow). `None` when no day is left.
///
/// # Errors
/// When a date is out of the calendar's range or `market_opens` is no date.
pub(super) fn window(
    first: &Timeline,
    market_opens: &str,
    previous: Option<CivilDate>,
    years: Vec<u16>,
) -> Result<Option<Timeline>> {
    let last_year = i32::from(*first.years.last().context("a period without years")?);
    let verified = CivilDate::try_new(last_year + 1, 7, 1)?;
    let opens: CivilDate = market_opens
        .parse()
        .map_err(|error| anyhow::anyhow!("trading.market_opens: {market_opens:?}: {error}"))?;
    let after = verified
        .max(opens.add_days(-1)?)
        .max(previous.unwrap_or(verified));
    let end = CivilDate::try_new(last_year + 1, 12, 31)?;
    let label = format!("{} foreseen in {}", first.period, last_year + 1);
    Timeline::foreseen(label, years, after, end)
}

/// What a foreseen window trades with.
pub(super) struct Foreseen<'a> {
    /// The step's first period's scenario (its behaviour, its listing anchor).
    pub scenario: &'a Scenario,
    /// Its firms, at the prices they expect.
    pub firms: &'a [Firm],
    /// Its market-clearing expected price, yuan/t.
    pub clearing_price: f64,
    /// The window ([`window`]).
    pub timeline: &'a Timeline,
    /// The vintage traded: the last one issued.
    pub class: UnitClass,
    /// Per line, the foreseen balance ([`balances`]).
    pub balances: &'a [f64],
    /// The step's outlook (bankers in it bank as in the step's window).
    pub outlook: StepOutlook,
}

/// Salt of the foreseen window's random stream (xored with the scenario's seed): its draws
/// leave the chain's stream as it was.
const FORESEEN_STREAM: u64 = 0xF0E5_EE00_2022_0000;

/// Runs a foreseen window: a line short of its foreseen balance buys what it lacks, a
/// long line offers what it holds up to its foreseen surplus; nothing is due, so no buyer
/// is forced to the band's top and nobody hedges beyond its need. It draws from a stream
/// of its own (the scenario's seed), so the rest of the chain draws as without it.
///
/// # Errors
/// When a command the market relies on is refused.
pub(super) fn trade<S: Sink>(driver: &mut Driver<'_, S>, foreseen: &Foreseen<'_>) -> Result<()> {
    let latest = match foreseen.class {
        UnitClass::Allowance { vintage, .. } => vintage.0,
        UnitClass::Offset { .. } => return Ok(()),
    };
    let engine = driver.sink.engine();
    if engine.registry().class_index(&foreseen.class).is_err() {
        return Ok(());
    }
    let (mut need, mut surplus) = (Vec::new(), Vec::new());
    for (line, balance) in foreseen.balances.iter().enumerate() {
        let account = entity_account(u32::try_from(line).context("entity index")?);
        let holds = super::chain::allowances_held(engine, account, latest) as f64;
        let position = holds + balance;
        need.push((-position).max(0.0) as u64);
        surplus.push(position.clamp(0.0, holds) as u64);
    }
    let emissions = vec![0; need.len()];
    let input = trading::MarketInput {
        scenario: foreseen.scenario,
        clearing_price: foreseen.clearing_price,
        firms: foreseen.firms,
        need: &need,
        surplus: &surplus,
        emissions: &emissions,
        years: 1,
        need_early: &[],
        timeline: foreseen.timeline,
        class: foreseen.class,
        auction_volume: 0,
        expected_growth: foreseen.outlook.growth,
        precaution: foreseen.outlook.precaution,
        must_sell: &[],
        carry_room: &[],
        foreseen: true,
    };
    let mut rng = Rng::new(foreseen.scenario.scenario.seed ^ FORESEEN_STREAM);
    trading::run(driver, &input, &mut rng, &mut |_, _| Ok(()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> CivilDate {
        text.parse().expect("a date")
    }

    #[test]
    fn the_window_after_2021_trades_from_verification_to_the_end_of_2022() {
        // Goal: the 2021 period's emissions are verified by 1 July 2022; the window opens
        // on the next trading day (Monday 4 July) and ends on the last trading day of 2022
        // (Friday 30 December); the previous deadline or a later market opening delay it.
        let first = Timeline::foreseen(
            "2021".into(),
            vec![2021],
            day("2021-07-15"),
            day("2021-12-31"),
        )
        .expect("calendar")
        .expect("days");
        let opened = window(
            &first,
            "2021-07-16",
            Some(day("2021-12-31")),
            vec![2021, 2022],
        )
        .expect("dates")
        .expect("a window");
        assert_eq!(opened.first_trading_day(), day("2022-07-04"));
        assert_eq!(opened.trading_days.last(), Some(&day("2022-12-30")));
        assert_eq!(opened.years, [2021, 2022]);
        assert_eq!(opened.deadlines.len(), 1, "nothing but its end");
        let late = window(&first, "2022-09-01", None, vec![2021])
            .expect("dates")
            .expect("a window");
        assert_eq!(late.first_trading_day(), day("2022-09-01"));
        let none = window(&first, "2023-01-01", None, vec![2021]).expect("dates");
        assert!(
            none.is_none(),
            "a market opening after the year leaves no window"
        );
    }
}
