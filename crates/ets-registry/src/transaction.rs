//! Registry transactions: what moved, between which accounts, who signed,
//! and the status history that forms the audit trail.

use ets_model::{AccountId, ParticipantId, Quantity, SerialBlock, Timestamp, TransactionId};
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

/// The serial blocks a transaction moved; one or two inline, more on the heap.
pub type Blocks = SmallVec<[SerialBlock; 2]>;

/// A transaction's status history; the usual two entries (proposed, completed) inline.
pub type History = SmallVec<[StatusChange; 2]>;

/// The longest free-text note (retirement beneficiary, cancellation reason), in bytes.
pub const NOTE_MAX_BYTES: usize = 500;

/// What a transaction does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransactionKind {
    /// New units created into the issuance account.
    Issue,
    /// Free allocation from the issuance account to an operator holding account.
    Allocate,
    /// A transfer between two holder accounts.
    Transfer,
    /// Units handed back against emissions of `compliance_year`.
    Surrender {
        /// The year whose obligation the units count towards.
        compliance_year: u16,
    },
    /// Voluntary retirement on behalf of a beneficiary.
    Retire {
        /// Who the retirement is for, and why.
        beneficiary: String,
    },
    /// Administrative cancellation.
    Cancel {
        /// Why the units are cancelled.
        reason: String,
    },
    /// The administrator undoes a completed allocation or surrender.
    Reversal {
        /// The transaction reversed.
        of: TransactionId,
    },
}

impl TransactionKind {
    /// The snake_case name used in replies and reports.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            TransactionKind::Issue => "issue",
            TransactionKind::Allocate => "allocate",
            TransactionKind::Transfer => "transfer",
            TransactionKind::Surrender { .. } => "surrender",
            TransactionKind::Retire { .. } => "retire",
            TransactionKind::Cancel { .. } => "cancel",
            TransactionKind::Reversal { .. } => "reversal",
        }
    }

    /// Whether only the administrator may propose it (and the administrators'
    /// approval rule, on the issuance account, applies).
    #[must_use]
    pub fn is_administrative(&self) -> bool {
        matches!(
            self,
            TransactionKind::Issue
                | TransactionKind::Allocate
                | TransactionKind::Cancel { .. }
                | TransactionKind::Reversal { .. }
        )
    }
}

/// Where a transaction is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TransactionStatus {
    /// Proposed by a representative; the first entry of every history.
    Proposed,
    /// Waiting for more representatives to approve; units are reserved.
    AwaitingApproval,
    /// Units moved. Final, unless reversed.
    Completed,
    /// Refused by a representative. Final.
    Rejected,
    /// Withdrawn by its proposer or the administrator before completion. Final.
    Cancelled,
    /// A completed allocation or surrender undone by a reversal. Final.
    Reversed,
    /// Signed, waiting for its security delay or the business window; units
    /// are reserved; cancellable by the sending account's representatives.
    Delayed,
    /// Could not complete at the end of its delay (an account was closed or
    /// blocked meanwhile); units released. Final.
    Failed,
}

impl TransactionStatus {
    /// The snake_case name used in replies and reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            TransactionStatus::Proposed => "proposed",
            TransactionStatus::AwaitingApproval => "awaiting_approval",
            TransactionStatus::Completed => "completed",
            TransactionStatus::Rejected => "rejected",
            TransactionStatus::Cancelled => "cancelled",
            TransactionStatus::Reversed => "reversed",
            TransactionStatus::Delayed => "delayed",
            TransactionStatus::Failed => "failed",
        }
    }
}

/// One step in a transaction's history: the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    /// The status entered.
    pub status: TransactionStatus,
    /// When.
    pub at: Timestamp,
    /// Who caused it.
    pub by: ParticipantId,
}

/// A registry transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// Its id, assigned in order by the registry.
    pub id: TransactionId,
    /// What it does.
    pub kind: TransactionKind,
    /// Where units come from (the issuance account for an issue).
    pub from: AccountId,
    /// Where units go.
    pub to: AccountId,
    /// Interned unit class index.
    pub class_index: u32,
    /// How many units.
    pub quantity: Quantity,
    /// The blocks that moved, filled on completion (for an issue, the new range).
    pub blocks: Blocks,
    /// Who proposed it.
    pub proposer: ParticipantId,
    /// Who approved it after the proposer, in order (empty when one signature suffices).
    pub approvals: Vec<ParticipantId>,
    /// Every status it has been in, in order.
    pub history: History,
}

impl Transaction {
    /// Its current status.
    #[must_use]
    pub fn status(&self) -> TransactionStatus {
        self.history
            .last()
            .map_or(TransactionStatus::Proposed, |change| change.status)
    }

    /// Whether it has not finished yet (awaiting approval or delayed): its units are reserved.
    #[must_use]
    pub fn is_pending(&self) -> bool {
        matches!(
            self.status(),
            TransactionStatus::AwaitingApproval | TransactionStatus::Delayed
        )
    }

    /// Whether it still waits for approval.
    #[must_use]
    pub fn awaits_approval(&self) -> bool {
        self.status() == TransactionStatus::AwaitingApproval
    }
}
