//! Where the read models are written: the [`Backend`] trait and its
//! embedded implementation on SQLite, a file beside the journal.

use crate::HistoryError;
use crate::project::Row;
use crate::schema::{META_UPSERT_SQL, TABLES, Table, drop_schema_sql, sqlite_schema_sql};
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

    /// Drops every table and index of the schema, in one transaction: a
    /// database of an older version is created again before its rebuild.
    ///
    /// # Errors
    /// [`HistoryError::Database`] when the database refuses.
    fn drop_schema(&mut self) -> Result<(), HistoryError>;

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
    /// Each table's upserts, at its place in [`TABLES`]: the SQL texts are
    /// built once, and SQLite prepares each once (the connection's statement cache).
    upserts: Vec<Upserts>,
}

/// Settings of the writing connection that cost nothing in what is stored:
/// a page cache large enough to hold the tables' hot pages and indexes
/// (SQLite's default is 2 MiB, below a busy day's history, so pages are
/// read again from the file), temporary structures in memory, a WAL
/// checkpointed every 4,000 pages rather than 1,000 (a hot page, a holding
/// or an index's last leaf, is copied to the file once per checkpoint, not
/// once per commit) and cut back to 64 MiB after a checkpoint.
const WRITER_PRAGMAS: [(&str, i64); 4] = [
    ("cache_size", -65_536),
    ("temp_store", 2),
    ("wal_autocheckpoint", 4_000),
    ("journal_size_limit", 64 << 20),
];

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
        for (pragma, value) in WRITER_PRAGMAS {
            connection
                .pragma_update(None, pragma, value)
                .map_err(sqlite_error)?;
        }
        Ok(Sqlite::with(connection))
    }

    fn with(connection: rusqlite::Connection) -> Sqlite {
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Sqlite {
            connection,
            upserts: TABLES.iter().map(Upserts::of).collect(),
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
            .execute_batch(&sqlite_schema_sql())
            .map_err(sqlite_error)
    }

    fn drop_schema(&mut self) -> Result<(), HistoryError> {
        let transaction = self.connection.transaction().map_err(sqlite_error)?;
        transaction
            .execute_batch(&drop_schema_sql())
            .map_err(sqlite_error)?;
        transaction.commit().map_err(sqlite_error)
    }

    fn write(&mut self, rows: &[Row], meta: &[(&str, String)]) -> Result<(), HistoryError> {
        let transaction = self.connection.transaction().map_err(sqlite_error)?;
        {
            for (upserts, table_rows) in self.upserts.iter().zip(&by_table_in_key_order(rows)) {
                upsert_rows(&transaction, upserts, table_rows)?;
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

/// `rows` by table, at each table's place in [`TABLES`], each table's in
/// the order of their keys: a B-tree is then written from one end to the
/// other, each page visited once, not once per row. The sort is stable, so a
/// later row of a key still comes after (and overwrites) an earlier one; no
/// table refers to another, so the order between tables does not matter.
fn by_table_in_key_order(rows: &[Row]) -> [Vec<&Row>; TABLES.len()] {
    let mut by_table: [Vec<&Row>; TABLES.len()] = std::array::from_fn(|_| Vec::new());
    for row in rows {
        by_table[row.table.index()].push(row);
    }
    for table_rows in &mut by_table {
        table_rows.sort_by(|a, b| a.key_values().cmp(b.key_values()));
    }
    by_table
}

/// Rows one multi-row upsert carries: each statement costs SQLite and
/// rusqlite a fixed share (step, reset, bind checks) whatever its rows.
const ROWS_PER_UPSERT: usize = 16;

/// A table's upserts: of one row, and of [`ROWS_PER_UPSERT`] rows.
struct Upserts {
    one: String,
    many: String,
}

impl Upserts {
    fn of(table: &Table) -> Upserts {
        Upserts {
            one: table.upsert_sql(),
            many: table.upsert_rows_sql(ROWS_PER_UPSERT),
        }
    }
}

/// Writes `rows` of one table, in their order: whole groups of
/// [`ROWS_PER_UPSERT`] in one statement each, the rest one by one.
fn upsert_rows(
    transaction: &rusqlite::Transaction<'_>,
    upserts: &Upserts,
    rows: &[&Row],
) -> Result<(), HistoryError> {
    let mut groups = rows.chunks_exact(ROWS_PER_UPSERT);
    if groups.len() > 0 {
        let mut statement = transaction
            .prepare_cached(&upserts.many)
            .map_err(sqlite_error)?;
        for group in &mut groups {
            let values = group.iter().flat_map(|row| row.values.iter());
            statement
                .execute(rusqlite::params_from_iter(values))
                .map_err(sqlite_error)?;
        }
    }
    let rest = groups.remainder();
    if !rest.is_empty() {
        let mut statement = transaction
            .prepare_cached(&upserts.one)
            .map_err(sqlite_error)?;
        for row in rest {
            statement
                .execute(rusqlite::params_from_iter(row.values.iter()))
                .map_err(sqlite_error)?;
        }
    }
    Ok(())
}

fn sqlite_error(error: rusqlite::Error) -> HistoryError {
    HistoryError::Database(error.to_string())
}
