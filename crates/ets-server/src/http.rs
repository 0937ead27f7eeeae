//! HTTP routes: commands in the JSON shape of `ets submit` (docs/commands.md),
//! queries, health, metrics and the OpenAPI document. Errors are JSON with a
//! stable `code` and a fitting status. Every `/api/*` route but the OpenAPI
//! document needs a user (see `auth`); every request gets one tracing span
//! and is counted in the metrics.

use crate::auth::throttle::Throttle;
use crate::auth::{UserDirectory, require_user};
use crate::metrics::Metrics;
use crate::sequencer::{Job, Query};
use crate::stream::{self, Streams};
use crate::users::{Principal, Role};
use axum::extract::{DefaultBodyLimit, Extension, MatchedPath, Path, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use axum::{Json, Router};
use ets_api::{ApiRequest, parse_request, rejection_json, reply_json};
use ets_engine::Outcome;
use ets_model::{AccountId, ParticipantId, RequestId, TransactionId};
use ets_store::Submission;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument as _;

/// The largest request body accepted, in bytes.
pub const BODY_MAX_BYTES: usize = 64 * 1024;

/// The largest body of `POST /api/commands/batch`, in bytes.
pub const BATCH_BODY_MAX_BYTES: usize = 4 * 1024 * 1024;

/// The most commands in one `POST /api/commands/batch`.
pub const BATCH_COMMANDS_MAX: usize = 10_000;

/// The OpenAPI 3.1 document of the API, served at `/api/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// Commands only a user with the `administrator` role may send (the engine
/// also checks that their participant is an administrator).
pub const ADMINISTRATOR_COMMANDS: [&str; 8] = [
    "register_participant",
    "open_account",
    "set_account_status",
    "set_approval_rule",
    "issue",
    "allocate",
    "cancel",
    "reverse",
];

/// What the request handlers share.
#[derive(Clone)]
pub struct ServerState {
    /// The sequencer's queue.
    pub jobs: mpsc::Sender<Job>,
    /// The users who may call the API.
    pub users: Arc<UserDirectory>,
    /// The metrics the handlers and the sequencer update.
    pub metrics: Arc<Metrics>,
    /// Failed sign-ins, per user and address.
    pub throttle: Arc<Throttle>,
    /// The event streams the sequencer publishes to.
    pub streams: Streams,
    /// Whether the server speaks HTTPS (its cookies then carry `Secure`).
    pub https: bool,
}

impl ServerState {
    /// A state with the default sign-in throttle and event streams that
    /// nothing publishes to (the server itself wires the sequencer's).
    #[must_use]
    pub fn new(
        jobs: mpsc::Sender<Job>,
        users: Arc<UserDirectory>,
        metrics: Arc<Metrics>,
    ) -> ServerState {
        ServerState {
            jobs,
            users,
            metrics,
            throttle: Arc::new(Throttle::default()),
            streams: Streams::new(),
            https: false,
        }
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without credentials.
    Public,
    /// An authenticated user.
    User,
}

/// The HTTP methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// GET (HEAD is answered too).
    Get,
    /// POST.
    Post,
}

impl Verb {
    /// The method's name in upper case, as on the wire.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
        }
    }

    fn filter(self) -> MethodFilter {
        match self {
            Verb::Get => MethodFilter::GET,
            Verb::Post => MethodFilter::POST,
        }
    }
}

/// A registered route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Its method.
    pub verb: Verb,
    /// Its path as registered, with `{name}` parameters as in OpenAPI.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
}

/// Builds the router and the list of its routes in one place, so the list
/// (which the OpenAPI test checks) cannot drift from what is served.
struct Table {
    public: Router<ServerState>,
    protected: Router<ServerState>,
    routes: Vec<Route>,
}

