//! [`History`]: a backend with the projection's memory, kept in step with
//! the journal: brought up to it when the store opens (caught up from its
//! head when it lags, rebuilt when it is ahead of or beside it), then written
//! by the follower's writer thread (`follow`), which catches it up again
//! after a failed write; and [`attach`], which hangs it on a store.

use crate::backend::{Backend, Sqlite};
use crate::error::HistoryError;
use crate::follow::{Follower, JournalAt};
use crate::project::{Projector, Row};
use crate::rebuild::{RebuildReport, catch_up_into, rebuild_into};
use crate::schema::{SCHEMA_VERSION, TABLES, Table};
use crate::value::Value;
use ets_engine::Engine;
use ets_store::{Committed, JournalBackend, JournalHead, Store};
use std::path::{Path, PathBuf};

/// The embedded history's file name, beside the journal's segments.
pub const FILE_NAME: &str = "history.sqlite";

/// The embedded history database of the store in `dir`.
#[must_use]
pub fn sqlite_path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// A table with its rows, ordered by key.
pub type TableRows = (Table, Vec<Vec<Value>>);

/// The history tables and what the projection remembers between batches.
pub struct History {
    backend: Box<dyn Backend>,
    projector: Projector,
    /// The journal record last written, as this handle knows it.
    written: Option<JournalHead>,
}

