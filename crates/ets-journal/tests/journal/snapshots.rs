//! Snapshots: written atomically, chosen newest-valid-first, tied to the journal's history.

use std::fs;
use std::path::{Path, PathBuf};

use ets_journal::{GENESIS_HASH, Journal, JournalConfig, JournalError, SNAPSHOT_HEADER_BYTES};

use crate::common::{
    append_batch, copy_store, file_len, flip_byte, new_store, read_all, timestamp_of,
};

/// A way of damaging a snapshot file.
type Damage = fn(&Path);

fn snapshot_path(dir: &Path, sequence: u64) -> PathBuf {
    dir.join(format!("snapshot-{sequence:020}.snap"))
}

// Goal: with snapshots at 5 and 12, latest_snapshot returns the one at 12 with its state and the hash
// of record 12, also after a reopen; with none it returns None.
#[test]
fn latest_snapshot_is_the_newest_valid_one() {
    let (_temp, dir, mut journal) = new_store(JournalConfig::default());
    assert_eq!(journal.latest_snapshot().expect("latest"), None);
    append_batch(&mut journal, 20, 16);
    journal
        .write_snapshot(5, b"state at five")
        .expect("snapshot 5");
    journal
        .write_snapshot(12, b"state at twelve")
        .expect("snapshot 12");
    let records = read_all(&journal, 1);
    let snapshot = journal.latest_snapshot().expect("latest").expect("some");
    assert_eq!(snapshot.sequence, 12);
    assert_eq!(snapshot.record_hash, records[11].hash);
    assert_eq!(snapshot.state, b"state at twelve");
    assert_eq!(
        file_len(&snapshot_path(&dir, 12)),
        SNAPSHOT_HEADER_BYTES as u64 + 15
    );
    drop(journal);
    let journal = Journal::open(&dir, JournalConfig::default()).expect("open");
    let (again, warnings) = journal.latest_snapshot_with_warnings().expect("latest");
    assert_eq!(again, Some(snapshot));
    assert!(warnings.is_empty());
}

// Goal: a damaged newest snapshot (state byte, header byte, or truncated) is skipped with a warning
// naming it, and the older valid one is returned; verify reports the damaged one too.
#[test]
fn corrupted_newest_snapshot_falls_back_to_the_older_one_with_a_warning() {
    let (_temp, dir, mut journal) = new_store(JournalConfig::default());
    append_batch(&mut journal, 20, 16);
    journal
        .write_snapshot(5, b"state at five")
        .expect("snapshot 5");
    journal
        .write_snapshot(12, b"state at twelve")
        .expect("snapshot 12");
    drop(journal);
    let damages: [(&str, Damage); 3] = [
        ("state CRC32C", |path| {
            flip_byte(path, SNAPSHOT_HEADER_BYTES as u64 + 3, 0x10);
        }),
        ("header CRC32C", |path| flip_byte(path, 20, 0x01)),
        ("bytes but its header says", |path| {
            let file = fs::OpenOptions::new().write(true).open(path).expect("open");
            file.set_len(file_len(path) - 1).expect("truncate");
        }),
    ];
    for (expected_reason, damage) in damages {
        let (_copy_temp, copy) = copy_store(&dir);
        let newest = snapshot_path(&copy, 12);
        damage(&newest);
        let journal = Journal::open(&copy, JournalConfig::default()).expect("open");
        let (snapshot, warnings) = journal.latest_snapshot_with_warnings().expect("latest");
        let snapshot = snapshot.expect("falls back");
        assert_eq!(snapshot.sequence, 5);
        assert_eq!(snapshot.state, b"state at five");
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains(&newest.display().to_string()),
            "{}",
            warnings[0]
        );
        assert!(warnings[0].contains(expected_reason), "{}", warnings[0]);
        drop(journal);
        let (_stats, verify_warnings) = Journal::verify(&copy).expect("verify");
        assert_eq!(verify_warnings.len(), 1, "{verify_warnings:?}");
    }
}

// Goal: a snapshot of a sequence not yet committed is refused (even if it is pending), naming both
// sequences; a snapshot at 0 describes the initial state and carries the genesis hash.
#[test]
fn snapshot_ahead_of_the_journal_is_refused() {
    let (_temp, dir, mut journal) = new_store(JournalConfig::default());
    append_batch(&mut journal, 3, 4);
    journal.append(timestamp_of(4), b"pending").expect("append");
    let error = journal.write_snapshot(4, b"too early").expect_err("ahead");
    assert!(
        matches!(
            error,
            JournalError::SnapshotAhead {
                sequence: 4,
                last_sequence: 3
            }
        ),
        "{error}"
    );
    assert_eq!(error.code(), "snapshot_ahead");
    assert!(!snapshot_path(&dir, 4).exists());
    journal.write_snapshot(0, b"initial").expect("snapshot 0");
    let snapshot = journal.latest_snapshot().expect("latest").expect("some");
    assert_eq!((snapshot.sequence, snapshot.record_hash), (0, GENESIS_HASH));
}

// Goal: snapshots that do not belong to this journal's history are skipped: one ahead of the
// journal's end, and one whose record hash is another history's.
#[test]
fn snapshots_from_another_history_are_skipped() {
    let (_temp_a, dir_a, mut journal_a) = new_store(JournalConfig::default());
    append_batch(&mut journal_a, 20, 16);
    journal_a
        .write_snapshot(15, b"a at fifteen")
        .expect("snapshot");
    journal_a
        .write_snapshot(8, b"a at eight")
        .expect("snapshot");
    drop(journal_a);

    let (_temp_b, dir_b, mut journal_b) = new_store(JournalConfig::default());
    append_batch(&mut journal_b, 10, 17);
    journal_b
        .write_snapshot(3, b"b at three")
        .expect("snapshot");
    fs::copy(snapshot_path(&dir_a, 15), snapshot_path(&dir_b, 15)).expect("copy");
    fs::copy(snapshot_path(&dir_a, 8), snapshot_path(&dir_b, 8)).expect("copy");
    let (snapshot, warnings) = journal_b.latest_snapshot_with_warnings().expect("latest");
    assert_eq!(snapshot.expect("some").state, b"b at three");
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].contains("journal ends at 10"),
        "{}",
        warnings[0]
    );
    assert!(warnings[1].contains("record hash"), "{}", warnings[1]);
}

#[test]
fn pruning_keeps_the_newest_snapshots_and_recovery_still_uses_the_latest() {
    // Goal: old snapshots can be removed without losing the newest one, and a
    // read-only handle may not prune.
    let (_temp, dir, mut journal) = crate::common::new_store(ets_journal::JournalConfig::default());
    for round in 1..=4u64 {
        crate::common::append_batch(&mut journal, 2, 8);
        journal
            .write_snapshot(round * 2, format!("state {round}").as_bytes())
            .expect("snapshot");
    }
    assert_eq!(journal.prune_snapshots(2).expect("prune"), 2);
    assert_eq!(journal.prune_snapshots(0).expect("prune keeps one"), 1);
    let latest = journal.latest_snapshot().expect("read").expect("one left");
    assert_eq!(
        (latest.sequence, latest.state.as_slice()),
        (8, b"state 4".as_slice())
    );
    drop(journal);
    let mut reader =
        ets_journal::Journal::open_read_only(&dir, ets_journal::JournalConfig::default())
            .expect("open");
    assert!(matches!(
        reader.prune_snapshots(1),
        Err(ets_journal::JournalError::ReadOnly)
    ));
}
