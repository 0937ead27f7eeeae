//! The hook that read models hang on the store: after each batch is durable
//! (its fsync returned), the observer receives the batch's journaled commands
//! with their outcomes and the engine as it stands after the batch.
//!
//! An observer is derived data: it never decides whether a command is
//! accepted, and its failure never withdraws an acknowledgement. An
//! observer that falls behind rebuilds itself from the journal.
//!
//! The sequencer waits for [`CommitObserver::committed`]: an observer that
//! writes somewhere slow takes what it needs of the engine, owned, and hands
//! the writing to a thread of its own (the history database's `Follower`
//! does), since the engine it is given changes with the next batch.

use crate::backend::JournalBackend;
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
    /// after the fsync and before the replies are returned. `journal` holds
    /// every durable record up to `head`: an observer that finds itself
    /// behind (a write of its own failed earlier) catches up from it.
    fn committed(
        &mut self,
        engine: &Engine,
        batch: &[Committed],
        head: JournalHead,
        journal: &dyn JournalBackend,
    );

    /// Called when the store comes back after a fault of its database
    /// (`Store::resume`): `settled` is the failed batch when it turned out
    /// durable after all (empty when it was dropped), `engine` and `head` the
    /// durable state after it. The observer may have missed more than that
    /// batch while the database was away; it catches up from `journal`, with
    /// no gap and no record twice. By default: the settled batch, if any, as
    /// any other durable batch.
    fn resumed(
        &mut self,
        engine: &Engine,
        settled: &[Committed],
        head: JournalHead,
        journal: &dyn JournalBackend,
    ) {
        if !settled.is_empty() {
            self.committed(engine, settled, head, journal);
        }
    }
}
