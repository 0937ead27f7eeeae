//! One JSON line in (a command), one JSON line out (its outcome).

use crate::authority::{ACCOUNT_HOLDING, ADMINISTRATION, CommandSpec};
use crate::compliance::{COMPLIANCE_COMMANDS, ComplianceCommandJson, parse_compliance};
use crate::exchange::{EXCHANGE_COMMANDS, parse_exchange};
use crate::outcome::OutcomeLine;
use crate::refusal::RefusalCode;
use crate::registry_controls::{CONTROL_COMMANDS, ControlCommandJson, parse_control};
use crate::schema::{AccountKindText, AccountStatusText, ParticipantKindText, TimeText, UnitText};
use crate::text::{check_text, parse_time, parse_unit_class};
use ets_engine::{Command, Outcome};
use ets_model::{AccountId, ParticipantId, Quantity, RequestId, Timestamp, TransactionId};
use ets_registry::{AccountKind, AccountStatus, ParticipantKind, RegistryCommand, SerialPolicy};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};
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

/// The registry's commands, as a command line writes them (without the
/// envelope): parsed from JSON here, and built and serialized by typed
/// clients such as the web UI (see [`CommandLineJson`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum RegistryCommandJson {
    /// Registers a participant.
    RegisterParticipant {
        /// The new participant's id.
        id: u64,
        /// Its kind (`operator`, `verifier`, ...).
        #[schemars(with = "ParticipantKindText")]
        kind: String,
        /// At most 200 bytes, no control or bidirectional characters.
        name: String,
    },
    /// Opens an account.
    OpenAccount {
        /// The new account's id.
        id: u64,
        /// Its kind.
        #[schemars(with = "AccountKindText")]
        kind: String,
        /// The participant holding it.
        holder: u64,
        /// The participants who may act for it.
        representatives: Vec<u64>,
        /// How many representatives approve a transfer out (default 1).
        #[serde(default = "one")]
        approvals_required: u8,
    },
    /// Opens, blocks or closes an account.
    SetAccountStatus {
        /// The account.
        account: u64,
        /// `open`, `blocked` or `closed`.
        #[schemars(with = "AccountStatusText")]
        status: String,
    },
    /// Replaces an account's representatives and approval count.
    SetApprovalRule {
        /// The account.
        account: u64,
        /// The participants who may act for it.
        representatives: Vec<u64>,
        /// How many representatives approve a transfer out.
        approvals_required: u8,
    },
    /// Creates units in the issuance account.
    Issue {
        /// The unit class (`EUA-2021`, ...).
        #[schemars(with = "UnitText")]
        unit: String,
        /// Tonnes.
        quantity: u64,
    },
    /// Moves issued units to an account.
    Allocate {
        /// The receiving account.
        to: u64,
        /// The unit class.
        #[schemars(with = "UnitText")]
        unit: String,
        /// Tonnes.
        quantity: u64,
    },
    /// Moves units between accounts.
    Transfer {
        /// The paying account.
        from: u64,
        /// The receiving account.
        to: u64,
        /// The unit class.
        #[schemars(with = "UnitText")]
        unit: String,
        /// Tonnes.
        quantity: u64,
    },
    /// Surrenders units for a compliance year.
    Surrender {
        /// The surrendering account.
        from: u64,
        /// The unit class.
        #[schemars(with = "UnitText")]
        unit: String,
        /// Tonnes.
        quantity: u64,
        /// The year the surrender counts for.
        compliance_year: u16,
    },
    /// Retires units voluntarily.
    Retire {
        /// The retiring account.
        from: u64,
        /// The unit class.
        #[schemars(with = "UnitText")]
        unit: String,
        /// Tonnes.
        quantity: u64,
        /// On whose behalf.
        beneficiary: String,
    },
    /// Cancels units (administrator).
    Cancel {
        /// The account cancelled from.
        from: u64,
        /// The unit class.
        #[schemars(with = "UnitText")]
        unit: String,
        /// Tonnes.
        quantity: u64,
        /// Why.
        reason: String,
    },
    /// Reverses a completed transaction.
    Reverse {
        /// The transaction.
        transaction: u64,
    },
    /// Approves a pending transaction.
    Approve {
        /// The transaction.
        transaction: u64,
    },
    /// Rejects a pending transaction.
    Reject {
        /// The transaction.
        transaction: u64,
    },
    /// Withdraws one's own pending transaction.
    Withdraw {
        /// The transaction.
        transaction: u64,
    },
    /// Chooses which serials transfers take from now on (docs/serials.md).
    SetSerialPolicy {
        /// The policy.
        policy: SerialPolicyJson,
    },
}

