//! `ets-journal`: the durable, append-only, hash-chained journal of the openets engine, plus snapshots.
//!
//! The journal is the source of truth. The engine's state is rebuilt by loading the newest valid
//! snapshot ([`Journal::latest_snapshot`]) and replaying the records after it
//! ([`Journal::read_from`]).
//!
//! **Architecture Invariant:** this crate knows nothing about the domain. A payload is an opaque byte
//! slice; the crate only guarantees that what was committed is read back bit for bit, in order, gap-free
//! and hash-chained, or that damage is reported with the file and byte offset where it was found.
//!
//! Durability contract: [`Journal::append`] only buffers; [`Journal::commit`] writes the whole batch
//! and fsyncs it before returning, so a caller acknowledges work only after `commit` returns `Ok`.
//! After a crash, an incomplete final record (a torn tail) can only belong to an unacknowledged batch,
//! which is why [`Journal::open`] may truncate it; damage anywhere else stops start-up, and so does a
//! journal that ends before a record a snapshot or the superblock proves durable (lost records).
//!
//! The on-disk format is documented byte by byte in `docs/journal-format.md`.

mod error;
mod format;
mod journal;
mod read_ahead;
mod reader;
mod scan;
mod snapshot;
mod store;
mod superblock;

pub use error::JournalError;
pub use format::{RecordView, SEGMENT_HEADER_BYTES, record_size_bytes};
pub use journal::Journal;
pub use read_ahead::ReadAhead;
pub use reader::RecordReader;
pub use snapshot::SNAPSHOT_HEADER_BYTES;

/// Version of the on-disk format written by this build (segment headers and snapshot headers).
pub const FORMAT_VERSION: u32 = 1;

/// A BLAKE3 digest (32 bytes).
pub type Hash = [u8; 32];

/// The "previous hash" of the first record: 32 zero bytes.
pub const GENESIS_HASH: Hash = [0; 32];

/// Largest payload one record may carry: 1 MiB.
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;

/// Largest uncommitted batch, in encoded bytes: 64 MiB.
///
/// It bounds the memory an uncommitted batch can take; a caller that reaches it must commit first.
/// A batch of 8,189 records of about 200 bytes is about 1.6 MB, far below it.
pub const MAX_BATCH_BYTES: usize = 64 * 1024 * 1024;

/// Largest snapshot state: 16 GiB.
pub const MAX_SNAPSHOT_STATE_BYTES: u64 = 16 * 1024 * 1024 * 1024;

/// Default for [`JournalConfig::segment_size_limit_bytes`]: 256 MiB.
pub const DEFAULT_SEGMENT_SIZE_LIMIT_BYTES: u64 = 256 * 1024 * 1024;

/// Settings of a journal store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalConfig {
    /// A new segment file is started when appending a batch would make the current one larger than
    /// this. A segment always holds at least one record, so a single record larger than the limit
    /// gets a segment of its own.
    pub segment_size_limit_bytes: u64,
}

impl Default for JournalConfig {
    fn default() -> Self {
        Self {
            segment_size_limit_bytes: DEFAULT_SEGMENT_SIZE_LIMIT_BYTES,
        }
    }
}

/// One record as read back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// Position in the journal: the first record is 1, and there are no gaps.
    pub sequence: u64,
    /// Time stamped by the caller when appending, in milliseconds; never earlier than the record before.
    pub timestamp_ms: i64,
    /// Hash of the record before this one ([`GENESIS_HASH`] for record 1).
    pub previous_hash: Hash,
    /// The caller's bytes, opaque to the journal.
    pub payload: Vec<u8>,
    /// BLAKE3 of this record's sequence, timestamp, previous hash, payload length and payload.
    pub hash: Hash,
}

impl Record {
    /// The record as a [`RecordView`], borrowing its payload.
    #[must_use]
    pub fn view(&self) -> RecordView<'_> {
        RecordView {
            sequence: self.sequence,
            timestamp_ms: self.timestamp_ms,
            previous_hash: self.previous_hash,
            payload: &self.payload,
            hash: self.hash,
        }
    }

    /// An owned copy of a checked record.
    #[must_use]
    pub fn from_view(view: &RecordView<'_>) -> Record {
        Record {
            sequence: view.sequence,
            timestamp_ms: view.timestamp_ms,
            previous_hash: view.previous_hash,
            payload: view.payload.to_vec(),
            hash: view.hash,
        }
    }
}

/// A snapshot of the caller's state: the state after applying record `sequence`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The last record applied to `state` (0 means no record: the initial state).
    pub sequence: u64,
    /// Hash of record `sequence` ([`GENESIS_HASH`] when `sequence` is 0); ties the snapshot to one history.
    pub record_hash: Hash,
    /// The caller's state bytes, opaque to the journal.
    pub state: Vec<u8>,
}

/// Counts describing a store's committed contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalStats {
    /// Number of segment files.
    pub segments: usize,
    /// Number of committed records.
    pub records: u64,
    /// Sequence of the last committed record (0 when empty).
    pub last_sequence: u64,
    /// Hash of the last committed record ([`GENESIS_HASH`] when empty).
    pub last_hash: Hash,
    /// Committed bytes across all segment files, headers included.
    pub bytes: u64,
}
