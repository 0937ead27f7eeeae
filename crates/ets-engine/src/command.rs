//! The engine's input (a command in its envelope) and output (an outcome).

use crate::clock::{ClockCommand, ClockEffect, ClockError};
use crate::compliance::{ComplianceCommand, ComplianceEffect, ComplianceError};
use crate::exchange::{ExchangeCommand, ExchangeEffect, ExchangeError};
use ets_model::{ParticipantId, RequestId, Timestamp};
use ets_registry::{RegistryCommand, RegistryError};
use serde::{Deserialize, Serialize};

/// Every kind of command the engine applies, by domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// A registry command.
    Registry(RegistryCommand),
    /// A compliance-cycle command.
    Compliance(ComplianceCommand),
    /// An exchange command (orders, cash, auctions).
    Exchange(ExchangeCommand),
    /// A refused command too large to journal in full, as the journal keeps
    /// it: replay answers it with the same refusal and changes nothing else.
    /// Never sent by clients (the API has no such command); the store writes
    /// it instead of the command (see [`RefusedSummary`]).
    Refused(RefusedSummary),
    /// The clock of a store that is not live (administrator only; a live store refuses it).
    Clock(ClockCommand),
    /// Bounds what the engine remembers to a window of `commands` commands
    /// (docs/memory.md). Accepted from anyone as the first command of a store
    /// (`ets init` writes it), else from the administrator only; once set,
    /// retention stays bounded (the window may change). Appended last:
    /// journals encode the variant index.
    SetRetention {
        /// The window, in commands ([`crate::retention::MIN_WINDOW`] to
        /// [`crate::retention::MAX_WINDOW`]).
        commands: u64,
    },
}

/// What the journal keeps of a refused command whose encoding is over
/// [`RefusedSummary::JOURNAL_FULL_MAX_BYTES`]: its name, digest, size, the
/// refusal (message cut to [`RefusedSummary::MESSAGE_MAX_BYTES`]) and the
/// first [`RefusedSummary::PREFIX_BYTES`] bytes of its encoding. So a user
/// cannot grow the journal by sending large commands that are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedSummary {
    /// The refused command's name (`retire`, ...).
    pub name: String,
    /// The refused command's digest, remembered with the request id.
    pub digest: crate::CommandDigest,
    /// The size of the refused command's encoding, in bytes.
    pub encoded_bytes: u64,
    /// The first bytes of that encoding, for audit.
    pub prefix: Vec<u8>,
    /// The refusal given.
    pub rejection: Rejection,
}

impl RefusedSummary {
    /// Commands up to this size are journaled in full even when refused.
    pub const JOURNAL_FULL_MAX_BYTES: usize = 4 * 1024;
    /// How much of the refused command's encoding is kept.
    pub const PREFIX_BYTES: usize = 256;
    /// How much of the refusal message is kept (cut at a character boundary).
    pub const MESSAGE_MAX_BYTES: usize = 1024;
}

impl Command {
    /// The snake_case name of the command.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Command::Registry(command) => command.name(),
            Command::Compliance(command) => command.name(),
            Command::Exchange(command) => command.name(),
            Command::Refused(_) => "refused",
            Command::Clock(command) => command.name(),
            Command::SetRetention { .. } => "set_retention",
        }
    }
}

/// A command with who sent it, their request id and the sequencer's time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The client's id for this request; repeating it returns the first outcome.
    pub request_id: RequestId,
    /// Who sends it.
    pub requester: ParticipantId,
    /// When, as stamped by the sequencer (or carried by an import).
    pub time: Timestamp,
    /// What to do.
    pub command: Command,
}

/// Why the engine refused a command: a stable code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// Stable snake_case code, e.g. `insufficient_units`.
    pub code: String,
    /// What went wrong, naming the offending values.
    pub message: String,
}

impl From<RegistryError> for Rejection {
    fn from(error: RegistryError) -> Rejection {
        Rejection {
            code: error.code().to_owned(),
            message: error.to_string(),
        }
    }
}

impl From<ComplianceError> for Rejection {
    fn from(error: ComplianceError) -> Rejection {
        Rejection {
            code: error.code().to_owned(),
            message: error.to_string(),
        }
    }
}

impl From<ClockError> for Rejection {
    fn from(error: ClockError) -> Rejection {
        Rejection {
            code: error.code().to_owned(),
            message: error.to_string(),
        }
    }
}

impl From<ExchangeError> for Rejection {
    fn from(error: ExchangeError) -> Rejection {
        Rejection {
            code: error.code().to_owned(),
            message: error.to_string(),
        }
    }
}

/// What an accepted command did, by domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    /// A registry command's effect.
    Registry(ets_registry::Effect),
    /// A compliance command's effect.
    Compliance(ComplianceEffect),
    /// An exchange command's effect.
    Exchange(ExchangeEffect),
    /// A clock command's effect.
    Clock(ClockEffect),
}

/// What came of a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Applied; the effect says what it did.
    Accepted(Effect),
    /// Refused; nothing changed.
    Rejected(Rejection),
}

impl Outcome {
    /// The code journaled with the command: `ok`, or the rejection's code.
    #[must_use]
    pub fn code(&self) -> &str {
        match self {
            Outcome::Accepted(_) => "ok",
            Outcome::Rejected(rejection) => &rejection.code,
        }
    }

    /// Whether the command was applied.
    #[must_use]
    pub fn is_accepted(&self) -> bool {
        matches!(self, Outcome::Accepted(_))
    }
}