impl Table {
    fn add<H, T>(mut self, access: Access, verb: Verb, path: &'static str, handler: H) -> Table
    where
        H: Handler<T, ServerState>,
        T: 'static,
    {
        let method_router = on(verb.filter(), handler);
        match access {
            Access::Public => self.public = self.public.route(path, method_router),
            Access::User => self.protected = self.protected.route(path, method_router),
        }
        self.routes.push(Route { verb, path, access });
        self
    }
}

fn table() -> Table {
    let empty = Table {
        public: Router::new(),
        protected: Router::new(),
        routes: Vec::new(),
    };
    empty
        .add(Access::Public, Verb::Get, "/healthz", health)
        .add(Access::Public, Verb::Get, "/metrics", metrics)
        .add(Access::Public, Verb::Get, "/api/openapi.json", openapi)
        .add(Access::User, Verb::Post, "/api/commands", command)
        .add(
            Access::User,
            Verb::Post,
            "/api/commands/batch",
            commands_batch.layer(DefaultBodyLimit::max(BATCH_BODY_MAX_BYTES)),
        )
        .add(Access::User, Verb::Get, "/api/accounts/{id}", account)
        .add(
            Access::User,
            Verb::Get,
            "/api/transactions/{id}",
            transaction,
        )
        .add(Access::User, Verb::Get, "/api/serials/{serial}", serial)
        .add(
            Access::User,
            Verb::Get,
            "/api/participants/{id}",
            participant,
        )
        .add(
            Access::User,
            Verb::Get,
            "/api/stream/market",
            stream::market,
        )
        .add(
            Access::User,
            Verb::Get,
            "/api/stream/accounts/{id}",
            stream::account,
        )
}

/// Every route the router serves, in registration order.
#[must_use]
pub fn routes() -> Vec<Route> {
    table().routes
}

/// The routes, served by the sequencer behind `state.jobs`.
pub fn router(state: ServerState) -> Router {
    let Table {
        public, protected, ..
    } = table();
    let protected =
        protected.route_layer(middleware::from_fn_with_state(state.clone(), require_user));
    public
        .merge(protected)
        .merge(crate::ui::router(state.clone()))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(DefaultBodyLimit::max(BODY_MAX_BYTES))
        .with_state(state)
}

/// One span per request (method, path, status, latency, user) and the
/// request metrics.
async fn observe(State(state): State<ServerState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    // Known methods only, so a client cannot grow the label set at will.
    let method = match *request.method() {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        _ => "other",
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        status = tracing::field::Empty,
        latency_us = tracing::field::Empty,
        user = tracing::field::Empty,
    );
    let response = next.run(request).instrument(span.clone()).await;
    let latency = started.elapsed();
    let status = response.status().as_u16();
    span.record("status", status);
    span.record(
        "latency_us",
        u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
    );
    span.in_scope(|| tracing::info!("request answered"));
    state
        .metrics
        .observe_request(&route, method, status, latency);
    response
}

pub(crate) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({ "ok": false, "code": code, "message": message.into() })),
    )
        .into_response()
}

fn queue_full() -> Response {
    let mut response = error(
        StatusCode::SERVICE_UNAVAILABLE,
        "queue_full",
        "the server is at capacity; retry after a second",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// Puts a job on the queue without waiting; a full or closed queue gives the
/// response to send instead.
pub(crate) fn enqueue(jobs: &mpsc::Sender<Job>, job: Job) -> Option<Response> {
    match jobs.try_send(job) {
        Ok(()) => None,
        Err(mpsc::error::TrySendError::Full(_)) => Some(queue_full()),
        Err(mpsc::error::TrySendError::Closed(_)) => Some(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down",
        )),
    }
}

/// `200 {"ok": true}` while the store accepts writes; `503` with
/// `store_faulted` once an I/O fault stopped it (it needs a restart).
async fn health(State(state): State<ServerState>) -> Response {
    if state.metrics.store_faults() > 0 {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_faulted",
            "the store stopped after an I/O fault and refuses writes; reads show durable state only; restart the server once the disk is fixed".to_owned(),
        );
    }
    Json(json!({ "ok": true })).into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

async fn metrics(State(state): State<ServerState>) -> Response {
    let waiting = state
        .jobs
        .max_capacity()
        .saturating_sub(state.jobs.capacity());
    state.metrics.set_queue_depth(waiting);
    match state.metrics.encode() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "metrics_unavailable",
            "the metrics could not be encoded",
        ),
    }
}

