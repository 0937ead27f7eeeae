//! Back-pressure: when the sequencer's queue is full, a request is refused at
//! once with 503 and `Retry-After`, instead of waiting or growing memory.

use ets_model::ParticipantId;
use ets_server::{Metrics, Role, ServerState, UserDirectory, Users, router};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn a_full_queue_answers_503_with_retry_after_and_the_queued_request_still_waits() {
    // Goal: with a queue of one job and no sequencer draining it (as when the sequencer is
    // busy with a long fsync), the first request waits in the queue and the second is
    // refused immediately with 503 and Retry-After.
    let dir = tempfile::tempdir().expect("temp dir");
    Users::add_user(
        dir.path(),
        "admin",
        "correct horse battery staple",
        ParticipantId(1),
        Role::Administrator,
    )
    .expect("user");
    let users = Arc::new(UserDirectory::open(dir.path()).expect("users load"));
    let (jobs, _queue_never_drained) = tokio::sync::mpsc::channel(1);
    let state = ServerState::new(jobs, users, Arc::new(Metrics::new()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let address = listener.local_addr().expect("address");
    runtime.spawn(async move {
        let _ = axum::serve(listener, router(state)).await;
    });
    let token = Users::issue_token(dir.path(), "admin").expect("token");
    let send = move |timeout: Duration| {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build()
            .into();
        agent
            .post(format!("http://{address}/api/commands"))
            .header("Content-Type", "application/json")
            .header("Authorization", format!("Bearer {token}"))
            .send(r#"{"request_id":1,"requester":1,"command":"register_participant","id":1,"kind":"administrator","name":"MEE"}"#)
    };
    let first = {
        let send = send.clone();
        std::thread::spawn(move || {
            send(Duration::from_millis(1500)).map(|response| response.status().as_u16())
        })
    };
    // Give the first request time to take the queue's only place.
    std::thread::sleep(Duration::from_millis(500));
    let second = send(Duration::from_secs(3)).expect("the refusal is immediate");
    assert_eq!(second.status().as_u16(), 503);
    assert_eq!(
        second
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    assert!(
        first.join().expect("first thread").is_err(),
        "the queued request was never answered, as nothing drained it"
    );
    drop(runtime);
}
