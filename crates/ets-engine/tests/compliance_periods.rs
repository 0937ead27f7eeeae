//! Compliance periods through the engine: China's 2019-2020 as one period with
//! one obligation; a shortfall's next-year deduction applied when the next
//! year was pre-allocated before the close (clawed back, or owed where the
//! holding is short); the 2021 plan's 95% intermediate deadline; bad input for
//! closed periods and years no rulebook covers. Every figure is worked by hand
//! in the comments.

use ets_engine::Command;
use ets_engine::compliance::{
    AllocationPhase, ComplianceCommand, Cooling, EntityOutput, EntitySpec, EntityStatus, FuelKind,
    FuelSpec, UnitCategory, UnitOutput, UnitSpec,
};
use ets_model::{AccountId, Code, ParticipantId, Quantity, UnitClass, Vintage};
use ets_registry::{AccountKind, ParticipantKind, RegistryCommand, TransactionKind};

mod common;
mod seed;

use seed::{open, participant, registry};

use common::Harness;

const ADMIN: ParticipantId = ParticipantId(1);
const COAL: ParticipantId = ParticipantId(10);
const SELLER: ParticipantId = ParticipantId(20);
const COAL_ACCOUNT: AccountId = AccountId(100);
const SELLER_ACCOUNT: AccountId = AccountId(200);
const CANCELLATION: AccountId = AccountId(4);
/// 2021-06-01T00:00:00Z.
const JUNE_2021_MS: i64 = 1_622_505_600_000;
/// 2021-12-01T00:00:00Z, before the 2019-2020 deadline (2021-12-31).
const DECEMBER_2021_MS: i64 = 1_638_316_800_000;
/// 2022-01-05T00:00:00Z, after it.
const JANUARY_2022_MS: i64 = 1_641_340_800_000;
/// 2023-05-01T00:00:00Z: 2021 and 2022 pre-allocation.
const MAY_2023_MS: i64 = 1_682_899_200_000;
/// 2023-11-01T00:00:00Z, before the 95% deadline of 15 November 2023.
const NOVEMBER_2023_MS: i64 = 1_698_796_800_000;
/// 2023-12-01T00:00:00Z, after it and before the 100% deadline of 31 December 2023.
const DECEMBER_2023_MS: i64 = 1_701_388_800_000;
/// 2024-01-02T00:00:00Z, after the last 2021 deadline.
const JANUARY_2024_MS: i64 = 1_704_153_600_000;

fn compliance(command: ComplianceCommand) -> Command {
    Command::Compliance(command)
}

fn cea(vintage: u16) -> UnitClass {
    UnitClass::Allowance {
        scheme: Code::try_new("CEA").expect("code"),
        vintage: Vintage(vintage),
    }
}

fn rulebook(scheme: &str) -> Command {
    let path = format!("{}/../../schemes/{scheme}.toml", env!("CARGO_MANIFEST_DIR"));
    compliance(ComplianceCommand::LoadRulebook {
        source_name: format!("schemes/{scheme}.toml"),
        toml: std::fs::read_to_string(path).expect("rulebook file"),
    })
}

fn coal_unit() -> UnitSpec {
    UnitSpec {
        unit: Code::try_new("U1").expect("code"),
        category: UnitCategory::CoalAbove300Mw,
        capacity_mw: 600,
        cooling: Cooling::Water,
        combined_heat_and_power: false,
    }
}

/// Allocation for `year` on `mwh` of output (load 0.90: no load correction).
fn allocate(
    scheme: &str,
    year: u16,
    phase: AllocationPhase,
    entities: &[ParticipantId],
) -> Command {
    compliance(ComplianceCommand::Allocate {
        scheme: scheme.into(),
        year,
        phase,
        outputs: entities
            .iter()
            .map(|&participant| EntityOutput {
                participant,
                units: vec![UnitOutput {
                    unit: Code::try_new("U1").expect("code"),
                    electricity_mwh: if scheme == "cn-power-2019-2020" {
                        "1000000".into()
                    } else {
                        "100000".into()
                    },
                    heat_gj: "0".into(),
                    heat_supply_ratio: "0".into(),
                    load_factor: "0.90".into(),
                }],
            })
            .collect(),
    })
}

