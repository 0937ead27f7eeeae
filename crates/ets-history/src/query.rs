//! Reads of the history for people: a transaction with its audit trail and
//! serial blocks, the movements of one serial, an account's transactions,
//! and trades. Typed views, serialised as they are.

use crate::backend::Backend;
use crate::error::HistoryError;
use crate::value::Value;
use serde::Serialize;

/// A registry transaction as the history holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransactionRow {
    /// Its id.
    pub id: i64,
    /// issue, allocate, transfer, surrender, retire, cancel or reversal.
    pub kind: String,
    /// Where units came from.
    pub from_account: i64,
    /// Where they went.
    pub to_account: i64,
    /// The unit class.
    pub unit_class: String,
    /// Tonnes.
    pub quantity: i64,
    /// Where it stands now.
    pub status: String,
    /// Who proposed it.
    pub proposer: i64,
    /// When it was proposed (ms since the Unix epoch).
    pub proposed_ms: i64,
    /// Compliance year, beneficiary, reason or reversed id, by kind.
    pub note: Option<String>,
    /// Every status it has been in.
    pub status_history: Vec<StatusRow>,
    /// The serial blocks it moved, `[first, last]` inclusive.
    pub blocks: Vec<(i64, i64)>,
    /// The representatives who approved it, in order.
    pub approvals: Vec<i64>,
}

/// One step of a transaction's audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusRow {
    /// The status entered.
    pub status: String,
    /// When (ms since the Unix epoch).
    pub at_ms: i64,
    /// Who caused it.
    pub by: i64,
}

/// Where one serial has been: every completed (or later reversed) transaction that moved it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SerialHistory {
    /// The serial.
    pub serial: i64,
    /// The transactions, oldest first.
    pub movements: Vec<TransactionRow>,
}

pub(crate) const TRANSACTION_COLUMNS: &str =
    "id, kind, from_account, to_account, unit_class, quantity, status, proposer, proposed_ms, note";

/// One transaction, if the history has it.
///
/// # Errors
/// [`HistoryError::Database`].
pub fn transaction(
    backend: &mut dyn Backend,
    id: i64,
) -> Result<Option<TransactionRow>, HistoryError> {
    let sql = format!("SELECT {TRANSACTION_COLUMNS} FROM transactions WHERE id = $1");
    let rows = backend.query(&sql, &[Value::Int(id)])?;
    rows.into_iter()
        .next()
        .map(|row| complete(backend, row))
        .transpose()
}

/// Every completed or reversed transaction that moved `serial`, in id order.
///
/// # Errors
/// [`HistoryError::Database`].
pub fn serial(backend: &mut dyn Backend, serial: i64) -> Result<SerialHistory, HistoryError> {
    let sql = format!(
        "SELECT {TRANSACTION_COLUMNS} FROM transactions WHERE status IN ('completed', 'reversed') \
         AND id IN (SELECT transaction_id FROM transaction_blocks WHERE first_serial <= $1 AND last_serial >= $1) \
         ORDER BY id"
    );
    let rows = backend.query(&sql, &[Value::Int(serial)])?;
    let movements = rows
        .into_iter()
        .map(|row| complete(backend, row))
        .collect::<Result<_, _>>()?;
    Ok(SerialHistory { serial, movements })
}

/// The transactions from or to `account`, newest first, at most `limit`.
///
/// # Errors
/// [`HistoryError::Database`].
pub fn account_transactions(
    backend: &mut dyn Backend,
    account: i64,
    limit: i64,
) -> Result<Vec<TransactionRow>, HistoryError> {
    let sql = format!(
        "SELECT {TRANSACTION_COLUMNS} FROM transactions WHERE from_account = $1 OR to_account = $1 \
         ORDER BY id DESC LIMIT $2"
    );
    let rows = backend.query(&sql, &[Value::Int(account), Value::Int(limit)])?;
    rows.into_iter().map(|row| complete(backend, row)).collect()
}

/// Reads a transaction row and adds its status history and blocks.
pub(crate) fn complete(
    backend: &mut dyn Backend,
    row: Vec<Value>,
) -> Result<TransactionRow, HistoryError> {
    let int = |index: usize| row.get(index).and_then(Value::as_int).unwrap_or_default();
    let text = |index: usize| {
        row.get(index)
            .and_then(Value::as_text)
            .unwrap_or_default()
            .to_owned()
    };
    let id = int(0);
    let status_history = backend
        .query(
            "SELECT status, at_ms, by_participant FROM transaction_status WHERE transaction_id = $1 ORDER BY step",
            &[Value::Int(id)],
        )?
        .into_iter()
        .map(|step| StatusRow {
            status: step[0].as_text().unwrap_or_default().to_owned(),
            at_ms: step[1].as_int().unwrap_or_default(),
            by: step[2].as_int().unwrap_or_default(),
        })
        .collect();
    let blocks = backend
        .query(
            "SELECT first_serial, last_serial FROM transaction_blocks WHERE transaction_id = $1 ORDER BY position",
            &[Value::Int(id)],
        )?
        .into_iter()
        .map(|block| {
            (
                block[0].as_int().unwrap_or_default(),
                block[1].as_int().unwrap_or_default(),
            )
        })
        .collect();
    let approvals = backend
        .query(
            "SELECT participant FROM transaction_approvals WHERE transaction_id = $1 ORDER BY position",
            &[Value::Int(id)],
        )?
        .into_iter()
        .map(|approver| approver[0].as_int().unwrap_or_default())
        .collect();
    Ok(TransactionRow {
        id,
        kind: text(1),
        from_account: int(2),
        to_account: int(3),
        unit_class: text(4),
        quantity: int(5),
        status: text(6),
        proposer: int(7),
        proposed_ms: int(8),
        note: row.get(9).and_then(Value::as_text).map(str::to_owned),
        status_history,
        blocks,
        approvals,
    })
}

/// A settled trade's market facts, as the history holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TradeFacts {
    /// When it settled (ms since the Unix epoch).
    pub at_ms: i64,
    /// The instrument's symbol, or `auction:N`.
    pub venue: String,
    /// The price, ticks.
    pub price: i64,
    /// Tonnes.
    pub quantity: i64,
}

/// The trades settled from `from_ms` up to, not including, `to_ms`, in settlement order.
///
/// # Errors
/// [`HistoryError::Database`].
pub fn trades_between(
    backend: &mut dyn Backend,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<TradeFacts>, HistoryError> {
    let rows = backend.query(
        "SELECT at_ms, venue, price, quantity FROM trades WHERE at_ms >= $1 AND at_ms < $2 ORDER BY id",
        &[Value::Int(from_ms), Value::Int(to_ms)],
    )?;
    Ok(rows
        .into_iter()
        .map(|row| TradeFacts {
            at_ms: row[0].as_int().unwrap_or_default(),
            venue: row[1].as_text().unwrap_or_default().to_owned(),
            price: row[2].as_int().unwrap_or_default(),
            quantity: row[3].as_int().unwrap_or_default(),
        })
        .collect())
}

/// The journal record the history was last brought up to (0 when none).
///
/// # Errors
/// [`HistoryError::Database`].
pub fn head_sequence(backend: &mut dyn Backend) -> Result<u64, HistoryError> {
    let rows = backend.query(
        "SELECT value FROM meta WHERE key = $1",
        &[Value::from("last_sequence")],
    )?;
    Ok(rows
        .first()
        .and_then(|row| row.first())
        .and_then(Value::as_text)
        .and_then(|text| text.parse().ok())
        .unwrap_or(0))
}
