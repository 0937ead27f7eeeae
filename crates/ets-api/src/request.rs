//! One JSON line in (a command), one JSON line out (its outcome).

use crate::authority::{ACCOUNT_HOLDING, ADMINISTRATION, CommandSpec};
use crate::compliance::{COMPLIANCE_COMMANDS, parse_compliance};
use crate::exchange::{EXCHANGE_COMMANDS, parse_exchange};
use crate::outcome::OutcomeLine;
use crate::refusal::RefusalCode;
use crate::registry_controls::{CONTROL_COMMANDS, parse_control};
use crate::schema::{AccountKindText, AccountStatusText, ParticipantKindText, TimeText, UnitText};
use crate::text::{check_text, parse_time, parse_unit_class};
use ets_engine::{Command, Outcome};
use ets_model::{AccountId, ParticipantId, Quantity, RequestId, Timestamp, TransactionId};
use ets_registry::{AccountKind, AccountStatus, ParticipantKind, RegistryCommand, SerialPolicy};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;

/// The longest accepted command line, in bytes.
pub const LINE_MAX_BYTES: usize = 1024 * 1024;

/// A line that is not a valid command. It never reaches the engine.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct ApiError {
    /// Stable code: `malformed_command`, or `invalid_value` for fields of
    /// the documented shape whose values break a rule.
    pub code: &'static str,
    /// What is wrong with the line.
    pub message: String,
    /// The request id, when the line had a readable one.
    pub request_id: Option<u64>,
}

/// Why a command's fields were refused: they do not have the documented
/// shape (`malformed_command`, 400: JSON types, unknown or missing fields,
/// names not in a documented set), or they have it but a value breaks a rule
/// the shape cannot state (`invalid_value`, 422: a session that ends before
/// it starts, a name with a control character, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// Not the documented shape.
    Shape(String),
    /// The shape, but a value breaks a rule.
    Value(String),
}

impl CommandError {
    /// A serde error: the fields are not the documented shape.
    pub(crate) fn shape(error: serde_json::Error) -> CommandError {
        CommandError::Shape(format!("not a valid command: {error}"))
    }

    /// What is wrong.
    #[must_use]
    pub fn message(&self) -> &str {
        match self {
            CommandError::Shape(message) | CommandError::Value(message) => message,
        }
    }

    /// The refusal code: `malformed_command` or `invalid_value`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            CommandError::Shape(_) => RefusalCode::MalformedCommand.as_str(),
            CommandError::Value(_) => RefusalCode::InvalidValue.as_str(),
        }
    }
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.message())
    }
}

impl From<String> for CommandError {
    fn from(message: String) -> CommandError {
        CommandError::Value(message)
    }
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRequest {
    /// The client's request id.
    pub request_id: RequestId,
    /// Who sends it.
    pub requester: ParticipantId,
    /// The time the command carries, if any.
    pub time: Option<Timestamp>,
    /// The command.
    pub command: Command,
}

/// The clock command of a store that is not live (docs/time.md): the
/// administrator's alone; a live store refuses it in the engine.
pub const CLOCK_COMMANDS: [CommandSpec; 1] = [CommandSpec::write("advance_clock", ADMINISTRATION)];

/// The registry commands, with who may send each.
pub const REGISTRY_COMMANDS: [CommandSpec; 15] = [
    CommandSpec::write("register_participant", ADMINISTRATION),
    CommandSpec::write("open_account", ADMINISTRATION),
    CommandSpec::write("set_account_status", ADMINISTRATION),
    CommandSpec::write("set_approval_rule", ADMINISTRATION),
    CommandSpec::write("issue", ADMINISTRATION),
    CommandSpec::write("allocate", ADMINISTRATION),
    CommandSpec::write("transfer", ACCOUNT_HOLDING),
    CommandSpec::write("surrender", ACCOUNT_HOLDING),
    CommandSpec::write("retire", ACCOUNT_HOLDING),
    CommandSpec::write("cancel", ADMINISTRATION),
    CommandSpec::write("reverse", ADMINISTRATION),
    CommandSpec::write("approve", ACCOUNT_HOLDING),
    CommandSpec::write("reject", ACCOUNT_HOLDING),
    CommandSpec::write("withdraw", ACCOUNT_HOLDING),
    CommandSpec::write("set_serial_policy", ADMINISTRATION),
];

/// The registry's commands.
#[derive(Deserialize, JsonSchema)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
enum JsonCommand {
    /// Registers a participant.
    RegisterParticipant {
        id: u64,
        #[schemars(with = "ParticipantKindText")]
        kind: String,
        /// At most 200 bytes, no control or bidirectional characters.
        name: String,
    },
    /// Opens an account.
    OpenAccount {
        id: u64,
        #[schemars(with = "AccountKindText")]
        kind: String,
        holder: u64,
        representatives: Vec<u64>,
        #[serde(default = "one")]
        approvals_required: u8,
    },
    /// Opens, blocks or closes an account.
    SetAccountStatus {
        account: u64,
        #[schemars(with = "AccountStatusText")]
        status: String,
    },
    SetApprovalRule {
        account: u64,
        representatives: Vec<u64>,
        approvals_required: u8,
    },
    Issue {
        #[schemars(with = "UnitText")]
        unit: String,
        quantity: u64,
    },
    Allocate {
        to: u64,
        #[schemars(with = "UnitText")]
        unit: String,
        quantity: u64,
    },
    Transfer {
        from: u64,
        to: u64,
        #[schemars(with = "UnitText")]
        unit: String,
        quantity: u64,
    },
    Surrender {
        from: u64,
        #[schemars(with = "UnitText")]
        unit: String,
        quantity: u64,
        compliance_year: u16,
    },
    Retire {
        from: u64,
        #[schemars(with = "UnitText")]
        unit: String,
        quantity: u64,
        beneficiary: String,
    },
    Cancel {
        from: u64,
        #[schemars(with = "UnitText")]
        unit: String,
        quantity: u64,
        reason: String,
    },
    Reverse {
        transaction: u64,
    },
    Approve {
        transaction: u64,
    },
    Reject {
        transaction: u64,
    },
    Withdraw {
        transaction: u64,
    },
    /// Chooses which serials transfers take from now on (docs/serials.md).
    SetSerialPolicy {
        policy: JsonSerialPolicy,
    },
}

/// Which serials a transfer takes.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum JsonSerialPolicy {
    /// Lowest serials first, splitting the last block taken.
    OldestFirst,
    /// Whole blocks largest first, splitting at most one.
    LargestFirst,
}

