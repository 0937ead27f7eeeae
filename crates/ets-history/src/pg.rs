//! The history in PostgreSQL: the same tables and SQL as the embedded
//! SQLite file, for the production store (docs/postgres.md).

use crate::backend::Backend;
use crate::error::HistoryError;
use crate::project::Row;
use crate::schema::{META_UPSERT_SQL, SCHEMA_SQL, TABLES, Table, drop_schema_sql};
use crate::value::Value;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, NoTls, Statement};

/// A history backend on a PostgreSQL database.
pub struct Postgres {
    client: Client,
    /// Where to connect again after the session is lost (`None`: a client
    /// handed in, which cannot be reopened).
    url: Option<String>,
    /// Each table's upsert at its place in [`TABLES`], then `meta`'s:
    /// prepared once per session, when first needed.
    statements: Vec<Option<Statement>>,
}

/// Where `meta`'s upsert is kept in [`Postgres::statements`].
const META_STATEMENT: usize = TABLES.len();

impl Postgres {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`).
    ///
    /// # Errors
    /// [`HistoryError::Database`] when the server does not answer or refuses the credentials.
    pub fn connect(url: &str) -> Result<Postgres, HistoryError> {
        let client = Client::connect(url, NoTls).map_err(pg_error)?;
        Ok(Postgres::with(client, Some(url.to_owned())))
    }

    /// Wraps an open connection.
    #[must_use]
    pub fn with_client(client: Client) -> Postgres {
        Postgres::with(client, None)
    }

    fn with(client: Client, url: Option<String>) -> Postgres {
        Postgres {
            client,
            url,
            statements: vec![None; META_STATEMENT + 1],
        }
    }

    /// The prepared statement at `index` of [`Postgres::statements`], preparing it if need be.
    fn statement(&mut self, index: usize) -> Result<Statement, HistoryError> {
        if let Some(statement) = &self.statements[index] {
            return Ok(statement.clone());
        }
        let sql = match TABLES.get(index) {
            Some(table) => table.upsert_sql(),
            None => META_UPSERT_SQL.to_owned(),
        };
        let statement = self.client.prepare(&sql).map_err(pg_error)?;
        self.statements[index] = Some(statement.clone());
        Ok(statement)
    }
}

impl Backend for Postgres {
    fn create_schema(&mut self) -> Result<(), HistoryError> {
        self.client.batch_execute(SCHEMA_SQL).map_err(pg_error)
    }

    fn drop_schema(&mut self) -> Result<(), HistoryError> {
        let mut transaction = self.client.transaction().map_err(pg_error)?;
        transaction
            .batch_execute(&drop_schema_sql())
            .map_err(pg_error)?;
        transaction.commit().map_err(pg_error)?;
        // Statements prepared on the dropped tables are no longer valid.
        self.statements.fill(None);
        Ok(())
    }

    fn write(&mut self, rows: &[Row], meta: &[(&str, String)]) -> Result<(), HistoryError> {
        // Prepared before the transaction (once per session), bound in it.
        let mut statements: [Option<Statement>; TABLES.len()] = std::array::from_fn(|_| None);
        for row in rows {
            let index = row.table.index();
            if statements[index].is_none() {
                statements[index] = Some(self.statement(index)?);
            }
        }
        let upsert_meta = self.statement(META_STATEMENT)?;
        let mut transaction = self.client.transaction().map_err(pg_error)?;
        for row in rows {
            let Some(statement) = &statements[row.table.index()] else {
                continue;
            };
            let parameters: Vec<&(dyn ToSql + Sync)> = row
                .values
                .iter()
                .map(|value| value as &(dyn ToSql + Sync))
                .collect();
            transaction
                .execute(statement, &parameters)
                .map_err(pg_error)?;
        }
        for (key, value) in meta {
            transaction
                .execute(&upsert_meta, &[key, value])
                .map_err(pg_error)?;
        }
        transaction.commit().map_err(pg_error)
    }

    fn dump(&mut self, table: Table) -> Result<Vec<Vec<Value>>, HistoryError> {
        self.query(&table.select_all_sql(), &[])
    }

    fn query(&mut self, sql: &str, parameters: &[Value]) -> Result<Vec<Vec<Value>>, HistoryError> {
        let parameters: Vec<&(dyn ToSql + Sync)> = parameters
            .iter()
            .map(|value| value as &(dyn ToSql + Sync))
            .collect();
        let rows = self.client.query(sql, &parameters).map_err(pg_error)?;
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|index| read_value(row, index, sql))
                    .collect()
            })
            .collect()
    }

    fn reconnect(&mut self) -> Result<(), HistoryError> {
        let alive = !self.client.is_closed() && self.client.simple_query("SELECT 1").is_ok();
        match &self.url {
            Some(url) if !alive => {
                self.client = Client::connect(url, NoTls).map_err(pg_error)?;
                // Statements belong to the session that prepared them.
                self.statements.fill(None);
                tracing::info!("history reconnected to the database");
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn clear(&mut self) -> Result<(), HistoryError> {
        let names: Vec<&str> = TABLES.iter().map(|table| table.name).collect();
        self.client
            .batch_execute(&format!("TRUNCATE {}, meta", names.join(", ")))
            .map_err(pg_error)
    }
}

fn read_value(row: &postgres::Row, index: usize, sql: &str) -> Result<Value, HistoryError> {
    let column_type = row.columns()[index].type_().clone();
    let value = if column_type == Type::INT8 {
        row.try_get::<_, Option<i64>>(index)
            .map(|v| v.map(Value::Int))
    } else if column_type == Type::INT4 {
        row.try_get::<_, Option<i32>>(index)
            .map(|v| v.map(|v| Value::Int(i64::from(v))))
    } else if column_type == Type::TEXT || column_type == Type::VARCHAR {
        row.try_get::<_, Option<String>>(index)
            .map(|v| v.map(Value::Text))
    } else {
        return Err(HistoryError::Database(format!(
            "column {index} of `{sql}` is of type {column_type}, neither an integer nor a text"
        )));
    };
    Ok(value.map_err(pg_error)?.unwrap_or(Value::Null))
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(value) if *ty == Type::INT4 => i32::try_from(*value)?.to_sql(ty, out),
            Value::Int(value) => value.to_sql(ty, out),
            Value::Text(text) => text.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        <i64 as ToSql>::accepts(ty) || <i32 as ToSql>::accepts(ty) || <String as ToSql>::accepts(ty)
    }

    to_sql_checked!();
}

/// A PostgreSQL error as a history error, with the server's own message when it sent one.
pub(crate) fn pg_error(error: postgres::Error) -> HistoryError {
    HistoryError::Database(describe(&error))
}

/// The server's code and message, or the client's reason (connection refused, timeout).
#[must_use]
pub fn describe(error: &postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