/// Which serials a transfer takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SerialPolicyJson {
    /// Lowest serials first, splitting the last block taken.
    OldestFirst,
    /// Whole blocks largest first, splitting at most one.
    LargestFirst,
}

/// The body of a command line without its envelope, typed: one of the
/// command families a typed client (the web UI) builds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum CommandJson {
    /// A registry command.
    Registry(RegistryCommandJson),
    /// A security-control command.
    Control(ControlCommandJson),
    /// A compliance command.
    Compliance(ComplianceCommandJson),
}

impl From<RegistryCommandJson> for CommandJson {
    fn from(command: RegistryCommandJson) -> CommandJson {
        CommandJson::Registry(command)
    }
}

impl From<ControlCommandJson> for CommandJson {
    fn from(command: ControlCommandJson) -> CommandJson {
        CommandJson::Control(command)
    }
}

impl From<ComplianceCommandJson> for CommandJson {
    fn from(command: ComplianceCommandJson) -> CommandJson {
        CommandJson::Compliance(command)
    }
}

/// A whole command line, typed: the envelope and the command. Its
/// [`CommandLineJson::to_line`] is the line [`parse_request`] reads, so a
/// typed client goes the same way (and through the same checks) as a JSON one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandLineJson {
    /// The client's request id.
    pub request_id: u64,
    /// Who sends it.
    pub requester: u64,
    /// The command.
    #[serde(flatten)]
    pub command: CommandJson,
}

impl CommandLineJson {
    /// The line as JSON text.
    #[must_use]
    pub fn to_line(&self) -> String {
        // Strings, numbers, lists and maps with string keys only: serializing cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
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
        RegistryCommandJson::json_schema(generator),
        crate::exchange::schema(generator),
        crate::compliance::schema(generator),
        crate::registry_controls::schema(generator),
        JsonClockCommand::json_schema(generator),
    ]
}

fn one() -> u8 {
    1
}

/// Parses one JSON command line: the typed read first (`crate::line`, no
/// JSON value tree), else the general one, which judges every line and
/// names what is wrong.
///
/// # Errors
/// [`ApiError`] naming what is wrong: bad JSON, an unknown command or field,
/// a missing field, an unknown kind or status, a bad unit or time.
pub fn parse_request(line: &str) -> Result<ApiRequest, ApiError> {
    if line.len() <= LINE_MAX_BYTES
        && let Some(request) = crate::line::typed_request(line)
    {
        return Ok(request);
    }
    parse_general(line)
}

/// The command families, each read by its own serde shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Clock,
    Control,
    Compliance,
    Exchange,
    Registry,
}

/// The family of the command named `name` (the registry's for a name no
/// other family declares, whose shape then refuses an unknown one).
pub(crate) fn family(name: &str) -> Family {
    let declared = |specs: &[CommandSpec]| specs.iter().any(|spec| spec.name == name);
    if name == CLOCK_COMMANDS[0].name {
        Family::Clock
    } else if declared(&CONTROL_COMMANDS) {
        Family::Control
    } else if declared(&COMPLIANCE_COMMANDS) {
        Family::Compliance
    } else if declared(&EXCHANGE_COMMANDS) {
        Family::Exchange
    } else {
        Family::Registry
    }
}

