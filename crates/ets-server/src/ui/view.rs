//! What the pages show, read from the engine on the sequencer thread into
//! plain values (so rendering happens elsewhere and writes wait as little as
//! possible). Every list has a limit; what is left out is counted.

use crate::users::Principal;
use ets_engine::Engine;
use ets_market::DepthLevel;
use ets_model::{AccountId, ParticipantId};
use ets_registry::{Account, Registry, Transaction};

/// The most accounts one page lists.
pub(crate) const ACCOUNTS_LISTED_MAX: usize = 500;
/// How many of the latest transactions are searched for pending ones.
pub(crate) const PENDING_SCAN_MAX: usize = 100_000;
/// The most serial blocks shown per holding.
pub(crate) const BLOCKS_SHOWN_MAX: usize = 20;
/// The most recent trades listed per instrument.
pub(crate) const TAPE_SHOWN_MAX: usize = 20;
/// The most recent trades drawn in a price chart.
pub(crate) const CHART_TRADES_MAX: usize = 200;
/// The most reports read for one page (its table is paged and counted).
pub(crate) const REPORTS_READ_MAX: usize = 1_000_000;

/// One unit class held by an account.
#[derive(Debug, Clone)]
pub(crate) struct HoldingRow {
    pub(crate) unit: String,
    pub(crate) total: u64,
    pub(crate) reserved: u64,
    pub(crate) available: u64,
    pub(crate) blocks: Vec<String>,
    pub(crate) more_blocks: usize,
}

/// An account with its holdings.
#[derive(Debug, Clone)]
pub(crate) struct AccountRow {
    pub(crate) id: u64,
    pub(crate) kind: &'static str,
    pub(crate) status: &'static str,
    pub(crate) holder: u64,
    pub(crate) holder_name: String,
    pub(crate) representatives: Vec<u64>,
    pub(crate) approvals_required: u8,
    pub(crate) holdings: Vec<HoldingRow>,
    /// Exchange cash, minor units: available and held.
    pub(crate) cash_available: i64,
    pub(crate) cash_held: i64,
}

/// A transaction waiting for approval.
#[derive(Debug, Clone)]
pub(crate) struct PendingRow {
    pub(crate) id: u64,
    pub(crate) kind: &'static str,
    pub(crate) unit: String,
    pub(crate) quantity: u64,
    pub(crate) from: u64,
    pub(crate) to: u64,
    pub(crate) proposer: u64,
    pub(crate) approvals: Vec<u64>,
    pub(crate) approvals_required: u8,
    /// The decisions the signed-in user may send on it.
    pub(crate) decisions: Vec<&'static str>,
}

/// A signed-in user's home: their participant, the accounts it represents and
/// the transactions pending on them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Dashboard {
    pub(crate) participant_name: Option<String>,
    pub(crate) accounts: Vec<AccountRow>,
    pub(crate) pending: Vec<PendingRow>,
    pub(crate) units: Vec<String>,
}

/// An issued unit class.
#[derive(Debug, Clone)]
pub(crate) struct UnitRow {
    pub(crate) unit: String,
    pub(crate) issued: u64,
}

/// The administrator's overview.
#[derive(Debug, Clone, Default)]
pub(crate) struct AdminOverview {
    pub(crate) accounts: Vec<AccountRow>,
    pub(crate) accounts_left_out: usize,
    pub(crate) units: Vec<UnitRow>,
}

/// One entity's line of a compliance result.
#[derive(Debug, Clone)]
pub(crate) struct ResultRow {
    pub(crate) entity: u64,
    pub(crate) name: String,
    pub(crate) account: u64,
    pub(crate) allocation: u64,
    pub(crate) verified_emissions: Option<u64>,
    pub(crate) obligation: u64,
    pub(crate) surrendered: u64,
    pub(crate) status: String,
    pub(crate) shortfall: u64,
}

/// The compliance results of one scheme and year.
#[derive(Debug, Clone)]
pub(crate) struct SchemeYear {
    pub(crate) scheme: String,
    pub(crate) scheme_name: String,
    pub(crate) year: u16,
    pub(crate) closed: bool,
    pub(crate) rows: Vec<ResultRow>,
}

/// An emissions report for the verifier.
#[derive(Debug, Clone)]
pub(crate) struct ReportRow {
    pub(crate) entity: u64,
    pub(crate) name: String,
    pub(crate) year: u16,
    pub(crate) status: &'static str,
    pub(crate) computed_emissions: u64,
    pub(crate) verified_emissions: Option<u64>,
    pub(crate) flags: Vec<String>,
}

