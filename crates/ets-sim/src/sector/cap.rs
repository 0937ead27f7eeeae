//! A roadmap year's absolute cap on a sector's firms (docs/simulation.md, "The
//! 2027-2030 roadmap"): the free allocation is the cap less the auctioned share, and it
//! is distributed by the sector rulebook's own intensity formula
//! `A = (1 - w) x E + w x Q x B`, with the benchmark `B` fixed at the value that makes
//! the firms' allocations sum to it. This is how the power sector's absolute cap works
//! (its benchmarks scaled to the cap, `year::setup::scale_benchmarks`): the rule that
//! divides the allowances among the firms stays the rulebook's, only its level is the
//! cap's. The rewritten rulebook is what the engine loads and allocates by
//! (`AllocateSector`), so the capped allocation is journaled like any other.

use super::firms::{SectorCapDesign, SimSectorFirm};
use anyhow::{Context as _, Result, bail};
use ets_scheme::Rulebook;
use ets_scheme::sector::{
    BenchmarkRule, IntensityRules, SectorAllocationRules, SectorFirm, SectorMethod, co2_equivalent,
    sector_allocation,
};
use rust_decimal::Decimal;
use std::str::FromStr as _;

/// The largest benchmark a rulebook accepts, t CO2e per t of product.
const MAX_BENCHMARK: f64 = 100.0;

/// The sector rulebook `(name, text, rulebook)` rewritten so that the engine's
/// allocation of `firms` (CO2 after abatement) sums to `cap`'s free tonnes: the
/// intensity method's benchmark fixed at the value that reaches it.
///
/// # Errors
/// When the rulebook does not allocate by intensity, no firm's allocation follows the
/// benchmark, or the cap lies outside what a benchmark can reach (below the part of the
/// allocation that does not follow it, or above 100 t/t), naming the rulebook and the cap.
pub(crate) fn capped_rulebook(
    (name, text, rulebook): (&str, &str, &Rulebook),
    firms: &[SimSectorFirm],
    cap: &SectorCapDesign,
) -> Result<(String, String, Rulebook)> {
    let rules = rulebook
        .sector_allocation()
        .with_context(|| format!("{name}: not a sector rulebook"))?;
    let SectorMethod::Intensity(intensity) = rules.method else {
        bail!("{name}: a roadmap cap needs the intensity method ([allocation.sector] method)");
    };
    let inputs = formula_inputs(rules, firms, name)?;
    let total_at = |benchmark: f64| -> Result<f64> {
        let rules = with_benchmark(rules, intensity, benchmark)?;
        let allocation =
            sector_allocation(&rules, &inputs).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        Ok(allocation.total.tonnes() as f64)
    };
    // The allocation is linear in the benchmark: a part that does not follow it (the
    // firms' own intensity share and the exceptions) and a slope (w x their output).
    let (at_one, at_two) = (total_at(1.0)?, total_at(2.0)?);
    let slope = at_two - at_one;
    let fixed = at_one - slope;
    let free = cap.free_tonnes() as f64;
    if slope <= 0.0 {
        bail!("{name}: no firm's allocation follows the benchmark: a cap cannot bind it");
    }
    let benchmark = (free - fixed) / slope;
    if benchmark.is_nan() || benchmark <= 0.0 || benchmark > MAX_BENCHMARK {
        bail!(
            "{name}: a roadmap cap of {:.3} Mt free ({:.0}% auctioned) needs a benchmark of {benchmark:.4} t/t, \
             outside (0, {MAX_BENCHMARK}]: the firms' allocation can reach {:.3} Mt and more",
            free / 1e6,
            cap.auction_share * 100.0,
            fixed / 1e6
        );
    }
    let benchmark_text = format!("{benchmark:.10}");
    let new_text = rewrite(text, &benchmark_text).with_context(|| name.to_owned())?;
    let new_name = format!("{name} (benchmark {benchmark:.4} t/t for the roadmap cap, design)");
    let new_rulebook =
        Rulebook::from_toml_str(&new_text, &new_name).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((new_name, new_text, new_rulebook))
}

/// The firms as the formula sees them: their verified emissions (CO2e by the rulebook's
/// gases, as the engine is told them).
fn formula_inputs(
    rules: &SectorAllocationRules,
    firms: &[SimSectorFirm],
    name: &str,
) -> Result<Vec<SectorFirm>> {
    firms
        .iter()
        .map(|firm| {
            let verified = co2_equivalent(rules, &firm.gases())
                .map_err(|e| anyhow::anyhow!("{name}: firm {}: {e}", firm.index))?;
            Ok(firm.formula_input(verified.tonnes()))
        })
        .collect()
}

/// `rules` with the intensity method's benchmark fixed at `benchmark`.
fn with_benchmark(
    rules: &SectorAllocationRules,
    intensity: IntensityRules,
    benchmark: f64,
) -> Result<SectorAllocationRules> {
    let tonnes_per_tonne =
        Decimal::from_str(&format!("{benchmark:.10}")).context("a benchmark as a decimal")?;
    let mut fixed = *rules;
    fixed.method = SectorMethod::Intensity(IntensityRules {
        benchmark: BenchmarkRule::Fixed { tonnes_per_tonne },
        ..intensity
    });
    Ok(fixed)
}

/// The rulebook text with `[allocation.sector.intensity]`'s benchmark fixed at
/// `benchmark` (t/t, as a decimal string); its other keys as written.
fn rewrite(text: &str, benchmark: &str) -> Result<String> {
    let mut value: toml::Value = toml::from_str(text).context("parsing the rulebook")?;
    let table = value
        .get_mut("allocation")
        .and_then(|v| v.get_mut("sector"))
        .and_then(|v| v.get_mut("intensity"))
        .and_then(toml::Value::as_table_mut)
        .context("a roadmap cap needs [allocation.sector.intensity]")?;
    table.remove("tightening");
    table.insert("benchmark".into(), toml::Value::String("fixed".into()));
    table.insert(
        "benchmark_tonnes_per_tonne".into(),
        toml::Value::String(benchmark.to_owned()),
    );
    toml::to_string(&value).context("writing the capped rulebook")
}
