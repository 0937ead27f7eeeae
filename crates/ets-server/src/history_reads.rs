//! Reads of the history database (ets-history) for the JSON API and the web
//! UI: one read-only connection per server, opened on first use where the
//! store's history is and used off the async threads; and the API's lists
//! (`GET /api/accounts/{id}/statement`, `GET /api/transactions`,
//! `GET /api/search`): cursor-paged, filtered, within what the user may
//! see. Every value the caller sends is checked by `ets_api::list_query`
//! and reaches the database only as a bound parameter. `GET
//! /api/transactions/{id}` and `GET /api/serials/{serial}` read here too
//! what a bounded engine let go.

use crate::http::{Id, ServerState, enqueue_read, not_found, refuse};
use crate::sequencer::Job;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Query, State};
use axum::response::{IntoResponse, Response};
use ets_api::{
    AccountHitView, ListQuery, Principal, Refusal, RefusalCode, SearchView, SerialHitView,
    SerialView, TransactionPageView, TransactionRowView, TransactionView, Visibility,
    account_parties, authorise_read, cursor_past_end, list_query, serial_parties, serial_view,
    transaction_parties, transaction_view,
};
use ets_history::query::TransactionRow;
use ets_history::statement::{
    PageStart, SEARCH_ACCOUNTS_MAX, moving_serial_before, search_before, transactions,
};
use ets_history::{Backend, HistoryError, Location};
use ets_model::{AccountId, ParticipantId, TransactionId};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::mpsc;

/// The connection, opened once.
#[derive(Default)]
pub(crate) struct HistoryReader {
    connection: Mutex<Option<Box<dyn Backend>>>,
}

impl Drop for HistoryReader {
    /// A PostgreSQL connection closes by blocking on its own runtime, which
    /// panics on an async thread (where the server drops its state): close
    /// it on a thread of its own.
    fn drop(&mut self) {
        let connection = self
            .connection
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(connection) = connection {
            let closed = std::thread::spawn(move || drop(connection)).join();
            if closed.is_err() {
                tracing::warn!("the history connection did not close cleanly");
            }
        }
    }
}

/// Why a history read gave no answer.
pub(crate) enum ReadFailure {
    /// The sequencer's queue refused the wait (full, stopping).
    Refused(Refusal),
    /// The store has no history, or the database failed.
    Unavailable(String),
}

/// How long a read waits for the history (written on a thread of its own)
/// to reach the journal record it needs before answering `503
/// history_unavailable`, saying where the history stands.
const HISTORY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs `query` on the history once it holds the writes queued before it.
pub(crate) async fn query_history<T, F>(
    jobs: &mpsc::Sender<Job>,
    reader: &Arc<HistoryReader>,
    query: F,
) -> Result<T, ReadFailure>
where
    T: Send + 'static,
    F: FnOnce(&mut dyn Backend) -> Result<T, HistoryError> + Send + 'static,
{
    let (location, needed) = enqueue_read(jobs, |store| {
        let journal = store.journal();
        (
            Location::of(journal),
            ets_history::durable_sequence(journal),
        )
    })
    .await
    .map_err(ReadFailure::Refused)?;
    let Some(location) = location else {
        return Err(ReadFailure::Unavailable(
            "the store has no history database".to_owned(),
        ));
    };
    let reader = Arc::clone(reader);
    let answer = tokio::task::spawn_blocking(move || {
        let mut connection = reader
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if connection.is_none() {
            *connection = Some(location.open_reader()?);
        }
        let backend = connection.as_deref_mut().ok_or_else(|| {
            HistoryError::Database("the history connection is not open".to_owned())
        })?;
        let answer = ets_history::wait_for_journal(backend, needed, HISTORY_WAIT)
            .and_then(|()| query(backend));
        if answer.is_err() {
            // Open afresh next time: the database may have been rebuilt or restarted.
            *connection = None;
        }
        answer
    })
    .await
    .map_err(|_| ReadFailure::Unavailable("the history query stopped".to_owned()))?;
    answer.map_err(|error| ReadFailure::Unavailable(error.to_string()))
}

