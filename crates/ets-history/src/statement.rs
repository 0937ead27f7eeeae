//! Lists of transactions for people and programs: an account's statement
//! (or every transaction, for those who see all) filtered by period, status
//! and kind, newest first, a page at a time with the total, reached by page
//! offset (the web UI) or by cursor (the API). Every value is a bound
//! parameter; nothing the caller sends becomes SQL text.

use crate::backend::Backend;
use crate::error::HistoryError;
use crate::query::{TRANSACTION_COLUMNS, TransactionRow, complete};
use crate::value::Value;

/// The most rows one page may hold.
pub const PAGE_ROWS_MAX: i64 = 500;

/// Which transactions a list holds. Every field narrows it; the default holds all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransactionFilter {
    /// Only those from or to this account.
    pub account: Option<i64>,
    /// Only those proposed at or after this instant (ms since the Unix epoch).
    pub from_ms: Option<i64>,
    /// Only those proposed before this instant (ms since the Unix epoch).
    pub until_ms: Option<i64>,
    /// Only those whose status now is this one (`completed`, `awaiting_approval`, ...).
    pub status: Option<String>,
    /// Only those of this kind (`transfer`, `surrender`, ...).
    pub kind: Option<String>,
}

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStart {
    /// After skipping this many rows of the list (a page number's start).
    Offset(i64),
    /// With the newest transaction older than this id (a cursor from the previous page).
    Before(i64),
}

/// One page of a list of transactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionPage {
    /// How many transactions the whole list holds (every page).
    pub total: i64,
    /// This page's transactions, newest first, with status history and blocks.
    pub rows: Vec<TransactionRow>,
    /// The cursor of the next page, when there is one.
    pub next_before: Option<i64>,
}

/// The `WHERE` clause shared by the count and the page; parameters `$1..$6`.
const FILTER_SQL: &str = "($1 < 0 OR from_account = $1 OR to_account = $1) \
     AND proposed_ms >= $2 AND proposed_ms < $3 \
     AND ($4 = '' OR status = $4) AND ($5 = '' OR kind = $5) AND id < $6";

/// One page of the transactions `filter` selects, at most `limit` of them.
///
/// # Errors
/// [`HistoryError::Database`]; [`HistoryError::OutOfRange`] never (a limit
/// outside `1..=PAGE_ROWS_MAX` is clamped into it).
pub fn transactions(
    backend: &mut dyn Backend,
    filter: &TransactionFilter,
    start: PageStart,
    limit: i64,
) -> Result<TransactionPage, HistoryError> {
    let limit = limit.clamp(1, PAGE_ROWS_MAX);
    let mut parameters = vec![
        Value::Int(filter.account.unwrap_or(-1)),
        Value::Int(filter.from_ms.unwrap_or(i64::MIN)),
        Value::Int(filter.until_ms.unwrap_or(i64::MAX)),
        Value::Text(filter.status.clone().unwrap_or_default()),
        Value::Text(filter.kind.clone().unwrap_or_default()),
        Value::Int(i64::MAX),
    ];
    let total = count(
        backend,
        &format!("SELECT COUNT(*) FROM transactions WHERE {FILTER_SQL}"),
        &parameters,
    )?;
    let offset = match start {
        PageStart::Offset(offset) => offset.max(0),
        PageStart::Before(id) => {
            parameters[5] = Value::Int(id);
            0
        }
    };
    parameters.push(Value::Int(limit.saturating_add(1)));
    parameters.push(Value::Int(offset));
    let sql = format!(
        "SELECT {TRANSACTION_COLUMNS} FROM transactions WHERE {FILTER_SQL} \
         ORDER BY id DESC LIMIT $7 OFFSET $8"
    );
    let mut found = backend.query(&sql, &parameters)?;
    let more = found.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let rows: Vec<TransactionRow> = found
        .into_iter()
        .map(|row| complete(backend, row))
        .collect::<Result<_, _>>()?;
    let next_before = if more {
        rows.last().map(|row| row.id)
    } else {
        None
    };
    Ok(TransactionPage {
        total,
        rows,
        next_before,
    })
}

/// The transactions whose serial blocks contain `serial`, whatever their
/// status, newest first, at most `limit`.
///
/// # Errors
/// [`HistoryError::Database`].
pub fn moving_serial(
    backend: &mut dyn Backend,
    serial: i64,
    limit: i64,
) -> Result<Vec<TransactionRow>, HistoryError> {
    moving_serial_before(backend, serial, i64::MAX, limit)
}

