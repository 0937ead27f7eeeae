//! Byte layouts of format version 1: segment headers, records and file names.
//!
//! Everything here is pure (bytes in, bytes out, no files), so the layout lives in one place and can be
//! read side by side with `docs/journal-format.md`. All integers are little-endian.

use std::fmt;

use crate::{FORMAT_VERSION, Hash, JournalError, MAX_PAYLOAD_BYTES};

/// Magic bytes that open every segment file.
pub(crate) const SEGMENT_MAGIC: [u8; 8] = *b"ETSJRNL\0";

/// Size of a segment header: magic 8, version 4, reserved 4, first sequence 8, previous hash 32, CRC 4.
pub const SEGMENT_HEADER_BYTES: usize = 60;

/// Offset of the header CRC32C, which covers every header byte before it.
const SEGMENT_HEADER_CRC_AT: usize = 56;

/// Bytes before a record's body: the `length` field and the `crc32c` field.
pub(crate) const RECORD_PREFIX_BYTES: usize = 8;

/// Body bytes that do not depend on the payload: sequence 8, timestamp 8, previous hash 32,
/// payload length 4, hash 32.
pub(crate) const RECORD_FIXED_BODY_BYTES: usize = 84;

/// Smallest valid `length` field (an empty payload).
pub(crate) const MIN_BODY_BYTES: u32 = RECORD_FIXED_BODY_BYTES as u32;

/// Largest valid `length` field (a payload of [`MAX_PAYLOAD_BYTES`]).
pub(crate) const MAX_BODY_BYTES: u32 = (RECORD_FIXED_BODY_BYTES + MAX_PAYLOAD_BYTES) as u32;

// Offsets of the fields inside a record body (the bytes after the CRC field).
const SEQUENCE_AT: usize = 0;
const TIMESTAMP_AT: usize = 8;
const PREVIOUS_HASH_AT: usize = 16;
pub(crate) const PAYLOAD_LENGTH_AT: usize = 48;
const PAYLOAD_AT: usize = 52;
const HASH_BYTES: usize = 32;

/// Total bytes one record takes in a segment for a payload of `payload_size_bytes`:
/// the 8-byte prefix, the 84 fixed body bytes and the payload.
#[must_use]
pub const fn record_size_bytes(payload_size_bytes: usize) -> usize {
    RECORD_PREFIX_BYTES + RECORD_FIXED_BODY_BYTES + payload_size_bytes
}

/// The variable fields of a segment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegmentHeader {
    /// Sequence of the segment's first record (also in its file name).
    pub first_sequence: u64,
    /// Hash of the record before the segment's first one.
    pub previous_hash: Hash,
}

/// Why a segment header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderDefect {
    BadMagic,
    UnsupportedVersion(u32),
    ReservedNotZero(u32),
    CrcMismatch { stored: u32, computed: u32 },
}

impl fmt::Display for HeaderDefect {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadMagic => write!(formatter, "segment header has wrong magic bytes"),
            Self::UnsupportedVersion(found) => {
                write!(formatter, "segment header has format version {found}")
            }
            Self::ReservedNotZero(found) => {
                write!(formatter, "segment header reserved field is {found}, not 0")
            }
            Self::CrcMismatch { stored, computed } => write!(
                formatter,
                "segment header CRC32C mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ),
        }
    }
}

impl HeaderDefect {
    /// The error to report for this defect in the file at `path`.
    pub(crate) fn into_error(self, path: &std::path::Path) -> JournalError {
        match self {
            Self::UnsupportedVersion(found) => JournalError::UnsupportedVersion {
                path: path.to_path_buf(),
                found,
            },
            other => crate::error::corrupt(path, 0, other.to_string()),
        }
    }
}

