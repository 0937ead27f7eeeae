//! The service every connection runs, in front of the router: the client's
//! address as `ConnectInfo`, the body deadline of every POST
//! (`listen::collect_body`), the store kind's header on every answer
//! ([`crate::STORE_KIND_HEADER`]), and between them either the router or,
//! for `POST /api/commands`, the direct route.
//!
//! **Why a direct route.** One command per request is the API's busiest
//! call, and a profile of `ets bench http` (docs/benchmarks.md, "HTTP")
//! found the router's layers to be the largest share of a worker's time per
//! request: each layer clones every layer beneath it for every request
//! (boxed services and boxed futures, malloc and free). The direct route
//! calls the same functions the router's middlewares and handler call, in
//! the same order: the span and metrics (`http::observed`), the JSON POST
//! guard (`http::json_post_refusal`), the user
//! (`auth::authenticate_request`), the command (`http::answer_command`).
//! So its answers are the router's, byte for byte but the `date` header
//! (a test compares both ways request by request).

use crate::http::{self, ServerState};
use crate::{STORE_KIND_HEADER, auth, listen};
use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, Method, header};
use axum::response::Response;
use ets_api::route;
use futures_util::future::{BoxFuture, FutureExt as _};
use hyper_util::service::TowerToHyperService;
use std::borrow::Cow;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

/// The router and what wraps it, shared by every connection.
#[derive(Clone)]
pub(crate) struct Front {
    router: TowerToHyperService<Router>,
    state: ServerState,
    kind: ets_store::StoreKind,
    body_timeout: Duration,
    /// Whether `POST /api/commands` takes the direct route (off only to
    /// compare it with the router's in a test).
    direct: bool,
}

impl Front {
    /// `router` (built from `state` by [`http::router`]) behind the body
    /// deadline and the store kind's header, with the direct command route.
    pub(crate) fn new(
        router: Router,
        state: ServerState,
        kind: ets_store::StoreKind,
        body_timeout: Duration,
    ) -> Front {
        Front {
            router: TowerToHyperService::new(router),
            state,
            kind,
            body_timeout,
            direct: true,
        }
    }

    /// The service of one connection from `peer`.
    pub(crate) fn connection(&self, peer: SocketAddr) -> Connection {
        Connection {
            front: self.clone(),
            peer,
        }
    }

    /// The answer to `request`: the body read within its deadline, then the
    /// direct route or the router, then the store kind's header.
    pub(crate) async fn answer(self, request: Request) -> Response {
        let mut response = match listen::collect_body(self.body_timeout, request).await {
            Ok(request) if self.direct && is_command_post(&request) => {
                direct_command(&self.state, request).await
            }
            Ok(request) => match hyper::service::Service::call(&self.router, request).await {
                Ok(response) => response,
                Err(never) => match never {},
            },
            Err(refused) => refused,
        };
        response.headers_mut().insert(
            STORE_KIND_HEADER,
            HeaderValue::from_static(self.kind.name()),
        );
        response
    }
}

/// Whether `request` is `POST /api/commands` (the path as the router
/// matches it: exact, any query aside).
fn is_command_post(request: &Request) -> bool {
    request.method() == Method::POST && request.uri().path() == route::COMMAND.path
}

/// `POST /api/commands` without the router: the router's layers for this
/// route, in their order, as plain calls.
async fn direct_command(state: &ServerState, request: Request) -> Response {
    let route = Cow::Borrowed(route::COMMAND.path);
    let mut response = http::observed(state, route, request, |request| async move {
        if let Some(refused) = http::json_post_refusal(&request) {
            return refused;
        }
        let (parts, body) = request.into_parts();
        let principal = match auth::authenticate_request(state, &parts).await {
            Ok(principal) => principal,
            Err(refused) => return refused,
        };
        http::answer_command(state, principal, &parts.headers, body).await
    })
    .await;
    declare_length(&mut response);
    response
}

/// Sets `content-length` when the body's size is known and the header is
/// missing, as the router does for every answer of a route.
fn declare_length(response: &mut Response) {
    if response.headers().contains_key(header::CONTENT_LENGTH) {
        return;
    }
    if let Some(size) = axum::body::HttpBody::size_hint(response.body()).exact() {
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    }
}

