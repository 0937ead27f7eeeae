//! A person's inbox: what awaits them (docs/web-ui.md, "Inbox"): transfers
//! they may approve, transfers of their accounts in their delay (and when the
//! delay ended or the transfer was cancelled), emissions reports a verifier
//! may verify, and surrender deadlines near for a covered entity. The same
//! items are listed when the inbox opens ([`inbox`]) and pushed over the
//! stream as `inbox` events when a durable batch creates them; both are for
//! the one participant they name and no one else ([`authorise_inbox`]).
//!
//! Who may approve is the registry's own question (`Registry::approvers`,
//! the check `approve` makes); "near" is [`DEADLINE_NEAR_DAYS`] before the
//! moment a deadline passes in the scheme's civil time.

use crate::refusal::{Refusal, RefusalCode};
use crate::role::Principal;
use crate::text::format_time;
use ets_engine::Engine;
use ets_engine::compliance::ReportStatus;
use ets_model::{ParticipantId, Timestamp, TransactionId};
use ets_registry::{Delay, ParticipantKind, Registry, Transaction};
use schemars::JsonSchema;
use serde::Serialize;

/// How long before a surrender deadline passes it counts as near, in days
/// (a documented default; no scheme states a notice period).
pub const DEADLINE_NEAR_DAYS: i64 = 30;

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// The most items one inbox lists (the oldest beyond it are counted, not listed).
pub const INBOX_ITEMS_MAX: usize = 500;

/// How many of the latest transactions are searched for those awaiting approval.
pub const INBOX_SCAN_MAX: usize = 100_000;

/// What an inbox item is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InboxKind {
    /// A transfer awaits this person's approval.
    ApprovalAwaited,
    /// A transfer of one of their accounts is in its delay (it may be cancelled until `due`).
    DelayRunning,
    /// A delayed transfer's delay ended and it completed.
    DelayCompleted,
    /// A transaction that awaited approval or ran its delay ended without them
    /// (completed, rejected, withdrawn or cancelled): drop its item.
    Settled,
    /// An emissions report awaits verification.
    ReportToVerify,
    /// A surrender deadline passes within [`DEADLINE_NEAR_DAYS`] days.
    DeadlineNear,
}

/// One item of an inbox, or one `inbox` event of the stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct InboxItem {
    /// What it is about.
    pub kind: InboxKind,
    /// The transaction (approvals, delays).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction: Option<u64>,
    /// The account units leave (approvals, delays).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<u64>,
    /// The covered entity (reports, deadlines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity: Option<u64>,
    /// The scheme (deadlines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// The compliance year (reports, deadlines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub year: Option<u16>,
    /// When the delay ends or the deadline passes, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due: Option<String>,
    /// One line for people.
    pub summary: String,
    /// The web UI page where it is dealt with.
    pub link: String,
    /// What the item is about (`transaction-7`, `report-10-2021`,
    /// `deadline-{scheme}-{year}-{due}`): a later item with the same key
    /// replaces the earlier one, and a `settled` one removes it.
    pub key: String,
}

impl InboxItem {
    fn new(kind: InboxKind, summary: String, link: String) -> InboxItem {
        InboxItem {
            kind,
            transaction: None,
            account: None,
            entity: None,
            scheme: None,
            year: None,
            due: None,
            summary,
            link,
            key: String::new(),
        }
    }

    /// The item with its [`InboxItem::key`] set from what it is about.
    fn keyed(mut self) -> InboxItem {
        self.key = self.key_of();
        self
    }

    fn key_of(&self) -> String {
        if let Some(transaction) = self.transaction {
            return format!("transaction-{transaction}");
        }
        match self.kind {
            InboxKind::DeadlineNear => format!(
                "deadline-{}-{}-{}",
                self.scheme.as_deref().unwrap_or(""),
                self.year.unwrap_or(0),
                self.due.as_deref().unwrap_or("")
            ),
            _ => format!(
                "report-{}-{}",
                self.entity.unwrap_or(0),
                self.year.unwrap_or(0)
            ),
        }
    }
}

/// A person's inbox: the items and how many were left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct InboxView {
    /// The participant it is for.
    pub participant: u64,
    /// What awaits them, approvals first.
    pub items: Vec<InboxItem>,
    /// Items beyond [`INBOX_ITEMS_MAX`], not listed.
    pub left_out: usize,
    /// How many days before a deadline it is listed.
    pub deadline_near_days: i64,
}

