//! A server on its own thread and runtime for the operations tests, with
//! helpers to call it.

#![allow(dead_code)]

use ets_model::ParticipantId;
use ets_server::{Role, ServerConfig, Users};
use serde_json::Value;
use std::io::BufRead as _;
use std::path::PathBuf;
use std::time::Duration;

/// The password of every test user.
pub const PASSWORD: &str = "correct horse battery staple";

/// A server running on its own thread and tokio runtime; shut down and
/// joined when dropped.
pub struct Server {
    /// `http://127.0.0.1:PORT` or `https://localhost:PORT`.
    pub base: String,
    /// The store directory.
    pub data: PathBuf,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A fresh store with the given users (name, participant, role), served
/// with the configuration `adjust` makes of the default one.
pub fn start(
    users: &[(&str, u64, Role)],
    adjust: impl FnOnce(&mut ServerConfig, &std::path::Path),
) -> Server {
    start_prepared(
        users,
        |data| {
            drop(ets_store::Store::create(data, ets_store::StoreConfig::default()).expect("store"));
        },
        adjust,
    )
}

/// Like [`start`], but `prepare` creates the store in the given directory
/// (and may fill it) before the users are added and the server starts.
pub fn start_prepared(
    users: &[(&str, u64, Role)],
    prepare: impl FnOnce(&std::path::Path),
    adjust: impl FnOnce(&mut ServerConfig, &std::path::Path),
) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("store");
    prepare(&data);
    for (name, participant, role) in users {
        Users::add_user(&data, name, PASSWORD, ParticipantId(*participant), *role)
            .expect("user added");
    }
    let mut config = ServerConfig::new(data.clone(), "127.0.0.1:0".parse().expect("address"));
    adjust(&mut config, dir.path());
    let scheme = if config.tls.is_some() {
        "https://localhost"
    } else {
        "http://127.0.0.1"
    };
    let (address_sender, address_receiver) = std::sync::mpsc::channel();
    let (shutdown, shutdown_receiver) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let served = runtime.block_on(ets_server::serve(
            config,
            move |address| {
                let _ = address_sender.send(address);
            },
            async move {
                let _ = shutdown_receiver.await;
            },
        ));
        served.expect("the server runs until shut down");
    });
    let address = address_receiver
        .recv_timeout(Duration::from_secs(20))
        .expect("the server listens");
    Server {
        base: format!("{scheme}:{}", address.port()),
        data,
        shutdown: Some(shutdown),
        thread: Some(thread),
        _dir: dir,
    }
}

/// A client that returns every status as a response.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// An answer: status, JSON body (Null when not JSON), `Retry-After`.
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub retry_after: Option<String>,
}

pub fn finish(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut response = response.expect("request completes");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().expect("ASCII").to_owned());
    let text = response.body_mut().read_to_string().expect("body");
    Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        retry_after,
    }
}

/// POST /api/commands with an `Authorization` header value.
pub fn post(server: &Server, authorization: &str, body: &Value) -> Answer {
    finish(
        agent()
            .post(format!("{}/api/commands", server.base))
            .header("Content-Type", "application/json")
            .header("Authorization", authorization)
            .send(body.to_string()),
    )
}

/// GET a path with an `Authorization` header value.
pub fn get(server: &Server, authorization: &str, path: &str) -> Answer {
    finish(
        agent()
            .get(format!("{}{path}", server.base))
            .header("Authorization", authorization)
            .call(),
    )
}

/// `Bearer <token>` for a new token of `user`.
pub fn bearer(server: &Server, user: &str) -> String {
    format!(
        "Bearer {}",
        Users::issue_token(&server.data, user).expect("token")
    )
}

/// An open Server-Sent Events stream.
pub struct EventStream {
    reader: std::io::BufReader<ureq::BodyReader<'static>>,
}

impl EventStream {
    /// Opens `path`; gives the status instead when it is not 200.
    pub fn open(server: &Server, authorization: &str, path: &str) -> Result<EventStream, u16> {
        let response = agent()
            .get(format!("{}{path}", server.base))
            .header("Authorization", authorization)
            .call()
            .expect("request completes");
        if response.status().as_u16() != 200 {
            return Err(response.status().as_u16());
        }
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_owned();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        Ok(EventStream {
            reader: std::io::BufReader::new(response.into_body().into_reader()),
        })
    }

    /// The next event's name and JSON data (comments are skipped).
    pub fn next(&mut self) -> (String, Value) {
        let mut name = String::from("message");
        let mut data = String::new();
        loop {
            let mut line = String::new();
            let read = self.reader.read_line(&mut line).expect("stream readable");
            assert!(read > 0, "the stream ended");
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if data.is_empty() {
                    continue;
                }
                return (name, serde_json::from_str(&data).expect("JSON data"));
            }
            if let Some(value) = line.strip_prefix("event:") {
                name = value.trim().to_owned();
            } else if let Some(value) = line.strip_prefix("data:") {
                data.push_str(value.trim_start());
            }
        }
    }

    /// Reads events until one named `name` satisfies `wanted`; gives it.
    pub fn until(&mut self, name: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..100 {
            let (event, data) = self.next();
            if event == name && wanted(&data) {
                return data;
            }
        }
        panic!("no {name} event came in 100 events");
    }
}

/// Participants 1 (administrator), 10 (plant) and 20 (fund); accounts 1
/// (issuance), 100 (plant's, 1 of 1) and 200 (fund's); 500,000 t in 100.
pub fn plant_and_fund(server: &Server, admin: &str) {
    let commands = [
        serde_json::json!({"request_id":1,"requester":1,"command":"register_participant","id":1,"kind":"administrator","name":"MEE"}),
        serde_json::json!({"request_id":2,"requester":1,"command":"register_participant","id":10,"kind":"covered_entity","name":"Plant"}),
        serde_json::json!({"request_id":3,"requester":1,"command":"register_participant","id":20,"kind":"institution","name":"Fund"}),
        serde_json::json!({"request_id":4,"requester":1,"command":"open_account","id":1,"kind":"issuance","holder":1,"representatives":[1]}),
        serde_json::json!({"request_id":5,"requester":1,"command":"open_account","id":100,"kind":"operator_holding","holder":10,"representatives":[10]}),
        serde_json::json!({"request_id":6,"requester":1,"command":"open_account","id":200,"kind":"trading","holder":20,"representatives":[20]}),
        serde_json::json!({"request_id":7,"requester":1,"command":"issue","unit":"CEA-2021","quantity":1000000}),
        serde_json::json!({"request_id":8,"requester":1,"command":"allocate","to":100,"unit":"CEA-2021","quantity":500000}),
    ];
    for command in commands {
        let answer = post(server, admin, &command);
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
}
