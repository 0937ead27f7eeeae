//! Where a store's history lives, and a connection for queries to it that
//! a server can hold beside the sequencer (which writes through its own).

use crate::backend::{Backend, Sqlite};
use crate::error::HistoryError;
use crate::follow::JournalAt;
use crate::history::sqlite_path;
use ets_store::JournalBackend;
use std::path::PathBuf;

/// Where the history of a store is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The SQLite file beside a file journal.
    Sqlite(PathBuf),
    /// The PostgreSQL database of a PostgreSQL journal (its URL).
    Postgres(String),
}

impl Location {
    /// The history's location for a store with this journal, if it has one.
    #[must_use]
    pub fn of(journal: &dyn JournalBackend) -> Option<Location> {
        Some(match JournalAt::of(journal)? {
            JournalAt::Directory(dir) => Location::Sqlite(sqlite_path(&dir)),
            JournalAt::Database(url) => Location::Postgres(url),
        })
    }

    /// A new connection for queries. SQLite opens read-only (WAL: it never
    /// blocks the writer and sees each batch once committed).
    ///
    /// # Errors
    /// [`HistoryError::Database`] when the database cannot be opened.
    pub fn open_reader(&self) -> Result<Box<dyn Backend>, HistoryError> {
        Ok(match self {
            Location::Sqlite(path) => Box::new(Sqlite::open_read_only(path)?),
            Location::Postgres(url) => Box::new(crate::pg::Postgres::connect(url)?),
        })
    }
}
