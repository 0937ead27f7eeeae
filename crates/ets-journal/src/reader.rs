//! Streaming reads of committed records, re-checking every checksum, hash and chain link on the way.

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::{corrupt, io_error};
use crate::format::{
    MAX_BODY_BYTES, MIN_BODY_BYTES, RECORD_PREFIX_BYTES, SEGMENT_HEADER_BYTES, SegmentHeader,
    crc_mismatch, parse_body, read_u32,
};
use crate::scan::{ChainEnd, READ_BUFFER_BYTES, SegmentState, chain_defect};
use crate::{GENESIS_HASH, Hash, JournalError, Record};

/// The committed part of a journal, as needed to read it: its segments and its last record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Committed<'a> {
    pub segments: &'a [SegmentState],
    pub end: ChainEnd,
}

impl Committed<'_> {
    /// A reader of the records with sequence `>= first_sequence`.
    pub(crate) fn read_from(&self, first_sequence: u64) -> Result<RecordReader, JournalError> {
        RecordReader::new(self, first_sequence)
    }

    /// The hash of committed record `sequence` (0 gives [`GENESIS_HASH`]).
    ///
    /// # Errors
    ///
    /// [`JournalError::Corrupt`] if the record cannot be read back intact; [`JournalError::Io`].
    pub(crate) fn record_hash_at(&self, sequence: u64) -> Result<Hash, JournalError> {
        if sequence == 0 {
            return Ok(GENESIS_HASH);
        }
        if sequence == self.end.last_sequence {
            return Ok(self.end.last_hash);
        }
        let mut reader = self.read_from(sequence)?;
        match reader.next() {
            Some(Ok(record)) if record.sequence == sequence => Ok(record.hash),
            Some(Err(error)) => Err(error),
            _ => {
                let path = self
                    .segments
                    .last()
                    .map_or_else(PathBuf::new, |segment| segment.path.clone());
                Err(corrupt(
                    &path,
                    0,
                    format!("record {sequence} is not in the journal"),
                ))
            }
        }
    }
}

/// One segment's committed extent, captured when the reader was made.
#[derive(Debug, Clone)]
struct SegmentSpan {
    path: PathBuf,
    first_sequence: u64,
    previous_hash: Hash,
    end_offset_bytes: u64,
}

/// The segment file being read.
struct OpenSegment {
    path: PathBuf,
    reader: BufReader<File>,
    offset_bytes: u64,
    end_offset_bytes: u64,
}

/// What reading one record produced.
enum Step {
    Emitted,
    Skipped,
    End,
}

/// Streams committed records in sequence order; made by [`crate::Journal::read_from`].
///
/// It reads segment files front to back through a large buffer and holds one record at a time, so
/// memory does not grow with the journal. Each record's CRC32C, BLAKE3 hash, sequence and previous
/// hash are checked again as it is read (they were checked when it was written and at open, but the
/// disk may have changed since). It sees the records committed when it was made, and no later ones.
///
/// After the first error it yields nothing more.
pub struct RecordReader {
    /// The segment holding the first wanted record, and every later one.
    spans: Vec<SegmentSpan>,
    next_span: usize,
    current: Option<OpenSegment>,
    first_sequence: u64,
    last_sequence: u64,
    /// What the next record read must continue from.
    chain: ChainEnd,
    /// Reused for every record; grows to the largest body seen.
    body: Vec<u8>,
    finished: bool,
}

