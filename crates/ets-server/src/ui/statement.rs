//! An account's statement (`/ui/accounts/{id}/statement`): its
//! transactions from the history, newest first, with the counterparty,
//! unit class, signed quantity, status and dates; a period filter
//! (`from`, `to`, inclusive dates in UTC); pages of [`PER_PAGE`] rows with
//! the total; and the same rows as CSV (`statement.csv`, every page).

use super::csv;
use super::history;
use super::page::{Viewer, layout, moment, tonnes};
use super::pager::{self, PER_PAGE, Pager, Query};
use super::{SignedIn, UiState, problem, read, signed_in, to_login};
use axum::extract::{Path, Query as QueryOf, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ets_history::query::TransactionRow;
use ets_history::statement::{PageStart, TransactionFilter, transactions};
use ets_model::AccountId;
use maud::{Markup, html};
use std::collections::{BTreeMap, BTreeSet};

const MS_PER_DAY: i64 = 86_400_000;
/// The most rows one CSV download holds.
const CSV_ROWS_MAX: usize = 100_000;

/// One line of a statement, as shown and exported.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub(crate) id: i64,
    pub(crate) proposed: String,
    pub(crate) last_change: String,
    pub(crate) kind: String,
    /// `in`, `out`, or `` when the account is on both sides.
    pub(crate) direction: &'static str,
    pub(crate) counterparty: i64,
    pub(crate) counterparty_name: String,
    pub(crate) unit: String,
    /// Positive in, negative out.
    pub(crate) quantity: i64,
    pub(crate) status: String,
}

/// The period asked for, as dates and as the history's filter bounds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Period {
    pub(crate) from: Option<String>,
    pub(crate) to: Option<String>,
    pub(crate) from_ms: Option<i64>,
    pub(crate) until_ms: Option<i64>,
}

/// `YYYY-MM-DD` as the instant its day starts in UTC.
pub(crate) fn day_start(text: &str) -> Result<i64, String> {
    let bad = || format!("{text:?} is not a date written YYYY-MM-DD");
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return Err(bad());
    }
    let number = |range: std::ops::Range<usize>| -> Result<u32, String> {
        let part = &text[range];
        if !part.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(bad());
        }
        part.parse().map_err(|_| bad())
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let year = i32::try_from(year).map_err(|_| bad())?;
    let month = u8::try_from(month).map_err(|_| bad())?;
    let day = u8::try_from(day).map_err(|_| bad())?;
    let date = ets_time::CivilDate::try_new(year, month, day).map_err(|_| bad())?;
    Ok(date.day_number() * MS_PER_DAY)
}

/// The period of `from` and `to` (each optional, `to` inclusive).
pub(crate) fn period(query: &Query) -> Result<Period, String> {
    let date = |name: &str| {
        query
            .get(name)
            .map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty())
    };
    let (from, to) = (date("from"), date("to"));
    let from_ms = from.as_deref().map(day_start).transpose()?;
    let until_ms = to
        .as_deref()
        .map(day_start)
        .transpose()?
        .map(|start| start + MS_PER_DAY);
    if let (Some(start), Some(end)) = (from_ms, until_ms)
        && start >= end
    {
        return Err("the period's start (from) comes after its end (to)".to_owned());
    }
    Ok(Period {
        from,
        to,
        from_ms,
        until_ms,
    })
}

/// Whether the signed-in user may read `account`'s statement: `Ok(())`, or the page saying why not.
pub(crate) async fn check_account(
    state: &UiState,
    user: &SignedIn,
    account: u64,
) -> Result<(), Response> {
    let participant = user.principal.participant;
    let found = read(state, move |engine| {
        engine
            .registry()
            .account(AccountId(account))
            .ok()
            .map(|row| super::view::may_see(row, participant))
    })
    .await?;
    let viewer = user.viewer();
    match found {
        None => Err(problem(
            StatusCode::NOT_FOUND,
            Some(&viewer),
            "unknown_account",
            &format!("account {account} does not exist"),
            "/ui",
        )),
        Some(false) if !user.principal.role.reads_everything() => Err(problem(
            StatusCode::FORBIDDEN,
            Some(&viewer),
            "not_representative",
            &format!(
                "participant {} neither holds nor represents account {account}",
                participant.0
            ),
            "/ui",
        )),
        Some(_) => Ok(()),
    }
}

/// The holders' names of `accounts`, read from the engine.
pub(crate) async fn holder_names(
    state: &UiState,
    accounts: BTreeSet<i64>,
) -> Result<BTreeMap<i64, String>, Response> {
    read(state, move |engine| {
        let registry = engine.registry();
        accounts
            .into_iter()
            .map(|id| {
                let name = u64::try_from(id)
                    .ok()
                    .and_then(|id| registry.account(AccountId(id)).ok())
                    .and_then(|account| registry.participant(account.holder).ok())
                    .map_or_else(String::new, |holder| holder.name.clone());
                (id, name)
            })
            .collect()
    })
    .await
}