impl SegmentHeader {
    /// Encodes the header.
    pub(crate) fn encode(&self) -> [u8; SEGMENT_HEADER_BYTES] {
        let mut bytes = [0u8; SEGMENT_HEADER_BYTES];
        bytes[0..8].copy_from_slice(&SEGMENT_MAGIC);
        bytes[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        // Bytes 12..16 stay zero: the reserved field.
        bytes[16..24].copy_from_slice(&self.first_sequence.to_le_bytes());
        bytes[24..56].copy_from_slice(&self.previous_hash);
        let crc = crc32c::crc32c(&bytes[..SEGMENT_HEADER_CRC_AT]);
        bytes[SEGMENT_HEADER_CRC_AT..].copy_from_slice(&crc.to_le_bytes());
        bytes
    }

    /// Decodes and checks a header.
    ///
    /// The version is checked before the CRC: magic and version sit at fixed offsets in every format
    /// version, while the CRC's position may move in a later one.
    pub(crate) fn decode(bytes: &[u8; SEGMENT_HEADER_BYTES]) -> Result<Self, HeaderDefect> {
        if bytes[0..8] != SEGMENT_MAGIC {
            return Err(HeaderDefect::BadMagic);
        }
        let version = read_u32(bytes, 8);
        if version != FORMAT_VERSION {
            return Err(HeaderDefect::UnsupportedVersion(version));
        }
        let stored = read_u32(bytes, SEGMENT_HEADER_CRC_AT);
        let computed = crc32c::crc32c(&bytes[..SEGMENT_HEADER_CRC_AT]);
        if stored != computed {
            return Err(HeaderDefect::CrcMismatch { stored, computed });
        }
        let reserved = read_u32(bytes, 12);
        if reserved != 0 {
            return Err(HeaderDefect::ReservedNotZero(reserved));
        }
        Ok(Self {
            first_sequence: read_u64(bytes, 16),
            previous_hash: read_hash(bytes, 24),
        })
    }
}

/// Appends one encoded record to `buffer` and returns its hash.
///
/// Encodes in place into the caller's reusable buffer (no allocation once it has grown) and hashes
/// the contiguous slice it just wrote, because this runs once per record at over a million records
/// per second.
///
/// # Errors
///
/// [`JournalError::PayloadTooLarge`] if `payload` is over [`MAX_PAYLOAD_BYTES`]; `buffer` is unchanged.
pub(crate) fn encode_record(
    buffer: &mut Vec<u8>,
    sequence: u64,
    timestamp_ms: i64,
    previous_hash: &Hash,
    payload: &[u8],
) -> Result<Hash, JournalError> {
    let too_large = || JournalError::PayloadTooLarge {
        size_bytes: payload.len(),
        limit_bytes: MAX_PAYLOAD_BYTES,
    };
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(too_large());
    }
    let payload_length = u32::try_from(payload.len()).map_err(|_| too_large())?;
    let body_length = MIN_BODY_BYTES + payload_length;
    let start = buffer.len();
    buffer.reserve(record_size_bytes(payload.len()));
    buffer.extend_from_slice(&body_length.to_le_bytes());
    // The CRC covers the hash, so it is filled in last.
    buffer.extend_from_slice(&[0; 4]);
    let body_start = buffer.len();
    buffer.extend_from_slice(&sequence.to_le_bytes());
    buffer.extend_from_slice(&timestamp_ms.to_le_bytes());
    buffer.extend_from_slice(previous_hash);
    buffer.extend_from_slice(&payload_length.to_le_bytes());
    buffer.extend_from_slice(payload);
    let hash = *blake3::hash(&buffer[body_start..]).as_bytes();
    buffer.extend_from_slice(&hash);
    let crc = crc32c::crc32c(&buffer[body_start..]);
    buffer[start + 4..body_start].copy_from_slice(&crc.to_le_bytes());
    Ok(hash)
}

/// A checked record, borrowing its payload from the read buffer: what a
/// function given to [`crate::Journal::open_read_only_ahead_map`] or
/// [`crate::Journal::read_ahead_from_map`] sees of each record (the fields
/// of [`crate::Record`], with no copy of the payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordView<'a> {
    /// Position in the journal: the first record is 1, and there are no gaps.
    pub sequence: u64,
    /// Time stamped by the caller when appending, in milliseconds.
    pub timestamp_ms: i64,
    /// Hash of the record before this one ([`crate::GENESIS_HASH`] for record 1).
    pub previous_hash: Hash,
    /// The caller's bytes, opaque to the journal.
    pub payload: &'a [u8],
    /// BLAKE3 of this record's sequence, timestamp, previous hash, payload length and payload.
    pub hash: Hash,
}

