//! The 2023 power rulebook (generation basis, no heat-supply factor, the 2024
//! penalties) through the engine, and the industrial sectors.

use ets_engine::Engine;
use ets_engine::compliance::UnitCategory;
use ets_scheme::Rulebook;
use ets_scheme::allocation::{ChinaUnitOutput, Cooling, Operation, china_entity_allocation};
use ets_scheme::rulebook::OutputBasis;
use ets_sim::agents::abated_population;
use ets_sim::scenario::SimEntity;
use ets_sim::year::entity_participant;
use ets_sim::{Scenario, run_year};
use rust_decimal::Decimal;
use std::path::{Path, PathBuf};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn scenario(name: &str) -> Scenario {
    Scenario::load(&repo("scenarios").join(name)).expect("scenario loads")
}

/// The formula's allocation of `entity` with electricity counted on `basis`.
fn formula_allocation(rulebook: &Rulebook, entity: &SimEntity, basis: OutputBasis) -> u64 {
    let rules = rulebook.china_allocation().expect("china rules");
    let decimal = |value: f64, places: u32| {
        Decimal::from_f64_retain(value)
            .expect("finite")
            .round_dp(places)
    };
    let units: Vec<ChinaUnitOutput> = entity
        .units
        .iter()
        .map(|unit| ChinaUnitOutput {
            category: match unit.category {
                UnitCategory::CoalAbove300Mw => ets_scheme::rulebook::UnitCategory::CoalAbove300Mw,
                UnitCategory::CoalAtMost300Mw => {
                    ets_scheme::rulebook::UnitCategory::CoalAtMost300Mw
                }
                UnitCategory::UnconventionalCoal => {
                    ets_scheme::rulebook::UnitCategory::UnconventionalCoal
                }
                UnitCategory::Gas => ets_scheme::rulebook::UnitCategory::Gas,
            },
            cooling: if unit.air_cooled {
                Cooling::Air
            } else {
                Cooling::Water
            },
            operation: if unit.chp {
                Operation::CombinedHeatAndPower
            } else {
                Operation::PureCondensing
            },
            electricity_mwh: Decimal::from(match basis {
                OutputBasis::Generation => unit.generation_mwh.round() as u64,
                OutputBasis::Supply => unit.supply_mwh,
            }),
            heat_gj: Decimal::from(unit.heat_gj),
            heat_supply_ratio: decimal(unit.heat_supply_ratio, 4),
            load_factor: decimal(unit.load_factor, 4),
        })
        .collect();
    china_entity_allocation(rules, &units)
        .expect("formula")
        .total
        .tonnes()
}

#[test]
fn power_2023_allocates_on_generation_and_closes_under_the_2024_penalties() {
    // Goal: the 2023 rulebook runs end to end: each entity's allocation is the formula on
    // its generation (not its net supply, which would be 4-8% less), and the year closes
    // under the 2024 Interim Regulations (a fine needs the month's average price).
    let mut scenario = scenario("cn-power-2023.toml")
        .with_entities(40)
        .with_seed(7);
    // Defaulters, so that fines are assessed.
    scenario.behaviour.shortfall_share = 0.10;
    let mut engine = Engine::new();
    let summary = run_year(&scenario, &mut engine).expect("the year runs");
    engine.check_invariants().expect("registry invariants hold");
    let rulebook = Rulebook::load(&repo("schemes/cn-power-2023.toml")).expect("rulebook");
    let results = engine
        .compliance()
        .closed_results("cn-power-2023", 2023)
        .expect("closed")
        .to_vec();
    assert_eq!(results.len(), 40);
    let (population, _) = abated_population(&scenario).expect("generates");
    for entity in &population.entities {
        let line = results
            .iter()
            .find(|r| r.entity == entity_participant(entity.index))
            .expect("a line per entity");
        let on_generation = formula_allocation(&rulebook, entity, OutputBasis::Generation);
        let on_supply = formula_allocation(&rulebook, entity, OutputBasis::Supply);
        assert_eq!(line.allocation.tonnes(), on_generation);
        assert!(on_generation > on_supply, "{on_generation} vs {on_supply}");
    }
    let short: Vec<_> = results.iter().filter(|r| !r.shortfall.is_zero()).collect();
    assert!(!short.is_empty(), "the scenario's defaulters fall short");
    for line in short {
        assert!(line.fine_min.minor_units() > 0, "{line:?}");
        assert_eq!(line.next_year_deduction, line.shortfall);
    }
    assert_eq!(summary.borrowers, 0, "no borrowing in 2023-24");
}
