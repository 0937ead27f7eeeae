//! The public transparency report of a year, of the kind the EU
//! Transaction Log publishes (docs/public-report.md), drawn from an engine:
//! per scheme whose rulebook governs the year and per installation,
//! allocation, verified emissions, units surrendered, compliance status
//! (the EU's A/B/C codes for EU rulebooks) and the quantity still to make
//! good; then market statistics per instrument and UTC day. The report
//! names its cut-off: the journal's record count, head hash and state hash,
//! which `ets verify` on the same store reproduces. `ets report public` and
//! the web UI's public report pages both draw it here, so they agree.

use ets_engine::Engine;
use ets_engine::compliance::EntityResult;
use ets_engine::exchange::{TradeRecord, TradeVenue};
use ets_model::Timestamp;
use ets_time::TimeZone;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The point in the journal a report was drawn at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CutOff {
    /// Records in the journal.
    pub records: u64,
    /// The hash of the last record (hex).
    pub journal_head_hash: String,
    /// The engine's state hash after the last record (hex), as `ets verify` prints it.
    pub state_hash: String,
}

/// One installation's line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstallationLine {
    /// Its scheme (rulebook id).
    pub scheme: String,
    /// The operator (participant id).
    pub participant: u64,
    /// The operator's name.
    pub name: String,
    /// Its operator holding account.
    pub account: u64,
    /// Allocation that counts for the year, tonnes.
    pub allocation: u64,
    /// Verified emissions, tonnes; none when not verified.
    pub verified_emissions: Option<u64>,
    /// Allowances and offsets surrendered for the year that count, tonnes.
    pub units_surrendered: u64,
    /// EU rulebooks: `A`, `B`, `C`; otherwise `compliant`, `shortfall`, `no_verified_report`.
    pub compliance_status: String,
    /// Tonnes still to surrender (EU: to make good the following year).
    pub make_good: u64,
    /// Whether the year is closed (figures final).
    pub final_figures: bool,
}

/// One instrument's trading on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MarketDay {
    /// The day (UTC), `YYYY-MM-DD`.
    pub date: String,
    /// The instrument symbol, or `auction N`.
    pub venue: String,
    /// Trades.
    pub trades: u64,
    /// Tonnes traded.
    pub volume: u64,
    /// Sum of price x quantity, minor units.
    pub turnover_minor_units: i128,
    /// First trade's price, ticks.
    pub open_ticks: i64,
    /// Highest price, ticks.
    pub high_ticks: i64,
    /// Lowest price, ticks.
    pub low_ticks: i64,
    /// Last trade's price, ticks.
    pub close_ticks: i64,
    /// Volume-weighted average price, ticks, rounded half up.
    pub vwap_ticks: i64,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicReport {
    /// The year.
    pub year: u16,
    /// Where in the journal it was drawn.
    pub cut_off: CutOff,
    /// Per installation, by scheme then participant.
    pub installations: Vec<InstallationLine>,
    /// Per venue and day, by day then venue.
    pub market: Vec<MarketDay>,
}

/// One settled trade, as the market statistics need it: from the engine's
/// trade log or, once the engine has let it go, from the history database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketTrade {
    /// When it settled.
    pub at: Timestamp,
    /// The instrument symbol, or `auction N`.
    pub venue: String,
    /// The price, ticks.
    pub price_ticks: i64,
    /// Tonnes.
    pub quantity: u64,
}

impl From<&TradeRecord> for MarketTrade {
    fn from(trade: &TradeRecord) -> MarketTrade {
        MarketTrade {
            at: trade.at,
            venue: match &trade.venue {
                TradeVenue::Instrument(symbol) => symbol.to_string(),
                TradeVenue::Auction(auction) => format!("auction {}", auction.0),
            },
            price_ticks: trade.price.ticks(),
            quantity: trade.quantity.tonnes(),
        }
    }
}

/// A trade as the history's `trades` table holds it (venue `auction:N` for an auction).
impl TryFrom<&ets_history::query::TradeFacts> for MarketTrade {
    type Error = String;

    fn try_from(trade: &ets_history::query::TradeFacts) -> Result<MarketTrade, String> {
        let venue = match trade.venue.strip_prefix("auction:") {
            Some(auction) => format!("auction {auction}"),
            None => trade.venue.clone(),
        };
        Ok(MarketTrade {
            at: Timestamp(trade.at_ms),
            venue,
            price_ticks: trade.price,
            quantity: u64::try_from(trade.quantity)
                .map_err(|_| format!("the history holds a trade of {} t", trade.quantity))?,
        })
    }
}

/// Draws the report of `year` from `engine`, cut off at `cut_off`, the
/// market section from the trades the engine retains (all of them unless
/// retention is bounded: then use [`draw_with_trades`] with the history's).
///
/// # Errors
/// A message when a scheme's figures cannot be computed.
pub fn draw(engine: &Engine, year: u16, cut_off: CutOff) -> Result<PublicReport, String> {
    let trades: Vec<MarketTrade> = engine
        .exchange()
        .trades()
        .iter()
        .map(MarketTrade::from)
        .collect();
    draw_with_trades(engine, year, cut_off, &trades)
}

