//! JSON shapes of the registry security-control commands
//! (docs/registry-controls.md): scheme settings, trusted account lists,
//! additional authorised representatives and `release_due`. Typed DTOs,
//! converted by hand to [`RegistryCommand`] and from the effects they produce.

use crate::authority::{ACCOUNT_HOLDING, ADMINISTRATION, CommandSpec};
use crate::request::CommandError;
use ets_model::{AccountId, Code, ParticipantId, Quantity};
use ets_registry::{ControlSettings, Effect, RegistryCommand};
use ets_time::{CHINA_TOML, EU_EEX_TOML};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

/// The commands handled here, with who may send them (the engine checks
/// which accounts a representative acts for, and that an approval of a
/// trusted account comes from another representative than its proposer).
pub const CONTROL_COMMANDS: [CommandSpec; 6] = [
    CommandSpec::write("set_controls", ADMINISTRATION),
    CommandSpec::write("propose_trusted_account", ACCOUNT_HOLDING),
    CommandSpec::write("approve_trusted_account", ACCOUNT_HOLDING),
    CommandSpec::write("remove_trusted_account", ACCOUNT_HOLDING),
    CommandSpec::write("set_additional_representatives", ADMINISTRATION),
    CommandSpec::write("release_due", ACCOUNT_HOLDING),
];

/// The calendars a `set_controls` line may name instead of giving the TOML text.
pub const CALENDAR_NAMES: [&str; 2] = ["eu-eex", "cn"];

/// The security-control commands (docs/registry-controls.md), as a command
/// line writes them: parsed here, built and serialized by typed clients.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum ControlCommandJson {
    /// Sets a scheme's transfer controls.
    SetControls(ControlSettingsJson),
    /// Proposes a trusted account for an account.
    ProposeTrustedAccount {
        /// The account.
        account: u64,
        /// The account to trust.
        trusted: u64,
        /// The scheme whose controls apply.
        #[schemars(with = "crate::schema::CodeText")]
        scheme: String,
    },
    /// Approves a proposed trusted account.
    ApproveTrustedAccount {
        /// The account.
        account: u64,
        /// The trusted account.
        trusted: u64,
    },
    /// Removes a trusted account.
    RemoveTrustedAccount {
        /// The account.
        account: u64,
        /// The trusted account.
        trusted: u64,
    },
    /// Replaces an account's additional representatives.
    SetAdditionalRepresentatives {
        /// The account.
        account: u64,
        /// The participants (may be empty).
        representatives: Vec<u64>,
    },
    /// Completes the delayed transfers that are due.
    ReleaseDue {},
}

/// `set_controls`: every field but `scheme` and the calendar has the EU's value as default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [{"required": ["calendar"]}, {"required": ["calendar_toml"]}]))]
pub struct ControlSettingsJson {
    /// The scheme.
    #[schemars(with = "crate::schema::CodeText")]
    pub scheme: String,
    /// Minutes a transfer to a non-trusted account waits (EU: 26 hours).
    #[serde(default = "eu_delay")]
    pub transfer_delay_minutes: u32,
    /// Business days before a trusted account is active (EU: 4).
    #[serde(default = "eu_activation")]
    pub trusted_activation_business_days: u8,
    /// When the daily business window opens, `HH:MM`: transfers start only inside it (EU: 10:00).
    #[serde(default = "eu_opens")]
    #[schemars(with = "crate::schema::ClockText")]
    pub window_opens: String,
    /// When the business window closes, `HH:MM` (EU: 16:00).
    #[serde(default = "eu_closes")]
    #[schemars(with = "crate::schema::ClockText")]
    pub window_closes: String,
    /// An embedded calendar by name (`eu-eex`, `cn`) ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "crate::schema::CalendarName")]
    pub calendar: Option<String>,
    /// ... or a calendar's TOML text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar_toml: Option<String>,
    /// The largest quantity one transfer may move, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_transfer_quantity: Option<u64>,
}

