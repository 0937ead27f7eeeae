//! JSON shapes of the compliance commands (docs/compliance.md), converted by
//! hand to the engine's types. Decimal activity data may be given as JSON
//! strings ("0.8218") or numbers; it is kept as exact text.

use ets_engine::compliance::{
    AllocationPhase, ComplianceCommand, Cooling, EntityOutput, EntitySpec, FuelKind, FuelSpec,
    UnitCategory, UnitOutput, UnitSpec,
};
use ets_model::{AccountId, Code, ParticipantId, Price, Quantity};
use serde::Deserialize;
use serde_json::Value;

/// The `command` names handled here.
pub const COMPLIANCE_COMMANDS: [&str; 9] = [
    "load_rulebook",
    "register_entities",
    "allocate_free",
    "submit_report",
    "verify_report",
    "correct_report",
    "close_year",
    "set_plausibility_ranges",
    "borrow",
];

/// A decimal given as a JSON string or number, kept as its text.
#[derive(Deserialize)]
#[serde(untagged)]
enum DecimalText {
    Text(String),
    Number(serde_json::Number),
}

impl DecimalText {
    fn into_text(self) -> String {
        match self {
            DecimalText::Text(text) => text,
            DecimalText::Number(number) => number.to_string(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonUnit {
    unit: String,
    category: String,
    capacity_mw: u32,
    #[serde(default = "water")]
    cooling: String,
    #[serde(default)]
    combined_heat_and_power: bool,
}

fn water() -> String {
    "water".to_owned()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonEntity {
    participant: u64,
    account: u64,
    units: Vec<JsonUnit>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonUnitOutput {
    unit: String,
    electricity_mwh: DecimalText,
    #[serde(default)]
    heat_gj: Option<DecimalText>,
    #[serde(default)]
    heat_supply_ratio: Option<DecimalText>,
    load_factor: DecimalText,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonEntityOutput {
    participant: u64,
    units: Vec<JsonUnitOutput>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonFuel {
    kind: String,
    consumed: DecimalText,
    net_calorific_value: DecimalText,
    #[serde(default)]
    carbon_content: Option<DecimalText>,
    #[serde(default)]
    oxidation_rate: Option<DecimalText>,
}

#[derive(Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
enum JsonComplianceCommand {
    LoadRulebook {
        source_name: String,
        toml: String,
    },
    RegisterEntities {
        scheme: String,
        entities: Vec<JsonEntity>,
    },
    AllocateFree {
        scheme: String,
        year: u16,
        phase: String,
        outputs: Vec<JsonEntityOutput>,
    },
    SubmitReport {
        entity: u64,
        year: u16,
        fuels: Vec<JsonFuel>,
        #[serde(default)]
        purchased_electricity_mwh: Option<DecimalText>,
        #[serde(default)]
        output_mwh: Option<DecimalText>,
    },
    VerifyReport {
        entity: u64,
        year: u16,
        accept: bool,
    },
    CorrectReport {
        entity: u64,
        year: u16,
        emissions: u64,
    },
    CloseYear {
        scheme: String,
        year: u16,
        #[serde(default)]
        reference_average_price_ticks: Option<i64>,
    },
    Borrow {
        entity: u64,
        year: u16,
        quantity: u64,
    },
    SetPlausibilityRanges {
        scheme: String,
        carbon_content_min: DecimalText,
        carbon_content_max: DecimalText,
        intensity_min: DecimalText,
        intensity_max: DecimalText,
    },
}

fn code(what: &str, text: &str) -> Result<Code, String> {
    Code::try_new(text).map_err(|error| format!("{what}: {error}"))
}

fn category(text: &str) -> Result<UnitCategory, String> {
    match text {
        "coal_above_300mw" => Ok(UnitCategory::CoalAbove300Mw),
        "coal_at_most_300mw" => Ok(UnitCategory::CoalAtMost300Mw),
        "unconventional_coal" => Ok(UnitCategory::UnconventionalCoal),
        "gas" => Ok(UnitCategory::Gas),
        other => Err(format!(
            "unit category {other:?} is not one of coal_above_300mw, coal_at_most_300mw, unconventional_coal, gas"
        )),
    }
}

fn zero() -> String {
    "0".to_owned()
}

fn units(units: Vec<JsonUnit>) -> Result<Vec<UnitSpec>, String> {
    units
        .into_iter()
        .map(|unit| {
            Ok(UnitSpec {
                unit: code("unit", &unit.unit)?,
                category: category(&unit.category)?,
                capacity_mw: unit.capacity_mw,
                cooling: match unit.cooling.as_str() {
                    "water" => Cooling::Water,
                    "air" => Cooling::Air,
                    other => return Err(format!("cooling {other:?} is not water or air")),
                },
                combined_heat_and_power: unit.combined_heat_and_power,
            })
        })
        .collect()
}

fn outputs(outputs: Vec<JsonEntityOutput>) -> Result<Vec<EntityOutput>, String> {
    outputs
        .into_iter()
        .map(|output| {
            Ok(EntityOutput {
                participant: ParticipantId(output.participant),
                units: output
                    .units
                    .into_iter()
                    .map(|unit| {
                        Ok(UnitOutput {
                            unit: code("unit", &unit.unit)?,
                            electricity_mwh: unit.electricity_mwh.into_text(),
                            heat_gj: unit.heat_gj.map_or_else(zero, DecimalText::into_text),
                            heat_supply_ratio: unit
                                .heat_supply_ratio
                                .map_or_else(zero, DecimalText::into_text),
                            load_factor: unit.load_factor.into_text(),
                        })
                    })
                    .collect::<Result<Vec<_>, String>>()?,
            })
        })
        .collect()
}

fn fuels(fuels: Vec<JsonFuel>) -> Result<Vec<FuelSpec>, String> {
    fuels
        .into_iter()
        .map(|fuel| {
            Ok(FuelSpec {
                kind: match fuel.kind.as_str() {
                    "coal" => FuelKind::Coal,
                    "other" => FuelKind::Other,
                    other => return Err(format!("fuel kind {other:?} is not coal or other")),
                },
                consumed: fuel.consumed.into_text(),
                net_calorific_value: fuel.net_calorific_value.into_text(),
                carbon_content: fuel.carbon_content.map(DecimalText::into_text),
                oxidation_rate: fuel.oxidation_rate.map(DecimalText::into_text),
            })
        })
        .collect()
}

/// Parses the command part of a compliance line (envelope fields removed).
///
/// # Errors
/// A message naming the field that is wrong.
pub fn parse_compliance(value: Value) -> Result<ComplianceCommand, String> {
    let parsed: JsonComplianceCommand =
        serde_json::from_value(value).map_err(|error| format!("not a valid command: {error}"))?;
    Ok(match parsed {
        JsonComplianceCommand::LoadRulebook { source_name, toml } => {
            ComplianceCommand::LoadRulebook { source_name, toml }
        }
        JsonComplianceCommand::RegisterEntities { scheme, entities } => {
            ComplianceCommand::RegisterEntities {
                scheme,
                entities: entities
                    .into_iter()
                    .map(|entity| {
                        Ok(EntitySpec {
                            participant: ParticipantId(entity.participant),
                            account: AccountId(entity.account),
                            units: units(entity.units)?,
                        })
                    })
                    .collect::<Result<Vec<_>, String>>()?,
            }
        }
        JsonComplianceCommand::AllocateFree {
            scheme,
            year,
            phase,
            outputs: given,
        } => ComplianceCommand::Allocate {
            scheme,
            year,
            phase: match phase.as_str() {
                "pre" => AllocationPhase::Pre,
                "final" => AllocationPhase::Final,
                other => return Err(format!("phase {other:?} is not pre or final")),
            },
            outputs: outputs(given)?,
        },
        JsonComplianceCommand::SubmitReport {
            entity,
            year,
            fuels: given,
            purchased_electricity_mwh,
            output_mwh,
        } => ComplianceCommand::SubmitReport {
            entity: ParticipantId(entity),
            year,
            fuels: fuels(given)?,
            purchased_electricity_mwh: purchased_electricity_mwh
                .map_or_else(zero, DecimalText::into_text),
            output_mwh: output_mwh.map_or_else(zero, DecimalText::into_text),
        },
        JsonComplianceCommand::Borrow {
            entity,
            year,
            quantity,
        } => ComplianceCommand::Borrow {
            entity: ParticipantId(entity),
            year,
            quantity: Quantity::new(quantity),
        },
        JsonComplianceCommand::SetPlausibilityRanges {
            scheme,
            carbon_content_min,
            carbon_content_max,
            intensity_min,
            intensity_max,
        } => ComplianceCommand::SetPlausibilityRanges {
            scheme,
            carbon_content_min: carbon_content_min.into_text(),
            carbon_content_max: carbon_content_max.into_text(),
            intensity_min: intensity_min.into_text(),
            intensity_max: intensity_max.into_text(),
        },
        JsonComplianceCommand::VerifyReport {
            entity,
            year,
            accept,
        } => ComplianceCommand::VerifyReport {
            entity: ParticipantId(entity),
            year,
            accept,
        },
        JsonComplianceCommand::CorrectReport {
            entity,
            year,
            emissions,
        } => ComplianceCommand::CorrectReport {
            entity: ParticipantId(entity),
            year,
            emissions: Quantity::new(emissions),
        },
        JsonComplianceCommand::CloseYear {
            scheme,
            year,
            reference_average_price_ticks,
        } => ComplianceCommand::CloseYear {
            scheme,
            year,
            reference_average_price: reference_average_price_ticks
                .map(Price::try_new)
                .transpose()
                .map_err(|error| error.to_string())?,
        },
    })
}