/// The trades of `year` from the history database, with the journal record
/// the history is at: a report drawn with them is the one an unbounded
/// engine draws when the cut-off is at that same record.
///
/// # Errors
/// The database fails, or holds a trade that is not a valid one.
pub fn history_trades(
    backend: &mut dyn ets_history::Backend,
    year: u16,
) -> Result<(u64, Vec<MarketTrade>), ets_history::HistoryError> {
    let head = ets_history::query::head_sequence(backend)?;
    let (from_ms, to_ms) = year_span_ms(year);
    let trades = ets_history::query::trades_between(backend, from_ms, to_ms)?
        .iter()
        .map(MarketTrade::try_from)
        .collect::<Result<_, String>>()
        .map_err(ets_history::HistoryError::Database)?;
    Ok((head, trades))
}

/// As [`draw`], the market section from `trades` (in settlement order; those
/// outside `year` are left out).
///
/// # Errors
/// A message when a scheme's figures cannot be computed.
pub fn draw_with_trades(
    engine: &Engine,
    year: u16,
    cut_off: CutOff,
    trades: &[MarketTrade],
) -> Result<PublicReport, String> {
    Ok(PublicReport {
        year,
        cut_off,
        installations: installations(engine, year)?,
        market: market_days(trades, year),
    })
}

/// The milliseconds (UTC) from the start of `year` to the start of the next:
/// the span of its market statistics.
#[must_use]
pub fn year_span_ms(year: u16) -> (i64, i64) {
    let start = |year: i32| {
        time::Date::from_calendar_date(year, time::Month::January, 1).map_or(0, |date| {
            date.midnight().assume_utc().unix_timestamp() * 1_000
        })
    };
    (start(i32::from(year)), start(i32::from(year) + 1))
}

/// Lower-case hex of a hash.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

/// The installation lines of every scheme whose rulebook governs `year`.
fn installations(engine: &Engine, year: u16) -> Result<Vec<InstallationLine>, String> {
    let compliance = engine.compliance();
    let registry = engine.registry();
    let mut lines = Vec::new();
    for scheme in compliance.schemes() {
        let governs = compliance
            .rulebook(scheme)
            .is_ok_and(|rulebook| rulebook.scheme.compliance_years.contains(&year));
        if !governs {
            continue;
        }
        let final_figures = compliance.closed_results(scheme, year).is_some();
        let results = compliance
            .results(registry, scheme, year, None)
            .map_err(|error| format!("cannot compute the results of {scheme} {year}: {error}"))?;
        for result in &results {
            let name = registry
                .participant(result.entity)
                .map(|participant| participant.name.clone())
                .unwrap_or_default();
            lines.push(line(scheme, name, result, final_figures));
        }
    }
    lines.sort_by(|a, b| (&a.scheme, a.participant).cmp(&(&b.scheme, b.participant)));
    Ok(lines)
}

fn line(
    scheme: &str,
    name: String,
    result: &EntityResult,
    final_figures: bool,
) -> InstallationLine {
    InstallationLine {
        scheme: scheme.to_owned(),
        participant: result.entity.0,
        name,
        account: result.account.0,
        allocation: result.allocation.tonnes(),
        verified_emissions: result.verified_emissions.map(|q| q.tonnes()),
        units_surrendered: result
            .allowances_surrendered
            .tonnes()
            .saturating_add(result.offsets_used.tonnes()),
        compliance_status: status(result),
        make_good: result.make_good.tonnes(),
        final_figures,
    }
}

/// The EU code where the rulebook gives one, else the status name.
fn status(result: &EntityResult) -> String {
    result
        .eu_status
        .clone()
        .unwrap_or_else(|| result.status.name().to_owned())
}

/// Per venue and UTC day of `year`: trades, volume, turnover, OHLC and VWAP.
fn market_days(trades: &[MarketTrade], year: u16) -> Vec<MarketDay> {
    let mut days: BTreeMap<(String, String), MarketDay> = BTreeMap::new();
    for trade in trades {
        let Some(date) = utc_date(trade.at).filter(|date| date.starts_with(&format!("{year:04}-")))
        else {
            continue;
        };
        let venue = trade.venue.clone();
        let price = trade.price_ticks;
        let day = days
            .entry((date.clone(), venue.clone()))
            .or_insert_with(|| MarketDay {
                date,
                venue,
                trades: 0,
                volume: 0,
                turnover_minor_units: 0,
                open_ticks: price,
                high_ticks: price,
                low_ticks: price,
                close_ticks: price,
                vwap_ticks: price,
            });
        day.trades += 1;
        day.volume = day.volume.saturating_add(trade.quantity);
        day.turnover_minor_units += i128::from(price) * i128::from(trade.quantity);
        day.high_ticks = day.high_ticks.max(price);
        day.low_ticks = day.low_ticks.min(price);
        day.close_ticks = price;
    }
    days.into_values()
        .map(|mut day| {
            let volume = i128::from(day.volume.max(1));
            let vwap = (2 * day.turnover_minor_units + volume) / (2 * volume);
            day.vwap_ticks = i64::try_from(vwap).unwrap_or(i64::MAX);
            day
        })
        .collect()
}

