//! The web UI under `/ui`: server-rendered HTML pages for representatives,
//! the administrator, verifiers and the public (docs/web-ui.md).
//!
//! People sign in with their `users.json` name and password (argon2, as HTTP
//! Basic) and get a session cookie (`HttpOnly; SameSite=Strict`, a random
//! token kept in memory). Every form carries the session's CSRF token and a
//! request id generated when the page was drawn, so sending a form twice
//! repeats the same command and the engine answers with its first outcome.
//! Forms become the JSON commands of the API (`ets_api::parse_request`),
//! sent through the same sequencer with the user's participant as requester:
//! the engine alone decides what that participant may do, and its refusal
//! code and message are shown as they are.

// A refusal is an HTML page built once per request, on its way out: boxing
// it would only add noise.
#![allow(clippy::result_large_err)]

mod admin;
mod chart;
mod compliance;
mod confirm;
mod csv;
mod exports;
mod history;
mod inbox;
mod page;
mod pager;
mod public;
mod reports;
mod search;
mod session;
mod statement;
mod transaction;
mod trusted;
mod view;

use crate::access;
use crate::auth::throttle;
use crate::http::{ServerState, status_of};
use crate::sequencer::Job;
use crate::users::{Principal, Role};
use axum::extract::{ConnectInfo, Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Router, middleware};
use ets_api::{
    CommandJson, CommandLineJson, ComplianceCommandJson, OutcomeLine, RegistryCommandJson,
};
use ets_engine::Engine;
use ets_model::AccountId;
use ets_store::Store;
use page::{Nonces, Viewer};
use session::{Session, Sessions, cookie_token, same_secret};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The stylesheet, small and responsive, served at `/ui/static/ui.css`.
const STYLESHEET: &str = include_str!("../../static/ui.css");

/// What the UI's handlers share.
#[derive(Clone)]
struct UiState {
    server: ServerState,
    sessions: Arc<Sessions>,
    history: Arc<history::HistoryReader>,
    cut_off: Arc<public::CutOffCache>,
}

/// The fields of a submitted form.
type Fields = BTreeMap<String, String>;

/// The UI's routes, with their own sessions; merge into the API router.
pub(crate) fn router<S>(server: ServerState) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let state = UiState {
        server,
        sessions: Arc::new(Sessions::default()),
        history: Arc::default(),
        cut_off: Arc::default(),
    };
    Router::new()
        .route("/", get(root))
        .route("/ui", get(home))
        .route("/ui/login", get(login_form).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/accounts/{id}", get(account))
        .route("/ui/accounts/{id}/statement", get(statement::page))
        .route("/ui/accounts/{id}/holdings.csv", get(exports::holdings))
        .route("/ui/accounts/{id}/statement.csv", get(statement::download))
        .route("/ui/transactions/{id}", get(transaction::page))
        .route("/ui/search", get(search::page))
        .route("/ui/search.csv", get(search::download))
        .route("/ui/inbox.csv", get(inbox::download))
        .route("/ui/pending.csv", get(exports::pending))
        .route("/ui/inbox", get(inbox::page))
        .route("/ui/inbox/stream", get(inbox::stream))
        .route("/ui/static/inbox.js", get(inbox::script))
        .route("/ui/transfer/confirm", post(confirm::page))
        .route("/ui/transfer", post(transfer))
        .route("/ui/surrender", post(surrender))
        .route("/ui/decide", post(decide))
        .route("/ui/trusted", post(trusted::decide))
        .route("/ui/admin", get(admin))
        .route("/ui/admin/issue", post(issue))
        .route("/ui/admin/allocate", post(allocate))
        .route("/ui/admin/participant", post(admin::participant))
        .route("/ui/admin/account", post(admin::account))
        .route("/ui/admin/status", post(admin::status))
        .route("/ui/admin/rule", post(admin::rule))
        .route("/ui/admin/additional", post(admin::additional))
        .route("/ui/admin/controls", post(admin::controls))
        .route("/ui/reports", get(reports::page))
        .route("/ui/reports.csv", get(reports::download))
        .route("/ui/reports/verify", post(verify))
        .route("/ui/market", get(market))
        .route("/ui/market.csv", get(exports::market))
        .route("/ui/admin/accounts.csv", get(exports::admin_accounts))
        .route("/ui/compliance", get(compliance::page))
        .route("/ui/compliance.csv", get(compliance::download))
        .route("/ui/public", get(public::index))
        .route("/ui/public/{year}", get(public::installations))
        .route("/ui/public/{year}/market", get(public::market))
        .route("/ui/public/{year}/report.json", get(public::json))
        .route(
            "/ui/public/{year}/installations.csv",
            get(public::installations_csv),
        )
        .route("/ui/public/{year}/market.csv", get(public::market_csv))
        .route("/ui/static/ui.css", get(stylesheet))
        .layer(middleware::map_response(security_headers))
        .with_state(state)
}

