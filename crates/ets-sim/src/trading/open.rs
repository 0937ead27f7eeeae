//! Opening the market: the instruments listed, the agents (firms with something to
//! do, institutions under open participation) with their cash, and the authority's
//! price-support desk.

use super::window::Window;
use super::{
    Agent, Book, FLOOR_ACCOUNT, FLOOR_DESK, INSTITUTION_BASE, MarketInput, price, yuan_to_ticks,
};
use crate::scenario::{Design, Participation, Rng, Trading as TradingParams, TradingDesign};
use crate::year::{
    ADMIN, Driver, EXCHANGE_OPERATOR, FEE_ACCOUNT, Sink, code, entity_account, entity_participant,
    exchange, registry,
};
use anyhow::{Context as _, Result};
use ets_engine::exchange::{ExchangeCommand, TradingMode};
use ets_market::{InstrumentRules, MarketDataRules};
use ets_model::{AccountId, Money, ParticipantId};
use ets_registry::{AccountKind, ParticipantKind, RegistryCommand};

/// The instruments of the window.
pub(super) struct Listing {
    /// The price-forming book: listed agreements, or the continuous book.
    pub listed: Book,
    /// Block agreements (none in the continuous design).
    pub block: Option<Book>,
    /// The continuous design: one book for everything.
    pub continuous: bool,
    /// The listing's reference price, yuan/t.
    pub anchor: f64,
}

/// Lists the instruments the day before the window opens. The listing's reference (the
/// first day's band centre) is the scenario's anchor, or the market-clearing
/// expectation when scarcity raised it above the anchor. The block desk follows the
/// listed book's close (`TradingMode::ChinaBlockOf`): China centres the block band on
/// the listed market's previous close (docs/sources.md#cn-exchange). An instrument an
/// earlier window listed (a foreseen window trades the vintage the last settling window
/// traded) trades on: its reference is its last close.
pub(super) fn list_instruments<S: Sink>(
    driver: &mut Driver<'_, S>,
    input: &MarketInput<'_>,
    window: &Window,
    list_at: i64,
) -> Result<Listing> {
    let anchor = input.scenario.market.price_mean.max(input.clearing_price);
    let reference = price(yuan_to_ticks(anchor))?;
    let continuous = input.scenario.design.trading == TradingDesign::Continuous;
    let (rules, mode) = if continuous {
        let rules = InstrumentRules {
            price_band_bps: Some(1_000),
            ..InstrumentRules::CONTINUOUS
        };
        (rules, TradingMode::Continuous)
    } else {
        (InstrumentRules::CHINA_LISTED, TradingMode::ChinaListed)
    };
    let (listed_symbol, block_symbol) = symbols(&input.class);
    let listed = Book {
        symbol: code(&listed_symbol)?,
        rules,
        reference,
    };
    let block = if continuous {
        None
    } else {
        Some(Book {
            symbol: code(&block_symbol)?,
            rules: InstrumentRules::CHINA_BLOCK,
            reference,
        })
    };
    let exchange = driver.sink.engine().exchange();
    if let Some(stats) = exchange.day_stats(&listed.symbol) {
        return Ok(trading_on(listed, block, continuous, stats.previous_close));
    }
    list(
        driver,
        input,
        &listed,
        mode,
        &window.listed_calendar,
        list_at,
    )?;
    if let Some(block) = &block {
        let calendar = &window.block_calendar;
        let mode = TradingMode::ChinaBlockOf {
            listed: listed.symbol,
        };
        list(driver, input, block, mode, calendar, list_at)?;
    }
    Ok(Listing {
        listed,
        block,
        continuous,
        anchor,
    })
}

/// The instruments an earlier window listed, trading on from the listed book's last
/// close, which the block desk follows too.
fn trading_on(
    mut listed: Book,
    mut block: Option<Book>,
    continuous: bool,
    close: ets_model::Price,
) -> Listing {
    listed.reference = close;
    if let Some(block) = &mut block {
        block.reference = close;
    }
    Listing {
        listed,
        block,
        continuous,
        anchor: close.ticks() as f64 / 100.0,
    }
}

/// The listed and block symbols of a traded vintage (`CEA21`, `CEA21B` for 2021), so each
/// period of a multi-year run lists its own instruments.
fn symbols(class: &ets_model::UnitClass) -> (String, String) {
    let year = match class {
        ets_model::UnitClass::Allowance { vintage, .. } => vintage.0 % 100,
        ets_model::UnitClass::Offset { .. } => 0,
    };
    (format!("CEA{year:02}"), format!("CEA{year:02}B"))
}

/// Lists one instrument of the traded class.
fn list<S: Sink>(
    driver: &mut Driver<'_, S>,
    input: &MarketInput<'_>,
    book: &Book,
    mode: TradingMode,
    calendar: &ets_engine::exchange::TradingCalendar,
    at: i64,
) -> Result<()> {
    driver.ok(
        ADMIN,
        at,
        exchange(ExchangeCommand::ListInstrument {
            symbol: book.symbol,
            class: input.class,
            mode,
            rules: book.rules,
            reference_price: book.reference,
            fee_bps: 0,
            fee_account: FEE_ACCOUNT,
            no_same_day_resale: true,
            market_data: MarketDataRules::CHINA,
            calendar: Some(calendar.clone()),
        }),
    )?;
    Ok(())
}

