//! The views the web UI shows beside the registry's: market data (public),
//! compliance results (public) and emissions reports (for verifiers, the
//! administrator and auditors), read from the engine into typed DTOs. Every
//! list has a limit.

use crate::text::format_time;
use ets_engine::Engine;
use ets_market::DepthLevel;
use ets_model::ParticipantId;
use ets_registry::Registry;
use schemars::JsonSchema;
use serde::Serialize;

/// The most recent trades listed per instrument.
pub const TRADES_LISTED_MAX: usize = 200;
/// The most reports listed.
pub const REPORTS_LISTED_MAX: usize = 1_000;

/// `{"ok": true}`: the store accepts writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub struct HealthView {
    /// Always true.
    pub ok: crate::outcome::Always<true>,
}

/// One price level of a book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub struct LevelView {
    /// The price, ticks.
    pub price_ticks: i64,
    /// Tonnes at this price.
    pub quantity: u64,
    /// Orders at this price.
    pub orders: u32,
}

/// One public trade (without its parties).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct PublicTradeView {
    /// The price, ticks.
    pub price_ticks: i64,
    /// Tonnes traded.
    pub quantity: u64,
    /// When, RFC 3339.
    pub at: String,
}

/// The day's figures of an instrument so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub struct DayStatsView {
    /// The previous day's close, ticks.
    pub previous_close_ticks: i64,
    /// The opening price, ticks.
    pub open_ticks: i64,
    /// The highest trade price, ticks.
    pub high_ticks: Option<i64>,
    /// The lowest trade price, ticks.
    pub low_ticks: Option<i64>,
    /// The last trade price, ticks.
    pub last_ticks: Option<i64>,
    /// The volume-weighted average price, ticks.
    pub vwap_ticks: Option<i64>,
    /// Tonnes traded.
    pub volume: u64,
    /// Money traded, minor units.
    pub turnover_minor_units: i64,
    /// Trades.
    pub trades: u64,
}

/// One instrument's public market data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct InstrumentMarketView {
    /// Its symbol.
    pub symbol: String,
    /// The day's figures, once it traded or opened.
    pub stats: Option<DayStatsView>,
    /// The bid levels, best first; `null` for a block desk (no public book).
    pub bids: Option<Vec<LevelView>>,
    /// The ask levels, best first.
    pub asks: Vec<LevelView>,
    /// The latest trades, newest first (at most 200).
    pub recent_trades: Vec<PublicTradeView>,
}

fn levels(levels: &[DepthLevel]) -> Vec<LevelView> {
    levels
        .iter()
        .map(|level| LevelView {
            price_ticks: level.price.ticks(),
            quantity: level.quantity.tonnes(),
            orders: level.orders,
        })
        .collect()
}

/// Every instrument's book, day figures and latest trades.
#[must_use]
pub fn market_view(engine: &Engine) -> Vec<InstrumentMarketView> {
    let exchange = engine.exchange();
    exchange
        .instruments()
        .map(|symbol| {
            let depth = exchange.depth(symbol);
            InstrumentMarketView {
                symbol: symbol.to_string(),
                stats: exchange.day_stats(symbol).map(|stats| DayStatsView {
                    previous_close_ticks: stats.previous_close.ticks(),
                    open_ticks: stats.open.ticks(),
                    high_ticks: stats.high.map(|p| p.ticks()),
                    low_ticks: stats.low.map(|p| p.ticks()),
                    last_ticks: stats.last.map(|p| p.ticks()),
                    vwap_ticks: stats.vwap.map(|p| p.ticks()),
                    volume: stats.volume.tonnes(),
                    turnover_minor_units: stats.turnover.minor_units(),
                    trades: stats.trades,
                }),
                bids: depth.as_ref().map(|depth| levels(&depth.bids)),
                asks: depth
                    .as_ref()
                    .map(|depth| levels(&depth.asks))
                    .unwrap_or_default(),
                recent_trades: exchange
                    .tape(symbol)
                    .iter()
                    .rev()
                    .take(TRADES_LISTED_MAX)
                    .map(|trade| PublicTradeView {
                        price_ticks: trade.price.ticks(),
                        quantity: trade.quantity.tonnes(),
                        at: format_time(trade.at),
                    })
                    .collect(),
            }
        })
        .collect()
}

