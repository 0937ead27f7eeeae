//! Who may send each command and who may read what: the metadata the HTTP
//! routes, the event streams, the web UI and the CLI all decide by. Each
//! command's [`CommandSpec`] is declared next to its JSON shape (the registry
//! commands in `request`, the exchange's in `exchange`, the compliance
//! cycle's in `compliance`) from the sender groups below; nothing else keeps
//! a list of command names.
//!
//! The API checks the role and the participant kind; the engine then checks
//! the rest (that the participant represents the account, holds the units,
//! is the verifier of the report). Both must agree for a command to apply.

use crate::refusal::{Refusal, RefusalCode};
use crate::role::{Principal, Role};
use ets_model::ParticipantId;
use ets_registry::ParticipantKind;

/// Whether a request reads or changes state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Changes nothing.
    Read,
    /// May change the store (every command).
    Write,
}

/// Who may send a command: the users' roles and the kinds of participant
/// they act as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Senders {
    /// The roles that may send it.
    pub roles: &'static [Role],
    /// The kinds of participant the requester must be; empty means any kind.
    pub participant_kinds: &'static [ParticipantKind],
    /// Who that is, in words, for refusal messages and the docs.
    pub description: &'static str,
}

/// Runs the registry and the compliance cycle, lists instruments, runs auctions.
pub const ADMINISTRATION: Senders = Senders {
    roles: &[Role::Administrator],
    participant_kinds: &[ParticipantKind::Administrator],
    description: "the registry administrator",
};

/// Moves cash as the exchange's settlement bank.
pub const EXCHANGE_OPERATION: Senders = Senders {
    roles: &[Role::Administrator, Role::ExchangeMember],
    participant_kinds: &[ParticipantKind::Exchange],
    description: "the exchange operator",
};

/// Ends a trading day: the exchange operator or the administrator.
pub const TRADING_DAY: Senders = Senders {
    roles: &[Role::Administrator, Role::ExchangeMember],
    participant_kinds: &[ParticipantKind::Administrator, ParticipantKind::Exchange],
    description: "the exchange operator or the registry administrator",
};

/// Acts on accounts the participant represents (the engine checks which).
pub const ACCOUNT_HOLDING: Senders = Senders {
    roles: &[
        Role::Administrator,
        Role::Representative,
        Role::ExchangeMember,
    ],
    participant_kinds: &[
        ParticipantKind::CoveredEntity,
        ParticipantKind::Institution,
        ParticipantKind::Individual,
        ParticipantKind::Administrator,
        ParticipantKind::Exchange,
    ],
    description: "a representative of the account",
};

/// Verifies emissions reports.
pub const VERIFICATION: Senders = Senders {
    roles: &[Role::Verifier],
    participant_kinds: &[ParticipantKind::Verifier],
    description: "a verifier",
};

/// The metadata of one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandSpec {
    /// The `command` name of its JSON shape.
    pub name: &'static str,
    /// Whether it reads or writes (every command writes).
    pub access: Access,
    /// Who may send it.
    pub senders: Senders,
}

impl CommandSpec {
    /// A command that writes, sent by `senders`.
    #[must_use]
    pub const fn write(name: &'static str, senders: Senders) -> CommandSpec {
        CommandSpec {
            name,
            access: Access::Write,
            senders,
        }
    }

    /// Whether `principal` (whose participant is of `kind`, when registered)
    /// may send this command as `requester`.
    ///
    /// # Errors
    /// [`RefusalCode::RequesterMismatch`], [`RefusalCode::RoleForbids`] or
    /// [`RefusalCode::ParticipantKindForbids`], with a message naming both
    /// sides. An unregistered participant (`kind` is `None`) passes the kind
    /// check: the engine refuses it (`unknown_requester`), except the
    /// administrator's very first registration.
    pub fn authorise(
        &self,
        principal: &Principal,
        requester: ParticipantId,
        kind: Option<ParticipantKind>,
    ) -> Result<(), Refusal> {
        if requester != principal.participant {
            return Err(Refusal::new(
                RefusalCode::RequesterMismatch,
                format!(
                    "user {} acts as participant {}, not as the requester {requester}",
                    principal.name, principal.participant
                ),
            ));
        }
        let senders = &self.senders;
        if !senders.roles.contains(&principal.role) {
            return Err(Refusal::new(
                RefusalCode::RoleForbids,
                format!(
                    "{} is sent by {}; user {} has the role {}, which may not send it",
                    self.name, senders.description, principal.name, principal.role
                ),
            ));
        }
        match kind {
            Some(kind)
                if !senders.participant_kinds.is_empty()
                    && !senders.participant_kinds.contains(&kind) =>
            {
                Err(Refusal::new(
                    RefusalCode::ParticipantKindForbids,
                    format!(
                        "{} is sent by {}; participant {requester} is of kind {}",
                        self.name,
                        senders.description,
                        kind.name()
                    ),
                ))
            }
            _ => Ok(()),
        }
    }
}