/// The firms with something to do: short firms buy what they need (early buyers
/// also a hedge buffer), long firms sell part of their surplus (or hold it). In a
/// foreseen window (`MarketInput::foreseen`) only the early buyers buy, what they foresee
/// to lack and no buffer: the firms that buy ahead of a window also buy ahead of their
/// allocation, the others wait for it.
pub(super) fn firm_agents(input: &MarketInput<'_>, window: &Window, rng: &mut Rng) -> Vec<Agent> {
    let trading = &input.scenario.trading;
    let mut agents = Vec::new();
    for (i, firm) in input.firms.iter().enumerate() {
        let need = input.need.get(i).copied().unwrap_or(0);
        let surplus = input.surplus.get(i).copied().unwrap_or(0);
        let lot = (trading.listed_lot[0].ln()
            + rng.unit() * (trading.listed_lot[1].ln() - trading.listed_lot[0].ln()))
        .exp();
        let mut agent = Agent::new(entity_account(i as u32), entity_participant(i as u32));
        agent.entity = Some(i);
        agent.value = firm.expected_price;
        agent.lot = lot;
        if need > 0 {
            let early = rng.chance(trading.early_buyer_share);
            if input.foreseen && !early {
                continue;
            }
            let buffer = if early && !input.foreseen {
                let e = annual(input.emissions.get(i).copied().unwrap_or(0), input.years);
                let wanted = (e * rng.range(trading.hedge_buffer)).floor() as u64;
                // What the carry-over cap would cancel at the close is no hedge.
                input
                    .carry_room
                    .get(i)
                    .map_or(wanted, |room| wanted.min(*room))
            } else {
                0
            };
            agent.must_buy = if input.foreseen { 0 } else { need };
            agent.early_left = input.need_early.get(i).copied().unwrap_or(0).min(need);
            agent.buy_left = need + buffer;
            agent.start = draw_start(input, window, rng, early);
            if agent.early_left > 0 {
                agent.start = agent.start.min(window.crunch_from().unwrap_or(agent.start));
            }
        } else if surplus > 0 {
            agent.holder = rng.chance(trading.hold_share);
            agent.sell_left = (surplus as f64 * rng.range(trading.sell_fraction)).floor() as u64;
            let rise = input.expected_growth + input.precaution;
            agent.bank_ask = bank_ask(firm.expected_price, rise, trading, rng);
            agent.must_sell = input.must_sell.get(i).copied().unwrap_or(0).min(surplus);
            agent.sell_left = agent.sell_left.max(agent.must_sell);
            agent.held_back = surplus - agent.sell_left;
            // Sellers are in the market before the intermediate deadline's last days,
            // when the buyers that owe its share must buy.
            let start = draw_start(input, window, rng, false);
            agent.start = start.min(window.crunch_from().unwrap_or(start));
        } else {
            continue;
        }
        agents.push(agent);
    }
    agents
}

/// One year's emissions of `emissions` over `years` compliance years, t. A hedge buffer
/// insures against a surprise in the year to come, which is one year's emissions whatever
/// the number of years the window settles (docs/simulation.md, "Agents"): a window that
/// settles two years (2019-2020; the chain's 2021-22 step) does not double it.
pub(super) fn annual(emissions: u64, years: u16) -> f64 {
    emissions as f64 / f64::from(years.max(1))
}

/// A long firm's banking decision: with its cost of carry `h` drawn from
/// `[0, 2 x carry_cost]`, it banks when the price it expects later, `value x (1 + growth)`,
/// discounted at `h`, beats `value`, and then asks at least that discounted price.
/// `growth` is the expected rise plus the precaution premium of a next rulebook without
/// borrowing (`MarketInput::precaution`): a tonne held is then also insurance.
/// Returns the ask floor, yuan/t (0 = it does not bank; no draw when no rise is expected,
/// so runs without expectations across years are unchanged).
pub(super) fn bank_ask(value: f64, growth: f64, trading: &TradingParams, rng: &mut Rng) -> f64 {
    if growth <= 0.0 {
        return 0.0;
    }
    let carry = rng.unit() * 2.0 * trading.carry_cost;
    let later = value * (1.0 + growth) / (1.0 + carry);
    if later > value { later } else { 0.0 }
}

/// The trading day a firm starts on: early buyers in the early part of the window,
/// others there too unless they are late (then in the late part, before the last
/// five days; firms that owe an intermediate share, and sellers, start before its
/// last five days, see `firm_agents`).
fn draw_start(input: &MarketInput<'_>, window: &Window, rng: &mut Rng, early: bool) -> usize {
    let n_days = window.days.len().max(1);
    let late = !early && rng.chance(input.scenario.market.late_share);
    if late {
        let span = n_days.saturating_sub(window.late_from + 5).max(1);
        window.late_from + rng.below(span as u64) as usize
    } else {
        rng.below(window.late_from.max(1) as u64) as usize
    }
}