fn participant_name(registry: &Registry, id: ParticipantId) -> String {
    registry
        .participant(id)
        .map_or_else(|_| format!("participant {}", id.0), |p| p.name.clone())
}

/// One covered entity's line of a compliance result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ComplianceResultView {
    /// The entity (a participant id).
    pub entity: u64,
    /// Its name.
    pub name: String,
    /// Its compliance account.
    pub account: u64,
    /// Tonnes allocated.
    pub allocation: u64,
    /// Verified emissions, tonnes, once verified.
    pub verified_emissions: Option<u64>,
    /// Tonnes surrendered (allowances and offsets).
    pub surrendered: u64,
    /// Its compliance status.
    pub status: String,
    /// Tonnes still owed.
    pub shortfall: u64,
}

/// The compliance results of one scheme and year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ComplianceYearView {
    /// The scheme's id.
    pub scheme: String,
    /// The scheme's name.
    pub scheme_name: String,
    /// The compliance year.
    pub year: u16,
    /// Whether the year is closed (the results are final).
    pub closed: bool,
    /// One line per covered entity.
    pub results: Vec<ComplianceResultView>,
}

/// The compliance results of every loaded scheme and year that has covered
/// entities: final when the year is closed, else as of now.
#[must_use]
pub fn compliance_view(engine: &Engine) -> Vec<ComplianceYearView> {
    let registry = engine.registry();
    let compliance = engine.compliance();
    let mut years = Vec::new();
    for scheme in compliance.schemes() {
        let Ok(rulebook) = compliance.rulebook(scheme) else {
            continue;
        };
        for &year in &rulebook.scheme.compliance_years {
            let Ok(results) = compliance.results(registry, scheme, year, None) else {
                continue;
            };
            if results.is_empty() {
                continue;
            }
            let results = results
                .iter()
                .map(|result| ComplianceResultView {
                    entity: result.entity.0,
                    name: participant_name(registry, result.entity),
                    account: result.account.0,
                    allocation: result.allocation.tonnes(),
                    verified_emissions: result.verified_emissions.map(|q| q.tonnes()),
                    surrendered: result
                        .allowances_surrendered
                        .tonnes()
                        .saturating_add(result.offsets_used.tonnes()),
                    status: result
                        .eu_status
                        .clone()
                        .unwrap_or_else(|| result.status.name().to_owned()),
                    shortfall: result.shortfall.tonnes(),
                })
                .collect();
            years.push(ComplianceYearView {
                scheme: scheme.to_owned(),
                scheme_name: rulebook.scheme.name.clone(),
                year,
                closed: compliance.closed_results(scheme, year).is_some(),
                results,
            });
        }
    }
    years
}

/// An emissions report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ReportView {
    /// The covered entity (a participant id).
    pub entity: u64,
    /// Its name.
    pub name: String,
    /// The reporting year.
    pub year: u16,
    /// `submitted`, `verified`, ...
    pub status: &'static str,
    /// Emissions computed from the activity data, tonnes.
    pub computed_emissions: u64,
    /// Emissions the verifier confirmed, tonnes.
    pub verified_emissions: Option<u64>,
    /// Implausibility flags for the verifier.
    pub flags: Vec<String>,
}

/// Emissions reports (at most 1,000), those awaiting verification first.
#[must_use]
pub fn reports_view(engine: &Engine) -> Vec<ReportView> {
    let registry = engine.registry();
    let mut rows: Vec<ReportView> = engine
        .compliance()
        .reports()
        .take(REPORTS_LISTED_MAX)
        .map(|(entity, year, report)| ReportView {
            entity: entity.0,
            name: participant_name(registry, entity),
            year,
            status: report.status.name(),
            computed_emissions: report.computed_emissions.tonnes(),
            verified_emissions: report.verified_emissions.map(|q| q.tonnes()),
            flags: report.flags.clone(),
        })
        .collect();
    rows.sort_by_key(|row| (row.status != "submitted", row.entity, row.year));
    rows
}
