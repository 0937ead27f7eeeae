//! The public compliance results (`/ui/compliance`, and `.csv`): one table
//! of every covered entity's line per scheme and year (allocation, verified
//! emissions, obligation, units surrendered, status, shortfall), filtered
//! by scheme, year, status and entity (name or id), a page at a time with
//! the total.

use super::csv;
use super::page::{Viewer, layout, tonnes};
use super::pager::{self, Pager, Query};
use super::view::{self, ResultRow, SchemeYear};
use super::{UiState, problem, read, signed_in};
use axum::extract::{Query as QueryOf, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{Markup, html};
use std::collections::BTreeSet;

/// One line with its scheme and year.
struct Line<'a> {
    year: &'a SchemeYear,
    row: &'a ResultRow,
}

/// What the filter asks for; empty fields keep everything.
#[derive(Debug, Default)]
struct Filter {
    scheme: String,
    year: Option<u16>,
    status: String,
    entity: String,
}

fn filter(query: &Query) -> Result<Filter, String> {
    let field = |name: &str| query.get(name).map_or("", |text| text.trim()).to_owned();
    let year = match field("year").as_str() {
        "" => None,
        text => Some(
            text.parse::<u16>()
                .map_err(|_| format!("year must be a year such as 2021; it is {text:?}"))?,
        ),
    };
    Ok(Filter {
        scheme: field("scheme"),
        year,
        status: field("status"),
        entity: field("entity").to_lowercase(),
    })
}

fn keeps(filter: &Filter, line: &Line<'_>) -> bool {
    (filter.scheme.is_empty() || line.year.scheme == filter.scheme)
        && filter.year.is_none_or(|year| line.year.year == year)
        && (filter.status.is_empty() || line.row.status == filter.status)
        && (filter.entity.is_empty()
            || line.row.name.to_lowercase().contains(&filter.entity)
            || line.row.entity.to_string() == filter.entity)
}

fn lines<'a>(years: &'a [SchemeYear], filter: &Filter) -> Vec<Line<'a>> {
    years
        .iter()
        .flat_map(|year| year.rows.iter().map(move |row| Line { year, row }))
        .filter(|line| keeps(filter, line))
        .collect()
}

fn bad_query(viewer: Option<&Viewer<'_>>, message: &str) -> Response {
    problem(
        StatusCode::BAD_REQUEST,
        viewer,
        "bad_query",
        message,
        "/ui/compliance",
    )
}

/// `GET /ui/compliance`.
pub(crate) async fn page(
    State(state): State<UiState>,
    headers: HeaderMap,
    QueryOf(query): QueryOf<Query>,
) -> Response {
    let user = signed_in(&state, &headers);
    let viewer = user.as_ref().map(super::SignedIn::viewer);
    let (filter, page_number) = match (filter(&query), pager::requested_page(&query)) {
        (Ok(filter), Ok(page)) => (filter, page),
        (Err(message), _) | (_, Err(message)) => return bad_query(viewer.as_ref(), &message),
    };
    let years = match read(&state, view::compliance).await {
        Ok(years) => years,
        Err(response) => return response,
    };
    let lines = lines(&years, &filter);
    let pager = match Pager::new(page_number, lines.len() as u64) {
        Ok(pager) => pager,
        Err(message) => {
            return problem(
                StatusCode::NOT_FOUND,
                viewer.as_ref(),
                "page_beyond_end",
                &message,
                &pager::address("/ui/compliance", &query, None),
            );
        }
    };
    let body = html! {
        p { "Per covered entity and compliance year: allocation, verified emissions, the obligation, units surrendered for the year, the resulting status (the EU's A/B/C code under an EU rulebook) and the shortfall. Final once the year is closed, else as of now." }
        (filter_form(&years, &filter, &query))
        (pager.nav("/ui/compliance", &query, "pager-top"))
        (table(pager.slice(&lines)))
        (pager.nav("/ui/compliance", &query, "pager-bottom"))
    };
    super::html(
        StatusCode::OK,
        layout("Compliance results", viewer.as_ref(), &body),
    )
}

