//! Transfer timing: the quantity limit, the business window that snaps a
//! transfer's initiation, the delay to accounts outside the sender's
//! trusted list, cancellation during the delay, and completion once a
//! later command arrives after the delay's end (the engine has no clock).

use super::window::snap_to_window;
use super::{ControlSettings, Delay, SchemeControls};
use crate::registry::{Context, Registry};
use crate::transaction::{StatusChange, Transaction, TransactionKind, TransactionStatus};
use crate::{Effect, RegistryError};
use ets_model::{Code, Quantity, Timestamp, TransactionId, UnitClass};

const MS_PER_MINUTE: i64 = 60_000;

impl Registry {
    pub(crate) fn set_controls(
        &mut self,
        context: Context,
        scheme: &Code,
        settings: &ControlSettings,
    ) -> Result<Effect, RegistryError> {
        self.require_administrator(context.requester, "configure security controls")?;
        let calendar = settings.calendar(scheme)?;
        self.controls.schemes.insert(
            *scheme,
            SchemeControls {
                settings: settings.clone(),
                calendar: Some(calendar),
            },
        );
        Ok(Effect::ControlsSet)
    }

    /// Refuses a transfer above its scheme's per-transfer limit.
    pub(crate) fn check_transfer_limit(
        &self,
        class: &UnitClass,
        quantity: Quantity,
    ) -> Result<(), RegistryError> {
        let limit = self
            .controls
            .scheme_of(class)
            .and_then(|(settings, _)| settings.max_transfer_quantity);
        match limit {
            Some(limit) if quantity > limit => Err(RegistryError::TransferLimitExceeded {
                class: class.to_string(),
                limit,
                requested: quantity,
            }),
            _ => Ok(()),
        }
    }

    /// When a fully signed transaction settles: `None` at once (no controls
    /// apply), else its delay (which may already have ended).
    pub(crate) fn timing(
        &self,
        transaction: &Transaction,
        at: Timestamp,
    ) -> Result<Option<Delay>, RegistryError> {
        if transaction.kind != TransactionKind::Transfer {
            return Ok(None);
        }
        let Some((settings, calendar)) = self
            .class(transaction.class_index)
            .and_then(|class| self.controls.scheme_of(class))
        else {
            return Ok(None);
        };
        let initiated_at = snap_to_window(settings, calendar, at)?;
        let trusted = self
            .controls
            .is_trusted(transaction.from, transaction.to, initiated_at);
        let delay_ms = if trusted {
            0
        } else {
            i64::from(settings.transfer_delay_minutes) * MS_PER_MINUTE
        };
        let ends_at = initiated_at
            .0
            .checked_add(delay_ms)
            .map(Timestamp)
            .ok_or(RegistryError::Overflow("delay end"))?;
        Ok(Some(Delay {
            initiated_at,
            ends_at,
            trusted,
        }))
    }

    /// Puts a fully signed transfer into its delay: its units stay reserved.
    pub(crate) fn start_delay(
        &mut self,
        transaction: &mut Transaction,
        delay: Delay,
        context: Context,
    ) {
        transaction.history.push(StatusChange {
            status: TransactionStatus::Delayed,
            at: context.at,
            by: context.requester,
        });
        self.controls.delays.insert(transaction.id, delay);
        self.controls.due.insert((delay.ends_at, transaction.id));
    }

    /// Completes every delayed transfer whose delay ended at or before `at`,
    /// in order of end, each stamped at its end. A transfer that can no longer
    /// settle (an account closed or blocked meanwhile) fails and its units are released.
    pub fn release_due(&mut self, at: Timestamp) -> Vec<Effect> {
        let mut effects = Vec::new();
        while let Some(&(ends_at, id)) = self.controls.due.first() {
            if ends_at > at {
                break;
            }
            self.controls.due.remove(&(ends_at, id));
            effects.push(self.complete_delayed(id, ends_at));
        }
        effects
    }

    fn complete_delayed(&mut self, id: TransactionId, ends_at: Timestamp) -> Effect {
        let Some(mut transaction) = self.transactions.get(id).cloned() else {
            unreachable!("a running delay names transaction {id}, which does not exist");
        };
        assert!(
            transaction.status() == TransactionStatus::Delayed,
            "a running delay names transaction {id}, which is not delayed"
        );
        let context = Context {
            requester: transaction.proposer,
            at: ends_at,
        };
        let settleable = self.check_still_settleable(&transaction).is_ok();
        self.release_reservation(&transaction);
        if settleable {
            self.settle(&mut transaction, context);
        } else {
            transaction.history.push(StatusChange {
                status: TransactionStatus::Failed,
                at: ends_at,
                by: transaction.proposer,
            });
        }
        let status = transaction.status();
        self.transactions.replace(transaction);
        Effect::Transaction { id, status }
    }

    /// Cancels a transfer during its delay: any representative of the sending
    /// account (additional ones too) or the administrator. Its units are released.
    pub(crate) fn cancel_delayed(
        &mut self,
        context: Context,
        id: TransactionId,
    ) -> Result<Effect, RegistryError> {
        self.may_decide(id, context.requester, crate::Decision::Withdraw)?;
        let mut transaction = self.transaction(id)?.clone();
        if let Some(delay) = self.controls.delays.get(&id) {
            self.controls.due.remove(&(delay.ends_at, id));
        }
        self.release_reservation(&transaction);
        transaction.history.push(StatusChange {
            status: TransactionStatus::Cancelled,
            at: context.at,
            by: context.requester,
        });
        self.transactions.replace(transaction);
        Ok(Effect::Transaction {
            id,
            status: TransactionStatus::Cancelled,
        })
    }
}
