//! Three compliance years of the EU ETS (rulebook eu-ets-phase4) through the
//! engine: free allocation by `F = BM x HAL x CLEF x CSCF`, verified emissions,
//! surrenders, the cumulative A/B/C status, the indexed EUR 100/t penalty and
//! the make-good carried into the next year (also in 2026-2030), with
//! every figure computed by hand in the comments; refusals change nothing.

use ets_engine::Command;
use ets_engine::compliance::{
    AllocationPhase, ComplianceCommand, EntitySpec, EntityStatus, EuInstallationInput,
    EuSubInstallationInput, LeakageExposure,
};
use ets_model::{AccountId, Code, Money, ParticipantId, Quantity, UnitClass, Vintage};
use ets_registry::{AccountKind, ParticipantKind, RegistryCommand};

mod common;
mod seed;

use seed::{open, participant, registry};

use common::Harness as Years;

const SCHEME: &str = "eu-ets-phase4";
const ADMIN: ParticipantId = ParticipantId(1);
const STEEL: ParticipantId = ParticipantId(10);
const STEEL_ACCOUNT: AccountId = AccountId(100);
/// 2022-02-01T00:00:00Z, before the 2021 deadline (2022-04-30).
const FEBRUARY_2022_MS: i64 = 1_643_673_600_000;
/// 2023-02-01T00:00:00Z, before the 2022 deadline (2023-04-30).
const FEBRUARY_2023_MS: i64 = 1_675_209_600_000;
/// 2024-02-01T00:00:00Z, before the 2023 deadline (2024-09-30).
const FEBRUARY_2024_MS: i64 = 1_706_745_600_000;
/// 2027-02-01T00:00:00Z, before the 2026 deadline (2027-09-30).
const FEBRUARY_2027_MS: i64 = 1_801_440_000_000;
/// 2028-02-01T00:00:00Z, before the 2027 deadline (2028-09-30).
const FEBRUARY_2028_MS: i64 = 1_832_976_000_000;

/// What the EU tests add to the shared harness.
trait SteelYears {
    /// The steel plant's line of the (open or closed) results of `year`.
    fn line(&self, year: u16) -> ets_engine::compliance::EntityResult;
    /// Allocates `year`, enters `verified` tonnes and surrenders `surrendered` for it.
    fn run_year(&mut self, year: u16, verified: u64, surrendered: u64);
}

impl SteelYears for Years {
    /// The steel plant's line of the (open or closed) results of `year`.
    fn line(&self, year: u16) -> ets_engine::compliance::EntityResult {
        self.engine
            .compliance()
            .results(self.engine.registry(), SCHEME, year, None)
            .expect("results")
            .into_iter()
            .find(|line| line.entity == STEEL)
            .expect("steel line")
    }

    /// Allocates `year`, enters `verified` tonnes and surrenders `surrendered` for it.
    fn run_year(&mut self, year: u16, verified: u64, surrendered: u64) {
        self.ok(ADMIN, allocate_eu(year, LeakageExposure::Exposed));
        self.ok(
            ADMIN,
            compliance(ComplianceCommand::CorrectReport {
                entity: STEEL,
                year,
                emissions: Quantity::new(verified),
            }),
        );
        self.ok(STEEL, surrender(eua(year), surrendered, year));
    }
}

fn compliance(command: ComplianceCommand) -> Command {
    Command::Compliance(command)
}

fn eua(vintage: u16) -> UnitClass {
    UnitClass::Allowance {
        scheme: Code::try_new("EUA").expect("code"),
        vintage: Vintage(vintage),
    }
}

fn surrender(class: UnitClass, tonnes: u64, year: u16) -> Command {
    registry(RegistryCommand::Surrender {
        from: STEEL_ACCOUNT,
        class,
        quantity: Quantity::new(tonnes),
        compliance_year: year,
    })
}

fn sub(
    code: &str,
    benchmark: &str,
    hal: &str,
    exposure: LeakageExposure,
) -> EuSubInstallationInput {
    EuSubInstallationInput {
        sub_installation: Code::try_new(code).expect("code"),
        benchmark: benchmark.into(),
        historical_activity_level: hal.into(),
        exposure,
    }
}

/// A product sub-installation (0.786 EUA/t x 120,000 t) and a heat one whose exposure is given
/// (62.3 EUA/TJ x 1,500.5 TJ).
fn allocate_eu(year: u16, heat_exposure: LeakageExposure) -> Command {
    compliance(ComplianceCommand::AllocateEu {
        scheme: SCHEME.into(),
        year,
        installations: vec![EuInstallationInput {
            participant: STEEL,
            sub_installations: vec![
                sub("P1", "0.786", "120000", LeakageExposure::Exposed),
                sub("H1", "62.3", "1500.5", heat_exposure),
            ],
        }],
    })
}