fn utc_date(at: Timestamp) -> Option<String> {
    TimeZone::UTC
        .local(at)
        .ok()
        .map(|local| local.date.to_string())
}

const CUT_OFF_COLUMNS: [&str; 4] = ["year", "records", "journal_head_hash", "state_hash"];

/// The installations as CSV, each row ending with the year and the cut-off.
///
/// # Errors
/// A message when the CSV writer fails (it writes to memory; a bug).
pub fn installations_csv(report: &PublicReport) -> Result<String, String> {
    let header = [
        "scheme",
        "participant",
        "name",
        "account",
        "allocation",
        "verified_emissions",
        "units_surrendered",
        "compliance_status",
        "make_good",
        "final",
    ];
    let rows = report.installations.iter().map(|line| {
        vec![
            line.scheme.clone(),
            line.participant.to_string(),
            line.name.clone(),
            line.account.to_string(),
            line.allocation.to_string(),
            line.verified_emissions
                .map_or_else(String::new, |q| q.to_string()),
            line.units_surrendered.to_string(),
            line.compliance_status.clone(),
            line.make_good.to_string(),
            line.final_figures.to_string(),
        ]
    });
    csv_text(report, &header, rows)
}

/// The market days as CSV, each row ending with the year and the cut-off.
///
/// # Errors
/// A message when the CSV writer fails (it writes to memory; a bug).
pub fn market_csv(report: &PublicReport) -> Result<String, String> {
    let header = [
        "date",
        "venue",
        "trades",
        "volume",
        "turnover_minor_units",
        "open_ticks",
        "high_ticks",
        "low_ticks",
        "close_ticks",
        "vwap_ticks",
    ];
    let rows = report.market.iter().map(|day| {
        vec![
            day.date.clone(),
            day.venue.clone(),
            day.trades.to_string(),
            day.volume.to_string(),
            day.turnover_minor_units.to_string(),
            day.open_ticks.to_string(),
            day.high_ticks.to_string(),
            day.low_ticks.to_string(),
            day.close_ticks.to_string(),
            day.vwap_ticks.to_string(),
        ]
    });
    csv_text(report, &header, rows)
}

/// A CSV table whose every row ends with the year and the cut-off.
fn csv_text(
    report: &PublicReport,
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<String, String> {
    let failed = |error: &dyn std::fmt::Display| format!("cannot write the CSV: {error}");
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(header.iter().chain(CUT_OFF_COLUMNS.iter()))
        .map_err(|e| failed(&e))?;
    let cut = &report.cut_off;
    let tail = [
        report.year.to_string(),
        cut.records.to_string(),
        cut.journal_head_hash.clone(),
        cut.state_hash.clone(),
    ];
    for row in rows {
        writer
            .write_record(row.iter().chain(tail.iter()))
            .map_err(|e| failed(&e))?;
    }
    let bytes = writer.into_inner().map_err(|e| failed(&e))?;
    String::from_utf8(bytes).map_err(|e| failed(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ets_engine::compliance::EntityStatus;
    use ets_model::{AccountId, Money, ParticipantId, Quantity};

    fn result(status: EntityStatus, eu_status: Option<&str>, shortfall: u64) -> EntityResult {
        EntityResult {
            entity: ParticipantId(10),
            account: AccountId(100),
            verified_emissions: Some(Quantity::new(1_000)),
            allocation: Quantity::new(600),
            obligation: Quantity::new(1_000),
            allowances_surrendered: Quantity::new(700),
            offsets_used: Quantity::new(100),
            status,
            shortfall: Quantity::new(shortfall),
            fine_min: Money::ZERO,
            fine_max: Money::ZERO,
            next_year_deduction: Quantity::ZERO,
            // The engine sets make-good only where the rulebook's penalty carries it (the EU).
            make_good: Quantity::new(if eu_status.is_some() { shortfall } else { 0 }),
            period: "2021".to_owned(),
            intermediate_shortfall: Quantity::ZERO,
            eu_status: eu_status.map(str::to_owned),
        }
    }

    #[test]
    fn eu_lines_carry_the_eutl_code_and_the_quantity_to_make_good() {
        let eu = line(
            "eu-ets-phase4",
            "Steel".to_owned(),
            &result(EntityStatus::Shortfall, Some("B"), 200),
            true,
        );
        assert_eq!(eu.compliance_status, "B");
        assert_eq!((eu.units_surrendered, eu.make_good), (800, 200));
        let china = line(
            "cn-power-2021",
            "Plant".to_owned(),
            &result(EntityStatus::Compliant, None, 0),
            false,
        );
        assert_eq!(china.compliance_status, "compliant");
        assert_eq!(china.make_good, 0);
    }
}
