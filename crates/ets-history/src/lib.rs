//! History and read models in a database: every journaled command, the
//! registry's transactions with their serial blocks and status history,
//! holdings per account, trades, orders as entered, closed trading days and
//! closed compliance years, in tables an analyst can open with any SQLite
//! or PostgreSQL tool (docs/history.md).
//!
//! The tables are fed from the store after each durable batch (the store's
//! [`ets_store::CommitObserver`] hook) and can be rebuilt from the journal
//! at any time; both give the same rows. They are derived data: the journal
//! stays the record, and a history that lags or disagrees with it is rebuilt.

mod backend;
mod error;
mod follow;
mod history;
mod pg;
mod project;
pub mod query;
mod reader;
mod rebuild;
pub mod schema;
pub mod statement;
mod value;

pub use backend::{Backend, Sqlite};
pub use error::HistoryError;
pub use follow::{Follower, QUEUE_BATCHES, WRITER_THREAD_NAME, durable_sequence, wait_for_journal};
pub use history::{FILE_NAME, History, TableRows, attach, sqlite_path};
pub use pg::{Postgres, describe as describe_postgres_error};
pub use project::{Projector, Row};
pub use reader::Location;
pub use rebuild::RebuildReport;
pub use value::Value;
