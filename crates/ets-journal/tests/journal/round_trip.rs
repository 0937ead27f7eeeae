//! Appending, committing, reopening and reading back; segments; locking; refusals; the faulted state.

use std::fs;

use ets_journal::{
    GENESIS_HASH, Journal, JournalConfig, JournalError, MAX_BATCH_BYTES, MAX_PAYLOAD_BYTES,
    SEGMENT_HEADER_BYTES, record_size_bytes,
};

use crate::common::{
    append_batch, assert_chained, config_with_limit, file_len, new_store, payload, read_all,
    segment_paths, timestamp_of,
};

// Goal: records committed in several batches come back identical after a reopen, gap-free from 1,
// each chained to the one before, and the stats agree.
#[test]
fn committed_records_survive_reopen_and_read_back_identically() {
    let (_temp, dir, mut journal) = new_store(JournalConfig::default());
    assert_eq!(journal.last_sequence(), 0);
    assert_eq!(journal.last_hash(), GENESIS_HASH);
    assert_eq!(journal.last_timestamp_ms(), None);
    append_batch(&mut journal, 40, 100);
    append_batch(&mut journal, 1, 0);
    append_batch(&mut journal, 59, 37);
    let stats_before = journal.stats();
    drop(journal);

    let journal = Journal::open(&dir, JournalConfig::default()).expect("open");
    assert!(journal.recovery_warnings().is_empty());
    assert_eq!(journal.stats(), stats_before);
    assert_eq!(journal.last_sequence(), 100);
    assert_eq!(journal.last_timestamp_ms(), Some(timestamp_of(100)));
    let records = read_all(&journal, 1);
    assert_eq!(records.len(), 100);
    assert_eq!(records[0].sequence, 1);
    assert_eq!(records[0].previous_hash, GENESIS_HASH);
    assert_chained(&records);
    for record in &records {
        let size = match record.sequence {
            1..=40 => 100,
            41 => 0,
            _ => 37,
        };
        assert_eq!(record.payload, payload(record.sequence, size));
        assert_eq!(record.timestamp_ms, timestamp_of(record.sequence));
    }
    assert_eq!(journal.last_hash(), records[99].hash);
    let expected_bytes = SEGMENT_HEADER_BYTES as u64
        + 40 * record_size_bytes(100) as u64
        + record_size_bytes(0) as u64
        + 59 * record_size_bytes(37) as u64;
    assert_eq!(stats_before.bytes, expected_bytes);
    assert_eq!(stats_before.records, 100);
    assert_eq!(stats_before.segments, 1);
    assert_eq!(file_len(&segment_paths(&dir)[0]), expected_bytes);
}

// Goal: read_from starts exactly at the requested sequence wherever it falls (segment start, around
// the in-memory index interval, the last record), and past the end yields nothing.
#[test]
fn read_from_the_middle_starts_at_the_requested_sequence() {
    let (_temp, _dir, mut journal) = new_store(JournalConfig::default());
    append_batch(&mut journal, 3000, 8);
    for first in [0, 1, 2, 1023, 1024, 1025, 2047, 2048, 2049, 2999, 3000] {
        let records = read_all(&journal, first);
        let start = first.max(1);
        assert_eq!(records.len() as u64, 3001 - start, "from {first}");
        assert_eq!(records[0].sequence, start);
        assert_eq!(records[0].payload, payload(start, 8));
        assert_chained(&records);
    }
    assert!(read_all(&journal, 3001).is_empty());
    assert!(read_all(&journal, u64::MAX).is_empty());
}

// Goal: uncommitted records are invisible to readers and to last_*; discard rewinds the sequence and
// chain to the last committed record; a reopen loses what was never committed.
#[test]
fn uncommitted_records_are_invisible_and_discard_rewinds() {
    let (_temp, dir, mut journal) = new_store(JournalConfig::default());
    append_batch(&mut journal, 3, 10);
    let committed_hash = journal.last_hash();
    assert_eq!(
        journal.append(timestamp_of(4), b"pending").expect("append"),
        4
    );
    assert_eq!(
        journal.append(timestamp_of(5), b"pending").expect("append"),
        5
    );
    assert_eq!(journal.pending(), 2);
    assert_eq!(journal.last_sequence(), 3);
    assert_eq!(journal.last_hash(), committed_hash);
    let reader = journal.read_from(1).expect("reader");
    assert_eq!(reader.count(), 3);

    journal.discard_pending();
    assert_eq!(journal.pending(), 0);
    assert_eq!(journal.append(timestamp_of(4), b"kept").expect("append"), 4);
    journal.commit().expect("commit");
    let records = read_all(&journal, 4);
    assert_eq!(records[0].previous_hash, committed_hash);
    assert_eq!(records[0].payload, b"kept");

    journal.append(timestamp_of(5), b"lost").expect("append");
    drop(journal);
    let journal = Journal::open(&dir, JournalConfig::default()).expect("open");
    assert_eq!(journal.last_sequence(), 4);
    assert!(journal.recovery_warnings().is_empty());
}

