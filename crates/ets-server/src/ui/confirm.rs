//! The confirmation step before a transfer (`POST /ui/transfer/confirm`):
//! the dashboard's transfer form comes here first, and the page shows the
//! recipient's account and holder's name, whether the recipient is on the
//! sender's trusted list, and the delay the transfer will get under its
//! scheme's security controls (docs/registry-controls.md). Its button sends
//! the same fields, with the same request id, to `/ui/transfer`; nothing is
//! proposed before that.

use super::page::{Viewer, layout, moment, tonnes};
use super::{Fields, UiState, check_form, number_field, problem, read_store, text_field};
use crate::clock::ServerClock;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ets_model::{AccountId, Timestamp, UnitClass};
use ets_registry::TrustedStatus;
use ets_store::Store;
use maud::{Markup, html};

/// What the transfer will be, as the engine knows it now.
#[derive(Debug, Clone)]
pub(crate) struct Preview {
    pub(crate) from: u64,
    pub(crate) from_holder: String,
    pub(crate) to: u64,
    pub(crate) to_holder: String,
    pub(crate) to_kind: &'static str,
    pub(crate) to_status: &'static str,
    /// The recipient's entry on the sender's trusted list, if any, now.
    pub(crate) trusted: Option<TrustedStatus>,
    /// Whether transfers to it skip the delay now.
    pub(crate) counts_as_trusted: bool,
    /// The scheme's delay for recipients outside the list, minutes; `None` without controls.
    pub(crate) delay_minutes: Option<u32>,
    /// The business window, local minutes of the day, when the scheme sets one.
    pub(crate) window: Option<(u16, u16)>,
    pub(crate) now: i64,
}

/// The time the store would stamp a command with now, by the server's `clock`.
fn store_now(clock: ServerClock, store: &Store) -> Timestamp {
    if store.kind().is_live() {
        crate::http::server_now(clock, store)
    } else {
        store.clock()
    }
}

/// The preview of a transfer of `class` from `from` to `to`, or the refusal's code and message.
pub(crate) fn preview(
    store: &Store,
    clock: ServerClock,
    from: u64,
    to: u64,
    class: &UnitClass,
) -> Result<Preview, (&'static str, String)> {
    let registry = store.engine().registry();
    let account = |id: u64| {
        registry
            .account(AccountId(id))
            .map_err(|_| ("unknown_account", format!("account {id} does not exist")))
    };
    let (sender, recipient) = (account(from)?, account(to)?);
    let holder = |id| {
        registry
            .participant(id)
            .map_or_else(|_| String::new(), |p| p.name.clone())
    };
    let now = store_now(clock, store);
    let controls = registry.controls();
    let trusted = controls
        .trusted_list(sender.id)
        .find(|(account, _)| *account == recipient.id)
        .map(|(_, entry)| entry.status(now));
    let settings = controls.settings(ets_registry::scheme_code(class));
    Ok(Preview {
        from,
        from_holder: holder(sender.holder),
        to,
        to_holder: holder(recipient.holder),
        to_kind: recipient.kind.name(),
        to_status: recipient.status.name(),
        trusted,
        counts_as_trusted: controls.is_trusted(sender.id, recipient.id, now),
        delay_minutes: settings.map(|s| s.transfer_delay_minutes),
        window: settings.map(|s| (s.window_opens_minute, s.window_closes_minute)),
        now: now.0,
    })
}