/// `GET /ui/compliance.csv`: every line of the filter.
pub(crate) async fn download(
    State(state): State<UiState>,
    headers: HeaderMap,
    QueryOf(query): QueryOf<Query>,
) -> Response {
    let user = signed_in(&state, &headers);
    let viewer = user.as_ref().map(super::SignedIn::viewer);
    let filter = match filter(&query) {
        Ok(filter) => filter,
        Err(message) => return bad_query(viewer.as_ref(), &message),
    };
    let years = match read(&state, view::compliance).await {
        Ok(years) => years,
        Err(response) => return response,
    };
    let rows: Vec<Vec<String>> = lines(&years, &filter)
        .iter()
        .map(|line| {
            let row = line.row;
            vec![
                line.year.scheme.clone(),
                line.year.year.to_string(),
                if line.year.closed { "final" } else { "so far" }.to_owned(),
                row.entity.to_string(),
                row.name.clone(),
                row.account.to_string(),
                row.allocation.to_string(),
                row.verified_emissions
                    .map_or_else(String::new, |q| q.to_string()),
                row.obligation.to_string(),
                row.surrendered.to_string(),
                row.status.clone(),
                row.shortfall.to_string(),
            ]
        })
        .collect();
    csv::download(
        "compliance.csv",
        &[
            "scheme",
            "year",
            "state",
            "entity",
            "name",
            "account",
            "allocation",
            "verified_emissions",
            "obligation",
            "surrendered",
            "status",
            "shortfall",
        ],
        &rows,
    )
}

fn select(name: &str, label: &str, values: &BTreeSet<String>, chosen: &str) -> Markup {
    html! {
        label { (label)
            select name=(name) {
                option value="" { "all" }
                @for value in values {
                    option value=(value) selected[value == chosen] { (value) }
                }
            }
        }
    }
}

fn filter_form(years: &[SchemeYear], filter: &Filter, query: &Query) -> Markup {
    let schemes: BTreeSet<String> = years.iter().map(|year| year.scheme.clone()).collect();
    let year_values: BTreeSet<String> = years.iter().map(|year| year.year.to_string()).collect();
    let statuses: BTreeSet<String> = years
        .iter()
        .flat_map(|year| year.rows.iter().map(|row| row.status.clone()))
        .collect();
    let chosen_year = filter.year.map(|year| year.to_string()).unwrap_or_default();
    html! {
        form.card.filter #compliance-filter method="get" action="/ui/compliance" {
            (select("scheme", "Scheme", &schemes, &filter.scheme))
            (select("year", "Year", &year_values, &chosen_year))
            (select("status", "Status", &statuses, &filter.status))
            label { "Entity (name or id)" input name="entity" value=(query.get("entity").map_or("", String::as_str)); }
            button type="submit" { "Filter" }
            " "
            a #csv href=(pager::address("/ui/compliance.csv", query, None)) download { "Download CSV" }
        }
    }
}

fn table(lines: &[Line<'_>]) -> Markup {
    html! {
        @if lines.is_empty() {
            p.muted { "No covered entity matches." }
        } @else {
            div.scroll {
                table.compliance #compliance {
                    thead { tr {
                        th { "Scheme · year" } th { "Entity" } th { "Account" } th.num { "Allocated" }
                        th.num { "Verified emissions" } th.num { "Obligation" } th.num { "Surrendered" }
                        th { "Status" } th.num { "Shortfall" }
                    } }
                    tbody {
                        @for line in lines {
                            tr {
                                td { (line.year.scheme_name) " (" (line.year.scheme) ") · " (line.year.year) @if !line.year.closed { " (so far)" } }
                                td { (line.row.name) " (" (line.row.entity) ")" }
                                td { (line.row.account) }
                                td.num { (tonnes(line.row.allocation)) }
                                td.num { @if let Some(verified) = line.row.verified_emissions { (tonnes(verified)) } @else { "—" } }
                                td.num data-field="obligation" { (tonnes(line.row.obligation)) }
                                td.num { (tonnes(line.row.surrendered)) }
                                td { (line.row.status) }
                                td.num { (tonnes(line.row.shortfall)) }
                            }
                        }
                    }
                }
            }
        }
    }
}
