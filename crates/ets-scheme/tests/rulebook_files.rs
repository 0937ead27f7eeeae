//! Loads every committed rulebook under `schemes/` and checks its key values
//! against docs/sources.md, so that a typo in a file fails the build.

use ets_scheme::Rulebook;
use ets_scheme::rulebook::{
    AllocationRules, CalendarDate, CapBase, Currency, OutputBasis, PenaltyRegime, UnitCategory,
};
use ets_scheme::sector::{BenchmarkRule, Sector, SectorMethod};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn d(text: &str) -> Decimal {
    Decimal::from_str_exact(text).expect("test decimal literal")
}

fn schemes_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemes")
}

/// Every `*.toml` under `schemes/`, loaded, keyed by file name.
fn load_all() -> BTreeMap<String, Rulebook> {
    let mut rulebooks = BTreeMap::new();
    for entry in std::fs::read_dir(schemes_dir()).expect("schemes/ exists") {
        let path = entry.expect("directory entry").path();
        if path.extension().is_some_and(|ext| ext == "toml") {
            let rulebook = Rulebook::load(&path).unwrap_or_else(|error| panic!("{error}"));
            let name = path
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            rulebooks.insert(name, rulebook);
        }
    }
    rulebooks
}

fn date(year: u16, month: u8, day: u8) -> CalendarDate {
    CalendarDate::try_new(year, month, day).expect("real date")
}

/// The (electricity, heat) benchmarks of the four categories, I to IV.
fn benchmarks(rulebook: &Rulebook) -> Vec<(Decimal, Decimal)> {
    let rules = rulebook.china_allocation().expect("china allocation");
    [
        UnitCategory::CoalAbove300Mw,
        UnitCategory::CoalAtMost300Mw,
        UnitCategory::UnconventionalCoal,
        UnitCategory::Gas,
    ]
    .iter()
    .map(|category| {
        let benchmark = rules.benchmarks.for_category(*category);
        (
            benchmark.electricity_tonnes_per_mwh,
            benchmark.heat_tonnes_per_gj,
        )
    })
    .collect()
}

