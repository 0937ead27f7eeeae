//! Replay of journal records: each record decoded into the command's
//! envelope, the digest of its command (hashed from the command's bytes in
//! the payload, not encoded again) and the outcome code it was journaled
//! with; then applied to an engine, whose outcome code must be the same.
//!
//! Decoding needs nothing of the engine, so recovery decodes on the thread
//! that reads and checks the records ([`ReplayRecord::decode`] as the map of
//! `ets_journal::Journal::read_ahead_from_map`): the applying thread only
//! applies (docs/benchmarks.md).

use crate::observer::Committed;
use crate::store::StoreError;
use ets_engine::{Applied, CommandDigest, Engine, Envelope, JournalEntry};
use ets_journal::RecordView;
use ets_model::Timestamp;
use std::borrow::Cow;

/// The outcome code of almost every journaled record, kept without an allocation.
const OK: &str = "ok";

/// One journal record, decoded and ready to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayRecord {
    /// Its journal sequence number.
    pub sequence: u64,
    /// The command with its requester, request id and the record's time.
    pub envelope: Envelope,
    /// The digest of the command, from its journaled bytes.
    pub digest: CommandDigest,
    /// The outcome code it was journaled with.
    pub journaled: Cow<'static, str>,
}

impl ReplayRecord {
    /// Decodes a checked record.
    ///
    /// # Errors
    /// [`StoreError::BadRecord`] naming the record when its payload is not a journal entry.
    pub fn decode(record: &RecordView<'_>) -> Result<ReplayRecord, StoreError> {
        let entry = JournalEntry::decode_digested(record.payload).map_err(|error| {
            StoreError::BadRecord {
                sequence: record.sequence,
                reason: error.to_string(),
            }
        })?;
        let journaled = match entry.outcome_code {
            OK => Cow::Borrowed(OK),
            other => Cow::Owned(other.to_owned()),
        };
        let digest = entry.digest;
        Ok(ReplayRecord {
            sequence: record.sequence,
            envelope: entry.into_envelope(Timestamp(record.timestamp_ms)),
            digest,
            journaled,
        })
    }

    /// Applies the record to `engine` and checks that the outcome code is the
    /// journaled one.
    ///
    /// # Errors
    /// [`StoreError::ReplayMismatch`] when the engine answers another code.
    pub fn check(&self, engine: &mut Engine) -> Result<(), StoreError> {
        // Compared where it was returned: the outcome is not moved again
        // (into a `Result`) only to be dropped.
        self.compare(&engine.apply_digested(&self.envelope, self.digest))
    }

    /// [`ReplayRecord::check`], returning the command with the outcome it got.
    ///
    /// # Errors
    /// [`StoreError::ReplayMismatch`] when the engine answers another code.
    pub fn apply(self, engine: &mut Engine) -> Result<Committed, StoreError> {
        let applied = engine.apply_digested(&self.envelope, self.digest);
        self.compare(&applied)?;
        let outcome = match applied {
            Applied::Fresh(outcome) | Applied::Reused(outcome) | Applied::Duplicate(outcome) => {
                outcome
            }
        };
        Ok(Committed {
            sequence: self.sequence,
            envelope: self.envelope,
            outcome,
        })
    }

    /// Checks that `applied`, what the engine answered to this record, has
    /// the journaled outcome code.
    fn compare(&self, applied: &Applied) -> Result<(), StoreError> {
        let replayed = match applied {
            Applied::Fresh(outcome) | Applied::Reused(outcome) => outcome.code(),
            Applied::Duplicate(_) => "duplicate",
        };
        if replayed != self.journaled {
            return Err(StoreError::ReplayMismatch {
                sequence: self.sequence,
                journaled: self.journaled.to_string(),
                replayed: replayed.to_owned(),
            });
        }
        Ok(())
    }
}
