//! The registry's state and the rules that change it. Every command is
//! validated completely before anything is touched, so a refused command
//! changes nothing.

use crate::account::{
    Account, AccountKind, AccountStatus, ApprovalRule, Holdings, REPRESENTATIVES_MAX,
    Representatives,
};
use crate::book::{BookRetention, SurrenderChange, TransactionBook};
use crate::command::{Effect, RegistryCommand};
use crate::controls::Controls;
use crate::decision::Decision;
use crate::dense::DenseIndex;
use crate::error::RegistryError;
use crate::holding::SerialPolicy;
use crate::participant::{NAME_MAX_BYTES, Participant, ParticipantKind};
use crate::transaction::{
    Blocks, NOTE_MAX_BYTES, StatusChange, Transaction, TransactionKind, TransactionStatus,
};
use ets_model::{
    AccountId, ParticipantId, Quantity, SerialBlock, Timestamp, TransactionId, UnitClass,
};
use serde::{Deserialize, Serialize};
use smallvec::smallvec;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

mod delivery;

/// The registry: participants, accounts, unit classes, holdings and transactions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    /// In registration order; found by `participant_index`.
    /// Shared copy-on-write with clones (as the accounts): the engine's scratch
    /// copies of the registry copy only what they change.
    #[serde(with = "crate::cow_map::shared_vec")]
    participants: Vec<Arc<Participant>>,
    #[serde(skip)]
    participant_index: DenseIndex,
    /// In opening order; found by `account_index`.
    #[serde(with = "crate::cow_map::shared_vec")]
    accounts: Vec<Arc<Account>>,
    #[serde(skip)]
    account_index: DenseIndex,
    system_accounts: BTreeMap<AccountKind, AccountId>,
    holder_accounts: BTreeMap<(ParticipantId, AccountKind), AccountId>,
    classes: Vec<UnitClass>,
    class_indexes: BTreeMap<UnitClass, u32>,
    /// Serial ranges issued, per class index, in issue order.
    issued: Vec<Vec<SerialBlock>>,
    pub(crate) transactions: TransactionBook,
    reversals_pending: BTreeSet<TransactionId>,
    next_serial: u64,
    /// Units of issues awaiting approval: kept as commands change it and
    /// recounted once after a snapshot loads, so that an issue never scans
    /// the transaction history.
    #[serde(skip)]
    pending_issue_total: u128,
    /// The security controls. Not in the registry's own encoding: the engine
    /// encodes them after its other state, and only once something was configured.
    #[serde(skip)]
    pub(crate) controls: Controls,
    /// Which serials transfers take. Not in the registry's own encoding: the
    /// engine encodes it after the controls, and only once it differs from
    /// the oldest-first default, so older states encode exactly as before.
    #[serde(skip)]
    serial_policy: SerialPolicy,
}

/// Who asks and when: the context every command is executed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    /// The participant sending the command.
    pub requester: ParticipantId,
    /// The time the sequencer stamped on the command.
    pub at: Timestamp,
}

/// What one step of [`Registry::execute`] answers: `Ok` with the command's
/// result when the command is of the step's group, `Err` with the command,
/// untouched, when it is another step's.
type Step<'command> = Result<Result<Effect, RegistryError>, &'command RegistryCommand>;

/// A transaction about to be proposed, once its accounts are resolved.
struct Proposal {
    kind: TransactionKind,
    from: AccountId,
    to: AccountId,
    class_index: u32,
    quantity: Quantity,
    blocks: Blocks,
}

impl Registry {
    /// An empty registry; serial numbers start at 1.
    #[must_use]
    pub fn new() -> Registry {
        Registry {
            next_serial: 1,
            ..Registry::default()
        }
    }

    /// Executes one command.
    ///
    /// # Errors
    /// A [`RegistryError`] naming why the command was refused; the registry is then unchanged.
    pub fn execute(
        &mut self,
        context: Context,
        command: &RegistryCommand,
    ) -> Result<Effect, RegistryError> {
        // Time has passed: delays that ended before this command complete first.
        let released = self.release_due(context.at).len();
        if let RegistryCommand::ReleaseDue = command {
            return Ok(Effect::DelaysReleased(
                u32::try_from(released).unwrap_or(u32::MAX),
            ));
        }
        if !self.participant_index.contains(context.requester.0)
            && !matches!(command, RegistryCommand::RegisterParticipant { .. })
        {
            return Err(RegistryError::UnknownRequester(context.requester));
        }
        // Each step handles its own group of commands and hands any other
        // back; moves, the busiest, are asked first.
        self.execute_move(context, command)
            .or_else(|command| self.execute_decision(context, command))
            .or_else(|command| self.execute_setup(context, command))
            .or_else(|command| self.execute_controls(context, command))
            .unwrap_or_else(|command| {
                unreachable!(
                    "no step of execute handles {command:?}, and release_due was answered first"
                )
            })
    }

