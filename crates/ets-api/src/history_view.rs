//! The API's lists of transactions from the history database
//! (`GET /api/accounts/{id}/statement`, `GET /api/transactions`,
//! `GET /api/search`): their query parameters, checked strictly (an unknown
//! name or a bad value is refused as `400 invalid_parameter`, naming it as
//! JSON text; a cursor past the list's end is `404 not_found`), and their answers, a
//! page of rows with the list's total and the cursor of the next page.
//!
//! A cursor is the decimal id of the last transaction of the previous page
//! (lists are newest first, so the next page holds older ids); it is
//! returned as `next_cursor` and never needs to be built by hand.

use crate::refusal::{Refusal, RefusalCode};
use crate::text::{format_time, parse_time};
use ets_history::query::TransactionRow;
use ets_history::statement::{PAGE_ROWS_MAX, TransactionFilter};
use ets_model::Timestamp;
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::BTreeMap;

/// Rows per page when `limit` is not given.
pub const LIST_LIMIT_DEFAULT: i64 = 50;

/// The longest search term, in characters.
pub const SEARCH_TERM_MAX_CHARS: usize = 200;

/// The statuses a transaction can have in the history (the `status` filter).
pub const TRANSACTION_STATUSES: [&str; 8] = [
    "proposed",
    "awaiting_approval",
    "delayed",
    "completed",
    "rejected",
    "cancelled",
    "reversed",
    "failed",
];

/// The kinds of transaction (the `kind` filter).
pub const TRANSACTION_KINDS: [&str; 7] = [
    "issue",
    "allocate",
    "transfer",
    "surrender",
    "retire",
    "cancel",
    "reversal",
];

/// One step of a transaction's status history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct StatusStepView {
    /// The status entered.
    pub status: String,
    /// When, RFC 3339.
    pub at: String,
    /// The participant who caused it.
    pub by: i64,
}

/// One transaction as the history holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct TransactionRowView {
    /// Its id.
    pub id: i64,
    /// `issue`, `allocate`, `transfer`, `surrender`, `retire`, `cancel` or `reversal`.
    pub kind: String,
    /// The account units leave.
    pub from_account: i64,
    /// The account units reach.
    pub to_account: i64,
    /// The unit class (`CEA-2021`).
    pub unit_class: String,
    /// Tonnes.
    pub quantity: i64,
    /// Where it stands now.
    pub status: String,
    /// Who proposed it.
    pub proposer: i64,
    /// When it was proposed, RFC 3339.
    pub proposed_at: String,
    /// By kind: a surrender's year, a retirement's beneficiary, a cancellation's reason, the id a reversal undoes.
    pub note: Option<String>,
    /// Every status it has been in, oldest first.
    pub status_history: Vec<StatusStepView>,
    /// The serial blocks it moved, `[first, last]` inclusive.
    pub blocks: Vec<[i64; 2]>,
}

impl From<&TransactionRow> for TransactionRowView {
    fn from(row: &TransactionRow) -> TransactionRowView {
        TransactionRowView {
            id: row.id,
            kind: row.kind.clone(),
            from_account: row.from_account,
            to_account: row.to_account,
            unit_class: row.unit_class.clone(),
            quantity: row.quantity,
            status: row.status.clone(),
            proposer: row.proposer,
            proposed_at: format_time(Timestamp(row.proposed_ms)),
            note: row.note.clone(),
            status_history: row
                .status_history
                .iter()
                .map(|step| StatusStepView {
                    status: step.status.clone(),
                    at: format_time(Timestamp(step.at_ms)),
                    by: step.by,
                })
                .collect(),
            blocks: row
                .blocks
                .iter()
                .map(|&(first, last)| [first, last])
                .collect(),
        }
    }
}

/// A page of a list of transactions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct TransactionPageView {
    /// How many transactions the whole list holds (all pages).
    pub total: i64,
    /// This page's transactions, newest first.
    pub transactions: Vec<TransactionRowView>,
    /// The `cursor` of the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// An account a search found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct AccountHitView {
    /// The account.
    pub account: u64,
    /// Its kind.
    pub kind: String,
    /// Its holder.
    pub holder: u64,
    /// The holder's name.
    pub holder_name: String,
    /// Its status.
    pub status: String,
}

/// A serial number a search found: who holds it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SerialHitView {
    /// The serial.
    pub serial: u64,
    /// The account holding it.
    pub account: u64,
    /// Its unit class.
    pub unit_class: String,
}

/// What a search found, within what the user may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SearchView {
    /// The term, as sent.
    pub term: String,
    /// Accounts of that number or whose holder's name contains the term.
    pub accounts: Vec<AccountHitView>,
    /// The serial of that number.
    pub serials: Vec<SerialHitView>,
    /// A page of the transactions found (of that number, moving that serial,
    /// or whose unit class, note, kind or status matches), newest first.
    pub transactions: Vec<TransactionRowView>,
    /// The `cursor` of the next page of transactions; `null` on the last.
    pub next_cursor: Option<String>,
}

/// A list's query parameters, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// What the list holds.
    pub filter: TransactionFilter,
    /// Only transactions older than this id (the cursor).
    pub before: Option<i64>,
    /// Rows per page.
    pub limit: i64,
    /// The search term (`q`), for a search.
    pub term: Option<String>,
}

