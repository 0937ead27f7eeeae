//! The journal payload of one command: what the sequencer received and the
//! outcome code the engine gave it. The record header carries the sequence
//! number and time; this is the payload, encoded with postcard (a stable,
//! documented binary format; see docs/journal-format.md).

use crate::command::{Command, Envelope};
use ets_model::{ParticipantId, RequestId, Timestamp};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The payload could not be decoded.
#[derive(Debug, Error)]
#[error("journal entry does not decode: {0}")]
pub struct EntryError(#[from] postcard::Error);

/// One journaled command, without the time (kept in the record header).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// The client's request id.
    pub request_id: RequestId,
    /// Who sent it.
    pub requester: ParticipantId,
    /// The command as received.
    pub command: Command,
    /// The outcome code the engine gave it (`ok` or a rejection code);
    /// replay checks it again, so nondeterminism is caught.
    pub outcome_code: String,
}

impl JournalEntry {
    /// Appends the encoded entry to `buffer`.
    ///
    /// # Errors
    /// Only if the encoder fails, which postcard does not for these types.
    pub fn encode_into(
        envelope: &Envelope,
        outcome_code: &str,
        buffer: &mut Vec<u8>,
    ) -> Result<(), EntryError> {
        #[derive(Serialize)]
        struct Borrowed<'a> {
            request_id: RequestId,
            requester: ParticipantId,
            command: &'a Command,
            outcome_code: &'a str,
        }
        let borrowed = Borrowed {
            request_id: envelope.request_id,
            requester: envelope.requester,
            command: &envelope.command,
            outcome_code,
        };
        postcard::to_io(&borrowed, buffer)?;
        Ok(())
    }

    /// Decodes a payload.
    ///
    /// # Errors
    /// [`EntryError`] when the bytes are not a valid entry.
    pub fn decode(payload: &[u8]) -> Result<JournalEntry, EntryError> {
        Ok(postcard::from_bytes(payload)?)
    }

    /// The envelope, given the record's time.
    #[must_use]
    pub fn into_envelope(self, time: Timestamp) -> (Envelope, String) {
        (
            Envelope {
                request_id: self.request_id,
                requester: self.requester,
                time,
                command: self.command,
            },
            self.outcome_code,
        )
    }
}