/// Headers every UI answer carries: no framing, no foreign scripts or form
/// targets, no caching of pages that show holdings.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// A signed-in user: who they are now and their session.
struct SignedIn {
    principal: Principal,
    session: Session,
    token: String,
}

impl SignedIn {
    fn viewer(&self) -> Viewer<'_> {
        Viewer {
            name: &self.principal.name,
            role: self.principal.role,
            participant: self.principal.participant.0,
            csrf: &self.session.csrf,
        }
    }
}

/// The user of the request's session, looked up again in the users file so
/// that a removed user is signed out and a changed role applies at once.
fn signed_in(state: &UiState, headers: &HeaderMap) -> Option<SignedIn> {
    let token = cookie_token(headers)?;
    let session = state.sessions.get(&token)?;
    let Some(principal) = state.server.users.principal_named(&session.user) else {
        state.sessions.end(&token);
        return None;
    };
    Some(SignedIn {
        principal,
        session,
        token,
    })
}

/// The signed-in administrator; anyone else gets the login page or a 403
/// `role_forbids` naming `what` ("the administration page").
fn administrator(state: &UiState, headers: &HeaderMap, what: &str) -> Result<SignedIn, Response> {
    let Some(user) = signed_in(state, headers) else {
        return Err(to_login());
    };
    if user.principal.role != Role::Administrator {
        let message = format!("{what} is for users with the role administrator");
        return Err(problem(
            StatusCode::FORBIDDEN,
            Some(&user.viewer()),
            "role_forbids",
            &message,
            "/ui",
        ));
    }
    Ok(user)
}

fn html(status: StatusCode, markup: maud::Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

/// A page that says what went wrong, with the stable code.
fn problem(
    status: StatusCode,
    viewer: Option<&Viewer<'_>>,
    code: &str,
    message: &str,
    back: &str,
) -> Response {
    let outcome = page::Outcome {
        accepted: false,
        duplicate: false,
        code: Some(code),
        message: Some(message),
        details: Vec::new(),
    };
    html(status, page::outcome(viewer, &outcome, back))
}

fn to_login() -> Response {
    Redirect::to("/ui/login").into_response()
}

/// Runs `read` on the engine on the sequencer thread, after the writes
/// queued before it.
async fn read<T, F>(state: &UiState, read: F) -> Result<T, Response>
where
    T: Send + 'static,
    F: FnOnce(&Engine) -> T + Send + 'static,
{
    read_store(state, move |store| read(store.engine())).await
}

/// Runs `read` on the store on the sequencer thread, after the writes
/// queued before it.
async fn read_store<T, F>(state: &UiState, read: F) -> Result<T, Response>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> T + Send + 'static,
{
    let (sender, answer) = oneshot::channel();
    let job = Job::Read(Box::new(move |store: &Store| {
        // Nothing trustworthy to show while the durable state is unknown.
        let answer = (!store.is_state_unknown()).then(|| read(store));
        // The asker may have gone away; nothing to do then.
        let _ = sender.send(answer);
    }));
    enqueue(&state.server.jobs, job)?;
    answer.await.map_err(|_| unavailable())?.ok_or_else(|| {
        let refusal = crate::http::state_unknown();
        problem(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            refusal.code.as_str(),
            &refusal.message,
            "/ui",
        )
    })
}

fn unavailable() -> Response {
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        "shutting_down",
        "the server is shutting down",
        "/ui",
    )
}