/// The clock command of a store that is not live.
#[derive(Deserialize, JsonSchema)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
enum JsonClockCommand {
    /// Moves the store's clock forward to `to`.
    AdvanceClock {
        #[schemars(with = "TimeText")]
        to: String,
    },
}

/// The JSON Schema of each command family's serde enum (a `oneOf` of one
/// object per command), for the OpenAPI document.
pub(crate) fn command_family_schemas(generator: &mut SchemaGenerator) -> Vec<Schema> {
    vec![
        JsonCommand::json_schema(generator),
        crate::exchange::schema(generator),
        crate::compliance::schema(generator),
        crate::registry_controls::schema(generator),
        JsonClockCommand::json_schema(generator),
    ]
}

fn one() -> u8 {
    1
}

/// Parses one JSON command line.
///
/// # Errors
/// [`ApiError`] naming what is wrong: bad JSON, an unknown command or field,
/// a missing field, an unknown kind or status, a bad unit or time.
pub fn parse_request(line: &str) -> Result<ApiRequest, ApiError> {
    let malformed = |request_id, message: String| ApiError {
        code: "malformed_command",
        message,
        request_id,
    };
    if line.len() > LINE_MAX_BYTES {
        return Err(malformed(
            None,
            format!(
                "line is {} bytes; the limit is {LINE_MAX_BYTES}",
                line.len()
            ),
        ));
    }
    let mut value: Value = serde_json::from_str(line)
        .map_err(|error| malformed(None, format!("not valid JSON: {error}")))?;
    let object = value
        .as_object_mut()
        .ok_or_else(|| malformed(None, "a command line must be a JSON object".to_owned()))?;
    let request_id = object.get("request_id").and_then(Value::as_u64);
    let mut envelope_field = |name: &str| {
        object
            .remove(name)
            .ok_or_else(|| malformed(request_id, format!("missing field `{name}`")))
    };
    let request_id_value = envelope_field("request_id")?;
    let requester = envelope_field("requester")?.as_u64().ok_or_else(|| {
        malformed(
            request_id,
            "`requester` must be a participant id (a whole number)".to_owned(),
        )
    })?;
    let time = match object.remove("time") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => {
            Some(parse_time(&text).map_err(|message| malformed(request_id, message))?)
        }
        Some(_) => {
            return Err(malformed(
                request_id,
                "`time` must be an RFC 3339 string".to_owned(),
            ));
        }
    };
    let request_id_number = request_id_value
        .as_u64()
        .ok_or_else(|| malformed(None, "`request_id` must be a whole number".to_owned()))?;
    let is_compliance = value
        .get("command")
        .and_then(Value::as_str)
        .is_some_and(|name| COMPLIANCE_COMMANDS.iter().any(|spec| spec.name == name));
    let is_exchange = value
        .get("command")
        .and_then(Value::as_str)
        .is_some_and(|name| EXCHANGE_COMMANDS.iter().any(|spec| spec.name == name));
    let is_control = value
        .get("command")
        .and_then(Value::as_str)
        .is_some_and(|name| CONTROL_COMMANDS.iter().any(|spec| spec.name == name));
    let is_clock = value.get("command").and_then(Value::as_str) == Some(CLOCK_COMMANDS[0].name);
    let refused = |error: CommandError| ApiError {
        code: error.code(),
        message: error.message().to_owned(),
        request_id,
    };
    let command = if is_clock {
        Command::Clock(parse_clock(value).map_err(refused)?)
    } else if is_control {
        Command::Registry(parse_control(value).map_err(refused)?)
    } else if is_compliance {
        Command::Compliance(parse_compliance(value).map_err(refused)?)
    } else if is_exchange {
        Command::Exchange(parse_exchange(value).map_err(refused)?)
    } else {
        let parsed: JsonCommand =
            serde_json::from_value(value).map_err(|error| refused(CommandError::shape(error)))?;
        Command::Registry(convert(parsed).map_err(|message| refused(message.into()))?)
    };
    Ok(ApiRequest {
        request_id: RequestId(request_id_number),
        requester: ParticipantId(requester),
        time,
        command,
    })
}

