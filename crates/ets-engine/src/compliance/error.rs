//! Why a compliance command was refused.

use ets_model::{AccountId, ParticipantId};
use ets_registry::RegistryError;
use thiserror::Error;

/// A compliance refusal; the command changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ComplianceError {
    /// A registry rule refused a step (authority, accounts, units).
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The rulebook text is invalid.
    #[error("{message}")]
    Rulebook {
        /// The rulebook loader's stable code.
        code: &'static str,
        /// Its message, naming file, key and value.
        message: String,
    },
    /// A formula refused its input.
    #[error("{message}")]
    Formula {
        /// The formula's stable code.
        code: &'static str,
        /// Its message, naming the value.
        message: String,
    },
    /// A decimal field is not a number.
    #[error("{field} must be a decimal number such as 1234.5, got {text:?}")]
    BadDecimal {
        /// The field.
        field: &'static str,
        /// The text given.
        text: String,
    },
    /// No rulebook of that id is loaded.
    #[error("no rulebook {0:?} is loaded; load it first")]
    UnknownScheme(String),
    /// A rulebook with that id is loaded already.
    #[error("rulebook {0:?} is loaded already")]
    SchemeExists(String),
    /// The rulebook does not govern that year.
    #[error("rulebook {scheme:?} does not govern compliance year {year}")]
    YearNotInScheme {
        /// The scheme.
        scheme: String,
        /// The year.
        year: u16,
    },
    /// The rulebook has no allocation rules of the style the command needs (China-style
    /// for `Allocate`, EU-style for `AllocateEu`).
    #[error(
        "rulebook {0:?} has no allocation rules of this style: use allocate_free for a China-style rulebook, allocate_eu for an EU one"
    )]
    AllocationModeUnsupported(String),
    /// The rulebook has no MRV defaults, so reports cannot be computed.
    #[error("rulebook {0:?} has no [mrv] section")]
    NoMrvRules(String),
    /// The participant is not a registered covered entity.
    #[error("participant {0} is not a registered covered entity")]
    UnknownEntity(ParticipantId),
    /// The entity is registered already.
    #[error("participant {0} is registered as a covered entity already")]
    EntityExists(ParticipantId),
    /// The account given is not the entity's operator holding account.
    #[error("account {account} is not an operator holding account of participant {participant}")]
    NotEntityAccount {
        /// The participant.
        participant: ParticipantId,
        /// The account.
        account: AccountId,
    },
    /// A unit named is not one of the entity's, or a unit is listed twice or missing.
    #[error("entity {participant}: {problem}")]
    BadUnits {
        /// The entity.
        participant: ParticipantId,
        /// What is wrong.
        problem: String,
    },
    /// A sector allocation's list of firms is wrong (a firm twice, one missing, too many).
    #[error("entity {participant}: {problem}")]
    BadSectorFirms {
        /// The firm.
        participant: ParticipantId,
        /// What is wrong.
        problem: String,
    },
    /// The allocation step was done already, or the final one comes before the pre-allocation.
    #[error("entity {participant}, year {year}: {problem}")]
    AllocationOrder {
        /// The entity.
        participant: ParticipantId,
        /// The year.
        year: u16,
        /// What is wrong.
        problem: &'static str,
    },
    /// Issuance needs more than one signature, so allocation cannot complete in one step.
    #[error(
        "the issuance account needs more than one signature; automatic allocation needs it to be 1"
    )]
    AllocationNeedsSingleSignature,
    /// The report is not in a state that allows this.
    #[error("report of entity {entity} for {year} is {status}: {problem}")]
    ReportState {
        /// The entity.
        entity: ParticipantId,
        /// The year.
        year: u16,
        /// Its status.
        status: &'static str,
        /// What is not allowed.
        problem: &'static str,
    },
    /// No report exists.
    #[error("entity {entity} has no report for {year}")]
    NoReport {
        /// The entity.
        entity: ParticipantId,
        /// The year.
        year: u16,
    },
    /// Only a verifier may verify.
    #[error("participant {0} is not a verifier")]
    NotVerifier(ParticipantId),
    /// The year is closed.
    #[error("compliance year {year} of {scheme:?} is closed")]
    YearClosed {
        /// The scheme.
        scheme: String,
        /// The year.
        year: u16,
    },
    /// A surrender after the last deadline.
    #[error("the last surrender deadline for {year} was {deadline}; surrenders are closed")]
    AfterDeadline {
        /// The year.
        year: u16,
        /// The deadline, YYYY-MM-DD.
        deadline: String,
    },
    /// A unit not usable for this scheme and year.
    #[error("{unit} cannot be surrendered for {year} under {scheme:?}: {reason}")]
    NotEligible {
        /// The unit class.
        unit: String,
        /// The year.
        year: u16,
        /// The scheme.
        scheme: String,
        /// Why.
        reason: &'static str,
    },
    /// Offsets beyond the limit.
    #[error(
        "offsets for {year} are limited to {limit} t; {used} t used, {requested} t more requested"
    )]
    OffsetLimit {
        /// The year.
        year: u16,
        /// The limit.
        limit: u64,
        /// Already surrendered.
        used: u64,
        /// Requested now.
        requested: u64,
    },
    /// Borrowing beyond the limit, or not allowed by the rulebook.
    #[error(
        "entity {entity} may borrow {limit} t for {year} ({already} t borrowed already); {requested} t requested"
    )]
    BorrowingLimit {
        /// The entity.
        entity: ParticipantId,
        /// The year.
        year: u16,
        /// The limit.
        limit: u64,
        /// Borrowed already.
        already: u64,
        /// Requested now.
        requested: u64,
    },
    /// The carry-over cap needs net sales over every trade, and bounded retention dropped some.
    #[error(
        "the carry-over cap of {scheme} needs every trade since trading began, and bounded retention dropped some (docs/memory.md)"
    )]
    CarryOverHistoryIncomplete {
        /// The scheme closing.
        scheme: String,
    },
    /// The offset limit depends on verified emissions that are not known yet.
    #[error("the offset limit for {year} depends on verified emissions; verify the report first")]
    OffsetLimitUnknown {
        /// The year.
        year: u16,
    },
}

