//! The crate's one error type, [`JournalError`], with a stable code for each variant.

use std::path::{Path, PathBuf};

use crate::FORMAT_VERSION;

/// Everything that can go wrong when creating, opening, writing, reading or verifying a journal store.
///
/// Three kinds: rejections of a call (`TimeWentBackwards`, `PayloadTooLarge`, `BatchTooLarge`,
/// `SnapshotAhead`, `SnapshotTooLarge`) change nothing and the journal stays usable; I/O failures
/// while committing put the journal in the faulted state (`Faulted` from then on, until reopened);
/// damage found on disk (`Corrupt`, `UnsupportedVersion`) stops start-up.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// An operating-system call on `path` failed.
    #[error("I/O failed on {}", .path.display())]
    Io {
        /// The file or directory the call was about.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// Damage found on disk that is not a torn tail.
    #[error("journal store is corrupt: {} at byte offset {offset}: {reason}", .path.display())]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// Byte offset, from the start of the file, of the damaged header or record.
        offset: u64,
        /// What is wrong, in words.
        reason: String,
    },
    /// Another handle holds the store's lock.
    #[error("journal store {} is locked: another process (or another handle in this process) has it open", .path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// `create` was called on a directory that already holds a journal.
    #[error("{} already contains a journal store", .path.display())]
    AlreadyExists {
        /// The store directory.
        path: PathBuf,
    },
    /// The directory is missing or holds no journal segment file.
    #[error("{} is not a journal store: it holds no journal segment files", .path.display())]
    NotAStore {
        /// The directory.
        path: PathBuf,
    },
    /// A segment was written by a format version this build does not read.
    #[error("{} has format version {found}; this build reads version {FORMAT_VERSION}", .path.display())]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version found in its header.
        found: u32,
    },
    /// `append` was given a timestamp earlier than the previous record's.
    #[error("timestamp {given_ms} ms is earlier than the previous record's {previous_ms} ms")]
    TimeWentBackwards {
        /// Timestamp of the previous record (committed or pending).
        previous_ms: i64,
        /// The refused timestamp.
        given_ms: i64,
    },
    /// `append` was given a payload larger than [`crate::MAX_PAYLOAD_BYTES`].
    #[error("payload of {size_bytes} bytes is over the limit of {limit_bytes} bytes")]
    PayloadTooLarge {
        /// Size of the refused payload.
        size_bytes: usize,
        /// The limit.
        limit_bytes: usize,
    },
    /// `append` would grow the uncommitted batch past [`crate::MAX_BATCH_BYTES`]; commit first.
    #[error(
        "the uncommitted batch would grow to {size_bytes} bytes, over the limit of {limit_bytes} bytes; commit first"
    )]
    BatchTooLarge {
        /// Size the batch would have reached.
        size_bytes: usize,
        /// The limit.
        limit_bytes: usize,
    },
    /// `write_snapshot` was asked for a sequence that is not committed yet.
    #[error("cannot snapshot at sequence {sequence}: the last committed record is {last_sequence}")]
    SnapshotAhead {
        /// The requested sequence.
        sequence: u64,
        /// The last committed sequence.
        last_sequence: u64,
    },
    /// `write_snapshot` was given a state larger than [`crate::MAX_SNAPSHOT_STATE_BYTES`].
    #[error("snapshot state of {size_bytes} bytes is over the limit of {limit_bytes} bytes")]
    SnapshotTooLarge {
        /// Size of the refused state.
        size_bytes: u64,
        /// The limit.
        limit_bytes: u64,
    },
    /// Every `u64` sequence number has been used.
    #[error("the journal has used every sequence number")]
    SequenceExhausted,
    /// An earlier I/O failure while writing left the files in an unknown state; nothing more is
    /// written until the store is reopened (which rescans and repairs what it can).
    #[error("the journal refuses writes after an earlier I/O failure; reopen the store to recover")]
    Faulted,
    /// The journal ends before a record that a snapshot or the superblock proves was durable:
    /// acknowledged records are missing (a deleted, truncated or damaged segment), not a torn
    /// write. The store refuses to start rather than reuse their sequence numbers.
    #[error(
        "{}: records {} to {durable_sequence} were acknowledged as durable ({evidence}: record {durable_sequence}) but the journal ends at record {last_sequence}; restore the missing journal segment files from a backup before starting",
        .path.display(), .last_sequence + 1
    )]
    RecordsLost {
        /// The store directory.
        path: PathBuf,
        /// The last record the journal still holds intact.
        last_sequence: u64,
        /// The last record proven durable.
        durable_sequence: u64,
        /// What proves it.
        evidence: String,
    },
    /// The journal was opened read-only (for queries and verification) and refuses writes.
    #[error("the journal was opened read-only; open it for writing to append or snapshot")]
    ReadOnly,
}

impl JournalError {
    /// A stable `snake_case` code for the variant, for logs, exit codes and API replies.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Io { .. } => "io",
            Self::Corrupt { .. } => "corrupt",
            Self::Locked { .. } => "locked",
            Self::AlreadyExists { .. } => "already_exists",
            Self::NotAStore { .. } => "not_a_store",
            Self::UnsupportedVersion { .. } => "unsupported_version",
            Self::TimeWentBackwards { .. } => "time_went_backwards",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::BatchTooLarge { .. } => "batch_too_large",
            Self::SnapshotAhead { .. } => "snapshot_ahead",
            Self::SnapshotTooLarge { .. } => "snapshot_too_large",
            Self::SequenceExhausted => "sequence_exhausted",
            Self::Faulted => "faulted",
            Self::ReadOnly => "read_only",
            Self::RecordsLost { .. } => "records_lost",
        }
    }
}

/// Returns a closure turning an `io::Error` about `path` into [`JournalError::Io`], for `map_err`.
pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Builds [`JournalError::Corrupt`].
pub(crate) fn corrupt(path: &Path, offset: u64, reason: impl Into<String>) -> JournalError {
    JournalError::Corrupt {
        path: path.to_path_buf(),
        offset,
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: codes are the documented snake_case strings and messages name the values involved.
    #[test]
    fn codes_are_stable_and_messages_name_values() {
        let error = JournalError::TimeWentBackwards {
            previous_ms: 10,
            given_ms: 9,
        };
        assert_eq!(error.code(), "time_went_backwards");
        assert_eq!(
            error.to_string(),
            "timestamp 9 ms is earlier than the previous record's 10 ms"
        );
        let error = corrupt(Path::new("/s/journal.seg"), 60, "bad crc");
        assert_eq!(error.code(), "corrupt");
        assert_eq!(
            error.to_string(),
            "journal store is corrupt: /s/journal.seg at byte offset 60: bad crc"
        );
        assert_eq!(JournalError::Faulted.code(), "faulted");
    }
}