/// The service of one connection: its peer's address goes with every request.
#[derive(Clone)]
pub(crate) struct Connection {
    front: Front,
    peer: SocketAddr,
}

impl hyper::service::Service<hyper::Request<hyper::body::Incoming>> for Connection {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn call(&self, request: hyper::Request<hyper::body::Incoming>) -> Self::Future {
        let mut request = request.map(axum::body::Body::new);
        request.extensions_mut().insert(ConnectInfo(self.peer));
        self.front.clone().answer(request).map(Ok).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Metrics, Role, Sequencer, SequencerConfig, Streams, UserDirectory, Users};
    use axum::body::Body;
    use ets_model::ParticipantId;
    use std::sync::Arc;

    const PASSWORD: &str = "a password long enough";

    /// A server's front on a fresh store, with an administrator, an auditor
    /// and an exchange member, and their tokens.
    struct Fixture {
        front: Front,
        state: ServerState,
        tokens: std::collections::HashMap<&'static str, String>,
        /// Left running: stopping it would wait for every handle of its
        /// queue, which the front and state hold.
        _sequencer: Sequencer,
        _dir: tempfile::TempDir,
    }

    fn fixture(direct: bool) -> Fixture {
        let dir = tempfile::tempdir().expect("temporary directory");
        let data = dir.path().join("store");
        let store = ets_store::Store::create(&data, ets_store::StoreConfig::default())
            .expect("a new store");
        let users = [
            ("admin", 1, Role::Administrator),
            ("auditor", 1, Role::Auditor),
            ("member", 2, Role::ExchangeMember),
        ];
        let mut tokens = std::collections::HashMap::new();
        for (name, participant, role) in users {
            Users::add_user(&data, name, PASSWORD, ParticipantId(participant), role)
                .expect("a user");
            tokens.insert(name, Users::issue_token(&data, name).expect("a token"));
        }
        let metrics = Arc::new(Metrics::new());
        let sequencer = Sequencer::start(
            store,
            SequencerConfig::default(),
            Arc::clone(&metrics),
            Streams::new(),
        )
        .expect("the sequencer");
        let directory = UserDirectory::open(&data).expect("the users");
        let state = ServerState::new(sequencer.handle(), Arc::new(directory), metrics);
        let mut front = Front::new(
            http::router(state.clone()),
            state.clone(),
            ets_store::StoreKind::Live,
            Duration::from_secs(5),
        );
        front.direct = direct;
        Fixture {
            front,
            state,
            tokens,
            _sequencer: sequencer,
            _dir: dir,
        }
    }

    /// One request of the comparison: as whom, to which path, with which extra headers and body.
    struct Case {
        user: Option<&'static str>,
        path: &'static str,
        headers: &'static [(&'static str, &'static str)],
        body: String,
    }

    fn case(user: &'static str, body: &str) -> Case {
        Case {
            user: Some(user),
            path: "/api/commands",
            headers: &[("content-type", "application/json")],
            body: body.to_owned(),
        }
    }

