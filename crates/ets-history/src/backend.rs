//! Where the read models are written: the [`Backend`] trait and its
//! embedded implementation on SQLite, a file beside the journal.

use crate::HistoryError;
use crate::project::Row;
use crate::schema::{META_UPSERT_SQL, SCHEMA_SQL, TABLES, Table};
use crate::value::Value;
use rusqlite::types::{ToSqlOutput, ValueRef};
use std::path::Path;

/// A database holding the history tables.
pub trait Backend: Send {
    /// Creates the tables that are missing.
    ///
    /// # Errors
    /// [`HistoryError::Database`] when the database refuses.
    fn create_schema(&mut self) -> Result<(), HistoryError>;

    /// Writes `rows` and sets the `meta` entries in one database transaction:
    /// all of it or none of it.
    ///
    /// # Errors
    /// [`HistoryError::Database`]; nothing was written.
    fn write(&mut self, rows: &[Row], meta: &[(&str, String)]) -> Result<(), HistoryError>;

    /// Every row of `table`, ordered by its key.
    ///
    /// # Errors
    /// [`HistoryError::Database`].
    fn dump(&mut self, table: Table) -> Result<Vec<Vec<Value>>, HistoryError>;

    /// Runs a query with `$1..` parameters and returns its rows.
    ///
    /// # Errors
    /// [`HistoryError::Database`].
    fn query(&mut self, sql: &str, parameters: &[Value]) -> Result<Vec<Vec<Value>>, HistoryError>;

    /// Opens a new session when the database's has been lost (an embedded
    /// file has none to lose).
    ///
    /// # Errors
    /// [`HistoryError::Database`] while the database does not answer.
    fn reconnect(&mut self) -> Result<(), HistoryError> {
        Ok(())
    }

    /// Deletes every row of every table, `meta` included, in one transaction.
    ///
    /// # Errors
    /// [`HistoryError::Database`].
    fn clear(&mut self) -> Result<(), HistoryError>;
}

/// The embedded backend: one SQLite file.
pub struct Sqlite {
    connection: rusqlite::Connection,
    /// Each table's upsert, at its place in [`TABLES`]: the SQL text is built
    /// once, and SQLite prepares it once (the connection's statement cache).
    upserts: Vec<String>,
}

/// Prepared statements a connection keeps: every table's upsert, `meta`'s,
/// and the queries of the projector's memory and of readers.
const STATEMENT_CACHE: usize = 64;

impl Sqlite {
    /// Opens (creating if missing) the SQLite database at `path`.
    ///
    /// # Errors
    /// [`HistoryError::Database`] when the file cannot be opened as SQLite.
    pub fn open(path: &Path) -> Result<Sqlite, HistoryError> {
        let connection = rusqlite::Connection::open(path).map_err(sqlite_error)?;
        // WAL: readers (`ets show`) never block the server's writes.
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(sqlite_error)?;
        // NORMAL: a commit writes the WAL without an fsync (the checkpoint
        // syncs). A crash may lose the last commits, never corrupt the file;
        // the history then stands at an older journal head, recorded with
        // them, and catches up from the journal at the next open (docs/history.md).
        connection
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(sqlite_error)?;
        Ok(Sqlite::with(connection))
    }

    fn with(connection: rusqlite::Connection) -> Sqlite {
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Sqlite {
            connection,
            upserts: TABLES.iter().map(Table::upsert_sql).collect(),
        }
    }

    /// Opens the SQLite database at `path` for reading only.
    ///
    /// # Errors
    /// [`HistoryError::Database`] when it does not exist or is not SQLite.
    pub fn open_read_only(path: &Path) -> Result<Sqlite, HistoryError> {
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
        let connection =
            rusqlite::Connection::open_with_flags(path, flags).map_err(sqlite_error)?;
        Ok(Sqlite::with(connection))
    }
}

impl Backend for Sqlite {
    fn create_schema(&mut self) -> Result<(), HistoryError> {
        self.connection
            .execute_batch(SCHEMA_SQL)
            .map_err(sqlite_error)
    }

    fn write(&mut self, rows: &[Row], meta: &[(&str, String)]) -> Result<(), HistoryError> {
        let transaction = self.connection.transaction().map_err(sqlite_error)?;
        {
            // One cache lookup per table and batch, not per row; values are bound, never formatted.
            let mut statements: [Option<rusqlite::CachedStatement<'_>>; TABLES.len()] =
                std::array::from_fn(|_| None);
            for row in rows {
                let index = row.table.index();
                let statement = match &mut statements[index] {
                    Some(statement) => statement,
                    slot @ None => slot.insert(
                        transaction
                            .prepare_cached(&self.upserts[index])
                            .map_err(sqlite_error)?,
                    ),
                };
                statement
                    .execute(rusqlite::params_from_iter(row.values.iter()))
                    .map_err(sqlite_error)?;
            }
            let mut upsert_meta = transaction
                .prepare_cached(META_UPSERT_SQL)
                .map_err(sqlite_error)?;
            for (key, value) in meta {
                upsert_meta
                    .execute([key, value.as_str()])
                    .map_err(sqlite_error)?;
            }
        }
        transaction.commit().map_err(sqlite_error)
    }

    fn dump(&mut self, table: Table) -> Result<Vec<Vec<Value>>, HistoryError> {
        self.query(&table.select_all_sql(), &[])
    }

    fn query(&mut self, sql: &str, parameters: &[Value]) -> Result<Vec<Vec<Value>>, HistoryError> {
        let mut statement = self.connection.prepare_cached(sql).map_err(sqlite_error)?;
        let columns = statement.column_count();
        let mut rows = statement
            .query(rusqlite::params_from_iter(parameters.iter()))
            .map_err(sqlite_error)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(sqlite_error)? {
            let mut values = Vec::with_capacity(columns);
            for index in 0..columns {
                values.push(match row.get_ref(index).map_err(sqlite_error)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(value) => Value::Int(value),
                    ValueRef::Text(text) => Value::Text(String::from_utf8_lossy(text).into_owned()),
                    ValueRef::Real(_) | ValueRef::Blob(_) => {
                        return Err(HistoryError::Database(format!(
                            "column {index} of `{sql}` is neither an integer nor a text"
                        )));
                    }
                });
            }
            out.push(values);
        }
        Ok(out)
    }

    fn clear(&mut self) -> Result<(), HistoryError> {
        let transaction = self.connection.transaction().map_err(sqlite_error)?;
        for table in TABLES {
            transaction
                .execute(&format!("DELETE FROM {}", table.name), [])
                .map_err(sqlite_error)?;
        }
        transaction
            .execute("DELETE FROM meta", [])
            .map_err(sqlite_error)?;
        transaction.commit().map_err(sqlite_error)
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Owned(rusqlite::types::Value::Null),
            Value::Int(value) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(*value)),
            Value::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
        })
    }
}

fn sqlite_error(error: rusqlite::Error) -> HistoryError {
    HistoryError::Database(error.to_string())
}
