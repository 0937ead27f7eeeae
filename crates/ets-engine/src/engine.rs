//! The state machine: applies envelopes, remembers outcomes per request id,
//! hashes and snapshots its state.

use crate::command::{Command, Effect, Envelope, Outcome, RefusedSummary, Rejection};
use crate::compliance::Compliance;
use crate::compliance::SurrenderTally;
use crate::exchange::Exchange;
use crate::kept::{KeptInstruments, KeptOutcome};
use crate::outcomes::{Lookup, OutcomeTable};
use crate::retention::{RequestKey, RetentionSection, Window};
use ets_model::{ParticipantId, RequestId, Timestamp};
use ets_registry::{AccountStatus, Context, Registry, RegistryCommand};
use serde::{Deserialize, Serialize};
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
    /// A request id that cannot be answered: seen before with a *different*
    /// command (`request_id_reused`), or older than the idempotency window of
    /// a bounded engine (`request_expired`, docs/memory.md). Refused, nothing
    /// applied, nothing to journal.
    Reused(Outcome),
}

impl Applied {
    /// The outcome, fresh or remembered.
    #[must_use]
    pub fn outcome(&self) -> &Outcome {
        match self {
            Applied::Fresh(outcome) | Applied::Duplicate(outcome) | Applied::Reused(outcome) => {
                outcome
            }
        }
    }
}

/// The code of the refusal of a request id reused for a different command.
pub const REQUEST_ID_REUSED: &str = "request_id_reused";

/// A 64-bit digest of a command: the first 8 bytes (little-endian) of BLAKE3
/// of its postcard encoding. The engine remembers it with each outcome, so a
/// request id sent again with another command is refused instead of being
/// answered with the first outcome. The time is not part of it (a resent
/// request without a time is stamped anew).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CommandDigest(pub u64);

impl CommandDigest {
    /// The digest of `command`.
    #[must_use]
    pub fn of(command: &Command) -> CommandDigest {
        match command {
            // The journaled stand-in of a refused command keeps its digest.
            Command::Refused(summary) => return summary.digest,
            // Orders and cancels, most of a market's commands, are encoded
            // by hand into postcard's exact bytes (exchange/encoding.rs).
            Command::Exchange(exchange) => {
                if let Some(encoded) = crate::exchange::encode_hot(EXCHANGE_VARIANT, exchange) {
                    return CommandDigest::of_hash(&blake3::hash(encoded.as_bytes()));
                }
            }
            _ => {}
        }
        // Encoded into a buffer on the stack and hashed at once: feeding the
        // hasher field by field cost more than the hash (docs/benchmarks.md).
        // The bytes, and so the digest, are the same either way.
        let mut buffer = [0_u8; DIGEST_BUFFER_BYTES];
        let hash = match postcard::to_slice(command, &mut buffer) {
            Ok(encoded) => blake3::hash(encoded),
            Err(_) => {
                let mut hasher = blake3::Hasher::new();
                // Writing into a hasher cannot fail; postcard only fails on writer errors here.
                let _ = postcard::to_io(command, &mut hasher);
                hasher.finalize()
            }
        };
        CommandDigest::of_hash(&hash)
    }

    /// The digest of `command` given its postcard encoding `encoded`, as a
    /// journal payload holds it (replay hashes those bytes instead of
    /// encoding the command again): equal to [`CommandDigest::of`] when
    /// `encoded` is the command's encoding.
    #[must_use]
    pub fn of_encoded(command: &Command, encoded: &[u8]) -> CommandDigest {
        match command {
            Command::Refused(summary) => summary.digest,
            _ => CommandDigest::of_hash(&blake3::hash(encoded)),
        }
    }

    /// The first 8 bytes, little-endian, of a BLAKE3 hash.
    fn of_hash(hash: &blake3::Hash) -> CommandDigest {
        let mut first = [0_u8; 8];
        first.copy_from_slice(&hash.as_bytes()[..8]);
        CommandDigest(u64::from_le_bytes(first))
    }
}

/// The variant index of [`Command::Exchange`] in postcard's encoding
/// (declaration order), the first byte of every exchange command's encoding.
const EXCHANGE_VARIANT: u8 = 2;