    /// The commands that set the registry up: participants, accounts, their
    /// status and approval rules, issuance.
    fn execute_setup<'command>(
        &mut self,
        context: Context,
        command: &'command RegistryCommand,
    ) -> Step<'command> {
        Ok(match command {
            RegistryCommand::RegisterParticipant { id, kind, name } => {
                self.register_participant(context, *id, *kind, name)
            }
            RegistryCommand::OpenAccount {
                id,
                kind,
                holder,
                representatives,
                approvals_required,
            } => self.open_account(
                context,
                *id,
                *kind,
                *holder,
                representatives,
                *approvals_required,
            ),
            RegistryCommand::SetAccountStatus { account, status } => {
                self.set_account_status(context, *account, *status)
            }
            RegistryCommand::SetApprovalRule {
                account,
                representatives,
                approvals_required,
            } => self.set_approval_rule(context, *account, representatives, *approvals_required),
            RegistryCommand::Issue { class, quantity } => self.issue(context, *class, *quantity),
            _ => return Err(command),
        })
    }

    /// The commands that move units between accounts (allocate, transfer,
    /// surrender, retire, cancel): each names or implies its two accounts
    /// and is proposed through [`Registry::propose_move`].
    fn execute_move<'command>(
        &mut self,
        context: Context,
        command: &'command RegistryCommand,
    ) -> Step<'command> {
        let parts = match command {
            RegistryCommand::Allocate {
                to,
                class,
                quantity,
            } => self
                .system_account(AccountKind::Issuance)
                .map(|from| (TransactionKind::Allocate, from, *to, class, *quantity)),
            RegistryCommand::Transfer {
                from,
                to,
                class,
                quantity,
            } => Ok((TransactionKind::Transfer, *from, *to, class, *quantity)),
            RegistryCommand::Surrender {
                from,
                class,
                quantity,
                compliance_year,
            } => self.system_account(AccountKind::Surrender).map(|to| {
                let kind = TransactionKind::Surrender {
                    compliance_year: *compliance_year,
                };
                (kind, *from, to, class, *quantity)
            }),
            RegistryCommand::Retire {
                from,
                class,
                quantity,
                beneficiary,
            } => {
                let kind = TransactionKind::Retire {
                    beneficiary: beneficiary.clone(),
                };
                self.noted_system_account("beneficiary", beneficiary, AccountKind::Retirement)
                    .map(|to| (kind, *from, to, class, *quantity))
            }
            RegistryCommand::Cancel {
                from,
                class,
                quantity,
                reason,
            } => {
                let kind = TransactionKind::Cancel {
                    reason: reason.clone(),
                };
                self.noted_system_account("reason", reason, AccountKind::Cancellation)
                    .map(|to| (kind, *from, to, class, *quantity))
            }
            _ => return Err(command),
        };
        Ok(parts.and_then(|(kind, from, to, class, quantity)| {
            self.propose_move(context, kind, from, to, class, quantity)
        }))
    }

    /// The system account of `kind` for a move that carries a note
    /// (`field`: a retirement's beneficiary, a cancellation's reason),
    /// once the note is checked.
    fn noted_system_account(
        &self,
        field: &'static str,
        note: &str,
        kind: AccountKind,
    ) -> Result<AccountId, RegistryError> {
        check_text(field, note)?;
        self.system_account(kind)
    }

    /// The commands that decide a proposed or completed transaction:
    /// reverse, approve, reject, withdraw (a delayed one is cancelled).
    fn execute_decision<'command>(
        &mut self,
        context: Context,
        command: &'command RegistryCommand,
    ) -> Step<'command> {
        Ok(match command {
            RegistryCommand::Reverse { transaction } => self.reverse(context, *transaction),
            RegistryCommand::Approve { transaction } => self.approve(context, *transaction),
            RegistryCommand::Reject { transaction } => {
                self.end_pending(context, *transaction, TransactionStatus::Rejected)
            }
            RegistryCommand::Withdraw { transaction } => self.withdraw(context, *transaction),
            _ => return Err(command),
        })
    }

    /// `withdraw`: a delayed transaction is cancelled, a pending one ends as cancelled.
    fn withdraw(
        &mut self,
        context: Context,
        transaction: TransactionId,
    ) -> Result<Effect, RegistryError> {
        if self.transaction(transaction)?.status() == TransactionStatus::Delayed {
            return self.cancel_delayed(context, transaction);
        }
        self.end_pending(context, transaction, TransactionStatus::Cancelled)
    }

    /// The security-control commands (docs/registry-controls.md).
    fn execute_controls<'command>(
        &mut self,
        context: Context,
        command: &'command RegistryCommand,
    ) -> Step<'command> {
        Ok(match command {
            RegistryCommand::SetControls { scheme, settings } => {
                self.set_controls(context, scheme, settings)
            }
            RegistryCommand::ProposeTrustedAccount {
                account,
                trusted,
                scheme,
            } => self.propose_trusted(context, *account, *trusted, scheme),
            RegistryCommand::ApproveTrustedAccount { account, trusted } => {
                self.approve_trusted(context, *account, *trusted)
            }
            RegistryCommand::RemoveTrustedAccount { account, trusted } => {
                self.remove_trusted(context, *account, *trusted)
            }
            RegistryCommand::SetAdditionalRepresentatives {
                account,
                representatives,
            } => self.set_additional_representatives(context, *account, representatives),
            RegistryCommand::SetSerialPolicy { policy } => self.set_serial_policy(context, *policy),
            _ => return Err(command),
        })
    }

    /// `set_serial_policy`: which serials transfers take (administrators only).
    fn set_serial_policy(
        &mut self,
        context: Context,
        policy: SerialPolicy,
    ) -> Result<Effect, RegistryError> {
        self.require_administrator(context.requester, "set the serial policy")?;
        self.serial_policy = policy;
        Ok(Effect::ControlsSet)
    }

    /// The security controls: settings, trusted lists, additional representatives, delays.
    #[must_use]
    pub fn controls(&self) -> &Controls {
        &self.controls
    }

    /// Which serials transfers take (docs/serials.md).
    #[must_use]
    pub fn serial_policy(&self) -> SerialPolicy {
        self.serial_policy
    }

    /// After decoding a snapshot, gives each holding its exchange-held units
    /// back out of the reserved units it decoded with (see [`Holding`]).
    ///
    /// # Errors
    /// A description of the first hold no holding can carry.
    pub fn restore_exchange_holds(
        &mut self,
        holds: &BTreeMap<(AccountId, u32), Quantity>,
    ) -> Result<(), String> {
        for (&(account, class_index), &quantity) in holds {
            let Some(account) = self.account_mut(account) else {
                return Err(format!(
                    "the exchange holds units of unknown account {account}"
                ));
            };
            account
                .holding_entry(class_index)
                .restore_exchange_held(quantity)
                .map_err(|error| format!("account {} class {class_index}: {error}", account.id))?;
        }
        Ok(())
    }

    /// Sets the serial policy after decoding a snapshot that carries it.
    pub fn restore_serial_policy(&mut self, policy: SerialPolicy) {
        self.serial_policy = policy;
    }

    /// Replaces the security controls (after decoding a snapshot that carries them).
    ///
    /// # Errors
    /// [`RegistryError::BadControls`] if a stored calendar does not parse.
    pub fn restore_controls(&mut self, mut controls: Controls) -> Result<(), RegistryError> {
        controls.rehydrate()?;
        self.controls = controls;
        Ok(())
    }

    // ----- participants and accounts -------------------------------------------------

    fn register_participant(
        &mut self,
        context: Context,
        id: ParticipantId,
        kind: ParticipantKind,
        name: &str,
    ) -> Result<Effect, RegistryError> {
        let bootstrapping = self.participants.is_empty();
        if bootstrapping {
            // The very first participant is the administrator registering itself.
            if kind != ParticipantKind::Administrator || id != context.requester {
                return Err(RegistryError::NotAdministrator {
                    action: "register participants (the first must be the administrator registering itself)",
                    requester: context.requester,
                });
            }
        } else {
            self.require_administrator(context.requester, "register participants")?;
        }
        if self.participant_index.contains(id.0) {
            return Err(RegistryError::ParticipantExists(id));
        }
        if name.is_empty() || name.len() > NAME_MAX_BYTES {
            return Err(RegistryError::BadText {
                field: "name",
                length: name.len(),
                max_bytes: NAME_MAX_BYTES,
            });
        }
        self.participant_index
            .insert(id.0, self.participants.len() as u32);
        self.participants.push(Arc::new(Participant {
            id,
            kind,
            name: name.to_owned(),
        }));
        Ok(Effect::ParticipantRegistered(id))
    }

    fn open_account(
        &mut self,
        context: Context,
        id: AccountId,
        kind: AccountKind,
        holder: ParticipantId,
        representatives: &[ParticipantId],
        approvals_required: u8,
    ) -> Result<Effect, RegistryError> {
        self.require_administrator(context.requester, "open accounts")?;
        if self.account_index.contains(id.0) {
            return Err(RegistryError::AccountExists(id));
        }
        let holder_kind = self.participant(holder)?.kind;
        self.check_holder_fits(kind, holder, holder_kind)?;
        let rule = self.approval_rule(representatives, approvals_required)?;
        if kind.is_system() {
            self.system_accounts.insert(kind, id);
        } else {
            self.holder_accounts.insert((holder, kind), id);
        }
        self.account_index.insert(id.0, self.accounts.len() as u32);
        self.accounts.push(Arc::new(Account {
            id,
            kind,
            holder,
            status: AccountStatus::Open,
            rule,
            opened_at: context.at,
            holdings: Holdings::new(),
        }));
        Ok(Effect::AccountOpened(id))
    }

    fn check_holder_fits(
        &self,
        kind: AccountKind,
        holder: ParticipantId,
        holder_kind: ParticipantKind,
    ) -> Result<(), RegistryError> {
        let fits = match kind {
            _ if kind.is_system() => holder_kind == ParticipantKind::Administrator,
            AccountKind::OperatorHolding => holder_kind == ParticipantKind::CoveredEntity,
            _ => !matches!(
                holder_kind,
                ParticipantKind::Administrator | ParticipantKind::Verifier
            ),
        };
        if !fits {
            return Err(RegistryError::HolderKindMismatch {
                kind,
                holder_kind: holder_kind.name(),
            });
        }
        if kind.is_system() {
            if let Some(&existing) = self.system_accounts.get(&kind) {
                return Err(RegistryError::SystemAccountExists { kind, existing });
            }
        } else if let Some(&existing) = self.holder_accounts.get(&(holder, kind)) {
            return Err(RegistryError::HolderHasAccount {
                holder,
                kind,
                existing,
            });
        }
        Ok(())
    }

    fn approval_rule(
        &self,
        representatives: &[ParticipantId],
        approvals_required: u8,
    ) -> Result<ApprovalRule, RegistryError> {
        if representatives.is_empty() || representatives.len() > REPRESENTATIVES_MAX {
            return Err(RegistryError::InvalidApprovalRule(format!(
                "an account needs 1 to {REPRESENTATIVES_MAX} representatives, got {}",
                representatives.len()
            )));
        }
        for &representative in representatives {
            self.participant(representative)?;
        }
        let mut sorted = Representatives::from_slice(representatives);
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != representatives.len() {
            return Err(RegistryError::InvalidApprovalRule(
                "a representative is listed twice".to_owned(),
            ));
        }
        if approvals_required == 0 || usize::from(approvals_required) > sorted.len() {
            return Err(RegistryError::InvalidApprovalRule(format!(
                "approvals required must be 1 to {} (the number of representatives), got {approvals_required}",
                sorted.len()
            )));
        }
        Ok(ApprovalRule {
            representatives: sorted,
            approvals_required,
        })
    }

    fn set_account_status(
        &mut self,
        context: Context,
        account_id: AccountId,
        status: AccountStatus,
    ) -> Result<Effect, RegistryError> {
        self.require_administrator(context.requester, "change account status")?;
        let account = self.account(account_id)?;
        let refuse = |reason| RegistryError::StatusChangeNotAllowed {
            account: account_id,
            from: account.status,
            to: status,
            reason,
        };
        if account.status == AccountStatus::Closed {
            return Err(refuse("a closed account is never reopened"));
        }
        if status == AccountStatus::Closed && !account.is_empty() {
            return Err(refuse("only an empty account can be closed"));
        }
        if status == AccountStatus::Closed && self.has_pending_involving(account_id) {
            return Err(refuse("transactions involving it still await approval"));
        }
        if let Some(account) = self.account_mut(account_id) {
            account.status = status;
        }
        Ok(Effect::AccountUpdated(account_id))
    }

    fn set_approval_rule(
        &mut self,
        context: Context,
        account_id: AccountId,
        representatives: &[ParticipantId],
        approvals_required: u8,
    ) -> Result<Effect, RegistryError> {
        self.require_administrator(context.requester, "change approval rules")?;
        self.account(account_id)?;
        let rule = self.approval_rule(representatives, approvals_required)?;
        if let Some(account) = self.account_mut(account_id) {
            account.rule = rule;
        }
        Ok(Effect::AccountUpdated(account_id))
    }

    // ----- transactions ----------------------------------------------------------------

    fn issue(
        &mut self,
        context: Context,
        class: UnitClass,
        quantity: Quantity,
    ) -> Result<Effect, RegistryError> {
        let issuance = self.system_account(AccountKind::Issuance)?;
        self.authorise(context, &TransactionKind::Issue, issuance)?;
        if quantity.is_zero() {
            return Err(RegistryError::ZeroQuantity);
        }
        if quantity > Quantity::MAX_PER_COMMAND {
            return Err(RegistryError::QuantityTooLarge {
                requested: quantity,
                limit: Quantity::MAX_PER_COMMAND,
            });
        }
        self.account_may(issuance, AccountStatus::may_receive, "receive units")?;
        // The serial range is fixed at completion; check now that one can exist.
        let last =
            self.pending_issue_total + u128::from(quantity.tonnes()) + u128::from(self.next_serial);
        if last > u128::from(u64::MAX) {
            return Err(RegistryError::SerialsExhausted);
        }
        let class_index = self.intern(class);
        let proposal = Proposal {
            kind: TransactionKind::Issue,
            from: issuance,
            to: issuance,
            class_index,
            quantity,
            blocks: Blocks::new(),
        };
        self.propose(context, proposal)
    }

    fn propose_move(
        &mut self,
        context: Context,
        kind: TransactionKind,
        from: AccountId,
        to: AccountId,
        class: &UnitClass,
        quantity: Quantity,
    ) -> Result<Effect, RegistryError> {
        let source = self.account(from)?;
        let destination = self.account(to)?;
        if !kind.is_administrative() && self.controls.is_additional(from, context.requester) {
            return Err(RegistryError::AdditionalRepresentativeCannotPropose {
                requester: context.requester,
                account: from,
            });
        }
        self.authorise(context, &kind, from)?;
        if quantity.is_zero() {
            return Err(RegistryError::ZeroQuantity);
        }
        if kind == TransactionKind::Transfer {
            self.check_transfer_limit(class, quantity)?;
        }
        if from == to {
            return Err(RegistryError::SameAccount(from));
        }
        check_kinds(&kind, source, destination)?;
        check_statuses(&kind, source, destination)?;
        let class_index = self.class_index(class)?;
        let available = source.available(class_index);
        if available < quantity {
            return Err(RegistryError::InsufficientUnits {
                account: from,
                class: class.to_string(),
                available,
                requested: quantity,
            });
        }
        let proposal = Proposal {
            kind,
            from,
            to,
            class_index,
            quantity,
            blocks: Blocks::new(),
        };
        self.propose(context, proposal)
    }

    fn reverse(&mut self, context: Context, id: TransactionId) -> Result<Effect, RegistryError> {
        let kind = TransactionKind::Reversal { of: id };
        self.authorise(context, &kind, self.system_account(AccountKind::Issuance)?)?;
        let refuse = |reason| RegistryError::NotReversible { id, reason };
        if self.transactions.get(id).is_none() && id < self.transactions.next_id() {
            return Err(refuse(
                "it finished more than the retention window ago and left the engine (docs/memory.md)",
            ));
        }
        let original = self.transaction(id)?;
        if !matches!(
            original.kind,
            TransactionKind::Allocate | TransactionKind::Surrender { .. }
        ) {
            return Err(refuse("only allocations and surrenders can be reversed"));
        }
        if original.status() != TransactionStatus::Completed {
            return Err(refuse("it is not completed"));
        }
        if self.reversals_pending.contains(&id) {
            return Err(refuse("a reversal of it already awaits approval"));
        }
        let proposal = Proposal {
            kind,
            from: original.to,
            to: original.from,
            class_index: original.class_index,
            quantity: original.quantity,
            blocks: original.blocks.clone(),
        };
        let source = self.account(proposal.from)?;
        let destination = self.account(proposal.to)?;
        check_statuses(&proposal.kind, source, destination)?;
        self.check_exact_blocks_held(&proposal)?;
        self.reversals_pending.insert(id);
        self.propose(context, proposal)
    }

    fn check_exact_blocks_held(&self, proposal: &Proposal) -> Result<(), RegistryError> {
        let source = self.account(proposal.from)?;
        let holding = source.holding(proposal.class_index);
        let all_held = proposal
            .blocks
            .iter()
            .all(|&block| holding.is_some_and(|holding| holding.holds(block)));
        if !all_held || source.available(proposal.class_index) < proposal.quantity {
            let id = match proposal.kind {
                TransactionKind::Reversal { of } => of,
                _ => TransactionId(0),
            };
            return Err(RegistryError::NotReversible {
                id,
                reason: "the units it moved are no longer all held, unreserved, by the receiving account",
            });
        }
        Ok(())
    }

    /// Records a validated proposal: completes it at once when one signature
    /// suffices, else reserves its units and waits for approvals.
    fn propose(&mut self, context: Context, proposal: Proposal) -> Result<Effect, RegistryError> {
        let id = self.transactions.next_id();
        let required = self.signatures_required(&proposal.kind, proposal.from);
        let mut transaction = Transaction {
            id,
            kind: proposal.kind,
            from: proposal.from,
            to: proposal.to,
            class_index: proposal.class_index,
            quantity: proposal.quantity,
            blocks: proposal.blocks,
            proposer: context.requester,
            approvals: Vec::new(),
            history: smallvec![StatusChange {
                status: TransactionStatus::Proposed,
                at: context.at,
                by: context.requester,
            }],
        };
        let delay = if required <= 1 {
            self.timing(&transaction, context.at)?
        } else {
            None
        };
        if required <= 1 && delay.is_none_or(|delay| delay.ends_at <= context.at) {
            self.settle(&mut transaction, context);
        } else {
            if transaction.kind == TransactionKind::Issue {
                self.pending_issue_total += u128::from(transaction.quantity.tonnes());
            } else {
                let reserved = self
                    .account_mut(transaction.from)
                    .map(|account| account.holding_entry(transaction.class_index))
                    .is_some_and(|holding| holding.reserve(transaction.quantity));
                assert!(reserved, "availability was checked before proposing");
            }
            match delay {
                Some(delay) => self.start_delay(&mut transaction, delay, context),
                None => transaction.history.push(StatusChange {
                    status: TransactionStatus::AwaitingApproval,
                    at: context.at,
                    by: context.requester,
                }),
            }
        }
        let status = transaction.status();
        self.transactions.push(transaction);
        Ok(Effect::Transaction { id, status })
    }

    /// How many distinct signatures a transaction needs, the proposer's
    /// included: the approval account's rule, and at least two when the
    /// account has additional representatives (one of whom must sign).
    fn signatures_required(&self, kind: &TransactionKind, from: AccountId) -> usize {
        let Some(account) = self.approval_account(kind, from) else {
            return 1;
        };
        let rule = usize::from(account.rule.approvals_required);
        if self
            .controls
            .additional_representatives(account.id)
            .is_empty()
        {
            rule
        } else {
            rule.max(2)
        }
    }

    /// Moves the units of a validated transaction and marks it completed.
    pub(crate) fn settle(&mut self, transaction: &mut Transaction, context: Context) {
        match transaction.kind {
            TransactionKind::Issue => self.settle_issue(transaction),
            TransactionKind::Reversal { of } => self.settle_reversal(transaction, of, context),
            _ => self.settle_move(transaction),
        }
        transaction.history.push(StatusChange {
            status: TransactionStatus::Completed,
            at: context.at,
            by: context.requester,
        });
    }

    fn settle_issue(&mut self, transaction: &mut Transaction) {
        // issue() checked that the range fits below u64::MAX.
        let block = SerialBlock::starting_at(self.next_serial, transaction.quantity);
        assert!(
            block.is_ok(),
            "registry invariant broken: the serial range was checked at proposal"
        );
        let Ok(block) = block else {
            return;
        };
        self.next_serial = block.end() + 1;
        if let Some(account) = self.account_mut(transaction.to) {
            account.holding_entry(transaction.class_index).insert(block);
        }
        if let Some(ranges) = self.issued.get_mut(transaction.class_index as usize) {
            ranges.push(block);
        }
        transaction.blocks = smallvec![block];
    }

    fn settle_move(&mut self, transaction: &mut Transaction) {
        let mut taken = Blocks::new();
        let policy = self.serial_policy;
        let took = self
            .account_mut(transaction.from)
            .and_then(|account| account.holding_mut(transaction.class_index))
            .is_some_and(|holding| holding.take(policy, transaction.quantity, &mut taken));
        assert!(
            took,
            "registry invariant broken: availability was checked before settling"
        );
        if let Some(account) = self.account_mut(transaction.to) {
            account
                .holding_entry(transaction.class_index)
                .insert_sorted(&taken);
        }
        transaction.blocks = taken;
    }

    fn settle_reversal(&mut self, transaction: &Transaction, of: TransactionId, context: Context) {
        if let Some(holding) = self
            .account_mut(transaction.from)
            .and_then(|account| account.holding_mut(transaction.class_index))
        {
            for &block in &transaction.blocks {
                let removed = holding.remove_exact(block);
                debug_assert!(removed, "blocks were checked before settling");
            }
        }
        if let Some(account) = self.account_mut(transaction.to) {
            let holding = account.holding_entry(transaction.class_index);
            for &block in &transaction.blocks {
                holding.insert(block);
            }
        }
        self.reversals_pending.remove(&of);
        if let Some(original) = self.transactions.get(of) {
            let mut original = original.clone();
            original.history.push(StatusChange {
                status: TransactionStatus::Reversed,
                at: context.at,
                by: context.requester,
            });
            self.transactions.replace(original);
        }
    }

    fn approve(&mut self, context: Context, id: TransactionId) -> Result<Effect, RegistryError> {
        self.may_decide(id, context.requester, Decision::Approve)?;
        let transaction = self.pending(id)?;
        let additional = !transaction.kind.is_administrative()
            && self
                .controls
                .is_additional(transaction.from, context.requester);
        let required = self.signatures_required(&transaction.kind, transaction.from);
        // The proposer's signature counts as the first; where the account has
        // additional representatives, one of them must be among the signatures.
        let has_additional = self
            .controls
            .additional_representatives(transaction.from)
            .is_empty()
            || transaction.kind.is_administrative()
            || additional
            || transaction
                .approvals
                .iter()
                .any(|&p| self.controls.is_additional(transaction.from, p));
        let completes = transaction.approvals.len() + 2 >= required && has_additional;
        let delay = if completes {
            self.check_still_settleable(transaction)?;
            self.timing(transaction, context.at)?
        } else {
            None
        };
        let mut transaction = self.transaction(id)?.clone();
        transaction.approvals.push(context.requester);
        match delay {
            Some(delay) if delay.ends_at > context.at => {
                self.start_delay(&mut transaction, delay, context);
            }
            _ if completes => {
                self.release_reservation(&transaction);
                self.settle(&mut transaction, context);
            }
            _ => {}
        }
        let status = transaction.status();
        self.transactions.replace(transaction);
        Ok(Effect::Transaction { id, status })
    }

    /// Re-checks, at the last approval, what may have changed since the proposal.
    pub(crate) fn check_still_settleable(
        &self,
        transaction: &Transaction,
    ) -> Result<(), RegistryError> {
        if transaction.kind == TransactionKind::Issue {
            let issuance = self.account(transaction.to)?;
            if !issuance.status.may_receive() {
                return Err(RegistryError::AccountStatusForbids {
                    account: issuance.id,
                    status: issuance.status,
                    action: "receive units",
                });
            }
            return Ok(());
        }
        let source = self.account(transaction.from)?;
        let destination = self.account(transaction.to)?;
        check_statuses(&transaction.kind, source, destination)?;
        if let TransactionKind::Reversal { of } = transaction.kind {
            // The reservation covers the quantity; the exact blocks must still be there.
            let holding = source.holding(transaction.class_index);
            let all_held = transaction
                .blocks
                .iter()
                .all(|&block| holding.is_some_and(|holding| holding.holds(block)));
            if !all_held {
                return Err(RegistryError::NotReversible {
                    id: of,
                    reason: "the units it moved are no longer all held by the receiving account",
                });
            }
        }
        Ok(())
    }

    fn end_pending(
        &mut self,
        context: Context,
        id: TransactionId,
        status: TransactionStatus,
    ) -> Result<Effect, RegistryError> {
        // Any signatory of the approving account may refuse it; its proposer
        // may withdraw it; the administrator may cancel any.
        let decision = if status == TransactionStatus::Rejected {
            Decision::Reject
        } else {
            Decision::Withdraw
        };
        self.may_decide(id, context.requester, decision)?;
        let mut transaction = self.transaction(id)?.clone();
        self.release_reservation(&transaction);
        if let TransactionKind::Reversal { of } = transaction.kind {
            self.reversals_pending.remove(&of);
        }
        transaction.history.push(StatusChange {
            status,
            at: context.at,
            by: context.requester,
        });
        self.transactions.replace(transaction);
        Ok(Effect::Transaction { id, status })
    }

    pub(crate) fn release_reservation(&mut self, transaction: &Transaction) {
        if transaction.kind == TransactionKind::Issue {
            let quantity = u128::from(transaction.quantity.tonnes());
            assert!(
                self.pending_issue_total >= quantity,
                "registry invariant broken: a pending issue of {} is not counted",
                transaction.quantity
            );
            self.pending_issue_total -= quantity;
            return;
        }
        if let Some(holding) = self
            .account_mut(transaction.from)
            .and_then(|account| account.holding_mut(transaction.class_index))
        {
            holding.release(transaction.quantity);
        }
    }

    // ----- authority -------------------------------------------------------------------

    /// The account whose representatives and rule govern a transaction: the
    /// issuance account (the administrators) for administrative kinds, else the source.
    pub(crate) fn approval_account(
        &self,
        kind: &TransactionKind,
        from: AccountId,
    ) -> Option<&Account> {
        let id = if kind.is_administrative() {
            *self.system_accounts.get(&AccountKind::Issuance)?
        } else {
            from
        };
        self.account(id).ok()
    }

    /// Checks that the requester may sign a transaction of `kind` from `from`.
    pub(crate) fn authorise(
        &self,
        context: Context,
        kind: &TransactionKind,
        from: AccountId,
    ) -> Result<(), RegistryError> {
        if kind.is_administrative() {
            self.require_administrator(context.requester, kind.name())?;
        }
        // Not `ok_or`: the error is built only when it is returned (built
        // and dropped on every transfer, it cost a call to its destructor).
        let Some(account) = self.approval_account(kind, from) else {
            return Err(RegistryError::UnknownAccount(from));
        };
        if !account.rule.is_representative(context.requester) {
            return Err(RegistryError::NotRepresentative {
                requester: context.requester,
                account: account.id,
            });
        }
        Ok(())
    }

    /// Checks that `requester` is a registered administrator.
    ///
    /// # Errors
    /// [`RegistryError::NotAdministrator`] naming `action`.
    pub fn require_administrator_of(
        &self,
        requester: ParticipantId,
        action: &'static str,
    ) -> Result<(), RegistryError> {
        self.require_administrator(requester, action)
    }

    pub(crate) fn require_administrator(
        &self,
        requester: ParticipantId,
        action: &'static str,
    ) -> Result<(), RegistryError> {
        if self.is_administrator(requester) {
            Ok(())
        } else {
            Err(RegistryError::NotAdministrator { action, requester })
        }
    }

    pub(crate) fn is_administrator(&self, participant: ParticipantId) -> bool {
        self.participant(participant)
            .is_ok_and(|p| p.kind == ParticipantKind::Administrator)
    }

    fn account_may(
        &self,
        id: AccountId,
        allowed: fn(AccountStatus) -> bool,
        action: &'static str,
    ) -> Result<(), RegistryError> {
        let account = self.account(id)?;
        if allowed(account.status) {
            Ok(())
        } else {
            Err(RegistryError::AccountStatusForbids {
                account: id,
                status: account.status,
                action,
            })
        }
    }

    /// Whether a transaction awaiting approval or delayed involves `account`
    /// (a counter per account, not a scan of the history).
    pub(crate) fn has_pending_involving(&self, account: AccountId) -> bool {
        self.transactions.has_pending_involving(account)
    }

    fn intern(&mut self, class: UnitClass) -> u32 {
        if let Some(&index) = self.class_indexes.get(&class) {
            return index;
        }
        let index = self.classes.len() as u32;
        self.classes.push(class);
        self.issued.push(Vec::new());
        self.class_indexes.insert(class, index);
        index
    }

    // ----- queries -----------------------------------------------------------------------

    /// A participant.
    ///
    /// # Errors
    /// [`RegistryError::UnknownParticipant`].
    pub fn participant(&self, id: ParticipantId) -> Result<&Participant, RegistryError> {
        match self
            .participant_index
            .get(id.0)
            .and_then(|index| self.participants.get(index as usize))
            .map(AsRef::as_ref)
        {
            Some(participant) => Ok(participant),
            None => Err(RegistryError::UnknownParticipant(id)),
        }
    }

    /// An account.
    ///
    /// # Errors
    /// [`RegistryError::UnknownAccount`].
    pub fn account(&self, id: AccountId) -> Result<&Account, RegistryError> {
        match self
            .account_index
            .get(id.0)
            .and_then(|index| self.accounts.get(index as usize))
            .map(AsRef::as_ref)
        {
            Some(account) => Ok(account),
            None => Err(RegistryError::UnknownAccount(id)),
        }
    }

    pub(crate) fn account_mut(&mut self, id: AccountId) -> Option<&mut Account> {
        let index = self.account_index.get(id.0)?;
        self.accounts.get_mut(index as usize).map(Arc::make_mut)
    }

    /// Rebuilds the lookup indexes and the pending-issue count, which are not
    /// part of the encoded state; call it after decoding a snapshot.
    pub fn rebuild_indexes(&mut self) {
        self.participant_index = self
            .participants
            .iter()
            .enumerate()
            .map(|(index, participant)| (participant.id.0, index as u32))
            .collect();
        self.account_index = self
            .accounts
            .iter()
            .enumerate()
            .map(|(index, account)| (account.id.0, index as u32))
            .collect();
        self.transactions.rebuild();
        self.pending_issue_total = self
            .transactions
            .iter()
            .filter(|t| t.kind == TransactionKind::Issue && t.is_pending())
            .map(|t| u128::from(t.quantity.tonnes()))
            .sum();
    }

    /// A transaction.
    ///
    /// # Errors
    /// [`RegistryError::UnknownTransaction`].
    pub fn transaction(&self, id: TransactionId) -> Result<&Transaction, RegistryError> {
        self.transactions
            .get(id)
            .ok_or(RegistryError::UnknownTransaction(id))
    }

    pub(crate) fn pending(&self, id: TransactionId) -> Result<&Transaction, RegistryError> {
        let transaction = self.transaction(id)?;
        if transaction.awaits_approval() {
            Ok(transaction)
        } else {
            Err(RegistryError::NotPending {
                id,
                status: transaction.status().name(),
            })
        }
    }

    /// The account of a system kind.
    ///
    /// # Errors
    /// [`RegistryError::MissingSystemAccount`] when none was opened.
    pub fn system_account(&self, kind: AccountKind) -> Result<AccountId, RegistryError> {
        self.system_accounts
            .get(&kind)
            .copied()
            .ok_or(RegistryError::MissingSystemAccount(kind))
    }

    /// The interned index of a unit class.
    ///
    /// # Errors
    /// [`RegistryError::UnknownUnitClass`] when no unit of it was ever issued.
    pub fn class_index(&self, class: &UnitClass) -> Result<u32, RegistryError> {
        self.class_indexes
            .get(class)
            .copied()
            .ok_or_else(|| RegistryError::UnknownUnitClass(class.to_string()))
    }

    /// The unit class of an interned index.
    #[must_use]
    pub fn class(&self, index: u32) -> Option<&UnitClass> {
        self.classes.get(index as usize)
    }

    /// All participants, by id.
    pub fn participants(&self) -> impl Iterator<Item = &Participant> {
        self.participants.iter().map(AsRef::as_ref)
    }

    /// All accounts, by id.
    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.iter().map(AsRef::as_ref)
    }

    /// Every transaction the engine retains, by id: all of them, or, under
    /// bounded retention (docs/memory.md), the pending ones, completed
    /// allocations and surrenders, and those finished within the window.
    /// The history database holds every one.
    pub fn transactions(&self) -> impl DoubleEndedIterator<Item = &Transaction> {
        self.transactions.iter()
    }

    /// Retained transactions from `first` on, by id.
    pub fn transactions_from(
        &self,
        first: TransactionId,
    ) -> impl DoubleEndedIterator<Item = &Transaction> {
        self.transactions.starting_at(first)
    }

    /// How many transactions the engine retains.
    #[must_use]
    pub fn retained_transactions(&self) -> usize {
        self.transactions.len()
    }

    /// The id the next transaction will get (ids run from 1 without gaps;
    /// every id below it was given, retained or not).
    #[must_use]
    pub fn next_transaction_id(&self) -> TransactionId {
        self.transactions.next_id()
    }

    /// Completed surrenders still retained, by id: every one while retention
    /// is unbounded; under bounded retention they leave a window after they
    /// completed, as other finished transactions do (a reversal is possible
    /// while they are retained).
    pub fn completed_surrenders(&self) -> impl Iterator<Item = &Transaction> {
        self.transactions.completed_surrenders()
    }

    /// The surrenders that completed or were reversed since the last call, in
    /// order: the engine feeds them to its compliance tally after each command.
    pub fn take_surrender_changes(&mut self) -> Vec<SurrenderChange> {
        self.transactions.take_surrender_changes()
    }

    /// Bounds what the registry retains to `window` commands (docs/memory.md).
    /// Call [`Registry::begin_command`] before each command after it.
    pub fn bound_retention(&mut self, window: u64) {
        self.transactions.bound(window);
    }

    /// Tells the registry the number of the command about to be applied
    /// (the engine's count of applied commands), which dates finished transactions.
    pub fn begin_command(&mut self, number: u64) {
        self.transactions.set_stamp(number);
    }

    /// Drops transactions finished a whole window before the current
    /// command; returns how many (none while retention is unbounded).
    pub fn prune_finished(&mut self) -> usize {
        self.transactions.prune(&self.reversals_pending)
    }

    /// The retention bookkeeping the engine encodes for a bounded registry.
    #[must_use]
    pub fn book_retention(&self) -> BookRetention {
        self.transactions.retention()
    }

    /// Restores the bookkeeping of a decoded bounded registry.
    pub fn restore_book_retention(&mut self, window: u64, retention: BookRetention) {
        self.transactions.restore(window, retention);
    }

    /// Every unit class with its interned index, in index order.
    pub fn classes(&self) -> impl Iterator<Item = (u32, &UnitClass)> {
        self.classes
            .iter()
            .enumerate()
            .map(|(index, class)| (index as u32, class))
    }

    /// The serial ranges issued for a class, in issue order.
    #[must_use]
    pub fn issued_ranges(&self, class_index: u32) -> &[SerialBlock] {
        self.issued
            .get(class_index as usize)
            .map_or(&[], Vec::as_slice)
    }

    /// Units of a class issued so far.
    #[must_use]
    pub fn issued_quantity(&self, class_index: u32) -> Quantity {
        Quantity::new(
            self.issued_ranges(class_index)
                .iter()
                .map(|block| block.quantity().tonnes())
                .sum(),
        )
    }

    /// The serial number the next issuance will start at.
    #[must_use]
    pub fn next_serial(&self) -> u64 {
        self.next_serial
    }

    /// Every completed (or later reversed) transaction that moved `serial`,
    /// in order: its issue first, then each movement.
    #[must_use]
    pub fn serial_history(&self, serial: u64) -> Vec<&Transaction> {
        self.transactions
            .iter()
            .filter(|t| t.blocks.iter().any(|block| block.contains(serial)))
            .filter(|t| {
                matches!(
                    t.status(),
                    TransactionStatus::Completed | TransactionStatus::Reversed
                )
            })
            .collect()
    }

    /// Which account holds `serial` now, and its class index.
    #[must_use]
    pub fn serial_holder(&self, serial: u64) -> Option<(AccountId, u32)> {
        self.accounts.iter().find_map(|account| {
            account.holdings().find_map(|(class_index, holding)| {
                let block = SerialBlock::try_new(serial, serial).ok()?;
                holding.holds(block).then_some((account.id, class_index))
            })
        })
    }
}

