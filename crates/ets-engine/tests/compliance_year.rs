//! A small compliance year of China's ETS (rulebook cn-power-2021) end to end
//! through the engine, with every figure computed by hand in the comments;
//! every refusal changes nothing; registry invariants hold after each command.

use ets_engine::compliance::{
    AllocationPhase, ComplianceCommand, Cooling, EntityOutput, EntitySpec, EntityStatus, FuelKind,
    FuelSpec, UnitCategory, UnitOutput, UnitSpec,
};
use ets_engine::{Command, Outcome};
use ets_model::{AccountId, Code, Money, ParticipantId, Quantity, UnitClass, Vintage};
use ets_registry::{AccountKind, ParticipantKind, RegistryCommand};

const ADMIN: ParticipantId = ParticipantId(1);
const VERIFIER: ParticipantId = ParticipantId(2);
const COAL_PLANT: ParticipantId = ParticipantId(10);
const GAS_PLANT: ParticipantId = ParticipantId(20);
const COAL_ACCOUNT: AccountId = AccountId(100);
const GAS_ACCOUNT: AccountId = AccountId(200);
/// 2023-11-01T00:00:00Z, before the 2021 deadlines.
const NOVEMBER_2023_MS: i64 = 1_698_796_800_000;
/// 2024-01-02T00:00:00Z, after the last 2021 deadline (2023-12-31).
const JANUARY_2024_MS: i64 = 1_704_153_600_000;

mod common;
mod seed;

use seed::{open, participant, registry};

use common::Harness as Year;

fn compliance(command: ComplianceCommand) -> Command {
    Command::Compliance(command)
}

fn cea(vintage: u16) -> UnitClass {
    UnitClass::Allowance {
        scheme: Code::try_new("CEA").expect("code"),
        vintage: Vintage(vintage),
    }
}

fn ccer() -> UnitClass {
    UnitClass::Offset {
        standard: Code::try_new("CCER").expect("code"),
        project: Code::try_new("P001").expect("code"),
        vintage: Vintage(2016),
    }
}

fn unit(code: &str, category: UnitCategory) -> UnitSpec {
    UnitSpec {
        unit: Code::try_new(code).expect("code"),
        category,
        capacity_mw: 600,
        cooling: Cooling::Water,
        combined_heat_and_power: false,
    }
}

fn output(participant: ParticipantId, code: &str, electricity_mwh: &str) -> EntityOutput {
    EntityOutput {
        participant,
        units: vec![UnitOutput {
            unit: Code::try_new(code).expect("code"),
            electricity_mwh: electricity_mwh.into(),
            heat_gj: "0".into(),
            heat_supply_ratio: "0".into(),
            load_factor: "0.90".into(),
        }],
    }
}

fn fuel(kind: FuelKind, consumed: &str, ncv: &str, carbon: &str, oxidation: &str) -> FuelSpec {
    FuelSpec {
        kind,
        consumed: consumed.into(),
        net_calorific_value: ncv.into(),
        carbon_content: Some(carbon.into()),
        oxidation_rate: Some(oxidation.into()),
    }
}

fn surrender(from: AccountId, class: UnitClass, tonnes: u64) -> Command {
    registry(RegistryCommand::Surrender {
        from,
        class,
        quantity: Quantity::new(tonnes),
        compliance_year: 2021,
    })
}

