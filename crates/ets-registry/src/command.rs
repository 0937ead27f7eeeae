//! The registry's commands and what an accepted one did.

use crate::account::{AccountKind, AccountStatus};
use crate::controls::ControlSettings;
use crate::participant::ParticipantKind;
use crate::transaction::TransactionStatus;
use ets_model::{AccountId, Code, ParticipantId, Quantity, TransactionId, UnitClass};
use serde::{Deserialize, Serialize};

/// A request to change the registry. Who asks and when travel beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RegistryCommand {
    /// Registers a participant (the very first must be the administrator registering itself).
    RegisterParticipant {
        /// The new participant's id.
        id: ParticipantId,
        /// Its role.
        kind: ParticipantKind,
        /// Its name.
        name: String,
    },
    /// Opens an account (administrator only).
    OpenAccount {
        /// The new account's id.
        id: AccountId,
        /// What it is for.
        kind: AccountKind,
        /// Its owner.
        holder: ParticipantId,
        /// Who may act on it.
        representatives: Vec<ParticipantId>,
        /// How many representatives must sign each transaction.
        approvals_required: u8,
    },
    /// Changes an account's status (administrator only).
    SetAccountStatus {
        /// The account.
        account: AccountId,
        /// The new status.
        status: AccountStatus,
    },
    /// Replaces an account's representatives and approval rule (administrator only).
    SetApprovalRule {
        /// The account.
        account: AccountId,
        /// The new representatives.
        representatives: Vec<ParticipantId>,
        /// How many must sign.
        approvals_required: u8,
    },
    /// Creates new units with a new serial range in the issuance account.
    Issue {
        /// The class of the new units.
        class: UnitClass,
        /// How many.
        quantity: Quantity,
    },
    /// Free allocation from the issuance account to an operator holding account.
    Allocate {
        /// The receiving operator holding account.
        to: AccountId,
        /// The unit class.
        class: UnitClass,
        /// How many.
        quantity: Quantity,
    },
    /// Transfers units between accounts.
    Transfer {
        /// The sending account.
        from: AccountId,
        /// The receiving account.
        to: AccountId,
        /// The unit class.
        class: UnitClass,
        /// How many.
        quantity: Quantity,
    },
    /// Surrenders units against a compliance year's obligation.
    Surrender {
        /// The operator holding account.
        from: AccountId,
        /// The unit class.
        class: UnitClass,
        /// How many.
        quantity: Quantity,
        /// The year the units count towards.
        compliance_year: u16,
    },
    /// Retires units voluntarily.
    Retire {
        /// The account retiring them.
        from: AccountId,
        /// The unit class.
        class: UnitClass,
        /// How many.
        quantity: Quantity,
        /// On whose behalf and why.
        beneficiary: String,
    },
    /// Cancels units (administrator only).
    Cancel {
        /// The account holding them.
        from: AccountId,
        /// The unit class.
        class: UnitClass,
        /// How many.
        quantity: Quantity,
        /// Why.
        reason: String,
    },
    /// Reverses a completed allocation or surrender (administrator only).
    Reverse {
        /// The transaction to undo.
        transaction: TransactionId,
    },
    /// Adds the requester's approval to a pending transaction.
    Approve {
        /// The transaction.
        transaction: TransactionId,
    },
    /// Refuses a pending transaction.
    Reject {
        /// The transaction.
        transaction: TransactionId,
    },
    /// Withdraws a pending transaction (its proposer or the administrator).
    Withdraw {
        /// The transaction.
        transaction: TransactionId,
    },
    // New variants go below, never between: journals encode the variant index.
    /// Sets a scheme's security controls (administrator). Transfers already
    /// delayed keep the delay they started with.
    SetControls {
        /// The scheme's unit code (`EUA`; for offsets the standard, `CCER`).
        scheme: Code,
        /// The settings, calendar text included.
        settings: ControlSettings,
    },
    /// Proposes an account for `account`'s trusted list (a representative, not an additional one).
    ProposeTrustedAccount {
        /// The account whose list it is.
        account: AccountId,
        /// The account to trust.
        trusted: AccountId,
        /// The scheme whose activation delay and calendar apply.
        scheme: Code,
    },
    /// Approves a pending addition to, or removal from, a trusted list (a second representative).
    ApproveTrustedAccount {
        /// The account whose list it is.
        account: AccountId,
        /// The account on it.
        trusted: AccountId,
    },
    /// Asks to remove an account from a trusted list (a representative, not an additional one).
    RemoveTrustedAccount {
        /// The account whose list it is.
        account: AccountId,
        /// The account to remove.
        trusted: AccountId,
    },
    /// Replaces an account's additional authorised representatives, who may
    /// only approve (administrator). An empty list removes them.
    SetAdditionalRepresentatives {
        /// The account.
        account: AccountId,
        /// The additional representatives.
        representatives: Vec<ParticipantId>,
    },
    /// Completes every delayed transfer whose delay has ended (anyone; every
    /// other command does the same before it runs).
    ReleaseDue,
    /// Chooses which serials transfers take from now on (administrator;
    /// docs/serials.md). A store starts with the oldest-first policy.
    SetSerialPolicy {
        /// The policy.
        policy: crate::SerialPolicy,
    },
}

impl RegistryCommand {
    /// The snake_case name of the command, as used in the JSON API.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            RegistryCommand::RegisterParticipant { .. } => "register_participant",
            RegistryCommand::OpenAccount { .. } => "open_account",
            RegistryCommand::SetAccountStatus { .. } => "set_account_status",
            RegistryCommand::SetApprovalRule { .. } => "set_approval_rule",
            RegistryCommand::Issue { .. } => "issue",
            RegistryCommand::Allocate { .. } => "allocate",
            RegistryCommand::Transfer { .. } => "transfer",
            RegistryCommand::Surrender { .. } => "surrender",
            RegistryCommand::Retire { .. } => "retire",
            RegistryCommand::Cancel { .. } => "cancel",
            RegistryCommand::Reverse { .. } => "reverse",
            RegistryCommand::Approve { .. } => "approve",
            RegistryCommand::Reject { .. } => "reject",
            RegistryCommand::Withdraw { .. } => "withdraw",
            RegistryCommand::SetControls { .. } => "set_controls",
            RegistryCommand::ProposeTrustedAccount { .. } => "propose_trusted_account",
            RegistryCommand::ApproveTrustedAccount { .. } => "approve_trusted_account",
            RegistryCommand::RemoveTrustedAccount { .. } => "remove_trusted_account",
            RegistryCommand::SetAdditionalRepresentatives { .. } => {
                "set_additional_representatives"
            }
            RegistryCommand::ReleaseDue => "release_due",
            RegistryCommand::SetSerialPolicy { .. } => "set_serial_policy",
        }
    }
}

/// What an accepted registry command did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    /// A participant was registered.
    ParticipantRegistered(ParticipantId),
    /// An account was opened.
    AccountOpened(AccountId),
    /// An account's status or approval rule changed.
    AccountUpdated(AccountId),
    /// A transaction was created or moved on; `status` is where it now stands.
    Transaction {
        /// The transaction.
        id: TransactionId,
        /// Its status after the command.
        status: TransactionStatus,
    },
    /// A scheme's security controls were set.
    ControlsSet,
    /// Delayed transfers whose delay had ended were completed (or failed): how many.
    DelaysReleased(u32),
}
