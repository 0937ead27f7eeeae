//! `cargo run --release -p ets-sim --example lab -- [SCENARIO] [ENTITIES] [OVERLAY.toml]`:
//! one year in memory (no store), the calibration figures on stdout.

use ets_engine::Engine;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .unwrap_or_else(|| "scenarios/cn-power-2021.toml".to_owned());
    let entities: Option<u32> = args.next().map(|s| s.parse()).transpose()?;
    let overlay = args.next();
    let mut text: toml::Value = toml::from_str(&std::fs::read_to_string(&path)?)?;
    if let Some(overlay) = overlay {
        let over: toml::Value = toml::from_str(&std::fs::read_to_string(overlay)?)?;
        merge(&mut text, over);
    }
    let base = std::path::Path::new(&path)
        .parent()
        .unwrap_or(std::path::Path::new("."));
    let mut scenario = ets_sim::Scenario::parse(&toml::to_string(&text)?, base)?;
    if let Some(n) = entities {
        scenario = scenario.with_entities(n);
    }
    let mut engine = Engine::new();
    let s = ets_sim::run_year(&scenario, &mut engine)?;
    let late: u64 = s
        .daily_volume
        .iter()
        .filter(|(d, _)| d.as_str() >= "2023-11-01")
        .map(|(_, v)| v)
        .sum();
    if std::env::var_os("LAB_SHORT").is_some() {
        let population = ets_sim::generate(&scenario)?;
        for line in engine
            .compliance()
            .closed_results(&scenario.scenario.scheme, scenario.scenario.year)
            .unwrap_or_default()
        {
            let i = (line.entity.0 - 1_000) as usize;
            if line.status == ets_engine::compliance::EntityStatus::Shortfall
                && population.entities[i].shortfall == 0.0
            {
                println!("undesignated shortfall: {line:?}");
            }
        }
    }
    let long: i64 = s.entity_positions_t.iter().filter(|p| **p > 0).sum();
    let short: i64 = s.entity_positions_t.iter().filter(|p| **p < 0).sum();
    println!(
        "positions: long {:.1} Mt, short {:.1} Mt; bank {:.1}, borrowed {:.1}, ccer {:.1}",
        long as f64 / 1e6,
        short as f64 / 1e6,
        s.banked_2020_mt,
        s.borrowed_mt,
        s.ccer_sold_mt
    );
    println!(
        "traded {:.1} Mt (listed {:.1} block {:.1} cont {:.1} auction {:.1}), late share {:.3}, avg price {:.2}, \
         compliance {:.4} (qty {:.4}), unmet {:.2} Mt, abated {:.1} Mt, cost {:.0} M / least {:.0} M (ratio {:.3}), \
         compliance cost {:.0} M, close first/last {:?}/{:?}, vol {:.4}, participants {}, refused {}, \
         commands {} in {:.1} s ({:.0}/s), spread days {}",
        s.traded_mt,
        s.volume_listed_mt,
        s.volume_block_mt,
        s.volume_continuous_mt,
        s.volume_auction_mt,
        late as f64 / (s.traded_mt * 1e6).max(1.0),
        s.average_price,
        s.compliance_rate,
        s.quantity_compliance_rate,
        s.unmet_demand_mt,
        s.abatement_mt,
        s.abatement_cost_yuan / 1e6,
        s.least_cost_yuan / 1e6,
        s.cost_ratio,
        s.compliance_cost_yuan / 1e6,
        s.daily_close.first().map(|c| c.1),
        s.daily_close.last().map(|c| c.1),
        s.price_volatility,
        s.trading_participants,
        s.orders_refused,
        s.commands,
        s.elapsed_seconds,
        s.commands as f64 / s.elapsed_seconds,
        s.daily_spread.len(),
    );
    println!(
        "period {} window {} to {} ({} trading days); entities in full on time {}, in full but late at an \
         intermediate deadline {}, partial {}, nothing {}, no verified report {}",
        s.period,
        s.trading_window[0],
        s.trading_window[1],
        s.trading_days,
        s.full_on_time,
        s.full_late,
        s.partial,
        s.none_surrendered,
        s.no_verified_report
    );
    Ok(())
}

fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                if k == "title" || k == "description" {
                    continue;
                }
                match b.get_mut(&k) {
                    Some(existing) if existing.is_table() && v.is_table() => merge(existing, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}
