//! The users of a PostgreSQL store, kept in its database beside the journal
//! (docs/postgres.md), so that they fail over with it to a promoted standby:
//! table `ets_users`, one row holding the same JSON document as a directory
//! store's `users.json`, and a revision that every change raises. A change
//! is written only over the revision it read (compare and set), so two
//! changes at once never lose one of them: the later is refused and can be
//! sent again.

use crate::users::UsersError;
use postgres::{Client, NoTls};

/// The table, created when first needed.
const CREATE_SQL: &str = "CREATE TABLE IF NOT EXISTS ets_users (\
    id INT PRIMARY KEY CHECK (id = 1), \
    revision BIGINT NOT NULL, \
    document TEXT NOT NULL)";

/// The users document as stored, with its revision (0: none yet).
pub(crate) struct Stored {
    /// Raised by every change.
    pub(crate) revision: i64,
    /// The JSON text; `None` when no user was ever added.
    pub(crate) document: Option<String>,
}

fn failed(url: &str) -> impl Fn(postgres::Error) -> UsersError + '_ {
    move |error| UsersError::Database {
        reason: format!(
            "{}: {}",
            ets_store::redact(url),
            ets_history::describe_postgres_error(&error)
        ),
    }
}

/// Connects to the store's database and makes sure the table exists.
pub(crate) fn connect(url: &str) -> Result<Client, UsersError> {
    let mut client = Client::connect(url, NoTls).map_err(failed(url))?;
    client.batch_execute(CREATE_SQL).map_err(failed(url))?;
    Ok(client)
}

/// Reads the document and its revision.
pub(crate) fn read(client: &mut Client, url: &str) -> Result<Stored, UsersError> {
    let row = client
        .query_opt("SELECT revision, document FROM ets_users WHERE id = 1", &[])
        .map_err(failed(url))?;
    Ok(match row {
        Some(row) => Stored {
            revision: row.try_get(0).map_err(failed(url))?,
            document: Some(row.try_get(1).map_err(failed(url))?),
        },
        None => Stored {
            revision: 0,
            document: None,
        },
    })
}

/// The revision alone: a cheap check whether the users changed.
pub(crate) fn revision(client: &mut Client, url: &str) -> Result<i64, UsersError> {
    let row = client
        .query_opt("SELECT revision FROM ets_users WHERE id = 1", &[])
        .map_err(failed(url))?;
    row.map_or(Ok(0), |row| row.try_get(0).map_err(failed(url)))
}

/// Writes `document` over revision `read_at`, durable when it returns.
///
/// # Errors
/// [`UsersError::Changed`] when another change came first; nothing written.
pub(crate) fn write(
    client: &mut Client,
    url: &str,
    read_at: i64,
    document: &str,
) -> Result<(), UsersError> {
    let written = if read_at == 0 {
        client.execute(
            "INSERT INTO ets_users (id, revision, document) VALUES (1, 1, $1) ON CONFLICT (id) DO NOTHING",
            &[&document],
        )
    } else {
        client.execute(
            "UPDATE ets_users SET revision = revision + 1, document = $2 WHERE id = 1 AND revision = $1",
            &[&read_at, &document],
        )
    }
    .map_err(failed(url))?;
    if written == 1 {
        Ok(())
    } else {
        Err(UsersError::Changed)
    }
}
