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

/// The four-sector scenario of `year`, small: `power` power entities and `firms` firms
/// per sector.
fn four_sectors(year: u16, power: u32, firms: u32, seed: u64) -> Scenario {
    let mut scenario = scenario(&format!("cn-four-sectors-{year}.toml"))
        .with_entities(power)
        .with_seed(seed);
    for sector in &mut scenario.sectors {
        let share = f64::from(firms) / f64::from(sector.firms);
        sector.output_mt *= share;
        sector.firms = firms;
    }
    scenario
}

/// The closed results of every sector's scheme, with the generated firms.
fn sector_results(
    engine: &Engine,
    scenario: &Scenario,
    power: u32,
) -> Vec<(
    String,
    Vec<ets_sim::sector::firms::SimSectorFirm>,
    Vec<ets_engine::compliance::EntityResult>,
)> {
    let years = ets_sim::sector::sector_years(scenario, power).expect("sectors");
    scenario
        .sectors
        .iter()
        .zip(years)
        .map(|(spec, year)| {
            let results = engine
                .compliance()
                .closed_results(&spec.scheme, scenario.scenario.year)
                .unwrap_or_else(|| panic!("{} closed", spec.scheme))
                .to_vec();
            (spec.scheme.clone(), year.firms, results)
        })
        .collect()
}

#[test]
fn four_sectors_2025_trade_one_cea_and_close_with_their_own_rulebooks() {
    // Goal: steel, cement and aluminium firms beside power through the journaled store:
    // each firm's verified emissions are its CO2e (aluminium with CF4 and C2F6), the
    // intensity allocation leaves some firms short, and short sector firms buy from the
    // same exchange; the run is deterministic and replays to the same state.
    let scenario = four_sectors(2025, 20, 12, 11);
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, store) = ets_sim::run_year_in_store(
        &scenario,
        &dir.path().join("store"),
        ets_sim::RunOptions::default(),
    )
    .expect("the four-sector year runs");
    let engine = store.engine();
    engine.check_invariants().expect("registry invariants hold");
    let mut sector_accounts = Vec::new();
    for (scheme, firms, results) in sector_results(engine, &scenario, 20) {
        assert_eq!(results.len(), firms.len(), "{scheme}");
        // The engine allocated them (AllocateSector): the closed results carry the
        // allocation, and the sector roughly balances (half a tonne of rounding a firm).
        let allocated: u64 = results.iter().map(|r| r.allocation.tonnes()).sum();
        let verified: u64 = results
            .iter()
            .filter_map(|r| r.verified_emissions)
            .map(|v| v.tonnes())
            .sum();
        assert!(
            allocated > 0,
            "{scheme}: the engine's results show the allocation"
        );
        assert!(
            allocated.abs_diff(verified) <= firms.len() as u64,
            "{scheme}: {allocated} vs {verified}"
        );
        let rulebook = Rulebook::load(&repo(&format!("schemes/{scheme}.toml"))).expect("rulebook");
        let rules = rulebook.sector_allocation().expect("sector rules");
        for firm in &firms {
            let line = results
                .iter()
                .find(|r| r.entity == entity_participant(firm.index))
                .expect("a line per firm");
            let co2e = ets_scheme::sector::co2_equivalent(rules, &firm.gases()).expect("co2e");
            assert_eq!(line.verified_emissions, Some(co2e), "{scheme}");
            assert_eq!(line.obligation, co2e, "no relief for the new sectors");
            sector_accounts.push(line.account);
        }
    }
    let bought = engine
        .exchange()
        .trades()
        .iter()
        .filter(|trade| sector_accounts.contains(&trade.buyer))
        .count();
    assert!(bought > 0, "short sector firms buy on the exchange");
    let hash = engine.state_hash();
    let mut again = Engine::new();
    run_year(&scenario, &mut again).expect("runs in memory");
    assert_eq!(again.state_hash(), hash, "same seed, same state");
    let mut other = Engine::new();
    run_year(&four_sectors(2025, 20, 12, 12), &mut other).expect("runs");
    assert_ne!(other.state_hash(), hash, "another seed, another state");
}

#[test]
fn in_2024_sector_firms_get_their_emissions_and_comply_without_trading() {
    // Goal: 2024 allocation = verified emissions, so every sector firm surrenders its own
    // allocation: compliant, and no sector firm trades.
    let scenario = four_sectors(2024, 20, 10, 3);
    let mut engine = Engine::new();
    run_year(&scenario, &mut engine).expect("the year runs");
    engine.check_invariants().expect("registry invariants hold");
    for (scheme, _, results) in sector_results(&engine, &scenario, 20) {
        for line in &results {
            assert_eq!(
                line.verified_emissions,
                Some(line.allocation),
                "{scheme}: allocated by the engine"
            );
            assert_eq!(
                line.status,
                ets_engine::compliance::EntityStatus::Compliant,
                "{scheme}: {line:?}"
            );
            let trades = engine
                .exchange()
                .trades()
                .iter()
                .filter(|t| t.buyer == line.account || t.seller == line.account)
                .count();
            assert_eq!(trades, 0, "{scheme}");
        }
    }
}

