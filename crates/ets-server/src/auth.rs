//! Authentication of API requests: the `Authorization` header (Bearer token or
//! HTTP Basic) checked against the store's users file, and the middleware that
//! guards every `/api/*` route but the OpenAPI document.
//!
//! The server notices a rewritten `users.json` by comparing the file's size,
//! time and inode with those of the copy in memory, and reloads it when they
//! differ. A request whose token was verified before (the busy path: one
//! command per request) checks the file only when the last check is
//! [`USERS_CHECK_INTERVAL`] old or older, so a revoked token or a removed
//! user is refused within that bound rather than a `stat` per request; any
//! other request (a sign-in, HTTP Basic, a token not verified yet, a web
//! session's user) checks it first, so users added and tokens issued take
//! effect at once. A file that no longer loads makes every request fail
//! with 401 (fail closed), within the same bound, until it is fixed.
//! Argon2 verifications are slow and memory-hungry (19 MiB each), so at
//! most [`ARGON2_CONCURRENT_MAX`] run at once. Repeated failures of a user
//! or from an address are refused for a while (`throttle`).

pub mod throttle;

use crate::http::{ServerState, error};
use crate::users::{AuthError, Principal, Users, UsersLocation, users_path};
use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::Semaphore;

/// The most argon2 verifications that run at the same time; more wait.
pub const ARGON2_CONCURRENT_MAX: usize = 2;

/// The longest a request with a token verified before is answered from the
/// users file as last checked: a token revoked or a user removed from
/// `users.json` is refused at the latest by the first request this long
/// after the file was rewritten. (Measured in docs/benchmarks.md, "HTTP":
/// the check was a `stat` per request, about 6% of the workers' time.)
pub const USERS_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// What identifies `users.json` on disk; a change means it was rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileStamp {
    Missing,
    Present {
        size_bytes: u64,
        modified: Option<SystemTime>,
        inode: u64,
    },
    /// After a failed load: equal to no stamp read from disk, so the next
    /// request tries again.
    Failed,
}

struct Loaded {
    users: Arc<Users>,
    stamp: FileStamp,
    /// When the stamp was last read from disk (`None`: never by a request).
    checked: Option<Instant>,
}

impl Loaded {
    /// Whether a request at `now` may use these users without reading the
    /// file's stamp: checked less than `reuse_within` before `now`, and
    /// loaded (a failed load is tried again at every request).
    fn fresh_at(&self, now: Instant, reuse_within: Duration) -> bool {
        self.stamp != FileStamp::Failed
            && self
                .checked
                .is_some_and(|checked| now.saturating_duration_since(checked) < reuse_within)
    }
}

/// The users file of a running server, reloaded when it changes on disk.
pub struct UserDirectory {
    location: UsersLocation,
    loaded: Arc<Mutex<Loaded>>,
    argon2_permits: Semaphore,
}

impl std::fmt::Debug for UserDirectory {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("UserDirectory")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// What a request presented in its `Authorization` header (a token
/// borrowed from it: most requests are answered from the verified tokens'
/// cache, and copy nothing).
enum Credentials<'a> {
    Token(&'a str),
    Basic { name: String, password: String },
}

impl UserDirectory {
    /// Loads the users file of the store directory `dir` (no file: no users).
    ///
    /// # Errors
    /// The errors of [`Users::load`], so that a server does not start with a
    /// users file it cannot read.
    pub fn open(dir: &Path) -> Result<UserDirectory, crate::users::UsersError> {
        UserDirectory::open_at(&UsersLocation::Directory(dir.to_path_buf()))
    }

    /// As [`UserDirectory::open`], wherever the users live. The users of a
    /// database store are checked for changes once a second by a thread of
    /// their own (a request never waits on the database for them).
    ///
    /// # Errors
    /// The errors of [`Users::load_at`].
    pub fn open_at(location: &UsersLocation) -> Result<UserDirectory, crate::users::UsersError> {
        let stamp = match location {
            UsersLocation::Directory(dir) => stamp_of(&users_path(dir)),
            UsersLocation::Database(_) => FileStamp::Missing,
        };
        let users = Users::load_at(location)?;
        let revision = users.revision();
        let loaded = Arc::new(Mutex::new(Loaded {
            users: Arc::new(users),
            stamp,
            checked: None,
        }));
        if let UsersLocation::Database(url) = location {
            watch_database(Arc::downgrade(&loaded), url.clone(), revision);
        }
        Ok(UserDirectory {
            location: location.clone(),
            loaded,
            argon2_permits: Semaphore::new(ARGON2_CONCURRENT_MAX),
        })
    }