/// Why a record body whose CRC matched was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordDefect {
    PayloadLengthMismatch {
        payload_length: u32,
        body_bytes: usize,
    },
    HashMismatch,
}

impl fmt::Display for RecordDefect {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PayloadLengthMismatch {
                payload_length,
                body_bytes,
            } => write!(
                formatter,
                "payload length field {payload_length} does not fit a record body of {body_bytes} bytes"
            ),
            Self::HashMismatch => write!(formatter, "BLAKE3 hash mismatch"),
        }
    }
}

/// Returns the CRC32C of `body` when it differs from `stored`.
pub(crate) fn crc_mismatch(body: &[u8], stored: u32) -> Option<u32> {
    let computed = crc32c::crc32c(body);
    (computed != stored).then_some(computed)
}

/// Parses a record body (the bytes after the CRC field) and checks its payload length and hash.
///
/// The CRC is checked separately, first, by [`crc_mismatch`]: a CRC failure may be a torn write,
/// while a defect found here, in bytes whose CRC matched, never is.
pub(crate) fn parse_body(body: &[u8]) -> Result<RecordView<'_>, RecordDefect> {
    let too_short = RecordDefect::PayloadLengthMismatch {
        payload_length: 0,
        body_bytes: body.len(),
    };
    if body.len() < RECORD_FIXED_BODY_BYTES {
        return Err(too_short);
    }
    let payload_length = read_u32(body, PAYLOAD_LENGTH_AT);
    let payload_end = PAYLOAD_AT + payload_length as usize;
    if payload_end + HASH_BYTES != body.len() {
        return Err(RecordDefect::PayloadLengthMismatch {
            payload_length,
            body_bytes: body.len(),
        });
    }
    let hash = read_hash(body, payload_end);
    if *blake3::hash(&body[..payload_end]).as_bytes() != hash {
        return Err(RecordDefect::HashMismatch);
    }
    Ok(RecordView {
        sequence: read_u64(body, SEQUENCE_AT),
        timestamp_ms: read_i64(body, TIMESTAMP_AT),
        previous_hash: read_hash(body, PREVIOUS_HASH_AT),
        payload: &body[PAYLOAD_AT..payload_end],
        hash,
    })
}

/// Whether the available bytes of an incomplete record are consistent with a torn write.
///
/// A torn write leaves a prefix of what was written, so once the payload length field is present it
/// agrees with the length field; a flipped bit in the length field of a complete record usually makes
/// them disagree. Some file systems expose never-written blocks as zeros, so a zero-filled remainder
/// is also accepted.
pub(crate) fn partial_body_is_torn(partial: &[u8], body_length: u32) -> bool {
    let Some(field) = partial.get(PAYLOAD_LENGTH_AT..PAYLOAD_AT) else {
        return true;
    };
    let payload_length = read_u32(field, 0);
    u64::from(payload_length) + RECORD_FIXED_BODY_BYTES as u64 == u64::from(body_length)
        || partial[PAYLOAD_LENGTH_AT..].iter().all(|byte| *byte == 0)
}

/// Reads the fields of a record already validated in a buffer this crate encoded: `(length of the
/// whole record in bytes, sequence, timestamp_ms, previous hash, hash)`.
pub(crate) fn encoded_record_fields(record: &[u8]) -> (usize, u64, i64, Hash, Hash) {
    let body_length = read_u32(record, 0) as usize;
    let total = RECORD_PREFIX_BYTES + body_length;
    let body = &record[RECORD_PREFIX_BYTES..total];
    (
        total,
        read_u64(body, SEQUENCE_AT),
        read_i64(body, TIMESTAMP_AT),
        read_hash(body, PREVIOUS_HASH_AT),
        read_hash(body, body.len() - HASH_BYTES),
    )
}