#[test]
fn a_sector_without_a_rulebook_for_the_year_is_refused_naming_file_key_and_value() {
    // Goal: a 2025 scenario pointing a sector at its 2024 rulebook is refused at load
    // (before anything is written), naming the scenario file, the key and the value.
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(repo("scenarios/cn-four-sectors-2025.toml"))
        .expect("scenario")
        .replace("../schemes/", &format!("{}/", repo("schemes").display()))
        .replace("cn-cement-2025.toml", "cn-cement-2024.toml");
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, text).expect("writes");
    let error = Scenario::load(&path).expect_err("refused");
    let message = format!("{error:#}");
    assert!(message.contains("bad.toml"), "{message}");
    assert!(message.contains("sectors[1].rulebook"), "{message}");
    assert!(message.contains("cn-cement-2024.toml"), "{message}");
    assert!(message.contains("no rulebook for 2025"), "{message}");
    let entries = std::fs::read_dir(dir.path()).expect("dir").count();
    assert_eq!(entries, 1, "nothing written beside the scenario");
}

#[test]
fn the_shipped_sectors_add_about_1300_firms_and_3_gt() {
    // Goal: the four-sector scenarios are sized as published (docs/sources.md#cn-sectors:
    // more than 1,300 new firms, about +3 Gt), and the 2025 intensity allocation balances
    // each sector within half a tonne per firm.
    for year in [2024u16, 2025] {
        let scenario = scenario(&format!("cn-four-sectors-{year}.toml"));
        let years =
            ets_sim::sector::sector_years(&scenario, scenario.scenario.entities).expect("sectors");
        let firms: usize = years.iter().map(|y| y.firms.len()).sum();
        assert!((1_300..=1_500).contains(&firms), "{firms} firms");
        let mut total = 0u64;
        for (spec, sector) in scenario.sectors.iter().zip(&years) {
            let rulebook = Rulebook::load(&spec.rulebook).expect("rulebook");
            let rules = rulebook.sector_allocation().expect("sector rules");
            let inputs: Vec<_> = sector
                .firms
                .iter()
                .map(|firm| {
                    let co2e =
                        ets_scheme::sector::co2_equivalent(rules, &firm.gases()).expect("co2e");
                    firm.formula_input(co2e.tonnes())
                })
                .collect();
            let allocation =
                ets_scheme::sector::sector_allocation(rules, &inputs).expect("allocates");
            let gap = allocation
                .total
                .tonnes()
                .abs_diff(allocation.verified_total.tonnes());
            assert!(gap <= inputs.len() as u64 / 2, "{}: {gap} t", spec.scheme);
            total += allocation.verified_total.tonnes();
        }
        let gt = total as f64 / 1e9;
        assert!((2.7..=3.3).contains(&gt), "{year}: {gt} Gt");
    }
}

/// `cn-four-sectors-2025.toml` with `from` replaced by `to`, loaded from a temporary copy
/// (rulebook paths made absolute): the refusal.
fn refused_four_sectors(from: &str, to: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(repo("scenarios/cn-four-sectors-2025.toml"))
        .expect("scenario")
        .replace("../schemes/", &format!("{}/", repo("schemes").display()));
    assert_eq!(text.matches(from).count(), 1, "{from:?} once");
    let path = dir.path().join("edited.toml");
    std::fs::write(&path, text.replacen(from, to, 1)).expect("writes");
    format!("{:#}", Scenario::load(&path).expect_err("refused"))
}

#[test]
fn bad_sector_keys_are_refused_naming_key_and_value() {
    // Goal: an unknown sector, a misspelt key, cement's lines in steel, PFCs in cement, an
    // impossible range: each refused naming the table's key and the value.
    let message = refused_four_sectors("sector = \"steel\"", "sector = \"glass\"");
    assert!(
        message.contains("sectors[0].sector") && message.contains("glass"),
        "{message}"
    );
    let message = refused_four_sectors("size_sigma = 0.8 ", "size_sigmaa = 0.8 ");
    assert!(message.contains("size_sigmaa"), "{message}");
    let message = refused_four_sectors(
        "previous_year_change = [-0.05, 0.03]",
        "previous_year_change = [-0.05, 0.03]\nwhite_cement_share = 0.1",
    );
    assert!(
        message.contains("sectors[0].white_cement_share"),
        "{message}"
    );
    let message = refused_four_sectors(
        "carbide_slag_line_share = 0.01 ",
        "carbide_slag_line_share = 0.01\ncf4_kg_per_tonne = [0.1, 0.2] ",
    );
    assert!(message.contains("sectors[1].cf4_kg_per_tonne"), "{message}");
    let message = refused_four_sectors("intensity = [1.6, 2.2]", "intensity = [2.2, 1.6]");
    assert!(
        message.contains("sectors[0].intensity") && message.contains("[2.2, 1.6]"),
        "{message}"
    );
}