/// The spec of every command the API accepts.
pub fn command_specs() -> impl Iterator<Item = &'static CommandSpec> {
    crate::request::REGISTRY_COMMANDS
        .iter()
        .chain(crate::exchange::EXCHANGE_COMMANDS.iter())
        .chain(crate::compliance::COMPLIANCE_COMMANDS.iter())
        .chain(crate::registry_controls::CONTROL_COMMANDS.iter())
        .chain(crate::request::CLOCK_COMMANDS.iter())
}

/// The spec of the command named `name`, if there is one.
#[must_use]
pub fn command_spec(name: &str) -> Option<&'static CommandSpec> {
    command_specs().find(|spec| spec.name == name)
}

/// Who may read a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Anyone, signed in or not: market data (quotes, trades without their
    /// parties, daily statistics), compliance results, participants' names
    /// and kinds.
    Public,
    /// The parties (the account's holder and representatives; for a
    /// transaction, those of its accounts; for a serial, those of the account
    /// holding it now), the administrator and auditors.
    Parties,
}

/// Whether `principal` may read a view of visibility `visibility` whose
/// parties are `parties`.
///
/// # Errors
/// [`RefusalCode::NotRepresentative`] naming the user and `what`.
pub fn authorise_read(
    principal: &Principal,
    visibility: Visibility,
    parties: &[ParticipantId],
    what: &str,
) -> Result<(), Refusal> {
    let allowed = visibility == Visibility::Public
        || principal.role.reads_everything()
        || parties.contains(&principal.participant);
    if allowed {
        return Ok(());
    }
    Err(Refusal::new(
        RefusalCode::NotRepresentative,
        format!(
            "user {} (participant {}) is not a party to {what}",
            principal.name, principal.participant
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role) -> Principal {
        Principal {
            name: "u".to_owned(),
            participant: ParticipantId(10),
            role,
        }
    }

    #[test]
    fn every_engine_command_has_exactly_one_spec() {
        // Goal: no command goes unchecked, none is declared twice.
        let mut names: Vec<_> = command_specs().map(|spec| spec.name).collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count);
        // Registry, exchange, compliance, security controls, clock.
        assert_eq!(count, 15 + 18 + 11 + 6 + 1);
        assert!(command_specs().all(|spec| spec.access == Access::Write));
    }

    #[test]
    fn a_representative_may_not_run_the_registry_even_for_the_administrator() {
        // Goal: the issue's attack: role representative acting for the
        // administrator participant sent allocate_free; the role decides.
        for name in [
            "allocate_free",
            "load_rulebook",
            "list_instrument",
            "issue",
            "register_participant",
        ] {
            let spec = command_spec(name).unwrap();
            let refused = spec
                .authorise(
                    &principal(Role::Representative),
                    ParticipantId(10),
                    Some(ParticipantKind::Administrator),
                )
                .unwrap_err();
            assert_eq!(refused.code, RefusalCode::RoleForbids, "{name}");
        }
    }

    #[test]
    fn the_kind_of_participant_must_fit_and_auditors_send_nothing() {
        // Goal: an administrator user acting for a covered entity may not
        // issue; an auditor may not send any command; the requester must be
        // the user's own participant.
        let issue = command_spec("issue").unwrap();
        let refused = issue
            .authorise(
                &principal(Role::Administrator),
                ParticipantId(10),
                Some(ParticipantKind::CoveredEntity),
            )
            .unwrap_err();
        assert_eq!(refused.code, RefusalCode::ParticipantKindForbids);
        for spec in command_specs() {
            let refused = spec
                .authorise(&principal(Role::Auditor), ParticipantId(10), None)
                .unwrap_err();
            assert_eq!(refused.code, RefusalCode::RoleForbids, "{}", spec.name);
        }
        let transfer = command_spec("transfer").unwrap();
        let refused = transfer
            .authorise(&principal(Role::Representative), ParticipantId(11), None)
            .unwrap_err();
        assert_eq!(refused.code, RefusalCode::RequesterMismatch);
        assert_eq!(
            transfer.authorise(
                &principal(Role::Representative),
                ParticipantId(10),
                Some(ParticipantKind::CoveredEntity)
            ),
            Ok(())
        );
    }

    #[test]
    fn private_views_are_for_parties_administrators_and_auditors() {
        // Goal: the public data rule: parties, administrator and auditors read
        // an account; anyone else is refused; public views are for all.
        let parties = [ParticipantId(10)];
        for role in Role::ALL {
            let mut outsider = principal(role);
            outsider.participant = ParticipantId(77);
            let answer = authorise_read(&outsider, Visibility::Parties, &parties, "account 5");
            assert_eq!(answer.is_ok(), role.reads_everything(), "{role}");
            assert!(authorise_read(&outsider, Visibility::Public, &[], "market").is_ok());
            assert!(authorise_read(&principal(role), Visibility::Parties, &parties, "a").is_ok());
        }
    }
}
