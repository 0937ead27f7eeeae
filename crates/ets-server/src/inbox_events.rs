//! The `inbox` events, derived on the sequencer thread from a durable
//! batch's commands, their outcomes and the engine after it, or from the
//! server's clock at a tick (the engine stays pure; the times are the
//! sequencer's stamps and its clock):
//!
//! - a transaction awaiting approval: to each participant who may still
//!   approve it (`Registry::approvers`, the engine's own check);
//! - a transfer entering its delay, completing at its end, or ending
//!   otherwise (`settled`): to the parties of its accounts;
//! - a report submitted: to every verifier; decided: `settled` to them;
//! - at a tick (`sequencer::Job::Tick`), a surrender deadline whose
//!   `ets_api::DEADLINE_NEAR_DAYS`-day window opened since the last tick:
//!   to the covered entity, once (each opening lies in exactly one interval
//!   between two ticks; the first tick only sets where counting starts).

use crate::stream::{StreamEvent, Topic};
use ets_api::{
    InboxItem, InboxKind, approval_item, deadline_item, deadlines_near, delay_item, delay_parties,
    report_item, report_settled_item, settled_item,
};
use ets_engine::compliance::{ComplianceCommand, ComplianceEffect, ReportStatus};
use ets_engine::{Command, Effect, Engine, Outcome};
use ets_model::{ParticipantId, Timestamp, TransactionId};
use ets_registry::{Effect as RegistryEffect, ParticipantKind, Registry, TransactionStatus};
use std::collections::BTreeSet;

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// What the inbox remembers between batches.
#[derive(Debug, Default)]
pub(crate) struct InboxTracker {
    /// The transfers in their delay after the last batch seen.
    running: BTreeSet<TransactionId>,
    /// The latest time deadlines were checked at (ticks only move it forward).
    deadlines_checked: Option<Timestamp>,
}

fn push(events: &mut Vec<StreamEvent>, participant: ParticipantId, item: &InboxItem) {
    events.push(StreamEvent {
        topic: Topic::Inbox(participant),
        name: "inbox",
        // Serializing this plain struct cannot fail.
        data: serde_json::to_string(item).unwrap_or_default(),
        readers: vec![participant],
    });
}

fn verifiers(registry: &Registry) -> Vec<ParticipantId> {
    registry
        .participants()
        .filter(|p| p.kind == ParticipantKind::Verifier)
        .map(|p| p.id)
        .collect()
}

impl InboxTracker {
    /// The inbox events of one durable batch.
    pub(crate) fn events(
        &mut self,
        engine: &Engine,
        batch: &[(&Command, &Outcome)],
    ) -> Vec<StreamEvent> {
        let registry = engine.registry();
        let mut events = Vec::new();
        for (command, outcome) in batch {
            let Outcome::Accepted(effect) = outcome else {
                continue;
            };
            match effect {
                Effect::Registry(RegistryEffect::Transaction { id, status }) => {
                    transaction_events(registry, *id, *status, &mut events);
                }
                Effect::Compliance(ComplianceEffect::Report { status, .. }) => {
                    report_events(registry, command, *status, &mut events);
                }
                _ => {}
            }
        }
        self.delays_ended(registry, &mut events);
        events
    }

    /// `delay_completed` for each transfer that was in its delay after the
    /// last batch and completed since (one cancelled sent its `settled`).
    fn delays_ended(&mut self, registry: &Registry, events: &mut Vec<StreamEvent>) {
        let controls = registry.controls();
        let now: BTreeSet<TransactionId> = controls.running_delays().map(|(id, _)| id).collect();
        for &id in self.running.difference(&now) {
            let (Ok(transaction), Some(delay)) = (registry.transaction(id), controls.delay(id))
            else {
                continue;
            };
            if transaction.status() == TransactionStatus::Completed {
                let item = delay_item(registry, transaction, delay, InboxKind::DelayCompleted);
                for party in delay_parties(registry, id) {
                    push(events, party, &item);
                }
            }
        }
        self.running = now;
    }

    /// At a tick of the server's clock: `deadline_near` for each deadline
    /// whose window opened after the last tick and by `now`. The first tick
    /// only sets where counting starts; a clock reading earlier than the
    /// last one checks nothing.
    pub(crate) fn tick(&mut self, engine: &Engine, now: Timestamp) -> Vec<StreamEvent> {
        let mut events = Vec::new();
        let Some(checked) = self.deadlines_checked else {
            self.deadlines_checked = Some(now);
            return events;
        };
        if now <= checked {
            return events;
        }
        self.deadlines_checked = Some(now);
        let registry = engine.registry();
        let window = ets_api::DEADLINE_NEAR_DAYS * DAY_MS;
        for participant in registry.participants() {
            if participant.kind != ParticipantKind::CoveredEntity {
                continue;
            }
            for deadline in deadlines_near(engine, participant.id, now) {
                // Near at `now`, so its window opened by then; new if after the last check.
                if deadline.passes_at.0.saturating_sub(window) > checked.0 {
                    push(
                        &mut events,
                        participant.id,
                        &deadline_item(participant.id, &deadline),
                    );
                }
            }
        }
        events
    }
}

fn transaction_events(
    registry: &Registry,
    id: TransactionId,
    status: TransactionStatus,
    events: &mut Vec<StreamEvent>,
) {
    let Ok(transaction) = registry.transaction(id) else {
        return;
    };
    match status {
        TransactionStatus::AwaitingApproval => {
            let item = approval_item(registry, transaction);
            for approver in registry.approvers(id) {
                push(events, approver, &item);
            }
        }
        TransactionStatus::Delayed => {
            if let Some(delay) = registry.controls().delay(id) {
                let item = delay_item(registry, transaction, delay, InboxKind::DelayRunning);
                for party in delay_parties(registry, id) {
                    push(events, party, &item);
                }
            }
        }
        _ => {
            let item = settled_item(transaction);
            for party in delay_parties(registry, id) {
                push(events, party, &item);
            }
        }
    }
}

fn report_events(
    registry: &Registry,
    command: &Command,
    status: ReportStatus,
    events: &mut Vec<StreamEvent>,
) {
    let Command::Compliance(
        ComplianceCommand::SubmitReport { entity, year, .. }
        | ComplianceCommand::VerifyReport { entity, year, .. }
        | ComplianceCommand::CorrectReport { entity, year, .. },
    ) = command
    else {
        return;
    };
    let item = match status {
        ReportStatus::Submitted => report_item(registry, *entity, *year),
        ReportStatus::Draft => return,
        decided => report_settled_item(*entity, *year, decided.name()),
    };
    for verifier in verifiers(registry) {
        push(events, verifier, &item);
    }
}