/// File name of the segment whose first record is `first_sequence`.
pub(crate) fn segment_file_name(first_sequence: u64) -> String {
    format!("journal-{first_sequence:020}.seg")
}

/// File name of the snapshot taken after record `sequence`.
pub(crate) fn snapshot_file_name(sequence: u64) -> String {
    format!("snapshot-{sequence:020}.snap")
}

/// What a directory entry's name says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    Segment(u64),
    Snapshot(u64),
    /// Leftover of an interrupted write: `journal-*.tmp` or `snapshot-*.tmp`.
    Temporary,
    /// Named like a segment (`journal-*.seg`) but not `journal-<20 digits>.seg`.
    MalformedSegment,
    /// Anything else; left alone.
    Other,
}

/// Classifies a directory entry by name.
pub(crate) fn classify_file_name(name: &str) -> FileKind {
    let is_ours = name.starts_with("journal-") || name.starts_with("snapshot-");
    if is_ours && name.ends_with(".tmp") {
        return FileKind::Temporary;
    }
    if let Some(digits) = name
        .strip_prefix("journal-")
        .and_then(|rest| rest.strip_suffix(".seg"))
    {
        return parse_sequence_digits(digits).map_or(FileKind::MalformedSegment, FileKind::Segment);
    }
    if let Some(digits) = name
        .strip_prefix("snapshot-")
        .and_then(|rest| rest.strip_suffix(".snap"))
    {
        // A malformed snapshot name is ignored: skipping a snapshot only means replaying more.
        return parse_sequence_digits(digits).map_or(FileKind::Other, FileKind::Snapshot);
    }
    FileKind::Other
}

/// Parses exactly 20 ASCII digits.
fn parse_sequence_digits(digits: &str) -> Option<u64> {
    if digits.len() != 20 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Reads a little-endian `u32` at `at`; the caller guarantees the bytes exist.
pub(crate) fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut field = [0u8; 4];
    field.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(field)
}

/// Reads a little-endian `u64` at `at`; the caller guarantees the bytes exist.
pub(crate) fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut field = [0u8; 8];
    field.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(field)
}

/// Reads a little-endian `i64` at `at`; the caller guarantees the bytes exist.
fn read_i64(bytes: &[u8], at: usize) -> i64 {
    let mut field = [0u8; 8];
    field.copy_from_slice(&bytes[at..at + 8]);
    i64::from_le_bytes(field)
}