fn enqueue(jobs: &mpsc::Sender<Job>, job: Job) -> Result<(), Response> {
    match jobs.try_send(job) {
        Ok(()) => Ok(()),
        Err(mpsc::error::TrySendError::Full(_)) => {
            let mut response = problem(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "queue_full",
                "the server is at capacity; try again in a second",
                "/ui",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            Err(response)
        }
        Err(mpsc::error::TrySendError::Closed(_)) => Err(unavailable()),
    }
}

/// A fresh start for the request ids of a page's forms.
fn nonces() -> Result<Nonces, Response> {
    session::random_request_id()
        .map(Nonces::from)
        .map_err(|error| internal(&error.to_string()))
}

fn internal(message: &str) -> Response {
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        None,
        "randomness_unavailable",
        message,
        "/ui",
    )
}

/// `/` leads people to the UI.
async fn root() -> Response {
    Redirect::to("/ui").into_response()
}

async fn home(State(state): State<UiState>, headers: HeaderMap) -> Response {
    let Some(user) = signed_in(&state, &headers) else {
        return html(StatusCode::OK, page::welcome());
    };
    let principal = user.principal.clone();
    let dashboard = match read(&state, move |engine| view::dashboard(engine, &principal)).await {
        Ok(dashboard) => dashboard,
        Err(response) => return response,
    };
    let mut nonces = match nonces() {
        Ok(nonces) => nonces,
        Err(response) => return response,
    };
    html(
        StatusCode::OK,
        page::dashboard(&user.viewer(), &mut nonces, &dashboard),
    )
}

async fn login_form(State(state): State<UiState>, headers: HeaderMap) -> Response {
    if signed_in(&state, &headers).is_some() {
        return Redirect::to("/ui").into_response();
    }
    html(StatusCode::OK, page::login(None))
}

async fn login(
    State(state): State<UiState>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    if let Err(response) = same_origin(&headers) {
        return response;
    }
    let name = fields.get("name").cloned().unwrap_or_default();
    let password = fields.get("password").cloned().unwrap_or_default();
    // The same throttle as the API's: too many failures for this name or from
    // this address, and the password is not even checked.
    let address = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip());
    if let Err(throttled) = throttle::check(&state.server, Some(&name), address) {
        return throttled.response();
    }
    match state
        .server
        .users
        .authenticate_password(name.clone(), password)
        .await
    {
        Ok(principal) => match state.sessions.start(&principal.name) {
            Ok(token) => {
                throttle::record_success(&state.server, Some(&name), address);
                tracing::info!(user = %principal.name, "signed in to the web UI");
                let mut response = Redirect::to("/ui").into_response();
                if let Ok(value) =
                    HeaderValue::from_str(&session::set_cookie(&token, state.server.https))
                {
                    response.headers_mut().insert(header::SET_COOKIE, value);
                }
                response
            }
            Err(error) => internal(&error.to_string()),
        },
        Err(code) => {
            tracing::info!(code, "web UI sign-in failed");
            throttle::record_failure(&state.server, Some(&name), address);
            // One answer for every failure: a visitor cannot probe names.
            html(
                StatusCode::UNAUTHORIZED,
                page::login(Some("The user name or the password is wrong.")),
            )
        }
    }
}