/// `{"command": "advance_clock", "to": "<RFC 3339>"}` (a store that is not live).
fn parse_clock(value: Value) -> Result<ets_engine::clock::ClockCommand, CommandError> {
    let JsonClockCommand::AdvanceClock { to } =
        serde_json::from_value(value).map_err(CommandError::shape)?;
    Ok(ets_engine::clock::ClockCommand::Advance {
        to: parse_time(&to)?,
    })
}

fn participant_kind(text: &str) -> Result<ParticipantKind, String> {
    ParticipantKind::ALL
        .into_iter()
        .find(|kind| kind.name() == text)
        .ok_or_else(|| {
            let names: Vec<_> = ParticipantKind::ALL.iter().map(|k| k.name()).collect();
            format!(
                "participant kind {text:?} is not one of {}",
                names.join(", ")
            )
        })
}

fn account_kind(text: &str) -> Result<AccountKind, String> {
    AccountKind::ALL
        .into_iter()
        .find(|kind| kind.name() == text)
        .ok_or_else(|| {
            let names: Vec<_> = AccountKind::ALL.iter().map(|k| k.name()).collect();
            format!("account kind {text:?} is not one of {}", names.join(", "))
        })
}

fn account_status(text: &str) -> Result<AccountStatus, String> {
    [
        AccountStatus::Open,
        AccountStatus::Blocked,
        AccountStatus::Closed,
    ]
    .into_iter()
    .find(|status| status.name() == text)
    .ok_or_else(|| format!("account status {text:?} is not one of open, blocked, closed"))
}

fn participants(ids: Vec<u64>) -> Vec<ParticipantId> {
    ids.into_iter().map(ParticipantId).collect()
}

/// A transaction's note, refused here (never journaled) when it is longer
/// than the registry keeps or holds control or bidirectional characters.
fn checked_note(field: &str, text: String) -> Result<String, String> {
    check_text(field, &text, ets_registry::NOTE_MAX_BYTES)?;
    Ok(text)
}