/// The HTTP status that fits an engine refusal code.
fn status_of(code: &str) -> StatusCode {
    match code {
        "not_administrator" | "not_representative" => StatusCode::FORBIDDEN,
        c if c.starts_with("unknown_") => StatusCode::NOT_FOUND,
        "time_went_backwards"
        | "participant_exists"
        | "account_exists"
        | "not_pending"
        | "already_approved" => StatusCode::CONFLICT,
        // The idempotency draft's answer to a key reused with another payload.
        ets_engine::REQUEST_ID_REUSED => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// The `Idempotency-Key` header, when present, must be the body's
/// `request_id` in decimal; the engine already answers a repeated request id
/// with its first outcome. Gives the refusal to send, if any.
fn check_idempotency_key(headers: &HeaderMap, request_id: u64) -> Option<Response> {
    let value = headers.get("idempotency-key")?;
    let text = value.to_str().unwrap_or("");
    // Digits only: `parse` alone would also take a leading `+`.
    let decimal = !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    match text.parse::<u64>() {
        Ok(key) if decimal && key == request_id => None,
        _ => Some(error(
            StatusCode::BAD_REQUEST,
            "idempotency_key_mismatch",
            format!(
                "the Idempotency-Key header must be the request_id {request_id} in decimal; it is {:?}",
                String::from_utf8_lossy(value.as_bytes())
            ),
        )),
    }
}

/// The checks between the authenticated user and the command they send.
/// Gives the refusal to send, if any.
fn authorise(principal: &Principal, request: &ApiRequest) -> Option<Response> {
    refusal(principal, request).map(|(status, code, message)| error(status, code, message))
}

/// The status, code and message of the refusal of `request` by `principal`, if any.
fn refusal(
    principal: &Principal,
    request: &ApiRequest,
) -> Option<(StatusCode, &'static str, String)> {
    if request.requester != principal.participant {
        return Some((
            StatusCode::FORBIDDEN,
            "requester_mismatch",
            format!(
                "user {} acts as participant {}, not as the requester {}",
                principal.name, principal.participant, request.requester
            ),
        ));
    }
    let name = request.command.name();
    if ADMINISTRATOR_COMMANDS.contains(&name) && principal.role != Role::Administrator {
        return Some((
            StatusCode::FORBIDDEN,
            "role_forbids",
            format!(
                "{name} needs the role administrator; user {} has the role {}",
                principal.name, principal.role
            ),
        ));
    }
    None
}

/// One line of a batch's answer: decided before the engine, or sent to it.
enum BatchLine {
    Decided(Value),
    Sent(RequestId),
}

/// `POST /api/commands/batch`: JSON lines in, one outcome per line out (a
/// JSON array, in order). Lines refused before the engine get their refusal
/// with the line number; the rest go to the sequencer as one job and are
/// answered once durable.
async fn commands_batch(
    State(state): State<ServerState>,
    Extension(principal): Extension<Principal>,
    body: String,
) -> Response {
    let mut lines = Vec::new();
    let mut submissions = Vec::new();
    for (index, line) in body.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if lines.len() == BATCH_COMMANDS_MAX {
            return error(
                StatusCode::BAD_REQUEST,
                "batch_too_large",
                format!("a batch holds at most {BATCH_COMMANDS_MAX} commands"),
            );
        }
        let number = index + 1;
        let request = match parse_request(line) {
            Ok(request) => request,
            Err(parse_error) => {
                lines.push(BatchLine::Decided(rejection_json(number, &parse_error)));
                continue;
            }
        };
        if let Some((_, code, message)) = refusal(&principal, &request) {
            lines.push(BatchLine::Decided(json!({
                "request_id": request.request_id.0,
                "line": number,
                "ok": false,
                "code": code,
                "message": message,
            })));
            continue;
        }
        lines.push(BatchLine::Sent(request.request_id));
        submissions.push(Submission {
            request_id: request.request_id,
            requester: request.requester,
            time: request.time,
            command: request.command,
        });
    }
    let mut replies = if submissions.is_empty() {
        Vec::new()
    } else {
        let (reply, answer) = oneshot::channel();
        if let Some(response) = enqueue(&state.jobs, Job::SubmitMany { submissions, reply }) {
            return response;
        }
        match answer.await {
            Ok(Ok(replies)) => replies,
            Ok(Err(fault)) => {
                return error(StatusCode::INTERNAL_SERVER_ERROR, "store_faulted", fault);
            }
            Err(_) => {
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "shutting_down",
                    "the server is shutting down",
                );
            }
        }
    }
    .into_iter();
    let outcomes: Vec<Value> = lines
        .into_iter()
        .map(|line| match line {
            BatchLine::Decided(value) => value,
            BatchLine::Sent(request_id) => match replies.next() {
                Some(reply) => reply_json(
                    request_id,
                    reply.sequence,
                    reply.time,
                    reply.duplicate,
                    &reply.outcome,
                ),
                None => json!({ "request_id": request_id.0, "ok": false, "code": "store_faulted", "message": "no reply" }),
            },
        })
        .collect();
    Json(Value::Array(outcomes)).into_response()
}

