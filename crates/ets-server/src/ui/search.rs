//! Search across accounts, transactions and serial numbers
//! (`/ui/search?q=...`), within what the signed-in user may see: a number
//! finds the account, the transaction and the serial of that number (who
//! holds it now and the transactions that moved it); a text finds accounts
//! by holder name and transactions by unit class, note, kind or status.
//! The term is shown escaped and reaches the history only as a bound
//! parameter; a page beyond the results' end is refused with a message.

use super::page::{layout, moment, tonnes};
use super::pager::{self, Pager, Query};
use super::{SignedIn, UiState, problem, read, signed_in, to_login};
use super::{csv, history};
use crate::users::Principal;
use axum::extract::{Query as QueryOf, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ets_engine::Engine;
use ets_history::query::TransactionRow;
use ets_history::statement::{PAGE_ROWS_MAX, SEARCH_ACCOUNTS_MAX, moving_serial, search};
use ets_model::AccountId;
use maud::{Markup, html};
use std::collections::BTreeSet;

/// The longest search term, in characters.
pub(crate) const TERM_MAX_CHARS: usize = 200;
/// The most accounts found by name.
const ACCOUNT_HITS_MAX: usize = 1_000;

/// One result.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub(crate) kind: &'static str,
    pub(crate) link: String,
    pub(crate) title: String,
    pub(crate) detail: String,
}

/// What the engine finds, and which accounts the user may see (`None`: all).
struct EngineHits {
    hits: Vec<Hit>,
    visible: Option<Vec<i64>>,
}

fn engine_hits(engine: &Engine, principal: &Principal, term: &str) -> EngineHits {
    let registry = engine.registry();
    let participant = principal.participant;
    let all = principal.role.reads_everything();
    let sees = |account: &ets_registry::Account| all || super::view::may_see(account, participant);
    let holder = |account: &ets_registry::Account| {
        registry
            .participant(account.holder)
            .map_or_else(|_| String::new(), |p| p.name.clone())
    };
    let account_hit = |account: &ets_registry::Account| Hit {
        kind: "account",
        link: format!("/ui/accounts/{}", account.id),
        title: format!("Account {}", account.id),
        detail: format!(
            "{}, held by {} ({}), {}",
            account.kind.name(),
            holder(account),
            account.holder,
            account.status.name()
        ),
    };
    let mut hits = Vec::new();
    let number = term.parse::<u64>().ok();
    if let Some(number) = number {
        if let Ok(account) = registry.account(AccountId(number))
            && sees(account)
        {
            hits.push(account_hit(account));
        }
        if let Some((account, class)) = registry.serial_holder(number)
            && registry.account(account).is_ok_and(sees)
        {
            let unit = registry
                .class(class)
                .map_or_else(String::new, ToString::to_string);
            hits.push(Hit {
                kind: "serial",
                link: format!("/ui/accounts/{account}"),
                title: format!("Serial {number}"),
                detail: format!("a unit of {unit}, held now by account {account}"),
            });
        }
    }
    let lowered = term.to_lowercase();
    hits.extend(
        registry
            .accounts()
            .filter(|account| sees(account) && holder(account).to_lowercase().contains(&lowered))
            .filter(|account| Some(account.id.0) != number)
            .take(ACCOUNT_HITS_MAX)
            .map(account_hit),
    );
    let visible = (!all).then(|| {
        registry
            .accounts()
            .filter(|account| sees(account))
            .take(SEARCH_ACCOUNTS_MAX)
            .filter_map(|account| i64::try_from(account.id.0).ok())
            .collect()
    });
    EngineHits { hits, visible }
}

fn transaction_hit(row: &TransactionRow) -> Hit {
    Hit {
        kind: "transaction",
        link: format!("/ui/transactions/{}", row.id),
        title: format!("Transaction {}", row.id),
        detail: format!(
            "{} of {} t {} from account {} to account {}, {}, proposed {} UTC",
            row.kind,
            tonnes(u64::try_from(row.quantity).unwrap_or(0)),
            row.unit_class,
            row.from_account,
            row.to_account,
            row.status,
            moment(row.proposed_ms)
        ),
    }
}

/// The transactions the term finds in the history, within `visible`.
fn history_hits(
    backend: &mut dyn ets_history::Backend,
    term: &str,
    visible: Option<&[i64]>,
) -> Result<Vec<TransactionRow>, ets_history::HistoryError> {
    let mut rows = Vec::new();
    if let Ok(number) = term.parse::<i64>() {
        rows.extend(ets_history::query::transaction(backend, number)?);
        rows.extend(moving_serial(backend, number, PAGE_ROWS_MAX)?);
    }
    rows.extend(search(backend, term, visible, PAGE_ROWS_MAX)?);
    let mut seen = BTreeSet::new();
    rows.retain(|row| {
        let shown = visible.is_none_or(|accounts| {
            accounts.contains(&row.from_account) || accounts.contains(&row.to_account)
        });
        shown && seen.insert(row.id)
    });
    Ok(rows)
}

