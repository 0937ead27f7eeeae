//! An industrial sector's allocation through the engine (`AllocateSector`, rulebook
//! cn-cement-2025): the pre-allocation of 70% of the previous year's verified
//! emissions, the final intensity allocation against the sector's balance value with
//! its true-up, recorded like power's so the closed results show it; every bad input
//! refused with its code and nothing changed. Figures computed by hand in the comments.

use ets_engine::Command;
use ets_engine::compliance::{
    AllocationPhase, ComplianceCommand, EntitySpec, EntityStatus, SectorFirmInput, SectorLine,
};
use ets_model::{AccountId, Code, ParticipantId, Price, Quantity, UnitClass, Vintage};
use ets_registry::{AccountKind, ParticipantKind, RegistryCommand};

mod common;
mod seed;

use seed::{open, participant, registry};

use common::Harness;

const SCHEME: &str = "cn-cement-2025";
const ADMIN: ParticipantId = ParticipantId(1);
const WORKS_A: ParticipantId = ParticipantId(10);
const WORKS_B: ParticipantId = ParticipantId(11);
/// 2026-02-01T00:00:00Z, before the 2025 deadline (2026-12-31).
const FEBRUARY_2026_MS: i64 = 1_769_904_000_000;
/// 2027-01-15T00:00:00Z, after it.
const JANUARY_2027_MS: i64 = 1_799_971_200_000;

fn compliance(command: ComplianceCommand) -> Command {
    Command::Compliance(command)
}

fn account(participant: ParticipantId) -> AccountId {
    AccountId(participant.0 * 10)
}

fn cea() -> UnitClass {
    UnitClass::Allowance {
        scheme: Code::try_new("CEA").expect("code"),
        vintage: Vintage(2025),
    }
}

/// A standard clinker line: `output` tonnes, `previous` tonnes verified in 2024.
fn firm(participant: ParticipantId, output: &str, previous: u64) -> SectorFirmInput {
    SectorFirmInput {
        participant,
        output_tonnes: output.into(),
        line: SectorLine::Standard,
        carbide_slag_share: "0".into(),
        previous_year_verified: Quantity::new(previous),
    }
}

/// Works A: 1,000,000 t of clinker, 1,000,000 t verified in 2024; works B: 500,000 t,
/// 500,000 t.
fn firms() -> Vec<SectorFirmInput> {
    vec![
        firm(WORKS_A, "1000000", 1_000_000),
        firm(WORKS_B, "500000", 500_000),
    ]
}

fn allocate(phase: AllocationPhase, firms: Vec<SectorFirmInput>) -> Command {
    compliance(ComplianceCommand::AllocateSector {
        scheme: SCHEME.into(),
        year: 2025,
        phase,
        firms,
    })
}

fn correct(entity: ParticipantId, tonnes: u64) -> Command {
    compliance(ComplianceCommand::CorrectReport {
        entity,
        year: 2025,
        emissions: Quantity::new(tonnes),
    })
}

fn setup() -> Harness {
    let mut h = Harness::starting_at(FEBRUARY_2026_MS - 10_000_000);
    h.ok(
        ADMIN,
        participant(ADMIN, ParticipantKind::Administrator, "Authority"),
    );
    h.ok(ADMIN, open(AccountId(1), AccountKind::Issuance, ADMIN));
    h.ok(ADMIN, open(AccountId(2), AccountKind::Surrender, ADMIN));
    h.ok(ADMIN, open(AccountId(4), AccountKind::Cancellation, ADMIN));
    for works in [WORKS_A, WORKS_B] {
        h.ok(
            ADMIN,
            participant(works, ParticipantKind::CoveredEntity, "Cement works"),
        );
        h.ok(
            ADMIN,
            open(account(works), AccountKind::OperatorHolding, works),
        );
    }
    let toml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schemes/cn-cement-2025.toml"
    ))
    .expect("rulebook file");
    h.ok(
        ADMIN,
        compliance(ComplianceCommand::LoadRulebook {
            source_name: "schemes/cn-cement-2025.toml".into(),
            toml,
        }),
    );
    let entities = [WORKS_A, WORKS_B]
        .into_iter()
        .map(|participant| EntitySpec {
            participant,
            account: account(participant),
            units: Vec::new(),
        })
        .collect();
    h.ok(
        ADMIN,
        compliance(ComplianceCommand::RegisterEntities {
            scheme: SCHEME.into(),
            entities,
        }),
    );
    h.time_ms = FEBRUARY_2026_MS;
    h
}

