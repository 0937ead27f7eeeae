//! `ets history`: the history database beside the journal (docs/history.md),
//! or the history tables in the store's PostgreSQL database: rebuilding it
//! from the journal, and reading transactions, serials and an account's
//! movements from it. Also the one call that hangs the history on an opened store.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use ets_history::{Backend, History, Postgres, Sqlite, query, sqlite_path};
use ets_store::{Store, StoreLocation};
use serde::Serialize;
use std::process::ExitCode;

/// What to do with the history.
#[derive(Subcommand)]
pub enum HistoryCommand {
    /// Empties the history database and rebuilds it from the journal's first record.
    ///
    /// Example: `ets history rebuild --data ./registry`
    Rebuild {
        /// The store: a directory or a PostgreSQL URL.
        #[arg(long, value_name = "DIR|URL")]
        data: StoreLocation,
    },
    /// A transaction with its status history and serial blocks, from the history.
    Tx {
        /// The store: a directory or a PostgreSQL URL.
        #[arg(long, value_name = "DIR|URL")]
        data: StoreLocation,
        /// The transaction id.
        id: i64,
    },
    /// Every completed transaction that moved a serial, from the history.
    Serial {
        /// The store: a directory or a PostgreSQL URL.
        #[arg(long, value_name = "DIR|URL")]
        data: StoreLocation,
        /// The serial number.
        serial: i64,
    },
    /// The latest transactions from or to an account, newest first.
    Account {
        /// The store: a directory or a PostgreSQL URL.
        #[arg(long, value_name = "DIR|URL")]
        data: StoreLocation,
        /// The account id.
        id: i64,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
}

/// What `ets history rebuild` prints.
#[derive(Serialize)]
struct Rebuilt {
    ok: bool,
    records: u64,
    last_sequence: u64,
}

/// Runs an `ets history` command.
pub fn run(command: HistoryCommand) -> Result<ExitCode> {
    match command {
        HistoryCommand::Rebuild { data } => {
            // Holding the store's lock keeps a server from writing while the history is rebuilt.
            let store = Store::open_at(&data, ets_store::StoreConfig::default())
                .with_context(|| format!("cannot open the store in {}", data.display()))?;
            let backend: Box<dyn Backend> = match &data {
                StoreLocation::Directory(dir) => Box::new(Sqlite::open(&sqlite_path(dir))?),
                StoreLocation::Database(url) => Box::new(Postgres::connect(url)?),
            };
            let mut history = History::new(backend)?;
            let report = history.rebuild(store.journal())?;
            drop(store);
            print(&Rebuilt {
                ok: true,
                records: report.records,
                last_sequence: report.head.sequence,
            })
        }
        HistoryCommand::Tx { data, id } => {
            let mut history = open(&data)?;
            match query::transaction(history.as_mut(), id)? {
                Some(view) => print(&view),
                None => bail!("transaction {id} is not in the history"),
            }
        }
        HistoryCommand::Serial { data, serial } => {
            let mut history = open(&data)?;
            print(&query::serial(history.as_mut(), serial)?)
        }
        HistoryCommand::Account { data, id, limit } => {
            let mut history = open(&data)?;
            print(&query::account_transactions(history.as_mut(), id, limit)?)
        }
    }
}

/// Opens (creating or rebuilding as needed) the history of `store` and
/// feeds it every durable batch from now on.
pub fn attach(store: &mut Store) -> Result<()> {
    ets_history::attach(store).context("cannot bring the history database up to the journal")?;
    Ok(())
}

/// The history tables to read: the embedded database of a directory store
/// (which must exist), or the store's PostgreSQL database.
pub(crate) fn open(data: &StoreLocation) -> Result<Box<dyn Backend>> {
    match data {
        StoreLocation::Directory(dir) => {
            if !sqlite_path(dir).exists() {
                bail!(
                    "{} has no history database; run `ets history rebuild --data {}`",
                    dir.display(),
                    dir.display()
                );
            }
            Ok(Box::new(Sqlite::open_read_only(&sqlite_path(dir))?))
        }
        StoreLocation::Database(url) => Ok(Box::new(Postgres::connect(url)?)),
    }
}

fn print(value: &impl Serialize) -> Result<ExitCode> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(ExitCode::SUCCESS)
}
