//! Views of registry state for `ets show`, the HTTP API and the streams: typed
//! DTOs (serde-derived, snake_case) converted from the registry's types, and
//! who the parties of each view are (`authority` decides who may read it).

use crate::text::format_time;
use ets_model::{AccountId, ParticipantId, TransactionId};
use ets_registry::{
    Account, Participant, Registry, RegistryError, StatusChange, Transaction, TransactionKind,
};
use schemars::JsonSchema;
use serde::Serialize;

fn unit_name(registry: &Registry, class_index: u32) -> String {
    registry
        .class(class_index)
        .map_or_else(|| format!("#{class_index}"), ToString::to_string)
}

/// A participant: public (its name and kind).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ParticipantView {
    /// Its id.
    pub id: u64,
    /// Its kind (`covered_entity`, `institution`, ...).
    pub kind: &'static str,
    /// Its name.
    pub name: String,
}

impl From<&Participant> for ParticipantView {
    fn from(participant: &Participant) -> ParticipantView {
        ParticipantView {
            id: participant.id.0,
            kind: participant.kind.name(),
            name: participant.name.clone(),
        }
    }
}

/// An account's holding of one unit class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct HoldingView {
    /// The unit class, e.g. `CEA-2021`.
    pub unit: String,
    /// Tonnes held.
    pub total: u64,
    /// Tonnes reserved for pending transactions and open sell orders.
    pub reserved: u64,
    /// Tonnes free to move.
    pub available: u64,
    /// The serial blocks held, `start-end`.
    pub blocks: Vec<String>,
}

/// An account with its holdings: for its parties, the administrator and auditors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct AccountView {
    /// Its id.
    pub id: u64,
    /// Its kind (`trading`, `compliance`, ...).
    pub kind: &'static str,
    /// The participant holding it.
    pub holder: u64,
    /// `open`, `blocked` or `closed`.
    pub status: &'static str,
    /// The participants who may act on it.
    pub representatives: Vec<u64>,
    /// How many of them must approve a transfer.
    pub approvals_required: u8,
    /// When it was opened, RFC 3339.
    pub opened_at: String,
    /// Its non-empty holdings.
    pub holdings: Vec<HoldingView>,
}

fn account_dto(registry: &Registry, account: &Account) -> AccountView {
    let holdings = account
        .holdings()
        .filter(|(_, holding)| !holding.total().is_zero())
        .map(|(class_index, holding)| HoldingView {
            unit: unit_name(registry, class_index),
            total: holding.total().tonnes(),
            reserved: holding.reserved().tonnes(),
            available: holding.available().tonnes(),
            blocks: holding.blocks().map(|b| b.to_string()).collect(),
        })
        .collect();
    AccountView {
        id: account.id.0,
        kind: account.kind.name(),
        holder: account.holder.0,
        status: account.status.name(),
        representatives: account.rule.representatives.iter().map(|p| p.0).collect(),
        approvals_required: account.rule.approvals_required,
        opened_at: format_time(account.opened_at),
        holdings,
    }
}

/// One step of a transaction's status history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct StatusChangeView {
    /// The status entered.
    pub status: &'static str,
    /// When, RFC 3339.
    pub at: String,
    /// Who caused it.
    pub by: u64,
}

impl From<&StatusChange> for StatusChangeView {
    fn from(change: &StatusChange) -> StatusChangeView {
        StatusChangeView {
            status: change.status.name(),
            at: format_time(change.at),
            by: change.by.0,
        }
    }
}

/// A transaction with its full status history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct TransactionView {
    /// Its id.
    pub id: u64,
    /// Its kind (`transfer`, `surrender`, ...).
    pub kind: &'static str,
    /// Its current status.
    pub status: &'static str,
    /// The unit class.
    pub unit: String,
    /// Tonnes moved.
    pub quantity: u64,
    /// The account the units leave.
    pub from: u64,
    /// The account the units reach.
    pub to: u64,
    /// The serial blocks moved.
    pub blocks: Vec<String>,
    /// The participant who proposed it.
    pub proposer: u64,
    /// The representatives who approved it.
    pub approvals: Vec<u64>,
    /// Every status it went through.
    pub history: Vec<StatusChangeView>,
    /// A surrender's compliance year.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compliance_year: Option<u16>,
    /// A retirement's beneficiary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beneficiary: Option<String>,
    /// A cancellation's reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The transaction a reversal reverses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reverses: Option<u64>,
}

