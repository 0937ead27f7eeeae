//! One trading day of the window: the day's auction, who acts and in which order,
//! the morning session (institutions' quotes, then half of the firms), the afternoon
//! (block agreements, then the rest of the firms), and the end of day.

use super::window::{CRUNCH_DAYS, Window};
use super::{
    AFTERNOON_MS, CLOSE_MS, DAY_MS, MORNING_MS, Market, MarketInput, MarketOutcome, SESSION_MS,
};
use crate::scenario::Rng;
use crate::year::Sink;
use anyhow::Result;
use ets_market::Side;
use ets_model::AccountId;
use std::collections::BTreeMap;

/// Where a day stands in the window.
#[derive(Debug, Clone, Copy)]
pub(super) struct Day {
    /// Index among the window's trading days.
    pub index: usize,
    /// Midnight UTC of the day, ms.
    pub base: i64,
    /// Share of the window gone, 0 on the first day and 1 on the last.
    pub progress: f64,
    /// One of the last five trading days: buyers must buy.
    pub final_days: bool,
    /// One of the last five trading days before the intermediate deadline: buyers that
    /// must reach its share by then act every day.
    pub crunch: bool,
    /// The last trading day before the intermediate deadline: those buyers must buy.
    pub intermediate: bool,
}

impl<S: Sink> Market<'_, '_, S> {
    /// Trades day `index` of the window and records its close, VWAP and spread.
    pub(super) fn trade_day(
        &mut self,
        window: &Window,
        index: usize,
        auction_days: &BTreeMap<usize, u64>,
        input: &MarketInput<'_>,
        outcome: &mut MarketOutcome,
        rng: &mut Rng,
    ) -> Result<()> {
        let n_days = window.days.len().max(1);
        let day = Day {
            index,
            base: window.days[index] * DAY_MS,
            progress: index as f64 / (n_days - 1).max(1) as f64,
            final_days: index + CRUNCH_DAYS >= n_days,
            crunch: window.in_crunch(index),
            intermediate: window.intermediate == Some(index),
        };
        if let Some(&volume) = auction_days.get(&index) {
            let remaining_auctions = auction_days.range(index..).count();
            if let Some(p) = self.auction(
                day.base,
                volume,
                input,
                day.progress,
                remaining_auctions,
                rng,
            )? {
                outcome
                    .auction_prices
                    .push((crate::report::civil(day.base), p));
            }
        }
        if self.releasing(day.final_days) {
            self.release_held_back();
        }
        let active = self.active_today(window, day, input, rng);
        let firms = self.morning(&active, day, rng)?;
        self.afternoon(&firms, day, rng)?;
        self.close_day(day, outcome)
    }

    /// Who acts today, in a random order: every institution, and each started firm
    /// with something left to do that chooses to act (all of them in the final days).
    fn active_today(
        &self,
        window: &Window,
        day: Day,
        input: &MarketInput<'_>,
        rng: &mut Rng,
    ) -> Vec<usize> {
        let trading = &input.scenario.trading;
        let activity = trading.activity
            * if day.index < window.late_from {
                trading.early_activity
            } else {
                1.0
            };
        let mut active: Vec<usize> = (0..self.agents.len())
            .filter(|&n| {
                let a = &self.agents[n];
                a.entity.is_none()
                    || (day.index >= a.start
                        && (a.buy_left > 0 || a.sell_left > 0)
                        && (self.urgent(n, day)
                            || (day.crunch && self.agents[n].early_left > 0)
                            || rng.chance(activity)))
            })
            .collect();
        for n in (1..active.len()).rev() {
            active.swap(n, rng.below(n as u64 + 1) as usize);
        }
        active
    }

    /// The morning session: the floor desk's bid, the institutions' quotes, then the
    /// first half of the active firms. Returns the active firms.
    fn morning(&mut self, active: &[usize], day: Day, rng: &mut Rng) -> Result<Vec<usize>> {
        let mut at = day.base + MORNING_MS;
        if self.floor_ticks > 0 {
            self.floor_bid(at)?;
        }
        let (firms, quoting): (Vec<usize>, Vec<usize>) = active
            .iter()
            .copied()
            .partition(|&n| self.agents[n].entity.is_some());
        for n in quoting {
            at += 1_000;
            self.institution(n, at, day.progress, rng)?;
        }
        let half = firms.len() / 2;
        let step = SESSION_MS / (half.max(1) as i64 + 1);
        for (j, &n) in firms[..half].iter().enumerate() {
            let at = day.base + MORNING_MS + (j as i64 + 1) * step;
            self.firm(n, at, day.progress, self.due_today(n, day), rng)?;
        }
        Ok(firms)
    }