fn setup() -> Year {
    let mut year = Year::starting_at(NOVEMBER_2023_MS - 10_000_000);
    year.ok(
        ADMIN,
        participant(ADMIN, ParticipantKind::Administrator, "MEE"),
    );
    year.ok(
        ADMIN,
        participant(VERIFIER, ParticipantKind::Verifier, "Verifier"),
    );
    year.ok(
        ADMIN,
        participant(COAL_PLANT, ParticipantKind::CoveredEntity, "Coal plant"),
    );
    year.ok(
        ADMIN,
        participant(GAS_PLANT, ParticipantKind::CoveredEntity, "Gas plant"),
    );
    year.ok(ADMIN, open(AccountId(1), AccountKind::Issuance, ADMIN));
    year.ok(ADMIN, open(AccountId(2), AccountKind::Surrender, ADMIN));
    year.ok(ADMIN, open(AccountId(4), AccountKind::Cancellation, ADMIN));
    year.ok(
        ADMIN,
        open(COAL_ACCOUNT, AccountKind::OperatorHolding, COAL_PLANT),
    );
    year.ok(
        ADMIN,
        open(GAS_ACCOUNT, AccountKind::OperatorHolding, GAS_PLANT),
    );
    let toml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schemes/cn-power-2021.toml"
    ))
    .expect("rulebook file");
    year.ok(
        ADMIN,
        compliance(ComplianceCommand::LoadRulebook {
            source_name: "schemes/cn-power-2021.toml".into(),
            toml,
        }),
    );
    year.ok(
        ADMIN,
        compliance(ComplianceCommand::RegisterEntities {
            scheme: "cn-power-2021".into(),
            entities: vec![
                EntitySpec {
                    participant: COAL_PLANT,
                    account: COAL_ACCOUNT,
                    units: vec![unit("U1", UnitCategory::CoalAbove300Mw)],
                },
                EntitySpec {
                    participant: GAS_PLANT,
                    account: GAS_ACCOUNT,
                    units: vec![unit("G1", UnitCategory::Gas)],
                },
            ],
        }),
    );
    year
}

