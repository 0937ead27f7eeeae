//! The durable store: the sequencer that stamps commands with time, applies
//! them to the engine in batches, journals every fresh command with its
//! outcome code and makes the batch durable with one fsync before any reply
//! (group commit); and recovery, which loads the latest snapshot and replays
//! the journal after it, checking every outcome code again.
//!
//! **Invariant:** a reply is returned only after its command is durable;
//! after an I/O fault the store refuses everything until reopened.

mod backend;
mod observer;
mod pg_journal;
mod store;
mod verify;

pub use backend::{JournalBackend, Records};
pub use observer::{CommitObserver, Committed, JournalHead};
pub use pg_journal::{PG_FORMAT_VERSION, PgJournal, record_hash, redact};

pub use store::{Reply, Store, StoreConfig, StoreError, Submission, wall_clock_now};
pub use verify::{VerifyReport, verify};
