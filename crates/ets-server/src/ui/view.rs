//! What the pages show, read from the engine on the sequencer thread into
//! plain values (so rendering happens elsewhere and writes wait as little as
//! possible). Every list has a limit; what is left out is counted.

use crate::users::Principal;
use ets_engine::Engine;
use ets_model::{AccountId, ParticipantId};
use ets_registry::{Account, Registry, Transaction};

/// The most accounts one page lists.
pub(crate) const ACCOUNTS_LISTED_MAX: usize = 500;
/// How many of the latest transactions are searched for pending ones.
pub(crate) const PENDING_SCAN_MAX: usize = 100_000;
/// The most serial blocks shown per holding.
pub(crate) const BLOCKS_SHOWN_MAX: usize = 20;
/// The most recent trades listed per instrument.
pub(crate) const TAPE_SHOWN_MAX: usize = 20;
/// The most reports read for one page (its table is paged and counted).
pub(crate) const REPORTS_READ_MAX: usize = 1_000_000;

/// One unit class held by an account.
#[derive(Debug, Clone)]
pub(crate) struct HoldingRow {
    pub(crate) unit: String,
    pub(crate) total: u64,
    pub(crate) reserved: u64,
    pub(crate) available: u64,
    pub(crate) blocks: Vec<String>,
    pub(crate) more_blocks: usize,
}

/// An account with its holdings.
#[derive(Debug, Clone)]
pub(crate) struct AccountRow {
    pub(crate) id: u64,
    pub(crate) kind: &'static str,
    pub(crate) status: &'static str,
    pub(crate) holder: u64,
    pub(crate) holder_name: String,
    pub(crate) representatives: Vec<u64>,
    pub(crate) approvals_required: u8,
    pub(crate) holdings: Vec<HoldingRow>,
    /// Exchange cash, minor units: available and held.
    pub(crate) cash_available: i64,
    pub(crate) cash_held: i64,
}

/// A transaction waiting for approval.
#[derive(Debug, Clone)]
pub(crate) struct PendingRow {
    pub(crate) id: u64,
    pub(crate) kind: &'static str,
    pub(crate) unit: String,
    pub(crate) quantity: u64,
    pub(crate) from: u64,
    pub(crate) to: u64,
    pub(crate) proposer: u64,
    pub(crate) approvals: Vec<u64>,
    pub(crate) approvals_required: u8,
    /// The decisions the signed-in user may send on it.
    pub(crate) decisions: Vec<&'static str>,
}

/// A signed-in user's home: their participant, the accounts it represents and
/// the transactions pending on them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Dashboard {
    pub(crate) participant_name: Option<String>,
    pub(crate) accounts: Vec<AccountRow>,
    pub(crate) pending: Vec<PendingRow>,
    pub(crate) units: Vec<String>,
}

/// An issued unit class.
#[derive(Debug, Clone)]
pub(crate) struct UnitRow {
    pub(crate) unit: String,
    pub(crate) issued: u64,
}

/// The administrator's overview.
#[derive(Debug, Clone, Default)]
pub(crate) struct AdminOverview {
    pub(crate) accounts: Vec<AccountRow>,
    pub(crate) accounts_left_out: usize,
    pub(crate) units: Vec<UnitRow>,
}

fn unit_name(registry: &Registry, class_index: u32) -> String {
    registry
        .class(class_index)
        .map_or_else(|| format!("#{class_index}"), ToString::to_string)
}

fn participant_name(registry: &Registry, id: ParticipantId) -> String {
    registry
        .participant(id)
        .map_or_else(|_| format!("participant {}", id.0), |p| p.name.clone())
}

fn account_row(engine: &Engine, account: &Account) -> AccountRow {
    let registry = engine.registry();
    let holdings = account
        .holdings()
        .filter(|(_, holding)| !holding.total().is_zero())
        .map(|(class_index, holding)| HoldingRow {
            unit: unit_name(registry, class_index),
            total: holding.total().tonnes(),
            reserved: holding.reserved().tonnes(),
            available: holding.available().tonnes(),
            blocks: holding
                .blocks()
                .take(BLOCKS_SHOWN_MAX)
                .map(|block| block.to_string())
                .collect(),
            more_blocks: holding.block_count().saturating_sub(BLOCKS_SHOWN_MAX),
        })
        .collect();
    let cash = engine.exchange().cash(account.id);
    AccountRow {
        id: account.id.0,
        kind: account.kind.name(),
        status: account.status.name(),
        holder: account.holder.0,
        holder_name: participant_name(registry, account.holder),
        representatives: account.rule.representatives.iter().map(|p| p.0).collect(),
        approvals_required: account.rule.approvals_required,
        holdings,
        cash_available: cash.available.minor_units(),
        cash_held: cash.held.minor_units(),
    }
}

