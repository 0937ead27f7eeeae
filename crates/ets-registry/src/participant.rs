//! Participants: who may hold accounts, act on them, or run the registry.

use ets_model::ParticipantId;
use serde::{Deserialize, Serialize};

/// The longest participant name, in bytes.
pub const NAME_MAX_BYTES: usize = 200;

/// The role a participant plays in the scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ParticipantKind {
    /// A company with a compliance obligation (China: key emission unit).
    CoveredEntity,
    /// A financial or other institution allowed to trade.
    Institution,
    /// A natural person allowed to hold and retire units.
    Individual,
    /// The registry administrator (China: MEE and the Hubei registry).
    Administrator,
    /// A third-party verifier of emissions reports.
    Verifier,
    /// An exchange operator (China: SEEE).
    Exchange,
}

impl ParticipantKind {
    /// The snake_case name used in commands and reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ParticipantKind::CoveredEntity => "covered_entity",
            ParticipantKind::Institution => "institution",
            ParticipantKind::Individual => "individual",
            ParticipantKind::Administrator => "administrator",
            ParticipantKind::Verifier => "verifier",
            ParticipantKind::Exchange => "exchange",
        }
    }

    /// Every kind, for parsing and help texts.
    pub const ALL: [ParticipantKind; 6] = [
        ParticipantKind::CoveredEntity,
        ParticipantKind::Institution,
        ParticipantKind::Individual,
        ParticipantKind::Administrator,
        ParticipantKind::Verifier,
        ParticipantKind::Exchange,
    ];
}

/// A registered participant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    /// Its id, chosen by the administrator who registered it.
    pub id: ParticipantId,
    /// Its role.
    pub kind: ParticipantKind,
    /// Its legal or personal name.
    pub name: String,
}