impl History {
    /// Wraps `backend`, creating missing tables and refusing a newer schema.
    ///
    /// # Errors
    /// [`HistoryError::NewerSchema`] or [`HistoryError::Database`].
    pub fn new(mut backend: Box<dyn Backend>) -> Result<History, HistoryError> {
        backend.create_schema()?;
        let mut history = History::with(backend);
        match history.meta("schema_version")? {
            Some(found) => {
                let found: i64 = found.parse().map_err(|_| {
                    HistoryError::Database(format!("schema_version `{found}` is not a number"))
                })?;
                if found > SCHEMA_VERSION {
                    return Err(HistoryError::NewerSchema {
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
                if found < SCHEMA_VERSION {
                    // Created again without a head: the next sync rebuilds it
                    // from the journal (its tables may be laid out otherwise).
                    tracing::info!(found, "history of an older schema; rebuilding it");
                    history.backend.drop_schema()?;
                    history.backend.create_schema()?;
                    history
                        .backend
                        .write(&[], &[("schema_version", SCHEMA_VERSION.to_string())])?;
                }
            }
            None => history
                .backend
                .write(&[], &[("schema_version", SCHEMA_VERSION.to_string())])?,
        }
        history.projector = history.load_projector()?;
        history.written = history.head()?;
        Ok(history)
    }

    fn with(backend: Box<dyn Backend>) -> History {
        History {
            backend,
            projector: Projector::default(),
            written: None,
        }
    }

    /// Opens the embedded history of the store in `dir` for queries only.
    ///
    /// # Errors
    /// [`HistoryError::Database`] when there is none.
    pub fn open_read_only(dir: &Path) -> Result<History, HistoryError> {
        let backend = Sqlite::open_read_only(&sqlite_path(dir))?;
        Ok(History::with(Box::new(backend)))
    }

    /// The journal record the history was last brought up to, if any.
    ///
    /// # Errors
    /// [`HistoryError::Database`].
    pub fn head(&mut self) -> Result<Option<JournalHead>, HistoryError> {
        let (Some(sequence), Some(hash)) = (self.meta("last_sequence")?, self.meta("last_hash")?)
        else {
            return Ok(None);
        };
        let sequence = sequence.parse().map_err(|_| {
            HistoryError::Database(format!("last_sequence `{sequence}` is not a number"))
        })?;
        let hash = parse_hex(&hash).ok_or_else(|| {
            HistoryError::Database(format!("last_hash `{hash}` is not 64 hex digits"))
        })?;
        Ok(Some(JournalHead { sequence, hash }))
    }

    /// Makes the history agree with `journal`: nothing to do when it was
    /// last brought up to the journal's last record; when the journal holds
    /// the record the history stands at (it lags: a crash lost its last
    /// commits, or it was not attached), the records after it are projected;
    /// else (another journal, one cut shorter) a rebuild from the first record.
    ///
    /// # Errors
    /// [`HistoryError`] when the journal cannot be read or the database refuses.
    pub fn sync(
        &mut self,
        journal: &dyn JournalBackend,
    ) -> Result<Option<RebuildReport>, HistoryError> {
        let head = JournalHead {
            sequence: journal.last_sequence(),
            hash: journal.last_hash(),
        };
        let current = self.head()?;
        if current == Some(head) || (current.is_none() && head.sequence == 0) {
            return Ok(None);
        }
        tracing::info!(
            history = current.map_or(0, |head| head.sequence),
            journal = head.sequence,
            "history disagrees with the journal; bringing it up to it"
        );
        self.catch_up(journal).map(Some)
    }

    /// Empties the tables and replays `journal` from its first record.
    ///
    /// # Errors
    /// [`HistoryError`] when the journal cannot be read or replays differently.
    pub fn rebuild(&mut self, journal: &dyn JournalBackend) -> Result<RebuildReport, HistoryError> {
        self.backend.clear()?;
        self.backend
            .write(&[], &[("schema_version", SCHEMA_VERSION.to_string())])?;
        self.projector = Projector::default();
        self.written = None;
        rebuild_into(journal, self)
    }

    /// Brings the history up to `journal`'s last durable record after it
    /// missed some (a write of its own failed, or its database session was
    /// lost): reconnects if need be, reads how far the database really got
    /// (a write whose answer was lost may have committed), and projects every
    /// record after that, none twice; a history the journal does not hold
    /// the head of is rebuilt instead.
    ///
    /// # Errors
    /// [`HistoryError`] when the database is still away or refuses, or the
    /// journal cannot be read.
    pub fn catch_up(
        &mut self,
        journal: &dyn JournalBackend,
    ) -> Result<RebuildReport, HistoryError> {
        self.backend.reconnect()?;
        self.projector = self.load_projector()?;
        self.written = self.head()?;
        let caught_up = match self.written {
            Some(head) => catch_up_into(journal, self, head)?,
            None => None,
        };
        match caught_up {
            Some(report) => Ok(report),
            None => self.rebuild(journal),
        }
    }

    /// Writes one durable batch: its rows and the new journal head, in one transaction.
    ///
    /// # Errors
    /// [`HistoryError`]; nothing of the batch was written and the projector is unchanged.
    pub fn project(
        &mut self,
        engine: &Engine,
        batch: &[Committed],
        head: JournalHead,
    ) -> Result<(), HistoryError> {
        let mut projector = self.projector.clone();
        let rows = projector.rows(engine, batch)?;
        self.write_rows(&rows, head)?;
        self.projector = projector;
        Ok(())
    }

    /// Writes rows projected elsewhere (the follower's) and the journal head
    /// they bring the history to, in one transaction.
    ///
    /// # Errors
    /// [`HistoryError`]; nothing was written.
    pub(crate) fn write_rows(
        &mut self,
        rows: &[Row],
        head: JournalHead,
    ) -> Result<(), HistoryError> {
        self.backend.write(rows, &head_meta(head))?;
        self.written = Some(head);
        Ok(())
    }

    /// The journal record last written, as this handle knows it.
    pub(crate) fn written(&self) -> Option<JournalHead> {
        self.written
    }

    /// The projection's memory as of the last record written.
    pub(crate) fn projector(&self) -> &Projector {
        &self.projector
    }

    /// Every table with its rows ordered by key: what equality of two histories means.
    ///
    /// # Errors
    /// [`HistoryError::Database`].
    pub fn dump(&mut self) -> Result<Vec<TableRows>, HistoryError> {
        TABLES
            .iter()
            .map(|&table| Ok((table, self.backend.dump(table)?)))
            .collect()
    }

    /// The backend, for queries.
    pub fn backend(&mut self) -> &mut dyn Backend {
        self.backend.as_mut()
    }

    fn meta(&mut self, key: &str) -> Result<Option<String>, HistoryError> {
        let rows = self
            .backend
            .query("SELECT value FROM meta WHERE key = $1", &[key.into()])?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|row| row.into_iter().next())
            .and_then(|value| value.as_text().map(str::to_owned)))
    }

    fn load_projector(&mut self) -> Result<Projector, HistoryError> {
        let max = |history: &mut History, sql: &str| -> Result<u64, HistoryError> {
            let rows = history.backend.query(sql, &[])?;
            let value = rows
                .first()
                .and_then(|row| row.first())
                .and_then(Value::as_int);
            Ok(value
                .and_then(|value| u64::try_from(value).ok())
                .unwrap_or(0))
        };
        let transactions = max(self, "SELECT MAX(id) FROM transactions")?;
        let trades = max(self, "SELECT MAX(id) FROM trades")?;
        let pending = self
            .backend
            .query(
                "SELECT id FROM transactions WHERE status IN ('proposed', 'awaiting_approval', 'delayed')",
                &[],
            )?
            .iter()
            .filter_map(|row| row.first().and_then(Value::as_int))
            .filter_map(|id| u64::try_from(id).ok())
            .collect();
        Ok(Projector {
            transactions,
            trades,
            pending,
        })
    }
}

/// Opens (or creates) the history of `store` (a SQLite file beside a file
/// journal, the same PostgreSQL database as a PostgreSQL journal), brings it
/// up to the journal, and hangs it on the store.
///
/// # Errors
/// [`HistoryError`] when the database cannot be opened, is of a newer
/// schema, or the journal cannot be replayed into it.
pub fn attach(store: &mut Store) -> Result<Option<RebuildReport>, HistoryError> {
    let Some(journal) = JournalAt::of(store.journal()) else {
        return Err(HistoryError::Database(
            "the store's journal is neither a directory nor a database".to_owned(),
        ));
    };
    let backend: Box<dyn Backend> = match &journal {
        JournalAt::Directory(dir) => Box::new(Sqlite::open(&sqlite_path(dir))?),
        JournalAt::Database(url) => Box::new(crate::pg::Postgres::connect(url)?),
    };
    let mut history = History::new(backend)?;
    let report = history.sync(store.journal())?;
    store.set_observer(Box::new(Follower::start(history, journal)?));
    Ok(report)
}

/// The `meta` entries that record `head` as the history's.
fn head_meta(head: JournalHead) -> [(&'static str, String); 2] {
    [
        ("last_sequence", head.sequence.to_string()),
        ("last_hash", hex(&head.hash)),
    ]
}

/// The sequence of the journal record the history in `backend` stands at (0: none).
///
/// # Errors
/// [`HistoryError::Database`] when it cannot be read or is not a number.
pub(crate) fn head_sequence(backend: &mut dyn Backend) -> Result<u64, HistoryError> {
    let rows = backend.query("SELECT value FROM meta WHERE key = 'last_sequence'", &[])?;
    let Some(text) = rows
        .first()
        .and_then(|row| row.first())
        .and_then(Value::as_text)
    else {
        return Ok(0);
    };
    text.parse()
        .map_err(|_| HistoryError::Database(format!("last_sequence `{text}` is not a number")))
}

fn hex(bytes: &[u8; 32]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn parse_hex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut bytes = [0_u8; 32];
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[index * 2..index * 2 + 2], 16).ok()?;
    }
    Some(bytes)
}
