//! The hook that read models hang on the store: after each batch is durable
//! (its fsync returned), the observer receives the batch's journaled commands
//! with their outcomes and the engine as it stands after the batch.
//!
//! An observer is derived data: it never decides whether a command is
//! accepted, and its failure never withdraws an acknowledgement. An
//! observer that falls behind rebuilds itself from the journal.

use ets_engine::{Engine, Envelope, Outcome};

/// One command that is now durable in the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// Its journal sequence number.
    pub sequence: u64,
    /// The command with its requester, request id and time.
    pub envelope: Envelope,
    /// What the engine answered.
    pub outcome: Outcome,
}

/// Where the journal stands after a batch: its last sequence and record hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalHead {
    /// The last durable record's sequence number (0 for an empty journal).
    pub sequence: u64,
    /// That record's BLAKE3 hash (zeros for an empty journal).
    pub hash: [u8; 32],
}

/// Something that follows the store's durable batches, such as the history database.
pub trait CommitObserver: Send {
    /// Called once per durable batch that journaled at least one command,
    /// after the fsync and before the replies are returned.
    fn committed(&mut self, engine: &Engine, batch: &[Committed], head: JournalHead);
}
