//! The projection: from the engine after a durable batch and the batch's
//! commands, the rows to write. Rows describe things as they stand now
//! (upserts by key), so projecting after every record, after every batch or
//! after a whole replay gives the same tables.

use crate::HistoryError;
use crate::schema::{
    COMMANDS, COMPLIANCE_RESULTS, HOLDINGS, MARKET_DAYS, ORDERS, TRADES, TRANSACTION_APPROVALS,
    TRANSACTION_BLOCKS, TRANSACTION_STATUS, TRANSACTIONS, Table,
};
use crate::value::Value;
use ets_engine::compliance::{ComplianceCommand, EntityResult};
use ets_engine::exchange::{ExchangeCommand, ExchangeEffect, TradeLog, TradeRecord, TradeVenue};
use ets_engine::{Command, Effect, Engine, Outcome};
use ets_market::{OrderKind, Side, TradeMode};
use ets_model::{AccountId, TransactionId};
use ets_registry::{Registry, Transaction, TransactionKind, TransactionStatus};
use ets_store::Committed;
use std::collections::BTreeSet;

/// One row to insert or update by its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The table.
    pub table: Table,
    /// One value per column, in the table's column order.
    pub values: Vec<Value>,
}

impl Row {
    /// Its key: the table and the values of the key columns.
    fn key(&self) -> (&'static str, &[Value]) {
        (self.table.name, self.key_values())
    }

    /// The values of its table's key columns.
    pub(crate) fn key_values(&self) -> &[Value] {
        &self.values[..self.table.key]
    }
}

/// `rows` with only the last row of each key, in their order: every row is
/// a whole-row upsert (no foreign keys, no triggers), so writing the last
/// alone leaves the tables as writing them all does, with fewer statements.
/// The writer merges several batches into one transaction, where a holding
/// or a pending transaction may have a row in each.
pub(crate) fn last_per_key(rows: Vec<Row>) -> Vec<Row> {
    let keep: Vec<bool> = {
        let mut seen = std::collections::HashSet::with_capacity(rows.len());
        let mut keep: Vec<bool> = rows
            .iter()
            .rev()
            .map(|row| seen.insert(row.key()))
            .collect();
        keep.reverse();
        keep
    };
    rows.into_iter()
        .zip(keep)
        .filter_map(|(row, keep)| keep.then_some(row))
        .collect()
}

/// What the projection remembers between batches: how far it has read the
/// engine's transaction and trade lists, and which transactions may still change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projector {
    /// Transactions projected so far (ids run from 1 without gaps).
    pub transactions: u64,
    /// Trades projected so far (ids run from 1 without gaps).
    pub trades: u64,
    /// Transactions still proposed or awaiting approval.
    pub pending: BTreeSet<u64>,
}

impl Projector {
    /// The rows for one durable batch, given the engine after it.
    ///
    /// # Errors
    /// [`HistoryError::OutOfRange`] when a number does not fit its column.
    pub fn rows(&mut self, engine: &Engine, batch: &[Committed]) -> Result<Vec<Row>, HistoryError> {
        let mut rows = Vec::with_capacity(batch.len() * 4);
        for committed in batch {
            rows.push(command_row(committed)?);
            effect_rows(engine, committed, &mut rows)?;
        }
        let touched = self.transaction_rows(engine.registry(), &mut rows)?;
        holding_rows(engine.registry(), &touched, &mut rows)?;
        self.trade_rows(engine.exchange().trades(), &mut rows)?;
        Ok(rows)
    }

