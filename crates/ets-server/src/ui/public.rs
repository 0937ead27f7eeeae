//! The public transparency report as pages anyone can open, no sign-in:
//! `/ui/public/{year}` (per installation: allocation, verified emissions,
//! units surrendered, compliance status, make-good) and
//! `/ui/public/{year}/market` (per venue and UTC day), each paged with its
//! total, with downloads `report.json`, `installations.csv` and
//! `market.csv`. The report is drawn by `ets_api::public_report`, the code
//! behind `ets report public`, and carries the journal's record count, head
//! hash and state hash at its cut-off (docs/public-report.md).

use super::page::{Viewer, layout, price, tonnes};
use super::pager::{self, Pager, Query};
use super::{UiState, history, problem, read_store, signed_in};
use axum::extract::{Path, Query as QueryOf, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ets_api::public_report::{self, CutOff, InstallationLine, MarketDay, PublicReport};
use ets_store::Store;
use maud::{Markup, html};
use std::sync::{Arc, Mutex, PoisonError};

/// The state hash of the last cut-off, by record count: the engine's state
/// is hashed again only when the journal has grown.
#[derive(Default)]
pub(crate) struct CutOffCache {
    last: Mutex<Option<(u64, String)>>,
}

/// The cut-off of `store` now, hashing the state only when the journal grew since the last.
fn cut_off(store: &Store, cache: &CutOffCache) -> CutOff {
    let records = store.journal().last_sequence();
    let mut last = cache.last.lock().unwrap_or_else(PoisonError::into_inner);
    let state_hash = match &*last {
        Some((at, hash)) if *at == records => hash.clone(),
        _ => {
            let hash = store.engine().state_hash().to_string();
            *last = Some((records, hash.clone()));
            hash
        }
    };
    CutOff {
        records,
        journal_head_hash: public_report::hex(&store.journal().last_hash()),
        state_hash,
    }
}

/// The year of the address, or the page saying it is not one.
fn year_of(text: &str, viewer: Option<&Viewer<'_>>) -> Result<u16, Response> {
    match text.parse::<u16>() {
        Ok(year) if (1900..=9999).contains(&year) => Ok(year),
        _ => Err(problem(
            StatusCode::BAD_REQUEST,
            viewer,
            "bad_query",
            &format!("{text:?} is not a year such as 2021"),
            "/ui/public",
        )),
    }
}

/// How many times a bounded store's report is tried when trades land
/// between reading the history and drawing.
const HISTORY_TRIES: usize = 3;

/// The report of `year`. A bounded engine keeps recent trades only: its
/// market section is drawn from the history's trades, as `ets report
/// public` does, at the same journal record as the cut-off.
async fn report(state: &UiState, year: u16) -> Result<PublicReport, Response> {
    let bounded = read_store(state, |store| store.engine().retention_window().is_some()).await?;
    if !bounded {
        let cache = Arc::clone(&state.cut_off);
        let drawn = read_store(state, move |store| {
            public_report::draw(store.engine(), year, cut_off(store, &cache))
        })
        .await?;
        return drawn.map_err(|message| report_failed(&message));
    }
    for _ in 0..HISTORY_TRIES {
        let (head, trades) = history::query(state, move |backend| {
            public_report::history_trades(backend, year)
        })
        .await?;
        let cache = Arc::clone(&state.cut_off);
        let drawn = read_store(state, move |store| {
            let cut = cut_off(store, &cache);
            (cut.records == head)
                .then(|| public_report::draw_with_trades(store.engine(), year, cut, &trades))
        })
        .await?;
        if let Some(drawn) = drawn {
            return drawn.map_err(|message| report_failed(&message));
        }
    }
    Err(problem(
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        "history_unavailable",
        "the history database did not keep up with the journal: try again",
        "/ui/public",
    ))
}

fn report_failed(message: &str) -> Response {
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        None,
        "report_failed",
        message,
        "/ui/public",
    )
}

/// The report of the year in the address, or the answer saying why not.
async fn report_of(
    state: &UiState,
    headers: &HeaderMap,
    year: &str,
) -> Result<PublicReport, Response> {
    let user = signed_in(state, headers);
    let viewer = user.as_ref().map(super::SignedIn::viewer);
    let year = year_of(year, viewer.as_ref())?;
    report(state, year).await
}