/// `GET /ui/search`.
pub(crate) async fn page(
    State(state): State<UiState>,
    headers: HeaderMap,
    QueryOf(query): QueryOf<Query>,
) -> Response {
    let Some(user) = signed_in(&state, &headers) else {
        return to_login();
    };
    let viewer = user.viewer();
    let page_number = match pager::requested_page(&query) {
        Ok(page) => page,
        Err(message) => {
            return problem(
                StatusCode::BAD_REQUEST,
                Some(&viewer),
                "bad_query",
                &message,
                "/ui/search",
            );
        }
    };
    let (term, hits) = match search_query(&state, &user, &query).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let pager = match Pager::new(page_number, hits.len() as u64) {
        Ok(pager) => pager,
        Err(message) => {
            let back = pager::address("/ui/search", &query, None);
            return problem(
                StatusCode::NOT_FOUND,
                Some(&viewer),
                "page_beyond_end",
                &message,
                &back,
            );
        }
    };
    let body = render(&term, &pager, &query, pager.slice(&hits));
    super::html(StatusCode::OK, layout("Search", Some(&viewer), &body))
}

/// `GET /ui/search.csv?q=...`: every result of the search page (all pages),
/// within what the signed-in user may see.
pub(crate) async fn download(
    State(state): State<UiState>,
    headers: HeaderMap,
    QueryOf(query): QueryOf<Query>,
) -> Response {
    let Some(user) = signed_in(&state, &headers) else {
        return to_login();
    };
    let (_, hits) = match search_query(&state, &user, &query).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let rows: Vec<Vec<String>> = hits
        .iter()
        .map(|hit| {
            vec![
                hit.kind.to_owned(),
                hit.title.clone(),
                hit.detail.clone(),
                hit.link.clone(),
            ]
        })
        .collect();
    csv::download("search.csv", &["what", "found", "details", "link"], &rows)
}

/// The query's term (`q`, trimmed) and every hit for it that `user` may see: the page
/// and its CSV alike. A term over [`TERM_MAX_CHARS`] is refused as `bad_query`; an
/// empty one finds nothing.
async fn search_query(
    state: &UiState,
    user: &SignedIn,
    query: &Query,
) -> Result<(String, Vec<Hit>), Response> {
    let term = query.get("q").map_or("", |text| text.trim()).to_owned();
    if term.chars().count() > TERM_MAX_CHARS {
        let message = format!("a search term has at most {TERM_MAX_CHARS} characters");
        return Err(problem(
            StatusCode::BAD_REQUEST,
            Some(&user.viewer()),
            "bad_query",
            &message,
            "/ui/search",
        ));
    }
    if term.is_empty() {
        return Ok((term, Vec::new()));
    }
    let hits = find(state, user, &term).await?;
    Ok((term, hits))
}

async fn find(state: &UiState, user: &SignedIn, term: &str) -> Result<Vec<Hit>, Response> {
    let principal = user.principal.clone();
    let owned = term.to_owned();
    let found = read(state, move |engine| engine_hits(engine, &principal, &owned)).await?;
    let owned = term.to_owned();
    let visible = found.visible.clone();
    let rows = history::query(state, move |backend| {
        history_hits(backend, &owned, visible.as_deref())
    })
    .await?;
    let mut hits = found.hits;
    hits.extend(rows.iter().map(transaction_hit));
    Ok(hits)
}

fn render(term: &str, pager: &Pager, query: &Query, hits: &[Hit]) -> Markup {
    html! {
        form.card.filter #search method="get" action="/ui/search" {
            label { "Account, transaction or serial number, holder name, unit, note"
                input type="search" name="q" value=(term) maxlength=(TERM_MAX_CHARS); }
            button type="submit" { "Search" }
        }
        @if !term.is_empty() {
            (pager.nav("/ui/search", query, "pager-top"))
            p { a #search-csv href=(pager::address("/ui/search.csv", query, None)) download { "Download all results (CSV)" } }
            @if hits.is_empty() {
                p.muted #no-results { "Nothing found for “" (term) "”." }
            } @else {
                div.scroll {
                    table #results {
                        thead { tr { th { "What" } th { "Found" } th { "Details" } } }
                        tbody { @for hit in hits {
                            tr data-kind=(hit.kind) {
                                td { (hit.kind) }
                                td { a href=(hit.link) { (hit.title) } }
                                td { (hit.detail) }
                            }
                        } }
                    }
                }
            }
            (pager.nav("/ui/search", query, "pager-bottom"))
        }
    }
}
