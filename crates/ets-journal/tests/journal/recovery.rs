//! Crash recovery and damage detection: torn tails are truncated, everything else is corruption.

use std::fs;
use std::path::Path;

use ets_journal::{Journal, JournalConfig, JournalError, SEGMENT_HEADER_BYTES, record_size_bytes};

use crate::common::{
    append_batch, assert_chained, config_with_limit, copy_store, expect_corrupt, file_len,
    flip_byte, new_store, read_all, segment_paths, timestamp_of, truncate,
};

const PAYLOAD_BYTES: usize = 8;

/// A named way of damaging a segment file.
type Damage = (&'static str, fn(&Path));

/// A change made to a record body before it is re-sealed.
type BodyEdit = fn(&mut [u8]);

/// Offset of record `sequence` in a single-segment store of `PAYLOAD_BYTES` payloads.
fn record_offset(sequence: u64) -> u64 {
    SEGMENT_HEADER_BYTES as u64 + (sequence - 1) * record_size_bytes(PAYLOAD_BYTES) as u64
}

/// A single-segment store holding records 1..=`count` as a crash leaves it:
/// closed without the clean-close superblock, so a damaged final record may
/// be the torn write of an unacknowledged batch. Returns its temp dir, dir
/// and records.
fn closed_store(
    count: u64,
) -> (
    tempfile::TempDir,
    std::path::PathBuf,
    Vec<ets_journal::Record>,
) {
    let (temp, dir, mut journal) = new_store(JournalConfig::default());
    append_batch(&mut journal, count - 2, PAYLOAD_BYTES);
    append_batch(&mut journal, 2, PAYLOAD_BYTES);
    let records = read_all(&journal, 1);
    drop(journal);
    fs::remove_file(dir.join("SUPERBLOCK")).expect("a clean close wrote the superblock");
    (temp, dir, records)
}

// Goal: after a clean close (or a snapshot) the superblock proves the last record durable, so
// damage to it, a cut at a record boundary or a deleted last segment is a loss naming the
// missing records, never a torn tail truncated as "ok"; no sequence number is handed out again.
#[test]
fn damage_to_a_record_the_superblock_proves_durable_is_a_loss_not_a_torn_tail() {
    let (_temp, dir, mut journal) = new_store(JournalConfig::default());
    append_batch(&mut journal, 5, PAYLOAD_BYTES);
    drop(journal);
    let segment = segment_paths(&dir)[0].clone();
    let cases: [Damage; 3] = [
        ("cut at the record boundary", |segment| {
            truncate(segment, record_offset(5));
        }),
        ("flip in the final record", |segment| {
            flip_byte(segment, record_offset(5) + 40, 0x01);
        }),
        ("zeroed final record", |segment| {
            let mut bytes = fs::read(segment).expect("read");
            let start = record_offset(5) as usize;
            bytes[start..].fill(0);
            fs::write(segment, bytes).expect("write");
        }),
    ];
    for (name, damage) in cases {
        let (_copy_temp, copy) = copy_store(&dir);
        damage(&segment_paths(&copy)[0]);
        for opened in [
            Journal::open(&copy, JournalConfig::default()).map(drop),
            Journal::open_read_only(&copy, JournalConfig::default()).map(drop),
            Journal::verify(&copy).map(drop),
            drain_ahead(&copy),
        ] {
            match opened {
                Err(JournalError::RecordsLost {
                    last_sequence,
                    durable_sequence,
                    ..
                }) => assert_eq!((last_sequence, durable_sequence), (4, 5), "{name}"),
                other => panic!("{name}: expected records_lost, got {other:?}"),
            }
        }
    }
    assert!(segment.exists());
}

/// Opens `dir` read-only with the scan streaming its records, and reads them
/// all: the error the stream ends with, if any.
fn drain_ahead(dir: &Path) -> Result<(), JournalError> {
    Journal::open_read_only_ahead(dir, JournalConfig::default())?
        .try_for_each(|record| record.map(drop))
}

/// Rewrites the record at `offset` with `edit` applied to its body (the bytes after the CRC field),
/// then recomputes its hash and CRC as a forger would, so only the semantic checks can catch it.
fn forge_record(path: &Path, offset: u64, edit: impl FnOnce(&mut [u8])) {
    let mut bytes = fs::read(path).expect("read");
    let start = offset as usize;
    let body_length =
        u32::from_le_bytes(bytes[start..start + 4].try_into().expect("4 bytes")) as usize;
    let body = &mut bytes[start + 8..start + 8 + body_length];
    edit(body);
    let hash_at = body.len() - 32;
    let hash = *blake3::hash(&body[..hash_at]).as_bytes();
    body[hash_at..].copy_from_slice(&hash);
    let crc = crc32c::crc32c(body);
    bytes[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    fs::write(path, bytes).expect("write");
}

// Goal: cutting the file at every byte offset inside the last record is a torn tail: open succeeds,
// warns naming the file and offset, truncates to the previous record, and appending continues the
// chain from it (checked again after a second reopen).
#[test]
fn torn_tail_at_every_byte_of_the_last_record_is_truncated_and_the_chain_continues() {
    let (_temp, dir, records) = closed_store(5);
    let last_start = record_offset(5);
    let full_len = file_len(&segment_paths(&dir)[0]);
    assert_eq!(
        full_len,
        last_start + record_size_bytes(PAYLOAD_BYTES) as u64
    );
    for cut in last_start..full_len {
        let (_copy_temp, copy) = copy_store(&dir);
        let segment = segment_paths(&copy)[0].clone();
        truncate(&segment, cut);
        let mut journal = Journal::open(&copy, JournalConfig::default()).expect("open torn store");
        let warnings = journal.recovery_warnings().to_vec();
        if cut == last_start {
            // The file ends cleanly after record 4: nothing is torn.
            assert!(warnings.is_empty(), "cut {cut}: {warnings:?}");
        } else {
            assert_eq!(warnings.len(), 1, "cut {cut}");
            assert!(
                warnings[0].contains(&segment.display().to_string()),
                "{}",
                warnings[0]
            );
            assert!(
                warnings[0].contains(&format!("offset {last_start}")),
                "{}",
                warnings[0]
            );
        }
        assert_eq!(file_len(&segment), last_start);
        assert_eq!(journal.last_sequence(), 4);
        assert_eq!(journal.last_hash(), records[3].hash);
        assert_eq!(
            journal.append(timestamp_of(5), b"again").expect("append"),
            5
        );
        journal.commit().expect("commit");
        drop(journal);
        let journal = Journal::open(&copy, JournalConfig::default()).expect("reopen");
        assert!(journal.recovery_warnings().is_empty());
        let reread = read_all(&journal, 1);
        assert_eq!(reread.len(), 5);
        assert_eq!(reread[4].previous_hash, records[3].hash);
        assert_eq!(reread[4].payload, b"again");
        assert_chained(&reread);
    }
}

// Goal: a complete final record whose CRC fails (any byte after its length field changed) is the
// last thing in the file, hence a torn tail; a changed length field is refused as corruption,
// since a torn write never alters bytes it did write.
#[test]
fn damaged_final_record_is_torn_unless_its_length_field_is_damaged() {
    let (_temp, dir, _records) = closed_store(5);
    let last_start = record_offset(5);
    let full_len = file_len(&segment_paths(&dir)[0]);
    for position in last_start + 4..full_len {
        let (_copy_temp, copy) = copy_store(&dir);
        flip_byte(&segment_paths(&copy)[0], position, 0x20);
        let journal = Journal::open(&copy, JournalConfig::default()).expect("open");
        assert_eq!(journal.recovery_warnings().len(), 1, "flip at {position}");
        assert_eq!(journal.last_sequence(), 4);
    }
    for (position, mask) in [
        (last_start, 0x01),
        (last_start, 0x40),
        (last_start + 2, 0x01),
    ] {
        let (_copy_temp, copy) = copy_store(&dir);
        let segment = segment_paths(&copy)[0].clone();
        flip_byte(&segment, position, mask);
        let (path, offset, reason) = expect_corrupt(Journal::open(&copy, JournalConfig::default()));
        assert_eq!((path, offset), (segment, last_start), "{reason}");
    }
}

// Goal: zero bytes after the last record (a file system that extended the file but never wrote the
// data), alone or after a partial record, are a torn tail; zeros followed by data are corruption.
#[test]
fn trailing_zero_bytes_are_a_torn_tail() {
    let (_temp, dir, _records) = closed_store(5);
    let full_len = file_len(&segment_paths(&dir)[0]);

    let (_copy_temp, copy) = copy_store(&dir);
    let segment = segment_paths(&copy)[0].clone();
    truncate(&segment, full_len + 4096);
    let journal = Journal::open(&copy, JournalConfig::default()).expect("open");
    assert_eq!(journal.recovery_warnings().len(), 1);
    assert_eq!(journal.last_sequence(), 5);
    assert_eq!(file_len(&segment), full_len);
    drop(journal);

    // Record 5 written up to its payload, the rest of the file zero-filled.
    let (_copy_temp, copy) = copy_store(&dir);
    let segment = segment_paths(&copy)[0].clone();
    let payload_at = record_offset(5) + 60;
    truncate(&segment, payload_at);
    truncate(&segment, full_len + 300);
    let journal = Journal::open(&copy, JournalConfig::default()).expect("open");
    assert_eq!(journal.recovery_warnings().len(), 1);
    assert_eq!(journal.last_sequence(), 4);
    drop(journal);

    let (_copy_temp, copy) = copy_store(&dir);
    let segment = segment_paths(&copy)[0].clone();
    truncate(&segment, full_len + 100);
    flip_byte(&segment, full_len + 50, 0xFF);
    let (path, offset, _reason) = expect_corrupt(Journal::open(&copy, JournalConfig::default()));
    assert_eq!((path, offset), (segment, full_len));
}

// Goal: a flipped byte anywhere in a middle record (length, CRC, sequence, timestamp, previous hash,
// payload length, payload, hash) makes open and verify fail with Corrupt naming the file and the
// record's offset, and leaves the file untouched.
#[test]
fn bit_flip_in_a_middle_record_is_corruption_naming_file_and_offset() {
    let (_temp, dir, _records) = closed_store(10);
    let start = record_offset(5);
    let record_bytes = record_size_bytes(PAYLOAD_BYTES) as u64;
    let positions = [0, 1, 3, 4, 8, 16, 24, 55, 56, 60, 67, 68, record_bytes - 1];
    for relative in positions {
        let (_copy_temp, copy) = copy_store(&dir);
        let segment = segment_paths(&copy)[0].clone();
        let len_before = file_len(&segment);
        flip_byte(&segment, start + relative, 0x04);
        let (path, offset, reason) = expect_corrupt(Journal::open(&copy, JournalConfig::default()));
        assert_eq!(
            (&path, offset),
            (&segment, start),
            "flip at +{relative}: {reason}"
        );
        let (path, offset, _reason) = expect_corrupt(Journal::verify(&copy));
        assert_eq!(
            (&path, offset),
            (&segment, start),
            "verify, flip at +{relative}"
        );
        assert_eq!(file_len(&segment), len_before);
    }
}

// Goal: records whose checksums were recomputed after tampering are still caught by the hash
// (a wrong stored hash), the sequence check and the hash chain, each with its reason.
#[test]
fn forged_records_with_valid_checksums_are_caught_by_hash_sequence_and_chain() {
    let (_temp, dir, _records) = closed_store(10);
    let start = record_offset(5);
    let cases: [(&str, BodyEdit); 3] = [
        ("sequence 6 where 5", |body| body[0] = 6),
        ("hash chain broken", |body| body[20] ^= 1),
        ("earlier than the previous", |body| {
            body[8..16].copy_from_slice(&0i64.to_le_bytes())
        }),
    ];
    for (expected_reason, edit) in cases {
        let (_copy_temp, copy) = copy_store(&dir);
        let segment = segment_paths(&copy)[0].clone();
        forge_record(&segment, start, edit);
        let (_path, offset, reason) =
            expect_corrupt(Journal::open(&copy, JournalConfig::default()));
        assert_eq!(offset, start);
        assert!(reason.contains(expected_reason), "{reason}");
    }
    // A stored hash that does not match, with a CRC that does.
    let (_copy_temp, copy) = copy_store(&dir);
    let segment = segment_paths(&copy)[0].clone();
    let mut bytes = fs::read(&segment).expect("read");
    let hash_at = (start + record_size_bytes(PAYLOAD_BYTES) as u64 - 32) as usize;
    bytes[hash_at] ^= 1;
    let crc_start = start as usize + 8;
    let crc = crc32c::crc32c(&bytes[crc_start..hash_at + 32]);
    bytes[start as usize + 4..crc_start].copy_from_slice(&crc.to_le_bytes());
    fs::write(&segment, bytes).expect("write");
    let (_path, offset, reason) = expect_corrupt(Journal::open(&copy, JournalConfig::default()));
    assert_eq!(offset, start);
    assert!(reason.contains("BLAKE3"), "{reason}");
}

// Goal: a damaged segment header is corruption at offset 0, a newer format version is reported as
// such, and a torn or damaged end of a segment that is not the last is corruption, not a torn tail.
#[test]
fn segment_damage_outside_the_last_tail_is_corruption() {
    let record_bytes = record_size_bytes(PAYLOAD_BYTES) as u64;
    let config = config_with_limit(SEGMENT_HEADER_BYTES as u64 + 3 * record_bytes);
    let (_temp, dir, mut journal) = new_store(config);
    append_batch(&mut journal, 9, PAYLOAD_BYTES);
    drop(journal);

    let (_copy_temp, copy) = copy_store(&dir);
    let second = segment_paths(&copy)[1].clone();
    flip_byte(&second, 30, 0x01);
    let (path, offset, _reason) = expect_corrupt(Journal::open(&copy, config));
    assert_eq!((path, offset), (second, 0));

    let (_copy_temp, copy) = copy_store(&dir);
    let first = segment_paths(&copy)[0].clone();
    flip_byte(&first, 8, 0x03);
    let error = Journal::open(&copy, config).expect_err("unsupported");
    assert!(
        matches!(error, JournalError::UnsupportedVersion { found: 2, .. }),
        "{error}"
    );

    let (_copy_temp, copy) = copy_store(&dir);
    let first = segment_paths(&copy)[0].clone();
    let first_len = file_len(&first);
    truncate(&first, first_len - 1);
    let (path, offset, reason) = expect_corrupt(Journal::open(&copy, config));
    assert_eq!((path, offset), (first, first_len - record_bytes));
    assert!(reason.contains("not the last"), "{reason}");

    let (_copy_temp, copy) = copy_store(&dir);
    let second = segment_paths(&copy)[1].clone();
    fs::remove_file(&second).expect("remove");
    let third = segment_paths(&copy)[1].clone();
    let (path, offset, reason) = expect_corrupt(Journal::open(&copy, config));
    assert_eq!((path, offset), (third, 0));
    assert!(reason.contains("missing"), "{reason}");
}

// Goal: a last segment whose header a crash cut short is reported by verify (and kept), then removed
// by open with a warning, after which appends start that segment again properly.
#[test]
fn interrupted_segment_creation_is_removed_at_open() {
    let record_bytes = record_size_bytes(PAYLOAD_BYTES) as u64;
    let config = config_with_limit(SEGMENT_HEADER_BYTES as u64 + 3 * record_bytes);
    let (_temp, dir, mut journal) = new_store(config);
    append_batch(&mut journal, 6, PAYLOAD_BYTES);
    drop(journal);
    let partial = dir.join(format!("journal-{:020}.seg", 7));
    fs::write(&partial, b"ETSJRNL\0\x01\0").expect("write partial header");

    let (stats, warnings) = Journal::verify(&dir).expect("verify");
    assert_eq!(stats.last_sequence, 6);
    assert_eq!(warnings.len(), 1);
    assert!(partial.exists());

    let mut journal = Journal::open(&dir, config).expect("open");
    assert_eq!(journal.recovery_warnings().len(), 1);
    assert!(journal.recovery_warnings()[0].contains("interrupted creation"));
    assert!(!partial.exists());
    append_batch(&mut journal, 1, PAYLOAD_BYTES);
    assert!(partial.exists());
    assert_chained(&read_all(&journal, 1));
}

// Goal: verify reports a torn tail without repairing it or taking the lock; open then repairs it.
#[test]
fn verify_reports_a_torn_tail_without_repairing_it() {
    let (_temp, dir, _records) = closed_store(5);
    let segment = segment_paths(&dir)[0].clone();
    let cut = record_offset(5) + 10;
    truncate(&segment, cut);
    let (stats, warnings) = Journal::verify(&dir).expect("verify");
    assert_eq!(stats.last_sequence, 4);
    assert_eq!(stats.records, 4);
    assert_eq!(stats.bytes, record_offset(5));
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("torn tail"), "{}", warnings[0]);
    assert_eq!(file_len(&segment), cut);
    let journal = Journal::open(&dir, JournalConfig::default()).expect("open");
    assert_eq!(file_len(&segment), record_offset(5));
    assert_eq!(journal.recovery_warnings().len(), 1);
}

// Goal: leftover temp files from interrupted writes are removed at open; other files are left alone.
#[test]
fn leftover_temp_files_are_removed_at_open() {
    let (_temp, dir, _records) = closed_store(3);
    let temp_snapshot = dir.join(format!("snapshot-{:020}.snap.tmp", 2));
    let foreign = dir.join("notes.tmp");
    fs::write(&temp_snapshot, b"half").expect("write");
    fs::write(&foreign, b"mine").expect("write");
    let journal = Journal::open(&dir, JournalConfig::default()).expect("open");
    assert!(!temp_snapshot.exists());
    assert!(foreign.exists());
    assert!(journal.recovery_warnings().is_empty());
}

// Goal: damage that appears after open is caught when reading (the pair of the checks made when
// writing): the reader yields the intact records, then Corrupt naming the file and offset, then stops.
#[test]
fn damage_after_open_is_caught_by_the_reader() {
    let (_temp, dir, mut journal) = new_store(JournalConfig::default());
    append_batch(&mut journal, 10, PAYLOAD_BYTES);
    let segment = segment_paths(&dir)[0].clone();
    flip_byte(&segment, record_offset(5) + 62, 0x01);
    let mut reader = journal.read_from(2).expect("reader");
    for sequence in 2..5 {
        let record = reader.next().expect("some").expect("intact");
        assert_eq!(record.sequence, sequence);
    }
    let (path, offset, reason) = expect_corrupt(reader.next().expect("an error"));
    assert_eq!((path, offset), (segment, record_offset(5)));
    assert!(reason.contains("CRC32C"), "{reason}");
    assert!(reader.next().is_none());
}

/// Appends the first half of record 1's bytes to `segment`: the torn write
/// of a record that was never acknowledged.
fn append_torn_write(segment: &Path) {
    let bytes = fs::read(segment).expect("read");
    let start = record_offset(1) as usize;
    let half = record_size_bytes(PAYLOAD_BYTES) / 2;
    let mut torn = bytes.clone();
    torn.extend_from_slice(&bytes[start..start + half]);
    fs::write(segment, torn).expect("write");
}

#[test]
fn read_only_open_leaves_a_torn_tail_in_place_reads_what_is_valid_and_refuses_writes() {
    // Goal: queries and verification can open a store (even one a writer holds)
    // without truncating anything, see only valid records, and never write.
    let (_temp, dir, mut journal) = new_store(JournalConfig::default());
    append_batch(&mut journal, 3, PAYLOAD_BYTES);
    let segment = segment_paths(&dir)[0].clone();
    append_torn_write(&segment);
    let torn_length = file_len(&segment);
    let mut reader =
        Journal::open_read_only(&dir, JournalConfig::default()).expect("read-only open");
    assert_eq!(reader.last_sequence(), 3);
    assert_eq!(read_all(&reader, 1).len(), 3);
    assert!(!reader.recovery_warnings().is_empty());
    assert_eq!(file_len(&segment), torn_length, "nothing was truncated");
    assert!(matches!(
        reader.append(timestamp_of(4), b"x"),
        Err(JournalError::ReadOnly)
    ));
    assert!(matches!(reader.commit(), Err(JournalError::ReadOnly)));
    assert!(matches!(
        reader.write_snapshot(1, b"state"),
        Err(JournalError::ReadOnly)
    ));
}

// Goal: every group commit records its last record in the superblock, so after a crash (here:
// a copy of the files taken while the writer is open, so no clean close wrote anything) damage to
// the last acknowledged record is a loss refused before anything is truncated, while a torn write
// after it is repaired quietly.
#[test]
fn after_a_crash_the_superblock_of_the_last_commit_tells_a_loss_from_a_torn_write() {
    let (_temp, dir, mut journal) = new_store(JournalConfig::default());
    append_batch(&mut journal, 3, PAYLOAD_BYTES);
    append_batch(&mut journal, 2, PAYLOAD_BYTES);

    let (_lost_temp, lost) = copy_store(&dir);
    let segment = segment_paths(&lost)[0].clone();
    flip_byte(&segment, record_offset(5) + 40, 0x01);
    let damaged = fs::read(&segment).expect("read");
    match Journal::open(&lost, JournalConfig::default()) {
        Err(JournalError::RecordsLost {
            last_sequence: 4,
            durable_sequence: 5,
            ..
        }) => {}
        other => panic!("expected records 5 to 5 lost, got {other:?}"),
    }
    assert_eq!(
        fs::read(&segment).expect("read"),
        damaged,
        "a refused open repaired"
    );

    let (_torn_temp, torn) = copy_store(&dir);
    let segment = segment_paths(&torn)[0].clone();
    append_torn_write(&segment);
    let reopened =
        Journal::open(&torn, JournalConfig::default()).expect("a torn write is repaired");
    assert_eq!(reopened.last_sequence(), 5);
    assert_eq!(reopened.recovery_warnings().len(), 1);
    assert_eq!(file_len(&segment), record_offset(6));
    drop(journal);
}