/// `GET /ui/public`: the years with a governing rulebook.
pub(crate) async fn index(State(state): State<UiState>, headers: HeaderMap) -> Response {
    let user = signed_in(&state, &headers);
    let viewer = user.as_ref().map(super::SignedIn::viewer);
    let years = match super::read(&state, |engine| {
        let compliance = engine.compliance();
        let mut years: Vec<u16> = compliance
            .schemes()
            .filter_map(|scheme| compliance.rulebook(scheme).ok())
            .flat_map(|rulebook| rulebook.scheme.compliance_years.clone())
            .collect();
        years.sort_unstable();
        years.dedup();
        years
    })
    .await
    {
        Ok(years) => years,
        Err(response) => return response,
    };
    let body = html! {
        p { "Per scheme and year, the figures the EU Transaction Log publishes: per installation its allocation, verified emissions, units surrendered and compliance status; and the market's daily statistics. Every report names the journal's record count, head hash and state hash at its cut-off, which " code { "ets verify" } " reproduces from the journal." }
        @if years.is_empty() { p.muted { "No rulebook is loaded yet." } }
        ul #years { @for year in &years { li { a href=(format!("/ui/public/{year}")) { (year) } } } }
    };
    super::html(
        StatusCode::OK,
        layout("Public reports", viewer.as_ref(), &body),
    )
}

fn cut_off_block(report: &PublicReport) -> Markup {
    let cut = &report.cut_off;
    html! {
        dl.detail #cut-off {
            dt { "Journal records" } dd #records { (cut.records) }
            dt { "Journal head hash" } dd { code #head-hash { (cut.journal_head_hash) } }
            dt { "State hash" } dd { code #state-hash { (cut.state_hash) } }
        }
        p {
            a #json href=(format!("/ui/public/{}/report.json", report.year)) download { "JSON" } " · "
            a #installations-csv href=(format!("/ui/public/{}/installations.csv", report.year)) download { "Installations CSV" } " · "
            a #market-csv href=(format!("/ui/public/{}/market.csv", report.year)) download { "Market CSV" }
        }
    }
}

fn paged<'a, T>(
    rows: &'a [T],
    query: &Query,
    viewer: Option<&Viewer<'_>>,
    back: &str,
) -> Result<(Pager, &'a [T]), Response> {
    let page = pager::requested_page(query)
        .map_err(|message| problem(StatusCode::BAD_REQUEST, viewer, "bad_query", &message, back))?;
    let pager = Pager::new(page, rows.len() as u64).map_err(|message| {
        problem(
            StatusCode::NOT_FOUND,
            viewer,
            "page_beyond_end",
            &message,
            back,
        )
    })?;
    Ok((pager, pager.slice(rows)))
}

/// `GET /ui/public/{year}`: the installations.
pub(crate) async fn installations(
    State(state): State<UiState>,
    headers: HeaderMap,
    Path(year): Path<String>,
    QueryOf(query): QueryOf<Query>,
) -> Response {
    let report = match report_of(&state, &headers, &year).await {
        Ok(report) => report,
        Err(response) => return response,
    };
    let user = signed_in(&state, &headers);
    let viewer = user.as_ref().map(super::SignedIn::viewer);
    let path = format!("/ui/public/{}", report.year);
    let (pager, lines) = match paged(&report.installations, &query, viewer.as_ref(), &path) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let body = html! {
        (cut_off_block(&report))
        p { a #market href=(format!("{path}/market")) { "Market statistics of " (report.year) } }
        (pager.nav(&path, &query, "pager-top"))
        (installations_table(lines))
        (pager.nav(&path, &query, "pager-bottom"))
    };
    super::html(
        StatusCode::OK,
        layout(
            &format!("Public report {}: installations", report.year),
            viewer.as_ref(),
            &body,
        ),
    )
}

fn installations_table(lines: &[InstallationLine]) -> Markup {
    html! {
        @if lines.is_empty() { p.muted { "No installation is covered in this year." } } @else {
            div.scroll { table #installations {
                thead { tr {
                    th { "Scheme" } th { "Operator" } th { "Account" } th.num { "Allocation" }
                    th.num { "Verified emissions" } th.num { "Units surrendered" } th { "Status" }
                    th.num { "To make good" } th { "Figures" }
                } }
                tbody { @for line in lines {
                    tr data-participant=(line.participant) {
                        td { (line.scheme) } td { (line.name) " (" (line.participant) ")" } td { (line.account) }
                        td.num { (tonnes(line.allocation)) }
                        td.num { @if let Some(verified) = line.verified_emissions { (tonnes(verified)) } @else { "—" } }
                        td.num { (tonnes(line.units_surrendered)) }
                        td data-field="status" { (line.compliance_status) }
                        td.num { (tonnes(line.make_good)) }
                        td { @if line.final_figures { "final" } @else { "so far" } }
                    }
                } }
            } }
        }
    }
}

