//! The plain-HTTP accept loop, with the limits `axum::serve` lacks: at most
//! [`ConnectionLimits::connections_max`] connections at once (more are
//! closed at once, so half-open connections cannot exhaust the process's
//! file descriptors and starve `/healthz`), and a deadline for a request's
//! headers ([`ConnectionLimits::header_timeout`]); request bodies have their
//! own deadline (`body_deadline`). HTTP/1.1 only.

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;
use ets_api::{Refusal, RefusalCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// Limits on connections and slow clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections served at once; a connection beyond is closed unanswered.
    pub connections_max: usize,
    /// How long a client may take to send a request's headers.
    pub header_timeout: Duration,
    /// How long a client may take to send a request's body.
    pub body_timeout: Duration,
}

impl Default for ConnectionLimits {
    /// 1,024 connections, 10 s for headers, 30 s for a body.
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            connections_max: 1_024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets each
/// open connection finish its request and waits for them.
///
/// # Errors
/// None today (a failed accept is logged and retried); the `Result` keeps
/// the shape of the TLS path's.
pub(crate) async fn serve_plain(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.connections_max.max(1)));
    let (closing, closing_receiver) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            tracing::warn!(%peer, "connection refused: at the connection limit");
            drop(stream);
            continue;
        };
        let service =
            TowerToHyperService::new(app.clone().layer(axum::Extension(ConnectInfo(peer))));
        let mut closing = closing_receiver.clone();
        connections.spawn(async move {
            let _permit = permit;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = closing.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
        // Reap finished connections so the set does not grow.
        while connections.try_join_next().is_some() {}
    }
    closing.send_replace(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Reads a POST body within `body_timeout` (a client trickling its body
/// gets `408 body_timeout` instead of holding the connection).
pub(crate) async fn body_deadline(
    axum::extract::State(body_timeout): axum::extract::State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != axum::http::Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let limit = crate::http::BATCH_BODY_MAX_BYTES + 1;
    match tokio::time::timeout(body_timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                .await
        }
        Ok(Err(_)) => crate::http::refuse(&Refusal::new(
            RefusalCode::PayloadTooLarge,
            "the body is larger than this server accepts",
        )),
        Err(_) => crate::http::refuse(&Refusal::new(
            RefusalCode::BodyTimeout,
            format!(
                "the body did not arrive within {} s",
                body_timeout.as_secs()
            ),
        )),
    }
}