/// The stack buffer a command is encoded into for its digest; a longer
/// encoding is streamed into the hasher instead.
const DIGEST_BUFFER_BYTES: usize = 256;

/// The first outcome of a request and the digest of its command (`None` when
/// it was loaded from a snapshot written before digests were kept: such a
/// request id answers any command with its first outcome).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Remembered {
    outcome: KeptOutcome,
    digest: Option<CommandDigest>,
    /// The number of the command (the count of commands applied before it).
    applied_at: u64,
}

/// The engine's whole state.
#[derive(Debug, Clone)]
pub struct Engine {
    registry: Registry,
    compliance: Compliance,
    exchange: Exchange,
    /// First outcome per (requester, request id), iterated in key order
    /// (see [`OutcomeTable`]).
    outcomes: OutcomeTable<Remembered>,
    last_time: Option<Timestamp>,
    applied: u64,
    /// Bounded retention, once set (docs/memory.md); `None` keeps everything.
    window: Option<Window>,
    /// The instruments the kept outcomes name by number (not state).
    kept_instruments: KeptInstruments,
}

/// The canonical encoding of the state, used for snapshots and the state hash,
/// is this struct followed by the command digests of `outcomes` (postcard
/// `Vec<Option<CommandDigest>>`, same order), then, only once any was
/// configured, the registry's security controls (postcard
/// [`ets_registry::Controls`]), then, only once a policy other than oldest
/// first was chosen, the serial policy (postcard [`ets_registry::SerialPolicy`],
/// the controls then always written before it), then, only once retention is
/// bounded, the retention section (postcard `RetentionSection`, controls and
/// policy then always written before it) and compliance's surrender tally
/// (postcard [`crate::compliance::SurrenderTally`]; an unbounded state derives
/// it from the transactions it keeps, and a bounded snapshot written before
/// the tally existed still retained every completed surrender). Snapshots written before the digests were
/// kept end after `applied`; they still load, with unknown digests. States
/// without controls encode exactly as before the controls existed.
#[derive(Serialize, Deserialize)]
struct SnapshotState {
    registry: Registry,
    compliance: Compliance,
    exchange: Exchange,
    outcomes: Vec<((ParticipantId, RequestId), Outcome)>,
    last_time: Option<Timestamp>,
    applied: u64,
}

/// The error of snapshot bytes that decode but do not make a valid state.
fn bad_encoding() -> SnapshotError {
    SnapshotError(postcard::Error::DeserializeBadEncoding)
}

/// A snapshot's command digests, one per remembered outcome; unknown
/// (`None`) for each when the snapshot was written before they were kept
/// and ends after its state.
fn decode_digests(
    rest: &[u8],
    outcomes: usize,
) -> Result<(Vec<Option<CommandDigest>>, &[u8]), SnapshotError> {
    if rest.is_empty() {
        return Ok((vec![None; outcomes], rest));
    }
    Ok(postcard::take_from_bytes(rest)?)
}

/// The sections a snapshot carries after its digests and that the engine
/// restores once the state is rebuilt (see [`SnapshotState`]).
#[derive(Default)]
struct TrailingSections {
    retention: Option<RetentionSection>,
    tally: Option<SurrenderTally>,
    net_sales: Option<crate::exchange::NetSales>,
}

/// Decodes the sections after the digests, each present only when every
/// earlier one is: the controls and the serial policy go straight into
/// `registry`, the rest is returned.
fn decode_trailing(
    registry: &mut Registry,
    rest: &[u8],
) -> Result<TrailingSections, SnapshotError> {
    let mut sections = TrailingSections::default();
    if rest.is_empty() {
        return Ok(sections);
    }
    let (controls, rest): (ets_registry::Controls, &[u8]) = postcard::take_from_bytes(rest)?;
    registry
        .restore_controls(controls)
        .map_err(|_| bad_encoding())?;
    if rest.is_empty() {
        return Ok(sections);
    }
    let (policy, rest): (ets_registry::SerialPolicy, &[u8]) = postcard::take_from_bytes(rest)?;
    registry.restore_serial_policy(policy);
    if rest.is_empty() {
        return Ok(sections);
    }
    let (retention, rest): (RetentionSection, &[u8]) = postcard::take_from_bytes(rest)?;
    sections.retention = Some(retention);
    if rest.is_empty() {
        return Ok(sections);
    }
    let (tally, rest): (SurrenderTally, &[u8]) = postcard::take_from_bytes(rest)?;
    sections.tally = Some(tally);
    if !rest.is_empty() {
        sections.net_sales = Some(postcard::from_bytes(rest)?);
    }
    Ok(sections)
}

