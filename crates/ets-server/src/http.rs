//! HTTP routes: commands in the JSON shape of `ets submit` (docs/commands.md),
//! queries, health, metrics and the OpenAPI document. Errors are JSON with a
//! stable `code` and a fitting status. Every `/api/*` route but the OpenAPI
//! document needs a user (see `auth`); every request gets one tracing span
//! and is counted in the metrics.

use crate::access::{self, ParticipantKinds};
use crate::auth::throttle::Throttle;
use crate::auth::{UserDirectory, authenticate_request};
use crate::clock::ServerClock;
use crate::history_reads;
use crate::metrics::Metrics;
use crate::rate::RateLimiter;
use crate::sequencer::{Fault, Job};
use crate::stream::{self, Streams};
use axum::extract::{DefaultBodyLimit, Extension, MatchedPath, Path, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use axum::{Json, Router};
use ets_api::route::{self, Audience, RouteSpec, Verb};
use ets_api::{
    Always, ApiError, ApiRequest, ErrorBody, HealthView, OutcomeLine, Principal, Refusal,
    RefusalCode, Role, Visibility, account_parties, account_view, authorise_read, compliance_view,
    market_view, parse_request, participant_view, reports_view, status_of_code,
};
use ets_engine::Outcome;
use ets_model::{AccountId, ParticipantId, RequestId};
use ets_store::{Reply, Store, Submission};
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

/// The OpenAPI 3.1 document of the API, served at `/api/openapi.json`:
/// generated once from the routes this server registers and the commands
/// and views `ets_api` declares.
#[must_use]
pub fn openapi_json() -> &'static str {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let routes = routes();
        serde_json::to_string_pretty(&ets_api::openapi::document(&routes)).unwrap_or_default()
    })
}

/// What the request handlers share, behind one [`Arc`]: axum clones the
/// state for every extractor and middleware of every request, and one
/// reference count costs less than one per field. Reads its fields through
/// [`std::ops::Deref`]; built from a [`Shared`].
#[derive(Clone)]
pub struct ServerState(Arc<Shared>);

impl std::ops::Deref for ServerState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl From<Shared> for ServerState {
    fn from(shared: Shared) -> ServerState {
        ServerState(Arc::new(shared))
    }
}

/// The fields of a [`ServerState`].
pub struct Shared {
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
    /// The kinds of the participants users act as, read once each.
    pub kinds: Arc<ParticipantKinds>,
    /// Whether the JSON API accepts HTTP Basic credentials.
    pub basic_auth: bool,
    /// Each user's request and byte budget.
    pub rate: Arc<RateLimiter>,
    /// The server's clock, for what reads take as now (the sequencer stamps with the same).
    pub clock: ServerClock,
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
        ServerState::from(Shared {
            jobs,
            users,
            metrics,
            throttle: Arc::new(Throttle::default()),
            streams: Streams::new(),
            https: false,
            kinds: Arc::default(),
            basic_auth: false,
            rate: Arc::default(),
            clock: ServerClock::wall(),
        })
    }
}

/// A registered route: its declaration in `ets_api::route`.
pub type Route = &'static RouteSpec;

fn method_filter(verb: Verb) -> MethodFilter {
    match verb {
        Verb::Get => MethodFilter::GET,
        Verb::Post => MethodFilter::POST,
    }
}

/// Builds the router and the list of its routes in one place, so the list
/// (which the OpenAPI test checks) cannot drift from what is served.
struct Table {
    public: Router<ServerState>,
    protected: Router<ServerState>,
    routes: Vec<Route>,
}

impl Table {
    fn add<H, T>(mut self, route: Route, handler: H) -> Table
    where
        H: Handler<T, ServerState>,
        T: 'static,
    {
        let method_router = on(method_filter(route.verb), handler);
        match route.audience {
            Audience::Public => self.public = self.public.route(route.path, method_router),
            Audience::User => self.protected = self.protected.route(route.path, method_router),
        }
        self.routes.push(route);
        self
    }
}