/// Cash: each buyer brings enough for its purchases at twice the expected price.
pub(super) fn deposit_cash<S: Sink>(
    driver: &mut Driver<'_, S>,
    agents: &[Agent],
    at: i64,
) -> Result<()> {
    for agent in agents.iter().filter(|a| a.buy_left > 0) {
        let amount = i64::try_from(
            i128::from(agent.buy_left) * i128::from(yuan_to_ticks(agent.value * 2.0)),
        )
        .context("deposit too large")?;
        driver.defer(
            EXCHANGE_OPERATOR,
            at,
            exchange(ExchangeCommand::DepositCash {
                account: agent.account,
                amount: Money::new(amount),
            }),
        )?;
    }
    Ok(())
}

/// Under open participation, the design's institutions: each registered with a
/// trading account and its budget, and a view of the price around the anchor.
/// Returns how many were opened.
pub(super) fn open_institutions<S: Sink>(
    driver: &mut Driver<'_, S>,
    input: &MarketInput<'_>,
    anchor: f64,
    at: i64,
    rng: &mut Rng,
    agents: &mut Vec<Agent>,
) -> Result<usize> {
    let design = &input.scenario.design;
    if design.participation != Participation::Open {
        return Ok(0);
    }
    for k in 0..design.institutions {
        let id = INSTITUTION_BASE + u64::from(k);
        let (participant, account) = (ParticipantId(id), AccountId(id));
        let name = format!("Institution {}", k + 1);
        open_trading_account(driver, participant, account, name, at)?;
        driver.ok(
            EXCHANGE_OPERATOR,
            at,
            exchange(ExchangeCommand::DepositCash {
                account,
                amount: Money::new((design.institution_budget_yuan * 100.0) as i64),
            }),
        )?;
        let mut agent = Agent::new(account, participant);
        agent.value = anchor * (0.10 * rng.normal()).exp();
        agent.lot = rng.range([20_000.0, 80_000.0]);
        agents.push(agent);
    }
    Ok(design.institutions as usize)
}

/// The authority's price-support desk, when the design has a floor. Returns the
/// floor in ticks (0 = none).
pub(super) fn open_floor_desk<S: Sink>(
    driver: &mut Driver<'_, S>,
    design: &Design,
    at: i64,
) -> Result<i64> {
    if design.price_floor_yuan <= 0.0 {
        return Ok(0);
    }
    let floor_ticks = yuan_to_ticks(design.price_floor_yuan);
    let name = "Price-support desk of the authority".to_owned();
    open_trading_account(driver, FLOOR_DESK, FLOOR_ACCOUNT, name, at)?;
    Ok(floor_ticks)
}

/// Registers an institution and opens its trading account.
fn open_trading_account<S: Sink>(
    driver: &mut Driver<'_, S>,
    participant: ParticipantId,
    account: AccountId,
    name: String,
    at: i64,
) -> Result<()> {
    let commands = [
        RegistryCommand::RegisterParticipant {
            id: participant,
            kind: ParticipantKind::Institution,
            name,
        },
        RegistryCommand::OpenAccount {
            id: account,
            kind: AccountKind::Trading,
            holder: participant,
            representatives: vec![participant],
            approvals_required: 1,
        },
    ];
    for command in commands {
        driver.ok(ADMIN, at, registry(command))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Share of 2,000 long firms that bank, with `growth` expected and `carry_cost`.
    fn bankers(growth: f64, carry_cost: f64) -> f64 {
        let trading = TradingParams {
            carry_cost,
            ..TradingParams::default()
        };
        let mut rng = Rng::new(42);
        let n = 2_000;
        let banking = (0..n)
            .filter(|_| bank_ask(50.0, growth, &trading, &mut rng) > 0.0)
            .count();
        banking as f64 / f64::from(n)
    }

    #[test]
    fn a_higher_expected_rise_makes_more_firms_bank() {
        assert_eq!(bankers(0.0, 0.1), 0.0, "no rise expected, nobody banks");
        let (low, high) = (bankers(0.05, 0.1), bankers(0.15, 0.1));
        assert!(low > 0.1 && high > low, "{low} {high}");
        assert_eq!(bankers(0.25, 0.1), 1.0, "a rise above every cost of carry");
        assert!(bankers(0.05, 0.3) < low, "a dearer carry, fewer bankers");
    }

    #[test]
    fn a_banker_asks_the_discounted_later_price() {
        let trading = TradingParams {
            carry_cost: 0.0,
            ..TradingParams::default()
        };
        let ask = bank_ask(50.0, 0.2, &trading, &mut Rng::new(1));
        assert!((ask - 60.0).abs() < 1e-9, "{ask}");
    }
}