fn pending_row(engine: &Engine, transaction: &Transaction, principal: &Principal) -> PendingRow {
    let registry = engine.registry();
    let approvals_required = registry
        .account(transaction.from)
        .map_or(1, |account| account.rule.approvals_required);
    PendingRow {
        id: transaction.id.0,
        kind: transaction.kind.name(),
        unit: unit_name(registry, transaction.class_index),
        quantity: transaction.quantity.tonnes(),
        from: transaction.from.0,
        to: transaction.to.0,
        proposer: transaction.proposer.0,
        approvals: transaction.approvals.iter().map(|p| p.0).collect(),
        approvals_required,
        decisions: super::transaction::decisions(engine, transaction, principal),
    }
}

/// Whether `participant` may look at `account`: its holder or one of its
/// representatives. (Administrators and auditors see every account; the
/// caller decides that from the user's role.)
pub(crate) fn may_see(account: &Account, participant: ParticipantId) -> bool {
    account.holder == participant || account.rule.is_representative(participant)
}

/// The home of a participant's user.
pub(crate) fn dashboard(engine: &Engine, principal: &Principal) -> Dashboard {
    let participant = principal.participant;
    let registry = engine.registry();
    let accounts: Vec<&Account> = registry
        .accounts()
        .filter(|account| may_see(account, participant))
        .take(ACCOUNTS_LISTED_MAX)
        .collect();
    let ids: Vec<AccountId> = accounts.iter().map(|account| account.id).collect();
    let pending = registry
        .transactions()
        .rev()
        .take(PENDING_SCAN_MAX)
        .filter(|t| t.is_pending() && (ids.contains(&t.from) || ids.contains(&t.to)))
        .map(|t| pending_row(engine, t, principal))
        .collect();
    Dashboard {
        participant_name: registry
            .participant(participant)
            .ok()
            .map(|p| p.name.clone()),
        accounts: accounts.iter().map(|a| account_row(engine, a)).collect(),
        pending,
        units: registry
            .classes()
            .map(|(_, class)| class.to_string())
            .collect(),
    }
}

/// One account, if it exists, and whether `participant` may see it.
pub(crate) fn account(
    engine: &Engine,
    id: AccountId,
    participant: ParticipantId,
) -> Option<(AccountRow, bool)> {
    let account = engine.registry().account(id).ok()?;
    Some((account_row(engine, account), may_see(account, participant)))
}

/// The administrator's overview: every account (up to the limit) and the
/// unit classes issued.
pub(crate) fn admin_overview(engine: &Engine) -> AdminOverview {
    let registry = engine.registry();
    let total = registry.accounts().count();
    AdminOverview {
        accounts: registry
            .accounts()
            .take(ACCOUNTS_LISTED_MAX)
            .map(|account| account_row(engine, account))
            .collect(),
        accounts_left_out: total.saturating_sub(ACCOUNTS_LISTED_MAX),
        units: registry
            .classes()
            .map(|(index, class)| UnitRow {
                unit: class.to_string(),
                issued: registry.issued_quantity(index).tonnes(),
            })
            .collect(),
    }
}

/// `HH:MM:SS` of an RFC 3339 time (the market page shows one day), or the
/// whole text when it has no such part.
pub(crate) fn time_of_day(rfc3339: &str) -> String {
    rfc3339
        .get(11..19)
        .filter(|time| time.as_bytes().get(2) == Some(&b':'))
        .unwrap_or(rfc3339)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trade_times_show_the_time_of_day() {
        // Goal: the market page's trade times keep HH:MM:SS of RFC 3339 text.
        assert_eq!(time_of_day("2026-11-28T18:51:57.203Z"), "18:51:57");
        assert_eq!(time_of_day("12ms"), "12ms");
    }
}