    /// Rows of every transaction that is new or may have changed; returns the accounts touched.
    fn transaction_rows(
        &mut self,
        registry: &Registry,
        rows: &mut Vec<Row>,
    ) -> Result<BTreeSet<AccountId>, HistoryError> {
        // Ids run from 1 without gaps; a bounded engine keeps finished
        // transactions for a window of commands longer than any batch.
        let count = registry.next_transaction_id().0 - 1;
        let mut changed: BTreeSet<u64> = std::mem::take(&mut self.pending);
        changed.extend(self.transactions + 1..=count);
        // A reversal, new or approved since, changes the transaction it reverses.
        let reversals = changed
            .iter()
            .filter_map(|&id| registry.transaction(TransactionId(id)).ok())
            .filter_map(|transaction| match transaction.kind {
                TransactionKind::Reversal { of } => Some(of.0),
                _ => None,
            })
            .collect::<Vec<_>>();
        changed.extend(reversals);
        let mut touched = BTreeSet::new();
        for id in changed {
            let Ok(transaction) = registry.transaction(TransactionId(id)) else {
                continue;
            };
            transaction_row(registry, transaction, rows)?;
            touched.insert(transaction.from);
            touched.insert(transaction.to);
            // A delayed transfer still changes: it completes, fails or is cancelled later.
            if transaction.status() == TransactionStatus::Proposed || transaction.is_pending() {
                self.pending.insert(id);
            }
        }
        self.transactions = count;
        Ok(touched)
    }

    fn trade_rows(&mut self, trades: &TradeLog, rows: &mut Vec<Row>) -> Result<(), HistoryError> {
        for trade in trades.starting_at(self.trades + 1) {
            rows.push(trade_row(trade)?);
        }
        self.trades = trades.count();
        Ok(())
    }
}

fn command_row(committed: &Committed) -> Result<Row, HistoryError> {
    let envelope = &committed.envelope;
    Ok(Row {
        table: COMMANDS,
        values: vec![
            Value::unsigned("sequence", committed.sequence)?,
            Value::Int(envelope.time.0),
            Value::unsigned("requester", envelope.requester.0)?,
            // Request ids use all 64 bits (the CLI's set the top one): stored as their bit pattern.
            Value::Int(i64::from_ne_bytes(envelope.request_id.0.to_ne_bytes())),
            envelope.command.name().into(),
            committed.outcome.code().into(),
        ],
    })
}

fn transaction_row(
    registry: &Registry,
    transaction: &Transaction,
    rows: &mut Vec<Row>,
) -> Result<(), HistoryError> {
    let id = Value::unsigned("transaction_id", transaction.id.0)?;
    let note = match &transaction.kind {
        TransactionKind::Surrender { compliance_year } => Some(compliance_year.to_string()),
        TransactionKind::Retire { beneficiary } => Some(beneficiary.clone()),
        TransactionKind::Cancel { reason } => Some(reason.clone()),
        TransactionKind::Reversal { of } => Some(of.0.to_string()),
        TransactionKind::Issue | TransactionKind::Allocate | TransactionKind::Transfer => None,
    };
    let proposed_ms = transaction.history.first().map_or(0, |change| change.at.0);
    rows.push(Row {
        table: TRANSACTIONS,
        values: vec![
            id.clone(),
            transaction.kind.name().into(),
            Value::unsigned("from_account", transaction.from.0)?,
            Value::unsigned("to_account", transaction.to.0)?,
            class_name(registry, transaction.class_index).into(),
            Value::unsigned("quantity", transaction.quantity.tonnes())?,
            transaction.status().name().into(),
            Value::unsigned("proposer", transaction.proposer.0)?,
            Value::Int(proposed_ms),
            note.into(),
        ],
    });
    for (step, change) in transaction.history.iter().enumerate() {
        rows.push(Row {
            table: TRANSACTION_STATUS,
            values: vec![
                id.clone(),
                Value::unsigned("step", step as u64)?,
                change.status.name().into(),
                Value::Int(change.at.0),
                Value::unsigned("by_participant", change.by.0)?,
            ],
        });
    }
    for (position, approver) in transaction.approvals.iter().enumerate() {
        rows.push(Row {
            table: TRANSACTION_APPROVALS,
            values: vec![
                id.clone(),
                Value::unsigned("position", position as u64)?,
                Value::unsigned("participant", approver.0)?,
            ],
        });
    }
    for (position, block) in transaction.blocks.iter().enumerate() {
        rows.push(Row {
            table: TRANSACTION_BLOCKS,
            values: vec![
                id.clone(),
                Value::unsigned("position", position as u64)?,
                Value::unsigned("first_serial", block.start())?,
                Value::unsigned("last_serial", block.end())?,
            ],
        });
    }
    Ok(())
}