impl ControlSettingsJson {
    /// The EU's controls for `scheme` with an embedded calendar by name:
    /// what a line with only `scheme` and `calendar` means.
    #[must_use]
    pub fn eu(scheme: String, calendar: String) -> ControlSettingsJson {
        ControlSettingsJson {
            scheme,
            transfer_delay_minutes: eu_delay(),
            trusted_activation_business_days: eu_activation(),
            window_opens: eu_opens(),
            window_closes: eu_closes(),
            calendar: Some(calendar),
            calendar_toml: None,
            max_transfer_quantity: None,
        }
    }
}

fn eu_delay() -> u32 {
    26 * 60
}

fn eu_activation() -> u8 {
    4
}

fn eu_opens() -> String {
    "10:00".to_owned()
}

fn eu_closes() -> String {
    "16:00".to_owned()
}

/// Parses one security-control command line (its `command` is in [`CONTROL_COMMANDS`]).
///
/// # Errors
/// What is wrong: an unknown field, a bad code, time or calendar name.
pub fn parse_control(value: serde_json::Value) -> Result<RegistryCommand, CommandError> {
    let parsed: ControlCommandJson = serde_json::from_value(value).map_err(CommandError::shape)?;
    Ok(match parsed {
        ControlCommandJson::SetControls(settings) => settings_command(settings)?,
        ControlCommandJson::ProposeTrustedAccount {
            account,
            trusted,
            scheme,
        } => RegistryCommand::ProposeTrustedAccount {
            account: AccountId(account),
            trusted: AccountId(trusted),
            scheme: scheme_code(&scheme)?,
        },
        ControlCommandJson::ApproveTrustedAccount { account, trusted } => {
            RegistryCommand::ApproveTrustedAccount {
                account: AccountId(account),
                trusted: AccountId(trusted),
            }
        }
        ControlCommandJson::RemoveTrustedAccount { account, trusted } => {
            RegistryCommand::RemoveTrustedAccount {
                account: AccountId(account),
                trusted: AccountId(trusted),
            }
        }
        ControlCommandJson::SetAdditionalRepresentatives {
            account,
            representatives,
        } => RegistryCommand::SetAdditionalRepresentatives {
            account: AccountId(account),
            representatives: representatives.into_iter().map(ParticipantId).collect(),
        },
        ControlCommandJson::ReleaseDue {} => RegistryCommand::ReleaseDue,
    })
}

fn settings_command(json: ControlSettingsJson) -> Result<RegistryCommand, String> {
    let calendar_toml = match (json.calendar.as_deref(), json.calendar_toml) {
        (Some("eu-eex"), None) => EU_EEX_TOML.to_owned(),
        (Some("cn"), None) => CHINA_TOML.to_owned(),
        (None, Some(text)) => text,
        (Some(name), None) => {
            return Err(format!(
                "calendar {name:?} is not one of {}; or give calendar_toml",
                CALENDAR_NAMES.join(", ")
            ));
        }
        _ => return Err("give exactly one of calendar and calendar_toml".to_owned()),
    };
    let settings = ControlSettings {
        transfer_delay_minutes: json.transfer_delay_minutes,
        trusted_activation_business_days: json.trusted_activation_business_days,
        window_opens_minute: minute_of_day("window_opens", &json.window_opens)?,
        window_closes_minute: minute_of_day("window_closes", &json.window_closes)?,
        calendar_toml,
        max_transfer_quantity: json.max_transfer_quantity.map(Quantity::new),
    };
    Ok(RegistryCommand::SetControls {
        scheme: scheme_code(&json.scheme)?,
        settings,
    })
}

fn scheme_code(text: &str) -> Result<Code, String> {
    Code::try_new(text).map_err(|error| format!("scheme {text:?}: {error}"))
}