fn line(account: i64, row: &TransactionRow, names: &BTreeMap<i64, String>) -> Line {
    let (direction, counterparty, sign) = if row.from_account == row.to_account {
        ("", row.to_account, 0)
    } else if row.to_account == account {
        ("in", row.from_account, 1)
    } else {
        ("out", row.to_account, -1)
    };
    Line {
        id: row.id,
        proposed: moment(row.proposed_ms),
        last_change: row
            .status_history
            .last()
            .map_or_else(String::new, |step| moment(step.at_ms)),
        kind: row.kind.clone(),
        direction,
        counterparty,
        counterparty_name: names.get(&counterparty).cloned().unwrap_or_default(),
        unit: row.unit_class.clone(),
        quantity: row.quantity.saturating_mul(sign),
        status: row.status.clone(),
    }
}

/// Lines of `rows` seen from `account`, with the counterparties' names.
pub(crate) async fn lines(
    state: &UiState,
    account: i64,
    rows: &[TransactionRow],
) -> Result<Vec<Line>, Response> {
    let accounts = rows
        .iter()
        .flat_map(|row| [row.from_account, row.to_account])
        .collect();
    let names = holder_names(state, accounts).await?;
    Ok(rows.iter().map(|row| line(account, row, &names)).collect())
}

fn bad_query(viewer: &Viewer<'_>, message: &str, back: &str) -> Response {
    problem(
        StatusCode::BAD_REQUEST,
        Some(viewer),
        "bad_query",
        message,
        back,
    )
}

/// `GET /ui/accounts/{id}/statement`.
pub(crate) async fn page(
    State(state): State<UiState>,
    headers: HeaderMap,
    Path(id): Path<u64>,
    QueryOf(query): QueryOf<Query>,
) -> Response {
    let Some(user) = signed_in(&state, &headers) else {
        return to_login();
    };
    let viewer = user.viewer();
    let path = format!("/ui/accounts/{id}/statement");
    let (period, page_number) = match (period(&query), pager::requested_page(&query)) {
        (Ok(period), Ok(page)) => (period, page),
        (Err(message), _) | (_, Err(message)) => return bad_query(&viewer, &message, &path),
    };
    if let Err(response) = check_account(&state, &user, id).await {
        return response;
    }
    let Ok(account) = i64::try_from(id) else {
        return bad_query(&viewer, "the account id is out of range", "/ui");
    };
    let filter = TransactionFilter {
        account: Some(account),
        from_ms: period.from_ms,
        until_ms: period.until_ms,
        ..TransactionFilter::default()
    };
    let offset = i64::try_from((page_number - 1).saturating_mul(PER_PAGE)).unwrap_or(i64::MAX);
    let found = match history::query(&state, move |backend| {
        transactions(backend, &filter, PageStart::Offset(offset), PER_PAGE as i64)
    })
    .await
    {
        Ok(found) => found,
        Err(response) => return response,
    };
    let pager = match Pager::new(page_number, u64::try_from(found.total).unwrap_or(0)) {
        Ok(pager) => pager,
        Err(message) => {
            return problem(
                StatusCode::NOT_FOUND,
                Some(&viewer),
                "page_beyond_end",
                &message,
                &pager::address(&path, &query, None),
            );
        }
    };
    let lines = match lines(&state, account, &found.rows).await {
        Ok(lines) => lines,
        Err(response) => return response,
    };
    let body = render(id, &period, &pager, &query, &lines);
    super::html(
        StatusCode::OK,
        layout(&format!("Statement of account {id}"), Some(&viewer), &body),
    )
}

/// `GET /ui/accounts/{id}/statement.csv`: every row of the filter, not one page.
pub(crate) async fn download(
    State(state): State<UiState>,
    headers: HeaderMap,
    Path(id): Path<u64>,
    QueryOf(query): QueryOf<Query>,
) -> Response {
    let Some(user) = signed_in(&state, &headers) else {
        return to_login();
    };
    let viewer = user.viewer();
    let period = match period(&query) {
        Ok(period) => period,
        Err(message) => return bad_query(&viewer, &message, "/ui"),
    };
    if let Err(response) = check_account(&state, &user, id).await {
        return response;
    }
    let Ok(account) = i64::try_from(id) else {
        return bad_query(&viewer, "the account id is out of range", "/ui");
    };
    let filter = TransactionFilter {
        account: Some(account),
        from_ms: period.from_ms,
        until_ms: period.until_ms,
        ..TransactionFilter::default()
    };
    let rows = match history::query(&state, move |backend| {
        let mut rows = Vec::new();
        let mut start = PageStart::Offset(0);
        loop {
            let page = transactions(
                backend,
                &filter,
                start,
                ets_history::statement::PAGE_ROWS_MAX,
            )?;
            rows.extend(page.rows);
            match page.next_before {
                Some(before) if rows.len() < CSV_ROWS_MAX => start = PageStart::Before(before),
                _ => return Ok(rows),
            }
        }
    })
    .await
    {
        Ok(rows) => rows,
        Err(response) => return response,
    };
    let lines = match lines(&state, account, &rows).await {
        Ok(lines) => lines,
        Err(response) => return response,
    };
    let cells: Vec<Vec<String>> = lines.iter().map(csv_row).collect();
    csv::download(&format!("statement-{id}.csv"), &CSV_HEADER, &cells)
}