/// `GET /ui/public/{year}/market`: the market days.
pub(crate) async fn market(
    State(state): State<UiState>,
    headers: HeaderMap,
    Path(year): Path<String>,
    QueryOf(query): QueryOf<Query>,
) -> Response {
    let report = match report_of(&state, &headers, &year).await {
        Ok(report) => report,
        Err(response) => return response,
    };
    let user = signed_in(&state, &headers);
    let viewer = user.as_ref().map(super::SignedIn::viewer);
    let path = format!("/ui/public/{}/market", report.year);
    let (pager, days) = match paged(&report.market, &query, viewer.as_ref(), &path) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let body = html! {
        (cut_off_block(&report))
        p { a href=(format!("/ui/public/{}", report.year)) { "Installations of " (report.year) } }
        (pager.nav(&path, &query, "pager-top"))
        (market_table(days))
        (pager.nav(&path, &query, "pager-bottom"))
    };
    super::html(
        StatusCode::OK,
        layout(
            &format!("Public report {}: market", report.year),
            viewer.as_ref(),
            &body,
        ),
    )
}

fn market_table(days: &[MarketDay]) -> Markup {
    html! {
        @if days.is_empty() { p.muted { "No trade in this year." } } @else {
            div.scroll { table #market-days {
                thead { tr {
                    th { "Day (UTC)" } th { "Venue" } th.num { "Trades" } th.num { "Volume (t)" } th.num { "Turnover" }
                    th.num { "Open" } th.num { "High" } th.num { "Low" } th.num { "Close" } th.num { "VWAP" }
                } }
                tbody { @for day in days {
                    tr {
                        td { (day.date) } td { (day.venue) } td.num { (day.trades) } td.num { (tonnes(day.volume)) }
                        td.num { (price(i64::try_from(day.turnover_minor_units).unwrap_or(i64::MAX))) }
                        td.num { (price(day.open_ticks)) } td.num { (price(day.high_ticks)) }
                        td.num { (price(day.low_ticks)) } td.num { (price(day.close_ticks)) } td.num { (price(day.vwap_ticks)) }
                    }
                } }
            } }
        }
    }
}

fn download(content_type: &'static str, name: String, text: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        text,
    )
        .into_response()
}

fn failed(message: &str) -> Response {
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        None,
        "report_failed",
        message,
        "/ui/public",
    )
}

/// `GET /ui/public/{year}/report.json`: the whole report, as `ets report public --format json` prints it.
pub(crate) async fn json(
    State(state): State<UiState>,
    headers: HeaderMap,
    Path(year): Path<String>,
) -> Response {
    let report = match report_of(&state, &headers, &year).await {
        Ok(report) => report,
        Err(response) => return response,
    };
    match serde_json::to_string_pretty(&report) {
        Ok(text) => download(
            "application/json",
            format!("public-report-{}.json", report.year),
            text + "\n",
        ),
        Err(error) => failed(&error.to_string()),
    }
}

/// `GET /ui/public/{year}/installations.csv`.
pub(crate) async fn installations_csv(
    State(state): State<UiState>,
    headers: HeaderMap,
    Path(year): Path<String>,
) -> Response {
    let report = match report_of(&state, &headers, &year).await {
        Ok(report) => report,
        Err(response) => return response,
    };
    match public_report::installations_csv(&report) {
        Ok(text) => download(
            "text/csv; charset=utf-8",
            format!("installations-{}.csv", report.year),
            text,
        ),
        Err(message) => failed(&message),
    }
}

/// `GET /ui/public/{year}/market.csv`.
pub(crate) async fn market_csv(
    State(state): State<UiState>,
    headers: HeaderMap,
    Path(year): Path<String>,
) -> Response {
    let report = match report_of(&state, &headers, &year).await {
        Ok(report) => report,
        Err(response) => return response,
    };
    match public_report::market_csv(&report) {
        Ok(text) => download(
            "text/csv; charset=utf-8",
            format!("market-{}.csv", report.year),
            text,
        ),
        Err(message) => failed(&message),
    }
}
