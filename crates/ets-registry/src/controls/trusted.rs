//! Trusted account lists: an account's representatives propose a trusted
//! account, a second representative approves, and the entry becomes active
//! after the scheme's activation delay in business days. Removal also needs
//! a second representative; until then the entry stays trusted.

use super::window::after_business_days;
use crate::registry::{Context, Registry};
use crate::{Effect, RegistryError};
use ets_model::{AccountId, Code, ParticipantId, Timestamp};
use serde::{Deserialize, Serialize};

/// Where a trusted-list entry stands (the UK registry's statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TrustedStatus {
    /// Proposed; a second representative must approve.
    PendingApproval,
    /// Approved; the activation delay is running.
    PendingActivation,
    /// Trusted: transfers to it are not delayed.
    Active,
    /// Removal requested; a second representative must approve. Still trusted until then.
    PendingRemoval,
}

impl TrustedStatus {
    /// The snake_case name used in replies and reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            TrustedStatus::PendingApproval => "pending_approval",
            TrustedStatus::PendingActivation => "pending_activation",
            TrustedStatus::Active => "active",
            TrustedStatus::PendingRemoval => "pending_removal",
        }
    }
}

/// One account on another account's trusted list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedEntry {
    /// The scheme whose settings counted the activation delay.
    pub scheme: Code,
    /// Who proposed it.
    pub proposed_by: ParticipantId,
    /// When.
    pub proposed_at: Timestamp,
    /// When it becomes (or became) active; `None` until approved.
    pub active_from: Option<Timestamp>,
    /// Who asked for its removal, while that waits for approval.
    pub removal_requested_by: Option<ParticipantId>,
}

impl TrustedEntry {
    /// Its status at `at`.
    #[must_use]
    pub fn status(&self, at: Timestamp) -> TrustedStatus {
        if self.removal_requested_by.is_some() {
            return TrustedStatus::PendingRemoval;
        }
        match self.active_from {
            None => TrustedStatus::PendingApproval,
            Some(from) if at < from => TrustedStatus::PendingActivation,
            Some(_) => TrustedStatus::Active,
        }
    }

    /// Whether transfers to it skip the delay at `at`.
    #[must_use]
    pub fn counts_as_trusted(&self, at: Timestamp) -> bool {
        self.active_from.is_some_and(|from| at >= from)
    }
}

impl Registry {
    /// Whether a change to `account`'s trusted list takes effect on one signature:
    /// its rule needs one and it has no additional representatives.
    fn single_signature(&self, account: AccountId) -> Result<bool, RegistryError> {
        let rule = &self.account(account)?.rule;
        Ok(rule.approvals_required <= 1
            && self.controls.additional_representatives(account).is_empty())
    }

    fn require_proposer(&self, context: Context, account: AccountId) -> Result<(), RegistryError> {
        if self.controls.is_additional(account, context.requester) {
            return Err(RegistryError::AdditionalRepresentativeCannotPropose {
                requester: context.requester,
                account,
            });
        }
        if !self
            .account(account)?
            .rule
            .is_representative(context.requester)
        {
            return Err(RegistryError::NotRepresentative {
                requester: context.requester,
                account,
            });
        }
        Ok(())
    }

    fn activation(&self, scheme: &Code, at: Timestamp) -> Result<Timestamp, RegistryError> {
        let controls = self
            .controls
            .schemes
            .get(scheme)
            .ok_or_else(|| RegistryError::ControlsNotConfigured(scheme.to_string()))?;
        let calendar = controls
            .calendar
            .as_ref()
            .ok_or_else(|| RegistryError::ControlsNotConfigured(scheme.to_string()))?;
        let days = controls.settings.trusted_activation_business_days;
        after_business_days(&controls.settings, calendar, at, days)
    }

    pub(crate) fn propose_trusted(
        &mut self,
        context: Context,
        account: AccountId,
        trusted: AccountId,
        scheme: &Code,
    ) -> Result<Effect, RegistryError> {
        self.require_proposer(context, account)?;
        let target = self.account(trusted)?;
        if account == trusted {
            return Err(RegistryError::SameAccount(account));
        }
        if !target.status.may_receive() {
            return Err(RegistryError::AccountStatusForbids {
                account: trusted,
                status: target.status,
                action: "be added to a trusted list",
            });
        }
        if self.controls.trusted.contains_key(&(account, trusted)) {
            return Err(RegistryError::TrustedEntryExists { account, trusted });
        }
        let activation = self.activation(scheme, context.at)?;
        let single = self.single_signature(account)?;
        let entry = TrustedEntry {
            scheme: *scheme,
            proposed_by: context.requester,
            proposed_at: context.at,
            active_from: single.then_some(activation),
            removal_requested_by: None,
        };
        self.controls.trusted.insert((account, trusted), entry);
        Ok(Effect::AccountUpdated(account))
    }

