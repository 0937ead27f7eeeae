//! The state machine: applies envelopes, remembers outcomes per request id,
//! hashes and snapshots its state.

use crate::command::{Command, Effect, Envelope, Outcome, Rejection};
use crate::compliance::Compliance;
use crate::exchange::Exchange;
use ets_model::{ParticipantId, RequestId, Timestamp};
use ets_registry::{AccountStatus, Context, Registry, RegistryCommand};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

/// A BLAKE3 digest of the engine's canonical state encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StateHash(pub [u8; 32]);

impl std::fmt::Display for StateHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

/// A snapshot could not be decoded.
#[derive(Debug, Error)]
#[error("engine snapshot does not decode: {0}")]
pub struct SnapshotError(#[from] postcard::Error);

/// What applying an envelope did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// A new request: the outcome must be journaled before it is acknowledged.
    Fresh(Outcome),
    /// A request id seen before: the first outcome, nothing applied, nothing to journal.
    Duplicate(Outcome),
}

impl Applied {
    /// The outcome, fresh or remembered.
    #[must_use]
    pub fn outcome(&self) -> &Outcome {
        match self {
            Applied::Fresh(outcome) | Applied::Duplicate(outcome) => outcome,
        }
    }
}

/// The engine's whole state.
#[derive(Debug, Clone)]
pub struct Engine {
    registry: Registry,
    compliance: Compliance,
    exchange: Exchange,
    /// First outcome per (requester, request id). A B-tree, not a hash map:
    /// a hash map rehashes everything when it grows, which stalled single
    /// commands for up to a second at a million entries (`ets bench market`).
    outcomes: BTreeMap<(ParticipantId, RequestId), Outcome>,
    last_time: Option<Timestamp>,
    applied: u64,
}

/// The canonical encoding of the state, used for snapshots and the state hash.
#[derive(Serialize, Deserialize)]
struct SnapshotState {
    registry: Registry,
    compliance: Compliance,
    exchange: Exchange,
    outcomes: Vec<((ParticipantId, RequestId), Outcome)>,
    last_time: Option<Timestamp>,
    applied: u64,
}

impl Default for Engine {
    fn default() -> Engine {
        Engine::new()
    }
}

impl Engine {
    /// An engine with nothing in it.
    #[must_use]
    pub fn new() -> Engine {
        Engine {
            registry: Registry::new(),
            compliance: Compliance::default(),
            exchange: Exchange::new(),
            outcomes: BTreeMap::new(),
            last_time: None,
            applied: 0,
        }
    }

    /// Applies one envelope. A repeated (requester, request id) returns the
    /// first outcome and changes nothing. The caller (the sequencer) makes
    /// sure times never go backwards.
    pub fn apply(&mut self, envelope: &Envelope) -> Applied {
        let key = (envelope.requester, envelope.request_id);
        if let Some(first) = self.outcomes.get(&key) {
            return Applied::Duplicate(first.clone());
        }
        debug_assert!(
            self.last_time.is_none_or(|last| last <= envelope.time),
            "the sequencer let time go backwards"
        );
        let outcome = self.execute(envelope);
        self.outcomes.insert(key, outcome.clone());
        self.last_time = Some(envelope.time);
        self.applied += 1;
        Applied::Fresh(outcome)
    }

    fn execute(&mut self, envelope: &Envelope) -> Outcome {
        let context = Context {
            requester: envelope.requester,
            at: envelope.time,
        };
        let result = match &envelope.command {
            Command::Registry(command) => self.execute_registry(context, command),
            Command::Compliance(command) => self
                .compliance
                .execute(&mut self.registry, context, command)
                .map(Effect::Compliance)
                .map_err(Rejection::from),
            Command::Exchange(command) => self
                .exchange
                .execute_with(&mut self.registry, &self.compliance, context, command)
                .map(Effect::Exchange)
                .map_err(Rejection::from),
        };
        match result {
            Ok(effect) => Outcome::Accepted(effect),
            Err(rejection) => Outcome::Rejected(rejection),
        }
    }

