//! The generated population as the files `ets compliance` imports
//! (docs/compliance.md): `entities.csv` for `register`, the base-year and
//! compliance-year outputs for `allocate --phase pre|final`, and `setup.jsonl`, the
//! participants and operator holding accounts as JSON lines for `ets submit`.

use crate::scenario::{Population, SimEntity, category_index};
use crate::year::{ADMIN, VERIFIER, entity_account, entity_participant};
use anyhow::{Context as _, Result};
use serde_json::json;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The files written, in the order they are imported.
pub const FILES: [&str; 4] = [
    "setup.jsonl",
    "entities.csv",
    "outputs-base-year.csv",
    "outputs-compliance-year.csv",
];

const CATEGORIES: [&str; 4] = [
    "coal_above_300mw",
    "coal_at_most_300mw",
    "unconventional_coal",
    "gas",
];

/// `setup.jsonl`: the authority (participant 1), the verifier (2), the issuance,
/// surrender and cancellation accounts (1, 2, 4), then each entity's participant and
/// operator holding account, with the ids the simulation uses.
#[must_use]
pub fn setup_jsonl(population: &Population) -> String {
    let mut out = String::new();
    let mut request = 0u64;
    let mut line = |value: serde_json::Value| {
        request += 1;
        let mut value = value;
        value["request_id"] = json!(request);
        value["requester"] = json!(ADMIN.0);
        let _ = writeln!(out, "{value}");
    };
    let participant = |id: u64, kind: &str, name: &str| json!({"command": "register_participant", "id": id, "kind": kind, "name": name});
    line(participant(ADMIN.0, "administrator", "MEE"));
    line(participant(VERIFIER.0, "verifier", "Verifier"));
    // The system accounts the compliance cycle moves units through, as the simulation opens them.
    for (id, kind) in [(1, "issuance"), (2, "surrender"), (4, "cancellation")] {
        line(
            json!({"command": "open_account", "id": id, "kind": kind, "holder": ADMIN.0, "representatives": [ADMIN.0]}),
        );
    }
    for entity in &population.entities {
        let id = entity_participant(entity.index).0;
        line(json!({
            "command": "register_participant",
            "id": id,
            "kind": "covered_entity",
            "name": format!("Power company {}", entity.index + 1),
        }));
        line(json!({
            "command": "open_account",
            "id": entity_account(entity.index).0,
            "kind": "operator_holding",
            "holder": id,
            "representatives": [id],
        }));
    }
    out
}

/// `entities.csv`: one row per generating unit.
#[must_use]
pub fn entities_csv(population: &Population) -> String {
    let mut out = String::from("participant,account,unit,category,capacity_mw,cooling,chp\n");
    for entity in &population.entities {
        for unit in &entity.units {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{}",
                entity_participant(entity.index).0,
                entity_account(entity.index).0,
                unit.code,
                CATEGORIES[category_index(unit.category)],
                unit.capacity_mw,
                if unit.air_cooled { "air" } else { "water" },
                unit.chp
            );
        }
    }
    out
}

/// An outputs file: the base year's (for the pre-allocation) or the compliance
/// year's (for the final allocation), with the figures the simulation sends.
#[must_use]
pub fn outputs_csv(population: &Population, base_year: bool) -> String {
    let mut out =
        String::from("participant,unit,electricity_mwh,heat_gj,heat_supply_ratio,load_factor\n");
    for entity in &population.entities {
        write_outputs(&mut out, entity, base_year);
    }
    out
}

fn write_outputs(out: &mut String, entity: &SimEntity, base_year: bool) {
    for unit in &entity.units {
        let (mwh, gj) = if base_year {
            (unit.base_supply_mwh, unit.base_heat_gj)
        } else {
            (unit.supply_mwh, unit.heat_gj)
        };
        let _ = writeln!(
            out,
            "{},{},{mwh},{gj},{:.4},{:.4}",
            entity_participant(entity.index).0,
            unit.code,
            unit.heat_supply_ratio,
            unit.load_factor
        );
    }
}

/// Writes [`FILES`] into `dir` (created if missing); returns their paths.
///
/// # Errors
/// When a file cannot be written.
pub fn write_population(dir: &Path, population: &Population) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let texts = [
        setup_jsonl(population),
        entities_csv(population),
        outputs_csv(population, true),
        outputs_csv(population, false),
    ];
    let mut paths = Vec::with_capacity(FILES.len());
    for (name, text) in FILES.iter().zip(texts) {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        paths.push(path);
    }
    Ok(paths)
}