/// As [`moving_serial`], only transactions older than id `before` (a cursor).
///
/// # Errors
/// [`HistoryError::Database`].
pub fn moving_serial_before(
    backend: &mut dyn Backend,
    serial: i64,
    before: i64,
    limit: i64,
) -> Result<Vec<TransactionRow>, HistoryError> {
    let sql = format!(
        "SELECT {TRANSACTION_COLUMNS} FROM transactions WHERE id IN \
         (SELECT transaction_id FROM transaction_blocks WHERE first_serial <= $1 AND last_serial >= $1) \
         AND id < $2 ORDER BY id DESC LIMIT $3"
    );
    let rows = backend.query(
        &sql,
        &[
            Value::Int(serial),
            Value::Int(before),
            Value::Int(limit.clamp(1, PAGE_ROWS_MAX)),
        ],
    )?;
    rows.into_iter().map(|row| complete(backend, row)).collect()
}

/// The most accounts a [`search`] may be limited to.
pub const SEARCH_ACCOUNTS_MAX: usize = 1_000;

/// The transactions whose unit class or note (a surrender's year, a
/// retirement's beneficiary, a cancellation's reason) contains `text`, or
/// whose kind or status is `text`, newest first, at most `limit`; when
/// `accounts` is given, only those from or to one of them (at most
/// [`SEARCH_ACCOUNTS_MAX`]). `text` is matched literally: `%`, `_` and
/// quotes are characters like any other, bound as a parameter.
///
/// # Errors
/// [`HistoryError::Database`].
pub fn search(
    backend: &mut dyn Backend,
    text: &str,
    accounts: Option<&[i64]>,
    limit: i64,
) -> Result<Vec<TransactionRow>, HistoryError> {
    search_before(backend, text, accounts, i64::MAX, limit)
}

/// As [`search`], only transactions older than id `before` (a cursor).
///
/// # Errors
/// [`HistoryError::Database`].
pub fn search_before(
    backend: &mut dyn Backend,
    text: &str,
    accounts: Option<&[i64]>,
    before: i64,
    limit: i64,
) -> Result<Vec<TransactionRow>, HistoryError> {
    let escaped: String = text
        .chars()
        .flat_map(|c| match c {
            '\\' | '%' | '_' => vec!['\\', c],
            other => vec![other],
        })
        .collect();
    let mut parameters = vec![
        Value::Text(format!("%{escaped}%")),
        Value::Text(text.to_owned()),
        Value::Int(before),
    ];
    let mut within = String::new();
    if let Some(accounts) = accounts {
        let accounts = &accounts[..accounts.len().min(SEARCH_ACCOUNTS_MAX)];
        if accounts.is_empty() {
            return Ok(Vec::new());
        }
        // Placeholders are numbered in the order they appear (SQLite numbers
        // `$N` by first appearance); the ids themselves are bound.
        let placeholders: Vec<String> = (0..accounts.len())
            .map(|index| format!("${}", index + 4))
            .collect();
        let list = placeholders.join(", ");
        within = format!(" AND (from_account IN ({list}) OR to_account IN ({list}))");
        parameters.extend(accounts.iter().map(|&id| Value::Int(id)));
    }
    parameters.push(Value::Int(limit.clamp(1, PAGE_ROWS_MAX)));
    let limit_at = parameters.len();
    let sql = format!(
        "SELECT {TRANSACTION_COLUMNS} FROM transactions WHERE \
         (unit_class LIKE $1 ESCAPE '\\' OR COALESCE(note, '') LIKE $1 ESCAPE '\\' OR kind = $2 OR status = $2) AND id < $3{within} \
         ORDER BY id DESC LIMIT ${limit_at}"
    );
    let rows = backend.query(&sql, &parameters)?;
    rows.into_iter().map(|row| complete(backend, row)).collect()
}

fn count(backend: &mut dyn Backend, sql: &str, parameters: &[Value]) -> Result<i64, HistoryError> {
    Ok(backend
        .query(sql, parameters)?
        .first()
        .and_then(|row| row.first())
        .and_then(Value::as_int)
        .unwrap_or(0))
}