fn transaction_dto(registry: &Registry, transaction: &Transaction) -> TransactionView {
    let mut view = TransactionView {
        id: transaction.id.0,
        kind: transaction.kind.name(),
        status: transaction.status().name(),
        unit: unit_name(registry, transaction.class_index),
        quantity: transaction.quantity.tonnes(),
        from: transaction.from.0,
        to: transaction.to.0,
        blocks: transaction.blocks.iter().map(|b| b.to_string()).collect(),
        proposer: transaction.proposer.0,
        approvals: transaction.approvals.iter().map(|p| p.0).collect(),
        history: transaction.history.iter().map(Into::into).collect(),
        compliance_year: None,
        beneficiary: None,
        reason: None,
        reverses: None,
    };
    match &transaction.kind {
        TransactionKind::Surrender { compliance_year } => {
            view.compliance_year = Some(*compliance_year);
        }
        TransactionKind::Retire { beneficiary } => view.beneficiary = Some(beneficiary.clone()),
        TransactionKind::Cancel { reason } => view.reason = Some(reason.clone()),
        TransactionKind::Reversal { of } => view.reverses = Some(of.0),
        _ => {}
    }
    view
}

/// A transaction the engine no longer retains, as the history database
/// holds it (docs/memory.md), in the shape of the engine's view: the same
/// answer a store that keeps everything gives.
impl TryFrom<&ets_history::query::TransactionRow> for TransactionView {
    type Error = String;

    fn try_from(row: &ets_history::query::TransactionRow) -> Result<TransactionView, String> {
        let whole = |what: &str, value: i64| {
            u64::try_from(value).map_err(|_| format!("the history's {what} {value} is negative"))
        };
        let history = row
            .status_history
            .iter()
            .map(|step| {
                Ok(StatusChangeView {
                    status: status_name(&step.status)?,
                    at: format_time(ets_model::Timestamp(step.at_ms)),
                    by: whole("participant", step.by)?,
                })
            })
            .collect::<Result<_, String>>()?;
        let mut view = TransactionView {
            id: whole("transaction id", row.id)?,
            kind: kind_name(&row.kind)?,
            status: status_name(&row.status)?,
            unit: row.unit_class.clone(),
            quantity: whole("quantity", row.quantity)?,
            from: whole("account", row.from_account)?,
            to: whole("account", row.to_account)?,
            blocks: row
                .blocks
                .iter()
                .map(|(first, last)| format!("{first}-{last}"))
                .collect(),
            proposer: whole("participant", row.proposer)?,
            approvals: row
                .approvals
                .iter()
                .map(|&approver| whole("participant", approver))
                .collect::<Result<_, String>>()?,
            history,
            compliance_year: None,
            beneficiary: None,
            reason: None,
            reverses: None,
        };
        let note = row.note.clone().unwrap_or_default();
        let bad_note = || {
            format!(
                "transaction {}: the note `{note}` is not what its kind carries",
                row.id
            )
        };
        match view.kind {
            "surrender" => view.compliance_year = Some(note.parse().map_err(|_| bad_note())?),
            "retire" => view.beneficiary = Some(note.clone()),
            "cancel" => view.reason = Some(note.clone()),
            "reversal" => view.reverses = Some(note.parse().map_err(|_| bad_note())?),
            _ => {}
        }
        Ok(view)
    }
}