fn table() -> Table {
    // The API's one connection to the history database, opened on first use.
    let reader = Arc::new(history_reads::HistoryReader::default());
    let empty = Table {
        public: Router::new(),
        protected: Router::new(),
        routes: Vec::new(),
    };
    empty
        .add(&route::HEALTH, health)
        .add(&route::METRICS, metrics)
        .add(&route::OPENAPI, openapi)
        .add(&route::COMMAND, command)
        .add(
            &route::COMMAND_BATCH,
            commands_batch.layer(DefaultBodyLimit::max(BATCH_BODY_MAX_BYTES)),
        )
        .add(&route::ACCOUNT, account)
        .add(
            &route::TRANSACTION,
            history_reads::transaction.layer(Extension(Arc::clone(&reader))),
        )
        .add(
            &route::SERIAL,
            history_reads::serial.layer(Extension(Arc::clone(&reader))),
        )
        .add(&route::PARTICIPANT, participant)
        .add(&route::MARKET, market)
        .add(&route::COMPLIANCE, compliance)
        .add(&route::REPORTS, reports)
        .add(&route::MARKET_STREAM, stream::market)
        .add(&route::ACCOUNT_STREAM, stream::account)
        .add(
            &route::STATEMENT,
            history_reads::statement.layer(Extension(Arc::clone(&reader))),
        )
        .add(
            &route::TRANSACTIONS,
            history_reads::transactions_list.layer(Extension(Arc::clone(&reader))),
        )
        .add(
            &route::SEARCH,
            history_reads::search.layer(Extension(reader)),
        )
        .add(&route::INBOX, inbox)
        .add(&route::INBOX_STREAM, stream::inbox)
}

/// The routes this server registers, built once.
fn served_routes() -> &'static [Route] {
    static ROUTES: std::sync::OnceLock<Vec<Route>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(routes)
}

/// Whether the route a request matched (read from its `extensions`) is
/// served for `verb` (when it is not, the router answers `405` with
/// `Allow`, and the guards let it). A request the router did not match
/// (the direct command route, `front`) counts as served.
pub(crate) fn serves(extensions: &axum::http::Extensions, verb: Verb) -> bool {
    let Some(matched) = extensions.get::<MatchedPath>() else {
        return true;
    };
    served_routes()
        .iter()
        .any(|route| route.verb == verb && route.path == matched.as_str())
}

/// The route `request` matched, as the metrics label it: the API's own
/// static path when it is one of the API's routes (no allocation), else
/// the matched path (the web UI's) or `unmatched`.
fn route_label(request: &Request) -> std::borrow::Cow<'static, str> {
    let Some(matched) = request.extensions().get::<MatchedPath>() else {
        return std::borrow::Cow::Borrowed("unmatched");
    };
    let matched = matched.as_str();
    served_routes()
        .iter()
        .find(|route| route.path == matched)
        .map_or_else(
            || std::borrow::Cow::Owned(matched.to_owned()),
            |route| std::borrow::Cow::Borrowed(route.path),
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
    let protected = protected.route_layer(middleware::from_fn_with_state(
        state.clone(),
        guard_and_authenticate,
    ));
    public
        .merge(protected)
        .merge(crate::ui::router(state.clone()))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(DefaultBodyLimit::max(BODY_MAX_BYTES))
        .with_state(state)
}

/// One span per request (method, path, status, latency, user) and the
/// request metrics, under the route the router matched.
async fn observe(State(state): State<ServerState>, request: Request, next: Next) -> Response {
    let route = route_label(&request);
    observed(&state, route, request, |request| next.run(request)).await
}

/// Runs `answer` on `request` inside the request's span (method, path,
/// status, latency, user) and counts it in the metrics under `route`: the
/// router's `observe` and the direct command route (`front`) both.
pub(crate) async fn observed<F, Fut>(
    state: &ServerState,
    route: std::borrow::Cow<'static, str>,
    request: Request,
    answer: F,
) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let started = Instant::now();
    // Known methods only, so a client cannot grow the label set at will.
    let method = match *request.method() {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        _ => "other",
    };
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        status = tracing::field::Empty,
        latency_us = tracing::field::Empty,
        user = tracing::field::Empty,
    );
    let response = answer(request).instrument(span.clone()).await;
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
        .observe_request(route, method, status, latency);
    response
}

pub(crate) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let message = message.into();
    (status, Json(ErrorBody::new(code, &message))).into_response()
}

