//! JSON shapes of the compliance commands (docs/compliance.md), converted by
//! hand to the engine's types. Decimal activity data may be given as JSON
//! strings ("0.8218") or numbers; it is kept as exact text.

use crate::authority::{ACCOUNT_HOLDING, ADMINISTRATION, CommandSpec, VERIFICATION};
use crate::request::CommandError;
use ets_engine::compliance::{
    AllocationPhase, ComplianceCommand, Cooling, EntityOutput, EntitySpec, EuInstallationInput,
    EuSubInstallationInput, FuelKind, FuelSpec, LeakageExposure, UnitCategory, UnitOutput,
    UnitSpec,
};
use ets_model::{AccountId, Code, ParticipantId, Price, Quantity};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Deserialize;
use serde_json::Value;

/// The commands handled here, with who may send each.
pub const COMPLIANCE_COMMANDS: [CommandSpec; 10] = [
    CommandSpec::write("load_rulebook", ADMINISTRATION),
    CommandSpec::write("register_entities", ADMINISTRATION),
    CommandSpec::write("allocate_free", ADMINISTRATION),
    CommandSpec::write("submit_report", ACCOUNT_HOLDING),
    CommandSpec::write("verify_report", VERIFICATION),
    CommandSpec::write("correct_report", ADMINISTRATION),
    CommandSpec::write("close_year", ADMINISTRATION),
    CommandSpec::write("set_plausibility_ranges", ADMINISTRATION),
    CommandSpec::write("borrow", ACCOUNT_HOLDING),
    CommandSpec::write("allocate_eu", ADMINISTRATION),
];

/// A decimal given as a JSON string or number, kept as its text.
#[derive(Deserialize, JsonSchema)]
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

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct JsonUnit {
    #[schemars(with = "crate::schema::CodeText")]
    unit: String,
    #[schemars(extend("enum" = ["coal_above_300mw", "coal_at_most_300mw", "unconventional_coal", "gas"]))]
    category: String,
    capacity_mw: u32,
    #[serde(default = "water")]
    #[schemars(extend("enum" = ["water", "air"]))]
    cooling: String,
    #[serde(default)]
    combined_heat_and_power: bool,
}

