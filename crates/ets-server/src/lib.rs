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
//! Repeated failed sign-ins are throttled (`throttle`); the sequencer
//! publishes the events of each durable batch to Server-Sent Event streams
//! (`/api/stream/*`); with a certificate and key the server speaks HTTPS
//! (rustls), else plain HTTP. Time is the server's clock (`clock`): the
//! sequencer stamps commands with it and its timer publishes what time
//! alone changes (a deadline near) even when no command arrives.

mod access;
mod auth;
mod clock;
mod front;
mod history_reads;
mod http;
mod inbox_events;
mod listen;
mod metrics;
mod rate;
mod runtime;
mod sequencer;
mod stream;
mod ui;
mod users;
mod users_db;

pub use auth::throttle;

pub use access::ParticipantKinds;
pub use auth::{ARGON2_CONCURRENT_MAX, USERS_CHECK_INTERVAL, UserDirectory};
pub use clock::{ServerClock, TICK_DEFAULT, TICK_MIN};
pub use ets_api::route::{Audience, Verb};
pub use http::{
    BATCH_BODY_MAX_BYTES, BATCH_COMMANDS_MAX, BODY_MAX_BYTES, Route, ServerState, Shared,
    openapi_json, router, routes,
};
pub use listen::ConnectionLimits;
pub use metrics::Metrics;
pub use rate::{RateLimitConfig, RateLimiter};
pub use runtime::{RuntimeSettings, WORKER_THREADS_NAME, runtime};
pub use sequencer::{Job, Sequencer, SequencerConfig};
pub use stream::{EVENTS_BUFFERED, StreamEvent, Streams, Topic};
pub use users::{
    AuthError, NAME_MAX_BYTES, PASSWORD_MAX_BYTES, PASSWORD_MIN_CHARS, Principal, Role,
    TOKEN_LIFETIME_DEFAULT, TOKENS_PER_USER_MAX, USERS_FILE_NAME, USERS_FILE_VERSION, USERS_MAX,
    UnknownRole, Users, UsersError, UsersLocation, users_path,
};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The store directory (created by `ets init`), which holds the users
    /// file; for a database store ([`ServerConfig::database`]) only the
    /// directory of the users file.
    pub data: PathBuf,
    /// The PostgreSQL URL of a database store (docs/postgres.md); `None`
    /// for the embedded store in `data`.
    pub database: Option<String>,
    /// Where to listen, e.g. `127.0.0.1:8080` (port 0 picks a free port).
    pub listen: SocketAddr,
    /// The sequencer's queue and batch limits.
    pub sequencer: SequencerConfig,
    /// The certificate chain and private key (PEM files) to serve HTTPS with;
    /// `None` serves plain HTTP.
    pub tls: Option<TlsFiles>,
    /// When failed sign-ins are refused.
    pub throttle: throttle::ThrottleConfig,
    /// Whether the JSON API accepts HTTP Basic credentials (off by default:
    /// browsers cache them and send them with cross-site requests; programs
    /// use tokens). The web UI's sign-in form is not affected.
    pub basic_auth: bool,
    /// How fast each user may send requests and bytes.
    pub rate_limit: RateLimitConfig,
    /// Connection cap and deadlines for slow clients.
    pub connections: ConnectionLimits,
    /// Where the users live; `None`: the users file in `data`.
    pub users: Option<UsersLocation>,
}

impl ServerConfig {
    /// Plain HTTP on `listen` with the default limits.
    #[must_use]
    pub fn new(data: PathBuf, listen: SocketAddr) -> ServerConfig {
        ServerConfig {
            data,
            database: None,
            listen,
            sequencer: SequencerConfig::default(),
            tls: None,
            throttle: throttle::ThrottleConfig::default(),
            basic_auth: false,
            rate_limit: RateLimitConfig::default(),
            connections: ConnectionLimits::default(),
            users: None,
        }
    }
}