#[test]
fn every_committed_rulebook_loads_and_ids_match_file_names() {
    // Goal: all files under schemes/ load, the four expected ones are there, and each id is its file name.
    let rulebooks = load_all();
    let names: Vec<&str> = rulebooks.keys().map(String::as_str).collect();
    for expected in [
        "cn-power-2019-2020.toml",
        "cn-power-2021.toml",
        "cn-power-2022.toml",
        "eu-ets-phase4.toml",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    for (name, rulebook) in &rulebooks {
        assert_eq!(format!("{}.toml", rulebook.scheme.id), *name);
    }
}

#[test]
fn china_benchmarks_match_rules_md_table() {
    // Goal: the benchmark table of docs/sources.md#cn-allocation, cell by cell.
    let rulebooks = load_all();
    let expected = [
        (
            "cn-power-2019-2020.toml",
            [
                ("0.877", "0.126"),
                ("0.979", "0.126"),
                ("1.146", "0.126"),
                ("0.392", "0.059"),
            ],
        ),
        (
            "cn-power-2021.toml",
            [
                ("0.8218", "0.1111"),
                ("0.8773", "0.1111"),
                ("0.9350", "0.1111"),
                ("0.3920", "0.0560"),
            ],
        ),
        (
            "cn-power-2022.toml",
            [
                ("0.8177", "0.1105"),
                ("0.8729", "0.1105"),
                ("0.9303", "0.1105"),
                ("0.3901", "0.0557"),
            ],
        ),
    ];
    for (name, table) in expected {
        let want: Vec<(Decimal, Decimal)> = table.iter().map(|(e, h)| (d(e), d(h))).collect();
        assert_eq!(benchmarks(&rulebooks[name]), want, "{name}");
    }
}

#[test]
fn china_rulebooks_share_caps_offsets_and_factors() {
    // Goal: the cross-period values of 2019-2022: supply basis, 70% pre-allocation, 20% cap
    // on verified, gas cap, 5% CCER, factors 1.05 / 0.22 / 0.6, 2021 Measures penalty band.
    // (From 2023 the basis is generation and the heat-supply factor is gone.)
    for (name, rulebook) in load_all().iter().filter(|(name, _)| {
        ["cn-power-2019-2020", "cn-power-2021", "cn-power-2022"]
            .iter()
            .any(|prefix| name.starts_with(prefix))
    }) {
        assert_eq!(rulebook.scheme.currency, Currency::Cny, "{name}");
        assert_eq!(rulebook.scheme.unit_code.as_str(), "CEA");
        assert_eq!(rulebook.scheme.price_tick_major_units, d("0.01"));
        let rules = rulebook.china_allocation().expect("china");
        assert_eq!(rules.output_basis, OutputBasis::Supply);
        assert_eq!(rules.pre_allocation.share, d("0.70"));
        assert_eq!(rules.cooling.coal_air_cooled, d("1.05"));
        assert_eq!(rules.heat_supply.coal_coefficient, d("0.22"));
        assert_eq!(rules.heat_supply.gas_coefficient, d("0.6"));
        assert_eq!(rules.load_factor.low_band_base, d("1.015"));
        let cap = rulebook.obligation.shortfall_cap.expect("cap");
        assert_eq!((cap.share, cap.base), (d("0.20"), CapBase::Verified));
        assert!(rulebook.obligation.gas_cap);
        let offsets = rulebook.offsets.as_ref().expect("offsets");
        assert_eq!(offsets.limit_share, d("0.05"));
        assert_eq!(offsets.eligible_standards[0].as_str(), "CCER");
        let PenaltyRegime::China2021(penalty) = rulebook.penalty else {
            panic!("{name}: 2021 Measures expected");
        };
        assert_eq!(
            (penalty.fine_min_major_units, penalty.fine_max_major_units),
            (d("20000"), d("30000"))
        );
        let mrv = rulebook.mrv.expect("mrv");
        assert!(mrv.indirect_emissions_counted);
        assert_eq!(mrv.default_oxidation_rate, d("0.99"));
    }
}

#[test]
fn china_period_specific_values_match_rules_md() {
    // Goal: what differs between periods: base year, defaults, borrowing, vintages, deadlines.
    let rulebooks = load_all();
    let first = &rulebooks["cn-power-2019-2020.toml"];
    assert_eq!(first.scheme.compliance_years, vec![2019, 2020]);
    assert_eq!(
        first
            .china_allocation()
            .expect("china")
            .pre_allocation
            .base_year,
        Some(2018)
    );
    assert_eq!(
        first
            .mrv
            .expect("mrv")
            .default_carbon_content_tonnes_c_per_gj,
        d("0.03356")
    );
    assert_eq!(
        first.mrv.expect("mrv").grid_emission_factor_tonnes_per_mwh,
        d("0.6101")
    );
    assert!(first.borrowing.is_none());
    assert_eq!(first.deadlines.pre_allocation, Some(date(2021, 1, 29)));
    let deadlines = first.surrender_deadlines_for(2020);
    assert_eq!(deadlines.len(), 1);
    assert_eq!(
        (deadlines[0].date, deadlines[0].cumulative_share),
        (date(2021, 12, 31), d("1.00"))
    );

    for (year, name) in [(2021, "cn-power-2021.toml"), (2022, "cn-power-2022.toml")] {
        let rulebook = &rulebooks[name];
        assert_eq!(rulebook.scheme.compliance_years, vec![year]);
        assert_eq!(
            rulebook
                .mrv
                .expect("mrv")
                .default_carbon_content_tonnes_c_per_gj,
            d("0.03085")
        );
        let borrowing = rulebook.borrowing.expect("borrowing");
        assert_eq!(
            (borrowing.min_gap_rate, borrowing.max_share_of_gap),
            (d("0.10"), d("0.50"))
        );
        assert_eq!(borrowing.from_vintage.0, 2023);
        let vintages: Vec<u16> = rulebook
            .surrender
            .eligible_vintages
            .iter()
            .map(|v| v.0)
            .collect();
        assert_eq!(vintages, vec![2019, 2020, 2021, 2022]);
        let deadlines: Vec<(CalendarDate, Decimal)> = rulebook
            .surrender_deadlines_for(year)
            .iter()
            .map(|deadline| (deadline.date, deadline.cumulative_share))
            .collect();
        assert_eq!(
            deadlines,
            vec![
                (date(2023, 11, 15), d("0.95")),
                (date(2023, 12, 31), d("1.00"))
            ]
        );
        assert_eq!(rulebook.deadlines.pre_allocation, Some(date(2023, 4, 30)));
        assert_eq!(rulebook.deadlines.final_allocation, Some(date(2023, 7, 15)));
    }
}

#[test]
fn eu_phase4_rulebook_matches_rules_md() {
    // Goal: EUR/EUA, CSCF 1.00 for 2021-2025, CLEF 1.00 for exposed sectors, no caps,
    // 30 April then 30 September deadlines, EUR 100 penalty with make-good.
    let rulebooks = load_all();
    let eu = &rulebooks["eu-ets-phase4.toml"];
    assert_eq!(eu.scheme.currency, Currency::Eur);
    assert_eq!(eu.scheme.unit_code.as_str(), "EUA");
    let AllocationRules::Eu(rules) = &eu.allocation else {
        panic!("EU allocation expected");
    };
    for year in 2021..=2025 {
        assert_eq!(rules.cscf_for(year), Some(d("1.00")), "{year}");
        assert_eq!(
            rules.clef_for(ets_scheme::rulebook::CarbonLeakageExposure::Exposed, year),
            Some(d("1.00"))
        );
    }
    assert!(eu.obligation.shortfall_cap.is_none() && !eu.obligation.gas_cap);
    assert!(eu.offsets.is_none() && eu.borrowing.is_none() && eu.mrv.is_none());
    assert_eq!(eu.surrender_deadlines_for(2022)[0].date, date(2023, 4, 30));
    assert_eq!(eu.surrender_deadlines_for(2023)[0].date, date(2024, 9, 30));
    let PenaltyRegime::Eu(penalty) = eu.penalty else {
        panic!("EU penalty expected");
    };
    assert_eq!(penalty.base_penalty_per_tonne_major_units, d("100"));
    assert!(penalty.make_good);
}

#[test]
fn every_number_in_a_rulebook_carries_a_source_comment() {
    // Goal: the rule of schemes/: each value with a digit (number, share, year, date) says on its
    // line where it comes from: a [Sn] tag, a docs/sources.md section, or "unconfirmed". Only the
    // free-text `id` and `name` are exempt.
    for entry in std::fs::read_dir(schemes_dir()).expect("schemes/ exists") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("readable");
        for (index, line) in text.lines().enumerate() {
            let Some((key, rest)) = line.split_once(" = ") else {
                continue;
            };
            let (value, comment) = rest.split_once('#').unwrap_or((rest, ""));
            if key.starts_with('#')
                || key == "id"
                || key == "name"
                || !value.chars().any(|c| c.is_ascii_digit())
            {
                continue;
            }
            let sourced = comment.contains("[S")
                || comment.contains("docs/sources.md")
                || comment.contains("unconfirmed");
            assert!(
                sourced,
                "{}:{}: `{line}` has no source comment",
                path.display(),
                index + 1
            );
        }
    }
}

