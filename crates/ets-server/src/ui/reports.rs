//! Emissions reports for verifiers, administrators and auditors
//! (`/ui/reports`, and `.csv`): those awaiting verification first, a page
//! at a time with the total, accept / reject for the verifier.

use super::csv;
use super::page::{Nonces, Viewer, hidden, layout, tonnes};
use super::pager::{self, Pager, Query};
use super::view::{self, ReportRow};
use super::{SignedIn, UiState, nonces, problem, read, signed_in, to_login};
use crate::users::Role;
use axum::extract::{Query as QueryOf, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{Markup, html};

/// The signed-in user when their role may read reports, else the answer.
fn reader(state: &UiState, headers: &HeaderMap) -> Result<SignedIn, Response> {
    let Some(user) = signed_in(state, headers) else {
        return Err(to_login());
    };
    if !matches!(
        user.principal.role,
        Role::Verifier | Role::Administrator | Role::Auditor
    ) {
        return Err(problem(
            StatusCode::FORBIDDEN,
            Some(&user.viewer()),
            "role_forbids",
            "emissions reports are for verifiers, administrators and auditors",
            "/ui",
        ));
    }
    Ok(user)
}

/// `GET /ui/reports`.
pub(crate) async fn page(
    State(state): State<UiState>,
    headers: HeaderMap,
    QueryOf(query): QueryOf<Query>,
) -> Response {
    let user = match reader(&state, &headers) {
        Ok(user) => user,
        Err(response) => return response,
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
                "/ui/reports",
            );
        }
    };
    let rows = match read(&state, view::reports).await {
        Ok(rows) => rows,
        Err(response) => return response,
    };
    let pager = match Pager::new(page_number, rows.len() as u64) {
        Ok(pager) => pager,
        Err(message) => {
            return problem(
                StatusCode::NOT_FOUND,
                Some(&viewer),
                "page_beyond_end",
                &message,
                "/ui/reports",
            );
        }
    };
    let mut nonces = match nonces() {
        Ok(nonces) => nonces,
        Err(response) => return response,
    };
    let back = pager::address("/ui/reports", &query, Some(pager.page));
    let body = html! {
        p { a #csv href="/ui/reports.csv" download { "Download CSV" } }
        (pager.nav("/ui/reports", &query, "pager-top"))
        (table(&viewer, &mut nonces, pager.slice(&rows), &back))
        (pager.nav("/ui/reports", &query, "pager-bottom"))
    };
    super::html(
        StatusCode::OK,
        layout("Emissions reports", Some(&viewer), &body),
    )
}

/// `GET /ui/reports.csv`: every report.
pub(crate) async fn download(State(state): State<UiState>, headers: HeaderMap) -> Response {
    if let Err(response) = reader(&state, &headers) {
        return response;
    }
    let rows = match read(&state, view::reports).await {
        Ok(rows) => rows,
        Err(response) => return response,
    };
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            vec![
                row.entity.to_string(),
                row.name.clone(),
                row.year.to_string(),
                row.status.to_owned(),
                row.computed_emissions.to_string(),
                row.verified_emissions
                    .map_or_else(String::new, |q| q.to_string()),
                row.flags.join("; "),
            ]
        })
        .collect();
    csv::download(
        "reports.csv",
        &[
            "entity",
            "name",
            "year",
            "status",
            "computed_emissions",
            "verified_emissions",
            "flags",
        ],
        &cells,
    )
}

fn table(viewer: &Viewer<'_>, nonces: &mut Nonces, rows: &[ReportRow], back: &str) -> Markup {
    html! {
        @if rows.is_empty() { p.muted { "No reports." } } @else {
            div.scroll {
                table #reports {
                    thead { tr { th { "Entity" } th { "Year" } th { "Status" } th.num { "Computed (t)" } th.num { "Verified (t)" } th { "Flags" } th { "Verify" } } }
                    tbody {
                        @for row in rows {
                            tr {
                                td { (row.name) " (" (row.entity) ")" }
                                td { (row.year) }
                                td { (row.status) }
                                td.num { (tonnes(row.computed_emissions)) }
                                td.num { @if let Some(verified) = row.verified_emissions { (tonnes(verified)) } @else { "—" } }
                                td { (row.flags.join("; ")) }
                                td.actions {
                                    @if row.status == "submitted" && viewer.role.may_write() {
                                        @for (accept, label) in [("true", "Accept"), ("false", "Reject")] {
                                            form.inline method="post" action="/ui/reports/verify" {
                                                (hidden(viewer, nonces, back))
                                                input type="hidden" name="entity" value=(row.entity);
                                                input type="hidden" name="year" value=(row.year);
                                                input type="hidden" name="accept" value=(accept);
                                                button type="submit" { (label) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
