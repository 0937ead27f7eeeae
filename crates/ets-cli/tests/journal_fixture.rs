//! The committed journal with every command kind (tests/fixtures/journal-all-commands):
//! it must keep decoding and replaying to its recorded state hash, so a change to
//! the shape of any journaled type (registry, compliance, exchange, auctions) fails
//! here instead of silently changing what old journals mean.

use ets_engine::JournalEntry;
use ets_journal::{Journal, JournalConfig};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const EVERY_KIND: [&str; 51] = [
    "accept_block",
    "allocate",
    "allocate_eu",
    "allocate_free",
    "allocate_sector",
    "amend_order",
    "approve",
    "approve_trusted_account",
    "borrow",
    "cancel",
    "cancel_order",
    "close_auction",
    "close_year",
    "correct_report",
    "decline_block",
    "deposit_cash",
    "end_of_day",
    "issue",
    "list_instrument",
    "load_rulebook",
    "modify_bid",
    "open_account",
    "open_auction",
    "place_order",
    "propose_block",
    "propose_trusted_account",
    "refused",
    "register_entities",
    "register_participant",
    "reject",
    "release_due",
    "remove_trusted_account",
    "retire",
    "reverse",
    "set_account_status",
    "set_additional_representatives",
    "set_approval_rule",
    "set_controls",
    "set_holding_limit",
    "set_plausibility_ranges",
    "set_serial_policy",
    "submit_bid",
    "submit_report",
    "surrender",
    "take_listed",
    "transfer",
    "verify_report",
    "withdraw",
    "withdraw_bid",
    "withdraw_block",
    "withdraw_cash",
];

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/journal-all-commands")
}

/// A copy of the fixture's store files in a temporary directory.
fn copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("store");
    std::fs::create_dir(&data).expect("mkdir");
    for name in ["journal-00000000000000000001.seg", "SUPERBLOCK"] {
        std::fs::copy(fixture().join(name), data.join(name)).expect("copy");
    }
    (dir, data)
}

#[test]
fn every_command_kind_in_the_fixture_decodes() {
    // Goal: the fixture covers every command kind, and each record decodes.
    let (_dir, data) = copy();
    let journal = Journal::open_read_only(&data, JournalConfig::default()).expect("opens");
    let mut kinds = BTreeSet::new();
    for record in journal.read_from(1).expect("reads") {
        let record = record.expect("intact");
        let entry = JournalEntry::decode(&record.payload).expect("every record decodes");
        kinds.insert(entry.command.name());
    }
    let expected: BTreeSet<&str> = EVERY_KIND.into_iter().collect();
    assert_eq!(kinds, expected);
}

#[test]
fn the_fixture_replays_to_its_recorded_state_hash() {
    // Goal: replay gives every journaled outcome code again (verify checks each)
    // and the recorded state hash.
    let (_dir, data) = copy();
    let output = Command::new(env!("CARGO_BIN_EXE_ets"))
        .arg("verify")
        .arg("--data")
        .arg(&data)
        .output()
        .expect("verify runs");
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["records"], 51);
    let expected = std::fs::read_to_string(fixture().join("expected_state_hash")).expect("hash");
    assert_eq!(
        report["state_hash"].as_str(),
        Some(expected.trim()),
        "see tests/fixtures/journal-all-commands/README.md"
    );
}

#[test]
fn the_fixture_lists_every_command_the_api_accepts() {
    // Goal: a new command kind cannot be added without a record in the fixture
    // (EVERY_KIND is what the fixture holds; "refused" is the journal's own summary).
    // `advance_clock` is journaled only by dated stores (simulations, imports): a live
    // store like this one refuses it before the engine; its shape is pinned in
    // ets-engine's tests/journal_shapes.txt.
    let accepted: BTreeSet<&str> = ets_api::command_specs()
        .map(|spec| spec.name)
        .filter(|name| *name != "advance_clock")
        .collect();
    let pinned: BTreeSet<&str> = EVERY_KIND
        .into_iter()
        .filter(|kind| *kind != "refused")
        .collect();
    let missing: Vec<&&str> = accepted.difference(&pinned).collect();
    assert!(missing.is_empty(), "not in the fixture: {missing:?}");
}