/// `429 rate_limited` with `Retry-After` in whole seconds (at least 1).
pub(crate) fn rate_limited(refusal: &Refusal, wait: std::time::Duration) -> Response {
    let mut response = refuse(refusal);
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// The response of a refusal: its code's status, `Retry-After` when the
/// queue is full.
pub(crate) fn refuse(refusal: &Refusal) -> Response {
    let status = StatusCode::from_u16(refusal.code.http_status())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, Json(ErrorBody::from(refusal))).into_response();
    if refusal.code == RefusalCode::QueueFull {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

fn queue_full() -> Response {
    refuse(&queue_full_refusal())
}

fn queue_full_refusal() -> Refusal {
    Refusal::new(
        RefusalCode::QueueFull,
        "the server is at capacity; retry after a second",
    )
}

fn shutting_down() -> Refusal {
    Refusal::new(RefusalCode::ShuttingDown, "the server is shutting down")
}

/// Runs `read` on the sequencer thread after the writes queued before it.
///
/// # Errors
/// `queue_full` or `shutting_down`.
pub(crate) async fn enqueue_read<T, F>(jobs: &mpsc::Sender<Job>, read: F) -> Result<T, Refusal>
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
    match jobs.try_send(job) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(_)) => return Err(queue_full_refusal()),
        Err(mpsc::error::TrySendError::Closed(_)) => return Err(shutting_down()),
    }
    answer
        .await
        .map_err(|_| shutting_down())?
        .ok_or_else(state_unknown)
}

/// The refusal of a read while a fault left the store without its durable
/// state (a database that is away): better no answer than an empty one.
pub(crate) fn state_unknown() -> Refusal {
    Refusal::new(
        RefusalCode::DatabaseUnavailable,
        "the store's durable state cannot be read while the database is unavailable; try again once /healthz answers 200",
    )
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

/// Whether a request's `Origin`, when it has one, is this server (scheme
/// `http` or `https` and the `Host` it was sent to). Browsers send `Origin`
/// with every cross-site POST, so a page of another site cannot use a
/// signed-in user's cookie or cached credentials here.
pub(crate) fn origin_allowed(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .unwrap_or("");
    let origin = origin.to_str().unwrap_or("");
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|authority| !host.is_empty() && authority == host)
}

/// Whether the request's `Content-Type` is JSON (`application/json`, or for
/// batches also JSON lines), parameters such as `charset` aside.
fn is_json(headers: &HeaderMap, lines: bool) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
        || (lines
            && (essence.eq_ignore_ascii_case("application/x-ndjson")
                || essence.eq_ignore_ascii_case("application/jsonl")))
}

/// The middleware of every protected route: the JSON POST guard
/// ([`json_post_refusal`]), then the user ([`crate::auth::authenticate_request`]),
/// handed to the handler as a request extension. One layer for both: each
/// layer costs the router a clone of the routes beneath it per request.
async fn guard_and_authenticate(
    State(state): State<ServerState>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(refused) = json_post_refusal(&request) {
        return refused;
    }
    let (mut parts, body) = request.into_parts();
    match authenticate_request(&state, &parts).await {
        Ok(principal) => {
            parts.extensions.insert(principal);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(refused) => refused,
    }
}

/// Every POST to the JSON API must say it is JSON and come from no other
/// site: a browser's cross-site form (`text/plain`, form-encoded) is refused
/// before its credentials are even looked at. The refusal, if any.
pub(crate) fn json_post_refusal(request: &Request) -> Option<Response> {
    if request.method() != Method::POST || !serves(request.extensions(), Verb::Post) {
        return None;
    }
    let headers = request.headers();
    if !origin_allowed(headers) {
        return Some(refuse(&Refusal::new(
            RefusalCode::CrossOrigin,
            "a request from another origin may not be sent to this API",
        )));
    }
    let lines = request.uri().path().ends_with("/batch");
    if !is_json(headers, lines) {
        return Some(refuse(&Refusal::new(
            RefusalCode::UnsupportedMediaType,
            "the body must be sent with Content-Type: application/json",
        )));
    }
    None
}

/// `200 {"ok": true}` while the store accepts writes; `503` while a fault
/// stops it: `store_faulted` (a file store: it needs a restart),
/// `database_unavailable` (a PostgreSQL store, which resumes by itself once
/// the database answers again) or `store_fenced` (another server took over).
async fn health(State(state): State<ServerState>) -> Response {
    if let Some(fault) = state.metrics.store_fault() {
        let advice = match fault.code {
            RefusalCode::StoreFaulted => {
                "the store stopped after an I/O fault and refuses writes; reads show durable state only; restart the server once the disk is fixed"
            }
            RefusalCode::StoreFenced => {
                "another server took over the database; this one never writes again: stop it"
            }
            _ => {
                "the database is unavailable; writes are refused and the server keeps retrying until it answers again"
            }
        };
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            fault.code.as_str(),
            format!("{advice} ({})", fault.message),
        );
    }
    Json(HealthView { ok: Always }).into_response()
}

