//! The HTTP/JSON server: requests from all connections enter one bounded
//! queue; a single sequencer thread owns the store, takes jobs in batches,
//! applies them, makes each batch durable with one fsync and only then
//! replies. A full queue answers 503 with `Retry-After` (back-pressure, never
//! unbounded memory). Queries run on the same thread, so a client always reads
//! its own acknowledged writes.
//!
//! Every `/api/*` route but the OpenAPI document needs a user from the
//! store's `users.json` (Bearer token or HTTP Basic); a command's `requester`
//! must be the user's participant, and the engine then checks what that
//! participant may do. `/healthz`, `/metrics` (Prometheus) and
//! `/api/openapi.json` are public. The API is described in `docs/api.md`.
//!
//! The web UI (HTML pages under `/ui`, sessions, CSRF) is the `ui` module,
//! described in `docs/web-ui.md`.
//!
//! **Not yet:** TLS (put a TLS-terminating proxy in front, or bind to
//! loopback only), rate limiting of failed logins.

mod auth;
mod http;
mod metrics;
mod sequencer;
mod ui;
mod users;

pub use auth::{ARGON2_CONCURRENT_MAX, UserDirectory};
pub use http::{
    ADMINISTRATOR_COMMANDS, Access, BODY_MAX_BYTES, OPENAPI_JSON, Route, ServerState, Verb, router,
    routes,
};
pub use metrics::Metrics;
pub use sequencer::{Job, Query, Sequencer, SequencerConfig};
pub use users::{
    AuthError, NAME_MAX_BYTES, PASSWORD_MAX_BYTES, PASSWORD_MIN_CHARS, Principal, Role,
    TOKENS_PER_USER_MAX, USERS_FILE_NAME, USERS_FILE_VERSION, USERS_MAX, UnknownRole, Users,
    UsersError, users_path,
};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

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
    /// The users file could not be loaded.
    #[error("cannot load the users of {path}: {source}")]
    Users {
        /// The store directory.
        path: PathBuf,
        /// Why.
        source: UsersError,
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

/// Opens the store and its users file, binds the address, calls `on_listening` with the bound
/// address (useful with port 0), and serves until `shutdown` completes; then
/// the sequencer finishes the jobs already queued and the store is closed.
///
/// # Errors
/// [`ServerError`] when the store or its users file cannot be opened or the
/// address bound.
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
    let users = UserDirectory::open(&config.data).map_err(|source| ServerError::Users {
        path: config.data.clone(),
        source,
    })?;
    let metrics = Arc::new(Metrics::new());
    let sequencer =
        Sequencer::start(store, config.sequencer, Arc::clone(&metrics)).map_err(|source| {
            ServerError::Io {
                address: config.listen,
                source,
            }
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
    let state = ServerState {
        jobs: sequencer.handle(),
        users: Arc::new(users),
        metrics,
    };
    let served = axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await;
    sequencer.stop();
    served.map_err(|source| ServerError::Io { address, source })
}
