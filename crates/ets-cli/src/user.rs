//! `ets user`: the server's users (users.json in the store directory, or in
//! the directory `ets serve --users` names; for a PostgreSQL store given by
//! its URL, the `ets_users` table in its database, which fails over with it).

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
        data: crate::UsersDir,
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
    /// Issues an API token for a user and prints it (shown once; keep it). It
    /// expires after `--days` days (90 by default).
    ///
    /// Example: `ets user token --data ./registry --name admin --days 30`
    Token {
        #[command(flatten)]
        data: crate::UsersDir,
        /// The user's name.
        #[arg(long)]
        name: String,
        /// Days until the token expires.
        #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=3650))]
        days: u32,
    },
    /// Copies the users (with their password hashes and tokens) of a users file
    /// into the store given by --data, typically a PostgreSQL store moving its
    /// users into its database; a name already there is refused, nothing copied.
    ///
    /// Example: `ets user import --data postgres://ets@db/registry --from ./users`
    Import {
        #[command(flatten)]
        data: crate::UsersDir,
        /// The directory holding the users.json to copy.
        #[arg(long, value_name = "DIR")]
        from: std::path::PathBuf,
    },
    /// Revokes an API token: a running server refuses it within 100 ms.
    /// The token id is the 8 hex digits after `ets_`.
    ///
    /// Example: `ets user revoke --data ./registry --token-id 3f9a01c2`
    Revoke {
        #[command(flatten)]
        data: crate::UsersDir,
        /// The token's id.
        #[arg(long)]
        token_id: String,
    },
}

/// Runs one `ets user` subcommand.
///
/// # Errors
/// An unknown role, a password that cannot be read, or a users file or
/// table that refuses the change or cannot be read or written.
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
            Users::add_user_at(
                &data.location(),
                &name,
                password,
                ParticipantId(participant),
                role,
            )
            .map_err(|error| anyhow::anyhow!("{error} ({})", error.code()))?;
            println!("user {name} added as participant {participant} with role {role}");
            Ok(ExitCode::SUCCESS)
        }
        User::Token { data, name, days } => {
            let lifetime = std::time::Duration::from_secs(u64::from(days) * 24 * 60 * 60);
            let token = Users::issue_token_at(&data.location(), &name, lifetime)
                .map_err(|error| anyhow::anyhow!("{error} ({})", error.code()))?;
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        User::Import { data, from } => {
            let copied = Users::import_at(&data.location(), &from)
                .map_err(|error| anyhow::anyhow!("{error} ({})", error.code()))?;
            println!("{copied} users copied from {}", from.display());
            Ok(ExitCode::SUCCESS)
        }
        User::Revoke { data, token_id } => {
            Users::revoke_token_at(&data.location(), &token_id)
                .map_err(|error| anyhow::anyhow!("{error} ({})", error.code()))?;
            println!("token {token_id} revoked");
            Ok(ExitCode::SUCCESS)
        }
    }
}