fn surrender(from: AccountId, class: UnitClass, tonnes: u64, year: u16) -> Command {
    registry(RegistryCommand::Surrender {
        from,
        class,
        quantity: Quantity::new(tonnes),
        compliance_year: year,
    })
}

fn close(scheme: &str, year: u16) -> Command {
    compliance(ComplianceCommand::CloseYear {
        scheme: scheme.into(),
        year,
        reference_average_price: None,
    })
}

fn report(entity: ParticipantId, year: u16) -> Command {
    compliance(ComplianceCommand::SubmitReport {
        entity,
        year,
        fuels: vec![FuelSpec {
            kind: FuelKind::Coal,
            consumed: "1000".into(),
            net_calorific_value: "20".into(),
            carbon_content: Some("0.0270".into()),
            oxidation_rate: Some("0.99".into()),
        }],
        purchased_electricity_mwh: "0".into(),
        output_mwh: "0".into(),
        draft: false,
    })
}

/// Sets verified emissions: the entity reports, the authority fixes the figure.
fn verified(harness: &mut Harness, entity: ParticipantId, year: u16, tonnes: u64) {
    harness.ok(entity, report(entity, year));
    harness.ok(
        ADMIN,
        compliance(ComplianceCommand::CorrectReport {
            entity,
            year,
            emissions: Quantity::new(tonnes),
        }),
    );
}

/// Administrator, system accounts, two covered entities, and `schemes` loaded with both
/// entities registered under each.
fn setup(start_ms: i64, schemes: &[&str]) -> Harness {
    let mut harness = Harness::starting_at(start_ms);
    harness.ok(
        ADMIN,
        participant(ADMIN, ParticipantKind::Administrator, "MEE"),
    );
    harness.ok(
        ADMIN,
        participant(COAL, ParticipantKind::CoveredEntity, "Coal"),
    );
    harness.ok(
        ADMIN,
        participant(SELLER, ParticipantKind::CoveredEntity, "Seller"),
    );
    harness.ok(ADMIN, open(AccountId(1), AccountKind::Issuance, ADMIN));
    harness.ok(ADMIN, open(AccountId(2), AccountKind::Surrender, ADMIN));
    harness.ok(ADMIN, open(CANCELLATION, AccountKind::Cancellation, ADMIN));
    harness.ok(
        ADMIN,
        open(COAL_ACCOUNT, AccountKind::OperatorHolding, COAL),
    );
    harness.ok(
        ADMIN,
        open(SELLER_ACCOUNT, AccountKind::OperatorHolding, SELLER),
    );
    for scheme in schemes {
        harness.ok(ADMIN, rulebook(scheme));
        harness.ok(
            ADMIN,
            compliance(ComplianceCommand::RegisterEntities {
                scheme: (*scheme).into(),
                entities: [(COAL, COAL_ACCOUNT), (SELLER, SELLER_ACCOUNT)]
                    .iter()
                    .map(|&(participant, account)| EntitySpec {
                        participant,
                        account,
                        units: vec![coal_unit()],
                    })
                    .collect(),
            }),
        );
    }
    harness
}

fn line(
    harness: &Harness,
    scheme: &str,
    year: u16,
    entity: ParticipantId,
) -> ets_engine::compliance::EntityResult {
    harness
        .engine
        .compliance()
        .results(harness.engine.registry(), scheme, year, None)
        .expect("results")
        .into_iter()
        .find(|line| line.entity == entity)
        .expect("the entity's line")
}