/// One price level of a book.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LevelRow {
    pub(crate) price_ticks: i64,
    pub(crate) quantity: u64,
    pub(crate) orders: u32,
}

/// One public trade.
#[derive(Debug, Clone)]
pub(crate) struct TradeRow {
    pub(crate) price_ticks: i64,
    pub(crate) quantity: u64,
    pub(crate) at: String,
}

/// The day's figures of an instrument.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StatsRow {
    pub(crate) previous_close_ticks: i64,
    pub(crate) open_ticks: i64,
    pub(crate) high_ticks: Option<i64>,
    pub(crate) low_ticks: Option<i64>,
    pub(crate) last_ticks: Option<i64>,
    pub(crate) vwap_ticks: Option<i64>,
    pub(crate) volume: u64,
    pub(crate) turnover_minor_units: i64,
    pub(crate) trades: u64,
}

/// One instrument's market data.
#[derive(Debug, Clone)]
pub(crate) struct InstrumentView {
    pub(crate) symbol: String,
    pub(crate) stats: Option<StatsRow>,
    /// `None` for block desks, which have no public book.
    pub(crate) bids: Option<Vec<LevelRow>>,
    pub(crate) asks: Vec<LevelRow>,
    /// Newest first.
    pub(crate) recent: Vec<TradeRow>,
    /// Oldest first, for the chart.
    pub(crate) chart_prices_ticks: Vec<i64>,
}

fn unit_name(registry: &Registry, class_index: u32) -> String {
    registry
        .class(class_index)
        .map_or_else(|| format!("#{class_index}"), ToString::to_string)
}

fn participant_name(registry: &Registry, id: ParticipantId) -> String {
    registry
        .participant(id)
        .map_or_else(|_| format!("participant {}", id.0), |p| p.name.clone())
}

fn account_row(engine: &Engine, account: &Account) -> AccountRow {
    let registry = engine.registry();
    let holdings = account
        .holdings()
        .filter(|(_, holding)| !holding.total().is_zero())
        .map(|(class_index, holding)| HoldingRow {
            unit: unit_name(registry, class_index),
            total: holding.total().tonnes(),
            reserved: holding.reserved().tonnes(),
            available: holding.available().tonnes(),
            blocks: holding
                .blocks()
                .take(BLOCKS_SHOWN_MAX)
                .map(|block| block.to_string())
                .collect(),
            more_blocks: holding.block_count().saturating_sub(BLOCKS_SHOWN_MAX),
        })
        .collect();
    let cash = engine.exchange().cash(account.id);
    AccountRow {
        id: account.id.0,
        kind: account.kind.name(),
        status: account.status.name(),
        holder: account.holder.0,
        holder_name: participant_name(registry, account.holder),
        representatives: account.rule.representatives.iter().map(|p| p.0).collect(),
        approvals_required: account.rule.approvals_required,
        holdings,
        cash_available: cash.available.minor_units(),
        cash_held: cash.held.minor_units(),
    }
}

fn pending_row(engine: &Engine, transaction: &Transaction, principal: &Principal) -> PendingRow {
    let registry = engine.registry();
    let approvals_required = registry
        .account(transaction.from)
        .map_or(1, |account| account.rule.approvals_required);
    PendingRow {
        id: transaction.id.0,
        kind: transaction.kind.name(),
        unit: unit_name(registry, transaction.class_index),
        quantity: transaction.quantity.tonnes(),
        from: transaction.from.0,
        to: transaction.to.0,
        proposer: transaction.proposer.0,
        approvals: transaction.approvals.iter().map(|p| p.0).collect(),
        approvals_required,
        decisions: super::transaction::decisions(engine, transaction, principal),
    }
}

/// Whether `participant` may look at `account`: its holder or one of its
/// representatives. (Administrators and auditors see every account; the
/// caller decides that from the user's role.)
pub(crate) fn may_see(account: &Account, participant: ParticipantId) -> bool {
    account.holder == participant || account.rule.is_representative(participant)
}

/// The home of a participant's user.
pub(crate) fn dashboard(engine: &Engine, principal: &Principal) -> Dashboard {
    let participant = principal.participant;
    let registry = engine.registry();
    let accounts: Vec<&Account> = registry
        .accounts()
        .filter(|account| may_see(account, participant))
        .take(ACCOUNTS_LISTED_MAX)
        .collect();
    let ids: Vec<AccountId> = accounts.iter().map(|account| account.id).collect();
    let pending = registry
        .transactions()
        .rev()
        .take(PENDING_SCAN_MAX)
        .filter(|t| t.is_pending() && (ids.contains(&t.from) || ids.contains(&t.to)))
        .map(|t| pending_row(engine, t, principal))
        .collect();
    Dashboard {
        participant_name: registry
            .participant(participant)
            .ok()
            .map(|p| p.name.clone()),
        accounts: accounts.iter().map(|a| account_row(engine, a)).collect(),
        pending,
        units: registry
            .classes()
            .map(|(_, class)| class.to_string())
            .collect(),
    }
}