async fn logout(
    State(state): State<UiState>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    let user = match check_form(&state, &headers, &fields) {
        Ok(user) => user,
        Err(response) => return response,
    };
    state.sessions.end(&user.token);
    let mut response = Redirect::to("/ui").into_response();
    if let Ok(value) = HeaderValue::from_str(&session::clear_cookie(state.server.https)) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// When the browser says where a form came from (`Origin`), it must be this
/// server; SameSite=Strict and the CSRF token do the rest.
fn same_origin(headers: &HeaderMap) -> Result<(), Response> {
    if crate::http::origin_allowed(headers) {
        return Ok(());
    }
    Err(problem(
        StatusCode::FORBIDDEN,
        None,
        "cross_origin",
        "a form from another origin may not be sent to this server",
        "/ui",
    ))
}

/// The checks of every form but the sign-in: same origin, signed in, and the
/// session's CSRF token in the `csrf` field.
fn check_form(state: &UiState, headers: &HeaderMap, fields: &Fields) -> Result<SignedIn, Response> {
    same_origin(headers)?;
    let Some(user) = signed_in(state, headers) else {
        return Err(problem(
            StatusCode::UNAUTHORIZED,
            None,
            "not_signed_in",
            "sign in first (the session may have ended)",
            "/ui/login",
        ));
    };
    let sent = fields.get("csrf").map_or("", String::as_str);
    if !same_secret(sent, &user.session.csrf) {
        return Err(problem(
            StatusCode::FORBIDDEN,
            Some(&user.viewer()),
            "csrf_mismatch",
            "the form does not carry this session's token; reload the page and send it again",
            "/ui",
        ));
    }
    Ok(user)
}

/// Where the outcome page links back to: a UI path, else the home page.
fn back_of(fields: &Fields) -> String {
    match fields.get("back") {
        Some(back) if back.starts_with("/ui") && !back.contains("//") && !back.contains('\\') => {
            back.clone()
        }
        _ => "/ui".to_owned(),
    }
}

fn text_field<'a>(fields: &'a Fields, name: &str) -> Result<&'a str, String> {
    fields
        .get(name)
        .map(|value| value.trim())
        .filter(|value| !value.is_empty())
        .ok_or_else(|| format!("the form has no {name}"))
}

fn number_field(fields: &Fields, name: &str) -> Result<u64, String> {
    let text = text_field(fields, name)?;
    let digits = text.replace([',', '_', ' '], "");
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(format!("{name} must be a whole number; it is {text:?}"));
    }
    digits
        .parse()
        .map_err(|_| format!("{name} is too large: {text:?}"))
}

/// A whole-number field of a narrower type (a year, an approval count).
fn small_field<T: TryFrom<u64>>(fields: &Fields, name: &str) -> Result<T, String> {
    narrow(name, number_field(fields, name)?)
}

/// A field's number in a narrower type, or why it does not fit.
fn narrow<T: TryFrom<u64>>(name: &str, number: u64) -> Result<T, String> {
    T::try_from(number).map_err(|_| format!("{name} is too large: {number}"))
}

/// Sends the command a form describes: `build` makes its typed body (the
/// API's [`CommandJson`], without the envelope) from the fields; the form's request id and the user's
/// participant complete it, then it goes the API's way to the engine.
async fn send_form(
    state: &UiState,
    headers: &HeaderMap,
    fields: &Fields,
    build: impl FnOnce(&Fields) -> Result<CommandJson, String>,
) -> Response {
    let user = match check_form(state, headers, fields) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let page = FormPage {
        viewer: user.viewer(),
        back: back_of(fields),
    };
    let form = match form_request(&user.principal, fields, build, &page) {
        Ok(form) => form,
        Err(response) => return response,
    };
    // The same decision as the JSON API's, from the same metadata.
    if let Err(refusal) =
        access::authorise_command(&state.server, &user.principal, &form.request).await
    {
        return page.problem(
            status_of(refusal.code.as_str()),
            refusal.code.as_str(),
            &refusal.message,
        );
    }
    let name = form.request.command.name();
    let request_id = form.request.request_id;
    let reply = match submit_form(state, form.request, form.line.len(), &page).await {
        Ok(reply) => reply,
        Err(response) => return response,
    };
    tracing::info!(user = %page.viewer.name, command = %name, request_id = form.request_id, "web UI command answered");
    outcome_page(&page, request_id, &reply)
}

/// Who sent a form and the page its answer leads back to.
struct FormPage<'a> {
    viewer: Viewer<'a>,
    back: String,
}

impl FormPage<'_> {
    /// The problem page of a form that did not go through.
    fn problem(&self, status: StatusCode, code: &str, message: &str) -> Response {
        problem(status, Some(&self.viewer), code, message, &self.back)
    }
}

/// A form's command as the API reads it, with the line it was read from and
/// the form's request id.
struct FormRequest {
    request: ets_api::ApiRequest,
    line: String,
    request_id: u64,
}

