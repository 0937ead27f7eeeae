//! The start-up scan: checks every record of every segment and applies the torn-tail rule.
//!
//! Every record's CRC32C, BLAKE3 hash, sequence and hash-chain link is checked. In the last segment
//! only, an incomplete or CRC-failing final record (or trailing zero bytes) is a torn tail: a write
//! that a crash interrupted before its fsync, so it was never acknowledged. Anything else is corruption.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::{corrupt, io_error};
use crate::format::{
    MAX_BODY_BYTES, MIN_BODY_BYTES, RECORD_PREFIX_BYTES, RecordView, SEGMENT_HEADER_BYTES,
    SegmentHeader, crc_mismatch, parse_body, partial_body_is_torn, read_u32,
};
use crate::{GENESIS_HASH, Hash, JournalError, store};

/// Every this many sequence numbers the in-memory index remembers where a record starts, so that
/// `read_from` seeks near its target instead of reading a whole segment from the start.
pub(crate) const INDEX_INTERVAL_RECORDS: u64 = 1024;

/// Read buffer size for scanning and reading segments: large, since segments are read front to back.
pub(crate) const READ_BUFFER_BYTES: usize = 1024 * 1024;

/// Where a record starts, for seeking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndexEntry {
    pub sequence: u64,
    pub offset_bytes: u64,
    /// Hash of the record before it, so that the chain is checked from the first record read.
    pub previous_hash: Hash,
}

/// What is known about one segment file's committed contents.
#[derive(Debug, Clone)]
pub(crate) struct SegmentState {
    pub path: PathBuf,
    pub first_sequence: u64,
    pub previous_hash: Hash,
    /// Committed bytes, header included; anything after this offset is not part of the journal.
    pub size_bytes: u64,
    pub records: u64,
    /// Sorted by sequence; the first entry is always the segment's first record position.
    pub index: Vec<IndexEntry>,
}

impl SegmentState {
    /// A segment holding only its header.
    pub(crate) fn empty(path: PathBuf, first_sequence: u64, previous_hash: Hash) -> Self {
        Self {
            path,
            first_sequence,
            previous_hash,
            size_bytes: SEGMENT_HEADER_BYTES as u64,
            records: 0,
            index: vec![IndexEntry {
                sequence: first_sequence,
                offset_bytes: SEGMENT_HEADER_BYTES as u64,
                previous_hash,
            }],
        }
    }

    /// Notes a record starting at `offset_bytes` in the index when its sequence is on the interval.
    pub(crate) fn note_record(&mut self, sequence: u64, offset_bytes: u64, previous_hash: Hash) {
        if sequence.is_multiple_of(INDEX_INTERVAL_RECORDS) {
            self.index.push(IndexEntry {
                sequence,
                offset_bytes,
                previous_hash,
            });
        }
    }
}

/// The last record of a chain: what the next record must continue from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChainEnd {
    pub last_sequence: u64,
    pub last_hash: Hash,
    pub last_timestamp_ms: Option<i64>,
}

impl ChainEnd {
    /// The end of an empty journal.
    pub(crate) const GENESIS: Self = Self {
        last_sequence: 0,
        last_hash: GENESIS_HASH,
        last_timestamp_ms: None,
    };
}

/// Whether the scan may change files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScanMode {
    /// `open`: truncate a torn tail, remove a torn segment creation.
    Repair,
    /// `verify`: report them as warnings and change nothing.
    ReadOnly,
}

/// The result of scanning a whole store.
#[derive(Debug)]
pub(crate) struct ScanOutcome {
    pub segments: Vec<SegmentState>,
    pub end: ChainEnd,
    /// What a crash left behind the intact records, not yet repaired: the
    /// loss check runs first ([`apply_repairs`]).
    pub repairs: Vec<Repair>,
}

/// Damage at the end of the journal that a crash during an unacknowledged
/// write explains.
#[derive(Debug)]
pub(crate) enum Repair {
    /// An incomplete or CRC-failing final record (or trailing zero bytes).
    TornTail { path: PathBuf, torn: TornTail },
    /// A last segment whose header a crash interrupted.
    TornCreation { path: PathBuf, reason: String },
}

