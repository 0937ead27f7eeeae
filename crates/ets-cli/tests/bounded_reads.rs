//! Reads of what a bounded engine let go (docs/memory.md): the same demo
//! year replayed into a store that keeps everything and into one bounded to
//! the smallest window, then padded past the window, answers `ets show tx`,
//! `ets show serial` and `ets report public` alike: the bounded store reads
//! the transactions and trades it let go from its history database.

use ets_engine::retention::MIN_WINDOW;
use ets_engine::{Command, JournalEntry};
use ets_model::{ParticipantId, RequestId, Timestamp, TransactionId};
use ets_registry::RegistryCommand;
use ets_store::{Store, StoreConfig, StoreKind, Submission};
use serde_json::Value;
use std::path::Path;

mod common;

fn ets(args: &[&str]) -> Value {
    let output = common::run_ets(args, "");
    assert!(
        output.status.success(),
        "ets {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON")
}

/// The demo year's commands, without its retention setting.
fn demo_commands(out: &Path) -> Vec<Submission> {
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scenarios/cn-power-2021.toml"
    );
    let out_text = out.to_str().expect("utf-8 path");
    let demo = [
        "demo",
        "--entities",
        "5",
        "--seed",
        "3",
        "--scenario",
        scenario,
        "--out",
        out_text,
    ];
    let output = common::run_ets(&demo, "");
    assert!(output.status.success(), "{output:?}");
    let store = Store::open_read_only(&out.join("store")).expect("opens");
    let mut commands = Vec::new();
    for record in store.journal().read_from(1).expect("reads") {
        let record = record.expect("record");
        let entry = JournalEntry::decode(&record.payload).expect("decodes");
        let (envelope, _) = entry.into_envelope(Timestamp(record.timestamp_ms));
        if matches!(envelope.command, Command::SetRetention { .. }) {
            continue;
        }
        commands.push(Submission {
            request_id: envelope.request_id,
            requester: envelope.requester,
            time: Some(envelope.time),
            command: envelope.command,
        });
    }
    commands
}

/// A store in `dir` with history, bounded to the smallest window or not,
/// given `commands` and then more refused commands than the window holds.
fn replay_into(dir: &Path, bounded: bool, commands: &[Submission]) {
    let mut store =
        Store::create_of_kind(dir, StoreConfig::default(), StoreKind::Import).expect("creates");
    ets_history::attach(&mut store).expect("history");
    if bounded {
        let retention = Submission {
            request_id: RequestId(1 << 63),
            requester: ParticipantId(0),
            time: None,
            command: Command::SetRetention {
                commands: MIN_WINDOW,
            },
        };
        let reply = store.submit_dated(&[retention]).expect("durable");
        assert!(reply[0].outcome.is_accepted(), "{:?}", reply[0]);
    }
    for batch in commands.chunks(1_000) {
        store.submit_dated(batch).expect("durable");
    }
    // Padding: approvals of a transaction that does not exist, refused and journaled.
    let padding: Vec<Submission> = (1..=MIN_WINDOW + 1_000)
        .map(|n| Submission {
            request_id: RequestId(n),
            requester: ParticipantId(999_999),
            time: None,
            command: Command::Registry(RegistryCommand::Approve {
                transaction: TransactionId(u64::MAX),
            }),
        })
        .collect();
    for batch in padding.chunks(4_000) {
        store.submit_dated(batch).expect("durable");
    }
}

#[test]
fn a_bounded_store_answers_reads_of_what_it_let_go_as_an_unbounded_one() {
    let temp = tempfile::tempdir().expect("temp dir");
    let commands = demo_commands(&temp.path().join("demo"));
    let (bounded, unbounded) = (temp.path().join("bounded"), temp.path().join("unbounded"));
    replay_into(&bounded, true, &commands);
    replay_into(&unbounded, false, &commands);
    let data = |dir: &Path| dir.to_str().expect("utf-8").to_owned();
    let (b, u) = (data(&bounded), data(&unbounded));
    // Early transactions left the bounded engine: the history answers alike.
    for id in ["1", "2", "5", "40"] {
        let shown = ets(&["show", "--data", &b, "tx", id]);
        assert_eq!(shown, ets(&["show", "--data", &u, "tx", id]), "tx {id}");
        assert!(shown["blocks"].as_array().is_some(), "{shown}");
    }
    let serial = ets(&["show", "--data", &b, "serial", "1"]);
    assert_eq!(serial, ets(&["show", "--data", &u, "serial", "1"]));
    assert!(!serial["history"].as_array().expect("history").is_empty());
    // The public report's market section is drawn from the history's trades
    // (the demo's 2021 units trade into 2023).
    let mut market_days = 0;
    for year in ["2021", "2022", "2023"] {
        let report = |data: &str| {
            ets(&[
                "report", "public", "--data", data, "--year", year, "--format", "json",
            ])
        };
        let (bounded_report, unbounded_report) = (report(&b), report(&u));
        assert_eq!(
            bounded_report["market"], unbounded_report["market"],
            "{year}"
        );
        assert_eq!(
            bounded_report["installations"], unbounded_report["installations"],
            "{year}"
        );
        market_days += bounded_report["market"].as_array().expect("market").len();
    }
    assert!(market_days > 0, "the demo trades");
    // The bounded engine really let the trades go.
    let store = Store::open_read_only(&bounded).expect("opens");
    assert_eq!(store.engine().exchange().trades().len(), 0);
    assert!(
        store
            .engine()
            .registry()
            .transaction(TransactionId(1))
            .is_err()
    );
}