async fn command(
    State(state): State<ServerState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let request = match parse_request(&body) {
        Ok(request) => request,
        Err(parse_error) => {
            return error(
                StatusCode::BAD_REQUEST,
                parse_error.code,
                parse_error.message,
            );
        }
    };
    if let Some(response) = check_idempotency_key(&headers, request.request_id.0)
        .or_else(|| authorise(&principal, &request))
    {
        return response;
    }
    let jobs = &state.jobs;
    let (reply, answer) = oneshot::channel();
    let submission = Submission {
        request_id: request.request_id,
        requester: request.requester,
        time: request.time,
        command: request.command,
    };
    let submission = Box::new(submission);
    if let Some(response) = enqueue(jobs, Job::Submit { submission, reply }) {
        return response;
    }
    match answer.await {
        Ok(Ok(reply)) => {
            let status = match &reply.outcome {
                Outcome::Accepted(_) => StatusCode::OK,
                Outcome::Rejected(rejection) => status_of(&rejection.code),
            };
            let body = reply_json(
                request.request_id,
                reply.sequence,
                reply.time,
                reply.duplicate,
                &reply.outcome,
            );
            (status, Json(body)).into_response()
        }
        Ok(Err(fault)) => error(StatusCode::INTERNAL_SERVER_ERROR, "store_faulted", fault),
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down",
        ),
    }
}

async fn query(jobs: &mpsc::Sender<Job>, query: Query, what: String) -> Response {
    let (reply, answer) = oneshot::channel();
    if let Some(response) = enqueue(jobs, Job::Query { query, reply }) {
        return response;
    }
    match answer.await {
        Ok(Some(view)) => Json(view).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} does not exist"),
        ),
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down",
        ),
    }
}

async fn account(State(state): State<ServerState>, Path(id): Path<u64>) -> Response {
    query(
        &state.jobs,
        Query::Account(AccountId(id)),
        format!("account {id}"),
    )
    .await
}

async fn transaction(State(state): State<ServerState>, Path(id): Path<u64>) -> Response {
    query(
        &state.jobs,
        Query::Transaction(TransactionId(id)),
        format!("transaction {id}"),
    )
    .await
}

async fn serial(State(state): State<ServerState>, Path(serial): Path<u64>) -> Response {
    query(
        &state.jobs,
        Query::Serial(serial),
        format!("serial {serial}"),
    )
    .await
}

async fn participant(State(state): State<ServerState>, Path(id): Path<u64>) -> Response {
    query(
        &state.jobs,
        Query::Participant(ParticipantId(id)),
        format!("participant {id}"),
    )
    .await
}
