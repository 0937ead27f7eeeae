//! The engine: a pure, single-threaded state machine that applies one
//! command at a time and answers with an outcome. It owns idempotency (a
//! repeated request id returns the first outcome), the state hash, the
//! snapshot encoding and the journal entry encoding. No clock, no
//! randomness, no I/O: time and ids come in with each command.
//!
//! **Invariant:** replaying the same commands gives the same outcomes and
//! the same state hash, bit for bit.

pub mod clock;
mod command;
pub mod compliance;
mod engine;
mod entry;
pub mod exchange;
mod kept;
mod outcomes;
pub mod retention;

pub use command::{Command, Effect, Envelope, Outcome, RefusedSummary, Rejection};
pub use engine::{Applied, CommandDigest, Engine, REQUEST_ID_REUSED, SnapshotError, StateHash};
pub use entry::{DigestedEntry, EntryError, JournalEntry};
