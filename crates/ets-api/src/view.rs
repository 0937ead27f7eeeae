//! JSON views of registry state for `ets show` and, later, the HTTP API.

use crate::text::format_time;
use ets_model::{AccountId, ParticipantId, TransactionId};
use ets_registry::{Registry, RegistryError, Transaction, TransactionKind};
use serde_json::{Value, json};

fn unit_name(registry: &Registry, class_index: u32) -> String {
    registry
        .class(class_index)
        .map_or_else(|| format!("#{class_index}"), ToString::to_string)
}

/// A participant.
///
/// # Errors
/// [`RegistryError::UnknownParticipant`].
pub fn participant_view(registry: &Registry, id: ParticipantId) -> Result<Value, RegistryError> {
    let participant = registry.participant(id)?;
    Ok(json!({ "id": id.0, "kind": participant.kind.name(), "name": participant.name }))
}

/// An account with its holdings by unit class, each with its serial blocks.
///
/// # Errors
/// [`RegistryError::UnknownAccount`].
pub fn account_view(registry: &Registry, id: AccountId) -> Result<Value, RegistryError> {
    let account = registry.account(id)?;
    let holdings: Vec<Value> = account
        .holdings()
        .filter(|(_, holding)| !holding.total().is_zero())
        .map(|(class_index, holding)| {
            json!({
                "unit": unit_name(registry, class_index),
                "total": holding.total().tonnes(),
                "reserved": holding.reserved().tonnes(),
                "available": holding.available().tonnes(),
                "blocks": holding.blocks().map(|b| b.to_string()).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(json!({
        "id": id.0,
        "kind": account.kind.name(),
        "holder": account.holder.0,
        "status": account.status.name(),
        "representatives": account.rule.representatives.iter().map(|p| p.0).collect::<Vec<_>>(),
        "approvals_required": account.rule.approvals_required,
        "opened_at": format_time(account.opened_at),
        "holdings": holdings,
    }))
}

fn transaction_json(registry: &Registry, transaction: &Transaction) -> Value {
    let mut value = json!({
        "id": transaction.id.0,
        "kind": transaction.kind.name(),
        "status": transaction.status().name(),
        "unit": unit_name(registry, transaction.class_index),
        "quantity": transaction.quantity.tonnes(),
        "from": transaction.from.0,
        "to": transaction.to.0,
        "blocks": transaction.blocks.iter().map(|b| b.to_string()).collect::<Vec<_>>(),
        "proposer": transaction.proposer.0,
        "approvals": transaction.approvals.iter().map(|p| p.0).collect::<Vec<_>>(),
        "history": transaction.history.iter().map(|change| json!({
            "status": change.status.name(),
            "at": format_time(change.at),
            "by": change.by.0,
        })).collect::<Vec<_>>(),
    });
    let extra = match &transaction.kind {
        TransactionKind::Surrender { compliance_year } => {
            Some(("compliance_year", json!(compliance_year)))
        }
        TransactionKind::Retire { beneficiary } => Some(("beneficiary", json!(beneficiary))),
        TransactionKind::Cancel { reason } => Some(("reason", json!(reason))),
        TransactionKind::Reversal { of } => Some(("reverses", json!(of.0))),
        _ => None,
    };
    if let (Some((key, extra)), Some(object)) = (extra, value.as_object_mut()) {
        object.insert(key.into(), extra);
    }
    value
}

/// A transaction with its full status history.
///
/// # Errors
/// [`RegistryError::UnknownTransaction`].
pub fn transaction_view(registry: &Registry, id: TransactionId) -> Result<Value, RegistryError> {
    Ok(transaction_json(registry, registry.transaction(id)?))
}

/// A serial number: its class, where it is now, and every transaction that moved it.
/// `None` when the serial was never issued.
#[must_use]
pub fn serial_view(registry: &Registry, serial: u64) -> Option<Value> {
    let (holder, class_index) = registry.serial_holder(serial)?;
    let history: Vec<Value> = registry
        .serial_history(serial)
        .into_iter()
        .map(|transaction| transaction_json(registry, transaction))
        .collect();
    Some(json!({
        "serial": serial,
        "unit": unit_name(registry, class_index),
        "held_by": holder.0,
        "history": history,
    }))
}