/// Whether `principal` may read the inbox of `participant`: only its own
/// (an inbox is a person's worklist; administrators and auditors read the
/// facts behind it through the other views).
///
/// # Errors
/// [`RefusalCode::NotRepresentative`].
pub fn authorise_inbox(principal: &Principal, participant: ParticipantId) -> Result<(), Refusal> {
    if principal.participant == participant {
        return Ok(());
    }
    Err(Refusal::new(
        RefusalCode::NotRepresentative,
        format!(
            "user {} (participant {}) may read only its own inbox, not participant {participant}'s",
            principal.name, principal.participant
        ),
    ))
}

fn unit_name(registry: &Registry, transaction: &Transaction) -> String {
    registry.class(transaction.class_index).map_or_else(
        || format!("#{}", transaction.class_index),
        ToString::to_string,
    )
}

/// The item of a transaction awaiting approval.
#[must_use]
pub fn approval_item(registry: &Registry, transaction: &Transaction) -> InboxItem {
    let id = transaction.id.0;
    let mut item = InboxItem::new(
        InboxKind::ApprovalAwaited,
        format!(
            "Transaction {id} ({}) awaits your approval: {} t {} from account {} to {}, proposed by participant {}",
            transaction.kind.name(),
            transaction.quantity.tonnes(),
            unit_name(registry, transaction),
            transaction.from.0,
            transaction.to.0,
            transaction.proposer.0
        ),
        format!("/ui/transactions/{id}"),
    );
    item.transaction = Some(id);
    item.account = Some(transaction.from.0);
    item.keyed()
}

/// The item of a transfer in its delay ([`InboxKind::DelayRunning`]) or
/// whose delay ended ([`InboxKind::DelayCompleted`]).
#[must_use]
pub fn delay_item(
    registry: &Registry,
    transaction: &Transaction,
    delay: &Delay,
    kind: InboxKind,
) -> InboxItem {
    let id = transaction.id.0;
    let due = format_time(delay.ends_at);
    let what = format!(
        "{} t {} from account {} to {}",
        transaction.quantity.tonnes(),
        unit_name(registry, transaction),
        transaction.from.0,
        transaction.to.0
    );
    let summary = if kind == InboxKind::DelayCompleted {
        format!("Transfer {id} completed at the end of its delay: {what}")
    } else {
        format!("Transfer {id} is delayed until {due} and may be cancelled until then: {what}")
    };
    let mut item = InboxItem::new(kind, summary, format!("/ui/transactions/{id}"));
    item.transaction = Some(id);
    item.account = Some(transaction.from.0);
    item.due = Some(due);
    item.keyed()
}

/// The item saying transaction `id` no longer awaits anyone, with its status now.
#[must_use]
pub fn settled_item(transaction: &Transaction) -> InboxItem {
    let id = transaction.id.0;
    let mut item = InboxItem::new(
        InboxKind::Settled,
        format!(
            "Transaction {id} is {} and awaits nothing more",
            transaction.status().name()
        ),
        format!("/ui/transactions/{id}"),
    );
    item.transaction = Some(id);
    item.account = Some(transaction.from.0);
    item.keyed()
}

/// The item saying the report of `entity` for `year` was decided (verified,
/// rejected or corrected) and no longer awaits a verifier.
#[must_use]
pub fn report_settled_item(entity: ParticipantId, year: u16, status: &str) -> InboxItem {
    let mut item = InboxItem::new(
        InboxKind::Settled,
        format!("The {year} emissions report of participant {entity} is {status}"),
        "/ui/reports".to_owned(),
    );
    item.entity = Some(entity.0);
    item.year = Some(year);
    item.keyed()
}

/// The item of a report awaiting verification.
#[must_use]
pub fn report_item(registry: &Registry, entity: ParticipantId, year: u16) -> InboxItem {
    let name = registry
        .participant(entity)
        .map_or_else(|_| format!("participant {entity}"), |p| p.name.clone());
    let mut item = InboxItem::new(
        InboxKind::ReportToVerify,
        format!("The {year} emissions report of {name} (participant {entity}) awaits verification"),
        "/ui/reports?status=submitted".to_owned(),
    );
    item.entity = Some(entity.0);
    item.year = Some(year);
    item.keyed()
}