#[test]
fn china_2019_and_2020_are_one_period_with_one_obligation() {
    // Goal: the two years settle one obligation, computed on the two-year totals.
    const SCHEME: &str = "cn-power-2019-2020";
    let mut harness = setup(JUNE_2021_MS, &[SCHEME]);
    for year in [2019, 2020] {
        // Pre 0.70 x 0.877 x 1,000,000 = 613,900 t; final 0.877 x 1,000,000 = 877,000 t.
        harness.ok(ADMIN, allocate(SCHEME, year, AllocationPhase::Pre, &[COAL]));
        harness.ok(
            ADMIN,
            allocate(SCHEME, year, AllocationPhase::Final, &[COAL]),
        );
        assert_eq!(harness.held(COAL_ACCOUNT, &cea(year)), 877_000);
    }
    verified(&mut harness, COAL, 2019, 1_300_000);
    verified(&mut harness, COAL, 2020, 877_000);
    // Year by year the 20% cap would bite in 2019 (gap 423,000 > 260,000): 877,000 +
    // 260,000 + 877,000 = 2,014,000 t. Over the period the gap 423,000 is within 20% of
    // 2,177,000 (435,400), so the one obligation is the whole 2,177,000 t.
    let period = line(&harness, SCHEME, 2019, COAL);
    assert_eq!(period.obligation, Quantity::new(2_177_000));
    assert_eq!(period.allocation, Quantity::new(1_754_000));
    assert_eq!(period.verified_emissions, Some(Quantity::new(2_177_000)));
    assert_eq!(period.period, "2019-2020");
    assert_eq!(line(&harness, SCHEME, 2020, COAL), period);

    // Surrenders for either year count toward the period: 877,000 + 800,000 = 1,677,000.
    harness.time_ms = DECEMBER_2021_MS;
    harness.ok(COAL, surrender(COAL_ACCOUNT, cea(2019), 877_000, 2019));
    harness.ok(COAL, surrender(COAL_ACCOUNT, cea(2020), 800_000, 2020));
    let period = line(&harness, SCHEME, 2020, COAL);
    assert_eq!(period.allowances_surrendered, Quantity::new(1_677_000));
    assert_eq!(
        (period.status, period.shortfall, period.next_year_deduction),
        (
            EntityStatus::Shortfall,
            Quantity::new(500_000),
            Quantity::new(500_000)
        )
    );

    // Closing either year closes the period; neither year takes commands after it.
    harness.time_ms = JANUARY_2022_MS;
    harness.ok(ADMIN, close(SCHEME, 2019));
    let compliance = harness.engine.compliance();
    assert_eq!(
        compliance.closed_results(SCHEME, 2019),
        compliance.closed_results(SCHEME, 2020)
    );
    assert!(compliance.closed_results(SCHEME, 2020).is_some());
    harness.refused(ADMIN, close(SCHEME, 2020), "year_closed");
    harness.refused(COAL, report(COAL, 2020), "year_closed");
}

/// 2021 and 2022 pre-allocated in May 2023, as on the real timeline; the coal plant's
/// 2021 verified emissions 100,000 t against 57,526 t allocated (0.70 x 0.8218 x 100,000).
fn shortfall_2021_with_2022_pre_allocated() -> Harness {
    let mut harness = setup(MAY_2023_MS, &["cn-power-2021", "cn-power-2022"]);
    let both = [COAL, SELLER];
    harness.ok(
        ADMIN,
        allocate("cn-power-2021", 2021, AllocationPhase::Pre, &both),
    );
    // 2022: 0.70 x 0.8177 x 100,000 = 57,239 t each.
    harness.ok(
        ADMIN,
        allocate("cn-power-2022", 2022, AllocationPhase::Pre, &both),
    );
    assert_eq!(harness.held(COAL_ACCOUNT, &cea(2022)), 57_239);
    for entity in both {
        verified(&mut harness, entity, 2021, 100_000);
    }
    // Gap 42,474 t > 20% of 100,000: the obligation is 57,526 + 20,000 = 77,526 t. Each
    // surrenders its 57,526 t by November: 20,000 t short.
    harness.time_ms = NOVEMBER_2023_MS;
    for account in [COAL_ACCOUNT, SELLER_ACCOUNT] {
        let owner = if account == COAL_ACCOUNT {
            COAL
        } else {
            SELLER
        };
        harness.ok(owner, surrender(account, cea(2021), 57_526, 2021));
    }
    harness
}