    fn execute_registry(
        &mut self,
        context: Context,
        command: &RegistryCommand,
    ) -> Result<Effect, Rejection> {
        // A surrender must also satisfy the scheme of the surrendering entity.
        if let RegistryCommand::Surrender {
            from,
            class,
            quantity,
            compliance_year,
        } = command
        {
            self.compliance.check_surrender(
                &self.registry,
                context.at,
                *from,
                class,
                *quantity,
                *compliance_year,
            )?;
        }
        // An account with money or orders at the exchange cannot be closed: a later
        // fill would otherwise deliver into a closed account.
        if let RegistryCommand::SetAccountStatus {
            account,
            status: AccountStatus::Closed,
        } = command
        {
            let cash = self.exchange.cash(*account);
            let has_orders = self
                .exchange
                .unit_holds()
                .keys()
                .any(|(holder, _)| holder == account);
            if cash.available.minor_units() != 0 || cash.held.minor_units() != 0 || has_orders {
                return Err(Rejection {
                    code: "account_has_exchange_positions".to_owned(),
                    message: format!(
                        "account {account} still has cash or open orders at the exchange; withdraw and cancel them first"
                    ),
                });
            }
        }
        let effect = self.registry.execute(context, command)?;
        // A blocked account stops trading at once: its open orders, proposals and bids close.
        if let RegistryCommand::SetAccountStatus {
            account,
            status: AccountStatus::Blocked,
        } = command
        {
            self.exchange
                .close_all_of(&mut self.registry, context, *account);
        }
        Ok(Effect::Registry(effect))
    }

    /// The registry, for queries.
    #[must_use]
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The compliance state, for queries.
    #[must_use]
    pub fn compliance(&self) -> &Compliance {
        &self.compliance
    }

    /// The exchange state, for queries.
    #[must_use]
    pub fn exchange(&self) -> &Exchange {
        &self.exchange
    }

    /// The time of the last applied command.
    #[must_use]
    pub fn last_time(&self) -> Option<Timestamp> {
        self.last_time
    }

    /// How many fresh commands were applied (duplicates excluded).
    #[must_use]
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// The first outcome of a request, if it was seen.
    #[must_use]
    pub fn outcome_of(&self, requester: ParticipantId, request_id: RequestId) -> Option<&Outcome> {
        self.outcomes.get(&(requester, request_id))
    }

    /// Checks every invariant of the state.
    ///
    /// # Errors
    /// A description of the first broken invariant: always a bug.
    pub fn check_invariants(&self) -> Result<(), String> {
        // The exchange's check covers the registry's, counting its own unit holds.
        self.exchange.check_invariants(&self.registry)
    }

    /// The canonical encoding of the whole state: ordered maps in key order,
    /// the outcome table sorted by key.
    #[must_use]
    pub fn encode_snapshot(&self) -> Vec<u8> {
        let outcomes: Vec<_> = self
            .outcomes
            .iter()
            .map(|(key, outcome)| (*key, outcome.clone()))
            .collect();
        let state = SnapshotState {
            registry: self.registry.clone(),
            compliance: self.compliance.clone(),
            exchange: self.exchange.clone(),
            outcomes,
            last_time: self.last_time,
            applied: self.applied,
        };
        // Encoding into a Vec cannot fail for these types.
        postcard::to_stdvec(&state).unwrap_or_default()
    }

    /// Rebuilds an engine from [`Engine::encode_snapshot`] bytes.
    ///
    /// # Errors
    /// [`SnapshotError`] when the bytes do not decode.
    pub fn decode_snapshot(bytes: &[u8]) -> Result<Engine, SnapshotError> {
        let mut state: SnapshotState = postcard::from_bytes(bytes)?;
        state.registry.rebuild_indexes();
        state.compliance.rehydrate();
        Ok(Engine {
            registry: state.registry,
            compliance: state.compliance,
            exchange: state.exchange,
            outcomes: state.outcomes.into_iter().collect(),
            last_time: state.last_time,
            applied: state.applied,
        })
    }

    /// BLAKE3 of the canonical state encoding: equal states, equal hashes.
    #[must_use]
    pub fn state_hash(&self) -> StateHash {
        StateHash(*blake3::hash(&self.encode_snapshot()).as_bytes())
    }
}