#[test]
fn a_compliance_year_runs_from_allocation_to_penalties() {
    // Goal: the China 2021 cycle through the engine, checked against hand-computed figures.
    let mut year = setup();
    let allocate = |phase, coal_mwh: &str, gas_mwh: &str| {
        compliance(ComplianceCommand::Allocate {
            scheme: "cn-power-2021".into(),
            year: 2021,
            phase,
            outputs: vec![
                output(COAL_PLANT, "U1", coal_mwh),
                output(GAS_PLANT, "G1", gas_mwh),
            ],
        })
    };
    // Pre-allocation, 70% of output x benchmark, no factors:
    // coal 0.70 x 0.8218 x 1,000,000 = 575,260 t; gas 0.70 x 0.3920 x 500,000 = 137,200 t.
    year.ok(ADMIN, allocate(AllocationPhase::Pre, "1000000", "500000"));
    assert_eq!(year.held(COAL_ACCOUNT, &cea(2021)), 575_260);
    assert_eq!(year.held(GAS_ACCOUNT, &cea(2021)), 137_200);
    year.refused(
        ADMIN,
        allocate(AllocationPhase::Pre, "1000000", "500000"),
        "allocation_order",
    );
    // Final on verified output (load 0.90: no correction): coal 0.8218 x 1,100,000 = 903,980 t,
    // so 328,720 more; gas 0.3920 x 300,000 = 117,600 t, so 19,600 clawed back.
    year.ok(ADMIN, allocate(AllocationPhase::Final, "1100000", "300000"));
    assert_eq!(year.held(COAL_ACCOUNT, &cea(2021)), 903_980);
    assert_eq!(year.held(GAS_ACCOUNT, &cea(2021)), 117_600);
    assert_eq!(year.held(AccountId(4), &cea(2021)), 19_600);

    // Reports. Coal: 500,000 t x 20 GJ/t x 0.0270 tC/GJ x 0.99 x 44/12 = 980,100 t.
    // Gas: 5,000 x 400 GJ x 0.0153 x 0.99 x 44/12 = 111,078 t.
    let coal_report = compliance(ComplianceCommand::SubmitReport {
        entity: COAL_PLANT,
        year: 2021,
        fuels: vec![fuel(FuelKind::Coal, "500000", "20", "0.0270", "0.99")],
        purchased_electricity_mwh: "0".into(),
        output_mwh: "0".into(),
        draft: false,
    });
    year.refused(GAS_PLANT, coal_report.clone(), "not_representative");
    // A draft is kept but a verifier cannot act on it until it is submitted.
    let mut draft = coal_report.clone();
    if let Command::Compliance(ComplianceCommand::SubmitReport { draft: flag, .. }) = &mut draft {
        *flag = true;
    }
    year.ok(COAL_PLANT, draft);
    year.refused(
        VERIFIER,
        compliance(ComplianceCommand::VerifyReport {
            entity: COAL_PLANT,
            year: 2021,
            accept: true,
        }),
        "report_state",
    );
    year.ok(COAL_PLANT, coal_report);
    year.ok(
        GAS_PLANT,
        compliance(ComplianceCommand::SubmitReport {
            entity: GAS_PLANT,
            year: 2021,
            fuels: vec![fuel(FuelKind::Other, "5000", "400", "0.0153", "0.99")],
            purchased_electricity_mwh: "0".into(),
            output_mwh: "0".into(),
            draft: false,
        }),
    );
    let verify = |entity| {
        compliance(ComplianceCommand::VerifyReport {
            entity,
            year: 2021,
            accept: true,
        })
    };
    year.refused(ADMIN, verify(COAL_PLANT), "not_verifier");
    year.ok(VERIFIER, verify(COAL_PLANT));
    year.ok(VERIFIER, verify(GAS_PLANT));
    assert_eq!(
        year.engine
            .compliance()
            .report(COAL_PLANT, 2021)
            .and_then(|r| r.verified_emissions),
        Some(Quantity::new(980_100))
    );

    // Offsets: CCER up to 5% of the obligation. The coal plant's gap 76,120 t is below the
    // 20% cap (196,020 t), so it owes all 980,100 t and may use 49,005 t of offsets.
    year.ok(
        ADMIN,
        registry(RegistryCommand::Issue {
            class: ccer(),
            quantity: Quantity::new(60_000),
        }),
    );
    year.ok(
        ADMIN,
        registry(RegistryCommand::Allocate {
            to: COAL_ACCOUNT,
            class: ccer(),
            quantity: Quantity::new(60_000),
        }),
    );
    year.time_ms = NOVEMBER_2023_MS;
    year.refused(
        COAL_PLANT,
        surrender(COAL_ACCOUNT, ccer(), 49_006),
        "offset_limit_exceeded",
    );
    year.ok(COAL_PLANT, surrender(COAL_ACCOUNT, ccer(), 40_000));
    year.refused(
        COAL_PLANT,
        surrender(COAL_ACCOUNT, cea(2018), 1),
        "not_eligible",
    );
    year.ok(COAL_PLANT, surrender(COAL_ACCOUNT, cea(2021), 903_980));
    // Gas: owes min(verified 111,078, allocation 117,600) = 111,078 and surrenders it all.
    year.ok(GAS_PLANT, surrender(GAS_ACCOUNT, cea(2021), 111_078));
    year.time_ms = JANUARY_2024_MS;
    year.refused(
        GAS_PLANT,
        surrender(GAS_ACCOUNT, cea(2021), 1),
        "surrender_after_deadline",
    );

    // Close: coal shortfall 980,100 - 903,980 - 40,000 = 36,120 t: fine 20,000-30,000 yuan
    // (2,000,000-3,000,000 fen) and 36,120 t deducted next year (China 2021 regime).
    year.ok(
        ADMIN,
        compliance(ComplianceCommand::CloseYear {
            scheme: "cn-power-2021".into(),
            year: 2021,
            reference_average_price: None,
        }),
    );
    let results = year
        .engine
        .compliance()
        .closed_results("cn-power-2021", 2021)
        .expect("closed")
        .to_vec();
    let coal = results
        .iter()
        .find(|r| r.entity == COAL_PLANT)
        .expect("coal line");
    assert_eq!(coal.obligation, Quantity::new(980_100));
    assert_eq!(coal.offsets_used, Quantity::new(40_000));
    assert_eq!(coal.allowances_surrendered, Quantity::new(903_980));
    assert_eq!(
        (coal.status, coal.shortfall),
        (EntityStatus::Shortfall, Quantity::new(36_120))
    );
    assert_eq!(
        (coal.fine_min, coal.fine_max),
        (Money::new(2_000_000), Money::new(3_000_000))
    );
    assert_eq!(coal.next_year_deduction, Quantity::new(36_120));
    let gas = results
        .iter()
        .find(|r| r.entity == GAS_PLANT)
        .expect("gas line");
    assert_eq!(
        (gas.status, gas.obligation, gas.shortfall),
        (
            EntityStatus::Compliant,
            Quantity::new(111_078),
            Quantity::ZERO
        )
    );
    year.refused(
        ADMIN,
        compliance(ComplianceCommand::CloseYear {
            scheme: "cn-power-2021".into(),
            year: 2021,
            reference_average_price: None,
        }),
        "year_closed",
    );
}

