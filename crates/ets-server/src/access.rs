//! Authorisation at the server, by the metadata `ets_api` declares with each
//! command (`CommandSpec`) and each view (`Visibility`). The JSON API, the
//! batch route, the web UI's forms and the event streams all call these
//! functions, so they cannot give different answers.
//!
//! A command's check needs the kind of the user's participant. Kinds never
//! change once a participant is registered, so each is read once on the
//! sequencer thread and then kept; an unregistered participant is looked up
//! again next time (it may have been registered since).

use crate::http::{ServerState, enqueue_read};
use ets_api::{ApiRequest, Principal, Refusal, RefusalCode, command_spec};
use ets_model::ParticipantId;
use ets_registry::ParticipantKind;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// The most participant kinds kept; beyond, the cache starts afresh (a
/// lookup is cheap, this only bounds memory).
const KINDS_KEPT_MAX: usize = 100_000;

/// The kinds of the participants users act as, read once each.
#[derive(Debug, Default)]
pub struct ParticipantKinds {
    known: Mutex<HashMap<ParticipantId, ParticipantKind>>,
}

impl ParticipantKinds {
    fn get(&self, id: ParticipantId) -> Option<ParticipantKind> {
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .copied()
    }

    fn remember(&self, id: ParticipantId, kind: ParticipantKind) {
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        if known.len() >= KINDS_KEPT_MAX {
            known.clear();
        }
        known.insert(id, kind);
    }
}

/// The kind of participant `id`, or `None` when it is not registered.
///
/// # Errors
/// `queue_full` or `shutting_down` when the sequencer cannot answer.
pub(crate) async fn participant_kind(
    state: &ServerState,
    id: ParticipantId,
) -> Result<Option<ParticipantKind>, Refusal> {
    if let Some(kind) = state.kinds.get(id) {
        return Ok(Some(kind));
    }
    let kind = enqueue_read(&state.jobs, move |store| {
        store
            .engine()
            .registry()
            .participant(id)
            .ok()
            .map(|participant| participant.kind)
    })
    .await?;
    if let Some(kind) = kind {
        state.kinds.remember(id, kind);
    }
    Ok(kind)
}

/// Whether `principal`, whose participant is of `kind`, may send `request`.
///
/// # Errors
/// The refusal from the command's spec (`requester_mismatch`,
/// `role_forbids`, `participant_kind_forbids`).
pub(crate) fn check_command(
    principal: &Principal,
    kind: Option<ParticipantKind>,
    request: &ApiRequest,
) -> Result<(), Refusal> {
    let name = request.command.name();
    // Every command that parses has a spec (a unit test of ets-api checks it);
    // refuse rather than let an undeclared one through.
    let spec = command_spec(name).ok_or_else(|| {
        Refusal::new(
            RefusalCode::RoleForbids,
            format!("{name} declares no senders, so nobody may send it"),
        )
    })?;
    spec.authorise(principal, request.requester, kind)
}

/// [`check_command`] for a request, reading the participant's kind first.
///
/// # Errors
/// The refusal of [`check_command`] or of [`participant_kind`].
pub(crate) async fn authorise_command(
    state: &ServerState,
    principal: &Principal,
    request: &ApiRequest,
) -> Result<(), Refusal> {
    let kind = participant_kind(state, principal.participant).await?;
    check_command(principal, kind, request)
}
