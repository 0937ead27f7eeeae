//! The inbox (`/ui/inbox`): what awaits the signed-in person, listed when
//! the page opens (`ets_api::inbox`) and kept current without reloading by
//! `/ui/static/inbox.js`, which reads the person's `inbox` events from
//! `/ui/inbox/stream` (the stream `GET /api/stream/inbox` serves, opened
//! with the session cookie instead of API credentials). Each item links to
//! the page where it is dealt with.

use super::page::{Viewer, layout};
use super::{SignedIn, UiState, csv, html, problem, read_store, signed_in, to_login};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ets_api::{InboxItem, InboxView};
use ets_model::ParticipantId;
use maud::{Markup, html};

/// The script that keeps the inbox current, served at `/ui/static/inbox.js`.
const SCRIPT: &str = include_str!("../../static/inbox.js");

/// What awaits `user` now, by the server's clock: the page and its CSV alike.
async fn read_inbox(state: &UiState, user: &SignedIn) -> Result<InboxView, Response> {
    let participant = ParticipantId(user.principal.participant.0);
    let clock = state.server.clock;
    read_store(state, move |store| {
        ets_api::inbox(
            store.engine(),
            participant,
            crate::http::server_now(clock, store),
        )
    })
    .await
}

/// `GET /ui/inbox`.
pub(crate) async fn page(State(state): State<UiState>, headers: HeaderMap) -> Response {
    let Some(user) = signed_in(&state, &headers) else {
        return to_login();
    };
    let view = match read_inbox(&state, &user).await {
        Ok(view) => view,
        Err(response) => return response,
    };
    html(StatusCode::OK, render(&user.viewer(), &view))
}

/// `GET /ui/inbox.csv`: the items the inbox page lists, one line each.
pub(crate) async fn download(State(state): State<UiState>, headers: HeaderMap) -> Response {
    let Some(user) = signed_in(&state, &headers) else {
        return to_login();
    };
    let view = match read_inbox(&state, &user).await {
        Ok(view) => view,
        Err(response) => return response,
    };
    let number = |value: Option<u64>| value.map_or_else(String::new, |n| n.to_string());
    let rows: Vec<Vec<String>> = view
        .items
        .iter()
        .map(|item| {
            vec![
                kind_name(item),
                number(item.transaction),
                number(item.account),
                number(item.entity),
                item.scheme.clone().unwrap_or_default(),
                item.year.map_or_else(String::new, |year| year.to_string()),
                item.due.clone().unwrap_or_default(),
                item.summary.clone(),
                item.link.clone(),
            ]
        })
        .collect();
    let header_row = [
        "kind",
        "transaction",
        "account",
        "entity",
        "scheme",
        "year",
        "due_utc",
        "summary",
        "link",
    ];
    csv::download("inbox.csv", &header_row, &rows)
}

/// `GET /ui/inbox/stream`: the signed-in person's inbox events.
pub(crate) async fn stream(State(state): State<UiState>, headers: HeaderMap) -> Response {
    let Some(user) = signed_in(&state, &headers) else {
        return problem(
            StatusCode::UNAUTHORIZED,
            None,
            "not_signed_in",
            "sign in first (the session may have ended)",
            "/ui/login",
        );
    };
    crate::stream::inbox_stream(&state.server, &user.principal)
}

/// `GET /ui/static/inbox.js`.
pub(crate) async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        SCRIPT,
    )
        .into_response()
}

/// The item's kind as the API names it (`approval`, `deadline_near`, ...).
fn kind_name(item: &InboxItem) -> String {
    serde_json::to_value(item.kind)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn item(item: &InboxItem) -> Markup {
    let kind = kind_name(item);
    html! {
        li data-key=(item.key) data-kind=(kind) {
            a href=(item.link) { (item.summary) }
        }
    }
}

fn render(viewer: &Viewer<'_>, view: &InboxView) -> Markup {
    let body = html! {
        p #inbox-live role="status" { "Items listed when the page opened; new ones appear here as they arrive." }
        p #inbox-empty hidden[!view.items.is_empty()] { "Nothing awaits you." }
        ul #inbox {
            @for entry in &view.items { (item(entry)) }
        }
        p { a #inbox-csv href="/ui/inbox.csv" download { "Download the listed items (CSV)" } }
        @if view.left_out > 0 {
            p.notice { (view.left_out) " more items are not listed." }
        }
        p.hint {
            "Approvals you may give, transfers of your accounts in their delay, reports to verify and surrender deadlines within "
            (view.deadline_near_days) " days."
        }
        script src="/ui/static/inbox.js" {}
    };
    layout("Inbox", Some(viewer), &body)
}