#[test]
fn bad_compliance_input_is_refused_with_a_code_and_changes_nothing() {
    // Goal: unknown scheme or entity, absurd data, a broken rulebook, and allocation
    // to an unregistered entity are refused, naming the problem.
    let mut year = setup();
    year.refused(
        ADMIN,
        compliance(ComplianceCommand::LoadRulebook {
            source_name: "broken.toml".into(),
            toml: "[scheme]\nid = \"x\"\n".into(),
        }),
        "rulebook_missing_key",
    );
    let report = |entity, consumed: &str| {
        compliance(ComplianceCommand::SubmitReport {
            entity,
            year: 2021,
            fuels: vec![fuel(FuelKind::Coal, consumed, "20", "0.027", "0.99")],
            purchased_electricity_mwh: "0".into(),
            output_mwh: "0".into(),
            draft: false,
        })
    };
    year.refused(COAL_PLANT, report(COAL_PLANT, "-5"), "negative_input");
    year.refused(COAL_PLANT, report(COAL_PLANT, "lots"), "bad_decimal");
    year.refused(ADMIN, report(ParticipantId(99), "1"), "unknown_entity");
    year.refused(
        ADMIN,
        compliance(ComplianceCommand::Allocate {
            scheme: "cn-power-2099".into(),
            year: 2021,
            phase: AllocationPhase::Pre,
            outputs: vec![],
        }),
        "unknown_scheme",
    );
    year.refused(
        ADMIN,
        compliance(ComplianceCommand::Allocate {
            scheme: "cn-power-2021".into(),
            year: 2021,
            phase: AllocationPhase::Pre,
            outputs: vec![
                output(COAL_PLANT, "U1", "1000"),
                output(ParticipantId(77), "U1", "1"),
            ],
        }),
        "unknown_entity",
    );
    year.refused(
        COAL_PLANT,
        compliance(ComplianceCommand::CloseYear {
            scheme: "cn-power-2021".into(),
            year: 2021,
            reference_average_price: None,
        }),
        "not_administrator",
    );
}