impl ReadFailure {
    /// The failure as the API's refusal.
    fn refusal(self) -> Refusal {
        match self {
            ReadFailure::Refused(refusal) => refusal,
            ReadFailure::Unavailable(message) => {
                tracing::error!(message, "history query failed");
                Refusal::new(RefusalCode::HistoryUnavailable, message)
            }
        }
    }
}

/// The query string as a map, or `400 invalid_parameter`.
fn parameters(
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Result<BTreeMap<String, String>, Refusal> {
    query.map(|Query(map)| map).map_err(|rejection| {
        Refusal::new(
            RefusalCode::InvalidParameter,
            format!("the query string is malformed: {}", rejection.body_text()),
        )
    })
}

/// A page of the list `query` selects, refused when its cursor is past the end.
fn page_of(backend: &mut dyn Backend, query: &ListQuery) -> Result<Paged, HistoryError> {
    let start = query.before.map_or(PageStart::Offset(0), PageStart::Before);
    let page = transactions(backend, &query.filter, start, query.limit)?;
    Ok(Paged {
        total: page.total,
        rows: page.rows,
        next: page.next_before,
    })
}

/// Rows of a page and the cursor of the next.
struct Paged {
    total: i64,
    rows: Vec<TransactionRow>,
    next: Option<i64>,
}

fn answer_page(query: &ListQuery, paged: Paged) -> Response {
    if let Some(before) = query.before
        && paged.rows.is_empty()
    {
        return refuse(&cursor_past_end(before));
    }
    Json(TransactionPageView {
        total: paged.total,
        transactions: paged.rows.iter().map(TransactionRowView::from).collect(),
        next_cursor: paged.next.map(|id| id.to_string()),
    })
    .into_response()
}

/// The parties of account `id`, or `404 not_found`.
async fn parties_of(state: &ServerState, id: u64) -> Result<Vec<ParticipantId>, Refusal> {
    let parties = enqueue_read(&state.jobs, move |store| {
        let registry = store.engine().registry();
        registry
            .account(AccountId(id))
            .is_ok()
            .then(|| account_parties(registry, AccountId(id)))
    })
    .await?;
    parties.ok_or_else(|| {
        Refusal::new(
            RefusalCode::NotFound,
            format!("account {id} does not exist"),
        )
    })
}

async fn list(state: &ServerState, reader: &Arc<HistoryReader>, query: ListQuery) -> Response {
    let asked = query.clone();
    match query_history(&state.jobs, reader, move |backend| page_of(backend, &query)).await {
        Ok(paged) => answer_page(&asked, paged),
        Err(failure) => refuse(&failure.refusal()),
    }
}

/// `GET /api/accounts/{id}/statement`: the account's transactions, for its
/// parties, the administrator and auditors.
pub(crate) async fn statement(
    State(state): State<ServerState>,
    Extension(principal): Extension<Principal>,
    Extension(reader): Extension<Arc<HistoryReader>>,
    Id(id): Id,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Response {
    let names = ["from", "until", "status", "kind", "cursor", "limit"];
    let mut query = match parameters(query).and_then(|map| list_query(&map, &names)) {
        Ok(query) => query,
        Err(refusal) => return refuse(&refusal),
    };
    let parties = match parties_of(&state, id).await {
        Ok(parties) => parties,
        Err(refusal) => return refuse(&refusal),
    };
    let what = format!("account {id}");
    if let Err(refusal) = authorise_read(&principal, Visibility::Parties, &parties, &what) {
        return refuse(&refusal);
    }
    let Ok(account) = i64::try_from(id) else {
        return answer_page(
            &query,
            Paged {
                total: 0,
                rows: Vec::new(),
                next: None,
            },
        );
    };
    query.filter.account = Some(account);
    list(&state, &reader, query).await
}

/// `GET /api/transactions`: every transaction for the administrator and
/// auditors; others must name an `account` they are a party to.
pub(crate) async fn transactions_list(
    State(state): State<ServerState>,
    Extension(principal): Extension<Principal>,
    Extension(reader): Extension<Arc<HistoryReader>>,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Response {
    let names = [
        "account", "from", "until", "status", "kind", "cursor", "limit",
    ];
    let query = match parameters(query).and_then(|map| list_query(&map, &names)) {
        Ok(query) => query,
        Err(refusal) => return refuse(&refusal),
    };
    if !principal.role.reads_everything() {
        let Some(account) = query.filter.account else {
            return refuse(&Refusal::new(
                RefusalCode::RoleForbids,
                format!(
                    "every transaction is for administrators and auditors; user {} has the role {} and must name an account it is a party to",
                    principal.name, principal.role
                ),
            ));
        };
        let id = account.unsigned_abs();
        let parties = match parties_of(&state, id).await {
            Ok(parties) => parties,
            Err(refusal) => return refuse(&refusal),
        };
        let what = format!("account {id}");
        if let Err(refusal) = authorise_read(&principal, Visibility::Parties, &parties, &what) {
            return refuse(&refusal);
        }
    }
    list(&state, &reader, query).await
}

/// What the engine finds for a term: accounts, the serial, and which
/// accounts the user may see (`None`: all).
struct EngineFinds {
    accounts: Vec<AccountHitView>,
    serials: Vec<SerialHitView>,
    visible: Option<Vec<i64>>,
}

/// The most accounts a search lists.
const ACCOUNT_HITS_MAX: usize = 100;

fn engine_finds(engine: &ets_engine::Engine, principal: &Principal, term: &str) -> EngineFinds {
    let registry = engine.registry();
    let all = principal.role.reads_everything();
    let me = principal.participant;
    let sees = |account: &ets_registry::Account| {
        all || account.holder == me || account.rule.is_representative(me)
    };
    let holder_name = |account: &ets_registry::Account| {
        registry
            .participant(account.holder)
            .map_or_else(|_| String::new(), |p| p.name.clone())
    };
    let number = term.parse::<u64>().ok();
    let lowered = term.to_lowercase();
    let accounts = registry
        .accounts()
        .filter(|account| {
            sees(account)
                && (Some(account.id.0) == number
                    || holder_name(account).to_lowercase().contains(&lowered))
        })
        .take(ACCOUNT_HITS_MAX)
        .map(|account| AccountHitView {
            account: account.id.0,
            kind: account.kind.name().to_owned(),
            holder: account.holder.0,
            holder_name: holder_name(account),
            status: account.status.name().to_owned(),
        })
        .collect();
    let serials = number
        .and_then(|serial| {
            let (account, class) = registry.serial_holder(serial)?;
            registry
                .account(account)
                .is_ok_and(sees)
                .then(|| SerialHitView {
                    serial,
                    account: account.0,
                    unit_class: registry
                        .class(class)
                        .map_or_else(String::new, ToString::to_string),
                })
        })
        .into_iter()
        .collect();
    let visible = (!all).then(|| {
        registry
            .accounts()
            .filter(|account| sees(account))
            .take(SEARCH_ACCOUNTS_MAX)
            .filter_map(|account| i64::try_from(account.id.0).ok())
            .collect()
    });
    EngineFinds {
        accounts,
        serials,
        visible,
    }
}

/// The transactions a term finds older than `before`, newest first: of
/// that number, moving that serial, or matching the text; at most `limit`
/// and whether there are more.
fn found_transactions(
    backend: &mut dyn Backend,
    term: &str,
    visible: Option<&[i64]>,
    before: i64,
    limit: i64,
) -> Result<(Vec<TransactionRow>, bool), HistoryError> {
    let wanted = limit.saturating_add(1);
    let mut rows = Vec::new();
    if let Ok(number) = term.parse::<i64>() {
        rows.extend(
            ets_history::query::transaction(backend, number)?.filter(|row| row.id < before),
        );
        rows.extend(moving_serial_before(backend, number, before, wanted)?);
    }
    rows.extend(search_before(backend, term, visible, before, wanted)?);
    rows.retain(|row| {
        visible.is_none_or(|accounts| {
            accounts.contains(&row.from_account) || accounts.contains(&row.to_account)
        })
    });
    rows.sort_by_key(|row| std::cmp::Reverse(row.id));
    rows.dedup_by_key(|row| row.id);
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = rows.len() > limit;
    rows.truncate(limit);
    Ok((rows, more))
}

/// `GET /api/search?q=...`: accounts, the serial and transactions the term
/// finds, within what the user may see; transactions paged by cursor.
pub(crate) async fn search(
    State(state): State<ServerState>,
    Extension(principal): Extension<Principal>,
    Extension(reader): Extension<Arc<HistoryReader>>,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Response {
    let names = ["q", "cursor", "limit"];
    let query = match parameters(query).and_then(|map| list_query(&map, &names)) {
        Ok(query) => query,
        Err(refusal) => return refuse(&refusal),
    };
    let Some(term) = query.term.clone() else {
        return refuse(&Refusal::new(
            RefusalCode::InvalidParameter,
            "the search term q is required",
        ));
    };
    let owned = term.clone();
    let finds = match enqueue_read(&state.jobs, move |store| {
        engine_finds(store.engine(), &principal, &owned)
    })
    .await
    {
        Ok(finds) => finds,
        Err(refusal) => return refuse(&refusal),
    };
    let owned = term.clone();
    let visible = finds.visible.clone();
    let (before, limit) = (query.before.unwrap_or(i64::MAX), query.limit);
    let found = query_history(&state.jobs, &reader, move |backend| {
        found_transactions(backend, &owned, visible.as_deref(), before, limit)
    })
    .await;
    let (rows, more) = match found {
        Ok(found) => found,
        Err(failure) => return refuse(&failure.refusal()),
    };
    if let Some(before) = query.before
        && rows.is_empty()
    {
        return refuse(&cursor_past_end(before));
    }
    Json(SearchView {
        term,
        accounts: finds.accounts,
        serials: finds.serials,
        next_cursor: more
            .then(|| rows.last().map(|row| row.id.to_string()))
            .flatten(),
        transactions: rows.iter().map(TransactionRowView::from).collect(),
    })
    .into_response()
}

/// What the engine holds of a transaction id.
enum Held {
    /// The engine has it: its view and parties.
    Here(Box<TransactionView>, Vec<ParticipantId>),
    /// Below the next id but gone: finished and let go by a bounded engine
    /// (docs/memory.md); the history database has it.
    LetGo,
    /// Never issued.
    Never,
}

fn held(registry: &ets_registry::Registry, id: u64) -> Held {
    match transaction_view(registry, TransactionId(id)) {
        Ok(view) => Held::Here(
            Box::new(view),
            transaction_parties(registry, TransactionId(id)),
        ),
        // Ids start at 1: only 1..next can have been issued and let go.
        Err(_) if (1..registry.next_transaction_id().0).contains(&id) => Held::LetGo,
        Err(_) => Held::Never,
    }
}

/// A transaction a bounded engine let go, from the history database, in
/// the engine's view's shape, with the parties of its accounts; `503
/// history_unavailable` when the history is absent, failing or behind.
async fn let_go(
    state: &ServerState,
    reader: &Arc<HistoryReader>,
    id: u64,
) -> Result<(TransactionView, Vec<ParticipantId>), Refusal> {
    let key = i64::try_from(id).map_err(|_| {
        ReadFailure::Unavailable(format!("transaction id {id} is past the history's range"))
            .refusal()
    })?;
    let row = query_history(&state.jobs, reader, move |backend| {
        ets_history::query::transaction(backend, key)
    })
    .await
    .map_err(ReadFailure::refusal)?;
    let Some(row) = row else {
        return Err(ReadFailure::Unavailable(format!(
            "transaction {id} left the engine but the history database does not have it yet"
        ))
        .refusal());
    };
    let view = TransactionView::try_from(&row)
        .map_err(|message| ReadFailure::Unavailable(message).refusal())?;
    let (from, to) = (AccountId(view.from), AccountId(view.to));
    let parties = enqueue_read(&state.jobs, move |store| {
        let registry = store.engine().registry();
        let mut parties = account_parties(registry, from);
        parties.extend(account_parties(registry, to));
        parties
    })
    .await?;
    Ok((view, parties))
}

/// `GET /api/transactions/{id}`: the engine's view for the parties of its
/// accounts, the administrator and auditors; a transaction a bounded engine
/// let go is read from the history database, the same answer a store that
/// keeps everything gives.
pub(crate) async fn transaction(
    State(state): State<ServerState>,
    Extension(principal): Extension<Principal>,
    Extension(reader): Extension<Arc<HistoryReader>>,
    Id(id): Id,
) -> Response {
    let what = format!("transaction {id}");
    let found = match enqueue_read(&state.jobs, move |store| {
        held(store.engine().registry(), id)
    })
    .await
    {
        Ok(found) => found,
        Err(refusal) => return refuse(&refusal),
    };
    let answer = match found {
        Held::Here(view, parties) => Ok((*view, parties)),
        Held::LetGo => let_go(&state, &reader, id).await,
        Held::Never => return not_found(&what),
    };
    let authorised = answer.and_then(|(view, parties)| {
        authorise_read(&principal, Visibility::Parties, &parties, &what).map(|()| view)
    });
    match authorised {
        Ok(view) => Json(view).into_response(),
        Err(refusal) => refuse(&refusal),
    }
}

/// What the engine holds of a serial: its view (with the movements the
/// engine retains), the parties of the account holding it, and whether the
/// engine is bounded (then the history database has the older movements).
struct SerialHeld {
    view: SerialView,
    parties: Vec<ParticipantId>,
    bounded: bool,
}

/// The view of a serial with every movement from the history database, the
/// answer an engine that keeps everything gives; `503 history_unavailable`
/// when the history is absent, failing, or lacks a movement the engine has
/// (behind).
async fn serial_from_history(
    state: &ServerState,
    reader: &Arc<HistoryReader>,
    view: SerialView,
) -> Result<SerialView, Refusal> {
    let serial = view.serial;
    let key = i64::try_from(serial).map_err(|_| {
        ReadFailure::Unavailable(format!("serial {serial} is past the history's range")).refusal()
    })?;
    let movements = query_history(&state.jobs, reader, move |backend| {
        ets_history::query::serial(backend, key)
    })
    .await
    .map_err(ReadFailure::refusal)?
    .movements;
    let history = movements
        .iter()
        .map(TransactionView::try_from)
        .collect::<Result<Vec<_>, String>>()
        .map_err(|message| ReadFailure::Unavailable(message).refusal())?;
    let behind = view
        .history
        .iter()
        .any(|recent| !history.iter().any(|row| row.id == recent.id));
    if behind {
        return Err(ReadFailure::Unavailable(format!(
            "the history database has not caught up with the movements of serial {serial}"
        ))
        .refusal());
    }
    Ok(SerialView { history, ..view })
}

/// `GET /api/serials/{serial}`: where a serial is and every transaction that
/// moved it, for the parties of the account holding it, the administrator
/// and auditors. A bounded engine keeps only recent movements: the history
/// database gives the rest, the same answer a store that keeps everything gives.
pub(crate) async fn serial(
    State(state): State<ServerState>,
    Extension(principal): Extension<Principal>,
    Extension(reader): Extension<Arc<HistoryReader>>,
    Id(serial): Id,
) -> Response {
    let what = format!("serial {serial}");
    let found = enqueue_read(&state.jobs, move |store| {
        let engine = store.engine();
        let registry = engine.registry();
        serial_view(registry, serial).map(|view| SerialHeld {
            view,
            parties: serial_parties(registry, serial),
            bounded: engine.retention_window().is_some(),
        })
    })
    .await;
    let held = match found {
        Ok(Some(held)) => held,
        Ok(None) => return not_found(&what),
        Err(refusal) => return refuse(&refusal),
    };
    if let Err(refusal) = authorise_read(&principal, Visibility::Parties, &held.parties, &what) {
        return refuse(&refusal);
    }
    let answer = if held.bounded {
        serial_from_history(&state, &reader, held.view).await
    } else {
        Ok(held.view)
    };
    match answer {
        Ok(view) => Json(view).into_response(),
        Err(refusal) => refuse(&refusal),
    }
}