#[test]
fn a_2021_shortfall_is_clawed_back_from_the_2022_allocation_issued_before_the_close() {
    // Goal: the deduction is not lost when 2022 was allocated first; where the holding is
    // short, the rest is owed at the 2022 close.
    let mut harness = shortfall_2021_with_2022_pre_allocated();
    // The seller sold 50,000 of its 57,239 2022 allowances (to the coal plant): it holds 7,239.
    harness.ok(
        SELLER,
        registry(RegistryCommand::Transfer {
            from: SELLER_ACCOUNT,
            to: COAL_ACCOUNT,
            class: cea(2022),
            quantity: Quantity::new(50_000),
        }),
    );
    harness.time_ms = JANUARY_2024_MS;
    harness.ok(ADMIN, close("cn-power-2021", 2021));
    let coal = line(&harness, "cn-power-2021", 2021, COAL);
    assert_eq!(coal.next_year_deduction, Quantity::new(20_000));
    // Coal: 57,239 + 50,000 - 20,000 = 87,239 held; the seller: all 7,239 taken, 12,761 owed.
    assert_eq!(harness.held(COAL_ACCOUNT, &cea(2022)), 87_239);
    assert_eq!(harness.held(SELLER_ACCOUNT, &cea(2022)), 0);
    assert_eq!(harness.held(CANCELLATION, &cea(2022)), 27_239);
    let compliance = harness.engine.compliance();
    let coal_2022 = compliance.allocation(COAL, 2022).expect("2022 record");
    assert_eq!(
        (coal_2022.deducted, coal_2022.claw_back_outstanding),
        (Quantity::new(20_000), Quantity::ZERO)
    );
    let seller_2022 = compliance.allocation(SELLER, 2022).expect("2022 record");
    assert_eq!(
        (seller_2022.deducted, seller_2022.claw_back_outstanding),
        (Quantity::new(20_000), Quantity::new(12_761))
    );
    // The claw-back is in the account's history with its cause.
    let cause = harness
        .engine
        .registry()
        .transactions()
        .filter(|transaction| transaction.from == COAL_ACCOUNT)
        .find_map(|transaction| match &transaction.kind {
            TransactionKind::Cancel { reason } => Some(reason.clone()),
            _ => None,
        })
        .expect("a cancellation from the coal account");
    assert!(cause.contains("2021 shortfall"), "{cause}");
    assert!(cause.contains("2022 allocation"), "{cause}");
    assert!(cause.contains("(20000 t)"), "{cause}");
    // The seller's 12,761 t owed are part of its 2022 obligation: with 2022 verified
    // emissions equal to its allocation (57,239 t), it owes 57,239 + 12,761 = 70,000 t.
    verified(&mut harness, SELLER, 2022, 57_239);
    let seller = line(&harness, "cn-power-2022", 2022, SELLER);
    assert_eq!(seller.obligation, Quantity::new(70_000));
    // A later 2022 pre-allocation cannot happen twice, so nothing is deducted twice.
    harness.refused(
        ADMIN,
        allocate("cn-power-2022", 2022, AllocationPhase::Pre, &[COAL]),
        "allocation_order",
    );
}