#[test]
fn implausible_reports_are_flagged_for_the_verifier() {
    // Goal: with peer ranges set by the authority, a carbon content or an intensity far
    // outside them is flagged on submission (the report is still accepted: the verifier
    // decides); China's 2022 falsification cases were exactly such values.
    let mut year = setup();
    let ranges = |min: &str| {
        compliance(ComplianceCommand::SetPlausibilityRanges {
            scheme: "cn-power-2021".into(),
            carbon_content_min: min.into(),
            carbon_content_max: "0.0300".into(),
            intensity_min: "0.70".into(),
            intensity_max: "1.10".into(),
        })
    };
    year.refused(ADMIN, ranges("0.0400"), "bad_decimal");
    year.refused(COAL_PLANT, ranges("0.0200"), "not_administrator");
    year.ok(ADMIN, ranges("0.0200"));
    // 0.0150 tC/GJ is below the range; 980,100 x (0.015/0.027) = 544,500 t over 1,100,000 MWh
    // is 0.495 t/MWh, below 0.70.
    let submit = compliance(ComplianceCommand::SubmitReport {
        entity: COAL_PLANT,
        year: 2021,
        fuels: vec![fuel(FuelKind::Coal, "500000", "20", "0.0150", "0.99")],
        purchased_electricity_mwh: "0".into(),
        output_mwh: "1100000".into(),
        draft: false,
    });
    let outcome = year.send(COAL_PLANT, submit);
    let Outcome::Accepted(ets_engine::Effect::Compliance(
        ets_engine::compliance::ComplianceEffect::Report {
            flags,
            computed_emissions,
            ..
        },
    )) = outcome
    else {
        panic!("report accepted: {outcome:?}");
    };
    assert_eq!(computed_emissions, Quantity::new(544_500));
    assert_eq!(flags.len(), 2, "{flags:?}");
    assert!(
        flags[0].starts_with("carbon_content_outside_peer_range"),
        "{flags:?}"
    );
    assert!(
        flags[1].starts_with("intensity_outside_peer_range"),
        "{flags:?}"
    );
}

#[test]
fn borrowing_from_the_2023_allocation_is_limited_to_half_the_gap() {
    // Goal: 2021-22 rule: with a gap above 10% of verified emissions, an entity may borrow up
    // to 50% of the gap from vintage 2023 and surrender those units for 2021, no more.
    let mut year = setup();
    let allocate = |phase, coal_mwh: &str| {
        compliance(ComplianceCommand::Allocate {
            scheme: "cn-power-2021".into(),
            year: 2021,
            phase,
            outputs: vec![
                output(COAL_PLANT, "U1", coal_mwh),
                output(GAS_PLANT, "G1", "300000"),
            ],
        })
    };
    year.ok(ADMIN, allocate(AllocationPhase::Pre, "1000000"));
    // Final: 0.8218 x 800,000 = 657,440 t.
    year.ok(ADMIN, allocate(AllocationPhase::Final, "800000"));
    let borrow = |tonnes| {
        compliance(ComplianceCommand::Borrow {
            entity: COAL_PLANT,
            year: 2021,
            quantity: Quantity::new(tonnes),
        })
    };
    year.refused(COAL_PLANT, borrow(1), "borrowing_limit_exceeded");
    year.ok(
        COAL_PLANT,
        compliance(ComplianceCommand::SubmitReport {
            entity: COAL_PLANT,
            year: 2021,
            fuels: vec![fuel(FuelKind::Coal, "500000", "20", "0.0270", "0.99")],
            purchased_electricity_mwh: "0".into(),
            output_mwh: "0".into(),
            draft: false,
        }),
    );
    year.ok(
        VERIFIER,
        compliance(ComplianceCommand::VerifyReport {
            entity: COAL_PLANT,
            year: 2021,
            accept: true,
        }),
    );
    // Gap 980,100 - 657,440 = 322,660 t (32.9% > 10%): at most 161,330 t.
    year.refused(COAL_PLANT, borrow(161_331), "borrowing_limit_exceeded");
    year.ok(COAL_PLANT, borrow(161_330));
    assert_eq!(year.held(COAL_ACCOUNT, &cea(2023)), 161_330);
    year.time_ms = NOVEMBER_2023_MS;
    year.ok(COAL_PLANT, surrender(COAL_ACCOUNT, cea(2023), 161_330));
    year.ok(
        ADMIN,
        registry(RegistryCommand::Issue {
            class: cea(2023),
            quantity: Quantity::new(5),
        }),
    );
    year.ok(
        ADMIN,
        registry(RegistryCommand::Allocate {
            to: COAL_ACCOUNT,
            class: cea(2023),
            quantity: Quantity::new(5),
        }),
    );
    year.refused(
        COAL_PLANT,
        surrender(COAL_ACCOUNT, cea(2023), 1),
        "not_eligible",
    );
}

