//! Where a store lives, as every store-opening command names it with
//! `--data`: a directory (the embedded store: journal segments, snapshots,
//! `store-kind` and `history.sqlite`) or a PostgreSQL database, named by a
//! URL that starts with `postgres://` or `postgresql://` (docs/postgres.md).
//! Anything else is a directory.

use crate::kind::StoreKind;
use crate::pg_journal::redact;
use crate::store::{Store, StoreConfig, StoreError};
use std::fmt;
use std::path::{Path, PathBuf};

/// The URL schemes that name a PostgreSQL database.
pub const DATABASE_SCHEMES: [&str; 2] = ["postgres://", "postgresql://"];

/// A store's place: a directory or a PostgreSQL database.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// The embedded store in this directory.
    Directory(PathBuf),
    /// The store in the PostgreSQL database at this URL (password included).
    Database(String),
}

impl StoreLocation {
    /// Reads `--data`: a `postgres://` or `postgresql://` URL is a database,
    /// anything else a directory.
    #[must_use]
    pub fn parse(text: &str) -> StoreLocation {
        if DATABASE_SCHEMES.iter().any(|scheme| {
            text.len() >= scheme.len() && text[..scheme.len()].eq_ignore_ascii_case(scheme)
        }) {
            StoreLocation::Database(text.to_owned())
        } else {
            StoreLocation::Directory(PathBuf::from(text))
        }
    }

    /// The directory of an embedded store.
    #[must_use]
    pub fn directory(&self) -> Option<&Path> {
        match self {
            StoreLocation::Directory(dir) => Some(dir),
            StoreLocation::Database(_) => None,
        }
    }

    /// The URL of a database store (with its password: for connecting, not for messages).
    #[must_use]
    pub fn database_url(&self) -> Option<&str> {
        match self {
            StoreLocation::Directory(_) => None,
            StoreLocation::Database(url) => Some(url),
        }
    }

    /// The location for messages: the directory, or the URL without its password.
    #[must_use]
    pub fn display(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Directory(dir) => write!(f, "{}", dir.display()),
            StoreLocation::Database(url) => f.write_str(&redact(url)),
        }
    }
}

impl fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the password, not even in debug output.
        match self {
            StoreLocation::Directory(dir) => f.debug_tuple("Directory").field(dir).finish(),
            StoreLocation::Database(url) => f.debug_tuple("Database").field(&redact(url)).finish(),
        }
    }
}

impl std::str::FromStr for StoreLocation {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<StoreLocation, Self::Err> {
        Ok(StoreLocation::parse(text))
    }
}

impl From<PathBuf> for StoreLocation {
    fn from(dir: PathBuf) -> StoreLocation {
        StoreLocation::Directory(dir)
    }
}

impl Store {
    /// Creates a new, empty store of `kind` at `location`.
    ///
    /// # Errors
    /// As [`Store::create_of_kind`] for a directory and
    /// [`Store::create_postgres_of_kind`] for a database.
    pub fn create_at(
        location: &StoreLocation,
        config: StoreConfig,
        kind: StoreKind,
    ) -> Result<Store, StoreError> {
        match location {
            StoreLocation::Directory(dir) => Store::create_of_kind(dir, config, kind),
            StoreLocation::Database(url) => Store::create_postgres_of_kind(url, config, kind),
        }
    }

    /// Opens the store at `location` as its one writer and recovers it.
    ///
    /// # Errors
    /// As [`Store::open`] for a directory and [`Store::open_postgres`] for a database.
    pub fn open_at(location: &StoreLocation, config: StoreConfig) -> Result<Store, StoreError> {
        match location {
            StoreLocation::Directory(dir) => Store::open(dir, config),
            StoreLocation::Database(url) => Store::open_postgres(url, config),
        }
    }

    /// Opens the store at `location` for queries only (no lock; writes refused).
    ///
    /// # Errors
    /// As [`Store::open_read_only`] for a directory and
    /// [`Store::open_postgres_read_only`] for a database.
    pub fn open_read_only_at(location: &StoreLocation) -> Result<Store, StoreError> {
        match location {
            StoreLocation::Directory(dir) => Store::open_read_only(dir),
            StoreLocation::Database(url) => Store::open_postgres_read_only(url),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_postgres_url_is_a_database_and_anything_else_a_directory() {
        for url in [
            "postgres://u:p@127.0.0.1:5432/ets",
            "postgresql://127.0.0.1/ets",
            "POSTGRES://h/db",
        ] {
            assert_eq!(
                StoreLocation::parse(url),
                StoreLocation::Database(url.to_owned())
            );
        }
        for dir in ["./registry", "/var/lib/ets", "postgres", "postgres:/x", ""] {
            assert_eq!(
                StoreLocation::parse(dir),
                StoreLocation::Directory(PathBuf::from(dir))
            );
        }
    }

    #[test]
    fn a_database_location_never_shows_its_password() {
        let location = StoreLocation::parse("postgres://ets:s3cret@db1:5432/ets");
        assert_eq!(location.to_string(), "postgres://ets:***@db1:5432/ets");
        assert!(!format!("{location:?}").contains("s3cret"));
        assert_eq!(
            location.database_url(),
            Some("postgres://ets:s3cret@db1:5432/ets")
        );
    }
}