#[test]
fn the_95_percent_intermediate_deadline_is_enforced_at_the_close() {
    // Goal: 95% by 15 November 2023 is a deadline of its own: the whole obligation by
    // 31 December does not make an entity that missed it compliant.
    let mut harness = setup(MAY_2023_MS, &["cn-power-2021"]);
    let both = [COAL, SELLER];
    harness.ok(
        ADMIN,
        allocate("cn-power-2021", 2021, AllocationPhase::Pre, &both),
    );
    // Both verified at their allocation, 57,526 t: no cap, obligation 57,526 t; 95% of it
    // is 54,649.7, so 54,650 t are due by 15 November.
    for entity in both {
        verified(&mut harness, entity, 2021, 57_526);
    }
    harness.time_ms = NOVEMBER_2023_MS;
    harness.ok(COAL, surrender(COAL_ACCOUNT, cea(2021), 57_526, 2021));
    harness.ok(SELLER, surrender(SELLER_ACCOUNT, cea(2021), 50_000, 2021));
    harness.time_ms = DECEMBER_2023_MS;
    harness.ok(SELLER, surrender(SELLER_ACCOUNT, cea(2021), 7_526, 2021));
    // Before the close nothing is judged: both have surrendered everything.
    assert_eq!(
        line(&harness, "cn-power-2021", 2021, SELLER).status,
        EntityStatus::Compliant
    );
    harness.time_ms = JANUARY_2024_MS;
    harness.ok(ADMIN, close("cn-power-2021", 2021));
    let coal = line(&harness, "cn-power-2021", 2021, COAL);
    assert_eq!(
        (coal.status, coal.intermediate_shortfall),
        (EntityStatus::Compliant, Quantity::ZERO)
    );
    let seller = line(&harness, "cn-power-2021", 2021, SELLER);
    assert_eq!(
        (
            seller.status,
            seller.shortfall,
            seller.intermediate_shortfall
        ),
        (
            EntityStatus::MissedIntermediateDeadline,
            Quantity::ZERO,
            Quantity::new(4_650)
        )
    );
}

#[test]
fn years_no_rulebook_covers_and_closed_periods_are_refused() {
    // Goal: a close or report for a year outside the rulebook, and any command for a
    // closed period, get a clear code and change nothing.
    let mut harness = setup(MAY_2023_MS, &["cn-power-2021"]);
    harness.refused(ADMIN, close("cn-power-2021", 2030), "year_not_in_scheme");
    harness.refused(ADMIN, close("no-such-scheme", 2021), "unknown_scheme");
    let error = harness
        .engine
        .compliance()
        .results(harness.engine.registry(), "cn-power-2021", 2030, None)
        .expect_err("2030 is not governed");
    assert_eq!(error.code(), "year_not_in_scheme");
    harness.time_ms = JANUARY_2024_MS;
    harness.ok(ADMIN, close("cn-power-2021", 2021));
    harness.refused(
        ADMIN,
        allocate("cn-power-2021", 2021, AllocationPhase::Pre, &[COAL]),
        "year_closed",
    );
    harness.refused(COAL, report(COAL, 2021), "year_closed");
    harness.refused(
        COAL,
        surrender(COAL_ACCOUNT, cea(2021), 1, 2021),
        "year_closed",
    );
}

#[test]
fn the_last_deadline_ends_at_midnight_beijing_time() {
    // Goal: 31 December 2023 is a day in Beijing time: a surrender at 23:59:59 there
    // (15:59:59 UTC) is on time, one at 00:00:01 on 1 January (16:00:01 UTC, still
    // 31 December in UTC) is late.
    let mut harness = setup(MAY_2023_MS, &["cn-power-2021"]);
    harness.ok(
        ADMIN,
        allocate("cn-power-2021", 2021, AllocationPhase::Pre, &[COAL]),
    );
    // The harness stamps each command one second after the last.
    harness.time_ms = 1_704_038_399_000 - 1_000; // 2023-12-31T23:59:59+08:00
    harness.ok(COAL, surrender(COAL_ACCOUNT, cea(2021), 1, 2021));
    harness.time_ms = 1_704_038_401_000 - 1_000; // 2024-01-01T00:00:01+08:00
    harness.refused(
        COAL,
        surrender(COAL_ACCOUNT, cea(2021), 1, 2021),
        "surrender_after_deadline",
    );
}

