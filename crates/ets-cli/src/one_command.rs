//! Submitting one command from a CLI subcommand (`ets compliance`, `ets market`,
//! `ets clock`), and advancing the clock of a store that is not live.

use anyhow::{Context, Result};
use ets_engine::clock::ClockCommand;
use ets_engine::{Command, Outcome};
use ets_model::{ParticipantId, RequestId, Timestamp};
use ets_store::{Reply, Store, StoreConfig, StoreLocation, Submission, wall_clock_now};
use std::process::ExitCode;

/// `--data`, `--requester` and `--time` of a subcommand that sends one command:
/// the store, who sends it, and (virtual or import stores only) the time to
/// advance the clock to first.
#[derive(clap::Args, Debug, Clone)]
pub struct Sender {
    #[command(flatten)]
    data: crate::StoreDir,
    /// The participant sending the command (the administrator, exchange operator or
    /// account representative the command needs).
    #[arg(long)]
    requester: u64,
    /// Virtual or import store only: first advance its clock to this time (RFC 3339; the
    /// requester must be an administrator). A live store refuses it: its clock is the server's.
    #[arg(long)]
    time: Option<String>,
}

impl Sender {
    /// The requester's participant id.
    pub fn requester(&self) -> u64 {
        self.requester
    }

    /// Sends `command` as [`submit_one`] does.
    ///
    /// # Errors
    /// As [`submit_one`].
    pub fn submit(&self, command: Command) -> Result<ExitCode> {
        submit_one(&self.data, self.requester, self.time.as_deref(), command)
    }
}

/// Opens the store, submits `command` as `requester`, prints the outcome line, and exits 0
/// only if the command was accepted. With `time` (RFC 3339), on a virtual or import store
/// the clock is first advanced to it by an `advance_clock` from `requester` (who must be an
/// administrator); a live store refuses that (its clock is the server's).
///
/// CLI-generated request ids live in the top half of the id space (clients use the lower
/// half) and follow the journal, so each step gets a new one.
pub fn submit_one(
    data: &StoreLocation,
    requester: u64,
    time: Option<&str>,
    command: Command,
) -> Result<ExitCode> {
    let time = time
        .map(ets_api::parse_time)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let mut store = Store::open_at(data, StoreConfig::default())
        .with_context(|| format!("cannot open the store in {}", data.display()))?;
    crate::history::attach(&mut store)?;
    note_if_not_live(&store);
    let requester = ParticipantId(requester);
    if let Some(to) = time {
        let (request_id, reply) = advance_clock(&mut store, requester, to)?;
        if !reply.outcome.is_accepted() {
            print_reply(request_id, &reply);
            return Ok(ExitCode::FAILURE);
        }
    }
    let (request_id, reply) = send(&mut store, requester, command)?;
    print_reply(request_id, &reply);
    Ok(match reply.outcome {
        Outcome::Accepted(_) => ExitCode::SUCCESS,
        Outcome::Rejected(_) => ExitCode::FAILURE,
    })
}

/// Sends `advance_clock` to `to` as `requester` and returns its request id and reply.
///
/// # Errors
/// On a store fault.
pub fn advance_clock(
    store: &mut Store,
    requester: ParticipantId,
    to: Timestamp,
) -> Result<(RequestId, Reply)> {
    send(
        store,
        requester,
        Command::Clock(ClockCommand::Advance { to }),
    )
}

/// Writes `set_retention` as the first record of a new store, so that its
/// engine keeps a bounded window of history (docs/memory.md). A store that is
/// not live takes it at its own clock.
///
/// # Errors
/// On a store fault, or when the store refuses it.
pub fn set_retention(store: &mut Store, commands: u64) -> Result<()> {
    let command = Command::SetRetention { commands };
    let reply = if store.kind().is_live() {
        send(store, ParticipantId(0), command)?.1
    } else {
        let submission = Submission {
            request_id: RequestId((1 << 63) | (store.journal().last_sequence() + 1)),
            requester: ParticipantId(0),
            time: None,
            command,
        };
        store
            .submit_dated(std::slice::from_ref(&submission))?
            .into_iter()
            .next()
            .context("the store gave no reply")?
    };
    if let Outcome::Rejected(rejection) = reply.outcome {
        anyhow::bail!("the store refused set_retention: {}", rejection.message);
    }
    Ok(())
}

/// Sends one undated command with a CLI-generated request id.
fn send(
    store: &mut Store,
    requester: ParticipantId,
    command: Command,
) -> Result<(RequestId, Reply)> {
    let submission = Submission {
        request_id: RequestId((1 << 63) | (store.journal().last_sequence() + 1)),
        requester,
        time: None,
        command,
    };
    let reply = store
        .submit(std::slice::from_ref(&submission), wall_clock_now())?
        .into_iter()
        .next()
        .context("the store gave no reply")?;
    Ok((submission.request_id, reply))
}

/// Prints a reply as one JSON outcome line.
pub fn print_reply(request_id: RequestId, reply: &Reply) {
    println!(
        "{}",
        ets_api::reply_json(
            request_id,
            reply.sequence,
            reply.time,
            reply.duplicate,
            &reply.outcome
        )
    );
}

/// Opens the store at `data` read-only.
///
/// # Errors
/// The store cannot be opened; the message names where it was looked for.
pub fn open_read_only(data: &StoreLocation) -> Result<Store> {
    Store::open_read_only_at(data)
        .with_context(|| format!("cannot open the store in {}", data.display()))
}

/// Opens the store at `data` read-only for a view, and says on standard
/// error when it is not live ([`note_if_not_live`]).
///
/// # Errors
/// As [`open_read_only`].
pub fn open_for_view(data: &StoreLocation) -> Result<Store> {
    let store = open_read_only(data)?;
    note_if_not_live(&store);
    Ok(store)
}

/// Says on standard error that a store is not live (a virtual or import store), so
/// that no view of it passes for live data; machine-readable standard output is kept clean.
pub fn note_if_not_live(store: &Store) {
    if let Some(notice) = store.kind().not_live_notice() {
        eprintln!("{notice}");
    }
}
