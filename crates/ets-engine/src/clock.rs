//! The clock of a store that is not live (a simulation or a historical
//! import): it moves only by an administrator's `advance_clock` command,
//! which is journaled like any other. The store stamps the command with the
//! clock as it stood; once accepted, the engine's clock is the new time, so
//! a refused advance leaves the clock where it was. A live store refuses the
//! command before the engine sees it (its clock is the server's).

use ets_model::{ParticipantId, Timestamp};
use ets_registry::{Context, ParticipantKind, Registry};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A command to the clock of a non-live store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClockCommand {
    /// Moves the clock forward to `to` (administrator only).
    Advance {
        /// The new time; not before the current one.
        to: Timestamp,
    },
}

impl ClockCommand {
    /// The snake_case name of the command.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            ClockCommand::Advance { .. } => "advance_clock",
        }
    }
}

/// What an accepted clock command did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClockEffect {
    /// The clock moved from `from` to `to`.
    Advanced {
        /// The time before.
        from: Timestamp,
        /// The time now.
        to: Timestamp,
    },
}

/// Why a clock command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ClockError {
    /// Only an administrator moves the clock.
    #[error("participant {requester} is not an administrator and may not move the clock", requester = .requester.0)]
    NotAdministrator {
        /// Who asked.
        requester: ParticipantId,
    },
    /// The clock never goes backwards.
    #[error("the clock is at {now} ms and cannot go back to {to} ms", now = .now.0, to = .to.0)]
    Backwards {
        /// The clock now.
        now: Timestamp,
        /// The time asked for.
        to: Timestamp,
    },
}

impl ClockError {
    /// The stable machine-readable code of this error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            ClockError::NotAdministrator { .. } => "not_administrator",
            ClockError::Backwards { .. } => "clock_went_backwards",
        }
    }
}

/// Checks a clock command; the engine then sets its clock to the effect's `to`.
/// Before any participant exists (a new store) anyone may set the clock, as
/// the first participant is the administrator registering itself.
///
/// # Errors
/// [`ClockError`] when the requester is not an administrator or the time is earlier.
pub(crate) fn execute(
    registry: &Registry,
    context: Context,
    command: &ClockCommand,
) -> Result<ClockEffect, ClockError> {
    let ClockCommand::Advance { to } = *command;
    let bootstrapping = registry.participants().next().is_none();
    let administrator = registry
        .participant(context.requester)
        .is_ok_and(|participant| participant.kind == ParticipantKind::Administrator);
    if !bootstrapping && !administrator {
        return Err(ClockError::NotAdministrator {
            requester: context.requester,
        });
    }
    if to < context.at {
        return Err(ClockError::Backwards {
            now: context.at,
            to,
        });
    }
    Ok(ClockEffect::Advanced {
        from: context.at,
        to,
    })
}

/// The engine's clock after `envelope` gave `outcome`: the new time of an
/// accepted advance, otherwise the envelope's time.
pub(crate) fn time_after(envelope: &crate::Envelope, outcome: &crate::Outcome) -> Timestamp {
    match outcome {
        crate::Outcome::Accepted(crate::Effect::Clock(ClockEffect::Advanced { to, .. })) => *to,
        _ => envelope.time,
    }
}
