//! A transaction's page (`/ui/transactions/{id}`): what it moved between
//! whom, its status history (each step with its time and who caused it),
//! its serial blocks, who proposed and who approved it, and for a delayed
//! transfer when the delay ends. The decisions (approve, reject, withdraw)
//! are offered only to those who may send them: the command's metadata in
//! ets-api (`CommandSpec`) for the user's role and participant kind, and the
//! engine's own facts about the transaction (its proposer, its signatures,
//! its account's representatives).

use super::history;
use super::page::{Nonces, Viewer, hidden, layout, moment, tonnes};
use super::{SignedIn, UiState, nonces, problem, read, signed_in, to_login};
use crate::users::Principal;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ets_engine::Engine;
use ets_history::query::TransactionRow;
use ets_model::{AccountId, ParticipantId, TransactionId};
use ets_registry::Transaction;
use maud::{Markup, html};
use std::collections::BTreeMap;

/// What the engine adds to the history's row.
#[derive(Debug, Clone, Default)]
pub(crate) struct EngineFacts {
    /// Whether the user's participant is a party (holder or representative of either account).
    pub(crate) party: bool,
    /// Participants' names, by id.
    pub(crate) names: BTreeMap<i64, String>,
    /// The approvals after the proposer's, while the engine keeps the transaction.
    pub(crate) approvals: Option<Vec<u64>>,
    /// Signatures the source account's rule needs.
    pub(crate) approvals_required: Option<u8>,
    /// Initiated at, ends at, recipient trusted: for a delayed or queued transfer.
    pub(crate) delay: Option<(i64, i64, bool)>,
    /// The decisions the user may send now.
    pub(crate) decisions: Vec<&'static str>,
}

/// Whether `spec`'s senders include `principal` acting as its participant.
fn spec_allows(engine: &Engine, principal: &Principal, command: &str) -> bool {
    let kind = engine
        .registry()
        .participant(principal.participant)
        .ok()
        .map(|participant| participant.kind);
    ets_api::command_spec(command).is_some_and(|spec| {
        spec.authorise(principal, principal.participant, kind)
            .is_ok()
    })
}

/// The decisions `principal` may send on `transaction` now: those the
/// registry's own check (`Registry::decisions`, the one the engine runs when
/// the command arrives) allows its participant, and the command's metadata
/// allows the user's role.
pub(crate) fn decisions(
    engine: &Engine,
    transaction: &Transaction,
    principal: &Principal,
) -> Vec<&'static str> {
    engine
        .registry()
        .decisions(transaction.id, principal.participant)
        .into_iter()
        .map(ets_registry::Decision::name)
        .filter(|command| spec_allows(engine, principal, command))
        .collect()
}

/// The engine's facts about transaction `row` for `principal`.
pub(crate) fn facts(engine: &Engine, row: &TransactionRow, principal: &Principal) -> EngineFacts {
    let registry = engine.registry();
    let account = |id: i64| {
        u64::try_from(id)
            .ok()
            .and_then(|id| registry.account(AccountId(id)).ok())
    };
    let party = [row.from_account, row.to_account]
        .into_iter()
        .filter_map(account)
        .any(|account| super::view::may_see(account, principal.participant));
    let mut people: Vec<i64> = row.status_history.iter().map(|step| step.by).collect();
    people.push(row.proposer);
    let id = u64::try_from(row.id).map(TransactionId).ok();
    let transaction = id.and_then(|id| registry.transaction(id).ok());
    if let Some(transaction) = transaction {
        people.extend(
            transaction
                .approvals
                .iter()
                .filter_map(|p| i64::try_from(p.0).ok()),
        );
    }
    let names = people
        .into_iter()
        .filter_map(|person| {
            let participant = registry
                .participant(ParticipantId(u64::try_from(person).ok()?))
                .ok()?;
            Some((person, participant.name.clone()))
        })
        .collect();
    EngineFacts {
        party,
        names,
        approvals: transaction.map(|t| t.approvals.iter().map(|p| p.0).collect()),
        approvals_required: account(row.from_account)
            .map(|account| account.rule.approvals_required),
        delay: id
            .and_then(|id| registry.controls().delay(id))
            .map(|delay| (delay.initiated_at.0, delay.ends_at.0, delay.trusted)),
        decisions: transaction.map_or_else(Vec::new, |t| decisions(engine, t, principal)),
    }
}