/// What the scan does with each intact record it checked, in sequence order
/// (a single-pass replay hands it on; an open ignores it).
pub(crate) type OnRecord<'a> = &'a mut dyn FnMut(&RecordView<'_>);

/// Scans every segment in the store, changing nothing; `on_record` sees
/// every intact record as it is checked, before the torn-tail rule and the
/// loss check have looked at what follows it.
///
/// # Errors
///
/// [`JournalError::NotAStore`] without segments; [`JournalError::Corrupt`] or
/// [`JournalError::UnsupportedVersion`] for damage that is not a torn tail; [`JournalError::Io`].
pub(crate) fn scan_store(dir: &Path, on_record: OnRecord<'_>) -> Result<ScanOutcome, JournalError> {
    let listing = store::list(dir)?;
    let mut outcome = ScanOutcome {
        segments: Vec::with_capacity(listing.segments.len()),
        end: ChainEnd::GENESIS,
        repairs: Vec::new(),
    };
    let count = listing.segments.len();
    for (position, (name_sequence, path)) in listing.segments.iter().enumerate() {
        let input = SegmentInput {
            path,
            name_sequence: *name_sequence,
            is_last: position + 1 == count,
            expected: outcome.end,
        };
        match scan_segment(&input, on_record)? {
            SegmentScan::TornCreation { reason } => {
                outcome.repairs.push(Repair::TornCreation {
                    path: path.clone(),
                    reason,
                });
            }
            SegmentScan::Scanned { state, end, torn } => {
                if let Some(torn) = torn {
                    outcome.repairs.push(Repair::TornTail {
                        path: path.clone(),
                        torn,
                    });
                }
                outcome.end = end;
                outcome.segments.push(state);
            }
        }
    }
    if outcome.segments.is_empty() {
        return Err(JournalError::NotAStore {
            path: dir.to_path_buf(),
        });
    }
    Ok(outcome)
}

/// Repairs (or, read-only, reports) what the scan found behind the intact
/// records; one sentence each.
///
/// # Errors
///
/// [`JournalError::Io`] when a file cannot be truncated, removed or synced.
pub(crate) fn apply_repairs(
    dir: &Path,
    repairs: &[Repair],
    mode: ScanMode,
) -> Result<Vec<String>, JournalError> {
    repairs
        .iter()
        .map(|repair| match repair {
            Repair::TornTail { path, torn } => repair_torn_tail(path, torn, mode),
            Repair::TornCreation { path, reason } => repair_torn_creation(dir, path, reason, mode),
        })
        .collect()
}

/// What one segment scan needs to know about its place in the store.
struct SegmentInput<'a> {
    path: &'a Path,
    name_sequence: u64,
    is_last: bool,
    expected: ChainEnd,
}

/// A torn tail found at `offset_bytes`.
#[derive(Debug)]
pub(crate) struct TornTail {
    offset_bytes: u64,
    reason: String,
}

/// The result of scanning one segment.
enum SegmentScan {
    /// The last segment's header was never completely written.
    TornCreation { reason: String },
    /// The segment's valid contents, and a torn tail after them if there is one.
    Scanned {
        state: SegmentState,
        end: ChainEnd,
        torn: Option<TornTail>,
    },
}

