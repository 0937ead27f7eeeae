//! JSON Schemas of the API's text forms, for the OpenAPI document: each
//! type here stands in (`#[schemars(with = ...)]`) for a `String` field whose
//! accepted values the parsers in `text` and the registry's kinds decide, so
//! the document states the same rule.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use std::borrow::Cow;

/// A code (a symbol, a scheme, a project): 1 to 24 of `A-Z a-z 0-9 _ . -`.
pub(crate) struct CodeText;

/// The pattern of a code.
const CODE: &str = "[A-Za-z0-9_.-]{1,24}";

impl JsonSchema for CodeText {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Code")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": format!("^{CODE}$"),
            "description": "1 to 24 of A-Z, a-z, 0-9, `_`, `.`, `-`.",
        })
    }
}

/// A unit class: `SCHEME-VINTAGE` or `STANDARD/PROJECT-VINTAGE`, vintage
/// 1990 to 2200.
pub(crate) struct UnitText;

impl JsonSchema for UnitText {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Unit")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": format!("^{CODE}(/{CODE})?-(199[0-9]|2[01][0-9][0-9]|2200)$"),
            "description": "A unit class: SCHEME-VINTAGE (e.g. CEA-2021) or STANDARD/PROJECT-VINTAGE (e.g. CCER/P001-2016); vintage 1990 to 2200.",
            "examples": ["CEA-2021"],
        })
    }
}

/// A time of day, `HH:MM` (`24:00` allowed).
pub(crate) struct ClockText;

impl JsonSchema for ClockText {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("TimeOfDay")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$",
            "description": "HH:MM (24:00 allowed).",
        })
    }
}

/// An RFC 3339 time.
pub(crate) struct TimeText;

impl JsonSchema for TimeText {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Time")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "format": "date-time",
            "description": "An RFC 3339 time, e.g. 2021-07-16T09:30:00+08:00.",
        })
    }
}

/// One of a fixed set of names.
macro_rules! name_set {
    ($type:ident, $title:literal, $what:literal, $names:expr) => {
        #[doc = concat!("The names of ", $what, ".")]
        pub(crate) struct $type;

        impl JsonSchema for $type {
            fn schema_name() -> Cow<'static, str> {
                Cow::Borrowed($title)
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                let names: Vec<&'static str> = $names;
                json_schema!({
                    "type": "string",
                    "enum": names,
                    "description": concat!("One of the ", $what, "."),
                })
            }
        }
    };
}

name_set!(
    ParticipantKindText,
    "ParticipantKind",
    "participant kinds",
    ets_registry::ParticipantKind::ALL
        .iter()
        .map(|kind| kind.name())
        .collect()
);
name_set!(
    AccountKindText,
    "AccountKind",
    "account kinds",
    ets_registry::AccountKind::ALL
        .iter()
        .map(|kind| kind.name())
        .collect()
);
name_set!(
    AccountStatusText,
    "AccountStatus",
    "account statuses",
    [
        ets_registry::AccountStatus::Open,
        ets_registry::AccountStatus::Blocked,
        ets_registry::AccountStatus::Closed,
    ]
    .iter()
    .map(|status| status.name())
    .collect()
);

/// A calendar embedded in the binary, by name.
pub(crate) struct CalendarName;

impl JsonSchema for CalendarName {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("CalendarName")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "enum": crate::registry_controls::CALENDAR_NAMES,
            "description": "An embedded calendar: `eu-eex` or `cn`.",
        })
    }
}
