//! `ets clock`: the clock of a store, and advancing it on a virtual or import store.

use anyhow::{Context, Result};
use clap::Subcommand;
use ets_model::ParticipantId;
use ets_store::{Store, StoreConfig};
use std::process::ExitCode;

/// The clock subcommands.
#[derive(Subcommand)]
pub enum Clock {
    /// Prints the store's kind and clock (the time of its last command).
    ///
    /// Example: `ets clock show --data ./registry`
    Show {
        #[command(flatten)]
        data: crate::StoreDir,
    },
    /// Moves the clock of a virtual or import store forward (an administrator's
    /// `advance_clock`, journaled); a live store refuses it.
    ///
    /// Example: `ets clock advance --data ./history --requester 1 --to 2022-03-31T09:00:00+08:00`
    Advance {
        #[command(flatten)]
        data: crate::StoreDir,
        /// The administrator sending the command.
        #[arg(long)]
        requester: u64,
        /// The new time (RFC 3339).
        #[arg(long)]
        to: String,
    },
}

/// Runs `ets clock show` or `ets clock advance`.
///
/// # Errors
/// The store cannot be opened, or the time is not RFC 3339.
pub fn run(command: Clock) -> Result<ExitCode> {
    match command {
        Clock::Show { data } => {
            let store = crate::one_command::open_read_only(&data)?;
            println!("kind  {}", store.kind());
            println!("clock {}", ets_api::format_time(store.clock()));
            if let Some(notice) = store.kind().not_live_notice() {
                println!("{notice}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Clock::Advance {
            data,
            requester,
            to,
        } => {
            let to = ets_api::parse_time(&to).map_err(anyhow::Error::msg)?;
            let mut store = Store::open_at(&data, StoreConfig::default())
                .with_context(|| format!("cannot open the store in {}", data.display()))?;
            let (request_id, reply) =
                crate::one_command::advance_clock(&mut store, ParticipantId(requester), to)?;
            crate::one_command::print_reply(request_id, &reply);
            Ok(if reply.outcome.is_accepted() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
