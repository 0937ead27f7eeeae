//! Fits the chain's behavioural parameters on the calibration years only
//! (docs/simulation.md, "Fitting the behavioural parameters"):
//!
//! ```sh
//! cargo run --release -p ets-sim --example fit -- scenarios/cn-power-2019-2025.toml [ENTITIES]
//! cargo run --release -p ets-sim --example fit -- scenarios/cn-power-2019-2025.toml 2200 \
//!     --check PREMIUM CARRY HOLD
//! ```
//!
//! The procedure: a grid over `[trading] tightening_premium`, `carry_cost` and `hold_share`
//! (set in every period; `urgency` stays the scenarios' 0.15, the best of 0.15, 0.3 and 0.5
//! at every point of a first grid), each point run in memory on the chain's periods up to the last
//! one that settles in a calibration year's window plus the next (so that window foresees
//! the next rulebook), with `ENTITIES` firms (default 300). Its loss is the sum over the
//! calibration years (`role = "calibration"` in the chain) with simulated trading of the
//! squared log errors of volume (scaled by the chain's entity count over `ENTITIES`),
//! average price and close. It prints every point and the best; `--check` runs one point
//! on the whole chain and prints every year.

use ets_sim::multiyear::{Chain, MarketYear, PublishedYear, Role, market_years, run_in_memory};
use std::path::PathBuf;

/// The grid: tightening premium (per point), mean cost of carry, hold share.
const PREMIUMS: [f64; 3] = [0.03, 0.06, 0.12];
const CARRY_COSTS: [f64; 2] = [0.05, 0.15];
const HOLD_SHARES: [f64; 3] = [0.2, 0.5, 0.8];

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        anyhow::bail!("usage: fit CHAIN.toml [ENTITIES] [--check PREMIUM CARRY HOLD]");
    };
    let full = Chain::load(&PathBuf::from(path))?;
    let entities: u32 = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(300);
    let scale = f64::from(full.header.entities) / f64::from(entities);
    let chain = full.clone().with_entities(entities);
    if let Some(k) = args.iter().position(|a| a == "--check") {
        let value = |i: usize| -> anyhow::Result<f64> {
            Ok(args
                .get(k + i)
                .map(|v| v.parse())
                .transpose()?
                .unwrap_or(0.0))
        };
        let point = [value(1)?, value(2)?, value(3)?];
        let years = run(&chain, point)?;
        println!("year | volume Mt (scaled) | published | average | published | close | published");
        for m in &years {
            let p = chain.published.iter().find(|p| p.year == m.year);
            println!(
                "{} | {:.1} | {} | {:.2} | {} | {:.2} | {}",
                m.year,
                m.tonnes as f64 / 1e6 * scale,
                p.map_or("-".into(), |p| format!("{:.1}", p.traded_mt)),
                m.average,
                p.map_or("-".into(), |p| format!("{:.2}", p.average_price)),
                m.close,
                p.and_then(|p| p.close)
                    .map_or("-".into(), |c| format!("{c:.2}")),
            );
        }
        println!("loss {:.4}", loss(&chain.published, &years, scale));
        return Ok(());
    }
    let calibration = truncated(&chain);
    let mut best: Option<([f64; 3], f64)> = None;
    println!("premium carry_cost hold_share loss");
    for premium in PREMIUMS {
        for carry in CARRY_COSTS {
            for hold in HOLD_SHARES {
                let point = [premium, carry, hold];
                let years = run(&calibration, point)?;
                let l = loss(&calibration.published, &years, scale);
                println!("{premium} {carry} {hold} {l:.4}");
                if best.is_none_or(|(_, b)| l < b) {
                    best = Some((point, l));
                }
            }
        }
    }
    if let Some((point, l)) = best {
        println!(
            "best: tightening_premium = {}, carry_cost = {}, hold_share = {} (loss {l:.4})",
            point[0], point[1], point[2]
        );
    }
    Ok(())
}

/// The chain up to the last period whose step trades in a calibration year, plus the next
/// period (the rulebook that window foresees).
fn truncated(chain: &Chain) -> Chain {
    let last_year = chain
        .published
        .iter()
        .filter(|p| p.role == Role::Calibration)
        .map(|p| p.year)
        .max()
        .unwrap_or(i32::MAX);
    // A period of year Y settles in Y + 1 (China: by 31 Dec of Y + 1); 2021-22 in 2023.
    let keep = chain
        .periods
        .iter()
        .position(|p| i32::from(p.scenario.year) + 1 > last_year)
        .map_or(chain.periods.len(), |i| (i + 1).min(chain.periods.len()));
    let mut out = chain.clone();
    out.periods.truncate(keep);
    out
}

/// Runs `chain` with the parameters of `point` set in every period.
fn run(chain: &Chain, [premium, carry, hold]: [f64; 3]) -> anyhow::Result<Vec<MarketYear>> {
    let mut chain = chain.clone();
    for period in &mut chain.periods {
        period.trading.tightening_premium = premium;
        period.trading.carry_cost = carry;
        period.trading.hold_share = hold;
    }
    let (outcome, _) = run_in_memory(&chain)?;
    Ok(market_years(&outcome.trades))
}

/// Sum over the calibration years with simulated trading of the squared log errors of
/// volume (scaled), average price and close.
fn loss(published: &[PublishedYear], years: &[MarketYear], scale: f64) -> f64 {
    let term = |sim: f64, real: f64| {
        if sim > 0.0 && real > 0.0 {
            (sim / real).ln().powi(2)
        } else {
            0.0
        }
    };
    published
        .iter()
        .filter(|p| p.role == Role::Calibration)
        .filter_map(|p| years.iter().find(|m| m.year == p.year).map(|m| (p, m)))
        .map(|(p, m)| {
            term(m.tonnes as f64 / 1e6 * scale, p.traded_mt)
                + term(m.average, p.average_price)
                + p.close.map_or(0.0, |c| term(m.close, c))
        })
        .sum()
}