    /// The users as stored now: a users file is reloaded when it changed;
    /// the database's are kept current by their watcher.
    fn current(&self) -> Arc<Users> {
        self.current_at(Instant::now(), Duration::ZERO)
    }

    /// The users for a request at `now`: those in memory when the file was
    /// checked less than `reuse_within` before (`Duration::ZERO`: never),
    /// else the file's stamp is read and the file reloaded when it changed.
    fn current_at(&self, now: Instant, reuse_within: Duration) -> Arc<Users> {
        let UsersLocation::Directory(dir) = &self.location else {
            let loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
            return Arc::clone(&loaded.users);
        };
        {
            let loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
            if loaded.fresh_at(now, reuse_within) {
                return Arc::clone(&loaded.users);
            }
        }
        let stamp = stamp_of(&users_path(dir));
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        if loaded.stamp == stamp && stamp != FileStamp::Failed {
            loaded.checked = Some(loaded.checked.map_or(now, |checked| checked.max(now)));
            return Arc::clone(&loaded.users);
        }
        match Users::load(dir) {
            Ok(users) => {
                tracing::info!(dir = %dir.display(), "users file reloaded");
                *loaded = Loaded {
                    users: Arc::new(users),
                    stamp,
                    checked: Some(now),
                };
            }
            Err(error) => {
                tracing::error!(%error, code = error.code(), "users file does not load; refusing every user until it does");
                loaded.users = Arc::new(Users::empty());
                loaded.stamp = FileStamp::Failed;
                loaded.checked = Some(now);
            }
        }
        Arc::clone(&loaded.users)
    }

    /// Checks the credentials; a token verified before is accepted without
    /// argon2 (from the users as checked within [`USERS_CHECK_INTERVAL`]),
    /// anything else is checked against the file as it is now and waits for
    /// one of the argon2 permits.
    async fn authenticate(&self, credentials: Credentials<'_>) -> Result<Principal, &'static str> {
        self.authenticate_at(credentials, Instant::now()).await
    }

    /// [`UserDirectory::authenticate`] for a request at `now` (a test's
    /// clock; the server's is `Instant::now()`).
    async fn authenticate_at(
        &self,
        credentials: Credentials<'_>,
        now: Instant,
    ) -> Result<Principal, &'static str> {
        if let Credentials::Token(token) = &credentials
            && let Some(principal) = self
                .current_at(now, USERS_CHECK_INTERVAL)
                .cached_token(token)
        {
            return Ok(principal);
        }
        let users = self.current_at(now, Duration::ZERO);
        // Never closed, so acquiring cannot fail; if it did, run unthrottled.
        let _permit = self.argon2_permits.acquire().await.ok();
        let checked = match credentials {
            Credentials::Token(token) => {
                let token = token.to_owned();
                tokio::task::spawn_blocking(move || users.authenticate_token(&token)).await
            }
            Credentials::Basic { name, password } => {
                tokio::task::spawn_blocking(move || users.authenticate_basic(&name, &password))
                    .await
            }
        };
        match checked {
            Ok(result) => result.map_err(|error: AuthError| error.code()),
            Err(_) => Err("verification_panicked"),
        }
    }
}

impl UserDirectory {
    /// Checks a name and password (the web UI's sign-in) like HTTP Basic:
    /// the same argon2 limit, one `&'static str` reason for the log.
    pub(crate) async fn authenticate_password(
        &self,
        name: String,
        password: String,
    ) -> Result<Principal, &'static str> {
        self.authenticate(Credentials::Basic { name, password })
            .await
    }

    /// The user named `name` as the users file says now, so that a web
    /// session follows a changed role and ends with a removed user.
    pub(crate) fn principal_named(&self, name: &str) -> Option<Principal> {
        self.current()
            .principals()
            .into_iter()
            .find(|principal| principal.name == name)
    }
}

/// Every second, while the directory lives, reloads the users of the
/// database at `url` when their revision moved. A document that no longer
/// loads refuses every user until it does (fail closed); a database that
/// does not answer keeps the users last read (the store cannot commit then
/// either) and is asked again.
fn watch_database(loaded: std::sync::Weak<Mutex<Loaded>>, url: String, mut revision: i64) {
    std::thread::spawn(move || {
        let mut client = None;
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
            let Some(loaded) = loaded.upgrade() else {
                return;
            };
            let now = match client.as_mut() {
                Some(open) => crate::users_db::revision(open, &url),
                None => crate::users_db::connect(&url).and_then(|mut open| {
                    let now = crate::users_db::revision(&mut open, &url);
                    client = Some(open);
                    now
                }),
            };
            let now = match now {
                Ok(now) => now,
                Err(error) => {
                    tracing::warn!(%error, "cannot check the users in the database; asking again");
                    client = None;
                    continue;
                }
            };
            if now == revision {
                continue;
            }
            let users = Users::load_at(&UsersLocation::Database(url.clone()));
            let mut loaded = loaded.lock().unwrap_or_else(PoisonError::into_inner);
            match users {
                Ok(users) => {
                    tracing::info!(
                        revision = users.revision(),
                        "users reloaded from the database"
                    );
                    revision = users.revision();
                    loaded.users = Arc::new(users);
                }
                Err(error) => {
                    tracing::error!(%error, code = error.code(), "the users in the database do not load; refusing every user until they do");
                    revision = now;
                    loaded.users = Arc::new(Users::empty());
                }
            }
        }
    });
}