impl RecordReader {
    fn new(committed: &Committed<'_>, first_sequence: u64) -> Result<Self, JournalError> {
        let first_sequence = first_sequence.max(1);
        let mut reader = Self {
            spans: Vec::new(),
            next_span: 0,
            current: None,
            first_sequence,
            last_sequence: committed.end.last_sequence,
            chain: ChainEnd::GENESIS,
            body: Vec::new(),
            finished: first_sequence > committed.end.last_sequence,
        };
        if reader.finished {
            return Ok(reader);
        }
        // The last segment starting at or before the wanted record holds it, since only the last
        // segment of a journal can be empty.
        let position = committed
            .segments
            .partition_point(|segment| segment.first_sequence <= first_sequence)
            .saturating_sub(1);
        let Some(segment) = committed.segments.get(position) else {
            reader.finished = true;
            return Ok(reader);
        };
        reader.spans = committed.segments[position..]
            .iter()
            .map(|segment| SegmentSpan {
                path: segment.path.clone(),
                first_sequence: segment.first_sequence,
                previous_hash: segment.previous_hash,
                end_offset_bytes: segment.size_bytes,
            })
            .collect();
        let entry_position = segment
            .index
            .partition_point(|entry| entry.sequence <= first_sequence)
            .saturating_sub(1);
        let (start_sequence, start_offset_bytes, previous_hash) =
            segment.index.get(entry_position).map_or(
                (
                    segment.first_sequence,
                    SEGMENT_HEADER_BYTES as u64,
                    segment.previous_hash,
                ),
                |entry| (entry.sequence, entry.offset_bytes, entry.previous_hash),
            );
        reader.chain = ChainEnd {
            last_sequence: start_sequence - 1,
            last_hash: previous_hash,
            // Unknown when starting mid-journal; checked from the second record read onwards.
            last_timestamp_ms: None,
        };
        reader.open_next_span(start_offset_bytes)?;
        Ok(reader)
    }

    /// Reads the next record into `record`, reusing its payload buffer; returns `false` at the end.
    ///
    /// This is the allocation-free alternative to [`Iterator::next`] for replaying many records.
    ///
    /// # Errors
    ///
    /// [`JournalError::Corrupt`] naming the file and offset if a record fails a check;
    /// [`JournalError::Io`] if a file cannot be read.
    pub fn next_into(&mut self, record: &mut Record) -> Result<bool, JournalError> {
        while !self.finished {
            match self.step(record) {
                Ok(Step::Emitted) => return Ok(true),
                Ok(Step::Skipped) => {}
                Ok(Step::End) => self.finished = true,
                Err(error) => {
                    self.finished = true;
                    return Err(error);
                }
            }
        }
        Ok(false)
    }

    /// Reads one record, emitting it into `record` unless it comes before the first wanted one.
    fn step(&mut self, record: &mut Record) -> Result<Step, JournalError> {
        if self.chain.last_sequence >= self.last_sequence {
            return Ok(Step::End);
        }
        self.ensure_segment_with_data()?;
        let Some(segment) = self.current.as_mut() else {
            return Ok(Step::End);
        };
        let record_offset = segment.offset_bytes;
        let body_bytes = read_checked_body(segment, &mut self.body)?;
        let view = parse_body(&self.body[..body_bytes])
            .map_err(|defect| corrupt(&segment.path, record_offset, defect.to_string()))?;
        if let Some(reason) = chain_defect(
            &self.chain,
            view.sequence,
            view.timestamp_ms,
            &view.previous_hash,
        ) {
            return Err(corrupt(&segment.path, record_offset, reason));
        }
        self.chain = ChainEnd {
            last_sequence: view.sequence,
            last_hash: view.hash,
            last_timestamp_ms: Some(view.timestamp_ms),
        };
        if view.sequence < self.first_sequence {
            return Ok(Step::Skipped);
        }
        record.sequence = view.sequence;
        record.timestamp_ms = view.timestamp_ms;
        record.previous_hash = view.previous_hash;
        record.payload.clear();
        record.payload.extend_from_slice(view.payload);
        record.hash = view.hash;
        Ok(Step::Emitted)
    }

    /// Moves to the next segment while the current one has no more committed bytes.
    fn ensure_segment_with_data(&mut self) -> Result<(), JournalError> {
        loop {
            match &self.current {
                Some(segment) if segment.offset_bytes < segment.end_offset_bytes => return Ok(()),
                _ => {}
            }
            if self.next_span >= self.spans.len() {
                let (path, offset) = self.current.as_ref().map_or_else(
                    || (PathBuf::new(), 0),
                    |segment| (segment.path.clone(), segment.offset_bytes),
                );
                let reason = format!(
                    "the segments end after record {} but record {} was committed",
                    self.chain.last_sequence, self.last_sequence
                );
                return Err(corrupt(&path, offset, reason));
            }
            self.open_next_span(SEGMENT_HEADER_BYTES as u64)?;
        }
    }

