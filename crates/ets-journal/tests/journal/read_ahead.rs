//! Reading ahead on a thread of its own gives exactly what the plain reader gives, and opening
//! read-only with the scan streaming its records gives what opening and then reading give.

use ets_journal::{
    Journal, JournalConfig, JournalError, Record, SEGMENT_HEADER_BYTES, record_size_bytes,
};

use crate::common::{append_batch, config_with_limit, flip_byte, new_store, segment_paths};

const PAYLOAD_BYTES: usize = 40;

fn collect(
    records: impl Iterator<Item = Result<Record, JournalError>>,
) -> (Vec<Record>, Option<String>) {
    let mut read = Vec::new();
    for record in records {
        match record {
            Ok(record) => read.push(record),
            Err(error) => return (read, Some(error.to_string())),
        }
    }
    (read, None)
}

// Goal: across several segments and several of the reading thread's
// batches, from the first record and from one in the middle, reading ahead
// yields the same records in the same order as the plain reader.
#[test]
fn read_ahead_yields_what_the_plain_reader_yields() {
    let (_temp, _dir, mut journal) = new_store(config_with_limit(64 * 1024));
    for _ in 0..5 {
        append_batch(&mut journal, 1_000, PAYLOAD_BYTES);
    }
    assert!(
        journal.stats().segments > 2,
        "the test needs several segments"
    );
    for first in [1, 2_500, 5_000, 5_001] {
        let plain = collect(journal.read_from(first).expect("reader"));
        let ahead = collect(journal.read_ahead_from(first).expect("read ahead"));
        assert_eq!(ahead.1, None);
        assert_eq!(plain.0, ahead.0, "from {first}");
        assert_eq!(ahead.0.len() as u64, 5_001_u64.saturating_sub(first.max(1)));
    }
}

/// A journal of 3,000 records whose record `damaged` has a flipped byte.
fn damaged_at(damaged: u64) -> (tempfile::TempDir, Journal) {
    let (temp, dir, mut journal) = new_store(JournalConfig::default());
    append_batch(&mut journal, 3_000, PAYLOAD_BYTES);
    let offset =
        SEGMENT_HEADER_BYTES as u64 + (damaged - 1) * record_size_bytes(PAYLOAD_BYTES) as u64;
    flip_byte(&segment_paths(&dir)[0], offset + 30, 0x01);
    (temp, journal)
}

// Goal: damage found while reading ahead comes out after exactly the intact
// records before it, as the same error, and nothing follows it.
#[test]
fn read_ahead_stops_at_damage_after_the_records_before_it() {
    let damaged = 2_100_u64;
    let (_temp, journal) = damaged_at(damaged);
    let plain = collect(journal.read_from(1).expect("reader"));
    let mut ahead_reader = journal.read_ahead_from(1).expect("read ahead");
    let ahead = collect(&mut ahead_reader);
    assert_eq!(ahead.0.len() as u64, damaged - 1);
    assert_eq!(plain, ahead);
    assert!(ahead.1.is_some_and(|error| error.contains("CRC32C")));
    assert!(ahead_reader.next().is_none());
}

// Goal: a caller that stops early (a replay that found a mismatch) stops
// the reading thread; dropping the reader returns instead of waiting forever.
#[test]
fn dropping_a_read_ahead_early_stops_its_thread() {
    let (_temp, _dir, mut journal) = new_store(JournalConfig::default());
    append_batch(&mut journal, 20_000, PAYLOAD_BYTES);
    let mut ahead = journal.read_ahead_from(1).expect("read ahead");
    assert_eq!(ahead.next().expect("a record").expect("intact").sequence, 1);
    drop(ahead);
}

/// Everything a single-pass read-only open streams, then the error or the
/// journal it opened.
fn open_ahead(dir: &std::path::Path) -> (Vec<Record>, Result<Journal, String>) {
    let mut ahead =
        Journal::open_read_only_ahead(dir, JournalConfig::default()).expect("thread starts");
    let (records, error) = collect(&mut ahead);
    let opened = match error {
        Some(error) => Err(error),
        None => ahead.into_journal().ok_or_else(|| "no journal".to_owned()),
    };
    (records, opened)
}

