//! Helpers shared by the unit tests: the committed rulebooks and decimal
//! literals.

use crate::Rulebook;
use rust_decimal::Decimal;

/// The committed 2019-2020 China rulebook text.
pub(crate) const CN_2019_2020: &str = include_str!("../../../schemes/cn-power-2019-2020.toml");
/// The committed 2021 China rulebook text.
pub(crate) const CN_2021: &str = include_str!("../../../schemes/cn-power-2021.toml");
/// The committed EU phase 4 rulebook text.
pub(crate) const EU_PHASE4: &str = include_str!("../../../schemes/eu-ets-phase4.toml");

/// The committed 2024 steel rulebook text.
pub(crate) const CN_STEEL_2024: &str = include_str!("../../../schemes/cn-steel-2024.toml");
/// The committed 2025 cement rulebook text.
pub(crate) const CN_CEMENT_2025: &str = include_str!("../../../schemes/cn-cement-2025.toml");
/// The committed 2025 aluminium rulebook text.
pub(crate) const CN_ALUMINIUM_2025: &str = include_str!("../../../schemes/cn-aluminium-2025.toml");

/// A decimal from a literal.
pub(crate) fn d(text: &str) -> Decimal {
    Decimal::from_str_exact(text).expect("test decimal literal")
}

/// A rulebook from text.
pub(crate) fn load(text: &str, name: &str) -> Rulebook {
    Rulebook::from_toml_str(text, name).expect("test rulebook loads")
}

/// The committed 2021 China rulebook.
pub(crate) fn cn_2021() -> Rulebook {
    load(CN_2021, "cn-power-2021.toml")
}

/// The committed 2019-2020 China rulebook.
pub(crate) fn cn_2019_2020() -> Rulebook {
    load(CN_2019_2020, "cn-power-2019-2020.toml")
}

/// The committed EU phase 4 rulebook.
pub(crate) fn eu_phase4() -> Rulebook {
    load(EU_PHASE4, "eu-ets-phase4.toml")
}

/// `text` with `old` replaced by `new`, which must occur exactly once.
pub(crate) fn edit(text: &str, old: &str, new: &str) -> String {
    assert_eq!(
        text.matches(old).count(),
        1,
        "exactly one {old:?} in the test rulebook"
    );
    text.replacen(old, new, 1)
}