// Goal: with a tiny size limit, segments roll over without exceeding it, are named by their first
// sequence, and reads (including from the middle of a segment) cross them after a reopen; a record
// larger than the limit gets a segment of its own.
#[test]
fn segments_roll_over_at_the_size_limit_and_read_across() {
    let record_bytes = record_size_bytes(40) as u64;
    let limit_bytes = SEGMENT_HEADER_BYTES as u64 + 3 * record_bytes;
    let config = config_with_limit(limit_bytes);
    let (_temp, dir, mut journal) = new_store(config);
    for _ in 0..7 {
        append_batch(&mut journal, 7, 40);
    }
    append_batch(&mut journal, 2, 40);
    assert_eq!(journal.stats().segments, 17);
    let big = journal
        .append(timestamp_of(52), &payload(52, 2000))
        .expect("append");
    journal.commit().expect("commit");
    append_batch(&mut journal, 2, 40);
    drop(journal);

    let journal = Journal::open(&dir, config).expect("open");
    let paths = segment_paths(&dir);
    assert_eq!(journal.stats().segments, paths.len());
    let mut expected_firsts: Vec<u64> = (0..17).map(|position| 3 * position + 1).collect();
    expected_firsts.extend([52, 53]);
    assert_eq!(paths.len(), expected_firsts.len());
    for (path, first) in paths.iter().zip(&expected_firsts) {
        let expected_name = format!("journal-{first:020}.seg");
        assert_eq!(
            path.file_name().and_then(|name| name.to_str()),
            Some(expected_name.as_str())
        );
        if *first != big {
            assert!(
                file_len(path) <= limit_bytes,
                "{} too large",
                path.display()
            );
        }
    }
    assert_eq!(
        file_len(&paths[17]),
        SEGMENT_HEADER_BYTES as u64 + record_size_bytes(2000) as u64
    );
    let records = read_all(&journal, 1);
    assert_eq!(records.len(), 54);
    assert_chained(&records);
    assert_eq!(records[(big - 1) as usize].payload, payload(big, 2000));
    let from_middle = read_all(&journal, 29);
    assert_eq!(from_middle[0].sequence, 29);
    assert_eq!(from_middle.len(), 26);
    assert_eq!(
        journal.stats().bytes,
        paths.iter().map(|path| file_len(path)).sum::<u64>()
    );
}

// Goal: create refuses a directory that already holds a journal; open refuses a directory that holds
// none (and leaves no LOCK file behind in it).
#[test]
fn create_and_open_refuse_the_wrong_kind_of_directory() {
    let (temp, dir, journal) = new_store(JournalConfig::default());
    drop(journal);
    let error = Journal::create(&dir, JournalConfig::default()).expect_err("already exists");
    assert!(
        matches!(error, JournalError::AlreadyExists { .. }),
        "{error}"
    );
    assert_eq!(error.code(), "already_exists");

    let empty = temp.path().join("empty");
    fs::create_dir(&empty).expect("mkdir");
    let error = Journal::open(&empty, JournalConfig::default()).expect_err("not a store");
    assert!(matches!(error, JournalError::NotAStore { .. }), "{error}");
    assert!(!empty.join("LOCK").exists());
    let missing = temp.path().join("missing");
    let error = Journal::open(&missing, JournalConfig::default()).expect_err("not a store");
    assert_eq!(error.code(), "not_a_store");
    assert_eq!(
        Journal::verify(&missing).expect_err("not a store").code(),
        "not_a_store"
    );
}

// Goal: while one handle is open, a second open (or create) gets Locked; verify still works; after
// the first handle is dropped the store opens again.
#[test]
fn second_open_is_refused_while_the_first_is_alive() {
    let (_temp, dir, mut journal) = new_store(JournalConfig::default());
    append_batch(&mut journal, 2, 5);
    let error = Journal::open(&dir, JournalConfig::default()).expect_err("locked");
    assert!(matches!(error, JournalError::Locked { .. }), "{error}");
    assert_eq!(error.code(), "locked");
    let error = Journal::create(&dir, JournalConfig::default()).expect_err("locked");
    assert_eq!(error.code(), "locked");
    let (stats, warnings) = Journal::verify(&dir).expect("verify");
    assert_eq!(stats.last_sequence, 2);
    assert!(warnings.is_empty());
    drop(journal);
    let journal = Journal::open(&dir, JournalConfig::default()).expect("open after release");
    assert_eq!(journal.last_sequence(), 2);
}