/// The outcome table of a decoded snapshot: each outcome with its digest,
/// stamped as applied at 0 until a retention section says otherwise; the
/// instruments the kept outcomes share go into `kept_instruments`.
fn remembered_outcomes(
    outcomes: Vec<((ParticipantId, RequestId), Outcome)>,
    digests: Vec<Option<CommandDigest>>,
    kept_instruments: &mut KeptInstruments,
) -> OutcomeTable<Remembered> {
    outcomes
        .into_iter()
        .zip(digests)
        .map(|((key, outcome), digest)| {
            let remembered = Remembered {
                outcome: KeptOutcome::of(&outcome, kept_instruments),
                digest,
                applied_at: 0,
            };
            (key, remembered)
        })
        .collect()
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
            outcomes: OutcomeTable::default(),
            last_time: None,
            applied: 0,
            window: None,
            kept_instruments: KeptInstruments::default(),
        }
    }

    /// Applies one envelope. A repeated (requester, request id) with the
    /// same command returns the first outcome and changes nothing; with a
    /// different command it is refused with `request_id_reused` and changes
    /// nothing. The caller (the sequencer) makes sure times never go backwards.
    pub fn apply(&mut self, envelope: &Envelope) -> Applied {
        self.apply_digested(envelope, CommandDigest::of(&envelope.command))
    }

    /// [`Engine::apply`] given the command's digest, which must be
    /// [`CommandDigest::of`] the envelope's command: replay computes it from
    /// the command's bytes in the journal payload
    /// ([`crate::JournalEntry::decode_digested`]) instead of encoding the
    /// command again.
    pub fn apply_digested(&mut self, envelope: &Envelope, digest: CommandDigest) -> Applied {
        let key = (envelope.requester, envelope.request_id);
        let first = match self.outcomes.lookup(&key) {
            Lookup::Remembered(first) => first,
            Lookup::Expired => {
                // Floors exist only once retention is bounded.
                let window = self.window.as_ref().map(|window| window.commands);
                assert!(
                    window.is_some(),
                    "a request id expired in an unbounded engine"
                );
                return Applied::Reused(Outcome::Rejected(crate::retention::expired(
                    key,
                    window.unwrap_or_default(),
                )));
            }
            Lookup::Unknown => return self.apply_fresh(envelope, key, digest),
        };
        if first.digest.is_some_and(|known| known != digest) {
            return Applied::Reused(Outcome::Rejected(Rejection {
                code: REQUEST_ID_REUSED.to_owned(),
                message: format!(
                    "request id {} of participant {} was already used for a different command; use a new request id",
                    envelope.request_id.0, envelope.requester.0
                ),
            }));
        }
        Applied::Duplicate(first.outcome.outcome(&self.kept_instruments))
    }

    /// Applies an envelope whose request id is neither remembered nor expired.
    fn apply_fresh(
        &mut self,
        envelope: &Envelope,
        key: RequestKey,
        digest: CommandDigest,
    ) -> Applied {
        assert!(
            self.last_time.is_none_or(|last| last <= envelope.time),
            "the sequencer let time go backwards"
        );
        self.stamp(self.applied);
        let outcome = self.execute(envelope);
        let surrenders = self.registry.take_surrender_changes();
        if !surrenders.is_empty() {
            self.compliance.record_surrenders(&surrenders);
        }
        self.outcomes.insert(
            key,
            Remembered {
                outcome: KeptOutcome::of(&outcome, &mut self.kept_instruments),
                digest: Some(digest),
                applied_at: self.applied,
            },
        );
        self.last_time = Some(crate::clock::time_after(envelope, &outcome));
        self.applied += 1;
        self.forget_old();
        Applied::Fresh(outcome)
    }

    /// Tells the registry and the exchange the number of the command being applied.
    fn stamp(&mut self, number: u64) {
        self.registry.begin_command(number);
        self.exchange.trades_mut().set_stamp(number);
    }

    /// Under bounded retention, forgets the request ids, finished
    /// transactions and trades of a whole window ago.
    fn forget_old(&mut self) {
        let Some(window) = &self.window else {
            return;
        };
        // The last W commands, this one included, stay remembered: the
        // table's oldest first (it holds them in applied order).
        let last = self.applied - 1;
        let commands = window.commands;
        self.outcomes.expire_oldest_while(|remembered| {
            remembered.applied_at.saturating_add(commands) <= last
        });
        self.stamp(last);
        self.registry.prune_finished();
        self.exchange.trades_mut().prune();
    }

    /// `set_retention`: bounds retention to `commands` commands, or changes the window.
    fn set_retention(&mut self, context: Context, commands: u64) -> Result<Effect, Rejection> {
        let bootstrapping = self.registry.participants().next().is_none() && self.applied == 0;
        if !bootstrapping {
            self.registry
                .require_administrator_of(context.requester, "set the retention window")?;
        }
        crate::retention::check_window(commands)?;
        match &mut self.window {
            Some(window) => window.commands = commands,
            None => {
                // Everything remembered so far leaves a window from now
                // (all at once: the table's applied order holds).
                let now = self.applied;
                self.outcomes.for_each_mut(|_, remembered| {
                    remembered.applied_at = now;
                });
                self.window = Some(Window { commands });
            }
        }
        self.registry.bound_retention(commands);
        self.exchange.trades_mut().bound(commands);
        Ok(Effect::Registry(ets_registry::Effect::ControlsSet))
    }

    /// The retention window in commands, once bounded (docs/memory.md).
    #[must_use]
    pub fn retention_window(&self) -> Option<u64> {
        self.window.as_ref().map(|window| window.commands)
    }

    /// How many request ids the engine remembers (each with its first outcome).
    #[must_use]
    pub fn remembered_requests(&self) -> usize {
        self.outcomes.len()
    }

    fn execute(&mut self, envelope: &Envelope) -> Outcome {
        let context = Context {
            requester: envelope.requester,
            at: envelope.time,
        };
        // Transfers whose security delay ended before this command complete
        // first (a registry command does so itself, and counts them for release_due).
        if !matches!(envelope.command, Command::Registry(_)) {
            self.registry.release_due(context.at);
        }
        let result = match &envelope.command {
            Command::Registry(command) => self.execute_registry(context, command),
            Command::Compliance(command) => {
                let exchange = &self.exchange;
                let net_sales = |registry: &ets_registry::Registry, unit: &ets_model::Code| {
                    exchange.net_allowance_sales(registry, unit)
                };
                self.compliance
                    .execute(&mut self.registry, context, command, &net_sales)
                    .map(Effect::Compliance)
                    .map_err(Rejection::from)
            }
            Command::Exchange(command) => self
                .exchange
                .execute_with(&mut self.registry, &self.compliance, context, command)
                .map(Effect::Exchange)
                .map_err(Rejection::from),
            Command::Refused(summary) => Err(summary.rejection.clone()),
            Command::Clock(command) => crate::clock::execute(&self.registry, context, command)
                .map(Effect::Clock)
                .map_err(Rejection::from),
            Command::SetRetention { commands } => self.set_retention(context, *commands),
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

    /// For a command just refused by [`Engine::apply`] whose encoding is over
    /// [`RefusedSummary::JOURNAL_FULL_MAX_BYTES`]: the bounded stand-in to
    /// journal instead, with the remembered refusal's message cut to the same
    /// bound (so the live state equals the state replay rebuilds). Call it
    /// right after `apply` gave a fresh outcome; `None` when that outcome
    /// was an acceptance or the command is small.
    pub fn bound_refusal(&mut self, envelope: &Envelope) -> Option<Command> {
        let key = (envelope.requester, envelope.request_id);
        let remembered = self.outcomes.get_mut(&key)?;
        let rejection = remembered.outcome.rejection_mut()?;
        let encoded = postcard::to_stdvec(&envelope.command).ok()?;
        if encoded.len() <= RefusedSummary::JOURNAL_FULL_MAX_BYTES {
            return None;
        }
        cut_at_char(&mut rejection.message, RefusedSummary::MESSAGE_MAX_BYTES);
        Some(Command::Refused(RefusedSummary {
            name: envelope.command.name().to_owned(),
            digest: remembered
                .digest
                .unwrap_or(CommandDigest::of(&envelope.command)),
            encoded_bytes: encoded.len() as u64,
            prefix: encoded[..RefusedSummary::PREFIX_BYTES].to_vec(),
            rejection: rejection.clone(),
        }))
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

    /// Checks every invariant of the state.
    ///
    /// # Errors
    /// A description of the first broken invariant: always a bug.
    pub fn check_invariants(&self) -> Result<(), String> {
        // The exchange's check covers the registry's, counting its own unit holds.
        self.exchange.check_invariants(&self.registry)
    }

    /// The canonical encoding of the whole state: ordered maps in key order,
    /// the outcome table sorted by key, then the command digests.
    #[must_use]
    pub fn encode_snapshot(&self) -> Vec<u8> {
        let outcomes: Vec<_> = self
            .outcomes
            .iter()
            .map(|(key, remembered)| (key, remembered.outcome.outcome(&self.kept_instruments)))
            .collect();
        let digests: Vec<Option<CommandDigest>> = self
            .outcomes
            .values()
            .map(|remembered| remembered.digest)
            .collect();
        let state = SnapshotState {
            registry: self.registry.clone(),
            compliance: self.compliance.clone(),
            exchange: self.exchange.clone(),
            outcomes,
            last_time: self.last_time,
            applied: self.applied,
        };
        // Encoding these types into a Vec cannot fail; if it ever did, a
        // snapshot or state hash of nothing would hide it, so it stops here.
        let mut bytes = match postcard::to_stdvec(&state) {
            Ok(bytes) => bytes,
            Err(error) => panic!("the engine state did not encode: {error}"),
        };
        match postcard::to_stdvec(&digests) {
            Ok(encoded) => bytes.extend(encoded),
            Err(error) => panic!("the command digests did not encode: {error}"),
        }
        self.encode_trailing(&mut bytes);
        bytes
    }

    /// The sections after the digests, each written only once needed (and
    /// then every earlier one too), so older states encode as before.
    fn encode_trailing(&self, bytes: &mut Vec<u8>) {
        let policy = self.registry.serial_policy();
        let bounded = self.window.is_some();
        let chosen_policy = bounded || policy != ets_registry::SerialPolicy::OldestFirst;
        if chosen_policy || !self.registry.controls().is_empty() {
            match postcard::to_stdvec(self.registry.controls()) {
                Ok(encoded) => bytes.extend(encoded),
                Err(error) => panic!("the registry controls did not encode: {error}"),
            }
        }
        if chosen_policy {
            match postcard::to_stdvec(&policy) {
                Ok(encoded) => bytes.extend(encoded),
                Err(error) => panic!("the serial policy did not encode: {error}"),
            }
        }
        if let Some(section) = self.retention_section() {
            match postcard::to_stdvec(&section) {
                Ok(encoded) => bytes.extend(encoded),
                Err(error) => panic!("the retention section did not encode: {error}"),
            }
            match postcard::to_stdvec(self.compliance.surrender_tally()) {
                Ok(encoded) => bytes.extend(encoded),
                Err(error) => panic!("the surrender tally did not encode: {error}"),
            }
            // The net sales outlive the trade records retention drops; an
            // unbounded state derives them from its records instead.
            let net_sales = self.exchange.trades().net_sales();
            if !net_sales.is_trivial() {
                match postcard::to_stdvec(net_sales) {
                    Ok(encoded) => bytes.extend(encoded),
                    Err(error) => panic!("the net sales did not encode: {error}"),
                }
            }
        }
    }

    fn retention_section(&self) -> Option<RetentionSection> {
        let window = self.window.as_ref()?;
        Some(RetentionSection {
            commands: window.commands,
            outcome_stamps: self.outcomes.values().map(|r| r.applied_at).collect(),
            floors: self.outcomes.floors().collect(),
            book: self.registry.book_retention(),
            trades: self.exchange.trades().retention(),
        })
    }

    /// Rebuilds an engine from [`Engine::encode_snapshot`] bytes.
    ///
    /// # Errors
    /// [`SnapshotError`] when the bytes do not decode.
    pub fn decode_snapshot(bytes: &[u8]) -> Result<Engine, SnapshotError> {
        let (mut state, rest): (SnapshotState, &[u8]) = postcard::take_from_bytes(bytes)?;
        let (digests, rest) = decode_digests(rest, state.outcomes.len())?;
        let trailing = decode_trailing(&mut state.registry, rest)?;
        if digests.len() != state.outcomes.len() {
            return Err(bad_encoding());
        }
        state.registry.rebuild_indexes();
        state
            .registry
            .restore_exchange_holds(&state.exchange.unit_holds())
            .map_err(|_| bad_encoding())?;
        state.compliance.rehydrate();
        let tally = trailing
            .tally
            .unwrap_or_else(|| SurrenderTally::from_registry(&state.registry));
        state.compliance.restore_surrender_tally(tally);
        let mut kept_instruments = KeptInstruments::default();
        let mut engine = Engine {
            registry: state.registry,
            compliance: state.compliance,
            exchange: state.exchange,
            outcomes: remembered_outcomes(state.outcomes, digests, &mut kept_instruments),
            last_time: state.last_time,
            applied: state.applied,
            window: None,
            kept_instruments,
        };
        if let Some(section) = trailing.retention {
            engine
                .restore_retention(section)
                .map_err(|()| bad_encoding())?;
        }
        match trailing.net_sales {
            Some(net_sales) => engine.exchange.trades_mut().set_net_sales(net_sales),
            // Unbounded, or bounded from before the counter was kept.
            None => engine.exchange.derive_net_sales(),
        }
        Ok(engine)
    }

    /// Restores bounded retention from a decoded retention section.
    fn restore_retention(&mut self, section: RetentionSection) -> Result<(), ()> {
        if section.outcome_stamps.len() != self.outcomes.len() {
            return Err(());
        }
        crate::retention::check_window(section.commands).map_err(|_| ())?;
        let mut section_stamps = section.outcome_stamps.into_iter();
        self.outcomes.for_each_mut(|_, remembered| {
            // As many stamps as outcomes (checked above).
            let stamp = section_stamps.next().unwrap_or_default();
            remembered.applied_at = stamp;
        });
        // Decoded in key order; expiry reads them oldest first.
        self.outcomes =
            std::mem::take(&mut self.outcomes).in_applied_order(|remembered| remembered.applied_at);
        for (requester, floor) in section.floors {
            self.outcomes.set_floor(requester, floor);
        }
        self.window = Some(Window {
            commands: section.commands,
        });
        self.registry
            .restore_book_retention(section.commands, section.book);
        self.exchange
            .trades_mut()
            .restore(section.commands, section.trades)?;
        self.stamp(self.applied);
        Ok(())
    }

    /// BLAKE3 of the canonical state encoding: equal states, equal hashes.
    #[must_use]
    pub fn state_hash(&self) -> StateHash {
        StateHash(*blake3::hash(&self.encode_snapshot()).as_bytes())
    }
}

/// Cuts `text` to at most `max` bytes, at a character boundary.
fn cut_at_char(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ets_registry::ParticipantKind;

    fn register(request_id: u64, id: u64, name: &str) -> Envelope {
        Envelope {
            request_id: RequestId(request_id),
            requester: ParticipantId(1),
            time: Timestamp(1_000),
            command: Command::Registry(RegistryCommand::RegisterParticipant {
                id: ParticipantId(id),
                kind: ParticipantKind::Administrator,
                name: name.to_owned(),
            }),
        }
    }

    #[test]
    fn a_request_id_resent_with_the_same_command_returns_the_first_outcome() {
        let mut engine = Engine::new();
        let first = engine.apply(&register(1, 1, "MEE"));
        assert!(matches!(&first, Applied::Fresh(outcome) if outcome.is_accepted()));
        // A resend at a later time is the same command: the time is not digested.
        let mut later = register(1, 1, "MEE");
        later.time = Timestamp(2_000);
        assert_eq!(
            engine.apply(&later),
            Applied::Duplicate(first.outcome().clone())
        );
        assert_eq!(engine.applied(), 1);
    }

    #[test]
    fn a_request_id_reused_for_another_command_is_refused_and_changes_nothing() {
        let mut engine = Engine::new();
        engine.apply(&register(1, 1, "MEE"));
        let before = engine.state_hash();
        let applied = engine.apply(&register(1, 1, "Someone else"));
        let Applied::Reused(Outcome::Rejected(rejection)) = &applied else {
            panic!("expected a refusal, got {applied:?}");
        };
        assert_eq!(rejection.code, REQUEST_ID_REUSED);
        assert!(rejection.message.contains("request id 1"), "{rejection:?}");
        assert_eq!(engine.state_hash(), before);
        assert_eq!(engine.applied(), 1);
        // The same id from another requester is another request.
        let mut other = register(1, 2, "Other");
        other.requester = ParticipantId(2);
        assert!(matches!(engine.apply(&other), Applied::Fresh(_)));
    }

    #[test]
    fn a_digest_is_blake3_of_the_postcard_encoding_short_or_long() {
        let short = register(1, 1, "MEE").command;
        // Longer than the stack buffer: streamed into the hasher instead.
        let long = register(1, 1, &"n".repeat(2 * DIGEST_BUFFER_BYTES)).command;
        for command in [short, long] {
            let encoded = postcard::to_stdvec(&command).expect("encodes");
            let expected = CommandDigest::of_hash(&blake3::hash(&encoded));
            assert_eq!(CommandDigest::of(&command), expected);
            assert_eq!(CommandDigest::of_encoded(&command, &encoded), expected);
        }
    }

    #[test]
    fn digests_survive_a_snapshot() {
        let mut engine = Engine::new();
        engine.apply(&register(1, 1, "MEE"));
        let mut restored = Engine::decode_snapshot(&engine.encode_snapshot()).expect("decodes");
        assert_eq!(restored.state_hash(), engine.state_hash());
        assert!(matches!(
            restored.apply(&register(1, 1, "Someone else")),
            Applied::Reused(_)
        ));
        assert!(matches!(
            restored.apply(&register(1, 1, "MEE")),
            Applied::Duplicate(_)
        ));
    }

    #[test]
    fn a_snapshot_written_before_digests_still_loads_and_answers_with_the_first_outcome() {
        let mut engine = Engine::new();
        let first = engine.apply(&register(1, 1, "MEE"));
        // The old shape: the state without the digests after it.
        let bytes = engine.encode_snapshot();
        let (state, rest): (SnapshotState, &[u8]) =
            postcard::take_from_bytes(&bytes).expect("decodes");
        assert!(!rest.is_empty());
        let old = postcard::to_stdvec(&state).expect("encodes");
        let mut restored = Engine::decode_snapshot(&old).expect("old snapshots decode");
        assert_eq!(restored.registry(), engine.registry());
        // Unknown digest: any command under that id gets the first outcome.
        assert_eq!(
            restored.apply(&register(1, 1, "Someone else")),
            Applied::Duplicate(first.outcome().clone())
        );
        // New requests get digests again.
        restored.apply(&register(2, 3, "Hubei"));
        assert!(matches!(
            restored.apply(&register(2, 3, "Other")),
            Applied::Reused(_)
        ));
        // A digest list of the wrong length is refused.
        let mut wrong = old.clone();
        wrong.extend(postcard::to_stdvec(&Vec::<Option<CommandDigest>>::new()).expect("encodes"));
        assert!(Engine::decode_snapshot(&wrong).is_err());
    }
}