/// Minutes after midnight of an `HH:MM` text (00:00 to 24:00).
fn minute_of_day(field: &str, text: &str) -> Result<u16, String> {
    let bad = || format!("{field} must be HH:MM between 00:00 and 24:00, got {text:?}");
    let (hours, minutes) = text.split_once(':').ok_or_else(bad)?;
    let two_digits = |part: &str| {
        (part.len() == 2 && part.bytes().all(|byte| byte.is_ascii_digit()))
            .then(|| part.parse::<u16>().ok())
            .flatten()
    };
    let (hours, minutes) = (
        two_digits(hours).ok_or_else(bad)?,
        two_digits(minutes).ok_or_else(bad)?,
    );
    let total = hours * 60 + minutes;
    if minutes >= 60 || total > 24 * 60 {
        return Err(bad());
    }
    Ok(total)
}

/// The reply fields of the effects only these commands produce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum ControlReply {
    /// `set_controls`: `{"controls_set": true}`.
    ControlsSet {
        /// Always true.
        controls_set: bool,
    },
    /// `release_due`: how many delayed transfers completed or failed.
    Released {
        /// The count.
        delays_released: u32,
    },
}

impl ControlReply {
    /// The reply of a control effect; `None` for effects other commands share.
    #[must_use]
    pub fn of(effect: &Effect) -> Option<ControlReply> {
        match effect {
            Effect::ControlsSet => Some(ControlReply::ControlsSet { controls_set: true }),
            Effect::DelaysReleased(count) => Some(ControlReply::Released {
                delays_released: *count,
            }),
            _ => None,
        }
    }
}

/// The JSON Schema of these commands (a `oneOf`), for the OpenAPI document.
pub(crate) fn schema(generator: &mut SchemaGenerator) -> Schema {
    ControlCommandJson::json_schema(generator)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_controls_defaults_to_the_eu_values_with_a_named_calendar() {
        let command = parse_control(
            json!({"command": "set_controls", "scheme": "EUA", "calendar": "eu-eex"}),
        )
        .expect("parses");
        let RegistryCommand::SetControls { scheme, settings } = command else {
            panic!("expected set_controls, got {command:?}");
        };
        assert_eq!(scheme.as_str(), "EUA");
        assert_eq!(
            settings,
            ControlSettings::eu_defaults(EU_EEX_TOML.to_owned())
        );
    }

    #[test]
    fn bad_lines_name_what_is_wrong() {
        let cases = [
            (
                json!({"command": "set_controls", "scheme": "EUA"}),
                "exactly one",
            ),
            (
                json!({"command": "set_controls", "scheme": "EUA", "calendar": "mars"}),
                "not one of",
            ),
            (
                json!({"command": "set_controls", "scheme": "EUA", "calendar": "cn", "window_opens": "25:00"}),
                "window_opens",
            ),
            (
                json!({"command": "propose_trusted_account", "account": 1, "trusted": 2, "scheme": "<b>"}),
                "scheme",
            ),
            (
                json!({"command": "release_due", "extra": 1}),
                "unknown field",
            ),
        ];
        for (line, expected) in cases {
            let error = parse_control(line.clone()).expect_err("refused");
            assert!(error.message().contains(expected), "{line}: {error}");
        }
    }

    #[test]
    fn trusted_list_and_representative_lines_parse() {
        let line = json!({"command": "set_additional_representatives", "account": 100, "representatives": [12]});
        assert_eq!(
            parse_control(line).expect("parses"),
            RegistryCommand::SetAdditionalRepresentatives {
                account: AccountId(100),
                representatives: vec![ParticipantId(12)],
            }
        );
        assert_eq!(
            parse_control(json!({"command": "release_due"})).expect("parses"),
            RegistryCommand::ReleaseDue
        );
        let reply = ControlReply::of(&Effect::DelaysReleased(3)).expect("a control effect");
        assert_eq!(
            serde_json::to_value(reply).expect("serializes"),
            json!({"delays_released": 3})
        );
    }
}