#[test]
fn a_gas_unit_in_a_mixed_company_gets_its_gas_cap() {
    // Goal: caps per unit category (docs/compliance.md works this company by hand).
    const MIXED: ParticipantId = ParticipantId(30);
    const MIXED_ACCOUNT: AccountId = AccountId(300);
    let mut harness = setup(MAY_2023_MS, &[]);
    harness.ok(
        ADMIN,
        registry(RegistryCommand::RegisterParticipant {
            id: MIXED,
            kind: ParticipantKind::CoveredEntity,
            name: "Coal and gas".into(),
        }),
    );
    harness.ok(
        ADMIN,
        registry(RegistryCommand::OpenAccount {
            id: MIXED_ACCOUNT,
            kind: AccountKind::OperatorHolding,
            holder: MIXED,
            representatives: vec![MIXED],
            approvals_required: 1,
        }),
    );
    harness.ok(ADMIN, rulebook("cn-power-2021"));
    let gas_unit = UnitSpec {
        unit: Code::try_new("G1").expect("code"),
        category: UnitCategory::Gas,
        ..coal_unit()
    };
    harness.ok(
        ADMIN,
        compliance(ComplianceCommand::RegisterEntities {
            scheme: "cn-power-2021".into(),
            entities: vec![EntitySpec {
                participant: MIXED,
                account: MIXED_ACCOUNT,
                units: vec![coal_unit(), gas_unit],
            }],
        }),
    );
    let line = |unit: &str, mwh: &str| UnitOutput {
        unit: Code::try_new(unit).expect("code"),
        electricity_mwh: mwh.into(),
        heat_gj: "0".into(),
        heat_supply_ratio: "0".into(),
        load_factor: "0.90".into(),
    };
    // Final allocation: U1 0.8218 x 1,000,000 = 821,800 t; G1 0.3920 x 300,000 = 117,600 t.
    harness.ok(
        ADMIN,
        compliance(ComplianceCommand::Allocate {
            scheme: "cn-power-2021".into(),
            year: 2021,
            phase: AllocationPhase::Final,
            outputs: vec![EntityOutput {
                participant: MIXED,
                units: vec![line("U1", "1000000"), line("G1", "300000")],
            }],
        }),
    );
    assert_eq!(harness.held(MIXED_ACCOUNT, &cea(2021)), 939_400);
    // Coal 500,000 t x 20 GJ/t x 0.0270 tC/GJ x 0.99 x 44/12 = 980,100 t; natural gas
    // 6,000 x 400 GJ x 0.015 x 1 x 44/12 = 132,000 t. Verified 1,112,100 t.
    let fuel = |kind, consumed: &str, ncv: &str, carbon: &str, oxidation: &str| FuelSpec {
        kind,
        consumed: consumed.into(),
        net_calorific_value: ncv.into(),
        carbon_content: Some(carbon.into()),
        oxidation_rate: Some(oxidation.into()),
    };
    harness.ok(
        MIXED,
        compliance(ComplianceCommand::SubmitReport {
            entity: MIXED,
            year: 2021,
            fuels: vec![
                fuel(FuelKind::Coal, "500000", "20", "0.0270", "0.99"),
                fuel(FuelKind::Other, "6000", "400", "0.015", "1"),
            ],
            purchased_electricity_mwh: "0".into(),
            output_mwh: "0".into(),
            draft: false,
        }),
    );
    harness.ok(
        ADMIN,
        compliance(ComplianceCommand::CorrectReport {
            entity: MIXED,
            year: 2021,
            emissions: Quantity::new(1_112_100),
        }),
    );
    // Gas units: min(132,000, 117,600) = 117,600. Coal: gap 158,300 within 20% of 980,100
    // (196,020), so 980,100. Obligation 1,097,700 t. As one coal entity it would owe all
    // 1,112,100 t (gap 172,700 within 222,420): the gas units' 14,400 t relief would be lost.
    let mixed = line_of(&harness, MIXED);
    assert_eq!(mixed.obligation, Quantity::new(1_097_700));
}

fn line_of(harness: &Harness, entity: ParticipantId) -> ets_engine::compliance::EntityResult {
    line(harness, "cn-power-2021", 2021, entity)
}