    pub(crate) fn approve_trusted(
        &mut self,
        context: Context,
        account: AccountId,
        trusted: AccountId,
    ) -> Result<Effect, RegistryError> {
        let entry = self.trusted_entry(account, trusted)?.clone();
        let may_approve = self
            .account(account)?
            .rule
            .is_representative(context.requester)
            || self.controls.is_additional(account, context.requester);
        if !may_approve {
            return Err(RegistryError::NotRepresentative {
                requester: context.requester,
                account,
            });
        }
        let status = entry.status(context.at);
        let asked_by = match status {
            TrustedStatus::PendingApproval => entry.proposed_by,
            TrustedStatus::PendingRemoval => {
                entry.removal_requested_by.unwrap_or(entry.proposed_by)
            }
            _ => {
                return Err(RegistryError::TrustedNotPending {
                    account,
                    trusted,
                    status: status.name(),
                });
            }
        };
        if asked_by == context.requester {
            return Err(RegistryError::SelfApproval(context.requester));
        }
        if status == TrustedStatus::PendingRemoval {
            self.controls.trusted.remove(&(account, trusted));
            return Ok(Effect::AccountUpdated(account));
        }
        let activation = self.activation(&entry.scheme, context.at)?;
        if let Some(entry) = self.controls.trusted.get_mut(&(account, trusted)) {
            entry.active_from = Some(activation);
        }
        Ok(Effect::AccountUpdated(account))
    }

    pub(crate) fn remove_trusted(
        &mut self,
        context: Context,
        account: AccountId,
        trusted: AccountId,
    ) -> Result<Effect, RegistryError> {
        self.require_proposer(context, account)?;
        let entry = self.trusted_entry(account, trusted)?;
        let status = entry.status(context.at);
        if status == TrustedStatus::PendingRemoval {
            return Err(RegistryError::TrustedNotPending {
                account,
                trusted,
                status: status.name(),
            });
        }
        // Withdrawing a proposal, or a one-signature account: gone at once.
        if status == TrustedStatus::PendingApproval || self.single_signature(account)? {
            self.controls.trusted.remove(&(account, trusted));
        } else if let Some(entry) = self.controls.trusted.get_mut(&(account, trusted)) {
            entry.removal_requested_by = Some(context.requester);
        }
        Ok(Effect::AccountUpdated(account))
    }

    fn trusted_entry(
        &self,
        account: AccountId,
        trusted: AccountId,
    ) -> Result<&TrustedEntry, RegistryError> {
        self.account(account)?;
        self.controls
            .trusted
            .get(&(account, trusted))
            .ok_or(RegistryError::NotOnTrustedList { account, trusted })
    }

    pub(crate) fn set_additional_representatives(
        &mut self,
        context: Context,
        account: AccountId,
        representatives: &[ParticipantId],
    ) -> Result<Effect, RegistryError> {
        self.require_administrator(context.requester, "set additional representatives")?;
        let rule = &self.account(account)?.rule;
        if representatives.len() > crate::REPRESENTATIVES_MAX {
            return Err(RegistryError::InvalidApprovalRule(format!(
                "at most {} additional representatives, got {}",
                crate::REPRESENTATIVES_MAX,
                representatives.len()
            )));
        }
        let mut sorted = representatives.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != representatives.len() {
            return Err(RegistryError::InvalidApprovalRule(
                "an additional representative is listed twice".to_owned(),
            ));
        }
        for &participant in &sorted {
            self.participant(participant)?;
            if rule.is_representative(participant) {
                return Err(RegistryError::InvalidApprovalRule(format!(
                    "participant {participant} is already a representative of account {account}"
                )));
            }
        }
        if sorted.is_empty() {
            self.controls.additional.remove(&account);
        } else {
            self.controls.additional.insert(account, sorted);
        }
        Ok(Effect::AccountUpdated(account))
    }
}
