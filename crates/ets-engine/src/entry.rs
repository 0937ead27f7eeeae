//! The journal payload of one command: what the sequencer received and the
//! outcome code the engine gave it. The record header carries the sequence
//! number and time; this is the payload, encoded with postcard (a stable,
//! documented binary format; see docs/journal-format.md).

use crate::command::{Command, Envelope};
use crate::engine::CommandDigest;
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

    /// Decodes a payload and digests its command from the command's own
    /// bytes in it (the same bytes [`CommandDigest::of`] would encode), so
    /// replay does not encode every command again to digest it. The outcome
    /// code is borrowed from `payload`: replay only compares it.
    ///
    /// # Errors
    /// [`EntryError`] when the bytes are not a valid entry.
    pub fn decode_digested(payload: &[u8]) -> Result<DigestedEntry<'_>, EntryError> {
        // The fields in order, as the derived encoding writes them.
        let (request_id, rest): (RequestId, &[u8]) = postcard::take_from_bytes(payload)?;
        let (requester, command_and_code): (ParticipantId, &[u8]) =
            postcard::take_from_bytes(rest)?;
        let (command, code): (Command, &[u8]) = postcard::take_from_bytes(command_and_code)?;
        let encoded = &command_and_code[..command_and_code.len() - code.len()];
        let outcome_code: &str = postcard::from_bytes(code)?;
        Ok(DigestedEntry {
            digest: CommandDigest::of_encoded(&command, encoded),
            request_id,
            requester,
            command,
            outcome_code,
        })
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

/// A journal entry decoded for replay ([`JournalEntry::decode_digested`]):
/// its fields, the digest of its command, and its outcome code borrowed from
/// the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestedEntry<'a> {
    /// The client's request id.
    pub request_id: RequestId,
    /// Who sent it.
    pub requester: ParticipantId,
    /// The command as received.
    pub command: Command,
    /// [`CommandDigest::of`] the command, computed from its journaled bytes.
    pub digest: CommandDigest,
    /// The outcome code the engine gave it.
    pub outcome_code: &'a str,
}

impl DigestedEntry<'_> {
    /// The envelope, given the record's time.
    #[must_use]
    pub fn into_envelope(self, time: Timestamp) -> Envelope {
        Envelope {
            request_id: self.request_id,
            requester: self.requester,
            time,
            command: self.command,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ets_model::{AccountId, Code, Quantity, UnitClass, Vintage};
    use ets_registry::RegistryCommand;

    fn retire(beneficiary_bytes: usize) -> Envelope {
        Envelope {
            request_id: RequestId(300),
            requester: ParticipantId(7),
            time: Timestamp(5),
            command: Command::Registry(RegistryCommand::Retire {
                from: AccountId(1_001),
                class: UnitClass::Allowance {
                    scheme: Code::try_new("CEA").expect("a code"),
                    vintage: Vintage(2021),
                },
                quantity: Quantity::new(12),
                beneficiary: "b".repeat(beneficiary_bytes),
            }),
        }
    }

    #[test]
    fn a_digest_from_the_journaled_bytes_is_the_digest_of_the_command() {
        // Goal: replay's digest (hashed from the payload) equals the live
        // digest, for a command that fits the live path's stack buffer and
        // for one that does not (hashed through the hasher instead).
        for beneficiary_bytes in [3, 400] {
            let envelope = retire(beneficiary_bytes);
            let mut payload = Vec::new();
            JournalEntry::encode_into(&envelope, "insufficient_units", &mut payload)
                .expect("encodes");
            let digested = JournalEntry::decode_digested(&payload).expect("decodes");
            assert_eq!(digested.digest, CommandDigest::of(&envelope.command));
            assert_eq!(digested.outcome_code, "insufficient_units");
            assert_eq!(digested.into_envelope(Timestamp(5)), envelope);
        }
        // A different command digests differently.
        let mut payload = Vec::new();
        JournalEntry::encode_into(&retire(4), "ok", &mut payload).expect("encodes");
        let other = JournalEntry::decode_digested(&payload).expect("decodes");
        assert_ne!(other.digest, CommandDigest::of(&retire(3).command));
    }

    #[test]
    fn a_payload_cut_short_does_not_decode() {
        let mut payload = Vec::new();
        JournalEntry::encode_into(&retire(3), "ok", &mut payload).expect("encodes");
        for cut in [1, 3, payload.len() - 1] {
            assert!(JournalEntry::decode_digested(&payload[..cut]).is_err());
        }
    }
}