/// The answer to a write whose batch failed, with the status of the fault's
/// code: `500 store_faulted` for a file store's I/O fault, `503` for a
/// database store's (`database_unavailable`, `store_fenced`).
pub(crate) fn fault_response(fault: Fault) -> Response {
    refuse(&Refusal::new(fault.code, fault.message))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], openapi_json()).into_response()
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

/// The HTTP status of an engine refusal code, from `ets_api`'s one table.
pub(crate) fn status_of(code: &str) -> StatusCode {
    StatusCode::from_u16(status_of_code(code)).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY)
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
        _ => Some(refuse(&Refusal::new(
            RefusalCode::IdempotencyKeyMismatch,
            format!(
                "the Idempotency-Key header must be the request_id {request_id} in decimal; it is {:?}",
                String::from_utf8_lossy(value.as_bytes())
            ),
        ))),
    }
}

/// A request body as text, refused in the API's JSON error shape when it is
/// longer than `limit` (`413 payload_too_large`) or not UTF-8
/// (`400 malformed_command`).
async fn text_body(body: axum::body::Body, limit: usize) -> Result<String, Response> {
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        refuse(&Refusal::new(
            RefusalCode::PayloadTooLarge,
            format!("the body is longer than {limit} bytes"),
        ))
    })?;
    // Takes the buffer over when the body is its only owner, else copies it.
    String::from_utf8(Vec::from(bytes)).map_err(|error| {
        refuse(&Refusal::new(
            RefusalCode::MalformedCommand,
            format!("the body is not UTF-8: {error}"),
        ))
    })
}

/// One line of a batch's answer: decided before the engine, or sent to it.
enum BatchLine {
    Decided(OutcomeLine),
    Sent(RequestId),
}

/// `POST /api/commands/batch`: JSON lines in, one outcome per line out (a
/// JSON array, in order). Lines refused before the engine get their refusal
/// with the line number; the rest go to the sequencer as one job and are
/// answered once durable.
async fn commands_batch(
    State(state): State<ServerState>,
    Extension(principal): Extension<Principal>,
    body: axum::body::Body,
) -> Response {
    let body = match text_body(body, BATCH_BODY_MAX_BYTES).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let kind = match access::participant_kind(&state, principal.participant).await {
        Ok(kind) => kind,
        Err(refusal) => return refuse(&refusal),
    };
    let (lines, submissions) = match batch_lines(&body, &principal, kind) {
        Ok(read) => read,
        Err(refusal) => return refuse(&refusal),
    };
    let replies = if submissions.is_empty() {
        Vec::new()
    } else {
        let (reply, answer) = oneshot::channel();
        let job = Job::SubmitMany {
            submissions,
            bytes: body.len(),
            reply,
        };
        match sequenced(&state, job, answer).await {
            Ok(replies) => replies,
            Err(response) => return response,
        }
    };
    Json(batch_outcomes(lines, replies)).into_response()
}

/// Reads a batch's lines (blank ones skipped): each either decided here (a
/// line the API cannot read or the principal may not send, refused with its
/// line number) or a submission for the engine. A batch of no command or of
/// more than [`BATCH_COMMANDS_MAX`] is refused whole.
fn batch_lines(
    body: &str,
    principal: &Principal,
    kind: Option<ets_registry::ParticipantKind>,
) -> Result<(Vec<BatchLine>, Vec<Submission>), Refusal> {
    let mut lines = Vec::new();
    let mut submissions = Vec::new();
    for (index, line) in body.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if lines.len() == BATCH_COMMANDS_MAX {
            return Err(Refusal::new(
                RefusalCode::BatchTooLarge,
                format!("a batch holds at most {BATCH_COMMANDS_MAX} commands"),
            ));
        }
        let number = index + 1;
        let request = match parse_request(line) {
            Ok(request) => request,
            Err(parse_error) => {
                lines.push(BatchLine::Decided(OutcomeLine::rejected(
                    number,
                    &parse_error,
                )));
                continue;
            }
        };
        if let Err(refusal) = access::check_command(principal, kind, &request) {
            let refused = ApiError {
                code: refusal.code.as_str(),
                message: refusal.message,
                request_id: Some(request.request_id.0),
            };
            lines.push(BatchLine::Decided(OutcomeLine::rejected(number, &refused)));
            continue;
        }
        lines.push(BatchLine::Sent(request.request_id));
        submissions.push(submission(request));
    }
    if lines.is_empty() {
        return Err(Refusal::new(
            RefusalCode::EmptyBatch,
            "the batch holds no command (one JSON command per line)",
        ));
    }
    Ok((lines, submissions))
}