#[test]
fn next_year_the_company_is_registered_again_and_last_years_shortfall_is_deducted() {
    // Goal: a company registered under 2021 and 2022 rulebooks reports each year under the
    // right one, and China 2021's penalty deduction (the unsurrendered tonnes) comes off its
    // 2022 pre-allocation; what the pre-allocation cannot cover is owed at the 2022 close.
    let mut year = setup();
    let outputs = |mwh: &str| {
        vec![
            output(COAL_PLANT, "U1", mwh),
            output(GAS_PLANT, "G1", "300000"),
        ]
    };
    year.ok(
        ADMIN,
        compliance(ComplianceCommand::Allocate {
            scheme: "cn-power-2021".into(),
            year: 2021,
            phase: AllocationPhase::Pre,
            outputs: outputs("100000"),
        }),
    );
    let report = |y| {
        compliance(ComplianceCommand::SubmitReport {
            entity: COAL_PLANT,
            year: y,
            fuels: vec![fuel(FuelKind::Coal, "500000", "20", "0.0270", "0.99")],
            purchased_electricity_mwh: "0".into(),
            output_mwh: "0".into(),
            draft: false,
        })
    };
    year.ok(COAL_PLANT, report(2021));
    year.ok(
        VERIFIER,
        compliance(ComplianceCommand::VerifyReport {
            entity: COAL_PLANT,
            year: 2021,
            accept: true,
        }),
    );
    year.ok(
        ADMIN,
        compliance(ComplianceCommand::CloseYear {
            scheme: "cn-power-2021".into(),
            year: 2021,
            reference_average_price: None,
        }),
    );
    // 2021: pre-allocated 0.70 x 0.8218 x 100,000 = 57,526 t; verified 980,100 t; the gap is
    // above the 20% cap (196,020), so the obligation is 57,526 + 196,020 = 253,546 t, all short.
    let closed = year
        .engine
        .compliance()
        .closed_results("cn-power-2021", 2021)
        .expect("closed")
        .to_vec();
    let coal = closed
        .iter()
        .find(|r| r.entity == COAL_PLANT)
        .expect("coal");
    assert_eq!(coal.next_year_deduction, Quantity::new(253_546));
    year.refused(COAL_PLANT, report(2022), "year_not_in_scheme");

    let toml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schemes/cn-power-2022.toml"
    ))
    .expect("rulebook");
    year.ok(
        ADMIN,
        compliance(ComplianceCommand::LoadRulebook {
            source_name: "schemes/cn-power-2022.toml".into(),
            toml,
        }),
    );
    year.ok(
        ADMIN,
        compliance(ComplianceCommand::RegisterEntities {
            scheme: "cn-power-2022".into(),
            entities: vec![EntitySpec {
                participant: COAL_PLANT,
                account: COAL_ACCOUNT,
                units: vec![unit("U1", UnitCategory::CoalAbove300Mw)],
            }],
        }),
    );
    // 2022 pre-allocation: 0.70 x 0.8177 x 1,000,000 = 572,390 t, of which 253,546 t are
    // deducted: 318,844 t are issued.
    year.ok(
        ADMIN,
        compliance(ComplianceCommand::Allocate {
            scheme: "cn-power-2022".into(),
            year: 2022,
            phase: AllocationPhase::Pre,
            outputs: vec![output(COAL_PLANT, "U1", "1000000")],
        }),
    );
    assert_eq!(year.held(COAL_ACCOUNT, &cea(2022)), 318_844);
    let record = year
        .engine
        .compliance()
        .allocation(COAL_PLANT, 2022)
        .expect("record")
        .clone();
    assert_eq!(
        (record.pre_allocated, record.deducted),
        (Some(Quantity::new(572_390)), Quantity::new(253_546))
    );
    year.ok(COAL_PLANT, report(2022));
}
