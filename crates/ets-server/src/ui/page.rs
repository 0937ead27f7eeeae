//! The HTML of every page, rendered with maud (escaped by default). Forms
//! carry the session's CSRF token and a fresh request id (see `Nonces`).

use super::chart::price_chart;
use super::view::{
    AccountRow, AdminOverview, Dashboard, HoldingRow, PendingRow, TAPE_SHOWN_MAX, time_of_day,
};
use crate::users::Role;
use ets_api::{InstrumentMarketView, LevelView};
use maud::{DOCTYPE, Markup, html};

/// Who is looking, for the navigation and the forms.
pub(crate) struct Viewer<'a> {
    pub(crate) name: &'a str,
    pub(crate) role: Role,
    pub(crate) participant: u64,
    pub(crate) csrf: &'a str,
}

/// Request ids for the forms of one page: consecutive from a random start,
/// so each form sends its own id and sending a form twice repeats it.
pub(crate) struct Nonces {
    next: u64,
}

impl Nonces {
    /// Ids from `start` on.
    pub(crate) fn from(start: u64) -> Nonces {
        Nonces { next: start }
    }

    fn take(&mut self) -> u64 {
        let id = self.next;
        self.next = self.next.wrapping_add(1);
        id
    }
}

/// Ticks (one hundredth of the currency) as a decimal with two places and
/// grouped thousands.
pub(crate) fn price(ticks: i64) -> String {
    let sign = if ticks < 0 { "-" } else { "" };
    let magnitude = ticks.unsigned_abs();
    format!("{sign}{}.{:02}", tonnes(magnitude / 100), magnitude % 100)
}

