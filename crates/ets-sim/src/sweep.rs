//! Sweeps: one numeric design setting of a scenario (`design.auction_share`,
//! `design.price_floor_yuan`, `design.absolute_cap_mt`, any number the scenario
//! holds) varied over a range, `--set key=from..to --steps K`, each value a design
//! point of the batch. Every value is applied to the scenario document (with a variant
//! over it, if given) and checked like a scenario before anything runs.

use crate::batch::Axis;
use crate::compare::{Variant, merge};
use crate::scenario::{Scenario, ScenarioError, read_toml, value_at};
use anyhow::{Result, bail};
use std::path::Path;

/// The most values one sweep runs.
pub const MAX_STEPS: u32 = 1_000;

/// Parses `--set key=from..to` and `--steps K` into the swept axis.
///
/// # Errors
/// When the text is not `key=from..to` with two finite numbers, the range is empty
/// (from = to), the key names an array element, or `steps` is not 2 to [`MAX_STEPS`].
pub fn parse(text: &str, steps: u32) -> Result<Axis> {
    let example = "e.g. --set design.auction_share=0..0.3";
    let Some((key, range)) = text.split_once('=') else {
        bail!("--set {text}: expected key=from..to, {example}");
    };
    let key = key.trim();
    let Some((from, to)) = range.split_once("..") else {
        bail!("--set {text}: expected key=from..to, {example}");
    };
    let number = |s: &str| s.trim().parse::<f64>().ok().filter(|v| v.is_finite());
    let (Some(from), Some(to)) = (number(from), number(to)) else {
        bail!("--set {text}: {range} is not a range of two numbers, {example}");
    };
    if key.is_empty() || key.contains('[') || key.split('.').any(str::is_empty) {
        bail!("--set {text}: \"{key}\" is not a key of a scenario table (table.key), {example}");
    }
    if from == to {
        bail!("--set {text}: the range is empty (from = to = {from})");
    }
    if !(2..=MAX_STEPS).contains(&steps) {
        bail!("--steps {steps}: a sweep has 2 to {MAX_STEPS} values (both ends included)");
    }
    Ok(Axis {
        key: key.to_owned(),
        from,
        to,
        steps,
    })
}

/// The swept values: `steps` values from `from` to `to`, evenly spaced, both ends
/// included.
#[must_use]
pub fn values(axis: &Axis) -> Vec<f64> {
    let last = f64::from(axis.steps.max(2) - 1);
    (0..axis.steps)
        .map(|j| {
            let value = axis.from + (axis.to - axis.from) * f64::from(j) / last;
            // Round away the binary noise of the division (0.30000000000000004).
            let rounded = (value * 1e9).round() / 1e9;
            if rounded == 0.0 { 0.0 } else { rounded }
        })
        .collect()
}

/// The table nesting `value` at the dotted `key`.
fn overlay(key: &str, value: toml::Value) -> toml::Value {
    key.rsplit('.').fold(value, |inner, part| {
        let mut table = toml::map::Map::new();
        table.insert(part.to_owned(), inner);
        toml::Value::Table(table)
    })
}

/// Each swept value and the scenario at `scenario_path` (with `variant` over it) with
/// the setting at that value, checked like a scenario.
///
/// # Errors
/// Naming the scenario file, the key and the value: the key is unknown or does not
/// hold a number, a whole-number setting would take a fraction, or a value is out of
/// the setting's range.
pub fn points(
    scenario_path: &Path,
    variant: Option<&Variant>,
    axis: &Axis,
) -> Result<Vec<(f64, Scenario)>> {
    let mut document = read_toml(scenario_path)?;
    if let Some(variant) = variant {
        merge(&mut document, &variant.overlay);
    }
    let set = format!(
        "{}: --set {}={}..{}",
        scenario_path.display(),
        axis.key,
        axis.from,
        axis.to
    );
    values(axis)
        .into_iter()
        .map(|value| Ok((value, swept(&document, scenario_path, axis, value, &set)?)))
        .collect()
}