// Goal: opening read-only with the scan streaming its records gives the
// records, stats and head that opening read-only and then reading give,
// across several segments and several of the thread's batches.
#[test]
fn opening_ahead_yields_what_opening_then_reading_yields() {
    let (_temp, dir, mut journal) = new_store(config_with_limit(64 * 1024));
    for _ in 0..5 {
        append_batch(&mut journal, 1_000, PAYLOAD_BYTES);
    }
    assert!(
        journal.stats().segments > 2,
        "the test needs several segments"
    );
    drop(journal);
    let opened = Journal::open_read_only(&dir, JournalConfig::default()).expect("opens");
    let plain = collect(opened.read_from(1).expect("reader"));
    let (records, ahead) = open_ahead(&dir);
    let ahead = ahead.expect("opens ahead");
    assert_eq!(plain, (records, None));
    assert_eq!(ahead.stats(), opened.stats());
    assert_eq!(ahead.recovery_warnings(), opened.recovery_warnings());
}

// Goal: a torn tail ends the streamed records where a read-only open's
// readable records end, is left in place, and is reported the same way.
#[test]
fn opening_ahead_stops_before_a_torn_tail_and_reports_it() {
    let (_temp, dir, mut journal) = new_store(JournalConfig::default());
    append_batch(&mut journal, 3_000, PAYLOAD_BYTES);
    drop(journal);
    std::fs::remove_file(dir.join("SUPERBLOCK")).expect("a clean close wrote the superblock");
    let segment = segment_paths(&dir)[0].clone();
    let length = std::fs::metadata(&segment).expect("segment").len();
    let torn_at = length - record_size_bytes(PAYLOAD_BYTES) as u64 / 2;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .and_then(|file| file.set_len(torn_at))
        .expect("cut");
    let opened = Journal::open_read_only(&dir, JournalConfig::default()).expect("opens");
    let plain = collect(opened.read_from(1).expect("reader"));
    let (records, ahead) = open_ahead(&dir);
    let ahead = ahead.expect("a torn tail opens");
    assert_eq!(records.len(), 2_999);
    assert_eq!(plain, (records, None));
    assert_eq!(ahead.recovery_warnings().len(), 1);
    assert_eq!(ahead.recovery_warnings(), opened.recovery_warnings());
    assert_eq!(std::fs::metadata(&segment).expect("segment").len(), torn_at);
}

// Goal: damage inside the journal comes out of the stream after exactly the
// intact records before it, as the error a read-only open gives.
#[test]
fn opening_ahead_stops_at_damage_with_the_error_an_open_gives() {
    let (_temp, dir, mut journal) = new_store(JournalConfig::default());
    append_batch(&mut journal, 3_000, PAYLOAD_BYTES);
    drop(journal);
    let damaged = 2_100_u64;
    let offset =
        SEGMENT_HEADER_BYTES as u64 + (damaged - 1) * record_size_bytes(PAYLOAD_BYTES) as u64;
    flip_byte(&segment_paths(&dir)[0], offset + 30, 0x01);
    let refused = Journal::open_read_only(&dir, JournalConfig::default())
        .map(drop)
        .expect_err("damage is refused");
    let (records, ahead) = open_ahead(&dir);
    assert_eq!(records.len() as u64, damaged - 1);
    assert_eq!(ahead.map(drop), Err(refused.to_string()));
}

// Goal: a mapped stream hands over what the function made of each checked
// record, in order, and taken batch by batch (mixed with single records)
// it gives the same records and the same damage error as the plain reader.
#[test]
fn mapped_batches_yield_what_the_plain_reader_yields_then_the_damage() {
    let damaged = 2_100_u64;
    let (_temp, journal) = damaged_at(damaged);
    let (plain, plain_error) = collect(journal.read_from(1).expect("reader"));
    let mut ahead = journal
        .read_ahead_from_map(1, |record| (record.sequence, record.payload.to_vec()))
        .expect("read ahead");
    let mut mapped = vec![ahead.next().expect("a record").expect("intact")];
    let mut error = None;
    while let Some(batch) = ahead.next_batch() {
        match batch {
            Ok(batch) => mapped.extend(batch),
            Err(failed) => error = Some(failed.to_string()),
        }
    }
    let expected: Vec<(u64, Vec<u8>)> = plain
        .into_iter()
        .map(|record| (record.sequence, record.payload))
        .collect();
    assert_eq!(mapped.len() as u64, damaged - 1);
    assert_eq!(mapped, expected);
    assert_eq!(error, plain_error);
    assert!(ahead.next_batch().is_none());
}