/// The command a form describes, as the JSON API would read it from the
/// same line, or the page saying why there is none (a role that may not
/// write, a malformed form, a value the API refuses).
fn form_request(
    principal: &Principal,
    fields: &Fields,
    build: impl FnOnce(&Fields) -> Result<CommandJson, String>,
    page: &FormPage<'_>,
) -> Result<FormRequest, Response> {
    if let Some(message) = crate::auth::write_forbidden(principal) {
        return Err(page.problem(StatusCode::FORBIDDEN, "role_forbids", &message));
    }
    let bad_form =
        |message: String| page.problem(StatusCode::BAD_REQUEST, "malformed_form", &message);
    let request_id = number_field(fields, "request_id").map_err(bad_form)?;
    let command = build(fields).map_err(bad_form)?;
    let line = CommandLineJson {
        request_id,
        requester: principal.participant.0,
        command,
    }
    .to_line();
    match ets_api::parse_request(&line) {
        Ok(request) => Ok(FormRequest {
            request,
            line,
            request_id,
        }),
        Err(error) => {
            // The JSON API's status for the same code (400 malformed, 422 invalid value).
            let status = StatusCode::from_u16(ets_api::status_of_code(error.code))
                .unwrap_or(StatusCode::BAD_REQUEST);
            Err(page.problem(status, error.code, &error.message))
        }
    }
}