/// The scenario `document` (read from `scenario_path`) with the swept setting at
/// `value`: a float, or an integer where the setting holds whole numbers (as written in
/// the file, or as the scenario's type asks when the file leaves it to its default),
/// checked like a scenario; errors start with `set` (the file and the `--set` as
/// given). The one home of a sweep's checks, for a scenario and for each period of a
/// chain.
///
/// # Errors
/// The setting is not a number, is unknown, would take a fraction where it holds
/// whole numbers, or `value` is out of its range.
pub(crate) fn swept(
    document: &toml::Value,
    scenario_path: &Path,
    axis: &Axis,
    value: f64,
    set: &str,
) -> Result<Scenario> {
    let key = axis.key.as_str();
    let existing = value_at(document, key);
    if let Some(text) = existing.filter(|v| !v.is_integer() && !v.is_float()) {
        bail!("{set}: {key} = {text} is not a number: only numeric settings are swept");
    }
    let fraction = || -> anyhow::Error {
        anyhow::anyhow!(
            "{set}: {key} holds whole numbers and a step falls on {value}: choose a range and --steps that give whole numbers"
        )
    };
    let with = |setting: toml::Value| {
        let mut point = document.clone();
        merge(&mut point, &overlay(key, setting));
        Scenario::from_value(point, scenario_path, None)
    };
    let integer = || -> Result<toml::Value> {
        if value.fract() == 0.0 {
            Ok(toml::Value::Integer(value as i64))
        } else {
            Err(fraction())
        }
    };
    let attempt = match existing {
        Some(toml::Value::Integer(_)) => with(integer()?),
        _ => with(toml::Value::Float(value)),
    };
    match attempt {
        Ok(scenario) => Ok(scenario),
        Err(ScenarioError::Malformed {
            key: at, reason, ..
        }) if existing.is_none() && at == key && reason.contains("invalid type") => {
            with(integer()?)
                .map_err(|error| anyhow::anyhow!("{set}: at {key} = {value}: {}", why(&error)))
        }
        // A key the file leaves out that the scenario does not know (an unknown field); a
        // known one left to its default and refused by its range falls to the next arm.
        Err(error @ ScenarioError::Malformed { .. })
            if existing.is_none() && error.key() == key =>
        {
            bail!(
                "{set}: {key} is not a setting of the scenario: {}",
                why(&error)
            )
        }
        Err(error) => bail!("{set}: at {key} = {value}: {}", why(&error)),
    }
}

/// What is wrong, without the file (the sweep's message names it once): the key
/// and the reason.
fn why(error: &ScenarioError) -> String {
    match error {
        ScenarioError::Unreadable { .. } => error.to_string(),
        ScenarioError::Malformed { key, reason, .. }
        | ScenarioError::Invalid { key, reason, .. } => {
            format!("{key}: {reason}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_gives_evenly_spaced_values_with_both_ends() {
        let axis = parse("design.auction_share=0..0.3", 4).expect("parses");
        assert_eq!(axis.key, "design.auction_share");
        assert_eq!(values(&axis), vec![0.0, 0.1, 0.2, 0.3]);
        let down = parse("design.price_floor_yuan = 60..40", 3).expect("parses");
        assert_eq!(values(&down), vec![60.0, 50.0, 40.0]);
    }

    #[test]
    fn impossible_ranges_are_refused_with_what_was_given() {
        for (text, steps, says) in [
            ("design.auction_share", 3, "expected key=from..to"),
            ("design.auction_share=0-0.3", 3, "expected key=from..to"),
            (
                "design.auction_share=a..0.3",
                3,
                "not a range of two numbers",
            ),
            ("design.auction_share=0.1..0.1", 3, "the range is empty"),
            ("units.coal[0].weight=0..1", 3, "not a key"),
            ("design.auction_share=0..0.3", 1, "--steps 1"),
            ("design.auction_share=0..0.3", MAX_STEPS + 1, "2 to 1000"),
        ] {
            let error = parse(text, steps).expect_err(text).to_string();
            assert!(error.contains(says), "{text}: {error}");
        }
    }
}