    /// The afternoon session: block agreements first, then the second half of the
    /// active firms in the listed book.
    fn afternoon(&mut self, firms: &[usize], day: Day, rng: &mut Rng) -> Result<()> {
        let mut t = day.base + AFTERNOON_MS;
        if self.block.is_some() {
            t = self.blocks(day, firms, t, rng)?;
        }
        let rest = &firms[firms.len() / 2..];
        let end = day.base + AFTERNOON_MS + SESSION_MS;
        let step = ((end - t) / (rest.len() as i64 + 1)).max(1);
        for (j, &n) in rest.iter().enumerate() {
            let at = t + (j as i64 + 1) * step;
            self.firm(n, at, day.progress, self.due_today(n, day), rng)?;
        }
        Ok(())
    }

    /// Whether the last-days release acts today (docs/simulation.md, "Agents" and "Round
    /// 10"): one of the last days, opened with buyers pinned at the listed band's top (the
    /// last day closed with a bid there and nothing offered at or below it). A firm short at
    /// the deadline faces a fine of several times the market price (2024 rules), so a bid
    /// at the band's top is the best price a long firm's surplus will fetch in this window,
    /// and what it holds beyond its obligation is not needed to comply: it offers the part
    /// of its surplus it held back (`release_held_back`). (An ask above the band goes at
    /// the top on any day after buyers sat pinned there: `Market::release`.)
    pub(super) fn releasing(&self, final_days: bool) -> bool {
        final_days && self.pinned_at_top
    }

    /// The held-back part of every long firm's surplus joins what it offers
    /// (`releasing`).
    fn release_held_back(&mut self) {
        for agent in self.agents.iter_mut().filter(|a| a.entity.is_some()) {
            agent.sell_left += agent.held_back;
            agent.held_back = 0;
        }
    }

    /// Whether buyers sit pinned at the listed band's top now: the best bid is there and
    /// nothing is offered at or below it (the day's close cannot rise unless something
    /// trades). Since round 10 an ask above the band is withheld, not clamped to the top
    /// (`trading::sell_ticks`), so a book whose sellers all ask above the band shows no
    /// offer, and the buyers at the top are pinned: the release can fire. Before, the
    /// clamped asks sat at the top and it never did.
    fn pinned(&self) -> bool {
        let (_, upper) = self.band(&self.listed);
        let bid = self.best(Side::Buy, AccountId(0)).map(|((p, _), _)| p);
        let ask = self.best(Side::Sell, AccountId(0)).map(|((p, _), _)| p);
        bid.is_some_and(|b| b >= upper) && ask.is_none_or(|a| a > upper)
    }

    /// Whether agent `n` must buy today: the last days of the window, or the last day
    /// before the intermediate deadline while it still lacks that deadline's share.
    pub(super) fn urgent(&self, n: usize, day: Day) -> bool {
        self.due_today(n, day).is_some()
    }

    /// What agent `n` must buy today whatever the price the band allows, when it must buy
    /// today (`urgent`): in the last days all it owes; on the last day before the
    /// intermediate deadline that deadline's share only. Bidding the top for its whole need
    /// there, a firm that owes much would take the offers the firms short of the share
    /// need (since round 9 an action may post several listed orders).
    pub(super) fn due_today(&self, n: usize, day: Day) -> Option<u64> {
        let a = &self.agents[n];
        if day.final_days {
            Some(a.must_buy)
        } else if day.intermediate && a.early_left > 0 {
            Some(a.early_left.min(a.must_buy))
        } else {
            None
        }
    }

    /// Ends the day and records its close, VWAP and mean spread.
    fn close_day(&mut self, day: Day, outcome: &mut MarketOutcome) -> Result<()> {
        self.pinned_at_top = self.pinned();
        let (close, vwap) = self.end_of_day(day.base + CLOSE_MS)?;
        let date = crate::report::civil(day.base + CLOSE_MS);
        outcome.daily_close.push((date.clone(), close));
        if let Some(vwap) = vwap {
            outcome.daily_vwap.push((date.clone(), vwap));
        }
        if self.spread_samples > 0 {
            let mean = self.spread_sum / f64::from(self.spread_samples);
            outcome.daily_spread.push((date, mean));
        }
        self.spread_sum = 0.0;
        self.spread_samples = 0;
        Ok(())
    }

    /// What the window left: unmet demand, refusals, the floor's purchases, the
    /// participants and each firm's net purchases.
    pub(super) fn finish(&self, outcome: &mut MarketOutcome, firms: usize) {
        outcome.unmet = self.agents.iter().map(|a| a.must_buy).sum();
        outcome.refused = self.refused;
        outcome.floor_bought = self.floor_bought;
        outcome.participants = self.entered.len();
        outcome.net_purchases_fen = vec![0; firms];
        for agent in &self.agents {
            if let Some(i) = agent.entity {
                outcome.net_purchases_fen[i] = agent.net_fen;
            }
        }
    }
}