/// The 2021 rulebook with `lines` added to its `[deadlines]` table.
fn rulebook_2021_with(lines: &str) -> Command {
    let path = format!(
        "{}/../../schemes/cn-power-2021.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).expect("rulebook file");
    let text = text.replacen("[deadlines]\n", &format!("[deadlines]\n{lines}\n"), 1);
    compliance(ComplianceCommand::LoadRulebook {
        source_name: "schemes/cn-power-2021.toml".into(),
        toml: text,
    })
}

/// Loads the 2021 rulebook with `lines`, pre-allocates the coal entity, and sends one
/// 1 t surrender at each Beijing-time instant given as UTC milliseconds; returns the
/// outcome codes ("accepted" or the refusal's code).
fn surrenders_around_new_year(lines: &str, instants_ms: &[i64]) -> Vec<String> {
    let mut harness = setup(MAY_2023_MS, &[]);
    harness.ok(ADMIN, rulebook_2021_with(lines));
    harness.ok(
        ADMIN,
        compliance(ComplianceCommand::RegisterEntities {
            scheme: "cn-power-2021".into(),
            entities: vec![EntitySpec {
                participant: COAL,
                account: COAL_ACCOUNT,
                units: vec![coal_unit()],
            }],
        }),
    );
    harness.ok(
        ADMIN,
        allocate("cn-power-2021", 2021, AllocationPhase::Pre, &[COAL]),
    );
    instants_ms
        .iter()
        .map(|&at| {
            harness.time_ms = at - 1_000; // the harness stamps one second later
            let outcome = harness.send(COAL, surrender(COAL_ACCOUNT, cea(2021), 1, 2021));
            if outcome.is_accepted() {
                "accepted".to_owned()
            } else {
                outcome.code().to_owned()
            }
        })
        .collect()
}

#[test]
fn a_deadline_on_a_holiday_moves_as_the_rulebook_says() {
    // Goal: 31 December 2023 is a Sunday and 1 January 2024 New Year's Day. The shipped rulebook keeps the stated date; one that says
    // `on_holiday = "next_business_day"` moves it to Tuesday 2 January 2024, and
    // "previous_business_day" to Friday 29 December 2023 (ets-time's CN calendar).
    const DEC_29_NOON: i64 = 1_703_822_400_000; // 2023-12-29T12:00+08:00
    const DEC_30_NOON: i64 = 1_703_908_800_000; // 2023-12-30T12:00+08:00
    const JAN_1_NOON: i64 = 1_704_081_600_000; // 2024-01-01T12:00+08:00
    const JAN_2_LAST_SECOND: i64 = 1_704_211_199_000; // 2024-01-02T23:59:59+08:00
    const JAN_3_FIRST_SECOND: i64 = 1_704_211_201_000; // 2024-01-03T00:00:01+08:00
    let late = "surrender_after_deadline";
    let next = surrenders_around_new_year(
        "calendar = \"cn\"\non_holiday = \"next_business_day\"",
        &[JAN_1_NOON, JAN_2_LAST_SECOND, JAN_3_FIRST_SECOND],
    );
    assert_eq!(next, ["accepted", "accepted", late]);
    let previous = surrenders_around_new_year(
        "calendar = \"cn\"\non_holiday = \"previous_business_day\"",
        &[DEC_29_NOON, DEC_30_NOON],
    );
    assert_eq!(previous, ["accepted", late]);
    // Without the key the date stands, as in journals written before it.
    let stated = surrenders_around_new_year("", &[DEC_30_NOON, JAN_1_NOON]);
    assert_eq!(stated, ["accepted", late]);
}

#[test]
fn a_holiday_rule_without_a_calendar_is_refused() {
    // Goal: moving a deadline needs the calendar to count business days in; a rulebook
    // that names a rule without one is refused with a clear code and changes nothing.
    let mut harness = setup(MAY_2023_MS, &[]);
    harness.refused(
        ADMIN,
        rulebook_2021_with("on_holiday = \"next_business_day\""),
        "rulebook_invalid_value",
    );
    harness.refused(
        ADMIN,
        rulebook_2021_with("calendar = \"cn\"\non_holiday = \"someday\""),
        "rulebook_value_out_of_range",
    );
}
