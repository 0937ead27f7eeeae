//! Who calls the API: a user's [`Role`] and the [`Principal`] an
//! authenticated request acts as. The server's users file stores these; the
//! command metadata (`authority`) decides from them.

use ets_model::ParticipantId;
use serde::{Deserialize, Serialize};

/// What a user may do through the API, beyond what the engine checks for the
/// participant they act as. Which commands each role may send is declared
/// with the commands (`authority`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the registry: registers participants, opens accounts, issues,
    /// allocates, cancels, reverses, runs the compliance cycle and lists
    /// instruments; may also act on its own participant's accounts.
    Administrator,
    /// Acts on the accounts their participant represents.
    Representative,
    /// A verifier of emission reports: verifies reports, nothing else.
    Verifier,
    /// A member or operator of the exchange: trades for the accounts its
    /// participant represents and, for the exchange operator's participant,
    /// moves cash and ends the trading day.
    ExchangeMember,
    /// Reads everything, changes nothing.
    Auditor,
}

impl Role {
    /// Every role, in a fixed order.
    pub const ALL: [Role; 5] = [
        Role::Administrator,
        Role::Representative,
        Role::Verifier,
        Role::ExchangeMember,
        Role::Auditor,
    ];

    /// The snake_case name used in `users.json`, the CLI and the docs.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::Representative => "representative",
            Role::Verifier => "verifier",
            Role::ExchangeMember => "exchange_member",
            Role::Auditor => "auditor",
        }
    }

    /// Whether the role may send any command at all; only auditors may not.
    #[must_use]
    pub fn may_write(self) -> bool {
        self != Role::Auditor
    }

    /// Whether the role reads every account, transaction and serial
    /// (administrators and auditors); others read only their own.
    #[must_use]
    pub fn reads_everything(self) -> bool {
        matches!(self, Role::Administrator | Role::Auditor)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A role name that is not one of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown role {0:?}; expected administrator, representative, verifier, exchange_member or auditor"
)]
pub struct UnknownRole(pub String);

impl UnknownRole {
    /// Stable code: `unknown_role`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        "unknown_role"
    }
}

impl std::str::FromStr for Role {
    type Err = UnknownRole;

    fn from_str(text: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| UnknownRole(text.to_owned()))
    }
}

/// An authenticated user: who they are and what they act as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user's name.
    pub name: String,
    /// The participant every command of theirs must name as `requester`.
    pub participant: ParticipantId,
    /// What they may do through the API.
    pub role: Role,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        // Goal: every role parses from the name it prints; others are refused.
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.as_str()));
        }
        assert_eq!(
            "root".parse::<Role>().map_err(|error| error.code()),
            Err("unknown_role")
        );
    }
}