// Goal: an equal timestamp is accepted, an earlier one is refused with both values named and changes
// nothing, and after a discard the check is against the last committed record.
#[test]
fn timestamps_never_go_backwards() {
    let (_temp, _dir, mut journal) = new_store(JournalConfig::default());
    journal.append(100, b"a").expect("append");
    journal.append(100, b"b").expect("equal timestamp is fine");
    let error = journal.append(99, b"c").expect_err("backwards");
    assert!(matches!(
        error,
        JournalError::TimeWentBackwards {
            previous_ms: 100,
            given_ms: 99
        }
    ));
    assert_eq!(journal.pending(), 2);
    journal.commit().expect("commit");
    journal.append(500, b"d").expect("append");
    journal.discard_pending();
    journal
        .append(200, b"e")
        .expect("checked against committed 100, not discarded 500");
    journal.commit().expect("commit");
    assert_eq!(journal.last_timestamp_ms(), Some(200));
    assert_eq!(
        journal.append(199, b"f").expect_err("backwards").code(),
        "time_went_backwards"
    );
}

// Goal: a payload of exactly the limit is accepted and read back; one byte more is refused and changes
// nothing; a batch that would pass MAX_BATCH_BYTES is refused until committed or discarded.
#[test]
fn oversized_payloads_and_batches_are_refused() {
    let (_temp, _dir, mut journal) = new_store(JournalConfig::default());
    let largest = vec![0xAB; MAX_PAYLOAD_BYTES];
    journal.append(1, &largest).expect("largest payload");
    let error = journal
        .append(1, &vec![0; MAX_PAYLOAD_BYTES + 1])
        .expect_err("too large");
    assert!(matches!(
        error,
        JournalError::PayloadTooLarge { size_bytes, limit_bytes }
            if size_bytes == MAX_PAYLOAD_BYTES + 1 && limit_bytes == MAX_PAYLOAD_BYTES
    ));
    assert_eq!(journal.pending(), 1);
    journal.commit().expect("commit");
    assert_eq!(read_all(&journal, 1)[0].payload, largest);

    let fitting = MAX_BATCH_BYTES / record_size_bytes(MAX_PAYLOAD_BYTES);
    for _ in 0..fitting {
        journal.append(2, &largest).expect("fits in the batch");
    }
    let error = journal.append(2, &largest).expect_err("batch full");
    assert_eq!(error.code(), "batch_too_large");
    assert_eq!(journal.pending(), fitting);
    journal.discard_pending();
    journal.append(2, &largest).expect("room again");
}

// Goal: an I/O failure in commit faults the journal: later appends, commits and snapshots get Faulted,
// committed reads still work, and a reopen recovers with every record durable before the failure.
#[test]
fn io_failure_faults_the_journal_until_reopened() {
    let record_bytes = record_size_bytes(40) as u64;
    let config = config_with_limit(SEGMENT_HEADER_BYTES as u64 + 3 * record_bytes);
    let (_temp, dir, mut journal) = new_store(config);
    append_batch(&mut journal, 3, 40);
    // The next commit must start segment 4; a directory squatting on its name makes that fail.
    let blocker = dir.join(format!("journal-{:020}.seg", 4));
    fs::create_dir(&blocker).expect("mkdir blocker");
    journal.append(timestamp_of(4), b"doomed").expect("append");
    let error = journal.commit().expect_err("commit fails");
    assert_eq!(error.code(), "io", "{error}");
    assert_eq!(
        journal
            .append(timestamp_of(5), b"x")
            .expect_err("faulted")
            .code(),
        "faulted"
    );
    assert_eq!(journal.commit().expect_err("faulted").code(), "faulted");
    assert_eq!(
        journal.write_snapshot(3, b"s").expect_err("faulted").code(),
        "faulted"
    );
    assert_eq!(read_all(&journal, 1).len(), 3);
    assert_eq!(journal.last_sequence(), 3);
    drop(journal);

    fs::remove_dir(&blocker).expect("remove blocker");
    let mut journal = Journal::open(&dir, config).expect("reopen");
    assert_eq!(journal.last_sequence(), 3);
    append_batch(&mut journal, 2, 40);
    let records = read_all(&journal, 1);
    assert_eq!(records.len(), 5);
    assert_chained(&records);
}

// Goal: the handle and its reader can move to another thread (the sequencer's).
#[test]
fn journal_and_reader_are_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Journal>();
    assert_send::<ets_journal::RecordReader>();
    assert_send::<JournalError>();
}
