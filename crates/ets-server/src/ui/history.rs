//! The pages' reads of the history database (ets-history), through the
//! server's shared reader (`crate::history_reads`): a read first waits for
//! the sequencer to pass the writes queued before it, so a page shows every
//! acknowledged write.

use super::UiState;
use crate::history_reads::{ReadFailure, query_history};
use axum::http::StatusCode;
use axum::response::Response;
use ets_history::{Backend, HistoryError};

pub(crate) use crate::history_reads::HistoryReader;

/// Runs `query` on the history after the writes queued before it.
pub(crate) async fn query<T, F>(state: &UiState, query: F) -> Result<T, Response>
where
    T: Send + 'static,
    F: FnOnce(&mut dyn Backend) -> Result<T, HistoryError> + Send + 'static,
{
    query_history(&state.server.jobs, &state.history, query)
        .await
        .map_err(|failure| match failure {
            ReadFailure::Refused(refusal) => super::problem(
                StatusCode::from_u16(refusal.code.http_status())
                    .unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
                None,
                refusal.code.as_str(),
                &refusal.message,
                "/ui",
            ),
            ReadFailure::Unavailable(message) => unavailable(&message),
        })
}

fn unavailable(message: &str) -> Response {
    tracing::error!(message, "history query failed");
    super::problem(
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        "history_unavailable",
        message,
        "/ui",
    )
}
