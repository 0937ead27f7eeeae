//! The trading window: the instrument's trading calendars (with the scenario's
//! holidays) and the trading days of the window.

use crate::scenario::Trading;
use crate::year::date_ms;
use anyhow::{Context as _, Result};
use ets_engine::exchange::TradingCalendar;
use ets_model::Timestamp;

use super::{DAY_MS, HOUR_MS};

/// The trading days of the window and the calendars the instruments list with.
pub(super) struct Window {
    /// Calendar of the listed (or continuous) book.
    pub listed_calendar: TradingCalendar,
    /// Calendar of block agreements.
    pub block_calendar: TradingCalendar,
    /// Trading days, as day numbers since the epoch.
    pub days: Vec<i64>,
    /// Index of the first trading day in November (the late part of the window).
    pub late_from: usize,
    /// The day the window opens, as a day number since the epoch.
    pub first: i64,
}

impl Window {
    /// The window `[trading] window` of `calendar` (a calendar year).
    pub(super) fn of(trading: &Trading, calendar: i64) -> Result<Window> {
        let holidays = trading
            .holidays
            .iter()
            .map(|text| parse_date(text))
            .collect::<Result<Vec<_>>>()?;
        let mut listed_calendar = TradingCalendar::china_listed();
        listed_calendar.holidays.clone_from(&holidays);
        let mut block_calendar = TradingCalendar::china_block();
        block_calendar.holidays.clone_from(&holidays);
        // Trading days: sessions open at 10:00 Beijing.
        let (first, last) = (
            date_ms(calendar, trading.window[0][0], trading.window[0][1], 0).div_euclid(DAY_MS),
            date_ms(calendar, trading.window[1][0], trading.window[1][1], 0).div_euclid(DAY_MS),
        );
        let days: Vec<i64> = (first..=last)
            .filter(|d| listed_calendar.is_open(Timestamp(d * DAY_MS + 2 * HOUR_MS)))
            .collect();
        let november = date_ms(calendar, 11, 1, 0).div_euclid(DAY_MS);
        let late_from = days
            .iter()
            .position(|&d| d >= november)
            .unwrap_or(days.len().max(1));
        Ok(Window {
            listed_calendar,
            block_calendar,
            days,
            late_from,
            first,
        })
    }

    /// When the instruments list: 01:00 UTC the day before the window opens.
    pub(super) fn list_at(&self) -> i64 {
        self.first * DAY_MS - DAY_MS + HOUR_MS
    }
}

fn parse_date(text: &str) -> Result<(u16, u8, u8)> {
    let mut parts = text.split('-');
    let mut next = || -> Result<u32> {
        parts
            .next()
            .context("a date is YYYY-MM-DD")?
            .parse::<u32>()
            .with_context(|| format!("holiday {text:?}"))
    };
    let (y, m, d) = (next()?, next()?, next()?);
    Ok((
        u16::try_from(y).context("year")?,
        u8::try_from(m).context("month")?,
        u8::try_from(d).context("day")?,
    ))
}