fn holding_rows(
    registry: &Registry,
    accounts: &BTreeSet<AccountId>,
    rows: &mut Vec<Row>,
) -> Result<(), HistoryError> {
    for &id in accounts {
        let Ok(account) = registry.account(id) else {
            continue;
        };
        for (class_index, holding) in account.holdings() {
            rows.push(Row {
                table: HOLDINGS,
                values: vec![
                    Value::unsigned("account_id", id.0)?,
                    class_name(registry, class_index).into(),
                    Value::unsigned("quantity", holding.total().tonnes())?,
                    Value::unsigned("blocks", holding.block_count() as u64)?,
                ],
            });
        }
    }
    Ok(())
}

fn trade_row(trade: &TradeRecord) -> Result<Row, HistoryError> {
    let venue = match trade.venue {
        TradeVenue::Instrument(code) => code.to_string(),
        TradeVenue::Auction(auction) => format!("auction:{}", auction.0),
    };
    Ok(Row {
        table: TRADES,
        values: vec![
            Value::unsigned("id", trade.id)?,
            venue.into(),
            mode_name(trade.mode).into(),
            Value::unsigned("maker_order", trade.maker_order.0)?,
            Value::unsigned("taker_order", trade.taker_order.0)?,
            Value::unsigned("buyer", trade.buyer.0)?,
            Value::unsigned("seller", trade.seller.0)?,
            Value::Int(trade.price.ticks()),
            Value::unsigned("quantity", trade.quantity.tonnes())?,
            Value::Int(trade.buyer_fee.minor_units()),
            Value::Int(trade.seller_fee.minor_units()),
            Value::Int(trade.at.0),
            Value::unsigned("transaction_id", trade.transaction.0)?,
        ],
    })
}

