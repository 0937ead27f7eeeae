//! The registry commands the exchange tests' setups start with.

use ets_model::{AccountId, ParticipantId};
use ets_registry::{AccountKind, ParticipantKind, RegistryCommand};

/// Registers participant `id` of `kind`, named after its id.
pub fn participant(id: u64, kind: ParticipantKind) -> RegistryCommand {
    RegistryCommand::RegisterParticipant {
        id: ParticipantId(id),
        kind,
        name: format!("participant {id}"),
    }
}

/// Opens account `id` of `kind` held by `holder`, its one representative (one
/// signature approves).
pub fn open_account(id: u64, kind: AccountKind, holder: u64) -> RegistryCommand {
    RegistryCommand::OpenAccount {
        id: AccountId(id),
        kind,
        holder: ParticipantId(holder),
        representatives: vec![ParticipantId(holder)],
        approvals_required: 1,
    }
}
