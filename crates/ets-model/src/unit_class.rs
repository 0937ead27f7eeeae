//! What kind of unit a serial number stands for: an allowance of a scheme and
//! vintage (CEA 2021, EUA 2024) or an offset credit of a standard, project and
//! vintage (CCER project 001, 2016).

use crate::Code;
use serde::{Deserialize, Serialize};

/// The year a unit belongs to (allocation year or offset reduction year).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Vintage(pub u16);

/// A class of fungible units: units of the same class are interchangeable,
/// although each keeps its own serial number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum UnitClass {
    /// An emission allowance issued under a scheme, e.g. `CEA` vintage 2021.
    Allowance {
        /// The scheme's unit code (`CEA`, `EUA`, `KAU`).
        scheme: Code,
        /// The allowance's vintage year.
        vintage: Vintage,
    },
    /// An offset credit, e.g. `CCER` from a given project, vintage 2016.
    Offset {
        /// The crediting standard (`CCER`, `VCS`).
        standard: Code,
        /// The project identifier under that standard.
        project: Code,
        /// The year the reductions took place.
        vintage: Vintage,
    },
}

impl UnitClass {
    /// The vintage year of the class.
    #[must_use]
    pub fn vintage(&self) -> Vintage {
        match self {
            UnitClass::Allowance { vintage, .. } | UnitClass::Offset { vintage, .. } => *vintage,
        }
    }

    /// Whether this is an offset credit rather than an allowance.
    #[must_use]
    pub fn is_offset(&self) -> bool {
        matches!(self, UnitClass::Offset { .. })
    }
}

impl std::fmt::Display for UnitClass {
    /// `CEA-2021` for allowances, `CCER/P001-2016` for offsets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnitClass::Allowance { scheme, vintage } => write!(f, "{scheme}-{}", vintage.0),
            UnitClass::Offset {
                standard,
                project,
                vintage,
            } => write!(f, "{standard}/{project}-{}", vintage.0),
        }
    }
}