/// Queues a form's command for the sequencer and waits for its durable
/// reply, or the page saying why there is none (a full queue, a fault, a
/// server shutting down).
async fn submit_form(
    state: &UiState,
    request: ets_api::ApiRequest,
    bytes: usize,
    page: &FormPage<'_>,
) -> Result<ets_store::Reply, Response> {
    let (reply, answer) = oneshot::channel();
    let job = Job::Submit {
        submission: Box::new(crate::http::submission(request)),
        bytes,
        reply,
    };
    enqueue(&state.server.jobs, job)?;
    match answer.await {
        Ok(Ok(reply)) => Ok(reply),
        Ok(Err(fault)) => {
            let status = StatusCode::from_u16(fault.code.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Err(page.problem(status, fault.code.as_str(), &fault.message))
        }
        Err(_) => Err(unavailable()),
    }
}

/// The page of a command's outcome: accepted with its details, or refused
/// with the engine's code and message (and the API's status for that code).
fn outcome_page(
    form: &FormPage<'_>,
    request_id: ets_model::RequestId,
    reply: &ets_store::Reply,
) -> Response {
    let outcome_line = OutcomeLine::reply(
        request_id,
        reply.sequence,
        reply.time,
        reply.duplicate,
        &reply.outcome,
    );
    let (status, outcome) = match &outcome_line {
        OutcomeLine::Accepted(accepted) => (
            StatusCode::OK,
            page::Outcome {
                accepted: true,
                duplicate: accepted.duplicate,
                code: None,
                message: None,
                details: accepted.result.details(),
            },
        ),
        OutcomeLine::Refused(refused) => (
            status_of(&refused.code),
            page::Outcome {
                accepted: false,
                duplicate: refused.duplicate,
                code: Some(&refused.code),
                message: Some(&refused.message),
                details: Vec::new(),
            },
        ),
    };
    html(
        status,
        page::outcome(Some(&form.viewer), &outcome, &form.back),
    )
}

async fn transfer(
    State(state): State<UiState>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    send_form(&state, &headers, &fields, |fields| {
        Ok(RegistryCommandJson::Transfer {
            from: number_field(fields, "from")?,
            to: number_field(fields, "to")?,
            unit: text_field(fields, "unit")?.to_owned(),
            quantity: number_field(fields, "quantity")?,
        }
        .into())
    })
    .await
}

async fn surrender(
    State(state): State<UiState>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    send_form(&state, &headers, &fields, |fields| {
        Ok(RegistryCommandJson::Surrender {
            from: number_field(fields, "from")?,
            unit: text_field(fields, "unit")?.to_owned(),
            quantity: number_field(fields, "quantity")?,
            compliance_year: small_field(fields, "compliance_year")?,
        }
        .into())
    })
    .await
}

async fn decide(
    State(state): State<UiState>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    send_form(&state, &headers, &fields, |fields| {
        let decision = text_field(fields, "decision")?;
        let transaction = number_field(fields, "transaction")?;
        let command = match decision {
            "approve" => RegistryCommandJson::Approve { transaction },
            "reject" => RegistryCommandJson::Reject { transaction },
            "withdraw" => RegistryCommandJson::Withdraw { transaction },
            other => {
                return Err(format!(
                    "decision must be approve, reject or withdraw; it is {other:?}"
                ));
            }
        };
        Ok(command.into())
    })
    .await
}

async fn issue(
    State(state): State<UiState>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    send_form(&state, &headers, &fields, |fields| {
        Ok(RegistryCommandJson::Issue {
            unit: text_field(fields, "unit")?.to_owned(),
            quantity: number_field(fields, "quantity")?,
        }
        .into())
    })
    .await
}

async fn allocate(
    State(state): State<UiState>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    send_form(&state, &headers, &fields, |fields| {
        Ok(RegistryCommandJson::Allocate {
            to: number_field(fields, "to")?,
            unit: text_field(fields, "unit")?.to_owned(),
            quantity: number_field(fields, "quantity")?,
        }
        .into())
    })
    .await
}

async fn verify(
    State(state): State<UiState>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    send_form(&state, &headers, &fields, |fields| {
        let accept = match text_field(fields, "accept")? {
            "true" => true,
            "false" => false,
            other => return Err(format!("accept must be true or false; it is {other:?}")),
        };
        Ok(ComplianceCommandJson::verify_report(
            number_field(fields, "entity")?,
            small_field(fields, "year")?,
            accept,
        )
        .into())
    })
    .await
}

async fn account(
    State(state): State<UiState>,
    headers: HeaderMap,
    Path(id): Path<u64>,
) -> Response {
    let Some(user) = signed_in(&state, &headers) else {
        return to_login();
    };
    let participant = user.principal.participant;
    let clock = state.server.clock;
    let found = match read_store(&state, move |store| {
        let engine = store.engine();
        let now = crate::http::server_now(clock, store);
        view::account(engine, AccountId(id), participant)
            .map(|found| (found, trusted::list(engine, AccountId(id), now)))
    })
    .await
    {
        Ok(found) => found,
        Err(response) => return response,
    };
    let mut nonces = match nonces() {
        Ok(nonces) => nonces,
        Err(response) => return response,
    };
    let viewer = user.viewer();
    let sees_all = user.principal.role.reads_everything();
    match found {
        None => problem(
            StatusCode::NOT_FOUND,
            Some(&viewer),
            "unknown_account",
            &format!("account {id} does not exist"),
            "/ui",
        ),
        Some(((_, false), _)) if !sees_all => problem(
            StatusCode::FORBIDDEN,
            Some(&viewer),
            "not_representative",
            &format!(
                "participant {} neither holds nor represents account {id}",
                participant.0
            ),
            "/ui",
        ),
        Some(((row, _), list)) => {
            let trusted = trusted::section(&viewer, &mut nonces, id, &list);
            html(StatusCode::OK, page::account(&viewer, &row, &trusted))
        }
    }
}

async fn admin(State(state): State<UiState>, headers: HeaderMap) -> Response {
    let user = match administrator(&state, &headers, "the administration page") {
        Ok(user) => user,
        Err(response) => return response,
    };
    let overview = match read(&state, view::admin_overview).await {
        Ok(overview) => overview,
        Err(response) => return response,
    };
    let mut nonces = match nonces() {
        Ok(nonces) => nonces,
        Err(response) => return response,
    };
    html(
        StatusCode::OK,
        page::admin(&user.viewer(), &mut nonces, &overview),
    )
}

async fn market(State(state): State<UiState>, headers: HeaderMap) -> Response {
    let user = signed_in(&state, &headers);
    let instruments = match read(&state, ets_api::market_view).await {
        Ok(instruments) => instruments,
        Err(response) => return response,
    };
    let viewer = user.as_ref().map(SignedIn::viewer);
    html(StatusCode::OK, page::market(viewer.as_ref(), &instruments))
}
