//! Replay against the committed journal with every command kind
//! (`crates/ets-cli/tests/fixtures/journal-all-commands`): replay digests each
//! command from its bytes inside the journal payload instead of encoding the
//! command again, and decodes on the reading thread; both must give exactly
//! what the live path gives.

use ets_engine::{CommandDigest, JournalEntry};
use ets_journal::{Journal, JournalConfig};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ets-cli/tests/fixtures/journal-all-commands")
}

/// A copy of the fixture's store files in a temporary directory.
fn copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("store");
    std::fs::create_dir(&data).expect("mkdir");
    for name in [
        "journal-00000000000000000001.seg",
        "SUPERBLOCK",
        "expected_state_hash",
    ] {
        std::fs::copy(fixture().join(name), data.join(name)).expect("copy");
    }
    (dir, data)
}

#[test]
fn every_command_kind_digests_the_same_from_its_journaled_bytes() {
    // Goal: for every record of the fixture (every command kind, the refused
    // summary included), the digest of the command's journaled bytes equals
    // the digest of the command encoded again, and the entry decodes to the
    // same fields either way.
    let (_dir, data) = copy();
    let journal = Journal::open_read_only(&data, JournalConfig::default()).expect("opens");
    let mut kinds = BTreeSet::new();
    for record in journal.read_from(1).expect("reads") {
        let record = record.expect("intact");
        let entry = JournalEntry::decode(&record.payload).expect("decodes");
        let digested = JournalEntry::decode_digested(&record.payload).expect("decodes");
        assert_eq!(
            digested.digest,
            CommandDigest::of(&entry.command),
            "record {} ({})",
            record.sequence,
            entry.command.name()
        );
        assert_eq!(digested.request_id, entry.request_id);
        assert_eq!(digested.requester, entry.requester);
        assert_eq!(digested.command, entry.command);
        assert_eq!(digested.outcome_code, entry.outcome_code);
        kinds.insert(entry.command.name());
    }
    // The fixture holds one record of each of its 51 kinds.
    assert_eq!(kinds.len(), 51, "{kinds:?}");
    assert!(kinds.contains("refused") && kinds.contains("transfer"));
}

#[test]
fn replay_decoding_on_the_scanning_thread_reaches_the_recorded_state_hash() {
    // Goal: `ets_store::replay` (decoded on the read-only open's scanning
    // thread, digests from the journaled bytes), a store's recovery and
    // `verify` (decoded on the read-ahead thread) give the fixture's
    // recorded state hash.
    let (_dir, data) = copy();
    let expected = std::fs::read_to_string(data.join("expected_state_hash")).expect("hash");
    let (engine, records) = ets_store::replay(&data).expect("replays");
    assert_eq!(records, 51);
    assert_eq!(engine.state_hash().to_string(), expected.trim());
    let store = ets_store::Store::open_read_only(&data).expect("recovers");
    assert_eq!(store.engine().state_hash().to_string(), expected.trim());
    let report = ets_store::verify(&data).expect("verifies");
    assert_eq!(report.records, 51);
    assert_eq!(report.state_hash.to_string(), expected.trim());
}