/// A whole number with thin groups of three digits.
pub(crate) fn tonnes(quantity: u64) -> String {
    let digits = quantity.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

/// An instant (ms since the Unix epoch) as `YYYY-MM-DD HH:MM:SS` in UTC.
pub(crate) fn moment(ms: i64) -> String {
    let text = ets_api::format_time(ets_model::Timestamp(ms));
    match text.get(..19) {
        Some(head) if text.as_bytes().get(10) == Some(&b'T') => head.replacen('T', " ", 1),
        _ => text,
    }
}

const STYLESHEET: &str = "/ui/static/ui.css";

/// The frame of every page.
pub(crate) fn layout(title: &str, viewer: Option<&Viewer<'_>>, body: &Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · openets" }
                link rel="stylesheet" href=(STYLESHEET);
            }
            body {
                header {
                    nav {
                        a.brand href="/ui" { "openets" }
                        a href="/ui/market" { "Market" }
                        a href="/ui/compliance" { "Compliance" }
                        a href="/ui/public" { "Public reports" }
                        @if let Some(viewer) = viewer {
                            a href="/ui/inbox" { "Inbox" }
                            a href="/ui/search" { "Search" }
                            @if viewer.role == Role::Administrator {
                                a href="/ui/admin" { "Administration" }
                            }
                            @if matches!(viewer.role, Role::Verifier | Role::Administrator | Role::Auditor) {
                                a href="/ui/reports" { "Reports" }
                            }
                            form.inline method="post" action="/ui/logout" {
                                input type="hidden" name="csrf" value=(viewer.csrf);
                                button.link type="submit" { "Sign out " (viewer.name) }
                            }
                        } @else {
                            a href="/ui/login" { "Sign in" }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

pub(crate) fn hidden(viewer: &Viewer<'_>, nonces: &mut Nonces, back: &str) -> Markup {
    html! {
        input type="hidden" name="csrf" value=(viewer.csrf);
        input type="hidden" name="request_id" value=(nonces.take());
        input type="hidden" name="back" value=(back);
    }
}

/// The sign-in form, with an error when the last try failed.
pub(crate) fn login(error: Option<&str>) -> Markup {
    let body = html! {
        @if let Some(error) = error {
            p.error role="alert" { (error) }
        }
        form.card method="post" action="/ui/login" {
            label { "User name" input name="name" autocomplete="username" required; }
            label { "Password" input name="password" type="password" autocomplete="current-password" required; }
            button type="submit" { "Sign in" }
        }
    };
    layout("Sign in", None, &body)
}

/// The home page of someone not signed in.
pub(crate) fn welcome() -> Markup {
    let body = html! {
        p { "The registry, compliance cycle and exchange of an emissions trading scheme." }
        ul {
            li { a href="/ui/market" { "Market statistics" } ": books, trades and prices." }
            li { a href="/ui/compliance" { "Compliance results" } " per covered entity." }
            li { a href="/ui/public" { "Public reports" } " per scheme and year, with the journal's hashes, as CSV and JSON too." }
            li { a href="/ui/login" { "Sign in" } " to manage accounts." }
        }
    };
    layout("openets", None, &body)
}

fn holdings_table(holdings: &[HoldingRow]) -> Markup {
    html! {
        @if holdings.is_empty() {
            p.muted { "No units held." }
        } @else {
            div.scroll {
                table.holdings {
                    thead { tr { th { "Unit" } th.num { "Total" } th.num { "Reserved" } th.num { "Available" } th { "Serial blocks" } } }
                    tbody {
                        @for holding in holdings {
                            tr {
                                td { (holding.unit) }
                                td.num data-unit=(holding.unit) data-field="total" { (tonnes(holding.total)) }
                                td.num { (tonnes(holding.reserved)) }
                                td.num data-unit=(holding.unit) data-field="available" { (tonnes(holding.available)) }
                                td.blocks {
                                    (holding.blocks.join(", "))
                                    @if holding.more_blocks > 0 { " and " (holding.more_blocks) " more" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One account's card: who holds it, its rule and holdings.
pub(crate) fn account_card(account: &AccountRow) -> Markup {
    html! {
        section.card id=(format!("account-{}", account.id)) {
            h3 { a href=(format!("/ui/accounts/{}", account.id)) { "Account " (account.id) } " · " (account.kind) }
            p {
                (super::statement::link(account.id)) " · "
                a.holdings-csv href=(format!("/ui/accounts/{}/holdings.csv", account.id)) download { "Holdings as CSV" }
            }
            p.muted {
                "Holder " (account.holder_name) " (" (account.holder) "), " (account.status)
                ", " (account.approvals_required) " of " (account.representatives.len()) " representatives must sign"
                @if account.cash_available != 0 || account.cash_held != 0 {
                    "; cash " (price(account.cash_available)) " available, " (price(account.cash_held)) " held"
                }
            }
            (holdings_table(&account.holdings))
        }
    }
}

fn options(values: &[String]) -> Markup {
    html! { @for value in values { option value=(value) { (value) } } }
}

fn transfer_form(viewer: &Viewer<'_>, nonces: &mut Nonces, dashboard: &Dashboard) -> Markup {
    let sources: Vec<String> = dashboard
        .accounts
        .iter()
        .map(|a| a.id.to_string())
        .collect();
    html! {
        form.card id="transfer" method="post" action="/ui/transfer/confirm" {
            h3 { "Propose a transfer" }
            (hidden(viewer, nonces, "/ui"))
            label { "From account" select name="from" { (options(&sources)) } }
            label { "To account" input name="to" inputmode="numeric" required; }
            label { "Unit" select name="unit" { (options(&dashboard.units)) } }
            label { "Quantity (t)" input name="quantity" inputmode="numeric" required; }
            button type="submit" { "Review transfer" }
        }
    }
}

fn surrender_form(viewer: &Viewer<'_>, nonces: &mut Nonces, dashboard: &Dashboard) -> Markup {
    let sources: Vec<String> = dashboard
        .accounts
        .iter()
        .map(|a| a.id.to_string())
        .collect();
    html! {
        form.card id="surrender" method="post" action="/ui/surrender" {
            h3 { "Surrender" }
            (hidden(viewer, nonces, "/ui"))
            label { "From account" select name="from" { (options(&sources)) } }
            label { "Unit" select name="unit" { (options(&dashboard.units)) } }
            label { "Quantity (t)" input name="quantity" inputmode="numeric" required; }
            label { "Compliance year" input name="compliance_year" inputmode="numeric" required; }
            button type="submit" { "Surrender" }
        }
    }
}

fn pending_table(viewer: &Viewer<'_>, nonces: &mut Nonces, pending: &[PendingRow]) -> Markup {
    html! {
        @if pending.is_empty() {
            p.muted { "Nothing awaits approval." }
        } @else {
            div.scroll {
                p { a #download-pending href="/ui/pending.csv" download { "Download (CSV)" } }
                table #pending {
                    thead { tr { th { "Id" } th { "What" } th.num { "Quantity" } th { "From → to" } th { "Signed" } th { "Decide" } } }
                    tbody {
                        @for row in pending {
                            tr id=(format!("pending-{}", row.id)) {
                                td { a href=(format!("/ui/transactions/{}", row.id)) { (row.id) } }
                                td { (row.kind) " " (row.unit) }
                                td.num { (tonnes(row.quantity)) }
                                td { (row.from) " → " (row.to) }
                                td { "proposed by " (row.proposer)
                                    @for approval in &row.approvals { ", approved by " (approval) }
                                    " (" (row.approvals_required) " needed)" }
                                td.actions {
                                    @for (decision, label) in [("approve", "Approve"), ("reject", "Reject"), ("withdraw", "Withdraw")].into_iter().filter(|(decision, _)| row.decisions.contains(decision)) {
                                        form.inline method="post" action="/ui/decide" {
                                            (hidden(viewer, nonces, "/ui"))
                                            input type="hidden" name="transaction" value=(row.id);
                                            input type="hidden" name="decision" value=(decision);
                                            button type="submit" name="go" value=(decision) { (label) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A signed-in user's home.
pub(crate) fn dashboard(viewer: &Viewer<'_>, nonces: &mut Nonces, dashboard: &Dashboard) -> Markup {
    let body = html! {
        p {
            "Signed in as " strong { (viewer.name) } " (" (viewer.role) "), acting as participant "
            (viewer.participant)
            @if let Some(name) = &dashboard.participant_name { " (" (name) ")" }
            "."
        }
        h2 { "Accounts" }
        @if dashboard.accounts.is_empty() {
            p.muted { "Your participant represents no account." }
        }
        @for account in &dashboard.accounts { (account_card(account)) }
        h2 { "Awaiting approval" }
        (pending_table(viewer, nonces, &dashboard.pending))
        @if viewer.role.may_write() {
            div.forms {
                (transfer_form(viewer, nonces, dashboard))
                (surrender_form(viewer, nonces, dashboard))
            }
        }
    };
    layout("Your accounts", Some(viewer), &body)
}

/// One account.
pub(crate) fn account(viewer: &Viewer<'_>, account: &AccountRow, trusted: &Markup) -> Markup {
    let body = html! { (account_card(account)) (trusted) };
    layout(&format!("Account {}", account.id), Some(viewer), &body)
}

fn unit_input(units: &[String]) -> Markup {
    html! {
        input name="unit" list="units" placeholder="CEA-2021" required;
        datalist id="units" { (options(units)) }
    }
}

/// The administrator's page.
pub(crate) fn admin(viewer: &Viewer<'_>, nonces: &mut Nonces, overview: &AdminOverview) -> Markup {
    let units: Vec<String> = overview.units.iter().map(|u| u.unit.clone()).collect();
    let body = html! {
        div.forms {
            form.card id="issue" method="post" action="/ui/admin/issue" {
                h3 { "Issue" }
                (hidden(viewer, nonces, "/ui/admin"))
                label { "Unit" (unit_input(&units)) }
                label { "Quantity (t)" input name="quantity" inputmode="numeric" required; }
                button type="submit" { "Issue" }
            }
            form.card id="allocate" method="post" action="/ui/admin/allocate" {
                h3 { "Allocate" }
                (hidden(viewer, nonces, "/ui/admin"))
                label { "To account" input name="to" inputmode="numeric" required; }
                label { "Unit" (unit_input(&units)) }
                label { "Quantity (t)" input name="quantity" inputmode="numeric" required; }
                button type="submit" { "Allocate" }
            }
        }
        (super::admin::forms(viewer, nonces))
        h2 { "Units issued" }
        @if overview.units.is_empty() { p.muted { "Nothing issued yet." } } @else {
            table { thead { tr { th { "Unit" } th.num { "Issued (t)" } } }
                tbody { @for unit in &overview.units { tr { td { (unit.unit) } td.num { (tonnes(unit.issued)) } } } } }
        }
        h2 { "Compliance" }
        p { a href="/ui/compliance" { "Compliance results" } ", filtered by scheme, year, status and entity." }
        h2 { "Accounts" }
        p { a #accounts-csv href="/ui/admin/accounts.csv" download { "Download the accounts as CSV" } }
        div.scroll {
            table #accounts {
                thead { tr { th { "Account" } th { "Kind" } th { "Holder" } th { "Status" } th { "Rule" } th { "Holdings" } } }
                tbody {
                    @for account in &overview.accounts {
                        tr {
                            td { a href=(format!("/ui/accounts/{}", account.id)) { (account.id) } }
                            td { (account.kind) }
                            td { (account.holder_name) " (" (account.holder) ")" }
                            td { (account.status) }
                            td { (account.approvals_required) " of " (account.representatives.len()) }
                            td { @for holding in &account.holdings { (holding.unit) ": " (tonnes(holding.total)) " " } }
                        }
                    }
                }
            }
        }
        @if overview.accounts_left_out > 0 {
            p.muted { (overview.accounts_left_out) " more accounts are not listed." }
        }
    };
    layout("Administration", Some(viewer), &body)
}

fn book_side(title: &str, levels: &[LevelView]) -> Markup {
    html! {
        table.book {
            caption { (title) }
            thead { tr { th.num { "Price" } th.num { "Tonnes" } th.num { "Orders" } } }
            tbody {
                @if levels.is_empty() { tr { td colspan="3" { "—" } } }
                @for level in levels {
                    tr { td.num { (price(level.price_ticks)) } td.num { (tonnes(level.quantity)) } td.num { (level.orders) } }
                }
            }
        }
    }
}

fn optional_price(ticks: Option<i64>) -> String {
    ticks.map_or_else(|| "—".to_owned(), price)
}

/// One instrument's card, from ets-api's public market view: its chart draws
/// every trade the view lists (oldest first), its table the latest few.
fn instrument(view: &InstrumentMarketView) -> Markup {
    let chart_prices_ticks: Vec<i64> = view
        .recent_trades
        .iter()
        .rev()
        .map(|trade| trade.price_ticks)
        .collect();
    let recent = &view.recent_trades[..view.recent_trades.len().min(TAPE_SHOWN_MAX)];
    html! {
        section.card id=(format!("instrument-{}", view.symbol)) {
            h2 { (view.symbol) }
            @if let Some(stats) = &view.stats {
                dl.stats {
                    dt { "Last" } dd { (optional_price(stats.last_ticks)) }
                    dt { "Open" } dd { (price(stats.open_ticks)) }
                    dt { "High" } dd { (optional_price(stats.high_ticks)) }
                    dt { "Low" } dd { (optional_price(stats.low_ticks)) }
                    dt { "VWAP" } dd { (optional_price(stats.vwap_ticks)) }
                    dt { "Previous close" } dd { (price(stats.previous_close_ticks)) }
                    dt { "Volume (t)" } dd { (tonnes(stats.volume)) }
                    dt { "Turnover" } dd { (price(stats.turnover_minor_units)) }
                    dt { "Trades" } dd { (stats.trades) }
                }
            }
            @if let Some(bids) = &view.bids {
                div.book-sides {
                    (book_side("Bids", bids))
                    (book_side("Asks", &view.asks))
                }
            } @else {
                p.muted { "Block trades are agreed bilaterally; there is no public book." }
            }
            (price_chart(&view.symbol, &chart_prices_ticks))
            @if !recent.is_empty() {
                table.trades {
                    caption { "Recent trades" }
                    thead { tr { th { "Time (UTC)" } th.num { "Price" } th.num { "Tonnes" } } }
                    tbody { @for trade in recent {
                        tr { td { (time_of_day(&trade.at)) } td.num { (price(trade.price_ticks)) } td.num { (tonnes(trade.quantity)) } }
                    } }
                }
            }
        }
    }
}

/// The market page: every instrument's book, figures, chart and trades.
pub(crate) fn market(viewer: Option<&Viewer<'_>>, instruments: &[InstrumentMarketView]) -> Markup {
    let body = html! {
        @if instruments.is_empty() { p.muted { "No instrument is listed." } } @else {
            p { a #market-csv href="/ui/market.csv" download { "Download the trades and books as CSV" } }
        }
        @for view in instruments { (instrument(view)) }
    };
    layout("Market", viewer, &body)
}

/// What came of a command sent from a form.
pub(crate) struct Outcome<'a> {
    pub(crate) accepted: bool,
    pub(crate) duplicate: bool,
    pub(crate) code: Option<&'a str>,
    pub(crate) message: Option<&'a str>,
    pub(crate) details: Vec<(String, String)>,
}

/// The page after a form was sent.
pub(crate) fn outcome(viewer: Option<&Viewer<'_>>, outcome: &Outcome<'_>, back: &str) -> Markup {
    let title = if outcome.accepted { "Done" } else { "Refused" };
    let body = html! {
        @if outcome.accepted {
            p.ok role="status" id="outcome" { "Accepted." }
        } @else {
            p.error role="alert" id="outcome" {
                @if let Some(code) = outcome.code { code { (code) } ": " }
                @if let Some(message) = outcome.message { (message) }
            }
        }
        @if outcome.duplicate {
            p.muted { "This form had been sent before; this is the outcome of the first time." }
        }
        @if !outcome.details.is_empty() {
            dl { @for (key, value) in &outcome.details { dt { (key) } dd { (value) } } }
        }
        p { a href=(back) id="back" { "Back" } }
    };
    layout(title, viewer, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_and_tonnes_are_formatted_for_people() {
        // Goal: ticks print with two decimals, tonnes with thousands separators.
        assert_eq!(price(5012), "50.12");
        assert_eq!(price(-5), "-0.05");
        assert_eq!(price(302_000), "3,020.00");
        assert_eq!(tonnes(0), "0");
        assert_eq!(tonnes(1_234_567), "1,234,567");
        assert_eq!(tonnes(100), "100");
        assert_eq!(moment(1_767_225_600_000), "2026-01-01 00:00:00");
    }

    #[test]
    fn text_is_escaped() {
        // Goal: names from the registry cannot inject markup.
        let page = login(Some("<script>x</script>")).into_string();
        assert!(page.contains("&lt;script&gt;"), "{page}");
        assert!(!page.contains("<script>x"));
    }
}
