//! The administrator's forms beyond issue and allocate: register a
//! participant (verifiers too), open an account, set an account's status,
//! its representatives and approval rule, its additional authorised
//! representatives, and a scheme's security controls (the transfer delay,
//! the trusted-list activation delay, the business window). Each form
//! becomes the API's JSON command and goes the same way as every form
//! (`send_form`): the engine decides, its refusal is shown as it is.

use super::page::{Nonces, Viewer, hidden};
use super::{Fields, UiState, narrow, number_field, send_form, small_field, text_field};
use axum::extract::{Form, State};
use axum::http::HeaderMap;
use axum::response::Response;
use ets_api::{ControlCommandJson, ControlSettingsJson, RegistryCommandJson};
use maud::{Markup, html};

/// The participant kinds the registry knows, as the commands name them.
const PARTICIPANT_KINDS: [&str; 6] = [
    "covered_entity",
    "institution",
    "individual",
    "verifier",
    "exchange",
    "administrator",
];
/// The account kinds participants hold.
const ACCOUNT_KINDS: [&str; 2] = ["operator_holding", "trading"];
/// The statuses an account may be set to.
const ACCOUNT_STATUSES: [&str; 3] = ["open", "blocked", "closed"];

/// `1, 2 3` as `[1, 2, 3]`.
fn id_list(fields: &Fields, name: &str) -> Result<Vec<u64>, String> {
    let text = text_field(fields, name)?;
    text.split([',', ' '])
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse::<u64>().map_err(|_| {
                format!("{name} must be participant ids separated by commas; {part:?} is not one")
            })
        })
        .collect()
}