/// `GET /ui/transactions/{id}`.
pub(crate) async fn page(
    State(state): State<UiState>,
    headers: HeaderMap,
    Path(id): Path<u64>,
) -> Response {
    let Some(user) = signed_in(&state, &headers) else {
        return to_login();
    };
    let viewer = user.viewer();
    let not_found = |viewer: &Viewer<'_>| {
        problem(
            StatusCode::NOT_FOUND,
            Some(viewer),
            "unknown_transaction",
            &format!("transaction {id} does not exist"),
            "/ui",
        )
    };
    let Ok(key) = i64::try_from(id) else {
        return not_found(&viewer);
    };
    let row = match history::query(&state, move |backend| {
        ets_history::query::transaction(backend, key)
    })
    .await
    {
        Ok(Some(row)) => row,
        Ok(None) => return not_found(&viewer),
        Err(response) => return response,
    };
    let (facts, row) = match engine_facts(&state, &user, row).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if !facts.party && !user.principal.role.reads_everything() {
        return problem(
            StatusCode::FORBIDDEN,
            Some(&viewer),
            "not_representative",
            &format!(
                "participant {} represents neither account of transaction {id}",
                user.principal.participant.0
            ),
            "/ui",
        );
    }
    let mut nonces = match nonces() {
        Ok(nonces) => nonces,
        Err(response) => return response,
    };
    let body = render(&viewer, &mut nonces, &row, &facts);
    super::html(
        StatusCode::OK,
        layout(&format!("Transaction {id}"), Some(&viewer), &body),
    )
}

async fn engine_facts(
    state: &UiState,
    user: &SignedIn,
    row: TransactionRow,
) -> Result<(EngineFacts, TransactionRow), Response> {
    let principal = user.principal.clone();
    read(state, move |engine| (facts(engine, &row, &principal), row)).await
}

fn person(facts: &EngineFacts, id: i64) -> Markup {
    html! {
        (id)
        @if let Some(name) = facts.names.get(&id) { " (" (name) ")" }
    }
}

fn decision_forms(
    viewer: &Viewer<'_>,
    nonces: &mut Nonces,
    id: i64,
    facts: &EngineFacts,
) -> Markup {
    let back = format!("/ui/transactions/{id}");
    html! {
        @if !facts.decisions.is_empty() {
            div.actions #decide {
                @for decision in &facts.decisions {
                    form.inline method="post" action="/ui/decide" {
                        (hidden(viewer, nonces, &back))
                        input type="hidden" name="transaction" value=(id);
                        input type="hidden" name="decision" value=(decision);
                        button type="submit" name="go" value=(decision) { (label(decision)) }
                    }
                }
            }
        }
    }
}

fn label(decision: &str) -> &'static str {
    match decision {
        "approve" => "Approve",
        "reject" => "Reject",
        _ => "Withdraw",
    }
}

fn render(
    viewer: &Viewer<'_>,
    nonces: &mut Nonces,
    row: &TransactionRow,
    facts: &EngineFacts,
) -> Markup {
    html! {
        dl.detail #transaction {
            dt { "Kind" } dd { (row.kind) @if let Some(note) = &row.note { " (" (note) ")" } }
            dt { "From account" } dd { a href=(format!("/ui/accounts/{}", row.from_account)) { (row.from_account) } }
            dt { "To account" } dd { a href=(format!("/ui/accounts/{}", row.to_account)) { (row.to_account) } }
            dt { "Unit" } dd { (row.unit_class) }
            dt { "Quantity (t)" } dd { (tonnes(u64::try_from(row.quantity).unwrap_or(0))) }
            dt { "Status" } dd #status { (row.status) }
            dt { "Proposed by" } dd #proposer { (person(facts, row.proposer)) " at " (moment(row.proposed_ms)) }
            dt { "Approved by" } dd #approvers {
                @match &facts.approvals {
                    Some(approvals) if approvals.is_empty() => { "no one yet" }
                    Some(approvals) => {
                        @for (index, approver) in approvals.iter().enumerate() {
                            @if index > 0 { ", " }
                            (person(facts, i64::try_from(*approver).unwrap_or(0)))
                        }
                    }
                    None => { "see the status history" }
                }
                @if let Some(required) = facts.approvals_required { " (" (required) " signatures needed, the proposer's included)" }
            }
            @if let Some((initiated, ends, trusted)) = facts.delay {
                dt { "Initiated" } dd { (moment(initiated)) " UTC" }
                dt { "Delay ends" } dd #delay-end {
                    (moment(ends)) " UTC"
                    @if trusted { " (recipient trusted)" } @else { " (recipient not on the trusted list)" }
                }
            }
        }
        (decision_forms(viewer, nonces, row.id, facts))
        h2 { "Status history" }
        table #status-history {
            thead { tr { th { "Status" } th { "When (UTC)" } th { "By" } } }
            tbody { @for step in &row.status_history {
                tr { td { (step.status) } td { (moment(step.at_ms)) } td { (person(facts, step.by)) } }
            } }
        }
        h2 { "Serial blocks" }
        @if row.blocks.is_empty() {
            p.muted { "No units have moved (yet)." }
        } @else {
            table #blocks {
                thead { tr { th.num { "First serial" } th.num { "Last serial" } th.num { "Units" } } }
                tbody { @for (first, last) in &row.blocks {
                    tr { td.num { (first) } td.num { (last) } td.num { (tonnes(u64::try_from(last - first + 1).unwrap_or(0))) } }
                } }
            }
        }
    }
}
