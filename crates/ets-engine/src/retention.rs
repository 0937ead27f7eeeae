//! Bounded retention (docs/memory.md): how long the engine remembers what its
//! rules no longer need. Off in every store until a `set_retention` command
//! sets a window of W commands (`ets init` writes one as the first record of
//! every new store); from then on the engine remembers a request id for the
//! W commands applied after it, and a finished transaction or a trade for W
//! commands after it finished. The history database keeps all of them.
//!
//! A request id that left the window is refused as `request_expired`, never
//! executed again: per requester the engine keeps the highest request id
//! that left, and any id at or below it that it no longer remembers is
//! expired. So, under bounded retention, each requester's request ids must
//! increase (the CLI's and the web UI's do).

use crate::command::Rejection;
use ets_model::{ParticipantId, RequestId};
use serde::{Deserialize, Serialize};

/// The code of the refusal of a request id older than the idempotency window.
pub const REQUEST_EXPIRED: &str = "request_expired";

/// The code of the refusal of a retention window out of range.
pub const INVALID_RETENTION: &str = "invalid_retention";

/// The smallest window, in commands: above the largest group commit
/// (8,189 commands) and the history rebuild's chunk (10,000 records), so the
/// history database, fed after each durable batch, sees everything before it leaves.
pub const MIN_WINDOW: u64 = 16_384;

/// The largest window, in commands.
pub const MAX_WINDOW: u64 = 1 << 40;

/// The window `ets init` sets in every new store, in commands.
pub const DEFAULT_WINDOW: u64 = 1_000_000;

/// A requester and its request id: the key of an idempotency entry.
pub(crate) type RequestKey = (ParticipantId, RequestId);

/// The state of bounded retention. The remembered requests' applied order,
/// which expiry follows, is the outcome table's ring (`outcomes/slots.rs`):
/// the table holds its values in the order the engine applied them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Window {
    /// The window, in commands.
    pub(crate) commands: u64,
}

/// The refusal of an expired request id.
pub(crate) fn expired(key: RequestKey, window: u64) -> Rejection {
    Rejection {
        code: REQUEST_EXPIRED.to_owned(),
        message: format!(
            "request id {} of participant {} is older than the idempotency window ({window} commands): it may have been applied already and is not applied again; send a new, higher request id",
            key.1.0, key.0.0
        ),
    }
}

/// Checks a window asked for by `set_retention`.
///
/// # Errors
/// An `invalid_retention` refusal naming the range.
pub(crate) fn check_window(commands: u64) -> Result<(), Rejection> {
    if (MIN_WINDOW..=MAX_WINDOW).contains(&commands) {
        Ok(())
    } else {
        Err(Rejection {
            code: INVALID_RETENTION.to_owned(),
            message: format!(
                "a retention window must be {MIN_WINDOW} to {MAX_WINDOW} commands, got {commands}"
            ),
        })
    }
}

/// The trailing section of the canonical encoding of a bounded engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RetentionSection {
    /// The window, in commands.
    pub(crate) commands: u64,
    /// Per remembered outcome, in the outcome table's key order, the command it was applied at.
    pub(crate) outcome_stamps: Vec<u64>,
    /// Per requester, the highest request id that left the window.
    pub(crate) floors: Vec<(ParticipantId, RequestId)>,
    /// The registry's transaction bookkeeping.
    pub(crate) book: ets_registry::BookRetention,
    /// The exchange's trade bookkeeping.
    pub(crate) trades: crate::exchange::TradeRetention,
}
