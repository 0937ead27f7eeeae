//! The HTTP/JSON server: requests from all connections enter one bounded
//! queue; a single sequencer thread owns the store, takes jobs in batches,
//! applies them, makes each batch durable with one fsync and only then
//! replies. A full queue answers 503 with `Retry-After` (back-pressure, never
//! unbounded memory). Queries run on the same thread, so a client always reads
//! its own acknowledged writes.
//!
//! **Not yet:** authentication and roles (the `requester` in the body is
//! trusted, so bind to loopback only), the OpenAPI document, the web UI,
//! metrics and TLS. See the server issue.

mod http;
mod sequencer;

pub use http::router;
pub use sequencer::{Job, Query, Sequencer, SequencerConfig};

use std::net::SocketAddr;
use std::path::PathBuf;

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The store directory (created by `ets init`).
    pub data: PathBuf,
    /// Where to listen, e.g. `127.0.0.1:8080` (port 0 picks a free port).
    pub listen: SocketAddr,
    /// The sequencer's queue and batch limits.
    pub sequencer: SequencerConfig,
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The store could not be opened.
    #[error("cannot open the store in {path}: {source}")]
    Store {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: ets_store::StoreError,
    },
    /// The address could not be bound or the server failed.
    #[error("cannot serve on {address}: {source}")]
    Io {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Opens the store, binds the address, calls `on_listening` with the bound
/// address (useful with port 0), and serves until `shutdown` completes; then
/// the sequencer finishes the jobs already queued and the store is closed.
///
/// # Errors
/// [`ServerError`] when the store cannot be opened or the address bound.
pub async fn serve(
    config: ServerConfig,
    on_listening: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let store = ets_store::Store::open(&config.data, ets_store::StoreConfig::default()).map_err(
        |source| ServerError::Store {
            path: config.data.clone(),
            source,
        },
    )?;
    let sequencer =
        Sequencer::start(store, config.sequencer).map_err(|source| ServerError::Io {
            address: config.listen,
            source,
        })?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServerError::Io {
            address: config.listen,
            source,
        })?;
    let address = listener.local_addr().map_err(|source| ServerError::Io {
        address: config.listen,
        source,
    })?;
    on_listening(address);
    tracing::info!(%address, "serving");
    let served = axum::serve(listener, router(sequencer.handle()))
        .with_graceful_shutdown(shutdown)
        .await;
    sequencer.stop();
    served.map_err(|source| ServerError::Io { address, source })
}
