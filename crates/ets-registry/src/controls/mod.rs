//! Registry security controls, the ones registries adopted after the
//! 2010-2011 EU registry thefts (docs/registry-controls.md): a trusted
//! account list per account, a delay on transfers to accounts outside it, a
//! business window for initiating transfers, additional authorised
//! representatives who only approve, and a per-transfer quantity limit.
//!
//! They are configured per scheme (the unit code, `EUA`, `CEA`) by a
//! journaled command whose settings carry the holiday calendar's TOML text,
//! so the engine stays pure. A scheme without settings has none of these
//! controls. The state lives beside the registry's and is encoded after the
//! engine's other state only when something was configured, so journals
//! written before the controls existed replay to their recorded hashes.

mod delay;
mod settings;
mod trusted;
mod window;

pub use settings::{CALENDAR_TOML_MAX_BYTES, ControlSettings, DELAY_MAX_MINUTES};
pub use trusted::{TrustedEntry, TrustedStatus};

use crate::error::RegistryError;
use ets_model::{AccountId, Code, ParticipantId, Timestamp, TransactionId, UnitClass};
use ets_time::HolidayCalendar;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One scheme's settings with its calendar parsed from them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SchemeControls {
    settings: ControlSettings,
    /// Parsed from `settings.calendar_toml`; rebuilt after decoding.
    #[serde(skip)]
    calendar: Option<HolidayCalendar>,
}

/// When a delayed transfer was initiated and when it completes. Fixed at
/// initiation: a later configuration change never shortens it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delay {
    /// The instant the transfer was initiated (its approval, snapped to the business window).
    pub initiated_at: Timestamp,
    /// The instant it completes unless cancelled before.
    pub ends_at: Timestamp,
    /// Whether the recipient was on the sender's trusted list at initiation.
    pub trusted: bool,
}

/// The security controls' state: settings per scheme, trusted lists,
/// additional representatives and the delays of transfers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Controls {
    schemes: BTreeMap<Code, SchemeControls>,
    /// Per (account, trusted account): the entry.
    trusted: BTreeMap<(AccountId, AccountId), TrustedEntry>,
    /// Per account: its additional authorised representatives, sorted.
    additional: BTreeMap<AccountId, Vec<ParticipantId>>,
    /// Every transfer that was delayed or queued, by id (kept after it ends, for its detail).
    delays: BTreeMap<TransactionId, Delay>,
    /// The delays still running, by end.
    due: BTreeSet<(Timestamp, TransactionId)>,
}

impl Controls {
    /// Whether nothing was ever configured (the state then is not encoded).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Controls::default()
    }

    /// Parses the calendars again after decoding.
    ///
    /// # Errors
    /// [`RegistryError::BadControls`] if a stored calendar no longer parses (a bug).
    pub fn rehydrate(&mut self) -> Result<(), RegistryError> {
        for (scheme, controls) in &mut self.schemes {
            controls.calendar = Some(controls.settings.calendar(scheme)?);
        }
        Ok(())
    }

    /// The settings of a scheme, if it has any.
    #[must_use]
    pub fn settings(&self, scheme: &Code) -> Option<&ControlSettings> {
        self.schemes.get(scheme).map(|controls| &controls.settings)
    }

    /// The schemes with settings, by code.
    pub fn schemes(&self) -> impl Iterator<Item = (&Code, &ControlSettings)> {
        self.schemes
            .iter()
            .map(|(code, controls)| (code, &controls.settings))
    }

    fn scheme_of(&self, class: &UnitClass) -> Option<(&ControlSettings, &HolidayCalendar)> {
        let code = scheme_code(class);
        let controls = self.schemes.get(code)?;
        Some((&controls.settings, controls.calendar.as_ref()?))
    }

    /// The entries of an account's trusted list, by trusted account.
    pub fn trusted_list(
        &self,
        account: AccountId,
    ) -> impl Iterator<Item = (AccountId, &TrustedEntry)> {
        self.trusted
            .range((account, AccountId(0))..=(account, AccountId(u64::MAX)))
            .map(|((_, trusted), entry)| (*trusted, entry))
    }

    /// Whether `to` is on `from`'s trusted list and active at `at`.
    #[must_use]
    pub fn is_trusted(&self, from: AccountId, to: AccountId, at: Timestamp) -> bool {
        self.trusted
            .get(&(from, to))
            .is_some_and(|entry| entry.counts_as_trusted(at))
    }

    /// The additional authorised representatives of an account (approve only).
    #[must_use]
    pub fn additional_representatives(&self, account: AccountId) -> &[ParticipantId] {
        self.additional.get(&account).map_or(&[], Vec::as_slice)
    }

    /// Whether `participant` is an additional authorised representative of `account`.
    #[must_use]
    pub fn is_additional(&self, account: AccountId, participant: ParticipantId) -> bool {
        self.additional_representatives(account)
            .binary_search(&participant)
            .is_ok()
    }

    /// The delay of a transfer, if it was delayed or queued.
    #[must_use]
    pub fn delay(&self, transaction: TransactionId) -> Option<&Delay> {
        self.delays.get(&transaction)
    }

    /// The delays still running, by end instant.
    pub fn running_delays(&self) -> impl Iterator<Item = (TransactionId, &Delay)> {
        self.due
            .iter()
            .filter_map(|(_, id)| Some((*id, self.delays.get(id)?)))
    }
}

/// The code that picks a class's scheme settings: an allowance's scheme, an offset's standard.
#[must_use]
pub fn scheme_code(class: &UnitClass) -> &Code {
    match class {
        UnitClass::Allowance { scheme, .. } => scheme,
        UnitClass::Offset { standard, .. } => standard,
    }
}

#[cfg(test)]
mod tests;