/// Rows that only the command's effect tells: orders as entered, closed
/// trading days, results of a closed compliance year.
fn effect_rows(
    engine: &Engine,
    committed: &Committed,
    rows: &mut Vec<Row>,
) -> Result<(), HistoryError> {
    let Outcome::Accepted(effect) = &committed.outcome else {
        return Ok(());
    };
    match (&committed.envelope.command, effect) {
        (Command::Exchange(command), Effect::Exchange(effect)) => {
            exchange_rows(engine, committed, command, effect, rows)
        }
        (
            Command::Compliance(ComplianceCommand::CloseYear { scheme, year, .. }),
            Effect::Compliance(_),
        ) => {
            let results = engine
                .compliance()
                .closed_results(scheme, *year)
                .unwrap_or(&[]);
            for result in results {
                rows.push(result_row(scheme, *year, result)?);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The history rows of an accepted exchange command: an entered order, a
/// submitted bid or a closed trading day.
fn exchange_rows(
    engine: &Engine,
    committed: &Committed,
    command: &ExchangeCommand,
    effect: &ExchangeEffect,
    rows: &mut Vec<Row>,
) -> Result<(), HistoryError> {
    let row = match effect {
        ExchangeEffect::OrderEntered { .. } => order_row(engine, committed, command, effect)?,
        ExchangeEffect::BidSubmitted { .. } => bid_row(committed, command, effect)?,
        ExchangeEffect::DayClosed { .. } => day_row(committed, effect)?,
        _ => None,
    };
    rows.extend(row);
    Ok(())
}

/// The `orders` row of an order entered on the exchange (none when its
/// terms cannot be found).
fn order_row(
    engine: &Engine,
    committed: &Committed,
    command: &ExchangeCommand,
    effect: &ExchangeEffect,
) -> Result<Option<Row>, HistoryError> {
    let ExchangeEffect::OrderEntered {
        instrument,
        order,
        trades,
        open,
    } = effect
    else {
        return Ok(None);
    };
    let Some((account, side, price, quantity)) = order_terms(engine, command, trades) else {
        return Ok(None);
    };
    Ok(Some(Row {
        table: ORDERS,
        values: vec![
            instrument.to_string().into(),
            Value::unsigned("order_id", order.0)?,
            Value::unsigned("sequence", committed.sequence)?,
            Value::unsigned("account_id", account.0)?,
            side.into(),
            price.into(),
            Value::unsigned("quantity", quantity)?,
            Value::unsigned("open_after_entry", open.tonnes())?,
            Value::unsigned("trades", trades.len() as u64)?,
            Value::Int(committed.envelope.time.0),
        ],
    }))
}

/// The `orders` row of a bid submitted to an auction (instrument
/// `auction:<id>`, side `bid`, no trades).
fn bid_row(
    committed: &Committed,
    command: &ExchangeCommand,
    effect: &ExchangeEffect,
) -> Result<Option<Row>, HistoryError> {
    let (
        ExchangeEffect::BidSubmitted { auction, bid },
        ExchangeCommand::SubmitBid {
            account,
            price,
            quantity,
            ..
        },
    ) = (effect, command)
    else {
        return Ok(None);
    };
    Ok(Some(Row {
        table: ORDERS,
        values: vec![
            format!("auction:{}", auction.0).into(),
            Value::unsigned("order_id", bid.0)?,
            Value::unsigned("sequence", committed.sequence)?,
            Value::unsigned("account_id", account.0)?,
            "bid".into(),
            Value::Int(price.ticks()),
            Value::unsigned("quantity", quantity.tonnes())?,
            Value::unsigned("open_after_entry", quantity.tonnes())?,
            Value::Int(0),
            Value::Int(committed.envelope.time.0),
        ],
    }))
}

/// The `market_days` row of a closed trading day.
fn day_row(committed: &Committed, effect: &ExchangeEffect) -> Result<Option<Row>, HistoryError> {
    let ExchangeEffect::DayClosed {
        instrument,
        stats,
        expired,
    } = effect
    else {
        return Ok(None);
    };
    let price = |p: Option<ets_model::Price>| Value::from(p.map(|p| p.ticks()));
    Ok(Some(Row {
        table: MARKET_DAYS,
        values: vec![
            instrument.to_string().into(),
            Value::unsigned("sequence", committed.sequence)?,
            Value::Int(committed.envelope.time.0),
            Value::Int(stats.previous_close.ticks()),
            Value::Int(stats.open.ticks()),
            price(stats.high),
            price(stats.low),
            price(stats.last),
            Value::Int(stats.close.ticks()),
            price(stats.vwap),
            Value::unsigned("volume", stats.volume.tonnes())?,
            Value::Int(stats.turnover.minor_units()),
            Value::unsigned("trades", stats.trades)?,
            Value::unsigned("expired", u64::from(*expired))?,
        ],
    }))
}

/// Who entered an order, on which side, at what price and for how much.
fn order_terms(
    engine: &Engine,
    command: &ExchangeCommand,
    trades: &[u64],
) -> Option<(AccountId, &'static str, Option<i64>, u64)> {
    match command {
        ExchangeCommand::PlaceOrder {
            account,
            side,
            kind,
            quantity,
            ..
        } => {
            let price = match kind {
                OrderKind::Limit(price) => Some(price.ticks()),
                OrderKind::Market => None,
            };
            Some((*account, side_name(*side), price, quantity.tonnes()))
        }
        ExchangeCommand::AmendOrder {
            account,
            price,
            quantity,
            ..
        } => Some((*account, "amend", Some(price.ticks()), quantity.tonnes())),
        ExchangeCommand::TakeListed {
            account, quantity, ..
        } => Some((*account, "take", None, quantity.tonnes())),
        ExchangeCommand::ProposeBlock {
            account,
            side,
            price,
            quantity,
            ..
        } => Some((
            *account,
            side_name(*side),
            Some(price.ticks()),
            quantity.tonnes(),
        )),
        ExchangeCommand::AcceptBlock { account, .. } => {
            let records = engine.exchange().trades();
            let traded = trades
                .iter()
                .filter_map(|&id| records.get(id))
                .map(|trade| trade.quantity.tonnes())
                .sum();
            Some((*account, "accept", None, traded))
        }
        _ => None,
    }
}

fn result_row(scheme: &str, year: u16, result: &EntityResult) -> Result<Row, HistoryError> {
    Ok(Row {
        table: COMPLIANCE_RESULTS,
        values: vec![
            scheme.into(),
            Value::Int(i64::from(year)),
            Value::unsigned("participant", result.entity.0)?,
            Value::unsigned("account_id", result.account.0)?,
            result
                .verified_emissions
                .map(|q| Value::unsigned("verified_emissions", q.tonnes()))
                .transpose()?
                .unwrap_or(Value::Null),
            Value::unsigned("allocation", result.allocation.tonnes())?,
            Value::unsigned("obligation", result.obligation.tonnes())?,
            Value::unsigned(
                "allowances_surrendered",
                result.allowances_surrendered.tonnes(),
            )?,
            Value::unsigned("offsets_used", result.offsets_used.tonnes())?,
            result.status.name().into(),
            Value::unsigned("shortfall", result.shortfall.tonnes())?,
            Value::Int(result.fine_min.minor_units()),
            Value::Int(result.fine_max.minor_units()),
            Value::unsigned("next_year_deduction", result.next_year_deduction.tonnes())?,
            result.eu_status.clone().into(),
        ],
    })
}

fn class_name(registry: &Registry, class_index: u32) -> String {
    registry
        .class(class_index)
        .map_or_else(|| format!("class#{class_index}"), ToString::to_string)
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

fn mode_name(mode: TradeMode) -> &'static str {
    match mode {
        TradeMode::Continuous => "continuous",
        TradeMode::Listed => "listed",
        TradeMode::Block => "block",
        TradeMode::Auction => "auction",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Backend, Sqlite};

    fn holding(account: i64, class: &str, quantity: i64) -> Row {
        Row {
            table: HOLDINGS,
            values: vec![account.into(), class.into(), quantity.into(), 1.into()],
        }
    }

    fn holdings_after(rows: &[Row]) -> Vec<Vec<Value>> {
        let temp = tempfile::tempdir().expect("temp dir");
        let mut backend = Sqlite::open(&temp.path().join("h.sqlite")).expect("opens");
        backend.create_schema().expect("schema");
        backend.write(rows, &[]).expect("writes");
        backend.dump(HOLDINGS).expect("dumps")
    }

    #[test]
    fn only_the_last_row_of_a_key_is_kept_and_the_tables_come_out_the_same() {
        // Goal: of rows sharing a table and key only the last stays, others
        // keep their order, and writing what stays gives the tables writing
        // every row gives.
        let rows = vec![
            holding(12, "CEA-2021", 100),
            holding(13, "CEA-2021", 5),
            holding(12, "CEA-2022", 7),
            holding(12, "CEA-2021", 90),
            holding(13, "CEA-2021", 0),
        ];
        let kept = last_per_key(rows.clone());
        assert_eq!(
            kept,
            vec![
                holding(12, "CEA-2022", 7),
                holding(12, "CEA-2021", 90),
                holding(13, "CEA-2021", 0),
            ]
        );
        assert_eq!(holdings_after(&kept), holdings_after(&rows));
    }

    #[test]
    fn a_key_written_twice_in_one_multi_row_upsert_keeps_its_last_row() {
        // Goal: 40 rows of 10 keys (two groups of 16 in one statement each,
        // with a key twice in each group, then 8 one by one) leave each key
        // with its last row, as 40 single upserts would.
        let rows: Vec<Row> = (0..40_i64)
            .map(|index| holding(index % 10, "CEA-2021", index))
            .collect();
        let expected: Vec<Vec<Value>> = (30..40_i64)
            .map(|index| holding(index % 10, "CEA-2021", index).values)
            .collect();
        assert_eq!(holdings_after(&rows), expected);
    }
}
