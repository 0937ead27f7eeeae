//! The ceiling the bench measures the server against: a minimal hyper
//! HTTP/1.1 server that reads each request's body and answers a fixed
//! outcome line of a transfer's size, with no routing, authentication,
//! parsing, store or fsync. The same client driving it shows what HTTP over
//! loopback alone costs on this machine.

use anyhow::{Context, Result};
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

/// What every request gets: a transfer's outcome line.
const ANSWER: &str = r#"{"request_id":1,"ok":true,"result":{"transaction":1,"status":"completed"},"time":"2026-01-01T00:00:00Z","sequence":1}"#;

/// The echo server, stopped when dropped.
pub struct Echo {
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Echo {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn answer(
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    // Read the whole body, as a real server must; a broken one is dropped.
    let _ = request.into_body().collect().await;
    let mut response = hyper::Response::new(Full::new(Bytes::from_static(ANSWER.as_bytes())));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
            _ = &mut shutdown => return,
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(answer);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

impl Echo {
    /// Starts the server on a free loopback port, on a runtime of its own
    /// built with `settings` (workers named `ets-srv`).
    ///
    /// # Errors
    /// When the runtime or the socket cannot be made.
    pub fn start(settings: ets_server::RuntimeSettings) -> Result<(Echo, SocketAddr)> {
        let (address_sender, address_receiver) = std::sync::mpsc::channel();
        let (shutdown, shutdown_receiver) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("ets-srv-echo".into())
            .spawn(move || {
                let Ok(runtime) = ets_server::runtime(settings) else {
                    return;
                };
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::bind("127.0.0.1:0").await else {
                        return;
                    };
                    let Ok(address) = listener.local_addr() else {
                        return;
                    };
                    let _ = address_sender.send(address);
                    accept_loop(listener, shutdown_receiver).await;
                });
            })?;
        let address = address_receiver
            .recv_timeout(Duration::from_secs(30))
            .context("the echo server did not start")?;
        Ok((
            Echo {
                shutdown: Some(shutdown),
                thread: Some(thread),
            },
            address,
        ))
    }
}
