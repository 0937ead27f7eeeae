//! One submission through the engine: stamped with its time, applied, and,
//! when fresh, turned into the journal record to append. Shared by the
//! store's committing path and its pipelined path (`pipeline`), which
//! differ only in who appends the record and when it becomes durable.

use crate::kind::StoreKind;
use crate::observer::Committed;
use crate::store::{CLIENT_TIME_REFUSED, CLOCK_IS_LIVE, Reply, StoreError, Submission};
use ets_engine::{Applied, Command, Engine, Envelope, JournalEntry, Outcome, Rejection};
use ets_model::Timestamp;

/// How a batch is stamped: by a client door (the store's clock) or by an
/// in-process driver of a non-live store (the submissions' own times).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stamping {
    /// A client door: the store's clock, `now` for a live store.
    Door {
        /// The server's clock.
        now: Timestamp,
    },
    /// An in-process driver: the submission's own time.
    Dated,
}

/// What applying one submission came to.
// Returned by value once per command and taken apart at once: boxing the
// fresh variant would cost an allocation per command on the hot path.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Step {
    /// Answered without a journal record (a duplicate, a reused id, a refusal
    /// the store makes itself).
    Answered(Reply),
    /// A fresh outcome: journaled, then answered.
    Fresh(Fresh),
}

/// A fresh outcome and the command to journal with it.
pub(crate) struct Fresh {
    /// The command as applied.
    envelope: Envelope,
    /// What to journal instead, when a large refused command is bounded.
    summary: Option<Envelope>,
    /// What the engine answered (the summary's rejection, when bounded).
    outcome: Outcome,
    /// The time it was applied at.
    pub(crate) time: Timestamp,
}

impl Fresh {
    /// Encodes the journal payload into `payload`; `sequence` names the
    /// record in the error.
    pub(crate) fn encode(&self, sequence: u64, payload: &mut Vec<u8>) -> Result<(), StoreError> {
        let journaled = self.summary.as_ref().unwrap_or(&self.envelope);
        JournalEntry::encode_into(journaled, self.outcome.code(), payload).map_err(|error| {
            StoreError::BadRecord {
                sequence,
                reason: error.to_string(),
            }
        })
    }
}

/// Stamps `submission` and applies it to `engine`.
pub(crate) fn apply_submission(
    engine: &mut Engine,
    kind: StoreKind,
    submission: &Submission,
    stamping: Stamping,
) -> Step {
    let time = match stamp(engine, kind, submission, stamping) {
        Ok(time) => time,
        Err(refusal) => return Step::Answered(refusal),
    };
    let envelope = Envelope {
        request_id: submission.request_id,
        requester: submission.requester,
        time,
        command: submission.command.clone(),
    };
    let answered = |duplicate, outcome| {
        Step::Answered(Reply {
            sequence: None,
            time,
            duplicate,
            outcome,
        })
    };
    match engine.apply(&envelope) {
        Applied::Duplicate(outcome) => answered(true, outcome),
        // Not the first outcome: a refusal of its own, not journaled.
        Applied::Reused(outcome) => answered(false, outcome),
        Applied::Fresh(mut outcome) => {
            // A large refused command is journaled as a bounded summary.
            let summary = match outcome {
                Outcome::Rejected(_) => engine.bound_refusal(&envelope),
                Outcome::Accepted(_) => None,
            };
            let summary = summary.map(|command| {
                if let Command::Refused(summary) = &command {
                    outcome = Outcome::Rejected(summary.rejection.clone());
                }
                Envelope {
                    command,
                    ..envelope.clone()
                }
            });
            Step::Fresh(Fresh {
                envelope,
                summary,
                outcome,
                time,
            })
        }
    }
}

/// The reply to `fresh`, journaled at `sequence`; counts it towards the next
/// snapshot and keeps it in `observed`, the batch for the observer, if there is one.
pub(crate) fn journaled(
    fresh: Fresh,
    sequence: u64,
    records_since_snapshot: &mut u64,
    observed: Option<&mut Vec<Committed>>,
) -> Reply {
    *records_since_snapshot += 1;
    let Fresh {
        envelope,
        outcome,
        time,
        ..
    } = fresh;
    if let Some(batch) = observed {
        batch.push(Committed {
            sequence,
            envelope,
            outcome: outcome.clone(),
        });
    }
    Reply {
        sequence: Some(sequence),
        time,
        duplicate: false,
        outcome,
    }
}

/// The time to apply `submission` at, or the reply refusing it before the
/// engine sees it (not journaled: nothing changes, the clock stays).
// The refusal is the reply handed straight back, once per refused command.
#[allow(clippy::result_large_err)]
fn stamp(
    engine: &Engine,
    kind: StoreKind,
    submission: &Submission,
    stamping: Stamping,
) -> Result<Timestamp, Reply> {
    let last = engine.last_time().unwrap_or(Timestamp(i64::MIN));
    let clock = match stamping {
        Stamping::Door { now } if kind.is_live() => now.max(last),
        _ => engine.last_time().unwrap_or(Timestamp(0)),
    };
    let refuse = |code: &str, message: String| Reply {
        sequence: None,
        time: clock,
        duplicate: false,
        outcome: Outcome::Rejected(Rejection {
            code: code.to_owned(),
            message,
        }),
    };
    let is_clock_command = matches!(submission.command, Command::Clock(_));
    match (stamping, submission.time) {
        (Stamping::Door { .. }, Some(time)) => {
            Err(refuse(CLIENT_TIME_REFUSED, client_time_message(kind, time)))
        }
        (Stamping::Door { .. }, None) if is_clock_command && kind.is_live() => Err(refuse(
            CLOCK_IS_LIVE,
            "this store is live: its clock is the server's and cannot be set".to_owned(),
        )),
        (Stamping::Door { .. }, None) | (Stamping::Dated, None) => Ok(clock),
        (Stamping::Dated, Some(time)) if time < last => Err(refuse(
            "time_went_backwards",
            format!(
                "the command is dated {} ms but the last command was at {} ms; times in the journal never go backwards",
                time.0, last.0
            ),
        )),
        (Stamping::Dated, Some(time)) => Ok(time),
    }
}

fn client_time_message(kind: StoreKind, time: Timestamp) -> String {
    let why = if kind.is_live() {
        "this store is live: the server's clock stamps every command".to_owned()
    } else {
        format!("this {kind} store's clock moves only by an administrator's advance_clock command")
    };
    format!(
        "{why}, so a command may not carry `time` (it said {} ms since the epoch); remove it",
        time.0
    )
}