/// One account, if it exists, and whether `participant` may see it.
pub(crate) fn account(
    engine: &Engine,
    id: AccountId,
    participant: ParticipantId,
) -> Option<(AccountRow, bool)> {
    let account = engine.registry().account(id).ok()?;
    Some((account_row(engine, account), may_see(account, participant)))
}

/// The administrator's overview: every account (up to the limit) and the
/// unit classes issued.
pub(crate) fn admin_overview(engine: &Engine) -> AdminOverview {
    let registry = engine.registry();
    let total = registry.accounts().count();
    AdminOverview {
        accounts: registry
            .accounts()
            .take(ACCOUNTS_LISTED_MAX)
            .map(|account| account_row(engine, account))
            .collect(),
        accounts_left_out: total.saturating_sub(ACCOUNTS_LISTED_MAX),
        units: registry
            .classes()
            .map(|(index, class)| UnitRow {
                unit: class.to_string(),
                issued: registry.issued_quantity(index).tonnes(),
            })
            .collect(),
    }
}

/// The compliance results of every loaded scheme and compliance year that
/// has covered entities: final when the year is closed, else as of now.
pub(crate) fn compliance(engine: &Engine) -> Vec<SchemeYear> {
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
            let rows = results
                .iter()
                .map(|result| ResultRow {
                    entity: result.entity.0,
                    name: participant_name(registry, result.entity),
                    account: result.account.0,
                    allocation: result.allocation.tonnes(),
                    verified_emissions: result.verified_emissions.map(|q| q.tonnes()),
                    obligation: result.obligation.tonnes(),
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
            years.push(SchemeYear {
                scheme: scheme.to_owned(),
                scheme_name: rulebook.scheme.name.clone(),
                year,
                closed: compliance.closed_results(scheme, year).is_some(),
                rows,
            });
        }
    }
    years
}

/// Emissions reports, those awaiting verification first.
pub(crate) fn reports(engine: &Engine) -> Vec<ReportRow> {
    let registry = engine.registry();
    let mut rows: Vec<ReportRow> = engine
        .compliance()
        .reports()
        .take(REPORTS_READ_MAX)
        .map(|(entity, year, report)| ReportRow {
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

fn levels(levels: &[DepthLevel]) -> Vec<LevelRow> {
    levels
        .iter()
        .map(|level| LevelRow {
            price_ticks: level.price.ticks(),
            quantity: level.quantity.tonnes(),
            orders: level.orders,
        })
        .collect()
}

/// `HH:MM:SS` of an RFC 3339 time (the market page shows one day), or the
/// whole text when it has no such part.
fn time_of_day(rfc3339: &str) -> String {
    rfc3339
        .get(11..19)
        .filter(|time| time.as_bytes().get(2) == Some(&b':'))
        .unwrap_or(rfc3339)
        .to_owned()
}

/// Every instrument's book, day figures and recent trades.
pub(crate) fn market(engine: &Engine) -> Vec<InstrumentView> {
    let exchange = engine.exchange();
    exchange
        .instruments()
        .map(|symbol| {
            let depth = exchange.depth(symbol);
            let tape = exchange.tape(symbol);
            let chart_from = tape.len().saturating_sub(CHART_TRADES_MAX);
            InstrumentView {
                symbol: symbol.to_string(),
                stats: exchange.day_stats(symbol).map(|stats| StatsRow {
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
                recent: tape
                    .iter()
                    .rev()
                    .take(TAPE_SHOWN_MAX)
                    .map(|trade| TradeRow {
                        price_ticks: trade.price.ticks(),
                        quantity: trade.quantity.tonnes(),
                        at: time_of_day(&ets_api::format_time(trade.at)),
                    })
                    .collect(),
                chart_prices_ticks: tape[chart_from..]
                    .iter()
                    .map(|trade| trade.price.ticks())
                    .collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trade_times_show_the_time_of_day() {
        // Goal: the market page's trade times keep HH:MM:SS of RFC 3339 text.
        assert_eq!(time_of_day("2026-11-28T18:51:57.203Z"), "18:51:57");
        assert_eq!(time_of_day("12ms"), "12ms");
    }
}