/// Parses one JSON command line through a JSON value: every line, with what
/// is wrong named (the JSON Schema's whole numbers written as floats
/// included).
pub(crate) fn parse_general(line: &str) -> Result<ApiRequest, ApiError> {
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
    whole_numbers(&mut value);
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
    let time =
        line_time(object.remove("time")).map_err(|message| malformed(request_id, message))?;
    let request_id_number = request_id_value
        .as_u64()
        .ok_or_else(|| malformed(None, "`request_id` must be a whole number".to_owned()))?;
    let command = parse_command(value).map_err(|error| ApiError {
        code: error.code(),
        message: error.message().to_owned(),
        request_id,
    })?;
    Ok(ApiRequest {
        request_id: RequestId(request_id_number),
        requester: ParticipantId(requester),
        time,
        command,
    })
}

/// The `time` of a line, if it has one: absent or null, or an RFC 3339 string.
fn line_time(time: Option<Value>) -> Result<Option<Timestamp>, String> {
    match time {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => parse_time(&text).map(Some),
        Some(_) => Err("`time` must be an RFC 3339 string".to_owned()),
    }
}

/// The command of a line whose envelope fields are removed, read by the
/// family its `command` name belongs to.
fn parse_command(value: Value) -> Result<Command, CommandError> {
    let name = value.get("command").and_then(Value::as_str).unwrap_or("");
    Ok(match family(name) {
        Family::Clock => Command::Clock(parse_clock(value)?),
        Family::Control => Command::Registry(parse_control(value)?),
        Family::Compliance => Command::Compliance(parse_compliance(value)?),
        Family::Exchange => Command::Exchange(parse_exchange(value)?),
        Family::Registry => {
            let parsed: RegistryCommandJson =
                serde_json::from_value(value).map_err(CommandError::shape)?;
            Command::Registry(convert(parsed)?)
        }
    })
}

/// The largest integer every JSON parser keeps exactly in a float: 2^53.
pub const EXACT_FLOAT_INTEGER_MAX: f64 = 9_007_199_254_740_992.0;