fn invalid(message: String) -> Refusal {
    Refusal::new(RefusalCode::InvalidParameter, message)
}

/// JSON text of what was sent, so a message never carries it raw.
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

fn whole(name: &str, text: &str, range: std::ops::RangeInclusive<i64>) -> Result<i64, Refusal> {
    text.parse::<i64>()
        .ok()
        .filter(|value| text.bytes().all(|b| b.is_ascii_digit()) && range.contains(value))
        .ok_or_else(|| {
            invalid(format!(
                "{name} must be a whole number from {} to {}; it is {}",
                range.start(),
                range.end(),
                quoted(text)
            ))
        })
}

fn one_of(name: &str, text: &str, allowed: &[&str]) -> Result<String, Refusal> {
    if allowed.contains(&text) {
        return Ok(text.to_owned());
    }
    Err(invalid(format!(
        "{name} must be one of {}; it is {}",
        allowed.join(", "),
        quoted(text)
    )))
}

fn instant(name: &str, text: &str) -> Result<i64, Refusal> {
    parse_time(text).map(|time| time.0).map_err(|_| {
        invalid(format!(
            "{name} must be an RFC 3339 time (2021-07-16T09:30:00Z); it is {}",
            quoted(text)
        ))
    })
}

/// Checks a list's query parameters: `names` are those the route takes
/// (of `account`, `from`, `until`, `status`, `kind`, `q`, `cursor`, `limit`).
///
/// # Errors
/// `invalid_parameter` for an unknown name or a bad value.
pub fn list_query(
    parameters: &BTreeMap<String, String>,
    names: &[&str],
) -> Result<ListQuery, Refusal> {
    let mut query = ListQuery {
        limit: LIST_LIMIT_DEFAULT,
        ..ListQuery::default()
    };
    for (name, value) in parameters {
        if !names.contains(&name.as_str()) {
            return Err(invalid(format!(
                "unknown query parameter {}; this route takes {}",
                quoted(name),
                names.join(", ")
            )));
        }
        match name.as_str() {
            "account" => query.filter.account = Some(whole(name, value, 0..=i64::MAX)?),
            "from" => query.filter.from_ms = Some(instant(name, value)?),
            "until" => query.filter.until_ms = Some(instant(name, value)?),
            "status" => query.filter.status = Some(one_of(name, value, &TRANSACTION_STATUSES)?),
            "kind" => query.filter.kind = Some(one_of(name, value, &TRANSACTION_KINDS)?),
            "cursor" => query.before = Some(whole(name, value, 1..=i64::MAX)?),
            "limit" => query.limit = whole(name, value, 1..=PAGE_ROWS_MAX)?,
            _ => query.term = Some(search_term(value)?),
        }
    }
    Ok(query)
}

fn search_term(text: &str) -> Result<String, Refusal> {
    // Spaces inside the term are part of it; only surrounding ones go.
    let term = if text.trim().is_empty() {
        text
    } else {
        text.trim()
    };
    if term.is_empty() || term.chars().count() > SEARCH_TERM_MAX_CHARS {
        return Err(invalid(format!(
            "q must be 1 to {SEARCH_TERM_MAX_CHARS} characters; it is {}",
            quoted(text)
        )));
    }
    Ok(term.to_owned())
}

/// The refusal of a cursor past the end (`404 not_found`, as a page beyond
/// the end is): no transaction of the list is older than it.
#[must_use]
pub fn cursor_past_end(before: i64) -> Refusal {
    Refusal::new(
        RefusalCode::NotFound,
        format!("the cursor {before} is beyond the end of the list: no transaction of it is older"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parameters(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn a_list_query_takes_its_filters_and_refuses_the_rest_by_name() {
        // Goal: good values become the filter; unknown names, markup, SQL,
        // signs and out-of-range limits are refused with the value quoted as JSON.
        let all = [
            "account", "from", "until", "status", "kind", "cursor", "limit",
        ];
        let query = list_query(
            &parameters(&[
                ("account", "100"),
                ("from", "2021-01-01T00:00:00Z"),
                ("status", "completed"),
                ("cursor", "7"),
                ("limit", "2"),
            ]),
            &all,
        )
        .unwrap();
        assert_eq!(query.filter.account, Some(100));
        assert_eq!(query.filter.from_ms, Some(1_609_459_200_000));
        assert_eq!(query.filter.status.as_deref(), Some("completed"));
        assert_eq!((query.before, query.limit), (Some(7), 2));
        for (name, value) in [
            ("status", "completed' OR '1'='1"),
            ("kind", "<script>"),
            ("cursor", "0"),
            ("cursor", "+7"),
            ("limit", "501"),
            ("from", "yesterday"),
            ("q", "x"),
        ] {
            let refused = list_query(&parameters(&[(name, value)]), &all).unwrap_err();
            assert_eq!(
                refused.code,
                RefusalCode::InvalidParameter,
                "{name}={value}"
            );
            if name != "q" {
                assert!(
                    refused.message.contains(&quoted(value)),
                    "{}",
                    refused.message
                );
            }
        }
    }
}
