//! The registry of carbon units: participants, accounts and their statuses,
//! representatives and approval rules, holdings as serial blocks, and the
//! transactions that issue, allocate, transfer, surrender, retire, cancel
//! and reverse units. It knows nothing of markets, schemes or disks.
//!
//! **Invariant:** a unit is never created except by an issue and never lost:
//! per class, the blocks held across all accounts cover exactly the issued
//! serial ranges. A refused command changes nothing.

mod account;
mod book;
mod check;
mod command;
mod controls;
mod cow_map;
mod decision;
mod dense;
mod error;
mod holding;
mod market_hooks;
mod participant;
mod registry;
mod transaction;

pub use account::{
    Account, AccountKind, AccountStatus, ApprovalRule, REPRESENTATIVES_MAX, Representatives,
};
pub use book::{BookRetention, SurrenderChange};
pub use command::{Effect, RegistryCommand};
pub use controls::{
    CALENDAR_TOML_MAX_BYTES, ControlSettings, Controls, DELAY_MAX_MINUTES, Delay, TrustedEntry,
    TrustedStatus, scheme_code,
};
pub use decision::Decision;
pub use dense::DenseIndex;
pub use error::RegistryError;
pub use holding::{Holding, SerialPolicy};
pub use participant::{NAME_MAX_BYTES, Participant, ParticipantKind};
pub use registry::{Context, Registry};
pub use transaction::{
    Blocks, History, NOTE_MAX_BYTES, StatusChange, Transaction, TransactionKind, TransactionStatus,
};

#[cfg(test)]
mod tests;
