//! The pages' reads of the history database (ets-history): one connection
//! for queries, opened on first use where the store's history is, and used
//! off the async threads. A read first waits for the sequencer to pass the
//! writes queued before it, so a page shows every acknowledged write.

use super::{UiState, read_store};
use axum::http::StatusCode;
use axum::response::Response;
use ets_history::{Backend, HistoryError, Location};
use std::sync::{Arc, Mutex, PoisonError};

/// The connection, opened once.
#[derive(Default)]
pub(crate) struct HistoryReader {
    connection: Mutex<Option<Box<dyn Backend>>>,
}

/// Runs `query` on the history after the writes queued before it.
pub(crate) async fn query<T, F>(state: &UiState, query: F) -> Result<T, Response>
where
    T: Send + 'static,
    F: FnOnce(&mut dyn Backend) -> Result<T, HistoryError> + Send + 'static,
{
    let location = read_store(state, |store| Location::of(store.journal())).await?;
    let Some(location) = location else {
        return Err(unavailable("the store has no history database"));
    };
    let reader = Arc::clone(&state.history);
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
        let answer = query(backend);
        if answer.is_err() {
            // Open afresh next time: the database may have been rebuilt or restarted.
            *connection = None;
        }
        answer
    })
    .await
    .map_err(|_| unavailable("the history query stopped"))?;
    answer.map_err(|error| unavailable(&error.to_string()))
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