fn convert(command: JsonCommand) -> Result<RegistryCommand, String> {
    Ok(match command {
        JsonCommand::RegisterParticipant { id, kind, name } => {
            check_text("name", &name, ets_registry::NAME_MAX_BYTES)?;
            RegistryCommand::RegisterParticipant {
                id: ParticipantId(id),
                kind: participant_kind(&kind)?,
                name,
            }
        }
        JsonCommand::OpenAccount {
            id,
            kind,
            holder,
            representatives,
            approvals_required,
        } => RegistryCommand::OpenAccount {
            id: AccountId(id),
            kind: account_kind(&kind)?,
            holder: ParticipantId(holder),
            representatives: participants(representatives),
            approvals_required,
        },
        JsonCommand::SetAccountStatus { account, status } => RegistryCommand::SetAccountStatus {
            account: AccountId(account),
            status: account_status(&status)?,
        },
        JsonCommand::SetApprovalRule {
            account,
            representatives,
            approvals_required,
        } => RegistryCommand::SetApprovalRule {
            account: AccountId(account),
            representatives: participants(representatives),
            approvals_required,
        },
        JsonCommand::Issue { unit, quantity } => RegistryCommand::Issue {
            class: parse_unit_class(&unit)?,
            quantity: Quantity::new(quantity),
        },
        JsonCommand::Allocate { to, unit, quantity } => RegistryCommand::Allocate {
            to: AccountId(to),
            class: parse_unit_class(&unit)?,
            quantity: Quantity::new(quantity),
        },
        JsonCommand::Transfer {
            from,
            to,
            unit,
            quantity,
        } => RegistryCommand::Transfer {
            from: AccountId(from),
            to: AccountId(to),
            class: parse_unit_class(&unit)?,
            quantity: Quantity::new(quantity),
        },
        JsonCommand::Surrender {
            from,
            unit,
            quantity,
            compliance_year,
        } => RegistryCommand::Surrender {
            from: AccountId(from),
            class: parse_unit_class(&unit)?,
            quantity: Quantity::new(quantity),
            compliance_year,
        },
        JsonCommand::Retire {
            from,
            unit,
            quantity,
            beneficiary,
        } => RegistryCommand::Retire {
            beneficiary: checked_note("beneficiary", beneficiary)?,
            from: AccountId(from),
            class: parse_unit_class(&unit)?,
            quantity: Quantity::new(quantity),
        },
        JsonCommand::Cancel {
            from,
            unit,
            quantity,
            reason,
        } => RegistryCommand::Cancel {
            reason: checked_note("reason", reason)?,
            from: AccountId(from),
            class: parse_unit_class(&unit)?,
            quantity: Quantity::new(quantity),
        },
        JsonCommand::Reverse { transaction } => RegistryCommand::Reverse {
            transaction: TransactionId(transaction),
        },
        JsonCommand::Approve { transaction } => RegistryCommand::Approve {
            transaction: TransactionId(transaction),
        },
        JsonCommand::Reject { transaction } => RegistryCommand::Reject {
            transaction: TransactionId(transaction),
        },
        JsonCommand::Withdraw { transaction } => RegistryCommand::Withdraw {
            transaction: TransactionId(transaction),
        },
        JsonCommand::SetSerialPolicy { policy } => RegistryCommand::SetSerialPolicy {
            policy: match policy {
                JsonSerialPolicy::OldestFirst => SerialPolicy::OldestFirst,
                JsonSerialPolicy::LargestFirst => SerialPolicy::LargestFirst,
            },
        },
    })
}

/// The outcome line of a command that reached the sequencer, as JSON
/// ([`OutcomeLine::reply`] serialized).
#[must_use]
pub fn reply_json(
    request_id: RequestId,
    sequence: Option<u64>,
    time: Timestamp,
    duplicate: bool,
    outcome: &Outcome,
) -> Value {
    serde_json::to_value(OutcomeLine::reply(
        request_id, sequence, time, duplicate, outcome,
    ))
    .unwrap_or_default()
}

/// The outcome line of a line that never reached the sequencer, as JSON
/// ([`OutcomeLine::rejected`] serialized).
#[must_use]
pub fn rejection_json(line_number: usize, error: &ApiError) -> Value {
    serde_json::to_value(OutcomeLine::rejected(line_number, error)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transfer_line_parses_into_the_registry_command() {
        let request = parse_request(
            r#"{"request_id":7,"requester":11,"time":"2021-07-16T09:30:00Z","command":"transfer","from":100,"to":200,"unit":"CEA-2021","quantity":300}"#,
        )
        .unwrap();
        assert_eq!(request.request_id, RequestId(7));
        assert_eq!(request.requester, ParticipantId(11));
        assert!(request.time.is_some());
        assert!(matches!(
            request.command,
            Command::Registry(RegistryCommand::Transfer { quantity, .. }) if quantity == Quantity::new(300)
        ));
    }

    #[test]
    fn malformed_lines_name_the_problem_and_keep_the_request_id() {
        let malformed = "malformed_command";
        let invalid = "invalid_value";
        let cases = [
            ("{not json", None, "not valid JSON", malformed),
            (
                r#"{"request_id":3,"requester":1,"command":"teleport"}"#,
                Some(3),
                "teleport",
                malformed,
            ),
            (
                r#"{"request_id":4,"requester":1,"command":"issue","unit":"CEA-2021"}"#,
                Some(4),
                "quantity",
                malformed,
            ),
            (
                r#"{"request_id":5,"requester":1,"command":"issue","unit":"CEA","quantity":1}"#,
                Some(5),
                "SCHEME-VINTAGE",
                invalid,
            ),
            (
                r#"{"request_id":6,"requester":1,"command":"issue","unit":"CEA-2021","quantity":-1}"#,
                Some(6),
                "invalid value",
                malformed,
            ),
            (
                r#"{"request_id":8,"requester":1,"command":"issue","unit":"CEA-2021","quantity":1,"colour":"red"}"#,
                Some(8),
                "colour",
                malformed,
            ),
            (
                r#"{"request_id":9,"requester":1,"command":"open_account","id":1,"kind":"piggy_bank","holder":1,"representatives":[1]}"#,
                Some(9),
                "piggy_bank",
                invalid,
            ),
        ];
        for (line, request_id, needle, code) in cases {
            let error = parse_request(line).unwrap_err();
            assert_eq!(error.code, code, "{line}");
            assert_eq!(error.request_id, request_id, "{line}");
            assert!(error.message.contains(needle), "{line}: {}", error.message);
        }
    }
}
