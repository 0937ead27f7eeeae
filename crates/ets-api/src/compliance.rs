//! JSON shapes of the compliance commands (docs/compliance.md), converted by
//! hand to the engine's types. Decimal activity data may be given as JSON
//! strings ("0.8218") or numbers; it is kept as exact text.

use crate::authority::{ACCOUNT_HOLDING, ADMINISTRATION, CommandSpec, VERIFICATION};
use crate::request::CommandError;
use ets_engine::compliance::{
    AllocationPhase, ComplianceCommand, Cooling, EntityOutput, EntitySpec, EuInstallationInput,
    EuSubInstallationInput, FuelKind, FuelSpec, LeakageExposure, SectorFirmInput, SectorLine,
    UnitCategory, UnitOutput, UnitSpec,
};
use ets_model::{AccountId, Code, ParticipantId, Price, Quantity};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The commands handled here, with who may send each.
pub const COMPLIANCE_COMMANDS: [CommandSpec; 11] = [
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
    CommandSpec::write("allocate_sector", ADMINISTRATION),
];

/// A decimal given as a JSON string or number, kept as its text.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
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

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
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

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct JsonEntity {
    participant: u64,
    account: u64,
    units: Vec<JsonUnit>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
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

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct JsonEntityOutput {
    participant: u64,
    units: Vec<JsonUnitOutput>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct JsonSubInstallation {
    #[schemars(with = "crate::schema::CodeText")]
    sub_installation: String,
    benchmark: DecimalText,
    historical_activity_level: DecimalText,
    #[schemars(extend("enum" = ["exposed", "not_exposed", "district_heating"]))]
    exposure: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct JsonInstallation {
    participant: u64,
    sub_installations: Vec<JsonSubInstallation>,
}

/// The kind of a sector firm's production line (cement's exceptions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum JsonSectorLine {
    /// An ordinary line of the sector.
    #[default]
    Standard,
    /// A white-cement clinker line.
    WhiteCementClinker,
    /// Clinker made as a by-product (gypsum to sulphuric acid).
    ByProductClinker,
}

impl From<JsonSectorLine> for SectorLine {
    fn from(line: JsonSectorLine) -> SectorLine {
        match line {
            JsonSectorLine::Standard => SectorLine::Standard,
            JsonSectorLine::WhiteCementClinker => SectorLine::WhiteCementClinker,
            JsonSectorLine::ByProductClinker => SectorLine::ByProductClinker,
        }
    }
}

impl From<SectorLine> for JsonSectorLine {
    fn from(line: SectorLine) -> JsonSectorLine {
        match line {
            SectorLine::Standard => JsonSectorLine::Standard,
            SectorLine::WhiteCementClinker => JsonSectorLine::WhiteCementClinker,
            SectorLine::ByProductClinker => JsonSectorLine::ByProductClinker,
        }
    }
}

/// One firm of an `allocate_sector` line.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct JsonSectorFirm {
    /// The firm (a registered covered entity of the scheme).
    participant: u64,
    /// Output of the year, tonnes of the sector's product (read by the final allocation).
    output_tonnes: DecimalText,
    /// The kind of line (`standard` when absent).
    #[serde(default)]
    line: JsonSectorLine,
    /// Carbide-slag share of the clinker raw material, 0 to 1 (`0` when absent).
    #[serde(default)]
    carbide_slag_share: Option<DecimalText>,
    /// Verified emissions of the year before, tonnes (read by the pre-allocation).
    previous_year_verified: u64,
}

impl From<JsonSectorFirm> for SectorFirmInput {
    fn from(firm: JsonSectorFirm) -> SectorFirmInput {
        SectorFirmInput {
            participant: ParticipantId(firm.participant),
            output_tonnes: firm.output_tonnes.into_text(),
            line: firm.line.into(),
            carbide_slag_share: firm
                .carbide_slag_share
                .map_or_else(zero, DecimalText::into_text),
            previous_year_verified: Quantity::new(firm.previous_year_verified),
        }
    }
}

impl From<&SectorFirmInput> for JsonSectorFirm {
    fn from(firm: &SectorFirmInput) -> JsonSectorFirm {
        JsonSectorFirm {
            participant: firm.participant.0,
            output_tonnes: DecimalText::Text(firm.output_tonnes.clone()),
            line: firm.line.into(),
            carbide_slag_share: Some(DecimalText::Text(firm.carbide_slag_share.clone())),
            previous_year_verified: firm.previous_year_verified.tonnes(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
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

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
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
    /// An industrial sector's free allocation for a year (`[allocation.sector]` of the
    /// rulebook): `pre` from each firm's previous year's verified emissions, `final` by
    /// the rulebook's method with its true-up; the final allocation lists every firm
    /// registered under the scheme once.
    AllocateSector {
        #[schemars(with = "crate::schema::CodeText")]
        scheme: String,
        year: u16,
        #[schemars(extend("enum" = ["pre", "final"]))]
        phase: String,
        firms: Vec<JsonSectorFirm>,
    },
}

/// A compliance command as a command line writes it, built by typed
/// clients (the web UI) through its constructors and serialized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ComplianceCommandJson(JsonComplianceCommand);

impl ComplianceCommandJson {
    /// `verify_report`: a verifier accepts or refuses an entity's report for a year.
    #[must_use]
    pub fn verify_report(entity: u64, year: u16, accept: bool) -> ComplianceCommandJson {
        ComplianceCommandJson(JsonComplianceCommand::VerifyReport {
            entity,
            year,
            accept,
        })
    }

    /// `allocate_sector`: the administrator allocates an industrial sector's year, in
    /// the JSON form of the engine's [`ComplianceCommand::AllocateSector`].
    #[must_use]
    pub fn allocate_sector(
        scheme: &str,
        year: u16,
        phase: AllocationPhase,
        firms: &[SectorFirmInput],
    ) -> ComplianceCommandJson {
        ComplianceCommandJson(JsonComplianceCommand::AllocateSector {
            scheme: scheme.to_owned(),
            year,
            phase: phase_text(phase).to_owned(),
            firms: firms.iter().map(JsonSectorFirm::from).collect(),
        })
    }
}

/// The JSON name of an allocation phase.
fn phase_text(phase: AllocationPhase) -> &'static str {
    match phase {
        AllocationPhase::Pre => "pre",
        AllocationPhase::Final => "final",
    }
}

/// The allocation phase named `text` (`pre` or `final`).
fn allocation_phase(text: &str) -> Result<AllocationPhase, String> {
    match text {
        "pre" => Ok(AllocationPhase::Pre),
        "final" => Ok(AllocationPhase::Final),
        other => Err(format!("phase {other:?} is not pre or final")),
    }
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

/// The covered entities of a `register_entities` line.
fn entity_specs(entities: Vec<JsonEntity>) -> Result<Vec<EntitySpec>, String> {
    entities
        .into_iter()
        .map(|entity| {
            Ok(EntitySpec {
                participant: ParticipantId(entity.participant),
                account: AccountId(entity.account),
                units: units(entity.units)?,
            })
        })
        .collect()
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

/// Parses the command part of a compliance line (envelope fields removed)
/// and converts it with [`compliance_command`].
///
/// # Errors
/// A message naming the field that is wrong.
pub fn parse_compliance(value: Value) -> Result<ComplianceCommand, CommandError> {
    let parsed: JsonComplianceCommand =
        serde_json::from_value(value).map_err(CommandError::shape)?;
    Ok(compliance_command(parsed)?)
}

/// The compliance command a parsed shape describes, its values checked.
/// Every shape is named once, in this one exhaustive match with no catch-all
/// arm: a new shape fails to compile until it has its arm. Shapes with
/// several fields are handed, field by field, to a builder of their own.
fn compliance_command(parsed: JsonComplianceCommand) -> Result<ComplianceCommand, String> {
    Ok(match parsed {
        JsonComplianceCommand::LoadRulebook { source_name, toml } => {
            ComplianceCommand::LoadRulebook { source_name, toml }
        }
        JsonComplianceCommand::RegisterEntities { scheme, entities } => {
            registration(scheme, entities)?
        }
        JsonComplianceCommand::AllocateFree {
            scheme,
            year,
            phase,
            outputs,
        } => free_allocation(scheme, year, &phase, outputs)?,
        JsonComplianceCommand::AllocateEu {
            scheme,
            year,
            installations: given,
        } => ComplianceCommand::AllocateEu {
            scheme,
            year,
            installations: installations(given)?,
        },
        JsonComplianceCommand::AllocateSector {
            scheme,
            year,
            phase,
            firms,
        } => sector_allocation(scheme, year, &phase, firms)?,
        JsonComplianceCommand::SubmitReport {
            entity,
            year,
            fuels,
            purchased_electricity_mwh: purchased,
            output_mwh: output,
            draft,
        } => submit_report(entity, year, fuels, purchased, output, draft)?,
        JsonComplianceCommand::VerifyReport {
            entity,
            year,
            accept,
        } => verify_report(entity, year, accept),
        JsonComplianceCommand::CorrectReport {
            entity,
            year,
            emissions,
        } => correct_report(entity, year, emissions),
        JsonComplianceCommand::CloseYear {
            scheme,
            year,
            reference_average_price_ticks,
        } => close_year(scheme, year, reference_average_price_ticks)?,
        JsonComplianceCommand::Borrow {
            entity,
            year,
            quantity,
        } => borrow(entity, year, quantity),
        JsonComplianceCommand::SetPlausibilityRanges {
            scheme,
            carbon_content_min: carbon_min,
            carbon_content_max: carbon_max,
            intensity_min,
            intensity_max,
        } => plausibility_ranges(
            scheme,
            [carbon_min, carbon_max, intensity_min, intensity_max],
        ),
    })
}

/// `register_entities`: each entity's values checked.
fn registration(scheme: String, entities: Vec<JsonEntity>) -> Result<ComplianceCommand, String> {
    Ok(ComplianceCommand::RegisterEntities {
        scheme,
        entities: entity_specs(entities)?,
    })
}

/// `allocate_free`: the phase checked before the outputs.
fn free_allocation(
    scheme: String,
    year: u16,
    phase: &str,
    given: Vec<JsonEntityOutput>,
) -> Result<ComplianceCommand, String> {
    Ok(ComplianceCommand::Allocate {
        scheme,
        year,
        phase: allocation_phase(phase)?,
        outputs: outputs(given)?,
    })
}

/// `allocate_sector`: the phase checked.
fn sector_allocation(
    scheme: String,
    year: u16,
    phase: &str,
    firms: Vec<JsonSectorFirm>,
) -> Result<ComplianceCommand, String> {
    Ok(ComplianceCommand::AllocateSector {
        scheme,
        year,
        phase: allocation_phase(phase)?,
        firms: firms.into_iter().map(SectorFirmInput::from).collect(),
    })
}

/// `submit_report`: the fuels checked; the purchased electricity and the
/// output (MWh) kept as their text, zero when absent.
fn submit_report(
    entity: u64,
    year: u16,
    given: Vec<JsonFuel>,
    purchased_electricity_mwh: Option<DecimalText>,
    output_mwh: Option<DecimalText>,
    draft: bool,
) -> Result<ComplianceCommand, String> {
    Ok(ComplianceCommand::SubmitReport {
        entity: ParticipantId(entity),
        year,
        fuels: fuels(given)?,
        purchased_electricity_mwh: purchased_electricity_mwh
            .map_or_else(zero, DecimalText::into_text),
        output_mwh: output_mwh.map_or_else(zero, DecimalText::into_text),
        draft,
    })
}

/// `verify_report`: nothing to check.
fn verify_report(entity: u64, year: u16, accept: bool) -> ComplianceCommand {
    ComplianceCommand::VerifyReport {
        entity: ParticipantId(entity),
        year,
        accept,
    }
}

/// `correct_report`: nothing to check.
fn correct_report(entity: u64, year: u16, emissions: u64) -> ComplianceCommand {
    ComplianceCommand::CorrectReport {
        entity: ParticipantId(entity),
        year,
        emissions: Quantity::new(emissions),
    }
}

/// `close_year`: the reference average price, when given, checked as a price.
fn close_year(scheme: String, year: u16, ticks: Option<i64>) -> Result<ComplianceCommand, String> {
    Ok(ComplianceCommand::CloseYear {
        scheme,
        year,
        reference_average_price: ticks
            .map(Price::try_new)
            .transpose()
            .map_err(|error| error.to_string())?,
    })
}

/// `borrow`: nothing to check.
fn borrow(entity: u64, year: u16, quantity: u64) -> ComplianceCommand {
    ComplianceCommand::Borrow {
        entity: ParticipantId(entity),
        year,
        quantity: Quantity::new(quantity),
    }
}

/// `set_plausibility_ranges`: the carbon content's and the intensity's
/// bounds (minimum, maximum, in that order) kept as their text.
fn plausibility_ranges(scheme: String, bounds: [DecimalText; 4]) -> ComplianceCommand {
    let [carbon_min, carbon_max, intensity_min, intensity_max] = bounds;
    ComplianceCommand::SetPlausibilityRanges {
        scheme,
        carbon_content_min: carbon_min.into_text(),
        carbon_content_max: carbon_max.into_text(),
        intensity_min: intensity_min.into_text(),
        intensity_max: intensity_max.into_text(),
    }
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

    #[test]
    fn every_compliance_command_shape_parses_to_the_command_it_names() {
        // Goal: each shape reaches its own arm of the conversion (built there or
        // by its builder) and comes out as the engine command of its name.
        let lines = [
            serde_json::json!({"command":"load_rulebook","source_name":"r.toml","toml":"x = 1"}),
            serde_json::json!({"command":"register_entities","scheme":"s","entities":[{"participant":10,
                "account":100,"units":[{"unit":"U1","category":"gas","capacity_mw":400}]}]}),
            serde_json::json!({"command":"allocate_free","scheme":"s","year":2021,"phase":"pre",
                "outputs":[{"participant":10,"units":[{"unit":"U1","electricity_mwh":"1","load_factor":0.9}]}]}),
            serde_json::json!({"command":"submit_report","entity":10,"year":2021,
                "fuels":[{"kind":"coal","consumed":"1","net_calorific_value":"20"}]}),
            serde_json::json!({"command":"verify_report","entity":10,"year":2021,"accept":true}),
            serde_json::json!({"command":"correct_report","entity":10,"year":2021,"emissions":5}),
            serde_json::json!({"command":"close_year","scheme":"s","year":2021,"reference_average_price_ticks":5000}),
            serde_json::json!({"command":"set_plausibility_ranges","scheme":"s","carbon_content_min":"0.01",
                "carbon_content_max":"0.03","intensity_min":"0.5","intensity_max":"1.2"}),
            serde_json::json!({"command":"borrow","entity":10,"year":2021,"quantity":5}),
            serde_json::json!({"command":"allocate_eu","scheme":"s","year":2021,"installations":[]}),
            serde_json::json!({"command":"allocate_sector","scheme":"s","year":2021,"phase":"final","firms":[]}),
        ];
        assert_eq!(lines.len(), COMPLIANCE_COMMANDS.len());
        for line in lines {
            let name = line["command"].as_str().unwrap().to_owned();
            let command =
                parse_compliance(line).unwrap_or_else(|error| panic!("{name}: {error:?}"));
            assert_eq!(command.name(), name);
        }
    }

    #[test]
    fn each_compliance_conversion_names_the_wrong_value() {
        // Goal: a wrong value refused by a builder (registration, report,
        // closing year) keeps its message, and allocate_free names its phase
        // before its outputs.
        let message =
            |line: serde_json::Value| parse_compliance(line).unwrap_err().message().to_owned();
        assert!(
            message(serde_json::json!({"command":"register_entities","scheme":"s","entities":[{"participant":10,
                "account":100,"units":[{"unit":"U1","category":"oil","capacity_mw":400}]}]}))
            .contains("unit category \"oil\"")
        );
        assert!(
            message(
                serde_json::json!({"command":"submit_report","entity":10,"year":2021,
                "fuels":[{"kind":"wood","consumed":"1","net_calorific_value":"20"}]})
            )
            .contains("fuel kind \"wood\"")
        );
        assert!(
            message(
                serde_json::json!({"command":"close_year","scheme":"s","year":2021,
                "reference_average_price_ticks":-5})
            )
            .contains("-5")
        );
        let both = message(
            serde_json::json!({"command":"allocate_free","scheme":"s","year":2021,
            "phase":"middle","outputs":[{"participant":10,"units":[{"unit":"","electricity_mwh":"1","load_factor":0.9}]}]}),
        );
        assert!(both.contains("middle") && !both.contains("unit:"), "{both}");
    }

    #[test]
    fn builders_keep_each_field_in_its_place() {
        // Goal: the builders that take several fields of one type put each
        // where it belongs (the plausibility bounds, the report's MWh).
        let ranges = parse_compliance(serde_json::json!({"command":"set_plausibility_ranges",
            "scheme":"s","carbon_content_min":"0.01","carbon_content_max":"0.03",
            "intensity_min":"0.5","intensity_max":"1.2"}));
        assert_eq!(
            ranges.unwrap(),
            ComplianceCommand::SetPlausibilityRanges {
                scheme: "s".into(),
                carbon_content_min: "0.01".into(),
                carbon_content_max: "0.03".into(),
                intensity_min: "0.5".into(),
                intensity_max: "1.2".into(),
            }
        );
        let report = parse_compliance(serde_json::json!({"command":"submit_report","entity":10,
            "year":2021,"fuels":[],"purchased_electricity_mwh":"7","draft":true}));
        assert_eq!(
            report.unwrap(),
            ComplianceCommand::SubmitReport {
                entity: ParticipantId(10),
                year: 2021,
                fuels: Vec::new(),
                purchased_electricity_mwh: "7".into(),
                output_mwh: "0".into(),
                draft: true,
            }
        );
    }

    fn cement_firms() -> Vec<SectorFirmInput> {
        vec![
            SectorFirmInput {
                participant: ParticipantId(10),
                output_tonnes: "1000000".into(),
                line: SectorLine::Standard,
                carbide_slag_share: "0".into(),
                previous_year_verified: Quantity::new(1_000_000),
            },
            SectorFirmInput {
                participant: ParticipantId(11),
                output_tonnes: "250000.5".into(),
                line: SectorLine::WhiteCementClinker,
                carbide_slag_share: "0.35".into(),
                previous_year_verified: Quantity::new(0),
            },
        ]
    }

    #[test]
    fn allocate_sector_round_trips_between_its_json_and_the_engine_command() {
        // Goal: the engine's AllocateSector written as JSON by the typed constructor
        // parses back to the same command, every field kept (decimal texts exact).
        for phase in [AllocationPhase::Pre, AllocationPhase::Final] {
            let command = ComplianceCommand::AllocateSector {
                scheme: "cn-cement-2025".into(),
                year: 2025,
                phase,
                firms: cement_firms(),
            };
            let json = ComplianceCommandJson::allocate_sector(
                "cn-cement-2025",
                2025,
                phase,
                &cement_firms(),
            );
            let value = serde_json::to_value(&json).unwrap();
            assert_eq!(value["command"], "allocate_sector");
            assert_eq!(value["firms"][1]["line"], "white_cement_clinker");
            assert_eq!(parse_compliance(value).unwrap(), command);
        }
    }

    #[test]
    fn allocate_sector_defaults_the_line_and_refuses_unknown_names() {
        // Goal: the documented short form (no line, no carbide-slag share) is a standard
        // line with share 0; an unknown phase is invalid_value, an unknown line or field
        // malformed_command.
        let line = serde_json::json!({"command":"allocate_sector","scheme":"cn-cement-2025",
            "year":2025,"phase":"pre","firms":[{"participant":10,"output_tonnes":0,
            "previous_year_verified":1000000}]});
        let ComplianceCommand::AllocateSector { phase, firms, .. } =
            parse_compliance(line).unwrap()
        else {
            panic!("not allocate_sector");
        };
        assert_eq!(phase, AllocationPhase::Pre);
        assert_eq!(firms[0].line, SectorLine::Standard);
        assert_eq!(firms[0].carbide_slag_share, "0");
        assert_eq!(firms[0].output_tonnes, "0");
        let with = |phase: &str, firm: serde_json::Value| {
            parse_compliance(serde_json::json!({"command":"allocate_sector","scheme":"s",
                "year":2025,"phase":phase,"firms":[firm]}))
            .unwrap_err()
        };
        let firm =
            serde_json::json!({"participant":10,"output_tonnes":"1","previous_year_verified":1});
        assert_eq!(with("later", firm.clone()).code(), "invalid_value");
        let mut odd_line = firm.clone();
        odd_line["line"] = "grey".into();
        assert_eq!(with("pre", odd_line).code(), "malformed_command");
        let mut extra = firm;
        extra["output_mwh"] = 1.into();
        assert_eq!(with("final", extra).code(), "malformed_command");
    }
}
