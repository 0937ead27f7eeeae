//! CSV downloads of the tables that had none: the market page's trades
//! and books (`/ui/market.csv`, public like the page), the administrator's
//! account list (`/ui/admin/accounts.csv`, one line per account and unit
//! held) and an account's holdings (`/ui/accounts/{id}/holdings.csv`, for
//! those who may see the account) and the dashboard's table of what awaits
//! approval (`/ui/pending.csv`, the signed-in user's rows).

use super::csv;
use super::view::{self, AccountRow, PendingRow};
use super::{UiState, administrator, problem, read, signed_in, to_login};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ets_api::InstrumentMarketView;
use ets_model::AccountId;

/// Ticks as a decimal with two places, no grouping (for spreadsheets).
fn decimal(ticks: i64) -> String {
    let sign = if ticks < 0 { "-" } else { "" };
    let magnitude = ticks.unsigned_abs();
    format!("{sign}{}.{:02}", magnitude / 100, magnitude % 100)
}

/// The market's lines: every listed trade, then every book level.
fn market_rows(instruments: &[InstrumentMarketView]) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for view in instruments {
        for trade in &view.recent_trades {
            rows.push(vec![
                view.symbol.clone(),
                "trade".to_owned(),
                trade.at.clone(),
                decimal(trade.price_ticks),
                trade.quantity.to_string(),
                String::new(),
            ]);
        }
        let bids = view.bids.as_deref().unwrap_or(&[]);
        for (side, levels) in [("bid", bids), ("ask", view.asks.as_slice())] {
            for level in levels {
                rows.push(vec![
                    view.symbol.clone(),
                    side.to_owned(),
                    String::new(),
                    decimal(level.price_ticks),
                    level.quantity.to_string(),
                    level.orders.to_string(),
                ]);
            }
        }
    }
    rows
}

/// `GET /ui/market.csv`: public, as the market page.
pub(crate) async fn market(State(state): State<UiState>) -> Response {
    let instruments = match read(&state, ets_api::market_view).await {
        Ok(instruments) => instruments,
        Err(response) => return response,
    };
    csv::download(
        "market.csv",
        &[
            "instrument",
            "line",
            "at_utc",
            "price",
            "quantity",
            "orders",
        ],
        &market_rows(&instruments),
    )
}

/// One line per account and unit it holds (one line with no unit when it holds none).
fn account_rows(accounts: &[AccountRow]) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for account in accounts {
        let representatives: Vec<String> = account
            .representatives
            .iter()
            .map(ToString::to_string)
            .collect();
        let base = vec![
            account.id.to_string(),
            account.kind.to_owned(),
            account.status.to_owned(),
            account.holder.to_string(),
            account.holder_name.clone(),
            representatives.join(" "),
            account.approvals_required.to_string(),
        ];
        if account.holdings.is_empty() {
            let mut row = base.clone();
            row.extend([String::new(), String::new(), String::new(), String::new()]);
            rows.push(row);
        }
        for holding in &account.holdings {
            let mut row = base.clone();
            row.extend([
                holding.unit.clone(),
                holding.total.to_string(),
                holding.reserved.to_string(),
                holding.available.to_string(),
            ]);
            rows.push(row);
        }
    }
    rows
}

const ACCOUNT_HEADER: [&str; 11] = [
    "account",
    "kind",
    "status",
    "holder",
    "holder_name",
    "representatives",
    "approvals_required",
    "unit",
    "total",
    "reserved",
    "available",
];

/// `GET /ui/admin/accounts.csv`: for the administrator, every account listed on the page.
pub(crate) async fn admin_accounts(State(state): State<UiState>, headers: HeaderMap) -> Response {
    if let Err(response) = administrator(&state, &headers, "the account list") {
        return response;
    }
    let overview = match read(&state, view::admin_overview).await {
        Ok(overview) => overview,
        Err(response) => return response,
    };
    csv::download(
        "accounts.csv",
        &ACCOUNT_HEADER,
        &account_rows(&overview.accounts),
    )
}

/// `GET /ui/accounts/{id}/holdings.csv`: the account page's holdings.
pub(crate) async fn holdings(
    State(state): State<UiState>,
    headers: HeaderMap,
    Path(id): Path<u64>,
) -> Response {
    let Some(user) = signed_in(&state, &headers) else {
        return to_login();
    };
    let participant = user.principal.participant;
    let found = match read(&state, move |engine| {
        view::account(engine, AccountId(id), participant)
    })
    .await
    {
        Ok(found) => found,
        Err(response) => return response,
    };
    let viewer = user.viewer();
    match found {
        Some((row, may_see)) if may_see || user.principal.role.reads_everything() => csv::download(
            &format!("account-{id}-holdings.csv"),
            &ACCOUNT_HEADER,
            &account_rows(std::slice::from_ref(&row)),
        ),
        Some(_) => problem(
            StatusCode::FORBIDDEN,
            Some(&viewer),
            "not_representative",
            &format!(
                "participant {} neither holds nor represents account {id}",
                participant.0
            ),
            "/ui",
        ),
        None => problem(
            StatusCode::NOT_FOUND,
            Some(&viewer),
            "unknown_account",
            &format!("account {id} does not exist"),
            "/ui",
        ),
    }
}

/// The dashboard's "awaiting approval" rows, with what the user may decide.
fn pending_rows(pending: &[PendingRow]) -> Vec<Vec<String>> {
    let numbers = |values: &[u64]| {
        values
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    };
    pending
        .iter()
        .map(|row| {
            vec![
                row.id.to_string(),
                row.kind.to_owned(),
                row.unit.clone(),
                row.quantity.to_string(),
                row.from.to_string(),
                row.to.to_string(),
                row.proposer.to_string(),
                numbers(&row.approvals),
                row.approvals_required.to_string(),
                row.decisions.join(" "),
            ]
        })
        .collect()
}

const PENDING_HEADER: [&str; 10] = [
    "transaction",
    "kind",
    "unit",
    "quantity",
    "from_account",
    "to_account",
    "proposer",
    "approvals",
    "approvals_required",
    "you_may",
];

/// `GET /ui/pending.csv`: the rows of the dashboard's table, for its user.
pub(crate) async fn pending(State(state): State<UiState>, headers: HeaderMap) -> Response {
    let Some(user) = signed_in(&state, &headers) else {
        return to_login();
    };
    let principal = user.principal.clone();
    let dashboard = match read(&state, move |engine| view::dashboard(engine, &principal)).await {
        Ok(dashboard) => dashboard,
        Err(response) => return response,
    };
    csv::download(
        "pending.csv",
        &PENDING_HEADER,
        &pending_rows(&dashboard.pending),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_plain_decimals_for_spreadsheets() {
        // Goal: no thousands separator, two places, the sign kept.
        assert_eq!(decimal(512_345), "5123.45");
        assert_eq!(decimal(-5), "-0.05");
    }
}
