//! The durable store: the sequencer that stamps commands with time (the
//! server's clock on a live store, the administrator's clock on a virtual or
//! import store: [`StoreKind`]), applies
//! them to the engine in batches, journals every fresh command with its
//! outcome code and makes the batch durable with one fsync before any reply
//! (group commit); and recovery, which loads the latest snapshot and replays
//! the journal after it, checking every outcome code again.
//!
//! **Invariant:** a reply is returned only after its command is durable;
//! after an I/O fault the store refuses everything until reopened.

mod backend;
mod kind;
mod location;
mod observer;
mod pg_journal;
mod replayed;
mod sequence;
mod store;
mod verify;

pub use backend::{JournalBackend, Records, ReplayRecords};
pub use kind::{KIND_FILE, StoreKind};
pub use location::{DATABASE_SCHEMES, StoreLocation};
pub use observer::{CommitObserver, Committed, JournalHead};
pub use pg_journal::{PG_FORMAT_VERSION, PgJournal, record_hash, redact};
pub use replayed::ReplayRecord;
pub use store::{
    CLIENT_TIME_REFUSED, CLOCK_IS_LIVE, PIPELINE_OBSERVED_MAX, Reply, Store, StoreConfig,
    StoreError, Submission, newest_decodable_snapshot, wall_clock_now,
};
pub use verify::{VerifyReport, replay, verify, verify_at};