/// `POST /ui/transfer/confirm`.
pub(crate) async fn page(
    State(state): State<UiState>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    let user = match check_form(&state, &headers, &fields) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let viewer = user.viewer();
    let parsed = (|| -> Result<(u64, u64, String, u64, u64, UnitClass), String> {
        let unit = text_field(&fields, "unit")?.to_owned();
        let class = ets_api::parse_unit_class(&unit)?;
        Ok((
            number_field(&fields, "from")?,
            number_field(&fields, "to")?,
            unit,
            number_field(&fields, "quantity")?,
            number_field(&fields, "request_id")?,
            class,
        ))
    })();
    let (from, to, unit, quantity, request_id, class) = match parsed {
        Ok(parsed) => parsed,
        Err(message) => {
            return problem(
                StatusCode::BAD_REQUEST,
                Some(&viewer),
                "malformed_form",
                &message,
                "/ui",
            );
        }
    };
    let clock = state.server.clock;
    let found = match read_store(&state, move |store| preview(store, clock, from, to, &class)).await
    {
        Ok(found) => found,
        Err(response) => return response,
    };
    match found {
        Ok(preview) => {
            let body = render(&viewer, &preview, &unit, quantity, request_id);
            super::html(
                StatusCode::OK,
                layout("Confirm the transfer", Some(&viewer), &body),
            )
        }
        Err((code, message)) => {
            problem(StatusCode::NOT_FOUND, Some(&viewer), code, &message, "/ui")
        }
    }
}

fn hours(minutes: u32) -> String {
    if minutes.is_multiple_of(60) {
        format!("{} hours", minutes / 60)
    } else {
        format!("{} hours {} minutes", minutes / 60, minutes % 60)
    }
}

fn clock(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

fn trust_text(preview: &Preview) -> String {
    match (preview.trusted, preview.counts_as_trusted) {
        (_, true) => format!(
            "Yes: account {} is on account {}'s trusted list.",
            preview.to, preview.from
        ),
        (Some(status), false) => format!(
            "Not yet: account {} is on account {}'s trusted list but {} (not active).",
            preview.to,
            preview.from,
            status.name().replace('_', " ")
        ),
        (None, false) => format!(
            "No: account {} is not on account {}'s trusted list.",
            preview.to, preview.from
        ),
    }
}

fn delay_text(preview: &Preview) -> String {
    match preview.delay_minutes {
        None => "None: this unit's scheme sets no security controls; the transfer completes once signed.".to_owned(),
        Some(_) if preview.counts_as_trusted => {
            "None: a transfer to a trusted account completes when initiated.".to_owned()
        }
        Some(minutes) => format!(
            "{} after initiation; until then it can be cancelled and its units stay reserved.",
            hours(minutes)
        ),
    }
}

fn render(
    viewer: &Viewer<'_>,
    preview: &Preview,
    unit: &str,
    quantity: u64,
    request_id: u64,
) -> Markup {
    html! {
        p { "Check the recipient before you send. Nothing has been proposed yet." }
        dl.detail #confirmation {
            dt { "From account" } dd { (preview.from) " (" (preview.from_holder) ")" }
            dt { "To account" } dd #recipient { (preview.to) " (" (preview.to_holder) "), " (preview.to_kind) ", " (preview.to_status) }
            dt { "Units" } dd { (tonnes(quantity)) " t of " (unit) }
            dt { "Trusted" } dd #trusted { (trust_text(preview)) }
            dt { "Delay" } dd #delay { (delay_text(preview)) }
            @if let Some((opens, closes)) = preview.window {
                dt { "Initiation" } dd { "When the last signature arrives, within the business window ("
                    (clock(opens)) " to " (clock(closes)) " local time on business days), else at its next opening." }
            }
            dt { "As of" } dd { (moment(preview.now)) " UTC" }
        }
        form.card #confirm method="post" action="/ui/transfer" {
            input type="hidden" name="csrf" value=(viewer.csrf);
            input type="hidden" name="request_id" value=(request_id);
            input type="hidden" name="back" value="/ui";
            input type="hidden" name="from" value=(preview.from);
            input type="hidden" name="to" value=(preview.to);
            input type="hidden" name="unit" value=(unit);
            input type="hidden" name="quantity" value=(quantity);
            button type="submit" { "Confirm transfer" }
            " "
            a href="/ui" { "Change or cancel" }
        }
    }
}