/// Writes every number with no fractional part (`494.0`, `5e3`) as the
/// integer it is, as JSON Schema counts it, when a float holds it exactly
/// (up to 2^53 in size); other floats are left for the parser to refuse.
fn whole_numbers(value: &mut Value) {
    match value {
        Value::Number(number) if !number.is_i64() && !number.is_u64() => {
            if let Some(float) = number.as_f64()
                && float.fract() == 0.0
                && float.abs() <= EXACT_FLOAT_INTEGER_MAX
            {
                // Exact: the float is a whole number of at most 2^53.
                #[allow(clippy::cast_possible_truncation)]
                let whole = float as i64;
                *number = whole.into();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        Value::Object(fields) => fields.values_mut().for_each(whole_numbers),
        _ => {}
    }
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

/// The registry command a parsed shape describes, its values checked. Every
/// shape is named once, in this one exhaustive match with no catch-all arm:
/// a new shape fails to compile until it has its arm. Shapes with several
/// fields are handed, field by field, to a builder of their own.
pub(crate) fn convert(command: RegistryCommandJson) -> Result<RegistryCommand, String> {
    Ok(match command {
        RegistryCommandJson::Issue { unit, quantity } => RegistryCommand::Issue {
            class: parse_unit_class(&unit)?,
            quantity: Quantity::new(quantity),
        },
        RegistryCommandJson::Allocate { to, unit, quantity } => RegistryCommand::Allocate {
            to: AccountId(to),
            class: parse_unit_class(&unit)?,
            quantity: Quantity::new(quantity),
        },
        RegistryCommandJson::Transfer {
            from,
            to,
            unit,
            quantity,
        } => transfer(from, to, &unit, quantity)?,
        RegistryCommandJson::Surrender {
            from,
            unit,
            quantity,
            compliance_year,
        } => surrender(from, &unit, quantity, compliance_year)?,
        RegistryCommandJson::Retire {
            from,
            unit,
            quantity,
            beneficiary,
        } => retire(from, &unit, quantity, beneficiary)?,
        RegistryCommandJson::Cancel {
            from,
            unit,
            quantity,
            reason,
        } => cancel(from, &unit, quantity, reason)?,
        RegistryCommandJson::RegisterParticipant { id, kind, name } => {
            register_participant(id, &kind, name)?
        }
        RegistryCommandJson::OpenAccount {
            id,
            kind,
            holder,
            representatives,
            approvals_required,
        } => open_account(id, &kind, holder, representatives, approvals_required)?,
        RegistryCommandJson::SetAccountStatus { account, status } => set_status(account, &status)?,
        RegistryCommandJson::SetApprovalRule {
            account,
            representatives,
            approvals_required,
        } => approval_rule(account, representatives, approvals_required),
        RegistryCommandJson::Reverse { transaction } => RegistryCommand::Reverse {
            transaction: TransactionId(transaction),
        },
        RegistryCommandJson::Approve { transaction } => RegistryCommand::Approve {
            transaction: TransactionId(transaction),
        },
        RegistryCommandJson::Reject { transaction } => RegistryCommand::Reject {
            transaction: TransactionId(transaction),
        },
        RegistryCommandJson::Withdraw { transaction } => RegistryCommand::Withdraw {
            transaction: TransactionId(transaction),
        },
        RegistryCommandJson::SetSerialPolicy { policy } => RegistryCommand::SetSerialPolicy {
            policy: serial_policy(policy),
        },
    })
}

/// `transfer`: units from one account to another, the unit class checked.
fn transfer(from: u64, to: u64, unit: &str, quantity: u64) -> Result<RegistryCommand, String> {
    Ok(RegistryCommand::Transfer {
        from: AccountId(from),
        to: AccountId(to),
        class: parse_unit_class(unit)?,
        quantity: Quantity::new(quantity),
    })
}

/// `surrender`: units given up for a compliance year, the unit class checked.
fn surrender(from: u64, unit: &str, quantity: u64, year: u16) -> Result<RegistryCommand, String> {
    Ok(RegistryCommand::Surrender {
        from: AccountId(from),
        class: parse_unit_class(unit)?,
        quantity: Quantity::new(quantity),
        compliance_year: year,
    })
}

/// `retire`: units retired for a beneficiary; the beneficiary is checked
/// before the unit class.
fn retire(
    from: u64,
    unit: &str,
    quantity: u64,
    beneficiary: String,
) -> Result<RegistryCommand, String> {
    Ok(RegistryCommand::Retire {
        beneficiary: checked_note("beneficiary", beneficiary)?,
        from: AccountId(from),
        class: parse_unit_class(unit)?,
        quantity: Quantity::new(quantity),
    })
}

/// `cancel`: units cancelled for a reason; the reason is checked before the
/// unit class.
fn cancel(from: u64, unit: &str, quantity: u64, reason: String) -> Result<RegistryCommand, String> {
    Ok(RegistryCommand::Cancel {
        reason: checked_note("reason", reason)?,
        from: AccountId(from),
        class: parse_unit_class(unit)?,
        quantity: Quantity::new(quantity),
    })
}

/// `register_participant`: the name checked before the kind.
fn register_participant(id: u64, kind: &str, name: String) -> Result<RegistryCommand, String> {
    check_text("name", &name, ets_registry::NAME_MAX_BYTES)?;
    Ok(RegistryCommand::RegisterParticipant {
        id: ParticipantId(id),
        kind: participant_kind(kind)?,
        name,
    })
}

/// `open_account`: the account kind checked.
fn open_account(
    id: u64,
    kind: &str,
    holder: u64,
    representatives: Vec<u64>,
    approvals_required: u8,
) -> Result<RegistryCommand, String> {
    Ok(RegistryCommand::OpenAccount {
        id: AccountId(id),
        kind: account_kind(kind)?,
        holder: ParticipantId(holder),
        representatives: participants(representatives),
        approvals_required,
    })
}

/// `set_account_status`: the status checked.
fn set_status(account: u64, status: &str) -> Result<RegistryCommand, String> {
    Ok(RegistryCommand::SetAccountStatus {
        account: AccountId(account),
        status: account_status(status)?,
    })
}

/// `set_approval_rule`: nothing to check, the ids wrapped.
fn approval_rule(
    account: u64,
    representatives: Vec<u64>,
    approvals_required: u8,
) -> RegistryCommand {
    RegistryCommand::SetApprovalRule {
        account: AccountId(account),
        representatives: participants(representatives),
        approvals_required,
    }
}

/// The registry's serial policy a parsed policy names.
fn serial_policy(policy: SerialPolicyJson) -> SerialPolicy {
    match policy {
        SerialPolicyJson::OldestFirst => SerialPolicy::OldestFirst,
        SerialPolicyJson::LargestFirst => SerialPolicy::LargestFirst,
    }
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

    /// One line of every registry command shape.
    const REGISTRY_LINES: [&str; 15] = [
        r#"{"request_id":1,"requester":1,"command":"register_participant","id":5,"kind":"institution","name":"Fund"}"#,
        r#"{"request_id":2,"requester":1,"command":"open_account","id":5,"kind":"trading","holder":5,"representatives":[5]}"#,
        r#"{"request_id":3,"requester":1,"command":"set_account_status","account":5,"status":"blocked"}"#,
        r#"{"request_id":4,"requester":1,"command":"set_approval_rule","account":5,"representatives":[5,6],"approvals_required":2}"#,
        r#"{"request_id":5,"requester":1,"command":"issue","unit":"CEA-2021","quantity":10}"#,
        r#"{"request_id":6,"requester":1,"command":"allocate","to":5,"unit":"CEA-2021","quantity":10}"#,
        r#"{"request_id":7,"requester":5,"command":"transfer","from":5,"to":6,"unit":"CEA-2021","quantity":1}"#,
        r#"{"request_id":8,"requester":5,"command":"surrender","from":5,"unit":"CEA-2021","quantity":1,"compliance_year":2021}"#,
        r#"{"request_id":9,"requester":5,"command":"retire","from":5,"unit":"CEA-2021","quantity":1,"beneficiary":"A marathon"}"#,
        r#"{"request_id":10,"requester":1,"command":"cancel","from":5,"unit":"CEA-2021","quantity":1,"reason":"Error"}"#,
        r#"{"request_id":11,"requester":1,"command":"reverse","transaction":3}"#,
        r#"{"request_id":12,"requester":6,"command":"approve","transaction":3}"#,
        r#"{"request_id":13,"requester":6,"command":"reject","transaction":3}"#,
        r#"{"request_id":14,"requester":5,"command":"withdraw","transaction":3}"#,
        r#"{"request_id":15,"requester":1,"command":"set_serial_policy","policy":"largest_first"}"#,
    ];

    #[test]
    fn every_registry_command_shape_converts_to_the_command_it_names() {
        // Goal: each shape reaches its own arm of the conversion (built there
        // or by its builder) and comes out as the registry command of the
        // same name.
        for line in REGISTRY_LINES {
            let value: Value = serde_json::from_str(line).unwrap();
            let request = parse_general(line).unwrap_or_else(|error| panic!("{line}: {error:?}"));
            let Command::Registry(command) = request.command else {
                panic!("not a registry command: {line}");
            };
            assert_eq!(Some(command.name()), value["command"].as_str(), "{line}");
        }
        for spec in REGISTRY_COMMANDS {
            let named = format!(r#""command":"{}""#, spec.name);
            assert!(
                REGISTRY_LINES.iter().any(|line| line.contains(&named)),
                "no line for {}",
                spec.name
            );
        }
    }

    #[test]
    fn each_registry_conversion_names_the_wrong_value_checked_first() {
        // Goal: a wrong value refused by a builder (retire, open_account) or in
        // the conversion's own arm keeps its message, and a shape with two
        // wrong values names the one checked first (note before unit class,
        // name before participant kind).
        let message = |line: &str| parse_general(line).unwrap_err().message;
        assert!(
            message(r#"{"request_id":1,"requester":5,"command":"retire","from":5,"unit":"CEA-2021","quantity":1,"beneficiary":"a\u0007b"}"#)
                .contains("beneficiary")
        );
        assert!(
            message(r#"{"request_id":1,"requester":1,"command":"open_account","id":5,"kind":"vault","holder":5,"representatives":[5]}"#)
                .contains("account kind \"vault\"")
        );
        assert!(
            message(r#"{"request_id":1,"requester":1,"command":"set_serial_policy","policy":"newest_first"}"#)
                .contains("newest_first")
        );
        let both = message(
            r#"{"request_id":1,"requester":1,"command":"cancel","from":5,"unit":"nope","quantity":1,"reason":"a\u0007b"}"#,
        );
        assert!(both.contains("reason") && !both.contains("nope"), "{both}");
        let both = message(
            r#"{"request_id":1,"requester":1,"command":"register_participant","id":5,"kind":"wizard","name":"a\u0007b"}"#,
        );
        assert!(both.contains("name") && !both.contains("wizard"), "{both}");
    }

    #[test]
    fn a_typed_line_reads_back_as_the_command_it_describes() {
        let transfer = CommandLineJson {
            request_id: 7,
            requester: 2,
            command: RegistryCommandJson::Transfer {
                from: 10,
                to: 11,
                unit: "EUA-2021".to_owned(),
                quantity: 5,
            }
            .into(),
        };
        let written = r#"{"request_id":7,"requester":2,"command":"transfer","from":10,"to":11,"unit":"EUA-2021","quantity":5}"#;
        assert_eq!(
            parse_request(&transfer.to_line()),
            parse_request(written),
            "the typed line is the written one"
        );
        assert!(parse_request(written).is_ok());
        let controls = CommandLineJson {
            request_id: 8,
            requester: 1,
            command: ControlCommandJson::SetControls(crate::ControlSettingsJson::eu(
                "EU".to_owned(),
                "eu-eex".to_owned(),
            ))
            .into(),
        };
        let parsed = parse_request(&controls.to_line()).expect("typed controls parse");
        assert!(matches!(parsed.command, Command::Registry(_)));
        let verify = CommandLineJson {
            request_id: 9,
            requester: 3,
            command: ComplianceCommandJson::verify_report(4, 2021, true).into(),
        };
        let parsed = parse_request(&verify.to_line()).expect("a typed verification parses");
        assert!(matches!(parsed.command, Command::Compliance(_)));
    }

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
    fn whole_numbers_written_as_floats_are_integers() {
        // Goal: JSON Schema's integers include 494.0 and 5e3; the parser takes
        // them as the integers they are, and refuses 1.5.
        let request = parse_request(
            r#"{"request_id":7.0,"requester":1,"command":"reverse","transaction":5e3}"#,
        )
        .unwrap();
        assert_eq!(request.request_id, RequestId(7));
        assert!(matches!(
            request.command,
            Command::Registry(RegistryCommand::Reverse { transaction }) if transaction == TransactionId(5_000)
        ));
        let error = parse_request(
            r#"{"request_id":7,"requester":1,"command":"reverse","transaction":1.5}"#,
        )
        .unwrap_err();
        assert_eq!(error.code, "malformed_command");
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
