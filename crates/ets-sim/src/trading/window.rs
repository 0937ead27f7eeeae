//! The trading window: the trading days of the window that settles the period
//! (from the timeline, on ets-time's China calendar) and the instruments'
//! trading calendars, whose weekday closures come from the same calendar.

use crate::year::Timeline;
use anyhow::{Context as _, Result};
use ets_engine::exchange::TradingCalendar;

use super::{DAY_MS, HOUR_MS};

/// The share of the late part of the window: the last two months before the first
/// deadline (volume concentrates in the 1-2 months before each deadline,
/// docs/sources.md#cn-market-statistics).
const LATE_DAYS: i64 = 61;
/// The last trading days before a deadline in which a firm that still owes must buy.
pub(super) const CRUNCH_DAYS: usize = 5;

/// The trading days of the window and the calendars the instruments list with.
pub(super) struct Window {
    /// Calendar of the listed (or continuous) book.
    pub listed_calendar: TradingCalendar,
    /// Calendar of block agreements.
    pub block_calendar: TradingCalendar,
    /// Trading days, as day numbers since the epoch.
    pub days: Vec<i64>,
    /// Index of the first trading day of the late part (two months before the first deadline).
    pub late_from: usize,
    /// Index of the last trading day on or before the first intermediate deadline, if any
    /// falls inside the window.
    pub intermediate: Option<usize>,
}

impl Window {
    /// The window of `timeline`.
    pub(super) fn of(timeline: &Timeline) -> Result<Window> {
        let days: Vec<i64> = timeline
            .trading_days
            .iter()
            .map(|day| day.day_number())
            .collect();
        let (first, last) = (
            *timeline.trading_days.first().context("no trading day")?,
            *timeline.trading_days.last().context("no trading day")?,
        );
        let closures: Vec<(u16, u8, u8)> = timeline
            .calendar
            .weekday_closures(first, last)?
            .into_iter()
            .map(|day| {
                let year = u16::try_from(day.year()).context("year")?;
                Ok((year, day.month(), day.day()))
            })
            .collect::<Result<_>>()?;
        let mut listed_calendar = TradingCalendar::china_listed();
        listed_calendar.holidays.clone_from(&closures);
        let mut block_calendar = TradingCalendar::china_block();
        block_calendar.holidays = closures;
        let late = timeline.deadlines[0].due.day_number() - LATE_DAYS;
        let late_from = days
            .iter()
            .position(|&d| d >= late)
            .unwrap_or(days.len().saturating_sub(1));
        let intermediate = timeline
            .intermediate_deadlines()
            .first()
            .and_then(|deadline| deadline.last_trading_day);
        Ok(Window {
            listed_calendar,
            block_calendar,
            days,
            late_from,
            intermediate,
        })
    }

    /// When the instruments list: 00:30 UTC (08:30 Beijing) on the first trading day,
    /// before the morning session.
    pub(super) fn list_at(&self) -> i64 {
        self.days.first().copied().unwrap_or(0) * DAY_MS + HOUR_MS / 2
    }

    /// The first trading day of the crunch before the intermediate deadline, if any.
    pub(super) fn crunch_from(&self) -> Option<usize> {
        self.intermediate
            .map(|day| (day + 1).saturating_sub(CRUNCH_DAYS))
    }

    /// Whether trading day `index` is one of the last days before the intermediate deadline.
    pub(super) fn in_crunch(&self, index: usize) -> bool {
        match (self.crunch_from(), self.intermediate) {
            (Some(from), Some(to)) => (from..=to).contains(&index),
            _ => false,
        }
    }
}