#[test]
fn the_engine_pre_allocates_allocates_and_closes_a_sector() {
    // Goal: pre-allocation 70% of 2024's verified; final A = (1 - w) E + w Q B with
    // B = sum E / sum Q and w = 0.5; the true-up issues the rest; the closed results
    // show the allocation and the shortfall against it.
    let mut h = setup();
    h.ok(ADMIN, allocate(AllocationPhase::Pre, firms()));
    // 0.70 x 1,000,000 = 700,000; 0.70 x 500,000 = 350,000.
    assert_eq!(h.held(account(WORKS_A), &cea()), 700_000);
    assert_eq!(h.held(account(WORKS_B), &cea()), 350_000);
    h.ok(ADMIN, correct(WORKS_A, 900_000));
    h.ok(ADMIN, correct(WORKS_B, 400_000));
    h.ok(ADMIN, allocate(AllocationPhase::Final, firms()));
    // B = 1,300,000 / 1,500,000 = 0.8666...; A: 450,000 + 0.5 x 1,000,000 x B =
    // 883,333.33 -> 883,333; B: 200,000 + 0.5 x 500,000 x B = 416,666.67 -> 416,667.
    assert_eq!(h.held(account(WORKS_A), &cea()), 883_333);
    assert_eq!(h.held(account(WORKS_B), &cea()), 416_667);
    let record = h
        .engine
        .compliance()
        .allocation(WORKS_A, 2025)
        .expect("record")
        .clone();
    assert_eq!(record.pre_allocated, Some(Quantity::new(700_000)));
    assert_eq!(record.final_allocation, Some(Quantity::new(883_333)));
    let benchmark = record
        .breakdown
        .iter()
        .find(|(name, _)| name == "benchmark")
        .expect("benchmark recorded");
    assert!(benchmark.1.starts_with("0.866666"), "{benchmark:?}");
    for (works, tonnes) in [(WORKS_A, 883_333), (WORKS_B, 400_000)] {
        h.ok(
            works,
            registry(RegistryCommand::Surrender {
                from: account(works),
                class: cea(),
                quantity: Quantity::new(tonnes),
                compliance_year: 2025,
            }),
        );
    }
    h.time_ms = JANUARY_2027_MS;
    h.ok(
        ADMIN,
        compliance(ComplianceCommand::CloseYear {
            scheme: SCHEME.into(),
            year: 2025,
            // 90 yuan the month before the deadline (the 2024 regime's penalty base).
            reference_average_price: Some(Price::try_new(9_000).expect("a price")),
        }),
    );
    let closed = h
        .engine
        .compliance()
        .closed_results(SCHEME, 2025)
        .expect("closed")
        .to_vec();
    let line = |works| {
        closed
            .iter()
            .find(|line| line.entity == works)
            .expect("line")
            .clone()
    };
    assert_eq!(line(WORKS_A).allocation, Quantity::new(883_333));
    assert_eq!(line(WORKS_A).shortfall, Quantity::new(16_667));
    assert_eq!(line(WORKS_A).status, EntityStatus::Shortfall);
    assert_eq!(line(WORKS_B).allocation, Quantity::new(416_667));
    assert_eq!(line(WORKS_B).status, EntityStatus::Compliant);
}

#[test]
fn a_claw_back_takes_back_what_the_pre_allocation_gave_too_much() {
    // Goal: a firm whose final allocation is below its pre-allocation loses the excess.
    let mut h = setup();
    let generous = vec![
        firm(WORKS_A, "1000000", 2_000_000),
        firm(WORKS_B, "500000", 500_000),
    ];
    h.ok(ADMIN, allocate(AllocationPhase::Pre, generous));
    assert_eq!(h.held(account(WORKS_A), &cea()), 1_400_000);
    h.ok(ADMIN, correct(WORKS_A, 900_000));
    h.ok(ADMIN, correct(WORKS_B, 400_000));
    h.ok(ADMIN, allocate(AllocationPhase::Final, firms()));
    // 1,400,000 pre-allocated, 883,333 final: 516,667 clawed back.
    assert_eq!(h.held(account(WORKS_A), &cea()), 883_333);
}

#[test]
fn bad_sector_allocations_are_refused_and_change_nothing() {
    // Goal: each bad input has its stable code and leaves every state as it was.
    let mut h = setup();
    // Not the administrator.
    h.refused(
        WORKS_A,
        allocate(AllocationPhase::Pre, firms()),
        "not_administrator",
    );
    // Power's allocation command on a sector rulebook.
    h.refused(
        ADMIN,
        compliance(ComplianceCommand::Allocate {
            scheme: SCHEME.into(),
            year: 2025,
            phase: AllocationPhase::Pre,
            outputs: Vec::new(),
        }),
        "allocation_mode_unsupported",
    );
    // A year the rulebook does not govern.
    h.refused(
        ADMIN,
        compliance(ComplianceCommand::AllocateSector {
            scheme: SCHEME.into(),
            year: 2024,
            phase: AllocationPhase::Pre,
            firms: firms(),
        }),
        "year_not_in_scheme",
    );
    // A firm twice; a participant not registered.
    let twice = vec![firm(WORKS_A, "1", 1), firm(WORKS_A, "1", 1)];
    h.refused(
        ADMIN,
        allocate(AllocationPhase::Pre, twice),
        "bad_sector_firms",
    );
    let stranger = vec![firm(ParticipantId(99), "1", 1)];
    h.refused(
        ADMIN,
        allocate(AllocationPhase::Pre, stranger),
        "unknown_entity",
    );
    // The final allocation before verified emissions, without every firm, with bad output.
    h.refused(
        ADMIN,
        allocate(AllocationPhase::Final, firms()),
        "no_report",
    );
    h.ok(ADMIN, correct(WORKS_A, 900_000));
    h.ok(ADMIN, correct(WORKS_B, 400_000));
    h.refused(
        ADMIN,
        allocate(AllocationPhase::Final, vec![firm(WORKS_A, "1000000", 0)]),
        "bad_sector_firms",
    );
    let mut bad_output = firms();
    bad_output[1].output_tonnes = "lots".into();
    h.refused(
        ADMIN,
        allocate(AllocationPhase::Final, bad_output),
        "bad_decimal",
    );
    let mut negative = firms();
    negative[1].output_tonnes = "-5".into();
    h.refused(
        ADMIN,
        allocate(AllocationPhase::Final, negative),
        "negative_input",
    );
    // Once done, not again.
    h.ok(ADMIN, allocate(AllocationPhase::Final, firms()));
    h.refused(
        ADMIN,
        allocate(AllocationPhase::Final, firms()),
        "allocation_order",
    );
}