/// The registry's name of a transaction kind, as a `'static` text.
fn kind_name(name: &str) -> Result<&'static str, String> {
    let kinds = [
        TransactionKind::Issue,
        TransactionKind::Allocate,
        TransactionKind::Transfer,
        TransactionKind::Surrender { compliance_year: 0 },
        TransactionKind::Retire {
            beneficiary: String::new(),
        },
        TransactionKind::Cancel {
            reason: String::new(),
        },
        TransactionKind::Reversal {
            of: TransactionId(0),
        },
    ];
    kinds
        .iter()
        .map(TransactionKind::name)
        .find(|known| *known == name)
        .ok_or_else(|| format!("the history names an unknown transaction kind `{name}`"))
}

/// The registry's name of a transaction status, as a `'static` text.
fn status_name(name: &str) -> Result<&'static str, String> {
    use ets_registry::TransactionStatus as Status;
    [
        Status::Proposed,
        Status::AwaitingApproval,
        Status::Completed,
        Status::Rejected,
        Status::Cancelled,
        Status::Reversed,
        Status::Delayed,
        Status::Failed,
    ]
    .into_iter()
    .map(Status::name)
    .find(|known| *known == name)
    .ok_or_else(|| format!("the history names an unknown transaction status `{name}`"))
}

/// A serial number: its class, the account holding it, every transaction
/// that moved it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SerialView {
    /// The serial number.
    pub serial: u64,
    /// Its unit class.
    pub unit: String,
    /// The account holding it now.
    pub held_by: u64,
    /// The transactions that moved it, oldest first.
    pub history: Vec<TransactionView>,
}

/// A participant.
///
/// # Errors
/// [`RegistryError::UnknownParticipant`].
pub fn participant_view(
    registry: &Registry,
    id: ParticipantId,
) -> Result<ParticipantView, RegistryError> {
    registry.participant(id).map(ParticipantView::from)
}

/// An account with its holdings by unit class, each with its serial blocks.
///
/// # Errors
/// [`RegistryError::UnknownAccount`].
pub fn account_view(registry: &Registry, id: AccountId) -> Result<AccountView, RegistryError> {
    Ok(account_dto(registry, registry.account(id)?))
}

/// A transaction with its full status history.
///
/// # Errors
/// [`RegistryError::UnknownTransaction`].
pub fn transaction_view(
    registry: &Registry,
    id: TransactionId,
) -> Result<TransactionView, RegistryError> {
    Ok(transaction_dto(registry, registry.transaction(id)?))
}

/// A serial number's view; `None` when the serial was never issued.
#[must_use]
pub fn serial_view(registry: &Registry, serial: u64) -> Option<SerialView> {
    let (holder, class_index) = registry.serial_holder(serial)?;
    let history = registry
        .serial_history(serial)
        .into_iter()
        .map(|transaction| transaction_dto(registry, transaction))
        .collect();
    Some(SerialView {
        serial,
        unit: unit_name(registry, class_index),
        held_by: holder.0,
        history,
    })
}

/// The parties of an account: its holder and its representatives (none when
/// the account does not exist).
#[must_use]
pub fn account_parties(registry: &Registry, id: AccountId) -> Vec<ParticipantId> {
    registry.account(id).map_or_else(
        |_| Vec::new(),
        |account| {
            let mut parties = vec![account.holder];
            parties.extend(account.rule.representatives.iter().copied());
            parties
        },
    )
}

/// The parties of a transaction: those of the accounts it moves units between.
#[must_use]
pub fn transaction_parties(registry: &Registry, id: TransactionId) -> Vec<ParticipantId> {
    registry.transaction(id).map_or_else(
        |_| Vec::new(),
        |transaction| {
            let mut parties = account_parties(registry, transaction.from);
            parties.extend(account_parties(registry, transaction.to));
            parties
        },
    )
}

/// The parties of a serial: those of the account holding it now.
#[must_use]
pub fn serial_parties(registry: &Registry, serial: u64) -> Vec<ParticipantId> {
    registry
        .serial_holder(serial)
        .map_or_else(Vec::new, |(holder, _)| account_parties(registry, holder))
}