#[test]
fn sector_firms_are_drawn_as_the_spec_says() {
    // Goal: the generator is deterministic, sums to the sector's output, keeps intensities
    // in range, gives cement its exception lines and only aluminium its PFCs.
    let scenario = scenario("cn-four-sectors-2025.toml");
    let years = ets_sim::sector::sector_years(&scenario, 100).expect("sectors");
    let again = ets_sim::sector::sector_years(&scenario, 100).expect("sectors");
    let mut next = 100;
    for ((spec, year), other) in scenario.sectors.iter().zip(&years).zip(&again) {
        assert_eq!(year.firms, other.firms, "{}", spec.scheme);
        assert_eq!(year.firms[0].index, next);
        next += spec.firms;
        let output: u64 = year.firms.iter().map(|f| f.output_tonnes).sum();
        assert!((output as f64 / 1e6 - spec.output_mt).abs() < 0.01 * spec.output_mt);
        for (firm, agent) in year.firms.iter().zip(&year.agents) {
            // The drawn intensity is before abatement (BAU); abatement only lowers CO2.
            assert!(firm.co2_tonnes as f64 <= agent.bau_tonnes);
            let intensity = agent.bau_tonnes / firm.output_tonnes as f64;
            assert!(intensity >= spec.intensity[0] - 1e-3 && intensity <= spec.intensity[1] + 1e-3);
            assert_eq!(firm.cf4_kg > 0, spec.sector == "aluminium");
        }
        let excepted = year
            .firms
            .iter()
            .filter(|f| {
                f.line != ets_scheme::sector::LineKind::Standard
                    || f.carbide_slag_share > Decimal::new(15, 2)
            })
            .count();
        assert_eq!(excepted > 0, spec.sector == "cement", "{}", spec.scheme);
    }
}

#[test]
fn sector_firms_abate_where_it_pays_and_appear_in_the_report_and_csv() {
    // Goal: under 2025's intensity method a sector firm keeps w of each tonne it abates,
    // so it abates (its CO2 falls, at a cost); in 2024 (allocation = verified) it keeps
    // nothing and abates nothing. The year's report has an "Industrial sectors" table from
    // the engine's closed results, and the per-entity CSV lists the sector firms.
    let scenario = four_sectors(2025, 20, 12, 5);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = ets_sim::run_into(dir.path(), &scenario, ets_sim::RunOptions::default())
        .expect("the four-sector year runs");
    let sectors = &out.summary.sectors;
    assert_eq!(sectors.len(), 3);
    for sector in sectors {
        assert_eq!(sector.firms, 12, "{}", sector.scheme);
        assert!(sector.abated_mt > 0.0, "{}: abates", sector.scheme);
        assert!(sector.abatement_cost_yuan > 0.0, "{}", sector.scheme);
        assert!(
            sector.abated_mt < sector.bau_co2_mt * 0.1,
            "{}",
            sector.scheme
        );
        assert!(sector.allocation_mt > 0.0, "{}", sector.scheme);
        assert!(sector.benchmark.is_some(), "{}", sector.scheme);
    }
    let csv = std::fs::read_to_string(dir.path().join("entities.csv")).expect("csv");
    assert_eq!(
        csv.lines().count(),
        1 + 20 + 3 * 12,
        "header, power, sectors"
    );
    let first_sector = entity_participant(20).0.to_string();
    assert!(
        csv.lines()
            .any(|line| line.starts_with(&format!("{first_sector},"))),
        "the first steel firm has its line"
    );
    let report = std::fs::read_to_string(dir.path().join("report.md")).expect("report");
    assert!(report.contains("Industrial sectors"));
    assert!(report.contains("cn-steel-2025"));
    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("html");
    assert!(html.contains("cn-aluminium-2025"));

    let mut engine = Engine::new();
    let summary = run_year(&four_sectors(2024, 20, 10, 5), &mut engine).expect("2024 runs");
    for sector in &summary.sectors {
        assert!(
            sector.abated_mt.abs() < 1e-9,
            "{}: nothing to gain",
            sector.scheme
        );
    }
}
