//! Who may decide on a transaction now: the one home of the checks that
//! `approve`, `reject` and `withdraw` make about the sender before they
//! change anything. It only reads, so the web UI and the inbox ask the same
//! question the engine answers when the command arrives (the engine's
//! commands call it first, then do their own work).

use crate::registry::{Context, Registry};
use crate::{RegistryError, TransactionStatus};
use ets_model::{ParticipantId, Timestamp, TransactionId};

/// A decision on a pending or delayed transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Add one's signature (`approve`).
    Approve,
    /// Refuse it (`reject`).
    Reject,
    /// Withdraw one's proposal, or cancel a transfer during its delay (`withdraw`).
    Withdraw,
}

impl Decision {
    /// Every decision, in the order the UI offers them.
    pub const ALL: [Decision; 3] = [Decision::Approve, Decision::Reject, Decision::Withdraw];

    /// The command's name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
            Decision::Withdraw => "withdraw",
        }
    }
}

impl Registry {
    /// Whether `participant` may send `decision` on transaction `id` now, as
    /// the engine will judge it (the sender's standing only: an approval
    /// that completes a transfer is also checked against the accounts then).
    ///
    /// # Errors
    /// The refusal the command would get: [`RegistryError::NotPending`],
    /// [`RegistryError::NotRepresentative`], [`RegistryError::SelfApproval`],
    /// [`RegistryError::AlreadyApproved`], an unknown transaction or account.
    pub fn may_decide(
        &self,
        id: TransactionId,
        participant: ParticipantId,
        decision: Decision,
    ) -> Result<(), RegistryError> {
        let context = Context {
            requester: participant,
            at: Timestamp(0),
        };
        let transaction = self.transaction(id)?;
        if decision == Decision::Withdraw && transaction.status() == TransactionStatus::Delayed {
            let from = transaction.from;
            let allowed = self.account(from)?.rule.is_representative(participant)
                || self.controls.is_additional(from, participant)
                || self.is_administrator(participant);
            return if allowed {
                Ok(())
            } else {
                Err(RegistryError::NotRepresentative {
                    requester: participant,
                    account: from,
                })
            };
        }
        let transaction = self.pending(id)?;
        match decision {
            Decision::Approve => {
                let additional = !transaction.kind.is_administrative()
                    && self.controls.is_additional(transaction.from, participant);
                if !additional {
                    self.authorise(context, &transaction.kind, transaction.from)?;
                }
                if transaction.proposer == participant {
                    return Err(RegistryError::SelfApproval(participant));
                }
                if transaction.approvals.contains(&participant) {
                    return Err(RegistryError::AlreadyApproved(participant));
                }
                Ok(())
            }
            Decision::Reject => self.authorise(context, &transaction.kind, transaction.from),
            Decision::Withdraw => {
                if transaction.proposer == participant || self.is_administrator(participant) {
                    return Ok(());
                }
                let account = self
                    .approval_account(&transaction.kind, transaction.from)
                    .map_or(transaction.from, |account| account.id);
                Err(RegistryError::NotRepresentative {
                    requester: participant,
                    account,
                })
            }
        }
    }

    /// The decisions `participant` may send on transaction `id` now.
    #[must_use]
    pub fn decisions(&self, id: TransactionId, participant: ParticipantId) -> Vec<Decision> {
        Decision::ALL
            .into_iter()
            .filter(|&decision| self.may_decide(id, participant, decision).is_ok())
            .collect()
    }

    /// Who may still approve transaction `id` now: the representatives of
    /// the account whose rule governs it and its additional representatives,
    /// less the proposer and those who signed (empty when it awaits nothing).
    #[must_use]
    pub fn approvers(&self, id: TransactionId) -> Vec<ParticipantId> {
        let Ok(transaction) = self.transaction(id) else {
            return Vec::new();
        };
        let mut candidates: Vec<ParticipantId> = self
            .approval_account(&transaction.kind, transaction.from)
            .map(|account| account.rule.representatives.to_vec())
            .unwrap_or_default();
        if !transaction.kind.is_administrative() {
            candidates
                .extend_from_slice(self.controls.additional_representatives(transaction.from));
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates.retain(|&p| self.may_decide(id, p, Decision::Approve).is_ok());
        candidates
    }
}