fn stamp_of(path: &Path) -> FileStamp {
    match std::fs::metadata(path) {
        Ok(metadata) => FileStamp::Present {
            size_bytes: metadata.len(),
            modified: metadata.modified().ok(),
            inode: inode_of(&metadata),
        },
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => FileStamp::Missing,
        Err(_) => FileStamp::Failed,
    }
}

#[cfg(unix)]
fn inode_of(metadata: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    metadata.ino()
}

#[cfg(not(unix))]
fn inode_of(_metadata: &std::fs::Metadata) -> u64 {
    0
}

/// Reads the `Authorization` header: `Bearer <token>` or `Basic
/// <base64(name:password)>`, schemes in any case.
fn credentials_of(headers: &HeaderMap) -> Result<Credentials<'_>, &'static str> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or("no Authorization header")?
        .to_str()
        .map_err(|_| "the Authorization header is not ASCII")?;
    let (scheme, rest) = value
        .split_once(' ')
        .ok_or("the Authorization header has no scheme")?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(Credentials::Token(rest));
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err("the Authorization scheme is neither Bearer nor Basic");
    }
    let decoded = STANDARD
        .decode(rest)
        .map_err(|_| "the Basic credentials are not base64")?;
    let decoded = String::from_utf8(decoded).map_err(|_| "the Basic credentials are not UTF-8")?;
    let (name, password) = decoded
        .split_once(':')
        .ok_or("the Basic credentials have no ':'")?;
    Ok(Credentials::Basic {
        name: name.to_owned(),
        password: password.to_owned(),
    })
}

/// 401 with the challenges a client may answer (Basic only when the server
/// accepts it).
fn unauthenticated(state: &ServerState, message: &str) -> Response {
    let mut response = error(StatusCode::UNAUTHORIZED, "unauthenticated", message);
    let headers = response.headers_mut();
    headers.append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"openets\""),
    );
    if state.basic_auth {
        headers.append(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"openets\", charset=\"UTF-8\""),
        );
    }
    response
}

/// What every protected route checks (the router's middleware and the
/// direct command route both): authenticates the request and lets auditors
/// only read; the [`Principal`], or the answer to send instead.
pub(crate) async fn authenticate_request(
    state: &ServerState,
    request: &Parts,
) -> Result<Principal, Response> {
    let address = client_address(request);
    let credentials = match credentials_of(&request.headers) {
        Ok(credentials) => credentials,
        // No credentials at all is not an attempt (a browser's first request).
        Err(reason) if !request.headers.contains_key(header::AUTHORIZATION) => {
            return Err(unauthenticated(state, reason));
        }
        Err(reason) => {
            if let Err(throttled) = throttle::check(state, None, address) {
                return Err(throttled.response());
            }
            throttle::record_failure(state, None, address);
            return Err(unauthenticated(state, reason));
        }
    };
    if matches!(credentials, Credentials::Basic { .. }) && !state.basic_auth {
        return Err(unauthenticated(
            state,
            "HTTP Basic authentication is off on this server; send an API token (Bearer)",
        ));
    }
    let user = match &credentials {
        Credentials::Basic { name, .. } => Some(name.clone()),
        Credentials::Token(_) => None,
    };
    if let Err(throttled) = throttle::check(state, user.as_deref(), address) {
        tracing::info!(user = user.as_deref(), ?address, "sign-in throttled");
        return Err(throttled.response());
    }
    let principal = match state.users.authenticate(credentials).await {
        Ok(principal) => {
            throttle::record_success(state, user.as_deref(), address);
            principal
        }
        Err(code) => {
            tracing::info!(code, "authentication failed");
            throttle::record_failure(state, user.as_deref(), address);
            // One answer for every failure: a client cannot probe names.
            return Err(unauthenticated(state, "the credentials are not valid"));
        }
    };
    tracing::Span::current().record("user", principal.name.as_str());
    if let Err((refusal, wait)) = state.rate.spend_at(
        &principal.name,
        body_bytes(request),
        std::time::Instant::now(),
    ) {
        tracing::info!(user = %principal.name, "rate limited");
        return Err(crate::http::rate_limited(&refusal, wait));
    }
    let reads_only = matches!(request.method, Method::GET | Method::HEAD)
        || !crate::http::serves(&request.extensions, ets_api::Verb::Post);
    if !reads_only && let Some(message) = write_forbidden(&principal) {
        return Err(error(StatusCode::FORBIDDEN, "role_forbids", message));
    }
    Ok(principal)
}

