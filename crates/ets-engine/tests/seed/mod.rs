//! The registry commands the compliance tests seed their engines with: participants and
//! accounts with one representative, written once instead of in every test file.

use ets_engine::Command;
use ets_model::{AccountId, ParticipantId};
use ets_registry::{AccountKind, ParticipantKind, RegistryCommand};

/// A registry command as an engine command.
pub fn registry(command: RegistryCommand) -> Command {
    Command::Registry(command)
}

/// Registers participant `id` of `kind` named `name`.
pub fn participant(id: ParticipantId, kind: ParticipantKind, name: &str) -> Command {
    registry(RegistryCommand::RegisterParticipant {
        id,
        kind,
        name: name.into(),
    })
}

/// Opens account `id` of `kind` for `holder`, its only representative, one approval.
pub fn open(id: AccountId, kind: AccountKind, holder: ParticipantId) -> Command {
    registry(RegistryCommand::OpenAccount {
        id,
        kind,
        holder,
        representatives: vec![holder],
        approvals_required: 1,
    })
}
