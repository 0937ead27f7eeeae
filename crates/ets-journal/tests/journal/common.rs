//! Shared helpers: building stores, damaging files, and reading everything back.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use ets_journal::{Journal, JournalConfig, JournalError, Record};
use tempfile::TempDir;

/// A deterministic payload for record `sequence`, `size_bytes` long.
pub fn payload(sequence: u64, size_bytes: usize) -> Vec<u8> {
    let seed = sequence.to_le_bytes();
    (0..size_bytes)
        .map(|index| seed[index % 8] ^ (index as u8).wrapping_mul(31))
        .collect()
}

/// A config whose segments hold at most `limit_bytes`.
pub fn config_with_limit(limit_bytes: u64) -> JournalConfig {
    JournalConfig {
        segment_size_limit_bytes: limit_bytes,
    }
}

/// A fresh temp directory with a store in its `store` subdirectory (created by `create`).
pub fn new_store(config: JournalConfig) -> (TempDir, PathBuf, Journal) {
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = temp.path().join("store");
    let journal = Journal::create(&dir, config).expect("create");
    (temp, dir, journal)
}

/// Appends records `last+1 ..= last+count` (payload of `payload_bytes`, timestamp = 1000 × sequence)
/// and commits them as one batch.
pub fn append_batch(journal: &mut Journal, count: u64, payload_bytes: usize) {
    for _ in 0..count {
        let sequence = journal.last_sequence() + journal.pending() as u64 + 1;
        let assigned = journal
            .append(timestamp_of(sequence), &payload(sequence, payload_bytes))
            .expect("append");
        assert_eq!(assigned, sequence);
    }
    journal.commit().expect("commit");
}

/// The timestamp `append_batch` gives record `sequence`.
pub fn timestamp_of(sequence: u64) -> i64 {
    1_700_000_000_000 + 1000 * sequence as i64
}

/// Every record from `first_sequence` on.
pub fn read_all(journal: &Journal, first_sequence: u64) -> Vec<Record> {
    journal
        .read_from(first_sequence)
        .expect("reader")
        .collect::<Result<Vec<_>, _>>()
        .expect("records read back")
}

/// Checks that `records` are consecutive and each links to the one before.
pub fn assert_chained(records: &[Record]) {
    for pair in records.windows(2) {
        assert_eq!(
            pair[1].sequence,
            pair[0].sequence + 1,
            "gap after {}",
            pair[0].sequence
        );
        assert_eq!(
            pair[1].previous_hash, pair[0].hash,
            "chain break at {}",
            pair[1].sequence
        );
    }
}

/// The store's segment files, oldest first.
pub fn segment_paths(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .expect("read dir")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "seg"))
        .collect();
    paths.sort();
    paths
}

/// A copy of the store in `dir` (without its LOCK) in a fresh temp directory.
pub fn copy_store(dir: &Path) -> (TempDir, PathBuf) {
    let temp = tempfile::tempdir().expect("temp dir");
    let copy = temp.path().join("store");
    fs::create_dir(&copy).expect("mkdir");
    for entry in fs::read_dir(dir).expect("read dir") {
        let entry = entry.expect("entry");
        if entry.file_name() != "LOCK" {
            fs::copy(entry.path(), copy.join(entry.file_name())).expect("copy");
        }
    }
    (temp, copy)
}

/// XORs the byte at `offset` of `path` with `mask`.
pub fn flip_byte(path: &Path, offset: u64, mask: u8) {
    let mut bytes = fs::read(path).expect("read");
    bytes[offset as usize] ^= mask;
    fs::write(path, bytes).expect("write");
}

/// Cuts `path` to `len_bytes`.
pub fn truncate(path: &Path, len_bytes: u64) {
    let file = OpenOptions::new().write(true).open(path).expect("open");
    file.set_len(len_bytes).expect("truncate");
}

/// The size of `path` in bytes.
pub fn file_len(path: &Path) -> u64 {
    fs::metadata(path).expect("metadata").len()
}

/// Unpacks a `Corrupt` error, failing the test on anything else.
pub fn expect_corrupt<T>(result: Result<T, JournalError>) -> (PathBuf, u64, String) {
    match result {
        Err(JournalError::Corrupt {
            path,
            offset,
            reason,
        }) => (path, offset, reason),
        Err(other) => panic!("expected Corrupt, got {other}"),
        Ok(_) => panic!("expected Corrupt, got success"),
    }
}
