//! The simulated compliance period on the real timeline (docs/simulation.md,
//! "Timeline"). Every date of a run comes from the rulebook: its compliance
//! period (2019-2020 is one), the allocation deadlines, and the surrender
//! deadlines after the rulebook's holiday rule. The market trades in the window
//! that settled the period: from the first trading day after the allocation is
//! final (and not before the national market opened, `[trading] market_opens`)
//! to the last deadline, on the trading days of ets-time's China calendar (no
//! weekends, public holidays or make-up working days). The scenario names no
//! holiday: the calendar has one home.

use super::date_ms;
use crate::scenario::Scenario;
use anyhow::{Context as _, Result, bail};
use ets_scheme::Rulebook;
use ets_time::{CivilDate, HolidayCalendar};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive as _;

/// One surrender deadline of the period, as the simulation meets it.
#[derive(Debug, Clone, PartialEq)]
pub struct SimDeadline {
    /// The day it falls on (after the rulebook's `on_holiday` rule).
    pub due: CivilDate,
    /// The cumulative share of the obligation due by then, in millionths (950,000 = 95%).
    pub share_millionths: u64,
    /// Index in [`Timeline::trading_days`] of the last trading day on or before `due`;
    /// `None` when the window opens after it.
    pub last_trading_day: Option<usize>,
}

impl SimDeadline {
    /// When the firms surrender for it: after the close of its last trading day
    /// (16:00 Beijing), or at 16:00 Beijing on the day itself when the window opens later.
    #[must_use]
    pub fn surrender_ms(&self, trading_days: &[CivilDate]) -> i64 {
        let day = self
            .last_trading_day
            .and_then(|index| trading_days.get(index).copied())
            .unwrap_or(self.due);
        day_ms(day, 8)
    }

    /// Tonnes of an obligation of `tonnes` due by this deadline (rounded up, as the engine does).
    #[must_use]
    pub fn due_of(&self, tonnes: u64) -> u64 {
        let product = u128::from(tonnes) * u128::from(self.share_millionths);
        u64::try_from(product.div_ceil(1_000_000)).unwrap_or(u64::MAX)
    }
}

/// The dates of the simulated period.
#[derive(Debug, Clone)]
pub struct Timeline {
    /// The period's label (`2019-2020`, `2021`).
    pub period: String,
    /// Its compliance years, ascending (one obligation for all of them).
    pub years: Vec<u16>,
    /// The day of the pre-allocation.
    pub pre_allocation: CivilDate,
    /// The day the allocation is final (final allocation, borrowing, offsets).
    pub final_allocation: CivilDate,
    /// The trading days of the window, in order.
    pub trading_days: Vec<CivilDate>,
    /// The surrender deadlines, earliest first; the last asks for the whole obligation.
    pub deadlines: Vec<SimDeadline>,
    /// The calendar the trading days come from.
    pub calendar: HolidayCalendar,
}

/// The day as a [`CivilDate`], with the scenario key it came from in errors.
fn parse_day(text: &str, key: &str) -> Result<CivilDate> {
    text.parse()
        .map_err(|error| anyhow::anyhow!("{key}: {text:?}: {error}"))
}

/// `day` at `hour`:00 UTC, ms since the epoch.
#[must_use]
pub fn day_ms(day: CivilDate, hour: u32) -> i64 {
    date_ms(
        i64::from(day.year()),
        u32::from(day.month()),
        u32::from(day.day()),
        hour,
    )
}

fn civil(date: ets_scheme::rulebook::CalendarDate) -> Result<CivilDate> {
    Ok(CivilDate::try_new(
        i32::from(date.year),
        date.month,
        date.day,
    )?)
}