    /// Opens the next span's file, checks its header against the chain, and seeks to `offset_bytes`.
    fn open_next_span(&mut self, offset_bytes: u64) -> Result<(), JournalError> {
        let Some(span) = self.spans.get(self.next_span) else {
            return Ok(());
        };
        self.next_span += 1;
        let path = &span.path;
        let file = File::open(path).map_err(io_error(path))?;
        let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, file);
        let mut header_bytes = [0u8; SEGMENT_HEADER_BYTES];
        reader
            .read_exact(&mut header_bytes)
            .map_err(io_error(path))?;
        let header =
            SegmentHeader::decode(&header_bytes).map_err(|defect| defect.into_error(path))?;
        check_header(path, &header, span)?;
        if offset_bytes == SEGMENT_HEADER_BYTES as u64 {
            check_span_continues_chain(path, span, &self.chain)?;
        } else {
            reader
                .seek(SeekFrom::Start(offset_bytes))
                .map_err(io_error(path))?;
        }
        self.current = Some(OpenSegment {
            path: path.clone(),
            reader,
            offset_bytes,
            end_offset_bytes: span.end_offset_bytes,
        });
        Ok(())
    }
}

impl fmt::Debug for RecordReader {
    // By hand: the derived form would print the read buffers.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("RecordReader")
            .field("first_sequence", &self.first_sequence)
            .field("last_sequence", &self.last_sequence)
            .field("next_sequence", &(self.chain.last_sequence + 1))
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl Iterator for RecordReader {
    type Item = Result<Record, JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut record = Record::default();
        match self.next_into(&mut record) {
            Ok(true) => Some(Ok(record)),
            Ok(false) => None,
            Err(error) => Some(Err(error)),
        }
    }
}

/// The header read now must match what was read at open.
fn check_header(
    path: &Path,
    header: &SegmentHeader,
    span: &SegmentSpan,
) -> Result<(), JournalError> {
    if header.first_sequence != span.first_sequence || header.previous_hash != span.previous_hash {
        return Err(corrupt(
            path,
            0,
            "segment header changed since the store was opened",
        ));
    }
    Ok(())
}

/// A segment entered from the previous one must start where that one ended.
fn check_span_continues_chain(
    path: &Path,
    span: &SegmentSpan,
    chain: &ChainEnd,
) -> Result<(), JournalError> {
    if span.first_sequence != chain.last_sequence + 1 || span.previous_hash != chain.last_hash {
        let reason = format!(
            "segment starts at sequence {} but does not continue the chain ending at record {}",
            span.first_sequence, chain.last_sequence
        );
        return Err(corrupt(path, 0, reason));
    }
    Ok(())
}

/// Reads one record's prefix and body into `body`, checks its length and CRC, and returns the body
/// length. Every defect is corruption here: these bytes were committed.
fn read_checked_body(segment: &mut OpenSegment, body: &mut Vec<u8>) -> Result<usize, JournalError> {
    let path = &segment.path;
    let record_offset = segment.offset_bytes;
    let mut prefix = [0u8; RECORD_PREFIX_BYTES];
    segment
        .reader
        .read_exact(&mut prefix)
        .map_err(io_error(path))?;
    let body_length = read_u32(&prefix, 0);
    let stored_crc = read_u32(&prefix, 4);
    if !(MIN_BODY_BYTES..=MAX_BODY_BYTES).contains(&body_length) {
        let reason = format!(
            "record length field {body_length} is outside {MIN_BODY_BYTES}..={MAX_BODY_BYTES}"
        );
        return Err(corrupt(path, record_offset, reason));
    }
    let record_end = record_offset + RECORD_PREFIX_BYTES as u64 + u64::from(body_length);
    if record_end > segment.end_offset_bytes {
        let reason = format!(
            "record ends at byte {record_end}, past the committed end {}",
            segment.end_offset_bytes
        );
        return Err(corrupt(path, record_offset, reason));
    }
    let body_bytes = body_length as usize;
    if body.len() < body_bytes {
        body.resize(body_bytes, 0);
    }
    segment
        .reader
        .read_exact(&mut body[..body_bytes])
        .map_err(io_error(path))?;
    if let Some(computed) = crc_mismatch(&body[..body_bytes], stored_crc) {
        let reason =
            format!("CRC32C mismatch (stored {stored_crc:#010x}, computed {computed:#010x})");
        return Err(corrupt(path, record_offset, reason));
    }
    segment.offset_bytes = record_end;
    Ok(body_bytes)
}
