//! Why the registry refused a command: one variant per reason, each with a
//! stable code and a message that names the offending value.

use crate::account::{AccountKind, AccountStatus};
use ets_model::{AccountId, ParticipantId, Quantity, TransactionId};
use thiserror::Error;

/// A business rejection. A rejected command changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RegistryError {
    /// The requester is not a registered participant.
    #[error("requester {0} is not a registered participant")]
    UnknownRequester(ParticipantId),
    /// A participant named in the command does not exist.
    #[error("participant {0} does not exist")]
    UnknownParticipant(ParticipantId),
    /// An account named in the command does not exist.
    #[error("account {0} does not exist")]
    UnknownAccount(AccountId),
    /// The transaction named does not exist.
    #[error("transaction {0} does not exist")]
    UnknownTransaction(TransactionId),
    /// The unit class was never issued.
    #[error("no units of class {0} have ever been issued")]
    UnknownUnitClass(String),
    /// The participant id is taken.
    #[error("participant {0} already exists")]
    ParticipantExists(ParticipantId),
    /// The account id is taken.
    #[error("account {0} already exists")]
    AccountExists(AccountId),
    /// Only the administrator may do this.
    #[error("only a registry administrator may {action}; participant {requester} is not one")]
    NotAdministrator {
        /// What was attempted.
        action: &'static str,
        /// Who tried.
        requester: ParticipantId,
    },
    /// The requester does not represent the account.
    #[error("participant {requester} is not a representative of account {account}")]
    NotRepresentative {
        /// Who tried.
        requester: ParticipantId,
        /// The account.
        account: AccountId,
    },
    /// The account's status forbids the operation.
    #[error("account {account} is {} and cannot {action}", status.name())]
    AccountStatusForbids {
        /// The account.
        account: AccountId,
        /// Its status.
        status: AccountStatus,
        /// What was attempted.
        action: &'static str,
    },
    /// The account is of the wrong kind for the operation.
    #[error("account {account} is a {} account and cannot {action}", kind.name())]
    WrongAccountKind {
        /// The account.
        account: AccountId,
        /// Its kind.
        kind: AccountKind,
        /// What was attempted.
        action: &'static str,
    },
    /// A system account of this kind already exists.
    #[error("the registry already has a {} account ({existing})", kind.name())]
    SystemAccountExists {
        /// The kind.
        kind: AccountKind,
        /// The existing account.
        existing: AccountId,
    },
    /// The registry has no system account of this kind yet.
    #[error("the registry has no {} account yet; the administrator must open one", .0.name())]
    MissingSystemAccount(AccountKind),
    /// The participant already has an account of this kind.
    #[error("participant {holder} already has a {} account ({existing})", kind.name())]
    HolderHasAccount {
        /// The holder.
        holder: ParticipantId,
        /// The kind.
        kind: AccountKind,
        /// The existing account.
        existing: AccountId,
    },
    /// The holder's role does not fit the account kind.
    #[error("a {} account cannot be held by a {}", kind.name(), holder_kind)]
    HolderKindMismatch {
        /// The account kind.
        kind: AccountKind,
        /// The holder's role.
        holder_kind: &'static str,
    },
    /// Not enough free units.
    #[error("account {account} has {available} of {class} available, {requested} requested")]
    InsufficientUnits {
        /// The account.
        account: AccountId,
        /// The unit class.
        class: String,
        /// Units free to move.
        available: Quantity,
        /// Units requested.
        requested: Quantity,
    },
    /// A quantity of zero.
    #[error("quantity must be at least 1 tonne")]
    ZeroQuantity,
    /// A quantity above the most one command may create.
    #[error(
        "{requested} is more than one command may issue ({limit}); split it or check the number"
    )]
    QuantityTooLarge {
        /// Units requested.
        requested: Quantity,
        /// [`Quantity::MAX_PER_COMMAND`].
        limit: Quantity,
    },
    /// A sum would overflow.
    #[error("arithmetic overflow: {0}")]
    Overflow(&'static str),
    /// Source and destination are the same account.
    #[error("account {0} cannot transfer to itself")]
    SameAccount(AccountId),
    /// The approval rule is impossible or a list is too long.
    #[error("invalid approval rule: {0}")]
    InvalidApprovalRule(String),
    /// The proposer tried to approve their own transaction.
    #[error(
        "participant {0} proposed this transaction and cannot also approve it (four-eyes rule)"
    )]
    SelfApproval(ParticipantId),
    /// The approver already signed.
    #[error("participant {0} has already approved this transaction")]
    AlreadyApproved(ParticipantId),
    /// The transaction is not awaiting approval.
    #[error("transaction {id} is {status} and no longer awaits approval")]
    NotPending {
        /// The transaction.
        id: TransactionId,
        /// Its status.
        status: &'static str,
    },
    /// The transaction cannot be reversed.
    #[error("transaction {id} cannot be reversed: {reason}")]
    NotReversible {
        /// The transaction.
        id: TransactionId,
        /// Why not.
        reason: &'static str,
    },
    /// The status change is not allowed.
    #[error("account {account} cannot go from {} to {}: {reason}", from.name(), to.name())]
    StatusChangeNotAllowed {
        /// The account.
        account: AccountId,
        /// Current status.
        from: AccountStatus,
        /// Requested status.
        to: AccountStatus,
        /// Why not.
        reason: &'static str,
    },
    /// A text field is empty or too long.
    #[error("{field} must be 1 to {max_bytes} bytes long, got {length}")]
    BadText {
        /// The field.
        field: &'static str,
        /// Its length.
        length: usize,
        /// The limit.
        max_bytes: usize,
    },
    /// No serial numbers are left.
    #[error("serial numbers are exhausted")]
    SerialsExhausted,
    /// A scheme's security-control settings are invalid.
    #[error("security controls of scheme {scheme}: {reason}")]
    BadControls {
        /// The scheme's code.
        scheme: String,
        /// What is wrong.
        reason: String,
    },
    /// The scheme's calendar has no data for the dates a rule needs.
    #[error("the scheme's calendar cannot place this: {0}; load a calendar that covers it")]
    CalendarNotCovered(String),
    /// The scheme has no security controls configured.
    #[error(
        "scheme {0} has no security controls configured; the administrator sets them with set_controls"
    )]
    ControlsNotConfigured(String),
    /// An additional authorised representative tried to propose.
    #[error(
        "participant {requester} is an additional representative of account {account} and may only approve"
    )]
    AdditionalRepresentativeCannotPropose {
        /// Who tried.
        requester: ParticipantId,
        /// The account.
        account: AccountId,
    },
    /// The transfer moves more than its scheme allows in one transfer.
    #[error("a transfer of {class} may move at most {limit}, {requested} requested")]
    TransferLimitExceeded {
        /// The unit class.
        class: String,
        /// The scheme's limit.
        limit: Quantity,
        /// Units requested.
        requested: Quantity,
    },
    /// The account is already on the trusted list (in some status).
    #[error("account {trusted} is already on the trusted list of account {account}")]
    TrustedEntryExists {
        /// The account whose list it is.
        account: AccountId,
        /// The account on it.
        trusted: AccountId,
    },
    /// The account is not on the trusted list.
    #[error("account {trusted} is not on the trusted list of account {account}")]
    NotOnTrustedList {
        /// The account whose list it is.
        account: AccountId,
        /// The account named.
        trusted: AccountId,
    },
    /// The trusted-list entry waits for no approval (or its removal already does).
    #[error(
        "account {trusted} on the trusted list of account {account} is {status}; nothing awaits approval"
    )]
    TrustedNotPending {
        /// The account whose list it is.
        account: AccountId,
        /// The account on it.
        trusted: AccountId,
        /// Its status.
        status: &'static str,
    },
}