impl ComplianceError {
    /// The stable machine-readable code of this error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            ComplianceError::Registry(error) => error.code(),
            ComplianceError::Rulebook { code, .. } | ComplianceError::Formula { code, .. } => code,
            ComplianceError::BadDecimal { .. } => "bad_decimal",
            ComplianceError::UnknownScheme(_) => "unknown_scheme",
            ComplianceError::SchemeExists(_) => "scheme_exists",
            ComplianceError::YearNotInScheme { .. } => "year_not_in_scheme",
            ComplianceError::AllocationModeUnsupported(_) => "allocation_mode_unsupported",
            ComplianceError::NoMrvRules(_) => "no_mrv_rules",
            ComplianceError::UnknownEntity(_) => "unknown_entity",
            ComplianceError::EntityExists(_) => "entity_exists",
            ComplianceError::NotEntityAccount { .. } => "not_entity_account",
            ComplianceError::BadUnits { .. } => "bad_units",
            ComplianceError::BadSectorFirms { .. } => "bad_sector_firms",
            ComplianceError::AllocationOrder { .. } => "allocation_order",
            ComplianceError::AllocationNeedsSingleSignature => "allocation_needs_single_signature",
            ComplianceError::ReportState { .. } => "report_state",
            ComplianceError::NoReport { .. } => "no_report",
            ComplianceError::NotVerifier(_) => "not_verifier",
            ComplianceError::YearClosed { .. } => "year_closed",
            ComplianceError::AfterDeadline { .. } => "surrender_after_deadline",
            ComplianceError::NotEligible { .. } => "not_eligible",
            ComplianceError::OffsetLimit { .. } => "offset_limit_exceeded",
            ComplianceError::OffsetLimitUnknown { .. } => "offset_limit_unknown",
            ComplianceError::BorrowingLimit { .. } => "borrowing_limit_exceeded",
            ComplianceError::CarryOverHistoryIncomplete { .. } => "carry_over_history_incomplete",
        }
    }
}

impl From<ets_scheme::FormulaError> for ComplianceError {
    fn from(error: ets_scheme::FormulaError) -> ComplianceError {
        ComplianceError::Formula {
            code: error.code(),
            message: error.to_string(),
        }
    }
}