/// Why `principal` may not write at all (`role_forbids`, 403), if its role
/// only reads: one rule for the JSON API and the web UI's forms.
pub(crate) fn write_forbidden(principal: &Principal) -> Option<String> {
    (!principal.role.may_write()).then(|| {
        format!(
            "user {} has the role {}, which may only read",
            principal.name, principal.role
        )
    })
}

/// What a request's body costs from its user's byte budget: its declared
/// length, or (a chunked body of unknown length) the most the route accepts.
fn body_bytes(request: &Parts) -> u64 {
    let declared = request
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<u64>().ok());
    match declared {
        Some(length) => length,
        None if request.method == Method::GET || request.method == Method::HEAD => 0,
        None if request.uri.path().ends_with("/batch") => crate::http::BATCH_BODY_MAX_BYTES as u64,
        None => crate::http::BODY_MAX_BYTES as u64,
    }
}

/// The client's IP address, when the server was started with connection info.
pub(crate) fn client_address(request: &Parts) -> Option<IpAddr> {
    request
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;
    use ets_model::ParticipantId;

    const PASSWORD: &str = "a password long enough";

    /// A users file with one administrator, a token of theirs, the
    /// directory serving it and a runtime to run its checks on.
    struct Fixture {
        dir: tempfile::TempDir,
        token: String,
        directory: UserDirectory,
        runtime: tokio::runtime::Runtime,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let admin = ParticipantId(1);
        Users::add_user(dir.path(), "admin", PASSWORD, admin, Role::Administrator).expect("a user");
        let token = Users::issue_token(dir.path(), "admin").expect("a token");
        let directory = UserDirectory::open(dir.path()).expect("the users");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        Fixture {
            dir,
            token,
            directory,
            runtime,
        }
    }

    /// Goal: the users file's check interval, on an injected clock. A token
    /// verified before and then revoked is still answered from memory by a
    /// request less than [`USERS_CHECK_INTERVAL`] after the last check, and
    /// refused by the first request at the interval; a token issued after
    /// the last check is accepted at once (a token not verified yet always
    /// makes the request read the file).
    #[test]
    fn a_revoked_token_is_refused_within_the_check_interval_and_a_new_one_at_once() {
        let Fixture {
            dir,
            token: old,
            directory,
            runtime,
        } = fixture();
        let start = Instant::now();
        let at = |millis: u64| start + Duration::from_millis(millis);
        let interval_millis = u64::try_from(USERS_CHECK_INTERVAL.as_millis()).expect("small");
        let name_of = |result: Result<Principal, &'static str>| result.map(|p| p.name);
        runtime.block_on(async {
            let first = directory.authenticate_at(Credentials::Token(&old), at(0));
            assert_eq!(name_of(first.await), Ok("admin".to_owned()));
            Users::revoke_token(dir.path(), &old[4..12]).expect("revoked");
            let within =
                directory.authenticate_at(Credentials::Token(&old), at(interval_millis - 1));
            assert_eq!(
                name_of(within.await),
                Ok("admin".to_owned()),
                "inside the bound the users in memory answer"
            );
            let at_bound = directory.authenticate_at(Credentials::Token(&old), at(interval_millis));
            assert_eq!(name_of(at_bound.await), Err("unknown_token"));
            let fresh = Users::issue_token(dir.path(), "admin").expect("a second token");
            let at_once =
                directory.authenticate_at(Credentials::Token(&fresh), at(interval_millis + 1));
            assert_eq!(name_of(at_once.await), Ok("admin".to_owned()));
        });
    }

    /// Goal: a users file that no longer loads refuses even a token verified
    /// before, at the first request after the check interval (fail closed).
    #[test]
    fn a_broken_users_file_refuses_a_verified_token_after_the_check_interval() {
        let Fixture {
            dir,
            token,
            directory,
            runtime,
        } = fixture();
        let start = Instant::now();
        runtime.block_on(async {
            let first = directory.authenticate_at(Credentials::Token(&token), start);
            assert!(first.await.is_ok());
            std::fs::write(users_path(dir.path()), "{ not the users file").expect("written");
            let later =
                directory.authenticate_at(Credentials::Token(&token), start + USERS_CHECK_INTERVAL);
            assert_eq!(later.await.map(|p| p.name), Err("unknown_token"));
        });
    }
}
