//! Identifiers and timestamps. Participant and account ids are chosen by the
//! caller (like TigerBeetle's), transaction ids by the engine, request ids by
//! the client for idempotency; times come in with each command.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        pub struct $name(pub u64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

id_type!(
    /// A registered participant: a company, institution, person, the
    /// administrator, a verifier or an exchange.
    ParticipantId
);
id_type!(
    /// A registry account.
    AccountId
);
id_type!(
    /// A registry transaction, numbered by the engine from 1 in order.
    TransactionId
);
id_type!(
    /// The client's id for one command; a repeated id returns the first outcome.
    RequestId
);

/// A point in time, in milliseconds since the Unix epoch (UTC). The engine
/// never reads a clock: the sequencer stamps each command.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Milliseconds since the Unix epoch.
    #[must_use]
    pub const fn unix_ms(self) -> i64 {
        self.0
    }
}