/// Scans one segment file: its header, then every record.
fn scan_segment(
    input: &SegmentInput<'_>,
    on_record: OnRecord<'_>,
) -> Result<SegmentScan, JournalError> {
    let path = input.path;
    let file = File::open(path).map_err(io_error(path))?;
    let file_len_bytes = file.metadata().map_err(io_error(path))?.len();
    let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, file);
    if file_len_bytes < SEGMENT_HEADER_BYTES as u64 {
        let reason = format!(
            "file is {file_len_bytes} bytes, shorter than the {SEGMENT_HEADER_BYTES}-byte segment header"
        );
        return torn_creation_or_corrupt(input, reason);
    }
    let mut header_bytes = [0u8; SEGMENT_HEADER_BYTES];
    reader
        .read_exact(&mut header_bytes)
        .map_err(io_error(path))?;
    let header = match SegmentHeader::decode(&header_bytes) {
        Ok(header) => header,
        Err(defect) => {
            let rest_bytes = file_len_bytes - SEGMENT_HEADER_BYTES as u64;
            if header_bytes.iter().all(|byte| *byte == 0)
                && rest_is_zero(&mut reader, rest_bytes, path)?
            {
                return torn_creation_or_corrupt(input, "file holds only zero bytes".to_owned());
            }
            return Err(defect.into_error(path));
        }
    };
    check_header_continues_chain(input, &header)?;
    let mut state = SegmentState::empty(
        path.to_path_buf(),
        header.first_sequence,
        header.previous_hash,
    );
    let mut records = RecordScan {
        path,
        reader,
        offset_bytes: SEGMENT_HEADER_BYTES as u64,
        file_len_bytes,
        body: Vec::new(),
    };
    let mut end = input.expected;
    let torn = records.scan_all(&mut state, &mut end, on_record)?;
    if let Some(torn) = &torn
        && !input.is_last
    {
        let reason = format!(
            "{} in a segment that is not the last, so it cannot be a torn write",
            torn.reason
        );
        return Err(corrupt(path, torn.offset_bytes, reason));
    }
    Ok(SegmentScan::Scanned { state, end, torn })
}

/// A segment with no valid header may be a creation that a crash interrupted, but only if it is the
/// last segment, is not the first one (the first is created by rename, so it is never partial), and
/// is named for the sequence that follows the previous segment.
fn torn_creation_or_corrupt(
    input: &SegmentInput<'_>,
    reason: String,
) -> Result<SegmentScan, JournalError> {
    let continues_chain = input.name_sequence == input.expected.last_sequence + 1;
    if input.is_last && input.name_sequence != 1 && continues_chain {
        return Ok(SegmentScan::TornCreation { reason });
    }
    Err(corrupt(input.path, 0, reason))
}

/// The header must agree with the file name and continue the previous segment's chain.
fn check_header_continues_chain(
    input: &SegmentInput<'_>,
    header: &SegmentHeader,
) -> Result<(), JournalError> {
    if header.first_sequence != input.name_sequence {
        let reason = format!(
            "segment header says its first sequence is {} but its file name says {}",
            header.first_sequence, input.name_sequence
        );
        return Err(corrupt(input.path, 0, reason));
    }
    let expected_sequence = input.expected.last_sequence + 1;
    if header.first_sequence != expected_sequence {
        let reason = format!(
            "segment starts at sequence {} but the journal so far ends at {} (a segment is missing or extra)",
            header.first_sequence, input.expected.last_sequence
        );
        return Err(corrupt(input.path, 0, reason));
    }
    if header.previous_hash != input.expected.last_hash {
        let reason = format!(
            "segment header's previous hash does not match the hash of record {}",
            input.expected.last_sequence
        );
        return Err(corrupt(input.path, 0, reason));
    }
    Ok(())
}

/// Truncates (or, read-only, reports) a torn tail.
fn repair_torn_tail(path: &Path, torn: &TornTail, mode: ScanMode) -> Result<String, JournalError> {
    let action = match mode {
        ScanMode::Repair => {
            let file = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(io_error(path))?;
            file.set_len(torn.offset_bytes).map_err(io_error(path))?;
            file.sync_all().map_err(io_error(path))?;
            "truncated"
        }
        ScanMode::ReadOnly => "left in place (open would truncate it)",
    };
    tracing::warn!(
        path = %path.display(),
        offset_bytes = torn.offset_bytes,
        reason = %torn.reason,
        action,
        "torn tail found in the last journal segment"
    );
    Ok(format!(
        "torn tail in {} at byte offset {} ({}): {action}",
        path.display(),
        torn.offset_bytes,
        torn.reason
    ))
}

/// Removes (or, read-only, reports) a segment whose creation a crash interrupted.
fn repair_torn_creation(
    dir: &Path,
    path: &Path,
    reason: &str,
    mode: ScanMode,
) -> Result<String, JournalError> {
    let action = match mode {
        ScanMode::Repair => {
            fs::remove_file(path).map_err(io_error(path))?;
            store::sync_dir(dir)?;
            "removed"
        }
        ScanMode::ReadOnly => "left in place (open would remove it)",
    };
    tracing::warn!(
        path = %path.display(),
        reason,
        action,
        "interrupted segment creation found"
    );
    Ok(format!(
        "interrupted creation of segment {} ({reason}): {action}",
        path.display()
    ))
}