fn optional_text(fields: &Fields, name: &str) -> Option<String> {
    fields
        .get(name)
        .map(|text| text.trim())
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

fn optional_number(fields: &Fields, name: &str) -> Result<Option<u64>, String> {
    match fields.get(name).map(|text| text.trim()) {
        None | Some("") => Ok(None),
        Some(_) => number_field(fields, name).map(Some),
    }
}

/// `POST /ui/admin/participant`.
pub(crate) async fn participant(
    State(state): State<UiState>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    send_form(&state, &headers, &fields, |fields| {
        Ok(RegistryCommandJson::RegisterParticipant {
            id: number_field(fields, "id")?,
            kind: text_field(fields, "kind")?.to_owned(),
            name: text_field(fields, "name")?.to_owned(),
        }
        .into())
    })
    .await
}

/// `POST /ui/admin/account`.
pub(crate) async fn account(
    State(state): State<UiState>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    send_form(&state, &headers, &fields, |fields| {
        Ok(RegistryCommandJson::OpenAccount {
            id: number_field(fields, "id")?,
            kind: text_field(fields, "kind")?.to_owned(),
            holder: number_field(fields, "holder")?,
            representatives: id_list(fields, "representatives")?,
            approvals_required: small_field(fields, "approvals_required")?,
        }
        .into())
    })
    .await
}

/// `POST /ui/admin/status`.
pub(crate) async fn status(
    State(state): State<UiState>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    send_form(&state, &headers, &fields, |fields| {
        Ok(RegistryCommandJson::SetAccountStatus {
            account: number_field(fields, "account")?,
            status: text_field(fields, "status")?.to_owned(),
        }
        .into())
    })
    .await
}

/// `POST /ui/admin/rule`.
pub(crate) async fn rule(
    State(state): State<UiState>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    send_form(&state, &headers, &fields, |fields| {
        Ok(RegistryCommandJson::SetApprovalRule {
            account: number_field(fields, "account")?,
            representatives: id_list(fields, "representatives")?,
            approvals_required: small_field(fields, "approvals_required")?,
        }
        .into())
    })
    .await
}

/// `POST /ui/admin/additional`.
pub(crate) async fn additional(
    State(state): State<UiState>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    send_form(&state, &headers, &fields, |fields| {
        let representatives = match fields.get("representatives").map(|text| text.trim()) {
            None | Some("") => Vec::new(),
            Some(_) => id_list(fields, "representatives")?,
        };
        Ok(ControlCommandJson::SetAdditionalRepresentatives {
            account: number_field(fields, "account")?,
            representatives,
        }
        .into())
    })
    .await
}

/// `POST /ui/admin/controls`.
pub(crate) async fn controls(
    State(state): State<UiState>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    send_form(&state, &headers, &fields, |fields| {
        let mut settings = ControlSettingsJson::eu(
            text_field(fields, "scheme")?.to_owned(),
            text_field(fields, "calendar")?.to_owned(),
        );
        if let Some(minutes) = optional_number(fields, "transfer_delay_minutes")? {
            settings.transfer_delay_minutes = narrow("transfer_delay_minutes", minutes)?;
        }
        if let Some(days) = optional_number(fields, "trusted_activation_business_days")? {
            settings.trusted_activation_business_days =
                narrow("trusted_activation_business_days", days)?;
        }
        settings.max_transfer_quantity = optional_number(fields, "max_transfer_quantity")?;
        if let Some(opens) = optional_text(fields, "window_opens") {
            settings.window_opens = opens;
        }
        if let Some(closes) = optional_text(fields, "window_closes") {
            settings.window_closes = closes;
        }
        Ok(ControlCommandJson::SetControls(settings).into())
    })
    .await
}

fn select(name: &str, values: &[&str]) -> Markup {
    html! { select name=(name) { @for value in values { option value=(value) { (value.replace('_', " ")) } } } }
}

/// The forms, for the administration page.
pub(crate) fn forms(viewer: &Viewer<'_>, nonces: &mut Nonces) -> Markup {
    let back = "/ui/admin";
    html! {
        h2 { "Participants and accounts" }
        div.forms {
            form.card #participant method="post" action="/ui/admin/participant" {
                h3 { "Register a participant" }
                (hidden(viewer, nonces, back))
                label { "Id" input name="id" inputmode="numeric" required; }
                label { "Kind (verifier for a verifier)" (select("kind", &PARTICIPANT_KINDS)) }
                label { "Name" input name="name" required; }
                button type="submit" { "Register" }
            }
            form.card #open-account method="post" action="/ui/admin/account" {
                h3 { "Open an account" }
                (hidden(viewer, nonces, back))
                label { "Id" input name="id" inputmode="numeric" required; }
                label { "Kind" (select("kind", &ACCOUNT_KINDS)) }
                label { "Holder (participant id)" input name="holder" inputmode="numeric" required; }
                label { "Representatives (ids, comma-separated)" input name="representatives" required; }
                label { "Signatures required" input name="approvals_required" inputmode="numeric" value="1" required; }
                button type="submit" { "Open" }
            }
            form.card #account-status method="post" action="/ui/admin/status" {
                h3 { "Account status" }
                (hidden(viewer, nonces, back))
                label { "Account" input name="account" inputmode="numeric" required; }
                label { "Status" (select("status", &ACCOUNT_STATUSES)) }
                button type="submit" { "Set status" }
            }
            form.card #approval-rule method="post" action="/ui/admin/rule" {
                h3 { "Representatives and approval rule" }
                (hidden(viewer, nonces, back))
                label { "Account" input name="account" inputmode="numeric" required; }
                label { "Representatives (ids, comma-separated)" input name="representatives" required; }
                label { "Signatures required" input name="approvals_required" inputmode="numeric" required; }
                button type="submit" { "Set rule" }
            }
            form.card #additional method="post" action="/ui/admin/additional" {
                h3 { "Additional authorised representatives" }
                (hidden(viewer, nonces, back))
                label { "Account" input name="account" inputmode="numeric" required; }
                label { "Representatives who only approve (ids; empty for none)" input name="representatives"; }
                button type="submit" { "Set" }
            }
            form.card #controls method="post" action="/ui/admin/controls" {
                h3 { "Security controls of a scheme" }
                (hidden(viewer, nonces, back))
                label { "Scheme (unit code, e.g. EUA)" input name="scheme" required; }
                label { "Calendar" (select("calendar", &["eu-eex", "cn"])) }
                label { "Transfer delay, minutes (EU: 1560)" input name="transfer_delay_minutes" inputmode="numeric"; }
                label { "Trusted-list activation, business days (EU: 4)" input name="trusted_activation_business_days" inputmode="numeric"; }
                label { "Window opens (HH:MM local)" input name="window_opens" placeholder="10:00"; }
                label { "Window closes (HH:MM local)" input name="window_closes" placeholder="16:00"; }
                label { "Most units per transfer (empty: no limit)" input name="max_transfer_quantity" inputmode="numeric"; }
                button type="submit" { "Set controls" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_lists_are_read_and_bad_ones_named() {
        // Goal: "1, 2 3" is three ids; a non-number is refused naming it.
        let fields = Fields::from([("representatives".to_owned(), "1, 2 3".to_owned())]);
        assert_eq!(id_list(&fields, "representatives"), Ok(vec![1, 2, 3]));
        let bad = Fields::from([("representatives".to_owned(), "1,<x>".to_owned())]);
        assert!(
            id_list(&bad, "representatives")
                .expect_err("refused")
                .contains("\"<x>\"")
        );
    }
}