/// Reads a 32-byte hash at `at`; the caller guarantees the bytes exist.
pub(crate) fn read_hash(bytes: &[u8], at: usize) -> Hash {
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&bytes[at..at + 32]);
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GENESIS_HASH;

    // Goal: a segment header decodes to what was encoded, and each kind of damage is named.
    #[test]
    fn segment_header_round_trips_and_damage_is_named() {
        let header = SegmentHeader {
            first_sequence: 42,
            previous_hash: [7; 32],
        };
        let bytes = header.encode();
        assert_eq!(SegmentHeader::decode(&bytes), Ok(header));

        let mut bad_magic = bytes;
        bad_magic[0] ^= 1;
        assert_eq!(
            SegmentHeader::decode(&bad_magic),
            Err(HeaderDefect::BadMagic)
        );
        let mut other_version = bytes;
        other_version[8] = 2;
        assert_eq!(
            SegmentHeader::decode(&other_version),
            Err(HeaderDefect::UnsupportedVersion(2))
        );
        let mut flipped = bytes;
        flipped[30] ^= 0x10;
        assert!(matches!(
            SegmentHeader::decode(&flipped),
            Err(HeaderDefect::CrcMismatch { .. })
        ));
    }

    // Goal: the encoded record has the documented layout, size, CRC coverage and hash inputs.
    #[test]
    fn record_encoding_matches_the_documented_layout() {
        let mut buffer = Vec::new();
        let payload = b"hello";
        let hash = encode_record(&mut buffer, 1, -5, &GENESIS_HASH, payload).expect("encodes");
        assert_eq!(buffer.len(), record_size_bytes(payload.len()));
        assert_eq!(buffer.len(), 92 + payload.len());
        assert_eq!(read_u32(&buffer, 0) as usize, 84 + payload.len());
        assert_eq!(read_u32(&buffer, 4), crc32c::crc32c(&buffer[8..]));
        assert_eq!(read_u64(&buffer, 8), 1);
        assert_eq!(read_i64(&buffer, 16), -5);
        assert_eq!(read_hash(&buffer, 24), GENESIS_HASH);
        assert_eq!(read_u32(&buffer, 56), 5);
        assert_eq!(&buffer[60..65], payload);
        let mut hasher = blake3::Hasher::new();
        hasher.update(&1u64.to_le_bytes());
        hasher.update(&(-5i64).to_le_bytes());
        hasher.update(&GENESIS_HASH);
        hasher.update(&5u32.to_le_bytes());
        hasher.update(payload);
        assert_eq!(*hasher.finalize().as_bytes(), hash);
        assert_eq!(read_hash(&buffer, 65), hash);
        // The check value quoted in docs/journal-format.md.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);

        let view = parse_body(&buffer[8..]).expect("parses");
        assert_eq!(view.payload, payload);
        assert_eq!(view.hash, hash);
        assert_eq!(
            encoded_record_fields(&buffer),
            (97, 1, -5, GENESIS_HASH, hash)
        );
    }

    // Goal: a payload over the limit is refused and leaves the buffer untouched.
    #[test]
    fn oversized_payload_is_refused_without_touching_the_buffer() {
        let mut buffer = vec![1, 2, 3];
        let payload = vec![0u8; MAX_PAYLOAD_BYTES + 1];
        let error = encode_record(&mut buffer, 1, 0, &GENESIS_HASH, &payload).expect_err("refused");
        assert_eq!(error.code(), "payload_too_large");
        assert_eq!(buffer, vec![1, 2, 3]);
    }

    // Goal: a body whose CRC matched but whose hash or payload length is wrong is refused.
    #[test]
    fn forged_body_with_matching_crc_is_refused() {
        let mut buffer = Vec::new();
        encode_record(&mut buffer, 3, 0, &[1; 32], b"abc").expect("encodes");
        let mut body = buffer[8..].to_vec();
        body[52] = b'x';
        assert_eq!(parse_body(&body), Err(RecordDefect::HashMismatch));
        let mut body = buffer[8..].to_vec();
        body[48] = 4;
        assert!(matches!(
            parse_body(&body),
            Err(RecordDefect::PayloadLengthMismatch { .. })
        ));
    }

    // Goal: file names round-trip and lookalikes are classified, not trusted.
    #[test]
    fn file_names_are_classified() {
        assert_eq!(
            classify_file_name(&segment_file_name(17)),
            FileKind::Segment(17)
        );
        assert_eq!(
            classify_file_name(&snapshot_file_name(u64::MAX)),
            FileKind::Snapshot(u64::MAX)
        );
        assert_eq!(
            classify_file_name("journal-1.seg"),
            FileKind::MalformedSegment
        );
        assert_eq!(
            classify_file_name("snapshot-00000000000000000005.snap.tmp"),
            FileKind::Temporary
        );
        assert_eq!(classify_file_name("LOCK"), FileKind::Other);
        assert_eq!(classify_file_name("notes.tmp"), FileKind::Other);
    }

    // Goal: the torn-write consistency check accepts prefixes and zero fill, and refuses disagreement.
    #[test]
    fn partial_body_consistency() {
        let mut buffer = Vec::new();
        encode_record(&mut buffer, 1, 0, &GENESIS_HASH, &[9; 40]).expect("encodes");
        let length = read_u32(&buffer, 0);
        assert!(partial_body_is_torn(&buffer[8..30], length));
        assert!(partial_body_is_torn(&buffer[8..70], length));
        assert!(!partial_body_is_torn(&buffer[8..70], length + 8));
        let mut zeroed = buffer[8..70].to_vec();
        zeroed[PAYLOAD_LENGTH_AT..].fill(0);
        assert!(partial_body_is_torn(&zeroed, length + 8));
    }
}