/// A surrender deadline near: when it passes and the share then due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearDeadline {
    /// The scheme.
    pub scheme: String,
    /// The compliance year it settles.
    pub year: u16,
    /// The instant it passes.
    pub passes_at: Timestamp,
    /// The cumulative share then due, as the rulebook states it (`0.95`, `1`).
    pub share: String,
}

/// The surrender deadlines of `entity` that pass within
/// [`DEADLINE_NEAR_DAYS`] days after `now` (and not before it), for the
/// years not closed yet.
#[must_use]
pub fn deadlines_near(engine: &Engine, entity: ParticipantId, now: Timestamp) -> Vec<NearDeadline> {
    let compliance = engine.compliance();
    let mut near = Vec::new();
    for scheme in compliance.schemes_of(entity) {
        let Ok(rulebook) = compliance.rulebook(scheme) else {
            continue;
        };
        for &year in &rulebook.scheme.compliance_years {
            if compliance.closed_results(scheme, year).is_some() {
                continue;
            }
            for deadline in rulebook.surrender_deadlines_for(year) {
                // Only the period's own year: a shared deadline is listed once.
                if deadline.compliance_years.last() != Some(&year) {
                    continue;
                }
                let passes_at = rulebook.deadline_passes_at(deadline.due);
                let opens = passes_at.0.saturating_sub(DEADLINE_NEAR_DAYS * DAY_MS);
                if opens <= now.0 && now < passes_at {
                    near.push(NearDeadline {
                        scheme: scheme.to_owned(),
                        year,
                        passes_at,
                        share: deadline.cumulative_share.normalize().to_string(),
                    });
                }
            }
        }
    }
    near
}

/// The item of a deadline near for `entity`.
#[must_use]
pub fn deadline_item(entity: ParticipantId, deadline: &NearDeadline) -> InboxItem {
    let due = format_time(deadline.passes_at);
    let mut item = InboxItem::new(
        InboxKind::DeadlineNear,
        format!(
            "Surrender for {} {}: {} of the obligation is due before {due}",
            deadline.scheme, deadline.year, deadline.share
        ),
        "/ui".to_owned(),
    );
    item.entity = Some(entity.0);
    item.scheme = Some(deadline.scheme.clone());
    item.year = Some(deadline.year);
    item.due = Some(due);
    item.keyed()
}

/// The parties of a transaction's accounts (holders and representatives),
/// without repeats.
#[must_use]
pub fn delay_parties(registry: &Registry, id: TransactionId) -> Vec<ParticipantId> {
    let mut parties = crate::view::transaction_parties(registry, id);
    parties.sort_unstable();
    parties.dedup();
    parties
}

/// What awaits `participant` at `now`: approvals it may give, delays running
/// on its accounts, reports to verify (for a verifier) and deadlines near
/// (for a covered entity), at most [`INBOX_ITEMS_MAX`].
#[must_use]
pub fn inbox(engine: &Engine, participant: ParticipantId, now: Timestamp) -> InboxView {
    let registry = engine.registry();
    let mut items: Vec<InboxItem> = registry
        .transactions()
        .rev()
        .take(INBOX_SCAN_MAX)
        .filter(|t| {
            t.awaits_approval()
                && registry
                    .may_decide(t.id, participant, ets_registry::Decision::Approve)
                    .is_ok()
        })
        .map(|t| approval_item(registry, t))
        .collect();
    for (id, delay) in registry.controls().running_delays() {
        if let Ok(transaction) = registry.transaction(id)
            && delay_parties(registry, id).contains(&participant)
        {
            items.push(delay_item(
                registry,
                transaction,
                delay,
                InboxKind::DelayRunning,
            ));
        }
    }
    let verifier = registry
        .participant(participant)
        .is_ok_and(|p| p.kind == ParticipantKind::Verifier);
    if verifier {
        for (entity, year, report) in engine.compliance().reports() {
            if report.status == ReportStatus::Submitted {
                items.push(report_item(registry, entity, year));
            }
        }
    }
    for deadline in deadlines_near(engine, participant, now) {
        items.push(deadline_item(participant, &deadline));
    }
    let left_out = items.len().saturating_sub(INBOX_ITEMS_MAX);
    items.truncate(INBOX_ITEMS_MAX);
    InboxView {
        participant: participant.0,
        items,
        left_out,
        deadline_near_days: DEADLINE_NEAR_DAYS,
    }
}
