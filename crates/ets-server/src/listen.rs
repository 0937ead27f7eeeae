//! The one accept loop, for plain HTTP and HTTPS alike, with the limits
//! `axum::serve` lacks: at most [`ConnectionLimits::connections_max`]
//! connections at once (more are closed at once, so half-open connections
//! cannot exhaust the process's file descriptors and starve `/healthz`), a
//! deadline for the TLS handshake and for a request's headers
//! ([`ConnectionLimits::header_timeout`]); request bodies have their own
//! deadline (`collect_body`, which `front` calls). HTTP/1.1 only (TLS offers only `http/1.1`
//! by ALPN).

use crate::front::Front;
use axum::extract::Request;
use axum::response::Response;
use axum_server::accept::Accept as _;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use ets_api::{Refusal, RefusalCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
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

/// The TLS settings of a server that speaks HTTPS, offering only HTTP/1.1
/// by ALPN (the connections are served by an HTTP/1.1 server).
#[must_use]
pub(crate) fn http1_only(config: &RustlsConfig) -> RustlsConfig {
    let mut inner = (*config.get_inner()).clone();
    inner.alpn_protocols = vec![b"http/1.1".to_vec()];
    RustlsConfig::from_config(Arc::new(inner))
}

/// Serves `front` on `listener` (over TLS when `tls` is given) until
/// `shutdown` completes, then lets each open connection finish its request
/// and waits for them.
///
/// # Errors
/// None today (a failed accept is logged and retried).
pub(crate) async fn serve(
    listener: TcpListener,
    front: Front,
    limits: ConnectionLimits,
    tls: Option<RustlsConfig>,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let acceptor = tls.map(|config| {
        Arc::new(RustlsAcceptor::new(http1_only(&config)).handshake_timeout(limits.header_timeout))
    });
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
        // Answers go out at once: a pipelining client's second answer never
        // waits for the acknowledgement of its first (Nagle's algorithm).
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%peer, %error, "cannot turn Nagle's algorithm off");
        }
        let service = front.connection(peer);
        let closing = closing_receiver.clone();
        let acceptor = acceptor.clone();
        connections.spawn(async move {
            let _permit = permit;
            match acceptor {
                None => serve_connection(stream, service, limits, closing).await,
                Some(acceptor) => match acceptor.accept(stream, ()).await {
                    Ok((stream, _)) => serve_connection(stream, service, limits, closing).await,
                    Err(error) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                },
            }
        });
        // Reap finished connections so the set does not grow.
        while connections.try_join_next().is_some() {}
    }
    closing.send_replace(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Serves HTTP/1.1 on one connection (plain or TLS) with the header
/// deadline, until it ends or the server closes (then gracefully).
async fn serve_connection<S, Svc>(
    stream: S,
    service: Svc,
    limits: ConnectionLimits,
    mut closing: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    Svc: hyper::service::Service<
            hyper::Request<hyper::body::Incoming>,
            Response = axum::response::Response,
        > + Send
        + 'static,
    Svc::Future: Send + 'static,
    Svc::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    // A pipelining client's answers leave in one write per burst: hyper
    // flushes once the requests already read are answered.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .pipeline_flush(true);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        _ = closing.changed() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// Reads a POST body within `body_timeout` (a client trickling its body
/// gets `408 body_timeout` instead of holding the connection); the request
/// with its body read, or the answer to send instead. Other methods pass as
/// they are.
pub(crate) async fn collect_body(
    body_timeout: Duration,
    request: Request,
) -> Result<Request, Response> {
    if request.method() != axum::http::Method::POST {
        return Ok(request);
    }
    let (parts, body) = request.into_parts();
    let limit = crate::http::BATCH_BODY_MAX_BYTES + 1;
    let mut collect = std::pin::pin!(axum::body::to_bytes(body, limit));
    // A small body usually came with the headers: the deadline's timer is
    // armed only when the first look finds it still arriving.
    let first_look =
        std::future::poll_fn(|context| std::task::Poll::Ready(collect.as_mut().poll(context)))
            .await;
    let collected = match first_look {
        std::task::Poll::Ready(collected) => Ok(collected),
        std::task::Poll::Pending => tokio::time::timeout(body_timeout, collect).await,
    };
    match collected {
        Ok(Ok(bytes)) => Ok(Request::from_parts(parts, axum::body::Body::from(bytes))),
        Ok(Err(_)) => Err(crate::http::refuse(&Refusal::new(
            RefusalCode::PayloadTooLarge,
            "the body is larger than this server accepts",
        ))),
        Err(_) => Err(crate::http::refuse(&Refusal::new(
            RefusalCode::BodyTimeout,
            format!(
                "the body did not arrive within {} s",
                body_timeout.as_secs()
            ),
        ))),
    }
}