#[test]
fn the_2023_and_2024_power_rulebooks_follow_the_2023_24_plan() {
    // Goal: what the 2023-24 plan changed [S86]: generation basis, no heat-supply factor,
    // no borrowing, carry-over capped at 10,000 t + 1.5 x net sales, the 2024 penalties;
    // 2024 benchmarks no looser than 2023.
    let rulebooks = load_all();
    let mut coal = Vec::new();
    for name in ["cn-power-2023.toml", "cn-power-2024.toml"] {
        let rulebook = &rulebooks[name];
        let rules = rulebook.china_allocation().expect("china");
        assert_eq!(rules.output_basis, OutputBasis::Generation, "{name}");
        assert_eq!(rules.heat_supply.coal_coefficient, d("0"), "{name}");
        assert_eq!(rules.heat_supply.gas_coefficient, d("0"), "{name}");
        assert!(rulebook.borrowing.is_none(), "{name}");
        let carry = rulebook.carry_over.as_ref().expect("carry-over cap");
        assert_eq!(carry.fixed.tonnes(), 10_000, "{name}");
        assert_eq!(carry.net_sales_multiple, d("1.5"), "{name}");
        assert!(
            matches!(rulebook.penalty, PenaltyRegime::China2024(_)),
            "{name}"
        );
        coal.push(benchmarks(rulebook)[0].0);
    }
    assert!(coal[1] <= coal[0], "2024 is no looser than 2023: {coal:?}");
}

