//! An account's trusted list on its page: each entry with its status
//! (pending approval, pending activation, active, pending removal), who
//! proposed it and when it becomes active, each scheme's activation delay in
//! business days, and forms for the account's representatives to propose an
//! account, approve a proposal or a removal, and ask for a removal
//! (`POST /ui/trusted`). The engine's rules decide every form: a second
//! representative must approve where the account's rule asks for two.

use super::page::{Nonces, Viewer, hidden, moment};
use super::{Fields, UiState, number_field, send_form, text_field};
use axum::extract::{Form, State};
use axum::http::HeaderMap;
use axum::response::Response;
use ets_api::ControlCommandJson;
use ets_engine::Engine;
use ets_model::{AccountId, Timestamp};
use maud::{Markup, html};

/// One entry of a trusted list.
#[derive(Debug, Clone)]
pub(crate) struct TrustedRow {
    pub(crate) trusted: u64,
    pub(crate) scheme: String,
    pub(crate) status: &'static str,
    pub(crate) proposed_by: u64,
    pub(crate) active_from: Option<i64>,
}

/// An account's trusted list at `now`, and each scheme's activation delay.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrustedList {
    pub(crate) rows: Vec<TrustedRow>,
    pub(crate) delays: Vec<(String, u8)>,
}

/// The trusted list of `account` at `now`.
pub(crate) fn list(engine: &Engine, account: AccountId, now: Timestamp) -> TrustedList {
    let controls = engine.registry().controls();
    TrustedList {
        rows: controls
            .trusted_list(account)
            .map(|(trusted, entry)| TrustedRow {
                trusted: trusted.0,
                scheme: entry.scheme.to_string(),
                status: entry.status(now).name(),
                proposed_by: entry.proposed_by.0,
                active_from: entry.active_from.map(|at| at.0),
            })
            .collect(),
        delays: controls
            .schemes()
            .map(|(code, settings)| (code.to_string(), settings.trusted_activation_business_days))
            .collect(),
    }
}

fn entry_form(
    viewer: &Viewer<'_>,
    nonces: &mut Nonces,
    account: u64,
    row: &TrustedRow,
    action: &str,
    label: &str,
) -> Markup {
    html! {
        form.inline method="post" action="/ui/trusted" {
            (hidden(viewer, nonces, &format!("/ui/accounts/{account}")))
            input type="hidden" name="account" value=(account);
            input type="hidden" name="trusted" value=(row.trusted);
            input type="hidden" name="action" value=(action);
            button type="submit" { (label) }
        }
    }
}

/// The trusted list's section of account `account`'s page.
pub(crate) fn section(
    viewer: &Viewer<'_>,
    nonces: &mut Nonces,
    account: u64,
    list: &TrustedList,
) -> Markup {
    html! {
        section.card #trusted-list {
            h3 { "Trusted accounts" }
            @if list.delays.is_empty() {
                p.muted { "No scheme has security controls: transfers are not delayed." }
            } @else {
                p.muted { "A new entry becomes active after "
                    @for (index, (scheme, days)) in list.delays.iter().enumerate() {
                        @if index > 0 { ", " } (days) " business days (" (scheme) ")"
                    }
                    " once approved; transfers to accounts not active on the list are delayed." }
            }
            @if list.rows.is_empty() { p.muted #no-trusted { "No trusted account." } } @else {
                table #trusted {
                    thead { tr { th { "Account" } th { "Scheme" } th { "Status" } th { "Proposed by" } th { "Active from (UTC)" } th { "" } } }
                    tbody { @for row in &list.rows {
                        tr data-trusted=(row.trusted) {
                            td { (row.trusted) } td { (row.scheme) }
                            td data-field="status" { (row.status) }
                            td { (row.proposed_by) }
                            td { @if let Some(at) = row.active_from { (moment(at)) } }
                            td.actions {
                                @if matches!(row.status, "pending_approval" | "pending_removal") {
                                    (entry_form(viewer, nonces, account, row, "approve", "Approve"))
                                }
                                @if row.status != "pending_removal" {
                                    (entry_form(viewer, nonces, account, row, "remove", "Remove"))
                                }
                            }
                        }
                    } }
                }
            }
            form.card #propose-trusted method="post" action="/ui/trusted" {
                (hidden(viewer, nonces, &format!("/ui/accounts/{account}")))
                input type="hidden" name="account" value=(account);
                input type="hidden" name="action" value="propose";
                label { "Account to trust" input name="trusted" inputmode="numeric" required; }
                label { "Scheme" input name="scheme" placeholder="CEA" required; }
                button type="submit" { "Propose" }
            }
        }
    }
}

/// `POST /ui/trusted`: propose, approve or remove an entry.
pub(crate) async fn decide(
    State(state): State<UiState>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    send_form(&state, &headers, &fields, |fields| {
        let account = number_field(fields, "account")?;
        let trusted = number_field(fields, "trusted")?;
        let command = match text_field(fields, "action")? {
            "propose" => ControlCommandJson::ProposeTrustedAccount {
                account,
                trusted,
                scheme: text_field(fields, "scheme")?.to_owned(),
            },
            "approve" => ControlCommandJson::ApproveTrustedAccount { account, trusted },
            "remove" => ControlCommandJson::RemoveTrustedAccount { account, trusted },
            other => {
                return Err(format!(
                    "action must be propose, approve or remove; it is {other:?}"
                ));
            }
        };
        Ok(command.into())
    })
    .await
}