/// Reads `count_bytes` bytes and says whether they are all zero.
fn rest_is_zero(
    reader: &mut BufReader<File>,
    count_bytes: u64,
    path: &Path,
) -> Result<bool, JournalError> {
    let mut left_bytes = count_bytes;
    while left_bytes > 0 {
        let available = reader.fill_buf().map_err(io_error(path))?;
        if available.is_empty() {
            // The file shrank while we read it; what is gone is not a zero byte.
            return Ok(false);
        }
        let take = available
            .len()
            .min(usize::try_from(left_bytes).unwrap_or(usize::MAX));
        if available[..take].iter().any(|byte| *byte != 0) {
            return Ok(false);
        }
        reader.consume(take);
        left_bytes -= take as u64;
    }
    Ok(true)
}

/// The next step of a record scan.
enum Next {
    End,
    /// A record whose CRC matched; its body is `body[..body_bytes]`.
    Record {
        body_bytes: usize,
    },
    Torn(String),
}

/// Reads the records of one segment in order.
struct RecordScan<'a> {
    path: &'a Path,
    reader: BufReader<File>,
    offset_bytes: u64,
    file_len_bytes: u64,
    /// Reused for every record; grows to the largest body seen.
    body: Vec<u8>,
}

impl RecordScan<'_> {
    /// Checks every record, extending `state` and `end` and showing it to
    /// `on_record`; returns the torn tail if there is one.
    fn scan_all(
        &mut self,
        state: &mut SegmentState,
        end: &mut ChainEnd,
        on_record: OnRecord<'_>,
    ) -> Result<Option<TornTail>, JournalError> {
        loop {
            let record_offset = self.offset_bytes;
            let body_bytes = match self.next_record()? {
                Next::End => return Ok(None),
                Next::Torn(reason) => {
                    return Ok(Some(TornTail {
                        offset_bytes: record_offset,
                        reason,
                    }));
                }
                Next::Record { body_bytes } => body_bytes,
            };
            let view = parse_body(&self.body[..body_bytes])
                .map_err(|defect| corrupt(self.path, record_offset, defect.to_string()))?;
            if let Some(reason) =
                chain_defect(end, view.sequence, view.timestamp_ms, &view.previous_hash)
            {
                return Err(corrupt(self.path, record_offset, reason));
            }
            state.note_record(view.sequence, record_offset, view.previous_hash);
            on_record(&view);
            *end = ChainEnd {
                last_sequence: view.sequence,
                last_hash: view.hash,
                last_timestamp_ms: Some(view.timestamp_ms),
            };
            state.records += 1;
            state.size_bytes = self.offset_bytes;
        }
    }

    /// Reads the next record into `self.body`, or classifies the end of the file.
    fn next_record(&mut self) -> Result<Next, JournalError> {
        let remaining_bytes = self.file_len_bytes - self.offset_bytes;
        if remaining_bytes == 0 {
            return Ok(Next::End);
        }
        if remaining_bytes < RECORD_PREFIX_BYTES as u64 {
            return Ok(Next::Torn(format!(
                "only {remaining_bytes} bytes remain, fewer than the {RECORD_PREFIX_BYTES}-byte record prefix"
            )));
        }
        let mut prefix = [0u8; RECORD_PREFIX_BYTES];
        self.read(&mut prefix)?;
        let body_length = read_u32(&prefix, 0);
        let stored_crc = read_u32(&prefix, 4);
        let after_prefix_bytes = remaining_bytes - RECORD_PREFIX_BYTES as u64;
        if body_length == 0 {
            return self.zero_length(stored_crc, after_prefix_bytes);
        }
        if !(MIN_BODY_BYTES..=MAX_BODY_BYTES).contains(&body_length) {
            let reason = format!(
                "record length field {body_length} is outside {MIN_BODY_BYTES}..={MAX_BODY_BYTES}"
            );
            return Err(corrupt(self.path, self.offset_bytes, reason));
        }
        if u64::from(body_length) > after_prefix_bytes {
            return self.incomplete(body_length, after_prefix_bytes);
        }
        let body_bytes = body_length as usize;
        self.fill_body(body_bytes)?;
        let record_bytes = RECORD_PREFIX_BYTES as u64 + u64::from(body_length);
        if let Some(computed) = crc_mismatch(&self.body[..body_bytes], stored_crc) {
            let mismatch =
                format!("CRC32C mismatch (stored {stored_crc:#010x}, computed {computed:#010x})");
            let after_record_bytes = remaining_bytes - record_bytes;
            if rest_is_zero(&mut self.reader, after_record_bytes, self.path)? {
                return Ok(Next::Torn(format!("{mismatch} in the final record")));
            }
            let reason = format!("{mismatch}, and more data follows the record");
            return Err(corrupt(self.path, self.offset_bytes, reason));
        }
        self.offset_bytes += record_bytes;
        Ok(Next::Record { body_bytes })
    }

    /// A zero length field is a torn tail only when nothing but zero bytes follows.
    fn zero_length(
        &mut self,
        stored_crc: u32,
        after_prefix_bytes: u64,
    ) -> Result<Next, JournalError> {
        if stored_crc == 0 && rest_is_zero(&mut self.reader, after_prefix_bytes, self.path)? {
            return Ok(Next::Torn("trailing zero bytes".to_owned()));
        }
        Err(corrupt(
            self.path,
            self.offset_bytes,
            "record length field is zero but non-zero bytes follow",
        ))
    }

    /// A record that runs past the end of the file is a torn tail if what is there agrees with it.
    fn incomplete(
        &mut self,
        body_length: u32,
        after_prefix_bytes: u64,
    ) -> Result<Next, JournalError> {
        // Smaller than `body_length`, itself at most MAX_BODY_BYTES, so it fits in memory.
        let available_bytes = after_prefix_bytes as usize;
        self.fill_body(available_bytes)?;
        let record_bytes = RECORD_PREFIX_BYTES as u64 + u64::from(body_length);
        let remaining_bytes = RECORD_PREFIX_BYTES as u64 + after_prefix_bytes;
        if partial_body_is_torn(&self.body[..available_bytes], body_length) {
            return Ok(Next::Torn(format!(
                "the final record needs {record_bytes} bytes but only {remaining_bytes} remain"
            )));
        }
        let reason = format!(
            "record needs {record_bytes} bytes, only {remaining_bytes} remain, and its payload length field disagrees with its length field"
        );
        Err(corrupt(self.path, self.offset_bytes, reason))
    }

    /// Reads `count_bytes` into the front of `self.body`.
    fn fill_body(&mut self, count_bytes: usize) -> Result<(), JournalError> {
        if self.body.len() < count_bytes {
            self.body.resize(count_bytes, 0);
        }
        self.reader
            .read_exact(&mut self.body[..count_bytes])
            .map_err(io_error(self.path))
    }

    fn read(&mut self, into: &mut [u8]) -> Result<(), JournalError> {
        self.reader.read_exact(into).map_err(io_error(self.path))
    }
}

/// Why a record with a valid checksum and hash does not continue the chain, if it does not.
pub(crate) fn chain_defect(
    end: &ChainEnd,
    sequence: u64,
    timestamp_ms: i64,
    previous_hash: &Hash,
) -> Option<String> {
    let expected_sequence = end.last_sequence + 1;
    if sequence != expected_sequence {
        return Some(format!(
            "record has sequence {sequence} where {expected_sequence} was expected"
        ));
    }
    if *previous_hash != end.last_hash {
        return Some(format!(
            "hash chain broken: the record's previous hash is not the hash of record {}",
            end.last_sequence
        ));
    }
    if let Some(previous_ms) = end.last_timestamp_ms
        && timestamp_ms < previous_ms
    {
        return Some(format!(
            "timestamp {timestamp_ms} ms is earlier than the previous record's {previous_ms} ms"
        ));
    }
    None
}