impl RegistryError {
    /// The stable machine-readable code of this error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            RegistryError::UnknownRequester(_) => "unknown_requester",
            RegistryError::UnknownParticipant(_) => "unknown_participant",
            RegistryError::UnknownAccount(_) => "unknown_account",
            RegistryError::UnknownTransaction(_) => "unknown_transaction",
            RegistryError::UnknownUnitClass(_) => "unknown_unit_class",
            RegistryError::ParticipantExists(_) => "participant_exists",
            RegistryError::AccountExists(_) => "account_exists",
            RegistryError::NotAdministrator { .. } => "not_administrator",
            RegistryError::NotRepresentative { .. } => "not_representative",
            RegistryError::AccountStatusForbids { .. } => "account_status_forbids",
            RegistryError::WrongAccountKind { .. } => "wrong_account_kind",
            RegistryError::SystemAccountExists { .. } => "system_account_exists",
            RegistryError::MissingSystemAccount(_) => "missing_system_account",
            RegistryError::HolderHasAccount { .. } => "holder_has_account",
            RegistryError::HolderKindMismatch { .. } => "holder_kind_mismatch",
            RegistryError::InsufficientUnits { .. } => "insufficient_units",
            RegistryError::ZeroQuantity => "zero_quantity",
            RegistryError::QuantityTooLarge { .. } => "quantity_too_large",
            RegistryError::Overflow(_) => "overflow",
            RegistryError::SameAccount(_) => "same_account",
            RegistryError::InvalidApprovalRule(_) => "invalid_approval_rule",
            RegistryError::SelfApproval(_) => "self_approval",
            RegistryError::AlreadyApproved(_) => "already_approved",
            RegistryError::NotPending { .. } => "not_pending",
            RegistryError::NotReversible { .. } => "not_reversible",
            RegistryError::StatusChangeNotAllowed { .. } => "status_change_not_allowed",
            RegistryError::BadText { .. } => "bad_text",
            RegistryError::SerialsExhausted => "serials_exhausted",
            RegistryError::BadControls { .. } => "bad_controls",
            RegistryError::CalendarNotCovered(_) => "calendar_not_covered",
            RegistryError::ControlsNotConfigured(_) => "controls_not_configured",
            RegistryError::AdditionalRepresentativeCannotPropose { .. } => {
                "additional_representative_cannot_propose"
            }
            RegistryError::TransferLimitExceeded { .. } => "transfer_limit_exceeded",
            RegistryError::TrustedEntryExists { .. } => "trusted_entry_exists",
            RegistryError::NotOnTrustedList { .. } => "not_on_trusted_list",
            RegistryError::TrustedNotPending { .. } => "trusted_not_pending",
        }
    }
}