/// A batch's answer: its lines in order, those sent to the engine answered
/// by `replies` (one per sent line, in order).
fn batch_outcomes(lines: Vec<BatchLine>, replies: Vec<Reply>) -> Vec<OutcomeLine> {
    let mut replies = replies.into_iter();
    let mut outcomes = Vec::with_capacity(lines.len());
    for line in lines {
        let outcome = match line {
            BatchLine::Decided(outcome) => outcome,
            BatchLine::Sent(request_id) => {
                // The sequencer answers every submission of a job, in order.
                let reply = replies.next();
                assert!(
                    reply.is_some(),
                    "the sequencer answered fewer commands than it was sent"
                );
                let Some(reply) = reply else { continue };
                OutcomeLine::reply(
                    request_id,
                    reply.sequence,
                    reply.time,
                    reply.duplicate,
                    &reply.outcome,
                )
            }
        };
        outcomes.push(outcome);
    }
    outcomes
}

/// The engine's submission of a request the API has read.
pub(crate) fn submission(request: ApiRequest) -> Submission {
    Submission {
        request_id: request.request_id,
        requester: request.requester,
        time: request.time,
        command: request.command,
    }
}

/// Queues `job` for the sequencer and waits for its `answer`, or the
/// response saying why there is none (a full queue, a fault, a server
/// shutting down).
async fn sequenced<T>(
    state: &ServerState,
    job: Job,
    answer: oneshot::Receiver<Result<T, Fault>>,
) -> Result<T, Response> {
    if let Some(response) = enqueue(&state.jobs, job) {
        return Err(response);
    }
    match answer.await {
        Ok(Ok(answered)) => Ok(answered),
        Ok(Err(fault)) => Err(fault_response(fault)),
        Err(_) => Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down",
        )),
    }
}

async fn command(
    State(state): State<ServerState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    answer_command(&state, principal, &headers, body).await
}

/// `POST /api/commands` once its user is known: one command, answered once
/// durable (the router's handler and the direct route, `front`, both).
pub(crate) async fn answer_command(
    state: &ServerState,
    principal: Principal,
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Response {
    let body = match text_body(body, BODY_MAX_BYTES).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let request = match parse_request(&body) {
        Ok(request) => request,
        Err(parse_error) => {
            return error(
                status_of(parse_error.code),
                parse_error.code,
                parse_error.message,
            );
        }
    };
    if let Some(response) = check_idempotency_key(headers, request.request_id.0) {
        return response;
    }
    if let Err(refusal) = access::authorise_command(state, &principal, &request).await {
        return refuse(&refusal);
    }
    let request_id = request.request_id;
    let (reply, answer) = oneshot::channel();
    let job = Job::Submit {
        submission: Box::new(submission(request)),
        bytes: body.len(),
        reply,
    };
    let reply = match sequenced(state, job, answer).await {
        Ok(reply) => reply,
        Err(response) => return response,
    };
    let status = match &reply.outcome {
        Outcome::Accepted(_) => StatusCode::OK,
        Outcome::Rejected(rejection) => status_of(&rejection.code),
    };
    let body = OutcomeLine::reply(
        request_id,
        reply.sequence,
        reply.time,
        reply.duplicate,
        &reply.outcome,
    );
    (status, Json(body)).into_response()
}

/// Reads a private view on the sequencer thread: `view` gives it (or `None`
/// when it does not exist) with its parties; the principal must be one of
/// them, an administrator or an auditor (`ets_api::Visibility::Parties`).
async fn private_view<V, F>(
    state: &ServerState,
    principal: Principal,
    what: String,
    view: F,
) -> Response
where
    V: serde::Serialize + Send + 'static,
    F: FnOnce(&ets_registry::Registry) -> Option<(V, Vec<ParticipantId>)> + Send + 'static,
{
    let found = enqueue_read(&state.jobs, move |store| view(store.engine().registry())).await;
    match found {
        Err(refusal) => refuse(&refusal),
        Ok(None) => not_found(&what),
        Ok(Some((view, parties))) => {
            match authorise_read(&principal, Visibility::Parties, &parties, &what) {
                Ok(()) => Json(view).into_response(),
                Err(refusal) => refuse(&refusal),
            }
        }
    }
}

pub(crate) fn not_found(what: &str) -> Response {
    refuse(&Refusal::new(
        RefusalCode::NotFound,
        format!("{what} does not exist"),
    ))
}

async fn account(
    State(state): State<ServerState>,
    Extension(principal): Extension<Principal>,
    Id(id): Id,
) -> Response {
    private_view(
        &state,
        principal,
        format!("account {id}"),
        move |registry| {
            let view = account_view(registry, AccountId(id)).ok()?;
            Some((view, account_parties(registry, AccountId(id))))
        },
    )
    .await
}

/// Participants are public (a name and a kind).
async fn participant(State(state): State<ServerState>, Id(id): Id) -> Response {
    let found = enqueue_read(&state.jobs, move |store| {
        participant_view(store.engine().registry(), ParticipantId(id)).ok()
    })
    .await;
    match found {
        Ok(Some(view)) => Json(view).into_response(),
        Ok(None) => not_found(&format!("participant {id}")),
        Err(refusal) => refuse(&refusal),
    }
}

/// A route's one path parameter: a whole number from 0 to 2^64 - 1. Anything
/// else is refused as `400 invalid_parameter` in the API's JSON error shape.
pub(crate) struct Id(pub(crate) u64);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Id {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Id, Response> {
        let text = match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(text)) => text,
            Err(rejection) => return Err(invalid_parameter(&rejection.body_text())),
        };
        whole_number(&text)
            .map(Id)
            .ok_or_else(|| invalid_parameter(&format!("{text:?}")))
    }
}