/// The PEM files of a TLS server.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The store could not be opened.
    #[error("cannot open the store in {location}: {source}")]
    Store {
        /// The directory, or the database URL without its password.
        location: String,
        /// Why.
        source: ets_store::StoreError,
    },
    /// The history database beside the journal could not be brought up to it.
    #[error("cannot open the history of {location}: {source}")]
    History {
        /// The store directory, or the database URL without its password.
        location: String,
        /// Why.
        source: ets_history::HistoryError,
    },
    /// The users file could not be loaded.
    #[error("cannot load the users of {path}: {source}")]
    Users {
        /// The store directory.
        path: PathBuf,
        /// Why.
        source: UsersError,
    },
    /// The certificate or key could not be loaded.
    #[error("cannot load the TLS certificate {cert} and key {key}: {source}")]
    Tls {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// Why.
        source: std::io::Error,
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

/// The response header naming the store's kind on every answer (`live`,
/// `virtual` or `import`), so that no answer of a store that is not live passes for live.
pub const STORE_KIND_HEADER: &str = "ets-store-kind";

/// Opens the store at `location` as its one writer and brings its history up to the journal.
fn open_store(location: &ets_store::StoreLocation) -> Result<ets_store::Store, ServerError> {
    let mut store = ets_store::Store::open_at(location, ets_store::StoreConfig::default())
        .map_err(|source| ServerError::Store {
            location: location.to_string(),
            source,
        })?;
    ets_history::attach(&mut store).map_err(|source| ServerError::History {
        location: location.to_string(),
        source,
    })?;
    Ok(store)
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
    let users = open_users(&config).await?;
    let tls = tls_config(config.tls.as_ref()).await?;
    let store = open_store_off_runtime(&config).await?;
    let kind = store.kind();
    let metrics = Arc::new(Metrics::new());
    let streams = Streams::new();
    let sequencer = Sequencer::start(
        store,
        config.sequencer,
        Arc::clone(&metrics),
        streams.clone(),
    )
    .map_err(|source| ServerError::Io {
        address: config.listen,
        source,
    })?;
    let (listener, address) = bind(config.listen).await?;
    let state = ServerState::from(Shared {
        jobs: sequencer.handle(),
        users: Arc::new(users),
        metrics,
        throttle: Arc::new(throttle::Throttle::new(config.throttle)),
        streams: streams.clone(),
        https: tls.is_some(),
        kinds: Arc::default(),
        basic_auth: config.basic_auth,
        rate: Arc::new(RateLimiter::new(config.rate_limit)),
        clock: config.sequencer.clock,
    });
    let limits = config.connections;
    let front = front::Front::new(router(state.clone()), state, kind, limits.body_timeout);
    // Open streams never end on their own: close them when shutdown begins.
    let shutdown = async move {
        shutdown.await;
        streams.close();
    };
    on_listening(address);
    tracing::info!(
        %address,
        "serving {}",
        if tls.is_some() { "HTTPS" } else { "HTTP" }
    );
    // One accept loop for both: the same connection cap and deadlines.
    let served = listen::serve(listener, front, limits, tls, shutdown).await;
    sequencer.stop();
    served.map_err(|source| ServerError::Io { address, source })
}

/// Opens the users file (or table) of `config`: off this runtime, since the
/// users of a database store are read with a blocking client.
async fn open_users(config: &ServerConfig) -> Result<UserDirectory, ServerError> {
    let users_at = config
        .users
        .clone()
        .unwrap_or_else(|| UsersLocation::Directory(config.data.clone()));
    tokio::task::spawn_blocking(move || UserDirectory::open_at(&users_at))
        .await
        .unwrap_or_else(|panicked| std::panic::resume_unwind(panicked.into_panic()))
        .map_err(|source| ServerError::Users {
            path: config.data.clone(),
            source,
        })
}

/// The TLS configuration of the certificate and key `files`, when the server
/// serves HTTPS.
async fn tls_config(
    files: Option<&TlsFiles>,
) -> Result<Option<axum_server::tls_rustls::RustlsConfig>, ServerError> {
    let Some(files) = files else {
        return Ok(None);
    };
    axum_server::tls_rustls::RustlsConfig::from_pem_file(&files.cert, &files.key)
        .await
        .map(Some)
        .map_err(|source| ServerError::Tls {
            cert: files.cert.clone(),
            key: files.key.clone(),
            source,
        })
}

/// Opens the store of `config` (its database, or else its data directory).
/// The database client blocks (it runs its own runtime): it is opened off
/// this runtime's threads, last, so that no early return drops it here.
async fn open_store_off_runtime(config: &ServerConfig) -> Result<ets_store::Store, ServerError> {
    let location = match &config.database {
        Some(url) => ets_store::StoreLocation::Database(url.clone()),
        None => ets_store::StoreLocation::Directory(config.data.clone()),
    };
    tokio::task::spawn_blocking(move || open_store(&location))
        .await
        .unwrap_or_else(|panicked| std::panic::resume_unwind(panicked.into_panic()))
}

/// Binds `listen`, with the address bound (the port chosen when `listen`'s is 0).
async fn bind(listen: SocketAddr) -> Result<(tokio::net::TcpListener, SocketAddr), ServerError> {
    let io = |source| ServerError::Io {
        address: listen,
        source,
    };
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(io)?;
    let address = listener.local_addr().map_err(io)?;
    Ok((listener, address))
}