#[test]
fn the_2025_and_2026_power_rulebooks_continue_2024() {
    // Goal: the later power years keep 2024's benchmarks and rules (assumptions named in the
    // files) and follow the annual timetable: surrender by 31 Dec of the next year [S87].
    let rulebooks = load_all();
    let base = &rulebooks["cn-power-2024.toml"];
    for (year, name) in [(2025, "cn-power-2025.toml"), (2026, "cn-power-2026.toml")] {
        let rulebook = &rulebooks[name];
        assert_eq!(rulebook.scheme.compliance_years, [year], "{name}");
        assert_eq!(benchmarks(rulebook), benchmarks(base), "{name}");
        let (carry, base_carry) = (
            rulebook.carry_over.expect("carry-over cap"),
            base.carry_over.expect("carry-over cap"),
        );
        assert_eq!(carry.fixed, base_carry.fixed, "{name}");
        assert_eq!(carry.net_sales_multiple, base_carry.net_sales_multiple);
        assert!(rulebook.borrowing.is_none(), "{name}");
        let deadlines = rulebook.surrender_deadlines_for(year);
        assert_eq!(deadlines.len(), 1, "{name}");
        assert_eq!(deadlines[0].date, date(year + 1, 12, 31), "{name}");
    }
}

#[test]
fn the_sector_rulebooks_follow_the_2024_2025_plan() {
    // Goal: steel, cement and aluminium [S88][S89]: 2024 allocation = verified with no
    // pre-allocation; 2025 intensity-based on the sector's balance value with 70%
    // pre-allocation; the cement exceptions in 2025 only; aluminium counts CF4 and C2F6;
    // surrender by 31 Dec of the next year; the 2024 penalties; one CEA market.
    let rulebooks = load_all();
    for sector in Sector::ALL {
        for year in [2024u16, 2025] {
            let name = format!("cn-{}-{year}.toml", sector.key());
            let rulebook = rulebooks
                .get(&name)
                .unwrap_or_else(|| panic!("{name} missing"));
            let rules = rulebook.sector_allocation().expect("sector rules");
            assert_eq!(rules.sector, sector, "{name}");
            assert_eq!(rulebook.scheme.unit_code.as_str(), "CEA", "{name}");
            assert_eq!(rulebook.scheme.compliance_years, [year], "{name}");
            let deadlines = rulebook.surrender_deadlines_for(year);
            assert_eq!(deadlines[0].date, date(year + 1, 12, 31), "{name}");
            assert!(matches!(rulebook.penalty, PenaltyRegime::China2024(_)));
            assert_eq!(rules.gases.is_some(), sector == Sector::Aluminium, "{name}");
            if year == 2024 {
                assert_eq!(rules.method, SectorMethod::Verified, "{name}");
                assert!(rules.pre_allocation.is_none(), "{name}");
                continue;
            }
            let SectorMethod::Intensity(intensity) = rules.method else {
                panic!("{name}: intensity-based in 2025");
            };
            assert!(
                matches!(intensity.benchmark, BenchmarkRule::SectorBalance { .. }),
                "{name}"
            );
            assert_eq!(rules.pre_allocation.expect("pre").share, d("0.70"));
            let cement = sector == Sector::Cement;
            assert_eq!(rules.exceptions.white_cement_clinker, cement, "{name}");
            assert_eq!(
                rules.exceptions.carbide_slag_share_above,
                cement.then(|| d("0.15")),
                "{name}"
            );
        }
    }
}