fn setup() -> Years {
    let mut years = Years::starting_at(FEBRUARY_2022_MS - 10_000_000);
    years.ok(
        ADMIN,
        participant(ADMIN, ParticipantKind::Administrator, "Authority"),
    );
    years.ok(
        ADMIN,
        participant(STEEL, ParticipantKind::CoveredEntity, "Steel works"),
    );
    years.ok(ADMIN, open(AccountId(1), AccountKind::Issuance, ADMIN));
    years.ok(ADMIN, open(AccountId(2), AccountKind::Surrender, ADMIN));
    years.ok(ADMIN, open(AccountId(4), AccountKind::Cancellation, ADMIN));
    years.ok(
        ADMIN,
        open(STEEL_ACCOUNT, AccountKind::OperatorHolding, STEEL),
    );
    let toml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schemes/eu-ets-phase4.toml"
    ))
    .expect("rulebook file");
    years.ok(
        ADMIN,
        compliance(ComplianceCommand::LoadRulebook {
            source_name: "schemes/eu-ets-phase4.toml".into(),
            toml,
        }),
    );
    // An installation has sub-installations (given with the allocation data), no units.
    years.ok(
        ADMIN,
        compliance(ComplianceCommand::RegisterEntities {
            scheme: SCHEME.into(),
            entities: vec![EntitySpec {
                participant: STEEL,
                account: STEEL_ACCOUNT,
                units: Vec::new(),
            }],
        }),
    );
    years
}

#[test]
fn eu_allocation_uses_benchmark_activity_clef_and_cscf() {
    // Goal: F = BM x HAL x CLEF x CSCF per sub-installation, summed and rounded once, issued
    // and allocated through the registry as the year's final allocation.
    let mut years = setup();
    // China-style allocation does not apply to an EU rulebook.
    years.refused(
        ADMIN,
        compliance(ComplianceCommand::Allocate {
            scheme: SCHEME.into(),
            year: 2021,
            phase: AllocationPhase::Pre,
            outputs: Vec::new(),
        }),
        "allocation_mode_unsupported",
    );
    // docs/sources.md gives no CLEF for non-exposed sectors before 2026.
    years.refused(
        ADMIN,
        allocate_eu(2021, LeakageExposure::NotExposed),
        "factor_not_in_rulebook",
    );
    years.refused(
        ADMIN,
        allocate_eu(2031, LeakageExposure::Exposed),
        "year_not_in_scheme",
    );
    // 2021, exposed, CLEF 1.00 and CSCF 1.00:
    // P1 0.786 x 120,000 = 94,320; H1 62.3 x 1,500.5 = 93,481.15; sum 187,801.15 -> 187,801.
    years.ok(ADMIN, allocate_eu(2021, LeakageExposure::Exposed));
    assert_eq!(years.held(STEEL_ACCOUNT, &eua(2021)), 187_801);
    let record = years
        .engine
        .compliance()
        .allocation(STEEL, 2021)
        .expect("record")
        .clone();
    assert_eq!(record.final_allocation, Some(Quantity::new(187_801)));
    assert_eq!(record.pre_allocated, None);
    assert_eq!(
        record.breakdown,
        vec![
            ("P1".to_owned(), "94320".to_owned()),
            ("H1".to_owned(), "93481.15".to_owned()),
        ]
    );
    assert_eq!(record.transactions.len(), 2);
    years.refused(
        ADMIN,
        allocate_eu(2021, LeakageExposure::Exposed),
        "allocation_order",
    );
    assert_eq!(years.line(2021).allocation, Quantity::new(187_801));
    // No verified emissions yet: status C.
    assert_eq!(years.line(2021).eu_status.as_deref(), Some("C"));
}

