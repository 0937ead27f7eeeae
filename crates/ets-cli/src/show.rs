//! `ets show` and `ets verify`: read-only looks at a store.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use ets_api::{account_view, participant_view, serial_view, transaction_view};
use ets_model::{AccountId, ParticipantId, TransactionId};
use ets_store::StoreLocation;
use serde_json::json;
use std::process::ExitCode;

/// What to show.
#[derive(Subcommand)]
pub enum What {
    /// An account: kind, holder, status, representatives, holdings with serial blocks.
    Account {
        /// The account id.
        id: u64,
    },
    /// A transaction with its full status history (the audit trail).
    Tx {
        /// The transaction id.
        id: u64,
    },
    /// A serial number: its unit class, who holds it now, and every transaction that moved it.
    Serial {
        /// The serial number.
        serial: u64,
    },
    /// A participant.
    Participant {
        /// The participant id.
        id: u64,
    },
}

/// Runs `ets show`: prints what `what` names as JSON.
///
/// # Errors
/// The store cannot be opened, or what is asked for does not exist.
pub fn run(data: &StoreLocation, what: What) -> Result<ExitCode> {
    let store = crate::one_command::open_for_view(data)?;
    let registry = store.engine().registry();
    let view = match what {
        What::Account { id } => serde_json::to_value(account_view(registry, AccountId(id))?)?,
        What::Tx { id } => match registry.transaction(TransactionId(id)) {
            Ok(_) => serde_json::to_value(transaction_view(registry, TransactionId(id))?)?,
            // Finished transactions leave a bounded engine: the history has them all.
            Err(_) if id < registry.next_transaction_id().0 => transaction_from_history(data, id)?,
            Err(error) => return Err(error.into()),
        },
        What::Participant { id } => {
            serde_json::to_value(participant_view(registry, ParticipantId(id))?)?
        }
        // A bounded engine keeps only recent movements: the history has them all.
        What::Serial { serial } if store.engine().retention_window().is_some() => {
            match serial_view(registry, serial) {
                Some(view) => serde_json::to_value(serial_from_history(data, view)?)?,
                None => bail!(
                    "serial {serial} was never issued (serials issued so far run from 1 to {})",
                    registry.next_serial() - 1
                ),
            }
        }
        What::Serial { serial } => match serial_view(registry, serial) {
            Some(view) => serde_json::to_value(view)?,
            None => bail!(
                "serial {serial} was never issued (serials issued so far run from 1 to {})",
                registry.next_serial() - 1
            ),
        },
    };
    print_json(&view)?;
    Ok(ExitCode::SUCCESS)
}

/// The engine's view of a serial with its whole history from the history
/// database: the answer a store that keeps everything gives.
fn serial_from_history(
    data: &StoreLocation,
    view: ets_api::SerialView,
) -> Result<ets_api::SerialView> {
    let mut history = crate::history::open(data)?;
    let key = i64::try_from(view.serial).context("serial number too large")?;
    let movements = ets_history::query::serial(history.as_mut(), key)?.movements;
    let history = movements
        .iter()
        .map(ets_api::TransactionView::try_from)
        .collect::<Result<_, String>>()
        .map_err(anyhow::Error::msg)?;
    Ok(ets_api::SerialView { history, ..view })
}

/// A transaction the engine no longer retains, as the history database has
/// it, in the engine's view's shape.
fn transaction_from_history(data: &StoreLocation, id: u64) -> Result<serde_json::Value> {
    let mut history = crate::history::open(data)?;
    let key = i64::try_from(id).context("transaction id too large")?;
    match ets_history::query::transaction(history.as_mut(), key)? {
        Some(row) => {
            let view = ets_api::TransactionView::try_from(&row).map_err(anyhow::Error::msg)?;
            Ok(serde_json::to_value(view)?)
        }
        None => bail!("transaction {id} is not in the history database either"),
    }
}

/// Runs `ets verify`: prints the record count and state hash as a JSON line,
/// or `"ok": false` with the failure's code and message and exits 1.
///
/// # Errors
/// Only when the line cannot be printed.
pub fn verify(data: &StoreLocation) -> Result<ExitCode> {
    match ets_store::verify_at(data) {
        Ok(report) => {
            // The chain was just verified; its head is the last record's hash.
            let head = ets_api::public_report::hex(&report.head_hash);
            let line = json!({
                "ok": true,
                "records": report.records,
                "journal_head_hash": head,
                "segments": report.segments,
                "state_hash": report.state_hash.to_string(),
                "snapshot_sequence": report.snapshot_sequence,
                "warnings": report.warnings,
            });
            print_json(&line)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            let line = json!({ "ok": false, "code": error.code(), "message": error.to_string() });
            print_json(&line)?;
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Writes pretty JSON and a newline to standard output, returning a write
/// error (a closed pipe ends the tool quietly in `main`) instead of panicking.
fn print_json(value: &serde_json::Value) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}