    fn request(fixture: &Fixture, case: &Case) -> Request {
        let mut builder = axum::http::Request::post(case.path)
            .header("host", "127.0.0.1:8080")
            .header("content-length", case.body.len());
        if let Some(user) = case.user {
            let token = fixture
                .tokens
                .get(user)
                .map_or("ets_not_a_token", String::as_str);
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in case.headers {
            builder = builder.header(*name, *value);
        }
        let mut request = builder
            .body(Body::from(case.body.clone()))
            .expect("a request");
        let peer: SocketAddr = "127.0.0.1:40000".parse().expect("an address");
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    }

    /// Status, headers and body of an answer, with the command's time (the
    /// wall clock's, which two stores never share to the millisecond) and the
    /// body's length, once checked, blanked.
    async fn seen(response: Response) -> (u16, Vec<(String, String)>, String) {
        let status = response.status().as_u16();
        let mut headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        headers.sort();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("the body");
        let body = String::from_utf8(body.to_vec()).expect("UTF-8");
        // The time's text varies in length (trailing zeros of its fraction
        // are dropped), so the length is checked against this answer's own
        // body and then blanked with the time.
        for (name, value) in &mut headers {
            if name == "content-length" {
                assert_eq!(
                    *value,
                    body.len().to_string(),
                    "content-length is the body's"
                );
                *value = "(checked)".to_owned();
            }
        }
        let body = match body.split_once("\"time\":\"") {
            Some((before, after)) => {
                let rest = after.split_once('"').map_or("", |(_, rest)| rest);
                format!("{before}\"time\":\"(blanked)\"{rest}")
            }
            None => body,
        };
        (status, headers, body)
    }

    fn cases() -> Vec<Case> {
        let register = r#"{"request_id":1,"requester":1,"command":"register_participant","id":1,"kind":"administrator","name":"Registry"}"#;
        vec![
            case("admin", register),
            // The same request id again: the first outcome, marked duplicate.
            case("admin", register),
            case(
                "admin",
                r#"{"request_id":2,"requester":1,"command":"open_account","id":7,"kind":"trading","holder":99,"representatives":[1]}"#,
            ),
            case("admin", "{not json"),
            case("admin", &"x".repeat(70_000)),
            case(
                "auditor",
                r#"{"request_id":3,"requester":1,"command":"issue","unit":"CEA-2021","quantity":5}"#,
            ),
            case(
                "member",
                r#"{"request_id":4,"requester":1,"command":"issue","unit":"CEA-2021","quantity":5}"#,
            ),
            case(
                "nobody",
                r#"{"request_id":5,"requester":1,"command":"issue","unit":"CEA-2021","quantity":5}"#,
            ),
            Case {
                user: None,
                ..case("admin", register)
            },
            Case {
                headers: &[("content-type", "text/plain")],
                ..case("admin", register)
            },
            Case {
                headers: &[
                    ("content-type", "application/json"),
                    ("origin", "http://elsewhere.example"),
                ],
                ..case("admin", register)
            },
            Case {
                headers: &[
                    ("content-type", "application/json"),
                    ("idempotency-key", "+6"),
                ],
                ..case(
                    "admin",
                    r#"{"request_id":6,"requester":1,"command":"issue","unit":"CEA-2021","quantity":5}"#,
                )
            },
            Case {
                path: "/api/commands?from=a-query",
                ..case(
                    "admin",
                    r#"{"request_id":8,"requester":1,"command":"issue","unit":"CEA-2021","quantity":5}"#,
                )
            },
        ]
    }

    /// Goal: `POST /api/commands` answers the same whether it takes the
    /// direct route or the router: for accepted, duplicate, refused by the
    /// engine, malformed, too large, forbidden, unauthenticated, wrong media
    /// type, cross-origin and idempotency-key mismatches, request by request
    /// (status, every header, body), and the request metrics count them alike.
    #[test]
    fn the_direct_command_route_answers_as_the_router_does() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let direct = fixture(true);
        let routed = fixture(false);
        let statuses = runtime.block_on(async {
            let mut statuses = Vec::new();
            for (index, case) in cases().iter().enumerate() {
                let by_direct =
                    seen(direct.front.clone().answer(request(&direct, case)).await).await;
                let by_router =
                    seen(routed.front.clone().answer(request(&routed, case)).await).await;
                assert_eq!(
                    by_direct,
                    by_router,
                    "case {index}: {}",
                    case.body.chars().take(80).collect::<String>()
                );
                statuses.push(by_direct.0);
            }
            statuses
        });
        // Each case reached the check it was written for.
        assert_eq!(
            statuses,
            [
                200, 200, 404, 400, 413, 403, 403, 401, 401, 415, 403, 422, 422
            ]
        );
        let counted = |fixture: &Fixture| {
            let text = fixture.state.metrics.encode().expect("the metrics");
            let mut lines: Vec<String> = text
                .lines()
                .filter(|line| line.starts_with("ets_http_requests_total"))
                .map(str::to_owned)
                .collect();
            lines.sort();
            lines
        };
        let counted_direct = counted(&direct);
        assert!(!counted_direct.is_empty(), "requests were counted");
        assert_eq!(counted_direct, counted(&routed));
    }
}