#[test]
fn eu_status_goes_a_then_b_then_a_with_the_indexed_penalty_and_make_good_of_the_b_year() {
    // Goal: the cumulative EUTL status over 2021-2023, the indexed EUR 100/t penalty of the B
    // year and its make-good carried into the next.
    let mut years = setup();
    // 2021: 150,000 verified, 150,000 surrendered: cumulative 150,000 / 150,000 -> A.
    years.time_ms = FEBRUARY_2022_MS;
    years.run_year(2021, 150_000, 150_000);
    let line = years.line(2021);
    assert_eq!(line.eu_status.as_deref(), Some("A"));
    assert_eq!(
        (line.status, line.obligation, line.shortfall, line.fine_max),
        (
            EntityStatus::Compliant,
            Quantity::new(150_000),
            Quantity::ZERO,
            Money::ZERO
        )
    );

    // 2022: 200,000 verified, 180,000 surrendered: cumulative 350,000 / 330,000 -> B;
    // shortfall 20,000 t x EUR 107 (the indexed figure from 2021) = EUR 2,140,000 =
    // 214,000,000 cents, and the 20,000 t are carried into 2023 as make-good.
    years.time_ms = FEBRUARY_2023_MS;
    years.run_year(2022, 200_000, 180_000);
    let line = years.line(2022);
    assert_eq!(line.eu_status.as_deref(), Some("B"));
    assert_eq!(
        (line.status, line.shortfall),
        (EntityStatus::Shortfall, Quantity::new(20_000))
    );
    assert_eq!(
        (line.fine_min, line.fine_max),
        (Money::new(214_000_000), Money::new(214_000_000))
    );
    assert_eq!(line.next_year_deduction, Quantity::ZERO);
    assert_eq!(line.make_good, Quantity::new(20_000));
    years.ok(
        ADMIN,
        compliance(ComplianceCommand::CloseYear {
            scheme: SCHEME.into(),
            year: 2022,
            reference_average_price: None,
        }),
    );

    // 2023: 160,000 verified plus the 20,000 make-good carried in: obligation 180,000;
    // 180,000 surrendered: cumulative 510,000 / 510,000 -> A again, no penalty for 2023.
    years.time_ms = FEBRUARY_2024_MS;
    years.run_year(2023, 160_000, 180_000);
    let line = years.line(2023);
    assert_eq!(line.eu_status.as_deref(), Some("A"));
    assert_eq!(
        (line.status, line.shortfall, line.fine_max),
        (EntityStatus::Compliant, Quantity::ZERO, Money::ZERO)
    );
    // The closed 2022 line keeps its B and its penalty.
    let closed = years
        .engine
        .compliance()
        .closed_results(SCHEME, 2022)
        .expect("closed")
        .to_vec();
    assert_eq!(closed[0].eu_status.as_deref(), Some("B"));
    assert_eq!(closed[0].fine_max, Money::new(214_000_000));
    // What was left: 3 x 187,801 allocated - 510,000 surrendered = 53,403.
    let left: u64 = [2021, 2022, 2023]
        .iter()
        .map(|&vintage| years.held(STEEL_ACCOUNT, &eua(vintage)))
        .sum();
    assert_eq!(left, 3 * 187_801 - 510_000);
}

#[test]
fn a_2026_year_uses_the_leakage_schedule_and_a_short_year_is_never_compliant() {
    // Goal: the phase runs to 2030: 2026-2030 allocation uses the CLEF schedule, the
    // penalty is the indexed figure, and the make-good carried into the next year keeps a
    // year that covers only its own emissions from showing compliant.
    let mut years = setup();
    years.time_ms = FEBRUARY_2027_MS;
    // 2026, all exposed: 187,801 t as in 2021. Verified 200,000, surrendered 187,801:
    // 12,199 t short, x EUR 111 (indexed from 2023) = EUR 1,354,089 = 135,408,900 cents.
    years.run_year(2026, 200_000, 187_801);
    let line = years.line(2026);
    assert_eq!(line.eu_status.as_deref(), Some("B"));
    assert_eq!(
        (line.status, line.shortfall, line.make_good, line.fine_max),
        (
            EntityStatus::Shortfall,
            Quantity::new(12_199),
            Quantity::new(12_199),
            Money::new(135_408_900)
        )
    );
    years.ok(
        ADMIN,
        compliance(ComplianceCommand::CloseYear {
            scheme: SCHEME.into(),
            year: 2026,
            reference_average_price: None,
        }),
    );
    // 2027, the heat sub-installation not exposed: CLEF 0.30 - 0.075 = 0.225.
    // P1 94,320 + H1 62.3 x 1,500.5 x 0.225 = 21,033.25875; 115,353.25875 -> 115,353.
    years.time_ms = FEBRUARY_2028_MS;
    years.ok(ADMIN, allocate_eu(2027, LeakageExposure::NotExposed));
    assert_eq!(years.held(STEEL_ACCOUNT, &eua(2027)), 115_353);
    years.ok(
        ADMIN,
        compliance(ComplianceCommand::CorrectReport {
            entity: STEEL,
            year: 2027,
            emissions: Quantity::new(100_000),
        }),
    );
    // Surrendering only 2027's own 100,000 t leaves the 12,199 t make-good: not compliant.
    years.ok(STEEL, surrender(eua(2027), 100_000, 2027));
    let line = years.line(2027);
    assert_eq!(line.obligation, Quantity::new(112_199));
    assert_eq!(line.eu_status.as_deref(), Some("B"));
    assert_eq!(
        (line.status, line.make_good),
        (EntityStatus::Shortfall, Quantity::new(12_199))
    );
    // Making good: cumulative 300,000 / 300,000 -> A, compliant, nothing carried on.
    years.ok(STEEL, surrender(eua(2027), 12_199, 2027));
    let line = years.line(2027);
    assert_eq!(line.eu_status.as_deref(), Some("A"));
    assert_eq!(
        (line.status, line.make_good, line.fine_max),
        (EntityStatus::Compliant, Quantity::ZERO, Money::ZERO)
    );
}