fn water() -> String {
    "water".to_owned()
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct JsonEntity {
    participant: u64,
    account: u64,
    units: Vec<JsonUnit>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct JsonUnitOutput {
    #[schemars(with = "crate::schema::CodeText")]
    unit: String,
    electricity_mwh: DecimalText,
    #[serde(default)]
    heat_gj: Option<DecimalText>,
    #[serde(default)]
    heat_supply_ratio: Option<DecimalText>,
    load_factor: DecimalText,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct JsonEntityOutput {
    participant: u64,
    units: Vec<JsonUnitOutput>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct JsonSubInstallation {
    #[schemars(with = "crate::schema::CodeText")]
    sub_installation: String,
    benchmark: DecimalText,
    historical_activity_level: DecimalText,
    #[schemars(extend("enum" = ["exposed", "not_exposed", "district_heating"]))]
    exposure: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct JsonInstallation {
    participant: u64,
    sub_installations: Vec<JsonSubInstallation>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct JsonFuel {
    #[schemars(extend("enum" = ["coal", "other"]))]
    kind: String,
    consumed: DecimalText,
    net_calorific_value: DecimalText,
    #[serde(default)]
    carbon_content: Option<DecimalText>,
    #[serde(default)]
    oxidation_rate: Option<DecimalText>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
enum JsonComplianceCommand {
    LoadRulebook {
        source_name: String,
        toml: String,
    },
    RegisterEntities {
        #[schemars(with = "crate::schema::CodeText")]
        scheme: String,
        entities: Vec<JsonEntity>,
    },
    AllocateFree {
        #[schemars(with = "crate::schema::CodeText")]
        scheme: String,
        year: u16,
        #[schemars(extend("enum" = ["pre", "final"]))]
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
        #[serde(default)]
        draft: bool,
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
        #[schemars(with = "crate::schema::CodeText")]
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
        #[schemars(with = "crate::schema::CodeText")]
        scheme: String,
        carbon_content_min: DecimalText,
        carbon_content_max: DecimalText,
        intensity_min: DecimalText,
        intensity_max: DecimalText,
    },
    AllocateEu {
        #[schemars(with = "crate::schema::CodeText")]
        scheme: String,
        year: u16,
        installations: Vec<JsonInstallation>,
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

fn installations(installations: Vec<JsonInstallation>) -> Result<Vec<EuInstallationInput>, String> {
    installations
        .into_iter()
        .map(|installation| {
            Ok(EuInstallationInput {
                participant: ParticipantId(installation.participant),
                sub_installations: installation
                    .sub_installations
                    .into_iter()
                    .map(|sub| {
                        Ok(EuSubInstallationInput {
                            sub_installation: code("sub_installation", &sub.sub_installation)?,
                            benchmark: sub.benchmark.into_text(),
                            historical_activity_level: sub.historical_activity_level.into_text(),
                            exposure: match sub.exposure.as_str() {
                                "exposed" => LeakageExposure::Exposed,
                                "not_exposed" => LeakageExposure::NotExposed,
                                "district_heating" => LeakageExposure::DistrictHeating,
                                other => {
                                    return Err(format!(
                                        "exposure {other:?} is not one of exposed, not_exposed, district_heating"
                                    ));
                                }
                            },
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
pub fn parse_compliance(value: Value) -> Result<ComplianceCommand, CommandError> {
    let parsed: JsonComplianceCommand =
        serde_json::from_value(value).map_err(CommandError::shape)?;
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
                other => return Err(format!("phase {other:?} is not pre or final").into()),
            },
            outputs: outputs(given)?,
        },
        JsonComplianceCommand::SubmitReport {
            entity,
            year,
            fuels: given,
            purchased_electricity_mwh,
            output_mwh,
            draft,
        } => ComplianceCommand::SubmitReport {
            entity: ParticipantId(entity),
            year,
            fuels: fuels(given)?,
            purchased_electricity_mwh: purchased_electricity_mwh
                .map_or_else(zero, DecimalText::into_text),
            output_mwh: output_mwh.map_or_else(zero, DecimalText::into_text),
            draft,
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
        JsonComplianceCommand::AllocateEu {
            scheme,
            year,
            installations: given,
        } => ComplianceCommand::AllocateEu {
            scheme,
            year,
            installations: installations(given)?,
        },
    })
}

/// The JSON Schema of these commands (a `oneOf`), for the OpenAPI document.
pub(crate) fn schema(generator: &mut SchemaGenerator) -> Schema {
    JsonComplianceCommand::json_schema(generator)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocate_eu_parses_installations_and_refuses_an_unknown_exposure() {
        // Goal: the documented allocate_eu line maps onto ComplianceCommand::AllocateEu.
        let line = serde_json::json!({"command":"allocate_eu","scheme":"eu-ets-phase4","year":2021,
            "installations":[{"participant":10,"sub_installations":[
                {"sub_installation":"P1","benchmark":"0.786","historical_activity_level":120000,"exposure":"exposed"}]}]});
        let command = parse_compliance(line).unwrap();
        assert_eq!(command.name(), "allocate_eu");
        let ComplianceCommand::AllocateEu { installations, .. } = command else {
            panic!("not allocate_eu");
        };
        let sub = &installations[0].sub_installations[0];
        assert_eq!(installations[0].participant, ParticipantId(10));
        assert_eq!(
            (
                sub.benchmark.as_str(),
                sub.historical_activity_level.as_str()
            ),
            ("0.786", "120000")
        );
        assert_eq!(sub.exposure, LeakageExposure::Exposed);
        let bad = serde_json::json!({"command":"allocate_eu","scheme":"s","year":2021,
            "installations":[{"participant":10,"sub_installations":[
                {"sub_installation":"P1","benchmark":"1","historical_activity_level":"1","exposure":"partly"}]}]});
        assert!(
            parse_compliance(bad)
                .unwrap_err()
                .message()
                .contains("exposure")
        );
        assert!(
            COMPLIANCE_COMMANDS
                .iter()
                .any(|spec| spec.name == "allocate_eu")
        );
    }
}