/// A path parameter as a whole number: decimal digits, or (as JSON Schema
/// counts integers) a float with no fractional part held exactly (`7.0`).
fn whole_number(text: &str) -> Option<u64> {
    if let Ok(whole) = text.parse::<u64>() {
        return Some(whole);
    }
    let float: f64 = text.parse().ok()?;
    let exact = float.fract() == 0.0 && (0.0..=ets_api::EXACT_FLOAT_INTEGER_MAX).contains(&float);
    // Exact: a whole number from 0 to 2^53.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    exact.then_some(float as u64)
}

fn invalid_parameter(what: &str) -> Response {
    refuse(&Refusal::new(
        RefusalCode::InvalidParameter,
        format!(
            "the path parameter must be a whole number from 0 to {}; it is {what}",
            u64::MAX
        ),
    ))
}

/// A public read of the engine's state, answered as JSON.
async fn public_read<V, F>(state: &ServerState, read: F) -> Response
where
    V: serde::Serialize + Send + 'static,
    F: FnOnce(&ets_engine::Engine) -> V + Send + 'static,
{
    match enqueue_read(&state.jobs, move |store| read(store.engine())).await {
        Ok(view) => Json(view).into_response(),
        Err(refusal) => refuse(&refusal),
    }
}

/// Market data: public.
async fn market(State(state): State<ServerState>) -> Response {
    public_read(&state, market_view).await
}

/// Compliance results: public.
async fn compliance(State(state): State<ServerState>) -> Response {
    public_read(&state, compliance_view).await
}

/// Emissions reports: for verifiers, the administrator and auditors.
async fn reports(
    State(state): State<ServerState>,
    Extension(principal): Extension<Principal>,
) -> Response {
    if !matches!(
        principal.role,
        Role::Verifier | Role::Administrator | Role::Auditor
    ) {
        return refuse(&Refusal::new(
            RefusalCode::RoleForbids,
            format!(
                "emissions reports are for verifiers, administrators and auditors; user {} has the role {}",
                principal.name, principal.role
            ),
        ));
    }
    public_read(&state, reports_view).await
}

/// The server's time for a read: its clock, never before the store's last stamp.
pub(crate) fn server_now(clock: ServerClock, store: &Store) -> ets_model::Timestamp {
    clock.now().max(store.clock())
}

/// What awaits the user's own participant (`ets_api::inbox`).
async fn inbox(
    State(state): State<ServerState>,
    Extension(principal): Extension<Principal>,
) -> Response {
    let participant = principal.participant;
    let clock = state.clock;
    let read = enqueue_read(&state.jobs, move |store| {
        ets_api::inbox(store.engine(), participant, server_now(clock, store))
    })
    .await;
    match read {
        Ok(view) => Json(view).into_response(),
        Err(refusal) => refuse(&refusal),
    }
}
