//! Submitting one command from a CLI subcommand (`ets compliance`, `ets market`).

use anyhow::{Context, Result};
use ets_engine::{Command, Outcome};
use ets_model::{ParticipantId, RequestId};
use ets_store::{Store, StoreConfig, Submission, wall_clock_now};
use std::path::Path;
use std::process::ExitCode;

/// Opens the store, submits `command` as `requester` (at `time`, RFC 3339, or now), prints
/// the outcome line, and exits 0 only if the command was accepted.
///
/// CLI-generated request ids live in the top half of the id space (clients use the lower
/// half) and follow the journal, so each step gets a new one.
pub fn submit_one(
    data: &Path,
    requester: u64,
    time: Option<&str>,
    command: Command,
) -> Result<ExitCode> {
    let time = time
        .map(ets_api::parse_time)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let mut store = Store::open(data, StoreConfig::default())
        .with_context(|| format!("cannot open the store in {}", data.display()))?;
    crate::history::attach(&mut store)?;
    let submission = Submission {
        request_id: RequestId((1 << 63) | (store.journal().last_sequence() + 1)),
        requester: ParticipantId(requester),
        time,
        command,
    };
    let reply = store
        .submit(std::slice::from_ref(&submission), wall_clock_now())?
        .into_iter()
        .next()
        .context("the store gave no reply")?;
    println!(
        "{}",
        ets_api::reply_json(
            submission.request_id,
            reply.sequence,
            reply.time,
            reply.duplicate,
            &reply.outcome
        )
    );
    Ok(match reply.outcome {
        Outcome::Accepted(_) => ExitCode::SUCCESS,
        Outcome::Rejected(_) => ExitCode::FAILURE,
    })
}
