//! HTTP routes: commands in the JSON shape of `ets submit` (docs/commands.md),
//! queries, health. Errors are JSON with a stable `code` and a fitting status.

use crate::sequencer::{Job, Query};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ets_api::{parse_request, reply_json};
use ets_engine::Outcome;
use ets_model::{AccountId, ParticipantId, TransactionId};
use ets_store::Submission;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

/// The largest request body accepted, in bytes.
pub const BODY_MAX_BYTES: usize = 64 * 1024;

/// The routes, served by the sequencer behind `jobs`.
pub fn router(jobs: mpsc::Sender<Job>) -> Router {
    Router::new()
        .route("/healthz", get(health))
        .route("/api/commands", post(command))
        .route("/api/accounts/{id}", get(account))
        .route("/api/transactions/{id}", get(transaction))
        .route("/api/serials/{serial}", get(serial))
        .route("/api/participants/{id}", get(participant))
        .layer(DefaultBodyLimit::max(BODY_MAX_BYTES))
        .with_state(jobs)
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
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
fn enqueue(jobs: &mpsc::Sender<Job>, job: Job) -> Option<Response> {
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

async fn health() -> Json<Value> {
    Json(json!({ "ok": true }))
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
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

async fn command(State(jobs): State<mpsc::Sender<Job>>, body: String) -> Response {
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
    let (reply, answer) = oneshot::channel();
    let submission = Submission {
        request_id: request.request_id,
        requester: request.requester,
        time: request.time,
        command: request.command,
    };
    if let Some(response) = enqueue(&jobs, Job::Submit { submission, reply }) {
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

async fn account(State(jobs): State<mpsc::Sender<Job>>, Path(id): Path<u64>) -> Response {
    query(
        &jobs,
        Query::Account(AccountId(id)),
        format!("account {id}"),
    )
    .await
}

async fn transaction(State(jobs): State<mpsc::Sender<Job>>, Path(id): Path<u64>) -> Response {
    query(
        &jobs,
        Query::Transaction(TransactionId(id)),
        format!("transaction {id}"),
    )
    .await
}

async fn serial(State(jobs): State<mpsc::Sender<Job>>, Path(serial): Path<u64>) -> Response {
    query(&jobs, Query::Serial(serial), format!("serial {serial}")).await
}

async fn participant(State(jobs): State<mpsc::Sender<Job>>, Path(id): Path<u64>) -> Response {
    query(
        &jobs,
        Query::Participant(ParticipantId(id)),
        format!("participant {id}"),
    )
    .await
}
