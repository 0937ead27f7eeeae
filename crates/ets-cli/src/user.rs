//! `ets user`: the server's users (users.json in the store directory).

use anyhow::{Context, Result};
use clap::Subcommand;
use ets_model::ParticipantId;
use ets_server::{Role, Users};
use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

/// User subcommands.
#[derive(Subcommand)]
pub enum User {
    /// Adds a user acting as a participant, with a role; the password (12+ characters)
    /// is read from the first line of standard input (asked for on a terminal).
    ///
    /// Roles: administrator, representative, verifier, exchange_member, auditor.
    /// Example: `ets user add --data ./registry --name admin --participant 1 --role administrator`
    Add {
        #[command(flatten)]
        data: crate::StoreDir,
        /// The user's name.
        #[arg(long)]
        name: String,
        /// The participant the user acts as.
        #[arg(long)]
        participant: u64,
        /// The user's role.
        #[arg(long)]
        role: String,
    },
    /// Issues an API token for a user and prints it (shown once; keep it).
    ///
    /// Example: `ets user token --data ./registry --name admin`
    Token {
        #[command(flatten)]
        data: crate::StoreDir,
        /// The user's name.
        #[arg(long)]
        name: String,
    },
}

pub fn run(command: User) -> Result<ExitCode> {
    match command {
        User::Add {
            data,
            name,
            participant,
            role,
        } => {
            let role: Role = role.parse().map_err(|error| anyhow::anyhow!("{error}"))?;
            if std::io::stdin().is_terminal() {
                eprint!("password for {name} (12 characters or more): ");
            }
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .context("cannot read the password")?;
            let password = password.trim_end_matches(['\r', '\n']);
            Users::add_user(&data, &name, password, ParticipantId(participant), role)
                .map_err(|error| anyhow::anyhow!("{error} ({})", error.code()))?;
            println!("user {name} added as participant {participant} with role {role}");
            Ok(ExitCode::SUCCESS)
        }
        User::Token { data, name } => {
            let token = Users::issue_token(&data, &name)
                .map_err(|error| anyhow::anyhow!("{error} ({})", error.code()))?;
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