const CSV_HEADER: [&str; 10] = [
    "transaction",
    "proposed_utc",
    "last_change_utc",
    "kind",
    "direction",
    "counterparty_account",
    "counterparty_holder",
    "unit",
    "quantity",
    "status",
];

fn csv_row(line: &Line) -> Vec<String> {
    vec![
        line.id.to_string(),
        line.proposed.clone(),
        line.last_change.clone(),
        line.kind.clone(),
        line.direction.to_owned(),
        line.counterparty.to_string(),
        line.counterparty_name.clone(),
        line.unit.clone(),
        line.quantity.to_string(),
        line.status.clone(),
    ]
}

fn signed_tonnes(quantity: i64) -> String {
    let sign = match quantity.signum() {
        1 => "+",
        -1 => "−",
        _ => "",
    };
    format!("{sign}{}", tonnes(quantity.unsigned_abs()))
}

fn period_form(id: u64, period: &Period, query: &Query) -> Markup {
    let csv = pager::address(&format!("/ui/accounts/{id}/statement.csv"), query, None);
    html! {
        form.card.filter id="period" method="get" action=(format!("/ui/accounts/{id}/statement")) {
            label { "From (UTC date)" input type="date" name="from" value=[period.from.as_deref()]; }
            label { "To (inclusive)" input type="date" name="to" value=[period.to.as_deref()]; }
            button type="submit" { "Show" }
            " "
            a href=(csv) id="csv" download { "Download CSV" }
        }
    }
}

fn render(id: u64, period: &Period, pager: &Pager, query: &Query, lines: &[Line]) -> Markup {
    let path = format!("/ui/accounts/{id}/statement");
    html! {
        p { a href=(format!("/ui/accounts/{id}")) { "Account " (id) } " · transactions from or to it, newest first." }
        (period_form(id, period, query))
        (pager.nav(&path, query, "pager-top"))
        @if lines.is_empty() {
            p.muted { "No transaction in this period." }
        } @else {
            div.scroll {
                table #statement {
                    thead { tr {
                        th { "Id" } th { "Proposed (UTC)" } th { "Last change (UTC)" } th { "Kind" }
                        th { "Counterparty" } th { "Unit" } th.num { "Quantity (t)" } th { "Status" }
                    } }
                    tbody {
                        @for line in lines {
                            tr data-transaction=(line.id) {
                                td { a href=(format!("/ui/transactions/{}", line.id)) { (line.id) } }
                                td { (line.proposed) }
                                td { (line.last_change) }
                                td { (line.kind) }
                                td { (line.counterparty)
                                    @if !line.counterparty_name.is_empty() { " (" (line.counterparty_name) ")" } }
                                td { (line.unit) }
                                td.num data-field="quantity" { (signed_tonnes(line.quantity)) }
                                td data-field="status" { (line.status) }
                            }
                        }
                    }
                }
            }
        }
        (pager.nav(&path, query, "pager-bottom"))
    }
}

/// The link to an account's statement, for the account page.
pub(crate) fn link(id: u64) -> Markup {
    html! { a.statement href=(format!("/ui/accounts/{id}/statement")) { "Statement of transactions" } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_read_as_utc_days_and_bad_ones_refused() {
        // Goal: from/to are whole UTC days, `to` inclusive; malformed or reversed periods are refused.
        assert_eq!(day_start("2026-01-01"), Ok(1_767_225_600_000));
        assert!(day_start("2026-02-30").is_err());
        assert!(day_start("26-1-1").is_err());
        assert!(day_start("<script>").is_err());
        let query = Query::from([
            ("from".to_owned(), "2026-01-02".to_owned()),
            ("to".to_owned(), "2026-01-02".to_owned()),
        ]);
        let period = period(&query).expect("a period");
        assert_eq!(period.until_ms, period.from_ms.map(|ms| ms + MS_PER_DAY));
        let reversed = Query::from([
            ("from".to_owned(), "2026-01-03".to_owned()),
            ("to".to_owned(), "2026-01-02".to_owned()),
        ]);
        assert!(super::period(&reversed).is_err());
    }
}