impl Timeline {
    /// The timeline of `scenario`'s period under its rulebook (`rulebook`, the text as loaded).
    ///
    /// # Errors
    /// When the rulebook does not govern the scenario's year, its dates leave no trading
    /// day, the calendar does not cover them, or `[trading] window` leaves the settling window.
    pub fn of(scenario: &Scenario, rulebook: &str) -> Result<Timeline> {
        let year = scenario.scenario.year;
        let rules = Rulebook::from_toml_str(rulebook, "the scenario's rulebook")
            .map_err(|error| anyhow::anyhow!("{error}"))?;
        let period = rules
            .period_of(year)
            .with_context(|| format!("the rulebook does not govern {year}"))?;
        let calendar = HolidayCalendar::china()?;
        let last_year = i32::from(period.last_year());
        // Reports of the last year are verified and corrected by 1 July of the next
        // (see mrv): allocation comes after them.
        let after_mrv = CivilDate::try_new(last_year + 1, 7, 2)?;
        let pre_allocation = match rules.deadlines.pre_allocation {
            Some(date) => civil(date)?.max(after_mrv),
            None => after_mrv,
        };
        let final_allocation = match rules.deadlines.final_allocation {
            Some(date) => civil(date)?.max(pre_allocation),
            None => pre_allocation,
        };
        let market_opens = parse_day(&scenario.trading.market_opens, "trading.market_opens")?;
        let last_due = civil(
            period
                .deadlines
                .last()
                .context("the period has no surrender deadline")?
                .due,
        )?;
        let opens =
            first_trading_day_after(&calendar, final_allocation.max(market_opens.add_days(-1)?))?;
        let (first, last) = window_override(scenario, opens, last_due)?;
        let trading_days = trading_days(&calendar, first, last)?;
        if trading_days.is_empty() {
            bail!("no trading day between {first} and {last}");
        }
        let deadlines = period
            .deadlines
            .iter()
            .map(|deadline| {
                let due = civil(deadline.due)?;
                let share = deadline.cumulative_share * Decimal::from(1_000_000u32);
                Ok(SimDeadline {
                    due,
                    share_millionths: share.ceil().to_u64().unwrap_or(1_000_000),
                    last_trading_day: trading_days.iter().rposition(|day| *day <= due),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Timeline {
            period: period.label(),
            years: period.years.clone(),
            pre_allocation,
            final_allocation,
            trading_days,
            deadlines,
            calendar,
        })
    }

    /// The last deadline (the whole obligation).
    #[must_use]
    pub fn last_deadline(&self) -> &SimDeadline {
        // `of` refuses a period without deadlines.
        &self.deadlines[self.deadlines.len() - 1]
    }

    /// The deadlines before the last one (intermediate shares).
    #[must_use]
    pub fn intermediate_deadlines(&self) -> &[SimDeadline] {
        &self.deadlines[..self.deadlines.len() - 1]
    }

    /// When the period closes: 09:00 Beijing on the day after the last deadline.
    pub fn close_ms(&self) -> Result<i64> {
        Ok(day_ms(self.last_deadline().due.add_days(1)?, 1))
    }

    /// The first trading day of the window.
    #[must_use]
    pub fn first_trading_day(&self) -> CivilDate {
        self.trading_days[0]
    }

    /// A foreseen window (docs/simulation.md, "The foreseen window"): the trading days
    /// after `after` up to `last`, labelled `period`, for the compliance `years` it looks
    /// ahead to. Nothing is due in it: its one deadline (the last day, whole share) only
    /// places the window's late part before its end. `None` when no trading day falls in it.
    ///
    /// # Errors
    /// When the calendar does not cover the days.
    pub(crate) fn foreseen(
        period: String,
        years: Vec<u16>,
        after: CivilDate,
        last: CivilDate,
    ) -> Result<Option<Timeline>> {
        let calendar = HolidayCalendar::china()?;
        let first = first_trading_day_after(&calendar, after)?;
        if first > last {
            return Ok(None);
        }
        let trading_days = trading_days(&calendar, first, last)?;
        let Some(&end) = trading_days.last() else {
            return Ok(None);
        };
        Ok(Some(Timeline {
            period,
            years,
            pre_allocation: end,
            final_allocation: end,
            deadlines: vec![SimDeadline {
                due: end,
                share_millionths: 1_000_000,
                last_trading_day: Some(trading_days.len() - 1),
            }],
            trading_days,
            calendar,
        }))
    }
}

/// The first trading day strictly after `day`.
fn first_trading_day_after(calendar: &HolidayCalendar, day: CivilDate) -> Result<CivilDate> {
    let mut day = day.add_days(1)?;
    while !calendar.is_trading_day(day)? {
        day = day.add_days(1)?;
    }
    Ok(day)
}

/// The trading days from `first` to `last`, inclusive.
fn trading_days(
    calendar: &HolidayCalendar,
    first: CivilDate,
    last: CivilDate,
) -> Result<Vec<CivilDate>> {
    let mut days = Vec::new();
    for number in first.day_number()..=last.day_number() {
        let day = CivilDate::from_day_number(number)?;
        if calendar.is_trading_day(day)? {
            days.push(day);
        }
    }
    Ok(days)
}

/// The window's first and last day: the settling window (`opens` to `last_due`), or the
/// scenario's `[trading] window` inside it.
fn window_override(
    scenario: &Scenario,
    opens: CivilDate,
    last_due: CivilDate,
) -> Result<(CivilDate, CivilDate)> {
    let Some([from, to]) = &scenario.trading.window else {
        return Ok((opens, last_due));
    };
    let (first, last) = (
        parse_day(from, "trading.window")?,
        parse_day(to, "trading.window")?,
    );
    if first < opens || last > last_due || first > last {
        bail!(
            "trading.window: [{first}, {last}] must lie in order inside the window that settles \
             the period, {opens} (the first trading day after the allocation is final and the \
             market opened) to {last_due} (the last surrender deadline)"
        );
    }
    Ok((first, last))
}