fn check_text(field: &'static str, text: &str) -> Result<(), RegistryError> {
    if text.is_empty() || text.len() > NOTE_MAX_BYTES {
        return Err(RegistryError::BadText {
            field,
            length: text.len(),
            max_bytes: NOTE_MAX_BYTES,
        });
    }
    Ok(())
}

/// Which account kinds may send and receive each kind of transaction.
fn check_kinds(
    kind: &TransactionKind,
    source: &Account,
    destination: &Account,
) -> Result<(), RegistryError> {
    let wrong = |account: &Account, action| RegistryError::WrongAccountKind {
        account: account.id,
        kind: account.kind,
        action,
    };
    if source.kind.is_terminal() {
        return Err(wrong(source, "send units"));
    }
    match kind {
        TransactionKind::Allocate if destination.kind != AccountKind::OperatorHolding => {
            Err(wrong(destination, "receive an allocation"))
        }
        TransactionKind::Surrender { .. } if source.kind != AccountKind::OperatorHolding => {
            Err(wrong(source, "surrender units"))
        }
        TransactionKind::Retire { .. }
            if !matches!(
                source.kind,
                AccountKind::OperatorHolding | AccountKind::Trading
            ) =>
        {
            Err(wrong(source, "retire units"))
        }
        TransactionKind::Transfer
            if destination.kind.is_terminal() || destination.kind == AccountKind::Issuance =>
        {
            Err(wrong(destination, "receive a transfer"))
        }
        _ => Ok(()),
    }
}

/// Whether both accounts' statuses allow the transaction.
fn check_statuses(
    kind: &TransactionKind,
    source: &Account,
    destination: &Account,
) -> Result<(), RegistryError> {
    let (allowed, action) = match kind {
        TransactionKind::Surrender { .. } => (source.status.may_surrender(), "surrender units"),
        // The administrator may cancel or take back units from a blocked account.
        TransactionKind::Cancel { .. } | TransactionKind::Reversal { .. } => {
            (source.status.may_receive(), "give up units")
        }
        _ => (source.status.may_send(), "send units"),
    };
    if !allowed {
        return Err(RegistryError::AccountStatusForbids {
            account: source.id,
            status: source.status,
            action,
        });
    }
    if !destination.status.may_receive() {
        return Err(RegistryError::AccountStatusForbids {
            account: destination.id,
            status: destination.status,
            action: "receive units",
        });
    }
    Ok(())
}
