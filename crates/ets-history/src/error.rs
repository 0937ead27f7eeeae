//! What can go wrong with the history database, with stable codes.

use thiserror::Error;

/// A fault of the history database.
#[derive(Debug, Error)]
pub enum HistoryError {
    /// The database refused or could not be reached.
    #[error("history database: {0}")]
    Database(String),
    /// A number does not fit its 64-bit column.
    #[error("history column {column}: {value} does not fit a signed 64-bit integer")]
    OutOfRange {
        /// The column.
        column: &'static str,
        /// The value.
        value: u64,
    },
    /// The database was written by a newer version of openets.
    #[error(
        "the history database has schema version {found}, newer than the {supported} this version understands; upgrade openets or rebuild the history into a new database"
    )]
    NewerSchema {
        /// The version found.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// The history did not reach the journal record a read needs in time.
    #[error(
        "the history stands at journal record {at}, behind the {journal} this read needs; it is catching up, try again"
    )]
    Behind {
        /// The record the history stands at.
        at: u64,
        /// The record the read waited for.
        journal: u64,
    },
    /// The journal could not be read.
    #[error(transparent)]
    Journal(#[from] ets_store::StoreError),
    /// A journal record does not replay as it was journaled.
    #[error("history rebuild: record {sequence}: {reason}")]
    Replay {
        /// The record's sequence number.
        sequence: u64,
        /// What is wrong.
        reason: String,
    },
}

impl HistoryError {
    /// The stable machine-readable code of this error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            HistoryError::Database(_) => "history_database",
            HistoryError::OutOfRange { .. } => "history_out_of_range",
            HistoryError::NewerSchema { .. } => "history_schema_newer",
            HistoryError::Behind { .. } => "history_behind",
            HistoryError::Journal(error) => error.code(),
            HistoryError::Replay { .. } => "history_replay_mismatch",
        }
    }
}
